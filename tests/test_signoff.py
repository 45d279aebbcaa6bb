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
    """Its `latestMoverStatus.logs` are each source's last run (seven completed ones), which
    is something observed but no stretch of clean syncs: nothing is ticked."""
    shutil.copy(EXAMPLES / "logs" / "kube" / "replicationsources.json", tmp_path)
    a = analyze([str(tmp_path)])
    assert a.runs.height == 7 and a.runs["pod"].is_null().all()
    assert a.status == "OBSERVING" and ticked(render_markdown(a)) == []


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


def test_an_empty_window_says_where_the_data_is_on_stderr_and_first_in_the_summary(tmp_path):
    from click.testing import CliRunner

    from analyzer.cli import main

    d = cri_dir(tmp_path, "media", "volsync-src-app-aaaaa", "kopia")
    write_lines(d / "0.log", cri_records(T0, HEALTHY_BACKUP))
    result = CliRunner().invoke(
        main, [str(tmp_path), "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-03T00:00:00Z"]
    )
    assert result.exit_code == 0
    warning = result.stderr.strip()
    assert warning.startswith("analyze: warning: the window") and "\n" not in warning
    assert "the input spans 2026-01-31T16:00:03Z" in warning and "--from/--to" in warning
    summary = result.stdout.split("## Summary", 1)[1]
    assert summary.lstrip().startswith("> **Note:** the window")
    assert ticked(result.stdout) == []


def test_a_fix_after_the_data_is_said(tmp_path):
    d = cri_dir(tmp_path, "media", "volsync-src-app-aaaaa", "kopia")
    write_lines(d / "0.log", cri_records(T0, HEALTHY_BACKUP))
    from datetime import UTC, datetime

    a = analyze([str(tmp_path)], fix_at=datetime(2026, 2, 5, tzinfo=UTC))
    assert any(
        n.startswith("--fix-at 2026-02-05T00:00:00Z is after the last log line") for n in a.notices
    )


def test_live_stdin_reads_silence_up_to_the_time_of_the_analysis(tmp_path, monkeypatch):
    """`kubectl logs <hung pod> --timestamps | analyze - --pod …`: the README's own flow."""
    import io
    from datetime import UTC, datetime

    from analyzer import Overrides

    lines = [
        "2026-01-31T16:00:03.412000000Z Starting kopia mover container",
        "2026-01-31T16:00:03.722000000Z Executing connection command...",
    ]
    stdin = io.TextIOWrapper(io.BytesIO(("\n".join(lines) + "\n").encode()))
    monkeypatch.setattr("sys.stdin", stdin)
    a = analyze(
        ["-"],
        overrides=Overrides(namespace="media", pod="volsync-src-app-aaaaa"),
        now=datetime(2026, 1, 31, 17, 0, tzinfo=UTC),
    )
    run = a.runs.row(0, named=True)
    assert (run["outcome"], run["outcome_basis"]) == ("hung", "silence-at-analysis-time")
    assert "hung if the pod is still running" in render_markdown(a)


def test_live_stdin_that_just_spoke_is_running(tmp_path, monkeypatch):
    import io
    from datetime import UTC, datetime

    from analyzer import Overrides

    line = "2026-01-31T16:00:03.722000000Z Executing connection command...\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(line.encode())))
    a = analyze(
        ["-"],
        overrides=Overrides(namespace="media", pod="volsync-src-app-aaaaa"),
        now=datetime(2026, 1, 31, 16, 5, tzinfo=UTC),
    )
    assert a.runs["outcome"].to_list() == ["running"]


def test_untimed_kubectl_logs_get_a_hint_to_add_timestamps(tmp_path):
    paste = tmp_path / "volsync-src-app-aaaaa.log"
    paste.write_text("Starting kopia mover container\nExecuting connection command...\n")
    a = analyze([str(paste)])
    assert a.runs["outcome"].to_list() == ["unknown"]
    assert any("add --timestamps" in n for n in a.notices)
