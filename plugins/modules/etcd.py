#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd
short_description: etcd maintenance - status, alarms, defragmentation, compaction and performance check
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - The etcd part of the troubleshooting section of the adhar Advanced Topics guide (C(etcdctl endpoint status),
    C(etcdctl defrag), alarms, the disk performance check) for the etcd of a local cluster made by
    M(adhar.platform.cluster), or any etcd reachable at its client URLs with a client certificate.
  - Every action first reads each member's status and health through etcd's JSON gateway (C(/v3/maintenance/status),
    C(/health)) and returns them with a table; nothing but O(action=check_perf) runs C(etcdctl).
  - O(action=defragment) defragments one member at a time, followers first and the leader last, and waits until every
    member is healthy with one leader before the first member, between members and after the last one; a member blocks
    its clients while it is defragmented, the others keep serving. A member is only defragmented when at least
    O(min_free_percent) of its database file is free (or with O(force=true)), so a re-run right after is unchanged.
  - O(action=compact) compacts the key-value history up to O(revision), by default the current revision minus
    O(retain); it is unchanged when the history is already compacted that far. On a Kubernetes cluster the API
    server compacts every few minutes itself, so compaction is rarely needed by hand; it is the step before a
    defragmentation when etcd has raised a C(NOSPACE) alarm.
  - O(action=disarm_alarms) deactivates every active alarm (for example C(NOSPACE) once space was freed by compaction
    and defragmentation).
  - O(action=check_perf) runs C(etcdctl check perf), etcd's own check of write throughput and latency (about 60 seconds
    of load under the C(/etcdctl-check-perf/) prefix, removed afterwards), in place of a C(fio) disk benchmark.
options:
  action:
    description:
      - What to do; every action returns the status of every member.
    type: str
    choices: [status, defragment, compact, disarm_alarms, check_perf]
    default: status
  local_cluster:
    description:
      - Name of a local cluster made by M(adhar.platform.cluster); its saved state gives the members and the client
        certificate. Mutually exclusive with O(endpoints).
    type: str
  state_dir:
    description:
      - State root of O(local_cluster) (default C(ADHAR_STATE_DIR), else C(~/.local/state/adhar)).
    type: path
  endpoints:
    description:
      - Client URLs of every member (C(https://host:2379)). Mutually exclusive with O(local_cluster).
    type: list
    elements: str
  ca_file:
    description: CA bundle that signed the members' serving certificates (with O(endpoints)).
    type: path
  cert_file:
    description: Client certificate (with O(endpoints)); goes with O(key_file).
    type: path
  key_file:
    description: Private key of O(cert_file).
    type: path
  members:
    description:
      - With O(action=defragment), only these members (names as in the member list, or client URLs); default all.
    type: list
    elements: str
  min_free_percent:
    description:
      - With O(action=defragment), a member is defragmented only when at least this share of its database file is free
        (database size minus size in use); 0 defragments every member.
    type: int
    default: 10
  force:
    description: With O(action=defragment), defragment the chosen members whatever their free space.
    type: bool
    default: false
  revision:
    description:
      - With O(action=compact), the revision to compact up to (history before it is removed). Default the current
        revision minus O(retain).
    type: int
  retain:
    description: With O(action=compact) and no O(revision), how many of the newest revisions to keep.
    type: int
    default: 1000
  perf_load:
    description: With O(action=check_perf), the load of C(etcdctl check perf --load) (small to extra large).
    type: str
    choices: [s, m, l, xl]
    default: s
  timeout:
    description: Seconds each status, health or alarm request may take.
    type: float
    default: 10.0
  defrag_timeout:
    description: Seconds one member's defragmentation (or a compaction) may take.
    type: float
    default: 300.0
  health_timeout:
    description: Seconds to wait for every member to be healthy with one leader, before the action and between members.
    type: float
    default: 60.0
extends_documentation_fragment:
  - adhar.platform.attributes
attributes:
  check_mode:
    support: full
    details: Reports which members would be defragmented, the revision a compaction would reach and the alarms that would
      be disarmed, without doing it; O(action=check_perf) is not run.
  diff_mode:
    support: none
notes:
  - etcd without client certificate authentication (C(http://) URLs) is supported for O(endpoints); etcd's own user
    authentication (C(etcdctl auth enable)) is not.
seealso:
  - module: adhar.platform.cluster_info
  - module: adhar.platform.backup
"""

EXAMPLES = r"""
- name: Status of every member of a local cluster (the guide's etcdctl endpoint status)
  adhar.platform.etcd:
    local_cluster: prod
  register: etcd

- name: Print the table
  ansible.builtin.debug:
    msg: "{{ etcd.table }}"

- name: Defragment every member with at least 10 % free space, followers first, leader last
  adhar.platform.etcd:
    local_cluster: prod
    action: defragment

- name: Recover from a NOSPACE alarm - compact, defragment everything, disarm
  block:
    - name: Compact all but the newest 1000 revisions
      adhar.platform.etcd:
        local_cluster: prod
        action: compact
    - name: Defragment every member
      adhar.platform.etcd:
        local_cluster: prod
        action: defragment
        force: true
    - name: Disarm the alarm
      adhar.platform.etcd:
        local_cluster: prod
        action: disarm_alarms

- name: etcd's own performance check on an external etcd
  adhar.platform.etcd:
    action: check_perf
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/healthcheck-client.crt
    key_file: /etc/etcd/pki/healthcheck-client.key
  register: perf
"""

RETURN = r"""
action:
  description: The action that ran.
  returned: always
  type: str
  sample: defragment
target:
  description: Which etcd (the local cluster or the endpoints).
  returned: always
  type: str
  sample: local cluster prod
etcd:
  description: Status after the action.
  returned: always
  type: dict
  contains:
    members:
      description:
        - Per member, C(name), C(endpoint), C(reachable), C(healthy), C(reason), C(member_id) (hex), C(leader),
          C(version), C(db_size), C(db_size_in_use), C(free_bytes), C(free_percent), C(quota_bytes), C(revision),
          C(raft_term), C(raft_index), C(is_learner).
      type: list
      elements: dict
    leader:
      description: Name of the leader, or null.
      type: str
    alarms:
      description: Active alarms (C(member), C(member_id), C(alarm)); null when they could not be read.
      type: list
      elements: dict
    healthy:
      description: Every member healthy, one leader, no alarm.
      type: bool
healthy:
  description: Whether etcd is healthy after the action (no reasons).
  returned: always
  type: bool
reasons:
  description: What is wrong (unreachable or unhealthy members, no leader, alarms, failed performance checks).
  returned: always
  type: list
  elements: str
table:
  description: The members as a table, one string per line.
  returned: always
  type: list
  elements: str
  sample:
    - "MEMBER  ENDPOINT                LEADER  HEALTH  DB SIZE   IN USE    FREE   REVISION  VERSION"
    - "etcd-0  https://127.0.0.1:20001  *       ok      12.1 MiB  3.4 MiB   71.9%  48211     3.6.16"
defragmented:
  description:
    - With O(action=defragment), per chosen member in the order handled, C(name), C(endpoint), C(leader),
      C(db_size_before), C(free_percent_before), and C(defragmented), C(seconds), C(db_size_after),
      C(reclaimed_bytes) when it was defragmented, C(skipped) (why not) or C(would_defragment) in check mode.
  returned: when O(action=defragment)
  type: list
  elements: dict
compaction:
  description: With O(action=compact), C(current_revision), C(revision), C(endpoint), and C(compacted) and C(seconds),
    C(skipped) (why not) or C(would_compact).
  returned: when O(action=compact)
  type: dict
alarms:
  description: With O(action=disarm_alarms), C(disarmed) (or C(would_disarm) in check mode) and the C(active) alarms after.
  returned: when O(action=disarm_alarms)
  type: dict
perf:
  description: With O(action=check_perf), C(load), C(passed), C(seconds) and C(checks) (C(result) PASS or FAIL, C(check)
    as etcdctl printed it).
  returned: when O(action=check_perf) outside check mode
  type: dict
perf_not_run:
  description: Why O(action=check_perf) did not run (check mode).
  returned: when O(action=check_perf) in check mode
  type: str
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._etcd.maintenance import ARG_SPEC, run


def main():
    module = AdharModule(dict(ARG_SPEC), supports_check_mode=True, mutually_exclusive=[["local_cluster", "endpoints"]],
                         required_one_of=[["local_cluster", "endpoints"]], required_together=[["cert_file", "key_file"]])
    module.run(run)


if __name__ == "__main__":
    main()
