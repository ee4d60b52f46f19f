# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.apply against a real local cluster (one, shared by this module's tests, in order).

check mode creates nothing -> 50+ mixed objects (Namespaces, ConfigMaps,
Secrets, Services, a CRD and custom resources of it, Deployments that
become Available through kwok, a Job that completes) -> unchanged re-run ->
one object modified (diff) -> prune -> templates and src through the action
plugin -> continue_on_error -> wait timeout -> ApplySets shared with kubectl
(both directions) and adoption of an earlier release's set -> state absent.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as kclient, config as kconfig  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "apply")
NAMESPACES = ["apply-a", "apply-b", "apply-c"]
SET = "itest"


def crd():
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.itest.adhar.io"},
            "spec": {"group": "itest.adhar.io", "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def objects():
    """55 objects: 3 Namespaces, 21 ConfigMaps, 15 Secrets, 3 Services, 6 Deployments, a Job, a CRD, 2 Widgets, 3 ServiceAccounts."""
    out = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"team": "itest"}}} for n in NAMESPACES]
    for i in range(21):
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "cm-%d" % i, "namespace": NAMESPACES[i % 3]}, "data": {"index": str(i)}})
    for i in range(15):
        out.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "secret-%d" % i, "namespace": NAMESPACES[i % 3]},
                    "stringData": {"password": "pw-%d" % i}})
    for i, n in enumerate(NAMESPACES):
        out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": n}})
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": n},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    for i in range(6):
        name = "web-%d" % i
        out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACES[i % 3]},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                             "template": {"metadata": {"labels": {"app": name}},
                                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    out.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "apply-a"},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "once", "image": "busybox", "command": ["true"]}]}}}})
    out.append(crd())
    # custom resources after their CRD in the same task, one without a namespace (takes the task's)
    out.append({"apiVersion": "itest.adhar.io/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "apply-b"},
                "spec": {"size": 1}})
    out.append({"apiVersion": "itest.adhar.io/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 2}})
    return out


def task_args(kubeconfig, defs, **extra):
    args = {"kubeconfig": kubeconfig, "definitions": defs, "namespace": "apply-c", "apply_set": SET, "prune": True}
    args.update(extra)
    return args


@pytest.fixture(scope="module")
def apply(make_local_cluster):
    """A single-member local cluster named ``apply``; removed at the end."""
    with make_local_cluster("apply", nodes=2) as kubeconfig:
        yield kubeconfig


@pytest.fixture(scope="module")
def api(apply):
    return kconfig.new_client_from_config(config_file=apply)


def namespaces(api):
    return {n.metadata.name for n in kclient.CoreV1Api(api).list_namespace().items}


def test_check_mode_creates_nothing(runner, apply, api):
    r = runner.module("adhar.platform.apply", task_args(apply, objects()), check=True)
    assert r["changed"] is True and r["failed_count"] == 0
    assert r["counts"]["created"] == len(objects()) + 1 == 56  # and the ApplySet parent
    assert len(r["changes"]) == 56 and "created Secret apply-c/itest" in r["changes"]
    # objects in Namespaces / of a CRD the task would create cannot be validated, and say so
    w2 = [x for x in r["results"] if x["name"] == "w2"][0]
    assert "CustomResourceDefinition" in w2["message"] and w2["namespace"] == "apply-c"
    assert not namespaces(api) & set(NAMESPACES)
    with pytest.raises(ApiException):
        kclient.ApiextensionsV1Api(api).read_custom_resource_definition("widgets.itest.adhar.io")
    with pytest.raises(ApiException):
        kclient.CoreV1Api(api).read_namespaced_secret(SET, "apply-c")


def test_apply_mixed_objects_and_wait(runner, apply, api):
    r = runner.module("adhar.platform.apply", task_args(apply, objects(), wait=True, wait_timeout=120))
    assert r["changed"] is True and r["counts"]["created"] == 56, r["errors"]
    assert r["failed_count"] == 0 and r["errors"] == []
    waited = {(x["kind"], x["name"]): x["wait"] for x in r["results"] if "wait" in x}
    assert len([k for k in waited if k[0] == "Deployment"]) == 6
    assert all(w["ready"] for w in waited.values()), waited
    assert waited[("Job", "once")]["message"] == "complete"
    assert waited[("CustomResourceDefinition", "widgets.itest.adhar.io")]["ready"]
    apps = kclient.AppsV1Api(api)
    for i in range(6):
        d = apps.read_namespaced_deployment("web-%d" % i, NAMESPACES[i % 3])
        assert d.status.available_replicas == 2
        assert d.metadata.labels == {"applyset.kubernetes.io/part-of": r["apply_set"]["id"],
                                     "app.kubernetes.io/managed-by": "adhar"}
    parent = kclient.CoreV1Api(api).read_namespaced_secret(SET, "apply-c").metadata
    assert parent.labels == {"applyset.kubernetes.io/id": r["apply_set"]["id"]}
    assert parent.annotations["applyset.kubernetes.io/additional-namespaces"] == "apply-a,apply-b"
    assert parent.annotations["applyset.kubernetes.io/contains-group-kinds"] == (
        "ConfigMap,CustomResourceDefinition.apiextensions.k8s.io,Deployment.apps,Job.batch,Namespace,Secret,Service,"
        "ServiceAccount,Widget.itest.adhar.io")
    w = kclient.CustomObjectsApi(api).get_namespaced_custom_object("itest.adhar.io", "v1", "apply-c", "widgets", "w2")
    assert w["spec"] == {"size": 2}
    secret = kclient.CoreV1Api(api).read_namespaced_secret("secret-0", "apply-a")
    assert secret.data["password"] == "cHctMA=="  # base64 of pw-0
    # one discovery request per group-version used, no more
    assert r["api_discovery_requests"] <= 6, r["api_discovery_requests"]
    assert set(r["timings"]) >= {"discovery", "apply", "crd_established", "prune", "wait"}


def test_unchanged_rerun_and_check_mode(runner, apply):
    r = runner.module("adhar.platform.apply", task_args(apply, objects(), wait=True))
    assert r["changed"] is False, r["changes"]
    assert r["counts"]["unchanged"] == 55 and r["changes"] == []
    # no wait was needed (speed itself is measured by benchmarks/apply_vs_k8s.py, not asserted here)
    assert r["duration"] < 60, r["timings"]
    r = runner.module("adhar.platform.apply", task_args(apply, objects()), check=True, diff=True)
    assert r["changed"] is False, r["changes"]
    assert r["diff"] == []


def test_modify_one_only_it_changes_with_diff(runner, apply):
    defs = objects()
    target = [o for o in defs if o["metadata"]["name"] == "cm-4"][0]
    target["data"]["index"] = "four"
    secret = [o for o in defs if o["metadata"]["name"] == "secret-1"][0]
    r = runner.module("adhar.platform.apply", task_args(apply, defs), check=True, diff=True)
    assert r["changes"] == ["configured ConfigMap apply-b/cm-4"]
    r = runner.module("adhar.platform.apply", task_args(apply, defs), diff=True)
    assert r["changed"] is True and r["changes"] == ["configured ConfigMap apply-b/cm-4"]
    assert r["counts"]["configured"] == 1 and r["counts"]["unchanged"] == 54
    diff = [x for x in r["results"] if x["name"] == "cm-4"][0]["diff"]
    assert diff["before"]["data"] == {"index": "4"} and diff["after"]["data"] == {"index": "four"}
    assert len(r["diff"]) == 1 and "'4'" in r["diff"][0]["before"] and "four" in r["diff"][0]["after"]
    # a Secret's values never show in a diff
    secret["stringData"]["password"] = "rotated"
    r = runner.module("adhar.platform.apply", task_args(apply, defs), diff=True)
    assert r["changes"] == ["configured Secret apply-b/secret-1"]
    text = json.dumps(r)
    assert "rotated" not in text and "cm90YXRlZA==" not in text
    assert [x for x in r["results"] if x["name"] == "secret-1"][0]["diff"]["after"]["data"] == {"password": "<hidden, changed>"}


def test_prune_removes_objects_dropped_from_the_input(runner, apply, api):
    defs = objects()
    defs[[o["metadata"]["name"] for o in defs].index("cm-4")]["data"]["index"] = "four"
    secret = [o for o in defs if o["metadata"]["name"] == "secret-1"][0]
    secret["stringData"]["password"] = "rotated"
    kept = [o for o in defs if o["metadata"]["name"] not in ("cm-20", "w1") and o["kind"] != "Job"]
    r = runner.module("adhar.platform.apply", task_args(apply, kept), check=True)
    assert sorted(r["changes"]) == ["configured Secret apply-c/itest",  # the parent forgets Job.batch
                                    "pruned ConfigMap apply-c/cm-20", "pruned Job apply-a/once", "pruned Widget apply-b/w1"]
    kclient.CoreV1Api(api).read_namespaced_config_map("cm-20", "apply-c")  # still there after check mode
    r = runner.module("adhar.platform.apply", task_args(apply, kept))
    assert sorted(r["changes"]) == ["configured Secret apply-c/itest",
                                    "pruned ConfigMap apply-c/cm-20", "pruned Job apply-a/once", "pruned Widget apply-b/w1"]
    with pytest.raises(ApiException) as info:
        kclient.CoreV1Api(api).read_namespaced_config_map("cm-20", "apply-c")
    assert info.value.status == 404
    parent = kclient.CoreV1Api(api).read_namespaced_secret(SET, "apply-c")
    assert "Job.batch" not in parent.metadata.annotations["applyset.kubernetes.io/contains-group-kinds"]
    assert runner.module("adhar.platform.apply", task_args(apply, kept))["changed"] is False


def test_templates_and_src_through_the_action_plugin(runner, apply, api):
    tasks = """
    - name: templates and files
      adhar.platform.apply:
        kubeconfig: {kc}
        template: {tpl}
        src: [{src}]
        definitions:
          - {{apiVersion: v1, kind: Namespace, metadata: {{name: apply-tpl}}}}
      vars:
        app_name: rendered
        app_namespace: apply-tpl
        app_count: 3
        greeting: "hello {{{{ app_name }}}}"
    """.format(kc=apply, tpl=os.path.join(FIXTURES, "app.yaml.j2"), src=os.path.join(FIXTURES, "src"))
    res = runner.play(tasks, expect_rc=0)
    r = res[-1]["result"]
    assert r["counts"]["created"] == 7, r
    core = kclient.CoreV1Api(api)
    cm = core.read_namespaced_config_map("rendered-2", "apply-tpl")
    assert cm.data == {"index": "2", "greeting": "hello rendered"}
    assert core.read_namespaced_service("from-src", "apply-tpl").spec.ports[0].port == 80
    assert core.read_namespaced_config_map("from-src-list-1", "apply-tpl").data == {"a": "1"}
    res = runner.play(tasks, expect_rc=0)
    assert res[-1]["result"]["changed"] is False


def test_continue_on_error_reports_each_failure(runner, apply, api):
    defs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coe-1", "namespace": "apply-tpl"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Invalid_Name", "namespace": "apply-tpl"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coe-2", "namespace": "apply-tpl"}},
    ]
    r = runner.module("adhar.platform.apply", {"kubeconfig": apply, "definitions": defs, "continue_on_error": True})
    assert r["counts"]["created"] == 2 and r["counts"]["failed"] == 1
    bad = [x for x in r["results"] if x["action"] == "failed"][0]
    assert bad["name"] == "Invalid_Name" and "HTTP 422" in bad["error"]
    assert any("1 of 3 objects failed" in w for w in r["warnings"])
    # without it: the task fails with the server's message; nothing after the failure is started (one worker)
    defs2 = [dict(copy.deepcopy(d), metadata=dict(d["metadata"], name=d["metadata"]["name"].replace("coe", "stop"))) for d in defs]
    r = runner.module("adhar.platform.apply", {"kubeconfig": apply, "definitions": defs2, "workers": 1}, expect_fail=True)
    assert "1 of 3 objects failed: ConfigMap apply-tpl/Invalid_Name: HTTP 422" in r["msg"] and "(1 not attempted)" in r["msg"]
    assert [x["action"] for x in r["results"]] == ["created", "failed", "skipped"]


def test_wait_condition_times_out_clearly(runner, apply):
    widget = {"apiVersion": "itest.adhar.io/v1", "kind": "Widget", "metadata": {"name": "never-ready", "namespace": "apply-tpl"}}
    r = runner.module("adhar.platform.apply", {"kubeconfig": apply, "definitions": [widget], "wait": True, "wait_timeout": 2,
                                               "wait_condition": {"type": "Ready"}}, expect_fail=True)
    assert "Widget apply-tpl/never-ready: not ready: timed out: no Ready condition yet" in r["msg"]
    assert r["results"][0]["action"] == "created" and r["results"][0]["wait"]["ready"] is False


def kubectl(bin_dir, kubeconfig, *args, stdin=None, expect_fail=False):
    env = dict(os.environ, KUBECONFIG=kubeconfig, KUBECTL_APPLYSET="true")
    proc = subprocess.run([os.path.join(bin_dir, "kubectl")] + list(args), input=stdin, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    if expect_fail:
        assert proc.returncode != 0, proc.stdout
        return proc.stderr
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def cms(namespace, *names):
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": namespace}, "data": {"n": n}}
            for n in names]


def exists(api, namespace, name):
    try:
        kclient.CoreV1Api(api).read_namespaced_config_map(name, namespace)
        return True
    except ApiException as exc:
        assert exc.status == 404
        return False


def test_kubectl_prunes_a_set_the_module_applied(runner, apply, api, bin_dir):
    kclient.CoreV1Api(api).create_namespace({"metadata": {"name": "apply-mod"}})
    args = {"kubeconfig": apply, "namespace": "apply-mod", "apply_set": "mset", "apply_set_tooling": "kubectl",
            "prune": True}
    r = runner.module("adhar.platform.apply", dict(args, definitions=cms("apply-mod", "m1", "m2", "m3")))
    assert r["counts"]["created"] == 4 and r["apply_set"]["kubectl"] == "--applyset=secrets/mset -n apply-mod"
    manifest = "\n---\n".join(json.dumps(o) for o in cms("apply-mod", "m1", "m2"))
    out = kubectl(bin_dir, apply, "apply", "--server-side", "--prune", "--applyset=secrets/mset", "-n", "apply-mod",
                  "-f", "-", stdin=manifest)
    assert "configmap/m3 pruned" in out, out
    assert exists(api, "apply-mod", "m1") and not exists(api, "apply-mod", "m3")
    # kubectl computed the same id and kept the module's view of the set: the module has nothing to change
    parent = kclient.CoreV1Api(api).read_namespaced_secret("mset", "apply-mod").metadata
    assert parent.labels["applyset.kubernetes.io/id"] == r["apply_set"]["id"]
    r = runner.module("adhar.platform.apply", dict(args, definitions=cms("apply-mod", "m1", "m2")))
    assert r["changed"] is False, r["changes"]
    # with the default tooling the set is the module's own: kubectl refuses it and changes nothing
    args = dict(args, apply_set="own", apply_set_tooling="adhar.platform", definitions=cms("apply-mod", "own1", "own2"))
    assert runner.module("adhar.platform.apply", args)["apply_set"]["tooling"] == "adhar.platform/v1"
    err = kubectl(bin_dir, apply, "apply", "--prune", "--applyset=secrets/own", "-n", "apply-mod", "-f", "-",
                  stdin=json.dumps(cms("apply-mod", "own1")[0]), expect_fail=True)
    assert 'managed by tooling "adhar.platform" instead of "kubectl"' in err, err
    assert exists(api, "apply-mod", "own2")
    kclient.CoreV1Api(api).delete_namespace("apply-mod")


def test_module_takes_over_a_set_kubectl_created(runner, apply, api, bin_dir):
    kclient.CoreV1Api(api).create_namespace({"metadata": {"name": "apply-kubectl"}})
    manifest = "\n---\n".join(json.dumps(o) for o in cms("apply-kubectl", "k1", "k2", "k3"))
    kubectl(bin_dir, apply, "apply", "--prune", "--applyset=configmaps/kset", "-n", "apply-kubectl", "-f", "-",
            stdin=manifest)
    parent = kclient.CoreV1Api(api).read_namespaced_config_map("kset", "apply-kubectl").metadata
    kubectl_id = parent.labels["applyset.kubernetes.io/id"]
    assert parent.annotations["applyset.kubernetes.io/tooling"].startswith("kubectl/v")
    args = {"kubeconfig": apply, "namespace": "apply-kubectl", "apply_set": "kset", "apply_set_parent": "ConfigMap",
            "prune": True, "definitions": cms("apply-kubectl", "k1", "k2")}
    # the default tooling refuses kubectl's set, before anything changes
    r = runner.module("adhar.platform.apply", args, expect_fail=True)
    assert "belongs to the tool 'kubectl'" in r["msg"] and "apply_set_tooling: kubectl" in r["msg"]
    assert exists(api, "apply-kubectl", "k3")
    r = runner.module("adhar.platform.apply", dict(args, apply_set_tooling="kubectl"), check=True)
    assert r["apply_set"]["id"] == kubectl_id  # the module computes kubectl's id
    assert "pruned ConfigMap apply-kubectl/k3" in r["changes"] and exists(api, "apply-kubectl", "k3")
    r = runner.module("adhar.platform.apply", dict(args, apply_set_tooling="kubectl"))
    assert "pruned ConfigMap apply-kubectl/k3" in r["changes"] and not exists(api, "apply-kubectl", "k3")
    assert runner.module("adhar.platform.apply", dict(args, apply_set_tooling="kubectl"))["changed"] is False
    kclient.CoreV1Api(api).delete_namespace("apply-kubectl")


def test_set_of_an_earlier_release_is_adopted(runner, apply, api):
    """Objects labelled adhar.io/apply-set (and the old record ConfigMap) join the ApplySet; nothing is deleted."""
    core = kclient.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "apply-old"}})
    for name in ("o1", "o2"):
        core.create_namespaced_config_map("apply-old", {"metadata": {"name": name, "labels": {
            "adhar.io/apply-set": "oldset", "app.kubernetes.io/managed-by": "adhar"}}, "data": {"n": name}})
    core.create_namespaced_config_map("apply-old", {"metadata": {"name": "adhar-apply-set-oldset"}, "data": {
        "resources": '["v1 ConfigMap"]', "namespaces": '["apply-old"]'}})
    args = {"kubeconfig": apply, "namespace": "apply-old", "apply_set": "oldset", "definitions": cms("apply-old", "o1")}
    r = runner.module("adhar.platform.apply", args)
    assert r["apply_set"]["adopted"] == 2 and r["counts"]["pruned"] == 0
    assert "configured ConfigMap apply-old/o2" in r["changes"]
    for name in ("o1", "o2"):
        labels = core.read_namespaced_config_map(name, "apply-old").metadata.labels
        assert labels["applyset.kubernetes.io/part-of"] == r["apply_set"]["id"] and "adhar.io/apply-set" not in labels
    assert not exists(api, "apply-old", "adhar-apply-set-oldset")
    r = runner.module("adhar.platform.apply", dict(args, prune=True))
    assert r["changes"] == ["pruned ConfigMap apply-old/o2"]
    core.delete_namespace("apply-old")


def test_state_absent(runner, apply, api):
    r = runner.module("adhar.platform.apply", {"kubeconfig": apply, "namespace": "apply-c", "apply_set": SET, "prune": True,
                                               "state": "absent", "wait": True, "wait_timeout": 120})
    assert r["changed"] is True and r["failed_count"] == 0, r["errors"]
    assert r["counts"]["pruned"] >= 50
    assert not namespaces(api) & set(NAMESPACES)
    with pytest.raises(ApiException):
        kclient.ApiextensionsV1Api(api).read_custom_resource_definition("widgets.itest.adhar.io")
    tpl = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apply-tpl"}}]
    r = runner.module("adhar.platform.apply", {"kubeconfig": apply, "definitions": tpl, "state": "absent", "wait": True})
    assert r["counts"]["deleted"] == 1 and r["results"][0]["wait"]["ready"] is True
    r = runner.module("adhar.platform.apply", {"kubeconfig": apply, "definitions": tpl + [crd()], "state": "absent"})
    assert r["changed"] is False
