"""Stub, TODO and selection targets for code actions (lc_lsp.stubs), language by language."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lc_lsp.languages import GRAMMARS, resolve
from lc_lsp.stubs import (
    TREE_SITTER_MAX_CHARS,
    StubReason,
    Target,
    analyze,
    find_targets,
    list_stubs,
)

R = StubReason


def where(text: str, needle: str, after: tuple[int, int] = (0, 0), end: bool = False) -> tuple[int, int]:
    """(line, column) of `needle` in text (its end with end=True), searching from `after`."""
    lines = text.split("\n")
    offset = sum(len(line) + 1 for line in lines[: after[0]]) + after[1]
    found = text.index(needle, offset) + (len(needle) if end else 0)
    line = text.count("\n", 0, found)
    return line, found - (text.rfind("\n", 0, found) + 1)


def span(text: str, first: str, last: str) -> tuple[tuple[int, int], tuple[int, int]]:
    start = where(text, first)
    return start, where(text, last, after=start, end=True)


def as_tuple(r: object) -> tuple[tuple[int, int], tuple[int, int]]:
    assert r is not None
    return (r.start.line, r.start.column), (r.end.line, r.end.column)  # type: ignore[attr-defined]


def stubs_at(text: str, language: str | None, line: int, column: int, path: str | None = None) -> list[Target]:
    return [t for t in find_targets(text, language, path, line, column) if t.kind == "stub"]


def stub_at(text: str, language: str | None, line: int, column: int, path: str | None = None) -> Target | None:
    found = stubs_at(text, language, line, column, path)
    assert len(found) <= 1
    return found[0] if found else None


def todos_at(text: str, language: str | None, line: int, column: int = 0) -> list[Target]:
    return [t for t in find_targets(text, language, None, line, column) if t.kind == "todo"]


@dataclass
class Sample:
    language: str
    text: str
    stubs: dict[str, StubReason]
    # Snippets on lines of implemented code: no stub may be offered there.
    quiet: list[str] = field(default_factory=list)
    path: str | None = None


PYTHON = Sample(
    "python",
    '''import datetime


def leap_year(year):
    pass


class Clock:
    """A clock without dates."""

    def __init__(self, hour, minute):
        pass

    # Shown to people.
    def __repr__(self):
        raise NotImplementedError("Implement Clock.__repr__")

    @property
    def minutes(self):
        """Minutes since midnight."""
        ...

    def __add__(self, minutes):
        return Clock(self.hour, self.minute + minutes)

    def total(self):
        # TODO: count the days too
        return None


def helper():
    def inner(value):
        raise NotImplementedError
    return inner(1) + 2
''',
    {
        "leap_year": R.PASS,
        "Clock.__init__": R.PASS,
        "Clock.__repr__": R.RAISE_NOT_IMPLEMENTED,
        "Clock.minutes": R.ELLIPSIS,
        "Clock.total": R.PLACEHOLDER_RETURN,
        "inner": R.RAISE_NOT_IMPLEMENTED,
    },
    quiet=[
        "import datetime",
        "class Clock:",
        '"""A clock',
        "def __add__",
        "return Clock(",
        "def helper",
        "return inner(1)",
    ],
)

JAVASCRIPT = Sample(
    "javascript",
    """//
// This is only a SKELETON file for the 'Leap' exercise. It's been provided as a
// convenience to get you started writing code faster.
//

export const isLeap = () => {
  throw new Error('Remove this statement and implement this function');
};

export function twice(n) {
  return n * 2;
}

export class Robot {
  constructor() {}

  get name() {
    throw new Error('Please implement the name getter');
  }

  reset() {
    // TODO: forget the old name
  }

  static release = () => {};
}

export const api = {
  run() {
    throw new Error('Not implemented yet');
  },
  ping: function () {
    return 'pong';
  },
};

document.onclick = () => {};
""",
    {
        "isLeap": R.THROW_NOT_IMPLEMENTED,
        "Robot.name": R.THROW_NOT_IMPLEMENTED,
        "Robot.reset": R.TODO_COMMENT,
        "Robot.release": R.EMPTY_BODY,
        "api.run": R.THROW_NOT_IMPLEMENTED,
        "document.onclick": R.EMPTY_BODY,
    },
    quiet=["This is only a SKELETON", "export function twice", "return n * 2", "constructor() {}", "return 'pong'"],
)

TYPESCRIPT = Sample(
    "typescript",
    """export const isLeap = (year: number): boolean => {
  throw new Error('Remove this statement and implement this function')
}

export class Robot {
  private names = new Set<string>()

  constructor(private seed: number) {}

  public get name(): string {
    throw new Error('Implement the name getter')
  }

  public resetName(): void {}

  public static releaseNames(): void {
    // TODO: empty the registry
  }

  public count(): number {
    return this.names.size
  }
}

export abstract class Shape {
  abstract area(): number
}
""",
    {
        "isLeap": R.THROW_NOT_IMPLEMENTED,
        "Robot.name": R.THROW_NOT_IMPLEMENTED,
        "Robot.resetName": R.EMPTY_BODY,
        "Robot.releaseNames": R.TODO_COMMENT,
    },
    quiet=["private names", "constructor(private seed", "public count()", "return this.names.size", "abstract area()"],
)

TSX = Sample(
    "typescriptreact",
    """import React from 'react';

export function Greeting({ name }: { name: string }) {
  return <div onClick={() => {}}>Hello {name}</div>;
}

export const Badge = (): JSX.Element => {
  throw new Error('Not implemented');
};
""",
    {"Badge": R.THROW_NOT_IMPLEMENTED},
    quiet=["import React", "export function Greeting", "return <div"],
    path="src/Badge.tsx",
)

GO = Sample(
    "go",
    """// Package leap reports leap years.
package leap

// IsLeap should have a comment documenting it.
func IsLeap(year int) bool {
	panic("Please implement the IsLeap function")
}

type Stack[T any] struct{ items []T }

func (s *Stack[T]) Push(v T) {}

func (s Stack[T]) Len() int {
	return len(s.items)
}

func (s *Stack[T]) Pop() T {
	// TODO: take the last item
	var zero T
	return zero
}

func Describe() string {
	return "" // TODO: describe the stack
}
""",
    {"IsLeap": R.PANIC, "(*Stack).Push": R.EMPTY_BODY, "Describe": R.PLACEHOLDER_RETURN},
    quiet=["package leap", "type Stack", "func (s Stack[T]) Len", "return len(s.items)", "var zero T"],
)

RUST = Sample(
    "rust",
    """use std::fmt;

/// Whether `year` is a leap year.
#[must_use]
pub fn is_leap_year(year: u64) -> bool {
    todo!("true if {year} is a leap year")
}

pub struct Clock {
    minutes: i32,
}

impl Clock {
    pub fn new(hours: i32, minutes: i32) -> Self {
        unimplemented!("Construct a new Clock from {hours} hours and {minutes} minutes");
    }

    pub fn reset(&mut self) {}

    pub fn minutes(&self) -> i32 {
        self.minutes
    }

    pub fn hours(&self) -> i32 {}
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}
""",
    {
        "is_leap_year": R.TODO_MACRO,
        "Clock::new": R.UNIMPLEMENTED_MACRO,
        "Clock::reset": R.EMPTY_BODY,
        "Clock::fmt": R.TODO_MACRO,
    },
    quiet=["use std::fmt", "pub struct Clock", "minutes: i32,", "pub fn minutes", "self.minutes\n", "pub fn hours"],
)

JAVA = Sample(
    "java",
    """import java.util.List;

class BankAccount {

    private int balance;

    BankAccount() {
        throw new UnsupportedOperationException("Delete this statement and write your own implementation.");
    }

    /** Opens the account. */
    @Deprecated
    void open() {
    }

    int balance() {
        // TODO: refuse when closed
        return 0;
    }

    int deposit(int amount) {
        balance += amount;
        return balance;
    }

    static class Ledger {
        Ledger(List<String> lines) {}

        String last() {
            // TODO write the ledger
        }
    }
}
""",
    {
        "BankAccount.BankAccount": R.UNSUPPORTED_OPERATION,
        "BankAccount.open": R.EMPTY_BODY,
        "BankAccount.balance": R.PLACEHOLDER_RETURN,
        "BankAccount.Ledger.last": R.TODO_COMMENT,
    },
    quiet=["import java", "private int balance", "int deposit", "balance += amount", "Ledger(List<String>"],
)

C = Sample(
    "c",
    """#include "leap.h"

bool leap_year(int year)
{
   // TODO: implement the leap year rule
}

static const char *name(void) { return NULL; /* TODO */ }

int twice(int n)
{
   return 2 * n;
}
""",
    {"leap_year": R.TODO_COMMENT, "name": R.PLACEHOLDER_RETURN},
    quiet=['#include "leap.h"', "int twice", "return 2 * n"],
)

CPP = Sample(
    "cpp",
    """#include "clock.h"

namespace date_independent {

bool is_leap_year(int year) {
    // TODO: implement the rule
}

clock clock::plus(int minutes) const {
    throw std::logic_error("Please implement clock::plus");
}

int clock::hour() const {
    return 0;  // TODO: real hours
}

class robot {
  public:
    robot() {}
    ~robot() {}
    std::string name() const {}
    int id() const { return id_; }

  private:
    int id_;
};

template <typename T>
void stack<T>::push(T value) {}

}  // namespace date_independent
""",
    {
        "is_leap_year": R.TODO_COMMENT,
        "clock::plus": R.LOGIC_ERROR,
        "clock::hour": R.PLACEHOLDER_RETURN,
        "robot::name": R.EMPTY_BODY,
        "stack::push": R.EMPTY_BODY,
    },
    quiet=["namespace date_independent", "class robot", "robot() {}", "~robot() {}", "int id() const", "int id_;"],
)

KOTLIN = Sample(
    "kotlin",
    """object Leap {
    fun isLeap(year: Int): Boolean {
        TODO("Implement this function to complete the task")
    }

    fun twice(n: Int) = n * 2

    fun later(): Int = TODO()

    fun describe(): String {
        return "leap"
    }
}
""",
    {"Leap.isLeap": R.TODO_CALL, "Leap.later": R.TODO_CALL},
    quiet=["fun twice", "fun describe", 'return "leap"'],
)

SAMPLES = [PYTHON, JAVASCRIPT, TYPESCRIPT, TSX, GO, RUST, JAVA, C, CPP, KOTLIN]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.language)
def test_list_stubs_finds_exactly_the_stubs(sample: Sample) -> None:
    found = {t.name: t.stub_reason for t in list_stubs(sample.text, sample.language, sample.path)}
    assert found == sample.stubs


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.language)
def test_every_line_of_a_stub_offers_it(sample: Sample) -> None:
    for stub in list_stubs(sample.text, sample.language, sample.path):
        (first, _), (last, _) = as_tuple(stub.symbol_range)
        lines = sample.text.split("\n")
        for line in range(first, last + 1):
            for column in (0, len(lines[line]) // 2, len(lines[line])):
                found = stub_at(sample.text, sample.language, line, column, sample.path)
                assert found == stub, (stub.name, line, column)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.language)
def test_implemented_code_offers_no_stub(sample: Sample) -> None:
    for snippet in sample.quiet:
        line, column = where(sample.text, snippet)
        for col in (0, column, column + 1):
            assert stubs_at(sample.text, sample.language, line, col, sample.path) == [], (snippet, col)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.language)
def test_stub_targets_are_consistent(sample: Sample) -> None:
    for stub in list_stubs(sample.text, sample.language, sample.path):
        assert stub.kind == "stub"
        assert stub.range == stub.symbol_range
        (start, end), (body_start, body_end) = as_tuple(stub.symbol_range), as_tuple(stub.body_range)
        assert start <= body_start <= body_end <= end
        assert stub.fallback == stub.language.endswith(" (regex)")


# -- exact ranges ---------------------------------------------------------------------------------


def test_python_exercism_stub_ranges() -> None:
    text = "def leap_year(year):\n    pass\n"
    (stub,) = list_stubs(text, "python", None)
    assert stub.name == "leap_year"
    assert stub.language == "python"
    assert stub.stub_reason is R.PASS
    assert as_tuple(stub.symbol_range) == ((0, 0), (1, 8))
    assert as_tuple(stub.body_range) == ((1, 4), (1, 8))
    assert stub_at(text, "python", 2, 0) is None  # the empty line after it


def test_python_decorated_method_range_includes_decorator() -> None:
    stub = stub_at(PYTHON.text, "python", *where(PYTHON.text, "..."))
    assert stub is not None and stub.name == "Clock.minutes"
    assert as_tuple(stub.symbol_range) == span(PYTHON.text, "@property", "...")
    assert as_tuple(stub.body_range) == span(PYTHON.text, '"""Minutes since', "...")


def test_javascript_exported_arrow_range_is_the_statement() -> None:
    stub = stub_at(JAVASCRIPT.text, "javascript", *where(JAVASCRIPT.text, "throw new Error('Remove"))
    assert stub is not None and stub.name == "isLeap"
    assert as_tuple(stub.symbol_range) == span(JAVASCRIPT.text, "export const isLeap", "};")
    assert as_tuple(stub.body_range) == span(JAVASCRIPT.text, "{\n  throw new Error('Remove", "}")


def test_go_stub_ranges() -> None:
    stub = stub_at(GO.text, "go", *where(GO.text, "panic("))
    assert stub is not None and stub.name == "IsLeap"
    assert as_tuple(stub.symbol_range) == span(GO.text, "func IsLeap", 'function")\n}')
    assert stub.stub_reason is R.PANIC


def test_rust_stub_ranges() -> None:
    stub = stub_at(RUST.text, "rust", *where(RUST.text, 'todo!("true'))
    assert stub is not None and stub.name == "is_leap_year"
    assert as_tuple(stub.symbol_range) == span(RUST.text, "pub fn is_leap_year", 'year")\n}')
    assert as_tuple(stub.body_range) == span(RUST.text, '{\n    todo!("true', 'year")\n}')


def test_java_stub_ranges() -> None:
    stub = stub_at(JAVA.text, "java", *where(JAVA.text, "throw new Unsupported"))
    assert stub is not None and stub.name == "BankAccount.BankAccount"
    assert as_tuple(stub.symbol_range) == span(JAVA.text, "BankAccount() {", 'implementation.");\n    }')


def test_java_exercism_leap() -> None:
    text = """class Leap {

    boolean isLeapYear(int year) {
        throw new UnsupportedOperationException("Delete this statement and write your own implementation.");
    }

}
"""
    (stub,) = list_stubs(text, "java", "Leap.java")
    assert (stub.name, stub.stub_reason) == ("Leap.isLeapYear", R.UNSUPPORTED_OPERATION)
    assert as_tuple(stub.symbol_range) == span(text, "boolean isLeapYear", "}")
    assert stub_at(text, "java", 2, 0) == stub and stub_at(text, "java", 0, 0) is None


def test_cpp_template_definition_range_includes_template_header() -> None:
    stub = stub_at(CPP.text, "cpp", *where(CPP.text, "void stack<T>::push"))
    assert stub is not None and stub.name == "stack::push"
    assert as_tuple(stub.symbol_range) == span(CPP.text, "template <typename T>", "push(T value) {}")
    start = where(CPP.text, "push(T value) ", end=True)
    assert as_tuple(stub.body_range) == (start, where(CPP.text, "{}", after=start, end=True))


def test_cpp_exercism_todo_stub() -> None:
    text = "bool is_leap_year(int year) {\n    // TODO: implement\n}\n"
    (stub,) = list_stubs(text, "cpp", None)
    assert (stub.name, stub.stub_reason) == ("is_leap_year", R.TODO_COMMENT)
    assert as_tuple(stub.symbol_range) == ((0, 0), (2, 1))


# -- cursor placement -----------------------------------------------------------------------------


def test_cursor_on_doc_comment_and_decorator_lines_above_a_stub() -> None:
    comment = where(PYTHON.text, "# Shown to people.")
    stub = stub_at(PYTHON.text, "python", *comment)
    assert stub is not None and stub.name == "Clock.__repr__"
    stub = stub_at(PYTHON.text, "python", *where(PYTHON.text, "@property"))
    assert stub is not None and stub.name == "Clock.minutes"
    # Go: the doc comment; Rust: doc comment and attribute; Java: Javadoc and annotation.
    assert stub_at(GO.text, "go", *where(GO.text, "// IsLeap should")).name == "IsLeap"  # type: ignore[union-attr]
    for snippet in ("/// Whether", "#[must_use]"):
        assert stub_at(RUST.text, "rust", *where(RUST.text, snippet)).name == "is_leap_year"  # type: ignore[union-attr]
    for snippet in ("/** Opens", "@Deprecated"):
        assert stub_at(JAVA.text, "java", *where(JAVA.text, snippet)).name == "BankAccount.open"  # type: ignore[union-attr]


def test_a_blank_line_separates_a_comment_from_the_function_below() -> None:
    # The exercism header comment ends with a blank line before `isLeap`.
    for line in range(5):
        assert stubs_at(JAVASCRIPT.text, "javascript", line, 3) == []
    # A Go package comment is not the doc of IsLeap.
    assert stubs_at(GO.text, "go", 0, 5) == []


def test_nested_function_innermost_stub_wins_and_outer_is_quiet() -> None:
    stub = stub_at(PYTHON.text, "python", *where(PYTHON.text, "raise NotImplementedError\n"))
    assert stub is not None and stub.name == "inner"
    assert stub_at(PYTHON.text, "python", *where(PYTHON.text, "return inner(1)")) is None
    text = """export const make = () => {
  const run = () => {
    throw new Error('Please implement run');
  };
  return { run };
};
"""
    stub = stub_at(text, "javascript", 2, 6)
    assert stub is not None and stub.name == "run"
    assert as_tuple(stub.symbol_range) == span(text, "const run", "};")
    assert stub_at(text, "javascript", 4, 4) is None


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("python", "def f(x):\n    pass\n    return x * 2\n"),
        ("python", "def f(x):\n    if x:\n        raise NotImplementedError\n"),
        ("javascript", "function f(x) {\n  throw new Error('Please implement');\n  return x;\n}\n"),
        ("go", 'package p\n\nfunc F(x int) int {\n\tpanic("x")\n\treturn x\n}\n'),
        ("rust", "fn f(x: i32) -> i32 {\n    todo!();\n    x\n}\n"),
        (
            "java",
            "class A {\n  int f(int x) {\n    throw new UnsupportedOperationException();\n    return x;\n  }\n}\n",
        ),
        ("cpp", 'int f(int x) {\n  throw std::logic_error("implement");\n  return x;\n}\n'),
        ("ruby", "def f(x)\n  raise NotImplementedError\n  x\nend\n"),
        ("kotlin", "fun f(x: Int): Int {\n    TODO()\n    return x\n}\n"),
    ],
)
def test_a_stub_statement_among_real_code_is_not_a_stub(language: str, text: str) -> None:
    assert list_stubs(text, language, None) == []
    assert stubs_at(text, language, 1, 4) == []


def test_cursor_past_the_end_is_clamped() -> None:
    text = "def f():\n    pass\n"
    assert stub_at(text, "python", 1, 500) is not None
    assert stub_at(text, "python", 99, 0) is None  # the empty last line
    assert stub_at(text, "python", -3, -1) is not None  # clamped to line 0


def test_anonymous_callbacks_are_not_targets() -> None:
    text = "items.forEach(() => {});\npromise.catch(function () {});\n"
    assert list_stubs(text, "javascript", None) == []
    assert stubs_at(text, "javascript", 0, 18) == []


# -- TODO comments --------------------------------------------------------------------------------


def test_todo_comment_inside_a_function_with_continuation_lines() -> None:
    text = """def total(self):
    # TODO: count the days
    #   and the leap seconds
    x = 1  # FIXME later
    return x
"""
    for line in (1, 2):
        (todo,) = todos_at(text, "python", line)
        assert todo.comment == "# TODO: count the days\n#   and the leap seconds"
        assert as_tuple(todo.range) == span(text, "# TODO", "seconds")
        assert todo.name == "total"
        assert as_tuple(todo.symbol_range) == span(text, "def total", "return x")
    (fixme,) = todos_at(text, "python", 3)
    assert fixme.comment == "# FIXME later"
    assert as_tuple(fixme.range) == span(text, "# FIXME", "later")
    assert todos_at(text, "python", 4) == []
    assert todos_at(text, "python", 0) == []


def test_todo_block_comment_and_top_level_todo() -> None:
    text = """/*
 * XXX: this module needs a rewrite.
 */
int twice(int n) { return 2 * n; }
// TODO: add thrice
"""
    for line in (0, 1, 2):
        (todo,) = todos_at(text, "c", line)
        assert todo.comment == "/*\n * XXX: this module needs a rewrite.\n */"
        # A doc comment right above a function belongs to it.
        assert todo.name == "twice"
    (top,) = todos_at(text, "c", 4)
    assert (top.name, top.symbol_range, top.comment) == (None, None, "// TODO: add thrice")
    assert todos_at(text, "c", 3) == []


def test_todo_in_a_stub_offers_both_the_stub_and_the_todo() -> None:
    line, column = where(C.text, "// TODO: implement")
    kinds = [(t.kind, t.name) for t in find_targets(C.text, "c", None, line, column)]
    assert kinds == [("stub", "leap_year"), ("todo", "leap_year")]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("javascript", "function f() {\n  return 1; // TODO: more\n}\n"),
        ("typescript", "function f(): number {\n  return 1; // TODO: more\n}\n"),
        ("go", "package p\n\nfunc f() int {\n\treturn 1 // TODO: more\n}\n"),
        ("rust", "fn f() -> i32 {\n    1 // TODO: more\n}\n"),
        ("java", "class A {\n  int f() {\n    return 1; // TODO: more\n  }\n}\n"),
        ("cpp", "int f() {\n  return 1; // TODO: more\n}\n"),
        ("ruby", "def f\n  1 # TODO: more\nend\n"),
    ],
)
def test_trailing_todo_in_each_language(language: str, text: str) -> None:
    line, _ = where(text, "TODO")
    targets = find_targets(text, language, None, line, 0)
    assert [(t.kind, t.name) for t in targets] == [("todo", "A.f" if language == "java" else "f")]
    assert targets[0].comment is not None and targets[0].comment.endswith("TODO: more")


def test_lowercase_todo_counts_only_in_marker_form() -> None:
    text = "def todo_list():\n    todo = []  # the todo list\n    return todo  # todo: sort it\n"
    for line in range(2):
        assert todos_at(text, "python", line) == []
    (todo,) = todos_at(text, "python", 2)
    assert todo.comment == "# todo: sort it"


# -- selections -----------------------------------------------------------------------------------


def test_selection_inside_a_function() -> None:
    text = PYTHON.text
    start, end = where(text, "return Clock("), where(text, "minutes)\n", end=True)
    targets = find_targets(text, "python", None, *start, end=end)
    assert [t.kind for t in targets] == ["selection"]
    (selection,) = targets
    assert as_tuple(selection.range) == (start, end)
    assert selection.name == "Clock.__add__"
    assert as_tuple(selection.symbol_range) == span(text, "def __add__", "self.minute + minutes)")


def test_reversed_selection_is_normalised_and_outside_code_has_no_name() -> None:
    text = "import os\nimport sys\n\n\ndef f():\n    return os\n"
    targets = find_targets(text, "python", None, 1, 3, end=(0, 2))
    assert [t.kind for t in targets] == ["selection"]
    assert as_tuple(targets[0].range) == ((0, 2), (1, 3))
    assert targets[0].name is None and targets[0].symbol_range is None


def test_empty_selection_is_a_cursor() -> None:
    targets = find_targets("def f():\n    pass\n", "python", None, 1, 4, end=(1, 4))
    assert [t.kind for t in targets] == ["stub"]


def test_selection_in_a_stub_comes_with_the_stub() -> None:
    text = "def f():\n    pass\n"
    targets = find_targets(text, "python", None, 0, 0, end=(1, 8))
    assert [(t.kind, t.name) for t in targets] == [("selection", "f"), ("stub", "f")]


# -- non-ASCII columns ----------------------------------------------------------------------------


def test_non_ascii_before_a_stub_on_the_same_line() -> None:
    text = 'const s = "é😋"; export const f = () => { throw new Error("Please implement f"); };\n'
    stub = stub_at(text, "javascript", 0, text.index("=> {"))
    assert stub is not None and stub.name == "f"
    assert as_tuple(stub.symbol_range) == ((0, text.index("export")), (0, len(text) - 1))
    assert as_tuple(stub.body_range) == ((0, text.index("{ throw")), (0, text.index(" };") + 2))
    # A cursor on the emoji itself belongs to the constant, not the stub.
    assert stub_at(text, "javascript", 0, text.index("😋")) is None


def test_non_ascii_in_earlier_lines_and_in_a_todo() -> None:
    text = "# café 😋 ünïcödé\nx = '😋😋'\n\ndef f():\n    # TODO: 😋 é handle\n    pass\n"
    stub = stub_at(text, "python", 4, 10)
    assert stub is not None and as_tuple(stub.symbol_range) == ((3, 0), (5, 8))
    (todo,) = todos_at(text, "python", 4, 3)
    assert todo.comment == "# TODO: 😋 é handle"
    assert as_tuple(todo.range) == ((4, 4), (4, 4 + len("# TODO: 😋 é handle")))


def test_non_ascii_in_c_and_go() -> None:
    text = "/* é😋 */ int f(void) {}\n"
    (stub,) = list_stubs(text, "c", None)
    assert as_tuple(stub.symbol_range) == ((0, text.index("int")), (0, len(text) - 1))
    go = 'package p\n\nvar s = "😋"; func G() { panic("é") }\n'
    line = go.split("\n")[2]
    go_stub = stub_at(go, "go", 2, line.index("panic"))
    assert go_stub is not None and go_stub.name == "G"
    assert as_tuple(go_stub.symbol_range) == ((2, line.index("func")), (2, len(line)))


def test_crlf_line_endings() -> None:
    text = "def a():\r\n    return 1\r\n\r\ndef b():\r\n    pass\r\n"
    (stub,) = list_stubs(text, "python", None)
    assert stub.name == "b" and as_tuple(stub.symbol_range) == ((3, 0), (4, 8))
    assert stub_at(text, "python", 4, 2) == stub
    assert stub_at(text, "python", 1, 2) is None


# -- languages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "path", "expected"),
    [
        ("python", None, "python"),
        (None, "src/leap.py", "python"),
        ("javascriptreact", "App.jsx", "javascript"),
        ("typescriptreact", None, "tsx"),
        (None, "App.tsx", "tsx"),
        (None, "leap.mts", "typescript"),
        (None, "leap.go", "go"),
        (None, "src/lib.rs", "rust"),
        (None, "Leap.java", "java"),
        ("c", "leap.h", "c"),
        (None, "leap.h", "cpp"),
        (None, "leap.cpp", "cpp"),
        ("plaintext", "leap.rs", "rust"),
    ],
)
def test_language_resolution(language: str | None, path: str | None, expected: str) -> None:
    resolution = resolve(language, path)
    assert resolution.grammar is not None and resolution.grammar.name == expected


@pytest.mark.parametrize(
    ("language", "path", "label"),
    [("ruby", None, "ruby"), (None, "leap.rb", "ruby"), (None, "Leap.kt", "kotlin"), (None, "notes", "text")],
)
def test_unknown_languages_use_the_regex_fallback(language: str | None, path: str | None, label: str) -> None:
    resolution = resolve(language, path)
    assert resolution.grammar is None and resolution.label == label
    assert analyze("x = 1\n", language, path).language == f"{label} (regex)"


def test_syntax_tables_name_real_node_kinds() -> None:
    for grammar in GRAMMARS.values():
        syntax = grammar.syntax
        kinds = (
            syntax.functions | syntax.anonymous | syntax.containers | syntax.wrappers | syntax.comments | syntax.leads
        )
        language = grammar.language()
        missing = {kind for kind in kinds if language.id_for_node_kind(kind, True) is None}
        assert not missing, (grammar.name, missing)


# -- regex fallback -------------------------------------------------------------------------------


RUBY = """=begin
Write your code for the 'Leap' exercise in this file.
=end

class Year
  # Whether the year is a leap year.
  def self.leap?(year)
    raise NotImplementedError, 'Please implement the Year.leap? method'
  end

  def to_s
    "year"
  end

  def later
  end
end
"""

CSHARP = """using System;

public static class Leap
{
    public static bool IsLeapYear(int year)
    {
        throw new NotImplementedException("You need to implement this function.");
    }

    public static int Twice(int n) => n * 2;

    public static int Later() => throw new NotImplementedException();
}
"""

PHP = """<?php

declare(strict_types=1);

class Leap
{
    public function leapYear(int $year): bool
    {
        throw new \\BadFunctionCallException("Implement the leapYear function");
    }

    public function name(): string
    {
        return ''; // TODO: real name
    }
}
"""


def test_ruby_fallback() -> None:
    stubs = list_stubs(RUBY, "ruby", "leap.rb")
    assert [(t.name, t.stub_reason) for t in stubs] == [
        ("Year.leap?", R.RAISE_NOT_IMPLEMENTED),
        ("Year.later", R.EMPTY_BODY),
    ]
    leap = stubs[0]
    assert leap.language == "ruby (regex)" and leap.fallback
    assert as_tuple(leap.symbol_range) == span(RUBY, "def self.leap?", "method'\n  end")
    for line in range(where(RUBY, "# Whether")[0], where(RUBY, "method'\n  end", end=True)[0] + 1):
        assert stub_at(RUBY, "ruby", line, 4) == leap
    assert stub_at(RUBY, "ruby", *where(RUBY, '"year"')) is None
    assert stub_at(RUBY, "ruby", *where(RUBY, "class Year")) is None


def test_kotlin_csharp_and_php_fallback() -> None:
    assert [(t.name, t.stub_reason) for t in list_stubs(CSHARP, "csharp", None)] == [
        ("Leap.IsLeapYear", R.THROW_NOT_IMPLEMENTED),
        ("Leap.Later", R.THROW_NOT_IMPLEMENTED),
    ]
    stub = stub_at(CSHARP, "csharp", *where(CSHARP, "throw new"))
    assert stub is not None and as_tuple(stub.symbol_range) == span(CSHARP, "public static bool", "}")
    assert stubs_at(CSHARP, "csharp", *where(CSHARP, "Twice")) == []
    php = list_stubs(PHP, None, "src/Leap.php")
    assert [(t.name, t.stub_reason, t.language) for t in php] == [
        ("Leap.leapYear", R.THROW_NOT_IMPLEMENTED, "php (regex)"),
        ("Leap.name", R.PLACEHOLDER_RETURN, "php (regex)"),
    ]
    stub = stub_at(KOTLIN.text, "kotlin", *where(KOTLIN.text, "fun later"))
    assert stub is not None and as_tuple(stub.symbol_range) == span(KOTLIN.text, "fun later", "TODO()")


def test_fallback_todo_and_selection() -> None:
    text = """fun main() {
    // TODO: greet properly,
    //       with the user's name
    println("hi")
}
"""
    (todo,) = todos_at(text, "kotlin", 2, 3)
    assert todo.comment == "// TODO: greet properly,\n//       with the user's name"
    assert as_tuple(todo.range) == span(text, "// TODO", "name")
    assert todo.name == "main" and todo.fallback
    (selection,) = find_targets(text, "kotlin", None, 3, 4, end=(3, 17))
    assert (selection.kind, selection.name, selection.language) == ("selection", "main", "kotlin (regex)")
    assert todos_at(text, "kotlin", 3) == []


def test_huge_files_use_the_regex_path() -> None:
    filler = "def f{0}(x):\n    return x + {0}\n\n"
    body = "".join(filler.format(i) for i in range(TREE_SITTER_MAX_CHARS // 30 + 1))
    text = body + 'def is_leap(year):\n    """Leap years."""\n    raise NotImplementedError("Please implement")\n'
    assert len(text) > TREE_SITTER_MAX_CHARS
    line = text.count("\n") - 1
    began = time.perf_counter()
    stub = stub_at(text, "python", line, 8)
    elapsed = time.perf_counter() - began
    assert stub is not None
    assert (stub.name, stub.stub_reason, stub.language) == ("is_leap", R.RAISE_NOT_IMPLEMENTED, "python (regex)")
    assert as_tuple(stub.symbol_range) == ((line - 2, 0), (line, len(text.split("\n")[line])))
    assert stub_at(text, "python", 1, 4) is None
    assert elapsed < 1.0


# -- robustness -----------------------------------------------------------------------------------


BROKEN = {
    "python": "def broken(:\n    pass\n\ndef ok():\n    raise NotImplementedError\n",
    "javascript": "export const a = () => {\n  throw new Error('implement');\n\nfunction (( {\n",
    "go": 'package p\nfunc F( {\n\tpanic("x")\n}\nfunc G() {}\n',
    "rust": "fn f( -> {\n    todo!()\n}\nimpl X { fn g(&self) { unimplemented!() } }\n",
    "java": "class A { void f() { throw new UnsupportedOperationException(); }\n  void g( {\n",
    "cpp": "int f( { }\nclass X { void g() {} ;\n",
}


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_syntax_errors_do_not_crash(language: str) -> None:
    text = BROKEN[language]
    stubs = list_stubs(text, language, None)
    assert all(t.kind == "stub" and t.name for t in stubs)
    lines = text.split("\n")
    for line in range(len(lines)):
        for column in range(len(lines[line]) + 1):
            find_targets(text, language, None, line, column)
            find_targets(text, language, None, line, column, end=(0, 0))


def test_broken_python_still_finds_the_valid_stub() -> None:
    assert "ok" in [t.name for t in list_stubs(BROKEN["python"], "python", None)]


_LANGUAGES = ["python", "javascript", "typescript", "typescriptreact", "go", "rust", "java", "c", "cpp", "ruby"]
_CODE = st.text(
    alphabet=st.sampled_from(list("def fn func class (){}[];:=\n\t #/*\"'é😋\r TODO pass throw panic!")), max_size=120
)


@settings(max_examples=150, deadline=None)
@given(
    text=_CODE,
    language=st.sampled_from(_LANGUAGES),
    line=st.integers(-2, 12),
    column=st.integers(-2, 40),
    end=st.none() | st.tuples(st.integers(0, 12), st.integers(0, 40)),
)
def test_any_text_gives_well_formed_targets(
    text: str, language: str, line: int, column: int, end: tuple[int, int] | None
) -> None:
    lines = re.split(r"\r\n|\r|\n", text)
    for target in find_targets(text, language, None, line, column, end) + list_stubs(text, language, None):
        for r in (target.range, target.symbol_range, target.body_range):
            if r is None:
                continue
            (sl, sc), (el, ec) = as_tuple(r)
            assert (sl, sc) <= (el, ec)
            assert 0 <= sl < len(lines) and 0 <= el < len(lines)
            assert 0 <= sc <= len(lines[sl]) and 0 <= ec <= len(lines[el])


def test_analysis_answers_repeated_questions_without_parsing_again() -> None:
    document = analyze(JAVA.text, "java", None)
    line, column = where(JAVA.text, "throw new Unsupported")
    first = document.targets_at(line, column)
    assert first == document.targets_at(line, column)
    assert [t.name for t in document.stubs()] == list(JAVA.stubs)


def test_targets_survive_a_json_round_trip() -> None:
    # Code actions carry targets in their `data` field; what goes out must come back equal.
    for target in list_stubs(RUST.text, "rust", None) + todos_at(C.text, "c", 4) + list_stubs(RUBY, "ruby", None):
        assert Target.model_validate_json(target.model_dump_json()) == target
