# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""resolve(): upstream's ResolveEnvironments rules, our HA defaults, knobs and clusters."""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._config import loader
from ansible_collections.adhar.platform.plugins.module_utils._config import resolve as R
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import (
    LOCAL_INVENTORY, MULTICLOUD_INVENTORY, base, data, errors, kv,
)


def env_view(cfg, name="dev"):
    return R.resolve(cfg)["environments"][name]


def two_providers():
    cfg = base()
    cfg["providers"] = {"aws": {"type": "aws", "region": "us-east-1"},
                        "gcp": {"type": "gcp", "region": "europe-west1", "primary": True}}
    return cfg


def test_provider_env_then_primary_then_first():
    cfg = two_providers()
    assert env_view(cfg)["provider"] == "gcp" and env_view(cfg)["region"] == "europe-west1"
    cfg["environments"]["dev"]["provider"] = "aws"
    assert env_view(cfg)["provider"] == "aws" and env_view(cfg)["providerType"] == "aws" and env_view(cfg)["region"] == "us-east-1"
    cfg = two_providers()
    del cfg["providers"]["gcp"]["primary"]
    assert env_view(cfg)["provider"] == "aws"  # the first (upstream: Go map order, unspecified)


def test_region_env_then_provider():
    cfg = two_providers()
    cfg["environments"]["dev"]["region"] = "europe-west4"
    assert env_view(cfg)["region"] == "europe-west4"
    cfg = base()
    cfg["providers"] = {"kind": {"primary": True}}  # upstream's setDefaults: type kind, region local
    assert env_view(cfg)["region"] == "local" and env_view(cfg)["providerType"] == "kind"


def test_cluster_config_concatenation_env_last():
    cfg = base()
    cfg["environmentTemplates"]["dev-defaults"]["clusterConfig"] = [kv("kubeVersion", "v1.35.0"), kv("workerReplicas", "2")]
    cfg["environments"]["dev"]["clusterConfig"] = [kv("workerReplicas", "4"), kv("kubeVersion", "v1.36.3")]
    view = env_view(cfg)
    assert view["clusterConfig"] == [kv("kubeVersion", "v1.35.0"), kv("workerReplicas", "2"), kv("workerReplicas", "4"),
                                     kv("kubeVersion", "v1.36.3")]
    assert view["nodes"] == {"count": 4} and view["kubernetesVersion"] == "v1.36.3"


def test_core_services_env_replaces_template_per_service():
    cfg = base()
    cfg["environmentTemplates"]["dev-defaults"]["coreServices"] = {
        "argocd": {"chart": {"repoURL": "r", "name": "argo-cd", "version": "1"}, "values": [kv("server.replicas", "1"), kv("a", "b")]},
        "gitea": {"values": [kv("replicaCount", "1")]},
        "prometheus": {"values": [kv("x", "y")]},
    }
    cfg["environments"]["dev"]["coreServices"] = {"argocd": {"values": [kv("server.replicas", "2")]}, "vault": {"values": [kv("x", "y")]}}
    view = env_view(cfg)
    # the environment's argocd entry replaces the template's whole entry (chart and values), as upstream does
    assert view["coreServices"]["argocd"] == {"chart": None, "values": [kv("server.replicas", "2")], "configured": True}
    assert view["coreServices"]["gitea"]["values"] == [kv("replicaCount", "1")]
    assert list(view["coreServices"]) == ["argocd", "gitea"] and view["droppedCoreServices"] == ["prometheus", "vault"]


def test_kept_services_upstream_and_ours():
    cfg = base()
    cfg["environmentTemplates"]["dev-defaults"]["coreServices"] = {
        s: {"values": [kv("k", "v")]} for s in ("minio", "redis", "postgresql", "nginx", "cilium", "gateway", "gitea", "argocd")}
    assert list(env_view(cfg)["coreServices"]) == ["argocd", "gitea", "gateway", "cilium", "nginx", "postgresql", "redis", "minio"]


def test_addons_template_then_env():
    cfg = base()
    chart = {"repoURL": "r", "name": "n", "version": "1"}
    cfg["environmentTemplates"]["dev-defaults"]["addons"] = [{"name": "a", "chart": chart}]
    cfg["environments"]["dev"]["addons"] = [{"name": "b", "chart": chart}]
    assert [a["name"] for a in env_view(cfg)["addons"]] == ["a", "b"]


def test_type_default_and_global_defaults():
    cfg = base()
    del cfg["environments"]["dev"]["type"]  # invalid, but resolve still answers as upstream would
    view = env_view(cfg)
    assert view["type"] == "non-production"
    assert view["globalSettings"] == {"adharContext": "adhar-mgmt", "defaultHost": "platform.adhar.io", "defaultHttpPort": 80,
                                      "defaultHttpsPort": 8443, "enableHAMode": False, "email": "admin@adhar.io"}


def test_ha_defaults_are_values_that_explicit_values_override():
    cfg = base()
    cfg["globalSettings"] = {"enableHAMode": True}
    cfg["environmentTemplates"]["dev-defaults"]["coreServices"]["argocd"]["values"] = [kv("server.replicas", "3"), kv("x", "1")]
    cfg["environments"]["dev"]["clusterConfig"] = [kv("kubeVersion", "v1.36.3")]
    view = env_view(cfg)
    assert view["ha"] is True and view["controlPlane"] == {"count": 3} and view["nodes"] == {"count": 3}
    argocd = view["coreServices"]["argocd"]
    assert argocd["values"] == [kv("server.replicas", "3"), kv("repoServer.replicas", "2"), kv("controller.replicas", "2"),
                                kv("redis-ha.enabled", "true"), kv("x", "1")]
    services = {name: {v["key"]: v["value"] for v in s["values"]} for name, s in view["coreServices"].items()}
    assert services["nginx"] == {"controller.replicaCount": "3"}
    assert services["cilium"] == {"operator.replicas": "3"}
    assert services["gitea"] == {"replicaCount": "2"}
    assert services["postgresql"] == {"architecture": "replication", "readReplicas.replicaCount": "2"}
    assert services["redis"] == {"architecture": "replication", "sentinel.enabled": "true", "replica.replicaCount": "3"}
    assert services["minio"] == {"mode": "distributed", "replicas": "4"}
    assert view["coreServices"]["nginx"]["configured"] is False and view["coreServices"]["nginx"]["chart"] is None
    assert "gateway" not in view["coreServices"]


def test_without_ha_only_configured_services():
    view = env_view(base())
    assert view["ha"] is False and list(view["coreServices"]) == ["argocd"]
    assert view["controlPlane"] == {"count": 1} and view["nodes"] == {"count": 1}


def test_ha_override_per_environment_and_counts():
    cfg = base()
    cfg["globalSettings"] = {"enableHAMode": True}
    cfg["environments"]["dev"]["ha"] = False
    assert env_view(cfg)["ha"] is False
    cfg["environments"]["dev"].update(ha=True, controlPlane={"count": 5}, nodes={"count": 7})
    assert env_view(cfg)["controlPlane"] == {"count": 5} and env_view(cfg)["nodes"] == {"count": 7}
    cfg["environments"]["dev"] = {"type": "production", "template": "dev-defaults", "clusterConfig": [kv("controlPlaneReplicas", "3")]}
    cfg["globalSettings"]["enableHAMode"] = False
    assert env_view(cfg)["controlPlane"] == {"count": 3} and env_view(cfg)["nodes"] == {"count": 3}  # production: 3 workers


def test_networks_and_ids_defaults():
    view = env_view(base())
    assert (view["podCidr"], view["serviceCidr"], view["clusterId"], view["mesh"]) == ("10.244.0.0/16", "10.96.0.0/16", 1, False)
    assert view["localCluster"] == "dev"
    cloud = env_view(two_providers())
    assert (cloud["podCidr"], cloud["serviceCidr"], cloud["localCluster"]) == ("10.244.0.0/16", "10.96.0.0/12", None)


def test_instance_type_clusterconfig_then_provider():
    cfg = two_providers()
    cfg["providers"]["gcp"]["config"] = {"instance_types": {"worker": "e2-standard-4"}}
    assert env_view(cfg)["instanceType"] == "e2-standard-4"
    cfg["environments"]["dev"]["clusterConfig"].append(kv("machineType", "n2-standard-8"))
    assert env_view(cfg)["instanceType"] == "n2-standard-8"


def test_environment_roles_default_and_explicit():
    cfg = base()
    cfg["environments"]["prod"] = dict(cfg["environments"]["dev"], type="production")
    assert R.environment_roles(cfg) == {"dev": "replica", "prod": "primary"}
    cfg["environments"]["dev"]["role"] = "primary"
    assert R.environment_roles(cfg) == {"dev": "primary", "prod": "replica"}
    del cfg["environments"]["dev"]["role"]
    cfg["environments"]["prod"]["type"] = "non-production"
    assert R.environment_roles(cfg) == {"dev": "primary", "prod": "replica"}


def test_clusters_are_targets_with_their_environment():
    cfg = loader.load_file(MULTICLOUD_INVENTORY).data
    views = R.resolve(cfg)["clusters"]
    assert list(views) == ["prod-us-east", "prod-us-west", "prod-eu"]
    east, west, eu = views["prod-us-east"], views["prod-us-west"], views["prod-eu"]
    assert (east["role"], west["role"], eu["role"]) == ("primary", "replica", "replica")
    assert all(v["environment"] == "production" and v["type"] == "production" and v["ha"] for v in views.values())
    # a cluster on another provider than its environment does not take the environment's region
    assert (eu["provider"], eu["region"], eu["instanceType"]) == ("gcp", "europe-west1", "e2-standard-4")
    assert (west["provider"], west["region"], west["instanceType"]) == ("aws", "us-west-2", "t3.xlarge")
    assert east["backup"]["ttl"] == "720h" and east["coreServices"]["argocd"]["values"][0] == kv("server.replicas", "3")
    assert [t["name"] for t in R.targets(cfg)] == list(views)


def test_cluster_knobs_override_environment_knobs():
    cfg = base()
    cfg["environments"]["dev"].update(podCidr="10.50.0.0/16", clusterId=9, ha=True)
    cfg["clusters"] = [{"name": "a", "role": "primary", "clusterId": 3}, {"name": "b", "role": "replica", "ha": False, "region": "x"}]
    a, b = R.resolve(cfg)["clusters"]["a"], R.resolve(cfg)["clusters"]["b"]
    assert (a["podCidr"], a["clusterId"], a["ha"], a["controlPlane"]["count"]) == ("10.50.0.0/16", 3, True, 3)
    assert (b["clusterId"], b["ha"], b["controlPlane"]["count"], b["region"]) == (9, False, 1, "x")


def test_cluster_without_environment():
    cfg = base()
    cfg["environments"]["qa"] = dict(cfg["environments"]["dev"])
    cfg["clusters"] = [{"name": "a", "role": "primary", "environment": "qa"}, {"name": "b", "role": "replica"}]
    views = R.resolve(cfg)["clusters"]
    assert views["a"]["environment"] == "qa" and views["b"]["environment"] is None
    assert views["b"]["coreServices"] == {} and views["b"]["template"] is None


def test_environment_filter():
    cfg = loader.load_file(LOCAL_INVENTORY).data
    out = R.resolve(cfg, "staging")
    assert list(out["environments"]) == ["staging"] and list(out["clusters"]) == ["staging"]
    assert out["clusters"]["staging"]["serviceCidr"] == "10.97.0.0/16" and out["clusters"]["staging"]["clusterId"] == 2


def test_local_inventory_resolves_prod_ha_and_staging_not():
    cfg = loader.load_file(LOCAL_INVENTORY).data
    assert errors(cfg) == []
    prod, staging = R.resolve(cfg)["clusters"]["prod"], R.resolve(cfg)["clusters"]["staging"]
    assert (prod["ha"], prod["controlPlane"]["count"], prod["nodes"]["count"], prod["role"]) == (True, 3, 3, "primary")
    assert (staging["ha"], staging["controlPlane"]["count"], staging["nodes"]["count"], staging["role"]) == (False, 1, 1, "replica")
    assert prod["clusterId"] != staging["clusterId"] and prod["podCidr"] != staging["podCidr"]
    argocd = {v["key"]: v["value"] for v in prod["coreServices"]["argocd"]["values"]}
    assert argocd["server.replicas"] == "3" and argocd["repoServer.replicas"] == "2"


def test_backup_retention():
    assert [R.retention_hours(v) for v in (30, "30d", "72h", "4w", "0d", "x", True, "3m")] == [720, 720, 72, 672, None, None, None, None]
    cfg = base()
    assert R.backup(cfg) is None
    cfg["backup"] = {"retention": "2w"}
    assert R.backup(cfg) == {"retention": "2w", "enabled": False, "ttl": "336h"}


def test_upstream_example_resolves_like_the_harness():
    """adhar-upstream.md 2.7: env production -> aws / us-east-1 / production with HA."""
    view = R.resolve(data("upstream-example.yaml"))["environments"]["production"]
    assert (view["provider"], view["region"], view["type"], view["globalSettings"]["enableHAMode"]) == ("aws", "us-east-1", "production", True)
    assert view["controlPlane"]["count"] == 1  # upstream's controlPlaneReplicas wins over the HA default
