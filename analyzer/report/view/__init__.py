"""The report as a frozen view of display-ready values, built once from the prepared analysis.

`build()` turns an `Analysis` into a `Postmortem`: numbers, formatted times and durations, and
row dataclasses that the templates only lay out. Log text stays raw here; the templates pass it
through `markdown_safe`. `SECTIONS` declares each reference section once: its heading, its view
part (built by `view/<name>.py`) and its partial (`reports/sections/<name>.md.j2`). The view is
built at the widest detail level; `Postmortem.at(level)` only truncates it.

`analysis.inputs` is read in one place, `inputs.inputs_view()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ...analysis import Analysis
from ..budget import WIDEST, DetailLevel
from ..options import RenderOptions
from ..prepare import prepare
from . import (
    alternatives,
    environment,
    evidence,
    references,
    required_fix,
    root_cause,
    summary,
    symptoms,
    verification,
)
from .alternatives import Alternatives
from .environment import Environment
from .evidence import Evidence
from .facts import Facts
from .header import Footer, Header, header
from .references import References
from .required_fix import RequiredFix
from .root_cause import RootCause
from .summary import Summary
from .symptoms import Symptoms
from .verification import Verification


@dataclass(frozen=True)
class Section:
    """A reference section: its heading, and the view part its partial lays out."""

    heading: str
    #: The `Postmortem` field and the partial `reports/sections/<name>.md.j2`.
    name: str
    build: Callable[[Facts], Any] = field(repr=False)

    @property
    def partial(self) -> str:
        return f"sections/{self.name}.md.j2"


#: The sections in the order of the reference write-up (shared/reference/resolved-incident.md).
SECTIONS: tuple[Section, ...] = (
    Section("Summary", "summary", summary.build),
    Section("Symptoms", "symptoms", symptoms.build),
    Section("Environment", "environment", environment.build),
    Section("Root Cause", "root_cause", root_cause.build),
    Section("Required Fix", "required_fix", required_fix.build),
    Section("Alternative Fixes (Not Recommended)", "alternatives", alternatives.build),
    Section("Evidence", "evidence", evidence.build),
    Section("Related Issues and References", "references", references.build),
    Section("Verification Status", "verification", verification.build),
)
REFERENCE_HEADINGS: tuple[str, ...] = tuple(s.heading for s in SECTIONS)
#: Where Evidence ends in the Markdown (what `budget.hard_trim` trims before).
EVIDENCE_END = "\n## " + REFERENCE_HEADINGS[REFERENCE_HEADINGS.index("Evidence") + 1]


@dataclass(frozen=True)
class Postmortem:
    """The whole report, display-ready, at one detail level."""

    header: Header
    summary: Summary
    symptoms: Symptoms
    environment: Environment
    root_cause: RootCause
    required_fix: RequiredFix
    alternatives: Alternatives
    evidence: Evidence
    references: References
    verification: Verification
    footer: Footer
    level: DetailLevel

    @property
    def sections(self) -> tuple[Section, ...]:
        return SECTIONS

    def at(self, level: DetailLevel) -> Postmortem:
        """This view with less of each long part: the same view at a narrower level."""
        if not level.within(self.level):
            raise ValueError(f"{level} shows more than the view holds ({self.level})")
        narrower = {}
        for section in SECTIONS:
            part = getattr(self, section.name)
            if hasattr(part, "at"):
                narrower[section.name] = part.at(level)
        return replace(self, level=level, **narrower)


def generated_by(generator: dict) -> str:
    """The footer's account of what judged the report (JSON `generator` in one phrase)."""
    cat = generator["catalog"]
    user = f", {cat['user_patterns']} from --patterns" if cat["user_patterns"] else ""
    return (
        f"{generator['version']}, catalog {cat['version']} {cat['digest']} "
        f"({cat['patterns']} patterns{user})"
    )


def build(analysis: Analysis, options: RenderOptions) -> Postmortem:
    """The report's view of `analysis`: redacted and cut (`prepare`), then built once."""
    shown, redactions = prepare(analysis, options)
    facts = Facts.of(shown)
    parts = {s.name: s.build(facts) for s in SECTIONS}
    footer = Footer(
        redact=options.redact,
        redactions=tuple(sorted(redactions.items(), key=lambda item: item[0].lower())),
        generator=generated_by(analysis.catalog.generator()),
    )
    return Postmortem(header=header(shown), footer=footer, level=WIDEST, **parts)
