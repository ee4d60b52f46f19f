# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Kubernetes control plane made of local processes.

One code path for 1, 3 or 5 members: every member runs etcd (TLS for clients
and peers) and kube-apiserver; kube-controller-manager and kube-scheduler run
on every member with leader election; with more than one member HAProxy
balances the API servers; one kwok controller makes nodes Ready and bound pods
Running.  Every process runs under the cluster's own supervisord
(local/supervisor.py), which restarts whatever dies; supervisord itself
detaches from the module and is tracked by a pidfile.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._common.files import atomic_write
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import clustermesh, metrics, monitoring, pki, ports as portalloc, procs, stages
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.supervisor import ALIVE, Supervisor
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import immutable_changes
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import https_request, request, ssl_context

try:
    import yaml
    from ansible.module_utils.common.yaml import yaml_load
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

NODE_LABEL = "adhar.io/kwok-node"
# the binaries of a Kubernetes release (the rest, etcd and kwok, come from the cluster's bin_dir whatever its release)
SERVER_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
SHUTDOWN_DELAY_SECONDS = 2
HAPROXY_CANDIDATES = ("/usr/sbin/haproxy", "/usr/bin/haproxy")


def find_haproxy():
    found = shutil.which("haproxy")
    if found:
        return found
    for c in HAPROXY_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    return None


def binary_version(bin_dir, name="kube-apiserver"):
    """``vX.Y.Z`` of a binary: from the toolchain manifest when present, else ``<bin> --version``."""
    try:
        with open(os.path.join(bin_dir, "manifest.json")) as f:
            entry = json.load(f)["binaries"][name]
        return entry["version"]
    except (OSError, ValueError, KeyError):
        pass
    out = run_once([os.path.join(bin_dir, name), "--version"], what="%s --version in %s" % (name, bin_dir), text=True,
                   timeout=20).stdout
    for word in out.split():
        if word.startswith("v") and word[1:2].isdigit():
            return word.split("-")[0].split("+")[0]
    raise AdharError("cannot tell the version of %s from %r" % (name, out.strip()))


# --------------------------------------------------------------------------- process plan

class Cluster:
    """One local cluster: its layout, saved state and process definitions."""

    def __init__(self, layout, data):
        self.layout = layout
        self.data = data
        self.supervisor = Supervisor(layout)

    @property
    def spec(self):
        return self.data["spec"]

    @property
    def ports(self):
        return self.data["ports"]

    @property
    def members(self):
        return self.spec["control_plane_count"]

    @property
    def endpoint(self):
        return "https://127.0.0.1:%d" % self.ports["api"]

    def tls(self):
        p = self.layout.pki
        return {"ca_cert": p("ca.crt"), "client_cert": p("admin.crt"), "client_key": p("admin.key")}

    def etcd_tls(self):
        p = self.layout.pki
        return {"ca_cert": p("etcd-ca.crt"), "client_cert": p("etcd-healthcheck-client.crt"),
                "client_key": p("etcd-healthcheck-client.key")}

    def process_names(self):
        n = self.members
        names = ["etcd-%d" % i for i in range(n)] + ["apiserver-%d" % i for i in range(n)]
        if n > 1:
            names.append("haproxy")
        names += ["controller-manager-%d" % i for i in range(n)] + ["scheduler-%d" % i for i in range(n)]
        names.append("kwok")
        # a cluster in a Cilium ClusterMesh also runs its kvstore and clustermesh-apiserver (local/clustermesh.py)
        names += clustermesh.program_names(self.data)
        # and a cluster with monitoring its Prometheus and Alertmanager (local/monitoring.py)
        names += monitoring.program_names(self.data)
        # the resource metrics API (local/metrics.py)
        names += metrics.program_names(self.data)
        return names

    def phases(self):
        """Start order: etcd + API servers (+ load balancer) first; the controllers once the API is ready
        (kube-controller-manager exits if RBAC bootstrap has not finished)."""
        names = self.process_names()
        first = [n for n in names if n.startswith(("etcd-", "apiserver-")) or n == "haproxy"]
        return first, [n for n in names if n not in first]

    def etcd_bootstrap(self, i):
        """How member ``i`` joins the etcd cluster: ``name``, ``peer_url``, ``initial_cluster``, ``token`` (the flags
        of its first start, and of ``etcdutl snapshot restore`` when it is recovered from a snapshot)."""
        members = self.ports["members"]
        return {"name": "etcd-%d" % i, "peer_url": "https://127.0.0.1:%d" % members[i]["etcd_peer"],
                "initial_cluster": ",".join("etcd-%d=https://127.0.0.1:%d" % (j, x["etcd_peer"]) for j, x in enumerate(members)),
                "token": "adhar-%s-%s" % (self.layout.name, self.data["token"])}

    def kube_bin_dir(self, name):
        """Where process ``name`` finds its Kubernetes server binary: during an upgrade the directory recorded for it
        (local/upgrade.py), else the cluster's (the toolchain's directory for its release), else ``bin_dir``."""
        chosen = ((self.data.get("upgrade") or {}).get("bin_dirs") or {}).get(name)
        return chosen or self.data.get("kube_bin_dir") or self.data["bin_dir"]

    def command(self, name):

        def b(binary):
            if binary in SERVER_BINARIES:
                return os.path.join(self.kube_bin_dir(name), binary)
            return os.path.join(self.data["bin_dir"], binary)

        p = self.layout.pki
        c = self.layout.config
        spec = self.spec
        members = self.ports["members"]
        kind, dummy, idx = name.rpartition("-")
        if name == "haproxy":
            return [self.data["haproxy"], "-db", "-f", c("haproxy.cfg")]
        if name in clustermesh.PROGRAMS:
            return clustermesh.command(self.layout, self.data, name)
        if name in monitoring.PROGRAMS:
            return monitoring.command(self.layout, self.data, name)
        if name == metrics.PROGRAM:
            return metrics.command(self.layout, self.data)
        if name == "kwok":
            return [b("kwok"), "--kubeconfig=" + c("kwok.kubeconfig"), "--manage-all-nodes=true", "--config=" + c("kwok.yaml"),
                    "--cidr=" + spec["pod_cidr"], "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40",
                    "--server-address=127.0.0.1:%d" % self.ports["kwok"]]
        i = int(idx)
        m = members[i]
        if kind == "etcd":
            boot = self.etcd_bootstrap(i)
            cmd = [b("etcd"), "--name=" + boot["name"], "--data-dir=" + self.layout.sub("data", "etcd-%d" % i),
                   "--listen-client-urls=https://127.0.0.1:%d" % m["etcd_client"],
                   "--advertise-client-urls=https://127.0.0.1:%d" % m["etcd_client"],
                   "--listen-peer-urls=" + boot["peer_url"],
                   "--initial-advertise-peer-urls=" + boot["peer_url"],
                   "--initial-cluster=" + boot["initial_cluster"], "--initial-cluster-state=new",
                   "--initial-cluster-token=" + boot["token"],
                   "--client-cert-auth", "--trusted-ca-file=" + p("etcd-ca.crt"),
                   "--cert-file=" + p("etcd-%d.crt" % i), "--key-file=" + p("etcd-%d.key" % i),
                   "--peer-client-cert-auth", "--peer-trusted-ca-file=" + p("etcd-ca.crt"),
                   "--peer-cert-file=" + p("etcd-%d.crt" % i), "--peer-key-file=" + p("etcd-%d.key" % i),
                   "--quota-backend-bytes=%d" % spec["etcd_quota_bytes"], "--log-level=warn"]
            if spec.get("etcd_unsafe_no_fsync"):
                cmd.append("--unsafe-no-fsync")
            return cmd
        if kind == "apiserver":
            # the local member first: it answers fastest and fails over to the others
            order = [members[i]] + [x for j, x in enumerate(members) if j != i]
            cmd = [b("kube-apiserver"), "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1",
                   "--secure-port=%d" % m["apiserver"],
                   "--etcd-servers=" + ",".join("https://127.0.0.1:%d" % x["etcd_client"] for x in order),
                   "--etcd-cafile=" + p("etcd-ca.crt"), "--etcd-certfile=" + p("apiserver-etcd-client.crt"),
                   "--etcd-keyfile=" + p("apiserver-etcd-client.key"),
                   "--client-ca-file=" + p("ca.crt"), "--tls-cert-file=" + p("apiserver.crt"),
                   "--tls-private-key-file=" + p("apiserver.key"),
                   "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                   "--service-account-key-file=" + p("sa.pub"), "--service-account-signing-key-file=" + p("sa.key"),
                   "--service-cluster-ip-range=" + spec["service_cidr"], "--authorization-mode=Node,RBAC",
                   "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true",
                   "--requestheader-client-ca-file=" + p("front-proxy-ca.crt"),
                   "--requestheader-allowed-names=front-proxy-client", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                   "--requestheader-group-headers=X-Remote-Group", "--requestheader-username-headers=X-Remote-User",
                   "--proxy-client-cert-file=" + p("front-proxy-client.crt"), "--proxy-client-key-file=" + p("front-proxy-client.key"),
                   "--profiling=false",
                   # graceful termination: /readyz fails at once and the server keeps serving for the load balancer's
                   # health check to notice (2 failed checks 1 s apart), then requests still in flight finish and new
                   # ones are answered 429 with Retry-After and Connection: close (a client retries elsewhere)
                   "--shutdown-delay-duration=%ds" % SHUTDOWN_DELAY_SECONDS, "--shutdown-send-retry-after=true"]
            # a cluster recovered from another's etcd snapshot also accepts the tokens its source issued
            cmd += ["--service-account-key-file=" + p(k) for k in self.data.get("extra_sa_public_keys") or []]
            if spec.get("encryption_at_rest"):
                cmd.append("--encryption-provider-config=" + c("encryption-config.yaml"))
            if spec.get("audit_policy"):
                a = spec["audit_policy"]
                cmd += ["--audit-policy-file=" + c("audit-policy.yaml"),
                        "--audit-log-path=" + os.path.join(self.layout.log_dir, "audit-%d.log" % i),
                        "--audit-log-maxsize=%d" % a["max_size_mb"], "--audit-log-maxbackup=%d" % a["max_backups"]]
            return cmd
        if kind == "controller-manager":
            # per-controller service-account credentials (least privilege, as kubeadm does).  Building one
            # client per controller at the default client rate limit (20 QPS) delayed start-up by ~5 s;
            # a higher limit removes that (docs/performance.md)
            kc = c("controller-manager-%d.kubeconfig" % i)
            return [b("kube-controller-manager"), "--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc,
                    "--authorization-kubeconfig=" + kc, "--bind-address=127.0.0.1", "--secure-port=%d" % m["controller_manager"],
                    "--leader-elect=true", "--root-ca-file=" + p("ca.crt"), "--service-account-private-key-file=" + p("sa.key"),
                    "--cluster-signing-cert-file=" + p("ca.crt"), "--cluster-signing-key-file=" + p("ca.key"),
                    "--use-service-account-credentials=true", "--kube-api-qps=200", "--kube-api-burst=400",
                    "--allocate-node-cidrs=true",
                    "--cluster-cidr=" + spec["pod_cidr"], "--service-cluster-ip-range=" + spec["service_cidr"],
                    "--cluster-name=" + self.layout.name, "--controllers=*,bootstrapsigner,tokencleaner", "--profiling=false"]
        if kind == "scheduler":
            kc = c("scheduler-%d.kubeconfig" % i)
            return [b("kube-scheduler"), "--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc,
                    "--authorization-kubeconfig=" + kc, "--bind-address=127.0.0.1", "--secure-port=%d" % m["scheduler"],
                    "--leader-elect=true", "--profiling=false"]
        raise AdharError("unknown process %s" % name)

    def pid_info(self, name):
        return procs.read_pidfile(self.layout.pidfile(name))

    def programs(self):
        """``{process: {"state", "pid", ...}}`` from supervisord, or None when supervisord does not answer."""
        return self.supervisor.states()

    def supervised(self):
        """True when this cluster's supervisord runs and answers."""
        return self.programs() is not None

    def running(self, programs=None):
        """``{process: bool}`` for every process of this cluster.

        From supervisord's states (STARTING or RUNNING) when it answers; otherwise from the recorded pids and the
        cluster's process marker (children left by a dead supervisord still serve, but nothing restarts them).
        """
        states = self.programs() if programs is None else programs
        if states is not None:
            return {n: (states.get(n) or {}).get("state") in ALIVE for n in self.process_names()}
        alive = {c["name"] for c in self.supervisor.children()}
        return {n: n in alive for n in self.process_names()}

    def stop_order(self):
        """Graceful stop order: controllers and kwok, then the API servers and the load balancer, then etcd."""
        names = self.process_names()
        first = self.phases()[0]
        return [[n for n in names if n not in first],
                [n for n in names if n in first and not n.startswith("etcd-")],
                [n for n in names if n.startswith("etcd-")]]

    def ensure_supervisor(self, deadline):
        """supervisord running with the current process definitions; returns the orphans it had to stop first (a
        killed supervisord leaves its children running)."""
        write_member_kubeconfigs(self)
        write_haproxy_config(self)
        programs = {n: self.command(n) for n in self.process_names()}
        if self.supervisor.daemon_running() and self.supervised():
            self.supervisor.reload_if_changed(programs)
            return []
        return self.supervisor.start_daemon(programs, deadline, self.stop_order())

    def start(self, names):
        """Start ``names`` under supervisord (which must run) without waiting; readiness is the caller's."""
        self.supervisor.start(names if isinstance(names, (list, tuple)) else [names])

    def record_pids(self):
        """Record the pid and start time of every running process (the orphan sweep finds them after a kill -9 of
        supervisord)."""
        self.supervisor.record_children()

    def stop(self, names=None, force=False):
        """Stop every process and then supervisord; returns the names that were running.

        Graceful: controllers and kwok first, then the API servers and the load balancer, then etcd,
        each group in parallel, through supervisord (or through the recorded pids when supervisord is dead).
        ``force`` (used when the cluster is being deleted) kills supervisord and everything at once.
        """
        del names  # every process: the supervisor stops with them
        if force:
            return self.supervisor.kill()
        state = {"released": False}
        controllers = {n for n in self.process_names() if n.startswith(("controller-manager-", "scheduler-"))}

        def release():
            if not state["released"] and not controllers & {n for n, up in self.running().items() if up}:
                release_leader_leases(self)
                state["released"] = True

        if self.supervised():
            stopped = self.supervisor.stop_programs(self.stop_order(), after_group=release)
            stopped += [n for n in self.supervisor.shutdown() if n not in stopped]
        else:
            # supervisord is dead or does not answer: stop it by its pid (SIGTERM stops its children too), then its
            # orphans in order
            procs.stop_many([dict(self.supervisor.record() or {}, name="supervisord")], timeout=30.0)
            stopped = self.supervisor.stop_orphans(self.stop_order())
            release()
        return stopped

    def log_tail(self, name, lines=15):
        return procs.log_tail(os.path.join(self.layout.log_dir, name + ".log"), lines)


def remove_programs(layout, stop_groups, state_key, port_keys, timeout=120.0):
    """Take programs added to a cluster's supervisord (a mesh's, monitoring's) out again: stop them (``stop_groups``,
    in order), drop ``state_key`` and ``port_keys`` from its cluster.json and their definitions from supervisord.  The
    caller holds the cluster's lock and removes their files."""
    data = st.load(layout)
    cluster = Cluster(layout, data)
    if cluster.supervised():
        cluster.supervisor.stop_programs(stop_groups)
    data.pop(state_key, None)
    for key in port_keys:
        data["ports"].pop(key, None)
    st.save(layout, data)
    cluster = Cluster(layout, data)
    if cluster.supervised():
        cluster.ensure_supervisor(time.monotonic() + timeout)
    return data


# --------------------------------------------------------------------------- files

def _kubeconfig(cluster_name, server, ca_path, cert_path, key_path, user):
    def b64(path):
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()
    ctx = "adhar-" + cluster_name
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": ctx, "cluster": {"server": server, "certificate-authority-data": b64(ca_path)}}],
        "users": [{"name": "%s-%s" % (ctx, user), "user": {"client-certificate-data": b64(cert_path), "client-key-data": b64(key_path)}}],
        "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": "%s-%s" % (ctx, user)}}],
        "current-context": ctx,
    }


def write_private(path, text, owner=None):
    """Replace ``path`` atomically with ``text``, mode 0600 (owned by ``owner``, ``(uid, gid)``, when given)."""
    atomic_write(path, text, mode=0o600, owner=owner, makedirs=True)


def _dump(obj):
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)


def merge_kubeconfig(path, ours):
    """Put our cluster/user/context into ``path`` (0600), keeping everything else in it."""
    existing = None
    if os.path.exists(path):
        try:
            with open(path) as f:
                existing = yaml_load(f)
        except (OSError, yaml.YAMLError) as e:
            raise AdharError("kubeconfig_out: cannot merge into %s: %s" % (path, e), option="kubeconfig_out")
    if not isinstance(existing, dict) or not existing:
        write_private(path, _dump(ours))
        return
    for key in ("clusters", "users", "contexts"):
        names = {e["name"] for e in ours[key]}
        existing[key] = [e for e in (existing.get(key) or []) if e.get("name") not in names] + ours[key]
    existing.setdefault("current-context", ours["current-context"])
    if not existing.get("current-context"):
        existing["current-context"] = ours["current-context"]
    write_private(path, _dump(existing))


def kubeconfig_has(path, ours):
    """True when ``path`` already holds our cluster, user and context entries exactly."""
    try:
        with open(path) as f:
            existing = yaml_load(f) or {}
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(existing, dict):
        return False
    for key in ("clusters", "users", "contexts"):
        have = {e.get("name"): e for e in existing.get(key) or [] if isinstance(e, dict)}
        for entry in ours[key]:
            if have.get(entry["name"]) != entry:
                return False
    return True


def unmerge_kubeconfig(path, cluster_name):
    """Remove our entries from ``path``; delete the file when nothing else is left."""
    if not os.path.exists(path):
        return False
    try:
        with open(path) as f:
            existing = yaml_load(f) or {}
    except (OSError, yaml.YAMLError):
        return False
    ctx = "adhar-" + cluster_name
    changed = False
    for key in ("clusters", "users", "contexts"):
        before = existing.get(key) or []
        after = [e for e in before if not (e.get("name") == ctx or str(e.get("name", "")).startswith(ctx + "-"))]
        changed |= len(after) != len(before)
        existing[key] = after
    if existing.get("current-context") == ctx:
        existing["current-context"] = ""
        changed = True
    if not any(existing.get(k) for k in ("clusters", "users", "contexts")):
        os.unlink(path)
        return True
    if changed:
        write_private(path, _dump(existing))
    return changed


def write_configs(cluster):
    """PKI, kubeconfigs and component configs for a new cluster."""
    layout, spec = cluster.layout, cluster.spec
    pki.generate(layout.sub("pki"), members=spec["control_plane_count"], service_cidr=spec["service_cidr"])
    os.makedirs(layout.sub("config"), mode=0o700, exist_ok=True)
    p = layout.pki
    server = cluster.endpoint
    for fname, cert, user in (("admin.kubeconfig", "admin", "admin"),
                              ("controller-manager.kubeconfig", "controller-manager", "controller-manager"),
                              ("scheduler.kubeconfig", "scheduler", "scheduler"),
                              ("kwok.kubeconfig", "kwok", "kwok")):
        kc = _kubeconfig(layout.name, server, p("ca.crt"), p(cert + ".crt"), p(cert + ".key"), user)
        write_private(layout.config(fname), _dump(kc))
    write_member_kubeconfigs(cluster)
    write_kwok_config(cluster)
    write_haproxy_config(cluster)
    if spec.get("encryption_at_rest"):
        enc = spec["encryption_at_rest"]
        key = base64.b64encode(os.urandom(32)).decode()
        conf = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                "resources": [{"resources": enc["resources"],
                               "providers": [{enc["provider"]: {"keys": [{"name": "key1", "secret": key}]}}, {"identity": {}}]}]}
        write_private(layout.config("encryption-config.yaml"), _dump(conf))
    if spec.get("audit_policy"):
        write_private(layout.config("audit-policy.yaml"), _dump(spec["audit_policy"]["policy"]))


def write_kwok_config(cluster):
    """kwok's config: our stages, and the resource metrics simulation when the cluster runs metrics-server."""
    docs = stages.stages() + (metrics.kwok_documents() if metrics.enabled(cluster.data) else [])
    write_private(cluster.layout.config("kwok.yaml"), "---\n".join(_dump(s) for s in docs))
    if metrics.enabled(cluster.data):
        metrics.ensure_dirs(cluster.layout)


def haproxy_socket_path(layout):
    """HAProxy's runtime API socket (``stats socket``, level admin, 0600): in the cluster's run directory, or a
    per-cluster path in the temp directory when that is too deep for a unix socket."""
    path = os.path.join(layout.run_dir, "haproxy.sock")
    if len(path) <= 100:
        return path
    return os.path.join(tempfile.gettempdir(), "adhar-%d-%s-haproxy.sock" % (os.getuid(), Supervisor(layout).marker[:16]))


def write_haproxy_config(cluster):
    """haproxy.cfg of a cluster with several members; returns True when it was (re)written.  A cluster made by an
    earlier release gets the runtime API socket on its next start or upgrade (HAProxy reads it when it starts)."""
    if cluster.members < 2:
        return False
    layout = cluster.layout
    servers = "\n".join("    server apiserver-%d 127.0.0.1:%d" % (i, m["apiserver"])
                        for i, m in enumerate(cluster.ports["members"]))
    cfg = HAPROXY_CFG % {"lb": cluster.ports["api"], "servers": servers, "name": layout.name,
                         "socket": haproxy_socket_path(layout)}
    try:
        with open(layout.config("haproxy.cfg")) as f:
            if f.read() == cfg:
                return False
    except OSError:
        pass
    os.makedirs(layout.run_dir, mode=0o700, exist_ok=True)
    write_private(layout.config("haproxy.cfg"), cfg)
    return True


def write_member_kubeconfigs(cluster):
    """Each member's controller-manager and scheduler talk to that member's own API server (as kubeadm does), so the
    load balancer is no single point of failure for the control plane.  Written when missing (a cluster made by an
    earlier release gets them on its next start)."""
    layout = cluster.layout
    p = layout.pki
    for i, m in enumerate(cluster.ports["members"]):
        server = "https://127.0.0.1:%d" % m["apiserver"]
        for user in ("controller-manager", "scheduler"):
            path = layout.config("%s-%d.kubeconfig" % (user, i))
            if not os.path.exists(path):
                kc = _kubeconfig(layout.name, server, p("ca.crt"), p(user + ".crt"), p(user + ".key"), user)
                write_private(path, _dump(kc))


HAPROXY_CFG = """# written by adhar.platform.cluster for cluster %(name)s
global
    maxconn 4096
    # the runtime API: a member is drained (no new connections) before its API server restarts (local/upgrade.py)
    stats socket %(socket)s mode 600 level admin
defaults
    mode tcp
    timeout connect 3s
    timeout client 1h
    timeout server 1h
    timeout check 2s
    retries 3
    option redispatch 1
frontend kube-apiserver
    bind 127.0.0.1:%(lb)d
    default_backend kube-apiservers
backend kube-apiservers
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 check check-ssl verify none
%(servers)s
"""


# --------------------------------------------------------------------------- readiness

def _alive_or_fail(cluster, names):
    run = cluster.running()
    dead = [n for n in names if not run.get(n)]
    if dead:
        n = dead[0]
        raise AdharError("%s of cluster %s exited while starting; last log lines:\n%s"
                         % (n, cluster.layout.name, cluster.log_tail(n)), process=n,
                         log=os.path.join(cluster.layout.log_dir, n + ".log"))


def poll(what, check, deadline, cluster, names, interval=0.2):
    last = None
    while True:
        try:
            ok, last = check()
        except (OSError, ValueError) as e:
            ok, last = False, str(e)
        if ok:
            return
        _alive_or_fail(cluster, names)
        if time.monotonic() > deadline:
            raise AdharError("timed out waiting for %s of cluster %s (last: %s)" % (what, cluster.layout.name, last))
        time.sleep(interval)


def etcd_healthy(cluster, i, timeout=2.0):
    url = "https://127.0.0.1:%d/health" % cluster.ports["members"][i]["etcd_client"]
    status, body = https_request(url, timeout=timeout, **cluster.etcd_tls())
    return status == 200 and b'"true"' in body, "%s -> %s %s" % (url, status, body[:200])


def apiserver_ready(cluster, port, timeout=2.0):
    url = "https://127.0.0.1:%d/readyz" % port
    status, body = https_request(url, timeout=timeout, **cluster.tls())
    return status == 200, "%s -> %s %s" % (url, status, body[-300:])


def wait_control_plane(cluster, deadline, names=None):
    """Wait for etcd members, API servers and (HA) the load balancer, failing fast when a process dies."""
    names = names or cluster.process_names()
    members = cluster.ports["members"]
    for i in range(cluster.members):
        poll("etcd-%d health" % i, lambda i=i: etcd_healthy(cluster, i), deadline, cluster, names)
    for i, m in enumerate(members):
        poll("apiserver-%d /readyz" % i, lambda m=m: apiserver_ready(cluster, m["apiserver"]), deadline, cluster, names)
    if cluster.members > 1:
        poll("the load balancer", lambda: apiserver_ready(cluster, cluster.ports["api"]), deadline, cluster, names)


def wait_programs_running(cluster, names, deadline, interval=0.2):
    """Wait until supervisord reports every program of ``names`` RUNNING (up for its ``startsecs``).

    A program in BACKOFF is being retried by supervisord and is waited for; one that supervisord gave up on (FATAL)
    fails at once with its log.  A start returns processes that have started, not ones still STARTING.
    """
    names = list(names)
    last = None
    while names:
        states = cluster.programs() or {}
        current = {n: (states.get(n) or {}).get("state") or "UNKNOWN" for n in names}
        waiting = ["%s %s" % (n, s) for n, s in current.items() if s != "RUNNING"]
        if not waiting:
            return
        for n, state in current.items():
            if state in ("FATAL", "EXITED", "STOPPED"):
                raise AdharError("%s of cluster %s did not stay up (%s); last log lines:\n%s"
                                 % (n, cluster.layout.name, state, cluster.log_tail(n)), process=n,
                                 log=os.path.join(cluster.layout.log_dir, n + ".log"))
        last = ", ".join(waiting)
        if time.monotonic() > deadline:
            raise AdharError("timed out waiting for the processes of cluster %s to run (not yet running: %s)"
                             % (cluster.layout.name, last))
        time.sleep(interval)


def _node_body(name, cluster_name, index):
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name,
                     "labels": {NODE_LABEL: "true", "type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": "",
                                "topology.kubernetes.io/zone": "zone-%d" % (index % 3)},
                     "annotations": {"kwok.x-k8s.io/node": "fake", "adhar.io/cluster": cluster_name,
                                     # where metrics-server finds this node's resource metrics on kwok
                                     metrics.PATH_ANNOTATION: metrics.node_path(name)}},
        "spec": {},
        # what a kubelet reports; ephemeral-storage too, which charts request (bitnami's resource presets).  The
        # kubelet version is not set here (the client's NodeSystemInfo model needs every field): set_node_versions sets it
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "ephemeral-storage": "1Ti", "pods": "110"},
                   "capacity": {"cpu": "32", "memory": "256Gi", "ephemeral-storage": "1Ti", "pods": "110"}},
    }


def node_name(i):
    return "kwok-node-%d" % i


def api_get(cluster, path, timeout=5.0):
    """GET a path from the cluster's own API endpoint with its admin certificate (no client import, no discovery)."""
    status, body = https_request(cluster.endpoint + path, timeout=timeout, **cluster.tls())
    if status != 200:
        raise OSError("GET %s -> HTTP %s: %s" % (path, status, body[:200]))
    return json.loads(body)


def our_nodes(cluster):
    items = api_get(cluster, "/api/v1/nodes?labelSelector=" + NODE_LABEL.replace("/", "%2F"))["items"]
    return {i["metadata"]["name"] for i in items}


def nodes_status(cluster):
    """``(ready, total)`` over every Node of the cluster."""
    items = api_get(cluster, "/api/v1/nodes")["items"]
    ready = sum(1 for n in items for c in (n.get("status") or {}).get("conditions") or []
                if c.get("type") == "Ready" and c.get("status") == "True")
    return ready, len(items)


def reconcile_nodes(client_factory, cluster, count, check_mode=False):
    """Create/delete our kwok Nodes so exactly ``count`` exist; returns ``(created, deleted)``.

    Reads go straight to the API server; the Kubernetes client (slow to import)
    is only built when something must be written.
    """
    have = our_nodes(cluster)
    want = {node_name(i) for i in range(count)}
    created = sorted(want - have, key=lambda n: int(n.rsplit("-", 1)[1]))
    deleted = sorted(have - want)
    if check_mode or not (created or deleted):
        return created, deleted
    from kubernetes.client import CoreV1Api
    client = client_factory()
    core = client.api(CoreV1Api)
    for n in created:
        client.call(core.create_node, _node_body(n, cluster.layout.name, int(n.rsplit("-", 1)[1])))
    for n in deleted:
        client.call(core.delete_node, n)
    return created, deleted


def set_node_versions(cluster, version):
    """Make every node of ours report ``version`` as its kubelet's (``status.nodeInfo.kubeletVersion``); returns the
    nodes patched.  Called once kwok has applied its node stage (the nodes are Ready): the stage keeps the version a
    node already reports, so the patch is not undone."""
    items = api_get(cluster, "/api/v1/nodes?labelSelector=" + NODE_LABEL.replace("/", "%2F"))["items"]
    ctx = ssl_context(**cluster.tls())
    patched = []
    for node in sorted(items, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        if ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") == version:
            continue
        status, body, dummy = request(cluster.endpoint, "/api/v1/nodes/%s/status" % name, ctx, 10.0, method="PATCH",
                                      body={"status": {"nodeInfo": {"kubeletVersion": version}}},
                                      headers={"Content-Type": "application/merge-patch+json"})
        if status != 200:
            raise AdharError("setting the kubelet version of node %s failed: HTTP %s %s" % (name, status, body[:200]))
        patched.append(name)
    return patched


LEADER_LEASES = ("kube-controller-manager", "kube-scheduler")
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"


def lease_is_fresh(spec, now=None):
    """A lease whose holder renewed it within its duration (a stale holder is a dead leader).

    The rule is health.lease_status's (cluster_info reports the same leases); imported here on use only, because
    health pulls in the Kubernetes client, which the idempotent fast path never needs.
    """
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.health import lease_status
    return not lease_status({"spec": spec}, now=now)["stale"]


def release_leader_leases(cluster):
    """Delete the controller-manager and scheduler leader Leases once every instance is stopped, so the next start
    elects leaders at once instead of waiting for the dead holders' leases to expire.  Best effort."""
    for lease in LEADER_LEASES:
        try:
            request(cluster.endpoint, LEASE_PATH + lease, ssl_context(**cluster.tls()), 3.0, method="DELETE")
        except (OSError, ValueError):
            pass


def wait_workloads_ready(cluster, deadline):
    """Nodes Ready, the default ServiceAccount present, KCM and scheduler leaders elected."""
    want = cluster.spec["nodes_count"]
    names = cluster.process_names()

    def nodes():
        ready, total = nodes_status(cluster)
        return ready >= want, "%d/%d nodes Ready (want %d)" % (ready, total, want)

    def sa():
        try:
            api_get(cluster, "/api/v1/namespaces/default/serviceaccounts/default")
            return True, "default ServiceAccount present"
        except OSError as e:
            return False, "default ServiceAccount: %s" % e

    def leases():
        held = []
        for lease in LEADER_LEASES:
            try:
                obj = api_get(cluster, LEASE_PATH + lease)
            except OSError:
                continue
            if lease_is_fresh(obj.get("spec") or {}):
                held.append(lease)
        return len(held) == len(LEADER_LEASES), "leases held by a live leader: %s" % (", ".join(held) or "none")

    poll("nodes to become Ready", nodes, deadline, cluster, names)
    poll("the default ServiceAccount", sa, deadline, cluster, names)
    poll("controller-manager and scheduler leaders", leases, deadline, cluster, names)


def annotate_nodes_for_metrics(client_factory, cluster):
    """Give our kwok Nodes made before metrics-server was turned on the path of their resource metrics; returns them."""
    items = api_get(cluster, "/api/v1/nodes?labelSelector=" + NODE_LABEL.replace("/", "%2F"))["items"]
    todo = [n["metadata"]["name"] for n in items
            if (n["metadata"].get("annotations") or {}).get(metrics.PATH_ANNOTATION) != metrics.node_path(n["metadata"]["name"])]
    if todo:
        from kubernetes.client import CoreV1Api
        core = client_factory().api(CoreV1Api)
        for name in todo:
            core.patch_node(name, {"metadata": {"annotations": {metrics.PATH_ANNOTATION: metrics.node_path(name)}}})
    return todo


def allocate_extra_port(root, cluster):
    """One more free port for an existing cluster (caller holds the ports lock): not reserved by any cluster."""
    reserved = st.reserved_ports(root, skip=cluster.layout.name) | set(st.flatten_ports(cluster.ports))
    return portalloc.allocate(1, reserved)[0]


def wait_metrics_api(cluster, deadline):
    """Register metrics-server's APIService (local/metrics.py) and wait until the aggregator reports it Available."""
    ctx = ssl_context(**cluster.tls())
    poll("the metrics APIService to be applied",
         lambda: (metrics.register(cluster.endpoint, ctx, cluster.data) is None, "applied"),
         deadline, cluster, cluster.process_names(), interval=1.0)
    poll("the resource metrics API (metrics.k8s.io)", lambda: metrics.api_available(cluster.endpoint, ctx),
         deadline, cluster, cluster.process_names(), interval=1.0)


# --------------------------------------------------------------------------- allocation

def allocate_ports(root, name, members, api_port=None, extra=()):
    """Reserve ports for a new cluster (caller holds the ports lock)."""
    reserved = st.reserved_ports(root, skip=name)
    if api_port is not None:
        if api_port in reserved:
            raise AdharError("api_port: %d is already reserved by another local cluster under %s" % (api_port, root),
                             option="api_port")
        if not portalloc.port_free(api_port):
            raise AdharError("api_port: 127.0.0.1:%d is already in use by another process" % api_port, option="api_port")
        reserved.add(api_port)
    need = members * 5 + 1 + (1 if (members > 1 and api_port is None) else 0) + len(extra)
    free = portalloc.allocate(need, reserved)
    out = {"members": [], "kwok": free.pop()}
    for key in extra:
        out[key] = free.pop()
    for dummy in range(members):
        out["members"].append({"etcd_client": free.pop(), "etcd_peer": free.pop(), "apiserver": free.pop(),
                               "controller_manager": free.pop(), "scheduler": free.pop()})
    if members == 1:
        if api_port is not None:
            out["members"][0]["apiserver"] = api_port
        out["api"] = out["members"][0]["apiserver"]
    else:
        out["api"] = api_port if api_port is not None else free.pop()
    return out


def new_token():
    """A fresh random part of the etcd ``--initial-cluster-token`` (a new one makes a new logical etcd cluster)."""
    return base64.b32encode(os.urandom(5)).decode().lower()


def new_state(layout, spec, bin_dir, haproxy, kubeconfig_out):
    return {
        "provider": "local",
        "phase": "creating",
        "spec": spec,
        "bin_dir": bin_dir,
        "haproxy": haproxy,
        "kubeconfig": kubeconfig_out,
        "kubeconfigs": [kubeconfig_out] if kubeconfig_out else [],
        "token": new_token(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "owner_pid": os.getpid(),
    }


def spec_changes(saved_spec, desired):
    return immutable_changes(saved_spec, desired)
