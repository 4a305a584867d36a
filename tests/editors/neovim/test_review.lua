-- The whole loop in real Neovim, against the real language server and the scripted model server:
-- setup (vim.lsp.config / enable) → code action offered on a stub → run through
-- vim.lsp.buf.code_action() → progress → review tab (littleCoder/review, every change accepted) →
-- reject one hunk → apply → the server applies exactly the selection → `:LittleCoder revise` sends the
-- rejection back (the pytest driver reads the model server's recorded request).
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))

local workspace = H.env("LC_TEST_WORKSPACE")
local expected_leap = H.read(H.env("LC_TEST_EXPECTED"))
local expected_tests = H.read(H.env("LC_TEST_EXPECTED_TESTS"))
local seen = H.capture_notifications()

vim.cmd("filetype on")
vim.cmd.runtime("plugin/little_coder.lua")
local lc = require("little_coder")
H.ok(vim.fn.exists(":LittleCoder") == 2, "plugin/little_coder.lua defines :LittleCoder")

local statuses = {}
vim.api.nvim_create_autocmd("User", {
  pattern = "LittleCoderStatus",
  callback = function()
    local text = lc.status()
    if text ~= "" and statuses[#statuses] ~= text then
      statuses[#statuses + 1] = text
    end
  end,
})

H.ok(lc.setup({
  cmd = vim.json.decode(H.env("LC_TEST_SERVER_CMD")),
  settings = vim.json.decode(H.env("LC_TEST_SETTINGS")),
}), "setup() starts")
H.ok(vim.lsp.is_enabled("little_coder"), "0.11: the server is enabled with vim.lsp.enable")

vim.cmd.edit(workspace .. "/leap.py")
local bufnr = vim.api.nvim_get_current_buf()
local client
H.wait(20000, function()
  client = vim.lsp.get_clients({ name = "little_coder", bufnr = bufnr })[1]
  return client ~= nil and client.initialized
end, "the language server to attach and initialize")
H.out("initialized at " .. H.elapsed() .. ", encoding " .. client.offset_encoding)
H.eq(client.root_dir, workspace, "the workspace root comes from its .git marker")
local edit_caps = client.capabilities.workspace.workspaceEdit
H.ok(edit_caps.documentChanges and not edit_caps.changeAnnotationSupport, "versioned edits, no annotations")
H.eq(client.capabilities.experimental, { littleCoder = { review = 1 } }, "the review in the editor is announced")

-- The completion of :LittleCoder.
H.eq(vim.fn.getcompletion("LittleCoder ", "cmdline"),
  { "implement", "ask", "cancel", "undo", "revise", "review", "status", "log", "messages" }, "subcommand completion")
H.eq(vim.fn.getcompletion("LittleCoder rev", "cmdline"), { "revise", "review" }, "completion filters")

-- 1. A code action is offered on the stub, and nothing on ordinary code.
local function action_titles(line)
  vim.api.nvim_win_set_cursor(0, { line, 4 })
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {} }
  local results = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, 10000) or {}
  local titles = {}
  for _, answer in pairs(results) do
    for _, action in ipairs(answer.result or {}) do
      titles[#titles + 1] = action.title
    end
  end
  return titles
end
local title = "Ask little-coder to implement `is_leap`"
H.ok(vim.tbl_contains(action_titles(4), title), "code action offered on the stub")
H.eq(action_titles(1), {}, "no code action on the module docstring")

-- 2. Run it the way a user does.
vim.api.nvim_win_set_cursor(0, { 4, 4 })
vim.lsp.buf.code_action({
  filter = function(action)
    return action.title == title
  end,
  apply = true,
})

-- 3. Progress: notifications and the statusline, while nothing blocks.
H.wait(30000, function()
  return vim.fn.tabpagenr("$") == 2
end, "the review tab")
H.out("review open at " .. H.elapsed())
H.ok(H.find_notification(seen, "little-coder: implement `is_leap` — started"), "a start notification")
H.ok(H.find_notification(seen, "implement `is_leap` — 2 files, +"), "the end-of-session summary")
H.ok(H.find_notification(seen, "Write on existing"), "the write-guard budget event")
local turn_seen = false
for _, text in ipairs(statuses) do
  turn_seen = turn_seen or text:find("^LC turn %d+/20") ~= nil
end
H.ok(turn_seen, "the statusline showed the turns: " .. vim.inspect(statuses))
H.ok(lc.status():find("^LC review: implement `is_leap`"), "statusline during the review: " .. lc.status())

-- 4. The review tab: current vs proposed in diff mode, notes above the hunks, a help line; every
-- change starts accepted.
local tab = vim.api.nvim_get_current_tabpage()
local wins = vim.api.nvim_tabpage_list_wins(tab)
H.eq(#wins, 3, "current, proposed and the help line")
local function buf_name(win)
  return vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
end
local proposed_win = vim.api.nvim_get_current_win()
H.eq(vim.fn.bufname(vim.api.nvim_win_get_buf(proposed_win)), "little-coder review: leap.py",
  "the cursor starts in the proposed text, named for the tabline")
H.ok(vim.wo[proposed_win].diff, "the proposed text is in diff mode")
H.contains(vim.wo[proposed_win].winbar, "[file 1/2]  ✓2 ✗0", "the proposed window's bar: all accepted")
local help_win = wins[3]
local help = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(help_win), 0, -1, false), "\n")
H.contains(help, "a/r hunk", "help line: hunk keys")
H.contains(help, "<CR> apply", "help line: apply key")
H.contains(help, "3 of 3 changes to apply", "help line: what Apply does now")

-- The cursor starts on the implementation: `a` keeps it and moves on; reject the label change.
H.keys("a")
H.keys("r")
H.contains(vim.wo[proposed_win].winbar, "✓1 ✗1", "one rejected")
local marks = vim.api.nvim_buf_get_extmarks(vim.api.nvim_win_get_buf(proposed_win), -1, 0, -1, { details = true })
local words = {}
for _, mark in ipairs(marks) do
  if mark[4].virt_lines then
    H.ok(mark[4].virt_lines_above, "notes sit above their hunk")
    words[#words + 1] = mark[4].virt_lines[1][1][1]:match("(%a+) ·")
  end
end
H.eq(words, { "accepted", "rejected" }, "each hunk shows its decision")
H.keys("]f")
H.eq(vim.fn.bufname(vim.api.nvim_get_current_buf()), "little-coder review: test_leap.py", "the new file")
H.contains(vim.wo[vim.api.nvim_get_current_win()].winbar, "[file 2/2]  ✓1 ✗0", "accepted too")
H.eq(vim.fn.bufname(vim.api.nvim_win_get_buf(wins[1])), "little-coder review: test_leap.py (current)",
  "its current side")
H.keys("<CR>")

-- 5. Exactly the accepted changes, in the buffer and on disk; the server reads the outcome back.
local session
H.wait(15000, function()
  session = lc.instance().sessions:last_finished()
  return session ~= nil
end, "the session to finish")
H.eq(vim.fn.tabpagenr("$"), 1, "the review tab closed")
H.eq(session.state, "partial", "the server saw a partial application")
H.eq(#session.accepted, 2, "two hunks accepted")
H.eq(#session.rejected, 1, "one hunk rejected")
H.ok(H.find_notification(seen, "little-coder: implement `is_leap` — Applied 2 of 3 changes. Rejected: leap.py: "
  .. "line 10 (+1 −1)."), "the server's summary is shown as it is")
H.contains(lc.instance().messages:on_screen() or "", "Applied 2 of 3 changes", "and stays on screen")
local buffer_text = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") .. "\n"
H.eq(buffer_text, expected_leap, "the buffer holds exactly the accepted hunk")
H.eq(H.read(workspace .. "/leap.py"), expected_leap, "the file on disk too")
H.eq(vim.bo[bufnr].modified, false, "the reviewed buffer was saved")
H.eq(H.read(workspace .. "/test_leap.py"), expected_tests, "the accepted new file was created")
H.out("applied at " .. H.elapsed() .. ": session " .. session.id .. " " .. session.state)
vim.cmd("LittleCoder status")
H.wait(5000, function()
  return H.find_notification(seen, session.id .. "  partial") ~= nil
end, "the server's list of sessions")

-- 6. Revise: the rejection goes back to the model (the driver checks the request it got).
vim.cmd("LittleCoder revise keep describe() as it was")
local revised
H.wait(20000, function()
  local last = lc.instance().sessions:last_finished()
  revised = last ~= session and last or nil
  return revised ~= nil
end, "the revised session to finish")
H.eq(revised.state, "no_changes", "the revised session answered without changes")
H.ok(H.find_notification(seen, "The label stays as it was."), "its answer is shown")
H.out("REVISED " .. revised.id)

-- 7. Undo puts back what the first session applied: the buffer, the file, and the created file is gone.
-- The server's own account of the undo (what the model is told too) is shown once, nothing else.
local before_undo = #seen
vim.cmd("LittleCoder undo")
local undo_note = "little-coder: undo of " .. session.title .. ": undid its changes to "
H.wait(10000, function()
  return H.find_notification(seen, undo_note) ~= nil
end, "the undo")
vim.wait(300) -- a second, client-made notification would come right after the reply
local about_undo = {}
for i = before_undo + 1, #seen do
  if seen[i].message:find("undo", 1, true) or seen[i].message:find("undid", 1, true) then
    about_undo[#about_undo + 1] = seen[i].message
  end
end
H.eq(#about_undo, 1, "the undo is reported once: " .. vim.inspect(about_undo))
H.eq(lc.instance().sessions:get(session.id).state, "undone", "the session reads as undone")
H.eq(table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") .. "\n", H.read(H.env("LC_TEST_STUB")),
  "the buffer is back to the stub")
H.eq(H.read(workspace .. "/leap.py"), H.read(H.env("LC_TEST_STUB")), "and the file")
H.eq(vim.uv.fs_stat(workspace .. "/test_leap.py"), nil, "the created file was removed")

-- 8. Ask about a linewise visual selection: the answer comes back as a notification.
vim.api.nvim_win_set_cursor(0, { 9, 0 })
H.keys("Vj:LittleCoder ask what does describe() return?<CR>")
local asked
H.wait(20000, function()
  local last = lc.instance().sessions:last_finished()
  asked = last ~= revised and last ~= session and last or nil
  return asked ~= nil
end, "the question to be answered")
H.eq(asked.title, "what does describe() return?", "the question is the title")
H.ok(H.find_notification(seen, "It returns \"leap\" or \"common\"."), "the answer is shown")
H.out("ASKED " .. asked.id)

-- The log holds the transcript of both sessions.
vim.cmd("LittleCoder log")
local log = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.contains(log, "[" .. session.id .. "]", "the first session's transcript")
H.contains(log, "[" .. revised.id .. "]", "the revision's transcript")

H.done()
