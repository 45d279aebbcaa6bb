"""The pattern catalog: every file's own examples and schema, the field guide, the loader's
errors, user overrides, matching, and the catalog-wide rules (root causes stay apart)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import pytest
import yaml

from analyzer import catalog, inference
from analyzer.catalog import (
    CatalogError,
    Signature,
    check_examples,
    load_catalog,
    load_dir,
    match_events,
)

PATTERN_FILES = sorted(catalog.builtin_patterns_dir().glob("*.yaml"))
PATTERN_IDS = [path.stem for path in PATTERN_FILES]
README = catalog.builtin_patterns_dir() / "README.md"

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


def read_document(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# Each built-in file on its own (ruff's one test_case per fixture, semgrep's rule beside its test)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATTERN_FILES, ids=PATTERN_IDS)
def test_pattern_examples(path):
    sig = catalog.parse_signature(read_document(path), str(path))
    failures = check_examples([sig])
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("path", PATTERN_FILES, ids=PATTERN_IDS)
def test_pattern_matches_the_schema(path):
    """Checked with jsonschema directly, not through the loader's message mapping."""
    jsonschema.validate(read_document(path), catalog.pattern_schema())


def test_the_builtin_catalog_loads_with_the_schema_beside_it():
    sigs = load_dir(catalog.builtin_patterns_dir())
    assert len(sigs) >= 20 and [s.id for s in sigs] == PATTERN_IDS
    assert catalog.schema_path() == catalog.builtin_patterns_dir() / "pattern.schema.json"
    assert catalog.schema_path().is_file() and README.is_file()  # neither is loaded as a pattern


def test_builtin_catalog_has_the_user_lookup_signatures():
    by_id = load_catalog().by_id()
    for sid in ("unknown-userid", "requires-cgo-or-user"):
        assert by_id[sid].category == "root-cause"
        assert by_id[sid].hang
        assert by_id[sid].criterion == "No user lookup errors in kopia logs"
        assert by_id[sid].criterion_always  # listed even when no lookup error is in the logs
    assert by_id["whoami-unknown-uid"].blocks_signoff is False
    assert by_id["unknown-userid"].infer == catalog.Inference(
        rule="silent-after-connect",
        evidence="whoami-unknown-uid",
        unless=("requires-cgo-or-user",),
        reason="silent after `Executing connection command...` while UID {uid} has no passwd "
        "entry (whoami failed); Kopia's own log, which would name the lookup error, was not "
        "among the inputs",
    )


#: Built-in files that do not cite a public reference yet. The field guide asks for at least one
#: real public thread; these predate the rule and wait for research. Do not add to this list:
#: the test fails for a new file without a reference, and for a listed file that gained one.
WITHOUT_REFERENCES = frozenset(
    {
        "cache-auto-heal",
        "cache-heal-refused",
        "clock-skew",
        "kopia-cli-usage-error",
        "kopia-retention-failure",
        "maintenance-lock-held",
        "mover-script-error-exit",
        "quick-maintenance-failed",
        "read-only-filesystem",
        "repository-upgrade-in-progress",
        "set-client-identity-failed",
        "sigterm-not-cache",
        "snapshot-ignored-errors",
        "stale-file-handle",
        "storage-io-error",
    }
)


def test_builtin_patterns_cite_a_public_reference():
    without = {s.id for s in load_dir(catalog.builtin_patterns_dir()) if not s.references}
    assert without == WITHOUT_REFERENCES


#: Pairs (a root cause, another root cause that matches one of its `match` examples) that are
#: right, each with the reason. Empty: no two root causes claim the same line today.
ROOT_CAUSE_OVERLAPS: dict[tuple[str, str], str] = {}


def test_root_causes_do_not_claim_each_others_examples():
    """A line that shows one root cause must not be reported as another: repository damage must
    never read as a wrong password. Conditions aside, as in `check_examples`."""
    roots = [s for s in load_catalog().signatures if s.category == "root-cause"]
    bare = [Signature(**{**s.__dict__, "conditions": {}}) for s in roots]
    claimed: dict[tuple[str, str], str] = {}
    for sig in roots:
        lines = pl.DataFrame({"message": list(sig.examples_match)}).with_row_index("event_id")
        lines = lines.with_columns(pl.col("event_id").cast(pl.Int64))
        others = [b for b in bare if b.id != sig.id]
        for event_id, other in match_events(lines, others).select("event_id", "signature").rows():
            claimed.setdefault((sig.id, other), sig.examples_match[event_id])
    unlisted = {pair: line for pair, line in claimed.items() if pair not in ROOT_CAUSE_OVERLAPS}
    assert unlisted == {}, "root causes matching each other's examples (list them with a reason)"
    assert set(ROOT_CAUSE_OVERLAPS) <= set(claimed), (
        "ROOT_CAUSE_OVERLAPS lists a pair that no longer overlaps"
    )


# --------------------------------------------------------------------------------------------
# The schema, the code that mirrors it, and the field guide that documents it
# --------------------------------------------------------------------------------------------


def schema_fields(
    node: dict[str, Any], prefix: str = "", holders: tuple[dict, ...] = ()
) -> Iterator[tuple[str, dict, tuple[dict, ...]]]:
    """Every property of the schema as the guide names it (`validation.always`,
    `alternatives[].tradeoff`), with its node ($ref merged) and the nodes holding it."""
    defs = catalog.pattern_schema()["$defs"]
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        child = {**defs.get(child.get("$ref", "").removeprefix("#/$defs/"), {}), **child}
        yield path, child, holders
        yield from schema_fields(child, f"{path}.", (*holders, child))
        if isinstance(child.get("items"), dict):
            items = child["items"]
            yield from schema_fields(items, f"{path}[].", (*holders, child, items))


def test_the_schema_is_a_valid_draft_2020_12_schema():
    schema = catalog.pattern_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_field_guide_documents_every_field_of_the_schema_and_no_other():
    """patterns/README.md has one heading per schema property (`validation.always` in backticks
    after `###`), so the guide cannot drift from the format."""
    documented = re.findall(r"^### `([^`]+)`$", README.read_text(encoding="utf-8"), re.MULTILINE)
    fields = [path for path, _, _ in schema_fields(catalog.pattern_schema())]
    assert len(documented) == len(set(documented))
    assert sorted(documented) == sorted(fields)


def test_every_schema_field_has_a_description_and_a_message():
    """A failing field is reported by the `x-message` of its node or of a block holding it, never
    by the loader's generic fallback."""
    for path, node, holders in schema_fields(catalog.pattern_schema()):
        assert node.get("description"), path
        assert any("x-message" in n for n in (node, *holders)), path


def test_code_constants_agree_with_the_schema():
    schema = catalog.pattern_schema()
    props = schema["properties"]
    assert tuple(schema["required"]) == catalog.REQUIRED
    assert set(catalog.REQUIRED + catalog.OPTIONAL) == set(props)
    assert len(catalog.REQUIRED + catalog.OPTIONAL) == len(props)
    assert tuple(props["severity"]["enum"]) == catalog.SEVERITIES
    assert tuple(props["category"]["enum"]) == catalog.CATEGORIES
    assert tuple(props["conditions"]["properties"]) == catalog.CONDITION_KEYS
    assert set(inference.RULES) == set(props["infer"]["properties"]["rule"]["enum"])


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


# --------------------------------------------------------------------------------------------
# Fields added with the schema: terminal, known_problems, validation.always, infer
# --------------------------------------------------------------------------------------------


def good_doc(sid: str, **extra: Any) -> dict[str, Any]:
    return {**yaml.safe_load(GOOD.format(id=sid)), **extra}


def test_terminal_and_known_problems_are_parsed_and_exposed(tmp_path):
    doc = good_doc("ro-fs", terminal=True, known_problems="Misses the ENOSPC wording.\n")
    write_pattern(tmp_path, yaml.safe_dump(doc), "ro-fs")
    [sig] = load_dir(tmp_path)
    assert sig.terminal is True and sig.known_problems == "Misses the ENOSPC wording."
    [plain] = load_dir(write_pattern(tmp_path / "plain", GOOD.format(id="ro-fs"), "ro-fs").parent)
    assert (plain.terminal, plain.known_problems, plain.criterion_always, plain.infer) == (
        False,
        "",
        False,
        None,
    )


INFER = {"rule": "silent-after-connect", "evidence": "whoami-unknown-uid", "reason": "UID {uid}"}
LISTED = (
    "id, title, severity, category, regex, meaning, why, fix, examples, conditions, hang, "
    "alternatives, references, validation"
)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"terminal": "yes"}, "field 'terminal' must be true or false"),
        ({"known_problems": " "}, "field 'known_problems' must be non-empty text"),
        (
            {"validation": {"criterion": "c", "always": 1}},
            "field 'validation.always' must be true or false",
        ),
        (
            {"validation": {"criterion": "c", "alway": True}},
            "field 'validation.alway' is unknown (allowed: criterion, blocks_signoff, always)",
        ),
        ({"validation": {"always": True}}, "field 'validation' needs a 'criterion'"),
        (
            {"infer": {**INFER, "rule": "guess"}},
            "field 'infer.rule' must be one of silent-after-connect",
        ),
        (
            {"infer": {"rule": "silent-after-connect", "reason": "r"}},
            "field 'infer' needs 'rule', 'evidence' and 'reason'",
        ),
        (
            {"infer": {**INFER, "unless": ["Not_An_Id"]}},
            "field 'infer.unless[0]' must be a signature id (kebab-case, got 'Not_An_Id')",
        ),
        (
            {"infer": {**INFER, "evidence": "ro-fs"}},
            "field 'infer.evidence' names the signature itself",
        ),
        (
            {"infer": {**INFER, "reason": "UID {uid:>5}"}},
            "field 'infer.reason' inserts {uid}: only a bare field name of the evidence may be "
            "inserted (not run_id, signature, reason)",
        ),
        (
            {"terminl": True},
            f"unknown key 'terminl' (allowed: {LISTED}); did you mean 'terminal'?",
        ),
    ],
)
def test_new_fields_fail_in_one_line_naming_file_and_field(tmp_path, extra, message):
    path = write_pattern(tmp_path, yaml.safe_dump(good_doc("ro-fs", **extra)), "ro-fs")
    with pytest.raises(CatalogError) as info:
        load_dir(tmp_path)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("infer", "message"),
    [
        (
            {**INFER, "evidence": "no-such-signature"},
            "field 'infer.evidence' names 'no-such-signature', which no pattern file defines",
        ),
        (
            {**INFER, "unless": ["no-such-signature"]},
            "field 'infer.unless' names 'no-such-signature', which no pattern file defines",
        ),
        (
            {**INFER, "reason": "{user}"},
            "field 'infer.reason' inserts {{user}}, which whoami-unknown-uid ({whoami}) does not "
            "extract",
        ),
    ],
)
def test_an_inference_must_name_signatures_and_fields_of_the_catalog(tmp_path, infer, message):
    path = write_pattern(tmp_path, yaml.safe_dump(good_doc("ro-fs", infer=infer)), "ro-fs")
    whoami = catalog.builtin_patterns_dir() / "whoami-unknown-uid.yaml"
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    assert str(info.value) == f"{path}: {message.format(whoami=whoami)}"


def test_validation_always_lists_the_criterion_when_nothing_matched():
    from analyzer import validation
    from analyzer.events import UTC_NS
    from analyzer.runs import RUNS_SCHEMA

    listed = catalog.parse_signature(
        good_doc("ro-fs", validation={"criterion": "Listed always", "always": True}), "ro-fs.yaml"
    )
    quiet = catalog.parse_signature(
        good_doc("ro-quiet", validation={"criterion": "Listed when seen"}), "ro-quiet.yaml"
    )
    start = datetime(2026, 1, 31, tzinfo=UTC)
    criteria = validation.evaluate(
        runs=pl.DataFrame(schema=RUNS_SCHEMA),
        matches=pl.DataFrame(schema=catalog.MATCHES_SCHEMA),
        events=pl.DataFrame(schema={"event_id": pl.Int64, "ts": UTC_NS}),
        signatures=[listed, quiet],
        data_start=start,
        window_end=start + timedelta(hours=1),
        fix_at=None,
    )
    by_text = {c.criterion: c for c in criteria}
    assert "Listed when seen" not in by_text
    # listed, but no mover run was observed: absence of lines shows nothing (issue 15)
    assert by_text["Listed always"].passed is None
    assert "cannot be shown: no mover run observed" in by_text["Listed always"].reason
    assert by_text["Listed always"].signatures == ("ro-fs",)


# One row per case: the run, the signatures matched in it, and whether `cause` is inferred.
INFERENCE_CASES = [
    ("hung, silent after connect, evidence", "hung", True, ["evidence"], True),
    ("completed", "completed", True, ["evidence"], False),
    ("hung but not after connect", "hung", False, ["evidence"], False),
    ("no evidence", "hung", True, [], False),
    ("the cause's own line explains it", "hung", True, ["evidence", "cause"], False),
    ("an `unless` signature explains it", "hung", True, ["evidence", "other"], False),
]


def test_the_silent_after_connect_rule_attributes_only_unexplained_hangs():
    cause = catalog.parse_signature(
        good_doc(
            "cause",
            infer={
                "rule": "silent-after-connect",
                "evidence": "evidence",
                "unless": ["other"],
                "reason": "code {code}, then silence",
            },
        ),
        "cause.yaml",
    )
    runs = pl.DataFrame(
        {
            "run_id": range(len(INFERENCE_CASES)),
            "outcome": [case[1] for case in INFERENCE_CASES],
            "stalled_after_connect": [case[2] for case in INFERENCE_CASES],
        },
        schema_overrides={"run_id": pl.Int64},
    )
    hits = [(run, sig) for run, case in enumerate(INFERENCE_CASES) for sig in case[3]]
    matches = pl.DataFrame(
        {
            "event_id": range(len(hits)),
            "signature": [sig for _, sig in hits],
            "fields": [f'{{"code":"{run}"}}' if sig == "evidence" else "{}" for run, sig in hits],
        },
        schema_overrides={"event_id": pl.Int64},
    )
    run_map = pl.DataFrame(
        {"event_id": range(len(hits)), "run_id": [run for run, _ in hits]},
        schema={"event_id": pl.Int64, "run_id": pl.Int64},
    )
    probable = inference.infer(runs, matches, run_map, [cause])
    expected = [i for i, case in enumerate(INFERENCE_CASES) if case[4]]
    assert probable.rows() == [(i, "cause", str(i), f"code {i}, then silence") for i in expected]
    assert probable.columns == ["run_id", "signature", "code", "reason"]
    none = inference.infer(runs, matches, run_map, [])
    assert none.schema == pl.Schema(inference.PROBABLE_SCHEMA) and none.height == 0


def test_terminal_signatures_may_extract_fields_of_the_same_name(tmp_path):
    """The run reconstruction joins every terminal signature's regexes into one alternation; two
    of them extracting a field of the same name (`detail`) must not break the analysis."""
    from analyzer import analyze

    names = [n for s in load_catalog().signatures if s.terminal for n in s.fields]
    assert len(names) > len(set(names))
    paste = tmp_path / "paste.log"
    paste.write_text(
        "ERROR error updating maintenance schedule: error getting schedule: invalid schedule blob\n"
    )
    runs = analyze([str(paste)]).runs
    assert runs["outcome"].to_list() == ["failed"]
