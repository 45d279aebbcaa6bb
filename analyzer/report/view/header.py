"""The header above the sections and the footer below them."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ...analysis import Analysis
from ...timeutil import fmt_utc


@dataclass(frozen=True)
class Header:
    """Title, date, window and status above the sections."""

    #: Catalog Markdown (trusted).
    title: str
    #: The day the window ends, or `unknown`.
    date: str
    #: The window bounds, "" where open and there is no data.
    window_from: str
    window_to: str
    #: `from → to`, open bounds named.
    window: str
    status: str
    #: The `--fix-at` time, "" without one.
    fix_at: str


def header(shown: Analysis) -> Header:
    """Title (the first root cause, else the first symptom; an environmental finding is never
    the incident), window and status."""
    found = shown.findings.filter(pl.col("category") == "root-cause")
    if not found.height:
        found = shown.findings.filter(pl.col("category") == "symptom")
    title = found["title"][0] if found.height else "no failure signature matched"
    start, end = fmt_utc(shown.window_start), fmt_utc(shown.window_end)
    return Header(
        title=f"VolSync mover postmortem: {title}",
        date=end[:10] if shown.window_end else "unknown",
        window_from=start,
        window_to=end,
        window=f"{start or 'start of data'} → {end or 'end of data'}",
        status=shown.status,
        fix_at=fmt_utc(shown.fix_at),
    )


@dataclass(frozen=True)
class Footer:
    """What judged the report, whether secrets were redacted, and how many of each kind."""

    redact: bool
    #: (kind, count), by kind.
    redactions: tuple[tuple[str, int], ...]
    #: `0.1.0, catalog sha256:… (64 patterns)`: the tool's version and the catalog's digest.
    generator: str = ""
