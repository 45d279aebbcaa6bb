"""Sign-off only on evidence: no ticked box from missing data (issue 15).

A "no X seen" criterion needs mover runs observed in its stretch and no data gap over it; with
nothing to judge the status is NO DATA, and the report's headline never makes an environmental
line the incident.
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

from conftest import EXAMPLES, HEALTHY_BACKUP, T0, cri_dir, cri_records, write_lines

from analyzer import analyze, render_markdown, to_json

TICKED = re.compile(r"^- \[x\] ", re.M)


def ticked(md: str) -> list[str]:
    return TICKED.findall(md)


def test_a_folder_with_only_a_readme_ticks_nothing_and_says_no_data(tmp_path):
    (tmp_path / "readme.txt").write_text("logs from the NAS, see below\n")
    a = analyze([str(tmp_path)])
    assert a.status == "NO DATA"
    assert all(c.passed is None for c in a.criteria)
    md = render_markdown(a)
    assert ticked(md) == [] and "**Status:** NO DATA" in md
    assert to_json(a)["status"] == "NO DATA"


def test_a_kubernetes_dump_alone_ticks_nothing(tmp_path):
    shutil.copy(EXAMPLES / "logs" / "kube" / "replicationsources.json", tmp_path)
    a = analyze([str(tmp_path)])
    assert a.status == "NO DATA" and ticked(render_markdown(a)) == []


def test_no_user_lookup_errors_is_not_shown_by_a_window_without_runs(tmp_path):
    d = cri_dir(tmp_path, "media", "volsync-src-app-aaaaa", "kopia")
    write_lines(d / "0.log", cri_records(T0, HEALTHY_BACKUP))
    # the window starts two days after the only run ended
    a = analyze([str(tmp_path)], from_="2026-02-02T00:00:00Z", to="2026-02-04T00:00:00Z")
    assert a.runs.height == 0 and a.status == "NO DATA"
    lookup = next(c for c in a.criteria if c.criterion == "No user lookup errors in kopia logs")
    assert lookup.passed is None and lookup.reason.startswith("cannot be shown")


def test_with_runs_in_the_stretch_the_same_criteria_are_shown(tmp_path):
    for i in range(3):
        d = cri_dir(
            tmp_path,
            "media",
            f"volsync-src-app-aaaa{i}",
            "kopia",
            uid=f"{i}" * 8 + "-1111-2222-3333-444455556666",
        )
        write_lines(d / "0.log", cri_records(T0 + timedelta(hours=i), HEALTHY_BACKUP))
    a = analyze([str(tmp_path)])
    by = {c.criterion: c for c in a.criteria}
    assert by["No user lookup errors in kopia logs"].passed is True
    assert by["No new futex deadlocks or hangs in mover pod logs"].passed is True
    assert a.status == "OBSERVING"  # 2 h of data, 48 h required


def test_a_data_gap_over_the_stretch_leaves_no_x_seen_unshown():
    from analyzer import validation
    from analyzer.catalog import load_catalog

    a = analyze([str(EXAMPLES / "logs")], fix_at=None)
    gap = {"from": a.data_end - timedelta(hours=3), "to": a.data_end, "reason": "HTTP 503"}
    criteria = validation.evaluate(
        runs=a.runs,
        matches=a.matches.head(0),
        events=a.events,
        signatures=load_catalog().signatures,
        data_start=a.data_start,
        window_end=a.data_end,
        fix_at=None,
        gaps=[gap],
    )
    hangs = next(c for c in criteria if c.criterion.startswith("No new futex"))
    assert hangs.passed is None and "data gap" in hangs.reason


def test_an_environmental_line_alone_is_never_the_headline(tmp_path):
    d = cri_dir(tmp_path, "media", "volsync-src-app-aaaaa", "kopia")
    write_lines(d / "0.log", cri_records(T0, HEALTHY_BACKUP))  # has the whoami line
    md = render_markdown(analyze([str(tmp_path)]))
    title = md.splitlines()[0]
    assert "whoami" not in title.lower() and "no failure signature matched" in title
