"""Loki's nanosecond timestamps: to and from datetimes, as `start`/`end` parameters, a range cut
into sub-ranges, and the gap row a range that could not be read becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = [
    "EPOCH",
    "MINUTE_NS",
    "NS",
    "ceil_minute",
    "from_ns",
    "gap_row",
    "loki_time",
    "split_range",
    "to_ns",
]

NS = 1_000_000_000
MINUTE_NS = 60 * NS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def from_ns(nanos: int) -> datetime:
    """A UTC datetime (microsecond precision, rounded down)."""
    return EPOCH + timedelta(microseconds=nanos // 1000)


def loki_time(nanos: int) -> str:
    """A `start`/`end` value Loki reads exactly: ns digits, or RFC3339 when digits would be <=10."""
    text = str(nanos)
    if len(text) > 10:
        return text
    moment = EPOCH + timedelta(microseconds=nanos // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos % NS:09d}Z"


def ceil_minute(nanos: int) -> int:
    """The first whole minute at or after `nanos`."""
    return -(-nanos // MINUTE_NS) * MINUTE_NS


def split_range(lo: int, hi: int, pieces: int, align: int = MINUTE_NS) -> list[tuple[int, int]]:
    """Cut [lo, hi) into about `pieces` contiguous parts, on `align` boundaries when it fits."""
    pieces = max(1, min(pieces, hi - lo))
    cuts = [lo + (hi - lo) * i // pieces for i in range(1, pieces)]
    if hi - lo >= pieces * align:
        cuts = [(c + align // 2) // align * align for c in cuts]
    bounds = sorted({lo, hi, *(c for c in cuts if lo < c < hi)})
    return list(zip(bounds, bounds[1:], strict=False))


def gap_row(lo: int, hi: int, reason: str) -> dict:
    """The gaps row for a range left unread: `from` rounded down, `to` up to the microsecond."""
    return {"from": from_ns(lo), "to": from_ns(hi + 999), "reason": reason}
