# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume data in backups and restores, file level (the volume section, ``archive.volumes``).

Backup (``capture_volumes``): for every captured PVC bound to one of this host's local volumes (a PV of the
StorageClass ``adhar-local`` whose directory is below the root the StorageClass names, see ``local_volumes``),
the directory is streamed as a tar into ``volumes/<ns>/<pvc>.tar[.enc]`` (encrypted whenever the backup has a
key) with its index beside it.  Other PVCs are listed as skipped with the reason (their data needs CSI
VolumeSnapshots: ``csi_snapshots``).

Restore (``VolumeRestore``): before any object is restored every selected volume item is checked against its
size and SHA-256 in the manifest (a corrupted chunk fails the restore before anything is written); after the
PVCs are restored each one gets a PV of the target cluster pre-bound to it (or keeps the local PV it is already
bound to) and the files are extracted into a staging directory beside the PV's directory and swapped in only
when the whole stream decrypted, matched its checksum and its index.  A volume whose files, modes and mtimes
already match is left alone (idempotent); check mode compares and writes nothing.
"""

from __future__ import annotations

import os
import time

from ansible_collections.adhar.platform.plugins.module_utils._cluster import local_volumes as lv
from ansible_collections.adhar.platform.plugins.module_utils._archive import volumes as av
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

PVC_KEY = "persistentvolumeclaims"
PV_KEY = "persistentvolumes"
BIND_TIMEOUT = 60.0


def _mb_per_second(size, seconds):
    return round(size / 1e6 / seconds, 1) if seconds else None


def _scan_summary(path):
    index = av.scan(path, checksums=False) or {}
    return {k: index.get(k, 0) for k in ("files", "dirs", "symlinks", "bytes")}


def capture_volumes(client, writer, pvcs, check_mode=False):
    """Capture the data of the local volumes bound to ``pvcs`` (``[{namespace, name, volume}]``); returns the
    report ``{"captured": [...], "skipped": [...], "files", "bytes", "stored_bytes", "seconds", "mb_per_second"}``."""
    start = time.monotonic()
    root = lv.volume_root(client)
    captured, skipped, warnings = [], [], []
    for pvc in sorted(pvcs, key=lambda p: (p["namespace"], p["name"])):
        ref = {"namespace": pvc["namespace"], "pvc": pvc["name"], "pv": pvc.get("volume")}
        if not pvc.get("volume"):
            skipped.append(dict(ref, reason="not bound to a volume"))
            continue
        pv = lv.get(client, "%s/%s" % (lv.PV_PATH, pvc["volume"]))
        path = lv.local_path(pv, root)
        if path is None:
            skipped.append(dict(ref, reason="not a local volume of this host (StorageClass %s); its data needs a CSI "
                                "VolumeSnapshot" % lv.STORAGE_CLASS))
            continue
        data_item, index_item = av.volume_paths(pvc["namespace"], pvc["name"])
        entry = dict(ref, item=data_item, node=lv.pv_node(pv),
                     capacity=((pv.get("spec") or {}).get("capacity") or {}).get("storage"))
        if check_mode or writer is None:
            entry.update(_scan_summary(path))
            captured.append(entry)
            continue
        t = time.monotonic()
        index = {}
        encrypt = writer.encrypted or None
        record = writer.add(data_item, av.tar_stream(path, index), encrypt=encrypt)
        warnings.extend("volume %s/%s: %s" % (pvc["namespace"], pvc["name"], w) for w in index.pop("warnings", []))
        if index.get("skipped"):
            warnings.append("volume %s/%s: %d entries are not files, directories or symbolic links and were skipped "
                            "(first: %s)" % (pvc["namespace"], pvc["name"], len(index["skipped"]), index["skipped"][0]))
        writer.add(index_item, dict(index, pv=pvc["volume"]), encrypt=encrypt)
        seconds = time.monotonic() - t
        entry.update(item=record["path"], index=index_item + (".enc" if encrypt else ""),
                     files=index["files"], dirs=index["dirs"], symlinks=index["symlinks"], bytes=index["bytes"],
                     stored_bytes=record["size"], seconds=round(seconds, 3),
                     mb_per_second=_mb_per_second(index["bytes"], seconds))
        captured.append(entry)
    seconds = time.monotonic() - start
    total = sum(c.get("bytes", 0) for c in captured)
    report = {"captured": captured, "skipped": skipped, "volumes": len(captured),
              "files": sum(c.get("files", 0) for c in captured), "bytes": total,
              "stored_bytes": sum(c.get("stored_bytes", 0) for c in captured), "seconds": round(seconds, 3),
              "mb_per_second": _mb_per_second(total, seconds), "root": root}
    return report, warnings


def backed_up_volumes(manifest):
    """``{(namespace, pvc): entry}`` of the volumes whose data a backup holds (empty for older backups)."""
    report = ((manifest.get("metadata") or {}).get("volumes") or {})
    return {(v["namespace"], v["pvc"]): v for v in report.get("captured") or [] if v.get("item")}


def _drain(chunks):
    for dummy in chunks:
        pass


class VolumeRestore:
    """Puts the files of backed-up volumes into the target cluster's local volumes (see the module docstring)."""

    def __init__(self, reader, client, check_mode=False, clock=time.monotonic, sleep=time.sleep):
        self.reader = reader
        self.client = client
        self.check_mode = check_mode
        self.clock = clock
        self.sleep = sleep
        self.volumes = backed_up_volumes(reader.manifest)
        self.planned = []
        self.root = None
        self.results = []
        self.created_pvs = []

    def plan(self, items):
        """Which volumes go with the PVC ``items`` being restored; the PV objects of those volumes are skipped (they
        name the source cluster's directories).  Returns the planned ``[(pvc item, entry)]``."""
        pvs = set()
        for item in items:
            if item.key == PVC_KEY and item.action is None and (item.src_namespace, item.name) in self.volumes:
                entry = self.volumes[(item.src_namespace, item.name)]
                self.planned.append((item, entry))
                if entry.get("pv"):
                    pvs.add(entry["pv"])
        for item in items:
            if item.key == PV_KEY and item.name in pvs and item.action is None:
                item.action = "skipped"
                item.message = "its data is restored into a new local volume of the target cluster"
        return self.planned

    def check(self):
        """Before anything is restored: the target has local volumes, and every planned volume item is intact."""
        if not self.planned:
            return
        self.root = lv.volume_root(self.client)
        if self.root is None:
            first = self.planned[0][1]
            raise AdharError("backup %s holds the data of %d volumes (first: %s/%s) but the target cluster has no local "
                             "volumes (StorageClass %s with %s on this host): give the local cluster nodes.volumes, or "
                             "volume_data: never to restore the objects without their data; nothing was restored"
                             % (self.reader.name, len(self.planned), first["namespace"], first["pvc"], lv.STORAGE_CLASS,
                                lv.ROOT_ANNOTATION), option="volume_data")
        for dummy, entry in self.planned:
            for path in (entry["item"], entry.get("index") or av.volume_paths(entry["namespace"], entry["pvc"])[1]):
                record = self.reader.item(path)
                try:
                    _drain(self.reader.stored_chunks(record))
                except AdharError as exc:
                    raise AdharError("volume %s/%s: %s; nothing was restored" % (entry["namespace"], entry["pvc"], exc.msg),
                                     **exc.details) from None

    def _pvc(self, namespace, name):
        return lv.get(self.client, "/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (namespace, name))

    def _target_node(self, entry):
        nodes = [n for n in lv.node_names(self.client) if n]
        if not nodes:
            raise AdharError("the target cluster has no nodes to pin the volume of %s/%s to" % (entry["namespace"], entry["pvc"]))
        return entry.get("node") if entry.get("node") in nodes else nodes[0]

    def _free_pv_name(self, namespace, name, uid):
        """A PV name for PVC ``namespace/name``: one already pre-bound to it (reused), else an unused one."""
        for attempt in range(100):
            candidate = lv.restore_pv_name(namespace, name, attempt or None)
            pv = lv.get(self.client, "%s/%s" % (lv.PV_PATH, candidate))
            if pv is None:
                return candidate, False
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if (ref.get("namespace"), ref.get("name")) == (namespace, name) and ref.get("uid") in (None, uid):
                return candidate, True
        raise AdharError("no free PV name for %s/%s" % (namespace, name))

    def prepare(self):
        """Before the objects: a PV pre-bound (claimRef by name) to each restored PVC that is not bound yet, so the PV
        controller binds it to that volume as soon as it exists (never to another free one).  Dry run in check mode."""
        for item, entry in self.planned:
            pvc = self._pvc(item.namespace, item.name)
            if pvc is not None and (pvc.get("spec") or {}).get("volumeName"):
                continue
            uid = ((pvc or {}).get("metadata") or {}).get("uid")
            name, exists = self._free_pv_name(item.namespace, item.name, uid)
            if exists:
                continue
            request = ((((item.obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
            body = lv.pv_body(name, self.root, self._target_node(entry),
                              entry.get("capacity") or request or lv.DEFAULT_CAPACITY,
                              claim={"namespace": item.namespace, "name": item.name})
            if not self.check_mode:
                os.makedirs(body["spec"]["local"]["path"], 0o700, exist_ok=True)
            self.client.raw("POST", lv.PV_PATH, {"dryRun": "All"} if self.check_mode else None, body=body)
            self.created_pvs.append(name)

    def _wait_bound(self, namespace, name, timeout=BIND_TIMEOUT):
        """The PV the PVC is bound to (waits, bounded, for the PV controller)."""
        deadline = self.clock() + timeout
        while True:
            pvc = self._pvc(namespace, name)
            volume = ((pvc or {}).get("spec") or {}).get("volumeName")
            if volume and ((pvc or {}).get("status") or {}).get("phase") == "Bound":
                return volume
            if self.clock() >= deadline:
                raise AdharError("PVC %s/%s did not bind to its restored volume within %ds: its data was not restored"
                                 % (namespace, name, timeout), pvc="%s/%s" % (namespace, name))
            self.sleep(0.2)

    def restore(self):
        """After the objects: every planned volume; returns the per-volume results."""
        for item, entry in self.planned:
            if item.action not in ("created", "updated", "recreated", "unchanged") and not (
                    item.action == "skipped" and (item.message or "").startswith("exists")):
                self.results.append(dict(self._ref(entry, item), action="skipped",
                                         message="its PVC was not restored (%s)" % (item.action or "skipped")))
                continue
            self.results.append(self._restore_one(item, entry))
        return self.report()

    @staticmethod
    def _ref(entry, item):
        return {"namespace": item.namespace, "pvc": item.name, "source": "%s/%s" % (entry["namespace"], entry["pvc"])}

    def _restore_one(self, item, entry):
        t = self.clock()
        ref = self._ref(entry, item)
        index_item = entry.get("index") or av.volume_paths(entry["namespace"], entry["pvc"])[1]
        if self.check_mode and self._pvc(item.namespace, item.name) is None:
            return dict(ref, action="would restore", files=entry.get("files"), bytes=entry.get("bytes"),
                        message="the PVC would be created, bound to a new local volume")
        if self.check_mode:
            volume = ((self._pvc(item.namespace, item.name) or {}).get("spec") or {}).get("volumeName")
        else:
            volume = self._wait_bound(item.namespace, item.name)
        pv = lv.get(self.client, "%s/%s" % (lv.PV_PATH, volume)) if volume else None
        path = lv.local_path(pv, self.root)
        if path is None and not self.check_mode:
            raise AdharError("PVC %s/%s is bound to %s, which is not a local volume of this host: its data was not "
                             "restored" % (item.namespace, item.name, volume), pvc="%s/%s" % (item.namespace, item.name))
        wanted = self.reader.read_json(index_item)
        current = av.scan(path) if path else None
        diffs = av.differences(wanted, current)
        if current is not None and not diffs:
            return dict(ref, action="unchanged", path=path, pv=volume, files=wanted["files"], bytes=wanted["bytes"],
                        seconds=round(self.clock() - t, 3))
        if self.check_mode:
            return dict(ref, action="would restore", path=path, pv=volume, files=wanted["files"], bytes=wanted["bytes"],
                        changes=len(diffs) if current is not None else None)
        staging = av.staging_dir(path)
        try:
            got = av.extract(self.reader.iter_chunks(entry["item"]), staging, item=entry["item"])
            mismatch = av.differences(wanted, got)
            if mismatch:
                raise AdharError("volume %s/%s: the extracted files do not match the backup's index (first: %s)"
                                 % (entry["namespace"], entry["pvc"], mismatch[0]["path"]), item=entry["item"])
            av.replace_dir(staging, path, mode=wanted.get("root_mode"))
        except BaseException:
            av.remove_quietly(staging)
            raise
        seconds = self.clock() - t
        return dict(ref, action="restored", path=path, pv=volume, files=got["files"], bytes=got["bytes"],
                    seconds=round(seconds, 3), mb_per_second=_mb_per_second(got["bytes"], seconds))

    def report(self):
        counts = {}
        for r in self.results:
            counts[r["action"]] = counts.get(r["action"], 0) + 1
        return {"volumes": self.results, "counts": counts, "files": sum(r.get("files") or 0 for r in self.results),
                "bytes": sum(r.get("bytes") or 0 for r in self.results),
                "created_pvs": list(self.created_pvs),
                "changed": bool(self.created_pvs) or any(r["action"] in ("restored", "would restore") for r in self.results)}
