"""gzip read as far as it goes: member by member, each member's CRC and size checked here, so
what precedes damage is kept and the damage is named (the notes the report lists); xz and bzip2
read whole with the standard library; the decompressed size capped for all three."""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import struct
import zlib
from collections.abc import Callable, Iterator

from .decode import SNIFF_BYTES
from .paths import InputError

#: gzip's magic bytes and its only compression method (deflate): a text file that merely starts
#: with the two magic bytes is read as text.
GZIP_MAGIC = b"\x1f\x8b\x08"
#: Bytes of a (decompressed) file's start that decide whether it is text (`decode.not_text`).
BINARY_SNIFF = SNIFF_BYTES
#: Decompressed output read from one gzip file: `GZ_RATIO` times its compressed size, at least
#: `GZ_MIN_CAP` (text logs compress 5-20x; deflate's limit is about 1,032x). Past it the rest
#: is not read and the report says so: a 10 MiB gzip bomb costs seconds, not 10 GiB.
GZ_RATIO = 256
GZ_MIN_CAP = 4 << 30


def gz_cap(compressed: int) -> int:
    """The decompressed bytes read from a gzip file of `compressed` bytes."""
    return max(GZ_MIN_CAP, GZ_RATIO * compressed)


def gz_cap_note(limit: int, lines: int) -> str:
    """The note for a gzip file whose decompressed output reached the cap."""
    return (
        f"decompressed size reached the cap of {limit:,} bytes ({GZ_RATIO}x the compressed "
        f"size, at least {GZ_MIN_CAP:,}): read the first {lines:,} line(s), the rest not read"
    )


def damaged_gzip(path: str, problem: str, lines: int) -> InputError:
    """The error for a gzip file named explicitly whose end could not be decompressed."""
    return InputError(
        f"{path}: truncated or corrupt gzip file ({problem}; {lines} line(s) readable before it)"
    )


def gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Decompress every gzip member; on damage, what came out before it and what went wrong."""
    try:
        return gzip.decompress(data), None
    except (EOFError, OSError, zlib.error):
        return gunzip_salvage(memoryview(data))


_GZ_CHUNK = 1 << 16
GZ_CHECKSUM = "checksum mismatch"
GZ_TRAILING_GARBAGE = "trailing garbage after the compressed data"
#: Damage after which every line was still decompressed.
GZ_COMPLETE = (GZ_CHECKSUM, GZ_TRAILING_GARBAGE)


def gunzip_salvage(data: memoryview) -> tuple[bytes, str | None]:
    """The slow path for a damaged gzip file: inflate member by member in small steps so what
    precedes the damage is kept, and check each member's CRC and size ourselves (a checksum
    mismatch keeps the data, named as such)."""
    out: list[bytes] = []
    problem = None
    while len(data):
        start = gzip_header_end(data)
        if start is None:
            return b"".join(out), GZ_TRAILING_GARBAGE if out else "bad gzip header"
        inflater = zlib.decompressobj(wbits=-15)  # raw deflate: the trailer is checked here
        member: list[bytes] = []
        i = start
        try:
            while i < len(data) and not inflater.eof:
                member.append(inflater.decompress(data[i : i + _GZ_CHUNK]))
                i += _GZ_CHUNK
        except zlib.error:
            return b"".join(out + member), "invalid compressed data"
        out += member
        tail = inflater.unused_data + bytes(data[i:])
        if not inflater.eof or len(tail) < 8:
            return b"".join(out), "the compressed data ends early"
        crc, size = struct.unpack("<II", tail[:8])
        body = b"".join(member)
        if zlib.crc32(body) != crc or len(body) & 0xFFFFFFFF != size:
            problem = GZ_CHECKSUM
        data = memoryview(tail[8:].lstrip(b"\x00"))  # gzip(1) tolerates zero padding
    return b"".join(out), problem


def gzip_header_end(data: memoryview) -> int | None:
    """Offset just past the RFC 1952 member header `data` starts with, or None if it is none."""
    if len(data) < 10 or bytes(data[:3]) != GZIP_MAGIC:
        return None
    flags, i = data[3], 10
    if flags & 4:  # FEXTRA
        if len(data) < i + 2:
            return None
        i += 2 + int.from_bytes(data[i : i + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            end = bytes(data[i:]).find(b"\x00")
            if end < 0:
                return None
            i += end + 1
    if flags & 2:  # FHCRC
        i += 2
    return i if i <= len(data) else None


def gzip_note(problem: str, lines: int) -> str:
    """The skip reason for a damaged gzip file whose readable part was kept."""
    if problem in GZ_COMPLETE:
        return f"corrupt gzip file ({problem}): read all {lines} line(s), some may be damaged"
    return (
        f"truncated or corrupt gzip file ({problem}): read the first {lines} line(s), "
        "the rest could not be decompressed"
    )


# xz and bzip2: read whole (stdlib), no salvage: damage skips the file with its reason

_XZ_MAGIC = re.compile(rb"\xfd7zXZ\x00")
_BZIP2_MAGIC = re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)")


def stdlib_compression(head: bytes) -> str | None:
    """`xz` or `bzip2` when `head` starts a file compressed so (read like gzip), else None."""
    if _XZ_MAGIC.match(head):
        return "xz"
    if _BZIP2_MAGIC.match(head):
        return "bzip2"
    return None


def decompress_stdlib(
    kind: str, first: bytes, read: Callable[[], bytes], path: str, chunk: int
) -> Iterator[bytes]:
    """An xz or bzip2 file's decompressed bytes, stream after stream, in chunks of at most
    `chunk`; `read` gives more compressed bytes (b"" at the end). Damage (a stream that ends
    early, data that does not decompress, trailing garbage) is an `InputError`: the file is
    skipped with that reason, in both readers alike."""
    data = first
    while True:
        decompressor = lzma.LZMADecompressor() if kind == "xz" else bz2.BZ2Decompressor()
        while not decompressor.eof:
            if decompressor.needs_input and not data:
                data = read()
                if not data:
                    raise InputError(
                        f"{path}: truncated or corrupt {kind} file (the compressed data ends early)"
                    )
            try:
                out = decompressor.decompress(data if decompressor.needs_input else b"", chunk)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise InputError(f"{path}: truncated or corrupt {kind} file ({exc})") from None
            data = b""  # taken in: what it could not yet decompress it keeps
            if out:
                yield out
        data = decompressor.unused_data + data
        while not data.strip(b"\x00"):  # xz allows zero padding between streams
            more = read()
            if not more:
                return
            data += more
        data = data.lstrip(b"\x00") if kind == "xz" else data
        while len(data) < 16:
            more = read()
            if not more:
                break
            data += more
        if stdlib_compression(data[:16]) != kind:
            raise InputError(
                f"{path}: truncated or corrupt {kind} file (trailing garbage after the compressed "
                "data)"
            )
