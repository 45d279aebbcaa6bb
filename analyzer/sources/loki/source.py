"""`LokiSource`: a Grafana Loki `query_range` read behind the `Source` protocol.

Importing this module costs nothing: httpx, tenacity and tqdm are imported by `read()` only,
so a run over local files never pays for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ...envelopes import events_from_loki
from ...errors import LokiUnreachableError
from ...timeutil import fmt_utc
from ..base import Provenance, SourceResult, Wants, merge_gaps
from .logql import DEFAULT_SELECTOR

if TYPE_CHECKING:
    from .config import LokiConfig

__all__ = ["PUSHDOWN_AFTER_HOURS", "LokiSource"]

#: `mode="auto"` pushes filters down to Loki for windows longer than this many hours.
PUSHDOWN_AFTER_HOURS = 12


@dataclass(frozen=True)
class LokiSource:
    """Where and how to read from Loki: the connection, the streams and the transfer mode
    (`full`: every line; `pushdown`: only lines matching `Wants.line_filters`, with per-pod
    activity from a metric query; `auto`: pushdown past PUSHDOWN_AFTER_HOURS)."""

    config: LokiConfig
    selector: str = DEFAULT_SELECTOR
    mode: str = "auto"  # auto, full or pushdown
    parallel: int = 4
    progress: bool | None = None
    kind: str = field(default="loki", init=False)

    def transfer_mode(self, wants: Wants) -> str:
        """The mode `auto` resolves to for this window."""
        if self.mode != "auto":
            return self.mode
        start, end = wants.window.start, wants.window.end
        assert start is not None and end is not None
        hours = (end - start).total_seconds() / 3600
        return "pushdown" if hours > PUSHDOWN_AFTER_HOURS else "full"

    def read(self, wants: Wants) -> SourceResult:
        """Fetch the window (which must be closed on both sides); sub-ranges that keep failing
        become gaps, a refused query or credentials raise a `LokiError`."""
        start, end = wants.window.start, wants.window.end
        assert start is not None and end is not None, "a Loki read needs a closed window"
        mode = self.transfer_mode(wants)
        from .fetching import fetch  # only a Loki run pays for httpx

        result = fetch(
            self.config,
            start,
            end,
            selector=self.selector,
            mode=mode,
            line_filters=wants.line_filters if mode == "pushdown" else (),
            parallel=self.parallel,
            progress=self.progress,
        )
        gaps = merge_gaps(result.gaps)
        if gaps and not result.lines.height and _covers(gaps, start, end):
            reasons = "; ".join(dict.fromkeys(g["reason"] for g in gaps))
            raise LokiUnreachableError(
                f"no part of the window could be read from Loki at {self.config.safe_addr}: "
                f"{reasons}"
            )
        details = {
            "addr": self.config.safe_addr,
            "query": result.query if mode == "full" else self.selector + " |~ <catalog filters>",
            "mode": result.mode,
            "from": fmt_utc(start),
            "to": fmt_utc(end),
            "requests": result.requests,
            "bytes_received": result.bytes_received,
            "lines_received": result.lines_received,
            "lines_kept": result.lines.height,
        }
        return SourceResult(
            provenance=Provenance(kind="loki", paths=(self.config.safe_addr,), details=details),
            events=events_from_loki(result.lines),
            activity=result.activity if result.mode == "pushdown" else None,
            gaps=gaps,
        )


def _covers(gaps: list[dict], start: datetime, end: datetime) -> bool:
    """Whether the (sorted, merged) gaps leave no moment of [start, end) readable."""
    reached = start
    for gap in gaps:
        if gap["from"] > reached:
            return False
        reached = max(reached, gap["to"])
    return reached >= end
