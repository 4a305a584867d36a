"""Model profiles: name matching, the table's invariants, and how settings and the server layer on top."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.profiles import (
    PROFILES,
    Profile,
    benchmark_overrides,
    effective,
    match_profile,
    normalise,
    parameter_count,
)
from agent.settings import Settings, load_settings


def _settings(**overrides: object) -> Settings:
    # Through load_settings, as the session gets them; an empty environment keeps the test hermetic.
    return load_settings(overrides=overrides, environ={}).settings


# --- matching ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name", "values"),
    [
        ("qwen3.5:9b", "qwen3.5:9b", (32768, 2048, 500, 0.3)),
        ("qwen3:8b", "qwen3:8b", (32768, 2048, 500, 0.3)),
        ("gemma4:e4b", "gemma4:e4b", (32768, 2048, 500, 0.3)),
        ("qwen3.6:35b-a3b", "qwen3.6-35b-a3b", (32768, 2048, 500, 0.3)),
        ("qwen3.6-27b", "qwen3.6-27b", (32768, 2048, 500, 0.3)),
        ("gemma3:12b", "gemma3:12b", (32768, 2048, 700, 0.4)),
        ("phi4-mini", "phi4-mini", (16384, 1024, 600, 0.3)),
        ("gemma3:1b", "gemma3:1b", (4096, 512, 300, 0.2)),
        ("llama3.2:1b", "llama3.2:1b", (4096, 512, 300, 0.2)),
        ("llama3.2:3b", "llama3.2:3b", (8192, 1024, 450, 0.3)),
        ("qwen2.5:3b", "qwen2.5:3b", (8192, 1024, 450, 0.3)),
        ("smollm2:135m", "smollm2:135m", (8192, 0, 300, 0.2)),  # trained on 8K; text-mode prompts need it
        ("smollm2:1.7b", "smollm2:1.7b", (8192, 0, 300, 0.2)),
    ],
)
def test_exact_names_carry_the_original_values(model: str, name: str, values: tuple[int, int, int, float]) -> None:
    profile = match_profile(model)
    assert profile.name == name
    assert (profile.context_size, profile.thinking_budget, profile.guidance_budget, profile.temperature) == values


def test_text_tools_and_base_model_flags() -> None:
    assert match_profile("gemma4:e4b").text_tools is True
    assert match_profile("qwen3.5:9b").text_tools is False
    base = match_profile("gemma3:270m")
    assert base.text_tools is True and base.thinking_budget == 0


@pytest.mark.parametrize(
    "model",
    [
        "qwen3.5:9b",
        "QWEN3.5:9B",
        "ollama/qwen3.5:9b",
        "qwen3.5:9b-q4_K_M",
        "qwen3.5:9b-instruct-q8_0",
        "Qwen3.5-9B",
        "Qwen/Qwen3.5-9B-Instruct",
        "hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M",
        "/models/Qwen3.5-9B-Q4_K_M.gguf",
        "C:\\models\\Qwen3.5-9B-UD-Q4_K_XL.gguf",
        "Qwen3.5-9B-IQ4_XS-00001-of-00002.gguf",
    ],
)
def test_spellings_of_the_reference_model_all_match_it(model: str) -> None:
    assert normalise(model) == "qwen3.59b"
    assert match_profile(model).name == "qwen3.5:9b"


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2:135m"),  # the tiny model the tests really run
        ("gemma-3-270m-it-Q4_K_M.gguf", "gemma3:270m"),
        ("gemma3:12b-it-qat", "gemma3:12b"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "llama3.1:8b"),
        ("phi4-mini:latest", "phi4-mini"),
        ("Phi-4-mini-instruct-Q8_0.gguf", "phi4-mini"),
        ("qwen2.5-coder:7b-instruct-q4_K_M", "qwen2.5-coder:7b"),
        ("Qwen3.6-35B-A3B-UD-Q4_K_XL.gguf", "qwen3.6-35b-a3b"),
        ("lmstudio-community/gemma-4-E4B-it-GGUF", "gemma4:e4b"),
    ],
)
def test_file_and_hub_names_are_normalised(model: str, name: str) -> None:
    assert match_profile(model).name == name


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("qwen3.5:27b", "qwen3.5:9b"),  # unknown size: the family's nearest listed size
        ("qwen3.5", "qwen3.5"),  # untagged: the family's own profile
        ("llama3.2", "llama3.2"),
        ("qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"),
        ("qwen2.5-coder:32b", "qwen2.5-coder:14b"),
        ("DeepSeek-R1-Distill-Qwen-7B", "deepseek-r1:7b"),
        ("phi4-mini-reasoning", "phi4-mini"),  # longest family prefix wins over "phi4"
        ("phi4:14b", "phi4"),
        ("qwen2.5-coder", "qwen2.5-coder"),  # not the shorter "qwen2.5" family
        ("granite4:micro", "granite"),
    ],
)
def test_family_prefix_matching(model: str, name: str) -> None:
    assert match_profile(model).name == name


def test_unknown_models_fall_back_by_size_then_default() -> None:
    assert match_profile("olmo2:1b").name == "small-1b"
    assert match_profile("mystery-3b-instruct").name == "small-4b"
    assert match_profile("mystery:70b").name == "default"
    assert match_profile("gpt-4o").name == "default"
    default = match_profile("")
    assert (default.context_size, default.thinking_budget, default.guidance_budget, default.temperature) == (
        8192,
        1024,
        450,
        0.3,
    )


def test_parameter_counts() -> None:
    assert parameter_count("SmolLM2-135M-Instruct") == pytest.approx(0.135)
    assert parameter_count("qwen3.6:35b-a3b") == 35
    assert parameter_count("gemma4:e4b") == 4
    assert parameter_count("Mistral-7B-Instruct-v0.3") == 7
    assert parameter_count("gpt-4o") is None


# --- the table -------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_profile_is_sane_and_reachable_by_its_own_name(profile: Profile) -> None:
    assert match_profile(profile.name) == profile
    # A finite output cap that leaves most of the window to the prompt and room after thinking.
    assert 0 < profile.max_output_tokens <= profile.context_size // 4
    assert profile.thinking_budget < profile.max_output_tokens
    assert profile.guidance_budget < profile.context_size // 8
    if profile.family:
        assert any(p.name == profile.family for p in PROFILES), f"family {profile.family} lacks its own profile"


def test_profile_names_are_unique_and_table_is_immutable() -> None:
    names = [p.name for p in PROFILES]
    assert len(names) == len(set(names))
    assert isinstance(PROFILES, tuple)
    with pytest.raises(ValidationError):
        PROFILES[0].context_size = 1  # type: ignore[misc]


# --- effective values -------------------------------------------------------------------------------


def test_effective_defaults_come_from_the_profile() -> None:
    eff = effective(_settings(), "qwen3.5:9b")
    assert eff.profile == "qwen3.5:9b"
    assert (eff.context_size, eff.thinking_budget, eff.guidance_budget, eff.temperature) == (32768, 2048, 500, 0.3)
    assert eff.max_output_tokens == 8192
    assert eff.text_tools is False
    assert eff.max_corrections == 2


def test_user_settings_override_profile_values() -> None:
    eff = effective(
        _settings(temperature=0.7, context_size=65536, thinking_budget=0, guidance_budget=100, max_output_tokens=4000),
        "qwen3.5:9b",
    )
    assert (eff.temperature, eff.context_size, eff.thinking_budget, eff.guidance_budget) == (0.7, 65536, 0, 100)
    assert eff.max_output_tokens == 4000


def test_max_corrections_override_only_when_given() -> None:
    assert effective(_settings(), "gemma3:1b").max_corrections == 3  # the 1B class allows one more
    assert effective(_settings(max_corrections=2), "gemma3:1b").max_corrections == 2
    assert effective(_settings(max_corrections=5), "gemma3:1b").max_corrections == 5


def test_server_context_caps_only_when_smaller() -> None:
    capped = effective(_settings(), "qwen3.5:9b", server_context=8192)
    assert capped.context_size == 8192
    # The output cap and the thinking budget shrink with the window instead of swallowing it.
    assert capped.max_output_tokens == 2048
    assert capped.thinking_budget == 1024
    assert effective(_settings(), "qwen3.5:9b", server_context=131072).context_size == 32768
    # The server's window also beats a user asking for more than it has.
    assert effective(_settings(context_size=65536), "qwen3.5:9b", server_context=16384).context_size == 16384


def test_max_output_never_exceeds_half_the_window() -> None:
    eff = effective(_settings(max_output_tokens=30000), "qwen3.5:9b", server_context=4096)
    assert eff.max_output_tokens == 2048


def test_lowered_context_scales_the_output_cap() -> None:
    eff = effective(_settings(context_size=4096), "qwen3.5:9b")
    assert (eff.context_size, eff.max_output_tokens, eff.thinking_budget) == (4096, 1024, 512)


@pytest.mark.parametrize(
    ("model", "setting", "native", "expected"),
    [
        ("qwen3.5:9b", "auto", None, False),
        ("qwen3.5:9b", "auto", True, False),
        ("qwen3.5:9b", "auto", False, True),  # the server cannot do native tools
        ("gemma4:e4b", "auto", None, True),  # the profile asks for text tools
        ("gemma4:e4b", "auto", True, True),
        ("gemma4:e4b", "off", None, False),  # the user's explicit choice wins over everything
        ("qwen3.5:9b", "off", False, False),
        ("qwen3.5:9b", "on", True, True),
    ],
)
def test_text_tools_rules(model: str, setting: str, native: bool | None, expected: bool) -> None:
    assert effective(_settings(text_tools=setting), model, native_tools=native).text_tools is expected


# --- upstream's later profiles, backend-tied profiles, benchmark overrides ------------------------------


def test_qwen36_profiles_follow_the_later_original() -> None:
    # Upstream's 32768 / 4096 / 2048 / 0.3 = context / max_tokens (our output cap) / thinking / temperature.
    for model in ("qwen3.6-35b-a3b", "qwen3.6:35b-a3b", "qwen3.6-27b", "Qwen3.6-27B-Q4_K_M.gguf", "qwen3.6"):
        eff = effective(_settings(), model)
        assert (eff.context_size, eff.max_output_tokens, eff.thinking_budget, eff.temperature) == (
            32768, 4096, 2048, 0.3), model
    assert match_profile("Qwen3.6-27B-Q4_K_M.gguf").name == "qwen3.6-27b"


def test_llamacpp_profile_applies_only_to_a_model_served_by_llamacpp() -> None:
    assert match_profile("qwen3.5:9b").name == "qwen3.5:9b"
    assert match_profile("Qwen3.5-9B-Q4_K_M.gguf").name == "qwen3.5:9b"  # backend unknown: the general one
    assert match_profile("Qwen3.5-9B-Q4_K_M.gguf", "openai").name == "llamacpp/qwen3.5-9b"
    assert match_profile("qwen3.5:9b", "ollama").name == "qwen3.5:9b"
    assert match_profile("llamacpp/qwen3.5-9b").name == "llamacpp/qwen3.5-9b"  # the prefix names the backend
    assert match_profile("ollama/qwen3.5:9b").name == "qwen3.5:9b"
    # Never picked by family or size matching for other backends.
    assert match_profile("qwen3.5:27b").name == "qwen3.5:9b"
    on_llama = effective(_settings(), "qwen3.5-9b", backend="openai")
    assert on_llama.profile == "llamacpp/qwen3.5-9b"
    assert (on_llama.thinking_budget, on_llama.max_output_tokens) == (4096, 8192)
    # An explicit backend setting counts as the serving backend when none is passed.
    assert effective(_settings(backend="openai"), "qwen3.5-9b").profile == "llamacpp/qwen3.5-9b"
    assert effective(_settings(backend="ollama"), "qwen3.5-9b").profile == "qwen3.5:9b"


def test_corrections_keep_ours_but_the_polyglot_benchmark_restores_the_papers() -> None:
    assert match_profile("qwen3.5:9b").max_corrections == 2
    assert benchmark_overrides("qwen3.5:9b", "polyglot") == {"max_corrections": 1}
    assert benchmark_overrides("gemma4:e4b", "Polyglot") == {"max_corrections": 1}
    assert benchmark_overrides("phi4-mini", "polyglot") == {}  # the original allowed 2 there too
    assert benchmark_overrides("qwen3.5:9b", "nonexistent") == {}
    # Applied as load_settings overrides, the user's own explicit value still wins over them.
    settings = _settings(**benchmark_overrides("qwen3.5:9b", "polyglot"))
    assert effective(settings, "qwen3.5:9b").max_corrections == 1
    settings = _settings(**{**benchmark_overrides("qwen3.5:9b", "polyglot"), "max_corrections": 3})
    assert effective(settings, "qwen3.5:9b").max_corrections == 3


def test_qwen36_benchmark_overrides() -> None:
    assert benchmark_overrides("qwen3.6-35b-a3b", "terminal-bench") == {
        "thinking_budget": 3000, "temperature": 0.2, "max_turns": 40}
    gaia = benchmark_overrides("qwen3.6-27b", "GAIA")
    assert gaia == {"thinking_budget": 2000, "temperature": 0.4, "max_turns": 40, "context_size": 65536}
    eff = effective(_settings(**gaia), "qwen3.6-27b")
    assert (eff.context_size, eff.thinking_budget, eff.temperature) == (65536, 2000, 0.4)
    assert _settings(**gaia).max_turns == 40


def test_every_benchmark_override_is_a_valid_setting() -> None:
    for profile in PROFILES:
        for name, override in profile.benchmarks.items():
            assert name == name.lower() and "-" not in name
            _settings(**override.model_dump(exclude_none=True))  # raises on an unknown or invalid key
