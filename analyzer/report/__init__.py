"""Render an Analysis as the reference-shaped Markdown postmortem, or as JSON.

The report computes nothing the analysis did not: it redacts, formats, selects excerpts and keeps
the Markdown under a size budget (GitHub caps issue bodies at 65,536 characters). Log text goes
through `markdown_safe` so GitHub shows it literally, pings nobody and links nothing.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import jinja2
import polars as pl

from .. import markdown_safe as md
from ..analysis import Analysis
from ..resources import data_dir
from ..timeutil import fmt_duration, fmt_utc
from .budget import DEFAULT_MAX_CHARS, DetailLevel, fit
from .options import RenderOptions
from .prepare import (
    KOPIA_LOGS,
    MAX_LINE_CHARS,
    near,
    pick_excerpts,
    prepare,
    redacted,
    shown_events,
)

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MAX_LINE_CHARS",
    "REFERENCE_HEADINGS",
    "RenderOptions",
    "prepare",
    "redacted",
    "render_json",
    "render_markdown",
    "shown_events",
    "to_json",
]

REFERENCE_HEADINGS = (
    "Summary",
    "Symptoms",
    "Environment",
    "Root Cause",
    "Required Fix",
    "Alternative Fixes (Not Recommended)",
    "Evidence",
    "Related Issues and References",
    "Verification Status",
)


def _num(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts() if frame.height else []


class _View:
    """Precomputed, display-ready pieces for the template, at one detail level."""

    def __init__(
        self, a: Analysis, level: DetailLevel, options: RenderOptions, redactions: dict[str, int]
    ):
        self.a, self.level, self.options, self.redactions = a, level, options, redactions
        picks = pick_excerpts(a.events, a.matches).filter(pl.col("rank") < level.excerpts)
        self._picks = picks.partition_by("signature", as_dict=True)
        self._lines = near(picks, a.events, level.context)
        self.sigs = a.catalog.by_id()
        self.findings = _rows(a.findings)
        self.root = [f for f in self.findings if f["category"] == "root-cause"]
        self.other = [f for f in self.findings if f["category"] != "root-cause"]
        self.runs = a.runs

    # ---- small formatting helpers used by the template
    def run_counts(self, frame: pl.DataFrame | None = None) -> dict[str, int]:
        frame = self.runs if frame is None else frame
        counts = {o: 0 for o in ("completed", "failed", "hung", "running", "unknown")}
        for outcome, n in frame.group_by("outcome").len().iter_rows():
            counts[outcome] = n
        counts["total"] = frame.height
        return counts

    def title(self) -> str:
        if self.root:
            return f"VolSync mover postmortem: {self.root[0]['title']}"
        if self.findings:
            return f"VolSync mover postmortem: {self.findings[0]['title']}"
        return "VolSync mover postmortem: no known failure signature found"

    def excerpts(self, signature: str) -> list[dict[str, Any]]:
        """The excerpts `pick_excerpts` picks for `signature` at this level, each with the lines
        around it in its file."""
        picks = self._picks.get((signature,))
        if picks is None:
            return []
        mine = self._lines.filter(pl.col("signature") == signature)
        out = []
        for hit in picks.iter_rows(named=True):
            same = mine.filter(pl.col("rank") == hit["rank"])
            lines = [_excerpt_line(r) for r in same.iter_rows(named=True)]
            out.append(
                {
                    "where": f"{hit['source']}:{hit['line_no']}",
                    "pod": hit["pod"],
                    "text": "\n".join(lines),
                    "lines": len(lines),
                }
            )
        return out

    def run_row(self, run: dict[str, Any]) -> dict[str, str]:
        return {
            "rs": f"{run['namespace'] or '?'}/{run['replication_source'] or '?'}",
            "pod": run["pod"],
            "role": run["role"] or "",
            "start": fmt_utc(run["start"]),
            "end": fmt_utc(run["end"]) if run["end"] else "—",
            "last": fmt_utc(run["last_activity"]),
            "duration": fmt_duration(run["duration_s"], lower_bound=run["duration_is_lower_bound"]),
            "outcome": run["outcome"],
            "exit": "" if run["exit_code"] is None else str(run["exit_code"]),
        }

    def listed_runs(self) -> tuple[list[dict[str, str]], int]:
        """Hung and failed runs first, then the newest; how many were left out."""
        limit = self.level.runs
        bad = self.runs.filter(pl.col("outcome").is_in(["hung", "failed", "unknown"]))
        good = self.runs.filter(~pl.col("outcome").is_in(["hung", "failed", "unknown"])).sort(
            "start", descending=True
        )
        chosen = pl.concat([bad.sort("start"), good]).head(limit).sort("start")
        return [
            self.run_row(r) for r in chosen.iter_rows(named=True)
        ], self.runs.height - chosen.height

    def timeline(self) -> list[tuple[str, str]]:
        a = self.a
        rows: list[tuple[datetime | None, str]] = [(a.data_start, "First log line in the window")]
        bad = [f for f in self.findings if f["category"] == "root-cause" and f["first_seen"]]
        if bad:
            first = min(bad, key=lambda f: f["first_seen"])
            rows.append((first["first_seen"], f"First `{first['signature']}` line"))
        hung = self.runs.filter(pl.col("outcome") == "hung").sort("start")
        if hung.height:
            rows.append((hung["start"][0], f"First hung run starts ({hung['pod'][0]})"))
        if a.fix_at:
            rows.append((a.fix_at, "Fix applied (--fix-at)"))
            after = self.runs.filter(
                (pl.col("outcome") == "completed") & (pl.col("start") >= a.fix_at)
            ).sort("start")
            if after.height:
                rows.append(
                    (
                        after["start"][0],
                        f"First healthy sync after the fix ({after['pod'][0]}, "
                        f"{fmt_duration(after['duration_s'][0])})",
                    )
                )
        if hung.height:
            rows.append((hung["start"][-1], f"Last hung run starts ({hung['pod'][-1]})"))
        rows.append((a.data_end, "Last log line in the window"))
        return [
            (fmt_utc(t), text) for t, text in sorted((r for r in rows if r[0]), key=lambda r: r[0])
        ]

    def shown_segments(self) -> tuple[pl.DataFrame, int]:
        """The outcome stretches that fit this detail level, troubled ReplicationSources first;
        and how many were left out."""
        segments = self.a.segments
        if segments.height == 0:
            return segments, 0
        keys = ["namespace", "replication_source", "role"]
        trouble = (
            pl.col("runs").filter(pl.col("outcome").is_in(["hung", "failed"])).sum().over(keys)
        )
        ranked = segments.with_columns(trouble.alias("_trouble")).sort(
            "_trouble",
            "namespace",
            "replication_source",
            "role",
            "from",
            descending=[True, False, False, False, False],
            nulls_last=True,
        )
        shown = ranked.head(self.level.segments).drop("_trouble")
        return shown, segments.height - shown.height

    def gantt(self) -> str:
        """Mermaid gantt: per ReplicationSource, one bar per stretch of runs with the same
        outcome; hung stretches are `crit`, failed ones `active`."""
        segments, _ = self.shown_segments()
        if segments.height == 0:
            return ""
        lines = [
            "gantt",
            "    title Mover runs per ReplicationSource (UTC)",
            "    dateFormat YYYY-MM-DDTHH:mm:ss",
            "    axisFormat %m-%d %H:%M",
        ]
        keys = ["namespace", "replication_source", "role"]
        for (ns, rs, role), group in segments.group_by(keys, maintain_order=True):
            name = f"{ns or '?'}/{rs or '?'}" + (" (maintenance)" if role == "maintenance" else "")
            lines.append(f"    section {_mermaid_text(name)}")
            for seg in group.iter_rows(named=True):
                tag = {"hung": "crit, ", "failed": "active, "}.get(seg["outcome"], "")
                secs = max(int((seg["to"] - seg["from"]).total_seconds()), 60)
                label = _mermaid_text(f"{seg['runs']} {seg['outcome']}")
                stamp = seg["from"].strftime("%Y-%m-%dT%H:%M:%S")
                lines.append(f"    {label} :{tag}{stamp}, {secs}s")
        return "\n".join(lines)

    def segments(self) -> list[dict[str, Any]]:
        return [
            {
                "rs": f"{r['namespace'] or '?'}/{r['replication_source'] or '?'}",
                "role": r["role"] or "",
                "outcome": r["outcome"],
                "runs": r["runs"],
                "from": fmt_utc(r["from"]),
                "to": fmt_utc(r["to"]),
                "median": fmt_duration(r["median_s"], lower_bound=r["outcome"] == "hung"),
                "max": fmt_duration(r["max_s"], lower_bound=r["outcome"] == "hung"),
            }
            for r in self.shown_segments()[0].iter_rows(named=True)
        ]

    def duration_chart(self) -> str:
        """Mermaid xychart: median sync duration (minutes) per time bucket."""
        buckets = self.a.buckets
        if buckets.height < 2:
            return ""
        width = buckets["width_h"][0]
        labels = ", ".join(f'"{b.strftime("%m-%d %H")}"' for b in buckets["bucket"])
        values = ", ".join(f"{(m or 0) / 60:.1f}" for m in buckets["median_s"])
        top = max(1.0, max((m or 0) for m in buckets["median_s"]) / 60 * 1.1)
        return "\n".join(
            [
                "xychart-beta",
                f'    title "Median sync duration per {width} h '
                '(minutes; hung runs as lower bounds)"',
                f"    x-axis [{labels}]",
                f'    y-axis "minutes" 0 --> {top:.0f}',
                f"    bar [{values}]",
            ]
        )

    def references(self) -> list[dict[str, str]]:
        seen: dict[str, str] = {}
        for f in self.findings:
            for ref in self.sigs[f["signature"]].references:
                seen.setdefault(ref.url, ref.title)
        return [{"title": t, "url": u} for u, t in seen.items()]

    def criteria(self) -> list[dict[str, Any]]:
        return [
            {
                "box": "x" if c.passed is True else " ",
                "criterion": c.criterion,
                "reason": c.reason,
                "blocks": c.blocks_signoff,
                "passed": c.passed,
            }
            for c in self.a.criteria
        ]

    def unclassified(self) -> list[dict[str, Any]]:
        u = self.a.unclassified
        return _rows(u.head(self.level.templates)) if u.height else []


def _excerpt_line(row: dict[str, Any]) -> str:
    """One line of an excerpt as its source wrote it: time, then stream (pod output) or level
    and module (Kopia's own log), then the message."""
    when = fmt_utc(row["ts"], seconds_only=False) if row["ts"] else "-"
    if row["envelope"] in KOPIA_LOGS:
        return f"{when} {row['level'] or ''} {row['module'] or ''} {row['message']}"
    return f"{when} {row['stream'] or '':<6} {row['message']}"


def _trusted_inline(text: str) -> str:
    """Catalog text (ours or the user's) is Markdown; `<pod>`-style placeholders are not HTML."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _mermaid_text(text: str) -> str:
    """Mermaid task/section names cannot hold `:`, `#`, `;` or line breaks, and nothing may
    close the code fence or open HTML; keep them readable."""
    for bad, good in ((":", "∶"), ("#", "＃"), (";", ","), ("`", "'"), ("<", "‹"), (">", "›")):
        text = text.replace(bad, good)
    return " ".join(text.split())


def _environment(a: Analysis) -> dict[str, Any]:
    return a.environment


def render_markdown(analysis: Analysis, options: RenderOptions | None = None) -> str:
    """The postmortem as GitHub-flavoured Markdown, within `options.max_chars`."""
    options = options or RenderOptions()
    analysis, redactions = prepare(analysis, options)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("reports"))),
        bytecode_cache=_template_cache(),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        cell=md.table_cell,
        fence=md.fence,
        code=md.inline_code,
        prose=md.text,
        utc=fmt_utc,
        dur=fmt_duration,
        num=_num,
        filesize=_filesize,
        trusted=_trusted_inline,
    )
    template = env.get_template("postmortem.md.j2")

    def render(level: DetailLevel) -> str:
        view = _View(analysis, level, options, redactions)
        return template.render(
            v=view, a=analysis, fmt_utc=fmt_utc, fmt_duration=fmt_duration, status=analysis.status
        )

    return fit(render, options.max_chars, trim_before="\n## Related Issues and References")


def _template_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache directory (compiling the report template
    costs about 0.1 s a run); none when that directory cannot be written."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(root, "kopia-postmortem", f"jinja2-{jinja2.__version__}")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(directory) if os.access(directory, os.W_OK) else None


def _filesize(n: int) -> str:
    """Bytes in binary units, as `du -h` would say them: 512 B, 3.2 MiB, 4.0 GiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def to_json(analysis: Analysis, options: RenderOptions | None = None) -> dict[str, Any]:
    """The JSON contract (schema: reports/analysis.schema.json)."""
    options = options or RenderOptions()
    a, redactions = prepare(analysis, options)
    runs = [
        {
            "namespace": r["namespace"],
            "pod": r["pod"],
            "replication_source": r["replication_source"],
            "role": r["role"],
            "start": fmt_utc(r["start"], seconds_only=False),
            "end": fmt_utc(r["end"], seconds_only=False) if r["end"] else None,
            "duration_seconds": None if r["duration_s"] is None else round(r["duration_s"], 3),
            "duration_is_lower_bound": r["duration_is_lower_bound"],
            "outcome": r["outcome"],
            "exit_code": r["exit_code"],
        }
        for r in a.runs.iter_rows(named=True)
    ]
    findings = [
        {
            "id": f["signature"],
            "title": f["title"],
            "severity": f["severity"],
            "category": f["category"],
            "count": f["count"],
            "runs_affected": f["runs_affected"],
            "runs_probable": f["runs_probable"],
            "first_seen": fmt_utc(f["first_seen"], seconds_only=False) if f["first_seen"] else None,
            "last_seen": fmt_utc(f["last_seen"], seconds_only=False) if f["last_seen"] else None,
            "pods": f["pods"],
        }
        for f in a.findings.iter_rows(named=True)
    ]
    unclassified = [
        {
            "template": u["template"],
            "count": u["count"],
            "first_seen": fmt_utc(u["first_seen"], seconds_only=False) or None,
            "last_seen": fmt_utc(u["last_seen"], seconds_only=False) or None,
            "example": u["example"],
            "new_after_fix": u.get("new_after_fix"),
        }
        for u in (a.unclassified.iter_rows(named=True) if a.unclassified.height else [])
    ]
    return {
        "window": {"from": fmt_utc(a.window_start), "to": fmt_utc(a.window_end)},
        "status": a.status,
        "fix_at": fmt_utc(a.fix_at) or None,
        "inputs": {
            "lines": a.inputs.lines,
            "unparsed_lines": a.inputs.unparsed_lines,
            "sources": a.inputs.files or ([a.inputs.loki["query"]] if a.inputs.loki else []),
            "skipped": [{"path": p, "reason": r} for p, r in a.inputs.skipped],
            "not_mover_pods": a.inputs.not_mover,
            "gaps": [
                {"from": fmt_utc(g["from"]), "to": fmt_utc(g["to"]), "reason": g["reason"]}
                for g in a.inputs.gaps
            ],
            "loki": a.inputs.loki,
        },
        "runs": runs,
        "findings": findings,
        "unclassified": unclassified,
        "validation": [
            {
                "criterion": c.criterion,
                "passed": c.passed,
                "reason": c.reason,
                "blocks_signoff": c.blocks_signoff,
            }
            for c in a.criteria
        ],
        "redactions": redactions,
        "catalog_overrides": [{"id": i, "path": p} for i, p in a.catalog.overridden],
    }


def render_json(analysis: Analysis, options: RenderOptions | None = None) -> str:
    return json.dumps(to_json(analysis, options), indent=2, ensure_ascii=False) + "\n"
