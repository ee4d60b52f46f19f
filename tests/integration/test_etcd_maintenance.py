# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The etcd module on a real 3-member local cluster: status, compaction, defragmentation under a write load,
alarms, etcd's own performance check, and bad input refused before anything is touched."""

from __future__ import annotations

import os
import threading
import time

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as kclient, config as kconfig  # noqa: E402

NAME = "etcdmaint"
NS = "etcd-maint"


@pytest.fixture(scope="module")
def ha_cluster(runner, state_dir):
    r = runner.module("adhar.platform.cluster", {"name": NAME, "ha": True, "nodes": {"count": 1}})
    assert r["cluster"]["running"] is True
    try:
        yield os.path.join(state_dir, NAME, "config", "admin.kubeconfig")
    finally:
        runner.module("adhar.platform.cluster", {"name": NAME, "state": "absent"})


def _core(kubeconfig):
    return kclient.CoreV1Api(kconfig.new_client_from_config(config_file=kubeconfig))


def _churn(kubeconfig, count=400, size=60000):
    """Create then delete ``count`` ConfigMaps of ``size`` bytes: the DB file grows, then has free pages."""
    core = _core(kubeconfig)
    try:
        core.create_namespace(kclient.V1Namespace(metadata=kclient.V1ObjectMeta(name=NS)))
    except kclient.ApiException as e:
        if e.status != 409:
            raise
    blob = "x" * size
    for i in range(count):
        core.create_namespaced_config_map(NS, kclient.V1ConfigMap(
            metadata=kclient.V1ObjectMeta(name="churn-%d" % i), data={"blob": blob}))
    core.delete_collection_namespaced_config_map(NS)


class Writer(threading.Thread):
    """Writes a ConfigMap every 100 ms through the cluster endpoint; counts acknowledged and failed writes."""

    def __init__(self, kubeconfig):
        super().__init__(daemon=True)
        self.core = _core(kubeconfig)
        self.stop = threading.Event()
        self.acked = []
        self.failed = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            name = "w-%d" % i
            try:
                self.core.create_namespaced_config_map(NS, kclient.V1ConfigMap(
                    metadata=kclient.V1ObjectMeta(name=name, labels={"writer": "1"}), data={"i": str(i)}),
                    _request_timeout=10)
                self.acked.append(name)
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                self.failed.append((name, repr(exc)[:200]))
            i += 1
            self.stop.wait(0.1)


def test_status(runner, ha_cluster):
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME})
    assert r["changed"] is False and r["healthy"] is True, r["reasons"]
    members = r["etcd"]["members"]
    assert sorted(m["name"] for m in members) == ["etcd-0", "etcd-1", "etcd-2"]
    assert sum(1 for m in members if m["leader"]) == 1
    assert all(m["db_size"] > 0 and m["version"] for m in members)
    assert r["table"][0].startswith("MEMBER") and len(r["table"]) == 4
    print("\n" + "\n".join(r["table"]))


def test_bad_input_refused_before_anything(runner, ha_cluster):
    cases = [
        ({"local_cluster": NAME, "action": "defragment", "members": ["etcd-7"]}, "'etcd-7' is not a member"),
        ({"local_cluster": NAME, "action": "defragment", "health_timeout": -1}, "health_timeout must be greater than 0"),
        ({"local_cluster": NAME, "action": "compact", "revision": 10 ** 12}, "in the future"),
        ({"local_cluster": "no-such-cluster"}, "no ready local cluster"),
        ({"endpoints": ["127.0.0.1:2379"]}, "is not an http(s):// URL"),
    ]
    before = {m["name"]: m["db_size"] for m in runner.module("adhar.platform.etcd", {"local_cluster": NAME})["etcd"]["members"]}
    for args, message in cases:
        r = runner.module("adhar.platform.etcd", args, expect_fail=True)
        assert message in r["msg"], (args, r["msg"])
    after = {m["name"]: m["db_size"] for m in runner.module("adhar.platform.etcd", {"local_cluster": NAME})["etcd"]["members"]}
    # nothing was defragmented: no member's database file shrank (it only grows with the cluster's own writes)
    assert all(after[name] >= size for name, size in before.items()), (before, after)


def test_compact_then_defragment_under_write_load(runner, ha_cluster):
    _churn(ha_cluster)
    st = runner.module("adhar.platform.etcd", {"local_cluster": NAME})
    revision = max(m["revision"] for m in st["etcd"]["members"])

    # check mode compacts nothing; the real run does; a re-run to the same revision is unchanged
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "compact", "revision": revision}, check=True)
    assert r["changed"] is True and r["compaction"]["would_compact"] is True
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "compact", "revision": revision})
    assert r["changed"] is True and r["compaction"]["compacted"] is True
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "compact", "revision": revision})
    assert r["changed"] is False and "already compacted" in r["compaction"]["skipped"]

    st = runner.module("adhar.platform.etcd", {"local_cluster": NAME})
    assert all(m["free_percent"] >= 10 for m in st["etcd"]["members"]), st["table"]

    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "defragment"}, check=True)
    assert r["changed"] is True and all(d.get("would_defragment") for d in r["defragmented"])

    writer = Writer(ha_cluster)
    writer.start()
    try:
        time.sleep(1.0)
        r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "defragment"})
        time.sleep(1.0)
    finally:
        writer.stop.set()
        writer.join(15)
    done = r["defragmented"]
    print("\ndefragmented: %s" % ", ".join("%s %.2fs %d->%d bytes" % (d["name"], d["seconds"], d["db_size_before"],
                                                                      d["db_size_after"]) for d in done))
    print("writes during defragmentation: %d acknowledged, %d failed" % (len(writer.acked), len(writer.failed)))
    assert r["changed"] is True and r["healthy"] is True
    assert [d["leader"] for d in done] == [False, False, True], "leader must be last"
    assert all(d["defragmented"] and d["db_size_after"] < d["db_size_before"] for d in done)
    assert writer.failed == [], writer.failed[:5]
    assert len(writer.acked) >= 10
    names = {cm.metadata.name for cm in _core(ha_cluster).list_namespaced_config_map(NS, label_selector="writer=1").items}
    assert set(writer.acked) <= names, "acknowledged writes lost"

    # nothing left to reclaim: unchanged
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "defragment"})
    assert r["changed"] is False and all(d.get("skipped") for d in r["defragmented"])


def test_alarms_and_endpoints_form(runner, ha_cluster, state_dir):
    pki = os.path.join(state_dir, NAME, "pki")
    st = runner.module("adhar.platform.etcd", {"local_cluster": NAME})
    args = {"endpoints": [m["endpoint"] for m in st["etcd"]["members"]], "ca_file": os.path.join(pki, "etcd-ca.crt"),
            "cert_file": os.path.join(pki, "etcd-healthcheck-client.crt"),
            "key_file": os.path.join(pki, "etcd-healthcheck-client.key"), "action": "disarm_alarms"}
    r = runner.module("adhar.platform.etcd", args)
    assert r["changed"] is False and r["alarms"]["active"] == [] and r["healthy"] is True
    assert r["target"] == ", ".join(args["endpoints"])


def test_check_perf(runner, ha_cluster):
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "check_perf"}, check=True)
    assert "perf" not in r and "not run in check mode" in r["perf_not_run"]
    r = runner.module("adhar.platform.etcd", {"local_cluster": NAME, "action": "check_perf"})
    perf = r["perf"]
    print("\ncheck perf (%s s): %s" % (perf["seconds"], "; ".join("%s %s" % (c["result"], c["check"]) for c in perf["checks"])))
    assert perf["checks"] and any("Throughput" in c["check"] for c in perf["checks"])
    assert perf["seconds"] >= 55


def test_cluster_info_request_metrics(runner, ha_cluster):
    """cluster_info reads every API server's /metrics: request counts, 5xx share and latency percentiles."""
    r = runner.module("adhar.platform.cluster_info", {"name": NAME, "probes": 5})
    metrics = r["request_metrics"]
    assert len(metrics) == 3 and all(not m.get("error") for m in metrics), metrics
    for m in metrics:
        assert m["requests"] > 0 and m["latency_requests"] > 0
        assert m["p50_ms"] is not None and m["p99_ms"] >= m["p50_ms"]
        assert 0 <= m["error_rate_percent"] <= 100
    assert sum(1 for line in r["table"].splitlines() if line.startswith("requests")) == 3
    r = runner.module("adhar.platform.cluster_info", {"name": NAME, "probes": 0, "request_metrics": False})
    assert "request_metrics" not in r
