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

What the mover prints, section by section of entry.sh v3, is ``testing.mover.MoverScript``; the
envelopes and time formats are ``testing.write``. This script is the story around them: phases,
sources and schedules, the pods' identities and files, the Kubernetes dumps and the ground truth.

Usage, from the repository root (so that ``testing`` is importable; an editable install or
``PYTHONPATH=.`` does the same for ``python scripts/generate_examples.py``)::

    python -m scripts.generate_examples --out examples --seed 20260131
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

from testing.mover import (
    REPO_PATH,
    WHOAMI,
    CliLog,
    Emitter,
    Line,
    MoverScript,
    Spec,
    user_lookup_error,
)
from testing.write import MS, SEC, US, cri_split, go_duration, kubectl, rfc3339, split_ns

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
#: Pod logs of runs that start before this moment are written gzip-compressed (`<n>.log.gz`,
#: `kubectl/<pod>.log.gz`), as an operator archiving older copied node logs would; later runs and
#: every Kopia CLI log stay plain text. Keeps the committed corpus under 4.5 MB.
ARCHIVE_BEFORE = _ns("2026-01-30T12:00:00Z")
#: The rotated 2026-01-30 maintenance log (`0.log.<stamp>.gz` + `0.log`) is kept as containerd
#: leaves it, whatever its start.
MAINT_ROTATED_DAY = _ns("2026-01-30T02:00:00Z")

SIGNATURES = {
    "unknown-userid": user_lookup_error("user: unknown userid"),
    "requires-cgo-or-user": user_lookup_error("user: Current requires cgo or $USER"),
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


def floor_ms(t: int) -> int:
    return t // MS * MS


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
# Runs: the story's pods, each running the mover script in one or more containers
# --------------------------------------------------------------------------------------------------


@dataclass
class Container:
    """One container instance (one `<n>.log`): the script it ran and how it exited."""

    restart: int
    script: MoverScript
    exit_code: int | None = None

    @property
    def em(self) -> Emitter:
        return self.script.em

    @property
    def cli(self) -> list[CliLog]:
        return self.script.cli


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
# The world: each source's timeline and the maintenance's
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

    def container(self, run: Run, t: int, restart: int = 0, long_listing: int = 0) -> Container:
        """A new container of `run` starting at `t`, its script through the preamble."""
        spec = Spec(run.phase.version, run.role, run.phase.user_error)
        container = Container(
            restart, MoverScript(spec, Emitter(t, self.rng), self.rng, long_listing)
        )
        run.containers.append(container)
        container.script.preamble("" if run.role == "maintenance" else "backup")
        return container

    def hung_source(self, source: Source, t: int) -> Run:
        run = self.source_pod(source, t)
        self.container(run, t).script.connect_hang()
        run.outcome = "hung"
        return run

    def healthy_source(self, source: Source, t: int, long_listing: int = 0) -> Run:
        run = self.source_pod(source, t)
        container = self.container(run, t, long_listing=long_listing)
        script = container.script
        script.connect_ok((source.name, source.namespace))
        script.backup((source.name, source.namespace), source.data_bytes)
        script.summary(True, 0)
        container.exit_code = 0
        run.outcome = "completed"
        return run

    def denied_source(self, source: Source, t: int) -> Run:
        run = self.source_pod(source, t)
        container = self.container(run, t)
        container.script.connect_denied()
        container.script.summary(False, 1)
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

    def maintenance_timeline(self) -> None:
        rng = self.rng
        # 01-28: hangs on the user lookup, killed by activeDeadlineSeconds (3 h after Job start).
        run = self.maint_run(28)
        self.container(run, run_start(run, rng)).script.connect_hang()
        run.outcome = "hung"
        run.killed_at = run.scheduled + MAINT_DEADLINE_S * SEC + rng.randint(400, 1500) * MS

        # 01-29: permission denied -> found existing data; OnFailure restarts the container once.
        run = self.maint_run(29)
        t = run_start(run, rng)
        for restart in (0, 1):
            container = self.container(run, t, restart)
            container.script.connect_denied()
            container.script.summary(False, 1)
            container.exit_code = 1
            t = container.em.t + rng.randint(10_300, 11_500) * MS + rng.randint(0, 999_999)
        run.outcome = "failed"

        # 01-30: succeeds after claiming ownership, full maintenance cleans up 7,666 log blobs.
        self.maint_success(30, f"nobody@{self.earlier_owner_pod}", 7666)
        # 01-31: succeeds, already the owner.
        self.maint_success(31, None, 0)

    def maint_success(self, day: int, previous_owner: str | None, logs_cleaned: int) -> None:
        run = self.maint_run(day)
        container = self.container(run, run_start(run, self.rng))
        script = container.script
        script.connect_ok(("maintenance", "volsync"))
        duration = script.maintenance(MAINT_OWNER, previous_owner, logs_cleaned)
        script.summary(True, 0, duration)
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
                            "lastTransitionTime": rfc3339(sync_end),
                            "message": "Waiting for next scheduled synchronization",
                            "reason": "WaitingForSchedule",
                            "status": "False",
                            "type": "Synchronizing",
                        }
                    ],
                    "lastSyncDuration": go_duration(duration_ms * MS),
                    "lastSyncStartTime": rfc3339(sync_start),
                    "lastSyncTime": rfc3339(sync_end),
                    "latestMoverStatus": {"logs": mover_status_logs(run), "result": "Successful"},
                    "nextSyncTime": rfc3339(next_sync),
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
            "creationTimestamp": rfc3339(start - 2 * SEC),
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
                            "finishedAt": rfc3339(end),
                            "reason": "Completed",
                            "startedAt": rfc3339(start),
                        }
                    },
                }
            ],
            "hostIP": f"192.168.1.{21 + NODES.index(run.node)}",
            "phase": "Succeeded",
            "podIP": f"10.42.{NODES.index(run.node)}.{(int(run.uid[:2], 16) % 200) + 20}",
            "qosClass": "Burstable" if maint else "BestEffort",
            "startTime": rfc3339(start - 1 * SEC),
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
            "creationTimestamp": rfc3339(run.start - 3 * SEC),
            "labels": labels,
            "name": job,
            "namespace": run.namespace,
            "ownerReferences": [owner],
            "uid": job_uid,
        },
        "spec": spec,
        "status": {
            "completionTime": rfc3339(run.end + 2 * SEC),
            "conditions": [
                {
                    "lastProbeTime": rfc3339(run.end + 2 * SEC),
                    "lastTransitionTime": rfc3339(run.end + 2 * SEC),
                    "message": "Reached expected number of succeeded pods",
                    "reason": "CompletionsReached",
                    "status": "True",
                    "type": "SuccessCriteriaMet",
                },
                {
                    "lastProbeTime": rfc3339(run.end + 2 * SEC),
                    "lastTransitionTime": rfc3339(run.end + 2 * SEC),
                    "message": "Reached expected number of succeeded pods",
                    "reason": "CompletionsReached",
                    "status": "True",
                    "type": "Complete",
                },
            ],
            "ready": 0,
            "startTime": rfc3339(run.start - 3 * SEC),
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
                    user_lookup_error(phase.user_error) if phase.user_error else None
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
    print(f"  pod logs of runs before {rfc3339(ARCHIVE_BEFORE)} are gzipped")
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
