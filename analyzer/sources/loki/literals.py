"""Literal words a line must contain to match a regex: the pushdown filter Loki runs cheaply.

Loki evaluates a large regex alternation at a few thousand lines a second (a 5,400-character
catalog alternation took 2.9 s for one 48-hour query, measured on Loki 3.7.6), but a regex that
is one literal, or `(?i)` and one literal, it turns into a byte-substring search
(`simplify` in Loki's `pkg/logql/log/filter.go`). So pushdown sends Loki a list of literals
that every matching line contains (a superset of the exact regexes), and the exact regexes run
here, on what comes back.

`required_literals(regex)` walks Python's parse of the regex: a run of literal characters in a
required part is a candidate; a group, or a repeat of at least once, contributes its own
candidates; an alternation contributes the union of its branches' best candidates (every branch
must have one). Anything else (classes, anchors, optional parts) breaks a run. The longest
candidate wins. `cheap_filter(regexes)` picks one candidate per regex, preferring one the
already-chosen literals imply, and drops literals that others imply; a regex with no candidate
of MIN_LITERAL characters is sent to Loki as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, NamedTuple

__all__ = ["MIN_LITERAL", "CheapFilter", "Literal", "cheap_filter", "required_literals"]

#: Shortest literal worth sending: shorter ones match nearly every line.
MIN_LITERAL = 3

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}


class Literal(NamedTuple):
    """A substring a matching line contains; `fold`: compared without case (ASCII)."""

    text: str
    fold: bool = False

    def implies(self, other: Literal) -> bool:
        """Whether every line containing `self` also contains `other`."""
        if other.fold:
            return other.text.lower() in self.text.lower()
        return not self.fold and other.text in self.text

    def in_line(self, line: str) -> bool:
        """Whether `line` contains this literal (as Loki's contains filter decides it)."""
        return self.text.lower() in line.lower() if self.fold else self.text in line


#: One way a regex can be required: a line matching it contains at least one of these.
Requirement = frozenset[Literal]


def _weight(req: Requirement) -> tuple[int, int]:
    return (min(len(lit.text) for lit in req), -len(req))


def _best(candidates: Sequence[Requirement]) -> Requirement | None:
    return max(candidates, key=_weight) if candidates else None


def _single_char(op: Any, av: Any) -> str | None:
    """The one character a LITERAL, or a class of exactly one literal (`[.]`), matches."""
    if op is sre.LITERAL:
        return chr(av)
    if op is sre.IN and len(av) == 1 and av[0][0] is sre.LITERAL:
        return chr(av[0][1])
    return None


def _candidates(items: Iterable[tuple[Any, Any]], fold: bool) -> list[Requirement]:
    """Every requirement of a concatenation of parsed items (module docstring)."""
    out: list[Requirement] = []
    run: list[str] = []

    def flush() -> None:
        text = "".join(run)
        run.clear()
        if text and not (fold and not text.isascii()):  # fold only where Loki and RE2 agree
            out.append(frozenset({Literal(text, fold)}))

    for op, av in items:
        char = _single_char(op, av)
        if char is not None:
            run.append(char)
            continue
        flush()
        if op is sre.SUBPATTERN:
            _, add, remove, pattern = av
            inner = (fold or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            out += _candidates(pattern.data, inner)
        elif op is getattr(sre, "ATOMIC_GROUP", None):
            out += _candidates(av.data, fold)
        elif op is sre.BRANCH:
            branches = [_best(_candidates(p.data, fold)) for p in av[1]]
            if branches and all(branches):
                out.append(frozenset().union(*branches))  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:
            out += _candidates(av[2].data, fold)
    flush()
    return out


def _all_candidates(regex: str) -> list[Requirement]:
    try:
        parsed = sre_parse.parse(regex)
    except (re.error, RecursionError, OverflowError):
        return []  # RE2 syntax Python does not read: no literal, the regex goes as it is
    fold = bool(parsed.state.flags & re.IGNORECASE)
    return [c for c in _candidates(parsed.data, fold) if _weight(c)[0] >= MIN_LITERAL]


def required_literals(regex: str) -> Requirement | None:
    """The best set of literals one of which every line matching `regex` contains, or None when
    there is none of at least MIN_LITERAL characters."""
    return _best(_all_candidates(regex))


@dataclass(frozen=True)
class CheapFilter:
    """What pushdown sends Loki: `literals` (any one makes a line pass) and `regexes` that have
    no literal and go as they are. Every line matching one of the source regexes passes."""

    literals: tuple[Literal, ...]
    regexes: tuple[str, ...] = ()

    def passes(self, line: str) -> bool:
        """Whether Loki returns `line` (the contains filters; `regexes` are not evaluated here,
        so this is exact only when there are none)."""
        return any(lit.in_line(line) for lit in self.literals)


def cheap_filter(regexes: Sequence[str]) -> CheapFilter:
    """The literals (module docstring) for `regexes`, fewest first: a regex whose candidates
    include one already implied by the chosen literals adds nothing."""
    per_regex: list[list[Requirement]] = []
    fallback: list[str] = []
    for regex in dict.fromkeys(regexes):
        candidates = _all_candidates(regex)
        if candidates:
            per_regex.append(candidates)
        else:
            fallback.append(regex)
    chosen: set[Literal] = set()
    # regexes with the fewest choices first: their literals often cover the others'
    for candidates in sorted(per_regex, key=len):
        if any(all(_implied(lit, chosen) for lit in req) for req in candidates):
            continue
        best = _best(candidates)
        assert best is not None
        chosen |= best
    kept: list[Literal] = []
    for lit in sorted(chosen, key=lambda x: (len(x.text), not x.fold, x.text)):
        if not _implied(lit, kept):
            kept.append(lit)
    return CheapFilter(tuple(sorted(kept)), tuple(fallback))


def _implied(lit: Literal, by: Iterable[Literal]) -> bool:
    return any(lit.implies(other) for other in by)
