#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: api_info
short_description: Tell which API group-versions and kinds a cluster serves
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Asks the API server only for the group-versions named (C(GET /api/v1), C(GET /apis/<group>/<version>)), in
    parallel, and reports the kinds each serves. Roles use it to act only when a CRD is installed
    (for example PrometheusRule or CiliumNetworkPolicy).
  - A group-version the server does not serve is reported with no kinds; that is not an error.
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.attributes.info_module
options:
  api_versions:
    description: Group-versions to list, such as C(v1), C(apps/v1) or C(monitoring.coreos.com/v1).
    type: list
    elements: str
    default: []
  kinds:
    description: Kinds to look up; their group-versions are listed too.
    type: list
    elements: dict
    default: []
    suboptions:
      api_version:
        description: Group-version of the kind.
        type: str
        required: true
      kind:
        description: Kind, such as C(PrometheusRule).
        type: str
        required: true
seealso:
  - module: adhar.platform.apply
"""

EXAMPLES = r"""
- name: Does the cluster serve PrometheusRule?
  adhar.platform.api_info:
    kinds:
      - api_version: monitoring.coreos.com/v1
        kind: PrometheusRule
  register: api

- name: Apply the rules only when it does
  adhar.platform.apply:
    template: prometheusrule.yml.j2
  when: api.kinds[0].served
"""

RETURN = r"""
served:
  description: Kinds served per group-version asked for (empty when the group-version is not served).
  returned: always
  type: dict
  sample: {"monitoring.coreos.com/v1": ["Alertmanager", "PodMonitor", "PrometheusRule"], "cilium.io/v2": []}
kinds:
  description: One entry per kind asked for, in order.
  returned: always
  type: list
  elements: dict
  sample: [{api_version: monitoring.coreos.com/v1, kind: PrometheusRule, served: true, plural: prometheusrules, namespaced: true}]
api_discovery_requests:
  description: Discovery requests made.
  returned: always
  type: int
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import describe_api


def main():
    module = AdharModule(dict(
        api_versions=dict(type="list", elements="str", default=[]),
        kinds=dict(type="list", elements="dict", default=[], options=dict(
            api_version=dict(type="str", required=True),
            kind=dict(type="str", required=True),
        )),
    ), k8s_auth=True, supports_check_mode=True)
    module.require_k8s()

    def run(m):
        client = K8sClient.from_params(m.params, check_mode=m.check_mode)
        result = describe_api(client, m.params["api_versions"], m.params["kinds"])
        result["changed"] = False
        return result

    module.run(run)


if __name__ == "__main__":
    main()
