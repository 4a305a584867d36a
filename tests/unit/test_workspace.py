"""DiskWorkspace (paths, reading, atomic writes, listing) and the process-group runner."""

from __future__ import annotations

import asyncio
import os
import random
import stat
import time
from pathlib import Path

import pytest

from agent.process import run_command
from agent.workspace import (
    SKIP_DIRS,
    DiskWorkspace,
    FileExists,
    FileMissing,
    NotText,
    PathOutsideWorkspace,
    WorkspaceError,
)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[DiskWorkspace, Path]:
    """A workspace root with a canary file next to it (outside) that nothing may touch."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("canary\n")
    return DiskWorkspace(root), outside


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../outside/canary.txt",
        "a/../../outside/canary.txt",
        "~/x",
        "~",
        "a\0b",
        "C:/x",
        "c:\\x",
        "\\\\srv\\share",
        "//srv/share",
        "a\\..\\..\\x",
        "",
    ],
)
def test_relative_refuses_escapes(tree: tuple[DiskWorkspace, Path], path: str) -> None:
    ws, _ = tree
    with pytest.raises(PathOutsideWorkspace) as info:
        ws.relative(path)
    assert str(ws.root) in str(info.value)


def test_relative_refuses_absolute_outside(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, outside = tree
    with pytest.raises(PathOutsideWorkspace, match="outside the workspace"):
        ws.relative(str(outside / "canary.txt"))


def test_relative_accepts_inside_paths(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    assert ws.relative("src/a.py") == "src/a.py"
    assert ws.relative("./src/../b.py") == "b.py"
    assert ws.relative(str(ws.root / "pkg" / "m.py")) == "pkg/m.py"
    assert ws.relative(".") == "."
    assert ws.relative(str(ws.root)) == "."


async def test_symlinks_out_of_the_root_are_refused(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, outside = tree
    (ws.root / "linkdir").symlink_to(outside, target_is_directory=True)
    (ws.root / "linkfile").symlink_to(outside / "canary.txt")
    (ws.root / "dangling").symlink_to(outside / "not-yet.txt")
    for path in ["linkdir/canary.txt", "linkdir/new.txt", "linkfile", "dangling"]:
        with pytest.raises(PathOutsideWorkspace):
            ws.relative(path)
    with pytest.raises(PathOutsideWorkspace):
        await ws.replace("linkfile", "pwned")
    with pytest.raises(PathOutsideWorkspace):
        await ws.create("linkdir/new.txt", "pwned")
    with pytest.raises(PathOutsideWorkspace):
        await ws.create("dangling", "pwned")
    with pytest.raises(PathOutsideWorkspace):
        await ws.read_text("linkfile")
    assert (outside / "canary.txt").read_text() == "canary\n"
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt"]
    assert ws.changes.paths() == []


async def test_symlink_inside_the_root_resolves_to_its_target(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    (ws.root / "real.py").write_text("x = 1\n")
    (ws.root / "alias.py").symlink_to(ws.root / "real.py")
    assert ws.relative("alias.py") == "real.py"
    assert await ws.read_text("alias.py") == "x = 1\n"


# --- reading -------------------------------------------------------------------------------------


async def test_read_text_keeps_line_endings_and_rejects_binary(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    (ws.root / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    (ws.root / "bin.dat").write_bytes(b"abc\0def")
    (ws.root / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert await ws.read_text("crlf.txt") == "a\r\nb\r\n"
    with pytest.raises(NotText, match="binary"):
        await ws.read_text("bin.dat")
    with pytest.raises(NotText, match="UTF-8"):
        await ws.read_text("latin1.txt")
    with pytest.raises(FileMissing):
        await ws.read_text("nope.txt")
    assert await ws.exists("crlf.txt") and not await ws.exists("nope.txt")
    assert await ws.is_dir(".") and not await ws.is_dir("crlf.txt")


async def test_list_files_skips_heavy_folders_and_is_sorted(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, outside = tree
    for rel in ["b.py", "a/z.py", "a/b/c.txt", ".hidden/h.md"]:
        (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / rel).write_text("x")
    for skipped in SKIP_DIRS:
        (ws.root / skipped).mkdir()
        (ws.root / skipped / "f.txt").write_text("x")
        (ws.root / "a" / skipped).mkdir()
        (ws.root / "a" / skipped / "g.txt").write_text("x")
    (ws.root / "escape.txt").symlink_to(outside / "canary.txt")
    (ws.root / "inner.txt").symlink_to(ws.root / "b.py")
    assert await ws.list_files() == [".hidden/h.md", "a/b/c.txt", "a/z.py", "b.py", "inner.txt"]
    assert await ws.list_files("a") == ["a/b/c.txt", "a/z.py"]
    assert await ws.list_files("b.py") == ["b.py"]
    # A skipped folder named explicitly is listed: the model asked for it.
    assert await ws.list_files("node_modules") == ["node_modules/f.txt"]
    with pytest.raises(FileMissing):
        await ws.list_files("missing")


# --- writing -------------------------------------------------------------------------------------


async def test_create_makes_parents_records_and_refuses_existing(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    await ws.create("pkg/sub/new.py", "print('hi')\r\n")
    assert (ws.root / "pkg/sub/new.py").read_bytes() == b"print('hi')\r\n"
    change = ws.changes.changes["pkg/sub/new.py"]
    assert change.created and change.proposed == "print('hi')\r\n"
    with pytest.raises(FileExists):
        await ws.create("pkg/sub/new.py", "again")
    with pytest.raises(FileExists):
        await ws.create("pkg", "a folder is in the way")
    assert sorted(p.name for p in (ws.root / "pkg/sub").iterdir()) == ["new.py"]  # no temp files left


async def test_os_failures_become_workspace_errors(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    (ws.root / "a.py").write_text("x")
    with pytest.raises(WorkspaceError, match="cannot create a.py/b.py"):
        await ws.create("a.py/b.py", "y")  # a file stands where a folder would have to be


async def test_new_files_get_the_umask_mode(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    old = os.umask(0o022)
    try:
        await ws.create("m.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((ws.root / "m.txt").stat().st_mode) == 0o644


async def test_replace_is_atomic_keeps_mode_and_first_base(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    script = ws.root / "run.sh"
    script.write_text("echo one\n")
    script.chmod(0o751)
    inode_before = script.stat().st_ino
    await ws.replace("run.sh", "echo two\n")
    assert script.stat().st_ino != inode_before  # renamed into place, not rewritten in place
    await ws.replace("run.sh", "echo three\n")
    assert script.read_text() == "echo three\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o751
    change = ws.changes.changes["run.sh"]
    assert (change.base, change.proposed) == ("echo one\n", "echo three\n")
    await ws.replace("run.sh", "echo one\n")
    assert not ws.changes  # back to the original: nothing left to review
    with pytest.raises(FileMissing):
        await ws.replace("absent.txt", "x")
    assert sorted(p.name for p in ws.root.iterdir()) == ["run.sh"]


# --- running -------------------------------------------------------------------------------------


def _sleeps(marker: str) -> list[int]:
    """Live `sleep <marker>` processes."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if cmdline == f"sleep\0{marker}\0".encode():
            found.append(int(name))
    return found


def _our_children() -> set[int]:
    """Direct children of this process, zombies included."""
    children = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.add(int(name))
    return children


def _sleep_marker() -> str:
    # A duration no other process uses, so /proc tells exactly which sleeps are ours.
    return f"{random.randint(10_000, 99_999)}.{random.randint(100, 999)}"


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")


async def test_run_reports_exit_code_and_both_streams(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    result = await ws.run("echo out; echo err >&2; exit 3", timeout=10)
    assert (result.exit_code, result.stdout, result.stderr, result.timed_out) == (3, "out\n", "err\n", False)
    result = await ws.run("pwd", timeout=10)
    assert result.stdout.strip() == str(ws.root)


async def test_stdin_is_closed(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    started = time.monotonic()
    result = await ws.run("cat; read line; echo after", timeout=20)
    assert time.monotonic() - started < 5
    assert result.exit_code == 0 and result.stdout == "after\n"


@needs_proc
async def test_timeout_kills_the_whole_tree(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    marker = _sleep_marker()
    children_before = _our_children()
    command = (
        f"sleep {marker} & setsid sleep {marker} & nohup sleep {marker} >/dev/null 2>&1 & "
        f"(trap '' TERM; exec sleep {marker}) & echo started; sleep {marker}"
    )
    started = time.monotonic()
    result = await ws.run(command, timeout=0.5)
    assert result.timed_out and result.exit_code is None
    assert result.stdout == "started\n"
    assert time.monotonic() - started < 5
    assert _sleeps(marker) == []
    assert _our_children() == children_before


@needs_proc
async def test_background_children_do_not_outlive_a_finished_command(
    tree: tuple[DiskWorkspace, Path],
) -> None:
    ws, _ = tree
    marker = _sleep_marker()
    started = time.monotonic()
    result = await ws.run(f"sleep {marker} & setsid sleep {marker} & echo done", timeout=30)
    # The shell exited at once; waiting for the sleeps' open pipes would take the full timeout.
    assert time.monotonic() - started < 5
    assert result.exit_code == 0 and not result.timed_out and result.stdout == "done\n"
    assert _sleeps(marker) == []


@needs_proc
async def test_cancellation_kills_the_tree(tree: tuple[DiskWorkspace, Path]) -> None:
    ws, _ = tree
    marker = _sleep_marker()
    task = asyncio.create_task(ws.run(f"setsid sleep {marker} & sleep {marker}", timeout=60))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if len(_sleeps(marker)) == 2:
            break
    assert len(_sleeps(marker)) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _sleeps(marker) == []


async def test_output_is_capped_head_and_tail(tmp_path: Path) -> None:
    # ~50 MB through the pipe, yet only the cap is kept.
    result = await run_command(
        "echo FIRST; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo LAST",
        tmp_path,
        timeout=30,
        max_output=10_000,
    )
    assert result.exit_code == 0
    assert len(result.stdout) < 10_200
    assert result.stdout.startswith("FIRST\nxxx")
    assert result.stdout.endswith("xxx\nLAST\n")
    assert "bytes of output cut" in result.stdout


async def test_signal_death_is_reported_like_a_shell(tmp_path: Path) -> None:
    result = await run_command("kill -9 $$", tmp_path, timeout=10)
    assert result.exit_code == 137 and not result.timed_out


async def test_environment_is_passed(tmp_path: Path) -> None:
    result = await run_command(
        "echo $GREETING", tmp_path, timeout=10, env={"GREETING": "hello", "PATH": os.environ["PATH"]}
    )
    assert result.stdout == "hello\n"


async def test_a_command_ending_spares_a_sibling_caught_between_fork_and_exec(tmp_path: Path) -> None:
    # Runs end while others start: a sibling's child, forked from us and not yet exec'd, has our
    # environment and no tag, in a session of its own. It must not be taken for an orphan of the run
    # that is ending (that race killed a grader's test run with SIGTERM under load).
    import os
    import signal as signals

    from agent.process import run_command

    child = os.fork()
    if child == 0:  # a copy of us, in a session of its own, that never execs
        os.setsid()
        signals.pause()
        os._exit(0)
    try:
        result = await run_command("true", tmp_path, 10)
        assert result.exit_code == 0
        assert os.waitpid(child, os.WNOHANG) == (0, 0), "the unexec'd fork was killed"
    finally:
        os.kill(child, signals.SIGKILL)
        os.waitpid(child, 0)
