-- The review of a `littleCoder/review` request without a server: the proposal's decisions, edits,
-- rebases and warnings (little_coder.proposal), the review tab driven with keys (little_coder.review),
-- the messages' words (little_coder.messages), and the shipped help tags.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))
local Proposal = require("little_coder.proposal")
local Review = require("little_coder.review")
local Messages = require("little_coder.messages")
local config = require("little_coder.config")

local CURRENT = "import os\n\ndef leap(y):\n    # mine\n    raise NotImplementedError\n\nprint(leap(4))\n"
local function params()
  return {
    sessionId = "s1", title = "implement leap", label = "little-coder: implement leap", unfinished = vim.NIL,
    testCommand = "pytest -q",
    files = { {
      uri = vim.uri_from_fname("/tmp/ws/leap.py"), path = "leap.py", created = false, version = 3,
      currentText = CURRENT,
      hunks = {
        { id = "h1", kind = "change", startLine = 1, endLine = 1, oldText = "", newText = "import itertools\n",
          bothText = vim.NIL, label = "leap.py: line 2 (+1)", reason = "", dependsOn = {} },
        { id = "h2", kind = "conflict", startLine = 3, endLine = 5, oldText = "    # mine\n    raise NotImplementedError\n",
          newText = "    return y % 4 == 0\n",
          bothText = "    # mine\n    raise NotImplementedError\n    return y % 4 == 0\n",
          label = "leap.py: lines 4–5 (+1 −2)", reason = "you edited these lines while the agent worked",
          dependsOn = { { hunk = "h1", names = { "itertools" } } } },
        { id = "h3", kind = "change", startLine = 6, endLine = 7, oldText = "print(leap(4))\n", newText = "",
          bothText = vim.NIL, label = "leap.py: line 7 (−1)", reason = "", dependsOn = {} },
      },
    } },
  }
end

-- 1. The proposal: defaults, decisions in both vocabularies, edits, the reply.
local p = Proposal.new(params())
H.eq(p.decisions, { h1 = "accept", h2 = "mine", h3 = "accept" }, "changes accepted, conflicts mine")
H.eq(p.test_command, "pytest -q", "the test command")
H.eq(p.unfinished, nil, "JSON null reads as nil")
local lines, segments = p:layout(p.files[1])
H.eq(lines, { "import os", "import itertools", "", "def leap(y):", "    return y % 4 == 0", "" },
  "the proposed side: the agent's lines, a deletion gone")
H.eq(vim.tbl_map(function(s)
  return { s.hunk and s.hunk.id or "-", s.first, s.count }
end, segments), { { "-", 0, 1 }, { "h1", 1, 1 }, { "-", 2, 2 }, { "h2", 4, 1 }, { "-", 5, 1 }, { "h3", 6, 0 } },
  "segments")
local h1, h2, h3 = p:find("h1"), p:find("h2"), p:find("h3")
H.ok(p:partial(), "a conflict makes the selection partial")
H.eq(p:dependency_warnings(), {}, "nothing left out that an applied hunk needs")
H.ok(p:decide(h2, "both"), "a conflict takes both")
H.eq(p:shown_text(h2), h2.bothText, "both: the user's lines, then the agent's")
H.ok(p:decide(h2, "accept"), "accepting a conflict takes the agent's lines")
H.eq(p.decisions.h2, "agent", "read as agent")
H.ok(not p:decide(h1, "both"), "a change has no both")
H.ok(p:decide(h1, "reject"), "reject a change")
H.eq(p:dependency_warnings(), { "the change at leap.py lines 4–5 uses itertools, which the change at leap.py line 2 "
  .. "adds and your selection leaves out" }, "the dependency warning")
H.ok(p:set_text(h1, "import itertools as it\n"), "an edit")
H.eq(p.decisions.h1, "accept", "editing a rejected change accepts it")
H.ok(not p:set_text(h1, "import itertools as it\n"), "the same text again is no change")
H.ok(p:set_text(h1, "import itertools\n"), "editing back")
H.eq(p.edited.h1, nil, "the proposal's own text is no edit")
p:set_text(h3, "print(leap(8))\n")
local function decided(list)
  local choices = {}
  for _, item in ipairs(list) do
    choices[item.hunk] = item.choice
  end
  return choices
end
local reply = p:result("apply")
H.eq({ reply.action, decided(reply.decisions) }, { "apply", { h1 = "accept", h2 = "agent", h3 = "accept" } },
  "the reply's decisions, a list of {hunk, choice}")
H.eq(reply.edited, { { hunk = "h3", text = "print(leap(8))\n" } }, "its edits, a list of {hunk, text}")
p:decide(h3, "reject")
H.eq(p:result("close").edited, {}, "an edit of a hunk not applied is not sent")

-- A rebase keeps decisions and edits by id; a change the user touched is a conflict at "mine".
p = Proposal.new(params())
h1 = p:find("h1")
p:set_text(h1, "import itertools, sys\n")
p:decide(p:find("h3"), "reject")
local file = params().files[1]
file.currentText = "# top\n" .. CURRENT
file.hunks[1].startLine, file.hunks[1].endLine = 2, 2
file.hunks[1].kind, file.hunks[1].reason = "conflict", "you edited these lines during the review"
file.hunks[1].bothText = "import sys\nimport itertools\n"
table.remove(file.hunks, 2)
file.hunks[2].startLine, file.hunks[2].endLine = 7, 8
local index, conflicts, gone = p:update(file)
H.eq({ index, #conflicts, conflicts[1].id, gone }, { 1, 1, "h1", 1 }, "one new conflict, one hunk gone")
H.eq(p.decisions, { h1 = "mine", h3 = "reject" }, "kept by id; the new conflict starts at mine")
H.eq(p.edited, { h1 = "import itertools, sys\n" }, "the edit stays with its hunk")
H.eq(Proposal.text_of(p.files[1], p:find("h1"), { "a", "b" }), "a\nb\n", "lines of a hunk, terminated")

-- Words: one prefix, no internal ids.
H.eq(Messages.clean("little-coder: little-coder: undo of x: run littleCoder.revise"),
  "little-coder: undo of x: run :LittleCoder revise", "prefix once, command ids in the user's words")
H.eq(Messages.clean("little-coder: could not test: little-coder: boom"), "little-coder: could not test: boom",
  "a nested prefix")
H.eq(Messages.clean("set littleCoder.baseUrl"), "set littleCoder.baseUrl", "a setting's name stays")

-- 2. The review tab, driven with keys. The server is stood in for by the callbacks.
local notes = {}
local function open(request, test_result)
  local answer
  local tested = {}
  local review = Review.new({
    id = math.random(100000), proposal = Proposal.new(request), keymaps = config.defaults.review.keymaps,
    notify = function(message, level, persist)
      notes[#notes + 1] = { message = message, level = level, persist = persist }
    end,
    flush = function() end,
    test_selection = function(args, done)
      tested[#tested + 1] = args
      done(test_result)
    end,
    on_done = function(result)
      answer = result
    end,
  })
  review:open()
  return review, function()
    return answer
  end, tested
end
local function text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
end
local function info(review)
  return text(review.help_buf)
end

local failed = { command = "pytest -q", ran = true, passed = false,
  summary = "fails with your selection: NameError: name 'itertools' is not defined",
  output = "E   NameError: name 'itertools' is not defined\n1 failed\n" }
local review, answer, tested = open(params(), failed)
local new_buf = vim.api.nvim_win_get_buf(review.new_win)
H.eq(vim.fn.bufname(new_buf), "little-coder review: leap.py", "a buffer name the tabline shows whole")
H.eq(vim.fn.bufname(vim.api.nvim_win_get_buf(review.old_win)), "little-coder review: leap.py (current)",
  "the current side's name")
H.eq(text(new_buf), table.concat(lines, "\n"), "the proposed side")
H.ok(vim.bo[new_buf].modifiable, "the proposed side is editable")
H.ok(not vim.bo[vim.api.nvim_win_get_buf(review.old_win)].modifiable, "the current side is not")
H.contains(vim.wo[review.new_win].winbar, "[file 1/1]  ✓2 ✗1  ⚠1 conflict", "the bar counts")
local marks = vim.api.nvim_buf_get_extmarks(new_buf, -1, 0, -1, { details = true })
local notes_above = {}
for _, mark in ipairs(marks) do
  local d = mark[4]
  if d.virt_lines then
    notes_above[#notes_above + 1] = { mark[2], d.virt_lines_above, d.virt_lines[1][1][1] }
  end
end
H.eq(notes_above[1], { 1, true, "── ✓ accepted · leap.py: line 2 (+1)" }, "a note above the hunk")
H.eq(notes_above[2][3], "── ⚠ conflict · leap.py: lines 4–5 (+1 −2) · you edited these lines while the agent worked",
  "a conflict's note gives its reason")
H.eq({ notes_above[3][1], notes_above[3][2] }, { 5, false }, "a deletion at the end: below the last line")
H.contains(info(review), "✓ accepted · leap.py: line 2 (+1)", "the cursor starts on the first change")

-- Conflict choices: both shows the user's lines and the agent's; mine keeps the user's.
H.keys("]h")
H.contains(info(review), "! conflict: your lines stay (mine) · leap.py: lines 4–5 (+1 −2) — you edited", "on the conflict")
H.keys("gb")
H.contains(text(new_buf), "    # mine\n    raise NotImplementedError\n    return y % 4 == 0", "both versions")
H.keys("[h")
H.contains(info(review), "conflict: your lines, then the agent's (both)", "decided both")
H.keys("ga")
H.contains(text(new_buf), "def leap(y):\n    return y % 4 == 0\n", "the agent's lines")
H.keys("[h[h")
H.keys("gb")
H.eq(#notes > 0 and notes[#notes].message or "", "little-coder: review: both is a choice of a conflict; this is a "
  .. "change: accept or reject it", "a change has no both")

-- Editing inside a hunk makes it the hunk's text; editing outside is put back.
-- The review keys (a, A, r, R) are mapped in the review buffers: edits use Vim's own keys here.
local function edit(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "nx", false)
  vim.wait(50)
end
vim.api.nvim_win_set_cursor(review.new_win, { 2, 0 })
edit("A, sys<Esc>")
H.eq(review.proposal.edited.h1, "import itertools, sys\n", "an edit inside a hunk")
H.contains(info(review), "edited by you", "the edit is shown")
vim.api.nvim_win_set_cursor(review.new_win, { 2, 0 })
edit("oimport re<Esc>")
H.eq(review.proposal.edited.h1, "import itertools, sys\nimport re\n", "a line added at a hunk's end is the hunk's")
vim.api.nvim_win_set_cursor(review.new_win, { 1, 0 })
edit("A  # changed<Esc>")
vim.wait(200, function()
  return vim.api.nvim_buf_get_lines(new_buf, 0, 1, false)[1] == "import os"
end)
H.eq(vim.api.nvim_buf_get_lines(new_buf, 0, 1, false)[1], "import os", "an edit outside the hunks is put back")
H.contains(notes[#notes].message, "only the proposed changes can be edited here", "and the user is told why")
H.eq(review.proposal.edited.h1, "import itertools, sys\nimport re\n", "the hunk's edit survives the refusal")

-- A rebase from the server: decisions and edits kept by id, a touched change becomes a conflict.
local rebased = params().files[1]
rebased.currentText = "# typed during the review\n" .. CURRENT
for _, hunk in ipairs(rebased.hunks) do
  hunk.startLine, hunk.endLine = hunk.startLine + 1, hunk.endLine + 1
end
rebased.hunks[3].kind, rebased.hunks[3].reason = "conflict", "you edited these lines during the review"
rebased.hunks[3].bothText = "print(leap(4))\n"
review:file_updated(rebased.uri, function()
  return review.proposal:update(rebased)
end)
H.eq(vim.api.nvim_buf_get_lines(new_buf, 0, 3, false), { "# typed during the review", "import os",
  "import itertools, sys" }, "redrawn on the new text, the edit kept")
H.eq(review.proposal.decisions, { h1 = "accept", h2 = "agent", h3 = "mine" }, "decisions kept, the new conflict mine")
H.contains(notes[#notes].message, "leap.py line 7: you edited these lines during the review — now a conflict",
  "the new conflict is told")
H.ok(notes[#notes].persist, "and kept on screen")

-- Apply: h2 (applied) uses h1's itertools; leave h1 out: warned first, then the selection is tested.
vim.api.nvim_win_set_cursor(review.new_win, { 3, 0 })
H.keys("r")
H.keys("<CR>")
H.contains(info(review), "⚠ the change at leap.py lines 4–5 uses itertools, which the change at leap.py line 2 adds",
  "the dependency warning in the review")
H.contains(info(review), "<CR> apply anyway   <Esc> back to the review", "its choices")
H.keys("<Esc>")
H.ok(not info(review):find("apply anyway", 1, true), "back to the review")
H.eq(answer(), nil, "nothing answered yet")
H.keys("<CR><CR>")
H.eq(#tested, 1, "apply anyway: the selection is tested")
H.eq(decided(tested[1].decisions), { h1 = "reject", h2 = "agent", h3 = "mine" }, "exactly the selection")
H.contains(info(review), "✗ fails with your selection: NameError", "the failed test in the review")
H.contains(info(review), "1 failed", "with the end of its output")
H.keys("<CR>")
H.eq({ answer().action, decided(answer().decisions), answer().edited },
  { "apply", { h1 = "reject", h2 = "agent", h3 = "mine" }, {} }, "apply anyway answers apply")
H.eq(vim.fn.tabpagenr("$"), 1, "the tab is gone")

-- A new file: compared with nothing, its text editable like any change.
local created = { sessionId = "s2", title = "t", label = "little-coder: t", testCommand = vim.NIL, files = { {
  uri = vim.uri_from_fname("/tmp/ws/new.py"), path = "new.py", created = true, version = vim.NIL, currentText = "",
  hunks = { { id = "n1", kind = "change", startLine = 0, endLine = 0, oldText = "", newText = "x = 1\n",
    bothText = vim.NIL, label = "new.py: new file (+1)", reason = "", dependsOn = {} } } } } }
local fresh, answer_new = open(created)
H.contains(vim.wo[fresh.old_win].winbar, "new file", "compared with nothing")
edit("oy = 2<Esc>")
H.keys("<CR>")
H.eq(answer_new().edited, { { hunk = "n1", text = "x = 1\ny = 2\n" } }, "the new file's text as the user left it")

-- Everything accepted as proposed applies at once, untested; q closes without rejecting anything.
local plain = params()
plain.files[1].hunks[2].kind = "change"
local _, answer_all, tested_all = open(plain)
H.keys("<CR>")
H.eq({ answer_all().action, #tested_all }, { "apply", 0 }, "all accepted: applied straight away")
local _, answer_q = open(params())
H.keys("q")
H.eq(answer_q().action, "close", "q closes")
H.contains(notes[#notes].message, "review closed: :LittleCoder review reopens it", "the words after q")
local closing, answer_closed = open(params())
vim.api.nvim_win_close(closing.old_win, true)
H.wait(1000, function()
  return answer_closed() ~= nil
end, "closing a review window to close the review")
H.eq(answer_closed().action, "close", "closing a window is q")

-- 3. The messages window: kept until a key a moment later; the history keeps everything.
local messages = Messages.new(true, 300)
local echoed = {}
local notify = vim.notify
vim.notify = function(message)
  echoed[#echoed + 1] = message
end
messages:add("little-coder: little-coder: 2 of 3 changes applied", vim.log.levels.INFO, true)
vim.notify = notify
H.eq(echoed, { "little-coder: 2 of 3 changes applied" }, "one prefix")
H.contains(messages:on_screen() or "", "2 of 3 changes applied", "on screen")
H.keys("j")
vim.wait(100)
H.ok(messages:on_screen(), "a key typed at once leaves it")
vim.wait(300)
H.keys("j")
vim.wait(100)
H.eq(messages:on_screen(), nil, "a key a moment later closes it")
H.eq(#messages.history, 1, "the history keeps it")
messages:open()
H.ok(vim.api.nvim_buf_get_lines(0, 0, -1, false)[1]:find("%d%d:%d%d:%d%d little%-coder: 2 of 3 changes applied$") ~= nil,
  ":LittleCoder messages lists it with its time")
vim.cmd("close")

-- 4. Help: the shipped tags are current, and `:help little-coder` opens at the top of the file.
local source = vim.api.nvim_get_runtime_file("doc/little-coder.txt", false)[1]
local shipped = vim.fs.joinpath(vim.fs.dirname(source), "tags")
local fresh = vim.fn.tempname() .. "/doc"
vim.fn.mkdir(fresh, "p")
vim.fn.writefile(vim.fn.readfile(source), fresh .. "/little-coder.txt")
vim.cmd("helptags " .. vim.fn.fnameescape(fresh))
H.eq(vim.fn.readfile(shipped), vim.fn.readfile(fresh .. "/tags"), "doc/tags is what :helptags makes")
vim.cmd("help little-coder")
H.eq(vim.fs.basename(vim.api.nvim_buf_get_name(0)), "little-coder.txt", ":help little-coder")
H.eq(vim.fn.line("."), 1, "at the top")
vim.cmd("helpclose")
for _, tag in ipairs({ ":LittleCoder", "little-coder-review", "little-coder-conflicts", "little_coder.status()" }) do
  vim.cmd("help " .. tag)
  H.eq(vim.fs.basename(vim.api.nvim_buf_get_name(0)), "little-coder.txt", ":help " .. tag)
  vim.cmd("helpclose")
end

H.done()
