"""Required Fix: the catalog's fix for each root cause."""

from __future__ import annotations

from dataclasses import dataclass

from .facts import Facts
from .prose import catalog_text


@dataclass(frozen=True)
class Fix:
    """The fix for one root cause."""

    signature: str
    #: Catalog Markdown (trusted).
    text: str


@dataclass(frozen=True)
class RequiredFix:
    fixes: tuple[Fix, ...]
    #: Each fix under its own heading (more than one root cause).
    titled: bool


def build(facts: Facts) -> RequiredFix:
    """The catalog's fix for each root cause, in findings order."""
    fixes = tuple(
        Fix(
            f["signature"],
            catalog_text(facts.signatures[f["signature"]].fix, facts.values.get(f["signature"])),
        )
        for f in facts.root
    )
    return RequiredFix(fixes=fixes, titled=len(fixes) > 1)
