"""A seeded fuzz of the language server's entry points: random but well-framed JSON-RPC.

Each message is a request or a notification for a method the server knows (or one it does not), whose
params start from a valid shape and are then mutated (keys dropped or added, values swapped for random
JSON of any type, numbers out of range, lone surrogates in strings), plus now and then a body that is
not JSON, not UTF-8 or not a message at all. Lifecycle messages (initialize, shutdown, exit) are left
out: they end the conversation by design.

Checked: every request with a usable id gets exactly one answer, with a JSON-RPC error code an editor
understands; the server never shows pygls's generic error, logs no traceback and stays up; and while
it is being fuzzed, a control document the user keeps typing into stays byte-for-byte the editor's, and
a real session on it still works.

Quick mode (CI) sends QUICK_MESSAGES per seed; `LC_LSP_FUZZ_MESSAGES=20000` (with LC_RELIABILITY_SEEDS
for more seeds) is the long run by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from typing import Any

from tests.fakes.model_server import Call, Reply
from tests.reliability.harness import Scenario, Trial
from tests.reliability.lsp_editor import Json, agent_view, digest, running, span

MESSAGES_VARIABLE = "LC_LSP_FUZZ_MESSAGES"
QUICK_MESSAGES = 300
BURST = 25  # messages between waits for the answers of the burst
ANSWER_S = 15.0
# What an editor may get back from a server that understood the problem.
KNOWN_CODES = frozenset({-32700, -32600, -32601, -32602, -32603, -32800})
CONTROL = "control.py"
CONTROL_TEXT = "def leap(year):\n    raise NotImplementedError\n\n\n# the user's notes\n"

COMMANDS = ("littleCoder.implement", "littleCoder.ask", "littleCoder.cancel", "littleCoder.undo",
            "littleCoder.revise", "littleCoder.status", "littleCoder.nope", "")
REQUESTS = ("textDocument/codeAction", "codeAction/resolve", "workspace/executeCommand", "textDocument/hover",
            "little/unknown", "$/unknownRequest")
NOTIFICATIONS = ("textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
                 "workspace/didChangeConfiguration", "window/workDoneProgress/cancel", "$/cancelRequest",
                 "$/setTrace", "initialized", "little/unknownNotification")
WORDS = ("", "x", "é", "😋", "\ud800", "\u2028", "\x00", "\r\n", "def f():\n    pass\n", "TODO: fix", "../../etc",
         "file:///etc/passwd", "💥" * 50, " " * 100)


def message_count() -> int:
    raw = os.environ.get(MESSAGES_VARIABLE, "").strip()
    return int(raw) if raw else QUICK_MESSAGES


class Fuzzer:
    def __init__(self, rng: random.Random, uris: list[str]) -> None:
        self.rng = rng
        self.uris = uris

    # --- values -------------------------------------------------------------------------------------

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        kinds = ["null", "bool", "int", "float", "string", "uri"] + (["list", "object"] if depth < 3 else [])
        kind = rng.choice(kinds)
        if kind == "null":
            return None
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "int":
            return rng.choice([0, 1, -1, 7, 2**31, 2**31 - 1, 2**53, -(2**63), rng.randint(-1000, 1000)])
        if kind == "float":
            return rng.choice([0.5, -1.5, 1e308, float(rng.randint(0, 9))])
        if kind == "string":
            return "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4)))
        if kind == "uri":
            return rng.choice(self.uris)
        if kind == "list":
            return [self.value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(["uri", "line", "character", "text", "range", "id", "x", "sessionId"]): self.value(depth + 1)
                for _ in range(rng.randint(0, 4))}

    def position(self) -> Json:
        rng = self.rng
        return {"line": rng.choice([0, 1, 3, 50, 2**31 - 1]), "character": rng.choice([0, 1, 4, 9, 1000])}

    def mutate(self, value: Any, depth: int = 0) -> Any:
        """A copy of `value` with a few things changed: a key dropped, added or retyped, deep or shallow."""
        rng = self.rng
        if depth > 4 or rng.random() < 0.15:
            return self.value(depth)
        if isinstance(value, dict):
            out = {key: (self.mutate(item, depth + 1) if rng.random() < 0.3 else item) for key, item in value.items()}
            if out and rng.random() < 0.2:
                out.pop(rng.choice(list(out)))
            if rng.random() < 0.1:
                out[rng.choice(["extra", "wait", "all", "kind"])] = self.value(depth + 1)
            return out
        if isinstance(value, list):
            return [self.mutate(item, depth + 1) if rng.random() < 0.3 else item for item in value]
        return value

    # --- params that start out valid ------------------------------------------------------------------

    def params(self, method: str) -> Any:
        rng = self.rng
        uri = rng.choice(self.uris)
        if method == "textDocument/codeAction":
            diagnostics = [{"range": span(self.position(), self.position()), "message": rng.choice(WORDS) or "x"}
                           for _ in range(rng.randint(0, 2))]
            return {"textDocument": {"uri": uri}, "range": span(self.position(), self.position()),
                    "context": {"diagnostics": diagnostics}}
        if method == "codeAction/resolve":
            return {"title": "t", "data": {"arguments": {"uri": uri, "position": self.position()}}}
        if method == "workspace/executeCommand":
            argument = {"uri": uri, "position": self.position(), "instruction": rng.choice(WORDS) or "say hi",
                        "sessionId": rng.choice(["", "nope", "0" * 12])}
            return {"command": rng.choice(COMMANDS), "arguments": [argument]}
        if method == "textDocument/didOpen":
            return {"textDocument": {"uri": uri, "languageId": "python", "version": rng.randint(0, 5),
                                     "text": "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))}}
        if method == "textDocument/didChange":
            change: Json = {"text": rng.choice(WORDS)}
            if rng.random() < 0.8:
                change["range"] = span(self.position(), self.position())
            return {"textDocument": {"uri": uri, "version": rng.randint(0, 100)}, "contentChanges": [change]}
        if method == "textDocument/didClose":
            return {"textDocument": {"uri": uri}}
        if method == "workspace/didChangeConfiguration":
            return {"settings": {"littleCoder": {"maxTurns": rng.choice([0, 3, "x", None])}}}
        if method == "window/workDoneProgress/cancel":
            return {"token": rng.choice(["littleCoder/x", "nobody", 5])}
        if method == "$/cancelRequest":
            return {"id": rng.choice([1, 2, "x", 10**9])}
        if method == "$/setTrace":
            return {"value": rng.choice(["off", "verbose", "loud"])}
        return self.value()

    def message(self, msg_id: int) -> tuple[bytes, Any]:
        """A body to send, and the id its answer must carry (None: no answer expected)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return rng.choice([b"{not json", b'{"jsonrpc": "2.0", "id": 1, "method": "x\xff"}', b"[]", b"42",
                               b'"text"', b"{}", b"null"]), None
        request = roll < 0.6
        method = rng.choice(REQUESTS if request else NOTIFICATIONS)
        params = self.params(method)
        if rng.random() < 0.6:
            params = self.mutate(params)
        message: Json = {"jsonrpc": "2.0", "method": method}
        if rng.random() < 0.95:
            message["params"] = params
        answer_id: Any = None
        if request:
            message["id"] = answer_id = msg_id if rng.random() < 0.7 else f"fuzz-{msg_id}"
        return json.dumps(message).encode("utf-8"), answer_id


async def fuzz(trial: Trial) -> None:
    control_replies = [Reply(calls=[Call("Edit", {"file_path": CONTROL, "old_string": "    raise NotImplementedError\n",
                                                  "new_string": "    return year % 4 == 0\n"})]),
                       Reply("Done.")]
    async with running(trial) as (server, model):
        root = server.root
        uris = [server.editor.uri(f"fuzz{n}.py") for n in range(3)] + [
            server.editor.uri("missing.py"), (trial.outside / "canary.txt").as_uri(), "untitled:Untitled-1",
            "file:", "file:///%00", server.editor.uri("../outside/canary.txt")]
        for n in range(3):
            server.write(f"fuzz{n}.py", "def f():\n    raise NotImplementedError  # TODO\n")
        control_uri = server.write(CONTROL, CONTROL_TEXT)
        server.open(CONTROL)
        fuzzer = Fuzzer(trial.rng, uris)
        total = message_count()
        unanswered: dict[Any, asyncio.Future[Json]] = {}
        answers = 0
        for n in range(total):
            body, answer_id = fuzzer.message(n + 1000)
            if answer_id is not None:
                unanswered[answer_id] = server.expect_answer(answer_id)
            server.send_body(body)
            trial.fault()
            if n % 7 == 0:  # the user keeps typing into the control document
                text = server.editor.text(CONTROL) or ""
                server.type(CONTROL, len(text), f"# note {n} ✍\n")
            if (n + 1) % BURST == 0 or n == total - 1:
                answers += await _collect(trial, unanswered)
                if not server.alive():
                    trial.check(False, f"the server died after {n + 1} fuzz messages")
                    return
        trial.check(answers > 0, "no fuzz request was answered at all")
        await server.command("littleCoder.cancel", {"all": True})
        seen = await agent_view(server, model, CONTROL)
        expected = digest(server.editor.text(CONTROL) or "")
        trial.check(seen == expected, f"after the fuzz the agent sees {CONTROL} as {seen}, the editor holds {expected}")
        model.replace_replies(control_replies)
        result = await server.command("littleCoder.implement", {"uri": control_uri, "position": {"line": 0,
                                      "character": 4}, "wait": True}, timeout=30)
        trial.session(result.get("outcome"), result.get("message"))
        trial.check(result.get("state") == "applied", f"the session after the fuzz ended {result}")
        trial.check("    return year % 4 == 0\n" in (server.editor.text(CONTROL) or ""), "its change did not land")
        trial.check(not (root / "outside").exists(), "the fuzz created a folder beside the workspace")


async def _collect(trial: Trial, unanswered: dict[Any, asyncio.Future[Json]]) -> int:
    """Wait for the answers of a burst; check each; how many came."""
    if not unanswered:
        return 0
    done, pending = await asyncio.wait(unanswered.values(), timeout=ANSWER_S)
    for answer_id, future in list(unanswered.items()):
        if future in pending:
            trial.check(False, f"request {answer_id!r} got no answer within {ANSWER_S:g} s")
            future.cancel()
            continue
        if future.exception() is not None:
            trial.check(False, f"request {answer_id!r}: {future.exception()}")
            continue
        error = future.result().get("error")
        if error is not None:
            trial.check(error.get("code") in KNOWN_CODES, f"request {answer_id!r} answered {error}")
    count = len(done)
    unanswered.clear()
    return count


SCENARIOS = (
    Scenario("lsp/fuzz", fuzz, group="lsp_fuzz", seeds=2, timeout=240,
             description="random well-framed JSON-RPC; LC_LSP_FUZZ_MESSAGES sets how many per seed"),
)
