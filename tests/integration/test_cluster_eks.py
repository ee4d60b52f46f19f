# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.cluster with provider eks, run by ansible-playbook against moto in server mode.

Every AWS request of the module goes through a counting proxy in front of
moto (moto_server.CountingProxy), which records the service and operation of each request; "zero write
calls" below is counted there, not assumed.

moto (5.x) has no UpdateClusterVersion and no DescribeUpdate: the version
update is checked here up to the call (the one write the proxy sees is
UpdateClusterVersion, and the task reports moto's refusal); the polling of an
update in progress is covered by tests/unit/plugins/module_utils/test_eks_provider.py
with botocore's Stubber.  moto's TagResource works on clusters only, so node
group tags are not managed after creation (see docs/eks.md).
"""

from __future__ import annotations

import base64
import os
import stat
import types
import urllib.parse
import uuid

import pytest
import yaml

import moto_server
from conftest import Runner
from moto_server import REGION

boto3 = pytest.importorskip("boto3")

ACCOUNT = "123456789012"
moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)

proxy = pytest.fixture(scope="module", name="proxy")(moto_server.counting_proxy)


@pytest.fixture(scope="module")
def infra(moto_endpoint):
    """A VPC with subnets in two Availability Zones, the IAM roles and a KMS key, made directly in moto."""
    kw = dict(endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    ec2, iam, kms = boto3.client("ec2", **kw), boto3.client("iam", **kw), boto3.client("kms", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.%d.0/24" % i, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1a", "us-east-1b"))]
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},' \
            '"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName="eks-cp-%s" % uuid.uuid4().hex[:6], AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    node_role = iam.create_role(RoleName="eks-nodes-%s" % uuid.uuid4().hex[:6],
                                AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    key = kms.create_key(Description="eks secrets")["KeyMetadata"]["Arn"]
    eks = boto3.client("eks", **kw)
    return types.SimpleNamespace(vpc=vpc, subnets=subnets, one_az=subnets[:2], role=role, node_role=node_role,
                                 key=key, eks=eks)


@pytest.fixture(scope="module")
def runner(collections_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("eks-plays")
    return Runner(collections_path, str(d), str(d))


def task(proxy, name, eks=None, **extra):
    args = {"name": name, "provider": "eks", "endpoint_url": proxy.url, "region": REGION,
            "access_key": "testing", "secret_key": "testing", "wait_timeout": 60}
    if eks is not None:
        args["eks"] = eks
    args.update(extra)
    return args


def cluster_spec(infra, **over):
    spec = {
        "role_arn": infra.role,
        "subnets": [infra.subnets[0], infra.subnets[2]],
        "kms_key_arn": infra.key,
        "endpoint_private_access": True,
        "tags": {"team": "platform", "env": "test"},
        "node_groups": [{"name": "workers", "instance_types": ["m6i.large"], "auto_scale": True,
                         "min_nodes": 2, "max_nodes": 5, "node_role_arn": infra.node_role}],
    }
    spec.update(over)
    return spec


def run(runner, proxy, args, check=False, diff=False, expect_fail=False):
    proxy.reset()
    result = runner.module("adhar.platform.cluster", args, check=check, diff=diff, expect_fail=expect_fail)
    return result, proxy.writes()


def test_bad_input_fails_before_any_write(runner, proxy, infra):
    good_ng = {"name": "workers", "node_role_arn": infra.node_role, "min_nodes": 1, "max_nodes": 3}
    cases = [
        ("one subnet with ha", dict(ha=True, eks=cluster_spec(infra, subnets=[infra.subnets[0]], node_groups=[good_ng])),
         "eks.subnets: ha needs subnets in at least two Availability Zones; the 1 subnet given is in 1 (us-east-1a)"),
        ("two subnets of one zone with ha", dict(ha=True, eks=cluster_spec(infra, subnets=infra.one_az)),
         "the 2 subnets given are in 1 (us-east-1a)"),
        ("min > max", dict(eks=cluster_spec(infra, node_groups=[dict(good_ng, min_nodes=4, max_nodes=2)])),
         "eks.node_groups[0].min_nodes: 4 is greater than max_nodes 2"),
        ("desired outside", dict(eks=cluster_spec(infra, node_groups=[dict(good_ng, desired_nodes=7)])),
         "eks.node_groups[0].desired_nodes: 7 is outside [min_nodes, max_nodes] = [1, 3]"),
        ("unknown version", dict(kubernetes_version="1.20", eks=cluster_spec(infra)),
         "kubernetes_version: 1.20 is not a Kubernetes version EKS supports"),
        ("role not an ARN", dict(eks=cluster_spec(infra, role_arn="eks-role")),
         "eks.role_arn: 'eks-role' is not an IAM role ARN"),
        ("missing role", dict(eks=cluster_spec(infra, role_arn="arn:aws:iam::%s:role/nobody" % ACCOUNT)),
         "eks.role_arn: IAM role 'nobody' (arn:aws:iam::%s:role/nobody) does not exist" % ACCOUNT),
        ("missing node role", dict(eks=cluster_spec(infra, node_groups=[
            dict(good_ng, node_role_arn="arn:aws:iam::%s:role/no-nodes" % ACCOUNT)])),
         "eks.node_groups[0].node_role_arn: IAM role 'no-nodes'"),
        ("missing subnet", dict(eks=cluster_spec(infra, subnets=["subnet-0123456789abcdef0", infra.subnets[2]])),
         "eks.subnets: AWS EC2 DescribeSubnets failed: InvalidSubnetID.NotFound"),
        ("missing KMS key", dict(eks=cluster_spec(
            infra, kms_key_arn="arn:aws:kms:us-east-1:%s:key/00000000-0000-0000-0000-000000000000" % ACCOUNT)),
         "eks.kms_key_arn: KMS key arn:aws:kms:us-east-1:%s:key/00000000-0000-0000-0000-000000000000 does not exist"
         % ACCOUNT),
    ]
    for label, extra, message in cases:
        eks = extra.pop("eks")
        result, writes = run(runner, proxy, task(proxy, "bad-input", eks, **extra), expect_fail=True)
        assert message in result["msg"], (label, result["msg"])
        assert writes == [], (label, writes)
    assert infra.eks.list_clusters()["clusters"] == [] or "bad-input" not in infra.eks.list_clusters()["clusters"]


def test_lifecycle(runner, proxy, infra, tmp_path, monkeypatch):
    name = "prod-aws"
    kubeconfig_out = str(tmp_path / "kube" / "config")
    # the file already holds another cluster: ours is merged in and taken out again, the other stays
    os.makedirs(os.path.dirname(kubeconfig_out))
    other = {"apiVersion": "v1", "kind": "Config", "current-context": "other",
             "clusters": [{"name": "other", "cluster": {"server": "https://10.0.0.1:6443"}}],
             "users": [{"name": "other", "user": {"token": "abc"}}],
             "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}]}
    with open(kubeconfig_out, "w") as f:
        yaml.safe_dump(other, f)
    spec = cluster_spec(infra)

    # check mode: what would be created, no write
    result, writes = run(runner, proxy, task(proxy, name, spec, ha=True, kubernetes_version="1.31"), check=True, diff=True)
    assert result["changed"] is True and writes == []
    assert "would create the EKS cluster" in result["actions"] and "would create node group workers" in result["actions"]
    assert result["diff"]["before"] == {"exists": False}
    assert result["diff"]["after"]["logging"] == ["audit"]  # ha: audit logging by default
    assert name not in infra.eks.list_clusters()["clusters"]

    # create
    result, writes = run(runner, proxy, task(proxy, name, spec, ha=True, kubernetes_version="1.31",
                                             kubeconfig_out=kubeconfig_out))
    assert result["changed"] is True
    assert writes == [("eks", "POST /clusters"), ("eks", "POST /clusters/%s/node-groups" % name)]
    c = result["cluster"]
    assert c["status"] == "ACTIVE" and c["version"] == "1.31" and c["arn"].endswith(":cluster/" + name)
    assert c["api_endpoint"].startswith("https://") and c["kubeconfig"] == kubeconfig_out
    assert [(g["name"], g["min_nodes"], g["max_nodes"], g["desired_nodes"], g["instance_types"]) for g in c["node_groups"]] \
        == [("workers", 2, 5, 2, ["m6i.large"])]
    described = infra.eks.describe_cluster(name=name)["cluster"]
    assert described["encryptionConfig"][0]["provider"]["keyArn"] == infra.key
    assert described["resourcesVpcConfig"]["endpointPrivateAccess"] is True
    assert described["tags"] == {"team": "platform", "env": "test"}
    enabled = [t for e in described["logging"]["clusterLogging"] if e["enabled"] for t in e["types"]]
    assert enabled == ["audit"]
    _check_kubeconfig(result["kubeconfig"], name, described)
    assert stat.S_IMODE(os.stat(kubeconfig_out).st_mode) == 0o600
    with open(kubeconfig_out) as f:
        merged = yaml.safe_load(f)
    assert merged["current-context"] == "other"
    assert sorted(c["name"] for c in merged["contexts"]) == ["adhar-" + name, "other"]

    # unchanged re-run: zero writes, not changed (the token in the file is refreshed without counting as a change)
    result, writes = run(runner, proxy, task(proxy, name, spec, ha=True, kubernetes_version="1.31",
                                             kubeconfig_out=kubeconfig_out), diff=True)
    assert result["changed"] is False and writes == []
    assert result["diff"]["before"] == result["diff"]["after"]
    # a task naming only the cluster does not ask to change it; the connection comes from the AWS_* environment
    for var, value in (("AWS_ENDPOINT_URL", proxy.url), ("AWS_DEFAULT_REGION", REGION), ("AWS_ACCESS_KEY_ID", "testing"),
                       ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    result, writes = run(runner, proxy, {"name": name, "provider": "eks"})
    assert result["changed"] is False and writes == [] and result["cluster"]["arn"].endswith(":cluster/" + name)
    assert proxy.calls, "the task did not go through the endpoint from AWS_ENDPOINT_URL"
    for var in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)

    # scale: check mode first, then for real - one UpdateNodegroupConfig
    scale = dict(spec, node_groups=[{"name": "workers", "min_nodes": 3, "max_nodes": 6, "desired_nodes": 4}])
    result, writes = run(runner, proxy, task(proxy, name, scale), check=True, diff=True)
    assert result["changed"] is True and writes == []
    assert result["diff"]["after"]["node_groups"]["workers"]["desired_nodes"] == 4
    result, writes = run(runner, proxy, task(proxy, name, scale))
    assert result["changed"] is True
    assert writes == [("eks", "POST /clusters/%s/node-groups/workers/update-config" % name)]
    sc = infra.eks.describe_nodegroup(clusterName=name, nodegroupName="workers")["nodegroup"]["scalingConfig"]
    assert (sc["minSize"], sc["maxSize"], sc["desiredSize"]) == (3, 6, 4)
    result, writes = run(runner, proxy, task(proxy, name, scale))
    assert result["changed"] is False and writes == []
    # the scaling checks also hold against the group's current values: min above the current max
    result, writes = run(runner, proxy, task(proxy, name, {"node_groups": [{"name": "workers", "min_nodes": 8}]}),
                         expect_fail=True)
    assert "eks.node_groups[0].min_nodes: 8 is greater than max_nodes 6" in result["msg"] and writes == []

    # tags: one added, one changed, one removed (purge)
    result, writes = run(runner, proxy, task(proxy, name, {"tags": {"team": "core", "owner": "sre"}}))
    assert result["changed"] is True
    arn = infra.eks.describe_cluster(name=name)["cluster"]["arn"]
    assert [w[1].split(" ")[0] for w in writes] == ["POST", "DELETE"] and all("/tags/" in w[1] for w in writes)
    assert infra.eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "core", "owner": "sre"}
    result, writes = run(runner, proxy, task(proxy, name, {"tags": {"team": "core", "owner": "sre"}}))
    assert result["changed"] is False and writes == []

    # logging and endpoint access: two UpdateClusterConfig calls (EKS takes one kind of update per call)
    change = {"logging": ["api", "audit"], "endpoint_public_access": False}
    result, writes = run(runner, proxy, task(proxy, name, change))
    assert result["changed"] is True
    assert writes == [("eks", "POST /clusters/%s/update-config" % name)] * 2
    described = infra.eks.describe_cluster(name=name)["cluster"]
    assert sorted(t for e in described["logging"]["clusterLogging"] if e["enabled"] for t in e["types"]) == ["api", "audit"]
    assert described["resourcesVpcConfig"]["endpointPublicAccess"] is False
    result, writes = run(runner, proxy, task(proxy, name, change))
    assert result["changed"] is False and writes == []

    # version: skipping a minor and downgrading are refused before any call
    for version, message in (("1.33", "EKS upgrades one minor version at a time; from 1.31 the next step is 1.32"),
                             ("1.30", "cannot downgrade the cluster from 1.31 to 1.30")):
        result, writes = run(runner, proxy, task(proxy, name, kubernetes_version=version), expect_fail=True)
        assert message in result["msg"] and writes == []
    # one step: the module calls UpdateClusterVersion; moto does not implement it, and the task says so
    result, writes = run(runner, proxy, task(proxy, name, kubernetes_version="1.32"), check=True)
    assert result["changed"] is True and writes == [] and "would update the Kubernetes version to 1.32" in result["actions"]
    result, writes = run(runner, proxy, task(proxy, name, kubernetes_version="1.32"), expect_fail=True)
    assert writes == [("eks", "POST /clusters/%s/updates" % name)]
    assert "AWS EKS UpdateClusterVersion failed" in result["msg"]

    # a node group behind the control plane (made outside the module): UpdateNodegroupVersion, which moto does not
    # implement either; upgrade_nodes false leaves it alone with a warning
    infra.eks.create_nodegroup(clusterName=name, nodegroupName="legacy", version="1.30", nodeRole=infra.node_role,
                               subnets=[infra.subnets[0]], scalingConfig={"minSize": 1, "maxSize": 1, "desiredSize": 1})
    result, writes = run(runner, proxy, task(proxy, name), check=True, diff=True)
    assert result["changed"] is True and writes == []
    assert result["actions"] == ["would update node group legacy from Kubernetes 1.30 to 1.31"]
    assert result["diff"]["before"]["node_groups"]["legacy"]["version"] == "1.30"
    assert result["diff"]["after"]["node_groups"]["legacy"]["version"] == "1.31"
    assert result["diff"]["after"]["node_groups"]["workers"]["version"] == "1.31"
    result, writes = run(runner, proxy, task(proxy, name, {"upgrade_nodes": False}))
    assert result["changed"] is False and writes == []
    assert any("node group legacy runs Kubernetes 1.30, the control plane 1.31; eks.upgrade_nodes is false" in w
               for w in result.get("warnings") or []), result.get("warnings")
    result, writes = run(runner, proxy, task(proxy, name), expect_fail=True)
    assert writes == [("eks", "POST /clusters/%s/node-groups/legacy/update-version" % name)]
    assert "AWS EKS UpdateNodegroupVersion failed" in result["msg"]

    # create-only fields: a clear error, no write
    result, writes = run(runner, proxy, task(proxy, name, {"role_arn": infra.node_role}), expect_fail=True)
    assert "eks.role_arn: cannot change on an existing cluster" in result["msg"] and writes == []

    # delete: check mode, then node groups first, then the cluster; the kubeconfig context goes too
    result, writes = run(runner, proxy, task(proxy, name, state="absent", kubeconfig_out=kubeconfig_out), check=True)
    assert result["changed"] is True and writes == []
    result, writes = run(runner, proxy, task(proxy, name, state="absent", kubeconfig_out=kubeconfig_out))
    assert result["changed"] is True
    assert writes == [("eks", "DELETE /clusters/%s/node-groups/%s" % (name, g)) for g in ("legacy", "workers")] + \
        [("eks", "DELETE /clusters/%s" % name)]
    assert name not in infra.eks.list_clusters()["clusters"]
    with open(kubeconfig_out) as f:
        assert yaml.safe_load(f)["contexts"] == other["contexts"]
    result, writes = run(runner, proxy, task(proxy, name, state="absent"))
    assert result["changed"] is False and writes == []


def _check_kubeconfig(kubeconfig, name, described):
    ctx = "adhar-" + name
    assert kubeconfig["current-context"] == ctx
    assert kubeconfig["clusters"][0]["cluster"]["server"] == described["endpoint"]
    token = kubeconfig["users"][0]["user"]["token"]
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    body = token[len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    assert query["Action"] == ["GetCallerIdentity"] and query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-SignedHeaders"] == ["host;x-k8s-aws-id"]
    assert query["X-Amz-Credential"][0].startswith("testing/") and "/%s/sts/aws4_request" % REGION in query["X-Amz-Credential"][0]
