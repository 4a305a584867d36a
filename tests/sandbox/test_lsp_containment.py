"""In the language server, the escapes that once left the shadow copy stay in the session's layer.

The real server (pytest-lsp, VS Code preset) runs a session whose scripted model writes outside the
workspace, into node_modules and into a virtualenv through allow-listed commands, and prints its
environment. Nothing outside changes, the user's dependency folders stay as they were, the review
offers only the agent's deliberate edit, and no secret of the server's environment reaches the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply
from tests.lsp.conftest import MODEL, Editor, server_config, start_scripted_editor
from tests.lsp.test_session_vscode import IMPLEMENTED, LEAP, implement_leap
from tests.sandbox.conftest import snapshot

pytestmark = pytest.mark.asyncio(loop_scope="module")

CONFIG = server_config()
CONFIG.server_env = {**(CONFIG.server_env or {}), "GITHUB_TOKEN": "ghp_LSP-ENV-CANARY"}


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer("ollama", [], model=MODEL) as server:
        yield server


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def vscode(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    lsp_client.editor = await start_scripted_editor(  # type: ignore[attr-defined]
        lsp_client, model, tmp_path_factory.mktemp("vscode"), "visual-studio-code",
    )
    yield
    await lsp_client.shutdown_session()


async def test_escapes_stay_in_the_sessions_layer(vscode: LanguageClient, model: ScriptedModelServer,
                                                  outside: Path) -> None:
    editor: Editor = vscode.editor  # type: ignore[attr-defined]
    folder = "contained"
    editor.write(f"{folder}/leap.py", LEAP)
    editor.write(f"{folder}/node_modules/dep/index.js", "module.exports = 1\n")
    editor.write(f"{folder}/.venv/lib/site-packages/keep.txt", "venv\n")
    editor.open(f"{folder}/leap.py")
    user_tree = snapshot(editor.root / folder)
    outside_before = snapshot(outside)
    escapes = (
        f"python3 -c \"open('{outside}/leak.txt', 'w').write('x')\"; "
        f"echo {outside}/tee.txt | xargs tee; "
        f"make -C {outside}/project clean; "
        f"cd {folder} && python3 -c \"open('node_modules/dep/index.js', 'w').write('pwned')\"; "
        "python3 -c \"open('.venv/lib/site-packages/evil.pth', 'w').write('import os')\"; "
        "python3 -c \"import os; print(sorted(os.environ.items()))\""
    )
    model.replace_replies([
        Reply(calls=[Call("Bash", {"command": escapes})]),
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/leap.py", "old_string": "    raise NotImplementedError\n",
                                   "new_string": IMPLEMENTED})]),
        Reply("Done."),
    ])
    start = len(model.requests)
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)

    assert status["state"] == "applied", status
    assert status["changedFiles"] == [f"{folder}/leap.py"]  # only the deliberate edit is reviewed
    assert editor.text(f"{folder}/leap.py") == LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED)
    after = snapshot(editor.root / folder)
    after.pop("leap.py")
    user_tree.pop("leap.py")
    assert after == user_tree  # node_modules and .venv exactly as they were
    assert snapshot(outside) == outside_before
    sent = json.dumps(model.requests[start:])
    assert "HOME" in sent and "ghp_LSP-ENV-CANARY" not in sent
