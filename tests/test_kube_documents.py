"""Kubernetes dumps given as files (`kubectl get … -o json|yaml`): recognised by content, read
as evidence by the same code as `--kube` (latestMoverStatus.logs as the object's last-run
lines, container states deciding runs), and hostile ones read as far as they are well-formed,
with what is not listed as a notice, never a traceback."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import yaml
from click.testing import CliRunner
from conftest import cri_dir, write_lines

from analyzer import analyze, cli, kube
from analyzer.sources.kube.documents import looks_like_yaml_document, yaml_document
from testing.examples import EXAMPLES
from testing.mover import abridged_backup
from testing.write import cri_records, rfc3339

RS_DUMP = json.loads((EXAMPLES / "logs" / "kube" / "replicationsources.json").read_text())
WINDOW = {"from_": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
T0 = datetime(2026, 3, 1, 10, 0, 3, tzinfo=UTC)


def _restricted(dump: dict) -> dict:
    """The dump with the movers' security context the "restricted" Pod Security Standard asks
    for: `seccompProfile` is a mapping."""
    dump = copy.deepcopy(dump)
    for item in dump["items"]:
        item["spec"]["kopia"]["moverSecurityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
        item["spec"]["kopia"]["moverSecurityContext"]["runAsNonRoot"] = True
    return dump


@pytest.mark.parametrize("in_memory", [False, True])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_restricted_pss_dump_is_read_with_its_seccomp_profile(tmp_path, fmt, in_memory):
    dump = _restricted(RS_DUMP)
    text = json.dumps(dump, indent=4) if fmt == "json" else yaml.safe_dump(dump)
    (tmp_path / f"rs.{fmt}").write_text(text)
    result = analyze([str(tmp_path / f"rs.{fmt}")], in_memory=in_memory, **WINDOW)
    assert result.inputs.kube_documents == [str(tmp_path / f"rs.{fmt}")]
    context = result.environment["security_context"]
    assert context["seccompProfile"] == '{"type": "RuntimeDefault"}'
    assert context["runAsUser"] == 1000 and context["runAsNonRoot"] is True
    assert result.events.filter(pl.col("envelope") != "plain").height == 0  # no line from YAML
    assert {r["name"] for r in result.environment["replication_sources"]} == {
        i["metadata"]["name"] for i in RS_DUMP["items"]
    }


def test_yaml_is_told_from_log_lines_by_content():
    assert looks_like_yaml_document(b"apiVersion: v1\nitems:\n- kind: Pod\n")
    assert looks_like_yaml_document(b"# kubectl get rs -o yaml\n---\nkind: ReplicationSource\n")
    assert not looks_like_yaml_document(b"2026-03-01T10:00:03Z stdout F apiVersion: v1\n")
    assert not looks_like_yaml_document(b"INFO: kind: backup\n")
    assert yaml_document("apiVersion: v1\nkind: [unclosed\n") is None
    assert yaml_document("kind: Config\n") is None  # no apiVersion: not a Kubernetes object
    # times stay the API's strings, as JSON has them
    pod = yaml_document("apiVersion: v1\nkind: Pod\nstatus:\n  startTime: 2026-03-01T10:00:00Z\n")
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "status": {"startTime": "2026-03-01T10:00:00Z"},
    }
    both = yaml_document("apiVersion: v1\nkind: Pod\n---\napiVersion: batch/v1\nkind: Job\n")
    assert both["kind"] == "List" and [i["kind"] for i in both["items"]] == ["Pod", "Job"]


def test_a_yaml_file_that_is_no_kubernetes_object_stays_a_log(tmp_path):
    path = tmp_path / "volsync-src-app-abcde.log"
    path.write_text("kind: of a log line that starts like YAML\nINFO: === Done ===\n")
    result = analyze([str(path)], **WINDOW)
    assert result.inputs.kube_documents == []
    assert "INFO: === Done ===" in result.events["message"].to_list()


HOSTILE = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "volsync.backube/v1alpha1",
            "kind": "ReplicationSource",
            "metadata": {"name": "broken", "namespace": "media"},
            "spec": {"kopia": {"moverSecurityContext": ["not", "a", "map"]}},
            "status": {
                "lastSyncDuration": 12,
                "lastSyncTime": None,
                "latestMoverStatus": "Failed",
                "conditions": "none",
            },
        },
        {"apiVersion": "volsync.backube/v1alpha1", "kind": "ReplicationSource", "metadata": None},
        {"apiVersion": "volsync.backube/v1alpha1", "kind": "ReplicationSource", "spec": "x"},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "volsync-src-app-abcde", "namespace": 7},
            "spec": {"containers": {"name": "kopia"}, "securityContext": "root"},
            "status": {
                "phase": ["Running"],
                "containerStatuses": [
                    {
                        "name": "kopia",
                        "restartCount": "3",
                        "state": {"terminated": {"exitCode": "1"}},
                    },
                    "garbage",
                    None,
                ],
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "status": {
                "conditions": [None, {"type": "Failed", "status": "True", "reason": {"x": 1}}],
                "failed": "2",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "involvedObject": {"kind": "Pod", "name": "volsync-src-app-abcde"},
            "lastTimestamp": "not a time",
            "message": None,
        },
        "a string item",
        None,
        {"kind": 5},
    ],
}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_hostile_dump_is_read_around_and_listed_never_a_traceback(tmp_path, fmt):
    logs = cri_dir(tmp_path, "media", "volsync-src-app-abcde", "kopia")
    write_lines(logs / "0.log", cri_records(T0, abridged_backup("app@media")))
    text = json.dumps(HOSTILE, indent=2) if fmt == "json" else yaml.safe_dump(HOSTILE)
    (tmp_path / f"dump.{fmt}").write_text(text)
    runner = CliRunner()
    args = [str(tmp_path), "--from", WINDOW["from_"], "--to", WINDOW["to"]]
    result = runner.invoke(cli.main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "not read as given" in result.stderr
    assert "ReplicationSource media/broken status: lastSyncDuration is an integer" in result.stderr
    for fmt_ in ("json",):
        data = json.loads(runner.invoke(cli.main, [*args, "--format", fmt_]).stdout)
        (run,) = data["runs"]
        assert (run["outcome"], run["outcome_basis"]) == ("completed", "end-marker")
    # the hostile list's other kinds are read too, and a non-list `items` is one line
    assert kube.problems([("x.json", {"apiVersion": "v1", "kind": "List", "items": "no"})]) == [
        "x.json: not read as given: a List: items is not a list"
    ]


def test_a_dump_s_latest_mover_status_is_the_last_run_when_its_pod_is_gone(tmp_path):
    dump = copy.deepcopy(RS_DUMP)
    item = dump["items"][0]
    ns, name = item["metadata"]["namespace"], item["metadata"]["name"]
    item["status"]["latestMoverStatus"] = {
        "result": "Failed",
        "logs": "INFO: Connecting to filesystem repository\nERROR: unable to open repository: "
        "permission denied\nINFO: === OPERATION SUMMARY ===\nINFO: OPERATION_RESULT: FAILURE\n"
        "INFO: EXIT_CODE: 1\nINFO: === Done ===",
    }
    dump["items"] = [item]
    (tmp_path / "rs.yaml").write_text(yaml.safe_dump(dump))
    result = analyze([str(tmp_path / "rs.yaml")], **WINDOW)
    (run,) = result.runs.iter_rows(named=True)
    assert run["source"] == kube.mover_status_source("ReplicationSource", ns, name)
    assert (run["replication_source"], run["role"], run["outcome"], run["exit_code"]) == (
        name,
        "source",
        "failed",
        1,
    )
    assert result.status == "OPEN"


def test_a_dump_s_latest_mover_status_is_not_a_second_run_of_a_pod_that_printed_it(tmp_path):
    lines = abridged_backup("app@media")
    logs = cri_dir(tmp_path, "media", "volsync-src-app-abcde", "kopia")
    write_lines(logs / "0.log", cri_records(T0, lines))
    tail = "\n".join(text for _, _, text in lines)[-1024:]
    dump = {
        "apiVersion": "volsync.backube/v1alpha1",
        "kind": "ReplicationSource",
        "metadata": {"name": "app", "namespace": "media"},
        "spec": {"kopia": {"repository": "r"}},
        "status": {"latestMoverStatus": {"result": "Successful", "logs": tail}},
    }
    (tmp_path / "rs.yaml").write_text(yaml.safe_dump(dump))
    result = analyze([str(tmp_path)], **WINDOW)
    assert result.runs["pod"].to_list() == ["volsync-src-app-abcde"]


def _pods_dump(state: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "volsync-src-app-abcde", "namespace": "media"},
                "spec": {"containers": [{"name": "kopia", "image": "quay.io/backube/volsync"}]},
                "status": {
                    "containerStatuses": [{"name": "kopia", "restartCount": 0, "state": state}]
                },
            }
        ],
    }


def test_a_dump_s_terminated_container_gives_the_run_its_end_and_code(tmp_path):
    logs = cri_dir(tmp_path, "media", "volsync-src-app-abcde", "kopia")
    write_lines(logs / "0.log", cri_records(T0, abridged_backup("app@media")[:9]))
    end = T0 + timedelta(minutes=3)
    state = {"terminated": {"exitCode": 2, "reason": "Error", "finishedAt": rfc3339(end)}}
    (tmp_path / "pods.json").write_text(json.dumps(_pods_dump(state), indent=2))
    run = analyze([str(tmp_path)], **WINDOW).runs.row(0, named=True)
    assert (run["outcome"], run["outcome_basis"], run["exit_code"], run["end"]) == (
        "failed",
        "container-terminated",
        2,
        end,
    )


def test_a_dump_s_running_state_carries_no_time_so_it_proves_no_hang(tmp_path):
    """Only a read that knows when it saw Running (the API source) may call a pod alive; a
    dump's Running leaves the run to its output's own rules."""
    logs = cri_dir(tmp_path, "media", "volsync-src-app-abcde", "kopia")
    write_lines(logs / "0.log", cri_records(T0, abridged_backup("app@media", hung=True)))
    (tmp_path / "pods.json").write_text(json.dumps(_pods_dump({"running": {}}), indent=2))
    without = analyze([str(logs / "0.log")], **WINDOW).runs.row(0, named=True)
    run = analyze([str(tmp_path)], **WINDOW).runs.row(0, named=True)
    assert run["outcome_basis"] == without["outcome_basis"] == "silence-in-window"


def test_run_states_from_a_read_that_saw_running():
    seen = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {kube.OBSERVED_AT: "2026-03-01T12:00:00Z"},
    }
    seen["items"] = _pods_dump({"running": {"startedAt": "2026-03-01T10:00:00Z"}})["items"]
    states = kube.run_states([seen])
    assert states.select("key", "running").row(0) == ("volsync-src-app-abcde", True)
    assert states["observed_at"][0] == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert kube.run_states([_pods_dump({"running": {}})]).height == 0


def test_the_example_dumps_change_nothing_they_restate(tmp_path):
    """The example corpus's own dumps hold each source's last pod, which its logs also hold:
    no status run is added (the golden reports pin the rest)."""
    result = analyze(
        [str(EXAMPLES / "logs")], from_="2026-01-28T00:00:00Z", to="2026-02-01T00:00:00Z"
    )
    assert result.runs.filter(pl.col("pod").is_null()).height == 0
    assert not [n for n in result.notices if "not read as given" in n]


def test_yaml_found_by_walking_that_is_no_dump_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage: volsync\n")
    (tmp_path / "rs.yml").write_text(yaml.safe_dump(RS_DUMP))
    result = analyze([str(tmp_path)], **WINDOW)
    assert result.inputs.kube_documents == [str(tmp_path / "rs.yml")]
    assert result.inputs.skipped == [
        (str(tmp_path / "values.yaml"), "YAML that is not a Kubernetes dump (kubectl get -o yaml)")
    ]


def test_every_outcome_basis_is_in_the_contract_and_reads_in_the_report():
    from analyzer.report.view.symptoms import EVIDENCE
    from analyzer.runs import BASES

    schema = json.loads((EXAMPLES.parent / "reports" / "analysis.schema.json").read_text())
    enum = schema["properties"]["runs"]["items"]["properties"]["outcome_basis"]["enum"]
    assert set(BASES) <= set(enum) and set(BASES) == set(EVIDENCE)


def test_a_failing_condition_reaches_the_analysis_at_its_time(tmp_path):
    dump = copy.deepcopy(RS_DUMP)
    item = dump["items"][0]
    item["status"]["conditions"] = [
        {
            "type": "Synchronizing",
            "status": "False",
            "reason": "Error",
            "message": "unable to create snapshot: volumesnapshotclass csi-snapclass not found",
            "lastTransitionTime": "2026-03-01T10:05:00Z",
        }
    ]
    del item["status"]["latestMoverStatus"]
    (tmp_path / "rs.json").write_text(json.dumps({**dump, "items": [item]}, indent=2))
    result = analyze([str(tmp_path / "rs.json")], **WINDOW)
    (row,) = result.events.filter(pl.col("envelope") == "kube-event").iter_rows(named=True)
    name = item["metadata"]["name"]
    assert row["message"] == (
        f"Condition Synchronizing=False Error ReplicationSource/{name}: unable to create "
        "snapshot: volumesnapshotclass csi-snapclass not found"
    )
    assert row["ts"] == datetime(2026, 3, 1, 10, 5, tzinfo=UTC) and row["level"] == "ERROR"
    assert result.unclassified.height == 1  # no signature knows it: an unrecognised error
