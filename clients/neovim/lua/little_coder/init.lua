--- little-coder for Neovim: the little-coder language server with in-editor review of its edits.
---
---   require("little_coder").setup({ settings = { baseUrl = "http://127.0.0.1:11434" } })
---
--- See `:help little-coder`.
local App = require("little_coder.app")
local commands = require("little_coder.commands")
local config = require("little_coder.config")

local M = {}

-- Neovim loads a plugin once per editor, so the editor's one configured instance lives here; every
-- piece of state (sessions, reviews, the log) hangs off it.
local app --- @type little_coder.App?

local function configured()
  if app then
    return app
  end
  vim.notify("little-coder: call require('little_coder').setup() first", vim.log.levels.ERROR, { title = "little-coder" })
  return nil
end

--- Configure the plugin and start the server for the buffers it serves.
--- @param opts? table see `:help little-coder-setup`
--- @return boolean started
function M.setup(opts)
  local resolved, err = config.resolve(opts)
  if not resolved then
    vim.notify("little-coder: setup(): " .. err, vim.log.levels.ERROR, { title = "little-coder" })
    return false
  end
  app = App.new(resolved)
  return app:start()
end

--- The statusline component: "" when idle, else e.g. "LC turn 3/20 · Edit src/leap.py".
--- @return string
function M.status()
  return app and app.sessions:status_line() or ""
end

--- The `:LittleCoder` command (plugin/little_coder.lua).
function M.command(opts)
  local instance = configured()
  if instance then
    commands.run(instance, opts)
  end
end

function M.complete(arglead, cmdline)
  return commands.complete(app, arglead, cmdline)
end

--- Implement what is under the cursor (a stub, a TODO) or, with `range`, the given lines.
--- @param opts? {range?: boolean, line1?: integer, line2?: integer, instruction?: string}
function M.implement(opts)
  local instance = configured()
  if not instance then
    return
  end
  opts = opts or {}
  commands.implement(instance, {
    range = opts.range and 2 or 0,
    line1 = opts.line1 or 0,
    line2 = opts.line2 or 0,
    args = "implement " .. (opts.instruction or ""),
  })
end

--- Ask little-coder to do `instruction`, about the current buffer.
function M.ask(instruction)
  local instance = configured()
  if instance then
    commands.ask(instance, { range = 0, args = "ask " .. (instruction or "") })
  end
end

function M.cancel(which)
  local instance = configured()
  if instance then
    commands.cancel(instance, { args = "cancel " .. (which or "") })
  end
end

function M.undo(session_id)
  local instance = configured()
  if instance then
    commands.undo(instance, { args = "undo " .. (session_id or "") })
  end
end

function M.revise(comment)
  local instance = configured()
  if instance then
    commands.revise(instance, { args = "revise " .. (comment or "") })
  end
end

--- Reopen a review closed with `q` (default: the last one).
function M.review(session_id)
  local instance = configured()
  if instance then
    instance:reopen(session_id)
  end
end

--- The history of the plugin's messages.
function M.messages()
  local instance = configured()
  if instance then
    commands.messages(instance)
  end
end

function M.log()
  local instance = configured()
  if instance then
    commands.log(instance)
  end
end

--- The configured instance, for :checkhealth (nil before setup()).
--- @return little_coder.App?
function M.instance()
  return app
end

return M
