# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling upgrades of local clusters: the skew rules, the order, where binaries come from, HAProxy's runtime API."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import upgrade as up
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import immutable_changes, normalize


def test_skew_rules():
    assert up.check_skew("v1.35.4", "v1.35.4") is None
    assert up.check_skew("v1.35.4", "v1.36.3") == "upgrade"
    assert up.check_skew("v1.36.1", "v1.36.3") == "upgrade"  # a newer patch of the same minor
    with pytest.raises(AdharError, match=r"skips 1 minor version\(s\); upgrade one minor at a time \(to v1.35.x first\)"):
        up.check_skew("v1.34.2", "v1.36.3")
    with pytest.raises(AdharError, match="v1.36.3 -> v1.35.4 is a downgrade"):
        up.check_skew("v1.36.3", "v1.35.4")
    with pytest.raises(AdharError, match="downgrade"):
        up.check_skew("v1.36.3", "v1.36.1")
    with pytest.raises(AdharError, match="major"):
        up.check_skew("v1.36.3", "v2.0.0")
    with pytest.raises(AdharError) as e:
        up.check_skew("v1.36.3", "latest")
    assert e.value.details["option"] == "kubernetes_version"


def test_skew_with_an_unfinished_upgrade():
    record = {"from": "v1.35.4", "to": "v1.36.3", "failed": {"process": "apiserver-1", "reason": "x"}}
    assert up.check_skew("v1.35.4", "v1.36.3", record) == "resume"
    # the only downgrade there is: back to where an unfinished upgrade started
    assert up.check_skew("v1.35.4", "v1.35.4", record) == "rollback"
    with pytest.raises(AdharError, match=r"unfinished \(it failed at apiserver-1\); finish it \(kubernetes_version: "
                                         r"v1.36.3\) or roll it back \(kubernetes_version: v1.35.4\)"):
        up.check_skew("v1.35.4", "v1.36.1", record)


def test_kubernetes_version_is_no_longer_immutable():
    a = normalize({"name": "c1"}, "v1.35.4")
    assert immutable_changes(a, normalize({"name": "c1", "kubernetes_version": "v1.36.3"}, "v1.35.4")) == []


def test_plan_order():
    # API servers member by member, then controller-managers, then schedulers, each kind's leader last
    assert up.plan(3, "upgrade", {"controller-manager": 0, "scheduler": 1}) == [
        "apiserver-0", "apiserver-1", "apiserver-2",
        "controller-manager-1", "controller-manager-2", "controller-manager-0",
        "scheduler-0", "scheduler-2", "scheduler-1"]
    assert up.plan(3, "resume", {}) == up.plan(3, "upgrade") == [
        "apiserver-0", "apiserver-1", "apiserver-2", "controller-manager-0", "controller-manager-1",
        "controller-manager-2", "scheduler-0", "scheduler-1", "scheduler-2"]
    # a rollback: controllers are never newer than the API servers, so they go back first
    assert up.plan(1, "rollback", {"scheduler": 0}) == ["controller-manager-0", "scheduler-0", "apiserver-0"]


def _bins(d, version):
    os.makedirs(d)
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok"):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(path, 0o755)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump({"binaries": {"kube-apiserver": {"version": version}}}, f)
    return d


def test_kube_bin_dir_per_version(tmp_path):
    env = {"ADHAR_CACHE_DIR": str(tmp_path / "cache")}
    pinned = _bins(toolchain.cache_bin_dir(env), toolchain.VERSIONS["kubernetes"])
    previous_version = toolchain.ADDON_VERSIONS["kubernetes-previous"]
    assert up.kube_bin_dir_for(toolchain.VERSIONS["kubernetes"], environ=env) == pinned
    with pytest.raises(AdharError, match="no binaries of %s: .*not built.*tools/toolchain ensure --only "
                                         "kubernetes-previous" % previous_version):
        up.kube_bin_dir_for(previous_version, environ=env)
    previous = _bins(toolchain.addon_bin_dir("kubernetes-previous", env), previous_version)
    assert up.kube_bin_dir_for(previous_version, environ=env) == previous
    # another patch than the toolchain's is refused, naming what each directory holds
    with pytest.raises(AdharError, match=r"no binaries of v1.35.1: .*\(cache\): %s; .*: %s" % (
            toolchain.VERSIONS["kubernetes"], previous_version)):
        up.kube_bin_dir_for("v1.35.1", environ=env)
    # a bin_dir given by the user is used as is, its version checked
    mine = _bins(str(tmp_path / "mine"), "v1.35.1")
    assert up.kube_bin_dir_for("v1.35.1", explicit=mine, environ=env) == mine
    with pytest.raises(AdharError, match="binaries in %s are v1.35.1" % mine):
        up.kube_bin_dir_for(previous_version, explicit=mine, environ=env)
    # ADHAR_BIN_DIR stands in for the pinned release, never for the previous minor's add-on
    env["ADHAR_BIN_DIR"] = mine
    assert up.kube_bin_dir_for(previous_version, environ=env) == previous
    assert toolchain.find_addon_binary("kube-apiserver", "kubernetes-previous", env) == (
        os.path.join(previous, "kube-apiserver"), "cache")


def test_previous_minor_pinned():
    pinned, previous = toolchain.VERSIONS["kubernetes"], toolchain.ADDON_VERSIONS["kubernetes-previous"]
    assert up.parse(previous)[1] == up.parse(pinned)[1] - 1
    assert toolchain.COMPONENTS["kubernetes-previous"] == ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    assert sorted(toolchain.kubernetes_bin_dirs({"ADHAR_CACHE_DIR": "/c"})) == [up.minor(previous), up.minor(pinned)]


def test_running_binary_dir():
    assert up.running_binary_dir(os.getpid()) == os.path.dirname(os.path.realpath(sys.executable))
    assert up.running_binary_dir(None) is None
    assert up.same_dir("/a/../b", "/b") and not up.same_dir(None, "/b")


STAT = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,\n"
        "kube-apiserver,FRONTEND,,,3,5,4096,9,,,,,,,,,,OPEN,\n"
        "kube-apiservers,apiserver-0,0,0,2,3,,5,,,,,,,,,,DRAIN,\n"
        "kube-apiservers,apiserver-1,0,0,1,2,,4,,,,,,,,,,UP,\n"
        "kube-apiservers,BACKEND,0,0,3,5,,9,,,,,,,,,,UP,\n\n")


def _fake_haproxy(path, answers, seen):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)

    def serve():
        while True:
            try:
                conn, dummy = srv.accept()
            except OSError:
                return
            line = conn.recv(4096).decode().strip()
            seen.append(line)
            conn.sendall(answers.get(line.split(" ")[0] + " " + line.split(" ")[1], "").encode())
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_load_balancer_runtime_api(tmp_path):
    path = str(tmp_path / "h.sock")
    seen = []
    srv = _fake_haproxy(path, {"show stat": STAT, "show info": "Name: HAProxy\n",
                               "set server": ""}, seen)
    try:
        lb = up.LoadBalancer(path)
        assert lb.answers()
        assert lb.servers() == {"apiserver-0": {"status": "DRAIN", "sessions": 2},
                                "apiserver-1": {"status": "UP", "sessions": 1}}
        lb.set_state("apiserver-0", "drain")
        assert seen[-1] == "set server kube-apiservers/apiserver-0 state drain"
    finally:
        srv.close()
    assert not up.LoadBalancer(str(tmp_path / "none.sock")).answers()


def test_load_balancer_refusal(tmp_path):
    path = str(tmp_path / "h.sock")
    srv = _fake_haproxy(path, {"set server": "No such server.\n"}, [])
    try:
        with pytest.raises(AdharError, match="HAProxy refused to set apiserver-9 to drain: No such server."):
            up.LoadBalancer(path).set_state("apiserver-9", "drain")
    finally:
        srv.close()


# --------------------------------------------------------------------------- the run, against a simulated cluster

class FakeSupervisor:
    """supervisord as the upgrade sees it: programs with a state, a pid and the directory of the binary they run."""

    def __init__(self, names, bin_dir):
        self.defined = {n: bin_dir for n in names}
        self.procs = {n: {"state": "RUNNING", "pid": 1000 + i, "dir": bin_dir} for i, n in enumerate(names)}
        self.log = []

    def states(self):
        return {n: {"state": p["state"], "pid": p["pid"]} for n, p in self.procs.items()}

    def stop_programs(self, groups, timeout=30.0, after_group=None):
        for group in groups:
            for n in group:
                self.procs[n]["state"] = "STOPPED"
                self.log.append(("stop", n))

    def redefine(self, programs, names):
        for n in names:
            self.defined[n] = os.path.dirname(programs[n][0])

    def start(self, names):
        for n in names:
            p = self.procs[n]
            p.update(state="RUNNING", pid=p["pid"] + 100, dir=self.defined[n])
            self.log.append(("start", n, p["dir"]))

    def write_config(self, programs, env=None):
        self.written = programs


class FakeLoadBalancer:
    def __init__(self):
        self.states = {}
        self.log = []

    def answers(self):
        return True

    def set_state(self, server, state):
        self.states[server] = state
        self.log.append((server, state))

    def servers(self):
        return {"apiserver-%d" % i: {"status": "UP", "sessions": 0} for i in range(3)}


@pytest.fixture
def simulated(tmp_path, monkeypatch):
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
    layout = st.Layout(str(tmp_path), "c")
    os.makedirs(layout.sub("config"))
    old, new = str(tmp_path / "old"), str(tmp_path / "new")
    members = [{"etcd_client": 1 + 10 * i, "etcd_peer": 2 + 10 * i, "apiserver": 3 + 10 * i,
                "controller_manager": 4 + 10 * i, "scheduler": 5 + 10 * i} for i in range(3)]
    spec = normalize({"name": "c", "ha": True, "nodes": {"count": 2}}, "v1.35.4")
    data = {"spec": spec, "ports": {"members": members, "api": 100, "kwok": 101}, "bin_dir": str(tmp_path / "core"),
            "kube_bin_dir": old, "haproxy": "/usr/sbin/haproxy", "token": "t", "phase": "ready"}
    cluster = rt.Cluster(layout, data)
    rt.write_kwok_config(cluster)
    sup = FakeSupervisor(cluster.process_names(), old)
    cluster.supervisor = sup
    broken = set()
    nodes = {"kwok-node-0": "v1.35.4", "kwok-node-1": "v1.35.4"}
    leading = {"controller-manager": 0, "scheduler": 0}

    def serves(url, timeout=None, **tls):
        port = int(url.split(":")[2].split("/")[0])
        name = next("%s-%d" % (k, i) for i, m in enumerate(members) for k, key in
                    (("apiserver", "apiserver"), ("controller-manager", "controller_manager"), ("scheduler", "scheduler"))
                    if m[key] == port)
        proc = sup.procs[name]
        if url.endswith("/metrics"):
            kind = name.rpartition("-")[0]
            return 200, b'leader_election_master_status{name="x"} %d\n' % (1 if name == "%s-%s" % (kind, leading.get(kind)) else 0)
        if proc["state"] != "RUNNING" or (name, proc["dir"]) in broken:
            raise OSError("connection refused")
        version = "v1.36.3" if proc["dir"] == new else "v1.35.4"
        return 200, json.dumps({"gitVersion": version}).encode() if url.endswith("/version") else b"ok"

    def patch(url, path, ctx, timeout, method, body, headers):
        nodes[path.split("/")[4]] = body["status"]["nodeInfo"]["kubeletVersion"]
        return 200, b"{}", None

    monkeypatch.setattr(up, "https_request", serves)
    monkeypatch.setattr(up, "component_request", lambda c, port, path: serves("https://127.0.0.1:%d%s" % (port, path)))
    monkeypatch.setattr(rt, "request", patch)
    monkeypatch.setattr(rt, "ssl_context", lambda **kw: None)
    monkeypatch.setattr(up, "running_binary_dir", lambda pid: next(p["dir"] for p in sup.procs.values() if p["pid"] == pid))
    monkeypatch.setattr(rt, "apiserver_ready", lambda c, port: serves("https://127.0.0.1:%d/readyz" % port))
    monkeypatch.setattr(rt, "wait_programs_running", lambda c, names, deadline: None)
    monkeypatch.setattr(rt, "api_get", lambda c, path: {"items": [
        {"metadata": {"name": n}, "status": {"nodeInfo": {"kubeletVersion": v}}} for n, v in nodes.items()]})

    def make(kind="upgrade", version="v1.36.3", to_dir=new):
        actions = []
        run = up.Upgrade(cluster, kind, version, to_dir, 0.5, actions, lambda msg: actions.append("warn " + msg))
        run.lb = FakeLoadBalancer()
        return run, actions
    return {"cluster": cluster, "sup": sup, "make": make, "old": old, "new": new, "broken": broken, "nodes": nodes,
            "layout": layout, "leading": leading}


def test_run_moves_every_process_in_order(simulated):
    cluster, sup = simulated["cluster"], simulated["sup"]
    run, actions = simulated["make"]()
    run.begin("v1.35.4", simulated["old"])
    with open(cluster.layout.state_file) as f:
        saved = json.load(f)["upgrade"]
    want = ("v1.35.4", "v1.36.3", simulated["old"], simulated["new"])
    assert (saved["from"], saved["to"], saved["from_dir"], saved["to_dir"]) == want
    order = up.plan(3, "upgrade", up.leaders(cluster))
    assert order[-1] == "scheduler-0" and order[5] == "controller-manager-0"  # member 0 leads both
    run.run(order)
    assert [e[1] for e in sup.log if e[0] == "start"] == order
    kube = [n for n in sup.procs if n.startswith(("apiserver", "controller", "scheduler"))]
    assert all(sup.procs[n]["dir"] == simulated["new"] for n in kube)
    assert sup.procs["etcd-0"]["dir"] == simulated["old"]  # only the Kubernetes server binaries move
    # every member put in rotation first (an interrupted run may have left one drained), then each API server drained
    # before it stops and back in rotation after
    assert run.lb.log[:3] == [("apiserver-%d" % i, "ready") for i in range(3)]
    assert run.lb.log[3:] == [("apiserver-%d" % i, state) for i in range(3) for state in ("drain", "ready")]
    assert set(simulated["nodes"].values()) == {"v1.36.3"}
    assert [s["process"] for s in run.steps] == order + ["leaders", "nodes"] and run.steps[-1]["patched"] == 2
    assert run.steps[-2]["leaders"] == {"controller-manager": 0, "scheduler": 0}
    with open(cluster.layout.state_file) as f:
        final = json.load(f)
    assert "upgrade" not in final and final["spec"]["kubernetes_version"] == "v1.36.3"
    assert final["kube_bin_dir"] == simulated["new"]
    assert cluster.command("apiserver-1")[0] == os.path.join(simulated["new"], "kube-apiserver")


def test_failed_step_puts_the_process_back_and_a_rerun_finishes(simulated):
    cluster, sup = simulated["cluster"], simulated["sup"]
    simulated["broken"].add(("apiserver-1", simulated["new"]))
    run, actions = simulated["make"]()
    run.begin("v1.35.4", simulated["old"])
    with pytest.raises(AdharError, match=r"upgrading cluster c from v1.35.4 to v1.36.3 failed at apiserver-1 \(it was put "
                                         r"back on v1.35.4\): timed out waiting for apiserver-1 /readyz of cluster c \(last: connection refused\)\. "
                                         r"Processes already moved stay there; run again with kubernetes_version v1.36.3 to finish, or "
                                         r"v1.35.4 to roll back"):
        run.run(up.plan(3, "upgrade"))
    assert sup.procs["apiserver-0"]["dir"] == simulated["new"] and sup.procs["apiserver-1"]["dir"] == simulated["old"]
    assert sup.procs["apiserver-1"]["state"] == "RUNNING" and sup.procs["apiserver-2"]["dir"] == simulated["old"]
    assert run.lb.states["apiserver-1"] == "ready"
    with open(cluster.layout.state_file) as f:
        record = json.load(f)["upgrade"]
    assert record["failed"]["process"] == "apiserver-1" and record["bin_dirs"]["apiserver-1"] == simulated["old"]
    with pytest.raises(AdharError, match="unfinished"):
        up.check_skew("v1.35.4", "v1.36.1", record)

    # fixed: the re-run skips member 0 and finishes
    simulated["broken"].clear()
    cluster.data = json.load(open(cluster.layout.state_file))
    sup.log.clear()
    run, actions = simulated["make"](kind=up.check_skew("v1.35.4", "v1.36.3", cluster.data["upgrade"]))
    assert run.kind == "resume"
    run.begin("v1.35.4", simulated["old"])
    run.run(up.plan(3, "resume"))
    assert actions[0] == "already on v1.36.3: apiserver-0"
    assert [e[1] for e in sup.log if e[0] == "start"][0] == "apiserver-1"
    assert cluster.data["spec"]["kubernetes_version"] == "v1.36.3" and "upgrade" not in cluster.data


def test_rollback_returns_to_the_old_release(simulated):
    cluster, sup = simulated["cluster"], simulated["sup"]
    simulated["broken"].add(("scheduler-2", simulated["new"]))
    run, dummy = simulated["make"]()
    run.begin("v1.35.4", simulated["old"])
    with pytest.raises(AdharError, match="failed at scheduler-2"):
        run.run(up.plan(3, "upgrade"))
    kind = up.check_skew("v1.35.4", "v1.35.4", cluster.data["upgrade"])
    assert kind == "rollback"
    sup.log.clear()
    run, actions = simulated["make"](kind=kind, version="v1.35.4", to_dir=simulated["old"])
    run.begin("v1.35.4", simulated["old"])
    run.run(up.plan(3, "rollback"))
    started = [e[1] for e in sup.log if e[0] == "start"]
    assert started[0].startswith("controller-manager") and started[-1] == "apiserver-2"
    assert all(p["dir"] == simulated["old"] for p in sup.procs.values())
    assert cluster.data["spec"]["kubernetes_version"] == "v1.35.4" and "upgrade" not in cluster.data
    assert set(simulated["nodes"].values()) == {"v1.35.4"}


def test_component_probes_do_not_verify_the_self_signed_serving_certificate(monkeypatch):
    """controller-manager and scheduler serve a certificate they generate at start: the probe authenticates with the
    admin client certificate and does not check theirs against the cluster CA (that check can never pass)."""
    seen = {}

    class Cluster:
        def tls(self):
            return {"ca_cert": "/pki/ca.crt", "client_cert": "/pki/admin.crt", "client_key": "/pki/admin.key"}

    def ctx(**kw):
        seen["ctx"] = kw
        return "ctx"

    def request(url, path, ctx_, timeout):
        seen["request"] = (url, path, ctx_)
        return 200, b"ok", None

    monkeypatch.setattr(up, "ssl_context", ctx)
    monkeypatch.setattr(up, "request", request)
    assert up.component_request(Cluster(), 10257, "/healthz") == (200, b"ok")
    assert seen["ctx"] == {"client_cert": "/pki/admin.crt", "client_key": "/pki/admin.key", "verify": False}
    assert seen["request"] == ("https://127.0.0.1:10257", "/healthz", "ctx")


def test_finished_only_once_a_controller_manager_and_a_scheduler_lead(simulated, monkeypatch):
    """A restarted leader keeps its lease until it expires: the upgrade is finished only once new leaders hold it."""
    cluster, leading = simulated["cluster"], simulated["leading"]
    leading["scheduler"] = None
    polls = []

    def poll(what, check, deadline, c, names, interval=0.2):
        if not what.endswith("leader"):
            return real_poll(what, check, deadline, c, names)
        for dummy in range(3):
            ok, last = check()
            polls.append(last)
            if ok:
                return
            leading["scheduler"] = 2 if len(polls) == 2 else leading["scheduler"]
        raise AdharError("timed out waiting for %s of cluster c (last: %s)" % (what, last))

    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
    real_poll = rt.poll
    monkeypatch.setattr(rt, "poll", poll)
    run, actions = simulated["make"]()
    run.begin("v1.35.4", simulated["old"])
    run.run(up.plan(3, "upgrade"))
    assert polls[0] == "no leader yet: scheduler" and len(polls) == 3
    assert run.steps[-2]["leaders"] == {"controller-manager": 0, "scheduler": 2}
    assert "upgrade" not in cluster.data


def test_no_leader_leaves_the_upgrade_unfinished_and_a_rerun_waits_again(simulated):
    cluster, leading = simulated["cluster"], simulated["leading"]
    leading["controller-manager"] = None
    run, actions = simulated["make"]()
    run.begin("v1.35.4", simulated["old"])
    with pytest.raises(AdharError, match=r"every process of cluster c runs v1.36.3, but timed out waiting for a "
                                         r"controller-manager and a scheduler leader of cluster c \(last: no leader yet: "
                                         r"controller-manager\); the upgrade is recorded as unfinished"):
        run.run(up.plan(3, "upgrade"))
    with open(cluster.layout.state_file) as f:
        assert json.load(f)["upgrade"]["to"] == "v1.36.3"
    assert cluster.data["spec"]["kubernetes_version"] == "v1.35.4"
    # every process already runs the new release: the re-run only waits for the leaders again, then finishes
    leading["controller-manager"] = 1
    run, actions = simulated["make"](kind=up.check_skew("v1.35.4", "v1.36.3", cluster.data["upgrade"]))
    run.begin("v1.35.4", simulated["old"])
    simulated["sup"].log.clear()
    run.run(up.plan(3, "resume"))
    assert [e for e in simulated["sup"].log if e[0] == "start"] == []
    assert run.steps[0] == dict(run.steps[0], process="leaders", leaders={"controller-manager": 1, "scheduler": 0})
    assert cluster.data["spec"]["kubernetes_version"] == "v1.36.3" and "upgrade" not in cluster.data
