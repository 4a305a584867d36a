--- The review tab of a `littleCoder/review` request: per file, what the file holds now beside the
--- proposed text in diff mode, a note above every hunk, and a line at the bottom with the keys, the
--- change under the cursor and what Apply found. The proposed side is editable inside the hunks. The
--- plugin writes nothing: the answer (apply / close with decisions and edits) goes back to the server,
--- which applies the selection with a plain edit.
local Proposal = require("little_coder.proposal")

--- @class little_coder.Review
local Review = {}
Review.__index = Review

local NS = vim.api.nvim_create_namespace("little_coder_review")
local INFO, WARN = vim.log.levels.INFO, vim.log.levels.WARN
local MARK = {
  accept = { sign = "✓", word = "accepted", hl = "DiagnosticOk" },
  reject = { sign = "✗", word = "rejected", hl = "DiagnosticError" },
  mine = { sign = "!", word = "conflict: your lines stay (mine)", hl = "DiagnosticWarn" },
  agent = { sign = "!", word = "conflict: the agent's lines replace yours", hl = "DiagnosticWarn" },
  both = { sign = "!", word = "conflict: your lines, then the agent's (both)", hl = "DiagnosticWarn" },
}
local HELP = {
  { "accept_hunk", "reject_hunk", "accept or reject the change under the cursor" },
  { "accept_file", "reject_file", "accept or reject every change of this file (conflicts: reject keeps yours)" },
  { "accept_all", "reject_all", "the same for every file" },
  { "mine", "agent", "conflict: keep your lines / take the agent's" },
  { "both", nil, "conflict: keep your lines, then the agent's" },
  { "next_hunk", "prev_hunk", "next / previous change" },
  { "next_file", "prev_file", "next / previous file" },
  { "apply", nil, "apply what is accepted (your edits of the proposed side included)" },
  { "back", nil, "back to the review from a warning" },
  { "quit", nil, "close: nothing applied, nothing rejected (reopen with :LittleCoder review)" },
  { "help", nil, "toggle this help" },
}

--- @class little_coder.ReviewOptions
--- @field id integer unique per review
--- @field proposal little_coder.Proposal
--- @field keymaps table<string, string|false>
--- @field notify fun(message: string, level: integer, persist?: boolean)
--- @field flush fun(bufnr: integer) make the server see a buffer's changes now
--- @field test_selection fun(args: table, done: fun(result?: table, err?: string))
--- @field on_done fun(result: table) the ReviewResult

--- @param opts little_coder.ReviewOptions
function Review.new(opts)
  return setmetatable({
    opts = opts,
    proposal = opts.proposal,
    index = 1,
    done = false,
    long_help = false,
    writing = false, -- the plugin itself is changing a review buffer
    pending = nil, -- Apply waiting on a warning, a test run or a failed test
    buffers = {}, -- [file index] = {old, new, segments, lines}
  }, Review)
end

local function key(keys, name)
  return keys[name] or "-"
end

--- A buffer name the default tabline shows whole ("little-coder review: leap.py"): no "/" in it,
--- which the tabline would shorten, unique among the loaded buffers.
local function set_name(bufnr, name)
  local candidate, n = name, 1
  while not pcall(vim.api.nvim_buf_set_name, bufnr, candidate) do
    n = n + 1
    candidate = ("%s (%d)"):format(name, n)
  end
end

function Review:_scratch(name, path)
  local bufnr = vim.api.nvim_create_buf(false, true)
  set_name(bufnr, name)
  vim.bo[bufnr].bufhidden = "hide"
  -- Regex syntax only: a filetype would make LSP clients and ftplugins attach to a scratch buffer.
  local filetype = vim.filetype.match({ filename = path })
  if filetype then
    vim.bo[bufnr].syntax = filetype
  end
  self:_map(bufnr)
  return bufnr
end

function Review:_map(bufnr)
  local actions = {
    accept_hunk = function() self:decide("hunk", "accept") end,
    reject_hunk = function() self:decide("hunk", "reject") end,
    accept_file = function() self:decide("file", "accept") end,
    reject_file = function() self:decide("file", "reject") end,
    accept_all = function() self:decide("all", "accept") end,
    reject_all = function() self:decide("all", "reject") end,
    mine = function() self:decide("hunk", "mine") end,
    agent = function() self:decide("hunk", "agent") end,
    both = function() self:decide("hunk", "both") end,
    next_hunk = function() self:jump(1) end,
    prev_hunk = function() self:jump(-1) end,
    next_file = function() self:show(self.index + 1) end,
    prev_file = function() self:show(self.index - 1) end,
    apply = function() self:apply() end,
    back = function() self:back() end,
    quit = function() self:quit() end,
    help = function() self:toggle_help() end,
  }
  for name, lhs in pairs(self.opts.keymaps) do
    if lhs then
      vim.keymap.set("n", lhs, actions[name], { buffer = bufnr, nowait = true, desc = "little-coder review: " .. name })
    end
  end
end

--- Open the review tab on the first file.
function Review:open()
  self.previous_tab = vim.api.nvim_get_current_tabpage()
  vim.cmd("tabnew")
  self.tab = vim.api.nvim_get_current_tabpage()
  local placeholder = vim.api.nvim_get_current_buf()
  self.old_win = vim.api.nvim_get_current_win()
  vim.cmd("rightbelow vsplit")
  self.new_win = vim.api.nvim_get_current_win()
  vim.cmd("botright 1split")
  self.help_win = vim.api.nvim_get_current_win()
  self.help_buf = vim.api.nvim_create_buf(false, true)
  set_name(self.help_buf, "little-coder review: keys")
  vim.bo[self.help_buf].bufhidden = "hide"
  self:_map(self.help_buf)
  vim.api.nvim_win_set_buf(self.help_win, self.help_buf)
  for _, win in ipairs({ self.old_win, self.new_win, self.help_win }) do
    vim.wo[win].number = win ~= self.help_win
    vim.wo[win].signcolumn = win == self.help_win and "no" or "yes"
    vim.wo[win].wrap = false
  end
  vim.wo[self.help_win].winfixheight = true
  vim.wo[self.help_win].cursorline = false
  self.group = vim.api.nvim_create_augroup(("little_coder_review_%d"):format(self.opts.id), { clear = true })
  self:show(1)
  if vim.api.nvim_buf_is_valid(placeholder) and #vim.fn.win_findbuf(placeholder) == 0 then
    vim.api.nvim_buf_delete(placeholder, { force = true })
  end
  vim.api.nvim_create_autocmd("CursorMoved", {
    group = self.group,
    callback = function()
      local win = vim.api.nvim_get_current_win()
      if not self.done and (win == self.old_win or win == self.new_win) then
        self:_render_info()
      end
    end,
  })
  -- Closing one of the review's windows by hand is closing the review.
  vim.api.nvim_create_autocmd("WinClosed", {
    group = self.group,
    callback = function(event)
      local win = tonumber(event.match)
      if not self.done and (win == self.old_win or win == self.new_win or win == self.help_win) then
        vim.schedule(function()
          self:quit()
        end)
      end
    end,
  })
  -- The server rebases the review on the user's buffers as they change: let it see a change at once
  -- rather than after Neovim's didChange debounce.
  vim.api.nvim_create_autocmd({ "TextChanged", "InsertLeave", "BufWritePost" }, {
    group = self.group,
    callback = function(event)
      if not self.done and self:_reviews_buffer(event.buf) then
        self.opts.flush(event.buf)
      end
    end,
  })
end

--- Is `bufnr` one of the user's buffers under review?
function Review:_reviews_buffer(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" then
    return false
  end
  name = vim.fs.normalize(name)
  for _, file in ipairs(self.proposal.files) do
    if vim.fs.normalize(vim.uri_to_fname(file.uri)) == name then
      return true
    end
  end
  return false
end

--- Fill file `index`'s two buffers from the proposal (the user's edits of the proposed side kept).
function Review:_fill(index)
  local file = self.proposal.files[index]
  local buffers = self.buffers[index]
  local lines, segments = self.proposal:layout(file)
  self.writing = true
  vim.bo[buffers.old].modifiable = true
  for bufnr, text in pairs({ [buffers.old] = Proposal.lines(file.currentText), [buffers.new] = lines }) do
    -- Without undo history: undoing the plugin's own filling would only be refused.
    local levels = vim.bo[bufnr].undolevels
    vim.bo[bufnr].undolevels = -1
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, text)
    vim.bo[bufnr].undolevels = levels
    vim.bo[bufnr].modified = false
  end
  vim.bo[buffers.old].modifiable = false
  self.writing = false
  buffers.lines, buffers.segments = vim.deepcopy(lines), segments
end

--- Show file `index` in the two diff windows.
function Review:show(index)
  if index < 1 or index > #self.proposal.files then
    self.opts.notify(("little-coder: review: no %s file"):format(index < 1 and "previous" or "next"), INFO)
    return
  end
  self:_sync()
  self.index = index
  local file = self.proposal.files[index]
  local buffers = self.buffers[index]
  if not buffers then
    local name = "little-coder review: " .. vim.fs.basename(file.path)
    buffers = { old = self:_scratch(name .. " (current)", file.path), new = self:_scratch(name, file.path) }
    self.buffers[index] = buffers
    self:_fill(index)
    vim.api.nvim_buf_attach(buffers.new, false, {
      on_lines = function(_, _, _, first, last, new_last)
        if self.done then
          return true
        end
        if not self.writing then
          self:_on_lines(buffers, first, last, new_last)
        end
      end,
    })
  end
  for _, win in ipairs({ self.old_win, self.new_win }) do
    vim.api.nvim_win_call(win, function()
      vim.cmd("diffoff")
    end)
  end
  vim.api.nvim_win_set_buf(self.old_win, buffers.old)
  vim.api.nvim_win_set_buf(self.new_win, buffers.new)
  for _, win in ipairs({ self.old_win, self.new_win }) do
    vim.api.nvim_win_call(win, function()
      vim.cmd("diffthis")
    end)
    vim.wo[win].foldenable = false
  end
  vim.api.nvim_set_current_win(self.new_win)
  self:refresh()
  local first = file.hunks[1]
  if first then
    self:_cursor_to(first)
  end
end

--- A change of the proposed buffer by the user: it must fall inside one hunk (or touch its edge),
--- which then holds the new lines; anything else is put back as it was.
function Review:_on_lines(buffers, first, last, new_last)
  if buffers.refused then
    return
  end
  local segments = buffers.segments
  local target
  for i, segment in ipairs(segments) do
    if segment.hunk and first >= segment.first and last <= segment.first + segment.count then
      target = i
      break
    end
  end
  if #buffers.lines == 0 and segments[1] and segments[1].hunk then
    -- Nothing proposed at all (an empty new file): the empty line a buffer always has is the hunk's.
    target, last = 1, 0
    new_last = vim.api.nvim_buf_line_count(buffers.new)
    first = 0
  end
  if not target then
    buffers.refused = true
    vim.schedule(function()
      self:_refuse(buffers)
    end)
    return
  end
  local delta = new_last - last
  segments[target].count = segments[target].count + delta
  for i = target + 1, #segments do
    segments[i].first = segments[i].first + delta
  end
  local changed = vim.api.nvim_buf_get_lines(buffers.new, first, new_last, false)
  local lines = buffers.lines
  local kept = vim.list_slice(lines, last + 1, #lines)
  for i = #lines, first + 1, -1 do
    lines[i] = nil
  end
  vim.list_extend(lines, changed)
  vim.list_extend(lines, kept)
  -- The notes and the hunk's text follow once the change is done (not from inside on_lines).
  if not buffers.redraw then
    buffers.redraw = true
    vim.schedule(function()
      buffers.redraw = false
      if not self.done and self.buffers[self.index] == buffers then
        self:_sync()
        self:refresh()
      end
    end)
  end
end

--- Put the proposed buffer back as it was before an edit outside the hunks.
function Review:_refuse(buffers)
  buffers.refused = false
  if self.done or not vim.api.nvim_buf_is_valid(buffers.new) then
    return
  end
  self.writing = true
  local cursor = vim.api.nvim_win_is_valid(self.new_win) and vim.api.nvim_win_get_cursor(self.new_win)
  vim.api.nvim_buf_set_lines(buffers.new, 0, -1, false, buffers.lines)
  self.writing = false
  if cursor and vim.api.nvim_win_get_buf(self.new_win) == buffers.new then
    cursor[1] = math.min(cursor[1], vim.api.nvim_buf_line_count(buffers.new))
    pcall(vim.api.nvim_win_set_cursor, self.new_win, cursor)
  end
  vim.cmd.stopinsert()
  self.opts.notify("little-coder: review: only the proposed changes can be edited here; the lines around them "
    .. "are your file as it is (edit those in the file itself)", WARN)
  self:refresh()
end

--- Read the user's edits of the shown file's hunks into the proposal. An edit changes the selection,
--- so a warning waiting for an answer no longer holds.
function Review:_sync()
  local buffers = self.buffers[self.index]
  if not buffers or not vim.api.nvim_buf_is_valid(buffers.new) then
    return
  end
  local file = self.proposal.files[self.index]
  for _, segment in ipairs(buffers.segments) do
    if segment.hunk then
      local lines = vim.list_slice(buffers.lines, segment.first + 1, segment.first + segment.count)
      if self.proposal:set_text(segment.hunk, Proposal.text_of(file, segment.hunk, lines)) then
        self.pending = nil
      end
    end
  end
end

function Review:_cursor_to(hunk)
  local buffers = self.buffers[self.index]
  for _, segment in ipairs(buffers.segments) do
    if segment.hunk == hunk then
      local last = vim.api.nvim_buf_line_count(buffers.new)
      vim.api.nvim_win_set_cursor(self.new_win, { math.max(1, math.min(segment.first + 1, last)), 0 })
    end
  end
  self:_render_info()
end

--- The note lines above a hunk.
function Review:_note(hunk)
  local decision = self.proposal.decisions[hunk.id]
  local mark = MARK[decision]
  local edited = self.proposal.edited[hunk.id] and " · edited by you" or ""
  if hunk.kind ~= "conflict" then
    return { { { ("── %s %s · %s%s"):format(mark.sign, mark.word, hunk.label, edited), mark.hl } } }, mark
  end
  local keys = self.opts.keymaps
  return {
    { { ("── ⚠ conflict · %s · %s"):format(hunk.label, hunk.reason ~= "" and hunk.reason or "you changed these lines"),
      mark.hl } },
    { { ("   now: %s%s   %s mine  %s agent's  %s both"):format(mark.word:gsub("^conflict: ", ""), edited,
      key(keys, "mine"), key(keys, "agent"), key(keys, "both")), mark.hl } },
  }, mark
end

--- Redraw the notes, the signs, the window bars and the bottom lines.
function Review:refresh()
  local file = self.proposal.files[self.index]
  local buffers = self.buffers[self.index]
  local old_last = vim.api.nvim_buf_line_count(buffers.old) - 1
  local new_last = vim.api.nvim_buf_line_count(buffers.new) - 1
  vim.api.nvim_buf_clear_namespace(buffers.old, NS, 0, -1)
  vim.api.nvim_buf_clear_namespace(buffers.new, NS, 0, -1)
  local above_first = 0
  -- Notes on both sides, so that diff mode keeps the two sides' lines side by side.
  local function place(bufnr, line, last, note, mark)
    local above = line <= last
    line = math.min(line, last)
    if above and line == 0 then
      above_first = math.max(above_first, #note)
    end
    vim.api.nvim_buf_set_extmark(bufnr, NS, line, 0, {
      sign_text = mark.sign,
      sign_hl_group = mark.hl,
      virt_lines = note,
      virt_lines_above = above,
    })
  end
  for _, segment in ipairs(buffers.segments) do
    local hunk = segment.hunk
    if hunk then
      local note, mark = self:_note(hunk)
      place(buffers.new, segment.first, new_last, note, mark)
      place(buffers.old, hunk.startLine, old_last, note, mark)
    end
  end
  -- Virtual lines above the first line only show when the window is scrolled to them.
  if above_first > 0 then
    for _, win in ipairs({ self.old_win, self.new_win }) do
      vim.api.nvim_win_call(win, function()
        if vim.fn.line("w0") == 1 then
          vim.fn.winrestview({ topfill = above_first })
        end
      end)
    end
  end
  local escape = function(text)
    return (text:gsub("%%", "%%%%"))
  end
  local name = escape(vim.fn.fnamemodify(vim.uri_to_fname(file.uri), ":~:."))
  local c = self.proposal:counts(file.hunks)
  local conflicts = c.conflicts > 0 and ("  ⚠%d conflict%s"):format(c.conflicts, c.conflicts == 1 and "" or "s") or ""
  local none = #file.hunks == 0 and "  (no changes left)" or ""
  vim.wo[self.old_win].winbar = ("%%#Title#%s%%* %s"):format(file.created and "new file" or "current", name)
  vim.wo[self.new_win].winbar = ("%%#Title#proposed%%* %s  [file %d/%d]  ✓%d ✗%d%s%s"):format(
    name, self.index, #self.proposal.files, c.applied, c.left, conflicts, none)
  self:_render_info()
end

function Review:_render_info()
  local keys = self.opts.keymaps
  local total = self.proposal:counts()
  local all = total.applied + total.left
  local state = ("%d of %d change%s to apply"):format(total.applied, all, all == 1 and "" or "s")
  if total.conflicts > 0 then
    state = state .. (", %d conflict%s"):format(total.conflicts, total.conflicts == 1 and "" or "s")
  end
  local function pair(a, b)
    return key(keys, a) .. "/" .. key(keys, b)
  end
  local lines
  if self.long_help then
    lines = { ("%s — %s"):format(self.proposal.label, state) }
    for _, entry in ipairs(HELP) do
      local lhs = key(keys, entry[1]) .. (entry[2] and (" / " .. key(keys, entry[2])) or "")
      lines[#lines + 1] = ("  %-10s %s"):format(lhs, entry[3])
    end
  else
    lines = {
      ("%s hunk  %s file  %s all  %s/%s mine/agent's/both  %s %s  %s apply  %s close  %s help │ %s"):format(
        pair("accept_hunk", "reject_hunk"), pair("accept_file", "reject_file"), pair("accept_all", "reject_all"),
        pair("mine", "agent"), key(keys, "both"), pair("next_hunk", "prev_hunk"), pair("next_file", "prev_file"),
        key(keys, "apply"), key(keys, "quit"), key(keys, "help"), state),
    }
  end
  -- Long lines hide what is at their end, so the change under the cursor is spelt out here.
  local hunk = self:_hunk_under_cursor()
  if hunk then
    local mark = MARK[self.proposal.decisions[hunk.id]]
    local reason = hunk.kind == "conflict" and hunk.reason ~= "" and (" — " .. hunk.reason) or ""
    local edited = self.proposal.edited[hunk.id] and " · edited by you" or ""
    table.insert(lines, 2, ("%s %s · %s%s%s"):format(mark.sign, mark.word, hunk.label, edited, reason))
  else
    table.insert(lines, 2, "(no change under the cursor)")
  end
  if self.pending then
    vim.list_extend(lines, self.pending.lines)
  end
  if not vim.api.nvim_buf_is_valid(self.help_buf) then
    return
  end
  vim.bo[self.help_buf].modifiable = true
  vim.api.nvim_buf_set_lines(self.help_buf, 0, -1, false, lines)
  vim.bo[self.help_buf].modifiable = false
  vim.bo[self.help_buf].modified = false
  if vim.api.nvim_win_is_valid(self.help_win) then
    vim.api.nvim_win_set_height(self.help_win, #lines)
  end
end

function Review:toggle_help()
  self.long_help = not self.long_help
  self:_render_info()
end

--- The hunk under the cursor, if any: on the proposed side by the lines it holds there, on the
--- current side by the lines it replaces. A hunk without lines sits on the line after it.
--- @return little_coder.ReviewHunk?
function Review:_hunk_under_cursor()
  local win = vim.api.nvim_get_current_win()
  if win ~= self.old_win and win ~= self.new_win then
    return nil
  end
  local line = vim.api.nvim_win_get_cursor(win)[1] - 1
  local last = vim.api.nvim_buf_line_count(vim.api.nvim_win_get_buf(win)) - 1
  local spans = {}
  if win == self.new_win then
    for _, segment in ipairs(self.buffers[self.index].segments) do
      if segment.hunk then
        spans[#spans + 1] = { segment.hunk, segment.first, segment.count }
      end
    end
  else
    for _, hunk in ipairs(self.proposal.files[self.index].hunks) do
      spans[#spans + 1] = { hunk, hunk.startLine, hunk.endLine - hunk.startLine }
    end
  end
  for _, span in ipairs(spans) do
    if line >= span[2] and line < span[2] + span[3] then
      return span[1]
    end
  end
  for _, span in ipairs(spans) do
    if span[3] == 0 and line == math.min(span[2], last) then
      return span[1]
    end
  end
  return nil
end

--- Decide the hunk under the cursor, the file's hunks, or every hunk. Conflicts are decided one by
--- one: accepting a file or everything leaves them as they are, rejecting keeps the user's lines.
--- @param scope "hunk"|"file"|"all"
--- @param decision little_coder.Decision
function Review:decide(scope, decision)
  self:_sync()
  self.pending = nil
  local file = self.proposal.files[self.index]
  if scope == "hunk" then
    local hunk = self:_hunk_under_cursor()
    if not hunk then
      self.opts.notify("little-coder: review: no change under the cursor", WARN)
      return
    end
    local before = self.proposal:shown_text(hunk)
    if not self.proposal:decide(hunk, decision) then
      local why = hunk.kind == "conflict" and "this conflict has no version with both"
        or "both is a choice of a conflict; this is a change: accept or reject it"
      self.opts.notify("little-coder: review: " .. why, WARN)
      return
    end
    if self.proposal:shown_text(hunk) ~= before then
      self:_fill(self.index)
      self:_diffupdate()
    end
    self:refresh()
    -- On to the next change of this file, so that a, a, r … walks through it.
    local next_hunk
    for i, other in ipairs(file.hunks) do
      if other == hunk then
        next_hunk = file.hunks[i + 1]
      end
    end
    self:_cursor_to(next_hunk or hunk)
    return
  end
  for _, hunk in ipairs(scope == "file" and file.hunks or self.proposal:hunks()) do
    if hunk.kind ~= "conflict" or decision == "reject" then
      self.proposal:decide(hunk, decision)
    end
  end
  self:refresh()
end

function Review:_diffupdate()
  vim.api.nvim_win_call(self.new_win, function()
    vim.cmd("diffupdate")
  end)
end

--- Move to the next (`step` 1) or previous (-1) hunk, crossing into the next file at the end.
function Review:jump(step)
  local segments = self.buffers[self.index].segments
  local line = vim.api.nvim_win_get_cursor(self.new_win)[1] - 1
  if vim.api.nvim_get_current_win() == self.old_win then
    local hunk = self:_hunk_under_cursor()
    line = -1
    for _, segment in ipairs(segments) do
      if hunk and segment.hunk == hunk then
        line = segment.first
      end
    end
  end
  local target
  for i = step > 0 and 1 or #segments, step > 0 and #segments or 1, step do
    local segment = segments[i]
    if segment.hunk and ((step > 0 and segment.first > line) or (step < 0 and segment.first < line)) then
      target = segment.hunk
      break
    end
  end
  vim.api.nvim_set_current_win(self.new_win)
  if target then
    self:_cursor_to(target)
  elseif self.proposal.files[self.index + step] then
    self:show(self.index + step)
    if step < 0 then
      local hunks = self.proposal.files[self.index].hunks
      if #hunks > 0 then
        self:_cursor_to(hunks[#hunks])
      end
    end
  end
end

--- Apply: warn about hunks that need a left-out one, test a partial selection, then answer "apply".
--- A warning or a failed test waits for the apply key again (apply anyway) or the back key.
function Review:apply()
  if self.pending and self.pending.step == "testing" then
    self.opts.notify("little-coder: review: still testing your selection", INFO)
    return
  end
  self:_sync()
  local step = self.pending and self.pending.step
  self.pending = nil
  local keys = self.opts.keymaps
  local choice = ("%s apply anyway   %s back to the review"):format(key(keys, "apply"), key(keys, "back"))
  if not step then
    local warnings = self.proposal:dependency_warnings()
    if #warnings > 0 then
      local lines = {}
      for _, warning in ipairs(warnings) do
        lines[#lines + 1] = "⚠ " .. warning
      end
      lines[#lines + 1] = choice
      self.pending = { step = "dependencies", lines = lines }
      self:_render_info()
      self.opts.notify("little-coder: " .. warnings[1], WARN)
      return
    end
  end
  if step ~= "test" and self.proposal:partial() and self.proposal.test_command then
    return self:_test(choice)
  end
  self:_finish("apply")
end

--- Run the session's last test command on exactly this selection (in the server's sandbox).
function Review:_test(choice)
  local pending = {
    step = "testing",
    lines = { ("testing your selection: %s …"):format(self.proposal.test_command) },
  }
  self.pending = pending
  self:_render_info()
  local decisions, edited = self.proposal:selection()
  self.opts.test_selection({ sessionId = self.proposal.session_id, decisions = decisions, edited = edited },
    function(result, err)
      if self.done or self.pending ~= pending then
        return -- closed, or the selection changed meanwhile
      end
      if err or (result and result.ran and result.passed == false) then
        local lines = { "✗ " .. (err and ("could not test your selection: " .. err) or result.summary) }
        local output = result and result.output and Proposal.lines(result.output) or {}
        for i = math.max(1, #output - 7), #output do
          lines[#lines + 1] = "  " .. output[i]
        end
        lines[#lines + 1] = choice
        self.pending = { step = "test", lines = lines }
        self:_render_info()
        self.opts.notify("little-coder: " .. lines[1]:gsub("^✗ ", ""), WARN, true)
        return
      end
      self.opts.notify("little-coder: " .. result.summary, INFO, true)
      self.pending = nil
      self:_finish("apply")
    end)
end

--- Leave a warning or a failed test: back to deciding.
function Review:back()
  if self.pending and self.pending.step ~= "testing" then
    self.pending = nil
    self:_render_info()
  end
end

--- `q`: close without applying or rejecting anything; the server keeps the proposal.
function Review:quit()
  if self.done then
    return
  end
  -- The server's summary follows (nothing applied, nothing rejected); this names the commands.
  self.opts.notify("little-coder: review closed: :LittleCoder review reopens it, :LittleCoder revise asks "
    .. "little-coder to revise it", INFO, true)
  self:_finish("close")
end

--- Close the tab because the session ended elsewhere (cancelled while the review was open).
--- @param reason string
function Review:abort(reason)
  if not self.done then
    self.opts.notify(("%s: review closed: %s"):format(self.proposal.label, reason), WARN, true)
    self:_finish("close")
  end
end

--- @param action "apply"|"discard"|"close"
function Review:_finish(action)
  if self.done then
    return
  end
  self:_sync()
  self.done = true
  local result = self.proposal:result(action)
  self:_close()
  self.opts.on_done(result)
end

--- The server rebased a file: redraw it, keeping the user's decisions and edits by hunk id.
--- @param uri string
--- @param update fun(): integer?, little_coder.ReviewHunk[], integer the proposal's update
function Review:file_updated(uri, update)
  local index
  for i, file in ipairs(self.proposal.files) do
    if file.uri == uri then
      index = i
    end
  end
  if not index then
    return
  end
  if index == self.index then
    self:_sync()
  end
  local _, conflicts, gone = update()
  self.pending = nil
  local file = self.proposal.files[index]
  for _, hunk in ipairs(conflicts) do
    self.opts.notify(("little-coder: %s: %s — now a conflict; your lines stay unless you choose the agent's or "
      .. "both"):format(Proposal.where(hunk), hunk.reason ~= "" and hunk.reason or "you changed these lines"),
      WARN, true)
  end
  if gone > 0 then
    self.opts.notify(("little-coder: %d change%s to %s no longer apply after your edit"):format(gone,
      gone == 1 and "" or "s", file.path), INFO, true)
  end
  if self.buffers[index] then
    local cursor = vim.api.nvim_win_get_cursor(self.new_win)
    self:_fill(index)
    if index == self.index then
      self:_diffupdate()
      cursor[1] = math.min(cursor[1], vim.api.nvim_buf_line_count(self.buffers[index].new))
      vim.api.nvim_win_set_cursor(self.new_win, cursor)
      self:refresh()
    end
  end
end

function Review:_close()
  if self.group then
    vim.api.nvim_del_augroup_by_id(self.group)
  end
  if vim.api.nvim_tabpage_is_valid(self.tab) then
    if #vim.api.nvim_list_tabpages() > 1 then
      vim.cmd.tabclose(vim.api.nvim_tabpage_get_number(self.tab))
    else
      vim.api.nvim_set_current_win(self.old_win)
      vim.cmd("silent! only | enew")
    end
  end
  if vim.api.nvim_tabpage_is_valid(self.previous_tab) then
    vim.api.nvim_set_current_tabpage(self.previous_tab)
  end
  local scratch = { self.help_buf }
  for _, buffers in pairs(self.buffers) do
    vim.list_extend(scratch, { buffers.old, buffers.new })
  end
  for _, bufnr in ipairs(scratch) do
    if vim.api.nvim_buf_is_valid(bufnr) then
      vim.api.nvim_buf_delete(bufnr, { force = true })
    end
  end
end

return Review
