"""The shadow tree: a private, incrementally synced copy of the workspace for shell commands."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from pathlib import Path

import pytest

from lc_lsp.shadow import ShadowFailed, ShadowTooLarge, ShadowTree


def _no_overlay(files: Collection[str]) -> Mapping[str, str]:
    return {}


def _overlay(texts: Mapping[str, str]) -> Callable[[Collection[str]], Mapping[str, str]]:
    def give(files: Collection[str]) -> Mapping[str, str]:
        return texts

    return give


def _snapshot(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every entry under `root` (links not followed): content or link text, and mtime."""
    found: dict[str, tuple[bytes | str, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            if path.is_symlink():
                found[str(path.relative_to(root))] = (os.readlink(path), info.st_mtime_ns)
            elif path.is_file():
                found[str(path.relative_to(root))] = (path.read_bytes(), info.st_mtime_ns)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("VALUE = 1\n")
    (root / "README.md").write_text("hello\n")
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    (root / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1;\n")
    (root / "node_modules" / "right-pad").mkdir()
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "site.py").write_text("# venv\n")
    (root / "target" / "debug").mkdir(parents=True)
    (root / "target" / "debug" / "app").write_bytes(b"\x7fELF")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "src" / "__pycache__").mkdir()
    (root / "src" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    return root


@pytest.fixture
async def shadow(project: Path, tmp_path: Path) -> AsyncIterator[ShadowTree]:
    tree = ShadowTree(project, tmp_path / "shadows")
    yield tree
    await tree.aclose()


async def test_sources_are_copied_and_heavy_folders_linked_emptied_or_left_out(
    shadow: ShadowTree, project: Path
) -> None:
    assert shadow.root is None  # nothing is copied before the first command
    root = await shadow.sync(_no_overlay)
    assert root.name == project.name
    assert (root / "src" / "app.py").read_text() == "VALUE = 1\n"
    assert not (root / "src" / "app.py").is_symlink()
    assert (root / "README.md").read_text() == "hello\n"
    for linked in ("node_modules", ".venv"):
        assert (root / linked).is_symlink()
        assert Path(os.readlink(root / linked)) == project / linked
    assert (root / "node_modules" / "left-pad" / "index.js").read_text() == "module.exports = 1;\n"
    # Build output: a real, empty folder of the shadow's own, so builds write there.
    assert (root / "target").is_dir() and not (root / "target").is_symlink()
    assert list((root / "target").iterdir()) == []
    assert not (root / ".git").exists()
    assert not (root / "src" / "__pycache__").exists()


async def test_overlay_texts_replace_disk_and_add_files(shadow: ShadowTree, project: Path) -> None:
    before = _snapshot(project)
    seen: list[str] = []

    def overlay(files: Collection[str]) -> Mapping[str, str]:
        seen.extend(files)
        return {"src/app.py": "VALUE = 2\n", "src/new/mod.py": "X = 3\n"}

    root = await shadow.sync(overlay)
    assert sorted(seen) == ["README.md", "src/app.py"]  # the disk files, for buffer look-ups
    assert (root / "src" / "app.py").read_text() == "VALUE = 2\n"
    assert (root / "src" / "new" / "mod.py").read_text() == "X = 3\n"
    assert _snapshot(project) == before


async def test_second_sync_rewrites_only_what_changed(shadow: ShadowTree, project: Path) -> None:
    root = await shadow.sync(_no_overlay)
    readme_inode = (root / "README.md").stat().st_ino
    app_inode = (root / "src" / "app.py").stat().st_ino

    (project / "src" / "app.py").write_text("VALUE = 10  # the user edited this\n")
    (project / "extra.txt").write_text("new\n")
    await shadow.sync(_no_overlay)

    assert (root / "README.md").stat().st_ino == readme_inode  # untouched: not copied again
    assert (root / "src" / "app.py").stat().st_ino != app_inode
    assert (root / "src" / "app.py").read_text() == "VALUE = 10  # the user edited this\n"
    assert (root / "extra.txt").read_text() == "new\n"

    (project / "extra.txt").unlink()
    await shadow.sync(_no_overlay)
    assert not (root / "extra.txt").exists()


async def test_overlay_changes_and_removals_follow(shadow: ShadowTree) -> None:
    texts = {"src/app.py": "VALUE = 2\n", "only_in_memory.py": "A = 1\n"}
    root = await shadow.sync(_overlay(texts))
    texts["src/app.py"] = "VALUE = 3\n"
    await shadow.sync(_overlay(texts))
    assert (root / "src" / "app.py").read_text() == "VALUE = 3\n"
    # The overlay ends (a buffer closed): disk text again, and memory-only files go.
    await shadow.sync(_no_overlay)
    assert (root / "src" / "app.py").read_text() == "VALUE = 1\n"
    assert not (root / "only_in_memory.py").exists()


async def test_what_a_command_changed_is_restored_but_its_new_files_stay(shadow: ShadowTree) -> None:
    root = await shadow.sync(_overlay({"src/app.py": "VALUE = 2\n"}))
    (root / "src" / "app.py").write_text("clobbered by sed -i\n")
    (root / "README.md").write_text("clobbered\n")
    (root / "target" / "out.o").write_bytes(b"object")
    (root / "notes.txt").write_text("a command made this\n")
    await shadow.sync(_overlay({"src/app.py": "VALUE = 2\n"}))
    assert (root / "src" / "app.py").read_text() == "VALUE = 2\n"
    assert (root / "README.md").read_text() == "hello\n"
    assert (root / "target" / "out.o").read_bytes() == b"object"  # build output survives
    assert (root / "notes.txt").exists()


async def test_edit_inside_a_linked_folder_splits_the_links(shadow: ShadowTree, project: Path) -> None:
    before = _snapshot(project)
    texts = {"node_modules/left-pad/index.js": "module.exports = 2;\n"}
    root = await shadow.sync(_overlay(texts))

    assert (project / "node_modules" / "left-pad" / "index.js").read_text() == "module.exports = 1;\n"
    assert _snapshot(project) == before
    modules = root / "node_modules"
    assert modules.is_dir() and not modules.is_symlink()
    assert (modules / "right-pad").is_symlink()  # the other packages are still linked
    assert not (modules / "left-pad").is_symlink()
    index = modules / "left-pad" / "index.js"
    assert not index.is_symlink() and index.read_text() == "module.exports = 2;\n"

    # A package the user installs later still appears; the edit ends and the link comes back.
    (project / "node_modules" / "new-pkg").mkdir()
    await shadow.sync(_no_overlay)
    assert (modules / "new-pkg").is_symlink()
    assert index.is_symlink() and index.read_text() == "module.exports = 1;\n"
    assert _snapshot(project) == before


async def test_a_link_planted_by_a_command_is_never_written_through(shadow: ShadowTree, project: Path) -> None:
    root = await shadow.sync(_no_overlay)
    # A command swaps the shadow's src for a link to the user's src...
    for entry in (root / "src").iterdir():
        entry.unlink()
    (root / "src").rmdir()
    (root / "src").symlink_to(project / "src")
    (root / "README.md").unlink()
    (root / "README.md").symlink_to(project / "README.md")
    before = _snapshot(project)
    # ...then the next sync writes the agent's text for files behind those links.
    await shadow.sync(_overlay({"src/app.py": "VALUE = 99\n", "README.md": "agent\n"}))
    assert _snapshot(project) == before
    assert not (root / "src").is_symlink()
    assert (root / "src" / "app.py").read_text() == "VALUE = 99\n"
    assert not (root / "README.md").is_symlink()
    assert (root / "README.md").read_text() == "agent\n"


async def test_symlinks_inside_stay_inside_and_outside_folders_are_left_out(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "real.py").write_text("R = 1\n")
    (root / "alias.py").symlink_to("pkg/real.py")
    (root / "pkg_alias").symlink_to(root / "pkg")  # absolute, but inside
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "shared.cfg").write_text("shared\n")
    (root / "shared.cfg").symlink_to(outside / "shared.cfg")
    (root / "data").symlink_to(outside)
    tree = ShadowTree(root, tmp_path / "shadows")
    try:
        shadow_root = await tree.sync(_overlay({"pkg/real.py": "R = 2\n"}))
        assert (shadow_root / "alias.py").is_symlink()
        assert (shadow_root / "alias.py").read_text() == "R = 2\n"  # points at the shadow's copy
        assert (shadow_root / "pkg_alias").resolve() == (shadow_root / "pkg").resolve()
        assert not (shadow_root / "shared.cfg").is_symlink()
        assert (shadow_root / "shared.cfg").read_text() == "shared\n"
        assert not os.path.lexists(shadow_root / "data")
    finally:
        await tree.aclose()


async def test_overlay_keeps_the_executable_bit(shadow: ShadowTree, project: Path) -> None:
    script = project / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    root = await shadow.sync(_overlay({"run.sh": "#!/bin/sh\necho new\n"}))
    assert (root / "run.sh").stat().st_mode & stat.S_IXUSR


async def test_large_files_are_skipped_and_huge_trees_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "big.bin").write_bytes(b"x" * 2048)
    (root / "small.txt").write_text("s\n")
    tree = ShadowTree(root, tmp_path / "shadows", max_file_bytes=1024, max_files=5)
    try:
        shadow_root = await tree.sync(_no_overlay)
        assert (shadow_root / "small.txt").exists()
        assert not (shadow_root / "big.bin").exists()
        assert tree.skipped_large == {"big.bin"}
        for index in range(10):
            (root / f"f{index}.txt").write_text("f\n")
        with pytest.raises(ShadowTooLarge, match="more than 5 files"):
            await tree.sync(_no_overlay)
    finally:
        await tree.aclose()


async def test_a_shadow_parent_inside_the_workspace_is_not_copied_into_itself(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    tree = ShadowTree(root, root / "shadows")
    try:
        first = await tree.sync(_no_overlay)
        second = await tree.sync(_no_overlay)
        assert first == second
        assert [p.relative_to(second).as_posix() for p in second.rglob("*")] == ["a.txt"]
    finally:
        await tree.aclose()


async def test_aclose_removes_everything_and_is_idempotent(project: Path, tmp_path: Path) -> None:
    tree = ShadowTree(project, tmp_path / "shadows")
    root = await tree.sync(_no_overlay)
    (root / "target" / "readonly").mkdir()
    (root / "target" / "readonly" / "f").write_text("f\n")
    (root / "target" / "readonly").chmod(0o555)
    await tree.aclose()
    await tree.aclose()
    assert list((tmp_path / "shadows").iterdir()) == []
    assert (project / "node_modules" / "left-pad" / "index.js").exists()  # links removed, not followed
    assert (project / ".venv" / "lib" / "site.py").exists()
    with pytest.raises(ShadowFailed):
        await tree.sync(_no_overlay)
