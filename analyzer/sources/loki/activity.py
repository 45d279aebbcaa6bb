"""Per-pod activity: first and last line, count, and lines per minute. Full mode computes it
from the lines; pushdown mode asks Loki's `count_over_time` metric query for it, in pieces of
at most MAX_POINTS minutes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from ...errors import LokiQueryError
from ...events import UTC_NS
from .errors import RangeTooBig, Transient
from .identity import activity_key
from .times import MINUTE_NS, NS, ceil_minute, gap_row, loki_time

if TYPE_CHECKING:
    from .http import Session

__all__ = [
    "ACTIVITY_SCHEMA",
    "Counts",
    "activity_from_counts",
    "activity_from_lines",
    "activity_pieces",
    "fetch_activity_piece",
    "merge_counts",
]

#: Most points asked in one metric query (Loki refuses more than 11,000 per series).
MAX_POINTS = 10_000
#: `activity`: one row per (namespace, pod, container). `per_minute` holds Loki-style windows:
#: `lines` counts the lines with window_end - 60s < ts <= window_end (as `count_over_time[1m]`).
ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "namespace": pl.String(),
    "pod": pl.String(),
    "container": pl.String(),
    "first_ts": UTC_NS,
    "last_ts": UTC_NS,
    "lines": pl.Int64(),
    "per_minute": pl.List(pl.Struct({"window_end": UTC_NS, "lines": pl.Int64()})),
}

#: Lines per minute point (ns) for each (namespace, pod, container) series.
Counts = dict[tuple[str | None, str | None, str | None], dict[int, int]]


def fetch_activity_piece(session: Session, query: str, t0: int, t1: int) -> tuple[Counts, list]:
    """Counts for the minute points t0..t1 (inclusive); bisected on too many series."""
    params = {"query": query, "start": loki_time(t0), "end": loki_time(t1 if t1 > t0 else t0 + 1)}
    params["step"] = "60"

    def parse(payload: Any) -> Counts:
        data = payload["data"]
        if data["resultType"] != "matrix":
            raise Transient(f"unexpected resultType {data['resultType']!r}")
        counts: Counts = {}
        for series in data["result"]:
            bucket = counts.setdefault(activity_key(series["metric"]), {})
            for t, value in series["values"]:
                t_ns = int(t) * NS if isinstance(t, int) else round(float(t) * NS)
                if t0 <= t_ns <= t1:
                    bucket[t_ns] = bucket.get(t_ns, 0) + int(float(value))
        return counts

    try:
        return session.query(params, parse), []
    except Transient as exc:
        return {}, [gap_row(t0 - MINUTE_NS, t1, f"activity: {exc}")]
    except RangeTooBig as exc:
        if t1 == t0:
            raise LokiQueryError(f"Loki rejected the activity query (HTTP 400): {exc}") from None
        middle = t0 + (t1 - t0) // 2 // MINUTE_NS * MINUTE_NS
        first = fetch_activity_piece(session, query, t0, middle)
        second = fetch_activity_piece(session, query, middle + MINUTE_NS, t1)
        return merge_counts([first[0], second[0]]), first[1] + second[1]


def merge_counts(parts: Sequence[Counts]) -> Counts:
    """The counts of several pieces added up per series and minute."""
    merged: Counts = {}
    for part in parts:
        for key, values in part.items():
            bucket = merged.setdefault(key, {})
            for t, count in values.items():
                bucket[t] = bucket.get(t, 0) + count
    return merged


def activity_pieces(lo: int, hi: int, parallel: int) -> list[tuple[int, int]]:
    """Minute points covering [lo, hi), cut into consecutive runs of at most MAX_POINTS."""
    t0, t1 = ceil_minute(lo), ceil_minute(hi - 1)
    points = (t1 - t0) // MINUTE_NS + 1
    pieces = max(min(parallel, points), math.ceil(points / MAX_POINTS))
    cuts = [points * i // pieces for i in range(pieces + 1)]
    return [
        (t0 + a * MINUTE_NS, t0 + (b - 1) * MINUTE_NS)
        for a, b in zip(cuts, cuts[1:], strict=False)
        if b > a
    ]


def activity_from_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Per-pod first/last line, count and per-minute windows computed from the lines."""
    if lines.is_empty():
        return pl.DataFrame(schema=ACTIVITY_SCHEMA)
    epoch = pl.col("ts").dt.epoch("ns")
    window_end = ((epoch + MINUTE_NS - 1) // MINUTE_NS * MINUTE_NS).cast(pl.Int64)
    window = pl.from_epoch(window_end, time_unit="ns").dt.replace_time_zone("UTC")
    per_minute = pl.struct(
        pl.col("window_end").unique(maintain_order=True),
        pl.col("window_end").unique_counts().cast(pl.Int64).alias("lines"),
    )
    frame = (
        lines.with_columns(window_end=window)
        .group_by(["namespace", "pod", "container"], maintain_order=True)
        .agg(
            first_ts=pl.col("ts").min(),
            last_ts=pl.col("ts").max(),
            lines=pl.len().cast(pl.Int64),
            per_minute=per_minute,
        )
    )
    return _finish_activity(frame)


def activity_from_counts(counts: Counts) -> pl.DataFrame:
    """Activity from metric counts; first_ts/last_ts are the bounds of the first/last window."""
    rows = []
    for (namespace, pod, container), values in counts.items():
        points = sorted(t for t, n in values.items() if n > 0)
        if not points:
            continue
        rows.append(
            {
                "namespace": namespace,
                "pod": pod,
                "container": container,
                "first_ts": points[0] - MINUTE_NS,
                "last_ts": points[-1],
                "lines": sum(values[t] for t in points),
                "per_minute": [{"window_end": t, "lines": values[t]} for t in points],
            }
        )
    if not rows:
        return pl.DataFrame(schema=ACTIVITY_SCHEMA)
    int_schema = ACTIVITY_SCHEMA | {"first_ts": pl.Int64(), "last_ts": pl.Int64()}
    int_schema["per_minute"] = pl.List(pl.Struct({"window_end": pl.Int64, "lines": pl.Int64}))
    return _finish_activity(pl.DataFrame(rows, schema=int_schema))


def _finish_activity(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.cast(ACTIVITY_SCHEMA)
        .select(list(ACTIVITY_SCHEMA))
        .sort(["first_ts", "namespace", "pod", "container"], nulls_last=True)
    )
