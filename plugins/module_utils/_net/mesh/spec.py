# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options ``adhar.platform.mesh`` and ``adhar.platform.mesh_info`` share: the member list, the mesh size, where
local members and ``helm`` live.

``MESH_ARG_SPEC`` is mirrored option for option by the doc fragment ``plugins/doc_fragments/mesh.py``
(``adhar.platform.mesh``); tests/unit/plugins/module_utils/_net/mesh/test_mesh_spec.py keeps them in step.  Modules never edit
these dicts: they take ``mesh_arg_spec()``, a deep copy.

Only the standard library and ``args_common`` are imported here, so this file is cheap to import.
"""

from __future__ import annotations

import copy

from ansible_collections.adhar.platform.plugins.module_utils._common.args import k8s_auth_suboptions

# per-member connection options: the shared Kubernetes options (doc fragment adhar.platform.k8s_auth) that name a
# cluster and its credentials; the timeouts are the task's
MEMBER_CONNECTION_KEYS = ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert",
                          "client_key")


def member_spec():
    """Suboptions of ``members`` (the connection options of K8S_AUTH_ARG_SPEC without their env fallbacks: those
    belong to the task-level options)."""
    spec = dict(
        name=dict(type="str", required=True),
        cluster_id=dict(type="int"),
        local_cluster=dict(type="str"),
        pod_cidr=dict(type="str"),
        endpoint=dict(type="str"),
        release=dict(type="str", default="cilium"),
        release_namespace=dict(type="str", default="kube-system"),
        chart=dict(type="path"),
    )
    spec.update(k8s_auth_suboptions(MEMBER_CONNECTION_KEYS, without=("fallback", "default", "aliases")))
    return spec


MESH_ARG_SPEC = dict(
    members=dict(type="list", elements="dict", required=True, options=member_spec()),
    max_connected_clusters=dict(type="int", choices=[255, 511], default=255),
    state_dir=dict(type="path"),
    bin_dir=dict(type="path"),
)


def mesh_arg_spec(**extra):
    """A copy of MESH_ARG_SPEC with the module's own options ``extra``."""
    spec = copy.deepcopy(MESH_ARG_SPEC)
    spec.update(extra)
    return spec
