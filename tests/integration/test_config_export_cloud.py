# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config action=export of EKS and GKE clusters, run by ansible-playbook against moto (server mode, behind the counting
proxy of test_cluster_eks.py) and the discovery-validated GKE fake.

The clusters are made with adhar.platform.cluster, then exported. Neither moto nor the fake runs a Kubernetes API
server: the export must give the cluster's shape from the cloud's description, say that the core services could not be
read and why, write nothing to the cloud, and produce a config that action=validate accepts.
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

import gcp_fake
import moto_server
from conftest import scratch_runner
from moto_server import REGION

boto3 = pytest.importorskip("boto3")
pytest.importorskip("googleapiclient")

CORE = ["cilium", "nginx", "postgresql", "redis", "minio", "argocd", "gitea"]
PROJECT = "demo-project"
TOKEN = "ya29.fake-access-token"
GCP_VARS = ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER")

moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)
gcp = pytest.fixture(scope="module", name="gcp")(gcp_fake.serve)


@pytest.fixture(autouse=True)
def clean_cloud_env(monkeypatch):
    for var in GCP_VARS + ("AWS_ENDPOINT_URL", "AWS_PROFILE", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_CONTEXT"):
        monkeypatch.delenv(var, raising=False)


proxy = pytest.fixture(scope="module", name="proxy")(moto_server.counting_proxy)


runner = scratch_runner("export-cloud")


def _aws(proxy):
    return {"endpoint_url": proxy.url, "region": REGION, "access_key": "testing", "secret_key": "testing"}


def _check_services_unread(res, endpoint):
    endpoint = endpoint.rstrip("/")
    assert res["services_read"] is False and res["services"] == {}
    assert res["services_error"].startswith("the API server %s did not answer: " % endpoint), res["services_error"]
    assert any(n.startswith("core services: not read from the cluster (the API server %s did not answer" % endpoint)
               for n in res["notes"]), res["notes"]
    (template,) = res["config"]["environmentTemplates"].values()
    assert list(template["coreServices"]) == CORE
    assert all(s == {"values": []} for s in template["coreServices"].values())


def test_export_an_eks_cluster(runner, proxy, tmp_path):
    kw = dict(endpoint_url=proxy.url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    ec2, iam, kms = boto3.client("ec2", **kw), boto3.client("iam", **kw), boto3.client("kms", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.%d.0/24" % i, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},' \
            '"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName="export-cp-%s" % uuid.uuid4().hex[:6], AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    key = kms.create_key(Description="export")["KeyMetadata"]["Arn"]
    name = "export-aws"
    runner.module("adhar.platform.cluster", dict(_aws(proxy), name=name, provider="eks", ha=True, kubernetes_version="1.31",
                                                 wait_timeout=60, eks={
        "role_arn": role, "subnets": subnets, "kms_key_arn": key, "endpoint_private_access": True,
        "endpoint_public_access": True,
        "node_groups": [{"name": "workers", "instance_types": ["m6i.large"], "auto_scale": True, "min_nodes": 2,
                         "max_nodes": 5, "node_role_arn": role},
                        {"name": "system", "instance_types": ["m6i.large"], "auto_scale": False, "desired_nodes": 1,
                         "node_role_arn": role}]}))
    dest = str(tmp_path / "exported-aws.yaml")
    try:
        proxy.reset()
        res = runner.module("adhar.platform.config", dict(_aws(proxy), action="export", provider="eks", cluster=name,
                                                          dest=dest))
        assert proxy.writes() == []
        ops = {op.split(" ")[0] if service != "eks" else op for service, op, dummy in proxy.calls}
        assert "DescribeSubnets" in ops and "GET /clusters/%s" % name in ops and "GET /clusters/%s/node-groups" % name in ops
        c = res["cluster"]
        assert (c["provider"], c["provider_type"], c["region"], c["kubernetes_version"], c["status"]) == \
            ("eks", "aws", REGION, "v1.31", "ACTIVE")
        assert (c["ha"], c["nodes_count"], c["auto_scale"], c["min_nodes"], c["max_nodes"], c["instance_type"]) == \
            (True, 3, True, 3, 6, "m6i.large")
        assert (c["endpoint_public_access"], c["endpoint_private_access"], c["encryption_at_rest"]) == (True, True, True)
        assert c["control_plane_count"] is None and sorted(g["name"] for g in c["node_groups"]) == ["system", "workers"]
        _check_services_unread(res, c["api_endpoint"])
        cfg = res["config"]
        assert cfg["providers"] == {"aws": {"type": "aws", "region": REGION, "primary": True}}
        assert cfg["globalSettings"] == {"enableHAMode": True}
        assert cfg["environmentTemplates"][name]["clusterConfig"] == [
            {"key": "kubeVersion", "value": "v1.31"}, {"key": "workerReplicas", "value": "3"},
            {"key": "autoScale", "value": "true"}, {"key": "minNodes", "value": "3"}, {"key": "maxNodes", "value": "6"},
            {"key": "nodeInstanceType", "value": "m6i.large"}]
        assert cfg["environments"][name]["type"] == "production" and cfg["environments"][name]["ha"] is True
        assert cfg["clusters"] == [{"name": name, "provider": "aws", "region": REGION, "role": "primary", "environment": name,
                                    "nodes": {"count": 3}, "serviceCidr": "172.20.0.0/16"}]
        with open(dest) as f:
            text = f.read()
        assert "# core services NOT read from the cluster" in text and yaml.safe_load(text) == cfg
        valid = runner.module("adhar.platform.config", {"action": "validate", "src": dest})
        assert valid["valid"] is True and valid["summary"]["clusters"] == [name]
        # unchanged on a second export; still no write
        proxy.reset()
        again = runner.module("adhar.platform.config", dict(_aws(proxy), action="export", provider="eks", cluster=name,
                                                            dest=dest))
        assert again["changed"] is False and proxy.writes() == []
        # the connection options may come from module_defaults of the aws action group
        results = runner.play("""\
            - name: export through the aws group
              adhar.platform.config: {action: export, provider: eks, cluster: %s}
              module_defaults:
                group/adhar.platform.aws: %s
            """ % (name, json.dumps(_aws(proxy))), expect_rc=0)
        assert results[-1]["status"] == "ok" and results[-1]["result"]["cluster"]["nodes_count"] == 3
        # a cluster that does not exist: one error, no write
        proxy.reset()
        missing = runner.module("adhar.platform.config", dict(_aws(proxy), action="export", provider="eks", cluster="nope"),
                                expect_fail=True)
        assert missing["msg"] == "cluster: there is no EKS cluster 'nope' in us-east-1" and proxy.writes() == []
    finally:
        runner.module("adhar.platform.cluster", dict(_aws(proxy), name=name, provider="eks", state="absent", wait_timeout=60))


def _gcp(gcp):
    return {"project": PROJECT, "access_token": TOKEN, "gcp_endpoint_url": gcp.url}


def test_export_gke_clusters(runner, gcp, tmp_path):
    regional, zonal = "export-gcp", "export-zonal"
    runner.module("adhar.platform.cluster", dict(_gcp(gcp), name=regional, provider="gke", ha=True, wait_timeout=60, gke={
        "location": "europe-west1", "node_pools": [
            {"name": "workers", "machine_type": "e2-standard-8", "auto_scale": True, "min_nodes": 1, "max_nodes": 3},
            {"name": "system", "machine_type": "e2-standard-8", "auto_scale": False, "node_count": 1}]}))
    runner.module("adhar.platform.cluster", dict(_gcp(gcp), name=zonal, provider="gke", wait_timeout=60, gke={
        "location": "europe-west1-b", "node_pools": [{"name": "pool", "machine_type": "e2-standard-2", "node_count": 2}]}))
    dest = str(tmp_path / "exported-gcp.yaml")
    try:
        gcp.reset()
        res = runner.module("adhar.platform.config", dict(_gcp(gcp), action="export", provider="gke", cluster=regional,
                                                          location="europe-west1", dest=dest))
        assert [(x["verb"], x["method"]) for x in gcp.calls()] == [("GET", "container.projects.locations.clusters.get")]
        stored = gcp.state()["clusters"]["projects/%s/locations/europe-west1/clusters/%s" % (PROJECT, regional)]
        c = res["cluster"]
        assert (c["provider"], c["provider_type"], c["region"], c["kubernetes_version"], c["status"], c["ha"]) == \
            ("gke", "gcp", "europe-west1", "v1.32.2", "RUNNING", True)
        # per-zone counts times three zones: workers 1..3, system fixed at 1
        assert (c["auto_scale"], c["min_nodes"], c["max_nodes"], c["instance_type"]) == (True, 3 + 3, 9 + 3, "e2-standard-8")
        assert c["nodes_count"] == stored["currentNodeCount"]
        assert c["api_endpoint"] == "https://" + stored["endpoint"]
        _check_services_unread(res, c["api_endpoint"])
        cfg = res["config"]
        assert cfg["providers"] == {"gcp": {"type": "gcp", "region": "europe-west1", "primary": True,
                                            "config": {"project_id": PROJECT}}}
        assert cfg["environments"][regional]["ha"] is True and cfg["environments"][regional]["type"] == "non-production"
        assert runner.module("adhar.platform.config", {"action": "validate", "src": dest})["valid"] is True

        gcp.reset()
        res = runner.module("adhar.platform.config", dict(_gcp(gcp), action="export", provider="gke", cluster=zonal,
                                                          location="europe-west1-b"))
        assert gcp.writes() == []
        c = res["cluster"]
        assert (c["ha"], c["region"], c["auto_scale"], c["min_nodes"], c["max_nodes"]) == (False, "europe-west1", False, 2, 2)
        assert res["config"]["providers"]["gcp"]["config"] == {"project_id": PROJECT, "zone": "europe-west1-b"}
        assert res["config"]["globalSettings"] == {"enableHAMode": False}

        # bad input: one error naming the option, no call at all
        gcp.reset()
        for args, message in (({"cluster": regional}, "location is required with provider=gke"),
                              ({"cluster": regional, "location": "europe"}, "location: 'europe' is neither a region"),
                              ({"cluster": "Bad", "location": "europe-west1"}, "cluster: 'Bad' is not a valid GKE cluster")):
            bad = runner.module("adhar.platform.config", dict(_gcp(gcp), action="export", provider="gke", **args),
                                expect_fail=True)
            assert message in bad["msg"] and bad["option"] in ("location", "cluster")
        assert gcp.calls() == []
        missing = runner.module("adhar.platform.config", dict(_gcp(gcp), action="export", provider="gke", cluster="nope",
                                                              location="europe-west1"), expect_fail=True)
        assert "there is no GKE cluster 'nope' in project %s, location europe-west1" % PROJECT in missing["msg"]
        assert gcp.writes() == [] and gcp.rejected() == []
    finally:
        runner.module("adhar.platform.cluster", dict(_gcp(gcp), name=regional, provider="gke", state="absent",
                                                     wait_timeout=60, gke={"location": "europe-west1"}))
        runner.module("adhar.platform.cluster", dict(_gcp(gcp), name=zonal, provider="gke", state="absent",
                                                     wait_timeout=60, gke={"location": "europe-west1-b"}))
    assert gcp.state()["clusters"] == {}
