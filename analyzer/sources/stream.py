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

import json
import os
import re
import struct
import zlib
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from .. import envelopes
from ..envelopes import UNDECODABLE_PREFIX
from ..events import UTC_NS, could_be_mover
from .files import (
    BINARY_SNIFF,
    GZ_CHECKSUM,
    GZ_COMPLETE,
    GZ_TRAILING_GARBAGE,
    GZIP_MAGIC,
    InputError,
    Overrides,
    ReadReport,
    _gzip_header_end,
    _gzip_note,
    _kube_document,
    _not_to_read,
    damaged_gzip,
    entries_to_read,
    open_input,
    paths_metadata,
)

#: Bytes per block: big enough that per-block overhead is noise, small enough that a few blocks
#: in flight stay well inside the memory target.
BLOCK_BYTES = 16 << 20
#: Lines kept at the start and end of every block (and of the window inside a block): at least
#: the report's widest context (3, plus the first line, which may finish the previous block's
#: last line) and the 3 last non-empty lines a run reads.
HEAD_LINES = 4
TAIL_LINES = 8
#: Lines kept before and after a hit, for the report's evidence excerpts, around the first
#: CONTEXT_HITS hits of each block (a signature's excerpts are its earliest lines; in a block
#: dense with hits, later hits are kept without their neighbours).
CONTEXT_LINES = 3
CONTEXT_HITS = 64
#: Lines read to decide a file's envelope kind.
SNIFF_LINES = 200
#: A file that starts like a pretty-printed JSON document is read whole as a Kubernetes dump only
#: up to this size.
KUBE_DOCUMENT_MAX = 64 << 20

# Envelope kinds, by where a line's time is.
TIMED = "timed"  # CRI, kubectl --timestamps, Kopia CLI log: the time starts the line
PLAIN = "plain"  # no envelope at all (kubectl logs without --timestamps): every line is content
GENERIC = "generic"  # JSON envelopes and `kubectl --prefix`: parsed per block before filtering

# What every kept-line regex adds for the envelope's sake (the caller's regex covers content):
# a line that does not start with a time (damage, or a line that inherits the previous line's
# time), a CRI stderr record (stderr lines can be problems by stream alone), a CRI partial
# record, ANSI colour (matching happens after it is stripped), Kopia's JSON console inside pod
# output (matching happens on `m`), and `\r` progress refreshes (split into rows later).
_UNTIMED = r"^(?:\D|\d\D|\d\d\D|\d{3}\D|\d{4}[^-]|.{0,4}$)"
_CRI_STDERR = r"^\S+ stderr [PF] "
_CRI_PARTIAL = r"^\S+ (?:stdout|stderr) P "
_ENVELOPE_EXTRAS = (r"\x1b", r'"m":"', r"\r")
_LEADING_TIME = r"^([0-9][0-9T:.+\-Z]*)(?: |$)"


@dataclass(frozen=True)
class KeepRule:
    """What a block keeps: `regex` (a superset of every content regex the analysis applies, safe
    to run on a whole enveloped line) and the time window whose edges are kept and counted."""

    regex: str
    start: datetime | None = None
    end: datetime | None = None
    #: Messages that are routine even on a mover's stderr (Kopia progress ...): a stderr record
    #: kept for its stream alone is dropped again when its message matches this.
    routine: str | None = None

    def for_kind(self, kind: str, *, undecodable: bool = False, stderr: bool = True) -> str:
        """The regex for one envelope kind; `stderr`: keep every CRI stderr record (a mover
        pod's stderr lines can be problems by their stream alone, `templates.problem_lines`)."""
        parts = [self.regex, *_ENVELOPE_EXTRAS]
        if kind == TIMED:
            parts += [_UNTIMED, _CRI_PARTIAL, *([_CRI_STDERR] if stderr else [])]
        if undecodable:
            parts.append("\ufffd")
        return "|".join(f"(?:{p})" for p in parts)


@dataclass
class BlockResult:
    """One block reduced: the kept lines (raw text and 0-based index in the block) and counts."""

    kept: pl.DataFrame  # raw, idx
    lines: int
    dropped_in_window: int  # not kept, inside the window (or without a time)
    dropped_outside: int  # not kept, outside the window
    undecodable: bool = False
    open_end: bool = False  # the block ends inside a line that the next block finishes
    by_pod: dict[str, int] = field(default_factory=dict)  # `--prefix` pods' share of dropped_in


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
) -> ScanResult:
    """Read every input once in blocks and keep what `rule` asks for.

    Files are handled like `read_files` (same errors, skips and damage notes); files of pods that
    cannot be VolSync mover pods are skipped by their path unless `all_pods`.
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
        why = _not_to_read(path, explicit, seen) if path != "-" else None
        if why:
            report.skipped.append((path, why))
        else:
            readable.append((path, explicit))
    with (
        _Scheduler(rule, workers or (os.cpu_count() or 1) + 1, block_bytes) as scheduler,
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as opener,
    ):
        for (path, explicit), opened in _ahead(opener, readable, block_bytes):
            name = "<stdin>" if path == "-" else path
            try:
                reader, first = opened.result()
            except InputError as exc:
                if explicit:
                    raise
                report.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            if first is None:  # empty file
                report.files.append(path)
                continue
            document = _maybe_kube_document(path, first, reader)
            if document is not None:
                report.files.append(path)
                report.kube_documents.append((path, document))
                continue
            meta = metas[name]
            mover = could_be_mover(meta.get("pod"), meta.get("container"))
            owner = FileLines(name, meta, sniff_kind(first), pl.DataFrame(), stderr=mover)
            try:
                scheduler.add_file(owner, reader.blocks())
            except InputError as exc:
                scheduler.forget(owner)
                if explicit:
                    raise
                report.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            if reader.damage:
                lines = sum(r.lines for r in scheduler.results_of(owner))
                if explicit and reader.damage not in GZ_COMPLETE:
                    raise damaged_gzip(path, reader.damage, lines)
                report.skipped.append((path, _gzip_note(reader.damage, lines)))
            report.files.append(path)
            files.append(owner)
        scheduler.finish()
    for owner in files:
        _merge_blocks(owner, scheduler.results_of(owner), report)
    return ScanResult(_raw_frame(files), report, _dropped_frame(files))


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


def _open_first(path: str, block_bytes: int) -> tuple[_BlockReader, bytes | None]:
    reader = _BlockReader(path, block_bytes)
    return reader, reader.first()


def _ahead(
    pool: ThreadPoolExecutor, entries: list[tuple[str, bool]], block_bytes: int
) -> Iterator[tuple[tuple[str, bool], Future[tuple[_BlockReader, bytes | None]]]]:
    """The entries in order, each with its opening already under way on `pool`: a tree of
    rotated `.gz` files decompresses on every core instead of one file at a time."""
    pending: deque[tuple[tuple[str, bool], Future]] = deque()
    for entry in entries:
        pending.append((entry, pool.submit(_open_first, entry[0], block_bytes)))
        if len(pending) > OPEN_AHEAD:
            yield pending.popleft()
    yield from pending


# --------------------------------------------------------------------------------------------
# Reading blocks


class _BlockReader:
    """A file (plain or gzip, by magic bytes) as blocks of about `block_bytes`, read once.

    `first()` returns the first block (for sniffing) without consuming it; `blocks()` yields every
    block. A plain file's blocks are its reads as they come, so a block may end inside a line
    (never inside a UTF-8 character) that the next one finishes; decompressed gzip output is
    gathered and cut after a newline. Damage to a gzip stream ends the blocks and is named in
    `damage`.
    """

    def __init__(self, path: str, block_bytes: int) -> None:
        self.path = path
        self.block_bytes = block_bytes
        self.damage: str | None = None
        self._fh = open_input(path)
        self._gzip = False
        self._first: bytes | bytearray | None = None

    def _read(self, size: int) -> bytes:
        try:
            return self._fh.read(size)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None

    def _raw_chunks(self) -> Iterator[bytes | bytearray]:
        """Whole-line blocks for a plain file, decompressed chunks (not yet cut) for gzip."""
        head = self._read(self.block_bytes)
        if head[:3] == GZIP_MAGIC:
            self._gzip = True
            yield from self._gunzip(head)
        else:
            if b"\x00" in head[:BINARY_SNIFF]:
                raise InputError(f"{self.path}: binary file (NUL bytes), not a log")
            yield from self._plain_blocks(head)
        if self.path != "-":
            self._fh.close()

    def _plain_blocks(self, head: bytes) -> Iterator[bytes]:
        """Blocks exactly as read (no copy): a block may end inside a line, which the next
        block finishes (`_merge_blocks` joins the halves), but never inside a UTF-8 character."""
        block = head
        while block:
            if block[-1] >= 0x80:
                block += self._complete_character(block)
            yield block
            block = self._read(self.block_bytes)

    def _complete_character(self, block: bytes) -> bytes:
        """The bytes that finish a UTF-8 character cut by the end of `block` (none if whole)."""
        for back in range(1, min(4, len(block)) + 1):
            byte = block[-back]
            if byte < 0x80:
                return b""
            if byte >= 0xC0:  # a lead byte: how long its character is
                size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                return self._read(size - back) if size > back else b""
        return b""

    def _gunzip(self, data: bytes) -> Iterator[bytes]:
        """Inflate member by member, in bounded steps, checking each member's CRC and size
        ourselves so a checksum mismatch keeps the data (named as such), like `read_files`."""
        produced = False
        while True:
            data = self._fill(data, 1 << 16)
            start = _gzip_header_end(memoryview(data))
            if start is None:
                if not produced:
                    raise InputError(
                        f"{self.path}: truncated or corrupt gzip file (bad gzip header)"
                    )
                self.damage = GZ_TRAILING_GARBAGE
                return
            inflater = zlib.decompressobj(wbits=-15)  # raw deflate: the trailer is checked here
            data, crc, size = data[start:], 0, 0
            while not inflater.eof:
                if not data:
                    data = self._read(self.block_bytes)
                    if not data:
                        try:  # output that an earlier size-capped call left inside zlib
                            out = inflater.flush()
                        except zlib.error:
                            out = b""
                        if out:
                            crc, size = zlib.crc32(out, crc), size + len(out)
                            yield out
                        if not inflater.eof:
                            self._damaged("the compressed data ends early", produced or bool(out))
                            return
                        break
                try:
                    out = inflater.decompress(data, self.block_bytes)
                except zlib.error:
                    self._damaged("invalid compressed data", produced)
                    return
                data = inflater.unconsumed_tail
                if out:
                    if not produced and b"\x00" in out[:BINARY_SNIFF]:
                        raise InputError(f"{self.path}: binary file (NUL bytes), not a log")
                    produced = True
                    crc, size = zlib.crc32(out, crc), size + len(out)
                    yield out
            # after the end, `unused_data` holds all the input that followed it (CPython may
            # still report the same bytes in `unconsumed_tail`: not added twice)
            tail = self._fill(inflater.unused_data, 8)
            if len(tail) < 8:
                self._damaged("the compressed data ends early", produced)
                return
            if struct.unpack("<II", tail[:8]) != (crc, size & 0xFFFFFFFF):
                self.damage = GZ_CHECKSUM
            data = tail[8:].lstrip(b"\x00")  # gzip(1) tolerates zero padding
            while not data:
                more = self._read(self.block_bytes)
                if not more:
                    return
                data = more.lstrip(b"\x00")

    def _fill(self, data: bytes, size: int) -> bytes:
        """`data` topped up from the file to at least `size` bytes where the file has them."""
        while len(data) < size:
            more = self._read(self.block_bytes)
            if not more:
                break
            data += more
        return data

    def _damaged(self, problem: str, produced: bool) -> None:
        if not produced:
            raise InputError(f"{self.path}: truncated or corrupt gzip file ({problem})")
        self.damage = problem

    def first(self) -> bytes | bytearray | None:
        """The first block, or None for an empty file."""
        if self._first is None:
            blocks = self._cut_blocks()
            self._first = next(blocks, None)
            self._rest = blocks
        return self._first

    def blocks(self) -> Iterator[bytes | bytearray]:
        first = self.first()
        if first is None:
            return
        yield first
        yield from self._rest

    def _cut_blocks(self) -> Iterator[bytes | bytearray]:
        chunks = self._raw_chunks()
        first = next(chunks, None)
        if first is None:
            return
        if not self._gzip:
            yield first
            yield from chunks
            return
        buffer = bytearray(first)
        for chunk in chunks:
            buffer += chunk
            if len(buffer) < self.block_bytes:
                continue
            cut = buffer.rfind(b"\n") + 1
            if cut <= 0:
                continue  # one very long line: keep reading
            yield bytes(buffer[:cut])
            del buffer[:cut]
        if buffer:
            yield bytes(buffer)


def _maybe_kube_document(path: str, first: bytes, reader: _BlockReader) -> dict | None:
    """A pretty-printed `kubectl get -o json` dump starts with a line that is not JSON alone."""
    if first.lstrip()[:1] != b"{":
        return None
    line = first.split(b"\n", 1)[0]
    try:
        json.loads(line)
        return None  # a JSON-lines log (docker json-file, Kopia JSON)
    except ValueError:
        pass
    data = b"".join(reader.blocks()) if len(first) < KUBE_DOCUMENT_MAX else first
    if len(data) >= KUBE_DOCUMENT_MAX:
        return None
    return _kube_document(data.decode("utf-8", errors="replace").split("\n"))


_TIME = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
_ZONE = rb"(?:Z|[+-]\d\d:\d\d)"
_LEVELS = rb"(?:DEBUG|INFO|WARN|ERROR|DPANIC|PANIC|FATAL)"
#: The text envelopes, as `envelopes.split_envelopes` tells them apart (formats.md §1.2, §6.1-6.2).
_SNIFF_TIMED = re.compile(
    rb"^" + _TIME + rb"(?:\.\d+)?" + _ZONE + rb" (?:stdout|stderr) [PF](?: |$)"
    rb"|^" + _TIME + rb"\.\d{6}" + _ZONE + rb" " + _LEVELS + rb" \S"
    rb"|^" + _TIME + rb"\.\d{9}" + _ZONE + rb"(?: |$)"
)
_SNIFF_PREFIXED = re.compile(rb"^\[pod/[a-z0-9][a-z0-9.-]*/[a-z0-9][a-z0-9.-]*\] ")


def sniff_kind(block: bytes) -> str:
    """The envelope kind of a file, from its first lines (files mix envelopes only by damage)."""
    lines = [line for line in block[: 1 << 16].split(b"\n")[:SNIFF_LINES] if line.strip()]
    timed = False
    for line in lines:
        if _SNIFF_PREFIXED.match(line) or _json_envelope(line):
            return GENERIC
        timed = timed or bool(_SNIFF_TIMED.match(line))
    return TIMED if timed else PLAIN


def _json_envelope(line: bytes) -> bool:
    """A docker json-file record (`log`) or a Kopia JSON log record (`m` and `t`)."""
    if not line.startswith(b"{"):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and (
        isinstance(record.get("log"), str) or ("m" in record and "t" in record)
    )


# --------------------------------------------------------------------------------------------
# Reducing a block


def _lines(block: bytes) -> tuple[pl.Series, bool]:
    """The block's lines as a String Series (empty lines as ""), and whether any line was not
    valid UTF-8 (its bad bytes became U+FFFD)."""
    if not block:
        return pl.Series("raw", [], dtype=pl.String), False
    if b"\x1f" not in block:
        options = dict(
            separator="\x1f", quote_char=None, has_header=False, schema={"raw": pl.String}
        )
        try:
            frame = pl.read_csv(block, encoding="utf8", **options)
            bad = False
        except pl.exceptions.ComputeError:
            frame = pl.read_csv(block, encoding="utf8-lossy", **options)
            bad = True
        return frame["raw"].fill_null(""), bad
    # The one byte polars splits fields on is in the data: split in Python (rare, slower).
    text = block.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    return pl.Series("raw", lines, dtype=pl.String), "\ufffd" in text


def _line_count(part: bytes) -> int:
    return part.count(b"\n") + (0 if part.endswith(b"\n") or not part else 1)


def _line_time(kind: str) -> pl.Expr:
    """A line's own time, by envelope kind (null when it has none)."""
    raw = pl.col("raw")
    if kind == TIMED:
        return envelopes.parse_timestamp(raw.str.extract(_LEADING_TIME, 1))
    if kind == GENERIC:
        unprefixed = raw.str.replace(r"^\[pod/[^\]]*\] ", "")
        return envelopes.parse_timestamp(
            pl.coalesce(
                raw.str.json_path_match("$.time"),
                raw.str.json_path_match("$.t"),
                unprefixed.str.extract(_LEADING_TIME, 1),
            )
        )
    return pl.lit(None, dtype=UTC_NS)


def _generic_hit(regex: str, stderr: bool) -> pl.Expr:
    """For JSON and `--prefix` envelopes: the regex on the line and on its content (JSON
    escapes hide text from the first), stderr records, and lines without an envelope time."""
    raw = pl.col("raw")
    text = pl.coalesce(
        raw.str.json_path_match("$.log"),
        raw.str.json_path_match("$.m"),
        raw.str.replace(r"^\[pod/[^\]]*\] \S+ ?", ""),
    )
    stderr = (raw.str.json_path_match("$.stream") == "stderr").fill_null(False)
    return (
        raw.str.contains(regex)
        | text.str.contains(regex).fill_null(False)
        | stderr
        | (_line_time(GENERIC).is_null())
    )


def reduce_parts(
    parts: Sequence[bytes], kind: str, rule: KeepRule, stderr: bool = True
) -> list[BlockResult]:
    """Split each block into lines and keep those `rule` and the envelope need (module
    docstring). Several blocks of one kind go at once when they are small files (per-call
    overhead, not regex time, would otherwise dominate a tree of them)."""
    results = _reduce_parts(parts, kind, rule, stderr)
    for part, result in zip(parts, results, strict=True):
        result.open_end = bool(part) and not part.endswith(b"\n")
    return results


def _reduce_parts(
    parts: Sequence[bytes], kind: str, rule: KeepRule, stderr: bool
) -> list[BlockResult]:
    if len(parts) == 1:
        raw, undecodable = _lines(parts[0])
        frame = pl.DataFrame({"raw": raw}).with_columns(
            pl.lit(0, dtype=pl.UInt32).alias("part"),
            pl.lit(raw.len(), dtype=pl.UInt32).alias("n"),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("idx"),
        )
        return _reduce(frame, kind, rule, undecodable, 1, stderr)
    counts = [_line_count(part) for part in parts]
    joined = b"".join(p if p.endswith(b"\n") or not p else p + b"\n" for p in parts)
    raw, undecodable = _lines(joined)
    if raw.len() != sum(counts):  # a line splitter disagreement: never batch such parts
        return [r for part in parts for r in _reduce_parts([part], kind, rule, stderr)]
    sizes = pl.DataFrame(
        {"part": list(range(len(parts))), "n": counts}, schema={"part": pl.UInt32, "n": pl.UInt32}
    ).filter(pl.col("n") > 0)
    layout = sizes.select(
        pl.col("part").repeat_by("n").explode(), pl.col("n").repeat_by("n").explode()
    )
    frame = layout.with_columns(
        raw, pl.int_range(pl.len(), dtype=pl.UInt32).over("part").alias("idx")
    )
    return _reduce(frame, kind, rule, undecodable, len(parts), stderr)


def _same_part(k: int) -> pl.Expr:
    return (pl.col("part").shift(k) == pl.col("part")).fill_null(False)


def _reduce(
    frame: pl.DataFrame, kind: str, rule: KeepRule, undecodable: bool, parts: int, stderr: bool
) -> list[BlockResult]:
    regex = rule.for_kind(kind, undecodable=undecodable, stderr=stderr)
    if kind == GENERIC:
        frame = frame.with_columns(_generic_hit(regex, stderr).fill_null(True).alias("hit"))
    else:
        frame = frame.lazy().with_columns(pl.col("raw").str.contains(regex).alias("hit")).collect()
        if kind == TIMED and stderr and rule.routine:
            frame = _drop_routine_stderr(frame, rule, undecodable)
    idx, n = pl.col("idx"), pl.col("n")
    keep = (idx < HEAD_LINES) | (idx + TAIL_LINES >= n)
    hits = int(frame["hit"].sum())
    if hits:
        keep = keep | pl.col("hit")
        # context for the first hits of each part (the report shows a signature's earliest
        # lines; a block dense with hits would otherwise keep seven lines for each)
        centre = pl.col("hit")
        if hits > CONTEXT_HITS:
            rank = pl.col("hit").cast(pl.UInt32).cum_sum()
            centre = centre & ((rank if parts == 1 else rank.over("part")) <= CONTEXT_HITS)
        if parts == 1:  # one block: a rolling window is the context
            width = 2 * CONTEXT_LINES + 1
            context = centre.cast(pl.UInt8).rolling_max(width, center=True, min_samples=1)
            keep = keep | context.cast(pl.Boolean)
        else:
            frame = frame.with_columns(centre.alias("_centre"))
            keep = keep | pl.any_horizontal(
                [
                    pl.col("_centre").shift(k).fill_null(False) & _same_part(k)
                    for k in range(-CONTEXT_LINES, 1 + CONTEXT_LINES)
                ]
            )
        keep = keep | _neighbours(frame, kind)
    frame = frame.with_columns(keep.alias("keep"))
    in_window = _in_window(frame, kind, rule, parts)
    if in_window is not None:
        frame = frame.with_columns(in_window.alias("win")).with_columns(
            pl.col("keep") | _window_edges()
        )
        dropped_in = (pl.col("win") & ~pl.col("keep")).sum()
    else:
        dropped_in = (~pl.col("keep")).sum()
    sums = [
        pl.len().alias("lines"),
        dropped_in.alias("dropped_in"),
        pl.col("keep").sum().alias("kept"),
    ]
    if parts == 1:
        totals = frame.select(pl.lit(0, dtype=pl.UInt32).alias("part"), *sums)
    else:
        totals = frame.group_by("part").agg(*sums)
    kept = frame.filter(pl.col("keep")).select(
        # a copy, so the survivors do not keep the whole block's buffers alive
        pl.concat_str([pl.col("raw"), pl.lit("")]).alias("raw"),
        "idx",
        "part",
    )
    by_part = kept.partition_by("part", as_dict=True, include_key=False) if parts > 1 else {}
    prefixed = _dropped_by_prefix(frame, in_window is not None) if kind == GENERIC else {}
    results = []
    rows = {row["part"]: row for row in totals.iter_rows(named=True)}
    for i in range(parts):
        row = rows.get(i, {"lines": 0, "dropped_in": 0, "kept": 0})
        part_kept = by_part.get((i,), kept.head(0).drop("part")) if parts > 1 else kept.drop("part")
        results.append(
            BlockResult(
                part_kept,
                int(row["lines"]),
                int(row["dropped_in"]),
                int(row["lines"] - row["kept"] - row["dropped_in"]),
                undecodable,
                by_pod=prefixed.get(i, {}),
            )
        )
    return results


def _dropped_by_prefix(frame: pl.DataFrame, windowed: bool) -> dict[int, dict[str, int]]:
    """For `kubectl logs --prefix` lines: how many lines of each named pod were not kept (the
    pod is on the line, not in the path), per part."""
    dropped = ~pl.col("keep") & (pl.col("win") if windowed else pl.lit(True))
    counts = (
        frame.filter(dropped)
        .select("part", pl.col("raw").str.extract(r"^\[pod/([a-z0-9][a-z0-9.-]*)/", 1).alias("pod"))
        .drop_nulls("pod")
        .group_by("part", "pod")
        .len()
    )
    out: dict[int, dict[str, int]] = {}
    for part, pod, n in counts.iter_rows():
        out.setdefault(part, {})[pod] = n
    return out


def _drop_routine_stderr(frame: pl.DataFrame, rule: KeepRule, undecodable: bool) -> pl.DataFrame:
    """Un-hit the CRI stderr records that only the stream made hits and whose message is
    routine (`rule.routine`, e.g. Kopia's progress lines, most of a mover's output): they can be
    no problem line, and the other regexes do not want them. Work on the hits only."""
    raw = pl.col("raw")
    hits = frame.filter(pl.col("hit")).select("idx", "part", "raw")
    on_stderr = hits.filter(raw.str.contains(_CRI_STDERR))
    if on_stderr.height == 0:  # not a CRI file, or nothing on stderr
        return frame
    message = raw.str.splitn(" ", 4).struct.field("field_3")
    other = rule.for_kind(PLAIN, undecodable=undecodable)  # the hit without the stream rule
    routine = on_stderr.filter(
        message.str.contains(rule.routine).fill_null(False)
        & ~raw.str.contains(other)
        & ~raw.str.contains(_UNTIMED)
        & ~raw.str.contains(_CRI_PARTIAL)
    ).select("part", "idx")
    if routine.height == 0:
        return frame
    marked = routine.with_columns(pl.lit(True).alias("_routine"))
    return (
        frame.join(marked, on=["part", "idx"], how="left", maintain_order="left")
        .with_columns(pl.col("hit") & pl.col("_routine").is_null())
        .drop("_routine")
    )


def _neighbours(frame: pl.DataFrame, kind: str) -> pl.Expr:
    """The lines a kept line depends on: the last timed line before an untimed one (it lends
    its time) and, for a CRI partial record, the next record of its stream (it completes it)."""
    if kind != TIMED:
        return pl.lit(False)
    survivors = frame.filter(pl.col("hit"))
    raw = pl.col("raw")
    extra: list[pl.Expr] = []
    # A part's first and last lines are kept anyway, and so are the lines around them that can
    # lend them a time; they are often the halves of a line a block boundary cut, not untimed.
    later = (pl.col("idx") > 0) & (pl.col("idx") + 1 < pl.col("n"))
    if survivors.select((later & raw.str.contains(_UNTIMED)).any()).item():
        timed = ~raw.str.contains(_UNTIMED)
        # each untimed line's lender: the index of the last timed line before it in its part
        lender = pl.when(timed).then(pl.col("idx")).forward_fill().over("part")
        lenders = (
            frame.with_columns(pl.when(~timed).then(lender).alias("_l"))
            .filter(pl.col("hit") & later & pl.col("_l").is_not_null())
            .select("part", pl.col("_l").alias("idx"))
            .unique()
            .with_columns(pl.lit(True).alias("_lender"))
        )
        marked = frame.select("part", "idx").join(
            lenders, on=["part", "idx"], how="left", maintain_order="left"
        )
        extra.append(pl.lit(marked["_lender"].is_not_null()))
    if survivors.select(raw.str.contains(_CRI_PARTIAL).any()).item():
        stream = raw.str.extract(r"^\S+ (stdout|stderr) [PF] ", 1).fill_null("")
        partial = raw.str.contains(_CRI_PARTIAL)
        extra.append(partial.shift(1).over("part", stream).fill_null(False))
    return pl.any_horizontal(extra) if extra else pl.lit(False)


def _in_window(frame: pl.DataFrame, kind: str, rule: KeepRule, parts: int) -> pl.Expr | None:
    """Per line, whether it is inside the window (lines without a time count as inside, as in
    the in-memory path); None when every line is. A single block whose first and last times are
    both inside (or both outside) the window is decided from them; only a block that straddles
    an edge, or a batch of small files, pays for parsing every line's time."""
    if (rule.start is None and rule.end is None) or kind == PLAIN:
        return None
    if parts == 1:
        n = frame.height
        ends = frame.filter(pl.col("idx").is_in([0, n - 1])).select(_line_time(kind).alias("t"))
        first, last = ends["t"][0], ends["t"][-1]
        if first is not None and last is not None and first <= last:
            if (rule.start is None or first >= rule.start) and (
                rule.end is None or last < rule.end
            ):
                return None
            if (rule.start is not None and last < rule.start) or (
                rule.end is not None and first >= rule.end
            ):
                return pl.lit(False)
    t = _line_time(kind).forward_fill().over("part")
    cond = pl.lit(True)
    if rule.start is not None:
        cond = cond & (t >= pl.lit(rule.start).cast(UTC_NS))
    if rule.end is not None:
        cond = cond & (t < pl.lit(rule.end).cast(UTC_NS))
    return cond.fill_null(t.is_null())


def _window_edges() -> pl.Expr:
    """The first and last lines inside the window (a run's start and last lines may be there)."""
    rank = pl.col("win").cast(pl.UInt32).cum_sum().over("part")
    total = pl.col("win").cast(pl.UInt32).sum().over("part")
    return pl.col("win") & ((rank <= HEAD_LINES) | (rank + TAIL_LINES > total))


# --------------------------------------------------------------------------------------------
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
