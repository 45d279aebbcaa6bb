"""`--max-chars` is a promise: every table is cut to the budget's level ("… N more rows"), and
when even the narrowest report does not fit, one warning says so (stderr and JSON `notices`)."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import polars as pl
import pytest
from click.testing import CliRunner

from analyzer import analyze
from analyzer.analysis import Analysis, Inputs
from analyzer.cli import main
from analyzer.markdown_safe import check_markdown, headings
from analyzer.report import REFERENCE_HEADINGS, RenderOptions, render_markdown, to_json
from analyzer.report.budget import LEVELS, cap
from analyzer.sources.base import Provenance
from tests.conftest import EXAMPLES, HUNG_BACKUP, T0, hung_then_healthy

N_RS = 800
OVER = re.compile(r"over the --max-chars budget")


def _many(frame: pl.DataFrame, n: int) -> pl.DataFrame:
    # `frame`'s first row once per ReplicationSource app-000 … app-<n-1>.
    row = frame.head(1)
    names = pl.Series("replication_source", [f"app-{i:03d}" for i in range(n)])
    out = pl.concat([row] * n).with_columns(names)
    if "pod" in out.columns:
        out = out.with_columns(("volsync-src-" + names + "-abcde").alias("pod"))
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Analysis:
    return analyze([str(hung_then_healthy(tmp_path_factory.mktemp("budget"), HUNG_BACKUP))])


def many_sources(a: Analysis) -> Analysis:
    """`a` as if it had read 800 ReplicationSources: per-source rows, gantt stretches, runs,
    their status from a dump, 800 skipped inputs and images, gaps."""
    env = dict(a.environment)
    env["replication_sources"] = [
        {
            "namespace": "media",
            "name": f"app-{i:03d}",
            "last_sync_time": "2026-01-31T16:00:00Z",
            "status_duration_s": 61.0,
            "log_end": T0,
            "log_duration_s": 60.0,
            "log_pod": None,
            "next_sync_time": "2026-01-31T17:00:00Z",
            "latest_result": "Successful",
        }
        for i in range(N_RS)
    ]
    env["images"] = [f"ghcr.io/example/volsync:0.{i}" for i in range(N_RS)]
    env["jobs"] = [
        {
            "namespace": "media",
            "job": f"volsync-src-app-{i:03d}",
            "failure_reason": "BackoffLimitExceeded",
        }
        for i in range(N_RS)
    ]
    inputs = Inputs(
        sources=[
            Provenance(
                "files",
                paths=tuple(f"/logs/app-{i:03d}.log" for i in range(N_RS)),
                files=tuple(f"/logs/app-{i:03d}.log" for i in range(N_RS)),
                skipped=tuple((f"/logs/broken-{i:03d}.log.gz", "not gzip") for i in range(N_RS)),
            )
        ],
        lines=a.inputs.lines,
        gaps=[
            {
                "from": T0 + timedelta(hours=i),
                "to": T0 + timedelta(hours=i, minutes=5),
                "reason": "HTTP 503",
            }
            for i in range(N_RS)
        ],
    )
    return dataclasses.replace(
        a,
        per_source=_many(a.per_source, N_RS),
        segments=_many(a.segments, N_RS),
        runs=_many(a.runs, N_RS).with_columns(pl.int_range(N_RS).alias("run_id")),
        environment=env,
        inputs=inputs,
        notices=list(a.notices),
    )


def _section(md: str, title: str) -> str:
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", md, re.M | re.S)
    assert m, title
    return m.group(1)


def _table_rows(text: str) -> int:
    return (
        len([line for line in text.splitlines() if line.startswith("| ") and "---" not in line]) - 1
    )


def test_a_cap_counts_what_it_leaves_out():
    shown = cap(range(10), 4)
    assert tuple(shown) == (0, 1, 2, 3) and shown.more == 6
    again = cap(shown, 1)
    assert tuple(again) == (0,) and again.more == 9
    assert cap((), 3).more == 0 and not cap((), 3)


@pytest.mark.parametrize("budget", [60_000, 30_000, 10_000, 5_000])
def test_800_replication_sources_keep_the_budget_or_say_so(small, budget):
    a = many_sources(small)
    md = render_markdown(a, RenderOptions(max_chars=budget))
    assert check_markdown(md) == []
    assert [t for level, t in headings(md) if level == 2] == list(REFERENCE_HEADINGS)
    warned = [n for n in a.notices if OVER.search(n)]
    if len(md) <= budget:
        assert warned == []
    else:
        assert len(warned) == 1 and f"{len(md):,} characters" in warned[0]
        assert warned == [n for n in to_json(a)["notices"] if OVER.search(n)]
    if budget >= 30_000:
        assert len(md) <= budget
    # Every table that grows with the input is cut, saying how much is left out.
    for title, more in (("Per ReplicationSource", "see JSON (`runs`)"),):
        body = _section(md, title)
        shown = _table_rows(body)
        m = re.search(rf"… (\d+) more row\(s\), {re.escape(more)}", body)
        assert m and shown + int(m.group(1)) == N_RS, body[-300:]
    env = _section(md, "Environment")
    for more in (
        "not shown to fit the size budget",
        "see JSON (`inputs.skipped`)",
        "see JSON (`inputs.gaps`)",
    ):
        assert re.search(rf"… \d+ more row\(s\), {re.escape(more)}", env), more
    assert re.search(r"and \d+ more", env)  # images, Jobs


def test_the_budget_is_kept_down_to_the_narrowest_level_of_every_table(small):
    # With every table at one row, 800 ReplicationSources cost no more than one does.
    a = many_sources(small)
    one = render_markdown(small, RenderOptions(max_chars=10**9))
    md = render_markdown(a, RenderOptions(max_chars=len(one) + 4_000))
    assert len(md) <= len(one) + 4_000
    assert LEVELS[-1].rows == 1


def test_a_budget_that_cannot_be_met_is_one_warning_on_stderr_and_in_json(tmp_path):
    runner = CliRunner()
    args = [str(EXAMPLES / "logs"), "--fix-at", "2026-01-29T18:00:00Z", "--max-chars", "5000"]
    result = runner.invoke(main, [*args, "--output-file", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if OVER.search(line)]
    assert len(warnings) == 1 and warnings[0].startswith("analyze: warning: the Markdown report is")
    fits = runner.invoke(main, [*args[:-1], "60000", "--output-file", str(tmp_path / "ok.md")])
    assert not OVER.search(fits.stderr)


def test_only_the_last_rendering_decides_the_warning(small):
    a = many_sources(small)
    render_markdown(a, RenderOptions(max_chars=5_000))
    render_markdown(a, RenderOptions(max_chars=6_000))
    assert len([n for n in a.notices if OVER.search(n)]) == 1
    render_markdown(a, RenderOptions(max_chars=60_000))
    assert [n for n in a.notices if OVER.search(n)] == []
