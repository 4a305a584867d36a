"""Loading the encoding never changes os.environ under another thread's feet.

A session started right after `initialized` died with KeyError: 'TIKTOKEN_CACHE_DIR': the loader set the
variable, loaded, then deleted it, while another thread copied the environment (as subprocess does).
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

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
            tokens.encoding.cache_clear()  # every call goes through the loader, not the cache
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
