"""The JSON contract (schema: reports/analysis.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from ..analysis import Analysis
from ..timeutil import fmt_utc
from .options import RenderOptions
from .prepare import prepare


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
    """`to_json` as indented UTF-8 JSON text."""
    return json.dumps(to_json(analysis, options), indent=2, ensure_ascii=False) + "\n"
