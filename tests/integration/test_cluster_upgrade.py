# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling upgrades of a real 3-member local cluster from the previous Kubernetes minor to the pinned one.

A client writes a ConfigMap every 100 ms through the cluster endpoint (HAProxy) for the whole upgrade; each write is
a new TLS connection, as a load-balanced client that does not pin itself to one member.  The failed writes are
counted and printed: the goal, asserted, is none.  A second cluster is upgraded while one of its API servers and then
the module itself are killed with SIGKILL; the re-run finishes the upgrade.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import threading
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain

PINNED = toolchain.VERSIONS["kubernetes"]
PREVIOUS = toolchain.ADDON_VERSIONS["kubernetes-previous"]


@pytest.fixture(scope="module", autouse=True)
def previous_binaries():
    missing = toolchain.missing_binaries(toolchain.addon_bin_dir("kubernetes-previous"),
                                         toolchain.COMPONENTS["kubernetes-previous"])
    if missing and not os.environ.get("ADHAR_BIN_DIR"):
        pytest.fail("the toolchain add-on kubernetes-previous (%s) is not built: %s (run `make toolchain`)"
                    % (PREVIOUS, ", ".join(missing)))


def load(state_dir, name):
    with open(os.path.join(state_dir, name, "cluster.json")) as f:
        return json.load(f)


def tls(state_dir, name):
    pki = os.path.join(state_dir, name, "pki")
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
    return ctx


def call(ctx, port, method, path, body=None, timeout=15.0):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def member_versions(state_dir, name):
    ctx = tls(state_dir, name)
    out = []
    for m in load(state_dir, name)["ports"]["members"]:
        status, body = call(ctx, m["apiserver"], "GET", "/version")
        out.append(json.loads(body)["gitVersion"] if status == 200 else status)
    return out


def node_versions(state_dir, name):
    ctx = tls(state_dir, name)
    status, body = call(ctx, load(state_dir, name)["ports"]["api"], "GET", "/api/v1/nodes")
    assert status == 200, body
    return {n["metadata"]["name"]: n["status"].get("nodeInfo", {}).get("kubeletVersion") for n in json.loads(body)["items"]}


def process_pids(state_dir, name):
    """{program: pid} from the cluster's supervisord (the pid of the program itself: it execs)."""
    import xmlrpc.client
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.supervisor import Supervisor
    sup = Supervisor(st.Layout(state_dir, name))
    try:
        return {n: i["pid"] for n, i in (sup.states() or {}).items()}
    except xmlrpc.client.Error:
        return {}


class Writer(threading.Thread):
    """Creates a ConfigMap every 100 ms through the cluster endpoint until stopped; counts what failed."""

    def __init__(self, state_dir, name):
        super().__init__(daemon=True)
        self.ctx = tls(state_dir, name)
        self.port = load(state_dir, name)["ports"]["api"]
        self.stop_at = threading.Event()
        self.ok, self.failed, self.slowest = [], [], 0.0

    def run(self):
        i = 0
        while not self.stop_at.is_set():
            t = time.monotonic()
            name = "probe-%05d" % i
            try:
                status, body = call(self.ctx, self.port, "POST", "/api/v1/namespaces/default/configmaps",
                                    {"metadata": {"name": name}, "data": {"i": str(i)}})
                if status == 201:
                    self.ok.append(name)
                else:
                    self.failed.append((time.strftime("%H:%M:%S"), name, "HTTP %s %s" % (status, body[:200])))
            except (OSError, http.client.HTTPException) as e:
                self.failed.append((time.strftime("%H:%M:%S"), name, repr(e)))
            self.slowest = max(self.slowest, time.monotonic() - t)
            i += 1
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))


def cluster_task(name, version, **extra):
    return dict({"name": name, "ha": True, "nodes": {"count": 2}, "kubernetes_version": version,
                 "wait_timeout": 240}, **extra)


def test_rolling_upgrade_without_failed_writes(runner, state_dir, figure):
    name = "upg"
    t = time.monotonic()
    created = runner.module("adhar.platform.cluster", cluster_task(name, PREVIOUS, cluster_id=21))
    print("\ncreated a 3-member cluster at %s in %.1fs" % (PREVIOUS, time.monotonic() - t))
    try:
        assert created["cluster"]["kubernetes_version"] == PREVIOUS
        assert member_versions(state_dir, name) == [PREVIOUS] * 3
        assert set(node_versions(state_dir, name).values()) == {PREVIOUS}
        before, pids = load(state_dir, name), process_pids(state_dir, name)

        # refused before anything changes: a skipped minor, a downgrade
        major, minor_, dummy = PREVIOUS.lstrip("v").split(".")
        for version, needle in (("v%s.%d.0" % (major, int(minor_) + 2), "skips 1 minor version(s)"),
                                ("v%s.%d.0" % (major, int(minor_) - 1), "is a downgrade")):
            r = runner.module("adhar.platform.cluster", cluster_task(name, version), expect_fail=True)
            assert needle in r["msg"], r["msg"]
        # check mode: says what would change, changes nothing
        r = runner.module("adhar.platform.cluster", cluster_task(name, PINNED), check=True, diff=True)
        assert r["changed"] is True and any(a.startswith("would upgrade cluster upg from %s to %s" % (PREVIOUS, PINNED))
                                            for a in r["actions"]), r["actions"]
        assert r["upgrade"]["order"][:3] == ["apiserver-0", "apiserver-1", "apiserver-2"]
        assert (r["diff"]["before"]["kubernetes_version"], r["diff"]["after"]["kubernetes_version"]) == (PREVIOUS, PINNED)
        assert load(state_dir, name) == before and process_pids(state_dir, name) == pids
        assert member_versions(state_dir, name) == [PREVIOUS] * 3

        writer = Writer(state_dir, name)
        writer.start()
        time.sleep(1.0)
        t = time.monotonic()
        try:
            r = runner.module("adhar.platform.cluster", cluster_task(name, PINNED), diff=True)
        finally:
            time.sleep(1.0)
            writer.stop_at.set()
            writer.join(10)
        took = time.monotonic() - t
        figure("upgrade %s -> %s: %.1fs; per process: %s" % (PREVIOUS, PINNED, took, ", ".join(
            "%s %.1fs" % (s["process"], s["seconds"]) for s in r["upgrade"]["steps"])))
        figure("writes through the load balancer during the upgrade: %d ok, %d failed (slowest %.2fs)"
               % (len(writer.ok), len(writer.failed), writer.slowest))
        for f in writer.failed[:20]:
            print("  failed write:", f)
        assert r["changed"] is True and r["cluster"]["kubernetes_version"] == PINNED
        assert (r["diff"]["before"]["kubernetes_version"], r["diff"]["after"]["kubernetes_version"]) == (PREVIOUS, PINNED)
        assert [s["process"] for s in r["upgrade"]["steps"]][-2:] == ["leaders", "nodes"]
        assert len(writer.ok) > 50
        assert writer.failed == [], "%d writes failed during the upgrade" % len(writer.failed)

        assert member_versions(state_dir, name) == [PINNED] * 3
        assert set(node_versions(state_dir, name).values()) == {PINNED}
        data = load(state_dir, name)
        assert "upgrade" not in data and data["spec"]["kubernetes_version"] == PINNED
        # every acknowledged write is there
        status, body = call(tls(state_dir, name), data["ports"]["api"], "GET", "/api/v1/namespaces/default/configmaps")
        have = {c["metadata"]["name"] for c in json.loads(body)["items"]}
        assert set(writer.ok) <= have
        again = runner.module("adhar.platform.cluster", cluster_task(name, PINNED))
        assert again["changed"] is False and "upgrade" not in again, again["actions"]
        info = runner.module("adhar.platform.cluster_info", {"name": name, "probes": 5})
        assert info["healthy"] is True, info["reasons"]
    finally:
        runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})


def _module_pids(state_dir):
    """Python processes running the cluster module of this test session (their environment names its state dir)."""
    want = ("ADHAR_STATE_DIR=" + state_dir).encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
            with open("/proc/%s/environ" % entry, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"AnsiballZ_cluster.py" in cmdline and want in env:
            out.append(int(entry))
    return out


def test_upgrade_interrupted_by_kill_completes_on_rerun(runner, state_dir, figure):
    name = "upgkill"
    runner.module("adhar.platform.cluster", cluster_task(name, PREVIOUS, cluster_id=22, nodes={"count": 1}))
    try:
        killed = {}

        def watch():
            # once member 0 serves the new release: SIGKILL member 1's API server, then the module itself
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not killed:
                try:
                    versions = member_versions(state_dir, name)
                except (OSError, http.client.HTTPException, ValueError):
                    versions = []
                if versions and versions[0] == PINNED:
                    pid = process_pids(state_dir, name)["apiserver-1"]
                    os.kill(pid, signal.SIGKILL)
                    killed["apiserver-1"] = pid
                    time.sleep(0.5)
                    killed["module"] = _module_pids(state_dir)
                    for p in killed["module"]:
                        os.kill(p, signal.SIGKILL)
                    return
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        first = runner.play("- adhar.platform.cluster: %s\n  ignore_errors: true\n"
                            % json.dumps(cluster_task(name, PINNED, nodes={"count": 1})), expect_rc=0)
        watcher.join(10)
        print("\nkilled: %s; first run: %s" % (killed, first[-1]["status"] if first else "no result"))
        assert killed.get("apiserver-1") and killed.get("module"), killed
        assert not first or first[-1]["status"] == "failed"
        record = load(state_dir, name).get("upgrade")
        assert record and (record["from"], record["to"]) == (PREVIOUS, PINNED), record
        # only finishing or rolling back is accepted now
        r = runner.module("adhar.platform.cluster", cluster_task(name, "v1.36.1", nodes={"count": 1}), expect_fail=True)
        assert "an upgrade from %s to %s is unfinished" % (PREVIOUS, PINNED) in r["msg"]

        t = time.monotonic()
        rerun = runner.module("adhar.platform.cluster", cluster_task(name, PINNED, nodes={"count": 1}))
        figure("re-run after the kill finished the upgrade in %.1fs" % (time.monotonic() - t))
        print(rerun["actions"])
        assert rerun["changed"] is True and rerun["upgrade"]["kind"] == "resume"
        assert any(a.startswith("already on %s: apiserver-0" % PINNED) for a in rerun["actions"]), rerun["actions"]
        assert member_versions(state_dir, name) == [PINNED] * 3
        assert set(node_versions(state_dir, name).values()) == {PINNED}
        assert "upgrade" not in load(state_dir, name)
        again = runner.module("adhar.platform.cluster", cluster_task(name, PINNED, nodes={"count": 1}))
        assert again["changed"] is False
    finally:
        runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})
