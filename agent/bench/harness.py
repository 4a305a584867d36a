"""The benchmark run: the paper's Aider-Polyglot protocol on the same `Session` as everything else.

Per exercise: a clean copy without `.meta/` (tests un-skipped), attempt 1 with its own turn cap, the
tests restored and graded; if they fail, attempt 2 with the failing output and its own cap, then the tests
are restored and graded again. What the attempts are told, whether attempt 2 continues attempt 1's
conversation or starts fresh, and the settings the sessions get come from the run's protocol
(`paper` or `improved`, agent/bench/protocols.py). A wall-clock limit
covers the whole exercise. Exercises run `workers` at a time, each in its own copy; the model server's
queue decides the real throughput. Every finished exercise is saved at once (atomically), so an
interrupted run loses only the exercises in flight and `resume` picks up from there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field

from agent.backend import ModelMemory, connect
from agent.bench.exercises import LANGUAGES, Exercise, discover
from agent.bench.grading_env import finish_grading_environment, grading_environment
from agent.bench.guard import EditedTest
from agent.bench.output_clean import ERROR_HEAD_CHARS, failure_head
from agent.bench.progress import ProgressLine
from agent.bench.prompts import first_prompt, paper_first_prompt, paper_retry_prompt, retry_prompt, tail
from agent.bench.protocols import DEFAULT_PROTOCOL, ProtocolName, get_protocol
from agent.bench.results import AttemptRecord, ExerciseResult, GradeRecord, RunResults, Status, add_counters
from agent.bench.runners import Dependencies, Grade, Runner, Toolchains, make_runners
from agent.bench.workcopy import GradingRun, Readiness, WorkCopy
from agent.events import Counters, GuidanceSelected, ReasoningDelta, SessionFinished, StreamProgress, TextDelta, Usage
from agent.messages import Message
from agent.providers.base import ProviderError
from agent.prompt import PROMPT_VERSION
from agent.session import Session
from agent.settings import Settings
from agent.workspace import DiskWorkspace

log = logging.getLogger(__name__)

OUTPUT_TAIL_CHARS = 4000


class BenchError(Exception):
    """A run that cannot start or continue (no server, a results file in the way); message for the user."""


class BenchConfig(GradingRun):
    turns_1: int = Field(default=12, ge=1, le=500, description="turn cap of attempt 1 (the paper: 12)")
    turns_2: int = Field(default=8, ge=0, le=500, description="turn cap of attempt 2 (the paper: 8); 0: one attempt")
    exercise_timeout: float = Field(default=1800.0, gt=0,
                                    description="wall clock of one exercise's sessions; grading keeps its own limit")
    protocol: ProtocolName = Field(default=DEFAULT_PROTOCOL, description="paper or improved (agent/bench/protocols.py)")
    retry_tail_chars: int | None = Field(default=None, ge=200,
                                         description="failing output shown to attempt 2 (default: the protocol's)")


class Harness:
    def __init__(
        self,
        config: BenchConfig,
        settings: Settings,
        out: Path,
        *,
        resume: bool = False,
        toolchains: Toolchains | None = None,
        environ: Mapping[str, str] | None = None,
        progress: TextIO | None = None,
        on_result: Callable[[ExerciseResult], None] | None = None,
    ) -> None:
        self.config = config
        self.protocol = get_protocol(config.protocol)
        self.settings = settings.model_copy(update=self.protocol.settings)
        self.out = Path(out)
        self.resume = resume
        self.toolchains = toolchains or Toolchains.default(environ)
        self.runners: dict[str, Runner] = make_runners(self.toolchains, environ)
        self.progress_stream = progress
        self.on_result = on_result
        self.memory = ModelMemory()
        self.log_dir = self.out.parent / f"{self.out.stem}-logs"
        self._save_lock = asyncio.Lock()
        self.readiness = Readiness(self.runners)

    # --- the run ----------------------------------------------------------------------------------

    async def run(self) -> RunResults:
        """Run every selected exercise not already in the results (with `resume`); return the results.
        Raises BenchError before anything runs when the run cannot start."""
        config = self.config
        try:
            found = discover(config.tree, config.languages, config.exercises, config.limit)
        except ValueError as exc:
            raise BenchError(str(exc)) from exc
        if not found.exercises:
            where = f"{config.tree}/<{'|'.join(config.languages)}>/exercises/practice/"
            raise BenchError(f"no exercise found in {where}" + "".join(f"\n  {p}" for p in found.problems))
        results = self._load_or_start()
        await self._connect(results)
        results.problems = list(found.problems)  # this run's: harness errors are added as they happen
        if results.protocol and results.protocol != config.protocol:
            raise BenchError(f"{self.out} holds a run of protocol {results.protocol!r}: resume it with "
                             f"--protocol {results.protocol}, or write to another file")
        results.config = json.loads(config.model_dump_json())
        results.protocol = config.protocol
        results.prompt_version = PROMPT_VERSION
        results.prompt_layout = self.settings.prompt_layout
        results.finished = False
        pending = [e for e in found.exercises if not _done(results, e)]

        finished_before = len(found.exercises) - len(pending)
        earlier = [r for e in found.exercises if (r := results.get(e.key)) is not None and r.graded]
        progress = None
        if self.progress_stream is not None:
            progress = ProgressLine(self.progress_stream, len(found.exercises), done=finished_before,
                                    passed=sum(r.passed for r in earlier), graded=len(earlier))
        languages = sorted({e.language for e in found.exercises}, key=LANGUAGES.index)
        results.grading = grading = await grading_environment(self.runners, languages)
        await self._save(results)
        if config.work_dir is not None:
            config.work_dir.mkdir(parents=True, exist_ok=True)
        work_root = Path(tempfile.mkdtemp(prefix="little-coder-bench-", dir=config.work_dir))
        slots = asyncio.Semaphore(config.workers)
        running: set[str] = set()

        async def one(exercise: Exercise) -> None:
            async with slots:
                running.add(exercise.key)
                if progress is not None:
                    progress.started(exercise.key, len(running))
                try:
                    result = await self.run_exercise(exercise, work_root)
                except Exception as exc:  # a harness bug on one exercise must not end a long run
                    log.exception("exercise %s failed inside the harness", exercise.key)
                    results.problems.append(f"{exercise.key}: harness error {type(exc).__name__}: {exc}")
                    return
                finally:
                    running.discard(exercise.key)
                results.record(result)
                await self._save(results)
                if progress is not None:
                    progress.finished(result)
                if self.on_result is not None:
                    self.on_result(result)

        try:
            async with asyncio.TaskGroup() as group:
                for exercise in pending:
                    group.create_task(one(exercise))
            results.finished = all(_done(results, e) for e in found.exercises)
            await finish_grading_environment(grading, self.runners)
            await self._save(results)
        finally:
            if progress is not None:
                progress.close()
            if not config.keep_workdirs:
                await asyncio.to_thread(shutil.rmtree, work_root, True)
        return results

    def _load_or_start(self) -> RunResults:
        if not self.out.exists():
            return RunResults()
        if not self.resume:
            raise BenchError(f"{self.out} already exists: pass --resume to continue that run, or --force to "
                             "start over")
        try:
            return RunResults.load(self.out)
        except ValueError as exc:
            raise BenchError(str(exc)) from exc

    async def _connect(self, results: RunResults) -> None:
        """Check the model server once before any exercise, and pin the model every session will use."""
        try:
            backend = await connect(self.settings, self.memory)
        except ProviderError as exc:
            raise BenchError(exc.user_message()) from exc
        await backend.provider.aclose()
        if results.model and results.model != backend.model:
            raise BenchError(f"{self.out} holds a run of model {results.model!r}, but the server now serves "
                             f"{backend.model!r}: resume with the same model, or write to another file")
        results.model, results.backend, results.base_url = backend.model, backend.name, backend.base_url
        self.settings = self.settings.model_copy(
            update={"model": backend.model, "backend": backend.name, "base_url": backend.base_url})

    async def _save(self, results: RunResults) -> None:
        async with self._save_lock:
            results.refresh()
            await asyncio.to_thread(results.save, self.out)

    # --- one exercise -----------------------------------------------------------------------------

    async def run_exercise(self, exercise: Exercise, work_root: Path) -> ExerciseResult:
        runner = self.runners[exercise.language]
        reason, deps = await self.readiness.check(exercise)
        if reason is not None:
            return ExerciseResult(language=exercise.language, name=exercise.name, status="unavailable",
                                  unavailable_reason=reason)
        started = time.monotonic()
        copy = await WorkCopy.make(exercise, runner, work_root)
        trail = _Trail()
        try:
            return await self._attempts(copy, deps, started, trail)
        finally:
            await asyncio.to_thread(trail.write, self.log_dir / exercise.language / f"{exercise.name}.jsonl")
            if not self.config.keep_workdirs:
                await copy.remove()

    async def _attempts(self, copy: WorkCopy, deps: Dependencies, started: float, trail: _Trail) -> ExerciseResult:
        config = self.config
        protocol = self.protocol
        exercise, runner, root = copy.exercise, copy.runner, copy.root
        deadline = started + config.exercise_timeout
        caps = [config.turns_1] + ([config.turns_2] if config.turns_2 > 0 else [])
        attempts: list[AttemptRecord] = []
        edits: list[EditedTest] = []
        history: Sequence[Message] = ()
        status: Status = "fail"
        grade: Grade | None = None
        for number, cap in enumerate(caps, start=1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            task = self._task(exercise, runner, root, grade)
            workspace = DiskWorkspace(root, command_env=deps.env)
            session = Session(task, workspace, self.settings.model_copy(update={"max_turns": cap}),
                              memory=self.memory, history=history,
                              session_id=f"{exercise.language}-{exercise.name}-{number}")
            try:
                final, out_of_time = await self._drive(session, remaining, trail, number)
            finally:
                await workspace.aclose()
            grade, edited = await copy.grade(number, config.limits, deps)
            edits += edited
            trail.add(number, "grade", grade.model_dump())
            attempts.append(_attempt_record(number, final, out_of_time, grade))
            if grade.passed:
                status = "pass_1" if number == 1 else "pass_2"
                break
            if out_of_time:
                break
            if protocol.retry_continues:
                history = session.history
        result = _exercise_result(exercise, status, attempts, edits, time.monotonic() - started)
        if trail.guidance_tokens:
            spent = trail.guidance_tokens
            result.guidance_calls = len(spent)
            result.guidance_tokens_mean = round(sum(spent) / len(spent), 1)
            result.guidance_tokens_max = max(spent)
        return result

    def _task(self, exercise: Exercise, runner: Runner, root: Path, grade: Grade | None) -> str:
        protocol = self.protocol
        chars = self.config.retry_tail_chars or protocol.retry_chars
        if protocol.first_prompt == "bare":
            if grade is None:
                return paper_first_prompt(exercise, str(root))
            return paper_retry_prompt(grade.output, chars) if protocol.retry_output == "head" else \
                retry_prompt(exercise, grade.output, chars)
        if grade is None:
            return first_prompt(exercise, runner.agent_command(exercise))
        return retry_prompt(exercise, grade.output, chars) if protocol.retry_output == "tail" else \
            paper_retry_prompt(grade.output, chars)

    async def _drive(self, session: Session, budget: float, trail: _Trail,
                     attempt: int) -> tuple[SessionFinished | None, bool]:
        """Run one session to its end or to the exercise's wall-clock limit: (final event, ran out)."""
        final: SessionFinished | None = None
        try:
            async with asyncio.timeout(budget):
                async for event in session.run():
                    if isinstance(event, TextDelta | ReasoningDelta | StreamProgress):
                        continue  # the final event carries the answer; deltas and live progress would bloat the log
                    trail.add(attempt, "event", event.model_dump(mode="json"))
                    if isinstance(event, GuidanceSelected):
                        trail.guidance_tokens.append(event.tokens)
                    if isinstance(event, SessionFinished):
                        final = event
        except TimeoutError:
            return session.result, True
        return final, False


class _Trail:
    """The per-exercise log (JSON lines): session events and grading output, written once at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.guidance_tokens: list[int] = []  # per model call, both attempts

    def add(self, attempt: int, kind: str, data: dict[str, Any]) -> None:
        self.lines.append(json.dumps({"attempt": attempt, kind: data}, ensure_ascii=False))

    def write(self, path: Path) -> None:
        if not self.lines:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def _done(results: RunResults, exercise: Exercise) -> bool:
    found = results.get(exercise.key)
    return found is not None and found.graded  # unavailable ones are retried: the toolchain may be there now


def _attempt_record(number: int, final: SessionFinished | None, out_of_time: bool, grade: Grade) -> AttemptRecord:
    record = GradeRecord(passed=grade.passed, exit_code=grade.exit_code, timed_out=grade.timed_out,
                         memory_exceeded=grade.memory_exceeded, failed_step=grade.failed_step,
                         duration_s=grade.duration_s, output_tail=tail(grade.output, OUTPUT_TAIL_CHARS))
    if final is None:
        return AttemptRecord(attempt=number, outcome="time_limit" if out_of_time else "error", grade=record)
    return AttemptRecord(
        attempt=number,
        outcome="time_limit" if out_of_time else final.outcome,
        message="the exercise's wall-clock limit was reached" if out_of_time else final.message,
        turns=final.turns,
        duration_s=final.duration_s,
        tool_counts=final.tool_counts,
        counters=final.counters,
        usage=final.usage,
        grade=record,
    )


def _exercise_result(exercise: Exercise, status: Status, attempts: list[AttemptRecord],
                     edits: list[EditedTest], elapsed: float) -> ExerciseResult:
    tools: Counter[str] = Counter()
    counters = Counters()
    usage = Usage()
    for attempt in attempts:
        tools.update(attempt.tool_counts)
        counters = add_counters(counters, attempt.counters)
        usage.add(attempt.usage)
    return ExerciseResult(
        language=exercise.language,
        name=exercise.name,
        status=status,
        attempts=attempts,
        turns=sum(a.turns for a in attempts),
        duration_s=round(elapsed, 3),
        tool_counts=dict(tools),
        counters=counters,
        usage=usage,
        test_file_edits=edits,
        error="" if status != "fail" or not attempts else _error_head(attempts[-1]),
    )


def _error_head(attempt: AttemptRecord) -> str:
    """What failed, briefly: the session's error, else the test output from its first error-looking line."""
    if attempt.outcome in ("error", "time_limit") and attempt.message:
        return attempt.message[:ERROR_HEAD_CHARS]
    return failure_head(attempt.grade.output_tail)
