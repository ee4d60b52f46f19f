# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# DOCUMENTATION mirrors MESH_ARG_SPEC (plugins/module_utils/_net/mesh/spec.py) option for option
# (tests/unit/plugins/module_utils/_net/mesh/test_mesh_spec.py checks it).  Used by mesh and mesh_info as adhar.platform.mesh:
# the same member list for both.

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  members:
    description:
      - The clusters of the mesh; the same list for M(adhar.platform.mesh) and M(adhar.platform.mesh_info).
      - Each member is either a local cluster made by M(adhar.platform.cluster) (O(members[].local_cluster)) or a
        cluster running Cilium from its Helm chart, reached with its own connection options, else the task's.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The member's Cilium cluster name (C(cluster.name)); 1-32 lower-case letters, digits and C(-).
        type: str
        required: true
      cluster_id:
        description:
          - The member's Cilium cluster ID (C(cluster.id)), unique in the mesh.
          - A local member defaults to (and must equal) the C(cluster_id) its cluster was created with; a Cilium member
            defaults to the C(cluster-id) of its C(cilium-config).
        type: int
      local_cluster:
        description:
          - Name of a local cluster made by M(adhar.platform.cluster) under O(state_dir); exclusive with the member's
            connection options.
        type: str
      pod_cidr:
        description:
          - The member's pod network, when it cannot be read (a Cilium member's C(cluster-pool-ipv4-cidr) is read; a
            local member's is its cluster's C(pod_cidr)). Only M(adhar.platform.mesh) uses it.
        type: str
      endpoint:
        description:
          - C(host:port) at which the member's clustermesh-apiserver is reached by its peers (Cilium members; default
            from its C(clustermesh-apiserver) Service).
        type: str
      release:
        description:
          - Name of the member's Cilium Helm release.
        type: str
        default: cilium
      release_namespace:
        description:
          - Namespace of the Cilium release (and of C(cilium-config) and C(cilium-ca)).
        type: str
        default: kube-system
      chart:
        description:
          - Path of the Cilium chart of the member's Cilium version, used for the upgrade. Default - the collection's
            Cilium chart (the version of the toolchain's clustermesh-apiserver), which is only used for a release of
            that version. Only M(adhar.platform.mesh) uses it.
        type: path
      kubeconfig:
        description:
          - The member's kubeconfig (a path or a dictionary); see the task-level O(kubeconfig). When the member sets
            none of its connection options, the task's are used.
        type: raw
      context:
        description: The member's kubeconfig context.
        type: str
      host:
        description: URL of the member's API server.
        type: str
      api_key:
        description: Bearer token for the member's API server.
        type: str
      validate_certs:
        description: Whether to verify the member's API server certificate.
        type: bool
      ca_cert:
        description: CA bundle of the member's API server.
        type: path
      client_cert:
        description: Client certificate for the member's API server.
        type: path
      client_key:
        description: Key of O(members[].client_cert).
        type: path
  max_connected_clusters:
    description:
      - Cilium's C(clustermesh.maxConnectedClusters) - 255, or 511 (which halves the cluster-local identities; set
        only at install, the same on every member).
    type: int
    choices: [255, 511]
    default: 255
  state_dir:
    description:
      - State root of the local members (default C(ADHAR_STATE_DIR), else C(~/.local/state/adhar)).
    type: path
  bin_dir:
    description:
      - Directory with C(helm) (Cilium members). Default - C(ADHAR_BIN_DIR), else the toolchain cache.
    type: path
"""
