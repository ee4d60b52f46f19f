# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory hosts: the stable hostvar names, groups, kubeconfig paths of local clusters."""

from __future__ import annotations

import os

from ansible_collections.adhar.platform.plugins.module_utils._config import hosts, loader
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import (
    LOCAL_INVENTORY, MULTICLOUD_INVENTORY, REPO, base,
)


def by_name(cfg, **kw):
    return {name: (hv, groups) for name, hv, groups in hosts.inventory_hosts(cfg, **kw)}


def test_hostvar_names_are_stable_and_documented():
    hv, dummy = by_name(base())["dev"]
    # a local host without a context setting: every variable but adhar_context, in the documented order
    assert list(hv) == [name for name in hosts.HOSTVARS if name != "adhar_context"]
    with open(os.path.join(REPO, "docs", "config.md")) as f:
        doc = f.read()
    missing = [name for name in hosts.HOSTVARS if "`%s`" % name not in doc]
    assert missing == [], "hostvars not listed in docs/config.md: %s" % missing


def test_local_inventory_hosts(tmp_path):
    cfg = loader.load_file(LOCAL_INVENTORY).data
    found = by_name(cfg, config_file="/x/adhar.yml", state_dir=str(tmp_path))
    assert list(found) == ["prod", "staging"]
    prod, prod_groups = found["prod"]
    assert prod_groups == ["clusters", "primary", "provider_kind", "region_local", "type_production", "environment_prod", "local"]
    assert prod["adhar_local_cluster"] == "prod" and prod["adhar_kubeconfig"] == str(tmp_path / "prod" / "config" / "admin.kubeconfig")
    assert prod["adhar_state_dir"] == str(tmp_path) and prod["adhar_config_file"] == "/x/adhar.yml"
    assert prod["adhar_connection"] == {"kubeconfig": prod["adhar_kubeconfig"]}
    assert (prod["adhar_ha"], prod["adhar_control_plane_count"], prod["adhar_nodes_count"]) == (True, 3, 3)
    assert prod["adhar_core_services"]["argocd"]["helm_values"]["server.replicas"] == "3"
    assert prod["adhar_core_services"]["nginx"] == {"chart": None, "helm_values": {"controller.replicaCount": "3"}, "configured": False}
    staging, staging_groups = found["staging"]
    assert "replica" in staging_groups and "type_non_production" in staging_groups
    assert (staging["adhar_cluster_id"], staging["adhar_pod_cidr"], staging["adhar_service_cidr"]) == (2, "10.245.0.0/16", "10.97.0.0/16")
    assert staging["adhar_core_services"] == {"argocd": {"chart": None, "helm_values": {"server.replicas": "1"}, "configured": True}}


def test_state_dir_defaults_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ADHAR_STATE_DIR", str(tmp_path))
    hv, dummy = by_name(base())["dev"]
    assert hv["adhar_kubeconfig"] == str(tmp_path / "dev" / "config" / "admin.kubeconfig")


def test_cloud_hosts_have_no_local_cluster(monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    found = by_name(loader.load_file(MULTICLOUD_INVENTORY).data)
    eu, groups = found["prod-eu"]
    assert groups == ["clusters", "replica", "provider_gcp", "region_europe_west1", "type_production", "environment_production"]
    # never null: `adhar_local_cluster is defined` must mean "a local cluster"
    assert "adhar_local_cluster" not in eu and "adhar_state_dir" not in eu
    assert set(eu) == set(hosts.HOSTVARS) - {"adhar_local_cluster", "adhar_state_dir", "adhar_context"}
    assert eu["adhar_kubeconfig"] == "/home/u/.kube/config-prod-eu"
    assert eu["adhar_connection"] == {"kubeconfig": "/home/u/.kube/config-prod-eu"}
    assert eu["adhar_backup"]["ttl"] == "720h" and eu["adhar_global_settings"]["enableHAMode"] is True


def test_environment_hosts_when_there_are_no_clusters():
    cfg = base()
    cfg["environments"]["prod"] = dict(cfg["environments"]["dev"], type="production")
    found = by_name(cfg)
    assert found["prod"][0]["adhar_role"] == "primary" and found["dev"][0]["adhar_role"] == "replica"
    assert found["dev"][0]["adhar_environment"] == "dev"


def test_group_names_are_safe():
    assert hosts.group_name("region", "us-east-1") == "region_us_east_1"
    assert hosts.group_name("type", "non-production") == "type_non_production"


def test_connection_of_an_existing_cluster(monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    target = {"kubeconfig": "~/.kube/prod", "context": "prod-eu", "localCluster": None, "name": "prod"}
    assert hosts.connection(target) == {"kubeconfig": "/home/u/.kube/prod", "context": "prod-eu"}
    assert hosts.connection(dict(target, kubeconfig=None, context=None)) == {}
    local = dict(target, kubeconfig=None, context=None, localCluster="prod")
    assert hosts.connection(local, "/s") == {"kubeconfig": "/s/prod/config/admin.kubeconfig"}
