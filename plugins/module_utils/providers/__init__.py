# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster providers behind ``adhar.platform.cluster``.

A provider turns the module's params into a cluster and reports it back in
one shape (see ``base.Provider``).  ``local``, ``existing`` and ``eks`` are
here; ``kind`` and ``gke`` are planned and register the same way.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils.core import AdharError

IMPLEMENTED = ("local", "existing", "eks")
PLANNED = ("kind", "gke")


def get_provider(name, module):
    if name == "local":
        from ansible_collections.adhar.platform.plugins.module_utils.providers.local import LocalProvider
        return LocalProvider(module)
    if name == "existing":
        from ansible_collections.adhar.platform.plugins.module_utils.providers.existing import ExistingProvider
        return ExistingProvider(module)
    if name == "eks":
        from ansible_collections.adhar.platform.plugins.module_utils.providers.eks import EksProvider
        return EksProvider(module)
    if name in PLANNED:
        raise AdharError("provider: %r is planned but not implemented in this release (implemented: %s)"
                         % (name, ", ".join(IMPLEMENTED)), option="provider")
    raise AdharError("provider: %r is unknown (implemented: %s)" % (name, ", ".join(IMPLEMENTED)), option="provider")
