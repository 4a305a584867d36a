"""JavaScript: jest from one shared node_modules, linked into each copy."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from agent.bench.exercises import Exercise
from agent.bench.runners.base import DEPS_HINT, Dependencies, Runner


class JavaScriptRunner(Runner):
    language = "javascript"
    default_timeout = 120.0
    programs = ("node",)

    def extra_env(self) -> dict[str, str]:
        return {"CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1"}

    @property
    def jest(self) -> Path:
        return self.toolchains.jest_modules / "jest" / "bin" / "jest.js"

    def missing(self) -> str | None:
        reason = super().missing()
        if reason is None and not self.jest.is_file():
            reason = f"jest is not installed in {self.toolchains.jest_modules} ({DEPS_HINT})"
        return reason

    def support_files(self, root: Path) -> list[str]:
        return [n for n in ("package.json", "babel.config.js", ".babelrc") if (root / n).is_file()]

    def intruder(self, rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return name.startswith(("jest.config.", "babel.config.", ".babelrc"))

    def shared_folders(self) -> dict[str, Path]:
        # Babel resolves the exercise's preset from the copy, so the shared modules must appear there.
        return {"node_modules": self.toolchains.jest_modules}

    def version_commands(self) -> list[list[str]]:
        return [["node", "--version"], ["node", str(self.jest), "--version"]]

    def agent_command(self, exercise: Exercise) -> str:
        return "npx jest " + " ".join(shlex.quote(t) for t in exercise.test)

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        # Jest compiles and runs the tests in one process, so its transform cache would be writable to the
        # exercise's own code: a fresh one per grading, in the scratch folder, never shared.
        cache = scratch / "jest-cache"
        shutil.rmtree(cache, ignore_errors=True)
        return [("test", ["node", str(self.jest), "--ci", "--runInBand", "--watchman=false", "--cacheDirectory",
                          str(cache), "--rootDir", str(root), "--runTestsByPath", *exercise.test])]
