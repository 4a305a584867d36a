"""`--workers N` through one URL in front of two model servers, as with a LiteLLM proxy or vLLM's
data-parallel serving: a round-robin router (tests/fakes/router.py) sends each request to the next
server, so consecutive turns of one exercise land on different servers. Results must stay per
exercise: each exercise's status, files, usage and log trail are its own, whichever server answered.

The exercises are copies of our Python fixtures under new names, each solution marked with its own key,
so that a reply meant for one exercise and applied to another would show.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path
from typing import Any

from agent.bench.exercises import Exercise, load_exercise
from agent.bench.harness import BenchConfig, Harness
from agent.bench.prompts import FIRST_LEAD
from agent.bench.results import ExerciseResult, RunResults
from tests.bench.conftest import EXERCISES
from tests.bench.script import ExerciseScript, solution_files
from tests.conftest import settings_for
from tests.fakes.model_server import Reply, ScriptedModelServer
from tests.fakes.router import RoundRobinRouter, Route
from tests.fakes.wire import prompt_tokens

COPIES = 3  # of each Python fixture: 6 exercises
WORKERS = 3  # odd, so that even exercises moving in lockstep alternate between the two servers


def _tree(tmp_path: Path) -> tuple[Path, list[str]]:
    """A tree of renamed copies of the Python fixtures whose wrong and reference solutions each end
    with a line naming their own exercise; returns it with the exercise keys."""
    tree = tmp_path / "tree"
    practice = tree / "python" / "exercises" / "practice"
    keys: list[str] = []
    for source in sorted((EXERCISES / "python" / "exercises" / "practice").iterdir()):
        for copy in range(1, COPIES + 1):
            target = practice / f"{source.name}-{copy}"
            shutil.copytree(source, target)
            key = f"python/{target.name}"
            for solution in [*(target / ".meta").glob("example*"), *(target / ".meta" / "wrong").rglob("*.py")]:
                solution.write_text(solution.read_text() + _marker(key))
            keys.append(key)
    return tree, keys


def _marker(key: str) -> str:
    return f"# written for {key}\n"


def _exercise_of(body: dict[str, Any]) -> str:
    """The key of the exercise a chat request belongs to, from its task message."""
    task = next(m["content"] for m in body["messages"] if m["role"] == "user" and m["content"].startswith(FIRST_LEAD))
    return str(task.removeprefix(FIRST_LEAD).split()[0])


def _written(work_dir: Path, exercise: Exercise) -> str:
    """The solution file as the run left it in the exercise's own copy."""
    (solution,) = exercise.solution
    (copy,) = work_dir.glob(f"little-coder-bench-*/python-{exercise.name}-*/{exercise.name}/{solution}")
    return copy.read_text()


def _check_accounts(router: RoundRobinRouter, servers: tuple[ScriptedModelServer, ...]) -> list[Route]:
    """Every response the router passed on in full is one a server finished, and vice versa; returns
    the chat requests."""
    chats = [r for r in router.routes if r.path.endswith("/chat/completions")]
    for server in servers:
        answered = [r for r in chats if r.outcome == "complete" and r.backend == server.base_url]
        assert len(answered) == sum(entry.completed for entry in server.log)
    return chats


def _check_own(result: ExerciseResult, tree: Path, work_dir: Path, out: Path, keys: list[str],
               chats: list[Route]) -> None:
    """The exercise's files, usage and log trail are its own and nobody else's."""
    key, name = result.key, result.name
    exercise = load_exercise("python", tree / "python" / "exercises" / "practice" / name)
    written = _written(work_dir, exercise)
    if result.status == "pass_2":
        assert written == solution_files(exercise, "example")[exercise.solution[0]]
    assert not any(_marker(other) in written for other in keys if other != key)

    # Usage adds up exactly what the servers reported for this exercise's own requests.
    served = [r for r in chats if r.outcome == "complete" and _exercise_of(r.body) == key]
    assert result.usage.calls >= len(served) and result.usage.calls == sum(a.usage.calls for a in result.attempts)
    if all(a.outcome == "done" for a in result.attempts):
        assert result.usage.calls == len(served)
        assert result.usage.prompt_tokens == sum(prompt_tokens(r.body) for r in served)

    trail = (out.parent / f"{out.stem}-logs" / "python" / f"{name}.jsonl").read_text()
    assert key in trail and not any(other in trail for other in keys if other != key)
    for line in trail.splitlines():
        entry = json.loads(line)
        if "event" in entry:
            assert entry["event"]["session_id"] == f"python-{name}-{entry['attempt']}"
    graded = [json.loads(line)["attempt"] for line in trail.splitlines() if "grade" in json.loads(line)]
    assert graded == [a.attempt for a in result.attempts]


def _check_saved(results: RunResults, out: Path, keys: list[str]) -> None:
    """results.json holds every exercise exactly once, and is what the run returned."""
    assert sorted(e.key for e in results.exercises) == sorted(keys)
    assert results.finished and not results.problems
    assert RunResults.load(out) == results
    saved = json.loads(out.read_text())
    assert sorted(f"{e['language']}/{e['name']}" for e in saved["exercises"]) == sorted(keys)
    assert saved["overall"]["graded"] == len(keys)


async def test_exercises_stay_their_own_when_turns_alternate_between_two_servers(tmp_path: Path) -> None:
    tree, keys = _tree(tmp_path)
    script = ExerciseScript(tree)
    out = tmp_path / "results.json"
    config = BenchConfig(tree=tree, languages=["python"], workers=WORKERS, work_dir=tmp_path, keep_workdirs=True)
    with ScriptedModelServer("openai", script) as first, ScriptedModelServer("openai", script) as second:
        async with RoundRobinRouter([first.base_url, second.base_url]) as router:
            settings = settings_for(first, base_url=f"{router.base_url}/v1")  # the /v1 form users copy
            results = await Harness(config, settings, out).run()

    assert results.base_url == router.base_url and results.backend == "openai"
    assert router.dropped == {} and all(r.outcome == "complete" for r in router.routes)
    chats = _check_accounts(router, (first, second))
    assert len(chats) == 5 * len(keys) and {r.backend for r in chats} == {first.base_url, second.base_url}
    # Turns of one exercise went to both servers (round-robin per request, not sticky).
    served_by = {key: {r.backend for r in chats if _exercise_of(r.body) == key} for key in keys}
    assert any(len(backends) == 2 for backends in served_by.values()), served_by

    for result in results.exercises:
        assert result.status == "pass_2", result.model_dump_json(indent=1)
        assert [a.outcome for a in result.attempts] == ["done", "done"]
        assert [a.turns for a in result.attempts] == [3, 2] and result.turns == 5
        assert result.tool_counts == {"Read": 1, "Edit": 2} and result.error == ""
        _check_own(result, tree, tmp_path, out, keys, chats)
    _check_saved(results, out, keys)


async def test_a_server_that_dies_mid_run_fails_only_the_exercises_it_was_answering(tmp_path: Path) -> None:
    """The second server dies while streaming the first turn of an exercise. The router drops it and
    sends everything after to the first; the exercises whose responses were cut are graded as they
    stand (the one cut at its first turn fails), every other exercise passes as before."""
    tree, keys = _tree(tmp_path)
    script = ExerciseScript(tree)
    out = tmp_path / "results.json"
    config = BenchConfig(tree=tree, languages=["python"], workers=WORKERS, work_dir=tmp_path, keep_workdirs=True)
    dying = asyncio.Event()
    victim: list[str] = []
    once = threading.Lock()

    def doomed(body: dict[str, Any], index: int) -> Reply:
        """The second server's script: the first opening turn it gets stalls mid-stream."""
        reply = script(body, index)
        opening = not any(m["role"] == "assistant" for m in body["messages"])
        if opening and once.acquire(blocking=False):
            victim.append(_exercise_of(body))
            return reply.model_copy(update={"fault": "stall", "stall_seconds": 60.0})
        return reply

    def relayed(route: Route) -> None:
        # Once the client has the start of the stalled response, the server dies under it.
        if route.backend == second.base_url and victim and _exercise_of(route.body) == victim[0]:
            dying.set()

    async def kill(server: ScriptedModelServer) -> None:
        await dying.wait()
        await asyncio.to_thread(server.stop)

    with ScriptedModelServer("openai", script) as first, ScriptedModelServer("openai", doomed) as second:
        async with RoundRobinRouter([first.base_url, second.base_url], on_relayed=relayed) as router:
            settings = settings_for(first, base_url=f"{router.base_url}/v1")
            killer = asyncio.create_task(kill(second))
            try:
                results = await Harness(config, settings, out).run()
            finally:
                killer.cancel()
            assert dying.is_set(), "the second server never got an opening turn"

    # The router took the dead server out at the next request for it and sent that request, and all
    # after, to the live one; the only responses lost are those the dead server was sending.
    assert list(router.dropped) == [second.base_url]
    chats = _check_accounts(router, (first, second))
    lost = [r for r in chats if r.outcome != "complete"]
    assert all(r.outcome == "cut" and r.backend == second.base_url for r in lost)
    cut = {_exercise_of(r.body) for r in lost}
    assert victim[0] in cut and len(cut) <= WORKERS < len(keys)

    by_key = {r.key: r for r in results.exercises}
    # Cut at its first turn, the victim's attempt 1 ends in an error with nothing written; attempt 2
    # (on the live server) cannot apply its fix to the untouched stub, and the exercise fails.
    victim_result = by_key[victim[0]]
    assert victim_result.status == "fail" and victim_result.turns == 1 + 2
    first_attempt = victim_result.attempts[0]
    assert first_attempt.outcome == "error" and "ended the response early" in first_attempt.message
    assert not first_attempt.grade.passed and victim_result.attempts[1].outcome == "done"
    stub = load_exercise("python", tree / "python" / "exercises" / "practice" / victim_result.name)
    assert _written(tmp_path, stub) == (stub.path / stub.solution[0]).read_text()
    for key, result in by_key.items():
        if key in cut:
            assert any(a.outcome == "error" and "ended the response early" in a.message for a in result.attempts)
        else:
            assert result.status == "pass_2", result.model_dump_json(indent=1)
            assert [a.outcome for a in result.attempts] == ["done", "done"] and result.turns == 5
        _check_own(result, tree, tmp_path, out, keys, chats)
    _check_saved(results, out, keys)
