"""The report's view: built once and frozen, truncated per level, laid out by one partial per
section, and the only thing the templates see."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import polars as pl
import pytest
from conftest import EXAMPLES, HUNG_BACKUP, hung_then_healthy
from jinja2 import nodes

from analyzer import analyze
from analyzer.report import REFERENCE_HEADINGS, RenderOptions, render_markdown, to_json
from analyzer.report.budget import LEVELS, WIDEST, DetailLevel, fit
from analyzer.report.markdown import _environment
from analyzer.report.prepare import LOG_TEXT, near, pick_excerpts, prepare, shown_events
from analyzer.report.view import SECTIONS, Postmortem, build

REPORTS = Path(__file__).resolve().parent.parent / "reports"
FIX = datetime(2026, 1, 29, 18, tzinfo=UTC)

#: What a template may apply: the markdown_safe renderers, the two for catalog text, `length`.
FILTERS = {"cell", "fence", "code", "prose", "trusted", "link_text", "length"}


@pytest.fixture(scope="module")
def example():
    return analyze([str(EXAMPLES / "logs")], fix_at=FIX)


@pytest.fixture(scope="module")
def postmortem(example):
    return build(example, RenderOptions())


def _templates() -> list[Path]:
    return sorted(REPORTS.rglob("*.md.j2"))


def test_the_sections_are_the_reference_write_up_s_in_its_order():
    assert REFERENCE_HEADINGS == (
        "Summary",
        "Symptoms",
        "Environment",
        "Root Cause",
        "Required Fix",
        "Alternative Fixes (Not Recommended)",
        "Evidence",
        "Related Issues and References",
        "Verification Status",
    )
    assert tuple(s.heading for s in SECTIONS) == REFERENCE_HEADINGS


def test_every_section_has_one_partial_one_view_module_and_nothing_is_left_over():
    partials = {p.relative_to(REPORTS).as_posix() for p in (REPORTS / "sections").glob("*")}
    assert partials == {s.partial for s in SECTIONS}
    parts = {f.name for f in dataclasses.fields(Postmortem)}
    assert parts == {s.name for s in SECTIONS} | {"header", "footer", "level"}
    for s in SECTIONS:
        assert s.build.__module__ == f"analyzer.report.view.{s.name}", s.name


def test_headings_are_declared_once_in_sections_not_in_templates():
    for path in _templates():
        lines = path.read_text(encoding="utf-8").splitlines()
        written = [line for line in lines if line.startswith("## ")]
        assert written == (["## {{ section.heading }}"] if path.name == "postmortem.md.j2" else [])


@pytest.mark.parametrize("path", _templates(), ids=lambda p: p.name)
def test_templates_see_only_the_view_and_the_markdown_filters(path):
    tree = _environment().parse(path.read_text(encoding="utf-8"))
    bound = {"v", "loop", "section"} | {
        n.name for n in tree.find_all(nodes.Name) if n.ctx == "store"
    }
    loaded = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    assert loaded <= bound, f"{path.name} reads {loaded - bound}"
    assert {f.name for f in tree.find_all(nodes.Filter)} <= FILTERS
    calls = list(tree.find_all(nodes.Call))
    assert calls == [], f"{path.name} calls something: the view is data, not methods"


def _walk(value, path="v"):
    """Every (path, value) inside the view, depth first."""
    yield path, value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, MappingProxyType):
        for key, item in value.items():
            yield from _walk(item, f"{path}[{key!r}]")


def test_the_view_is_frozen_all_the_way_down_and_holds_no_tables(postmortem):
    for where, value in _walk(postmortem):
        if dataclasses.is_dataclass(value):
            assert type(value).__dataclass_params__.frozen, where
        assert not isinstance(value, list | dict | set | pl.DataFrame | pl.Series), where
    with pytest.raises(dataclasses.FrozenInstanceError):
        postmortem.summary.status = "RESOLVED"


def test_a_narrower_level_only_truncates_the_view(postmortem):
    assert postmortem.level == WIDEST and postmortem.at(WIDEST) == postmortem
    for wide, narrow in zip(LEVELS, LEVELS[1:], strict=False):
        assert postmortem.at(wide).at(narrow) == postmortem.at(narrow)
        shown = postmortem.at(narrow).evidence
        assert len(shown.runs) <= narrow.runs and set(shown.runs) <= set(postmortem.evidence.runs)
        assert len(shown.segments) <= narrow.segments
        for before, after in zip(postmortem.evidence.findings, shown.findings, strict=True):
            assert (
                after.excerpts
                == tuple(e.at(narrow.context) for e in before.excerpts)[: narrow.excerpts]
            )
    with pytest.raises(ValueError, match="shows more"):
        postmortem.at(LEVELS[-1]).at(WIDEST)


def test_the_budget_takes_the_first_level_that_fits():
    sizes = {level: 100 * (len(LEVELS) - i) for i, level in enumerate(LEVELS)}
    tried: list[DetailLevel] = []

    def render(level: DetailLevel) -> str:
        tried.append(level)
        return "x" * sizes[level]

    assert fit(render, 300, trim_before="\n## Next") == "x" * 300
    assert tried == list(LEVELS[: len(LEVELS) - 2])


def test_every_log_text_column_exists_so_none_is_skipped_by_a_rename(example):
    for table, columns in LOG_TEXT.items():
        assert set(columns) <= set(getattr(example, table).columns), table


def test_the_excerpt_policy_and_the_redaction_pick_the_same_events(example, postmortem):
    picks = pick_excerpts(example.events, example.matches)
    shown = picks.filter(pl.col("rank") < WIDEST.excerpts)
    # the view shows the policy's picks, best first
    in_view = {f.signature: [e.where for e in f.excerpts] for f in postmortem.evidence.findings}
    picked = {sig: [] for sig in in_view}
    for sig, source, line in shown.select("signature", "source", "line_no").iter_rows():
        picked[sig].append(f"{source}:{line}")
    assert in_view == picked and any(len(w) > 1 for w in in_view.values())
    # and the events redacted are exactly the policy's candidates and the lines around them
    around = near(picks, example.events, WIDEST.context)["event_id"].unique().sort()
    assert shown_events(example)["event_id"].to_list() == around.to_list()
    redacted, _ = prepare(example, RenderOptions())
    assert redacted.events["event_id"].to_list() == around.to_list()


def test_no_secret_reaches_an_excerpt_from_its_matched_line_or_its_context(tmp_path):
    secret = "Tr0ub4dor&3-kopia"
    lookup = f"Cannot determine current user: user: unknown userid 1000 KOPIA_PASSWORD={secret}"
    lines = HUNG_BACKUP + [
        (1.0 + i, "stderr" if i % 2 else "stdout", lookup if i % 3 else f"KOPIA_PASSWORD={secret}")
        for i in range(12)
    ]
    a = analyze([str(hung_then_healthy(tmp_path, lines))])
    postmortem = build(a, RenderOptions())
    texts = [e.text for f in postmortem.evidence.findings for e in f.excerpts]
    assert any("[REDACTED:kopia-password]" in t for t in texts)
    assert not any(secret in t for t in texts)
    assert secret not in render_markdown(a)


class _Watched:
    """Stands in for `analysis.inputs` and notes which functions read it."""

    def __init__(self, inner):
        self._inner, self.readers = inner, set()

    def __getattr__(self, name):
        self.readers.add(sys._getframe(1).f_code.co_name)
        return getattr(self._inner, name)


def test_analysis_inputs_is_read_in_one_place_only(example):
    watched = _Watched(example.inputs)
    a = dataclasses.replace(example, inputs=watched)
    markdown, data = render_markdown(a), to_json(a)
    assert watched.readers == {"inputs_view"}
    assert f"**Inputs:** {example.inputs.lines} lines" in markdown
    assert data["inputs"]["lines"] == example.inputs.lines


def test_an_alternative_two_root_causes_offer_is_listed_once(tmp_path):
    from conftest import T0, cri_dir, cri_records, write_lines

    from analyzer import RenderOptions, analyze
    from analyzer.report.view import build

    d = cri_dir(tmp_path, "media", "volsync-src-app-aaaaa", "kopia")
    lines = [
        (0.0, "stdout", "Starting kopia mover container"),
        (1.0, "stderr", "ERROR Cannot determine current user: user: unknown userid 1000"),
        (
            2.0,
            "stderr",
            "ERROR Cannot determine current user: user: Current requires cgo or $USER set in environment",
        ),
    ]
    write_lines(d / "0.log", cri_records(T0, lines))
    a = analyze([str(tmp_path)])
    titles = [alt.title for alt in build(a, RenderOptions()).alternatives.items]
    # both user-lookup causes offer "Add the mover UID to /etc/passwd"
    assert titles.count("Add the mover UID to /etc/passwd") == 1
    assert len(titles) == len(set(titles)) >= 2
