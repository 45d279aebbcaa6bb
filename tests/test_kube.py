"""`analyze --kube` against a real kube-apiserver (../shared/tools/kube: etcd, kube-apiserver
1.36 with the VolSync CRDs, and a kubelet stand-in serving container logs).

The example incident is created as the controllers would have left it (ReplicationSources with
status, mover Pods bound to nodes with their container states, their logs behind the kubelet)
and read back through the API: the same runs, findings and status as its files. Then what only
the API can say: a pod Running and silent is hung for certain, a Terminated container gives a
run its end and exit code, a ReplicationSource whose pods are gone still names its failure from
`latestMoverStatus.logs`, previous-container logs are read, and RBAC that forbids `pods/log` is a
stated gap, never a crash. No bearer token reaches a report, stderr or an error.

The tests skip, saying why, where the rig is not there.
"""

from __future__ import annotations

import gzip
import json
import re
import ssl
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import pytest
from click.testing import CliRunner

from analyzer import analyze, cli
from analyzer.report import render_markdown, to_json
from analyzer.sources.kube import KubeSource
from testing.examples import EXAMPLES, FIX, POD_LOGS, WINDOW
from testing.mover import abridged_backup
from testing.write import cri_records, rfc3339

REPO_ROOT = Path(__file__).resolve().parents[1]
KUBE = REPO_ROOT.parent / "shared" / "tools" / "kube"
VOLSYNC = "/apis/volsync.backube/v1alpha1"
MERGE = {"Content-Type": "application/merge-patch+json"}


class Rig:
    """The running rig and an admin client to create objects the way controllers would."""

    def __init__(self, info: dict, data: Path) -> None:
        self.info, self.data = info, data
        self.logs = Path(info["kubelet_logs"])
        self.http = httpx.Client(
            base_url=info["server"],
            headers={"Authorization": "Bearer " + info["token"]},
            verify=ssl.create_default_context(cafile=info["ca_file"]),
            timeout=30,
        )
        self.nodes: set[str] = set()

    def post(self, path: str, obj: dict) -> dict:
        reply = self.http.post(path, json=obj)
        if reply.status_code == 409:
            return {}
        assert reply.status_code < 300, (path, reply.text[:300])
        return reply.json()

    def status(self, path: str, status: dict) -> None:
        reply = self.http.patch(f"{path}/status", headers=MERGE, json={"status": status})
        assert reply.status_code < 300, (path, reply.text[:300])

    def namespace(self, name: str) -> str:
        self.post("/api/v1/namespaces", {"metadata": {"name": name}})
        self.post(f"/api/v1/namespaces/{name}/serviceaccounts", {"metadata": {"name": "default"}})
        return name

    def node(self, name: str) -> str:
        if name not in self.nodes:
            self.post(
                "/api/v1/nodes",
                {
                    "metadata": {"name": name},
                    "status": {
                        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": self.info["kubelet_port"]}},
                    },
                },
            )
            self.nodes.add(name)
        return name

    def pod(
        self,
        ns: str,
        name: str,
        *,
        state: dict,
        container: str = "kopia",
        image: str = "ghcr.io/rcdailey/volsync:0.17.7-cgo-fix-v2",
        node: str = "node-1",
        restarts: int = 0,
        last_state: dict | None = None,
        phase: str | None = None,
        restart_policy: str = "Never",
    ) -> None:
        job = name.rsplit("-", 1)[0]
        self.post(
            f"/api/v1/namespaces/{ns}/pods",
            {
                "metadata": {
                    "name": name,
                    "labels": {"job-name": job, "app.kubernetes.io/created-by": "volsync"},
                },
                "spec": {
                    "nodeName": self.node(node),
                    "restartPolicy": restart_policy,
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                    "containers": [{"name": container, "image": image}],
                },
            },
        )
        if phase is None:
            phase = (
                "Running"
                if "running" in state
                else "Succeeded"
                if state.get("terminated", {}).get("exitCode") == 0
                else "Failed"
            )
        status = {"name": container, "image": image, "imageID": "", "ready": "running" in state}
        status |= {"restartCount": restarts, "state": state}
        if last_state:
            status["lastState"] = last_state
        self.status(
            f"/api/v1/namespaces/{ns}/pods/{name}",
            {"phase": phase, "containerStatuses": [status]},
        )

    def log(self, ns: str, pod: str, container: str, text: str, previous: bool = False) -> None:
        path = (
            self.logs / ns / pod / (f"{container}.previous.log" if previous else f"{container}.log")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def replication_source(self, ns: str, name: str, spec: dict, status: dict | None) -> None:
        path = f"{VOLSYNC}/namespaces/{ns}/replicationsources"
        self.post(
            path,
            {
                "apiVersion": "volsync.backube/v1alpha1",
                "kind": "ReplicationSource",
                "metadata": {"name": name},
                "spec": spec,
            },
        )
        if status:
            self.status(f"{path}/{name}", status)

    def kubeconfig(self, token: str, name: str) -> Path:
        """A kubeconfig for `token` (the rig's own uses the admin token)."""
        config = json.loads(Path(self.info["kubeconfig"]).read_text())
        for user in config["users"]:
            user["user"] = {"token": token}
        path = self.data / name
        path.write_text(json.dumps(config))
        return path


@pytest.fixture(scope="session")
def rig(tmp_path_factory):
    """A real kube-apiserver with etcd and the fake kubelet, for the whole session."""
    if not (KUBE / "start-kube").exists():
        pytest.skip(f"no Kubernetes rig here: {KUBE}/start-kube is missing")
    data = tmp_path_factory.mktemp("kube")
    started = subprocess.run(
        [str(KUBE / "start-kube"), str(data)], capture_output=True, text=True, timeout=180
    )
    if started.returncode != 0:
        pytest.skip(f"start-kube could not start the rig: {started.stderr.strip()[-300:]}")
    info = json.loads((data / "rig.json").read_text())
    try:
        yield Rig(info, data)
    finally:
        subprocess.run([str(KUBE / "stop-kube"), str(data), "--fast"], timeout=60, check=False)


# --- The example incident through the API ----------------------------------------------------

_RESTART = re.compile(r"/(\d+)\.log(?:\.(\d{8}-\d{6}))?(?:\.gz)?$")


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()


def _container_logs(paths: list[str]) -> tuple[str, str]:
    """(previous, current) log text of one container from its node-log files: the highest
    restart number is the current container, the one before it the previous; rotated parts
    first, in order."""
    by_restart: dict[int, list[tuple[str, Path]]] = {}
    for rel in paths:
        found = _RESTART.search(rel)
        restart = int(found.group(1)) if found else 0
        rotated = found.group(2) if found and found.group(2) else "~"  # the live file last
        by_restart.setdefault(restart, []).append((rotated, EXAMPLES / rel))
    texts = {r: "".join(_read(p) for _, p in sorted(files)) for r, files in by_restart.items()}
    current = max(texts)
    return texts.get(current - 1, ""), texts[current]


def _finished(run: dict) -> str:
    end = run["end"] or run.get("killed_at")
    if end is None:
        start = datetime.fromisoformat(run["start"])
        end = (start + timedelta(seconds=run["duration_seconds"] or 3600)).isoformat()
    return rfc3339(datetime.fromisoformat(end))


def _load_example_incident(rig: Rig) -> tuple[str, ...]:
    """Every run of the example incident as a pod with its container state and logs, and the
    ReplicationSources with their status, as `kubectl get` left them."""
    truth = json.loads((EXAMPLES / "ground-truth.json").read_text())
    namespaces = sorted({r["namespace"] for r in truth["runs"]})
    for ns in namespaces:
        rig.namespace(ns)
    for run in truth["runs"]:
        previous, current = _container_logs(run["pod_logs"])
        maintenance = run["role"] == "maintenance"
        code = {"completed": 0, "failed": run["exit_code"] or 1}.get(run["outcome"], 137)
        reason = "Completed" if code == 0 else "Error"
        if run["outcome"] == "hung" and maintenance:
            reason = "DeadlineExceeded"
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": rfc3339(datetime.fromisoformat(run["start"])),
            "finishedAt": _finished(run),
        }
        restarts = run.get("restarts") or (1 if previous else 0)
        rig.pod(
            run["namespace"],
            run["pod"],
            state={"terminated": terminated},
            container=run["container"],
            image=run["image"],
            node=run["node"],
            restarts=restarts,
            last_state={"terminated": {**terminated, "exitCode": 1, "reason": "Error"}}
            if previous
            else None,
            restart_policy="OnFailure" if maintenance else "Never",
        )
        if previous:
            rig.log(run["namespace"], run["pod"], run["container"], previous, previous=True)
        rig.log(run["namespace"], run["pod"], run["container"], current)
    dump = json.loads((EXAMPLES / "logs" / "kube" / "replicationsources.json").read_text())
    for item in dump["items"]:
        meta = item["metadata"]
        rig.replication_source(meta["namespace"], meta["name"], item["spec"], item["status"])
    return tuple(namespaces)


@pytest.fixture(scope="session")
def example_incident(rig):
    started = time.monotonic()
    namespaces = _load_example_incident(rig)
    return namespaces, time.monotonic() - started


def _same(analysis) -> dict:
    data = to_json(analysis)
    return {k: data[k] for k in ("status", "runs", "findings", "validation")}


def test_the_example_incident_through_the_api_is_the_same_as_its_files(rig, example_incident):
    namespaces, _ = example_incident
    fix = datetime.fromisoformat(FIX)
    from_files = analyze(POD_LOGS, fix_at=fix, **WINDOW)
    source = KubeSource(kubeconfig=rig.info["kubeconfig"], namespaces=namespaces, progress=False)
    started = time.monotonic()
    from_kube = analyze(sources=[source], fix_at=fix, **WINDOW)
    took = time.monotonic() - started
    assert not from_kube.inputs.gaps
    assert from_kube.runs.height == from_files.runs.height == 688
    kube_view, files_view = _same(from_kube), _same(from_files)
    # Through the API every pod's container state is known, so a hung pod that was killed
    # carries the exit code of its kill (describe.fill_exit_codes; outcome and basis stay the
    # log's); the files' dump knows only each source's last pod. Nothing else differs.
    killed = [r for r in kube_view["runs"] if r["outcome"] == "hung"]
    assert len(killed) == 300 and {r["exit_code"] for r in killed} == {137}
    for run in killed:
        run["exit_code"] = None
    assert kube_view == files_view
    # every pod's log came through the apiserver's log proxy, bounded by the window
    requests = [
        json.loads(line) for line in Path(rig.info["kubelet_requests"]).read_text().splitlines()
    ]
    logged = [r for r in requests if r["namespace"] in namespaces and r.get("status") == 200]
    assert len({(r["namespace"], r["pod"]) for r in logged}) == 688
    assert all(r["query"].get("sinceTime") == "2026-01-28T00:00:00Z" for r in logged)
    assert all("limitBytes" in r["query"] and r["query"]["timestamps"] == "true" for r in logged)
    print(f"--kube read of the example incident: {took:.1f} s")


def test_the_example_incident_s_previous_container_is_read(rig, example_incident):
    """The 01-29 KopiaMaintenance pod failed twice in one pod (restartPolicy OnFailure): its
    first container's output comes from `previous=true`."""
    namespaces, _ = example_incident
    source = KubeSource(kubeconfig=rig.info["kubeconfig"], namespaces=("volsync-system",))
    result = analyze(sources=[source], **WINDOW)
    previous = result.events.filter(result.events["source"].str.ends_with("(previous)"))
    assert previous.height > 10
    pod = previous["pod"].unique().to_list()
    assert len(pod) == 1 and pod[0].startswith("kopia-maint-nfs-repo-")
    run = result.runs.filter(result.runs["pod"] == pod[0]).row(0, named=True)
    assert run["outcome"] == "failed" and run["restarts"] == 1


# --- What only the API can say ----------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _cri(start: datetime, lines) -> str:
    return "\n".join(cri_records(start, lines)) + "\n"


def test_a_pod_running_and_silent_is_hung_with_certainty(rig):
    ns = rig.namespace("evidence-hung")
    now = datetime.now(UTC)
    started = now - timedelta(hours=3)
    hung = abridged_backup("app@evidence-hung", "0.17.7", hung=True)
    rig.pod(ns, "volsync-src-app-hhhhh", state={"running": {"startedAt": rfc3339(started)}})
    rig.log(ns, "volsync-src-app-hhhhh", "kopia", _cri(started, hung))
    # a Running pod with fresh output is running, not hung
    fresh = now - timedelta(minutes=2)
    rig.pod(ns, "volsync-src-web-rrrrr", state={"running": {"startedAt": rfc3339(fresh)}})
    rig.log(ns, "volsync-src-web-rrrrr", "kopia", _cri(fresh, hung))
    code, out, err = _cli(
        "--kube", "--kubeconfig", rig.info["kubeconfig"], "-n", ns, "--since", "48h",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(
        data, json.loads((REPO_ROOT / "reports" / "analysis.schema.json").read_text())
    )
    runs = {r["pod"]: r for r in data["runs"]}
    hung_run = runs["volsync-src-app-hhhhh"]
    assert (hung_run["outcome"], hung_run["outcome_basis"]) == ("hung", "pod-running-silent")
    assert hung_run["duration_is_lower_bound"] and hung_run["duration_seconds"] >= 3 * 3600 - 60
    live = runs["volsync-src-web-rrrrr"]
    assert (live["outcome"], live["outcome_basis"]) == ("running", "pod-running")


def test_a_terminated_container_gives_the_run_its_end_and_exit_code(rig):
    ns = rig.namespace("evidence-failed")
    started = datetime(2026, 3, 1, 10, 0, 3, tzinfo=UTC)
    lines = abridged_backup("app@evidence-failed")[:9]  # connected, then no end marker
    finished = started + timedelta(minutes=4)
    rig.pod(
        ns,
        "volsync-src-app-fffff",
        state={
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": rfc3339(started),
                "finishedAt": rfc3339(finished),
            }
        },
    )
    rig.log(ns, "volsync-src-app-fffff", "kopia", _cri(started, lines))
    source = KubeSource(kubeconfig=rig.info["kubeconfig"], namespaces=(ns,), progress=False)
    result = analyze(sources=[source], from_="2026-03-01T00:00:00Z", to="2026-03-02T00:00:00Z")
    run = result.runs.row(0, named=True)
    assert (run["outcome"], run["outcome_basis"], run["exit_code"]) == (
        "failed",
        "container-terminated",
        1,
    )
    assert run["end"] == finished and run["duration_s"] == pytest.approx(240, abs=1)
    assert not run["duration_is_lower_bound"]


def _paperless_failure_tail() -> str:
    """The last 1024 bytes of a failed example run's output, as the controller stores them in
    `status.latestMoverStatus.logs` (formats.md §3.4)."""
    truth = json.loads((EXAMPLES / "ground-truth.json").read_text())
    failed = next(r for r in truth["runs"] if r["outcome"] == "failed")
    _, text = _container_logs(failed["pod_logs"])
    content = "\n".join(line.split(" ", 3)[3] for line in text.splitlines())
    return content.encode()[-1024:].decode("utf-8", "ignore")


def test_a_replication_source_whose_pods_are_gone_names_its_failure_from_its_status(rig):
    ns = rig.namespace("evidence-gone")
    tail = _paperless_failure_tail()
    assert "EXIT_CODE: 1" in tail
    rig.replication_source(
        ns,
        "paperless",
        {"sourcePVC": "paperless", "kopia": {"repository": "paperless-kopia"}},
        {
            "lastSyncTime": "2026-01-29T18:45:40Z",
            "latestMoverStatus": {"result": "Failed", "logs": tail},
        },
    )
    code, out, err = _cli(
        "--kube", "--kubeconfig", rig.info["kubeconfig"], "-n", ns, "--since", "48h",
    )  # fmt: skip
    assert code == 0, err
    source = f"replicationsource/{ns}/paperless: status.latestMoverStatus.logs (last run)"
    assert source in out  # Evidence says where the lines came from
    data = json.loads(
        _cli("--kube", "--kubeconfig", rig.info["kubeconfig"], "-n", ns, "--format", "json")[1]
    )
    (run,) = data["runs"]
    assert (run["replication_source"], run["outcome"], run["exit_code"]) == (
        "paperless",
        "failed",
        1,
    )
    assert run["pod"] is None and data["status"] == "OPEN"
    assert data["findings"], "the failure's signature is named from the status lines"


def test_rbac_that_forbids_pod_logs_is_a_stated_gap_and_no_token_leaks(rig):
    ns = rig.namespace("evidence-rbac")
    started = datetime(2026, 3, 1, 10, 0, 3, tzinfo=UTC)
    rig.pod(
        ns,
        "volsync-src-app-ggggg",
        state={
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "finishedAt": rfc3339(started + timedelta(seconds=46)),
            }
        },
    )
    rig.log(
        ns, "volsync-src-app-ggggg", "kopia", _cri(started, abridged_backup("app@evidence-rbac"))
    )
    rules = [
        {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"]},
        {
            "apiGroups": ["volsync.backube"],
            "resources": ["replicationsources", "replicationdestinations", "kopiamaintenances"],
            "verbs": ["get", "list"],
        },
    ]  # no pods/log
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"
    rig.post(f"{rbac}/roles", {"metadata": {"name": "viewer"}, "rules": rules})
    rig.post(
        f"{rbac}/rolebindings",
        {
            "metadata": {"name": "viewer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
            "subjects": [
                {"kind": "Group", "name": "rig:viewers", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    )
    token = rig.info["viewer_token"]
    config = rig.kubeconfig(token, "viewer-kubeconfig")
    args = ["--kube", "--kubeconfig", str(config), "-n", ns]
    args += ["--from", "2026-03-01T00:00:00Z", "--to", "2026-03-02T00:00:00Z"]
    code, out, err = _cli(*args, "--exit-code")
    assert code == 2, err  # a data gap
    assert f"cannot get pods/log in {ns}: forbidden" in out
    code, json_out, err2 = _cli(*args, "--format", "json")
    assert code == 0
    gaps = json.loads(json_out)["inputs"]["gaps"]
    assert [g["reason"] for g in gaps] == [f"cannot get pods/log in {ns}: forbidden"]
    # the same viewer in all namespaces: listing is forbidden there, each kind says so
    code, all_out, err3 = _cli("--kube", "--kubeconfig", str(config), "--since", "1h", "-A")
    assert "cannot list pods in any namespace: forbidden" in all_out
    for text in (out, err, json_out, err2, all_out, err3):
        assert token not in text and rig.info["token"] not in text
    # a wrong token is one line, exit 2, and the token is not in it
    wrong = rig.kubeconfig("not-the-token-0123456789", "wrong-kubeconfig")
    code, out, err = _cli("--kube", "--kubeconfig", str(wrong), "--since", "1h")
    assert code == 2 and len(err.splitlines()) == 1 and "HTTP 401" in err
    assert "not-the-token-0123456789" not in err + out


def test_events_of_mover_objects_reach_the_report(rig):
    ns = rig.namespace("evidence-events")
    when = datetime.now(UTC) - timedelta(hours=1)
    rig.post(
        f"/api/v1/namespaces/{ns}/events",
        {
            "metadata": {"name": "volsync-src-app.1"},
            "involvedObject": {"kind": "Job", "namespace": ns, "name": "volsync-src-app"},
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
            "type": "Warning",
            "firstTimestamp": rfc3339(when),
            "lastTimestamp": rfc3339(when),
            "count": 1,
            "source": {"component": "job-controller"},
        },
    )
    source = KubeSource(kubeconfig=rig.info["kubeconfig"], namespaces=(ns,), progress=False)
    result = analyze(sources=[source], since="48h")
    (warning,) = result.environment["kubernetes"]["warnings"]
    assert (warning["object"], warning["reason"]) == ("Job/volsync-src-app", "BackoffLimitExceeded")
    assert "BackoffLimitExceeded" in render_markdown(result)
    assert result.runs.height == 0  # an Event is no mover output


def test_kube_and_files_together_read_the_same_pod_once(rig, tmp_path):
    """A pod whose logs are both on disk and behind the API is one run with each line once."""
    ns = rig.namespace("evidence-both")
    started = datetime(2026, 3, 1, 10, 0, 3, tzinfo=UTC)
    lines = _cri(started, abridged_backup("app@evidence-both"))
    rig.pod(
        ns,
        "volsync-src-app-bbbbb",
        state={
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "finishedAt": rfc3339(started + timedelta(seconds=46)),
            }
        },
    )
    rig.log(ns, "volsync-src-app-bbbbb", "kopia", lines)
    node = (
        tmp_path
        / "var"
        / "log"
        / "pods"
        / f"{ns}_volsync-src-app-bbbbb_0f4c7b1e-2a3d-4c5b-8e9f-a1b2c3d4e5f6"
        / "kopia"
    )
    node.mkdir(parents=True)
    (node / "0.log").write_text(lines)
    window = {"from_": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
    source = KubeSource(kubeconfig=rig.info["kubeconfig"], namespaces=(ns,), progress=False)
    both = analyze([str(tmp_path)], sources=[source], in_memory=True, **window)
    files = analyze([str(tmp_path)], in_memory=True, **window)
    assert both.runs.height == 1
    assert both.events.height == files.events.height
    assert _same(both) == _same(files)


DEPLOY = REPO_ROOT / "deploy"
PLURALS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs",
}


def test_the_shipped_rbac_is_enough_and_the_cronjob_is_valid(rig, example_incident):
    """deploy/rbac.yaml applied as it is: its service account reads every namespace with no
    gap; deploy/cronjob.yaml passes the API server's validation (a server-side dry run)."""
    import yaml

    for doc in yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text()):
        ns = doc["metadata"].get("namespace", "")
        rig.post(PLURALS[doc["kind"]].format(ns=ns), doc)
    rig.post(
        "/api/v1/namespaces/kopia-postmortem/serviceaccounts", {"metadata": {"name": "default"}}
    )
    (cronjob,) = yaml.safe_load_all((DEPLOY / "cronjob.yaml").read_text())
    reply = rig.http.post(
        PLURALS["CronJob"].format(ns="kopia-postmortem"),
        params={"dryRun": "All", "fieldValidation": "Strict"},
        json=cronjob,
    )
    assert reply.status_code == 201, reply.text[:300]
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--kube", "--since", "48h", "--exit-code",
    ]  # fmt: skip
    token = rig.http.post(
        "/api/v1/namespaces/kopia-postmortem/serviceaccounts/kopia-postmortem/token",
        json={"spec": {"expirationSeconds": 3600}},
    ).json()["status"]["token"]
    config = rig.kubeconfig(token, "service-account-kubeconfig")
    fix = datetime.fromisoformat(FIX)
    source = KubeSource(kubeconfig=str(config), progress=False)  # all namespaces
    result = analyze(sources=[source], fix_at=fix, **WINDOW)
    assert not result.inputs.gaps
    assert (
        result.runs.filter(result.runs["namespace"].is_in(list(example_incident[0]))).height == 688
    )


def test_in_a_pod_the_service_account_is_used(rig, example_incident, tmp_path, monkeypatch):
    """No kubeconfig and KUBERNETES_SERVICE_HOST set: the pod's service-account token and CA
    (here at the rig's paths instead of /var/run/secrets/kubernetes.io/serviceaccount)."""
    from kubernetes.config import incluster_config

    rig.post("/api/v1/namespaces", {"metadata": {"name": "kopia-postmortem"}})
    rig.post(
        "/api/v1/namespaces/kopia-postmortem/serviceaccounts", {"metadata": {"name": "reader"}}
    )
    import yaml

    docs = yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text())
    reader = next(d for d in docs if d["kind"] == "ClusterRole")
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/volsync-system"
    rig.post(f"{rbac}/roles", {"metadata": {"name": "reader"}, "rules": reader["rules"]})
    rig.post(
        f"{rbac}/rolebindings",
        {
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "reader", "namespace": "kopia-postmortem"}
            ],
        },
    )
    token = rig.http.post(
        "/api/v1/namespaces/kopia-postmortem/serviceaccounts/reader/token",
        json={"spec": {"expirationSeconds": 3600}},
    ).json()["status"]["token"]
    (tmp_path / "token").write_text(token)
    host, port = re.match(r"https://([^:]+):(\d+)", rig.info["server"]).groups()
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", rig.info["ca_file"])
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    code, out, err = _cli("--kube", "-n", "volsync-system", "--format", "json", *_window())
    assert code == 0, err
    data = json.loads(out)
    assert len(data["runs"]) == 4, (data["inputs"]["gaps"], data["inputs"]["skipped"], err)
    assert all(r["namespace"] == "volsync-system" for r in data["runs"])
    assert token not in out + err


def _window() -> list[str]:
    return ["--from", WINDOW["from_"], "--to", WINDOW["to"]]
