"""Finding exercises in a tree laid out like the public Aider polyglot-benchmark repository:

    <tree>/<language>/exercises/practice/<exercise>/
        .docs/instructions.md            (and introduction.md, instructions.append.md when present)
        .meta/config.json                {"files": {"solution": [...], "test": [...], "example": [...]}}
        <stubs and tests, per language>

Languages run in the paper's order; exercises are sorted by name within a language. An exercise whose
config is missing or names files that do not exist is reported as a problem, not run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Language = Literal["python", "go", "rust", "javascript", "cpp", "java"]
LANGUAGES: tuple[Language, ...] = ("python", "go", "rust", "javascript", "cpp", "java")
TITLES: dict[str, str] = {
    "python": "Python",
    "go": "Go",
    "rust": "Rust",
    "javascript": "JavaScript",
    "cpp": "C++",
    "java": "Java",
}
# The order an agent should read the spec in; only the files that exist are named.
DOC_FILES = ("introduction.md", "instructions.md", "instructions.append.md")


class ExerciseFiles(BaseModel):
    """The `files` table of .meta/config.json (other keys of the config are ignored)."""

    model_config = ConfigDict(extra="ignore")

    solution: list[str] = Field(min_length=1)
    test: list[str] = Field(min_length=1)
    example: list[str] = Field(default_factory=list)


class Exercise(BaseModel):
    model_config = ConfigDict(frozen=True)

    language: Language
    name: str
    path: Path
    solution: tuple[str, ...]
    test: tuple[str, ...]
    example: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()  # exercise-relative, in reading order

    @property
    def key(self) -> str:
        return f"{self.language}/{self.name}"


class Discovery(BaseModel):
    exercises: list[Exercise] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # exercises skipped, and why


def parse_languages(text: str | Sequence[str] | None) -> list[Language]:
    """`"python,go"` or a list, in the paper's order; raises ValueError naming unknown languages."""
    if text is None:
        return list(LANGUAGES)
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    aliases = {"js": "javascript", "c++": "cpp", "py": "python", "golang": "go"}
    wanted = {aliases.get(item, item) for item in items}
    unknown = sorted(wanted - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unknown language(s) {', '.join(unknown)}; known: {', '.join(LANGUAGES)}")
    return [lang for lang in LANGUAGES if lang in wanted]


def load_exercise(language: Language, directory: Path) -> Exercise:
    """One exercise from its directory; raises ValueError with the reason it cannot be used."""
    config_path = directory / ".meta" / "config.json"
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError("no .meta/config.json") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f".meta/config.json is unreadable: {exc}") from exc
    try:
        files = ExerciseFiles.model_validate(raw.get("files") if isinstance(raw, dict) else None)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "files"
        raise ValueError(f".meta/config.json: files.{where}: {first['msg']}") from exc
    for rel in (*files.solution, *files.test):
        if not (directory / rel).is_file():
            raise ValueError(f"{rel} is named in .meta/config.json but does not exist")
    docs = tuple(f".docs/{name}" for name in DOC_FILES if (directory / ".docs" / name).is_file())
    return Exercise(
        language=language,
        name=directory.name,
        path=directory.resolve(),
        solution=tuple(files.solution),
        test=tuple(files.test),
        example=tuple(files.example),
        docs=docs,
    )


def discover(
    tree: Path,
    languages: Sequence[Language] | None = None,
    names: Sequence[str] | None = None,
    limit: int | None = None,
) -> Discovery:
    """Exercises under `tree`. `names` keeps exercises by name (`leap`) or key (`python/leap`);
    `limit` keeps the first N of each language after that filter."""
    tree = Path(tree).expanduser()
    if not tree.is_dir():
        raise ValueError(f"exercise tree {tree} is not a directory")
    wanted = set(names or ())
    found = Discovery()
    matched: set[str] = set()
    for language in languages or LANGUAGES:
        practice = tree / language / "exercises" / "practice"
        if not practice.is_dir():
            continue
        kept = 0
        for directory in sorted(p for p in practice.iterdir() if p.is_dir() and not p.name.startswith(".")):
            key = f"{language}/{directory.name}"
            if wanted and directory.name not in wanted and key not in wanted:
                continue
            matched.update({directory.name, key})
            if limit is not None and kept >= limit:
                break
            try:
                found.exercises.append(load_exercise(language, directory))
            except ValueError as exc:
                found.problems.append(f"{key}: {exc}")
                continue
            kept += 1
    for name in sorted(wanted - matched):
        found.problems.append(f"{name}: no such exercise in {tree}")
    return found
