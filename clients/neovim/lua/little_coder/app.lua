--- One configured plugin: the language-server client configuration, the handlers for what the server
--- sends, the sessions, the log and the review queue. `setup()` makes one; all state lives in it.
local apply = require("little_coder.apply")
local edits = require("little_coder.edits")
local files = require("little_coder.files")
local Log = require("little_coder.log")
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

--- @param config little_coder.Config
function App.new(config)
  local self = setmetatable({
    config = config,
    log = Log.new(config.log_lines),
    reviews = { current = nil, queue = {}, count = 0 },
    exiting = false, -- Neovim is quitting: a server stopping then is no news
    redraw_pending = false,
  }, App)
  self.sessions = Sessions.new(function(message, level)
    self:notify(message, level)
  end, self.log, function()
    self:_status_changed()
  end, config.notify.turns)
  return self
end

function App:notify(message, level)
  vim.notify(message, level or INFO, { title = "little-coder" })
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
    -- The plugin reviews rich edits itself, so it asks for all of them: versioned documentChanges,
    -- file creation and per-hunk change annotations.
    capabilities = {
      workspace = {
        workspaceEdit = {
          documentChanges = true,
          resourceOperations = { "create", "rename", "delete" },
          changeAnnotationSupport = { groupsOnLabel = false },
        },
      },
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
      self:notify(params.message, MESSAGE_LEVEL[params.type] or INFO)
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
function App:execute(command, args, bufnr, on_result, any_buffer)
  local client = self:client(bufnr, any_buffer)
  if not client then
    return
  end
  client:request("workspace/executeCommand", { command = command, arguments = { args } }, function(err, result)
    if err then
      self:notify(("little-coder: %s"):format(err.message or vim.inspect(err)), ERROR)
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

--- `littleCoder/sessionFinished`: report it, and close its review if one is still open (the session
--- was cancelled while the user was reviewing).
function App:session_finished(status)
  local label = "little-coder: " .. (status.title or "")
  local reviews = self.reviews
  if reviews.current and reviews.current.opts.label == label then
    reviews.current:quit("the session ended (" .. status.state .. ") before the review was applied")
  end
  for i = #reviews.queue, 1, -1 do
    local queued = reviews.queue[i]
    if queued.opts.label == label then
      table.remove(reviews.queue, i)
      queued.opts.on_done({ applied = false, failureReason = "the session ended before the review opened" })
    end
  end
  self.sessions:finished(status)
end

--- Make the server see a buffer's changes now: Neovim sends didChange after a debounce, but a
--- request flushes pending changes first, and the server reads the review's outcome from them as
--- soon as it has the reply.
function App:flush(client_id, bufnr)
  local client = vim.lsp.get_client_by_id(client_id)
  if client and client.attached_buffers[bufnr] then
    client:request("workspace/executeCommand", { command = "littleCoder.status", arguments = {} }, function() end, bufnr)
  end
end

--- `workspace/applyEdit`: edits that ask for confirmation go through the review tab (the reply waits
--- for the user without blocking the editor); others are applied as they are.
function App:apply_edit(params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local encoding = client and client.offset_encoding or "utf-16"
  local edit = params.edit or {}
  local reviewed = edits.needs_review(edit)
  local changes, err = edits.collect(edit, encoding, files.read)
  if not changes then
    if not reviewed then
      return vim.lsp.handlers["workspace/applyEdit"](nil, params, ctx)
    end
    self:notify(("little-coder: cannot review %s: %s"):format(params.label or "the edit", err), ERROR)
    return { applied = false, failureReason = err }
  end
  if #changes == 0 then
    return { applied = true }
  end
  for _, file in ipairs(changes) do
    local bufnr = file.version and files.find_buffer(file.path)
    if bufnr and vim.lsp.util.buf_versions[bufnr] ~= file.version then
      local reason = ("%s changed after the edit was made"):format(vim.fn.fnamemodify(file.path, ":~:."))
      self:notify("little-coder: " .. reason, WARN)
      return { applied = false, failureReason = reason }
    end
  end
  local options = {
    encoding = encoding,
    write = self.config.review.write,
    flush = function(bufnr)
      self:flush(ctx.client_id, bufnr)
    end,
  }
  if not reviewed then
    for _, file in ipairs(changes) do
      for _, hunk in ipairs(file.hunks) do
        hunk.decision = "accept"
      end
    end
    local changed, problems = apply.accepted(changes, options)
    if #problems > 0 then
      self:notify("little-coder: " .. table.concat(problems, "; "), ERROR)
    end
    if changed == 0 and #problems > 0 then
      return { applied = false, failureReason = table.concat(problems, "; ") }
    end
    return { applied = true }
  end

  local co = coroutine.running()
  if not co then
    return { applied = false, failureReason = "this Neovim cannot answer a request after a review" }
  end
  local answered, answer, waiting = false, nil, false
  self.reviews.count = self.reviews.count + 1
  local review = Review.new(vim.tbl_extend("force", options, {
    id = self.reviews.count,
    label = params.label or "little-coder",
    files = changes,
    keymaps = self.config.review.keymaps,
    notify = function(message, level)
      self:notify(message, level)
    end,
    on_done = function(result)
      answered, answer = true, result
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
  }))
  table.insert(self.reviews.queue, review)
  self:_next_review()
  if answered then
    return answer
  end
  waiting = true
  return coroutine.yield()
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
  local session = self.sessions:reviewing(review.opts.label)
  local summary = session and session.summary and (" — " .. session.summary) or ""
  self:notify(("%s%s: review %d change(s) in %d file(s)"):format(review.opts.label, summary,
    #review:all_hunks(), #review.files), INFO)
  review:open()
end

return App
