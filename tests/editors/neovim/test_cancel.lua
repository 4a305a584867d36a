-- Sessions that end without applying anything, with the vim.lsp.start fallback: cancelled while the
-- model streams, cancelled while its review is open, a review closed with `q` and reopened, and a
-- review that survives the user editing its file. The editor stays usable throughout: typing happens
-- while the model streams.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))

local workspace = H.env("LC_TEST_WORKSPACE")
local seen = H.capture_notifications()
vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")

H.ok(lc.setup({
  cmd = vim.json.decode(H.env("LC_TEST_SERVER_CMD")),
  settings = vim.json.decode(H.env("LC_TEST_SETTINGS")),
  lsp_api = "start",
}), "setup() starts")
H.ok(not vim.lsp.is_enabled("little_coder"), "the fallback does not use vim.lsp.enable")

local original = H.read(workspace .. "/leap.py")
vim.cmd.edit(workspace .. "/leap.py")
local bufnr = vim.api.nvim_get_current_buf()
H.wait(20000, function()
  local client = vim.lsp.get_clients({ name = "little_coder", bufnr = bufnr })[1]
  return client ~= nil and client.initialized
end, "vim.lsp.start to attach the server")
local sessions = lc.instance().sessions

-- 1. Cancel while the model streams its (slow) first reply.
vim.api.nvim_win_set_cursor(0, { 4, 0 })
vim.cmd("LittleCoder implement")
H.wait(15000, function()
  return lc.status():find("^LC turn 1/20 · thinking") ~= nil
end, "the model to stream its first reply")
-- The editor is not blocked: edit another buffer while the agent works.
vim.cmd("enew")
vim.api.nvim_buf_set_lines(0, 0, -1, false, { "typed while the agent works" })
H.eq(vim.api.nvim_buf_get_lines(0, 0, -1, false), { "typed while the agent works" }, "typing works meanwhile")
vim.cmd("buffer " .. bufnr)
H.eq(vim.fn.getcompletion("LittleCoder cancel ", "cmdline")[2], sessions:active().id, "cancel completes session ids")
local first = sessions:active()
vim.cmd("LittleCoder cancel")
H.wait(10000, function()
  return first.state == "cancelled"
end, "the first session to be cancelled")
H.ok(H.find_notification(seen, "cancelling " .. first.id), "the cancel is acknowledged")
H.ok(H.find_notification(seen, "— cancelled", vim.log.levels.WARN), "the end is reported")
H.eq(lc.status(), "", "the statusline is empty again")
H.out("CANCELLED_STREAMING " .. first.id)

-- 2. Cancel while the review is open: the tab closes and the file stays as it was.
vim.api.nvim_win_set_cursor(0, { 4, 0 })
vim.cmd("LittleCoder implement")
H.wait(15000, function()
  return vim.fn.tabpagenr("$") == 2
end, "the review tab")
local second = sessions:active()
H.eq(second.state, "reviewing", "the session waits for the review")
vim.cmd("LittleCoder cancel")
H.wait(10000, function()
  return second.state == "cancelled" and vim.fn.tabpagenr("$") == 1
end, "the review to close with the cancelled session")
H.eq(H.read(workspace .. "/leap.py"), original, "nothing was applied")
H.eq(vim.bo[bufnr].modified, false, "the buffer is untouched")
H.out("CANCELLED_REVIEW " .. second.id)

-- 3. `q` closes the review: nothing applied, nothing rejected; the server keeps the proposal and
-- `:LittleCoder review` reopens it.
local function review_next()
  vim.api.nvim_win_set_cursor(0, { 4, 0 })
  vim.cmd("LittleCoder implement")
  H.wait(15000, function()
    return vim.fn.tabpagenr("$") == 2
  end, "the review tab")
  return sessions:active()
end
local third = review_next()
H.keys("q")
H.wait(10000, function()
  return third.state == "closed"
end, "the server to record the closed review")
H.eq(vim.fn.tabpagenr("$"), 1, "the review tab closed")
H.ok(H.find_notification(seen, "The review was closed: the change was not applied, nor rejected. "
  .. "It is kept: reopen the review, or ask little-coder to revise."), "the server's words")
H.ok(H.find_notification(seen, "little-coder: review closed: :LittleCoder review reopens it"), "how to reopen it")
H.eq(H.read(workspace .. "/leap.py"), original, "nothing was applied")
H.eq(vim.fn.getcompletion("LittleCoder review ", "cmdline"), { third.id }, "review completes the closed one")
vim.cmd("LittleCoder review")
H.wait(10000, function()
  return vim.fn.tabpagenr("$") == 2
end, "the review to reopen")
H.contains(vim.wo[vim.api.nvim_get_current_win()].winbar, "✓1 ✗0", "the same proposal")
H.keys("q")
H.wait(10000, function()
  return vim.fn.tabpagenr("$") == 1 and third.state == "closed"
end, "the reopened review to close again")
H.out("CLOSED_REOPENED " .. third.id)

-- 4. The file changes during the review, far from the change: the review follows and applies.
local fourth = review_next()
vim.api.nvim_buf_set_lines(bufnr, 0, 1, false, { '"""Leap years, edited during the review."""' })
H.wait(5000, function()
  return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(vim.fn.win_getid(1)), 0, 1, false)[1]
    == '"""Leap years, edited during the review."""'
end, "the review's current side to show the edit")
H.keys("<CR>")
H.wait(10000, function()
  return fourth.state == "applied"
end, "the review applied after the edit")
H.eq(vim.api.nvim_buf_get_lines(bufnr, 0, 1, false), { '"""Leap years, edited during the review."""' },
  "the user's edit stays")
local body = H.env("LC_TEST_BODY"):gsub("\n$", "")
H.eq(vim.api.nvim_buf_get_lines(bufnr, 5, 6, false), { body }, "the agent's change landed")
H.out("APPLIED_AFTER_EDIT " .. fourth.id)

H.done()
