"""Per-model profiles: context size, thinking and guidance budgets, temperature, output cap.

A model name arrives in many spellings (`qwen3.5:9b`, `ollama/qwen3.5:9b`, `Qwen3.5-9B`,
`hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M`, `/models/Qwen3.5-9B-Q4_K_M.gguf`). `match_profile` reduces
each to a key (lower case, no path, no quantisation or file suffix, no `instruct`/`it`/`chat`, no
separators) and looks it up: exact profile name first, then the longest family prefix (refined by
the parameter count when the family lists several sizes), then a size class for unknown families,
then "default". A profile tied to one backend (`llamacpp/qwen3.5-9b`) is tried first, and only when
that backend serves the model. `effective` layers the user's settings and what the server reported on
top; `benchmark_overrides` gives the settings a profile asks for under a named benchmark.

The values of the original's profiles (SCAFFOLD §8) carry over, with guidance budget = skill +
knowledge budget. Where ours differ, the reason is stated beside them:
- output cap: the original never sent `num_predict` to Ollama; every profile here has a finite cap
  (SCAFFOLD §11.5), because a model that loops otherwise streams until the window is full.
- corrections: the original's Python version allowed 1 corrective retry for the qwen3.5-class
  profiles; we allow 2, the cap its later version settled on (SCAFFOLD §10), because our monitor
  also corrects truncated and schema-invalid calls. Their "polyglot" override restores 1, so the
  benchmark harness runs the paper's configuration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agent.settings import Settings


class BenchmarkOverride(BaseModel, frozen=True):
    """Settings a profile asks for under one benchmark; None leaves the setting alone."""

    context_size: int | None = None
    thinking_budget: int | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    max_turns: int | None = None
    max_corrections: int | None = None


class Profile(BaseModel, frozen=True):
    name: str
    family: str  # "" for the size classes and the default, which only match by fallback
    context_size: int
    thinking_budget: int  # 0: the model does not think (or should not)
    guidance_budget: int  # tokens of skill cards + knowledge entries per model call
    temperature: float
    max_output_tokens: int
    text_tools: bool = False
    max_corrections: int = 2
    # "ollama" or "openai" (llama.cpp and other OpenAI-compatible servers): the profile applies only to a
    # model served by that backend. None: any backend.
    backend: str | None = None
    # Benchmark name (lower case, '_' for '-') -> the settings to use under it.
    benchmarks: Mapping[str, BenchmarkOverride] = {}


class Effective(BaseModel, frozen=True):
    """The values one session actually runs with."""

    profile: str
    context_size: int
    thinking_budget: int
    guidance_budget: int
    temperature: float
    max_output_tokens: int
    text_tools: bool
    max_corrections: int


def _default_output(context_size: int) -> int:
    # Ours, not the original's (which sent no num_predict): a model stuck repeating itself must stop
    # somewhere short of the window. A quarter of the window leaves room for a whole file plus the
    # thinking budget, while the prompt keeps three quarters.
    return min(8192, context_size // 4)


def _p(
    name: str,
    family: str,
    context_size: int,
    thinking_budget: int,
    guidance_budget: int,
    temperature: float,
    *,
    max_output_tokens: int | None = None,
    text_tools: bool = False,
    max_corrections: int = 2,
    backend: str | None = None,
    benchmarks: Mapping[str, BenchmarkOverride] | None = None,
) -> Profile:
    return Profile(
        name=name,
        family=family,
        context_size=context_size,
        thinking_budget=thinking_budget,
        guidance_budget=guidance_budget,
        temperature=temperature,
        max_output_tokens=max_output_tokens or _default_output(context_size),
        text_tools=text_tools,
        max_corrections=max_corrections,
        backend=backend,
        benchmarks=dict(benchmarks or {}),
    )


# The paper measured the qwen3.5-class profiles with one corrective retry (the original's max_retries);
# the benchmark harness runs them so, while everyday use keeps our 2 (see the module doc).
_PAPER_POLYGLOT = {"polyglot": BenchmarkOverride(max_corrections=1)}
# The later original's benchmark settings for its Qwen3.6 profiles (SCAFFOLD §8, the TS port).
_QWEN36_BENCHMARKS = {
    **_PAPER_POLYGLOT,
    "terminal_bench": BenchmarkOverride(thinking_budget=3000, temperature=0.2, max_turns=40),
    "gaia": BenchmarkOverride(thinking_budget=2000, temperature=0.4, max_turns=40, context_size=65536),
}


# The size classes of the original: 1B-class models get a small window, low temperature and one
# more corrective retry; 3–4B-class models the "default small" values.
def _class_1b(name: str, family: str) -> Profile:
    return _p(name, family, 4096, 512, 300, 0.2, max_corrections=3)


def _class_4b(name: str, family: str) -> Profile:
    return _p(name, family, 8192, 1024, 450, 0.3)


def _class_mid(name: str, family: str) -> Profile:
    # 7–14B models without a tuned profile in the original: twice the default window.
    return _p(name, family, 16384, 1024, 500, 0.3)


def _qwen35(name: str, family: str, *, text_tools: bool = False) -> Profile:
    # The reference profile (qwen3.5, qwen3:8b, gemma4:e4b in the original). Corrections: 2, not the
    # original's 1, except under the polyglot benchmark (module doc).
    return _p(name, family, 32768, 2048, 500, 0.3, text_tools=text_tools, benchmarks=_PAPER_POLYGLOT)


def _qwen36(name: str) -> Profile:
    # The later original's Qwen3.6 profiles: context 32768 (its server ran 32K; the Python profile's
    # 16384 was never what ran), max_tokens 4096 -> our output cap, thinking budget 2048, temperature
    # 0.3. The 27B dense model got the same values as the 35B-A3B MoE upstream.
    return _p(name, "qwen3.6", 32768, 2048, 500, 0.3, max_output_tokens=4096, benchmarks=_QWEN36_BENCHMARKS)


def _r1(name: str, context_size: int, thinking_budget: int, guidance_budget: int) -> Profile:
    # DeepSeek recommends 0.5–0.7 for the R1 distills; lower values make them loop.
    return _p(name, "deepseek-r1", context_size, thinking_budget, guidance_budget, 0.6)


# A profile whose name equals its family is that family's fallback (Ollama's untagged pull).
PROFILES: tuple[Profile, ...] = (
    # --- from the original (SCAFFOLD §8) ---
    _qwen35("qwen3.5", "qwen3.5"),
    _qwen35("qwen3.5:9b", "qwen3.5"),
    _qwen35("qwen3", "qwen3"),
    _qwen35("qwen3:8b", "qwen3"),
    _qwen35("qwen3:14b", "qwen3"),
    _class_4b("qwen3:4b", "qwen3"),
    _class_1b("qwen3:1.7b", "qwen3"),
    _class_1b("qwen3:0.6b", "qwen3"),
    _qwen35("gemma4", "gemma4", text_tools=True),
    _qwen35("gemma4:e4b", "gemma4", text_tools=True),
    _qwen36("qwen3.6"),
    _qwen36("qwen3.6-35b-a3b"),  # also matches Ollama's "qwen3.6:35b-a3b"
    _qwen36("qwen3.6-27b"),
    # The original's profile for Qwen3.5-9B served by llama.cpp: its thinking budget there is 8192, its
    # whole output cap; ours keeps half of the 8192 cap for the answer.
    _p("llamacpp/qwen3.5-9b", "qwen3.5", 32768, 4096, 500, 0.3, backend="openai", benchmarks=_PAPER_POLYGLOT),
    _class_4b("gemma3", "gemma3"),
    _class_1b("gemma3:1b", "gemma3"),
    _class_4b("gemma3:4b", "gemma3"),
    _p("gemma3:12b", "gemma3", 32768, 2048, 700, 0.4, benchmarks=_PAPER_POLYGLOT),
    _p("gemma3:27b", "gemma3", 32768, 2048, 700, 0.4),
    # A base model: it has no chat template for tools and does not think.
    _p("gemma3:270m", "gemma3", 2048, 0, 150, 0.2, text_tools=True, max_corrections=3),
    _p("phi4-mini", "phi4-mini", 16384, 1024, 600, 0.3),
    _p("phi4", "phi4", 16384, 1024, 600, 0.3),
    _class_4b("llama3.2", "llama3.2"),
    _class_1b("llama3.2:1b", "llama3.2"),
    _class_4b("llama3.2:3b", "llama3.2"),
    _class_mid("qwen2.5", "qwen2.5"),
    _class_1b("qwen2.5:0.5b", "qwen2.5"),
    _class_1b("qwen2.5:1.5b", "qwen2.5"),
    _class_4b("qwen2.5:3b", "qwen2.5"),
    _class_mid("qwen2.5:7b", "qwen2.5"),
    _class_mid("qwen2.5:14b", "qwen2.5"),
    # --- common small models ---
    _class_mid("qwen2.5-coder", "qwen2.5-coder"),
    _class_1b("qwen2.5-coder:1.5b", "qwen2.5-coder"),
    _class_4b("qwen2.5-coder:3b", "qwen2.5-coder"),
    _class_mid("qwen2.5-coder:7b", "qwen2.5-coder"),
    _class_mid("qwen2.5-coder:14b", "qwen2.5-coder"),
    _p("qwen3-coder", "qwen3-coder", 32768, 0, 500, 0.3),  # 30B-A3B, instruct only
    _class_mid("llama3.1", "llama3.1"),
    _class_mid("llama3.1:8b", "llama3.1"),
    _r1("deepseek-r1", 32768, 4096, 500),
    _r1("deepseek-r1:1.5b", 8192, 1024, 300),
    _r1("deepseek-r1:7b", 32768, 4096, 500),
    _r1("deepseek-r1:8b", 32768, 4096, 500),
    _r1("deepseek-r1:14b", 32768, 4096, 500),
    _class_mid("mistral", "mistral"),
    _class_mid("mistral-nemo", "mistral-nemo"),
    _class_mid("ministral", "ministral"),
    _class_4b("ministral-3:3b", "ministral"),
    _class_mid("ministral-3:8b", "ministral"),
    _class_mid("granite", "granite"),
    _class_4b("granite3.3:2b", "granite"),
    _class_mid("granite3.3:8b", "granite"),
    _p("smollm2", "smollm2", 8192, 0, 300, 0.2, max_corrections=3),
    _p("smollm2:1.7b", "smollm2", 8192, 0, 300, 0.2, max_corrections=3),
    _p("smollm2:360m", "smollm2", 8192, 0, 300, 0.2, max_corrections=3),
    # The embedded smoke-test model rambles: a short output cap keeps `make run` quick.
    _p("smollm2:135m", "smollm2", 8192, 0, 300, 0.2, max_output_tokens=512, max_corrections=3),
    # --- fallbacks for unknown families, by parameter count, then the default ---
    _class_1b("small-1b", ""),
    _class_4b("small-4b", ""),
    _p("default", "", 8192, 1024, 450, 0.3),
)

# Upper parameter bounds (billions) of the size classes for unknown families.
_SIZE_CLASSES: tuple[tuple[float, str], ...] = ((1.5, "small-1b"), (4.5, "small-4b"))

_SPLIT_FILE = re.compile(r"-\d{5}-of-\d{5}")
# Suffixes that say how a model is stored, not which model it is; stripped repeatedly from the end.
_STORAGE_SUFFIX = re.compile(
    r"[-_.:](?:ud-)?(?:i?q[1-8](?:_[0-9a-z]+)*|b?f16|f32|fp16|fp8|mxfp4|[248]bit|gguf|qat|mlx|latest)$"
)
# A '.' only separates words when a letter follows ("instruct.q4_1"); "qwen3.5" keeps it.
_TOKEN_SEP = re.compile(r"[-_:\s]+|\.(?=[a-z])")
_NOISE_TOKENS = frozenset({"instruct", "it", "chat", "hf", "meta", ""})
_SIZE = re.compile(r"e?(\d+(?:\.\d+)?)([mb])")  # "9b", "1.5b", "135m", gemma's "e4b"


def _tokens(model: str) -> list[str]:
    name = model.strip().lower().replace("\\", "/").rsplit("/", 1)[-1]
    name = _SPLIT_FILE.sub("", name)
    while True:
        shorter = _STORAGE_SUFFIX.sub("", name)
        if shorter == name:
            break
        name = shorter
    return [t for t in _TOKEN_SEP.split(name) if t not in _NOISE_TOKENS]


def normalise(model: str) -> str:
    """The matching key: `Qwen3.5-9B-Instruct-Q4_K_M.gguf` and `ollama/qwen3.5:9b` both give `qwen3.59b`."""
    return "".join(_tokens(model))


def parameter_count(model: str) -> float | None:
    """Billions of parameters named in the model name (the total for MoE names), if any."""
    for token in _tokens(model):
        match = _SIZE.fullmatch(token)
        if match:
            value = float(match.group(1))
            return value / 1000 if match.group(2) == "m" else value
    return None


_ANY_BACKEND: tuple[Profile, ...] = tuple(p for p in PROFILES if p.backend is None)
_BY_KEY: dict[str, Profile] = {normalise(p.name): p for p in _ANY_BACKEND}
_BY_BACKEND_KEY: dict[tuple[str, str], Profile] = {
    (p.backend, normalise(p.name)): p for p in PROFILES if p.backend is not None
}
_BY_NAME: dict[str, Profile] = {p.name: p for p in PROFILES}
# Longest first, so "qwen2.5-coder" wins over "qwen2.5" and "phi4-mini" over "phi4".
_FAMILIES: tuple[tuple[str, str], ...] = tuple(
    sorted({(normalise(p.family), p.family) for p in _ANY_BACKEND if p.family}, key=lambda f: -len(f[0]))
)
# Provider prefixes in the original's profile keys ("llamacpp/qwen3.5-9b"): which backend they mean.
_BACKEND_PREFIXES = {"llamacpp": "openai", "lmstudio": "openai", "openai": "openai", "ollama": "ollama"}


def _within_family(family: str, size: float | None) -> Profile:
    if size is not None:
        sized = [(parameter_count(p.name), p) for p in _ANY_BACKEND if p.family == family and p.name != family]
        candidates = [(s, p) for s, p in sized if s is not None]
        if candidates:
            # Nearest on a log scale: 0.5b is closer to 1.5b than to 3b.
            return min(candidates, key=lambda sp: abs(math.log(sp[0] / size)))[1]
    return _BY_NAME[family]


def _backend_of(model: str, backend: str | None) -> str | None:
    prefix = model.strip().lower().split("/", 1)[0] if "/" in model else ""
    return _BACKEND_PREFIXES.get(prefix, backend)


def match_profile(model: str, backend: str | None = None) -> Profile:
    """The profile for `model`. `backend` ("ollama" / "openai", or a provider prefix in the name such as
    `llamacpp/`) lets a profile kept for that backend win; without one only the others match."""
    key = normalise(model)
    served_by = _backend_of(model, backend)
    if served_by is not None and (tied := _BY_BACKEND_KEY.get((served_by, key))) is not None:
        return tied
    exact = _BY_KEY.get(key)
    if exact is not None:
        return exact
    size = parameter_count(model)
    for family_key, family in _FAMILIES:
        if key.startswith(family_key):
            return _within_family(family, size)
    if size is not None:
        for bound, name in _SIZE_CLASSES:
            if size <= bound:
                return _BY_NAME[name]
    return _BY_NAME["default"]


def effective(
    settings: Settings,
    model: str,
    *,
    server_context: int | None = None,
    native_tools: bool | None = None,
    backend: str | None = None,
) -> Effective:
    """The profile for `model` with the user's settings (fields not None) and the server's facts applied.

    `server_context` is the window the server really has (llama.cpp `/props` n_ctx, Ollama
    `/api/show` context length): asking for more would be silently truncated, so it caps everything.
    `native_tools=False` (the server rejected or lacks tool support) forces text tools unless the
    user chose explicitly with `text_tools = "on" | "off"`. The output cap never exceeds half the
    window, even when set explicitly, and a thinking budget taken from the profile shrinks to half
    the output cap, so a capped window still leaves room for the prompt and the answer. `backend` is
    the backend serving the model (default: the `backend` setting unless it is "auto").
    """
    profile = match_profile(model, backend or (settings.backend if settings.backend != "auto" else None))
    context = settings.context_size if settings.context_size is not None else profile.context_size
    if server_context is not None and 0 < server_context < context:
        context = server_context

    if settings.max_output_tokens is not None:
        max_output = settings.max_output_tokens
    else:
        max_output = profile.max_output_tokens
        if context < profile.context_size:
            max_output = min(max_output, _default_output(context))
    # However it was set, the output may not eat more than half the window: the prompt needs room.
    max_output = min(max_output, context // 2)

    if settings.thinking_budget is not None:
        thinking = settings.thinking_budget
    else:
        # A shrunken window must still leave the answer room after the thinking budget is spent.
        thinking = min(profile.thinking_budget, max_output // 2)

    if settings.text_tools != "auto":
        text_tools = settings.text_tools == "on"
    elif native_tools is False:
        text_tools = True
    else:
        text_tools = profile.text_tools

    # max_corrections has a non-None default in Settings, so only an explicitly given value overrides.
    explicit_corrections = "max_corrections" in settings.model_fields_set

    return Effective(
        profile=profile.name,
        context_size=context,
        thinking_budget=thinking,
        guidance_budget=(
            settings.guidance_budget if settings.guidance_budget is not None else profile.guidance_budget
        ),
        temperature=settings.temperature if settings.temperature is not None else profile.temperature,
        max_output_tokens=max_output,
        text_tools=text_tools,
        max_corrections=settings.max_corrections if explicit_corrections else profile.max_corrections,
    )


def _benchmark_key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def benchmark_overrides(model: str, benchmark: str, backend: str | None = None) -> dict[str, Any]:
    """The settings the model's profile asks for under `benchmark` ("polyglot", "terminal_bench",
    "gaia"; case and '-' / '_' do not matter), as `load_settings` overrides: pass them below the
    user's own flags so an explicit choice still wins. {} when the profile has none."""
    profile = match_profile(model, backend)
    chosen = profile.benchmarks.get(_benchmark_key(benchmark))
    return chosen.model_dump(exclude_none=True) if chosen is not None else {}
