#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup
short_description: Back up a Kubernetes cluster's objects (and its etcd, volumes, adhar config) to a local directory or S3
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Captures every API resource the cluster serves (the preferred version of each group, found by discovery) that can be
    listed, namespaced and cluster-scoped, selected with Velero's filter semantics, into one backup in the format of
    docs/backup-format.md.
  - Streaming and parallel. Each resource type is listed in pages (O(page_size), with C(continue) tokens; a list whose
    token expires, C(410 Gone), is started again), several types at once, one page ahead (the next page is asked for
    as soon as the token is read from the head of the current one), and every object is written as soon as it
    arrives through a bounded queue; the cluster is never held in memory.
  - Secrets are always stored encrypted (AES-256-GCM envelope encryption on this host). If Secrets are in scope and no
    O(encryption) key is given, the task fails before anything is written.
  - Write-once. C(started.json) first, the objects, then C(manifest.json) last, after everything is durable. A backup
    interrupted at any point has no manifest, is listed as not complete by M(adhar.platform.backup_info) and is refused by
    M(adhar.platform.restore).
  - Only one backup of a cluster runs at a time, a lock C(.locks/<cluster>.lock) in the storage. A held lock fails the
    task with who holds it; a lock whose holder is gone (same host) or whose ttl expired is taken over.
  - Events are not captured unless O(include_events=true). Metrics (C(metrics.k8s.io)) are never captured.
  - Objects labelled C(backup.adhar.io/exclude=true) or C(velero.io/exclude-from-backup=true) are never captured.
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.filters
  - adhar.platform.retention
  - adhar.platform.storage
  - adhar.platform.storage.encryption
  - adhar.platform.attributes
  - adhar.platform.workers
attributes:
  check_mode:
    support: full
    details:
      - Discovers and lists what would be captured and returns the counts per resource in RV(backup.counts); nothing is
        written, no lock is taken and no VolumeSnapshot is created. Reports C(changed=true).
  diff_mode:
    support: none
options:
  name:
    description:
      - Name of the backup, 1-253 letters, digits, V(.), V(_), V(-), starting and ending with a letter or digit.
      - Defaults to C(<cluster>-<UTC YYYYMMDDhhmmss>). An existing name is an error (backups are never overwritten).
    type: str
  cluster:
    description:
      - Name of the source cluster, recorded in the backup and used for listing, retention and the lock.
      - Defaults to the name of the kubeconfig context in use (characters other than letters, digits, V(.), V(_) and
        V(-) replaced by V(-)).
    type: str
  include_events:
    description:
      - Capture Events (C(events); C(events.k8s.io) serves the same objects). They are left out by default, being
        short-lived records rather than state, and a restore never recreates them.
    type: bool
    default: false
  etcd_snapshot:
    description:
      - Also take an etcd snapshot of one healthy member (leader preferred), streamed from etcd's gRPC gateway
        (C(POST /v3/maintenance/snapshot)) straight into the encrypted item C(etcd/snapshot.db.enc); it is never
        written to a file. An etcd snapshot holds every Secret, so O(encryption) is required.
      - The stream is checked on the way (bbolt meta page, announced size, etcd's trailing SHA-256); a snapshot that
        fails a check is not stored and the backup fails, incomplete.
      - The local cluster, the TLS files and a member answering are checked before any object is captured.
      - Its SHA-256, revision and size are returned in RV(backup.etcd) and recorded in the manifest.
      - Give O(etcd_snapshot.local_cluster) for a local cluster made by M(adhar.platform.cluster), or
        O(etcd_snapshot.endpoints) with the TLS files.
    type: dict
    suboptions:
      local_cluster:
        description:
          - Name of a local cluster (provider C(local)) whose etcd is snapshotted; its state gives endpoints and certificates.
        type: str
      state_dir:
        description:
          - Directory holding local clusters. Defaults to C(ADHAR_STATE_DIR), else C(~/.local/state/adhar).
        type: path
      endpoints:
        description:
          - etcd client URLs (for example V(https://10.0.0.5:2379)); one healthy member is snapshotted.
        type: list
        elements: str
      ca_file:
        description: CA certificate to verify the etcd members.
        type: path
      cert_file:
        description: Client certificate for etcd.
        type: path
      key_file:
        description: Client key for etcd.
        type: path
  volume_snapshots:
    description:
      - V(auto) creates a C(snapshot.storage.k8s.io) VolumeSnapshot for every captured PersistentVolumeClaim when the API
        serves VolumeSnapshots and a VolumeSnapshotClass exists (O(volume_snapshot_class), or the one annotated
        C(snapshot.storage.kubernetes.io/is-default-class=true)); otherwise it reports why in RV(backup.volume_snapshots)
        with the PVCs whose data is not in the backup.
      - V(always) makes that an error, before anything is written. V(never) takes no snapshots.
      - The VolumeSnapshots are labelled C(backup.adhar.io/backup=<name>), stored in the backup, and reported ready or
        pending; a pending snapshot holds no data until a CSI driver takes it.
    type: str
    choices: [auto, always, never]
    default: auto
  volume_snapshot_class:
    description:
      - The VolumeSnapshotClass to use instead of the default one.
      - Giving it with O(volume_snapshots=never) is an error.
    type: str
  volume_snapshot_timeout:
    description:
      - Seconds to wait (with a watch) for the VolumeSnapshots taken to become C(readyToUse); those still pending
        then are reported pending. 0 does not wait.
    type: int
    default: 300
  volume_data:
    description:
      - V(auto) captures the files of every captured PersistentVolumeClaim bound to a local volume of this host (the
        volumes of a local cluster made with O(adhar.platform.cluster#module:nodes.volumes), StorageClass C(adhar-local)),
        file level, streamed as a tar into C(volumes/<namespace>/<pvc>.tar), encrypted when O(encryption) is given,
        checksummed like every item, with an index of every entry (mode, mtime, size, SHA-256).
      - Those PVCs get no VolumeSnapshot. Other PVCs are listed in RV(backup.volumes) (C(skipped)) with the reason.
      - V(never) captures no volume data.
    type: str
    choices: [auto, never]
    default: auto
  adhar_config:
    description:
      - The platform's adhar config, a path (read on the host running the module) or a dict; stored as
        C(config/adhar.yaml), encrypted when O(encryption) is given.
    type: raw
  retention:
    description:
      - Applied after the backup is committed, to the backups of the same O(cluster) in the same location. The newest
        complete backup is never deleted; incomplete backups older than 24 hours are deleted.
  workers:
    description:
      - Resource types listed at the same time, and items written at the same time.
      - From 1 to 256; another value fails the task before anything runs.
    default: 8
  pack_size:
    description:
      - Small items (objects of up to 256 KiB as stored) are written together in packs of about this many MiB, one
        storage request per pack instead of one per object; each keeps its own checksum, encryption and manifest
        record (format 2.1, see the backup format document).
      - C(0) writes one object per item (format 1.3).
      - From 0 to 64.
    type: int
    default: 4
  page_size:
    description:
      - Objects per list request (C(limit)).
      - From 1 to 10000.
    type: int
    default: 500
  decoder_processes:
    description:
      - Child processes (the same Python) that decode the listed pages and cut each kept object's text out of its
        page, so the backup uses more than one core.
      - Defaults to two fewer than the cores the module may use (its CPU affinity, capped by a cgroup CPU quota such
        as a container's CPU limit), at most 4, so none on one or two cores, where a decoder process costs more in
        its pipes than it saves. V(0) does that work in the module's own process.
      - When they cannot start, the module warns and decodes in its own process.
      - From 0 to 16.
    type: int
  lock_ttl:
    description:
      - Seconds after which the lock of this backup counts as stale for another host (the lock is refreshed while the
        backup runs; a holder on the same host that is gone is detected at once).
      - At least 60 (the lock is refreshed every 30 seconds at the soonest).
    type: int
    default: 3600
notes:
  - The objects are stored as the API returns them (sanitising is the restore's job), packed together in a few large
    objects (O(pack_size)) or one file per object.
  - A backup is not a consistent point in time across types (like Velero's); the etcd snapshot is.
  - Decoding the listed pages is most of a backup's CPU time; an object is not encoded again, its item is its own
    text cut out of the page. On a machine with more than two cores the decoding runs in child processes of the same
    Python (O(decoder_processes)), so the module uses more than one core.
seealso:
  - module: adhar.platform.backup_info
  - module: adhar.platform.restore
requirements:
  - kubernetes >= 28.1.0 (Python)
  - cryptography (Python)
  - boto3 (Python, for S3 storage)
"""

EXAMPLES = r"""
- name: Back up the whole cluster, Secrets encrypted, keep the last 7
  adhar.platform.backup:
    kubeconfig: ~/.kube/config
    storage:
      url: s3://adhar-backups/prod
      region: eu-west-1
    encryption:
      key_env: ADHAR_BACKUP_KEY
    retention:
      keep_last: 7
  register: backup

- name: One application's namespaces, without Secrets, to a local directory
  adhar.platform.backup:
    storage:
      path: /var/backups/adhar
    include_namespaces: ["shop-*"]
    exclude_resources: [secrets]
    label_selector: app.kubernetes.io/part-of=shop

- name: A local cluster with its etcd snapshot and the adhar config
  adhar.platform.backup:
    kubeconfig: "{{ lookup('env', 'HOME') }}/.local/state/adhar/dev/config/admin.kubeconfig"
    cluster: dev
    storage:
      path: /var/backups/adhar
    encryption:
      key_file: /etc/adhar/backup.key
    etcd_snapshot:
      local_cluster: dev
    adhar_config: /etc/adhar/adhar.yaml
    volume_snapshots: never

- name: What would be captured
  adhar.platform.backup:
    storage:
      path: /var/backups/adhar
    encryption:
      key_env: ADHAR_BACKUP_KEY
  check_mode: true
"""

RETURN = r"""
backup:
  description: The backup written (in check mode, what would be written).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the backup.
      type: str
      sample: prod-20260601020000
    cluster:
      description: Source cluster.
      type: str
      sample: prod
    complete:
      description: Whether the manifest was committed (V(false) in check mode).
      type: bool
    counts:
      description: Objects per resource (C(<resource>[.<group>])).
      type: dict
      sample: {configmaps: 12, deployments.apps: 3, secrets: 4}
    item_count:
      description: Items in the backup (objects, etcd snapshot, adhar config).
      type: int
    size:
      description: Bytes stored.
      type: int
    encrypted:
      description: Whether the backup has an encryption key (Secrets, etcd snapshot and adhar config are encrypted).
      type: bool
    verify_key:
      description:
        - With a local encryption key, the base64 Ed25519 public key that checks this backup's manifest signature
          (O(adhar.platform.restore#module:verify_key), O(adhar.platform.backup_info#module:verify_key)). It is derived
          from the key, the same for every backup made with it, and not secret. Null without a key and with AWS KMS
          (KMS backups are not signed).
      type: str
      sample: vEU6xhf2dJjXRB+8T7qPSKiiVXIuYTuFa2kwK4DNZvc=
    verify_key_id:
      description: Fingerprint of RV(backup.verify_key) (C(ed25519:) and 16 hex digits of its SHA-256), or null.
      type: str
      sample: ed25519:b5cdf511cb2bd7bb
    seconds:
      description: Seconds the whole task took.
      type: float
    objects_per_second:
      description: Objects captured per second over the whole task.
      type: float
    decoder_processes:
      description:
        - Child processes that decoded the listed pages and cut out their objects (O(decoder_processes)); 0 when the
          module's own process did it.
      type: int
      returned: success, not in check mode
      sample: 1
    etcd:
      description:
        - The etcd snapshot's record, or null. C(sha256) (the snapshot's own trailing hash, hex), C(revision) (the
          member's revision just before the snapshot; the snapshot holds at least that), C(total_size) (database
          bytes), C(storage_version), C(etcd_version), C(endpoint), C(seconds); for a local cluster also C(members),
          C(source_cluster), C(encryption_config).
      type: dict
    volume_snapshots:
      description:
        - C(supported) false with C(reason) and C(pvcs_without_data), or C(supported) true with C(class),
          C(snapshots) (namespace, pvc, name, state V(ready)/V(pending)/V(failed), ready_to_use, message), the
          numbers C(ready), C(pending), C(failed) and a C(message) when some are pending.
      type: dict
      sample: {supported: false, reason: the API server does not serve snapshot.storage.k8s.io VolumeSnapshot, pvcs_without_data: [db/data]}
    volumes:
      description:
        - The volume data captured (null with O(volume_data=never)). C(captured) per volume (namespace, pvc, pv,
          item, node, files, dirs, symlinks, bytes, stored_bytes, seconds, mb_per_second), C(skipped) (namespace, pvc,
          pv, reason) and the totals C(volumes), C(files), C(bytes), C(stored_bytes), C(seconds), C(mb_per_second).
          In check mode the counts come from a scan of the directories.
      type: dict
      sample: {volumes: 1, files: 3, bytes: 1048576, captured: [{namespace: db, pvc: data, pv: adhar-pv-0000, files: 3,
               bytes: 1048576}], skipped: []}
    storage:
      description: Where the backup is (no credentials).
      type: dict
      sample: {type: local, url: file:///var/backups/adhar, path: /var/backups/adhar}
    kubernetes_version:
      description: The source API server's version.
      type: str
      returned: success, not in check mode
    related:
      description: Related objects captured because captured objects need them (CRD, PV and Namespace names).
      type: dict
      returned: success, not in check mode
retention:
  description: What retention deleted and kept (empty without O(retention)).
  returned: always
  type: dict
  sample: {deleted: [prod-20260501020000], kept: [prod-20260601020000]}
timings:
  description: Seconds per phase (discovery, capture, volume_data, volume_snapshots, etcd, commit, retention).
  returned: always
  type: dict
"""

import copy

from ansible_collections.adhar.platform.plugins.module_utils._common.args import RETENTION_ARG_SPEC, workers_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import ENCRYPTION_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import (
    ETCD_SNAPSHOT_ARG_SPEC,
    ETCD_SNAPSHOT_MUTUALLY_EXCLUSIVE,
    ETCD_SNAPSHOT_REQUIRED_ONE_OF,
)
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import BACKUP_BOUNDS, FILTER_ARG_SPEC, run_backup
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import STORAGE_ARG_SPEC


def etcd_snapshot_options():
    """``ETCD_SNAPSHOT_ARG_SPEC``; ``key_file`` is a path, not a secret (said explicitly for the no_log check)."""
    options = copy.deepcopy(ETCD_SNAPSHOT_ARG_SPEC)
    options["key_file"].setdefault("no_log", False)
    return options


def argument_spec():
    spec = dict(
        name=dict(type="str"),
        cluster=dict(type="str"),
        include_events=dict(type="bool", default=False),
        etcd_snapshot=dict(type="dict", options=etcd_snapshot_options(),
                           required_one_of=ETCD_SNAPSHOT_REQUIRED_ONE_OF,
                           mutually_exclusive=ETCD_SNAPSHOT_MUTUALLY_EXCLUSIVE),
        volume_snapshots=dict(type="str", choices=["auto", "always", "never"], default="auto"),
        volume_snapshot_class=dict(type="str"),
        volume_snapshot_timeout=dict(type="int", default=300),
        volume_data=dict(type="str", choices=["auto", "never"], default="auto"),
        adhar_config=dict(type="raw"),
        **workers_arg_spec(8),
        pack_size=dict(type="int", default=4),
        page_size=dict(type="int", default=500),
        decoder_processes=dict(type="int"),
        lock_ttl=dict(type="int", default=3600),
    )
    spec.update(RETENTION_ARG_SPEC)
    spec.update(FILTER_ARG_SPEC)
    spec.update(STORAGE_ARG_SPEC)
    spec.update(ENCRYPTION_ARG_SPEC)
    return spec


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True, bounds=BACKUP_BOUNDS)
    module.run(run_backup)


if __name__ == "__main__":
    main()
