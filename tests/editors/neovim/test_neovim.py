"""The Neovim plugin (clients/neovim) in real Neovim 0.11: headless Lua tests against the real language
server and the scripted model server, and one test of the real TUI in tmux showing the review tab.

Each Lua test runs as `nvim --headless --clean -u NONE --cmd 'set rtp+=clients/neovim' -l test_x.lua`
with paths and URLs in LC_TEST_* variables; it prints its progress and exits non-zero on failure. The
scripted model server runs in this process, so the tests read the requests it got directly. Outputs
and TUI screens are kept under test-artifacts/neovim/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import Call, Reply, ScriptedModelServer

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
PLUGIN = ROOT / "clients" / "neovim"
ARTIFACTS = ROOT / "test-artifacts" / "neovim"
NVIM_VERSION = "0.11"
MODEL = "qwen3.5:9b"
SERVER_CMD = [sys.executable, "-m", "lc_lsp"]

STUB = '''"""Leap years."""


def is_leap(year: int) -> bool:
    """True for leap years of the Gregorian calendar."""
    raise NotImplementedError


def describe(year: int) -> str:
    return "leap" if is_leap(year) else "common"
'''
BODY = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"
LABEL_OLD = '    return "leap" if is_leap(year) else "common"\n'
LABEL_NEW = '    return "leap year" if is_leap(year) else "common year"\n'
TESTS = "from leap import is_leap\n\n\ndef test_is_leap() -> None:\n    assert is_leap(2000)\n"
ACCEPTED = STUB.replace("    raise NotImplementedError\n", BODY)  # the label change is rejected


def leap_script() -> list[Reply]:
    """Write on the existing file (refused by the write guard), two Edits, a new test file."""
    return [
        Reply(reasoning="The stub raises; the rule is every 4 years except centuries not divisible by 400.",
              calls=[Call("Write", {"file_path": "leap.py", "content": "def is_leap(year):\n    return True\n"})]),
        Reply(calls=[Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError\n",
                                   "new_string": BODY})]),
        Reply(calls=[Call("Edit", {"file_path": "leap.py", "old_string": LABEL_OLD, "new_string": LABEL_NEW})]),
        Reply(calls=[Call("Write", {"file_path": "test_leap.py", "content": TESTS})]),
        Reply("Implemented is_leap, reworded describe() and added a test."),
        # The revision (after the user rejected the describe() change):
        Reply("The label stays as it was."),
        # The question about the selected lines:
        Reply('It returns "leap" or "common".'),
    ]


@pytest.fixture(scope="session")
def nvim() -> Path:
    """The Neovim 0.11 that scripts/deps/neovim.sh puts in the virtualenv."""
    candidates = [Path(sys.executable).parent / "nvim", shutil.which("nvim")]
    for candidate in candidates:
        if candidate is None or not Path(candidate).is_file():
            continue
        first = subprocess.run([str(candidate), "--version"], capture_output=True, text=True, timeout=30).stdout
        if first.startswith(f"NVIM v{NVIM_VERSION}."):
            return Path(candidate)
    pytest.fail(f"nvim {NVIM_VERSION} not found next to {sys.executable} or on PATH: run scripts/deps/neovim.sh")


@pytest.fixture(scope="session")
def tmux() -> str:
    found = shutil.which("tmux")
    if found is None:
        pytest.fail("tmux not found: run scripts/deps/neovim.sh")
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)  # the root marker the plugin looks for
    (root / "leap.py").write_text(STUB, encoding="utf-8")
    return root


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer("ollama", leap_script(), model=MODEL) as server:
        yield server


def settings_for(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"backend": "ollama", "baseUrl": base_url, "model": MODEL, "stallTimeout": 10, "connectTimeout": 2,
            **extra}


def editor_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """A clean environment: no user config or state, our venv first on PATH, the repo importable."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("LITTLE_CODER_")}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "LC_TEST_SERVER_CMD": json.dumps(SERVER_CMD),
        **values,
    })
    return env


def run_lua(nvim: Path, test: str, env: dict[str, str], cwd: Path, timeout: float = 90) -> str:
    """Run one Lua test file; its output is returned and kept as an artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    command = [str(nvim), "--headless", "--clean", "-u", "NONE", "--cmd", f"set rtp+={PLUGIN}", "-l", str(HERE / test)]
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        (ARTIFACTS / f"{Path(test).stem}.log").write_text(output, encoding="utf-8")
        pytest.fail(f"{test} did not finish within {timeout} s; output so far:\n{output}")
    output = done.stdout + ("\n--- stderr ---\n" + done.stderr if done.stderr.strip() else "")
    (ARTIFACTS / f"{Path(test).stem}.log").write_text(output, encoding="utf-8")
    assert done.returncode == 0, f"{test} failed (exit {done.returncode}):\n{output}"
    return output


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- tests ---------------------------------------------------------------------------------------


def test_plugin_logic(nvim: Path, tmp_path: Path) -> None:
    output = run_lua(nvim, "test_units.lua", editor_env(tmp_path), tmp_path, timeout=30)
    assert output.startswith("OK")


@pytest.mark.slow
def test_review_accept_reject_revise(nvim: Path, tmp_path: Path, workspace: Path,
                                     model: ScriptedModelServer) -> None:
    expected = tmp_path / "expected.py"
    expected.write_text(ACCEPTED, encoding="utf-8")
    expected_tests = tmp_path / "expected_tests.py"
    expected_tests.write_text(TESTS, encoding="utf-8")
    stub = tmp_path / "stub.py"
    stub.write_text(STUB, encoding="utf-8")
    env = editor_env(tmp_path, LC_TEST_WORKSPACE=str(workspace), LC_TEST_EXPECTED=str(expected), LC_TEST_STUB=str(stub),
                     LC_TEST_EXPECTED_TESTS=str(expected_tests),
                     LC_TEST_SETTINGS=json.dumps(settings_for(model.base_url)))
    output = run_lua(nvim, "test_review.lua", env, workspace)

    # The revision's request carries the rejected hunk, its diff and the user's comment.
    assert re.search(r"^REVISED (\w+)$", output, re.MULTILINE), output
    revise_request = model.requests[5]
    feedback = next((m["content"] for m in revise_request["messages"]
                     if m["role"] == "user" and "The user reviewed your changes" in str(m["content"])), "")
    # The model is told exactly what the user read (test_review.lua checks that message).
    assert "was told: “Applied 2 of 3 changes. Rejected: leap.py: line 10 (+1 −1).”" in feedback, feedback
    assert f"-{LABEL_OLD.rstrip()}" in feedback and f"+{LABEL_NEW.rstrip()}" in feedback, feedback
    assert "keep describe() as it was" in feedback, feedback
    # The whole first conversation went along: the revision continues it.
    assert any("is_leap" in str(m.get("content", "")) for m in revise_request["messages"] if m["role"] == "assistant")
    # The question carried the selected lines (9–10, linewise visual mode).
    assert re.search(r"^ASKED (\w+)$", output, re.MULTILINE), output
    question = next(m["content"] for m in model.requests[6]["messages"]
                    if m["role"] == "user" and "what does describe() return?" in str(m["content"]))
    assert "It concerns leap.py (lines 9–10):" in question, question
    assert LABEL_OLD.rstrip() in question and "def describe(year: int) -> str:" in question, question
    assert len(model.requests) == 7


PERM = '"""Permutations."""\n\n\ndef arrangements(items):\n    raise NotImplementedError\n'
PERM_TEST = "from perm import arrangements\n\n\ndef test_three() -> None:\n    assert len(arrangements('abc')) == 6\n"
PERM_MINE = "    return [p for p in itertools.permutations(items)]\n"  # the user's edit of the proposed body
LABELS = 'A = "a"\n\n\nB = "b"\n\n\nC = "c"\n'


def test_review_logic(nvim: Path, tmp_path: Path) -> None:
    output = run_lua(nvim, "test_review_units.lua", editor_env(tmp_path), tmp_path, timeout=30)
    assert output.startswith("OK")


@pytest.mark.slow
def test_review_survives_edits_and_resolves_conflicts(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    (workspace / "labels.py").write_text(LABELS, encoding="utf-8")
    replies = [Reply(calls=[Call("Edit", {"file_path": "labels.py", "old_string": f'{name} = "{name.lower()}"',
                                          "new_string": f'{name} = "agent {name.lower()}"'})]) for name in "ABC"]
    replies.append(Reply("Relabelled."))
    with ScriptedModelServer("ollama", replies, model=MODEL) as model:
        env = editor_env(tmp_path, LC_TEST_WORKSPACE=str(workspace),
                         LC_TEST_SETTINGS=json.dumps(settings_for(model.base_url)))
        output = run_lua(nvim, "test_review_tab.lua", env, workspace)
    # A conflict kept as "mine" is not the agent's change applied: partial.
    assert re.search(r"^LABELS partial$", output, re.MULTILINE), output
    # The buffer held the user's unsaved lines: the selection landed there, and is not saved for them.
    assert (workspace / "labels.py").read_text(encoding="utf-8") == LABELS


@pytest.mark.slow
def test_tui_selection_warned_tested_and_edited(nvim: Path, tmux: str, tmp_path: Path, workspace: Path) -> None:
    """Apply with the import left out: the dependency warning, then the session's tests re-run on the
    selection in the sandbox (they fail); then the user's own body with the import: tested, applied."""
    (workspace / "perm.py").write_text(PERM, encoding="utf-8")
    (workspace / "test_perm.py").write_text(PERM_TEST, encoding="utf-8")
    script = [
        Reply(calls=[Call("Edit", {"file_path": "perm.py", "old_string": "def arrangements",
                                   "new_string": "import itertools\n\n\ndef arrangements"})]),
        Reply(calls=[Call("Edit", {"file_path": "perm.py", "old_string": "    raise NotImplementedError\n",
                                   "new_string": "    return list(itertools.permutations(items))\n"})]),
        Reply(calls=[Call("Bash", {"command": "python -m pytest -q test_perm.py"})]),
        Reply("Implemented with itertools; the test passes."),
    ]
    with ScriptedModelServer("ollama", script, model=MODEL) as model, \
            tui(nvim, tmux, tmp_path, workspace, model.base_url, "perm.py") as term:
        term.wait_for(lambda s: "[file 1/1]  ✓2 ✗0" in s, "the review tab", timeout=60)
        # Typed in perm.py (its own tab) far from the changes, and saved: the review follows.
        term.keys("gt", "G", "o# typed during the review")
        term.escape()
        term.keys(":w", "Enter", "gt")
        followed = term.wait_for(lambda s: s.count("# typed during the review") >= 2 and "[file 1/1]" in s,
                                 "the review to follow the edit")
        (ARTIFACTS / "tui_select_1_followed.txt").write_text(followed, encoding="utf-8")

        term.keys("gg", "]h", "r", "Enter")
        warned = term.wait_for(lambda s: "<CR> apply anyway" in s, "the dependency warning")
        (ARTIFACTS / "tui_select_2_dependency.txt").write_text(warned, encoding="utf-8")
        assert "⚠ the change at perm.py line 5 uses itertools, which the change at perm.py" in warned
        term.keys("Enter")
        failed = term.wait_for(lambda s: "✗ fails with your selection" in s, "the test of the selection", timeout=60)
        (ARTIFACTS / "tui_select_3_failed.txt").write_text(failed, encoding="utf-8")
        assert "NameError: name 'itertools' is not defined" in failed and "<CR> apply anyway" in failed

        term.escape()
        term.keys("[h", "a", "0C" + PERM_MINE.rstrip("\n"))
        term.escape()
        term.wait_for(lambda s: "✓ accepted · perm.py: line 5 (+1 −1) · edited by you" in s
                      and "✗" not in s.splitlines()[-4], "the import accepted, the body edited")
        term.keys("Enter")
        applied = term.wait_for(lambda s: "1 passed with your selection" in s and "Applied with your edits" in s,
                                "the selection tested and applied", timeout=60)
        (ARTIFACTS / "tui_select_4_applied.txt").write_text(applied, encoding="utf-8")
        assert "[file" not in applied and "any key closes" in applied  # back in perm.py, the outcome kept on screen
        assert (workspace / "perm.py").read_text(encoding="utf-8") == PERM.replace(
            "def arrangements", "import itertools\n\n\ndef arrangements").replace(
            "    raise NotImplementedError\n", PERM_MINE) + "# typed during the review\n"


@pytest.mark.slow
def test_cancel_close_reopen_and_edit_during_review(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    replies = [
        # Long and slow: still streaming when the user cancels.
        Reply(reasoning="Thinking about the calendar. " * 200, tokens_per_second=40),
    ]
    for _ in range(3):  # reviews: cancelled, closed with q, stale
        replies += [
            Reply(calls=[Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError\n",
                                       "new_string": BODY})]),
            Reply("Implemented is_leap."),
        ]
    with ScriptedModelServer("ollama", replies, model=MODEL) as model:
        env = editor_env(tmp_path, LC_TEST_WORKSPACE=str(workspace), LC_TEST_BODY=BODY,
                         LC_TEST_SETTINGS=json.dumps(settings_for(model.base_url)))
        output = run_lua(nvim, "test_cancel.lua", env, workspace)
        log = model.wait_finished(count=7)
    assert "CANCELLED_STREAMING" in output and "CANCELLED_REVIEW" in output
    assert "CLOSED_REOPENED" in output and "APPLIED_AFTER_EDIT" in output
    streaming = log[0]
    assert streaming.client_closed_early and not streaming.completed, streaming
    assert streaming.tokens_sent < 1000  # stopped long before the reply's end
    # The last review applied into a buffer with the user's unsaved edit: applied there, not saved.
    assert (workspace / "leap.py").read_text(encoding="utf-8") == STUB


@pytest.mark.slow
def test_errors_are_clear(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    env = editor_env(tmp_path, LC_TEST_WORKSPACE=str(workspace), LC_TEST_PYTHON=sys.executable,
                     LC_TEST_DOWN_URL=f"http://127.0.0.1:{closed_port()}")
    output = run_lua(nvim, "test_errors.lua", env, workspace)
    assert "MODEL_DOWN" in output


@pytest.mark.slow
def test_checkhealth(nvim: Path, tmp_path: Path, workspace: Path, model: ScriptedModelServer) -> None:
    env = editor_env(tmp_path, LC_TEST_WORKSPACE=str(workspace), LC_TEST_BASE_URL=model.base_url,
                     LC_TEST_DOWN_URL=f"http://127.0.0.1:{closed_port()}")
    output = run_lua(nvim, "test_health.lua", env, workspace)
    assert "---- working ----" in output
    # The probe really asked the server: its version, the model, then the list of models.
    assert model.hits[:3] == ["GET /api/version", "POST /api/show", "GET /api/tags"]


class Tmux:
    """Neovim in a private tmux server (its own socket, no user config), driven by keys."""

    def __init__(self, binary: str, socket_name: str, env: dict[str, str]) -> None:
        self.binary = binary
        self.socket = socket_name
        self.env = env

    def __call__(self, *args: str) -> str:
        done = subprocess.run([self.binary, "-L", self.socket, "-f", "/dev/null", *args], env=self.env,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"tmux {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "lc")

    def wait_for(self, predicate: Any, what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "lc", *keys)

    def escape(self) -> None:
        """<Esc> alone: followed at once by more keys it would read as an Alt key or a terminal code."""
        self.keys("Escape")
        time.sleep(0.2)  # past Neovim's 'ttimeoutlen' (50 ms)


@contextmanager
def tui(nvim: Path, tmux: str, tmp_path: Path, workspace: Path, base_url: str, file: str) -> Iterator[Tmux]:
    """Neovim 120x32 in tmux on `file`, set up by tui_init.lua (which implements what is on line 4)."""
    env = editor_env(tmp_path, LC_TEST_SETTINGS=json.dumps(settings_for(base_url)), LANG="C.UTF-8",
                     TERM="xterm-256color")
    term = Tmux(tmux, f"little-coder-{os.getpid()}-{tmp_path.name}", env)
    command = (f"cd {workspace} && exec {nvim} --clean --cmd 'set rtp+={PLUGIN}' "
               f"-c 'luafile {HERE / 'tui_init.lua'}' {file}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    term("-u", "new-session", "-d", "-s", "lc", "-x", "120", "-y", "32", command)
    try:
        yield term
        term.keys(":qa!", "Enter")
    finally:
        subprocess.run([tmux, "-L", term.socket, "kill-server"], env=env, capture_output=True, timeout=30)


@pytest.mark.slow
def test_tui_review_tab(nvim: Path, tmux: str, tmp_path: Path, workspace: Path) -> None:
    script = leap_script()
    script[0] = script[0].model_copy(update={"tokens_per_second": 25})  # ~2 s of visible progress
    with ScriptedModelServer("ollama", script, model=MODEL) as model, \
            tui(nvim, tmux, tmp_path, workspace, model.base_url, "leap.py") as term:
        progress = term.wait_for(lambda s: "LC turn 1/20" in s, "the statusline progress")
        (ARTIFACTS / "tui_1_progress.txt").write_text(progress, encoding="utf-8")

        opened = term.wait_for(lambda s: "[file 1/2]" in s and "✓2 ✗0" in s, "the review tab")
        (ARTIFACTS / "tui_2_review.txt").write_text(opened, encoding="utf-8")
        assert "little-coder review: leap.py" in opened.splitlines()[0]  # the tab's label, whole
        assert "proposed leap.py" in opened and "current leap.py" in opened
        assert "a/r hunk  A/R file  gA/gR all" in opened  # the help line
        assert BODY.strip()[:40] in opened and LABEL_NEW.strip()[:30] in opened
        assert "── ✓ accepted · leap.py: line 6 (+1 −1)" in opened  # the note above the hunk
        assert "✓ accepted · leap.py: line 6 (+1 −1)" in opened.splitlines()[-3]  # the change under the cursor
        assert "LC review: implement `is_leap`" in opened

        # The user edits the line of the second change in their own tab (and saves): a conflict, told there.
        term.keys("gt", ":10", "Enter", "A  # mine")
        term.escape()
        term.keys(":w", "Enter")
        told = term.wait_for(lambda s: "now a conflict" in s, "the conflict told where the user types")
        (ARTIFACTS / "tui_3_conflict_told.txt").write_text(told, encoding="utf-8")
        assert "little-coder · any key closes" in told  # kept on screen, not on the message line only
        time.sleep(1.6)  # a key the user presses after reading it closes it
        term.keys("gt")
        conflict = term.wait_for(lambda s: "⚠ conflict · leap.py: line 10" in s and "now a conflict" not in s,
                                 "the conflict in the review")
        (ARTIFACTS / "tui_3_conflict.txt").write_text(conflict, encoding="utf-8")
        assert "✓1 ✗1  ⚠1 conflict" in conflict  # counted in the bar
        assert '"common"  #' in conflict and LABEL_NEW.strip()[:30] in conflict  # both versions (yours left)
        term.keys("]h")
        on_conflict = term.wait_for(lambda s: "conflict: your lines stay (mine)" in s.splitlines()[-3],
                                    "on the conflict")
        assert "you edited these lines" in on_conflict.splitlines()[-3]  # its reason, spelt out
        term.keys("gb")
        both = term.wait_for(lambda s: "now: your lines, then the agent's (both)" in s, "both versions taken")
        (ARTIFACTS / "tui_4_both.txt").write_text(both, encoding="utf-8")

        term.keys("]f")
        new_file = term.wait_for(lambda s: "[file 2/2]" in s, "the new file")
        (ARTIFACTS / "tui_5_new_file.txt").write_text(new_file, encoding="utf-8")
        assert "new file test_leap.py" in new_file and "def test_is_leap" in new_file
        assert "little-coder review: test_leap.py" in new_file.splitlines()[0]
        term.keys("Enter")
        applied = term.wait_for(lambda s: "Both versions kept" in s, "the session's result")
        (ARTIFACTS / "tui_6_applied.txt").write_text(applied, encoding="utf-8")
        assert "[file" not in applied and BODY.strip()[:40] in applied  # back in leap.py, changed
        assert "any key closes" in applied  # the summary stays until the user moves on
        assert "LC " not in applied  # the statusline component is empty again
        assert "Press ENTER" not in applied  # no message wider than the screen
        both_lines = LABEL_OLD.rstrip("\n") + "  # mine\n" + LABEL_NEW
        assert (workspace / "leap.py").read_text(encoding="utf-8") == ACCEPTED.replace(LABEL_OLD, both_lines)
        assert (workspace / "test_leap.py").read_text(encoding="utf-8") == TESTS
        term.keys(":help little-coder", "Enter")
        help_top = term.wait_for(lambda s: s.startswith("little-coder.txt  A coding agent"), "the help, at its top")
        (ARTIFACTS / "tui_7_help.txt").write_text(help_top, encoding="utf-8")


def test_project_settings_need_vim_secure_trust(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    with ScriptedModelServer("ollama", [Reply("done")], model=MODEL) as project, \
            ScriptedModelServer("ollama", [Reply("done")], model=MODEL) as own:
        (workspace / ".little-coder.toml").write_text(f'backend = "ollama"\nbase_url = "{project.base_url}"\n')
        env = editor_env(tmp_path, LC_TEST_WORKSPACE=str(workspace))
        config = Path(env["XDG_CONFIG_HOME"]) / "little-coder" / "config.toml"  # the user's own settings
        config.parent.mkdir(parents=True)
        config.write_text(f'backend = "ollama"\nbase_url = "{own.base_url}"\n')
        output = run_lua(nvim, "test_trust.lua", env, workspace, timeout=60)
    assert "denied: " in output and "allowed: " in output and output.rstrip().endswith("OK"), output
    assert len(own.requests) == 1 and len(project.requests) == 1  # denied → the user's server; allowed → the project's
