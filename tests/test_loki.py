"""The Loki source against the Loki emulator, and the emulator against recorded Loki responses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analyzer.errors import LokiUnreachableError
from analyzer.sources import loki
from analyzer.sources.loki import (
    DEFAULT_SELECTOR,
    LINES_SCHEMA,
    LokiAuthError,
    LokiConfig,
    LokiError,
    LokiQueryError,
    fetch,
)
from testing.loki_emulator import (
    NS,
    QUERY_RANGE,
    Fault,
    LokiEmulator,
    Stream,
    fail_first,
    fail_share,
    fail_when,
    go_unquote,
    streams_from_push,
)
from testing.loki_streams import FILTERS, mover_streams


def _reference_dir() -> Path | None:
    candidates = [os.environ.get("LOKI_REFERENCE_DIR", "")]
    here = Path(__file__).resolve()
    candidates += [str(p / "shared" / "reference" / "loki-responses") for p in here.parents]
    for candidate in candidates:
        if candidate and Path(candidate, "01-push-request.json").is_file():
            return Path(candidate)
    return None


REF = _reference_dir()
needs_ref = pytest.mark.skipif(REF is None, reason="shared/reference/loki-responses not found")
START, END = 1795580760000000000, 1795581420000000000  # 00-times.txt
BASE = 1795580820000000000
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
T0_NS = loki.to_ns(T0)


def config(emu: LokiEmulator, **kwargs) -> LokiConfig:
    """A config with tiny backoffs so retry tests stay fast."""
    kwargs = {"backoff_base_s": 0.001, "backoff_max_s": 0.005, "timeout_s": 5.0} | kwargs
    return LokiConfig(emu.url, **kwargs)


def recorded_push() -> list[Stream]:
    assert REF is not None
    return streams_from_push(json.loads((REF / "01-push-request.json").read_text()))


def keys(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select("ts", "pod", "message").iter_rows())


def counted(frame: pl.DataFrame) -> Counter:
    """(ns timestamp, pod, message) rows with multiplicity."""
    return Counter(frame.select(pl.col("ts").dt.epoch("ns"), "pod", "message").iter_rows())


# --------------------------------------------------------------------------------------------
# The emulator against the recorded responses of a real Loki
# --------------------------------------------------------------------------------------------

RECORDED_QUERIES = {
    "02-query_range-streams-backward": {"query": '{namespace="shop"}'},
    "03-query_range-forward-rfc3339": {
        "query": '{namespace="shop"} |= "error"',
        "start": "2026-11-25T04:26:00Z",
        "end": "2026-11-25T04:37:00Z",
        "direction": "forward",
    },
    "04-query_range-float-seconds": {
        "query": '{namespace="kube-system"}',
        "start": "1795580760.000",
        "end": "1795581420.000",
    },
    "05-page1-limit2-backward": {"query": '{namespace="shop"}', "limit": "2"},
    "06-page1-limit2-forward": {
        "query": '{namespace="shop"}',
        "limit": "2",
        "direction": "FORWARD",
    },
    "07-forward-limit2-start=ts+10s": {
        "query": '{namespace="shop"}',
        "start": str(BASE + 10 * NS),
        "limit": "2",
        "direction": "forward",
    },
    "08-forward-limit3-start=ts+20s": {
        "query": '{namespace="shop"}',
        "start": str(BASE + 20 * NS),
        "limit": "3",
        "direction": "forward",
    },
    "13-structured-metadata-filter": {"query": '{namespace="shop"} | trace_id!=""'},
    "14-regex-and-negative-filters": {
        "query": '{namespace=~"shop|kube-system"} |~ "error" != "retrying"'
    },
    "15-count_over_time-matrix": {
        "query": 'sum by (pod) (count_over_time({namespace="shop"} |= "error" [1m]))',
        "step": "60",
    },
    "36-query_range-tenant-header-ignored": {"query": '{namespace="kube-system"}'},
}


def _shape(value):
    """Nested key structure of a JSON value (lists reduced to the shape of their items)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(_shape(v), sort_keys=True) for v in value})
    return type(value).__name__


@pytest.fixture(scope="module")
def recorded_loki():
    if REF is None:
        pytest.skip("shared/reference/loki-responses not found")
    with LokiEmulator(recorded_push()) as emu:
        yield emu


@needs_ref
@pytest.mark.parametrize("name", sorted(RECORDED_QUERIES))
def test_emulator_answers_like_recorded_loki(recorded_loki, name):
    params = {"start": str(START), "end": str(END)} | RECORDED_QUERIES[name]
    response = httpx.get(recorded_loki.url + QUERY_RANGE, params=params)
    recorded = json.loads((REF / f"{name}.json").read_text())
    assert response.status_code == int((REF / f"{name}.status").read_text())
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert body["status"] == recorded["status"]
    assert body["data"]["resultType"] == recorded["data"]["resultType"]
    assert body["data"]["result"] == recorded["data"]["result"]
    assert _shape(body["data"]["stats"]) == _shape(recorded["data"]["stats"])


@needs_ref
def test_emulator_categorize_labels_like_recorded(recorded_loki):
    recorded = json.loads((REF / "12-categorize-labels.json").read_text())["data"]
    response = httpx.get(
        recorded_loki.url + QUERY_RANGE,
        params={"query": '{pod="checkout-7d9f8-abcde"}', "start": START, "end": END},
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    data = response.json()["data"]
    assert list(data) == list(recorded)  # resultType, encodingFlags, result, stats
    assert data["encodingFlags"] == recorded["encodingFlags"] == ["categorize-labels"]
    got, want = data["result"], recorded["result"]
    assert [s["stream"] for s in got] == [s["stream"] for s in want]
    strip = [
        [v[0], v[1], {"structuredMetadata": v[2]["structuredMetadata"]}] for v in want[0]["values"]
    ]
    assert got[0]["values"] == strip  # the emulator has no parsers, so no "parsed" key


@needs_ref
@pytest.mark.parametrize(
    ("name", "path", "params"),
    [
        ("18-instant-with-log-query-error", "/loki/api/v1/query", {"query": '{app="x"}'}),
        ("19-error-bad-logql", QUERY_RANGE, {"query": '{namespace="shop" |= "error"}'}),
        ("20-error-limit-over-max-entries", QUERY_RANGE, {"limit": "5001"}),
        ("21-error-end-before-start", QUERY_RANGE, {"start": str(END), "end": str(START)}),
        ("22-error-query-too-long", QUERY_RANGE, {"start": str(END - 800 * 3600 * NS)}),
        ("23-error-bad-direction", QUERY_RANGE, {"direction": "sideways"}),
        ("24-error-empty-selector", QUERY_RANGE, {"query": '{app=~".*"}'}),
        ("25-error-step-too-small", QUERY_RANGE, {"step": "1", "end": str(START + 11001 * NS)}),
    ],
)
def test_emulator_error_bodies_like_recorded(recorded_loki, name, path, params):
    params = {"query": '{namespace="shop"}', "start": str(START), "end": str(END)} | params
    response = httpx.get(recorded_loki.url + path, params=params)
    recorded_headers = (REF / f"{name}.headers").read_text().lower()
    assert response.status_code == int((REF / f"{name}.status").read_text()) == 400
    assert response.text == (REF / f"{name}.txt").read_text()
    assert f"content-length: {response.headers['content-length']}" in recorded_headers
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"


@needs_ref
def test_emulator_instant_labels_and_empty_like_recorded(recorded_loki):
    url = recorded_loki.url
    vector = httpx.get(
        url + "/loki/api/v1/query",
        params={
            "query": 'sum by (namespace) (count_over_time({namespace=~".+"} [10m]))',
            "time": END,
        },
    ).json()
    assert (
        vector["data"]["result"]
        == json.loads((REF / "17-instant-vector.json").read_text())["data"]["result"]
    )
    labels = httpx.get(url + "/loki/api/v1/labels", params={"start": START, "end": END})
    assert labels.json() == json.loads((REF / "26-labels.json").read_text())
    values = httpx.get(
        url + "/loki/api/v1/label/pod/values",
        params={"start": START, "end": END, "query": '{namespace="shop"}'},
    )
    assert values.json() == json.loads((REF / "27-label-values-pod.json").read_text())
    empty = json.loads((REF / "44-empty-result.json").read_text())
    response = httpx.get(empty["request"]["url"].replace("http://127.0.0.1:3100", url))
    assert response.headers["content-encoding"] == "gzip"
    body = response.json()
    assert body["data"]["result"] == empty["body"]["data"]["result"] == []
    assert httpx.get(url + "/ready").text == "ready\n"


@needs_ref
def test_emulator_time_formats_like_recorded(recorded_loki):
    recorded = json.loads((REF / "43-timestamp-formats.json").read_text())
    for name, case in recorded.items():
        if "start" not in case:
            continue
        params = {"query": '{namespace="kube-system"}', "start": case["start"], "end": case["end"]}
        response = httpx.get(recorded_loki.url + QUERY_RANGE, params=params)
        assert response.status_code == case["status"], name
        if case["error"]:
            assert response.text == case["error"]
        else:
            got = sum(len(s["values"]) for s in response.json()["data"]["result"])
            assert got == case["n_entries"], name
    params = {"query": '{namespace="shop"}', "start": START, "end": END, "interval": "30s"}
    response = httpx.get(recorded_loki.url + QUERY_RANGE, params=params | {"direction": "forward"})
    stamps = sorted(int(v[0]) for s in response.json()["data"]["result"] for v in s["values"])
    assert stamps == recorded["interval_30s_forward"]["ts"]


@needs_ref
@pytest.mark.parametrize("name", ["40-pagination-forward-limit2", "41-pagination-backward-limit2"])
def test_emulator_replays_recorded_paging_trace(recorded_loki, name):
    trace = json.loads((REF / f"{name}.json").read_text())
    for page in trace["pages"]:
        params = {k: str(v) for k, v in page["params"].items()}
        result = httpx.get(recorded_loki.url + QUERY_RANGE, params=params).json()["data"]["result"]
        stamps = sorted(
            (int(v[0]) for s in result for v in s["values"]), reverse=name.startswith("41")
        )
        assert stamps == page["returned_ts"]


def test_emulator_refuses_what_re2_refuses_and_checks_auth():
    with LokiEmulator([Stream({"app": "a"}, [(T0_NS, "x")])], auth_enabled=True) as emu:
        params = {"query": '{app="a"} |~ "(?=x)"', "start": T0_NS - NS, "end": T0_NS + NS}
        refused = httpx.get(emu.url + QUERY_RANGE, params=params, headers={"X-Scope-OrgID": "fake"})
        assert refused.status_code == 400 and "Perl syntax" in refused.text
        no_org = httpx.get(emu.url + QUERY_RANGE, params=params)
        assert (no_org.status_code, no_org.text) == (401, "no org id\n")


# --------------------------------------------------------------------------------------------
# Configuration, headers, TLS
# --------------------------------------------------------------------------------------------

ENV = {
    "LOKI_ADDR": "https://loki.example:3100",
    "LOKI_USERNAME": "alice-user",
    "LOKI_PASSWORD": "s3cr3t-pw",
    "LOKI_ORG_ID": "tenant-1",
    "LOKI_CA_CERT_PATH": "/ca.pem",
    "LOKI_CLIENT_CERT_PATH": "/c.pem",
    "LOKI_CLIENT_KEY_PATH": "/k.pem",
    "LOKI_TLS_SKIP_VERIFY": "true",
}


def test_config_from_env_like_logcli():
    cfg = LokiConfig.from_env(ENV, org_id=None, timeout_s=9.0)
    assert (cfg.addr, cfg.username, cfg.password, cfg.org_id) == (
        "https://loki.example:3100", "alice-user", "s3cr3t-pw", "tenant-1",
    )  # fmt: skip
    assert (cfg.ca_cert_path, cfg.client_cert_path, cfg.client_key_path) == (
        "/ca.pem",
        "/c.pem",
        "/k.pem",
    )
    assert cfg.tls_skip_verify is True and cfg.timeout_s == 9.0
    assert LokiConfig.from_env(ENV, org_id="other").org_id == "other"
    assert LokiConfig.from_env({}).addr == "http://localhost:3100"
    token = LokiConfig.from_env({"LOKI_BEARER_TOKEN": "tok-XYZ", "LOKI_TLS_SKIP_VERIFY": "0"})
    assert token.bearer_token == "tok-XYZ" and token.tls_skip_verify is False
    with pytest.raises(ValueError, match="at most one"):
        LokiConfig.from_env(ENV | {"LOKI_BEARER_TOKEN": "tok-XYZ"})
    with pytest.raises(TypeError):
        LokiConfig.from_env({}, nonsense=1)


def test_config_repr_hides_credentials():
    shown = repr(
        LokiConfig("https://bob:pw-in-url@loki:3100", username="alice-user", password="s3cr3t-pw")
    )
    shown += repr(LokiConfig("http://x", bearer_token="tok-XYZ")) + str(LokiConfig.from_env(ENV))
    for secret in ("alice-user", "s3cr3t-pw", "tok-XYZ", "pw-in-url", "bob"):
        assert secret not in shown
    assert "<redacted>" in shown and "loki:3100" in shown


def test_headers_basic_bearer_file_and_org(tmp_path):
    streams = [Stream({"container": "kopia", "pod": "p"}, [(T0_NS, "hello")])]
    window = (T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    with LokiEmulator(streams, basic_auth=("alice-user", "s3cr3t-pw")) as emu:
        fetch(
            config(emu, username="alice-user", password="s3cr3t-pw", org_id="t1"),
            *window,
            parallel=1,
        )
        headers = emu.query_requests()[0].headers
        assert headers["authorization"].startswith("Basic ")
        assert headers["x-scope-orgid"] == "t1"
        assert headers["x-loki-response-encoding-flags"] == "categorize-labels"
        assert headers["user-agent"].startswith("kopia-postmortem")
    token_file = tmp_path / "token"
    token_file.write_text("tok-one\n")
    with LokiEmulator(streams) as emu:
        cfg = config(emu, bearer_token_file=str(token_file))
        fetch(cfg, *window, parallel=1)
        token_file.write_text("tok-two")  # read at use: a rotated token is picked up
        fetch(cfg, *window, parallel=1)
        seen = [r.headers["authorization"] for r in emu.query_requests()]
        assert seen[0] == "Bearer tok-one" and seen[-1] == "Bearer tok-two"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=test-ca",
        "-days",
        "2",
    )
    for name, extra in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(extra + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")  # fmt: skip
    return d


def test_tls_ca_client_cert_and_skip_verify(certificates):
    d = certificates
    streams = [Stream({"container": "kopia", "pod": "p"}, [(T0_NS, "over tls")])]
    window = (T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    tls = {"tls_cert": str(d / "server.pem"), "tls_key": str(d / "server.key")}
    with LokiEmulator(streams, **tls, tls_client_ca=str(d / "ca.pem")) as emu:
        assert emu.url.startswith("https://")
        cfg = config(emu, ca_cert_path=str(d / "ca.pem"), client_cert_path=str(d / "client.pem"),
                     client_key_path=str(d / "client.key"))  # fmt: skip
        assert fetch(cfg, *window, parallel=1).lines["message"].to_list() == ["over tls"]
    with LokiEmulator(streams, **tls) as emu:
        skip = config(emu, tls_skip_verify=True)
        assert fetch(skip, *window, parallel=1).lines.height == 1
        before = len(emu.requests)
        with pytest.raises(LokiError, match="TLS handshake"):
            fetch(config(emu), *window, parallel=1)  # system CAs do not know the test CA
        assert len(emu.requests) == before  # refused at the handshake, and not retried


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------


def _equal_ts_streams() -> tuple[list[Stream], int]:
    """12,000 lines: 7,000 share one timestamp (the same texts in two pods), 5,000 spread out."""
    same = T0_NS + 30 * 60 * NS
    streams = []
    for pod, count in (("volsync-src-a-aaaaa", 4000), ("volsync-src-b-bbbbb", 3000)):
        before = [(T0_NS + i * 100_000_000, f"{pod} early {i}") for i in range(1250)]
        after = [(same + 1 + i * 100_000_000, f"{pod} late {i}") for i in range(1250)]
        at_same = [(same, f"same-ts line {i:05d}") for i in range(count)]
        labels = {"namespace": "media", "pod": pod, "container": "kopia"}
        streams.append(Stream(labels, before + at_same + after))
    return streams, same


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("server_max", [5000, 20000])
def test_paging_across_equal_timestamps_loses_nothing(direction, server_max):
    streams, _ = _equal_ts_streams()
    expected = Counter((e[0], s.labels["pod"], e[1]) for s in streams for e in s.entries)
    assert sum(expected.values()) == 12000
    with LokiEmulator(streams, max_entries_limit_per_query=server_max) as emu:
        result = fetch(config(emu), T0, T0 + timedelta(hours=1), page_limit=5000, parallel=1,
                       direction=direction)  # fmt: skip
        limits = [int(r.params["limit"]) for r in emu.query_requests() if r.status == 200]
        statuses = [r.status for r in emu.query_requests()]
    assert counted(result.lines) == expected
    assert result.gaps == [] and Counter(statuses)[400] == (1 if server_max == 5000 else 0)
    assert max(limits) == (10000 if server_max == 20000 else 5000)  # grew, or partitioned by prefix
    assert len(statuses) < 40
    assert result.lines["line_no"].max() == 6500 and result.lines.schema == pl.Schema(LINES_SCHEMA)


@needs_ref
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("page_limit", [1, 2, 3])
def test_paging_recorded_data_with_tiny_pages(recorded_loki, direction, page_limit):
    result = fetch(config(recorded_loki), loki.from_ns(START), loki.from_ns(END),
                   selector='{namespace="shop"}', page_limit=page_limit, parallel=1,
                   direction=direction)  # fmt: skip
    assert result.lines.height == 10  # 42-pagination-reference-all.json
    assert result.lines.filter(pl.col("ts") == loki.from_ns(BASE + 20 * NS)).height == 2


timestamps = st.lists(st.integers(0, 40), min_size=0, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(pods=[[0] * 8], page_limit=1, parallel=1, direction="forward")  # fallback at max
@example(pods=[[0, 0, 0, 0]], page_limit=1, parallel=1, direction="forward")  # repeated lines
@example(pods=[[33, 33, 34, 34]], page_limit=1, parallel=1, direction="forward")
@given(
    pods=st.lists(timestamps, min_size=1, max_size=3),
    page_limit=st.integers(1, 7),
    parallel=st.integers(1, 3),
    direction=st.sampled_from(["forward", "backward"]),
)
def test_paging_property_every_line_once(pods, page_limit, parallel, direction):
    streams = []
    for n, offsets in enumerate(pods):
        entries = [
            (T0_NS + off * NS // 4, f"line {i % 3}") for i, off in enumerate(sorted(offsets))
        ]
        streams.append(Stream({"container": "kopia", "pod": f"p{n}"}, entries))
    with LokiEmulator(streams, max_entries_limit_per_query=8) as emu:
        store_rows = Counter(
            (ts, s.labels["pod"], line)
            for s in emu.store.ordered
            for ts, line in zip(s.ts, s.lines, strict=True)
        )
        result = fetch(config(emu), T0, T0 + timedelta(seconds=11), page_limit=page_limit,
                       parallel=parallel, direction=direction)  # fmt: skip
    assert counted(result.lines) == store_rows and result.gaps == []
    assert result.lines["ts"].is_sorted()


# --------------------------------------------------------------------------------------------
# Errors, retries, gaps
# --------------------------------------------------------------------------------------------

SECRETS = ("alice-user", "s3cr3t-pw", "tok-XYZ")


def _mover(**kwargs) -> list[Stream]:
    return mover_streams(start_ns=T0_NS, **({"apps": 3, "runs": 3} | kwargs))


WINDOW = (T0, T0 + timedelta(hours=3))


def test_http_400_raises_query_error_with_loki_text_and_query():
    with LokiEmulator(_mover()) as emu:
        with pytest.raises(LokiQueryError) as info:
            fetch(config(emu), *WINDOW, selector='{container="kopia" |= "x"}', parallel=1)
        starts = [r.params["start"] for r in emu.query_requests()]
        assert len(starts) == len(set(starts)) <= 2  # 400 is never retried; the fetch stops
    message = str(info.value)
    assert "syntax error: unexpected |=, expecting } or ," in message
    assert '{container="kopia" |= "x"}' in message and "\n" not in message


@pytest.mark.parametrize(
    ("emulator", "cfg"),
    [
        (
            {"basic_auth": ("alice-user", "right")},
            {"username": "alice-user", "password": "s3cr3t-pw"},
        ),
        ({"bearer_token": "the-right-one"}, {"bearer_token": "tok-XYZ"}),
        ({"auth_enabled": True}, {"username": "alice-user", "password": "s3cr3t-pw"}),
    ],
)
def test_http_401_raises_auth_error_without_credentials(emulator, cfg):
    with LokiEmulator(_mover(), **emulator) as emu:
        settings_ = config(emu, **cfg)
        with pytest.raises(LokiAuthError) as info:
            fetch(settings_, *WINDOW, parallel=2)
    text = str(info.value) + repr(info.value) + repr(settings_)
    assert "401" in text
    assert not any(secret in text for secret in SECRETS)
    if emulator.get("auth_enabled"):
        assert "no org id" in text


def test_parallel_fetch_raises_the_error_not_the_cancellation_it_caused(monkeypatch):
    """Tasks queued behind a failing one are cancelled, and their futures can finish first:
    `_run_all` must still raise the failing task's own error (this made the 401 test flaky)."""
    from analyzer.sources.loki import fetching  # where _run_all and its threading live

    class SlowSetEvent(threading.Event):
        def set(self) -> None:
            super().set()
            time.sleep(0.3)  # the failing task's future completes well after the cancelled ones

    namespace = SimpleNamespace(Event=SlowSetEvent, Lock=threading.Lock)
    monkeypatch.setattr(fetching, "threading", namespace)

    def refused() -> int:
        raise LokiAuthError("refused")

    tasks = [refused, *[lambda: time.sleep(0.05) or 1] * 5]
    with pytest.raises(LokiAuthError, match="refused"):
        fetching._run_all(tasks, 2, False)


def test_429_and_5xx_are_retried_then_succeed():
    faults = [
        fail_first(2, Fault.http(429)),
        fail_first(2, Fault.http(500)),
        fail_first(1, Fault.http(503)),
    ]
    with LokiEmulator(_mover()) as emu:
        clean = fetch(config(emu), *WINDOW, parallel=2)
    with LokiEmulator(_mover(), faults=faults) as emu:
        result = fetch(config(emu), *WINDOW, parallel=2)
        statuses = Counter(r.status for r in emu.query_requests())
    assert result.gaps == [] and keys(result.lines) == keys(clean.lines)
    assert statuses == Counter({200: clean.requests, 429: 2, 500: 2, 503: 1})
    assert result.requests == clean.requests + 5


def test_subrange_failing_for_good_becomes_a_gap():
    lo, hi = loki.to_ns(WINDOW[0]), loki.to_ns(WINDOW[1])
    pieces = loki.split_range(lo, hi, 2 * loki.SPLITS_PER_WORKER)
    bad_lo, bad_hi = next(p for p in pieces if p[0] <= lo + 3600 * NS < p[1])  # the 2nd run

    def in_bad_range(info):
        return info.path == QUERY_RANGE and bad_lo <= int(info.params["start"]) < bad_hi

    with LokiEmulator(_mover()) as emu:
        clean = fetch(config(emu), *WINDOW, parallel=2)
    with LokiEmulator(_mover(), faults=fail_when(in_bad_range, Fault.http(503))) as emu:
        result = fetch(config(emu), *WINDOW, parallel=2, max_retries=2)
        failed = [r for r in emu.query_requests() if r.status == 503]
    assert len(failed) == 3  # one sub-range, 3 attempts
    assert result.gaps == [
        {
            "from": loki.from_ns(bad_lo),
            "to": loki.from_ns(bad_hi),
            "reason": "lines: HTTP 503: service unavailable",
        }
    ]
    outside = clean.lines.filter(
        (pl.col("ts") < loki.from_ns(bad_lo)) | (pl.col("ts") >= loki.from_ns(bad_hi))
    )
    assert keys(result.lines) == keys(outside) and 0 < outside.height < clean.lines.height


@pytest.mark.parametrize(
    "fault",
    [
        Fault(malformed=True),
        Fault(truncate=True),
        Fault(drop=True),
        Fault.http(502, "<html>bad gateway</html>"),
    ],
    ids=["malformed-json", "truncated-body", "dropped-connection", "html-502"],
)
def test_broken_responses_are_retried(fault):
    with LokiEmulator(_mover(), faults=fail_first(3, fault)) as emu:
        result = fetch(config(emu), *WINDOW, parallel=2)
        clean = fetch(config(emu), *WINDOW, parallel=2)
    assert result.gaps == [] and keys(result.lines) == keys(clean.lines)
    assert result.requests == clean.requests + 3


def test_slow_responses_near_the_timeout():
    slow = Fault(delay_s=0.15)
    with LokiEmulator(_mover(apps=1, runs=1), faults=fail_share(1.0, slow)) as emu:
        result = fetch(config(emu, timeout_s=0.5), *WINDOW, parallel=4)  # slow but in time
        assert result.gaps == [] and result.requests == len(emu.query_requests())
        assert result.requests == 16  # one page per sub-range: nothing was retried
    with LokiEmulator(_mover(apps=1, runs=1), faults=fail_first(2, Fault(delay_s=0.7))) as emu:
        result = fetch(config(emu, timeout_s=0.4), *WINDOW, parallel=4)
        assert result.gaps == [] and result.requests == 16 + 2
    # a Loki that has answered nothing yet and lets two requests time out is not slow but
    # silent: one line at once, not 16 gaps after every retry
    with LokiEmulator(_mover(apps=1, runs=1), faults=fail_share(1.0, Fault(delay_s=0.5))) as emu:
        began = time.monotonic()
        with pytest.raises(LokiUnreachableError, match="answered none of 2 requests within 0.2s"):
            fetch(config(emu, timeout_s=0.2), *WINDOW, parallel=4, max_retries=5)
        assert time.monotonic() - began < 2
    # once it has answered, timeouts are a passing fault: retried, then gaps
    late = fail_when(lambda info: info.index > 0, Fault(delay_s=0.5))
    with LokiEmulator(_mover(apps=1, runs=1), faults=late) as emu:
        result = fetch(config(emu, timeout_s=0.2), *WINDOW, parallel=1, max_retries=0)
    assert result.lines.height > 0 and result.gaps
    assert all(g["reason"] == "lines: no answer within 0.2s" for g in result.gaps)


def test_credentials_never_in_errors_gaps_or_reprs(tmp_path):
    echo = Fault.http(503, "upstream said: user alice-user with s3cr3t-pw is slow")
    seen: list[str] = []
    with LokiEmulator(
        _mover(), basic_auth=("alice-user", "s3cr3t-pw"), faults=fail_share(1.0, echo)
    ) as emu:
        cfg = config(emu, username="alice-user", password="s3cr3t-pw")
        result = fetch(cfg, *WINDOW, parallel=2, max_retries=1)
        seen += [g["reason"] for g in result.gaps] + [repr(cfg), repr(result.gaps)]
    token_file = tmp_path / "token"
    token_file.write_text("tok-XYZ")
    with LokiEmulator(_mover(), bearer_token="other") as emu:
        for cfg in (
            config(emu, bearer_token="tok-XYZ"),
            config(emu, bearer_token_file=str(token_file)),
        ):
            with pytest.raises(LokiAuthError) as info:
                fetch(cfg, *WINDOW, parallel=2)
            seen += [str(info.value), repr(info.value), repr(cfg)]
    url_cfg = LokiConfig(
        "http://alice-user:s3cr3t-pw@127.0.0.1:9", backoff_base_s=0.001, timeout_s=0.5
    )
    # nothing listens there: one error at once (no retries), without the URL's password
    with pytest.raises(LokiUnreachableError) as refused:
        fetch(url_cfg, *WINDOW, parallel=1, max_retries=3)
    seen += [str(refused.value), repr(url_cfg)]
    assert "connection refused" in str(refused.value)
    assert len(seen) > 8
    for text in seen:
        assert not any(secret in text for secret in SECRETS), text
    assert "***" in seen[0]


# --------------------------------------------------------------------------------------------
# Pushdown, activity, label layouts
# --------------------------------------------------------------------------------------------


def _filtered(frame: pl.DataFrame) -> pl.DataFrame:
    combined = re.compile("|".join(f"(?:{f})" for f in FILTERS))
    return frame.filter(pl.col("message").map_elements(lambda m: combined.search(m) is not None,
                                                       return_dtype=pl.Boolean))  # fmt: skip


@pytest.mark.parametrize("collector", ["promtail", "alloy"])
def test_pushdown_and_full_agree(collector):
    streams = _mover(apps=4, runs=3, collector=collector)
    with LokiEmulator(streams) as emu:
        full = fetch(config(emu), *WINDOW, mode="full", line_filters=FILTERS)
        push = fetch(config(emu), *WINDOW, mode="pushdown", line_filters=FILTERS)
        sent = [r.params["query"] for r in emu.query_requests()]
    keep = " | keep namespace, pod, container, k8s_namespace_name, k8s_pod_name, "
    keep += "k8s_container_name, service_name, stream"
    assert full.query == DEFAULT_SELECTOR + keep and full.activity_query == ""
    # the filters are literals already: Loki gets each as a substring search, `or`-ed
    assert push.query == (
        DEFAULT_SELECTOR + ' |~ "=== Done ===" or "Cannot determine current user" or "ERROR:"'
        ' or "OPERATION_RESULT" or "Starting kopia mover container"' + keep
    )
    assert push.query in sent and push.activity_query in sent
    assert "sum by (namespace, pod, container" in push.activity_query
    assert keys(push.lines) == keys(_filtered(full.lines)) and push.lines.height > 0
    assert push.lines_received < full.lines_received and push.bytes_received < full.bytes_received
    a, b = full.activity, push.activity
    assert (
        a.select("namespace", "pod", "container", "lines", "per_minute")
        .sort("pod")
        .equals(b.select("namespace", "pod", "container", "lines", "per_minute").sort("pod"))
    )
    joined = a.join(b, on=["namespace", "pod", "container"], suffix="_push")
    assert joined.height == a.height == 12
    minute = timedelta(minutes=1)
    assert (joined["first_ts_push"] <= joined["first_ts"]).all()
    assert (joined["first_ts"] < joined["first_ts_push"] + minute).all()
    assert (joined["last_ts_push"] - minute < joined["last_ts"]).all()
    assert (joined["last_ts"] <= joined["last_ts_push"]).all()


def test_alloy_labels_map_pod_from_structured_metadata():
    streams = _mover(apps=2, runs=2, collector="alloy")
    assert all("pod" not in s.labels and "pod" in s.metadata for s in streams)
    with LokiEmulator(streams) as emu:
        result = fetch(config(emu), *WINDOW)
    pods = {s.metadata["pod"] for s in streams}
    assert set(result.lines["pod"].unique()) == pods
    assert set(result.lines["stream"].unique()) == {"stdout", "stderr"}
    assert set(result.lines["namespace"].unique()) == {"media", "home"}
    first = result.lines.row(0, named=True)
    # `| keep` leaves the labels that say which pod a line is from (not Alloy's `job`)
    assert first["source"].startswith('{container="kopia", namespace="')
    assert first["source"].endswith(f' | pod="{first["pod"]}"')
    assert result.lines.group_by("source").agg(pl.col("pod").n_unique())["pod"].max() == 1


def test_alloy_pods_sharing_one_stream_are_kept_apart():
    labels = {
        "namespace": "media",
        "container": "kopia",
        "job": "media/kopia",
        "service_name": "kopia",
    }
    entries = [
        (T0_NS + i * NS, f"line {i}", {"pod": f"volsync-src-x-{'ab'[i % 2] * 5}"})
        for i in range(10)
    ]
    with LokiEmulator([Stream(labels, entries)]) as emu:
        result = fetch(config(emu), *WINDOW, mode="full")
        push = fetch(config(emu), *WINDOW, mode="pushdown", line_filters=["line"])
    assert result.lines.group_by("pod").agg(pl.col("line_no").max())["line_no"].to_list() == [5, 5]
    assert sorted(push.activity["pod"].to_list()) == ["volsync-src-x-aaaaa", "volsync-src-x-bbbbb"]


def test_activity_query_respects_series_and_points_limits():
    streams = _mover(apps=8, runs=3, every_ns=2 * 24 * 3600 * NS)  # 24 pods over 4 days
    window = (T0, T0 + timedelta(days=8))  # 11,520 minutes: more than 11,000 points
    with LokiEmulator(streams, max_query_series=10) as emu:
        push = fetch(config(emu), *window, mode="pushdown", line_filters=["Done"], parallel=1)
        metric = [r for r in emu.query_requests() if r.params["query"].startswith("sum")]
    assert push.gaps == [] and push.activity.height == 24
    assert Counter(r.status for r in metric)[400] >= 1  # too many series: bisected, then fine
    for request in metric:
        start, end = int(request.params["start"]), int(request.params["end"])
        assert (end - start) // (60 * NS) <= 11000 and request.params["step"] == "60"
    assert push.activity["lines"].sum() == sum(len(s.entries) for s in streams)


def test_sub_ranges_longer_than_max_query_length_are_bisected():
    streams = _mover(apps=2, runs=10)  # runs hourly over 10 hours
    window = (T0, T0 + timedelta(hours=10))
    with LokiEmulator(streams) as emu:
        clean = fetch(config(emu), *window, mode="pushdown", line_filters=["Done"], parallel=1)
    with LokiEmulator(streams, max_query_length_ns=3600 * NS) as emu:
        split = fetch(config(emu), *window, mode="pushdown", line_filters=["Done"], parallel=1)
        statuses = Counter(r.status for r in emu.query_requests())
    assert statuses[400] >= 2 and split.gaps == []
    assert keys(split.lines) == keys(clean.lines) and split.lines.height == 20
    assert split.activity.equals(clean.activity)


def test_regexes_with_quotes_and_backslashes_are_pushed_down():
    lines = ['say "hi"', r"path C:\temp", "tab\there", "count 42 files", "nothing"]
    streams = [
        Stream(
            {"container": "kopia", "pod": "p"}, [(T0_NS + i * NS, m) for i, m in enumerate(lines)]
        )
    ]
    patterns = [r'"hi"', r"C:\\temp", r"\t", r"\d+ files", r"(?P<named>ignored)"]
    with LokiEmulator(streams) as emu:
        result = fetch(config(emu), *WINDOW, mode="pushdown", line_filters=patterns)
    assert sorted(result.lines["message"]) == sorted(lines[:4])


def test_long_pushdown_query_is_posted_and_page_limit_adapts_to_server_max():
    patterns = [f"marker-{i:04d}" for i in range(700)] + ["OPERATION_RESULT"]
    with LokiEmulator(_mover()) as emu:
        result = fetch(
            config(emu), *WINDOW, mode="pushdown", line_filters=patterns, page_limit=9000
        )
        methods = Counter(r.method for r in emu.query_requests() if "marker" in r.params["query"])
    assert methods["POST"] > 0 and methods["GET"] == 0
    assert result.lines.height == 9 and result.gaps == []


@given(st.text())
def test_logql_quote_round_trips_through_go_unquote(text):
    assert go_unquote(loki.logql_quote(text)) == text


def test_progress_only_on_a_tty(capsys):
    with LokiEmulator(_mover(apps=1, runs=1)) as emu:
        fetch(config(emu), *WINDOW, parallel=2)
        quiet = capsys.readouterr()
        fetch(config(emu), *WINDOW, parallel=2, progress=True)
        shown = capsys.readouterr()
    assert quiet.out == quiet.err == ""
    assert shown.out == "" and "loki" in shown.err


def test_empty_range_and_bad_arguments():
    with LokiEmulator([]) as emu:
        result = fetch(config(emu), *WINDOW, mode="pushdown", line_filters=["x"])
        assert result.lines.is_empty() and result.activity.is_empty() and result.gaps == []
        assert result.lines.schema == pl.Schema(LINES_SCHEMA)
        with pytest.raises(ValueError):
            fetch(config(emu), WINDOW[1], WINDOW[0])
        with pytest.raises(ValueError):
            fetch(config(emu), *WINDOW, mode="fast")


@pytest.mark.parametrize("collector", ["promtail", "alloy"])
def test_directions_and_parallelism_give_identical_frames(collector):
    with LokiEmulator(_mover(collector=collector)) as emu:
        forward = fetch(config(emu), *WINDOW, page_limit=7, parallel=3)
        backward = fetch(config(emu), *WINDOW, page_limit=7, parallel=1, direction="backward")
    assert forward.lines.height > 100 and forward.lines.equals(backward.lines)
    assert forward.activity.equals(backward.activity)
    per_source = forward.lines.group_by("source").agg(
        pl.col("line_no").diff().drop_nulls().eq(1).all()
    )
    assert per_source["line_no"].all()
