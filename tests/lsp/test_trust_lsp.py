"""The editor's workspace trust decides whether the project file's base_url counts (the real server
over stdio, two scripted model servers on loopback: the project's and the user's own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import attrs
import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply
from tests.lsp.conftest import MODEL, Editor, server_config

NOTICE = "ignored because this folder is not trusted"


async def start(tmp_path: Path, options: dict[str, Any], own: ScriptedModelServer) -> Editor:
    """A server whose user config names `own` as the model server, initialized with `options`."""
    config = tmp_path / "user-config.toml"
    config.write_text(f'backend = "openai"\nbase_url = "{own.base_url}"\n')
    base = server_config()
    env = {**(base.server_env or {}), "LITTLE_CODER_CONFIG": str(config)}
    client = cast(LanguageClient, await attrs.evolve(base, server_env=env).start())
    editor = Editor(client, tmp_path / "repo", "visual-studio-code")
    client.set_configuration({}, section="littleCoder")
    uri = from_fs_path(str(editor.root))
    await client.initialize_session(types.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code"), root_uri=uri,
        workspace_folders=[types.WorkspaceFolder(uri=uri, name="ws")], initialization_options=options))
    return editor


@pytest.mark.parametrize("trusted", [True, False, None])
async def test_workspace_trusted_decides_whether_the_project_base_url_counts(tmp_path: Path,
                                                                            trusted: bool | None) -> None:
    with ScriptedModelServer("openai", [Reply("done")]) as project, \
            ScriptedModelServer("openai", [Reply("done")]) as own:
        root = tmp_path / "repo"
        root.mkdir()
        (root / ".little-coder.toml").write_text(f'base_url = "{project.base_url}"\n')
        options: dict[str, Any] = {"littleCoder": {"model": MODEL}}
        if trusted is not None:
            options["workspaceTrusted"] = trusted
        editor = await start(tmp_path, options, own)
        try:
            reply = await editor.execute("littleCoder.ask", {"instruction": "Say done."})
            status = await editor.wait_finished(reply["sessionId"])
            assert status["outcome"] == "done", status
            messages = editor.client.messages
            shown = [m for m in messages if NOTICE in m.message]
            if trusted:
                assert project.hits and not own.hits
                assert shown == []
            else:
                assert own.hits and not project.hits
                # Once, though the settings were resolved at start and again for the session.
                assert len(shown) == 1 and shown[0].type == types.MessageType.Warning
                assert "sets base_url;" in shown[0].message
                assert ("trust the workspace in your editor" in shown[0].message) == (trusted is False)
                logged = editor.client.log_messages
                assert any(NOTICE in m.message for m in logged)
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()  # type: ignore[no-untyped-call]
