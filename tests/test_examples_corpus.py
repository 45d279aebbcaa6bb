"""The example corpus in `examples/` is what `scripts/generate_examples.py` writes, and it is sound.

1. Regenerating with the default seed gives byte-identical files (the corpus never drifts), all
   logs sit under `examples/logs/`, older pod logs are gzipped and the corpus stays under 5 MB.
2. `ground-truth.json` agrees with itself and with the log files it points at.
3. Every line of every envelope, plain or gzipped, has the shape formats.md gives it.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
LOGS = EXAMPLES / "logs"
#: The generator, run as a module from ROOT so that it imports `testing` without an install.
GENERATE = [sys.executable, "-m", "scripts.generate_examples"]
GENERATED = ("logs", "ground-truth.json")
LOG_KINDS = {"nodes", "kubectl", "cache", "kube"}
HAND_WRITTEN = {"README.md"}
GZIP_MAGIC = b"\x1f\x8b"
#: Pod logs of runs starting before this are gzipped (the generator's ARCHIVE_BEFORE).
ARCHIVE_BEFORE = "2026-01-30T12:00:00.000Z"
#: The project's limit for the committed corpus (apparent size of every file under examples/).
SIZE_LIMIT = 5_000_000

CRI_RE = re.compile(r"^(\S+) (stdout|stderr) (F|P) (.*)$")
CRI_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")
CLI_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (DEBUG|INFO|WARN|ERROR) \S+ .*$")
KUBECTL_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")
CRI_MAX_LINE = 16384


def tree(root: Path) -> dict[str, bytes]:
    files = {}
    for name in GENERATED:
        top = root / name
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def read_text(path: Path) -> str:
    """A file's text; gzip is recognised by its magic bytes, not by the name."""
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    return data.decode()


def pod_log_files(kind: str) -> list[Path]:
    """Every pod log of one kind (`nodes` for CRI, `kubectl`), plain, rotated and gzipped."""
    paths = sorted(p for p in (LOGS / kind).rglob("*") if p.is_file())
    assert paths, f"no files under {LOGS / kind}"
    name_re = r"\d+\.log(\.\d{8}-\d{6})?(\.gz)?" if kind == "nodes" else r"[a-z0-9-]+\.log(\.gz)?"
    for path in paths:
        assert re.fullmatch(name_re, path.name), f"{path}: not a pod-log name"
    return paths


def cri_lines(path: Path) -> list[tuple[str, str, str]]:
    """(timestamp of the first record, stream, content) per logical line, partials re-joined."""
    lines = []
    pending: tuple[str, str, list[str]] | None = None
    for record in read_text(path).splitlines():
        match = CRI_RE.match(record)
        assert match, f"{path}: not a CRI record: {record[:120]!r}"
        ts, stream, tag, content = match.groups()
        if pending is None:
            pending = (ts, stream, [])
        pending[2].append(content)
        if tag == "F":
            lines.append((pending[0], pending[1], "".join(pending[2])))
            pending = None
    assert pending is None, f"{path}: ends with a P record"
    return lines


def pod_log_lines(rel_paths: list[str]) -> list[tuple[str, str]]:
    """(timestamp, content) of a run's pod logs in order (rotated .gz first, restarts after)."""
    out = []
    for rel in rel_paths:
        path = EXAMPLES / rel
        if rel.startswith("logs/kubectl/"):
            for line in read_text(path).splitlines():
                match = KUBECTL_RE.match(line)
                assert match, f"{rel}: {line[:120]!r}"
                out.append(match.groups())
        else:
            out += [(ts, content) for ts, _, content in cri_lines(path)]
    return out


def ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC3339 UTC timestamp with any number of digits."""
    head, _, frac = text.rstrip("Z").partition(".")
    return int(parse_time(head + "Z").timestamp()) * 10**9 + int((frac + "0" * 9)[:9])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ms(text: str) -> int:
    """Milliseconds since the epoch, truncating any finer fraction."""
    head, _, frac = text.rstrip("Z").partition(".")
    whole = int(parse_time(head + "Z").timestamp())
    return whole * 1000 + int((frac + "000")[:3])


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((EXAMPLES / "ground-truth.json").read_text())


# 1. ----------------------------------------------------------------------------------------------


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    out = tmp_path / "examples"
    subprocess.run(
        [*GENERATE, "--out", str(out), "--seed", "20260131", "--quiet"],
        check=True,
        cwd=ROOT,
    )
    fresh = tree(out)
    committed = tree(EXAMPLES)
    assert sorted(fresh) == sorted(committed), "file lists differ: rerun the generator"
    changed = [rel for rel in fresh if fresh[rel] != committed[rel]]
    assert not changed, f"{len(changed)} files differ, e.g. {changed[:3]}: rerun the generator"
    strays = {p.name for p in EXAMPLES.iterdir()} - set(GENERATED) - HAND_WRITTEN
    assert not strays, f"unexpected entries in examples/: {sorted(strays)}"
    assert {p.name for p in LOGS.iterdir()} == LOG_KINDS


def test_generation_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run(
            [*GENERATE, "--out", str(tmp_path / name), "--seed", "7", "--quiet"],
            check=True,
            cwd=ROOT,
        )
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_older_pod_logs_are_gzipped(truth: dict) -> None:
    plain = gzipped = 0
    for run in truth["runs"]:
        archived = ms(run["start"]) < ms(ARCHIVE_BEFORE)
        for rel in run["pod_logs"]:
            assert rel.startswith(("logs/nodes/", "logs/kubectl/")), rel
            data = (EXAMPLES / rel).read_bytes()
            is_gz = data[:2] == GZIP_MAGIC
            assert is_gz == rel.endswith(".gz"), f"{rel}: name and content disagree"
            if is_gz:
                assert data[4:8] == b"\0\0\0\0", f"{rel}: gzip mtime is not zero"
                gzipped += 1
            else:
                plain += 1
            if re.search(r"\.log\.\d{8}-\d{6}\.gz$", rel):  # containerd rotation
                continue
            if re.search(r"/0\.log$", rel) and any(
                re.search(r"\.log\.\d{8}-\d{6}\.gz$", other) for other in run["pod_logs"]
            ):
                continue  # the live file of a rotated pair stays plain
            assert is_gz == archived, f"{rel}: gzipped={is_gz}, run start {run['start']}"
        for rel in run["cli_logs"]:
            assert rel.startswith("logs/cache/") and rel.endswith(".log"), rel
            assert (EXAMPLES / rel).read_bytes()[:2] != GZIP_MAGIC, rel
    assert plain and gzipped


def test_corpus_fits_the_size_limit() -> None:
    total = sum(p.stat().st_size for p in EXAMPLES.rglob("*") if p.is_file())
    assert total < SIZE_LIMIT, f"examples/ holds {total:,} bytes, limit {SIZE_LIMIT:,}"


# 2. ----------------------------------------------------------------------------------------------


def test_runs_are_self_consistent(truth: dict) -> None:
    runs = truth["runs"]
    assert runs
    for run in runs:
        start = ms(run["start"])
        if run["outcome"] == "hung":
            assert run["end"] is None, run["pod"]
            assert run["exit_code"] is None, run["pod"]
            assert run["duration_is_lower_bound"] is True, run["pod"]
        else:
            assert run["end"] is not None, run["pod"]
            assert run["duration_seconds"] == (ms(run["end"]) - start) / 1000, run["pod"]
            if run["outcome"] == "completed":
                assert run["exit_code"] == 0, run["pod"]
            else:
                assert run["outcome"] == "failed", run["pod"]
                assert isinstance(run["exit_code"], int) and run["exit_code"] != 0, run["pod"]
        assert run["duration_seconds"] > 0, run["pod"]
        for key in ("start", "end"):
            if run[key] is not None:
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", run[key])


def test_hung_durations_reach_the_replacement(truth: dict) -> None:
    by_rs: dict[str, list[dict]] = {}
    for run in truth["runs"]:
        by_rs.setdefault(run["replication_source"], []).append(run)
    for runs in by_rs.values():
        runs.sort(key=lambda r: r["start"])
        for run, nxt in zip(runs, runs[1:] + [None], strict=True):
            if run["outcome"] != "hung" or run["role"] != "source":
                continue
            assert run["duration_basis"] == "replacement_start"
            assert nxt is not None
            assert run["duration_seconds"] == (ms(nxt["start"]) - ms(run["start"])) / 1000
            gap = ms(nxt["start"]) - ms(run["killed_at"])
            assert 0 < gap < 1000, run["pod"]


def test_runs_match_their_logs(truth: dict) -> None:
    for run in truth["runs"]:
        lines = pod_log_lines(run["pod_logs"])
        assert lines[0][1] == "Starting kopia mover container", run["pod"]
        assert ms(lines[0][0]) == ms(run["start"]), run["pod"]
        contents = [content for _, content in lines]
        if run["outcome"] == "hung":
            assert "INFO: === Done ===" not in contents, run["pod"]
        else:
            assert contents[-1] == "INFO: === Done ===", run["pod"]
            assert ms(lines[-1][0]) == ms(run["end"]), run["pod"]
            assert f"INFO: EXIT_CODE: {run['exit_code']}" in contents, run["pod"]
        for rel in run["cli_logs"]:
            assert (EXAMPLES / rel).is_file(), rel


def test_story_shape(truth: dict) -> None:
    fix = ms(truth["fix_at"])
    source_runs = [r for r in truth["runs"] if r["role"] == "source"]
    assert len({r["replication_source"] for r in source_runs}) >= 7
    assert all(r["outcome"] == "hung" for r in source_runs if ms(r["start"]) < fix)
    after = [r for r in source_runs if ms(r["start"]) >= fix]
    assert all(r["outcome"] != "hung" for r in after)
    failed = [r for r in after if r["outcome"] == "failed"]
    assert [r["replication_source"] for r in failed] == ["paperless", "paperless"]
    assert all(30 <= r["duration_seconds"] <= 90 for r in after if r["outcome"] == "completed")
    maint = [r for r in truth["runs"] if r["role"] == "maintenance"]
    assert [r["outcome"] for r in maint] == ["hung", "failed", "completed", "completed"]
    assert maint[1]["restarts"] == 1 and maint[1]["exit_code"] == 1


def test_signature_counts_match_the_files(truth: dict) -> None:
    needles = {
        "unknown-userid": "Cannot determine current user: user: unknown userid",
        "requires-cgo-or-user": "Cannot determine current user: user: Current requires cgo or $USER",
        "whoami-unknown-uid": "whoami: cannot find name for user ID 1000",
        "permission-denied": "open /repository/.shards: permission denied",
        "found-existing-data": "found existing data in storage location",
    }
    texts = []
    for run in truth["runs"]:
        texts += [content for _, content in pod_log_lines(run["pod_logs"])]
    for path in sorted((LOGS / "cache").rglob("*.log")):
        texts += read_text(path).splitlines()
    counts = {key: sum(needle in text for text in texts) for key, needle in needles.items()}
    assert counts == truth["signature_lines"]
    assert all(counts.values())
    assert "Cannot determine current user" not in "\n".join(
        content
        for run in truth["runs"]
        if ms(run["start"]) >= ms(truth["fix_at"])
        for _, content in pod_log_lines(run["pod_logs"])
    )


def test_kube_dumps_agree_with_the_runs(truth: dict) -> None:
    rs_list = json.loads((LOGS / "kube" / "replicationsources.json").read_text())
    pods = json.loads((LOGS / "kube" / "pods-jobs.json").read_text())
    last = {}
    for run in truth["runs"]:
        last[run["replication_source"]] = run
    pod_names = {i["metadata"]["name"] for i in pods["items"] if i["kind"] == "Pod"}
    assert pod_names == {run["pod"] for run in last.values()}
    for item in rs_list["items"]:
        run = last[item["metadata"]["name"]]
        status = item["status"]
        assert ms(status["lastSyncTime"]) >= ms(run["end"]) // 1000 * 1000
        logs = status["latestMoverStatus"]["logs"]
        full = "\n".join(content for _, content in pod_log_lines(run["pod_logs"]))
        assert len(logs.encode()) <= 1024 and full.endswith(logs)
        assert item["spec"]["kopia"]["moverSecurityContext"]["runAsUser"] == 1000


# 3. ----------------------------------------------------------------------------------------------


def test_every_pod_log_is_in_the_ground_truth(truth: dict) -> None:
    on_disk = {
        p.relative_to(EXAMPLES).as_posix()
        for kind in ("nodes", "kubectl")
        for p in pod_log_files(kind)
    }
    listed = [rel for run in truth["runs"] for rel in run["pod_logs"]]
    assert len(listed) == len(set(listed))
    assert on_disk == set(listed)
    cli_on_disk = {
        p.relative_to(EXAMPLES).as_posix() for p in (LOGS / "cache").rglob("*") if p.is_file()
    }
    assert cli_on_disk == {rel for run in truth["runs"] for rel in run["cli_logs"]}


def test_cri_lines_match_the_cri_format() -> None:
    paths = pod_log_files("nodes")
    assert any(p.name.endswith(".log") for p in paths)
    assert any(p.name.endswith(".log.gz") for p in paths)
    assert any(re.search(r"\.log\.\d{8}-\d{6}\.gz$", p.name) for p in paths)
    long_lines = 0
    for path in paths:
        for record in read_text(path).splitlines():
            match = CRI_RE.match(record)
            assert match, f"{path}: {record[:120]!r}"
            assert CRI_TIME_RE.match(match.group(1)), f"{path}: {match.group(1)}"
            assert len(match.group(4).encode()) <= CRI_MAX_LINE
        stamps = [ns(ts) for ts, _, _ in cri_lines(path)]
        assert stamps == sorted(stamps), f"{path}: timestamps go backwards"
        long_lines += sum(len(c.encode()) > CRI_MAX_LINE for _, _, c in cri_lines(path))
    assert long_lines >= 3


def test_kubectl_lines_match_the_timestamps_format() -> None:
    paths = pod_log_files("kubectl")
    assert any(p.name.endswith(".log") for p in paths)
    assert any(p.name.endswith(".log.gz") for p in paths)
    for path in paths:
        stamps = []
        for line in read_text(path).splitlines():
            match = KUBECTL_RE.match(line)
            assert match, f"{path}: {line[:120]!r}"
            stamps.append(match.group(1))
        assert stamps == sorted(stamps), f"{path}: timestamps go backwards"


def test_cli_log_lines_match_the_kopia_format() -> None:
    paths = sorted(p for p in (LOGS / "cache").rglob("*") if p.is_file())
    assert paths
    name_re = re.compile(r"^kopia-\d{8}-\d{6}-\d+-[a-z-]+\.0\.log$")
    for path in paths:
        assert name_re.match(path.name), path.name
        assert path.parent.name == "cli-logs"
        lines = read_text(path).splitlines()
        assert lines, path
        for line in lines:
            assert CLI_RE.match(line), f"{path}: {line[:120]!r}"
        assert lines == sorted(lines), f"{path}: timestamps go backwards"
