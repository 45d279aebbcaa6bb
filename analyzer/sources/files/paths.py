"""Which files to read and what their paths say: paths, directories and globs expanded, files
that must not be read left out, and the identity a path gives its lines.

CRI node-log paths name namespace, pod and container; Kopia CLI-log file names name the command;
a mover pod name in a file name names the pod; a cache-volume folder (`volsync-src-<rs>-cache/...`)
ties Kopia's own log files to their ReplicationSource.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import polars as pl

from ... import events as events_mod
from ...errors import InputError
from ...events import CACHE_DIR_RE

# Identity is only taken from names Kubernetes could have made (DNS-1123 labels and subdomains):
# a directory name holding newlines, backticks or HTML never becomes a namespace, pod or container.
_K8S_NAME = r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?"
# §6.1 `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log[.<rotation>][.gz]`
CRI_PATH_RE = (
    rf"(?:^|/)(?P<namespace>{_K8S_NAME})_(?P<pod>{_K8S_NAME})_(?P<uid>[0-9a-fA-F-]{{8,}})/"
    rf"(?P<container>{_K8S_NAME})/(?P<restart>\d+)\.log(?:\.[^/]*)?$"
)
# §6.1 legacy `/var/log/containers/<pod>_<namespace>_<container>-<containerID>.log`
CONTAINERS_PATH_RE = (
    rf"(?:^|/)(?P<pod>{_K8S_NAME})_(?P<namespace>{_K8S_NAME})_(?P<container>{_K8S_NAME})"
    r"-[0-9a-f]{64}\.log$"
)
# §1.1 `kopia-<YYYYMMDD-HHMMSS>-<pid>-<command words>.<segment>.log`
KOPIA_LOG_NAME_RE = r"(?:^|/)kopia-\d{8}-\d{6}-\d+-(?P<command>[a-z0-9-]+?)\.\d+\.log(?:\.gz)?$"
MAINT_CACHE_RE = r"kopia-maint-(?P<rs>[a-z0-9.-]+?)-cache"
POD_IN_NAME_RE = (
    r"(?:^|/)[^/]*?(?P<pod>(?:volsync-(?:src|dst)-[a-z0-9.-]+?-[a-z0-9]{5})"
    r"|(?:kopia-maint-[a-z0-9.-]+?-[0-9a-f]{16}-\d+-[a-z0-9]{5}))(?:[._][^/]*)?$"
)


LOG_SUFFIXES = (".log", ".txt", ".json", ".jsonl", ".out", ".yaml", ".yml")


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
    # node-log files left unread because their pod cannot be a mover: (path, ns/pod, bytes)
    not_mover: list[tuple[str, str, int]] = field(default_factory=list)


def expand_paths(paths: Sequence[str], report: ReadReport) -> list[tuple[str, bool]]:
    """Resolve files, directories (recursively) and globs into (path, named_explicitly) pairs."""
    found: list[tuple[str, bool]] = []
    for given in paths:
        if given == "-":
            found.append(("-", True))
            continue
        if any(ch in given for ch in "*?[") and not os.path.lexists(given):  # a name as-is first
            matches = _glob(given)
            if not matches:
                raise InputError(f"{given}: the pattern matches no file")
            for match in matches:
                found.extend(_walk(match, report) if os.path.isdir(match) else [(match, False)])
            continue
        if not os.path.exists(given):
            raise InputError(f"{given}: no such file or directory")
        if os.path.isdir(given):
            before = len(report.skipped)
            walked = _walk(given, report)
            if not walked:
                skipped = report.skipped[before:]
                if skipped:
                    where, why = skipped[0]
                    raise InputError(
                        f"{given}: directory holds no log files that can be read "
                        f"({len(skipped)} skipped, first {where}: {why})"
                    )
                raise InputError(f"{given}: directory holds no log files (*.log, *.gz, *.json)")
            found.extend(walked)
        else:
            found.append((given, True))
    return found


def _walk(directory: str, report: ReadReport) -> list[tuple[str, bool]]:
    """Log files under `directory`, in `os.walk` order (a directory's files sorted, then its
    subdirectories, sorted, each in full); unreadable directories and symlink loops are recorded
    in `report.skipped` (never silently left out). Iterative, so a tree a thousand levels deep
    is walked like any other."""
    out: list[tuple[str, bool]] = []
    seen: dict[tuple[int, int], str] = {}
    stack = [directory]
    while stack:
        root = stack.pop()
        try:
            st = os.stat(root)
        except OSError as exc:
            report.skipped.append((root, f"cannot read directory: {exc.strerror or exc}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            first = seen[key]
            inside = root == first or root.startswith(first.rstrip(os.sep) + os.sep)
            reason = "symlink loop" if inside else f"same directory as {first} (read once)"
            report.skipped.append((root, reason))
            continue
        seen[key] = root
        listed = _list_dir(root, report)
        if listed is None:
            continue
        dirs, files = listed
        out += [(os.path.join(root, name), False) for name in files if _looks_like_log(name)]
        stack += [os.path.join(root, name) for name in reversed(dirs)]
    return out


def _list_dir(root: str, report: ReadReport | None) -> tuple[list[str], list[str]] | None:
    """A directory's subdirectories (symlinks to directories included) and other entries, each
    sorted; None when it cannot be listed (recorded in `report.skipped` when given)."""
    try:
        with os.scandir(root) as it:
            entries = list(it)
    except OSError as exc:
        if report is not None:
            where = exc.filename if exc.filename is not None else root
            report.skipped.append((str(where), f"cannot read directory: {exc.strerror or exc}"))
        return None
    dirs, files = [], []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        (dirs if is_dir else files).append(entry.name)
    return sorted(dirs), sorted(files)


def _glob(pattern: str) -> list[str]:
    """`glob.glob(pattern, recursive=True)`, sorted, without recursion: `**` is matched while
    walking the tree under the pattern's literal head iteratively (glob's own `**` recurses
    once per level, and a symlink loop under it never ends)."""
    if "**" not in pattern:
        return sorted(glob.glob(pattern))
    if pattern.endswith(os.sep) and pattern.strip(os.sep):  # directories only
        return [os.path.join(p, "") for p in _glob(pattern.rstrip(os.sep)) if os.path.isdir(p)]
    parts = pattern.split(os.sep)
    head = 0
    while head < len(parts) and not glob.has_magic(parts[head]):
        head += 1
    base = os.sep.join(parts[:head]) if head else ""
    if pattern.startswith(os.sep) and not base:
        base = os.sep
    pats = parts[head:]
    start = base or os.curdir
    if not os.path.isdir(start):
        return []
    first = _closure(pats, {0})
    found = [os.path.join(base, "")] if base and len(pats) in first else []
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[str, list[str], frozenset[int]]] = [(start, [], first)]
    while stack:
        path, rel, states = stack.pop()
        try:
            st = os.stat(path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        listed = _list_dir(path, None)
        if listed is None:
            continue
        dirs, files = listed
        for name in files + dirs:
            after = _step(pats, states, name)
            if len(pats) in after:
                found.append(os.path.join(base, *rel, name) if base else os.path.join(*rel, name))
        for name in reversed(dirs):
            after = _step(pats, states, name)
            if after:
                stack.append((os.path.join(path, name), [*rel, name], after))
    return sorted(found)


def _closure(pats: list[str], states: set[int]) -> frozenset[int]:
    """`states` plus what `**` (zero directories) reaches from them."""
    out, todo = set(states), list(states)
    while todo:
        j = todo.pop()
        if j < len(pats) and pats[j] == "**" and j + 1 not in out:
            out.add(j + 1)
            todo.append(j + 1)
    return frozenset(out)


def _step(pats: list[str], states: frozenset[int], name: str) -> frozenset[int]:
    """The pattern positions reached after matching one more path component `name`."""
    hidden = name.startswith(".")
    after: set[int] = set()
    for j in states:
        if j >= len(pats):
            continue
        if pats[j] == "**":
            if not hidden:
                after.add(j)
        elif fnmatch.fnmatchcase(name, pats[j]) and (not hidden or pats[j].startswith(".")):
            after.add(j + 1)
    return _closure(pats, after)


def _looks_like_log(name: str) -> bool:
    if name.endswith(".gz"):
        return True
    if name.endswith(LOG_SUFFIXES):
        return True
    # rotated CRI siblings: `0.log.20260130-020130`
    return ".log." in name


def _file_kind(mode: int) -> str | None:
    """What a non-regular file is, for the skip reason (None for a regular file)."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def open_input(path: str) -> BinaryIO:
    """A path (or `-` for stdin) opened for binary reading; an `InputError` names the path."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def paths_metadata(
    paths: Sequence[str], overrides: Overrides | None = None
) -> list[dict[str, str | None]]:
    """What each path says about its lines: namespace, pod, container, Kopia command, RS and
    role (one polars pass over all paths, so a tree of thousands of files costs nothing)."""
    probe = pl.DataFrame({"p": [p.replace(os.sep, "/") for p in paths]}, schema={"p": pl.String})
    p = pl.col("p")
    cri, ctr, cache = (
        p.str.extract_groups(rx) for rx in (CRI_PATH_RE, CONTAINERS_PATH_RE, CACHE_DIR_RE)
    )
    maint = p.str.extract(MAINT_CACHE_RE, 1)
    frame = probe.select(
        pl.coalesce(cri.struct.field("namespace"), ctr.struct.field("namespace")).alias(
            "namespace"
        ),
        pl.coalesce(
            cri.struct.field("pod"), ctr.struct.field("pod"), p.str.extract(POD_IN_NAME_RE, 1)
        ).alias("pod"),
        pl.coalesce(cri.struct.field("container"), ctr.struct.field("container")).alias(
            "container"
        ),
        p.str.extract(KOPIA_LOG_NAME_RE, 1).alias("kopia_command"),
        pl.coalesce(cache.struct.field("rs"), maint).alias("replication_source"),
        pl.when(cache.struct.field("rs").is_not_null())
        .then(
            pl.when(cache.struct.field("dir") == "src")
            .then(pl.lit("source"))
            .otherwise(pl.lit("destination"))
        )
        .when(maint.is_not_null())
        .then(pl.lit("maintenance"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("role"),
    )
    rows = frame.to_dicts()
    if overrides:
        for meta in rows:
            for key in ("namespace", "pod", "container"):
                value = getattr(overrides, key)
                if value:
                    meta[key] = value
    return rows


def path_metadata(path: str, overrides: Overrides | None = None) -> dict[str, str | None]:
    """`paths_metadata` for one path."""
    return paths_metadata([path], overrides)[0]


def could_be_mover(meta: dict[str, str | None]) -> bool:
    """Whether a file's path leaves open that it holds VolSync output. Only a node-log path
    (`/var/log/pods/...`, `/var/log/containers/...`) that names a pod and container can rule
    it out: neither a VolSync/KopiaMaintenance pod name nor a mover container."""
    return events_mod.could_be_mover(meta.get("pod"), meta.get("container"))


def mover_pod_filter(entries: list[tuple[str, bool]], report: ReadReport) -> list[tuple[str, bool]]:
    """Leave out files found by walking whose node-log path names a pod that cannot be a VolSync
    mover; they are listed in `report.not_mover` (a file named explicitly is always read)."""
    walked = [path for path, explicit in entries if not explicit]
    metas = dict(zip(walked, paths_metadata(walked), strict=True))
    kept = []
    for path, explicit in entries:
        meta = metas.get(path)
        if explicit or meta is None or could_be_mover(meta):
            kept.append((path, explicit))
            continue
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0
        report.not_mover.append((path, f"{meta['namespace']}/{meta['pod']}", size))
    return kept


def not_to_read(path: str, explicit: bool, read: dict[tuple[int, int], str]) -> str | None:
    """Why a file must not be read (None to read it): a FIFO, socket or device found by walking
    would block or never end (one named explicitly is read: `analyze <(zcat x.gz)`), and a file
    already read under another name (a symlink, Kopia's `latest.log`, `/var/log/containers/`)
    would count its lines twice. A file that cannot even be looked at is left to the read,
    which names the error."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    kind = _file_kind(st.st_mode)
    if kind is not None:
        return None if explicit else f"not a regular file ({kind})"
    key = (st.st_dev, st.st_ino)
    if key in read:
        return f"same file as {read[key]} (read once)"
    read[key] = path
    return None


def entries_to_read(
    paths: Sequence[str], overrides: Overrides | None, report: ReadReport, *, all_pods: bool
) -> list[tuple[str, bool]]:
    """The files to read, as (path, named_explicitly): paths expanded, identity flags checked
    against them, files of pods that cannot be movers left out (unless `all_pods`)."""
    entries = expand_paths(paths, report)
    named = overrides and any((overrides.namespace, overrides.pod, overrides.container))
    if named and len(entries) != 1:
        raise InputError(
            "--namespace/--pod/--container apply to a single input file; "
            f"{len(entries)} files were given"
        )
    return entries if all_pods else mover_pod_filter(entries, report)


#: Why a `.json` file found by walking is not read: most JSON beside logs is configuration.
NOT_A_JSON_LOG = "JSON that is neither a Kubernetes dump nor a JSON log (docker json-file, Kopia)"
#: Why a `.yaml` file found by walking is not read: YAML that is no `kubectl get -o yaml` dump.
NOT_A_KUBE_YAML = "YAML that is not a Kubernetes dump (kubectl get -o yaml)"


def is_json_log_record(line: bytes) -> bool:
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


def not_a_json_log(path: str, explicit: bool, first_line: bytes) -> str | None:
    """Why a `.json` file found by walking, not a Kubernetes dump, is left unread (None to read
    it): its first line is no JSON log record. A file named explicitly is always read."""
    if not explicit and path.endswith((".yaml", ".yml")):
        return NOT_A_KUBE_YAML  # a Kubernetes dump was recognised before this is asked
    if explicit or not path.endswith(".json") or not first_line.strip():
        return None
    return None if is_json_log_record(first_line.strip()) else NOT_A_JSON_LOG
