"""Log envelopes and the time formats inside them (formats.md §1.2, §6): CRI, `kubectl logs
--timestamps`, docker json-file and Kopia CLI-log lines, plus Go's duration text.

Times are nanoseconds since the epoch or aware datetimes. Everything here is a pure function of
its arguments (the one random input, `cri_split`'s `gap`, is the caller's), so a seeded
generator stays byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

SEC = 1_000_000_000
MS = 1_000_000
US = 1_000
#: containerd splits a longer line into `P` records of this many bytes and a final `F` record.
CRI_MAX_LINE = 16384
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(t: int | datetime) -> int:
    """Nanoseconds since the epoch of `t` (an aware datetime is exact to the microsecond)."""
    if isinstance(t, datetime):
        return (t - _EPOCH) // timedelta(microseconds=1) * US
    return t


def split_ns(t: int | datetime) -> tuple[datetime, int]:
    """The UTC datetime of `t`'s whole second and the nanoseconds past it."""
    seconds, frac = divmod(ns(t), SEC)
    return datetime.fromtimestamp(seconds, tz=UTC), frac


def rfc3339(t: int | datetime) -> str:
    """Go time.RFC3339 in UTC to the second (`date -u +%FT%TZ`, Kubernetes object times)."""
    return split_ns(t)[0].strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339nano(t: int | datetime) -> str:
    """Go time.RFC3339Nano in UTC: fraction with trailing zeros trimmed (containerd CRI files)."""
    moment, frac = split_ns(t)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def rfc3339nano_fixed(t: int | datetime) -> str:
    """kubelet RFC3339NanoFixed: always 9 fractional digits (`kubectl logs --timestamps`)."""
    moment, frac = split_ns(t)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{frac:09d}Z"


def kopia_time(t: int | datetime) -> str:
    """Kopia's PreciseLayout in UTC: 6 fractional digits (CLI-log files)."""
    moment, frac = split_ns(t)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{frac // US:06d}Z"


def go_duration(nanos: int) -> str:
    """Go's `time.Duration.String()` (`800h0m0s`, `1m30s`, `1.5s`, `250ms`)."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < SEC:
        for unit, size in (("ms", MS), ("µs", US), ("ns", 1)):
            if nanos >= size:
                return sign + _trim_fraction(nanos / size) + unit
    hours, rest = divmod(nanos, 3600 * SEC)
    minutes, rest = divmod(rest, 60 * SEC)
    seconds = _trim_fraction(rest / SEC) if rest % SEC else str(rest // SEC)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim_fraction(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def cri(t: int | datetime, stream: str, text: str, tag: str = "F") -> str:
    """One CRI record (no newline): `<RFC3339Nano> <stream> <F|P> <text>`."""
    return f"{rfc3339nano(t)} {stream} {tag} {text}"


def cri_split(
    t: int, stream: str, text: str, gap: Callable[[], int], max_bytes: int = CRI_MAX_LINE
) -> list[str]:
    """One line as containerd writes it: `P` records of `max_bytes` and a final `F` when longer,
    each `gap()` nanoseconds after the one before."""
    data = text.encode()
    if len(data) <= max_bytes:
        return [cri(t, stream, text)]
    chunks = [data[i : i + max_bytes] for i in range(0, len(data), max_bytes)]
    out = []
    for i, chunk in enumerate(chunks):
        out.append(cri(t, stream, chunk.decode(), "F" if i == len(chunks) - 1 else "P"))
        t += gap()
    return out


def cri_records(start: int | datetime, lines: Iterable[tuple[float, str, str]]) -> list[str]:
    """CRI records (no newlines) from (seconds after start, stream, text), one record a line."""
    if isinstance(start, datetime):
        return [cri(start + timedelta(seconds=s), stream, text) for s, stream, text in lines]
    return [cri(start + round(s * SEC), stream, text) for s, stream, text in lines]


def kubectl(t: int | datetime, text: str) -> str:
    """One `kubectl logs --timestamps` line (no newline): 9-digit time, a space, the text."""
    return f"{rfc3339nano_fixed(t)} {text}"


def docker(t: int | datetime, stream: str, text: str) -> str:
    """One docker json-file record (no newline): `{"log": "<text>\\n", "stream", "time"}`."""
    return json.dumps({"log": text + "\n", "stream": stream, "time": rfc3339nano(t)})


def kopia_cli(t: int | datetime, level: str, module: str, message: str) -> str:
    """One Kopia CLI-log line (no newline): `<time> <LEVEL> <module> <message>`."""
    return f"{kopia_time(t)} {level} {module} {message}"
