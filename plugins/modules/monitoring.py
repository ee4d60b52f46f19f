#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: monitoring
short_description: Prometheus, Alertmanager and kube-state-metrics as processes of a local cluster
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - The monitoring of the adhar Advanced Topics guide for a local cluster made by M(adhar.platform.cluster) - a real
    Prometheus, Alertmanager and kube-state-metrics (built by C(tools/toolchain), add-ons C(prometheus),
    C(alertmanager) and C(kube-state-metrics)) run as three more processes of the cluster's supervisord, started,
    stopped and restarted with the cluster.
  - Prometheus scrapes every API server, etcd member, kube-controller-manager and kube-scheduler of the cluster over
    TLS with the cluster's PKI - a client certificate issued by the cluster CA to C(adhar-prometheus) in the group
    C(system:monitoring) (the built-in ClusterRole of that name allows C(/metrics)), and the cluster's etcd health-check
    client certificate for etcd. kube-controller-manager and kube-scheduler serve a self-signed certificate they make
    at start, so theirs is not verified.
  - kube-state-metrics watches the cluster's objects with the cluster's admin kubeconfig and serves their state
    (C(kube_deployment_status_replicas_unavailable), C(kube_node_status_condition), ...) on 127.0.0.1; Prometheus
    scrapes it (job C(kube-state-metrics)) and its own metrics (job C(kube-state-metrics-telemetry)).
  - Prometheus evaluates O(rules) (a Prometheus rule file; the C(adhar.platform.monitoring) role passes the guide's
    critical alerts) and sends alerts to Alertmanager, which serves them at C(/api/v2/alerts) and posts them to
    O(webhook_url) when one is given.
  - The rules are checked with C(promtool check rules) and the configurations with C(promtool check config) and
    C(amtool check-config) before anything is written; invalid rules fail the task with promtool's message and nothing
    changed.
  - The cluster simulates its nodes and Pods with kwok; there is no node_exporter, so alerts on node filesystems
    have no data on a local cluster. Node conditions are kwok's (see the monitoring page of the docs).
  - Idempotent - a re-run with the same options changes nothing. A changed option rewrites the files and restarts
    the program that reads them. O(state=absent) stops the three programs and removes their files, data and ports.
extends_documentation_fragment:
  - adhar.platform.attributes
attributes:
  check_mode:
    support: full
    details: The rules and configurations are checked; nothing is written or started; RV(actions) says what would be done.
  diff_mode:
    support: full
    details: The configuration files and the rule file that change, before and after.
options:
  local_cluster:
    description: Name of a running local cluster made by M(adhar.platform.cluster).
    type: str
    required: true
  state_dir:
    description: State root of O(local_cluster) (default C(ADHAR_STATE_DIR), else C(~/.local/state/adhar)).
    type: path
  state:
    description: C(present) runs Prometheus, Alertmanager and kube-state-metrics; C(absent) stops them and removes
      their files.
    type: str
    choices: [present, absent]
    default: present
  rules:
    description:
      - A Prometheus rule file (YAML text with C(groups)); empty for none.
    type: str
    default: ""
  scrape_interval:
    description: How often every target is scraped (a Prometheus duration). The scrape timeout is the same, at most 10s.
    type: str
    default: 15s
  evaluation_interval:
    description: How often the rules are evaluated.
    type: str
    default: 15s
  resend_delay:
    description:
      - How long Prometheus waits before sending a firing alert to Alertmanager again (C(--rules.alert.resend-delay)).
        Alertmanager resolves an alert that is not sent again within four times this delay (or the evaluation
        interval, whichever is longer).
    type: str
    default: 1m
  retention:
    description: How long Prometheus keeps samples (C(--storage.tsdb.retention.time)).
    type: str
    default: 2d
  group_wait:
    description: Alertmanager's C(group_wait) - how long it waits before the first notification of a group.
    type: str
    default: 30s
  group_interval:
    description: Alertmanager's C(group_interval).
    type: str
    default: 5m
  repeat_interval:
    description: Alertmanager's C(repeat_interval).
    type: str
    default: 4h
  webhook_url:
    description: An http(s) URL Alertmanager posts alerts (firing and resolved) to. Without it alerts are only served by
      Alertmanager's API.
    type: str
  client_cert_days:
    description:
      - Validity in days of Prometheus's client certificate. It is issued again when it is missing, not issued by the
        cluster CA, of another validity, or has less than a tenth of its validity left.
    type: int
    default: 365
  timeout:
    description: Seconds to wait for the programs to run and answer their readiness paths (C(/-/ready), C(/healthz),
      C(/readyz)).
    type: float
    default: 120.0
notes:
  - The cluster must be running (its supervisord answering). After O(state=present) the programs are part of the
    cluster - M(adhar.platform.cluster) starts them with it and C(state=started) restarts them when they died.
  - The C(adhar.platform.monitoring) role renders the guide's critical alerts and calls this module on local clusters.
seealso:
  - module: adhar.platform.cluster
"""

EXAMPLES = r"""
- name: Prometheus and Alertmanager for the local cluster dev, with the guide's alerts
  adhar.platform.monitoring:
    local_cluster: dev
    rules: "{{ lookup('ansible.builtin.file', 'rules.yml') }}"
  register: mon

- name: Alerts Alertmanager holds
  ansible.builtin.uri:
    url: "{{ mon.alertmanager_url }}/api/v2/alerts"
  register: alerts

- name: Remove them
  adhar.platform.monitoring:
    local_cluster: dev
    state: absent
"""

RETURN = r"""
actions:
  description: What was done (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["dev: reserved ports 24011 (prometheus), 24012 (alertmanager), 24013 (kube_state_metrics),
            24014 (kube_state_metrics_telemetry)", "dev: started prometheus, alertmanager, kube-state-metrics"]
prometheus_url:
  description: Prometheus's HTTP address (API under C(/api/v1)); null when monitoring is absent.
  returned: always
  type: str
  sample: http://127.0.0.1:24011
alertmanager_url:
  description: Alertmanager's HTTP address (API under C(/api/v2)); null when monitoring is absent.
  returned: always
  type: str
  sample: http://127.0.0.1:24012
kube_state_metrics_url:
  description: kube-state-metrics' HTTP address (the objects' metrics under C(/metrics)); null when monitoring is absent.
  returned: always
  type: str
  sample: http://127.0.0.1:24013
targets:
  description: What Prometheus scrapes - C(job), C(member) (the process) and C(address).
  returned: always
  type: list
  elements: dict
  sample: [{"job": "apiserver", "member": "apiserver-0", "address": "127.0.0.1:23950"}]
client_cert:
  description: Path of Prometheus's client certificate; null when monitoring is absent.
  returned: always
  type: str
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local_monitoring import ARG_SPEC, BOUNDS, run


def main():
    module = AdharModule(dict(ARG_SPEC), supports_check_mode=True, bounds=BOUNDS)
    module.run(run)


if __name__ == "__main__":
    main()
