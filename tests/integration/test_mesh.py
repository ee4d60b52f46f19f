# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cilium ClusterMesh between real local clusters (two, then a third, node-less one): the real clustermesh-apiserver
(built by tools/toolchain) syncs each cluster's real Services into its kvstore, which every peer reaches over TLS with
its own client certificate."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

A = {"name": "a", "local_cluster": "mesh-a"}
B = {"name": "b", "local_cluster": "mesh-b"}
C = {"name": "c", "local_cluster": "mesh-c"}

GLOBAL_SERVICES = """
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    namespace: default
    annotations:
      service.cilium.io/global: "true"
  spec:
    selector: {app: web}
    ports: [{name: http, port: 80, targetPort: 8080}]
- apiVersion: v1
  kind: Service
  metadata:
    name: local-only
    namespace: default
  spec:
    selector: {app: local}
    ports: [{name: http, port: 80}]
"""


@pytest.fixture(scope="module")
def clusters(make_local_cluster):
    with make_local_cluster("mesh-a", 1, cluster_id=1, pod_cidr="10.244.0.0/16") as kc_a:
        with make_local_cluster("mesh-b", 1, cluster_id=2, pod_cidr="10.245.0.0/16") as kc_b:
            # the third member: no nodes (the mesh needs none), its own cluster id and pod network
            with make_local_cluster("mesh-c", 0, cluster_id=3, pod_cidr="10.246.0.0/16") as kc_c:
                yield {"a": kc_a, "b": kc_b, "c": kc_c}


def saved(state_dir, name):
    with open(os.path.join(state_dir, name, "cluster.json")) as f:
        return json.load(f)


def secret_exists(kubeconfig):
    from kubernetes import client, config
    api = client.CoreV1Api(config.new_client_from_config(kubeconfig))
    try:
        api.read_namespaced_secret("cilium-ca", "kube-system")
        return True
    except client.exceptions.ApiException as exc:
        assert exc.status == 404
        return False


def nothing_changed(state_dir, clusters):
    for name in ("mesh-a", "mesh-b", "mesh-c"):
        data = saved(state_dir, name)
        assert "mesh" not in data and "clustermesh_etcd" not in data["ports"]
        assert not os.path.exists(os.path.join(state_dir, name, "pki", "clustermesh"))
    assert not any(secret_exists(clusters[n]) for n in ("a", "b", "c"))


def wait_info(runner, members, want_healthy, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        info = runner.module("adhar.platform.mesh_info", {"members": members})
        if info["healthy"] == want_healthy or time.monotonic() > deadline:
            return info
        time.sleep(3)


def test_bad_inputs_fail_before_any_change(runner, state_dir, clusters):
    # duplicate cluster IDs: one error naming both members and the rule
    r = runner.module("adhar.platform.mesh", {"members": [dict(A, cluster_id=2), dict(B, cluster_id=2)]},
                      expect_fail=True)
    assert "members a and b: both have cluster_id 2" in r["msg"] and r["rule"] == "unique_cluster_id"
    # a local member's id is its cluster's
    r = runner.module("adhar.platform.mesh", {"members": [dict(A, cluster_id=5), B]}, expect_fail=True)
    assert r["member"] == "a" and r["rule"] == "cluster_id" and "cluster_id 1" in r["msg"]
    # too many members: refused before any cluster is looked at
    many = [{"name": "m%d" % i, "local_cluster": "none-%d" % i, "cluster_id": i + 1} for i in range(256)]
    r = runner.module("adhar.platform.mesh", {"members": many}, expect_fail=True)
    assert r["rule"] == "member_count" and "256 clusters" in r["msg"] and "at most 255" in r["msg"]
    nothing_changed(state_dir, clusters)


def test_mesh_two_local_clusters(runner, state_dir, clusters):
    members = [A, B]
    check = runner.module("adhar.platform.mesh", {"members": members}, check=True)
    assert check["changed"] and any("would join the mesh" in a for a in check["actions"])
    nothing_changed(state_dir, clusters)

    r = runner.module("adhar.platform.mesh", {"members": members})
    assert r["changed"] and r["ca"]["source"] == "generated"
    rows = {m["name"]: m for m in r["members"]}
    assert rows["a"]["peers"] == ["b"] and rows["b"]["cluster_id"] == 2
    for name in ("mesh-a", "mesh-b"):
        data = saved(state_dir, name)
        assert data["mesh"]["cluster_id"] in (1, 2)
        assert os.path.isfile(os.path.join(state_dir, name, "logs", "clustermesh-apiserver.log"))
    assert secret_exists(clusters["a"]) and secret_exists(clusters["b"])

    # a global Service in b (and one that is not global)
    runner.module("adhar.platform.apply", {"kubeconfig": clusters["b"], "definitions": GLOBAL_SERVICES})
    info = wait_info(runner, members, True)
    assert info["healthy"], info["reasons"]
    assert len(info["table"]) == 2
    ab = next(row for row in info["table"] if row["source"] == "a" and row["dest"] == "b")
    assert ab["configured"] and ab["reachable"] and ab["synced"]
    assert ab["global_services_seen"] == ["default/web"]

    again = runner.module("adhar.platform.mesh", {"members": members})
    assert not again["changed"], again["actions"]
    assert again["ca"]["fingerprint"] == r["ca"]["fingerprint"]


def test_mesh_three_local_clusters(runner, state_dir, clusters):
    """A third member joins: every member gets the new peer, the old pair is kept, and each of the six ordered pairs
    is configured, reachable and synced, with the global Service of its destination seen in that kvstore."""
    members = [A, B, C]
    r = runner.module("adhar.platform.mesh", {"members": members})
    assert r["changed"] and r["ca"]["source"] == "kept in Secret cilium-ca of a"
    assert {m["name"]: m["peers"] for m in r["members"]} == {"a": ["b", "c"], "b": ["a", "c"], "c": ["a", "b"]}
    assert secret_exists(clusters["c"]) and saved(state_dir, "mesh-c")["mesh"]["cluster_id"] == 3
    for name in ("a", "c"):  # b has had it since the two-member test
        runner.module("adhar.platform.apply", {"kubeconfig": clusters[name], "definitions": GLOBAL_SERVICES})
    info = wait_info(runner, members, True)
    assert info["healthy"], info["reasons"]
    pairs = {(row["source"], row["dest"]): row for row in info["table"]}
    assert sorted(pairs) == [("a", "b"), ("a", "c"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "b")]
    for row in pairs.values():
        assert row["configured"] and row["reachable"] and row["synced"], row
        assert row["global_services_seen"] == ["default/web"], row
    assert not runner.module("adhar.platform.mesh", {"members": members})["changed"]


def test_killed_clustermesh_apiserver_is_named(runner, state_dir, clusters):
    members = [A, B]
    run = os.path.join(state_dir, "mesh-b", "run")
    with open(os.path.join(run, "supervisord.pid")) as f:
        supervisord = json.load(f)["pid"]
    with open(os.path.join(run, "clustermesh-apiserver.pid")) as f:
        apiserver = json.load(f)["pid"]
    # hold b's supervisord so it does not restart the process at once, then kill -9 the clustermesh-apiserver
    os.kill(supervisord, signal.SIGSTOP)
    try:
        os.kill(apiserver, signal.SIGKILL)
        info = runner.module("adhar.platform.mesh_info", {"members": members, "timeout": 3})
    finally:
        os.kill(supervisord, signal.SIGCONT)
    assert not info["healthy"]
    assert any(reason.startswith("a -> b:") and "clustermesh-apiserver of b" in reason for reason in info["reasons"]), \
        info["reasons"]
    ab = next(row for row in info["table"] if row["source"] == "a" and row["dest"] == "b")
    assert ab["configured"] and ab["reachable"] and not ab["synced"]
    # supervisord restarts it; the mesh heals without a task
    info = wait_info(runner, members, True)
    assert info["healthy"], info["reasons"]


def test_disconnect(runner, state_dir, clusters):
    members = [A, B, C]
    r = runner.module("adhar.platform.mesh", {"members": members, "state": "absent"})
    assert r["changed"]
    for name in ("mesh-a", "mesh-b", "mesh-c"):
        data = saved(state_dir, name)
        assert "mesh" not in data and "clustermesh_etcd" not in data["ports"]
        assert not os.path.exists(os.path.join(state_dir, name, "config", "clustermesh"))
    assert any("removed Secret kube-system/cilium-ca" in a for a in r["actions"])
    assert not any(secret_exists(clusters[n]) for n in ("a", "b", "c"))
    again = runner.module("adhar.platform.mesh", {"members": members, "state": "absent"})
    assert not again["changed"]


def cilium_chart():
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "plugins", "module_utils", "_common"))
    try:
        import toolchain
    finally:
        sys.path.pop(0)
    if not toolchain.chart_ready("cilium"):
        pytest.fail("the Cilium chart is not fetched into %s (run `make toolchain`)" % toolchain.chart_dir("cilium"))
    return toolchain.chart_dir("cilium")


def release_values(runner, kubeconfig):
    from kubernetes import client, config
    api = client.CoreV1Api(config.new_client_from_config(kubeconfig))
    secret = api.read_namespaced_secret("cilium-clustermesh", "kube-system")
    return sorted((secret.data or {}).keys())


def test_cilium_helm_members(runner, state_dir, clusters):
    """The Helm path on the real Cilium chart: releases installed on the two local clusters (kwok marks their pods
    Running; no Cilium agent or clustermesh-apiserver container runs), then meshed through their values."""
    import base64
    from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import ca as meshca
    chart = cilium_chart()
    shared = meshca.generate()

    def install(ca=None):
        for name, cid, pods in (("a", 1, "10.244.0.0/16"), ("b", 2, "10.245.0.0/16")):
            values = {"cluster": {"name": name, "id": cid}, "operator": {"replicas": 1},
                      "ipam": {"operator": {"clusterPoolIPv4PodCIDRList": [pods]}}}
            if ca:
                values["tls"] = {"ca": {k: base64.b64encode(ca[k].encode()).decode() for k in ("cert", "key")}}
            runner.module("adhar.platform.helm_release", {
                "kubeconfig": clusters[name], "name": "cilium", "namespace": "kube-system", "chart": chart,
                "wait": False, "values": values})

    members = [{"name": "a", "kubeconfig": clusters["a"]}, {"name": "b", "kubeconfig": clusters["b"]}]
    # each release made its own CA: refused, nothing changed
    install()
    # overlapping pod networks (b's given on the member, which wins over its cilium-config): the first rule over the
    # facts that fails, before the CA rule
    overlapping = [members[0], dict(members[1], pod_cidr="10.244.128.0/17")]
    r = runner.module("adhar.platform.mesh", {"members": overlapping}, expect_fail=True)
    assert r["rule"] == "pod_cidr_overlap" and r["members"] == ["a", "b"]
    assert "pod networks 10.244.0.0/16 and 10.244.128.0/17 overlap" in r["msg"]
    r = runner.module("adhar.platform.mesh", {"members": members}, expect_fail=True)
    assert r["rule"] == "shared_ca" and r["members"] == ["a", "b"]
    # the Cilium way: one CA given to both releases
    install(shared)
    r = runner.module("adhar.platform.mesh", {"members": members})
    assert r["ca"]["fingerprint"] == meshca.fingerprint(shared["cert"])
    assert r["changed"], r
    rows = {m["name"]: m for m in r["members"]}
    assert rows["a"]["kind"] == "helm" and rows["a"]["cluster_id"] == 1 and rows["b"]["pod_cidrs"] == ["10.245.0.0/16"]
    assert rows["b"]["endpoint"] == "127.0.0.1:32379"  # the NodePort Service on the kwok node's InternalIP
    # the chart rendered the agents' connection to the peer from the values
    assert "b" in release_values(runner, clusters["a"]) and "a" in release_values(runner, clusters["b"])
    again = runner.module("adhar.platform.mesh", {"members": members})
    assert not again["changed"], again["actions"]
    info = runner.module("adhar.platform.mesh_info", {"members": members, "timeout": 2})
    ab = next(row for row in info["table"] if row["source"] == "a" and row["dest"] == "b")
    # configured for real; nothing listens behind the NodePort (kwok runs no containers), and mesh_info says so
    assert ab["configured"] and not ab["reachable"] and not info["healthy"]
    assert any("a -> b: a cannot reach the kvstore of b" in reason for reason in info["reasons"]), info["reasons"]
    gone = runner.module("adhar.platform.mesh", {"members": members, "state": "absent"})
    assert gone["changed"]
    assert not runner.module("adhar.platform.mesh", {"members": members, "state": "absent"})["changed"]
    for name in ("a", "b"):
        runner.module("adhar.platform.helm_release", {"kubeconfig": clusters[name], "name": "cilium",
                                                      "namespace": "kube-system", "state": "absent", "wait": False})
