-- Loaded with -c in the real TUI (tmux), after the stub given on the command line was read (as a plugin
-- manager loading the plugin on BufRead would): set the plugin up, show the statusline component, and
-- start `:LittleCoder implement` once the server is ready. The pytest driver does the rest with keys.
vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")
-- The default command, `little-coder lsp`, as a user who installed the package has it on PATH.
lc.setup({ settings = vim.json.decode(os.getenv("LC_TEST_SETTINGS")) })
vim.o.laststatus = 2
vim.o.statusline = "%f %m%=%{v:lua.require'little_coder'.status()} "
vim.api.nvim_create_autocmd("User", { pattern = "LittleCoderStatus", command = "redrawstatus!" })

local bufnr = vim.api.nvim_get_current_buf()
local timer = assert(vim.uv.new_timer())
timer:start(100, 100, vim.schedule_wrap(function()
  local client = vim.lsp.get_clients({ name = "little_coder", bufnr = bufnr })[1]
  if client and client.initialized and not timer:is_closing() then
    timer:close()
    vim.api.nvim_win_set_cursor(0, { 4, 0 })
    vim.cmd("LittleCoder implement")
  end
end))
