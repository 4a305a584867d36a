"""Bad input from the editor and the workspace, through the real language server (tests/reliability/
lsp_editor.py): malformed and hostile JSON-RPC, out-of-range and multi-byte positions, CRLF and line
separators, a 10 MB document, files outside the workspace, binary and non-UTF-8 files.

What must hold every time: each request gets an answer that says what was wrong (never silence, never
pygls's "Error in server"), the server stays up and keeps serving, its copy of every buffer stays
byte-for-byte the editor's (checked through what the agent's commands see), and nothing outside the
workspace is read or written.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.model_server import Call, Reply
from tests.reliability.harness import Scenario, Trial
from tests.reliability.lsp_editor import (
    Json,
    LspServer,
    agent_view,
    digest,
    lines_of,
    offset_of,
    position_of,
    running,
    span,
    units,
)

STUB = '"""Leap years."""\n\n\ndef leap(year: int) -> bool:\n    raise NotImplementedError\n'
IMPLEMENTED = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"
ENCODINGS = ("utf-16", "utf-8", "utf-32")


def _frame(message: Json) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")


def _code_action(uri: str, start: Any, end: Any = None) -> Json:
    return {"textDocument": {"uri": uri}, "range": {"start": start, "end": end if end is not None else start},
            "context": {"diagnostics": []}}


async def _still_serves(trial: Trial, server: LspServer, uri: str) -> None:
    """The server answers a status and finds the stub at line 4 as before."""
    status = await server.status()
    trial.check(isinstance(status.get("sessions"), list), f"status answered {status!r}")
    actions = await server.request("textDocument/codeAction", _code_action(uri, {"line": 3, "character": 4}))
    titles = [a.get("title") for a in actions or []]
    trial.check("Ask little-coder to implement `leap`" in titles, f"code actions after the attack: {titles}")


# --- malformed requests ------------------------------------------------------------------------------


async def bad_requests(trial: Trial) -> None:
    async with running(trial) as (server, _):
        uri = server.write("leap.py", STUB)
        server.open("leap.py")
        start = {"line": 3, "character": 4}
        implement = "littleCoder.implement"
        # (what, body, id the answer carries, expected error code or None for a result, words in the message)
        cases: list[tuple[str, bytes, Any, int | None, str]] = [
            ("range is a string", _frame({"id": 101, "method": "textDocument/codeAction", "params": {
                "textDocument": {"uri": uri}, "range": "x", "context": {"diagnostics": []}}}),
             101, -32602, "$.params.range"),
            ("params missing", _frame({"id": 102, "method": "textDocument/codeAction"}), 102, -32602, "codeAction"),
            ("params a list", _frame({"id": 103, "method": "textDocument/codeAction", "params": [1, 2]}),
             103, -32602, "invalid params"),
            ("negative line", _frame({"id": 104, "method": "textDocument/codeAction",
                                      "params": _code_action(uri, {"line": -1, "character": 0})}),
             104, -32602, "$.params.range"),
            ("line past 2**31", _frame({"id": 105, "method": "textDocument/codeAction",
                                        "params": _code_action(uri, {"line": 2**40, "character": 0})}),
             105, -32602, "$.params.range"),
            ("context.diagnostics missing", _frame({"id": 106, "method": "textDocument/codeAction", "params": {
                "textDocument": {"uri": uri}, "range": span(start, start), "context": {}}}),
             106, -32602, "diagnostics"),
            ("position past the end of the document", _frame({
                "id": 107, "method": "textDocument/codeAction",
                "params": _code_action(uri, {"line": 900, "character": 9})}), 107, None, ""),
            ("unknown command", _frame({"id": 108, "method": "workspace/executeCommand",
                                        "params": {"command": "littleCoder.selfDestruct", "arguments": []}}),
             108, -32602, "not defined"),
            ("command arguments not a list", _frame({"id": 109, "method": "workspace/executeCommand",
                                                     "params": {"command": "littleCoder.status", "arguments": "x"}}),
             109, -32602, "one JSON object argument"),
            ("implement: uri a number", _frame({"id": 110, "method": "workspace/executeCommand", "params": {
                "command": implement, "arguments": [{"uri": 5, "position": start}]}}), 110, -32602, "'uri'"),
            ("implement: line past the end", _frame({"id": 111, "method": "workspace/executeCommand", "params": {
                "command": implement, "arguments": [{"uri": uri, "position": {"line": 10**6, "character": 0}}]}}),
             111, -32602, "nothing to implement"),
            ("ask: instruction an object", _frame({"id": 112, "method": "workspace/executeCommand", "params": {
                "command": "littleCoder.ask", "arguments": [{"instruction": {"do": "it"}}]}}),
             112, -32602, "'instruction'"),
            ("unknown method", _frame({"id": 113, "method": "little/unknown", "params": {}}), 113, -32601, "unknown"),
            ("unknown $/ request", _frame({"id": 114, "method": "$/somethingNew", "params": {}}), 114, -32601, ""),
            ("JSON-RPC 1.0", json.dumps({"jsonrpc": "1.0", "id": 115, "method": "shutdown"}).encode(),
             115, -32600, "2.0"),
            ("a notification method sent as a request", _frame({"id": 116, "method": "textDocument/didClose",
                                                                "params": {"textDocument": {"uri": uri + "x"}}}),
             116, -32600, "notification"),
            ("a batch", json.dumps([{"jsonrpc": "2.0", "id": 117, "method": "shutdown"}]).encode(),
             None, -32600, "batch"),
            ("not JSON", b"{this is not json", None, -32700, "Parse error"),
            ("not UTF-8", b'{"jsonrpc": "2.0", "id": 118, "method": "sh\xffutdown"}', None, -32700, "Parse error"),
            ("an object as id", _frame({"id": {"nested": 1}, "method": "textDocument/codeAction",
                                        "params": _code_action(uri, start)}), None, -32600, "id must be"),
        ]
        trial.fault(len(cases))
        for what, body, msg_id, code, words in cases:
            answer = await server.answer_to(body, msg_id)
            if not trial.check(answer is not None, f"{what}: no answer within 5 s"):
                continue
            assert answer is not None
            error = answer.get("error")
            if code is None:
                trial.check(error is None, f"{what}: answered {error!r}, wanted a result")
                continue
            if error is None or not trial.check(error.get("code") == code, f"{what}: answered {answer!r}"):
                trial.check(error is not None, f"{what}: answered {answer!r}, wanted an error")
                continue
            trial.check(words.lower() in error.get("message", "").lower(), f"{what}: message {error!r} lacks {words!r}")
            trial.check("Traceback" not in json.dumps(error), f"{what}: a traceback reached the editor")
        # JSON that is no message at all has nobody to answer: it must simply change nothing.
        for body in (b"42", b'"hello"', b"null", b"{}", b'{"jsonrpc": "2.0"}'):
            server.send_body(body)
            trial.fault()
        await _still_serves(trial, server, uri)
        trial.check(server.editor.text("leap.py") == STUB, "the file changed")


# --- malformed notifications, interleaved with the user typing ----------------------------------------


async def bad_notifications(trial: Trial) -> None:
    async with running(trial) as (server, model):
        uri = server.write("leap.py", STUB)
        server.open("leap.py")
        ghost = server.editor.uri("ghost.py")
        junk: list[Json] = [
            {"method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "text": 5}}},
            {"method": "textDocument/didOpen", "params": {}},
            {"method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 99},
                                                            "contentChanges": "x"}},
            {"method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": "seven"},
                                                            "contentChanges": [{"text": "gone"}]}},
            {"method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": 98},
                "contentChanges": [{"range": span({"line": -1, "character": 0}, {"line": 0, "character": 0}),
                                    "text": "x"}]}},
            {"method": "textDocument/didChange", "params": {"textDocument": {"uri": ghost, "version": 2},
                                                            "contentChanges": [{"text": "not open"}]}},
            {"method": "textDocument/didClose", "params": {"textDocument": {"uri": ghost}}},
            {"method": "textDocument/didClose", "params": {"textDocument": "leap.py"}},
            {"method": "workspace/didChangeConfiguration", "params": {"settings": [1, 2, 3]}},
            {"method": "window/workDoneProgress/cancel", "params": {"token": "nobody"}},
            {"method": "$/cancelRequest", "params": {"id": 424242}},
            {"method": "$/cancelRequest", "params": {"id": {"x": 1}}},
            {"method": "$/setTrace", "params": {"value": "loud"}},
            {"method": "initialized", "params": {}},
            {"method": "little/unknownNotification", "params": {"a": 1}},
        ]
        trial.fault(len(junk))
        rng = trial.rng
        for message in rng.sample(junk, len(junk)):
            server.send(message)
            text = server.editor.text("leap.py") or ""
            at = rng.randrange(len(text) + 1)
            while 0 < at < len(text) and text[at - 1] == "\r" and text[at] == "\n":
                at -= 1
            server.type("leap.py", at, rng.choice(["# ✍ user\n", "x", "é", "😋", "\n"]))
        expected = digest(server.editor.text("leap.py") or "")
        seen = await agent_view(server, model, "leap.py")
        trial.check(seen == expected, f"the agent sees leap.py as {seen}, the editor holds {expected}")
        await _still_serves_any(trial, server)
        trial.check(not server.editor.errors(), f"error messages shown: {server.editor.errors()}")


async def _still_serves_any(trial: Trial, server: LspServer) -> None:
    status = await server.status()
    trial.check(isinstance(status.get("sessions"), list), f"status answered {status!r}")


# --- positions: multi-byte characters, CRLF, characters only str.splitlines breaks at -------------------

# Every line ending LSP knows, and characters editors keep inside a line (form feed, U+2028, NEL).
LINE_PIECES = ["x = 1", "naïve = 'ü'", "emoji = '😋🎉'", "cjk = '漢字'", "zwj = '👩‍💻'", "e\u0301",
               "page\x0cbreak", "js = 'a\u2028b'", "nel\x85here", "tab\there", ""]
ENDINGS = ["\n", "\r\n", "\r\n", "\n", "\r"]
INSERTS = ["y", "é", "😋", "\r\n", "\n", "漢", "\t", "👩‍💻", "\x0c", "\u2028", "# ✍\r\n"]
MARK_LINE = "    return 'MARK 😋'"


def _document(trial: Trial) -> str:
    rng = trial.rng
    lines = [rng.choice(LINE_PIECES) + rng.choice(ENDINGS) for _ in range(12)]
    lines.insert(rng.randrange(1, len(lines)), "def marked():\r\n" + MARK_LINE + "\r\n")
    return "".join(lines)


def _valid_offset(text: str, offset: int) -> int:
    """Never between the "\\r" and "\\n" of one line break: that is no position."""
    while 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1
    return offset


def _touches_mark(text: str, start: int, end: int) -> bool:
    """Whether replacing text[start:end] would change the line the agent edits (checked on its own)."""
    mark = text.find(MARK_LINE)
    return start < mark + len(MARK_LINE) and end > mark


def _wild_position(trial: Trial, text: str, encoding: str) -> Json:
    """A position an editor should not send: past a line's end, past the last line, inside a character."""
    rng = trial.rng
    spans = lines_of(text)
    choice = rng.randrange(3)
    if choice == 0:
        line = rng.randrange(len(spans))
        start, end = spans[line]
        width = sum(units(c, encoding) for c in text[start:end])
        return {"line": line, "character": width + rng.randint(1, 40)}
    if choice == 1:
        return {"line": len(spans) + rng.randint(0, 5), "character": rng.randint(0, 9)}
    wide = [i for i, c in enumerate(text) if units(c, encoding) > 1]
    if not wide:
        return {"line": 0, "character": 0}
    at = rng.choice(wide)
    position = position_of(text, at, encoding)
    return {"line": position["line"], "character": position["character"] + 1}  # inside the character


async def _positions(trial: Trial, wild: bool) -> None:
    encoding = ENCODINGS[trial.seed % len(ENCODINGS)]
    edited = f"    return 'edited by the agent ✓ {encoding}'"
    replies = [Reply(calls=[Call("Edit", {"file_path": "doc.py", "old_string": MARK_LINE, "new_string": edited})]),
               Reply("Edited the marked line.")]
    async with running(trial, encoding=encoding) as (server, model):
        trial.check(server.editor.encoding == encoding, f"negotiated {server.editor.encoding}, offered {encoding}")
        text = _document(trial)
        server.write("doc.py", text)
        uri = server.open("doc.py", text)
        rng = trial.rng
        for _ in range(40):
            text = server.editor.text("doc.py") or ""
            if wild and rng.random() < 0.5:
                trial.fault()
                start, end = _wild_position(trial, text, encoding), _wild_position(trial, text, encoding)
                if rng.random() < 0.3:
                    start, end = end, start  # a reversed range
                new = rng.choice(INSERTS)
                # What the specification makes of it: clamped, rounded down, the same text either way round.
                a, b = sorted((offset_of(text, start, encoding), offset_of(text, end, encoding)))
                if _touches_mark(text, a, b):
                    continue
                _, version = server.editor.buffers[uri]
                change = {"range": span(start, end), "text": new}
                server.send_change(uri, text[:a] + new + text[b:], version + 1, [change])
            else:
                a = _valid_offset(text, rng.randrange(len(text) + 1))
                b = _valid_offset(text, min(len(text), a + rng.choice([0, 0, 1, 3])))
                if _touches_mark(text, a, b):
                    continue
                server.replace("doc.py", a, max(a, b), rng.choice(INSERTS))
        current = server.editor.text("doc.py") or ""
        seen = await agent_view(server, model, "doc.py")
        trial.check(seen == digest(current), f"the agent sees doc.py as {seen}, the editor holds {digest(current)}")

        model.replace_replies(replies)
        started = await server.command("littleCoder.ask", {"instruction": "edit the marked line", "uri": uri})
        status = await server.wait_finished(started["sessionId"])
        trial.session(status.get("outcome"), status.get("message"))
        expected = current.replace(MARK_LINE, edited, 1)
        final = server.editor.text("doc.py")
        trial.check(status.get("state") == "applied", f"session state {status.get('state')}: {status}")
        if final != expected:
            trial.edit_lost(f"doc.py after the review differs from the expected text: {final!r} != {expected!r}")


async def positions_exact(trial: Trial) -> None:
    await _positions(trial, wild=False)


async def positions_out_of_range(trial: Trial) -> None:
    await _positions(trial, wild=True)


# --- a 10 MB document ------------------------------------------------------------------------------------

HUGE_BODY = "def f{0}(x):\n    return x + {0}  # 😋 ünïcode\n\n"
HUGE_STUB = "def last_one(y):\n    raise NotImplementedError\n"
# A new document version makes the server parse it again; these bound what the user waits for.
FIRST_ACTION_S = 8.0
NEXT_ACTION_S = 3.0


async def huge_document(trial: Trial) -> None:
    text = "".join(HUGE_BODY.format(i) for i in range(200_000)) + HUGE_STUB
    replies = [Reply(calls=[Call("Edit", {"file_path": "huge.py", "old_string": "    raise NotImplementedError\n",
                                          "new_string": "    return y * 2\n"})]),
               Reply("Implemented `last_one`.")]
    async with running(trial, replies) as (server, model):
        server.write("huge.py", text)
        uri = server.open("huge.py", text)
        stub_line = len(lines_of(text)) - 3
        cursor = {"line": stub_line, "character": 6}
        started = time.monotonic()
        actions = await server.request("textDocument/codeAction", _code_action(uri, cursor), timeout=60)
        elapsed = time.monotonic() - started
        trial.check(elapsed < FIRST_ACTION_S, f"the first code action on 10 MB took {elapsed:.1f} s")
        titles = [a["title"] for a in actions or []]
        trial.check(titles == ["Ask little-coder to implement `last_one`"], f"code actions on 10 MB: {titles}")
        for _ in range(3):
            server.type("huge.py", len(server.editor.text("huge.py") or "") - 1, "\n")
            started = time.monotonic()
            await server.request("textDocument/codeAction", _code_action(uri, cursor), timeout=60)
            elapsed = time.monotonic() - started
            trial.check(elapsed < NEXT_ACTION_S, f"a code action after typing in 10 MB took {elapsed:.1f} s")
        before = server.editor.text("huge.py") or ""
        result = await server.command("littleCoder.implement", {"uri": uri, "position": cursor, "wait": True},
                                      timeout=120)
        trial.session(result.get("outcome"), result.get("message"))
        task = str(model.requests[0]["messages"]) if model.requests else ""
        trial.check("def last_one(y):" in task, "the task did not quote the stub at the end of the 10 MB document")
        expected = before.replace("    raise NotImplementedError\n", "    return y * 2\n")
        trial.check(result.get("state") == "applied", f"the session on 10 MB ended {result.get('state')}")
        if server.editor.text("huge.py") != expected:
            trial.edit_lost("the 10 MB document is not the user's text plus the agent's one change")


# --- files outside the workspace -------------------------------------------------------------------------


async def outside_workspace(trial: Trial) -> None:
    outside_stub = trial.canary  # made by the harness; a file written here would count as written outside
    async with running(trial) as (server, model):
        inside = server.write("leap.py", STUB)
        link = trial.workspace / "link.py"
        link.symlink_to(outside_stub)
        outside_uri = server.editor.uri(f"../outside/{outside_stub.name}")
        position = {"line": 1, "character": 4}
        uris = {
            "a file outside": outside_stub.as_uri(),
            "a path with ..": outside_uri,
            "a symlink to outside": link.as_uri(),
            "a NUL in the path": inside.replace("leap.py", "leap%00.py"),
            "a relative path": "file:leap.py",
            "no path at all": "file:",
            "another host": "file://elsewhere/share/canary.txt",
            "an untitled buffer": "untitled:Untitled-1",
        }
        for what, uri in uris.items():
            trial.fault()
            for command, arguments in (("littleCoder.implement", {"uri": uri, "position": position}),
                                       ("littleCoder.ask", {"instruction": "what is in it?", "uri": uri})):
                try:
                    answer = await server.command(command, arguments)
                except Exception as exc:
                    message = str(exc)
                    trial.check("-32602" in message and "'uri'" in message, f"{command} on {what}: {message}")
                else:
                    trial.check(False, f"{command} on {what} was accepted: {answer}")
        # The editor may have such a file open: it gets no action that would then be refused.
        server.open(f"../outside/{outside_stub.name}", outside_stub.read_text(encoding="utf-8"))
        actions = await server.request("textDocument/codeAction", _code_action(outside_uri, position))
        trial.check(not actions, f"code actions offered for a file outside the workspace: {actions}")
        trial.check(not model.requests, f"{len(model.requests)} model request(s) were made")
        trial.check_no_secret(model.requests)


# --- binary and non-UTF-8 files ----------------------------------------------------------------------------

BINARY = bytes(range(256)) * 4
LATIN1 = "# TODO: implement café\ndef caf\xe9():\n    raise NotImplementedError\n".encode("latin-1")
UTF16 = "def f():\n    pass  # TODO: ünïcode\n".encode("utf-16")


async def binary_files(trial: Trial) -> None:
    replies = [
        Reply(calls=[Call("Read", {"file_path": "image.png"}), Call("Read", {"file_path": "latin1.py"}),
                     Call("Grep", {"pattern": "TODO"}), Call("Bash", {"command": "cat image.png latin1.py"})]),
        Reply(calls=[Call("Edit", {"file_path": "latin1.py", "old_string": "raise NotImplementedError",
                                   "new_string": "return 1"})]),
        Reply("These files are not text I can edit."),
    ]
    async with running(trial, replies) as (server, model):
        files = {"image.png": BINARY, "latin1.py": LATIN1, "utf16.py": UTF16}
        for name, data in files.items():
            server.write(name, data)
        trial.fault(len(files))
        for name in files:
            actions = await server.request("textDocument/codeAction",
                                           _code_action(server.editor.uri(name), {"line": 0, "character": 0}))
            trial.check(actions is None, f"code actions for {name}: {actions}")
            try:
                await server.command("littleCoder.implement", {"uri": server.editor.uri(name),
                                                               "position": {"line": 0, "character": 2}})
            except Exception as exc:
                trial.check("cannot read" in str(exc) and "-32602" in str(exc), f"implement on {name}: {exc}")
            else:
                trial.check(False, f"implement on the unreadable {name} was accepted")
        # An editor showing a binary file sends what it decoded: NULs and replacement characters.
        shown = BINARY.decode("utf-8", errors="replace")
        server.open("image.png", shown, language="plaintext")
        actions = await server.request("textDocument/codeAction",
                                       _code_action(server.editor.uri("image.png"), {"line": 0, "character": 3}))
        trial.check(actions is None, f"code actions for the binary buffer: {actions}")
        server.close_buffer("image.png")
        result = await server.command("littleCoder.ask", {"instruction": "look at these files", "wait": True},
                                      timeout=30)
        trial.session(result.get("outcome"), result.get("message"))
        trial.check(result.get("state") == "no_changes", f"the session over binary files ended {result}")
        results = [m.get("content", "") for m in model.requests[-1]["messages"] if m.get("role") == "tool"]
        trial.check(len(results) == 5, f"tool results: {results}")
        for name, data in files.items():
            trial.check(server.editor.path(name).read_bytes() == data, f"{name} changed on disk")


SCENARIOS = (
    Scenario("lsp/bad-requests", bad_requests, group="lsp_input", seeds=1, timeout=60),
    Scenario("lsp/bad-notifications", bad_notifications, group="lsp_input", seeds=1, timeout=60),
    Scenario("lsp/positions-exact", positions_exact, group="lsp_input", seeds=3, timeout=60),
    Scenario("lsp/positions-out-of-range", positions_out_of_range, group="lsp_input", seeds=3, timeout=60),
    Scenario("lsp/huge-document", huge_document, group="lsp_input", seeds=1, timeout=180, faults=1),
    Scenario("lsp/outside-workspace", outside_workspace, group="lsp_input", seeds=1, timeout=60),
    Scenario("lsp/binary-files", binary_files, group="lsp_input", seeds=1, timeout=60),
)
