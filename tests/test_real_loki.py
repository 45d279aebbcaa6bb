"""Against a real Grafana Loki 3.7.6 (../shared/tools/loki/): the example incident pushed with
Promtail's labels and read back gives the same analysis as the same files.

The emulator stays for what a real Loki cannot do on demand (faults, auth, TLS); these tests pin
what only the real one can show. They skip, with the reason, where the tool is not there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from datetime import datetime

import httpx
import pytest

from analyzer import analyze
from analyzer.sources.loki import LokiConfig, LokiSource
from testing.examples import EXAMPLES, FIX, POD_LOGS, WINDOW, comparable
from testing.loki_streams import promtail_streams

START_LOKI = EXAMPLES.parent.parent / "shared" / "tools" / "loki" / "start-loki"
#: Entries per push request (Loki's default request body limit is generous; keep them small).
PUSH_BATCH = 2000


@pytest.fixture(scope="module")
def real_loki(tmp_path_factory):
    """A real Loki on loopback with the example incident's pod logs pushed into it."""
    if not START_LOKI.exists():
        pytest.skip(f"no real Loki here: {START_LOKI} is missing")
    data = tmp_path_factory.mktemp("loki")
    started = subprocess.run(
        ["bash", str(START_LOKI), str(data)], capture_output=True, text=True, timeout=120
    )
    if started.returncode != 0:
        pytest.fail(f"start-loki failed: {started.stderr.strip()}")
    pid, url = started.stdout.split()
    try:
        events = analyze(POD_LOGS, **WINDOW).events
        with httpx.Client(base_url=url, timeout=30) as client:
            for labels, entries in promtail_streams(events):
                for i in range(0, len(entries), PUSH_BATCH):
                    values = [[str(ts), line] for ts, line in entries[i : i + PUSH_BATCH]]
                    reply = client.post(
                        "/loki/api/v1/push",
                        json={"streams": [{"stream": labels, "values": values}]},
                    )
                    assert reply.status_code == 204, reply.text
        yield url
    finally:
        os.kill(int(pid), signal.SIGTERM)


@pytest.fixture(scope="module")
def from_files():
    return analyze(POD_LOGS, fix_at=datetime.fromisoformat(FIX), **WINDOW)


@pytest.mark.parametrize("mode", ["full", "pushdown"])
def test_a_real_loki_gives_the_same_runs_findings_and_status_as_the_files(
    real_loki, from_files, mode
):
    source = LokiSource(LokiConfig(addr=real_loki), mode=mode, parallel=4, progress=False)
    from_loki = analyze(loki=source, fix_at=datetime.fromisoformat(FIX), **WINDOW)
    assert from_loki.inputs.loki["mode"] == mode and not from_loki.inputs.gaps
    assert comparable(from_loki) == comparable(from_files)
    assert from_loki.runs.height > 600


def test_an_unknown_selector_label_is_no_data_not_an_error(real_loki):
    source = LokiSource(
        LokiConfig(addr=real_loki), selector='{cluster="elsewhere"}', mode="full", progress=False
    )
    a = analyze(loki=source, **WINDOW)
    assert a.runs.height == 0 and a.status == "NO DATA"
    assert any("Loki returned no line" in n for n in a.notices)


def test_a_bad_logql_selector_is_loki_s_own_400(real_loki):
    from analyzer.errors import LokiQueryError
    from testing.loki_emulator import LokiEmulator

    bad = '{container=~"kopia"'
    said = []
    with LokiEmulator() as emulator:
        for url in (real_loki, emulator.url):
            source = LokiSource(LokiConfig(addr=url), selector=bad, mode="full")
            with pytest.raises(LokiQueryError) as info:
                analyze(loki=source, **WINDOW)
            said.append(str(info.value).split(" | LogQL: ")[0])
    # Loki's own words, and the emulator says the same
    assert said[0] == (
        "Loki rejected the query (HTTP 400): parse error at line 1, col 20: syntax error: "
        "unexpected $end, expecting } or ,"
    )
    assert said[1] == said[0]


#: A crowded instant: more lines at one nanosecond than Loki's 5,000-line page cap.
CROWD = 12_000
CROWD_NS = 1_769_875_200_000_000_000  # 2026-01-31T16:00:00Z


def _push(url: str, labels: dict, entries: list[tuple[int, str]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(0, len(entries), PUSH_BATCH):
            values = [[str(ts), line] for ts, line in entries[i : i + PUSH_BATCH]]
            reply = client.post(
                "/loki/api/v1/push", json={"streams": [{"stream": labels, "values": values}]}
            )
            assert reply.status_code == 204, reply.text


def test_paging_through_one_crowded_nanosecond_loses_and_repeats_nothing(real_loki):
    from analyzer.sources.loki import fetch

    labels = {"namespace": "paging", "pod": "volsync-src-crowd-abcde", "container": "kopia"}
    lines = [f"line {i:05d} of the crowd" for i in range(CROWD)]
    _push(real_loki, labels, [(CROWD_NS, line) for line in lines])
    start = datetime.fromisoformat("2026-01-31T15:59:00Z")
    end = datetime.fromisoformat("2026-01-31T16:01:00Z")
    result = fetch(
        LokiConfig(addr=real_loki), start, end, selector='{namespace="paging"}', parallel=2
    )
    got = result.lines["message"].to_list()
    assert len(got) == CROWD and sorted(got) == sorted(lines) and not result.gaps


def test_the_emulator_answers_the_same_queries_as_the_real_loki(real_loki):
    """The same streams in both, the same queries to both: the same lines come back."""
    from analyzer.sources.loki import fetch
    from testing.loki_emulator import LokiEmulator

    labels = {"namespace": "twin", "pod": "volsync-src-twin-abcde", "container": "kopia"}
    entries = [
        (CROWD_NS + i * 1_000_000_000, text)
        for i, text in enumerate(
            [
                "Starting kopia mover container",
                "Executing connection command...",
                "ERROR error connecting to repository: invalid repository password",
                "Kopia completed in 12s",
                "INFO: === Done ===",
            ]
        )
    ]
    _push(real_loki, labels, entries)
    emulator = LokiEmulator()
    emulator.push(labels, entries)
    start = datetime.fromisoformat("2026-01-31T15:59:00Z")
    end = datetime.fromisoformat("2026-01-31T16:05:00Z")
    queries = [
        ('{namespace="twin"}', "full", ()),
        ('{namespace="twin"}', "pushdown", ("(?i:error)",)),
        ('{namespace="twin", container=~"kop.*"}', "full", ()),
    ]
    with emulator:
        for selector, mode, filters in queries:
            answers = [
                fetch(
                    LokiConfig(addr=url),
                    start,
                    end,
                    selector=selector,
                    mode=mode,
                    line_filters=filters,
                    parallel=1,
                ).lines.select("ts", "pod", "message")
                for url in (real_loki, emulator.url)
            ]
            assert answers[0].sort("ts").equals(answers[1].sort("ts")), (selector, mode)


def _push_with_metadata(url: str, labels: dict, entries: list[tuple[int, str, dict]]) -> None:
    values = [[str(ts), line, meta] for ts, line, meta in entries]
    with httpx.Client(base_url=url, timeout=30) as client:
        reply = client.post(
            "/loki/api/v1/push", json={"streams": [{"stream": labels, "values": values}]}
        )
        assert reply.status_code == 204, reply.text


@pytest.mark.parametrize("mode", ["full", "pushdown"])
def test_alloy_s_structured_metadata_names_the_pod_in_both_modes(real_loki, mode):
    """Alloy's Kubernetes pipeline ships `pod` and `stream` as structured metadata: read with
    `categorize-labels` and `| keep`, two pods in one stream stay two pods."""
    from analyzer.sources.loki import fetch

    labels = {"namespace": "alloyns", "container": "kopia", "service_name": "volsync-src-a"}
    t = CROWD_NS + 3_600 * 10**9
    entries = []
    for i, pod in enumerate(("volsync-src-a-bcdfg", "volsync-src-a-hjklm")):
        for j, line in enumerate(["Starting kopia mover container", "INFO: === Done ==="]):
            entries.append((t + i * 10**10 + j * 10**9, line, {"pod": pod, "stream": "stdout"}))
    _push_with_metadata(real_loki, labels, entries)
    result = fetch(
        LokiConfig(addr=real_loki),
        datetime.fromisoformat("2026-01-31T16:59:00Z"),
        datetime.fromisoformat("2026-01-31T17:02:00Z"),
        selector='{namespace="alloyns"}',
        mode=mode,
        line_filters=("Done", "Starting"),
        parallel=1,
    )
    by_pod = result.lines.group_by("pod").len().sort("pod")
    assert by_pod.rows() == [("volsync-src-a-bcdfg", 2), ("volsync-src-a-hjklm", 2)]
    assert set(result.lines["stream"]) == {"stdout"}
    assert set(result.lines["source"]) == {
        f'{{container="kopia", namespace="alloyns", service_name="volsync-src-a"}} | pod="{p}"'
        for p in ("volsync-src-a-bcdfg", "volsync-src-a-hjklm")
    }


def test_index_volume_decides_auto_and_the_report_says_so(real_loki):
    from analyzer.sources.base import Wants
    from analyzer.timeutil import resolve_window

    window = resolve_window(from_=WINDOW["from_"], to=WINDOW["to"])
    wants = Wants(window=window)
    small = LokiSource(LokiConfig(addr=real_loki), progress=False)
    mode, reason = small.transfer_mode(wants)
    assert mode == "full"
    # the example incident's 22,856 lines are about 0.8 MB of text (plus Loki's metadata)
    found = re.search(r"index/volume puts the selector at ([\d.]+) MB", reason)
    assert found and 0.7 < float(found.group(1)) < 1.5
    tight = LokiSource(LokiConfig(addr=real_loki), pushdown_above_mb=0.5, progress=False)
    a = analyze(loki=tight, fix_at=datetime.fromisoformat(FIX), **WINDOW)
    assert a.inputs.loki["mode"] == "pushdown"
    assert a.inputs.loki["mode_reason"].endswith("over 0.5 MB, so the filters were pushed down")


def test_the_emulator_answers_keep_or_filters_and_index_volume_like_the_real_loki(real_loki):
    """Raw answers, side by side: `| keep` with categorized labels, `or`-ed substring filters
    with `(?i)`, and the shape of `index/volume` (its byte counts are the emulator's estimate)."""
    from testing.loki_emulator import LokiEmulator

    labels = {"namespace": "shape", "pod": "volsync-src-shape-abcde", "container": "kopia"}
    labels |= {"app": "volsync-src-shape", "stream": "stderr"}
    entries = [
        (CROWD_NS + 7_200 * 10**9 + i * 10**9, text)
        for i, text in enumerate(
            ["Starting kopia mover container", "ERROR boom", "error: lower", "all fine"]
        )
    ]
    _push(real_loki, labels, entries)
    emulator = LokiEmulator()
    emulator.push(labels, entries)
    params = {"start": str(CROWD_NS + 7_000 * 10**9), "end": str(CROWD_NS + 7_400 * 10**9)}
    headers = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
    query = '{namespace="shape"} |~ "Starting kopia" or "(?i)error" | keep pod, stream'
    with emulator:
        answers = []
        for url in (real_loki, emulator.url):
            with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
                lines = client.get("/loki/api/v1/query_range", params=params | {"query": query})
                volume = client.get(
                    "/loki/api/v1/index/volume", params=params | {"query": '{namespace="shape"}'}
                )
            data = lines.json()["data"]
            answers.append(
                (
                    data["encodingFlags"],
                    [(s["stream"], [v[1:] for v in s["values"]]) for s in data["result"]],
                    [(r["metric"], r["value"][0]) for r in volume.json()["data"]["result"]],
                    volume.json()["data"]["resultType"],
                )
            )
    assert answers[0] == answers[1]
    assert answers[0][1] == [
        (
            {"pod": "volsync-src-shape-abcde", "stream": "stderr"},
            # backward, Loki's default direction: newest first
            [["error: lower", {}], ["ERROR boom", {}], ["Starting kopia mover container", {}]],
        )
    ]


@pytest.mark.parametrize(
    "query",
    [
        '{container=~"kopia"',
        '{container=~"kopia",\n pod="x"',
        '{container=~"kopia",\n pod="x" |= "y"',
        '{container="kopia"} |~ "a" or',
        '{container="kopia"} |~ ',
    ],
)
def test_the_emulator_words_parse_errors_as_the_real_loki_does(real_loki, query):
    """Loki numbers the end of a query by its 1-based line and any other token as line 0."""
    from testing.loki_emulator import LokiEmulator

    answers = []
    with LokiEmulator() as emulator:
        for url in (real_loki, emulator.url):
            reply = httpx.get(f"{url}/loki/api/v1/query_range", params={"query": query})
            answers.append((reply.status_code, reply.text.strip()))
    assert answers[0][0] == 400 and answers[1] == answers[0]
