# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh members that are local clusters (provider local): facts, connect and disconnect.

The programs and files are described in ``local/clustermesh.py``; here they are put in place under the cluster's
lock: ports reserved in its cluster.json, certificates issued from the mesh CA, the etcd client configs of the peers
written, Cilium's CRDs applied, and the programs added to (or removed from) the cluster's running supervisord.
"""

from __future__ import annotations

import os
import shutil
import time

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import clustermesh as cm
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import ports as portalloc
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import default_state_root
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import ca as meshca

# what a local member reports for the settings every member must share: there is no Cilium agent (kwok nodes have no
# datapath), so these are fixed
LOCAL_DATAPATH = "none (kwok nodes, no Cilium agent)"
LOCAL_IPAM = "kubernetes"
LOCAL_ENCRYPTION = "disabled"
START_TIMEOUT = 120.0


def state_root(state_dir):
    return os.path.abspath(os.path.expanduser(state_dir)) if state_dir else default_state_root()


def open_member(root, member):
    """``(layout, data)`` of a member's local cluster; errors name the member."""
    layout = st.Layout(root, member["local_cluster"])
    data = st.load(layout)
    if data is None:
        raise AdharError("member %s: no local cluster named %r under %s (create it with adhar.platform.cluster)"
                         % (member["name"], member["local_cluster"], root), member=member["name"], rule="member")
    if data.get("phase") != "ready":
        raise AdharError("member %s: local cluster %s is not ready (phase %s)"
                         % (member["name"], layout.name, data.get("phase")), member=member["name"], rule="member")
    return layout, data


def k8s_params(layout):
    """Connection options of a local cluster (its admin kubeconfig)."""
    return {"kubeconfig": layout.admin_kubeconfig}


def facts(root, member, max_connected_clusters, require_running=True):
    """What the pre-flight rules need from a local member (``require_running``: its supervisord must answer)."""
    layout, data = open_member(root, member)
    saved_id = data["spec"].get("cluster_id")
    if member.get("cluster_id") is not None and saved_id is not None and member["cluster_id"] != saved_id:
        raise AdharError("member %s: cluster_id %d differs from local cluster %s's cluster_id %d (fixed when the cluster "
                         "was created); leave cluster_id out or give %d" % (member["name"], member["cluster_id"],
                                                                            layout.name, saved_id, saved_id),
                         member=member["name"], rule="cluster_id")
    mesh = data.get("mesh") or {}
    cluster = rt.Cluster(layout, data)
    if require_running and not cluster.supervised():
        raise AdharError("member %s: local cluster %s is not running; start it first (adhar.platform.cluster "
                         "state=started)" % (member["name"], layout.name), member=member["name"], rule="member")
    return {
        "name": member["name"], "kind": "local", "cluster_id": saved_id if saved_id is not None else member.get("cluster_id"),
        "pod_cidrs": [data["spec"]["pod_cidr"]], "cilium_version": toolchain.ADDON_VERSIONS["clustermesh"],
        "datapath": LOCAL_DATAPATH, "ipam": LOCAL_IPAM, "encryption": LOCAL_ENCRYPTION,
        "max_connected_clusters": mesh.get("max_connected_clusters", max_connected_clusters),
        "joined": bool(mesh), "mesh": mesh, "layout": layout, "data": data, "k8s": k8s_params(layout),
        "namespace": "kube-system",
        "endpoint": cm.endpoint(data) if mesh else None,
    }


def _binary_dir():
    path, where = toolchain.find_addon_binary("clustermesh-apiserver", "clustermesh")
    if not path:
        raise AdharError("the clustermesh-apiserver binary is missing from %s; build it with `tools/toolchain ensure "
                         "--only clustermesh`" % where, missing=["clustermesh-apiserver"])
    return os.path.dirname(path)


def reserve(root, f, max_connected_clusters, check_mode):
    """Join: the member's mesh entry and ports in its cluster.json.  Returns the actions (empty when already there)."""
    layout, data = f["layout"], f["data"]
    want = {"cluster_name": f["name"], "cluster_id": f["cluster_id"], "max_connected_clusters": max_connected_clusters}
    have = data.get("mesh") or {}
    ports_ok = all(k in data["ports"] for k in cm.PORT_KEYS)
    if ports_ok and all(have.get(k) == v for k, v in want.items()):
        return []
    if check_mode:
        f["endpoint"] = f["endpoint"] or "https://127.0.0.1:<port to be reserved>"
        return ["%s: would join the mesh as %s (cluster id %d)" % (layout.name, f["name"], f["cluster_id"])]
    bin_dir = _binary_dir()
    with st.cluster_lock(layout), st.ports_lock(root):
        data = st.load(layout)
        if not ports_ok:
            free = portalloc.allocate(len(cm.PORT_KEYS), st.reserved_ports(root, skip=layout.name))
            for key, port in zip(cm.PORT_KEYS, free):
                data["ports"][key] = port
        data["mesh"] = dict(want, bin_dir=bin_dir)
        st.save(layout, data)
    f["data"], f["mesh"], f["endpoint"] = data, data["mesh"], cm.endpoint(data)
    return ["%s: joined the mesh as %s (cluster id %d, kvstore %s)" % (layout.name, f["name"], f["cluster_id"],
                                                                       f["endpoint"])]


def _write_if_changed(path, text):
    try:
        with open(path) as fh:
            if fh.read() == text:
                return False
    except OSError:
        pass
    rt.write_private(path, text)
    return True


def write_files(f, ca, peers, check_mode):
    """Certificates, the API server's etcd config and one etcd client config per peer.  Returns ``(actions,
    restart)``: ``restart`` when the running programs must pick up new certificates."""
    layout = f["layout"]
    actions, restart = [], False

    def p(name):
        return cm.pki_path(layout, name)

    current_ca = None
    try:
        with open(p("ca.crt")) as fh:
            current_ca = fh.read()
    except OSError:
        pass
    stale = current_ca != ca["cert"] or not all(meshca.issued_by(p(n + ".crt"), ca["cert"]) for n in ("server", "admin", "remote"))
    if stale:
        if check_mode:
            actions.append("%s: would issue its ClusterMesh certificates" % layout.name)
        else:
            os.makedirs(os.path.dirname(p("ca.crt")), mode=0o700, exist_ok=True)
            authority = meshca.authority(ca)
            local = dict(dns=("localhost", "%s.mesh.cilium.io" % f["name"], "clustermesh-apiserver.kube-system.svc"),
                         ips=("127.0.0.1",))
            authority.issue_to(p("server.crt"), p("server.key"), "clustermesh-apiserver", server=True, client=True,
                               **local)
            authority.issue_to(p("admin.crt"), p("admin.key"), "root", client=True)
            authority.issue_to(p("remote.crt"), p("remote.key"), "remote", client=True)
            rt.write_private(p("ca.crt"), ca["cert"])
            actions.append("%s: issued its ClusterMesh certificates" % layout.name)
            restart = current_ca is not None
    own = cm.etcd_client_config([f["endpoint"]], p("ca.crt"), p("admin.crt"), p("admin.key"))
    wanted = {peer["name"]: cm.etcd_client_config([peer["endpoint"]], p("ca.crt"), p("remote.crt"), p("remote.key"))
              for peer in peers}
    pdir = cm.peers_dir(layout)
    have = sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []
    if check_mode:
        added = sorted(set(wanted) - set(have))
        removed = sorted(set(have) - set(wanted))
        if added:
            actions.append("%s: would connect to %s" % (layout.name, ", ".join(added)))
        if removed:
            actions.append("%s: would disconnect from %s" % (layout.name, ", ".join(removed)))
        return actions, restart
    _write_if_changed(layout.config("clustermesh-etcd.yaml"), own)
    os.makedirs(pdir, mode=0o700, exist_ok=True)
    connected = [name for name, text in sorted(wanted.items()) if _write_if_changed(os.path.join(pdir, name), text)]
    removed = [name for name in have if name not in wanted]
    for name in removed:
        os.unlink(os.path.join(pdir, name))
    if connected:
        actions.append("%s: configured peers %s" % (layout.name, ", ".join(connected)))
    if removed:
        actions.append("%s: removed peers %s" % (layout.name, ", ".join(removed)))
    return actions, restart


def start_programs(f, restart, deadline=None):
    """Add the mesh programs to the cluster's running supervisord and start them (restarted when ``restart``)."""
    layout = f["layout"]
    with st.cluster_lock(layout):
        cluster = rt.Cluster(layout, st.load(layout))
        deadline = deadline or time.monotonic() + START_TIMEOUT
        states = cluster.programs() or {}
        running = [n for n in cm.PROGRAMS if (states.get(n) or {}).get("state") in ("STARTING", "RUNNING")]
        if running and not restart:
            cluster.ensure_supervisor(deadline)
            return []
        if restart and running:
            cluster.supervisor.stop_programs([["clustermesh-apiserver"], ["clustermesh-etcd"]])
        cluster.ensure_supervisor(deadline)
        cluster.start(list(cm.PROGRAMS))
        rt.wait_programs_running(cluster, list(cm.PROGRAMS), deadline)
        cluster.record_pids()
    return ["%s: %s clustermesh-etcd and clustermesh-apiserver" % (layout.name, "restarted" if running else "started")]


def leave(root, f, check_mode):
    """Disconnect: stop the mesh programs, drop them from supervisord and the cluster.json, remove their files."""
    layout = f["layout"]
    if not f["mesh"]:
        return []
    if check_mode:
        return ["%s: would leave the mesh (stop clustermesh-apiserver and clustermesh-etcd, remove their files)"
                % layout.name]
    with st.cluster_lock(layout):
        rt.remove_programs(layout, [["clustermesh-apiserver"], ["clustermesh-etcd"]], "mesh", cm.PORT_KEYS, START_TIMEOUT)
        for path in (cm.pki_path(layout, ""), cm.peers_dir(layout), layout.sub("data", "clustermesh-etcd")):
            shutil.rmtree(path, ignore_errors=True)
        for path in (layout.config("clustermesh-etcd.yaml"),):
            if os.path.exists(path):
                os.unlink(path)
    return ["%s: left the mesh" % layout.name]


def remote_tls(f):
    """The client TLS files a local member uses for its peers' kvstores."""
    layout = f["layout"]
    return {"ca_file": cm.pki_path(layout, "ca.crt"), "cert_file": cm.pki_path(layout, "remote.crt"),
            "key_file": cm.pki_path(layout, "remote.key")}


def health(f, timeout=3.0):
    """``(ok, reason)``: clustermesh-apiserver of a local member answers /readyz on its health port."""
    from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request
    cluster = rt.Cluster(f["layout"], f["data"])
    states = cluster.programs() or {}
    state = (states.get("clustermesh-apiserver") or {}).get("state") or "not running"
    if state != "RUNNING":
        return False, "clustermesh-apiserver of %s is %s" % (f["name"], state)
    try:
        status, body, _cert = request("http://127.0.0.1:%d" % f["data"]["ports"]["clustermesh_health"], "/readyz",
                                      timeout=timeout)
    except OSError as exc:
        return False, "clustermesh-apiserver of %s does not answer on its health port: %s" % (f["name"], exc)
    if status != 200:
        return False, "clustermesh-apiserver of %s is not ready: %s %s" % (
            f["name"], status, body[:100].decode("utf-8", "replace"))
    return True, "ready"


def configured_endpoint(f, peer_name):
    """The endpoint a local member is configured to reach ``peer_name`` at, or None."""
    path = os.path.join(cm.peers_dir(f["layout"]), peer_name)
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith("- "):
                    return line[2:].strip()
    except OSError:
        return None
    return None
