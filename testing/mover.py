"""What the VolSync Kopia mover prints (formats.md §3.2, §8): the one place its lines are written.

Three ways to get them, from the same texts:

* `MoverScript`: a container running the fork's entry.sh v3 (the era the example corpus is set
  in), section by section, on a seeded clock: every line with its time, stream and the Kopia CLI
  logs beside it. `scripts/generate_examples.py` builds its story from it.
* `abridged_backup`: the marker lines of a healthy or a hung v3 backup, in seconds after the pod
  started; the unit tests' smallest pods.
* `mover_run_lines`: (stream, text) of a whole backup run, healthy or failed; the Loki tests and
  benchmarks label them into streams (`testing.loki_streams`).

The line builders (`version_line`, `created`, `summary_lines`, `progress`, ...) are for any other
synthesizer that needs a mover line, such as the vectorised one in `benchmarks/scale_corpus.py`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from .write import MS, SEC, US, go_duration, kopia_cli, rfc3339, split_ns

# --------------------------------------------------------------------------------------------------
# The lines, one builder a kind
# --------------------------------------------------------------------------------------------------

START = "Starting kopia mover container"
WHOAMI = "whoami: cannot find name for user ID 1000"
OPERATIONS = "INFO: === Starting kopia operations ==="
EXECUTING = "Executing connection command..."
CONNECTED = "Connected to repository."
BACKUP_START = "INFO: === Starting backup operation ==="
REPO_PATH = "/repository"
KOPIA_VERSION_LINE = "0.22.3 build: 5aa12a71b0e7a2c43f1e1c3d53b9bd1e0f6d7c28 from: kopia/kopia"
#: A snapshot root and manifest id for lines that need no random ones.
SNAPSHOT_ROOT = "k5f3d0c2a9e8b7d6c5b4a39281706f5e4"
SNAPSHOT_ID = "7c9e4b1d2a3f40516273849a0b1c2d3e"
PERMISSION_DENIED = (
    "error connecting to repository: unable to read format blob: error determining sharded path: "
    "error getting sharding parameters for storage: unable to complete GetBlobFromPath:"
    f"{REPO_PATH}/.shards despite 10 retries: open {REPO_PATH}/.shards: permission denied"
)
FOUND_EXISTING = "unable to get repository storage: found existing data in storage location"
#: The filesystem branch of the current entry.sh prints no "Executing connection command..." (only
#: the S3 branch does, TSV L1518); the example story asks for it after "Using filesystem path:",
#: so it is printed. Flip to False for strict script fidelity.
FS_ECHOES_EXECUTING_CONNECTION = True
CACHE_CAPACITY = 8 * (1 << 30)
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


def version_line(version: str) -> str:
    return f"INFO: VolSync kopia container version: {version}"


def env_status(var: str, is_set: bool) -> str:
    return f"{var}: {'[SET]' if is_set else '[NOT SET]'}"


def connecting(backend: str = "filesystem") -> str:
    return f"Connecting to {backend} repository"


def fs_path(path: str = REPO_PATH) -> str:
    return f"Using filesystem path: {path}"


def user_lookup_error(reason: str) -> str:
    """Kopia's message when os/user fails (`user: unknown userid 1000`, ...), CLI log or console."""
    return f"Cannot determine current user: {reason}"


def snapshotting(ident: str) -> str:
    """Kopia's first line of `snapshot create` for `<user>@<host>:<path>`."""
    return f"Snapshotting {ident} ..."


def created(root: str, manifest: str, seconds: int) -> str:
    """Kopia's last line of a snapshot that took `seconds`."""
    return f"Created snapshot with root {root} and ID {manifest} in {go_duration(seconds * SEC)}"


def snapshot_timing(seconds: int, ok: bool = True) -> str:
    if ok:
        return f"TIMING: Snapshot creation completed in {seconds} seconds"
    return f"TIMING: Snapshot creation failed after {seconds} seconds"


def summary_lines(ok: bool, exit_code: int, operation: str = "unknown") -> list[str]:
    """The EXIT trap's summary block: heading, type, result, exit code, `=== Done ===` (v3 prints
    maintenance and diagnostic lines between result and exit code)."""
    return [
        "INFO: === OPERATION SUMMARY ===",
        f"INFO: OPERATION_TYPE: {operation}",
        f"INFO: OPERATION_RESULT: {'SUCCESS' if ok else 'FAILURE'}",
        f"INFO: EXIT_CODE: {exit_code}",
        "INFO: === Done ===",
    ]


def progress(
    hashing: object,
    hashed_files: object,
    hashed: str,
    cached_files: object,
    cached: str,
    uploaded: str,
    estimated: str | None = None,
    pct: float = 0.0,
    left: int = 0,
    spin: str = "|",
) -> str:
    """One Kopia upload progress refresh; sizes as Kopia prints them (`1.2 GB`). Without
    `estimated` it is the first refresh, still `estimating...`."""
    head = (
        f" {spin} {hashing} hashing, {hashed_files} hashed ({hashed}), {cached_files} cached "
        f"({cached}), uploaded {uploaded}"
    )
    if estimated is None:
        return head + ", estimating..."
    return f"{head}, estimated {estimated} ({pct:.1f}%) {left}s left"


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
    """The date column of `ls -la`."""
    moment = split_ns(t)[0]
    return f"{moment.strftime('%b')} {moment.day:2d} {moment.strftime('%H:%M')}"


# --------------------------------------------------------------------------------------------------
# Small runs: the tests' pods
# --------------------------------------------------------------------------------------------------


def abridged_backup(
    ident: str = "recyclarr@media", version: str = "v0.17.7-cgo-fix-v2", *, hung: bool = False
) -> list[tuple[float, str, str]]:
    """The marker lines of a v3 backup as (seconds after the pod started, stream, text): a
    healthy one of 45.5 s, or (`hung`) one that deadlocks in the user lookup once its connect
    command started."""
    lines = [
        (0.0, "stdout", START),
        (0.001, "stdout", version_line(version)),
        (0.04, "stderr", WHOAMI),
        (0.2, "stdout", OPERATIONS),
        (0.3, "stdout", connecting()),
        (0.3, "stdout", fs_path()),
        (0.31, "stdout", EXECUTING),
    ]
    if hung:
        return lines
    *summary, done = summary_lines(True, 0)
    return lines + [
        (1.9, "stdout", CONNECTED),
        (2.5, "stdout", BACKUP_START),
        (2.6, "stdout", snapshotting(f"{ident}:/data")),
        (44.0, "stdout", created(SNAPSHOT_ROOT, SNAPSHOT_ID, 41)),
        (44.1, "stdout", snapshot_timing(42)),
        *[(45.0, "stdout", text) for text in summary],
        (45.5, "stdout", done),
    ]


def mover_run_lines(
    rs: str, namespace: str, *, failed: bool, progress: int
) -> list[tuple[str, str]]:
    """(stream, line) pairs of one Kopia mover backup run to S3, as the fork's entry.sh prints
    them; a failed run is the user-lookup failure of a mover without a passwd entry."""
    ident = f"{rs}@{namespace}"
    out = [("stdout", START), ("stdout", "")]
    out += [("stdout", version_line("v0.14.0"))]
    out += [
        ("stdout", "INFO: Arguments: backup"),
        ("stdout", "INFO: Setting cache directory: /cache"),
    ]
    out += [("stdout", "INFO: Creating cache and log directories...")]
    out += [("stdout", "INFO: Cache and log directories created successfully")]
    out += [("stdout", "=== DEBUG: Environment Setup ==="), ("stdout", "HOME: /")]
    if failed:
        out += [("stderr", WHOAMI), ("stdout", "Current user: ")]
    else:
        out += [("stdout", "Current user: kopia")]
    out += [("stdout", "Current working directory: /"), ("stdout", "Cache directory writable: Yes")]
    for var in ("KOPIA_REPOSITORY", "KOPIA_PASSWORD", "AWS_ACCESS_KEY_ID", "KOPIA_S3_BUCKET"):
        out.append(("stdout", env_status(var, True)))
    out += [("stdout", "=== END DEBUG ==="), ("stdout", "INFO: === Checking Kopia Version ===")]
    out += [("stdout", "0.22.3 build: 5aa12a71 from: kopia/kopia")]
    out += [
        ("stdout", "TIMING: Kopia version check took 0 seconds"),
        ("stdout", "====================="),
    ]
    out += [("stdout", "Testing mandatory env variables")]
    out += [("stdout", OPERATIONS)]
    out += [("stdout", "INFO: Operation mode: command-based")]
    out += [("stdout", "INFO: === Starting repository connection process ===")]
    out += [("stdout", "INFO: Checking existing repository connection status...")]
    out += [("stdout", "TIMING: Repository status check took 1 seconds (not connected)")]
    out += [("stdout", connecting("S3")), ("stdout", EXECUTING)]
    if failed:
        out += [("stderr", user_lookup_error("user: unknown userid 1000"))]
    out += [("stdout", CONNECTED)]
    out += [("stdout", f"INFO: Setting client identity to '{ident}'")]
    out += [("stdout", f"INFO:  Client identity set successfully to {ident}")]
    out += [("stdout", "TIMING: Total repository connection process took 3 seconds")]
    out += [("stdout", BACKUP_START)]
    out += [("stdout", f"INFO: Creating snapshot for {ident}:/data")]
    out += [("stdout", "INFO: Starting kopia snapshot creation...")]
    out += [("stdout", snapshotting(f"{ident}:/data"))]
    for step in range(progress):
        out.append(("stdout", _refresh(step, 100.0 * (step + 1) / progress)))
    if failed:
        out += [
            ("stderr", "error creating snapshot: unable to get local user: unknown userid 1000")
        ]
        out += [("stdout", snapshot_timing(63, ok=False))]
        out += [("stdout", ""), ("stdout", "ERROR: Failed to create snapshot")]
    else:
        out += [("stdout", created("k5f3d0c2", "7c9e4b1d", 62))]
        out += [("stdout", snapshot_timing(63))]
        out += [("stdout", "INFO: Snapshot created successfully")]
        out += [("stdout", "=== Applying retention policy ===")]
        out += [("stdout", "Retention policy applied successfully")]
    out += [("stdout", text) for text in summary_lines(not failed, 1 if failed else 0)]
    return out


def _refresh(step: int, pct: float) -> str:
    """mover_run_lines' progress refresh (its `progress` argument hides the builder)."""
    uploaded = f"{step * 0.03:.2f} GB"
    return progress(
        0, step * 13, f"1.{step % 10} GB", 40211, "18.4 GB", uploaded, "20.5 GB", pct, 1
    )


# --------------------------------------------------------------------------------------------------
# entry.sh v3 on a clock, section by section
# --------------------------------------------------------------------------------------------------


@dataclass
class Line:
    t: int
    stream: str  # stdout / stderr
    text: str


class Emitter:
    """One container's output with a running clock: each line a seeded gap after the last."""

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

    def at(self, t: int, text: str, stream: str = "stdout") -> None:
        """A line at a time of its own (a Kopia process's output): the clock moves there."""
        self.t = t
        self.lines.append(Line(t, stream, text))

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


@dataclass(frozen=True)
class Spec:
    """What entry.sh and Kopia know of their run."""

    version: str  # the image's `version` env, printed by the script
    role: str = "source"  # "source" (a command-based backup) or "maintenance"
    user_error: str | None = None  # Kopia's os/user error text, None when the lookup succeeds


@dataclass
class MoverScript:
    """One mover container running entry.sh v3: the lines it prints (`em`) and the CLI logs of
    the Kopia processes it starts (`cli`). Every section draws from `rng` in script order, so a
    seeded run is byte-identical."""

    spec: Spec
    em: Emitter
    rng: random.Random
    long_listing: int = 0  # leftover .nfs entries listed on one line (0: a normal listing)
    cli: list[CliLog] = field(default_factory=list)
    pid: int = 0
    cache_used: int = 0

    def next_pid(self) -> int:
        self.pid += self.rng.randint(3, 9)
        return self.pid

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def kopia(self, command: str) -> CliLog:
        """Start a Kopia process: its CLI log (`kopia-<time>-<pid>-<command>.0.log`)."""
        log = CliLog(command, self.em.t + self.rng.randint(2, 9) * MS, self.next_pid())
        self.cli.append(log)
        return log

    def cache_listing(self, t: int) -> list[str]:
        """`ls -la /cache` of a mover cache volume (fsGroup 1000, setgid)."""
        rng = self.rng
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
        if self.long_listing:
            # Silly-renamed files left on the NFS-backed cache PVC by killed Kopia processes.
            for _ in range(self.long_listing):
                name = f".nfs{rng.getrandbits(64):016x}{rng.randint(1, 4095):08x}"
                size = rng.choice((0, 118, 121, 96, 1133))
                stamp = ls_date(t - rng.randint(600, 40 * 3600) * SEC)
                entries.append(("-rw-r--r--.", 1, "1000", size, stamp, name))
        lines = [f"total {rng.randint(40, 120)}"]
        for mode, links, owner, size, stamp, name in entries:
            lines.append(f"{mode} {links:2d} {owner} 1000 {size:5d} {stamp} {name}")
        return lines

    def preamble(self, args: str) -> None:
        """From the first line to `=== Starting kopia operations ===` and the mode lines."""
        em, rng, role = self.em, self.rng, self.spec.role
        em.out(START)
        em.out("")
        em.out(version_line(self.spec.version), 200, 900)
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
        listing = self.cache_listing(em.t)
        if self.long_listing:
            em.out("Contents of cache directory: " + " ".join(listing), 2000, 9000)
        else:
            em.out(f"Contents of cache directory: {listing[0]}", 2000, 9000)
            em.burst(listing[1:])
        self.cache_used = rng.randint(12, 900) * (1 << 20) + rng.randint(0, 1 << 20)
        em.out(
            f"Cache usage: {format_bytes_bin(self.cache_used)} / "
            f"{format_bytes_bin(CACHE_CAPACITY)} ({self.cache_used * 100 // CACHE_CAPACITY}%)",
            4000,
            30000,
        )
        em.out("")
        em.out("=== ENVIRONMENT VARIABLES STATUS ===")
        set_vars = {"KOPIA_REPOSITORY", "KOPIA_PASSWORD"}
        if role == "source":
            set_vars |= {"KOPIA_OVERRIDE_USERNAME", "KOPIA_OVERRIDE_HOSTNAME"}
        for var in ENV_STATUS_VARS:
            em.out(env_status(var, var in set_vars), 300, 1500)
        em.out("KOPIA_CACHE_CAPACITY_BYTES: [NOT SET] (default: 8Gi)", 300, 1500)
        em.out("")
        em.out("=== Log Configuration ===")
        # entry.sh writes `echo "KOPIA_LOG_LEVEL: …"  # Console/stdout log level`: the comment
        # is bash's.
        em.out("KOPIA_LOG_LEVEL: info")
        em.out("KOPIA_FILE_LOG_LEVEL: info")
        em.out("KOPIA_LOG_DIR_MAX_FILES: 3")
        em.out("KOPIA_LOG_DIR_MAX_AGE: 4h")
        em.out("KOPIA_CONTENT_LOG_DIR_MAX_FILES: 3")
        em.out("KOPIA_CONTENT_LOG_DIR_MAX_AGE: 4h")
        em.out("")
        em.out("=== Additional Backend Environment Variables ===")
        for var in BACKEND_VARS:
            em.out(env_status(var, False), 300, 1500)
        em.out("=== END DEBUG ===")
        em.out("")
        em.out("INFO: === Checking Kopia Version ===")
        self.pid = rng.randint(18, 40)
        t0 = em.seconds()
        em.wait(rng.uniform(0.03, 0.16))
        em.out(KOPIA_VERSION_LINE)
        em.out(f"TIMING: Kopia version check took {em.seconds() - t0} seconds", 500, 3000)
        em.out("=====================")
        em.out("Testing mandatory env variables")
        em.out("INFO: Cache directory validation passed", 500, 2500)
        em.out("INFO: Data directory validation passed", 300, 1500)
        em.out(OPERATIONS, 300, 1500)
        em.out(f"INFO: Operation start time: {rfc3339(em.t + 2 * MS)}", 1500, 4000)
        mode = "maintenance" if role == "maintenance" else "command-based"
        em.out(f"INFO: Operation mode: {mode}", 1500, 4000)
        if role == "maintenance":
            em.out("INFO: === Running MAINTENANCE ONLY ====")
        else:
            em.out("=== Checking directory for content ===")

    def _connect_start(self) -> int:
        """ensure_connected up to the launch of `kopia repository connect filesystem`; returns
        its start (`date +%s`)."""
        em = self.em
        em.out("INFO: === Starting repository connection process ===", 1500, 6000)
        t0 = em.seconds()
        em.out("No manual configuration provided, using automatic settings", 500, 3000)
        em.out("INFO: Checking existing repository connection status...")
        s0 = em.seconds()
        self.next_pid()
        em.wait(self.rng.uniform(0.12, 0.35))
        em.out(f"TIMING: Repository status check took {em.seconds() - s0} seconds (not connected)")
        em.out("INFO: Repository not connected, attempting to connect or create...")
        em.out("")
        em.out("Attempting to connect to existing repository...")
        em.out("=== Connecting to existing repository ===")
        em.out(connecting())
        em.out(fs_path(), 300, 1500)
        if FS_ECHOES_EXECUTING_CONNECTION:
            em.out(EXECUTING)
        return t0

    def connect_hang(self) -> None:
        """A connect that deadlocks right after Kopia's user lookup error (CGO builds, or no
        $USER): the last line the pod ever prints."""
        rng, em = self.rng, self.em
        self._connect_start()
        log = self.kopia("repository-connect-filesystem")
        t_err = log.started + rng.randint(60, 420) * MS + rng.randint(0, 999_999)
        message = user_lookup_error(str(self.spec.user_error))
        log.lines.append((t_err, "ERROR", "kopia/repo", message))
        if rng.random() < 0.2:
            # Kopia 0.22 console (stderr): bare message, no level word; CRI times it a bit later.
            em.at(t_err + rng.randint(40, 900) * US, message, "stderr")

    def connect_ok(self, identity: tuple[str, str]) -> int:
        """Connect, client identity and cache configuration; returns the connect's start."""
        rng, em = self.rng, self.em
        t0 = self._connect_start()
        log = self.kopia("repository-connect-filesystem")
        t = log.started + rng.randint(700, 2400) * MS + rng.randint(0, 999_999)
        log.lines.append((t - rng.randint(200, 900) * US, "INFO", "kopia/cli", CONNECTED))
        em.at(t, CONNECTED)
        em.out("", 100, 900)
        user, host = identity
        if self.spec.role == "maintenance":
            em.out(f"INFO: Setting maintenance identity to '{user}@{host}'")
        else:
            em.out(f"INFO: Setting client identity to '{user}@{host}'")
        em.out("INFO: Applying client identity configuration...")
        self.next_pid()
        em.wait(rng.uniform(0.15, 0.45))
        em.out(f"Setting local username to {user}")
        em.out(f"Setting local hostname to {host}", 5, 40)
        em.out(f"INFO:  Client identity set successfully to {user}@{host}", 1000, 5000)
        em.out("INFO: Verifying client identity after set-client command...")
        self.next_pid()
        em.wait(rng.uniform(0.2, 0.5))
        em.out(f"Hostname:            {host}")
        em.out(f"Username:            {user}", 5, 40)
        em.out("INFO: === Configuring cache directory after connection ===", 1500, 6000)
        c0 = em.seconds()
        if rng.random() < 0.05:
            em.out("INFO: Configuring cache limits (first run or limits changed)")
            self.next_pid()
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

    def connect_denied(self) -> None:
        """Connect fails on a root-owned .shards, create refuses the non-empty location (§8.1)."""
        rng, em = self.rng, self.em
        self._connect_start()
        log = self.kopia("repository-connect-filesystem")
        t = log.started + rng.randint(11_050, 11_600) * MS + rng.randint(0, 999_999)
        log.lines.append((t - rng.randint(300, 2000) * US, "ERROR", "kopia/cli", PERMISSION_DENIED))
        em.at(t, PERMISSION_DENIED)
        em.out("Connection failed, creating new repository...")
        em.out("")
        em.out("=== Creating repository ===")
        em.out("Creating filesystem repository")
        em.out(fs_path())
        log = self.kopia("repository-create-filesystem")
        t = log.started + rng.randint(180, 420) * MS + rng.randint(0, 999_999)
        log.lines.append((t - rng.randint(100, 600) * US, "ERROR", "kopia/cli", FOUND_EXISTING))
        em.at(t, FOUND_EXISTING, "stderr")
        em.out("")
        em.out("ERROR: Failed to create repository")

    def backup(self, identity: tuple[str, str], data_bytes: int) -> None:
        """do_backup and do_retention of a healthy run over `data_bytes` of data (§3.2, §8.3)."""
        rng, em = self.rng, self.em
        user, host = identity
        ident = f"{user}@{host}:/data"
        em.out(BACKUP_START)
        b0 = em.seconds()
        em.out(f"INFO: Creating snapshot for {ident}", 1500, 5000)
        em.out("INFO: Starting kopia snapshot creation...")
        s0 = em.seconds()
        log = self.kopia("snapshot-create")
        kopia_start = log.started
        t = kopia_start + rng.randint(350, 1200) * MS
        log.lines.append((t - rng.randint(50, 400) * US, "INFO", "kopia/cli", snapshotting(ident)))
        em.at(t, snapshotting(ident))
        target = rng.uniform(28.5, 84)  # seconds of snapshot work: whole runs take 30-90 s
        count = rng.randint(1, 3)
        for i, text in enumerate(progress_lines(rng, data_bytes, count)):
            if i == count - 1:
                em.at(kopia_start + int(target * SEC) - rng.randint(20, 300) * MS, text)
            else:
                em.at(em.t + int(rng.uniform(0.5, target / count) * SEC), text)
        em.out("", 100, 900)
        kopia_end = kopia_start + int(target * SEC)
        took = (kopia_end - kopia_start) // SEC
        done = created("k" + self.hex(32), self.hex(32), took)
        t = max(em.t + 50 * US, kopia_end)
        log.lines.append((t - rng.randint(50, 400) * US, "INFO", "kopia/cli", done))
        em.at(t, done)
        em.wait(rng.uniform(0.05, 0.4))
        em.out(snapshot_timing(em.seconds() - s0))
        em.out("INFO: Snapshot created successfully")
        em.out(f"TIMING: Total backup operation took {em.seconds() - b0} seconds")
        em.out("=== Applying retention policy ===")
        self.next_pid()
        em.wait(rng.uniform(0.2, 0.6))
        em.out(f"Setting policy for {ident}")
        em.out(' - setting "number of hourly backups to keep" to 24.', 5, 40)
        em.out(' - setting "number of daily backups to keep" to 7.', 5, 40)
        em.out(' - setting "number of weekly backups to keep" to 4.', 5, 40)
        em.out("Retention policy applied successfully", 500, 2000)

    def maintenance(self, owner: str, previous_owner: str | None, logs_cleaned: int) -> int:
        """A KopiaMaintenance run after connect_ok: ownership (claimed from `previous_owner`
        when set), quick then full maintenance cleaning up `logs_cleaned` log blobs; returns
        the duration the script reports."""
        rng, em = self.rng, self.em
        em.out("INFO: === Starting maintenance operation ====")
        m0 = em.seconds()
        em.out("INFO: === Checking maintenance ownership ====")
        em.out(f"INFO: Expected maintenance owner: {owner}")
        self.next_pid()
        em.wait(rng.uniform(0.3, 0.9))
        if previous_owner:
            em.out(f"INFO: Current maintenance owner: {previous_owner}")
            em.out(f"WARN: Repository has different maintenance owner: {previous_owner}")
            em.out(f"WARN: Expected: {owner}")
            em.out("INFO: Attempting to claim maintenance ownership...")
            self._kopia_says("maintenance-set", f"Setting maintenance owner to {owner}")
            em.out("INFO:  Successfully claimed maintenance ownership")
        else:
            em.out(f"INFO: Current maintenance owner: {owner}")
            em.out("INFO:  Already maintenance owner")
        em.out("INFO: Enabling quick cycle scheduling...")
        self._kopia_says("maintenance-set", "Periodic quick maintenance enabled.")

        em.out("INFO: Running Kopia quick maintenance...")
        log = self.kopia("maintenance-run")
        q0 = log.started + rng.randint(600, 1500) * MS
        q1 = q0 + int(rng.uniform(4, 25) * SEC)
        log.lines.append((q0, "INFO", "maintenance", "Running quick maintenance..."))
        log.lines.append((q1, "INFO", "maintenance", "Finished quick maintenance."))
        # The script captures the output and echoes it when the command has finished.
        em.t = q1 + rng.randint(20, 200) * MS
        em.burst(["Running quick maintenance...", "Finished quick maintenance."])

        em.out("INFO: Running Kopia full maintenance...", 500, 3000)
        log = self.kopia("maintenance-run")
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
        return duration

    def _kopia_says(self, command: str, message: str) -> None:
        """A short Kopia process whose one INFO line the script passes through to stdout."""
        log = self.kopia(command)
        t = log.started + self.rng.randint(300, 900) * MS
        log.lines.append((t - self.rng.randint(100, 900) * US, "INFO", "kopia/cli", message))
        self.em.at(t, message)

    def summary(self, ok: bool, exit_code: int, maint_duration: int | None = None) -> None:
        """The EXIT trap: the summary block, with maintenance status and, on failure, the cache
        diagnostics."""
        em, maintenance = self.em, self.spec.role == "maintenance"
        head, op_type, result, exit_line, done = summary_lines(
            ok, exit_code, "maintenance" if maintenance else "unknown"
        )
        em.out(head, 200, 900)
        em.out(op_type)
        em.out(result)
        if maintenance:
            if ok:
                em.out("INFO: MAINTENANCE_STATUS: SUCCESS")
                em.out(f"INFO: MAINTENANCE_DURATION: {maint_duration}")
            else:
                em.out("INFO: MAINTENANCE_STATUS: FAILURE")
                em.out(f"INFO: MAINTENANCE_FAILURE_REASON: Unexpected exit with code {exit_code}")
        if not ok:
            em.out("INFO: === Diagnostic Information ===")
            em.wait(self.rng.uniform(0.01, 0.04))
            em.out(f"INFO: CACHE_USAGE_BYTES: {self.cache_used}")
            em.out(f"INFO: CACHE_CAPACITY_BYTES: {CACHE_CAPACITY}")
            em.out(f"INFO: CACHE_USAGE_PERCENT: {self.cache_used * 100 // CACHE_CAPACITY}")
        em.out(exit_line)
        em.out(done)


def progress_lines(rng: random.Random, total: int, count: int) -> list[str]:
    """`count` progress refreshes of a snapshot over `total` bytes, the last one at 100 %."""
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
        sizes = (kopia_bytes(hashed_b), cached_f, kopia_bytes(cached_b), kopia_bytes(uploaded))
        spin = "*" if last else spinner[i % 4]
        if i == 0 and not last:
            lines.append(progress(hashing, hashed_f, *sizes, spin=spin))
        else:
            pct = 100.0 if last else min(99.9, 100 * (hashed_b + cached_b) / total)
            left = 0 if last else rng.randint(1, 20)
            lines.append(progress(hashing, hashed_f, *sizes, kopia_bytes(total), pct, left, spin))
    return lines
