"""Alternative Fixes (Not Recommended): the catalog's alternatives for each root cause."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...catalog import Alternative
from .facts import Facts
from .prose import catalog_text


@dataclass(frozen=True)
class Alternatives:
    """Fixes that work but cost more; the catalog says what."""

    #: The catalog's alternatives for every root cause, in order (trusted Markdown).
    items: tuple[Alternative, ...]


def build(facts: Facts) -> Alternatives:
    """Every alternative the catalog lists for the root causes found, each once: two causes may
    offer the same fix (the same title); the first keeps its place."""
    once: dict[str, Alternative] = {}
    for f in facts.root:
        values = facts.values.get(f["signature"])
        for alt in facts.signatures[f["signature"]].alternatives:
            if alt.title not in once:
                once[alt.title] = replace(
                    alt,
                    body=catalog_text(alt.body, values),
                    tradeoff=catalog_text(alt.tradeoff, values),
                )
    return Alternatives(tuple(once.values()))
