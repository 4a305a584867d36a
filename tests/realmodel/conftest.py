"""Real llama-servers with SmolLM2-135M-Instruct, each started once for the whole test session.

The binary, the model and llama.cpp's chat templates come from scripts/deps/llama.sh (built once per
machine, cached). When one is missing every test here fails with the reason instead of skipping: a
stage that silently tests nothing would look green. Server logs go to test-artifacts/realmodel/.

- `llama`: SmolLM2 with its own template (no tool support, no reasoning), 8,192-token context.
- `qwen_llama`: SmolLM2 behind the Qwen3.5 template, so llama-server parses tool calls and splits
  reasoning exactly as it does for the reference model; the tiny model's words are nonsense, the
  wire format is real.
- `small_llama`: a 512-token context, for overflow errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.embedded import EmbeddedError, EmbeddedServer, chat_template, locate
from agent.providers.assemble import AssembledCall, ToolCallAssembler
from agent.providers.base import ChatRequest, Provider, ReasoningChunk, StreamEnd, TextChunk, ToolCallChunk

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "realmodel"
QWEN_TEMPLATE = "Qwen3.5-4B"


def installed() -> tuple[Path, Path]:
    try:
        return locate()
    except EmbeddedError as exc:
        pytest.fail(f"{exc.user_message()} (run scripts/deps/llama.sh)", pytrace=False)


def start(context_size: int, log_name: str, template: str | None = None) -> EmbeddedServer:
    binary, model = installed()
    template_file = None
    if template is not None:
        template_file = chat_template(template)
        if template_file is None:
            pytest.fail(f"llama.cpp's {template}.jinja is not unpacked beside {binary}: run scripts/deps/llama.sh",
                        pytrace=False)
    server = EmbeddedServer(binary, model, context_size=context_size, chat_template_file=template_file,
                            log_path=ARTIFACTS / log_name)
    asyncio.run(server.start())
    return server


def serve(context_size: int, log_name: str, template: str | None = None) -> Iterator[EmbeddedServer]:
    server = start(context_size, log_name, template)
    try:
        yield server
    finally:
        asyncio.run(server.stop())


@pytest.fixture(scope="session")
def llama() -> Iterator[EmbeddedServer]:
    yield from serve(8192, "llama-server.log")


@pytest.fixture(scope="session")
def qwen_llama() -> Iterator[EmbeddedServer]:
    yield from serve(4096, "llama-server-qwen-template.log", QWEN_TEMPLATE)


@pytest.fixture(scope="session")
def small_llama() -> Iterator[EmbeddedServer]:
    yield from serve(512, "llama-server-small.log")


@dataclass
class Streamed:
    """Everything one provider stream yielded, in order."""

    text: str = ""
    reasoning: str = ""
    calls: list[AssembledCall] = field(default_factory=list)
    end: StreamEnd | None = None
    kinds: list[str] = field(default_factory=list)


async def collect(provider: Provider, request: ChatRequest) -> Streamed:
    out = Streamed()
    assembler = ToolCallAssembler()
    async for delta in provider.stream(request):
        out.kinds.append(delta.kind)
        if isinstance(delta, TextChunk):
            out.text += delta.text
        elif isinstance(delta, ReasoningChunk):
            out.reasoning += delta.text
        elif isinstance(delta, ToolCallChunk):
            assembler.feed(delta)
        else:
            out.end = delta
    out.calls = assembler.finish()
    return out
