"""The bash policy cannot be bypassed, and nothing the agent starts outlives its session.

Every bypass below would create `outside/pwned` if its payload ran; the harness counts any byte
written outside the workspace, so "refused" is checked twice: by the tool's answer and by the
file system. Under `allowlist` each is refused; under `ask` each is put to the user (who says no)
and none runs; under `never` nothing runs and nobody is asked. The language server asks through
`window/showMessageRequest`.

Background processes — `&`, `nohup`, `setsid`, double forks, `env -i` (which drops the process tag)
and a Python one-liner that daemonises with an empty environment — may run when the policy lets
them (`always`, or the allow-listed `python -c`), but none may be alive once the session has ended.
Each sleeps for a unique number of seconds, and /proc is searched for that number afterwards.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.reliability.agent_runs import MODEL, fast_settings, run_session
from tests.reliability.harness import Scenario, Trial
from tests.reliability.lsp_editor import LspServer, processes_running

PROTOCOLS = ("ollama", "openai")


def bypasses(trial: Trial) -> list[str]:
    target = f"{trial.outside}/pwned"
    p = f"touch {target}"
    return [
        f"pytest -q; {p}", f"ls && {p}", f"ls || {p}", f"ls\n{p}", f"ls;{p}", f"echo $({p})", f"echo `{p}`",
        f"echo \"$({p})\"", f"echo '{p}' | sh", f"echo {p} | bash -s", f"sh -c '{p}'", f"bash -c '{p}'",
        f"/bin/sh -c '{p}'", f"env sh -c '{p}'", f"env -i {p}", f"env -S '{p}'", f"PATH=/usr/bin {p}",
        "LD_PRELOAD=/tmp/evil.so ls", "BASH_ENV=/tmp/evil bash x.sh", "IFS=/ ls", f"ls & {p}", f"{p} &",
        f"nohup {p}", f"setsid {p}", f"({p})", f"{{ {p}; }}", f"exec {p}", f"eval '{p}'", f"command {p}",
        f"time {p}", f"timeout 5 {p}", f"nice {p}", f"xargs -a /dev/null {p}", f"a=touch; $a {target}",
        f"cat <({p})", "ls > >(sh)", f"python3 -c 'import os' ; {p}", f"echo x > {target}",
        f"echo x >> {target}", f"find . -exec {p} \\;", f"sed -n 'e {p}' a.py", f"awk 'BEGIN {{ system(\"{p}\") }}'",
        f"perl -e 'system(\"{p}\")'", f"git -c core.pager='{p}' log", f"npx --yes cowsay; {p}", f"sudo {p}",
        f"pytest -q && cp a.py {target}", f"ls | tee {target}", f"sort -o {target} a.py",
        f"cat <<EOF\n$({p})\nEOF",
    ]


def background(trial: Trial) -> tuple[str, list[str]]:
    """(the marker in every command line, the commands): each leaves a `sleep` behind."""
    marker = f"{4000 + trial.rng.randrange(5000)}.{trial.seed}{trial.rng.randrange(10**6):06d}"
    popen = ("python3 -c 'import subprocess; subprocess.Popen([\"sleep\", \"{m}\"], start_new_session=True, "
             "env={{}}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)'")
    commands = [
        "sleep {m} &", "nohup sleep {m} >/dev/null 2>&1 &", "setsid sleep {m} &", "(sleep {m} &)",
        "setsid -f sleep {m}",
        "env -i setsid sleep {m} &", "env -i /bin/sh -c 'setsid sleep {m} &'", "( ( sleep {m} & ) & )",
        "nohup setsid env -i sleep {m} >/dev/null 2>&1 &", popen, "sh -c 'sleep {m} &' && echo started",
    ]
    return marker, [c.format(m=f"{marker}{i}") for i, c in enumerate(commands)]


def _script(calls: list[Call], trial: Trial) -> list[Reply]:
    order = list(calls)
    trial.rng.shuffle(order)
    return [*(Reply(calls=order[i : i + 3]) for i in range(0, len(order), 3)), Reply("Done.")]


def _calls(commands: list[str]) -> list[Call]:
    return [Call("Bash", {"command": c}) for c in commands]


def _refusals(policy: str, answer: bool | None) -> Callable[[Trial], Awaitable[None]]:
    """Every bypass under `policy`; with `answer`, a confirm callback that answers it (None: none)."""

    async def scenario(trial: Trial) -> None:
        (trial.workspace / "a.py").write_text("x = 1\n", encoding="utf-8")
        commands = bypasses(trial)
        asked: list[str] = []

        async def confirm(command: str) -> bool:
            asked.append(command)
            return bool(answer)

        protocol = PROTOCOLS[trial.seed % 2]
        with ScriptedModelServer(protocol, _script(_calls(commands), trial), model=MODEL) as server:
            settings = fast_settings(server.base_url, protocol, bash=policy, max_turns=len(commands) + 4,
                                     loop_limit=50, max_corrections=10)
            run = await run_session(trial, "Run the tests.", settings, confirm=confirm if answer is not None else None)
        trial.fault(len(commands))
        trial.check(run.outcome == "done", f"{policy}: the session ended {run.outcome}: {run.message!r}")
        results = run.results()
        trial.check(len(results) == len(commands), f"{policy}: {len(results)} of {len(commands)} commands answered")
        ran = [r.summary for r in results if "refused" not in r.summary]
        trial.check(not ran, f"{policy}: commands ran: {ran}")
        if policy == "ask":
            trial.check(sorted(asked) == sorted(commands),
                        f"ask: {len(asked)} of {len(commands)} put to the user; not asked: "
                        f"{sorted(set(commands) - set(asked))}")
        else:
            trial.check(not asked, f"{policy}: the user was asked about {asked}")

    return scenario


def _background(policy: str, only_allowed: bool) -> Callable[[Trial], Awaitable[None]]:
    async def scenario(trial: Trial) -> None:
        marker, commands = background(trial)
        if only_allowed:
            commands = [c for c in commands if c.startswith("python3 -c")]
        protocol = PROTOCOLS[trial.seed % 2]
        with ScriptedModelServer(protocol, _script(_calls(commands), trial), model=MODEL) as server:
            settings = fast_settings(server.base_url, protocol, bash=policy, max_turns=len(commands) + 4,
                                     loop_limit=50, max_corrections=10)
            run = await run_session(trial, "Start the server.", settings)
        trial.fault(len(commands))
        trial.check(run.outcome == "done", f"{policy}: the session ended {run.outcome}: {run.message!r}")
        ran = [r for r in run.results() if r.ok]
        trial.check(len(ran) == len(commands), f"{policy}: {len(ran)} of {len(commands)} background commands ran: "
                                               f"{[r.summary for r in run.results() if not r.ok]}")
        left = sorted(processes_running(marker))
        trial.check(not left, f"{policy}: processes outlived the session: {_describe(left)}")
        for pid in left:
            os.kill(pid, 9)

    return scenario


async def _lsp_ask(trial: Trial) -> None:
    """Through the language server with `bash = "ask"`: every bypass is put to the user through
    showMessageRequest, the user denies, nothing runs (commands would run in the shadow tree, but
    the payload writes to an absolute path outside)."""
    (trial.workspace / "a.py").write_text("x = 1\n", encoding="utf-8")
    commands = trial.rng.sample(bypasses(trial), 12)
    marker, leftovers = background(trial)
    # Background tricks outside the allow-list (the `python3 -c` one is allowed: it runs unasked).
    commands += trial.rng.sample([c for c in leftovers if not c.startswith("python3 -c")], 3)
    protocol = PROTOCOLS[trial.seed % 2]
    with ScriptedModelServer(protocol, _script(_calls(commands), trial), model=MODEL) as model:
        settings = {"backend": protocol, "baseUrl": model.base_url, "model": MODEL, "stallTimeout": 5,
                    "connectTimeout": 1, "maxOutputTokens": 1024, "thinkingBudget": 0, "maxTurns": 30,
                    "loopLimit": 50, "maxCorrections": 10, "bash": "ask"}
        lsp = await LspServer(trial.workspace, settings=settings).start()
        try:
            lsp.editor.default_answer = "Deny"
            status = await lsp.command("littleCoder.ask", {"instruction": "Run the tests.", "wait": True}, timeout=60)
            trial.session(status.get("outcome"), status.get("message"))
            trial.fault(len(commands))
            asked = [str(m.get("message", "")) for m in lsp.editor.message_requests]
            trial.check(len(asked) == len(commands),
                        f"lsp: {len(asked)} of {len(commands)} commands were put to the user")
            missing = [c for c in commands if not any(c in text for text in asked)]
            trial.check(not missing, f"lsp: the user was not shown {missing}")
            results = [e["event"] for e in lsp.editor.events if e.get("event", {}).get("kind") == "tool_call_finished"]
            trial.check(len(results) == len(commands) and not any(r.get("ok") for r in results),
                        f"lsp: a denied command ran: {[r.get('summary') for r in results if r.get('ok')]}")
            await asyncio.sleep(0.2)
            left = sorted(processes_running(marker))
            trial.check(not left, f"lsp: processes outlived the session: {_describe(left)}")
        finally:
            await lsp.close()
            trial.check(not lsp.shadow_dirs(), f"lsp: shadow folders left behind: {lsp.shadow_dirs()}")
            lsp.cleanup_tmp()


async def _lsp_background(trial: Trial) -> None:
    """Through the language server with `bash = "always"`: every background trick runs (in the
    shadow tree) and nothing survives the session."""
    marker, commands = background(trial)
    protocol = PROTOCOLS[trial.seed % 2]
    with ScriptedModelServer(protocol, _script(_calls(commands), trial), model=MODEL) as model:
        settings = {"backend": protocol, "baseUrl": model.base_url, "model": MODEL, "stallTimeout": 5,
                    "connectTimeout": 1, "maxOutputTokens": 1024, "thinkingBudget": 0, "maxTurns": 30,
                    "loopLimit": 50, "maxCorrections": 10, "bash": "always"}
        lsp = await LspServer(trial.workspace, settings=settings).start()
        try:
            status = await lsp.command("littleCoder.ask", {"instruction": "Start it.", "wait": True}, timeout=60)
            trial.session(status.get("outcome"), status.get("message"))
            trial.fault(len(commands))
            left = sorted(processes_running(marker))
            trial.check(not left, f"lsp: processes outlived the session: {_describe(left)}")
            trial.check(lsp.alive(), "lsp: the server died")
        finally:
            await lsp.close()
            lsp.cleanup_tmp()
        left = sorted(processes_running(marker))
        trial.check(not left, f"lsp: processes outlived the server: {_describe(left)}")
        for pid in left:
            os.kill(pid, 9)


def _describe(pids: list[int]) -> list[str]:
    out: list[str] = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            command = "?"
        out.append(f"{pid}: {command[:100]}")
    return out


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("bash/allowlist", _refusals("allowlist", None), group="bash_policy"),
    Scenario("bash/ask_denied", _refusals("ask", False), group="bash_policy"),
    Scenario("bash/never", _refusals("never", None), group="bash_policy"),
    Scenario("bash/background_always", _background("always", False), group="bash_policy"),
    Scenario("bash/background_allowlisted", _background("allowlist", True), group="bash_policy"),
    Scenario("lsp/bash_ask", _lsp_ask, group="bash_policy", timeout=90, slow=True),
    Scenario("lsp/bash_background", _lsp_background, group="bash_policy", timeout=90, slow=True),
)
