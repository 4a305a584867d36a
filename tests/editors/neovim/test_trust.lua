-- The project file's base_url counts only once the user trusts the file through vim.secure: denied,
-- the session goes to the model server in the user's own config; allowed, to the project's. The
-- pytest driver checks which scripted model server got each request.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))

local workspace = H.env("LC_TEST_WORKSPACE")
local project_file = vim.fs.joinpath(workspace, ".little-coder.toml")
local server_cmd = vim.json.decode(H.env("LC_TEST_SERVER_CMD"))
local seen = H.capture_notifications()
vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")

local function session(label)
  for _, client in ipairs(vim.lsp.get_clients({ name = "little_coder" })) do
    client:stop()
  end
  H.wait(5000, function()
    return #vim.lsp.get_clients({ name = "little_coder" }) == 0
  end, "the previous client to stop")
  H.ok(lc.setup({ cmd = server_cmd, settings = { model = "qwen3.5:9b", stallTimeout = 10, connectTimeout = 2 } }),
    "setup()")
  vim.cmd.edit({ vim.fs.joinpath(workspace, "leap.py"), bang = true })
  local bufnr = vim.api.nvim_get_current_buf()
  H.wait(20000, function()
    local client = vim.lsp.get_clients({ name = "little_coder", bufnr = bufnr })[1]
    return client ~= nil and client.initialized
  end, "the server to start (" .. label .. ")")
  lc.ask("Say done.")
  local finished
  H.wait(20000, function()
    finished = lc.instance().sessions:last_finished()
    return finished ~= nil
  end, "the session to finish (" .. label .. ")")
  H.out(("%s: %s"):format(label, finished.state))
end

-- Denied (remembered, so no prompt): the project's base_url is ignored, and the user is told.
H.ok(vim.secure.trust({ action = "deny", path = project_file }), "deny the project file")
session("denied")
H.ok(H.find_notification(seen, "ignored because this folder is not trusted", vim.log.levels.WARN),
  "the notice names what was ignored")
H.ok(H.find_notification(seen, "sets backend, base_url;"), "backend and base_url are named")

-- Allowed: trusting a file needs its buffer (vim.secure hashes the contents).
vim.cmd.edit(project_file)
H.ok(vim.secure.trust({ action = "allow", bufnr = 0 }), "allow the project file")
H.eq(require("little_coder.app").trusts(workspace), true, "the plugin now trusts the root")
session("allowed")
H.out("OK")
vim.cmd("qall!")
