"""Environment: versions, backend, security context and Kubernetes status; what went in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...analysis import Analysis
from ...markdown_safe import Outside, outside
from ...timeutil import fmt_duration, fmt_utc
from ..budget import DetailLevel, cap
from .facts import Facts, rs_label
from .inputs import InputsView


@dataclass(frozen=True)
class MoverVersion:
    version: Outside
    runs: int
    first: str
    last: str


@dataclass(frozen=True)
class Counted:
    """A fact read from the logs and how many runs or connects showed it."""

    value: Outside
    count: int


@dataclass(frozen=True)
class StatusRow:
    """A ReplicationSource's own status (from the dump) beside the logs' last completed sync."""

    name: Outside
    last_sync: Outside
    status_duration: str
    log_end: str
    log_duration: str
    next_sync: Outside
    latest_result: Outside


@dataclass(frozen=True)
class Environment:
    """Versions, backend, security context and Kubernetes status, from logs and dumps."""

    mover_versions: tuple[MoverVersion, ...]
    #: Container images from the pod dump.
    images: tuple[Outside, ...]
    kopia_versions: tuple[Counted, ...]
    backends: tuple[Counted, ...]
    repository_paths: tuple[Outside, ...]
    #: (setting, value) from the Kubernetes dumps.
    security_context: tuple[tuple[Outside, Outside], ...]
    #: UIDs the user lookup failed for, comma-separated.
    failed_uids: Outside
    replication_sources: tuple[StatusRow, ...]
    #: (namespace/job, reason) of Jobs Kubernetes marked failed.
    failed_jobs: tuple[tuple[Outside, Outside], ...]
    inputs: InputsView
    #: (signature id, the file that replaced it) for `--patterns` overrides.
    overrides: tuple[tuple[Outside, Outside], ...]

    def at(self, level: DetailLevel) -> Environment:
        """Every list and table cut to the level's rows (`Capped.more` says how many are not
        shown)."""
        n = level.rows
        return replace(
            self,
            mover_versions=cap(self.mover_versions, n),
            images=cap(self.images, n),
            kopia_versions=cap(self.kopia_versions, n),
            backends=cap(self.backends, n),
            repository_paths=cap(self.repository_paths, n),
            security_context=cap(self.security_context, n),
            replication_sources=cap(self.replication_sources, n),
            failed_jobs=cap(self.failed_jobs, n),
            inputs=self.inputs.at(level),
            overrides=cap(self.overrides, n),
        )


def build(facts: Facts) -> Environment:
    """The Environment facts (redacted), the inputs and the catalog overrides."""
    env = facts.a.environment
    return Environment(
        mover_versions=tuple(
            MoverVersion(outside(m["version"]), m["runs"], fmt_utc(m["first"]), fmt_utc(m["last"]))
            for m in env["mover_versions"]
        ),
        images=tuple(outside(i) for i in env["images"]),
        kopia_versions=tuple(
            Counted(outside(k["value"]), k["count"]) for k in env["kopia_versions"]
        ),
        backends=tuple(Counted(outside(b["value"]), b["count"]) for b in env["backends"]),
        repository_paths=tuple(outside(p["value"]) for p in env["repository_paths"]),
        security_context=tuple(
            (outside(k), outside(v)) for k, v in env["security_context"].items()
        ),
        failed_uids=Outside(", ".join(str(uid) for uid in env["failed_uids"])),
        replication_sources=tuple(_status_row(rs) for rs in env["replication_sources"]),
        failed_jobs=tuple(
            (rs_label(j["namespace"], j["job"]), outside(j["failure_reason"]))
            for j in env["jobs"]
            if j["failure_reason"]
        ),
        inputs=facts.inputs,
        overrides=catalog_overrides(facts.a),
    )


def _status_row(rs: dict[str, Any]) -> StatusRow:
    status_s, log_s = rs["status_duration_s"], rs["log_duration_s"]
    return StatusRow(
        name=rs_label(rs["namespace"], rs["name"]),
        last_sync=outside(rs["last_sync_time"] or "never"),
        status_duration="" if status_s is None else fmt_duration(status_s),
        log_end=fmt_utc(rs["log_end"]) if rs["log_end"] else "none",
        log_duration="" if log_s is None else fmt_duration(log_s),
        next_sync=outside(rs["next_sync_time"] or ""),
        latest_result=outside(rs["latest_result"] or ""),
    )


def catalog_overrides(shown: Analysis) -> tuple[tuple[Outside, Outside], ...]:
    """(signature id, replacing file) for each built-in pattern a `--patterns` file replaced."""
    return tuple((outside(i), outside(p)) for i, p in shown.catalog.overridden)
