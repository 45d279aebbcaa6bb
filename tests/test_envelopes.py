"""Each envelope of formats.md §1 and §6, read from real-format files through the file source."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime

import polars as pl
import pytest
from conftest import cri_dir, write_lines

from analyzer.analysis import events_from_raw
from analyzer.sources.files import read_files

POD = "volsync-src-recyclarr-8p6x6"


def events_of(*paths, overrides=None) -> pl.DataFrame:
    raw, _ = read_files([str(p) for p in paths], overrides)
    return events_from_raw(raw)


def test_cri_lines_take_identity_from_the_path_and_join_partials(tmp_path):
    long_part = "x" * 16384
    d = cri_dir(tmp_path, "media", POD, "kopia")
    write_lines(
        d / "0.log",
        [
            "2026-01-31T16:00:03.412Z stdout F Starting kopia mover container",
            "2026-01-31T16:00:03.413Z stdout F ",
            f"2026-01-31T16:00:03.5Z stdout P Contents of cache directory: {long_part}",
            "2026-01-31T16:00:03.4571Z stderr F whoami: cannot find name for user ID 1000",
            "2026-01-31T16:00:03.500013Z stdout F  tail of the long line",
            "2026-01-31T17:00:04+01:00 stdout F Executing connection command...",
        ],
    )
    ev = events_of(tmp_path)
    assert ev["message"].to_list() == [
        "Starting kopia mover container",
        "",
        "whoami: cannot find name for user ID 1000",
        f"Contents of cache directory: {long_part} tail of the long line",
        "Executing connection command...",
    ]
    assert set(ev["namespace"]) == {"media"} and set(ev["pod"]) == {POD}
    assert set(ev["container"]) == {"kopia"}
    assert ev["replication_source"].unique().to_list() == ["recyclarr"]
    assert ev["role"].unique().to_list() == ["source"]
    assert ev["stream"].to_list() == ["stdout", "stdout", "stderr", "stdout", "stdout"]
    # the joined record keeps the first record's time and line number
    joined = ev.filter(pl.col("message").str.starts_with("Contents"))
    assert joined["line_no"].item() == 3
    assert joined["ts"].item() == datetime(2026, 1, 31, 16, 0, 3, 500000, tzinfo=UTC)
    # offsets are normalised to UTC
    assert ev["ts"][-1] == datetime(2026, 1, 31, 16, 0, 4, tzinfo=UTC)
    assert ev["parsed"].all() and set(ev["envelope"]) == {"cri"}


def test_rotated_gzip_sibling_is_read_with_the_same_identity(tmp_path):
    d = cri_dir(
        tmp_path,
        "volsync-system",
        "kopia-maint-nfs-repo-3fa4c2d19b7e0a61-29390520-k2x7p",
        "kopia-maintenance",
    )
    write_lines(
        d / "0.log.20260130-020130.gz",
        ["2026-01-30T02:00:01.1Z stdout F INFO: Running Kopia full maintenance..."],
        gz=True,
    )
    write_lines(d / "0.log", ["2026-01-30T02:02:13.9Z stdout F INFO: === Done ==="])
    ev = events_of(tmp_path)
    assert ev["message"].to_list() == [
        "INFO: Running Kopia full maintenance...",
        "INFO: === Done ===",
    ]
    assert set(ev["role"]) == {"maintenance"} and set(ev["replication_source"]) == {"nfs-repo"}
    assert ev["level"].to_list() == ["INFO", "INFO"]


def test_ansi_codes_and_kopia_021_level_words(tmp_path):
    d = cri_dir(tmp_path, "media", POD, "kopia")
    write_lines(
        d / "0.log",
        [
            "2026-01-31T16:00:04Z stderr F \x1b[31mERROR\x1b[0m open repository: repository is not connected. See https://kopia.io/docs/repositories/",
            "2026-01-31T16:00:05Z stderr F \x1b[33mWARN\x1b[0m unable to persist sharding parameters: x",
            "2026-01-31T16:00:06Z stdout F ERROR: Connection failed even after cache cleanup",
            "2026-01-31T16:00:07Z stdout F TIMING: Repository status check took 0 seconds (not connected)",
        ],
    )
    ev = events_of(tmp_path)
    assert ev["message"].to_list() == [
        "open repository: repository is not connected. See https://kopia.io/docs/repositories/",
        "unable to persist sharding parameters: x",
        "ERROR: Connection failed even after cache cleanup",
        "TIMING: Repository status check took 0 seconds (not connected)",
    ]
    assert ev["level"].to_list() == ["ERROR", "WARN", "ERROR", "INFO"]


def test_carriage_return_progress_refreshes_become_rows(tmp_path):
    d = cri_dir(tmp_path, "media", POD, "kopia")
    progress = (
        " | 2 hashing, 310 hashed (1.2 GB), 40120 cached (18.4 GB), uploaded 1.1 GB, estimating...\r"
        " / 0 hashing, 1523 hashed (2.1 GB), 40211 cached (18.4 GB), uploaded 1.9 GB, estimated 20.5 GB (99.1%) 1s left\r"
        " * 0 hashing, 1523 hashed (2.1 GB), 40211 cached (18.4 GB), uploaded 1.9 GB, estimated 20.5 GB (100.0%) 0s left\r"
    )
    write_lines(
        d / "0.log",
        [
            f"2026-01-31T16:01:10.2Z stderr F {progress}",
            "2026-01-31T16:01:11Z stdout F TIMING: Snapshot creation completed in 63 seconds",
        ],
    )
    ev = events_of(tmp_path)
    assert ev.height == 4
    assert ev["message"][0].startswith(" | 2 hashing") and ev["message"][2].startswith(
        " * 0 hashing"
    )
    assert ev["line_no"].to_list() == [1, 1, 1, 2]
    assert ev["ts"][0] == ev["ts"][2]  # fragments take their envelope's time


def test_kopia_cli_log_text_and_json(tmp_path):
    cli = tmp_path / "media" / "volsync-src-recyclarr-cache" / "logs" / "cli-logs"
    write_lines(
        cli / "kopia-20260131-160003-57-repository-connect-filesystem.0.log",
        [
            "2026-01-31T16:00:03.900117Z ERROR kopia/repo Cannot determine current user: user: unknown userid 1000",
            '2026-01-31T16:00:04.001990Z INFO snapshotgc finding contents in live snapshots\t{"snapshotsProcessed":3,"totalSnapshots":14}',
        ],
    )
    write_lines(
        cli / "kopia-20260131-170003-61-snapshot-create.0.log",
        [
            '{"l":"INFO","t":"2026-01-31T17:00:12.004411Z","n":"kopia/cli","m":"Snapshotting recyclarr@media:/data ..."}'
        ],
    )
    ev = events_of(tmp_path)
    assert ev["envelope"].to_list() == ["kopia-cli", "kopia-cli", "kopia-json"]
    assert ev["level"].to_list() == ["ERROR", "INFO", "INFO"]
    assert ev["module"].to_list() == ["kopia/repo", "snapshotgc", "kopia/cli"]
    assert ev["kopia_command"].to_list() == ["repository-connect-filesystem"] * 2 + [
        "snapshot-create"
    ]
    assert ev["message"][0] == "Cannot determine current user: user: unknown userid 1000"
    assert ev["pod"].null_count() == 3  # Kopia's files name no pod ...
    assert set(ev["replication_source"]) == {"recyclarr"}  # ... but the cache volume names the RS
    assert ev["ts"][0] == datetime(2026, 1, 31, 16, 0, 3, 900117, tzinfo=UTC)


def test_kubectl_timestamps_and_pod_from_file_name(tmp_path):
    path = write_lines(
        tmp_path / f"{POD}.log",
        [
            "2026-01-31T16:00:07.200000000Z Cannot determine current user: user: unknown userid 1000",
            "[pod/volsync-dst-photos-q2w9z/kopia] 2026-01-31T16:00:08.000000000Z INFO: === Starting restore operation ===",
        ],
    )
    ev = events_of(path)
    assert ev["envelope"].to_list() == ["kubectl", "kubectl"]
    assert ev["pod"].to_list() == [
        POD,
        POD,
    ]  # the file name names the pod; --prefix does not override it
    assert ev["ts"][0] == datetime(2026, 1, 31, 16, 0, 7, 200000, tzinfo=UTC)


def test_kubectl_prefix_names_the_pod_when_nothing_else_does(tmp_path):
    path = write_lines(
        tmp_path / "all-movers.txt",
        [
            "[pod/volsync-dst-photos-q2w9z/kopia] 2026-01-31T16:00:08.000000000Z INFO: === Starting restore operation ==="
        ],
    )
    ev = events_of(path)
    assert ev["pod"].to_list() == ["volsync-dst-photos-q2w9z"]
    assert ev["role"].to_list() == ["destination"] and ev["container"].to_list() == ["kopia"]


def test_docker_json_file(tmp_path):
    lines = [
        json.dumps(
            {
                "log": "Starting kopia mover container\n",
                "stream": "stdout",
                "time": "2026-01-31T16:00:03.412000001Z",
            }
        ),
        json.dumps(
            {
                "log": "whoami: cannot find name for user ID 1000\n",
                "stream": "stderr",
                "time": "2026-01-31T16:00:03.457Z",
            }
        ),
    ]
    path = write_lines(tmp_path / "abc123-json.log", lines)
    ev = events_of(path, overrides=None)
    assert ev["message"].to_list() == [
        "Starting kopia mover container",
        "whoami: cannot find name for user ID 1000",
    ]
    assert ev["stream"].to_list() == ["stdout", "stderr"]
    assert ev["envelope"].unique().to_list() == ["docker"]


def test_stdin_with_overrides(monkeypatch):
    data = "2026-01-31T16:00:03.412Z stdout F Starting kopia mover container\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    from analyzer.sources.files import Overrides

    ev = events_of("-", overrides=Overrides(namespace="media", pod=POD, container="kopia"))
    assert ev["source"].to_list() == ["<stdin>"]
    assert ev.select("namespace", "pod", "container", "replication_source").row(0) == (
        "media",
        POD,
        "kopia",
        "recyclarr",
    )


def test_damaged_lines_stay_as_counted_raw_rows(tmp_path):
    d = cri_dir(tmp_path, "media", POD, "kopia")
    (d / "0.log").write_bytes(
        b"2026-01-31T16:00:03.412Z stdout F Starting kopia mover container\n"
        b"\xff\xfe garbage \x80 line\n"
        b"truncated-record-without-envelope\n"
        b"2026-01-31T16:00:04Z stdout F INFO: ok\n"
    )
    raw, report = read_files([str(tmp_path)])
    ev = events_from_raw(raw)
    assert report.undecodable_lines == 1
    assert ev.height == 4
    assert (~ev["parsed"]).sum() == 2
    assert ev.filter(~pl.col("parsed"))["envelope"].unique().to_list() == ["raw"]
    # raw rows take the time of the line before them in their file, so they stay in the window
    assert ev["ts"].null_count() == 0


def test_plain_file_without_envelope_is_content(tmp_path):
    path = write_lines(
        tmp_path / f"{POD}.txt", ["Starting kopia mover container", "INFO: === Done ==="]
    )
    ev = events_of(path)
    assert ev["envelope"].unique().to_list() == ["plain"] and ev["parsed"].all()
    assert ev["ts"].null_count() == 2


@pytest.mark.parametrize("name", ["0.log"])
def test_mixed_envelopes_in_one_file(tmp_path, name):
    d = cri_dir(tmp_path, "media", POD, "kopia")
    write_lines(
        d / name,
        [
            "2026-01-31T16:00:03.412Z stdout F Starting kopia mover container",
            "2026-01-31T16:00:03.900117Z ERROR kopia/repo Cannot determine current user: user: unknown userid 1000",
        ],
    )
    ev = events_of(tmp_path)
    assert ev["envelope"].to_list() == ["cri", "kopia-cli"]
