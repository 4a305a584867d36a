-- Commands only; the plugin's modules load on first use.
if vim.g.loaded_little_coder then
  return
end
vim.g.loaded_little_coder = true

vim.api.nvim_create_user_command("LittleCoder", function(opts)
  require("little_coder").command(opts)
end, {
  nargs = "+",
  range = true,
  complete = function(arglead, cmdline)
    return require("little_coder").complete(arglead, cmdline)
  end,
  desc = "little-coder: implement | ask {instruction} | cancel | undo | revise [comment] | review | status | log "
    .. "| messages",
})
