"""Cancel at every stage, through the real language server: while the model streams, while a tool runs,
while a Bash command runs, and while the user reviews the edit. Each stage is cancelled the three ways
an editor can (the littleCoder.cancel command, the progress bar's cancel button, `$/cancelRequest` on a
`"wait": true` command), one per seed.

Every time: the session reports `cancelled` within CANCEL_S of the cancel, the model stream is closed,
the command's processes are gone, no shadow tree is left, and neither the files on disk nor the open
buffers changed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from tests.fakes.model_server import Call, Reply
from tests.reliability.harness import Scenario, Trial
from tests.reliability.lsp_editor import Json, LspServer, processes_running, running, tree_snapshot

CANCEL_S = 1.0
HOWS = ("command", "progress", "request")
STUB = "def leap(year):\n    raise NotImplementedError\n"
PENDING_EDIT = Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError\n",
                             "new_string": "    return year % 4 == 0\n"})
# A Bash command shows up before agent.process holds it; a cancel inside that moment is a known race
# of agent.process (reported), not what these scenarios measure.
SPAWN_SETTLE_S = 0.3


class Stage:
    """One session to cancel: how it started, and what it looked like before."""

    def __init__(self, server: LspServer, how: str) -> None:
        self.server = server
        self.how = how
        self.session_id = ""
        self.request: asyncio.Future[Json] | None = None
        self.request_id: Any = None
        self.disk: dict[str, bytes] = {}
        self.buffers: dict[str, tuple[str, int]] = {}
        self.edits = 0

    async def start(self, arguments: Json) -> None:
        server = self.server
        self.disk = tree_snapshot(server.root)
        self.buffers = dict(server.editor.buffers)
        self.edits = len(server.editor.edit_requests)
        if self.how == "request":
            seen = {p.get("sessionId") for p in server.editor.events}
            self.request_id = f"implement-{uuid.uuid4().hex[:8]}"
            _, self.request = server.start_request("workspace/executeCommand", {
                "command": "littleCoder.implement", "arguments": [{**arguments, "wait": True}]}, self.request_id)
            deadline = time.monotonic() + 10
            while not self.session_id and time.monotonic() < deadline:
                fresh = [p["sessionId"] for p in server.editor.events if p.get("sessionId") not in seen]
                self.session_id = fresh[0] if fresh else ""
                await asyncio.sleep(0.01)
        else:
            self.session_id = (await server.command("littleCoder.implement", arguments))["sessionId"]

    async def cancel(self, trial: Trial) -> float:
        """Cancel and wait for the session's end; the seconds that took."""
        server = self.server
        started = time.monotonic()
        if self.how == "command":
            answer = await server.command("littleCoder.cancel", {"sessionId": self.session_id})
            trial.check(answer == {"cancelled": [self.session_id]}, f"cancel answered {answer}")
        elif self.how == "progress":
            server.notify("window/workDoneProgress/cancel", {"token": f"littleCoder/{self.session_id}"})
        else:
            server.notify("$/cancelRequest", {"id": self.request_id})
        status = await server.wait_finished(self.session_id, timeout=15)
        elapsed = time.monotonic() - started
        trial.session(status.get("outcome"), status.get("message") or status.get("state"))
        trial.check(status.get("state") == "cancelled", f"the session ended {status.get('state')}: {status}")
        trial.check(elapsed <= CANCEL_S, f"cancelled via {self.how} in {elapsed:.2f} s (over {CANCEL_S} s)")
        if self.request is not None:
            try:
                answer = await asyncio.wait_for(asyncio.shield(self.request), 5)
            except TimeoutError:
                trial.check(False, "the waiting command was never answered after $/cancelRequest")
            else:
                trial.check("error" in answer or "result" in answer, f"the waiting command got {answer}")
        return elapsed

    def check_unchanged(self, trial: Trial) -> None:
        server = self.server
        trial.check(tree_snapshot(server.root) == self.disk, "files on disk changed")
        trial.check(server.editor.buffers == self.buffers, "open buffers changed")
        trial.check(len(server.editor.edit_requests) == self.edits or server.editor.refuse is not None,
                    "an edit reached the editor")


def _implement_here() -> Json:
    return {"position": {"line": 0, "character": 4}}


async def cancel_while_streaming(trial: Trial) -> None:
    how = HOWS[trial.seed % len(HOWS)]
    replies = [Reply(calls=[PENDING_EDIT]), Reply(fault="never_ends", tokens_per_second=200)]
    async with running(trial, replies) as (server, model):
        uri = server.write("leap.py", STUB)
        server.open("leap.py")
        stage = Stage(server, how)
        await stage.start({"uri": uri, **_implement_here()})
        await server.wait_event(stage.session_id, lambda e: e.get("kind") == "text_delta")
        trial.fault()
        await stage.cancel(trial)
        last = model.wait_finished(timeout=CANCEL_S)[-1]
        trial.check(last.client_closed_early and not last.completed, "the model stream was not closed")
        stage.check_unchanged(trial)


# A backreference: ripgrep's PCRE2 gives up on it (match limit), so Grep falls back to its Python
# search, which backtracks exponentially on the long line until its deadline: a tool that runs.
SLOW_PATTERN = r"(a+)+\1$"
SLOW_LINE = "a" * 30_000 + "!\n"


async def cancel_while_tool_runs(trial: Trial) -> None:
    how = HOWS[trial.seed % len(HOWS)]
    replies = [Reply(calls=[PENDING_EDIT]), Reply(calls=[Call("Grep", {"pattern": SLOW_PATTERN})]),
               Reply("Searched.")]
    async with running(trial, replies) as (server, _):
        uri = server.write("leap.py", STUB)
        server.write("pkg/long_line.txt", SLOW_LINE)
        stage = Stage(server, how)
        await stage.start({"uri": uri, **_implement_here()})
        await server.wait_event(stage.session_id, lambda e: e.get("kind") == "tool_call_started"
                                and e.get("name") == "Grep")
        await asyncio.sleep(0.3)
        finished = [p for p in server.editor.events if p.get("sessionId") == stage.session_id
                    and p["event"].get("kind") == "tool_call_finished" and p["event"].get("name") == "Grep"]
        trial.check(not finished, "Grep ended before the cancel: the scenario did not cancel a running tool")
        trial.fault()
        await stage.cancel(trial)
        stage.check_unchanged(trial)


async def cancel_while_bash_runs(trial: Trial) -> None:
    how = HOWS[trial.seed % len(HOWS)]
    marker = f"lc-cancel-{uuid.uuid4().hex}"
    command = f"python3 -c \"import time; time.sleep(60)\" {marker}"
    replies = [Reply(calls=[PENDING_EDIT]), Reply(calls=[Call("Bash", {"command": command})]), Reply("Ran it.")]
    async with running(trial, replies) as (server, _):
        uri = server.write("leap.py", STUB)
        stage = Stage(server, how)
        await stage.start({"uri": uri, **_implement_here()})
        deadline = time.monotonic() + 15
        while not processes_running(marker) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        trial.check(bool(processes_running(marker)), "the command never started")
        await asyncio.sleep(SPAWN_SETTLE_S)
        trial.fault()
        started = time.monotonic()
        await stage.cancel(trial)
        while processes_running(marker) and time.monotonic() - started < CANCEL_S:
            await asyncio.sleep(0.02)
        trial.check(not processes_running(marker), f"the command still runs {CANCEL_S} s after the cancel")
        trial.check(not server.shadow_dirs(), f"shadow tree left after the cancel: {server.shadow_dirs()}")
        stage.check_unchanged(trial)


async def cancel_during_review(trial: Trial) -> None:
    """Seed 0: the session's one edit waits in the editor's preview. Seed 1 (review "each"): the Edit
    tool itself waits for the user's verdict on its change. After the cancel the user dismisses it."""
    each = trial.seed % 2 == 1
    how = ("command", "progress")[trial.seed % 2]
    replies = [Reply(calls=[PENDING_EDIT]), Reply("Done.")]
    settings: dict[str, Any] = {"review": "each"} if each else {}
    async with running(trial, replies, **settings) as (server, _):
        uri = server.write("leap.py", STUB)
        server.open("leap.py")
        server.editor.review_gate = asyncio.Event()
        stage = Stage(server, how)
        await stage.start({"uri": uri, **_implement_here()})
        await asyncio.wait_for(server.editor.edit_seen.wait(), 15)
        trial.fault()
        await stage.cancel(trial)
        server.editor.refuse = "the user closed the preview"
        server.editor.review_gate.set()
        await asyncio.sleep(0.3)  # the late answer reaches the server, which must take it quietly
        stage.check_unchanged(trial)
        status = await server.status(stage.session_id)
        trial.check(status["state"] == "cancelled", f"after the late answer the session is {status['state']}")


SCENARIOS = (
    Scenario("lsp/cancel-while-streaming", cancel_while_streaming, group="lsp_cancel", seeds=3, timeout=60),
    Scenario("lsp/cancel-while-tool-runs", cancel_while_tool_runs, group="lsp_cancel", seeds=3, timeout=60),
    Scenario("lsp/cancel-while-bash-runs", cancel_while_bash_runs, group="lsp_cancel", seeds=3, timeout=60),
    Scenario("lsp/cancel-during-review", cancel_during_review, group="lsp_cancel", seeds=2, timeout=60),
)
