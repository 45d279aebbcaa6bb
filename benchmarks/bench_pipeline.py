"""Speed and memory of the file pipeline on a large synthetic node-log corpus.

Writes N mover pods as CRI node logs (formats.md §6.1: healthy backups with Kopia progress lines,
hung ones that stop after `Executing connection command...`, Kopia CLI logs beside them), then
runs `analyze()` and the Markdown rendering in a fresh process and prints lines, wall time,
throughput and peak RSS. Run on demand:

    python benchmarks/bench_pipeline.py            # 2,000 pods, about 1 M lines
    python benchmarks/bench_pipeline.py --pods 400 # quicker
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 28, tzinfo=UTC)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"


def pod_lines(rng: random.Random, start: datetime, rs: str, hung: bool, progress: int) -> list[str]:
    t = start
    out = []

    def emit(text: str, stream: str = "stdout", step: float = 0.01) -> None:
        nonlocal t
        t += timedelta(seconds=step)
        out.append(f"{stamp(t)} {stream} F {text}")

    emit("Starting kopia mover container")
    emit("INFO: VolSync kopia container version: v0.17.7")
    for i in range(20):
        emit(f"KOPIA_ENV_{i}: [SET]")
    emit("whoami: cannot find name for user ID 1000", "stderr")
    emit("INFO: === Starting kopia operations ===")
    emit("Connecting to filesystem repository")
    emit("Using filesystem path: /repository")
    emit("Executing connection command...")
    if hung:
        return out
    emit("Connected to repository.", step=1.5)
    emit(f"Snapshotting {rs}@media:/data ...")
    for i in range(progress):
        emit(
            f" | {i % 4} hashing, {i * 13} hashed ({i * 0.1:.1f} GB), {40000 + i} cached (18.4 GB), uploaded {i * 0.05:.1f} GB, estimating...",
            "stderr",
            0.2,
        )
    emit(
        f"Created snapshot with root k{rng.getrandbits(128):032x} and ID {rng.getrandbits(128):032x} in 41s"
    )
    emit("TIMING: Snapshot creation completed in 42 seconds")
    for text in (
        "INFO: === OPERATION SUMMARY ===",
        "INFO: OPERATION_TYPE: unknown",
        "INFO: OPERATION_RESULT: SUCCESS",
        "INFO: EXIT_CODE: 0",
        "INFO: === Done ===",
    ):
        emit(text)
    return out


def build(root: Path, pods: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    total = 0
    for i in range(pods):
        rs = f"app{i % 50:02d}"
        pod = f"volsync-src-{rs}-{i:05d}"
        start = T0 + timedelta(hours=i // 50, seconds=(i % 50) * 30)
        hung = rng.random() < 0.1
        lines = pod_lines(rng, start, rs, hung, progress=rng.randint(300, 600))
        d = root / "var/log/pods" / f"media_{pod}_{i:08d}-1111-2222-3333-444455556666" / "kopia"
        d.mkdir(parents=True)
        (d / "0.log").write_text("\n".join(lines) + "\n")
        total += len(lines)
        if hung:
            cli = root / "cache" / f"volsync-src-{rs}-cache" / "logs" / "cli-logs"
            cli.mkdir(parents=True, exist_ok=True)
            when = start + timedelta(seconds=0.5)
            (
                cli / f"kopia-{when:%Y%m%d-%H%M%S}-{i}-repository-connect-filesystem.0.log"
            ).write_text(
                f"{when:%Y-%m-%dT%H:%M:%S.%f}Z ERROR kopia/repo Cannot determine current user: user: unknown userid 1000\n"
            )
            total += 1
    return total


CHILD = """
import sys, time
t0 = time.perf_counter()
from analyzer import analyze
from analyzer.report import render_markdown
t1 = time.perf_counter()
a = analyze([sys.argv[1]])
t2 = time.perf_counter()
md = render_markdown(a)
t3 = time.perf_counter()
print(a.events.height, a.runs.height, len(md), t1 - t0, t2 - t1, t3 - t2)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        lines = build(root, args.pods)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(
            f"corpus: {args.pods:,} pods, {lines:,} lines, {size / 1e6:.1f} MB (written in {time.perf_counter() - t0:.1f} s)"
        )
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(root)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        events, runs, md_len, t_import, t_analyze, t_render = out.stdout.split()
        print(
            f"analyze: {lines:,} lines ({int(events):,} kept as events), {int(runs):,} runs "
            f"in {float(t_analyze):.2f} s ({lines / float(t_analyze):,.0f} lines/s, "
            f"{size / 1e6 / float(t_analyze):.1f} MB/s)"
        )
        print(
            f"render:  {int(md_len):,} chars in {float(t_render):.2f} s; import {float(t_import):.2f} s"
        )
        print(f"process: {wall:.2f} s wall, peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
