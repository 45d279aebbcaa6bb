"""Findings: each matched signature summarised and correlated with how the runs it touched went.

For every signature: how often, when, where, which runs, their outcome mix and duration median,
p95 and max against the runs without it. Per ReplicationSource: success rate, hang count and
durations. With a fix time: the same before and after, side by side. All polars expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from .catalog import Signature
from .events import UTC_NS

OUTCOMES = ("completed", "failed", "hung", "running", "unknown")


def _duration_stats(prefix: str) -> list[pl.Expr]:
    d = pl.col("duration_s")
    return [
        pl.len().alias(f"{prefix}runs"),
        d.median().alias(f"{prefix}median_s"),
        d.quantile(0.95, "nearest").alias(f"{prefix}p95_s"),
        d.max().alias(f"{prefix}max_s"),
        *[(pl.col("outcome") == o).sum().cast(pl.Int64).alias(f"{prefix}{o}") for o in OUTCOMES],
    ]


def summarise(
    matches: pl.DataFrame,
    events: pl.DataFrame,
    runs: pl.DataFrame,
    run_map: pl.DataFrame,
    signatures: Sequence[Signature],
    probable: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per matched signature (plus inferred ones), with correlation to run durations."""
    meta = pl.DataFrame(
        {
            "signature": [s.id for s in signatures],
            "title": [s.title for s in signatures],
            "severity": [s.severity for s in signatures],
            "category": [s.category for s in signatures],
            "hang": [s.hang for s in signatures],
        }
    )
    hits = (
        matches.join(
            events.select("event_id", "ts", "pod", "envelope", "replication_source", "message"),
            on="event_id",
        )
        .join(run_map, on="event_id", how="left")
        .join(runs.select("run_id", pl.col("pod").alias("run_pod")), on="run_id", how="left")
        .with_columns(pl.coalesce("pod", "run_pod").alias("pod"))
    )
    base = hits.group_by("signature").agg(
        pl.len().cast(pl.Int64).alias("count"),
        pl.col("ts").min().alias("first_seen"),
        pl.col("ts").max().alias("last_seen"),
        pl.col("pod").drop_nulls().unique().sort().alias("pods"),
        pl.col("replication_source").drop_nulls().unique().sort().alias("replication_sources"),
        pl.col("envelope")
        .is_in(["kopia-cli", "kopia-json"])
        .sum()
        .cast(pl.Int64)
        .alias("in_kopia_logs"),
        pl.col("run_id").drop_nulls().unique().sort().alias("run_ids"),
        pl.col("message").sort_by("ts").first().alias("example"),
    )
    if probable is not None and probable.height:
        inferred = probable.group_by("signature", maintain_order=True).agg(
            pl.col("run_id").alias("probable_run_ids")
        )
        base = base.join(inferred, on="signature", how="full", coalesce=True)
    else:
        base = base.with_columns(pl.lit(None, dtype=pl.List(pl.Int64)).alias("probable_run_ids"))
    base = base.with_columns(
        pl.col("count").fill_null(0),
        pl.col("in_kopia_logs").fill_null(0),
        pl.col("pods").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("replication_sources").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("run_ids").fill_null(pl.lit([], dtype=pl.List(pl.Int64))),
        pl.col("probable_run_ids").fill_null(pl.lit([], dtype=pl.List(pl.Int64))),
    )
    correlation = _correlate(base, runs)
    out = (
        base.join(meta, on="signature", how="inner")
        .join(correlation, on="signature", how="left")
        .with_columns(
            pl.col("run_ids").list.len().cast(pl.Int64).alias("runs_affected"),
            pl.col("probable_run_ids").list.len().cast(pl.Int64).alias("runs_probable"),
            pl.col("severity")
            .replace_strict({"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4})
            .alias("_rank"),
        )
        .sort("_rank", "count", descending=[False, True])
        .drop("_rank")
    )
    return out


def _correlate(base: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """Outcome mix and durations of runs with each signature (direct or probable) vs without."""
    if runs.height == 0 or base.height == 0:
        # same columns, all null: there is nothing to correlate with
        empty = pl.DataFrame(schema={"duration_s": pl.Float64, "outcome": pl.String})
        nulls = [
            pl.lit(None, dtype=dtype).alias(name)
            for prefix in ("with_", "without_")
            for name, dtype in empty.select(_duration_stats(prefix)).schema.items()
        ]
        return base.select("signature", *nulls)
    membership = (
        base.select(
            "signature",
            pl.concat_list("run_ids", "probable_run_ids").list.unique().alias("run_id"),
        )
        .explode("run_id")
        .drop_nulls()
        .with_columns(pl.lit(True).alias("with"))
    )
    grid = base.select("signature").join(
        runs.select("run_id", "outcome", "duration_s"), how="cross"
    )
    grid = grid.join(membership, on=["signature", "run_id"], how="left").with_columns(
        pl.col("with").fill_null(False)
    )
    with_sig = grid.filter(pl.col("with")).group_by("signature").agg(_duration_stats("with_"))
    without = grid.filter(~pl.col("with")).group_by("signature").agg(_duration_stats("without_"))
    return (
        base.select("signature")
        .join(with_sig, on="signature", how="left")
        .join(without, on="signature", how="left")
    )


def per_replication_source(runs: pl.DataFrame) -> pl.DataFrame:
    """Success rate, hang count and duration statistics per ReplicationSource and role."""
    if runs.height == 0:
        return pl.DataFrame()
    done = pl.col("outcome") == "completed"
    return (
        runs.group_by("namespace", "replication_source", "role")
        .agg(
            *_duration_stats(""),
            pl.col("duration_s").filter(done).median().alias("completed_median_s"),
            pl.col("duration_s").filter(done).max().alias("completed_max_s"),
            pl.col("start").min().alias("first_start"),
            pl.col("start").max().alias("last_start"),
        )
        .with_columns((pl.col("completed") / pl.col("runs")).alias("success_rate"))
        .sort("namespace", "replication_source", "role", nulls_last=True)
    )


def before_after(runs: pl.DataFrame, fix_at: datetime | None) -> pl.DataFrame:
    """Counts, hang rate and durations of sync runs (backup and restore, not maintenance)
    started before vs at/after the fix time (a run with no time is in neither)."""
    runs = runs.filter(
        pl.col("role").is_in(["source", "destination"]) & pl.col("start").is_not_null()
    )
    if fix_at is None or runs.height == 0:
        return pl.DataFrame()
    cut = pl.lit(fix_at).cast(UTC_NS)
    return (
        runs.with_columns(
            pl.when(pl.col("start") < cut)
            .then(pl.lit("before"))
            .otherwise(pl.lit("after"))
            .alias("period")
        )
        .group_by("period")
        .agg(
            *_duration_stats(""),
            pl.col("duration_s")
            .filter(pl.col("outcome") == "completed")
            .median()
            .alias("completed_median_s"),
            pl.col("duration_s")
            .filter(pl.col("outcome") == "completed")
            .quantile(0.95, "nearest")
            .alias("completed_p95_s"),
            pl.col("duration_s")
            .filter(pl.col("outcome") == "completed")
            .max()
            .alias("completed_max_s"),
            pl.col("duration_s").filter(pl.col("outcome") == "hung").min().alias("hung_min_s"),
            pl.col("duration_s")
            .filter(pl.col("outcome") == "hung")
            .median()
            .alias("hung_median_s"),
        )
        .with_columns((pl.col("hung") / pl.col("runs")).alias("hang_rate"))
        .sort("period", descending=True)
    )


def outcome_segments(runs: pl.DataFrame) -> pl.DataFrame:
    """Consecutive runs of one ReplicationSource with the same outcome, as one segment each:
    the shape of an incident at a glance (29 hung, then 54 completed) for the gantt chart. Runs
    with no time have no place on it."""
    runs = runs.filter(pl.col("start").is_not_null())
    if runs.height == 0:
        return pl.DataFrame()
    keys = ["namespace", "replication_source", "role"]
    return (
        runs.sort("start")
        .with_columns(
            (pl.col("outcome") != pl.col("outcome").shift(1).over(keys))
            .fill_null(True)
            .cum_sum()
            .over(keys)
            .alias("_segment")
        )
        .group_by([*keys, "_segment"], maintain_order=True)
        .agg(
            pl.col("outcome").first(),
            pl.len().alias("runs"),
            pl.col("start").min().alias("from"),
            pl.col("observed_until").max().alias("to"),
            pl.col("duration_s").median().alias("median_s"),
            pl.col("duration_s").max().alias("max_s"),
        )
        .drop("_segment")
        .sort("namespace", "replication_source", "role", "from", nulls_last=True)
    )


_BUCKET_HOURS = (1, 2, 3, 6, 12, 24, 48, 168)


def duration_buckets(runs: pl.DataFrame, *, max_buckets: int = 24) -> pl.DataFrame:
    """Sync runs (backup and restore) per time bucket: count, hung, failed and the median
    duration; the bucket width is the smallest of 1, 2, 3, 6, 12, 24, 48 or 168 hours that
    keeps at most `max_buckets` buckets."""
    syncs = runs.filter(
        pl.col("role").is_in(["source", "destination"]) & pl.col("start").is_not_null()
    )
    if syncs.height == 0:
        return pl.DataFrame()
    span_h = (syncs["start"].max() - syncs["start"].min()).total_seconds() / 3600
    width = next((h for h in _BUCKET_HOURS if span_h / h < max_buckets), _BUCKET_HOURS[-1])
    return (
        syncs.with_columns(pl.col("start").dt.truncate(f"{width}h").alias("bucket"))
        .group_by("bucket")
        .agg(
            pl.len().alias("runs"),
            (pl.col("outcome") == "hung").sum().cast(pl.Int64).alias("hung"),
            (pl.col("outcome") == "failed").sum().cast(pl.Int64).alias("failed"),
            pl.col("duration_s").median().alias("median_s"),
            pl.col("duration_s").max().alias("max_s"),
        )
        .sort("bucket")
        .with_columns(pl.lit(width).alias("width_h"))
    )
