# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.helm_release against a real local cluster (one, shared by this module's tests, in order).

The chart is the postgresql FIXTURE chart (tests/fixtures/charts/postgresql: the bitnami chart's value keys, only
workloads, images never pulled). check mode installs nothing -> install (waits) -> unchanged re-run -> check + diff
of a change -> upgrade with a secret value -> atomic rollback of a bad upgrade -> a pending release (refused, then
recovered with atomic) -> absent.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os

import pytest
import yaml

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as kclient, config as kconfig  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(REPO, "tests", "fixtures", "charts", "postgresql")
NS = "helm-itest"
SECRET = "s3cr3t-Pa55-w0rd"


def args(kubeconfig, **extra):
    out = {"name": "pg", "namespace": NS, "create_namespace": True, "chart": CHART, "kubeconfig": kubeconfig,
           "wait_timeout": 60, "set_values": {"architecture": "replication", "readReplicas.replicaCount": "2"}}
    out.update(extra)
    return out


@pytest.fixture(scope="module")
def cluster(make_local_cluster):
    """A single-member local cluster named ``helmrel``; removed at the end."""
    with make_local_cluster("helmrel") as kubeconfig:
        yield kubeconfig


@pytest.fixture(scope="module")
def api(cluster):
    return kconfig.new_client_from_config(config_file=cluster)


def release_secrets(api):
    return kclient.CoreV1Api(api).list_namespaced_secret(NS, label_selector="owner=helm,name=pg").items


def replicas(api, name):
    return kclient.AppsV1Api(api).read_namespaced_stateful_set(name, NS).spec.replicas


def test_check_mode_installs_nothing(runner, cluster, api):
    r = runner.module("adhar.platform.helm_release", args(cluster), check=True, diff=True)
    assert r["changed"] is True and r["reasons"] == ["not installed"]
    assert r["release"]["status"] == "pending-install" and r["release"]["chart"] == "fixture-postgresql"
    assert "--dry-run=server" in r["command"] and "<values>" in r["command"]
    assert "readReplicas" in r["diff"]["after"] and r["diff"]["before"] == ""
    with pytest.raises(ApiException) as exc:
        kclient.CoreV1Api(api).read_namespace(NS)
    assert exc.value.status == 404


def test_install_waits_until_ready(runner, cluster, api):
    r = runner.module("adhar.platform.helm_release", args(cluster))
    assert r["changed"] is True
    assert r["release"] == {"name": "pg", "namespace": NS, "chart": "fixture-postgresql", "version": "0.1.0",
                            "app_version": "0.0.0-fixture", "revision": 1, "status": "deployed"}
    assert r["values"] == {"architecture": "replication", "readReplicas": {"replicaCount": 2}}
    ready = {w["name"]: w for w in r["workloads"]}
    assert set(ready) == {"pg-primary", "pg-read"} and all(w["ready"] for w in ready.values()), ready
    assert kclient.AppsV1Api(api).read_namespaced_stateful_set("pg-read", NS).status.ready_replicas == 2
    assert len(release_secrets(api)) == 1


def test_unchanged_rerun(runner, cluster):
    # the same release given another way: the kubeconfig as a dict, the values nested, the numbers as numbers
    with open(cluster) as f:
        kubeconfig = yaml.safe_load(f)
    r = runner.module("adhar.platform.helm_release", args(
        kubeconfig, set_values={}, values={"architecture": "replication", "readReplicas": {"replicaCount": 2}}))
    assert r["changed"] is False and r["reasons"] == [] and r["command"] is None
    assert r["release"]["revision"] == 1 and all(w["ready"] for w in r["workloads"])


def test_check_mode_reports_a_change_with_diff(runner, cluster, api):
    r = runner.module("adhar.platform.helm_release", args(cluster, set_values={
        "architecture": "replication", "readReplicas.replicaCount": "3"}), check=True, diff=True)
    assert r["changed"] is True and r["reasons"] == ["values changed: readReplicas.replicaCount"]
    assert "replicaCount: 2" in r["diff"]["before"] and "replicaCount: 3" in r["diff"]["after"]
    assert replicas(api, "pg-read") == 2 and len(release_secrets(api)) == 1


def test_upgrade_with_a_secret_value(runner, cluster, api):
    values_file = os.path.join(runner.workdir, "pg-values.yaml")
    with open(values_file, "w") as f:
        f.write("auth:\n  username: app\n  database: app\nreadReplicas:\n  replicaCount: 1\n")
    r = runner.module("adhar.platform.helm_release", args(
        cluster, values_files=[values_file], set_values={"architecture": "replication", "readReplicas.replicaCount": "3"},
        secret_values={"auth.password": SECRET}), diff=True)
    assert r["changed"] is True and r["release"]["revision"] == 2
    assert r["reasons"] == ["values changed: auth, readReplicas.replicaCount"], r["reasons"]
    assert r["values"]["readReplicas"] == {"replicaCount": 3} and r["values"]["auth"]["username"] == "app"
    assert SECRET not in json.dumps(r), "the secret value leaked into the result"
    assert "replicaCount: 3" in r["diff"]["after"]
    assert replicas(api, "pg-read") == 3
    stored = kclient.CoreV1Api(api).read_namespaced_secret("pg", NS).data["password"]
    assert base64.b64decode(stored).decode() == SECRET


def test_atomic_rolls_back_a_bad_upgrade(runner, cluster, api):
    r = runner.module("adhar.platform.helm_release", args(
        cluster, set_values={"architecture": "replication", "readReplicas.replicaCount": "-1"}, atomic=True),
        expect_fail=True)
    assert "failed" in r["msg"] and "atomic: rolled back to revision 2" in r["msg"], r["msg"]
    statuses = sorted((int(s.metadata.labels["version"]), s.metadata.labels["status"]) for s in release_secrets(api))
    assert statuses[-2:] == [(3, "failed"), (4, "deployed")], statuses
    assert replicas(api, "pg-read") == 3


def _fake_pending(api):
    """Add a revision in state pending-upgrade, as an interrupted `helm upgrade` leaves it."""
    core = kclient.CoreV1Api(api)
    latest = max(release_secrets(api), key=lambda s: int(s.metadata.labels["version"]))
    rel = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(latest.data["release"]))))
    rev = rel["version"] + 1
    rel = copy.deepcopy(rel)
    rel["version"] = rev
    rel["info"]["status"] = "pending-upgrade"
    rel["info"]["description"] = "Preparing upgrade"
    body = base64.b64encode(gzip.compress(json.dumps(rel).encode())).decode()
    labels = dict(latest.metadata.labels, status="pending-upgrade", version=str(rev))
    core.create_namespaced_secret(NS, kclient.V1Secret(
        metadata=kclient.V1ObjectMeta(name="sh.helm.release.v1.pg.v%d" % rev, labels=labels),
        type="helm.sh/release.v1", data={"release": base64.b64encode(body.encode()).decode()}))
    return rev


def test_pending_release_is_refused_then_recovered(runner, cluster, api):
    pending = _fake_pending(api)
    r = runner.module("adhar.platform.helm_release", args(cluster), expect_fail=True)
    assert "is pending-upgrade (revision %d" % pending in r["msg"] and "atomic=true" in r["msg"], r["msg"]
    r = runner.module("adhar.platform.helm_release", args(cluster, atomic=True))
    assert r["changed"] is True
    assert r["reasons"][0] == "recovered from pending-upgrade: rolled back to revision 4", r["reasons"]
    assert r["release"]["status"] == "deployed" and replicas(api, "pg-read") == 2
    r = runner.module("adhar.platform.helm_release", args(cluster))
    assert r["changed"] is False


def tasks(runner, *specs):
    """Several helm_release tasks in one playbook run: ``(args, {"check_mode": true, ...})``; returns their results."""
    text = ""
    for n, (task_args, keywords) in enumerate(specs):
        text += "- name: task %d\n  adhar.platform.helm_release: %s\n" % (n, json.dumps(task_args))
        text += "".join("  %s: %s\n" % (k, json.dumps(v)) for k, v in keywords.items())
    out = runner.play(text, expect_rc=0)
    assert len(out) == len(specs), out
    return [r["result"] for r in out]


def test_errors_are_clear_and_never_echo_values(runner, cluster):
    bad_key, no_chart, no_helm = tasks(
        runner,
        (args(cluster, set_values={"auth..password": "hunter2-value"}), {"ignore_errors": True}),
        (args(cluster, chart="/nonexistent/chart"), {"ignore_errors": True}),
        (args(cluster, bin_dir=runner.workdir), {"ignore_errors": True}))
    assert "values key 'auth..password'" in bad_key["msg"] and "hunter2-value" not in bad_key["msg"]
    assert no_chart["msg"] == "chart: no chart at /nonexistent/chart"
    assert no_helm["msg"].startswith("helm not found in %s (from option)" % runner.workdir) and no_helm["missing"] == ["helm"]


def test_absent(runner, cluster, api):
    absent = {"name": "pg", "namespace": NS, "state": "absent", "kubeconfig": cluster}
    check, removed, again = tasks(runner, (absent, {"check_mode": True}), (absent, {}), (absent, {}))
    assert check["changed"] is True and check["release"]["revision"] == 7
    assert removed["changed"] is True and removed["release"] is None
    assert again["changed"] is False
    assert release_secrets(api) == []
    assert kclient.AppsV1Api(api).list_namespaced_stateful_set(NS).items == []
