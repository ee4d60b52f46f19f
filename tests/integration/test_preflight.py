# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""preflight on one real local cluster (made with encryption at rest and audit logging, the rest default): the
checklist items a default local cluster misses fail, with evidence read from the cluster, its processes and files;
after the cluster is changed (a NetworkPolicy, a Role, a Pod Security label, a backup written, a retention set, a
monitoring endpoint answering) they pass. strict fails the task, and deploy.yml --tags preflight
-e adhar_preflight_strict=true fails the play."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NAME = "preflight"


@pytest.fixture(scope="module")
def cluster(make_local_cluster):
    with make_local_cluster(NAME, encryption_at_rest={"enabled": True}, audit_policy={"enabled": True}) as kubeconfig:
        yield kubeconfig


@pytest.fixture(scope="module")
def monitoring_url():
    """A real HTTP endpoint that answers like Prometheus' /-/ready."""

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's API
            self.send_response(200 if self.path == "/-/ready" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/-/ready" % server.server_port
    server.shutdown()
    server.server_close()


def task(name, module, args, **extra):
    return dict({"name": name, "adhar.platform." + module: args}, **extra)


def play(runner, *tasks):
    """The tasks in one ansible-playbook run (each run costs seconds); ``{task name: (status, result)}``."""
    return {r["task"]: (r["status"], r["result"]) for r in runner.play(json.dumps(list(tasks)), expect_rc=0)}


def by_id(result):
    return {i["id"]: i for i in result["checklist"]}


def test_default_cluster_misses_then_passes_after_changes(runner, cluster, state_dir, tmp_path, monitoring_url):
    storage = {"type": "local", "path": str(tmp_path / "backups")}
    os.makedirs(storage["path"])
    args = {"name": NAME, "storage": storage, "backup_cluster": NAME}
    res = play(runner, task("first", "preflight", args),
               task("strict", "preflight", dict(args, strict=True), ignore_errors=True))
    status, first = res["first"]
    assert status == "ok", first
    items = by_id(first)
    assert first["cluster"] == {"name": NAME, "provider": "local", "api_endpoint": first["cluster"]["api_endpoint"]}
    assert not first["passed"] and first["summary"]["fail"] == len(first["misses"])
    for item in ("network_policies", "rbac", "policy_enforcement", "backup", "data_retention", "monitoring", "multi_az",
                 "load_balancer", "apiserver_flags"):
        assert items[item]["status"] == "fail", (item, items[item])
    # what the cluster was made with: the encryption config's first provider for Secrets, the audit log being written
    assert items["secrets_encryption"]["status"] == "pass", items["secrets_encryption"]
    assert any(e["showed"] == "first provider for secrets: secretbox" for e in items["secrets_encryption"]["evidence"])
    assert items["audit_logging"]["status"] == "pass", items["audit_logging"]
    # its audit log rotates by size and count only (no --audit-log-maxage): a warning
    assert items["audit_trails"]["status"] == "warn", items["audit_trails"]
    # the flags come from the running processes themselves
    api = items["apiserver_flags"]
    assert api["evidence"][0]["read"].startswith("/proc/") and api["evidence"][0]["read"].endswith("/cmdline")
    checks = {c["id"]: c for c in api["checks"]}
    assert checks["apiserver.anonymous-auth"]["status"] == "fail"
    assert checks["apiserver.profiling"]["status"] == "pass" and checks["apiserver.authorization-mode"]["status"] == "pass"
    assert checks["apiserver.encryption-provider-config"]["status"] == "pass" and checks["apiserver.audit-log-path"]["status"] == "pass"
    assert items["etcd_flags"]["status"] == "pass"  # client and peer TLS with certificate auth, a CA of its own
    assert "GET /apis/networking.k8s.io/v1/networkpolicies" in [e["read"] for e in items["network_policies"]["evidence"]]
    lines = first["table"].splitlines()
    assert lines[0].split() == ["CATEGORY", "ITEM", "STATUS", "DETAIL"]
    assert any(line.split()[:3] == ["security", "network_policies", "FAIL"] for line in lines)
    assert lines[-1].startswith("%s: " % NAME) and "cannot be judged from the cluster" in lines[-1]

    status, failed = res["strict"]
    assert status == "failed" and "misses" in failed["msg"] and "network_policies:" in failed["msg"] and failed["table"]

    # change what the items read, and judge again
    res = play(runner, task("change", "apply", {"kubeconfig": cluster, "definitions": [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny", "namespace": "default"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "developer", "namespace": "default"},
         "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "labels": {
            "pod-security.kubernetes.io/enforce": "restricted"}}}]}),
        task("backup", "backup", {"kubeconfig": cluster, "storage": storage, "cluster": NAME,
                                  "include_namespaces": ["default"], "exclude_resources": ["secrets"]}),
        task("second", "preflight", dict(args, backup_retention="30d", monitoring_urls=[monitoring_url])),
        # only some items, in check mode: the same reads
        task("some", "preflight", {"name": NAME, "items": ["rbac", "etcd_flags"]}, check_mode=True))
    assert {name: status for name, (status, dummy) in res.items()} == dict.fromkeys(("change", "backup", "second", "some"), "ok"), res
    assert res["change"][1]["changed"]
    backup = res["backup"][1]
    second = res["second"][1]
    items = by_id(second)
    for item in ("network_policies", "rbac", "policy_enforcement", "backup", "data_retention", "monitoring"):
        assert items[item]["status"] == "pass", (item, items[item])
    assert backup["backup"]["name"] in items["backup"]["detail"]
    assert "Service" not in items["monitoring"]["detail"] and monitoring_url in items["monitoring"]["detail"]
    # what was not changed still fails
    for item in ("multi_az", "load_balancer", "apiserver_flags"):
        assert items[item]["status"] == "fail", (item, items[item])
    assert second["summary"]["fail"] < first["summary"]["fail"]

    some = res["some"][1]
    assert [i["id"] for i in some["checklist"]] == ["rbac", "etcd_flags"] and some["passed"] and not some["changed"]


def test_deploy_playbook_strict(runner, cluster, state_dir, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
        "  children:\n    clusters:\n      hosts:\n        %s:\n          adhar_local_cluster: %s\n"
        "          adhar_state_dir: %s\n          adhar_connection: {kubeconfig: %s}\n" % (NAME, NAME, state_dir, cluster))
    env = runner.env()
    cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", str(inventory), os.path.join(REPO, "playbooks", "deploy.yml"),
           "--tags", "preflight"]
    strict = subprocess.run(cmd + ["-e", "adhar_preflight_strict=true"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert strict.returncode != 0, strict.stdout[-4000:]
    # the table is printed before the failure, which names the misses (the play without strict passes: test_deploy.py)
    assert "CATEGORY" in strict.stdout and strict.stdout.index("CATEGORY") < strict.stdout.index("misses")
    assert "multi_az:" in strict.stdout and "Every checklist item passes" in strict.stdout
