"""What the model behind a server can do, asked rather than guessed.

Ollama answers `POST /api/show` with a `capabilities` list ("tools", "thinking", ...), the model's
trained context length under `model_info["<arch>.context_length"]` and its Modelfile `parameters`.
llama.cpp answers `GET /props`: `default_generation_settings.n_ctx` is the context per slot (the real
limit), `chat_template_caps` (newer builds) says whether the template takes tools, and the template
text shows whether the model thinks. A server-side reasoning budget (`--reasoning-budget N`) shows
in /props on builds that report it, under `reasoning_budget`, `reasoning_budget_tokens` or
`thinking_budget_tokens` (top level, in `default_generation_settings` or in its `params`); -1 means
unlimited. Upstream builds at the time of writing do not report it, so None is common.

Anything a server does not say stays None; an unreachable or missing endpoint never raises.

What a server says is not always what it does: llama-server drops the `tools` of a request without a
word when the model's template cannot render them (SmolLM2's cannot; /props then reports
`supports_tool_calls: false`), and whether reasoning arrives in its own field or inline as <think>
text depends on the template and the server's reasoning format, which /props does not report.
`live_check` therefore asks the model once, with one tool on offer, and reports what came back.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from agent.messages import SystemMessage, UserMessage
from agent.providers.assemble import ToolCallAssembler
from agent.providers.base import (
    ChatRequest,
    Provider,
    ReasoningChunk,
    StreamEnd,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
)
from agent.providers.clients import shared
from agent.providers.http import HTTPX_ERRORS, server_root

_BUDGET_KEYS = ("reasoning_budget", "reasoning_budget_tokens", "thinking_budget_tokens")
_THINKING_MARKERS = ("<think>", "enable_thinking", "reasoning_content")
# An assistant header followed by an opening tag in the same literal ('<|im_start|>assistant\n<think>\n',
# '<｜Assistant｜><think>\n'): the generation prompt opens the reasoning whatever the request says.
_OPENS_THINK = re.compile(r"assistant[^'\"{}]{0,8}?<think>", re.IGNORECASE)
# llama-server formats that take reasoning out of the content itself, a forced-open block included.
_SPLITTING_FORMATS = ("deepseek", "deepseek-legacy", "auto")


class Capabilities(BaseModel):
    native_tools: bool | None = None
    thinking: bool | None = None
    context_size: int | None = None  # the most the server will take for this model, in tokens
    native_reasoning_budget: bool | None = None  # True: the server itself cuts reasoning off
    server: str = ""  # "ollama 0.12.6", "llama.cpp b6500", "vllm", "openai-compatible"
    reasoning_budget: int | None = None  # the server's budget as reported (-1 = unlimited)
    default_context: int | None = None  # Ollama: num_ctx from the model's Modelfile parameters
    # The chat template writes `<think>` into the prompt and the server hands the reply over raw, so the
    # reply starts inside the reasoning and only `</think>` appears in the content.
    starts_in_reasoning: bool = False
    # The server answered 503 (llama-server loading its model): what it did not say is not final.
    loading: bool = False


async def probe(
    provider_name: str,
    base_url: str,
    model: str,
    *,
    timeout: float,
    api_key: str | None = None,
) -> Capabilities:
    base_url = server_root(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    get = _Getter(await shared.get(base_url), headers, httpx.Timeout(timeout))
    if provider_name == "ollama":
        caps = await _probe_ollama(get, base_url, model)
    else:
        caps = await _probe_openai(get, base_url, model)
    caps.loading = get.loading
    return caps


async def _probe_ollama(get: _Getter, base_url: str, model: str) -> Capabilities:
    caps = Capabilities(server="ollama")
    version, show = await asyncio.gather(  # independent questions: one round trip, not two
        get.json("GET", f"{base_url}/api/version"), get.json("POST", f"{base_url}/api/show", {"model": model}))
    if isinstance(version, dict) and version.get("version"):
        caps.server = f"ollama {version['version']}"
    if not isinstance(show, dict):
        return caps
    listed = show.get("capabilities")
    if isinstance(listed, list):  # older Ollama has no such list: leave both unknown
        caps.native_tools = "tools" in listed
        caps.thinking = "thinking" in listed
    caps.context_size = _context_length(show.get("model_info"))
    caps.default_context = _num_ctx(show.get("parameters"))
    return caps


def _context_length(model_info: Any) -> int | None:
    if not isinstance(model_info, dict):
        return None
    arch = model_info.get("general.architecture")
    value = model_info.get(f"{arch}.context_length") if arch else None
    if value is None:
        value = next((v for k, v in model_info.items() if k.endswith(".context_length")), None)
    return _int(value)


def _num_ctx(parameters: Any) -> int | None:
    if not isinstance(parameters, str):
        return None
    match = re.search(r"^\s*num_ctx\s+(\d+)\s*$", parameters, re.MULTILINE)
    return int(match.group(1)) if match else None


async def _probe_openai(get: _Getter, base_url: str, model: str) -> Capabilities:
    caps = Capabilities(server="openai-compatible")
    props = await get.json("GET", f"{base_url}/props")
    if isinstance(props, dict):
        _read_props(props, caps)
    if caps.context_size is None or caps.server == "openai-compatible":
        listing = await get.json("GET", f"{base_url}/v1/models")
        entries = listing.get("data") if isinstance(listing, dict) else None
        entry = _entry(entries, model)
        if entry is not None:
            if caps.context_size is None:
                meta = _dict(entry.get("meta"))
                # vLLM says max_model_len; llama.cpp says meta.n_ctx (per slot) when /props is unavailable.
                caps.context_size = _int(entry.get("max_model_len")) or _int(meta.get("n_ctx"))
            if caps.server == "openai-compatible" and entry.get("owned_by") == "vllm":
                caps.server = "vllm"
    return caps


def _read_props(props: dict[str, Any], caps: Capabilities) -> None:
    settings = _dict(props.get("default_generation_settings"))
    params = _dict(settings.get("params"))
    caps.context_size = _int(settings.get("n_ctx")) or _int(props.get("n_ctx"))
    if "build_info" in props or "default_generation_settings" in props:
        caps.server = f"llama.cpp {props['build_info']}" if props.get("build_info") else "llama.cpp"

    template_caps = props.get("chat_template_caps")
    if isinstance(template_caps, dict):
        flag = template_caps.get("supports_tool_calls", template_caps.get("supports_tools"))
        if isinstance(flag, bool):
            caps.native_tools = flag
    elif props.get("chat_template_tool_use"):
        caps.native_tools = True
    template = props.get("chat_template")
    if isinstance(template, str) and any(marker in template for marker in _THINKING_MARKERS):
        caps.thinking = True
    if isinstance(template, str) and _OPENS_THINK.search(template):
        reasoning_format = params.get("reasoning_format", props.get("reasoning_format"))
        caps.starts_in_reasoning = reasoning_format not in _SPLITTING_FORMATS

    for source in (props, settings, params):
        budget = next((_int(source[k]) for k in _BUDGET_KEYS if k in source), None)
        if budget is not None:
            caps.reasoning_budget = budget
            caps.native_reasoning_budget = budget >= 0
            break


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entry(entries: Any, model: str) -> dict[str, Any] | None:
    if not isinstance(entries, list):
        return None
    dicts = [e for e in entries if isinstance(e, dict)]
    return next((e for e in dicts if e.get("id") == model), dicts[0] if len(dicts) == 1 else None)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


@dataclass
class _Getter:
    """Requests of one probe: the shared client, with the probe's headers and timeout on each."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    timeout: httpx.Timeout
    loading: bool = False  # some answer was 503: the server is loading the model (or too busy to say)

    async def json(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON of a 2xx answer, else None: probing must not fail because an endpoint is absent."""
        try:
            response = await self.client.request(method, url, json=body, headers=self.headers, timeout=self.timeout)
        except HTTPX_ERRORS:
            return None
        if response.status_code >= 300:
            self.loading = self.loading or response.status_code == 503
            return None
        try:
            return response.json()
        except ValueError:
            return None


# --- asking the model -------------------------------------------------------------------------

LIVE_TOOL = ToolSpec(
    name="current_time",
    description="The current date and time in a time zone.",
    parameters={"type": "object", "properties": {"timezone": {"type": "string", "description": "e.g. UTC"}},
                "required": ["timezone"]},
)
_LIVE_SYSTEM = "You answer by calling tools. When a tool fits the request, call it instead of replying in text."
_LIVE_USER = "What time is it in UTC? Use the current_time tool."


class LiveCheck(BaseModel):
    """What one real request offering one tool came back with."""

    tool_call: bool  # the reply held a native call to the offered tool, with JSON-object arguments
    reasoning: Literal["split", "inline", "none"]  # own field (reasoning_content / thinking), <think> text, none
    finish_reason: str | None
    prompt_tokens: int | None
    seconds: float
    text_preview: str  # the start of the visible reply, to show what the model did instead


async def live_check(provider: Provider, model: str, *, context_size: int,
                     max_output_tokens: int = 512) -> LiveCheck:
    """One short generation (thinking left at the server's default, so a thinking model shows how its
    reasoning arrives). Raises ProviderError like any model call."""
    request = ChatRequest(
        model=model,
        messages=[SystemMessage(content=_LIVE_SYSTEM), UserMessage(content=_LIVE_USER)],
        tools=[LIVE_TOOL],
        temperature=0.0,
        context_size=context_size,
        max_output_tokens=max_output_tokens,
    )
    started = time.monotonic()
    calls = ToolCallAssembler()
    text: list[str] = []
    split = False
    end = StreamEnd()
    async for delta in provider.stream(request):
        if isinstance(delta, ReasoningChunk):
            split = True
        elif isinstance(delta, TextChunk):
            text.append(delta.text)
        elif isinstance(delta, ToolCallChunk):
            calls.feed(delta)
        else:
            end = delta
    visible = "".join(text)
    called = any(c.name == LIVE_TOOL.name and c.arguments is not None for c in calls.finish())
    return LiveCheck(
        tool_call=called,
        reasoning="split" if split else "inline" if "<think>" in visible else "none",
        finish_reason=end.finish_reason,
        prompt_tokens=end.usage.prompt_tokens,
        seconds=round(time.monotonic() - started, 3),
        text_preview=visible[:200],
    )
