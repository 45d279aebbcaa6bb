"""Root Cause: each root cause as the catalog explains it, and what inference attributes to it."""

from __future__ import annotations

from dataclasses import dataclass

from .facts import Facts
from .prose import catalog_text


@dataclass(frozen=True)
class Cause:
    """A root cause as the catalog explains it."""

    #: Catalog Markdown (trusted), like `meaning` and `why`.
    title: str
    #: Attributed only by inference (no line of its own).
    probable: bool
    meaning: str
    why: str
    runs_probable: int
    #: Why hung runs are attributed to it by inference ("" when none are).
    probable_reason: str


@dataclass(frozen=True)
class RootCause:
    """The root causes found, in findings order."""

    causes: tuple[Cause, ...]
    #: Whether unrecognised errors are listed (worth a look when no cause matched).
    unrecognised: bool


def build(facts: Facts) -> RootCause:
    """Each root cause with the catalog's meaning and why; the probable attribution."""
    probable = facts.a.probable
    reason = probable["reason"][0] if probable.height else ""
    causes = []
    for f in facts.root:
        sig = facts.signatures[f["signature"]]
        values = facts.values.get(sig.id, {})
        causes.append(
            Cause(
                title=sig.title,
                probable=f["count"] == 0 and bool(f["runs_probable"]),
                meaning=catalog_text(sig.meaning, values),
                why=catalog_text(sig.why, values),
                runs_probable=f["runs_probable"],
                probable_reason=reason,
            )
        )
    return RootCause(causes=tuple(causes), unrecognised=facts.a.unclassified.height > 0)
