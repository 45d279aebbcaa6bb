"""The size budget: detail levels tried in order until the Markdown fits, then a last-resort trim.

GitHub caps issue bodies at 65,536 characters. The report is built once at the widest level
(`WIDEST`); each narrower level only truncates that view (`Postmortem.at`) before the template
renders it again. Nothing is recomputed from the analysis per level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_MAX_CHARS = 60_000

#: What `hard_trim` says when it had to drop Evidence blocks.
TRIMMED_NOTE = (
    "\n\n> Evidence trimmed to fit the size budget; see the JSON output for everything.\n"
)


@dataclass(frozen=True)
class DetailLevel:
    """How much of each long part one rendering shows."""

    #: Lines of context each side of an excerpt's matched line.
    context: int
    #: Excerpts per signature under Evidence.
    excerpts: int
    #: Rows of the Runs table (hung and failed first, then the newest).
    runs: int
    #: Unrecognised-error templates under Verification Status.
    templates: int
    #: Pods named per signature under Evidence.
    pods: int
    #: Outcome stretches in the gantt chart and its table (troubled ReplicationSources first).
    segments: int
    #: Rows of every other table and items of every other list that grows with the input
    #: (per ReplicationSource, ReplicationSource status, skipped inputs, gaps, images, …).
    rows: int = 400

    def within(self, other: DetailLevel) -> bool:
        """Whether this level shows no more of anything than `other` (so it can truncate it)."""
        return all(getattr(self, f.name) <= getattr(other, f.name) for f in fields(self))


#: Tried in order until the report fits the budget; each shows no more than the one before.
LEVELS: tuple[DetailLevel, ...] = (
    DetailLevel(context=3, excerpts=4, runs=400, templates=15, pods=12, segments=120, rows=400),
    DetailLevel(context=2, excerpts=3, runs=120, templates=10, pods=8, segments=60, rows=120),
    DetailLevel(context=1, excerpts=2, runs=40, templates=6, pods=5, segments=30, rows=40),
    DetailLevel(context=0, excerpts=1, runs=10, templates=3, pods=3, segments=15, rows=10),
    DetailLevel(context=0, excerpts=1, runs=0, templates=1, pods=2, segments=8, rows=3),
    DetailLevel(context=0, excerpts=1, runs=0, templates=1, pods=1, segments=3, rows=1),
)
#: The level the view is built at: every other level truncates it.
WIDEST = LEVELS[0]
assert all(narrow.within(wide) for wide, narrow in zip(LEVELS, LEVELS[1:], strict=False))


class Capped(tuple[Any, ...]):
    """The rows a table (or list) shows, and `more`: how many it leaves out for the budget."""

    more: int

    def __new__(cls, rows: Iterable[Any] = (), more: int = 0) -> Capped:
        obj = super().__new__(cls, rows)
        obj.more = more
        return obj

    def __reduce__(self) -> Any:
        return (Capped, (tuple(self), self.more))


def cap(rows: Iterable[Any], limit: int) -> Capped:
    """The first `limit` of `rows`; what `rows` already left out is still counted."""
    rows = rows if isinstance(rows, tuple) else tuple(rows)
    shown = rows[:limit]
    return Capped(shown, getattr(rows, "more", 0) + len(rows) - len(shown))


def fit(
    render: Callable[[DetailLevel], str],
    max_chars: int,
    *,
    trim_before: str,
    levels: Iterable[DetailLevel] = LEVELS,
) -> str:
    """The first rendering within `max_chars`, widest level first; else the narrowest one with
    Evidence blocks dropped from the end of that section (`trim_before` starts the next one)."""
    text = ""
    for level in levels:
        text = render(level)
        if len(text) <= max_chars:
            return text
    return hard_trim(text, max_chars, trim_before=trim_before)


def hard_trim(text: str, limit: int, *, trim_before: str) -> str:
    """Last resort: drop whole `<details>` blocks from the end of the part before `trim_before`
    (the Evidence section), never mid-fence, and say so."""
    head, sep, tail = text.partition(trim_before)
    while len(head) + len(sep) + len(tail) + len(TRIMMED_NOTE) > limit and "\n<details>" in head:
        head = head[: head.rindex("\n<details>")]
    return head + TRIMMED_NOTE + sep + tail
