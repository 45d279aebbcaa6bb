"""Fleet-scale speed and memory: `analyze` end to end against `rg` counting the catalog's regexes.

Generates each input (`scale_corpus.py`; reused from --workdir when already there), warms the page
cache, then times, in turns, `rg -c -z` with every catalog regex over the same files and
`analyze` writing the Markdown report and the JSON output. Prints median wall time, the median
of per-turn ratios to rg, and peak RSS (from `wait4`, so each number is that one process).

    python -m benchmarks.bench_scale                       # node tree 1 GiB and 4 GiB, single 1 GiB files
    python -m benchmarks.bench_scale --shape kubectl:1G --repeat 5
    python -m benchmarks.bench_scale --shape node-tree:1G --all-pods   # also read every pod

Targets (issue #9): report within 1.25x rg's time on each 1 GiB input; peak RSS at most
512 MiB for 1 GiB and 600 MiB for 4 GiB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analyzer import catalog
from benchmarks import scale_corpus

DEFAULT_SHAPES = ("node-tree:1G", "node-tree:4G", "kopia-cli:1G", "kubectl:1G")
TIME_TARGET = 1.25
RSS_TARGET_MIB = {1: 512, 4: 600}
FIX_AT = "2026-01-29T18:00:00Z"  # the example corpus's fix, as in the README


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].isalpha() else int(text)


# Each command runs under a small launcher: a child's peak RSS counts the memory of whatever it
# was forked from (Linux carries it across exec), so it must not be forked from this process,
# which generated the inputs.
LAUNCH = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(proc.pid, 0)
err = proc.stderr.read().decode(errors="replace")
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status), err[-500:])
"""


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one process."""
    out = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCH, *argv], capture_output=True, text=True, check=True
    ).stdout
    wall, rss, status, err = out.split(" ", 3)
    if int(status) not in (0, 1):  # rg says 1 for "no match"
        raise SystemExit(f"{argv[0]} failed ({status}): {err}")
    return float(wall), int(rss) / 1024


def analyze_command() -> list[str]:
    script = Path(sys.executable).with_name("analyze")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from analyzer.cli import main; main()"]


def bench_shape(shape: str, size: int, workdir: Path, repeat: int, all_pods: bool) -> dict:
    target = workdir / f"{shape}-{size >> 20}M"
    t0 = time.perf_counter()
    info = scale_corpus.generate(shape, target, size)
    made = "reused" if info.get("reused") else f"generated in {time.perf_counter() - t0:.0f} s"
    patterns = workdir / "catalog.rx"
    sigs = catalog.load_catalog().signatures
    patterns.write_text("\n".join(catalog.anonymous(rx) for s in sigs for rx in s.regex) + "\n")
    rg = ["rg", "-c", "-z", "-f", str(patterns), str(target)]
    base = [*analyze_command(), str(target), "--fix-at", FIX_AT]
    commands = {
        "rg": rg,
        "analyze md": [*base, "--output-file", str(workdir / "report.md")],
        "analyze json": [*base, "-o", "json", "--output-file", str(workdir / "report.json")],
    }
    if all_pods:
        commands["analyze --all-pods"] = [
            *base,
            "--all-pods",
            "--output-file",
            str(workdir / "all.md"),
        ]
    subprocess.run(["cat", *map(str, _files(target))], stdout=subprocess.DEVNULL, check=True)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            wall, rss = measure(argv)
            runs[name].append((wall, rss))
    rows = []
    for name, samples in runs.items():
        ratios = [w / r for (w, _), (r, _) in zip(samples, runs["rg"], strict=True)]
        rows.append(
            {
                "command": name,
                "wall": statistics.median(w for w, _ in samples),
                "ratio": statistics.median(ratios),
                "rss": max(r for _, r in samples),
            }
        )
    return {
        "shape": shape,
        "size": size,
        "files": info["files"],
        "bytes": info["bytes"],
        "made": made,
        "rows": rows,
    }


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def print_result(result: dict) -> None:
    gib = result["size"] / (1 << 30)
    rss_target = RSS_TARGET_MIB.get(round(gib), RSS_TARGET_MIB[4])
    print(
        f"\n{result['shape']} {gib:g} GiB: {result['files']:,} files, "
        f"{result['bytes'] / (1 << 20):,.0f} MiB on disk ({result['made']})"
    )
    print(f"  {'command':<20} {'wall s':>8} {'x rg':>7} {'peak RSS MiB':>13}  targets")
    for row in result["rows"]:
        checks = ""
        if row["command"] in ("analyze md", "analyze json"):
            time_ok = "ok" if row["ratio"] <= TIME_TARGET or gib > 1 else "MISSED"
            rss_ok = "ok" if row["rss"] <= rss_target else "MISSED"
            time_note = f"time <= {TIME_TARGET}x rg: {time_ok}" if gib <= 1 else "time: no target"
            checks = f"{time_note}; RSS <= {rss_target}: {rss_ok}"
        print(
            f"  {row['command']:<20} {row['wall']:>8.2f} {row['ratio']:>7.2f} {row['rss']:>13.0f}  {checks}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", action="append", help="SHAPE:SIZE, e.g. node-tree:1G (repeatable)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed turns per command")
    parser.add_argument("--workdir", type=Path, help="keep generated inputs here for reuse")
    parser.add_argument("--all-pods", action="store_true", help="also time --all-pods")
    args = parser.parse_args()
    if shutil.which("rg") is None:
        raise SystemExit("ripgrep (rg) is needed as the yardstick: apt install ripgrep")
    workdir = args.workdir or Path(tempfile.gettempdir()) / "kopia-postmortem-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"inputs in {workdir}; {os.cpu_count()} cores; rg and analyze timed in {args.repeat} turns"
    )
    for spec in args.shape or DEFAULT_SHAPES:
        shape, _, size = spec.partition(":")
        print_result(
            bench_shape(shape, parse_size(size or "1G"), workdir, args.repeat, args.all_pods)
        )


if __name__ == "__main__":
    main()
