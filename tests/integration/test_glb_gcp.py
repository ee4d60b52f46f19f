# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.glb with provider gcp, run by ansible-playbook against the discovery-validated fake (gcp_fake.py).

Every request the module sends is checked against Google's discovery documents (dns.v1, compute.v1): an unknown
field or a wrong type is answered 400 and recorded, and each test ends by asserting nothing was rejected.  The fake's
Cloud DNS refuses deletions that do not match the current record set and health checks still in use, as the real one.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

import gcp_fake
# the environment cleanup, the ansible runner and the "nothing rejected" check of the GKE tests, as fixtures here
from test_cluster_gke import PROJECT, TOKEN, clean_gcp_env, nothing_rejected, runner  # noqa: F401  pylint: disable=unused-import

pytest.importorskip("googleapiclient")
CHANGE = ("POST", "dns.changes.create")
HC_INSERT = ("POST", "compute.healthChecks.insert")
HC_DELETE = ("DELETE", "compute.healthChecks.delete")

gcp = pytest.fixture(scope="module", name="gcp")(gcp_fake.serve)

CLUSTERS = [
    {"name": "prod-us-east", "endpoint": "203.0.113.10", "region": "us-east1"},
    {"name": "prod-us-west", "endpoint": "203.0.113.20", "region": "us-west1"},
    {"name": "prod-eu", "endpoint": "203.0.113.30", "region": "europe-west1"},
]


@pytest.fixture()
def zone(gcp):
    """A managed zone made through the (validated) API, as a user would have it."""
    dns_name = "glb-%s.example.com." % uuid.uuid4().hex[:8]
    name = dns_name.split(".", maxsplit=1)[0]
    req = urllib.request.Request(gcp.url + "dns/v1/projects/%s/managedZones" % PROJECT, method="POST",
                                 data=json.dumps({"name": name, "dnsName": dns_name, "description": "glb tests"}).encode(),
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    return {"name": name, "dns_name": dns_name}


def task(gcp, zone_info, **extra):
    args = {"name": "global-app", "provider": "gcp", "zone": zone_info["dns_name"], "algorithm": "latency",
            "clusters": CLUSTERS, "project": PROJECT, "access_token": TOKEN, "gcp_endpoint_url": gcp.url,
            "ttl": 30, "drain": False, "wait_timeout": 30}
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def run(runner, gcp, args, check=False, diff=False, expect_fail=False):
    gcp.reset()
    result = runner.module("adhar.platform.glb", args, check=check, diff=diff, expect_fail=expect_fail)
    return result, gcp.writes()


def rrsets(gcp, zone_info):
    return {(r["name"], r["type"]): r for r in gcp.state()["dns"]["rrsets"].get("%s/%s" % (PROJECT, zone_info["name"]), [])}


def checks(gcp):
    return {k.split("/", 1)[1]: c for k, c in gcp.state()["dns"]["health_checks"].items() if "/adhar-glb-" in "/" + k.split("/", 1)[1]}


def test_bad_input_fails_before_any_write(runner, gcp, zone):
    cases = [
        ("not a gcp region", dict(clusters=[dict(CLUSTERS[0], region="us-east-1")]),
         "clusters[0].region: 'us-east-1' is not a Google Cloud region"),
        ("latency without region", dict(clusters=[{"name": "a", "endpoint": "203.0.113.1"}]),
         "clusters[0].region: algorithm=latency on Cloud DNS needs the Google Cloud region"),
        ("two clusters one region", dict(clusters=[CLUSTERS[0], dict(CLUSTERS[1], region="us-east1")]),
         "clusters[1].region: clusters prod-us-east and prod-us-west share the location us-east1"),
        ("interval 10", dict(health_check={"interval": 10}), "health_check.interval: Cloud DNS probes external endpoints"),
        ("failover without checks", dict(algorithm="failover", clusters=CLUSTERS[:2], health_check={"enabled": False}),
         "health_check: Cloud DNS failover (primaryBackup) needs health-checked primary targets"),
        ("checked host names", dict(clusters=[dict(CLUSTERS[0], endpoint="lb.example.net")]),
         "health_check: Cloud DNS health-checks IP addresses only"),
        ("weights sum to zero", dict(algorithm="weighted", clusters=[dict(c, weight=0) for c in CLUSTERS]),
         "clusters: the weights sum to zero"),
        ("alias on gcp", dict(clusters=[dict(CLUSTERS[0], alias_hosted_zone_id="Z1")]),
         "clusters[0].alias_hosted_zone_id: alias targets are Route 53 only"),
        ("record outside zone", dict(record="app.other.org."), "record: app.other.org. is not inside the zone"),
        ("no such zone", dict(zone="nowhere.example.org"), "zone: no Cloud DNS managed zone with the DNS name nowhere.example.org."),
    ]
    for label, extra, message in cases:
        result, writes = run(runner, gcp, task(gcp, zone, **extra), expect_fail=True)
        assert message in result["msg"], (label, result["msg"])
        assert writes == [], (label, writes)
    assert rrsets(gcp, zone) == {} and checks(gcp) == {}


def test_latency_as_geolocation_lifecycle(runner, gcp, zone):
    fqdn = "global-app." + zone["dns_name"]
    result, writes = run(runner, gcp, task(gcp, zone), check=True, diff=True)
    assert result["changed"] and writes == []
    assert rrsets(gcp, zone) == {}

    result, writes = run(runner, gcp, task(gcp, zone), diff=True)
    assert result["changed"] and result["record"] == fqdn
    assert any("no latency-based routing" in n for n in result["notes"])
    assert writes == [HC_INSERT, CHANGE], writes
    rr = rrsets(gcp, zone)[(fqdn, "A")]
    assert rr["ttl"] == 30
    policy = rr["routingPolicy"]
    hc_name = policy["healthCheck"].rsplit("/", 1)[-1]
    items = {i["location"]: i["healthCheckedTargets"]["externalEndpoints"] for i in policy["geo"]["items"]}
    assert items == {"us-east1": ["203.0.113.10"], "us-west1": ["203.0.113.20"], "europe-west1": ["203.0.113.30"]}
    hc = checks(gcp)[hc_name]
    assert hc["type"] == "HTTP" and hc["httpHealthCheck"] == {"port": 80, "requestPath": "/healthz"}
    assert hc["checkIntervalSec"] == 30 and hc["unhealthyThreshold"] == 3 and len(hc["sourceRegions"]) == 3
    assert sorted(r["set_identifier"] for r in result["records"]) == sorted(c["name"] for c in CLUSTERS)
    assert result["diff"]["before"]["records"] == {} and len(result["diff"]["after"]["records"]) == 3

    result, writes = run(runner, gcp, task(gcp, zone))
    assert not result["changed"] and writes == [] and result["changes"] == []

    result, writes = run(runner, gcp, task(gcp, zone, switch_to="prod-eu"))
    assert result["changed"] and writes == [CHANGE]
    assert {c["set_identifier"] for c in result["changes"]} == {"prod-us-east", "prod-us-west"}
    policy = rrsets(gcp, zone)[(fqdn, "A")]["routingPolicy"]
    assert {i["location"]: i["healthCheckedTargets"]["externalEndpoints"] for i in policy["geo"]["items"]} == {
        "us-east1": ["203.0.113.30"], "us-west1": ["203.0.113.30"], "europe-west1": ["203.0.113.30"]}
    result, writes = run(runner, gcp, task(gcp, zone, switch_to="prod-eu"))
    assert not result["changed"] and writes == []

    # new health-check settings: a new check, the record repointed, then the old check deleted (in that order)
    result, writes = run(runner, gcp, task(gcp, zone, health_check={"protocol": "TCP", "port": 443}))
    assert writes == [HC_INSERT, CHANGE, HC_DELETE], writes
    assert list(checks(gcp)) != [hc_name] and len(checks(gcp)) == 1

    result, writes = run(runner, gcp, task(gcp, zone, state="absent", clusters=None))
    assert result["changed"] and writes == [CHANGE, HC_DELETE]
    assert rrsets(gcp, zone) == {} and checks(gcp) == {}
    result, writes = run(runner, gcp, task(gcp, zone, state="absent", clusters=None))
    assert not result["changed"] and writes == []


def test_weighted_and_failover(runner, gcp, zone):
    fqdn = "app." + zone["dns_name"]
    weighted = [dict(CLUSTERS[0], weight=3), dict(CLUSTERS[1], weight=1)]
    args = task(gcp, zone, record="app", algorithm="weighted", clusters=weighted, health_check={"enabled": False})
    result, writes = run(runner, gcp, args)
    assert writes == [CHANGE] and not result["notes"]
    policy = rrsets(gcp, zone)[(fqdn, "A")]["routingPolicy"]
    assert [(i["weight"], i["rrdatas"]) for i in policy["wrr"]["items"]] == [(3.0, ["203.0.113.10"]), (1.0, ["203.0.113.20"])]
    assert "healthCheck" not in policy

    result, writes = run(runner, gcp, dict(args, switch_to="prod-us-west"))
    assert result["changed"]
    assert [i["weight"] for i in rrsets(gcp, zone)[(fqdn, "A")]["routingPolicy"]["wrr"]["items"]] == [0.0, 1.0]
    result, writes = run(runner, gcp, dict(args, switch_to="prod-us-west"))
    assert not result["changed"] and writes == []

    failover = dict(args, algorithm="failover", health_check={"enabled": True})
    result, writes = run(runner, gcp, failover)
    assert writes == [HC_INSERT, CHANGE], writes
    pb = rrsets(gcp, zone)[(fqdn, "A")]["routingPolicy"]["primaryBackup"]
    assert pb["primaryTargets"]["externalEndpoints"] == ["203.0.113.10"]
    assert pb["backupGeoTargets"]["items"] == [{"location": "us-west1", "rrdatas": ["203.0.113.20"]}]
    result, writes = run(runner, gcp, failover)
    assert not result["changed"] and writes == []
    result, writes = run(runner, gcp, dict(failover, switch_to="prod-us-west"))
    pb = rrsets(gcp, zone)[(fqdn, "A")]["routingPolicy"]["primaryBackup"]
    assert pb["primaryTargets"]["externalEndpoints"] == ["203.0.113.20"]
    assert pb["backupGeoTargets"]["items"][0]["rrdatas"] == ["203.0.113.10"]
    run(runner, gcp, dict(args, state="absent"))
    assert rrsets(gcp, zone) == {} and checks(gcp) == {}
