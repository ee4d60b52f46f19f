# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validator: bad configs give one clear message each; the rules beyond the schema; warnings; all errors at once."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.module_utils._config import loader
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import cron_problem, validate
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import (
    LOCAL_INVENTORY, base, check, errors, fixture, kv, only_error, warnings,
)

EVEN = "an even number of etcd members adds no fault tolerance and risks split votes"

BAD = {
    "missing-required.yaml": ("environments.dev.template",
                              "is required: the name of an environmentTemplates entry (upstream: template reference is required)"),
    "wrong-type.yaml": ("globalSettings.enableHAMode", "must be true or false, not a string 'yes'"),
    "unquoted-value.yaml": ("environments.dev.clusterConfig[1].value", 'must be a string, not an integer 3 (quote it: "3")'),
    "unknown-provider-type.yaml": ("providers.cloud.type", "must be one of: 'aws', 'azure', 'gcp', 'digitalocean', 'civo', "
                                                           "'custom', 'kind' (got 'amazon')"),
    "unknown-provider-reference.yaml": ("clusters[1].provider", "unknown provider 'aws'; defined providers: kind"),
    "duplicate-cluster-names.yaml": ("clusters[1].name", "duplicate cluster name 'edge' (also clusters[0]); cluster names must be unique"),
    "even-control-plane.yaml": ("clusters[0].controlPlane.count", "2 is not a valid control-plane size: use 1, 3 or 5 (%s)" % EVEN),
    "even-control-plane-replicas.yaml": ("environments.dev.clusterConfig[0].value",
                                         "controlPlaneReplicas 4 is not a valid control-plane size (%s); use 1, 3 or 5" % EVEN),
    "overlapping-cidrs.yaml": ("environments.dev.serviceCidr", "podCidr 10.0.0.0/8 overlaps serviceCidr 10.96.0.0/16 of 'dev'"),
    "overlapping-mesh-cidrs.yaml": ("clusters[1].podCidr", "podCidr 10.244.0.0/16 of 'west' overlaps podCidr 10.244.0.0/16 of 'east'; "
                                                           "clusters in the mesh need distinct pod networks"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_gives_one_clear_message(name):
    report = validate(loader.load_file(fixture("bad", name)))
    assert [(e["path"], e["message"]) for e in report.errors] == [BAD[name]]
    assert isinstance(report.errors[0]["line"], int)
    assert report.summary().startswith("1 error in ")


def test_valid_configs():
    for path in (fixture("base.yaml"), fixture("upstream-example.yaml"), fixture("aws-production.yaml"), LOCAL_INVENTORY):
        report = validate(loader.load_file(path))
        assert report.valid, (path, report.errors)
    assert check(loader.load_file(LOCAL_INVENTORY)).warnings == []


def test_all_errors_at_once_in_file_order():
    cfg = base()
    cfg["globalSettings"] = {"enableHaMode": True, "defaultHttpPort": 0}
    cfg["providers"]["kind"]["type"] = "kubernetes"
    cfg["environments"]["dev"]["template"] = "dev-default"
    cfg["environments"]["dev"]["clusterConfig"].append(kv("controlPlaneReplicas", "2"))
    cfg["clusters"] = [{"name": "a", "role": "primary"}, {"name": "a", "role": "primary"}]
    cfg["backup"] = {"enabled": True, "schedule": "0 25 * * *"}
    found = dict(errors(cfg))
    assert sorted(found) == sorted([
        "globalSettings.enableHaMode", "globalSettings.defaultHttpPort", "providers.kind.type", "backup.storage",
        "environments.dev.template", "environments.dev.clusterConfig[1].value", "clusters[1].name", "clusters[1].role",
        "backup.schedule",
    ])
    assert found["globalSettings.enableHaMode"].startswith("unknown key 'enableHaMode' (did you mean 'enableHAMode'?)")
    assert found["environments.dev.template"] == "unknown template 'dev-default' (did you mean 'dev-defaults'?); defined templates: dev-defaults"
    assert found["backup.schedule"] == "'0 25 * * *' is not a valid cron schedule: hour 25 is out of range 0-23"
    assert validate(cfg).summary().startswith("9 errors in content: providers.kind.type: must be one of")
    # from a file, the errors come in file order
    text = yaml.safe_dump(cfg, sort_keys=False)
    assert [e["line"] for e in check(text).errors] == sorted(e["line"] for e in check(text).errors)


def test_summary_is_capped():
    cfg = base()
    cfg["environments"] = {"e%d" % i: {"type": "x", "template": "dev-defaults", "clusterConfig": [kv("a", "b")]} for i in range(7)}
    assert validate(cfg).summary().endswith("... and 2 more (see errors)")


def test_lines_follow_the_file():
    text = open(fixture("bad", "duplicate-cluster-names.yaml")).read()
    report = check(text)
    assert report.errors[0]["line"] == text.splitlines().index(
        "  - {name: edge, role: replica, clusterId: 2, podCidr: 10.245.0.0/16, serviceCidr: 10.97.0.0/16}") + 1
    assert "line" not in validate(base() | {"clusters": []}).errors[0]


# -- providers ------------------------------------------------------------------------------------------------


def providers(**blocks):
    cfg = base()
    cfg["providers"] = blocks
    for env in cfg["environments"].values():
        env.pop("provider", None)
    return cfg


def test_provider_count_rule():
    aws = {"type": "aws", "region": "us-east-1"}
    gcp = {"type": "gcp", "region": "europe-west1"}
    kind = {"type": "kind", "region": "local"}
    assert only_error(providers(aws=dict(aws, primary=True), gcp=gcp, kind=kind)) == (
        "providers", "at most 2 providers are allowed (upstream rule), found 3: aws, gcp, kind")
    assert only_error(providers(aws=aws, gcp=gcp)) == (
        "providers", "with 2 providers, exactly one must have primary: true (the management cluster's provider); "
                     "neither aws nor gcp has it")
    assert only_error(providers(aws=dict(aws, primary=True), gcp=dict(gcp, primary=True))) == (
        "providers.gcp.primary", "only one provider can be primary; 'aws' is primary too")
    assert errors(providers(aws=dict(aws, primary=True), gcp=gcp)) == []
    assert errors(providers(aws=aws)) == []


def test_no_providers():
    assert only_error(providers()) == ("providers", "must not be empty: at least one provider must be configured")


def test_upstream_hidden_kind_provider_warnings():
    aws = {"type": "aws", "region": "us-east-1"}
    assert warnings(providers(aws=aws)) == [("providers.aws", "upstream adhar adds a hidden 'kind' provider, so its loader wants "
                                                              "primary: true here ('with 2 providers, one must be marked as primary')")]
    assert ("providers", "upstream adhar adds a hidden 'kind' provider and then rejects this file with 'maximum of 2 providers "
                         "allowed'; adhar.platform accepts it") in warnings(
        providers(aws=dict(aws, primary=True), gcp={"type": "gcp", "region": "x"}))
    assert warnings(providers(kind={"type": "kind", "region": "local"}, aws=dict(aws, primary=True))) == []


def test_kind_provider_defaults_like_upstream():
    assert errors(providers(kind={"primary": True})) == []
    assert only_error(providers(local={"type": "kind"})) == ("providers.local.region", "is required")


def test_provider_config_checks():
    cfg = providers(aws={"type": "aws", "region": "us-east-1", "primary": True,
                         "config": {"vpc_cidr": "10.0.0.1/16", "instance_types": {"worker": ""}}})
    assert errors(cfg) == [("providers.aws.config.instance_types.worker", "must not be empty"),
                           ("providers.aws.config.vpc_cidr", "'10.0.0.1/16' has host bits set; the network is 10.0.0.0/16")]
    cfg = providers(gcp={"type": "gcp", "region": "x", "config": {"project_id": "", "subnet_cidr": "10.0.0.0"}})
    assert [p for p, m in errors(cfg)] == ["providers.gcp.config.project_id", "providers.gcp.config.subnet_cidr"]
    cfg = providers(c={"type": "custom", "region": "x", "config": {"nodes": []}})
    assert only_error(cfg) == ("providers.c.config.nodes", "must not be empty")


def test_managed_k8s_warning():
    cfg = providers(aws={"type": "aws", "region": "us-east-1", "primary": True, "useManagedK8s": True})
    assert ("providers.aws.useManagedK8s", "upstream's aws provider rejects useManagedK8s (only digitalocean and civo offer "
                                           "managed clusters)") in warnings(cfg)


# -- templates and environments ---------------------------------------------------------------------------------


def test_environment_references():
    cfg = base()
    cfg["environments"]["dev"]["provider"] = "aws"
    assert only_error(cfg) == ("environments.dev.provider", "unknown provider 'aws'; defined providers: kind")


def test_empty_service_entry_and_dropped_services():
    cfg = base()
    cfg["environmentTemplates"]["dev-defaults"]["coreServices"]["gitea"] = {}
    cfg["environmentTemplates"]["dev-defaults"]["coreServices"]["prometheus"] = {"values": [kv("a", "b")]}
    assert errors(cfg) == [("environmentTemplates.dev-defaults.coreServices.gitea",
                            "must not be empty: upstream (viper) drops an empty service entry; give it a chart or values")]
    assert warnings(cfg) == [("environmentTemplates.dev-defaults.coreServices.prometheus",
                              "'prometheus' is not a core service: upstream's resolve drops it and so does adhar.platform (kept: "
                              "argocd, gitea, gateway, cilium, nginx, postgresql, redis, minio); install other charts as addons")]


def test_charts_addons_and_duplicate_keys():
    cfg = base()
    tpl = cfg["environmentTemplates"]["dev-defaults"]
    tpl["coreServices"]["argocd"]["chart"] = {"repoURL": "https://argoproj.github.io/argo-helm", "name": "argo-cd"}
    tpl["coreServices"]["argocd"]["values"].append(kv("server.replicas", "2"))
    tpl["addons"] = [{"name": "x", "chart": {"repoURL": "r", "name": "x", "version": "1"}},
                     {"name": "x", "chart": {"repoURL": "r", "name": "x", "version": "1"}}, {"name": "y"}]
    assert errors(cfg) == [("environmentTemplates.dev-defaults.addons[2].chart", "is required")]
    argocd = "environmentTemplates.dev-defaults.coreServices.argocd"
    assert warnings(cfg) == [
        (argocd + ".values[1].key", "key 'server.replicas' is given again (also [0]); the last entry wins"),
        (argocd + ".chart", "the chart version is not pinned: whatever version is newest gets installed"),
        ("environmentTemplates.dev-defaults.addons[1].name", "addon 'x' is listed twice (also addons[0])"),
    ]


@pytest.mark.parametrize("key,value,message", [
    ("controlPlaneReplicas", "three", "controlPlaneReplicas must be a whole number like \"3\" (got 'three')"),
    ("controlPlaneReplicas", "7", "controlPlaneReplicas 7 is not a valid control-plane size (supported sizes are 1, 3 and 5); use 1, 3 or 5"),
    ("workerReplicas", "-1", "workerReplicas must be a whole number of 0 or more like \"3\" (got '-1')"),
    ("autoScale", "yes", "autoScale must be \"true\" or \"false\" (got 'yes')"),
    ("kubeVersion", "latest", "kubeVersion must be a Kubernetes version like \"v1.36.3\" (got 'latest')"),
    ("nodeInstanceType", "", "nodeInstanceType must not be empty"),
])
def test_cluster_config_values(key, value, message):
    cfg = base()
    cfg["environments"]["dev"]["clusterConfig"] = [kv(key, value)]
    assert only_error(cfg) == ("environments.dev.clusterConfig[0].value", message)


def test_min_and_max_nodes():
    cfg = base()
    cfg["environmentTemplates"]["dev-defaults"]["clusterConfig"] += [kv("minNodes", "5"), kv("maxNodes", "3")]
    assert only_error(cfg) == ("environmentTemplates.dev-defaults.clusterConfig[2].value", "maxNodes 3 is less than minNodes 5")


def test_environment_names_and_types():
    cfg = base()
    cfg["environments"]["Dev_1"] = cfg["environments"].pop("dev")
    cfg["environments"]["Dev_1"]["type"] = "prod"
    assert errors(cfg) == [
        ("environments.Dev_1", "name 'Dev_1' is not a valid name: use lower-case letters, digits and '-' (at most 63), starting "
                               "and ending with a letter or digit"),
        ("environments.Dev_1.type", "must be one of: 'production', 'non-production' (got 'prod')"),
    ]


def test_nothing_to_deploy():
    cfg = base()
    del cfg["environments"]
    assert only_error(cfg) == ("environments", "is required: define environments (or clusters) to deploy; upstream 'adhar up -f' "
                                               "fails with 'no environments defined'")
    cfg["environments"] = {}
    assert only_error(cfg)[1].startswith("must not be empty: define environments")


def test_environment_roles():
    cfg = base()
    cfg["environments"]["qa"] = dict(cfg["environments"]["dev"])
    assert errors(cfg) == []
    cfg["environments"]["dev"]["role"] = "replica"
    assert only_error(cfg) == ("environments", "one environment must have role: primary (the management cluster)")
    cfg["environments"]["dev"]["role"] = cfg["environments"]["qa"]["role"] = "primary"
    assert only_error(cfg) == ("environments.qa.role", "only one environment can be primary; 'dev' is primary too")


# -- clusters -------------------------------------------------------------------------------------------------------


def clusters(*entries, envs=1):
    cfg = base()
    for i in range(1, envs):
        cfg["environments"]["env%d" % i] = dict(cfg["environments"]["dev"])
    cfg["clusters"] = list(entries)
    return cfg


def test_exactly_one_primary_cluster():
    assert only_error(clusters({"name": "a", "role": "replica"})) == ("clusters", "exactly one cluster must have role: primary; none has")
    assert only_error(clusters({"name": "a", "role": "primary"}, {"name": "b", "role": "primary"})) == (
        "clusters[1].role", "only one cluster can be primary; clusters[0] is primary too")
    assert only_error(clusters()) == ("clusters", "must not be empty")


def test_cluster_environment_references():
    assert only_error(clusters({"name": "a", "role": "primary"}, envs=2)) == (
        "clusters[0].environment", "is required when several environments are defined (choose from: dev, env1)")
    assert only_error(clusters({"name": "a", "role": "primary", "environment": "prod"})) == (
        "clusters[0].environment", "unknown environment 'prod'; defined environments: dev")
    assert errors(clusters({"name": "a", "role": "primary", "environment": "env1"}, envs=2)) == []


def test_cluster_needs_name_and_role():
    assert errors(clusters({"provider": "kind"}, {"name": "b", "role": "primary"})) == [
        ("clusters[0].name", "is required"), ("clusters[0].role", "is required")]


def test_local_cluster_names_are_limited():
    name = "a" * 40
    assert only_error(clusters({"name": name, "role": "primary"})) == (
        "clusters[0].name", "%r cannot name a local cluster: use at most 32 lower-case letters, digits and '-'" % name)


def test_ha_needs_more_than_one_control_plane_member():
    cfg = clusters({"name": "a", "role": "primary", "ha": True, "controlPlane": {"count": 1}})
    assert only_error(cfg) == ("clusters[0].controlPlane.count", "1 control-plane member conflicts with HA mode (3 or more); use 3 "
                                                                 "or 5, or set ha: false")
    cfg = clusters({"name": "a", "role": "primary", "ha": True, "nodes": {"count": 1}})
    assert errors(cfg) == [] and warnings(cfg) == [("clusters[0].nodes.count", "HA mode wants 3 or more worker nodes (got 1)")]


def test_local_network_sizes():
    cfg = clusters({"name": "a", "role": "primary", "podCidr": "10.244.0.0/25", "serviceCidr": "172.0.0.0/8"})
    assert errors(cfg) == [
        ("clusters[0].serviceCidr", "serviceCidr 172.0.0.0/8 of local cluster 'a' must be between /12 and /28"),
        ("clusters[0].podCidr", "podCidr 10.244.0.0/25 of local cluster 'a' is too small: each node gets a /24, so use /24 or larger"),
    ]
    cfg = clusters({"name": "a", "role": "primary", "podCidr": "10.244.1.0/16"})
    assert only_error(cfg) == ("clusters[0].podCidr", "'10.244.1.0/16' has host bits set; the network is 10.244.0.0/16")
    cfg = clusters({"name": "a", "role": "primary", "podCidr": "10.244.0.0"})
    assert only_error(cfg) == ("clusters[0].podCidr", "'10.244.0.0' is not an IPv4 CIDR like 10.244.0.0/16")


def test_mesh_networks_and_ids():
    east = {"name": "east", "role": "primary", "mesh": True, "clusterId": 1, "podCidr": "10.244.0.0/16", "serviceCidr": "10.96.0.0/16"}
    west = {"name": "west", "role": "replica", "mesh": True, "clusterId": 2, "podCidr": "10.245.0.0/16", "serviceCidr": "10.96.0.0/16"}
    assert errors(clusters(east, west)) == []  # service networks may be the same across clusters
    assert only_error(clusters(east, dict(west, clusterId=1))) == (
        "clusters[1].clusterId", "clusterId 1 is also used by 'east'; clusters in the mesh need distinct ids (1-255)")
    assert only_error(clusters(east, dict(west, podCidr="10.96.0.0/16", serviceCidr="10.97.0.0/16"))) == (
        "clusters[1].podCidr", "podCidr 10.96.0.0/16 of 'west' overlaps serviceCidr 10.96.0.0/16 of 'east'; clusters in the mesh "
                               "need distinct pod networks")
    # defaults collide, and say so
    assert errors(clusters({"name": "a", "role": "primary", "mesh": True}, {"name": "b", "role": "replica", "mesh": True})) == [
        ("clusters[1].clusterId", "clusterId 1 (the default) is also used by 'a'; clusters in the mesh need distinct ids (1-255)"),
        ("clusters[1].podCidr", "podCidr 10.244.0.0/16 of 'b' overlaps podCidr 10.244.0.0/16 of 'a'; clusters in the mesh need "
                                "distinct pod networks"),
    ]
    # clusters outside the mesh are not compared
    assert errors(clusters({"name": "a", "role": "primary"}, {"name": "b", "role": "replica"})) == []


def test_instance_type_of_another_cloud_warns():
    cfg = base()
    cfg["providers"] = {"gcp": {"type": "gcp", "region": "europe-west1", "primary": True}}
    cfg["environments"]["dev"]["clusterConfig"].append(kv("nodeInstanceType", "t3.xlarge"))
    assert ("environments.dev.clusterConfig[1].value", "'t3.xlarge' is a aws instance type but 'dev' runs on gcp (e2-standard-4 is "
                                                       "the equivalent)") in warnings(cfg)


# -- backup -----------------------------------------------------------------------------------------------------------


def test_backup_block():
    cfg = base()
    cfg["backup"] = {"enabled": True, "schedule": "@daily", "retention": "4w", "storage": {"type": "local", "path": "/backups"}}
    assert errors(cfg) == []
    cfg["backup"] = {"enabled": True}
    assert errors(cfg) == [("backup.schedule", "is required when backup.enabled is true"),
                           ("backup.storage", "is required when backup.enabled is true")]
    cfg["backup"] = {"enabled": False}
    assert errors(cfg) == []
    cfg["backup"] = {"retention": 0, "storage": {"type": "nfs"}}
    assert [p for p, m in errors(cfg)] == ["backup.retention", "backup.storage.type"]


@pytest.mark.parametrize("expr,problem", [
    ("0 2 * * *", None),
    ("*/15 0-23/2 1,15 JAN-jun mon-FRI", None),
    ("0 0 * * 7", None),
    ("@weekly", None),
    ("@every 1h", "unknown macro '@every 1h' (use one of: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"),
    ("0 2 * *", "it has 4 fields; a cron schedule has 5: minute hour day-of-month month day-of-week"),
    ("60 2 * * *", "minute 60 is out of range 0-59"),
    ("0 2 0 * *", "day-of-month 0 is out of range 1-31"),
    ("0 2 * 13 *", "month 13 is out of range 1-12"),
    ("0 2 * * 8", "day-of-week 8 is out of range 0-7"),
    ("0 2 * * sunday", "day-of-week 'sunday' is not a number or a name (SUN, MON, TUE, WED, THU, FRI, SAT)"),
    ("5-1 * * * *", "minute range 5-1 is backwards"),
    ("*/0 * * * *", "minute step '0' must be a whole number of 1 or more"),
    ("a * * * *", "minute 'a' is not a number"),
])
def test_cron(expr, problem):
    assert cron_problem(expr) == problem
