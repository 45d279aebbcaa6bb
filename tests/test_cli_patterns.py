"""Writing your own patterns (issue 16): the README's three steps as written, TODO fields failing
`--test-patterns`, folders that are not there, the shipped schema, `--list-patterns -o json`, and
a verbose-mode regex that streams like any other."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO, hung_then_healthy, one_line_error

from analyzer import cli
from analyzer.analysis import file_filter, pushdown_filters
from analyzer.catalog import load_catalog, load_dir, pattern_schema, plain


def run_cli(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_the_readme_three_steps_work_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    mine = tmp_path / "mine"
    mine.mkdir()
    starter = run_cli("examples/logs/", "--starter-pattern", "1")
    assert starter.exit_code == 0, starter.output
    (mine / "new-error.yaml").write_text(starter.stdout)
    assert re.search(r"^# First seen \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, ", starter.stdout, re.M)
    sid = yaml.safe_load(starter.stdout)["id"]

    untouched = run_cli("--test-patterns", str(mine))
    assert untouched.exit_code == 1
    todo = [line for line in untouched.stdout.splitlines() if "TODO placeholder" in line]
    assert {re.search(r"field '(\w+)'", line)[1] for line in todo} == {"meaning", "why", "fix"}
    assert f"field 'id' is {sid!r} but the file is named new-error.yaml" in untouched.stderr

    doc = yaml.safe_load(starter.stdout)
    doc.update(meaning="The mover expected a user.", why="Config.", fix="Set it.")
    (mine / "new-error.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    filled = run_cli("--test-patterns", str(mine))
    assert filled.exit_code == 0, filled.output
    assert " 0 failed: 1 pattern file(s)" in filled.stdout

    report = CliRunner().invoke(
        cli.main, ["examples/logs/", "--patterns", str(mine), "-o", "json"], catch_exceptions=False
    )
    assert report.exit_code == 0
    assert sid in {f["id"] for f in json.loads(report.stdout)["findings"]}
    assert "the file is named new-error.yaml" in report.stderr


def test_built_in_patterns_still_need_their_file_name(tmp_path):
    from test_catalog import GOOD, write_pattern

    write_pattern(tmp_path, GOOD.format(id="ro-fs"), "other-name")
    warnings: list[str] = []
    assert [s.id for s in load_dir(tmp_path, warnings=warnings)] == ["ro-fs"]
    assert len(warnings) == 1 and "other-name.yaml" in warnings[0]


def test_test_patterns_on_an_empty_or_missing_folder_names_the_flag(tmp_path):
    one_line_error(run_cli("--test-patterns", str(tmp_path)), "--test-patterns", "no pattern")
    one_line_error(run_cli("--test-patterns", str(tmp_path / "no")), "--test-patterns", "exist")


def test_pattern_schema_prints_the_shipped_schema():
    result = run_cli("--pattern-schema")
    assert result.exit_code == 0
    shipped = json.loads((REPO / "patterns" / "pattern.schema.json").read_text())
    assert json.loads(result.stdout) == shipped == pattern_schema()


def test_list_patterns_as_json(tmp_path):
    from test_catalog import GOOD, write_pattern

    write_pattern(tmp_path, GOOD.format(id="unknown-userid"), "unknown-userid")
    result = run_cli("--list-patterns", "-o", "json", "--patterns", str(tmp_path))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    rows = {row["id"]: row for row in data["patterns"]}
    assert set(rows) == {s.id for s in load_catalog().signatures}
    assert rows["unknown-userid"]["replaces_builtin"] is True
    assert rows["unknown-userid"]["path"].startswith(str(tmp_path))
    assert data["generator"]["catalog"]["user_patterns"] == 1


VERBOSE = """\
id: ro-fs
title: Kopia gave up writing to a read-only filesystem
severity: high
category: environmental
regex:
  - |
    (?x)
    write \\s (?P<path>\\S+) :   # the file Kopia tried to write
    \\ read-only \\ file \\ system  # the errno text
meaning: The repository volume is mounted read-only.
why: The export is read-only.
fix: Mount it read-write.
examples:
  match:
    - 'write /repository/p/x.f: read-only file system'
  no_match:
    - 'Connected to repository.'
"""


def test_plain_takes_verbose_mode_out():
    assert plain("(?x) a b # c\n d") == "abd"
    assert plain("(?ix) [a b] \\# x") == "(?i)[ab]\\#x"
    assert plain("(?i)a b") == "(?i)a b"


#: The same regex on one line: its `# comment` runs to the end of the text, so joined into an
#: alternation as `(?x:...)` it swallowed the closing parenthesis (the streaming keep regex
#: failed to compile and the analysis died with a polars traceback).
ONE_LINE = VERBOSE.replace(
    "  - |\n    (?x)\n    write \\s (?P<path>\\S+) :   # the file Kopia tried to write\n"
    "    \\ read-only \\ file \\ system  # the errno text\n",
    "  - '(?x) write \\s (?P<path>\\S+) : \\ read-only \\ file \\ system # the errno text'\n",
)


@pytest.mark.parametrize("text", [VERBOSE, ONE_LINE], ids=["block", "one-line"])
def test_a_verbose_pattern_with_a_comment_tests_streams_and_pushes_down(tmp_path, text):
    assert text.count("(?x)") == 1 and "'(?x)" in ONE_LINE
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "ro-fs.yaml").write_text(text)
    tested = run_cli("--test-patterns", str(mine))
    assert tested.exit_code == 0, tested.output
    sigs = load_dir(mine)
    assert sigs[0].regex == ("write\\s(?P<path>\\S+):\\ read-only\\ file\\ system",)
    assert all("(?x" not in rx for rx in pushdown_filters(sigs))
    assert "(?x" not in file_filter(sigs)

    from conftest import HUNG_BACKUP

    logs = hung_then_healthy(
        tmp_path / "logs",
        [*HUNG_BACKUP[:-1], (30, "stderr", "write /repo/p/x.f: read-only file system")],
    )
    for mode in ([], ["--in-memory"]):
        result = run_cli(str(logs), "--patterns", str(mine), "-o", "json", *mode)
        assert result.exit_code == 0, result.output
        findings = {f["id"]: f["count"] for f in json.loads(result.stdout)["findings"]}
        assert findings.get("ro-fs") == 1, (mode, findings)


def test_verbose_mode_turned_on_later_is_a_one_line_error(tmp_path):
    (tmp_path / "ro-fs.yaml").write_text(VERBOSE.replace("    (?x)\n    write", "    write (?x)"))
    one_line_error(run_cli("--test-patterns", str(tmp_path)), "ro-fs.yaml", "regex[0]", "(?x)")
