# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource metrics API (``metrics.k8s.io``) of a local cluster: metrics-server fed by kwok's simulated usage.

kwok simulates Pods and their resource usage; nothing really runs.  A local cluster created with
``metrics_server: true`` gets:

* in kwok's config (``config/kwok.yaml``), next to its stages: a ``Metric`` that serves a kubelet's
  ``/metrics/resource`` endpoint for each node at ``/metrics/nodes/<node>/metrics/resource`` on kwok's port, and a
  ``ClusterResourceUsage`` whose usage per container comes from the Pod's annotations ``kwok.x-k8s.io/usage-cpu`` and
  ``kwok.x-k8s.io/usage-memory`` (1m and 1Mi when absent).  Setting the annotation on a Deployment's pod template, or
  on running Pods, changes what they "use";
* on every kwok Node the annotation ``metrics.k8s.io/resource-metrics-path`` with that path (metrics-server reads it);
* a ``metrics-server`` program under the cluster's supervisord: it scrapes kwok at the node's InternalIP
  (127.0.0.1) and kwok's port, and serves on its own port on 127.0.0.1;
* the ``v1beta1.metrics.k8s.io`` APIService, backed by a Service of type ExternalName that names 127.0.0.1 (the
  aggregator resolves an ExternalName Service to that host and the APIService's port).
"""

from __future__ import annotations

import json
import os

PROGRAM = "metrics-server"
PORT_KEY = "metrics_server"
COMPONENT = "metrics-server"
NAMESPACE = "kube-system"
SERVICE = "metrics-server"
API_SERVICE = "v1beta1.metrics.k8s.io"
PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY = "kwok.x-k8s.io/usage-memory"
# how often metrics-server scrapes (metrics-server's minimum that passes its own checks with a 5 s scrape timeout)
RESOLUTION = "10s"


def enabled(data):
    return bool((data.get("spec") or {}).get("metrics_server"))


def program_names(data):
    return [PROGRAM] if enabled(data) else []


def node_path(node):
    return "/metrics/nodes/%s/metrics/resource" % node


def _series(name, dimension, help_text, kind, value, labels=()):
    out = {"name": name, "dimension": dimension, "help": help_text, "kind": kind, "value": value}
    if labels:
        out["labels"] = [{"name": n, "value": v} for n, v in labels]
    return out


def kwok_documents():
    """The kwok config documents (``Metric``, ``ClusterResourceUsage``) that simulate a kubelet's resource metrics."""
    pod = (("namespace", "pod.metadata.namespace"), ("pod", "pod.metadata.name"))
    container = (("container", "container.name"),) + pod
    series = [
        _series("scrape_error", "node", "1 if there was an error while getting metrics from the node", "gauge", "0"),
        _series("container_start_time_seconds", "container", "Start time of the container since unix epoch in seconds",
                "gauge", "pod.SinceSecond()", container),
        _series("container_cpu_usage_seconds_total", "container", "Cumulative cpu time consumed by the container",
                "counter", 'pod.CumulativeUsage("cpu", container.name)', container),
        _series("container_memory_working_set_bytes", "container", "Current working set of the container in bytes",
                "gauge", 'pod.Usage("memory", container.name)', container),
        _series("pod_cpu_usage_seconds_total", "pod", "Cumulative cpu time consumed by the pod", "counter",
                'pod.CumulativeUsage("cpu")', pod),
        _series("pod_memory_working_set_bytes", "pod", "Current working set of the pod in bytes", "gauge",
                'pod.Usage("memory")', pod),
        _series("node_cpu_usage_seconds_total", "node", "Cumulative cpu time consumed by the node", "counter",
                'node.CumulativeUsage("cpu")'),
        _series("node_memory_working_set_bytes", "node", "Current working set of the node in bytes", "gauge",
                'node.Usage("memory")'),
    ]

    def from_annotation(key, default):
        return {"expression": '"%s" in pod.metadata.annotations ? Quantity(pod.metadata.annotations["%s"]) : '
                              'Quantity("%s")' % (key, key, default)}

    return [
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Metric", "metadata": {"name": "resource-metrics"},
         "spec": {"path": node_path("{nodeName}"), "metrics": series}},
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterResourceUsage", "metadata": {"name": "usage-from-annotations"},
         "spec": {"usages": [{"usage": {"cpu": from_annotation(USAGE_CPU, "1m"),
                                        "memory": from_annotation(USAGE_MEMORY, "1Mi")}}]}},
    ]


def command(layout, data):
    """argv of metrics-server: the cluster's admin credentials for the API, kwok as every node's kubelet."""
    ports = data["ports"]
    kc = layout.admin_kubeconfig
    return [data["metrics_server_binary"], "--secure-port=%d" % ports[PORT_KEY], "--bind-address=127.0.0.1",
            "--cert-dir=" + layout.sub("data", "metrics-server"),
            "--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
            "--kubelet-preferred-address-types=InternalIP", "--kubelet-port=%d" % ports["kwok"],
            # kwok answers TLS with a self-signed test certificate
            "--kubelet-insecure-tls", "--kubelet-request-timeout=5s", "--metric-resolution=" + RESOLUTION,
            "--profiling=false"]


def api_objects(data):
    """The Service and APIService that put metrics-server behind the API server's aggregator."""
    port = data["ports"][PORT_KEY]
    labels = {"app.kubernetes.io/name": "metrics-server", "app.kubernetes.io/managed-by": "adhar"}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": labels},
               "spec": {"type": "ExternalName", "externalName": "127.0.0.1"}}
    # metrics-server's serving certificate is self-signed in its --cert-dir, as upstream's own manifest has it
    api_service = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                   "metadata": {"name": API_SERVICE, "labels": labels},
                   "spec": {"service": {"name": SERVICE, "namespace": NAMESPACE, "port": port},
                            "group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": True,
                            "groupPriorityMinimum": 100, "versionPriority": 100}}
    return service, api_service


def data_dir(layout):
    return layout.sub("data", "metrics-server")


def ensure_dirs(layout):
    os.makedirs(data_dir(layout), mode=0o700, exist_ok=True)


def register(endpoint, ctx, data, timeout=10.0):
    """Server-side apply of the Service and APIService (the same objects each time: idempotent)."""
    from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request
    service, api_service = api_objects(data)
    for obj, path in ((service, "/api/v1/namespaces/%s/services/%s" % (NAMESPACE, SERVICE)),
                      (api_service, "/apis/apiregistration.k8s.io/v1/apiservices/" + API_SERVICE)):
        status, body, dummy = request(endpoint, path, ctx, timeout, method="PATCH", body=json.dumps(obj).encode(),
                                      query={"fieldManager": "adhar-local-cluster", "force": "true"},
                                      headers={"Content-Type": "application/apply-patch+yaml"})
        if status not in (200, 201):
            raise OSError("apply %s %s -> HTTP %s: %s" % (obj["kind"], obj["metadata"]["name"], status, body[:300]))


def unregister(endpoint, ctx, timeout=10.0):
    """Delete the APIService and its Service (absent ones are fine)."""
    from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request
    for path in ("/apis/apiregistration.k8s.io/v1/apiservices/" + API_SERVICE,
                 "/api/v1/namespaces/%s/services/%s" % (NAMESPACE, SERVICE)):
        status, body, dummy = request(endpoint, path, ctx, timeout, method="DELETE")
        if status not in (200, 202, 404):
            raise OSError("DELETE %s -> HTTP %s: %s" % (path, status, body[:300]))


def api_available(endpoint, ctx, timeout=5.0):
    """``(available, why)`` of the metrics APIService, from its Available condition."""
    from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request
    status, body, dummy = request(endpoint, "/apis/apiregistration.k8s.io/v1/apiservices/" + API_SERVICE, ctx, timeout)
    if status != 200:
        return False, "APIService %s: HTTP %s" % (API_SERVICE, status)
    for cond in (json.loads(body).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            return cond.get("status") == "True", "APIService %s Available=%s (%s)" % (
                API_SERVICE, cond.get("status"), cond.get("message") or cond.get("reason"))
    return False, "APIService %s has no Available condition yet" % API_SERVICE
