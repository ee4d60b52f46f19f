# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CSI VolumeSnapshots of captured PVCs (backup) and PVCs restored from them (restore).

Backup: each PVC's CSI driver is read from its PV (``spec.csi.driver``) or, while it is unbound, from its
StorageClass's provisioner; the VolumeSnapshotClass used is the one of that driver (the default-annotated one
first, or ``volume_snapshot_class`` when it is of that driver).  A PVC whose driver has no class gets no
snapshot and is reported.  A PVC whose driver cannot be told (no PV, no StorageClass) gets the default class.
The snapshots are created, then watched (``_k8s.wait.wait_for``, one LIST + WATCH per namespace, bounded by
``volume_snapshot_timeout``) until ``status.readyToUse`` or ``status.error``.

Restore: a restored PVC whose backup recorded a ready VolumeSnapshot gets ``spec.dataSource`` (and
``dataSourceRef``) naming it, so the CSI driver provisions the new volume from the snapshot.

No CSI driver or snapshot controller runs in this collection's tests: this path is unit-tested with
in-process fakes only (docs/backup.md says so).
"""

from __future__ import annotations

import hashlib

from ansible_collections.adhar.platform.plugins.module_utils._k8s.wait import FAILED, PENDING, READY, Target, wait_for

SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
DEFAULT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class"
BACKUP_LABEL = "backup.adhar.io/backup"
PVC_LABEL = "backup.adhar.io/pvc"


def snapshot_name(backup, pvc):
    """``<pvc>-<8 hex of the backup name>``: unique per backup, within 253 characters."""
    suffix = hashlib.sha256(backup.encode("utf-8")).hexdigest()[:8]
    return "%s-%s" % (pvc[:253 - 9], suffix)


def snapshot_state(obj):
    """``(state, message)`` of a VolumeSnapshot: ``ready``, ``failed`` or ``pending``."""
    status = (obj or {}).get("status") or {}
    if status.get("readyToUse") is True:
        return READY, "snapshot %s is ready to use" % status.get("boundVolumeSnapshotContentName")
    if status.get("error"):
        return FAILED, "snapshot failed: %s" % (status["error"].get("message") or status["error"])
    return PENDING, ("pending: status.readyToUse is not true yet; the snapshot exists only once a CSI snapshot "
                     "controller and driver take it (none has so far)")


def _name(obj):
    return (obj.get("metadata") or {}).get("name")


def _is_default(obj):
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"


def class_for_driver(classes, driver, explicit=None, fallback=None):
    """``(class name or None, reason)`` for a PVC of CSI ``driver`` among the VolumeSnapshotClass objects ``classes``.

    ``explicit`` (``volume_snapshot_class``) wins when it is of that driver; otherwise the driver's default class,
    else its only class.  ``driver`` None (not known): ``explicit`` or ``fallback`` (the cluster's default)."""
    if driver is None:
        chosen = explicit or fallback
        return chosen, None if chosen else "no VolumeSnapshotClass"
    mine = sorted((c for c in classes if c.get("driver") == driver), key=_name)
    if explicit:
        if any(_name(c) == explicit for c in mine):
            return explicit, None
        return None, "volume_snapshot_class %s is not of the PVC's CSI driver %s" % (explicit, driver)
    defaults = [c for c in mine if _is_default(c)]
    if defaults:
        return _name(defaults[0]), None
    if len(mine) == 1:
        return _name(mine[0]), None
    if not mine:
        return None, "no VolumeSnapshotClass for the CSI driver %s" % driver
    return None, "several VolumeSnapshotClasses for the CSI driver %s and none is the default: give volume_snapshot_class" \
        % driver


def pvc_driver(get, pvc):
    """The CSI driver of a captured PVC (``{namespace, name, volume, storage_class}``): its PV's ``spec.csi.driver``,
    else its StorageClass's provisioner; ``None`` when neither is known.  ``get(path)`` returns an object or None."""
    if pvc.get("volume"):
        pv = get("/api/v1/persistentvolumes/%s" % pvc["volume"]) or {}
        csi = (pv.get("spec") or {}).get("csi") or {}
        if csi.get("driver"):
            return csi["driver"]
        if pv.get("spec"):
            return None  # a PV without CSI: snapshots cannot be taken of it
    if pvc.get("storage_class"):
        sc = get("/apis/storage.k8s.io/v1/storageclasses/%s" % pvc["storage_class"]) or {}
        return sc.get("provisioner")
    return None


def snapshot_body(vs_res, backup, pvc, class_name):
    return {"apiVersion": vs_res.api_version, "kind": "VolumeSnapshot",
            "metadata": {"name": snapshot_name(backup, pvc["name"]), "namespace": pvc["namespace"],
                         "labels": {BACKUP_LABEL: backup, PVC_LABEL: pvc["name"][:63]}},
            "spec": {"volumeSnapshotClassName": class_name, "source": {"persistentVolumeClaimName": pvc["name"]}}}


def snapshot_rule(obj):
    """The readiness rule ``_k8s.wait`` applies to a VolumeSnapshot."""
    return snapshot_state(obj)


def wait_snapshots(client, vs_res, snapshots, timeout, waiter=None):
    """Watch the created snapshots (entries with ``namespace`` and ``name``) until each is ready or failed, at most
    ``timeout`` seconds; updates ``state``, ``ready_to_use`` and ``message`` of each entry; returns the seconds."""
    todo = [s for s in snapshots if s.get("state") == PENDING]
    if not todo or not timeout or timeout <= 0:
        return 0.0
    targets = [Target(vs_res, s["namespace"], s["name"], snapshot_rule) for s in todo]
    seconds = (waiter or wait_for)(client, targets, timeout)
    for entry, target in zip(todo, targets):
        entry["state"] = target.state
        entry["ready_to_use"] = target.state == READY
        entry["message"] = target.message if target.state != PENDING else (
            "still pending after %ss: %s" % (timeout, target.message))
    return seconds


def with_snapshot_source(pvc_obj, snapshot):
    """A copy of a (sanitised) PVC whose volume is provisioned from VolumeSnapshot ``snapshot`` (same namespace)."""
    obj = dict(pvc_obj)
    spec = dict(obj.get("spec") or {})
    source = {"apiGroup": SNAPSHOT_GROUP, "kind": "VolumeSnapshot", "name": snapshot}
    spec["dataSource"] = dict(source)
    spec["dataSourceRef"] = dict(source)
    spec.pop("volumeName", None)
    obj["spec"] = spec
    return obj


def ready_snapshots(manifest):
    """``{(namespace, pvc): snapshot name}`` of the VolumeSnapshots a backup recorded as ready to use."""
    report = ((manifest.get("metadata") or {}).get("volume_snapshots") or {})
    return {(s["namespace"], s["pvc"]): s["name"] for s in report.get("snapshots") or [] if s.get("state") == READY}
