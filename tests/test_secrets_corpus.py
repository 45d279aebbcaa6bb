"""No realistic secret shape survives into a report or its JSON, and the report counts each one.

`tests/secret_shapes.py` holds the shapes (single lines and blocks of consecutive lines) and lines
with no secret. Each shape is checked by the redactor on its own, and end to end: one mover pod
prints it right after a line that a per-shape pattern matches, so the Evidence excerpt shows it
(checked with `--no-redact`), and with redaction nothing of it is left anywhere.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from analyzer import analyze
from analyzer.redact import Redactor
from analyzer.report import RenderOptions, render_json, render_markdown
from tests.conftest import T0, cri_dir, cri_records, write_lines
from tests.secret_shapes import NO_SECRET, SHAPES

#: What must not be left of a secret: all of it, and each long piece of it that the text does
#: not hold elsewhere (a password cut at a space or `/` must not leave its tail).
SPLIT = re.compile(r"[\s/+#?@&=.\-]+")


def pieces(text: str, secret: str) -> list[str]:
    rest = text.replace(secret, "")
    return [secret] + [p for p in SPLIT.split(secret) if len(p) >= 5 and p not in rest]


def leaked(text: str, secret: str, output: str) -> list[str]:
    return [p for p in pieces(text, secret) if p in output]


def test_the_corpus_is_large_and_each_secret_is_in_its_text():
    assert len(SHAPES) >= 69
    assert len({i for i, _, _ in SHAPES}) == len(SHAPES)
    for shape_id, text, secret in SHAPES:
        assert secret in text, shape_id


@pytest.mark.parametrize(
    ("text", "secret"), [(t, s) for _, t, s in SHAPES], ids=[i for i, _, _ in SHAPES]
)
def test_each_shape_is_redacted_and_counted(text, secret):
    redactor = Redactor()
    out = "\n".join(redactor.redact_lines(text.split("\n")))
    assert leaked(text, secret, out) == [], out
    assert sum(redactor.counts().values()) >= 1
    assert "[REDACTED:" in out


@pytest.mark.parametrize("text", NO_SECRET)
def test_lines_without_a_secret_are_left_alone(text):
    redactor = Redactor()
    assert redactor.redact_lines(text.split("\n")) == text.split("\n")
    assert redactor.counts() == {}


def test_neighbour_secrets_reach_copies_of_the_row():
    import polars as pl

    rows = ["    env:", "    - name: KOPIA_PASSWORD", "      value: hunter2", "done"]
    redactor = Redactor()
    frame = pl.DataFrame({"message": rows, "source": ["a"] * 4, "stream": ["stdout"] * 4})
    known = redactor.neighbour_secrets(frame, "message", ["source", "stream"])
    assert known == {"      value: hunter2": "      value: [REDACTED:kopia-password]"}
    copies = pl.DataFrame(
        {"last": ["      value: hunter2", "other"], "l": [["      value: hunter2"], []]}
    )
    copies = redactor.apply_known(copies, "last", known)
    copies = redactor.apply_known(copies, "l", known)
    assert copies["last"].to_list() == ["      value: [REDACTED:kopia-password]", "other"]
    assert copies["l"].to_list()[0] == ["      value: [REDACTED:kopia-password]"]
    assert redactor.counts() == {"kopia-password": 2}


def test_rows_of_another_stream_reveal_nothing():
    import polars as pl

    # The name is on stdout, the value on stderr: not one env entry.
    frame = pl.DataFrame(
        {
            "message": ["- name: KOPIA_PASSWORD", "  value: notasecret"],
            "source": ["a", "a"],
            "stream": ["stdout", "stderr"],
        }
    )
    out = Redactor().redact_column(frame, "message", stream=["source", "stream"])
    assert out["message"].to_list()[1] == "  value: notasecret"


def _marker(i: int) -> str:
    return f"SECRET-PROBE-{i:02d}"


def _pattern(i: int) -> dict:
    return {
        "id": f"secret-probe-{i:02d}",
        "title": f"secret probe {i:02d}",
        "severity": "low",
        "category": "symptom",
        "regex": rf"{_marker(i)}\b",
        "meaning": "m",
        "why": "w",
        "fix": "f",
        "examples": {"match": [f"{_marker(i)} here"], "no_match": ["z"]},
    }


@pytest.fixture(scope="module")
def shapes_incident(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("shapes")
    logs, patterns = root / "logs", root / "patterns"
    patterns.mkdir()
    for i, (_, text, secret) in enumerate(SHAPES):
        (patterns / f"secret-probe-{i:02d}.yaml").write_text(json.dumps(_pattern(i)))
        rows = text.split("\n")
        at = next(k for k, row in enumerate(rows) if any(p in row for p in pieces(text, secret)))
        # The marker goes at most two rows before the secret, never between a name and its value.
        rows.insert(max(0, at - 2), f"{_marker(i)} the next lines are pasted from a config")
        lines = [(k * 0.01, "stdout", row) for k, row in enumerate(rows)]
        lines.append((1.0, "stdout", "done"))
        pod = f"volsync-src-probe{i:02d}-abcde"
        d = cri_dir(logs, "media", pod, "kopia", uid=f"00000000-0000-0000-0000-0000000000{i:02d}")
        write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=i), lines))
    return logs, patterns


def _outputs(shapes_incident, **options) -> tuple[str, str]:
    logs, patterns = shapes_incident
    a = analyze([str(logs)], patterns=[str(patterns)])
    opts = RenderOptions(max_chars=10**8, **options)
    return render_markdown(a, opts), render_json(a, opts)


def _sections(md: str) -> dict[int, str]:
    out = {}
    for m in re.finditer(r"^### `secret-probe-(\d+)`.*?(?=^### |^## )", md, re.M | re.S):
        out[int(m.group(1))] = m.group()
    return out


def test_every_shape_reaches_the_report_unredacted(shapes_incident):
    # The end-to-end test below proves something only if each secret would be shown.
    md, js = _outputs(shapes_incident, redact=False)
    missing = [i for i, _, secret in SHAPES if secret not in md]
    assert missing == []


def test_no_shape_survives_into_markdown_or_json_and_each_is_counted(shapes_incident):
    md, js = _outputs(shapes_incident)
    for shape_id, text, secret in SHAPES:
        assert leaked(text, secret, md) == [], shape_id
        assert leaked(text, secret, js) == [], shape_id
    sections = _sections(md)
    assert len(sections) == len(SHAPES)
    uncounted = [SHAPES[i][0] for i, body in sections.items() if "[REDACTED:" not in body]
    assert uncounted == []
    counts = json.loads(js)["redactions"]
    assert sum(counts.values()) >= len(SHAPES)
    footer = md.rstrip().splitlines()[-1]
    assert "none found" not in footer
    for kind, n in counts.items():
        assert f"{n} {kind}" in footer


def test_the_example_corpus_report_is_unchanged_by_the_new_rules():
    # Kopia's snapshot, manifest, content and pack ids, hashes and the mover's `[SET]` lines
    # are no secrets: the golden report of the example corpus redacts nothing.
    from tests.conftest import EXAMPLES

    a = analyze([str(EXAMPLES / "logs")])
    data = json.loads(render_json(a))
    assert data["redactions"] == {}
