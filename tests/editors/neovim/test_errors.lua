-- Clear ERROR notifications for what goes wrong before any model answers: a bad setup() option, no
-- server executable, a server that dies at start, a model server that is down, invalid settings.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))

local workspace = H.env("LC_TEST_WORKSPACE")
local server_cmd = vim.json.decode(H.env("LC_TEST_SERVER_CMD"))
local down_url = H.env("LC_TEST_DOWN_URL")
local python = H.env("LC_TEST_PYTHON")
local ERROR = vim.log.levels.ERROR
local seen = H.capture_notifications()
vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")

-- Before setup(), the command says what to do.
vim.cmd("LittleCoder status")
H.ok(H.find_notification(seen, "call require('little_coder').setup() first", ERROR), "setup() first")

-- 1. A misspelt option.
H.eq(lc.setup({ setings = {} }), false, "setup() refuses an unknown option")
H.ok(H.find_notification(seen, "unknown option 'setings'", ERROR), "and names it")

-- 2. No server executable.
H.eq(lc.setup({ cmd = { "little-coder-not-installed", "lsp" } }), false, "setup() without a server")
H.ok(H.find_notification(seen, "language server not found: `little-coder-not-installed`", ERROR),
  "a missing server is an ERROR")

-- 3. A server that exits at once.
H.ok(lc.setup({ cmd = { python, "-c", "import sys; sys.exit(3)" }, lsp_api = "start" }), "setup() with a dying server")
vim.cmd.edit(workspace .. "/leap.py")
H.wait(10000, function()
  return H.find_notification(seen, "the language server stopped (exit code 3", ERROR) ~= nil
end, "the report of the server's exit")
H.wait(5000, function()
  return #vim.lsp.get_clients({ name = "little_coder" }) == 0
end, "the dead client to go")

-- 4. The model server is down: the session fails with the server's explanation, shown once.
local function restart(settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = "little_coder" })) do
    client:stop()
  end
  H.wait(5000, function()
    return #vim.lsp.get_clients({ name = "little_coder" }) == 0
  end, "the previous client to stop")
  H.ok(lc.setup({ cmd = server_cmd, settings = settings }), "setup()")
  vim.cmd.edit({ bang = true })
  local bufnr = vim.api.nvim_get_current_buf()
  H.wait(20000, function()
    local client = vim.lsp.get_clients({ name = "little_coder", bufnr = bufnr })[1]
    return client ~= nil and client.initialized
  end, "the server to start")
end

restart({ backend = "ollama", baseUrl = down_url, model = "qwen3.5:9b", connectTimeout = 1 })
vim.api.nvim_win_set_cursor(0, { 4, 0 })
vim.cmd("LittleCoder implement")
local failed
H.wait(20000, function()
  failed = lc.instance().sessions:last_finished()
  return failed ~= nil
end, "the session to fail")
H.eq(failed.state, "error", "the session ended in error")
local shown = vim.tbl_filter(function(item)
  return item.level == ERROR and item.message:find(failed.message, 1, true) ~= nil
end, seen)
H.eq(#shown, 1, "the model server's failure is one ERROR notification")
H.contains(shown[1].message, down_url, "naming the URL it tried")
H.out("MODEL_DOWN " .. shown[1].message)
H.eq(lc.status(), "", "nothing left running")

-- 5. Invalid settings: the server names the field as the user wrote it.
restart({ backend = "ollama", baseUrl = down_url, maxTurns = 0 })
H.wait(10000, function()
  return H.find_notification(seen, "invalid setting 'maxTurns'", ERROR) ~= nil
end, "the invalid setting to be reported")

H.done()
