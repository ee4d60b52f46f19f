#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesh
short_description: Connect clusters into a Cilium ClusterMesh, or disconnect them
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - The C(adhar network mesh enable --clusters a,b) step of the adhar Advanced Topics guide.
  - Every member is either a local cluster made by M(adhar.platform.cluster) (O(members[].local_cluster)) or a cluster
    running Cilium from its Helm chart, reached with the shared Kubernetes connection options (the member's own, else
    the task's).
  - Before anything changes, every member is checked and one error names the member and the rule that failed, with
    nothing changed - unique valid names (not C(default)); unique cluster IDs 1-255 (1-511 with
    O(max_connected_clusters=511)); at most 255 (511) members; pod networks that do not overlap; the same Cilium version,
    datapath mode, IPAM mode, encryption mode and maxConnectedClusters on every member; one shared CA.
  - The CA is Cilium's Secret C(cilium-ca) (keys C(ca.crt), C(ca.key)) in the Cilium namespace of each member. It is
    taken from O(mesh_ca_cert)/O(mesh_ca_key), else from a member that has it, else generated once; members lacking it
    get it (server-side apply; a Cilium release gets it as values, its Secret is the chart's). Members holding
    different CAs are an error.
  - A member with a Cilium Helm release gets, through the collection's Helm layer (the code of
    M(adhar.platform.helm_release)), the values C(cluster.name), C(cluster.id), C(clustermesh.useAPIServer=true),
    C(clustermesh.apiserver.tls.auto) (method C(helm)), C(clustermesh.config.enabled=true) and
    C(clustermesh.config.clusters) (each peer's name, address or IP, and port) plus the CA as C(tls.ca.cert) and
    C(tls.ca.key); its other values are kept. A peer's address is its O(members[].endpoint), else its
    C(clustermesh-apiserver) Service (a LoadBalancer address, else a NodePort on the first node's InternalIP); a
    member whose Service does not exist yet is enabled first and connected once the Service has an address.
  - A local member runs the ClusterMesh control plane as two more processes of its cluster's supervisord, started and
    stopped with the cluster - C(clustermesh-etcd) (the mesh's kvstore, TLS with client certificates from the mesh CA)
    and C(clustermesh-apiserver) (Cilium's, built by C(tools/toolchain)), which syncs the cluster's real Services,
    Endpoints, CiliumIdentities, CiliumEndpoints and CiliumNodes from its API server into that kvstore. Cilium's
    CRDs for those kinds are applied to the cluster. Each peer is written as an etcd client config
    (C(config/clustermesh/<peer>) in the cluster's state directory, the format of Cilium's C(cilium-clustermesh)
    Secret). Local clusters have kwok nodes and no Cilium agent, so there is no pod traffic between them; see the
    networking page of the collection's docs for what is and is not exercised.
  - O(state=absent) disconnects every member given - a local member's mesh processes are stopped and removed with their
    files; a Cilium release loses C(clustermesh.config) and C(clustermesh.useAPIServer) (C(cluster.name) and
    C(cluster.id) stay, changing them restarts every workload). A local member's Secret C(cilium-ca) is removed when the
    mesh wrote it; a release's stays.
  - Idempotent - a member whose certificates, peers, processes and release values are already as wanted is not touched.
extends_documentation_fragment:
  - adhar.platform.mesh
  - adhar.platform.k8s_auth
  - adhar.platform.attributes
  - adhar.platform.wait.timeout
attributes:
  check_mode:
    support: full
    details:
      - Every check runs; Kubernetes writes are server-side dry runs, Helm upgrades are C(--dry-run=server), local files
        and processes are not touched; RV(actions) says what would be done.
  diff_mode:
    support: partial
    details:
      - The Cilium releases' values before and after (secret values masked); for local members the list of actions.
options:
  state:
    description:
      - V(present) connects every member with every other one; V(absent) disconnects the members given.
    type: str
    choices: [present, absent]
    default: present
  mesh_ca_cert:
    description:
      - PEM file of the mesh's CA certificate, with O(mesh_ca_key). Default - the CA a member already holds, else a new
        one.
    type: path
  mesh_ca_key:
    description:
      - PEM file of the key of O(mesh_ca_cert).
    type: path
  wait_timeout:
    description:
      - Seconds a Helm upgrade may take (C(--timeout)).
    default: 300
requirements:
  - kubernetes (Python library)
  - cryptography (Python library)
  - the toolchain's C(clustermesh-apiserver) and C(etcd) (local members), C(helm) (Cilium members)
notes:
  - Build the ClusterMesh API server with C(tools/toolchain ensure --only clustermesh) (part of C(make toolchain)).
seealso:
  - module: adhar.platform.mesh_info
  - module: adhar.platform.cluster
  - module: adhar.platform.helm_release
"""

EXAMPLES = r"""
- name: Mesh two local clusters (the guide's adhar network mesh enable --clusters a,b)
  adhar.platform.mesh:
    members:
      - name: a
        local_cluster: a
      - name: b
        local_cluster: b

- name: Mesh two clusters running Cilium from its Helm chart, each with its own kubeconfig
  adhar.platform.mesh:
    members:
      - name: eu-1
        cluster_id: 1
        kubeconfig: ~/.kube/eu-1.yaml
      - name: us-1
        cluster_id: 2
        kubeconfig: ~/.kube/us-1.yaml
        endpoint: 10.20.0.15:32379

- name: Disconnect them again
  adhar.platform.mesh:
    state: absent
    members:
      - name: a
        local_cluster: a
      - name: b
        local_cluster: b
"""

RETURN = r"""
members:
  description: The members after the task.
  returned: always
  type: list
  elements: dict
  sample: [{name: a, kind: local, cluster_id: 1, endpoint: "https://127.0.0.1:24512", pod_cidrs: [10.244.0.0/16],
            peers: [b], local_cluster: a}]
ca:
  description: Where the mesh CA came from (C(given), C(generated), or the member whose Secret held it) and its SHA-256
    fingerprint.
  returned: with O(state=present)
  type: dict
actions:
  description: What was done (or, in check mode, would be done), one line each.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the task took.
  returned: always
  type: float
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import WAIT_TIMEOUT_BOUNDS, wait_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.spec import mesh_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.task import run_mesh


def argument_spec():
    return mesh_arg_spec(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        mesh_ca_cert=dict(type="path"),
        mesh_ca_key=dict(type="path", no_log=False),
        **wait_arg_spec(300),
    )


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True,
                         bounds=WAIT_TIMEOUT_BOUNDS)
    module.require_k8s()
    module.run(run_mesh)


if __name__ == "__main__":
    main()
