"""What several sections read, computed once from the prepared analysis: excerpts, run counts,
the before/after periods, and the small formatting helpers the sections share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from ...analysis import Analysis
from ...catalog import Signature
from ...findings import OUTCOMES
from ...markdown_safe import Outside, outside
from ...timeutil import fmt_duration, fmt_utc
from ..budget import WIDEST
from ..prepare import KOPIA_LOGS, near, pick_excerpts
from .inputs import InputsView, inputs_view


def rs_label(namespace: str | None, name: str | None) -> Outside:
    """The `namespace/ReplicationSource` label of a row, `?` for what is unknown (labels come
    from outside: the label is `Outside` text)."""
    return Outside(f"{namespace or '?'}/{name or '?'}")


def percent(rate: float) -> str:
    """A rate as a whole percentage, without the sign."""
    return "%.0f" % (100 * rate)


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as dicts (none for an empty table)."""
    return frame.to_dicts() if frame.height else []


@dataclass(frozen=True)
class ExcerptLine:
    """One line of an excerpt and its distance from the matched line."""

    offset: int
    text: Outside


@dataclass(frozen=True)
class Excerpt:
    """A matched line with the lines around it in its file, as the source wrote them."""

    #: `path:line` of the matched line.
    where: Outside
    pod: Outside | None
    lines: tuple[ExcerptLine, ...]

    @property
    def text(self) -> Outside:
        return Outside("\n".join(line.text for line in self.lines))

    @property
    def matched(self) -> str:
        """The matched line itself."""
        return next((line.text for line in self.lines if line.offset == 0), "")

    def at(self, context: int) -> Excerpt:
        """Only the lines within `context` of the matched one."""
        return replace(self, lines=tuple(x for x in self.lines if abs(x.offset) <= context))


@dataclass(frozen=True)
class RunCounts:
    """Mover runs in the window by outcome."""

    total: int
    completed: int
    failed: int
    hung: int
    running: int
    unknown: int


@dataclass(frozen=True)
class Period:
    """Sync runs before or after the fix (`findings.before_after`)."""

    #: `before` or `after`, and its capitalised `label`.
    period: str
    label: str
    runs: int
    completed: int
    failed: int
    hung: int
    #: Percentage of hung runs, rounded.
    hang_rate: str
    completed_median: str
    completed_p95: str
    completed_max: str
    #: How long hung runs were observed (a lower bound); "" when none hung.
    hung_median: str


@dataclass(frozen=True)
class Facts:
    """The prepared analysis and what several builders read, computed once."""

    a: Analysis
    inputs: InputsView
    findings: tuple[dict[str, Any], ...]
    root: tuple[dict[str, Any], ...]
    signatures: Mapping[str, Signature]
    #: Per signature, its excerpts at the widest level, best first.
    excerpts: Mapping[str, tuple[Excerpt, ...]]
    #: Per signature, the extracted fields every matching line agrees on (redacted as shown),
    #: which fill the catalog's `<name>` placeholders.
    values: Mapping[str, Mapping[str, str]]
    counts: RunCounts
    periods: tuple[Period, ...]
    fix_at: str

    @classmethod
    def of(cls, shown: Analysis) -> Facts:
        """The facts of a prepared (redacted and cut) analysis."""
        findings = tuple(rows(shown.findings))
        by_outcome = dict(shown.runs.group_by("outcome").len().iter_rows())
        return cls(
            a=shown,
            inputs=inputs_view(shown),
            findings=findings,
            root=tuple(f for f in findings if f["category"] == "root-cause"),
            signatures=shown.catalog.by_id(),
            excerpts=_excerpts(shown),
            values=_field_values(shown),
            counts=RunCounts(
                shown.runs.height, *(by_outcome.get(outcome, 0) for outcome in OUTCOMES)
            ),
            periods=tuple(_period(p) for p in rows(shown.before_after)),
            fix_at=fmt_utc(shown.fix_at),
        )


def _excerpts(shown: Analysis) -> dict[str, tuple[Excerpt, ...]]:
    """Per signature, the excerpts the policy picks (`pick_excerpts`), at the widest level."""
    picks = pick_excerpts(shown.events, shown.matches).filter(pl.col("rank") < WIDEST.excerpts)
    lines: dict[tuple[str, int], list[ExcerptLine]] = {}
    for row in near(picks, shown.events, WIDEST.context).iter_rows(named=True):
        key = (row["signature"], row["rank"])
        lines.setdefault(key, []).append(ExcerptLine(row["offset"], outside(_excerpt_line(row))))
    out: dict[str, list[Excerpt]] = {}
    for pick in picks.iter_rows(named=True):
        excerpt = Excerpt(
            where=outside(f"{pick['source']}:{pick['line_no']}"),
            pod=outside(pick["pod"]),
            lines=tuple(lines.get((pick["signature"], pick["rank"]), ())),
        )
        out.setdefault(pick["signature"], []).append(excerpt)
    return {signature: tuple(excerpts) for signature, excerpts in out.items()}


def _field_values(shown: Analysis) -> dict[str, dict[str, str]]:
    """Per signature, each extracted field with one value over all its matches (lines without
    the field aside); the value is read again from a redacted line the report shows, so what
    fills a placeholder is what the excerpts show. A field with several values is left out."""
    out: dict[str, dict[str, str]] = {}
    matches = shown.matches
    if matches.height == 0:
        return out
    for sig in shown.catalog.signatures:
        if not sig.fields:
            continue
        hits = matches.filter(pl.col("signature") == sig.id)
        if hits.height == 0:
            continue
        single = [
            name
            for name in sig.fields
            if hits["fields"].str.json_path_match(f"$.{name}").drop_nulls().n_unique() == 1
        ]
        if not single:
            continue
        lines = shown.events.join(hits.select("event_id"), on="event_id")["message"]
        for name in single:
            for rx in sig.regex:
                if f"<{name}>" not in rx:
                    continue
                found = lines.str.extract_groups(rx).struct.field(name).drop_nulls()
                if found.len():
                    out.setdefault(sig.id, {})[name] = found[0]
                    break
    return out


def _excerpt_line(row: dict[str, Any]) -> str:
    """One line of an excerpt as its source wrote it: time, then stream (pod output) or level
    and module (Kopia's own log), then the message."""
    when = fmt_utc(row["ts"], seconds_only=False) if row["ts"] else "-"
    if row["envelope"] in KOPIA_LOGS:
        return f"{when} {row['level'] or ''} {row['module'] or ''} {row['message']}"
    return f"{when} {row['stream'] or '':<6} {row['message']}"


def _period(p: dict[str, Any]) -> Period:
    return Period(
        period=p["period"],
        label="Before" if p["period"] == "before" else "After",
        runs=p["runs"],
        completed=p["completed"],
        failed=p["failed"],
        hung=p["hung"],
        hang_rate=percent(p["hang_rate"]),
        completed_median=fmt_duration(p["completed_median_s"]),
        completed_p95=fmt_duration(p["completed_p95_s"]),
        completed_max=fmt_duration(p["completed_max_s"]),
        hung_median=fmt_duration(p["hung_median_s"], lower_bound=True)
        if p["hung_median_s"]
        else "",
    )
