# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ports, pidfiles, PKI, kubeconfig merging and saved state (no cluster needed)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml
from cryptography import x509

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import pki, ports, procs, runtime, stages
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import normalize


def test_allocate_skips_reserved_and_busy():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    busy = s.getsockname()[1]
    try:
        got = ports.allocate(20, reserved={20000, 20001}, seed=1)
        assert len(set(got)) == 20 and not {20000, 20001} & set(got)
        assert all(ports.PORT_MIN <= p < ports.PORT_MAX for p in got)
        assert not ports.port_free(busy)
        # a range starting at the busy port: any other port of it may be taken too (ephemeral ports), never the busy one
        hi = min(busy + 64, 65536)
        only = ports.allocate(1, reserved=set(), lo=busy, hi=hi) if hi - busy > 1 else [busy - 1]
        assert busy not in only
    finally:
        s.close()


def test_allocate_exhausted():
    with pytest.raises(OSError, match="no 3 free ports"):
        ports.allocate(3, reserved={30000, 30001}, lo=30000, hi=30002)


def test_spawn_stop_by_recorded_pid(tmp_path):
    info = procs.spawn("sleeper", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                       run_dir=str(tmp_path / "run"), log_dir=str(tmp_path / "logs"), cwd=str(tmp_path))
    assert procs.is_running(info)
    on_disk = procs.read_pidfile(str(tmp_path / "run" / "sleeper.pid"))
    assert on_disk["pid"] == info["pid"] and on_disk["starttime"] == info["starttime"]
    # a record with the same pid but another start time is not ours: never signalled
    impostor = dict(info, starttime=info["starttime"] + 1)
    assert not procs.is_running(impostor) and procs.stop(impostor) is False
    assert procs.is_running(info)
    assert procs.stop(info, timeout=5) is True
    assert not procs.is_running(info)
    deadline = time.time() + 5
    while "up" not in procs.log_tail(info["log"]) and time.time() < deadline:
        time.sleep(0.05)
    assert "up" in procs.log_tail(info["log"])


def test_stop_escalates_to_sigkill(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    info = procs.spawn("stubborn", [sys.executable, "-c", code], run_dir=str(tmp_path), log_dir=str(tmp_path), cwd=str(tmp_path))
    deadline = time.time() + 5
    while "ready" not in procs.log_tail(info["log"]) and time.time() < deadline:
        time.sleep(0.05)
    t = time.monotonic()
    assert procs.stop(info, timeout=0.5)
    assert not procs.is_running(info) and time.monotonic() - t < 5


def test_pki_generates_a_usable_chain(tmp_path):
    certs = pki.generate(str(tmp_path), members=3, service_cidr="10.96.0.0/16")
    names = {os.path.basename(c) for c in certs}
    assert {"ca.crt", "etcd-ca.crt", "etcd-0.crt", "etcd-2.crt", "apiserver.crt", "admin.crt", "kwok.crt"} <= names
    for key in ("ca.key", "sa.key", "admin.key", "etcd-1.key"):
        assert os.stat(tmp_path / key).st_mode & 0o777 == 0o600
    with open(tmp_path / "apiserver.crt", "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.96.0.1" in [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    assert "kubernetes.default.svc" in san.get_values_for_type(x509.DNSName)
    with open(tmp_path / "admin.crt", "rb") as f:
        admin = x509.load_pem_x509_certificate(f.read())
    assert "system:masters" in admin.subject.rfc4514_string()
    # openssl agrees the chain verifies
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "apiserver.crt")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "etcd-ca.crt"), str(tmp_path / "etcd-1.crt")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert (pki.cert_not_after(str(tmp_path / "admin.crt")) - pki.cert_not_after(str(tmp_path / "ca.crt"))).days < 0


def test_kubeconfig_merge_and_unmerge(tmp_path):
    path = str(tmp_path / "config")
    other = {"apiVersion": "v1", "kind": "Config", "current-context": "mine",
             "clusters": [{"name": "mine", "cluster": {"server": "https://x"}}],
             "users": [{"name": "me", "user": {"token": "t"}}], "contexts": [{"name": "mine", "context": {"cluster": "mine", "user": "me"}}]}
    with open(path, "w") as f:
        yaml.safe_dump(other, f)
    ours = {"apiVersion": "v1", "kind": "Config", "current-context": "adhar-c1",
            "clusters": [{"name": "adhar-c1", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "adhar-c1-admin", "user": {}}], "contexts": [{"name": "adhar-c1", "context": {"cluster": "adhar-c1", "user": "adhar-c1-admin"}}]}
    runtime.merge_kubeconfig(path, ours)
    runtime.merge_kubeconfig(path, ours)  # idempotent
    with open(path) as f:
        merged = yaml.safe_load(f)
    assert merged["current-context"] == "mine"
    assert [c["name"] for c in merged["clusters"]] == ["mine", "adhar-c1"]
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert runtime.unmerge_kubeconfig(path, "c1") is True
    with open(path) as f:
        assert yaml.safe_load(f) == other
    alone = str(tmp_path / "alone")
    runtime.merge_kubeconfig(alone, ours)
    assert runtime.unmerge_kubeconfig(alone, "c1") is True and not os.path.exists(alone)


def _cluster(tmp_path, count):
    spec = normalize({"name": "c1", "control_plane": {"count": count}, "encryption_at_rest": {"enabled": True},
                      "audit_policy": {"enabled": True}}, "v1.36.3")
    layout = st.Layout(str(tmp_path), "c1")
    data = runtime.new_state(layout, spec, "/bin-dir", "/usr/sbin/haproxy", None)
    data["ports"] = runtime.allocate_ports(str(tmp_path), "c1", count)
    return runtime.Cluster(layout, data)


def test_process_plan_single_and_ha(tmp_path):
    one = _cluster(tmp_path / "a", 1)
    assert one.process_names() == ["etcd-0", "apiserver-0", "controller-manager-0", "scheduler-0", "kwok"]
    assert one.ports["api"] == one.ports["members"][0]["apiserver"]
    three = _cluster(tmp_path / "b", 3)
    names = three.process_names()
    assert "haproxy" in names and names.index("haproxy") > names.index("apiserver-2")
    etcd = three.command("etcd-1")
    assert any(a.startswith("--initial-cluster=etcd-0=https://") and a.count("https://") == 3 for a in etcd)
    assert "--client-cert-auth" in etcd and "--peer-client-cert-auth" in etcd
    api = three.command("apiserver-2")
    servers = [a for a in api if a.startswith("--etcd-servers=")][0]
    assert servers.split("=", 1)[1].split(",")[0].endswith(":%d" % three.ports["members"][2]["etcd_client"])
    assert any(a.startswith("--encryption-provider-config=") for a in api)
    assert any(a.startswith("--audit-policy-file=") for a in api)
    assert "--leader-elect=true" in three.command("controller-manager-0")
    assert "--leader-elect=true" in three.command("scheduler-1")
    flat = [three.ports["api"], three.ports["kwok"]] + [p for m in three.ports["members"] for p in m.values()]
    assert len(flat) == len(set(flat))


def test_state_roundtrip_and_corruption(tmp_path):
    c = _cluster(tmp_path, 1)
    os.makedirs(c.layout.dir)
    st.save(c.layout, c.data)
    assert st.load(c.layout)["ports"] == c.ports
    assert st.reserved_ports(str(tmp_path)) >= {c.ports["api"], c.ports["kwok"]}
    assert st.list_clusters(str(tmp_path)) == ["c1"]
    with open(c.layout.state_file, "w") as f:
        f.write("{")
    with pytest.raises(AdharError, match="corrupt"):
        st.load(c.layout)
    with open(c.layout.state_file, "w") as f:
        json.dump({"format": 99, "name": "c1"}, f)
    with pytest.raises(AdharError, match="unknown format"):
        st.load(c.layout)
    assert st.load(st.Layout(str(tmp_path), "nope")) is None


def test_check_root(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(AdharError, match="not a directory"):
        st.check_root(str(f))
    with pytest.raises(AdharError, match="not a directory"):
        st.check_root(str(f / "below"))
    st.check_root(str(tmp_path / "new" / "deeper"))  # creatable: fine, and nothing is created
    assert not (tmp_path / "new").exists()


def test_stages_are_wellformed():
    objs = stages.stages()
    assert [o["metadata"]["name"] for o in objs][0] == "adhar-node-initialize"
    for o in objs:
        assert o["kind"] == "Stage" and o["spec"]["resourceRef"]["apiGroup"] == "v1"
        assert "statusTemplate" in o["spec"]["next"] or o["spec"]["next"].get("delete") is True


def test_stop_many_in_parallel_and_forced(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    infos = [procs.spawn("p%d" % i, [sys.executable, "-c", code], run_dir=str(tmp_path), log_dir=str(tmp_path), cwd=str(tmp_path))
             for i in range(3)]
    for info in infos:
        deadline = time.time() + 5
        while "ready" not in procs.log_tail(info["log"]) and time.time() < deadline:
            time.sleep(0.05)
    t = time.monotonic()
    # SIGTERM is ignored: all three wait together for the timeout, then get SIGKILL (not 3 x timeout)
    assert sorted(procs.stop_many(infos, timeout=1.0)) == ["p0", "p1", "p2"]
    assert time.monotonic() - t < 2.5
    assert not any(procs.is_running(i) for i in infos)
    again = [procs.spawn("q", [sys.executable, "-c", code], run_dir=str(tmp_path), log_dir=str(tmp_path), cwd=str(tmp_path))]
    t = time.monotonic()
    assert procs.stop_many(again, force=True) == ["q"] and time.monotonic() - t < 1.5
    assert procs.stop_many(again, force=True) == []


def test_lease_freshness():
    import datetime
    now = datetime.datetime(2026, 11, 26, 3, 0, 0, tzinfo=datetime.timezone.utc)
    spec = {"holderIdentity": "a", "renewTime": "2026-11-26T02:59:50.123456Z", "leaseDurationSeconds": 15}
    assert runtime.lease_is_fresh(spec, now)
    assert not runtime.lease_is_fresh(dict(spec, renewTime="2026-11-26T02:59:40.000000Z"), now)
    assert not runtime.lease_is_fresh(dict(spec, holderIdentity=""), now)
    assert not runtime.lease_is_fresh({"holderIdentity": "a"}, now)


class _Programs(object):
    """A cluster whose supervisord reports the given states, one snapshot per call (the last one repeats)."""

    def __init__(self, *snapshots):
        self.snapshots = list(snapshots)
        self.layout = type("L", (), {"name": "c1", "log_dir": "/nonexistent"})()

    def programs(self):
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]

    def log_tail(self, name):
        return "last line of %s" % name


def test_wait_programs_running_waits_through_starting_and_backoff():
    c = _Programs({"kcm": {"state": "STARTING"}, "kwok": {"state": "RUNNING"}},
                  {"kcm": {"state": "BACKOFF"}, "kwok": {"state": "RUNNING"}},
                  {"kcm": {"state": "RUNNING"}, "kwok": {"state": "RUNNING"}})
    runtime.wait_programs_running(c, ["kcm", "kwok"], time.monotonic() + 5, interval=0)
    assert len(c.snapshots) == 1


def test_wait_programs_running_fails_on_fatal_and_on_timeout():
    with pytest.raises(AdharError) as e:
        runtime.wait_programs_running(_Programs({"kcm": {"state": "FATAL"}}), ["kcm"], time.monotonic() + 5, interval=0)
    assert "kcm of cluster c1 did not stay up (FATAL)" in str(e.value) and "last line of kcm" in str(e.value)
    with pytest.raises(AdharError) as e:
        runtime.wait_programs_running(_Programs({"kcm": {"state": "STARTING"}}), ["kcm"], time.monotonic() - 1,
                                      interval=0)
    assert "not yet running: kcm STARTING" in str(e.value)
