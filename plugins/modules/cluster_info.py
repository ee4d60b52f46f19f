#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_info
short_description: Health of a Kubernetes control plane, with the reasons when it is not healthy
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Checks one cluster for real and returns V(true) or V(false) in RV(healthy), with a human-readable RV(reasons) list.
  - Probes each API server's C(/readyz) directly (not through a load balancer), each etcd member (health, leader, DB size
    against its quota, alarms), the leader-election Leases of C(kube-controller-manager) and C(kube-scheduler) in C(kube-system)
    (a lease is stale when C(renewTime) + C(leaseDurationSeconds) is in the past), Nodes Ready against total, the days left on
    every certificate of the cluster PKI and on the serving certificate each API server presents, and the API latency
    (p50/p99/max) over O(probes) sequential C(GET /readyz) requests.
  - For a local cluster made by M(adhar.platform.cluster), give its O(name); its saved state names every API server, etcd member
    and PKI file. Its supervisord is asked for the state of every process; a process that is not V(RUNNING) (for example
    V(BACKOFF) or V(FATAL), with the last line of its log) and a supervisord that is not running are reasons, and the load
    balancer of an HA cluster is named when it is down (C(load balancer (haproxy\) on port N is down)).
    For any other cluster, give the connection options (O(kubeconfig), O(context), O(host) and so on); the API endpoint
    is then probed as the only API server, and etcd, usually out of reach, is reported as not available without making the cluster unhealthy.
  - The module fails only when it cannot run at all (bad options, unknown local cluster, unreadable TLS files, nothing answering);
    an unhealthy cluster is a successful result with RV(healthy=false). Use M(ansible.builtin.assert) to fail a play on it.
  - While it runs, each request to the Kubernetes API takes at most O(timeout) seconds (or O(request_timeout) when smaller)
    and transient failures are retried for at most three times O(timeout) (or O(api_retry_deadline) when smaller),
    so that a dead endpoint is reported quickly instead of waited for.
  - Read-only; it never changes the cluster.
options:
  name:
    description:
      - Name of a local cluster created by M(adhar.platform.cluster) (provider C(local)).
      - Its saved state gives the API servers, etcd members, TLS credentials and PKI files to check, and its admin kubeconfig is used
        for the Kubernetes API (the O(kubeconfig), O(context), O(host), O(api_key), O(ca_cert), O(client_cert), O(client_key) and
        O(validate_certs) options are then ignored).
      - When not set, the cluster is the one the connection options point to.
    type: str
  state_dir:
    description:
      - Directory holding the local clusters' state, as for M(adhar.platform.cluster).
      - Defaults to E(ADHAR_STATE_DIR) when set, else C($XDG_STATE_HOME/adhar), else C(~/.local/state/adhar).
      - Only used with O(name).
    type: path
  probes:
    description:
      - Number of sequential C(GET /readyz) requests through the API endpoint used to measure latency (p50, p99, max).
      - V(0) disables the latency measurement.
      - From 0 to 1000.
    type: int
    default: 20
  cert_warn_days:
    description:
      - A certificate that expires in fewer days than this (or has expired) makes the cluster unhealthy, with a reason naming it.
      - V(0) or more.
    type: int
    default: 30
  timeout:
    description:
      - Seconds each probe request may take (direct API server and etcd probes, and requests through the API endpoint).
      - Greater than 0.
    type: float
    default: 5
  request_metrics:
    description:
      - Read each API server's own C(/metrics) (as C(kubectl get --raw /metrics) does) and return its request count, share
        of 5xx and 429 answers, and request latency percentiles (p50, p90, p99; reads and writes apart) computed from the
        C(apiserver_request_duration_seconds) histogram, long-running WATCH and CONNECT requests left out.
      - The figures are cumulative since each API server started; they are reported, not judged (no reason is added).
    type: bool
    default: true
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.attributes.info_module
requirements:
  - python >= 3.11
  - kubernetes >= 28.1.0
  - cryptography >= 41.0.0
notes:
  - API servers and etcd members are probed in parallel (at most 8 at a time); latency probes run afterwards, one at a time,
    so that they do not compete with the other probes.
  - An etcd member's DB using 80% or more of its quota (C(--quota-backend-bytes), 2 GiB by default) is a reason.
  - For a local cluster, the Nodes and Leases are read from a ready API server directly when the load balancer is down.
seealso:
  - module: adhar.platform.cluster
"""

EXAMPLES = r"""
- name: Check the health of the local HA cluster made by adhar.platform.cluster
  adhar.platform.cluster_info:
    name: demo
  register: demo_health

- name: Print the health table
  ansible.builtin.debug:
    msg: "{{ demo_health.table.splitlines() }}"

- name: Fail the play when the cluster is unhealthy, listing the reasons
  ansible.builtin.assert:
    that:
      - demo_health.healthy
    fail_msg: "Cluster demo is unhealthy: {{ demo_health.reasons | join('; ') }}"
    success_msg: "Cluster demo is healthy ({{ demo_health.nodes.ready }}/{{ demo_health.nodes.total }} nodes Ready)"

- name: Check an existing cluster through a kubeconfig context
  adhar.platform.cluster_info:
    kubeconfig: ~/.kube/config
    context: prod-eu-1
    probes: 50
    cert_warn_days: 45
  register: prod_health

- name: Check a cluster through its API URL and a token, without latency probes
  adhar.platform.cluster_info:
    host: https://api.example.com:6443
    api_key: "{{ cluster_token }}"
    ca_cert: /etc/adhar/example-ca.crt
    probes: 0
  register: token_health

- name: Wait until a local cluster reports healthy
  adhar.platform.cluster_info:
    name: demo
    probes: 0
  register: wait_health
  until: wait_health.healthy
  retries: 30
  delay: 2

- name: Show etcd DB usage per member
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.usage_percent }}% of quota, leader={{ item.is_leader }}"
  loop: "{{ demo_health.etcd.members }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
cluster:
  description: Which cluster was checked.
  returned: always
  type: dict
  contains:
    name:
      description: The O(name) of the local cluster, else the kubeconfig context given, else the API endpoint.
      type: str
      sample: demo
    provider:
      description: V(local) for a cluster made by M(adhar.platform.cluster), else V(existing).
      type: str
      sample: local
    api_endpoint:
      description: URL of the API endpoint used for the Kubernetes API (the load balancer of an HA local cluster).
      type: str
      sample: https://127.0.0.1:40123
  sample:
    name: demo
    provider: local
    api_endpoint: https://127.0.0.1:40123
healthy:
  description: V(true) when nothing below is a reason for concern, that is when RV(reasons) is empty.
  returned: always
  type: bool
  sample: false
reasons:
  description: Human-readable reasons the cluster is not healthy; empty when healthy.
  returned: always
  type: list
  elements: str
  sample:
    - "apiserver-1 (https://127.0.0.1:40125) not ready: connection refused"
    - "etcd-2 unreachable: connection refused"
    - "1/4 nodes not Ready: kwok-node-3"
    - "load balancer (haproxy) on port 40123 is down: connection refused"
    - "kwok is BACKOFF under supervisord; last log line: error: unknown flag"
load_balancer:
  description: The load balancer of a local cluster with several members (null otherwise).
  returned: when O(name) is given
  type: dict
  contains:
    name:
      description: The program that balances the API servers.
      type: str
      sample: haproxy
    port:
      description: Its port (the API endpoint's).
      type: int
    url:
      description: The API endpoint it serves.
      type: str
    running:
      description: Whether supervisord reports it V(RUNNING) (null when supervisord does not answer).
      type: bool
    state:
      description: Its supervisord state.
      type: str
    pid:
      description: Its pid.
      type: int
  sample: {name: haproxy, port: 40123, url: "https://127.0.0.1:40123", running: false, state: STOPPED, pid: null}
processes:
  description: The supervisord of a local cluster and the state of every program it runs.
  returned: when O(name) is given
  type: dict
  contains:
    running:
      description: Whether supervisord runs and answers.
      type: bool
    pid:
      description: Its pid.
      type: int
    socket:
      description: Its XML-RPC unix socket.
      type: str
    programs:
      description: Per program its state, pid and, when it is not V(RUNNING), the last lines of its log (C(log_tail)).
      type: dict
  sample:
    running: true
    pid: 41877
    socket: /home/me/.local/state/adhar/demo/run/supervisor.sock
    programs: {etcd-0: {state: RUNNING, pid: 41878}, haproxy: {state: STOPPED, pid: null, log_tail: "..."}}
endpoint:
  description: The API endpoint used for the Kubernetes API reads and latency probes.
  returned: always
  type: dict
  contains:
    url:
      description: Its URL.
      type: str
    error:
      description: Why it could not be reached, or V(null).
      type: str
    read_via:
      description: When the endpoint was down, the API server the Nodes and Leases were read from instead.
      type: str
      returned: when the endpoint was down and a ready API server was known
  sample:
    url: https://127.0.0.1:40123
    error: null
apiservers:
  description:
    - One entry per API server, probed directly with C(GET /readyz?verbose).
    - Without O(name), the API endpoint is the only entry.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Member name (V(apiserver-0), ...), or V(apiserver) for the API endpoint of a non-local cluster.
      type: str
    url:
      description: URL probed.
      type: str
    ready:
      description: Whether C(/readyz) answered 200 with no failed check.
      type: bool
    detail:
      description: V(ok), the HTTP status, or the connection error.
      type: str
    checks_failed:
      description: Names of the readiness checks reported as failed (C([-]) lines).
      type: list
      elements: str
  sample:
    - name: apiserver-0
      url: https://127.0.0.1:40124
      ready: true
      detail: ok
      checks_failed: []
etcd:
  description: etcd members, leader, alarms and DB usage.
  returned: always
  type: dict
  contains:
    available:
      description: V(false) when etcd was not probed (not a local cluster); the cluster is then judged without it.
      type: bool
    note:
      description: Why etcd was not probed.
      type: str
      returned: when RV(etcd.available=false)
    leader:
      description: Name (or hex member ID) of the leader the members report, V(null) when none.
      type: str
    leader_id:
      description: Hex member ID of the leader.
      type: str
      returned: when RV(etcd.available=true)
    leader_disagreement:
      description: The different leaders members report (an election in progress), else empty.
      type: list
      elements: str
      returned: when RV(etcd.available=true)
    alarms:
      description: Active alarms.
      type: list
      elements: dict
      contains:
        member:
          description: Member name (hex ID when unknown).
          type: str
        member_id:
          description: Hex member ID.
          type: str
        alarm:
          description: V(NOSPACE) or V(CORRUPT).
          type: str
    alarms_note:
      description: Set when the cluster-wide alarm list could not be read and alarms were taken from each member's status.
      type: str
      returned: sometimes
    healthy_members:
      description: Members whose C(/health) says healthy.
      type: int
      returned: when RV(etcd.available=true)
    voting_members_with_leader:
      description: Members that answer and follow a leader.
      type: int
      returned: when RV(etcd.available=true)
    total_members:
      description: Members probed.
      type: int
      returned: when RV(etcd.available=true)
    quorum:
      description: Whether a majority of members answer and follow a leader.
      type: bool
      returned: when RV(etcd.available=true)
    members:
      description: One entry per member.
      type: list
      elements: dict
      contains:
        name:
          description: Member name (V(etcd-0), ...).
          type: str
        url:
          description: Client URL probed.
          type: str
        reachable:
          description: Whether the member answered at all.
          type: bool
        healthy:
          description: Whether its C(/health) says V(true).
          type: bool
        health_reason:
          description: The reason C(/health) gives when unhealthy.
          type: str
        is_leader:
          description: Whether this member is the raft leader.
          type: bool
        is_learner:
          description: Whether this member is a raft learner.
          type: bool
        member_id:
          description: Hex member ID, as C(etcdctl) prints it.
          type: str
        version:
          description: etcd version of the member.
          type: str
        db_size:
          description: Bytes allocated by the backend database.
          type: int
        db_size_in_use:
          description: Bytes of the backend database in use.
          type: int
        quota_bytes:
          description: The member's backend quota (reported by etcd 3.6, else from the cluster state, else 2 GiB).
          type: int
        usage_percent:
          description: RV(etcd.members[].db_size) as a percentage of RV(etcd.members[].quota_bytes).
          type: float
        raft_term:
          description: Current raft term.
          type: int
        alarms:
          description: Alarms raised on this member.
          type: list
          elements: str
        error:
          description: Connection or status error, else V(null).
          type: str
  sample:
    available: true
    leader: etcd-0
    alarms: []
    quorum: true
    members:
      - name: etcd-0
        url: https://127.0.0.1:40130
        reachable: true
        healthy: true
        is_leader: true
        member_id: 8e9e05c52164694d
        db_size: 2113536
        db_size_in_use: 1429504
        quota_bytes: 2147483648
        usage_percent: 0.1
        raft_term: 2
        alarms: []
        error: null
leaders:
  description: Leader election of the controller manager and the scheduler, from their Leases in C(kube-system).
  returned: always
  type: dict
  contains:
    kube_controller_manager:
      description: The C(kube-controller-manager) Lease.
      type: dict
      contains:
        holder:
          description: C(holderIdentity), V(null) when nobody holds it.
          type: str
        renew_time:
          description: Last C(renewTime) (UTC, ISO 8601).
          type: str
        lease_duration_seconds:
          description: C(leaseDurationSeconds).
          type: int
        age_seconds:
          description: Seconds since the last renewal.
          type: float
        expired_seconds:
          description: Seconds since the lease expired (0 when it has not).
          type: float
        stale:
          description: V(true) when there is no holder or C(renewTime) + C(leaseDurationSeconds) is in the past.
          type: bool
        missing:
          description: V(true) when the Lease does not exist.
          type: bool
          returned: when the Lease does not exist
        error:
          description: Why the Lease could not be read.
          type: str
          returned: on error
    kube_scheduler:
      description: The C(kube-scheduler) Lease, same keys as RV(leaders.kube_controller_manager).
      type: dict
  sample:
    kube_controller_manager:
      holder: myhost_5b7d0c1e-0f4f-4a43-a0d8-8a3d1b9f1c22
      renew_time: "2026-03-01T10:00:02Z"
      lease_duration_seconds: 15
      age_seconds: 1.4
      expired_seconds: 0.0
      stale: false
nodes:
  description: Nodes and their C(Ready) condition.
  returned: always
  type: dict
  contains:
    ready:
      description: Nodes whose C(Ready) condition is C(True).
      type: int
    total:
      description: All Nodes.
      type: int
    not_ready:
      description: Names of the Nodes that are not Ready.
      type: list
      elements: str
    error:
      description: Why the Nodes could not be listed.
      type: str
      returned: on error
  sample:
    ready: 3
    total: 3
    not_ready: []
certificates:
  description: Expiry of every certificate in the cluster PKI files and of the serving certificate each API server presents.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: File path (with C([index]) for a bundle), or C(<apiserver> serving certificate (<url>)).
      type: str
    subject:
      description: Subject as an RFC 4514 string.
      type: str
    not_after:
      description: Expiry time (UTC, ISO 8601).
      type: str
    days_left:
      description: Days until expiry, rounded to 0.1; negative when expired.
      type: float
    error:
      description: Why the file could not be read.
      type: str
      returned: on error
  sample:
    - source: /home/me/.local/state/adhar/demo/pki/ca.crt
      subject: CN=adhar-demo-ca
      not_after: "2036-02-27T10:00:00Z"
      days_left: 3649.9
latency:
  description: API latency over O(probes) sequential C(GET /readyz) requests through the API endpoint (successful requests only).
  returned: always
  type: dict
  contains:
    probes:
      description: Requests sent (fewer than O(probes) after 3 failures in a row).
      type: int
    path:
      description: Path requested.
      type: str
    p50_ms:
      description: Median latency in milliseconds, V(null) without successful requests.
      type: float
    p99_ms:
      description: 99th percentile latency in milliseconds (linear interpolation).
      type: float
    max_ms:
      description: Slowest request in milliseconds.
      type: float
    errors:
      description: Failed requests (any failure is a reason).
      type: int
    last_error:
      description: The last failure.
      type: str
      returned: when RV(latency.errors) > 0
    skipped:
      description: Why no probe was sent although O(probes) > 0.
      type: str
      returned: sometimes
  sample:
    probes: 20
    path: /readyz
    p50_ms: 3.21
    p99_ms: 9.87
    max_ms: 10.02
    errors: 0
request_metrics:
  description:
    - Per API server, its own request metrics since it started (from C(/metrics)).
    - C(name), C(url), C(requests), C(errors_5xx), C(throttled_429), C(error_rate_percent) (5xx share), C(codes) (requests
      per status class), C(p50_ms), C(p90_ms), C(p99_ms), C(latency_requests), the same with C(read_) (GET, LIST) and
      C(write_) prefixes; or C(error) when C(/metrics) could not be read (for example not allowed for the credentials).
  returned: when O(request_metrics=true)
  type: list
  elements: dict
  sample: [{name: apiserver-0, url: "https://127.0.0.1:20011", requests: 48211, errors_5xx: 3, throttled_429: 0,
            error_rate_percent: 0.006, p50_ms: 4.1, p90_ms: 18.7, p99_ms: 92.3, read_p99_ms: 60.2, write_p99_ms: 98.0}]
server_version:
  description: C(gitVersion) of the API server behind the endpoint.
  returned: always
  type: str
  sample: v1.36.3
duration:
  description: Seconds the check took.
  returned: always
  type: float
  sample: 1.284
table:
  description: A fixed-width table (component, member, status, detail) followed by the reasons, for people.
  returned: always
  type: str
  sample: |-
    COMPONENT    MEMBER                   STATUS   DETAIL
    cluster      demo                     HEALTHY  v1.36.3 https://127.0.0.1:40123
    apiserver    apiserver-0              ok       https://127.0.0.1:40124
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import above, at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._cluster.health import CRYPTOGRAPHY_IMPORT_ERROR, run_cluster_info


def argument_spec():
    return dict(
        name=dict(type="str"),
        state_dir=dict(type="path"),
        probes=dict(type="int", default=20),
        cert_warn_days=dict(type="int", default=30),
        timeout=dict(type="float", default=5.0),
        request_metrics=dict(type="bool", default=True),
    )


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True,
                         bounds={"probes": at_least(0, 1000), "cert_warn_days": at_least(0), "timeout": above(0)})
    module.require_k8s()
    module.require("cryptography", CRYPTOGRAPHY_IMPORT_ERROR, reason="to read certificate expiry dates")
    module.run(run_cluster_info)


if __name__ == "__main__":
    main()
