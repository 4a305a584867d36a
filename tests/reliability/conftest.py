"""Prerequisites of the reliability suite, checked once: it fails with the reason instead of skipping."""

from __future__ import annotations

import os
import shutil

import pytest

# Programs the scenarios' shell commands use (coreutils, util-linux's setsid) and the interpreter
# they start; /proc is how leaked processes are found.
PROGRAMS = {"sh": "dash", "sleep": "coreutils", "touch": "coreutils", "env": "coreutils", "setsid": "util-linux",
            "python3": "python3"}


@pytest.fixture(scope="session", autouse=True)
def _reliability_prerequisites() -> None:
    if not os.path.isdir("/proc/self"):
        pytest.fail("the reliability suite needs /proc (Linux): leaked processes are found there")
    missing = [f"{name} (apt-get install {package})" for name, package in PROGRAMS.items() if not shutil.which(name)]
    if missing:
        pytest.fail("the reliability suite needs these programs on PATH: " + ", ".join(missing))
