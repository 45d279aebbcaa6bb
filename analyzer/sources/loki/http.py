"""The HTTP side of a fetch: bearer or basic auth, TLS, and `Session`, one httpx client shared
by the worker threads that retries transient failures, counts traffic and maps Loki's answers
to errors (401/403 `LokiAuthError`, 400 `LokiQueryError` or a hint to the pager, the rest
retried and then a gap)."""

from __future__ import annotations

import json
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from ...errors import (
    LokiAuthError,
    LokiConfigError,
    LokiError,
    LokiQueryError,
    LokiUnreachableError,
)
from ...redact import scrub_credentials
from .config import ENV_VARIABLES, SECRET_FIELDS, LokiConfig
from .errors import Final, LimitTooHigh, RangeTooBig, TooLarge, Transient
from .identity import CATEGORIZE_LABELS

__all__ = ["QUERY_RANGE_PATH", "Session"]

QUERY_RANGE_PATH = "/loki/api/v1/query_range"
ENCODING_FLAGS_HEADER = "X-Loki-Response-Encoding-Flags"
USER_AGENT = "kopia-postmortem-loki/0.1"
#: URL-encoded parameters longer than this are sent as a POST form instead of a GET query.
MAX_GET_PARAMS = 6000
_RETRY_STATUSES = {408, 425, 429, 499}
#: Largest answer read, decompressed: a page of 5,000 mover lines is a few MB; a gzip bomb is
#: not read (the pager asks again for fewer lines first, in case the lines are just long).
MAX_RESPONSE_BYTES = 64 * 2**20
#: Most bytes one step of decompression may produce (a 64 KiB gzip chunk can inflate to 64 MiB).
INFLATE_STEP = 2**20
#: Timeouts before Loki ever answered after which a fetch stops: a server that accepts
#: connections and says nothing is unreachable, not slow.
SILENT_TIMEOUTS = 2


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read whole (at most MAX_RESPONSE_BYTES): status, headers and body."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _PastDeadline(stop_base):
    """Stop retrying once the session's deadline has passed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.session.remaining() <= 0


T = TypeVar("T")


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
                f"{path}: cannot read the {what} for Loki ({flag}, {ENV_VARIABLES[name]}): "
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


class Session:
    """One httpx client shared by the worker threads, with retries and traffic counters.

    `transport` replaces the network (tests pass an `httpx.MockTransport`); TLS settings are
    still checked but apply only to the default transport.
    """

    def __init__(
        self,
        config: LokiConfig,
        max_retries: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.max_retries = max_retries
        self.auth = _auth(config)
        self.client = httpx.Client(
            base_url=config.safe_addr.rstrip("/"),
            auth=self.auth,
            verify=_tls_verify(config),
            timeout=httpx.Timeout(config.timeout_s),
            headers=self._headers(),
            transport=transport,
        )
        self.lock = threading.Lock()
        self.requests = 0
        #: Whether Loki ever answered: until it has, a refused or unresolvable address is fatal
        #: at once (no retries: nothing listens there), afterwards a passing fault.
        self.answered = False
        self.bytes_received = 0
        self.lines_received = 0
        self.server_max_limit: int | None = None
        self.cancelled = threading.Event()
        self.deadline = time.monotonic() + config.deadline_s
        self.silent_timeouts = 0
        self._wait = wait_exponential_jitter(
            multiplier=config.backoff_base_s, max=config.backoff_max_s, jitter=config.backoff_base_s
        )

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, ENCODING_FLAGS_HEADER: CATEGORIZE_LABELS}
        headers["Accept-Encoding"] = "gzip, deflate"  # what `_inflate` reads in bounded steps
        if self.config.org_id:
            headers["X-Scope-OrgID"] = self.config.org_id
        return headers

    def close(self) -> None:
        """Stop retries (sleeping ones wake up) and close the connections."""
        self.cancelled.set()
        self.client.close()

    def redact(self, text: str) -> str:
        """Replace every configured credential in `text`, as sent and as a server may echo it
        (`redact.scrub_credentials`: raw, URL-encoded, JSON-escaped, Basic auth's base64)."""
        parts = urlsplit(self.config.addr)
        secrets = [getattr(self.config, name) for name in SECRET_FIELDS]
        secrets += [parts.username, parts.password]
        secrets += [getattr(self.auth, "last_token", None)]
        return scrub_credentials(text, secrets, username=self.config.username or parts.username)

    def remaining(self) -> float:
        """Seconds left before the fetch's deadline."""
        return self.deadline - time.monotonic()

    def count_lines(self, count: int) -> None:
        with self.lock:
            self.lines_received += count

    def query(self, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        """GET (or POST when long) query_range; retry transient failures, then re-raise."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1) | _PastDeadline(self),
            wait=self._backoff,
            retry=retry_if_exception(
                lambda e: isinstance(e, Transient) and not isinstance(e, Final)
            ),
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
        return max(0.0, min(delay, self.remaining()))

    def _once(self, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        if self.cancelled.is_set():
            raise LokiError("the fetch was cancelled")
        if self.remaining() <= 0:
            raise Final(f"not read: the fetch passed its deadline of {self.config.deadline_s:g}s")
        response = self._send(params)
        if response.status_code == 200:
            try:
                return parse(response.json())
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                raise Transient(f"malformed response from Loki ({type(exc).__name__})") from None
        raise self._error(response, params["query"])

    def get_json(self, path: str, params: dict[str, str], timeout_s: float = 10.0) -> Any:
        """One GET of another Loki endpoint (`index/volume` ...), counted like the queries: its
        JSON, or None when Loki does not answer 200 with JSON within `timeout_s` (an old Loki,
        a gateway that does not route the path); a fetch can go on without it."""
        try:
            response = self._exchange("GET", path, params=params, timeout_s=timeout_s)
        except httpx.TimeoutException:
            self.silent_timeouts += 0 if self.answered else 1
            return None
        except (httpx.HTTPError, Final):
            return None
        self.answered = True
        if response.status_code in (401, 403):
            raise self._error(response, params.get("query", ""))
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _exchange(
        self, method: str, path: str, timeout_s: float | None = None, **kwargs: Any
    ) -> Answer:
        """One request, its answer read whole; the timeout is cut to the deadline, and an
        answer over MAX_RESPONSE_BYTES (decompressed) is dropped as `Final`."""
        timeout = min(timeout_s or self.config.timeout_s, self.config.timeout_s)
        timeout = max(0.1, min(timeout, self.remaining()))
        request = self.client.build_request(method, path, timeout=timeout, **kwargs)
        try:
            response = self.client.send(request, stream=True)
        except httpx.HTTPError:
            self._count(0)
            raise
        try:
            chunks = list(_inflate(response))
        finally:
            response.close()
            self._count(response.num_bytes_downloaded)
        return Answer(response.status_code, response.headers, b"".join(chunks))

    def _send(self, params: dict[str, str]) -> Answer:
        encoded = urlencode(params)
        try:
            if len(encoded) > MAX_GET_PARAMS:
                response = self._exchange("POST", QUERY_RANGE_PATH, data=params)
            else:
                response = self._exchange("GET", QUERY_RANGE_PATH, params=params)
        except httpx.TimeoutException:
            with self.lock:
                self.silent_timeouts += 0 if self.answered else 1
                silent = self.silent_timeouts
            if silent >= SILENT_TIMEOUTS:
                raise LokiUnreachableError(
                    f"Loki at {self.config.safe_addr} accepted the connection but answered "
                    f"none of {silent} requests within {self.config.timeout_s:g}s"
                ) from None
            raise Transient(f"no answer within {self.config.timeout_s:g}s") from None
        except httpx.RequestError as exc:
            if _is_tls_failure(exc):
                raise LokiError(
                    f"TLS handshake with {self.config.safe_addr} failed: "
                    f"{self.redact(_one_line(str(exc)))}"
                ) from None
            cause = _unreachable(exc)
            if cause and not self.answered:
                raise LokiUnreachableError(
                    f"cannot reach Loki at {self.config.safe_addr}: {cause}"
                ) from None
            raise Transient(f"connection problem: {type(exc).__name__}") from None
        self.answered = True
        return response

    def _count(self, size: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes_received += size

    def _error(self, response: Answer, query: str) -> LokiError:
        status = response.status_code
        body = self.redact(_one_line(response.text))
        if status in _RETRY_STATUSES or status >= 500:
            return Transient(f"HTTP {status}: {body[:200]}", _retry_after(response))
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
                return LimitTooHigh(int(maximum))
        if body.startswith(("maximum number of series", "the query time range exceeds")):
            return RangeTooBig(body)
        return LokiQueryError(
            f"Loki rejected the query (HTTP 400): {body} | LogQL: {' '.join(query.splitlines())}"
        )


def _inflate(response: httpx.Response) -> Iterator[bytes]:
    """The body of a streamed answer, decompressed here in steps of at most INFLATE_STEP (httpx
    would inflate each network chunk whole), raising `TooLarge` past MAX_RESPONSE_BYTES."""
    if response.is_stream_consumed:  # read already (a test transport's answer): as it is
        raw_chunks, inflater = [response.content], None
    else:
        raw_chunks, inflater = response.iter_raw(), _inflater(response)
    size = 0
    for raw in raw_chunks:
        data = raw
        while data:
            if inflater is None:
                out, data = data, b""
            else:
                out = inflater.decompress(data, INFLATE_STEP)
                data = inflater.unconsumed_tail
            size += len(out)
            if size > MAX_RESPONSE_BYTES:
                raise TooLarge(
                    f"not read: Loki's answer passed {MAX_RESPONSE_BYTES // 2**20} MiB "
                    f"(after {response.num_bytes_downloaded:,} bytes over the wire)"
                )
            yield out


def _inflater(response: httpx.Response) -> Any:
    """A zlib decompressor for the answer's Content-Encoding, or None for none."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "deflate"):
        raise Final(f"not read: Loki's answer is encoded as {encoding!r}")
    # wbits 32 + 15: a gzip or a zlib header, detected
    return zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding in ("gzip", "deflate") else None


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


#: What a connection error says when nothing can be reached at the address, by cause.
_UNREACHABLE = (
    ("connection refused", ("refused", "errno 111", "[errno 61]")),
    (
        "the host name does not resolve",
        (
            "name or service not known",
            "nodename nor servname",
            "no address associated",
            "temporary failure in name resolution",
            "getaddrinfo failed",
            "name resolution",
        ),
    ),
)


def _unreachable(exc: BaseException) -> str | None:
    """`connection refused` or `the host name does not resolve` when that is what `exc` (or an
    error it wraps) says; None for other connection problems (resets, timeouts)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        text = str(seen).lower()
        for cause, words in _UNREACHABLE:
            if any(word in text for word in words):
                return cause
        seen = seen.__cause__ or seen.__context__
    return None


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
