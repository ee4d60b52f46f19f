# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One connection model: the action groups of meta/runtime.yml, and the playbooks on hosts of provider existing.

- Each action group's module_defaults (every option of its family) over every member module: none fails with
  "Unsupported parameters" (and a non-member does, so the check can fail).
- An inventory whose hosts are existing clusters (the kubeconfig of a local cluster this module creates):
  deploy.yml, health.yml, dr.yml backup and restore, then destroy.yml, which must leave the cluster running.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _k8s_auth_options():
    spec = importlib.util.spec_from_file_location("adhar_args_common", os.path.join(REPO, "plugins", "module_utils", "_common", "args.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return set(mod.K8S_AUTH_ARG_SPEC)


CHARTS = os.path.join(REPO, "tests", "fixtures", "charts")

# a value of the right type for every option of a family (nothing is reached: the connection fails or check mode stops)
FAMILY_VALUES = {
    "k8s": {
        "kubeconfig": "/nonexistent/adhar-kubeconfig", "context": "nowhere", "host": "https://127.0.0.1:1",
        "api_key": "not-a-token", "validate_certs": True, "ca_cert": "/nonexistent/ca.crt",
        "client_cert": "/nonexistent/c.crt", "client_key": "/nonexistent/c.key", "request_timeout": 1,
        "api_retry_deadline": 0,
    },
    "local": {"state_dir": "/nonexistent/adhar-state"},
    "aws": {"profile": "nowhere", "region": "us-east-1", "access_key": "AKIDEXAMPLE", "secret_key": "not-a-secret",
            "session_token": "not-a-token", "endpoint_url": "http://127.0.0.1:1"},
    "gcp": {"project": "nowhere", "credentials_file": "/nonexistent/sa.json", "service_account_contents": "{}",
            "access_token": "not-a-token", "gcp_endpoint_url": "http://127.0.0.1:1"},
}

# the required options of each member (nothing else), so the defaults are what argument validation looks at
STORAGE = {"type": "local", "path": "/nonexistent/adhar-backups"}
REQUIRED = {
    "apps": {"action": "status", "app": "none"}, "backup": {"storage": STORAGE}, "restore": {"storage": STORAGE, "backup": "none"},
    "cluster": {"name": "conn-groups-none", "state": "absent"}, "helm_release": {"name": "none", "state": "absent"},
    "etcd": {"local_cluster": "conn-groups-none"},
    "mesh": {"members": [{"name": "a", "local_cluster": "conn-groups-none"}]},
    "mesh_info": {"members": [{"name": "a", "local_cluster": "conn-groups-none"}]},
    "config": {"action": "export", "cluster": "conn-groups-none", "provider": "existing"}, "db": {"storage": STORAGE, "operation": "export"},
    "glb": {"name": "conn-groups-none", "zone": "example.com", "state": "absent"},
    "preflight": {"name": "conn-groups-none"},
    "monitoring": {"local_cluster": "conn-groups-none"},
}


def action_groups():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        return yaml.safe_load(f)["action_groups"]


def _spec_options(module, name):
    """The option names of an arg spec dict in a module_utils file that imports nothing of the collection."""
    path = os.path.join(REPO, "plugins", "module_utils", *module.split("/")) + ".py"
    spec = importlib.util.spec_from_file_location("adhar_" + module.replace("/", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return set(getattr(mod, name))


def test_family_values_cover_every_option():
    assert set(FAMILY_VALUES["k8s"]) == _k8s_auth_options()
    assert set(FAMILY_VALUES["aws"]) == _spec_options("_aws/args", "AWS_ARG_SPEC")
    assert set(FAMILY_VALUES["gcp"]) == _spec_options("_gcp/args", "GCP_ARG_SPEC")
    assert set(action_groups()) == set(FAMILY_VALUES)


def test_each_group_defaults_over_every_member(runner):
    groups = action_groups()
    plays = []
    for group, members in groups.items():
        tasks = [{"name": "%s %s" % (group, m), "adhar.platform.%s" % m: REQUIRED.get(m, {}), "ignore_errors": True, "check_mode": True}
                 for m in members]
        plays.append({"name": group, "hosts": "all", "gather_facts": False,
                      "module_defaults": {"group/adhar.platform.%s" % group: FAMILY_VALUES[group]}, "tasks": tasks})
    # a module outside the group, given the same options directly: must be refused (the check can fail)
    plays.append({"name": "control", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "control db", "adhar.platform.db": dict(FAMILY_VALUES["k8s"], **REQUIRED["db"]),
         "ignore_errors": True, "check_mode": True}]})
    # the aws group's defaults reach config's EKS export: the profile named there is the one boto3 looks for (no call)
    plays.append({"name": "aws export", "hosts": "all", "gather_facts": False,
                  "module_defaults": {"group/adhar.platform.aws": FAMILY_VALUES["aws"]}, "tasks": [
                      {"name": "aws export config", "adhar.platform.config": {
                          "action": "export", "provider": "eks", "cluster": "conn-groups-none"}, "ignore_errors": True}]})
    results, dummy = runner.playbook(yaml.safe_dump(plays), "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    by_task = {r["task"]: r["result"] for r in results}
    expected = ["%s %s" % (g, m) for g, members in groups.items() for m in members]
    assert sorted(t for t in by_task if t not in ("control db", "aws export config")) == sorted(expected)
    # config takes every AWS and GCP option, for its EKS and GKE exports
    assert "config" in groups["aws"] and "config" in groups["gcp"]
    assert "The config profile (nowhere) could not be found" in by_task["aws export config"]["msg"]
    unsupported = {t: r.get("msg") for t, r in by_task.items() if "Unsupported parameters" in str(r.get("msg", ""))}
    assert set(unsupported) == {"control db"}, unsupported
    invalid = {t: r.get("msg") for t, r in by_task.items() if "required" in str(r.get("msg", ""))}
    assert invalid == {}, invalid  # every member got past argument validation, so the defaults were checked
    # the defaults reached the modules: the k8s members failed on the connection given, not on an ambient one
    assert "Unsupported parameters" in unsupported["control db"] and "host" in unsupported["control db"]


INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  children:
    clusters:
      hosts:
        ext-one:
          adhar_cluster_name: ext-one
          adhar_provider: existing
          adhar_kubeconfig: %(kubeconfig)s
          adhar_context: %(context)s
          adhar_connection: {kubeconfig: %(kubeconfig)s, context: %(context)s}
"""


def _playbook(runner, workdir, inventory, playbook, *extra):
    env = runner.env()
    # the ambient KUBECONFIG points nowhere: the plays must use the host's connection
    env["KUBECONFIG"] = "/nonexistent/ambient-kubeconfig"
    env.pop("K8S_AUTH_KUBECONFIG", None)
    results = os.path.join(workdir, "%s-%d.jsonl" % (playbook, len(os.listdir(workdir))))
    env["ADHAR_RESULTS_FILE"] = results
    cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", inventory, os.path.join(REPO, "playbooks", playbook)]
    proc = subprocess.run(cmd + list(extra), env=env, cwd=workdir, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    with open(results) as f:
        return [json.loads(line) for line in f if line.strip()], proc.stdout


def test_playbooks_on_existing_clusters(runner, state_dir, make_local_cluster, tmp_path):
    with make_local_cluster("conn-ext") as kubeconfig:
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(INVENTORY % {"kubeconfig": kubeconfig, "context": "adhar-conn-ext"})
        work = str(tmp_path)
        key = tmp_path / "backup.key"
        key.write_bytes(os.urandom(32))
        key.chmod(0o600)
        dr = json.dumps({"adhar_dr_storage": {"type": "local", "path": str(tmp_path / "backups")},
                         "adhar_dr_encryption": {"key_file": str(key)}, "adhar_dr_report_dir": str(tmp_path / "reports")})

        results, out = _playbook(runner, work, str(inventory), "deploy.yml", "-e", "adhar_chart_dir=" + CHARTS)
        ran = [r["task"] for r in results if r["status"] != "skipped"]
        assert not any("Bring up the control plane" in t for t in ran), "the control plane of an existing cluster was run"
        health = [r["result"] for r in results if r["task"] == "Collect health"]
        assert len(health) == 1 and health[0]["healthy"], health
        releases = [i for r in results if "Install or upgrade the core services" in r["task"] for i in r["result"].get("results", [])]
        assert releases and all(i["release"]["status"] == "deployed" for i in releases)

        results, out = _playbook(runner, work, str(inventory), "health.yml", "-e", "adhar_health_fail=true")
        assert [r["result"]["healthy"] for r in results if r["task"] == "Collect health"] == [True]

        results, out = _playbook(runner, work, str(inventory), "dr.yml", "-e", "adhar_dr_action=backup", "-e", dr)
        backup = [r["result"] for r in results if r["task"] == "Back up the cluster"][0]
        assert backup["backup"]["counts"] and "etcd" not in (backup["backup"].get("etcd") or {})

        # delete what the backup holds, then restore it through the same connection
        deleted = runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "state": "absent", "wait": True, "definitions": [{
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}]})
        assert deleted["changed"]
        results, out = _playbook(runner, work, str(inventory), "dr.yml", "-e", "adhar_dr_action=restore", "-e", dr,
                                 "-e", '{"adhar_dr_namespaces": ["argocd"]}')
        restore = [r["result"] for r in results if r["task"] == "Restore the backup's objects"][0]
        assert restore["restore"]["counts"].get("failed", 0) == 0 and restore["changed"], restore["restore"]["counts"]

        results, out = _playbook(runner, work, str(inventory), "destroy.yml", "-e", "adhar_destroy_confirm=ext-one")
        assert "an existing cluster: never deleted" in out
        assert not any(r["task"].startswith("Remove the") and r["status"] != "skipped" for r in results)
        still = runner.module("adhar.platform.cluster_info", {"kubeconfig": kubeconfig, "probes": 2})
        assert still["healthy"], still.get("reasons")
        assert os.path.isdir(os.path.join(state_dir, "conn-ext"))
