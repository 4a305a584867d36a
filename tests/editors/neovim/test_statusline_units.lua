-- The statusline text of live progress, and the default 'statusline' that shows it to a user who has none.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))
local Sessions = require("little_coder.sessions")
local Log = require("little_coder.log")

local redraws = 0
local sessions = Sessions.new(function() end, Log.new(100), function()
  redraws = redraws + 1
end, false)

H.eq(vim.go.statusline, "", "Neovim's default: no statusline")
sessions:started("s1")
H.ok(vim.go.statusline:find("little_coder'.status()", 1, true), "a session shows in the default statusline")
H.ok(vim.go.statusline:find("%l,%c%V", 1, true), "the default ruler is kept: " .. vim.go.statusline)
sessions:event("s1", { kind = "turn_started", turn = 1, cap = 20 })
sessions:event("s1", { kind = "stream_progress", phase = "thinking", tokens = 812, budget = 2048,
  text = "thinking 812/2048" })
H.eq(sessions:status_line(), "LC turn 1/20 · thinking 812/2048", "thinking against the budget")
local before = redraws
sessions:event("s1", { kind = "reasoning_delta", text = "more" })
H.eq(sessions:status_line(), "LC turn 1/20 · thinking 812/2048", "a delta keeps the count")
H.eq(redraws, before, "and does not redraw")
sessions:event("s1", { kind = "text_delta", text = "The answer" })
H.eq(sessions:status_line(), "LC turn 1/20 · writing", "the answer begins")
sessions:event("s1", { kind = "stream_progress", phase = "writing", tokens = 240, tokens_per_s = 38,
  text = "writing 240 tok · 38 tok/s" })
H.eq(sessions:status_line(), "LC turn 1/20 · writing 240 tok · 38 tok/s", "writing with its rate")
sessions:finished({ sessionId = "s1", state = "no_changes", title = "ask" })
H.eq(vim.go.statusline, "", "idle: the user's (empty) statusline again")

vim.go.statusline = "%f mine"
sessions:started("s2")
H.eq(vim.go.statusline, "%f mine", "a statusline of the user's own is never touched")
sessions:finished({ sessionId = "s2", state = "cancelled", title = "ask" })
H.eq(vim.go.statusline, "%f mine", "nor afterwards")
H.out("OK statusline")
