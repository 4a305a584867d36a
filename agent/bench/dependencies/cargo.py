"""Rust crates: every crate the exercise's Cargo.toml or its reference solution's .meta/Cargo-example.toml
declares is fetched into the bench's own CARGO_HOME, so `cargo test --offline` finds it."""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.bench.dependencies.command import failure_reason, run_tool

MANIFESTS = ("Cargo.toml", ".meta/Cargo-example.toml")
_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")
FETCH_TIMEOUT = 300.0


def manifest_crates(text: str) -> dict[str, str]:
    """Crate name -> version requirement ("*" when none is given) of one manifest, platform-specific
    tables included; a renamed dependency is listed under the crate it really is."""
    manifest = tomllib.loads(text)
    tables = [manifest.get(name) for name in _TABLES]
    for target in (manifest.get("target") or {}).values():
        if isinstance(target, dict):
            tables += [target.get(name) for name in _TABLES]
    crates: dict[str, str] = {}
    for table in tables:
        for key, spec in (table or {}).items():
            name, version = _spec(key, spec)
            crates[name] = version
    return crates


def _spec(key: str, spec: Any) -> tuple[str, str]:
    if isinstance(spec, str):
        return key, spec
    if isinstance(spec, dict):
        return str(spec.get("package", key)), str(spec.get("version", spec.get("path", "*")))
    return key, "*"


def manifests(exercise_dir: Path) -> list[str]:
    """The texts of the exercise's manifests that exist and declare a crate. One that is not TOML is
    left to cargo, whose own error then fails the grading."""
    found = []
    for rel in MANIFESTS:
        path = exercise_dir / rel
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        try:
            if manifest_crates(text):
                found.append(text)
        except tomllib.TOMLDecodeError:
            continue
    return found


def declared(texts: list[str]) -> list[str]:
    """"name requirement" of every crate the manifests declare, sorted."""
    crates: dict[str, set[str]] = {}
    for text in texts:
        for name, version in manifest_crates(text).items():
            crates.setdefault(name, set()).add(version)
    return [f"{name} {' | '.join(sorted(versions))}" for name, versions in sorted(crates.items())]


def cargo_env(cargo_home: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The grading environment's additions: the bench's CARGO_HOME, and the user's rustup home named
    explicitly, since rustup's cargo proxy would otherwise look for its toolchains beside CARGO_HOME."""
    env = {"CARGO_HOME": str(cargo_home)}
    rustup_home = Path(environ.get("HOME", str(Path.home()))) / ".rustup"
    if "RUSTUP_HOME" not in environ and rustup_home.is_dir():
        env["RUSTUP_HOME"] = str(rustup_home)
    return env


async def fetch(texts: list[str], environ: Mapping[str, str]) -> str | None:
    """Make every crate of the manifests available offline in `environ`'s CARGO_HOME; None when they
    are, else why not. Cargo locks its home while it writes, so exercises may fetch at once."""
    for text in texts:
        with tempfile.TemporaryDirectory(prefix="little-coder-cargo-") as tmp:
            # A project of the manifest alone: nothing of the exercise's own sources is built.
            project = Path(tmp)
            (project / "Cargo.toml").write_text(text, encoding="utf-8")
            (project / "src").mkdir()
            (project / "src" / "lib.rs").write_text("", encoding="utf-8")
            offline = await run_tool(["cargo", "fetch", "--offline"], project, environ, FETCH_TIMEOUT)
            if offline.exit_code == 0:
                continue
            online = await run_tool(["cargo", "fetch"], project, {**environ, "CARGO_NET_OFFLINE": "false"},
                                    FETCH_TIMEOUT)
            if online.exit_code != 0:
                names = ", ".join(sorted(manifest_crates(text)))
                plural = "s" if "," in names else ""
                verb = "are" if plural else "is"
                return (f"crate{plural} {names} {verb} not in the offline cache {environ.get('CARGO_HOME', '')} "
                        f"and could not be fetched ({failure_reason(online, 'cargo fetch')})")
    return None
