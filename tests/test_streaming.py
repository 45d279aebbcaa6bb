"""The streaming file source gives the same analysis as keeping every line in memory.

`analyze()` streams files by default: each file is read once in blocks, only the lines the
analysis reads are kept and the rest are counted. These tests run both paths over the example
corpus (four days, 688 runs) and over a corpus built to stress the block logic (tiny blocks, so
boundaries cut lines, CRI partial records, damaged and undecodable lines, `\\r` refreshes,
every envelope) and require identical runs, findings, verification status and JSON output.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import EXAMPLES, HEALTHY_BACKUP, HUNG_BACKUP, T0, cri_dir, cri_records, write_lines
from polars.testing import assert_frame_equal
from test_damaged import DAMAGED_CASES, damaged_corpus

from analyzer import analyze, catalog
from analyzer.analysis import file_filter, pushdown_filters
from analyzer.report import render_json, render_markdown
from analyzer.sources import files as stream
from analyzer.sources.files import scan as scan_mod
from analyzer.templates import PROBLEM_RES

FIX_AT = datetime(2026, 1, 29, 18, tzinfo=UTC)
TABLES = (
    "runs",
    "findings",
    "per_source",
    "before_after",
    "segments",
    "buckets",
    "probable",
    "unclassified",
)


def assert_same_analysis(paths: list[str], **kw) -> tuple:
    """Both paths over `paths`: every table the report shows, the status, the criteria and the
    whole JSON output must be equal; returns (in_memory, streamed)."""
    full = analyze(paths, in_memory=True, **kw)
    streamed = analyze(paths, **kw)
    for name in TABLES:
        assert_frame_equal(getattr(full, name), getattr(streamed, name), check_exact=True)
    assert streamed.status == full.status
    assert [(c.criterion, c.passed, c.reason) for c in streamed.criteria] == [
        (c.criterion, c.passed, c.reason) for c in full.criteria
    ]
    assert (streamed.inputs.lines, streamed.inputs.outside_window) == (
        full.inputs.lines,
        full.inputs.outside_window,
    )
    assert (streamed.inputs.unparsed_lines, streamed.inputs.undecodable_lines) == (
        full.inputs.unparsed_lines,
        full.inputs.undecodable_lines,
    )
    assert json.loads(render_json(streamed)) == json.loads(render_json(full))
    return full, streamed


# --------------------------------------------------------------------------------------------
# The example corpus


def test_example_corpus_streams_to_the_same_analysis_while_keeping_a_quarter_of_the_lines():
    full, streamed = assert_same_analysis([str(EXAMPLES / "logs")], fix_at=FIX_AT)
    assert full.runs.height == 688 and full.status == "RESOLVED"
    assert streamed.events.height < full.events.height / 3
    assert render_markdown(streamed) == render_markdown(full)


@pytest.mark.parametrize(
    "window",
    [
        {"from_": "2026-01-28T10:00:00Z", "to": "2026-01-30T13:30:00Z"},
        {"from_": "2026-01-29T00:00:07.5Z", "now": datetime(2026, 2, 1, tzinfo=UTC)},
        {"from_": "2026-01-27T00:00:00Z", "to": "2026-01-29T05:00:00Z"},
    ],
    ids=["inside", "open-end", "cut-at-end"],
)
def test_example_corpus_with_a_window_streams_to_the_same_analysis(window):
    full, _ = assert_same_analysis([str(EXAMPLES / "logs")], fix_at=FIX_AT, **window)
    assert full.inputs.outside_window > 0  # the window really cuts the data


# --------------------------------------------------------------------------------------------
# A corpus that stresses the blocks

POD = "volsync-src-photos-q7x2k"


def long_line_records(at: datetime) -> list[str]:
    """A 5 KiB listing line written as three CRI partial records (containerd splits at 16 KiB;
    smaller here so that tiny blocks cut through the run), stderr interleaved."""
    text = "Cache listing: " + " ".join(f"/cache/blob-{i:05d}" for i in range(300))
    parts = [text[:2000], text[2000:4000], text[4000:]]
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        f"{stamp} stdout P {parts[0]}",
        f"{stamp} stdout P {parts[1]}",
        f"{stamp} stderr F whoami: cannot find name for user ID 1000",
        f"{stamp} stdout F {parts[2]}",
    ]


def stress_corpus(root: Path) -> Path:
    """Every envelope, damage and refresh kind the envelopes module handles, in files that tiny
    blocks cut everywhere (formats.md §1.2-1.4, §3.2, §6.1-6.3)."""
    noise = [(0.5 + i * 0.01, "stdout", f"processed /data/photos/{i:05d}.jpg") for i in range(400)]
    progress = "\r".join(
        f" | {i} hashing, {i * 13} hashed (1.{i} GB), 4000{i} cached (18.4 GB), uploaded 0.{i} GB"
        for i in range(6)
    )
    lines = cri_records(T0, HEALTHY_BACKUP[:8] + noise[:200])
    lines += long_line_records(T0 + timedelta(seconds=3))
    lines += cri_records(T0 + timedelta(seconds=3), noise[200:])
    lines += [
        "garbage that is no CRI record",
        "2026-01-31T16:00:09.1Z stderr F \x1b[31mERROR\x1b[0m open repository: repository is not connected",
        f"2026-01-31T16:00:09.2Z stderr F {progress}",
        '2026-01-31T16:00:09.3Z stdout F Ignored error when processing "/data/photos/lost+found": open /data/photos/lost+found: permission denied',
    ]
    lines += cri_records(T0, HEALTHY_BACKUP[9:])
    d = cri_dir(root, "photos", POD, "kopia")
    data = ("\n".join(lines) + "\n").encode()
    bad = data.replace(b"processed /data/photos/00123.jpg", b"processed /data/photos/\xff\xfe.jpg")
    (d / "0.log").write_bytes(bad)
    # the same pod's previous container run, rotated and compressed
    earlier = cri_records(T0 - timedelta(hours=1), HUNG_BACKUP + noise[:150])
    (d / "0.log.20260131-150000.gz").write_bytes(
        gzip.compress(("\n".join(earlier) + "\n").encode(), mtime=0)
    )
    # a second pod of the same source that hangs, and its Kopia CLI log with the decisive line
    hung = cri_dir(
        root,
        "photos",
        "volsync-src-photos-b8n4w",
        "kopia",
        uid="2" * 8 + "-1111-2222-3333-444444444444",
    )
    write_lines(hung / "0.log", cri_records(T0 + timedelta(hours=1), HUNG_BACKUP))
    cli = root / "cache" / "photos" / "volsync-src-photos-cache" / "logs" / "cli-logs"
    write_lines(
        cli / "kopia-20260131-170003-41-repository-connect-filesystem.0.log",
        [
            f"2026-01-31T17:00:03.{i:06d}Z DEBUG kopia/repo opening repository step {i}"
            for i in range(100)
        ]
        + [
            "2026-01-31T17:00:03.900000Z ERROR kopia/repo Cannot determine current user: user: unknown userid 1000"
        ],
    )
    # kubectl --timestamps, --prefix, docker json-file and plain output of other pods
    kubectl = [f"2026-01-31T18:00:0{i % 10}.{i:09d}Z processed /data/{i}" for i in range(120)] + [
        "2026-01-31T18:00:09.999999999Z ERROR: failure locking repository"
    ]
    write_lines(root / "kubectl" / "volsync-src-notes-h2k9d.log", kubectl)
    prefixed = [f"[pod/volsync-src-wiki-p3l5m/restic] {line}" for line in kubectl]
    write_lines(root / "kubectl" / "wiki-prefixed.log", prefixed)
    docker = [
        json.dumps(
            {
                "log": f"processed /data/{i}\n",
                "stream": "stdout",
                "time": f"2026-01-31T19:00:00.{i:06d}Z",
            }
        )
        for i in range(120)
    ] + [
        json.dumps(
            {
                "log": "unable to apply retention policy\n",
                "stream": "stderr",
                "time": "2026-01-31T19:00:01Z",
            }
        )
    ]
    write_lines(root / "docker" / "volsync-src-music-d4c2a-json.log", docker)
    write_lines(
        root / "plain" / "volsync-src-books-z9y8x.log",
        [f"line {i}" for i in range(90)] + ["ERROR: failure locking repository"],
    )
    return root


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of 1 KiB and no batching of small files: every file crosses many boundaries."""
    monkeypatch.setattr(scan_mod, "BLOCK_BYTES", 1024)
    monkeypatch.setattr(scan_mod, "SMALL_FILE", 0)


def test_tiny_blocks_cut_lines_partials_and_refreshes_yet_the_analysis_is_the_same(
    tmp_path, tiny_blocks
):
    root = stress_corpus(tmp_path)
    full, streamed = assert_same_analysis([str(root)], fix_at=T0 + timedelta(hours=2))
    # the record that is no CRI record and the one that is not UTF-8 are raw rows
    assert full.inputs.unparsed_lines == 2 and full.inputs.undecodable_lines == 1
    assert {"unknown-userid", "repository-not-connected", "restic-repo-locked"} <= set(
        full.findings["signature"].to_list()
    )
    assert streamed.events.height < full.events.height


@pytest.mark.parametrize("blocks", ["default", "tiny"])
@pytest.mark.parametrize("case", DAMAGED_CASES)
def test_damaged_and_hostile_input_streams_to_the_same_analysis(
    tmp_path, monkeypatch, case, blocks
):
    """Every case of `tests/test_damaged.py` (NUL runs, misleading first lines, long lines,
    gzip caps, UTF-16 and byte-order marks), read in 16 MiB blocks and in 1 KiB ones."""
    if blocks == "tiny":
        monkeypatch.setattr(scan_mod, "BLOCK_BYTES", 1024)
        monkeypatch.setattr(scan_mod, "SMALL_FILE", 0)
    root = damaged_corpus(tmp_path, case)
    full, _ = assert_same_analysis([str(root)], fix_at=T0 - timedelta(hours=1))
    assert full.inputs.lines > 0


def test_batched_small_files_give_the_same_analysis(tmp_path):
    root = stress_corpus(tmp_path)
    assert_same_analysis([str(root)], fix_at=T0 + timedelta(hours=2))


def test_every_kept_line_is_the_files_line_with_that_number(tmp_path, tiny_blocks):
    root = stress_corpus(tmp_path)
    rule = stream.KeepRule(file_filter(catalog.load_catalog().signatures))
    scan = stream.scan_files([str(root)], None, rule)
    for source, rows in scan.raw.group_by("source"):
        data = Path(source[0]).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        lines = data.decode("utf-8", errors="replace").split("\n")[:-1]
        for raw, line_no in rows.select("raw", "line_no").iter_rows():
            want = lines[line_no - 1]
            assert raw == want or raw == "\ufffd" + want, (source[0], line_no)
    totals = scan.dropped.group_by("source").agg(pl.col("lines").sum()).rows()
    for source, count in totals:
        data = Path(source).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert count == data.count(b"\n"), source


def test_a_line_cut_by_a_block_boundary_is_matched_whole(tmp_path, monkeypatch):
    line = "2026-01-31T16:00:05.5Z stdout F ERROR: failure locking repository"
    filler = [f"2026-01-31T16:00:05.{i:03d}Z stdout F step {i}" for i in range(40)]
    d = cri_dir(tmp_path, "media", POD, "kopia")
    path = write_lines(d / "0.log", cri_records(T0, HEALTHY_BACKUP[:3]) + filler + [line] + filler)
    cut = path.read_bytes().index(b"failure locking")  # the boundary falls inside the match
    monkeypatch.setattr(scan_mod, "BLOCK_BYTES", cut)
    monkeypatch.setattr(scan_mod, "SMALL_FILE", 0)
    a = analyze([str(tmp_path)])
    hits = a.matches.join(a.events, on="event_id")
    assert hits.filter(pl.col("signature") == "restic-repo-locked")["line_no"].to_list() == [44]
    assert a.inputs.lines == 3 + 40 + 1 + 40


# --------------------------------------------------------------------------------------------
# What the path says: pods that cannot be movers


def app_pod(root: Path) -> Path:
    d = cri_dir(
        root,
        "default",
        "web-7d9f8b6c5-x2x4z",
        "nginx",
        uid="3" * 8 + "-1111-2222-3333-444444444444",
    )
    lines = [
        f'2026-01-31T16:00:{i % 60:02d}.{i:06d}Z stdout F 10.42.0.7 - - [31/Jan/2026:16:00:00 +0000] "GET / HTTP/1.1" 502 0 "-" "kube-probe/1.31"'
        for i in range(500)
    ] + [
        '2026-01-31T16:01:00Z stderr F level=error msg="dial tcp 10.96.0.1:443: connect: connection refused"'
    ]
    return write_lines(d / "0.log", lines)


def test_files_of_pods_that_cannot_be_movers_are_skipped_by_path_and_reported(tmp_path):
    d = cri_dir(tmp_path, "media", POD, "kopia")
    write_lines(d / "0.log", cri_records(T0, HEALTHY_BACKUP))
    app = app_pod(tmp_path)
    a = analyze([str(tmp_path)])
    assert a.inputs.files == [str(d / "0.log")]
    assert a.inputs.not_mover == {
        "files": 1,
        "pods": 1,
        "bytes": app.stat().st_size,
        "examples": ["default/web-7d9f8b6c5-x2x4z"],
    }
    assert "of 1 pod(s) that cannot be VolSync movers" in render_markdown(a)
    assert json.loads(render_json(a))["inputs"]["not_mover_pods"]["files"] == 1
    everything = analyze([str(tmp_path)], all_pods=True)
    assert everything.inputs.not_mover is None
    assert everything.inputs.lines == a.inputs.lines + 501
    # the app's `connection refused` line is now read; the mover's runs are unchanged
    assert "network-connection-error" in everything.findings["signature"].to_list()
    assert_frame_equal(everything.runs, a.runs)


def test_a_non_mover_file_named_explicitly_is_read(tmp_path):
    app = app_pod(tmp_path)
    a = analyze([str(app)])
    assert a.inputs.files == [str(app)] and a.inputs.not_mover is None


# --------------------------------------------------------------------------------------------
# The keep regex is a superset of everything the analysis matches


def test_the_keep_regex_keeps_every_line_any_analysis_regex_matches():
    """Literal cores drop anchors, optional parts and leading classes: each must still match
    every example line (and every example-corpus line) that its regex matches."""
    sigs = catalog.load_catalog().signatures
    lines = pl.concat(
        [
            pl.Series([e for s in sigs for e in (*s.examples_match, *s.examples_no_match)]),
            analyze([str(EXAMPLES / "logs")], in_memory=True).events["message"],
        ]
    ).to_frame("message")
    keep = file_filter(sigs)
    kept = lines.select(pl.col("message").str.contains(keep))["message"]
    for rx in [*pushdown_filters(sigs), *PROBLEM_RES]:
        matched = lines.select(pl.col("message").str.contains(rx))["message"]
        missed = lines.filter(matched & ~kept)
        assert missed.height == 0, (rx, missed["message"].head(3).to_list())


@pytest.mark.parametrize(
    ("regex", "core"),
    [
        (
            r"^(?:INFO: )?VolSync (kopia|restic) container version: (\S+)",
            "VolSync (kopia|restic) container version: ",
        ),
        (r"(?:(?P<path>/[^:\s]+): )?read-only file system", "read-only file system"),
        (r"^(\d+\.\d+\.\d+(?:-\S+)?) build: ", " build: "),
        (r"[Ss]tale (?:NFS )?file handle", "tale (?:NFS )?file handle"),
        (r"x{0,3}y", "y"),
        (r"a\?", r"a\?"),
    ],
)
def test_literal_core_keeps_the_literal_a_match_must_contain(regex, core):
    assert catalog.literal_core(catalog.unanchored(catalog.anonymous(regex))) == core
