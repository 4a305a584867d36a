"""The server's pure parts, without a client: delta batching, editor settings, task texts, arguments."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from agent.events import ReasoningDelta, TextDelta, _Event
from agent.settings import SettingsError
from lc_lsp.commands import AskArgs, CancelArgs, ImplementArgs, parse
from lc_lsp.progress import DeltaBatcher, change_summary, tool_target
from lc_lsp.settings import EditorSettings, is_secret_key, section_of, settings_message
from lc_lsp.stubs import find_targets
from lc_lsp.tasks import Problem, ask_task, fix_task, implement_task, implement_title

# --- delta batching --------------------------------------------------------------------------------


async def test_deltas_are_merged_in_order_and_flushed_by_time() -> None:
    sent: list[_Event] = []
    batcher = DeltaBatcher(sent.append, "s1", interval=0.05)
    for piece in ("Hel", "lo", " wor", "ld"):
        batcher.add(TextDelta(session_id="s1", text=piece))
    batcher.add(ReasoningDelta(session_id="s1", text="hmm"))
    batcher.add(TextDelta(session_id="s1", text="!"))
    assert sent == []  # nothing yet: a fast stream must not become one notification per token
    await asyncio.sleep(0.1)
    assert [(type(e).__name__, e.text) for e in sent] == [  # type: ignore[attr-defined]
        ("TextDelta", "Hello world"), ("ReasoningDelta", "hmm"), ("TextDelta", "!")]
    assert all(e.session_id == "s1" for e in sent)


async def test_flush_sends_at_once_and_cancels_the_timer() -> None:
    sent: list[_Event] = []
    batcher = DeltaBatcher(sent.append, "s1", interval=0.05)
    batcher.add(TextDelta(session_id="s1", text="a"))
    batcher.flush()
    assert len(sent) == 1
    await asyncio.sleep(0.1)
    assert len(sent) == 1
    batcher.flush()
    assert len(sent) == 1


def test_progress_texts() -> None:
    assert change_summary(1, 4, 0) == "1 file, +4 −0"
    assert change_summary(3, 40, 5) == "3 files, +40 −5"
    assert tool_target({"file_path": "src/leap.py", "content": "..."}) == "src/leap.py"
    assert tool_target({"command": "pytest  -q\n  tests"}) == "pytest -q tests"
    assert tool_target({"pattern": "x" * 100}).endswith("…") and len(tool_target({"pattern": "x" * 100})) == 60
    assert tool_target({}) == ""


# --- editor settings -------------------------------------------------------------------------------


def test_section_of_nested_flat_and_nothing() -> None:
    assert section_of({"littleCoder": {"maxTurns": 5}, "other": 1}) == {"maxTurns": 5}
    assert section_of({"maxTurns": 5}) == {"maxTurns": 5}
    assert section_of(None) == {} and section_of(["x"]) == {}


def test_pulled_settings_win_and_nulls_are_dropped(tmp_path: Path) -> None:
    settings = EditorSettings()
    settings.set_initialization_options({"littleCoder": {"maxTurns": 5, "backend": "ollama"}})
    settings.set_pulled({"maxTurns": 9, "model": None})
    resolved = settings.resolve(tmp_path).settings
    assert (resolved.max_turns, resolved.backend, resolved.model) == (9, "ollama", None)


def test_problem_is_reported_once_per_distinct_problem(tmp_path: Path) -> None:
    settings = EditorSettings()
    settings.set_pulled({"review": "sometimes"})
    first = settings.problem(tmp_path)
    assert first is not None and "invalid setting 'review'" in first
    assert settings.problem(tmp_path) is None
    settings.set_pulled({"review": "each"})
    assert settings.problem(tmp_path) is None
    settings.set_pulled({"review": "sometimes"})
    assert settings.problem(tmp_path) == first


def test_secret_keys() -> None:
    for key in ("apiKey", "api_key", "apikey", "authToken", "token", "clientSecret", "password", "openai-api-key"):
        assert is_secret_key(key), key
    for key in ("apiKeyEnv", "api_key_env", "model", "maxOutputTokens", "max_output_tokens", "keepAlive"):
        assert not is_secret_key(key), key


def test_settings_message_names_the_field_and_where_to_fix_it() -> None:
    message = settings_message(SettingsError("max_turns", "must be positive", "environment"))
    assert message == ("little-coder: invalid setting 'maxTurns': must be positive — "
                       "fix the LITTLE_CODER_MAX_TURNS environment variable")
    message = settings_message(SettingsError("thinking_budget", "bad", "/w/.little-coder.toml"))
    assert message.endswith("— fix it in /w/.little-coder.toml")


# --- command arguments -----------------------------------------------------------------------------


def test_parse_accepts_nothing_for_optional_arguments_and_names_fields() -> None:
    assert parse("littleCoder.cancel", CancelArgs, [{"all": True}]).all
    with pytest.raises(JsonRpcInvalidParams) as caught:
        parse("littleCoder.ask", AskArgs, [])
    assert caught.value.message == "littleCoder.ask: invalid argument 'instruction': Field required"
    args = parse("littleCoder.implement", ImplementArgs,
                 [{"uri": "file:///a.py", "range": {"start": {"line": 1, "character": 2},
                                                     "end": {"line": 3, "character": 0}}, "wait": True}])
    assert args.range is not None and args.range.lsp().start.character == 2 and args.wait


# --- task texts ------------------------------------------------------------------------------------

SOURCE = '''def leap(year: int) -> bool:
    """Whether `year` is a leap year."""
    raise NotImplementedError


def double(x):
    # TODO: handle negative numbers
    return x * 2
'''


def test_stub_task_names_file_lines_symbol_and_code() -> None:
    (target,) = find_targets(SOURCE, "python", "src/leap.py", 2, 4)
    task = implement_task(target, "src/leap.py", SOURCE)
    assert task.startswith("Implement `leap` in src/leap.py (lines 1–3). Its body is only a placeholder "
                           "(raise NotImplementedError).")
    assert "```python\ndef leap(year: int) -> bool:\n" in task and "    raise NotImplementedError\n```" in task
    assert implement_title(target) == "implement `leap`"


def test_todo_selection_fix_and_ask_tasks() -> None:
    (todo,) = find_targets(SOURCE, "python", "m.py", 6, 8)
    task = implement_task(todo, "m.py", SOURCE, instruction="keep it pure")
    assert "Do what this comment in m.py asks (line 7 inside `double`): # TODO: handle negative numbers" in task
    assert task.endswith("no tool call.") and "The user adds: keep it pure" in task

    selection = find_targets(SOURCE, "python", "m.py", 7, 4, (7, 16))[0]
    assert selection.kind == "selection"
    task = implement_task(selection, "m.py", SOURCE)
    assert task.startswith("Implement the code selected in m.py (line 8 inside `double`):")
    assert implement_title(selection) == "implement the selection"

    fix = fix_task(Problem("name 'y' is not defined", 7, 7, "pyflakes", "F821"), "m.py", SOURCE, "python")
    assert fix.startswith("Fix this problem reported by pyflakes in m.py (line 8) [F821]: name 'y' is not defined")
    assert "    return x * 2" in fix

    assert ask_task("Add type hints").startswith("Add type hints\n\nWhen the change is complete")
