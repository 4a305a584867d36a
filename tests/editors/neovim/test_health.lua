-- :checkhealth little_coder, for a working set-up and for broken ones.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))

local workspace = H.env("LC_TEST_WORKSPACE")
local server_cmd = vim.json.decode(H.env("LC_TEST_SERVER_CMD"))
local base_url = H.env("LC_TEST_BASE_URL")
local down_url = H.env("LC_TEST_DOWN_URL")
H.capture_notifications()
vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")
vim.cmd.cd(workspace)

local function checkhealth(label)
  vim.cmd("checkhealth little_coder")
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.cmd("bwipeout!")
  H.out(("---- %s ----\n%s"):format(label, report))
  return report
end

local settings = { backend = "ollama", baseUrl = base_url, model = "qwen3.5:9b", connectTimeout = 2 }
H.ok(lc.setup({ cmd = server_cmd, settings = settings }), "setup()")
local good = checkhealth("working")
H.contains(good, "OK Neovim 0.11", "the Neovim version")
H.contains(good, "OK setup() was called", "setup() seen")
H.contains(good, "OK server found: " .. vim.fn.exepath(server_cmd[1]), "the server")
H.ok(good:find("OK Python 3%.1%d") ~= nil, "the Python version")
H.contains(good, "OK little-coder-lsp", "the server package")
H.contains(good, "OK settings valid (root " .. workspace .. "): backend ollama, baseUrl " .. base_url, "the settings")
H.contains(good, "OK model server reachable: ollama at " .. base_url .. " lists 1 model(s): qwen3.5:9b",
  "the model server, asked for its models")
H.contains(good, "OK model qwen3.5:9b", "the configured model is among them")
H.ok(not good:find("ERROR"), "no error in a working set-up")

-- The default command, `little-coder lsp`: its Python is found through the script's shebang.
H.ok(lc.setup({ settings = settings }), "setup() with the default command")
local default = checkhealth("default command")
H.contains(default, "OK server found: " .. vim.fn.exepath("little-coder") .. " lsp", "the console script")
H.ok(default:find("OK Python 3%.1%d") ~= nil, "its Python, from the shebang")
H.contains(default, "OK model server reachable", "the same verdicts")

H.ok(lc.setup({ cmd = server_cmd, settings = { backend = "ollama", baseUrl = down_url, connectTimeout = 1 } }),
  "setup() with a model server that is down")
local down = checkhealth("model server down")
H.contains(down, "ERROR model server not reachable: cannot connect to Ollama at " .. down_url, "down is an error")
H.contains(down, "ollama serve", "with advice")

-- A backend and a model named: nothing needs the server to connect, the health check still asks it.
H.ok(lc.setup({ cmd = server_cmd, settings = { backend = "ollama", baseUrl = down_url, model = "qwen3.5:9b",
  connectTimeout = 1 } }), "setup() naming the model, with nothing listening")
local dead = checkhealth("dead server, model named")
H.contains(dead, "ERROR model server not reachable: cannot connect to Ollama at " .. down_url, "an error")
H.ok(not dead:find("OK model server reachable"), "never reachable with nothing listening")

H.ok(lc.setup({ cmd = server_cmd, settings = { backend = "ollama", baseUrl = base_url, model = "llama3:70b",
  connectTimeout = 2 } }), "setup() naming a model the server does not have")
local missing_model = checkhealth("unknown model")
H.contains(missing_model, "WARNING model llama3:70b is not among the models the server lists", "a warning")

H.ok(lc.setup({ cmd = server_cmd, settings = { reviewMode = "later" } }), "setup() with a misspelt setting")
local invalid = checkhealth("invalid settings")
H.contains(invalid, "ERROR little-coder: invalid setting 'reviewMode': unknown setting", "the bad key is named")
H.ok(not invalid:find("model server reachable"), "no model check with invalid settings")

H.eq(lc.setup({ cmd = { "little-coder-not-installed" } }), false, "setup() without a server")
local missing = checkhealth("server missing")
H.contains(missing, "ERROR server not found: `little-coder-not-installed`", "a missing server")

H.done()
