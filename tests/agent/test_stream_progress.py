"""Live progress of a model call (StreamProgress): what it counts, how often it comes, and the wait before
the first byte, over real HTTP on both protocols."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from agent import tokens
from agent.events import Event, SessionFinished, StreamProgress, TextDelta, ThinkingBudgetHit
from agent.model_call import PROGRESS_INTERVAL_S, ProgressMeter
from agent.session import Session
from agent.thinking_budget import ThinkingBudget
from agent.transcript import Transcript
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply

REASONING = " ".join(f"step{i} weighs the century rule once more" for i in range(120))
ANSWER = " ".join(f"word{i}" for i in range(400))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_meter_reads_the_budget_count_and_throttles() -> None:
    clock = Clock()
    produced = tokens.RunningCount()
    budget = ThinkingBudget(2048)
    meter = ProgressMeter(produced, budget, turn=1, session_id="s", clock=clock)
    sent: list[tuple[StreamProgress, int]] = []
    for index in range(40):  # 40 deltas in one second: four events, not forty
        text = f"thought {index} "
        produced.feed(text)
        budget.feed(text)
        clock.now += 0.025
        if (event := meter.update("thinking", text)) is not None:
            sent.append((event, budget.tokens))
    assert len(sent) == 4
    assert all(e.phase == "thinking" and e.budget == 2048 and e.tokens == counted for e, counted in sent)
    assert sent[0][0].tokens_per_s is None  # too early to say
    last = sent[-1][0]
    assert last.tokens_per_s is not None and last.tokens_per_s > 0
    assert last.text == f"thinking {last.tokens}/2048 · {round(last.tokens_per_s)} tok/s"

    clock.now += PROGRESS_INTERVAL_S
    before = produced.count()
    produced.feed("The answer is here.")
    writing = meter.update("writing", "The answer is here.")
    assert writing is not None and writing.phase == "writing" and writing.budget is None
    assert abs(writing.tokens - (produced.count() - before)) <= 1  # the answer's tokens, not the thinking's
    assert writing.elapsed == pytest.approx(1.0 + PROGRESS_INTERVAL_S, abs=0.1)


def test_words_and_what_clients_receive() -> None:
    def event(**values: object) -> StreamProgress:
        return StreamProgress.model_validate({"turn": 1, "elapsed": 12.3, **values})

    assert event(phase="thinking", tokens=812, budget=2048).text == "thinking 812/2048"
    assert event(phase="thinking", tokens=812).text == "thinking 812 tok"
    assert event(phase="writing", tokens=240, tokens_per_s=38.4).text == "writing 240 tok · 38 tok/s"
    assert event(phase="waiting").text == "waiting for the model (loading?) 12 s"
    # Clients show the words as they come: the event carries them.
    assert event(phase="thinking", tokens=812, budget=2048).model_dump(mode="json")["text"] == "thinking 812/2048"


def test_the_transcript_has_no_line_for_progress_and_keeps_its_lines_whole() -> None:
    transcript = Transcript()
    assert transcript.lines(TextDelta(text="half a ")) == []
    assert transcript.lines(StreamProgress(turn=1, phase="writing", tokens=3, elapsed=1.0)) == []
    assert transcript.lines(TextDelta(text="line\n")) == ["  half a line"]


async def _run(server: ScriptedModelServer, workspace: Path, **settings: object) -> tuple[list[Event], list[float]]:
    events: list[Event] = []
    seen: list[float] = []
    async for event in Session("implement it", DiskWorkspace(workspace), settings_for(server, **settings)).run():
        events.append(event)
        seen.append(time.monotonic())
    return events, seen


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_a_paced_stream_reports_thinking_against_the_budget_then_writing(protocol: str, tmp_path: Path) -> None:
    script = [Reply(ANSWER, reasoning=REASONING, tokens_per_second=900)]
    with ScriptedModelServer(protocol, script) as server:
        events, seen = await _run(server, tmp_path, thinking_budget=4096)
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done", final
    progress = [(e, at) for e, at in zip(events, seen, strict=True) if isinstance(e, StreamProgress)]
    thinking = [e for e, _ in progress if e.phase == "thinking"]
    writing = [e for e, _ in progress if e.phase == "writing"]
    assert len(thinking) >= 2 and len(writing) >= 2, [e.text for e, _ in progress]
    assert {e.budget for e in thinking} == {4096} and all(e.turn == 1 for e in thinking)
    counts = [e.tokens for e in thinking]
    assert counts == sorted(counts) and 0 < counts[-1] <= tokens.count(REASONING)
    assert writing[-1].tokens_per_s is not None and 200 < writing[-1].tokens_per_s < 3000
    # Never more than one event per interval, however fast the deltas come.
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(progress)]
    assert min(gaps) > PROGRESS_INTERVAL_S * 0.8, gaps


async def test_progress_stops_at_the_budget_and_the_retry_writes(tmp_path: Path) -> None:
    script = [Reply(reasoning=REASONING * 3, tokens_per_second=2000), Reply("Answer without thinking.")]
    with ScriptedModelServer("openai", script) as server:
        events, _ = await _run(server, tmp_path, thinking_budget=300)
    hit = next(e for e in events if isinstance(e, ThinkingBudgetHit))
    before = [e for e in events[: events.index(hit)] if isinstance(e, StreamProgress)]
    assert before and all(e.phase == "thinking" and e.tokens <= 301 for e in before)


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_a_long_wait_before_the_first_byte_is_reported(protocol: str, tmp_path: Path) -> None:
    with ScriptedModelServer(protocol, [Reply("Done.", delay=2.3)]) as server:
        events, _ = await _run(server, tmp_path)
    waits = [e for e in events if isinstance(e, StreamProgress) and e.phase == "waiting"]
    assert [round(e.elapsed) for e in waits] == [1, 2], waits
    assert waits[-1].text == "waiting for the model 2 s"  # too short a wait to guess at loading
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.final_text == "Done."


async def test_cancel_while_waiting_hangs_up_at_once(tmp_path: Path) -> None:
    with ScriptedModelServer("ollama", [Reply("Done.", delay=8)]) as server:
        session = Session("x", DiskWorkspace(tmp_path), settings_for(server))
        events: list[Event] = []

        async def run() -> None:
            async for event in session.run():
                events.append(event)
                if isinstance(event, StreamProgress):
                    session.cancel()

        started = time.monotonic()
        await asyncio.wait_for(run(), 5)
        (entry,) = server.wait_finished(1, timeout=3)
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "cancelled", final
    assert time.monotonic() - started < 3
    assert entry.client_closed_early


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_a_model_still_loading_says_so(protocol: str, tmp_path: Path) -> None:
    # Ollama loads on the first request, which waits; llama-server refuses with 503 "Loading model" until
    # loaded, and the request is made again once it can serve.
    with ScriptedModelServer(protocol, [Reply("Done.")], load_seconds=2.5) as server:
        events, _ = await _run(server, tmp_path)
    loads = [e for e in events if isinstance(e, StreamProgress) and e.phase == "loading"]
    assert loads and loads[-1].text == f"loading the model {round(loads[-1].elapsed)} s", loads
    assert not [e for e in events if isinstance(e, StreamProgress) and e.phase == "waiting"]
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.final_text == "Done.", final


async def test_what_a_loading_server_could_not_say_is_asked_again() -> None:
    from agent.backend import ModelMemory, connect

    memory = ModelMemory()
    with ScriptedModelServer("openai", [], load_seconds=1.0, n_ctx=8192) as server:
        settings = settings_for(server)
        first = await connect(settings, memory)
        assert first.capabilities.loading and first.capabilities.context_size is None
        assert not memory.capabilities  # not remembered
        await asyncio.sleep(1.2)
        second = await connect(settings, memory)
    assert not second.capabilities.loading and second.capabilities.context_size == 8192
    assert list(memory.capabilities.values()) == [second.capabilities]
