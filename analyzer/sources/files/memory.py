"""The in-memory file reader: every line of every input in one frame.

It is the reference the streaming reader (`scan.py`) is tested against (`tests/test_streaming.py`);
memory grows with the input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import polars as pl

from ... import describe
from ...envelopes import UNDECODABLE_PREFIX
from ..kube.documents import looks_like_yaml_document, yaml_document
from .decode import SNIFF_BYTES, not_text, text_of, utf16_encoding
from .gunzip import (
    GZ_COMPLETE,
    GZIP_MAGIC,
    damaged_gzip,
    decompress_stdlib,
    gunzip,
    gz_cap,
    gz_cap_note,
    gzip_note,
    stdlib_compression,
)
from .paths import (
    InputError,
    Overrides,
    ReadReport,
    entries_to_read,
    not_a_json_log,
    not_to_read,
    path_metadata,
)


def read_lines(path: str) -> tuple[list[str], int, str | None, list[str]]:
    """Read a file (or stdin) as lines, gzip detected by its magic bytes, not by name; keep what
    a damaged gzip file still yields, and name the damage. Lines that are not valid UTF-8 are
    kept with replacement characters (and counted by the caller). The bytes go through the same
    text transform as the streaming reader's (`decode.TextStream`: UTF-16, byte-order marks,
    NUL runs, long lines); the last item is what the report's Inputs part says about it.

    A file that cannot be opened, is not text, or has nothing readable is an `InputError`.
    CRLF line endings (a file whose every line ends in `\r\n`) are read as line endings.
    """
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    problem = None
    capped = None
    if data[:3] == GZIP_MAGIC:
        compressed = len(data)
        data, problem = gunzip(data)
        if problem and not data:
            raise InputError(f"{path}: truncated or corrupt gzip file ({problem})")
        if len(data) > gz_cap(compressed):
            capped = gz_cap(compressed)
            data, problem = data[:capped], None
    elif packed := stdlib_compression(data[:16]):
        compressed, limit = len(data), gz_cap(len(data))
        out, size = [], 0
        for chunk in decompress_stdlib(packed, data, lambda: b"", path, 16 << 20):
            out.append(chunk)
            size += len(chunk)
            if size > limit:
                capped = limit
                break
        data = b"".join(out)[:limit]
    head = data[:SNIFF_BYTES]
    why = not_text(head)
    if why:
        raise InputError(f"{path}: {why}")
    data, stream = text_of(data, utf16_encoding(head))
    newlines = data.count(b"\n")
    if newlines and data.count(b"\r\n") >= newlines:
        data = data.replace(b"\r\n", b"\n")
    try:
        text = data.decode("utf-8")
        bad = 0
        lines = text.split("\n")
    except UnicodeDecodeError:
        lines, bad = _decode_lines(data)
    if lines and lines[-1] == "":
        lines.pop()
    notes = stream.notes()
    if capped is not None:
        notes.insert(0, gz_cap_note(capped, len(lines)))
    return lines, bad, problem, notes


def _decode_lines(data: bytes) -> tuple[list[str], int]:
    lines: list[str] = []
    bad = 0
    for chunk in data.split(b"\n"):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            bad += 1
            lines.append(UNDECODABLE_PREFIX + chunk.decode("utf-8", errors="replace"))
    return lines, bad


def kube_document(lines: list[str]) -> dict | None:
    """A `kubectl get ... -o json|yaml` dump (one document with `kind`), or `kubectl describe`
    output of pods and jobs (`describe.document`), else None."""
    if lines and looks_like_yaml_document("\n".join(lines[:64]).encode("utf-8", "replace")):
        return yaml_document("\n".join(lines))
    if lines and describe.looks_like_describe(lines[0]):
        return describe.document("\n".join(lines))
    if not lines or not lines[0].lstrip().startswith("{") or len(lines) == 1:
        return None
    try:
        document = json.loads("\n".join(lines))
    except ValueError:
        return None
    if isinstance(document, dict) and "kind" in document and "apiVersion" in document:
        return document
    return None


def read_files(
    paths: Sequence[str], overrides: Overrides | None = None, *, all_pods: bool = True
) -> tuple[pl.DataFrame, ReadReport]:
    """Read every input into one raw-lines frame: source, line_no, raw, plus path metadata.

    A problem with a path the user named is an `InputError`; one with a file found by walking a
    directory or glob is recorded in `ReadReport.skipped` and the rest is still read.
    """
    report = ReadReport()
    entries = entries_to_read(paths, overrides, report, all_pods=all_pods)
    frames: list[pl.DataFrame] = []
    read: dict[tuple[int, int], str] = {}
    for path, explicit in entries:
        if path != "-":
            why = not_to_read(path, explicit, read)
            if why:
                report.skipped.append((path, why))
                continue
        try:
            lines, bad, damage, notes = read_lines(path)
            if explicit and damage and damage not in GZ_COMPLETE:
                raise damaged_gzip(path, damage, len(lines))
        except InputError as exc:
            if explicit:
                raise
            report.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
            continue
        document = kube_document(lines)
        first = lines[0].encode("utf-8", errors="replace") if lines else b""
        why = None if document is not None else not_a_json_log(path, explicit, first)
        if why:
            report.skipped.append((path, why))
            continue
        if damage:
            report.skipped.append((path, gzip_note(damage, len(lines))))
        report.skipped += [(path, note) for note in notes]
        report.files.append(path)
        report.undecodable_lines += bad
        if not lines:
            continue
        if document is not None:
            report.kube_documents.append((path, document))
            continue
        name = "<stdin>" if path == "-" else path
        meta = path_metadata(name, overrides)
        frames.append(
            pl.DataFrame(
                {"raw": lines, "line_no": pl.int_range(1, len(lines) + 1, eager=True)}
            ).with_columns(
                pl.lit(name).alias("source"),
                *[pl.lit(v, dtype=pl.String).alias(k) for k, v in meta.items()],
            )
        )
    if not frames:
        empty = {"raw": pl.String, "line_no": pl.Int64, "source": pl.String}
        empty.update({k: pl.String for k in path_metadata("x")})
        return pl.DataFrame(schema=empty), report
    return pl.concat(frames, how="vertical_relaxed"), report
