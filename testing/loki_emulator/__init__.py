"""An in-process emulation of the Grafana Loki HTTP query API, served on 127.0.0.1 with a real socket.

It follows the facts in `shared/reference/loki-api.md` and the recorded responses in
`shared/reference/loki-responses/` for the subset the Loki source uses:

* `GET/POST /loki/api/v1/query_range`: log queries (stream selector with `=`, `!=`, `=~`, `!~`;
  line filters `|=`, `!=`, `|~`, `!~`, chained, with `or`; label filters `| name op "v"` on labels
  and structured metadata) and metric queries (`count_over_time`, `rate`, `bytes_over_time`,
  `bytes_rate`, wrapped in `sum|count|min|max|avg [by|without (...)]`), `limit` counted across
  streams, `direction`, inclusive start / exclusive end, `interval`, `since`, the
  `categorize-labels` encoding flag, step alignment of metric queries, Loki's 400 bodies.
* `GET /loki/api/v1/query` (instant metric queries), `/loki/api/v1/labels`,
  `/loki/api/v1/label/<name>/values`, `POST /loki/api/v1/push` (JSON), `/ready`.
* Ingestion as Loki 3.x does it: `service_name` discovery, `detected_level` structured metadata,
  consecutive duplicate (timestamp, line) entries dropped.
* A gateway in front of it (optional basic or bearer auth, `X-Scope-OrgID` when `auth_enabled`),
  TLS (optionally with client certificates), gzip, and fault injection (status codes, delays,
  truncated or malformed bodies, dropped connections).

Regular expressions run on Python's `re` after a small RE2 -> Python translation (`\\x{..}`,
`(?<name>..)`, `\\z`, `$`); Perl-only syntax (look-arounds, back-references) is refused as RE2
refuses it. Parsers (`| json`, `| logfmt`, ...) and formatting stages are not emulated.
"""

from __future__ import annotations

import base64
import bisect
import calendar
import contextlib
import gzip
import heapq
import json
import math
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NS = 1_000_000_000
HOUR_NS = 3600 * NS
DEFAULT_SINCE_NS = HOUR_NS
QUERY_RANGE = "/loki/api/v1/query_range"
SERVICE_NAME_SOURCES = (
    "service", "app", "application", "app_name", "name", "app_kubernetes_io_name", "container",
    "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name",
)  # fmt: skip
LEVEL_FIELDS = (
    "level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText",
    "lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT",
)  # fmt: skip
ERR_END_BEFORE_START = "end timestamp must not be before or equal to start time"
ERR_STEP_ZERO = (
    "zero or negative query resolution step widths are not accepted. Try a positive integer"
)
ERR_STEP_TOO_SMALL = (
    "exceeded maximum resolution of 11,000 points per time series. "
    "Try increasing the value of the step parameter"
)
ERR_EMPTY_SELECTOR = (
    "parse error : queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, but '
    'app=~".+" will'
)
ERR_INSTANT_LOG = (
    "log queries are not supported as an instant query type, please change your query to a "
    "range query type"
)
NGINX_401 = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """A request Loki answers with a non-2xx status and a plain-text body."""

    def __init__(self, body: str, status: int = 400) -> None:
        super().__init__(body)
        self.body = body
        self.status = status


# --------------------------------------------------------------------------------------------
# Go / Prometheus compatible parsing and formatting
# --------------------------------------------------------------------------------------------

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


def _go_parse_int(value: str, func: str = "ParseInt") -> int:
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
        number = _go_parse_int(value)
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


def go_duration_string(nanos: int) -> str:
    """Go's `time.Duration.String()` (`800h0m0s`, `1m30s`, `1.5s`, `250ms`)."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < NS:
        for unit, size in (("ms", 10**6), ("µs", 1000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim_fraction(nanos / size) + unit
    hours, rest = divmod(nanos, HOUR_NS)
    minutes, rest = divmod(rest, 60 * NS)
    seconds = _trim_fraction(rest / NS) if rest % NS else str(rest // NS)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim_fraction(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


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


# --------------------------------------------------------------------------------------------
# RE2 -> Python regular expressions
# --------------------------------------------------------------------------------------------

_PERL_ONLY = ("(?=", "(?!", "(?<=", "(?<!", "(?>")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": "\\t\\n\\v\\f\\r ", "xdigit": "0-9A-Fa-f", "word": "\\w", "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~", "cntrl": "\\x00-\\x1f\\x7f", "print": " -~", "graph": "!-~",
}  # fmt: skip


def _translate_escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """One escape sequence starting at pattern[i] == '\\' -> (Python text, next index)."""
    hexa = re.match(r"\\x\{([0-9A-Fa-f]+)\}", pattern[i:])
    if hexa:
        return f"\\U{int(hexa.group(1), 16):08x}", i + hexa.end()
    nxt = pattern[i + 1 : i + 2]
    if nxt.isdigit() and nxt != "0" and not in_class:
        raise ApiError(f"invalid escape sequence: `\\{nxt}`")
    if nxt == "z" and not in_class:
        return "\\Z", i + 2
    return pattern[i : i + 2], i + 2


def _translate_class(pattern: str, i: int) -> tuple[str, int]:
    """A bracket expression starting at pattern[i] == '[' -> (Python text, next index)."""
    out, i = ["["], i + 1
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    if pattern[i : i + 1] == "]":
        out.append("\\]")
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        posix = re.match(r"\[:(\^?)([a-z]+):\]", pattern[i:])
        if posix and posix.group(2) in _POSIX_CLASSES and not posix.group(1):
            out.append(_POSIX_CLASSES[posix.group(2)])
            i += posix.end()
        elif pattern[i] == "\\":
            text, i = _translate_escape(pattern, i, True)
            out.append(text)
        else:
            out.append("\\[" if pattern[i] == "[" else pattern[i])
            i += 1
    if i >= len(pattern):
        raise ApiError(f"missing closing ]: `{pattern[i - len(''.join(out)) :]}`")
    return "".join(out) + "]", i + 1


def _translate_re2(pattern: str) -> str:
    """Rewrite the RE2 spellings Python lacks; refuse Perl-only syntax as RE2 does."""
    out: list[str] = []
    multiline = re.match(r"^\(\?[a-zA-Z]*m", pattern) is not None
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            text, i = _translate_escape(pattern, i, False)
        elif ch == "[":
            text, i = _translate_class(pattern, i)
        elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            text, i = "(?P<", i + 3
        elif ch == "(" and any(pattern.startswith(p, i) for p in _PERL_ONLY):
            token = next(p for p in _PERL_ONLY if pattern.startswith(p, i))
            raise ApiError(f"invalid or unsupported Perl syntax: `{token}`")
        elif ch == "$" and not multiline:
            text, i = "\\Z", i + 1
        else:
            text, i = ch, i + 1
        out.append(text)
    return "".join(out)


def compile_re2(pattern: str, *, anchored: bool) -> re.Pattern[str]:
    """Compile an RE2 pattern; label matchers are fully anchored as in Loki."""
    try:
        translated = _translate_re2(pattern)
        if anchored:
            translated = f"^(?:{translated})\\Z"
        return re.compile(translated)
    except ApiError as exc:
        raise ApiError(f"parse error : error parsing regexp: {exc.body}") from None
    except re.error as exc:
        raise ApiError(f"parse error : error parsing regexp: {exc}: `{pattern}`") from None


# --------------------------------------------------------------------------------------------
# LogQL: lexer, parser, AST
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)|(?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)|(?P<range>\[[^\]]*\])
    |(?P<op>\|=|\|~|\|>|!=|!~|=~|!>|==|=|\||\{|\}|\(|\)|,)
    |(?P<ident>[a-zA-Z_][a-zA-Z0-9_]*)|(?P<number>[0-9]+(?:\.[0-9]+)?)|(?P<other>.)""",
    re.X,
)
VECTOR_OPS = ("sum", "count", "min", "max", "avg")
RANGE_FUNCS = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
PARSER_STAGES = ("json", "logfmt", "pattern", "regexp", "unpack", "line_format", "label_format")
PARSER_STAGES += ("decolorize", "drop", "keep", "unwrap")


@dataclass(frozen=True)
class Token:
    kind: str  # string, range, op, ident, number, other, eof
    text: str
    line: int
    col: int

    def display(self) -> str:
        """How goyacc names the token in `unexpected X`."""
        names = {"string": "STRING", "range": "RANGE", "ident": "IDENTIFIER", "eof": "$end"}
        names["number"] = "NUMBER"
        return names.get(self.kind, self.text)


def tokenize(query: str) -> list[Token]:
    """Split a LogQL query into tokens with 0-based line and 1-based column."""
    tokens, line, line_start = [], 0, 0
    for match in _TOKEN_RE.finditer(query):
        kind = match.lastgroup or "other"
        if kind != "ws":
            tokens.append(Token(kind, match.group(), line, match.start() - line_start + 1))
        for offset, ch in enumerate(match.group()):
            if ch == "\n":
                line, line_start = line + 1, match.start() + offset + 1
    tokens.append(Token("eof", "", line, len(query) - line_start + 1))
    return tokens


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Prometheus semantics: an absent label is the empty string."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.regex is not None
        found = self.regex.match(actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class LineFilter:
    op: str  # |=, !=, |~, !~
    values: tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...] = ()

    def keep(self, line: str) -> bool:
        """`or`-chained values: positive filters need one hit, negative ones none."""
        if self.op in ("|=", "!="):
            hit = any(value in line for value in self.values)
        else:
            hit = any(regex.search(line) is not None for regex in self.regexes)
        return hit if self.op in ("|=", "|~") else not hit


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    line_filters: tuple[LineFilter, ...]
    label_filters: tuple[Matcher, ...]


@dataclass(frozen=True)
class RangeAgg:
    func: str
    inner: LogQuery
    range_ns: int


@dataclass(frozen=True)
class VectorAgg:
    op: str
    by: tuple[str, ...] | None
    without: tuple[str, ...] | None
    inner: RangeAgg | VectorAgg


Expr = LogQuery | RangeAgg | VectorAgg


class Parser:
    """Recursive-descent parser for the LogQL subset; errors read like Loki's goyacc errors."""

    def __init__(self, query: str) -> None:
        self.tokens = tokenize(query)
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, expecting: Sequence[str] = ()) -> ApiError:
        tok = self.tok
        message = f"parse error at line {tok.line}, col {tok.col}: syntax error: "
        message += f"unexpected {tok.display()}"
        if expecting:
            message += ", expecting " + " or ".join(expecting)
        return ApiError(message)

    def take(self, kind: str, text: str | None = None, expecting: Sequence[str] = ()) -> Token:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            raise self.error(expecting or [text or kind.upper()])
        self.pos += 1
        return tok

    def parse(self) -> Expr:
        expr = self.expr()
        if self.tok.kind != "eof":
            raise self.error()
        return expr

    def expr(self) -> Expr:
        tok = self.tok
        if tok.kind == "op" and tok.text == "{":
            return self.log_query()
        if tok.kind == "ident" and tok.text in VECTOR_OPS:
            return self.vector_agg()
        if tok.kind == "ident" and tok.text in RANGE_FUNCS:
            return self.range_agg()
        raise self.error()

    def vector_agg(self) -> VectorAgg:
        op = self.take("ident").text
        grouping = self.grouping()
        self.take("op", "(")
        inner = self.expr()
        if isinstance(inner, LogQuery):
            raise ApiError("parse error : invalid aggregation " + op + " without unwrap")
        self.take("op", ")", expecting=[")"])
        grouping = grouping or self.grouping()
        by = grouping[1] if grouping and grouping[0] == "by" else None
        without = grouping[1] if grouping and grouping[0] == "without" else None
        return VectorAgg(op, by, without, inner)

    def grouping(self) -> tuple[str, tuple[str, ...]] | None:
        if not (self.tok.kind == "ident" and self.tok.text in ("by", "without")):
            return None
        kind = self.take("ident").text
        self.take("op", "(")
        names: list[str] = []
        while not (self.tok.kind == "op" and self.tok.text == ")"):
            names.append(self.take("ident", expecting=["IDENTIFIER"]).text)
            if self.tok.kind == "op" and self.tok.text == ",":
                self.pos += 1
        self.take("op", ")")
        return kind, tuple(names)

    def range_agg(self) -> RangeAgg:
        func = self.take("ident").text
        self.take("op", "(")
        inner = self.log_query()
        token = self.take("range", expecting=["RANGE"])
        self.take("op", ")", expecting=[")"])
        return RangeAgg(func, inner, self.range_duration(token))

    def range_duration(self, token: Token) -> int:
        text = token.text[1:-1].strip()
        try:
            return parse_prom_duration(text)
        except ApiError:
            return parse_go_duration(text)

    def log_query(self) -> LogQuery:
        matchers = self.selector()
        line_filters: list[LineFilter] = []
        label_filters: list[Matcher] = []
        while self.tok.kind == "op" and self.tok.text in ("|=", "|~", "!=", "!~", "|"):
            if self.tok.text == "|":
                label_filters.append(self.label_filter())
            else:
                line_filters.append(self.line_filter())
        return LogQuery(tuple(matchers), tuple(line_filters), tuple(label_filters))

    def selector(self) -> list[Matcher]:
        self.take("op", "{")
        matchers = [self.matcher()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.pos += 1
            matchers.append(self.matcher())
        self.take("op", "}", expecting=["}", ","])
        if not any(_requires_value(m) for m in matchers):
            raise ApiError(ERR_EMPTY_SELECTOR)
        return matchers

    def matcher(self) -> Matcher:
        name = self.take("ident", expecting=["IDENTIFIER"]).text
        op_tok = self.tok
        if op_tok.kind != "op" or op_tok.text not in ("=", "!=", "=~", "!~"):
            raise self.error(["=", "!=", "=~", "!~"])
        self.pos += 1
        value = self.string()
        regex = compile_re2(value, anchored=True) if op_tok.text in ("=~", "!~") else None
        return Matcher(name, op_tok.text, value, regex)

    def string(self) -> str:
        tok = self.take("string", expecting=["STRING"])
        try:
            return go_unquote(tok.text)
        except ValueError:
            raise ApiError(
                f"parse error at line {tok.line}, col {tok.col}: invalid syntax"
            ) from None

    def line_filter(self) -> LineFilter:
        op = self.take("op").text
        values = [self.string()]
        while self.tok.kind == "ident" and self.tok.text == "or":
            self.pos += 1
            values.append(self.string())
        regexes = tuple(compile_re2(v, anchored=False) for v in values) if "~" in op else ()
        return LineFilter(op, tuple(values), regexes)

    def label_filter(self) -> Matcher:
        self.take("op", "|")
        if self.tok.kind == "ident" and self.tok.text in PARSER_STAGES:
            raise ApiError(f"emulator: the `{self.tok.text}` stage is not emulated")
        return self.matcher()


def _requires_value(matcher: Matcher) -> bool:
    """True when the matcher cannot match the empty string (so it narrows the stream set)."""
    if matcher.op == "=":
        return matcher.value != ""
    if matcher.op == "=~":
        assert matcher.regex is not None
        return matcher.regex.match("") is None
    return False


# --------------------------------------------------------------------------------------------
# Ingestion: streams, service_name and detected_level
# --------------------------------------------------------------------------------------------

EntryIn = tuple[int, str] | tuple[int, str, Mapping[str, str]]


@dataclass
class Stream:
    """Input data: indexed labels, structured metadata for every entry, and (ns, line[, sm])."""

    labels: Mapping[str, str]
    entries: Sequence[EntryIn]
    metadata: Mapping[str, str] = field(default_factory=dict)


def label_string(labels: Mapping[str, str]) -> str:
    """Prometheus text form `{a="b", c="d"}` with sorted names."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def detect_level(line: str) -> str:
    """Loki's `detected_level` (pkg/distributor/field_detection.go), simplified."""
    stripped = line.strip()
    value = None
    if stripped.startswith("{") and stripped.endswith("}"):
        value = _json_level(stripped)
    elif "=" in line:
        for name in LEVEL_FIELDS:
            match = re.search(r"(?:^|\s)" + re.escape(name) + r'=("?)([^"\s]*)\1', line, re.I)
            if match:
                value = match.group(2)
                break
    normalized = _normalize_level(value) if value else None
    return normalized or _level_from_words(line)


def _json_level(line: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    stack = [obj] if isinstance(obj, dict) else []
    while stack:
        current = stack.pop(0)
        for key, value in current.items():
            if isinstance(value, str) and key in LEVEL_FIELDS:
                return value
            if isinstance(value, dict):
                stack.append(value)
    return None


def _normalize_level(value: str) -> str | None:
    table = {"trace": "trace", "trc": "trace", "debug": "debug", "dbg": "debug", "info": "info"}
    table |= {"inf": "info", "information": "info", "warn": "warn", "wrn": "warn"}
    table |= {"warning": "warn", "error": "error", "err": "error", "critical": "critical"}
    table |= {"fatal": "fatal"}
    return table.get(value.lower())


def _level_from_words(line: str) -> str:
    rules = (
        ("info", ("info:", "INFO:", "[info]", "[INFO]", "info", "INFO")),
        ("error", ("err:", "ERR:", "[err]", "[ERR]", "[error]", "[ERROR]")),
        ("warn", ("warn:", "WARN:", "[warn]", "[WARN]", "[warning]", "[WARNING]", "warning")),
        ("warn", ("WARNING",)),
        ("critical", ("critical:", "CRITICAL:", "[critical]", "[CRITICAL]")),
        ("debug", ("debug:", "DEBUG:", "[debug]", "[DEBUG]", "debug", "DEBUG")),
    )
    for level, needles in rules:
        if any(needle in line for needle in needles):
            return level
    return "unknown"


@dataclass
class _Series:
    """One stored stream: indexed labels and its entries sorted by time (push order on ties)."""

    labels: dict[str, str]
    key: str
    ts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    sm: list[dict[str, str]] = field(default_factory=list)
    rank: int = 0

    def extend(self, entries: Iterable[tuple[int, str, dict[str, str]]]) -> None:
        """Add entries, keep time order (stable), drop consecutive duplicate (ts, line)."""
        merged = sorted(
            [*zip(self.ts, self.lines, self.sm, strict=True), *entries], key=lambda e: e[0]
        )
        self.ts, self.lines, self.sm = [], [], []
        for ts, line, sm in merged:
            if self.ts and self.ts[-1] == ts and self.lines[-1] == line:
                continue
            self.ts.append(ts)
            self.lines.append(line)
            self.sm.append(sm)


class Store:
    """All streams of one tenant, indexed by their label string."""

    def __init__(self, *, discover_service_name: bool, discover_log_levels: bool) -> None:
        self.discover_service_name = discover_service_name
        self.discover_log_levels = discover_log_levels
        self.series: dict[str, _Series] = {}
        self.ordered: list[_Series] = []
        self.lock = threading.Lock()

    def push(
        self,
        labels: Mapping[str, str],
        entries: Iterable[EntryIn],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Ingest entries as a Loki 3.x distributor/ingester would."""
        indexed = dict(labels)
        if self.discover_service_name and "service_name" not in indexed:
            found = next((indexed[k] for k in SERVICE_NAME_SOURCES if indexed.get(k)), None)
            indexed["service_name"] = found or "unknown_service"
        prepared = [self._prepare(entry, metadata or {}) for entry in entries]
        with self.lock:
            key = label_string(indexed)
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = _Series(indexed, key)
                self.ordered = sorted(self.series.values(), key=lambda s: s.key)
                for rank, item in enumerate(self.ordered):
                    item.rank = rank
            series.extend(prepared)

    def _prepare(self, entry: EntryIn, metadata: Mapping[str, str]) -> tuple[int, str, dict]:
        ts, line = int(entry[0]), entry[1]
        sm = dict(metadata) | dict(entry[2] if len(entry) > 2 else {})  # type: ignore[misc]
        if self.discover_log_levels and "detected_level" not in sm:
            sm["detected_level"] = detect_level(line)
        return ts, line, dict(sorted(sm.items()))

    def matching(self, matchers: Sequence[Matcher]) -> list[_Series]:
        """Streams whose indexed labels satisfy every matcher, in label order."""
        return [s for s in self.ordered if all(m.matches(s.labels) for m in matchers)]


# --------------------------------------------------------------------------------------------
# Query evaluation
# --------------------------------------------------------------------------------------------


def _entry_passes(query: LogQuery, series: _Series, idx: int) -> bool:
    line = series.lines[idx]
    if not all(f.keep(line) for f in query.line_filters):
        return False
    if query.label_filters:
        merged = series.labels | series.sm[idx]
        return all(m.matches(merged) for m in query.label_filters)
    return True


def _bounds(series: _Series, start: int, end: int, *, end_inclusive: bool = False) -> range:
    lo = bisect.bisect_left(series.ts, start)
    hi = (bisect.bisect_right if end_inclusive else bisect.bisect_left)(series.ts, end)
    return range(lo, hi)


def select_entries(
    store: Store, query: LogQuery, start: int, end: int, limit: int, forward: bool, interval: int
) -> list[tuple[_Series, int]]:
    """The first `limit` entries of [start, end) over all streams, in direction order."""

    def walk(series: _Series) -> Iterator[tuple[int, int, int, _Series]]:
        indices = _bounds(series, start, end)
        for idx in indices if forward else reversed(indices):
            if _entry_passes(query, series, idx):
                ts = series.ts[idx]
                yield (
                    (ts, series.rank, idx, series) if forward else (-ts, -series.rank, -idx, series)
                )

    # readStreams (pkg/logql/engine.go): `interval` thins the merged iterator, and `limit`
    # counts the entries that are kept.
    out: list[tuple[_Series, int]] = []
    last: int | None = None
    for key, _rank, idx, series in heapq.merge(*(walk(s) for s in store.matching(query.matchers))):
        if len(out) >= limit:
            break
        ts = abs(key)
        if interval and last is not None and abs(ts - last) < interval:
            continue
        last = ts
        out.append((series, abs(idx)))
    return out


def streams_result(selected: Sequence[tuple[_Series, int]], categorize: bool) -> list[dict]:
    """Group selected entries into result streams the way Loki encodes them."""
    groups: dict[str, tuple[dict[str, str], list[list[Any]]]] = {}
    for series, idx in selected:
        ts, line, sm = str(series.ts[idx]), series.lines[idx], series.sm[idx]
        labels = series.labels if categorize else series.labels | sm
        key = series.key if categorize else label_string(labels)
        bucket = groups.setdefault(key, (dict(sorted(labels.items())), []))
        if categorize:
            bucket[1].append([ts, line, {"structuredMetadata": sm} if sm else {}])
        else:
            bucket[1].append([ts, line])
    return [{"stream": groups[k][0], "values": groups[k][1]} for k in sorted(groups)]


def _series_points(
    store: Store, agg: RangeAgg, points: Sequence[int]
) -> dict[str, tuple[dict[str, str], dict[int, float]]]:
    """Evaluate a range aggregation at each point t over the window (t - range, t]."""
    out: dict[str, tuple[dict[str, str], dict[int, float]]] = {}
    if not points:
        return out
    first, step = points[0], (points[1] - points[0]) if len(points) > 1 else 1
    keys: dict[tuple, tuple[str, dict[str, str]]] = {}
    seconds = agg.range_ns / NS
    for series in store.matching(agg.inner.matchers):
        for idx in _bounds(series, points[0] - agg.range_ns + 1, points[-1], end_inclusive=True):
            if not _entry_passes(agg.inner, series, idx):
                continue
            ts = series.ts[idx]
            k_lo = max(0, -((first - ts) // step))
            k_hi = min(len(points) - 1, (ts + agg.range_ns - 1 - first) // step)
            if k_lo > k_hi:
                continue
            cache_key = (series.key, tuple(series.sm[idx].items()))
            if cache_key not in keys:
                labels = series.labels | series.sm[idx]
                keys[cache_key] = (label_string(labels), labels)
            key, labels = keys[cache_key]
            acc = out.setdefault(key, (labels, {}))[1]
            weight = len(series.lines[idx].encode()) if agg.func.startswith("bytes") else 1
            for k in range(k_lo, k_hi + 1):
                acc[points[k]] = acc.get(points[k], 0) + weight
    if agg.func in ("rate", "bytes_rate"):
        for _, acc in out.values():
            for t in acc:
                acc[t] /= seconds
    return out


def evaluate_metric(store: Store, expr: RangeAgg | VectorAgg, points: Sequence[int]):
    """Series (labels -> {t: value}) of a metric expression at the given points."""
    if isinstance(expr, RangeAgg):
        return _series_points(store, expr, points)
    inner = evaluate_metric(store, expr.inner, points)
    grouped: dict[str, tuple[dict[str, str], dict[int, list[float]]]] = {}
    for labels, values in inner.values():
        if expr.by is not None:
            kept = {k: v for k, v in labels.items() if k in expr.by and v}
        else:
            kept = {k: v for k, v in labels.items() if k not in (expr.without or ())}
        bucket = grouped.setdefault(label_string(kept), (kept, {}))[1]
        for t, value in values.items():
            bucket.setdefault(t, []).append(value)
    reducers: dict[str, Callable[[list[float]], float]] = {
        "sum": sum, "count": len, "min": min, "max": max, "avg": lambda v: sum(v) / len(v),
    }  # fmt: skip
    reduce = reducers[expr.op]
    return {
        key: (labels, {t: float(reduce(vals)) for t, vals in values.items()})
        for key, (labels, values) in grouped.items()
    }


def format_sample_value(value: float) -> str:
    """Go `strconv.FormatFloat(v, 'f', -1, 64)` for the values Loki sends as strings."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def format_sample_time(t_ns: int) -> int | float:
    """Unix seconds as a JSON number (float when the step is sub-second)."""
    return t_ns // NS if t_ns % NS == 0 else t_ns / NS


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def go_json(obj: Any) -> bytes:
    """Compact JSON with Go's HTML escaping of <, > and & (and U+2028/U+2029)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8", "replace")


_CACHE_NAMES = ("chunk", "index", "result", "statsResult", "volumeResult", "seriesResult")
_CACHE_NAMES += ("labelResult", "instantMetricResult", "logResult", "taskResult")
_CACHE_KEYS = ("entriesFound", "entriesRequested", "entriesStored", "bytesReceived", "bytesSent")
_CACHE_KEYS += ("requests", "downloadTime", "queryLengthServed")
_CHUNK_KEYS = ("headChunkBytes", "headChunkLines", "decompressedBytes", "decompressedLines")
_CHUNK_KEYS += ("compressedBytes", "totalDuplicates", "postFilterLines")
_CHUNK_KEYS += ("headChunkStructuredMetadataBytes", "decompressedStructuredMetadataBytes")
_DATAOBJ_KEYS = ("prePredicateDecompressedRows", "prePredicateDecompressedBytes")
_DATAOBJ_KEYS += ("prePredicateDecompressedStructuredMetadataBytes", "postPredicateRows")
_DATAOBJ_KEYS += ("postPredicateDecompressedBytes", "postPredicateStructuredMetadataBytes")
_DATAOBJ_KEYS += ("postFilterRows", "pagesScanned", "pagesDownloaded", "pagesDownloadedBytes")
_DATAOBJ_KEYS += ("pageBatches", "totalRowsAvailable", "totalPageDownloadTime")
_DATAOBJ_KEYS += ("wireBytesTransferred",)


def _store_stats(lines: int = 0, size: int = 0) -> dict[str, Any]:
    chunk = dict.fromkeys(_CHUNK_KEYS, 0) | {"headChunkBytes": size, "headChunkLines": lines}
    chunk["postFilterLines"] = lines
    return {
        "totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0,
        "queryReferencedStructuredMetadata": False, "queryUsedV2Engine": False, "chunk": chunk,
        "chunkRefsFetchTime": 0, "congestionControlLatency": 0,
        "pipelineWrapperFilteredLines": 0, "dataobj": dict.fromkeys(_DATAOBJ_KEYS, 0),
    }  # fmt: skip


def stats_block(returned: int, lines: int, size: int, seconds: float) -> dict[str, Any]:
    """A `stats` object with the layout of the recorded Loki build (numbers are approximate)."""
    rate = int(size / seconds) if seconds else 0
    summary = {
        "bytesProcessedPerSecond": rate, "linesProcessedPerSecond": int(lines / seconds),
        "totalBytesProcessed": size, "totalLinesProcessed": lines, "execTime": seconds,
        "queueTime": 0.0001, "subqueries": 0, "totalEntriesReturned": returned, "splits": 0,
        "shards": 1, "totalPostFilterLines": returned,
        "totalStructuredMetadataBytesProcessed": 0,
    }  # fmt: skip
    return {
        "summary": summary,
        "querier": {"store": _store_stats(), "querierExecTime": seconds},
        "ingester": {
            "totalReached": 1,
            "totalChunksMatched": 1,
            "totalBatches": 1,
            "totalLinesSent": lines,
            "store": _store_stats(lines, size),
            "recvWaitTime": 0.0,
        },  # fmt: skip
        "cache": {name: dict.fromkeys(_CACHE_KEYS, 0) for name in _CACHE_NAMES},
        "index": {
            "totalChunks": 0,
            "postFilterChunks": 0,
            "shardsDuration": 0,
            "usedBloomFilters": False,
            "totalStreams": 0,
            "chunkRefsLookupTime": 0,
            "bloomFilterTime": 0,
        },  # fmt: skip
    }


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, body: str, **headers: str) -> Reply:
        """A plain-text error body as Loki's WriteError sends it."""
        return cls(status, body.encode(), "text/plain; charset=utf-8", headers)


# --------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestInfo:
    """What a fault rule sees of a request."""

    index: int
    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) answering normally."""

    status: int | None = None  # answer with this status and `body` (text/plain)
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep first, then go on (with the other fields, or normally)
    truncate: bool = False  # announce the full Content-Length, send half the body, close
    malformed: bool = False  # 200 with half the JSON body and a matching Content-Length
    drop: bool = False  # close the connection without any response

    @classmethod
    def http(cls, status: int, body: str = "", **headers: str) -> Fault:
        """An HTTP error such as 429 `too many outstanding requests` or 503."""
        default = {429: "too many outstanding requests", 500: "internal server error"}
        default |= {502: "bad gateway", 503: "service unavailable", 504: "request timed out"}
        return cls(status=status, body=body or default.get(status, "error"), headers=headers)


FaultRule = Callable[[RequestInfo], Fault | None]


def _is_query(info: RequestInfo, path: str | None) -> bool:
    return path is None or info.path == path


def fail_first(n: int, fault: Fault, path: str | None = QUERY_RANGE) -> FaultRule:
    """Apply `fault` to the first `n` requests to `path`."""
    state = {"seen": 0}
    lock = threading.Lock()

    def rule(info: RequestInfo) -> Fault | None:
        if not _is_query(info, path):
            return None
        with lock:
            state["seen"] += 1
            return fault if state["seen"] <= n else None

    return rule


def fail_share(share: float, fault: Fault, seed: int = 0, path: str | None = QUERY_RANGE):
    """Apply `fault` to a fixed pseudo-random share of the requests to `path`."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def rule(info: RequestInfo) -> Fault | None:
        if not _is_query(info, path):
            return None
        with lock:
            return fault if rng.random() < share else None

    return rule


def fail_when(predicate: Callable[[RequestInfo], bool], fault: Fault, times: int | None = None):
    """Apply `fault` to requests the predicate selects, at most `times` times (None: always)."""
    state = {"left": times}
    lock = threading.Lock()

    def rule(info: RequestInfo) -> Fault | None:
        if not predicate(info):
            return None
        with lock:
            if state["left"] is None:
                return fault
            if state["left"] <= 0:
                return None
            state["left"] -= 1
            return fault

    return rule


# --------------------------------------------------------------------------------------------
# The HTTP API
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int = 0


class LokiEmulator:
    """Loki's query API over given streams, on 127.0.0.1; use `with LokiEmulator(...) as loki:`."""

    def __init__(
        self,
        streams: Iterable[Stream] = (),
        *,
        max_entries_limit_per_query: int = 5000,
        max_query_length_ns: int = 721 * HOUR_NS,
        max_query_series: int = 500,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        auth_enabled: bool = False,
        tenant: str = "fake",
        faults: FaultRule | Sequence[FaultRule] = (),
        gzip_responses: bool = True,
        discover_service_name: bool = True,
        discover_log_levels: bool = True,
        not_ready_for_s: float = 0.0,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        tls_client_ca: str | None = None,
    ) -> None:
        self.store = Store(
            discover_service_name=discover_service_name, discover_log_levels=discover_log_levels
        )
        self.empty_store = Store(discover_service_name=False, discover_log_levels=False)
        for stream in streams:
            self.store.push(stream.labels, stream.entries, stream.metadata)
        self.max_entries = max_entries_limit_per_query
        self.max_query_length_ns = max_query_length_ns
        self.max_query_series = max_query_series
        self.basic_auth = basic_auth
        self.bearer_token = bearer_token
        self.auth_enabled = auth_enabled
        self.tenant = tenant
        self.faults = [faults] if callable(faults) else list(faults)
        self.gzip_responses = gzip_responses
        self.not_ready_for_s = not_ready_for_s
        self.tls = (tls_cert, tls_key, tls_client_ca)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._started = 0.0

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> LokiEmulator:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        cert, key, client_ca = self.tls
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            if client_ca:
                context.load_verify_locations(client_ca)
                context.verify_mode = ssl.CERT_REQUIRED
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._started = time.monotonic()
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LokiEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:41234`."""
        assert self._server is not None, "start() the emulator first"
        scheme = "https" if self.tls[0] else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def push(
        self,
        labels: Mapping[str, str],
        entries: Iterable[EntryIn],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Add entries to a stream (as the push API would)."""
        self.store.push(labels, entries, metadata)

    def query_requests(self) -> list[RecordedRequest]:
        """The recorded requests to /loki/api/v1/query_range."""
        with self._lock:
            return [r for r in self.requests if r.path == QUERY_RANGE]

    # dispatch -------------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> int:
        with self._lock:
            self.requests.append(request)
            return len(self.requests) - 1

    def fault_for(self, info: RequestInfo) -> Fault | None:
        for rule in self.faults:
            fault = rule(info)
            if fault is not None:
                return fault
        return None

    def check_auth(self, headers: Mapping[str, str]) -> Reply | None:
        """The gateway's basic/bearer check, then Loki's own tenant check."""
        given = headers.get("authorization", "")
        allowed = []
        if self.basic_auth:
            token = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            allowed.append(f"Basic {token}")
        if self.bearer_token:
            allowed.append(f"Bearer {self.bearer_token}")
        if allowed and given not in allowed:
            reply = Reply(401, NGINX_401.encode(), "text/html")
            reply.headers["WWW-Authenticate"] = 'Basic realm="Loki"'
            return reply
        if self.auth_enabled and not headers.get("x-scope-orgid"):
            return Reply.text(401, "no org id\n")
        return None

    def tenant_store(self, headers: Mapping[str, str]) -> Store:
        if not self.auth_enabled:
            return self.store
        return self.store if headers.get("x-scope-orgid") == self.tenant else self.empty_store

    def handle(self, method: str, path: str, params: dict[str, str], headers, body) -> Reply:
        """Route one request; Loki errors become plain-text replies."""
        denied = self.check_auth(headers)
        if denied is not None:
            return denied
        store = self.tenant_store(headers)
        routes: dict[str, Callable[[], Reply]] = {
            "/ready": self.ready,
            QUERY_RANGE: lambda: self.query_range(store, params, headers),
            "/loki/api/v1/query": lambda: self.instant(store, params),
            "/loki/api/v1/labels": lambda: self.labels(store, params, None),
            "/loki/api/v1/push": lambda: self.push_json(store, body),
        }
        value_match = re.fullmatch(r"/loki/api/v1/label/([^/]+)/values", path)
        try:
            if value_match:
                return self.labels(store, params, value_match.group(1))
            if path in routes:
                if method not in ("GET", "POST"):
                    return Reply.text(405, "")
                return routes[path]()
            return Reply.text(404, "404 page not found\n")
        except ApiError as exc:
            return Reply.text(exc.status, exc.body)

    # endpoints ------------------------------------------------------------------------------

    def ready(self) -> Reply:
        left = self.not_ready_for_s - (time.monotonic() - self._started)
        if left > 0:
            message = f"Ingester not ready: waiting for {math.ceil(left)}s after being ready\n"
            return Reply.text(503, message)
        return Reply.text(200, "ready\n")

    def range_params(self, params: Mapping[str, str]) -> dict[str, Any]:
        """ParseRangeQuery of pkg/loghttp/query.go, in its order of checks."""
        now = time.time_ns()
        since = DEFAULT_SINCE_NS
        if params.get("since"):
            try:
                since = parse_prom_duration(params["since"])
            except ApiError as exc:
                raise ApiError(f"could not parse 'since' parameter: {exc.body}") from None
        try:
            end = parse_timestamp(params.get("end", ""), now)
        except ApiError as exc:
            raise ApiError(f"could not parse 'end' parameter: {exc.body}") from None
        try:
            start = parse_timestamp(params.get("start", ""), min(end, now) - since)
        except ApiError as exc:
            raise ApiError(f"could not parse 'start' parameter: {exc.body}") from None
        if end < start:
            raise ApiError(ERR_END_BEFORE_START)
        limit = _go_parse_int(params["limit"], "Atoi") if params.get("limit") else 100
        if limit <= 0:
            raise ApiError("limit must be a positive value")
        direction = params.get("direction", "") or "backward"
        if direction.upper() not in ("FORWARD", "BACKWARD"):
            raise ApiError(f"invalid direction '{direction}'")
        if params.get("step"):
            step = parse_seconds_or_duration(params["step"])
        else:
            step = max(math.floor((end - start) / NS / 250), 1) * NS
        if step <= 0:
            raise ApiError(ERR_STEP_ZERO)
        if (end - start) // step > 11000:
            raise ApiError(ERR_STEP_TOO_SMALL)
        interval = parse_seconds_or_duration(params["interval"]) if params.get("interval") else 0
        if interval < 0:
            raise ApiError("interval must be >= 0")
        forward = direction.upper() == "FORWARD"
        return {
            "start": start, "end": end, "limit": limit, "forward": forward, "step": step,
            "interval": interval,
        }  # fmt: skip

    def query_range(self, store: Store, params: Mapping[str, str], headers) -> Reply:
        started = time.monotonic()
        p = self.range_params(params)
        expr = Parser(params.get("query", "")).parse()
        if isinstance(expr, LogQuery) and p["limit"] > self.max_entries:
            raise ApiError(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                f"({p['limit']} > {self.max_entries})"
            )
        self.check_length(p["end"] - p["start"])
        if isinstance(expr, LogQuery):
            return self.log_range(store, expr, p, headers, started)
        return self.metric_range(store, expr, p, started)

    def check_length(self, length: int) -> None:
        if self.max_query_length_ns and length > self.max_query_length_ns:
            raise ApiError(
                f"the query time range exceeds the limit (query length: "
                f"{go_duration_string(length)}, limit: "
                f"{prom_duration_string(self.max_query_length_ns)})"
            )

    def log_range(self, store, expr: LogQuery, p: dict, headers, started: float) -> Reply:
        selected = select_entries(
            store, expr, p["start"], p["end"], p["limit"], p["forward"], p["interval"]
        )
        flags = [f.strip() for f in headers.get("x-loki-response-encoding-flags", "").split(",")]
        categorize = "categorize-labels" in flags
        data: dict[str, Any] = {"resultType": "streams"}
        if categorize:
            data["encodingFlags"] = ["categorize-labels"]
        data["result"] = streams_result(selected, categorize)
        size = sum(len(s.lines[i]) for s, i in selected)
        data["stats"] = stats_block(len(selected), len(selected), size, _elapsed(started))
        return Reply(200, go_json({"status": "success", "data": data}))

    def metric_range(self, store, expr, p: dict, started: float) -> Reply:
        step = p["step"]
        start = p["start"] - p["start"] % step
        end = p["end"] + (-p["end"] % step)
        points = list(range(start, end + 1, step)) if start < end else []
        series = evaluate_metric(store, expr, points)
        self.check_series(len(series))
        result = [
            {
                "metric": labels,
                "values": [
                    [format_sample_time(t), format_sample_value(v)] for t, v in sorted(vals.items())
                ],
            }
            for key, (labels, vals) in sorted(series.items())
            if vals
        ]
        data = {"resultType": "matrix", "result": result}
        data["stats"] = stats_block(len(result), 0, 0, _elapsed(started))
        return Reply(200, go_json({"status": "success", "data": data}))

    def check_series(self, count: int) -> None:
        if count > self.max_query_series:
            raise ApiError(
                f"maximum number of series ({self.max_query_series}) reached for a single query; "
                "consider reducing query cardinality by adding more specific stream selectors, "
                "reducing the time range, or aggregating results with functions like sum(), "
                "count() or topk()"
            )

    def instant(self, store: Store, params: Mapping[str, str]) -> Reply:
        started = time.monotonic()
        limit = _go_parse_int(params["limit"], "Atoi") if params.get("limit") else 100
        if limit <= 0:
            raise ApiError("limit must be a positive value")
        at = parse_timestamp(params.get("time", ""), time.time_ns())
        expr = Parser(params.get("query", "")).parse()
        if isinstance(expr, LogQuery):
            raise ApiError(ERR_INSTANT_LOG)
        series = evaluate_metric(store, expr, [at])
        self.check_series(len(series))
        result = [
            {"metric": labels, "value": [format_sample_time(at), format_sample_value(vals[at])]}
            for key, (labels, vals) in sorted(series.items())
            if at in vals
        ]
        data = {"resultType": "vector", "result": result}
        data["stats"] = stats_block(len(result), 0, 0, _elapsed(started))
        return Reply(200, go_json({"status": "success", "data": data}))

    def labels(self, store: Store, params: Mapping[str, str], name: str | None) -> Reply:
        now = time.time_ns()
        end = parse_timestamp(params.get("end", ""), now)
        since = parse_prom_duration(params["since"]) if params.get("since") else DEFAULT_SINCE_NS
        start = parse_timestamp(params.get("start", ""), min(end, now) - since)
        matchers: Sequence[Matcher] = ()
        if params.get("query"):
            expr = Parser(params["query"]).parse()
            matchers = expr.matchers if isinstance(expr, LogQuery) else ()
        found: set[str] = set()
        for series in store.matching(matchers):
            if _bounds(series, start, end, end_inclusive=True):
                if name is None:
                    found.update(series.labels)
                elif name in series.labels:
                    found.add(series.labels[name])
        body: dict[str, Any] = {"status": "success"}
        if found:
            body["data"] = sorted(found)
        return Reply(200, go_json(body))

    def push_json(self, store: Store, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"{}")
            for stream in payload.get("streams", []):
                entries = []
                for value in stream.get("values", []):
                    if not isinstance(value[0], str):
                        raise ValueError("timestamp must be a string")
                    entries.append((int(value[0]), value[1], *value[2:3]))
                store.push(stream.get("stream", {}), entries)
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ApiError(f"loghttp.PushRequest: {exc}\n") from None
        return Reply(204, b"", "")


def _elapsed(started: float) -> float:
    return round(max(time.monotonic() - started, 1e-6), 6)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True
    emulator: LokiEmulator

    def handle_error(self, request, client_address) -> None:  # quiet on client disconnects
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one segment; flushed after each request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self.serve()

    def do_POST(self) -> None:
        self.serve()

    def do_DELETE(self) -> None:
        self.serve()

    def serve(self) -> None:
        emulator = self.server.emulator
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        params = _form(split.query, body, self.headers.get("Content-Type", ""))
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = RecordedRequest(self.command, split.path, params, headers)
        index = emulator.record(record)
        info = RequestInfo(index, self.command, split.path, params, headers)
        fault = emulator.fault_for(info)
        if fault and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault and fault.drop:
            record.status = -1
            self.close_connection = True
            return
        if fault and fault.status:
            reply = Reply.text(fault.status, fault.body, **fault.headers)
        else:
            reply = emulator.handle(self.command, split.path, params, headers, body)
        record.status = reply.status
        self.send(reply, headers.get("accept-encoding", ""), fault)

    def send(self, reply: Reply, accept_encoding: str, fault: Fault | None) -> None:
        body, encoding = reply.body, None
        json_ok = reply.status == 200 and reply.content_type.startswith("application/json")
        if self.server.emulator.gzip_responses and json_ok and "gzip" in accept_encoding:
            body, encoding = gzip.compress(body, 1), "gzip"
        announced = len(body)
        if fault and fault.malformed:
            body = body[: len(body) // 2]
            announced = len(body)
        elif fault and fault.truncate:
            body = body[: len(body) // 2]
        self.send_response_only(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Vary", "Accept-Encoding")
        if reply.content_type.startswith("text/plain"):
            self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            pass
        if fault and fault.truncate:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


def _form(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Go's r.Form: POST form values first, then URL query values; first value wins."""
    params: dict[str, str] = {}
    sources = []
    if content_type.startswith("application/x-www-form-urlencoded"):
        sources.append(body.decode())
    sources.append(query)
    for source in sources:
        for key, values in parse_qs(source, keep_blank_values=True).items():
            params.setdefault(key, values[0])
    return params


def streams_from_push(payload: Mapping[str, Any]) -> list[Stream]:
    """Streams from a push request body (`{"streams":[{"stream":{..},"values":[..]}]}`)."""
    out = []
    for item in payload["streams"]:
        entries: list[EntryIn] = []
        for value in item["values"]:
            ts, line = int(value[0]), value[1]
            entries.append((ts, line, value[2]) if len(value) > 2 else (ts, line))
        out.append(Stream(item["stream"], entries))
    return out


# --------------------------------------------------------------------------------------------
# Synthetic VolSync mover data (formats.md §3.2, §8) for tests and benchmarks
# --------------------------------------------------------------------------------------------

_NAMESPACES = ("media", "home", "databases", "apps")


def mover_run_lines(
    rs: str, namespace: str, *, failed: bool, progress: int
) -> list[tuple[str, str]]:
    """(stream, line) pairs of one Kopia mover backup run, as the fork's entry.sh prints them."""
    ident = f"{rs}@{namespace}"
    out = [("stdout", "Starting kopia mover container"), ("stdout", "")]
    out += [("stdout", "INFO: VolSync kopia container version: v0.14.0")]
    out += [
        ("stdout", "INFO: Arguments: backup"),
        ("stdout", "INFO: Setting cache directory: /cache"),
    ]
    out += [("stdout", "INFO: Creating cache and log directories...")]
    out += [("stdout", "INFO: Cache and log directories created successfully")]
    out += [("stdout", "=== DEBUG: Environment Setup ==="), ("stdout", "HOME: /")]
    if failed:
        out += [
            ("stderr", "whoami: cannot find name for user ID 1000"),
            ("stdout", "Current user: "),
        ]
    else:
        out += [("stdout", "Current user: kopia")]
    out += [("stdout", "Current working directory: /"), ("stdout", "Cache directory writable: Yes")]
    for var in ("KOPIA_REPOSITORY", "KOPIA_PASSWORD", "AWS_ACCESS_KEY_ID", "KOPIA_S3_BUCKET"):
        out.append(("stdout", f"{var}: [SET]"))
    out += [("stdout", "=== END DEBUG ==="), ("stdout", "INFO: === Checking Kopia Version ===")]
    out += [("stdout", "0.22.3 build: 5aa12a71 from: kopia/kopia")]
    out += [
        ("stdout", "TIMING: Kopia version check took 0 seconds"),
        ("stdout", "====================="),
    ]
    out += [("stdout", "Testing mandatory env variables")]
    out += [("stdout", "INFO: === Starting kopia operations ===")]
    out += [("stdout", "INFO: Operation mode: command-based")]
    out += [("stdout", "INFO: === Starting repository connection process ===")]
    out += [("stdout", "INFO: Checking existing repository connection status...")]
    out += [("stdout", "TIMING: Repository status check took 1 seconds (not connected)")]
    out += [
        ("stdout", "Connecting to S3 repository"),
        ("stdout", "Executing connection command..."),
    ]
    if failed:
        out += [("stderr", "Cannot determine current user: user: unknown userid 1000")]
    out += [("stdout", "Connected to repository.")]
    out += [("stdout", f"INFO: Setting client identity to '{ident}'")]
    out += [("stdout", f"INFO:  Client identity set successfully to {ident}")]
    out += [("stdout", "TIMING: Total repository connection process took 3 seconds")]
    out += [("stdout", "INFO: === Starting backup operation ===")]
    out += [("stdout", f"INFO: Creating snapshot for {ident}:/data")]
    out += [("stdout", "INFO: Starting kopia snapshot creation...")]
    out += [("stdout", f"Snapshotting {ident}:/data ...")]
    for step in range(progress):
        pct = 100.0 * (step + 1) / progress
        out.append(
            ("stdout", f" | 0 hashing, {step * 13} hashed (1.{step % 10} GB), 40211 cached "
             f"(18.4 GB), uploaded {step * 0.03:.2f} GB, estimated 20.5 GB ({pct:.1f}%) 1s left")
        )  # fmt: skip
    if failed:
        out += [
            ("stderr", "error creating snapshot: unable to get local user: unknown userid 1000")
        ]
        out += [("stdout", "TIMING: Snapshot creation failed after 63 seconds")]
        out += [("stdout", ""), ("stdout", "ERROR: Failed to create snapshot")]
    else:
        out += [("stdout", "Created snapshot with root k5f3d0c2 and ID 7c9e4b1d in 1m2s")]
        out += [("stdout", "TIMING: Snapshot creation completed in 63 seconds")]
        out += [("stdout", "INFO: Snapshot created successfully")]
        out += [("stdout", "=== Applying retention policy ===")]
        out += [("stdout", "Retention policy applied successfully")]
    out += [
        ("stdout", "INFO: === OPERATION SUMMARY ==="),
        ("stdout", "INFO: OPERATION_TYPE: unknown"),
    ]
    out += [("stdout", f"INFO: OPERATION_RESULT: {'FAILURE' if failed else 'SUCCESS'}")]
    out += [("stdout", f"INFO: EXIT_CODE: {1 if failed else 0}"), ("stdout", "INFO: === Done ===")]
    return out


def mover_streams(
    *,
    apps: int = 4,
    runs: int = 3,
    start_ns: int,
    every_ns: int = HOUR_NS,
    collector: str = "promtail",
    failure_share: float = 0.2,
    progress: tuple[int, int] = (5, 30),
    seed: int = 7,
) -> list[Stream]:
    """One backup pod per app and run, labelled as Promtail or Alloy would label it."""
    rng = random.Random(seed)
    streams: list[Stream] = []
    for app in range(apps):
        rs, namespace = f"app{app:02d}", _NAMESPACES[app % len(_NAMESPACES)]
        for run in range(runs):
            pod = f"volsync-src-{rs}-" + "".join(rng.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
            failed = rng.random() < failure_share
            lines = mover_run_lines(rs, namespace, failed=failed, progress=rng.randint(*progress))
            ts = start_ns + run * every_ns + app * 7 * NS + rng.randint(0, 5 * NS)
            by_stream: dict[str, list[EntryIn]] = {}
            for stream, line in lines:
                ts += rng.randint(1_000, 900_000_000)
                by_stream.setdefault(stream, []).append((ts, line))
            streams += _labelled(collector, namespace, rs, pod, by_stream)
    return streams


def _labelled(collector: str, namespace: str, rs: str, pod: str, by_stream) -> list[Stream]:
    out = []
    for stream, entries in by_stream.items():
        if collector == "alloy":  # pod and stream become structured metadata (formats.md §6.4)
            labels = {"namespace": namespace, "container": "kopia", "job": f"{namespace}/kopia"}
            labels["service_name"] = pod
            out.append(Stream(labels, entries, {"pod": pod, "stream": stream}))
        else:
            labels = {"namespace": namespace, "pod": pod, "container": "kopia", "stream": stream}
            labels |= {"app": f"volsync-src-{rs}", "job": f"{namespace}/volsync-src-{rs}"}
            labels["node_name"] = "node-1"
            out.append(Stream(labels, entries))
    return out
