"""One GuidanceSelected event per model request, and its token counts are those of what was sent.

The event is what the benchmark reads to know what each request cost in guidance, so its figures are
checked against the request bodies the scripted server received, not against the selector's own
bookkeeping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import tokens
from agent.events import GuidanceItem, GuidanceSelected, SessionFinished, event_adapter
from agent.guidance import GuidanceLibrary
from agent.guidance.select import render
from agent.prompt import GUIDANCE_HEADER
from agent.session import Session
from agent.transcript import Transcript
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

TASK = "Fix is_leap in leap.py so that a leap year is computed correctly."


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_guidance_event_matches_the_request(protocol: str, leap_workspace: Path) -> None:
    replies = [Reply(calls=[Call("Read", {"file_path": "leap.py"})]), Reply("Looked at it.")]
    with ScriptedModelServer(protocol, replies) as server:
        settings = settings_for(server, guidance_budget=600)
        events = [e async for e in Session(TASK, DiskWorkspace(leap_workspace), settings).run()]
        requests = server.requests

    selected = [e for e in events if isinstance(e, GuidanceSelected)]
    assert [(e.turn, e.call) for e in selected] == [(1, 1), (2, 2)]
    assert len(requests) == len(selected)
    library = GuidanceLibrary.bundled()
    cards = {card.name: card for card in library.cards}
    entries = {entry.name: entry for entry in library.knowledge}
    for event, request in zip(selected, requests, strict=True):
        # The note in force for this request: the latest in the conversation (layout `kept`).
        sent = [str(m["content"]) for m in request["messages"] if str(m.get("content")).startswith(GUIDANCE_HEADER)][-1]
        chosen_cards = [cards[item.name] for item in event.cards]
        chosen_entries = [entries[item.name] for item in event.knowledge]
        block = render(chosen_cards, chosen_entries)
        assert block and block in sent
        assert event.tokens == tokens.count(block) and event.budget == 600
        for item, section in [*zip(event.cards, (c.section for c in chosen_cards), strict=True),
                              *zip(event.knowledge, (k.section for k in chosen_entries), strict=True)]:
            assert section in sent and item.tokens == tokens.count(section)
        # Nothing selected but not reported: no other card or entry is in the request.
        others = [c.section for c in library.cards if c not in chosen_cards]
        others += [k.section for k in library.knowledge if k not in chosen_entries]
        assert not any(section in sent for section in others)

    # The task asks for an edit about leap years: the edit card and the dates note on the first call;
    # the second call follows the Read the model just made.
    assert "edit" in [c.name for c in selected[0].cards]
    assert [k.name for k in selected[0].knowledge] == ["dates-times"]
    assert "read" in [c.name for c in selected[1].cards]

    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done"
    assert final.counters.guidance_tokens == sum(e.tokens for e in selected)

    # Self-describing: it survives a JSON round trip through the event union.
    assert event_adapter.validate_json(selected[0].model_dump_json()) == selected[0]
    assert json.loads(selected[0].model_dump_json())["kind"] == "guidance"

    line = [ln for ln in Transcript().lines(selected[0]) if ln.strip()]
    parts = [f"{c.name} card {c.tokens} tok" for c in selected[0].cards] + [
        f"knowledge {k.name} {k.tokens} tok" for k in selected[0].knowledge]
    assert line == [f"  guidance: {', '.join(parts)} = {selected[0].tokens} tok"]


def test_an_empty_selection_prints_nothing() -> None:
    event = GuidanceSelected(turn=1, call=1, tokens=0, budget=0)
    assert Transcript().lines(event) == []


def test_a_note_not_sent_again_says_so() -> None:
    event = GuidanceSelected(turn=2, call=2, tokens=90, budget=500, unchanged=True,
                             cards=[GuidanceItem(name="edit", tokens=80)])
    assert Transcript().lines(event) == ["  guidance: edit card 80 tok = 90 tok (unchanged: not sent again)"]
