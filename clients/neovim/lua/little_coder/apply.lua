--- Writing the server's plain edits into the user's files: an open buffer is edited in place (keeping
--- its undo history and marks) and saved when it had no unsaved changes; a file that is not open is
--- edited on disk; new files are created, deleted files removed.
local files = require("little_coder.files")

local M = {}

--- @class little_coder.ApplyOptions
--- @field encoding string the client's position encoding
--- @field write boolean save buffers that had no unsaved changes
--- @field flush fun(bufnr: integer) make sure the server has seen a buffer's changes

local function relative(path)
  return vim.fn.fnamemodify(path, ":~:.")
end

--- @param file little_coder.FileChange
--- @param opts little_coder.ApplyOptions
--- @return string? error
local function apply_file(file, opts)
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
    local err = files.write_disk(file.path, file.proposed)
    return err and ("cannot write %s: %s"):format(relative(file.path), err) or nil
  end
  local unsaved = vim.bo[bufnr].modified
  local text_edits = vim.tbl_map(function(hunk)
    return hunk.edit
  end, file.hunks)
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

--- Apply every file's changes.
--- @param changes little_coder.FileChange[]
--- @param opts little_coder.ApplyOptions
--- @return integer changed files changed
--- @return string[] problems
function M.all(changes, opts)
  local changed, problems = 0, {}
  for _, file in ipairs(changes) do
    local err = apply_file(file, opts)
    if err then
      problems[#problems + 1] = err
    else
      changed = changed + 1
    end
  end
  return changed, problems
end

return M
