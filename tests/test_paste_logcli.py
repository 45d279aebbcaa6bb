"""Pasted `logcli query` output: `default`, `jsonl` and `raw`, in logcli's own bytes
(`testing/logcli.py`, from grafana/loki pkg/logcli/output/{default,jsonl,raw}.go and
pkg/logcli/query/query.go). Identity comes from the labels on each line, or from the
`Common labels:` line logcli prints to stderr; runs come out as from the node logs."""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from conftest import HEALTHY_BACKUP, HUNG_BACKUP, T0, write_lines

from analyzer import analyze
from analyzer.envelopes import events_from_raw
from testing.logcli import query_output
from testing.write import kubectl

NS = "media"
#: Read 3 h after the first pod started: the first pod's silence is a hang.
UNTIL = "2026-01-31T19:00:00Z"
HUNG_POD, HEALTHY_POD = "volsync-src-recyclarr-aaaaa", "volsync-src-recyclarr-bbbbb"


def promtail_labels(pod: str, stream: str) -> dict[str, str]:
    """The labels Promtail's kubernetes-pods job gives a mover's stream."""
    return {
        "app": "volsync",
        "container": "kopia",
        "filename": f"/var/log/pods/{NS}_{pod}_0f4c7b1e/kopia/0.log",
        "job": f"{NS}/volsync",
        "namespace": NS,
        "node_name": "k8s-worker-2",
        "pod": pod,
        "stream": stream,
    }


def entries():
    """The smallest incident as Loki holds it: a pod that hangs after connecting, and its
    replacement 50 minutes later that completes (conftest's HUNG_BACKUP / HEALTHY_BACKUP)."""
    out = []
    for pod, start, lines in (
        (HUNG_POD, T0, HUNG_BACKUP),
        (HEALTHY_POD, T0 + timedelta(minutes=50), HEALTHY_BACKUP),
    ):
        for seconds, stream, text in lines:
            out.append((start + timedelta(seconds=seconds), promtail_labels(pod, stream), text))
    return out


def write_paste(tmp_path, name: str, **options) -> str:
    out, stderr = query_output(entries(), **options)
    lines = ([stderr] if stderr else []) + out  # `logcli query … 2>&1 | tee paste.txt`
    return str(write_lines(tmp_path / name, lines))


def runs_of(path: str) -> pl.DataFrame:
    a = analyze([path], until=UNTIL)
    return a.runs.sort("start").select("namespace", "pod", "outcome", "duration_s", "exit_code")


def expected_runs() -> list[tuple]:
    return [
        (NS, HUNG_POD, "hung", None),
        (NS, HEALTHY_POD, "completed", 0),
    ]


@pytest.mark.parametrize("forward", [False, True], ids=["newest-first", "forward"])
@pytest.mark.parametrize("colour", [False, True], ids=["plain", "terminal-colours"])
def test_default_output_gives_the_runs_of_each_pod(tmp_path, forward, colour):
    """logcli's default output of a query over both pods: each line's labels name its pod (and
    stream); namespace and container are common, printed once on stderr. Newest first (logcli's
    default) or `--forward`, coloured or not, the runs are those of the node logs."""
    path = write_paste(tmp_path, "paste.txt", forward=forward, colour=colour)
    text = re.sub(r"\x1b\[[0-9;]*m", "", Path(path).read_text())
    assert 'Common labels: {app="volsync", container="kopia", job="media/volsync"' in text
    assert f'pod="{HUNG_POD}", stream="stdout"}} Starting kopia mover container' in text

    runs = runs_of(path)
    assert [(r[0], r[1], r[2], r[4]) for r in runs.iter_rows()] == expected_runs()
    assert runs["duration_s"][1] == pytest.approx(45, abs=1)  # to the second: logcli's precision
    ev = analyze([path], until=UNTIL).events
    mover = ev.filter(pl.col("envelope") == "logcli")
    assert set(mover["container"]) == {"kopia"} and set(mover["namespace"]) == {NS}
    assert mover.filter(pl.col("message").str.starts_with("whoami"))[
        "stream"
    ].unique().to_list() == ["stderr"]
    assert ev.filter(pl.col("envelope") == "viewer").height == 1  # the Common labels line
    assert ev["parsed"].all()


def test_jsonl_output_gives_the_runs_of_each_pod(tmp_path):
    path = write_paste(tmp_path, "paste.jsonl", output="jsonl", tz=timezone(timedelta(hours=1)))
    first = Path(path).read_text().splitlines()[1]
    assert first.startswith(
        '{"labels":{"filename":"/var/log/pods/media_volsync-src-recyclarr-bbbbb_0f4c7b1e/kopia/0.log","pod":"volsync-src-recyclarr-bbbbb","stream":"stdout"},"line":"INFO: === Done ===","timestamp":"2026-01-31T17:50:48.912+01:00"}'
    )
    runs = runs_of(path)
    assert [(r[0], r[1], r[2], r[4]) for r in runs.iter_rows()] == expected_runs()
    ev = analyze([path], until=UNTIL).events
    assert set(ev.filter(pl.col("envelope") == "logcli-jsonl")["pod"]) == {HUNG_POD, HEALTHY_POD}
    assert ev["ts"].min() == T0  # +01:00 read as UTC


def test_one_stream_has_all_its_labels_common(tmp_path):
    """A query for one pod: every label is common, each line shows `{}`; the stderr line names
    the pod."""
    one = [e for e in entries() if e[1]["pod"] == HEALTHY_POD and e[1]["stream"] == "stdout"]
    out, stderr = query_output(one, forward=True)
    assert out[0].startswith("2026-01-31T16:50:03Z {} Starting kopia mover container")
    path = str(write_lines(tmp_path / "one.log", [stderr, *out]))
    runs = runs_of(path)
    assert runs.rows() == [(NS, HEALTHY_POD, "completed", pytest.approx(45, abs=1), 0)]


def test_raw_output_is_bare_pod_output(tmp_path):
    """`--output=raw` is the lines alone: bare pod output, identity from the flags or the file
    name, outcome from the markers."""
    path = write_paste(tmp_path, f"{HEALTHY_POD}.log", output="raw", forward=True)
    a = analyze([path])
    ev = a.events
    assert set(ev["envelope"]) == {"plain", "viewer"} and ev["parsed"].all()
    # the Common labels line names namespace and container; the file name, the pod
    assert set(ev.filter(pl.col("envelope") == "plain")["namespace"]) == {NS}
    assert a.runs.select("pod", "outcome").rows() == [(HEALTHY_POD, "completed")]


def test_a_kubectl_line_holding_json_stays_kubectl():
    """Kopia's `--json-log-console` line under a `kubectl --timestamps` stamp starts with `{`
    but is no LabelSet: it stays kubectl, its JSON read as Kopia's."""
    line = kubectl(T0, '{"n":"kopia/cli","m":"Connected to repository."}')
    raw = pl.DataFrame({"source": ["k.log"], "line_no": [1], "raw": [line]})
    ev = events_from_raw(raw)
    assert ev["envelope"].to_list() == ["kubectl"]
    assert ev["message"].to_list() == ["Connected to repository."]


def test_forged_label_values_do_not_become_identity():
    """Only names Kubernetes could have made are taken from labels."""
    line = '2026-01-31T16:00:03Z {namespace="media", pod="x`<b>@y"} Starting kopia mover container'
    raw = pl.DataFrame({"source": ["p.log"], "line_no": [1], "raw": [line]})
    ev = events_from_raw(raw)
    assert ev["envelope"].to_list() == ["logcli"]
    assert ev["namespace"].to_list() == ["media"] and ev["pod"].to_list() == [None]


def test_streaming_and_in_memory_agree_on_a_logcli_paste(tmp_path):
    """The streaming reader keeps only some lines of a block; a paste of many pods' lines gives
    the same runs as keeping every line."""
    path = write_paste(tmp_path, "paste.txt")
    streamed = analyze([path], until=UNTIL).runs
    kept = analyze([path], until=UNTIL, in_memory=True).runs
    columns = ["pod", "start", "end", "outcome", "duration_s", "exit_code"]
    assert streamed.select(columns).sort("start").equals(kept.select(columns).sort("start"))
