"""The streaming file source: read each file once, in bounded blocks, and keep only the lines the
analysis can use, with exact line counts for the rest.

A 1 GiB node log holds a few hundred lines that matter. Every block of a file is split into lines
by polars (`read_csv` over the raw bytes), and one combined regex (everything any later stage
reads from a line, made a superset so it can run on the still-enveloped line) picks the
survivors. Around them the block also keeps what the analysis reads by position: the first and
last lines of each block (so a file's first line, its last lines and the lines near any block
edge survive), the report's context lines around a block's first hits, the last timed line
before a line with no time of its own (which inherits that time), the record that completes a
CRI partial line, and the lines at the edges of the time window. Lines that are not kept are
only counted (in and outside the window). The kept lines then go through the same envelope
parsing as the in-memory path, so both give the same runs, findings and verification status
(`tests/test_streaming.py`).

Blocks are reduced on a small thread pool (polars releases the GIL), a few in flight at a time,
so memory stays flat whatever the input size; survivors are copied out of the block buffers so
a kept line does not pin its block. See ../shared/reference/polars-performance.md.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from ...envelopes import UNDECODABLE_PREFIX
from ...events import could_be_mover
from .blocks import BlockReader, EnvelopeFound, EnvelopeWatch, maybe_kube_document, sniff_kind
from .gunzip import GZ_COMPLETE, damaged_gzip, gz_cap_note, gzip_note
from .keep import PLAIN, BlockResult, KeepRule, reduce_parts
from .paths import (
    InputError,
    Overrides,
    ReadReport,
    entries_to_read,
    not_a_json_log,
    not_to_read,
    paths_metadata,
)

#: Bytes per block: big enough that per-block overhead is noise, small enough that a few blocks
#: in flight stay well inside the memory target.
BLOCK_BYTES = 16 << 20


@dataclass
class FileLines:
    """What one file contributed: kept raw lines and the count of the lines not kept."""

    source: str
    meta: dict[str, str | None]
    kind: str
    kept: pl.DataFrame  # raw, line_no
    stderr: bool = True  # whether stderr lines can be problems by their stream (a mover's)
    lines: int = 0
    dropped_in_window: int = 0
    dropped_outside: int = 0
    by_pod: Counter[str] = field(default_factory=Counter)


@dataclass
class ScanResult:
    """Kept raw lines of every file (the shape `read_files` returns), what was read and skipped,
    and per file the lines that were counted but not kept."""

    raw: pl.DataFrame
    report: ReadReport
    dropped: pl.DataFrame  # source, pod, kind, lines, dropped_in_window, dropped_outside


def scan_files(
    paths: Sequence[str],
    overrides: Overrides | None,
    rule: KeepRule,
    *,
    all_pods: bool = False,
    workers: int | None = None,
    block_bytes: int | None = None,
    progress: bool | None = None,
) -> ScanResult:
    """Read every input once in blocks and keep what `rule` asks for.

    Files are handled like `read_files` (same errors, skips and damage notes); files of pods that
    cannot be VolSync mover pods are skipped by their path unless `all_pods`. `progress`: a bar
    on stderr (bytes and files read); None shows it when stderr is a terminal.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    report = ReadReport()
    entries = entries_to_read(paths, overrides, report, all_pods=all_pods)
    files: list[FileLines] = []
    seen: dict[tuple[int, int], str] = {}
    names = ["<stdin>" if path == "-" else path for path, _ in entries]
    metas = dict(zip(names, paths_metadata(names, overrides), strict=True))
    readable = []
    for path, explicit in entries:
        why = not_to_read(path, explicit, seen) if path != "-" else None
        if why:
            report.skipped.append((path, why))
        else:
            readable.append((path, explicit))
    with (
        _Scheduler(rule, workers or (os.cpu_count() or 1) + 1, block_bytes) as scheduler,
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as opener,
        _progress_bar(readable, progress) as advance,
    ):
        for (path, explicit), opened in _ahead(opener, readable, block_bytes):
            with advance(path):
                _scan_one(path, explicit, opened, scheduler, metas, report, files, block_bytes)
        scheduler.finish()
    for owner in files:
        _merge_blocks(owner, scheduler.results_of(owner), report)
    return ScanResult(_raw_frame(files), report, _dropped_frame(files))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


@contextlib.contextmanager
def _progress_bar(
    readable: Sequence[tuple[str, bool]], show: bool | None
) -> Iterator[Callable[[str], contextlib.AbstractContextManager[None]]]:
    """A tqdm bar of the bytes (and files) read, on stderr; `advance(path)` wraps one file."""
    show = sys.stderr.isatty() if show is None else show
    if not show:
        yield lambda path: contextlib.nullcontext()
        return
    from tqdm import tqdm  # only a run that shows a bar pays for it

    total = sum(_size(path) for path, _ in readable)
    bar = tqdm(total=total, desc="files", unit="B", unit_scale=True, unit_divisor=1024,
               file=sys.stderr, leave=False)  # fmt: skip
    done = 0

    @contextlib.contextmanager
    def advance(path: str) -> Iterator[None]:
        nonlocal done
        try:
            yield
        finally:
            done += 1
            bar.update(_size(path))
            bar.set_postfix_str(f"{done}/{len(readable)} files", refresh=False)

    try:
        yield advance
    finally:
        bar.close()


def _scan_one(
    path: str,
    explicit: bool,
    opened: Future,
    scheduler: _Scheduler,
    metas: dict,
    report: ReadReport,
    files: list[FileLines],
    block_bytes: int,
) -> None:
    """Open one input and hand its blocks to the scheduler (or note why it is skipped)."""
    name = "<stdin>" if path == "-" else path
    try:
        reader, first = opened.result()
    except InputError as exc:
        if explicit:
            raise
        report.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
        return
    if first is None:  # empty file
        report.files.append(path)
        return
    document = maybe_kube_document(path, first, reader)
    if document is not None:
        report.files.append(path)
        report.kube_documents.append((path, document))
        return
    why = not_a_json_log(path, explicit, bytes(first.split(b"\n", 1)[0]))
    if why:
        report.skipped.append((path, why))
        return
    meta = metas[name]
    mover = could_be_mover(meta.get("pod"), meta.get("container"))
    owner = FileLines(name, meta, sniff_kind(first), pl.DataFrame(), stderr=mover)
    try:
        reader = _add_file(scheduler, owner, reader, path, block_bytes)
    except InputError as exc:
        scheduler.forget(owner)
        if explicit:
            raise
        report.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
        return
    if reader.damage or reader.capped is not None:
        lines = _lines_read(scheduler.results_of(owner))
        if reader.damage and explicit and reader.damage not in GZ_COMPLETE:
            raise damaged_gzip(path, reader.damage, lines)
        if reader.damage:
            report.skipped.append((path, gzip_note(reader.damage, lines)))
        else:
            report.skipped.append((path, gz_cap_note(reader.capped, lines)))
    if reader.text is not None:
        report.skipped += [(path, note) for note in reader.text.notes()]
    report.files.append(path)
    files.append(owner)


def _add_file(
    scheduler: _Scheduler, owner: FileLines, reader: BlockReader, path: str, block_bytes: int
) -> BlockReader:
    """Hand a file's blocks to the scheduler. A file sniffed as bare output is watched to its
    end: at its first enveloped line it is read again from the start as that kind (the
    envelope is a per-line decision, not one of the first 200 lines). Stdin cannot be read
    twice and keeps its first kind."""
    if owner.kind != PLAIN or path == "-":
        scheduler.add_file(owner, reader.blocks())
        return reader
    try:
        scheduler.add_file(owner, EnvelopeWatch().blocks(reader.blocks()))
        return reader
    except EnvelopeFound as found:
        scheduler.forget(owner)
        reader.close()
        owner.kind = found.kind
    again = BlockReader(path, block_bytes)
    scheduler.add_file(owner, again.blocks())
    return again


def _lines_read(results: list[BlockResult]) -> int:
    """Lines of a file from its block results (a line cut by a block boundary counted once)."""
    return sum(r.lines for r in results) - sum(1 for r in results[:-1] if r.open_end and r.lines)


#: A file that fits in one block smaller than this is batched with others of its kind.
SMALL_FILE = 1 << 20


class _Scheduler:
    """Blocks to a thread pool, a few in flight, results kept in file order. Files that fit in
    one small block are batched (by envelope kind) up to a block's worth of bytes."""

    def __init__(self, rule: KeepRule, workers: int, block_bytes: int) -> None:
        self.rule = rule
        self.limit = workers + 1
        self.block_bytes = block_bytes
        self.executor = ThreadPoolExecutor(max_workers=workers)
        self.inflight: deque[tuple[list[FileLines], Future[list[BlockResult]]]] = deque()
        self.results: dict[int, list[BlockResult]] = {}
        self.batches: dict[tuple[str, bool], tuple[list[FileLines], list[bytes]]] = {}

    def __enter__(self) -> _Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=True, cancel_futures=exc[0] is not None)

    def add_file(self, owner: FileLines, blocks: Iterator[bytes]) -> None:
        first = next(blocks)
        second = next(blocks, None)
        if second is None and len(first) < SMALL_FILE:
            key = (owner.kind, owner.stderr)
            owners, parts = self.batches.setdefault(key, ([], []))
            owners.append(owner)
            parts.append(first)
            if sum(len(p) for p in parts) >= self.block_bytes:
                self._flush(key)
            return
        self._submit([owner], [first])
        if second is not None:
            self._submit([owner], [second])
            for block in blocks:
                self._submit([owner], [block])

    def _flush(self, key: tuple[str, bool]) -> None:
        owners, parts = self.batches.pop(key, ([], []))
        if owners:
            self._submit(owners, parts)

    def _submit(self, owners: list[FileLines], parts: list[bytes]) -> None:
        kind, stderr = owners[0].kind, owners[0].stderr
        future = self.executor.submit(reduce_parts, parts, kind, self.rule, stderr)
        self.inflight.append((owners, future))
        self._collect(self.limit)

    def _collect(self, limit: int) -> None:
        while len(self.inflight) > limit:
            owners, future = self.inflight.popleft()
            for owner, result in zip(owners, future.result(), strict=True):
                self.results.setdefault(id(owner), []).append(result)

    def results_of(self, owner: FileLines) -> list[BlockResult]:
        """Every block result of `owner` (waits for what is still in flight or batched)."""
        self.finish()
        return self.results.get(id(owner), [])

    def forget(self, owner: FileLines) -> None:
        """Drop what a file that failed half-way contributed."""
        self.finish()
        self.results.pop(id(owner), None)

    def finish(self) -> None:
        for key in list(self.batches):
            self._flush(key)
        self._collect(0)


#: Files opened (and their first block read and decompressed) ahead of the one being reduced.
OPEN_AHEAD = 4


def _open_first(path: str, block_bytes: int) -> tuple[BlockReader, bytes | None]:
    reader = BlockReader(path, block_bytes)
    return reader, reader.first()


def _ahead(
    pool: ThreadPoolExecutor, entries: list[tuple[str, bool]], block_bytes: int
) -> Iterator[tuple[tuple[str, bool], Future[tuple[BlockReader, bytes | None]]]]:
    """The entries in order, each with its opening already under way on `pool`: a tree of
    rotated `.gz` files decompresses on every core instead of one file at a time."""
    pending: deque[tuple[tuple[str, bool], Future]] = deque()
    for entry in entries:
        pending.append((entry, pool.submit(_open_first, entry[0], block_bytes)))
        if len(pending) > OPEN_AHEAD:
            yield pending.popleft()
    yield from pending


# Merging blocks into files


def _merge_blocks(owner: FileLines, blocks: list[BlockResult], report: ReadReport) -> None:
    """Number the kept lines of a file across its blocks, join a line that a block boundary
    cut in two (both halves are always kept: they are a block's last and the next one's first
    line), and total the counts."""
    parts: list[pl.DataFrame] = []
    offset = 0
    for i, result in enumerate(blocks):
        kept = result.kept.select(
            pl.col("raw"), (pl.col("idx").cast(pl.Int64) + offset + 1).alias("line_no")
        )
        if i and blocks[i - 1].open_end and parts and kept.height:
            head = parts[-1].tail(1)
            parts[-1] = parts[-1].head(parts[-1].height - 1)
            joined = head["raw"][0] + kept["raw"][0]
            kept = pl.concat(
                [head.with_columns(pl.lit(joined, dtype=pl.String).alias("raw")), kept.slice(1)]
            )
        parts.append(kept)
        step = result.lines - (1 if result.open_end and i + 1 < len(blocks) else 0)
        offset += step
        owner.dropped_in_window += result.dropped_in_window
        owner.by_pod.update(result.by_pod)
        owner.dropped_outside += result.dropped_outside
    owner.lines = offset
    kept = (
        pl.concat(parts) if parts else pl.DataFrame(schema={"raw": pl.String, "line_no": pl.Int64})
    )
    if any(result.undecodable for result in blocks):
        bad = pl.col("raw").str.contains("\ufffd", literal=True)
        report.undecodable_lines += int(kept.select(bad.sum()).item())
        kept = kept.with_columns(
            pl.when(bad & ~pl.col("raw").str.starts_with(UNDECODABLE_PREFIX))
            .then(pl.lit(UNDECODABLE_PREFIX) + pl.col("raw"))
            .otherwise(pl.col("raw"))
            .alias("raw")
        )
    owner.kept = kept


def _raw_frame(files: list[FileLines]) -> pl.DataFrame:
    """Every file's kept lines with its path metadata (one join, not a frame per file)."""
    schema = {"raw": pl.String, "line_no": pl.Int64, "source": pl.String}
    schema.update({k: pl.String for k in paths_metadata(["x"])[0]})
    present = [f for f in files if f.kept.height]
    if not present:
        return pl.DataFrame(schema=schema)
    kept = pl.concat(
        [
            f.kept.with_columns(pl.lit(i, dtype=pl.UInt32).alias("_file"))
            for i, f in enumerate(present)
        ]
    )
    meta = pl.DataFrame(
        [{"_file": i, "source": f.source, **f.meta} for i, f in enumerate(present)],
        schema={
            "_file": pl.UInt32,
            **{k: v for k, v in schema.items() if k not in ("raw", "line_no")},
        },
    )
    return kept.join(meta, on="_file", how="left", maintain_order="left").select(list(schema))


DROPPED_SCHEMA = {
    "source": pl.String,
    "pod": pl.String,
    "kind": pl.String,
    "lines": pl.Int64,
    "dropped_in_window": pl.Int64,
    "dropped_outside": pl.Int64,
}


def _dropped_frame(files: list[FileLines]) -> pl.DataFrame:
    """One row per file with its counts; a `--prefix` file's not-kept lines are split into one
    row per pod named on them (the file's own row keeps its remainder)."""
    rows = []
    for f in files:
        named = sum(f.by_pod.values())
        rows.append(
            (
                f.source,
                f.meta.get("pod"),
                f.kind,
                f.lines,
                f.dropped_in_window - named,
                f.dropped_outside,
            )
        )
        rows += [(f.source, pod, f.kind, 0, n, 0) for pod, n in sorted(f.by_pod.items())]
    return pl.DataFrame(rows, schema=DROPPED_SCHEMA, orient="row")
