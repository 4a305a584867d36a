"""Cancel at every stage, through the real language server: the scenarios of scenarios_lsp_cancel.py,
one trial per seed, each failing with every problem the harness found."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Scenario, assert_clean, pytest_params
from tests.reliability.scenarios_lsp_cancel import SCENARIOS


@pytest.mark.parametrize(("scenario", "seed"), pytest_params(SCENARIOS))
async def test_lsp_cancel(scenario: Scenario, seed: int) -> None:
    await assert_clean(scenario, seed)
