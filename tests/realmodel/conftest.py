"""A real llama-server with SmolLM2-135M-Instruct, started once for the whole test session.

The binary and the model come from scripts/deps/llama.sh (built once per machine, cached). When
either is missing every test here fails with the reason instead of skipping: a stage that silently
tests nothing would look green. The server's log goes to test-artifacts/realmodel/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.embedded import EmbeddedError, EmbeddedServer, locate

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "realmodel"
# Large enough for a session with native tool schemas; the overflow tests use their own server.
CONTEXT = 8192


def installed() -> tuple[Path, Path]:
    try:
        return locate()
    except EmbeddedError as exc:
        pytest.fail(f"{exc.user_message()} (run scripts/deps/llama.sh)", pytrace=False)


def start(context_size: int, log_name: str) -> EmbeddedServer:
    binary, model = installed()
    server = EmbeddedServer(binary, model, context_size=context_size, log_path=ARTIFACTS / log_name)
    asyncio.run(server.start())
    return server


@pytest.fixture(scope="session")
def llama() -> Iterator[EmbeddedServer]:
    """The shared real server (one slot, so requests queue and its KV cache follows one conversation)."""
    server = start(CONTEXT, "llama-server.log")
    try:
        yield server
    finally:
        asyncio.run(server.stop())


@pytest.fixture(scope="session")
def small_llama() -> Iterator[EmbeddedServer]:
    """A second real server with a 512-token context, for overflow errors."""
    server = start(512, "llama-server-small.log")
    try:
        yield server
    finally:
        asyncio.run(server.stop())
