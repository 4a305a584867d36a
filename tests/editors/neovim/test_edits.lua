-- little_coder.edits without a server: position encodings, hunks, partial application, new files.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "helpers.lua"))
local edits = require("little_coder.edits")

-- Columns in each encoding: "é" is 2 UTF-8 bytes / 1 UTF-16 unit, "📅" 4 bytes / 2 units / 1 char.
local line = "aé📅b"
H.eq(edits.byte_of(line, 2, "utf-16"), 3, "utf-16 column 2 is after é")
H.eq(edits.byte_of(line, 4, "utf-16"), 7, "utf-16 column 4 is after the surrogate pair")
H.eq(edits.byte_of(line, 3, "utf-32"), 7, "utf-32 column 3 is after 📅")
H.eq(edits.byte_of(line, 7, "utf-8"), 7, "utf-8 columns are bytes")
H.eq(edits.byte_of(line, 99, "utf-16"), #line, "a column past the end clamps")
H.eq(edits.character_of(line, 7, "utf-16"), 4, "byte 7 is utf-16 column 4")
H.eq(edits.character_of(line, 7, "utf-32"), 3, "byte 7 is utf-32 column 3")

local current = table.concat({
  "def leap(year):", -- line 0
  "    raise NotImplementedError", -- 1
  "", -- 2
  "", -- 3
  "def label(year):", -- 4
  '    return "common"', -- 5
  "",
}, "\n")
local uri = vim.uri_from_fname("/tmp/ws/leap.py")
local new_uri = vim.uri_from_fname("/tmp/ws/test_leap.py")
local edit = {
  documentChanges = {
    {
      textDocument = { uri = uri, version = 7 },
      edits = {
        -- deliberately out of order: hunks are sorted by position
        {
          range = { start = { line = 5, character = 0 }, ["end"] = { line = 6, character = 0 } },
          newText = '    return "common year 🗓"\n',
          annotationId = "lc-hunk-2",
        },
        {
          range = { start = { line = 1, character = 0 }, ["end"] = { line = 2, character = 0 } },
          newText = "    if year % 400 == 0:\n        return True\n    return year % 4 == 0\n",
          annotationId = "lc-hunk-1",
        },
      },
    },
    { kind = "create", uri = new_uri, annotationId = "lc-hunk-3" },
    {
      textDocument = { uri = new_uri },
      edits = {
        {
          range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
          newText = "def test_leap():\n    assert leap(2000)\n",
          annotationId = "lc-hunk-3",
        },
      },
    },
  },
  changeAnnotations = {
    ["lc-hunk-1"] = { label = "leap.py: line 2 (+3 −1)", needsConfirmation = true },
    ["lc-hunk-2"] = { label = "leap.py: line 6 (+1 −1)", needsConfirmation = true },
    ["lc-hunk-3"] = { label = "test_leap.py: new file (+2)", needsConfirmation = true },
  },
}
H.ok(edits.needs_review(edit), "annotations needing confirmation make the edit reviewable")
H.ok(not edits.needs_review({ changes = {} }), "a plain edit is not reviewed")

local texts = { [uri] = current }
local files, err = edits.collect(edit, "utf-16", function(u)
  return texts[u]
end)
H.ok(files, "collect failed: " .. tostring(err))
H.eq(#files, 2, "two files")
local leap, created = files[1], files[2]
H.eq({ leap.op, leap.version, #leap.hunks }, { "edit", 7, 2 }, "leap.py: a versioned edit with two hunks")
H.eq({ leap.hunks[1].id, leap.hunks[2].id }, { "lc-hunk-1", "lc-hunk-2" }, "hunks sorted by position")
H.eq(leap.hunks[1].label, "leap.py: line 2 (+3 −1)", "labels come from the annotations")
H.eq(leap.hunks[1].old, { first = 1, count = 1 }, "hunk 1 replaces line 2")
H.eq(leap.hunks[1].new, { first = 1, count = 3 }, "hunk 1 becomes lines 2-4")
H.eq(leap.hunks[2].old, { first = 5, count = 1 }, "hunk 2 replaces line 6")
H.eq(leap.hunks[2].new, { first = 7, count = 1 }, "hunk 2 moved down by the two lines hunk 1 added")
H.eq(edits.hunk_at(leap, "new", 8), nil, "no hunk on an unchanged line")
H.eq(edits.hunk_at(leap, "new", 3).id, "lc-hunk-1", "line 4 of the proposal belongs to hunk 1")
H.eq(edits.hunk_at(leap, "old", 5).id, "lc-hunk-2", "line 6 of the current text belongs to hunk 2")

H.eq(created.op, "create", "the new file")
H.eq(#created.hunks, 1, "a new file is one hunk")
H.eq(created.hunks[1].label, "test_leap.py: new file (+2)", "new-file label")
H.eq(created.proposed, "def test_leap():\n    assert leap(2000)\n", "new-file text")

leap.hunks[1].decision = "reject"
leap.hunks[2].decision = "accept"
H.eq(
  edits.accepted_text(leap),
  current:gsub('"common"', '"common year 🗓"'),
  "only the accepted hunk is applied"
)
leap.hunks[1].decision = "accept"
H.eq(edits.accepted_text(leap), leap.proposed, "every hunk accepted gives the proposal")

-- Pure insertions and deletions sit on the line where they happen.
local deletion = { changes = { [uri] = {
  { range = { start = { line = 2, character = 0 }, ["end"] = { line = 4, character = 0 } }, newText = "" },
} } }
local plain = assert(edits.collect(deletion, "utf-8", function()
  return current
end))
H.eq(plain[1].hunks[1].old, { first = 2, count = 2 }, "a deletion covers the deleted lines")
H.eq(plain[1].hunks[1].new, { first = 2, count = 0 }, "and no proposed line")
H.eq(edits.hunk_at(plain[1], "new", 2).index, 1, "found on the line after it")

-- CRLF text: the "\r" is part of the terminator, never a column.
local crlf = "a = 1\r\nb = 2\r\n"
local starts = edits.line_starts(crlf)
H.eq(edits.offset_of(crlf, starts, { line = 0, character = 99 }, "utf-16"), 5, "end of a CRLF line")
H.eq(edits.offset_of(crlf, starts, { line = 9, character = 0 }, "utf-16"), #crlf, "past the last line")

-- What cannot be reviewed says why.
local _, overlap = edits.collect({ changes = { [uri] = {
  { range = { start = { line = 0, character = 0 }, ["end"] = { line = 2, character = 0 } }, newText = "x" },
  { range = { start = { line = 1, character = 0 }, ["end"] = { line = 3, character = 0 } }, newText = "y" },
} } }, "utf-8", function()
  return current
end)
H.contains(overlap or "", "overlap", "overlapping edits are refused")
local _, exists = edits.collect({ documentChanges = { { kind = "create", uri = uri } } }, "utf-8", function()
  return current
end)
H.contains(exists or "", "it exists", "creating an existing file is refused")
local _, renamed = edits.collect({ documentChanges = { { kind = "rename", oldUri = uri, newUri = new_uri } } },
  "utf-8", function()
    return current
  end)
H.contains(renamed or "", "renaming", "renames are refused")

H.done()
