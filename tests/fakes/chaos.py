"""Chaos mode of the scripted model server: a seeded choice of faults spliced into a script.

    chaos = Chaos(script, seed=7)                     # or Chaos(script, seed=7, faults=("reset",))
    with ScriptedModelServer("openai", chaos) as server:
        ...
    chaos.injected                                    # [(request index, fault), ...]

Each chat request takes the script's next reply (or `default_reply` once it runs out); with
probability `rate` the reply gets a fault instead, picked by the seed, with a seeded position in the
stream. The same seed gives the same faults in the same places, so a failing run can be replayed.

The faults are the server's own (tests/fakes/script.py) plus two that are replies rather than
faults: `huge_arguments` (a tool call whose arguments are `huge_arguments_bytes` long) and
`connection_refused`, which `closed_port()` provides (nothing listens there).
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Sequence
from typing import Any, Literal, get_args

from tests.fakes.script import Call, Fault, Reply

ChaosFault = Fault | Literal["huge_arguments"]
# Every fault chaos picks from by default; the ones that do not end a stream (stall, invalid_utf8,
# huge_line, tiny_chunks, huge_arguments) leave the session running, the rest end the request.
CHAOS_FAULTS: tuple[ChaosFault, ...] = (
    "http_500", "http_503", "http_503_empty", "reset", "cut", "truncated", "garbage", "invalid_utf8",
    "stream_error", "stall", "huge_line", "tiny_chunks", "never_ends", "huge_arguments",
)
HUGE_ARGUMENTS_BYTES = 100_000
TINY_CHUNKS = 10_000  # a tiny_chunks reply is padded so its body takes at least this many chunks


class Chaos:
    """A reply source (`replies(body, index)`) for ScriptedModelServer that injects seeded faults."""

    def __init__(
        self,
        script: Sequence[Reply] = (),
        *,
        seed: int,
        faults: Sequence[ChaosFault] = CHAOS_FAULTS,
        rate: float = 0.5,
        default_reply: Reply | None = None,
        stall_seconds: float = 2.0,
        never_ends_cap: int = 200_000,
    ) -> None:
        unknown = set(faults) - set(get_args(Fault)) - {"huge_arguments"}
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self._script = list(script)
        self._rng = random.Random(seed)
        self._faults = tuple(faults)
        self._rate = rate
        self._default = default_reply or Reply("Done.")
        self._stall_seconds = stall_seconds
        self._never_ends_cap = never_ends_cap
        self._lock = threading.Lock()  # the server thread calls us; tests read `injected`
        self.injected: list[tuple[int, ChaosFault]] = []

    def __call__(self, body: dict[str, Any], index: int) -> Reply:
        base = self._script[index] if index < len(self._script) else self._default
        with self._lock:
            if not self._faults or self._rng.random() >= self._rate:
                return base
            fault = self._rng.choice(self._faults)
            self.injected.append((index, fault))
            return inject(base, fault, self._rng, stall_seconds=self._stall_seconds,
                          never_ends_cap=self._never_ends_cap)


def inject(base: Reply, fault: ChaosFault, rng: random.Random, *, stall_seconds: float = 2.0,
           never_ends_cap: int = 200_000) -> Reply:
    """`base` with `fault` spliced in at a position drawn from `rng`."""
    if fault == "huge_arguments":
        content = _filler(rng, HUGE_ARGUMENTS_BYTES)
        name = f"notes_{rng.randrange(1000)}.txt"
        return base.model_copy(update={"calls": [*base.calls, Call("Write", {"file_path": name, "content": content})]})
    update: dict[str, Any] = {"fault": fault, "fault_after": rng.randrange(0, 6), "stall_seconds": stall_seconds,
                              "never_ends_cap": never_ends_cap}
    if fault == "tiny_chunks":
        size = rng.choice((1, 1, 2, 3))
        update["tiny_chunk_bytes"] = size
        # Enough text for TINY_CHUNKS chunks: on either wire a byte of text costs over 7 bytes of body.
        update["text"] = (base.text + "\n" if base.text else "") + _filler(rng, TINY_CHUNKS * size // 7 + 100)
    return base.model_copy(update=update)


def _filler(rng: random.Random, size: int) -> str:
    words = ("alpha", "beta", "gamma", "delta", "résumé", "naïve", "数据", "🙂", "line\n", "tab\t", "quote\"")
    parts: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        parts.append(word + " ")
        length += len(word.encode()) + 1
    return "".join(parts)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
