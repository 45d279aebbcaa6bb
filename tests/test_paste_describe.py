"""Pasted `kubectl describe pod` / `kubectl describe job` output: recognised as Kubernetes
documents (never log lines), its container states and Warning events shown in Evidence, its
images and the Job's failure in Environment.

The fixtures under `tests/fixtures/describe/` follow kubectl's describe printer line for line
(k8s.io/kubectl/pkg/describe: `State:  Terminated` with `Reason`/`Exit Code`/`Started`/`Finished`
at 6 spaces, `Last State:`, the `Events:` table). No public VolSync thread in the searchable
corpus carried a whole `kubectl describe pod volsync-src-…` paste, so the layout was checked
against real pastes of other pods: kubernetes/kubernetes#49873 (a whole `kubectl describe pod`
with `Last State: Terminated / Reason / Exit Code`), velero-io/velero#4907 (a restic pod's
`Last State: Terminated, Reason: OOMKilled, Exit Code: 137`) and pieterlange/kube-backup#71 (a
whole `kubectl describe job` with `Pods Statuses: 0 Running / 0 Succeeded / 1 Failed`); the
values are the example incident's (paperless failing on its repository permissions).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import write_lines

from analyzer import analyze
from analyzer.describe import document, kubernetes_evidence
from analyzer.report import render_markdown

FIXTURES = Path(__file__).parent / "fixtures" / "describe"
POD = FIXTURES / "pod-volsync-src-failed.txt"
JOB_AND_OOM = FIXTURES / "job-backoff-and-oom.txt"

#: The failed paperless run's last lines, as `kubectl logs --timestamps` saved them.
PAPERLESS_LOG = [
    "2026-01-29T19:45:05.101000000Z Starting kopia mover container",
    "2026-01-29T19:45:05.900000000Z INFO: === Starting kopia operations ===",
    "2026-01-29T19:45:40.112000000Z ERROR: Failed to create repository",
    "2026-01-29T19:45:40.113000000Z INFO: === OPERATION SUMMARY ===",
    "2026-01-29T19:45:40.113000000Z INFO: OPERATION_RESULT: FAILURE",
    "2026-01-29T19:45:40.114000000Z INFO: EXIT_CODE: 1",
    "2026-01-29T19:45:40.114000000Z INFO: === Done ===",
]


def test_describe_pod_becomes_a_pod_document():
    doc = document(POD.read_text())
    pod, *events = doc["items"]
    assert pod["kind"] == "Pod" and pod["metadata"] == {
        "name": "volsync-src-paperless-g2rzz",
        "namespace": "default",
    }
    assert pod["spec"]["containers"] == [
        {"name": "kopia", "image": "ghcr.io/perfectra1n/volsync:0.17.7"}
    ]
    (kopia,) = pod["status"]["containerStatuses"]
    assert kopia["state"] == {
        "terminated": {
            "reason": "Error",
            "exitCode": 1,
            "startedAt": "2026-01-29T19:45:05Z",
            "finishedAt": "2026-01-29T19:45:40Z",
        }
    }
    assert kopia["restartCount"] == 0 and pod["status"]["phase"] == "Failed"
    assert [e["reason"] for e in events] == ["Scheduled", "Pulled", "Created", "Started"]


def test_describe_job_and_a_second_pod_in_one_paste():
    items = document(JOB_AND_OOM.read_text())["items"]
    job = next(i for i in items if i["kind"] == "Job")
    assert job["status"]["failed"] == 8 and job["status"]["succeeded"] == 0
    assert job["status"]["conditions"][0]["reason"] == "BackoffLimitExceeded"
    found = kubernetes_evidence([{"items": items}])
    assert [(t["pod"], t["state"], t["reason"], t["exit_code"]) for t in found["terminations"]] == [
        ("volsync-src-nextcloud-7qk2d", "last", "OOMKilled", 137)
    ]
    assert [(w["object"], w["reason"]) for w in found["warnings"]] == [
        ("Job/volsync-src-paperless", "BackoffLimitExceeded"),
        ("Pod/volsync-src-nextcloud-7qk2d", "BackOff"),
    ]


@pytest.mark.parametrize("in_memory", [False, True], ids=["streaming", "in-memory"])
def test_describe_pastes_are_evidence_not_log_lines(tmp_path, in_memory):
    """The describe files among the logs: no line of theirs becomes an event; the report's
    Evidence shows the terminated container (Error, exit 1), the OOMKilled restic container and
    the Job's BackoffLimitExceeded; Environment names the image and the failed Job."""
    shutil.copy(POD, tmp_path / "describe-pod.txt")
    shutil.copy(JOB_AND_OOM, tmp_path / "describe-job.txt")
    write_lines(tmp_path / "volsync-src-paperless-g2rzz.log", PAPERLESS_LOG)
    a = analyze([str(tmp_path)], in_memory=in_memory)
    assert set(a.events["source"]) == {str(tmp_path / "volsync-src-paperless-g2rzz.log")}
    assert sorted(Path(p).name for p in a.inputs.kube_documents) == [
        "describe-job.txt",
        "describe-pod.txt",
    ]
    assert a.runs.select("pod", "outcome", "exit_code").rows() == [
        ("volsync-src-paperless-g2rzz", "failed", 1)
    ]
    report = render_markdown(a)
    evidence = report.split("\n## Evidence\n", 1)[1]
    assert "### What Kubernetes recorded" in evidence
    assert (
        "| default/volsync-src-paperless-g2rzz | kopia | now | Error | 1 | 2026-01-29T19:45:40Z |"
        in evidence
    )
    assert (
        "| cloud/volsync-src-nextcloud-7qk2d | restic | before a restart | OOMKilled | 137 |"
        in evidence
    )
    assert (
        "| default/Job/volsync-src-paperless | BackoffLimitExceeded | Job has reached the specified backoff limit | 2m10s |"
        in evidence
    )
    environment = report.split("\n## Environment\n", 1)[1].split("\n## ", 1)[0]
    assert "`ghcr.io/perfectra1n/volsync:0.17.7`" in environment
    assert "`default/volsync-src-paperless` (BackoffLimitExceeded)" in environment


def test_a_log_that_starts_with_name_is_still_a_log(tmp_path):
    """`Name:` alone does not make describe output: without Namespace and Containers (or a Job's
    Pods Statuses) the file is read as log lines, none lost."""
    lines = ["Name:   paperless", *(line.split("Z ", 1)[1] for line in PAPERLESS_LOG)]
    path = write_lines(tmp_path / "volsync-src-paperless-g2rzz.log", lines)
    for in_memory in (False, True):
        a = analyze([str(path)], in_memory=in_memory)
        assert a.events.height == len(lines) and not a.inputs.kube_documents
        assert a.runs["outcome"].to_list() == ["failed"]


def test_the_exit_code_kubernetes_recorded_fills_a_run_whose_log_shows_none(tmp_path):
    """A mover whose log ends on a terminal line (restic's `Fatal:`) failed with an unobserved
    exit code; `kubectl describe pod` of that pod recorded `Exit Code: 1`, and the run gets it.
    The outcome and its basis stay the log's."""
    shutil.copy(POD, tmp_path / "describe-pod.txt")
    write_lines(
        tmp_path / "volsync-src-paperless-g2rzz.log",
        [
            "2026-01-29T19:45:05.101000000Z Starting container",
            "2026-01-29T19:45:05.300000000Z VolSync restic container version: v0.13.0",
            "2026-01-29T19:45:40.112000000Z Fatal: unable to open config file: Stat: "
            "The specified bucket does not exist.",
        ],
    )
    without = analyze([str(tmp_path / "volsync-src-paperless-g2rzz.log")])
    assert without.runs.select("outcome", "outcome_basis", "exit_code").rows() == [
        ("failed", "terminal-line", None)
    ]
    a = analyze([str(tmp_path)])
    assert a.runs.select("pod", "outcome", "outcome_basis", "exit_code").rows() == [
        ("volsync-src-paperless-g2rzz", "failed", "terminal-line", 1)
    ]
