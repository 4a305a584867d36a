"""The reliability harness: scenarios as plain async functions, run as seeded trials with leak accounting.

Both the pytest files of this folder and `bench/reliability.py` run the same scenarios through here.

Writing a scenario (any module of this folder named `scenarios_*.py` that exports `SCENARIOS`)::

    from tests.reliability.harness import Scenario, Trial

    async def server_dies_mid_stream(trial: Trial) -> None:
        workspace = trial.workspace          # an empty folder for this trial, inside trial.tmp
        trial.fault()                        # count each fault you inject
        ...                                  # run a session (CLI, in-process, or through the LSP)
        trial.session(final.outcome, final.message)   # count each session and how it ended
        trial.check(no_apply_edit, "an errored session's edit was applied")  # a failed check

    SCENARIOS = (Scenario("model/cut", server_dies_mid_stream, group="model_faults"),)

A scenario reports through its `Trial` and may also just raise: `AssertionError` counts as a failed
check, anything else as a crash. The harness runs it as a `trial` per seed and accounts for
what the scenario cannot see itself:

- tasks: asyncio tasks of the running loop alive after the trial that were not there before it
  (after a short grace for tasks that are finishing);
- processes: every live process, other than this one, that carries the trial's marker in its
  environment (`MARKER_VARIABLE`, set in `os.environ` for the trial's duration, so CLI runs,
  language servers and every command they start inherit it — even one that left its session with
  `setsid` or was reparented to init), plus new children of this process;
- the world outside the workspace: `trial.outside` holds a canary file with `trial.secret` in it
  (and `trial.home`, a home folder for `~` tests); every byte created or changed anywhere under
  `trial.tmp` outside `trial.workspace` counts as written outside (scenery a scenario puts there
  itself goes through `trial.plant(path, text)`). Scenarios check that the secret never reached
  the model with `trial.check_no_secret(texts)`.

`TrialResult`s add up to a `Summary`, the JSON `bench/reliability.py` prints. Of its counters only
`scenarios_run`, `faults_injected`, `sessions` and `sessions_completed` may be non-zero; the rest are
failures (`Summary.failures()`), and a clean run has `sessions_completed == sessions`.

Seeds: quick mode (CI) runs seeds 0..`Scenario.seeds`-1; `LC_RELIABILITY_SEEDS=N` (or
`bench/reliability.py --soak`) runs N seeds of every scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import os
import random
import shutil
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.process import proc_stat

HERE = Path(__file__).resolve().parent
PACKAGE = "tests.reliability"
MARKER_VARIABLE = "LC_RELIABILITY_TRIAL"
SEEDS_VARIABLE = "LC_RELIABILITY_SEEDS"
# Outcomes a session may end with (agent.events.Outcome), plus "interrupted" for a CLI killed on purpose.
CLEAR_OUTCOMES = frozenset({"done", "turn_cap", "cancelled", "error", "stuck", "interrupted"})
# Tasks and processes that are winding down when the scenario returns get this long to go.
SETTLE_S = 2.0

ScenarioFn = Callable[["Trial"], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    """One thing to try. `faults`: how many faults one trial injects when the scenario does not count
    them itself with `trial.fault()`. `seeds`: trials in quick mode. `timeout`: a trial that runs
    longer is a hang (counted as a crash)."""

    name: str
    run: ScenarioFn
    group: str = "misc"
    seeds: int = 3
    timeout: float = 60.0
    faults: int = 0
    description: str = ""
    slow: bool = False  # marked `slow` under pytest (it starts processes: CLI runs, language servers)


class TrialResult(BaseModel):
    scenario: str
    group: str
    seed: int
    faults: int = 0
    sessions: int = 0
    sessions_completed: int = 0  # ended with a clear outcome and, unless done, a message
    sessions_unclear: int = 0
    crashes: int = 0  # an exception escaped the scenario (or it hung)
    failed_checks: int = 0
    leaked_tasks: int = 0
    leaked_processes: int = 0
    bytes_written_outside: int = 0
    secret_leaks: int = 0  # the canary's secret reached the model server
    user_edits_lost: int = 0
    problems: list[str] = Field(default_factory=list)
    duration_s: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.problems


FAILURE_FIELDS = ("sessions_unclear", "crashes", "failed_checks", "leaked_tasks", "leaked_processes",
                  "bytes_written_outside", "secret_leaks", "user_edits_lost")


class Summary(BaseModel):
    """The JSON summary. Everything after `sessions_completed` must be 0."""

    scenarios_run: int = 0  # trials: scenario × seed
    faults_injected: int = 0
    sessions: int = 0
    sessions_completed: int = 0
    sessions_unclear: int = 0
    crashes: int = 0
    failed_checks: int = 0
    leaked_tasks: int = 0
    leaked_processes: int = 0
    bytes_written_outside: int = 0
    secret_leaks: int = 0
    user_edits_lost: int = 0
    by_group: dict[str, int] = Field(default_factory=dict)  # trials per group
    problems: list[str] = Field(default_factory=list)  # "scenario[seed]: what went wrong"
    duration_s: float = 0.0

    def add(self, result: TrialResult) -> None:
        self.scenarios_run += 1
        self.faults_injected += result.faults
        self.sessions += result.sessions
        self.sessions_completed += result.sessions_completed
        for name in FAILURE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(result, name))
        self.by_group[result.group] = self.by_group.get(result.group, 0) + 1
        self.problems += [f"{result.scenario}[{result.seed}]: {p}" for p in result.problems]
        self.duration_s = round(self.duration_s + result.duration_s, 3)

    def failures(self) -> dict[str, int]:
        """The counters that are not zero but must be."""
        return {name: getattr(self, name) for name in FAILURE_FIELDS if getattr(self, name)}


class Trial:
    """What a scenario gets: its seed, its folders, and the ways to report what happened."""

    def __init__(self, scenario: Scenario, seed: int, tmp: Path) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(f"{scenario.name}:{seed}")
        self.id = uuid.uuid4().hex[:12]
        self.tmp = tmp
        self.workspace = tmp / "workspace"
        self.outside = tmp / "outside"
        self.home = tmp / "home"
        self.secret = f"CANARY-{uuid.uuid4().hex}"
        self.canary = self.outside / "canary.txt"
        self.result = TrialResult(scenario=scenario.name, group=scenario.group, seed=seed)
        self._faults_counted = False
        self.planted: dict[str, tuple[int, str]] = {}
        for folder in (self.workspace, self.outside, self.home):
            folder.mkdir(parents=True, exist_ok=True)
        self.canary.write_text(f"do not read me: {self.secret}\n", encoding="utf-8")
        (self.home / ".ssh").mkdir()
        (self.home / ".ssh" / "id_ed25519").write_text(f"-----PRIVATE {self.secret}-----\n", encoding="utf-8")

    # --- reporting ------------------------------------------------------------------------------

    def fault(self, count: int = 1) -> None:
        self._faults_counted = True
        self.result.faults += count

    def session(self, outcome: str | None, message: str | None) -> bool:
        """Count one session and whether it ended clearly: a known outcome and, unless it is "done",
        a message saying why. `outcome=None` means it never ended (or nobody could tell how)."""
        self.result.sessions += 1
        clear = outcome in CLEAR_OUTCOMES and (outcome == "done" or bool((message or "").strip()))
        if clear:
            self.result.sessions_completed += 1
        else:
            self.result.sessions_unclear += 1
            self.problem(f"session ended unclearly: outcome={outcome!r} message={message!r}")
        return clear

    def check(self, ok: bool, what: str) -> bool:
        """A failed check when `ok` is false; `what` says what went wrong."""
        if not ok:
            self.result.failed_checks += 1
            self.problem(what)
        return ok

    def edit_lost(self, detail: str) -> None:
        self.result.user_edits_lost += 1
        self.problem(f"user edit lost: {detail}")

    def check_no_secret(self, texts: Iterable[Any], where: str = "a model request") -> bool:
        """The canary's secret must not appear in any of `texts` (request bodies, events, outputs)."""
        for text in texts:
            blob = text if isinstance(text, str) else repr(text)
            if self.secret in blob or self.secret.removeprefix("CANARY-") in blob:
                self.result.secret_leaks += 1
                self.problem(f"the canary's secret appeared in {where}")
                return False
        return True

    def problem(self, text: str) -> None:
        self.result.problems.append(text)

    def plant(self, path: Path, text: str) -> Path:
        """Write a file outside the workspace as part of the scene (not as a write by the agent):
        the check for bytes written outside compares against it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        self.planted[str(path.relative_to(self.tmp))] = (len(data), hashlib.sha256(data).hexdigest())
        return path

    # --- helpers for scenarios ------------------------------------------------------------------

    @contextlib.contextmanager
    def environ(self, **values: str | None) -> Iterator[None]:
        """Set (or with None, remove) environment variables for a block; restored afterwards."""
        saved = {name: os.environ.get(name) for name in values}
        try:
            for name, value in values.items():
                _setenv(name, value)
            yield
        finally:
            for name, value in saved.items():
                _setenv(name, value)

    def marked_processes(self) -> set[int]:
        """Live processes (not this one) carrying this trial's marker."""
        return marked_processes(self.id)


# --- running trials -----------------------------------------------------------------------------


def seeds_for(scenario: Scenario, override: int | None = None) -> list[int]:
    count = override if override is not None else _env_seeds()
    return list(range(count if count is not None else scenario.seeds))


def _env_seeds() -> int | None:
    raw = os.environ.get(SEEDS_VARIABLE, "").strip()
    return int(raw) if raw else None


async def run_trial(scenario: Scenario, seed: int, base: Path | None = None) -> TrialResult:
    """Run one trial of `scenario` in a fresh folder under `base` (default: the system temp dir)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"lc-rel-{_slug(scenario.name)}-{seed}-", dir=base))
    trial = Trial(scenario, seed, tmp)
    result = trial.result
    started = time.monotonic()
    own = asyncio.current_task()
    tasks_before = {t for t in asyncio.all_tasks() if t is not own}
    children_before = _children(os.getpid())
    outside_before = _tree(tmp, skip=trial.workspace)
    saved_marker = os.environ.get(MARKER_VARIABLE)
    os.environ[MARKER_VARIABLE] = trial.id
    deadline = asyncio.timeout(scenario.timeout)
    try:
        async with deadline:
            await scenario.run(trial)
    except AssertionError as exc:
        result.failed_checks += 1
        trial.problem(f"check failed: {exc}".strip())
    except TimeoutError as exc:
        result.crashes += 1
        if deadline.expired():
            trial.problem(f"hung: still running after {scenario.timeout:g} s")
        else:
            trial.problem(f"crash: TimeoutError inside the scenario: {exc}\n{traceback.format_exc(limit=8)}")
    except Exception as exc:  # the point of the harness: whatever escapes is counted, not propagated
        result.crashes += 1
        trial.problem(f"crash: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    finally:
        _setenv(MARKER_VARIABLE, saved_marker)
    if not trial._faults_counted:
        result.faults += scenario.faults

    leaked = await _settled(lambda: [t for t in asyncio.all_tasks() if t is not own and t not in tasks_before])
    if leaked:
        result.leaked_tasks += len(leaked)
        trial.problem("tasks left running: " + ", ".join(sorted(_task_label(t) for t in leaked)))
        for task in leaked:
            task.cancel()
    processes = await _settled(lambda: sorted(marked_processes(trial.id) | (_children(os.getpid()) - children_before)))
    if processes:
        result.leaked_processes += len(processes)
        trial.problem("processes left running: " + ", ".join(_describe(pid) for pid in processes))
        _kill(processes)

    outside_after = _tree(tmp, skip=trial.workspace)
    written = _written({**outside_before, **trial.planted}, outside_after)
    if written:
        result.bytes_written_outside += sum(written.values())
        trial.problem("written outside the workspace: " + ", ".join(f"{p} ({n} B)" for p, n in written.items()))
    result.duration_s = round(time.monotonic() - started, 3)
    if result.clean:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        trial.problem(f"files kept in {tmp}")
    return result


async def run_all(scenarios: Sequence[Scenario], *, seeds: int | None = None, base: Path | None = None,
                  on_result: Callable[[TrialResult], None] | None = None) -> Summary:
    """Every scenario × seed, one after another, in the running loop."""
    summary = Summary()
    for scenario in scenarios:
        for seed in seeds_for(scenario, seeds):
            result = await run_trial(scenario, seed, base)
            summary.add(result)
            if on_result is not None:
                on_result(result)
    return summary


def discover(names: Iterable[str] | None = None) -> list[Scenario]:
    """The SCENARIOS of every `scenarios_*.py` module here (or of the named modules), by module name."""
    modules = list(names) if names is not None else sorted(p.stem for p in HERE.glob("scenarios_*.py"))
    found: list[Scenario] = []
    for name in modules:
        module = importlib.import_module(f"{PACKAGE}.{name}")
        found.extend(getattr(module, "SCENARIOS", ()))
    seen: set[str] = set()
    for scenario in found:
        if scenario.name in seen:
            raise ValueError(f"two scenarios are named {scenario.name!r}")
        seen.add(scenario.name)
    return found


def pytest_params(scenarios: Sequence[Scenario]) -> list[Any]:
    """(scenario, seed) parameters with readable ids, for `pytest.mark.parametrize("scenario, seed", ...)`."""
    import pytest

    return [pytest.param(s, seed, id=f"{s.name}[{seed}]", marks=[pytest.mark.slow] if s.slow else [])
            for s in scenarios for seed in seeds_for(s)]


async def assert_clean(scenario: Scenario, seed: int, base: Path | None = None) -> TrialResult:
    """Run one trial and fail the test with every problem it found."""
    result = await run_trial(scenario, seed, base)
    assert result.clean, f"{scenario.name}[{seed}]:\n  " + "\n  ".join(result.problems)
    return result


# --- processes, tasks, files ----------------------------------------------------------------------


def marked_processes(trial_id: str) -> set[int]:
    needle = f"{MARKER_VARIABLE}={trial_id}".encode()
    own = os.getpid()
    found: set[int] = set()
    for name in _pids():
        if name == own or _state(name) in (None, "Z"):
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.add(name)
        except OSError:
            continue  # gone, or not ours to read
    return found


def _children(parent: int) -> set[int]:
    """Live (non-zombie) direct children of `parent`."""
    found: set[int] = set()
    for pid in _pids():
        stat = proc_stat(pid)
        if stat is not None and stat[1] == parent and stat[0] != "Z":
            found.add(pid)
    return found


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _state(pid: int) -> str | None:
    stat = proc_stat(pid)
    return stat[0] if stat else None


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode("utf-8", errors="replace").strip()
    except OSError:
        command = "?"
    return f"{pid} ({command[:80]})"


def _kill(pids: Iterable[int]) -> None:
    import signal

    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


async def _settled(probe: Callable[[], Sequence[Any]], grace: float = SETTLE_S) -> Sequence[Any]:
    """`probe()` until it is empty or `grace` has passed; what is left then."""
    deadline = time.monotonic() + grace
    left = probe()
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        left = probe()
    return left


def _task_label(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"{task.get_name()}:{name}"


def _tree(root: Path, skip: Path) -> dict[str, tuple[int, str]]:
    """Every file (and symlink) under `root` except under `skip`: relative path → (size, digest)."""
    found: dict[str, tuple[int, str]] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            try:
                if path.is_symlink():
                    data = os.readlink(path).encode()
                else:
                    data = path.read_bytes()
            except OSError:
                continue
            found[str(path.relative_to(root))] = (len(data), hashlib.sha256(data).hexdigest())
    return found


def _written(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> dict[str, int]:
    """Files new or changed since `before` (their size; at least 1 for a changed empty file), and
    deleted ones (their old size)."""
    written: dict[str, int] = {}
    for path, (size, digest) in after.items():
        old = before.get(path)
        if old is None or old[1] != digest:
            written[path] = max(size, 1)
    for path, (size, _) in before.items():
        if path not in after:
            written[path] = max(size, 1)
    return written


def _setenv(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)[:40]

