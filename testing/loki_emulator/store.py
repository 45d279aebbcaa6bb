"""Ingestion as Loki 3.x does it: streams keyed by their labels, `service_name` discovery,
`detected_level` structured metadata, consecutive duplicate entries dropped.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .goformat import go_quote
from .logql import Matcher

SERVICE_NAME_SOURCES = (
    "service", "app", "application", "app_name", "name", "app_kubernetes_io_name", "container",
    "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name",
)  # fmt: skip
LEVEL_FIELDS = (
    "level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText",
    "lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT",
)  # fmt: skip


EntryIn = tuple[int, str] | tuple[int, str, Mapping[str, str]]


@dataclass
class Stream:
    """Input data: indexed labels, structured metadata for every entry, and (ns, line[, sm])."""

    labels: Mapping[str, str]
    entries: Sequence[EntryIn]
    metadata: Mapping[str, str] = field(default_factory=dict)


def label_string(labels: Mapping[str, str]) -> str:
    """Prometheus text form `{a="b", c="d"}` with sorted names."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def detect_level(line: str) -> str:
    """Loki's `detected_level` (pkg/distributor/field_detection.go), simplified."""
    stripped = line.strip()
    value = None
    if stripped.startswith("{") and stripped.endswith("}"):
        value = _json_level(stripped)
    elif "=" in line:
        for name in LEVEL_FIELDS:
            match = re.search(r"(?:^|\s)" + re.escape(name) + r'=("?)([^"\s]*)\1', line, re.I)
            if match:
                value = match.group(2)
                break
    normalized = _normalize_level(value) if value else None
    return normalized or _level_from_words(line)


def _json_level(line: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    stack = [obj] if isinstance(obj, dict) else []
    while stack:
        current = stack.pop(0)
        for key, value in current.items():
            if isinstance(value, str) and key in LEVEL_FIELDS:
                return value
            if isinstance(value, dict):
                stack.append(value)
    return None


def _normalize_level(value: str) -> str | None:
    table = {"trace": "trace", "trc": "trace", "debug": "debug", "dbg": "debug", "info": "info"}
    table |= {"inf": "info", "information": "info", "warn": "warn", "wrn": "warn"}
    table |= {"warning": "warn", "error": "error", "err": "error", "critical": "critical"}
    table |= {"fatal": "fatal"}
    return table.get(value.lower())


def _level_from_words(line: str) -> str:
    rules = (
        ("info", ("info:", "INFO:", "[info]", "[INFO]", "info", "INFO")),
        ("error", ("err:", "ERR:", "[err]", "[ERR]", "[error]", "[ERROR]")),
        ("warn", ("warn:", "WARN:", "[warn]", "[WARN]", "[warning]", "[WARNING]", "warning")),
        ("warn", ("WARNING",)),
        ("critical", ("critical:", "CRITICAL:", "[critical]", "[CRITICAL]")),
        ("debug", ("debug:", "DEBUG:", "[debug]", "[DEBUG]", "debug", "DEBUG")),
    )
    for level, needles in rules:
        if any(needle in line for needle in needles):
            return level
    return "unknown"


@dataclass
class Series:
    """One stored stream: indexed labels and its entries sorted by time (push order on ties)."""

    labels: dict[str, str]
    key: str
    ts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    sm: list[dict[str, str]] = field(default_factory=list)
    rank: int = 0

    def extend(self, entries: Iterable[tuple[int, str, dict[str, str]]]) -> None:
        """Add entries, keep time order (stable), drop consecutive duplicate (ts, line)."""
        merged = sorted(
            [*zip(self.ts, self.lines, self.sm, strict=True), *entries], key=lambda e: e[0]
        )
        self.ts, self.lines, self.sm = [], [], []
        for ts, line, sm in merged:
            if self.ts and self.ts[-1] == ts and self.lines[-1] == line:
                continue
            self.ts.append(ts)
            self.lines.append(line)
            self.sm.append(sm)


class Store:
    """All streams of one tenant, indexed by their label string."""

    def __init__(self, *, discover_service_name: bool, discover_log_levels: bool) -> None:
        self.discover_service_name = discover_service_name
        self.discover_log_levels = discover_log_levels
        self.series: dict[str, Series] = {}
        self.ordered: list[Series] = []
        self.lock = threading.Lock()

    def push(
        self,
        labels: Mapping[str, str],
        entries: Iterable[EntryIn],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Ingest entries as a Loki 3.x distributor/ingester would."""
        indexed = dict(labels)
        if self.discover_service_name and "service_name" not in indexed:
            found = next((indexed[k] for k in SERVICE_NAME_SOURCES if indexed.get(k)), None)
            indexed["service_name"] = found or "unknown_service"
        prepared = [self._prepare(entry, metadata or {}) for entry in entries]
        with self.lock:
            key = label_string(indexed)
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series(indexed, key)
                self.ordered = sorted(self.series.values(), key=lambda s: s.key)
                for rank, item in enumerate(self.ordered):
                    item.rank = rank
            series.extend(prepared)

    def _prepare(self, entry: EntryIn, metadata: Mapping[str, str]) -> tuple[int, str, dict]:
        ts, line = int(entry[0]), entry[1]
        sm = dict(metadata) | dict(entry[2] if len(entry) > 2 else {})  # type: ignore[misc]
        if self.discover_log_levels and "detected_level" not in sm:
            sm["detected_level"] = detect_level(line)
        return ts, line, dict(sorted(sm.items()))

    def matching(self, matchers: Sequence[Matcher]) -> list[Series]:
        """Streams whose indexed labels satisfy every matcher, in label order."""
        return [s for s in self.ordered if all(m.matches(s.labels) for m in matchers)]
