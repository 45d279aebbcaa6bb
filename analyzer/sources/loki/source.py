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
    import httpx

    from .config import LokiConfig

__all__ = ["PUSHDOWN_ABOVE_MB", "PUSHDOWN_AFTER_HOURS", "LokiSource"]

#: `mode="auto"` pulls every line while Loki's index puts the selector's window under this many
#: MB of log text, and pushes the filters down above it. Measured against a real Loki 3.7.6
#: (`benchmarks/bench_real_loki.py`, idle 2 cores): at 1 MB a full pull took 0.99 s and pushdown
#: 1.33 s (its activity query is a second pass in Loki); at 10.5 MB full took 3.04 s and
#: pushdown 2.30 s (the transfer and parsing it saves win).
PUSHDOWN_ABOVE_MB = 4.0
#: When Loki answers neither `index/volume` nor `index/stats`, `auto` goes by the window:
#: pushdown for windows longer than this many hours.
PUSHDOWN_AFTER_HOURS = 12


@dataclass(frozen=True)
class LokiSource:
    """Where and how to read from Loki: the connection, the streams and the transfer mode
    (`full`: every line; `pushdown`: only lines matching `Wants.line_filters`, with per-pod
    activity from a metric query; `auto`: full below `pushdown_above_mb` of log lines in the
    window by Loki's index, pushdown above; by the window's length when the index is silent)."""

    config: LokiConfig
    selector: str = DEFAULT_SELECTOR
    mode: str = "auto"  # auto, full or pushdown
    parallel: int = 4
    progress: bool | None = None
    pushdown_above_mb: float = PUSHDOWN_ABOVE_MB
    #: Replaces the network for every request (an `httpx.MockTransport` in tests, a counting
    #: transport in benchmarks).
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)
    kind: str = field(default="loki", init=False)

    def transfer_mode(self, wants: Wants) -> tuple[str, str]:
        """The mode to read the window in, and why (said in the report's Evidence)."""
        if self.mode != "auto":
            return self.mode, f"set by --mode {self.mode}"
        start, end = wants.window.start, wants.window.end
        assert start is not None and end is not None
        from .http import Session  # only a Loki run pays for httpx
        from .times import to_ns
        from .volume import selector_volume

        session = Session(self.config, max_retries=0, transport=self.transport)
        try:
            volume = selector_volume(session, self.selector, to_ns(start), to_ns(end))
        finally:
            session.close()
        if volume is not None:
            mb = volume.bytes / 1e6
            if mb < self.pushdown_above_mb:
                return "full", (
                    f"auto: Loki's {volume.endpoint} puts the selector at {mb:.2f} MB in the "
                    f"window, under {self.pushdown_above_mb:g} MB, so every line was pulled"
                )
            return "pushdown", (
                f"auto: Loki's {volume.endpoint} puts the selector at {mb:.2f} MB in the "
                f"window, over {self.pushdown_above_mb:g} MB, so the filters were pushed down"
            )
        hours = (end - start).total_seconds() / 3600
        mode = "pushdown" if hours > PUSHDOWN_AFTER_HOURS else "full"
        side = "over" if mode == "pushdown" else "not over"
        return mode, (
            f"auto: Loki answered neither index/volume nor index/stats; the window is "
            f"{hours:g} h, {side} {PUSHDOWN_AFTER_HOURS} h"
        )

    def read(self, wants: Wants) -> SourceResult:
        """Fetch the window (which must be closed on both sides); sub-ranges that keep failing
        become gaps, a refused query or credentials raise a `LokiError`."""
        start, end = wants.window.start, wants.window.end
        assert start is not None and end is not None, "a Loki read needs a closed window"
        mode, reason = self.transfer_mode(wants)
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
            transport=self.transport,
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
            "query": result.query if mode == "full" else self.selector + " |~ <catalog literals>",
            "mode": result.mode,
            "mode_reason": reason,
            "from": fmt_utc(start),
            "to": fmt_utc(end),
            "requests": result.requests,
            "bytes_received": result.bytes_received,
            "lines_received": result.lines_received,
            "lines_kept": result.lines.height,
            "entries_unreadable": result.unreadable,
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
