# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh members that run Cilium from a Helm release: facts, values, connect and disconnect.

The connection is the release's values, set through the collection's Helm layer (``helm.ReleaseTask``, the code of
``adhar.platform.helm_release``): ``cluster.name``, ``cluster.id``, ``clustermesh.useAPIServer``,
``clustermesh.config.enabled`` and ``clustermesh.config.clusters`` (one entry per peer: its name, address and port),
plus the shared CA as ``tls.ca.cert``/``tls.ca.key`` (so the chart issues the clustermesh-apiserver's certificates
from it).  The user's other values of the release are kept.  The facts come from the ConfigMap ``cilium-config`` the
chart renders and from the release's history.
"""

from __future__ import annotations

import base64
import copy
import re

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._helm.release import (
    Helm, ReleaseTask, deep_merge, find_helm, kube_settings, kube_settings_wrote)
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import ca as meshca

CONFIGMAP = "cilium-config"
SERVICE = "clustermesh-apiserver"
DEFAULT_PORT = 2379
# values the mesh owns in each release (removed again on disconnect)
MESH_KEYS = (("clustermesh", "config"), ("clustermesh", "useAPIServer"))


def datapath(cfg):
    mode = cfg.get("routing-mode") or ("native" if cfg.get("tunnel") == "disabled" else "tunnel")
    if mode == "tunnel":
        return "tunnel/%s" % (cfg.get("tunnel-protocol") or cfg.get("tunnel") or "vxlan")
    return mode


def encryption(cfg):
    if cfg.get("enable-wireguard") == "true":
        return "wireguard"
    if cfg.get("enable-ipsec") == "true":
        return "ipsec"
    return "disabled"


def pod_cidrs(cfg, member):
    if member.get("pod_cidr"):
        return [member["pod_cidr"]]
    found = []
    for key in ("cluster-pool-ipv4-cidr", "cluster-pool-ipv6-cidr"):
        found += [c for c in re.split(r"[\s,]+", cfg.get(key) or "") if c]
    return found


def chart_version(chart_field):
    """``1.19.6`` from helm's ``cilium-1.19.6``."""
    m = re.match(r"^.*-(\d+\.\d+\.\d+\S*)$", chart_field or "")
    return "v" + m.group(1) if m else None


class Connection:
    """helm and the Kubernetes client of one member (``close()`` removes the scratch files)."""

    def __init__(self, k8s, bin_dir, workdir):
        args, env = kube_settings(k8s, workdir)
        placeholders = {}
        if "--kubeconfig" in args and kube_settings_wrote(args[args.index("--kubeconfig") + 1], workdir):
            placeholders[args[args.index("--kubeconfig") + 1]] = "<kubeconfig>"
        self.helm = Helm(find_helm(bin_dir), args, env, placeholders=placeholders, timeout=600)
        self.k8s = k8s
        self.workdir = workdir


def facts(member, k8s, conn, client, max_connected_clusters):
    """What the pre-flight rules need from a member with a Cilium Helm release."""
    ns, release = member["release_namespace"], member["release"]
    status, cm = client.raw("GET", "/api/v1/namespaces/%s/configmaps/%s" % (ns, CONFIGMAP), raise_for_status=False)
    if status == 404:
        raise AdharError("member %s: no Cilium here (ConfigMap %s/%s not found); install Cilium with its Helm chart "
                         "first" % (member["name"], ns, CONFIGMAP), member=member["name"], rule="member")
    if status != 200:
        raise AdharError("member %s: cannot read ConfigMap %s/%s: HTTP %s" % (member["name"], ns, CONFIGMAP, status),
                         member=member["name"], rule="member")
    cfg = (cm or {}).get("data") or {}
    history = conn.helm.history(release, ns)
    if not history or history[-1].get("status") not in ("deployed", "failed"):
        raise AdharError("member %s: no deployed Helm release %s in namespace %s; the mesh is set through Cilium's "
                         "release" % (member["name"], release, ns), member=member["name"], rule="member")
    latest = history[-1]
    current = conn.helm.values(release, ns)
    ca = meshca.read_secret(client, ns)
    cid = member.get("cluster_id")
    if cid is None and cfg.get("cluster-id") not in (None, "", "0"):
        cid = int(cfg["cluster-id"])
    configured = {}
    for entry in _clusters_list((current.get("clustermesh") or {}).get("config", {}).get("clusters")):
        configured[entry.get("name")] = entry
    return {
        "name": member["name"], "kind": "helm", "cluster_id": cid, "pod_cidrs": pod_cidrs(cfg, member),
        "cilium_version": chart_version(latest.get("chart")), "datapath": datapath(cfg), "ipam": cfg.get("ipam") or "cluster-pool",
        "encryption": encryption(cfg),
        "max_connected_clusters": int(cfg.get("max-connected-clusters") or max_connected_clusters),
        "ca_fingerprint": meshca.fingerprint(ca["cert"]) if ca else None, "ca": ca,
        "joined": bool((current.get("clustermesh") or {}).get("useAPIServer")), "configured": configured,
        "values": current, "release": release, "namespace": ns, "k8s": k8s, "member": member,
        "endpoint": member.get("endpoint") or service_endpoint(client, ns),
    }


def _clusters_list(clusters):
    if isinstance(clusters, dict):  # the chart also takes a dict keyed by name
        return [dict(v or {}, name=k) for k, v in clusters.items()]
    return list(clusters or [])


def service_endpoint(client, namespace):
    """``host:port`` of the clustermesh-apiserver Service: a LoadBalancer's address, else a NodePort on the first
    node's InternalIP; None when there is no such Service (yet)."""
    status, svc = client.raw("GET", "/api/v1/namespaces/%s/services/%s" % (namespace, SERVICE), raise_for_status=False)
    if status != 200 or not isinstance(svc, dict):
        return None
    spec = svc.get("spec") or {}
    port = next((p for p in spec.get("ports") or []), {})
    for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        host = ing.get("ip") or ing.get("hostname")
        if host:
            return "%s:%d" % (host, port.get("port") or DEFAULT_PORT)
    if spec.get("type") == "NodePort" and port.get("nodePort"):
        _status, nodes = client.raw("GET", "/api/v1/nodes")
        for node in (nodes or {}).get("items") or []:
            for addr in (node.get("status") or {}).get("addresses") or []:
                if addr.get("type") == "InternalIP":
                    return "%s:%d" % (addr["address"], port["nodePort"])
    return None


def split_endpoint(endpoint):
    """``(host, port)`` of ``host:port`` / ``https://host:port``."""
    text = endpoint.split("://", 1)[-1].rstrip("/")
    host, _sep, port = text.rpartition(":")
    if not host or not port.isdigit():
        return text, DEFAULT_PORT
    return host.strip("[]"), int(port)


def mesh_values(f, peers, max_connected_clusters):
    """The values the mesh sets in a member's release (without the CA, which goes in as secret values)."""
    clusters = []
    for peer in sorted(peers, key=lambda p: p["name"]):
        if not peer.get("endpoint"):
            continue
        host, port = split_endpoint(peer["endpoint"])
        entry = {"name": peer["name"], "port": port}
        if re.match(r"^[\d.]+$|:", host):
            entry["ips"] = [host]
        else:
            entry["address"] = host
        clusters.append(entry)
    values = {"cluster": {"name": f["name"], "id": f["cluster_id"]},
              "clustermesh": {"useAPIServer": True,
                              "apiserver": {"tls": {"auto": {"enabled": True, "method": "helm"}}},
                              "config": {"enabled": True, "clusters": clusters}}}
    if max_connected_clusters != 255:
        values["clustermesh"]["maxConnectedClusters"] = max_connected_clusters
    return values


def ca_values(ca):
    return {"tls.ca.cert": base64.b64encode(ca["cert"].encode()).decode(),
            "tls.ca.key": base64.b64encode(ca["key"].encode()).decode()}


def without_mesh(values):
    """The release's values with the mesh's connection removed (cluster name and id stay: changing them restarts
    every workload)."""
    out = copy.deepcopy(values)
    cm = out.get("clustermesh") or {}
    cm.pop("useAPIServer", None)
    cm.pop("config", None)
    if not cm:
        out.pop("clustermesh", None)
    return out


def apply(f, values, ca, conn, check_mode, diff_mode, warn, wait_timeout):
    """Upgrade the member's Cilium release to ``values`` (the user's other values kept); returns the ReleaseTask
    result.  The chart is the collection's Cilium chart when the release runs that version, else ``member.chart``."""
    member = f["member"]
    chart = member.get("chart")
    if not chart:
        if f["cilium_version"] != toolchain.ADDON_VERSIONS["clustermesh"]:
            raise AdharError("member %s runs Cilium %s; the collection's chart is %s: give the member's chart (the "
                             "path of the Cilium chart of its version)" % (f["name"], f["cilium_version"],
                                                                           toolchain.ADDON_VERSIONS["clustermesh"]),
                             member=f["name"], rule="chart")
        if not toolchain.chart_ready("cilium"):
            raise AdharError("the Cilium chart %s has not been fetched into %s; run `tools/toolchain charts cilium`"
                             % (toolchain.ADDON_VERSIONS["clustermesh"], toolchain.chart_dir("cilium")),
                             member=f["name"], rule="chart")
        chart = toolchain.chart_dir("cilium")
    params = dict(f["k8s"], name=f["release"], namespace=f["namespace"], chart=chart, values=values,
                  secret_values=ca_values(ca) if ca else {}, set_values={}, values_files=[], wait=False,
                  wait_timeout=wait_timeout, atomic=False, create_namespace=False)
    task = ReleaseTask(params, conn.helm, conn.workdir, check_mode=check_mode, diff_mode=diff_mode, warn=warn)
    return task.present()


def desired(f, peers, max_connected_clusters):
    """The release's user-supplied values after joining: the current ones with the mesh's values over them (the peer
    list replaced, not merged; the CA left to the secret values)."""
    base = without_mesh(f["values"])
    tls = base.get("tls") or {}
    tls.pop("ca", None)
    if not tls:
        base.pop("tls", None)
    return deep_merge(base, mesh_values(f, peers, max_connected_clusters))
