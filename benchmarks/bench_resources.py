"""Hostile input against bounded resources: the longest line, a gzip bomb, the most templates.

Each input is generated once into --workdir (reused when already there) and `analyze` runs on
it under `/usr/bin/time -v`, which gives the wall time and the peak RSS of that one process:

- `line-256M`, `line-1G`: one line of 256 MiB / 1 GiB without a newline (a process that wrote
  a binary blob to stdout, or `\\r` progress that never ended a line);
- `gz-1G-line`: 1 MiB of gzip holding one 1 GiB line;
- `gz-bomb-10G`: ten gzip members of 1 GiB each in 10 MiB: stops at the decompression cap;
- `templates-100k`: 100,000 distinct unrecognised error lines (each its own template), Markdown
  and JSON;
- `loki-gzip-bomb`: a server on 127.0.0.1 that answers every Loki query with 1 MiB of gzip that
  inflates to a 1 GiB JSON body (the probe's 3.1 MB answer took 15 GB): read with `--loki`.

    python -m benchmarks.bench_resources                     # every case
    python -m benchmarks.bench_resources --case line-1G

Targets (issue 19): the 1 GiB single-line file in under a minute within 512 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import random
import re
import string
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

CASES = ("line-256M", "line-1G", "gz-1G-line", "gz-bomb-10G", "templates-100k", "loki-gzip-bomb")
POD = "volsync-src-recyclarr-q7x2k"
MiB = 1 << 20


def _one_line(path: Path, size: int) -> None:
    stamp = b"2026-01-31T16:00:00.000000000Z stdout F ERROR: "
    chunk = bytes(range(0x41, 0x5B)) * (MiB // 26) + b"A" * (MiB % 26)
    with path.open("wb") as fh:
        fh.write(stamp)
        for _ in range(size // MiB):
            fh.write(chunk)


def _gzip_member(size: int) -> bytes:
    """One gzip member of `size` bytes of one line (deflate at its best ratio, ~1,030x)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    stamp = b"2026-01-31T16:00:00.000000000Z stdout F "
    out = [packer.compress(stamp)]
    block = b"A" * (16 * MiB)
    for _ in range(size // len(block)):
        out.append(packer.compress(block))
    out.append(packer.flush())
    return b"".join(out)


def _templates(path: Path, n: int) -> None:
    rng = random.Random(19)
    t0 = datetime(2026, 1, 31, 16, tzinfo=UTC)
    with path.open("w") as fh:
        for i in range(n):
            words = " ".join(
                "".join(rng.choice(string.ascii_lowercase) for _ in range(6)) for _ in range(4)
            )
            ts = (t0 + timedelta(milliseconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            fh.write(f"{ts} stderr F ERROR: {words} failed to reach the repository\n")


def _loki_bomb_body() -> bytes:
    """A `streams` answer whose one line is 1 GiB of `A`, gzipped (about 1 MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = b'{"status":"success","data":{"resultType":"streams","result":[{"stream":'
    head += b'{"namespace":"media","pod":"' + POD.encode() + b'","container":"kopia"},'
    head += b'"values":[["1769875200000000000","'
    out = [packer.compress(head)]
    block = b"A" * (16 * MiB)
    for _ in range(64):
        out.append(packer.compress(block))
    out.append(packer.compress(b'"]]}]}}'))
    out.append(packer.flush())
    return b"".join(out)


@contextlib.contextmanager
def _bomb_server() -> Iterator[str]:
    """A Loki stand-in on 127.0.0.1 answering every query_range with the gzip bomb."""
    body = _loki_bomb_body()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not self.path.startswith("/loki/api/v1/query_range"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client hangs up at its cap
                self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def generate(case: str, workdir: Path) -> Path:
    """The input of `case` (made once)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = {
        "line-256M": workdir / f"{POD}.line-256M.log",
        "line-1G": workdir / f"{POD}.line-1G.log",
        "gz-1G-line": workdir / f"{POD}.line-1G.log.gz",
        "gz-bomb-10G": workdir / f"{POD}.bomb-10G.log.gz",
        "templates-100k": workdir / f"{POD}.templates-100k.log",
    }[case]
    if path.exists():
        return path
    part = path.with_suffix(".part")
    if case.startswith("line-"):
        _one_line(part, 256 * MiB if case == "line-256M" else 1024 * MiB)
    elif case == "gz-1G-line":
        part.write_bytes(_gzip_member(1024 * MiB))
    elif case == "gz-bomb-10G":
        member = _gzip_member(1024 * MiB)
        with part.open("wb") as fh:
            for _ in range(10):
                fh.write(member)
    else:
        _templates(part, 100_000)
    part.rename(path)
    return path


def time_v(argv: list[str], out: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stderr's last line of one run under `/usr/bin/time -v`
    (its output written to `out`)."""
    with out.open("w") as fh:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", *argv], stdout=fh, stderr=subprocess.PIPE, text=True
        )
    err = proc.stderr
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    if proc.returncode not in (0, 1, 2) or not wall or not rss:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {err[-800:]}")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    ours = [line for line in err.splitlines() if line.startswith("analyze:")]
    return seconds, int(rss.group(1)) / 1024, (ours[-1] if ours else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", action="append", choices=CASES)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kopia-postmortem-bench"))
    args = parser.parse_args()
    command = [sys.executable, "-m", "analyzer.cli"]
    print(f"{'case':<16} {'input':>12} {'output':<9} {'wall s':>8} {'peak RSS MiB':>13}  note")
    for case in args.case or CASES:
        if case == "loki-gzip-bomb":
            with _bomb_server() as url:
                window = ["--from", "2026-01-31T15:00:00Z", "--to", "2026-01-31T17:00:00Z"]
                argv = [*command, "--loki", url, *window, "--mode", "full", "--parallel", "2"]
                wall, rss, note = time_v(argv, args.workdir / f"{case}.md")
            print(f"{case:<16} {'1.0Mi gz':>12} {'markdown':<9} {wall:>8.2f} {rss:>13.0f}  {note}")
            continue
        path = generate(case, args.workdir)
        size = path.stat().st_size
        out = args.workdir / f"{case}.json"
        for fmt in ("markdown", "json"):
            wall, rss, note = time_v([*command, "--format", fmt, str(path)], out)
            print(f"{case:<16} {size / MiB:>10.1f}Mi {fmt:<9} {wall:>8.2f} {rss:>13.0f}  {note}")
            sys.stdout.flush()
        inputs = json.loads(out.read_text())["inputs"]
        print(f"{'':<16} lines {inputs['lines']:,}, unparsed {inputs['unparsed_lines']:,}")
        for skipped in inputs["skipped"]:
            print(f"{'':<16} inputs.skipped: {skipped['reason']}")


if __name__ == "__main__":
    main()
