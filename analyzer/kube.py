"""The Environment section: what the logs and optional Kubernetes dumps say about the setup.

From logs: mover image versions, Kopia version, repository backend and path, the UIDs named by
matched signatures (their `uid` field). From `kubectl get replicationsource -A -o json` and
`kubectl get pods,jobs -A -o json` (detected by content among the inputs): images, security
contexts, restarts, job failures and the ReplicationSources' own sync bookkeeping (formats.md
§5.1, §5.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import pytimeparse2

BACKEND_RE = (
    r"^Connecting to (S3|Azure|GCS|filesystem|Backblaze B2|WebDAV|SFTP|Rclone|Google Drive) "
    r"repository"
)
FS_PATH_RE = r"^Using filesystem path: (\S+)"
S3_ENDPOINT_RE = r"^Resolved S3_ENDPOINT: (\S+)"
KOPIA_VERSION_RE = r"^(\d+\.\d+\.\d+(?:-\S+)?) build: "
#: The lines the Environment section reads; pushdown mode asks Loki for them.
LOG_FACTS = (BACKEND_RE, FS_PATH_RE, S3_ENDPOINT_RE, KOPIA_VERSION_RE)


def _values(events: pl.DataFrame, pattern: str) -> list[dict[str, Any]]:
    """Distinct values captured by `pattern` with how often they occur, most frequent first."""
    found = (
        events.select(pl.col("message").str.extract(pattern, 1).alias("value"))
        .drop_nulls()
        .group_by("value")
        .len()
        .sort("len", "value", descending=[True, False])
    )
    return [{"value": v, "count": n} for v, n in found.iter_rows()]


def _kind_items(documents: Sequence[dict], kind: str) -> list[dict]:
    items: list[dict] = []
    for doc in documents:
        candidates = doc.get("items", []) if doc.get("kind") == "List" or "items" in doc else [doc]
        items.extend(i for i in candidates if isinstance(i, dict) and i.get("kind") == kind)
    return items


def replication_sources(documents: Sequence[dict]) -> list[dict[str, Any]]:
    """ReplicationSource status rows (sync bookkeeping and the mover's own last verdict)."""
    rows = []
    for item in _kind_items(documents, "ReplicationSource"):
        meta, spec, status = item.get("metadata", {}), item.get("spec", {}), item.get("status", {})
        mover = next((spec[k] for k in ("kopia", "restic") if k in spec), {})
        rows.append(
            {
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
                "method": next(
                    (k for k in ("kopia", "restic", "rclone", "rsync") if k in spec), None
                ),
                "last_sync_time": status.get("lastSyncTime"),
                "last_sync_start_time": status.get("lastSyncStartTime"),
                "last_sync_duration": status.get("lastSyncDuration"),
                "next_sync_time": status.get("nextSyncTime"),
                "latest_result": (status.get("latestMoverStatus") or {}).get("result"),
                "security_context": mover.get("moverSecurityContext"),
            }
        )
    return rows


def fill_namespaces(events: pl.DataFrame, documents: Sequence[dict]) -> pl.DataFrame:
    """Give lines without a namespace (saved `kubectl logs` files name none) the namespace of
    their ReplicationSource, when the dumps name exactly one ReplicationSource of that name."""
    names = [(r["name"], r["namespace"]) for r in replication_sources(documents) if r["name"]]
    if not names or events.height == 0:
        return events
    known = (
        pl.DataFrame(names, schema=["replication_source", "_ns"], orient="row")
        .unique()
        .filter(pl.len().over("replication_source") == 1)
    )
    return (
        events.join(known, on="replication_source", how="left", maintain_order="left")
        .with_columns(pl.coalesce("namespace", "_ns").alias("namespace"))
        .drop("_ns")
    )


def pods(documents: Sequence[dict]) -> list[dict[str, Any]]:
    """Mover pods: image, security context, restarts, phase."""
    rows = []
    for item in _kind_items(documents, "Pod"):
        meta, spec, status = item.get("metadata", {}), item.get("spec", {}), item.get("status", {})
        containers = spec.get("containers", [])
        statuses = status.get("containerStatuses", [])
        rows.append(
            {
                "namespace": meta.get("namespace"),
                "pod": meta.get("name"),
                "images": sorted({c.get("image") for c in containers if c.get("image")}),
                "security_context": spec.get("securityContext") or {},
                "restarts": sum(int(s.get("restartCount", 0)) for s in statuses),
                "phase": status.get("phase"),
            }
        )
    return rows


def jobs(documents: Sequence[dict]) -> list[dict[str, Any]]:
    """Jobs and their failure conditions (BackoffLimitExceeded, DeadlineExceeded)."""
    rows = []
    for item in _kind_items(documents, "Job"):
        meta, status = item.get("metadata", {}), item.get("status", {})
        failed = [
            c
            for c in status.get("conditions", [])
            if c.get("type") == "Failed" and c.get("status") == "True"
        ]
        rows.append(
            {
                "namespace": meta.get("namespace"),
                "job": meta.get("name"),
                "failed": status.get("failed", 0),
                "succeeded": status.get("succeeded", 0),
                "failure_reason": failed[0].get("reason") if failed else None,
            }
        )
    return rows


def cross_check(rs_rows: list[dict[str, Any]], runs: pl.DataFrame) -> list[dict[str, Any]]:
    """Each ReplicationSource's own bookkeeping beside the last completed run the logs show.

    `lastSyncDuration` also counts scheduling and snapshot/PVC handling around the mover, so it
    runs a little longer than the mover pod; a large gap, or a `lastSyncTime` that is not the
    logs' last completion, means the two records disagree and deserves a look.
    """
    done = runs.filter((pl.col("outcome") == "completed") & (pl.col("role") == "source"))
    last = (
        done.sort("start")
        .group_by("namespace", "replication_source")
        .agg(pl.col("end").last(), pl.col("duration_s").last(), pl.col("pod").last())
    )
    by_key = {(r["namespace"], r["replication_source"]): r for r in last.iter_rows(named=True)}
    out = []
    for row in rs_rows:
        seen = by_key.get((row["namespace"], row["name"]))
        status_s = pytimeparse2.parse(row["last_sync_duration"] or "")
        out.append(
            {
                **row,
                "status_duration_s": status_s,
                "log_end": seen["end"] if seen else None,
                "log_duration_s": seen["duration_s"] if seen else None,
                "log_pod": seen["pod"] if seen else None,
            }
        )
    return out


def environment(
    events: pl.DataFrame, runs: pl.DataFrame, matches: pl.DataFrame, documents: Sequence[dict]
) -> dict[str, Any]:
    """Facts for the Environment section, each with where it came from."""
    uids = (
        matches.filter(pl.col("fields").str.contains('"uid"'))
        .select(pl.col("fields").str.json_path_match("$.uid").alias("uid"))
        .drop_nulls()
        .unique()
        .sort("uid")["uid"]
        .to_list()
    )
    versions = (
        runs.group_by("mover_version")
        .agg(pl.len(), pl.col("start").min(), pl.col("start").max().alias("last"))
        .drop_nulls("mover_version")
        .sort("start")
    )
    pod_rows = pods(documents)
    contexts = {
        (k, v)
        for row in pod_rows
        for k, v in row["security_context"].items()
        if k in ("runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot", "fsGroupChangePolicy")
    }
    for rs in replication_sources(documents):
        for k, v in (rs["security_context"] or {}).items():
            contexts.add((k, v))
    return {
        "mover_versions": [
            {"version": v, "runs": n, "first": first, "last": last}
            for v, n, first, last in versions.iter_rows()
        ],
        "kopia_versions": _values(events, KOPIA_VERSION_RE),
        "backends": _values(events, BACKEND_RE),
        "repository_paths": _values(events, FS_PATH_RE),
        "s3_endpoints": _values(events, S3_ENDPOINT_RE),
        "failed_uids": uids,
        "images": sorted({img for row in pod_rows for img in row["images"]}),
        "security_context": dict(sorted(contexts)),
        "replication_sources": cross_check(replication_sources(documents), runs),
        "pods": pod_rows,
        "jobs": jobs(documents),
    }
