"""Defaults that returned to the original's values, and the server URLs taken from its environment
variables (OLLAMA_BASE_URL, LLAMACPP_BASE_URL) when no base_url is set."""

from __future__ import annotations

import socket

from agent.providers.detect import ResolvedBackend, resolve_backend
from agent.settings import (
    DEFAULT_LLAMACPP_URL,
    DEFAULT_OLLAMA_URL,
    Settings,
    default_server_urls,
    load_settings,
)
from tests.fakes.model_server import ScriptedModelServer


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_keep_alive_defaults_to_the_originals_forever() -> None:
    assert Settings().keep_alive == -1
    # From the environment or a flag, "-1" is the number Ollama needs; durations stay strings.
    env = {"LITTLE_CODER_KEEP_ALIVE": "-1"}
    assert load_settings(environ=env).settings.keep_alive == -1
    assert load_settings(overrides={"keep_alive": "30m"}, environ={}).settings.keep_alive == "30m"
    assert Settings(keep_alive="0").keep_alive == 0


def test_server_urls_come_from_the_environment_else_the_usual_ports() -> None:
    assert default_server_urls({}) == (DEFAULT_OLLAMA_URL, DEFAULT_LLAMACPP_URL)
    env = {"OLLAMA_BASE_URL": "http://gpu-box:11434/", "LLAMACPP_BASE_URL": "http://127.0.0.1:8888/v1"}
    assert default_server_urls(env) == ("http://gpu-box:11434", "http://127.0.0.1:8888/v1")
    assert default_server_urls({"OLLAMA_BASE_URL": "localhost:11500", "LLAMACPP_BASE_URL": " "}) == (
        "http://localhost:11500", DEFAULT_LLAMACPP_URL)


async def test_resolve_backend_tries_the_environment_urls() -> None:
    with ScriptedModelServer("ollama", models=["qwen3.5:9b"]) as ollama, \
            ScriptedModelServer("openai", model="tiny.gguf") as llama:
        auto = await resolve_backend(Settings(connect_timeout=1.0),
                                     environ={"OLLAMA_BASE_URL": _closed_url(), "LLAMACPP_BASE_URL": llama.base_url})
        assert auto == ResolvedBackend(name="openai", base_url=llama.base_url, model="tiny.gguf")
        explicit = await resolve_backend(Settings(connect_timeout=1.0, backend="ollama"),
                                         environ={"OLLAMA_BASE_URL": ollama.base_url + "/"})
        assert explicit == ResolvedBackend(name="ollama", base_url=ollama.base_url, model="qwen3.5:9b")
        # The /v1 suffix the original's LLAMACPP_BASE_URL carried is taken at the server's root.
        v1 = await resolve_backend(Settings(connect_timeout=1.0, backend="openai"),
                                   environ={"LLAMACPP_BASE_URL": llama.base_url + "/v1"})
        assert v1.base_url == llama.base_url


async def test_an_explicit_base_url_wins_over_the_environment() -> None:
    with ScriptedModelServer("ollama", models=["a:1b"]) as ollama:
        resolved = await resolve_backend(
            Settings(connect_timeout=1.0, base_url=ollama.base_url),
            environ={"OLLAMA_BASE_URL": _closed_url(), "LLAMACPP_BASE_URL": _closed_url()},
        )
    assert resolved == ResolvedBackend(name="ollama", base_url=ollama.base_url, model="a:1b")
