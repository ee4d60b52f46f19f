# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup archive: format (``format``), ``ArchiveWriter``, ``ArchiveReader``, listing and retention (``catalog``).

Backups are written through a ``module_utils._storage`` backend and encrypted
with ``module_utils._dr.crypto_envelope``.  The format is described in
docs/backup-format.md.  Callers import those names from this module.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._archive.catalog import (
    DEFAULT_INCOMPLETE_GRACE,
    active_backups,
    apply_retention,
    backup_info,
    enforce_retention,
    list_backups,
    parse_duration,
    plan_retention,
)
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import (
    ADHAR_CONFIG,
    ENC_SUFFIX,
    ETCD_SNAPSHOT,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    SECTIONS,
    STARTED,
    UNPACKED_VERSION,
    check_backup_name,
    check_item_path,
    db_path,
    describe_path,
    resource_item,
    resource_items,
    resource_key,
    resource_path,
)
from ansible_collections.adhar.platform.plugins.module_utils._archive.reader import ArchiveReader
from ansible_collections.adhar.platform.plugins.module_utils._archive.writer import ArchiveWriter

__all__ = [
    "ADHAR_CONFIG",
    "DEFAULT_INCOMPLETE_GRACE",
    "ENC_SUFFIX",
    "ETCD_SNAPSHOT",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST",
    "SECTIONS",
    "STARTED",
    "UNPACKED_VERSION",
    "ArchiveReader",
    "ArchiveWriter",
    "active_backups",
    "apply_retention",
    "backup_info",
    "check_backup_name",
    "check_item_path",
    "db_path",
    "describe_path",
    "enforce_retention",
    "list_backups",
    "parse_duration",
    "plan_retention",
    "resource_item",
    "resource_items",
    "resource_key",
    "resource_path",
]
