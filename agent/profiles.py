"""Per-model profiles: context size, thinking and guidance budgets, temperature, output cap.

A model name arrives in many spellings (`qwen3.5:9b`, `ollama/qwen3.5:9b`, `Qwen3.5-9B`,
`hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M`, `/models/Qwen3.5-9B-Q4_K_M.gguf`). `match_profile` reduces
each to a key (lower case, no path, no quantisation or file suffix, no `instruct`/`it`/`chat`, no
separators) and looks it up: exact profile name first, then the longest family prefix (refined by
the parameter count when the family lists several sizes), then a size class for unknown families,
then "default". `effective` layers the user's settings and what the server reported on top.

The values of the original's profiles (SCAFFOLD §8) carry over, with guidance budget = skill +
knowledge budget. Unlike the original, every profile has a finite output cap (§11.5).
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel

from agent.settings import Settings


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
    # A quarter of the window leaves room for a whole file plus the thinking budget, while the
    # prompt keeps three quarters.
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
    )


# The size classes of the original: 1B-class models get a small window, low temperature and one
# more corrective retry; 3–4B-class models the "default small" values.
def _class_1b(name: str, family: str) -> Profile:
    return _p(name, family, 4096, 512, 300, 0.2, max_corrections=3)


def _class_4b(name: str, family: str) -> Profile:
    return _p(name, family, 8192, 1024, 450, 0.3)


def _class_mid(name: str, family: str) -> Profile:
    # 7–14B models without a tuned profile in the original: twice the default window.
    return _p(name, family, 16384, 1024, 500, 0.3)


def _qwen35(name: str, family: str, **extra: bool) -> Profile:
    # The reference profile (qwen3.5, qwen3:8b, gemma4:e4b in the original).
    return _p(name, family, 32768, 2048, 500, 0.3, **extra)


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
    # The original profile says 16K, though its server actually ran with 32K.
    _p("qwen3.6", "qwen3.6", 16384, 2048, 500, 0.3),
    _p("qwen3.6:35b-a3b", "qwen3.6", 16384, 2048, 500, 0.3),
    _class_4b("gemma3", "gemma3"),
    _class_1b("gemma3:1b", "gemma3"),
    _class_4b("gemma3:4b", "gemma3"),
    _p("gemma3:12b", "gemma3", 32768, 2048, 700, 0.4),
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


_BY_KEY: dict[str, Profile] = {normalise(p.name): p for p in PROFILES}
_BY_NAME: dict[str, Profile] = {p.name: p for p in PROFILES}
# Longest first, so "qwen2.5-coder" wins over "qwen2.5" and "phi4-mini" over "phi4".
_FAMILIES: tuple[tuple[str, str], ...] = tuple(
    sorted({(normalise(p.family), p.family) for p in PROFILES if p.family}, key=lambda f: -len(f[0]))
)


def _within_family(family: str, size: float | None) -> Profile:
    if size is not None:
        sized = [(parameter_count(p.name), p) for p in PROFILES if p.family == family and p.name != family]
        candidates = [(s, p) for s, p in sized if s is not None]
        if candidates:
            # Nearest on a log scale: 0.5b is closer to 1.5b than to 3b.
            return min(candidates, key=lambda sp: abs(math.log(sp[0] / size)))[1]
    return _BY_NAME[family]


def match_profile(model: str) -> Profile:
    key = normalise(model)
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
) -> Effective:
    """The profile for `model` with the user's settings (fields not None) and the server's facts applied.

    `server_context` is the window the server really has (llama.cpp `/props` n_ctx, Ollama
    `/api/show` context length): asking for more would be silently truncated, so it caps everything.
    `native_tools=False` (the server rejected or lacks tool support) forces text tools unless the
    user chose explicitly with `text_tools = "on" | "off"`. The output cap never exceeds half the
    window, even when set explicitly, and a thinking budget taken from the profile shrinks to half
    the output cap, so a capped window still leaves room for the prompt and the answer.
    """
    profile = match_profile(model)
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
