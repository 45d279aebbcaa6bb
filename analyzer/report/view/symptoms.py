"""Symptoms: the hung runs and their last lines, each root cause's first line, the timeline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import polars as pl

from ...timeutil import fmt_duration, fmt_utc
from ..budget import DetailLevel
from .facts import Excerpt, Facts


@dataclass(frozen=True)
class FirstLine:
    """A root cause's first excerpt, and how many of its lines are in Kopia's own logs."""

    signature: str
    count: int
    in_kopia_logs: int
    excerpt: Excerpt

    def at(self, level: DetailLevel) -> FirstLine:
        return replace(self, excerpt=self.excerpt.at(level.context))


@dataclass(frozen=True)
class Symptoms:
    """What the incident looked like from outside, and when."""

    #: Runs that never finished, and the silence after which a run counts as hung.
    hung: int
    hang_after: str
    #: (last line a hung run printed, how many runs), most common first.
    last_lines: tuple[tuple[str, int], ...]
    first_lines: tuple[FirstLine, ...]
    #: (time, event), in time order.
    timeline: tuple[tuple[str, str], ...]

    def at(self, level: DetailLevel) -> Symptoms:
        return replace(self, first_lines=tuple(f.at(level) for f in self.first_lines))


def build(facts: Facts) -> Symptoms:
    """Hung runs and their last lines, each root cause's first excerpt, the timeline."""
    a = facts.a
    hung = a.runs.filter(pl.col("outcome") == "hung")
    last = (
        hung.group_by("last_message", maintain_order=True)
        .len()
        .sort("len", descending=True, maintain_order=True)
        .head(5)
    )
    return Symptoms(
        hung=hung.height,
        hang_after=fmt_duration(a.hang_after.total_seconds()),
        last_lines=tuple((text or "", n) for text, n in last.iter_rows()),
        first_lines=tuple(
            FirstLine(f["signature"], f["count"], f["in_kopia_logs"], excerpts[0])
            for f in facts.root
            if (excerpts := facts.excerpts.get(f["signature"]))
        ),
        timeline=_timeline(facts),
    )


def _timeline(facts: Facts) -> tuple[tuple[str, str], ...]:
    """The incident's milestones: data bounds, first root-cause line, hung runs, the fix and
    the first healthy sync after it."""
    a = facts.a
    rows: list[tuple[datetime | None, str]] = [(a.data_start, "First log line in the window")]
    seen = [f for f in facts.root if f["first_seen"]]
    if seen:
        first = min(seen, key=lambda f: f["first_seen"])
        rows.append((first["first_seen"], f"First `{first['signature']}` line"))
    hung = a.runs.filter(pl.col("outcome") == "hung").sort("start")
    if hung.height:
        rows.append((hung["start"][0], f"First hung run starts ({hung['pod'][0]})"))
    if a.fix_at:
        rows.append((a.fix_at, "Fix applied (--fix-at)"))
        after = a.runs.filter(
            (pl.col("outcome") == "completed") & (pl.col("start") >= a.fix_at)
        ).sort("start")
        if after.height:
            rows.append(
                (
                    after["start"][0],
                    f"First healthy sync after the fix ({after['pod'][0]}, "
                    f"{fmt_duration(after['duration_s'][0])})",
                )
            )
    if hung.height:
        rows.append((hung["start"][-1], f"Last hung run starts ({hung['pod'][-1]})"))
    rows.append((a.data_end, "Last log line in the window"))
    timed = sorted((r for r in rows if r[0]), key=lambda r: r[0])
    return tuple((fmt_utc(t), text) for t, text in timed)
