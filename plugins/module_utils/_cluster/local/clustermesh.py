# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Cilium ClusterMesh control plane of a local cluster: its processes and files.

A local cluster that joined a mesh (``mesh`` in its cluster.json, written by ``adhar.platform.mesh``) runs two more
programs under its supervisord, started and stopped with the cluster:

* ``clustermesh-etcd``: the mesh's kvstore (the toolchain's etcd), TLS with client certificates from the mesh's
  shared CA;
* ``clustermesh-apiserver``: Cilium's ``clustermesh-apiserver clustermesh``, which reads the cluster's Services,
  Endpoints, CiliumIdentities, CiliumEndpoints and CiliumNodes from its API server and writes them to that etcd.

Files (under the cluster's directory)::

    pki/clustermesh/ca.crt                 the mesh's CA certificate (its key stays in the Secret cilium-ca)
    pki/clustermesh/server.{crt,key}       etcd's serving certificate
    pki/clustermesh/admin.{crt,key}        the API server's client certificate for its own etcd
    pki/clustermesh/remote.{crt,key}       the client certificate this cluster uses for its peers' etcd
    config/clustermesh-etcd.yaml           etcd client config of clustermesh-apiserver
    config/clustermesh/<peer>              one etcd client config per peer (the format of Cilium's cilium-clustermesh
                                           Secret): the peers this cluster is configured for
    data/clustermesh-etcd/                 the kvstore's data
"""

from __future__ import annotations

import os

PROGRAMS = ("clustermesh-etcd", "clustermesh-apiserver")
PKI_DIR = ("pki", "clustermesh")
PEERS_DIR = ("config", "clustermesh")


def program_names(data):
    """The mesh programs of a cluster's saved state (none when it is not in a mesh)."""
    return list(PROGRAMS) if data.get("mesh") else []


def pki_path(layout, name):
    return layout.sub(*(PKI_DIR + (name,)))


def peers_dir(layout):
    return layout.sub(*PEERS_DIR)


# ports a mesh member reserves in its cluster.json (found by every other cluster's port allocation)
PORT_KEYS = ("clustermesh_etcd", "clustermesh_etcd_peer", "clustermesh_health")


def endpoint(data):
    return "https://127.0.0.1:%d" % data["ports"]["clustermesh_etcd"]


def etcd_client_config(endpoints, ca, cert, key):
    """An etcd client config as Cilium reads it (``--kvstore-opt etcd.config=<file>``); YAML by hand (no yaml import)."""
    lines = ["# written by adhar.platform.mesh", "endpoints:"] + ["- %s" % e for e in endpoints]
    lines += ["trusted-ca-file: %s" % ca, "cert-file: %s" % cert, "key-file: %s" % key, ""]
    return "\n".join(lines)


def command(layout, data, name):
    """argv of one mesh program."""
    mesh = data["mesh"]
    ports = data["ports"]
    bin_dir = mesh.get("bin_dir") or data["bin_dir"]
    if name == "clustermesh-etcd":
        peer = "http://127.0.0.1:%d" % ports["clustermesh_etcd_peer"]
        return [os.path.join(data["bin_dir"], "etcd"), "--name=clustermesh",
                "--data-dir=" + layout.sub("data", "clustermesh-etcd"),
                "--listen-client-urls=" + endpoint(data), "--advertise-client-urls=" + endpoint(data),
                "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
                "--initial-cluster=clustermesh=" + peer, "--initial-cluster-state=new",
                "--client-cert-auth", "--trusted-ca-file=" + pki_path(layout, "ca.crt"),
                "--cert-file=" + pki_path(layout, "server.crt"), "--key-file=" + pki_path(layout, "server.key"),
                "--quota-backend-bytes=%d" % (512 * 1024 ** 2), "--log-level=warn"]
    if name == "clustermesh-apiserver":
        cmd = [os.path.join(bin_dir, "clustermesh-apiserver"), "clustermesh",
               "--cluster-name=" + mesh["cluster_name"], "--cluster-id=%d" % mesh["cluster_id"],
               "--kvstore-opt=etcd.config=" + layout.config("clustermesh-etcd.yaml"),
               "--k8s-kubeconfig-path=" + layout.admin_kubeconfig,
               "--health-port=%d" % ports["clustermesh_health"], "--enable-gops=false"]
        if mesh.get("max_connected_clusters", 255) != 255:
            cmd.append("--max-connected-clusters=%d" % mesh["max_connected_clusters"])
        return cmd
    raise ValueError("not a mesh program: %s" % name)
