# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.apps between two real local clusters: migrate (check mode, verify, re-run, namespace mapping,
gradual), status, and the inputs refused before any request."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time

import pytest

SECRET = "pw-web-very-secret-%d" % os.getpid()


def kubectl(bin_dir, kubeconfig, *args, check=True):
    out = subprocess.run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", kubeconfig] + list(args),
                         capture_output=True, text=True, check=check, timeout=120)
    return out.stdout


def _deployment(name, app, pod):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop", "labels": {"app.kubernetes.io/name": app}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"run": name}},
                     "template": {"metadata": {"labels": {"run": name, "app.kubernetes.io/name": app}}, "spec": pod}}}


def _objects():
    web_pod = {"serviceAccountName": "web-sa",
               "volumes": [{"name": "conf", "configMap": {"name": "web-conf"}},
                           {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}],
               "containers": [{"name": "app", "image": "registry.example/web:1",
                               "envFrom": [{"secretRef": {"name": "web-secret"}}]}]}
    api_pod = {"containers": [{"name": "app", "image": "registry.example/api:1",
                               "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "api-conf", "key": "a"}}}]}]}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "shop"}}},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "apps-test-web-data"},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                  "hostPath": {"path": "/tmp/apps-test-web-data"},
                  "claimRef": {"namespace": "shop", "name": "web-data"}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "web-data", "namespace": "shop"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual", "volumeName": "apps-test-web-data",
                  "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web-sa", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-conf", "namespace": "shop"}, "data": {"k": "v"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secret", "namespace": "shop"},
         "stringData": {"password": SECRET}},
        _deployment("web", "web", web_pod),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop",
                                                             "labels": {"app.kubernetes.io/name": "web"}},
         "spec": {"selector": {"run": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-conf", "namespace": "shop"}, "data": {"a": "b"}},
        _deployment("api", "api", api_pod),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "loose", "namespace": "shop"}, "data": {"x": "y"}},
    ]


@pytest.fixture(scope="module")
def clusters(runner, make_local_cluster, bin_dir):
    with make_local_cluster("apps-src", 1) as src, make_local_cluster("apps-dst", 1) as dst:
        runner.module("adhar.platform.apply", {"kubeconfig": src, "definitions": _objects()})
        kubectl(bin_dir, src, "wait", "--for=condition=Available", "deployment/web", "deployment/api", "-n", "shop",
                "--timeout=120s")
        yield {"src": src, "dst": dst}


def args(clusters, **extra):
    out = {"action": "migrate", "source": {"kubeconfig": clusters["src"]}, "target": {"kubeconfig": clusters["dst"]}}
    out.update(extra)
    return out


def names(bin_dir, kc, kind, ns=None):
    cmd = ["get", kind, "-o", "json"] + (["-n", ns] if ns else [])
    out = kubectl(bin_dir, kc, *cmd, check=False)
    return sorted(o["metadata"]["name"] for o in json.loads(out or '{"items": []}')["items"])


def test_bad_inputs_fail_before_any_request(runner, clusters):
    nowhere = {"host": "https://127.0.0.1:1", "api_retry_deadline": 0, "request_timeout": 1}
    cases = [
        (dict(args(clusters, app="web"), target={"kubeconfig": clusters["src"]}), "source and target are the same"),
        ({"action": "migrate", "app": "web", "kubeconfig": clusters["src"]}, "source and target are the same"),
        (dict(args(clusters, app="web"), source=nowhere, target=nowhere), "source and target are the same"),
        (args(clusters, app="web", source=nowhere, namespace_mapping=["shop:shop2"]), "namespace_mapping must be a dictionary"),
        (args(clusters, app="web", source=nowhere, namespace_mapping={"shop": "Shop_2"}), "must be a DNS label"),
        (args(clusters, source=nowhere), "namespaces (names or globs) or app"),
        (args(clusters, source=nowhere, app="web", include_namespaces=[5]), "include_namespaces[0] must be a string"),
        ({"action": "status", "kubeconfig": clusters["src"]}, "namespaces (names or globs) or app"),
    ]
    # one playbook: every case is a task of its own (the source is unreachable where it matters: a request to it
    # would fail with a connection error instead of the message checked)
    tasks = "".join("- name: case %d\n  adhar.platform.apps: %s\n  ignore_errors: true\n" % (n, json.dumps(case))
                    for n, (case, dummy) in enumerate(cases))
    results = {r["task"]: r for r in runner.play(tasks)}
    for n, (case, message) in enumerate(cases):
        r = results["case %d" % n]
        assert r["status"] == "failed", (case, r)
        assert message in r["result"]["msg"], (case, r["result"]["msg"])
        assert "HTTP" not in r["result"]["msg"] and "refused" not in r["result"]["msg"], r["result"]["msg"]


def test_check_mode_writes_nothing(runner, clusters, bin_dir):
    r = runner.module("adhar.platform.apps", args(clusters, app="web", verify=True), check=True)
    m = r["migration"]
    assert r["changed"] is True and m["check_mode"] is True
    assert m["counts"]["created"] >= 7 and m["counts"]["failed"] == 0, m
    assert m["verification"] == {"skipped": "check mode: nothing was written to the target"}
    assert "shop" not in names(bin_dir, clusters["dst"], "namespaces")
    assert "apps-test-web-data" not in names(bin_dir, clusters["dst"], "persistentvolumes")


def test_migrate_verify_then_rerun_is_unchanged(runner, clusters, bin_dir):
    t = time.monotonic()
    r = runner.module("adhar.platform.apps", args(clusters, app="web", verify=True, wait_timeout=120,
                                                  report_items="changed"))
    wall = time.monotonic() - t
    m = r["migration"]
    assert r["changed"] is True and m["counts"]["failed"] == 0, m
    moved = {(i["resource"], i["name"]) for i in r["items"] if i["action"] == "created"}
    for want in [("namespaces", "shop"), ("persistentvolumes", "apps-test-web-data"), ("persistentvolumeclaims", "web-data"),
                 ("serviceaccounts", "web-sa"), ("configmaps", "web-conf"), ("secrets", "web-secret"),
                 ("deployments.apps", "web"), ("services", "web")]:
        assert want in moved, (want, sorted(moved))
    assert not {("deployments.apps", "api"), ("configmaps", "api-conf"), ("configmaps", "loose")} & moved
    v = m["verification"]
    assert v["ok"] is True and v["missing"] == 0 and v["differs"] == 0 and v["equal"] == v["objects"] >= 8, v
    assert v["workloads"] == v["ready"] == 1, v
    assert {(row["kind"], row["name"]): row["ready"] for row in v["table"]}[("Deployment", "web")] is True
    assert SECRET not in json.dumps(r)  # never in the result
    secret = json.loads(kubectl(bin_dir, clusters["dst"], "get", "secret", "web-secret", "-n", "shop", "-o", "json"))
    assert base64.b64decode(secret["data"]["password"]).decode() == SECRET
    pvc = json.loads(kubectl(bin_dir, clusters["dst"], "get", "pvc", "web-data", "-n", "shop", "-o", "json"))
    assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["volumeName"] == "apps-test-web-data"
    print("\nmigrate app web (verify): %d objects handled, apply %.2fs = %s objects/s, whole task %.1fs"
          % (sum(m["counts"][k] for k in ("created", "unchanged", "updated")), m["timings"]["apply"],
             m["objects_per_second"], wall))
    again = runner.module("adhar.platform.apps", args(clusters, app="web", verify=True, wait_timeout=120))
    a = again["migration"]
    assert again["changed"] is False, a
    assert a["counts"]["created"] == a["counts"]["updated"] == a["counts"]["failed"] == 0, a
    assert a["counts"]["unchanged"] == v["objects"], a
    assert a["verification"]["ok"] is True
    check = runner.module("adhar.platform.apps", args(clusters, app="web"), check=True)
    assert check["changed"] is False and check["migration"]["counts"]["unchanged"] == v["objects"]


def test_gradual_namespaces_with_mapping(runner, clusters, bin_dir):
    # the PV stays with shop/web-data (moved above): the claim moved into shop-green stays Pending, so web is not
    # ready there - the other applications are moved and verified all the same (continue_on_error)
    common = dict(namespaces=["shop"], namespace_mapping={"shop": "shop-green"}, exclude_resources=["persistentvolumes"],
                  gradual=True)
    r = runner.module("adhar.platform.apps", args(clusters, verify=True, wait_timeout=30, continue_on_error=True, **common))
    m = r["migration"]
    assert [a["app"] for a in m["apps"]] == ["api", "web", None], m["apps"]
    assert [a["verified"] for a in m["apps"]] == [True, False, True], m["apps"]
    assert all(a["namespaces"] == ["shop-green"] for a in m["apps"]), m["apps"]
    assert m["apps"][2]["counts"]["created"] == 1, m["apps"]  # the ConfigMap of no application
    assert m["verification"]["workloads"] == 2 and m["verification"]["ready"] == 1, m["verification"]
    assert [line.split(":")[0] for line in m["verification"]["not_ready"]] == ["deployments.apps shop-green/web"]
    assert any("workloads not ready on the target" in w for w in r.get("warnings", [])), r.get("warnings")
    assert names(bin_dir, clusters["dst"], "configmaps", "shop-green") == ["api-conf", "kube-root-ca.crt", "loose", "web-conf"]
    assert names(bin_dir, clusters["dst"], "deployments", "shop-green") == ["api", "web"]
    again = runner.module("adhar.platform.apps", args(clusters, **common))
    assert again["changed"] is False, again["migration"]["counts"]
    # every object of the first run (the Namespace once per application) is unchanged now
    assert again["migration"]["counts"]["unchanged"] == sum(a["counts"]["created"] + a["counts"]["unchanged"]
                                                            for a in m["apps"]), again["migration"]["counts"]


def test_status_table(runner, clusters):
    r = runner.module("adhar.platform.apps", {"action": "status", "kubeconfig": clusters["dst"], "app": "web"})
    s = r["status"]
    assert r["changed"] is False
    rows = {(row["kind"], row["namespace"], row["name"]): row for row in s["table"]}
    assert rows[("Deployment", "shop", "web")]["ready"] is True, rows
    assert rows[("PersistentVolumeClaim", "shop", "web-data")]["reason"] == "phase Bound"
    for kind, name in (("ConfigMap", "web-conf"), ("Secret", "web-secret"), ("ServiceAccount", "web-sa"), ("Service", "web")):
        assert (kind, "shop", name) in rows, sorted(rows)
    assert ("Deployment", "shop", "api") not in rows
    assert any(k[0] == "Pod" and row["ready"] for k, row in rows.items()), sorted(rows)
    # the same arguments as a migration, action status: the target is shown
    t = runner.module("adhar.platform.apps", dict(args(clusters, app="api"), action="status"))
    assert t["status"]["cluster"] == s["cluster"]  # the target, not the source
    assert {row["name"] for row in t["status"]["table"] if row["kind"] == "Deployment"} == {"api"}
    assert t["status"]["ready"] is True, t["status"]["table"]
    missing = runner.module("adhar.platform.apps", {"action": "status", "kubeconfig": clusters["dst"], "app": "nothing-here"})
    assert missing["status"]["objects"] == 0 and missing["status"]["ready"] is False


BULK_CONFIGMAPS, BULK_SECRETS, BULK_SERVICES = 300, 150, 50


def test_bulk_namespace_paged_and_verified(runner, clusters, bin_dir):
    """A namespace of 500 objects read in pages of 50, moved and verified; the throughput is printed."""
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bulk"}}]
    objs += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%03d" % i, "namespace": "bulk"},
              "data": {"n": str(i), "blob": "x" * 512}} for i in range(BULK_CONFIGMAPS)]
    objs += [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s-%03d" % i, "namespace": "bulk"},
              "stringData": {"token": "bulk-secret-%d-%d" % (os.getpid(), i)}} for i in range(BULK_SECRETS)]
    objs += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%03d" % i, "namespace": "bulk"},
              "spec": {"ports": [{"port": 80}], "selector": {"n": str(i)}}} for i in range(BULK_SERVICES)]
    runner.module("adhar.platform.apply", {"kubeconfig": clusters["src"], "definitions": objs})
    t = time.monotonic()
    r = runner.module("adhar.platform.apps", args(clusters, namespaces=["bulk"], page_size=50, verify=True))
    wall = time.monotonic() - t
    m = r["migration"]
    total = 1 + BULK_CONFIGMAPS + BULK_SECRETS + BULK_SERVICES
    assert m["counts"]["created"] == total and m["counts"]["failed"] == 0, m["counts"]
    assert m["verification"]["ok"] is True and m["verification"]["equal"] == total, m["verification"]
    assert "bulk-secret-" not in json.dumps(r)
    assert len(names(bin_dir, clusters["dst"], "configmaps", "bulk")) == BULK_CONFIGMAPS + 1  # and kube-root-ca.crt
    timings = m["timings"]
    line = "\nmigrate namespace bulk (%d objects, verify): read %.2fs, apply %.2fs = %s objects/s, verify %.2fs, " \
           "whole task %.1fs = %.0f objects/s"
    print(line % (total, timings["read"], timings["apply"], m["objects_per_second"], timings["verify"], wall, total / wall))
    again = runner.module("adhar.platform.apps", args(clusters, namespaces=["bulk"], page_size=50))
    assert again["changed"] is False and again["migration"]["counts"]["unchanged"] == total
