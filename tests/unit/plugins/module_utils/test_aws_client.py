# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AwsConnection: region resolution, retries and the errors it raises (botocore's Stubber, no network)."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._aws.client import AwsConnection
from ansible_collections.adhar.platform.plugins.module_utils._aws.errors import aws_error
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

pytest.importorskip("boto3")
stub = pytest.importorskip("botocore.stub")

PARAMS = {"region": "us-east-1", "access_key": "AKIDEXAMPLE", "secret_key": "s", "endpoint_url": "http://127.0.0.1:9"}


@pytest.fixture(autouse=True)
def no_aws_env(monkeypatch, tmp_path):
    for var in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def connection(retry_deadline=5.0, calls=None):
    conn = AwsConnection(PARAMS, "cluster demo", retry_deadline=retry_deadline,
                         on_call=None if calls is None else (lambda s, op, kw: calls.append(op)))
    s = stub.Stubber(conn.client("eks"))
    s.activate()
    return conn, s


def test_a_region_is_required():
    with pytest.raises(AdharError) as info:
        AwsConnection({"access_key": "a", "secret_key": "b"}, "cluster demo")
    assert info.value.details["option"] == "region" and "AWS_REGION" in info.value.msg


def test_region_from_the_profile(tmp_path, monkeypatch):
    config = tmp_path / "aws-config"
    config.write_text("[profile team]\nregion = ap-south-1\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert AwsConnection({"profile": "team"}, "x").region == "ap-south-1"


def test_transient_errors_are_retried_then_succeed():
    calls = []
    conn, s = connection(calls=calls)
    s.add_client_error("list_clusters", "TooManyRequestsException", "slow down", 429)
    s.add_client_error("list_clusters", "ServerException", "oops", 500)
    s.add_response("list_clusters", {"clusters": ["a"]})
    assert conn.call("eks", "list_clusters")["clusters"] == ["a"]
    assert calls == ["list_clusters"] * 3


def test_giving_up_names_the_code_and_the_attempts():
    conn, s = connection(retry_deadline=0)
    s.add_client_error("list_clusters", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(AdharError) as info:
        conn.call("eks", "list_clusters", what="eks.subnets")
    assert info.value.msg == ("eks.subnets: AWS EKS ListClusters failed: ThrottlingException: Rate exceeded "
                              "(gave up after 1 attempt)")
    assert info.value.details["aws_error_code"] == "ThrottlingException"


def test_permanent_errors_are_not_retried():
    calls = []
    conn, s = connection(calls=calls)
    s.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found for name: x.", 404)
    with pytest.raises(AdharError) as info:
        conn.call("eks", "describe_cluster", name="x")
    assert calls == ["describe_cluster"]
    assert info.value.details["status"] == 404 and info.value.details["aws_operation"] == "DescribeCluster"


def test_paginate_follows_next_token():
    conn, s = connection()
    s.add_response("list_nodegroups", {"nodegroups": ["a", "b"], "nextToken": "t1"}, {"clusterName": "c"})
    s.add_response("list_nodegroups", {"nodegroups": ["c"]}, {"clusterName": "c", "nextToken": "t1"})
    assert conn.paginate("eks", "list_nodegroups", "nodegroups", clusterName="c") == ["a", "b", "c"]


def test_error_text_is_one_line():
    class Fake(Exception):
        response = {"Error": {"Code": "404", "Message": "<html>\n<title>404 Not Found</title>\n</html>"},
                    "ResponseMetadata": {"HTTPStatusCode": 404}}
    err = aws_error(Fake(), "EKS", "UpdateClusterVersion")
    assert err.msg == "AWS EKS UpdateClusterVersion failed: 404: <html> <title>404 Not Found</title> </html>"
