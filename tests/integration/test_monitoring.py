# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring role on a real 3-member local cluster: Prometheus, Alertmanager and kube-state-metrics (the
toolchain's) run under the cluster's supervisord and Prometheus scrapes every control-plane process with the cluster's
PKI; kube-state-metrics reports a Deployment made in the test, and one that cannot become available, like a node whose
DiskPressure condition is set, raises its alert in Alertmanager; an API server killed with
SIGKILL raises KubeAPIServerDown in Alertmanager and ``cluster state=started`` clears it; a Prometheus client
certificate issued for one day raises CertificateExpiringSoon.  Short intervals (1 s scrapes and evaluations,
``for: 2s``) keep it to seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

NAME = "monitor"
CLUSTER = {"name": NAME, "ha": True, "nodes": {"count": 1}}
FAST = {"monitoring_scrape_interval": "1s", "monitoring_evaluation_interval": "1s", "monitoring_for": "2s",
        "monitoring_resend_delay": "1s"}


@pytest.fixture(scope="module")
def cluster(runner, state_dir):
    r = runner.module("adhar.platform.cluster", CLUSTER)
    assert r["cluster"]["running"] is True
    try:
        yield os.path.join(state_dir, NAME)
    finally:
        runner.module("adhar.platform.cluster", {"name": NAME, "state": "absent"})


def role(runner, cluster, check=False, **extra):
    """Run the monitoring role against the local cluster; returns the result of its local task."""
    tasks = ("- name: Monitoring\n  ansible.builtin.include_role:\n    name: adhar.platform.monitoring\n")
    variables = dict(FAST, monitoring_local_cluster=NAME,
                     monitoring_kubeconfig=os.path.join(cluster, "config", "admin.kubeconfig"), **extra)
    results = runner.play(tasks, check=check, extra=variables, expect_rc=0)
    local = [r for r in results if "Run Prometheus and Alertmanager" in r["task"]]
    assert local and local[-1]["status"] == "ok", json.dumps(results, indent=1)[:4000]
    return local[-1]["result"]


def get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def am_alerts(mon, name):
    """Active alerts called ``name`` in Alertmanager."""
    return [a for a in get(mon["alertmanager_url"] + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
            if a["labels"].get("alertname") == name and a["status"]["state"] == "active"]


def wait(what, check, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def targets_up(mon):
    active = get(mon["prometheus_url"] + "/api/v1/targets?state=active")["data"]["activeTargets"]
    health = {t["labels"]["member"]: (t["health"], t.get("lastError")) for t in active}
    return health if len(health) == len(mon["targets"]) and all(h == "up" for h, _e in health.values()) else None


def supervisorctl(cluster, *args):
    conf = os.path.join(cluster, "config", "supervisord.conf")
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", conf] + list(args),
                          capture_output=True, text=True, timeout=60, check=False).stdout


def pids(cluster):
    out = {}
    run = os.path.join(cluster, "run")
    for f in os.listdir(run):
        if f.endswith(".pid"):
            with open(os.path.join(run, f)) as fh:
                out[f[:-4]] = json.load(fh)["pid"]
    return out


def test_role_runs_prometheus_and_alertmanager(runner, cluster):
    t = time.monotonic()
    mon = role(runner, cluster)
    assert mon["changed"] is True
    print("\nmonitoring role, first run: %.1fs; %s" % (time.monotonic() - t, "; ".join(mon["actions"])))
    jobs = sorted({x["job"] for x in mon["targets"]})
    assert jobs == ["alertmanager", "apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kube-state-metrics",
                    "kube-state-metrics-telemetry", "prometheus"]
    assert len([x for x in mon["targets"] if x["job"] == "apiserver"]) == 3
    # every API server, etcd member, controller-manager and scheduler is scraped over TLS with the cluster's PKI
    t = time.monotonic()
    health = wait("every target up", lambda: targets_up(mon), 60)
    print("every target up %.1fs after the role: %s" % (time.monotonic() - t, ", ".join(sorted(health))))
    rules = get(mon["prometheus_url"] + "/api/v1/rules")["data"]["groups"]
    names = sorted(r["name"] for g in rules for r in g["rules"])
    assert "KubeAPIServerDown" in names and "CertificateExpiringSoon" in names and len(names) == 11
    # a healthy cluster with year-long certificates raises neither alert once every target was scraped
    wait("no KubeAPIServerDown", lambda: not am_alerts(mon, "KubeAPIServerDown"), 30)
    time.sleep(5)
    assert not am_alerts(mon, "KubeAPIServerDown")
    assert not am_alerts(mon, "CertificateExpiringSoon")
    # the programs belong to the cluster's supervisord
    assert {"prometheus", "alertmanager", "kube-state-metrics"} <= set(pids(cluster))


def test_role_is_idempotent_and_check_mode_changes_nothing(runner, cluster):
    before = pids(cluster)
    again = role(runner, cluster)
    assert again["changed"] is False, again["actions"]
    checked = role(runner, cluster, check=True, monitoring_retention="3d")
    assert checked["changed"] is True
    assert any("would" in a for a in checked["actions"]), checked["actions"]
    with open(os.path.join(cluster, "config", "monitoring", "prometheus.yml")) as f:
        assert json.load(f)["global"]["scrape_interval"] == "1s"
    with open(os.path.join(cluster, "cluster.json")) as f:
        assert json.load(f)["monitoring"]["retention"] == "2d"
    assert pids(cluster)["prometheus"] == before["prometheus"]


def test_bad_rules_fail_before_anything_changes(runner, cluster):
    before = pids(cluster)
    with open(os.path.join(cluster, "config", "monitoring", "rules.yml")) as f:
        rules = f.read()
    r = runner.module("adhar.platform.monitoring", {"local_cluster": NAME, "rules": "groups:\n- name: x\n  rules:\n"
                                                    "  - alert: Broken\n    expr: up ==\n"}, expect_fail=True)
    assert "rules is not valid (promtool)" in r["msg"], r["msg"]
    r = runner.module("adhar.platform.monitoring", {"local_cluster": NAME, "scrape_interval": "fast"}, expect_fail=True)
    assert "scrape_interval: 'fast' is not a Prometheus duration" in r["msg"], r["msg"]
    with open(os.path.join(cluster, "config", "monitoring", "rules.yml")) as f:
        assert f.read() == rules
    assert pids(cluster)["prometheus"] == before["prometheus"]


def kubectl(bin_dir, cluster, *args, stdin=None):
    env = dict(os.environ, KUBECONFIG=os.path.join(cluster, "config", "admin.kubeconfig"))
    proc = subprocess.run([os.path.join(bin_dir, "kubectl")] + list(args), input=stdin, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, "kubectl %s: %s%s" % (" ".join(args), proc.stdout, proc.stderr)
    return proc.stdout


def query(mon, promql):
    """``{(label values...): value}`` of an instant query."""
    url = mon["prometheus_url"] + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in get(url)["data"]["result"]}


def deployment(name, replicas, node_selector=None):
    spec = {"containers": [{"name": name, "image": "registry.example/%s:1" % name}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})


def replicas(mon):
    """``{(deployment, job): replicas}`` of the Deployments of the namespace shop, as Prometheus has them."""
    found = query(mon, 'kube_deployment_status_replicas{namespace="shop"}')
    return {(dict(k)["deployment"], dict(k)["job"]): v for k, v in found.items()}


def set_condition(bin_dir, cluster, node, kind, status):
    patch = {"status": {"conditions": [{"type": kind, "status": status, "reason": "AdharTest", "message": "set by a test",
                                        "lastHeartbeatTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}}
    kubectl(bin_dir, cluster, "patch", "node", node, "--subresource=status", "--type=strategic", "-p", json.dumps(patch))


def test_kube_state_metrics_reports_objects_and_their_alerts_fire(runner, cluster, bin_dir):
    # a cluster whose monitoring predates kube-state-metrics: its ports and program unknown to its cluster.json
    before = role(runner, cluster, check=True)
    assert before["changed"] is False
    supervisorctl(cluster, "stop", "kube-state-metrics")
    path = os.path.join(cluster, "cluster.json")
    with open(path) as f:
        data = json.load(f)
    for key in ("kube_state_metrics", "kube_state_metrics_telemetry"):
        del data["ports"][key]
    del data["monitoring"]["bin_dirs"]["kube-state-metrics"]
    with open(path, "w") as f:
        json.dump(data, f)
    mon = role(runner, cluster)
    assert mon["changed"] is True
    reserved = [a for a in mon["actions"] if "reserved ports" in a]
    assert len(reserved) == 1 and "(kube_state_metrics)" in reserved[0] and "prometheus" not in reserved[0], mon["actions"]
    assert mon["prometheus_url"] == before["prometheus_url"] and mon["alertmanager_url"] == before["alertmanager_url"]
    assert "RUNNING" in supervisorctl(cluster, "status", "kube-state-metrics")
    assert role(runner, cluster)["changed"] is False
    wait("every target up", lambda: targets_up(mon), 60)
    kubectl(bin_dir, cluster, "create", "namespace", "shop")
    kubectl(bin_dir, cluster, "apply", "-f", "-", stdin=deployment("web", 2))
    # no node carries this label: its Pod stays Pending and the Deployment has one unavailable replica
    kubectl(bin_dir, cluster, "apply", "-f", "-", stdin=deployment("stuck", 1, {"adhar.invalid/nowhere": "true"}))
    t = time.monotonic()
    wait("kube_deployment_status_replicas_available of shop/web at 2", lambda: query(
        mon, 'kube_deployment_status_replicas_available{namespace="shop", deployment="web"} == 2'), 60)
    wait("kube_deployment_status_replicas of both Deployments", lambda: replicas(mon) == {
        ("web", "kube-state-metrics"): 2.0, ("stuck", "kube-state-metrics"): 1.0}, 30)
    print("\nkube-state-metrics reported shop/web available %.1fs after kubectl apply" % (time.monotonic() - t))
    firing = wait("KubeDeploymentReplicasUnavailable in Alertmanager",
                  lambda: am_alerts(mon, "KubeDeploymentReplicasUnavailable"), 60)
    print("KubeDeploymentReplicasUnavailable in Alertmanager %.1fs after kubectl apply" % (time.monotonic() - t))
    assert [(a["labels"]["namespace"], a["labels"]["deployment"]) for a in firing] == [("shop", "stuck")], firing
    assert firing[0]["labels"]["cluster"] == NAME and firing[0]["labels"]["severity"] == "critical"
    assert firing[0]["annotations"]["summary"] == "Deployment shop/stuck has 1 unavailable replicas."
    # kwok keeps the node's conditions (stages.py); one set to DiskPressure=True holds until its next heartbeat
    node = kubectl(bin_dir, cluster, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").strip()
    t = time.monotonic()
    set_condition(bin_dir, cluster, node, "DiskPressure", "True")
    try:
        firing = wait("NodeDiskPressure in Alertmanager", lambda: am_alerts(mon, "NodeDiskPressure"), 40)
        print("NodeDiskPressure in Alertmanager %.1fs after the node's condition was set" % (time.monotonic() - t))
        assert [a["labels"]["node"] for a in firing] == [node], firing
    finally:
        set_condition(bin_dir, cluster, node, "DiskPressure", "False")
        kubectl(bin_dir, cluster, "delete", "namespace", "shop", "--wait=false")
    wait("NodeDiskPressure gone", lambda: not query(mon, 'ALERTS{alertname="NodeDiskPressure"}'), 30)


def test_killed_api_server_fires_and_heal_resolves(runner, cluster):
    mon = role(runner, cluster)
    wait("every target up", lambda: targets_up(mon), 60)
    p = pids(cluster)
    # supervisord first (it would restart the API server within a second), then one API server: it stays down
    os.kill(p["supervisord"], signal.SIGKILL)
    time.sleep(1)
    killed_at = time.monotonic()
    os.kill(p["apiserver-1"], signal.SIGKILL)
    member = [x for x in mon["targets"] if x["member"] == "apiserver-1"][0]
    firing = wait("KubeAPIServerDown in Alertmanager", lambda: am_alerts(mon, "KubeAPIServerDown"), 60)
    print("\nKubeAPIServerDown in Alertmanager %.1fs after kill -9 of apiserver-1" % (time.monotonic() - killed_at))
    assert [a["labels"]["instance"] for a in firing] == [member["address"]], firing
    assert firing[0]["labels"]["member"] == "apiserver-1" and firing[0]["labels"]["severity"] == "critical"
    assert firing[0]["labels"]["cluster"] == NAME
    t = time.monotonic()
    healed = runner.module("adhar.platform.cluster", dict(CLUSTER, state="started"))
    assert healed["changed"] is True
    wait("every target up after the heal", lambda: targets_up(mon), 60)
    wait("KubeAPIServerDown resolved", lambda: not am_alerts(mon, "KubeAPIServerDown"), 60)
    print("resolved %.1fs after cluster state=started began" % (time.monotonic() - t))
    alerts = get(mon["prometheus_url"] + "/api/v1/alerts")["data"]["alerts"]
    assert not [a for a in alerts if a["labels"]["alertname"] == "KubeAPIServerDown"], alerts


def test_short_lived_client_certificate_fires_expiry_alert(runner, cluster):
    from cryptography import x509
    mon = role(runner, cluster, monitoring_client_cert_days=1)
    assert mon["changed"] is True
    assert any("client certificate (1 days)" in a for a in mon["actions"]), mon["actions"]
    with open(mon["client_cert"], "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    left = cert.not_valid_after_utc.timestamp() - time.time()
    assert 0 < left <= 86400
    t = time.monotonic()
    firing = wait("CertificateExpiringSoon in Alertmanager", lambda: am_alerts(mon, "CertificateExpiringSoon"), 90)
    print("\nCertificateExpiringSoon in Alertmanager %.1fs after the role issued a 1-day client certificate"
          % (time.monotonic() - t))
    instances = {a["labels"]["instance"] for a in firing}
    assert instances <= {x["address"] for x in mon["targets"] if x["job"] == "apiserver"}, firing
    # back to a year-long certificate: unchanged afterwards
    role(runner, cluster)
    assert role(runner, cluster)["changed"] is False


def test_absent_removes_the_programs(runner, cluster):
    r = runner.module("adhar.platform.monitoring", {"local_cluster": NAME, "state": "absent"})
    assert r["changed"] is True
    programs = supervisorctl(cluster, "status")
    assert "apiserver-0" in programs and "prometheus" not in programs and "alertmanager" not in programs, programs
    assert "kube-state-metrics" not in programs
    with open(os.path.join(cluster, "cluster.json")) as f:
        data = json.load(f)
    assert "monitoring" not in data and "prometheus" not in data["ports"] and "kube_state_metrics" not in data["ports"]
    assert not os.path.exists(os.path.join(cluster, "config", "monitoring"))
    again = runner.module("adhar.platform.monitoring", {"local_cluster": NAME, "state": "absent"})
    assert again["changed"] is False
    info = runner.module("adhar.platform.cluster_info", {"name": NAME, "probes": 0})
    assert info["healthy"] is True, info["reasons"]
