"""Run reconstruction: outcomes, durations and the hard cases (missing end, restarts, overlap, skew)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from conftest import (
    HEALTHY_BACKUP,
    HUNG_BACKUP,
    T0,
    cri_dir,
    cri_records,
    hung_then_healthy,
    write_lines,
)

from analyzer import analyze


def pod_log(root, pod, lines, start, *, namespace="media", container="kopia", restart=0):
    d = cri_dir(
        root,
        namespace,
        pod,
        container,
        uid=f"{abs(hash(pod)) % 10**8:08d}-1111-2222-3333-444455556666",
    )
    write_lines(d / f"{restart}.log", cri_records(start, lines))


def run_of(analysis, pod):
    rows = analysis.runs.filter(pl.col("pod") == pod)
    assert rows.height == 1, f"expected one run for {pod}, got {rows.height}"
    return rows.row(0, named=True)


def test_completed_run_has_start_end_duration_and_exit_code(tmp_path):
    pod_log(tmp_path, "volsync-src-recyclarr-8p6x6", HEALTHY_BACKUP, T0)
    run = run_of(analyze([str(tmp_path)]), "volsync-src-recyclarr-8p6x6")
    assert run["outcome"] == "completed" and run["exit_code"] == 0
    assert run["start"] == T0 and run["end"] == T0 + timedelta(seconds=45.5)
    assert run["duration_s"] == 45.5 and not run["duration_is_lower_bound"]
    assert run["replication_source"] == "recyclarr" and run["role"] == "source"
    assert run["mover_version"] == "v0.17.7-cgo-fix-v2"


def test_run_without_end_replaced_by_a_newer_pod_is_hung_with_a_lower_bound(tmp_path):
    pod_log(tmp_path, "volsync-src-recyclarr-aaaaa", HUNG_BACKUP, T0)
    pod_log(tmp_path, "volsync-src-recyclarr-bbbbb", HEALTHY_BACKUP, T0 + timedelta(minutes=52))
    a = analyze([str(tmp_path)])
    hung = run_of(a, "volsync-src-recyclarr-aaaaa")
    assert hung["outcome"] == "hung" and hung["end"] is None and hung["exit_code"] is None
    assert hung["duration_s"] == 52 * 60 and hung["duration_is_lower_bound"]
    assert hung["stalled_after_connect"]
    assert run_of(a, "volsync-src-recyclarr-bbbbb")["outcome"] == "completed"


def test_missing_end_is_running_until_silent_longer_than_hang_after(tmp_path):
    pod_log(tmp_path, "volsync-src-sonarr-ccccc", HUNG_BACKUP, T0)
    end = T0 + timedelta(minutes=20)
    a = analyze([str(tmp_path)], to=end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert run_of(a, "volsync-src-sonarr-ccccc")["outcome"] == "running"
    a = analyze(
        [str(tmp_path)], to=end.strftime("%Y-%m-%dT%H:%M:%SZ"), hang_after=timedelta(minutes=10)
    )
    run = run_of(a, "volsync-src-sonarr-ccccc")
    assert run["outcome"] == "hung" and run["duration_s"] == pytest.approx(20 * 60 - 0.412)


def test_failed_run_takes_the_exit_code_of_the_summary(tmp_path):
    failing = HUNG_BACKUP + [
        (
            11.3,
            "stdout",
            "error connecting to repository: unable to read format blob: error determining sharded path: error getting sharding parameters for storage: unable to complete GetBlobFromPath:/repository/.shards despite 10 retries: open /repository/.shards: permission denied",
        ),
        (11.4, "stdout", "Connection failed, creating new repository..."),
        (
            11.7,
            "stderr",
            "unable to get repository storage: found existing data in storage location",
        ),
        (11.7, "stdout", "ERROR: Failed to create repository"),
        (11.8, "stdout", "INFO: === OPERATION SUMMARY ==="),
        (11.8, "stdout", "INFO: OPERATION_RESULT: FAILURE"),
        (11.8, "stdout", "INFO: EXIT_CODE: 1"),
        (11.8, "stdout", "INFO: === Done ==="),
    ]
    pod_log(tmp_path, "volsync-src-paperless-ddddd", failing, T0)
    run = run_of(analyze([str(tmp_path)]), "volsync-src-paperless-ddddd")
    assert (run["outcome"], run["exit_code"], run["duration_s"]) == ("failed", 1, 11.8)


def test_pod_restarted_mid_run_is_one_run_ending_with_the_last_attempt(tmp_path):
    pod = "kopia-maint-nfs-repo-3fa4c2d19b7e0a61-29390520-k2x7p"
    attempt = [
        (0.0, "stdout", "Starting kopia mover container"),
        (0.2, "stdout", "INFO: Operation mode: maintenance"),
        (12.0, "stdout", "INFO: MAINTENANCE_STATUS: FAILURE"),
        (12.0, "stdout", "INFO: EXIT_CODE: 1"),
        (12.0, "stdout", "INFO: === Done ==="),
    ]
    ok = [
        (0.0, "stdout", "Starting kopia mover container"),
        (130.0, "stdout", "INFO: MAINTENANCE_STATUS: SUCCESS"),
        (130.0, "stdout", "INFO: MAINTENANCE_DURATION: 130"),
        (130.0, "stdout", "INFO: EXIT_CODE: 0"),
        (130.1, "stdout", "INFO: === Done ==="),
    ]
    pod_log(
        tmp_path,
        pod,
        attempt,
        T0,
        namespace="volsync-system",
        container="kopia-maintenance",
        restart=0,
    )
    pod_log(
        tmp_path,
        pod,
        ok,
        T0 + timedelta(seconds=22),
        namespace="volsync-system",
        container="kopia-maintenance",
        restart=1,
    )
    run = run_of(analyze([str(tmp_path)]), pod)
    assert run["role"] == "maintenance" and run["replication_source"] == "nfs-repo"
    assert run["restarts"] == 1
    assert run["outcome"] == "completed" and run["exit_code"] == 0
    assert run["duration_s"] == 22 + 130.1
    assert run["reported_duration_s"] == 130


def test_overlapping_pods_of_one_replication_source(tmp_path):
    # a second pod starts while the first is still printing; both finish
    pod_log(tmp_path, "volsync-src-radarr-eeeee", HEALTHY_BACKUP, T0)
    pod_log(tmp_path, "volsync-src-radarr-fffff", HEALTHY_BACKUP, T0 + timedelta(seconds=20))
    a = analyze([str(tmp_path)])
    assert [
        run_of(a, p)["outcome"] for p in ("volsync-src-radarr-eeeee", "volsync-src-radarr-fffff")
    ] == ["completed", "completed"]
    assert run_of(a, "volsync-src-radarr-eeeee")["duration_s"] == 45.5
    # an overlapped pod without an end marker is hung, observed at least until its last line
    pod_log(
        tmp_path,
        "volsync-src-radarr-ggggg",
        HUNG_BACKUP + [(30.0, "stderr", "Connected to repository.")],
        T0 + timedelta(hours=1),
    )
    pod_log(
        tmp_path, "volsync-src-radarr-hhhhh", HEALTHY_BACKUP, T0 + timedelta(hours=1, seconds=10)
    )
    run = run_of(analyze([str(tmp_path)]), "volsync-src-radarr-ggggg")
    assert run["outcome"] == "hung" and run["duration_s"] == 30.0


def test_one_clock_skewed_line_does_not_move_start_or_end(tmp_path):
    skewed = list(HEALTHY_BACKUP)
    skewed[5] = (-3600 * 5, "stdout", "Using filesystem path: /repository")  # five hours early
    pod_log(tmp_path, "volsync-src-lidarr-iiiii", skewed, T0)
    run = run_of(analyze([str(tmp_path)]), "volsync-src-lidarr-iiiii")
    assert run["start"] == T0 and run["duration_s"] == 45.5 and run["outcome"] == "completed"


def test_kopia_cli_log_lines_attach_to_the_run_they_explain(tmp_path):
    hung_then_healthy(tmp_path)
    cli = tmp_path / "cache" / "media" / "volsync-src-recyclarr-cache" / "logs" / "cli-logs"
    stamp = (T0 + timedelta(seconds=0.5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    write_lines(
        cli / "kopia-20260131-160003-57-repository-connect-filesystem.0.log",
        [f"{stamp} ERROR kopia/repo Cannot determine current user: user: unknown userid 1000"],
    )
    a = analyze([str(tmp_path)])
    finding = a.findings.filter(pl.col("signature") == "unknown-userid").row(0, named=True)
    assert finding["count"] == 1 and finding["in_kopia_logs"] == 1
    assert finding["pods"] == ["volsync-src-recyclarr-aaaaa"]  # named through the run it explains
    assert finding["runs_affected"] == 1 and finding["with_hung"] == 1
    assert finding["without_completed"] == 1
    assert a.probable.height == 0  # explained directly, not by inference


def test_without_kopia_logs_the_hang_is_attributed_as_probable(tmp_path):
    hung_then_healthy(tmp_path)
    a = analyze([str(tmp_path)])
    assert a.probable.height == 1
    row = a.probable.row(0, named=True)
    assert row["uid"] == "1000" and "Executing connection command" in row["reason"]
    finding = a.findings.filter(pl.col("signature") == "unknown-userid").row(0, named=True)
    assert finding["count"] == 0 and finding["runs_probable"] == 1


def test_restic_mover_runs(tmp_path):
    # upstream VolSync restic mover: a locked repository (formats.md §4, backube/volsync#1042)
    locked = [
        (0.0, "stdout", "Starting container"),
        (0.0, "stdout", "VolSync restic container version: unknown"),
        (0.0, "stdout", "backup"),
        (0.2, "stdout", "restic 0.16.2 compiled with go1.21.3 on linux/amd64"),
        (0.2, "stdout", "Testing mandatory env variables"),
        (0.2, "stdout", "== Checking directory for content ==="),
        (0.3, "stdout", "== Initialize Dir ======="),
        (1.1, "stdout", "repo already locked, waiting up to 0s for the lock"),
        (
            1.1,
            "stdout",
            "unable to create lock in backend: repository is already locked exclusively by PID 48 on volsync-src-mealie-96mvk by  (UID 0, GID 0)",
        ),
        (1.1, "stdout", "lock was created at 2023-12-19 12:02:00 (5h24m42.719315996s ago)"),
        (1.1, "stdout", "storage ID b27ebdc3"),
        (1.1, "stdout", "the `unlock` command can be used to remove stale locks"),
        (1.2, "stdout", "ERROR: failure checking existence of repository"),
    ]
    ok = [
        (0.0, "stdout", "Starting container"),
        (0.0, "stdout", "VolSync restic container version: unknown"),
        (0.3, "stdout", "=== Starting backup ==="),
        (20.0, "stdout", "snapshot 1a2b3c4d saved"),
        (21.0, "stdout", "Restic completed in 21s"),
        (21.0, "stdout", "=== Done ==="),
    ]
    pod_log(tmp_path, "volsync-src-mealie-96mvk", locked, T0, container="restic")
    pod_log(tmp_path, "volsync-src-mealie-x2k4z", ok, T0 + timedelta(hours=1), container="restic")
    a = analyze([str(tmp_path)])
    bad, good = run_of(a, "volsync-src-mealie-96mvk"), run_of(a, "volsync-src-mealie-x2k4z")
    assert (bad["mover"], bad["outcome"], bad["exit_code"]) == ("restic", "failed", 3)
    assert (good["mover"], good["outcome"], good["exit_code"], good["reported_duration_s"]) == (
        "restic",
        "completed",
        0,
        21,
    )
    assert "restic-repo-locked" in set(a.findings["signature"])
