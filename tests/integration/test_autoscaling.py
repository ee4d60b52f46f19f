# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource metrics API of a local cluster (metrics-server fed by kwok's simulated usage), the real
HorizontalPodAutoscaler controller of kube-controller-manager scaling on it, and adhar.platform.analyze.

kwok simulates Pods and their usage: a container "uses" what its Pod's annotations kwok.x-k8s.io/usage-cpu and
kwok.x-k8s.io/usage-memory say.  One cluster serves every test of this module, in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

NAME = "autoscale"
NS = "shop"


def deployment(name, replicas, cpu, memory, resources=None):
    """A Deployment whose Pods "use" ``cpu`` and ``memory`` (kwok's usage annotations on the pod template)."""
    container = {"name": name, "image": "registry.example/%s:1" % name}
    if resources:
        container["resources"] = resources
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name},
                                           "annotations": {"kwok.x-k8s.io/usage-cpu": cpu,
                                                           "kwok.x-k8s.io/usage-memory": memory}},
                              "spec": {"containers": [container]}}}})


DEPLOYMENT = deployment("web", 2, "40m", "90Mi", {"requests": {"cpu": "100m", "memory": "128Mi"},
                                                  "limits": {"cpu": "500m", "memory": "256Mi"}})
# no requests nor limits
WORKER = deployment("worker", 1, "300m", "200Mi")

# the guide's autoscaling/v2 example (CPU utilisation target) as the core_services role's core_services_hpas, with a
# short scale-down stabilisation window so the test does not wait the controller's default 5 minutes
HPAS = [{"name": "web", "namespace": NS, "min_replicas": 2, "max_replicas": 6, "cpu_utilization": 50,
         "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0,
                                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}]


@pytest.fixture(scope="module")
def cluster(make_local_cluster):
    with make_local_cluster(NAME, nodes=2, metrics_server=True) as kubeconfig:
        yield kubeconfig


@pytest.fixture(scope="module")
def kubectl(bin_dir, cluster):
    def run(*args, stdin=None, check=True):
        env = dict(os.environ, KUBECONFIG=cluster)
        proc = subprocess.run([os.path.join(bin_dir, "kubectl")] + list(args), input=stdin, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("kubectl %s: rc=%d\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc
    return run


def wait_for(what, check, timeout, interval=3.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ds waiting for %s (last: %s)" % (timeout, what, last))


def millicores(text):
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def test_metrics_api_and_kubectl_top(kubectl):
    groups = kubectl("api-versions").stdout.split()
    assert "metrics.k8s.io/v1beta1" in groups
    kubectl("create", "namespace", NS)
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)

    def top_nodes():
        p = kubectl("top", "nodes", "--no-headers", check=False)
        rows = [line.split() for line in p.stdout.splitlines() if line.strip()]
        return sorted(r[0] for r in rows) == ["kwok-node-0", "kwok-node-1"], p.stdout + p.stderr

    wait_for("kubectl top nodes", top_nodes, 120)

    def top_pods():
        p = kubectl("top", "pods", "-n", NS, "--no-headers", check=False)
        rows = [line.split() for line in p.stdout.splitlines() if line.strip()]
        # NAME CPU MEMORY: the simulated usage of the pod template's annotations.  kwok reports CPU as a cumulative
        # counter and metrics-server takes its rate between two scrapes, so the CPU comes back within a millicore or so
        return len(rows) == 2 and all(abs(millicores(r[1]) - 40) <= 3 and r[2] == "90Mi" for r in rows), \
            p.stdout + p.stderr

    wait_for("kubectl top pods to show the simulated usage", top_pods, 120)


def _replicas(kubectl):
    hpa = json.loads(kubectl("get", "hpa", "web", "-n", NS, "-o", "json").stdout)
    return hpa["status"].get("desiredReplicas"), hpa["status"].get("currentReplicas"), hpa["status"].get("conditions")


def _set_usage(kubectl, cpu):
    """What every running Pod of the Deployment "uses" from now on (kwok re-reads the annotation at each scrape)."""
    kubectl("annotate", "pods", "-n", NS, "-l", "app=web", "--overwrite", "kwok.x-k8s.io/usage-cpu=" + cpu)


def test_hpa_scales_up_and_down_on_simulated_cpu(kubectl, runner, cluster):
    tasks = """
    - name: HPAs through the core_services role (no chart release)
      ansible.builtin.include_role:
        name: adhar.platform.core_services
      vars:
        core_services_enabled: []
        core_services_hpas: %s
        core_services_kubeconfig: %s
    """ % (json.dumps(HPAS), cluster)
    res = runner.play(tasks, expect_rc=0)
    applied = [r for r in res if r["task"].endswith("Apply the HorizontalPodAutoscalers (autoscaling/v2)")]
    assert applied and applied[-1]["status"] == "ok" and applied[-1]["result"]["changed"], res
    again = runner.play(tasks, expect_rc=0)
    assert not [r for r in again if r["task"].endswith("Apply the HorizontalPodAutoscalers (autoscaling/v2)")][-1]["result"]["changed"]
    hpa = json.loads(kubectl("get", "hpa", "web", "-n", NS, "-o", "json").stdout)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 0

    def settled_at_min():
        desired, current, conds = _replicas(kubectl)
        able = [c for c in conds or [] if c["type"] == "ScalingActive"]
        return bool(able and able[0]["status"] == "True" and current == 2), (desired, current, conds)

    # 40m of 100m requested: 40% < 50% target, so the HPA keeps its minimum, and it can read the metrics
    wait_for("the HPA to read metrics", settled_at_min, 120)
    _set_usage(kubectl, "200m")  # 200% of the request: 4x the target

    def scaled_up():
        desired, current, dummy = _replicas(kubectl)
        return (current or 0) > 2, (desired, current)

    up = wait_for("the HPA to scale up", scaled_up, 180)
    ready = json.loads(kubectl("get", "deployment", "web", "-n", NS, "-o", "json").stdout)["spec"]["replicas"]
    assert ready > 2, up
    _set_usage(kubectl, "5m")  # every pod, the new ones too: far below the target

    def scaled_down():
        desired, current, dummy = _replicas(kubectl)
        return current == 2 and desired == 2, (desired, current)

    wait_for("the HPA to scale back down", scaled_down, 180)


def test_analyze_recommends_from_the_metrics_api(kubectl, runner, cluster):
    kubectl("apply", "-f", "-", stdin=WORKER)

    def worker_sampled():
        p = kubectl("top", "pods", "-n", NS, "-l", "app=worker", "--no-headers", check=False)
        return bool(p.stdout.strip()) and p.returncode == 0, p.stdout + p.stderr

    wait_for("metrics of the worker Pod", worker_sampled, 120)
    args = {"kubeconfig": cluster, "namespace": NS, "duration": 20, "interval": 10,
            "min_allowed": {"cpu": "1m", "memory": "10Mi"}, "hpa_target_utilization": 60}
    r = runner.module("adhar.platform.analyze", args)
    assert r["changed"] is False and r["samples"] == 3 and r["namespace"] == NS
    by_name = {w["name"]: w for w in r["workloads"]}
    assert set(by_name) == {"web", "worker"} and all(w["namespace"] == NS for w in r["workloads"])
    web = by_name["web"]["containers"][0]
    # 5m CPU and 90Mi per Pod (the annotations the scale-down test left); memory is a gauge: exact
    assert web["memory"]["usage"]["max"] == "90Mi"
    assert web["memory"]["recommendation"]["target"] == "104Mi"  # 90Mi x 1.15 = 103.5Mi, rounded up
    assert 5 <= millicores(web["cpu"]["recommendation"]["target"]) <= 9, web["cpu"]
    assert web["cpu"]["request"] == "100m" and "cpu over-provisioned" in web["notes"]
    assert by_name["web"]["hpa"] == {"suggested": False, "reason": "already scaled by HorizontalPodAutoscaler web",
                                     "existing": "web"}
    worker = by_name["worker"]
    assert "no cpu request" in worker["containers"][0]["notes"] and "no memory limit" in worker["containers"][0]["notes"]
    assert worker["containers"][0]["memory"]["recommendation"]["target"] == "230Mi"  # 200Mi x 1.15
    hpa = worker["hpa"]
    # one Pod at ~300m on a recommended request of ~345m at 60%: 2 replicas for the median, 4 at most
    assert hpa["suggested"] and hpa["min_replicas"] == 2 and hpa["max_replicas"] == 4, hpa
    assert hpa["manifest"]["spec"]["scaleTargetRef"]["name"] == "worker"
    lines = r["table"].splitlines()
    assert lines[0].split()[:2] == ["WORKLOAD", "CONTAINER"] and len(lines) == 3
    assert any(line.startswith("shop/deployment/worker") and "2-4" in line for line in lines)
    # check mode reads the same way; another namespace has none of these workloads
    other = runner.module("adhar.platform.analyze", dict(args, namespace="kube-public", duration=0), check=True)
    assert other["workloads"] == [] and other["samples"] == 1


def test_analyze_bad_input_is_one_clear_error(runner, cluster):
    r = runner.module("adhar.platform.analyze", {"kubeconfig": cluster, "interval": 0}, expect_fail=True)
    assert "interval" in r["msg"] and r.get("option") == "interval"


def test_metrics_server_off_and_on_again(kubectl, runner, state_dir):
    def top_nodes_ok():
        p = kubectl("top", "nodes", "--no-headers", check=False)
        return p.returncode == 0 and len(p.stdout.splitlines()) == 2, p.stdout + p.stderr

    off = runner.module("adhar.platform.cluster", {"name": NAME, "metrics_server": False})
    assert off["changed"] is True and "metrics-server" not in off["cluster"]["processes"], off["actions"]
    assert "metrics.k8s.io/v1beta1" not in kubectl("api-versions").stdout.split()
    assert kubectl("get", "service", "-n", "kube-system", "metrics-server", check=False).returncode != 0
    with open(os.path.join(state_dir, NAME, "config", "kwok.yaml")) as f:
        assert "ClusterResourceUsage" not in f.read()
    assert runner.module("adhar.platform.cluster", {"name": NAME, "metrics_server": False})["changed"] is False
    # check mode says what it would do and does nothing
    would = runner.module("adhar.platform.cluster", {"name": NAME, "metrics_server": True}, check=True)
    assert would["changed"] is True and "would turn metrics-server on" in would["actions"]
    assert "metrics.k8s.io/v1beta1" not in kubectl("api-versions").stdout.split()
    on = runner.module("adhar.platform.cluster", {"name": NAME, "metrics_server": True})
    assert on["changed"] is True and on["cluster"]["processes"]["metrics-server"] is True, on["actions"]
    assert on["cluster"]["running"] is True
    wait_for("kubectl top nodes after turning metrics-server on again", top_nodes_ok, 120)
    assert runner.module("adhar.platform.cluster", {"name": NAME, "metrics_server": True})["changed"] is False
