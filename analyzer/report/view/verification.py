"""Verification Status: the sign-off criteria, other findings and unrecognised errors."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...analysis import Analysis
from ...markdown_safe import Outside, outside
from ...timeutil import fmt_utc
from ..budget import WIDEST, DetailLevel
from .facts import Facts, Period, rows
from .prose import catalog_text


@dataclass(frozen=True)
class CriterionRow:
    """A sign-off criterion and whether the data shows it holds (None: cannot tell yet)."""

    criterion: str
    passed: bool | None
    #: Our words around labels and names from outside: the whole reason is rendered inert.
    reason: Outside
    blocks_signoff: bool

    @property
    def box(self) -> str:
        return "x" if self.passed is True else " "


def criteria(shown: Analysis) -> tuple[CriterionRow, ...]:
    """The sign-off criteria, as evaluated."""
    return tuple(
        CriterionRow(c.criterion, c.passed, outside(c.reason), c.blocks_signoff)
        for c in shown.criteria
    )


@dataclass(frozen=True)
class Additional:
    """A signature found that is not a root cause."""

    title: str
    signature: str
    category: str
    severity: str
    count: int
    runs_affected: int
    last_seen: str
    #: The catalog's meaning on one line.
    meaning: str


@dataclass(frozen=True)
class TemplateRow:
    """A template of problem lines no signature explains."""

    template: Outside
    count: int
    pods: int
    first_seen: str
    last_seen: str
    #: `yes` when it first shows after the fix.
    new_after_fix: str


@dataclass(frozen=True)
class Verification:
    """Where sign-off stands, and what else the investigation found."""

    status: str
    fix_at: str
    #: Hours of clean syncs sign-off needs.
    validation_hours: str
    #: The period after the fix (none without `--fix-at`).
    after: tuple[Period, ...]
    blocking: tuple[CriterionRow, ...]
    environmental: tuple[CriterionRow, ...]
    additional: tuple[Additional, ...]
    #: The templates shown, and how many more there are.
    templates: tuple[TemplateRow, ...]
    templates_more: int

    def at(self, level: DetailLevel) -> Verification:
        shown = self.templates[: level.templates]
        more = self.templates_more + len(self.templates) - len(shown)
        return replace(self, templates=shown, templates_more=more)


def build(facts: Facts) -> Verification:
    """Sign-off criteria, other findings and unrecognised errors, at the widest level."""
    a = facts.a
    listed = criteria(a)
    templates = rows(a.unclassified.head(WIDEST.templates))
    return Verification(
        status=a.status,
        fix_at=facts.fix_at,
        validation_hours=f"{a.validation_hours:.0f}",
        after=tuple(p for p in facts.periods if p.period == "after"),
        blocking=tuple(c for c in listed if c.blocks_signoff),
        environmental=tuple(c for c in listed if not c.blocks_signoff),
        additional=tuple(
            Additional(
                title=f["title"],
                signature=f["signature"],
                category=f["category"],
                severity=f["severity"],
                count=f["count"],
                runs_affected=f["runs_affected"],
                last_seen=fmt_utc(f["last_seen"]),
                meaning=catalog_text(
                    facts.signatures[f["signature"]].meaning, facts.values.get(f["signature"])
                ).replace("\n", " "),
            )
            for f in facts.findings
            if f["category"] != "root-cause"
        ),
        templates=tuple(
            TemplateRow(
                template=outside(t["template"]),
                count=t["count"],
                pods=len(t["pods"]),
                first_seen=fmt_utc(t["first_seen"]),
                last_seen=fmt_utc(t["last_seen"]),
                new_after_fix="yes" if t.get("new_after_fix") else "",
            )
            for t in templates
        ),
        templates_more=a.unclassified.height - len(templates),
    )
