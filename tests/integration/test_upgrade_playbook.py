# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/upgrade.yml with ansible-playbook on an adhar config inventory of one single-member local cluster:
bad input refused before anything changes; the upgrade of a cluster created at the previous Kubernetes minor to the
pinned one (the cluster module's rolling upgrade, in place for a single member; the pre-upgrade backup taken,
ingress-nginx applied (the toolchain's chart), every workload Available before still Available, the summary
printed); then a verification made to fail (a required workload that does not exist):
the pre-upgrade backup is restored (an object changed after it comes back) and the cluster fails with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import adhar_config

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLAYBOOK = os.path.join(REPO, "playbooks", "upgrade.yml")
CHARTS = os.path.join(REPO, "tests", "fixtures", "charts")
NAME = "upg"
PINNED = toolchain.VERSIONS["kubernetes"]
PREVIOUS = toolchain.ADDON_VERSIONS["kubernetes-previous"]
NETWORK = dict(cluster_id=11, pod_cidr="10.253.0.0/16", service_cidr="10.99.0.0/16")

APP = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"},
     "data": {"color": "blue"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}},
]


class Upgrade:
    def __init__(self, runner, tmp):
        self.runner, self.tmp = runner, str(tmp)
        self.backups = os.path.join(self.tmp, "backups")
        self.inventory = os.path.join(self.tmp, "adhar.yml")
        self.key = os.path.join(self.tmp, "backup.key")
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.key, 0o600)
        with open(self.inventory, "w") as f:
            cluster = (NAME, "primary", NETWORK["cluster_id"], NETWORK["pod_cidr"], NETWORK["service_cidr"])
            f.write(adhar_config("adhar-upg", self.backups, [cluster]))
        self.n = 0

    def run(self, extra, expect_rc=0, after_task=None, action=None):
        """ansible-playbook upgrade.yml; returns (results as a list of {task, host, status, result}, stdout, seconds).
        ``action()`` is called while the playbook runs, as soon as the task ``after_task`` has a result."""
        self.n += 1
        env = self.runner.env()
        results = os.path.join(self.tmp, "upgrade-%d.jsonl" % self.n)
        env["ADHAR_RESULTS_FILE"] = results
        cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", self.inventory, PLAYBOOK,
               "-e", json.dumps(dict({"adhar_chart_dir": CHARTS, "core_services_enabled": ["nginx"],
                                      "adhar_upgrade_encryption": {"key_file": self.key}}, **extra))]
        started = time.monotonic()
        logs = [os.path.join(self.tmp, "upgrade-%d.%s" % (self.n, s)) for s in ("out", "err")]
        with open(logs[0], "w") as out, open(logs[1], "w") as err:
            proc = subprocess.Popen(cmd, env=env, cwd=self.tmp, stdout=out, stderr=err, text=True)
            try:
                while after_task and proc.poll() is None:
                    if os.path.exists(results) and after_task in open(results).read():
                        action()
                        break
                    time.sleep(0.2)
                rc = proc.wait(timeout=600)
            finally:
                if proc.poll() is None:
                    proc.kill()
        seconds = time.monotonic() - started
        stdout, stderr = (open(f).read() for f in logs)
        assert rc == expect_rc, "rc=%d\n%s\n%s" % (rc, stdout[-8000:], stderr[-3000:])
        out = []
        if os.path.exists(results):
            with open(results) as f:
                out = [json.loads(line) for line in f]
        return out, stdout, seconds


def find(results, name, status=None):
    """The result of the task whose name holds ``name`` (the last one when it ran more than once)."""
    found = [r for r in results if name in r["task"] and (status is None or r["status"] == status)]
    assert found, "no task %r ran; tasks: %s" % (name, [r["task"] for r in results])
    return found[-1]


def kubectl(bin_dir, kubeconfig, *args):
    proc = subprocess.run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", kubeconfig] + list(args),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_bad_input_is_refused_before_anything_changes(runner, tmp_path):
    up = Upgrade(runner, tmp_path)
    results, out, dummy = up.run({"adhar_upgrade_versions": {"local": "1.36"}}, expect_rc=2)
    assert "the target version of a local cluster" in out and "must match" in out
    assert not [r for r in results if "backup" in r["task"] and r["status"] == "ok"]
    # every variable of the run that is wrong is named, each in its own message
    results, out, dummy = up.run({"adhar_upgrade_versions": {"kind": "v1.36.3"}, "adhar_upgrade_encryption": {},
                                  "adhar_upgrade_required_workloads": ["web"]}, expect_rc=2)
    assert "adhar_upgrade_versions is a dict whose keys are among local, eks, gke" in out
    assert "adhar_upgrade_required_workloads is a list of Kind/namespace/name" in out
    assert "adhar_upgrade_encryption is required" in out
    assert not [r for r in results if r["task"].startswith("[1/6 validate] Each cluster")]
    assert not os.path.exists(up.backups)


@pytest.fixture(scope="module")
def cluster(make_local_cluster, runner):
    with make_local_cluster(NAME, kubernetes_version=PREVIOUS, **NETWORK) as kubeconfig:
        runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "definitions": APP, "wait": True})
        yield kubeconfig


def test_upgrade_then_rollback(runner, tmp_path, cluster, bin_dir, figure):
    up = Upgrade(runner, tmp_path)
    assert runner.module("adhar.platform.cluster_info", {"name": NAME})["server_version"] == PREVIOUS

    # the upgrade to the pinned release: the cluster module's rolling upgrade
    results, out, seconds = up.run({"adhar_upgrade_versions": {"local": PINNED}})
    figure("upgrade.yml, %s -> %s: %.1f s" % (PREVIOUS, PINNED, seconds))
    control_plane = find(results, "Bring up the control plane")["result"]
    assert control_plane["changed"] is True, control_plane
    assert runner.module("adhar.platform.cluster_info", {"name": NAME})["server_version"] == PINNED
    backup = find(results, "[2/6 backup] Take the pre-upgrade backup")["result"]["backup"]
    assert backup["name"].startswith("pre-upgrade-backup-%s-" % NAME) and backup["complete"]
    assert backup["counts"]["deployments.apps"] >= 1
    assert find(results, "Install or upgrade the core services as Helm releases")["status"] == "ok"
    assert find(results, "[5/6 verify] The cluster is healthy after the upgrade")["status"] == "ok"
    assert find(results, "[5/6 verify] Every workload Available before is Available after")["status"] == "ok"
    before = find(results, "[2/6 backup] Record what was before")["result"]["ansible_facts"]["upgrade_available_before"]
    assert "Deployment/shop/web" in before and not [w for w in before if w.startswith("Deployment/ingress-nginx/")]
    assert not [r for r in results if r["task"].startswith("[6/6 rollback]")]
    table = find(results, "[done] Summary table")["result"]["msg"]
    print("\n".join(table))
    row = [line for line in table if line.startswith("| %s |" % NAME)]
    figure(" ".join(row))
    assert len(row) == 1 and "%s -> %s (%s)" % (PREVIOUS, PINNED, PINNED) in row[0], row
    assert backup["name"] in row[0] and "passed" in row[0] and "not needed" in row[0]

    # the verification made to fail: the backup is restored (a ConfigMap changed after the backup comes back as it
    # was), and the cluster fails with the reason
    def change():
        kubectl(bin_dir, cluster, "patch", "configmap", "settings", "-n", "shop", "--type=merge", "-p",
                '{"data": {"color": "red"}}')
    results, out, seconds = up.run({"adhar_upgrade_versions": {"local": PINNED}, "adhar_upgrade_verify_timeout": 6,
                                    "adhar_upgrade_required_workloads": ["Deployment/shop/missing"],
                                    "adhar_upgrade_core_services": False}, expect_rc=2,
                                   after_task="[2/6 backup] Take the pre-upgrade backup", action=change)
    figure("upgrade.yml with a failing verification, rolled back: %.1f s" % seconds)
    # ingress-nginx, installed by the first run, is now among the workloads Available before
    before = find(results, "[2/6 backup] Record what was before")["result"]["ansible_facts"]["upgrade_available_before"]
    assert "Deployment/shop/web" in before and [w for w in before if w.startswith("Deployment/ingress-nginx/")], before
    failed = find(results, "[5/6 verify] Every workload Available before is Available after")
    assert failed["status"] == "failed" and "Deployment/shop/missing" in failed["result"]["msg"]
    restore = find(results, "[6/6 rollback] Restore the cluster's objects from", status="ok")["result"]["restore"]
    assert restore["counts"]["failed"] == 0 and restore["counts"]["updated"] >= 1, restore["counts"]
    final = find(results, "[done] The upgrade of this cluster failed")
    assert final["status"] == "failed"
    assert "upgrade failed at 5/6 verify: Every workload Available before is Available after: upg: 1 workload(s) not " \
        "Available 6 s after the upgrade: Deployment/shop/missing" in final["result"]["msg"], final["result"]["msg"]
    assert "rollback: restored pre-upgrade-backup-%s-" % NAME in final["result"]["msg"]
    table = find(results, "[done] Summary table")["result"]["msg"]
    print("\n".join(table))
    assert "failed" in [line for line in table if line.startswith("| %s |" % NAME)][0]
    assert json.loads(kubectl(bin_dir, cluster, "get", "configmap", "settings", "-n", "shop", "-o", "json"))["data"] == \
        {"color": "blue"}
