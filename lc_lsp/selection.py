"""A review selection made real: the proposal narrowed to exactly the hunks the user chose, with the
text they chose for each (their own edit, the agent's version of a conflict, or both), and the session's
last test command re-run on exactly that, in the sandbox, before it reaches the user's files.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from agent.messages import AssistantMessage, Message
from agent.sandbox import containment
from agent.settings import Settings
from agent.workspace import WorkspaceError
from lc_lsp.editor_workspace import BufferSource, EditorWorkspace
from lc_lsp.ranges import split_lines
from lc_lsp.review import DELETED_MEANWHILE, Hunk, Proposal, applied_text
from lc_lsp.review_wire import Choice, SelectionTest, both_text

# Commands that run a test suite, in the languages the agent works in.
_TEST_COMMAND = re.compile(
    r"\b(pytest|py\.test|unittest|tox|nox|go\s+test|cargo\s+(test|nextest)|(npm|yarn|pnpm|bun)\s+(run\s+)?test"
    r"|jest|vitest|mocha|mvn|gradlew?|ctest|make\s+(test|check)|rspec|phpunit|dotnet\s+test|deno\s+test)\b"
)
_PASSED = re.compile(r"(\d+) passed")
_EXCEPTION = re.compile(r"\b[A-Za-z_]*(Error|Exception)\b: .*")
_ERROR_LINE = re.compile(r"\b\w*(Error|Exception)\b:|error(\[\w+\])?:|FAIL|panic|assert", re.IGNORECASE)
_OUTPUT_LINES = 30


def narrowed(proposal: Proposal, choices: Mapping[str, Choice], texts: Mapping[str, str]) -> Proposal | None:
    """`proposal` with only the chosen hunks, each carrying the text chosen for it; None when nothing of
    the file is chosen. Hunks keep their ids, so what lands is read back per hunk as for any edit."""
    picked: list[Hunk] = []
    for hunk in proposal.hunks:
        if choices.get(hunk.id) == "accept":
            picked.append(_with_text(hunk, texts.get(hunk.id)))
    recreate = False
    for conflict in proposal.conflicts:
        choice = choices.get(conflict.id)
        if choice == "agent" or choice == "both":
            default = "".join(conflict.new_lines) if choice == "agent" else both_text(conflict)
            picked.append(_with_text(replace(conflict, reason=""), texts.get(conflict.id, default)))
            recreate = recreate or conflict.reason == DELETED_MEANWHILE
    if not picked:
        return None
    picked.sort(key=lambda h: h.start_line)
    # Hunks of one file never overlap; should a conflict's lines and a change's ever touch, the later is
    # left out (reported as not applied) rather than written over the other.
    kept: list[Hunk] = []
    for hunk in picked:
        if kept and hunk.start_line < kept[-1].end_line:
            continue
        kept.append(hunk)
    result = replace(proposal, hunks=kept, conflicts=[], created=proposal.created or recreate)
    result.proposed_text = applied_text(result, {h.id for h in kept})
    return result


def _with_text(hunk: Hunk, text: str | None) -> Hunk:
    return hunk if text is None else replace(hunk, new_lines=tuple(split_lines(text)))


def last_test_command(history: Sequence[Message]) -> str | None:
    """The last command the agent ran that runs tests."""
    for message in reversed(history):
        if isinstance(message, AssistantMessage):
            for call in reversed(message.tool_calls):
                command = call.arguments.get("command")
                if call.name == "Bash" and isinstance(command, str) and _TEST_COMMAND.search(command):
                    return command.strip()
    return None


def result_summary(passed: bool, output: str) -> str:
    """"6 passed with your selection" / "fails with your selection: NameError: …"."""
    if passed:
        counts = _PASSED.findall(output)
        return f"{counts[-1]} passed with your selection" if counts else "the tests pass with your selection"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    # An exception's own line says most ("NameError: name 'x' is not defined"), without a runner's margin.
    specific = next((found.group(0) for line in lines if (found := _EXCEPTION.search(line)) is not None), None)
    first = specific or next((line for line in lines if _ERROR_LINE.search(line)), None) or (lines[-1] if lines
                                                                                              else "no output")
    return f"fails with your selection: {first[:200]}"


async def run_selection_tests(
    root: Path, buffers: BufferSource, settings: Settings, history: Sequence[Message],
    proposals: Sequence[Proposal], choices: Mapping[str, Choice], texts: Mapping[str, str],
) -> SelectionTest:
    """Re-run the session's last test command on the user's files with exactly the chosen hunks, in the
    sandbox over the workspace: nothing reaches the user's files."""
    command = last_test_command(history)
    if command is None:
        return SelectionTest(command=None, ran=False, passed=None, output="",
                             summary="not tested: no test command ran in this session")
    where = await asyncio.to_thread(containment, settings)
    if where.policy is None:
        why = where.refusal or where.consent or "the sandbox is off"
        return SelectionTest(command=command, ran=False, passed=None, output="",
                             summary=f"not tested: re-running the tests needs the sandbox, and {why}")
    workspace = EditorWorkspace(root, buffers)
    try:
        for proposal in proposals:
            chosen = narrowed(proposal, choices, texts)
            if chosen is None:
                continue
            if chosen.created:
                await workspace.create(proposal.path, chosen.proposed_text)
            else:
                await workspace.replace(proposal.path, chosen.proposed_text)
        result = await workspace.run(command, settings.bash_timeout, where.policy)
    except (WorkspaceError, OSError) as exc:
        return SelectionTest(command=command, ran=False, passed=None, output="",
                             summary=f"not tested: {exc}")
    finally:
        await workspace.aclose()
    output = "\n".join(part for part in (result.stdout, result.stderr) if part)
    tail = "\n".join(output.splitlines()[-_OUTPUT_LINES:])
    if result.timed_out:
        return SelectionTest(command=command, ran=True, passed=False, output=tail,
                             summary=f"fails with your selection: timed out after {settings.bash_timeout:g} s")
    passed = result.exit_code == 0
    return SelectionTest(command=command, ran=True, passed=passed, output=tail,
                         summary=result_summary(passed, output))
