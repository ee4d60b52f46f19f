# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config action=export round trip: a local cluster with core services (fixture charts) is exported, a second cluster
is built from the exported config through the clusters inventory and the ha_control_plane + core_services roles, and
both are compared: control-plane shape, nodes, version, networks, and every core service's user-supplied values."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHARTS = os.path.join(REPO, "tests", "fixtures", "charts")
NAME = "exported"


def _helm_values(bin_dir, kubeconfig, release, namespace):
    out = subprocess.run([os.path.join(bin_dir, "helm"), "get", "values", release, "--namespace", namespace, "-o", "json",
                          "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _spec(root):
    with open(os.path.join(root, NAME, "cluster.json")) as f:
        return json.load(f)["spec"]


def _deploy_from_config(runner, inventory):
    """ansible-playbook over the clusters inventory: control plane, then the configured core services."""
    book = os.path.join(os.path.dirname(inventory), "from-export.yml")
    with open(book, "w") as f:
        f.write("""\
- name: Cluster and core services from the exported config
  hosts: clusters
  gather_facts: false
  roles:
    - role: adhar.platform.ha_control_plane
    - role: adhar.platform.core_services
      vars:
        core_services_chart_dir: %s
        core_services_enabled: "{{ adhar_core_services | dict2items | selectattr('value.configured') | map(attribute='key') | list }}"
""" % json.dumps(CHARTS))
    env = runner.env()
    env["ADHAR_RESULTS_FILE"] = os.path.join(os.path.dirname(inventory), "results.jsonl")
    proc = subprocess.run([shutil.which("ansible-playbook", path=env["PATH"]), "-i", inventory, book], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M))


def test_export_and_deploy_a_second_cluster_from_it(runner, state_dir, bin_dir, tmp_path):
    second_root = str(tmp_path / "second-state")
    first_kc = os.path.join(state_dir, NAME, "config", "admin.kubeconfig")
    second_kc = os.path.join(second_root, NAME, "config", "admin.kubeconfig")
    dest = str(tmp_path / "exported.yaml")
    try:
        runner.module("adhar.platform.cluster", {"name": NAME, "nodes": {"count": 2}, "cluster_id": 4,
                                                 "pod_cidr": "10.246.0.0/16", "service_cidr": "10.100.0.0/16"})
        deployed = runner.playbook("""\
            - hosts: all
              gather_facts: false
              roles:
                - role: adhar.platform.core_services
                  vars:
                    core_services_enabled: [cilium, nginx]
                    core_services_chart_dir: %s
                    core_services_kubeconfig: %s
                    core_services_values:
                      cilium: {encryption.enabled: "true", encryption.type: wireguard, cluster.name: exported}
                      nginx: {controller.replicaCount: "2"}
            """ % (json.dumps(CHARTS), json.dumps(first_kc)),
            "all:\n  hosts:\n    %s:\n      ansible_connection: local\n" % NAME)[0]
        assert [r for r in deployed if "Install or upgrade" in r["task"]][0]["status"] == "ok"

        # export: written once (0600), valid, and unchanged on a second run; check mode writes nothing
        res = runner.module("adhar.platform.config", {"action": "export", "cluster": NAME, "dest": dest}, check=True)
        assert res["changed"] is True and not os.path.exists(dest)
        res = runner.module("adhar.platform.config", {"action": "export", "cluster": NAME, "dest": dest})
        assert res["changed"] is True and oct(os.stat(dest).st_mode & 0o777) == "0o600"
        assert sorted(res["services"]) == ["cilium", "nginx"]
        assert {"key": "encryption.type", "value": "wireguard"} in \
            res["config"]["environmentTemplates"][NAME]["coreServices"]["cilium"]["values"]
        assert runner.module("adhar.platform.config", {"action": "export", "cluster": NAME, "dest": dest})["changed"] is False
        assert runner.module("adhar.platform.config", {"action": "validate", "src": dest})["valid"] is True
        exported = res["config"]

        # the same cluster seen as an existing one, through its kubeconfig only: what the API server shows
        seen = runner.module("adhar.platform.config", {"action": "export", "provider": "existing", "cluster": NAME,
                                                       "kubeconfig": first_kc})
        assert {k: seen["cluster"][k] for k in ("control_plane_count", "nodes_count", "kubernetes_version", "service_cidr")} == \
            {"control_plane_count": 1, "nodes_count": 2, "kubernetes_version": "v1.36.3", "service_cidr": "10.100.0.0/16"}
        assert seen["config"]["clusters"][0]["kubeconfig"] == first_kc
        assert seen["config"]["environmentTemplates"][NAME]["coreServices"] == \
            exported["environmentTemplates"][NAME]["coreServices"]

        # the second cluster: same name, its own state directory, built only from the exported config
        inventory = str(tmp_path / "adhar.yml")
        with open(inventory, "w") as f:
            yaml.safe_dump({"plugin": "adhar.platform.clusters", "config_file": dest, "state_dir": second_root}, f)
        recap = _deploy_from_config(runner, inventory)
        assert NAME in recap and int(recap[NAME]) >= 2

        first, second = _spec(state_dir), _spec(second_root)
        for key in ("control_plane_count", "nodes_count", "kubernetes_version", "pod_cidr", "service_cidr", "cluster_id",
                    "encryption_at_rest"):
            assert first[key] == second[key], key
        assert second["control_plane_count"] == 1 and second["nodes_count"] == 2 and second["cluster_id"] == 4
        for release, namespace in (("cilium", "kube-system"), ("ingress-nginx", "ingress-nginx")):
            before = _helm_values(bin_dir, first_kc, release, namespace)
            assert before and before == _helm_values(bin_dir, second_kc, release, namespace), release
        health = runner.module("adhar.platform.cluster_info", {"name": NAME, "state_dir": second_root})
        assert health["healthy"] and len(health["apiservers"]) == 1

        # exporting the second cluster gives the same config back
        again = runner.module("adhar.platform.config", {"action": "export", "cluster": NAME, "state_dir": second_root})
        assert again["config"] == exported
    finally:
        runner.module("adhar.platform.cluster", {"name": NAME, "state": "absent", "state_dir": second_root})
        runner.module("adhar.platform.cluster", {"name": NAME, "state": "absent"})
    assert not os.path.exists(os.path.join(state_dir, NAME)) and not os.path.exists(os.path.join(second_root, NAME))
