# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The discovery-document validator of the fake GKE server, on its own (no server, no cluster).

If this validator let a bad request through, the GKE tests could not fail on
one; so it is tested against requests that are wrong in each way it checks.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("googleapiclient")

from gcp_fake import DiscoveryValidator  # noqa: E402  (after the skip)

CLUSTER = "v1/projects/demo/locations/europe-west1/clusters/prod"


@pytest.fixture(scope="module")
def validator():
    return DiscoveryValidator()


def check(validator, verb, path, body=None, query=None):
    data = b"" if body is None else json.dumps(body).encode()
    dummy_api, method, params, errors = validator.check(verb, path, query or {}, data)
    return method, params, errors


def test_all_three_documents_are_loaded(validator):
    assert sorted(validator.docs) == ["compute", "container", "dns"]
    method, dummy, errors = check(validator, "GET", "dns/v1/projects/demo/managedZones")
    assert (method, errors) == ("dns.managedZones.list", [])


def test_a_valid_create_passes(validator):
    body = {"cluster": {"name": "prod", "releaseChannel": {"channel": "REGULAR"}, "resourceLabels": {"team": "a"},
                        "nodePools": [{"name": "workers", "initialNodeCount": 1,
                                       "config": {"machineType": "e2-standard-4", "diskSizeGb": 100},
                                       "autoscaling": {"enabled": True, "minNodeCount": 1, "maxNodeCount": 3}}]}}
    method, params, errors = check(validator, "POST", "v1/projects/demo/locations/europe-west1/clusters", body)
    assert (method, errors) == ("container.projects.locations.clusters.create", [])
    assert params == {"parent": "projects/demo/locations/europe-west1"}


def test_an_unknown_field_is_rejected_at_any_depth(validator):
    body = {"cluster": {"name": "prod", "nodePools": [{"name": "w", "config": {"machineTyp": "e2-standard-4"}}]}}
    dummy, dummy_params, errors = check(validator, "POST", "v1/projects/demo/locations/europe-west1/clusters", body)
    assert errors == ["body.cluster.nodePools[0].config: unknown field 'machineTyp' (not in NodeConfig)"]


@pytest.mark.parametrize("body, message", [
    ({"nodeCount": "3"}, "body.nodeCount: expected an integer, got a string"),
    ({"nodeCount": True}, "body.nodeCount: expected an integer, got a boolean"),
    ({"nodeCount": 2 ** 40}, "body.nodeCount: 1099511627776 is out of range for int32"),
    ({"nodeCount": 3, "name": 5}, "body.name: expected a string, got an integer"),
])
def test_a_wrong_type_is_rejected(validator, body, message):
    dummy, dummy_params, errors = check(validator, "POST", CLUSTER + "/nodePools/w:setSize", body)
    assert errors == [message]


def test_enums_maps_booleans_and_int64(validator):
    body = {"update": {"desiredReleaseChannel": {"channel": "FAST"}}}
    assert check(validator, "PUT", CLUSTER, body)[2] == [
        "body.update.desiredReleaseChannel.channel: 'FAST' is not one of UNSPECIFIED, RAPID, REGULAR, STABLE, EXTENDED"]
    body = {"resourceLabels": {"team": 1}, "labelFingerprint": "x"}
    assert check(validator, "POST", CLUSTER + ":setResourceLabels", body)[2] == [
        "body.resourceLabels['team']: expected a string, got an integer"]
    body = {"autoscaling": {"enabled": "true"}}
    assert check(validator, "POST", CLUSTER + "/nodePools/w:setAutoscaling", body)[2] == [
        "body.autoscaling.enabled: expected a boolean, got a string"]
    # int64 travels as a decimal string (compute's Instance Group Manager resize takes a query, DNS a body field)
    ok = {"kind": "dns#managedZone", "name": "z", "dnsName": "example.com.", "description": "", "id": "123"}
    assert check(validator, "POST", "dns/v1/projects/demo/managedZones", ok)[2] == []
    assert check(validator, "POST", "dns/v1/projects/demo/managedZones", dict(ok, id="12x"))[2] == [
        "body.id: expected an uint64 as a decimal string, got a string"]


def test_paths_verbs_and_query(validator):
    method, dummy, errors = check(validator, "PATCH", CLUSTER)
    assert method is None and "no method for this verb" in errors[0]
    method, dummy, errors = check(validator, "GET", "v1/projects/demo/clusters/prod")
    assert method is None and "no method" in errors[0]
    method, dummy, errors = check(validator, "POST", CLUSTER + ":setFoo", {})
    assert method is None
    dummy, dummy_params, errors = check(validator, "GET", CLUSTER, query={"bogus": ["1"]})
    assert errors == ["query parameter 'bogus' is not a parameter of container.projects.locations.clusters.get"]
    dummy, dummy_params, errors = check(validator, "GET", CLUSTER, query={"prettyPrint": ["maybe"]})
    assert errors == ["query parameter prettyPrint: 'maybe' is not a boolean"]
    dummy, dummy_params, errors = check(validator, "GET", CLUSTER, body={"x": 1})
    assert errors == ["container.projects.locations.clusters.get takes no request body"]
    dummy, dummy_params, errors = check(validator, "PUT", CLUSTER)
    assert errors == ["container.projects.locations.clusters.update needs a JSON body (UpdateClusterRequest)"]


def test_node_pool_version_update(validator):
    path = CLUSTER + "/nodePools/workers"
    method, params, errors = check(validator, "PUT", path, {"nodeVersion": "-", "imageType": "COS_CONTAINERD"})
    assert (method, errors) == ("container.projects.locations.clusters.nodePools.update", [])
    assert params == {"name": "projects/demo/locations/europe-west1/clusters/prod/nodePools/workers"}
    dummy, dummy_params, errors = check(validator, "PUT", path, {"nodeVersion": "-", "version": "1.33"})
    assert errors == ["body: unknown field 'version' (not in UpdateNodePoolRequest)"]
    dummy, dummy_params, errors = check(validator, "PUT", path, {"nodeVersion": 1.33})
    assert errors == ["body.nodeVersion: expected a string, got a number"]
    dummy, dummy_params, errors = check(validator, "POST", path, {"nodeVersion": "-"})
    assert errors and "no method for this verb" in errors[0]
