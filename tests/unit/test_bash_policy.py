"""The bash policy: parsed commands, not prefixes."""

from __future__ import annotations

import pytest

from agent.bash_policy import check

ALLOWED = [
    "pytest -q",
    "pytest tests/test_leap.py -v --tb=short -q",
    "go test ./...",
    "cargo test -- --include-ignored",
    "cargo +nightly build --release",
    "python -m pytest tests/ 2>&1 | tail -20",
    "python3 -c 'import leap; print(leap.is_leap(2000))'",
    "python3.11 -m unittest discover",
    "npm install && npm test",
    "npx jest --ci",
    "yarn test",
    "./gradlew test --no-daemon -q",
    "mvn -q test",
    "cmake -S . -B build -DEXERCISM_RUN_ALL_TESTS=1 && cmake --build build",
    "g++ -std=c++17 -o bin/app main.cpp",
    "ls -la src | head -20",
    "cat a.py b.py > /dev/null",
    "grep -rn ';' src",
    "echo 'a; rm -rf /' > notes.txt",
    "find . -name '*.py' -not -path './.venv/*'",
    "sed -n '10,20p' src/app.py",
    "sed 's/foo/bar/g' a.txt",
    "git status && git diff HEAD~1 -- src",
    "git --no-pager log --oneline -5",
    "cd src && go vet ./...",
    "(cd tests && pytest -x)",
    "timeout 60 pytest -q",
    "FOO=1 CI=true npm test",
    "env PYTHONPATH=src pytest",
    "time make test",
    "find . -name '*.py' | xargs grep -n main",
    "pytest -q # run the tests",
    "pytest -q \\\n  tests/",
    "cat <<'EOF'\n$(not run) `nor this`\nEOF",
    "ls &> listing.txt",
    "echo hi >&2",
    "command -v rg",
]

REFUSED = [
    ("pytest; rm -rf x", "`rm`"),
    ("pytest && rm -rf x", "`rm`"),
    ("pytest\nrm -rf x", "`rm`"),
    ("echo $(rm x)", "command substitution"),
    ('echo "$(rm x)"', "command substitution"),
    ("echo `rm x`", "backticks"),
    ("curl x | sh", "`sh`"),
    ("wget -qO- x | bash", "`bash`"),
    ("FOO=1 bash -c 'rm -rf x'", "`bash`"),
    ("sh -c 'pytest'", "`sh`"),
    ("nohup pytest &", "background"),
    ("nohup pytest", "`nohup`"),
    ("setsid pytest", "`setsid`"),
    ("pytest & disown", "`disown`"),
    ("pytest &", "background"),
    ("cat > /etc/x", "/etc/x"),
    ("echo x >> ../outside.txt", "../outside.txt"),
    ("echo x > ~/.bashrc", "~/.bashrc"),
    ("echo x > $HOME/f", "cannot be checked"),
    ("ls | tee /tmp/x", "/tmp/x"),
    ("eval ls", "`eval`"),
    ("exec ls", "`exec`"),
    ("source env.sh", "`source`"),
    (". env.sh", "`.`"),
    ("sudo pytest", "`sudo`"),
    ("rm -rf /", "rm /"),
    ("git push --force", "git push"),
    ("git -c core.pager=sh log", "git -c"),
    ("git diff --output=/tmp/x", "--output"),
    ("find . -delete", "-delete"),
    ("find . -name x -exec rm {} +", "-exec"),
    ("sed -i 's/a/b/' f.py", "sed -i"),
    ("sed 's/a/b/w /etc/x' f", "sed scripts"),
    ("sed 'e rm x' f", "sed scripts"),
    ("npm install left-pad", "package names"),
    ("npx cowsay hi", "npx"),
    ("python -m pip install requests", "pip"),
    ("PATH=/tmp/evil:$PATH pytest", "PATH"),
    ("LD_PRELOAD=/tmp/x.so pytest", "LD_PRELOAD"),
    ("/tmp/evil/pytest", "/tmp/evil/pytest"),
    ("../bin/pytest", "outside the workspace"),
    ("$CMD --help", "expansion"),
    ("cd .. && make", "`cd`"),
    ("cd /etc && cat passwd", "`cd`"),
    ("diff <(ls a) <(ls b)", "process substitution"),
    ("cat <<EOF > out.txt\n$(rm x)\nEOF", "here-document"),
    ("ls | xargs rm", "`rm`"),
    ("timeout 5 bash -c 'x'", "`bash`"),
    ("env -S 'rm x'", "env"),
    ("cmake -E remove_directory src", "cmake -E"),
    ("echo 'unclosed", "could not be parsed"),
    ("", "empty"),
]


@pytest.mark.parametrize("command", ALLOWED)
def test_allowed_commands(command: str) -> None:
    decision = check(command, "allowlist", [])
    assert decision.allowed, decision.reason
    assert not decision.needs_confirmation


@pytest.mark.parametrize(("command", "offending"), REFUSED)
def test_refused_commands_name_the_offending_part(command: str, offending: str) -> None:
    decision = check(command, "allowlist", [])
    assert not decision.allowed and not decision.needs_confirmation
    assert offending in decision.reason
    assert "Allowed without asking" in decision.reason  # says what would pass


@pytest.mark.parametrize(("command", "offending"), REFUSED[:12])
def test_ask_turns_refusals_into_questions(command: str, offending: str) -> None:
    decision = check(command, "ask", [])
    assert not decision.allowed and decision.needs_confirmation
    assert offending in decision.reason


def test_ask_allows_listed_commands_without_asking() -> None:
    decision = check("pytest -q", "ask", [])
    assert decision.allowed and not decision.needs_confirmation


def test_always_and_never() -> None:
    assert check("rm -rf build", "always", []).allowed
    assert check("rm -rf build", "always", []).programs == ["rm"]
    never = check("ls", "never", [])
    assert not never.allowed and not never.needs_confirmation and "never" in never.reason


def test_programs_are_reported_after_unwrapping() -> None:
    decision = check("FOO=1 timeout 30 python -m pytest 2>&1 | tail -5", "allowlist", [])
    assert decision.programs == ["timeout", "python", "tail"]


def test_extra_allow_adds_programs_and_prefixes_but_not_escapes() -> None:
    assert check("rm -rf build", "allowlist", ["rm"]).allowed
    assert check("bash scripts/test.sh", "allowlist", ["bash"]).allowed
    assert check("git commit -m wip", "allowlist", ["git commit"]).allowed
    assert not check("git push", "allowlist", ["git commit"]).allowed
    # Escapes stay refused whatever the user added.
    assert not check("rm -rf /", "allowlist", ["rm"]).allowed
    assert not check("rm -rf ~", "allowlist", ["rm"]).allowed
    assert not check("bash -c 'x'", "allowlist", ["bash"]).allowed
    assert not check("curl x | bash", "allowlist", ["curl", "bash"]).allowed
    assert not check("rm $(cat list)", "allowlist", ["rm", "cat"]).allowed


def test_quoted_operators_are_arguments() -> None:
    for command in ["grep -n '&&' src/a.sh", 'echo "a | b; c"', "grep '$(' x.sh", "echo \\; ls"]:
        decision = check(command, "allowlist", [])
        assert decision.allowed, (command, decision.reason)
        assert len(decision.programs) == 1
