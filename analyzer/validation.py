"""Verification Status: the sign-off criteria evaluated on the data, and the status they imply.

A criterion passes (True) only when the data shows it, fails (False) when the data contradicts it,
and is unknown (None) when the data cannot show it yet (for example "only 20 h observed"). The
status is RESOLVED when every blocking criterion passes, OPEN when one fails, OBSERVING otherwise.

All criteria are judged on one stretch of time: the last `validation_hours` of the period that
starts at the fix (`--fix-at`, else the window start) and ends at the window end. With less data
than that, the stretch is the whole period and the sync criterion cannot pass yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from .catalog import Signature
from .events import UTC_NS
from .timeutil import fmt_utc


@dataclass(frozen=True)
class Criterion:
    criterion: str
    passed: bool | None
    reason: str
    blocks_signoff: bool = True
    signatures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Period:
    """From the fix (if given, else the window start) to the window end."""

    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _hours(h: float) -> str:
    return f"{h:.0f} h" if h >= 10 else f"{h:.1f} h"


def evaluate(
    *,
    runs: pl.DataFrame,
    matches: pl.DataFrame,
    events: pl.DataFrame,
    signatures: Sequence[Signature],
    data_start: datetime | None,
    window_end: datetime | None,
    fix_at: datetime | None,
    validation_hours: float = 48.0,
    gaps: Sequence[dict] = (),
) -> list[Criterion]:
    """Evaluate every criterion; see the module docstring for what True/False/None mean."""
    if data_start is None or window_end is None:
        return [
            Criterion(
                f"{validation_hours:g} hours of successful syncs",
                None,
                "no timestamped log lines in the window",
            )
        ]
    period = Period(max(data_start, fix_at) if fix_at else data_start, window_end)
    # Every criterion is judged on the same stretch: the last `validation_hours` of the period
    # (all of it when less was observed), so an error fixed two days ago does not block today.
    tail = Period(max(period.start, period.end - timedelta(hours=validation_hours)), period.end)
    since = f"in the last {_hours(tail.hours)} ({fmt_utc(tail.start)} → {fmt_utc(tail.end)})"
    criteria = [
        _successful_syncs(runs, period, tail, validation_hours, gaps, fix_at),
        _maintenance(runs, tail, since),
        _no_hangs(runs, matches, events, signatures, tail, since),
    ]
    criteria.extend(_catalog_criteria(matches, events, signatures, tail, since))
    return criteria


def _in_period(col: str, period: Period) -> pl.Expr:
    return (pl.col(col) >= pl.lit(period.start).cast(UTC_NS)) & (
        pl.col(col) <= pl.lit(period.end).cast(UTC_NS)
    )


def _successful_syncs(
    runs: pl.DataFrame,
    period: Period,
    tail: Period,
    hours: float,
    gaps: Sequence[dict],
    fix_at: datetime | None,
) -> Criterion:
    name = f"{hours:g} hours of successful syncs"
    sources = runs.filter(pl.col("role").is_in(["source", "destination"]))
    if sources.height == 0:
        return Criterion(name, None, "no backup or restore mover runs in the data")
    overlapping = sources.filter(
        (pl.col("start") <= pl.lit(tail.end).cast(UTC_NS))
        & (pl.col("observed_until") >= pl.lit(tail.start).cast(UTC_NS))
    )
    bad = overlapping.filter(pl.col("outcome").is_in(["hung", "failed"]))
    if bad.height:
        worst = bad.sort("start").row(0, named=True)
        return Criterion(
            name,
            False,
            f"{bad.height} hung or failed run(s) in the last {_hours(tail.hours)}, first "
            f"{worst['pod']} ({worst['outcome']}) at {fmt_utc(worst['start'])}",
        )
    all_rs = sources.select("namespace", "replication_source").unique()
    ok_rs = (
        overlapping.filter(pl.col("outcome") == "completed")
        .select("namespace", "replication_source")
        .unique()
    )
    missing = all_rs.join(
        ok_rs, on=["namespace", "replication_source"], how="anti", nulls_equal=True
    )
    if missing.height:
        names = ", ".join(
            sorted(
                f"{r['namespace']}/{r['replication_source']}" for r in missing.iter_rows(named=True)
            )
        )
        return Criterion(
            name, False, f"no completed sync in the last {_hours(tail.hours)} for {names}"
        )
    if gaps:
        return Criterion(
            name, None, f"{len(gaps)} data gap(s) in the window: the record is incomplete"
        )
    if period.hours < hours:
        since = "since the fix" if fix_at else "in the window"
        return Criterion(
            name,
            None,
            f"only {_hours(period.hours)} of data observed {since}; every sync in it completed "
            f"({overlapping.height} runs, {all_rs.height} ReplicationSources)",
        )
    return Criterion(
        name,
        True,
        f"{overlapping.height} runs of {all_rs.height} ReplicationSources completed in the last "
        f"{_hours(tail.hours)} ({fmt_utc(tail.start)} → {fmt_utc(tail.end)}), none hung or failed",
    )


def _maintenance(runs: pl.DataFrame, period: Period, since: str) -> Criterion:
    name = "KopiaMaintenance jobs complete without issues"
    maint = runs.filter((pl.col("role") == "maintenance") & _in_period("start", period))
    if maint.height == 0:
        return Criterion(name, None, f"no KopiaMaintenance run observed {since}")
    bad = maint.filter(pl.col("outcome") != "completed")
    if bad.height:
        mix = ", ".join(
            f"{n} {o}" for o, n in bad.group_by("outcome").len().sort("outcome").iter_rows()
        )
        return Criterion(
            name,
            False,
            f"{bad.height} of {maint.height} maintenance runs did not complete {since} ({mix})",
        )
    return Criterion(name, True, f"all {maint.height} maintenance runs completed {since}")


def _matched_in_period(
    matches: pl.DataFrame, events: pl.DataFrame, ids: Sequence[str], period: Period
) -> pl.DataFrame:
    return (
        matches.filter(pl.col("signature").is_in(list(ids)))
        .join(events.select("event_id", "ts"), on="event_id")
        .filter(_in_period("ts", period))
    )


def _no_hangs(
    runs: pl.DataFrame,
    matches: pl.DataFrame,
    events: pl.DataFrame,
    signatures: Sequence[Signature],
    period: Period,
    since: str,
) -> Criterion:
    name = "No new futex deadlocks or hangs in mover pod logs"
    hang_ids = [s.id for s in signatures if s.hang]
    hung = runs.filter((pl.col("outcome") == "hung") & _in_period("start", period))
    lines = _matched_in_period(matches, events, hang_ids, period)
    if hung.height or lines.height:
        return Criterion(
            name,
            False,
            f"{hung.height} hung run(s) and {lines.height} line(s) of hang-preceding "
            f"signatures {since}",
            signatures=tuple(hang_ids),
        )
    return Criterion(
        name,
        True,
        f"no hung run and no hang-preceding signature {since}",
        signatures=tuple(hang_ids),
    )


def _catalog_criteria(
    matches: pl.DataFrame,
    events: pl.DataFrame,
    signatures: Sequence[Signature],
    period: Period,
    since: str,
) -> list[Criterion]:
    """Criteria contributed by the catalog signatures that matched anywhere in the window, and
    by those whose `validation.always` lists the criterion whether or not they matched."""
    seen = set(matches["signature"].unique().to_list())
    by_criterion: dict[str, list[Signature]] = {}
    for sig in signatures:
        if sig.criterion and (sig.id in seen or sig.criterion_always):
            by_criterion.setdefault(sig.criterion, []).append(sig)
    out = []
    for text, sigs in by_criterion.items():
        ids = [s.id for s in sigs]
        blocks = any(s.blocks_signoff for s in sigs)
        hits = _matched_in_period(matches, events, ids, period)
        if hits.height:
            last = hits["ts"].max()
            ids_seen = ", ".join(sorted(set(hits["signature"])))
            reason = f"{hits.height} matching line(s) {since}, last at {fmt_utc(last)} ({ids_seen})"
            if not blocks:
                reason += "; environmental, does not block sign-off"
            out.append(Criterion(text, False, reason, blocks, tuple(ids)))
        else:
            out.append(
                Criterion(text, True, f"no line of {', '.join(ids)} {since}", blocks, tuple(ids))
            )
    return out


def status(criteria: Sequence[Criterion]) -> str:
    """RESOLVED when every blocking criterion holds, OPEN when one fails, OBSERVING otherwise."""
    blocking = [c for c in criteria if c.blocks_signoff]
    if any(c.passed is False for c in blocking):
        return "OPEN"
    if blocking and all(c.passed is True for c in blocking):
        return "RESOLVED"
    return "OBSERVING"
