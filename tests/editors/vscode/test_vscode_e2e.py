"""The VS Code extension end to end, in real VS Code: code-server (VS Code 1.99 in headless Chromium,
driven by playwright-core) + the packaged .vsix + the real little-coder language server + the scripted
model server. Each test is one scenario of ui/run.js; it reports what it saw on screen, screenshots go
to test-artifacts/vscode/, and the files on disk are checked here.

Prerequisites come from scripts/deps/vscode.sh; a missing one fails the tests with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import Call, Reply, ScriptedModelServer

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
EXTENSION = ROOT / "clients" / "vscode"
VSIX = EXTENSION / "little-coder.vsix"
ARTIFACTS = ROOT / "test-artifacts" / "vscode"
CACHE = Path(os.environ.get("LITTLE_CODER_CACHE", Path.home() / ".cache" / "little-coder")) / "vscode"
TOOLS = CACHE / "current" / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")
SETTINGS = Path(__file__).resolve().parent / "code-server-settings.json"
MODEL = "qwen3.5:9b"
SCENARIO_TIMEOUT_S = 240
INSTALL_HINT = "run scripts/deps/vscode.sh"

STUB = (ROOT / "examples" / "leap" / "leap.py").read_text(encoding="utf-8")
STUB_BODY = "    raise NotImplementedError\n"
IMPLEMENTATION = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"
IMPLEMENTED = STUB.replace(STUB_BODY, IMPLEMENTATION)
REVISED = "    import calendar\n\n    return calendar.isleap(year)\n"
REVISE_COMMENT = "Use calendar.isleap from the standard library instead"
GREET = 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n'
ASK = "Create greet.py with a greet(name) function that returns a greeting"

pytestmark = pytest.mark.slow


def implement_replies() -> list[Reply]:
    """Write on the existing stub (the write guard refuses it: a budget event), then the Edit, then done.
    The delays keep each turn on screen long enough to be seen and photographed."""
    return [
        Reply(reasoning="The stub only raises. I will write the whole function.", delay=1.5,
              calls=[Call("Write", {"file_path": "leap.py", "content": "def is_leap(year):\n    return True\n"})]),
        Reply(delay=1.5, calls=[Call("Edit", {"file_path": "leap.py", "old_string": STUB_BODY,
                                              "new_string": IMPLEMENTATION})]),
        Reply("Implemented is_leap with the Gregorian rules.", delay=1.0),
    ]


# --- prerequisites, the extension, code-server ------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    node: str
    code_server: Path
    node_path: Path


@pytest.fixture(scope="module")
def tools() -> Tools:
    node = shutil.which("node")
    problems = []
    if node is None:
        problems.append("node not found (Node.js 20 is needed)")
    if not CHROMIUM.is_file():
        problems.append(f"{CHROMIUM} not found (Debian package chromium)")
    code_server = TOOLS / ".bin" / "code-server"
    if not code_server.exists():
        problems.append(f"code-server not installed under {TOOLS}")
    if not (TOOLS / "playwright-core").is_dir():
        problems.append(f"playwright-core not installed under {TOOLS}")
    if not (EXTENSION / "node_modules" / "vscode-languageclient").is_dir():
        problems.append(f"the extension's node_modules are missing in {EXTENSION}")
    if problems:
        pytest.fail("; ".join(problems) + f": {INSTALL_HINT}")
    assert node is not None
    return Tools(node=node, code_server=code_server, node_path=TOOLS)


def build_vsix() -> Path:
    """Package the extension unless the .vsix is newer than every source it is built from."""
    sources = [EXTENSION / "package.json", EXTENSION / "README.md", *sorted((EXTENSION / "src").glob("*.ts"))]
    newest = max(p.stat().st_mtime for p in sources)
    if VSIX.is_file() and VSIX.stat().st_mtime > newest:
        return VSIX
    result = subprocess.run(["npm", "run", "package"], cwd=EXTENSION, capture_output=True, text=True, timeout=180)
    if result.returncode != 0 or not VSIX.is_file():
        pytest.fail(f"npm run package failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return VSIX


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CodeServer:
    url: str
    user_data: Path
    tools: Tools
    scratch: Path

    def logs(self) -> Path:
        return self.user_data / "logs"


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"code-server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"code-server did not answer {url}/healthz within {timeout} s")


@pytest.fixture(scope="module")
def code_server(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeServer]:
    vsix = build_vsix()
    base = tmp_path_factory.mktemp("code-server")
    user_data, extensions = base / "user-data", base / "extensions"
    (user_data / "User").mkdir(parents=True)
    shutil.copyfile(SETTINGS, user_data / "User" / "settings.json")
    env = {
        **os.environ,
        # code-server writes into ~/.config and ~/.local/share even with --user-data-dir.
        "XDG_CONFIG_HOME": str(base / "xdg-config"),
        "XDG_DATA_HOME": str(base / "xdg-data"),
        "LITTLE_CODER_LOG_LEVEL": "INFO",
    }
    dirs = ["--extensions-dir", str(extensions), "--user-data-dir", str(user_data)]
    install = subprocess.run([str(tools.code_server), "--install-extension", str(vsix), *dirs],
                             env=env, capture_output=True, text=True, timeout=120)
    if install.returncode != 0 or "successfully installed" not in install.stdout:
        pytest.fail(f"installing {vsix.name} into code-server failed:\n{install.stdout}\n{install.stderr}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = base / "code-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(tools.code_server), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
             "--disable-update-check", "--disable-workspace-trust", *dirs],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_healthy(url, process, log)
        yield CodeServer(url=url, user_data=user_data, tools=tools, scratch=base)
        # The last window's extension host shuts down after its scenario: give it time to log.
        time.sleep(3)
        errors = extension_errors(user_data / "logs")
        assert not errors, "the extension host logged errors from little-coder:\n" + "\n\n".join(errors)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        saved = ARTIFACTS / "logs"
        shutil.rmtree(saved, ignore_errors=True)
        if (user_data / "logs").is_dir():
            shutil.copytree(user_data / "logs", saved)
        shutil.copyfile(log, ARTIFACTS / "code-server.log")


@pytest.fixture(scope="module", autouse=True)
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


# --- running a scenario -----------------------------------------------------------------------------


def extension_errors(logs: Path) -> list[str]:
    """Errors the extension host logged from our extension: unhandled rejections and uncaught throws
    (each logged as an `[error]` entry whose stack runs through the installed extension)."""
    found = []
    for log in logs.glob("*/exthost*/remoteexthost.log"):
        entry: list[str] = []
        for line in [*log.read_text(errors="replace").splitlines(), "0000-00-00 [end]"]:
            if line[:4].isdigit() and entry:
                text = "\n".join(entry)
                if "[error]" in entry[0] and "little-coder.little-coder-" in text:
                    found.append(text)
                entry = []
            entry.append(line)
    return found


def make_workspace(tmp_path: Path, files: dict[str, str], settings: dict[str, Any], *, venv: bool) -> Path:
    workspace = tmp_path / "ws"
    (workspace / ".vscode").mkdir(parents=True)
    for name, text in files.items():
        (workspace / name).write_text(text, encoding="utf-8")
    (workspace / ".vscode" / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    if venv:
        # The project's virtual environment, where the extension looks for `little-coder` by default.
        (workspace / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return workspace


def model_settings(server: ScriptedModelServer, **extra: Any) -> dict[str, Any]:
    return {"littleCoder.backend": "ollama", "littleCoder.baseUrl": server.base_url,
            "littleCoder.model": server.model, **extra}


def run_scenario(code_server: CodeServer, name: str, workspace: Path, prefix: str, **config: Any) -> dict[str, Any]:
    before = set(extension_errors(code_server.logs()))
    config_file = workspace.parent / f"{prefix}.json"
    config_file.write_text(json.dumps({"scenario": name, "url": code_server.url, "workspace": str(workspace),
                                       "artifacts": str(ARTIFACTS), "prefix": prefix, **config}), encoding="utf-8")
    # Chromium keeps crash reports under XDG_CONFIG_HOME: keep them out of the home directory too.
    env = {**os.environ, "NODE_PATH": str(code_server.tools.node_path),
           "XDG_CONFIG_HOME": str(code_server.scratch / "xdg-config"),
           "XDG_CACHE_HOME": str(code_server.scratch / "xdg-cache")}
    try:
        result = subprocess.run([code_server.tools.node, str(HERE / "ui" / "run.js"), str(config_file)],
                                env=env, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scenario {name} ran past {SCENARIO_TIMEOUT_S} s:\n{exc.stderr!s}")
    (ARTIFACTS / f"{prefix}.log").write_text(result.stderr, encoding="utf-8")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(f"scenario {name} printed no result (exit {result.returncode}):\n{result.stderr[-4000:]}")
    outcome: dict[str, Any] = json.loads(lines[-1])
    if not outcome["ok"]:
        pytest.fail(f"scenario {name} failed: {outcome['error']}\nseen: {json.dumps(outcome['seen'], indent=1)}\n"
                    f"{result.stderr[-3000:]}")
    for shot in outcome["screenshots"]:
        assert Path(shot).stat().st_size > 10_000, f"{shot} is too small to show anything"
    new_errors = [e for e in extension_errors(code_server.logs()) if e not in before]
    assert not new_errors, "the extension host logged errors from little-coder:\n" + "\n\n".join(new_errors)
    seen: dict[str, Any] = outcome["seen"]
    return seen


# --- the scenarios ----------------------------------------------------------------------------------


def test_implement_stub_preview_apply_save_then_undo(code_server: CodeServer, tmp_path: Path) -> None:
    with ScriptedModelServer("ollama", implement_replies(), model=MODEL) as model:
        workspace = make_workspace(tmp_path, {"leap.py": STUB}, model_settings(model, **{"littleCoder.maxTurns": 7}),
                                   venv=True)
        seen = run_scenario(code_server, "implementApply", workspace, "implement-apply", original=STUB)
        requests = model.requests

    assert any("Ask little-coder to implement `is_leap`" in item for item in seen["menu"])
    # maxTurns from the workspace settings reached the server: the progress counts to 7.
    assert "implement `is_leap`: turn" in seen["progress"] and "/7" in seen["progress"]
    assert seen["statusFlash"].endswith("little-coder: write guard: leap.py")
    # The review opens with the change accepted (test_vscode_review.py tests the review itself).
    assert any("leap.py: line 3 (+1 −1)" in row and "accepted" in row for row in seen["review"])
    assert seen["dirtyAfterApply"], "the applied edit should leave leap.py modified but unsaved"
    assert seen["diskAfterApply"] == IMPLEMENTED, "after Save All the implementation is on disk"
    assert seen["statusAfterApply"].endswith("little-coder: applied")
    # The server's own account of the undo (what the model is told too); the extension adds none.
    assert "little-coder: undo of " in seen["undoMessage"] and ": undid its changes to leap.py." in seen["undoMessage"]
    assert seen["statusAfterUndo"].endswith("little-coder: undone")
    # The status-bar item opened the log, which holds the session's transcript.
    assert "── turn 3/7" in seen["log"] and "✓ Edit leap.py" in seen["log"] and "done after 3 turns" in seen["log"]
    # After the undo was saved the stub is back; the model was asked with the configured model name.
    assert (workspace / "leap.py").read_text(encoding="utf-8") == STUB
    assert requests and all(body["model"] == MODEL for body in requests)


def test_discarding_the_preview_changes_nothing_then_revise_redoes_it(
    code_server: CodeServer, tmp_path: Path
) -> None:
    revision = Reply(delay=1.0, calls=[Call("Edit", {"file_path": "leap.py", "old_string": STUB_BODY,
                                                     "new_string": REVISED})])
    replies = [*implement_replies(), revision, Reply("Used calendar.isleap as asked.")]
    with ScriptedModelServer("ollama", replies, model=MODEL) as model:
        workspace = make_workspace(tmp_path, {"leap.py": STUB}, model_settings(model), venv=True)
        seen = run_scenario(code_server, "implementDiscard", workspace, "implement-discard", original=STUB,
                            comment=REVISE_COMMENT)
        requests = model.requests

    # Discard: the preview closed and nothing changed, in the editor or on disk.
    assert seen["diskAfterDiscard"] == STUB
    assert seen["previewGone"]
    # Discard is the user's decision, not a failure: the status bar and the message say so.
    assert seen["statusAfterDiscard"].endswith("little-coder: discarded")
    assert "You discarded" in seen["discardMessage"] and "Revise…" in seen["discardMessage"]
    assert seen["dirtyAfterDiscard"] == []
    assert "NotImplementedError" in seen["editorText"] and "return year % 4" not in seen["editorText"]
    # Revise: the agent was told which hunk was turned down and why, and its new change was applied.
    revise_request = json.dumps(requests[3]["messages"])
    assert REVISE_COMMENT in revise_request
    assert "is_leap" in seen["reviseProgress"]
    assert seen["statusAfterRevise"].endswith("little-coder: applied")
    assert (workspace / "leap.py").read_text(encoding="utf-8") == STUB.replace(STUB_BODY, REVISED)


def test_ask_reports_an_unreachable_model_server_then_creates_a_file_after_the_fix(
    code_server: CodeServer, tmp_path: Path
) -> None:
    replies = [
        Reply(delay=1.0, calls=[Call("Write", {"file_path": "greet.py", "content": GREET})]),
        Reply("Created greet.py.", delay=0.5),
    ]
    with ScriptedModelServer("ollama", replies, model=MODEL) as model:
        dead = f"http://127.0.0.1:{free_port()}"
        # The server is started as `python -m lc_lsp` this time, through littleCoder.server.pythonPath.
        start = {"littleCoder.server.pythonPath": sys.executable}
        workspace = make_workspace(tmp_path, {"notes.md": "# Notes\n"},
                                   {**model_settings(model), "littleCoder.baseUrl": dead, **start}, venv=False)
        seen = run_scenario(
            code_server, "askNewFile", workspace, "ask-new-file", instruction=ASK,
            settingsFile=str(workspace / ".vscode" / "settings.json"),
            fixedSettings={**model_settings(model), **start},
        )
        requests = model.requests

    assert dead in seen["unreachable"]
    assert seen["statusUnreachable"].endswith("little-coder: failed")
    assert seen["unreachableButtons"] == ["Open Settings", "Show Log"]
    assert "Create greet.py" in seen["progress"]
    assert any("greet.py" in row and "new file" in row for row in seen["preview"])
    assert any("greet.py" in tab for tab in seen["dirtyAfterApply"])
    assert (workspace / "greet.py").read_text(encoding="utf-8") == GREET
    assert seen["statusAfterApply"].endswith("little-coder: applied")
    # The first Ask never reached the model server; the second did, with the instruction.
    assert len(requests) == 2
    assert ASK in json.dumps(requests[0]["messages"])


def test_cancel_from_the_progress_notification_or_the_palette_stops_the_session(
    code_server: CodeServer, tmp_path: Path
) -> None:
    replies = [Reply("Thinking about it for a long time.", delay=60.0) for _ in range(2)]
    with ScriptedModelServer("ollama", replies, model=MODEL) as model:
        workspace = make_workspace(tmp_path, {"leap.py": STUB}, model_settings(model), venv=True)
        seen = run_scenario(code_server, "cancel", workspace, "cancel")
        log = model.wait_finished(2, timeout=10)

    # Both ways of cancelling stop the session: the progress notification closes, the model's
    # response is abandoned, nothing is proposed.
    for when in ("AfterCancel", "AfterPaletteCancel"):
        assert seen[f"status{when}"].endswith("little-coder: cancelled")
        assert not any("implement `is_leap`" in text for text in seen[f"notifications{when}"])
    assert all(entry.client_closed_early and not entry.completed for entry in log)
    assert (workspace / "leap.py").read_text(encoding="utf-8") == STUB


def test_missing_or_broken_server_is_explained(code_server: CodeServer, tmp_path: Path) -> None:
    python_without_server = shutil.which("python3", path="/usr/bin") or "/usr/bin/python3"
    workspace = make_workspace(tmp_path, {"notes.md": "# Notes\n"},
                               {"littleCoder.server.command": str(tmp_path / "missing" / "little-coder")}, venv=False)
    seen = run_scenario(
        code_server, "serverMissing", workspace, "server-missing",
        settingsFile=str(workspace / ".vscode" / "settings.json"),
        brokenPythonSettings={"littleCoder.server.pythonPath": python_without_server},
    )

    assert "not an executable file" in seen["missing"] and "littleCoder.server.command" in seen["missing"]
    assert seen["missingButtons"] == ["Open Settings", "Show Log", "Retry"]
    assert seen["statusMissing"].endswith("little-coder: server not found")
    assert "No module named lc_lsp" in seen["failed"]
    assert "little-coder-lsp" in seen["failed"] and "littleCoder.server.pythonPath" in seen["failed"]
    assert seen["statusFailed"].endswith("little-coder: server failed")
