"""Python: pytest on the exercise's test files, with no configuration the agent could add."""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

from agent.bench.exercises import Exercise
from agent.bench.runners.base import Dependencies, Runner


class PythonRunner(Runner):
    language = "python"
    default_timeout = 60.0
    programs = ()

    def extra_env(self) -> dict[str, str]:
        # Plugins installed beside the harness (asyncio, hypothesis...) have no business in an exercise.
        return {"PYTHONDONTWRITEBYTECODE": "1", "PY_COLORS": "0", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

    def missing(self) -> str | None:
        python = self.toolchains.python
        if not Path(python).is_file():
            return f"python interpreter {python} not found"
        if python == sys.executable and importlib.util.find_spec("pytest") is None:
            return f"pytest is not installed for {python} (pip install pytest)"
        return None

    def version_commands(self) -> list[list[str]]:
        return [[self.toolchains.python, "--version"], [self.toolchains.python, "-m", "pytest", "--version"]]

    def agent_command(self, exercise: Exercise) -> str:
        return "python -m pytest -q " + " ".join(shlex.quote(t) for t in exercise.test)

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        # -P keeps the copy off sys.path for pytest's own import (no shadowing pytest.py or
        # sitecustomize.py); --noconftest and our empty ini ignore any configuration the agent added.
        ini = scratch / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        return [("test", [self.toolchains.python, "-P", "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
                          "--noconftest", "-c", str(ini), "--rootdir", str(root), *exercise.test])]
