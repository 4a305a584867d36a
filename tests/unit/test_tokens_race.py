"""Loading the encoding never changes os.environ under another thread's feet.

A session started right after `initialized` died with KeyError: 'TIKTOKEN_CACHE_DIR': the loader set the
variable, loaded, then deleted it, while another thread copied the environment (as subprocess does).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
import tiktoken
import tiktoken_ext.openai_public

from agent import tokens


def test_concurrent_loads_never_break_an_environment_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)  # restored after the test
    for n in range(2000):  # a long environment: a copy takes long enough for a loader to run meanwhile
        monkeypatch.setenv(f"LC_RACE_{n}", "x")
    tokens.encoding()  # the slow first load, so the race below is on the environment only
    stop = threading.Event()
    failures: list[BaseException] = []

    def read_environment() -> None:
        while not stop.is_set():
            try:
                dict(os.environ)  # lists the keys, then reads each: what subprocess.Popen(env=...) does
            except KeyError as exc:
                failures.append(exc)
                stop.set()

    def load() -> None:
        while not stop.is_set():
            tokens.encoding.cache_clear()  # every call goes through the loader, not the cache,
            tokens._decoded_path().unlink(missing_ok=True)  # and through the BPE file, which sets the variable
            tokens.encoding()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: the old set-then-delete failed within 2 s
    try:
        threads = [threading.Thread(target=read_environment)] + [threading.Thread(target=load) for _ in range(2)]
        for thread in threads:
            thread.start()
        stop.wait(4)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert tokens.count("hello world") == 2


def test_the_decoded_encoding_is_kept_and_encodes_as_tiktoken_does(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    sample = "def leap(year):\n    return year % 4 == 0  # héllo, 世界 <|endoftext|>"
    try:
        tokens.encoding.cache_clear()
        first = tokens.encode(sample)  # from the BPE file (seeded into tmp_path), which it decodes and keeps
        reference = tiktoken.get_encoding(tokens.ENCODING).encode(sample, disallowed_special=())
        assert first == reference
        assert tokens._decoded_path().parent == tmp_path and tokens._decoded_path().exists()

        def no_bpe_file() -> None:
            raise AssertionError("the kept encoding was not used")

        with monkeypatch.context() as patched:
            patched.setattr(tiktoken_ext.openai_public, "o200k_base", no_bpe_file)
            tokens.encoding.cache_clear()
            assert tokens.encode(sample) == reference

        tokens._decoded_path().write_bytes(b"\x00not marshal")  # damaged: read from the BPE file again
        tokens.encoding.cache_clear()
        assert tokens.encode(sample) == reference
        assert tokens._read_decoded(tokens._decoded_path()) is not None  # and kept again, whole
    finally:
        tokens.encoding.cache_clear()  # later tests load from the usual place
