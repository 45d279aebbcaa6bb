"""A file as blocks of bytes, read once: plain or gzip (by magic bytes), each block ending on a
UTF-8 character boundary; and the decisions taken from the first block (the envelope kind, a
Kubernetes dump)."""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import zlib
from collections import deque
from collections.abc import Iterator

from ... import describe
from ..kube.documents import looks_like_yaml_document, yaml_document
from .decode import SNIFF_BYTES, TextStream, not_text, utf16_encoding
from .gunzip import (
    GZ_CHECKSUM,
    GZ_TRAILING_GARBAGE,
    GZIP_MAGIC,
    decompress_stdlib,
    gz_cap,
    gzip_header_end,
    stdlib_compression,
)
from .keep import GENERIC, PLAIN, TIMED
from .memory import kube_document
from .paths import InputError, is_json_log_record, open_input

#: Lines read to decide a file's envelope kind.
SNIFF_LINES = 200
#: A file that starts like a pretty-printed JSON document is read whole as a Kubernetes dump only
#: up to this size.
KUBE_DOCUMENT_MAX = 64 << 20


class BlockReader:
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
        #: the decompressed-size cap, when a gzip file reached it (the rest is not read)
        self.capped: int | None = None
        #: the text transform (encoding, NUL runs, long lines) and its counts, once sniffed
        self.text: TextStream | None = None
        self._fh = open_input(path)
        self._gzip = False
        self._first: bytes | bytearray | None = None
        self._consumed = 0
        self._compressed_size: int | None = None
        try:
            st = os.fstat(self._fh.fileno())
            if stat.S_ISREG(st.st_mode):
                self._compressed_size = st.st_size
        except (OSError, ValueError, AttributeError):
            pass

    def _read(self, size: int) -> bytes:
        try:
            data = self._fh.read(size)
            self._consumed += len(data)
            return data
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None

    def _raw_chunks(self) -> Iterator[bytes | bytearray]:
        """Blocks as read for a plain file, decompressed chunks (not yet cut) for gzip, each
        through the text transform (`decode.TextStream`)."""
        head = self._read(self.block_bytes)
        packed = stdlib_compression(head[:16])
        if head[:3] == GZIP_MAGIC:
            self._gzip = True
            chunks = self._capped(self._gunzip(head))
        elif packed:
            self._gzip = True  # decompressed output: cut into blocks after a newline
            read = lambda: self._read(self.block_bytes)  # noqa: E731
            chunks = self._capped(
                decompress_stdlib(packed, head, read, self.path, self.block_bytes)
            )
        else:
            chunks = self._plain_blocks(head)
        yield from self._text(chunks)
        if self.path != "-":
            self._fh.close()

    def _text(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """The chunks through `TextStream`, after the file's first bytes showed it is text."""
        held: list[bytes] = []
        size = 0
        for chunk in chunks:
            held.append(chunk)
            size += len(chunk)
            if size >= SNIFF_BYTES:
                break
        head = b"".join(held)[:SNIFF_BYTES]
        why = not_text(head)
        if why:
            raise InputError(f"{self.path}: {why}")
        self.text = stream = TextStream(utf16_encoding(head))
        for chunk in held:
            out = stream.feed(chunk)
            if out:
                yield out
        del held
        for chunk in chunks:
            out = stream.feed(chunk)
            if out:
                yield out
        out = stream.finish()
        if out:
            yield out

    def _capped(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Decompressed output up to `gunzip.gz_cap` of the compressed size (a gzip bomb stops
        there; `capped` says so)."""
        total = 0
        for out in chunks:
            limit = gz_cap(
                self._compressed_size if self._compressed_size is not None else self._consumed
            )
            if total + len(out) > limit:
                self.capped = limit
                if limit > total:
                    yield out[: limit - total]
                return
            total += len(out)
            yield out

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
            start = gzip_header_end(memoryview(data))
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

    def close(self) -> None:
        """Stop reading (a file read again from its start)."""
        if self.path != "-":
            self._fh.close()

    def first(self) -> bytes | bytearray | None:
        """The first block, or None for an empty file."""
        if self._first is None:
            blocks = self._cut_blocks()
            self._first = next(blocks, None)
            self._rest = blocks
            self._held: deque[bytes | bytearray] = deque()
        return self._first

    def whole(self, limit: int) -> bytes | None:
        """The whole file when it is shorter than `limit` bytes, else None; either way
        `blocks()` still gives every block (the ones read to find out are held)."""
        first = self.first()
        if first is None:
            return b""
        size = len(first) + sum(len(b) for b in self._held)
        for block in self._rest:
            self._held.append(block)
            size += len(block)
            if size >= limit:
                return None
        return b"".join([first, *self._held])

    def blocks(self) -> Iterator[bytes | bytearray]:
        first = self.first()
        if first is None:
            return
        yield first
        while self._held:
            yield self._held.popleft()
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


def maybe_kube_document(path: str, first: bytes, reader: BlockReader) -> dict | None:
    """A pretty-printed `kubectl get -o json` dump starts with a line that is not JSON alone; a
    `-o yaml` dump with `apiVersion:` or `kind:`; `kubectl describe` output with
    `Name:  <object>`. A JSON-lines log whose first record was cut (copytruncate) starts like a
    dump: its next line is a whole record. Either way `reader.blocks()` still gives the whole
    file."""
    if looks_like_yaml_document(first):
        data = reader.whole(KUBE_DOCUMENT_MAX)
        return None if data is None else yaml_document(data.decode("utf-8", errors="replace"))
    if first.lstrip()[:1] != b"{":
        head = first.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        # describe output only when the first block is the whole file (a file that goes on is
        # read as a log, describe lines and all: `kubectl describe` then `kubectl logs`)
        if describe.looks_like_describe(head) and len(first) < reader.block_bytes:
            return describe.document(first.decode("utf-8", errors="replace"))  # else a log
        return None
    line, _, rest = first.partition(b"\n")
    try:
        json.loads(line)
        return None  # a JSON-lines log (docker json-file, Kopia JSON)
    except ValueError:
        pass
    second = rest.split(b"\n", 1)[0].strip()
    if second.endswith(b"}") and is_json_log_record(second):
        return None  # a JSON-lines log cut inside its first record
    data = reader.whole(KUBE_DOCUMENT_MAX)
    if data is None:
        return None
    return kube_document(data.decode("utf-8", errors="replace").split("\n"))


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
    """The envelope kind of a file, from its first lines (files mix envelopes only by damage).
    A file that shows none there is watched to its end (`EnvelopeWatch`)."""
    lines = [line for line in block[: 1 << 16].split(b"\n")[:SNIFF_LINES] if line.strip()]
    timed = False
    for line in lines:
        if _SNIFF_PREFIXED.match(line) or is_json_log_record(line):
            return GENERIC
        timed = timed or bool(_SNIFF_TIMED.match(line))
    return TIMED if timed else PLAIN


def line_kind(line: bytes) -> str:
    """The envelope kind one line shows (PLAIN for none)."""
    line = line.rstrip(b"\r")
    if _SNIFF_PREFIXED.match(line) or is_json_log_record(line):
        return GENERIC
    return TIMED if _SNIFF_TIMED.match(line) else PLAIN


class EnvelopeFound(Exception):  # noqa: N818 - a signal, not an error
    """A file read as bare output has an enveloped line after all: read it again as `kind`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


#: Where a line that may carry an envelope starts (a time, a `--prefix`, a JSON record).
_CANDIDATE = re.compile(rb"\n(?=\d{4}-\d\d-\d\dT|\[pod/|\{)")
#: Bytes of a line enough to tell its envelope.
_HEAD = 4096


class EnvelopeWatch:
    """Every block of a file sniffed as bare output (`PLAIN`), looked at for a line with an
    envelope: the envelope is a per-line decision, and a file whose first 200 lines are
    `kubectl describe` output may go on with `kubectl logs --timestamps`. `check` raises
    `EnvelopeFound` at the first such line. Blocks may end inside a line: the head of a
    block's last line is carried into the next."""

    def __init__(self) -> None:
        self._carry: bytes | None = b""  # head of the line the last block ended in

    def check(self, block: bytes) -> None:
        nl = block.find(b"\n")
        if self._carry is not None:
            head = self._carry + block[: min(len(block) if nl < 0 else nl, _HEAD)]
            self._found(head)
        for m in _CANDIDATE.finditer(block):
            start = m.end()
            end = block.find(b"\n", start, start + _HEAD)
            self._found(block[start : end if end >= 0 else min(len(block), start + _HEAD)])
        last = block.rfind(b"\n")
        if last >= 0:
            self._carry = bytes(block[last + 1 : last + 1 + _HEAD])
        elif self._carry is not None and len(self._carry) < _HEAD:
            self._carry = (self._carry + bytes(block[:_HEAD]))[:_HEAD]

    @staticmethod
    def _found(line: bytes) -> None:
        kind = line_kind(line)
        if kind != PLAIN:
            raise EnvelopeFound(kind)

    def blocks(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            self.check(block)
            yield block
