# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config action=export: values flattening, config assembly, and the module on a saved local cluster with a stand-in helm."""

from __future__ import annotations

import datetime
import json
import os
import stat
import textwrap

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.module_utils._config import export as E
from ansible_collections.adhar.platform.plugins.module_utils._config import resolve as R
from ansible_collections.adhar.platform.plugins.module_utils._cluster.describe import _fresh_identity_leases, provider_facts
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import REPO, check
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.test_module import run  # noqa: F401 pylint: disable=unused-import

NESTED = {
    "operator": {"replicas": 3, "enabled": True, "image": {"tag": "v1.2"}},
    "annotations": {"prometheus.io/scrape": "yes", "a[b]": "c", "back\\slash": "x"},
    "args": ["--one", {"name": "two"}],
    "nothing": None,
    "negative": -5,
    "version": "007",
    "ratio": 2.0,
}


def test_flatten_gives_set_keys_and_strings():
    pairs, skipped = E.flatten_values(NESTED)
    assert skipped == []
    assert pairs == [
        {"key": "operator.replicas", "value": "3"},
        {"key": "operator.enabled", "value": "true"},
        {"key": "operator.image.tag", "value": "v1.2"},
        {"key": "annotations.prometheus\\.io/scrape", "value": "yes"},
        {"key": "annotations.a\\[b]", "value": "c"},
        {"key": "annotations.back\\\\slash", "value": "x"},
        {"key": "args[0]", "value": "--one"},
        {"key": "args[1].name", "value": "two"},
        {"key": "nothing", "value": "null"},
        {"key": "negative", "value": "-5"},
        {"key": "version", "value": "007"},
        {"key": "ratio", "value": "2"},
    ]


def test_unflatten_gives_back_the_values():
    pairs, dummy = E.flatten_values(NESTED)
    expected = dict(NESTED, ratio=2)
    assert E.unflatten_values(pairs) == expected


@pytest.mark.parametrize("values, key", [
    ({"replicas": "3"}, "replicas"),          # a string that --set would type as a number
    ({"flag": "true"}, "flag"),
    ({"ratio": 1.5}, "ratio"),                # a float --set gives back as a string
    ({"extra": {}}, "extra"),
    ({"tolerations": []}, "tolerations"),
])
def test_flatten_leaves_out_what_set_cannot_give_back(values, key):
    pairs, skipped = E.flatten_values(dict(values, keep="x"))
    assert pairs == [{"key": "keep", "value": "x"}]
    assert [k for k, dummy in skipped] == [key]


def test_service_values_leave_out_credentials():
    pairs, notes = E.service_values({"auth": {"username": "gitea", "password": "s3cret"},
                                     "gitea": {"config": {"database": {"PASSWD": "x", "HOST": "pg"}}}})
    assert pairs == [{"key": "auth.username", "value": "gitea"}, {"key": "gitea.config.database.HOST", "value": "pg"}]
    assert notes == ["auth.password: left out (a credential; set it again on the new cluster)",
                     "gitea.config.database.PASSWD: left out (a credential; set it again on the new cluster)"]
    assert all("s3cret" not in n for n in notes)


def test_release_table_matches_the_core_services_role():
    with open(os.path.join(REPO, "roles", "core_services", "defaults", "main.yml")) as f:
        catalog = yaml.safe_load(f)["core_services_catalog"]
    assert {svc: (c["release"], c["namespace"]) for svc, c in catalog.items()} == E.CORE_RELEASES


LOCAL_FACTS = provider_facts(
    name="prod", provider="local", provider_type="kind", region="local", kubernetes_version="v1.36.3",
    control_plane_count=3, ha=True, nodes_count=4, pod_cidr="10.250.0.0/16", service_cidr="10.98.0.0/16",
    cluster_id=7, encryption_at_rest=True, kubeconfig=None, context=None, connection={}, notes=[],
)


def test_build_config_resolves_to_the_cluster():
    services = {"cilium": [{"key": "operator.replicas", "value": "3"}], "argocd": []}
    cfg = E.build_config(LOCAL_FACTS, services)
    report = check(cfg)
    assert report.errors == []
    (target,) = R.targets(cfg)
    assert (target["name"], target["providerType"], target["localCluster"], target["role"]) == ("prod", "kind", "prod", "primary")
    assert (target["controlPlane"], target["nodes"], target["ha"]) == ({"count": 3}, {"count": 4}, True)
    assert (target["kubernetesVersion"], target["podCidr"], target["serviceCidr"], target["clusterId"]) == \
        ("v1.36.3", "10.250.0.0/16", "10.98.0.0/16", 7)
    assert target["type"] == "production"
    assert target["coreServices"]["cilium"]["values"] == [{"key": "operator.replicas", "value": "3"}]
    assert target["coreServices"]["argocd"]["configured"] is True
    template = cfg["environmentTemplates"]["prod"]
    assert template["clusterConfig"] == [{"key": "kubeVersion", "value": "v1.36.3"}, {"key": "workerReplicas", "value": "4"}]


def test_build_config_of_an_existing_cluster_keeps_its_connection_and_leaves_out_the_unknown():
    facts = dict(LOCAL_FACTS, provider="existing", provider_type="custom", region="existing", control_plane_count=None,
                 ha=None, pod_cidr=None, service_cidr=None, cluster_id=None, encryption_at_rest=None,
                 kubeconfig="/tmp/kc", context="ctx")
    cfg = E.build_config(facts, {"nginx": [{"key": "controller.replicaCount", "value": "1"}]})
    assert check(cfg).errors == []
    (cluster,) = cfg["clusters"]
    assert cluster == {"name": "prod", "provider": "existing", "region": "existing", "role": "primary", "environment": "prod",
                       "nodes": {"count": 4}, "kubeconfig": "/tmp/kc", "context": "ctx"}
    assert cfg["providers"] == {"existing": {"type": "custom", "region": "existing", "primary": True}}
    (target,) = R.targets(cfg)
    assert target["kubeconfig"] == "/tmp/kc" and target["localCluster"] is None and target["type"] == "non-production"


def test_build_config_of_an_eks_cluster():
    facts = provider_facts(name="prod-aws", provider="eks", provider_type="aws", region="us-east-1", kubernetes_version="v1.31",
                           ha=True, nodes_count=2, service_cidr="172.20.0.0/16", encryption_at_rest=True, auto_scale=True,
                           min_nodes=2, max_nodes=5, instance_type="m6i.large", endpoint_public_access=True,
                           endpoint_private_access=False)
    cfg = E.build_config(facts, {svc: [] for svc in E.CORE_RELEASES})
    assert check(cfg).errors == []
    assert cfg["providers"] == {"aws": {"type": "aws", "region": "us-east-1", "primary": True}}
    assert cfg["environmentTemplates"]["prod-aws"]["clusterConfig"] == [
        {"key": "kubeVersion", "value": "v1.31"}, {"key": "workerReplicas", "value": "2"}, {"key": "autoScale", "value": "true"},
        {"key": "minNodes", "value": "2"}, {"key": "maxNodes", "value": "5"}, {"key": "nodeInstanceType", "value": "m6i.large"}]
    assert cfg["environments"]["prod-aws"]["clusterConfig"] == [
        {"key": "kubeVersion", "value": "v1.31"}, {"key": "endpointPublicAccess", "value": "true"},
        {"key": "endpointPrivateAccess", "value": "false"}]
    (target,) = R.targets(cfg)
    assert (target["providerType"], target["region"], target["ha"], target["nodes"], target["localCluster"]) == \
        ("aws", "us-east-1", True, {"count": 2}, None)
    assert target["type"] == "production" and target["instanceType"] == "m6i.large"
    assert "controlPlane" not in cfg["clusters"][0]


def test_build_config_of_a_zonal_gke_cluster_keeps_project_and_zone():
    facts = provider_facts(name="prod-gcp", provider="gke", provider_type="gcp", region="europe-west1",
                           kubernetes_version="v1.32.4", ha=False, nodes_count=3, auto_scale=False, min_nodes=3,
                           max_nodes=3, provider_config={"project_id": "demo", "zone": "europe-west1-b"})
    cfg = E.build_config(facts, {"cilium": []})
    assert check(cfg).errors == []
    assert cfg["providers"]["gcp"] == {"type": "gcp", "region": "europe-west1", "primary": True,
                                       "config": {"project_id": "demo", "zone": "europe-west1-b"}}
    (target,) = R.targets(cfg)
    assert target["ha"] is False and target["providerConfig"] == {"project_id": "demo", "zone": "europe-west1-b"}


def test_provider_facts_fill_every_key_and_refuse_unknown_ones():
    facts = provider_facts(name="x", provider="eks")
    assert facts["control_plane_count"] is None and facts["notes"] == [] and set(facts) == set(LOCAL_FACTS)
    with pytest.raises(E.AdharError, match="unknown keys nodes"):
        provider_facts(name="x", nodes=3)


def test_only_fresh_api_server_leases_count():
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    leases = [{"spec": {"renewTime": "2026-01-01T11:59:50.000000Z", "leaseDurationSeconds": 3600}},
              {"spec": {"renewTime": "2026-01-01T10:00:00.000000Z", "leaseDurationSeconds": 3600}},   # stopped an hour ago
              {"spec": {"leaseDurationSeconds": 3600}}, {}]
    assert _fresh_identity_leases(leases, now) == 1


def test_check_valid_refuses_an_invalid_config():
    cfg = E.build_config(LOCAL_FACTS, {"cilium": []})
    cfg["clusters"][0]["controlPlane"]["count"] = 2
    with pytest.raises(E.AdharError, match="does not pass validation: clusters\\[0\\].controlPlane.count"):
        E.check_valid(cfg, None)


# ---------------------------------------------------------------- the module


def _local_cluster(root, name="prod", phase="ready"):
    os.makedirs(os.path.join(root, name, "config"))
    spec = {"name": name, "control_plane_count": 1, "nodes_count": 2, "kubernetes_version": "v1.36.3",
            "pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/16", "cluster_id": 3, "encryption_at_rest": None}
    with open(os.path.join(root, name, "cluster.json"), "w") as f:
        json.dump({"format": 1, "name": name, "phase": phase, "spec": spec, "ports": {}}, f)


def _fake_helm(bindir, releases, log):
    """A helm stand-in: `history` and `get values` answer from ``releases`` ({"ns/name": values}); every call is logged."""
    os.makedirs(bindir, exist_ok=True)
    path = os.path.join(bindir, "helm")
    with open(path, "w") as f:
        f.write(textwrap.dedent("""\
            #!/usr/bin/env python3
            import json, sys
            releases = json.loads(%r)
            args = sys.argv[1:]
            with open(%r, "a") as log:
                log.write(" ".join(args) + "\\n")
            ns = args[args.index("--namespace") + 1]
            if args[0] == "history":
                key = ns + "/" + args[1]
                if key not in releases:
                    sys.stderr.write("Error: release: not found\\n")
                    sys.exit(1)
                print(json.dumps([{"revision": 1, "status": "deployed", "chart": args[1] + "-0.1.0"}]))
            elif args[:2] == ["get", "values"]:
                print(json.dumps(releases[ns + "/" + args[2]]))
            else:
                sys.exit(2)
        """) % (json.dumps(releases), log))
    os.chmod(path, 0o755)


@pytest.fixture
def setup(tmp_path):
    root = str(tmp_path / "state")
    _local_cluster(root)
    log = str(tmp_path / "helm.log")
    _fake_helm(str(tmp_path / "bin"), {"kube-system/cilium": {"operator": {"replicas": 1}},
                                       "adhar-data/postgresql": {"architecture": "standalone",
                                                                 "auth": {"password": "pw-123", "database": "gitea"}}}, log)
    return {"cluster": "prod", "state_dir": root, "bin_dir": str(tmp_path / "bin"), "log": log, "tmp": tmp_path}


def _args(setup, **more):
    return dict({k: setup[k] for k in ("cluster", "state_dir", "bin_dir")}, action="export", **more)


def test_module_exports_writes_once_and_validates(run, setup):
    dest = str(setup["tmp"] / "exported.yaml")
    rc, res = run(**_args(setup, dest=dest))
    assert rc == 0 and res["changed"] is True, res
    assert res["config"]["environmentTemplates"]["prod"]["coreServices"] == {
        "cilium": {"values": [{"key": "operator.replicas", "value": "1"}]},
        "postgresql": {"values": [{"key": "architecture", "value": "standalone"}, {"key": "auth.database", "value": "gitea"}]},
    }
    assert res["services"]["postgresql"] == {"release": "postgresql", "namespace": "adhar-data", "chart": "postgresql-0.1.0",
                                             "status": "deployed", "revision": 1, "values": 2}
    assert "postgresql auth.password: left out (a credential; set it again on the new cluster)" in res["notes"]
    assert "pw-123" not in json.dumps(res)
    assert res["cluster"]["control_plane_count"] == 1 and res["cluster"]["nodes_count"] == 2
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    with open(dest) as f:
        assert yaml.safe_load(f) == res["config"]
    with open(setup["log"]) as f:
        calls = f.read().splitlines()
    assert all(c.split()[0] == "history" or "--all" not in c for c in calls)
    # what was written passes validate; a second export changes nothing
    rc, res2 = run(action="validate", src=dest)
    assert rc == 0 and res2["valid"] is True
    rc, res3 = run(**_args(setup, dest=dest))
    assert rc == 0 and res3["changed"] is False


def test_module_check_and_diff(run, setup):
    dest = str(setup["tmp"] / "exported.yaml")
    rc, res = run(**_args(setup, dest=dest, _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and res["changed"] is True and not os.path.exists(dest)
    assert res["diff"]["before"] == "" and "operator.replicas" in res["diff"]["after"]


@pytest.mark.parametrize("args, message", [
    ({"state_dir": "/nonexistent-root"}, "no local cluster named 'prod' under /nonexistent-root"),
    ({"cluster": "other"}, "no local cluster named 'other'"),
    ({"provider": "gke"}, "location is required with provider=gke: the cluster's region (regional cluster) or zone"),
    ({"provider": "gke", "location": "europe", "project": "demo-project", "access_token": "ya29.unit-test-token"},
     "location: 'europe' is neither a region (europe-west1) nor a zone (europe-west1-b)"),
    ({"provider": "gke", "location": "europe-west1", "cluster": "Prod"}, "cluster: 'Prod' is not a valid GKE cluster name"),
    ({"provider": "eks", "cluster": "bad name!"}, "cluster: 'bad name!' is not a valid EKS cluster name"),
    ({"src": "x.yaml"}, "src: not used with action=export"),
])
def test_module_bad_input_fails_clearly(run, setup, args, message):
    rc, res = run(**dict(_args(setup), **args))
    assert rc == 1 and message in res["msg"], res
    assert not os.path.exists(setup["log"]) or args.get("provider")


def test_module_refuses_a_cluster_without_core_services(run, setup):
    _fake_helm(setup["bin_dir"], {}, setup["log"])
    rc, res = run(**_args(setup))
    assert rc == 1 and "has none of the core services" in res["msg"]


def test_module_refuses_a_cluster_being_created(run, setup):
    _local_cluster(setup["state_dir"], "new", phase="creating")
    rc, res = run(**_args(setup, cluster="new"))
    assert rc == 1 and "is not ready (phase creating)" in res["msg"]


def test_other_actions_refuse_export_options_and_still_need_a_source(run, setup):
    rc, res = run(action="validate", cluster="prod", src=os.path.join(REPO, "inventories", "local", "adhar.yml"))
    assert rc == 1 and res["msg"] == "cluster: only used with action=export (got action=validate)"
    rc, res = run(action="validate")
    assert rc == 1 and res["msg"] == "one of src or content is required with action=validate"
    rc, res = run(action="validate", location="europe-west1", src=os.path.join(REPO, "inventories", "local", "adhar.yml"))
    assert rc == 1 and res["msg"] == "location: only used with action=export (got action=validate)"


def test_cloud_connection_prefers_the_kubernetes_options():
    import types
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.describe import cloud_connection

    token = {"apiVersion": "v1", "kind": "Config"}
    given = types.SimpleNamespace(params={"kubeconfig": "/tmp/kc", "context": "prod", "request_timeout": 5})
    assert cloud_connection(given, token) == ({"kubeconfig": "/tmp/kc", "context": "prod", "request_timeout": 5}, "/tmp/kc",
                                              "prod")
    bare = types.SimpleNamespace(params={"kubeconfig": None, "request_timeout": 5, "region": "us-east-1"})
    assert cloud_connection(bare, token) == ({"kubeconfig": token, "request_timeout": 5}, None, None)


def test_api_unreachable_names_the_endpoint_and_the_reason():
    pytest.importorskip("kubernetes")
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.describe import api_unreachable

    # a loopback port nothing listens on: refused at once
    why = api_unreachable({"host": "https://127.0.0.1:1", "validate_certs": False}, timeout=2)
    assert why.startswith("the API server https://127.0.0.1:1 did not answer: "), why
