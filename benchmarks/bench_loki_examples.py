"""Full pull against pushdown on the bundled example corpus, served by the Loki emulator.

Prints, for each mode: lines and bytes over the wire, requests, wall time, and whether the runs,
findings and Verification Status equal those read from the files. Run on demand:

    python -m benchmarks.bench_loki_examples
"""

from __future__ import annotations

import time
from datetime import datetime

from analyzer import analyze
from analyzer.analysis import LokiRequest
from analyzer.sources.loki import LokiConfig
from testing.examples import FIX, POD_LOGS, WINDOW, comparable
from testing.loki_emulator import LokiEmulator
from testing.loki_streams import promtail_streams


def main() -> None:
    fix = datetime.fromisoformat(FIX)
    files = analyze(POD_LOGS, fix_at=fix, **WINDOW)
    want = comparable(files)
    emulator = LokiEmulator(gzip_responses=True)
    for labels, entries in promtail_streams(files.events):
        emulator.push(labels, entries)
    print(f"example corpus: {files.events.height:,} pod-log lines, {files.runs.height} runs")
    print(f"{'mode':<9} {'lines':>9} {'bytes':>11} {'requests':>9} {'wall s':>7}  same analysis")
    with emulator:
        rows = {}
        for mode in ("full", "pushdown"):
            t0 = time.perf_counter()
            got = analyze(
                loki=LokiRequest(LokiConfig(addr=emulator.url), mode=mode, progress=False),
                fix_at=fix,
                **WINDOW,
            )
            wall = time.perf_counter() - t0
            info = got.inputs.loki
            same = all(
                comparable(got)[k] == want[k] for k in ("runs", "findings", "validation", "status")
            )
            rows[mode] = info
            print(
                f"{mode:<9} {info['lines_received']:>9,} {info['bytes_received']:>11,} {info['requests']:>9} {wall:>7.2f}  {same}"
            )
    full, push = rows["full"], rows["pushdown"]
    print(
        f"pushdown saves {full['lines_received'] / push['lines_received']:.1f}x lines and "
        f"{full['bytes_received'] / push['bytes_received']:.1f}x bytes"
    )


if __name__ == "__main__":
    main()
