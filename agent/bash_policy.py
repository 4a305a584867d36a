"""Which shell commands the agent may run without asking.

A command is read the way a POSIX shell reads it — quotes, escapes, operators, here-documents —
and split into simple commands on `;`, `&&`, `||`, `|`, `&` and newlines. Each one is judged on
its real program, after leading `VAR=value` assignments and wrappers (`env`, `time`, `nice`,
`timeout`, `command`, `stdbuf`, `xargs`) are set aside. Prefix matching would pass `ls; rm -rf x`.

We tokenise ourselves instead of with `shlex`: shlex returns a quoted ';' and a real ';' as the
same token, and telling them apart is the whole job here.

The allow-list is not a sandbox: test runners run the project's code by design, and containing what
runs is agent/sandbox's job. The allow-list decides what runs without asking: its job is to keep
what runs visible on the command line and to stop shell-level escapes (substitution, eval, inline
shells, privilege, background jobs, and files outside the workspace named on the command line —
written by redirection, or read by the read-only tools — also through symlinks when the caller
gives the workspace root). `python -c` is allowed for the first reason: inline code can do nothing
a script the agent writes (and the session records) can't, and refusing it only pushes small
models to litter the tree with throwaway scripts.
"""

from __future__ import annotations

import glob
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from agent.settings import BashPolicy


class PolicyDecision(BaseModel):
    allowed: bool
    needs_confirmation: bool = False
    reason: str
    programs: list[str] = Field(default_factory=list, description="programs the command would run")


ALLOWED_SUMMARY = (
    "Allowed without asking: test runners and build tools (pytest, python, go test/build/vet/run, "
    "cargo test/build/check/run, npm/yarn/pnpm test/run/install, npx jest/tsc, node, jest, make, "
    "cmake, ctest, javac, java, mvn, gradle, gcc/g++/clang) and read-only commands (ls, cat, head, "
    "tail, wc, grep, rg, find, sed -n, diff, echo, pwd, git status/diff/log/show). The bash_allow "
    "setting adds programs."
)

# --- tokens ----------------------------------------------------------------------------------------

_OPERATORS = sorted(
    [
        "&&",
        "||",
        ";;",
        "|&",
        ">>",
        ">|",
        "<>",
        "<<-",
        "<<<",
        "<<",
        ">&",
        "<&",
        "&>>",
        "&>",
        ";",
        "&",
        "|",
        "<",
        ">",
        "(",
        ")",
    ],
    key=len,
    reverse=True,
)
_OPERATOR_CHARS = frozenset("&|;<>()")
_REDIRECTS = frozenset({">", ">>", ">|", "<>", "&>", "&>>", ">&", "<&", "<", "<<", "<<-", "<<<"})
_WRITES = frozenset({">", ">>", ">|", "<>", "&>", "&>>", ">&"})


class _ParseError(Exception):
    pass


@dataclass
class _Word:
    text: str  # after quote removal
    quoted: bool = False  # some part was quoted
    expands: bool = False  # holds a $-expansion, a glob or a leading ~: its value is unknown here


@dataclass(frozen=True)
class _Op:
    text: str


class _Lexer:
    """POSIX shell tokens, noting forbidden constructs (substitutions) as it meets them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[_Word | _Op] = []
        self.hazards: list[str] = []
        self._word: _Word | None = None
        self._delimiter_next = False  # the next word ends a here-document
        self._strip_tabs = False
        self._heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, body expands)

    def run(self) -> list[_Word | _Op]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t":
                self._end_word()
                self.pos += 1
            elif char == "\n":
                self._end_word()
                self.tokens.append(_Op("\n"))
                self.pos += 1
                self._read_heredocs()
            elif char == "#" and self._word is None:
                end = text.find("\n", self.pos)
                self.pos = len(text) if end == -1 else end
            elif char == "\\":
                follower = text[self.pos + 1 : self.pos + 2]
                if follower != "\n":  # backslash-newline just joins lines
                    self._add(follower, quoted=True)
                self.pos += 2
            elif char == "'":
                end = text.find("'", self.pos + 1)
                if end == -1:
                    raise _ParseError("a ' quote is never closed")
                self._add(text[self.pos + 1 : end], quoted=True)
                self.pos = end + 1
            elif char == '"':
                self._double_quoted()
            elif char in _OPERATOR_CHARS:
                word = self._word
                if char in "<>" and word is not None and not word.quoted and word.text.isdigit():
                    self._word = None  # '2>' : the digits name a file descriptor, not an argument
                else:
                    self._end_word()
                op = next(o for o in _OPERATORS if text.startswith(o, self.pos))
                self.tokens.append(_Op(op))
                if op in ("<<", "<<-"):
                    self._delimiter_next, self._strip_tabs = True, op == "<<-"
                self.pos += len(op)
            else:
                self._plain(char)
                self.pos += 1
        self._end_word()
        self._read_heredocs()
        return self.tokens

    def _plain(self, char: str) -> None:
        if char == "`":
            self.hazards.append("command substitution with backticks")
        elif char == "$" and self.text.startswith("$(", self.pos):
            self.hazards.append("command substitution `$(...)`")
        expands = char in "$*?[`" or (char == "~" and self._word is None)
        self._add(char, expands=expands)

    def _double_quoted(self) -> None:
        text, pos = self.text, self.pos + 1
        parts: list[str] = []
        expands = False
        while pos < len(text):
            char = text[pos]
            if char == '"':
                self._add("".join(parts), quoted=True, expands=expands)
                self.pos = pos + 1
                return
            if char == "\\" and text[pos + 1 : pos + 2] in ("$", "`", '"', "\\", "\n"):
                if text[pos + 1] != "\n":
                    parts.append(text[pos + 1])
                pos += 2
                continue
            if char == "`":
                self.hazards.append("command substitution with backticks")
            elif char == "$":
                expands = True
                if text.startswith("$(", pos):
                    self.hazards.append("command substitution `$(...)`")
            parts.append(char)
            pos += 1
        raise _ParseError('a " quote is never closed')

    def _add(self, text: str, quoted: bool = False, expands: bool = False) -> None:
        if self._word is None:
            self._word = _Word("")
        self._word.text += text
        self._word.quoted |= quoted
        self._word.expands |= expands

    def _end_word(self) -> None:
        if self._word is None:
            return
        word, self._word = self._word, None
        self.tokens.append(word)
        if self._delimiter_next:
            self._heredocs.append((word.text, self._strip_tabs, not word.quoted))
            self._delimiter_next = False

    def _read_heredocs(self) -> None:
        """Skip the bodies of here-documents opened on the line just ended."""
        for delimiter, strip_tabs, expands in self._heredocs:
            body: list[str] = []
            while self.pos < len(self.text):
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end == -1 else end
                line = self.text[self.pos : end]
                self.pos = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                body.append(line)
            joined = "\n".join(body)
            if expands and ("$(" in joined or "`" in joined):
                self.hazards.append("command substitution inside a here-document")
        self._heredocs.clear()


# --- simple commands -------------------------------------------------------------------------------


@dataclass
class _Command:
    words: list[_Word] = field(default_factory=list)
    redirects: list[tuple[str, _Word]] = field(default_factory=list)
    piped: bool = False  # stdin comes from the previous command through a pipe
    background: bool = False


def _split(tokens: list[_Word | _Op], hazards: list[str]) -> list[_Command]:
    commands: list[_Command] = []
    current = _Command()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if isinstance(token, _Word):
            current.words.append(token)
        elif token.text in _REDIRECTS:
            target = tokens[index + 1] if index + 1 < len(tokens) else None
            if isinstance(target, _Op) and target.text == "(":
                hazards.append(f"process substitution `{token.text}(...)`")
            elif not isinstance(target, _Word):
                raise _ParseError(f"`{token.text}` has no target")
            else:
                current.redirects.append((token.text, target))
                index += 1
        else:
            current.background = token.text == "&"
            if current.words or current.redirects:
                commands.append(current)
            current = _Command(piped=token.text in ("|", "|&"))
        index += 1
    if current.words or current.redirects:
        commands.append(current)
    return commands


# --- judging ---------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Variables that change which program runs or what a shell executes on start.
_DANGEROUS_VARIABLES = re.compile(
    r"PATH|LD_\w+|DYLD_\w+|BASH_ENV|ENV|IFS|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND"
)
_SYSTEM_BIN = ("/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/")
_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "ash", "busybox"})
_NEVER = {
    "sudo": "runs commands as another user",
    "doas": "runs commands as another user",
    "su": "runs commands as another user",
    "pkexec": "runs commands as another user",
    "eval": "runs a string as shell code",
    "exec": "replaces the shell",
    "source": "runs a file as shell code in this shell",
    ".": "runs a file as shell code in this shell",
    "nohup": "leaves a process running after the command",
    "setsid": "leaves a process running after the command",
    "disown": "leaves a process running after the command",
}
_READ_ONLY = frozenset(
    """ls cat head tail wc grep egrep fgrep rg diff cmp echo printf pwd true false test [ which type
    file stat tree uniq cut tr basename dirname realpath readlink nl du date uname whoami exit set
    unset""".split()
)
_BUILD = frozenset(
    "pytest py.test node jest vitest mocha tsc make ctest java mvn mvnw gradle gradlew".split()
)
# Read-only programs whose arguments name files they read: those must stay inside the workspace
# too, or `cat ../secret` shows the model (and its server) anything the user can read.
_READS_PATHS = frozenset(
    """ls cat head tail wc grep egrep fgrep rg diff cmp file stat tree uniq cut nl du realpath readlink
    sed find sort""".split()
)
# Their first positional argument is a pattern or a script, not a path (unless given by option).
_PATTERN_FIRST = {"grep": ("-e", "--regexp", "-f", "--file"), "egrep": ("-e", "--regexp", "-f", "--file"),
                  "fgrep": ("-e", "--regexp", "-f", "--file"), "rg": ("-e", "--regexp", "-f", "--file"),
                  "sed": ("-e", "--expression", "-f", "--file")}
# Options that make them follow links wherever they point.
_FOLLOW_FLAGS = {"grep": ("-R", "--dereference-recursive"), "egrep": ("-R", "--dereference-recursive"),
                 "fgrep": ("-R", "--dereference-recursive"), "rg": ("-L", "--follow"),
                 "find": ("-L", "-follow"), "tree": ("-l",), "du": ("-L", "--dereference")}
_MAX_MATCHES = 1000  # of a glob pattern, checked through links
_VARIABLE = re.compile(r"\$[A-Za-z_{]")
_GLOB_CHARS = re.compile(r"[*?\[]")


def _path_inside(value: str) -> bool:
    """Lexically inside the working folder: relative, no '..', no '~', or a harmless device."""
    if value in _DEVICES:
        return True
    if not value or value.startswith(("/", "~")):
        return False
    return ".." not in value.split("/")


def _escapes(word: _Word, root: Path | None) -> str | None:
    """Why the path `word` names may lie outside the workspace, or None. With `root`, links are
    followed: a path inside that resolves outside is outside."""
    value = word.text
    if word.expands and _VARIABLE.search(value):
        return f"`{value}` comes from a variable and cannot be checked"
    if not _path_inside(value):
        return f"`{value}` is outside the workspace"
    if root is None or value in _DEVICES:
        return None
    # A pattern is checked on what it matches now: `cat *` must not reach through a linked file.
    pattern = word.expands and _GLOB_CHARS.search(value) is not None
    candidates = itertools.islice(glob.iglob(value, root_dir=root), _MAX_MATCHES) if pattern else [value]
    for candidate in candidates:
        target = (root / candidate).resolve()
        if target != root and root not in target.parents:
            return f"`{value}` leads outside the workspace through a link"
    return None


def _follows_links(name: str, options: set[str]) -> str | None:
    flags = _FOLLOW_FLAGS.get(name, ())
    short = {o[1:] for o in options if o.startswith("-") and not o.startswith("--")}
    hit = next((f for f in flags if f in options or (len(f) == 2 and any(f[1] in s for s in short))), None)
    return f"`{name} {hit}` follows links, which may lead outside the workspace" if hit else None


def _read_paths(name: str, words: list[_Word]) -> list[_Word]:
    """The words of a read-only command that name files it reads."""
    positional = [w for w in words if not w.text.startswith("-") or w.text == "-"]
    options = {w.text.split("=", 1)[0] for w in words if w.text.startswith("-")}
    pattern_options = _PATTERN_FIRST.get(name)
    if pattern_options is not None and not options.intersection(pattern_options):
        positional = positional[1:]
    if name == "find":  # the start points come before the first expression word
        starts: list[_Word] = []
        for word in words:
            if word.text.startswith(("-", "(", "!")):
                break
            starts.append(word)
        positional = starts
    return [w for w in positional if w.text != "-"]


def _subcommand(args: list[str], allowed: set[str], program: str) -> str | None:
    first = next((a for a in args if not a.startswith("-")), None)
    if first in allowed:
        return None
    shown = f"{program} {first}" if first else program
    return f"only {program} {'/'.join(sorted(allowed))} are allowed, not `{shown}`"


def _outputs_inside(args: list[str], flags: tuple[str, ...]) -> str | None:
    for index, arg in enumerate(args):
        for flag in flags:
            if arg == flag and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(flag + "=") or (len(flag) == 2 and arg.startswith(flag) and len(arg) > 2):
                value = arg[len(flag) :].removeprefix("=")
            else:
                continue
            if not _path_inside(value):
                return f"`{flag} {value}` writes outside the workspace"
    return None


def _git(args: list[str]) -> str | None:
    rest = [a for a in args if a != "--no-pager"]
    sub = rest[0] if rest else ""
    if sub not in ("status", "diff", "log", "show"):
        return f"only git status, diff, log and show are allowed (not `git {sub}`)"
    if any(a.startswith("--output") for a in rest):
        return "`git --output` writes a file"
    return None


def _go(args: list[str]) -> str | None:
    return _subcommand(args, {"test", "build", "vet", "run", "version", "list"}, "go") or _outputs_inside(
        args, ("-o",)
    )


def _cargo(args: list[str]) -> str | None:
    rest = [a for a in args if not a.startswith("+")]  # '+nightly' picks a toolchain
    if rest and rest[0] in ("--version", "-V"):
        return None
    return _subcommand(rest, {"test", "build", "check", "run", "clippy", "fmt", "bench"}, "cargo")


def _package_manager(program: str) -> Callable[[list[str]], str | None]:
    def rule(args: list[str]) -> str | None:
        positional = [a for a in args if not a.startswith("-")]
        if not positional:
            # 'yarn' alone installs; 'npm --version' and the like only print.
            return None if program == "yarn" or args else f"`{program}` needs a subcommand"
        sub = positional[0]
        if sub in ("install", "i", "ci", "add"):
            if sub == "add" or len(positional) > 1:
                return (
                    f"`{program} {sub}` with package names changes the project's dependencies; "
                    f"only a plain `{program} install` is allowed"
                )
            return None
        return _subcommand(
            args, {"test", "t", "run", "run-script", "install", "i", "ci", "ls", "list"}, program
        )

    return rule


_NPX_TOOLS = {"jest", "tsc", "vitest", "mocha", "eslint", "prettier", "ts-node", "tsx"}


def _npx(args: list[str]) -> str | None:
    tool = next((a for a in args if not a.startswith("-")), "")
    if tool in _NPX_TOOLS:
        return None
    return f"npx may run only {', '.join(sorted(_NPX_TOOLS))} (not `{tool}`): it downloads anything else"


def _python(args: list[str]) -> str | None:
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] not in ("-", "-c", "-m"):
        index += 2 if args[index] in ("-W", "-X") else 1
    if args[index : index + 2] == ["-m", "pip"] and args[index + 2 : index + 3] not in (
        ["list"],
        ["show"],
        ["freeze"],
        ["check"],
    ):
        return "`python -m pip` may only list, show, freeze or check: installing changes the environment"
    return None


_FIND_ACTIONS = {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"}


def _find(args: list[str]) -> str | None:
    bad = [a for a in args if a in _FIND_ACTIONS]
    return f"`find {bad[0]}` runs or deletes things; use find only to list files" if bad else None


_SED_ADDRESS = r"(?:\d+|\$|/(?:[^/\\\n]|\\.)*/)"
_SED_COMMAND = re.compile(
    rf"\s*(?:{_SED_ADDRESS}(?:\s*,\s*(?:{_SED_ADDRESS}|\+\d+))?)?\s*!?\s*"
    r"(?:[pdq=]\d*|s(?P<d>[^\s\w\\])(?:(?!(?P=d))[^\\\n]|\\.)*(?P=d)(?:(?!(?P=d))[^\\\n]|\\.)*(?P=d)[gpiI0-9]*)\s*"
)


def _sed_script_is_read_only(script: str) -> bool:
    """Prints, deletes, quits and `s///` substitutions only: no w/W/e/r commands or flags."""
    pos = 0
    while True:
        match = _SED_COMMAND.match(script, pos)
        if not match or match.end() == pos:
            return False
        pos = match.end()
        if pos == len(script):
            return True
        if script[pos] not in ";\n":
            return False
        pos += 1
        if pos == len(script):
            return True


def _sed(args: list[str]) -> str | None:
    scripts: list[str] = []
    index = 0
    explicit = False
    while index < len(args):
        arg = args[index]
        if arg.startswith("--in-place") or (
            arg.startswith("-") and not arg.startswith("--") and "i" in arg[1:]
        ):
            return "`sed -i` edits files in place; use Edit instead"
        if arg in ("-f", "--file") or arg.startswith("--file="):
            return "`sed -f` runs a script file that cannot be checked"
        if arg.startswith("--expression="):
            scripts.append(arg.split("=", 1)[1])
            explicit = True
        elif arg == "--expression" or (
            arg.startswith("-") and not arg.startswith("--") and arg.endswith("e")
        ):
            if index + 1 < len(args):
                scripts.append(args[index + 1])
            explicit = True
            index += 1
        elif not arg.startswith("-") and not explicit and not scripts:
            scripts.append(arg)
        index += 1
    if all(_sed_script_is_read_only(s) for s in scripts):
        return None
    return "only sed scripts that print, delete or substitute are allowed (e.g. `sed -n '10,20p' file`)"


def _tee(args: list[str]) -> str | None:
    outside = [a for a in args if not a.startswith("-") and not _path_inside(a)]
    return f"`tee {outside[0]}` writes outside the workspace" if outside else None


def _cmake(args: list[str]) -> str | None:
    return "`cmake -E` runs file commands (remove, copy)" if "-E" in args else None


def _cd(args: list[str]) -> str | None:
    target = next((a for a in args if not a.startswith("-") or a == "-"), None)
    if target == "-":
        target = None
    if target is None or target.startswith("/") or not _path_inside(target):
        return "`cd` may only enter folders inside the workspace (a relative path without '..')"
    return None


def _export(args: list[str]) -> str | None:
    for arg in args:
        name = arg.split("=", 1)[0]
        if _DANGEROUS_VARIABLES.fullmatch(name):
            return f"setting {name} changes which programs run"
    return None


_RULES: dict[str, Callable[[list[str]], str | None]] = {
    "git": _git,
    "go": _go,
    "cargo": _cargo,
    "npm": _package_manager("npm"),
    "yarn": _package_manager("yarn"),
    "pnpm": _package_manager("pnpm"),
    "npx": _npx,
    "python": _python,
    "find": _find,
    "sed": _sed,
    "tee": _tee,
    "cmake": _cmake,
    "cd": _cd,
    "export": _export,
    "sort": lambda args: _outputs_inside(args, ("-o", "--output")),
    "javac": lambda args: _outputs_inside(args, ("-d",)),
    **{
        cc: (lambda args: _outputs_inside(args, ("-o",)))
        for cc in ("gcc", "g++", "clang", "clang++", "cc", "c++")
    },
}


def _program_name(word: _Word) -> str:
    name = word.text.rsplit("/", 1)[-1]
    if re.fullmatch(r"python\d*(\.\d+)?", name):
        return "python"
    return name


# Wrapper options that take a value, so that value is not mistaken for the wrapped program.
_WRAPPER_VALUE_OPTIONS = {
    "env": {"-u", "--unset"},
    "nice": {"-n", "--adjustment"},
    "timeout": {"-s", "--signal", "-k", "--kill-after"},
    "stdbuf": {"-i", "-o", "-e"},
    "xargs": {
        "-n",
        "-I",
        "-d",
        "-L",
        "-P",
        "-s",
        "-E",
        "-a",
        "--max-args",
        "--max-procs",
        "--delimiter",
        "--arg-file",
    },
    "time": set(),
    "command": set(),
}


@dataclass
class _Analysis:
    programs: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)  # never run without asking
    unlisted: list[str] = field(default_factory=list)  # not on the allow-list

    def problems(self) -> list[str]:
        return self.forbidden + self.unlisted


def _unwrap(words: list[_Word], found: _Analysis) -> list[_Word]:
    """Drop assignments and wrappers; return the words of the command that really runs."""
    while words:
        if not words[0].quoted and _ASSIGNMENT.match(words[0].text):
            name = words[0].text.split("=", 1)[0]
            if _DANGEROUS_VARIABLES.fullmatch(name):
                found.forbidden.append(f"setting {name} changes which programs run")
            words = words[1:]
            continue
        name = _program_name(words[0])
        if name not in _WRAPPER_VALUE_OPTIONS or words[0].expands:
            return words
        if name == "command" and any(w.text in ("-v", "-V") for w in words[1:2]):
            return []  # 'command -v x' only asks where x is
        if name == "env" and any(
            w.text.startswith(("-C", "--chdir", "-S", "--split-string")) for w in words[1:]
        ):
            found.unlisted.append("`env -C`/`env -S` cannot be checked")
            return []
        found.programs.append(name)
        rest = words[1:]
        takes_value = _WRAPPER_VALUE_OPTIONS[name]
        while rest and rest[0].text.startswith("-") and rest[0].text != "-":
            option = rest[0].text
            rest = rest[2:] if option in takes_value else rest[1:]
        if name == "timeout" and rest:
            rest = rest[1:]  # the duration
        if not rest:
            return []  # 'env', 'time' or 'xargs' alone: nothing else runs ('xargs' runs echo)
        words = rest
    return words


def _judge(command: _Command, extra_allow: list[list[str]], found: _Analysis, root: Path | None) -> None:
    for op, target in command.redirects:
        if op in (">&", "<&") and (target.text.isdigit() or target.text == "-"):
            continue  # 2>&1, >&-: file descriptors, not files
        if op in ("<<", "<<-", "<<<"):
            continue  # here-documents and here-strings: text, not files
        if op not in _WRITES:
            escape = _escapes(target, root)
            if escape:
                found.forbidden.append(f"redirection `{op} {target.text}` reads a file: {escape}")
            continue
        if target.expands:
            found.forbidden.append(
                f"redirection `{op} {target.text}` writes to a file that cannot be checked"
            )
        elif not _path_inside(target.text) or _escapes(target, root):
            found.forbidden.append(f"redirection `{op} {target.text}` writes outside the workspace")
    if command.background:
        found.forbidden.append("running a command in the background with `&`")

    words = _unwrap(command.words, found)
    if not words:
        return
    head = words[0]
    name = _program_name(head)
    args = [w.text for w in words[1:]]
    found.programs.append(name)

    if head.expands:
        found.unlisted.append(f"the program `{head.text}` comes from an expansion and cannot be checked")
        return
    if head.text.startswith("/") and not head.text.startswith(_SYSTEM_BIN):
        found.unlisted.append(f"`{head.text}` is outside the system folders; name the program instead")
        return
    if "/" in head.text and not head.text.startswith("/") and not _path_inside(head.text):
        found.unlisted.append(f"`{head.text}` is outside the workspace")
        return
    if name in _NEVER:
        found.forbidden.append(f"`{name}` {_NEVER[name]}")
        return
    if name in _SHELLS:
        inline = "-c" in args or "-s" in args or not [a for a in args if not a.startswith("-")]
        if inline or command.piped:
            found.forbidden.append(f"`{name}` running inline or piped shell code")
            return
    if name == "rm":
        danger = _rm_danger(args)
        if danger:
            found.forbidden.append(danger)
            return
    if any([w.text for w in words[: len(entry)]] == entry for entry in extra_allow):
        return
    if name in _READS_PATHS:
        follows = _follows_links(name, {w.text.split("=", 1)[0] for w in words[1:] if w.text.startswith("-")})
        escapes = [follows] if follows else [e for w in _read_paths(name, words[1:]) if (e := _escapes(w, root))]
        if escapes:
            found.forbidden.append(f"`{name}` would read outside the workspace: {escapes[0]}")
            return
    if name == "cd" and root is not None:
        folder = next((w for w in words[1:] if not w.text.startswith("-")), None)
        if folder is not None and _escapes(folder, root):
            found.forbidden.append(f"`cd {folder.text}` leads outside the workspace through a link")
            return
    if name in _READ_ONLY or name in _BUILD:
        return
    rule = _RULES.get(name)
    if rule is None:
        found.unlisted.append(f"`{name}` is not on the allow-list")
        return
    problem = rule(args)
    if problem:
        found.unlisted.append(problem)


def _rm_danger(args: list[str]) -> str | None:
    if "--no-preserve-root" in args:
        return "`rm --no-preserve-root` is never run"
    for arg in args:
        if arg.startswith("-"):
            continue
        if arg in ("*", ".", "./", "./*") or not _path_inside(arg):
            return f"`rm {arg}` would delete outside the workspace or all of it"
    return None


def _analyse(command: str, extra_allow: Sequence[str], root: Path | None) -> _Analysis:
    lexer = _Lexer(command)
    tokens = lexer.run()
    found = _Analysis()
    commands = _split(tokens, lexer.hazards)
    found.forbidden.extend(dict.fromkeys(lexer.hazards))
    entries = [entry.split() for entry in extra_allow if entry.strip()]
    for simple in commands:
        _judge(simple, entries, found, root)
    if not commands:
        found.unlisted.append("the command is empty")
    return found


def check(command: str, policy: BashPolicy, extra_allow: Sequence[str] = (),
          root: Path | None = None) -> PolicyDecision:
    """Decide whether `command` may run under `policy`; `extra_allow` adds program names (or
    'program subcommand' prefixes) to the built-in allow-list. With `root` (the workspace the
    command runs in), paths are also checked through symlinks."""
    if policy == "never":
        return PolicyDecision(allowed=False, reason="Bash is turned off (bash policy 'never').")
    try:
        found = _analyse(command, extra_allow, root.resolve() if root is not None else None)
        problems = found.problems()
    except _ParseError as exc:
        found = _Analysis()
        problems = [f"the command could not be parsed: {exc}"]
    programs = list(dict.fromkeys(found.programs))
    if policy == "always":
        return PolicyDecision(
            allowed=True, reason="bash policy 'always' allows every command", programs=programs
        )
    if not problems:
        listed = ", ".join(programs) or "no program"
        return PolicyDecision(allowed=True, reason=f"allow-listed: {listed}", programs=programs)
    reason = "; ".join(dict.fromkeys(problems))
    if policy == "ask":
        return PolicyDecision(allowed=False, needs_confirmation=True, reason=reason, programs=programs)
    return PolicyDecision(allowed=False, reason=f"{reason}. {ALLOWED_SUMMARY}", programs=programs)
