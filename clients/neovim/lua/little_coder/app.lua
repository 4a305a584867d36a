--- One configured plugin: the language-server client configuration, the handlers for what the server
--- sends, the sessions, the log, the messages and the review queue. `setup()` makes one; all state
--- lives in it.
local apply = require("little_coder.apply")
local edits = require("little_coder.edits")
local files = require("little_coder.files")
local Log = require("little_coder.log")
local Messages = require("little_coder.messages")
local Proposal = require("little_coder.proposal")
local Review = require("little_coder.review")
local Sessions = require("little_coder.sessions")

--- @class little_coder.App
--- @field config little_coder.Config
--- @field log little_coder.Log
--- @field sessions little_coder.Sessions
local App = {}
App.__index = App

App.NAME = "little_coder"
local INFO, WARN, ERROR = vim.log.levels.INFO, vim.log.levels.WARN, vim.log.levels.ERROR
local MESSAGE_LEVEL = { ERROR, WARN, INFO, vim.log.levels.DEBUG }
-- Keys typed this soon after a kept message were not typed in answer to it: they leave it on screen.
local MESSAGE_LINGER_MS = 1500

--- @param config little_coder.Config
function App.new(config)
  local self = setmetatable({
    config = config,
    log = Log.new(config.log_lines),
    messages = Messages.new(config.notify.float, MESSAGE_LINGER_MS),
    -- closed: sessions whose review the user closed, newest last (`:LittleCoder review` reopens one)
    reviews = { current = nil, queue = {}, count = 0, closed = {} },
    exiting = false, -- Neovim is quitting: a server stopping then is no news
    redraw_pending = false,
    reporting_end = false, -- the sessions module is reporting a session's end: its words are the outcome
  }, App)
  self.sessions = Sessions.new(function(message, level)
    self:notify(message, level)
  end, self.log, function()
    self:_status_changed()
  end, config.notify.turns)
  return self
end

--- Tell the user. Outcomes, warnings and errors stay on screen until the user presses a key (`persist`).
--- @param message string
--- @param level? integer
--- @param persist? boolean
function App:notify(message, level, persist)
  level = level or INFO
  self.messages:add(message, level, persist or level >= WARN or self.reporting_end)
end

function App:_status_changed()
  if self.redraw_pending then
    return
  end
  self.redraw_pending = true
  vim.schedule(function()
    self.redraw_pending = false
    vim.cmd.redrawstatus({ bang = true })
    vim.api.nvim_exec_autocmds("User", { pattern = "LittleCoderStatus", modeline = false })
  end)
end

--- Is the server command there to run? Says why not, at ERROR level.
--- @return boolean
function App:server_found()
  local program = self.config.cmd[1]
  if vim.fn.executable(program) == 1 then
    return true
  end
  self:notify(
    ("little-coder: language server not found: `%s` is not an executable on PATH. Install the little-coder-lsp "
      .. "Python package (it provides `little-coder lsp`) or set `cmd` in setup(); `:checkhealth little_coder` "
      .. "checks the set-up."):format(program),
    ERROR
  )
  return false
end

--- The workspace folder of a buffer: the nearest root marker, else the file's own folder.
--- @param bufnr integer
--- @return string?
function App:root_for(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" then
    return nil
  end
  return vim.fs.root(bufnr, self.config.root_markers) or vim.fs.dirname(vim.fs.normalize(name))
end

--- Whether the user trusts the `.little-coder.toml` of `root`: the file comes with the repository, so
--- `vim.secure.read` asks the user about it once and remembers the answer (`:help vim.secure`). No file:
--- nothing to trust (the user's own `trusted_roots` still apply on the server's side).
--- @param root string?
--- @return boolean
function App.trusts(root)
  local path = root and vim.fs.joinpath(root, ".little-coder.toml")
  if not path or not vim.uv.fs_stat(path) then
    return false
  end
  return vim.secure.read(path) ~= nil
end

--- The client configuration shared by vim.lsp.config and vim.lsp.start.
--- @return vim.lsp.ClientConfig
function App:client_config()
  local settings = next(self.config.settings) and self.config.settings or vim.empty_dict()
  return {
    name = App.NAME,
    cmd = self.config.cmd,
    cmd_env = self.config.cmd_env,
    filetypes = self.config.filetypes,
    root_dir = function(bufnr, on_dir)
      local root = self:root_for(bufnr)
      if root then
        on_dir(root)
      end
    end,
    init_options = { littleCoder = settings },
    settings = { littleCoder = settings },
    -- The server honours the project file's backend, base_url, api_key_env, bash, network and sandbox
    -- settings only in a folder the user trusts: say whether this root is one.
    before_init = function(params, client_config)
      params.initializationOptions = vim.tbl_extend("force", params.initializationOptions or {}, {
        workspaceTrusted = App.trusts(client_config.root_dir),
      })
    end,
    -- The plugin reviews a session's changes in its own tab (littleCoder/review), and applies the
    -- server's plain edits with versioned documentChanges and file operations. Change annotations
    -- are not announced: an edit the plugin does not review is one the server asked about first (the
    -- `each` review setting asks Apply / Discard per change).
    capabilities = {
      workspace = {
        workspaceEdit = {
          documentChanges = true,
          resourceOperations = { "create", "rename", "delete" },
        },
      },
      experimental = { littleCoder = { review = 1 } },
    },
    handlers = self:handlers(),
    -- Code actions carry littleCoder.implement: run it here to learn the session id it starts.
    commands = {
      ["littleCoder.implement"] = function(command, ctx)
        self:execute(command.command, command.arguments and command.arguments[1] or vim.empty_dict(), ctx.bufnr)
      end,
    },
    on_exit = function(code, signal)
      vim.schedule(function()
        self:on_exit(code, signal)
      end)
    end,
  }
end

function App:handlers()
  return {
    ["workspace/applyEdit"] = function(_, params, ctx)
      return self:apply_edit(params, ctx)
    end,
    ["littleCoder/review"] = function(_, params, ctx)
      return self:review(params, ctx)
    end,
    ["littleCoder/reviewUpdate"] = function(_, params)
      if params and params.sessionId and params.file then
        self:review_update(params.sessionId, params.file)
      end
    end,
    ["$/progress"] = function(err, params, ctx)
      -- Neovim's own handler first: it feeds LspProgress, which fidget.nvim and others show.
      local result = vim.lsp.handlers["$/progress"](err, params, ctx)
      if params and params.value then
        self.sessions:progress(params.token, params.value)
      end
      return result
    end,
    ["littleCoder/event"] = function(_, params)
      if params and params.sessionId and params.event then
        self.sessions:event(params.sessionId, params.event)
      end
    end,
    ["littleCoder/sessionFinished"] = function(_, params)
      if params and params.sessionId then
        self:session_finished(params)
      end
    end,
    ["window/logMessage"] = function(err, params, ctx)
      self.log:add(params.message)
      return vim.lsp.handlers["window/logMessage"](err, params, ctx)
    end,
    ["window/showMessage"] = function(_, params)
      self.sessions:shown_message(params.message)
      self.log:add(params.message)
      self:notify(params.message, MESSAGE_LEVEL[params.type] or INFO, true)
    end,
  }
end

function App:on_exit(code, signal)
  if self.exiting then
    return
  end
  if code ~= 0 or signal ~= 0 then
    self:notify(
      ("little-coder: the language server stopped (exit code %d, signal %d). `:LittleCoder log` and "
        .. "`:checkhealth little_coder` help find out why."):format(code, signal),
      ERROR
    )
  end
end

--- Attach the server to buffers of the configured filetypes.
function App:start()
  local group = vim.api.nvim_create_augroup("little_coder", { clear = true })
  vim.api.nvim_create_autocmd("VimLeavePre", {
    group = group,
    callback = function()
      self.exiting = true
    end,
  })
  local use_config = self.config.lsp_api == "config" or (self.config.lsp_api == "auto" and vim.lsp.config ~= nil)
  if not self:server_found() then
    return false
  end
  if use_config then
    vim.lsp.config(App.NAME, self:client_config())
    vim.lsp.enable(App.NAME)
    if vim.v.vim_did_enter == 0 then
      -- Set up during start-up (a plugin manager loading us on BufRead): enable() only looks at the
      -- buffers already open once Neovim has entered, so ask again then.
      vim.api.nvim_create_autocmd("VimEnter", {
        group = group,
        once = true,
        callback = function()
          vim.lsp.enable(App.NAME)
        end,
      })
    end
    return true
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = self.config.filetypes,
    callback = function(event)
      self:attach(event.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(self.config.filetypes, vim.bo[bufnr].filetype) then
      self:attach(bufnr)
    end
  end
  return true
end

--- vim.lsp.start for one buffer (Neovim before 0.11, or lsp_api = "start").
function App:attach(bufnr)
  if vim.bo[bufnr].buftype ~= "" then
    return
  end
  local root = self:root_for(bufnr)
  if not root then
    return
  end
  local config = self:client_config()
  config.root_dir = root
  config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  config.filetypes = nil
  vim.lsp.start(config, { bufnr = bufnr })
end

--- The client serving `bufnr`, else (when `any_buffer`) any client of ours. Says why there is none.
--- @return vim.lsp.Client?
function App:client(bufnr, any_buffer)
  local attached = vim.lsp.get_clients({ name = App.NAME, bufnr = bufnr })
  local client = attached[1]
  if not client and any_buffer then
    client = vim.lsp.get_clients({ name = App.NAME })[1]
  end
  if client then
    return client
  end
  local why = any_buffer and "the language server is not running"
    or ("the language server does not serve this buffer (filetype '%s')"):format(vim.bo[bufnr].filetype)
  self:notify(("little-coder: %s. `:checkhealth little_coder` checks the set-up."):format(why), ERROR)
  return nil
end

--- Run one of the server's commands with its one JSON object argument.
--- @param command string
--- @param args table
--- @param bufnr integer
--- @param on_result? fun(result: table)
--- @param any_buffer? boolean the command does not need this buffer to be served
--- @param on_error? fun(message: string) instead of notifying the error
function App:execute(command, args, bufnr, on_result, any_buffer, on_error)
  local client = self:client(bufnr, any_buffer)
  if not client then
    if on_error then
      on_error("the language server is not running")
    end
    return
  end
  client:request("workspace/executeCommand", { command = command, arguments = { args } }, function(err, result)
    if err then
      local message = err.message or vim.inspect(err)
      if on_error then
        on_error(message)
      else
        self:notify("little-coder: " .. message, ERROR)
      end
      return
    end
    if type(result) == "table" and result.sessionId then
      self.sessions:started(result.sessionId)
    end
    if on_result then
      on_result(result)
    end
  end, bufnr)
end

--- The open or queued review of a session.
--- @return little_coder.Review?
function App:_review_of(session_id)
  local reviews = self.reviews
  if reviews.current and not reviews.current.done and reviews.current.proposal.session_id == session_id then
    return reviews.current
  end
  for _, queued in ipairs(reviews.queue) do
    if queued.proposal.session_id == session_id then
      return queued
    end
  end
  return nil
end

--- `littleCoder/sessionFinished`: report it, and close its review if one is still open (the session
--- was cancelled while the user was reviewing).
function App:session_finished(status)
  local review = self:_review_of(status.sessionId)
  if review then
    local reason = ("the session ended (%s) before the review was applied"):format(status.state)
    if review == self.reviews.current then
      review:abort(reason)
    else
      self.reviews.queue = vim.tbl_filter(function(queued)
        return queued ~= review
      end, self.reviews.queue)
      review.opts.on_done(review.proposal:result("close"))
    end
  end
  if status.state ~= "closed" then
    -- Only a review the server keeps as closed can be reopened (not one of a cancelled session).
    self.reviews.closed = vim.tbl_filter(function(id)
      return id ~= status.sessionId
    end, self.reviews.closed)
  end
  self.reporting_end = true
  self.sessions:finished(status)
  self.reporting_end = false
end

--- Make the server see a buffer's changes now: Neovim sends didChange after a debounce, but a
--- request flushes pending changes first.
--- @param bufnr integer
function App:flush(bufnr)
  for _, client in ipairs(vim.lsp.get_clients({ name = App.NAME, bufnr = bufnr })) do
    client:request("workspace/executeCommand", { command = "littleCoder.status", arguments = {} }, function() end, bufnr)
  end
end

--- Flush the user's buffers of every file of a review.
--- @param proposal little_coder.Proposal
function App:_flush_files(proposal)
  for _, file in ipairs(proposal.files) do
    local bufnr = files.find_buffer(vim.uri_to_fname(file.uri))
    if bufnr then
      self:flush(bufnr)
    end
  end
end

--- `workspace/applyEdit`: the server's plain edits (the reviewed selection, an undo, the `each` and
--- `direct` review settings), applied at once. The plugin reviews through `littleCoder/review`: an
--- edit that still asks for confirmation (a server that ignores the capabilities) is refused rather
--- than applied unseen.
function App:apply_edit(params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local encoding = client and client.offset_encoding or "utf-16"
  local edit = params.edit or {}
  if edits.needs_review(edit) then
    local reason = "this plugin reviews changes in its review tab and does not confirm annotated edits"
    self:notify(("little-coder: %s not applied: %s"):format(params.label or "an edit", reason), ERROR)
    return { applied = false, failureReason = reason }
  end
  local changes, err = edits.collect(edit, encoding, files.read)
  if not changes then
    return vim.lsp.handlers["workspace/applyEdit"](nil, params, ctx)
  end
  for _, file in ipairs(changes) do
    local bufnr = file.version and files.find_buffer(file.path)
    if bufnr and vim.lsp.util.buf_versions[bufnr] ~= file.version then
      local reason = ("%s changed after the edit was made"):format(vim.fn.fnamemodify(file.path, ":~:."))
      self:notify("little-coder: " .. reason, WARN)
      return { applied = false, failureReason = reason }
    end
  end
  local changed, problems = apply.all(changes, {
    encoding = encoding,
    write = self.config.review.write,
    flush = function(bufnr)
      self:flush(bufnr)
    end,
  })
  if #problems > 0 then
    self:notify("little-coder: " .. table.concat(problems, "; "), ERROR)
  end
  if changed == 0 and #problems > 0 then
    return { applied = false, failureReason = table.concat(problems, "; ") }
  end
  return { applied = true }
end

--- `littleCoder/review`: open the review tab (queued behind one already open) and answer with the
--- user's ReviewResult once they apply or close it; the editor is not blocked meanwhile.
function App:review(params, ctx)
  local co = coroutine.running()
  if not co or type(params) ~= "table" then
    return { action = "close", decisions = vim.empty_dict(), edited = vim.empty_dict() }
  end
  local proposal = Proposal.new(params)
  self.reviews.closed = vim.tbl_filter(function(id)
    return id ~= proposal.session_id
  end, self.reviews.closed)
  local answered, answer, waiting = false, nil, false
  self.reviews.count = self.reviews.count + 1
  local review = Review.new({
    id = self.reviews.count,
    proposal = proposal,
    keymaps = self.config.review.keymaps,
    notify = function(message, level, persist)
      self:notify(message, level, persist)
    end,
    flush = function(bufnr)
      self:flush(bufnr)
    end,
    test_selection = function(args, done)
      self:_flush_files(proposal)
      self:execute("littleCoder.testSelection", args, vim.api.nvim_get_current_buf(), function(result)
        done(result)
      end, true, function(message)
        done(nil, message)
      end)
    end,
    on_done = function(result)
      answered, answer = true, result
      if result.action == "close" then
        table.insert(self.reviews.closed, proposal.session_id)
      end
      -- The reply must not overtake the user's last edits of the files under review.
      self:_flush_files(proposal)
      vim.schedule(function()
        self:_next_review()
      end)
      if waiting then
        local ok, failure = coroutine.resume(co, result)
        if not ok then
          self:notify("little-coder: could not answer the server: " .. tostring(failure), ERROR)
        end
      end
    end,
  })
  table.insert(self.reviews.queue, review)
  self:_next_review()
  if answered then
    return answer
  end
  waiting = true
  return coroutine.yield()
end

--- `littleCoder/reviewUpdate`: the server rebased a file under review on the user's edits.
function App:review_update(session_id, file)
  local review = self:_review_of(session_id)
  if not review then
    return
  end
  if review == self.reviews.current and review.tab then
    review:file_updated(file.uri, function()
      return review.proposal:update(file)
    end)
  else
    review.proposal:update(file)
  end
end

--- `:LittleCoder review [session]`: ask the server to send a closed review again.
--- @param session_id? string default: the review closed last
function App:reopen(session_id)
  session_id = session_id or self.reviews.closed[#self.reviews.closed]
  if not session_id then
    self:notify("little-coder: no closed review to reopen", INFO)
    return
  end
  self:execute("littleCoder.review", { sessionId = session_id }, vim.api.nvim_get_current_buf(), nil, true)
end

--- Open the next queued review when none is open.
function App:_next_review()
  local reviews = self.reviews
  if reviews.current and not reviews.current.done then
    return
  end
  reviews.current = table.remove(reviews.queue, 1)
  local review = reviews.current
  if not review then
    return
  end
  local proposal = review.proposal
  local session = self.sessions:reviewing(proposal.label)
  if not session then
    -- A reopened review: its session had finished as "closed".
    session = self.sessions:get(proposal.session_id)
    session.state = "reviewing"
    self:_status_changed()
  end
  local summary = session and session.summary and (" — " .. session.summary) or ""
  local counts = proposal:counts()
  local conflicts = counts.conflicts > 0 and (", %d conflict(s)"):format(counts.conflicts) or ""
  self:notify(("%s%s: review %d change(s) in %d file(s)%s"):format(proposal.label, summary,
    counts.applied + counts.left, #proposal.files, conflicts), INFO)
  review:open()
end

return App
