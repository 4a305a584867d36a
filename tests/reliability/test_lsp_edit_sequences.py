"""Random edit sequences end to end through the real language server (hypothesis): a document of mixed
line endings and multi-byte characters, edits the user makes before a session and while it runs, and
the agent's one-line change coming back as the review edit.

Property: the server's copy follows every incremental change exactly (the agent's Edit finds its line),
and the document after the review is the user's latest text with the agent's line replaced — or, when
the user also changed that line, exactly the user's text with the clash reported. Nothing the user typed
is lost and nothing lands in the wrong place. `LC_LSP_EDIT_EXAMPLES` sets how many documents (CI: 15).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.lsp.conftest import MODEL
from tests.reliability.lsp_editor import LspServer, check_server_output, model_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = int(os.environ.get("LC_LSP_EDIT_EXAMPLES", "15"))
PIECES = ["x", "é", "😋", "漢", "👩\u200d💻", "e\u0301", "\t", " ", "\x0c", "\u2028", "\x85", "def", "# ✍"]
ENDINGS = ["\n", "\r\n", "\r"]
CONFLICT_WARNING = "Your version kept where you and the agent changed the same lines"

line_text = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
document = st.lists(st.tuples(line_text, st.sampled_from(ENDINGS)), min_size=1, max_size=10)
# (where, as a fraction of the text; how many characters to delete; what to insert)
edit = st.tuples(st.floats(0, 1), st.integers(0, 3), st.lists(st.sampled_from([*PIECES, *ENDINGS]), max_size=3))


@dataclass
class Harness:
    server: LspServer
    model: ScriptedModelServer


class TrialStub:
    """What `check_server_output` reports to: failures become assertion errors here."""

    def check(self, ok: bool, what: str) -> bool:
        assert ok, what
        return ok


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    root: Path = tmp_path_factory.mktemp("edit-sequences")
    with ScriptedModelServer("ollama", [], model=MODEL) as model:
        server = LspServer(root, settings=model_settings(model.base_url))
        try:
            await server.start()
            yield Harness(server, model)
            assert await server.shutdown() == 0
        finally:
            await server.close()
            check_server_output(TrialStub(), server)  # type: ignore[arg-type]
            server.cleanup_tmp()


def _valid(text: str, offset: int) -> int:
    """Never between the "\\r" and "\\n" of one line break: that is no position."""
    while 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1
    return offset


def _apply(server: LspServer, name: str, edits: list[tuple[float, int, list[str]]], protect: str | None) -> None:
    """The user's edits, skipping any that would touch the line holding `protect` (or its breaks)."""
    for where, delete, pieces in edits:
        text = server.editor.text(name) or ""
        start = _valid(text, round(where * len(text)))
        end = _valid(text, min(len(text), start + delete))
        if protect is not None:
            mark = text.find(protect)
            if start <= mark + len(protect) + 1 and end >= mark - 2:
                continue
        server.replace(name, start, max(start, end), "".join(pieces))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=document, mark_at=st.floats(0, 1), mark_ending=st.sampled_from(ENDINGS), before=st.lists(edit, max_size=6),
       during=st.lists(edit, max_size=6), clash=st.booleans())
async def test_random_edit_sequences_survive_the_review(
        harness: Harness, lines: list[tuple[str, str]], mark_at: float, mark_ending: str,
        before: list[tuple[float, int, list[str]]], during: list[tuple[float, int, list[str]]], clash: bool) -> None:
    server, model = harness.server, harness.model
    name = f"seq-{uuid.uuid4().hex[:8]}.py"
    mark = f"value = 'MARK {uuid.uuid4().hex[:6]} 😋'"
    new = "value = 'edited by the agent ✓'"
    pieces = [text + ending for text, ending in lines]
    pieces.insert(round(mark_at * len(pieces)), mark + mark_ending)
    # A lone "\r" before the mark line joined with a "\n" starting it would make one "\r\n".
    initial = "".join(pieces).replace("\r" + mark, "\r\n" + mark)
    server.write(name, initial)
    uri = server.open(name)
    _apply(server, name, before, protect=mark)

    model.replace_replies([Reply(calls=[Call("Edit", {"file_path": name, "old_string": mark, "new_string": new})]),
                           Reply("Changed the marked value.", delay=0.3)])
    shown = len(server.editor.messages)
    session = (await server.command("littleCoder.ask", {"instruction": "change the marked value", "uri": uri}))
    session_id = session["sessionId"]
    edited = await server.wait_event(session_id, lambda e: e.get("kind") == "tool_call_finished")
    assert edited["event"]["ok"], f"the agent's Edit did not find its line: {edited['event']}"
    _apply(server, name, during, protect=mark)
    if clash:
        text = server.editor.text(name) or ""
        server.type(name, text.find(mark) + len(mark), " # the user's too")
    before_review = server.editor.text(name) or ""
    status = await server.wait_finished(session_id)
    final = server.editor.text(name)

    if clash:
        assert final == before_review, "the agent overwrote the user's line"
        assert any(CONFLICT_WARNING in w for w in server.editor.warnings(shown)), "the clash was not reported"
    else:
        assert status["state"] == "applied", status
        assert final == before_review.replace(mark, new, 1)
    server.close_buffer(name)
    await asyncio.sleep(0)
