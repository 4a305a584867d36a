-- The plugin's logic without a server: position encodings and the server's plain edits
-- (little_coder.edits), the range a command sends, completion, option checks, the statusline text.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))
local edits = require("little_coder.edits")

-- Columns in each encoding: "é" is 2 UTF-8 bytes / 1 UTF-16 unit, "📅" 4 bytes / 2 units / 1 char.
local line = "aé📅b"
H.eq(edits.byte_of(line, 2, "utf-16"), 3, "utf-16 column 2 is after é")
H.eq(edits.byte_of(line, 4, "utf-16"), 7, "utf-16 column 4 is after the surrogate pair")
H.eq(edits.byte_of(line, 3, "utf-32"), 7, "utf-32 column 3 is after 📅")
H.eq(edits.byte_of(line, 7, "utf-8"), 7, "utf-8 columns are bytes")
H.eq(edits.byte_of(line, 99, "utf-16"), #line, "a column past the end clamps")
H.eq(edits.character_of(line, 7, "utf-16"), 4, "byte 7 is utf-16 column 4")
H.eq(edits.character_of(line, 7, "utf-32"), 3, "byte 7 is utf-32 column 3")

local current = table.concat({
  "def leap(year):", -- line 0
  "    raise NotImplementedError", -- 1
  "", -- 2
  "", -- 3
  "def label(year):", -- 4
  '    return "common"', -- 5
  "",
}, "\n")
local uri = vim.uri_from_fname("/tmp/ws/leap.py")
local new_uri = vim.uri_from_fname("/tmp/ws/test_leap.py")
local edit = {
  documentChanges = {
    {
      textDocument = { uri = uri, version = 7 },
      edits = {
        -- deliberately out of order: hunks are sorted by position
        {
          range = { start = { line = 5, character = 0 }, ["end"] = { line = 6, character = 0 } },
          newText = '    return "common year 🗓"\n',
          annotationId = "lc-hunk-2",
        },
        {
          range = { start = { line = 1, character = 0 }, ["end"] = { line = 2, character = 0 } },
          newText = "    if year % 400 == 0:\n        return True\n    return year % 4 == 0\n",
          annotationId = "lc-hunk-1",
        },
      },
    },
    { kind = "create", uri = new_uri, annotationId = "lc-hunk-3" },
    {
      textDocument = { uri = new_uri },
      edits = {
        {
          range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
          newText = "def test_leap():\n    assert leap(2000)\n",
          annotationId = "lc-hunk-3",
        },
      },
    },
  },
  changeAnnotations = {
    ["lc-hunk-1"] = { label = "leap.py: line 2 (+3 −1)", needsConfirmation = true },
    ["lc-hunk-2"] = { label = "leap.py: line 6 (+1 −1)", needsConfirmation = true },
    ["lc-hunk-3"] = { label = "test_leap.py: new file (+2)", needsConfirmation = true },
  },
}
H.ok(edits.needs_review(edit), "annotations needing confirmation ask for a review")
H.ok(not edits.needs_review({ changes = {} }), "a plain edit does not")

local texts = { [uri] = current }
local files, err = edits.collect(edit, "utf-16", function(u)
  return texts[u]
end)
H.ok(files, "collect failed: " .. tostring(err))
H.eq(#files, 2, "two files")
local leap, created = files[1], files[2]
H.eq({ leap.op, leap.version, #leap.hunks }, { "edit", 7, 2 }, "leap.py: a versioned edit with two hunks")
H.eq({ leap.hunks[1].edit.annotationId, leap.hunks[2].edit.annotationId }, { "lc-hunk-1", "lc-hunk-2" },
  "hunks sorted by position")
H.eq(leap.proposed, current:gsub("    raise NotImplementedError\n", "    if year %% 400 == 0:\n        return True\n"
  .. "    return year %% 4 == 0\n"):gsub('"common"', '"common year 🗓"'), "every edit applied")

H.eq(created.op, "create", "the new file")
H.eq(#created.hunks, 1, "a new file is one hunk")
H.eq(created.proposed, "def test_leap():\n    assert leap(2000)\n", "new-file text")

local deletion = { changes = { [uri] = {
  { range = { start = { line = 2, character = 0 }, ["end"] = { line = 4, character = 0 } }, newText = "" },
} } }
local plain = assert(edits.collect(deletion, "utf-8", function()
  return current
end))
H.eq(plain[1].proposed, current:gsub("\n\ndef label", "def label"), "a deletion")

-- CRLF text: the "\r" is part of the terminator, never a column.
local crlf = "a = 1\r\nb = 2\r\n"
local starts = edits.line_starts(crlf)
H.eq(edits.offset_of(crlf, starts, { line = 0, character = 99 }, "utf-16"), 5, "end of a CRLF line")
H.eq(edits.offset_of(crlf, starts, { line = 9, character = 0 }, "utf-16"), #crlf, "past the last line")

-- What cannot be reviewed says why.
local _, overlap = edits.collect({ changes = { [uri] = {
  { range = { start = { line = 0, character = 0 }, ["end"] = { line = 2, character = 0 } }, newText = "x" },
  { range = { start = { line = 1, character = 0 }, ["end"] = { line = 3, character = 0 } }, newText = "y" },
} } }, "utf-8", function()
  return current
end)
H.contains(overlap or "", "overlap", "overlapping edits are refused")
local _, exists = edits.collect({ documentChanges = { { kind = "create", uri = uri } } }, "utf-8", function()
  return current
end)
H.contains(exists or "", "it exists", "creating an existing file is refused")
local _, renamed = edits.collect({ documentChanges = { { kind = "rename", oldUri = uri, newUri = new_uri } } },
  "utf-8", function()
    return current
  end)
H.contains(renamed or "", "renames", "renames are left to Neovim's handler")

-- The range of a charwise visual selection, in the client's encoding; the end is after the last char.
local commands = require("little_coder.commands")
vim.api.nvim_buf_set_lines(0, 0, -1, false, { "x = 'é📅'", "y = 2", "z = 3" })
vim.api.nvim_win_set_cursor(0, { 1, 5 }) -- on é
H.keys("vj<Esc>") -- é … the end of line 2 (the column clamps to "2")
local range = commands.range({ range = 2, line1 = 1, line2 = 2 }, 0, "utf-16")
H.eq(range, { start = { line = 0, character = 5 }, ["end"] = { line = 1, character = 5 } }, "charwise, utf-16")
vim.api.nvim_win_set_cursor(0, { 1, 7 }) -- on 📅 (bytes 7-10)
H.keys("v<Esc>")
H.eq(commands.range({ range = 2, line1 = 1, line2 = 1 }, 0, "utf-16"),
  { start = { line = 0, character = 6 }, ["end"] = { line = 0, character = 8 } }, "one surrogate pair")
H.eq(commands.range({ range = 2, line1 = 1, line2 = 1 }, 0, "utf-8"),
  { start = { line = 0, character = 7 }, ["end"] = { line = 0, character = 11 } }, "the same in utf-8")
H.keys("Vj<Esc>")
H.eq(commands.range({ range = 2, line1 = 1, line2 = 2 }, 0, "utf-16"),
  { start = { line = 0, character = 0 }, ["end"] = { line = 1, character = 5 } }, "linewise: whole lines")
H.eq(commands.range({ range = 2, line1 = 2, line2 = 3 }, 0, "utf-16"),
  { start = { line = 1, character = 0 }, ["end"] = { line = 2, character = 5 } }, "a typed range: whole lines")
H.eq(commands.range({ range = 0, line1 = 1, line2 = 1 }, 0, "utf-16"), nil, "no range")

-- Completion: subcommands, then what each takes.
H.eq(commands.complete(nil, "", "LittleCoder "), commands.SUBCOMMANDS, "all subcommands")
H.eq(commands.complete(nil, "u", "'<,'>LittleCoder u"), { "undo" }, "after a range too")
H.eq(commands.complete(nil, "", "LittleCoder cancel "), { "all" }, "cancel takes all")
H.eq(commands.complete(nil, "", "LittleCoder revise "), {}, "revise takes free text")
H.eq(commands.complete({ reviews = { closed = { "s1", "s2" } } }, "", "LittleCoder review "), { "s2", "s1" },
  "review completes the closed reviews, newest first")

-- Options are checked and named.
local config = require("little_coder.config")
local resolved = assert(config.resolve({ cmd = { "python3", "-m", "lc_lsp" }, review = { keymaps = { apply = "<C-s>" } } }))
H.eq(resolved.cmd, { "python3", "-m", "lc_lsp" }, "a list option replaces the default")
H.eq({ resolved.review.keymaps.apply, resolved.review.keymaps.quit }, { "<C-s>", "q" }, "keymaps merge")
local function problem(opts)
  return select(2, config.resolve(opts))
end
H.contains(problem({ cmd = {} }), "option 'cmd' must be a non-empty list of strings", "empty cmd")
H.contains(problem({ lsp_api = "vim.lsp.start" }), "option 'lsp_api' must be", "bad lsp_api")
H.contains(problem({ review = { keymaps = { accept = "y" } } }), "unknown review keymap 'accept'", "bad keymap")
H.contains(problem({ review = { write = "yes" } }), "option 'review.write' must be a boolean", "bad write")

-- The statusline text follows the events.
local Sessions = require("little_coder.sessions")
local Log = require("little_coder.log")
local notes = {}
local sessions = Sessions.new(function(message, level)
  notes[#notes + 1] = { message, level }
end, Log.new(100), function() end, false)
H.eq(sessions:status_line(), "", "idle: empty")
sessions:started("s1")
sessions:progress("littleCoder/s1", { kind = "begin", title = "little-coder: implement `f`" })
H.eq(sessions:status_line(), "LC starting: implement `f`", "before the first turn")
sessions:event("s1", { kind = "turn_started", turn = 2, cap = 20 })
sessions:event("s1", { kind = "reasoning_delta", text = "hm" })
H.eq(sessions:status_line(), "LC turn 2/20 · thinking", "thinking")
sessions:event("s1", { kind = "tool_call_started", name = "Edit", arguments = { file_path = "src/f.py" } })
H.eq(sessions:status_line(), "LC turn 2/20 · Edit src/f.py", "a tool call")
sessions:event("s1", { kind = "cap_warning", turn = 16, cap = 20 })
H.eq(notes[#notes], { "little-coder: turn 16 of 20: the model is asked to wrap up", vim.log.levels.WARN },
  "a budget event is notified")
sessions:started("s2")
H.eq(sessions:status_line(), "LC +1 starting: session s2", "two sessions")
sessions:finished({ sessionId = "s2", state = "cancelled", title = "ask" })
sessions:finished({ sessionId = "s1", state = "error", title = "implement `f`", message = "boom" })
H.eq(notes[#notes], { "little-coder: implement `f` — failed: boom", vim.log.levels.ERROR }, "a failure")
H.eq(sessions:status_line(), "", "idle again")
H.eq(sessions:last_finished().id, "s1", "the newest finished session")

-- A partial apply reads as partial, not applied; hunks the editor failed to apply make it a warning.
local WARN = vim.log.levels.WARN
local partly = "the editor applied only part of the changes. Applied: a.py:1. Not applied: a.py:9"
sessions:finished({ sessionId = "s3", state = "partial", title = "implement `g`", accepted = { "a#1", "a#2" },
  rejected = {}, failed = { "a#3" }, message = partly })
H.eq(notes[#notes], { "little-coder: implement `g` — 2 of 3 changes applied; :LittleCoder undo reverts what was "
  .. "applied, revise redoes the rest: " .. partly, WARN }, "a partial apply with failed hunks")
H.eq(sessions:get("s3").failed, { "a#3" }, "the failed hunks are kept")
sessions:finished({ sessionId = "s4", state = "partial", title = "implement `h`", accepted = { "a#1" },
  rejected = { "a#2" } })
H.eq(notes[#notes], { "little-coder: implement `h` — 1 of 2 changes applied; :LittleCoder revise sends the "
  .. "rejected back", vim.log.levels.INFO }, "a partial apply by the user's choice")
-- The server showed the partial apply itself: the final status adds nothing.
local count = #notes
sessions:shown_message("little-coder: " .. partly .. ". littleCoder.undo reverts what was applied")
sessions:finished({ sessionId = "s5", state = "partial", title = "implement `i`", accepted = { "a#1" },
  rejected = {}, failed = { "a#2" }, message = partly })
H.eq(#notes, count, "a message the server showed is not shown again")

-- Undo: the server's message, which it showed, is all the user sees; the session reads as undone.
local commands_app
commands_app = {
  sessions = sessions,
  execute = function(_, command, _, _, on_result)
    H.eq(command, "littleCoder.undo", "undo runs the server's command")
    on_result(commands_app.reply)
  end,
  notify = function(_, message, level)
    notes[#notes + 1] = { message, level }
  end,
}
local kept_message = "little-coder: undo of implement `g`: kept your edits in a.py lines 3–5; undid the rest."
commands_app.reply = { sessionId = "s3", state = "undone", undone = true, files = { "a.py" },
  kept = { { path = "a.py", where = "lines 3–5", reason = "you changed them since" } }, notUndone = {},
  message = kept_message }
sessions:shown_message(kept_message)
commands.undo(commands_app, { args = "undo s3" })
H.eq(#notes, count, "an undo that kept edits: no second, contradicting notification")
H.eq(sessions:get("s3").state, "undone", "the session reads as undone")
H.eq(sessions:get("s3").message, kept_message:gsub("^little%-coder: ", ""), "and keeps the server's account")
-- A message the server did not show (an older server, a lost notification) is shown as it is.
local refused = "little-coder: undo of implement `h`: the editor did not apply the undo to a.py; they are "
  .. "unchanged and still undoable."
commands_app.reply = { sessionId = "s4", state = "partial", undone = false, files = {}, kept = {},
  notUndone = { "a.py" }, message = refused }
commands.undo(commands_app, { args = "undo" })
H.eq(notes[#notes], { refused, WARN }, "the server's words, exactly, as a warning")
H.eq(#notes, count + 1, "once")
H.eq(sessions:get("s4").state, "partial", "still partial: nothing was undone")

-- The help file has valid tags: `:help little-coder` and `:help :LittleCoder` find it.
local doc = vim.fn.tempname() .. "/doc"
vim.fn.mkdir(doc, "p")
local source = vim.api.nvim_get_runtime_file("doc/little-coder.txt", false)[1]
H.ok(source, "doc/little-coder.txt is on the runtimepath")
vim.fn.writefile(vim.fn.readfile(source), doc .. "/little-coder.txt")
vim.cmd("helptags " .. vim.fn.fnameescape(doc))
vim.opt.runtimepath:append(vim.fs.dirname(doc))
for _, tag in ipairs({ "little-coder", ":LittleCoder", "little-coder-review", "little_coder.status()" }) do
  vim.cmd("help " .. tag)
  H.eq(vim.fs.basename(vim.api.nvim_buf_get_name(0)), "little-coder.txt", ":help " .. tag)
  vim.cmd("helpclose")
end

H.done()
