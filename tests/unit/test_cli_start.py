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


def _entry_with(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """The installed command's entry() around a stand-in main() whose body is given."""
    code = ("import atexit, sys, threading, time\nimport agent.cli as cli\n"
            f"def main():\n{body}\ncli.main = main\ncli.entry()\n")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_entry_skips_teardown_but_runs_exit_handlers_and_keeps_the_exit_code(tmp_path: Path) -> None:
    # Without its exit handlers a run could leave temporary folders or unflushed logs behind.
    done = _entry_with(tmp_path, "    atexit.register(lambda: open('handler-ran', 'w').close())\n"
                                 "    print('answer', end='')\n    return 3")
    assert (done.returncode, done.stdout) == (3, "answer")  # stdout flushed though it had no newline
    assert (tmp_path / "handler-ran").exists()


def test_entry_waits_for_a_thread_still_working(tmp_path: Path) -> None:
    done = _entry_with(tmp_path, "    def work():\n        time.sleep(0.3)\n        open('work-done', 'w').close()\n"
                                 "    threading.Thread(target=work).start()\n    return 0")
    assert done.returncode == 0 and (tmp_path / "work-done").exists()
