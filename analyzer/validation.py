"""Verification Status: the sign-off criteria evaluated on the data, and the status they imply.

A criterion passes (True) only when the data shows it, fails (False) when the data contradicts it,
and is unknown (None) when the data cannot show it yet (for example "only 20 h observed"). A
"no X seen" criterion is shown only by data that covers it: mover runs (maintenance runs for the
maintenance criterion) observed in its stretch and no data gap overlapping it; absence of lines
proves nothing where nothing ran or the record has holes. The status is RESOLVED when every
blocking criterion passes, OPEN when one fails, NO DATA when no mover run was observed at all,
OBSERVING otherwise.

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
        why = "cannot be shown: no timestamped log lines in the window"
        return [
            Criterion(f"{validation_hours:g} hours of successful syncs", None, why),
            Criterion(MAINTENANCE, None, why),
            Criterion(NO_HANGS, None, why),
            *(
                Criterion(text, None, why, blocks, ids)
                for text, blocks, ids in _listed_criteria(matches, signatures)
            ),
        ]
    period = Period(max(data_start, fix_at) if fix_at else data_start, window_end)
    # Every criterion is judged on the same stretch: the last `validation_hours` of the period
    # (all of it when less was observed), so an error fixed two days ago does not block today.
    tail = Period(max(period.start, period.end - timedelta(hours=validation_hours)), period.end)
    since = f"in the last {_hours(tail.hours)} ({fmt_utc(tail.start)} → {fmt_utc(tail.end)})"
    syncs = _coverage(runs, ("source", "destination"), tail, gaps, "mover run")
    criteria = [
        _successful_syncs(runs, period, tail, validation_hours, gaps, fix_at),
        _maintenance(runs, tail, since),
        _no_hangs(runs, matches, events, signatures, tail, since, syncs),
    ]
    criteria.extend(_catalog_criteria(matches, events, signatures, tail, since, syncs))
    return criteria


MAINTENANCE = "KopiaMaintenance jobs complete without issues"
NO_HANGS = "No new futex deadlocks or hangs in mover pod logs"


def _coverage(
    runs: pl.DataFrame, roles: tuple[str, ...], tail: Period, gaps: Sequence[dict], what: str
) -> str | None:
    """Why the data cannot show that something was absent in `tail` (None when it can): no run
    of `roles` observed in it, or a data gap overlapping it."""
    holes = [g for g in gaps if g["from"] < tail.end and g["to"] > tail.start]
    if holes:
        spans = ", ".join(f"{fmt_utc(g['from'])} → {fmt_utc(g['to'])}" for g in holes[:3])
        more = f" and {len(holes) - 3} more" if len(holes) > 3 else ""
        return f"cannot be shown: data gap(s) {spans}{more}"
    observed = runs.filter(
        pl.col("role").is_in(list(roles))
        & (pl.col("start") <= pl.lit(tail.end).cast(UTC_NS))
        & (pl.col("observed_until") >= pl.lit(tail.start).cast(UTC_NS))
    )
    if observed.height == 0:
        return (
            f"cannot be shown: no {what} observed in the last {_hours(tail.hours)} "
            f"({fmt_utc(tail.start)} → {fmt_utc(tail.end)})"
        )
    return None


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
                f"{r['namespace'] or '?'}/{r['replication_source'] or '?'}"
                for r in missing.iter_rows(named=True)
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
    name = MAINTENANCE
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
    uncovered: str | None,
) -> Criterion:
    name = NO_HANGS
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
    if uncovered:
        return Criterion(name, None, uncovered, signatures=tuple(hang_ids))
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
    uncovered: str | None,
) -> list[Criterion]:
    """Criteria contributed by the catalog signatures that matched anywhere in the window, and
    by those whose `validation.always` lists the criterion whether or not they matched."""
    out = []
    for text, blocks, ids in _listed_criteria(matches, signatures):
        hits = _matched_in_period(matches, events, ids, period)
        if hits.height:
            last = hits["ts"].max()
            ids_seen = ", ".join(sorted(set(hits["signature"])))
            reason = f"{hits.height} matching line(s) {since}, last at {fmt_utc(last)} ({ids_seen})"
            if not blocks:
                reason += "; environmental, does not block sign-off"
            out.append(Criterion(text, False, reason, blocks, tuple(ids)))
        elif uncovered:
            out.append(Criterion(text, None, uncovered, blocks, tuple(ids)))
        else:
            out.append(
                Criterion(text, True, f"no line of {', '.join(ids)} {since}", blocks, tuple(ids))
            )
    return out


def _listed_criteria(
    matches: pl.DataFrame, signatures: Sequence[Signature]
) -> list[tuple[str, bool, tuple[str, ...]]]:
    """(criterion, blocks sign-off, signature ids) for every criterion the catalog lists: those
    of signatures that matched, and those whose `validation.always` lists it regardless."""
    seen = set(matches["signature"].unique().to_list())
    by_criterion: dict[str, list[Signature]] = {}
    for sig in signatures:
        if sig.criterion and (sig.id in seen or sig.criterion_always):
            by_criterion.setdefault(sig.criterion, []).append(sig)
    return [
        (text, any(s.blocks_signoff for s in sigs), tuple(s.id for s in sigs))
        for text, sigs in by_criterion.items()
    ]


#: The statuses, most decided first: a criterion fails; none can be judged (no mover run at all);
#: every blocking criterion holds; some cannot be shown yet.
STATUSES = ("OPEN", "NO DATA", "RESOLVED", "OBSERVING")


def status(criteria: Sequence[Criterion], *, observed: bool = True) -> str:
    """OPEN when a blocking criterion fails; NO DATA when no mover run was `observed` at all (a
    dashboard must tell "nothing to judge" from "not yet"); RESOLVED when every blocking
    criterion holds; OBSERVING otherwise."""
    blocking = [c for c in criteria if c.blocks_signoff]
    if any(c.passed is False for c in blocking):
        return "OPEN"
    if not observed:
        return "NO DATA"
    if blocking and all(c.passed is True for c in blocking):
        return "RESOLVED"
    return "OBSERVING"
