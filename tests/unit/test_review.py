"""Review engine: ChangeSet → WorkspaceEdit → (partly) applied document → accepted hunks.

The edits are applied here the way a client does, with position decoding written straight from the
specification (not with lc_lsp.ranges), so a mistake in ranges.py cannot cancel itself out."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

import pytest
import pytest_lsp
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from agent.workspace import ChangeSet, FileChange
from lc_lsp import undo
from lc_lsp.merge3 import merge3
from lc_lsp.ranges import split_lines
from lc_lsp.review import (
    ClientEditCaps,
    accepted_hunks,
    applied_text,
    build_edit,
    propose,
    rebase,
    uncreatable,
    unified_diff,
)

ENCODINGS = ("utf-8", "utf-16", "utf-32")
VSCODE = ClientEditCaps(document_changes=True, change_annotations=True, create_files=True, encoding="utf-16")
NEOVIM = ClientEditCaps(document_changes=False, change_annotations=False, create_files=False, encoding="utf-8")
_UNIT = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}
_BREAK = re.compile(r"\r\n|\r|\n")


# ---------------------------------------------------------------- a client, as the spec describes it


def _offset(text: str, position: types.Position, encoding: str) -> int:
    """Strict decoding: the position must name a real line and fall on a character boundary."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    ends = [m.start() for m in _BREAK.finditer(text)] + [len(text)]
    assert position.line < len(starts), f"line {position.line} past the end"
    codec, size = _UNIT[encoding]
    at, units = starts[position.line], 0
    while units < position.character:
        assert at < ends[position.line], f"character {position.character} past the line end"
        units += len(text[at].encode(codec, "surrogatepass")) // size
        at += 1
    assert units == position.character, "position inside a character"
    return at


def apply_text_edits(text: str, edits: Sequence[types.TextEdit | types.AnnotatedTextEdit], encoding: str) -> str:
    """Apply LSP TextEdits like a client: every range refers to the original text; none may overlap."""
    spans = sorted(
        (_offset(text, e.range.start, encoding), _offset(text, e.range.end, encoding), e.new_text) for e in edits
    )
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert end <= start, "overlapping edits"
    for start, end, new_text in reversed(spans):
        assert start <= end
        text = text[:start] + new_text + text[end:]
    return text


def apply_workspace_edit(
    files: dict[str, str],
    versions: Mapping[str, int | None],
    edit: types.WorkspaceEdit,
    encoding: str,
    accept: set[str] | None = None,
) -> dict[str, str]:
    """Apply a WorkspaceEdit to {uri: text}; `accept` = annotation ids the user left ticked (all when
    None), as in VS Code's refactor preview."""
    files = dict(files)

    def ticked(annotation_id: str | None) -> bool:
        return accept is None or annotation_id is None or annotation_id in accept

    if edit.changes is not None:
        assert edit.document_changes is None
        for uri, edits in edit.changes.items():
            files[uri] = apply_text_edits(files[uri], edits, encoding)
        return files
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            assert change.options is not None and not change.options.overwrite and not change.options.ignore_if_exists
            if ticked(change.annotation_id):
                assert change.uri not in files, "CreateFile over an existing file"
                files[change.uri] = ""
            continue
        assert isinstance(change, types.TextDocumentEdit)
        uri = change.text_document.uri
        if uri not in files:
            continue  # its CreateFile was unticked
        assert change.text_document.version == versions.get(uri)
        ticked_edits: list[types.TextEdit | types.AnnotatedTextEdit] = []
        for e in change.edits:
            assert not isinstance(e, types.SnippetTextEdit), "snippet edits are never sent"
            if ticked(e.annotation_id if isinstance(e, types.AnnotatedTextEdit) else None):
                ticked_edits.append(e)
        files[uri] = apply_text_edits(files[uri], ticked_edits, encoding)
    return files


def uri(path: str) -> str:
    return f"file:///ws/{path}"


# ---------------------------------------------------------------- examples

LEAP = "def leap(year):\n    if year % 4:\n        return False\n    return True\n\n\nprint(leap(2000))\n"
LEAP_FIXED = (
    "def leap(year):\n"
    "    if year % 4 != 0:\n"
    "        return False\n"
    "    return year % 100 != 0 or year % 400 == 0\n"
    "\n\n"
    "print(leap(1900))\n"
    "print(leap(2000))\n"
)


def test_edit_applies_to_the_proposal_with_one_confirmed_annotation_per_hunk() -> None:
    proposal = propose(FileChange("leap.py", LEAP, LEAP_FIXED), LEAP, uri("leap.py"), 7)
    assert [h.id for h in proposal.hunks] == ["leap.py#1", "leap.py#2", "leap.py#3"]
    assert proposal.hunks[0].label == "leap.py: line 2 (+1 −1)"
    assert proposal.hunks[2].label == "leap.py: after line 6 (+1 −0)"

    edit, hunk_of = build_edit([proposal], VSCODE, session_label="lc: fix leap years")
    assert edit.changes is None
    [document_edit] = edit.document_changes  # type: ignore[misc]
    assert isinstance(document_edit, types.TextDocumentEdit)
    assert document_edit.text_document == types.OptionalVersionedTextDocumentIdentifier(uri=uri("leap.py"), version=7)
    assert all(isinstance(e, types.AnnotatedTextEdit) for e in document_edit.edits)

    annotations = edit.change_annotations or {}
    assert len(annotations) == len(proposal.hunks) == len(document_edit.edits)
    assert sorted(hunk_of.values()) == [h.id for h in proposal.hunks]
    labels = {h.id: h.label for h in proposal.hunks}
    for annotation_id, annotation in annotations.items():
        assert annotation.needs_confirmation is True
        assert annotation.description == "lc: fix leap years"
        assert annotation.label == labels[hunk_of[annotation_id]]

    applied = apply_workspace_edit({uri("leap.py"): LEAP}, {uri("leap.py"): 7}, edit, "utf-16")
    assert applied[uri("leap.py")] == LEAP_FIXED
    assert accepted_hunks(proposal, LEAP_FIXED) == ({"leap.py#1", "leap.py#2", "leap.py#3"}, set())


def test_new_file_is_created_then_filled() -> None:
    text = "x = 'héllo 😋'\n"
    proposal = propose(FileChange("pkg/new.py", None, text), None, uri("pkg/new.py"), None)
    assert proposal.created and proposal.current_text == ""
    assert [h.label for h in proposal.hunks] == ["pkg/new.py: new file (+1)"]

    edit, hunk_of = build_edit([proposal], VSCODE, session_label="s")
    create, fill = edit.document_changes  # type: ignore[misc]
    assert isinstance(create, types.CreateFile) and isinstance(fill, types.TextDocumentEdit)
    assert create.uri == uri("pkg/new.py")
    assert create.options == types.CreateFileOptions(overwrite=False, ignore_if_exists=False)
    assert fill.text_document.version is None
    [text_edit] = fill.edits
    # Unticking the one hunk drops both the creation and the text.
    assert create.annotation_id == text_edit.annotation_id  # type: ignore[union-attr]
    assert hunk_of == {create.annotation_id: "pkg/new.py#1"}

    assert apply_workspace_edit({}, {}, edit, "utf-16") == {uri("pkg/new.py"): text}
    assert apply_workspace_edit({}, {}, edit, "utf-16", accept=set()) == {}
    assert accepted_hunks(proposal, text) == ({"pkg/new.py#1"}, set())
    assert accepted_hunks(proposal, None) == (set(), {"pkg/new.py#1"})


def test_empty_new_file_needs_only_the_creation() -> None:
    proposal = propose(FileChange("empty.txt", None, ""), None, uri("empty.txt"), None)
    edit, _ = build_edit([proposal], VSCODE, session_label="s")
    [create] = edit.document_changes  # type: ignore[misc]
    assert isinstance(create, types.CreateFile)
    assert accepted_hunks(proposal, "") == ({"empty.txt#1"}, set())
    assert accepted_hunks(proposal, None) == (set(), {"empty.txt#1"})


def test_changes_map_when_the_client_has_no_document_changes() -> None:
    edited = propose(FileChange("leap.py", LEAP, LEAP_FIXED), LEAP, uri("leap.py"), 3)
    created = propose(FileChange("new.py", None, "pass\n"), None, uri("new.py"), None)
    edit, hunk_of = build_edit([edited, created], NEOVIM, session_label="s")
    assert edit.document_changes is None and edit.change_annotations is None
    assert hunk_of == {}
    assert list(edit.changes or {}) == [uri("leap.py")]  # a new file cannot be created this way…
    assert uncreatable([edited, created], NEOVIM) == [created]  # …so it is reported for a fallback
    assert all(type(e) is types.TextEdit for e in (edit.changes or {})[uri("leap.py")])
    applied = apply_workspace_edit({uri("leap.py"): LEAP}, {}, edit, "utf-8")
    assert applied == {uri("leap.py"): LEAP_FIXED}


def test_document_changes_without_annotation_support() -> None:
    caps = ClientEditCaps(document_changes=True, change_annotations=False, create_files=False, encoding="utf-32")
    edited = propose(FileChange("leap.py", LEAP, LEAP_FIXED), LEAP, uri("leap.py"), 2)
    created = propose(FileChange("new.py", None, "pass\n"), None, uri("new.py"), None)
    edit, hunk_of = build_edit([edited, created], caps, session_label="s")
    assert hunk_of == {} and edit.change_annotations is None
    [document_edit] = edit.document_changes  # type: ignore[misc]
    assert isinstance(document_edit, types.TextDocumentEdit)
    assert all(type(e) is types.TextEdit for e in document_edit.edits)
    assert uncreatable([edited, created], caps) == [created]


@pytest.mark.parametrize(("encoding", "end_column"), [("utf-16", 14), ("utf-8", 18), ("utf-32", 13)])
def test_non_ascii_ranges_are_exact_in_every_encoding(encoding: str, end_column: int) -> None:
    # The last line has no newline, so the hunk's range ends inside that line, after "héllo 😋 wörld".
    current = "# 😋\nhéllo 😋 wörld"
    proposed = "# 😋\nhello 😋 world\n"
    proposal = propose(FileChange("h.txt", current, proposed), current, uri("h.txt"), 1)
    caps = ClientEditCaps(True, True, True, encoding)
    edit, _ = build_edit([proposal], caps, session_label="s")
    [document_edit] = edit.document_changes  # type: ignore[misc]
    [text_edit] = document_edit.edits  # type: ignore[union-attr]
    assert text_edit.range == types.Range(
        start=types.Position(line=1, character=0), end=types.Position(line=1, character=end_column)
    )
    assert apply_workspace_edit({uri("h.txt"): current}, {uri("h.txt"): 1}, edit, encoding) == {uri("h.txt"): proposed}


def test_rebases_onto_the_users_typing_and_reports_conflicts() -> None:
    # The user typed a comment at the top and rewrote `return True` while the agent worked.
    current = "# user note\n" + LEAP.replace("    return True\n", "    return not year % 100 == 0\n")
    proposal = propose(FileChange("leap.py", LEAP, LEAP_FIXED), current, uri("leap.py"), 12)
    assert proposal.current_text == current and proposal.version == 12
    assert proposal.proposed_text == (
        "# user note\n"
        + LEAP_FIXED.replace("    return year % 100 != 0 or year % 400 == 0\n", "    return not year % 100 == 0\n")
    )
    [conflict] = proposal.conflicts
    assert conflict.old_lines == ("    return not year % 100 == 0\n",)
    assert conflict.new_lines == ("    return year % 100 != 0 or year % 400 == 0\n",)
    assert split_lines(current)[conflict.start_line] == conflict.old_lines[0]
    ids = [h.id for h in proposal.hunks + proposal.conflicts]
    assert len(set(ids)) == len(ids)

    edit, _ = build_edit([proposal], VSCODE, session_label="s")
    applied = apply_workspace_edit({uri("leap.py"): current}, {uri("leap.py"): 12}, edit, "utf-16")
    assert applied[uri("leap.py")] == proposal.proposed_text
    assert "# user note\n" in applied[uri("leap.py")]


def test_a_file_deleted_meanwhile_is_one_conflict_and_no_edit() -> None:
    proposal = propose(FileChange("leap.py", LEAP, LEAP_FIXED), None, uri("leap.py"), None)
    assert proposal.hunks == [] and not proposal.created
    [conflict] = proposal.conflicts
    assert conflict.new_lines == tuple(split_lines(LEAP_FIXED))
    edit, hunk_of = build_edit([proposal], VSCODE, session_label="s")
    assert edit.document_changes == [] and hunk_of == {}


def test_a_new_file_the_user_created_meanwhile_is_not_overwritten() -> None:
    same = propose(FileChange("n.py", None, "a\n"), "a\n", uri("n.py"), 1)
    assert (same.hunks, same.conflicts, same.created) == ([], [], False)
    other = propose(FileChange("n.py", None, "agent\n"), "user\n", uri("n.py"), 1)
    assert other.proposed_text == "user\n" and other.hunks == []
    assert [c.new_lines for c in other.conflicts] == [("agent\n",)]


def test_accepted_hunks_for_a_partly_applied_edit() -> None:
    proposal = propose(FileChange("leap.py", LEAP, LEAP_FIXED), LEAP, uri("leap.py"), 1)
    edit, hunk_of = build_edit([proposal], VSCODE, session_label="s")
    keep = {a for a, h in hunk_of.items() if h != "leap.py#2"}
    partly = apply_workspace_edit({uri("leap.py"): LEAP}, {uri("leap.py"): 1}, edit, "utf-16", accept=keep)
    text = partly[uri("leap.py")]
    assert accepted_hunks(proposal, text) == ({"leap.py#1", "leap.py#3"}, {"leap.py#2"})
    assert accepted_hunks(proposal, LEAP) == (set(), {"leap.py#1", "leap.py#2", "leap.py#3"})
    assert accepted_hunks(proposal, None) == (set(), {"leap.py#1", "leap.py#2", "leap.py#3"})

    # The client normalized the inserted line endings to the document's CRLF.
    crlf = LEAP.replace("\n", "\r\n")
    crlf_proposal = propose(FileChange("leap.py", crlf, LEAP_FIXED.replace("\n", "\r\n")), crlf, uri("leap.py"), 1)
    normalized = text.replace("\n", "\r\n").replace("print(leap(1900))\r\n", "print(leap(1900))\n")
    assert accepted_hunks(crlf_proposal, normalized) == ({"leap.py#1", "leap.py#3"}, {"leap.py#2"})

    # The user applied hunks 1 and 3, then kept typing elsewhere and inside hunk 3's line.
    typed = "import sys\n" + text.replace("print(leap(1900))\n", "print(leap(1900), file=sys.stderr)\n")
    assert accepted_hunks(proposal, typed) == ({"leap.py#1", "leap.py#3"}, {"leap.py#2"})
    typed = "import sys\n" + LEAP.replace("\n\nprint", "\n\n# hi\nprint")
    assert accepted_hunks(proposal, typed) == (set(), {"leap.py#1", "leap.py#2", "leap.py#3"})


def test_unified_diff_applies_and_names_hunks_and_conflicts() -> None:
    current = LEAP.replace("    return True\n", "    return True  # user\n")
    edited = propose(FileChange("leap.py", LEAP, LEAP_FIXED), current, uri("leap.py"), 1)
    created = propose(FileChange("new.txt", None, "one\ntwo"), None, uri("new.txt"), None)
    patch = unified_diff([edited, created])
    assert "Left out because these lines were edited while the agent worked:\n  leap.py#3 " in patch
    assert "--- a/leap.py\n+++ b/leap.py\n" in patch and "--- /dev/null\n+++ b/new.txt\n" in patch
    assert "@@ -0,0 +1,2 @@ new.txt#1\n+one\n+two\n\\ No newline at end of file\n" in patch
    assert apply_unified_diff({"leap.py": current, "new.txt": ""}, patch) == {
        "leap.py": edited.proposed_text,
        "new.txt": "one\ntwo",
    }


def apply_unified_diff(files: dict[str, str], patch: str) -> dict[str, str]:
    """A strict patch(1): context and removed lines must match exactly where the header says."""
    files = dict(files)
    lines = split_lines(patch)
    i = next(n for n, line in enumerate(lines) if line.startswith("--- "))
    while i < len(lines):
        path = lines[i + 1][len("+++ b/") :].rstrip("\n")
        old = split_lines(files[path])
        new: list[str] = []
        copied = 0
        i += 2
        while i < len(lines) and lines[i].startswith("@@ "):
            header = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", lines[i])
            assert header
            old_start, old_len = int(header[1]), int(header[2] or 1)
            new_start, new_len = int(header[3]), int(header[4] or 1)
            at = old_start - 1 if old_len else old_start
            new += old[copied:at]
            assert len(new) == (new_start - 1 if new_len else new_start)
            i += 1
            body: list[tuple[str, str]] = []
            olds = news = 0
            while olds < old_len or news < new_len or (i < len(lines) and lines[i].startswith("\\")):
                if lines[i].startswith("\\"):
                    kind, text = body.pop()
                    body.append((kind, text[:-1]))  # that line had no newline
                else:
                    body.append((lines[i][0], lines[i][1:]))
                    olds += lines[i][0] in " -"
                    news += lines[i][0] in " +"
                i += 1
            for kind, text in body:
                if kind in " -":
                    assert old[at] == text
                    at += 1
                if kind in " +":
                    new.append(text)
            assert (olds, news) == (old_len, new_len)
            copied = at
        files[path] = "".join(new + old[copied:])
    return files


def test_rebase_moves_hunks_onto_a_file_changed_on_disk_and_reports_collisions() -> None:
    proposal = propose(FileChange("leap.py", LEAP, LEAP_FIXED), LEAP, uri("leap.py"), None)
    assert rebase(proposal, LEAP, None) is proposal  # unchanged: nothing to do
    on_disk = "# header\n" + LEAP.replace("    return True\n", "    return True  # theirs\n")
    moved = rebase(proposal, on_disk, None)
    assert moved.current_text == on_disk and moved.version is None
    assert [h.start_line for h in moved.hunks] == [2, 7]  # one line further down
    (conflict,) = moved.conflicts
    assert conflict.old_lines == ("    return True  # theirs\n",) and conflict.label == "leap.py: line 5 (+1 −1)"
    assert len({h.id for h in [*moved.hunks, *moved.conflicts]}) == 3
    applied = apply_workspace_edit({uri("leap.py"): on_disk}, {}, build_edit([moved], NEOVIM, session_label="s")[0],
                                   "utf-8")[uri("leap.py")]
    assert applied == "# header\n" + LEAP_FIXED.replace(
        "    return year % 100 != 0 or year % 400 == 0\n", "    return True  # theirs\n")
    # A buffer opened meanwhile gets its version; a new file that now exists becomes a conflict.
    assert rebase(proposal, LEAP, 4).version == 4
    created = propose(FileChange("new.py", None, "x = 1\n"), None, uri("new.py"), None)
    assert rebase(created, "y = 2\n", None).hunks == []


def _applied(before: str | None, after: str) -> undo.AppliedFile:
    return undo.AppliedFile("leap.py", uri("leap.py"), [undo.AppliedStep(before, after)])


def test_undo_plan_keeps_the_users_lines_and_reports_them() -> None:
    current = "# mine\n" + LEAP_FIXED.replace("print(leap(1900))\n", "print(leap(1904))\n")
    plan = undo.plan(_applied(LEAP, LEAP_FIXED), current)
    assert plan.target == "# mine\n" + LEAP.replace("print(leap(2000))\n", "print(leap(1904))\nprint(leap(2000))\n")
    assert plan.kept == [undo.Kept(path="leap.py", where="line 8", reason="you changed them since")]
    assert undo.message("fix", ["leap.py"], plan.kept, []) == (
        "little-coder: undo of fix: kept your edits in leap.py line 8; undid the rest.")


def test_undo_plan_of_a_created_file() -> None:
    assert undo.plan(_applied(None, "x = 1\n"), "x = 1\n").target is None  # untouched: delete it
    edited = undo.plan(_applied(None, "x = 1\n"), "x = 1\ny = 2\n")
    assert edited.target == "x = 1\ny = 2\n" and not edited.changes
    assert [k.where for k in edited.kept] == [undo.WHOLE_FILE]
    gone = undo.plan(_applied(None, "x = 1\n"), None)
    assert not gone.changes and gone.kept == []
    deleted = undo.plan(_applied(LEAP, LEAP_FIXED), None)
    assert not deleted.changes and deleted.kept[0].reason == "you deleted it since"


def test_undo_plan_replays_several_steps_backwards() -> None:
    first, second = LEAP.replace("year % 4", "year % 4 != 0"), LEAP_FIXED
    applied = undo.AppliedFile("leap.py", uri("leap.py"), [undo.AppliedStep(LEAP, first),
                                                          undo.AppliedStep(first, second)])
    assert undo.plan(applied, second).target == LEAP
    created = undo.AppliedFile("n.py", uri("n.py"), [undo.AppliedStep(None, "a\n"), undo.AppliedStep("a\n", "b\n")])
    assert undo.plan(created, "b\n").target is None


def test_undo_message_names_what_the_editor_did_not_apply() -> None:
    assert undo.message("fix", ["a.py"], [], ["b.py"], "disk full") == (
        "little-coder: undo of fix: undid its changes to a.py; the editor did not apply the undo to b.py "
        "(disk full); they are unchanged and still undoable.")
    assert undo.message("fix", [], [], []) == "little-coder: undo of fix: nothing was left to undo."


def test_client_caps_from_real_client_presets() -> None:
    vscode = ClientEditCaps.from_client(pytest_lsp.client_capabilities("visual-studio-code"), "utf-16")
    assert vscode == ClientEditCaps(True, True, True, "utf-16")
    neovim = ClientEditCaps.from_client(pytest_lsp.client_capabilities("neovim"), "utf-8")
    assert (neovim.document_changes, neovim.change_annotations) == (False, False)
    assert ClientEditCaps.from_client(types.ClientCapabilities(), "utf-16") == ClientEditCaps(
        False, False, False, "utf-16"
    )


# ---------------------------------------------------------------- properties

LINE = st.sampled_from(["a", "b", "é", "😋 x", "wörld", "", "  pass", "中文"])
ENDING = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])


@st.composite
def line_lists(draw: st.DrawFn, max_size: int = 8) -> list[str]:
    return [draw(LINE) + draw(ENDING) for _ in range(draw(st.integers(0, max_size)))]


def render(lines: list[str], open_end: bool) -> str:
    text = "".join(lines)
    return text.rstrip("\r\n") if open_end else text


@st.composite
def edit_sequences(draw: st.DrawFn, base_lines: list[str]) -> list[str]:
    lines = list(base_lines)
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, len(lines)))
        end = draw(st.integers(start, min(len(lines), start + 3)))
        lines[start:end] = draw(line_lists(max_size=3))  # insert (start == end), delete, replace
    return lines


@st.composite
def changes(draw: st.DrawFn) -> FileChange:
    base_lines = draw(line_lists())
    base = render(base_lines, draw(st.booleans()))
    proposed = render(draw(edit_sequences(base_lines)), draw(st.booleans()))
    changeset = ChangeSet()
    changeset.record("f.txt", base, proposed)
    if not changeset:
        return FileChange("f.txt", base, base)  # nothing to review: still a valid change
    return changeset.changes["f.txt"]


@settings(max_examples=250, deadline=None)
@given(change=changes(), encoding=st.sampled_from(ENCODINGS), data=st.data())
def test_round_trip_and_any_subset_of_hunks_is_recognized(
    change: FileChange, encoding: str, data: st.DataObject
) -> None:
    assert change.base is not None
    proposal = propose(change, change.base, uri("f.txt"), 5)
    assert proposal.conflicts == []
    caps = ClientEditCaps(True, True, True, encoding)
    edit, hunk_of = build_edit([proposal], caps, session_label="s")
    files, versions = {uri("f.txt"): change.base}, {uri("f.txt"): 5}
    assert apply_workspace_edit(files, versions, edit, encoding)[uri("f.txt")] == change.proposed

    chosen = data.draw(st.sets(st.sampled_from(sorted(hunk_of)))) if hunk_of else set()
    partly = apply_workspace_edit(files, versions, edit, encoding, accept=chosen)[uri("f.txt")]
    all_ids = {h.id for h in proposal.hunks}
    expected = {hunk_of[a] for a in chosen}
    assert accepted_hunks(proposal, partly) == (expected, all_ids - expected)
    assert applied_text(proposal, expected) == partly  # what undo records as written


@settings(max_examples=200, deadline=None)
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS))
def test_rebased_round_trip_keeps_every_user_line(data: st.DataObject, encoding: str) -> None:
    base_lines = data.draw(line_lists())
    base = render(base_lines, False)
    proposed = render(data.draw(edit_sequences(base_lines)), data.draw(st.booleans()))
    current = render(data.draw(edit_sequences(base_lines)), data.draw(st.booleans()))
    proposal = propose(FileChange("f.txt", base, proposed), current, uri("f.txt"), 9)
    assert proposal.proposed_text == merge3(base, proposed, current).text

    edit, hunk_of = build_edit([proposal], ClientEditCaps(True, True, True, encoding), session_label="s")
    files, versions = {uri("f.txt"): current}, {uri("f.txt"): 9}
    applied = apply_workspace_edit(files, versions, edit, encoding)[uri("f.txt")]
    assert applied == proposal.proposed_text
    chosen = data.draw(st.sets(st.sampled_from(sorted(hunk_of)))) if hunk_of else set()
    partly = apply_workspace_edit(files, versions, edit, encoding, accept=chosen)[uri("f.txt")]
    expected = {hunk_of[a] for a in chosen}
    assert accepted_hunks(proposal, partly) == (expected, {h.id for h in proposal.hunks} - expected)
    user_lines, base_set = split_lines(current), set(split_lines(base))
    assert {line for line in user_lines if line not in base_set} <= set(split_lines(applied))
    for conflict in proposal.conflicts:
        start = conflict.start_line
        assert tuple(user_lines[start : start + len(conflict.old_lines)]) == conflict.old_lines


@settings(max_examples=100, deadline=None)
@given(change=changes())
def test_changes_fallback_round_trip(change: FileChange) -> None:
    assert change.base is not None
    proposal = propose(change, change.base, uri("f.txt"), None)
    edit, _ = build_edit([proposal], NEOVIM, session_label="s")
    applied = apply_workspace_edit({uri("f.txt"): change.base}, {}, edit, "utf-8")
    assert applied[uri("f.txt")] == change.proposed


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_undo_reverts_the_agent_and_never_the_user(data: st.DataObject) -> None:
    before_lines = data.draw(line_lists())
    before = render(before_lines, data.draw(st.booleans()))
    after_lines = data.draw(edit_sequences(split_lines(before)))
    after = render(after_lines, data.draw(st.booleans()))
    assert undo.plan(_applied(before, after), after).target == before  # untouched since: exactly back

    current = render(data.draw(edit_sequences(split_lines(after))), data.draw(st.booleans()))
    plan = undo.plan(_applied(before, after), current)
    assert plan.target is not None
    after_set = set(split_lines(after))
    assert {line for line in split_lines(current) if line not in after_set} <= set(split_lines(plan.target))
