"""Live progress in real Neovim 0.11, for a user who configured no statusline: the statusline text and its
default placement (headless), and in the TUI (tmux) while the scripted model thinks at a steady pace, a
status line reading "LC turn 1/20 · thinking N/2048" with N rising, next to Neovim's usual file name and
ruler. The screen is kept under test-artifacts/neovim/."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.editors.neovim.test_neovim import (
    ARTIFACTS,
    HERE,
    MODEL,
    PLUGIN,
    Tmux,
    editor_env,
    nvim,
    run_lua,
    settings_for,
    tmux,
    workspace,
)
from tests.fakes.model_server import Reply, ScriptedModelServer

__all__ = ["nvim", "tmux", "workspace"]  # the fixtures, imported for pytest to find here

BUDGET = 2048
THINKING = re.compile(rf"leap\.py .*LC turn 1/20 · thinking (\d+)/{BUDGET}")
REASONING = " ".join(f"Is {1896 + 4 * i} a leap year? Divisible by four, so yes unless a century." for i in range(80))


def test_statusline_text_and_default(nvim: Path, tmp_path: Path) -> None:
    output = run_lua(nvim, "test_statusline_units.lua", editor_env(tmp_path), tmp_path, timeout=30)
    assert output.startswith("OK statusline"), output


@pytest.mark.slow
def test_statusline_counts_thinking_without_configuration(nvim: Path, tmux: str, tmp_path: Path,
                                                          workspace: Path) -> None:
    with ScriptedModelServer("ollama", [Reply(reasoning=REASONING, tokens_per_second=60)], model=MODEL) as model:
        env = editor_env(tmp_path, LC_TEST_SETTINGS=json.dumps(settings_for(model.base_url, thinkingBudget=BUDGET)),
                         LANG="C.UTF-8", TERM="xterm-256color")
        term = Tmux(tmux, f"little-coder-{os.getpid()}-{tmp_path.name}", env)
        # tui_init.lua sets the plugin up and starts `:LittleCoder implement`; the statusline it sets is
        # taken away again, so this user has Neovim's default (empty) 'statusline'.
        command = (f"cd {workspace} && exec {nvim} --clean --cmd 'set rtp+={PLUGIN}' "
                   f"-c 'luafile {HERE / 'tui_init.lua'}' -c 'set statusline=' leap.py")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        term("-u", "new-session", "-d", "-s", "lc", "-x", "120", "-y", "24", command)
        try:
            first = term.wait_for(lambda s: THINKING.search(s) is not None, "thinking in the statusline")
            count = int(THINKING.search(first).group(1))  # type: ignore[union-attr]
            later = term.wait_for(lambda s: (m := THINKING.search(s)) is not None and int(m.group(1)) > count + 20,
                                  "the count rising")
            (ARTIFACTS / "statusline_thinking.txt").write_text(later, encoding="utf-8")
            status_row = next(line for line in later.splitlines() if THINKING.search(line))
            assert re.search(r"\d+,\d+\s+(All|Top|Bot|\d+%)\s*$", status_row), status_row  # the ruler is kept
            term.keys(":qa!", "Enter")
        finally:
            subprocess.run([tmux, "-L", term.socket, "kill-server"], env=env, capture_output=True, timeout=30)
