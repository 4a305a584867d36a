"""Backend detection and capability probing against scripted servers on random ports."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from agent.providers.base import ProviderError
from agent.providers.detect import ResolvedBackend, make_provider, resolve_backend
from agent.providers.ollama import OllamaProvider
from agent.providers.openai_compat import OpenAICompatProvider
from agent.providers.probe import probe
from agent.settings import Settings
from tests.fakes.model_server import ScriptedModelServer


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _settings(**values: Any) -> Settings:
    return Settings(connect_timeout=1.0, **values)


async def _auto(settings: Settings, ollama_url: str, llamacpp_url: str) -> ResolvedBackend:
    return await resolve_backend(settings, ollama_url=ollama_url, llamacpp_url=llamacpp_url, environ={})


# -- detection -----------------------------------------------------------------------------------

async def test_auto_prefers_ollama_on_its_default_url() -> None:
    with ScriptedModelServer("ollama", models=["qwen3.5:9b", "gemma3:4b"]) as ollama, \
            ScriptedModelServer("openai", model="tiny.gguf") as llama:
        resolved = await _auto(_settings(), ollama.base_url, llama.base_url)
    assert resolved == ResolvedBackend(name="ollama", base_url=ollama.base_url, model="qwen3.5:9b")


async def test_auto_falls_back_to_llama_server() -> None:
    with ScriptedModelServer("openai", model="tiny.gguf") as llama:
        resolved = await _auto(_settings(), _closed_url(), llama.base_url)
    assert resolved == ResolvedBackend(name="openai", base_url=llama.base_url, model="tiny.gguf")


async def test_auto_with_a_base_url_identifies_what_answers() -> None:
    with ScriptedModelServer("ollama") as ollama, ScriptedModelServer("openai", model="m.gguf") as llama:
        at_ollama = await _auto(_settings(base_url=ollama.base_url), _closed_url(), _closed_url())
        at_llama = await _auto(_settings(base_url=llama.base_url + "/", model="chosen"), _closed_url(), _closed_url())
    assert (at_ollama.name, at_ollama.model) == ("ollama", "qwen3.5:9b")
    assert at_llama == ResolvedBackend(name="openai", base_url=llama.base_url, model="chosen")


async def test_an_openai_style_url_still_reaches_ollama_natively() -> None:
    with ScriptedModelServer("ollama") as ollama:
        resolved = await _auto(_settings(base_url=ollama.base_url + "/v1"), _closed_url(), _closed_url())
    assert resolved == ResolvedBackend(name="ollama", base_url=ollama.base_url, model="qwen3.5:9b")


async def test_llama_server_serving_api_tags_is_not_mistaken_for_ollama() -> None:
    with ScriptedModelServer("openai", model="tiny.gguf", llamacpp_tags=True) as llama:
        resolved = await _auto(_settings(base_url=llama.base_url), _closed_url(), _closed_url())
        assert "GET /api/tags" in llama.hits
    assert resolved.name == "openai"


async def test_nothing_answering_says_how_to_start_a_server() -> None:
    first, second = _closed_url(), _closed_url()
    with pytest.raises(ProviderError) as info:
        await _auto(_settings(), first, second)
    error = info.value
    assert error.kind == "connection"
    assert first in error.message and second in error.message
    for advice in ("ollama serve", "ollama pull qwen3.5:9b", "llama-server -m", "--base-url"):
        assert advice in error.hint


async def test_a_server_without_models() -> None:
    with ScriptedModelServer("ollama", models=[]) as ollama:
        with pytest.raises(ProviderError) as auto:
            await _auto(_settings(base_url=ollama.base_url), _closed_url(), _closed_url())
        with pytest.raises(ProviderError) as explicit:
            await _auto(_settings(backend="ollama", base_url=ollama.base_url), _closed_url(), _closed_url())
    for error in (auto.value, explicit.value):
        assert error.kind == "model_not_found" and "ollama pull" in error.hint


async def test_explicit_backend_uses_its_default_url_and_asks_for_the_first_model() -> None:
    with ScriptedModelServer("ollama", models=["a:1b", "b:2b"]) as ollama, \
            ScriptedModelServer("openai", models=["x.gguf", "y.gguf"]) as llama:
        on_ollama = await _auto(_settings(backend="ollama"), ollama.base_url, _closed_url())
        on_llama = await _auto(_settings(backend="openai"), _closed_url(), llama.base_url)
    assert on_ollama == ResolvedBackend(name="ollama", base_url=ollama.base_url, model="a:1b")
    assert on_llama == ResolvedBackend(name="openai", base_url=llama.base_url, model="x.gguf")


async def test_explicit_backend_with_a_model_needs_no_server() -> None:
    url = _closed_url()
    resolved = await _auto(_settings(backend="openai", base_url=url, model="m"), _closed_url(), _closed_url())
    assert resolved == ResolvedBackend(name="openai", base_url=url, model="m")


async def test_explicit_backend_that_is_down() -> None:
    url = _closed_url()
    with pytest.raises(ProviderError) as info:
        await _auto(_settings(backend="ollama", base_url=url), _closed_url(), _closed_url())
    assert info.value.kind == "connection" and url in info.value.message and "ollama serve" in info.value.hint


async def test_a_server_that_wants_a_key_is_still_identified() -> None:
    with ScriptedModelServer("openai", model="secret.gguf", api_key="k") as llama:
        resolved = await resolve_backend(_settings(base_url=llama.base_url, backend="openai"),
                                         environ={"LITTLE_CODER_API_KEY": "k"})
    assert resolved.model == "secret.gguf"


async def test_make_provider_builds_the_right_protocol() -> None:
    settings = _settings(stall_timeout=42.0)
    ollama = make_provider(ResolvedBackend(name="ollama", base_url="http://h:1", model="m"), settings)
    openai = make_provider(ResolvedBackend(name="openai", base_url="http://h:2", model="m"), settings,
                           environ={"LITTLE_CODER_API_KEY": "sekret"})
    assert isinstance(ollama, OllamaProvider) and ollama.base_url == "http://h:1"
    assert isinstance(openai, OpenAICompatProvider) and openai.base_url == "http://h:2"
    with ScriptedModelServer("openai", model="m") as llama:
        provider = make_provider(ResolvedBackend(name="openai", base_url=llama.base_url, model="m"), settings,
                                 environ={"LITTLE_CODER_API_KEY": "sekret"})
        await provider.list_models()
        await provider.aclose()
        assert llama.log == []  # list_models is not a chat request
    await ollama.aclose()
    await openai.aclose()


# -- probing -------------------------------------------------------------------------------------

async def test_probe_ollama_reads_capabilities_and_context() -> None:
    with ScriptedModelServer("ollama", capabilities=["completion", "tools", "thinking"], context_length=262144,
                             parameters="temperature 0.6\nnum_ctx 8192") as server:
        caps = await probe("ollama", server.base_url, "qwen3.5:9b", timeout=2)
    assert caps.native_tools is True and caps.thinking is True
    assert caps.context_size == 262144 and caps.default_context == 8192
    assert caps.server == "ollama 0.12.6"
    assert caps.native_reasoning_budget is None


async def test_probe_ollama_model_without_tools_or_thinking() -> None:
    with ScriptedModelServer("ollama", capabilities=["completion"], context_length=8192) as server:
        caps = await probe("ollama", server.base_url, "qwen3.5:9b", timeout=2)
        missing = await probe("ollama", server.base_url, "not-pulled", timeout=2)
    assert (caps.native_tools, caps.thinking, caps.context_size, caps.default_context) == (False, False, 8192, None)
    assert (missing.native_tools, missing.thinking, missing.context_size) == (None, None, None)


@pytest.mark.parametrize(("budget", "native"), [(None, None), (-1, False), (0, True), (2048, True)])
async def test_probe_llama_server_props(budget: int | None, native: bool | None) -> None:
    with ScriptedModelServer("openai", model="q.gguf", n_ctx=4096, reasoning_budget=budget) as server:
        caps = await probe("openai", server.base_url, "q.gguf", timeout=2)
    assert caps.context_size == 4096
    assert caps.native_tools is True and caps.thinking is True
    assert caps.server.startswith("llama.cpp b6500")
    assert (caps.reasoning_budget, caps.native_reasoning_budget) == (budget, native)


async def test_probe_llama_server_without_tools_or_thinking_template() -> None:
    with ScriptedModelServer("openai", capabilities=["completion"]) as server:
        caps = await probe("openai", server.base_url, "qwen3.5:9b", timeout=2)
    assert caps.native_tools is False and caps.thinking is None


async def test_probe_sends_the_api_key() -> None:
    with ScriptedModelServer("openai", n_ctx=2048, api_key="k") as server:
        without = await probe("openai", server.base_url, "qwen3.5:9b", timeout=2)
        with_key = await probe("openai", server.base_url, "qwen3.5:9b", timeout=2, api_key="k")
    assert without.context_size is None and with_key.context_size == 2048


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_probe_never_raises_on_an_unreachable_server(protocol: str) -> None:
    caps = await probe(protocol, _closed_url(), "m", timeout=0.5)
    assert (caps.native_tools, caps.thinking, caps.context_size, caps.native_reasoning_budget) == (None,) * 4
    broken = await probe(protocol, "http://[::1", "m", timeout=0.5)
    assert broken.context_size is None


async def test_probe_of_an_openai_server_without_props() -> None:
    # An Ollama server has no /props: the OpenAI probe must shrug, not fail.
    with ScriptedModelServer("ollama") as server:
        caps = await probe("openai", server.base_url, "qwen3.5:9b", timeout=2)
    assert caps.server == "openai-compatible" and caps.context_size is None
