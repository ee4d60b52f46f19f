# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.glb with provider route53, run by ansible-playbook against moto in server mode.

Every AWS request goes through the counting proxy of test_cluster_eks (service, operation, write or not), so "zero
writes" is counted, not assumed.  Records and health checks are read back with boto3 directly from moto.

moto deletes a record set by SetIdentifier alone, whatever its name, so each test uses its own hosted zone.
"""

from __future__ import annotations

import types
import uuid

import pytest

import moto_server
from moto_server import REGION
# the counting proxy in front of moto and the ansible runner of the EKS tests, as fixtures here
from test_cluster_eks import proxy, runner  # noqa: F401  pylint: disable=unused-import

boto3 = pytest.importorskip("boto3")

moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)


@pytest.fixture(scope="module")
def r53(moto_endpoint):
    return boto3.client("route53", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture()
def zone(r53):
    name = "glb-%s.example.com" % uuid.uuid4().hex[:8]
    zone_id = r53.create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"].rsplit("/", 1)[-1]
    return types.SimpleNamespace(name=name, id=zone_id)


CLUSTERS = [
    {"name": "prod-us-east", "endpoint": "203.0.113.10", "region": "us-east-1"},
    {"name": "prod-us-west", "endpoint": "203.0.113.20", "region": "us-west-2"},
    {"name": "prod-eu", "endpoint": "203.0.113.30", "region": "eu-west-1"},
]


def task(proxy, zone_ns, **extra):
    args = {"name": "global-app", "provider": "route53", "zone": zone_ns.name, "algorithm": "latency",
            "clusters": CLUSTERS, "endpoint_url": proxy.url, "region": REGION, "access_key": "testing",
            "secret_key": "testing", "ttl": 30, "drain": False, "wait_timeout": 30}
    args.update(extra)
    return args


def run(runner, proxy, args, check=False, diff=False, expect_fail=False):
    proxy.reset()
    result = runner.module("adhar.platform.glb", args, check=check, diff=diff, expect_fail=expect_fail)
    return result, proxy.writes()


def routed(r53, zone):
    sets = r53.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]
    return {r["SetIdentifier"]: r for r in sets if r.get("SetIdentifier")}


def our_checks(r53):
    return {hc["Id"]: hc for hc in r53.list_health_checks()["HealthChecks"]
            if hc["CallerReference"].startswith("adhar-glb-")}


def test_bad_input_fails_before_any_write(runner, proxy, zone, r53):
    cases = [
        ("unknown region", dict(clusters=[dict(CLUSTERS[0], region="mars-1")]), "clusters[0].region: 'mars-1' is not a Route 53 region"),
        ("no region for latency", dict(clusters=[{"name": "a", "endpoint": "203.0.113.1"}]),
         "clusters[0].region: algorithm=latency needs the AWS region"),
        ("weights sum to zero", dict(algorithm="weighted", clusters=[dict(c, weight=0) for c in CLUSTERS]),
         "clusters: the weights sum to zero"),
        ("weight over 255", dict(algorithm="weighted", clusters=[dict(CLUSTERS[0], weight=300)]),
         "clusters[0].weight: Route 53 weights are whole numbers 0-255, got 300"),
        ("duplicate set identifier", dict(clusters=[CLUSTERS[0], dict(CLUSTERS[1], name="prod-us-east")]),
         "clusters[1].name: duplicate set identifier 'prod-us-east'"),
        ("bad ttl", dict(ttl=0), "ttl: must be 1-86400 seconds, got 0"),
        ("bad interval", dict(health_check={"interval": 15}), "health_check.interval: must be 10 or 30"),
        ("mixed endpoint kinds", dict(clusters=[CLUSTERS[0], dict(CLUSTERS[1], endpoint="lb.example.net")]),
         "clusters: the endpoints mix kinds"),
        ("failover of three", dict(algorithm="failover"), "clusters: algorithm=failover takes exactly two clusters"),
        ("failover primary without check", dict(algorithm="failover", clusters=CLUSTERS[:2], health_check={"enabled": False}),
         "health_check: Route 53 needs a health check on a failover PRIMARY record"),
        ("switch to a stranger", dict(switch_to="prod-mars"), "switch_to: 'prod-mars' is not one of the clusters"),
        ("geolocation without location", dict(algorithm="geolocation"), "clusters[0].location: algorithm=geolocation needs"),
        ("no such zone", dict(zone="nowhere.example.org"), "zone: no Route 53 hosted zone named nowhere.example.org."),
    ]
    for label, extra, message in cases:
        result, writes = run(runner, proxy, task(proxy, zone, **extra), expect_fail=True)
        assert message in result["msg"], (label, result["msg"])
        assert writes == [], (label, writes)
    assert routed(r53, zone) == {}
    assert our_checks(r53) == {}


def test_latency_lifecycle(runner, proxy, zone, r53):
    fqdn = "global-app.%s." % zone.name

    # check mode first: reports the plan, writes nothing
    result, writes = run(runner, proxy, task(proxy, zone), check=True, diff=True)
    assert result["changed"] and writes == []
    assert sorted(c["set_identifier"] for c in result["changes"] if "set_identifier" in c) == sorted(
        c["name"] for c in CLUSTERS)
    assert routed(r53, zone) == {}

    result, writes = run(runner, proxy, task(proxy, zone), diff=True)
    assert result["changed"] and result["record"] == fqdn and result["record_type"] == "A"
    ops = [op for s, op in writes]
    assert len([o for o in ops if o.endswith("/healthcheck")]) == 3, ops  # one health check per endpoint
    assert len([o for o in ops if o.endswith("/rrset") or o.endswith("/rrset/")]) == 1, ops  # one batch
    sets = routed(r53, zone)
    assert set(sets) == {"prod-us-east", "prod-us-west", "prod-eu"}
    checks = our_checks(r53)
    assert len(checks) == 3
    for c in CLUSTERS:
        rr = sets[c["name"]]
        assert rr["Name"] == fqdn and rr["Type"] == "A" and rr["Region"] == c["region"] and rr["TTL"] == 30
        assert [v["Value"] for v in rr["ResourceRecords"]] == [c["endpoint"]]
        hc = checks[rr["HealthCheckId"]]["HealthCheckConfig"]
        assert hc["IPAddress"] == c["endpoint"] and hc["Type"] == "HTTP" and hc["ResourcePath"] == "/healthz"
        assert hc["Port"] == 80 and hc["RequestInterval"] == 30 and hc["FailureThreshold"] == 3
    assert result["diff"]["before"]["records"] == {}
    assert len(result["diff"]["after"]["records"]) == 3

    # unchanged re-run: reads only
    result, writes = run(runner, proxy, task(proxy, zone))
    assert not result["changed"] and result["changes"] == [] and writes == [], (result["changes"], writes)

    # switch to one cluster: every latency set answers with its endpoint and health check
    result, writes = run(runner, proxy, task(proxy, zone, switch_to="prod-eu"))
    assert result["changed"] and result["switched_to"] == "prod-eu" and result["drained_seconds"] == 0
    sets = routed(r53, zone)
    eu_check = sets["prod-eu"]["HealthCheckId"]
    for name in ("prod-us-east", "prod-us-west", "prod-eu"):
        assert [v["Value"] for v in sets[name]["ResourceRecords"]] == ["203.0.113.30"]
        assert sets[name]["HealthCheckId"] == eu_check
    assert sets["prod-us-west"]["Region"] == "us-west-2"
    assert len(our_checks(r53)) == 3  # one per endpoint, kept for the way back
    result, writes = run(runner, proxy, task(proxy, zone, switch_to="prod-eu"))
    assert not result["changed"] and writes == []

    # a health-check setting changes: new checks, records repointed, old checks deleted
    result, writes = run(runner, proxy, task(proxy, zone, health_check={"path": "/ready", "interval": 10}))
    assert result["changed"]
    checks = our_checks(r53)
    assert len(checks) == 3 and eu_check not in checks
    assert {hc["HealthCheckConfig"]["ResourcePath"] for hc in checks.values()} == {"/ready"}
    sets = routed(r53, zone)
    assert {sets[c["name"]]["HealthCheckId"] for c in CLUSTERS} == set(checks)
    assert [v["Value"] for v in sets["prod-us-east"]["ResourceRecords"]] == ["203.0.113.10"]

    # absent removes records and health checks; again is unchanged
    result, writes = run(runner, proxy, task(proxy, zone, state="absent", clusters=None))
    assert result["changed"]
    assert routed(r53, zone) == {} and our_checks(r53) == {}
    result, writes = run(runner, proxy, task(proxy, zone, state="absent", clusters=None))
    assert not result["changed"] and writes == []


def test_weighted_switch_and_failover(runner, proxy, zone, r53):
    weighted = [dict(CLUSTERS[0], weight=3), dict(CLUSTERS[1], weight=1)]
    args = task(proxy, zone, algorithm="weighted", clusters=weighted, health_check={"enabled": False}, record="app")
    result, writes = run(runner, proxy, args)
    assert result["changed"] and result["record"] == "app.%s." % zone.name
    sets = routed(r53, zone)
    assert {k: v["Weight"] for k, v in sets.items()} == {"prod-us-east": 3, "prod-us-west": 1}
    assert all("HealthCheckId" not in v for v in sets.values())
    assert not any("healthcheck" in op for s, op in writes)

    result, writes = run(runner, proxy, dict(args, switch_to="prod-us-west", drain=True, ttl=2))
    assert result["changed"] and result["drained_seconds"] == 2
    assert {k: v["Weight"] for k, v in routed(r53, zone).items()} == {"prod-us-east": 0, "prod-us-west": 1}

    # the same set identifiers, now a failover pair: the routing policy changes by delete + create in one batch
    result, writes = run(runner, proxy, dict(args, algorithm="failover", health_check={"protocol": "TCP", "port": 443}))
    assert result["changed"]
    assert len([op for s, op in writes if op.endswith("/rrset") or op.endswith("/rrset/")]) == 1
    sets = routed(r53, zone)
    assert {k: v["Failover"] for k, v in sets.items()} == {"prod-us-east": "PRIMARY", "prod-us-west": "SECONDARY"}
    assert all("Weight" not in v for v in sets.values())
    checks = our_checks(r53)
    assert {hc["HealthCheckConfig"]["Type"] for hc in checks.values()} == {"TCP"}

    result, writes = run(runner, proxy, dict(args, algorithm="failover", health_check={"protocol": "TCP", "port": 443},
                                             switch_to="prod-us-west"))
    failover = {k: v["Failover"] for k, v in routed(r53, zone).items()}
    assert failover == {"prod-us-east": "SECONDARY", "prod-us-west": "PRIMARY"}
    run(runner, proxy, dict(args, state="absent"))
    assert routed(r53, zone) == {} and our_checks(r53) == {}
