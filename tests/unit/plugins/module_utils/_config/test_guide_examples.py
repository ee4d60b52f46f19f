# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every YAML example of the adhar Advanced Topics guide (fixtures/adhar/guide/, copied unchanged), and what the
validator says about it.

None of the 13 blocks is a complete adhar config on its own:

* 01-05 are adhar config fragments. Each fails for exactly what it lacks; put into a complete config
  (the "in context" tests) 01, 04 and 05 validate, 02 and 03 keep one precise upstream reason each.
* 06-13 are other documents (Kubernetes manifests, Helm values, Prometheus rules): one error each, saying what
  the document is and where it belongs.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._config import loader
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import (
    MULTICLOUD_INVENTORY, base, check, data, deep_merge, errors, fixture, kv,
)

NO_PROVIDERS = ("providers", "is required: at least one provider must be configured")
NO_TEMPLATES = ("environmentTemplates", "is required: at least one environment template must be defined")
NO_ENVIRONMENTS = ("environments", "is required: define environments (or clusters) to deploy; upstream 'adhar up -f' fails "
                                   "with 'no environments defined'")


def manifest(what):
    return [("(root)", "not an adhar config: it is a Kubernetes manifest (%s); manifests are applied to a cluster, "
                       "not written into an adhar config" % what)]


def helm_values(svc, example):
    return [("(root)", "not an adhar config: it looks like Helm values of the %s chart; in an adhar config they go under "
                       "environmentTemplates.<template>.coreServices.%s.values as key/value pairs (for example key: %s)"
             % (svc, svc, example))]


EXPECTED = {
    "01-ha-enable.yaml": [NO_PROVIDERS, NO_TEMPLATES, NO_ENVIRONMENTS],
    "02-ha-autoscaling.yaml": [
        NO_PROVIDERS, NO_ENVIRONMENTS,
        ("environmentTemplates.prod-defaults.coreServices",
         "is required: upstream rejects a template without core services (core services cannot be empty)"),
    ],
    "03-production-config.yaml": [
        NO_ENVIRONMENTS,
        ("environmentTemplates.prod-defaults.clusterConfig",
         "is required: upstream rejects an empty clusterConfig (cluster config cannot be empty)"),
    ],
    "04-backup.yaml": [NO_PROVIDERS, NO_TEMPLATES, NO_ENVIRONMENTS],
    "05-federation.yaml": [
        NO_PROVIDERS, NO_TEMPLATES,
        ("clusters[0].provider", "unknown provider 'aws'; defined providers: none"),
        ("clusters[1].provider", "unknown provider 'aws'; defined providers: none"),
        ("clusters[2].provider", "unknown provider 'gcp'; defined providers: none"),
    ],
    "06-cilium-network-policy.yaml": manifest("cilium.io/v2 CiliumNetworkPolicy 'default-deny'"),
    "07-cilium-wireguard.yaml": helm_values("cilium", "encryption.enabled"),
    "08-rbac-clusterrole.yaml": manifest("rbac.authorization.k8s.io/v1 ClusterRole 'developer'"),
    "09-pod-security-namespace.yaml": manifest("v1 Namespace 'production'"),
    "10-external-secrets-store.yaml": manifest("external-secrets.io/v1beta1 SecretStore 'vault-backend'"),
    "11-hpa.yaml": manifest("autoscaling/v2 HorizontalPodAutoscaler 'app-hpa'"),
    "12-postgresql-pooler.yaml": helm_values("postgresql", "pooler.enabled"),
    "13-prometheus-alert-rules.yaml": [
        ("(root)", "not an adhar config: it looks like a Prometheus rule file; alert rules go into a PrometheusRule object "
                   "(the monitoring role), not into an adhar config"),
    ],
}


def test_every_guide_block_has_an_expectation():
    assert sorted(os.listdir(fixture("guide"))) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_guide_block_alone(name):
    report = check(loader.load_file(fixture("guide", name)))
    assert sorted((e["path"], e["message"]) for e in report.errors) == sorted(EXPECTED[name])
    assert all("line" in e for e in report.errors)


def guide(name):
    return data("guide", name)


def test_ha_block_in_context_is_valid():
    assert errors(deep_merge(base(), guide("01-ha-enable.yaml"))) == []


def test_autoscaling_block_in_context_still_lacks_core_services():
    cfg = deep_merge(base(), guide("02-ha-autoscaling.yaml"))
    assert errors(cfg) == [("environmentTemplates.prod-defaults.coreServices",
                            "is required: upstream rejects a template without core services (core services cannot be empty)")]
    cfg["environmentTemplates"]["prod-defaults"]["coreServices"] = {"argocd": {"values": [kv("server.replicas", "2")]}}
    assert errors(cfg) == []


def test_production_block_in_context_still_lacks_cluster_config():
    cfg = guide("03-production-config.yaml")
    cfg["environments"] = {"production": {"type": "production", "template": "prod-defaults",
                                          "clusterConfig": [kv("workerReplicas", "3")]}}
    assert errors(cfg) == [("environmentTemplates.prod-defaults.clusterConfig",
                            "is required: upstream rejects an empty clusterConfig (cluster config cannot be empty)")]
    cfg["environmentTemplates"]["prod-defaults"]["clusterConfig"] = [kv("kubeVersion", "v1.36.3")]
    assert errors(cfg) == []


def test_backup_block_in_context_is_valid():
    cfg = deep_merge(base(), guide("04-backup.yaml"))
    assert errors(cfg) == []


def test_federation_block_in_context_is_valid():
    cfg = base()
    cfg["providers"] = {"aws": {"type": "aws", "region": "us-east-1", "primary": True},
                        "gcp": {"type": "gcp", "region": "europe-west1"}}
    cfg.update(guide("05-federation.yaml"))
    assert errors(cfg) == []


def test_the_multicloud_example_is_the_guide_completed():
    cfg = loader.load_file(MULTICLOUD_INVENTORY).data
    assert cfg["clusters"][0]["name"] == "prod-us-east" and cfg["backup"]["schedule"] == "0 2 * * *"
    report = check(loader.load_file(MULTICLOUD_INVENTORY))
    assert report.valid, report.errors
    assert {w["path"] for w in report.warnings} == {"providers", "clusters[0]", "clusters[1]", "clusters[2]"}
