# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.cluster with provider gke, run by ansible-playbook against the fake GKE server.

The fake (gcp_fake.py, its own process on 127.0.0.1) validates every request
against Google's discovery document for container v1 (and compute v1 for the
instance group reads); a request with an unknown field or a wrong type is
answered 400 and recorded, and every test ends by asserting that nothing was
rejected.  "Zero write calls" is counted from the fake's request log.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

import gcp_fake
from conftest import Runner

pytest.importorskip("googleapiclient")

PROJECT = "demo-project"
TOKEN = "ya29.fake-access-token"
GCP_VARS = ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER")

gcp = pytest.fixture(scope="module", name="gcp")(gcp_fake.serve)

CREATE = ("POST", "container.projects.locations.clusters.create")
UPDATE = ("PUT", "container.projects.locations.clusters.update")
DELETE = ("DELETE", "container.projects.locations.clusters.delete")
LABELS = ("POST", "container.projects.locations.clusters.setResourceLabels")
POOL_CREATE = ("POST", "container.projects.locations.clusters.nodePools.create")
AUTOSCALING = ("POST", "container.projects.locations.clusters.nodePools.setAutoscaling")
SIZE = ("POST", "container.projects.locations.clusters.nodePools.setSize")
POOL_UPDATE = ("PUT", "container.projects.locations.clusters.nodePools.update")


@pytest.fixture(autouse=True)
def clean_gcp_env(monkeypatch):
    for var in GCP_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def runner(collections_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("gke-plays")
    return Runner(collections_path, str(d), str(d))


@pytest.fixture(autouse=True)
def nothing_rejected(gcp):
    yield
    assert gcp.rejected() == [], "the fake rejected requests: %s" % json.dumps(gcp.rejected(), indent=1)


def task(gcp, name, gke=None, **extra):
    args = {"name": name, "provider": "gke", "project": PROJECT, "access_token": TOKEN,
            "gcp_endpoint_url": gcp.url, "wait_timeout": 60}
    if gke is not None:
        args["gke"] = gke
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def run(runner, gcp, args, check=False, diff=False, expect_fail=False):
    gcp.reset()
    result = runner.module("adhar.platform.cluster", args, check=check, diff=diff, expect_fail=expect_fail)
    return result, gcp.writes()


def spec(**over):
    s = {"location": "europe-west1", "release_channel": "regular", "workload_identity": True,
         "labels": {"team": "platform", "env": "test"},
         "node_pools": [{"name": "workers", "machine_type": "e2-standard-8", "auto_scale": True,
                         "min_nodes": 1, "max_nodes": 3}]}
    s.update(over)
    return s


def test_bad_input_fails_before_any_call(runner, gcp):
    pool = {"name": "workers", "auto_scale": True, "min_nodes": 1, "max_nodes": 3}
    cases = [
        ("zonal location with ha", dict(ha=True, gke=spec(location="europe-west1-b")),
         "gke.location: ha needs a regional cluster (control plane and nodes in three zones), but europe-west1-b is a "
         "zone; use the region europe-west1"),
        ("region without ha", dict(ha=False, gke=spec()), "gke.location: europe-west1 is a region"),
        ("min > max", dict(gke=spec(node_pools=[dict(pool, min_nodes=4, max_nodes=2)])),
         "gke.node_pools[0].min_nodes: 4 is greater than max_nodes 2"),
        ("unknown release channel", dict(gke=spec(release_channel="fast")),
         "gke.release_channel: 'fast' is not a GKE release channel (rapid, regular, stable, extended, unspecified)"),
        ("bad version string", dict(kubernetes_version="1.31.x", gke=spec()),
         "kubernetes_version: '1.31.x' is not a GKE version"),
        ("missing project", dict(project=None, gke=spec()),
         "project: no Google Cloud project given; set the project option, CLOUDSDK_CORE_PROJECT or GOOGLE_CLOUD_PROJECT"),
        ("missing location", dict(gke={"node_pools": [pool]}), "gke.location is required"),
        ("bad label", dict(gke=spec(labels={"Team": "x"})), "gke.labels: Team=x is not a valid label"),
    ]
    for label, extra, message in cases:
        gke = extra.pop("gke")
        result, dummy = run(runner, gcp, task(gcp, "bad-input", gke, **extra), expect_fail=True)
        assert message in result["msg"], (label, result["msg"])
        assert result.get("option"), (label, result)
        assert gcp.calls() == [], (label, gcp.calls())
    assert gcp.state()["clusters"] == {}


def _check_kubeconfig(config, name, cluster, token=TOKEN):
    ctx = "adhar-" + name
    assert config["current-context"] == ctx
    entry = config["clusters"][0]["cluster"]
    assert entry["server"] == "https://" + cluster["endpoint"]
    assert entry["certificate-authority-data"] == cluster["masterAuth"]["clusterCaCertificate"]
    assert config["users"][0]["user"] == {"token": token}


def test_lifecycle(runner, gcp, tmp_path):
    name = "prod-gcp"
    key = "projects/%s/locations/europe-west1/clusters/%s" % (PROJECT, name)
    kubeconfig_out = str(tmp_path / "kube" / "config")

    # check mode: what would be created, no write
    result, writes = run(runner, gcp, task(gcp, name, spec(), ha=True), check=True, diff=True)
    assert result["changed"] is True and writes == []
    assert result["actions"] == ["would create the GKE cluster"]
    assert result["diff"]["before"] == {"exists": False}
    assert result["diff"]["after"]["workload_pool"] == PROJECT + ".svc.id.goog"
    assert gcp.state()["clusters"] == {}

    # create a regional cluster with one autoscaled pool
    result, writes = run(runner, gcp, task(gcp, name, spec(), ha=True, kubeconfig_out=kubeconfig_out))
    assert result["changed"] is True and writes == [CREATE]
    c = result["cluster"]
    assert (c["status"], c["location"], c["release_channel"], c["version"]) == \
        ("RUNNING", "europe-west1", "REGULAR", "1.32.2-gke.1000")
    assert c["locations"] == ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
    assert c["workload_pool"] == PROJECT + ".svc.id.goog" and c["labels"] == {"team": "platform", "env": "test"}
    assert [(p["name"], p["machine_type"], p["auto_scale"], p["min_nodes"], p["max_nodes"]) for p in c["node_pools"]] \
        == [("workers", "e2-standard-8", True, 1, 3)]
    stored = gcp.state()["clusters"][key]
    assert stored["nodePools"][0]["config"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    # a given access_token is a no_log value: Ansible masks it in the result; the 0600 file has it
    _check_kubeconfig(result["kubeconfig"], name, stored, token="VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")
    assert stat.S_IMODE(os.stat(kubeconfig_out).st_mode) == 0o600
    with open(kubeconfig_out) as f:
        _check_kubeconfig(yaml.safe_load(f), name, stored)

    # unchanged re-run: reads only (one cluster GET), nothing written
    result, writes = run(runner, gcp, task(gcp, name, spec(), ha=True, kubeconfig_out=kubeconfig_out), diff=True)
    assert result["changed"] is False and writes == []
    assert [(x["verb"], x["method"]) for x in gcp.calls()] == [("GET", "container.projects.locations.clusters.get")]
    assert result["diff"]["before"] == result["diff"]["after"]

    # autoscaling change (the adhar config's minNodes/maxNodes)
    pools = [dict(spec()["node_pools"][0], min_nodes=2, max_nodes=6)]
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools), ha=True), check=True)
    assert result["changed"] is True and writes == []
    assert result["actions"] == ["would autoscale node pool workers between 2 and 6 nodes per zone"]
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools), ha=True))
    assert result["changed"] is True and writes == [AUTOSCALING]
    scaled = gcp.state()["clusters"][key]["nodePools"][0]["autoscaling"]
    assert scaled == {"enabled": True, "minNodeCount": 2, "maxNodeCount": 6}

    # a fixed-size pool, then a resize read back from its instance groups
    fixed = {"name": "system", "machine_type": "e2-standard-2", "auto_scale": False, "node_count": 1}
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools + [fixed]), ha=True))
    assert writes == [POOL_CREATE]
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools + [fixed]), ha=True))
    assert result["changed"] is False and writes == []
    reads = [x["method"] for x in gcp.calls()]
    assert reads.count("compute.instanceGroupManagers.get") == 3  # one per zone of the regional pool
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools + [dict(fixed, node_count=2)]), ha=True))
    assert result["changed"] is True and writes == [SIZE]
    assert "resized node pool system to 2 nodes per zone" in result["actions"]
    assert gcp.state()["clusters"][key]["currentNodeCount"] == 3 * 1 + 3 * 2
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools + [dict(fixed, node_count=2)]), ha=True))
    assert result["changed"] is False and writes == []

    # master version: one minor step with clusters.update; a skip or a downgrade is refused before any write
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools), kubernetes_version="1.30"), expect_fail=True)
    assert "kubernetes_version: cannot downgrade the master from 1.32.2-gke.1000 to 1.30" in result["msg"] and writes == []
    # with upgrade_nodes false the master moves alone and the pools stay behind it
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools, upgrade_nodes=False), kubernetes_version="1.33"))
    assert result["changed"] is True and writes == [UPDATE]
    assert result["cluster"]["version"] == "1.33.1-gke.1000"
    assert result["actions"][0] == "updated the master version to 1.33"
    assert [p["version"] for p in result["cluster"]["node_pools"]] == ["1.32.2-gke.1000"] * 2
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools, upgrade_nodes=False), kubernetes_version="1.33"))
    assert result["changed"] is False and writes == []

    # node pools behind the master: check mode and diff say which, then one nodePools.update per pool
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools), kubernetes_version="1.33"),
                         check=True, diff=True)
    assert result["changed"] is True and writes == []
    assert result["actions"] == ["would update node pool %s from Kubernetes 1.32.2-gke.1000 to the master's version (1.33)"
                                 % p for p in ("system", "workers")]
    assert result["diff"]["before"]["node_pools"]["system"]["version"] == "1.32.2-gke.1000"
    assert result["diff"]["after"]["node_pools"]["system"]["version"] == "1.33"
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools), kubernetes_version="1.33"))
    assert result["changed"] is True and writes == [POOL_UPDATE, POOL_UPDATE]
    assert [a.split(" in ")[0] for a in result["actions"]] == [
        "updated node pool %s from Kubernetes 1.32.2-gke.1000 to the master's version (1.33)" % p for p in ("system", "workers")]
    assert [p["version"] for p in result["cluster"]["node_pools"]] == ["1.33.1-gke.1000"] * 2
    stored = gcp.state()["clusters"][key]
    assert [p["config"]["imageType"] for p in stored["nodePools"]] == ["COS_CONTAINERD"] * 2
    assert stored["currentNodeVersion"] == "1.33.1-gke.1000"
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools), kubernetes_version="1.33"))
    assert result["changed"] is False and writes == []

    # labels with the fingerprint; Workload Identity off; release channel
    relabelled = spec(node_pools=pools, labels={"team": "data"}, workload_identity=False, release_channel="stable")
    result, writes = run(runner, gcp, task(gcp, name, relabelled), diff=True)
    assert writes == [UPDATE, UPDATE, LABELS]
    assert result["diff"]["after"]["labels"] == {"team": "data"} and result["cluster"]["labels"] == {"team": "data"}
    assert result["cluster"]["workload_pool"] is None and result["cluster"]["release_channel"] == "STABLE"
    result, writes = run(runner, gcp, task(gcp, name, relabelled))
    assert result["changed"] is False and writes == []

    # create-only settings are refused, not silently ignored
    result, writes = run(runner, gcp, task(gcp, name, spec(node_pools=pools, network="other")), expect_fail=True)
    assert "gke.network: cannot change on an existing cluster" in result["msg"] and writes == []

    # delete (check mode first), then the context leaves the kubeconfig; deleting again changes nothing
    result, writes = run(runner, gcp, task(gcp, name, {"location": "europe-west1"}, state="absent"), check=True)
    assert result["changed"] is True and writes == []
    result, writes = run(runner, gcp, task(gcp, name, {"location": "europe-west1"}, state="absent",
                                           kubeconfig_out=kubeconfig_out))
    assert result["changed"] is True and writes == [DELETE]
    assert key not in gcp.state()["clusters"] and gcp.state()["instance_group_managers"] == {}
    assert not os.path.exists(kubeconfig_out)  # it held only this cluster
    result, writes = run(runner, gcp, task(gcp, name, {"location": "europe-west1"}, state="absent"))
    assert result["changed"] is False and writes == []


def test_zonal_cluster_with_service_account_credentials(runner, gcp, tmp_path, monkeypatch):
    """google-auth signs a JWT with the service-account key and trades it at the fake's token endpoint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sa = {"type": "service_account", "project_id": PROJECT, "private_key_id": "k1", "private_key": pem,
          "client_email": "adhar@%s.iam.gserviceaccount.com" % PROJECT, "client_id": "1",
          "token_uri": gcp.url + "token"}
    sa_file = tmp_path / "sa.json"
    sa_file.write_text(json.dumps(sa))
    name = "edge-gcp"
    gke = {"location": "europe-west1-b", "private_endpoint": True, "master_ipv4_cidr": "172.16.0.32/28",
           "node_pools": [{"name": "pool", "node_count": 2}]}
    # project from the key file, credentials from GOOGLE_APPLICATION_CREDENTIALS
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa_file))
    args = task(gcp, name, gke, ha=False, project=None, access_token=None)
    result, writes = run(runner, gcp, args)
    assert writes == [CREATE]
    calls = gcp.calls()
    assert calls[0]["method"] == "oauth2.token" and calls[0]["claims"]["iss"] == sa["client_email"]
    token = result["kubeconfig"]["users"][0]["user"]["token"]
    assert token.startswith("fake-sa-token-") and result["token_expiration"]
    c = result["cluster"]
    assert c["locations"] == ["europe-west1-b"] and c["private_endpoint"] is True
    assert c["api_endpoint"] == "https://" + gcp_fake.PRIVATE_ENDPOINT
    assert result["kubeconfig"]["clusters"][0]["cluster"]["server"] == "https://" + gcp_fake.PRIVATE_ENDPOINT
    assert c["node_pools"][0]["initial_node_count"] == 2 and c["nodes"]["count"] == 2
    # the same key given inline
    result, writes = run(runner, gcp, task(gcp, name, gke, ha=False, project=None, access_token=None,
                                           service_account_contents=json.dumps(sa)))
    assert result["changed"] is False and writes == []
    assert pem not in json.dumps(result)
    result, writes = run(runner, gcp, task(gcp, name, {"location": "europe-west1-b"}, state="absent",
                                           project=None, access_token=None))
    assert writes == [DELETE]
