"""Word-level matching of keywords against a task.

The original split the prompt on whitespace, so "exercise." kept its period and "tests" never met
"test" (SCAFFOLD §6): its workspace entry could not fire on a first attempt. Here both sides go
through the same tokeniser: lowercase runs of letters, simple plurals folded to the singular.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[a-z]+")
# No match position can be this large; it sorts keyword sets without a hit last.
NO_HIT = 1 << 62


def stem(word: str) -> str:
    """Fold a simple English plural to its singular. Applied to task and keywords alike, so a wrong
    fold ("series" -> "sery") still matches itself; the rules only need to be consistent."""
    if len(word) <= 3:
        return word  # "bfs", "dfs", "has", "its": too short to be a plural worth folding
    if word.endswith("sses"):
        return word[:-2]  # classes -> class
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"  # queries -> query
    if word.endswith(("xes", "ches", "shes")):
        return word[:-2]  # boxes -> box, matches -> match
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]  # tests -> test, primes -> prime
    return word


def words(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class TaskText:
    """A text analysed once for keyword matching: its stemmed words joined by single spaces (padded,
    so " word " finds whole words and whole phrases alike) and the first offset of each word."""

    joined: str
    first: dict[str, int]

    @classmethod
    def of(cls, text: str) -> TaskText:
        tokens = words(text)
        first: dict[str, int] = {}
        offset = 1
        for word in tokens:
            first.setdefault(word, offset)
            offset += len(word) + 1
        return cls(joined=" " + " ".join(tokens) + " ", first=first)


@dataclass(frozen=True)
class Keywords:
    """Single words score 1, multi-word phrases score 2 (a phrase is stronger evidence)."""

    words: frozenset[str]
    phrases: tuple[str, ...]

    @classmethod
    def parse(cls, raw: Iterable[str]) -> Keywords:
        single: set[str] = set()
        phrases: list[str] = []
        for item in raw:
            parts = words(item)
            if len(parts) == 1:
                single.add(parts[0])
            elif len(parts) > 1:
                phrase = " ".join(parts)
                if phrase not in phrases:
                    phrases.append(phrase)
        return cls(words=frozenset(single), phrases=tuple(phrases))

    def match(self, text: TaskText) -> tuple[int, int]:
        """(score, offset of the earliest hit in the text, or NO_HIT)."""
        score = 0
        earliest = NO_HIT
        for word in self.words:
            at = text.first.get(word)
            if at is not None:
                score += 1
                earliest = min(earliest, at)
        for phrase in self.phrases:
            at = text.joined.find(f" {phrase} ")
            if at >= 0:
                score += 2
                earliest = min(earliest, at + 1)
        return score, earliest
