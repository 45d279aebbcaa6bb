"""Loki's HTTP side and paging through `httpx.MockTransport`: error mapping, retries, gaps and
pages that cut through one timestamp, without the socket emulator (as httpx tests its clients).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from analyzer.sources.loki import LokiAuthError, LokiConfig, LokiQueryError, fetch
from analyzer.sources.loki.times import to_ns

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
END = START + timedelta(minutes=10)
T_NS = to_ns(START + timedelta(minutes=4))  # where the crowded timestamps sit
TOKEN = "s3cret-token"

Handler = Callable[[httpx.Request], httpx.Response]


def config(**kwargs) -> LokiConfig:
    """A config with tiny backoffs so retry tests stay fast; the address is never dialled."""
    kwargs = {"backoff_base_s": 0.001, "backoff_max_s": 0.005} | kwargs
    return LokiConfig("http://loki.invalid:3100", **kwargs)


def run(handler: Handler, **kwargs):
    """`fetch` over [START, END) with `handler` answering every request."""
    settings = kwargs.pop("settings", None) or config()
    kwargs = {"parallel": 1, "progress": False} | kwargs
    return fetch(settings, START, END, transport=httpx.MockTransport(handler), **kwargs)


def params(request: httpx.Request) -> dict[str, str]:
    """The query_range parameters, whether sent as a GET query or a POST form."""
    if request.method == "POST":
        return dict(parse_qsl(request.content.decode()))
    return dict(request.url.params)


def streams(entries: list[tuple[int, dict[str, str], str]]) -> httpx.Response:
    """A `streams` answer, one result per label set, entries in the order given."""
    result: dict[str, dict] = {}
    for ts, labels, line in entries:
        item = result.setdefault(json.dumps(labels, sort_keys=True), {"stream": labels})
        item.setdefault("values", []).append([str(ts), line])
    data = {"resultType": "streams", "result": list(result.values())}
    return httpx.Response(200, json={"status": "success", "data": data})


class FakeLoki:
    """query_range over a fixed list of entries: `[start, end)`, direction, limit, an optional
    `|~` line filter, and the server's maximum page size (HTTP 400 above it, as Loki says)."""

    def __init__(self, entries: list[tuple[int, dict[str, str], str]], max_limit: int) -> None:
        self.entries = entries
        self.max_limit = max_limit
        self.limits: list[int] = []
        self.queries: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        p = params(request)
        limit = int(p["limit"])
        self.limits.append(limit)
        self.queries.append(p["query"])
        if limit > self.max_limit:
            text = (
                "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                f"({limit} > {self.max_limit})"
            )
            return httpx.Response(400, text=text)
        lo, hi = int(p["start"]), int(p["end"])
        regex = _line_filter(p["query"])
        chosen = [e for e in self.entries if lo <= e[0] < hi and regex.search(e[2])]
        # one order for the lines of a timestamp, whichever the direction (as Loki's merge)
        chosen.sort(key=lambda e: (e[0], json.dumps(e[1], sort_keys=True), e[2]))
        if p["direction"] == "backward":
            chosen.sort(key=lambda e: e[0], reverse=True)
        return streams(chosen[:limit])


def _line_filter(query: str) -> re.Pattern[str]:
    """The `|~ "regex"` of a query as a Python regex (RE2's `\\x{hex}` rewritten)."""
    if " |~ " not in query:
        return re.compile("")
    quoted = query.split(" |~ ", 1)[1]
    pattern = json.loads(quoted)  # logql_quote's escapes are JSON's for printable text
    return re.compile(re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: f"\\U{int(m[1], 16):08x}", pattern))


def lines_of(result) -> list[tuple[int, str, str]]:
    """(ts in ns, source, message) of every line fetched."""
    columns = result.lines["ts"].dt.epoch("ns"), result.lines["source"], result.lines["message"]
    return list(zip(*columns, strict=True))


# --------------------------------------------------------------------------------------------
# Error mapping
# --------------------------------------------------------------------------------------------


def test_400_raises_a_query_error_with_lokis_text_and_the_logql():
    text = "parse error at line 1, col 12: syntax error: unexpected IDENTIFIER"
    with pytest.raises(LokiQueryError) as info:
        run(lambda request: httpx.Response(400, text=text), selector='{container="kopia"}')
    assert text in str(info.value)
    assert 'LogQL: {container="kopia"}' in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_raise_an_auth_error_that_never_shows_the_token(status):
    def refuse(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return httpx.Response(status, text=f"no: {request.headers['Authorization']}")

    with pytest.raises(LokiAuthError) as info:
        run(refuse, settings=config(bearer_token=TOKEN))
    assert f"HTTP {status}" in str(info.value)
    assert TOKEN not in str(info.value)


def test_429_is_retried_then_the_lines_arrive():
    calls: list[int] = []
    entry = (T_NS, {"pod": "p"}, "hello")

    def busy_then_fine(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= 2:
            return httpx.Response(429, headers={"Retry-After": "0"}, text="slow down")
        lo, hi = int(params(request)["start"]), int(params(request)["end"])
        return streams([entry] if lo <= entry[0] < hi else [])

    result = run(busy_then_fine)
    assert result.gaps == []
    assert result.lines["message"].to_list() == ["hello"]
    assert result.requests == len(calls) == 4 + 2  # 4 sub-ranges, 2 refused attempts


def test_500_that_keeps_failing_becomes_gaps_over_the_window_not_an_error():
    calls: list[int] = []

    def broken(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500, text="boom")

    result = run(broken, max_retries=2)
    assert result.lines.is_empty()
    assert len(calls) == 4 * 3  # 4 sub-ranges, 3 attempts each
    assert {gap["reason"] for gap in result.gaps} == {"lines: HTTP 500: boom"}
    assert result.gaps[0]["from"] == START and result.gaps[-1]["to"] == END
    for before, after in zip(result.gaps, result.gaps[1:], strict=False):
        assert before["to"] == after["from"]


# --------------------------------------------------------------------------------------------
# Paging: nothing lost, nothing twice, when pages cut through one timestamp
# --------------------------------------------------------------------------------------------


def crowded() -> list[tuple[int, dict[str, str], str]]:
    """11 lines on one timestamp (one text in two streams), with neighbours on either side."""
    a, b = {"pod": "a"}, {"pod": "b"}
    entries = [(T_NS - 1, a, "before")]
    entries += [(T_NS, a, f"line {i:02d}") for i in range(9)]
    entries += [(T_NS, a, "same text"), (T_NS, b, "same text")]
    entries += [(T_NS + 1, b, "after 1"), (T_NS + 1, b, "after 2"), (T_NS + 2, a, "last")]
    return entries


def expected(entries) -> list[tuple[int, str, str]]:
    """What `lines_of` must give for these entries, sorted."""
    return sorted((ts, f'{{pod="{labels["pod"]}"}}', line) for ts, labels, line in entries)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_pages_across_one_timestamp_grow_the_limit(direction):
    loki = FakeLoki(crowded(), max_limit=1000)
    result = run(loki, page_limit=3, direction=direction)
    assert sorted(lines_of(result)) == expected(crowded())
    assert result.gaps == []
    assert max(loki.limits) == 12  # 3, 6, 12: doubled until the timestamp fits on a page
    assert not any(" |~ " in query for query in loki.queries)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_a_timestamp_fuller_than_the_servers_maximum_is_split_by_line_prefix(direction):
    loki = FakeLoki(crowded(), max_limit=4)
    result = run(loki, page_limit=3, direction=direction)
    assert sorted(lines_of(result)) == expected(crowded())
    assert result.gaps == []
    assert 6 in loki.limits  # refused once above the maximum, then never asked again
    assert all(limit <= 4 for limit in loki.limits[loki.limits.index(6) + 1 :])
    assert any(" |~ " in query for query in loki.queries)  # the timestamp's lines by prefix


# --------------------------------------------------------------------------------------------
# Import cost
# --------------------------------------------------------------------------------------------


def test_importing_the_loki_package_loads_no_http_stack():
    code = (
        "import sys, analyzer.sources.loki as loki; loki.LokiConfig; loki.DEFAULT_SELECTOR; "
        "print(sorted(m for m in ('httpx', 'tenacity', 'tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
