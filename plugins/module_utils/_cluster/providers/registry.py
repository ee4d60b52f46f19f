# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster providers behind ``adhar.platform.cluster``: ``get_provider()`` picks one by name.

A provider turns the module's params into a cluster and reports it back in
one shape (see ``base.Provider``).  ``local``, ``existing``, ``eks`` and
``gke`` are here.  ``kind`` is accepted and always fails with the reason
(no Docker engine, or not implemented in this release; ``kind.py``).
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

IMPLEMENTED = ("local", "existing", "eks", "gke")
ACCEPTED = IMPLEMENTED + ("kind",)


def get_provider(name, module):
    if name == "local":
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.local import LocalProvider
        return LocalProvider(module)
    if name == "existing":
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.existing import ExistingProvider
        return ExistingProvider(module)
    if name == "eks":
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.eks import EksProvider
        return EksProvider(module)
    if name == "gke":
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.gke import GkeProvider
        return GkeProvider(module)
    if name == "kind":
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.kind import KindProvider
        return KindProvider(module)
    raise AdharError("provider: %r is unknown (implemented: %s)" % (name, ", ".join(IMPLEMENTED)), option="provider")
