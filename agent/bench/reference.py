"""Where an exercise's reference solution goes in a working copy, for `bench verify`.

`.meta/config.json` lists the reference files (`files.example`) apart from the solution files the agent
edits (`files.solution`), with no pairing between the two lists. A reference file takes the place of
the solution file with the same name (Java: `.meta/src/reference/java/Clock.java` is
`src/main/java/Clock.java`), else of the only solution file with its suffix (`.meta/example.py` is
`leap.py`); one that matches neither way (a helper class of the reference) goes beside the solution
files of its suffix. Rust's tracks keep the reference's own manifest as `.meta/Cargo-example.toml`: it
replaces `Cargo.toml` when that is a solution file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from agent.bench.exercises import Exercise

CARGO_EXAMPLE = ".meta/Cargo-example.toml"


def reference_files(exercise: Exercise) -> dict[str, Path]:
    """Copy path (relative to the exercise) -> the reference file that belongs there. Raises ValueError
    when a reference file has no place (no solution file of its kind)."""
    placed: dict[str, Path] = {}
    solutions = [PurePosixPath(s) for s in exercise.solution]
    for example in exercise.example:
        source = PurePosixPath(example)
        same_name = [s for s in solutions if s.name == source.name]
        same_suffix = [s for s in solutions if s.suffix == source.suffix]
        if len(same_name) == 1:
            target = same_name[0]
        elif len(same_suffix) == 1 and not any(s.name == same_suffix[0].name for s in map(PurePosixPath,
                                                                                         exercise.example)):
            target = same_suffix[0]
        elif same_suffix:
            target = same_suffix[0].parent / source.name
        else:
            raise ValueError(f"{exercise.key}: reference file {example} has no solution file of its kind")
        placed[target.as_posix()] = exercise.path / example
    if "Cargo.toml" in exercise.solution and (exercise.path / CARGO_EXAMPLE).is_file():
        placed["Cargo.toml"] = exercise.path / CARGO_EXAMPLE
    return placed
