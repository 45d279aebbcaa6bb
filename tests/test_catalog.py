"""The pattern catalog: every file's own examples, the loader's errors, user overrides, matching."""

from __future__ import annotations

import textwrap
from pathlib import Path

import polars as pl
import pytest

from analyzer import catalog
from analyzer.catalog import CatalogError, check_examples, load_catalog, load_dir, match_events

GOOD = textwrap.dedent(
    """\
    id: {id}
    title: Kopia gave up writing a blob to a read-only filesystem
    severity: high
    category: environmental
    regex:
      - 'write (?P<path>\\S+): read-only file system'
    meaning: The repository volume is mounted read-only.
    why: The NFS export or the PVC is read-only for the mover.
    fix: Mount the repository read-write.
    examples:
      match:
        - 'can''t write temporary file: write /repository/p4c/8e1/x.f.tmp.5e0c: read-only file system'
        - 'write /mnt/repo/q1/x.f: read-only file system'
      no_match:
        - 'Connected to repository.'
        - 'open /repository/.shards: permission denied'
    """
)


def write_pattern(directory: Path, text: str, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def test_every_builtin_pattern_passes_its_own_examples():
    sigs = load_dir(catalog.builtin_patterns_dir())
    assert len(sigs) >= 20
    failures = check_examples(sigs)
    assert failures == [], "\n".join(map(str, failures))


def test_builtin_catalog_has_the_user_lookup_signatures():
    by_id = load_catalog().by_id()
    for sid in ("unknown-userid", "requires-cgo-or-user"):
        assert by_id[sid].category == "root-cause"
        assert by_id[sid].hang
        assert by_id[sid].criterion == "No user lookup errors in kopia logs"
    assert by_id["whoami-unknown-uid"].blocks_signoff is False


def test_a_failing_example_is_reported_with_file_and_line(tmp_path):
    text = GOOD.format(id="ro-fs").replace(
        "- 'Connected to repository.'", "- 'write /x: read-only file system'"
    )
    write_pattern(tmp_path, text, "ro-fs")
    failures = check_examples(load_dir(tmp_path))
    assert [str(f) for f in failures] == [
        f"{tmp_path / 'ro-fs.yaml'}: examples.no_match: matched but must not: 'write /x: read-only file system'"
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t.replace("severity: high", "severity: urgent"),
            r"ro-fs.yaml: field 'severity' must be one of",
        ),
        (lambda t: t + "colour: red\n", r"ro-fs.yaml: unknown key 'colour'"),
        (
            lambda t: t.replace(
                "'write (?P<path>\\S+): read-only file system'", "'write (?P<path>\\S+: read-only'"
            ),
            r"ro-fs.yaml: field 'regex\[0\]' does not compile",
        ),
        (
            lambda t: t.replace("'write (?P<path>\\S+): read-only file system'", "'(?<=write )x'"),
            r"field 'regex\[0\]' does not compile",
        ),
        (
            lambda t: t.replace("meaning: The repository volume is mounted read-only.\n", ""),
            r"missing required field 'meaning'",
        ),
        (lambda t: t.replace("id: ro-fs", "id: Ro_FS"), r"field 'id' must be kebab-case"),
        (lambda t: t.replace("  match:", "  matches:"), r"field 'examples' must have only"),
        (
            lambda t: t.replace("title: Kopia", "title: [Kopia"),
            r"ro-fs.yaml: line \d+: malformed YAML",
        ),
    ],
)
def test_broken_pattern_files_give_one_line_errors(tmp_path, mutate, message):
    write_pattern(tmp_path, mutate(GOOD.format(id="ro-fs")), "ro-fs")
    with pytest.raises(CatalogError, match=message) as info:
        load_dir(tmp_path)
    assert "\n" not in str(info.value)


def test_file_name_must_equal_id(tmp_path):
    write_pattern(tmp_path, GOOD.format(id="ro-fs"), "other-name")
    with pytest.raises(
        CatalogError, match="field 'id' is 'ro-fs' but the file is named other-name.yaml"
    ):
        load_dir(tmp_path)


def test_user_directory_overrides_a_builtin_id_and_adds_new_ones(tmp_path):
    override = (
        GOOD.format(id="unknown-userid")
        .replace("'write (?P<path>\\S+): read-only file system'", "'unknown userid (?P<uid>\\d+)'")
        .replace(
            "- 'can''t write temporary file: write /repository/p4c/8e1/x.f.tmp.5e0c: read-only file system'\n        - 'write /mnt/repo/q1/x.f: read-only file system'",
            "- 'user: unknown userid 1000'\n        - 'unknown userid 568'",
        )
        .replace("- 'open /repository/.shards: permission denied'", "- 'requires cgo'")
    )
    write_pattern(tmp_path, override, "unknown-userid")
    write_pattern(tmp_path, GOOD.format(id="ro-fs"), "ro-fs")
    cat = load_catalog([tmp_path])
    by_id = cat.by_id()
    assert by_id["unknown-userid"].title.startswith("Kopia gave up writing")
    assert by_id["unknown-userid"].path == str(tmp_path / "unknown-userid.yaml")
    assert "ro-fs" in by_id and "requires-cgo-or-user" in by_id
    assert cat.overridden == [("unknown-userid", str(tmp_path / "unknown-userid.yaml"))]


def test_matching_extracts_fields_and_honours_conditions():
    sigs = load_catalog().signatures
    events = pl.DataFrame(
        {
            "event_id": [0, 1, 2, 3],
            "message": [
                "Cannot determine current user: user: unknown userid 1000",
                "Cannot determine current user: user: Current requires cgo or $USER set in environment",
                "Connected to repository.",
                "whoami: cannot find name for user ID 568",
            ],
            "container": ["kopia"] * 4,
            "role": ["source"] * 4,
            "level": [None, None, None, None],
        },
        schema_overrides={"event_id": pl.Int64, "level": pl.String},
    )
    m = match_events(events, sigs)
    got = {(r["event_id"], r["signature"]) for r in m.iter_rows(named=True)}
    assert (
        (0, "unknown-userid") in got
        and (1, "requires-cgo-or-user") in got
        and (3, "whoami-unknown-uid") in got
    )
    assert not any(e == 2 for e, _ in got)
    assert (0, "requires-cgo-or-user") not in got and (1, "unknown-userid") not in got
    uid = (
        m.filter(pl.col("signature") == "whoami-unknown-uid")["fields"]
        .str.json_path_match("$.uid")
        .item()
    )
    assert uid == "568"


def test_catalog_texts_render_without_raw_html():
    """Pattern texts are Markdown that lands in reports: placeholders like <uid> belong in code."""
    from analyzer.markdown_safe import check_markdown

    problems = []
    for sig in load_catalog().signatures:
        texts = {"meaning": sig.meaning, "why": sig.why, "fix": sig.fix}
        texts.update(
            {
                f"alternatives[{i}]": a.body + "\n\n" + a.tradeoff
                for i, a in enumerate(sig.alternatives)
            }
        )
        for field, text in texts.items():
            problems += [f"{sig.path}: {field}: {p}" for p in check_markdown(text)]
    assert problems == []
