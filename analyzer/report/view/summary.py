"""Summary: the lead root cause in one paragraph, run counts, before and after the fix, status."""

from __future__ import annotations

from dataclasses import dataclass

from ...markdown_safe import Outside, outside
from ...timeutil import fmt_duration, fmt_utc
from .facts import Facts, Period, RunCounts


@dataclass(frozen=True)
class LeadCause:
    """The first root cause, as the summary states it."""

    title: str
    signature: str
    example: Outside | None
    count: int
    first_seen: str
    last_seen: str
    pods: int
    runs_probable: int
    #: Runs with the signature by outcome and their median (a lower bound if any hung).
    with_runs: int
    with_hung: int
    with_failed: int
    with_completed: int
    with_median: str
    #: Runs without it and their median.
    without_runs: int
    without_median: str


@dataclass(frozen=True)
class OtherCause:
    """A further root cause with lines of its own."""

    signature: str
    count: int
    runs_affected: int
    hung: int
    failed: int
    last_seen: str


@dataclass(frozen=True)
class Summary:
    """The first section: what happened, how often, and where sign-off stands."""

    lead: LeadCause | None
    others: tuple[OtherCause, ...]
    #: Signatures matched, of any category.
    findings: int
    #: Log lines in the window.
    lines: int
    runs: RunCounts
    fix_at: str
    periods: tuple[Period, ...]
    status: str
    #: Why the status is what it is.
    status_reason: str
    #: What to know before reading on (empty window, fix after the data, partial data).
    notices: tuple[Outside, ...] = ()


_STATUS_REASONS = {
    "RESOLVED": "every sign-off criterion holds",
    "OPEN": "a sign-off criterion fails",
    "NO DATA": "no mover run was observed in the window, so nothing can be signed off",
}


def build(facts: Facts) -> Summary:
    """The summary paragraph's facts: lead cause, other causes, run counts, periods, status."""
    lead = None
    if facts.root:
        top = facts.root[0]
        hung = top["with_hung"] or 0
        lead = LeadCause(
            title=top["title"],
            signature=top["signature"],
            example=outside(top["example"]),
            count=top["count"],
            first_seen=fmt_utc(top["first_seen"]),
            last_seen=fmt_utc(top["last_seen"]),
            pods=len(top["pods"]),
            runs_probable=top["runs_probable"],
            with_runs=top["with_runs"] or 0,
            with_hung=hung,
            with_failed=top["with_failed"] or 0,
            with_completed=top["with_completed"] or 0,
            with_median=fmt_duration(top["with_median_s"], lower_bound=hung > 0),
            without_runs=top["without_runs"] or 0,
            without_median=fmt_duration(top["without_median_s"]),
        )
    status = facts.a.status
    return Summary(
        lead=lead,
        others=tuple(
            OtherCause(
                signature=f["signature"],
                count=f["count"],
                runs_affected=f["runs_affected"],
                hung=f["with_hung"] or 0,
                failed=f["with_failed"] or 0,
                last_seen=fmt_utc(f["last_seen"]),
            )
            for f in facts.root[1:]
            if f["count"]
        ),
        findings=len(facts.findings),
        lines=facts.inputs.lines,
        runs=facts.counts,
        fix_at=facts.fix_at,
        periods=facts.periods,
        status=status,
        status_reason=_STATUS_REASONS.get(status, "the data cannot show every criterion yet"),
        notices=tuple(outside(n) for n in facts.a.notices),
    )
