"""Speed and memory of the file pipeline on a large synthetic node-log corpus.

Writes N mover pods as CRI node logs (formats.md §6.1: healthy backups with Kopia progress lines,
hung ones that stop after `Executing connection command...`, Kopia CLI logs beside them), then
runs `analyze()` and the Markdown rendering in a fresh process and prints lines, wall time,
throughput and peak RSS. Run on demand:

    python -m benchmarks.bench_pipeline            # 2,000 pods, about 1 M lines
    python -m benchmarks.bench_pipeline --pods 400 # quicker
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

from testing import mover
from testing.write import cri, kopia_cli

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 28, tzinfo=UTC)


def pod_lines(rng: random.Random, start: datetime, rs: str, hung: bool, progress: int) -> list[str]:
    """CRI records of one mover pod: the script's marker lines, and for a healthy run `progress`
    Kopia refreshes on stderr; a hung one stops after `Executing connection command...`."""
    t = start
    out = []

    def emit(text: str, stream: str = "stdout", step: float = 0.01) -> None:
        nonlocal t
        t += timedelta(seconds=step)
        out.append(cri(t, stream, text))

    emit(mover.START)
    emit(mover.version_line("v0.17.7"))
    for var in mover.ENV_STATUS_VARS:
        emit(mover.env_status(var, True))
    emit(mover.WHOAMI, "stderr")
    emit(mover.OPERATIONS)
    emit(mover.connecting())
    emit(mover.fs_path())
    emit(mover.EXECUTING)
    if hung:
        return out
    emit(mover.CONNECTED, step=1.5)
    emit(mover.snapshotting(f"{rs}@media:/data"))
    for i in range(progress):
        uploaded = f"{i * 0.05:.1f} GB"
        refresh = mover.progress(i % 4, i * 13, f"{i * 0.1:.1f} GB", 40000 + i, "18.4 GB", uploaded)
        emit(refresh, "stderr", 0.2)
    emit(mover.created(f"k{rng.getrandbits(128):032x}", f"{rng.getrandbits(128):032x}", 41))
    emit(mover.snapshot_timing(42))
    for text in mover.summary_lines(True, 0):
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
            error = mover.user_lookup_error("user: unknown userid 1000")
            (
                cli / f"kopia-{when:%Y%m%d-%H%M%S}-{i}-repository-connect-filesystem.0.log"
            ).write_text(kopia_cli(when, "ERROR", "kopia/repo", error) + "\n")
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
