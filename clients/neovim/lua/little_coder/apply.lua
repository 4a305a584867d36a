--- Writing chosen hunks into the user's files: an open buffer is edited in place (keeping its undo
--- history and marks) and saved when it had no unsaved changes; a file that is not open is edited
--- on disk; new files are created, deleted files removed.
local edits = require("little_coder.edits")
local files = require("little_coder.files")

local M = {}

--- @class little_coder.ApplyOptions
--- @field encoding string the client's position encoding
--- @field write boolean save buffers that had no unsaved changes
--- @field flush fun(bufnr: integer) make sure the server has seen a buffer's changes

local function relative(path)
  return vim.fn.fnamemodify(path, ":~:.")
end

--- Has any file changed since the edit was made against it? Returns the first such path.
--- @param changes little_coder.FileChange[]
--- @return string?
function M.stale(changes)
  for _, file in ipairs(changes) do
    local expected = file.op ~= "create" and file.current or nil
    if files.read(file.uri) ~= expected then
      return relative(file.path)
    end
  end
  return nil
end

--- @param file little_coder.FileChange
--- @param accepted little_coder.Hunk[]
--- @param opts little_coder.ApplyOptions
--- @return string? error
local function apply_file(file, accepted, opts)
  if file.op == "delete" then
    local ok, err = os.remove(file.path)
    if not ok then
      return ("cannot delete %s: %s"):format(relative(file.path), err)
    end
    local bufnr = files.find_buffer(file.path)
    if bufnr and not vim.bo[bufnr].modified then
      vim.api.nvim_buf_delete(bufnr, {})
    end
    return nil
  end
  local bufnr = file.op == "edit" and files.find_buffer(file.path) or nil
  if not bufnr then
    local err = files.write_disk(file.path, edits.accepted_text(file))
    return err and ("cannot write %s: %s"):format(relative(file.path), err) or nil
  end
  local unsaved = vim.bo[bufnr].modified
  local text_edits = vim.tbl_map(function(hunk)
    return hunk.edit
  end, accepted)
  vim.lsp.util.apply_text_edits(text_edits, bufnr, opts.encoding)
  -- The user's unsaved work stays unsaved: only a buffer that was clean is written.
  if opts.write and not unsaved then
    local ok, err = pcall(vim.api.nvim_buf_call, bufnr, function()
      vim.cmd("silent write")
    end)
    if not ok then
      return ("cannot save %s: %s"):format(relative(file.path), err)
    end
  end
  opts.flush(bufnr)
  return nil
end

--- Apply the hunks decided "accept" of every file.
--- @param changes little_coder.FileChange[]
--- @param opts little_coder.ApplyOptions
--- @return integer changed files changed
--- @return string[] problems
function M.accepted(changes, opts)
  local changed, problems = 0, {}
  for _, file in ipairs(changes) do
    local accepted = vim.tbl_filter(function(hunk)
      return hunk.decision == "accept"
    end, file.hunks)
    if #accepted > 0 then
      local err = apply_file(file, accepted, opts)
      if err then
        problems[#problems + 1] = err
      else
        changed = changed + 1
      end
    end
  end
  return changed, problems
end

return M
