# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider eks against botocore's Stubber: the parts moto cannot serve (UpdateClusterVersion, DescribeUpdate),
retries on throttling, timeouts, and input checks that must fail before any call.

The full lifecycle over HTTP is tests/integration/test_cluster_eks.py (moto in server mode).
"""

from __future__ import annotations

import types

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers import cloud
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.eks import EksProvider, version_step_error

boto3 = pytest.importorskip("boto3")
stub = pytest.importorskip("botocore.stub")

ARN = "arn:aws:eks:us-east-1:123456789012:cluster/demo"
ROLE = "arn:aws:iam::123456789012:role/eks"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cloud.time, "sleep", lambda s: None)


def make(params=None, check_mode=False, eks=None, services=("eks",)):
    from ansible_collections.adhar.platform.plugins.module_utils._aws.client import AwsConnection
    p = {"name": "demo", "state": "present", "wait_timeout": 60, "region": "us-east-1", "access_key": "AKIDEXAMPLE",
         "secret_key": "secret", "eks": eks,
         # nothing may leave this machine: a call no stub answers goes to a closed local port
         "endpoint_url": "http://127.0.0.1:9"}
    p.update(params or {})
    warnings = []
    module = types.SimpleNamespace(params=p, check_mode=check_mode, warn=warnings.append)
    calls = []
    conn = AwsConnection(p, "cluster demo", retry_deadline=5, on_call=lambda s, op, kw: calls.append((s, op)))
    stubs = {}
    for service in services:
        stubs[service] = stub.Stubber(conn.client(service))
        stubs[service].activate()
    provider = EksProvider(module, connection=conn)
    return provider, stubs, calls, warnings


def cluster(version="1.30", status="ACTIVE", **extra):
    c = {"name": "demo", "arn": ARN, "version": version, "status": status, "roleArn": ROLE,
         "endpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "certificateAuthority": {"data": "Q0E="},
         "resourcesVpcConfig": {"subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
                                "endpointPublicAccess": True, "endpointPrivateAccess": False,
                                "publicAccessCidrs": ["0.0.0.0/0"]},
         "logging": {"clusterLogging": [{"types": ["audit"], "enabled": True}]}, "tags": {}}
    c.update(extra)
    return {"cluster": c}


def expect_read(stubs, version="1.30", groups=()):
    stubs["eks"].add_response("describe_cluster", cluster(version), {"name": "demo"})
    stubs["eks"].add_response("list_nodegroups", {"nodegroups": list(groups)}, {"clusterName": "demo"})


def test_version_update_is_followed_through_describe_update():
    provider, stubs, calls, dummy = make({"kubernetes_version": "1.31"})
    expect_read(stubs)
    stubs["eks"].add_response("update_cluster_version", {"update": {"id": "u-1", "status": "InProgress"}},
                              {"name": "demo", "version": "1.31"})
    stubs["eks"].add_response("describe_update", {"update": {"id": "u-1", "status": "InProgress"}},
                              {"name": "demo", "updateId": "u-1"})
    stubs["eks"].add_response("describe_update", {"update": {"id": "u-1", "status": "Successful"}},
                              {"name": "demo", "updateId": "u-1"})
    expect_read(stubs, "1.31")
    result = provider.run()
    stubs["eks"].assert_no_pending_responses()
    assert result["changed"] is True and result["cluster"]["version"] == "1.31"
    assert result["actions"] == ["updated the Kubernetes version to 1.31"]
    assert [op for s, op in calls if not op.startswith(("describe", "list"))] == ["update_cluster_version"]
    assert result["kubeconfig"]["users"][0]["user"]["token"].startswith("k8s-aws-v1.")


def test_failed_update_names_the_errors():
    provider, stubs, dummy, dummy2 = make({"kubernetes_version": "1.31"})
    expect_read(stubs)
    stubs["eks"].add_response("update_cluster_version", {"update": {"id": "u-2", "status": "InProgress"}},
                              {"name": "demo", "version": "1.31"})
    stubs["eks"].add_response("describe_update", {"update": {"id": "u-2", "status": "Failed", "errors": [
        {"errorCode": "NodeCreationFailure", "errorMessage": "instances failed to join"}]}},
        {"name": "demo", "updateId": "u-2"})
    with pytest.raises(AdharError, match="the version update to 1.31 failed: NodeCreationFailure: instances failed to join"):
        provider.run()


def test_wait_is_bounded_by_wait_timeout(monkeypatch):
    provider, stubs, dummy, dummy2 = make({"kubernetes_version": "1.31", "wait_timeout": 0})
    expect_read(stubs)
    stubs["eks"].add_response("update_cluster_version", {"update": {"id": "u-3", "status": "InProgress"}},
                              {"name": "demo", "version": "1.31"})
    stubs["eks"].add_response("describe_update", {"update": {"id": "u-3", "status": "InProgress"}},
                              {"name": "demo", "updateId": "u-3"})
    with pytest.raises(AdharError, match="timed out waiting for the version update to 1.31 .last seen: InProgress."):
        provider.run()


def test_throttling_is_retried():
    provider, stubs, dummy, dummy2 = make()
    stubs["eks"].add_client_error("describe_cluster", "ThrottlingException", "Rate exceeded", 400)
    expect_read(stubs)
    result = provider.run()
    assert result["changed"] is False
    stubs["eks"].assert_no_pending_responses()


def test_other_errors_carry_the_aws_code():
    provider, stubs, dummy, dummy2 = make()
    stubs["eks"].add_client_error("describe_cluster", "AccessDeniedException", "not allowed", 403)
    with pytest.raises(AdharError) as info:
        provider.run()
    assert "AWS EKS DescribeCluster failed: AccessDeniedException: not allowed" in info.value.msg
    assert info.value.details["aws_error_code"] == "AccessDeniedException"


def test_check_mode_plans_without_writes():
    provider, stubs, calls, dummy = make({"kubernetes_version": "1.31"}, check_mode=True,
                                         eks={"logging": ["api", "audit"], "tags": {"a": "b"}})
    expect_read(stubs)
    result = provider.run()
    assert result["changed"] is True
    assert result["actions"] == ["would update the Kubernetes version to 1.31", "would set control-plane logging to api, audit",
                                 "would tag the cluster (set a; remove none)"]
    assert result["diff"]["before"]["version"] == "1.30" and result["diff"]["after"]["version"] == "1.31"
    assert all(op.startswith(("describe", "list")) for s, op in calls)


def test_unreachable_iam_is_a_warning_not_an_error():
    provider, stubs, dummy, warnings = make(eks={"node_groups": [{"name": "ng", "node_role_arn": ROLE, "desired_nodes": 1}]},
                                            check_mode=True, services=("eks", "iam"))
    expect_read(stubs)
    stubs["iam"].add_client_error("get_role", "AccessDenied", "no iam:GetRole", 403)
    result = provider.run()
    assert result["actions"] == ["would create node group ng"]
    assert warnings and "could not check that IAM role 'eks' exists" in warnings[0]


@pytest.mark.parametrize("params, eks, message", [
    ({"name": "-bad"}, None, "name: '-bad' is not a valid EKS cluster name"),
    ({"kubernetes_version": "1.99"}, None, "kubernetes_version: 1.99 is not a Kubernetes version EKS supports"),
    ({"kubernetes_version": "latest"}, None, "kubernetes_version: 'latest' is not a Kubernetes minor version"),
    ({"nodes": {"count": 3}}, None, "nodes: only provider local uses nodes"),
    ({}, {"role_arn": "arn:aws:iam::12:role/x"}, "eks.role_arn: 'arn:aws:iam::12:role/x' is not an IAM role ARN"),
    ({}, {"subnets": ["sub-1"]}, "eks.subnets: 'sub-1' is not a subnet ID"),
    ({}, {"public_access_cidrs": ["10.0.0.1/8"]}, "eks.public_access_cidrs: '10.0.0.1/8' is not a CIDR"),
    ({}, {"kms_key_arn": "alias/x"}, "eks.kms_key_arn: 'alias/x' is not a KMS key ARN"),
    ({}, {"tags": {"aws:x": "1"}}, "eks.tags: 'aws:x' is not a tag key you can set"),
    ({}, {"endpoint_public_access": False, "endpoint_private_access": False}, "needs public or private access"),
    ({}, {"node_groups": [{"name": "a"}, {"name": "a"}]}, "eks.node_groups[1].name: node group 'a' is listed twice"),
    ({}, {"node_groups": [{"name": "a", "min_nodes": 3, "max_nodes": 1}]},
     "eks.node_groups[0].min_nodes: 3 is greater than max_nodes 1"),
    ({}, {"node_groups": [{"name": "a", "min_nodes": 1, "max_nodes": 2, "desired_nodes": 0}]},
     "eks.node_groups[0].desired_nodes: 0 is outside [min_nodes, max_nodes] = [1, 2]"),
    ({}, {"node_groups": [{"name": "a", "auto_scale": False, "desired_nodes": 3, "max_nodes": 5}]},
     "eks.node_groups[0].max_nodes: with auto_scale false the group has exactly desired_nodes (3) nodes"),
])
def test_input_errors_come_before_any_call(params, eks, message):
    provider, stubs, calls, dummy = make(params, eks=eks, services=())
    with pytest.raises(AdharError) as info:
        provider.run()
    assert message in info.value.msg
    assert calls == []
    assert info.value.details["option"].split("[")[0].split(".")[0] in ("name", "kubernetes_version", "nodes", "eks")


@pytest.mark.parametrize("current, desired, problem", [
    ("1.30", "1.30", None),
    ("1.30", "1.31", None),
    ("1.30", "1.32", "from 1.30 the next step is 1.31, not 1.32"),
    ("1.30", "1.29", "cannot downgrade the cluster from 1.30 to 1.29"),
    ("1.9", "1.10", None),
])
def test_version_steps(current, desired, problem):
    got = version_step_error(current, desired)
    assert (got is None) if problem is None else (problem in got)


def test_new_group_defaults_and_merge_with_current():
    provider, dummy, dummy2, dummy3 = make(services=())
    assert provider._new_scaling({"name": "a"}, {"min": None, "max": None, "desired": None}, "x") == \
        {"min": 2, "max": 2, "desired": 2}
    assert provider._new_scaling({"name": "a", "auto_scale": True}, {"min": 1, "max": 5, "desired": None}, "x") == \
        {"min": 1, "max": 5, "desired": 1}
    with pytest.raises(AdharError, match="max_nodes is required"):
        provider._new_scaling({"name": "a", "auto_scale": True}, {"min": 1, "max": None, "desired": None}, "x")
    current = {"min_nodes": 1, "max_nodes": 5, "desired_nodes": 4}
    # desired left out keeps the autoscaler's value, clamped into new bounds
    assert provider._merged_scaling(current, {"min": None, "max": 3, "desired": None}, "x") == \
        {"min": 1, "max": 3, "desired": 3}
    assert provider._merged_scaling(current, {"min": None, "max": None, "desired": None}, "x") == \
        {"min": 1, "max": 5, "desired": 4}


def test_a_cluster_still_creating_is_awaited_before_planning():
    provider, stubs, calls, dummy = make()
    stubs["eks"].add_response("describe_cluster", cluster(status="CREATING"), {"name": "demo"})
    stubs["eks"].add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "demo"})
    stubs["eks"].add_response("describe_cluster", cluster(status="CREATING"), {"name": "demo"})
    stubs["eks"].add_response("describe_cluster", cluster(status="ACTIVE"), {"name": "demo"})
    expect_read(stubs)
    result = provider.run()
    stubs["eks"].assert_no_pending_responses()
    assert result["changed"] is False and result["cluster"]["status"] == "ACTIVE"
    assert result["actions"] == ["waited for the cluster to leave CREATING"]


def test_a_cluster_being_deleted_is_an_error():
    provider, stubs, calls, dummy = make()
    stubs["eks"].add_response("describe_cluster", cluster(status="DELETING"), {"name": "demo"})
    stubs["eks"].add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "demo"})
    with pytest.raises(AdharError, match="is being deleted"):
        provider.run()


def group(name, version, status="ACTIVE", **extra):
    g = {"nodegroupName": name, "clusterName": "demo", "version": version, "status": status,
         "nodegroupArn": "arn:aws:eks:us-east-1:123456789012:nodegroup/demo/%s/x" % name,
         "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2}, "instanceTypes": ["t3.medium"],
         "subnets": ["subnet-0aaaaaaaaaaaaaaaa"], "nodeRole": ROLE, "amiType": "AL2023_x86_64_STANDARD"}
    g.update(extra)
    return g


def expect_groups(stubs, version, groups):
    expect_read(stubs, version, [g["nodegroupName"] for g in groups])
    for g in groups:
        stubs["eks"].add_response("describe_nodegroup", {"nodegroup": g},
                                  {"clusterName": "demo", "nodegroupName": g["nodegroupName"]})


def expect_node_update(stubs, name, version, update_id, polls=("InProgress", "Successful")):
    stubs["eks"].add_response("update_nodegroup_version", {"update": {"id": update_id, "status": "InProgress"}},
                              {"clusterName": "demo", "nodegroupName": name, "version": version})
    for status in polls:
        stubs["eks"].add_response("describe_update", {"update": {"id": update_id, "status": status}},
                                  {"name": "demo", "updateId": update_id, "nodegroupName": name})


def test_control_plane_then_every_group_behind_it():
    provider, stubs, calls, warnings = make({"kubernetes_version": "1.31"})
    expect_groups(stubs, "1.30", [group("a", "1.30"), group("b", "1.30")])
    stubs["eks"].add_response("update_cluster_version", {"update": {"id": "u-1", "status": "InProgress"}},
                              {"name": "demo", "version": "1.31"})
    stubs["eks"].add_response("describe_update", {"update": {"id": "u-1", "status": "Successful"}},
                              {"name": "demo", "updateId": "u-1"})
    expect_node_update(stubs, "a", "1.31", "u-a")
    expect_node_update(stubs, "b", "1.31", "u-b", polls=("InProgress", "InProgress", "Successful"))
    expect_groups(stubs, "1.31", [group("a", "1.31"), group("b", "1.31")])
    result = provider.run()
    stubs["eks"].assert_no_pending_responses()
    writes = [op for s, op in calls if not op.startswith(("describe", "list"))]
    assert writes == ["update_cluster_version", "update_nodegroup_version", "update_nodegroup_version"]
    assert result["actions"][0] == "updated the Kubernetes version to 1.31"
    assert [a.split(" in ")[0] for a in result["actions"][1:]] == [
        "updated node group a from Kubernetes 1.30 to 1.31", "updated node group b from Kubernetes 1.30 to 1.31"]
    assert [g["version"] for g in result["cluster"]["node_groups"]] == ["1.31", "1.31"]
    assert warnings == []


def test_group_behind_an_unchanged_control_plane_is_updated_and_a_failure_is_named():
    provider, stubs, dummy, dummy2 = make()
    expect_groups(stubs, "1.31", [group("a", "1.31"), group("old", "1.29")])
    stubs["eks"].add_response("update_nodegroup_version", {"update": {"id": "u-o", "status": "InProgress"}},
                              {"clusterName": "demo", "nodegroupName": "old", "version": "1.31"})
    stubs["eks"].add_response("describe_update", {"update": {"id": "u-o", "status": "Failed", "errors": [
        {"errorCode": "PodEvictionFailure", "errorMessage": "a PodDisruptionBudget blocks the drain"}]}},
        {"name": "demo", "updateId": "u-o", "nodegroupName": "old"})
    with pytest.raises(AdharError, match="the version update of node group old to 1.31 failed: PodEvictionFailure: "
                                         "a PodDisruptionBudget blocks the drain"):
        provider.run()
    stubs["eks"].assert_no_pending_responses()


def test_node_group_updates_in_check_mode_and_diff():
    provider, stubs, calls, dummy = make({"kubernetes_version": "1.31"}, check_mode=True)
    expect_groups(stubs, "1.30", [group("a", "1.30"), group("b", "1.29")])
    result = provider.run()
    assert result["changed"] is True
    assert result["actions"] == ["would update the Kubernetes version to 1.31",
                                 "would update node group a from Kubernetes 1.30 to 1.31",
                                 "would update node group b from Kubernetes 1.29 to 1.31"]
    diff = result["diff"]
    assert [diff["before"]["node_groups"][n]["version"] for n in "ab"] == ["1.30", "1.29"]
    assert [diff["after"]["node_groups"][n]["version"] for n in "ab"] == ["1.31", "1.31"]
    assert all(op.startswith(("describe", "list")) for s, op in calls)


def test_upgrade_nodes_false_leaves_groups_alone_with_a_warning():
    provider, stubs, calls, warnings = make(eks={"upgrade_nodes": False})
    expect_groups(stubs, "1.31", [group("a", "1.30")])
    result = provider.run()
    assert result["changed"] is False and result["actions"] == []
    assert all(op.startswith(("describe", "list")) for s, op in calls)
    assert warnings == ["node group a runs Kubernetes 1.30, the control plane 1.31; eks.upgrade_nodes is false, so "
                        "its version is left alone"]


def test_groups_that_cannot_be_updated_are_named_not_touched():
    provider, stubs, calls, warnings = make(check_mode=True)
    expect_groups(stubs, "1.31", [group("custom", "1.30", amiType="CUSTOM"), group("gone", "1.30", status="DELETING"),
                                  group("same", "1.31")])
    result = provider.run()
    assert result["changed"] is False and result["actions"] == []
    assert len(warnings) == 2
    assert "node group custom runs Kubernetes 1.30, behind the control plane's 1.31, on a custom AMI" in warnings[0]
    assert "node group gone runs Kubernetes 1.30, behind the control plane's 1.31, but is DELETING" in warnings[1]
