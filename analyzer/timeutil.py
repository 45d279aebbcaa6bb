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


def parse_duration(text: str, *, flag: str = "--since") -> timedelta:
    """Parse `90s`, `30m`, `48h`, `2h30m`, `7d` (kubectl and logcli units, plus days and weeks)."""
    compact = text.strip()
    seconds = pytimeparse2.parse(compact) if _DURATION_SHAPE.match(compact) else None
    if seconds is None or seconds <= 0:
        raise WindowError(
            f"{flag}: cannot read {text!r} as a duration; "
            "use units s, m, h, d or w (e.g. 48h, 2h30m)"
        )
    return timedelta(seconds=seconds)


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
    return value.astimezone(UTC)


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
        start = end - parse_duration(since)
    else:
        start = parse_time(from_, flag="--from") if from_ else None
    if start is not None and end is not None and end <= start:
        flag = end_flag if end_text else "--until"
        raise WindowError(f"{flag}: {fmt_utc(end)} is not after the window start {fmt_utc(start)}")
    return Window(start, end)
