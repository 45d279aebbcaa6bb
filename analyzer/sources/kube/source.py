"""`KubeSource`: the cluster itself, read through the Kubernetes API (`analyze --kube`).

What it reads, per namespace given (or in all namespaces):

- ReplicationSources and ReplicationDestinations (VolSync, with the fork's `spec.kopia`) and
  KopiaMaintenances where that CRD exists: their status feeds the Environment and, through
  `status.latestMoverStatus.logs`, each object's last-run log lines;
- mover Jobs and Pods (`volsync-src-*`, `volsync-dst-*`, `kopia-maint-*`): phase, container
  states, restarts, security context, image, as documents the run stage reads as evidence;
- Events of those objects (BackoffLimitExceeded, FailedMount, Evicted, …);
- each mover pod's logs with timestamps, the current and (after a restart) the previous
  container, from the window's start (`sinceTime`) and at most `limit_bytes` each, fetched in
  parallel with a progress bar when stderr is a terminal.

A kind RBAC forbids (403) becomes a data gap over the window (`cannot list pods in media:
forbidden`), a resource the server does not have (404: no VolSync, no KopiaMaintenance CRD) an
input note, a log the kubelet cannot give (a container waiting to start, a pod gone) a skipped
input; only an API server that does not answer at all, or refuses the credentials, is an error.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ...envelopes import events_from_raw
from ...errors import KubeError
from ...kube import OBSERVED_AT
from ...timeutil import fmt_utc
from ..base import Provenance, SourceResult, Wants

__all__ = ["KubeSource"]

#: Mover Jobs and Pods by name (formats.md §3.1, §5.3).
MOVER_PREFIXES = ("volsync-src-", "volsync-dst-", "kopia-maint-")
#: Each container log is cut at this many bytes (a mover's log is usually well under 1 MiB).
LIMIT_BYTES = 32 << 20

VOLSYNC = "/apis/volsync.backube/v1alpha1"
#: (what the gap and notes call it, API path prefix, plural, kind of its items)
KINDS = (
    ("replicationsources", VOLSYNC, "replicationsources", "ReplicationSource"),
    ("replicationdestinations", VOLSYNC, "replicationdestinations", "ReplicationDestination"),
    ("kopiamaintenances", VOLSYNC, "kopiamaintenances", "KopiaMaintenance"),
    ("jobs", "/apis/batch/v1", "jobs", "Job"),
    ("pods", "/api/v1", "pods", "Pod"),
    ("events", "/api/v1", "events", "Event"),
)
API_VERSIONS = {
    "ReplicationSource": "volsync.backube/v1alpha1",
    "ReplicationDestination": "volsync.backube/v1alpha1",
    "KopiaMaintenance": "volsync.backube/v1alpha1",
    "Job": "batch/v1",
    "Pod": "v1",
    "Event": "v1",
}


def _is_mover(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(MOVER_PREFIXES)


def _wanted(kind: str, item: dict) -> bool:
    """Which items are kept: every VolSync object; Jobs and Pods of movers; their Events."""
    if kind in ("Job", "Pod"):
        return _is_mover((item.get("metadata") or {}).get("name"))
    if kind == "Event":
        involved = item.get("involvedObject") or {}
        name = involved.get("name") if isinstance(involved, dict) else None
        return _is_mover(name) or (
            isinstance(involved, dict)
            and involved.get("kind")
            in ("ReplicationSource", "ReplicationDestination", "KopiaMaintenance")
        )
    return True


@dataclass
class _Read:
    """What one read gathered, before it becomes a `SourceResult`."""

    documents: list[tuple[str, dict]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    logs: list[tuple[dict, bytes]] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class KubeSource:
    """The Kubernetes API as configured by `kubeconfig`/`context` (or in-cluster), limited to
    `namespaces` (empty: all namespaces)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()
    parallel: int = 8
    limit_bytes: int = LIMIT_BYTES
    progress: bool | None = None
    kind: str = field(default="kube", init=False)

    def read(self, wants: Wants) -> SourceResult:
        from .connect import connect  # only a --kube run pays for the kubernetes client

        cluster = connect(self.kubeconfig, self.context, self.parallel)
        read = _Read()
        observed = fmt_utc(datetime.now(UTC))
        scopes: tuple[str | None, ...] = self.namespaces or (None,)
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="kube") as pool:
            # the first request alone: an API server that does not answer fails at once
            first = _list(cluster, KINDS[0], scopes[0])
            rest = [pool.submit(_list, cluster, k, ns) for k in KINDS for ns in scopes][1:]
            for kind, ns, answer in [first, *(f.result() for f in rest)]:
                _collect(read, cluster, kind, ns, answer, observed)
            pods = [
                item
                for _, doc in read.documents
                for item in doc["items"]
                if item.get("kind") == "Pod"
            ]
            _fetch_logs(self, cluster, pool, pods, wants, read)
        raw = _raw_lines(read.logs)
        start, end = wants.window.start, wants.window.end
        where = f"the Kubernetes API at {cluster.server} (context {cluster.context})"
        # one gap over the window, whatever was missing in it (several would count it twice)
        reasons = "; ".join(dict.fromkeys(read.gaps))
        gaps = [{"from": start, "to": end or datetime.now(UTC), "reason": reasons}]
        gaps = gaps if reasons and start is not None else []
        files = tuple(dict.fromkeys(r["source"] for r, _ in read.logs))
        provenance = Provenance(
            kind="kube",
            paths=(where,),
            files=files,
            skipped=tuple(read.notes)
            + tuple((where, reason) for reason in dict.fromkeys(read.gaps) if start is None),
            details={
                "server": cluster.server,
                "context": cluster.context,
                "namespaces": list(self.namespaces) or ["(all)"],
                "requests": read.requests,
                "bytes_received": read.bytes,
                "logs": len(read.logs),
                "observed_at": observed,
            },
        )
        return SourceResult(
            provenance=provenance,
            events=events_from_raw(raw),
            documents=read.documents,
            gaps=gaps,
        )


def _list(cluster: Any, kind: tuple, namespace: str | None) -> tuple[tuple, str | None, Any]:
    _, prefix, plural, _ = kind
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    return kind, namespace, cluster.get(path)


def _collect(
    read: _Read, cluster: Any, kind: tuple, namespace: str | None, answer: Any, observed: str
) -> None:
    name, prefix, plural, item_kind = kind
    read.requests += 1
    read.bytes += len(answer.body)
    scope = f"in {namespace}" if namespace else "in any namespace"
    label = f"kube: {name} {scope}"
    if answer.status == 403:
        read.gaps.append(f"cannot list {name} {scope}: forbidden")
        return
    if answer.status == 404 and item_kind == "Pod":
        raise KubeError(
            f"{cluster.server} is no Kubernetes API server: HTTP 404 for the core pods list "
            f"(context {cluster.context})"
        )
    if answer.status == 404:
        if item_kind != "KopiaMaintenance":  # optional: only the fork's clusters have it
            read.notes.append((label, "the API server has no such resource (not installed)"))
        return
    if answer.status != 200:
        reason = cluster.scrub(answer.message)
        read.gaps.append(f"cannot list {name} {scope}: HTTP {answer.status} {reason}")
        return
    try:
        data = answer.json()
        items = data.get("items") or []
        assert isinstance(items, list)
    except (ValueError, AttributeError, AssertionError):
        read.gaps.append(f"cannot list {name} {scope}: the answer is not a Kubernetes list")
        return
    kept = []
    for item in items:
        if not isinstance(item, dict) or not _wanted(item_kind, item):
            continue
        item.setdefault("kind", item_kind)  # list items of built-in kinds carry no kind
        item.setdefault("apiVersion", API_VERSIONS[item_kind])
        kept.append(item)
    path = f"kube:{cluster.context}{prefix}/" + (
        f"namespaces/{namespace}/{plural}" if namespace else plural
    )
    read.documents.append(
        (
            path,
            {
                "apiVersion": "v1",
                "kind": "List",
                "metadata": {OBSERVED_AT: observed},
                "items": kept,
            },
        )
    )


def _log_requests(pod: dict) -> list[dict]:
    """One request per container log worth reading: each container of the mover pod, and its
    previous instance when it restarted (or its last state says it terminated before)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ns, name = meta.get("namespace"), meta.get("name")
    if not isinstance(ns, str) or not isinstance(name, str):
        return []
    restarted = {
        s.get("name")
        for s in (status.get("containerStatuses") or [])
        if isinstance(s, dict)
        and (
            (isinstance(s.get("restartCount"), int) and s["restartCount"] > 0)
            or isinstance((s.get("lastState") or {}).get("terminated"), dict)
        )
    }
    out = []
    for container in spec.get("containers") or []:
        cname = container.get("name") if isinstance(container, dict) else None
        if not isinstance(cname, str):
            continue
        base = {"namespace": ns, "pod": name, "container": cname}
        if cname in restarted:
            out.append({**base, "previous": True})
        out.append({**base, "previous": False})
    return out


def _fetch_logs(
    source: KubeSource,
    cluster: Any,
    pool: ThreadPoolExecutor,
    pods: list[dict],
    wants: Wants,
    read: _Read,
) -> None:
    from tqdm import tqdm

    requests = [r for pod in pods for r in _log_requests(pod)]
    if not requests:
        return
    query_base = [("timestamps", "true"), ("limitBytes", str(source.limit_bytes))]
    if wants.window.start is not None:
        since = wants.window.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query_base.append(("sinceTime", since))

    def fetch(request: dict) -> tuple[dict, Any]:
        query = [*query_base, ("container", request["container"])]
        if request["previous"]:
            query.append(("previous", "true"))
        path = f"/api/v1/namespaces/{request['namespace']}/pods/{request['pod']}/log"
        return request, cluster.get(path, query)

    show = sys.stderr.isatty() if source.progress is None else source.progress
    bar = tqdm(total=len(requests), desc="kube logs", unit="log", file=sys.stderr, disable=not show)
    try:
        for request, answer in pool.map(fetch, requests):
            bar.update(1)
            read.requests += 1
            read.bytes += len(answer.body)
            where = f"{request['namespace']}/{request['pod']}/{request['container']}"
            where += " (previous)" if request["previous"] else ""
            request["source"] = f"kube:{cluster.context}/{where}"
            if answer.status == 200:
                if len(answer.body) >= source.limit_bytes:
                    read.notes.append(
                        (request["source"], f"cut at {source.limit_bytes} bytes (limitBytes)")
                    )
                read.logs.append((request, answer.body))
            elif answer.status == 403:
                read.gaps.append(f"cannot get pods/log in {request['namespace']}: forbidden")
            else:
                message = cluster.scrub(answer.message)
                read.notes.append((request["source"], f"no log: HTTP {answer.status} {message}"))
    finally:
        bar.close()


def _raw_lines(logs: list[tuple[dict, bytes]]) -> pl.DataFrame:
    """The logs as the raw-lines frame the file source gives (`events_from_raw` reads the
    `kubectl logs --timestamps` envelope the API returns)."""
    frames = []
    for request, body in logs:
        text = body.decode("utf-8", errors="replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            continue
        frames.append(
            pl.DataFrame(
                {"raw": lines, "line_no": pl.int_range(1, len(lines) + 1, eager=True)}
            ).with_columns(
                pl.lit(request["source"]).alias("source"),
                pl.lit(request["namespace"]).alias("namespace"),
                pl.lit(request["pod"]).alias("pod"),
                pl.lit(request["container"]).alias("container"),
                pl.lit(None, dtype=pl.String).alias("kopia_command"),
                pl.lit(None, dtype=pl.String).alias("replication_source"),
                pl.lit(None, dtype=pl.String).alias("role"),
            )
        )
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed")
