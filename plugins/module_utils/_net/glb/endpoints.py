# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cluster's public endpoint: given, or read from its ingress Service through its own Kubernetes connection.

The Service's ``status.loadBalancer.ingress[0]`` (``ip``, else ``hostname``) is
the endpoint; a Service without one (no load balancer yet) falls back to its
``spec.externalIPs``; with neither, the cluster has no endpoint and the module
fails naming it.  Only reads are made.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, api_exception_details, is_api_exception
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import DEFAULT_INGRESS_SERVICE


def service_endpoint(service, label):
    """The endpoint of a Service object (a dict as the API returns it)."""
    status = (service.get("status") or {}).get("loadBalancer") or {}
    for entry in status.get("ingress") or []:
        value = entry.get("ip") or entry.get("hostname")
        if value:
            return value
    external = (service.get("spec") or {}).get("externalIPs") or []
    if external:
        return external[0]
    raise AdharError("%s has no load-balancer address (status.loadBalancer.ingress) and no spec.externalIPs; give "
                     "the cluster's endpoint explicitly" % label)


def read_endpoint(cluster, index):
    """The endpoint of ``cluster`` (a ``clusters[]`` entry) read from its ingress Service."""
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    ref = cluster.get("ingress_service") or DEFAULT_INGRESS_SERVICE
    namespace, name = ref.split("/", 1)
    label = "clusters[%d] (%s): Service %s/%s" % (index, cluster["name"], namespace, name)
    params = {"kubeconfig": cluster.get("kubeconfig"), "context": cluster.get("context")}
    with K8sClient.from_params(params) as client:
        try:
            dummy, obj = client.raw("GET", "/api/v1/namespaces/%s/services/%s" % (namespace, name))
        except Exception as exc:  # ApiException or AdharError: either way the cluster has no readable Service
            if not (isinstance(exc, AdharError) or is_api_exception(exc)):
                raise
            reason = api_exception_details(exc)[0] if is_api_exception(exc) else str(exc)
            raise AdharError("%s: cannot read it: %s" % (label, reason), option="clusters[%d].ingress_service" % index) from exc
    return service_endpoint(obj if isinstance(obj, dict) else {}, label)


def resolve(clusters):
    """``{cluster name: endpoint}`` for every cluster: the given endpoint, else the ingress Service's."""
    out = {}
    for i, c in enumerate(clusters):
        out[c["name"]] = c["endpoint"] if c.get("endpoint") else read_endpoint(c, i)
    return out
