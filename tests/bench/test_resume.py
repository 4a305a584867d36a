"""An interrupted run keeps every finished exercise (saved atomically as each one ends) and `resume`
runs only what is missing; a results file is never overwritten by accident."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from agent.bench.harness import BenchConfig, BenchError, Harness
from agent.bench.results import ExerciseResult, RunResults
from tests.bench.conftest import EXERCISES
from tests.bench.script import ExerciseScript
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer


async def test_resume_after_an_interrupt_runs_only_the_rest(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    practice = EXERCISES / "python" / "exercises" / "practice"
    for source, name in (("digit-sum", "digit-sum"), ("initials", "initials"), ("digit-sum", "more-digits")):
        shutil.copytree(practice / source, tree / "python" / "exercises" / "practice" / name)
    out = tmp_path / "results.json"
    config = BenchConfig(tree=tree, work_dir=tmp_path)
    first = ExerciseScript(tree)
    with ScriptedModelServer("openai", first) as server:
        settings = settings_for(server)
        run: asyncio.Task[RunResults] | None = None

        def interrupt(result: ExerciseResult) -> None:
            assert run is not None
            run.cancel()  # as Ctrl-C would, right after the first exercise was saved

        run = asyncio.create_task(Harness(config, settings, out, on_result=interrupt).run())
        with pytest.raises(asyncio.CancelledError):
            await run
        saved = RunResults.load(out)
        assert [(e.key, e.status) for e in saved.exercises] == [("python/digit-sum", "pass_2")]
        assert not saved.finished and saved.overall.pass_2 == 1
        assert not list(tmp_path.glob("little-coder-bench-*")), "the interrupted copies were left behind"

        with pytest.raises(BenchError, match="already exists: pass --resume"):
            await Harness(config, settings, out).run()

        second = ExerciseScript(tree)
        server.replace_replies(second)
        results = await Harness(config, settings, out, resume=True).run()

    assert set(second.requests) == {"python/initials", "python/more-digits"}
    assert results.finished
    assert [(e.key, e.status) for e in results.exercises] == [
        ("python/digit-sum", "pass_2"), ("python/initials", "pass_2"), ("python/more-digits", "pass_2")]
    assert results.exercises[0] == saved.exercises[0]  # kept as it was, not re-run
    assert RunResults.load(out) == results and results.overall.pass_2 == 3


async def test_resume_refuses_another_model_and_a_file_that_is_not_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    config = BenchConfig(tree=EXERCISES, exercises=["python/digit-sum"], work_dir=tmp_path)
    RunResults(model="some-other-model:7b").save(out)
    with ScriptedModelServer("ollama", ExerciseScript(EXERCISES)) as server:
        with pytest.raises(BenchError, match="holds a run of model 'some-other-model:7b'"):
            await Harness(config, settings_for(server), out, resume=True).run()
        out.write_text('{"not": "results"}')
        with pytest.raises(BenchError, match="not a little-coder bench results file"):
            await Harness(config, settings_for(server), out, resume=True).run()
