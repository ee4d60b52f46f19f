# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adhar config end to end: real ansible-inventory with the clusters plugin, the config module through
ansible-playbook (validate, resolve, convert with a check-mode / diff / idempotent dest write), and a local
cluster made from the inventory's hostvars that playbooks/health.yml then checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL = os.path.join(REPO, "inventories", "local", "adhar.yml")
MULTICLOUD = os.path.join(REPO, "inventories", "example-multicloud", "adhar.yml")
FIXTURES = os.path.join(REPO, "tests", "unit", "fixtures", "adhar")


def ansible(runner, tool, *args, results=None, env=None):
    """Run an ansible CLI with the runner's environment; returns the CompletedProcess."""
    full_env = runner.env()
    full_env.update(env or {})
    if results:
        full_env["ADHAR_RESULTS_FILE"] = results
    cmd = [shutil.which(tool, path=full_env["PATH"])] + list(args)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=900, check=False, cwd=REPO)


def plain(value):
    """ansible-inventory marks strings that are data, not templates, as ``{"__ansible_unsafe": s}``: unwrap them."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory_list(runner, path):
    proc = ansible(runner, "ansible-inventory", "-i", path, "--list")
    assert proc.returncode == 0, proc.stderr
    raw = json.loads(proc.stdout)
    # only the interpreter is a template (it must be rendered per host); everything else is plain data
    for hostvars in raw["_meta"]["hostvars"].values():
        assert hostvars["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
        assert hostvars["adhar_cluster_name"] != plain(hostvars["adhar_cluster_name"])
    return plain(raw)


def hosts_of(inv, group):
    return sorted(inv.get(group, {}).get("hosts", []))


def test_inventory_list_of_the_local_platform(runner, state_dir):
    inv = inventory_list(runner, LOCAL)
    assert hosts_of(inv, "clusters") == ["prod", "staging"]
    assert hosts_of(inv, "primary") == ["prod"] and hosts_of(inv, "replica") == ["staging"]
    assert hosts_of(inv, "provider_kind") == ["prod", "staging"] and hosts_of(inv, "region_local") == ["prod", "staging"]
    assert hosts_of(inv, "type_production") == ["prod"] and hosts_of(inv, "type_non_production") == ["staging"]
    assert hosts_of(inv, "local") == ["prod", "staging"]
    prod = inv["_meta"]["hostvars"]["prod"]
    staging = inv["_meta"]["hostvars"]["staging"]
    assert prod["ansible_connection"] == "local"
    assert (prod["adhar_role"], prod["adhar_ha"], prod["adhar_control_plane_count"], prod["adhar_nodes_count"]) == ("primary", True, 3, 3)
    assert (staging["adhar_role"], staging["adhar_ha"], staging["adhar_control_plane_count"]) == ("replica", False, 1)
    assert prod["adhar_cluster_id"] != staging["adhar_cluster_id"] and prod["adhar_pod_cidr"] != staging["adhar_pod_cidr"]
    assert prod["adhar_local_cluster"] == "prod" and prod["adhar_config_file"] == LOCAL
    assert prod["adhar_kubeconfig"] == os.path.join(state_dir, "prod", "config", "admin.kubeconfig")
    assert prod["adhar_core_services"]["argocd"]["helm_values"]["server.replicas"] == "3"
    assert prod["adhar_core_services"]["cilium"]["helm_values"]["operator.replicas"] == "3"


def test_inventory_of_the_multicloud_example(runner):
    inv = inventory_list(runner, MULTICLOUD)
    assert hosts_of(inv, "clusters") == ["prod-eu", "prod-us-east", "prod-us-west"]
    assert hosts_of(inv, "provider_aws") == ["prod-us-east", "prod-us-west"] and hosts_of(inv, "provider_gcp") == ["prod-eu"]
    assert hosts_of(inv, "region_europe_west1") == ["prod-eu"] and hosts_of(inv, "primary") == ["prod-us-east"]
    assert inv["_meta"]["hostvars"]["prod-eu"]["adhar_instance_type"] == "e2-standard-4"


def test_invalid_inventory_reports_every_error(runner, tmp_path):
    path = tmp_path / "adhar.yml"
    with open(os.path.join(FIXTURES, "bad", "overlapping-mesh-cidrs.yaml")) as f:
        body = f.read()
    path.write_text("plugin: adhar.platform.clusters\n" + body.replace("clusterId: 2", "clusterId: 1"))
    proc = ansible(runner, "ansible-inventory", "-i", str(path), "--list", env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"})
    assert proc.returncode != 0
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "is not a valid adhar config (2 errors)" in text
    assert "clusters[1].clusterId (line 13): clusterId 1 is also used by 'east'" in text
    assert "clusters[1].podCidr (line 13): podCidr 10.244.0.0/16 of 'west' overlaps podCidr 10.244.0.0/16 of 'east'" in text


def laughs(levels=10, width=9):
    """The billion-laughs document: ``width ** levels`` strings once its aliases are expanded."""
    text = "a: &a [%s]\n" % ", ".join(['"lol"'] * width)
    for i in range(1, levels):
        text += "l%d: &l%d [%s]\n" % (i, i, ", ".join(["*" + ("a" if i == 1 else "l%d" % (i - 1))] * width))
    return text


def test_inventory_refuses_an_alias_bomb_at_once(runner, tmp_path):
    path = tmp_path / "adhar.yml"
    path.write_text("plugin: adhar.platform.clusters\n" + laughs())
    start = time.monotonic()
    proc = ansible(runner, "ansible-inventory", "-i", str(path), "--list", env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"})
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and elapsed < 30, (elapsed, proc.stderr[-2000:])
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "%s is not a valid adhar config (1 error)" % path in text
    assert "l5 (line 7, column 5): the list at line 7 expands through aliases to more than the limit of 100000 values" in text


def test_config_module_refuses_an_alias_bomb_and_caps_errors(runner, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs())
    res = runner.module("adhar.platform.config", {"src": str(bomb)}, expect_fail=True)
    assert res["valid"] is False and res["errors_truncated"] == 0 and len(res["errors"]) == 1
    assert res["errors"][0]["message"].startswith("the list at line 6 expands through aliases to more than the limit of 100000")
    many = tmp_path / "many.yaml"
    with open(LOCAL) as f:
        many.write_text(f.read() + "".join("bogus%d: 1\n" % i for i in range(300)))
    res = runner.module("adhar.platform.config", {"src": str(many), "limits": {"errors": 10}}, expect_fail=True)
    assert len(res["errors"]) == 10 and res["errors_truncated"] == 290 and res["msg"].startswith("300 errors in ")


def test_config_module_validate_and_resolve(runner):
    res = runner.module("adhar.platform.config", {"src": LOCAL})
    assert res["valid"] is True and res["summary"]["hosts"] == ["prod", "staging"] and res["changed"] is False
    res = runner.module("adhar.platform.config", {"src": LOCAL, "action": "resolve", "environment": "prod"})
    prod = res["clusters"]["prod"]
    assert list(res["clusters"]) == ["prod"] and prod["ha"] is True and prod["controlPlane"] == {"count": 3}
    assert {"key": "server.replicas", "value": "3"} in prod["coreServices"]["argocd"]["values"]
    bad = runner.module("adhar.platform.config", {"src": os.path.join(FIXTURES, "bad", "even-control-plane.yaml")}, expect_fail=True)
    # ansible-core 2.19 itself adds exception: "(traceback unavailable)" to a failure that carries none
    assert bad["valid"] is False and "Traceback" not in bad.get("exception", "")
    assert bad["errors"] == [{"path": "clusters[0].controlPlane.count", "line": 14, "message": bad["errors"][0]["message"]}]
    assert "use 1, 3 or 5" in bad["msg"]
    syntax = runner.module("adhar.platform.config", {"src": os.path.join(FIXTURES, "bad", "yaml-syntax.txt")}, expect_fail=True)
    assert "YAML syntax error at line 4, column 21" in syntax["msg"] and "Traceback" not in syntax.get("exception", "")


def test_config_module_convert_dest_check_diff_idempotent(runner, tmp_path):
    dest = str(tmp_path / "gcp-config.yaml")
    args = {"src": os.path.join(FIXTURES, "aws-production.yaml"), "action": "convert", "to_provider": "gcp", "dest": dest}
    res = runner.module("adhar.platform.config", args, check=True, diff=True)
    assert res["changed"] is True and not os.path.exists(dest)
    assert res["diff"]["before"] == "" and "region: us-east4" in res["diff"]["after"]
    res = runner.module("adhar.platform.config", args)
    assert res["changed"] is True and os.path.exists(dest)
    with open(dest) as f:
        converted = yaml.safe_load(f)
    assert converted["providers"]["gcp"]["config"]["instance_types"] == {"control_plane": "e2-standard-2", "worker": "e2-standard-4"}
    assert runner.module("adhar.platform.config", args)["changed"] is False
    assert runner.module("adhar.platform.config", args, check=True, diff=True)["changed"] is False
    # and back: the converted file converts to the original values
    back = runner.module("adhar.platform.config", {"src": dest, "action": "convert", "to_provider": "aws"})
    assert back["config"]["providers"]["aws"]["region"] == "us-east-1"
    assert back["config"]["clusters"][1]["region"] == "eu-central-1"


HEALTH_CONFIG = """\
plugin: adhar.platform.clusters
providers:
  kind: {type: kind, region: local, primary: true}
environmentTemplates:
  dev-defaults:
    clusterConfig: [{key: kubeVersion, value: v1.36.3}]
    coreServices: {argocd: {values: [{key: server.replicas, value: "1"}]}}
environments:
  dev: {type: non-production, template: dev-defaults, clusterConfig: [{key: workerReplicas, value: "1"}]}
clusters:
  - {name: cfg-inv, role: primary, clusterId: 7, podCidr: 10.77.0.0/16, serviceCidr: 10.78.0.0/16}
"""

CREATE = """\
- name: Local clusters from the inventory's hostvars
  hosts: local
  gather_facts: false
  tasks:
    - name: Cluster
      adhar.platform.cluster:
        name: "{{ adhar_local_cluster }}"
        control_plane:
          count: "{{ adhar_control_plane_count }}"
        nodes:
          count: "{{ adhar_nodes_count }}"
        pod_cidr: "{{ adhar_pod_cidr }}"
        service_cidr: "{{ adhar_service_cidr }}"
        cluster_id: "{{ adhar_cluster_id }}"
        state: "{{ adhar_state | default('present') }}"
"""


def test_health_playbook_runs_on_the_plugin_inventory(runner, state_dir, tmp_path):
    inventory = tmp_path / "health.adhar.yml"
    inventory.write_text(HEALTH_CONFIG)
    book = tmp_path / "create.yml"
    book.write_text(CREATE)
    results = str(tmp_path / "results.jsonl")
    try:
        proc = ansible(runner, "ansible-playbook", "-i", str(inventory), str(book), results=results)
        assert proc.returncode == 0, proc.stdout[-4000:]
        with open(os.path.join(state_dir, "cfg-inv", "cluster.json")) as f:
            spec = json.load(f)["spec"]
        assert (spec["cluster_id"], spec["pod_cidr"], spec["service_cidr"]) == (7, "10.77.0.0/16", "10.78.0.0/16")
        proc = ansible(runner, "ansible-playbook", "-i", str(inventory), os.path.join(REPO, "playbooks", "health.yml"),
                       "-e", "adhar_health_probes=3", results=results)
        assert proc.returncode == 0, proc.stdout[-4000:]
        with open(results) as f:
            health = [json.loads(line) for line in f if json.loads(line)["task"] == "Collect health"]
        assert len(health) == 1 and health[0]["result"]["healthy"] is True, health
    finally:
        proc = ansible(runner, "ansible-playbook", "-i", str(inventory), str(book), "-e", "adhar_state=absent")
        assert proc.returncode == 0, proc.stdout[-4000:]
    assert not os.path.exists(os.path.join(state_dir, "cfg-inv"))


@pytest.mark.parametrize("name", ["duplicate-cluster-names.yaml", "overlapping-cidrs.yaml", "unknown-provider-type.yaml"])
def test_bad_configs_fail_before_anything_is_deployed(runner, state_dir, tmp_path, name):
    """The inventory refuses a bad config, so a play over it has no host and creates nothing."""
    inventory = tmp_path / "bad.adhar.yml"
    with open(os.path.join(FIXTURES, "bad", name)) as f:
        inventory.write_text("plugin: adhar.platform.clusters\n" + f.read())
    book = tmp_path / "create.yml"
    book.write_text(CREATE)
    before = sorted(os.listdir(state_dir))
    proc = ansible(runner, "ansible-playbook", "-i", str(inventory), str(book), env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"})
    assert proc.returncode != 0
    assert "is not a valid adhar config (1 error)" in " ".join((proc.stdout + proc.stderr).split())
    assert sorted(os.listdir(state_dir)) == before
