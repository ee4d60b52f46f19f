# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""glb: the validation before any call, the members and the switch, the keyed diff, the local zone files."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._net.glb import local, runner, spec


class NoRules:
    def check_options(self, opts):
        pass


def params(**over):
    p = {k: v.get("default") for k, v in spec.GLB_ARG_SPEC.items()}
    p.update(name="global-app", zone="example.com", clusters=[
        {"name": "blue", "endpoint": "203.0.113.10", "region": "us-east-1", "weight": 3},
        {"name": "green", "endpoint": "203.0.113.20", "region": "us-west-2", "weight": 1}])
    p.update(over)
    return p


def test_names_are_normalised():
    opts = spec.validate_static(params(record="App"), NoRules())
    assert opts["zone"] == "example.com." and opts["fqdn"] == "app.example.com."
    assert spec.validate_static(params(record="@"), NoRules())["fqdn"] == "example.com."
    assert spec.validate_static(params(record="x.example.com."), NoRules())["fqdn"] == "x.example.com."
    assert spec.validate_static(params(), NoRules())["fqdn"] == "global-app.example.com."


@pytest.mark.parametrize("over, message", [
    (dict(ttl=0), "ttl: must be 1-86400 seconds, got 0"),
    (dict(ttl=86401), "ttl: must be 1-86400"),
    (dict(zone="bad..zone"), "zone: 'bad..zone' is not a DNS name"),
    (dict(record="x.other.org."), "record: x.other.org. is not inside the zone example.com."),
    (dict(clusters=[]), "clusters: at least one cluster is needed"),
    (dict(clusters=[{"name": "a", "endpoint": "203.0.113.1"}, {"name": "a", "endpoint": "203.0.113.2"}]),
     "clusters[1].name: duplicate set identifier 'a' (also clusters[0])"),
    (dict(clusters=[{"name": "a"}]), "clusters[0].endpoint: no endpoint for cluster a"),
    (dict(clusters=[{"name": "a", "endpoint": "203.0.113.1", "kubeconfig": "/k"}]),
     "clusters[0].endpoint: give either endpoint or kubeconfig"),
    (dict(clusters=[{"name": "a", "kubeconfig": "/k", "ingress_service": "nons"}]),
     "clusters[0].ingress_service: must be <namespace>/<name>"),
    (dict(algorithm="weighted", clusters=[{"name": "a", "endpoint": "203.0.113.1", "weight": 0}]),
     "clusters: the weights sum to zero"),
    (dict(clusters=[{"name": "a", "endpoint": "203.0.113.1", "weight": -1}]), "clusters[0].weight: must be 0 or more"),
    (dict(algorithm="failover", clusters=[{"name": "a", "endpoint": "203.0.113.1"}]),
     "clusters: algorithm=failover takes exactly two clusters"),
    (dict(algorithm="failover", clusters=[{"name": "a", "endpoint": "203.0.113.1", "role": "primary"},
                                          {"name": "b", "endpoint": "203.0.113.2", "role": "primary"}]),
     "clusters: algorithm=failover takes one cluster with role=primary and one with role=secondary"),
    (dict(switch_to="red"), "switch_to: 'red' is not one of the clusters (blue, green)"),
    (dict(health_check={"interval": 20}), "health_check.interval: must be 10 or 30"),
    (dict(health_check={"threshold": 11}), "health_check.threshold: must be 1-10"),
    (dict(health_check={"port": 70000}), "health_check.port: must be a TCP port 1-65535"),
    (dict(health_check={"path": "healthz"}), "health_check.path: must start with '/'"),
    (dict(name="bad name"), "name: must be 1-63 letters"),
])
def test_bad_options_name_the_option(over, message):
    with pytest.raises(AdharError) as err:
        spec.validate_static(params(**over), NoRules())
    assert message in err.value.msg
    assert err.value.details["option"] == message.split(":")[0]


def test_record_type_from_endpoints():
    opts = spec.validate_static(params(), NoRules())
    assert spec.record_type(opts, {"blue": "203.0.113.10", "green": "203.0.113.20"}) == "A"
    assert spec.record_type(opts, {"blue": "2001:db8::1", "green": "2001:db8::2"}) == "AAAA"
    assert spec.record_type(opts, {"blue": "a.example.net", "green": "b.example.net"}) == "CNAME"
    with pytest.raises(AdharError, match="the endpoints mix kinds: A for blue; CNAME for green"):
        spec.record_type(opts, {"blue": "203.0.113.10", "green": "b.example.net"})
    apex = spec.validate_static(params(record="@"), NoRules())
    with pytest.raises(AdharError, match="the zone apex example.com. cannot be a CNAME"):
        spec.record_type(apex, {"blue": "a.example.net", "green": "b.example.net"})


def _members(**over):
    opts = spec.validate_static(params(**over), NoRules())
    return spec.members(opts, {"blue": "203.0.113.10", "green": "203.0.113.20"})


def test_switch_per_algorithm():
    m = {x["cluster"]: x for x in _members(algorithm="weighted", switch_to="green")}
    assert (m["blue"]["weight"], m["green"]["weight"]) == (0, 1)
    m = {x["cluster"]: x for x in _members(algorithm="failover", switch_to="green")}
    assert (m["blue"]["failover"], m["green"]["failover"]) == ("SECONDARY", "PRIMARY")
    m = {x["cluster"]: x for x in _members(algorithm="latency", switch_to="green")}
    assert m["blue"]["values"] == ["203.0.113.20"] and m["blue"]["health"] == "green"
    assert m["blue"]["endpoint"] == "203.0.113.10" and m["blue"]["region"] == "us-east-1"
    m = {x["cluster"]: x for x in _members(algorithm="failover")}
    assert (m["blue"]["failover"], m["green"]["failover"]) == ("PRIMARY", "SECONDARY")


def test_keyed_changes():
    before = {"a": 1, "b": 2, "c": 3}
    after = {"b": 2, "c": 4, "d": 5}
    assert runner.keyed_changes(before, after) == [("DELETE", "a"), ("UPSERT", "c"), ("CREATE", "d")]
    assert runner.keyed_changes(after, after) == []


def test_local_zone_and_weight_files():
    opts = spec.validate_static(params(algorithm="weighted", ttl=5), NoRules())
    members = spec.members(opts, {"blue": "203.0.113.10", "green": "203.0.113.20"})
    health = {"blue": {"healthy": True}, "green": {"healthy": False}}
    recs = local.desired(opts, "A", members, health)
    assert {r["set_identifier"]: r["serving"] for r in recs.values()} == {"blue": True, "green": False}
    zone = local.zone_file("example.com.", recs, 42)
    assert "SOA ns.example.com. hostmaster.example.com. 42 " in zone
    assert "global-app.example.com. 5 IN A 203.0.113.10" in zone and "203.0.113.20" not in zone
    assert local.weight_file(recs).splitlines()[1:3] == ["global-app.example.com", "203.0.113.10 3"]
    # no healthy endpoint: fail open
    down = {"blue": {"healthy": False}, "green": {"healthy": False}}
    assert all(r["serving"] for r in local.desired(opts, "A", members, down).values())


def test_soa_serial_parses_a_real_answer():
    """A tiny UDP server answering one SOA query with a compressed-name answer, as DNS servers do."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        data, peer = sock.recvfrom(512)
        question = data[12:]
        header = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
        mname = b"\x02ns\xc0\x0c"
        rname = b"\x0ahostmaster\xc0\x0c"
        rdata = mname + rname + struct.pack(">IIIII", 2026120501, 7200, 3600, 1209600, 5)
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 3600, len(rdata)) + rdata
        sock.sendto(header + question + answer, peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert local.soa_serial("127.0.0.1", sock.getsockname()[1], "example.com.") == 2026120501
    finally:
        t.join(5)
        sock.close()


def test_poll_until_refreshes_then_gives_up():
    clock = iter(range(0, 100, 1))
    seen = []
    done = runner.poll_until(0, lambda n: n >= 3, lambda n: n + 1, 10, lambda n: AdharError("stuck"),
                             sleep=seen.append, clock=lambda: next(clock))
    assert done == 3 and seen == [2.0, 2.0, 2.0]
    clock = iter(range(0, 100, 1))  # deadline 2: one refresh (at 1), given up at 2
    with pytest.raises(AdharError, match="stuck at 1"):
        runner.poll_until(0, lambda n: False, lambda n: n + 1, 2, lambda n: AdharError("stuck at %d" % n),
                          sleep=lambda s: None, clock=lambda: next(clock))
