# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup storage: one interface, two backends (a local directory, S3), per-cluster locks.

``storage_from_params(module.params["storage"])`` gives the backend for the
``storage`` option (``STORAGE_ARG_SPEC``, documented by the
``adhar.platform.storage`` doc fragment).  Everything a backup writes or
reads goes through the ``Storage`` interface (``base.py``); the backup
format itself (manifest, listing, retention) is ``module_utils/_archive``.  Callers import the names of the
interface and of both backends from this module.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._aws.client import BOTO3_IMPORT_ERROR
from ansible_collections.adhar.platform.plugins.module_utils._aws.errors import aws_retryable
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import (
    DEFAULT_LOCK_TTL,
    LOCK_DIR,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    PutResult,
    Storage,
    StorageLock,
    lock_stale_reason,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage.local import LocalStorage
from ansible_collections.adhar.platform.plugins.module_utils._storage.params import (
    STORAGE_ARG_SPEC,
    normalize_storage_params,
    parse_url,
    storage_from_params,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage.s3 import S3Storage

__all__ = [
    "BOTO3_IMPORT_ERROR",
    "DEFAULT_LOCK_TTL",
    "LOCK_DIR",
    "STORAGE_ARG_SPEC",
    "LocalStorage",
    "ObjectExists",
    "ObjectInfo",
    "ObjectMissing",
    "PutResult",
    "S3Storage",
    "Storage",
    "StorageLock",
    "aws_retryable",
    "lock_stale_reason",
    "normalize_storage_params",
    "parse_url",
    "storage_from_params",
]
