"""Related Issues and References: the catalog's links for every matched signature."""

from __future__ import annotations

from dataclasses import dataclass

from ...catalog import Reference
from .facts import Facts


@dataclass(frozen=True)
class References:
    """Links to upstream issues and documentation."""

    #: The catalog's references of every matched signature, each URL once.
    links: tuple[Reference, ...]


def build(facts: Facts) -> References:
    """The references of every matched signature, in findings order, each URL once."""
    seen: dict[str, Reference] = {}
    for f in facts.findings:
        for ref in facts.signatures[f["signature"]].references:
            seen.setdefault(ref.url, ref)
    return References(tuple(seen.values()))
