--- `:LittleCoder {implement|ask|cancel|undo|revise|review|status|log|messages}`: what each subcommand sends to the
--- server, and its completion. Every request is asynchronous; answers arrive as notifications.
local edits = require("little_coder.edits")

local M = {}

local INFO, WARN, ERROR = vim.log.levels.INFO, vim.log.levels.WARN, vim.log.levels.ERROR

M.SUBCOMMANDS = { "implement", "ask", "cancel", "undo", "revise", "review", "status", "log", "messages" }

--- An LSP position for a 0-based line and byte column of `bufnr`.
local function position(bufnr, line, byte, encoding)
  local text = vim.api.nvim_buf_get_lines(bufnr, line, line + 1, false)[1] or ""
  return { line = line, character = edits.character_of(text, byte, encoding) }
end

--- The range a command was given: the last charwise visual selection when the command's lines are
--- that selection's, else whole lines. nil without a range.
--- @param opts table nvim_create_user_command's callback argument
--- @return lsp.Range?
function M.range(opts, bufnr, encoding)
  if opts.range == 0 then
    return nil
  end
  local first, last = opts.line1 - 1, opts.line2 - 1
  local from = vim.api.nvim_buf_get_mark(bufnr, "<")
  local to = vim.api.nvim_buf_get_mark(bufnr, ">")
  if vim.fn.visualmode() == "v" and from[1] == opts.line1 and to[1] == opts.line2 then
    local last_line = vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ""
    -- The mark is on the selection's last character: the range ends after it.
    local stop = math.min(to[2], #last_line)
    local char = vim.fn.strcharpart(last_line:sub(stop + 1), 0, 1)
    return {
      start = position(bufnr, first, from[2], encoding),
      ["end"] = position(bufnr, last, stop + #char, encoding),
    }
  end
  local last_line = vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ""
  return { start = position(bufnr, first, 0, encoding), ["end"] = position(bufnr, last, #last_line, encoding) }
end

--- The text after the subcommand, spacing kept.
local function rest(opts)
  return (opts.args:match("^%s*%S+%s*(.-)%s*$") or "")
end

--- @param app little_coder.App
function M.implement(app, opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = app:client(bufnr)
  if not client then
    return
  end
  local args = { uri = vim.uri_from_bufnr(bufnr) }
  local range = M.range(opts, bufnr, client.offset_encoding)
  if range then
    args.range = range
  else
    local cursor = vim.api.nvim_win_get_cursor(0)
    args.position = position(bufnr, cursor[1] - 1, cursor[2], client.offset_encoding)
  end
  local instruction = rest(opts)
  if instruction ~= "" then
    args.instruction = instruction
  end
  app:execute("littleCoder.implement", args, bufnr)
end

--- @param app little_coder.App
function M.ask(app, opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local instruction = rest(opts)
  if instruction == "" then
    -- Ask for it without blocking: vim.ui.input may be a floating prompt from a UI plugin.
    vim.ui.input({ prompt = "little-coder: " }, function(answer)
      if answer and answer:find("%S") then
        M.ask(app, vim.tbl_extend("force", opts, { args = "ask " .. answer }))
      end
    end)
    return
  end
  local args = { instruction = instruction }
  local served = vim.api.nvim_buf_get_name(bufnr) ~= "" and #vim.lsp.get_clients({ name = app.NAME, bufnr = bufnr }) > 0
  if served then
    local client = vim.lsp.get_clients({ name = app.NAME, bufnr = bufnr })[1]
    args.uri = vim.uri_from_bufnr(bufnr)
    args.range = M.range(opts, bufnr, client.offset_encoding)
  elseif opts.range > 0 then
    app:notify("little-coder: this buffer is not served, so the selection cannot be sent", WARN)
    return
  end
  app:execute("littleCoder.ask", args, bufnr, nil, true)
end

--- `cancel` stops the newest running session, `cancel all` every one, `cancel {id}` that one.
--- @param app little_coder.App
function M.cancel(app, opts)
  local which = rest(opts)
  local args
  if which == "all" then
    args = { all = true }
  elseif which ~= "" then
    args = { sessionId = which }
  else
    local session = app.sessions:active()
    if not session then
      app:notify("little-coder: no session is running", INFO)
      return
    end
    args = { sessionId = session.id }
  end
  app:execute("littleCoder.cancel", args, vim.api.nvim_get_current_buf(), function(result)
    local cancelled = result and result.cancelled or {}
    if #cancelled == 0 then
      app:notify("little-coder: nothing was running to cancel", INFO)
    else
      app:notify(("little-coder: cancelling %s"):format(table.concat(cancelled, ", ")), INFO)
    end
  end, true)
end

--- @param app little_coder.App
function M.undo(app, opts)
  local which = rest(opts)
  local args = which ~= "" and { sessionId = which } or vim.empty_dict()
  app:execute("littleCoder.undo", args, vim.api.nvim_get_current_buf(), function(result)
    -- The server's message says what was undone and which of your lines were kept; it has shown it.
    if type(result) == "table" and result.sessionId then
      app.sessions:undo_result(result)
    end
  end, true)
end

--- `revise [comment]` continues the newest finished session with what was rejected and the comment.
--- @param app little_coder.App
function M.revise(app, opts)
  local session = app.sessions:last_finished()
  if not session then
    app:notify("little-coder: no finished session to revise", ERROR)
    return
  end
  local args = { sessionId = session.id }
  local comment = rest(opts)
  if comment ~= "" then
    args.comment = comment
  end
  app:execute("littleCoder.revise", args, vim.api.nvim_get_current_buf(), nil, true)
end

--- `review [session]` reopens a review the user closed (default: the last one).
--- @param app little_coder.App
function M.review(app, opts)
  local which = rest(opts)
  app:reopen(which ~= "" and which or nil)
end

--- @param app little_coder.App
function M.status(app, opts)
  local which = rest(opts)
  app:execute("littleCoder.status", which ~= "" and { sessionId = which } or vim.empty_dict(),
    vim.api.nvim_get_current_buf(), function(result)
      local sessions = result and (result.sessions or { result }) or {}
      if #sessions == 0 then
        app:notify("little-coder: no sessions yet", INFO)
        return
      end
      local lines = {}
      for _, s in ipairs(sessions) do
        local line = ("%s  %-10s turn %d/%d  %s"):format(s.sessionId, s.state, s.turn or 0, s.cap or 0, s.title)
        if s.state == "partial" then
          local accepted = #(s.accepted or {})
          local failed = #(s.failed or {})
          line = line .. (" (%d of %d changes applied%s)"):format(accepted,
            accepted + #(s.rejected or {}) + failed, failed > 0 and (", %d failed"):format(failed) or "")
        end
        lines[#lines + 1] = line
      end
      app:notify("little-coder sessions:\n" .. table.concat(lines, "\n"), INFO)
    end, true)
end

--- @param app little_coder.App
function M.log(app)
  app.log:open()
end

--- @param app little_coder.App
function M.messages(app)
  app.messages:dismiss()
  app.messages:open()
end

--- @param app little_coder.App
function M.run(app, opts)
  local name = opts.fargs[1]
  local handler = name and vim.tbl_contains(M.SUBCOMMANDS, name) and M[name]
  if not handler then
    app:notify(("little-coder: unknown subcommand '%s' (use one of: %s)"):format(name or "",
      table.concat(M.SUBCOMMANDS, ", ")), ERROR)
    return
  end
  handler(app, opts)
end

--- Completion for `:LittleCoder`: subcommands, then session ids where a command takes one.
--- @param app? little_coder.App
function M.complete(app, arglead, cmdline)
  local words = vim.split(cmdline:gsub("^%A*", ""), "%s+", { trimempty = true })
  local typing_first = #words <= 1 or (#words == 2 and arglead ~= "")
  local candidates
  if typing_first then
    candidates = M.SUBCOMMANDS
  elseif #words == 2 or (#words == 3 and arglead ~= "") then
    local sub = words[2]
    if sub == "cancel" then
      candidates = { "all" }
      vim.list_extend(candidates, app and app.sessions:ids(true) or {})
    elseif sub == "undo" or sub == "status" then
      candidates = app and app.sessions:ids(false) or {}
    elseif sub == "review" then
      candidates = app and vim.fn.reverse(vim.deepcopy(app.reviews.closed)) or {}
    end
  end
  return vim.tbl_filter(function(candidate)
    return candidate:sub(1, #arglead) == arglead
  end, candidates or {})
end

return M
