"""Go and Prometheus parsing and formatting as Loki applies them to request parameters."""

from __future__ import annotations

import calendar
import math
import re

from .api import HOUR_NS, NS, ApiError

_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_FLOAT_RE = re.compile(
    r"^[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)$", re.I
)
_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$"
)
_PROM_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_GO_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": NS, "m": 60 * NS}
_GO_UNITS["h"] = 3600 * NS
_PROM_UNITS = (365 * 86400 * NS, 7 * 86400 * NS, 86400 * NS, HOUR_NS, 60 * NS, NS, 10**6)


_NEEDS_QUOTING = re.compile(r'["\\\x00-\x1f\x7f]')


def go_quote(text: str) -> str:
    """Go's `%q` / strconv.Quote for the characters that matter here."""
    if not _NEEDS_QUOTING.search(text):
        return f'"{text}"'
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def go_parse_int(value: str, func: str = "ParseInt") -> int:
    if not _INT_RE.match(value):
        raise ApiError(f"strconv.{func}: parsing {go_quote(value)}: invalid syntax")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ApiError(f"strconv.{func}: parsing {go_quote(value)}: value out of range")
    return number


def _parse_rfc3339(value: str) -> int | None:
    match = _RFC3339_RE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    frac = match.group(7) or ""
    frac_ns = int((frac + "000000000")[:9]) if frac else 0
    zone = match.group(8)
    offset = 0
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return seconds * NS + frac_ns


def parse_timestamp(value: str, default_ns: int) -> int:
    """`parseTimestamp` of pkg/loghttp/params.go: float seconds, s (<=10 digits), ns, RFC3339."""
    if value == "":
        return default_ns
    if "." in value and _FLOAT_RE.match(value) and value.lower().strip("+-") not in ("inf", "nan"):
        seconds_f = float(value)
        frac, whole = math.modf(seconds_f)
        frac = round(frac * 1000) / 1000
        return int(whole) * NS + int(frac * NS)
    try:
        number = go_parse_int(value)
    except ApiError:
        parsed = _parse_rfc3339(value)
        if parsed is not None:
            return parsed
        raise
    return number * NS if len(value) <= 10 else number


def parse_prom_duration(value: str) -> int:
    """Prometheus `model.ParseDuration` (`5m`, `1h30m`, `3d`) to nanoseconds."""
    if value == "0":
        return 0
    match = _PROM_DURATION_RE.match(value)
    if not value or not match or not any(match.groups()):
        raise ApiError(f"not a valid duration string: {go_quote(value)}")
    return sum(int(g) * unit for g, unit in zip(match.groups(), _PROM_UNITS, strict=True) if g)


def parse_go_duration(value: str) -> int:
    """Go `time.ParseDuration` (`1m30s`, `1.5h`, `500ms`) to nanoseconds."""
    body = value.lstrip("+-")
    if body == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _GO_DURATION_PART.match(body, pos)
        if not match or match.group(1) in ("", "."):
            raise ApiError(f"time: invalid duration {go_quote(value)}")
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if not body:
        raise ApiError(f"time: invalid duration {go_quote(value)}")
    return int(-total if value.startswith("-") else total)


def parse_seconds_or_duration(value: str) -> int:
    """`step`/`interval`: float seconds or a Prometheus duration, as Loki reads them."""
    if _FLOAT_RE.match(value):
        nanos = float(value) * NS
        if not -(2**63) <= nanos < 2**63:
            raise ApiError(
                f"cannot parse {go_quote(value)} to a valid duration. It overflows int64"
            )
        return int(nanos)
    try:
        return parse_prom_duration(value)
    except ApiError:
        raise ApiError(f"cannot parse {go_quote(value)} to a valid duration") from None


def prom_duration_string(nanos: int) -> str:
    """Prometheus `model.Duration.String()` (`30d1h`, `12w`, `5m`)."""
    millis = nanos // 10**6
    if millis == 0:
        return "0s"
    out = ""
    for unit, size, exact in (
        ("y", 365 * 86400000, True), ("w", 7 * 86400000, True), ("d", 86400000, False),
        ("h", 3600000, False), ("m", 60000, False), ("s", 1000, False), ("ms", 1, False),
    ):  # fmt: skip
        if exact and millis % size:
            continue
        if millis // size:
            out += f"{millis // size}{unit}"
            millis -= (millis // size) * size
    return out


def go_unquote(literal: str) -> str:
    """strconv.Unquote for a LogQL string literal: double-quoted with Go escapes, or backticks."""
    if literal.startswith("`"):
        return literal[1:-1]
    body, out, i = literal[1:-1], [], 0
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    simple |= {"\\": "\\", '"': '"'}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif nxt in "01234567":
            digits = body[i + 1 : i + 4]
            if not re.fullmatch(r"[0-7]{3}", digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError("invalid syntax")
    return "".join(out)
