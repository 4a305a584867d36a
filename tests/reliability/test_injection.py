"""Prompt injection from workspace files, obeyed by the model (tests/reliability/scenarios_injection.py)."""

from __future__ import annotations

import pytest

from tests.reliability import scenarios_injection
from tests.reliability.harness import Scenario, assert_clean, pytest_params


@pytest.mark.parametrize(("scenario", "seed"), pytest_params(scenarios_injection.SCENARIOS))
async def test_injection(scenario: Scenario, seed: int) -> None:
    await assert_clean(scenario, seed)
