"""Connecting a session to a model server: which backend, which model, what it can do, which profile.

`ModelMemory` is what a host (one CLI run, one language-server process, one benchmark run) learns about
models across sessions — e.g. that a model cannot do native tool calls. It is owned by the host and
handed to each session; there is no module-level cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.profiles import Effective, effective
from agent.providers.base import Provider
from agent.providers.detect import ResolvedBackend, make_provider, resolve_backend
from agent.providers.probe import Capabilities, probe
from agent.settings import Settings


@dataclass
class ModelMemory:
    capabilities: dict[str, Capabilities] = field(default_factory=dict)
    # Models found not to accept native `tools` at run time (HTTP 400 "does not support tools").
    no_native_tools: set[str] = field(default_factory=set)
    # Models whose server refused thinking at run time though the probe allowed it (HTTP 400 "does not
    # support thinking"): later sessions of this host skip the doomed request.
    no_thinking: set[str] = field(default_factory=set)

    @staticmethod
    def key(base_url: str, model: str) -> str:
        return f"{base_url}|{model}"


@dataclass
class Backend:
    provider: Provider
    resolved: ResolvedBackend
    capabilities: Capabilities
    config: Effective
    thinking_refused: bool = False  # the server refused thinking for this model (this session or this host)

    @property
    def thinks(self) -> bool:
        """Whether to ask for thinking: unknown capabilities keep asking, a known "cannot" does not."""
        return not self.thinking_refused and self.capabilities.thinking is not False

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def model(self) -> str:
        return self.resolved.model

    @property
    def base_url(self) -> str:
        return self.resolved.base_url


async def connect(settings: Settings, memory: ModelMemory) -> Backend:
    """Resolve the backend, probe (once per model per host) and fix the effective configuration.
    Raises ProviderError when no server answers."""
    resolved = await resolve_backend(settings)
    key = ModelMemory.key(resolved.base_url, resolved.model)
    caps = memory.capabilities.get(key)
    if caps is None:
        caps = await probe(resolved.name, resolved.base_url, resolved.model, timeout=settings.connect_timeout,
                           api_key=settings.api_key())
        if not caps.loading:  # a server still loading its model is asked again by the next session
            memory.capabilities[key] = caps
    native_tools = False if key in memory.no_native_tools else caps.native_tools
    config = effective(settings, resolved.model, server_context=caps.context_size, native_tools=native_tools,
                       backend=resolved.name)
    return Backend(make_provider(resolved, settings), resolved, caps, config,
                   thinking_refused=key in memory.no_thinking)
