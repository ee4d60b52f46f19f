# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a live cluster looks like, as provider facts: the input of ``config`` ``action: export``.

``describe(provider, params, module)`` returns one dict for every kind of cluster::

    {
      "name": str,                        the cluster's name in the exported config
      "provider": "local" | "existing" | "eks" | "gke",
      "provider_type": str,               the adhar config's provider type (kind, custom, aws, gcp)
      "region": str,
      "kubernetes_version": str | None,   v1.36.3
      "control_plane_count": int | None,  None when the cluster does not show it
      "ha": bool | None,
      "nodes_count": int | None,          worker nodes
      "pod_cidr": str | None, "service_cidr": str | None,
      "cluster_id": int | None,
      "encryption_at_rest": bool | None,
      "kubeconfig": str | None, "context": str | None,   how to reach it again (written to the config for non-local clusters)
      "connection": dict,                 the Kubernetes connection options helm uses to read the releases
      "notes": [str],                     what could not be seen
      cloud clusters (eks, gke) only, None elsewhere:
      "status": str,                      the cloud's cluster status (ACTIVE, RUNNING, ...)
      "api_endpoint": str,                the cluster's API server URL
      "auto_scale": bool, "min_nodes": int, "max_nodes": int,   worker autoscaling bounds, summed over groups/pools
      "instance_type": str,               the workers' instance (machine) type when all groups/pools share one
      "endpoint_public_access": bool, "endpoint_private_access": bool,
      "provider_config": dict,            the config's providers.<name>.config (gcp: project_id, zone)
      "node_groups": [dict],              each node group (eks) or node pool (gke) as the cloud describes it
    }

``local`` reads the saved spec of a local cluster (``local/state.py``), ``existing`` asks the API server. The cloud
providers (``eks``, ``gke``) have a function ``describe(module, name)`` in their provider module
(``providers/<provider>.py``) that returns this dict (built with ``provider_facts()``) from the cloud's own description
of the cluster: no Kubernetes API server is needed for the shape. Their ``connection`` is the Kubernetes connection
options when the task gives ``kubeconfig``, ``context`` or ``host``, else a kubeconfig with the cloud's token
(``cloud_connection()``); ``api_unreachable()`` tells whether Helm can use it.
"""

from __future__ import annotations

import datetime
import importlib
import os
import re
import types

from ansible_collections.adhar.platform.plugins.module_utils._common.times import parse_time
from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

DESCRIBED = ("local", "existing", "eks", "gke")
FACT_KEYS = ("name", "provider", "provider_type", "region", "kubernetes_version", "control_plane_count", "ha", "nodes_count",
             "pod_cidr", "service_cidr", "cluster_id", "encryption_at_rest", "kubeconfig", "context", "connection", "notes",
             "status", "api_endpoint", "auto_scale", "min_nodes", "max_nodes", "instance_type", "endpoint_public_access",
             "endpoint_private_access", "provider_config", "node_groups")
# Kubernetes connection options that name a cluster; any of them given means "reach the cluster this way".
CONNECTION_TARGETS = ("kubeconfig", "context", "host")


def provider_facts(**facts):
    """The facts dict with every key (``None`` for what is not given; ``connection`` {} and ``notes`` [] by default)."""
    unknown = sorted(set(facts) - set(FACT_KEYS))
    if unknown:
        raise AdharError("provider facts: unknown keys %s" % ", ".join(unknown))
    out = dict.fromkeys(FACT_KEYS)
    out.update(connection={}, notes=[])
    out.update(facts)
    return out


CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def _version(text):
    match = re.match(r"^v?(\d+\.\d+\.\d+)", text or "")
    return "v" + match.group(1) if match else None


def describe_local(name, state_dir=None):
    """Facts of the local cluster ``name`` from its saved spec (no process is touched)."""
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import default_state_root

    root = os.path.abspath(os.path.expanduser(state_dir)) if state_dir else default_state_root()
    layout = st.Layout(root, name)
    data = st.load(layout)
    if data is None:
        raise AdharError("cluster: no local cluster named %r under %s (create it with adhar.platform.cluster, or use "
                         "provider=existing with the Kubernetes connection options)" % (name, root), option="cluster")
    if data.get("phase") != "ready":
        raise AdharError("cluster: local cluster %r is not ready (phase %s); export it once it has been created"
                         % (name, data.get("phase")), option="cluster")
    spec = data.get("spec") or {}
    count = spec.get("control_plane_count")
    return provider_facts(
        name=name, provider="local", provider_type="kind", region="local",
        kubernetes_version=spec.get("kubernetes_version"), control_plane_count=count, ha=bool(count and count > 1),
        nodes_count=spec.get("nodes_count"), pod_cidr=spec.get("pod_cidr"), service_cidr=spec.get("service_cidr"),
        cluster_id=spec.get("cluster_id"), encryption_at_rest=bool(spec.get("encryption_at_rest")),
        connection={"kubeconfig": layout.admin_kubeconfig},
    )


def _fresh_identity_leases(items, now=None):
    """API server identity Leases renewed within their own duration (a stopped API server's Lease goes stale)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    count = 0
    for lease in items:
        spec = lease.get("spec") or {}
        try:
            renewed = parse_time(spec["renewTime"])
            age = (now - renewed).total_seconds()
        except (KeyError, AttributeError, TypeError, ValueError):
            continue
        if age <= int(spec.get("leaseDurationSeconds") or 0):
            count += 1
    return count


def _count_control_plane(client, nodes):
    """API servers: their identity Leases in kube-system, else the ``kubernetes`` Service's endpoints (one per API
    server; empty when they advertise a loopback address), else control-plane labelled Nodes."""
    status, data = client.raw("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
                              query={"labelSelector": "apiserver.kubernetes.io/identity=kube-apiserver"}, raise_for_status=False)
    if status == 200 and isinstance(data, dict):
        fresh = _fresh_identity_leases(data.get("items") or [])
        if fresh:
            return fresh
    status, data = client.raw("GET", "/api/v1/namespaces/default/endpoints/kubernetes", raise_for_status=False)
    if status == 200 and isinstance(data, dict):
        addresses = [a for s in data.get("subsets") or [] for a in s.get("addresses") or []]
        if addresses:
            return len(addresses)
    labelled = [n for n in nodes if any(lbl in (n.metadata.labels or {}) for lbl in CONTROL_PLANE_LABELS)]
    return len(labelled) or None


def _service_cidr(client):
    """The cluster's service network from the ServiceCIDR object ``kubernetes`` (Kubernetes 1.33+), else None."""
    status, data = client.raw("GET", "/apis/networking.k8s.io/v1/servicecidrs/kubernetes", raise_for_status=False)
    if status == 200 and isinstance(data, dict):
        cidrs = [c for c in (data.get("spec") or {}).get("cidrs") or [] if ":" not in c]
        return cidrs[0] if cidrs else None
    return None


def describe_existing(module, name):
    """Facts of any cluster reached through the Kubernetes connection options: /version, Nodes, API server endpoints."""
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    params = module.params
    module.require_k8s()
    client = K8sClient.from_params(params)
    try:
        version = client.server_version()
    except Exception as exc:  # any failure here means "not reachable"
        raise AdharError("cluster %r is not reachable at %s: %s" % (name, client.host, exc), api_endpoint=client.host)
    from kubernetes.client import CoreV1Api
    nodes = client.call(client.api(CoreV1Api).list_node).items
    control_plane = _count_control_plane(client, nodes)
    workers = [n for n in nodes if not any(lbl in (n.metadata.labels or {}) for lbl in CONTROL_PLANE_LABELS)]
    pods = sorted({n.spec.pod_cidr for n in nodes if n.spec and n.spec.pod_cidr})
    notes = ["the pod network is not visible through the Kubernetes API (nodes only show their own ranges%s); it is "
             "left out" % (": " + ", ".join(pods[:5]) if pods else "")]
    if control_plane not in (1, 3, 5):
        notes.append("the control-plane size is not visible (%s API server endpoints); it is left out" % (control_plane or "no"))
        control_plane = None
    service_cidr = _service_cidr(client)
    if service_cidr is None:
        notes.append("the service network is not visible (no ServiceCIDR object 'kubernetes'); it is left out")
    kubeconfig = params.get("kubeconfig")
    return provider_facts(
        name=name, provider="existing", provider_type="custom", region="existing",
        kubernetes_version=_version(version.get("gitVersion")), control_plane_count=control_plane,
        ha=None if control_plane is None else control_plane > 1, nodes_count=len(workers), service_cidr=service_cidr,
        kubeconfig=kubeconfig if isinstance(kubeconfig, str) else None, context=params.get("context"),
        connection={k: params.get(k) for k in K8S_AUTH_ARG_SPEC if params.get(k) is not None}, notes=notes,
    )


def cloud_module(module, name, **params):
    """A read-only stand-in of ``module`` for a cloud provider class: its params plus the cluster's ``name``."""
    p = dict(module.params, name=name, state="present", wait_timeout=0, eks=None, gke=None)
    p.update(params)
    return types.SimpleNamespace(params=p, check_mode=True, warn=module.warn, no_log_values=getattr(module, "no_log_values", set()))


def cloud_connection(module, token_kubeconfig):
    """``(connection, kubeconfig path or None, context or None)`` Helm reads a cloud cluster through.

    The Kubernetes connection options when the task gives ``kubeconfig``, ``context`` or ``host`` (their path and context
    are then written to the exported ``clusters:`` entry); else ``token_kubeconfig``, the kubeconfig with the cloud's
    short-lived token, which is never written anywhere but a memory-only file for Helm.
    """
    params = module.params
    given = {k: params.get(k) for k in K8S_AUTH_ARG_SPEC if params.get(k) is not None}
    if any(given.get(k) for k in CONNECTION_TARGETS):
        kubeconfig = given.get("kubeconfig")
        return given, kubeconfig if isinstance(kubeconfig, str) else None, given.get("context")
    connection = {k: v for k, v in given.items() if k in ("request_timeout", "api_retry_deadline", "validate_certs")}
    connection["kubeconfig"] = token_kubeconfig
    return connection, None, None


def api_unreachable(connection, timeout=10.0):
    """``None`` when the Kubernetes API server of ``connection`` answers ``/version``, else why not (one attempt)."""
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import KUBERNETES_IMPORT_ERROR, K8sClient

    if KUBERNETES_IMPORT_ERROR is not None:
        return "the Python library 'kubernetes' is missing (%s)" % KUBERNETES_IMPORT_ERROR
    params = dict(connection, request_timeout=min(float(connection.get("request_timeout") or timeout), timeout),
                  api_retry_deadline=0)
    client = None
    try:
        client = K8sClient.from_params(params)
        client.server_version()
    except Exception as exc:  # any failure means "not readable"; the reason goes to the result
        text = " ".join(str(getattr(exc, "msg", None) or exc).split())
        return "the API server %s did not answer: %s" % (client.host if client is not None else "(none)", text[:500])
    finally:
        if client is not None:
            client.close()
    return None


def describe(provider, module, name):
    """Provider facts of the cluster ``name`` (see the module docstring)."""
    if provider == "local":
        return describe_local(name, module.params.get("state_dir"))
    if provider == "existing":
        return describe_existing(module, name)
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers import registry as providers
    if provider not in providers.IMPLEMENTED:
        providers.get_provider(provider, module)  # a provider that does not exist yet fails here, clearly
    implementation = importlib.import_module(providers.__name__.rpartition(".")[0] + "." + provider)
    function = getattr(implementation, "describe", None)
    if function is None:
        raise AdharError("provider: export from %s clusters is not available yet (available: %s)"
                         % (provider, ", ".join(DESCRIBED)), option="provider")
    return function(module, name)
