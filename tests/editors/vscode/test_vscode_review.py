"""The in-editor review (littleCoder/review) end to end, in real VS Code (code-server): the first Ctrl+.
while the server is still starting, a session during which the user types on the agent's lines, then
the review — defaults, per-hunk accept/reject, the three ways of a conflict, editing the proposal, the
user typing in the file under review, the dependency warning, the selection's re-run tests, Apply —
once with auto-save off and once with auto-save on. Screenshots go to test-artifacts/vscode/review-*.

The code-server harness (fixtures, workspace, scenario runner) is test_vscode_e2e.py's; the scenarios
are ui/review.js.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors.vscode.test_vscode_e2e import (
    MODEL,
    CodeServer,
    code_server,
    make_workspace,
    model_settings,
    run_scenario,
    tools,
)
from tests.fakes.model_server import Call, Reply, ScriptedModelServer

__all__ = ["code_server", "tools"]  # the fixtures, imported for pytest to find here

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TESTS = (ROOT / "examples" / "leap" / "test_leap.py").read_text(encoding="utf-8")

CALENDAR = '''"""Calendar helpers."""

import math


def is_leap(year: int) -> bool:
    """Return True when `year` is a leap year."""
    raise NotImplementedError


def days_in(year: int) -> int:
    """How many days `year` has."""
    return 365
'''
# The agent's four changes: a module docstring (E), an import (A), is_leap's body using it (B, depends
# on A) and days_in's body (D), the line the user also types on while the agent works (a conflict).
DOCSTRING_OLD, DOCSTRING_NEW = '"""Calendar helpers."""\n', '"""Calendar helpers: leap years and days."""\n'
IMPORT_OLD, IMPORT_NEW = "import math\n", "import calendar\nimport math\n"
BODY_OLD, BODY_NEW = "    raise NotImplementedError\n", "    return calendar.isleap(year)\n"
DAYS_OLD, DAYS_NEW = "    return 365\n", "    return 366 if is_leap(year) else 365\n"
USER_DAYS = "    return 365  # common year\n"
USER_BODY = "    raise NotImplementedError  # todo\n"
EDIT_NOTE = "  # Gregorian rules"
REVIEW_NOTE = "# checked by hand\n"


def review_replies() -> list[Reply]:
    """Turn 1 makes the four changes, turn 2 runs the tests (the delay before it is when the user
    types on the agent's lines), turn 3 ends. The session's last test command is the pytest run."""
    edits = [Call("Edit", {"file_path": "leap.py", "old_string": old, "new_string": new})
             for old, new in ((DOCSTRING_OLD, DOCSTRING_NEW), (IMPORT_OLD, IMPORT_NEW), (BODY_OLD, BODY_NEW),
                              (DAYS_OLD, DAYS_NEW))]
    return [
        Reply(delay=1.0, calls=edits),
        Reply(delay=7.0, calls=[Call("Bash", {"command": "python -m pytest -q"})]),
        Reply("Implemented is_leap with the calendar module and days_in with it.", delay=0.5),
    ]


def slow_server(tmp_path: Path) -> Path:
    """`little-coder` that takes 6 s to start: the first Ctrl+. certainly comes while it starts."""
    wrapper = tmp_path / "slow-little-coder"
    wrapper.write_text(f'#!/bin/sh\nsleep 6\nexec "{Path(sys.prefix) / "bin" / "little-coder"}" "$@"\n',
                       encoding="utf-8")
    wrapper.chmod(0o755)
    return wrapper


def review_session(code_server: CodeServer, tmp_path: Path, prefix: str, auto_save: bool,
                   **settings: Any) -> tuple[dict[str, Any], Path, list[dict[str, Any]]]:
    with ScriptedModelServer("ollama", review_replies(), model=MODEL) as model:
        workspace = make_workspace(
            tmp_path, {"leap.py": CALENDAR, "test_leap.py": TESTS},
            model_settings(model, **{"files.autoSave": "afterDelay" if auto_save else "off",
                                     "files.autoSaveDelay": 500, "diffEditor.renderSideBySide": False,
                                     **settings}),
            venv=True,
        )
        seen = run_scenario(code_server, "reviewAutoSaveOn" if auto_save else "reviewAutoSaveOff", workspace, prefix,
                            userDays=USER_DAYS.rstrip("\n"), userBody=USER_BODY.rstrip("\n"), editNote=EDIT_NOTE,
                            reviewNote=REVIEW_NOTE.rstrip("\n"))
        requests = model.requests
    return seen, workspace, requests


def rows(seen: dict[str, Any], key: str) -> str:
    """The session view's hunk rows ("leap.py: line 8 (+1 −1)accepted, edited"), one a line."""
    return "\n".join(row for row in seen[key] if row.startswith("leap.py: "))


def test_review_in_the_editor_with_auto_save_off(code_server: CodeServer, tmp_path: Path) -> None:
    seen, workspace, _ = review_session(code_server, tmp_path, "review-autosave-off", auto_save=False,
                                        **{"littleCoder.server.command": str(slow_server(tmp_path))})

    # The first Ctrl+. came while the server was starting, and offered the action.
    assert "little-coder: starting server" in seen["statusAtFirstCtrlDot"]
    assert any("Ask little-coder to implement `is_leap`" in item for item in seen["firstMenu"])

    # The review opened in the editor: changes accepted, the conflict at "mine" with its reason.
    opened = rows(seen, "treeOpened")
    assert opened.count("accepted") == 3 and "conflict: keeping yours" in opened
    assert any(row.startswith("leap.py3 of 4 applied") for row in seen["treeOpened"])
    assert any("you edited" in lens for lens in seen["lensesOpened"])
    assert any(lens == "Keep mine" for lens in seen["lensesOpened"]) and "Accept" in seen["lensesOpened"]
    assert "1 of 4 · accepted" in seen["itemOpened"]
    # Nothing reached the file before Apply (the user's own typing is unsaved: auto-save is off).
    assert seen["diskBeforeApply"] == CALENDAR

    # Per hunk: the docstring rejected; the conflict each way, shown in the proposal.
    assert "rejected" in rows(seen, "treeRejected")
    assert "return 366 if is_leap(year) else 365" in seen["proposalAgent"]
    assert "# common year" not in seen["proposalAgent"]
    assert "# common year" in seen["proposalBoth"] and "return 366 if" in seen["proposalBoth"]
    assert "# common year" in seen["proposalMine"] and "return 366 if" not in seen["proposalMine"]

    # Editing the proposal inside a hunk is an edit of it; outside every hunk it is refused.
    assert "accepted, edited" in rows(seen, "treeEdited")
    assert "only the agent's changes can be edited" in seen["refusedEdit"]

    # The user typed in the file under review: the review stayed, with every decision and edit.
    after_typing = rows(seen, "treeAfterTyping")
    assert "rejected" in after_typing and "accepted, edited" in after_typing
    assert "conflict: keeping both" in after_typing

    # Rejecting the import the body uses: warned before applying; the selection's tests fail.
    assert "uses calendar" in seen["dependencyWarning"] and "leaves out" in seen["dependencyWarning"]
    assert "NameError" in seen["failedTest"] or "fails with your selection" in seen["failedTest"]
    assert "fails with your selection" in seen["testShownInReview"]

    # Apply with the import back: the selection's tests pass, exactly the chosen hunks land.
    assert "passed with your selection" in seen["passedTest"]
    expected = (CALENDAR.replace(IMPORT_OLD, IMPORT_NEW)
                .replace(BODY_OLD, BODY_NEW.rstrip("\n") + EDIT_NOTE + "\n")
                .replace(DAYS_OLD, USER_DAYS + DAYS_NEW)
                .replace("\n\n\ndef days_in", "\n\n" + REVIEW_NOTE + "def days_in"))
    assert seen["dirtyAfterApply"], "with auto-save off the applied review leaves leap.py modified"
    assert (workspace / "leap.py").read_text(encoding="utf-8") == expected
    assert "Revise…" in seen["summaryButtons"]
    assert seen["reviewGone"]


def test_review_with_auto_save_on_survives_typing(code_server: CodeServer, tmp_path: Path) -> None:
    seen, workspace, _ = review_session(code_server, tmp_path, "review-autosave-on", auto_save=True)

    # Auto-save wrote the user's lines while the agent worked: both became conflicts, nothing deleted.
    opened = rows(seen, "treeOpened")
    assert opened.count("conflict: keeping yours") == 2 and opened.count("accepted") == 2
    # Closed: nothing applied, nothing rejected, and it reopens as it was proposed.
    assert "none was rejected" in seen["closedSummary"] and "Reopen review" in seen["closedSummary"]
    assert rows(seen, "treeReopened") == opened
    assert rows(seen, "treeAllRejected").count("rejected") == 2
    # Typing (auto-saved) during the review kept it open and its decisions.
    assert "conflict: taking the agent's" in rows(seen, "treeAfterTyping")
    # The body conflict taken from the agent, the days conflict kept as the user's: tested, then applied.
    assert "passed with your selection" in seen["passedTest"]
    expected = (CALENDAR.replace(DOCSTRING_OLD, DOCSTRING_NEW).replace(IMPORT_OLD, IMPORT_NEW)
                .replace(BODY_OLD, BODY_NEW).replace(DAYS_OLD, USER_DAYS)
                .replace("\n\n\ndef days_in", "\n\n" + REVIEW_NOTE + "def days_in"))
    assert seen["diskAfterApply"] == expected
    assert seen["dirtyAfterApply"] == []
    # Undo (auto-saved too) takes back the agent's changes and keeps the user's lines; its message does
    # not ask to save files that are saved.
    assert "save" not in seen["undoMessage"].lower()
    typed = (CALENDAR.replace(BODY_OLD, USER_BODY).replace(DAYS_OLD, USER_DAYS)
             .replace("\n\n\ndef days_in", "\n\n" + REVIEW_NOTE + "def days_in"))
    assert (workspace / "leap.py").read_text(encoding="utf-8") == typed
