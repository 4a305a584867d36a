"""A tool call naming a tool that does not exist is corrected, never taken for a final answer.

Small models write calls as text under names from other agents' tool sets (`run_tests`, `read_file`).
The session parses them, the quality monitor answers with the tool that was meant and its parameters,
and when the model still does not comply the session ends `stuck`, never `done`. Each case runs through
a real Session against the scripted server, on both wire protocols, with native tools and in text-tool
mode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.events import Event, QualityCorrection, SessionFinished, ToolCallRepaired
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

RUN_TESTS_FENCED = 'I will run the tests now.\n```tool\n{"name": "run_tests", "input": {}}\n```'
READ_FILE_TAG = 'Let me look at it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "notes.txt"}}\n</tool_call>'

CASES = [(protocol, mode) for protocol in ("ollama", "openai") for mode in ("native", "text")]


def call_reply(mode: str, name: str, arguments: dict[str, Any]) -> Reply:
    """The model's corrected call, in the form its mode uses."""
    if mode == "native":
        return Reply(calls=[Call(name, arguments)])
    return Reply("```tool\n" + json.dumps({"name": name, "input": arguments}) + "\n```")


async def run(protocol: str, mode: str, workspace: Path, replies: list[Reply], task: str,
              **overrides: Any) -> tuple[list[Event], list[dict[str, Any]]]:
    with ScriptedModelServer(protocol, replies) as server:
        settings = settings_for(server, text_tools="on" if mode == "text" else "off", **overrides)
        events = [e async for e in Session(task, DiskWorkspace(workspace), settings).run()]
        return events, server.requests


def sent_text(request: dict[str, Any]) -> str:
    return json.dumps(request["messages"], ensure_ascii=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("remember the milk\n")
    return tmp_path


@pytest.mark.parametrize(("protocol", "mode"), CASES)
async def test_run_tests_in_a_fenced_block_is_corrected_to_bash(protocol: str, mode: str, workspace: Path) -> None:
    replies = [Reply(RUN_TESTS_FENCED), call_reply(mode, "Bash", {"command": "echo 3 passed"}), Reply("Tests pass.")]
    events, requests = await run(protocol, mode, workspace, replies, "Run the tests.")

    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done", final.message
    assert final.tool_counts == {"Bash": 1}
    assert final.counters.corrections_by_reason == {"unknown_tool": 1}
    repaired = next(e for e in events if isinstance(e, ToolCallRepaired))
    assert (repaired.name, repaired.source) == ("run_tests", "fenced")
    correction = next(e for e in events if isinstance(e, QualityCorrection))
    assert "run_tests → Bash" in correction.detail and not correction.accepted
    # What the model was told: the tool it meant, with that tool's parameters.
    assert "There is no tool `run_tests`; you probably want Bash: Bash(command: string" in sent_text(requests[1])
    assert "There is no tool" not in sent_text(requests[0])
    assert ("tools" in requests[0]) == (mode == "native")


@pytest.mark.parametrize(("protocol", "mode"), CASES)
async def test_read_file_in_a_tool_call_tag_is_corrected_to_read(protocol: str, mode: str, workspace: Path) -> None:
    replies = [Reply(READ_FILE_TAG), call_reply(mode, "Read", {"file_path": "notes.txt"}), Reply("It says milk.")]
    events, requests = await run(protocol, mode, workspace, replies, "What does notes.txt say?")

    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done", final.message
    assert final.tool_counts == {"Read": 1} and final.turns == 3
    assert "There is no tool `read_file`; you probably want Read: Read(file_path: string" in sent_text(requests[1])
    assert "remember the milk" in sent_text(requests[2])


@pytest.mark.parametrize(("protocol", "mode"), CASES)
async def test_spent_corrections_end_stuck_not_done(protocol: str, mode: str, workspace: Path) -> None:
    replies = [Reply(READ_FILE_TAG), Reply(READ_FILE_TAG), Reply(READ_FILE_TAG), Reply("never asked for")]
    events, requests = await run(protocol, mode, workspace, replies, "What does notes.txt say?",
                                 max_corrections=2)

    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "stuck"
    assert "tools that do not exist after 2 corrections" in final.message and "read_file → Read" in final.message
    assert len(requests) == 3 and final.turns == 3
    assert final.counters.corrections == 2 and final.tool_counts == {}
    assert not any(isinstance(e, QualityCorrection) and e.accepted for e in events)
