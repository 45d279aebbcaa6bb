"""Local files as a source: paths, directories, globs, `.gz`, stdin -> raw lines with path metadata.

What a file's path says is kept: CRI node-log paths name namespace, pod and container; Kopia CLI-log
file names name the command; a mover pod name in a file name names the pod; a cache-volume folder
(`volsync-src-<rs>-cache/...`) ties Kopia's own log files to their ReplicationSource.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from ..events import CACHE_DIR_RE

# §6.1 `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log[.<rotation>][.gz]`
CRI_PATH_RE = (
    r"(?:^|/)(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[0-9a-fA-F-]{8,})/"
    r"(?P<container>[^/]+)/(?P<restart>\d+)\.log(?:\.[^/]*)?$"
)
# §6.1 legacy `/var/log/containers/<pod>_<namespace>_<container>-<containerID>.log`
CONTAINERS_PATH_RE = (
    r"(?:^|/)(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)-[0-9a-f]{64}\.log$"
)
# §1.1 `kopia-<YYYYMMDD-HHMMSS>-<pid>-<command words>.<segment>.log`
KOPIA_LOG_NAME_RE = r"(?:^|/)kopia-\d{8}-\d{6}-\d+-(?P<command>[a-z0-9-]+?)\.\d+\.log(?:\.gz)?$"
MAINT_CACHE_RE = r"kopia-maint-(?P<rs>[a-z0-9.-]+?)-cache"
POD_IN_NAME_RE = (
    r"(?:^|/)[^/]*?(?P<pod>(?:volsync-(?:src|dst)-[a-z0-9.-]+?-[a-z0-9]{5})"
    r"|(?:kopia-maint-[a-z0-9.-]+?-[0-9a-f]{16}-\d+-[a-z0-9]{5}))(?:[._][^/]*)?$"
)

LOG_SUFFIXES = (".log", ".txt", ".json", ".jsonl", ".out")
BINARY_SNIFF = 8192


class InputError(Exception):
    """An input that cannot be read at all; the message is one line naming the path."""


@dataclass
class Overrides:
    """`--namespace/--pod/--container`: identity for an input whose path does not name it."""

    namespace: str | None = None
    pod: str | None = None
    container: str | None = None


@dataclass
class ReadReport:
    """What the file source read and what it had to skip, for the report's Inputs part."""

    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    undecodable_lines: int = 0
    kube_documents: list[tuple[str, dict]] = field(default_factory=list)  # (path, parsed JSON)


def expand_paths(paths: Sequence[str], report: ReadReport) -> list[tuple[str, bool]]:
    """Resolve files, directories (recursively) and globs into (path, named_explicitly) pairs."""
    found: list[tuple[str, bool]] = []
    for given in paths:
        if given == "-":
            found.append(("-", True))
            continue
        if any(ch in given for ch in "*?["):
            matches = sorted(glob.glob(given, recursive=True))
            if not matches:
                raise InputError(f"{given}: the pattern matches no file")
            for match in matches:
                found.extend(_walk(match, report) if os.path.isdir(match) else [(match, False)])
            continue
        if not os.path.exists(given):
            raise InputError(f"{given}: no such file or directory")
        if os.path.isdir(given):
            walked = _walk(given, report)
            if not walked:
                raise InputError(f"{given}: directory holds no log files (*.log, *.gz, *.json)")
            found.extend(walked)
        else:
            found.append((given, True))
    return found


def _walk(directory: str, report: ReadReport) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(directory, followlinks=True, onerror=None):
        try:
            st = os.stat(root)
        except OSError as exc:
            report.skipped.append((root, exc.strerror or str(exc)))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop
            report.skipped.append((root, "symlink loop"))
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        for name in sorted(files):
            if _looks_like_log(name):
                out.append((os.path.join(root, name), False))
    return out


def _looks_like_log(name: str) -> bool:
    if name.endswith(".gz"):
        return True
    if name.endswith(LOG_SUFFIXES):
        return True
    # rotated CRI siblings: `0.log.20260130-020130`
    return ".log." in name


def read_text(path: str) -> tuple[list[str], int]:
    """Read a file (or stdin) as lines; gzip is detected by magic bytes, not by name.

    Returns the lines and how many could not be decoded as UTF-8 (kept, with replacement
    characters, so the caller can count them as raw rows).
    """
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(path, data)
    if b"\x00" in data[:BINARY_SNIFF]:
        raise InputError(f"{path}: binary file (NUL bytes), not a log")
    try:
        text = data.decode("utf-8")
        bad = 0
        lines = text.split("\n")
    except UnicodeDecodeError:
        lines, bad = _decode_lines(data)
    if lines and lines[-1] == "":
        lines.pop()
    return lines, bad


def _gunzip(path: str, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        raise InputError(f"{path}: truncated or corrupt gzip file") from None


def _decode_lines(data: bytes) -> tuple[list[str], int]:
    lines: list[str] = []
    bad = 0
    for chunk in data.split(b"\n"):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            bad += 1
            lines.append("\ufffd" + chunk.decode("utf-8", errors="replace"))
    return lines, bad


def _kube_document(lines: list[str]) -> dict | None:
    """A `kubectl get ... -o json` dump (one JSON document with `kind`), else None."""
    if not lines or not lines[0].lstrip().startswith("{") or len(lines) == 1:
        return None
    try:
        document = json.loads("\n".join(lines))
    except ValueError:
        return None
    if isinstance(document, dict) and "kind" in document and "apiVersion" in document:
        return document
    return None


def path_metadata(path: str, overrides: Overrides | None = None) -> dict[str, str | None]:
    """What a path says about its lines: namespace, pod, container, Kopia command, RS and role."""
    probe = pl.DataFrame({"p": [path.replace(os.sep, "/")]})
    row = probe.select(
        pl.col("p").str.extract_groups(CRI_PATH_RE).alias("cri"),
        pl.col("p").str.extract_groups(CONTAINERS_PATH_RE).alias("ctr"),
        pl.col("p").str.extract(KOPIA_LOG_NAME_RE, 1).alias("command"),
        pl.col("p").str.extract_groups(CACHE_DIR_RE).alias("cache"),
        pl.col("p").str.extract(MAINT_CACHE_RE, 1).alias("maint_cache"),
        pl.col("p").str.extract(POD_IN_NAME_RE, 1).alias("pod_in_name"),
    ).row(0, named=True)
    cri, ctr, cache = row["cri"], row["ctr"], row["cache"]
    meta: dict[str, str | None] = {
        "namespace": cri["namespace"] or ctr["namespace"],
        "pod": cri["pod"] or ctr["pod"] or row["pod_in_name"],
        "container": cri["container"] or ctr["container"],
        "kopia_command": row["command"],
        "replication_source": None,
        "role": None,
    }
    if cache["rs"]:
        meta["replication_source"] = cache["rs"]
        meta["role"] = "source" if cache["dir"] == "src" else "destination"
    elif row["maint_cache"]:
        meta["replication_source"] = row["maint_cache"]
        meta["role"] = "maintenance"
    if overrides:
        for key in ("namespace", "pod", "container"):
            value = getattr(overrides, key)
            if value:
                meta[key] = value
    return meta


def read_files(
    paths: Sequence[str], overrides: Overrides | None = None
) -> tuple[pl.DataFrame, ReadReport]:
    """Read every input into one raw-lines frame: source, line_no, raw, plus path metadata.

    A problem with a path the user named is an `InputError`; one with a file found by walking a
    directory or glob is recorded in `ReadReport.skipped` and the rest is still read.
    """
    report = ReadReport()
    entries = expand_paths(paths, report)
    named = overrides and any((overrides.namespace, overrides.pod, overrides.container))
    if named and len(entries) != 1:
        raise InputError(
            "--namespace/--pod/--container apply to a single input file; "
            f"{len(entries)} files were given"
        )
    frames: list[pl.DataFrame] = []
    for path, explicit in entries:
        try:
            lines, bad = read_text(path)
        except InputError as exc:
            if explicit:
                raise
            report.skipped.append((path, str(exc).split(": ", 1)[-1]))
            continue
        report.files.append(path)
        report.undecodable_lines += bad
        if not lines:
            continue
        document = _kube_document(lines)
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
