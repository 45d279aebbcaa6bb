"""The Environment section: what the logs and optional Kubernetes dumps say about the setup.

From logs: mover image versions, Kopia version, repository backend and path, the UIDs named by
matched signatures (their `uid` field). From `kubectl get replicationsource -A -o json` and
`kubectl get pods,jobs -A -o json` (detected by content among the inputs): images, security
contexts, restarts, job failures and the ReplicationSources' own sync bookkeeping (formats.md
§5.1, §5.4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytimeparse2

from .envelopes import console_lines
from .events import MOVER_CONTAINERS, UTC_NS, empty_events, finalize

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


#: What `kind` a `kubectl get` document or List item is, and the fields read from it, are only
#: trusted when they have the type the API gives them: a dump is evidence, and a hand-edited or
#: truncated one is read as far as it is well-formed (what is not is listed by `problems`).
Problems = list[str] | None


_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "a number")


def field_of(
    obj: Any, path: str, want: type | tuple[type, ...], problems: Problems = None, where: str = ""
) -> Any:
    """`obj`'s dotted `path` when it has the type `want` (None when absent, or when it has
    another type, which is noted in `problems` with `where` the object's name)."""
    current = obj
    for key in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(key)
        if current is None:
            return None
    wanted = want if isinstance(want, tuple) else (want,)
    ok = isinstance(current, wanted) and not (isinstance(current, bool) and bool not in wanted)
    if not ok:
        if problems is not None:
            names = " or ".join(_TYPE_NAMES.get(w, w.__name__) for w in wanted)
            problems.append(f"{where}: {path} is {_type_name(current)}, not {names}")
        return None
    return current


def _kind_items(documents: Sequence[dict], kind: str, problems: Problems = None) -> list[dict]:
    items: list[dict] = []
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "List" or "items" in doc:
            candidates = doc.get("items")
            if not isinstance(candidates, list):
                if problems is not None and candidates is not None:
                    problems.append(f"a {doc.get('kind', 'List')}: items is not a list")
                continue
        else:
            candidates = [doc]
        items.extend(i for i in candidates if isinstance(i, dict) and i.get("kind") == kind)
    return items


def _name(item: dict, kind: str) -> str:
    meta = item.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    ns, name = meta.get("namespace"), meta.get("name")
    return f"{kind} {ns if isinstance(ns, str) else '?'}/{name if isinstance(name, str) else '?'}"


def _scalar(value: Any) -> Any:
    """A value as the Environment shows it: scalars as they are, mappings and lists (such as
    `seccompProfile: {type: RuntimeDefault}`) as compact sorted JSON, so they can be compared."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)
    return value


def _mover_spec(item: dict, problems: Problems, where: str) -> tuple[str | None, dict]:
    spec = field_of(item, "spec", dict, problems, where) or {}
    method = next((k for k in MOVER_METHODS if k in spec), None)
    mover = field_of(spec, method, dict, problems, where) if method else None
    return method, mover or {}


#: The mover sections a ReplicationSource/Destination spec may have (the fork adds `kopia`).
MOVER_METHODS = ("kopia", "restic", "rclone", "rsync", "rsyncTLS", "syncthing", "external")


def replication_sources(documents: Sequence[dict], problems: Problems = None) -> list[dict]:
    """ReplicationSource status rows (sync bookkeeping and the mover's own last verdict)."""
    rows = []
    for item in _kind_items(documents, "ReplicationSource", problems):
        where = _name(item, "ReplicationSource")
        method, mover = _mover_spec(item, problems, where)
        status = field_of(item, "status", dict, problems, where) or {}

        def text(path: str, status: dict = status, where: str = where) -> str | None:
            return field_of(status, path, str, problems, where + " status")

        rows.append(
            {
                "namespace": field_of(item, "metadata.namespace", str, problems, where),
                "name": field_of(item, "metadata.name", str, problems, where),
                "method": method,
                "last_sync_time": text("lastSyncTime"),
                "last_sync_start_time": text("lastSyncStartTime"),
                "last_sync_duration": text("lastSyncDuration"),
                "next_sync_time": text("nextSyncTime"),
                "latest_result": text("latestMoverStatus.result"),
                "security_context": field_of(
                    mover, "moverSecurityContext", dict, problems, where + " spec." + str(method)
                ),
            }
        )
    return rows


def fill_namespaces(events: pl.DataFrame, documents: Sequence[dict]) -> pl.DataFrame:
    """Give lines without a namespace (saved `kubectl logs` files name none) the namespace of
    their ReplicationSource, when the dumps name exactly one ReplicationSource of that name."""
    names = [
        (r["name"], r["namespace"])
        for r in replication_sources(documents)
        if r["name"] and r["namespace"]
    ]
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


def _container_statuses(item: dict, problems: Problems, where: str) -> list[dict]:
    statuses = field_of(item, "status.containerStatuses", list, problems, where) or []
    return [s for s in statuses if isinstance(s, dict)]


def pods(documents: Sequence[dict], problems: Problems = None) -> list[dict[str, Any]]:
    """Mover pods: image, security context, restarts, phase."""
    rows = []
    for item in _kind_items(documents, "Pod", problems):
        where = _name(item, "Pod")
        containers = field_of(item, "spec.containers", list, problems, where) or []
        statuses = _container_statuses(item, problems, where)
        images = {c.get("image") for c in containers if isinstance(c, dict)}
        context = field_of(item, "spec.securityContext", dict, problems, where) or {}
        rows.append(
            {
                "namespace": field_of(item, "metadata.namespace", str, problems, where),
                "pod": field_of(item, "metadata.name", str, problems, where),
                "images": sorted(i for i in images if isinstance(i, str) and i),
                "security_context": context,
                "restarts": sum(
                    field_of(s, "restartCount", int, problems, where) or 0 for s in statuses
                ),
                "phase": field_of(item, "status.phase", str, problems, where),
            }
        )
    return rows


def jobs(documents: Sequence[dict], problems: Problems = None) -> list[dict[str, Any]]:
    """Jobs and their failure conditions (BackoffLimitExceeded, DeadlineExceeded)."""
    rows = []
    for item in _kind_items(documents, "Job", problems):
        where = _name(item, "Job")
        conditions = field_of(item, "status.conditions", list, problems, where) or []
        failed = [
            c
            for c in conditions
            if isinstance(c, dict) and c.get("type") == "Failed" and c.get("status") == "True"
        ]
        reason = failed[0].get("reason") if failed else None
        rows.append(
            {
                "namespace": field_of(item, "metadata.namespace", str, problems, where),
                "job": field_of(item, "metadata.name", str, problems, where),
                "failed": field_of(item, "status.failed", int, problems, where) or 0,
                "succeeded": field_of(item, "status.succeeded", int, problems, where) or 0,
                "failure_reason": reason if isinstance(reason, str) else None,
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
        status_s = _duration(row["last_sync_duration"])
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


def _duration(text: str | None) -> float | None:
    """A `metav1.Duration` string (`1m32.412s`) in seconds; None when absent or unreadable."""
    if not text:
        return None
    try:
        seconds = pytimeparse2.parse(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return float(seconds) if isinstance(seconds, int | float) else None


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
        (k, _scalar(v))
        for row in pod_rows
        for k, v in row["security_context"].items()
        if k in ("runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot", "fsGroupChangePolicy")
    }
    for rs in replication_sources(documents):
        for k, v in (rs["security_context"] or {}).items():
            contexts.add((str(k), _scalar(v)))
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
        # one value per setting (several movers may disagree: the last in sort order is shown)
        "security_context": dict(sorted(contexts, key=lambda kv: (kv[0], str(kv[1])))),
        "replication_sources": cross_check(replication_sources(documents), runs),
        "pods": pod_rows,
        "jobs": jobs(documents),
    }


# --- Evidence the API objects give the runs (the same for `--kube` and for dumps) -------------

#: The mover's last-run log lines the controller keeps in `status.latestMoverStatus.logs`
#: (≤ 1024 bytes, the tail of the newest pod's output, formats.md §3.4): one input per object.
MOVER_STATUS_KINDS = {"ReplicationSource": "source", "ReplicationDestination": "destination"}
_MOVER_CONTAINER = {"kopia": "kopia", "restic": "restic", "rclone": "rclone", "rsync": "rsync"}
#: The envelope of rows made from Kubernetes objects' status (never pod output: no run).
EVENT_ENVELOPE = "kube-event"
#: `metadata.observedAt` on a List the API source made: when the objects in it were read, so a
#: container state in it is "as of then" (a dump carries no such time: its Running says nothing).
OBSERVED_AT = "observedAt"


def mover_status_source(kind: str, namespace: str | None, name: str | None) -> str:
    """The `source` of a ReplicationSource/Destination's last-run log lines, as Evidence shows
    it (`…/status.latestMoverStatus.logs`)."""
    return (
        f"{kind.lower()}/{namespace or '?'}/{name or '?'}: status.latestMoverStatus.logs (last run)"
    )


def status_events(documents: Sequence[dict]) -> pl.DataFrame:
    """The last-run log lines of every ReplicationSource/Destination as events: no time, no pod
    (the controller does not say which pod printed them), the object's namespace, name and role,
    so they make one run per object whose markers and signatures are read like any output."""
    rows: list[dict[str, Any]] = []
    for kind, role in MOVER_STATUS_KINDS.items():
        for item in _kind_items(documents, kind):
            logs = field_of(item, "status.latestMoverStatus.logs", str)
            if not logs or not logs.strip():
                continue
            ns = field_of(item, "metadata.namespace", str)
            name = field_of(item, "metadata.name", str)
            method, _ = _mover_spec(item, None, "")
            source = mover_status_source(kind, ns, name)
            for number, line in enumerate(logs.split("\n"), start=1):
                rows.append(
                    {
                        "namespace": ns,
                        "container": _MOVER_CONTAINER.get(method or ""),
                        "replication_source": name,
                        "role": role,
                        "message": line.rstrip("\r"),
                        "source": source,
                        "line_no": number,
                    }
                )
    if not rows:
        return empty_events()
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit("plain").alias("envelope"),
        pl.lit(True).alias("parsed"),
        pl.lit(None, dtype=pl.String).alias("level"),
        pl.lit(None, dtype=pl.String).alias("module"),
        pl.lit(None, dtype=pl.String).alias("pod"),
        pl.lit(None, dtype=UTC_NS).alias("ts"),
        pl.lit(None, dtype=pl.String).alias("stream"),
    )
    return finalize(console_lines(frame))


def drop_restated_status(events: pl.DataFrame) -> pl.DataFrame:
    """Leave out an object's last-run log lines when the newest pod of that namespace, name and
    role in the input printed them: its last three non-empty lines (the controller keeps the
    tail of the newest pod's output) are among that pod's lines. Then the pod's run is that
    run, read with times; otherwise (the pod is gone) the status lines stand for it."""
    status = pl.col("source").str.ends_with(": status.latestMoverStatus.logs (last run)")
    marked = events.with_columns(
        (status & pl.col("pod").is_null() & pl.col("ts").is_null()).fill_null(False).alias("_st")
    )
    if not marked["_st"].any():
        return events
    key = ["namespace", "replication_source", "role"]
    said = pl.col("message").str.strip_chars()
    wanted = (
        marked.filter(pl.col("_st") & (said != ""))
        .sort("line_no")
        .group_by("source", *key)
        .agg(said.tail(3).alias("_m"))
        .explode("_m")
    )
    pods = marked.filter(~pl.col("_st") & pl.col("pod").is_not_null() & pl.col("ts").is_not_null())
    newest = (
        pods.group_by(*key, "pod")
        .agg(pl.col("ts").min().alias("_start"))
        .sort("_start")
        .group_by(key)
        .agg(pl.col("pod").last())
    )
    printed = pods.join(newest, on=[*key, "pod"], how="semi", nulls_equal=True).select(
        *key, said.alias("_m")
    )
    found = wanted.join(printed.unique(), on=[*key, "_m"], how="left", nulls_equal=True)
    hits = wanted.join(printed.unique(), on=[*key, "_m"], how="semi", nulls_equal=True)
    needed = found.group_by("source").agg(pl.len().alias("_n"))
    covered = (
        hits.group_by("source")
        .agg(pl.len().alias("_hits"))
        .join(needed, on="source")
        .filter(pl.col("_hits") == pl.col("_n"))["source"]
    )
    if covered.len() == 0:
        return events
    return events.filter(~(marked["_st"] & events["source"].is_in(covered.implode())))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


#: Per run key (the pod, or `\x00` + source for output with no pod name): what the API says
#: about its end. `running`/`observed_at`: the container was Running when read; `result`,
#: `finished_at`, `exit_code`, `reason`: how it ended; `basis`: the outcome_basis it gives.
STATES_SCHEMA = {
    "key": pl.String,
    "running": pl.Boolean,
    "observed_at": UTC_NS,
    "result": pl.String,
    "finished_at": UTC_NS,
    "exit_code": pl.Int64,
    "reason": pl.String,
    "basis": pl.String,
}


def _observed_lists(documents: Sequence[dict]) -> list[tuple[dict, datetime | None]]:
    out = []
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        meta = doc.get("metadata")
        seen = _time(meta.get(OBSERVED_AT)) if isinstance(meta, dict) else None
        out.append((doc, seen))
    return out


def _mover_container(statuses: list[dict]) -> dict | None:
    named = [s for s in statuses if s.get("name") in MOVER_CONTAINERS]
    return (named or statuses or [None])[0]


def run_states(documents: Sequence[dict]) -> pl.DataFrame:
    """What the objects say about each run's end, for `runs.reconstruct_runs(states=...)`:

    - a pod's mover container `Terminated`: the real end (`finishedAt`) and exit code
      (`container-terminated`; failed unless the code is 0);
    - a pod's mover container `Running` in a List the API source read at `observedAt`: the pod
      was alive then (a hang needs this and silence; a dump's Running carries no time);
    - a ReplicationSource/Destination's `latestMoverStatus.result` for its last-run lines
      (`mover-status`; `Successful` ended at `lastSyncTime`)."""
    rows: list[dict[str, Any]] = []
    for doc, seen in _observed_lists(documents):
        for item in _kind_items([doc], "Pod"):
            name = field_of(item, "metadata.name", str)
            status = _mover_container(_container_statuses(item, None, ""))
            if not name or status is None:
                continue
            terminated = field_of(status, "state.terminated", dict)
            running = field_of(status, "state.running", dict)
            if terminated is not None:
                code = field_of(terminated, "exitCode", int)
                if code is None:
                    continue
                rows.append(
                    {
                        "key": name,
                        "result": "completed" if code == 0 else "failed",
                        "finished_at": _time(terminated.get("finishedAt")),
                        "exit_code": code,
                        "reason": field_of(terminated, "reason", str),
                        "basis": "container-terminated",
                    }
                )
            elif running is not None and seen is not None:
                rows.append({"key": name, "running": True, "observed_at": seen})
        for kind in MOVER_STATUS_KINDS:
            for item in _kind_items([doc], kind):
                result = field_of(item, "status.latestMoverStatus.result", str)
                if result not in ("Successful", "Failed"):
                    continue
                ns = field_of(item, "metadata.namespace", str)
                name = field_of(item, "metadata.name", str)
                rows.append(
                    {
                        "key": "\x00" + mover_status_source(kind, ns, name),
                        "result": "completed" if result == "Successful" else "failed",
                        "finished_at": _time(field_of(item, "status.lastSyncTime", str))
                        if result == "Successful"
                        else None,
                        "reason": result,
                        "basis": "mover-status",
                    }
                )
    if not rows:
        return pl.DataFrame(schema=STATES_SCHEMA)
    frame = pl.DataFrame(rows, schema=STATES_SCHEMA)
    # the same pod in several dumps or reads: the newest word (an end beats Running)
    return frame.sort("result", "observed_at", nulls_last=False).unique("key", keep="last")


def object_events(documents: Sequence[dict]) -> pl.DataFrame:
    """What VolSync objects' status says failed, as rows of the events table: conditions whose
    reason says so (`_failing_conditions`), at their last transition, with the object's name
    as ReplicationSource. They make no run (their envelope is no pod output) but are matched,
    mined and attached to runs like any line. Warning Events (BackoffLimitExceeded,
    FailedMount, Evicted, …) are shown as they are by `describe.kubernetes_evidence`."""
    rows = _failing_conditions(documents)
    if not rows:
        return empty_events()
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("ts").cast(UTC_NS),
        pl.lit(EVENT_ENVELOPE).alias("envelope"),
        pl.lit(True).alias("parsed"),
        pl.lit(1, dtype=pl.Int64).alias("line_no"),
    )
    return finalize(frame)


#: Condition reasons that say something failed (formats.md §5.1, §5.3): the controller's Go
#: error on a ReplicationSource/Destination, KopiaMaintenance's repeated failures.
FAILING_REASONS = (
    "Error",
    "ExcessiveFailures",
    "ReconcileFailed",
    "ReconcileError",
    "CronJobCreationFailed",
)


def _failing_conditions(documents: Sequence[dict]) -> list[dict[str, Any]]:
    """Conditions of VolSync objects whose reason says something failed, as event rows
    (`Condition Synchronizing=False Error ReplicationSource/x: <message>`), at their last
    transition: they reach findings, unrecognised errors and the runs around them."""
    rows = []
    for kind in (*MOVER_STATUS_KINDS, "KopiaMaintenance"):
        for item in _kind_items(documents, kind):
            ns = field_of(item, "metadata.namespace", str)
            name = field_of(item, "metadata.name", str)
            for cond in field_of(item, "status.conditions", list) or []:
                if not isinstance(cond, dict) or cond.get("reason") not in FAILING_REASONS:
                    continue
                message = cond.get("message") if isinstance(cond.get("message"), str) else ""
                rows.append(
                    {
                        "ts": _time(cond.get("lastTransitionTime")),
                        "namespace": ns,
                        "pod": None,
                        "replication_source": name,
                        "role": MOVER_STATUS_KINDS.get(kind, "maintenance"),
                        "level": "ERROR",
                        "message": f"Condition {cond.get('type')}={cond.get('status')} "
                        f"{cond['reason']} {kind}/{name}: {message.strip()}",
                        "source": f"{kind.lower()}/{ns or '?'}/{name or '?'}: status.conditions",
                    }
                )
    return rows


def problems(documents: Sequence[tuple[str, dict]]) -> list[str]:
    """What in the Kubernetes documents is not well-formed (a field of the wrong type, items
    that are no list), one line per document: read around, never a crash."""
    out: list[str] = []
    for path, doc in documents:
        found: list[str] = []
        replication_sources([doc], found)
        pods([doc], found)
        jobs([doc], found)
        if found:
            first = "; ".join(dict.fromkeys(found[:3]))
            more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
            out.append(f"{path}: not read as given: {first}{more}")
    return out
