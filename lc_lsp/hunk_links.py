"""Which hunks need which: a hunk that uses a name another hunk defines (an import, a helper function,
a constant) breaks when it is accepted without that one. The review warns before such a selection is
applied.

Nearly language-blind on purpose: a hunk defines the names its new lines import (`import`, `from`,
`use`, `#include` lines), declare (`def`, `class`, `function`, `fn`, `func`, `const`, `let`, `var`,
`struct`, …) or assign at the start of a line, when its file did not define them before; another hunk
needs such a name when its own new lines use it and its own file does not define it either. That finds
`import itertools` / `itertools.permutations`, a new helper and its callers, across files too, in every
language the agent writes, at the price of a rare extra warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lc_lsp.review import Hunk

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMPORT = re.compile(r"^\s*(?:import|from|use|using|require|#\s*include)\b(.*)")
_DECLARE = re.compile(
    r"^\s*(?:(?:export|pub|public|private|protected|static|async|default|final|abstract)\s+)*"
    r"(?:def|class|function|func|fn|struct|enum|interface|trait|type|const|let|var|val|mod|module)\s+"
    r"(?:\([^)]*\)\s*)?([A-Za-z_]\w*)"
)
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?::[^=]*)?:?=(?!=)")
# Shorter names are too often loop variables and parameters to say anything.
_MIN_NAME = 3


@dataclass(frozen=True)
class Need:
    """`hunk` uses `names`, which the hunk `on` introduces."""

    hunk: str
    on: str
    names: tuple[str, ...]


def _names(lines: Sequence[str]) -> set[str]:
    return {name for line in lines for name in _NAME.findall(line) if len(name) >= _MIN_NAME}


def _defined(lines: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for line in lines:
        if (imported := _IMPORT.match(line)) is not None:
            found |= _names([imported.group(1)])
        elif (declared := _DECLARE.match(line) or _ASSIGN.match(line)) is not None:
            found |= _names([declared.group(1)])
    return found


def needs(hunks: Sequence[Hunk], file_names: Mapping[str, set[str]]) -> list[Need]:
    """Every (hunk, hunk it needs) pair among `hunks`. `file_names` maps a path to the names its
    current text defines (`defined_in`); a name defined there already is nobody's new definition."""
    defines = {h.id: _defined(h.new_lines) - file_names.get(h.path, set()) for h in hunks}
    found: list[Need] = []
    for hunk in hunks:
        # A name its own file already has, or that it defines itself, is not borrowed from another hunk.
        used = _names(hunk.new_lines) - file_names.get(hunk.path, set()) - defines[hunk.id]
        for other in hunks:
            shared = defines[other.id] & used
            if other.id != hunk.id and shared:
                found.append(Need(hunk.id, other.id, tuple(sorted(shared))))
    return found


def defined_in(text: str) -> set[str]:
    """The names a text imports, declares or assigns: a word in a comment or a docstring does not count
    (a docstring saying "Gregorian calendar" must not hide that `calendar` is not imported)."""
    return _defined(text.splitlines())


def left_out(needs_: Sequence[Need], applied: set[str], labels: Mapping[str, str]) -> list[str]:
    """One sentence per applied hunk that needs a hunk left out of the selection."""
    out: list[str] = []
    for need in needs_:
        if need.hunk in applied and need.on not in applied:
            out.append(
                f"{labels[need.hunk]} uses {', '.join(need.names)}, which {labels[need.on]} adds and the "
                "selection leaves out"
            )
    return out
