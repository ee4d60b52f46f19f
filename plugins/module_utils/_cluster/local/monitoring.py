# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus, Alertmanager and kube-state-metrics of a local cluster: their processes and files.

A local cluster with monitoring (``monitoring`` in its cluster.json, written by ``adhar.platform.monitoring``) runs
three more programs under its supervisord, started and stopped with the cluster:

* ``prometheus``: scrapes every API server, etcd member, kube-controller-manager and kube-scheduler of the cluster
  (and itself and Alertmanager) with the cluster's PKI, evaluates the alerting rules and sends alerts to Alertmanager;
* ``alertmanager``: receives them (a single instance, gossip disabled), serves them on ``/api/v2/alerts`` and, when a
  webhook URL is configured, posts them there;
* ``kube-state-metrics``: watches the cluster's objects through the API server with the cluster's admin kubeconfig
  and serves their state (``kube_deployment_status_replicas``, ``kube_node_status_condition``, ...) on one port and
  its own metrics on a second; Prometheus scrapes both.

Files (under the cluster's directory)::

    pki/monitoring/prometheus.{crt,key}   Prometheus's client certificate, issued by the cluster CA to
                                          adhar-prometheus in the group system:monitoring (Kubernetes' built-in
                                          ClusterRole system:monitoring allows /metrics and the health endpoints)
    config/monitoring/prometheus.yml      scrape and alerting configuration (JSON, which Prometheus reads as YAML)
    config/monitoring/rules.yml           the alerting rules
    config/monitoring/alertmanager.yml    Alertmanager's route and receiver
    data/prometheus/, data/alertmanager/  their storage

etcd is scraped with the cluster's etcd health-check client certificate.  kube-controller-manager and kube-scheduler
serve /metrics with a self-signed certificate they generate at start, so their server certificate is not verified
(the client certificate still authenticates Prometheus to them).
"""

from __future__ import annotations

import json
import os

KSM = "kube-state-metrics"
PROGRAMS = ("prometheus", "alertmanager", KSM)
# kube-state-metrics serves the objects' metrics on one port and its own (and /readyz) on the other
PORT_KEYS = ("prometheus", "alertmanager", "kube_state_metrics", "kube_state_metrics_telemetry")
PKI_DIR = ("pki", "monitoring")
CONFIG_DIR = ("config", "monitoring")
CLIENT_CN = "adhar-prometheus"
CLIENT_GROUP = "system:monitoring"
FILES = ("prometheus.yml", "rules.yml", "alertmanager.yml")


def program_names(data):
    """The monitoring programs of a cluster's saved state (none when monitoring is not set up).  Monitoring set up
    before kube-state-metrics was part of it has neither its binary nor its ports: it runs without it until the
    module runs again."""
    mon = data.get("monitoring")
    if not mon:
        return []
    known = KSM in (mon.get("bin_dirs") or {}) and "kube_state_metrics" in data["ports"]
    return [n for n in PROGRAMS if n != KSM or known]


def pki_path(layout, name):
    return layout.sub(*(PKI_DIR + (name,)))


def config_path(layout, name):
    return layout.sub(*(CONFIG_DIR + (name,)))


def prometheus_url(data):
    return "http://127.0.0.1:%d" % data["ports"]["prometheus"]


def alertmanager_url(data):
    return "http://127.0.0.1:%d" % data["ports"]["alertmanager"]


def kube_state_metrics_url(data):
    return "http://127.0.0.1:%d" % data["ports"]["kube_state_metrics"]


def readiness(data):
    """``[(program, base URL, path)]`` that answer 200 once the programs serve: Prometheus's and Alertmanager's
    /-/ready, kube-state-metrics' /healthz and its /readyz (its telemetry port: 200 once it has metrics)."""
    return [("prometheus", prometheus_url(data), "/-/ready"), ("alertmanager", alertmanager_url(data), "/-/ready"),
            (KSM, kube_state_metrics_url(data), "/healthz"),
            (KSM, "http://127.0.0.1:%d" % data["ports"]["kube_state_metrics_telemetry"], "/readyz")]


def targets(data):
    """``[(job, member, "host:port")]``: what Prometheus scrapes, one entry per process."""
    out = []
    members = data["ports"]["members"]
    for job, key in (("apiserver", "apiserver"), ("etcd", "etcd_client"),
                     ("kube-controller-manager", "controller_manager"), ("kube-scheduler", "scheduler")):
        out += [(job, "%s-%d" % (job, i), "127.0.0.1:%d" % m[key]) for i, m in enumerate(members)]
    out.append(("prometheus", "prometheus", "127.0.0.1:%d" % data["ports"]["prometheus"]))
    out.append(("alertmanager", "alertmanager", "127.0.0.1:%d" % data["ports"]["alertmanager"]))
    out.append((KSM, KSM, "127.0.0.1:%d" % data["ports"]["kube_state_metrics"]))
    out.append((KSM + "-telemetry", KSM + "-telemetry", "127.0.0.1:%d" % data["ports"]["kube_state_metrics_telemetry"]))
    return out


def prometheus_config(layout, data):
    """prometheus.yml as JSON text (JSON is YAML): the cluster's scrape jobs, the rule file and Alertmanager."""
    mon = data["monitoring"]
    p = layout.pki
    client = {"cert_file": pki_path(layout, "prometheus.crt"), "key_file": pki_path(layout, "prometheus.key")}
    tls = {
        "apiserver": dict(client, ca_file=p("ca.crt")),
        "etcd": {"ca_file": p("etcd-ca.crt"), "cert_file": p("etcd-healthcheck-client.crt"),
                 "key_file": p("etcd-healthcheck-client.key")},
        # self-signed serving certificates, made by the processes themselves at start
        "kube-controller-manager": dict(client, insecure_skip_verify=True),
        "kube-scheduler": dict(client, insecure_skip_verify=True),
    }
    jobs = {}
    for job, member, address in targets(data):
        jobs.setdefault(job, []).append({"targets": [address], "labels": {"member": member}})
    scrape = []
    for job, groups in jobs.items():
        entry = {"job_name": job, "static_configs": groups}
        if job in tls:
            entry.update(scheme="https", tls_config=tls[job])
        if job == KSM:
            # the objects' own labels (namespace, pod, node...) win over target labels, as upstream advises
            entry["honor_labels"] = True
        scrape.append(entry)
    conf = {
        "global": {"scrape_interval": mon["scrape_interval"], "scrape_timeout": mon["scrape_timeout"],
                   "evaluation_interval": mon["evaluation_interval"], "external_labels": {"cluster": layout.name}},
        "rule_files": [config_path(layout, "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % data["ports"]["alertmanager"]]}]}]},
        "scrape_configs": scrape,
    }
    return json.dumps(conf, indent=2, sort_keys=True) + "\n"


def alertmanager_config(data):
    """alertmanager.yml as JSON text: one route to one receiver (a webhook when ``webhook_url`` is set, else none)."""
    mon = data["monitoring"]
    receiver = {"name": "default"}
    if mon.get("webhook_url"):
        receiver["webhook_configs"] = [{"url": mon["webhook_url"], "send_resolved": True}]
    conf = {
        "route": {"receiver": "default", "group_by": ["alertname", "cluster"], "group_wait": mon["group_wait"],
                  "group_interval": mon["group_interval"], "repeat_interval": mon["repeat_interval"]},
        "receivers": [receiver],
    }
    return json.dumps(conf, indent=2, sort_keys=True) + "\n"


def command(layout, data, name):
    """argv of one monitoring program."""
    mon = data["monitoring"]
    ports = data["ports"]
    if name == "prometheus":
        return [os.path.join(mon["bin_dirs"]["prometheus"], "prometheus"),
                "--config.file=" + config_path(layout, "prometheus.yml"),
                "--storage.tsdb.path=" + layout.sub("data", "prometheus"),
                "--storage.tsdb.retention.time=" + mon["retention"],
                "--web.listen-address=127.0.0.1:%d" % ports["prometheus"],
                "--web.external-url=" + prometheus_url(data),
                "--rules.alert.resend-delay=" + mon["resend_delay"],
                "--log.level=warn"]
    if name == "alertmanager":
        return [os.path.join(mon["bin_dirs"]["alertmanager"], "alertmanager"),
                "--config.file=" + config_path(layout, "alertmanager.yml"),
                "--storage.path=" + layout.sub("data", "alertmanager"),
                "--web.listen-address=127.0.0.1:%d" % ports["alertmanager"],
                "--web.external-url=" + alertmanager_url(data),
                # one instance: no gossip port
                "--cluster.listen-address=", "--log.level=warn"]
    if name == KSM:
        return [os.path.join(mon["bin_dirs"][KSM], KSM), "--kubeconfig=" + layout.admin_kubeconfig,
                "--host=127.0.0.1", "--port=%d" % ports["kube_state_metrics"],
                "--telemetry-host=127.0.0.1", "--telemetry-port=%d" % ports["kube_state_metrics_telemetry"]]
    raise ValueError("not a monitoring program: %s" % name)
