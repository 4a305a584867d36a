--- What the plugin tells the user: every message once prefixed and without the server's internal
--- command ids, kept in a history (`:LittleCoder messages`), and the ones that matter (outcomes,
--- conflicts, warnings) kept on screen in a small window until the user presses a key a moment after
--- the last one came: Neovim's own message line is overwritten by the next message at once, and a
--- message that arrives while the user types would otherwise go with their next key.
--- @class little_coder.Messages
local Messages = {}
Messages.__index = Messages

local PREFIX = "little-coder: "
local MAX_HISTORY = 200
local SHOWN = 4 -- messages at most in the window
local NS = vim.api.nvim_create_namespace("little_coder_messages")
local HL = {
  [vim.log.levels.ERROR] = "DiagnosticError",
  [vim.log.levels.WARN] = "DiagnosticWarn",
}
-- The server's command ids, in the words of the command a user types.
local COMMANDS = {
  implement = ":LittleCoder implement",
  ask = ":LittleCoder ask",
  cancel = ":LittleCoder cancel",
  undo = ":LittleCoder undo",
  revise = ":LittleCoder revise",
  status = ":LittleCoder status",
  review = ":LittleCoder review",
  testSelection = "the test of your selection",
}

--- "little-coder: " at most once, and `littleCoder.revise` as `:LittleCoder revise`.
--- @param message string
--- @return string
function Messages.clean(message)
  local first = message:find(PREFIX, 1, true)
  if first then
    local head, tail = message:sub(1, first + #PREFIX - 1), message:sub(first + #PREFIX)
    message = head .. tail:gsub(vim.pesc(PREFIX), "")
  end
  -- Only commands: `littleCoder.baseUrl` and the like are settings the user may need to look up.
  return (message:gsub("littleCoder%.(%a+)", function(name)
    return COMMANDS[name]
  end))
end

--- @param float boolean keep important messages on screen
--- @param linger_ms integer keys pressed this soon after a message do not close the window
function Messages.new(float, linger_ms)
  local self = setmetatable({
    float = float,
    linger_ms = linger_ms,
    history = {},
    shown = {},
    shown_at = 0,
    win = nil,
    buf = nil,
  }, Messages)
  -- A floating window belongs to its tab page: one shown in a review tab would go with the tab.
  vim.api.nvim_create_autocmd("TabEnter", {
    group = vim.api.nvim_create_augroup("little_coder_messages", { clear = true }),
    callback = function()
      if #self.shown > 0 then
        self:_show()
      end
    end,
  })
  return self
end

--- Neovim's own vim.notify echoes on the message line, where a message wider than the screen
--- stops everything with "Press ENTER"; notification plugins replace it.
local function builtin_notify()
  local info = debug.getinfo(vim.notify, "S")
  return info ~= nil and info.source:find("vim/_editor.lua", 1, true) ~= nil
end

--- Show `message` through vim.notify, record it, and keep it on screen when `persist`.
--- @param message string
--- @param level integer
--- @param persist boolean
function Messages:add(message, level, persist)
  message = Messages.clean(message)
  self.history[#self.history + 1] = { time = os.date("%H:%M:%S"), level = level, message = message }
  if #self.history > MAX_HISTORY then
    table.remove(self.history, 1)
  end
  local kept = persist and self.float
  local echoed = message
  if kept and builtin_notify() then
    -- The window shows it whole: the message line gets what fits on it.
    local width = vim.o.columns - 12
    echoed = message:gsub("\n.*", "")
    if vim.fn.strdisplaywidth(echoed) > width then
      echoed = vim.fn.strcharpart(echoed, 0, width - 1) .. "…"
    end
  end
  vim.notify(echoed, level, { title = "little-coder" })
  if kept then
    self.shown[#self.shown + 1] = { level = level, message = message }
    self.shown_at = vim.uv.now()
    if #self.shown > SHOWN then
      table.remove(self.shown, 1)
    end
    self:_show()
  end
end

--- The window of kept messages, top right, over the text; a key the user presses closes it.
function Messages:_show()
  local width = math.max(20, math.min(60, math.floor(vim.o.columns / 2) - 2))
  local lines, highlights = {}, {}
  for _, item in ipairs(self.shown) do
    local first = #lines
    for _, paragraph in ipairs(vim.split(item.message, "\n", { plain = true })) do
      local text = paragraph
      repeat
        local piece = vim.fn.strcharpart(text, 0, width)
        if vim.fn.strdisplaywidth(text) > width then
          local cut = piece:match("^.*()%s")
          if cut and cut > width / 2 then
            piece = piece:sub(1, cut - 1)
          end
        end
        lines[#lines + 1] = piece
        text = vim.trim(text:sub(#piece + 1))
      until text == ""
    end
    if HL[item.level] then
      highlights[#highlights + 1] = { HL[item.level], first, #lines }
    end
  end
  if not (self.buf and vim.api.nvim_buf_is_valid(self.buf)) then
    self.buf = vim.api.nvim_create_buf(false, true)
    vim.bo[self.buf].bufhidden = "hide"
  end
  vim.api.nvim_buf_set_lines(self.buf, 0, -1, false, lines)
  vim.api.nvim_buf_clear_namespace(self.buf, NS, 0, -1)
  local hl = vim.hl or vim.highlight -- vim.hl since 0.11
  for _, highlight in ipairs(highlights) do
    hl.range(self.buf, NS, highlight[1], { highlight[2], 0 }, { highlight[3] - 1, -1 })
  end
  local height = math.min(#lines, math.max(1, vim.o.lines - 4))
  local config = {
    relative = "editor",
    anchor = "NE",
    row = 2, -- below a tab line and a window bar (the review's counts)
    col = vim.o.columns - 1,
    width = width,
    height = height,
    style = "minimal",
    border = "rounded",
    title = " little-coder · any key closes ",
    title_pos = "right",
    focusable = false,
    zindex = 150,
    noautocmd = true,
  }
  if self.win and vim.api.nvim_win_is_valid(self.win)
    and vim.api.nvim_win_get_tabpage(self.win) == vim.api.nvim_get_current_tabpage() then
    config.noautocmd = nil
    vim.api.nvim_win_set_config(self.win, config)
  else
    if self.win and vim.api.nvim_win_is_valid(self.win) then
      vim.api.nvim_win_close(self.win, true)
    end
    self.win = vim.api.nvim_open_win(self.buf, false, config)
    vim.wo[self.win].wrap = true
  end
  if not self.on_key then
    self.on_key = vim.on_key(function()
      if vim.uv.now() - self.shown_at >= self.linger_ms then
        vim.schedule(function()
          self:dismiss()
        end)
      end
    end, NS)
  end
end

--- Close the window of kept messages (they stay in the history).
function Messages:dismiss()
  if self.on_key then
    vim.on_key(nil, NS)
    self.on_key = nil
  end
  self.shown = {}
  if self.win and vim.api.nvim_win_is_valid(self.win) then
    vim.api.nvim_win_close(self.win, true)
  end
  self.win = nil
end

--- Whether the window of kept messages is open, and what it says.
--- @return string?
function Messages:on_screen()
  if not (self.win and vim.api.nvim_win_is_valid(self.win)) then
    return nil
  end
  return table.concat(vim.api.nvim_buf_get_lines(self.buf, 0, -1, false), "\n")
end

--- `:LittleCoder messages`: the history in a split below.
function Messages:open()
  local lines = {}
  for _, item in ipairs(self.history) do
    local text = item.message:gsub("\n", "\n         ")
    vim.list_extend(lines, vim.split(("%s %s"):format(item.time, text), "\n", { plain = true }))
  end
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, #lines > 0 and lines or { "(no messages yet)" })
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].bufhidden = "wipe"
  vim.cmd("botright 10split")
  vim.api.nvim_win_set_buf(0, bufnr)
  vim.wo.wrap = true
  vim.keymap.set("n", "q", "<cmd>close<cr>", { buffer = bufnr, nowait = true, desc = "Close the messages" })
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
end

return Messages
