"""Reading results.json back: the paper's per-language table, the overlap of two runs, a chart.

`report(results)` gives two tables per run, in plain text or Markdown: pass rates (pass@1, pass@2 over
graded exercises, mean time and turns for passes and fails) and observables (the share of graded
exercises in which each mechanism fired at least once). `compare(a, b)` lines two runs up exercise by
exercise: passed in both, only in A, only in B, in neither (the paper's overlap figure), per language.
`plot(...)` draws per-language pass@1/pass@2 bars to a PNG with matplotlib, an optional extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agent.bench.exercises import LANGUAGES, TITLES
from agent.bench.results import OBSERVABLES, ExerciseResult, RunResults, Totals

Format = Literal["text", "markdown"]
PLOT_EXTRA = "pip install 'little-coder-lsp[plot]' (matplotlib)"


class ReportError(Exception):
    pass


# --- tables ----------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], fmt: Format) -> str:
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in
                                                                    range(len(headers))) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "  ".join(padded)

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]).rstrip()


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _rows(results: RunResults) -> list[tuple[str, Totals]]:
    results.refresh()
    rows = [(TITLES[lang], results.languages[lang]) for lang in LANGUAGES if lang in results.languages]
    return [*rows, ("Overall", results.overall)]


def pass_table(results: RunResults, fmt: Format = "text") -> str:
    headers = ["Language", "exercises", "graded", "pass@1", "pass@2", "s/pass", "s/fail", "turns/pass",
               "turns/fail", "unavailable"]
    rows = [
        [name, str(t.total), str(t.graded), _pct(t.pass_1, t.graded), _pct(t.pass_1 + t.pass_2, t.graded),
         _num(t.mean_time_pass), _num(t.mean_time_fail), _num(t.mean_turns_pass), _num(t.mean_turns_fail),
         str(t.unavailable)]
        for name, t in _rows(results)
    ]
    return _table(headers, rows, fmt)


def observables_table(results: RunResults, fmt: Format = "text") -> str:
    headers = ["Language", *OBSERVABLES.values()]
    rows = [[name, *(_pct(t.observed.get(key, 0), t.graded) for key in OBSERVABLES)] for name, t in _rows(results)]
    return _table(headers, rows, fmt)


# The paper's conditional analyses: pass rate where a mechanism fired at least once vs where it did not.
CONDITIONS: dict[str, str] = {"thinking_budget": "thinking budget", "write_guard": "write guard"}


def conditional_table(results: RunResults, fmt: Format = "text") -> str:
    """Per mechanism: graded exercises where it fired / did not, and the pass@1 and pass@2 of each group."""
    graded = [e for e in results.exercises if e.graded]
    headers = ["Mechanism", "fired", "pass@1", "pass@2", "not fired", "pass@1", "pass@2"]
    rows = []
    for key, label in CONDITIONS.items():
        fired = [e for e in graded if e.observed()[key]]
        quiet = [e for e in graded if not e.observed()[key]]
        cells = [label]
        for group in (fired, quiet):
            cells += [str(len(group)), _pct(sum(e.status == "pass_1" for e in group), len(group)),
                      _pct(sum(e.passed for e in group), len(group))]
        rows.append(cells)
    return _table(headers, rows, fmt)


def _provenance(results: RunResults) -> str:
    return (f"protocol {results.protocol or 'unrecorded'}, "
            f"prompt {results.prompt_version or 'unrecorded'}, notes {results.prompt_layout or 'unrecorded'}")


def report(results: RunResults, fmt: Format = "text", title: str = "") -> str:
    head = title or f"{results.model or 'unknown model'} ({results.backend or '?'}), started {results.started_at}"
    state = "" if results.finished else " - incomplete run"
    state += f" [{_provenance(results)}]"
    conditional = "Pass rate by whether a mechanism fired (graded exercises)"
    parts: list[str]
    if fmt == "markdown":
        parts = [f"## {head}{state}", "### Pass rates", pass_table(results, fmt),
                 "### Observables (% of graded exercises)", observables_table(results, fmt),
                 f"### {conditional}", conditional_table(results, fmt)]
    else:
        parts = [f"{head}{state}", "", "Pass rates", pass_table(results, fmt), "",
                 "Observables (% of graded exercises)", observables_table(results, fmt), "",
                 conditional, conditional_table(results, fmt)]
    if results.problems:
        listed = [f"- {p}" for p in results.problems]
        parts += (["### Problems", *listed] if fmt == "markdown" else ["", "Problems", *listed])
    failing = [e for e in results.exercises if e.graded and not e.passed]
    if failing:
        lines = [f"- {e.key}: {_first_line(e.error)}" for e in failing]
        parts += (["### Failed exercises", *lines] if fmt == "markdown" else ["", "Failed exercises", *lines])
    unavailable = [e for e in results.exercises if e.status == "unavailable"]
    if unavailable:
        lines = [f"- {e.key}: {_first_line(e.unavailable_reason or '')}" for e in unavailable]
        parts += (["### Unavailable here", *lines] if fmt == "markdown" else ["", "Unavailable here", *lines])
    if results.grading is not None:
        lines = [f"- {line}" for line in results.grading.lines()]
        parts += (["### Graded with", *lines] if fmt == "markdown" else ["", "Graded with", *lines])
    return "\n\n".join(parts) + "\n" if fmt == "markdown" else "\n".join(parts) + "\n"


def _first_line(text: str) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= 100 else line[:97] + "..."


# --- two runs side by side -------------------------------------------------------------------------


class Overlap(BaseModel):
    both: list[str] = Field(default_factory=list)  # exercise keys passed by both runs (pass@2)
    only_a: list[str] = Field(default_factory=list)
    only_b: list[str] = Field(default_factory=list)
    neither: list[str] = Field(default_factory=list)
    pass_rate_a: float = 0.0
    pass_rate_b: float = 0.0


class Comparison(BaseModel):
    label_a: str
    label_b: str
    languages: dict[str, Overlap] = Field(default_factory=dict)
    overall: Overlap = Field(default_factory=Overlap)
    not_in_both: list[str] = Field(default_factory=list)  # graded in one run only: left out of the overlap
    warnings: list[str] = Field(default_factory=list)  # why the two runs may not be comparable


def compare(a: RunResults, b: RunResults, label_a: str = "A", label_b: str = "B") -> Comparison:
    """Exercises graded in both runs, split by which run passed them (on either attempt)."""
    graded_a = {e.key: e for e in a.exercises if e.graded}
    graded_b = {e.key: e for e in b.exercises if e.graded}
    out = Comparison(label_a=label_a, label_b=label_b,
                     not_in_both=sorted(set(graded_a) ^ set(graded_b)))
    out.warnings = comparability_warnings(a, b, label_a, label_b)
    shared = [k for k in (e.key for e in a.exercises) if k in graded_a and k in graded_b]
    for language in LANGUAGES:
        keys = [k for k in shared if graded_a[k].language == language]
        if keys:
            out.languages[language] = _overlap(keys, graded_a, graded_b)
    out.overall = _overlap(shared, graded_a, graded_b)
    return out


def comparability_warnings(a: RunResults, b: RunResults, label_a: str = "A", label_b: str = "B") -> list[str]:
    """What differs between two runs in how they were made: the protocol, the prompt version, the layout."""
    out = []
    for what, x, y in (("protocol", a.protocol, b.protocol), ("prompt version", a.prompt_version, b.prompt_version),
                       ("prompt layout", a.prompt_layout, b.prompt_layout)):
        if x != y:
            out.append(f"WARNING: the runs differ in {what}: {label_a} {x or 'unrecorded'}, "
                       f"{label_b} {y or 'unrecorded'}; their pass rates are not directly comparable")
    return out


def _overlap(keys: list[str], a: dict[str, ExerciseResult], b: dict[str, ExerciseResult]) -> Overlap:
    result = Overlap()
    for key in keys:
        in_a, in_b = a[key].passed, b[key].passed
        bucket = result.both if in_a and in_b else result.only_a if in_a else result.only_b if in_b else result.neither
        bucket.append(key)
    if keys:
        result.pass_rate_a = round(100 * (len(result.both) + len(result.only_a)) / len(keys), 2)
        result.pass_rate_b = round(100 * (len(result.both) + len(result.only_b)) / len(keys), 2)
    return result


def comparison_report(c: Comparison, fmt: Format = "text") -> str:
    a, b = c.label_a, c.label_b
    headers = ["Language", "shared", f"pass@2 {a}", f"pass@2 {b}", "delta", "both", f"only {a}", f"only {b}",
               "neither"]
    named = [(TITLES[lang], o) for lang, o in c.languages.items()] + [("Overall", c.overall)]
    rows = [
        [name, str(len(o.both) + len(o.only_a) + len(o.only_b) + len(o.neither)), f"{o.pass_rate_a:.1f}%",
         f"{o.pass_rate_b:.1f}%", f"{o.pass_rate_b - o.pass_rate_a:+.1f}", str(len(o.both)), str(len(o.only_a)),
         str(len(o.only_b)), str(len(o.neither))]
        for name, o in named
    ]
    lists = [(f"Passed only by {a}", c.overall.only_a), (f"Passed only by {b}", c.overall.only_b),
             ("Graded in one run only (left out)", c.not_in_both)]
    if fmt == "markdown":
        parts = [f"## {a} vs {b}", *(f"> **{w}**" for w in c.warnings), _table(headers, rows, fmt)]
        parts += [f"### {title}\n" + "\n".join(f"- {k}" for k in keys) for title, keys in lists if keys]
        return "\n\n".join(parts) + "\n"
    parts = [f"{a} vs {b}", *(f"!!! {w}" for w in c.warnings), _table(headers, rows, fmt)]
    parts += [f"\n{title}:\n" + "\n".join(f"  {k}" for k in keys) for title, keys in lists if keys]
    return "\n".join(parts) + "\n"


# --- chart -----------------------------------------------------------------------------------------


def plot(runs: Sequence[tuple[str, RunResults]], path: Path) -> None:
    """Per-language pass@1 (solid) and pass@2 (light) bars for each run, written as a PNG."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ReportError(f"the PNG chart needs matplotlib: {PLOT_EXTRA}") from exc
    for _, results in runs:
        results.refresh()
    languages = [lang for lang in LANGUAGES if any(lang in r.languages for _, r in runs)]
    if not languages:
        raise ReportError("no graded exercise to chart")
    # The object API (not pyplot) keeps no global figure state.
    figure = Figure(figsize=(1.4 + 1.3 * len(languages) * max(1, len(runs)) / 2, 4.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(runs)
    colours = ["#3366aa", "#cc6633", "#339966", "#996699"]
    for index, (label, results) in enumerate(runs):
        xs = [i - 0.4 + width * (index + 0.5) for i in range(len(languages))]
        totals = [results.languages.get(lang, Totals()) for lang in languages]
        colour = colours[index % len(colours)]
        axes.bar(xs, [t.pass_rate_2 for t in totals], width, color=colour, alpha=0.35, label=f"{label} pass@2")
        axes.bar(xs, [t.pass_rate_1 for t in totals], width, color=colour, label=f"{label} pass@1")
    axes.set_xticks(range(len(languages)), [TITLES[lang] for lang in languages])
    axes.set_ylim(0, 100)
    axes.set_ylabel("% of graded exercises")
    axes.set_title("Pass rate per language", fontsize="medium")
    # Below the axes: bars reach 100% and a legend inside would cover them.
    axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2 * len(runs),
                frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(str(path), format="png")
