"""Which pod a Loki entry belongs to: namespace, pod, container and stream from its labels or
structured metadata (Promtail, Alloy and OTLP name them differently), and the `source` string
that names the stream in the report; `parse_streams` reads a `streams` response into entries."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .errors import Transient
from .logql import logql_quote, render_selector

__all__ = [
    "CATEGORIZE_LABELS",
    "Entry",
    "Identities",
    "StreamInfo",
    "activity_key",
    "parse_streams",
    "stream_identity",
]

#: The encoding flag (asked for in a header, echoed in `data.encodingFlags`) under which Loki
#: keeps structured metadata apart from the stream labels.
CATEGORIZE_LABELS = "categorize-labels"


@dataclass(frozen=True)
class StreamInfo:
    """An entry's stream: `source` names it in the report (a selector), the rest is its pod."""

    source: str
    namespace: str | None
    pod: str | None
    container: str | None
    stream: str | None


_IDENTITY_KEYS = ("pod", "k8s_pod_name", "namespace", "k8s_namespace_name", "container")
_IDENTITY_KEYS += ("k8s_container_name", "stream")
# Structured metadata Loki adds itself; it splits streams when labels are not categorized.
_LOKI_ADDED = ("detected_level",)


def _first(*candidates: tuple[Mapping[str, str], str]) -> tuple[str | None, str | None]:
    """The first non-empty value among (mapping, key) pairs, and its key."""
    for mapping, key in candidates:
        if mapping.get(key):
            return mapping[key], key
    return None, None


def stream_identity(labels: Mapping[str, str], metadata: Mapping[str, str]) -> StreamInfo:
    """namespace/pod/container/stream of an entry; pod from label, metadata, else service_name."""
    pod, pod_key = _first(
        (labels, "pod"), (metadata, "pod"), (metadata, "k8s_pod_name"),
        (labels, "k8s_pod_name"), (labels, "service_name"),
    )  # fmt: skip
    namespace, _ = _first(
        (labels, "namespace"), (labels, "k8s_namespace_name"),
        (metadata, "namespace"), (metadata, "k8s_namespace_name"),
    )  # fmt: skip
    container, _ = _first(
        (labels, "container"), (labels, "k8s_container_name"),
        (metadata, "container"), (metadata, "k8s_container_name"),
    )  # fmt: skip
    stream, _ = _first((labels, "stream"), (metadata, "stream"))
    source = render_selector(labels)
    if pod and pod_key and pod_key not in labels:
        source += f" | {pod_key}={logql_quote(pod)}"  # pod lives in structured metadata (Alloy)
    return StreamInfo(source, namespace, pod, container, stream)


class Identities:
    """Caches stream identities per (labels, identity-relevant structured metadata), and counts
    the entries that could not be read (`unreadable`, by reason)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, StreamInfo] = {}
        self._lock = threading.Lock()
        self.unreadable: dict[str, int] = {}

    def refuse(self, reason: str) -> None:
        """Count one entry left out for `reason`."""
        with self._lock:
            self.unreadable[reason] = self.unreadable.get(reason, 0) + 1

    def get(self, labels: Mapping[str, str], metadata: Mapping[str, str] | None) -> StreamInfo:
        """The identity of an entry with these labels and structured metadata."""
        meta = {k: metadata[k] for k in _IDENTITY_KEYS if metadata and k in metadata}
        key = (tuple(sorted(labels.items())), tuple(sorted(meta.items())))
        info = self._cache.get(key)
        if info is None:
            info = stream_identity(labels, meta)
            with self._lock:
                self._cache[key] = info
        return info


#: One log entry: timestamp (ns), its stream, its line.
Entry = tuple[int, StreamInfo, str]


def parse_streams(payload: Any, identities: Identities, backward: bool) -> list[Entry]:
    """Entries of a `streams` response merged over streams, in direction order (stable)."""
    data = payload["data"]
    if data["resultType"] != "streams":
        raise Transient(f"unexpected resultType {data['resultType']!r}")
    categorized = CATEGORIZE_LABELS in (data.get("encodingFlags") or ())
    entries: list[Entry] = []
    for item in data["result"]:
        labels = item["stream"]
        if not categorized:  # old Loki: metadata merged into labels; drop what Loki added
            labels = {k: v for k, v in labels.items() if k not in _LOKI_ADDED}
        base = identities.get(labels, None)
        for value in item["values"]:
            ts, reason = _entry_time(value)
            if reason:
                identities.refuse(reason)
                continue
            if not isinstance(value[1], str):
                identities.refuse("a line that is not text")
                continue
            meta = value[2].get("structuredMetadata") if len(value) > 2 and value[2] else None
            meta = meta if isinstance(meta, dict) else None
            info = identities.get(labels, meta) if meta and _has_identity(meta) else base
            entries.append((ts, info, value[1]))
    entries.sort(key=itemgetter(0), reverse=backward)
    return entries


#: Nanosecond times a polars Datetime("ns") holds: 1678-09-21 to 2262-04-11.
_NS_MIN, _NS_MAX = -(2**63) + 1, 2**63 - 1


def _entry_time(value: Any) -> tuple[int, str | None]:
    """The entry's nanosecond time, or why it has none usable (Loki sends a decimal string)."""
    if not isinstance(value, list) or len(value) < 2:
        return 0, "an entry that is not a [time, line] pair"
    raw = value[0]
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return 0, "an impossible timestamp"
    try:
        ts = int(raw)
    except ValueError:
        return 0, "an impossible timestamp"
    if not _NS_MIN <= ts <= _NS_MAX:
        return 0, "an impossible timestamp"
    return ts, None


def _has_identity(metadata: Mapping[str, str]) -> bool:
    return any(key in metadata for key in _IDENTITY_KEYS)


def activity_key(labels: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """(namespace, pod, container) of a metric series, with the same fallbacks as lines."""
    info = stream_identity(labels, {})
    return info.namespace, info.pod, info.container
