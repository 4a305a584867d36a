--- The session log behind `:LittleCoder log`: the server's transcript (window/logMessage) and the
--- plugin's own notes, kept in memory (bounded) and shown live in a scratch buffer.
--- @class little_coder.Log
local Log = {}
Log.__index = Log

local BUFFER_NAME = "little-coder://log"

--- @param max_lines integer
function Log.new(max_lines)
  return setmetatable({ lines = {}, max_lines = max_lines, bufnr = nil, placeholder = false }, Log)
end

--- @param text string
function Log:add(text)
  local new = vim.split(text, "\n", { plain = true })
  vim.list_extend(self.lines, new)
  local excess = #self.lines - self.max_lines
  if excess > 0 then
    self.lines = vim.list_slice(self.lines, excess + 1)
  end
  local bufnr = self.bufnr
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    vim.bo[bufnr].modifiable = true
    if excess > 0 or self.placeholder then
      vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, self.lines)
      self.placeholder = false
    else
      vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, new)
    end
    vim.bo[bufnr].modifiable = false
    vim.bo[bufnr].modified = false
    for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
      vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(bufnr), 0 })
    end
  end
end

--- Show the log in a split below (or jump to it when it is already shown).
function Log:open()
  local bufnr = self.bufnr
  if not (bufnr and vim.api.nvim_buf_is_valid(bufnr)) then
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, BUFFER_NAME)
    vim.bo[bufnr].bufhidden = "hide"
    vim.bo[bufnr].filetype = "littlecoderlog"
    self.placeholder = #self.lines == 0
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, self.placeholder and { "(no session yet)" } or self.lines)
    vim.bo[bufnr].modifiable = false
    vim.bo[bufnr].modified = false
    vim.keymap.set("n", "q", "<cmd>close<cr>", { buffer = bufnr, nowait = true, desc = "Close the log" })
    self.bufnr = bufnr
  end
  local shown = vim.fn.win_findbuf(bufnr)
  local win = shown[1]
  if win then
    vim.api.nvim_set_current_win(win)
  else
    vim.cmd("botright 12split")
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, bufnr)
  end
  vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(bufnr), 0 })
  return bufnr
end

return Log
