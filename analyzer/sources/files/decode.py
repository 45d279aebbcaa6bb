"""What bytes become lines: the content checks and the one text transform both readers apply.

A file's first bytes say whether it is text at all (a binary file, or an archive compressed with
something other than gzip, is skipped with its reason) and how it is encoded (UTF-8, with or
without a byte-order mark, or UTF-16 as a PowerShell redirect writes it). `TextStream` then turns
the decompressed bytes into UTF-8 lines, chunk by chunk and with the same result however the
bytes are cut into chunks (the streaming reader feeds 16 MiB blocks, the in-memory one the whole
file):

- UTF-16 is decoded to UTF-8; a UTF-8 byte-order mark is dropped at the start of every line (a
  file made by `cat`-ing several files has one per part);
- a run of NUL bytes, what a node's power loss leaves in a log (the file grew, its data never
  reached the disk), becomes one empty line of its own, so the valid lines around it are read;
  the runs and their bytes are counted. A few NUL bytes inside a line's text stay text;
- a line longer than `MAX_LINE_BYTES` keeps its head and the rest is counted, not read: memory
  and time stay bounded by the block size whatever the line length.

The counts become notes in the report's Inputs part (`notes`), next to the skipped files.
"""

from __future__ import annotations

import codecs
import re

#: Bytes of a file's start that decide whether it is text and how it is encoded.
SNIFF_BYTES = 1 << 16
#: Longest line read: its head is kept, the rest counted (the report shows 2,000 characters).
MAX_LINE_BYTES = 1 << 20
#: A NUL run at least this long is damage wherever it is; a shorter one only when it starts or
#: ends a line (inside a line's text, a few NUL bytes are what the program printed).
NUL_RUN_MIN = 16

UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

#: Archive formats by magic bytes: not read, the skip reason says what to do (gzip, xz and
#: bzip2 are decompressed before the text is looked at).
_ARCHIVES = (
    (re.compile(rb"\x28\xb5\x2f\xfd"), "compressed with zstd, decompress first (zstd -d)"),
    (re.compile(rb"7z\xbc\xaf\x27\x1c"), "a 7-Zip archive, unpack it first"),
    (re.compile(rb"PK\x03\x04"), "a zip archive, unpack it first"),
)
BINARY = "binary file, not a log"
#: Share of a file's first bytes (NUL bytes aside) that may be neither text nor valid UTF-8.
_BINARY_SHARE = 0.3
#: Control characters no log line holds (tab, newline, vertical tab, form feed, carriage
#: return, backspace and escape are text).
_CONTROL = re.compile(rb"[\x01-\x07\x0e-\x1a\x1c-\x1f\x7f]")


def utf16_encoding(head: bytes) -> str | None:
    """`utf-16` for a file with a UTF-16 byte-order mark, `utf-16-le`/`-be` for one without
    whose NUL bytes sit at every other position (ASCII text in UTF-16), else None."""
    if head[:2] in _UTF16_BOMS:
        return "utf-16"
    sample = head[:4096]
    if len(sample) < 64:
        return None
    even, odd = sample[0::2], sample[1::2]
    nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if nul_odd > 0.4 and nul_even < 0.05:
        return "utf-16-le"
    if nul_even > 0.4 and nul_odd < 0.05:
        return "utf-16-be"
    return None


def not_text(head: bytes) -> str | None:
    """Why a file that starts with `head` (decompressed) is not read as a log, or None: an
    archive in a format other than gzip, or binary content. NUL bytes alone do not make a file
    binary (a power loss leaves runs of them in a text log): the bytes around them must be text."""
    for magic, reason in _ARCHIVES:
        if magic.match(head):
            return reason
    if utf16_encoding(head):
        return None
    sample = head[:SNIFF_BYTES].replace(b"\x00", b"")
    if not sample:
        return None  # nothing but NUL bytes: a log whose every byte was lost
    controls = len(_CONTROL.findall(sample))
    invalid = sample.decode("utf-8", errors="replace").count("\ufffd") - sample.decode(
        "utf-8", errors="ignore"
    ).count("\ufffd")
    return BINARY if controls + invalid > _BINARY_SHARE * len(sample) else None


class TextStream:
    """The transform from a file's decompressed bytes to UTF-8 text lines (module docstring).

    `feed` each chunk in order and `finish` at the end; the output concatenated does not depend
    on where the chunks were cut."""

    def __init__(self, encoding: str | None = None, max_line: int | None = None) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)("replace") if encoding else None
        self.max_line = MAX_LINE_BYTES if max_line is None else max_line
        self.nul_bytes = 0
        self.nul_runs = 0
        self.long_lines = 0
        self.cut_bytes = 0
        self._line_start = True  # the last byte given out ended a line (or nothing was yet)
        self._nul_pending = 0  # a NUL run reaching the end of the last chunk
        self._nul_at_start = False
        self._bom_part = b""  # a chunk's end that may be the start of a BOM at a line start
        self._bom_line_start = True  # the input so far ends a line (or is empty)
        self._line = 0  # bytes of the current line given out
        self._skipping = False  # inside a long line's rest
        self._char_part = b""  # a character cut by the chunk end, held for the next chunk

    def feed(self, chunk: bytes) -> bytes:
        if self._decoder is not None:
            chunk = self._decoder.decode(chunk).encode("utf-8", errors="replace")
        return self._bound(self._scrub(self._unmark(chunk)))

    def finish(self) -> bytes:
        tail = b""
        if self._decoder is not None:
            tail = self._decoder.decode(b"", final=True).encode("utf-8", errors="replace")
        out = self._scrub(self._unmark(tail, final=True))
        if self._nul_pending:
            out += self._run(b"")
        return self._bound(out, final=True)

    def notes(self) -> list[str]:
        """What the report's Inputs part says about this file (nothing when it was clean)."""
        notes = []
        if self.nul_runs:
            notes.append(
                f"{self.nul_bytes:,} NUL byte(s) in {self.nul_runs:,} run(s), what a power loss "
                "leaves: read around them, each run counted as one damaged line"
            )
        if self.long_lines:
            notes.append(
                f"{self.long_lines:,} line(s) longer than {self.max_line:,} bytes: the first "
                f"{self.max_line:,} bytes of each read, {self.cut_bytes:,} byte(s) left out"
            )
        return notes

    # byte-order marks

    def _unmark(self, chunk: bytes, final: bool = False) -> bytes:
        """Drop a UTF-8 BOM that starts a line of the input (a BOM cut by the chunk end waits
        for the next chunk). Only the input decides: a BOM after a NUL byte or after another
        BOM is text."""
        raw = self._bom_part + chunk if self._bom_part else chunk
        self._bom_part = b""
        if not raw:
            return raw
        at_start = self._bom_line_start
        out = raw[3:] if at_start and raw.startswith(UTF8_BOM) else raw
        held = 0
        if b"\xef" in out:  # memchr: without 0xEF (ASCII logs) nothing more to do
            if b"\n" + UTF8_BOM in out:
                out = out.replace(b"\n" + UTF8_BOM, b"\n")
            for k in () if final else (2, 1):
                before = raw[-k - 1 : -k] if len(raw) > k else None
                starts_line = before == b"\n" or (before is None and at_start)
                if raw[-k:] == UTF8_BOM[:k] and starts_line and len(out) >= k:
                    out, self._bom_part, held = out[:-k], raw[-k:], k
                    break
        consumed = raw[:-held] if held else raw
        if consumed:
            self._bom_line_start = consumed.endswith(b"\n")
        return out

    # NUL runs

    def _scrub(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        if self._nul_pending:
            rest = chunk.lstrip(b"\x00")
            self._nul_pending += len(chunk) - len(rest)
            if not rest:
                return b""
            out.append(self._run(rest[:1]))
            chunk = rest
        if b"\x00" not in chunk:
            if out:
                out.append(chunk)
                chunk = b"".join(out)
            if chunk:
                self._line_start = chunk.endswith(b"\n")
            return chunk
        pos = 0
        for m in re.finditer(rb"\x00+", chunk):
            start, end = m.span()
            out.append(chunk[pos:start])
            at_start = chunk[start - 1 : start] == b"\n" if start else self._after_line(out)
            pos = end
            if end == len(chunk):
                self._nul_pending, self._nul_at_start = end - start, at_start
                break
            self._nul_pending, self._nul_at_start = end - start, at_start
            out.append(self._run(chunk[end : end + 1]))
        out.append(chunk[pos:])
        joined = b"".join(out)
        if joined:
            self._line_start = joined.endswith(b"\n")
        return joined

    def _after_line(self, out: list[bytes]) -> bool:
        for part in reversed(out):
            if part:
                return part.endswith(b"\n")
        return self._line_start

    def _run(self, after: bytes) -> bytes:
        """The bytes that stand for the pending NUL run, given the byte after it (b"" at the
        end of the file): an empty line of its own when it is damage, else the NUL bytes."""
        n, at_start = self._nul_pending, self._nul_at_start
        self._nul_pending = 0
        ends_line = after in (b"", b"\n")
        if n < NUL_RUN_MIN and not at_start and not ends_line:
            return b"\x00" * n
        self.nul_runs += 1
        self.nul_bytes += n
        out = (b"" if at_start else b"\n") + (b"" if after == b"\n" else b"\n")
        if out:
            self._line_start = out.endswith(b"\n")
        return out

    # long lines

    def _bound(self, chunk: bytes, final: bool = False) -> bytes:
        """Keep at most `max_line` bytes of each line, cut on a UTF-8 character boundary (a
        character cut by the chunk's end is held, so where a long line is cut does not depend on
        where the chunks end)."""
        if self._char_part:
            chunk, self._char_part = self._char_part + chunk, b""
        out = self._bound_chunk(chunk)
        if not final and not self._skipping:
            tail = _unfinished_character(out)
            if tail:
                out, self._char_part = out[:-tail], out[-tail:]
                self._line -= tail
        return out

    def _bound_chunk(self, chunk: bytes) -> bytes:
        n, limit = len(chunk), self.max_line
        pos, start = 0, 0  # start: where the current kept stretch began
        kept: list[bytes] = []
        while pos < n:
            if self._skipping:
                nl = chunk.find(b"\n", pos)
                if nl < 0:
                    self.cut_bytes += n - pos
                    pos = start = n
                    break
                self.cut_bytes += nl - pos
                self._skipping, self._line = False, 0
                start, pos = nl, nl + 1
                continue
            room = limit - self._line
            if pos + room >= n:
                last = chunk.rfind(b"\n", pos, n)
                self._line = (n - pos if last < 0 else n - last - 1) + (
                    self._line if last < 0 else 0
                )
                pos = n
                break
            last = chunk.rfind(b"\n", pos, pos + room + 1)
            if last >= 0:
                self._line, pos = 0, last + 1
                continue
            cut = pos + room
            while cut > pos and 0x80 <= chunk[cut] < 0xC0:  # never inside a character
                cut -= 1
            kept.append(chunk[start:cut])
            self.long_lines += 1
            self.cut_bytes += pos + room - cut
            self._skipping, pos, start = True, pos + room, n
        if not kept:
            return chunk if start == 0 else chunk[start:]
        if start < n:
            kept.append(chunk[start:])
        return b"".join(kept)


def _unfinished_character(data: bytes) -> int:
    """How many bytes at the end of `data` start a UTF-8 character that is not complete."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if size > back else 0
    return 0


def text_of(data: bytes, encoding: str | None) -> tuple[bytes, TextStream]:
    """A whole file's bytes through `TextStream` (the in-memory reader's way)."""
    stream = TextStream(encoding)
    return stream.feed(data) + stream.finish(), stream
