"""Stub detection latency: `find_targets` on a generated ~300-line file per language, at random cursors.

A code-action request runs `find_targets` (parse + lookup); a server that keeps the `analyze()` result per
document version only pays the lookup (`targets_at`) after the first request. Both are reported, with the
first call in this process per language separately (it loads the grammar and compiles the comment query).
Targets: < 20 ms per request for typical files, < 1 ms ideally.

    python bench/stub_detection.py [--calls 300] [--seed 7] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lc_lsp.stubs import analyze, find_targets, list_stubs

# One "unit" per language: a class/impl with implemented and stub methods, free functions, comments and
# TODOs, shaped like exercism stubs and their solutions. `{i}` makes every repetition distinct.
UNITS: dict[str, str] = {
    "python": '''

class Clock{i}:
    """A clock without dates."""

    def __init__(self, hour, minute):
        self.minutes = (hour * 60 + minute) % 1440

    def __repr__(self):
        return f"Clock{i}({{self.minutes // 60}}, {{self.minutes % 60}})"

    # Adds minutes, wrapping at midnight.
    @staticmethod
    def add(minutes):
        raise NotImplementedError("Please implement add")

    def __eq__(self, other):
        """Clocks are equal when they show the same time."""
        # TODO: compare with other types too
        return isinstance(other, Clock{i}) and self.minutes == other.minutes


def leap_year_{i}(year):
    pass


def score_{i}(word):
    total = 0
    for letter in word.lower():
        if letter in "aeiou":
            total += 1
        else:
            total += 2
    return total
''',
    "javascript": """
// Clock {i}: minutes since midnight.
export class Clock{i} {{
  constructor(hour, minute) {{
    this.minutes = (hour * 60 + minute) % 1440;
  }}

  toString() {{
    return `${{Math.floor(this.minutes / 60)}}:${{this.minutes % 60}}`;
  }}

  plus(minutes) {{
    throw new Error('Remove this statement and implement this function');
  }}

  equals(other) {{
    // TODO: accept plain numbers too
    return other instanceof Clock{i} && other.minutes === this.minutes;
  }}
}}

export const isLeap{i} = (year) => {{
  throw new Error('Please implement the isLeap function');
}};

export function score{i}(word) {{
  let total = 0;
  for (const letter of word.toLowerCase()) {{
    total += 'aeiou'.includes(letter) ? 1 : 2;
  }}
  return total;
}}
""",
    "typescript": """
// Clock {i}: minutes since midnight.
export class Clock{i} {{
  private minutes: number

  constructor(hour: number, minute: number) {{
    this.minutes = (hour * 60 + minute) % 1440
  }}

  public toString(): string {{
    return `${{Math.floor(this.minutes / 60)}}:${{this.minutes % 60}}`
  }}

  public plus(minutes: number): Clock{i} {{
    throw new Error('Remove this statement and implement this function')
  }}

  public equals(other: Clock{i}): boolean {{
    // TODO: accept plain numbers too
    return other.minutes === this.minutes
  }}
}}

export const isLeap{i} = (year: number): boolean => {{
  throw new Error('Please implement the isLeap function')
}}

export function score{i}(word: string): number {{
  let total = 0
  for (const letter of word.toLowerCase()) {{
    total += 'aeiou'.includes(letter) ? 1 : 2
  }}
  return total
}}
""",
    "go": """
// Clock{i} counts minutes since midnight.
type Clock{i} struct {{
	minutes int
}}

// New{i} builds a clock.
func New{i}(hour, minute int) Clock{i} {{
	return Clock{i}{{minutes: ((hour*60+minute)%1440 + 1440) % 1440}}
}}

// Add{i} adds minutes.
func (c Clock{i}) Add(minutes int) Clock{i} {{
	panic("Please implement the Add function")
}}

func (c *Clock{i}) Reset() {{}}

func (c Clock{i}) String() string {{
	// TODO: pad with zeros
	return fmt.Sprintf("%d:%d", c.minutes/60, c.minutes%60)
}}

func IsLeap{i}(year int) bool {{
	panic("Please implement the IsLeap function")
}}

func Score{i}(word string) int {{
	total := 0
	for _, r := range strings.ToLower(word) {{
		if strings.ContainsRune("aeiou", r) {{
			total++
		}} else {{
			total += 2
		}}
	}}
	return total
}}
""",
    "rust": """
/// Clock {i}: minutes since midnight.
#[derive(Debug, PartialEq)]
pub struct Clock{i} {{
    minutes: i32,
}}

impl Clock{i} {{
    pub fn new(hours: i32, minutes: i32) -> Self {{
        Self {{ minutes: (hours * 60 + minutes).rem_euclid(1440) }}
    }}

    pub fn add_minutes(&self, minutes: i32) -> Self {{
        todo!("Add {{minutes}} minutes to existing Clock time")
    }}

    pub fn reset(&mut self) {{}}

    pub fn hours(&self) -> i32 {{
        // TODO: handle negative values
        self.minutes / 60
    }}
}}

pub fn is_leap_year_{i}(year: u64) -> bool {{
    unimplemented!("true if {{year}} is a leap year")
}}

pub fn score_{i}(word: &str) -> u32 {{
    let mut total = 0;
    for c in word.to_lowercase().chars() {{
        total += if "aeiou".contains(c) {{ 1 }} else {{ 2 }};
    }}
    total
}}
""",
    "java": """
class Clock{i} {{

    private final int minutes;

    Clock{i}(int hours, int minutes) {{
        this.minutes = Math.floorMod(hours * 60 + minutes, 1440);
    }}

    /** Adds minutes, wrapping at midnight. */
    Clock{i} add(int minutes) {{
        throw new UnsupportedOperationException("Delete this statement and write your own implementation.");
    }}

    @Override
    public String toString() {{
        // TODO: pad with zeros
        return (minutes / 60) + ":" + (minutes % 60);
    }}

    boolean isLeap(int year) {{
        throw new UnsupportedOperationException("Delete this statement and write your own implementation.");
    }}

    int score(String word) {{
        int total = 0;
        for (char c : word.toLowerCase().toCharArray()) {{
            total += "aeiou".indexOf(c) >= 0 ? 1 : 2;
        }}
        return total;
    }}
}}
""",
    "c": """
/* Clock {i}: minutes since midnight. */
typedef struct {{
    int minutes;
}} clock{i}_t;

clock{i}_t clock{i}_create(int hour, int minute)
{{
    clock{i}_t clock = {{ ((hour * 60 + minute) % 1440 + 1440) % 1440 }};
    return clock;
}}

clock{i}_t clock{i}_add(clock{i}_t clock, int minutes)
{{
    // TODO: implement
}}

bool leap_year_{i}(int year)
{{
    return false; // TODO: the real rule
}}

int score_{i}(const char *word)
{{
    int total = 0;
    for (const char *c = word; *c; c++) {{
        if (strchr("aeiou", tolower(*c)))
            total += 1;
        else
            total += 2;
    }}
    return total;
}}
""",
    "cpp": """
namespace date_independent_{i} {{

// Clock {i}: minutes since midnight.
class clock {{
  public:
    clock(int hour, int minute) : minutes_((hour * 60 + minute) % 1440) {{}}
    std::string str() const {{}}
    int minutes() const {{ return minutes_; }}

  private:
    int minutes_;
}};

clock clock::plus(int minutes) const {{
    throw std::logic_error("Please implement clock::plus");
}}

bool is_leap_year(int year) {{
    // TODO: implement the rule
}}

int score(const std::string& word) {{
    int total = 0;
    for (char c : word) {{
        total += std::string("aeiou").find(std::tolower(c)) != std::string::npos ? 1 : 2;
    }}
    return total;
}}

}}  // namespace date_independent_{i}
""",
    "ruby": """
class Clock{i}
  # Minutes since midnight.
  def initialize(hour, minute)
    @minutes = (hour * 60 + minute) % 1440
  end

  def to_s
    format('%02d:%02d', @minutes / 60, @minutes % 60)
  end

  def +(other)
    raise NotImplementedError, 'Please implement the Clock#+ method'
  end

  def self.leap?(year)
    # TODO: the real rule
    raise NotImplementedError, 'Please implement the Year.leap? method'
  end

  def score(word)
    total = 0
    word.downcase.each_char do |c|
      total += 'aeiou'.include?(c) ? 1 : 2
    end
    total
  end
end
""",
}


def generate(language: str, lines: int = 300) -> str:
    unit = UNITS[language]
    parts: list[str] = []
    index = 0
    while sum(part.count("\n") for part in parts) < lines:
        parts.append(unit.format(i=index))
        index += 1
    return "".join(parts)


def percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "median_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
        "max_us": round(samples[-1], 1),
    }


def measure(language: str, calls: int, rng: random.Random) -> dict[str, object]:
    text = generate(language)
    lines = text.split("\n")
    cursors = []
    for _ in range(calls):
        line = rng.randrange(len(lines))
        cursors.append((line, rng.randint(0, len(lines[line]))))

    started = time.perf_counter_ns()
    find_targets(text, language, None, *cursors[0])
    first_us = (time.perf_counter_ns() - started) / 1000

    per_request: list[float] = []
    offered = 0
    for line, column in cursors:
        started = time.perf_counter_ns()
        targets = find_targets(text, language, None, line, column)
        per_request.append((time.perf_counter_ns() - started) / 1000)
        offered += any(t.kind == "stub" for t in targets)

    started = time.perf_counter_ns()
    document = analyze(text, language, None)
    analyze_us = (time.perf_counter_ns() - started) / 1000
    lookups: list[float] = []
    for line, column in cursors:
        started = time.perf_counter_ns()
        document.targets_at(line, column)
        lookups.append((time.perf_counter_ns() - started) / 1000)

    return {
        "lines": len(lines),
        "stubs": len(list_stubs(text, language, None)),
        "first_call_us": round(first_us, 1),
        "find_targets": percentiles(per_request),
        "analyze_us": round(analyze_us, 1),
        "targets_at_cached": percentiles(lookups),
        "cursors_on_a_stub": round(offered / len(cursors), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="random cursors per language")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="30 cursors per language (CI)")
    args = parser.parse_args(argv)
    calls = 30 if args.quick else args.calls
    rng = random.Random(args.seed)
    result = {language: measure(language, calls, rng) for language in UNITS}
    json.dump({"calls_per_language": calls, "languages": result}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
