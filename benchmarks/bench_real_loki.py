"""Full pull, pushdown and auto against a real Grafana Loki 3.7.6 (../shared/tools/loki/).

Starts the real Loki in a temporary folder, pushes two corpora with Promtail's labels (each
under its own `bench` label) and reads each back through `analyze` in the three modes:

- `example`: the bundled example incident (22,856 mover lines over 4 days, error-dense: every
  hourly run of the affected apps logs the cgo user-lookup failure);
- `fleet-N`: a generated fleet, N (`--apps`) ReplicationSources backed up hourly for `--days` days
  (one Kopia mover pod per run, Kopia progress refreshes, a share of failed runs).

For each it prints wall time (best of `--repeat`), requests, lines and bytes over the wire, and
Loki's own `stats.summary` summed over the answers (bytes and lines processed, exec time), and
checks that the three modes give the same runs and findings.

    python -m benchmarks.bench_real_loki [--apps 6 24] [--days 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from analyzer import analyze
from analyzer.sources.loki import LokiConfig, LokiSource
from analyzer.timeutil import fmt_utc
from testing.examples import POD_LOGS, WINDOW, comparable
from testing.loki_streams import mover_streams, promtail_streams

START_LOKI = Path(__file__).resolve().parents[2] / "shared" / "tools" / "loki" / "start-loki"
FLEET_START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class LokiStats:
    """Loki's `stats.summary`, summed over the answers a run got."""

    bytes_processed: int = 0
    lines_processed: int = 0
    exec_time: float = 0.0
    answers: int = 0
    #: Loki's exec time by kind of request: log lines, metric (activity), index.
    exec_by_kind: dict[str, float] = field(default_factory=dict)


class CountingTransport(httpx.BaseTransport):
    """The default transport, reading each answer's `stats.summary` on the way through."""

    def __init__(self, stats: LokiStats) -> None:
        self.inner = httpx.HTTPTransport()
        self.stats = stats
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        raw = b"".join(response.iter_raw())  # as on the wire: the client counts these bytes
        response.close()
        body = gzip.decompress(raw) if response.headers.get("content-encoding") == "gzip" else raw
        try:
            payload = json.loads(body)
            summary = payload["data"]["stats"]["summary"]
            kind = payload["data"].get("resultType", "")
        except (ValueError, KeyError, TypeError):
            summary, kind = None, ""
        if summary:
            kind = {"streams": "lines", "matrix": "metric"}.get(kind, "index")
            with self.lock:
                self.stats.bytes_processed += summary.get("totalBytesProcessed", 0)
                self.stats.lines_processed += summary.get("totalLinesProcessed", 0)
                self.stats.exec_time += summary.get("execTime", 0.0)
                self.stats.answers += 1
                by_kind = self.stats.exec_by_kind
                by_kind[kind] = by_kind.get(kind, 0.0) + summary.get("execTime", 0.0)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            request=request,
        )


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--apps",
        type=int,
        nargs="+",
        default=[6, 24],
        help="fleet ReplicationSources (one fleet each)",
    )
    parser.add_argument("--days", type=int, default=7, help="fleet days of hourly runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (best is shown)")
    parser.add_argument("--parallel", type=int, default=4)
    return parser.parse_args()


def start_loki(data: str) -> tuple[int, str]:
    """A real Loki on loopback: its pid and URL."""
    started = subprocess.run(
        ["bash", str(START_LOKI), data], capture_output=True, text=True, timeout=180, check=True
    )
    pid, url = started.stdout.split()
    return int(pid), url


def push(url: str, streams: list[tuple[dict, list[tuple[int, str]]]]) -> int:
    """Push (labels, [(ns, line)]) streams; returns the number of lines."""
    total = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for labels, entries in streams:
            for i in range(0, len(entries), 2000):
                values = [[str(ts), line] for ts, line in entries[i : i + 2000]]
                reply = client.post(
                    "/loki/api/v1/push", json={"streams": [{"stream": labels, "values": values}]}
                )
                reply.raise_for_status()
                total += len(values)
    return total


def fleet(apps: int, days: int) -> list[tuple[dict, list[tuple[int, str]]]]:
    """The generated fleet as (labels, entries), labelled `bench="fleet-<apps>"`."""
    start_ns = int(FLEET_START.timestamp()) * 10**9
    streams = mover_streams(
        apps=apps, runs=24 * days, start_ns=start_ns, failure_share=0.1, progress=(20, 120)
    )
    return [(s.labels | {"bench": f"fleet-{apps}"}, list(s.entries)) for s in streams]


def measure(url: str, selector: str, window: dict, mode: str, repeat: int, parallel: int):
    """Best wall time of `repeat` analyses in `mode`, and the last run's counters."""
    best, last, stats = float("inf"), None, LokiStats()
    for _ in range(repeat):
        stats = LokiStats()
        source = LokiSource(
            LokiConfig(addr=url, timeout_s=120), selector=selector, mode=mode,
            parallel=parallel, progress=False, transport=CountingTransport(stats),
        )  # fmt: skip
        began = time.perf_counter()
        last = analyze(loki=source, **window)
        best = min(best, time.perf_counter() - began)
    return best, last, stats


def main() -> None:
    """Start Loki, push both corpora, read each back in the three modes, print the table."""
    args = parse_args()
    if not START_LOKI.exists():
        raise SystemExit(f"no real Loki here: {START_LOKI} is missing")
    with tempfile.TemporaryDirectory() as data:
        pid, url = start_loki(data)
        try:
            example = [
                (labels | {"bench": "example"}, entries)
                for labels, entries in promtail_streams(analyze(POD_LOGS, **WINDOW).events)
            ]
            fleet_window = {
                "from_": fmt_utc(FLEET_START),
                "to": fmt_utc(FLEET_START + timedelta(days=args.days, hours=1)),
            }
            corpora = [("example", example, WINDOW)] + [
                (f"fleet-{apps}", fleet(apps, args.days), fleet_window) for apps in args.apps
            ]
            print(f"Loki 3.7.6 at {url}; best of {args.repeat}; parallel {args.parallel}")
            header = (
                f"{'corpus':<8} {'mode':<9} {'chosen':<9} {'wall s':>7} {'requests':>8} "
                f"{'lines recv':>10} {'bytes recv':>11} {'Loki bytes proc':>15} "
                f"{'Loki lines proc':>15} {'Loki exec s':>11}"
            )
            for name, streams, window in corpora:
                lines = push(url, streams)
                pods = len({labels["pod"] for labels, _ in streams})
                print(f"\n{name}: {lines:,} lines, {pods:,} pods, {window}")
                print(header)
                selector = f'{{bench="{name}"}}'
                results = {}
                for mode in ("full", "pushdown", "auto"):
                    wall, a, stats = measure(
                        url, selector, window, mode, args.repeat, args.parallel
                    )
                    loki = a.inputs.loki
                    results[mode] = (wall, loki, a)
                    print(
                        f"{name:<8} {mode:<9} {loki['mode']:<9} {wall:>7.2f} {loki['requests']:>8,} "
                        f"{loki['lines_received']:>10,} {loki['bytes_received']:>11,} "
                        f"{stats.bytes_processed:>15,} {stats.lines_processed:>15,} "
                        f"{stats.exec_time:>11.2f}  "
                        + " ".join(f"{k} {v:.2f}" for k, v in sorted(stats.exec_by_kind.items()))
                    )
                same = comparable(results["full"][2]) == comparable(results["pushdown"][2])
                same &= comparable(results["full"][2]) == comparable(results["auto"][2])
                full, push_ = results["full"], results["pushdown"]
                faster = min(full[0], push_[0])
                print(
                    f"same runs and findings in all three modes: {same}; pushdown wall / full "
                    f"{push_[0] / full[0]:.2f}; auto / faster {results['auto'][0] / faster:.2f}; "
                    f"pushdown bytes / full {push_[1]['bytes_received'] / full[1]['bytes_received']:.2f}"
                )
                print(f"auto: {results['auto'][1]['mode_reason']}")
        finally:
            os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
