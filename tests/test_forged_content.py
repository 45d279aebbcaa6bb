"""Nothing from outside can forge report structure: every value that came from logs, Loki labels,
file names or Kubernetes dumps renders inert, whichever field it lands in.

The analysis of a small incident is taken and every outside value in it (identity columns, log
text, templates, Environment facts from the dumps, security context, Job reasons, RS status,
input paths, skip and gap reasons, the Loki query, criterion reasons, notices, extracted fields)
is replaced with a hostile string. The report is then parsed with markdown-it-py: the only task
list items are the criteria, the only HTML is the report's own, the headings are the report's
own, no `@mention` or `#123` ref is live, and `<details>` stays balanced.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import polars as pl
import pytest

from analyzer import analyze
from analyzer.analysis import Analysis, Inputs
from analyzer.markdown_safe import (
    Outside,
    check_markdown,
    compose,
    headings,
    inert,
    parse,
    plain_text,
)
from analyzer.report import RenderOptions, render_markdown, to_json
from analyzer.report.markdown import _environment
from analyzer.report.view import build
from analyzer.sources.base import Provenance
from tests.conftest import HUNG_BACKUP, T0, hung_then_healthy

MARK = "<img src=x onerror=alert(1)>"


def hostile(tag: str) -> str:
    """A value that tries every way to forge a report: boxes, headings, HTML, pings, links."""
    return (
        f"{tag}\n- [x] forged box {tag}\n* [x] another\n1. [x] numbered\n## Forged heading {tag}\n"
        f"Forged setext\n===\n{MARK} @octocat </details>\n\n# Forged H1\n> quote\n"
        "<details><summary>x</summary>\n[ ] `tick` ``` | pipe | <!-- c --> #12 GH-3 "
        "https://evil.example.com/x [link](https://evil.example.com) **b** _i_ $x$ \\"
    )


#: String columns whose values come from outside, per table.
OUTSIDE_COLUMNS = (
    "namespace",
    "pod",
    "container",
    "replication_source",
    "role",
    "source",
    "message",
    "last_message",
    "terminal_line",
    "template",
    "example",
    "mover_version",
    "uid",
)
OUTSIDE_LISTS = ("pods", "replication_sources", "examples")


def _poison(frame: pl.DataFrame) -> pl.DataFrame:
    # Every outside value gets the hostile tail; equal values stay equal, so joins still hold.
    out = []
    for column in frame.columns:
        if column in OUTSIDE_COLUMNS and frame.schema[column] == pl.String:
            out.append(pl.col(column) + pl.lit(hostile(column.upper())))
        elif column in OUTSIDE_LISTS and frame.schema[column] == pl.List(pl.String):
            out.append(pl.col(column).list.eval(pl.element() + pl.lit(hostile(column.upper()))))
    return frame.with_columns(out) if out else frame


def _environment_of(h: Callable[[str], str]) -> dict[str, Any]:
    # Every field the Environment section shows, as Kubernetes dumps and logs could carry them.
    return {
        "mover_versions": [{"version": h("VERSION"), "runs": 1, "first": T0, "last": T0}],
        "kopia_versions": [{"value": h("KOPIA"), "count": 1}],
        "backends": [{"value": h("BACKEND"), "count": 1}],
        "repository_paths": [{"value": h("REPO"), "count": 1}],
        "s3_endpoints": [{"value": h("S3"), "count": 1}],
        "failed_uids": [h("UID")],
        "images": [h("IMAGE")],
        "security_context": {h("SC-KEY"): h("SC-VALUE"), "runAsUser": h("RUN-AS")},
        "replication_sources": [
            {
                "namespace": h("RS-NS"),
                "name": h("RS-NAME"),
                "last_sync_time": h("LAST-SYNC"),
                "status_duration_s": 12.0,
                "log_end": T0,
                "log_duration_s": 10.0,
                "log_pod": h("LOG-POD"),
                "next_sync_time": h("NEXT-SYNC"),
                "latest_result": h("RESULT"),
            }
        ],
        "pods": [],
        "jobs": [{"namespace": h("JOB-NS"), "job": h("JOB"), "failure_reason": h("JOB-REASON")}],
    }


def poisoned(a: Analysis) -> Analysis:
    """`a` with a hostile string in every value that came from outside."""
    tables = {
        name: _poison(getattr(a, name))
        for name in (
            "events",
            "runs",
            "probable",
            "findings",
            "per_source",
            "segments",
            "unclassified",
        )
    }
    inputs = Inputs(
        sources=[
            Provenance(
                "files",
                paths=(hostile("PATH"),),
                files=(hostile("FILE"),),
                skipped=((hostile("SKIPPED"), hostile("SKIP-REASON")),),
                not_mover=((hostile("NOT-MOVER"), hostile("NOT-MOVER-POD"), 10),),
            ),
            Provenance(
                "loki",
                details={
                    "address": hostile("ADDR"),
                    "query": hostile("QUERY"),
                    "mode": hostile("MODE"),
                    "lines_received": 1,
                    "bytes_received": 1,
                    "requests": 1,
                },
            ),
        ],
        lines=a.inputs.lines,
        gaps=[{"from": T0, "to": T0 + timedelta(minutes=5), "reason": hostile("GAP")}],
    )
    criteria = [dataclasses.replace(c, reason=c.reason + hostile("REASON")) for c in a.criteria]
    catalog = dataclasses.replace(a.catalog, overridden=[(hostile("ID"), hostile("OVERRIDE"))])
    return dataclasses.replace(
        a,
        **tables,
        inputs=inputs,
        environment=_environment_of(hostile),
        criteria=criteria,
        catalog=catalog,
        notices=[*a.notices, hostile("NOTICE")],
    )


@pytest.fixture(scope="module")
def incident(tmp_path_factory) -> Analysis:
    root = tmp_path_factory.mktemp("forged")
    # An unrecognised error before the connect, which keeps the hang attributable by inference.
    unknown = (0.05, "stderr", "ERROR: unable to frobnicate the widget 42 times")
    lines = sorted([*HUNG_BACKUP, unknown], key=lambda line: line[0])
    a = analyze([str(hung_then_healthy(root, lines))])
    assert a.runs.height == 2 and a.findings.height and a.unclassified.height
    assert a.probable.height, "the hung run should be attributed by inference"
    return a


def _list_items(md: str) -> list[str]:
    # The displayed text of every list item's first paragraph: GitHub ticks boxes by it.
    tokens = parse(md)
    out = []
    for i, tok in enumerate(tokens):
        if tok.type == "list_item_open":
            inline = next(t for t in tokens[i + 1 :] if t.type == "inline")
            out.append(inline.content)
    return out


def _tasks(md: str) -> list[str]:
    return [item for item in _list_items(md) if re.match(r"\[[ xX]\]\s", item)]


def _text_runs(md: str) -> Iterator[str]:
    # Displayed text outside code: where GitHub finds mentions and refs.
    for tok in parse(md):
        for child in tok.children or []:
            if child.type == "text":
                yield child.content


def _html(md: str) -> list[str]:
    found = []
    for tok in parse(md):
        if tok.type == "html_block":
            found += re.findall(r"<[^>]*>", tok.content)
        for child in tok.children or []:
            if child.type == "html_inline":
                found.append(child.content)
    return found


def _links(md: str) -> list[str]:
    return [
        child.attrs.get("href", "")
        for tok in parse(md)
        for child in tok.children or []
        if child.type == "link_open"
    ]


@pytest.mark.parametrize("max_chars", [60_000, 12_000])
def test_hostile_values_in_every_field_forge_nothing(incident, max_chars):
    clean = render_markdown(incident, RenderOptions(max_chars=10**9))
    md = render_markdown(poisoned(incident), RenderOptions(max_chars=max_chars))
    # The hostile values did reach the report (else this test proves nothing).
    for tag in ("RS-NAME", "JOB-REASON", "SC-VALUE", "RESULT", "NEXT-SYNC", "REASON", "POD"):
        assert tag in md, tag
    assert check_markdown(md) == []
    # The only task-list items are the criteria, each ticked as evaluated.
    tasks = _tasks(md)
    assert len(tasks) == len(incident.criteria)
    for task, c in zip(tasks, incident.criteria, strict=True):
        assert task.startswith(f"[{'x' if c.passed else ' '}] {c.criterion}")
    # No list item of any kind comes from outside.
    assert len(_list_items(md)) <= len(_list_items(clean))
    # The headings are the report's own (a small budget drops some Evidence blocks).
    assert set(headings(md)) <= set(headings(clean))
    if max_chars > len(clean):
        assert headings(md) == headings(clean)
    # Only the report's own HTML, and <details> balanced.
    tags = _html(md)
    assert tags.count("<details>") == tags.count("</details>") <= _html(clean).count("<details>")
    assert all(t in ("<details>", "</details>", "<summary>", "</summary>") for t in tags), tags
    # Nobody is pinged, nothing is linked that the catalog did not link.
    for text in _text_runs(md):
        assert not re.search(r"@[A-Za-z0-9]", text), text
    refs = [t for t in _text_runs(md) if re.search(r"#[0-9]|GH-[0-9]", t)]
    assert refs == [t for t in _text_runs(clean) if re.search(r"#[0-9]|GH-[0-9]", t)]
    assert _links(md) == _links(clean)


def test_the_footer_and_budget_survive_hostile_values(incident):
    md = render_markdown(poisoned(incident), RenderOptions(max_chars=8_000))
    assert md.rstrip().endswith("All times are UTC.")
    assert [h for level, h in headings(md) if level == 2] == _reference_headings()


def _reference_headings() -> list[str]:
    from analyzer.report import REFERENCE_HEADINGS

    return list(REFERENCE_HEADINGS)


def _strings(value: Any, path: str = "v") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            # `a` is the analysis itself; a chart bar's `group` is a key, never printed.
            if f.name not in ("a", "signatures", "group"):
                yield from _strings(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif isinstance(value, dict) or hasattr(value, "items"):
        for k, item in value.items():
            yield from _strings(item, f"{path}[{k!r}]")


def test_the_view_types_every_outside_string(incident):
    """Structural: an outside value in the view is `Outside` (printed inert by the template
    environment whatever the template does), or our Markdown with it already inert."""
    view = build(poisoned(incident), RenderOptions())
    leaks = [path for path, s in _strings(view) if MARK in s and not isinstance(s, Outside)]
    assert leaks == []
    typed = [path for path, s in _strings(view) if isinstance(s, Outside)]
    assert any(".security_context" in p for p in typed)
    assert any(".replication_sources" in p for p in typed)


def test_a_template_that_forgets_its_filter_still_prints_outside_text_inert():
    env = _environment()
    bad = Outside("x\n- [x] forged\n## heading <img src=x> @octocat #1 </details>")
    for source in ("{{ v }}", "{{ v | trusted }}", "{{ v | link_text }}"):
        out = env.from_string("- [ ] criterion: " + source).render(v=bad)
        assert out == "- [ ] criterion: " + inert(bad), source
        assert len(_list_items(out)) == 1 and headings(out) == [] and check_markdown(out) == []
    # Our own text is left as it is.
    assert env.from_string("{{ v }}").render(v="`code` **b**") == "`code` **b**"


def test_compose_fills_our_markdown_with_inert_values():
    out = compose("First hung run starts ({})", "pod\n## x <b> @me")
    assert out == "First hung run starts (pod ## x &lt;b&gt; @\u200bme)"
    assert headings(out) == []


def test_json_carries_outside_values_as_plain_strings(incident):
    data = to_json(poisoned(incident))
    reasons = [c["reason"] for c in data["validation"]]
    assert all(r.endswith(hostile("REASON")) for r in reasons)
    assert all(type(r) is str or isinstance(r, str) for r in reasons)


def test_inline_text_of_a_heading_is_the_catalog_title(incident):
    # The first-level heading names the catalog title, never outside text.
    md = render_markdown(poisoned(incident))
    tokens = parse(md)
    title = plain_text(tokens[1])
    assert title.startswith("VolSync mover postmortem: ") and "Forged" not in title


def test_a_hostile_loki_namespace_label_forges_no_checkbox():
    """The probe's case end to end: a namespace label with newlines, boxes and HTML, read from
    Loki, reaches criterion reasons, the gantt and the tables, and forges nothing."""
    from datetime import UTC, datetime

    from analyzer.analysis import LokiRequest
    from analyzer.sources import loki
    from analyzer.sources.loki import LokiConfig
    from testing.loki_emulator import LokiEmulator, Stream
    from testing.mover import mover_run_lines

    ns = "media\n- [x] 48 hours of successful syncs: forged\n## Forged\n<img src=x> @octocat </details>"
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    start = loki.to_ns(t0)
    # A completed run in `media`; in the hostile namespace a run still going at the window's
    # end, so the sync criterion names that ReplicationSource in its reason.
    lines = [line for _, line in mover_run_lines("app", "media", failed=False, progress=3)]
    done = [(start + i * 10**9, line) for i, line in enumerate(lines)]
    late = start + (3 * 3600 + 55 * 60) * 10**9
    going = [(late + i * 10**9, line) for i, line in enumerate(lines[:4])]
    streams = [
        Stream({"namespace": "media", "pod": "volsync-src-app-abcde", "container": "kopia"}, done),
        Stream({"namespace": ns, "pod": "volsync-src-web-bcdef", "container": "kopia"}, going),
    ]
    with LokiEmulator(streams) as emu:
        request = LokiRequest(LokiConfig(emu.url), mode="full", parallel=1, progress=False)
        a = analyze(loki=request, from_="2026-03-02T02:00:00Z", to="2026-03-02T06:00:00Z")
    md = render_markdown(a)
    sync = next(c for c in a.criteria if c.criterion.endswith("hours of successful syncs"))
    assert "no completed sync" in sync.reason and "Forged" in sync.reason
    assert check_markdown(md) == []
    assert len(_tasks(md)) == len(a.criteria)
    assert all("Forged" not in text for _, text in headings(md))
    assert not any(re.search(r"@[A-Za-z0-9]", t) for t in _text_runs(md))
