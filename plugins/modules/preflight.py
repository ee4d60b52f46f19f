#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: The pre-deployment checklist of the adhar Advanced Topics guide, judged on a live cluster
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Evaluates every item of the guide's pre-deployment checklist on a live cluster, each with its evidence (what was read
    and what it showed) and a status - V(pass), V(warn), V(fail), or V(unknown) when the item cannot be judged from the
    cluster (the detail says why) - and returns a table for people in RV(table).
  - "Infrastructure: C(multi_az) (Node zone and region labels; a local cluster runs on one machine), C(load_balancer)
    (the API load balancer of a local HA cluster, else Services of type LoadBalancer with an address),
    C(dns_certificates) (the cluster DNS Service and its ready endpoints, certificates valid for O(cert_min_days),
    Ingresses with hosts but no TLS, cert-manager Certificates not Ready), C(backup) (O(storage) readable and a complete
    backup younger than O(backup_max_age)), C(monitoring) (O(monitoring_urls) answer, Prometheus/Alertmanager/Grafana
    Services have ready endpoints, the metrics API is Available)."
  - "Security: C(network_policies) (NetworkPolicies and Cilium policies per namespace), C(rbac) (RBAC authorizes, roles
    of the platform's own exist, no anonymous or extra cluster-admin grants), C(secrets_encryption) (the API server's
    C(--encryption-provider-config) and, for a local cluster, its first provider for Secrets), C(audit_logging)
    (audit log or webhook with a policy; for a local cluster the log is written), C(security_scanning)
    (trivy-operator, kubescape or NeuVector and their reports)."
  - "Compliance: C(policy_enforcement) (Pod Security C(enforce) labels, denying ValidatingAdmissionPolicyBindings, Kyverno
    and Gatekeeper policies), C(compliance) (the control-plane flag checks below and trivy-operator compliance
    reports), C(audit_trails) (audit retention flags; the policy records requests but never Secret bodies),
    C(data_retention) (O(backup_retention) set and no backup in O(storage) older than it)."
  - "Control plane, in the spirit of the CIS Kubernetes benchmark: C(apiserver_flags) (anonymous-auth, token-auth-file,
    authorization-mode, admission plugins, profiling, audit log flags, service accounts, etcd and serving TLS,
    encryption-provider-config, TLS cipher suites and minimum version), C(etcd_flags) (client and peer TLS and
    certificate auth, no auto TLS, https client URLs, a CA of its own), C(controller_manager_flags) and
    C(scheduler_flags) (profiling, bind address, service-account credentials). Each flag check is in RV(checklist[].checks)."
  - The flags are read from the running processes of a local cluster (O(name); their C(/proc/<pid>/cmdline), else the
    command line the collection configured when a process does not run), and for any other cluster from the
    control-plane Pods in C(kube-system) (kubeadm, kind). A managed control plane (EKS, GKE) shows none, so those
    items are V(unknown).
  - Read-only; it never changes the cluster or the storage. A failed read makes its item V(unknown), naming the read.
  - The task fails only when it cannot run at all (bad options, unknown local cluster), or with O(strict=true) when an
    item is V(fail).
options:
  name:
    description:
      - Name of a local cluster created by M(adhar.platform.cluster). Its saved state gives the processes, PKI and
        configuration files to read, and its admin kubeconfig is used for the Kubernetes API (the other connection
        options are then ignored).
      - When not set, the cluster is the one the connection options point to.
    type: str
  state_dir:
    description:
      - Directory holding the local clusters' state, as for M(adhar.platform.cluster). Only used with O(name).
    type: path
  items:
    description:
      - The items to evaluate; all when not set.
    type: list
    elements: str
    choices: [multi_az, load_balancer, dns_certificates, backup, monitoring, network_policies, rbac, secrets_encryption,
              audit_logging, security_scanning, policy_enforcement, compliance, audit_trails, data_retention,
              apiserver_flags, etcd_flags, controller_manager_flags, scheduler_flags]
  skip:
    description:
      - Items not to evaluate (applied after O(items)).
    type: list
    elements: str
    default: []
    choices: [multi_az, load_balancer, dns_certificates, backup, monitoring, network_policies, rbac, secrets_encryption,
              audit_logging, security_scanning, policy_enforcement, compliance, audit_trails, data_retention,
              apiserver_flags, etcd_flags, controller_manager_flags, scheduler_flags]
  backup_cluster:
    description:
      - Only the backups of this source cluster (the C(cluster) given to M(adhar.platform.backup)) count for C(backup)
        and C(data_retention); all backups in O(storage) when not set.
    type: str
  backup_max_age:
    description:
      - The newest complete backup must be younger than this, for C(backup) (a daily schedule plus an hour by default).
      - Also the grace C(data_retention) gives a backup past O(backup_retention) before the next run deletes it.
      - A number of days, or a duration such as V(90m), V(25h), V(7d), V(2w).
    type: raw
    default: 25h
  backup_retention:
    description:
      - How long backups are kept (the adhar config's C(backup.retention)), for C(data_retention); not set is a V(fail).
      - A number of days, or a duration such as V(720h), V(30d).
    type: raw
  cert_min_days:
    description:
      - A certificate that expires in fewer days than this (or cannot be read) makes C(dns_certificates) V(fail).
    type: int
    default: 30
  monitoring_urls:
    description:
      - URLs of monitoring endpoints (Prometheus, Grafana, Alertmanager...) that must answer C(GET) with a 2xx or 3xx
        status, from where the task runs, for C(monitoring). Certificates are verified.
    type: list
    elements: str
    default: []
  strict:
    description:
      - Fail the task when an item is V(fail) (RV(misses) in the message; the whole result is returned with the failure).
      - V(warn) and V(unknown) never fail it.
    type: bool
    default: false
  timeout:
    description:
      - Seconds each probe (the serving certificate, O(monitoring_urls), supervisord) may take. Greater than 0.
    type: float
    default: 5
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.storage
  - adhar.platform.attributes.info_module
notes:
  - O(storage) is optional here; without it C(backup) and C(data_retention) are V(fail) (no backup storage configured).
requirements:
  - python >= 3.11
  - kubernetes >= 28.1.0
  - cryptography >= 41.0.0
  - boto3 (Python, for S3 storage)
seealso:
  - module: adhar.platform.cluster_info
  - module: adhar.platform.backup
"""

EXAMPLES = r"""
- name: Judge the local cluster prod against the pre-deployment checklist
  adhar.platform.preflight:
    name: prod
    storage:
      type: local
      path: ~/.local/share/adhar/backups
    backup_cluster: prod
    backup_retention: 30
  register: prod_preflight

- name: Print the checklist table
  ansible.builtin.debug:
    msg: "{{ prod_preflight.table.splitlines() }}"

- name: Fail on any miss of an existing cluster, with a monitoring endpoint and S3 backups
  adhar.platform.preflight:
    kubeconfig: ~/.kube/config
    context: prod-eu-1
    storage:
      url: s3://adhar-backups/prod
    backup_cluster: prod-eu-1
    backup_max_age: 26h
    backup_retention: 720h
    monitoring_urls:
      - https://prometheus.example.com/-/ready
    strict: true

- name: Only the control-plane flag checks
  adhar.platform.preflight:
    name: prod
    items: [apiserver_flags, etcd_flags, controller_manager_flags, scheduler_flags]
  register: flags

- name: Show every failed flag check
  ansible.builtin.debug:
    msg: "{{ item.id }}: {{ item.problem }}"
  loop: "{{ flags.checklist | selectattr('checks', 'defined') | map(attribute='checks') | flatten | selectattr('status', 'equalto', 'fail') | list }}"
  loop_control:
    label: "{{ item.id }}"
"""

RETURN = r"""
cluster:
  description: Which cluster was checked.
  returned: always
  type: dict
  sample: {name: prod, provider: local, api_endpoint: "https://127.0.0.1:40123"}
checklist:
  description: One entry per item evaluated, in the checklist's order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The item (as in O(items)).
      type: str
    category:
      description: V(infrastructure), V(security), V(compliance) or V(control plane).
      type: str
    title:
      description: The guide's checklist line.
      type: str
    status:
      description: V(pass), V(warn), V(fail), or V(unknown) (cannot be judged from the cluster).
      type: str
    detail:
      description: The verdict in words; for V(unknown), why the cluster cannot tell.
      type: str
    evidence:
      description: What was read (C(read)) and what it showed (C(showed)).
      type: list
      elements: dict
    checks:
      description:
        - The flag checks of a control-plane item - C(id), C(expect), C(found), C(status), C(problem).
      type: list
      elements: dict
      returned: for the control-plane items when their command lines were read
    seconds:
      description: Seconds the item took.
      type: float
  sample:
    - id: network_policies
      category: security
      title: Network policies defined
      status: fail
      detail: "no NetworkPolicy in any namespace: all Pod traffic is allowed"
      evidence: [{read: GET /apis/networking.k8s.io/v1/networkpolicies, showed: 0 in 0 namespace(s)}]
      seconds: 0.012
summary:
  description: How many items have each status.
  returned: always
  type: dict
  sample: {pass: 9, warn: 2, fail: 6, unknown: 1}
passed:
  description: V(true) when no item is V(fail).
  returned: always
  type: bool
misses:
  description: "C(<item>: <detail>) of every item that is V(fail)."
  returned: always
  type: list
  elements: str
  sample: ["backup: no complete backup of cluster prod in /var/backups/adhar"]
storage:
  description: The backup location read (no credentials), or V(null) without O(storage).
  returned: always
  type: dict
table:
  description: A fixed-width table (category, item, status, detail; failed flag checks indented) and a summary line.
  returned: always
  type: str
  sample: |-
    CATEGORY        ITEM                      STATUS  DETAIL
    infrastructure  multi_az                  FAIL    every control-plane member of local cluster prod runs on this machine
    security        network_policies          pass    every namespace outside kube-system/kube-public/kube-node-lease has a policy
    control plane   apiserver_flags           FAIL    anonymous-auth=true (not set: default)
                      apiserver.anonymous-auth  FAIL    --anonymous-auth=false; found anonymous-auth=true (not set: default)
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import above, at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._preflight.run import argument_spec, run_preflight


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True,
                         bounds={"cert_min_days": at_least(0), "timeout": above(0)})
    module.require_k8s()
    module.run(run_preflight)


if __name__ == "__main__":
    main()
