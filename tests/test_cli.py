"""The command line: bad input gets one line naming the path or flag and exit 2, never a traceback."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from click.testing import CliRunner
from conftest import (
    cri_dir,
    hung_then_healthy,
    one_line_error,
    write_lines,
)

from analyzer.cli import main


def run_cli(*args: str, input: bytes | None = None):
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


@pytest.fixture
def logs(tmp_path):
    return hung_then_healthy(tmp_path)


def test_missing_path(tmp_path):
    one_line_error(run_cli(str(tmp_path / "nope.log")), "nope.log", "no such file")


def test_directory_with_no_logs(tmp_path):
    (tmp_path / "notes.md").write_text("hello")
    one_line_error(run_cli(str(tmp_path)), str(tmp_path), "no log files")


def test_binary_file(tmp_path):
    path = tmp_path / "core.log"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50)
    one_line_error(run_cli(str(path)), "core.log", "binary file")


def test_truncated_gzip(tmp_path):
    data = gzip.compress(
        b"2026-01-31T16:00:03.412Z stdout F Starting kopia mover container\n" * 200
    )
    path = tmp_path / "0.log.20260131-160000.gz"
    path.write_bytes(data[: len(data) // 2])
    one_line_error(run_cli(str(path)), "0.log.20260131-160000.gz", "truncated or corrupt gzip")


def test_unreadable_file(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = write_lines(tmp_path / "x.log", ["a"])
    path.chmod(0)
    one_line_error(run_cli(str(path)), "x.log", "cannot read")


def test_unknown_since_unit(logs):
    one_line_error(run_cli("--since", "5x", str(logs)), "--since", "'5x'")


def test_until_before_window_start(logs):
    one_line_error(
        run_cli("--from", "2026-01-31T00:00:00Z", "--until", "2026-01-30T00:00:00Z", str(logs)),
        "--until",
    )


def test_bad_fix_at_and_hang_after(logs):
    one_line_error(run_cli("--fix-at", "tuesday", str(logs)), "--fix-at")
    one_line_error(run_cli("--hang-after", "soon", str(logs)), "--hang-after")


def test_unknown_flag_is_a_usage_error(logs):
    result = run_cli("--sinze", "1h", str(logs))
    assert result.exit_code == 2 and "No such option" in result.stderr


def test_broken_user_pattern_dir(logs, tmp_path):
    pdir = tmp_path / "mine"
    pdir.mkdir()
    (pdir / "x.yaml").write_text("id: x\ntitle: [unclosed\n")
    one_line_error(run_cli("--patterns", str(pdir), str(logs)), "x.yaml", "malformed YAML")


def test_undecodable_lines_are_counted_not_fatal(logs):
    d = cri_dir(
        logs,
        "media",
        "volsync-src-recyclarr-ccccc",
        "kopia",
        uid="22222222-2222-3333-4444-555555555555",
    )
    (d / "0.log").write_bytes(
        b"2026-01-31T18:00:00Z stdout F Starting kopia mover container\n\xff\xfe\x80 broken\n"
    )
    result = run_cli("--format", "json", str(logs))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inputs"]["unparsed_lines"] == 1


def test_report_goes_to_stdout_and_nothing_else(logs):
    result = run_cli(str(logs))
    assert result.exit_code == 0
    assert result.stdout.startswith("# VolSync mover postmortem")
    assert result.stderr == ""


def test_list_and_test_patterns():
    result = run_cli("--list-patterns")
    assert result.exit_code == 0
    assert any(
        line.startswith("unknown-userid ") and "critical" in line
        for line in result.stdout.splitlines()
    )
    from analyzer.catalog import builtin_patterns_dir

    result = run_cli("--test-patterns", str(builtin_patterns_dir()))
    assert result.exit_code == 0 and " 0 failed" in result.stdout


def test_test_patterns_prints_each_failing_example(tmp_path):
    from test_catalog import GOOD, write_pattern

    write_pattern(
        tmp_path,
        GOOD.format(id="ro-fs").replace(
            "- 'Connected to repository.'", "- 'write /y: read-only file system'"
        ),
        "ro-fs",
    )
    result = run_cli("--test-patterns", str(tmp_path))
    assert result.exit_code == 1
    assert (
        "examples.no_match: matched but must not: 'write /y: read-only file system'"
        in result.stdout
    )
    assert "3 passed, 1 failed" in result.stdout


def test_help_lists_every_flag_and_the_readme_documents_it():
    """Like sqlite-utils' test_docs: a flag cannot be added, renamed or dropped unnoticed."""
    from conftest import REPO

    helptext = run_cli("--help").stdout
    readme = (REPO / "README.md").read_text()
    flags = [opt for param in main.params for opt in param.opts if opt.startswith("-")]
    assert len(flags) == 52  # 44 options, 8 of them with a second spelling
    for param in main.params:
        for flag in (opt for opt in param.opts if opt.startswith("-")):
            shown = re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helptext)
            assert bool(shown) != bool(getattr(param, "hidden", False)), flag
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", readme), flag
