"""Evidence: where the data came from, runs per ReplicationSource, durations, per-signature
numbers with excerpts, and the runs themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ...markdown_safe import Outside, outside
from ...timeutil import fmt_duration, fmt_utc
from .. import charts
from ..budget import WIDEST, DetailLevel, cap
from .facts import Excerpt, Facts, Period, percent, rows, rs_label
from .inputs import InputsView

#: Outcomes listed first in the Runs table (then the newest of the rest).
_TROUBLED = ("hung", "failed", "unknown")


@dataclass(frozen=True)
class SegmentRow:
    """A stretch of runs of one ReplicationSource with the same outcome."""

    rs: Outside
    role: Outside
    outcome: str
    runs: int
    start: str
    end: str
    median: str
    max: str
    bar: charts.Bar


@dataclass(frozen=True)
class BucketRow:
    """Sync runs started in one time bucket."""

    start: str
    runs: int
    hung: int
    failed: int
    median: str
    max: str


@dataclass(frozen=True)
class SourceRow:
    """One ReplicationSource (and role) over the window."""

    rs: Outside
    role: Outside
    runs: int
    completed: int
    failed: int
    hung: int
    success_rate: str
    median: str
    p95: str
    max: str


@dataclass(frozen=True)
class Correlation:
    """Runs with (or without) a signature: outcome mix and durations."""

    runs: int
    completed: int
    failed: int
    hung: int
    median: str
    p95: str
    max: str


@dataclass(frozen=True)
class FindingEvidence:
    """A matched signature with its numbers, pods and excerpts."""

    signature: str
    title: str
    count: int
    first_seen: str
    last_seen: str
    runs_affected: int
    runs_probable: int
    #: The pods shown, and how many more there are.
    pods: tuple[Outside, ...]
    pods_more: int
    #: Runs with it (None when no run has it) against the runs without it.
    with_: Correlation | None
    without: Correlation
    excerpts: tuple[Excerpt, ...]
    #: Matching lines no excerpt shows.
    omitted: int

    def at(self, level: DetailLevel) -> FindingEvidence:
        pods = self.pods[: level.pods]
        excerpts = tuple(e.at(level.context) for e in self.excerpts[: level.excerpts])
        return replace(
            self,
            pods=pods,
            pods_more=self.pods_more + len(self.pods) - len(pods),
            excerpts=excerpts,
            omitted=self.count - len(excerpts),
        )


@dataclass(frozen=True)
class RunRow:
    """One mover run in the Runs table, laid out for GitHub's comment column: the outcome and
    duration first, times without the year (the day heads its group of rows)."""

    #: The day the run started (`2026-01-28`): a new day starts a group of rows.
    day: str
    #: Start as `01-28 04:19:06Z`.
    start: str
    duration: str
    outcome: str
    exit: str
    #: How the run ended: its end marker's time, or `last <time>` (its last line) without one;
    #: the time without the date when it is the start's day.
    ended: str
    #: The pod (with `(maintenance)` or `(restore)` for those roles); its namespace and
    #: ReplicationSource are in the per-ReplicationSource table.
    pod: str
    #: Place in the Runs table's priority (hung and failed first, then the newest).
    priority: int


@dataclass(frozen=True)
class Termination:
    """A container Kubernetes saw end (describe output or a pod dump)."""

    pod: str
    container: str
    #: `now` (the current state) or `last` (the state before a restart).
    state: str
    reason: str
    exit: str
    finished: str


@dataclass(frozen=True)
class WarningEvent:
    """A Warning event from describe output or an event dump."""

    object: str
    reason: str
    message: str
    when: str


@dataclass(frozen=True)
class Evidence:
    """The data behind the conclusions; most of what the size budget shrinks."""

    inputs: InputsView
    segments: tuple[SegmentRow, ...]
    #: Stretches left out to fit the budget.
    segments_left_out: int
    gantt: str
    duration_chart: str
    buckets: tuple[BucketRow, ...]
    per_source: tuple[SourceRow, ...]
    fix_at: str
    periods: tuple[Period, ...]
    findings: tuple[FindingEvidence, ...]
    #: Lines of context each side of an excerpt's matched line.
    context: int
    #: Runs shown, in time order, and how many runs there are in all.
    runs: tuple[RunRow, ...]
    runs_total: int
    #: What Kubernetes recorded (describe output, dumps): containers that ended badly, and
    #: Warning events.
    terminations: tuple[Termination, ...] = ()
    warnings: tuple[WarningEvent, ...] = ()

    @property
    def runs_left_out(self) -> int:
        return self.runs_total - len(self.runs)

    def at(self, level: DetailLevel) -> Evidence:
        segments = self.segments[: level.segments]
        return replace(
            self,
            segments=segments,
            segments_left_out=self.segments_left_out + len(self.segments) - len(segments),
            gantt=charts.gantt([s.bar for s in segments]),
            findings=tuple(f.at(level) for f in self.findings),
            inputs=self.inputs.at(level),
            buckets=cap(self.buckets, level.rows),
            per_source=cap(self.per_source, level.rows),
            context=level.context,
            runs=tuple(r for r in self.runs if r.priority < level.runs),
        )


def build(facts: Facts) -> Evidence:
    """Everything Evidence shows, at the widest level."""
    a = facts.a
    segments, left_out = _segments(a.segments)
    return Evidence(
        inputs=facts.inputs,
        segments=segments,
        segments_left_out=left_out,
        gantt=charts.gantt([s.bar for s in segments]),
        duration_chart=charts.duration_chart(a.buckets),
        buckets=tuple(_bucket_row(b) for b in rows(a.buckets)),
        per_source=tuple(_source_row(r) for r in rows(a.per_source)),
        fix_at=facts.fix_at,
        periods=facts.periods,
        findings=tuple(_finding_evidence(f, facts.excerpts) for f in facts.findings),
        context=WIDEST.context,
        runs=_listed_runs(a.runs),
        runs_total=a.runs.height,
        **_kubernetes(a.environment.get("kubernetes") or {}),
    )


def _kubernetes(found: dict[str, Any]) -> dict[str, Any]:
    """Containers that ended badly (a non-zero exit or a reason other than `Completed`) and
    Warning events, from the Kubernetes documents among the inputs."""
    terminations = tuple(
        Termination(
            pod=rs_label(t["namespace"], t["pod"]),
            container=t["container"] or "",
            state="now" if t["state"] == "current" else "before a restart",
            reason=t["reason"] or "",
            exit="" if t["exit_code"] is None else str(t["exit_code"]),
            finished=t["finished"] or "",
        )
        for t in found.get("terminations", ())
        if t["exit_code"] not in (0, None) or (t["reason"] or "Completed") != "Completed"
    )
    warnings = tuple(
        WarningEvent(
            object=rs_label(w["namespace"], w["object"]),
            reason=w["reason"] or "",
            message=w["message"] or "",
            when=str(w["when"] or ""),
        )
        for w in found.get("warnings", ())
    )
    return {"terminations": terminations, "warnings": warnings}


def _segments(segments: pl.DataFrame) -> tuple[tuple[SegmentRow, ...], int]:
    """The outcome stretches at the widest level, troubled ReplicationSources first (each
    source's stretches together, in time order); and how many were left out."""
    if segments.height == 0:
        return (), 0
    keys = ["namespace", "replication_source", "role"]
    trouble = pl.col("runs").filter(pl.col("outcome").is_in(["hung", "failed"])).sum().over(keys)
    ranked = segments.with_columns(trouble.alias("_trouble")).sort(
        "_trouble",
        *keys,
        "from",
        descending=[True, False, False, False, False],
        nulls_last=True,
    )
    shown = ranked.head(WIDEST.segments).drop("_trouble")
    rows = tuple(
        SegmentRow(
            rs=rs_label(r["namespace"], r["replication_source"]),
            role=outside(r["role"] or ""),
            outcome=r["outcome"],
            runs=r["runs"],
            start=_short_time(r["from"], None),
            end=_short_time(r["to"], None),
            median=fmt_duration(r["median_s"], lower_bound=r["outcome"] == "hung"),
            max=fmt_duration(r["max_s"], lower_bound=r["outcome"] == "hung"),
            bar=bar,
        )
        for r, bar in zip(shown.iter_rows(named=True), charts.bars(shown), strict=True)
    )
    return rows, segments.height - shown.height


def _bucket_row(b: dict[str, Any]) -> BucketRow:
    lower = b["hung"] > 0
    return BucketRow(
        start=fmt_utc(b["bucket"]),
        runs=b["runs"],
        hung=b["hung"],
        failed=b["failed"],
        median=fmt_duration(b["median_s"], lower_bound=lower),
        max=fmt_duration(b["max_s"], lower_bound=lower),
    )


def _source_row(r: dict[str, Any]) -> SourceRow:
    lower = r["hung"] > 0
    return SourceRow(
        rs=rs_label(r["namespace"], r["replication_source"]),
        role=outside(r["role"] or ""),
        runs=r["runs"],
        completed=r["completed"],
        failed=r["failed"],
        hung=r["hung"],
        success_rate=percent(r["success_rate"]),
        median=fmt_duration(r["median_s"], lower_bound=lower),
        p95=fmt_duration(r["p95_s"], lower_bound=lower),
        max=fmt_duration(r["max_s"], lower_bound=lower),
    )


def _correlation(f: dict[str, Any], prefix: str) -> Correlation:
    hung = f[f"{prefix}hung"] or 0
    return Correlation(
        runs=f[f"{prefix}runs"] or 0,
        completed=f[f"{prefix}completed"] or 0,
        failed=f[f"{prefix}failed"] or 0,
        hung=hung,
        median=fmt_duration(f[f"{prefix}median_s"], lower_bound=hung > 0),
        p95=fmt_duration(f[f"{prefix}p95_s"], lower_bound=hung > 0),
        max=fmt_duration(f[f"{prefix}max_s"], lower_bound=hung > 0),
    )


def _finding_evidence(
    f: dict[str, Any], excerpts: Mapping[str, tuple[Excerpt, ...]]
) -> FindingEvidence:
    shown = excerpts.get(f["signature"], ())
    pods = tuple(outside(p) for p in f["pods"])
    return FindingEvidence(
        signature=f["signature"],
        title=f["title"],
        count=f["count"],
        first_seen=fmt_utc(f["first_seen"]),
        last_seen=fmt_utc(f["last_seen"]),
        runs_affected=f["runs_affected"],
        runs_probable=f["runs_probable"],
        pods=pods[: WIDEST.pods],
        pods_more=max(len(pods) - WIDEST.pods, 0),
        with_=_correlation(f, "with_") if f["with_runs"] else None,
        without=_correlation(f, "without_"),
        excerpts=shown,
        omitted=f["count"] - len(shown),
    )


def _listed_runs(runs: pl.DataFrame) -> tuple[RunRow, ...]:
    """The runs the widest level lists, hung and failed first, then the newest; in time order,
    each with its place in that priority so a narrower level keeps the first ones."""
    troubled = pl.col("outcome").is_in(_TROUBLED)
    chosen = (
        pl.concat(
            [
                runs.filter(troubled).sort("start"),
                runs.filter(~troubled).sort("start", descending=True),
            ]
        )
        .head(WIDEST.runs)
        .with_row_index("priority")
        .sort("start")
    )
    return tuple(_run_row(r) for r in chosen.iter_rows(named=True))


#: Role names as a pod's note in the Runs table (backups need none).
_ROLE_NOTE = {"maintenance": " (maintenance)", "destination": " (restore)"}


def _run_row(r: dict[str, Any]) -> RunRow:
    start = r["start"]
    end = r["end"]
    last = _short_time(r["last_activity"], start)
    ended = _short_time(end, start) if end else (f"last {last}" if last else "")
    pod = r["pod"] or f"(no pod name) {r['source']}"
    return RunRow(
        day=start.astimezone(UTC).strftime("%Y-%m-%d") if start else "no timestamps",
        start=_short_time(start, None),
        duration=fmt_duration(r["duration_s"], lower_bound=r["duration_is_lower_bound"]),
        outcome=r["outcome"],
        exit="" if r["exit_code"] is None else str(r["exit_code"]),
        ended=ended,
        pod=outside(pod + _ROLE_NOTE.get(r["role"] or "", "")),
        priority=r["priority"],
    )


def _short_time(value: datetime | None, day_of: datetime | None) -> str:
    """`01-28 04:19:06Z`, or `04:19:06Z` on the day of `day_of`; "" for no time."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    if day_of is not None and value.date() == day_of.astimezone(UTC).date():
        return value.strftime("%H:%M:%SZ")
    return value.strftime("%m-%d %H:%M:%SZ")
