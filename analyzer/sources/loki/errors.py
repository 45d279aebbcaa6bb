"""The failures `Session` signals to the pagers; they never leave `fetch`. A transient one is
retried and then becomes a gap; the other two make the pager ask again with a smaller page or a
shorter range. The errors a caller sees are `analyzer.errors.LokiError` and its subclasses."""

from __future__ import annotations

from ...errors import LokiError

__all__ = ["Final", "LimitTooHigh", "RangeTooBig", "TooLarge", "Transient"]


class Transient(LokiError):
    """A failure worth retrying: 429, 5xx, timeouts, dropped connections, malformed bodies."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Final(Transient):
    """A failure that asking again cannot mend (an answer over the size cap, the fetch past its
    deadline): not retried, the range becomes a gap at once."""


class TooLarge(Final):
    """An answer over the size cap: the pager asks again for fewer lines, then gives a gap."""


class LimitTooHigh(LokiError):
    """HTTP 400 `max entries limit per query exceeded`; carries the server's maximum."""

    def __init__(self, maximum: int) -> None:
        super().__init__(f"the server allows at most {maximum} entries per query")
        self.maximum = maximum


class RangeTooBig(LokiError):
    """HTTP 400 that a shorter time range avoids (too many series, query too long)."""
