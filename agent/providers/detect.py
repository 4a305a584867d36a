"""Which model server to talk to, at which URL, with which model.

An explicit backend uses the given URL (or that backend's default) and asks the server for its first
model when none is configured. `auto` looks at the given URL, or else tries Ollama's default port and
then llama-server's, and identifies what answers: Ollama lists models at `/api/tags` (an object with
only `models`); OpenAI-compatible servers list them at `/v1/models` (`data`) and llama.cpp also
answers `/health`. llama.cpp serves an Ollama-style `/api/tags` too, but with `data` beside `models`,
which is how the two are told apart. A URL given with the OpenAI-style `/v1` suffix is taken at the
server's root, so Ollama is still reached through its native API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from agent.providers.base import Provider, ProviderError
from agent.providers.clients import shared
from agent.providers.http import HTTPX_ERRORS, server_root
from agent.providers.ollama import OllamaProvider
from agent.providers.openai_compat import OpenAICompatProvider
from agent.settings import Settings, default_server_urls

BackendName = Literal["ollama", "openai"]

NOTHING_ANSWERS_HINT = (
    "start Ollama (`ollama serve`, then `ollama pull qwen3.5:9b`) or llama.cpp "
    "(`llama-server -m model.gguf --port 8080`), or point little-coder at your server with "
    "--base-url URL (and --backend ollama|openai)"
)


class ResolvedBackend(BaseModel):
    name: BackendName
    base_url: str
    model: str


@dataclass(frozen=True)
class _Found:
    name: BackendName
    models: list[str]
    needs_key: bool = False


async def resolve_backend(
    settings: Settings,
    *,
    ollama_url: str | None = None,
    llamacpp_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ResolvedBackend:
    """Raises ProviderError ("connection" when nothing answers, "model_not_found" when a server has
    no model to offer). `ollama_url` / `llamacpp_url` are the defaults tried when `base_url` is not set;
    None takes $OLLAMA_BASE_URL / $LLAMACPP_BASE_URL, else the usual local ports (tests inject others)."""
    env_ollama, env_llamacpp = default_server_urls(environ)
    ollama_url = ollama_url or env_ollama
    llamacpp_url = llamacpp_url or env_llamacpp
    api_key = settings.api_key(environ)
    timeout = httpx.Timeout(settings.connect_timeout)
    if settings.backend == "ollama":
        return await _explicit("ollama", settings.base_url or ollama_url, settings, None)
    if settings.backend == "openai":
        return await _explicit("openai", settings.base_url or llamacpp_url, settings, api_key)
    given = [settings.base_url] if settings.base_url else [ollama_url, llamacpp_url]
    candidates = [server_root(url) for url in given]
    for url in candidates:
        found = await _identify(await shared.get(url), url, api_key, timeout)
        if found is not None:
            return _choose(found, url, settings)
    where = " or ".join(candidates)
    raise ProviderError("connection", f"no model server answered at {where}", hint=NOTHING_ANSWERS_HINT,
                        url=candidates[0])


def make_provider(resolved: ResolvedBackend, settings: Settings,
                  environ: Mapping[str, str] | None = None) -> Provider:
    if resolved.name == "ollama":
        return OllamaProvider(resolved.base_url, connect_timeout=settings.connect_timeout,
                              stall_timeout=settings.stall_timeout)
    return OpenAICompatProvider(resolved.base_url, connect_timeout=settings.connect_timeout,
                                stall_timeout=settings.stall_timeout, api_key=settings.api_key(environ))


async def _explicit(name: BackendName, url: str, settings: Settings, api_key: str | None) -> ResolvedBackend:
    url = server_root(url)
    if settings.model:
        return ResolvedBackend(name=name, base_url=url, model=settings.model)
    provider: Provider
    if name == "ollama":
        provider = OllamaProvider(url, connect_timeout=settings.connect_timeout,
                                  stall_timeout=settings.connect_timeout)
    else:
        provider = OpenAICompatProvider(url, connect_timeout=settings.connect_timeout,
                                        stall_timeout=settings.connect_timeout, api_key=api_key)
    return _choose(_Found(name, await provider.list_models()), provider.base_url, settings)


def _choose(found: _Found, url: str, settings: Settings) -> ResolvedBackend:
    model = settings.model or (found.models[0] if found.models else None)
    if model is None:
        if found.name == "ollama":
            raise ProviderError("model_not_found", f"Ollama at {url} has no models",
                                hint="download one with `ollama pull qwen3.5:9b`", url=url)
        why = " (it wants an API key)" if found.needs_key else ""
        raise ProviderError("model_not_found", f"the server at {url} lists no models{why}",
                            hint="name the model with --model NAME"
                                 + (", and put the key in LITTLE_CODER_API_KEY" if found.needs_key else ""),
                            url=url)
    return ResolvedBackend(name=found.name, base_url=url, model=model)


async def _identify(client: httpx.AsyncClient, url: str, api_key: str | None,
                    timeout: httpx.Timeout) -> _Found | None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    status, tags = await _get(client, f"{url}/api/tags", {}, timeout)
    if status is None:
        return None  # nothing listens there
    if status == 200 and isinstance(tags, dict) and isinstance(tags.get("models"), list) and "data" not in tags:
        return _Found("ollama", [str(m.get("name") or m.get("model")) for m in tags["models"] if isinstance(m, dict)])
    status, listing = await _get(client, f"{url}/v1/models", headers, timeout)
    if status == 200 and isinstance(listing, dict) and isinstance(listing.get("data"), list):
        return _Found("openai", [str(m["id"]) for m in listing["data"] if isinstance(m, dict) and "id" in m])
    if status in (401, 403):
        return _Found("openai", [], needs_key=True)
    status, _ = await _get(client, f"{url}/health", headers, timeout)
    if status == 200:
        return _Found("openai", [])
    return None


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str],
               timeout: httpx.Timeout) -> tuple[int | None, Any]:
    """(status, JSON or None); status None when the request itself failed."""
    try:
        response = await client.get(url, headers=headers, timeout=timeout)
    except HTTPX_ERRORS:
        return None, None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None
