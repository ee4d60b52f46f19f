# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's pre-flight rules: each failure is one error naming the member(s) and the rule."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import cilium, preflight


def fact(name, cid, cidr, **kw):
    out = {"name": name, "cluster_id": cid, "pod_cidrs": [cidr], "cilium_version": "v1.19.6", "datapath": "tunnel/vxlan",
           "ipam": "cluster-pool", "encryption": "disabled", "max_connected_clusters": 255, "ca_fingerprint": None}
    out.update(kw)
    return out


def fails(fn, *args, **kwargs):
    with pytest.raises(AdharError) as exc:
        fn(*args, **kwargs)
    return exc.value


def test_valid_members_pass():
    preflight.check_members([{"name": "a", "cluster_id": 1}, {"name": "b", "cluster_id": 2}, {"name": "c"}])
    preflight.check_facts([fact("a", 1, "10.1.0.0/16"), fact("b", 2, "10.2.0.0/16")])


@pytest.mark.parametrize("name", ["A", "-a", "a-", "a_b", "x" * 33, "", None])
def test_bad_names(name):
    err = fails(preflight.check_members, [{"name": name, "cluster_id": 1}])
    assert err.details["rule"] == "name" and "members[0]" in err.msg


def test_default_name_refused():
    err = fails(preflight.check_members, [{"name": "default", "cluster_id": 1}])
    assert err.details["rule"] == "name" and "'default'" in err.msg


def test_duplicate_names():
    err = fails(preflight.check_members, [{"name": "a", "cluster_id": 1}, {"name": "a", "cluster_id": 2}])
    assert err.details["rule"] == "unique_name" and "members[0] and members[1]" in err.msg


def test_duplicate_cluster_ids_name_both_members():
    err = fails(preflight.check_members, [{"name": "a", "cluster_id": 7}, {"name": "b", "cluster_id": 7}])
    assert err.details["rule"] == "unique_cluster_id"
    assert "members a and b" in err.msg and "cluster_id 7" in err.msg and err.details["member"] == "b"


@pytest.mark.parametrize("cid", [0, 256, -1, True])
def test_cluster_id_range_255(cid):
    err = fails(preflight.check_members, [{"name": "a", "cluster_id": cid}])
    assert err.details["rule"] == "cluster_id_range" and "1-255" in err.msg and "511" in err.msg


def test_cluster_id_511_with_max_connected():
    preflight.check_members([{"name": "a", "cluster_id": 511}], 511)
    err = fails(preflight.check_members, [{"name": "a", "cluster_id": 512}], 511)
    assert "1-511" in err.msg


def test_member_count_limit_checked_first():
    members = [{"name": "m%d" % i, "cluster_id": 1} for i in range(256)]  # duplicate ids too: the count wins
    err = fails(preflight.check_members, members)
    assert err.details["rule"] == "member_count" and "256 clusters" in err.msg and "at most 255" in err.msg
    members = [{"name": "m%d" % i, "cluster_id": i + 1} for i in range(256)]
    preflight.check_members(members, 511)
    err = fails(preflight.check_members, [{"name": "m%d" % i} for i in range(512)], 511)
    assert "at most 511" in err.msg


def test_bad_max_connected():
    assert fails(preflight.check_members, [], 300).details["rule"] == "max_connected_clusters"


@pytest.mark.parametrize("a, b", [("10.244.0.0/16", "10.244.0.0/16"), ("10.0.0.0/8", "10.244.0.0/16"),
                                  ("10.244.128.0/17", "10.244.0.0/16")])
def test_overlapping_pod_cidrs(a, b):
    err = fails(preflight.check_facts, [fact("a", 1, a), fact("b", 2, b)])
    assert err.details["rule"] == "pod_cidr_overlap" and err.details["members"] == ["a", "b"]
    assert "members a and b" in err.msg and a in err.msg and b in err.msg


def test_ipv4_and_ipv6_do_not_collide():
    preflight.check_facts([fact("a", 1, "10.1.0.0/16"), fact("b", 2, "fd00::/64")])


def test_unknown_pod_cidr():
    err = fails(preflight.check_facts, [fact("a", 1, "10.1.0.0/16"), dict(fact("b", 2, "x"), pod_cidrs=[])])
    assert err.details["rule"] == "pod_cidr" and "member b" in err.msg


@pytest.mark.parametrize("key, label", [("cilium_version", "Cilium version"), ("datapath", "datapath mode"),
                                        ("ipam", "IPAM mode"), ("encryption", "encryption mode"),
                                        ("max_connected_clusters", "maxConnectedClusters")])
def test_uniform_settings(key, label):
    other = fact("b", 2, "10.2.0.0/16", **{key: "something-else"})
    err = fails(preflight.check_facts, [fact("a", 1, "10.1.0.0/16"), other])
    assert err.details["rule"] == "same_" + key and label in err.msg and err.details["member"] == "b"


def test_shared_ca():
    preflight.check_facts([fact("a", 1, "10.1.0.0/16", ca_fingerprint="x"), fact("b", 2, "10.2.0.0/16")])
    err = fails(preflight.check_facts, [fact("a", 1, "10.1.0.0/16", ca_fingerprint="x"),
                                        fact("b", 2, "10.2.0.0/16", ca_fingerprint="y")])
    assert err.details["rule"] == "shared_ca" and "different ClusterMesh CAs" in err.msg
    err = fails(preflight.check_facts, [fact("a", 1, "10.1.0.0/16", ca_fingerprint="x")], given_ca_fingerprint="z")
    assert err.details["rule"] == "shared_ca" and "member a" in err.msg


def test_missing_cluster_id_after_facts():
    err = fails(preflight.check_facts, [fact("a", None, "10.1.0.0/16")])
    assert err.details["rule"] == "cluster_id_range" and "member a" in err.msg


def test_cilium_values_keep_user_values_and_replace_peers():
    f = {"name": "a", "cluster_id": 1, "values": {"ipam": {"mode": "kubernetes"}, "tls": {"ca": {"cert": "old"}},
                                                  "clustermesh": {"config": {"clusters": [{"name": "gone"}]}}}}
    peers = [{"name": "c", "endpoint": "mesh-c.example.com:2379"}, {"name": "b", "endpoint": "10.0.0.2:32379"},
             {"name": "d", "endpoint": None}]
    v = cilium.desired(f, peers, 255)
    assert v["ipam"] == {"mode": "kubernetes"} and "tls" not in v
    assert v["cluster"] == {"name": "a", "id": 1}
    assert v["clustermesh"]["useAPIServer"] is True and v["clustermesh"]["config"]["enabled"] is True
    assert v["clustermesh"]["config"]["clusters"] == [{"name": "b", "port": 32379, "ips": ["10.0.0.2"]},
                                                      {"name": "c", "port": 2379, "address": "mesh-c.example.com"}]
    assert "maxConnectedClusters" not in v["clustermesh"]
    assert cilium.desired(f, [], 511)["clustermesh"]["maxConnectedClusters"] == 511
    gone = cilium.without_mesh(v)
    assert not {"config", "useAPIServer"} & set(gone["clustermesh"]) and gone["cluster"] == {"name": "a", "id": 1}
    assert "clustermesh" not in cilium.without_mesh({"clustermesh": {"useAPIServer": True}})


def test_cilium_config_facts():
    assert cilium.datapath({"routing-mode": "native"}) == "native"
    assert cilium.datapath({"routing-mode": "tunnel", "tunnel-protocol": "geneve"}) == "tunnel/geneve"
    assert cilium.encryption({"enable-wireguard": "true"}) == "wireguard"
    assert cilium.encryption({}) == "disabled"
    assert cilium.pod_cidrs({"cluster-pool-ipv4-cidr": "10.0.0.0/8 10.1.0.0/16"}, {}) == ["10.0.0.0/8", "10.1.0.0/16"]
    assert cilium.pod_cidrs({}, {"pod_cidr": "10.9.0.0/16"}) == ["10.9.0.0/16"]
    assert cilium.chart_version("cilium-1.19.6") == "v1.19.6"
    assert cilium.split_endpoint("https://10.0.0.1:2379") == ("10.0.0.1", 2379)
