#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesh_info
short_description: Check a Cilium ClusterMesh pair by pair - configured, reachable, synced
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - The C(adhar network test --source a --dest b) step of the adhar Advanced Topics guide, for every ordered pair of
    the members given (the same member list as M(adhar.platform.mesh)).
  - C(configured) - the source holds a kvstore client config for the destination that points at the destination's
    current endpoint (a local member's C(config/clustermesh/<dest>); a Cilium member's C(clustermesh.config.clusters)).
  - C(reachable) - a TLS connection to the destination's kvstore (its clustermesh-apiserver's etcd) made with the
    source's client certificate for remote clusters and the mesh CA is accepted, and etcd answers C(/health).
  - C(synced) - the destination's clustermesh-apiserver is ready (a local member's process under supervisord and its
    C(/readyz); a Cilium member's Deployment), its kvstore holds the sync canary for services, and every Service of the
    destination annotated C(service.cilium.io/global=true) is in its kvstore, read over that same connection.
  - Read only. Every member must be readable (a local member's cluster running); an unreadable member is an error
    naming it.
extends_documentation_fragment:
  - adhar.platform.mesh
  - adhar.platform.k8s_auth
  - adhar.platform.attributes.info_module
options:
  timeout:
    description:
      - Seconds each probe of a kvstore may take.
    type: float
    default: 5
seealso:
  - module: adhar.platform.mesh
"""

EXAMPLES = r"""
- name: The guide's adhar network test --source a --dest b (and every other pair)
  adhar.platform.mesh_info:
    members:
      - name: a
        local_cluster: a
      - name: b
        local_cluster: b
  register: mesh

- name: Fail when a pair is not configured, reachable and synced
  ansible.builtin.assert:
    that: mesh.healthy
    fail_msg: "{{ mesh.reasons | join('; ') }}"
"""

RETURN = r"""
healthy:
  description: True when every ordered pair is configured, reachable and synced.
  returned: always
  type: bool
reasons:
  description: Why it is not healthy, one line per problem, each naming the pair (C(source -> dest)) and the member.
  returned: always
  type: list
  elements: str
  sample: ["a -> b: clustermesh-apiserver of b is BACKOFF"]
table:
  description: One row per ordered pair.
  returned: always
  type: list
  elements: dict
  sample: [{source: a, dest: b, endpoint: "https://127.0.0.1:24512", configured: true, reachable: true, synced: true,
            global_services: 1, global_services_seen: [default/web], reasons: []}]
members:
  description: The members as read.
  returned: always
  type: list
  elements: dict
duration:
  description: Seconds the check took.
  returned: always
  type: float
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import above
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.info import run_info
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.spec import mesh_arg_spec


def argument_spec():
    return mesh_arg_spec(timeout=dict(type="float", default=5))


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True, bounds={"timeout": above(0)})
    module.require_k8s()
    module.run(run_info)


if __name__ == "__main__":
    main()
