"""The canonical events table: one row per log line, whatever source or envelope it came from.

Every source (local files, Loki) produces this table and every later stage reads it. The schema is
defined here and nowhere else; `empty_events()` and `conform()` are the only ways to build one.
"""

from __future__ import annotations

import polars as pl

UTC_NS = pl.Datetime("ns", "UTC")

#: Column name -> dtype. The order is the order of the table.
EVENTS_SCHEMA: dict[str, pl.DataType] = {
    # When the line was written, UTC, nanoseconds. Null only for lines with no time at all.
    "ts": UTC_NS,
    # Kubernetes identity of the writer (from the CRI path, file name, Loki labels or flags).
    "namespace": pl.String(),
    "pod": pl.String(),
    "container": pl.String(),
    # stdout / stderr for container output; null for Kopia's own log files.
    "stream": pl.String(),
    # ReplicationSource / ReplicationDestination / KopiaMaintenance name, from VolSync naming.
    "replication_source": pl.String(),
    # source / destination / maintenance, from VolSync naming.
    "role": pl.String(),
    # DEBUG / INFO / WARN / ERROR when the line says so (Kopia level, mover script prefix).
    "level": pl.String(),
    # Kopia logger name (`kopia/repo`, `maintenance`, ...) for Kopia CLI-log lines.
    "module": pl.String(),
    # The line itself: envelope removed, ANSI codes stripped, one `\r` refresh per row.
    "message": pl.String(),
    # Kopia command from a CLI-log file name (`snapshot-create`, `maintenance-run`, ...).
    "kopia_command": pl.String(),
    # How the line was wrapped: cri, kubectl, docker, kopia-cli, kopia-json, plain, loki, raw.
    "envelope": pl.String(),
    # Provenance: file path (or Loki stream selector) and 1-based line number in it.
    "source": pl.String(),
    "line_no": pl.Int64(),
    # False for raw rows kept because their envelope could not be parsed.
    "parsed": pl.Boolean(),
    # Row number after `finalize` sorts the table; matches and evidence refer to it.
    "event_id": pl.Int64(),
}

ROLES = ("source", "destination", "maintenance")

# VolSync names its mover Jobs `volsync-src-<rs>` / `volsync-dst-<rd>` and the pods
# `<job>-<5 random chars>`; the fork's KopiaMaintenance CronJob pods are
# `kopia-maint-<name>-<16 hex>-<minutes>-<5 chars>` (formats.md §3.1, §5.3).
MOVER_POD_RE = r"^volsync-(?P<dir>src|dst)-(?P<rs>[a-z0-9.-]+?)-(?P<suffix>[a-z0-9]{5})$"
MAINT_POD_RE = (
    r"^kopia-maint-(?:manual-)?(?P<rs>[a-z0-9.-]+?)-[0-9a-f]{16}(?:-\d+)?(?:-[a-z0-9]{5})?$"
)
CACHE_DIR_RE = r"volsync-(?P<dir>src|dst)-(?P<rs>[a-z0-9.-]+?)-cache"
#: Containers VolSync runs its movers and KopiaMaintenance in (formats.md §3.1, §4, §5.3).
MOVER_CONTAINERS = (
    "kopia",
    "restic",
    "rclone",
    "rsync",
    "rsync-tls",
    "syncthing",
    "kopia-maintenance",
)
#: Pod name prefixes of VolSync's mover Jobs, its controller and KopiaMaintenance CronJobs.
MOVER_POD_PREFIXES = ("volsync", "kopia-maint")


def could_be_mover(pod: str | None, container: str | None) -> bool:
    """Whether output of `pod`/`container` may be VolSync's: identity not fully known, a
    VolSync or KopiaMaintenance pod name, or a mover container. Only a pod and container that
    are both named and neither is VolSync's rule it out (an application's own pods)."""
    if pod is None or container is None:
        return True
    return pod.startswith(MOVER_POD_PREFIXES) or container in MOVER_CONTAINERS


def mover_output() -> pl.Expr:
    """`could_be_mover` over the events table's pod and container columns."""
    pod, container = pl.col("pod"), pl.col("container")
    named = pod.str.starts_with(MOVER_POD_PREFIXES[0]) | pod.str.starts_with(MOVER_POD_PREFIXES[1])
    unknown = pod.is_null() | container.is_null()
    return (unknown | named | container.is_in(MOVER_CONTAINERS)).fill_null(False)


def empty_events() -> pl.DataFrame:
    """An events table with no rows and the canonical schema."""
    return pl.DataFrame(schema=EVENTS_SCHEMA)


def conform(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Give `frame` exactly the canonical columns, adding missing ones as nulls, in order."""
    lf = frame.lazy()
    present = set(lf.collect_schema().names())
    exprs = [
        (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in EVENTS_SCHEMA.items()
    ]
    return lf.select(exprs).collect()


def with_volsync_identity(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill `replication_source` and `role` from pod and container names where still null.

    Pod names follow VolSync's job naming; a container named `kopia-maintenance` marks a
    maintenance pod whatever its name.
    """
    mover = pl.col("pod").str.extract_groups(MOVER_POD_RE)
    maint = pl.col("pod").str.extract_groups(MAINT_POD_RE)
    rs = pl.coalesce(mover.struct.field("rs"), maint.struct.field("rs"))
    role = (
        pl.when(pl.col("container") == "kopia-maintenance")
        .then(pl.lit("maintenance"))
        .when(maint.struct.field("rs").is_not_null())
        .then(pl.lit("maintenance"))
        .when(mover.struct.field("dir") == "src")
        .then(pl.lit("source"))
        .when(mover.struct.field("dir") == "dst")
        .then(pl.lit("destination"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return frame.with_columns(
        pl.coalesce(pl.col("replication_source"), rs).alias("replication_source"),
        pl.coalesce(pl.col("role"), role).alias("role"),
    )


def finalize(frame: pl.DataFrame) -> pl.DataFrame:
    """Conform, derive VolSync identity, sort by time (then provenance) and number the rows."""
    table = with_volsync_identity(conform(frame))
    table = table.sort("ts", "source", "line_no", nulls_last=True, maintain_order=True)
    return table.with_columns(pl.int_range(0, pl.len(), dtype=pl.Int64).alias("event_id"))
