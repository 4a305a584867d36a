"""The sandbox launcher: runs one shell command inside fresh Linux namespaces.

Started as `python -I -S launcher.py SPEC_FILE` (stdlib only, no site-packages: it starts in about
15 ms). The spec is JSON written by agent/sandbox/__init__.py; the file is deleted once read.

Three processes:
- the launcher (outside) unshares a user, mount, pid, IPC, UTS and (unless the network is allowed)
  network namespace, maps its own uid/gid to one unprivileged id inside, then waits for
- pid 1 of the new pid namespace, which builds the file system view, then starts and waits for
- the command: `/bin/sh -c`, with rlimits, no new privileges, an empty capability bounding set and,
  because its uid inside is not 0, no capabilities after exec.

The view: the host's `/` bound read-only (recursively, with mount_setattr), a fresh /proc for this
pid namespace only, a minimal /dev, the session's own /tmp (also HOME and TMPDIR), an empty /run
(no host sockets), secrets in the user's home masked, and the workspace at its own path: a
writable bind (CLI, benchmark) or an overlay whose upper layer is the session's (editor). Its
`.git` stays read-only in both. A grader also gets its caches (`writable`) bound writable.
When pid 1 exits the kernel kills everything left in the namespace, so nothing the command
started outlives it; pid 1 also stops the whole tree once it holds more than the process limit
(RLIMIT_NPROC does not bind a process whose uid is root outside).

Exit status: the command's (128 + N for a signal); 125 with a line starting with MARK on stderr
when the sandbox itself could not be built.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import struct
import sys

TYPE_CHECKING = False  # typing itself costs 3 ms of start-up here
if TYPE_CHECKING:
    from typing import Any

MARK = "little-coder sandbox:"
SETUP_FAILED = 125

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

# Syscalls glibc has no wrapper for. pivot_root differs per architecture; mount_setattr (Linux
# 5.12) has one number everywhere.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}
_SYS_MOUNT_SETATTR = 442

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


class SetupError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def _b(path: str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {fstype or source} on {target}")


def bind(source: str, target: str, *, read_only: bool, recursive: bool = False) -> None:
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if read_only:
        _set_attr(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, recursive)


def _set_attr(target: str, attrs: int, recursive: bool) -> None:
    # struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    attr = struct.pack("QQQQ", attrs, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    flags = AT_RECURSIVE if recursive else 0
    result = _libc.syscall(_SYS_MOUNT_SETATTR, AT_FDCWD, _b(target), flags, buf, len(attr))
    if result == 0:
        return
    err = ctypes.get_errno()
    if recursive:
        raise SetupError(f"mount_setattr on {target}: {os.strerror(err)} (Linux 5.12 or later is needed)")
    # One mount, an older kernel: a read-only remount that keeps the flags the kernel locked.
    st = os.statvfs(target)
    keep = MS_NOSUID | MS_NODEV
    for st_flag, ms_flag in ((os.ST_NOEXEC, 0x8), (os.ST_NOATIME, 0x400), (os.ST_NODIRATIME, 0x800),
                             (os.ST_RELATIME, 0x200000)):
        if st.f_flag & st_flag:
            keep |= ms_flag
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mkdirs(path: str) -> None:
    os.makedirs(path, exist_ok=True)


def _touch(path: str) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def _escape_overlay(path: str) -> str:
    # overlayfs splits its options on ',' and layer lists on ':'.
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def _loopback_up() -> None:
    """Bring up `lo` in the new network namespace (SIOCSIFFLAGS, IFF_UP | IFF_RUNNING)."""
    import fcntl
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0x1 | 0x40)
        fcntl.ioctl(sock.fileno(), 0x8914, request + b"\0" * 22)


def build_view(spec: dict[str, Any]) -> None:
    """Everything pid 1 mounts before pivoting into the new root."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    new_root = spec["mount_point"]
    # The host, read-only, no set-uid, no devices.
    bind("/", new_root, read_only=True, recursive=True)

    def inside(path: str) -> str:
        return str(new_root + path)

    mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | 0x8)
    _build_dev(inside("/dev"))
    # The session's scratch space: /tmp (HOME lives in it), on disk in the session's state folder.
    bind(spec["tmp"], inside("/tmp"), read_only=False)
    for path in ("/run", "/var/tmp", "/dev/shm"):
        if os.path.isdir(inside(path)) and not os.path.islink(path):
            mount("tmpfs", inside(path), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    for path in spec["hide"]:
        _mask(inside(path), path)
    for path in spec["keep"]:  # tools under a folder replaced above (a virtualenv in /tmp)
        _mkdirs(inside(path))
        bind(path, inside(path), read_only=True, recursive=True)

    for path in spec.get("writable", ()):  # shared caches a grader fills (build and compiler caches)
        _mkdirs(inside(path))
        bind(path, inside(path), read_only=False)

    workspace = spec["workspace"]
    target = inside(workspace)
    _mkdirs(target)  # under /tmp (tests, scratch copies) the path exists only once created
    if spec.get("upper"):
        options = "lowerdir={},upperdir={},workdir={},userxattr".format(
            _escape_overlay(workspace), _escape_overlay(spec["upper"]), _escape_overlay(spec["work"])
        )
        mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, options)
    else:
        bind(workspace, target, read_only=False)
    git = os.path.join(target, ".git")
    if os.path.isdir(git) and not os.path.islink(git):
        bind(git, git, read_only=True, recursive=True)

    os.chdir(new_root)
    _check(_libc.syscall(_SYS_PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detaching the host's root")
    os.chdir("/")


def _build_dev(dev: str) -> None:
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=1m")
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + name):
            _touch(f"{dev}/{name}")
            mount("/dev/" + name, f"{dev}/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/shm")
    os.mkdir(f"{dev}/pts")
    try:
        mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID | 0x8, "newinstance,ptmxmode=0666,mode=620")
        os.symlink("pts/ptmx", f"{dev}/ptmx")
    except SetupError:
        pass  # no pseudo-terminals: commands still run, `script` and friends do not


def _mask(target: str, original: str) -> None:
    """Hide a secret: an empty read-only folder over a folder, /dev/null over a file. A secret that is a
    link (dotfile managers make them) is hidden where it leads."""
    if os.path.islink(original):
        resolved = os.path.realpath(original)
        target = target[: len(target) - len(original)] + resolved
    if not os.path.lexists(target) or os.path.islink(target):
        return
    if os.path.isdir(target):
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=700,size=4k")
    else:
        mount("/dev/null", target, None, MS_BIND)
        _set_attr(target, MOUNT_ATTR_RDONLY, recursive=False)


def _apply_limits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        which = getattr(resource, name)
        _soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))


def _drop_privileges() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    last = 63
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        pass
    for cap in range(last + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def _count_processes() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def init(spec: dict[str, Any], launcher_alive: int) -> int:
    """Pid 1: build the view, start the command, reap, enforce the process cap."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The launcher holds the other end of this pipe: a hang-up means it died before the line above.
    if select.select([launcher_alive], [], [], 0)[0]:
        os.write(2, f"{MARK} the launcher ended before the sandbox was ready\n".encode())
        return SETUP_FAILED
    os.close(launcher_alive)
    try:
        build_view(spec)
        if spec["network"] == "loopback":
            _loopback_up()
        try:
            _libc.sethostname(b"sandbox", 7)
        except AttributeError:
            pass
    except (SetupError, OSError) as exc:
        os.write(2, f"{MARK} {exc}\n".encode())
        return SETUP_FAILED

    command = os.fork()
    if command == 0:
        try:
            os.chdir(spec["cwd"])
            _apply_limits(spec["limits"])
            _drop_privileges()
            os.execve("/bin/sh", ["sh", "-c", spec["command"]], spec["env"])
        except BaseException as exc:
            os.write(2, f"{MARK} could not start the command: {exc}\n".encode())
            os._exit(SETUP_FAILED)

    pidfd = os.pidfd_open(command)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    cap = int(spec["max_processes"])
    status: int | None = None
    while status is None:
        poller.poll(20)
        while True:  # reap everything that ended, the command last of all
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == command:
                status = raw
        if status is None and _count_processes() > cap:
            os.kill(-1, signal.SIGKILL)  # from pid 1: every process in the namespace but itself
            os.write(2, f"\n{MARK} more than {cap} processes at once: the command was stopped\n".encode())
            _, status = os.waitpid(command, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main() -> int:
    # Dies with the process that started it (an editor's server killed outright), and so does the
    # namespace: pid 1 dies with this process.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    os.unlink(sys.argv[1])
    if os.getppid() != spec["parent"]:
        os.write(2, f"{MARK} the process that started the command is gone\n".encode())
        return SETUP_FAILED
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if spec["network"] != "host":
        flags |= CLONE_NEWNET
    uid, gid = os.getuid(), os.getgid()
    try:
        _check(_libc.unshare(flags), "unshare (are unprivileged user namespaces allowed?)")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{spec['uid']} {uid} 1")
        _write("/proc/self/gid_map", f"{spec['gid']} {gid} 1")
    except (SetupError, OSError) as exc:
        os.write(2, f"{MARK} {exc}\n".encode())
        return SETUP_FAILED

    alive_read, alive_write = os.pipe()
    child = os.fork()
    if child == 0:
        code = SETUP_FAILED
        try:
            os.close(alive_write)
            code = init(spec, alive_read)
        except BaseException as exc:  # said, never swallowed: the host reports it
            os.write(2, f"{MARK} internal error in the sandbox's pid 1: {exc!r}\n".encode())
        finally:
            os._exit(code)
    os.close(alive_read)

    def stop(signum: int, frame: object) -> None:
        os.kill(child, signal.SIGKILL)  # pid 1 gone: the kernel kills the whole namespace

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
