# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""On-disk layout and saved state of local clusters.

    <state root>/                       ADHAR_STATE_DIR or ~/.local/state/adhar (module option state_dir)
      .locks/<name>.lock  .locks/ports.lock
      <name>/cluster.json               saved spec, ports, phase (creating|ready), bin dir
      <name>/pki/                       CAs, serving and client certs, service-account keys
      <name>/config/                    kubeconfigs, haproxy.cfg, kwok.yaml, encryption/audit configs
      <name>/data/etcd-<i>/             etcd data dirs
      <name>/logs/<process>.log         process logs (and audit logs)
      <name>/config/supervisord.conf    the cluster's supervisord: one program per process
      <name>/run/<process>.pid          pid + start time of supervisord and of each of its children (orphan sweep)
      <name>/run/supervisor.sock        supervisord's XML-RPC socket (0700)
"""

from __future__ import annotations

import contextlib
import json
import os

from ansible_collections.adhar.platform.plugins.module_utils._common.files import atomic_write
from ansible_collections.adhar.platform.plugins.module_utils._common.locks import FileLock
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import default_state_root

STATE_FORMAT = 1


class Layout:
    def __init__(self, root, name):
        self.root = root
        self.name = name
        self.dir = os.path.join(root, name)

    @property
    def state_file(self):
        return os.path.join(self.dir, "cluster.json")

    def sub(self, *parts):
        return os.path.join(self.dir, *parts)

    def pki(self, name):
        return self.sub("pki", name)

    def config(self, name):
        return self.sub("config", name)

    @property
    def admin_kubeconfig(self):
        return self.config("admin.kubeconfig")

    @property
    def run_dir(self):
        return self.sub("run")

    @property
    def log_dir(self):
        return self.sub("logs")

    def pidfile(self, proc):
        return os.path.join(self.run_dir, proc + ".pid")

    @property
    def lock_dir(self):
        return os.path.join(self.root, ".locks")


def check_root(root):
    """Fail clearly when the state root cannot be used; never creates anything."""
    if os.path.exists(root) and not os.path.isdir(root):
        raise AdharError("state_dir: %s exists but is not a directory" % root, option="state_dir")
    probe = root
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise AdharError("state_dir: cannot create %s: %s is not a directory" % (root, probe), option="state_dir")
    if not os.access(probe, os.R_OK | os.W_OK | os.X_OK):
        raise AdharError("state_dir: %s is not readable and writable by this user" % probe, option="state_dir")


def load(layout):
    """The saved state dict, or None when the cluster does not exist.  Corrupt state is an error, never ignored."""
    if not os.path.exists(layout.dir):
        return None
    if not os.path.isdir(layout.dir):
        raise AdharError("state of cluster %r: %s is not a directory" % (layout.name, layout.dir), option="state_dir")
    if not os.path.exists(layout.state_file):
        raise AdharError("state of cluster %r is incomplete: %s exists without cluster.json; it was not made by "
                         "adhar.platform.cluster or was interrupted before it saved anything. Inspect and remove the "
                         "directory yourself." % (layout.name, layout.dir), option="state_dir")
    try:
        with open(layout.state_file) as f:
            data = json.load(f)
    except OSError as e:
        raise AdharError("cannot read the state of cluster %r (%s): %s" % (layout.name, layout.state_file, e),
                         option="state_dir")
    except ValueError as e:
        raise AdharError("the state of cluster %r is corrupt (%s is not valid JSON: %s); nothing was changed"
                         % (layout.name, layout.state_file, e), option="state_dir")
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT or data.get("name") != layout.name:
        raise AdharError("the state of cluster %r in %s has an unknown format; nothing was changed"
                         % (layout.name, layout.state_file), option="state_dir")
    return data


def save(layout, data):
    data = dict(data, format=STATE_FORMAT, name=layout.name)
    atomic_write(layout.state_file, json.dumps(data, indent=2, sort_keys=True))


@contextlib.contextmanager
def locked(path, what):
    """Hold the lock file ``path`` of ``what``; someone else working on it is waited for rather than failed."""
    lock = FileLock(path)
    try:
        lock.acquire()
    except OSError as exc:  # out of space or inodes, read-only, ...: the real cause, before anything is done
        raise AdharError("cannot write the lock of %s %s: %s" % (what, path, exc.strerror or exc), lock=path) from exc
    try:
        yield
    finally:
        lock.release()


def cluster_lock(layout):
    return locked(os.path.join(layout.lock_dir, layout.name + ".lock"), "cluster " + layout.name)


def ports_lock(root):
    return locked(os.path.join(root, ".locks", "ports.lock"), "ports")


def reserved_ports(root, skip=None):
    """Every port recorded by any cluster under ``root`` (except ``skip``)."""
    out = set()
    if not os.path.isdir(root):
        return out
    for entry in os.listdir(root):
        if entry.startswith(".") or entry == skip:
            continue
        try:
            with open(os.path.join(root, entry, "cluster.json")) as f:
                ports = json.load(f).get("ports") or {}
        except (OSError, ValueError):
            continue
        out.update(flatten_ports(ports))
    return out


def flatten_ports(ports):
    for v in ports.values():
        if isinstance(v, int):
            yield v
        elif isinstance(v, list):
            for m in v:
                for p in m.values():
                    if isinstance(p, int):
                        yield p


def list_clusters(root):
    if not os.path.isdir(root):
        return []
    return sorted(e for e in os.listdir(root) if not e.startswith(".") and os.path.isfile(os.path.join(root, e, "cluster.json")))


def health_targets(name, state_dir=None):
    """What ``cluster_info`` probes for a local cluster (see health.collect_health)."""
    root = os.path.abspath(os.path.expanduser(state_dir)) if state_dir else default_state_root()
    layout = Layout(root, name)
    data = load(layout)
    if data is None:
        raise AdharError("no local cluster named %r under %s (create it with adhar.platform.cluster)" % (name, root),
                         option="name")
    ports = data["ports"]
    members = ports["members"]
    pki_dir = layout.sub("pki")
    return {
        "name": name,
        "provider": "local",
        "kubeconfig": layout.admin_kubeconfig,
        "api_endpoint": "https://127.0.0.1:%d" % ports["api"],
        "apiservers": [{"name": "apiserver-%d" % i, "url": "https://127.0.0.1:%d" % m["apiserver"]} for i, m in enumerate(members)],
        "tls": {"ca_cert": layout.pki("ca.crt"), "client_cert": layout.pki("admin.crt"), "client_key": layout.pki("admin.key")},
        "etcd": {
            "members": [{"name": "etcd-%d" % i, "url": "https://127.0.0.1:%d" % m["etcd_client"]} for i, m in enumerate(members)],
            "ca_cert": layout.pki("etcd-ca.crt"),
            "client_cert": layout.pki("etcd-healthcheck-client.crt"),
            "client_key": layout.pki("etcd-healthcheck-client.key"),
            "quota_bytes": data["spec"]["etcd_quota_bytes"],
        },
        "cert_files": sorted(os.path.join(pki_dir, f) for f in os.listdir(pki_dir) if f.endswith(".crt")) if os.path.isdir(pki_dir) else [],
        # the supervisor's programs are reported too (cluster_info); HAProxy by name when the cluster has one
        "layout": layout,
        "load_balancer": {"name": "haproxy", "port": ports["api"], "url": "https://127.0.0.1:%d" % ports["api"]}
        if len(members) > 1 else None,
    }
