# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider ``existing``: a cluster someone else runs, reached through kubeconfig/context or host."""

from __future__ import annotations

import os

from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ENV
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.base import Provider


class ExistingProvider(Provider):
    name = "existing"
    states = ("present", "absent")

    def _kubeconfig_path(self):
        """The kubeconfig path connected with: the option, else K8S_AUTH_KUBECONFIG (the cluster module reads that
        environment variable itself, see its ``kubeconfig`` option); None for a dict."""
        kubeconfig = self.params.get("kubeconfig")
        if kubeconfig is None:
            kubeconfig = os.environ.get(K8S_AUTH_ENV["kubeconfig"]) or None
        return kubeconfig if isinstance(kubeconfig, str) else None

    def _facts(self):
        self.module.require_k8s()
        client = K8sClient.from_params(self.params)
        try:
            version = client.server_version()
        except Exception as e:  # any failure here means "not reachable"
            raise AdharError("cluster %r is not reachable at %s: %s" % (self.params["name"], client.host, e),
                             api_endpoint=client.host)
        from kubernetes.client import CoreV1Api
        core = client.api(CoreV1Api)
        nodes = client.call(core.list_node).items
        ready = sum(1 for n in nodes for c in (n.status.conditions or []) if c.type == "Ready" and c.status == "True")
        return {
            "name": self.params["name"],
            "provider": "existing",
            "api_endpoint": client.host,
            "kubeconfig": self._kubeconfig_path(),
            "context": self.params.get("context"),
            "server_version": version.get("gitVersion"),
            "control_plane": [],
            "nodes": {"count": len(nodes), "ready": ready, "total": len(nodes)},
        }

    def ensure_present(self):
        # registering changes nothing on the cluster: it only checks that it is reachable and reports it
        return {"changed": False, "cluster": self._facts(), "actions": []}

    def ensure_absent(self):
        # an existing cluster is not owned by this collection: absent never deletes it
        return {"changed": False, "cluster": {"name": self.params["name"], "provider": "existing"},
                "actions": [], "msg": "provider existing never deletes a cluster; nothing to do"}
