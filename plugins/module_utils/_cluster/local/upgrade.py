# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling upgrades of a local cluster's control plane, one Kubernetes minor at a time.

Rules, checked before anything changes (``check_skew``): one minor at a time (a newer patch of the same minor is fine),
never a downgrade, except the rollback of an upgrade that did not finish; an unfinished upgrade is recorded in
cluster.json (``upgrade``: from, to, the binary directory of every process already switched, the failure if any),
so it can only be finished or rolled back.

Order (``plan``): every API server member by member (drained in HAProxy through its runtime API first, so requests
in flight finish and new connections go to the other members; restarted on the new binaries; ready on /readyz and
serving the new /version before HAProxy sends it traffic again), then the controller-managers, then the schedulers,
the leader of each last (the member whose ``leader_election_master_status`` is 1), then a wait until both lead
again (the restarted leader's lease must expire first), then the version the kwok nodes report.  A rollback goes the
other way (controllers first: they must never be newer than the API servers).

State is written atomically before and after every step; whether a process already runs the new release is read from
its executable (``/proc/<pid>/exe``), so a re-run after an interruption (a member or the module killed) skips what is
done and finishes the rest.  A step that fails puts that process back on its old binaries and fails with the reason.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import https_request, request, ssl_context

VERSION_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
BACKEND = "kube-apiservers"
# how long a drained member may keep connections (a watch through HAProxy never ends by itself) before it restarts:
# its API server then closes them gracefully (local/runtime.py SHUTDOWN_DELAY_SECONDS)
DRAIN_SECONDS = 3.0
LEADER_METRIC = re.compile(r"^leader_election_master_status\{[^}]*\}\s+1(\.0)?\s*$", re.M)


def parse(version):
    m = VERSION_RE.match(version or "")
    if not m:
        raise AdharError("kubernetes_version: %r is not a release version like v1.36.3" % (version,),
                         option="kubernetes_version")
    return tuple(int(x) for x in m.groups())


def minor(version):
    return "v%d.%d" % parse(version)[:2]


def check_skew(current, target, record=None):
    """What moving a cluster from ``current`` to ``target`` is: None (nothing to do), ``upgrade``, ``resume`` (finish the
    unfinished upgrade ``record``) or ``rollback`` (undo it).  Raises AdharError naming the rule that refuses it."""
    if record:
        if target == record["to"]:
            return "resume"
        if target == record["from"]:
            return "rollback"
        raise AdharError("kubernetes_version: an upgrade from %s to %s is unfinished%s; finish it "
                         "(kubernetes_version: %s) or roll it back (kubernetes_version: %s) before asking for %s"
                         % (record["from"], record["to"],
                            " (it failed at %s)" % record["failed"]["process"] if record.get("failed") else "",
                            record["to"], record["from"], target), option="kubernetes_version")
    if target == current:
        return None
    have, want = parse(current), parse(target)
    if want[0] != have[0]:
        raise AdharError("kubernetes_version: %s -> %s changes the major version; not supported" % (current, target),
                         option="kubernetes_version")
    if want < have:
        raise AdharError("kubernetes_version: %s -> %s is a downgrade; a cluster is only ever moved back to the "
                         "version of an upgrade that did not finish" % (current, target), option="kubernetes_version")
    if want[1] > have[1] + 1:
        raise AdharError("kubernetes_version: %s -> %s skips %d minor version(s); upgrade one minor at a time "
                         "(to v%d.%d.x first)" % (current, target, want[1] - have[1] - 1, have[0], have[1] + 1),
                         option="kubernetes_version")
    return "upgrade"


def plan(members, kind, leaders=None):
    """The processes in the order they change: API servers member by member, then controller-managers, then schedulers
    (each kind's leader last); a rollback puts the controllers back before the API servers."""
    apis = ["apiserver-%d" % i for i in range(members)]
    controllers = []
    for what in ("controller-manager", "scheduler"):
        leader = (leaders or {}).get(what)
        order = [i for i in range(members) if i != leader] + ([leader] if leader is not None else [])
        controllers += ["%s-%d" % (what, i) for i in order]
    return controllers + apis if kind == "rollback" else apis + controllers


def kube_bin_dir_for(version, explicit=None, environ=None):
    """The directory of ``version``'s server binaries: ``explicit`` (the module's bin_dir) as is, its version checked;
    else the toolchain's (``ADHAR_BIN_DIR`` or the pinned release's cache directory, then the ``kubernetes-previous``
    add-on), whichever holds exactly that release."""
    names = rt.SERVER_BINARIES
    if explicit:
        d = os.path.abspath(os.path.expanduser(explicit))
        missing = toolchain.missing_binaries(d, names)
        if missing:
            raise AdharError("missing binaries in %s (from bin_dir): %s" % (d, ", ".join(missing)), option="bin_dir")
        have = rt.binary_version(d)
        if have != version:
            raise AdharError("kubernetes_version: %s was asked for but the binaries in %s are %s; build that release "
                             "into a directory and pass it as bin_dir" % (version, d, have), option="kubernetes_version")
        return d
    seen = []
    candidates = [toolchain.resolve_bin_dir(None, environ, names)[:2]]
    entry = toolchain.kubernetes_bin_dirs(environ).get(minor(version))
    if entry and entry[1] != "kubernetes":
        candidates.append((entry[0], "toolchain add-on %s" % entry[1]))
    for d, where in candidates:
        if toolchain.missing_binaries(d, names):
            seen.append("%s (%s): not built" % (d, where))
            continue
        have = rt.binary_version(d)
        if have == version:
            return d
        seen.append("%s (%s): %s" % (d, where, have))
    provided = " and ".join(toolchain.component_version(c) for c in ("kubernetes", "kubernetes-previous"))
    raise AdharError("kubernetes_version: no binaries of %s: %s. The toolchain provides %s (`make toolchain`, or "
                     "`tools/toolchain ensure --only kubernetes-previous` for the previous minor); for another "
                     "release build it into a directory and pass it as bin_dir" % (version, "; ".join(seen), provided),
                     option="kubernetes_version")


def running_binary_dir(pid):
    """The directory of the executable process ``pid`` runs (None when it is gone)."""
    try:
        exe = os.readlink("/proc/%d/exe" % int(pid))
    except (OSError, TypeError, ValueError):
        return None
    if exe.endswith(" (deleted)"):
        exe = exe[:-len(" (deleted)")]
    return os.path.dirname(os.path.realpath(exe))


def same_dir(a, b):
    return bool(a and b) and os.path.realpath(a) == os.path.realpath(b)


class LoadBalancer:
    """HAProxy's runtime API (``stats socket`` in haproxy.cfg) for the API servers' backend."""

    def __init__(self, path):
        self.path = path

    def command(self, line, timeout=5.0):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.path)
            sock.sendall((line + "\n").encode())
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "replace")

    def answers(self):
        try:
            return "Name:" in self.command("show info", timeout=2.0)
        except OSError:
            return False

    def set_state(self, server, state):
        out = self.command("set server %s/%s state %s" % (BACKEND, server, state)).strip()
        if out:
            raise AdharError("HAProxy refused to set %s to %s: %s" % (server, state, out))

    def servers(self):
        """``{server: {"status", "sessions", "admin"}}`` of the API servers' backend (``show stat``)."""
        lines = self.command("show stat").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise OSError("unexpected answer to show stat: %r" % "\n".join(lines[:2]))
        header = lines[0][2:].split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == BACKEND and row.get("svname") not in ("BACKEND", "FRONTEND", None):
                out[row["svname"]] = {"status": row.get("status", ""), "sessions": int(row.get("scur") or 0)}
        return out


def component_request(cluster, port, path):
    """``(status, body)`` of a GET to a controller-manager's or scheduler's secure port.  They serve a certificate they
    generate themselves at start (no ``--tls-cert-file``, as kubeadm runs them), so it is not verified; the admin
    client certificate authenticates the request (``/metrics`` needs it)."""
    tls = cluster.tls()
    ctx = ssl_context(client_cert=tls.get("client_cert"), client_key=tls.get("client_key"), verify=False)
    status, body, dummy = request("https://127.0.0.1:%d" % port, path, ctx, 3.0)
    return status, body


def leaders(cluster):
    """``{"controller-manager": i, "scheduler": j}``: the member whose instance leads (from its own /metrics)."""
    out = {}
    for what, key in (("controller-manager", "controller_manager"), ("scheduler", "scheduler")):
        for i, m in enumerate(cluster.ports["members"]):
            try:
                status, body = component_request(cluster, m[key], "/metrics")
            except OSError:
                continue
            if status == 200 and LEADER_METRIC.search(body.decode("utf-8", "replace")):
                out[what] = i
                break
    return out


class Upgrade:
    """One run of a rolling upgrade (or rollback) of ``cluster`` to ``version`` whose binaries are in ``to_dir``.

    ``actions`` gets a line per step; ``steps`` the per-process timings.  The caller holds the cluster's lock and has
    checked the skew rules."""

    def __init__(self, cluster, kind, version, to_dir, step_timeout, actions, warn):
        self.cluster = cluster
        self.kind = kind
        self.version = version
        self.to_dir = to_dir
        self.step_timeout = step_timeout
        self.actions = actions
        self.warn = warn
        self.steps = []
        self.lb = LoadBalancer(rt.haproxy_socket_path(cluster.layout)) if cluster.members > 1 else None

    # ------------------------------------------------------------------ state

    def _save(self):
        st.save(self.cluster.layout, self.cluster.data)

    @property
    def record(self):
        return self.cluster.data["upgrade"]

    def begin(self, from_version, from_dir):
        """Record the upgrade (a new one, or the unfinished one this run resumes or rolls back)."""
        data = self.cluster.data
        if self.kind == "upgrade":
            data["upgrade"] = {"from": from_version, "to": self.version, "from_dir": from_dir, "to_dir": self.to_dir,
                               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "bin_dirs": {},
                               "failed": None, "current": None}
        else:
            self.record["failed"] = None
            if self.kind == "resume":
                self.record["to_dir"] = self.to_dir
        self._save()

    def _old(self):
        """``(version, dir)`` a failed step puts its process back on."""
        r = self.record
        if self.kind == "rollback":
            return r["to"], r["to_dir"]
        return r["from"], r["from_dir"]

    # ------------------------------------------------------------------ run

    def pending(self, names):
        """The processes of ``names`` not yet running the target binaries."""
        states = self.cluster.programs() or {}
        out = []
        for name in names:
            info = states.get(name) or {}
            on = info.get("state") in ("RUNNING", "STARTING") and same_dir(running_binary_dir(info.get("pid")), self.to_dir)
            if on:
                self.record["bin_dirs"][name] = self.to_dir
            else:
                out.append(name)
        return out

    def run(self, order):
        self._prepare_load_balancer()
        todo = self.pending(order)
        self._save()
        done = [n for n in order if n not in todo]
        if done:
            self.actions.append("already on %s: %s" % (self.version, ", ".join(done)))
        for name in todo:
            t = time.monotonic()
            entry = {"process": name, "to": self.version}
            try:
                entry.update(self._step(name, self.to_dir, self.version))
            except (AdharError, OSError) as e:
                self._fail(name, e)
            entry["seconds"] = round(time.monotonic() - t, 2)
            self.steps.append(entry)
            self.actions.append("%s on %s in %.1fs%s" % (name, self.version, entry["seconds"],
                                                         " (drained %.1fs)" % entry["drained"] if "drained" in entry else ""))
        t = time.monotonic()
        held = self.wait_leaders()
        self.steps.append({"process": "leaders", "seconds": round(time.monotonic() - t, 2), "leaders": held})
        self.actions.append("leaders after %.1fs: %s" % (
            self.steps[-1]["seconds"], ", ".join("%s-%d" % (k, v) for k, v in sorted(held.items()))))
        t = time.monotonic()
        patched = self.nodes()
        self.steps.append({"process": "nodes", "to": self.version, "seconds": round(time.monotonic() - t, 2),
                           "patched": len(patched)})
        if patched:
            self.actions.append("nodes %s report kubelet %s" % (", ".join(patched), self.version))
        self.finish()

    def wait_leaders(self):
        """Wait until a controller-manager and a scheduler lead again.  A restarted leader does not hand its lease
        over: the others take it only when it expires (15 s after its last renewal), and until then nothing runs the
        controllers, so the upgrade is not done before that."""
        held = {}

        def check():
            held.clear()
            held.update(leaders(self.cluster))
            missing = [k for k in ("controller-manager", "scheduler") if k not in held]
            return not missing, "no leader yet: %s" % ", ".join(missing)

        names = ["%s-%d" % (k, i) for k in ("controller-manager", "scheduler") for i in range(self.cluster.members)]
        try:
            rt.poll("a controller-manager and a scheduler leader", check, self._deadline(), self.cluster, names,
                    interval=0.5)
        except AdharError as e:
            name = self.cluster.layout.name
            raise AdharError("every process of cluster %s runs %s, but %s; the upgrade is recorded as unfinished: run "
                             "again with kubernetes_version %s to finish" % (name, self.version, e, self.version),
                             upgrade=self.record)
        return dict(held)

    def _fail(self, name, error):
        old_version, old_dir = self._old()
        reason = str(error)
        try:
            self._step(name, old_dir, old_version)
            back = "it was put back on %s" % old_version
        except (AdharError, OSError) as e2:
            back = "putting it back on %s also failed: %s" % (old_version, e2)
        r = self.record
        r["failed"] = {"process": name, "reason": reason[-2000:], "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        r["current"] = None
        self._save()
        raise AdharError("%s cluster %s from %s to %s failed at %s (%s): %s. Processes already moved stay there; "
                         "run again with kubernetes_version %s to finish, or %s to roll back"
                         % ("rolling back" if self.kind == "rollback" else "upgrading", self.cluster.layout.name,
                            r["from"] if self.kind != "rollback" else r["to"], self.version, name, back, reason,
                            self.version, old_version), process=name, upgrade=r)

    def finish(self):
        data = self.cluster.data
        if self.kind != "rollback":
            data["spec"]["kubernetes_version"] = self.version
        data["kube_bin_dir"] = self.to_dir
        data.pop("upgrade", None)
        self._save()
        self.cluster.supervisor.write_config({n: self.cluster.command(n) for n in self.cluster.process_names()})

    # ------------------------------------------------------------------ steps

    def _deadline(self):
        return time.monotonic() + self.step_timeout

    def _switch(self, name, to_dir):
        """Stop ``name`` (gracefully, through supervisord), give it the binaries of ``to_dir``, start it."""
        cluster = self.cluster
        self.record["bin_dirs"][name] = to_dir
        self.record["current"] = name
        self._save()
        cluster.supervisor.stop_programs([[name]])
        cluster.supervisor.redefine({n: cluster.command(n) for n in cluster.process_names()}, [name])
        cluster.start([name])
        rt.wait_programs_running(cluster, [name], self._deadline())

    def _step(self, name, to_dir, version):
        kind, dummy, idx = name.rpartition("-")
        i = int(idx)
        out = {}
        if kind == "apiserver":
            server = "apiserver-%d" % i
            if self.lb:
                t = time.monotonic()
                self.lb.set_state(server, "drain")
                while time.monotonic() - t < DRAIN_SECONDS and (self.lb.servers().get(server) or {}).get("sessions"):
                    time.sleep(0.1)
                out["drained"] = round(time.monotonic() - t, 2)
            self._switch(name, to_dir)
            port = self.cluster.ports["members"][i]["apiserver"]
            self._wait("%s /readyz" % name, lambda: rt.apiserver_ready(self.cluster, port), name)
            self._wait("%s /version %s" % (name, version), lambda: self._serves(port, version), name)
            if self.lb:
                self.lb.set_state(server, "ready")
                self._wait("HAProxy to send %s traffic" % name,
                           lambda: self._lb_up(server), name)
        else:
            self._switch(name, to_dir)
            key = "controller_manager" if kind == "controller-manager" else "scheduler"
            port = self.cluster.ports["members"][i][key]
            self._wait("%s /healthz" % name, lambda: self._healthz(port), name)
        self.record["current"] = None
        self._save()
        return out

    def _wait(self, what, check, name):
        rt.poll(what, check, self._deadline(), self.cluster, [name])

    def _serves(self, port, version):
        status, body = https_request("https://127.0.0.1:%d/version" % port, timeout=3.0, **self.cluster.tls())
        have = json.loads(body).get("gitVersion") if status == 200 else None
        return have == version, "serves %s" % have

    def _healthz(self, port):
        status, body = component_request(self.cluster, port, "/healthz")
        return status == 200, "%s %s" % (status, body[:100])

    def _lb_up(self, server):
        info = self.lb.servers().get(server) or {}
        return info.get("status", "").startswith("UP"), "HAProxy: %s" % (info.get("status") or "unknown")

    def _prepare_load_balancer(self):
        """HAProxy answering on its runtime API with every member in rotation again (an interrupted run may have left
        one drained).  A cluster whose HAProxy predates the socket restarts it once to open it."""
        if not self.lb:
            return
        cluster = self.cluster
        if not self.lb.answers():
            rt.write_haproxy_config(cluster)
            cluster.supervisor.stop_programs([["haproxy"]])
            cluster.start(["haproxy"])
            rt.wait_programs_running(cluster, ["haproxy"], self._deadline())
            self._wait("HAProxy's runtime API", lambda: (self.lb.answers(), self.lb.path), "haproxy")
            self.warn("cluster %s: HAProxy was restarted once to open its runtime API socket (%s); connections "
                      "through it were cut" % (cluster.layout.name, self.lb.path))
            self.actions.append("restarted HAProxy with its runtime API socket")
        # unconditionally: a drained member whose check fails shows DOWN, not DRAIN
        for server in sorted(self.lb.servers()):
            self.lb.set_state(server, "ready")

    def nodes(self):
        """kwok's config (a cluster made by an earlier release gets the stage that keeps the reported version; kwok
        restarts to read it) and every node's ``status.nodeInfo.kubeletVersion``; returns the nodes patched."""
        cluster = self.cluster
        path = cluster.layout.config("kwok.yaml")
        with open(path) as f:
            before = f.read()
        rt.write_kwok_config(cluster)
        with open(path) as f:
            if f.read() != before:
                cluster.supervisor.stop_programs([["kwok"]])
                cluster.start(["kwok"])
                rt.wait_programs_running(cluster, ["kwok"], self._deadline())
                self.actions.append("restarted kwok with the node stage that keeps the kubelet version")
        return rt.set_node_versions(cluster, self.version)
