# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for plugins/module_utils/_cluster/health.py.

Pure helpers are tested with crafted inputs.  The probe code is exercised
against a real HTTPS server in a thread (certificates made here with
``cryptography``), through a real ``K8sClient``: no mocks of the code under test.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.adhar.platform.plugins.module_utils._cluster import health
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


# -- certificates ---------------------------------------------------------------


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject_cn, key, issuer_cert=None, issuer_key=None, days=365, ca=False, san_ip=None, not_before=None):
    not_before = not_before or (datetime.datetime.now(UTC) - datetime.timedelta(days=1))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san_ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write_pem(path, *objs):
    data = b""
    for obj in objs:
        if isinstance(obj, x509.Certificate):
            data += obj.public_bytes(serialization.Encoding.PEM)
        else:
            data += obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("test-ca", ca_key, ca=True, days=3650)
    srv_key = _key()
    srv = _cert("kube-apiserver", srv_key, ca, ca_key, days=20, san_ip="127.0.0.1")
    cli_key = _key()
    cli = _cert("admin", cli_key, ca, ca_key, days=365)
    return SimpleNamespace(
        ca_cert=_write_pem(base / "ca.crt", ca),
        server_cert=_write_pem(base / "server.crt", srv),
        server_key=_write_pem(base / "server.key", srv_key),
        client_cert=_write_pem(base / "admin.crt", cli),
        client_key=_write_pem(base / "admin.key", cli_key),
        dir=base,
    )


# -- percentile / latency -------------------------------------------------------


def test_percentile_empty_and_single():
    assert health.percentile([], 50) is None
    assert health.percentile([7], 99) == 7.0


def test_percentile_linear_interpolation():
    values = list(range(1, 101))  # 1..100, unsorted input must not matter
    values.reverse()
    assert health.percentile(values, 0) == 1.0
    assert health.percentile(values, 100) == 100.0
    assert health.percentile(values, 50) == pytest.approx(50.5)
    assert health.percentile(values, 99) == pytest.approx(99.01)
    assert health.percentile([10, 20], 25) == pytest.approx(12.5)


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError):
        health.percentile([1, 2], 101)


def test_latency_summary():
    summary = health.latency_summary([3.0, 1.0, 2.0, 10.0], errors=1, probes=5)
    assert summary == {"probes": 5, "path": "/readyz", "p50_ms": 2.5, "p99_ms": 9.79, "max_ms": 10.0, "errors": 1}
    empty = health.latency_summary([], errors=3)
    assert empty["probes"] == 3 and empty["p50_ms"] is None and empty["max_ms"] is None


# -- timestamps / leases ----------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T11:59:50.123456Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 123456, tzinfo=UTC)),
    ("2026-03-01T11:59:50Z", datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    ("2026-03-01T11:59:50.123456789Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 123456, tzinfo=UTC)),
    ("2026-03-01T13:59:50.5+02:00", datetime.datetime(2026, 3, 1, 11, 59, 50, 500000, tzinfo=UTC)),
    (datetime.datetime(2026, 3, 1, 11, 59, 50), datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    (None, None),
])
def test_parse_timestamp(text, expected):
    assert health.parse_timestamp(text) == expected


def _lease(holder, renew, duration=15):
    return {"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": holder, "renewTime": renew, "leaseDurationSeconds": duration}}


def test_lease_fresh():
    status = health.lease_status(_lease("host_abc", "2026-03-01T11:59:58.000000Z"), now=NOW)
    assert status == {"holder": "host_abc", "renew_time": "2026-03-01T11:59:58Z", "lease_duration_seconds": 15,
                      "age_seconds": 2.0, "expired_seconds": 0.0, "stale": False}


def test_lease_stale_after_duration():
    status = health.lease_status(_lease("host_abc", "2026-03-01T11:59:00.000000Z"), now=NOW)
    assert status["stale"] is True
    assert status["age_seconds"] == 60.0
    assert status["expired_seconds"] == 45.0


def test_lease_exactly_at_expiry_is_not_stale():
    assert health.lease_status(_lease("h", "2026-03-01T11:59:45Z"), now=NOW)["stale"] is False


def test_lease_without_holder_is_stale():
    assert health.lease_status(_lease("", "2026-03-01T11:59:59Z"), now=NOW)["stale"] is True
    assert health.lease_status(_lease("h", None), now=NOW)["stale"] is True


def test_lease_missing():
    status = health.lease_status(None, now=NOW)
    assert status["stale"] is True and status["holder"] is None and status["age_seconds"] is None


def test_lease_from_sdk_object():
    spec = SimpleNamespace(holder_identity="host_x", renew_time=datetime.datetime(2026, 3, 1, 11, 59, 55, tzinfo=UTC),
                           lease_duration_seconds=15)
    status = health.lease_status(SimpleNamespace(spec=spec), now=NOW)
    assert status["holder"] == "host_x" and status["stale"] is False and status["age_seconds"] == 5.0


# -- etcd JSON (int64 as strings, as the gateway sends them) ---------------------------

STATUS_JSON = {
    "header": {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437", "revision": "812", "raft_term": "3"},
    "version": "3.6.16",
    "dbSize": "2113536",
    "leader": "10276657743932975437",
    "raftIndex": "930",
    "raftTerm": "3",
    "raftAppliedIndex": "930",
    "dbSizeInUse": "1429504",
    "dbSizeQuota": "2147483648",
    "storageVersion": "3.6.0",
}


def test_parse_etcd_status_strings():
    status = health.parse_etcd_status(STATUS_JSON)
    assert status["member_id"] == "8e9e05c52164694d"  # etcdctl's hex form of 10276657743932975437
    assert status["leader"] == status["member_id"]
    assert status["db_size"] == 2113536
    assert status["db_size_in_use"] == 1429504
    assert status["quota_bytes"] == 2147483648
    assert status["raft_term"] == 3
    assert status["version"] == "3.6.16"
    assert status["errors"] == [] and status["is_learner"] is False


def test_parse_etcd_status_numbers_camel_case_and_no_leader():
    data = {"header": {"memberId": 12345}, "dbSize": 100, "raftTerm": 7, "errors": ["etcdserver: no leader"], "isLearner": True}
    status = health.parse_etcd_status(data)
    assert status["member_id"] == "3039" and status["leader"] is None
    assert status["db_size"] == 100 and status["db_size_in_use"] == 0 and status["quota_bytes"] is None
    assert status["errors"] == ["etcdserver: no leader"] and status["is_learner"] is True


def test_parse_etcd_status_rejects_non_object():
    with pytest.raises(ValueError):
        health.parse_etcd_status(["nope"])


def test_parse_etcd_alarms():
    data = {"header": {}, "alarms": [{"memberID": "10276657743932975437", "alarm": "NOSPACE"},
                                     {"memberID": "2", "alarm": 2}, {"memberID": "3", "alarm": "NONE"}]}
    assert health.parse_etcd_alarms(data) == [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE"}, {"member_id": "2", "alarm": "CORRUPT"}]
    assert health.parse_etcd_alarms({"header": {}}) == []
    assert health.parse_etcd_alarms(None) == []


def test_alarms_from_status_errors():
    errors = ["memberID:10276657743932975437 alarm:NOSPACE ", "etcdserver: no leader"]
    assert health.alarms_from_status_errors(errors) == [{"member_id": "8e9e05c52164694d", "alarm": "NOSPACE"}]


def test_parse_etcd_members():
    data = {"members": [{"ID": "10276657743932975437", "name": "etcd-0", "peerURLs": ["https://127.0.0.1:2380"],
                         "clientURLs": ["https://127.0.0.1:2379"]}, {"ID": "5", "peerURLs": ["https://127.0.0.1:2382"], "isLearner": True}]}
    members = health.parse_etcd_members(data)
    assert members[0] == {"member_id": "8e9e05c52164694d", "name": "etcd-0", "client_urls": ["https://127.0.0.1:2379"],
                          "peer_urls": ["https://127.0.0.1:2380"], "is_learner": False}
    assert members[1]["name"] == "" and members[1]["is_learner"] is True


@pytest.mark.parametrize("status, body, expected", [
    (200, b'{"health":"true","reason":""}', (True, "")),
    (503, b'{"health":"false","reason":"RAFT NO LEADER"}', (False, "RAFT NO LEADER")),
    (503, b'{"health":"false"}', (False, "HTTP 503")),
    (404, b"404 page not found", (False, "HTTP 404: unexpected answer")),
])
def test_parse_etcd_health(status, body, expected):
    assert health.parse_etcd_health(status, body) == expected


def test_parse_readyz():
    body = b"[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n" \
           b"readyz check failed\n"
    assert health.parse_readyz(500, body) == (False, ["etcd", "poststarthook/rbac/bootstrap-roles"])
    assert health.parse_readyz(200, b"[+]ping ok\nreadyz check passed\n") == (True, [])
    assert health.parse_readyz(403, b'{"kind":"Status"}') == (False, [])


def test_summarize_nodes_dicts_and_objects():
    nodes = [
        {"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False"}]}},
        {"metadata": {"name": "n0"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        SimpleNamespace(metadata=SimpleNamespace(name="n1"), status=SimpleNamespace(conditions=None)),
    ]
    assert health.summarize_nodes(nodes) == {"ready": 1, "total": 3, "not_ready": ["n1", "n2"]}
    assert health.summarize_nodes([]) == {"ready": 0, "total": 0, "not_ready": []}


# -- certificates -------------------------------------------------------------------------


def test_certificate_entry_days_left():
    key = _key()
    cert = _cert("soon", key, days=10, not_before=NOW - datetime.timedelta(days=1))  # expires NOW + 9 days
    entry = health.certificate_entry(cert, "x.crt", now=NOW)
    assert entry == {"source": "x.crt", "subject": "CN=soon", "not_after": "2026-03-10T12:00:00Z", "days_left": 9.0}


def test_certificates_from_files_bundle_and_missing(tmp_path):
    key = _key()
    a = _cert("a", key, days=100, not_before=NOW)
    b = _cert("b", key, days=1, not_before=NOW - datetime.timedelta(days=3))
    single = _write_pem(tmp_path / "a.crt", a)
    bundle = _write_pem(tmp_path / "bundle.crt", a, b)
    entries = health.certificates_from_files([single, bundle, str(tmp_path / "missing.crt")], now=NOW)
    assert [e["source"] for e in entries] == [single, bundle + "[0]", bundle + "[1]", str(tmp_path / "missing.crt")]
    assert entries[0]["days_left"] == 100.0
    assert entries[2]["days_left"] == -2.0
    assert entries[3]["error"].startswith("file not found")


# -- etcd report ------------------------------------------------------------------------------


def _probe(name, member_id, leader, db_size=1000, quota=None, reachable=True, healthy=True, term=3, errors=None, error=None):
    status = None
    if reachable:
        status = {"member_id": member_id, "leader": leader, "db_size": db_size, "db_size_in_use": db_size // 2, "quota_bytes": quota,
                  "raft_term": term, "version": "3.6.16", "is_learner": False, "errors": errors or []}
    return {"name": name, "url": "https://127.0.0.1:%d" % (2379 + int(name[-1]) * 10), "reachable": reachable, "healthy": healthy,
            "health_reason": None if healthy else "RAFT NO LEADER", "status": status, "error": error}


def test_build_etcd_report_healthy_three_members():
    probes = [_probe("etcd-0", "a", "a"), _probe("etcd-1", "b", "a"), _probe("etcd-2", "c", "a")]
    report = health.build_etcd_report(probes, alarms=[], member_list=None, quota_bytes=4000)
    assert report["leader"] == "etcd-0" and report["leader_id"] == "a"
    assert [m["is_leader"] for m in report["members"]] == [True, False, False]
    assert report["members"][0]["usage_percent"] == 25.0 and report["members"][0]["quota_bytes"] == 4000
    assert report["quorum"] is True and report["healthy_members"] == 3 and report["alarms"] == []
    assert health.evaluate_reasons({"etcd": report}) == []


def test_build_etcd_report_quota_precedence_and_default():
    report = health.build_etcd_report([_probe("etcd-0", "a", "a", db_size=900, quota=1000)], alarms=[], quota_bytes=5000)
    assert report["members"][0]["quota_bytes"] == 1000 and report["members"][0]["usage_percent"] == 90.0
    report = health.build_etcd_report([_probe("etcd-0", "a", "a")], alarms=[])
    assert report["members"][0]["quota_bytes"] == health.ETCD_DEFAULT_QUOTA_BYTES


def test_build_etcd_report_alarms_from_status_errors_when_alarm_list_unavailable():
    errors = ["memberID:%d alarm:NOSPACE " % int("a", 16)]
    probes = [_probe("etcd-0", "a", "a", errors=errors), _probe("etcd-1", "b", "a", errors=errors)]
    report = health.build_etcd_report(probes, alarms=None)
    assert report["alarms"] == [{"member_id": "a", "alarm": "NOSPACE", "member": "etcd-0"}]
    assert report["members"][0]["alarms"] == ["NOSPACE"] and report["members"][1]["alarms"] == []


def test_build_etcd_report_names_alarms_from_member_list():
    report = health.build_etcd_report([_probe("etcd-0", "a", "a")], alarms=[{"member_id": "ff", "alarm": "CORRUPT"}],
                                      member_list=[{"member_id": "ff", "name": "etcd-9"}])
    assert report["alarms"][0]["member"] == "etcd-9"


def test_build_etcd_report_leader_disagreement_picks_highest_term():
    probes = [_probe("etcd-0", "a", "a", term=3), _probe("etcd-1", "b", "b", term=4), _probe("etcd-2", "c", "b", term=4)]
    report = health.build_etcd_report(probes, alarms=[])
    assert report["leader"] == "etcd-1" and report["leader_disagreement"] == ["etcd-0", "etcd-1"]


# -- reasons ----------------------------------------------------------------------------------


def _healthy_input():
    return {
        "endpoint": {"url": "https://127.0.0.1:6443", "error": None},
        "apiservers": [{"name": "apiserver-0", "url": "https://127.0.0.1:6444", "ready": True, "detail": "ok", "checks_failed": []}],
        "etcd": health.build_etcd_report([_probe("etcd-0", "a", "a")], alarms=[]),
        "leaders": {"kube_controller_manager": health.lease_status(_lease("h1", "2026-03-01T11:59:59Z"), now=NOW),
                    "kube_scheduler": health.lease_status(_lease("h2", "2026-03-01T11:59:59Z"), now=NOW)},
        "nodes": {"ready": 3, "total": 3, "not_ready": []},
        "certificates": [{"source": "/pki/ca.crt", "subject": "CN=ca", "not_after": "2036-01-01T00:00:00Z", "days_left": 3593.5}],
        "latency": health.latency_summary([1.0, 2.0], errors=0),
    }


def test_evaluate_reasons_healthy():
    assert health.evaluate_reasons(_healthy_input()) == []


def test_evaluate_reasons_degraded_ha():
    data = _healthy_input()
    data["apiservers"].append({"name": "apiserver-1", "url": "https://127.0.0.1:6445", "ready": False, "detail": "connection refused",
                               "checks_failed": []})
    data["apiservers"].append({"name": "apiserver-2", "url": "https://127.0.0.1:6446", "ready": False, "detail": "HTTP 500",
                               "checks_failed": ["etcd"]})
    probes = [
        _probe("etcd-0", "a", "a", db_size=910, quota=1000),
        _probe("etcd-1", "b", "a"),
        _probe("etcd-2", "c", None, reachable=False, healthy=False, error="connection refused"),
    ]
    data["etcd"] = health.build_etcd_report(probes, alarms=[{"member_id": "a", "alarm": "NOSPACE"}])
    data["leaders"]["kube_scheduler"] = health.lease_status(_lease("old-holder", "2026-03-01T11:59:00Z"), now=NOW)
    data["nodes"] = {"ready": 3, "total": 5, "not_ready": ["n1", "n2"]}
    data["certificates"].append({"source": "/pki/apiserver.crt", "subject": "CN=kube-apiserver", "not_after": "x", "days_left": 12.34})
    data["certificates"].append({"source": "/pki/old.crt", "subject": "CN=old", "not_after": "x", "days_left": -3.0})
    data["latency"] = dict(health.latency_summary([1.0], errors=2, probes=3), last_error="HTTP 500")
    assert health.evaluate_reasons(data) == [
        "apiserver-1 (https://127.0.0.1:6445) not ready: connection refused",
        "apiserver-2 (https://127.0.0.1:6446) not ready: HTTP 500 (failed checks: etcd)",
        "etcd-0 DB 91% of quota",
        "etcd-2 unreachable: connection refused",
        "etcd alarm NOSPACE on etcd-0",
        "no kube-scheduler leader (lease stale 45s, last holder old-holder)",
        "2/5 nodes not Ready: n1, n2",
        "certificate /pki/apiserver.crt (CN=kube-apiserver) expires in 12.3 days",
        "certificate /pki/old.crt (CN=old) expired 3.0 days ago",
        "2/3 API latency probes failed: HTTP 500",
    ]


def test_evaluate_reasons_etcd_without_leader_or_quorum():
    probes = [_probe("etcd-0", "a", None, healthy=False), _probe("etcd-1", "b", None, reachable=False, healthy=False, error="timed out"),
              _probe("etcd-2", "c", None, reachable=False, healthy=False, error="connection refused")]
    data = _healthy_input()
    data["etcd"] = health.build_etcd_report(probes, alarms=None)
    reasons = health.evaluate_reasons(data)
    assert reasons == [
        "etcd-0 unhealthy: RAFT NO LEADER",
        "etcd-1 unreachable: timed out",
        "etcd-2 unreachable: connection refused",
        "etcd has no quorum: 0/3 members answer with a leader",
        "etcd has no leader",
    ]


def test_evaluate_reasons_etcd_not_available_is_not_a_reason():
    data = _healthy_input()
    data["etcd"] = health.etcd_not_available("managed control plane")
    assert health.evaluate_reasons(data) == []


def test_evaluate_reasons_missing_lease_endpoint_and_errors():
    data = _healthy_input()
    data["endpoint"]["error"] = "connection refused"
    data["leaders"]["kube_controller_manager"] = dict(health.lease_status(None), missing=True)
    data["leaders"]["kube_scheduler"] = dict(health.lease_status(None), error="HTTP 403 Forbidden")
    data["nodes"] = {"ready": 0, "total": 0, "not_ready": [], "error": "HTTP 403 Forbidden"}
    data["certificates"] = [{"source": "/pki/x.crt", "subject": None, "not_after": None, "days_left": None, "error": "file not found: /pki/x.crt"}]
    assert health.evaluate_reasons(data) == [
        "API endpoint https://127.0.0.1:6443 unreachable: connection refused",
        "no kube-controller-manager leader (lease kube-system/kube-controller-manager not found)",
        "cannot read kube-scheduler leader lease: HTTP 403 Forbidden",
        "cannot list nodes: HTTP 403 Forbidden",
        "cannot read certificate /pki/x.crt: file not found: /pki/x.crt",
    ]


def test_evaluate_reasons_skipped_reads_are_not_reasons():
    data = _healthy_input()
    data["nodes"] = {"ready": 0, "total": 0, "not_ready": [], "skipped": "skipped: API endpoint unreachable"}
    data["leaders"] = {k: dict(health.lease_status(None), skipped="skipped") for k, _n in health.CONTROL_PLANE_LEASES}
    assert health.evaluate_reasons(data) == []


def test_evaluate_reasons_cert_threshold_and_long_node_lists():
    data = _healthy_input()
    data["certificates"][0]["days_left"] = 40.0
    assert health.evaluate_reasons(data, cert_warn_days=30) == []
    assert health.evaluate_reasons(data, cert_warn_days=45) == ["certificate /pki/ca.crt (CN=ca) expires in 40.0 days"]
    data["nodes"] = {"ready": 0, "total": 12, "not_ready": ["n%02d" % i for i in range(12)]}
    assert health.evaluate_reasons(data)[0] == "12/12 nodes not Ready: n00, n01, n02, n03, n04, n05, n06, n07, n08, n09 and 2 more"


# -- table ------------------------------------------------------------------------------------


def test_format_table():
    data = _healthy_input()
    data["apiservers"].append({"name": "apiserver-1", "url": "https://127.0.0.1:6445", "ready": False, "detail": "connection refused",
                               "checks_failed": []})
    data["reasons"] = health.evaluate_reasons(data)
    data["healthy"] = not data["reasons"]
    data["cluster"] = {"name": "demo", "provider": "local", "api_endpoint": "https://127.0.0.1:6443"}
    data["server_version"] = "v1.36.3"
    lines = health.format_table(data).splitlines()
    assert lines[0].split() == ["COMPONENT", "MEMBER", "STATUS", "DETAIL"]
    assert lines[1].split() == ["cluster", "demo", "UNHEALTHY", "v1.36.3", "https://127.0.0.1:6443"]
    assert lines[2].split()[:3] == ["apiserver", "apiserver-0", "ok"]
    assert lines[3].split()[:3] == ["apiserver", "apiserver-1", "FAIL"]
    # columns line up: STATUS starts at the same offset on every row
    offset = lines[0].index("STATUS")
    assert all(line[offset - 2:offset] == "  " for line in lines[1:8])
    assert any(line.startswith("etcd ") and "leader, db" in line for line in lines)
    assert any(line.startswith("leader ") and "kube-scheduler" in line for line in lines)
    assert any(line.startswith("nodes ") and "3/3 Ready" in line for line in lines)
    assert any(line.startswith("certificate ") and "ca.crt" in line for line in lines)
    assert any(line.startswith("latency ") and "p50 1.5 ms" in line for line in lines)
    assert lines[-2] == "Reasons (1):"
    assert lines[-1] == "  - apiserver-1 (https://127.0.0.1:6445) not ready: connection refused"


def test_format_table_without_etcd_and_long_detail():
    data = _healthy_input()
    data["etcd"] = health.etcd_not_available("managed control plane")
    data["apiservers"][0]["detail"] = "x" * 500
    data["apiservers"][0]["ready"] = False
    text = health.format_table(data, max_detail=60)
    assert "n/a" in text and "managed control plane" in text
    assert max(len(line) for line in text.splitlines() if line.startswith("apiserver")) < 120


# -- probes against a real local HTTPS server -------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self):
        routes = self.server.routes
        path = urlparse(self.path).path
        self.server.seen.append((self.command, self.path))
        status, payload = routes.get((self.command, path), (404, {"kind": "Status", "code": 404}))
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, bytes) else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer()


@pytest.fixture
def https_server(pki):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.ca_cert)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.routes = {}
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = "https://127.0.0.1:%d" % server.server_address[1]
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "https://127.0.0.1:%d" % port


def _renew(seconds_ago):
    return (datetime.datetime.now(UTC) - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cluster_routes(scheduler_renewed_ago=1):
    def lease(name, ago):
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": "kube-system"},
                "spec": {"holderIdentity": "host_" + name, "leaseDurationSeconds": 15, "renewTime": _renew(ago)}}

    def node(name, ready):
        return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    return {
        ("GET", "/readyz"): (200, b"[+]ping ok\n[+]etcd ok\nreadyz check passed\n"),
        ("GET", "/version"): (200, {"major": "1", "minor": "36", "gitVersion": "v1.36.3"}),
        ("GET", "/api/v1/nodes"): (200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {},
                                         "items": [node("n0", True), node("n1", False)]}),
        ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager"): (200, lease("kcm", 1)),
        ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"): (200, lease("sched", scheduler_renewed_ago)),
        ("GET", "/health"): (200, {"health": "true", "reason": ""}),
        ("POST", "/v3/maintenance/status"): (200, STATUS_JSON),
        ("POST", "/v3/maintenance/alarm"): (200, {"header": {"member_id": "10276657743932975437"}}),
        ("POST", "/v3/cluster/member/list"): (200, {"members": [{"ID": "10276657743932975437", "name": "etcd-0"}]}),
    }


def _client(url, pki):
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    return K8sClient.from_params({"host": url, "ca_cert": pki.ca_cert, "client_cert": pki.client_cert, "client_key": pki.client_key},
                                 environ={})


def _targets(server, pki, etcd_urls):
    tls = {"ca_cert": pki.ca_cert, "client_cert": pki.client_cert, "client_key": pki.client_key}
    etcd = dict(tls, members=[{"name": "etcd-%d" % i, "url": u} for i, u in enumerate(etcd_urls)], quota_bytes=4 * 1024 * 1024)
    return tls, etcd


@pytest.mark.usefixtures("clean_k8s_env")
def test_collect_health_degraded_cluster(https_server, pki):
    https_server.routes.update(_cluster_routes(scheduler_renewed_ago=60))
    dead = _closed_port_url()
    tls, etcd = _targets(https_server, pki, [https_server.url, dead])
    client = _client(https_server.url, pki)
    result = health.collect_health(
        client,
        apiservers=[{"name": "apiserver-0", "url": https_server.url}, {"name": "apiserver-1", "url": dead}],
        tls=tls, etcd=etcd, cert_files=[pki.ca_cert], probes=5, timeout=2.0, parallel=4)

    assert result["healthy"] is False
    assert result["server_version"] == "v1.36.3"
    assert result["apiservers"][0] == {"name": "apiserver-0", "url": https_server.url, "ready": True, "detail": "ok", "checks_failed": []}
    assert result["apiservers"][1]["ready"] is False and result["apiservers"][1]["detail"] == "connection refused"
    assert result["etcd"]["available"] is True and result["etcd"]["leader"] == "etcd-0"
    member = result["etcd"]["members"][0]
    assert member["is_leader"] is True and member["db_size"] == 2113536 and member["quota_bytes"] == 2147483648
    assert result["nodes"] == {"ready": 1, "total": 2, "not_ready": ["n1"]}
    assert result["leaders"]["kube_controller_manager"]["stale"] is False
    assert result["leaders"]["kube_scheduler"]["stale"] is True
    assert result["latency"]["probes"] == 5 and result["latency"]["errors"] == 0 and result["latency"]["p50_ms"] > 0
    sources = [c["source"] for c in result["certificates"]]
    assert sources == [pki.ca_cert, "apiserver-0 serving certificate (%s)" % https_server.url]
    assert result["certificates"][1]["subject"] == "CN=kube-apiserver" and 18.5 < result["certificates"][1]["days_left"] <= 19
    reasons = result["reasons"]
    assert "apiserver-1 (%s) not ready: connection refused" % dead in reasons
    assert "etcd-1 unreachable: connection refused" in reasons
    assert "1/2 nodes not Ready: n1" in reasons
    assert any(r.startswith("no kube-scheduler leader (lease stale 4") and "host_sched" in r for r in reasons)
    assert any(r.startswith("certificate apiserver-0 serving certificate") and "expires in 1" in r for r in reasons)
    assert "etcd has no quorum: 1/2 members answer with a leader" in reasons  # 2 members need both
    assert len(reasons) == 6, "\n".join(reasons)
    # the etcd gateway was asked with POST and a JSON body, /readyz with verbose
    assert ("POST", "/v3/maintenance/status") in https_server.seen
    assert ("GET", "/readyz?verbose=true") in https_server.seen
    # the client's own timeouts are restored
    assert client.request_timeout == 30.0 and client.deadline == 120.0
    assert "UNHEALTHY" in health.format_table(result)


@pytest.mark.usefixtures("clean_k8s_env")
def test_collect_health_without_members_probes_the_endpoint(https_server, pki):
    https_server.routes.update(_cluster_routes())
    https_server.routes[("GET", "/readyz")] = (500, b"[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n")
    client = _client(https_server.url, pki)
    result = health.collect_health(client, probes=3, timeout=2.0)
    assert result["apiservers"] == [{"name": "apiserver", "url": https_server.url, "ready": False, "detail": "HTTP 500",
                                     "checks_failed": ["etcd"]}]
    assert result["etcd"]["available"] is False
    # /readyz answering 500 is an error sample, not something retried for the whole deadline
    assert result["latency"]["probes"] == 3 and result["latency"]["errors"] == 3 and result["latency"]["last_error"] == "HTTP 500"
    assert result["reasons"][0] == "apiserver (%s) not ready: HTTP 500 (failed checks: etcd)" % https_server.url
    assert "3/3 API latency probes failed: HTTP 500" in result["reasons"]


@pytest.mark.usefixtures("clean_k8s_env")
def test_collect_health_reads_through_a_member_when_the_endpoint_is_down(https_server, pki):
    https_server.routes.update(_cluster_routes())
    tls, etcd = _targets(https_server, pki, [https_server.url])
    client = _client(_closed_port_url(), pki)
    result = health.collect_health(client, apiservers=[{"name": "apiserver-0", "url": https_server.url}], tls=tls, etcd=etcd,
                                   probes=5, timeout=0.5)
    assert result["endpoint"]["error"] and result["endpoint"]["read_via"] == "apiserver-0"
    assert result["nodes"]["total"] == 2 and result["leaders"]["kube_scheduler"]["holder"] == "host_sched"
    assert result["server_version"] == "v1.36.3"
    assert result["latency"]["probes"] == 0 and result["latency"]["skipped"]
    assert result["reasons"][0].startswith("API endpoint https://127.0.0.1:")


@pytest.mark.usefixtures("clean_k8s_env")
def test_collect_health_fails_when_nothing_answers(pki):
    """Known only by its endpoint and nothing answers: cannot run."""
    dead = _closed_port_url()
    client = _client(dead, pki)
    with pytest.raises(AdharError) as info:
        health.collect_health(client, probes=2, timeout=0.3)
    assert info.value.msg.startswith("cannot reach the cluster")


@pytest.mark.usefixtures("clean_k8s_env")
def test_collect_health_reports_a_fully_down_local_cluster(pki):
    """Members known (a local cluster) and all down: a verdict with one reason per member, not a failure."""
    dead = _closed_port_url()
    client = _client(dead, pki)
    tls = {"ca_cert": pki.ca_cert, "client_cert": pki.client_cert, "client_key": pki.client_key}
    out = health.collect_health(client, apiservers=[{"name": "apiserver-0", "url": dead}], tls=tls,
                                etcd=dict(tls, members=[{"name": "etcd-0", "url": _closed_port_url()}]), probes=2, timeout=0.3)
    assert out["healthy"] is False
    text = " ".join(out["reasons"])
    assert "apiserver-0" in text and "connection refused" in text and "etcd-0 unreachable" in text


@pytest.mark.usefixtures("clean_k8s_env")
def test_collect_health_bad_input(pki, tmp_path):
    client = _client(_closed_port_url(), pki)
    with pytest.raises(AdharError, match="probes must be 0 or more"):
        health.collect_health(client, probes=-1)
    with pytest.raises(AdharError, match="timeout must be a positive"):
        health.collect_health(client, timeout=0)
    with pytest.raises(AdharError, match="cannot load TLS files"):
        health.collect_health(client, apiservers=[{"name": "a", "url": "https://127.0.0.1:1"}],
                              tls={"ca_cert": str(tmp_path / "nope.crt")})
    with pytest.raises(AdharError, match="every etcd member needs a url"):
        health.collect_health(client, etcd={"members": [{"name": "etcd-0"}]})
