"""The report as it reads pasted into a GitHub issue: catalog prose on one line per paragraph,
placeholders filled from the lines, tables and charts that fit the ~760 px comment column."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from conftest import EXAMPLES, T0, cri_dir, cri_records, write_lines
from markdown_it import MarkdownIt

from analyzer import analyze
from analyzer.catalog import load_catalog
from analyzer.report import render_markdown
from analyzer.report.charts import (
    MIN_BAR_SHARE,
    XY_CHAR_PX,
    XY_LABEL_GAP_PX,
    XY_LABEL_HEIGHT_PX,
    XY_PLOT_HEIGHT,
    XY_PLOT_WIDTH,
    bars,
    duration_chart,
    gantt,
)
from analyzer.report.view.prose import catalog_text, fill, unwrap
from testing.mover import abridged_backup, user_lookup_error

FIX = datetime(2026, 1, 29, 18, tzinfo=UTC)


@pytest.fixture(scope="module")
def example_report() -> str:
    """The bundled example incident's report, as `analyze examples/logs/ --fix-at …` writes it."""
    return render_markdown(analyze([str(EXAMPLES / "logs")], fix_at=FIX))


def section(report: str, heading: str) -> str:
    start = report.index(f"\n## {heading}\n")
    end = report.find("\n## ", start + 1)
    return report[start : end if end > 0 else None]


# ------------------------------------------------------------------ catalog prose, unwrapped


def test_catalog_paragraphs_are_one_line_each_in_the_report(example_report):
    """GitHub turns every newline of an issue body into a line break: no paragraph of the
    rendered report may hold one (markdown-it's softbreak), while the catalog's code blocks keep
    every line."""
    catalog_sections = [
        section(example_report, h)
        for h in ("Root Cause", "Required Fix", "Alternative Fixes (Not Recommended)")
    ]
    soft = [
        t.content[:80]
        for text in catalog_sections
        for t in MarkdownIt("commonmark").enable("table").parse(text)
        if t.type == "inline" and any(c.type == "softbreak" for c in t.children or ())
    ]
    assert soft == []
    fix = section(example_report, "Required Fix")
    assert (
        "```dockerfile\n# Kopia build stage\nENV CGO_ENABLED=0\nRUN go build -o kopia\n" in fix
    ), fix
    # The catalog file itself is wrapped (the check above is not vacuous).
    meaning = load_catalog().by_id()["unknown-userid"].meaning
    assert meaning.count("\n") >= 3
    assert "Kopia asked the operating system" in section(example_report, "Root Cause")


def test_unwrap_keeps_every_block_whose_line_breaks_mean_something():
    text = (
        "A paragraph wrapped\nat the catalog's column\nwidth.\n"
        "\n"
        "- a list item that\n  goes on here\n- the next item\n"
        "1. numbered\n"
        "\n"
        "```sh\nchown -R <uid>:<gid> /repo\nchmod -R u+rwX /repo\n```\n"
        "\n"
        "| a | b |\n| --- | --- |\n| 1 | 2 |\n"
        "\n"
        "    indented code\n    second line\n"
        "\n"
        "hard break  \nnext line"
    )
    assert unwrap(text).split("\n") == [
        "A paragraph wrapped at the catalog's column width.",
        "",
        "- a list item that goes on here",
        "- the next item",
        "1. numbered",
        "",
        "```sh",
        "chown -R <uid>:<gid> /repo",
        "chmod -R u+rwX /repo",
        "```",
        "",
        "| a | b |",
        "| --- | --- |",
        "| 1 | 2 |",
        "",
        "    indented code",
        "    second line",
        "",
        "hard break  ",
        "next line",
    ]


# ------------------------------------------------------------------ placeholders


def test_placeholders_are_filled_from_the_matched_lines(example_report):
    """`<uid>`, `<op>`, `<path>` and `<retries>` name regex groups; the example incident's lines
    agree on each, so the report says which."""
    root = section(example_report, "Root Cause")
    assert "UID `1000` has no entry in the image's `/etc/passwd`" in root
    assert "refused `open` on `/repository/.shards` inside the repository" in root
    verification = section(example_report, "Verification Status")
    assert "`10` times and every attempt failed" in verification
    assert "`<uid>`" not in root and "`<op>`" not in root and "`<retries>`" not in verification


def test_a_placeholder_with_several_values_stays_and_stays_inert(tmp_path):
    """Two pods with different UIDs: no single value, so `<uid>` is left as the catalog wrote it
    (in its code span, literal on GitHub)."""
    for n, (pod, uid) in enumerate((("aaaaa", 1000), ("bbbbb", 568))):
        lines = [
            *abridged_backup(hung=True),
            (0.5, "stdout", user_lookup_error(f"user: unknown userid {uid}")),
        ]
        d = cri_dir(
            tmp_path,
            "media",
            f"volsync-src-app-{pod}",
            "kopia",
            uid=f"{n}" * 8 + "-0000-0000-0000-000000000000",
        )
        write_lines(d / "0.log", cri_records(T0 + timedelta(hours=n), lines))
    report = render_markdown(analyze([str(tmp_path)]))
    root = section(report, "Root Cause")
    assert "UID `<uid>` has no entry" in root
    assert "UID `1000`" not in root and "UID `568`" not in root


def test_fill_makes_values_and_unknown_placeholders_inert():
    hostile = "x` <img src=x> @octocat"
    out = fill("refused <op> on `<path>` (`<other>`)", {"op": "open", "path": hostile})
    assert out.startswith("refused `open` on ")
    assert "``x` <img src=x> @octocat``" in out  # a longer run of ticks holds the backtick
    assert "(`<other>`)" in out  # unknown inside code: literal, untouched
    assert fill("a <name> b", {}) == "a &lt;name&gt; b"  # unknown outside code: entities
    # In a fence a value goes in unless it could close the fence.
    assert fill("```sh\nchown <uid> /r\n```", {"uid": "1000"}) == "```sh\nchown 1000 /r\n```"
    assert fill("```sh\nchown <uid> /r\n```", {"uid": "``` x"}) == "```sh\nchown <uid> /r\n```"
    assert catalog_text("UID `<uid>`\nhas none.", {"uid": "568"}) == "UID `568` has none."


# ------------------------------------------------------------------ the gantt


def test_gantt_draws_failed_runs_as_failed_and_says_bars_merge_runs(example_report):
    chart = example_report.split("```mermaid\ngantt\n", 1)[1].split("```", 1)[0]
    title = chart.splitlines()[0]
    assert "consecutive runs with one outcome merged into a bar" in title
    tasks = [line.strip() for line in chart.splitlines() if re.search(r":\S.*, \d+s$", line)]
    assert tasks
    for task in tasks:
        label, tags = task.split(" :", 1)
        if label.endswith("failed"):
            assert tags.startswith("crit, "), task
        elif label.endswith("hung"):
            assert tags.startswith("active, crit, "), task
        elif label.endswith("completed"):
            assert tags.startswith("done, "), task
    assert any(t.startswith("44 runs hung :active, crit, ") for t in tasks)


def test_gantt_keeps_a_one_minute_failure_visible_in_a_four_day_chart():
    t0 = datetime(2026, 1, 28, tzinfo=UTC)
    segments = pl.DataFrame(
        {
            "namespace": ["media", "volsync-system"],
            "replication_source": ["sonarr", "nfs-repo"],
            "role": ["source", "maintenance"],
            "outcome": ["completed", "failed"],
            "runs": [200, 1],
            "from": [t0, t0 + timedelta(days=2)],
            "to": [t0 + timedelta(days=4), t0 + timedelta(days=2, seconds=60)],
        }
    )
    chart = gantt(bars(segments))
    span = 4 * 86400
    failed = next(line for line in chart.splitlines() if "1 run failed" in line)
    width = int(failed.rsplit(", ", 1)[1].removesuffix("s"))
    assert width >= span * MIN_BAR_SHARE  # at least 1/120 of the chart: ~6 px of 760
    assert "min. width 48 min" in chart.splitlines()[1]
    assert failed.strip().startswith("1 run failed :crit, 2026-01-30T00:00:00")


# ------------------------------------------------------------------ the duration chart


def _labels(chart: str) -> list[str]:
    axis = next(line for line in chart.splitlines() if "x-axis" in line)
    return re.findall(r'"([^"]*)"', axis)


def test_duration_chart_labels_never_overlap(example_report):
    """16 six-hour buckets do not fit side by side under 600 px of bars: the chart turns
    horizontal, one label per bar down the axis; four daily buckets stay vertical."""
    chart = example_report.split("```mermaid\nxychart-beta", 1)[1].split("```", 1)[0]
    labels = _labels(chart)
    assert len(labels) == 16
    assert chart.startswith(" horizontal\n")
    assert len(labels) * XY_LABEL_HEIGHT_PX <= XY_PLOT_HEIGHT
    assert len(set(labels)) == len(labels)

    days = [datetime(2026, 1, 28, tzinfo=UTC) + timedelta(days=i) for i in range(4)]
    buckets = pl.DataFrame(
        {
            "bucket": days,
            "runs": [40] * 4,
            "hung": [0] * 4,
            "failed": [0] * 4,
            "median_s": [60.0] * 4,
            "max_s": [90.0] * 4,
            "width_h": [24] * 4,
        }
    )
    vertical = duration_chart(buckets)
    assert vertical.startswith("xychart-beta\n")
    labels = _labels(vertical)
    assert labels == ["01-28", "01-29", "01-30", "01-31"]
    assert len(labels) * (max(map(len, labels)) * XY_CHAR_PX + XY_LABEL_GAP_PX) <= XY_PLOT_WIDTH


# ------------------------------------------------------------------ tables and the first screen


#: GitHub's comment column, px; a table cell's padding (13 px each side); px per character of
#: GitHub's 14 px sans-serif (digits are the widest).
COLUMN_PX, CELL_PAD_PX, CHAR_PX = 760, 26, 7.5


def _cells(row: str) -> list[str]:
    """A table row's cells as GitHub shows them, roughly: no escapes or code ticks."""
    cells = row.strip().removeprefix("|").removesuffix("|").split(" | ")
    return [re.sub(r"\\(.)", r"\1", c).replace("`", "").replace("**", "").strip() for c in cells]


def test_runs_table_fits_the_comment_column(example_report):
    """Outcome and duration lead; times drop the year (the day heads its rows). No column holds
    an unbreakable word that pushes the table past ~760 px, and a typical row fits unwrapped."""
    evidence = section(example_report, "Evidence")
    header = "| start (UTC) | duration | outcome | exit | ended | pod |"
    table = evidence.split(header, 1)[1].split("</details>", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")][1:]
    assert rows[0] == "| **2026-01-28** | | | | | |"
    assert re.match(
        r"\| 01-28 00:05:04Z \| ≥ 1h 04m \| hung \|  \| last 00:05:05Z \| volsync-src-recyclarr-",
        rows[1],
    ), rows[1]
    days = [r for r in rows if r.startswith("| **")]
    assert len(days) == len(set(days))
    cells = [_cells(r) for r in rows if not r.startswith("| **")]
    columns = list(zip(*cells, strict=True))
    unbreakable = sum(max(len(w) for c in col for w in (c.split() or [""])) for col in columns)
    assert unbreakable * CHAR_PX + CELL_PAD_PX * len(columns) <= COLUMN_PX
    widths = sorted(sum(map(len, c)) * CHAR_PX + CELL_PAD_PX * len(c) for c in cells)
    assert widths[len(widths) // 2] <= COLUMN_PX, widths[len(widths) // 2]
    assert "2026-01-28T00:05:04Z" not in table


def test_the_decisive_line_is_not_cut_in_a_code_block(example_report):
    """The repository permission line is 270 characters: a code block would show its first 90
    and scroll. In Symptoms it is quoted whole as inline code, which wraps."""
    symptoms = section(example_report, "Symptoms")
    part = symptoms.split("`permission-denied-repository`: ", 1)[1].split("\n\n###", 1)[0]
    quoted = next(line for line in part.splitlines() if line.startswith("> `"))
    assert quoted.endswith("open /repository/.shards: permission denied`")
    assert len(quoted) > 200
    for fence in re.findall(r"```txt\n(.*?)```", symptoms, re.DOTALL):
        for line in fence.splitlines():
            assert len(line) <= 90 or "permission denied" not in line
