# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider gke without the API: versions, locations and input checks (the lifecycle is in tests/integration)."""

from __future__ import annotations

import types

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers import gke
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.gke import (
    GkeProvider, parse_version, pool_behind, version_matches, version_step_error)


class NoCalls:
    """A connection that fails the test on any call."""

    project = "demo"

    def call(self, *args, **kwargs):
        raise AssertionError("unexpected API call %r" % (args,))


def provider(ha=None, version=None, **gke_opts):
    params = {"name": "prod", "state": "present", "ha": ha, "kubernetes_version": version, "wait_timeout": 5,
              "gke": gke_opts, "kubeconfig_out": None}
    module = types.SimpleNamespace(params=params, check_mode=False, warn=lambda msg: None)
    return GkeProvider(module, connection=NoCalls())


@pytest.mark.parametrize("text, parsed", [
    ("1.31", (1, 31, None, None)), ("1.31.4", (1, 31, 4, None)), ("1.31.4-gke.1000", (1, 31, 4, 1000)),
    ("latest", None),
])
def test_parse_version(text, parsed):
    assert parse_version(text) == parsed


@pytest.mark.parametrize("text", ["1.31.x", "2.0", "1", "v1.31-gke", "1.31.4-eks.1", ""])
def test_bad_versions_name_the_option(text):
    with pytest.raises(AdharError) as err:
        parse_version(text)
    assert err.value.details["option"] == "kubernetes_version"


def test_version_matching_and_steps():
    assert version_matches("1.31", "1.31.5-gke.1000")
    assert version_matches("1.31.5", "1.31.5-gke.1000")
    assert not version_matches("1.31.6", "1.31.5-gke.1000")
    assert version_step_error("1.31.5-gke.1000", "1.32") is None
    assert version_step_error("1.31.5-gke.1000", "1.31.6") is None
    assert "one minor version at a time; from 1.31.5-gke.1000 the next step is 1.32, not 1.33" in \
        version_step_error("1.31.5-gke.1000", "1.33")
    assert "cannot downgrade" in version_step_error("1.31.5-gke.1000", "1.30")
    assert "cannot downgrade" in version_step_error("1.31.5-gke.1000", "1.31.4")


@pytest.mark.parametrize("ha, location, message", [
    (True, "europe-west1-b", "gke.location: ha needs a regional cluster"),
    (False, "europe-west1", "gke.location: europe-west1 is a region"),
    (None, "europe", "gke.location: 'europe' is neither a region"),
    (None, None, "gke.location is required"),
])
def test_location_checks(ha, location, message):
    with pytest.raises(AdharError) as err:
        provider(ha=ha, location=location).ensure_present()
    assert message in err.value.msg and err.value.details["option"] == "gke.location"


@pytest.mark.parametrize("ha, location", [(True, "europe-west1"), (False, "us-central1-a"), (None, "asia-east1")])
def test_good_locations(ha, location):
    provider(ha=ha, location=location)._check_input()


@pytest.mark.parametrize("opts, option, message", [
    ({"release_channel": "fast"}, "gke.release_channel", "'fast' is not a GKE release channel"),
    ({"node_pools": [{"name": "a", "min_nodes": 3, "max_nodes": 1}]}, "gke.node_pools[0].min_nodes",
     "3 is greater than max_nodes 1"),
    ({"node_pools": [{"name": "a"}, {"name": "a"}]}, "gke.node_pools[1].name", "listed twice"),
    ({"node_pools": [{"name": "a", "auto_scale": False, "max_nodes": 3}]}, "gke.node_pools[0].max_nodes",
     "only used with auto_scale true"),
    ({"master_ipv4_cidr": "172.16.0.0/28"}, "gke.master_ipv4_cidr", "only used with private_endpoint true"),
    ({"private_endpoint": True, "master_ipv4_cidr": "172.16.0.0/24"}, "gke.master_ipv4_cidr", "must be an IPv4 /28"),
    ({"labels": {"env": "Prod"}}, "gke.labels", "env=Prod is not a valid label"),
])
def test_input_errors_name_the_option(opts, option, message):
    with pytest.raises(AdharError) as err:
        provider(location="europe-west1", **opts)._check_input()
    assert message in err.value.msg and err.value.details["option"] == option


def test_eks_settings_are_refused():
    p = provider(location="europe-west1")
    p.params["eks"] = {"role_arn": "arn:aws:iam::123456789012:role/x"}
    with pytest.raises(AdharError) as err:
        p._check_input()
    assert err.value.details["option"] == "eks"


def test_release_channels_match_the_discovery_enum():
    assert set(gke.RELEASE_CHANNELS) == {"UNSPECIFIED", "RAPID", "REGULAR", "STABLE", "EXTENDED"}


@pytest.mark.parametrize("pool, target, behind", [
    ("1.31.5-gke.1000", "1.32", True),
    ("1.32.1-gke.1000", "1.32", False),
    ("1.33.1-gke.1000", "1.32", False),
    ("1.32.1-gke.1000", "1.32.2", True),
    ("1.32.2-gke.900", "1.32.2-gke.1000", True),
    ("1.32.2-gke.1000", "1.32.2-gke.1000", False),
])
def test_pool_behind_compares_with_the_targets_precision(pool, target, behind):
    assert pool_behind(pool, target) is behind


class Recorder(NoCalls):
    """A connection that answers the cluster read and records every call."""

    def __init__(self, cluster):
        self.cluster, self.calls = cluster, []

    def call(self, method, path, body=None, query=None, api="container", what=None):
        self.calls.append((method, path))
        if method == "GET" and path.endswith("/clusters/prod"):
            return self.cluster
        raise AssertionError("unexpected API call %s %s" % (method, path))

    def token(self):
        return "token", None


def _cluster(master, pools):
    return {"name": "prod", "status": "RUNNING", "currentMasterVersion": master, "endpoint": "127.0.0.1:1",
            "releaseChannel": {"channel": "REGULAR"},
            "nodePools": [{"name": n, "version": v, "status": st,
                           "config": {"machineType": "e2-standard-4", "imageType": "COS_CONTAINERD"}}
                          for n, v, st in pools]}


@pytest.mark.parametrize("upgrade_nodes, version, actions", [
    (True, None, ["would update node pool old from Kubernetes 1.31.5-gke.1000 to the master's version (1.32)"]),
    (True, "1.33", ["would update the master version to 1.33",
                    "would update node pool new from Kubernetes 1.32.2-gke.1000 to the master's version (1.33)",
                    "would update node pool old from Kubernetes 1.31.5-gke.1000 to the master's version (1.33)"]),
    (False, "1.33", ["would update the master version to 1.33"]),
])
def test_pools_behind_the_master_in_check_mode(upgrade_nodes, version, actions):
    conn = Recorder(_cluster("1.32.2-gke.1000", [("new", "1.32.2-gke.1000", "RUNNING"),
                                                 ("old", "1.31.5-gke.1000", "RUNNING")]))
    params = {"name": "prod", "state": "present", "ha": None, "kubernetes_version": version, "wait_timeout": 5,
              "gke": {"location": "europe-west1", "upgrade_nodes": upgrade_nodes}, "kubeconfig_out": None}
    warnings = []
    module = types.SimpleNamespace(params=params, check_mode=True, warn=warnings.append)
    result = GkeProvider(module, connection=conn).ensure_present()
    assert result["actions"] == actions and result["changed"] is True
    assert conn.calls == [("GET", "v1/projects/demo/locations/europe-west1/clusters/prod")]
    assert warnings == []
