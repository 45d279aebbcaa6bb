"""Unrecognised errors end to end: templates in the report and JSON, promoted to a pattern."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from conftest import HEALTHY_BACKUP, T0, cri_dir, cri_records, write_lines

from analyzer.cli import main

NEW_ERRORS = [
    "unable to find snapshots by root k5f3d0c2a9e8b7d6c5b4a392817{i:05x}",
    "can't change file permissions: chmod /repository/p4c/8e1/p4c8e1aa{i:04x}f0.f: invalid argument",
    "error running snapshot gc: unable to load manifest 7c9e4b1d2a3f40516273849a0b1{i:05x}: unexpected EOF",
]


def write_corpus(root, fix_after: int = 99):
    for i in range(7):
        lines = list(HEALTHY_BACKUP[:-1])
        for k, template in enumerate(NEW_ERRORS[: 1 + (i % 3)]):
            lines.append((20.0 + k, "stderr", template.format(i=i + 1)))
        lines.append(HEALTHY_BACKUP[-1])
        d = cri_dir(
            root,
            "media",
            f"volsync-src-app-{i:05d}",
            "kopia",
            uid=f"{i:08d}-1111-2222-3333-444444444444",
        )
        write_lines(d / "0.log", cri_records(T0 + timedelta(hours=i), lines))


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_unknown_errors_become_one_template_per_kind_with_counts(tmp_path):
    write_corpus(tmp_path)
    data = json.loads(cli("--format", "json", str(tmp_path)).stdout)
    by_count = sorted((u["count"], u["template"]) for u in data["unclassified"])
    counts = [c for c, _ in by_count]
    assert counts == [2, 4, 7], by_count  # kinds 3, 2 and 1 appear in 2, 4 and 7 pods
    templates = " | ".join(t for _, t in by_count)
    assert "unable to find snapshots by root" in templates and "unexpected EOF" in templates
    # catalogued lines never show up as unrecognised
    assert not any("whoami" in u["template"] for u in data["unclassified"])


def test_a_starter_pattern_passes_its_test_and_then_matches(tmp_path):
    logs, mine = tmp_path / "logs", tmp_path / "mine"
    write_corpus(logs)
    mine.mkdir()
    result = cli("--starter-pattern", "1", str(logs))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    import yaml

    pid = yaml.safe_load(text)["id"]
    (mine / f"{pid}.yaml").write_text(text)
    tested = cli("--test-patterns", str(mine))  # its examples pass; the TODO prose does not
    assert tested.exit_code == 1 and "0 failed, 3 TODO field(s)" in tested.stdout, tested.stdout
    written = {"meaning": "M.", "why": "W.", "fix": "F."}
    (mine / f"{pid}.yaml").write_text(yaml.safe_dump({**yaml.safe_load(text), **written}))
    tested = cli("--test-patterns", str(mine))
    assert tested.exit_code == 0 and " 0 failed" in tested.stdout, tested.stdout
    data = json.loads(cli("--format", "json", "--patterns", str(mine), str(logs)).stdout)
    finding = next(f for f in data["findings"] if f["id"] == pid)
    assert finding["count"] == 7
    assert [u["count"] for u in data["unclassified"]] == [4, 2]


def test_markdown_lists_unrecognised_errors(tmp_path):
    write_corpus(tmp_path)
    md = cli(str(tmp_path)).stdout
    part = md.split("**Unrecognised errors**", 1)[1]
    assert "| 7 |" in part and "unable to find snapshots by root" in part


def test_kopia_debug_lines_saying_there_was_no_error_are_no_problem():
    import polars as pl

    from analyzer.templates import problem_lines

    messages = [
        'DEBUG kopia/repo completed GetBlob {"blobID":"q1f0","length":4096,"error":null,"dur":"1ms"}',
        "DEBUG kopia/format writing format blob err=<nil>",
        'DEBUG kopia/repo completed GetBlob {"blobID":"q1f0","error":"BLOB not found"}',
    ]
    events = pl.DataFrame({"message": messages, "level": ["DEBUG"] * 3, "stream": ["stderr"] * 3})
    found = problem_lines(events)["message"].to_list()
    assert found == [messages[2]]
