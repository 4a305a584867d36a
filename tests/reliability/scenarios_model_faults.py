"""Faults from the model server: every chaos fault, in the agent (in process), through the CLI and
through the language server, each followed by a healthy session that must work.

What "ends well" means per fault: faults that break the response (HTTP errors, reset, cut, truncated
or garbage lines, an error object mid-stream, a stall past stall_timeout, a reply that never ends)
end the session with outcome "error" and a message a person can act on (it names the server, no
traceback, no "internal error"); faults a client can live with (invalid UTF-8, a 1 MB line, 10,000
tiny chunks, 100 KB tool-call arguments) end it "done" with the work done. The server's log must
show every request ended — nothing left streaming to a client that walked away.

Through the language server, an errored session must say so with an Error `showMessage`. Whatever it
had changed before the fault is never applied without the user: the server shows the error first and
offers the changes as a review edit in which every hunk needs confirmation. The simulated user
declines, and the files must be as before. (Decision: offering, rather than dropping, keeps work a
crash interrupted; confirmation per hunk after an error keeps it from landing unseen.)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from agent.backend import ModelMemory
from tests.fakes.chaos import CHAOS_FAULTS, Chaos, ChaosFault, closed_port, inject
from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.reliability.agent_runs import MODEL, STALL_S, fast_settings, readable, run_cli, run_session
from tests.reliability.harness import Scenario, Trial
from tests.reliability.lsp_editor import LspServer, vscode_capabilities

# Faults after which the session goes on (and finishes its task).
SURVIVABLE: frozenset[str] = frozenset({"invalid_utf8", "huge_line", "tiny_chunks", "huge_arguments"})
PROTOCOLS = ("ollama", "openai")
STALL_FAULT_S = STALL_S * 3  # the server stalls for longer than the client waits
# 100 KB of arguments is some 30k tokens: the session needs the room a model writing that much has.
ROOMY = {"max_output_tokens": 40_000, "context_size": 131_072}
TASK = "Create a.py holding x = 1."


def _script(rng: random.Random, fault: ChaosFault) -> tuple[list[Reply], int]:
    """Write a.py, then Done — with `fault` in the first or the second reply; the faulty index."""
    write = Reply(reasoning="I will write it.", calls=[Call("Write", {"file_path": "a.py", "content": "x = 1\n"})])
    script = [write, Reply("Created a.py.")]
    at = rng.randrange(2)
    script[at] = inject(script[at], fault, rng, stall_seconds=STALL_FAULT_S)
    return script, at


def _settings_for(fault: ChaosFault) -> dict[str, Any]:
    return dict(ROOMY) if fault == "huge_arguments" else {}


def _check_end(trial: Trial, fault: str, outcome: str | None, message: str, where: str) -> None:
    if fault in SURVIVABLE:
        trial.check(outcome == "done", f"{where}: a {fault} reply should not end the session, got {outcome}: "
                                       f"{message!r}")
        return
    trial.check(outcome == "error", f"{where}: a {fault} fault should end the session in error, got {outcome}")
    why = readable(message)
    trial.check(why is None, f"{where}: the {fault} message is {why}: {message!r}")


def _check_server_log(trial: Trial, server: ScriptedModelServer) -> None:
    try:
        server.wait_finished(timeout=STALL_FAULT_S + 2)
    except TimeoutError as exc:
        trial.check(False, f"a chat request never ended on the model server: {exc}")


def _healthy(name: str) -> list[Reply]:
    return [Reply(calls=[Call("Write", {"file_path": name, "content": "ok = True\n"})]), Reply("Done.")]


# --- in process -------------------------------------------------------------------------------------


def _in_process(fault: ChaosFault) -> Scenario:
    async def scenario(trial: Trial) -> None:
        protocol = PROTOCOLS[trial.seed % 2]
        script, _ = _script(trial.rng, fault)
        memory = ModelMemory()  # one host: the next session must not inherit a broken state
        with ScriptedModelServer(protocol, script, model=MODEL, n_ctx=ROOMY["context_size"]) as server:
            settings = fast_settings(server.base_url, protocol, **_settings_for(fault))
            trial.fault()
            run = await run_session(trial, TASK, settings, memory=memory)
            _check_end(trial, fault, run.outcome, run.message, protocol)
            if run.outcome == "error":
                trial.check(server.base_url in run.message, f"the message does not name the server: {run.message!r}")
            if fault in SURVIVABLE:
                trial.check((trial.workspace / "a.py").is_file(), "a.py was not written after a survivable fault")
            _check_server_log(trial, server)
            if fault == "never_ends":
                trial.check(any(e.client_closed_early for e in server.log),
                            "the client never hung up on a reply that does not end")
            server.replace_replies(_healthy("b.py"))
            after = await run_session(trial, "Create b.py.", settings, memory=memory)
            trial.check(after.outcome == "done" and (trial.workspace / "b.py").is_file(),
                        f"the session after the fault did not work: {after.outcome} {after.message!r}")

    return Scenario(f"model/{fault}", scenario, group="model_faults",
                    description=f"{fault} from the model server, in process, then a healthy session")


async def _refused(trial: Trial) -> None:
    """Nothing listens at the base URL; then a server appears there... on another port, as a user
    fixing the setting would make it."""
    protocol = PROTOCOLS[trial.seed % 2]
    url = f"http://127.0.0.1:{closed_port()}"
    trial.fault()
    run = await run_session(trial, TASK, fast_settings(url, protocol))
    trial.check(run.outcome == "error", f"connection refused ended as {run.outcome}")
    trial.check(readable(run.message) is None and "cannot connect" in run.message,
                f"connection refused message: {run.message!r}")
    with ScriptedModelServer(protocol, _healthy("b.py"), model=MODEL) as server:
        after = await run_session(trial, "Create b.py.", fast_settings(server.base_url, protocol))
    trial.check(after.outcome == "done", f"the session after a refused connection: {after.outcome}")


async def _chaos(trial: Trial) -> None:
    """Seeded random faults over whole sessions: three sessions of five turns on one server."""
    protocol = PROTOCOLS[trial.seed % 2]
    memory = ModelMemory()
    steps = [Reply(calls=[Call("Write", {"file_path": f"f{i}.py", "content": f"n = {i}\n"})]) for i in range(4)]
    with ScriptedModelServer(protocol, [], model=MODEL, n_ctx=ROOMY["context_size"]) as server:
        settings = fast_settings(server.base_url, protocol, **ROOMY)
        for session in range(3):
            chaos = Chaos([*steps, Reply("All written.")], seed=trial.seed * 100 + session, rate=0.35,
                          stall_seconds=STALL_FAULT_S)
            server.replace_replies(chaos)
            run = await run_session(trial, "Write f0.py to f3.py.", settings, memory=memory)
            trial.fault(len(chaos.injected))
            fatal = [f for _, f in chaos.injected if f not in SURVIVABLE]
            if fatal:
                _check_end(trial, fatal[0], run.outcome, run.message, f"chaos {chaos.injected}")
            else:
                trial.check(run.outcome == "done", f"chaos {chaos.injected}: {run.outcome} {run.message!r}")
            _check_server_log(trial, server)


# --- the CLI ----------------------------------------------------------------------------------------


async def _cli(trial: Trial) -> None:
    """The CLI under every fault in a seeded order: exit code 1 with the reason on stderr, 0 when it
    survives; never a traceback."""
    protocol = PROTOCOLS[trial.seed % 2]
    faults = trial.rng.sample(CHAOS_FAULTS, 4)
    with ScriptedModelServer(protocol, [], model=MODEL, n_ctx=ROOMY["context_size"]) as server:
        for fault in faults:
            script, _ = _script(trial.rng, fault)
            server.replace_replies(script)
            extra = {k: str(v) for k, v in _settings_for(fault).items()}
            trial.fault()
            result = await run_cli(trial, ["run", "--json", "--backend", protocol, "--base-url", server.base_url,
                                          "--model", MODEL, "--thinking-budget", "0", TASK],
                                   settings={"stall_timeout": str(STALL_S), "max_output_tokens": "1024", **extra})
            final = result.final()
            trial.session(final.get("outcome") if final else None, final.get("message") if final else None)
            trial.check("Traceback" not in result.stderr,
                        f"cli {fault}: a traceback on stderr:\n{result.stderr[-2000:]}")
            expected = 0 if fault in SURVIVABLE else 1
            trial.check(result.code == expected, f"cli {fault}: exit code {result.code}, expected {expected}; "
                                                 f"stderr {result.stderr[-500:]!r}")
            if final is not None:
                _check_end(trial, fault, final.get("outcome"), str(final.get("message")), f"cli {fault}")
            (trial.workspace / "a.py").unlink(missing_ok=True)
            for extra_file in trial.workspace.glob("notes_*.txt"):
                extra_file.unlink()
            _check_server_log(trial, server)


# --- the language server ----------------------------------------------------------------------------


async def _lsp(trial: Trial) -> None:
    """One language server, every fault in a seeded order (a session each), then a healthy session."""
    protocol = PROTOCOLS[trial.seed % 2]
    faults = list(CHAOS_FAULTS)
    trial.rng.shuffle(faults)
    user_file = trial.workspace / "user.py"
    user_file.write_text("x = 0\n", encoding="utf-8")
    with ScriptedModelServer(protocol, [], model=MODEL, n_ctx=ROOMY["context_size"]) as model:
        settings = {"backend": protocol, "baseUrl": model.base_url, "model": MODEL, "stallTimeout": STALL_S,
                    "connectTimeout": 1, "maxOutputTokens": 1024, "thinkingBudget": 0}
        capabilities = vscode_capabilities()
        capabilities["workspace"]["configuration"] = False  # settings changes then come with the notification
        lsp = await LspServer(trial.workspace, settings=settings, capabilities=capabilities).start()
        editor = lsp.editor
        try:
            for fault in faults:
                script, _ = _script(trial.rng, fault)
                model.replace_replies(script)
                if fault == "huge_arguments":
                    await _configure(lsp, {**settings, **{_camel(k): v for k, v in ROOMY.items()}})
                messages, edits = len(editor.messages), len(editor.edit_requests)
                # This user takes what a session that survived offers, and declines an errored session's changes.
                survivable = fault in SURVIVABLE
                editor.accept = _always(survivable)
                trial.fault()
                status = await lsp.command("littleCoder.ask", {"instruction": TASK, "wait": True}, timeout=30)
                trial.session(status.get("outcome"), status.get("message"))
                _check_end(trial, fault, status.get("outcome"), str(status.get("message")), f"lsp {fault}")
                _check_lsp_fault(trial, fault, status, editor.messages[messages:], editor.edit_requests[edits:])
                created = trial.workspace / "a.py"
                if survivable:
                    trial.check(created.is_file(), f"lsp {fault}: the accepted a.py was not created")
                else:
                    trial.check(not created.exists(), f"lsp {fault}: a.py was created although the user declined it")
                created.unlink(missing_ok=True)
                trial.check(user_file.read_text(encoding="utf-8") == "x = 0\n", f"lsp {fault}: user.py changed")
                for notes in trial.workspace.glob("notes_*.txt"):
                    notes.unlink()
                if fault == "huge_arguments":
                    await _configure(lsp, settings)
                _check_server_log(trial, model)
            model.replace_replies(_healthy("b.py"))
            editor.accept = lambda annotation: True
            status = await lsp.command("littleCoder.ask", {"instruction": "Create b.py.", "wait": True}, timeout=30)
            trial.session(status.get("outcome"), status.get("message"))
            trial.check(status.get("state") == "applied" and (trial.workspace / "b.py").is_file(),
                        f"lsp: the session after the faults did not apply: {status}")
            sessions = (await lsp.status()).get("sessions", [])
            running = [s for s in sessions if s.get("state") in ("running", "reviewing")]
            trial.check(not running, f"lsp: sessions still running after all ended: {running}")
            trial.check(lsp.alive(), "lsp: the server died")
        finally:
            await lsp.close()
            stderr = lsp.stderr()
            trial.check("Traceback" not in stderr, f"lsp: the server logged a traceback:\n{stderr[-3000:]}")
            trial.check(not lsp.shadow_dirs(), f"lsp: shadow folders left behind: {lsp.shadow_dirs()}")
            lsp.cleanup_tmp()


def _check_lsp_fault(trial: Trial, fault: str, status: dict[str, Any], messages: list[dict[str, Any]],
                     edits: list[dict[str, Any]]) -> None:
    if fault in SURVIVABLE:
        return
    errors = [m for m in messages if m.get("type") == 1]
    trial.check(bool(errors), f"lsp {fault}: no Error showMessage for an errored session (got {messages})")
    for message in errors:
        text = str(message.get("message", ""))
        why = readable(text)
        trial.check(why is None and text.startswith("little-coder"), f"lsp {fault}: showMessage {text!r} is {why}")
    for params in edits:
        annotations = (params.get("edit") or {}).get("changeAnnotations") or {}
        changes = (params.get("edit") or {}).get("documentChanges") or []
        unconfirmed = [c for c in changes for e in c.get("edits", [c])
                       if not (annotations.get(e.get("annotationId") or "") or {}).get("needsConfirmation")]
        trial.check(not unconfirmed, f"lsp {fault}: an errored session's edit has changes that need no "
                                     f"confirmation: {unconfirmed}")
        trial.check("(unfinished: error)" in str(params.get("label")),
                    f"lsp {fault}: an errored session's review is not labelled as unfinished: {params.get('label')}")
    if edits:
        trial.check(status.get("state") in ("rejected", "error"),
                    f"lsp {fault}: declined review of an errored session ended as {status.get('state')}")


def _always(answer: bool) -> Callable[[dict[str, Any] | None], bool]:
    return lambda annotation: answer


async def _configure(lsp: LspServer, settings: dict[str, Any]) -> None:
    """New settings the way an editor without workspace/configuration sends them."""
    lsp.notify("workspace/didChangeConfiguration", {"settings": {"littleCoder": settings}})
    await lsp.status()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


SCENARIOS: tuple[Scenario, ...] = (
    *(_in_process(fault) for fault in CHAOS_FAULTS),
    Scenario("model/connection_refused", _refused, group="model_faults", faults=1),
    Scenario("model/chaos", _chaos, group="model_faults"),
    Scenario("cli/model_faults", _cli, group="model_faults", timeout=90, slow=True),
    Scenario("lsp/model_faults", _lsp, group="model_faults", timeout=120, slow=True),
)
