"""`kubectl describe pod` / `kubectl describe job` output, read as Kubernetes documents.

A describe paste is never log lines: it becomes the same document dicts a `kubectl get -o json`
dump gives (`kind: Pod` with `status.containerStatuses`, `kind: Job` with a `Failed` condition,
`kind: Event` items), so `kube.py` reads both alike. The layout is kubectl's describe printer
(`k8s.io/kubectl/pkg/describe`): top-level `Field:  value` at column 0, continuation lines
indented, containers under `Containers:` (name at 2 spaces, fields at 4, a state's details at
6), and an `Events:` table (`Type  Reason  Age  From  Message`, columns 2+ spaces apart) or
`Events:  <none>`. Several objects in one paste (`kubectl describe pods -l …`) start each at a
column-0 `Name:`.

`kubernetes_evidence` turns documents of either origin into rows the report shows: containers
that terminated (reason such as `Error`, `OOMKilled`, `DeadlineExceeded`, `Completed`; exit
code; finish time) and Warning events (`BackoffLimitExceeded`, `DeadlineExceeded`, `BackOff`,
`FailedMount`, …).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

_NAME = re.compile(r"^Name:\s+(\S+)\s*$")
_FIELD = re.compile(r"^([A-Z][A-Za-z ()-]*?):(?:\s+(.*?))?\s*$")
_CONTAINER = re.compile(r"^  ([a-z0-9][a-z0-9.-]*):\s*$")
_CONTAINER_FIELD = re.compile(r"^    ([A-Z][A-Za-z ]*?):(?:\s+(.*?))?\s*$")
_STATE_FIELD = re.compile(r"^      ([A-Z][A-Za-z ]*?):(?:\s+(.*?))?\s*$")
_PODS_STATUSES = re.compile(
    r"(?P<active>\d+) (?:Active|Running)(?: \(\d+ Ready\))? / (?P<succeeded>\d+) Succeeded"
    r" / (?P<failed>\d+) Failed"
)
#: Warning events of a Job controller that end the Job, as its `Failed` condition's reason.
_JOB_FAILURES = (
    "BackoffLimitExceeded",
    "DeadlineExceeded",
    "PodFailurePolicy",
    "MaxFailedIndexesExceeded",
)
_K8S_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


#: A line that starts with an RFC3339 time: a log line (CRI, `kubectl logs --timestamps`, Kopia).
_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def looks_like_describe(first_line: str) -> bool:
    """Whether a file's first line is how describe output starts (`Name:  <object>`)."""
    return bool(_NAME.match(first_line.lstrip("\ufeff").rstrip("\r")))


def document(text: str) -> dict[str, Any] | None:
    """The describe output in `text` as a `kind: List` of Pod/Job/Event documents; None when it
    is not describe output of a pod or job (a log that happens to start with `Name:`)."""
    lines = text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")
    if any(_LOG_LINE.match(line) for line in lines):
        return None  # log lines follow (`kubectl describe; kubectl logs --timestamps`): a log
    items: list[dict[str, Any]] = []
    for block in _objects(lines):
        parsed = _pod(block) or _job(block)
        if parsed is None:
            return None
        items.extend(parsed)
    if not items:
        return None
    return {"apiVersion": "v1", "kind": "List", "items": items, "source": "kubectl describe"}


def _objects(lines: list[str]) -> list[list[str]]:
    """The paste cut at each column-0 `Name:` line."""
    blocks: list[list[str]] = []
    for line in lines:
        if _NAME.match(line):
            blocks.append([])
        if blocks:
            blocks[-1].append(line.rstrip())
    return blocks


def _top_fields(block: list[str]) -> dict[str, str]:
    """Column-0 `Field: value` pairs (the first value of a multi-line field)."""
    out: dict[str, str] = {}
    for line in block:
        m = _FIELD.match(line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2) or ""
    return out


def _section(block: list[str], title: str) -> list[str]:
    """The indented lines under a column-0 `title:` line."""
    out: list[str] = []
    inside = False
    for line in block:
        if not line.startswith(" ") and line:
            if inside:
                break
            inside = line.split(":", 1)[0] == title
            continue
        if inside:
            out.append(line)
    return out


def _time(value: str | None) -> str | None:
    """describe's `Sat, 31 Jan 2026 16:00:03 +0000` as RFC3339 UTC (None when unreadable)."""
    if not value:
        return None
    try:
        when = datetime.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S %z")
    except ValueError:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(kind: str | None, details: dict[str, str]) -> dict[str, Any]:
    """A containerStatuses state (`{"terminated": {...}}`) from describe's `State:` lines."""
    if not kind:
        return {}
    key = kind.strip().lower()
    state: dict[str, Any] = {}
    if "Reason" in details:
        state["reason"] = details["Reason"]
    if "Message" in details:
        state["message"] = details["Message"]
    if "Exit Code" in details and details["Exit Code"].lstrip("-").isdigit():
        state["exitCode"] = int(details["Exit Code"])
    if "Signal" in details and details["Signal"].isdigit():
        state["signal"] = int(details["Signal"])
    started, finished = _time(details.get("Started")), _time(details.get("Finished"))
    if started:
        state["startedAt"] = started
    if finished:
        state["finishedAt"] = finished
    return {key: state} if key in ("terminated", "running", "waiting") else {}


def _containers(lines: list[str]) -> list[dict[str, Any]]:
    """Each container under `Containers:` / `Init Containers:`: name, image, state, last state,
    restarts, readiness."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    which: str | None = None  # "State" or "Last State" while reading its details
    details: dict[str, dict[str, str]] = {}
    kinds: dict[str, str] = {}

    def close() -> None:
        if current is not None:
            for field, key in (("State", "state"), ("Last State", "lastState")):
                current[key] = _state(kinds.get(field), details.get(field, {}))
            out.append(current)

    for line in lines:
        if m := _CONTAINER.match(line):
            close()
            current, which, details, kinds = {"name": m.group(1)}, None, {}, {}
            continue
        if current is None:
            continue
        if m := _CONTAINER_FIELD.match(line):
            field, value = m.group(1), m.group(2) or ""
            which = None
            if field in ("State", "Last State"):
                which, kinds[field] = field, value
                details[field] = {}
            elif field == "Image":
                current["image"] = value
            elif field == "Restart Count" and value.isdigit():
                current["restartCount"] = int(value)
            elif field == "Ready":
                current["ready"] = value == "True"
            continue
        if which and (m := _STATE_FIELD.match(line)):
            details[which][m.group(1)] = m.group(2) or ""
    close()
    return out


def _events(block: list[str], kind: str, name: str, namespace: str | None) -> list[dict]:
    """The `Events:` table as Event documents about this object (ages, not times, are all
    describe prints)."""
    rows = _section(block, "Events")
    out = []
    for line in rows:
        text = line.strip()
        if not text or text.startswith(("Type ", "----")):
            continue
        cells = re.split(r"\s{2,}", text, maxsplit=4)
        if len(cells) < 5 or cells[0] not in ("Normal", "Warning"):
            continue
        kind_of, reason, age, source, message = cells
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "type": kind_of,
                "reason": reason,
                "message": message,
                "age": age,
                "source": {"component": source},
                "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
            }
        )
    return out


def _metadata(fields: dict[str, str]) -> tuple[str, str | None, dict[str, Any]]:
    name = fields.get("Name", "")
    namespace = fields.get("Namespace") or None
    if namespace is not None and not _K8S_NAME.match(namespace):
        namespace = None
    return name, namespace, {"name": name, "namespace": namespace}


def _pod(block: list[str]) -> list[dict[str, Any]] | None:
    fields = _top_fields(block)
    if "Containers" not in fields or not ({"Node", "Status", "IP"} & fields.keys()):
        return None
    name, namespace, meta = _metadata(fields)
    containers = _containers(_section(block, "Containers"))
    init = _containers(_section(block, "Init Containers"))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": c["name"], "image": c.get("image")} for c in containers],
            "initContainers": [{"name": c["name"], "image": c.get("image")} for c in init],
        },
        "status": {
            "phase": fields.get("Status") or None,
            "startTime": _time(fields.get("Start Time")),
            "containerStatuses": containers,
            "initContainerStatuses": init,
        },
    }
    return [pod, *_events(block, "Pod", name, namespace)]


def _job(block: list[str]) -> list[dict[str, Any]] | None:
    fields = _top_fields(block)
    if "Pods Statuses" not in fields and "Completions" not in fields:
        return None
    name, namespace, meta = _metadata(fields)
    events = _events(block, "Job", name, namespace)
    status: dict[str, Any] = {"startTime": _time(fields.get("Start Time"))}
    if m := _PODS_STATUSES.search(fields.get("Pods Statuses", "")):
        status.update({k: int(v) for k, v in m.groupdict().items()})
    ended = next(
        (e for e in events if e["type"] == "Warning" and e["reason"] in _JOB_FAILURES), None
    )
    if ended:
        status["conditions"] = [
            {
                "type": "Failed",
                "status": "True",
                "reason": ended["reason"],
                "message": ended["message"],
            }
        ]
    return [{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "status": status}, *events]


def _items(documents: Sequence[dict]) -> list[dict]:
    out: list[dict] = []
    for doc in documents:
        items = doc.get("items") if isinstance(doc.get("items"), list) else [doc]
        out.extend(i for i in items if isinstance(i, dict))
    return out


def kubernetes_evidence(documents: Sequence[dict]) -> dict[str, list[dict[str, Any]]]:
    """What the Kubernetes documents (describe pastes or JSON dumps) say went wrong:
    `terminations` (container, reason, exit code, finish time; the current state and the last
    one) and `warnings` (Warning events, with the object they are about)."""
    terminations: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []

    def mapping(value: Any) -> dict:  # a hostile dump's null or wrong-typed field reads empty
        return value if isinstance(value, dict) else {}

    def listing(value: Any) -> list:
        return value if isinstance(value, list) else []

    for item in _items(documents):
        meta = mapping(item.get("metadata"))
        if item.get("kind") == "Pod":
            status = mapping(item.get("status"))
            for c in listing(status.get("initContainerStatuses")) + listing(
                status.get("containerStatuses")
            ):
                if not isinstance(c, dict):
                    continue
                for when, key in (("current", "state"), ("last", "lastState")):
                    done = mapping(mapping(c.get(key)).get("terminated")) or None
                    if done is None:
                        continue
                    terminations.append(
                        {
                            "namespace": meta.get("namespace"),
                            "pod": meta.get("name"),
                            "container": c.get("name"),
                            "state": when,
                            "reason": done.get("reason"),
                            "exit_code": done.get("exitCode"),
                            "finished": done.get("finishedAt"),
                            "restarts": c.get("restartCount"),
                        }
                    )
        elif item.get("kind") == "Event" and item.get("type") == "Warning":
            about = mapping(item.get("involvedObject"))
            warnings.append(
                {
                    "namespace": about.get("namespace") or meta.get("namespace"),
                    "object": f"{about.get('kind') or '?'}/{about.get('name') or '?'}",
                    "reason": item.get("reason"),
                    "message": item.get("message"),
                    "count": item.get("count"),
                    "when": item.get("lastTimestamp") or item.get("age"),
                }
            )
    return {"terminations": terminations, "warnings": warnings}


def fill_exit_codes(runs: pl.DataFrame, documents: Sequence[dict]) -> pl.DataFrame:
    """Runs whose log shows no exit code get the one Kubernetes recorded for their pod (the
    container's current `Terminated` state in describe output or a pod dump): matched by pod
    name, and by container when the pod has several that ended."""
    ended = [
        (t["pod"], t["container"], t["exit_code"])
        for t in kubernetes_evidence(documents)["terminations"]
        if t["state"] == "current"
        and isinstance(t["exit_code"], int)
        and not isinstance(t["exit_code"], bool)
        and isinstance(t["pod"], str)
        and (t["container"] is None or isinstance(t["container"], str))
    ]
    if not ended or runs.height == 0:
        return runs
    known = pl.DataFrame(
        ended, schema={"pod": pl.String, "_container": pl.String, "_exit": pl.Int64}, orient="row"
    )
    same = pl.col("container").is_null() | (pl.col("container") == pl.col("_container"))
    picked = (
        runs.filter(pl.col("exit_code").is_null())
        .select("run_id", "pod", "container")
        .join(known, on="pod")
        .filter(same | (pl.len().over("run_id") == 1))
        .group_by("run_id")
        .agg(pl.col("_exit").first(), pl.len().alias("_n"))
        .filter(pl.col("_n") == 1)
        .select("run_id", "_exit")
    )
    return (
        runs.join(picked, on="run_id", how="left", maintain_order="left")
        .with_columns(pl.coalesce("exit_code", "_exit").alias("exit_code"))
        .drop("_exit")
    )
