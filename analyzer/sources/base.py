"""What every source gives the pipeline, and what the pipeline asks of it.

A source (files on disk, a Loki server, later the Kubernetes API or Prometheus) is anything with
`read(wants) -> SourceResult`. `analyze()` builds a list of sources, reads each and merges the
results, so adding a source is one module plus its CLI flags (like k8sgpt's analyzers behind one
interface). Sources know nothing of signatures: `Wants` carries the regexes that describe which
lines the analysis reads, already derived from the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import polars as pl

from ..events import empty_events
from ..timeutil import Window

#: Lines a source saw but did not keep (a streaming read counts them instead): per source file
#: or stream and pod, inside and outside the window (they count toward their run's lines).
PASSED_SCHEMA = {
    "source": pl.String,
    "pod": pl.String,
    "in_window": pl.Int64,
    "outside": pl.Int64,
}


@dataclass(frozen=True)
class Wants:
    """What the analysis reads from a line, so a source may keep only that (and count the rest).

    `keep_regex` is a superset of every content regex, unanchored so it can run on a line that
    still has its envelope (the streaming file source); `line_filters` are RE2-safe regexes for a
    server to apply (Loki pushdown); `routine` marks messages that are never problems even on a
    mover's stderr. A source is free to keep more than asked, never less.
    """

    window: Window
    keep_regex: str = ""
    line_filters: tuple[str, ...] = ()
    routine: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a source's lines came from, for the report's Inputs and Evidence parts.

    `kind` names the source ("files", "loki"); `paths` are what the user named; `files` what was
    read and `skipped` what was not, with the reason; `not_mover` lists node-log files left unread
    because their pod cannot be a mover (path, ns/pod, bytes); `details` holds a server source's
    request summary (address, query, mode, traffic counters).
    """

    kind: str
    paths: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    not_mover: tuple[tuple[str, str, int], ...] = ()
    undecodable_lines: int = 0
    details: dict[str, Any] | None = None


@dataclass
class SourceResult:
    """One source's contribution: its events (the canonical table, not yet cut to the window),
    where they came from, the lines it only counted, per-pod activity it measured without
    keeping lines, Kubernetes documents found among its inputs, and the stretches it could not
    read (gaps: dicts with `from`, `to`, `reason`)."""

    provenance: Provenance
    events: pl.DataFrame = field(default_factory=empty_events)
    passed: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PASSED_SCHEMA))
    activity: pl.DataFrame | None = None
    documents: list[tuple[str, dict]] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)


@runtime_checkable
class Source(Protocol):
    """Anything the pipeline can read lines from."""

    def read(self, wants: Wants) -> SourceResult:
        """Read what `wants` describes; raise an `AnalyzerError` subclass for a fatal problem
        and report partial ones as data (skipped files, gaps)."""
        ...


def merge_gaps(gaps: Sequence[dict]) -> list[dict]:
    """Gaps sorted by start, with back-to-back ones of the same reason joined: a sub-range split
    of a fetch is no reason to list one outage in several rows."""
    merged: list[dict] = []
    for gap in sorted(gaps, key=lambda g: (g["from"], g["to"])):
        last = merged[-1] if merged else None
        if last and last["reason"] == gap["reason"] and last["to"] >= gap["from"]:
            last["to"] = max(last["to"], gap["to"])
        else:
            merged.append(dict(gap))
    return merged
