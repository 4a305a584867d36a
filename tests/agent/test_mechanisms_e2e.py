"""Issue-3 mechanisms through a real session and real HTTP: text-tool mode, the stable prompt prefix,
the loop detector and context compaction."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from agent.backend import ModelMemory
from agent.events import ContextCompacted, GuidanceSelected, Notice, SessionFinished, ToolCallRepaired
from agent.prompt import GUIDANCE_HEADER
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

FENCED_READ = 'I will read it.\n```tool\n{"name": "Read", "arguments": {"file_path": "leap.py"}}\n```'


async def run(session: Session) -> list[Any]:
    return [e async for e in session.run()]


async def test_text_tool_mode_when_the_model_lacks_native_tools(leap_workspace: Path) -> None:
    script = [Reply(FENCED_READ), Reply("It raises NotImplementedError.")]
    with ScriptedModelServer("ollama", script, capabilities=("completion",)) as server:
        events = await run(Session("what does leap.py do?", DiskWorkspace(leap_workspace), settings_for(server)))
        first, second = server.requests
    final = events[-1]
    assert final.outcome == "done" and final.counters.text_tool_mode and final.tool_counts == {"Read": 1}
    assert not first.get("tools")
    system = first["messages"][0]["content"]
    assert "```tool" in system and "file_path" in system
    # The tool result comes back as a plain message the model can read, not a role it does not know.
    assert all(m["role"] != "tool" for m in second["messages"])
    result = [m for m in second["messages"] if m["role"] == "user" and "Result of Read" in m["content"]]
    assert result and "NotImplementedError" in result[0]["content"]
    assert [e.source for e in events if isinstance(e, ToolCallRepaired)] == ["fenced"]


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_server_refusing_tools_switches_to_text_mode_and_remembers(protocol: str, leap_workspace: Path) -> None:
    memory = ModelMemory()
    script = [Reply(fault="tools_unsupported"), Reply(FENCED_READ), Reply("Read it."), Reply("Second session.")]
    with ScriptedModelServer(protocol, script) as server:
        events = await run(Session("read leap.py", DiskWorkspace(leap_workspace), settings_for(server),
                                   memory=memory))
        await run(Session("again", DiskWorkspace(leap_workspace), settings_for(server), memory=memory))
        bodies = server.requests
    assert any(isinstance(e, Notice) and "text tool calls" in e.message for e in events)
    final = events[-1]
    assert final.outcome == "done" and final.counters.text_tool_mode and final.tool_counts == {"Read": 1}
    assert bodies[0].get("tools") and not bodies[1].get("tools")
    # The host remembers the model: the next session starts in text mode without being refused first.
    assert not bodies[3].get("tools")


def _strip_guidance(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = messages[-1]
    assert last["role"] == "user" and last["content"].startswith(GUIDANCE_HEADER)
    return messages[:-1]


FIVE_TURNS = [
    Reply(calls=[Call("Read", {"file_path": ".docs/instructions.md"})]),
    Reply(calls=[Call("Read", {"file_path": "leap.py"})]),
    Reply(calls=[Call("Write", {"file_path": "leap.py", "content": "x"})]),  # refused: error path too
    Reply(calls=[Call("Grep", {"pattern": "def is_leap"})]),
    Reply("Looked around."),
]


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_each_request_extends_the_previous_one_notes_and_all(protocol: str, leap_workspace: Path) -> None:
    """The KV-cache contract of the default layout (`kept`): every request is the whole previous one, its
    harness notes included, plus new messages; a note joins the history only when it changed."""
    with ScriptedModelServer(protocol, FIVE_TURNS) as server:
        events = await run(Session("Implement is_leap", DiskWorkspace(leap_workspace), settings_for(server)))
        bodies = server.requests
    assert events[-1].outcome == "done" and len(bodies) == 5
    added: list[bool] = []
    for before, after in itertools.pairwise(b["messages"] for b in bodies):
        assert after[: len(before)] == before, "a request rewrote or dropped earlier messages"
        new_notes = [m for m in after[len(before):] if m["role"] == "user" and m["content"].startswith(GUIDANCE_HEADER)]
        assert len(new_notes) <= 1
        if new_notes:
            assert after[-1] == new_notes[0]  # a changed note sits right before the step it is for
            latest = [m for m in before if m["role"] == "user" and m["content"].startswith(GUIDANCE_HEADER)][-1]
            assert new_notes[0]["content"] != latest["content"]  # only a changed note is sent again
        added.append(bool(new_notes))
    assert any(added) and not all(added)  # the notes changed on some calls and were reused on others
    # The events say which notes were not sent again.
    assert [e.unchanged for e in events if isinstance(e, GuidanceSelected)] == [False, *(not a for a in added)]


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_each_request_extends_the_previous_one(protocol: str, leap_workspace: Path) -> None:
    """The layout `stable`: every request is the previous one plus new messages, except the trailing
    guidance block, which is never stored; the system prompt is byte-identical."""
    with ScriptedModelServer(protocol, FIVE_TURNS) as server:
        events = await run(Session("Implement is_leap", DiskWorkspace(leap_workspace),
                                   settings_for(server, prompt_layout="stable")))
        bodies = server.requests
    assert events[-1].outcome == "done" and len(bodies) == 5
    previous: list[dict[str, Any]] | None = None
    guidance_texts = set()
    for body in bodies:
        messages = body["messages"]
        guidance_texts.add(messages[-1]["content"])
        core = _strip_guidance(messages)
        if previous is not None:
            assert core[: len(previous)] == previous, "a request rewrote earlier messages"
            assert len(core) > len(previous)
        previous = core
    assert len({json.dumps(b["messages"][0]) for b in bodies}) == 1
    assert len(guidance_texts) > 1  # the guidance did change per call, yet the prefix held


async def test_rewrite_layout_changes_the_system_prompt(leap_workspace: Path) -> None:
    script = [Reply(calls=[Call("Read", {"file_path": "leap.py"})]), Reply(calls=[Call("Bash", {
        "command": "python -m pytest -q"})]), Reply("done")]
    with ScriptedModelServer("ollama", script) as server:
        await run(Session("Implement is_leap", DiskWorkspace(leap_workspace),
                          settings_for(server, prompt_layout="rewrite")))
        systems = [b["messages"][0]["content"] for b in server.requests]
    assert len(set(systems)) > 1


async def test_loop_detector_ends_a_stuck_session(leap_workspace: Path) -> None:
    script = [Reply(calls=[Call("Read", {"file_path": "nowhere.py"})]) for _ in range(20)]
    with ScriptedModelServer("ollama", script) as server:
        events = await run(Session("read nowhere.py", DiskWorkspace(leap_workspace),
                                   settings_for(server, max_turns=20, loop_limit=3)))
    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "stuck" and final.turns < 20
    assert "nowhere.py" in final.message
    assert final.tool_counts["Read"] == 3


async def test_compaction_only_when_the_window_is_full(leap_workspace: Path) -> None:
    for name in "abcdef":
        body = "\n".join(f"def {name}_{i}(value):\n    return value * {i}  # step {i}\n" for i in range(60))
        (leap_workspace / f"{name}.py").write_text(body)
    script = [Reply(calls=[Call("Read", {"file_path": f"{n}.py"})]) for n in "abcdef"] + [Reply("Read them all.")]
    with ScriptedModelServer("ollama", script) as server:
        events = await run(Session("read the modules", DiskWorkspace(leap_workspace),
                                   settings_for(server, context_size=8192, max_output_tokens=1024)))
        bodies = server.requests
    final = events[-1]
    assert final.outcome == "done", final.message
    compactions = [e for e in events if isinstance(e, ContextCompacted)]
    assert compactions and final.counters.compactions == len(compactions)
    first = compactions[0]
    assert first.tokens_after < first.tokens_before
    # Before the first compaction every request extended the previous one (no destructive pruning).
    compacted_turn = first.turn
    for earlier, later in zip(bodies[: compacted_turn - 2], bodies[1: compacted_turn - 1]):
        assert later["messages"][: len(earlier["messages"]) - 1] == earlier["messages"][:-1]
    # Every tool result still follows the assistant call that asked for it.
    for body in bodies:
        messages = body["messages"]
        for i, message in enumerate(messages):
            if message["role"] == "tool":
                assert any(m["role"] == "assistant" and m.get("tool_calls") for m in messages[:i])


async def test_text_call_with_unreadable_arguments_is_corrected_not_run(leap_workspace: Path) -> None:
    broken = '```tool\n{"name": "Edit", "arguments": <<not json at all>>}\n```'
    script = [Reply(broken), Reply("Giving up on that edit.")]
    with ScriptedModelServer("ollama", script) as server:
        events = await run(Session("edit leap.py", DiskWorkspace(leap_workspace), settings_for(server)))
        second = server.requests[1]["messages"]
    final = events[-1]
    assert final.outcome == "done" and final.tool_counts == {}
    assert final.counters.corrections_by_reason == {"malformed_arguments": 1}
    correction = [m for m in second if m["role"] == "tool"][-1]["content"]
    # The model is told its JSON was unreadable (and shown it), not merely that fields are missing.
    assert "Edit" in correction and "not valid JSON" in correction and "not json at all" in correction
