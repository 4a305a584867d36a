"""Detection and capability probing against real llama-servers, and the embedded server's life cycle:
the `auto` fallback, `serve-embedded`, and what a user sees when it is missing or broken."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agent.embedded import MODEL_ALIAS, EmbeddedError, EmbeddedServer, ensure_model_server, locate
from agent.providers.base import ProviderError
from agent.providers.detect import resolve_backend
from agent.providers.openai_compat import OpenAICompatProvider
from agent.providers.probe import live_check, probe
from agent.server_cli import probe_command
from agent.settings import Settings
from tests.fakes.model_server import ScriptedModelServer
from tests.realmodel.conftest import ROOT


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def refuses(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


# -- detection and probing ---------------------------------------------------------------------------

async def test_auto_identifies_llama_server_and_its_model(llama: EmbeddedServer) -> None:
    resolved = await resolve_backend(Settings(base_url=llama.base_url, connect_timeout=2.0),
                                     ollama_url=closed_url(), llamacpp_url=closed_url(), environ={})
    assert (resolved.name, resolved.base_url, resolved.model) == ("openai", llama.base_url, MODEL_ALIAS)


async def test_probe_reads_context_size_and_template_capabilities(llama: EmbeddedServer,
                                                                 qwen_llama: EmbeddedServer) -> None:
    plain = await probe("openai", llama.base_url, MODEL_ALIAS, timeout=5.0)
    qwen = await probe("openai", qwen_llama.base_url, MODEL_ALIAS, timeout=5.0)
    assert plain.server.startswith("llama.cpp b") and plain.context_size == 8192
    assert plain.native_tools is False and plain.thinking is None  # SmolLM2's template: no tools, no <think>
    assert qwen.context_size == 4096 and qwen.native_tools is True and qwen.thinking is True
    assert plain.native_reasoning_budget is None  # this build does not report a server-side budget


async def test_live_check_asks_the_model(llama: EmbeddedServer, qwen_llama: EmbeddedServer) -> None:
    results = []
    for server in (llama, qwen_llama):
        provider = OpenAICompatProvider(server.base_url, connect_timeout=5.0, stall_timeout=120.0)
        try:
            results.append(await live_check(provider, MODEL_ALIAS, context_size=4096, max_output_tokens=24))
        finally:
            await provider.aclose()
    plain, qwen = results
    assert plain.reasoning == "none" and plain.tool_call is False and plain.text_preview
    assert qwen.reasoning == "split"  # the Qwen3.5 template opens <think>; llama-server moves it out
    assert plain.prompt_tokens is not None and plain.prompt_tokens > 10 and plain.seconds > 0


def test_probe_command_prints_the_report(llama: EmbeddedServer, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(backend="openai", base_url=llama.base_url, connect_timeout=5.0)
    assert probe_command(settings, live=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "openai" and report["model"] == MODEL_ALIAS
    assert report["capabilities"]["context_size"] == 8192 and report["capabilities"]["native_tools"] is False
    assert report["effective"]["profile"] == "smollm2:135m" and report["effective"]["text_tools"] is True
    assert report["live"]["reasoning"] == "none" and report["live"]["tool_call"] is False


# -- the auto fallback -------------------------------------------------------------------------------

async def test_auto_falls_back_to_the_embedded_server_and_stops_it() -> None:
    locate()  # a clear failure if scripts/deps/llama.sh has not run (the fixture's message is the same)
    warnings: list[str] = []
    async with ensure_model_server(Settings(connect_timeout=1.0), notify=warnings.append, ollama_url=closed_url(),
                                   llamacpp_url=closed_url()) as settings:
        url = settings.base_url
        assert url is not None and settings.backend == "openai" and settings.model == MODEL_ALIAS
        assert settings.context_size == 8192  # the embedded server's window, not the 2,048 of the profile
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/health")).json() == {"status": "ok"}
    assert len(warnings) == 1 and "\n" not in warnings[0]
    for words in ("smoke-test", "135M", url, "ollama pull qwen3.5:9b", "--base-url"):
        assert words in warnings[0]
    assert refuses(url)


async def test_a_server_that_answers_or_an_explicit_choice_is_left_alone() -> None:
    explicit = Settings(backend="ollama")
    async with ensure_model_server(explicit, ollama_url=closed_url(), llamacpp_url=closed_url()) as settings:
        assert settings is explicit
    with ScriptedModelServer("ollama") as ollama:
        auto = Settings(connect_timeout=1.0)
        async with ensure_model_server(auto, ollama_url=ollama.base_url, llamacpp_url=closed_url()) as settings:
            assert settings is auto


async def test_nothing_answering_and_nothing_built_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as info:
        async with ensure_model_server(Settings(connect_timeout=1.0), environ={"LITTLE_CODER_CACHE": str(tmp_path)},
                                       ollama_url=closed_url(), llamacpp_url=closed_url()):
            pytest.fail("the block must not run without a server")
    error = info.value
    assert error.kind == "connection" and "llama-server is not built" in error.message
    assert str(tmp_path) in error.message
    assert "scripts/deps/llama.sh" in error.hint and "ollama pull qwen3.5:9b" in error.hint


async def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    binary, _ = locate()
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_text("this is not a gguf file\n")
    server = EmbeddedServer(binary, bogus)
    with pytest.raises(EmbeddedError) as info:
        await server.start(timeout=30.0)
    assert "exited with status" in info.value.message and "gguf" in info.value.message.lower()
    assert not server.running


async def test_cancelling_a_start_leaves_no_server_behind() -> None:
    binary, model = locate()
    server = EmbeddedServer(binary, model)
    starting = asyncio.create_task(server.start())
    while not server.running:  # spawned, still loading the model
        assert not starting.done()
        await asyncio.sleep(0.005)
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert not server.running and refuses(server.base_url)


def test_a_host_that_dies_without_stopping_leaves_no_server_behind() -> None:
    locate()
    crash = ("import asyncio\n"
             "from agent.embedded import EmbeddedServer\n"
             "async def main():\n"
             "    server = EmbeddedServer.installed()\n"
             "    print(await server.start(), flush=True)\n"
             "    raise RuntimeError('the host failed before stop()')\n"
             "asyncio.run(main())\n")
    proc = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1 and "the host failed before stop()" in proc.stderr
    assert refuses(proc.stdout.strip())


# -- serve-embedded ----------------------------------------------------------------------------------

SERVE = ("import argparse, sys\n"
         "from agent.server_cli import register, serve_embedded\n"
         "parser = argparse.ArgumentParser()\n"
         "register(parser.add_subparsers(dest='command'))\n"
         "sys.exit(serve_embedded(parser.parse_args(sys.argv[1:])))\n")


async def test_serve_embedded_prints_the_url_and_stops_on_ctrl_c() -> None:
    locate()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SERVE, "serve-embedded", "--port", str(port),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert url == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            models = (await client.get(f"{url}/v1/models")).json()
        assert [m["id"] for m in models["data"]] == [MODEL_ALIAS]
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        stderr = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "smoke-test" in stderr and f"--base-url {url}" in stderr and "Traceback" not in stderr
    assert refuses(url)  # the llama-server child went with it
