"""Mining unrecognised errors into templates (analyzer/templates.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.events import EVENTS_SCHEMA, conform, with_volsync_identity
from analyzer.templates import (
    TEMPLATES_SCHEMA,
    mine,
    problem_lines,
    starter_pattern,
    starter_patterns,
    template_expr,
    template_regex,
)

T0 = datetime(2026, 2, 14, 2, 0, tzinfo=UTC)
FIX_AT = datetime(2026, 2, 20, tzinfo=UTC)
ALLOWED_KEYS = {
    "id",
    "title",
    "severity",
    "category",
    "regex",
    "conditions",
    "hang",
    "meaning",
    "why",
    "fix",
    "alternatives",
    "references",
    "validation",
    "examples",
}

SRC_PHOTOS = ("volsync-src-photos-x7k2p", "volsync-src-photos-b5n9q")
SRC_MEDIA = "volsync-src-media-k8m4z"
MAINT = "kopia-maint-media-repo-3fa4c2d19b7e0a61-29390520-w2x9c"


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _row(ts, pod, message, *, stream="stdout", level=None, container="kopia", **extra) -> dict:
    return {
        "ts": ts,
        "namespace": "apps",
        "pod": pod,
        "container": container,
        "stream": stream,
        "level": level,
        "message": message,
        "envelope": "cri",
        "source": f"/var/log/pods/apps_{pod}/{container}/0.log",
        **extra,
    }


def build_corpus() -> tuple[pl.DataFrame, pl.Series, dict[str, list[str]], list[str]]:
    """Events of a few mover pods: five unknown failure kinds, catalogued lines, healthy noise.

    Returns (events, matched, unmatched lines by kind, healthy lines).
    """
    rng = random.Random(7)
    rows: list[dict] = []
    kinds: dict[str, list[str]] = {k: [] for k in ("readonly", "readdir", "quick", "skew", "dial")}
    matched: list[bool] = []

    def add(row: dict, kind: str | None = None, *, is_matched: bool = False) -> None:
        rows.append(row)
        matched.append(is_matched)
        if kind is not None and not is_matched:
            kinds[kind].append(row["message"])

    # Healthy noise in every backup run (stderr progress, INFO lines, connect).
    healthy = [
        "Snapshotting photos@apps:/data ...",
        " | 2 hashing, 310 hashed (1.2 GB), 40120 cached (18.4 GB), uploaded 1.1 GB, estimating...",
        " * 0 hashing, 1523 hashed (2.1 GB), 40211 cached (18.4 GB), uploaded 1.9 GB, "
        "estimated 20.5 GB (100.0%) 0s left (2 errors ignored)",
        "Connected to repository.",
        "",
        "Created snapshot with root k5f3d0c2a9e8b7d6c5b4a39281706f5e4 and ID "
        "7c9e4b1d2a3f40516273849a0b1c2d3e in 1m2s",
    ]
    healthy_stdout = [
        "INFO: === Starting kopia operations ===",
        "INFO: Operation start time: 2026-02-14T02:00:03Z",
        "TIMING: Repository status check took 0 seconds (not connected)",
        "INFO: OPERATION_RESULT: SUCCESS",
        "INFO: KOPIA_ERROR_OUTPUT_START:",
        "GC found 1204 unused contents (310.2 MB)",
        "INFO: === Done ===",
    ]
    for day in range(10):
        t = T0 + timedelta(days=day)
        pod = SRC_PHOTOS[day % 2]
        for i, msg in enumerate(healthy):
            add(_row(t + timedelta(seconds=i), pod, msg, stream="stderr"))
        for i, msg in enumerate(healthy_stdout):
            add(_row(t + timedelta(seconds=10 + i), pod, msg, level="INFO"))
        # An INFO line on stderr is not a problem either.
        add(_row(t, pod, "Running full maintenance...", stream="stderr", level="INFO"))

    # A: full read-only repository, 7 different blob paths, two pods, days 0-6 (+1 catalogued).
    for day in range(8):
        blob = "p" + _hex(rng, 32)
        path = f"/repository/{blob[:3]}/{blob[3:6]}/{blob}.f"
        msg = (
            f"unable to complete PutBlobInPath:{path} despite 2 retries: can't write temporary "
            f"file: write {path}.tmp.{_hex(rng, 16)}: read-only file system"
        )
        ts = T0 + timedelta(days=day, minutes=1)
        add(_row(ts, SRC_PHOTOS[day % 2], msg, stream="stderr"), "readonly", is_matched=day == 7)

    # B: I/O errors reading directories, Kopia CLI-log lines (level ERROR, no stream), days 1-5.
    for day in range(1, 6):
        msg = f"error reading directory /data/photos/{2020 + day}/trip-{rng.randint(1, 99)}: "
        msg += "input/output error"
        row = _row(T0 + timedelta(days=day, minutes=2), SRC_MEDIA, msg, stream=None, level="ERROR")
        row |= {"envelope": "kopia-cli", "module": "uploader", "kopia_command": "snapshot-create"}
        add(row, "readdir")

    # C: maintenance quick run failing with various exit codes (mover WARN prefix), days 2-5.
    for day, code in zip(range(2, 6), (1, 3, 137, 2), strict=True):
        msg = f"WARN: Quick maintenance failed (exit code {code}), continuing with full maintenance..."
        add(_row(T0 + timedelta(days=day), MAINT, msg, container="kopia-maintenance"), "quick")

    # D: clock skew, only after the fix (new), days 7-9.
    for day in range(7, 10):
        skew = f"{rng.randint(6, 59)}m{rng.randint(0, 59)}.{rng.randint(100, 999)}s"
        msg = (
            "error running maintenance: error checking for clock skew: "
            "clock skew detected: local clock is out of sync with repository timestamp by more "
            f"than allowed 5m0s (local: 2026-02-{14 + day} 02:00:03.{rng.randint(100, 999)} "
            f"+0000 UTC repository: 2026-02-{14 + day} 02:{rng.randint(10, 59)}:11 +0000 UTC "
            f"skew: {skew}). Refusing to run maintenance."
        )
        row = _row(T0 + timedelta(days=day), MAINT, msg, stream="stderr")
        add(row | {"container": "kopia-maintenance"}, "skew")

    # E: a storage endpoint refusing connections, before and after the fix.
    for day in (3, 8):
        ip = f"10.43.{rng.randint(0, 255)}.{rng.randint(1, 254)}:9000"
        msg = (
            "error connecting to repository: unable to open storage: dial tcp "
            f"{ip}: connect: connection refused"
        )
        add(_row(T0 + timedelta(days=day, hours=1), SRC_MEDIA, msg), "dial")

    # Catalogued lines: an error the catalog explains.
    for day in range(3):
        msg = (
            "error connecting to repository: unable to create format manager: "
            "invalid repository password"
        )
        add(
            _row(T0 + timedelta(days=day, hours=2), SRC_MEDIA, msg, stream="stderr"),
            is_matched=True,
        )

    events = with_volsync_identity(conform(pl.DataFrame(rows, schema_overrides=EVENTS_SCHEMA)))
    events = events.with_columns(line_no=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    healthy_lines = [m for m in healthy + healthy_stdout if m]
    return events, pl.Series("matched", matched), kinds, healthy_lines


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


@pytest.fixture(scope="module")
def mined(corpus):
    events, matched, _, _ = corpus
    return mine(events, matched, fix_at=FIX_AT)


def _row_for(mined: pl.DataFrame, needle: str) -> dict:
    rows = mined.filter(pl.col("template").str.contains(needle, literal=True)).to_dicts()
    assert len(rows) == 1, (needle, mined["template"].to_list())
    return rows[0]


def test_schema_and_order(mined):
    assert mined.schema == pl.Schema(TEMPLATES_SCHEMA)
    counts = mined["count"].to_list()
    assert counts == sorted(counts, reverse=True)


def test_one_template_per_kind(mined, corpus):
    _, _, kinds, _ = corpus
    assert mined.height == len(kinds)
    assert mined["count"].to_list() == [7, 5, 4, 3, 2]
    assert mined["template"].to_list() == [
        "unable to complete PutBlobInPath:<PATH> despite <NUM> retries: can't write temporary "
        "file: write <PATH>: read-only file system",
        "error reading directory <PATH>: input/output error",
        "WARN: Quick maintenance failed (exit code <NUM>), continuing with full maintenance...",
        "error running maintenance: error checking for clock skew: clock skew detected: local "
        "clock is out of sync with repository timestamp by more than allowed <DUR> (local: <TS> repository: <TS> skew: <DUR>). Refusing to run maintenance.",
        "error connecting to repository: unable to open storage: dial tcp <IP>: connect: "
        "connection refused",
    ]


def test_pods_sources_and_times(mined):
    readonly = _row_for(mined, "PutBlobInPath")
    assert readonly["pods"] == sorted(SRC_PHOTOS)
    assert readonly["replication_sources"] == ["photos"]
    assert readonly["first_seen"] == T0 + timedelta(minutes=1)
    assert readonly["last_seen"] == T0 + timedelta(days=6, minutes=1)
    assert readonly["example"].startswith("unable to complete PutBlobInPath:/repository/p")
    assert len(readonly["examples"]) == 3 and readonly["examples"][0] == readonly["example"]

    readdir = _row_for(mined, "error reading directory")
    assert readdir["pods"] == [SRC_MEDIA]
    assert readdir["first_seen"] == T0 + timedelta(days=1, minutes=2)
    assert readdir["last_seen"] == T0 + timedelta(days=5, minutes=2)

    quick = _row_for(mined, "Quick maintenance failed")
    assert quick["pods"] == [MAINT]
    assert quick["replication_sources"] == ["media-repo"]
    assert quick["first_seen"] == T0 + timedelta(days=2)
    assert quick["last_seen"] == T0 + timedelta(days=5)


def test_new_after_fix(mined):
    flags = dict(zip(mined["template"], mined["new_after_fix"], strict=True))
    assert [t for t, new in flags.items() if new] == [_row_for(mined, "clock skew")["template"]]
    assert all(new is False for t, new in flags.items() if "clock skew" not in t)


def test_new_after_fix_null_without_fix_and_naive_fix(corpus):
    events, matched, _, _ = corpus
    assert mine(events, matched)["new_after_fix"].null_count() == 5
    naive = mine(events, matched, fix_at=FIX_AT.replace(tzinfo=None))
    assert naive["new_after_fix"].sum() == 1


def test_matched_and_healthy_lines_never_appear(corpus, mined):
    events, matched, _, healthy = corpus
    problems = problem_lines(events, matched)
    assert problems.columns == events.columns
    texts = set(problems["message"])
    assert not any("invalid repository password" in t for t in texts)
    assert not texts & set(healthy)
    assert "Running full maintenance..." not in texts
    assert problems.height == mined["count"].sum() == 21
    # An expression works as well as a Series; without `matched` the catalogued lines come back.
    by_expr = problem_lines(events, pl.col("message").str.contains("invalid repository password"))
    assert by_expr.height == 22  # the catalogued PutBlobInPath line is no longer excluded
    assert problem_lines(events, None).height == 25


def test_top_and_empty(corpus):
    events, matched, _, _ = corpus
    assert mine(events, matched, top=2).height == 2
    empty = mine(events.clear(), pl.Series([], dtype=pl.Boolean))
    assert empty.height == 0 and empty.schema == pl.Schema(TEMPLATES_SCHEMA)
    with pytest.raises(ValueError):
        problem_lines(events, pl.Series([True]))


@pytest.mark.parametrize(
    ("line", "template"),
    [
        (
            "2025-11-20T02:00:08.101000Z got error open /mnt/repo/.shards: permission denied when "
            "GetBlobFromPath:/mnt/repo/.shards (#0), sleeping for 100ms before retrying",
            "<TS> got error open <PATH>: permission denied when GetBlobFromPath:<PATH> (#<NUM>), "
            "sleeping for <DUR> before retrying",
        ),
        (
            "unable to create lock in backend: repository is already locked exclusively by PID 48 "
            "on volsync-src-mealie-96mvk by  (UID 0, GID 0)",
            "unable to create lock in backend: repository is already locked exclusively by PID "
            "<NUM> on volsync-src-<POD> by (UID <NUM>, GID <NUM>)",
        ),
        (
            "lock was created at 2023-12-19 12:02:00 (5h24m42.719315996s ago)",
            "lock was created at <TS> (<DUR> ago)",
        ),
        (
            "WARN: Repository has different maintenance owner: nobody@volsync-src-myapp-x7k2p",
            "WARN: Repository has different maintenance owner: <ID>",
        ),
        (
            "ERROR: Failed to restore snapshot: 7c9e4b1d2a3f40516273849a0b1c2d3e",
            "ERROR: Failed to restore snapshot: <ID>",
        ),
        (
            'error loading indexes: unable to open pack index "xn92_a1b2c3d4e5f60718-c1": '
            "invalid header",
            'error loading indexes: unable to open pack index "<ID>": invalid header',
        ),
        (
            "ERROR open repository: repository is not connected. See "
            "https://kopia.io/docs/repositories/",
            "ERROR open repository: repository is not connected. See <URL>",
        ),
        (
            "dial tcp [fd00::1]:9000: connect: connection refused",
            "dial tcp <IP>: connect: connection refused",
        ),
        ("GC found 1204 unused contents (310.2 MB)", "GC found <NUM> unused contents (<SIZE>)"),
        (
            'Error when processing "photos/2024/IMG_1234.jpg": open /data/My Photos/2024/a.jpg: '
            "permission denied",
            'Error when processing "<PATH>": open <PATH>: permission denied',
        ),
        (
            "write /cache/blob-list/_log_20260131010203_ab12_1769821323_1769821330_1_: "
            "no space left on device",
            "write <PATH>: no space left on device",
        ),
        (
            "session 123e4567-e89b-12d3-a456-426614174000 span mfrggzdfmztwq2lk  closed",
            "session <UUID> span <ID> closed",
        ),
        (
            "kopia-maint-media-repo-3fa4c2d19b7e0a61-29390520-x7k2p: Job has reached the "
            "specified backoff limit",
            "kopia-maint-<POD>: Job has reached the specified backoff limit",
        ),
    ],
)
def test_masking(line, template):
    got = pl.DataFrame({"message": [line]}).select(template_expr())["message"][0]
    assert got == template


def test_starter_patterns_validate(corpus, mined):
    events, matched, kinds, healthy = corpus
    assert mined["template"].n_unique() == len(kinds)
    files = starter_patterns(mined)
    assert len(files) == mined.height
    by_template = {}
    for pid, text in files.items():
        doc = yaml.safe_load(text)
        assert set(doc) <= ALLOWED_KEYS
        assert doc["id"] == pid and pid.replace("-", "").isalnum() and pid == pid.lower()
        assert (doc["severity"], doc["category"]) == ("medium", "symptom")
        assert doc["alternatives"] == [] and doc["references"] == []
        assert all(doc[k].startswith("TODO: ") for k in ("meaning", "why", "fix"))
        assert len(doc["regex"]) == 1
        assert 2 <= len(doc["examples"]["match"]) <= 3
        assert len(doc["examples"]["no_match"]) == 2
        row = mined.filter(pl.col("example") == doc["examples"]["match"][0]).row(0, named=True)
        template = row["template"]
        assert doc["title"] == (template if len(template) <= 100 else template[:97] + "...")
        by_template[row["template"]] = doc
    assert set(by_template) == set(mined["template"])

    # Every line of each kind matches its own regex and no other's; healthy lines match none.
    own = {}
    for kind, lines in kinds.items():
        row = _row_for(mined, lines[0][:20])
        own[kind] = by_template[row["template"]]["regex"][0]
    for kind, regex in own.items():
        for other, lines in kinds.items():
            hits = pl.Series(lines).str.contains(regex)
            assert hits.all() if other == kind else not hits.any(), (kind, other, regex)
        assert not pl.Series(healthy).str.contains(regex).any()


def test_starter_pattern_single_row_and_given_id(mined):
    row = _row_for(mined, "Quick maintenance failed")
    doc = yaml.safe_load(starter_pattern(row, pattern_id="quick-maintenance-failed"))
    assert doc["id"] == "quick-maintenance-failed"
    assert doc["examples"]["no_match"] == ["Connected to repository.", "INFO: === Done ==="]
    assert doc["regex"][0] == (
        r"(?:^|\s)WARN:\s+Quick\s+maintenance\s+failed\s+\(exit\s+code\s+(?P<num1>v?\d+(?:[.,]\d+)*)"
        r"\),\s+continuing\s+with\s+full\s+maintenance\.\.\.\s*$"
    )
    assert yaml.safe_load(starter_pattern(row))["id"] == "warn-quick-maintenance-failed-exit-code"


_FRAGMENTS = st.sampled_from(
    [
        "ERROR: Failed to create repository",
        "error reading directory /data/x: input/output error",
        "Connected to repository.",
        " | 2 hashing, 310 hashed (1.2 GB)",
        "unable to complete PutBlobInPath:/repository/p4c/8e1/x.f despite 2 retries",
        "INFO: === Done ===",
        "volsync-src-app-x7k2p",
        "  ",
        "12:00:00 10.0.0.1:80 [::1] 5m0s 1.2 GB 0xff <PATH>",
    ]
)
_MESSAGES = st.lists(
    st.one_of(
        st.text(max_size=60), _FRAGMENTS, st.tuples(_FRAGMENTS, st.text(max_size=20)).map("".join)
    ),
    max_size=25,
)


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    messages=_MESSAGES,
    data=st.data(),
)
def test_mine_never_raises_and_counts_add_up(messages, data):
    n = len(messages)
    levels = data.draw(
        st.lists(st.sampled_from([None, "INFO", "WARN", "ERROR"]), min_size=n, max_size=n)
    )
    streams = data.draw(
        st.lists(st.sampled_from([None, "stdout", "stderr"]), min_size=n, max_size=n)
    )
    flags = data.draw(st.lists(st.sampled_from([None, True, False]), min_size=n, max_size=n))
    events = conform(
        pl.DataFrame(
            {
                "ts": [T0 + timedelta(seconds=i) if i % 3 else None for i in range(n)],
                "pod": [SRC_PHOTOS[i % 2] for i in range(n)],
                "level": levels,
                "stream": streams,
                "message": messages,
            },
            schema_overrides={
                "ts": EVENTS_SCHEMA["ts"],
                "level": pl.String,
                "stream": pl.String,
                "message": pl.String,
            },
        )
    )
    matched = pl.Series(flags, dtype=pl.Boolean)
    out = mine(events, matched, fix_at=T0)
    assert out["count"].sum() == problem_lines(events, matched).height
    assert out.schema == pl.Schema(TEMPLATES_SCHEMA)


_SAMPLES = {
    "NUM": "42",
    "PATH": "/repository/p4c/8e1/x.f",
    "ID": "k5f3d0c2a9e8b7d6c5b4a39281706f5e4",
    "TS": "2026-01-01T00:00:00.123Z",
    "DUR": "5m0s",
    "SIZE": "1.2 GB",
    "IP": "10.0.0.1:9000",
    "UUID": "123e4567-e89b-12d3-a456-426614174000",
    "POD": "x7k2p",
    "URL": "https://kopia.io/docs/",
}
_LITERAL = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=15).map(
    lambda t: t.replace("<", "(").replace(">", ")")
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(parts=st.lists(st.tuples(_LITERAL, st.sampled_from([None, *_SAMPLES])), max_size=6))
def test_template_regex_compiles_and_matches_its_own_lines(parts):
    """Whatever punctuation a template holds, its regex compiles in polars and matches a line
    made from it (tokens replaced by typical values)."""
    template = " ".join("".join(lit + (f"<{k}>" if k else "") for lit, k in parts).split())
    line = template
    for kind, value in _SAMPLES.items():
        line = line.replace(f"<{kind}>", value)
    for loose in (False, True):
        regex = template_regex(template, loose=loose)
        assert pl.Series([line]).str.contains(regex).item(), (template, regex)


def test_all_digit_hex_id_does_not_split_a_template():
    """An 8-hex id that happens to be all digits masks as <NUM>; it still joins its template."""
    ids = ["b27ebdc3", "9f0c11aa", "c0ffee42", "12345678"]
    events = conform(
        pl.DataFrame(
            {
                "ts": [T0 + timedelta(minutes=i) for i in range(4)],
                "stream": ["stderr"] * 4,
                "message": [f"unable to load lock file, storage ID {x}" for x in ids],
            },
            schema_overrides={"ts": EVENTS_SCHEMA["ts"]},
        )
    )
    out = mine(events)
    assert out["template"].to_list() == ["unable to load lock file, storage ID <ID>"]
    assert out["count"].to_list() == [4]
    regex = yaml.safe_load(starter_pattern(out.row(0, named=True)))["regex"][0]
    assert events["message"].str.contains(regex).all()
