"""`little-coder` starts fast: building its parser (all that `--help` needs) imports none of the heavy
modules, and the language server's start never imports the benchmark harness."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "httpx", "tiktoken", "agent.settings", "agent.backend", "agent.session", "agent.profiles",
         "agent.bench.harness", "agent.bench.results", "agent.embedded", "asyncio")


def imported_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_building_the_parser_imports_nothing_heavy() -> None:
    modules = imported_after("from agent.cli import build_parser\nbuild_parser().format_help()")
    assert not [name for name in HEAVY if name in modules]


def test_help_of_every_command_imports_nothing_heavy() -> None:
    code = ("from agent.cli import main\n"
            "for command in ('run', 'probe', 'serve-embedded', 'trust', 'bench'):\n"
            "    try:\n"
            "        main([command, '--help'])\n"
            "    except SystemExit:\n"
            "        pass")
    modules = imported_after(code)
    assert not [name for name in HEAVY if name in modules]


def test_the_language_server_never_imports_the_benchmark_harness() -> None:
    modules = imported_after("import agent.cli\nimport lc_lsp.server")
    assert not [name for name in modules if name == "agent.bench" or name.startswith("agent.bench.")]
