#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: analyze
short_description: Right-size workloads from their observed resource usage
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - For each Deployment, StatefulSet and DaemonSet, compares the requests and limits of its containers with the
    usage the resource metrics API (C(metrics.k8s.io), served by metrics-server) reports for its Pods, sampled
    O(duration) seconds long every O(interval) seconds.
  - Recommends requests the way the Vertical Pod Autoscaler's recommender does. The usage samples of a container are
    pooled over the Pods of its workload; the target is the O(percentile) of usage times 1 + O(safety_margin), the
    lower and upper bounds the 50th and 95th percentiles times the same margin, each bounded by O(min_allowed) and
    O(max_allowed).
  - Suggests a HorizontalPodAutoscaler (autoscaling/v2, CPU utilisation) for Deployments and StatefulSets that have
    none. C(minReplicas) covers the median total CPU, C(maxReplicas) twice the peak, at O(hpa_target_utilization)
    of the Pod's CPU request.
  - Read-only. The adhar Advanced Topics guide calls this C(adhar analyze resources).
  - On local clusters, kwok simulates Pods and their usage. Create the cluster with the option
    C(metrics_server) of M(adhar.platform.cluster) on, and set the usage with the Pod annotations
    C(kwok.x-k8s.io/usage-cpu) and C(kwok.x-k8s.io/usage-memory).
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.attributes.info_module
options:
  namespace:
    description: Only workloads of this namespace. All namespaces when left out.
    type: str
  kinds:
    description: Kinds of workload to analyse.
    type: list
    elements: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: [Deployment, StatefulSet, DaemonSet]
  duration:
    description:
      - How long to sample usage, in seconds. V(0) reads the metrics API once.
      - metrics-server refreshes its readings every few seconds (10 s on local clusters); a reading it has not
        refreshed counts once.
    type: int
    default: 60
  interval:
    description: Seconds between two readings of the metrics API. Must be greater than 0.
    type: int
    default: 15
  percentile:
    description: Percentile of the usage samples the recommended request covers (50 to 100), as VPA's target.
    type: float
    default: 90
  safety_margin:
    description: Fraction added on top of the percentile (V(0.15) adds 15%, VPA's default).
    type: float
    default: 0.15
  min_allowed:
    description: Lowest recommendation per resource, as Kubernetes quantities. VPA's defaults when left out.
    type: dict
    default: {cpu: 25m, memory: 250Mi}
  max_allowed:
    description: Highest recommendation per resource, as Kubernetes quantities (keys C(cpu), C(memory)). No bound
      when left out.
    type: dict
    default: {}
  hpa_target_utilization:
    description: CPU utilisation (percent of the request) the suggested HorizontalPodAutoscalers aim at.
    type: int
    default: 70
seealso:
  - module: adhar.platform.cluster
notes:
  - The O(duration) is spent in the task; the module prints nothing while it samples.
"""

EXAMPLES = r"""
- name: Observe the shop namespace for two minutes and report
  adhar.platform.analyze:
    namespace: shop
    duration: 120
    interval: 15
  register: sizing

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ sizing.table.splitlines() }}"

- name: Apply the suggested HPAs
  adhar.platform.apply:
    definition: "{{ sizing.workloads | selectattr('hpa.suggested') | map(attribute='hpa.manifest') | list }}"
"""

RETURN = r"""
workloads:
  description: One entry per workload, sorted by namespace, kind and name.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Deployment, StatefulSet or DaemonSet.
      type: str
    namespace:
      description: Its namespace.
      type: str
    name:
      description: Its name.
      type: str
    replicas:
      description: Replicas it asks for (a DaemonSet, the Pods it should run).
      type: int
    pods:
      description: Running Pods of it when sampled.
      type: int
    containers:
      description:
        - Per container, C(cpu) and C(memory), each with C(request), C(limit), C(samples), C(usage) (C(p50), the
          percentile asked for, C(max)) and C(recommendation) (C(lower), C(target), C(upper)); and C(notes).
      type: list
      elements: dict
    hpa:
      description:
        - C(suggested) and C(reason); when suggested, C(min_replicas), C(max_replicas),
          C(target_cpu_utilization) and C(manifest) (an autoscaling/v2 HorizontalPodAutoscaler).
      type: dict
  sample:
    - kind: Deployment
      namespace: shop
      name: web
      replicas: 2
      pods: 2
      containers:
        - name: web
          cpu: {request: 100m, limit: 500m, samples: 8, usage: {p50: 40m, p90: 40m, max: 40m},
                recommendation: {lower: 46m, target: 46m, upper: 46m}}
          memory: {request: 128Mi, limit: 256Mi, samples: 8, usage: {p50: 90Mi, p90: 90Mi, max: 90Mi},
                   recommendation: {lower: 250Mi, target: 250Mi, upper: 250Mi}}
          notes: [memory request below typical use]
      hpa: {suggested: true, min_replicas: 2, max_replicas: 4, target_cpu_utilization: 70}
table:
  description: The report as a fixed-width text table, one line per container.
  returned: always
  type: str
samples:
  description: Readings of the metrics API taken.
  returned: always
  type: int
sampled_seconds:
  description: Seconds spent sampling.
  returned: always
  type: float
namespace:
  description: The namespace filter (null for all).
  returned: always
  type: str
settings:
  description: The percentile, margin, bounds and HPA target used.
  returned: always
  type: dict
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
from ansible_collections.adhar.platform.plugins.module_utils._k8s.resource_analysis import KINDS, run


def main():
    module = AdharModule(dict(
        namespace=dict(type="str"),
        kinds=dict(type="list", elements="str", choices=list(KINDS), default=list(KINDS)),
        duration=dict(type="int", default=60),
        interval=dict(type="int", default=15),
        percentile=dict(type="float", default=90.0),
        safety_margin=dict(type="float", default=0.15),
        min_allowed=dict(type="dict", default={"cpu": "25m", "memory": "250Mi"}),
        max_allowed=dict(type="dict", default={}),
        hpa_target_utilization=dict(type="int", default=70),
    ), k8s_auth=True, supports_check_mode=True)
    module.require_k8s()

    def work(m):
        client = K8sClient.from_params(m.params, check_mode=m.check_mode)
        try:
            return run(client, m.params)
        finally:
            client.close()

    module.run(work)


if __name__ == "__main__":
    main()
