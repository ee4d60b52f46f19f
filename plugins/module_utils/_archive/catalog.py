# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listing backups in a storage, and retention.

``list_backups`` reports every backup under the storage root: complete ones
from their manifest, incomplete ones (no manifest, or one that does not
parse) from ``started.json`` and an object listing.

``plan_retention`` is a pure function: given that list it returns what to
delete and why, and what to keep and why.  Its rules, per source cluster:

* the newest complete backup is always kept;
* other complete backups are deleted when they are beyond the ``keep_last``
  newest or older than ``max_age`` (both are limits);
* an incomplete backup is kept while its last write is younger than
  ``incomplete_grace`` (it may still be running) or while a live lock names
  it; older ones are deleted (``delete_incomplete``);
* names in ``protect`` are always kept.

``apply_retention`` deletes what a plan says, the manifest of each backup
first, so a half-deleted backup is never listed as complete.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import re

from ansible_collections.adhar.platform.plugins.module_utils._archive.format import (
    MANIFEST,
    STARTED,
    check_backup_name,
    parse_manifest,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import (
    LOCK_DIR,
    ObjectMissing,
    isotime,
    join_key,
    lock_stale_reason,
    parse_time,
    utcnow,
)

DEFAULT_INCOMPLETE_GRACE = "24h"
_DURATION_RE = re.compile(r"^\s*([0-9]+)\s*([smhdw]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value, option="max_age"):
    """Seconds of a duration: an int is days (like the adhar config's ``retention``), or ``"90m"``, ``"72h"``, ``"30d"``, ``"4w"``, or a timedelta."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise AdharError("%s: %r is not a duration" % (option, value), option=option)
    elif isinstance(value, (int, float)):
        seconds = float(value) * 86400
    else:
        match = _DURATION_RE.match(str(value))
        if not match:
            raise AdharError("%s: %r is not a duration like 30 (days), \"30d\", \"72h\", \"90m\" or \"4w\"" % (option, value),
                             option=option)
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "d"]
    if seconds <= 0:
        raise AdharError("%s must be positive, got %r" % (option, value), option=option)
    return seconds


def _read_json(storage, key):
    try:
        return json.loads(storage.read(key).decode("utf-8"))
    except ObjectMissing:
        return None
    except (UnicodeDecodeError, ValueError):
        return {}


def backup_info(storage, name):
    """What ``list_backups`` reports about one backup."""
    info = {"name": name, "complete": False, "cluster": None, "kubernetes_version": None, "created": None,
            "started": None, "finished": None, "time": None, "counts": {}, "items": 0, "size": 0,
            "encrypted": None, "problem": None, "last_modified": None, "volumes": None}
    try:
        data = storage.read(join_key(name, MANIFEST))
    except ObjectMissing:
        data = None
    if data is not None:
        try:
            manifest = parse_manifest(data, name)
        except AdharError as exc:
            info["problem"] = exc.msg
        else:
            info.update(complete=True, cluster=manifest.get("cluster"), kubernetes_version=manifest.get("kubernetes_version"),
                        created=manifest.get("created"), started=manifest.get("started"), finished=manifest.get("finished"),
                        counts=manifest.get("counts") or {}, items=len(manifest["items"]),
                        size=sum(i["size"] for i in manifest["items"]), encrypted=bool(manifest.get("encryption")))
            info["time"] = info["finished"] or info["started"] or info["created"]
            volumes = (manifest.get("metadata") or {}).get("volumes") if isinstance(manifest.get("metadata"), dict) else None
            if isinstance(volumes, dict) and volumes.get("captured"):
                info["volumes"] = {"count": len(volumes["captured"]), "files": volumes.get("files"),
                                   "bytes": volumes.get("bytes")}
            return info
    else:
        info["problem"] = "no manifest: the backup was interrupted or is still being written"
    started = _read_json(storage, join_key(name, STARTED))
    if isinstance(started, dict):
        info.update(cluster=started.get("cluster"), kubernetes_version=started.get("kubernetes_version"),
                    created=started.get("created"), started=started.get("started"), encrypted=started.get("encrypted"))
    newest = None
    for obj in storage.list(name + "/"):
        if obj.key.rsplit("/", 1)[-1] not in (MANIFEST, STARTED) or obj.key.count("/") > 1:
            info["items"] += 1
        info["size"] += obj.size
        if obj.modified and (newest is None or obj.modified > newest):
            newest = obj.modified
    info["last_modified"] = isotime(newest)
    info["time"] = info["started"] or info["created"] or info["last_modified"]
    return info


def list_backups(storage, cluster=None, workers=8):
    """Every backup in ``storage`` (oldest first), optionally only those of ``cluster``.

    Each entry: name, cluster, kubernetes_version, created, started, finished,
    time, counts (per resource), items, size (stored bytes), complete,
    encrypted, problem (why it is not complete), last_modified (incomplete only).
    """
    names = []
    for name in storage.list_dirs(""):
        if name.startswith("."):
            continue
        try:
            names.append(check_backup_name(name))
        except AdharError:
            continue
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(int(workers), len(names) or 1))) as pool:
        infos = list(pool.map(lambda n: backup_info(storage, n), names))
    if cluster is not None:
        infos = [i for i in infos if i["cluster"] == cluster]
    return sorted(infos, key=lambda i: (i["time"] or "", i["name"]))


def active_backups(storage):
    """Names of backups that a live (not stale) lock in ``storage`` says are being written."""
    names = set()
    for obj in storage.list(LOCK_DIR + "/"):
        if not obj.key.endswith(".lock"):
            continue
        current = storage._lock_read(obj.key)
        if current is None:
            continue
        data, dummy, modified, now = current
        try:
            info = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(info, dict) and info.get("backup") and lock_stale_reason(info, modified, now) is None:
            names.add(info["backup"])
    return names


def _age(now, value):
    when = parse_time(value)
    return None if when is None else (now - when).total_seconds()


def _days(seconds):
    """A readable duration: days from two days on, hours from two hours on, else minutes."""
    if seconds >= 2 * 86400:
        return "%.1f days" % (seconds / 86400.0)
    if seconds >= 2 * 3600:
        return "%.1f hours" % (seconds / 3600.0)
    return "%d minutes" % (seconds // 60)


def plan_retention(backups, keep_last=None, max_age=None, incomplete_grace=DEFAULT_INCOMPLETE_GRACE,
                   delete_incomplete=True, protect=(), now=None):
    """What to delete and what to keep, with reasons (see the module docstring for the rules).

    ``backups`` is what ``list_backups`` returns.  Returns
    ``{"delete": [{"name", "cluster", "reason"}], "keep": [...]}``.
    """
    if keep_last is not None and (isinstance(keep_last, bool) or int(keep_last) < 1):
        raise AdharError("keep_last must be at least 1 (the newest complete backup is always kept), got %r" % (keep_last,),
                         option="keep_last")
    keep_last = None if keep_last is None else int(keep_last)
    max_age = parse_duration(max_age, "max_age")
    grace = parse_duration(incomplete_grace, "incomplete_grace")
    now = parse_time(now) or utcnow()
    protect = set(protect or ())
    keep, delete = [], []

    def decide(entry, to_delete, reason):
        (delete if to_delete else keep).append({"name": entry["name"], "cluster": entry.get("cluster"), "reason": reason})

    by_cluster = {}
    for entry in backups:
        if entry.get("complete"):
            by_cluster.setdefault(entry.get("cluster"), []).append(entry)
    for cluster, entries in by_cluster.items():
        entries.sort(key=lambda e: (e.get("time") or "", e["name"]), reverse=True)
        for index, entry in enumerate(entries):
            age = _age(now, entry.get("time"))
            if entry["name"] in protect:
                decide(entry, False, "protected")
            elif index == 0:
                decide(entry, False, "newest complete backup of cluster %s (always kept)" % cluster)
            elif keep_last is not None and index >= keep_last:
                decide(entry, True, "beyond keep_last=%d (number %d from the newest)" % (keep_last, index + 1))
            elif max_age is not None and age is not None and age > max_age:
                decide(entry, True, "older than max_age (%s old, limit %s)" % (_days(age), _days(max_age)))
            else:
                decide(entry, False, "within retention")
    for entry in backups:
        if entry.get("complete"):
            continue
        age = _age(now, entry.get("last_modified") or entry.get("started") or entry.get("created"))
        if entry["name"] in protect:
            decide(entry, False, "incomplete, in progress (a live lock names it)" if entry.get("locked") else "protected")
        elif age is None or age < grace:
            decide(entry, False, "incomplete, last written %s ago: may still be in progress (grace %s)"
                   % (_days(age or 0), _days(grace)))
        elif not delete_incomplete:
            decide(entry, False, "incomplete (kept: delete_incomplete is off)")
        else:
            decide(entry, True, "incomplete (no manifest), last written %s ago, beyond the grace period of %s"
                   % (_days(age), _days(grace)))
    return {"delete": sorted(delete, key=lambda d: d["name"]), "keep": sorted(keep, key=lambda d: d["name"])}


def apply_retention(storage, plan, dry_run=False):
    """Delete the backups ``plan["delete"]`` names (manifest first); returns ``{"deleted", "failed"}``."""
    deleted, failed = [], []
    for entry in plan.get("delete") or []:
        name = check_backup_name(entry["name"])
        if dry_run:
            deleted.append(name)
            continue
        try:
            storage.delete_prefix(name + "/", first=[join_key(name, MANIFEST)])
        except AdharError as exc:
            failed.append({"name": name, "error": exc.msg})
            continue
        deleted.append(name)
    return {"deleted": deleted, "failed": failed}


def enforce_retention(storage, keep_last=None, max_age=None, incomplete_grace=DEFAULT_INCOMPLETE_GRACE, cluster=None,
                      protect=(), dry_run=False, now=None):
    """List, plan and apply in one call; backups named by live locks are protected.  Returns the plan plus the outcome."""
    backups = list_backups(storage, cluster=cluster)
    active = active_backups(storage)
    for entry in backups:
        entry["locked"] = entry["name"] in active
    plan = plan_retention(backups, keep_last=keep_last, max_age=max_age, incomplete_grace=incomplete_grace,
                          protect=set(protect or ()) | active, now=now)
    outcome = apply_retention(storage, plan, dry_run=dry_run)
    plan.update(outcome)
    return plan
