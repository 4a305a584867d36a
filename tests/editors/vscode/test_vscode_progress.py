"""Live progress in real VS Code (code-server), with no configuration beyond the model server: while the
scripted model thinks at a steady pace, the status bar reads "little-coder: turn 1/20 · thinking N/2048"
with N rising, and the progress notification carries the same line. Then two mechanisms fire back to back
(the write guard, a repaired call): the status bar flashes both, one after the other. The screenshots go
to test-artifacts/vscode/progress-*.png.

The code-server harness (fixtures, workspace) is test_vscode_e2e.py's; the few steps of this scenario
are a driver of their own over ui/workbench.js.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.editors.vscode.test_vscode_e2e import (
    ARTIFACTS,
    HERE,
    MODEL,
    STUB,
    CodeServer,
    code_server,
    extension_errors,
    make_workspace,
    model_settings,
    tools,
)
from tests.fakes.model_server import Call, Reply, ScriptedModelServer

__all__ = ["code_server", "tools"]  # the fixtures, imported for pytest to find here

pytestmark = pytest.mark.slow

BUDGET = 2048
FENCED_READ = 'I will read it.\n```tool\n{"name": "Read", "arguments": {"file_path": "leap.py"}}\n```'
REASONING = " ".join(f"Is {1896 + 4 * i} a leap year? Divisible by four, so yes unless a century." for i in range(80))
DRIVER = """
'use strict';
const fs = require('fs');
const { Workbench } = require(%(workbench)s);

const THINKING = /little-coder: turn 1\\/\\d+ · thinking (\\d+)\\/%(budget)d/;

async function main() {
  const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const wb = await Workbench.open(config);
  const seen = {};
  try {
    await wb.openFile('leap.py');
    await wb.waitForStatus(/^\\S*\\s*little-coder$/, 60000);
    await wb.quickFixMenu(0);
    await wb.pickAction(/Ask little-coder to implement `is_leap`/);
    seen.first = await wb.waitForStatus(THINKING, 30000);
    const first = Number(THINKING.exec(seen.first)[1]);
    seen.status = await wb.waitFor('the thinking count to rise', async () => {
      const match = THINKING.exec(await wb.statusText());
      return match && Number(match[1]) > first + 20 ? match[0] : undefined;
    }, 20000, 100);
    seen.notification = await wb.waitForNotification(
      /implement `is_leap`: turn 1\\/\\d+ · thinking \\d+\\/%(budget)d/, 10000);
    await wb.shot('01-thinking', 300);
    await wb.runCommand('little-coder: Cancel');
    seen.cancelled = await wb.waitForStatus(/little-coder: cancelled/, 20000);

    // Two mechanisms in quick succession: every flash is shown, in order, then the result.
    await wb.quickFixMenu(0);
    await wb.pickAction(/Ask little-coder to implement `is_leap`/);
    seen.statuses = [];
    await wb.waitFor('the session to finish', async () => {
      const text = await wb.statusText();
      if (text !== seen.statuses[seen.statuses.length - 1]) {
        seen.statuses.push(text);
        if (/repaired/.test(text)) {
          await wb.shot('02-second-flash');
        }
      }
      return /little-coder: finished, no changes/.test(text);
    }, 40000, 100);
    process.stdout.write(`${JSON.stringify({ ok: true, seen, screenshots: wb.shots })}\\n`);
  } catch (error) {
    await wb.shot('failure').catch(() => undefined);
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error && error.stack || error), seen })}\\n`);
  } finally {
    await wb.close();
  }
}

main();
"""


def test_status_bar_and_notification_count_thinking(code_server: CodeServer, tmp_path: Path) -> None:
    script = [
        Reply(reasoning=REASONING, tokens_per_second=60),  # cancelled while it thinks
        Reply(calls=[Call("Write", {"file_path": "leap.py", "content": "def is_leap(year):\n    return True\n"})]),
        Reply(FENCED_READ),
        Reply("It only raises for now."),
    ]
    with ScriptedModelServer("ollama", script, model=MODEL) as model:
        workspace = make_workspace(tmp_path, {"leap.py": STUB},
                                   model_settings(model, **{"littleCoder.thinkingBudget": BUDGET}), venv=True)
        driver = tmp_path / "progress.js"
        driver.write_text(DRIVER % {"workbench": json.dumps(str(HERE / "ui" / "workbench.js")), "budget": BUDGET},
                          encoding="utf-8")
        config = tmp_path / "progress.json"
        config.write_text(json.dumps({"url": code_server.url, "workspace": str(workspace),
                                      "artifacts": str(ARTIFACTS), "prefix": "progress"}), encoding="utf-8")
        before = set(extension_errors(code_server.logs()))
        env = {**os.environ, "NODE_PATH": str(code_server.tools.node_path),
               "XDG_CONFIG_HOME": str(code_server.scratch / "xdg-config"),
               "XDG_CACHE_HOME": str(code_server.scratch / "xdg-cache")}
        result = subprocess.run([code_server.tools.node, str(driver), str(config)], env=env, capture_output=True,
                                text=True, timeout=180)
    (ARTIFACTS / "progress.log").write_text(result.stderr, encoding="utf-8")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the driver printed no result (exit {result.returncode}):\n{result.stderr[-4000:]}"
    outcome = json.loads(lines[-1])
    assert outcome["ok"], f"{outcome['error']}\nseen: {outcome['seen']}\n{result.stderr[-3000:]}"
    seen = outcome["seen"]
    assert re.fullmatch(rf"little-coder: turn 1/20 · thinking \d+/{BUDGET}", seen["status"]), seen
    assert "little-coder: implement `is_leap`" in seen["notification"], seen
    assert seen["cancelled"].endswith("little-coder: cancelled")
    statuses = seen["statuses"]  # each text the status bar showed, in order (codicons are not text)
    expected = ["little-coder: write guard: leap.py", "little-coder: repaired a Read call",
                "little-coder: finished, no changes"]
    shown = [statuses.index(text) if text in statuses else -1 for text in expected]
    assert -1 not in shown and shown == sorted(shown), statuses
    assert all(Path(shot).stat().st_size > 10_000 for shot in outcome["screenshots"])
    assert len(outcome["screenshots"]) == 2
    new_errors = [e for e in extension_errors(code_server.logs()) if e not in before]
    assert not new_errors, "the extension host logged errors from little-coder:\n" + "\n\n".join(new_errors)
