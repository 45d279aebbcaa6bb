"""Full download vs pushdown against the Loki emulator on a realistic multi-pod mover data set.

Builds `--apps` ReplicationSources backed up every hour for `--hours` hours (one Kopia mover pod
per run, Promtail or Alloy labels, realistic entry.sh lines with Kopia progress refreshes and a
share of failed runs), serves it from `testing.loki_emulator` on 127.0.0.1 and runs
`analyzer.sources.loki.fetch` in both modes with the postmortem's marker filters. Prints lines,
bytes, requests and wall time per mode and the savings ratios.

    python -m benchmarks.bench_loki_pushdown [--apps 20] [--hours 48]
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime, timedelta

import polars as pl

from analyzer.sources import loki
from testing.loki_emulator import LokiEmulator
from testing.loki_streams import FILTERS, mover_streams

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=20, help="ReplicationSources (pods per hour)")
    parser.add_argument("--hours", type=int, default=48, help="hourly runs per app")
    parser.add_argument("--collector", choices=["promtail", "alloy"], default="promtail")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--no-gzip", action="store_true", help="emulator answers uncompressed")
    return parser.parse_args()


def run(
    emu: LokiEmulator, end: datetime, mode: str, parallel: int
) -> tuple[loki.LokiResult, float]:
    """One fetch; returns the result and its wall time in seconds."""
    config = loki.LokiConfig(emu.url, timeout_s=60.0)
    began = time.perf_counter()
    result = loki.fetch(
        config, START, end, mode=mode, line_filters=FILTERS, parallel=parallel, progress=False
    )
    return result, time.perf_counter() - began


def check(full: loki.LokiResult, push: loki.LokiResult) -> None:
    """Pushdown must return exactly the lines the filters keep, and the same activity."""
    combined = re.compile("|".join(f"(?:{f})" for f in FILTERS))
    kept = full.lines.filter(
        pl.col("message").map_elements(lambda m: combined.search(m) is not None, pl.Boolean)
    )
    assert kept.select("ts", "pod", "message").equals(push.lines.select("ts", "pod", "message"))
    columns = ["namespace", "pod", "container", "lines", "per_minute"]
    assert (
        full.activity.select(columns).sort("pod").equals(push.activity.select(columns).sort("pod"))
    )
    assert not full.gaps and not push.gaps


def report(rows: list[tuple[str, loki.LokiResult, float]]) -> None:
    """Print the comparison table and the savings ratios."""
    print(f"{'mode':<9} {'lines kept':>11} {'lines recv':>11} {'bytes recv':>12} {'requests':>9} "
          f"{'wall s':>8}")  # fmt: skip
    for mode, result, wall in rows:
        print(f"{mode:<9} {result.lines.height:>11,} {result.lines_received:>11,} "
              f"{result.bytes_received:>12,} {result.requests:>9,} {wall:>8.2f}")  # fmt: skip
    (_, full, full_wall), (_, push, push_wall) = rows
    print(f"savings: lines received {full.lines_received / max(push.lines_received, 1):.1f}x, "
          f"bytes {full.bytes_received / max(push.bytes_received, 1):.1f}x, "
          f"wall time {full_wall / max(push_wall, 1e-9):.1f}x "
          f"(requests {full.requests} -> {push.requests})")  # fmt: skip


def main() -> None:
    """Build the data set, serve it, fetch it both ways, print the numbers."""
    args = parse_args()
    streams = mover_streams(
        apps=args.apps, runs=args.hours, start_ns=loki.to_ns(START), collector=args.collector,
        failure_share=0.1, progress=(20, 120),
    )  # fmt: skip
    total = sum(len(s.entries) for s in streams)
    pods = len({s.labels.get("pod") or s.metadata.get("pod") for s in streams})
    end = START + timedelta(hours=args.hours)
    print(f"data set: {pods} mover pods, {len(streams)} streams, {total:,} lines over "
          f"{args.hours} h ({args.collector} labels, gzip {'off' if args.no_gzip else 'on'})")  # fmt: skip
    with LokiEmulator(streams, gzip_responses=not args.no_gzip) as emu:
        full, full_wall = run(emu, end, "full", args.parallel)
        push, push_wall = run(emu, end, "pushdown", args.parallel)
    check(full, push)
    print(f"pushdown activity: {push.activity.height} pods, {push.activity['lines'].sum():,} lines "
          "counted by count_over_time (equal to the full download)")  # fmt: skip
    report([("full", full, full_wall), ("pushdown", push, push_wall)])


if __name__ == "__main__":
    main()
