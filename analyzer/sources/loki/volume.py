"""How much a selector holds in a window, as Loki's index says: what `mode="auto"` decides by.

`/loki/api/v1/index/volume` sums the bytes of the matching streams, from the index and the
ingesters (data not yet flushed included). `/loki/api/v1/index/stats` counts only flushed data
(it answers 0 for what is still in the ingesters), so a 0 from it says nothing. A Loki that
answers neither leaves the decision to the window's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .logql import selector_labels
from .times import loki_time

if TYPE_CHECKING:
    from .http import Session

__all__ = ["VOLUME_PATH", "STATS_PATH", "Volume", "selector_volume"]

VOLUME_PATH = "/loki/api/v1/index/volume"
STATS_PATH = "/loki/api/v1/index/stats"


@dataclass(frozen=True)
class Volume:
    """Bytes of log lines the selector holds in the window, and which endpoint said so."""

    bytes: int
    endpoint: str  # "index/volume" or "index/stats"


def _volume_bytes(payload: Any) -> int | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        return None
    total = 0
    for sample in data.get("result") or []:
        try:
            total += int(float(sample["value"][1]))
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return total


def _stats_bytes(payload: Any) -> int | None:
    value = payload.get("bytes") if isinstance(payload, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def selector_volume(session: Session, selector: str, lo: int, hi: int) -> Volume | None:
    """The selector's bytes in [lo, hi) (ns) from `index/volume`, else `index/stats`, else
    None (neither answered, or stats had only unflushed data to go by)."""
    params = {"query": selector, "start": loki_time(lo), "end": loki_time(hi)}
    # one group per value of one label the selector names: the sum is never cut by `limit`
    labels = selector_labels(selector)[:1]
    by_label = {"aggregateBy": "labels", "targetLabels": labels[0]} if labels else {}
    found = _volume_bytes(session.get_json(VOLUME_PATH, params | by_label | {"limit": "1000"}))
    if found is not None:
        return Volume(found, "index/volume")
    if session.silent_timeouts:  # Loki said nothing at all: no second wait
        return None
    found = _stats_bytes(session.get_json(STATS_PATH, params))
    return Volume(found, "index/stats") if found is not None else None
