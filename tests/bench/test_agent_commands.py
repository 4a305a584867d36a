"""The test command each first prompt hands the agent works in its copy, is allowed by the default Bash
policy, and runs the un-skipped tests (a wrong solution that passes only the first test fails it)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from agent.bash_policy import check
from agent.bench.exercises import LANGUAGES, discover
from agent.bench.prepare import prepare
from agent.bench.runners import Runner, Toolchains, make_runners
from agent.process import run_command
from tests.bench.conftest import EXERCISES
from tests.bench.script import solution_files


async def _verdicts(runner: Runner, tmp: Path) -> tuple[str, int | None, int | None, str]:
    exercise = discover(EXERCISES, [runner.language], limit=1).exercises[0]
    root = tmp / runner.language / exercise.name
    prepare(exercise, root)
    runner.setup(root)
    deps = await runner.dependencies(exercise)  # Java's command names the jars resolved here
    command = runner.agent_command(exercise)
    # The grading environment only adds caches (ccache for C++, through cmake's launcher variable).
    env = {**runner.env, **runner.grading_env(root, root.parent), **deps.env, "CMAKE_CXX_COMPILER_LAUNCHER": "ccache"}
    codes: list[int | None] = []
    output = ""
    for variant in ("wrong", "example"):
        for path, text in solution_files(exercise, variant).items():
            (root / path).write_text(text)
        result = await run_command(command, root, timeout=240, env=env)
        codes.append(result.exit_code)
        output = result.stdout + result.stderr
    return command, codes[0], codes[1], output


@pytest.mark.slow
async def test_the_prompted_test_command_runs_the_whole_suite(tmp_path: Path,
                                                               missing_toolchains: dict[str, str]) -> None:
    runners = make_runners(Toolchains.default())
    languages = [lang for lang in LANGUAGES if lang not in missing_toolchains]
    verdicts = await asyncio.gather(*(_verdicts(runners[lang], tmp_path) for lang in languages))
    for language, (command, wrong, right, output) in zip(languages, verdicts, strict=True):
        decision = check(command, "allowlist", [])
        assert decision.allowed, (language, command, decision.reason)
        assert wrong not in (0, None), (language, command)
        assert right == 0, (language, command, output[-2000:])
    shutil.rmtree(tmp_path, ignore_errors=True)
