"""Against a real Grafana Loki 3.7.6 (../shared/tools/loki/): the example incident pushed with
Promtail's labels and read back gives the same analysis as the same files.

The emulator stays for what a real Loki cannot do on demand (faults, auth, TLS); these tests pin
what only the real one can show. They skip, with the reason, where the tool is not there.
"""

from __future__ import annotations

import os
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

    source = LokiSource(LokiConfig(addr=real_loki), selector='{container=~"kopia"', mode="full")
    with pytest.raises(LokiQueryError, match="HTTP 400"):
        analyze(loki=source, **WINDOW)


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
