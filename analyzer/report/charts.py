"""Mermaid charts for Evidence: a gantt of outcome stretches and a bar chart of sync durations.

Names in a chart come from logs and Kubernetes labels, so they go through `mermaid_text`: inside
a Mermaid fence no label may end the fence, open HTML or break the chart's syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

_GANTT_HEAD = (
    "gantt",
    "    dateFormat YYYY-MM-DDTHH:mm:ss",
    "    axisFormat %m-%d %H:%M",
)
#: Mermaid task tags by outcome: completed stretches are `done` (grey), failed ones `crit`
#: (red), hung ones `active, crit` (red, never finished), running ones `active`.
TAGS = {"completed": "done, ", "failed": "crit, ", "hung": "active, crit, ", "running": "active, "}
#: The narrowest bar, as a share of the chart's span: a 60-second failure in a four-day chart
#: would be under a pixel wide; drawn at least this wide, it stays visible (the title says so).
MIN_BAR_SHARE = 1 / 120


@dataclass(frozen=True)
class Bar:
    """One gantt bar: a stretch of runs of one ReplicationSource with the same outcome."""

    #: namespace, ReplicationSource and role: bars of one group share a chart section.
    group: tuple[str | None, str | None, str | None]
    #: The section's title, Mermaid-safe.
    section: str
    #: The bar's label, Mermaid-safe (`44 runs hung`).
    label: str
    outcome: str
    runs: int
    start: datetime
    seconds: int

    @property
    def task(self) -> str:
        """The task line at the bar's own width."""
        return self.task_at(self.seconds)

    def task_at(self, seconds: int) -> str:
        stamp = self.start.strftime("%Y-%m-%dT%H:%M:%S")
        return f"    {self.label} :{TAGS.get(self.outcome, '')}{stamp}, {seconds}s"


def bars(segments: pl.DataFrame) -> list[Bar]:
    """A bar per outcome stretch (`findings.outcome_segments` rows), in the rows' order."""
    out = []
    for seg in segments.iter_rows(named=True):
        ns, rs, role = seg["namespace"], seg["replication_source"], seg["role"]
        name = f"{ns or '?'}/{rs or '?'}" + (" (maintenance)" if role == "maintenance" else "")
        runs = seg["runs"]
        label = mermaid_text(f"{runs} run{'s' if runs != 1 else ''} {seg['outcome']}")
        out.append(
            Bar(
                group=(ns, rs, role),
                section=mermaid_text(name),
                label=label,
                outcome=seg["outcome"],
                runs=runs,
                start=seg["from"],
                seconds=max(int((seg["to"] - seg["from"]).total_seconds()), 1),
            )
        )
    return out


def gantt(shown: Sequence[Bar]) -> str:
    """Mermaid gantt: per ReplicationSource a section, one bar per stretch ("" without bars).
    Bars of one group must be adjacent, as `outcome_segments` ranked for the view are.

    The title says what a bar is (a stretch of consecutive runs, counted in its label) and the
    width every shorter bar is drawn at, so a one-minute failure shows."""
    if not shown:
        return ""
    first = min(b.start for b in shown)
    last = max(b.start + timedelta(seconds=b.seconds) for b in shown)
    narrowest = max(60, int((last - first).total_seconds() * MIN_BAR_SHARE))
    merged = any(b.runs > 1 for b in shown)
    title = "Mover runs (UTC)"
    if merged:
        title = "Runs (UTC), consecutive runs with one outcome merged into a bar (count in label)"
    title += f", min. width {_span(narrowest)}"
    lines = [_GANTT_HEAD[0], f"    title {mermaid_text(title)}", *_GANTT_HEAD[1:]]
    group: object = None
    for i, bar in enumerate(shown):
        if i == 0 or bar.group != group:
            lines.append(f"    section {bar.section}")
            group = bar.group
        lines.append(bar.task_at(max(bar.seconds, narrowest)))
    return "\n".join(lines)


def _span(seconds: int) -> str:
    """A bar width in words Mermaid can show (no `:`): 1 min, 48 min, 3 h."""
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f}".removesuffix(".0") + " h"


#: Mermaid's xychart is 700 px wide and 500 px high; about this much of each holds the bars.
XY_PLOT_WIDTH, XY_PLOT_HEIGHT = 600, 400
#: Width of one axis-label character and the gap between labels, in px (14 px font).
XY_CHAR_PX, XY_LABEL_GAP_PX, XY_LABEL_HEIGHT_PX = 8, 8, 18


def duration_labels(buckets: pl.DataFrame) -> list[str]:
    """The buckets' axis labels: the day for buckets of a day or more, else day and hour."""
    daily = buckets["width_h"][0] >= 24
    return [b.strftime("%m-%d" if daily else "%m-%d %Hh") for b in buckets["bucket"]]


def labels_fit_across(labels: Sequence[str]) -> bool:
    """Whether the labels side by side under a vertical bar chart leave each other room."""
    widest = max(len(label) for label in labels) * XY_CHAR_PX + XY_LABEL_GAP_PX
    return widest * len(labels) <= XY_PLOT_WIDTH


def duration_chart(buckets: pl.DataFrame) -> str:
    """Mermaid xychart: median sync duration (minutes) per time bucket ("" under two buckets).
    When the bucket labels would overlap side by side, the chart is drawn horizontal: the labels
    stack down the left axis, one per bar, and cannot touch."""
    if buckets.height < 2:
        return ""
    width = buckets["width_h"][0]
    names = duration_labels(buckets)
    labels = ", ".join(f'"{name}"' for name in names)
    values = ", ".join(f"{(m or 0) / 60:.1f}" for m in buckets["median_s"])
    top = max(1.0, max((m or 0) for m in buckets["median_s"]) / 60 * 1.1)
    head = "xychart-beta" if labels_fit_across(names) else "xychart-beta horizontal"
    return "\n".join(
        [
            head,
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
