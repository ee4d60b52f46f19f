# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cloud providers (``eks``, ``gke``) share: bounded polling and the token kubeconfig.

``CloudProvider`` keeps one deadline for the whole task (``wait_timeout``),
polls with doubling delays under it, builds a kubeconfig whose user holds a
bearer token, and merges it into / removes it from ``kubeconfig_out`` as the
local provider does with its kubeconfig.
"""

from __future__ import annotations

import os
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.base import Provider


class CloudProvider(Provider):
    """A provider whose cluster lives in a cloud; subclasses set the poll delays, ``wait_hint`` and ``user_suffix``."""

    poll_first = 2.0
    poll_cap = 20.0
    wait_hint = "cloud operations take minutes, raise wait_timeout"
    user_suffix = "-cloud"

    def __init__(self, module):
        super().__init__(module)
        self.cluster_name = self.params["name"]
        self.what = "cluster %s" % self.cluster_name
        self.actions = []
        self.deadline = time.monotonic() + float(self.params.get("wait_timeout") or 0)

    def _remaining(self):
        return self.deadline - time.monotonic()

    def _poll(self, read, done, what):
        """Call ``read()`` until ``done(value)`` is true (returns value) or the task's ``wait_timeout`` is used up."""
        delay = self.poll_first
        while True:
            value = read()
            if done(value):
                return value
            remaining = self._remaining()
            if remaining <= 0:
                raise AdharError("%s: timed out waiting for %s (last seen: %s); %s"
                                 % (self.what, what, status_of(value), self.wait_hint),
                                 wait_timeout=self.params.get("wait_timeout"))
            time.sleep(min(delay, remaining))
            delay = min(self.poll_cap, delay * 2)

    def _token_kubeconfig(self, server, ca, token):
        """A kubeconfig dict (context ``adhar-<name>``) whose user authenticates with the bearer ``token``."""
        ctx = "adhar-" + self.cluster_name
        user = ctx + self.user_suffix
        entry = {"server": server}
        if ca:
            entry["certificate-authority-data"] = ca
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": ctx, "cluster": entry}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": user}}],
            "current-context": ctx,
        }

    def _write_kubeconfig(self, config):
        """Merge ``config`` into ``kubeconfig_out``: ``(path, changed)``, or ``None`` without the option."""
        path = self.params.get("kubeconfig_out")
        if not path:
            return None
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
        path = os.path.abspath(os.path.expanduser(path))
        # The token changes on every run; only a change of the cluster or context entries counts as a change.
        same = rt.kubeconfig_has(path, dict(config, users=[])) and has_token_user(path, config["users"][0]["name"])
        if self.check_mode:
            if not same:
                self.actions.append("would write context adhar-%s to %s" % (self.cluster_name, path))
            return path, not same
        rt.merge_kubeconfig(path, config)
        self.actions.append("%s context adhar-%s in %s" % ("refreshed the token of" if same else "wrote",
                                                           self.cluster_name, path))
        return path, not same

    def _add_kubeconfig(self, result, config, expiration):
        """Put ``config`` and its token's expiry into ``result`` and merge it into ``kubeconfig_out``; the path or None."""
        written = self._write_kubeconfig(config)
        path = None
        if written:
            path, wrote = written
            result["changed"] = result["changed"] or wrote
        result["kubeconfig"] = config
        result["token_expiration"] = expiration
        return path

    def _unmerge(self):
        path = self.params.get("kubeconfig_out")
        if not path or self.check_mode:
            return
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
        if rt.unmerge_kubeconfig(os.path.abspath(os.path.expanduser(path)), self.cluster_name):
            self.actions.append("removed context adhar-%s from %s" % (self.cluster_name, path))


def has_token_user(path, name):
    """True when the kubeconfig at ``path`` has user ``name`` with a token."""
    from ansible.module_utils.common.yaml import yaml_load
    try:
        with open(path) as f:
            data = yaml_load(f) or {}
    except (OSError, ValueError):
        return False
    return any(isinstance(u, dict) and u.get("name") == name and (u.get("user") or {}).get("token")
               for u in (data.get("users") or []) if isinstance(data, dict))


def status_of(value):
    if isinstance(value, dict):
        return value.get("status") or "unknown"
    return "unknown" if value is None else str(value)
