"""Mermaid charts for Evidence: a gantt of outcome stretches and a bar chart of sync durations.

Names in a chart come from logs and Kubernetes labels, so they go through `mermaid_text`: inside
a Mermaid fence no label may end the fence, open HTML or break the chart's syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

_GANTT_HEAD = (
    "gantt",
    "    title Mover runs per ReplicationSource (UTC)",
    "    dateFormat YYYY-MM-DDTHH:mm:ss",
    "    axisFormat %m-%d %H:%M",
)
#: Mermaid task tags: hung stretches are `crit`, failed ones `active`.
_TAGS = {"hung": "crit, ", "failed": "active, "}


@dataclass(frozen=True)
class Bar:
    """One gantt bar: a stretch of runs of one ReplicationSource with the same outcome."""

    #: namespace, ReplicationSource and role: bars of one group share a chart section.
    group: tuple[str | None, str | None, str | None]
    #: The section's title, Mermaid-safe.
    section: str
    #: The task line, Mermaid-safe.
    task: str


def bars(segments: pl.DataFrame) -> list[Bar]:
    """A bar per outcome stretch (`findings.outcome_segments` rows), in the rows' order; a
    stretch shorter than a minute is drawn a minute long."""
    out = []
    for seg in segments.iter_rows(named=True):
        ns, rs, role = seg["namespace"], seg["replication_source"], seg["role"]
        name = f"{ns or '?'}/{rs or '?'}" + (" (maintenance)" if role == "maintenance" else "")
        seconds = max(int((seg["to"] - seg["from"]).total_seconds()), 60)
        label = mermaid_text(f"{seg['runs']} {seg['outcome']}")
        stamp = seg["from"].strftime("%Y-%m-%dT%H:%M:%S")
        tag = _TAGS.get(seg["outcome"], "")
        task = f"    {label} :{tag}{stamp}, {seconds}s"
        out.append(Bar(group=(ns, rs, role), section=mermaid_text(name), task=task))
    return out


def gantt(shown: Sequence[Bar]) -> str:
    """Mermaid gantt: per ReplicationSource a section, one bar per stretch ("" without bars).
    Bars of one group must be adjacent, as `outcome_segments` ranked for the view are."""
    if not shown:
        return ""
    lines = list(_GANTT_HEAD)
    group: object = None
    for i, bar in enumerate(shown):
        if i == 0 or bar.group != group:
            lines.append(f"    section {bar.section}")
            group = bar.group
        lines.append(bar.task)
    return "\n".join(lines)


def duration_chart(buckets: pl.DataFrame) -> str:
    """Mermaid xychart: median sync duration (minutes) per time bucket ("" under two buckets)."""
    if buckets.height < 2:
        return ""
    width = buckets["width_h"][0]
    labels = ", ".join(f'"{b.strftime("%m-%d %H")}"' for b in buckets["bucket"])
    values = ", ".join(f"{(m or 0) / 60:.1f}" for m in buckets["median_s"])
    top = max(1.0, max((m or 0) for m in buckets["median_s"]) / 60 * 1.1)
    return "\n".join(
        [
            "xychart-beta",
            f'    title "Median sync duration per {width} h (minutes; hung runs as lower bounds)"',
            f"    x-axis [{labels}]",
            f'    y-axis "minutes" 0 --> {top:.0f}',
            f"    bar [{values}]",
        ]
    )


def mermaid_text(text: str) -> str:
    """Mermaid task/section names cannot hold `:`, `#`, `;` or line breaks, and nothing may
    close the code fence or open HTML; keep them readable."""
    for bad, good in ((":", "∶"), ("#", "＃"), (";", ","), ("`", "'"), ("<", "‹"), (">", "›")):
        text = text.replace(bad, good)
    return " ".join(text.split())
