"""Live progress through the language server: while a scripted model streams reasoning at a steady pace
over real HTTP, the work-done progress reads "turn 1/20 · thinking N/B" with N rising, then "writing …";
every update is a littleCoder/event too, at most four a second, and none reaches the log."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fakes.model_server import Reply, ScriptedModelServer
from tests.lsp.conftest import MODEL, Editor, server_config, start_editor

BUDGET = 2048
REASONING = " ".join(f"year {1900 + i} is divisible by four but the century rule says more" for i in range(60))
ANSWER = " ".join(f"leap{i}" for i in range(400))


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    # About 1.4 s of thinking and 1.2 s of writing: several updates of each.
    script = [Reply(ANSWER, reasoning=REASONING, tokens_per_second=700)]
    with ScriptedModelServer("ollama", script, model=MODEL) as server:
        yield server


@pytest_lsp.fixture(config=server_config())
async def client(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path: Path) -> AsyncIterator[None]:
    lsp_client.editor = await start_editor(  # type: ignore[attr-defined]
        lsp_client, tmp_path, "visual-studio-code", backend="ollama", baseUrl=model.base_url, model=MODEL,
        stallTimeout=10, connectTimeout=2, thinkingBudget=BUDGET)
    yield
    await lsp_client.shutdown_session()


async def test_progress_counts_thinking_against_the_budget(client: LanguageClient) -> None:
    editor: Editor = client.editor  # type: ignore[attr-defined]
    editor.write("leap.py", "def leap(year: int) -> bool:\n    raise NotImplementedError\n")
    result = await editor.execute("littleCoder.ask", {"instruction": "How does the leap year rule work?"})
    session = str(result["sessionId"])
    status = await editor.wait_finished(session, timeout=20)
    assert status["state"] == "no_changes", status

    messages = [r.message for r in editor.progress_of(session) if isinstance(r, types.WorkDoneProgressReport)]
    thinking = [m for m in messages if m and m.startswith("turn 1/20 · thinking ")]
    counts = [int(re.match(rf"turn 1/20 · thinking (\d+)/{BUDGET}", m).group(1)) for m in thinking]  # type: ignore[union-attr]
    assert len(counts) >= 3 and counts == sorted(counts) and counts[-1] > counts[0] > 0, messages
    assert any(re.fullmatch(r"turn 1/20 · writing \d+ tok · \d+ tok/s", m or "") for m in messages), messages

    events = [p["event"] for p in editor.events if p["sessionId"] == session and
              p["event"]["kind"] == "stream_progress"]
    assert {e["phase"] for e in events} == {"thinking", "writing"}
    assert all(e["budget"] == BUDGET for e in events if e["phase"] == "thinking")
    elapsed = [e["elapsed"] for e in events]
    assert len(events) <= 4 * elapsed[-1] + 2, elapsed  # throttled at the source

    log = "\n".join(m.message for m in editor.client.log_messages if session in m.message)
    assert "── turn 1/20" in log and not re.search(r"thinking \d+/|writing \d+ tok|tok/s", log)  # no line per update
