"""The JSON contract (schema: reports/analysis.schema.json).

Where the JSON and the Markdown show the same thing (window, status, inputs, sign-off criteria,
catalog overrides) it reads the same view parts; runs, findings and unrecognised errors are
listed in full with exact times, which the Markdown does not do.
"""

from __future__ import annotations

import json
from typing import Any

from ..analysis import Analysis
from ..timeutil import fmt_utc
from .options import RenderOptions
from .prepare import prepare
from .view.environment import catalog_overrides
from .view.header import header
from .view.inputs import InputsView, inputs_view
from .view.verification import criteria


def to_json(analysis: Analysis, options: RenderOptions | None = None) -> dict[str, Any]:
    """The JSON contract as a dict: redacted and cut like the Markdown."""
    options = options or RenderOptions()
    a, redactions = prepare(analysis, options)
    top = header(a)
    runs = [
        {
            "namespace": r["namespace"],
            "pod": r["pod"],
            "replication_source": r["replication_source"],
            "role": r["role"],
            "start": fmt_utc(r["start"], seconds_only=False) or None,
            "end": fmt_utc(r["end"], seconds_only=False) if r["end"] else None,
            "duration_seconds": None if r["duration_s"] is None else round(r["duration_s"], 3),
            "duration_is_lower_bound": r["duration_is_lower_bound"],
            "outcome": r["outcome"],
            "outcome_basis": r["outcome_basis"],
            "exit_code": r["exit_code"],
            "terminal_line": r["terminal_line"],
            "lingered_seconds": None if r["lingered_s"] is None else round(r["lingered_s"], 3),
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
        "generator": analysis.catalog.generator(),
        "window": {"from": top.window_from, "to": top.window_to},
        "status": top.status,
        "fix_at": top.fix_at or None,
        "inputs": _inputs(inputs_view(a)),
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
            for c in criteria(a)
        ],
        "redactions": redactions,
        "notices": list(a.notices),
        "catalog_overrides": [{"id": i, "path": p} for i, p in catalog_overrides(a)],
    }


def render_json(analysis: Analysis, options: RenderOptions | None = None) -> str:
    """`to_json` as indented UTF-8 JSON text."""
    return json.dumps(to_json(analysis, options), indent=2, ensure_ascii=False) + "\n"


def _inputs(inputs: InputsView) -> dict[str, Any]:
    not_read = inputs.not_read
    return {
        "lines": inputs.lines,
        "unparsed_lines": inputs.unparsed_lines,
        "sources": inputs.sources,
        "skipped": [{"path": p, "reason": r} for p, r in inputs.skipped],
        "not_mover_pods": None
        if not_read is None
        else {
            "files": not_read.files,
            "pods": not_read.pods,
            "bytes": not_read.bytes,
            "examples": list(not_read.examples),
        },
        "gaps": [{"from": g.start, "to": g.end, "reason": g.reason} for g in inputs.gaps],
        "loki": None if inputs.loki is None else dict(inputs.loki.record),
    }
