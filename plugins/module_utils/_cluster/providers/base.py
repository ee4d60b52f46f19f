# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider interface."""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError


class Provider:
    """One kind of cluster.

    ``run()`` validates everything first, then converges the cluster to
    ``params['state']`` and returns the module result:
    ``{"changed": bool, "cluster": {name, provider, api_endpoint, kubeconfig,
    server_version, control_plane: [...], nodes: {...}}, "actions": [...],
    "diff": {"before": ..., "after": ...}}``.
    Check mode must change nothing and report what would change.
    """

    name = None
    states = ("present", "absent")

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode

    def run(self):
        state = self.params.get("state")
        if state not in self.states:
            raise AdharError("state: %r is not supported by provider %s (supported: %s)"
                             % (state, self.name, ", ".join(self.states)), option="state")
        return getattr(self, "ensure_" + state)()
