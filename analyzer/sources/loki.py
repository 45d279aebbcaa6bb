"""Grafana Loki as a source: mover pod lines from `query_range`, paged without losing a line.

Configured like logcli (same `LOKI_*` variables, basic or bearer auth, `X-Scope-OrgID`, TLS).
The range is cut into sub-ranges fetched in parallel; each is paged logcli-style (next page starts
at the last timestamp seen, de-duplicated on stream + timestamp + line) with the limit grown when a
whole page shares one timestamp. In "pushdown" mode the caller's regexes go to Loki as one line
filter and per-pod activity comes from a `count_over_time` metric query instead of every line.

Regexes run in Loki, so they are RE2: no look-arounds or back-references; named groups
`(?P<name>...)` are accepted by RE2 as in Python.
"""

from __future__ import annotations

import math
import ssl
import sys
import threading
from collections import Counter
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import polars as pl
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from tqdm import tqdm

from ..events import EVENTS_SCHEMA, UTC_NS
from .loki_base import (
    DEFAULT_SELECTOR,
    LokiAuthError,
    LokiConfigError,
    LokiError,
    LokiQueryError,
)

__all__ = ["DEFAULT_SELECTOR", "LokiAuthError", "LokiConfigError", "LokiError", "LokiQueryError"]

DEFAULT_ADDR = "http://localhost:3100"
QUERY_RANGE_PATH = "/loki/api/v1/query_range"
ENCODING_FLAGS_HEADER = "X-Loki-Response-Encoding-Flags"
CATEGORIZE_LABELS = "categorize-labels"
USER_AGENT = "kopia-postmortem-loki/0.1"

#: Default first backoff (seconds) between retries; `LokiConfig.backoff_base_s` overrides it.
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
#: Sub-ranges per worker: more than one so a burst of activity does not idle the other workers.
SPLITS_PER_WORKER = 4
#: Longest sub-range asked in one query (Loki's default max_query_length is 721h).
MAX_PIECE_NS = 720 * 3600 * 10**9
#: Most points asked in one metric query (Loki refuses more than 11,000 per series).
MAX_POINTS = 10_000
#: URL-encoded parameters longer than this are sent as a POST form instead of a GET query.
MAX_GET_PARAMS = 6000

NS = 1_000_000_000
MINUTE_NS = 60 * NS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: `lines`: one row per log line, sorted by ts, source, line_no; the events table's columns
#: that Loki knows (the rest is filled downstream).
LINES_SCHEMA: dict[str, pl.DataType] = {
    name: EVENTS_SCHEMA[name]
    for name in ("ts", "namespace", "pod", "container", "stream", "source", "line_no", "message")
}
#: `activity`: one row per (namespace, pod, container). `per_minute` holds Loki-style windows:
#: `lines` counts the lines with window_end - 60s < ts <= window_end (as `count_over_time[1m]`).
ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "namespace": pl.String(),
    "pod": pl.String(),
    "container": pl.String(),
    "first_ts": UTC_NS,
    "last_ts": UTC_NS,
    "lines": pl.Int64(),
    "per_minute": pl.List(pl.Struct({"window_end": UTC_NS, "lines": pl.Int64()})),
}
#: Labels the activity query groups by: Promtail/Alloy names first, OTLP names, then service_name.
ACTIVITY_LABELS = ("namespace", "pod", "container", "k8s_namespace_name", "k8s_pod_name")
ACTIVITY_LABELS += ("k8s_container_name", "service_name")

_ENV = {
    "addr": "LOKI_ADDR",
    "username": "LOKI_USERNAME",
    "password": "LOKI_PASSWORD",
    "bearer_token": "LOKI_BEARER_TOKEN",
    "bearer_token_file": "LOKI_BEARER_TOKEN_FILE",
    "org_id": "LOKI_ORG_ID",
    "ca_cert_path": "LOKI_CA_CERT_PATH",
    "client_cert_path": "LOKI_CLIENT_CERT_PATH",
    "client_key_path": "LOKI_CLIENT_KEY_PATH",
    "tls_skip_verify": "LOKI_TLS_SKIP_VERIFY",
}
_SECRET_FIELDS = ("username", "password", "bearer_token")
_RETRY_STATUSES = {408, 425, 429, 499}

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


# The public errors live in `analyzer.errors` (importable without httpx).


class _Transient(LokiError):
    """A failure worth retrying: 429, 5xx, timeouts, dropped connections, malformed bodies."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _LimitTooHigh(LokiError):
    """HTTP 400 `max entries limit per query exceeded`; carries the server's maximum."""

    def __init__(self, maximum: int) -> None:
        super().__init__(f"the server allows at most {maximum} entries per query")
        self.maximum = maximum


class _RangeTooBig(LokiError):
    """HTTP 400 that a shorter time range avoids (too many series, query too long)."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class LokiConfig:
    """Where and how to reach Loki, like logcli's flags; see `from_env` for the variables."""

    addr: str
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    org_id: str | None = None
    ca_cert_path: str | None = None
    client_cert_path: str | None = None
    client_key_path: str | None = None
    tls_skip_verify: bool = False
    timeout_s: float = 30.0
    backoff_base_s: float = BACKOFF_BASE_S
    backoff_max_s: float = BACKOFF_MAX_S

    def __post_init__(self) -> None:
        if urlsplit(self.addr).scheme not in ("http", "https"):
            shown = self.safe_addr.rsplit("@", 1)[-1]  # no scheme: user:password@ is still there
            raise LokiConfigError(
                f"--loki (or LOKI_ADDR): {shown!r} does not start with http:// or https://"
            )
        if self.bearer_token and self.bearer_token_file:
            raise LokiConfigError(
                "at most one of --bearer-token and --bearer-token-file may be given "
                "(flags or LOKI_BEARER_TOKEN, LOKI_BEARER_TOKEN_FILE)"
            )
        if (self.username or self.password) and (self.bearer_token or self.bearer_token_file):
            raise LokiConfigError(
                "at most one of basic auth (--username/--password) and bearer auth "
                "(--bearer-token, --bearer-token-file) may be given, as flags or LOKI_* variables"
            )
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> LokiConfig:
        """Read logcli's LOKI_* variables from `environ`; overrides that are not None win."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown LokiConfig field(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {"addr": DEFAULT_ADDR}
        for name, variable in _ENV.items():
            if environ.get(variable):
                values[name] = environ[variable]
        if "tls_skip_verify" in values:
            values["tls_skip_verify"] = _parse_bool(values["tls_skip_verify"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def safe_addr(self) -> str:
        """The address with any user:password@ part removed."""
        parts = urlsplit(self.addr)
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                shown.append(f"{f.name}=<redacted>")
            elif f.name == "addr":
                shown.append(f"addr={self.safe_addr!r}")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"LokiConfig({', '.join(shown)})"


def _parse_bool(text: str) -> bool:
    if text.strip().lower() in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text.strip().lower() in ("", "0", "false", "f", "no", "n", "off"):
        return False
    raise LokiConfigError(f"LOKI_TLS_SKIP_VERIFY must be true or false, not {text!r}")


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class LokiResult:
    """What `fetch` got: lines, per-pod activity, traffic counters, gaps and the LogQL sent.

    `lines` follows LINES_SCHEMA; in pushdown mode it holds only the matching lines and line_no
    counts among them. `activity` follows ACTIVITY_SCHEMA: in full mode first_ts/last_ts are the
    first and last line; in pushdown mode they are the bounds of the first and last non-empty
    minute window (the first line is after first_ts, the last at or before last_ts), and the
    windows of the first/last minute may count lines just outside [start, end) when those are not
    minute-aligned. `lines` and `per_minute` agree between the modes.
    """

    lines: pl.DataFrame
    activity: pl.DataFrame
    mode: str
    requests: int
    bytes_received: int  # response body bytes as received (compressed when Loki gzips)
    lines_received: int  # log entries in all responses, page overlaps included
    gaps: list[dict]
    query: str
    activity_query: str = ""  # pushdown mode: the metric query behind `activity`


# --------------------------------------------------------------------------------------------
# LogQL
# --------------------------------------------------------------------------------------------


def logql_quote(text: str) -> str:
    """Quote text as a LogQL double-quoted string (Go syntax: `\\`, `"` and controls escaped)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def combine_filters(patterns: Sequence[str]) -> str:
    """One RE2 alternation `(?:a)|(?:b)` that matches a line when any pattern does."""
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def build_log_query(selector: str, line_filters: Sequence[str] = ()) -> str:
    """The log query: the selector, plus one `|~` line filter when patterns are given."""
    if not line_filters:
        return selector
    return f"{selector} |~ {logql_quote(combine_filters(line_filters))}"


def build_activity_query(selector: str) -> str:
    """Lines per pod and minute: `sum by (...) (count_over_time({selector} [1m]))`."""
    return f"sum by ({', '.join(ACTIVITY_LABELS)}) (count_over_time({selector} [1m]))"


def render_selector(labels: Mapping[str, str]) -> str:
    """Labels as a LogQL selector with sorted names: `{container="kopia", namespace="media"}`."""
    return "{" + ", ".join(f"{k}={logql_quote(labels[k])}" for k in sorted(labels)) + "}"


# --------------------------------------------------------------------------------------------
# Stream identity
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StreamInfo:
    source: str
    namespace: str | None
    pod: str | None
    container: str | None
    stream: str | None


_IDENTITY_KEYS = ("pod", "k8s_pod_name", "namespace", "k8s_namespace_name", "container")
_IDENTITY_KEYS += ("k8s_container_name", "stream")
# Structured metadata Loki adds itself; it splits streams when labels are not categorized.
_LOKI_ADDED = ("detected_level",)


def _first(*candidates: tuple[Mapping[str, str], str]) -> tuple[str | None, str | None]:
    """The first non-empty value among (mapping, key) pairs, and its key."""
    for mapping, key in candidates:
        if mapping.get(key):
            return mapping[key], key
    return None, None


def stream_identity(labels: Mapping[str, str], metadata: Mapping[str, str]) -> _StreamInfo:
    """namespace/pod/container/stream of an entry; pod from label, metadata, else service_name."""
    pod, pod_key = _first(
        (labels, "pod"), (metadata, "pod"), (metadata, "k8s_pod_name"),
        (labels, "k8s_pod_name"), (labels, "service_name"),
    )  # fmt: skip
    namespace, _ = _first(
        (labels, "namespace"), (labels, "k8s_namespace_name"),
        (metadata, "namespace"), (metadata, "k8s_namespace_name"),
    )  # fmt: skip
    container, _ = _first(
        (labels, "container"), (labels, "k8s_container_name"),
        (metadata, "container"), (metadata, "k8s_container_name"),
    )  # fmt: skip
    stream, _ = _first((labels, "stream"), (metadata, "stream"))
    source = render_selector(labels)
    if pod and pod_key and pod_key not in labels:
        source += f" | {pod_key}={logql_quote(pod)}"  # pod lives in structured metadata (Alloy)
    return _StreamInfo(source, namespace, pod, container, stream)


class _Identities:
    """Caches stream identities per (labels, identity-relevant structured metadata)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, _StreamInfo] = {}
        self._lock = threading.Lock()

    def get(self, labels: Mapping[str, str], metadata: Mapping[str, str] | None) -> _StreamInfo:
        meta = {k: metadata[k] for k in _IDENTITY_KEYS if metadata and k in metadata}
        key = (tuple(sorted(labels.items())), tuple(sorted(meta.items())))
        info = self._cache.get(key)
        if info is None:
            info = stream_identity(labels, meta)
            with self._lock:
                self._cache[key] = info
        return info


Entry = tuple[int, _StreamInfo, str]


def parse_streams(payload: Any, identities: _Identities, backward: bool) -> list[Entry]:
    """Entries of a `streams` response merged over streams, in direction order (stable)."""
    data = payload["data"]
    if data["resultType"] != "streams":
        raise _Transient(f"unexpected resultType {data['resultType']!r}")
    categorized = CATEGORIZE_LABELS in (data.get("encodingFlags") or ())
    entries: list[Entry] = []
    for item in data["result"]:
        labels = item["stream"]
        if not categorized:  # old Loki: metadata merged into labels; drop what Loki added
            labels = {k: v for k, v in labels.items() if k not in _LOKI_ADDED}
        base = identities.get(labels, None)
        for value in item["values"]:
            meta = value[2].get("structuredMetadata") if len(value) > 2 and value[2] else None
            info = identities.get(labels, meta) if meta and _has_identity(meta) else base
            entries.append((int(value[0]), info, value[1]))
    entries.sort(key=itemgetter(0), reverse=backward)
    return entries


def _has_identity(metadata: Mapping[str, str]) -> bool:
    return any(key in metadata for key in _IDENTITY_KEYS)


# --------------------------------------------------------------------------------------------
# HTTP session: auth, TLS, retries, counters
# --------------------------------------------------------------------------------------------


class _BearerFileAuth(httpx.Auth):
    """`Authorization: Bearer <token>` with the token read from a file on every request."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.last_token = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                self.last_token = handle.read().strip()
        except OSError as exc:
            message = f"cannot read the bearer token file {self.path}: {exc.strerror}"
            raise LokiAuthError(message) from None
        request.headers["Authorization"] = f"Bearer {self.last_token}"
        yield request


class _BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>` with a fixed token."""

    def __init__(self, token: str) -> None:
        self.last_token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.last_token}"
        yield request


#: TLS file fields: what the file is and the flag that names it.
_TLS_FILES = {
    "ca_cert_path": ("CA bundle", "--ca-cert"),
    "client_cert_path": ("client certificate", "--cert"),
    "client_key_path": ("client key", "--key"),
}


def _tls_verify(config: LokiConfig) -> ssl.SSLContext | bool:
    """True (system CAs) unless a CA, a client certificate or skip-verify is configured."""
    if not (config.ca_cert_path or config.client_cert_path or config.tls_skip_verify):
        return True
    named = {name: getattr(config, name) for name in _TLS_FILES if getattr(config, name)}
    if not config.client_cert_path:
        named.pop("client_key_path", None)  # a key without a certificate is not loaded
    for name, path in named.items():  # ssl's own errors do not say which file
        what, flag = _TLS_FILES[name]
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise LokiConfigError(
                f"{path}: cannot read the {what} for Loki ({flag}, {_ENV[name]}): "
                f"{exc.strerror or exc}"
            ) from None
    try:
        context = ssl.create_default_context(cafile=config.ca_cert_path)
        if config.client_cert_path:
            context.load_cert_chain(config.client_cert_path, config.client_key_path)
    except (OSError, ssl.SSLError) as exc:
        files = ", ".join(f"{_TLS_FILES[name][1]} {path}" for name, path in named.items())
        raise LokiConfigError(f"cannot load the TLS files for Loki ({files}): {exc}") from None
    if config.tls_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _auth(config: LokiConfig) -> httpx.Auth | None:
    parts = urlsplit(config.addr)
    username = config.username or (parts.username if parts.username else None)
    password = config.password or (parts.password if parts.password else None)
    if config.bearer_token_file:
        return _BearerFileAuth(config.bearer_token_file)
    if config.bearer_token:
        return _BearerAuth(config.bearer_token)
    if username and password:  # logcli sends basic auth only when both are set
        return httpx.BasicAuth(username, password)
    return None


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Session:
    """One httpx client shared by the worker threads, with retries and traffic counters."""

    def __init__(self, config: LokiConfig, max_retries: int) -> None:
        self.config = config
        self.max_retries = max_retries
        self.auth = _auth(config)
        self.client = httpx.Client(
            base_url=config.safe_addr.rstrip("/"),
            auth=self.auth,
            verify=_tls_verify(config),
            timeout=httpx.Timeout(config.timeout_s),
            headers=self._headers(),
        )
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes_received = 0
        self.lines_received = 0
        self.server_max_limit: int | None = None
        self.cancelled = threading.Event()
        self._wait = wait_exponential_jitter(
            multiplier=config.backoff_base_s, max=config.backoff_max_s, jitter=config.backoff_base_s
        )

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, ENCODING_FLAGS_HEADER: CATEGORIZE_LABELS}
        if self.config.org_id:
            headers["X-Scope-OrgID"] = self.config.org_id
        return headers

    def close(self) -> None:
        """Stop retries (sleeping ones wake up) and close the connections."""
        self.cancelled.set()
        self.client.close()

    def redact(self, text: str) -> str:
        """Replace every configured credential value in `text`."""
        parts = urlsplit(self.config.addr)
        secrets = [getattr(self.config, name) for name in _SECRET_FIELDS]
        secrets += [parts.username, parts.password]
        secrets += [getattr(self.auth, "last_token", None)]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def count_lines(self, count: int) -> None:
        with self.lock:
            self.lines_received += count

    def query(self, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        """GET (or POST when long) query_range; retry transient failures, then re-raise."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._backoff,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
            sleep=self.cancelled.wait,  # a closed session wakes sleeping retries
        )
        return retrying(self._once, params, parse)

    def _backoff(self, retry_state: Any) -> float:
        delay = self._wait(retry_state)
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(failure, "retry_after", None)
        if retry_after:
            delay = max(delay, min(retry_after, self.config.backoff_max_s))
        return delay

    def _once(self, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        if self.cancelled.is_set():
            raise LokiError("the fetch was cancelled")
        response = self._send(params)
        if response.status_code == 200:
            try:
                return parse(response.json())
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                raise _Transient(f"malformed response from Loki ({type(exc).__name__})") from None
        raise self._error(response, params["query"])

    def _send(self, params: dict[str, str]) -> httpx.Response:
        encoded = urlencode(params)
        try:
            if len(encoded) > MAX_GET_PARAMS:
                response = self.client.post(QUERY_RANGE_PATH, data=params)
            else:
                response = self.client.get(QUERY_RANGE_PATH, params=params)
        except httpx.TimeoutException:
            self._count(0)
            raise _Transient(f"no answer within {self.config.timeout_s:g}s") from None
        except httpx.RequestError as exc:
            self._count(0)
            if _is_tls_failure(exc):
                raise LokiError(
                    f"TLS handshake with {self.config.safe_addr} failed: "
                    f"{self.redact(_one_line(str(exc)))}"
                ) from None
            raise _Transient(f"connection problem: {type(exc).__name__}") from None
        self._count(response.num_bytes_downloaded)
        return response

    def _count(self, size: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes_received += size

    def _error(self, response: httpx.Response, query: str) -> LokiError:
        status = response.status_code
        body = self.redact(_one_line(response.text))
        if status in _RETRY_STATUSES or status >= 500:
            return _Transient(f"HTTP {status}: {body[:200]}", _retry_after(response))
        if status in (401, 403):
            return LokiAuthError(
                f"Loki at {self.config.safe_addr} refused the request (HTTP {status}: "
                f"{body[:200]}); check LOKI_USERNAME/LOKI_PASSWORD, the bearer token and "
                "LOKI_ORG_ID"
            )
        if status == 400:
            return self._bad_request(body, query)
        return LokiError(f"Loki at {self.config.safe_addr} answered HTTP {status}: {body[:300]}")

    def _bad_request(self, body: str, query: str) -> LokiError:
        if body.startswith("max entries limit per query exceeded"):
            maximum = body.rsplit(">", 1)[-1].strip(" )")
            if maximum.isdigit():
                return _LimitTooHigh(int(maximum))
        if body.startswith(("maximum number of series", "the query time range exceeds")):
            return _RangeTooBig(body)
        return LokiQueryError(
            f"Loki rejected the query (HTTP 400): {body} | LogQL: {' '.join(query.splitlines())}"
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


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


def _ceil_minute(nanos: int) -> int:
    return -(-nanos // MINUTE_NS) * MINUTE_NS


def split_range(lo: int, hi: int, pieces: int, align: int = MINUTE_NS) -> list[tuple[int, int]]:
    """Cut [lo, hi) into about `pieces` contiguous parts, on `align` boundaries when it fits."""
    pieces = max(1, min(pieces, hi - lo))
    cuts = [lo + (hi - lo) * i // pieces for i in range(1, pieces)]
    if hi - lo >= pieces * align:
        cuts = [(c + align // 2) // align * align for c in cuts]
    bounds = sorted({lo, hi, *(c for c in cuts if lo < c < hi)})
    return list(zip(bounds, bounds[1:], strict=False))


def _gap(lo: int, hi: int, reason: str) -> dict:
    return {"from": from_ns(lo), "to": from_ns(hi + 999), "reason": reason}


# --------------------------------------------------------------------------------------------
# Log lines: paging one sub-range
# --------------------------------------------------------------------------------------------


class _LogRange:
    """Pages one sub-range [lo, hi) in one direction; nothing lost, nothing twice."""

    def __init__(
        self, session: _Session, identities: _Identities, query: str, page_limit: int
    ) -> None:
        self.session = session
        self.identities = identities
        self.query = query
        self.page_limit = page_limit

    def page(self, query: str, lo: int, hi: int, limit: int, backward: bool) -> list[Entry]:
        """One query_range call; entries merged over streams in direction order."""
        params = {"query": query, "start": loki_time(lo), "end": loki_time(hi)}
        params |= {"limit": str(limit), "direction": "backward" if backward else "forward"}

        def parse(payload: Any) -> list[Entry]:
            return parse_streams(payload, self.identities, backward)

        entries = self.session.query(params, parse)
        self.session.count_lines(len(entries))
        return entries

    def base_limit(self) -> int:
        """The page size to use: the caller's, capped by the server's maximum once known."""
        return min(self.page_limit, self.session.server_max_limit or self.page_limit)

    def run(self, lo: int, hi: int, backward: bool) -> tuple[list[Entry], dict | None]:
        """All entries of [lo, hi) in direction order, and a gap if a page failed for good.

        Pages overlap at the boundary timestamp; the entries already taken there are counted
        (stream, line) with multiplicity, and skipped once each when the next page repeats them.
        """
        out: list[Entry] = []
        seen: Counter[tuple[str, str]] = Counter()  # taken at the boundary timestamp
        boundary: int | None = None
        limit = self.base_limit()
        while lo < hi:
            try:
                page = self.page(self.query, lo, hi, limit, backward)
            except _LimitTooHigh as exc:  # retry at the server's maximum
                if limit <= exc.maximum:
                    raise LokiQueryError(f"Loki rejected the page size {limit}: {exc}") from None
                self.session.server_max_limit, limit = exc.maximum, exc.maximum
                continue
            except _Transient as exc:
                return out, _gap(lo, hi, f"lines: {exc}")
            out.extend(_skip_seen(page, boundary, seen))
            if len(page) < limit:
                break
            edge = page[-1][0]
            at_edge = Counter((e[1].source, e[2]) for e in page if e[0] == edge)
            # Both are prefixes of the same ordered group when the edge did not move.
            seen = seen | at_edge if edge == boundary else at_edge
            boundary = edge
            if boundary != (hi - 1 if backward else lo):
                lo, hi = (lo, boundary + 1) if backward else (boundary, hi)
                limit = self.base_limit()
                continue
            grown = self._grow(limit)  # the whole page sits on one timestamp
            if grown is not None:
                limit = grown
                continue
            try:
                rest = self.all_at(boundary, limit)  # limit is the server's maximum here
            except _Transient as exc:
                return out, _gap(lo, hi, f"lines: {exc}")
            out.extend(_skip_seen(rest, boundary, seen))
            lo, hi = (lo, boundary) if backward else (boundary + 1, hi)
            limit, boundary, seen = self.base_limit(), None, Counter()
        return out, None

    def _grow(self, limit: int) -> int | None:
        """Double the page size, up to the server's maximum; None when already there."""
        maximum = self.session.server_max_limit
        if maximum is not None and limit >= maximum:
            return None
        return min(limit * 2, maximum) if maximum else limit * 2

    def all_at(self, ts: int, maximum: int) -> list[Entry]:
        """Every entry at exactly `ts`, partitioned by line prefix to stay under the max limit.

        A partition is (prefix, code-point ranges of the next character, whether the bare
        prefix counts). An over-full answer is a sample that says where to cut next: a prefix
        every sampled line shares is followed at once, leaving one query for the rest.
        """
        out: list[Entry] = []
        todo: list[_Part] = [_Part("", ((0, MAX_CODE_POINT),), True, None)]
        while todo:
            part = todo.pop()
            sample = part.sample
            if sample is None:
                query = f"{self.query} |~ {logql_quote(part.regex())}"
                sample = self.page(query, ts, ts + 1, maximum, False)
                if len(sample) < maximum:
                    out.extend(sample)
                    continue
            todo.extend(part.split([e[2] for e in sample], sample))
        return out


def _skip_seen(entries: list[Entry], boundary: int | None, seen: Counter) -> list[Entry]:
    """Entries minus those at `boundary` already taken (each taken one skipped once)."""
    left = Counter(seen)
    fresh = []
    for entry in entries:
        key = (entry[1].source, entry[2])
        if entry[0] == boundary and left[key] > 0:
            left[key] -= 1
        else:
            fresh.append(entry)
    return fresh


MAX_CODE_POINT = 0x10FFFF
Ranges = tuple[tuple[int, int], ...]


def _cut(ranges: Ranges, at: int) -> tuple[Ranges, Ranges]:
    """Code-point ranges below `at` and from `at` on."""
    low = tuple((a, min(b, at - 1)) for a, b in ranges if a < at)
    high = tuple((max(a, at), b) for a, b in ranges if b >= at)
    return low, high


@dataclass(frozen=True)
class _Part:
    """Lines equal to `prefix` (when `bare`) or continuing with a character in `ranges`."""

    prefix: str
    ranges: Ranges
    bare: bool
    sample: list[Entry] | None

    def regex(self) -> str:
        """An RE2 regex selecting exactly this part's lines."""
        head = "^" + _re2_escape(self.prefix)
        chars = "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in self.ranges)
        if not self.ranges:
            return head + "$"
        return f"{head}(?:$|[{chars}])" if self.bare else f"{head}[{chars}]"

    def split(self, lines: list[str], sample: list[Entry]) -> list[_Part]:
        """Smaller parts covering this one, cut where the over-full sample says."""
        nexts = Counter(line[len(self.prefix)] for line in lines if len(line) > len(self.prefix))
        if not nexts:
            raise _Transient("too many identical lines share one timestamp")
        if len(nexts) == 1:
            char = next(iter(nexts))
            below, rest = _cut(self.ranges, ord(char))
            _, above = _cut(rest, ord(char) + 1)
            kept = [e for e in sample if e[2].startswith(self.prefix + char)]
            longer = _Part(self.prefix + char, ((0, MAX_CODE_POINT),), True, kept)
            return [longer, _Part(self.prefix, below + above, self.bare, None)]
        ordered = sorted(nexts.elements())
        middle = ord(ordered[len(ordered) // 2])
        if middle == ord(ordered[0]):
            middle = min(ord(c) for c in nexts if ord(c) > middle)
        low, high = _cut(self.ranges, middle)
        return [_Part(self.prefix, low, self.bare, None), _Part(self.prefix, high, False, None)]


def _re2_escape(text: str) -> str:
    """Escape text for RE2 (every ASCII punctuation character gets a backslash)."""
    return "".join(
        "\\" + ch if ch.isascii() and not ch.isalnum() and ch != "_" else ch for ch in text
    )


def fetch_log_piece(
    pager: _LogRange, lo: int, hi: int, backward: bool
) -> tuple[list[Entry], list[dict]]:
    """A sub-range's entries in forward order, bisected when Loki finds the range too long."""
    try:
        entries, gap = pager.run(lo, hi, backward)
    except _RangeTooBig as exc:
        if hi - lo <= MINUTE_NS:
            raise LokiQueryError(f"Loki rejected the query (HTTP 400): {exc}") from None
        middle = lo + (hi - lo) // 2
        first = fetch_log_piece(pager, lo, middle, backward)
        second = fetch_log_piece(pager, middle, hi, backward)
        return first[0] + second[0], first[1] + second[1]
    if backward:
        entries.reverse()
    return entries, [gap] if gap else []


# --------------------------------------------------------------------------------------------
# Activity: count_over_time per pod and minute
# --------------------------------------------------------------------------------------------

Counts = dict[tuple[str | None, str | None, str | None], dict[int, int]]


def activity_key(labels: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """(namespace, pod, container) of a metric series, with the same fallbacks as lines."""
    info = stream_identity(labels, {})
    return info.namespace, info.pod, info.container


def fetch_activity_piece(session: _Session, query: str, t0: int, t1: int) -> tuple[Counts, list]:
    """Counts for the minute points t0..t1 (inclusive); bisected on too many series."""
    params = {"query": query, "start": loki_time(t0), "end": loki_time(t1 if t1 > t0 else t0 + 1)}
    params["step"] = "60"

    def parse(payload: Any) -> Counts:
        data = payload["data"]
        if data["resultType"] != "matrix":
            raise _Transient(f"unexpected resultType {data['resultType']!r}")
        counts: Counts = {}
        for series in data["result"]:
            bucket = counts.setdefault(activity_key(series["metric"]), {})
            for t, value in series["values"]:
                t_ns = int(t) * NS if isinstance(t, int) else round(float(t) * NS)
                if t0 <= t_ns <= t1:
                    bucket[t_ns] = bucket.get(t_ns, 0) + int(float(value))
        return counts

    try:
        return session.query(params, parse), []
    except _Transient as exc:
        return {}, [_gap(t0 - MINUTE_NS, t1, f"activity: {exc}")]
    except _RangeTooBig as exc:
        if t1 == t0:
            raise LokiQueryError(f"Loki rejected the activity query (HTTP 400): {exc}") from None
        middle = t0 + (t1 - t0) // 2 // MINUTE_NS * MINUTE_NS
        first = fetch_activity_piece(session, query, t0, middle)
        second = fetch_activity_piece(session, query, middle + MINUTE_NS, t1)
        return _merge_counts([first[0], second[0]]), first[1] + second[1]


def _merge_counts(parts: Sequence[Counts]) -> Counts:
    merged: Counts = {}
    for part in parts:
        for key, values in part.items():
            bucket = merged.setdefault(key, {})
            for t, count in values.items():
                bucket[t] = bucket.get(t, 0) + count
    return merged


def activity_pieces(lo: int, hi: int, parallel: int) -> list[tuple[int, int]]:
    """Minute points covering [lo, hi), cut into consecutive runs of at most MAX_POINTS."""
    t0, t1 = _ceil_minute(lo), _ceil_minute(hi - 1)
    points = (t1 - t0) // MINUTE_NS + 1
    pieces = max(min(parallel, points), math.ceil(points / MAX_POINTS))
    cuts = [points * i // pieces for i in range(pieces + 1)]
    return [
        (t0 + a * MINUTE_NS, t0 + (b - 1) * MINUTE_NS)
        for a, b in zip(cuts, cuts[1:], strict=False)
        if b > a
    ]


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def lines_frame(entries: Sequence[Entry]) -> pl.DataFrame:
    """Entries (in forward order) as the `lines` table, with line_no per source."""
    if not entries:
        return pl.DataFrame(schema=LINES_SCHEMA)
    infos = [e[1] for e in entries]
    frame = pl.DataFrame(
        {
            "ts": pl.Series([e[0] for e in entries], dtype=pl.Int64),
            "namespace": [i.namespace for i in infos],
            "pod": [i.pod for i in infos],
            "container": [i.container for i in infos],
            "stream": [i.stream for i in infos],
            "source": [i.source for i in infos],
            "message": [e[2] for e in entries],
        },
        schema_overrides={k: LINES_SCHEMA[k] for k in ("namespace", "pod", "container", "stream")},
    )
    frame = frame.with_columns(pl.from_epoch("ts", time_unit="ns").dt.replace_time_zone("UTC"))
    frame = frame.sort("ts", maintain_order=True).with_columns(
        line_no=(pl.int_range(pl.len()).over("source") + 1).cast(pl.Int64)
    )
    return frame.sort(["ts", "source", "line_no"]).select(list(LINES_SCHEMA))


def activity_from_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Per-pod first/last line, count and per-minute windows computed from the lines."""
    if lines.is_empty():
        return pl.DataFrame(schema=ACTIVITY_SCHEMA)
    epoch = pl.col("ts").dt.epoch("ns")
    window_end = ((epoch + MINUTE_NS - 1) // MINUTE_NS * MINUTE_NS).cast(pl.Int64)
    window = pl.from_epoch(window_end, time_unit="ns").dt.replace_time_zone("UTC")
    per_minute = pl.struct(
        pl.col("window_end").unique(maintain_order=True),
        pl.col("window_end").unique_counts().cast(pl.Int64).alias("lines"),
    )
    frame = (
        lines.with_columns(window_end=window)
        .group_by(["namespace", "pod", "container"], maintain_order=True)
        .agg(
            first_ts=pl.col("ts").min(),
            last_ts=pl.col("ts").max(),
            lines=pl.len().cast(pl.Int64),
            per_minute=per_minute,
        )
    )
    return _finish_activity(frame)


def activity_from_counts(counts: Counts) -> pl.DataFrame:
    """Activity from metric counts; first_ts/last_ts are the bounds of the first/last window."""
    rows = []
    for (namespace, pod, container), values in counts.items():
        points = sorted(t for t, n in values.items() if n > 0)
        if not points:
            continue
        rows.append(
            {
                "namespace": namespace,
                "pod": pod,
                "container": container,
                "first_ts": points[0] - MINUTE_NS,
                "last_ts": points[-1],
                "lines": sum(values[t] for t in points),
                "per_minute": [{"window_end": t, "lines": values[t]} for t in points],
            }
        )
    if not rows:
        return pl.DataFrame(schema=ACTIVITY_SCHEMA)
    int_schema = ACTIVITY_SCHEMA | {"first_ts": pl.Int64(), "last_ts": pl.Int64()}
    int_schema["per_minute"] = pl.List(pl.Struct({"window_end": pl.Int64, "lines": pl.Int64}))
    return _finish_activity(pl.DataFrame(rows, schema=int_schema))


def _finish_activity(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.cast(ACTIVITY_SCHEMA)
        .select(list(ACTIVITY_SCHEMA))
        .sort(["first_ts", "namespace", "pod", "container"], nulls_last=True)
    )


# --------------------------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------------------------


def _run_all(tasks: Sequence[Callable[[], T]], parallel: int, show: bool | None) -> list[T]:
    """Run tasks on `parallel` threads; results in task order; the first error cancels the rest
    and is the one raised (never the cancellation it caused)."""
    show = sys.stderr.isatty() if show is None else show
    results: list[Any] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="loki", unit="range", file=sys.stderr, disable=not show)
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="loki")
    failed = threading.Event()
    first_error: list[BaseException] = []  # recorded before `failed` is set
    lock = threading.Lock()

    def guarded(task: Callable[[], T]) -> T:
        # a task not yet started when another failed does not start: no request after an error
        if failed.is_set():
            raise LokiError("the fetch was cancelled")
        try:
            return task()
        except BaseException as exc:
            with lock:
                if not first_error:
                    first_error.append(exc)
            failed.set()
            raise

    futures: dict[Future[T], int] = {pool.submit(guarded, t): i for i, t in enumerate(tasks)}
    try:
        for future in as_completed(futures):
            if future.exception() is not None:
                # a cancelled task can finish before the task whose error cancelled it
                raise first_error[0]
            results[futures[future]] = future.result()
            bar.update(1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    return results


def _validate(
    start: int, end: int, mode: str, parallel: int, page_limit: int, retries: int
) -> None:
    if end <= start:
        raise ValueError("end must be after start")
    if mode not in ("full", "pushdown"):
        raise ValueError(f"mode must be 'full' or 'pushdown', not {mode!r}")
    if parallel < 1 or page_limit < 1 or retries < 0:
        raise ValueError("parallel and page_limit must be >= 1 and max_retries >= 0")


def fetch(
    config: LokiConfig,
    start: datetime,
    end: datetime,
    *,
    selector: str = DEFAULT_SELECTOR,
    mode: str = "full",
    line_filters: Sequence[str] = (),
    parallel: int = 4,
    page_limit: int = 5000,
    progress: bool | None = None,
    max_retries: int = 5,
    direction: str = "forward",
) -> LokiResult:
    """Lines of [start, end) for `selector`, every line ("full") or matching lines ("pushdown").

    Full mode ignores `line_filters` and computes `activity` from the lines; pushdown sends them
    as one `|~` filter (RE2) and reads `activity` from a count_over_time query. Each request is
    tried `max_retries + 1` times; a sub-range still failing becomes a gap. 400 raises
    LokiQueryError, 401/403 LokiAuthError. `direction` only changes how pages walk.
    """
    lo, hi = to_ns(start), to_ns(end)
    _validate(lo, hi, mode, parallel, page_limit, max_retries)
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', not {direction!r}")
    pushdown = mode == "pushdown"
    query = build_log_query(selector, line_filters if pushdown else ())
    activity_query = build_activity_query(selector) if pushdown else ""
    session = _Session(config, max_retries)
    try:
        pager = _LogRange(session, _Identities(), query, page_limit)
        pieces = max(parallel * SPLITS_PER_WORKER, math.ceil((hi - lo) / MAX_PIECE_NS))
        log_tasks = [
            (lambda a=a, b=b: fetch_log_piece(pager, a, b, direction == "backward"))
            for a, b in split_range(lo, hi, pieces)
        ]
        metric_tasks = [
            (lambda a=a, b=b: fetch_activity_piece(session, activity_query, a, b))
            for a, b in (activity_pieces(lo, hi, parallel) if pushdown else [])
        ]
        results = _run_all([*log_tasks, *metric_tasks], parallel, progress)
    finally:
        session.close()
    log_results, metric_results = results[: len(log_tasks)], results[len(log_tasks) :]
    lines = lines_frame([e for entries, _ in log_results for e in entries])
    if pushdown:
        activity = activity_from_counts(_merge_counts([c for c, _ in metric_results]))
    else:
        activity = activity_from_lines(lines)
    gaps = [g for _, found in [*log_results, *metric_results] for g in found]
    return LokiResult(
        lines=lines,
        activity=activity,
        mode=mode,
        requests=session.requests,
        bytes_received=session.bytes_received,
        lines_received=session.lines_received,
        gaps=sorted(gaps, key=itemgetter("from")),
        query=query,
        activity_query=activity_query,
    )
