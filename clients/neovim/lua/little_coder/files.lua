--- What the user holds at a path: the loaded buffer if there is one, else the file on disk.
local M = {}

--- @param path string
--- @return string
local function canonical(path)
  return vim.fs.normalize(vim.fn.resolve(vim.fn.fnamemodify(path, ":p")))
end

--- The loaded buffer showing `path`, if any.
--- @param path string
--- @return integer?
function M.find_buffer(path)
  local wanted = canonical(path)
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_get_name(bufnr)
    if name ~= "" and vim.api.nvim_buf_is_loaded(bufnr) and canonical(name) == wanted then
      return bufnr
    end
  end
  return nil
end

--- A buffer's text the way Neovim sends it to language servers (its line ending, the final one only
--- when 'eol' is set), so that server positions line up with it.
--- @param bufnr integer
--- @return string
function M.buffer_text(bufnr)
  local ending = ({ dos = "\r\n", mac = "\r" })[vim.bo[bufnr].fileformat] or "\n"
  local text = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, true), ending)
  if vim.bo[bufnr].eol then
    text = text .. ending
  end
  return text
end

--- @param path string
--- @return string?
function M.read_disk(path)
  local handle = io.open(path, "rb")
  if not handle then
    return nil
  end
  local text = handle:read("*a")
  handle:close()
  return text
end

--- Write `text` to `path` byte for byte, creating the folders it needs.
--- @param path string
--- @param text string
--- @return string? error
function M.write_disk(path, text)
  vim.fn.mkdir(vim.fs.dirname(path), "p")
  local handle, err = io.open(path, "wb")
  if not handle then
    return err
  end
  handle:write(text)
  handle:close()
  return nil
end

--- The text at `uri` now: the loaded buffer's, else the file's, else nil.
--- @param uri string
--- @return string?
function M.read(uri)
  local path = vim.uri_to_fname(uri)
  local bufnr = M.find_buffer(path)
  if bufnr then
    return M.buffer_text(bufnr)
  end
  if vim.fn.isdirectory(path) == 1 then
    return nil
  end
  return M.read_disk(path)
end

return M
