"""Time window arithmetic: kubectl/logcli-style durations, RFC3339 bounds, UTC formatting.

Everything inside the analyzer is UTC; `fmt_utc` is the one way a time becomes text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytimeparse2

from .errors import WindowError

_DURATION_SHAPE = re.compile(r"^(\d+(\.\d+)?(w|d|h|m|s|ms))+$")
_HOURS_SHAPE = re.compile(r"^\d+(\.\d+)?$")

#: The times a log line can hold: polars keeps times as nanoseconds since 1970 in 64 bits, which
#: reach from 1677-09-21 to 2262-04-11; whole years inside that span are accepted.
EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)


def parse_duration(text: str, *, flag: str = "--since") -> timedelta:
    """Parse `90s`, `30m`, `48h`, `2h30m`, `7d` (kubectl and logcli units, plus days and weeks)."""
    compact = text.strip()
    seconds = pytimeparse2.parse(compact) if _DURATION_SHAPE.match(compact) else None
    if seconds is None or seconds <= 0:
        raise WindowError(
            f"{flag}: cannot read {text!r} as a duration; "
            "use units s, m, h, d or w (e.g. 48h, 2h30m)"
        )
    if seconds >= (LATEST - EARLIEST).total_seconds():
        raise WindowError(f"{flag}: {text!r} is longer than the 1678-2261 span a log can cover")
    return timedelta(seconds=seconds)


def parse_hours(text: str, *, flag: str) -> float:
    """A span in hours: a duration like every other span (`48h`, `2d`, `90m`) or, as before, a
    bare positive number of hours (`48`, `0.5`). NaN, infinities, zero and negatives are refused."""
    compact = text.strip()
    if _HOURS_SHAPE.match(compact):
        hours = float(compact)
        if hours <= 0:
            raise WindowError(f"{flag}: {text!r} must be more than zero (e.g. 48h or 48)")
        if hours * 3600 >= (LATEST - EARLIEST).total_seconds():
            raise WindowError(f"{flag}: {text!r} is longer than the 1678-2261 span a log can cover")
        return hours
    try:
        return parse_duration(compact, flag=flag).total_seconds() / 3600
    except WindowError:
        raise WindowError(
            f"{flag}: cannot read {text!r} as a span; use a duration (48h, 2d, 90m) "
            "or a positive number of hours"
        ) from None


def parse_time(text: str, *, flag: str) -> datetime:
    """Parse an RFC3339 time (`2026-01-31T16:19:00Z`, offsets allowed) into aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(
            f"{flag}: cannot read {text!r} as an RFC3339 time (e.g. 2026-01-31T16:19:00Z)"
        ) from None
    if value.tzinfo is None:
        raise WindowError(f"{flag}: {text!r} has no time zone; add Z or an offset like +02:00")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # an offset that moves a time at the edge of year 1 or 9999 past it
        value = EARLIEST - timedelta(days=1) if value.year < 1000 else LATEST
    return check_in_range(value, flag=flag, text=text)


def check_in_range(value: datetime, *, flag: str, text: str | None = None) -> datetime:
    """`value` if a log line can hold it (1678-2261, see EARLIEST), else a WindowError."""
    if not EARLIEST <= value < LATEST:
        shown = repr(text) if text is not None else fmt_utc(value)
        raise WindowError(
            f"{flag}: {shown} is outside the times a log can hold (1678-01-01 to 2261-12-31)"
        )
    return value


def fmt_utc(value: datetime | None, *, seconds_only: bool = True) -> str:
    """Format an aware datetime as RFC3339 UTC with an explicit `Z` (empty string for None)."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    if seconds_only:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_duration(seconds: float | None, *, lower_bound: bool = False) -> str:
    """Render a duration the way people read it: `45s`, `1m 12s`, `2h 05m`; `≥` for lower bounds."""
    if seconds is None:
        return "n/a"
    total = int(round(seconds))
    if total < 60:
        text = f"{total}s"
    elif total < 3600:
        text = f"{total // 60}m {total % 60:02d}s"
    else:
        text = f"{total // 3600}h {total % 3600 // 60:02d}m"
    return f"≥ {text}" if lower_bound else text


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end); either bound may be open (None)."""

    start: datetime | None
    end: datetime | None

    def describe(self) -> str:
        return f"{fmt_utc(self.start) or 'start of data'} → {fmt_utc(self.end) or 'end of data'}"


def resolve_window(
    *,
    since: str | None = None,
    until: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    now: datetime | None = None,
) -> Window:
    """Turn the CLI's time flags into a Window.

    `--since D` means [until - D, until) with `--until` defaulting to now. `--from`/`--to` give
    absolute bounds and cannot be combined with `--since`. With no flag at all the window is open
    on both sides, which for files means "all the data".
    """
    if since and from_:
        raise WindowError("--since and --from both set the window start; give only one")
    if until and to:
        raise WindowError("--until and --to both set the window end; give only one")
    end_text, end_flag = (until, "--until") if until else (to, "--to")
    end = parse_time(end_text, flag=end_flag) if end_text else None
    if since:
        end = end or (now or datetime.now(UTC)).astimezone(UTC)
        span = parse_duration(since)
        try:
            start = end - span
        except OverflowError:  # before year 1
            start = EARLIEST - timedelta(days=1)
        if start < EARLIEST:
            raise WindowError(
                f"--since: {since!r} before {fmt_utc(end)} reaches before 1678, "
                "earlier than any time a log can hold"
            )
    else:
        start = parse_time(from_, flag="--from") if from_ else None
    if start is not None and end is not None and end <= start:
        flag = end_flag if end_text else "--until"
        raise WindowError(f"{flag}: {fmt_utc(end)} is not after the window start {fmt_utc(start)}")
    return Window(start, end)
