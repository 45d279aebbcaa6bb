"""The report as GitHub will show it: inert log text, no secrets, within budget, valid JSON."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from conftest import (
    HUNG_BACKUP,
    T0,
    cri_dir,
    cri_records,
    hung_then_healthy,
    write_lines,
)
from markdown_it import MarkdownIt

from analyzer import analyze
from analyzer.markdown_safe import check_markdown, headings
from analyzer.report import REFERENCE_HEADINGS, RenderOptions, render_json, render_markdown, to_json
from testing.assertions import assert_inert

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "reports" / "analysis.schema.json").read_text()
)

SECRETS = {
    "kopia-password": "Tr0ub4dor&3-kopia",
    "aws-secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "aws-access": "AKIAIOSFODNN7EXAMPLE",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2b2xzeW5jIn0.c2lnbmF0dXJlLXZhbHVl",
    "url-password": "s3cr3t-in-url",
    "json-password": "hunter2hunter2",
    "azure": "ZmFrZWF6dXJla2V5ZmFrZWF6dXJla2V5ZmFrZWF6dXJla2V5PT0=",
    "b2": "K0011223344556677889900aabbccddee",
    "restic": "correct-horse-battery-staple",
}

HOSTILE = [
    "Cannot determine current user: user: unknown userid 1000 ``` <script>alert(1)</script> @octocat #123 | cell | <!-- x -->",
    "ERROR: Failed to create snapshot `` ` ``` ```` <img src=x onerror=alert(1)> @here owner/repo#12",
    "error reading directory /data/x|y: input/output error <b>bold</b> [link](https://evil.example.com) @admin #99",
]


def secret_lines() -> list[str]:
    s = SECRETS
    return [
        f"KOPIA_PASSWORD={s['kopia-password']}",
        f"AWS_SECRET_ACCESS_KEY={s['aws-secret']}",
        f"AWS_ACCESS_KEY_ID={s['aws-access']}",
        f"kopia repository connect s3 --bucket=b --access-key={s['aws-access']} --secret-access-key={s['aws-secret']}",
        f"error connecting to API server: Authorization: Bearer {s['bearer']} rejected",
        f"unable to connect to repository: https://admin:{s['url-password']}@minio.example.com:9000/bucket failed",
        f'error parsing config {{"password":"{s["json-password"]}","bucket":"b"}}',
        f"AZURE_ACCOUNT_KEY={s['azure']}",
        f"B2_APPLICATION_KEY={s['b2']}",
        f"RESTIC_PASSWORD={s['restic']}",
        "KOPIA_PASSWORD: [SET]",
    ]


@pytest.fixture
def hostile_logs(tmp_path):
    lines = [(0.0, "stdout", "Starting kopia mover container")]
    lines += [(0.01 + i / 1000, "stdout", text) for i, text in enumerate(secret_lines())]
    lines += HUNG_BACKUP[1:]
    lines += [(0.5 + i / 10, "stderr", text) for i, text in enumerate(HOSTILE)]
    return hung_then_healthy(tmp_path, lines)


def test_secrets_never_reach_markdown_or_json(hostile_logs):
    a = analyze([str(hostile_logs)])
    md = render_markdown(a)
    js = render_json(a)
    for kind, value in SECRETS.items():
        assert value not in md, f"{kind} leaked into Markdown"
        assert value not in js, f"{kind} leaked into JSON"
    data = json.loads(js)
    assert data["redactions"], "the JSON counts what it redacted"
    assert "Secrets redacted before rendering:" in md and "none found" not in md
    # the values were in the input
    raw = "\n".join(a.events["message"].to_list())
    assert SECRETS["kopia-password"] in raw


def test_no_redact_keeps_them(hostile_logs):
    md = render_markdown(analyze([str(hostile_logs)]), RenderOptions(redact=False))
    assert "Redaction was turned off" in md


def _outside_code(md: str) -> str:
    """Displayed text that is not inside code (where mentions/refs would be live)."""
    out = []
    for tok in MarkdownIt("commonmark").enable("table").parse(md):
        for child in tok.children or []:
            if child.type == "text":
                out.append(child.content)
    return "\n".join(out)


def test_hostile_log_text_renders_inert(hostile_logs):
    md = render_markdown(analyze([str(hostile_logs)]))
    assert check_markdown(md) == []
    assert [t for lvl, t in headings(md) if lvl == 2] == list(REFERENCE_HEADINGS)
    assert_inert(md)
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    for tok in tokens:
        for child in tok.children or []:
            if child.type == "link_open":
                assert child.attrs["href"].startswith(
                    (
                        "https://github.com/",
                        "https://bugzilla.redhat.com/",
                        "https://kopia.io/",
                        "https://pkg.go.dev/",
                        "https://go.dev/",
                    )
                ), child.attrs
    prose = _outside_code(md)
    for live in ("@octocat", "@admin", "@here", "#123", "#99", "owner/repo#12"):
        assert live not in prose, live
    # the hostile matched line still shows, literally, inside a fence
    assert "<script>alert(1)</script>" in md


def test_budget_holds_on_a_corpus_that_overflows_it(tmp_path):
    for i in range(480):
        pod = f"volsync-src-application{i % 40:02d}-{i:05d}"
        d = cri_dir(tmp_path, "media", pod, "kopia", uid=f"{i:08d}-2222-3333-4444-555555555555")
        noisy = HUNG_BACKUP + [
            (
                1.0 + j,
                "stderr",
                f"error reading directory /data/f{i}/{j}: input/output error on inode {i * 100 + j}",
            )
            for j in range(5)
        ]
        write_lines(d / "0.log", cri_records(T0 + timedelta(hours=i % 40, minutes=i // 40), noisy))
    a = analyze([str(tmp_path)])
    big = render_markdown(a, RenderOptions(max_chars=10**7))
    assert len(big) > 60_000
    md = render_markdown(a)
    assert len(md) <= 60_000
    assert check_markdown(md) == []
    assert [t for lvl, t in headings(md) if lvl == 2] == list(REFERENCE_HEADINGS)
    small = render_markdown(a, RenderOptions(max_chars=20_000))
    assert len(small) <= 20_000 and check_markdown(small) == []


def test_json_validates_against_the_schema(hostile_logs):
    data = to_json(analyze([str(hostile_logs)]))
    jsonschema.validate(data, SCHEMA)
    # the first pod's output stops on a hostile error line: no hang is read from that silence
    assert {r["outcome"] for r in data["runs"]} == {"unknown", "completed"}
    assert {r["outcome_basis"] for r in data["runs"]} == {"error-then-silence", "end-marker"}
    assert data["window"]["from"].endswith("Z")


def test_last_lines_tied_in_count_keep_the_order_of_the_runs(tmp_path):
    for i in range(8):
        d = cri_dir(
            tmp_path,
            "media",
            f"volsync-src-app{i}-abcde",
            "kopia",
            uid=f"{i:08d}-1111-2222-3333-444444444444",
        )
        last = (1.0, "stdout", f"Snapshotting app{i}@media:/data/f{i} ...")
        write_lines(d / "0.log", cri_records(T0 + timedelta(hours=i), HUNG_BACKUP + [last]))
    a = analyze([str(tmp_path)])
    in_runs = a.runs.filter(a.runs["outcome"] == "hung")["last_message"].to_list()
    assert len(in_runs) > 5
    md = render_markdown(a)
    shown = [line for line in md.splitlines() if line.startswith("| Snapshotting app")]
    # (a zero-width space after `@` keeps GitHub from reading a mention)
    assert [s.split(" | ")[0][2:].replace("\u200b", "") for s in shown] == in_runs[:5]
    assert render_markdown(a) == md
