"""Loki answers an adversarial probe sent (issue 19): a server that never answers, a gzip bomb,
entries with impossible timestamps or lines that are not text, error bodies that echo the
credentials in other encodings. Each becomes one line, a stated gap or a correct read.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from analyzer import analyze
from analyzer.errors import LokiUnreachableError
from analyzer.sources.loki import LokiConfig, LokiSource, fetch
from analyzer.sources.loki.http import MAX_RESPONSE_BYTES
from analyzer.sources.loki.times import to_ns

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
END = START + timedelta(minutes=10)
T = to_ns(START + timedelta(minutes=1))
LABELS = {"namespace": "media", "pod": "volsync-src-app-abcde", "container": "kopia"}


def config(**kwargs) -> LokiConfig:
    kwargs = {"backoff_base_s": 0.001, "backoff_max_s": 0.005} | kwargs
    return LokiConfig("http://loki.invalid:3100", **kwargs)


def run(handler, settings: LokiConfig | None = None, **kwargs):
    """`fetch` over [START, END) with `handler` answering every request, one worker."""
    kwargs = {"parallel": 1, "progress": False} | kwargs
    return fetch(settings or config(), START, END, transport=httpx.MockTransport(handler), **kwargs)


def answer(values: list) -> httpx.Response:
    data = {"resultType": "streams", "result": [{"stream": LABELS, "values": values}]}
    return httpx.Response(200, json={"status": "success", "data": data})


def test_entries_with_impossible_times_or_non_text_lines_are_counted_not_fatal():
    sent = [
        [str(T), "Starting kopia mover container"],
        ["99999999999999999999999", "a time past 2262"],
        ["not-a-number", "a time that is no number"],
        [str(T + 1), {"msg": "a JSON object where a line should be"}],
        [str(T + 2), None],
        [str(T + 3), "INFO: === Done ==="],
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answer(sent if request.url.params["start"] == str(to_ns(START)) else [])

    result = run(handler)
    assert result.lines["message"].to_list() == [
        "Starting kopia mover container",
        "INFO: === Done ===",
    ]
    assert result.unreadable == {"an impossible timestamp": 2, "a line that is not text": 2}
    assert not result.gaps


def test_unreadable_entries_reach_the_report_as_a_notice():
    def handler(request: httpx.Request) -> httpx.Response:
        if "/index/" in request.url.path:
            return httpx.Response(404, text="404 page not found\n")
        if request.url.params["start"] != str(to_ns(START)):
            return answer([])
        return answer([[str(T), "Starting kopia mover container"], ["-1e400", "x"]])

    source = LokiSource(config(), mode="full", transport=httpx.MockTransport(handler))
    a = analyze(loki=source, from_="2026-03-02T02:00:00Z", to="2026-03-02T02:10:00Z")
    assert (
        "1 entries Loki sent could not be read and are not analysed "
        "(1 with an impossible timestamp)" in a.notices
    )


def test_an_answer_past_the_size_cap_is_asked_for_fewer_lines_then_is_a_gap():
    """A gzip bomb: a few MB on the wire that inflate past the cap are never inflated whole;
    smaller pages (in case the lines are merely long) do not help, so the range is a gap."""
    bomb = gzip.compress(
        b'{"status":"success","data":{"resultType":"streams","result":['
        + b" " * (MAX_RESPONSE_BYTES + 2**20)
    )
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append((request.url.params["start"], request.url.params["limit"]))
        if request.url.params["start"] == str(to_ns(START)):
            return httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
        return answer([])

    result = run(handler)
    assert len(bomb) < 2 * 2**20
    first = [limit for start, limit in asked if start == str(to_ns(START))]
    assert first == ["5000", "625", "78", "10"]  # never the same page twice
    assert len(result.gaps) == 1
    assert result.gaps[0]["reason"].startswith("lines: not read: Loki's answer passed 64 MiB")


def test_long_lines_past_the_cap_are_read_in_smaller_pages():
    """Forty 2 MiB lines make an 80 MiB page: asked again for fewer lines, nothing is lost."""
    line = "ERROR: " + "x" * (2 * 2**20)
    entries = [[str(T + i), f"{i:02d} {line}"] for i in range(40)]

    def handler(request: httpx.Request) -> httpx.Response:
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        limit = int(request.url.params["limit"])
        return answer([e for e in entries if start <= int(e[0]) < end][:limit])

    result = run(handler)
    assert not result.gaps
    assert [m[:2] for m in result.lines["message"].to_list()] == [f"{i:02d}" for i in range(40)]


def test_a_server_that_never_answers_fails_in_seconds_not_minutes():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    began = time.monotonic()
    with pytest.raises(LokiUnreachableError, match="answered none of 2 requests within 30s"):
        run(handler, parallel=4)
    assert time.monotonic() - began < 5


def test_the_overall_deadline_turns_what_is_left_into_gaps():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["start"] == str(to_ns(START)):
            return answer([[str(T), "Starting kopia mover container"]])
        time.sleep(0.3)
        return httpx.Response(503, text="too many outstanding requests")

    began = time.monotonic()
    result = run(handler, config(deadline_s=1.0), max_retries=50)
    assert time.monotonic() - began < 3
    assert result.lines.height == 1
    reasons = {g["reason"] for g in result.gaps}
    assert "lines: not read: the fetch passed its deadline of 1s" in reasons


@pytest.mark.parametrize(
    "echo",
    [
        "Authorization: Basic {b64}",
        "request for https://alice:{url}@loki/ failed",
        '{{"password": "{json}"}}',
        "pw={plus}",
    ],
)
def test_error_bodies_never_echo_the_credentials_in_any_encoding(echo):
    password = 'p@ss/w#rd?"x y'
    b64 = base64.b64encode(f"alice:{password}".encode()).decode()
    from urllib.parse import quote, quote_plus

    body = echo.format(
        b64=b64,
        url=quote(password, safe=""),
        json=json.dumps(password)[1:-1],
        plus=quote_plus(password),
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Basic {b64}"
        return httpx.Response(503, text=body)

    result = run(handler, config(username="alice", password=password), max_retries=0)
    shown = json.dumps([g["reason"] for g in result.gaps])
    assert result.gaps and "***" in shown
    for form in (b64, quote(password, safe=""), quote_plus(password), password):
        assert form not in shown
