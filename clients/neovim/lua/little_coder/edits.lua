--- A `WorkspaceEdit` read file by file: its text edits as byte ranges of what the user holds now, and
--- the text they produce (written as is to a file that is not open).
---
--- Everything here is pure: texts go in as strings, byte offsets come out. LSP positions count
--- characters in the client's position encoding (utf-8, utf-16 or utf-32), so they are converted here
--- with our own UTF-8 walk rather than with vim.str_byteindex, whose signature changed in 0.11.
local M = {}

--- @class little_coder.Hunk
--- @field edit lsp.TextEdit the edit as the server sent it
--- @field start integer byte offset in the current text where the change starts (0-based)
--- @field stop integer byte offset where the replaced text ends (exclusive)
--- @field new_text string

--- @class little_coder.FileChange
--- @field uri string
--- @field path string
--- @field op "edit"|"create"|"delete"
--- @field version? integer buffer version the edit was computed against
--- @field current string the text now ("" for a file to be created)
--- @field proposed string the text with every hunk applied
--- @field hunks little_coder.Hunk[]

--- The byte length of the UTF-8 sequence starting with byte `b`.
local function sequence_length(b)
  if b < 0x80 then
    return 1
  elseif b >= 0xF0 then
    return 4
  elseif b >= 0xE0 then
    return 3
  elseif b >= 0xC0 then
    return 2
  end
  return 1 -- a stray continuation byte counts as one character, as editors show it
end

--- Code units one character of `len` UTF-8 bytes takes in `encoding`.
local function units(len, encoding)
  if encoding == "utf-8" then
    return len
  elseif encoding == "utf-16" then
    return len == 4 and 2 or 1
  end
  return 1
end

--- Byte offset within `line` (no terminator) of LSP column `character`; past the end clamps to it.
--- @param line string
--- @param character integer
--- @param encoding string
--- @return integer
function M.byte_of(line, character, encoding)
  local byte, seen = 0, 0
  while byte < #line and seen < character do
    local len = sequence_length(line:byte(byte + 1))
    seen = seen + units(len, encoding)
    byte = byte + len
  end
  return math.min(byte, #line)
end

--- LSP column of byte offset `byte` within `line`.
--- @param line string
--- @param byte integer
--- @param encoding string
--- @return integer
function M.character_of(line, byte, encoding)
  local at, count = 0, 0
  byte = math.min(byte, #line)
  while at < byte do
    local len = sequence_length(line:byte(at + 1))
    count = count + units(len, encoding)
    at = at + len
  end
  return count
end

--- Byte offsets where each line starts; a text ending in "\n" has an empty last line.
--- @param text string
--- @return integer[]
function M.line_starts(text)
  local starts = { 0 }
  local at = 1
  while true do
    local nl = text:find("\n", at, true)
    if not nl then
      break
    end
    starts[#starts + 1] = nl
    at = nl + 1
  end
  return starts
end

--- Byte offset of an LSP position in `text`. Lines end in "\n" or "\r\n"; a line past the end
--- means the end of the text.
--- @param text string
--- @param starts integer[]
--- @param position lsp.Position
--- @param encoding string
--- @return integer
function M.offset_of(text, starts, position, encoding)
  local line = position.line + 1
  if line > #starts then
    return #text
  end
  local first = starts[line]
  local stop = line < #starts and starts[line + 1] - 1 or #text -- the "\n" (or the end)
  if stop > first and text:byte(stop) == 13 then
    stop = stop - 1 -- "\r\n": the "\r" is part of the terminator
  end
  return first + M.byte_of(text:sub(first + 1, stop), position.character, encoding)
end

--- Replace non-overlapping byte ranges of `text`. `pieces` are sorted by `start`.
--- @param text string
--- @param pieces {start: integer, stop: integer, new_text: string}[]
--- @return string
function M.splice(text, pieces)
  local out, at = {}, 0
  for _, piece in ipairs(pieces) do
    out[#out + 1] = text:sub(at + 1, piece.start)
    out[#out + 1] = piece.new_text
    at = piece.stop
  end
  out[#out + 1] = text:sub(at + 1)
  return table.concat(out)
end

--- Does this edit ask the user to confirm any of its changes?
--- @param edit lsp.WorkspaceEdit
--- @return boolean
function M.needs_review(edit)
  for _, annotation in pairs(edit.changeAnnotations or {}) do
    if annotation.needsConfirmation then
      return true
    end
  end
  return false
end

--- @param edit lsp.WorkspaceEdit
--- @return {kind: string, uri: string, edits?: lsp.TextEdit[], version?: integer, options?: table}[]
local function operations(edit)
  local ops = {}
  if edit.documentChanges then
    for _, change in ipairs(edit.documentChanges) do
      if change.kind then
        ops[#ops + 1] = {
          kind = change.kind,
          uri = change.uri or change.oldUri,
          options = change.options,
        }
      else
        ops[#ops + 1] = {
          kind = "edit",
          uri = change.textDocument.uri,
          version = change.textDocument.version,
          edits = change.edits,
        }
      end
    end
  elseif edit.changes then
    local uris = vim.tbl_keys(edit.changes)
    table.sort(uris)
    for _, uri in ipairs(uris) do
      ops[#ops + 1] = { kind = "edit", uri = uri, edits = edit.changes[uri] }
    end
  end
  return ops
end

--- Read one file's text edits as byte ranges and compute the proposed text.
--- @param file little_coder.FileChange
--- @param text_edits lsp.TextEdit[]
--- @param encoding string
--- @return string? error
local function add_hunks(file, text_edits, encoding)
  local starts = M.line_starts(file.current)
  local pieces = {}
  for i, text_edit in ipairs(text_edits) do
    local start = M.offset_of(file.current, starts, text_edit.range.start, encoding)
    local stop = M.offset_of(file.current, starts, text_edit.range["end"], encoding)
    if stop < start then
      return ("an edit of %s ends before it starts"):format(file.path)
    end
    pieces[#pieces + 1] = { edit = text_edit, start = start, stop = stop, new_text = text_edit.newText, order = i }
  end
  -- Stable order: edits inserting at the same point keep the order the server gave them.
  table.sort(pieces, function(a, b)
    if a.start ~= b.start then
      return a.start < b.start
    end
    return a.order < b.order
  end)
  for i = 2, #pieces do
    if pieces[i].start < pieces[i - 1].stop then
      return ("the edits of %s overlap"):format(file.path)
    end
  end
  file.proposed = M.splice(file.current, pieces)
  for _, piece in ipairs(pieces) do
    file.hunks[#file.hunks + 1] = { edit = piece.edit, start = piece.start, stop = piece.stop, new_text = piece.new_text }
  end
end

--- Read a WorkspaceEdit into one FileChange per file.
---
--- `read(uri)` returns what the user holds at `uri` now (nil when nothing is there). Renames, and a
--- file edited by more than one TextDocumentEdit, return an error: Neovim's own handler applies those.
--- @param edit lsp.WorkspaceEdit
--- @param encoding string
--- @param read fun(uri: string): string?
--- @return little_coder.FileChange[]? files
--- @return string? error
function M.collect(edit, encoding, read)
  local files, by_uri = {}, {}
  for _, op in ipairs(operations(edit)) do
    if op.kind == "rename" then
      return nil, "the edit renames a file"
    end
    local file = by_uri[op.uri]
    if file and not (op.kind == "edit" and file.op == "create" and #file.hunks == 0) then
      return nil, ("%s is changed more than once in one edit"):format(vim.uri_to_fname(op.uri))
    end
    if not file then
      local current = read(op.uri)
      local path = vim.uri_to_fname(op.uri)
      if op.kind == "create" then
        local options = op.options or {}
        if current ~= nil and not (options.overwrite or options.ignoreIfExists) then
          return nil, ("cannot create %s: it exists"):format(path)
        end
        if current ~= nil and options.ignoreIfExists then
          goto continue -- nothing to create; a following text edit applies to the existing file
        end
        current = ""
      elseif current == nil then
        if op.kind == "delete" and (op.options or {}).ignoreIfNotExists then
          goto continue
        end
        return nil, ("%s does not exist"):format(path)
      end
      file = {
        uri = op.uri,
        path = path,
        op = op.kind,
        version = op.version,
        current = current,
        hunks = {},
      }
      by_uri[op.uri] = file
      files[#files + 1] = file
    end
    if op.kind == "edit" then
      file.version = file.version or op.version
      local err = add_hunks(file, op.edits or {}, encoding)
      if err then
        return nil, err
      end
    elseif op.kind == "delete" then
      file.proposed = ""
      file.hunks[1] = { edit = { range = {}, newText = "" }, start = 0, stop = #file.current, new_text = "" }
    end
    ::continue::
  end
  -- A file created empty has no text edit: it still is one thing to do. A file whose text edit list
  -- is empty has nothing to change.
  files = vim.tbl_filter(function(file)
    return file.op == "create" or #file.hunks > 0
  end, files)
  for _, file in ipairs(files) do
    if file.op == "create" and #file.hunks == 0 then
      file.proposed = ""
      file.hunks[1] = { edit = { range = {}, newText = "" }, start = 0, stop = 0, new_text = "" }
    end
  end
  return files
end

return M
