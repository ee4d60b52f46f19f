#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_info
short_description: List, show and verify the backups in a local directory or S3 location
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Lists every backup in O(storage) (optionally only those of O(cluster)), oldest first, complete or not.
  - With O(name), shows that backup's manifest summary (counts, sections, encryption, metadata such as the filters
    used, the etcd snapshot status and the volume snapshot report).
  - With O(verify=true), first authenticates the manifest like M(adhar.platform.restore) does (see docs/restore.md) -
    with O(encryption) its MAC and signature, with O(verify_key) its signature; an encrypted backup verified with
    neither is refused, naming the key it needs - then checks every item of that backup (present, size, SHA-256, and
    with O(encryption) that it decrypts). A bad backup fails the task naming the first bad item; the full report is
    in RV(verification). A wrong key fails with the message C(cannot decrypt - wrong key or tampered data) (with a
    colon after C(decrypt)).
  - With O(encryption) holding a local key, returns the verify key of the backups that key signs (RV(verify_key)).
extends_documentation_fragment:
  - adhar.platform.storage
  - adhar.platform.storage.encryption
  - adhar.platform.storage.verification
  - adhar.platform.attributes.info_module
  - adhar.platform.workers
options:
  cluster:
    description:
      - Only backups of this source cluster.
    type: str
  name:
    description:
      - The backup to show (and verify).
    type: str
  verify:
    description:
      - Verify the backup O(name) (see the description). With only O(verify_key), encrypted items are checked by their
        signed checksums but not decrypted.
    type: bool
    default: false
  workers:
    description:
      - Items verified at the same time.
      - From 1 to 256.
    default: 4
seealso:
  - module: adhar.platform.backup
  - module: adhar.platform.restore
requirements:
  - cryptography (Python, to verify encrypted backups)
  - boto3 (Python, for S3 storage)
"""

EXAMPLES = r"""
- name: List the backups of cluster prod
  adhar.platform.backup_info:
    storage:
      url: s3://adhar-backups/prod
    cluster: prod
  register: listing

- name: Verify the newest complete one with its key
  adhar.platform.backup_info:
    storage:
      url: s3://adhar-backups/prod
    name: "{{ (listing.backups | selectattr('complete') | last).name }}"
    verify: true
    encryption:
      key_env: ADHAR_BACKUP_KEY

- name: Verify it where the key is not available, with the verify key the backup returned
  adhar.platform.backup_info:
    storage:
      url: s3://adhar-backups/prod
    name: prod-20260601020000
    verify: true
    verify_key: "{{ adhar_backup_verify_key }}"
    require_signature: true
"""

RETURN = r"""
backups:
  description:
    - Backups in the location (only O(name) when given), oldest first.
    - Each has C(name), C(cluster), C(kubernetes_version), C(created), C(started), C(finished), C(time), C(counts),
      C(items), C(size) (stored bytes), C(complete), C(encrypted), C(problem) (why it is not complete) and, for
      incomplete ones, C(last_modified).
  returned: always
  type: list
  elements: dict
  sample: [{name: prod-20260601020000, cluster: prod, complete: true, encrypted: true, counts: {configmaps: 12}, size: 48211}]
backup:
  description:
    - Summary of backup O(name) (its manifest without the item list; the listing entry when it is incomplete), as
      stored; C(signature) (C(algorithm), C(key_id), C(public_key)) is what the manifest claims, checked only by
      O(verify=true) with O(verify_key) or O(encryption).
  returned: when O(name) is given
  type: dict
  sample: {name: prod-20260601020000, cluster: prod, item_count: 17, total_bytes: 48211, encrypted: true,
           counts: {configmaps: 12}, metadata: {etcd: null}, signature: {algorithm: ed25519, key_id: "ed25519:b5cdf511cb2bd7bb"}}
verification:
  description:
    - The verification report, C(ok), C(items), C(bytes), C(encrypted_items), C(decryption_checked), C(integrity)
      (V(signed), V(authenticated) or V(checksums-only), see docs/restore.md), C(problems) (path, problem, msg),
      C(warnings).
  returned: when O(verify=true) and the backup is complete
  type: dict
verify_key:
  description: The verify key (C(verify_key), base64) and its C(verify_key_id) of the backups the local key in O(encryption) signs.
  returned: when O(encryption) gives a local key
  type: dict
  sample: {verify_key: vEU6xhf2dJjXRB+8T7qPSKiiVXIuYTuFa2kwK4DNZvc=, verify_key_id: "ed25519:b5cdf511cb2bd7bb"}
storage:
  description: The location (no credentials).
  returned: always
  type: dict
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import workers_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import ENCRYPTION_ARG_SPEC, VERIFY_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import BACKUP_INFO_BOUNDS, run_backup_info
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import STORAGE_ARG_SPEC


def argument_spec():
    spec = dict(
        cluster=dict(type="str"),
        name=dict(type="str"),
        verify=dict(type="bool", default=False),
        **workers_arg_spec(4),
    )
    spec.update(STORAGE_ARG_SPEC)
    spec.update(ENCRYPTION_ARG_SPEC)
    spec.update(VERIFY_ARG_SPEC)
    return spec


def main():
    module = AdharModule(argument_spec(), supports_check_mode=True, required_if=[("verify", True, ["name"])],
                         bounds=BACKUP_INFO_BOUNDS)
    module.run(run_backup_info)


if __name__ == "__main__":
    main()
