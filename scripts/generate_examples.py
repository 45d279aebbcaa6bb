#!/usr/bin/env python3
"""Generate the example log corpus in ``examples/`` (seeded, deterministic, standard library only).

The story (2026-01-28T00:00:00Z to 2026-02-01T00:00:00Z, UTC)
---------------------------------------------------------------
A small homelab cluster runs the perfectra1n VolSync fork with the Kopia mover (fork ``entry.sh`` v3,
Kopia v0.22.3, whose console lines carry no level word). The Kopia repository lives on NFS, mounted
into every mover at ``/repository`` (filesystem backend). Movers run as UID 1000, which has no
``/etc/passwd`` entry in the image, so ``whoami`` fails in every pod, before and after the fix.
Seven ReplicationSources sync hourly, each at its own minute.

* Phase 1, ``cgo-deadlock`` (2026-01-28T00:00Z to 2026-01-29T06:00Z, ``perfectra1n/volsync:0.17.7``,
  Kopia built with CGO_ENABLED=1): every mover prints the script preamble and the repository
  connection lines, then falls silent. Kopia deadlocks in glibc ``getpwuid_r``; its CLI log holds
  ``ERROR kopia/repo Cannot determine current user: user: unknown userid 1000`` and nothing after
  (about one pod in five also shows the bare message on stderr). The pod is killed 45-75 minutes
  later without a further line; the Job starts a replacement 0.2-0.8 s later, which hangs the same
  way.
* Phase 2, ``no-user-env`` (2026-01-29T06:00Z to 18:00Z, ``rcdailey/volsync:0.17.7-cgo-fix-v1``,
  CGO_ENABLED=0 but no ``USER``): same shape; the CLI-log line becomes ``Cannot determine current
  user: user: Current requires cgo or $USER set in environment``.
* Phase 3, ``fixed`` (from 2026-01-29T18:00Z, ``rcdailey/volsync:0.17.7-cgo-fix-v2``, CGO_ENABLED=0
  and USER=volsync): the running hung pods are killed at 18:00, each ReplicationSource's next pod
  starts within a second and completes; then hourly healthy syncs of 30-90 s. No ``Cannot
  determine current user`` line any more; ``whoami: cannot find name for user ID 1000`` remains.
* Side issues: default/paperless fails twice right after the fix (root-owned ``/repository/.shards``:
  ``permission denied``, then ``found existing data in storage location``, exit 1). The daily
  KopiaMaintenance ``volsync-system/nfs-repo`` (02:00Z) hangs on 01-28 (killed by its 3 h
  activeDeadline), fails twice inside one pod on 01-29 (restartPolicy OnFailure: ``0.log`` and
  ``1.log``), claims ownership from ``nobody@volsync-src-recyclarr-…`` and cleans up 7,666 log
  blobs on 01-30, and succeeds as the owner on 01-31.

Layout written under ``--out`` (default ``examples``)
-----------------------------------------------------
Every log file is under ``logs/`` (so ``analyze examples/logs/`` reads logs only):

* ``logs/nodes/<node>/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log[.gz]`` - CRI container
  logs (containerd, RFC3339Nano with trailing zeros trimmed, lines over 16 KiB split into ``P``
  records; the 2026-01-30 maintenance log is rotated into ``0.log.20260130-020130.gz`` + ``0.log``).
* ``logs/kubectl/<pod>.log[.gz]`` - the home/zigbee2mqtt pods as ``kubectl logs --timestamps``.
* ``logs/cache/<ns>/<cache-pvc>/logs/cli-logs/kopia-<YYYYMMDD-HHMMSS>-<pid>-<command>.0.log`` -
  Kopia CLI logs from the mover cache volumes (every hung and failed run, the last 3 healthy runs
  per source); always plain text.
* ``logs/kube/replicationsources.json``, ``logs/kube/pods-jobs.json`` - ``kubectl get … -o json``
  dumps at the end of the window.
* ``ground-truth.json`` - window, phases, every run (start, end, outcome, exit code, image, log
  paths relative to the output folder) and the number of lines carrying each failure signature.

Pod logs (CRI and kubectl) of runs that start before ``ARCHIVE_BEFORE`` (2026-01-30T12:00:00Z) are
gzipped as ``<n>.log.gz`` / ``<pod>.log.gz``, as an operator archiving older copied node logs
would (``mtime=0``, so the bytes do not change from run to run); the rotated 2026-01-30 maintenance
pair is kept as containerd leaves it. This keeps the corpus under 4.5 MB.

``README.md`` in the output folder is hand-written and is left alone; every entry listed in
``GENERATED`` is deleted and rewritten (and the top-level ``nodes``, ``kubectl``, ``cache`` and
``kube`` of the older layout are deleted), so two runs with the same seed give byte-identical files.

Usage: ``python scripts/generate_examples.py --out examples --seed 20260131``
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from testing.write import (
    MS,
    SEC,
    US,
    cri_split,
    go_duration,
    kopia_cli,
    kubectl,
    split_ns,
)

# --------------------------------------------------------------------------------------------------
# Story constants
# --------------------------------------------------------------------------------------------------

#: Folder under the output folder that holds every generated log file (so `analyze examples/logs/`
#: reads logs only, not ground-truth.json or README.md).
LOGS = "logs"
#: Top-level entries of the output folder that this script owns (deleted and rewritten each run).
GENERATED = (LOGS, "ground-truth.json")
#: Top-level folders of the layout before the logs moved under `logs/`; deleted when found.
LEGACY = ("nodes", "kubectl", "cache", "kube")


def _ns(text: str) -> int:
    """Nanoseconds since the epoch for an RFC3339 UTC text with a trailing Z."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * SEC


WINDOW_FROM = _ns("2026-01-28T00:00:00Z")
PHASE2_AT = _ns("2026-01-29T06:00:00Z")
FIX_AT = _ns("2026-01-29T18:00:00Z")
WINDOW_TO = _ns("2026-02-01T00:00:00Z")


@dataclass(frozen=True)
class Phase:
    name: str
    start: int
    end: int
    image: str
    version: str  # the image's `version` env, printed by the script
    cgo_enabled: bool
    user_env: str | None
    user_error: str | None  # Kopia's os/user error text, None when the lookup succeeds


PHASES = (
    Phase(
        "cgo-deadlock",
        WINDOW_FROM,
        PHASE2_AT,
        "ghcr.io/perfectra1n/volsync:0.17.7",
        "v0.17.7",
        True,
        None,
        "user: unknown userid 1000",
    ),
    Phase(
        "no-user-env",
        PHASE2_AT,
        FIX_AT,
        "ghcr.io/rcdailey/volsync:0.17.7-cgo-fix-v1",
        "v0.17.7-cgo-fix-v1",
        False,
        None,
        "user: Current requires cgo or $USER set in environment",
    ),
    Phase(
        "fixed",
        FIX_AT,
        WINDOW_TO,
        "ghcr.io/rcdailey/volsync:0.17.7-cgo-fix-v2",
        "v0.17.7-cgo-fix-v2",
        False,
        "volsync",
        None,
    ),
)


def phase_at(t: int) -> Phase:
    for phase in PHASES:
        if phase.start <= t < phase.end:
            return phase
    return PHASES[-1]


@dataclass(frozen=True)
class Source:
    namespace: str
    name: str
    minute: int  # cron "<minute> * * * *"
    data_bytes: int  # size of the PVC contents (drives the progress lines)
    envelope: str  # "cri" or "kubectl"


SOURCES = (
    Source("media", "recyclarr", 5, 48_300_000, "cri"),
    Source("home", "zigbee2mqtt", 7, 21_700_000, "kubectl"),
    Source("media", "sonarr", 12, 1_240_000_000, "cri"),
    Source("media", "radarr", 19, 1_530_000_000, "cri"),
    Source("media", "prowlarr", 26, 204_000_000, "cri"),
    Source("home", "home-assistant", 33, 3_410_000_000, "cri"),
    Source("default", "paperless", 45, 11_900_000_000, "cri"),
)

NODES = ("k8s-w1", "k8s-w2", "k8s-w3")
REPO_PATH = "/repository"
KOPIA_VERSION_LINE = "0.22.3 build: 5aa12a71b0e7a2c43f1e1c3d53b9bd1e0f6d7c28 from: kopia/kopia"
MAINT_NS = "volsync-system"
MAINT_NAME = "nfs-repo"
MAINT_CONTAINER = "kopia-maintenance"
MAINT_DEADLINE_S = 10_800
MAINT_OWNER = "maintenance@volsync"
#: Failure runs of default/paperless after the fix (root-owned .shards), by hour of 2026-01-29.
PAPERLESS_FAIL_HOURS = (19, 20)
#: First runs after the fix whose `Contents of cache directory` line is longer than 16 KiB (CRI
#: `P` records), with the number of leftover `.nfs*` entries listed (520 gives three records).
LONG_LISTING_SOURCES = {"sonarr": 260, "radarr": 300, "home-assistant": 520}
#: The filesystem branch of the current entry.sh prints no "Executing connection command..." (only
#: the S3 branch does, TSV L1518); the story brief asks for it after "Using filesystem path:", so it
#: is printed. Flip to False for strict script fidelity.
FS_ECHOES_EXECUTING_CONNECTION = True
#: Pod logs of runs that start before this moment are written gzip-compressed (`<n>.log.gz`,
#: `kubectl/<pod>.log.gz`), as an operator archiving older copied node logs would; later runs and
#: every Kopia CLI log stay plain text. Keeps the committed corpus under 4.5 MB.
ARCHIVE_BEFORE = _ns("2026-01-30T12:00:00Z")
#: The rotated 2026-01-30 maintenance log (`0.log.<stamp>.gz` + `0.log`) is kept as containerd
#: leaves it, whatever its start.
MAINT_ROTATED_DAY = _ns("2026-01-30T02:00:00Z")

PERMISSION_DENIED = (
    "error connecting to repository: unable to read format blob: error determining sharded path: "
    "error getting sharding parameters for storage: unable to complete GetBlobFromPath:"
    f"{REPO_PATH}/.shards despite 10 retries: open {REPO_PATH}/.shards: permission denied"
)
FOUND_EXISTING = "unable to get repository storage: found existing data in storage location"
WHOAMI = "whoami: cannot find name for user ID 1000"

SIGNATURES = {
    "unknown-userid": "Cannot determine current user: user: unknown userid",
    "requires-cgo-or-user": "Cannot determine current user: user: Current requires cgo or $USER",
    "whoami-unknown-uid": WHOAMI,
    "permission-denied": f"open {REPO_PATH}/.shards: permission denied",
    "found-existing-data": "found existing data in storage location",
}

# --------------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------------


def iso_ms(t: int) -> str:
    moment, frac = split_ns(t)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{frac // MS:03d}Z"


def iso_s(t: int) -> str:
    return split_ns(t)[0].strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_ms(t: int) -> int:
    return t // MS * MS


def kopia_bytes(n: float) -> str:
    """Kopia units.BytesString (base 10, one decimal)."""
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def format_bytes_bin(n: int) -> str:
    """The script's format_bytes (numfmt --to=iec style with one decimal)."""
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n}B"


def ls_date(t: int) -> str:
    moment = split_ns(t)[0]
    return f"{moment.strftime('%b')} {moment.day:2d} {moment.strftime('%H:%M')}"


# --------------------------------------------------------------------------------------------------
# Random identifiers
# --------------------------------------------------------------------------------------------------

SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


class Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def suffix(self) -> str:
        while True:
            text = "".join(self.rng.choice(SUFFIX_ALPHABET) for _ in range(5))
            if text not in self.used:
                self.used.add(text)
                return text

    def uuid4(self) -> str:
        value = self.rng.getrandbits(128)
        value &= ~(0xF000 << 64)
        value |= 0x4000 << 64
        value &= ~(0xC000 << 48)
        value |= 0x8000 << 48
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"


# --------------------------------------------------------------------------------------------------
# Line emitter: one pod container's output, with a running clock
# --------------------------------------------------------------------------------------------------


@dataclass
class Line:
    t: int
    stream: str  # stdout / stderr
    text: str


class Emitter:
    def __init__(self, start: int, rng: random.Random) -> None:
        self.t = start
        self.rng = rng
        self.lines: list[Line] = []

    def wait(self, seconds: float) -> None:
        self.t += int(seconds * SEC)

    def gap(self, lo_us: int = 30, hi_us: int = 450) -> None:
        self.t += self.rng.randint(lo_us, hi_us) * US + self.rng.randint(0, 999)

    def out(self, text: str, lo_us: int = 30, hi_us: int = 450) -> None:
        if self.lines:
            self.gap(lo_us, hi_us)
        self.lines.append(Line(self.t, "stdout", text))

    def err(self, text: str, lo_us: int = 30, hi_us: int = 450) -> None:
        if self.lines:
            self.gap(lo_us, hi_us)
        self.lines.append(Line(self.t, "stderr", text))

    def burst(self, texts: list[str], stream: str = "stdout") -> None:
        """Lines of one write (captured command output): a few microseconds apart."""
        for text in texts:
            self.t += self.rng.randint(2, 25) * US + self.rng.randint(0, 999)
            self.lines.append(Line(self.t, stream, text))

    def seconds(self) -> int:
        """`date +%s` now."""
        return self.t // SEC


@dataclass
class CliLog:
    """One Kopia CLI-log file: command words, process start, pid, lines (t, level, module, msg)."""

    command: str
    started: int
    pid: int
    lines: list[tuple[int, str, str, str]] = field(default_factory=list)

    def filename(self) -> str:
        stamp = split_ns(self.started)[0].strftime("%Y%m%d-%H%M%S")
        return f"kopia-{stamp}-{self.pid}-{self.command}.0.log"

    def render(self) -> bytes:
        return "".join(f"{kopia_cli(*line)}\n" for line in self.lines).encode()


@dataclass
class Container:
    """One container instance (one `<n>.log`)."""

    restart: int
    em: Emitter
    cli: list[CliLog] = field(default_factory=list)
    exit_code: int | None = None


@dataclass
class Run:
    namespace: str
    pod: str
    rs: str
    role: str  # source / maintenance
    container_name: str
    phase: Phase
    node: str
    uid: str
    envelope: str  # cri / kubectl
    containers: list[Container] = field(default_factory=list)
    outcome: str = ""
    killed_at: int | None = None
    scheduled: int | None = None  # cron trigger time
    keep_cli: bool = True

    @property
    def start(self) -> int:
        return self.containers[0].em.lines[0].t

    @property
    def end(self) -> int | None:
        if self.outcome == "hung":
            return None
        return self.containers[-1].em.lines[-1].t

    @property
    def exit_code(self) -> int | None:
        return self.containers[-1].exit_code


# --------------------------------------------------------------------------------------------------
# The mover script (fork entry.sh v3), section by section
# --------------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    rng: random.Random
    ids: Ids
    run: Run
    pid: int = 0
    listing: list[str] = field(default_factory=list)
    long_listing: int = 0  # number of leftover .nfs entries on one line (0: normal listing)
    cache_used: int = 0

    def next_pid(self) -> int:
        self.pid += self.rng.randint(3, 9)
        return self.pid


ENV_STATUS_VARS = (
    "KOPIA_REPOSITORY",
    "KOPIA_PASSWORD",
    "KOPIA_S3_BUCKET",
    "KOPIA_S3_ENDPOINT",
    "AWS_S3_ENDPOINT",
    "KOPIA_S3_DISABLE_TLS",
    "AWS_S3_DISABLE_TLS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "KOPIA_OVERRIDE_USERNAME",
    "KOPIA_OVERRIDE_HOSTNAME",
    "KOPIA_SOURCE_PATH_OVERRIDE",
    "KOPIA_MANUAL_CONFIG",
    "KOPIA_RESTORE_AS_OF",
    "KOPIA_SHALLOW",
    "KOPIA_PREVIOUS",
    "KOPIA_ENABLE_FILE_DELETION",
    "KOPIA_ADDITIONAL_ARGS",
)
BACKEND_VARS = (
    "KOPIA_B2_BUCKET",
    "B2_ACCOUNT_ID",
    "B2_APPLICATION_KEY",
    "WEBDAV_URL",
    "WEBDAV_USERNAME",
    "WEBDAV_PASSWORD",
    "SFTP_HOST",
    "SFTP_PORT",
    "SFTP_USERNAME",
    "SFTP_PASSWORD",
    "SFTP_PATH",
    "SFTP_KEY_FILE",
    "SFTP_KNOWN_HOSTS",
    "SFTP_KNOWN_HOSTS_DATA",
    "RCLONE_REMOTE_PATH",
    "RCLONE_EXE",
    "RCLONE_CONFIG",
    "GOOGLE_DRIVE_FOLDER_ID",
    "GOOGLE_DRIVE_CREDENTIALS",
)
CACHE_CAPACITY = 8 * (1 << 30)


def cache_listing(ctx: Ctx, t: int) -> list[str]:
    """`ls -la /cache` of a mover cache volume (fsGroup 1000, setgid)."""
    rng = ctx.rng
    day = ls_date(t - rng.randint(3, 40) * 86400 * SEC)
    recent = ls_date(t - rng.randint(60, 3000) * SEC)
    entries = [
        ("drwxrwsr-x.", 9, "root", 4096, recent, "."),
        ("drwxr-xr-x.", 1, "root", 4096, ls_date(t), ".."),
        ("drwxr-sr-x.", 3, "1000", 4096, day, "blob-list"),
        ("drwxr-sr-x.", 66, "1000", 4096, day, "contents"),
        ("drwxr-sr-x.", 2, "1000", 20480, day, "indexes"),
        ("-rw-------.", 1, "1000", 1133, recent, "kopia.config"),
        ("drwxr-xr-x.", 4, "1000", 4096, day, "logs"),
        ("drwxr-sr-x.", 2, "1000", 4096, day, "own-writes"),
    ]
    if ctx.long_listing:
        # Silly-renamed files left behind on the NFS-backed cache PVC by the killed Kopia processes.
        for _ in range(ctx.long_listing):
            name = f".nfs{rng.getrandbits(64):016x}{rng.randint(1, 4095):08x}"
            size = rng.choice((0, 118, 121, 96, 1133))
            stamp = ls_date(t - rng.randint(600, 40 * 3600) * SEC)
            entries.append(("-rw-r--r--.", 1, "1000", size, stamp, name))
    lines = [f"total {rng.randint(40, 120)}"]
    for mode, links, owner, size, stamp, name in entries:
        lines.append(f"{mode} {links:2d} {owner} 1000 {size:5d} {stamp} {name}")
    return lines


def script_preamble(ctx: Ctx, em: Emitter, args: str) -> None:
    """entry.sh from the first line to `=== Starting kopia operations ===` and the mode lines."""
    run = ctx.run
    rng = ctx.rng
    em.out("Starting kopia mover container")
    em.out("")
    em.out(f"INFO: VolSync kopia container version: {run.phase.version}", 200, 900)
    em.out(f"INFO: Arguments: {args}")
    em.out("")
    em.out("INFO: Setting cache directory: /cache", 1000, 4000)
    em.out("INFO: Creating cache and log directories...")
    em.out("INFO: Cache and log directories created successfully", 1500, 6000)
    em.out("=== DEBUG: Environment Setup ===")
    em.out("HOME: /")
    em.out("KOPIA_CACHE_DIR: /cache")
    em.out("KOPIA_CACHE_DIRECTORY: /cache")
    em.out("KOPIA_LOG_DIR: /cache/logs")
    em.out(f"KOPIA_CACHE_CAPACITY_BYTES: {CACHE_CAPACITY} ({format_bytes_bin(CACHE_CAPACITY)})")
    em.err(WHOAMI, 1200, 3500)
    em.out("Current user: ", 20, 120)
    em.out("Current working directory: /", 800, 2500)
    em.out("Cache directory writable: Yes", 800, 2500)
    em.out("Log directory exists: Yes", 800, 2500)
    listing = cache_listing(ctx, em.t)
    if ctx.long_listing:
        em.out("Contents of cache directory: " + " ".join(listing), 2000, 9000)
    else:
        em.out(f"Contents of cache directory: {listing[0]}", 2000, 9000)
        em.burst(listing[1:])
    ctx.cache_used = rng.randint(12, 900) * (1 << 20) + rng.randint(0, 1 << 20)
    em.out(
        f"Cache usage: {format_bytes_bin(ctx.cache_used)} / {format_bytes_bin(CACHE_CAPACITY)} "
        f"({ctx.cache_used * 100 // CACHE_CAPACITY}%)",
        4000,
        30000,
    )
    em.out("")
    em.out("=== ENVIRONMENT VARIABLES STATUS ===")
    set_vars = {"KOPIA_REPOSITORY", "KOPIA_PASSWORD"}
    if run.role == "source":
        set_vars |= {"KOPIA_OVERRIDE_USERNAME", "KOPIA_OVERRIDE_HOSTNAME"}
    for var in ENV_STATUS_VARS:
        em.out(f"{var}: {'[SET]' if var in set_vars else '[NOT SET]'}", 300, 1500)
    em.out("KOPIA_CACHE_CAPACITY_BYTES: [NOT SET] (default: 8Gi)", 300, 1500)
    em.out("")
    em.out("=== Log Configuration ===")
    # entry.sh writes `echo "KOPIA_LOG_LEVEL: …"  # Console/stdout log level`: the comment is bash's.
    em.out("KOPIA_LOG_LEVEL: info")
    em.out("KOPIA_FILE_LOG_LEVEL: info")
    em.out("KOPIA_LOG_DIR_MAX_FILES: 3")
    em.out("KOPIA_LOG_DIR_MAX_AGE: 4h")
    em.out("KOPIA_CONTENT_LOG_DIR_MAX_FILES: 3")
    em.out("KOPIA_CONTENT_LOG_DIR_MAX_AGE: 4h")
    em.out("")
    em.out("=== Additional Backend Environment Variables ===")
    for var in BACKEND_VARS:
        em.out(f"{var}: [NOT SET]", 300, 1500)
    em.out("=== END DEBUG ===")
    em.out("")
    em.out("INFO: === Checking Kopia Version ===")
    ctx.pid = rng.randint(18, 40)
    t0 = em.seconds()
    em.wait(rng.uniform(0.03, 0.16))
    em.out(KOPIA_VERSION_LINE)
    em.out(f"TIMING: Kopia version check took {em.seconds() - t0} seconds", 500, 3000)
    em.out("=====================")
    em.out("Testing mandatory env variables")
    em.out("INFO: Cache directory validation passed", 500, 2500)
    em.out("INFO: Data directory validation passed", 300, 1500)
    em.out("INFO: === Starting kopia operations ===", 300, 1500)
    em.out(f"INFO: Operation start time: {iso_s(em.t + 2 * MS)}", 1500, 4000)
    mode = "maintenance" if run.role == "maintenance" else "command-based"
    em.out(f"INFO: Operation mode: {mode}", 1500, 4000)
    if run.role == "maintenance":
        em.out("INFO: === Running MAINTENANCE ONLY ====")
    else:
        em.out("=== Checking directory for content ===")


def connect_start(ctx: Ctx, em: Emitter) -> int:
    """ensure_connected up to the launch of `kopia repository connect filesystem`; returns t0."""
    rng = ctx.rng
    em.out("INFO: === Starting repository connection process ===", 1500, 6000)
    t0 = em.seconds()
    em.out("No manual configuration provided, using automatic settings", 500, 3000)
    em.out("INFO: Checking existing repository connection status...")
    s0 = em.seconds()
    ctx.next_pid()
    em.wait(rng.uniform(0.12, 0.35))
    em.out(f"TIMING: Repository status check took {em.seconds() - s0} seconds (not connected)")
    em.out("INFO: Repository not connected, attempting to connect or create...")
    em.out("")
    em.out("Attempting to connect to existing repository...")
    em.out("=== Connecting to existing repository ===")
    em.out("Connecting to filesystem repository")
    em.out(f"Using filesystem path: {REPO_PATH}", 300, 1500)
    if FS_ECHOES_EXECUTING_CONNECTION:
        em.out("Executing connection command...")
    return t0


def kopia_process(ctx: Ctx, container: Container, em: Emitter, command: str) -> CliLog:
    log = CliLog(command, em.t + ctx.rng.randint(2, 9) * MS, ctx.next_pid())
    container.cli.append(log)
    return log


def connect_hang(ctx: Ctx, container: Container, em: Emitter) -> None:
    """Connect that deadlocks right after the user lookup error (phases 1 and 2)."""
    rng = ctx.rng
    connect_start(ctx, em)
    log = kopia_process(ctx, container, em, "repository-connect-filesystem")
    t_err = log.started + rng.randint(60, 420) * MS + rng.randint(0, 999_999)
    message = f"Cannot determine current user: {ctx.run.phase.user_error}"
    log.lines.append((t_err, "ERROR", "kopia/repo", message))
    if rng.random() < 0.2:
        # Kopia 0.22 console (stderr): bare message, no level word. CRI timestamps it a bit later.
        em.t = t_err + rng.randint(40, 900) * US
        em.lines.append(Line(em.t, "stderr", message))


def connect_ok(ctx: Ctx, container: Container, em: Emitter, identity: tuple[str, str]) -> int:
    """Successful connect + client identity + cache configuration; returns the connect t0."""
    rng = ctx.rng
    run = ctx.run
    t0 = connect_start(ctx, em)
    log = kopia_process(ctx, container, em, "repository-connect-filesystem")
    em.t = log.started + rng.randint(700, 2400) * MS + rng.randint(0, 999_999)
    log.lines.append(
        (em.t - rng.randint(200, 900) * US, "INFO", "kopia/cli", "Connected to repository.")
    )
    em.lines.append(Line(em.t, "stdout", "Connected to repository."))
    em.out("", 100, 900)
    user, host = identity
    if run.role == "maintenance":
        em.out(f"INFO: Setting maintenance identity to '{user}@{host}'")
    else:
        em.out(f"INFO: Setting client identity to '{user}@{host}'")
    em.out("INFO: Applying client identity configuration...")
    ctx.next_pid()
    em.wait(rng.uniform(0.15, 0.45))
    em.out(f"Setting local username to {user}")
    em.out(f"Setting local hostname to {host}", 5, 40)
    em.out(f"INFO:  Client identity set successfully to {user}@{host}", 1000, 5000)
    em.out("INFO: Verifying client identity after set-client command...")
    ctx.next_pid()
    em.wait(rng.uniform(0.2, 0.5))
    em.out(f"Hostname:            {host}")
    em.out(f"Username:            {user}", 5, 40)
    em.out("INFO: === Configuring cache directory after connection ===", 1500, 6000)
    c0 = em.seconds()
    if rng.random() < 0.05:
        em.out("INFO: Configuring cache limits (first run or limits changed)")
        ctx.next_pid()
        em.wait(rng.uniform(0.2, 0.6))
    else:
        em.out("INFO: Cache limits unchanged from previous run, skipping kopia cache set")
        em.out("INFO:   Metadata limit: auto MB")
        em.out("INFO:   Content limit: auto MB")
    em.out(f"TIMING: Cache directory configuration took {em.seconds() - c0} seconds")
    em.out("INFO: Cache directory ready at /cache")
    em.out(f"TIMING: Total repository connection process took {em.seconds() - t0} seconds")
    em.out("")
    return t0


def connect_denied(ctx: Ctx, container: Container, em: Emitter) -> None:
    """Connect fails on root-owned .shards, create refuses the non-empty location (§8.1)."""
    rng = ctx.rng
    connect_start(ctx, em)
    log = kopia_process(ctx, container, em, "repository-connect-filesystem")
    em.t = log.started + rng.randint(11_050, 11_600) * MS + rng.randint(0, 999_999)
    log.lines.append((em.t - rng.randint(300, 2000) * US, "ERROR", "kopia/cli", PERMISSION_DENIED))
    em.lines.append(Line(em.t, "stdout", PERMISSION_DENIED))
    em.out("Connection failed, creating new repository...")
    em.out("")
    em.out("=== Creating repository ===")
    em.out("Creating filesystem repository")
    em.out(f"Using filesystem path: {REPO_PATH}")
    log = kopia_process(ctx, container, em, "repository-create-filesystem")
    em.t = log.started + rng.randint(180, 420) * MS + rng.randint(0, 999_999)
    log.lines.append((em.t - rng.randint(100, 600) * US, "ERROR", "kopia/cli", FOUND_EXISTING))
    em.lines.append(Line(em.t, "stderr", FOUND_EXISTING))
    em.out("")
    em.out("ERROR: Failed to create repository")


def summary(ctx: Ctx, em: Emitter, ok: bool, exit_code: int, maint_duration: int | None) -> None:
    role = ctx.run.role
    em.out("INFO: === OPERATION SUMMARY ===", 200, 900)
    em.out(f"INFO: OPERATION_TYPE: {'maintenance' if role == 'maintenance' else 'unknown'}")
    em.out(f"INFO: OPERATION_RESULT: {'SUCCESS' if ok else 'FAILURE'}")
    if role == "maintenance":
        if ok:
            em.out("INFO: MAINTENANCE_STATUS: SUCCESS")
            em.out(f"INFO: MAINTENANCE_DURATION: {maint_duration}")
        else:
            em.out("INFO: MAINTENANCE_STATUS: FAILURE")
            em.out(f"INFO: MAINTENANCE_FAILURE_REASON: Unexpected exit with code {exit_code}")
    if not ok:
        em.out("INFO: === Diagnostic Information ===")
        em.wait(ctx.rng.uniform(0.01, 0.04))
        em.out(f"INFO: CACHE_USAGE_BYTES: {ctx.cache_used}")
        em.out(f"INFO: CACHE_CAPACITY_BYTES: {CACHE_CAPACITY}")
        em.out(f"INFO: CACHE_USAGE_PERCENT: {ctx.cache_used * 100 // CACHE_CAPACITY}")
    em.out(f"INFO: EXIT_CODE: {exit_code}")
    em.out("INFO: === Done ===")


def progress_lines(rng: random.Random, total: int, count: int) -> list[str]:
    files_cached = max(40, total // rng.randint(180_000, 900_000))
    changed_frac = rng.uniform(0.002, 0.03)
    hashed_bytes_final = int(total * changed_frac)
    hashed_files_final = max(1, int(files_cached * changed_frac * rng.uniform(0.5, 2)))
    lines = []
    spinner = "|/-\\"
    for i in range(count):
        last = i == count - 1
        frac = 1.0 if last else (i + 1) / (count + rng.uniform(0.2, 1.5))
        hashing = 0 if last else rng.randint(0, 4)
        hashed_f = max(1, int(hashed_files_final * frac))
        hashed_b = int(hashed_bytes_final * frac)
        cached_b = int((total - hashed_bytes_final) * min(1.0, frac + 0.3))
        cached_f = int(files_cached * min(1.0, frac + 0.3))
        uploaded = int(hashed_b * rng.uniform(0.55, 0.95))
        head = (
            f" {'*' if last else spinner[i % 4]} {hashing} hashing, {hashed_f} hashed "
            f"({kopia_bytes(hashed_b)}), {cached_f} cached ({kopia_bytes(cached_b)}), "
            f"uploaded {kopia_bytes(uploaded)}"
        )
        if i == 0 and not last:
            lines.append(head + ", estimating...")
        else:
            pct = 100.0 if last else min(99.9, 100 * (hashed_b + cached_b) / total)
            left = 0 if last else rng.randint(1, 20)
            lines.append(f"{head}, estimated {kopia_bytes(total)} ({pct:.1f}%) {left}s left")
    return lines


def backup_body(ctx: Ctx, container: Container, em: Emitter, source: Source) -> None:
    """do_backup + do_retention of a healthy run (§3.2, §8.3)."""
    rng = ctx.rng
    ident = f"{source.name}@{source.namespace}:/data"
    em.out("INFO: === Starting backup operation ===")
    b0 = em.seconds()
    em.out(f"INFO: Creating snapshot for {ident}", 1500, 5000)
    em.out("INFO: Starting kopia snapshot creation...")
    s0 = em.seconds()
    log = kopia_process(ctx, container, em, "snapshot-create")
    kopia_start = log.started
    em.t = kopia_start + rng.randint(350, 1200) * MS
    log.lines.append(
        (em.t - rng.randint(50, 400) * US, "INFO", "kopia/cli", f"Snapshotting {ident} ...")
    )
    em.lines.append(Line(em.t, "stdout", f"Snapshotting {ident} ..."))
    target = rng.uniform(28.5, 84)  # seconds of snapshot work: whole runs take 30-90 s
    count = rng.randint(1, 3)
    for i, text in enumerate(progress_lines(rng, source.data_bytes, count)):
        if i == count - 1:
            em.t = kopia_start + int(target * SEC) - rng.randint(20, 300) * MS
        else:
            em.t += int(rng.uniform(0.5, target / count) * SEC)
        em.lines.append(Line(em.t, "stdout", text))
    em.out("", 100, 900)
    kopia_end = kopia_start + int(target * SEC)
    took = (kopia_end - kopia_start) // SEC
    root = "k" + ctx.ids.hex(32)
    manifest = ctx.ids.hex(32)
    created = f"Created snapshot with root {root} and ID {manifest} in {go_duration(took * SEC)}"
    em.t = max(em.t + 50 * US, kopia_end)
    log.lines.append((em.t - rng.randint(50, 400) * US, "INFO", "kopia/cli", created))
    em.lines.append(Line(em.t, "stdout", created))
    em.wait(rng.uniform(0.05, 0.4))
    em.out(f"TIMING: Snapshot creation completed in {em.seconds() - s0} seconds")
    em.out("INFO: Snapshot created successfully")
    em.out(f"TIMING: Total backup operation took {em.seconds() - b0} seconds")
    em.out("=== Applying retention policy ===")
    ctx.next_pid()
    em.wait(rng.uniform(0.2, 0.6))
    em.out(f"Setting policy for {ident}")
    em.out(' - setting "number of hourly backups to keep" to 24.', 5, 40)
    em.out(' - setting "number of daily backups to keep" to 7.', 5, 40)
    em.out(' - setting "number of weekly backups to keep" to 4.', 5, 40)
    em.out("Retention policy applied successfully", 500, 2000)


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


class World:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.runs: list[Run] = []
        self.earlier_owner_pod = f"volsync-src-recyclarr-{self.ids.suffix()}"

    def new_run(self, ns: str, pod: str, rs: str, role: str, cname: str, t: int, env: str) -> Run:
        run = Run(
            namespace=ns,
            pod=pod,
            rs=rs,
            role=role,
            container_name=cname,
            phase=phase_at(t),
            node=self.rng.choice(NODES),
            uid=self.ids.uuid4(),
            envelope=env,
        )
        self.runs.append(run)
        return run

    # -- source movers -----------------------------------------------------------------------------

    def source_pod(self, source: Source, t: int) -> Run:
        pod = f"volsync-src-{source.name}-{self.ids.suffix()}"
        return self.new_run(
            source.namespace, pod, source.name, "source", "kopia", t, source.envelope
        )

    def hung_source(self, source: Source, t: int) -> Run:
        run = self.source_pod(source, t)
        container = Container(0, Emitter(t, self.rng))
        run.containers.append(container)
        ctx = Ctx(self.rng, self.ids, run)
        script_preamble(ctx, container.em, "backup")
        connect_hang(ctx, container, container.em)
        run.outcome = "hung"
        return run

    def healthy_source(self, source: Source, t: int, long_listing: int = 0) -> Run:
        run = self.source_pod(source, t)
        container = Container(0, Emitter(t, self.rng))
        run.containers.append(container)
        ctx = Ctx(self.rng, self.ids, run, long_listing=long_listing)
        em = container.em
        script_preamble(ctx, em, "backup")
        connect_ok(ctx, container, em, (source.name, source.namespace))
        backup_body(ctx, container, em, source)
        summary(ctx, em, True, 0, None)
        container.exit_code = 0
        run.outcome = "completed"
        return run

    def denied_source(self, source: Source, t: int) -> Run:
        run = self.source_pod(source, t)
        container = Container(0, Emitter(t, self.rng))
        run.containers.append(container)
        ctx = Ctx(self.rng, self.ids, run)
        em = container.em
        script_preamble(ctx, em, "backup")
        connect_denied(ctx, container, em)
        summary(ctx, em, False, 1, None)
        container.exit_code = 1
        run.outcome = "failed"
        return run

    def source_timeline(self, source: Source) -> None:
        rng = self.rng
        # Phases 1 and 2: back-to-back hung pods. The schedule fires once; the sync never ends.
        t = WINDOW_FROM + source.minute * 60 * SEC + rng.randint(2_000, 6_000) * MS
        if source.name == "zigbee2mqtt":
            t = _ns("2026-01-28T00:07:03Z") + 412 * MS  # the timestamp quoted in the brief
        while True:
            run = self.hung_source(source, t)
            kill = t + rng.randint(45 * 60, 75 * 60) * SEC + rng.randint(0, 999) * MS
            for boundary in (PHASE2_AT, FIX_AT):
                if t < boundary <= kill:
                    kill = boundary + rng.randint(20, 300) * MS
                    break
            run.killed_at = kill
            t = kill + rng.randint(200, 800) * MS + rng.randint(0, 999_999)
            if kill > FIX_AT:
                break
        # Phase 3: the first pod after the fix starts within a second of 18:00 and completes.
        self.healthy_source(source, t, long_listing=LONG_LISTING_SOURCES.get(source.name, 0))
        # Then the hourly schedule: "<minute> * * * *".
        scheduled = FIX_AT + source.minute * 60 * SEC
        while scheduled < WINDOW_TO:
            start = scheduled + rng.randint(1_800, 6_500) * MS + rng.randint(0, 999_999)
            moment = split_ns(scheduled)[0]
            if (
                source.name == "paperless"
                and moment.day == 29
                and moment.hour in PAPERLESS_FAIL_HOURS
            ):
                run = self.denied_source(source, start)
            else:
                run = self.healthy_source(source, start)
            run.scheduled = scheduled
            scheduled += 3600 * SEC

    # -- KopiaMaintenance ----------------------------------------------------------------------------

    def maint_cronjob(self) -> str:
        digest = hashlib.sha256(f"{MAINT_NS}/{MAINT_NAME}".encode()).hexdigest()[:16]
        return f"kopia-maint-{MAINT_NAME[:34]}-{digest}"

    def maint_run(self, day: int) -> Run:
        rng = self.rng
        scheduled = _ns(f"2026-01-{day:02d}T02:00:00Z")
        job = f"{self.maint_cronjob()}-{scheduled // SEC // 60}"
        pod = f"{job}-{self.ids.suffix()}"
        start = scheduled + rng.randint(2_500, 5_000) * MS + rng.randint(0, 999_999)
        run = self.new_run(MAINT_NS, pod, MAINT_NAME, "maintenance", MAINT_CONTAINER, start, "cri")
        run.scheduled = scheduled
        return run

    def maint_preamble(self, run: Run, start: int, restart: int = 0) -> tuple[Ctx, Container]:
        container = Container(restart, Emitter(start, self.rng))
        run.containers.append(container)
        ctx = Ctx(self.rng, self.ids, run)
        script_preamble(ctx, container.em, "")
        return ctx, container

    def maintenance_timeline(self) -> None:
        rng = self.rng
        # 01-28: hangs on the user lookup, killed by activeDeadlineSeconds (3 h after Job start).
        run = self.maint_run(28)
        ctx, container = self.maint_preamble(run, run_start(run, rng))
        connect_hang(ctx, container, container.em)
        run.outcome = "hung"
        run.killed_at = run.scheduled + MAINT_DEADLINE_S * SEC + rng.randint(400, 1500) * MS

        # 01-29: permission denied -> found existing data; OnFailure restarts the container once.
        run = self.maint_run(29)
        t = run_start(run, rng)
        for restart in (0, 1):
            ctx, container = self.maint_preamble(run, t, restart)
            connect_denied(ctx, container, container.em)
            summary(ctx, container.em, False, 1, None)
            container.exit_code = 1
            t = container.em.t + rng.randint(10_300, 11_500) * MS + rng.randint(0, 999_999)
        run.outcome = "failed"

        # 01-30: succeeds after claiming ownership, full maintenance cleans up 7,666 log blobs.
        self.maint_success(30, self.earlier_owner_pod, 7666)
        # 01-31: succeeds, already the owner.
        self.maint_success(31, None, 0)

    def maint_success(self, day: int, foreign_owner_pod: str | None, logs_cleaned: int) -> None:
        rng = self.rng
        run = self.maint_run(day)
        ctx, container = self.maint_preamble(run, run_start(run, rng))
        em = container.em
        connect_ok(ctx, container, em, ("maintenance", "volsync"))
        em.out("INFO: === Starting maintenance operation ====")
        m0 = em.seconds()
        em.out("INFO: === Checking maintenance ownership ====")
        em.out(f"INFO: Expected maintenance owner: {MAINT_OWNER}")
        ctx.next_pid()
        em.wait(rng.uniform(0.3, 0.9))
        if foreign_owner_pod:
            owner = f"nobody@{foreign_owner_pod}"
            em.out(f"INFO: Current maintenance owner: {owner}")
            em.out(f"WARN: Repository has different maintenance owner: {owner}")
            em.out(f"WARN: Expected: {MAINT_OWNER}")
            em.out("INFO: Attempting to claim maintenance ownership...")
            log = kopia_process(ctx, container, em, "maintenance-set")
            em.t = log.started + rng.randint(300, 900) * MS
            msg = f"Setting maintenance owner to {MAINT_OWNER}"
            log.lines.append((em.t - rng.randint(100, 900) * US, "INFO", "kopia/cli", msg))
            em.lines.append(Line(em.t, "stdout", msg))
            em.out("INFO:  Successfully claimed maintenance ownership")
        else:
            em.out(f"INFO: Current maintenance owner: {MAINT_OWNER}")
            em.out("INFO:  Already maintenance owner")
        em.out("INFO: Enabling quick cycle scheduling...")
        log = kopia_process(ctx, container, em, "maintenance-set")
        em.t = log.started + rng.randint(300, 900) * MS
        msg = "Periodic quick maintenance enabled."
        log.lines.append((em.t - rng.randint(100, 900) * US, "INFO", "kopia/cli", msg))
        em.lines.append(Line(em.t, "stdout", msg))

        em.out("INFO: Running Kopia quick maintenance...")
        log = kopia_process(ctx, container, em, "maintenance-run")
        q0 = log.started + rng.randint(600, 1500) * MS
        q1 = q0 + int(rng.uniform(4, 25) * SEC)
        log.lines.append((q0, "INFO", "maintenance", "Running quick maintenance..."))
        log.lines.append((q1, "INFO", "maintenance", "Finished quick maintenance."))
        # The script captures the output and echoes it when the command has finished.
        em.t = q1 + rng.randint(20, 200) * MS
        em.burst(["Running quick maintenance...", "Finished quick maintenance."])

        em.out("INFO: Running Kopia full maintenance...", 500, 3000)
        log = kopia_process(ctx, container, em, "maintenance-run")
        t = log.started + rng.randint(600, 1500) * MS
        full = [(t, "maintenance", "Running full maintenance...")]
        snapshots = rng.randint(150, 190)
        for processed in (snapshots // 2, snapshots):
            t += int(rng.uniform(3, 12) * SEC)
            fields = json.dumps(
                {"snapshotsProcessed": processed, "totalSnapshots": snapshots},
                separators=(",", ":"),
            )
            full.append((t, "snapshotgc", f"finding contents in live snapshots\t{fields}"))
        unused = rng.randint(900, 4000)
        t += int(rng.uniform(1, 4) * SEC)
        gc = [
            f"GC found {unused} unused contents ({kopia_bytes(unused * rng.randint(80_000, 400_000))})",
            f"GC found {rng.randint(3, 40)} unused contents that are too recent to delete "
            f"({kopia_bytes(rng.randint(200_000, 9_000_000))})",
            f"GC found {rng.randint(40_000, 90_000)} in-use contents "
            f"({kopia_bytes(rng.randint(18_000_000_000, 26_000_000_000))})",
            f"GC found {rng.randint(250, 400)} in-use system-contents "
            f"({kopia_bytes(rng.randint(2_000_000, 6_000_000))})",
            "GC undeleted 0 contents (0 B)",
        ]
        for text in gc:
            t += rng.randint(1, 40) * MS
            full.append((t, "snapshotgc", text))
        # Deleting thousands of log blobs over NFS takes a while; a handful takes nothing.
        t += int((rng.uniform(75, 110) if logs_cleaned > 1000 else rng.uniform(1, 4)) * SEC)
        full.append((t, "maintenance", f"Cleaned up {logs_cleaned} logs."))
        t += int(rng.uniform(2, 9) * SEC)
        full.append((t, "maintenance", "Finished full maintenance."))
        for when, module, text in full:
            log.lines.append((when, "INFO", module, text))
        em.t = t + rng.randint(20, 200) * MS
        em.burst([text for _, _, text in full])

        duration = em.seconds() - m0
        em.out(f"INFO: Maintenance operation completed successfully in {duration} seconds")
        em.out("INFO: Maintenance operation completed")
        summary(ctx, em, True, 0, duration)
        container.exit_code = 0
        run.outcome = "completed"


def run_start(run: Run, rng: random.Random) -> int:
    assert run.scheduled is not None
    return run.scheduled + rng.randint(2_500, 5_000) * MS + rng.randint(0, 999_999)


# --------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------


def cri_records(lines: list[Line], rng: random.Random) -> list[str]:
    def gap() -> int:  # between the records of a split line
        return rng.randint(3, 40) * US + rng.randint(0, 999)

    return [f"{r}\n" for line in lines for r in cri_split(line.t, line.stream, line.text, gap)]


def kubectl_records(lines: list[Line]) -> list[str]:
    return [f"{kubectl(line.t, line.text)}\n" for line in lines]


def cache_dir(run: Run) -> str:
    if run.role == "maintenance":
        return f"{LOGS}/cache/{run.namespace}/kopia-maint-{run.rs}-cache/logs/cli-logs"
    return f"{LOGS}/cache/{run.namespace}/volsync-src-{run.rs}-cache/logs/cli-logs"


def pod_dir(run: Run) -> str:
    return (
        f"{LOGS}/nodes/{run.node}/var/log/pods/"
        f"{run.namespace}_{run.pod}_{run.uid}/{run.container_name}"
    )


def gz(data: bytes) -> bytes:
    """gzip with a zero mtime and no file name, so the output is byte-identical run to run."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def write_pod_logs(run: Run, files: dict[str, bytes], rng: random.Random) -> list[str]:
    """Write a run's pod logs; return their paths relative to the output folder, in order."""
    archive = run.start < ARCHIVE_BEFORE
    paths = []
    if run.envelope == "kubectl":
        lines = [line for c in run.containers for line in c.em.lines]
        path = f"{LOGS}/kubectl/{run.pod}.log"
        data = "".join(kubectl_records(lines)).encode()
        if archive:
            path, data = f"{path}.gz", gz(data)
        files[path] = data
        return [path]
    for container in run.containers:
        records = cri_records(container.em.lines, rng)
        base = f"{pod_dir(run)}/{container.restart}.log"
        rotate_at = None
        if run.role == "maintenance" and run.scheduled == MAINT_ROTATED_DAY:
            rotate_at = _ns("2026-01-30T02:01:30Z")
        if rotate_at is not None:  # kept as containerd rotated it, archived or not
            n_old = sum(1 for line in container.em.lines if line.t < rotate_at)
            old = "".join(records[:n_old]).encode()
            stamp = split_ns(rotate_at)[0].strftime("%Y%m%d-%H%M%S")
            gz_path = f"{base}.{stamp}.gz"
            files[gz_path] = gz(old)
            files[base] = "".join(records[n_old:]).encode()
            paths += [gz_path, base]
        elif archive:
            files[f"{base}.gz"] = gz("".join(records).encode())
            paths.append(f"{base}.gz")
        else:
            files[base] = "".join(records).encode()
            paths.append(base)
    return paths


def content_lines(run: Run) -> list[str]:
    return [line.text for c in run.containers for line in c.em.lines]


def mover_status_logs(run: Run) -> str:
    joined = "\n".join(content_lines(run)).encode()
    return joined[-1024:].decode(errors="ignore")


def job_name(run: Run) -> str:
    return run.pod.rsplit("-", 1)[0]


def kube_dumps(world: World, last_runs: dict[str, Run], last_maint: Run) -> dict[str, bytes]:
    ids = world.ids
    rng = world.rng
    rs_items = []
    pod_items = []
    job_items = []
    for source in SOURCES:
        run = last_runs[source.name]
        last_ok = [r for r in world.runs if r.rs == source.name and r.outcome == "completed"][-1]
        assert last_ok is run
        rs_uid = ids.uuid4()
        sync_start = run.scheduled if run.scheduled is not None else run.start
        sync_end = run.end + rng.randint(900, 2600) * MS
        duration_ms = (floor_ms(sync_end) - floor_ms(sync_start)) // MS
        next_sync = (sync_end // (3600 * SEC) + 1) * 3600 * SEC + source.minute * 60 * SEC
        if next_sync - 3600 * SEC > sync_end:
            next_sync -= 3600 * SEC
        rs_items.append(
            {
                "apiVersion": "volsync.backube/v1alpha1",
                "kind": "ReplicationSource",
                "metadata": {
                    "creationTimestamp": "2025-11-02T14:21:09Z",
                    "generation": 3,
                    "name": source.name,
                    "namespace": source.namespace,
                    "resourceVersion": str(rng.randint(40_000_000, 49_000_000)),
                    "uid": rs_uid,
                },
                "spec": {
                    "kopia": {
                        "cacheCapacity": "8Gi",
                        "cacheStorageClassName": "nfs-client",
                        "copyMethod": "Snapshot",
                        "moverSecurityContext": {
                            "fsGroup": 1000,
                            "fsGroupChangePolicy": "OnRootMismatch",
                            "runAsGroup": 1000,
                            "runAsUser": 1000,
                        },
                        "repository": f"{source.name}-volsync-kopia",
                        "retain": {"daily": 7, "hourly": 24, "weekly": 4},
                        "volumeSnapshotClassName": "csi-snapclass",
                    },
                    "sourcePVC": source.name,
                    "trigger": {"schedule": f"{source.minute} * * * *"},
                },
                "status": {
                    "conditions": [
                        {
                            "lastTransitionTime": iso_s(sync_end),
                            "message": "Waiting for next scheduled synchronization",
                            "reason": "WaitingForSchedule",
                            "status": "False",
                            "type": "Synchronizing",
                        }
                    ],
                    "lastSyncDuration": go_duration(duration_ms * MS),
                    "lastSyncStartTime": iso_s(sync_start),
                    "lastSyncTime": iso_s(sync_end),
                    "latestMoverStatus": {"logs": mover_status_logs(run), "result": "Successful"},
                    "nextSyncTime": iso_s(next_sync),
                },
            }
        )
        job_uid = ids.uuid4()
        pod_items.append(pod_object(run, job_uid, ids))
        job_items.append(job_object(run, job_uid, rs_uid, ids))
    job_uid = ids.uuid4()
    pod_items.append(pod_object(last_maint, job_uid, ids))
    job_items.append(job_object(last_maint, job_uid, None, ids))
    rs_list = {
        "apiVersion": "v1",
        "items": rs_items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
    pj_list = {
        "apiVersion": "v1",
        "items": pod_items + job_items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
    return {
        f"{LOGS}/kube/replicationsources.json": (json.dumps(rs_list, indent=4) + "\n").encode(),
        f"{LOGS}/kube/pods-jobs.json": (json.dumps(pj_list, indent=4) + "\n").encode(),
    }


def pod_object(run: Run, job_uid: str, ids: Ids) -> dict:
    job = job_name(run)
    maint = run.role == "maintenance"
    labels = {
        "batch.kubernetes.io/controller-uid": job_uid,
        "batch.kubernetes.io/job-name": job,
        "controller-uid": job_uid,
        "job-name": job,
    }
    if maint:
        labels |= {
            "volsync.backube/kopia-maintenance": "true",
            "volsync.backube/maintenance-name": MAINT_NAME,
        }
        security = {"fsGroup": 1000, "runAsNonRoot": True, "runAsUser": 1000}
        env = [
            {"name": "DIRECTION", "value": "maintenance"},
            {"name": "DATA_DIR", "value": "/data"},
            {"name": "KOPIA_CACHE_DIR", "value": "/cache"},
        ]
        args: list[str] = []
        volumes = ["cache", "tmp", "repository"]
    else:
        labels |= {"app.kubernetes.io/created-by": "volsync"}
        security = {
            "fsGroup": 1000,
            "fsGroupChangePolicy": "OnRootMismatch",
            "runAsGroup": 1000,
            "runAsUser": 1000,
        }
        env = [
            {"name": "DATA_DIR", "value": "/data"},
            {"name": "KOPIA_CACHE_DIR", "value": "/cache"},
            {"name": "KOPIA_REPOSITORY", "value": f"filesystem://{REPO_PATH}"},
            {"name": "KOPIA_OVERRIDE_USERNAME", "value": run.rs},
            {"name": "KOPIA_OVERRIDE_HOSTNAME", "value": run.namespace},
            {"name": "PRIVILEGED_MOVER", "value": "0"},
        ]
        args = ["backup"]
        volumes = ["data", "cache", "tempdir", "repository"]
    start, end = run.start, run.end
    assert end is not None
    container_id = "containerd://" + ids.hex(64)
    image = run.phase.image
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "creationTimestamp": iso_s(start - 2 * SEC),
            "generateName": f"{job}-",
            "labels": labels,
            "name": run.pod,
            "namespace": run.namespace,
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "blockOwnerDeletion": True,
                    "controller": True,
                    "kind": "Job",
                    "name": job,
                    "uid": job_uid,
                }
            ],
            "uid": run.uid,
        },
        "spec": {
            "containers": [
                {
                    "args": args,
                    "command": ["/mover-kopia/entry.sh"],
                    "env": env,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "name": run.container_name,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                    "volumeMounts": [
                        {"mountPath": "/" + ("tmp" if v == "tempdir" else v), "name": v}
                        for v in volumes
                    ],
                }
            ],
            "nodeName": run.node,
            "restartPolicy": "OnFailure" if maint else "Never",
            "securityContext": security,
            "serviceAccountName": "volsync-kopia-maintenance" if maint else f"volsync-src-{run.rs}",
        },
        "status": {
            "containerStatuses": [
                {
                    "containerID": container_id,
                    "image": image,
                    "imageID": f"{image.split(':')[0]}@sha256:{ids.hex(64)}",
                    "name": run.container_name,
                    "ready": False,
                    "restartCount": len(run.containers) - 1,
                    "started": False,
                    "state": {
                        "terminated": {
                            "containerID": container_id,
                            "exitCode": run.exit_code,
                            "finishedAt": iso_s(end),
                            "reason": "Completed",
                            "startedAt": iso_s(start),
                        }
                    },
                }
            ],
            "hostIP": f"192.168.1.{21 + NODES.index(run.node)}",
            "phase": "Succeeded",
            "podIP": f"10.42.{NODES.index(run.node)}.{(int(run.uid[:2], 16) % 200) + 20}",
            "qosClass": "Burstable" if maint else "BestEffort",
            "startTime": iso_s(start - 1 * SEC),
        },
    }


def job_object(run: Run, job_uid: str, rs_uid: str | None, ids: Ids) -> dict:
    job = job_name(run)
    maint = run.role == "maintenance"
    assert run.end is not None
    if maint:
        owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": job.rsplit("-", 1)[0]}
        labels = {
            "volsync.backube/kopia-maintenance": "true",
            "volsync.backube/maintenance-name": MAINT_NAME,
        }
        spec = {"activeDeadlineSeconds": MAINT_DEADLINE_S, "backoffLimit": 5}
    else:
        owner = {
            "apiVersion": "volsync.backube/v1alpha1",
            "kind": "ReplicationSource",
            "name": run.rs,
        }
        labels = {"app.kubernetes.io/created-by": "volsync", "volsync.backube/cleanup": rs_uid}
        spec = {"backoffLimit": 8}
    owner |= {"blockOwnerDeletion": True, "controller": True, "uid": rs_uid or ids.uuid4()}
    spec |= {"completions": 1, "parallelism": 1}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "creationTimestamp": iso_s(run.start - 3 * SEC),
            "labels": labels,
            "name": job,
            "namespace": run.namespace,
            "ownerReferences": [owner],
            "uid": job_uid,
        },
        "spec": spec,
        "status": {
            "completionTime": iso_s(run.end + 2 * SEC),
            "conditions": [
                {
                    "lastProbeTime": iso_s(run.end + 2 * SEC),
                    "lastTransitionTime": iso_s(run.end + 2 * SEC),
                    "message": "Reached expected number of succeeded pods",
                    "reason": "CompletionsReached",
                    "status": "True",
                    "type": "SuccessCriteriaMet",
                },
                {
                    "lastProbeTime": iso_s(run.end + 2 * SEC),
                    "lastTransitionTime": iso_s(run.end + 2 * SEC),
                    "message": "Reached expected number of succeeded pods",
                    "reason": "CompletionsReached",
                    "status": "True",
                    "type": "Complete",
                },
            ],
            "ready": 0,
            "startTime": iso_s(run.start - 3 * SEC),
            "succeeded": 1,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        },
    }


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def build(seed: int) -> tuple[dict[str, bytes], dict]:
    world = World(seed)
    for source in SOURCES:
        world.source_timeline(source)
    world.maintenance_timeline()
    world.runs.sort(key=lambda r: (r.start, r.pod))

    files: dict[str, bytes] = {}
    # CLI-log retention (story choice): every hung and failed run, the last 3 healthy runs per RS.
    for source in SOURCES:
        healthy = [r for r in world.runs if r.rs == source.name and r.outcome == "completed"]
        for run in healthy[:-3]:
            run.keep_cli = False

    # Replacement pod of each hung source run = the next pod of the same ReplicationSource.
    by_rs: dict[str, list[Run]] = {}
    for run in world.runs:
        by_rs.setdefault(run.rs, []).append(run)

    counts = {key: 0 for key in SIGNATURES}
    by_source = {key: {"pod_log": 0, "cli_log": 0} for key in SIGNATURES}
    gt_runs = []
    for run in world.runs:
        pod_files = write_pod_logs(run, files, world.rng)
        cli_files = []
        for container in run.containers:
            for log in container.cli:
                if not log.lines or not run.keep_cli:
                    continue
                path = f"{cache_dir(run)}/{log.filename()}"
                assert path not in files, path
                files[path] = log.render()
                cli_files.append(path)
                for key, needle in SIGNATURES.items():
                    hits = sum(1 for _, _, _, msg in log.lines if needle in msg)
                    counts[key] += hits
                    by_source[key]["cli_log"] += hits
        for key, needle in SIGNATURES.items():
            hits = sum(1 for text in content_lines(run) if needle in text)
            counts[key] += hits
            by_source[key]["pod_log"] += hits

        start_ms = floor_ms(run.start)
        entry = {
            "namespace": run.namespace,
            "pod": run.pod,
            "replication_source": run.rs,
            "role": run.role,
            "container": run.container_name,
            "node": run.node,
            "envelope": run.envelope,
            "phase": run.phase.name,
            "start": iso_ms(run.start),
            "end": None,
            "duration_seconds": None,
            "outcome": run.outcome,
            "exit_code": run.exit_code,
            "image": run.phase.image,
            "restarts": len(run.containers) - 1,
            "pod_logs": pod_files,
            "cli_logs": cli_files,
        }
        if run.outcome == "hung":
            siblings = by_rs[run.rs]
            later = siblings[siblings.index(run) + 1 :]
            if run.role == "source" and later:
                until, basis = later[0].start, "replacement_start"
            elif run.killed_at is not None and run.role == "maintenance":
                until, basis = run.killed_at, "deadline_kill"
            else:
                until, basis = WINDOW_TO, "window_end"
            entry["duration_seconds"] = (floor_ms(until) - start_ms) // MS / 1000
            entry["duration_is_lower_bound"] = True
            entry["duration_basis"] = basis
            entry["killed_at"] = iso_ms(run.killed_at) if run.killed_at else None
        else:
            assert run.end is not None
            entry["end"] = iso_ms(run.end)
            entry["duration_seconds"] = (floor_ms(run.end) - start_ms) // MS / 1000
        gt_runs.append(entry)

    last_runs = {source.name: by_rs[source.name][-1] for source in SOURCES}
    last_maint = by_rs[MAINT_NAME][-1]
    files.update(kube_dumps(world, last_runs, last_maint))

    phases = []
    for phase in PHASES:
        members = [r for r in gt_runs if r["phase"] == phase.name]
        phases.append(
            {
                "name": phase.name,
                "from": iso_ms(phase.start),
                "to": iso_ms(phase.end),
                "image": phase.image,
                "cgo_enabled": phase.cgo_enabled,
                "user_env": phase.user_env,
                "cli_log_user_error": (
                    f"Cannot determine current user: {phase.user_error}"
                    if phase.user_error
                    else None
                ),
                "runs": {
                    outcome: sum(1 for r in members if r["outcome"] == outcome)
                    for outcome in ("completed", "failed", "hung")
                },
            }
        )
    truth = {
        "seed": seed,
        "window": {"from": iso_ms(WINDOW_FROM), "to": iso_ms(WINDOW_TO)},
        "fix_at": iso_ms(FIX_AT),
        "phases": phases,
        "runs": gt_runs,
        "signature_lines": counts,
        "signature_lines_by_source": by_source,
    }
    files["ground-truth.json"] = dump_truth(truth).encode()
    return files, truth


def dump_truth(truth: dict) -> str:
    """Pretty JSON with one line per run (keeps the file small and diffs readable)."""
    head = json.dumps({k: v for k, v in truth.items() if k != "runs"}, indent=2)
    runs = ",\n".join("    " + json.dumps(run) for run in truth["runs"])
    return head[:-2] + ',\n  "runs": [\n' + runs + "\n  ]\n}\n"


def write_tree(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in GENERATED + LEGACY:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for rel in sorted(files):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("examples"), help="output folder")
    parser.add_argument("--seed", type=int, default=20260131, help="random seed")
    parser.add_argument("--quiet", action="store_true", help="no summary")
    args = parser.parse_args(argv)

    files, truth = build(args.seed)
    write_tree(args.out, files)
    if args.quiet:
        return 0

    runs = truth["runs"]
    print(f"wrote {len(files)} files to {args.out}")
    for phase in truth["phases"]:
        mix = ", ".join(f"{k} {v}" for k, v in phase["runs"].items())
        print(f"  phase {phase['name']:<13} {mix}")
    outcomes = {
        o: sum(1 for r in runs if r["outcome"] == o) for o in ("completed", "failed", "hung")
    }
    print("  runs: " + ", ".join(f"{k} {v}" for k, v in outcomes.items()) + f" (total {len(runs)})")
    kinds = {
        "CRI pod logs": f"{LOGS}/nodes/",
        "kubectl logs": f"{LOGS}/kubectl/",
        "Kopia CLI logs": f"{LOGS}/cache/",
        "kube dumps": f"{LOGS}/kube/",
    }
    print(f"  files under {args.out / LOGS} (plain + gzip):")
    for kind, prefix in kinds.items():
        members = [p for p in files if p.startswith(prefix)]
        packed = [p for p in members if p.endswith(".gz")]
        size = sum(len(files[p]) for p in members)
        print(
            f"    {kind:<15} {len(members):>4} ({len(members) - len(packed)} plain, "
            f"{len(packed)} gz), {size:,} bytes"
        )
    print(f"  pod logs of runs before {iso_s(ARCHIVE_BEFORE)} are gzipped")
    print("  signature lines: " + json.dumps(truth["signature_lines"]))
    readme = args.out / "README.md"
    extra = readme.stat().st_size if readme.exists() else 0
    apparent = sum(len(b) for b in files.values()) + extra
    blocks = sum(-(-len(b) // 4096) * 4096 for b in files.values()) + -(-extra // 4096) * 4096
    print(
        f"  total size: {apparent:,} bytes ({apparent / 1e6:.2f} MB); "
        f"in 4 KiB blocks: {blocks:,} bytes ({blocks / 1e6:.2f} MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
