--- The options of require("little_coder").setup(), their defaults, and their validation.
local M = {}

--- @class little_coder.Config
--- @field cmd string[] how to start the language server
--- @field cmd_env? table<string, string> extra environment for the server process
--- @field filetypes string[] buffers the server serves
--- @field root_markers string[] files that mark a project root
--- @field settings table the `littleCoder` settings (backend, baseUrl, model, maxTurns, review, ...)
--- @field lsp_api "auto"|"config"|"start" vim.lsp.config/enable (0.11+), or vim.lsp.start per buffer
--- @field review {write: boolean, keymaps: table<string, string|false>}
--- @field notify {turns: boolean, float: boolean}
--- @field log_lines integer

--- @type little_coder.Config
M.defaults = {
  cmd = { "little-coder", "lsp" },
  -- Languages with a grammar in the server, then those its regex fallback reads.
  filetypes = {
    "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java",
    "c", "cpp", "cuda", "ruby", "kotlin", "php", "swift", "cs", "scala", "lua", "elixir", "dart",
    "julia", "nim", "zig", "perl", "sh", "groovy", "fsharp", "crystal",
  },
  root_markers = { ".little-coder.toml", ".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml" },
  settings = {},
  lsp_api = "auto",
  review = {
    -- Save what the server's edits change: files that were not open, and open buffers without
    -- unsaved changes.
    write = true,
    keymaps = {
      accept_hunk = "a",
      reject_hunk = "r",
      accept_file = "A",
      reject_file = "R",
      accept_all = "gA",
      reject_all = "gR",
      mine = "gm",
      agent = "ga",
      both = "gb",
      next_hunk = "]h",
      prev_hunk = "[h",
      next_file = "]f",
      prev_file = "[f",
      apply = "<CR>",
      back = "<Esc>",
      quit = "q",
      help = "?",
    },
  },
  notify = {
    turns = false, -- also vim.notify every turn (the statusline always shows it)
    float = true, -- keep outcomes, conflicts and warnings on screen until the user presses a key
  },
  log_lines = 5000,
}

local function is_list_of_strings(value)
  if not vim.islist(value) then
    return false
  end
  for _, item in ipairs(value) do
    if type(item) ~= "string" then
      return false
    end
  end
  return true
end

--- Every option setup() takes (cmd_env has no default, so it is not among the defaults' keys).
M.OPTIONS = { "cmd", "cmd_env", "filetypes", "root_markers", "settings", "lsp_api", "review", "notify", "log_lines" }

--- Merge `opts` over the defaults and check every field.
--- @param opts? table
--- @return little_coder.Config? config
--- @return string? error naming the option
function M.resolve(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    return nil, "setup() takes a table of options"
  end
  for key in pairs(opts) do
    if not vim.tbl_contains(M.OPTIONS, key) then
      return nil, ("unknown option '%s' (known: %s)"):format(key, table.concat(M.OPTIONS, ", "))
    end
  end
  local config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  -- Lists replace the default instead of merging into it index by index.
  for _, key in ipairs({ "cmd", "filetypes", "root_markers" }) do
    if opts[key] ~= nil then
      config[key] = opts[key]
    end
  end
  local checks = {
    { "cmd", is_list_of_strings(config.cmd) and #config.cmd > 0, "a non-empty list of strings" },
    { "cmd_env", config.cmd_env == nil or type(config.cmd_env) == "table", "a table" },
    { "filetypes", is_list_of_strings(config.filetypes), "a list of strings" },
    { "root_markers", is_list_of_strings(config.root_markers), "a list of strings" },
    { "settings", type(config.settings) == "table", "a table" },
    { "lsp_api", vim.tbl_contains({ "auto", "config", "start" }, config.lsp_api), '"auto", "config" or "start"' },
    { "review.write", type(config.review.write) == "boolean", "a boolean" },
    { "review.keymaps", type(config.review.keymaps) == "table", "a table" },
    { "notify.turns", type(config.notify.turns) == "boolean", "a boolean" },
    { "notify.float", type(config.notify.float) == "boolean", "a boolean" },
    { "log_lines", type(config.log_lines) == "number" and config.log_lines >= 100, "a number >= 100" },
  }
  for _, check in ipairs(checks) do
    if not check[2] then
      return nil, ("option '%s' must be %s"):format(check[1], check[3])
    end
  end
  for name, lhs in pairs(config.review.keymaps) do
    if M.defaults.review.keymaps[name] == nil then
      return nil, ("unknown review keymap '%s'"):format(name)
    end
    if lhs ~= false and type(lhs) ~= "string" then
      return nil, ("review keymap '%s' must be a key string or false"):format(name)
    end
  end
  if config.lsp_api == "config" and not vim.lsp.config then
    return nil, 'option lsp_api = "config" needs Neovim 0.11 (vim.lsp.config)'
  end
  return config
end

return M
