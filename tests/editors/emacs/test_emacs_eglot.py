"""A generic LSP client: real Emacs 28 with Debian's Eglot 1.9 in tmux, against the real language server and the
scripted model server, set up as the README says (init.el, which loads clients/emacs/little-coder-eglot.el).

Eglot announces neither little-coder's in-editor review nor change annotations, so it gets the fallback: the code
action runs the command, progress shows in Eglot's mode-line indicator, the server asks Apply / Show diff / Discard,
Eglot asks its own "Server wants to edit … Proceed?", the edit lands, and the summary follows; a conflict is one
more question. Screens are kept under test-artifacts/emacs/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest

from tests.editors.neovim.test_neovim import Tmux, editor_env
from tests.fakes.model_server import Call, Reply, ScriptedModelServer

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts" / "emacs"
REQUIRE_VARIABLE = "LITTLE_CODER_REQUIRE_TOOLCHAINS"
INSTALL_HINT = "run scripts/deps/base.sh (Debian's emacs-nox and elpa-eglot, and tmux)"
MODEL = "qwen3.5:9b"

STUB = '''"""Leap years."""


def is_leap(year: int) -> bool:
    """True for leap years of the Gregorian calendar."""
    raise NotImplementedError
'''
BODY = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"
IMPLEMENTED = STUB.replace("    raise NotImplementedError\n", BODY)


def missing(reason: str) -> NoReturn:
    """Skip without the editor, unless the toolchains are required (`make test`): then it is a failure."""
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}: {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"{reason}: {INSTALL_HINT}")


@pytest.fixture(scope="module")
def emacs() -> str:
    """Emacs 28 or newer that finds Eglot the way a user's does (Debian's site-start adds the elpa packages)."""
    found = shutil.which("emacs")
    if found is None:
        missing("emacs not found")
    done = subprocess.run([found, "--batch", "--eval", "(progn (require 'eglot) (princ emacs-major-version))"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        missing(f"Eglot does not load in {found}: {done.stderr.strip()[-300:]}")
    if int(done.stdout.strip() or 0) < 28:
        missing(f"{found} is Emacs {done.stdout.strip()}; Eglot needs Emacs 28 or newer")
    return found


@pytest.fixture(scope="module")
def tmux() -> str:
    found = shutil.which("tmux")
    if found is None:
        missing("tmux not found")
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "leap.py").write_text(STUB, encoding="utf-8")
    return root


def edit_body(reasoning: str = "", tokens_per_second: float | None = None) -> Reply:
    """The model's turn that implements the stub."""
    return Reply(reasoning=reasoning, tokens_per_second=tokens_per_second,
                 calls=[Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError\n",
                                      "new_string": BODY})])


def mode_line(screen: str) -> str:
    """The selected window's mode line: the line with Eglot's indicator."""
    return next((line for line in screen.splitlines() if "[eglot:" in line), "")


def save(name: str, screen: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(screen, encoding="utf-8")


class Emacs:
    """`emacs -nw` on leap.py (cursor on the stub's body) in a private tmux server, set up by init.el."""

    def __init__(self, emacs: str, tmux: str, tmp_path: Path, workspace: Path, model: ScriptedModelServer) -> None:
        self.tmux = tmux
        self.messages = tmp_path / "messages.txt"
        self.events = tmp_path / "events.txt"
        settings = {"backend": "ollama", "baseUrl": model.base_url, "model": MODEL, "stallTimeout": 10,
                    "connectTimeout": 2}
        self.env = editor_env(tmp_path, LC_TEST_REPO=str(ROOT), LC_TEST_SETTINGS=json.dumps(settings),
                              LC_TEST_MESSAGES=str(self.messages), LC_TEST_EVENTS=str(self.events),
                              LANG="C.UTF-8", TERM="xterm-256color")
        self.term = Tmux(tmux, f"little-coder-emacs-{os.getpid()}-{tmp_path.name}", self.env)
        # -q: no user init file, but Debian's site-start, which puts elpa-eglot on the load path as for a user.
        command = f"cd {workspace} && exec {emacs} -nw -q -l {HERE / 'init.el'} +6 leap.py"
        self.term("-u", "new-session", "-d", "-s", "lc", "-x", "160", "-y", "32", command)
        self.term.wait_for(lambda s: "[eglot:ws]" in mode_line(s), "Eglot connected to little-coder")

    def implement(self) -> str:
        """M-x eglot-code-actions on the stub, `?` to list what is offered, RET for the default; the list."""
        self.term.keys("M-x")
        self.term.keys("eglot-code-actions", "Enter")
        self.term.wait_for(lambda s: "[eglot] Pick an action" in s, "the code action prompt")
        self.term.keys("?")
        offered = self.term.wait_for(lambda s: "Possible completions" in s, "the list of code actions")
        self.term.keys("Enter")
        return offered

    def choose(self, option: str) -> None:
        """Answer the minibuffer question (it comes prefilled with the first option) with `option`."""
        self.term.keys("C-a", "C-k")
        self.term.keys(option, "Enter")

    def save_and_quit(self) -> str:
        """Save the buffer, quit, and return *Messages* (Eglot's events are in `self.events`)."""
        self.term.keys("C-x", "C-s")
        self.term.wait_for(lambda s: "Wrote " in s, "the buffer saved")
        self.term.keys("M-x")
        self.term.keys("kill-emacs", "Enter")
        deadline = time.monotonic() + 10
        while not self.messages.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"Emacs did not exit within 10 s; the screen:\n{self.term.screen()}")
            time.sleep(0.1)
        return self.messages.read_text(encoding="utf-8")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.term.socket, "kill-server"], env=self.env, capture_output=True,
                       timeout=30)


def reports(log: str, after: str = "") -> list[str]:
    """What the server showed (window/showMessage), in order, from the line `after` on."""
    return re.findall(r"^\[eglot\] Server reports \(type=\d\): (.*)$", log[log.index(after):], re.MULTILINE)


@pytest.mark.slow
def test_fallback_review_in_emacs_eglot(emacs: str, tmux: str, tmp_path: Path, workspace: Path) -> None:
    script = [
        # Paced so that the thinking is on screen for a few seconds.
        edit_body(reasoning="Every fourth year, but not centuries unless divisible by 400. " * 6,
                  tokens_per_second=30),
        Reply("Implemented is_leap."),
    ]
    with ScriptedModelServer("ollama", script, model=MODEL) as model:
        editor = Emacs(emacs, tmux, tmp_path, workspace, model)
        term = editor.term
        try:
            offered = editor.implement()
            save("1_code_action.txt", offered)
            assert "Ask little-coder to implement `is_leap`" in offered

            # Progress in Eglot's mode-line indicator, from `$/progress`, while the model thinks.
            progress = term.wait_for(lambda s: "· turn 1/20 · thinking" in mode_line(s), "progress in the mode line")
            save("2_progress.txt", progress)
            assert "[eglot:ws/little-coder: implement `is_leap` · turn 1/20 · thinking" in mode_line(progress)

            # No change annotations: the server asks first. Show diff, then Apply.
            asked = term.wait_for(lambda s: "Choose an option: Apply" in s, "the Apply / Show diff / Discard question")
            save("3_apply_question.txt", asked)
            assert "little-coder: implement `is_leap` — 1 file, +1 −1. Apply?" in asked
            assert "· turn" not in mode_line(asked)  # the progress ended with the session
            editor.choose("Show diff")
            diff = term.wait_for(lambda s: "+" + BODY.rstrip() in s and "Choose an option: Apply" in s,
                                 "the diff beside the question again")
            save("4_diff.txt", diff)
            assert "-    raise NotImplementedError" in diff
            assert "(Diff)" in diff  # a plain diff buffer, not one the language server is told about
            term.keys("Enter")

            # Then Eglot itself confirms the workspace edit before it touches the buffer.
            confirm = term.wait_for(lambda s: "Server wants to edit:" in s and "Proceed? (y or n)" in s,
                                    "Eglot's confirmation of the edit")
            save("5_confirm_edit.txt", confirm)
            assert f"{workspace}/leap.py" in confirm
            term.keys("y")

            applied = term.wait_for(lambda s: "Applied the change." in s, "the summary")
            save("6_applied.txt", applied)
            log = editor.save_and_quit()
        finally:
            editor.close()
    save("messages.txt", log)
    events = editor.events.read_text(encoding="utf-8")
    save("events.txt", events)

    assert (workspace / "leap.py").read_text(encoding="utf-8") == IMPLEMENTED
    # The code action carried the command; Eglot ran it and the server answered at once with the session.
    assert ':command "littleCoder.implement"' in events and ':method "workspace/executeCommand"' in events, events
    assert re.search(r':result\s+\(:sessionId "\w+"\)', events), events
    everything = reports(log)
    assert not any("internal error" in r or "littleCoder." in r for r in everything), everything
    # The summary follows the edit and says what landed: Eglot's change reached the server in time.
    summary = reports(log, after="[eglot] Edit successful!")
    assert summary == ["little-coder: implement `is_leap` — Applied the change."], log
    assert len(model.requests) == 2


@pytest.mark.slow
def test_conflict_answered_in_emacs(emacs: str, tmux: str, tmp_path: Path, workspace: Path) -> None:
    script = [
        edit_body(),
        # The agent keeps thinking after its edit: the user changes the same line meanwhile.
        Reply("Implemented is_leap.", reasoning="Checking the century rule once more. " * 12, tokens_per_second=30),
    ]
    with ScriptedModelServer("ollama", script, model=MODEL) as model:
        editor = Emacs(emacs, tmux, tmp_path, workspace, model)
        term = editor.term
        try:
            editor.implement()
            term.wait_for(lambda s: "· turn 2/20" in mode_line(s), "the agent's second turn")
            term.keys("C-a", "C-k")
            term.keys("    return False")
            asked = term.wait_for(lambda s: "Choose an option: Keep mine" in s, "the conflict question")
            save("conflict_1_question.txt", asked)
            assert "you and the agent both changed leap.py: line 6" in asked
            assert "Yours:" in asked and "The agent's:" in asked and BODY.strip() in asked
            editor.choose("Take the agent's")
            term.wait_for(lambda s: "Proceed? (y or n)" in s, "Eglot's confirmation of the edit")
            term.keys("y")
            applied = term.wait_for(lambda s: "taken over yours" in s, "the summary")
            save("conflict_2_applied.txt", applied)
            log = editor.save_and_quit()
        finally:
            editor.close()
    save("conflict_messages.txt", log)

    assert (workspace / "leap.py").read_text(encoding="utf-8") == IMPLEMENTED
    summary = reports(log, after="[eglot] Edit successful!")
    assert len(summary) == 1 and "The agent's version taken over yours: leap.py: line 6" in summary[0], log
