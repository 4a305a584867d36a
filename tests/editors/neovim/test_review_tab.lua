-- The review tab against the real server (littleCoder/review): the user edits the lines of every
-- change during the review; each becomes a conflict showing both versions and its reason, and they are
-- resolved mine / agent's / both. (test_neovim.py's TUI tests show the dependency warning, the tested
-- selection and an edited proposal; test_cancel.lua an edit far from the changes.)
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))

local workspace = H.env("LC_TEST_WORKSPACE")
local seen = H.capture_notifications()
vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")
H.ok(lc.setup({
  cmd = vim.json.decode(H.env("LC_TEST_SERVER_CMD")),
  settings = vim.json.decode(H.env("LC_TEST_SETTINGS")),
}), "setup() starts")

local function lines(bufnr, first, last)
  return vim.api.nvim_buf_get_lines(bufnr, first or 0, last or -1, false)
end
local function wait_review()
  H.wait(20000, function()
    return vim.fn.tabpagenr("$") == 2
  end, "the review tab")
  return lc.instance().reviews.current
end
local function wait_finished(id)
  local session
  H.wait(20000, function()
    session = lc.instance().sessions:get(id)
    return session.finished_order ~= nil
  end, "session " .. id .. " to finish")
  return session
end

-- labels.py: three changes; the user edits each of their lines during the review.
vim.cmd.edit(workspace .. "/labels.py")
local labels = vim.api.nvim_get_current_buf()
H.wait(20000, function()
  local client = vim.lsp.get_clients({ name = "little_coder", bufnr = labels })[1]
  return client ~= nil and client.initialized
end, "the language server")
vim.cmd("LittleCoder ask relabel A, B and C")
local review = wait_review()
local id = review.proposal.session_id
for _, line in ipairs({ 0, 3, 6 }) do
  local text = lines(labels, line, line + 1)[1]
  vim.api.nvim_buf_set_lines(labels, line, line + 1, false, { (text:gsub('"(%a)"', '"my %1"')) })
end
H.wait(5000, function()
  return review.proposal:counts().conflicts == 3
end, "three conflicts")
H.contains(vim.wo[review.new_win].winbar, "⚠3 conflicts", "counted in the bar")
H.eq(lines(vim.api.nvim_win_get_buf(review.old_win)), { 'A = "my a"', "", "", 'B = "my b"', "", "", 'C = "my c"' },
  "your version on the left")
H.eq(lines(vim.api.nvim_win_get_buf(review.new_win)), { 'A = "agent a"', "", "", 'B = "agent b"', "", "",
  'C = "agent c"' }, "the agent's on the right")
local notes = {}
for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(vim.api.nvim_win_get_buf(review.new_win), -1, 0, -1,
  { details = true })) do
  if mark[4].virt_lines then
    notes[#notes + 1] = mark[4].virt_lines[1][1][1]
  end
end
H.eq(#notes, 3, "a note above each")
H.contains(notes[1], "── ⚠ conflict · labels.py: line 1", "the conflict's note")
H.contains(notes[1], "you edited these lines", "with its reason")
H.ok(H.find_notification(seen, "now a conflict", vim.log.levels.WARN), "each new conflict is told")

vim.api.nvim_win_set_cursor(review.new_win, { 1, 0 })
H.keys("gm")
H.keys("ga")
H.keys("gb")
H.eq(review.proposal.decisions[review.proposal.files[1].hunks[3].id], "both", "the third takes both")
H.keys("<CR>")
local second = wait_finished(id)
H.eq(lines(labels), { 'A = "my a"', "", "", 'B = "agent b"', "", "", 'C = "my c"', 'C = "agent c"' },
  "mine, the agent's, both")
H.out("LABELS " .. second.state)

H.done()
