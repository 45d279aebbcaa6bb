"""Pushdown that is cheap for Loki: the literals sent instead of the catalog's regexes, the exact
regexes applied here, `auto` decided by Loki's index volume, and the fallback to the syntax of a
Loki older than 3.0. Against the emulator; tests/test_real_loki.py runs the same on a real Loki.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import analysis, analyze, catalog
from analyzer.sources.base import Wants
from analyzer.sources.loki import LokiConfig, LokiSource, fetch
from analyzer.sources.loki.literals import (
    MIN_LITERAL,
    CheapFilter,
    Literal,
    cheap_filter,
    required_literals,
)
from analyzer.sources.loki.logql import build_log_query, keep_labels, selector_labels
from analyzer.timeutil import Window
from testing.examples import FIX, POD_LOGS, WINDOW, comparable
from testing.loki_emulator import Fault, LokiEmulator, fail_when
from testing.loki_streams import mover_streams, promtail_streams

CATALOG = catalog.load_catalog([])
PUSHDOWN = analysis.pushdown_filters(CATALOG.signatures)


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"^user: unknown userid (\d+)", {Literal("user: unknown userid ")}),
        (r"(?i)\b(?:error|failed)\b", {Literal("error", True), Literal("failed", True)}),
        (r"^INFO: EXIT_CODE: (?P<code>\d+)$", {Literal("INFO: EXIT_CODE: ")}),
        # a group's own literal wins when longer than the text around it
        (r"x(?:connection refused)+y", {Literal("connection refused")}),
        # only the case-insensitive part folds
        (r"Kopia (?i:COMPLETED) in", {Literal("COMPLETED", True)}),
        (r"[.]bak\.tmp$", {Literal(".bak.tmp")}),
    ],
)
def test_the_literals_a_matching_line_must_contain(regex, expected):
    assert required_literals(regex) == expected


@pytest.mark.parametrize(
    "regex",
    [
        r"^\d+ \w+$",  # classes only
        r"(?:foo)?bar?",  # optional parts and a 2-letter literal
        r"error|\d+",  # one branch without a literal: the alternation has none
        r"\x{263a}",  # RE2 syntax Python cannot read
    ],
)
def test_a_regex_without_a_literal_of_three_characters_has_none(regex):
    assert required_literals(regex) is None


def test_a_regex_without_literals_is_sent_to_loki_as_it_is():
    cheap = cheap_filter([r"^\d+ \w+$", "unknown userid"])
    assert cheap == CheapFilter((Literal("unknown userid"),), (r"^\d+ \w+$",))
    query = build_log_query('{app="x"}', cheap)
    assert query.startswith('{app="x"} |~ "unknown userid" or "^\\\\d+ \\\\w+$" | keep ')


def test_literals_implied_by_others_are_dropped():
    cheap = cheap_filter([r"(?i)\berror\b", r"ERROR: cannot connect", r"connection refused"])
    assert cheap.literals == (Literal("connection refused"), Literal("error", True))


def test_the_catalog_needs_no_regex_sent_whole_and_few_literals():
    cheap = cheap_filter(PUSHDOWN)
    assert cheap.regexes == ()
    assert all(len(lit.text) >= MIN_LITERAL for lit in cheap.literals)
    # 168 regexes (9.7 kB) become about a hundred substring searches
    assert len(cheap.literals) < len(PUSHDOWN) * 0.7


def test_every_example_line_of_every_signature_passes_the_cheap_filter():
    cheap = cheap_filter(PUSHDOWN)
    for sig in CATALOG.signatures:
        for line in sig.examples_match:
            assert cheap.passes(line), (sig.id, line)


def test_every_line_the_exact_filters_keep_in_the_example_incident_passes_the_cheap_filter():
    events = analyze(POD_LOGS, **WINDOW).events
    exact = pl.any_horizontal([pl.col("message").str.contains(rx) for rx in PUSHDOWN])
    kept = events.filter(exact)["message"].to_list()
    cheap = cheap_filter(PUSHDOWN)
    assert len(kept) > 5000 and all(cheap.passes(line) for line in kept)


_WORDS = st.sampled_from(["error", "ERROR", "unknown userid", "Done", "x", "repo", "äöü", " "])


@settings(max_examples=300, deadline=None)
@given(
    regex=st.lists(_WORDS, min_size=1, max_size=4).map(
        lambda ws: "|".join(f"(?:{re.escape(w)})" for w in ws)
    ),
    flags=st.sampled_from(["", "(?i)"]),
    line=st.lists(_WORDS, max_size=6).map("".join),
)
def test_the_cheap_filter_passes_every_line_the_regex_matches(regex, flags, line):
    pattern = flags + regex
    cheap = cheap_filter([pattern])
    if re.search(pattern, line) and not cheap.regexes:
        assert cheap.passes(line)


def test_selector_labels_and_the_labels_kept():
    assert selector_labels('{cluster="a=b", namespace=~"m.*"}') == ["cluster", "namespace"]
    kept = keep_labels('{cluster="prod", container=~"kopia"}')
    assert kept[:3] == ("namespace", "pod", "container") and kept[-1] == "cluster"


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _streams():
    return mover_streams(apps=4, runs=6, start_ns=int(T0.timestamp()) * 10**9, seed=3)


def _wants(hours: float) -> Wants:
    return Wants(window=Window(T0, T0 + timedelta(hours=hours)), line_filters=tuple(PUSHDOWN))


@pytest.mark.parametrize(("above_mb", "mode"), [(4.0, "full"), (0.001, "pushdown")])
def test_auto_goes_by_the_volume_loki_reports(above_mb, mode):
    with LokiEmulator(_streams()) as emu:
        source = LokiSource(LokiConfig(emu.url), mode="auto", pushdown_above_mb=above_mb)
        chosen, reason = source.transfer_mode(_wants(48))
        asked = [r.path for r in emu.requests]
    assert chosen == mode
    assert asked == ["/loki/api/v1/index/volume"]
    assert reason.startswith("auto: Loki's index/volume puts the selector at ")
    assert ("under" if mode == "full" else "over") in reason


def test_auto_falls_back_to_index_stats_then_to_the_window():
    not_routed = Fault.http(404, "404 page not found\n")
    volume_gone = fail_when(lambda info: info.path.endswith("/index/volume"), not_routed)
    with LokiEmulator(_streams(), faults=volume_gone) as emu:
        source = LokiSource(LokiConfig(emu.url), pushdown_above_mb=0.001)
        mode, reason = source.transfer_mode(_wants(1))
    assert mode == "pushdown" and reason.startswith("auto: Loki's index/stats puts the ")
    index_gone = fail_when(lambda info: "/index/" in info.path, not_routed)
    with LokiEmulator(_streams(), faults=index_gone) as emu:
        source = LokiSource(LokiConfig(emu.url))
        short, long = source.transfer_mode(_wants(6)), source.transfer_mode(_wants(48))
    assert short[0] == "full" and long[0] == "pushdown"
    assert long[1] == (
        "auto: Loki answered neither index/volume nor index/stats; the window is 48 h, over 12 h"
    )


def test_pushdown_keeps_exactly_the_lines_the_regexes_match_though_loki_sends_more():
    filters = [r"^INFO: EXIT_CODE: [1-9]", r"(?i)\bcannot\b"]
    window = (T0, T0 + timedelta(hours=8))
    with LokiEmulator(_streams()) as emu:
        full = fetch(LokiConfig(emu.url), *window, mode="full")
        push = fetch(LokiConfig(emu.url), *window, mode="pushdown", line_filters=filters)
    expected = full.lines.filter(
        pl.any_horizontal(pl.col("message").str.contains(f) for f in filters)
    )
    assert push.lines.select("ts", "pod", "message").equals(expected.select("ts", "pod", "message"))
    # Loki got substring searches and sent the `INFO: EXIT_CODE: 0` lines too
    assert '|~ "INFO: EXIT_CODE: " or "(?i)cannot" | keep ' in push.query
    assert push.lines_received > push.lines.height > 0


def test_a_loki_older_than_3_0_is_asked_again_in_the_syntax_it_parses():
    """Loki 2.x has neither `or` between line filters nor `| keep`: its 400 points past the
    selector, and the same fetch is sent as one alternation without `| keep`."""
    old_loki = Fault.http(
        400, "parse error at line 1, col 52: syntax error: unexpected or, expecting | or )"
    )
    modern = fail_when(lambda info: " | keep " in info.params.get("query", ""), old_loki)
    window = (T0, T0 + timedelta(hours=8))
    filters = ["INFO: EXIT_CODE: ", r"(?i)\bcannot\b"]
    with LokiEmulator(_streams(), faults=modern) as emu:
        push = fetch(LokiConfig(emu.url), *window, mode="pushdown", line_filters=filters)
        full = fetch(LokiConfig(emu.url), *window, mode="full")
    with LokiEmulator(_streams()) as emu:
        reference = fetch(LokiConfig(emu.url), *window, mode="pushdown", line_filters=filters)
    assert push.query.endswith('|~ "(?:INFO: EXIT_CODE: )|(?:(?i:cannot))"')
    assert " | keep " not in full.query and full.lines.height > push.lines.height
    assert push.lines.select("ts", "pod", "message").equals(
        reference.lines.select("ts", "pod", "message")
    )


def test_a_bad_selector_is_not_retried_in_the_old_syntax():
    from analyzer.errors import LokiQueryError

    window = (T0, T0 + timedelta(hours=1))
    with LokiEmulator(_streams()) as emu:
        with pytest.raises(LokiQueryError, match="HTTP 400"):
            fetch(LokiConfig(emu.url), *window, selector='{container="kopia" |= "x"}')
        sent = {r.params["query"] for r in emu.query_requests()}
    assert all(" | keep " in q for q in sent)


def test_the_report_says_which_mode_ran_and_why():
    from analyzer.report import render_markdown

    emu = LokiEmulator()
    for labels, entries in promtail_streams(analyze(POD_LOGS, **WINDOW).events):
        emu.push(labels, entries)
    with emu:
        source = LokiSource(LokiConfig(emu.url), progress=False)
        a = analyze(loki=source, fix_at=datetime.fromisoformat(FIX), **WINDOW)
    assert a.inputs.loki["mode"] == "full"
    report = render_markdown(a)
    assert re.search(
        r"mode: auto: Loki's index/volume puts the selector at 1\.\d\d MB in the window, "
        r"under 4 MB, so every line was pulled\.\n",
        report,
    )
    from_files = analyze(POD_LOGS, fix_at=datetime.fromisoformat(FIX), **WINDOW)
    assert comparable(a) == comparable(from_files)
