--- A `WorkspaceEdit` as reviewable hunks, and the text that a chosen subset of them produces.
---
--- Everything here is pure: texts go in as strings, byte offsets come out. LSP positions count
--- characters in the client's position encoding (utf-8, utf-16 or utf-32), so they are converted here
--- with our own UTF-8 walk rather than with vim.str_byteindex, whose signature changed in 0.11.
local M = {}

--- @class little_coder.Span
--- @field first integer 0-based first line
--- @field count integer number of lines (0 for a pure insertion or deletion point)

--- @class little_coder.Hunk
--- @field index integer position within its file, 1-based
--- @field id string the change annotation id, or "<path>#<index>" when the edit carries none
--- @field label string what the user reads
--- @field edit lsp.TextEdit the edit as the server sent it
--- @field start integer byte offset in the current text where the change starts (0-based)
--- @field stop integer byte offset where the replaced text ends (exclusive)
--- @field new_text string
--- @field old little_coder.Span lines of the current text the hunk replaces
--- @field new little_coder.Span lines of the proposed text the hunk produces
--- @field decision? "accept"|"reject"

--- @class little_coder.FileChange
--- @field uri string
--- @field path string
--- @field op "edit"|"create"|"delete"
--- @field version? integer buffer version the edit was computed against
--- @field current string the text now ("" for a file to be created)
--- @field proposed string the text with every hunk applied
--- @field hunks little_coder.Hunk[]
--- @field annotation? string the annotation of a create or delete operation

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

--- The 0-based line holding byte offset `offset`.
--- @param starts integer[]
--- @param offset integer
--- @return integer
function M.line_of(starts, offset)
  local lo, hi = 1, #starts
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if starts[mid] <= offset then
      lo = mid
    else
      hi = mid - 1
    end
  end
  return lo - 1
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

--- The lines a byte range covers: an empty range covers none but is anchored at its line.
--- @return little_coder.Span
local function span(starts, start, stop)
  local first = M.line_of(starts, start)
  if stop <= start then
    return { first = first, count = 0 }
  end
  return { first = first, count = M.line_of(starts, stop - 1) - first + 1 }
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
--- @return {kind: string, uri: string, edits?: lsp.TextEdit[], version?: integer, annotationId?: string, options?: table}[]
local function operations(edit)
  local ops = {}
  if edit.documentChanges then
    for _, change in ipairs(edit.documentChanges) do
      if change.kind then
        ops[#ops + 1] = {
          kind = change.kind,
          uri = change.uri or change.oldUri,
          annotationId = change.annotationId,
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

--- Split one file's text edits into hunks and compute the proposed text.
--- @param file little_coder.FileChange
--- @param text_edits lsp.TextEdit[]
--- @param annotations table<string, lsp.ChangeAnnotation>
--- @param encoding string
--- @return string? error
local function add_hunks(file, text_edits, annotations, encoding)
  local starts = M.line_starts(file.current)
  local pieces = {}
  for _, text_edit in ipairs(text_edits) do
    local start = M.offset_of(file.current, starts, text_edit.range.start, encoding)
    local stop = M.offset_of(file.current, starts, text_edit.range["end"], encoding)
    if stop < start then
      return ("an edit of %s ends before it starts"):format(file.path)
    end
    pieces[#pieces + 1] = { edit = text_edit, start = start, stop = stop, new_text = text_edit.newText }
  end
  -- Stable order: edits inserting at the same point keep the order the server gave them.
  for i, piece in ipairs(pieces) do
    piece.order = i
  end
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
  local new_starts = M.line_starts(file.proposed)
  local shift = 0
  for i, piece in ipairs(pieces) do
    local id = piece.edit.annotationId
    local annotation = id and annotations[id]
    local new_start = piece.start + shift
    file.hunks[#file.hunks + 1] = {
      index = i,
      id = id or ("%s#%d"):format(file.path, i),
      label = annotation and annotation.label or ("%s: change %d"):format(file.path, i),
      edit = piece.edit,
      start = piece.start,
      stop = piece.stop,
      new_text = piece.new_text,
      old = span(starts, piece.start, piece.stop),
      new = span(new_starts, new_start, new_start + #piece.new_text),
    }
    shift = shift + #piece.new_text - (piece.stop - piece.start)
  end
end

--- Read a WorkspaceEdit into one FileChange per file.
---
--- `read(uri)` returns what the user holds at `uri` now (nil when nothing is there). Renames, and a
--- file edited by more than one TextDocumentEdit, are not reviewable: they return an error.
--- @param edit lsp.WorkspaceEdit
--- @param encoding string
--- @param read fun(uri: string): string?
--- @return little_coder.FileChange[]? files
--- @return string? error
function M.collect(edit, encoding, read)
  local annotations = edit.changeAnnotations or {}
  local files, by_uri = {}, {}
  for _, op in ipairs(operations(edit)) do
    if op.kind == "rename" then
      return nil, "renaming files is not supported in a review"
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
        annotation = op.annotationId,
      }
      by_uri[op.uri] = file
      files[#files + 1] = file
    end
    if op.kind == "edit" then
      file.version = file.version or op.version
      local err = add_hunks(file, op.edits or {}, annotations, encoding)
      if err then
        return nil, err
      end
    elseif op.kind == "delete" then
      file.proposed = ""
      file.hunks[1] = {
        index = 1,
        id = op.annotationId or (file.path .. "#delete"),
        label = (op.annotationId and annotations[op.annotationId] or {}).label or (file.path .. ": delete file"),
        edit = { range = {}, newText = "" },
        start = 0,
        stop = #file.current,
        new_text = "",
        old = span(M.line_starts(file.current), 0, #file.current),
        new = { first = 0, count = 0 },
      }
    end
    ::continue::
  end
  -- A file created empty has no text edit: it still is one thing to accept or reject. A file whose
  -- text edit list is empty has nothing to review.
  files = vim.tbl_filter(function(file)
    return file.op == "create" or #file.hunks > 0
  end, files)
  for _, file in ipairs(files) do
    if file.op == "create" and #file.hunks == 0 then
      local annotation = file.annotation and annotations[file.annotation]
      file.proposed = ""
      file.hunks[1] = {
        index = 1,
        id = file.annotation or (file.path .. "#create"),
        label = annotation and annotation.label or (file.path .. ": new empty file"),
        edit = { range = {}, newText = "" },
        start = 0,
        stop = 0,
        new_text = "",
        old = { first = 0, count = 0 },
        new = { first = 0, count = 0 },
      }
    end
  end
  return files
end

--- The text of `file` with only its accepted hunks applied.
--- @param file little_coder.FileChange
--- @return string
function M.accepted_text(file)
  local pieces = {}
  for _, hunk in ipairs(file.hunks) do
    if hunk.decision == "accept" then
      pieces[#pieces + 1] = hunk
    end
  end
  return M.splice(file.current, pieces)
end

--- The hunk whose lines (in the current text when `side` is "old", else in the proposed text)
--- hold 0-based line `line`. A hunk without lines on that side sits on the line where it would be;
--- one past `last` (the last line shown, e.g. an append at the end) sits on `last`.
--- @param file little_coder.FileChange
--- @param side "old"|"new"
--- @param line integer
--- @param last integer
--- @return little_coder.Hunk?
function M.hunk_at(file, side, line, last)
  for _, hunk in ipairs(file.hunks) do
    local lines = hunk[side]
    local anchor = math.min(lines.first, last)
    if line >= anchor and line < math.max(lines.first + lines.count, anchor + 1) then
      return hunk
    end
  end
  return nil
end

return M
