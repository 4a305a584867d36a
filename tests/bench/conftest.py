"""Fixtures of the benchmark-harness tests: the toolchain check, and the exercise tree they run on."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from agent.bench.runners import Toolchains, make_runners

HERE = Path(__file__).resolve().parent
EXERCISES = HERE / "exercises"
REQUIRE_VARIABLE = "LITTLE_CODER_REQUIRE_TOOLCHAINS"

# The exercises' own test files (digit_sum_test.py ...) are for the harness to grade, not for this pytest.
collect_ignore = ["exercises"]


@pytest.fixture(scope="session")
def missing_toolchains() -> dict[str, str]:
    """Languages whose toolchain is missing here, with the reason. With LITTLE_CODER_REQUIRE_TOOLCHAINS=1
    (set by `make test`, after scripts/deps/toolchains.sh) a missing toolchain fails the tests at once;
    otherwise those languages are expected to come out `unavailable`, and a warning names them."""
    runners = make_runners(Toolchains.default())
    missing = {language: reason for language, runner in runners.items() if (reason := runner.missing()) is not None}
    if missing and os.environ.get(REQUIRE_VARIABLE) == "1":
        listed = "; ".join(f"{language}: {reason}" for language, reason in missing.items())
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but toolchains are missing ({listed}): run scripts/deps/toolchains.sh",
                    pytrace=False)
    if missing:
        warnings.warn(f"graded as unavailable here (no toolchain): {', '.join(sorted(missing))}", stacklevel=1)
    return missing
