--- What a `littleCoder/review` request proposes and what the user decided about it, without any UI:
--- the files and hunks the server sent, a decision per hunk id, the user's own text per hunk id, the
--- text the proposed side shows, the dependency warnings and the reply. Everything here is pure.
local M = {}

--- @class little_coder.ReviewHunk
--- @field id string
--- @field kind "change"|"conflict"
--- @field startLine integer 0-based first line of currentText it replaces
--- @field endLine integer exclusive
--- @field oldText string
--- @field newText string
--- @field bothText? string
--- @field label string
--- @field reason string
--- @field dependsOn {hunk: string, names: string[]}[]

--- @class little_coder.ReviewFile
--- @field uri string
--- @field path string
--- @field created boolean
--- @field version? integer
--- @field currentText string
--- @field hunks little_coder.ReviewHunk[]

--- @alias little_coder.Decision "accept"|"reject"|"mine"|"agent"|"both"

--- @class little_coder.Proposal
--- @field session_id string
--- @field title string
--- @field label string
--- @field test_command? string
--- @field unfinished? string
--- @field files little_coder.ReviewFile[]
--- @field decisions table<string, little_coder.Decision>
--- @field edited table<string, string> the user's own version of a hunk's text, terminators included
local Proposal = {}
Proposal.__index = Proposal

--- Decisions that put the agent's (or the user's edited) text into the file.
local APPLIES = { accept = true, agent = true, both = true }

--- JSON null arrives as vim.NIL: read it as nil.
local function value(v)
  if v == vim.NIL then
    return nil
  end
  return v
end

local function normalize_file(file)
  file.version = value(file.version)
  file.hunks = file.hunks or {}
  for _, hunk in ipairs(file.hunks) do
    hunk.bothText = value(hunk.bothText)
    hunk.reason = value(hunk.reason) or ""
    hunk.dependsOn = value(hunk.dependsOn) or {}
  end
  return file
end

--- The decision a hunk starts with: every change accepted, every conflict keeps the user's lines.
--- @param hunk little_coder.ReviewHunk
--- @return little_coder.Decision
function M.default(hunk)
  return hunk.kind == "conflict" and "mine" or "accept"
end

--- @param params table the request's ReviewParams
--- @return little_coder.Proposal
function M.new(params)
  local self = setmetatable({
    session_id = params.sessionId,
    title = params.title or "",
    label = params.label or ("little-coder: " .. (params.title or "")),
    test_command = value(params.testCommand),
    unfinished = value(params.unfinished),
    files = {},
    decisions = {},
    edited = {},
  }, Proposal)
  for _, file in ipairs(params.files or {}) do
    self.files[#self.files + 1] = normalize_file(file)
    for _, hunk in ipairs(file.hunks) do
      self.decisions[hunk.id] = M.default(hunk)
    end
  end
  return self
end

--- @return little_coder.ReviewHunk[]
function Proposal:hunks()
  local all = {}
  for _, file in ipairs(self.files) do
    vim.list_extend(all, file.hunks)
  end
  return all
end

--- @param id string
--- @return little_coder.ReviewHunk?, little_coder.ReviewFile?
function Proposal:find(id)
  for _, file in ipairs(self.files) do
    for _, hunk in ipairs(file.hunks) do
      if hunk.id == id then
        return hunk, file
      end
    end
  end
  return nil, nil
end

--- @param hunk little_coder.ReviewHunk
--- @return boolean
function Proposal:applies(hunk)
  return APPLIES[self.decisions[hunk.id]] == true
end

--- The text the proposal holds for a hunk before the user's own edits: the agent's lines, or for a
--- conflict decided "both" the user's lines then the agent's.
--- @param hunk little_coder.ReviewHunk
--- @return string
function Proposal:base_text(hunk)
  if hunk.kind == "conflict" and self.decisions[hunk.id] == "both" and hunk.bothText then
    return hunk.bothText
  end
  return hunk.newText
end

--- What the proposed side shows for a hunk: the user's own version if they edited it.
--- @param hunk little_coder.ReviewHunk
--- @return string
function Proposal:shown_text(hunk)
  return self.edited[hunk.id] or self:base_text(hunk)
end

--- Record the text the user left in a hunk on the proposed side. Editing a hunk means wanting it: a
--- rejected change becomes accepted, a conflict kept as "mine" takes the agent's (edited) lines.
--- @param hunk little_coder.ReviewHunk
--- @param text string
--- @return boolean changed
function Proposal:set_text(hunk, text)
  local edited = text ~= self:base_text(hunk) and text or nil
  if edited == self.edited[hunk.id] then
    return false
  end
  self.edited[hunk.id] = edited
  if edited then
    local decision = self.decisions[hunk.id]
    if decision == "reject" then
      self.decisions[hunk.id] = "accept"
    elseif decision == "mine" then
      self.decisions[hunk.id] = "agent"
    end
  end
  return true
end

--- Decide one hunk. `decision` is in the change's terms ("accept"/"reject") or the conflict's
--- ("mine"/"agent"/"both"); each is read in the other's terms where it means the same (accepting a
--- conflict takes the agent's lines, rejecting it keeps the user's). Switching a conflict between the
--- agent's lines and both versions starts over from that text, dropping an edit of the other one.
--- @param hunk little_coder.ReviewHunk
--- @param decision little_coder.Decision
--- @return boolean valid
function Proposal:decide(hunk, decision)
  if hunk.kind == "conflict" then
    decision = ({ accept = "agent", reject = "mine" })[decision] or decision
    if decision ~= "mine" and decision ~= "agent" and decision ~= "both" then
      return false
    end
    if decision == "both" and not hunk.bothText then
      return false
    end
    if (self.decisions[hunk.id] == "both") ~= (decision == "both") then
      self.edited[hunk.id] = nil
    end
  else
    decision = ({ agent = "accept", mine = "reject" })[decision] or decision
    if decision ~= "accept" and decision ~= "reject" then
      return false
    end
  end
  self.decisions[hunk.id] = decision
  return true
end

--- A file the server rebased after the user edited it (`littleCoder/reviewUpdate`). Decisions and
--- edits stay with their hunk ids; a change that became a conflict starts at "mine".
--- @param file little_coder.ReviewFile
--- @return integer? index of the file, nil when it is not part of this review
--- @return little_coder.ReviewHunk[] conflicts the hunks that just became conflicts
--- @return integer gone how many hunks are no longer proposed
function Proposal:update(file)
  normalize_file(file)
  for index, old in ipairs(self.files) do
    if old.uri == file.uri then
      local kinds = {}
      for _, hunk in ipairs(old.hunks) do
        kinds[hunk.id] = hunk.kind
      end
      local conflicts, kept = {}, 0
      for _, hunk in ipairs(file.hunks) do
        local was = kinds[hunk.id]
        if not was then
          self.decisions[hunk.id] = M.default(hunk)
        else
          kept = kept + 1
          if was ~= hunk.kind then
            self.decisions[hunk.id] = M.default(hunk)
            if hunk.kind == "conflict" then
              conflicts[#conflicts + 1] = hunk
            end
          end
        end
        kinds[hunk.id] = nil
      end
      for id in pairs(kinds) do
        self.decisions[id] = nil
        self.edited[id] = nil
      end
      self.files[index] = file
      return index, conflicts, #old.hunks - kept
    end
  end
  return nil, {}, 0
end

--- Anything other than every change accepted as proposed, with no conflict: the selection is then
--- worth testing before it is applied.
--- @return boolean
function Proposal:partial()
  for _, hunk in ipairs(self:hunks()) do
    if hunk.kind == "conflict" or self.decisions[hunk.id] ~= "accept" or self.edited[hunk.id] then
      return true
    end
  end
  return false
end

--- Where a hunk is, in the server's words: "leap.py lines 3–5" from the label "leap.py: lines 3–5 (+4 −3)".
--- @param hunk little_coder.ReviewHunk
--- @return string
function M.where(hunk)
  local path, place = hunk.label:match("^(.-): (.-) %(")
  if not path then
    path, place = hunk.label:match("^(.-): (.+)$")
  end
  return path and (path .. " " .. place) or hunk.label
end

local function names_text(names)
  if #names <= 1 then
    return names[1] or "what it adds"
  end
  return table.concat(names, ", ", 1, #names - 1) .. " and " .. names[#names]
end

--- Applied hunks that use names which only a hunk left out of the selection adds.
--- @return string[] warnings
function Proposal:dependency_warnings()
  local warnings = {}
  for _, hunk in ipairs(self:hunks()) do
    if self:applies(hunk) then
      for _, dependency in ipairs(hunk.dependsOn) do
        local other = self:find(dependency.hunk)
        if other and not self:applies(other) then
          warnings[#warnings + 1] = ("the change at %s uses %s, which the change at %s adds and your selection leaves out")
            :format(M.where(hunk), names_text(dependency.names or {}), M.where(other))
        end
      end
    end
  end
  return warnings
end

--- The selection on the wire: `decisions` [{hunk, choice}] for every hunk, `edited` [{hunk, text}]
--- where an applied hunk carries the user's own text (lists, in the order of the files and hunks).
--- @return {hunk: string, choice: little_coder.Decision}[] decisions
--- @return {hunk: string, text: string}[] edited
function Proposal:selection()
  local decisions, edited = {}, {}
  for _, hunk in ipairs(self:hunks()) do
    decisions[#decisions + 1] = { hunk = hunk.id, choice = self.decisions[hunk.id] }
    if self:applies(hunk) and self.edited[hunk.id] then
      edited[#edited + 1] = { hunk = hunk.id, text = self.edited[hunk.id] }
    end
  end
  return decisions, edited
end

--- The ReviewResult for `action`.
--- @param action "apply"|"discard"|"close"
--- @return table
function Proposal:result(action)
  local decisions, edited = self:selection()
  return { action = action, decisions = decisions, edited = edited }
end

--- Counts over every file: applied / left out / conflicts.
--- @param hunks? little_coder.ReviewHunk[]
--- @return {applied: integer, left: integer, conflicts: integer}
function Proposal:counts(hunks)
  local result = { applied = 0, left = 0, conflicts = 0 }
  for _, hunk in ipairs(hunks or self:hunks()) do
    if self:applies(hunk) then
      result.applied = result.applied + 1
    else
      result.left = result.left + 1
    end
    if hunk.kind == "conflict" then
      result.conflicts = result.conflicts + 1
    end
  end
  return result
end

--- Display lines of a text: no terminators, no phantom line after a final newline.
--- @param text string
--- @return string[]
function M.lines(text)
  if text == "" then
    return {}
  end
  local lines = vim.split(text, "\n", { plain = true })
  if lines[#lines] == "" then
    lines[#lines] = nil
  end
  for i, line in ipairs(lines) do
    lines[i] = line:gsub("\r$", "")
  end
  return lines
end

--- @class little_coder.Segment
--- @field hunk? little_coder.ReviewHunk nil for lines the proposal leaves as they are
--- @field first integer 0-based first line in the proposed buffer
--- @field count integer

--- The proposed side of a file: its lines, and which of them each hunk holds.
--- @param file little_coder.ReviewFile
--- @return string[] lines
--- @return little_coder.Segment[] segments in order, unchanged runs included
function Proposal:layout(file)
  local current = M.lines(file.currentText)
  local lines, segments = {}, {}
  local function add(hunk, from)
    segments[#segments + 1] = { hunk = hunk, first = #lines, count = #from }
    vim.list_extend(lines, from)
  end
  local at = 0
  for _, hunk in ipairs(file.hunks) do
    if hunk.startLine > at then
      add(nil, vim.list_slice(current, at + 1, hunk.startLine))
    end
    add(hunk, M.lines(self:shown_text(hunk)))
    at = math.max(at, hunk.endLine)
  end
  if at < #current then
    add(nil, vim.list_slice(current, at + 1, #current))
  end
  return lines, segments
end

--- The text of a hunk from its lines on the proposed side, terminated like the file's lines.
--- @param file little_coder.ReviewFile
--- @param hunk little_coder.ReviewHunk
--- @param lines string[]
--- @return string
function M.text_of(file, hunk, lines)
  if #lines == 0 then
    return ""
  end
  local sample = hunk.newText ~= "" and hunk.newText or file.currentText
  local eol = sample:find("\r\n", 1, true) and "\r\n" or "\n"
  local shown = hunk.newText
  -- Only the last line of a file may lack its terminator.
  local at_end = hunk.endLine >= #M.lines(file.currentText)
  local open_end = at_end and shown ~= "" and shown:sub(-1) ~= "\n"
  return table.concat(lines, eol) .. (open_end and "" or eol)
end

return M
