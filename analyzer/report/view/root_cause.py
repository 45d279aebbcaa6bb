"""Root Cause: each root cause as the catalog explains it, and what inference attributes to it."""

from __future__ import annotations

from dataclasses import dataclass

from ...markdown_safe import compose
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
    #: Why hung runs are attributed to it by inference ("" when none are): the catalog's
    #: Markdown with the evidence fields (from outside) inert.
    probable_reason: str


@dataclass(frozen=True)
class RootCause:
    """The root causes found, in findings order."""

    causes: tuple[Cause, ...]
    #: Whether unrecognised errors are listed (worth a look when no cause matched).
    unrecognised: bool


def build(facts: Facts) -> RootCause:
    """Each root cause with the catalog's meaning and why; the probable attribution."""
    reason = _probable_reason(facts)
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


def _probable_reason(facts: Facts) -> str:
    """The first attribution's reason: the pattern's `reason` with its evidence fields, which a
    regex took from a log line, filled in inert."""
    probable = facts.a.probable
    if not probable.height or probable["reason"][0] is None:
        return ""
    row = probable.row(0, named=True)
    sig = facts.signatures.get(row["signature"])
    if sig is None or sig.infer is None:
        return compose("{}", row["reason"])
    return compose(sig.infer.reason, **{name: row.get(name) or "" for name in sig.infer.fields})
