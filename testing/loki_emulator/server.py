"""Loki's HTTP API on 127.0.0.1: routing, parameters checked in Loki's order, the gateway's auth,
TLS, gzip and the socket handler that applies faults.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import math
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..write import go_duration
from .api import (
    DEFAULT_SINCE_NS,
    ERR_END_BEFORE_START,
    ERR_INSTANT_LOG,
    ERR_STEP_TOO_SMALL,
    ERR_STEP_ZERO,
    HOUR_NS,
    NGINX_401,
    NS,
    QUERY_RANGE,
    ApiError,
)
from .evaluate import (
    bounds,
    evaluate_metric,
    format_sample_time,
    format_sample_value,
    select_entries,
    streams_result,
)
from .faults import Fault, FaultRule, RequestInfo
from .goformat import (
    go_parse_int,
    parse_prom_duration,
    parse_seconds_or_duration,
    parse_timestamp,
    prom_duration_string,
)
from .logql import LogQuery, Matcher, Parser
from .responses import Reply, go_json, stats_block
from .store import EntryIn, Store, Stream


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
            "/loki/api/v1/index/volume": lambda: self.volume(store, params),
            "/loki/api/v1/index/stats": lambda: self.index_stats(store, params),
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
        limit = go_parse_int(params["limit"], "Atoi") if params.get("limit") else 100
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
                f"{go_duration(length)}, limit: "
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
        data["result"] = streams_result(selected, categorize, expr.keep)
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
        limit = go_parse_int(params["limit"], "Atoi") if params.get("limit") else 100
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
            if bounds(series, start, end, end_inclusive=True):
                if name is None:
                    found.update(series.labels)
                elif name in series.labels:
                    found.add(series.labels[name])
        body: dict[str, Any] = {"status": "success"}
        if found:
            body["data"] = sorted(found)
        return Reply(200, go_json(body))

    def _index_query(self, store: Store, params: Mapping[str, str]):
        """The streams, [start, end] and matchers of an `index/*` request (label matchers only,
        as Loki's index endpoints take)."""
        now = time.time_ns()
        end = parse_timestamp(params.get("end", ""), now)
        start = parse_timestamp(params.get("start", ""), end - HOUR_NS)
        expr = Parser(params.get("query", "")).parse()
        if not isinstance(expr, LogQuery) or expr.line_filters or expr.label_filters or expr.keep:
            raise ApiError("only label matchers are supported")
        return expr.matchers, start, end

    @staticmethod
    def _entry_bytes(series, idx: int) -> int:
        # the line and its structured metadata, as Loki's volume counts them (approximately)
        sm = series.sm[idx]
        return len(series.lines[idx].encode()) + sum(len(k) + len(v) for k, v in sm.items())

    def volume(self, store: Store, params: Mapping[str, str]) -> Reply:
        """`GET /loki/api/v1/index/volume`: bytes per label group (the selector's label names,
        or `targetLabels` with `aggregateBy=labels`), largest first, a `vector`."""
        matchers, start, end = self._index_query(store, params)
        names = [m.name for m in matchers]
        if params.get("targetLabels"):
            names = [n.strip() for n in params["targetLabels"].split(",") if n.strip()]
        groups: dict[tuple[str, ...], int] = {}
        for series in store.matching(matchers):
            size = sum(self._entry_bytes(series, i) for i in bounds(series, start, end))
            if size:
                key = tuple(series.labels.get(n, "") for n in names)
                groups[key] = groups.get(key, 0) + size
        limit = int(params.get("limit") or 100)
        ranked = sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        result = [
            {"metric": dict(zip(names, key, strict=True)), "value": [end // NS, str(size)]}
            for key, size in ranked
        ]
        data = {"resultType": "vector", "result": result, "stats": stats_block(0, 0, 0, 1e-6)}
        return Reply(200, go_json({"status": "success", "data": data}))

    def index_stats(self, store: Store, params: Mapping[str, str]) -> Reply:
        """`GET /loki/api/v1/index/stats`, as a real Loki answers after a flush (one chunk a
        stream; a real Loki counts only flushed data)."""
        matchers, start, end = self._index_query(store, params)
        streams = entries = size = 0
        for series in store.matching(matchers):
            found = bounds(series, start, end)
            if found:
                streams += 1
                entries += len(found)
                size += sum(self._entry_bytes(series, i) for i in found)
        body = {"streams": streams, "chunks": streams, "bytes": size, "entries": entries}
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
