"""The example corpus served by the emulated Loki gives the same analysis as the same files.

Loki ships pod output only (stdout/stderr), not Kopia's own log files on the cache volume nor
Kubernetes dumps, so both sides read the pod logs: files from `examples/logs/{nodes,kubectl}`,
Loki from those lines pushed with Promtail's labels (formats.md §6.4).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from analyzer import analyze
from analyzer.analysis import LokiRequest
from analyzer.cli import main
from analyzer.sources.loki import LokiConfig
from testing.examples import FIX, POD_LOGS, WINDOW, comparable
from testing.loki_emulator import QUERY_RANGE, Fault, LokiEmulator, fail_when
from testing.loki_streams import promtail_streams


@pytest.fixture(scope="module")
def from_files():
    from datetime import datetime

    return analyze(POD_LOGS, fix_at=datetime.fromisoformat(FIX), **WINDOW)


@pytest.fixture(scope="module")
def loki(from_files):
    emulator = LokiEmulator(gzip_responses=True)
    for labels, entries in promtail_streams(from_files.events):
        emulator.push(labels, entries)
    with emulator:
        yield emulator


@pytest.mark.parametrize("mode", ["full", "pushdown"])
def test_loki_gives_the_same_runs_findings_and_status_as_files(from_files, loki, mode):
    from datetime import datetime

    request = LokiRequest(LokiConfig(addr=loki.url), mode=mode, parallel=4, progress=False)
    via_loki = analyze(loki=request, fix_at=datetime.fromisoformat(FIX), **WINDOW)
    want, got = comparable(from_files), comparable(via_loki)
    assert got["runs"] == want["runs"]
    assert got["findings"] == want["findings"]
    assert got["validation"] == want["validation"]
    assert got["status"] == want["status"]
    if mode == "full":
        assert got == want
    info = via_loki.inputs.loki
    assert info["mode"] == mode and info["requests"] > 0 and info["bytes_received"] > 0
    if mode == "pushdown":
        assert info["lines_received"] < from_files.events.height / 3


def test_cli_reads_loki_from_the_environment(loki, monkeypatch):
    monkeypatch.setenv("LOKI_ADDR", loki.url)
    result = CliRunner().invoke(
        main,
        ["--from", WINDOW["from_"], "--to", WINDOW["to"], "--format", "json", "--mode", "full"],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inputs"]["loki"]["mode"] == "full" and len(data["runs"]) > 600


def test_a_sub_range_failing_for_good_is_a_gap_in_the_report_and_exit_2(from_files, monkeypatch):
    from dataclasses import replace

    bad_from = "2026-01-31T00:00:00Z"

    def in_bad_range(info):
        if info.path != QUERY_RANGE:
            return False
        from datetime import datetime

        from analyzer.sources.loki import to_ns

        start = int(info.params["start"])
        return (
            to_ns(datetime.fromisoformat(bad_from))
            <= start
            < to_ns(datetime.fromisoformat("2026-01-31T06:00:00Z"))
        )

    emulator = LokiEmulator(faults=fail_when(in_bad_range, Fault.http(503)))
    for labels, entries in promtail_streams(from_files.events):
        emulator.push(labels, entries)
    fast = LokiConfig.from_env
    monkeypatch.setattr(
        LokiConfig,
        "from_env",
        classmethod(
            lambda cls, env, **kw: replace(fast(env, **kw), backoff_base_s=0.01, backoff_max_s=0.02)
        ),
    )
    with emulator:
        args = [
            "--loki",
            emulator.url,
            "--mode",
            "full",
            "--from",
            "2026-01-30T00:00:00Z",
            "--to",
            WINDOW["to"],
        ]
        result = CliRunner().invoke(main, [*args, "--exit-code"])
        data = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).stdout)
    assert result.exit_code == 2, result.stderr
    assert "**Data gaps (the record is incomplete here):**" in result.stdout
    gaps = data["inputs"]["gaps"]
    assert gaps and all("503" in g["reason"] for g in gaps)
    assert min(g["from"] for g in gaps) >= bad_from
    syncs = next(c for c in data["validation"] if c["criterion"] == "48 hours of successful syncs")
    assert syncs["passed"] is None and "gap" in syncs["reason"]
