"""A hostile model's path escapes (tests/reliability/scenarios_hostile.py), every scenario × seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import Settings
from agent.tools.base import ToolContext
from agent.tools.glob import Glob, GlobInput
from agent.workspace import DiskWorkspace

from tests.reliability import scenarios_hostile
from tests.reliability.harness import Scenario, assert_clean, pytest_params


@pytest.mark.parametrize(("scenario", "seed"), pytest_params(scenarios_hostile.SCENARIOS))
async def test_path_escape(scenario: Scenario, seed: int) -> None:
    await assert_clean(scenario, seed)


@pytest.mark.parametrize("pattern", ["../*", "src/../../outside/*", "~/*", "/etc/*", "..", "**/../../*"])
async def test_glob_refuses_patterns_that_leave_the_folder(pattern: str, tmp_path: Path) -> None:
    """Such a pattern used to answer "No files match", as if the files did not exist."""
    workspace = DiskWorkspace(tmp_path)
    result = await Glob().run(GlobInput(pattern=pattern), ToolContext(workspace=workspace, settings=Settings()))
    assert result.is_error and "only files inside the workspace" in result.content
