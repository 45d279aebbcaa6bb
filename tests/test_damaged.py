"""Damaged and hostile input (issue 19): nothing is lost without a count, resources stay bounded.

Each case is the smallest realistic input that showed a loss: a kubelet log with the NUL run a
node's power loss leaves, files whose first lines mislead the streaming sniff, a line with no
end, a gzip bomb, UTF-16 and byte-order marks, a directory nested a thousand levels deep. The
generators are shared with `tests/test_streaming.py`, which requires the streaming reader to
give the in-memory analysis on every one of them.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import HEALTHY_BACKUP, HUNG_BACKUP, T0, cri_dir, cri_records, write_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import analyze
from analyzer.cli import main
from analyzer.report import render_markdown
from analyzer.sources.files import InputError, read_files
from analyzer.sources.files import decode as decode_mod
from analyzer.sources.files import gunzip as gunzip_mod
from analyzer.sources.files import scan as scan_mod
from analyzer.sources.files.keep import KeepRule
from testing.write import docker, kubectl

USERID = "Cannot determine current user: user: unknown userid 1000"
HUNG_POD = "volsync-src-recyclarr-aaaaa"
HEALTHY_POD = "volsync-src-recyclarr-bbbbb"
FIX_AT = "2026-01-31T15:00:00Z"


def incident(root: Path, hung_bytes=lambda data: data) -> Path:
    """A ReplicationSource whose first pod hangs in the user lookup (the `unknown userid`
    line on its stderr) and whose replacement, 50 minutes later, completes; `hung_bytes`
    damages the hung pod's CRI file (formats.md §6.1)."""
    d = cri_dir(root, "media", HUNG_POD, "kopia")
    lines = cri_records(T0, [*HUNG_BACKUP, (0.9, "stderr", USERID)])
    data = ("\n".join(lines) + "\n").encode()
    (d / "0.log").write_bytes(hung_bytes(data))
    d = cri_dir(root, "media", HEALTHY_POD, "kopia", uid="11111111-2222-3333-4444-555555555555")
    write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=50), HEALTHY_BACKUP))
    return root


def power_loss(data: bytes) -> bytes:
    """What a node's power loss leaves in a kubelet log: the file had grown past data that
    never reached the disk (a page of NUL bytes glued to the next line written after the
    reboot), and it ends in NUL padding."""
    lines = data.split(b"\n")
    cut = lines[3][:25]  # the fourth line was being written: its head survived
    return (
        b"\n".join(lines[:3])
        + b"\n"
        + cut
        + b"\x00" * 4071
        + b"\n".join(lines[4:-1])
        + b"\n"
        + b"\x00" * 1024
    )


# --------------------------------------------------------------------------------------------
# 1. NUL runs


def test_a_power_loss_nul_run_keeps_the_hung_run_and_its_finding(tmp_path):
    clean = analyze([str(incident(tmp_path / "clean"))], fix_at=datetime.fromisoformat(FIX_AT))
    damaged_root = incident(tmp_path / "damaged", power_loss)
    a = analyze([str(damaged_root)], fix_at=datetime.fromisoformat(FIX_AT))
    assert clean.status == a.status == "OPEN"
    hung = a.runs.filter(pl.col("pod") == HUNG_POD).row(0, named=True)
    want = clean.runs.filter(pl.col("pod") == HUNG_POD).row(0, named=True)
    assert (hung["outcome"], hung["start"], hung["duration_s"]) == (
        "hung",
        want["start"],
        want["duration_s"],
    )
    assert "unknown-userid" in a.findings["signature"].to_list()
    # the NUL padding at the end is never the run's last line
    assert hung["last_message"] == USERID and "\x00" not in (hung["terminal_line"] or "")
    path = next(p for p in a.inputs.files if HUNG_POD in p)
    assert (path, decode_mod_note(5095, 2)) in a.inputs.skipped
    # the fourth line's surviving head and the two runs are counted rows, nothing else is lost
    assert a.inputs.lines == clean.inputs.lines + 2
    assert a.inputs.unparsed_lines == clean.inputs.unparsed_lines + 3
    md = render_markdown(a)
    assert "5,095 NUL byte(s) in 2 run(s)" in md and "\x00" not in md


def decode_mod_note(nul_bytes: int, runs: int) -> str:
    return (
        f"{nul_bytes:,} NUL byte(s) in {runs} run(s), what a power loss leaves: read around "
        "them, each run counted as one damaged line"
    )


def test_exit_code_sees_the_hang_behind_a_nul_run(tmp_path):
    root = incident(tmp_path, power_loss)
    result = CliRunner().invoke(main, ["--exit-code", "--fix-at", FIX_AT, str(root)])
    assert result.exit_code == 1, result.output
    assert "OPEN" in result.output


def test_nul_runs_are_rows_of_their_own_and_short_nul_text_stays(tmp_path):
    """A run of NUL bytes at a line's start or end, or 16 bytes and longer, is an empty
    damaged row; three NUL bytes inside a line's text are what the program printed."""
    stamp = "2026-01-31T16:00:00.000000000Z stdout F "
    data = (
        f"{stamp}first".encode()
        + b"\x00" * 16
        + f"{stamp}second\n".encode()
        + b"\x00\x00"
        + f"{stamp}third: \x00\x00\x00 inside\n".encode()
        + f"{stamp}fourth".encode()
        + b"\x00\n"
    )
    path = tmp_path / "0.log"
    path.write_bytes(data)
    raw, report = read_files([str(path)])
    assert raw["raw"].to_list() == [
        f"{stamp}first",
        "",
        f"{stamp}second",
        "",
        f"{stamp}third: \x00\x00\x00 inside",
        f"{stamp}fourth",
        "",
    ]
    assert report.skipped == [(str(path), decode_mod_note(19, 3))]


@pytest.mark.parametrize("cut", [1, 2, 7, 64, 4096])
def test_the_text_transform_does_not_depend_on_where_chunks_are_cut(cut):
    """The streaming reader feeds blocks, the in-memory one whole files: NUL runs, byte-order
    marks and long lines cut by a chunk boundary give the same bytes and counts."""
    data = (
        codecs.BOM_UTF8
        + b"a\n"
        + b"\x00" * 40
        + b"b\n"
        + codecs.BOM_UTF8
        + b"c\x00\x00d\n"
        + "é".encode() * 300
        + b"\n\x00\x00\n"
        + b"x" * 5000
        + b"\n\x00"
    )
    whole = decode_mod.TextStream(max_line=1000)
    expected = whole.feed(data) + whole.finish()
    stream = decode_mod.TextStream(max_line=1000)
    out = b"".join(stream.feed(data[i : i + cut]) for i in range(0, len(data), cut))
    out += stream.finish()
    assert out == expected
    assert stream.notes() == whole.notes()
    assert expected.split(b"\n")[:6] == [b"a", b"", b"b", b"c\x00\x00d", b"\xc3\xa9" * 300, b""]
    assert (whole.nul_runs, whole.nul_bytes, whole.long_lines) == (3, 43, 1)


_PIECES = st.sampled_from(
    [
        b"\n",
        b"\x00",
        b"\x00" * 20,
        codecs.BOM_UTF8,
        b"\xef",
        b"\xef\xbb",
        "é".encode(),
        "€".encode(),
        b"x" * 61,
        b"ab",
        b"x" * 90,
    ]
)


@given(
    data=st.lists(_PIECES, max_size=60).map(b"".join),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    encoding=st.sampled_from([None, "utf-16-le"]),
)
@settings(max_examples=1000)
def test_any_chunking_of_any_bytes_gives_the_same_text(data, cuts, encoding):
    """The text transform is a function of the bytes, not of where the blocks are cut."""
    if encoding:
        data = data.decode("utf-8", "replace").encode("utf-16-le")
    whole = decode_mod.TextStream(encoding, max_line=64)
    expected = whole.feed(data) + whole.finish()
    stream, out, i, k = decode_mod.TextStream(encoding, max_line=64), [], 0, 0
    while i < len(data):
        step = cuts[k % len(cuts)]
        out.append(stream.feed(data[i : i + step]))
        i, k = i + step, k + 1
    out.append(stream.finish())
    assert b"".join(out) == expected
    assert stream.notes() == whole.notes()
    assert max((len(line) for line in expected.split(b"\n")), default=0) <= 64


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 40, "binary file, not a log"),
        (bytes((i * 7919) % 256 for i in range(20000)), "binary file, not a log"),
        (b"\x28\xb5\x2f\xfd" + b"\x00" * 100, "compressed with zstd, decompress first (zstd -d)"),
        (b"PK\x03\x04" + bytes(range(256)), "a zip archive, unpack it first"),
        (b"\xfd7zXZ\x00\x00\x04" + b"\x01" * 50, "truncated or corrupt xz file"),
        (b"BZh91AY&SY" + b"\x02" * 50, "truncated or corrupt bzip2 file"),
    ],
    ids=["elf", "random", "zstd", "zip", "corrupt-xz", "corrupt-bzip2"],
)
def test_real_binaries_and_other_archives_stay_skipped_with_their_reason(tmp_path, content, reason):
    d = incident(tmp_path)
    bad = d / "0.log.20260131-160000.bin.log"
    bad.write_bytes(content)
    a = analyze([str(d)])
    assert [r for p, r in a.inputs.skipped if p == str(bad)][0].startswith(reason)
    assert a.runs.height == 2
    with pytest.raises(InputError, match="^" + str(bad) + ": " + reason.split(",")[0]):
        read_files([str(bad)])


def test_a_file_of_nothing_but_nul_bytes_is_read_as_one_damaged_line(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(b"\x00" * 9000)
    raw, report = read_files([str(path)])
    assert raw["raw"].to_list() == [""]
    assert report.skipped == [(str(path), decode_mod_note(9000, 1))]


# --------------------------------------------------------------------------------------------
# 2. Files whose first lines mislead the streaming reader


def copytruncated_docker(root: Path) -> Path:
    """A docker json-file log (formats.md §6.3) that copytruncate cut inside a record: its
    first line starts with `{` but is no JSON. The user-lookup line comes last."""
    at = T0
    records = [docker(at, stream, text) for _, stream, text in HUNG_BACKUP[:2]]
    records[0] = records[0][:37]  # `{"log": "...` cut short
    noise = [
        docker(at + timedelta(seconds=1 + i), "stdout", f"processed /data/{i:05d}.jpg")
        for i in range(600)
    ]
    records += [
        docker(at + timedelta(seconds=t), stream, text) for t, stream, text in HUNG_BACKUP[2:]
    ]
    records += noise + [docker(at + timedelta(seconds=700), "stderr", USERID)]
    path = root / "docker" / f"{HUNG_POD}.log"
    write_lines(path, records)
    d = cri_dir(root, "media", HEALTHY_POD, "kopia", uid="11111111-2222-3333-4444-555555555555")
    write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=50), HEALTHY_BACKUP))
    return root


def describe_output(lines: int = 240) -> list[str]:
    """`kubectl describe pod` of a mover pod, long enough (its environment and events) to
    fill the first 200 lines of the file it was saved in."""
    head = [
        f"Name:             {HUNG_POD}",
        "Namespace:        media",
        "Priority:         0",
        "Service Account:  volsync-src-recyclarr",
        "Node:             k3s-node-2/10.0.0.12",
        "Start Time:       Sat, 31 Jan 2026 16:00:02 +0000",
        "Labels:           app.kubernetes.io/created-by=volsync",
        "Status:           Running",
        "Containers:",
        "  kopia:",
        "    Image:          quay.io/perfectra1n/volsync:v0.17.7",
        "    Command:",
        "      /mover-kopia/entry.sh",
        "    State:          Running",
        "      Started:      Sat, 31 Jan 2026 16:00:03 +0000",
        "    Environment:",
    ]
    env = [f"      KOPIA_OPTION_{i:03d}:  value-{i}" for i in range(lines - len(head) - 4)]
    events = [
        "Events:",
        "  Type    Reason     Age   From               Message",
        "  ----    ------     ----  ----               -------",
        f"  Normal  Started    65m   kubelet            Started container kopia in {HUNG_POD}",
    ]
    return head + env + events


def describe_then_logs(root: Path) -> Path:
    """`kubectl describe` output, then `kubectl logs --timestamps` (formats.md §6.2) of the
    same pod saved into one file: the envelope starts after line 200."""
    logs = [kubectl(T0 + timedelta(seconds=t), text) for t, _, text in HUNG_BACKUP]
    logs += [
        kubectl(T0 + timedelta(seconds=1 + i), f"processed /data/{i:05d}.jpg") for i in range(300)
    ]
    logs += [kubectl(T0 + timedelta(minutes=65), USERID)]
    write_lines(root / "support" / f"{HUNG_POD}.log", describe_output() + logs)
    d = cri_dir(root, "media", HEALTHY_POD, "kopia", uid="11111111-2222-3333-4444-555555555555")
    write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=90), HEALTHY_BACKUP))
    return root


def test_a_copytruncated_docker_log_is_read_to_its_end(tmp_path, monkeypatch):
    """Its first line starts like a `kubectl get -o json` dump; deciding it is none must not
    lose the blocks read to find out (small blocks stand for a file past 16 MiB)."""
    monkeypatch.setattr(scan_mod, "BLOCK_BYTES", 4096)
    root = copytruncated_docker(tmp_path)
    path = root / "docker" / f"{HUNG_POD}.log"
    a = analyze([str(root)])
    assert a.inputs.lines == len(path.read_text().splitlines()) + len(HEALTHY_BACKUP)
    assert "unknown-userid" in a.findings["signature"].to_list()
    assert a.inputs.unparsed_lines == 1  # the cut record


def test_describe_output_before_the_timestamps_is_counted_and_the_window_applies(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(scan_mod, "BLOCK_BYTES", 4096)
    root = describe_then_logs(tmp_path)
    window = {
        "from_": (T0 - timedelta(hours=1)).isoformat(),
        "to": (T0 + timedelta(minutes=60)).isoformat(),
    }
    full = analyze([str(root)], in_memory=True, **window)
    a = analyze([str(root)], **window)
    assert a.inputs.unparsed_lines == full.inputs.unparsed_lines == len(describe_output())
    assert a.inputs.outside_window == full.inputs.outside_window == 1 + len(HEALTHY_BACKUP)
    hung = a.runs.filter(pl.col("pod") == HUNG_POD).row(0, named=True)
    want = full.runs.filter(pl.col("pod") == HUNG_POD).row(0, named=True)
    assert (hung["start"], hung["duration_s"], hung["outcome"]) == (
        want["start"],
        want["duration_s"],
        want["outcome"],
    )


# --------------------------------------------------------------------------------------------
# 3. Long lines and decompression bombs


def long_lines(root: Path) -> Path:
    """A hung run whose pod printed a 3 MiB listing on one line (an `ERROR` at its head, a
    secret at its end), and a file that ends in a 2 MiB line without a newline."""
    listing = "ERROR: unable to upload " + " ".join(f"/data/f{i:07d}" for i in range(240_000))
    listing += " KOPIA_PASSWORD=hunter2-at-the-end"
    lines = [*HUNG_BACKUP[:5], (0.5, "stderr", listing), *HUNG_BACKUP[5:], (0.9, "stderr", USERID)]
    d = cri_dir(root, "media", HUNG_POD, "kopia")
    write_lines(d / "0.log", cri_records(T0, lines))
    d = cri_dir(root, "media", HEALTHY_POD, "kopia", uid="11111111-2222-3333-4444-555555555555")
    records = cri_records(T0 + timedelta(minutes=50), HEALTHY_BACKUP)
    (d / "0.log").write_bytes(("\n".join(records) + "\n").encode() + b"x" * (2 << 20))
    return root


def test_a_long_line_keeps_its_head_and_the_rest_is_counted(tmp_path):
    root = long_lines(tmp_path)
    a = analyze([str(root)])
    hung_file = next(p for p in a.inputs.files if HUNG_POD in p)
    healthy_file = next(p for p in a.inputs.files if HEALTHY_POD in p)
    listing_bytes = len(
        next(line for line in Path(hung_file).read_bytes().split(b"\n") if len(line) > 1e6)
    )
    limit = decode_mod.MAX_LINE_BYTES
    assert (hung_file, long_note(1, listing_bytes - limit)) in a.inputs.skipped
    assert (healthy_file, long_note(1, (2 << 20) - limit)) in a.inputs.skipped
    assert a.inputs.lines == len(HUNG_BACKUP) + 2 + len(HEALTHY_BACKUP) + 1
    assert a.inputs.unparsed_lines == 1  # the bare `xxx` line at the end
    listing = a.events.filter(pl.col("message").str.starts_with("ERROR: unable to upload"))
    assert listing.height == 1 and len(listing["message"][0].encode()) < limit
    assert "unknown-userid" in a.findings["signature"].to_list()
    assert a.runs.filter(pl.col("pod") == HUNG_POD)["outcome"].to_list() == ["hung"]
    md = render_markdown(a)
    assert "hunter2" not in md and "line(s) longer than 1,048,576 bytes" in md


def long_note(lines: int, cut: int) -> str:
    limit = decode_mod.MAX_LINE_BYTES
    return (
        f"{lines:,} line(s) longer than {limit:,} bytes: the first {limit:,} bytes of each "
        f"read, {cut:,} byte(s) left out"
    )


def test_a_long_line_is_cut_on_a_character_boundary(tmp_path, monkeypatch):
    monkeypatch.setattr(decode_mod, "MAX_LINE_BYTES", 1001)
    path = tmp_path / "x.log"
    path.write_bytes("é".encode() * 2000 + b"\nnext\n")
    for in_memory in (True, False):
        raw, report = (read_files if in_memory else stream_read)([str(path)])
        assert raw["raw"].to_list() == ["é" * 500, "next"]
        assert report.undecodable_lines == 0
        assert report.skipped == [(str(path), long_note(1, 3000))]


def stream_read(paths: list[str]):
    rule = KeepRule(".*")
    result = scan_mod.scan_files(paths, None, rule, all_pods=True)
    return result.raw, result.report


def gzip_bomb(root: Path) -> Path:
    """A rotated `.gz` sibling that decompresses to far more than the cap (small caps in the
    tests stand for 4 GiB): the hung run's start, then 40,000 identical progress lines."""
    d = cri_dir(root, "media", HUNG_POD, "kopia")
    head = cri_records(T0, HUNG_BACKUP)
    progress = cri_records(
        T0 + timedelta(seconds=1), [(0, "stdout", "Processed 0 (0 B) of 1 (4.2 GB).")] * 40_000
    )
    write_lines(d / "0.log.20260131-160000.gz", head + progress, gz=True)
    write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=5), [(0, "stderr", USERID)]))
    d = cri_dir(root, "media", HEALTHY_POD, "kopia", uid="11111111-2222-3333-4444-555555555555")
    write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=50), HEALTHY_BACKUP))
    return root


@pytest.fixture
def small_gz_cap(monkeypatch):
    monkeypatch.setattr(gunzip_mod, "GZ_MIN_CAP", 256 << 10)
    monkeypatch.setattr(gunzip_mod, "GZ_RATIO", 16)


def test_a_gzip_bomb_stops_at_the_cap_and_says_so(tmp_path, small_gz_cap):
    root = gzip_bomb(tmp_path)
    gz = next(root.rglob("*.gz"))
    cap = max(256 << 10, 16 * gz.stat().st_size)
    text = gzip.decompress(gz.read_bytes())[:cap]
    lines = text.count(b"\n") + 1  # the last one cut short
    for in_memory in (True, False):
        a = analyze([str(root)], in_memory=in_memory)
        note = (
            f"decompressed size reached the cap of {cap:,} bytes (16x the compressed size, at "
            f"least {256 << 10:,}): read the first {lines:,} line(s), the rest not read"
        )
        assert a.inputs.skipped == [(str(gz), note)]
        assert a.inputs.lines == lines + 1 + len(HEALTHY_BACKUP)
        assert a.runs["outcome"].to_list() == ["hung", "completed"]
    # named explicitly it is read the same way (a cap is no damage)
    assert analyze([str(gz)]).inputs.skipped == [(str(gz), note)]


def test_a_small_gzip_holding_one_huge_line_reads_in_bounded_time(tmp_path):
    """64 MiB of one line in 64 KiB of gzip: read in seconds, its head kept."""
    path = tmp_path / "0.log.1.gz"
    stamp = b"2026-01-31T16:00:00.000000000Z stdout F "
    path.write_bytes(gzip.compress(stamp + b"A" * (64 << 20) + b"\n" + stamp + b"after\n", 9))
    started = time.monotonic()
    a = analyze([str(path)])
    assert time.monotonic() - started < 20
    assert a.inputs.lines == 2
    assert a.events["message"].to_list()[-1] == "after"
    assert (str(path), long_note(1, len(stamp) + (64 << 20) - decode_mod.MAX_LINE_BYTES)) in (
        a.inputs.skipped
    )


def xz_and_bzip2(root: Path) -> Path:
    """Rotated logs compressed with xz (logrotate's `compresscmd xz`) and with bzip2 in two
    streams (pbzip2, or two files `cat` together)."""
    d = cri_dir(root, "media", HUNG_POD, "kopia")
    hung = ("\n".join(cri_records(T0, [*HUNG_BACKUP, (0.9, "stderr", USERID)])) + "\n").encode()
    (d / "0.log.20260131-160000.xz").write_bytes(lzma.compress(hung))
    d = cri_dir(root, "media", HEALTHY_POD, "kopia", uid="11111111-2222-3333-4444-555555555555")
    lines = cri_records(T0 + timedelta(minutes=50), HEALTHY_BACKUP)
    half = len(lines) // 2
    parts = ["\n".join(lines[:half]) + "\n", "\n".join(lines[half:]) + "\n"]
    (d / "0.log.20260131-165000.bz2").write_bytes(b"".join(bz2.compress(p.encode()) for p in parts))
    return root


def test_xz_and_bzip2_are_read_like_gzip(tmp_path):
    root = xz_and_bzip2(tmp_path / "packed")
    plain = incident(tmp_path / "plain")
    a, want = analyze([str(root)]), analyze([str(plain)])
    assert a.inputs.skipped == [] and a.inputs.lines == want.inputs.lines
    assert a.runs.select("pod", "outcome", "duration_s").rows() == (
        want.runs.select("pod", "outcome", "duration_s").rows()
    )
    assert "unknown-userid" in a.findings["signature"].to_list()


def test_a_truncated_xz_file_is_skipped_with_its_reason(tmp_path):
    root = xz_and_bzip2(tmp_path)
    xz = next(root.rglob("*.xz"))
    xz.write_bytes(xz.read_bytes()[:-40])
    for in_memory in (True, False):
        a = analyze([str(root)], in_memory=in_memory)
        [(path, reason)] = a.inputs.skipped
        assert path == str(xz) and reason.startswith("truncated or corrupt xz file")
        assert a.runs["pod"].to_list() == [HEALTHY_POD]
    with pytest.raises(InputError, match="truncated or corrupt xz file"):
        read_files([str(xz)])


# --------------------------------------------------------------------------------------------
# 4. Encodings


def powershell_utf16(root: Path) -> Path:
    """`kubectl logs --timestamps pod > x.log` in Windows PowerShell 5: UTF-16LE with a
    byte-order mark and CRLF line ends; beside it the same output saved by Notepad (UTF-8
    with a BOM) and two files `cat` together, each with its BOM."""
    logs = [kubectl(T0 + timedelta(seconds=t), text) for t, _, text in HUNG_BACKUP]
    logs += [kubectl(T0 + timedelta(seconds=1), USERID)]
    text = "\r\n".join(logs) + "\r\n"
    (root / "ps").mkdir(parents=True)
    (root / "ps" / f"{HUNG_POD}.log").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    healthy = [kubectl(T0 + timedelta(minutes=50, seconds=t), m) for t, _, m in HEALTHY_BACKUP]
    half = len(healthy) // 2
    part = lambda lines: codecs.BOM_UTF8 + ("\n".join(lines) + "\n").encode()  # noqa: E731
    (root / "ps" / f"{HEALTHY_POD}.log").write_bytes(part(healthy[:half]) + part(healthy[half:]))
    return root


def test_utf16_and_byte_order_marks_are_read_like_utf8(tmp_path):
    root = powershell_utf16(tmp_path / "windows")
    plain = tmp_path / "plain"
    logs = [kubectl(T0 + timedelta(seconds=t), text) for t, _, text in HUNG_BACKUP]
    write_lines(plain / f"{HUNG_POD}.log", logs + [kubectl(T0 + timedelta(seconds=1), USERID)])
    healthy = [kubectl(T0 + timedelta(minutes=50, seconds=t), m) for t, _, m in HEALTHY_BACKUP]
    write_lines(plain / f"{HEALTHY_POD}.log", healthy)
    a, want = analyze([str(root)], in_memory=True), analyze([str(plain)], in_memory=True)
    assert a.inputs.skipped == [] and a.inputs.unparsed_lines == 0
    assert a.events["envelope"].unique().to_list() == ["kubectl"]
    assert a.events["message"].to_list() == want.events["message"].to_list()
    assert a.runs.select("pod", "outcome", "duration_s").rows() == (
        want.runs.select("pod", "outcome", "duration_s").rows()
    )


def test_a_utf16_file_without_a_bom_is_still_text(tmp_path):
    path = tmp_path / f"{HUNG_POD}.log"
    logs = [kubectl(T0 + timedelta(seconds=t), text) for t, _, text in HUNG_BACKUP]
    path.write_bytes(("\n".join(logs) + "\n").encode("utf-16-le"))
    raw, report = read_files([str(path)])
    assert raw["raw"].to_list() == logs and report.skipped == []


# --------------------------------------------------------------------------------------------
# 5. Deep trees


def _remove_tree(top: Path) -> None:
    """`shutil.rmtree` recurses once per level too: remove bottom-up, iteratively."""
    for root, dirs, files in _walk_bottom_up(top):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))
    os.rmdir(top)


def _walk_bottom_up(top: Path):
    order, stack = [], [str(top)]
    while stack:
        root = stack.pop()
        entries = list(os.scandir(root))
        dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        files = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
        order.append((root, dirs, files))
        stack += [os.path.join(root, d) for d in dirs]
    return reversed(order)


def test_a_tree_a_thousand_levels_deep_is_walked_and_globbed(tmp_path):
    top = tmp_path / "deep"
    deep = str(top) + "/d" * 1000
    current = str(top)
    os.mkdir(current)
    try:
        for _ in range(1000):  # os.makedirs recurses once per level as well
            current += "/d"
            os.mkdir(current)
        logs = (
            Path(deep)
            / "var/log/pods"
            / f"media_{HUNG_POD}_0f4c7b1e-2a3d-4c5b-8e9f-a1b2c3d4e5f6/kopia"
        )
        os.makedirs(logs)
        write_lines(logs / "0.log", cri_records(T0, [*HUNG_BACKUP, (0.9, "stderr", USERID)]))
        os.symlink(str(top), str(Path(deep) / "loop"))
        for given in (str(top), str(top) + "/**/*.log"):
            a = analyze([given])
            assert a.runs["pod"].to_list() == [HUNG_POD], given
            assert "unknown-userid" in a.findings["signature"].to_list()
        assert (str(Path(deep) / "loop"), "symlink loop") in analyze([str(top)]).inputs.skipped
    finally:
        _remove_tree(top)


# --------------------------------------------------------------------------------------------
# helpers shared with test_streaming.py


def damaged_corpus(root: Path, case: str) -> Path:
    """One damaged-input case of this module as files under `root`."""
    return DAMAGED[case](root)


DAMAGED = {
    "power-loss": lambda root: incident(root, power_loss),
    "long-lines": long_lines,
    "gzip-bomb": gzip_bomb,
    "utf16-and-boms": powershell_utf16,
    "xz-and-bzip2": xz_and_bzip2,
    "copytruncated-docker": copytruncated_docker,
    "describe-then-logs": describe_then_logs,
}
DAMAGED_CASES = sorted(DAMAGED)
