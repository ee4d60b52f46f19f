#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: glb
short_description: Global load balancing - one DNS name answered by several clusters (Route 53, Cloud DNS, local CoreDNS)
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - The C(adhar network glb create) and C(adhar network switch) of the adhar Advanced Topics guide. One record name
    (O(record) in O(zone)) answers with the endpoints of several clusters, chosen by O(algorithm), each cluster's
    endpoint guarded by a health check.
  - O(provider=route53) writes one record set per cluster (its set identifier is the cluster name) with the routing
    policy of O(algorithm) and one Route 53 health check per endpoint, in one C(ChangeResourceRecordSets) batch waited
    until C(INSYNC).
  - O(provider=gcp) writes one Cloud DNS record set with a routing policy (C(geo), C(wrr) or C(primaryBackup)). Cloud
    DNS has no latency policy, so O(algorithm=latency) becomes geolocation by each cluster's region, and the result's
    RV(notes) says so.
  - O(provider=local), the default, serves the zone from a CoreDNS process on this machine (built by the collection's
    toolchain) with weighted answers; see the networking page of the documentation for what it does and does not do.
  - O(switch_to) moves all traffic to one cluster (the guide's C(adhar network switch --to prod-green)) and then waits
    one O(ttl) (the drain) so resolvers that cached the old answer have let it go; O(drain=false) skips the wait.
  - Every option is checked before anything is sent anywhere; a bad one fails the task with one message naming the
    option and the rule, and nothing is changed. A re-run with the same options changes nothing and makes no write.
options:
  name:
    description:
      - Name of the global load balancer (letters, digits, C(.), C(_), C(-)); the default O(record).
    type: str
    required: true
  provider:
    description: Where the DNS records live.
    type: str
    choices: [local, route53, gcp]
    default: local
  zone:
    description:
      - The DNS zone (domain) holding the record, for example V(example.com). For O(provider=route53) the hosted zone of
        that name (give O(zone_id) when several exist); for O(provider=gcp) the managed zone with that DNS name; for
        O(provider=local) the zone CoreDNS serves.
    type: str
    required: true
    aliases: [domain]
  zone_id:
    description:
      - The Route 53 hosted zone ID or the Cloud DNS managed zone name, when the zone is not to be found by its name.
    type: str
  record:
    description:
      - The record name, relative to O(zone) (V(app) is C(app.example.com.)) or fully qualified; V(@) is the zone apex.
      - Defaults to O(name).
    type: str
  record_type:
    description:
      - The record type; by default the kind of the endpoints (IPv4 C(A), IPv6 C(AAAA), host names C(CNAME)); endpoints
        of mixed kinds are refused.
    type: str
    choices: [A, AAAA, CNAME]
  algorithm:
    description:
      - How an answer is chosen. V(latency) - the cluster of the AWS region nearest to the client (Route 53), or
        geolocation by the cluster's region (Cloud DNS). V(weighted) - in proportion to O(clusters[].weight).
        V(failover) - the primary while its health check passes, else the secondary (exactly two clusters).
        V(geolocation) - by the client's location (O(clusters[].location)).
    type: str
    choices: [latency, weighted, failover, geolocation]
    default: latency
  clusters:
    description:
      - One entry per cluster; required with O(state=present). With O(state=absent) only the names matter (none
        needed).
    type: list
    elements: dict
    suboptions:
      name:
        description: The cluster's name; the record's set identifier. Unique.
        type: str
        required: true
      endpoint:
        description:
          - The address the cluster answers on (an IP address or a host name). Without it, O(clusters[].kubeconfig)
            is used to read the cluster's ingress Service.
        type: str
      region:
        description:
          - The cluster's region; required for O(algorithm=latency). An AWS region for O(provider=route53) (checked
            against the regions Route 53 accepts), a Google Cloud region for O(provider=gcp).
        type: str
      weight:
        description:
          - With O(algorithm=weighted), the cluster's share (default 1). Route 53 takes whole numbers 0-255; the
            weights must not all be 0.
        type: float
      role:
        description: With O(algorithm=failover), V(primary) or V(secondary) (default the first cluster is primary).
        type: str
        choices: [primary, secondary]
      location:
        description:
          - With O(algorithm=geolocation), where the cluster's clients are. Route 53 - a continent code (V(EU)), a
            country code (V(US)), a subdivision (V(US-CA)) or V(*) (everyone else). Cloud DNS - a Google Cloud region
            (default O(clusters[].region)).
        type: str
      alias_hosted_zone_id:
        description:
          - O(provider=route53) only - answer with an alias to O(clusters[].endpoint) (a load balancer's DNS name) in
            this hosted zone, instead of a CNAME.
        type: str
      kubeconfig:
        description: Kubeconfig of the cluster, to read the endpoint from its ingress Service.
        type: path
      context:
        description: Context of O(clusters[].kubeconfig).
        type: str
      ingress_service:
        description:
          - The ingress Service, C(<namespace>/<name>); its load-balancer address (or first external IP) is the
            endpoint. Default V(ingress-nginx/ingress-nginx-controller).
        type: str
  health_check:
    description:
      - One health check per cluster endpoint. A failing endpoint is no longer answered (Route 53, Cloud DNS; for
        O(provider=local) see the documentation).
    type: dict
    suboptions:
      enabled:
        description: Whether to check the endpoints.
        type: bool
        default: true
      protocol:
        description: How to check.
        type: str
        choices: [HTTP, HTTPS, TCP]
        default: HTTP
      port:
        description: Port to check (default 80, 443 for HTTPS).
        type: int
      path:
        description: Path of an HTTP(S) check.
        type: str
        default: /healthz
      interval:
        description: Seconds between checks, 10 or 30.
        type: int
        default: 30
      threshold:
        description: Failed checks in a row before an endpoint is unhealthy (1-10).
        type: int
        default: 3
  ttl:
    description: Seconds resolvers may cache an answer (1-86400); also the length of the drain after a switch.
    type: int
    default: 60
  switch_to:
    description:
      - Send all traffic to this cluster (one of O(clusters)). V(weighted) - its weight stays, every other weight
        becomes 0. V(failover) - it becomes the primary. V(latency) and V(geolocation) - every record set answers with
        its endpoint (and its health check).
      - Run the task again without O(switch_to) to go back to the normal spread.
    type: str
  drain:
    description:
      - After a switch that changed the records, wait O(ttl) seconds before returning, so cached answers pointing to
        the old clusters have expired. V(false) returns at once.
    type: bool
    default: true
  state:
    description: V(absent) removes the records and the health checks this module made for O(record).
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the provider has applied the change (Route 53 C(INSYNC), Cloud DNS C(done)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for that.
    type: float
    default: 300.0
  state_dir:
    description:
      - O(provider=local) - the state root (as for local clusters); the server's files are in
        C(<state_dir>/.glb/<zone>/). Defaults to C(ADHAR_STATE_DIR), else C($XDG_STATE_HOME/adhar), else
        C(~/.local/state/adhar).
    type: path
  dns_address:
    description: O(provider=local) - the address CoreDNS listens on.
    type: str
    default: 127.0.0.1
  dns_port:
    description: O(provider=local) - the UDP and TCP port CoreDNS listens on.
    type: int
    default: 5353
extends_documentation_fragment:
  - adhar.platform.aws
  - adhar.platform.gcp
  - adhar.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current records and reports the changes it would make; creates, changes and deletes nothing and does
        not drain.
  diff_mode:
    support: full
    details:
      - The managed record sets (keyed on name, type and set identifier) before and after.
notes:
  - The AWS connection options are used with O(provider=route53), the Google Cloud ones with O(provider=gcp);
    O(state_dir) with O(provider=local).
  - DNS-based traffic moves are bounded by caching - clients keep an old answer for up to O(ttl) seconds, and
    health-check failover adds the detection time (about O(health_check.interval) times O(health_check.threshold)).
seealso:
  - module: adhar.platform.cluster
"""

EXAMPLES = r"""
- name: Global load balancer by latency (the guide's adhar network glb create --algorithm latency)
  adhar.platform.glb:
    name: global-app
    provider: route53
    zone: example.com
    algorithm: latency
    clusters:
      - {name: prod-us-east, endpoint: 203.0.113.10, region: us-east-1}
      - {name: prod-us-west, endpoint: 203.0.113.20, region: us-west-2}
      - {name: prod-eu, endpoint: 203.0.113.30, region: eu-west-1}
    health_check: {protocol: HTTPS, path: /healthz}

- name: Endpoints read from each cluster's ingress Service, weighted on Cloud DNS
  adhar.platform.glb:
    name: global-app
    provider: gcp
    project: my-project
    zone: example.com
    algorithm: weighted
    clusters:
      - {name: prod-blue, kubeconfig: ~/.kube/blue, region: us-east1, weight: 3}
      - {name: prod-green, kubeconfig: ~/.kube/green, region: us-east1, weight: 1}

- name: Switch all traffic to the green cluster (the guide's adhar network switch --to prod-green)
  adhar.platform.glb:
    name: global-app
    provider: route53
    zone: example.com
    algorithm: weighted
    clusters:
      - {name: prod-blue, endpoint: 203.0.113.10}
      - {name: prod-green, endpoint: 203.0.113.40}
    switch_to: prod-green

- name: Remove the records and health checks
  adhar.platform.glb:
    name: global-app
    provider: route53
    zone: example.com
    state: absent
"""

RETURN = r"""
name:
  description: The load balancer's name.
  returned: always
  type: str
record:
  description: The fully qualified record name.
  returned: always
  type: str
  sample: global-app.example.com.
record_type:
  description: The record type (C(null) with O(state=absent)).
  returned: always
  type: str
changes:
  description:
    - What was (or in check mode would be) done, one entry per record set (C(action) CREATE, UPSERT or DELETE,
      C(name), C(type), C(set_identifier)) or health check (C(health_check_of) for a new one, C(health_check) for a
      deleted one). Empty when nothing changed.
  returned: always
  type: list
  elements: dict
records:
  description:
    - The managed record sets after the task, one per cluster (Route 53 and the local server) or per routing-policy
      item (Cloud DNS), with C(set_identifier), C(ttl), C(values) and the routing fields of the algorithm.
  returned: always
  type: list
  elements: dict
health_checks:
  description: Per cluster, the C(id) of its health check (Route 53, Cloud DNS) or its last C(status) (local).
  returned: with O(state=present) and health checks enabled
  type: list
  elements: dict
notes:
  description: How the request maps to the provider, when it is not one to one (also given as warnings).
  returned: always
  type: list
  elements: str
  sample: ["Cloud DNS has no latency-based routing: algorithm=latency is served as geolocation by each cluster's region"]
switched_to:
  description: The value of O(switch_to).
  returned: always
  type: str
drained_seconds:
  description: Seconds waited after a switch for cached answers to expire (0 when there was nothing to wait for).
  returned: always
  type: int
zone_id:
  description: The Route 53 hosted zone ID or the Cloud DNS managed zone name used.
  returned: with O(provider=route53) or O(provider=gcp)
  type: str
change_id:
  description: The provider's change ID of the write (C(null) when nothing was written).
  returned: with O(provider=route53) or O(provider=gcp)
  type: str
server:
  description: O(provider=local) - the CoreDNS process (C(pid), C(address), C(port), C(running)) and its files.
  returned: with O(provider=local)
  type: dict
"""

import copy

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._aws.args import AWS_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._gcp.args import GCP_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.runner import run
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import GLB_ARG_SPEC


def main():
    spec = copy.deepcopy(GLB_ARG_SPEC)
    spec["state_dir"] = {"type": "path"}
    spec.update(copy.deepcopy(AWS_ARG_SPEC))
    spec.update(copy.deepcopy(GCP_ARG_SPEC))
    module = AdharModule(spec, supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
