# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the etcd maintenance layer (a scripted gateway stands in for etcd)."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._etcd import maintenance as em
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

PERF_OUTPUT = """\
 60 / 60 Boooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo! 100.00% 1m0s
PASS: Throughput is 151 writes/s
PASS: Slowest request took 0.066575s
FAIL: Stddev is 0.151382s
FAIL
"""


def params(**kw):
    base = {k: None for k in em.ARG_SPEC}
    base.update({k: v.get("default") for k, v in em.ARG_SPEC.items() if "default" in v})
    base["local_cluster"] = "prod"
    base.update(kw)
    return base


def test_parse_check_perf():
    checks = em.parse_check_perf(PERF_OUTPUT)
    assert checks == [{"result": "PASS", "check": "Throughput is 151 writes/s"},
                      {"result": "PASS", "check": "Slowest request took 0.066575s"},
                      {"result": "FAIL", "check": "Stddev is 0.151382s"}]
    assert em.parse_check_perf("") == []


@pytest.mark.parametrize("kw, option", [
    ({"local_cluster": None}, "local_cluster"),
    ({"endpoints": ["https://127.0.0.1:2379"]}, "local_cluster"),
    ({"local_cluster": None, "endpoints": ["127.0.0.1:2379"]}, "endpoints"),
    ({"timeout": 0}, "timeout"),
    ({"defrag_timeout": -1}, "defrag_timeout"),
    ({"health_timeout": -5.0}, "health_timeout"),
    ({"min_free_percent": 101}, "min_free_percent"),
    ({"min_free_percent": -1}, "min_free_percent"),
    ({"revision": 10}, "revision"),
    ({"action": "compact", "revision": 0}, "revision"),
    ({"retain": -1}, "retain"),
    ({"members": ["etcd-0"]}, "members"),
    ({"action": "defragment", "members": [""]}, "members"),
    ({"ca_file": "/etc/hosts"}, "ca_file"),
    ({"local_cluster": None, "endpoints": ["https://127.0.0.1:2379"], "cert_file": "/etc/hosts"}, "cert_file"),
    ({"local_cluster": None, "endpoints": ["https://127.0.0.1:2379"], "ca_file": "/nonexistent/ca.crt"}, "ca_file"),
])
def test_check_params_refuses(kw, option):
    with pytest.raises(AdharError) as err:
        em.check_params(params(**kw))
    assert err.value.details.get("option") == option, err.value.msg


def test_check_params_accepts():
    em.check_params(params(action="defragment", members=["etcd-1"], min_free_percent=0))
    em.check_params(params(action="compact", revision=5))
    em.check_params(params(local_cluster=None, endpoints=["http://127.0.0.1:2379"]))


class FakeEtcd(em.EtcdTarget):
    """Three members; records every call; defragmenting shrinks a member's DB to its size in use."""

    def __init__(self, free=(50, 50, 50), leader=1, compacted=0, current=5000):
        super().__init__(["https://m%d" % i for i in range(3)], {})
        self.sizes = {"https://m%d" % i: [1000, 1000 - int(10 * f)] for i, f in enumerate(free)}
        self.leader = leader
        self.compacted = compacted
        self.current = current
        self.calls = []
        self.alarms = []

    def call(self, endpoint, path, body=None, timeout=None):
        self.calls.append((endpoint, path, body))
        i = int(endpoint[-1])
        if path == "/v3/maintenance/status":
            size, used = self.sizes[endpoint]
            return {"header": {"member_id": str(i + 1), "revision": str(self.current)}, "leader": str(self.leader + 1),
                    "version": "3.6.16", "dbSize": str(size), "dbSizeInUse": str(used)}
        if path == "/v3/cluster/member/list":
            return {"members": [{"ID": str(j + 1), "name": "etcd-%d" % j, "clientURLs": ["https://m%d" % j]} for j in range(3)]}
        if path == "/v3/maintenance/alarm":
            if body.get("action") == "DEACTIVATE":
                self.alarms = []
                return {}
            return {"alarms": list(self.alarms)}
        if path == "/v3/maintenance/defragment":
            self.sizes[endpoint][0] = self.sizes[endpoint][1]
            return {}
        if path == "/v3/kv/range":
            if body["revision"] < self.compacted:
                raise AdharError("range", grpc_message="etcdserver: mvcc: required revision has been compacted")
            return {}
        if path == "/v3/kv/compaction":
            self.compacted = max(self.compacted, body["revision"])
            return {}
        raise AssertionError(path)

    def health(self, endpoint, timeout=None):
        return True, ""


def test_status_and_table():
    fake = FakeEtcd(free=(50, 0, 20))
    st = em.collect_status(fake)
    assert st["leader"] == "etcd-1" and st["healthy"]
    assert [m["free_percent"] for m in st["members"]] == [50.0, 0.0, 20.0]
    table = em.status_table(st)
    assert table[0].split()[0] == "MEMBER" and "*" in table[2] and len(table) == 4


def test_defragment_followers_first_leader_last_and_threshold():
    fake = FakeEtcd(free=(50, 50, 5), leader=0)
    changed, results = em.defragment(fake, em.check_params(params(action="defragment")))
    assert changed
    order = [r["name"] for r in results]
    assert order[-1] == "etcd-0", order  # the leader last
    assert [r["name"] for r in results if r.get("defragmented")] == ["etcd-1", "etcd-0"]
    assert "below min_free_percent" in [r for r in results if r["name"] == "etcd-2"][0]["skipped"]
    defrag_calls = [c[0] for c in fake.calls if c[1] == "/v3/maintenance/defragment"]
    assert defrag_calls == ["https://m1", "https://m0"]
    # a re-run right after has nothing to do
    changed, results = em.defragment(fake, em.check_params(params(action="defragment")))
    assert not changed and all(r.get("skipped") for r in results)


def test_defragment_check_mode_and_unknown_member():
    fake = FakeEtcd()
    changed, results = em.defragment(fake, em.check_params(params(action="defragment")), check_mode=True)
    assert changed and all(r.get("would_defragment") for r in results)
    assert not [c for c in fake.calls if c[1] == "/v3/maintenance/defragment"]
    with pytest.raises(AdharError, match="'etcd-9' is not a member"):
        em.defragment(fake, em.check_params(params(action="defragment", members=["etcd-9"])))


def test_compact_idempotent_and_check_mode():
    fake = FakeEtcd(current=5000)
    p = em.check_params(params(action="compact", revision=4000))
    changed, res = em.compact(fake, p, check_mode=True)
    assert changed and res["would_compact"] and fake.compacted == 0
    changed, res = em.compact(fake, p)
    assert changed and res["compacted"] and fake.compacted == 4000
    changed, res = em.compact(fake, p)
    assert not changed and "already compacted" in res["skipped"]
    with pytest.raises(AdharError, match="in the future"):
        em.compact(fake, em.check_params(params(action="compact", revision=6000)))
    changed, res = em.compact(fake, em.check_params(params(action="compact")))
    assert not changed and res["revision"] == 4000


def test_disarm_alarms():
    fake = FakeEtcd()
    fake.alarms = [{"memberID": "2", "alarm": "NOSPACE"}]
    st = em.collect_status(fake)
    assert not st["healthy"] and em.status_reasons(st) == ["alarm NOSPACE on etcd-1"]
    changed, res = em.disarm_alarms(fake, em.check_params(params(action="disarm_alarms")), check_mode=True)
    assert changed and res["would_disarm"] and fake.alarms
    changed, res = em.disarm_alarms(fake, em.check_params(params(action="disarm_alarms")))
    assert changed and res["disarmed"][0]["alarm"] == "NOSPACE" and res["active"] == []
    deact = [c for c in fake.calls if c[2] and c[2].get("action") == "DEACTIVATE"]
    assert deact and deact[0][2]["memberID"] == "2"
    changed, res = em.disarm_alarms(fake, em.check_params(params(action="disarm_alarms")))
    assert not changed
