"""Golden bytes of what the model is shown: the system prompt and the tool schemas, in native and in
text-tool mode, pinned under tests/unit/golden/ together with agent.prompt.PROMPT_VERSION.

The original's authors saw benchmark scores move with prompt edits (SCAFFOLD §10), so every change to
these bytes must come with a new PROMPT_VERSION, which each run records. When a test here fails after
an intended change: bump PROMPT_VERSION in agent/prompt.py, then regenerate with

    .venv/bin/python -m tests.unit.test_prompt_golden --update     (or LC_UPDATE_GOLDEN=1 pytest this file)

Regenerating refuses to store new bytes under a version that already names other bytes (the manifest
keeps every version's hash), so the bump cannot be skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from agent import text_tools
from agent.messages import SystemMessage
from agent.prompt import PROMPT_VERSION, system_prompt
from agent.providers import ollama, openai_compat
from agent.providers.base import ChatRequest, ToolSpec
from agent.tools.registry import default_tools

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = GOLDEN / "manifest.json"
UPDATE_ENV = "LC_UPDATE_GOLDEN"


def _specs() -> list[ToolSpec]:
    return [tool.spec() for tool in default_tools()]


def _tools_as_sent(specs: list[ToolSpec]) -> list[object]:
    """The `tools` field of a request body exactly as the providers build it (both build the same)."""
    request = ChatRequest(model="m", messages=[SystemMessage(content="s")], tools=specs, temperature=0.3,
                          context_size=32768)
    sent = ollama.chat_body(request)["tools"]
    assert openai_compat.chat_body(request)["tools"] == sent
    return list(sent)


def render() -> dict[str, str]:
    """File name -> the bytes (as text) the model is shown today."""
    specs = _specs()
    return {
        "system_prompt.native.txt": system_prompt(specs) + "\n",
        "tool_schemas.native.json": json.dumps(_tools_as_sent(specs), indent=2, ensure_ascii=False) + "\n",
        # Text-tool mode sends no `tools` field: the schemas travel in the system prompt, rendered thus.
        "system_prompt.text.txt": system_prompt(specs, text_tools_block=text_tools.instructions(specs)) + "\n",
        "tool_schemas.text.txt": text_tools.instructions(specs),
    }


def _digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode("utf-8") + b"\0")
    return h.hexdigest()


def _manifest() -> dict[str, object]:
    return json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else {}


def update() -> str:
    """Write the golden files and the manifest; refuse when the bytes changed under the same version."""
    files = render()
    digest = _digest(files)
    manifest = _manifest()
    history = dict(manifest.get("history", {}))  # type: ignore[call-overload]
    known = history.get(PROMPT_VERSION)
    if known is not None and known != digest:
        raise SystemExit(
            f"the prompt or tool schemas changed but PROMPT_VERSION is still {PROMPT_VERSION!r}, which already "
            "names other bytes: bump PROMPT_VERSION in agent/prompt.py, then update again"
        )
    history[PROMPT_VERSION] = digest
    GOLDEN.mkdir(exist_ok=True)
    for name, text in files.items():
        (GOLDEN / name).write_text(text, encoding="utf-8", newline="")
    MANIFEST.write_text(json.dumps({
        "prompt_version": PROMPT_VERSION,
        "sha256": digest,
        "files": {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in sorted(files.items())},
        "history": history,
    }, indent=2) + "\n", encoding="utf-8")
    return digest


def test_golden_files_match_what_the_model_is_shown() -> None:
    if os.environ.get(UPDATE_ENV):
        update()
    for name, text in render().items():
        stored = (GOLDEN / name).read_text(encoding="utf-8") if (GOLDEN / name).exists() else None
        assert stored == text, (
            f"{name} differs from what the model is now shown. If the change is intended, bump PROMPT_VERSION "
            f"in agent/prompt.py and run `python -m tests.unit.test_prompt_golden --update`."
        )


def test_changed_bytes_need_a_new_prompt_version() -> None:
    manifest = _manifest()
    history = manifest.get("history", {})
    assert isinstance(history, dict)
    digest = _digest(render())
    # The version the goldens were made under is the one in the code; a bump without an update fails here.
    assert manifest.get("prompt_version") == PROMPT_VERSION, (
        f"PROMPT_VERSION is {PROMPT_VERSION!r} but the goldens were made under {manifest.get('prompt_version')!r}: "
        "run `python -m tests.unit.test_prompt_golden --update`"
    )
    assert history.get(PROMPT_VERSION) == digest == manifest.get("sha256"), (
        f"the prompt bytes changed under the same PROMPT_VERSION {PROMPT_VERSION!r}: bump it"
    )
    # No two versions name the same bytes twice over, nor one version two byte sets (a dict cannot).
    assert len(set(history.values())) == len(history)


def test_manifest_hashes_match_the_stored_files() -> None:
    # A hand-edited golden file cannot pass as regenerated.
    files = _manifest().get("files", {})
    assert isinstance(files, dict) and set(files) == set(render())
    for name, digest in files.items():
        assert hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() == digest, name


def test_the_update_refuses_new_bytes_under_an_old_version(monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_manifest = {"history": {PROMPT_VERSION: "0" * 64}}
    monkeypatch.setattr(sys.modules[__name__], "_manifest", lambda: tmp_manifest)
    with pytest.raises(SystemExit, match="bump PROMPT_VERSION"):
        update()


if __name__ == "__main__":
    if "--update" not in sys.argv[1:]:
        raise SystemExit("usage: python -m tests.unit.test_prompt_golden --update")
    print(f"golden files written for PROMPT_VERSION {PROMPT_VERSION}: {update()}")


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_a_session_sends_the_golden_bytes_and_records_the_version(protocol: str, tmp_path: Path) -> None:
    from agent.events import SessionStarted
    from agent.session import Session
    from agent.workspace import DiskWorkspace
    from tests.conftest import settings_for
    from tests.fakes.model_server import ScriptedModelServer
    from tests.fakes.script import Reply

    with ScriptedModelServer(protocol, [Reply("Nothing to change.")]) as server:
        session = Session("Say hello.", DiskWorkspace(tmp_path), settings_for(server))
        events = [event async for event in session.run()]
    started = [e for e in events if isinstance(e, SessionStarted)]
    assert started and started[0].prompt_version == PROMPT_VERSION
    sent = server.requests[0]
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][0]["content"] + "\n" == (GOLDEN / "system_prompt.native.txt").read_text(encoding="utf-8")
    assert sent["tools"] == json.loads((GOLDEN / "tool_schemas.native.json").read_text(encoding="utf-8"))
