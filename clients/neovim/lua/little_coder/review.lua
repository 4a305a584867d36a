--- The review tab: a proposed edit, file by file, as the current text beside the proposed text in
--- diff mode, with every hunk marked pending / accepted / rejected. Nothing is applied until the
--- user applies the review; then only the accepted hunks are written, and `on_done` gets the
--- truthful answer for the server's `workspace/applyEdit`.
local apply = require("little_coder.apply")
local edits = require("little_coder.edits")

--- @class little_coder.Review
local Review = {}
Review.__index = Review

local NS = vim.api.nvim_create_namespace("little_coder_review")
local MARK = {
  accept = { sign = "✓", word = "accepted", hl = "DiagnosticOk" },
  reject = { sign = "✗", word = "rejected", hl = "DiagnosticError" },
  pending = { sign = "?", word = "pending", hl = "DiagnosticWarn" },
}
local HELP = {
  { "accept_hunk", "reject_hunk", "accept or reject the change under the cursor" },
  { "accept_file", "reject_file", "accept or reject every change of this file" },
  { "accept_all", "reject_all", "accept or reject every change of every file" },
  { "next_hunk", "prev_hunk", "next / previous change" },
  { "next_file", "prev_file", "next / previous file" },
  { "apply", nil, "apply the accepted changes (every change must be decided)" },
  { "quit", nil, "close the review without applying anything" },
  { "help", nil, "toggle this help" },
}

--- @class little_coder.ReviewOptions
--- @field id integer unique per review, for buffer names
--- @field label string what the server called the edit
--- @field files little_coder.FileChange[]
--- @field encoding string the client's position encoding
--- @field keymaps table<string, string|false>
--- @field write boolean save what was applied
--- @field notify fun(message: string, level: integer)
--- @field flush fun(bufnr: integer) make sure the server has seen a buffer's changes
--- @field on_done fun(result: lsp.ApplyWorkspaceEditResult)

--- @param opts little_coder.ReviewOptions
function Review.new(opts)
  return setmetatable({
    opts = opts,
    files = opts.files,
    index = 1,
    done = false,
    long_help = false,
    buffers = {}, -- [file index] = {old = bufnr, new = bufnr}
  }, Review)
end

--- @return {accept: integer, reject: integer, pending: integer}
local function counts(hunks)
  local result = { accept = 0, reject = 0, pending = 0 }
  for _, hunk in ipairs(hunks) do
    local key = hunk.decision or "pending"
    result[key] = result[key] + 1
  end
  return result
end

function Review:all_hunks()
  local all = {}
  for _, file in ipairs(self.files) do
    vim.list_extend(all, file.hunks)
  end
  return all
end

--- Display lines of a text: no terminators, no phantom line after a final newline.
local function display_lines(text)
  local lines = vim.split(text, "\n", { plain = true })
  if #lines > 1 and lines[#lines] == "" then
    lines[#lines] = nil
  end
  for i, line in ipairs(lines) do
    lines[i] = line:gsub("\r$", "")
  end
  return lines
end

local function relative(path)
  return vim.fn.fnamemodify(path, ":~:.")
end

function Review:_scratch(name, text, path)
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, ("little-coder://review/%d/%s"):format(self.opts.id, name))
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, display_lines(text))
  vim.bo[bufnr].bufhidden = "hide"
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
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
    next_hunk = function() self:jump(1) end,
    prev_hunk = function() self:jump(-1) end,
    next_file = function() self:show(self.index + 1) end,
    prev_file = function() self:show(self.index - 1) end,
    apply = function() self:apply() end,
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
  vim.api.nvim_buf_set_name(self.help_buf, ("little-coder://review/%d/help"):format(self.opts.id))
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
  self:show(1)
  if vim.api.nvim_buf_is_valid(placeholder) and #vim.fn.win_findbuf(placeholder) == 0 then
    vim.api.nvim_buf_delete(placeholder, { force = true })
  end
  self.group = vim.api.nvim_create_augroup(("little_coder_review_%d"):format(self.opts.id), { clear = true })
  vim.api.nvim_create_autocmd("CursorMoved", {
    group = self.group,
    callback = function()
      local win = vim.api.nvim_get_current_win()
      if not self.done and (win == self.old_win or win == self.new_win) then
        self:_render_help()
      end
    end,
  })
  -- Closing one of the review's windows by hand is quitting the review.
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
end

--- Show file `index` (clamped) in the two diff windows.
function Review:show(index)
  if index < 1 or index > #self.files then
    self.opts.notify(("little-coder review: no %s file"):format(index < 1 and "previous" or "next"), vim.log.levels.INFO)
    return
  end
  self.index = index
  local file = self.files[index]
  local buffers = self.buffers[index]
  if not buffers then
    local name = relative(file.path)
    buffers = {
      old = self:_scratch(("%d/current/%s"):format(index, name), file.current, file.path),
      new = self:_scratch(("%d/proposed/%s"):format(index, name), file.proposed, file.path),
    }
    self.buffers[index] = buffers
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
  self:refresh()
  local first = file.hunks[1]
  vim.api.nvim_set_current_win(self.new_win)
  if first then
    self:_cursor_to(first)
  end
end

function Review:_cursor_to(hunk)
  local buffers = self.buffers[self.index]
  local last = vim.api.nvim_buf_line_count(buffers.new)
  vim.api.nvim_win_set_cursor(self.new_win, { math.min(hunk.new.first + 1, last), 0 })
  self:_render_help()
end

--- Redraw the marks, the window bars and the help line.
function Review:refresh()
  local file = self.files[self.index]
  local buffers = self.buffers[self.index]
  for side, bufnr in pairs(buffers) do
    vim.api.nvim_buf_clear_namespace(bufnr, NS, 0, -1)
    local last = vim.api.nvim_buf_line_count(bufnr) - 1
    for _, hunk in ipairs(file.hunks) do
      local mark = MARK[hunk.decision or "pending"]
      local line = math.max(0, math.min(hunk[side].first, last))
      vim.api.nvim_buf_set_extmark(bufnr, NS, line, 0, {
        sign_text = mark.sign,
        sign_hl_group = mark.hl,
        virt_text = side == "new" and { { ("  %s %s · %s"):format(mark.sign, mark.word, hunk.label), mark.hl } } or nil,
        virt_text_pos = "eol",
      })
    end
  end
  local escape = function(text)
    return (text:gsub("%%", "%%%%"))
  end
  local name = escape(relative(file.path))
  local c = counts(file.hunks)
  local kind = ({ create = "new file", delete = "delete file", edit = "current" })[file.op]
  vim.wo[self.old_win].winbar = ("%%#Title#%s%%* %s"):format(kind, name)
  vim.wo[self.new_win].winbar = ("%%#Title#proposed%%* %s  [file %d/%d]  ✓%d ✗%d ?%d"):format(
    name, self.index, #self.files, c.accept, c.reject, c.pending)
  self:_render_help()
end

function Review:_render_help()
  local keys = self.opts.keymaps
  local total = counts(self:all_hunks())
  local state = total.pending == 0 and ("all decided: %s applies"):format(keys.apply or "apply")
    or ("%d change(s) pending"):format(total.pending)
  local lines
  if self.long_help then
    lines = { ("little-coder review: %s — %s"):format(self.opts.label, state) }
    for _, entry in ipairs(HELP) do
      local lhs = keys[entry[1]] or "-"
      if entry[2] then
        lhs = lhs .. " / " .. (keys[entry[2]] or "-")
      end
      lines[#lines + 1] = ("  %-10s %s"):format(lhs, entry[3])
    end
  else
    local function pair(a, b)
      return (keys[a] or "-") .. "/" .. (keys[b] or "-")
    end
    lines = {
      ("%s hunk  %s file  %s all  %s %s  %s apply  %s quit  %s help │ %s"):format(
        pair("accept_hunk", "reject_hunk"), pair("accept_file", "reject_file"), pair("accept_all", "reject_all"),
        pair("next_hunk", "prev_hunk"), pair("next_file", "prev_file"), keys.apply or "-", keys.quit or "-",
        keys.help or "-", state),
    }
  end
  -- Long lines hide the marks at their end, so the change under the cursor is spelt out here.
  local hunk = self:_hunk_under_cursor()
  if hunk then
    local mark = MARK[hunk.decision or "pending"]
    table.insert(lines, 2, ("%s %s · %s"):format(mark.sign, mark.word, hunk.label))
  else
    table.insert(lines, 2, "(no change under the cursor)")
  end
  vim.bo[self.help_buf].modifiable = true
  vim.api.nvim_buf_set_lines(self.help_buf, 0, -1, false, lines)
  vim.bo[self.help_buf].modifiable = false
  vim.bo[self.help_buf].modified = false
  vim.api.nvim_win_set_height(self.help_win, #lines)
end

function Review:toggle_help()
  self.long_help = not self.long_help
  self:_render_help()
end

--- Which side the cursor is on, the 0-based line, and the last line of that side.
--- @return ("old"|"new")?, integer, integer
function Review:_cursor()
  local win = vim.api.nvim_get_current_win()
  local line = vim.api.nvim_win_get_cursor(win)[1] - 1
  local last = vim.api.nvim_buf_line_count(vim.api.nvim_win_get_buf(win)) - 1
  if win == self.old_win then
    return "old", line, last
  elseif win == self.new_win then
    return "new", line, last
  end
  return nil, line, last
end

--- The hunk under the cursor, if any.
--- @return little_coder.Hunk?
function Review:_hunk_under_cursor()
  local side, line, last = self:_cursor()
  return side and edits.hunk_at(self.files[self.index], side, line, last) or nil
end

--- Accept or reject the hunk under the cursor, the file's hunks, or every hunk.
--- @param scope "hunk"|"file"|"all"
--- @param decision "accept"|"reject"
function Review:decide(scope, decision)
  local file = self.files[self.index]
  if scope == "hunk" then
    local hunk = self:_hunk_under_cursor()
    if not hunk then
      self.opts.notify("little-coder review: no change under the cursor", vim.log.levels.WARN)
      return
    end
    hunk.decision = decision
    self:refresh()
    -- On to the next change still waiting for a decision, if this file has one.
    for _, other in ipairs(file.hunks) do
      if not other.decision then
        vim.api.nvim_set_current_win(self.new_win)
        self:_cursor_to(other)
        break
      end
    end
    return
  end
  for _, hunk in ipairs(scope == "file" and file.hunks or self:all_hunks()) do
    hunk.decision = decision
  end
  self:refresh()
end

--- Move to the next (`step` 1) or previous (-1) hunk, crossing into the next file at the end.
function Review:jump(step)
  local file = self.files[self.index]
  local side, line = self:_cursor()
  side = side or "new"
  local target
  for i = step > 0 and 1 or #file.hunks, step > 0 and #file.hunks or 1, step do
    local first = file.hunks[i][side].first
    if (step > 0 and first > line) or (step < 0 and first < line) then
      target = file.hunks[i]
      break
    end
  end
  if target then
    vim.api.nvim_set_current_win(self.new_win)
    self:_cursor_to(target)
  elseif self.files[self.index + step] then
    self:show(self.index + step)
    if step < 0 then
      local hunks = self.files[self.index].hunks
      self:_cursor_to(hunks[#hunks])
    end
  end
end

--- Apply the accepted hunks and answer the server.
function Review:apply()
  local total = counts(self:all_hunks())
  if total.pending > 0 then
    self.opts.notify(("little-coder review: %d change(s) still pending: accept or reject them first"):format(
      total.pending), vim.log.levels.WARN)
    for index, file in ipairs(self.files) do
      for _, hunk in ipairs(file.hunks) do
        if not hunk.decision then
          if index ~= self.index then
            self:show(index)
          end
          vim.api.nvim_set_current_win(self.new_win)
          self:_cursor_to(hunk)
          return
        end
      end
    end
    return
  end
  -- The edit's ranges are only valid for the texts it was made against.
  local stale = apply.stale(self.files)
  if stale then
    return self:_finish({ applied = false, failureReason = stale .. " changed during the review" },
      vim.log.levels.ERROR)
  end
  local changed, problems = apply.accepted(self.files, self.opts)
  if #problems > 0 then
    self.opts.notify("little-coder review: " .. table.concat(problems, "; "), vim.log.levels.ERROR)
  end
  if changed == 0 and #problems > 0 then
    return self:_finish({ applied = false, failureReason = table.concat(problems, "; ") })
  end
  self:_finish({ applied = true })
end

--- Close the review without applying anything.
function Review:quit(reason)
  self:_finish({ applied = false, failureReason = reason or "the review was closed without applying the changes" })
end

--- @param result lsp.ApplyWorkspaceEditResult
--- @param level? integer notify the failure at this level
function Review:_finish(result, level)
  if self.done then
    return
  end
  self.done = true
  if level and result.failureReason then
    self.opts.notify("little-coder review: " .. result.failureReason, level)
  end
  self:_close()
  self.opts.on_done(result)
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
