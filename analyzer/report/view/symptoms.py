"""Symptoms: the hung runs and their last lines, each root cause's first line, the timeline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import polars as pl

from ...markdown_safe import Outside, compose, outside
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

    @property
    def decisive(self) -> str:
        """The matched line when a code block on GitHub would cut it at the first screen
        ("" when it fits): shown in full, wrapping, above the excerpt."""
        line = self.excerpt.matched
        return line if len(line) > CODE_BLOCK_COLUMNS else ""


#: Characters of a code block GitHub shows without scrolling in a ~760 px comment column.
CODE_BLOCK_COLUMNS = 90


#: How each kind of evidence reads in the report (runs.BASES).
EVIDENCE = {
    "end-marker": "its end marker (OPERATION SUMMARY, `=== Done ===`, `… completed in Ns`)",
    "terminal-line": "a line that ends the process, then nothing: exit not observed, inferred",
    "replaced": "no end, and a newer pod of the same ReplicationSource started",
    "silence-in-window": "no end, then silence longer than the hang threshold",
    "silence-at-analysis-time": "live input: silent longer than the hang threshold at the time "
    "of the analysis; hung if the pod is still running",
    "active-at-window-end": "output still arriving when the window ended",
    "no-timestamps": "no timestamps and no end: nothing shows how it ended",
    "error-then-silence": "an error line, then silence: it may have ended the process (exit "
    "not observed) or not; neither a hang nor a failure is read",
    "end-not-seen": "the output stops without an end (a paste, or a stream a viewer saw close): "
    "not read as a hang",
    "container-terminated": "no end marker; Kubernetes says the container terminated: its end "
    "and exit code",
    "pod-running-silent": "Kubernetes says the container is Running, and its log has been "
    "silent longer than the hang threshold",
    "pod-running": "Kubernetes says the container is Running, with recent output",
    "mover-status": "no end marker in the ReplicationSource's last-run log "
    "(latestMoverStatus.logs); its latestMoverStatus.result",
}


@dataclass(frozen=True)
class Verdict:
    """How many runs got one outcome from one kind of evidence, with an example line."""

    outcome: str
    runs: int
    evidence: str
    example: Outside


@dataclass(frozen=True)
class Symptoms:
    """What the incident looked like from outside, and when."""

    #: Runs that never finished, and the silence after which a run counts as hung.
    hung: int
    hang_after: str
    #: (last line a hung run printed, how many runs), most common first.
    last_lines: tuple[tuple[Outside, int], ...]
    first_lines: tuple[FirstLine, ...]
    #: (time, event), in time order; the event is Markdown whose outside parts are inert.
    timeline: tuple[tuple[str, str], ...]
    #: Every outcome but a plain completion, with the evidence that made it.
    verdicts: tuple[Verdict, ...] = ()
    #: Runs that completed at their end marker but whose pod went on long after (median wait).
    lingered: int = 0
    lingered_median: str = ""

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
        last_lines=tuple((outside(text or ""), n) for text, n in last.iter_rows()),
        first_lines=tuple(
            FirstLine(f["signature"], f["count"], f["in_kopia_logs"], excerpts[0])
            for f in facts.root
            if (excerpts := facts.excerpts.get(f["signature"]))
        ),
        timeline=_timeline(facts),
        verdicts=_verdicts(a.runs),
        lingered=int(a.runs["lingered_s"].is_not_null().sum()),
        lingered_median=fmt_duration(a.runs["lingered_s"].median()),
    )


def _verdicts(runs: pl.DataFrame) -> tuple[Verdict, ...]:
    """Outcome and evidence counts, troubles first; a completion at its marker is no news."""
    if runs.height == 0:
        return ()
    shown = runs.filter(~((pl.col("outcome") == "completed") & pl.col("lingered_s").is_null()))
    example = pl.coalesce("terminal_line", "last_message").drop_nulls().first()
    rows = (
        shown.group_by("outcome", "outcome_basis", maintain_order=True)
        .agg(pl.len().alias("runs"), example.alias("example"))
        .with_columns(
            pl.col("outcome")
            .replace_strict(OUTCOME_ORDER, default=len(OUTCOME_ORDER))
            .alias("_order")
        )
        .sort("_order", pl.col("runs"), descending=[False, True], maintain_order=True)
    )
    return tuple(
        Verdict(
            outcome=r["outcome"],
            runs=r["runs"],
            evidence=EVIDENCE.get(r["outcome_basis"] or "", "no evidence recorded"),
            example=outside(r["example"] or ""),
        )
        for r in rows.iter_rows(named=True)
    )


OUTCOME_ORDER = {"hung": 0, "failed": 1, "unknown": 2, "running": 3, "completed": 4}


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
        rows.append((hung["start"][0], compose("First hung run starts ({})", hung["pod"][0])))
    if a.fix_at:
        rows.append((a.fix_at, "Fix applied (--fix-at)"))
        after = a.runs.filter(
            (pl.col("outcome") == "completed") & (pl.col("start") >= a.fix_at)
        ).sort("start")
        if after.height:
            what = compose(
                "First healthy sync after the fix ({}, {})",
                after["pod"][0],
                fmt_duration(after["duration_s"][0]),
            )
            rows.append((after["start"][0], what))
    if hung.height:
        rows.append((hung["start"][-1], compose("Last hung run starts ({})", hung["pod"][-1])))
    rows.append((a.data_end, "Last log line in the window"))
    timed = sorted((r for r in rows if r[0]), key=lambda r: r[0])
    return tuple((fmt_utc(t), text) for t, text in timed)
