--- The sessions this editor knows of, as the server reports them ($/progress, littleCoder/event,
--- littleCoder/sessionFinished), turned into notifications and a statusline text. A user who has no
--- 'statusline' of their own sees that text without configuring anything: while a session is active the
--- global 'statusline' is Neovim's default look with the text added, and empty again afterwards.
--- @class little_coder.Sessions
local Sessions = {}
Sessions.__index = Sessions

local INFO, WARN, ERROR = vim.log.levels.INFO, vim.log.levels.WARN, vim.log.levels.ERROR
local ACTIVE = { running = true, reviewing = true }
local PROGRESS_PREFIX = "littleCoder/"
local FINAL_TEXT_CHARS = 600
-- Neovim's own status line (what an empty 'statusline' shows, per `:help 'statusline'`) with ours before the ruler.
local DEFAULT_STATUSLINE = "%<%f %h%w%m%r%=%{v:lua.require'little_coder'.status()}  %-14.(%l,%c%V%) %P"

--- @class little_coder.Session
--- @field id string
--- @field title string
--- @field state string running | reviewing | one of the server's final states
--- @field turn integer
--- @field cap integer
--- @field activity? string what the model does now: "thinking 812/2048", "writing 240 tok · 38 tok/s", a tool call
--- @field phase? string the model call's phase the activity tells of (waiting | thinking | writing)
--- @field message string
--- @field summary? string the server's count of changed files and lines
--- @field final_text string
--- @field accepted string[]
--- @field rejected string[]
--- @field failed string[] hunks the editor did not apply (a partial apply)
--- @field order integer when it became known, among all sessions
--- @field finished_order? integer when it finished, on the same count

--- @param notify fun(message: string, level: integer)
--- @param log little_coder.Log
--- @param on_change fun()
--- @param notify_turns boolean also notify every turn
function Sessions.new(notify, log, on_change, notify_turns)
  return setmetatable({
    notify_turns = notify_turns,
    by_id = {},
    count = 0,
    notify = notify,
    log = log,
    on_change = on_change,
    shown = {}, -- window/showMessage texts already shown, so a final error is not shown twice
  }, Sessions)
end

--- Redraw, after putting the text where a user without a 'statusline' of their own sees it.
function Sessions:changed()
  local active = self:active() ~= nil
  if active and vim.go.statusline == "" then
    vim.go.statusline = DEFAULT_STATUSLINE
  elseif not active and vim.go.statusline == DEFAULT_STATUSLINE then
    vim.go.statusline = ""
  end
  self.on_change()
end

--- @param id string
--- @return little_coder.Session
function Sessions:get(id)
  local session = self.by_id[id]
  if not session then
    self.count = self.count + 1
    session = {
      id = id,
      title = "session " .. id,
      state = "running",
      turn = 0,
      cap = 0,
      message = "",
      final_text = "",
      accepted = {},
      rejected = {},
      failed = {},
      order = self.count,
    }
    self.by_id[id] = session
  end
  return session
end

--- Every session, newest first.
--- @return little_coder.Session[]
function Sessions:list()
  local all = vim.tbl_values(self.by_id)
  table.sort(all, function(a, b)
    return a.order > b.order
  end)
  return all
end

--- The newest session still running or in review.
--- @return little_coder.Session?
function Sessions:active()
  for _, session in ipairs(self:list()) do
    if ACTIVE[session.state] then
      return session
    end
  end
  return nil
end

--- The session that finished last (what `revise` continues by default).
--- @return little_coder.Session?
function Sessions:last_finished()
  local last
  for _, session in pairs(self.by_id) do
    if session.finished_order and (not last or session.finished_order > last.finished_order) then
      last = session
    end
  end
  return last
end

--- A session this editor started (the command's reply), known before its first event.
function Sessions:started(id)
  self:get(id)
  self:changed()
end

--- The review of the session whose edit is labelled `label` ("little-coder: <title>") has opened.
--- @return little_coder.Session?
function Sessions:reviewing(label)
  for _, session in ipairs(self:list()) do
    if "little-coder: " .. session.title == label and ACTIVE[session.state] then
      session.state = "reviewing"
      self:changed()
      return session
    end
  end
  return nil
end

--- @param message string
function Sessions:shown_message(message)
  self.shown[#self.shown + 1] = message
  if #self.shown > 20 then
    table.remove(self.shown, 1)
  end
end

--- Whether the server already showed `text` (window/showMessage), alone or inside a longer message.
--- @param text string
--- @return boolean
function Sessions:was_shown(text)
  for _, message in ipairs(self.shown) do
    if text ~= "" and message:find(text, 1, true) then
      return true
    end
  end
  return false
end

--- `$/progress` for one of our tokens ("littleCoder/<session id>").
--- @param token string|integer
--- @param value table
--- @return boolean handled
function Sessions:progress(token, value)
  if type(token) ~= "string" or token:sub(1, #PROGRESS_PREFIX) ~= PROGRESS_PREFIX then
    return false
  end
  local session = self:get(token:sub(#PROGRESS_PREFIX + 1))
  if value.kind == "begin" then
    session.title = (value.title or session.title):gsub("^little%-coder: ", "")
    self.notify(("little-coder: %s — started"):format(session.title), INFO)
    self.log:add(("[%s] %s — started"):format(session.id, session.title))
  elseif value.kind == "end" and value.message then
    -- Not notified: the review, or the final status, follows and says more.
    session.summary = value.message:gsub("%s*— review$", "")
  end
  self:changed()
  return true
end

--- Our own short words for the small-model mechanisms as they fire.
--- @param event table
--- @return string?
local function describe(event)
  local kind = event.kind
  if kind == "thinking_budget" then
    if event.native then
      return ("the server stopped thinking at the %d-token budget"):format(event.budget)
    end
    return ("thinking passed its %d-token budget: retrying without it"):format(event.budget)
  elseif kind == "write_guard" then
    return ("Write on existing %s refused: the model is told to Edit it"):format(event.path)
  elseif kind == "repair" then
    return ("recovered a malformed %s call"):format(event.name)
  elseif kind == "correction" then
    local reason = event.reason:gsub("_", " ")
    if event.accepted then
      return ("took a reply as it was after repeated corrections (%s)"):format(reason)
    end
    return ("asked the model to correct its reply (%s)"):format(reason)
  elseif kind == "cap_warning" then
    return ("turn %d of %d: the model is asked to wrap up"):format(event.turn, event.cap)
  elseif kind == "compaction" then
    return ("context compacted from %d to %d tokens"):format(event.tokens_before, event.tokens_after)
  elseif kind == "notice" then
    return event.message
  end
  return nil
end

--- A short name for what a tool call acts on.
local function tool_target(arguments)
  for _, key in ipairs({ "file_path", "path", "pattern", "command" }) do
    local value = arguments and arguments[key]
    if type(value) == "string" and value ~= "" then
      value = value:gsub("%s+", " ")
      return #value > 40 and (value:sub(1, 39) .. "…") or value
    end
  end
  return nil
end

--- `littleCoder/event` {sessionId, event}.
function Sessions:event(id, event)
  local session = self:get(id)
  local kind = event.kind
  if kind == "turn_started" then
    session.turn, session.cap, session.activity, session.phase = event.turn, event.cap, nil, nil
    if self.notify_turns then
      self.notify(("little-coder: %s — turn %d/%d"):format(session.title, event.turn, event.cap), INFO)
    end
  elseif kind == "tool_call_started" then
    local target = tool_target(event.arguments)
    session.activity, session.phase = event.name .. (target and (" " .. target) or ""), nil
  elseif kind == "stream_progress" then
    -- The server's words ("thinking 812/2048", "writing 240 tok · 38 tok/s"), as its progress line has them.
    session.activity, session.phase = event.text, event.phase
  elseif kind == "reasoning_delta" or kind == "text_delta" then
    local phase = kind == "reasoning_delta" and "thinking" or "writing"
    if session.phase == phase then
      return -- deltas come often: only a change of phase redraws (the counts come with stream_progress)
    end
    session.activity, session.phase = phase, phase
  elseif kind == "session_finished" then
    session.final_text = event.final_text or ""
  else
    local text = describe(event)
    if text then
      -- The mechanisms firing is normal for a small model; only nearing the turn cap is a warning.
      self.notify(("little-coder: %s"):format(text), kind == "cap_warning" and WARN or INFO)
    end
  end
  self:changed()
end

local FINISHED = {
  applied = { INFO, "applied" },
  partial = { INFO, "partly applied" },
  rejected = { INFO, "every change rejected" },
  discarded = { INFO, "discarded" },
  refused = { WARN, "not applied" },
  conflicted = { WARN, "every change collided with your edits" },
  no_changes = { INFO, "finished without changes" },
  cancelled = { WARN, "cancelled" },
  error = { ERROR, "failed" },
  undone = { INFO, "undone" },
}

--- How much of a session's edit landed: "applied (3 changes)", or "2 of 3 changes applied" when some
--- were rejected or the editor did not apply them (the server's message says which).
--- @param session little_coder.Session
--- @return string
local function applied_words(session)
  local accepted = #session.accepted
  if session.state == "applied" then
    return ("applied (%d change%s)"):format(accepted, accepted == 1 and "" or "s")
  end
  return ("%d of %d changes applied"):format(accepted, accepted + #session.rejected + #session.failed)
end

--- `littleCoder/sessionFinished`: the session's final status.
function Sessions:finished(status)
  local session = self:get(status.sessionId)
  self.count = self.count + 1
  session.finished_order = self.count
  session.state = status.state
  session.title = status.title or session.title
  session.message = status.message or ""
  session.accepted = status.accepted or {}
  session.rejected = status.rejected or {}
  session.failed = status.failed or {}
  session.activity, session.phase = nil, nil
  local level, words = unpack(FINISHED[status.state] or { INFO, status.state })
  if status.state == "partial" or status.state == "applied" then
    words = applied_words(session)
  end
  if #session.failed > 0 and level == INFO then
    level = WARN -- the editor failed to apply some of it: not the user's own choice
  end
  -- Kept short: a message wider than the screen makes Neovim wait for Enter.
  local text = ("little-coder: %s — %s"):format(session.title, words)
  if status.state == "partial" and #session.failed > 0 then
    text = text .. "; :LittleCoder undo reverts what was applied, revise redoes the rest"
  elseif status.state == "partial" or status.state == "rejected" or status.state == "discarded" then
    text = text .. "; :LittleCoder revise sends the rejected back"
  end
  if session.message ~= "" and status.state ~= "cancelled" then
    text = text .. ": " .. session.message
  end
  if status.state == "no_changes" and session.final_text ~= "" then
    local answer = session.final_text
    if #answer > FINAL_TEXT_CHARS then
      answer = answer:sub(1, FINAL_TEXT_CHARS) .. "… (`:LittleCoder log` has all of it)"
    end
    text = text .. "\n" .. answer
  end
  -- The server may have shown the same reason through window/showMessage: do not show it twice.
  if not self:was_shown(session.message) then
    self.notify(text, level)
  end
  self.log:add(("[%s] %s — %s%s"):format(session.id, session.title, status.state,
    session.message ~= "" and (": " .. session.message) or ""))
  if session.final_text ~= "" then
    self.log:add(("[%s] answer:\n%s"):format(session.id, session.final_text))
  end
  self:changed()
end

--- The answer to `littleCoder.undo` {sessionId, state, undone, files, kept, notUndone, message}: the
--- session's new state, and the server's account of what undo did and kept. That account is what the
--- model is told too, and the server shows it (window/showMessage): it is shown here only if it did
--- not arrive, never reworded or doubled.
--- @param result table
function Sessions:undo_result(result)
  local session = self:get(result.sessionId)
  session.state = result.state or session.state
  session.activity, session.phase = nil, nil
  local message = result.message or ""
  if message ~= "" then
    session.message = message:gsub("^little%-coder: ", "")
    if not self:was_shown(message) then
      local warn = #(result.kept or {}) > 0 or #(result.notUndone or {}) > 0
      self.notify(message, warn and WARN or INFO)
    end
    self.log:add(("[%s] %s"):format(session.id, message))
  end
  self:changed()
end

--- Sessions still running, for `:LittleCoder cancel` completion.
--- @return string[]
function Sessions:ids(only_active)
  local ids = {}
  for _, session in ipairs(self:list()) do
    if not only_active or ACTIVE[session.state] then
      ids[#ids + 1] = session.id
    end
  end
  return ids
end

--- The statusline text: empty when nothing runs.
--- @return string
function Sessions:status_line()
  local active = {}
  for _, session in ipairs(self:list()) do
    if ACTIVE[session.state] then
      active[#active + 1] = session
    end
  end
  local session = active[1]
  if not session then
    return ""
  end
  local more = #active > 1 and ("+%d "):format(#active - 1) or ""
  if session.state == "reviewing" then
    return ("LC %sreview: %s"):format(more, session.title)
  end
  if session.cap == 0 then
    return ("LC %sstarting: %s"):format(more, session.title)
  end
  local text = ("LC %sturn %d/%d"):format(more, session.turn, session.cap)
  if session.activity then
    text = text .. " · " .. session.activity
  end
  return text
end

return Sessions
