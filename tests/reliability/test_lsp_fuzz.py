"""A seeded fuzz of the language server's entry points (scenarios_lsp_fuzz.py): QUICK_MESSAGES random but
well-framed JSON-RPC messages per seed here; LC_LSP_FUZZ_MESSAGES and LC_RELIABILITY_SEEDS run it longer."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Scenario, assert_clean, pytest_params
from tests.reliability.scenarios_lsp_fuzz import SCENARIOS


@pytest.mark.parametrize(("scenario", "seed"), pytest_params(SCENARIOS))
async def test_lsp_fuzz(scenario: Scenario, seed: int) -> None:
    await assert_clean(scenario, seed)
