# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore Kubernetes objects from a backup (the ``adhar.platform.restore`` module's work).

``run_restore(module)`` goes:

1. Pick the backup (a name, or ``latest`` of a source cluster) and open it: the manifest is parsed and,
   with a key, its MAC checked (a wrong key fails here).  A backup without a manifest is refused.
2. Select items by what their paths say (namespaces, resources, cluster scope), then read every selected
   item in parallel: each read checks size and SHA-256 and decrypts.  Any bad item stops the restore
   here, before a single request is made to the target cluster.  Of each object only its outline is kept
   (names, uid, controller owners, the labels the selection reads; ``outline``), never its data.
3. Select objects by labels / application, pull in what an application needs, drop what the cluster makes
   itself or a restored controller recreates.
4. Dependency tiers in order (``restore_sanitize.plan_tiers``: CRDs alone and waited for until Established,
   cluster-wide basics, what namespaced objects need, data, workloads, admission last): per tier one LIST
   per resource type (in parallel), then one POST per new object, every type of the tier on one bounded
   pool; existing objects follow ``existing_resource_policy``.  The tier's objects are read again from the
   backup in chunks of ``APPLY_CHUNK`` (``ObjectLoader``: checked, decrypted, sanitised, namespaces mapped,
   labelled) while the previous chunk is being applied, and dropped once applied, so the memory holds a
   chunk or two of objects however big the backup is.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, list_backups
from ansible_collections.adhar.platform.plugins.module_utils._archive.reader import check_verification
from ansible_collections.adhar.platform.plugins.module_utils._common.args import WORKERS_BOUNDS, above
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_bounds, limit_malloc_arenas
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import key_wrapper_from_params
from ansible_collections.adhar.platform.plugins.module_utils._dr.csi_snapshots import ready_snapshots, with_snapshot_source
from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import APPLY_CONTENT_TYPE, ansible_diff, diff_pair
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import Filters, report_unmatched, selector_text
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Discovery, UnknownKind, split_api_version
from ansible_collections.adhar.platform.plugins.module_utils._k8s.wait import READY, Target, error_text, rule_for, wait_for
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore_sanitize import (
    CRD_KEY,
    DEFAULT_APP_LABEL_KEYS,
    NAMESPACES_KEY,
    LabelSelector,
    add_restore_labels,
    check_namespace_mapping,
    comparable,
    controller_skip_reason,
    map_namespaces,
    plan_order,
    plan_tiers,
    pod_spec_of,
    resource_match,
    sanitize,
    select_app,
    split_key,
    system_skip_reason,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params
from ansible_collections.adhar.platform.plugins.module_utils._dr.volume_data import VolumeRestore

FIELD_MANAGER = "adhar-restore"
COUNT_KEYS = ("created", "updated", "unchanged", "skipped", "recreated", "failed")
CHANGED = frozenset(("created", "updated", "recreated"))
FRESH_CRD_RETRY_SECONDS = 10.0
RECREATE_TIMEOUT = 120.0
NAMESPACE_TERMINATING_TIMEOUT = 600.0
# The allowed range of each numeric option (AdharModule checks them before anything runs; run_restore again).
RESTORE_BOUNDS = {**WORKERS_BOUNDS, "crd_timeout": above(0), "wait_timeout": above(0)}
LIST_PAGE = 500
REPORT_ITEMS = ("summary", "changed", "all", "failed")
SAMPLE = 5  # example names per skip reason
LISTED = 20  # failures (and workloads not ready) listed in full with report_items=summary
APPLY_CHUNK = 1000  # objects of a tier read, decoded and applied together (a backup's objects are never all in memory)
ROLEBINDINGS_KEY = "rolebindings.rbac.authorization.k8s.io"


def restore_name(backup, now=None):
    now = now or datetime.now(timezone.utc)
    return "%s-restore-%s" % (backup, now.strftime("%Y%m%d%H%M%S"))


class Item:
    """One object of the restore."""

    __slots__ = ("key", "src_namespace", "name", "obj", "resource", "namespace", "action", "message", "live", "diff",
                 "record", "api_version", "kind")

    def __init__(self, key, src_namespace, name, obj, record=None):
        self.key = key
        self.src_namespace = src_namespace
        self.name = name
        self.obj = obj
        self.record = record  # the backup's manifest record: the object is read from it when its tier is applied
        self.api_version = (obj or {}).get("apiVersion")
        self.kind = (obj or {}).get("kind")
        self.resource = None
        self.namespace = None
        self.action = None
        self.message = None
        self.live = None
        self.diff = None

    def result(self):
        out = {"resource": self.key, "namespace": self.namespace, "name": self.name, "action": self.action}
        if self.message:
            out["message"] = self.message
        return out

    def label(self):
        return "%s %s%s" % (self.key, self.namespace + "/" if self.namespace else "", self.name)


# --------------------------------------------------------------------------- selection (no cluster access)

def choose_backup(storage, backup, cluster):
    if backup != "latest":
        return backup
    if not cluster:
        raise AdharError("backup=latest needs cluster: the name of the source cluster whose newest complete backup "
                         "to restore", option="cluster")
    complete = [b for b in list_backups(storage, cluster=cluster) if b["complete"]]
    if not complete:
        raise AdharError("no complete backup of cluster %s in %s" % (cluster, storage.location), option="backup")
    return complete[-1]["name"]


class Selection:
    """Which items of a backup a restore takes, from the filter options."""

    def __init__(self, params):
        # Velero's namespace, resource and cluster-scope rules are the backup's (one Filters for both modules)
        self.filters = Filters(include_namespaces=params.get("include_namespaces"),
                               exclude_namespaces=params.get("exclude_namespaces"),
                               include_resources=params.get("include_resources"),
                               exclude_resources=params.get("exclude_resources"),
                               include_cluster_resources=params.get("include_cluster_resources"))
        self.selector = LabelSelector(params.get("label_selector"))
        self.app = params.get("app")
        self.app_keys = list(params.get("app_label_keys") or DEFAULT_APP_LABEL_KEYS)

    def namespace_ok(self, ns):
        return self.filters.namespace_ok(ns)

    def resource_ok(self, key):
        """Like ``Filters.resource_included``, for the ``<resource>[.<group>]`` keys of archive items."""
        if self.filters.include_resources != ["*"] and not resource_match(key, self.filters.include_resources):
            return False
        return not resource_match(key, self.filters.exclude_resources)

    def cluster_mode(self):
        """``all``, ``none`` or ``related`` (CRDs of restored custom resources, PVs of restored claims)."""
        return self.filters.cluster_mode()

    def label_keys(self):
        """The label keys the selection reads (of the label selector, and of ``app``)."""
        keys = {term[0] for term in self.selector.terms}
        if self.app:
            keys.update(self.app_keys)
        return keys

    def path_ok(self, record):
        """Whether an archive item is read at all (its objects are filtered again once read)."""
        return self.names_ok(record.get("resource"), record.get("namespace"), record.get("name"))

    def names_ok(self, key, ns, name):
        """``path_ok`` for an item's resource key, namespace and name."""
        if not key or not name:
            return False
        if key == NAMESPACES_KEY:
            return self.namespace_ok(name)
        if ns:
            return self.namespace_ok(ns) and self.resource_ok(key)
        if not self.resource_ok(key):
            return False
        return self.cluster_mode() == "all" or (self.cluster_mode() == "related" and key in (CRD_KEY, "persistentvolumes"))


def select_objects(entries, selection):
    """From ``{(key, ns, name): obj}`` (path-filtered), the entries restored and the reason each other one is not.

    Returns ``(chosen, pulled_in)``: sets of entry keys.  Namespaces of chosen namespaced objects are chosen
    too; with cluster mode ``related`` only the CRDs of chosen custom resources and the PVs of chosen claims.
    """
    plain = {k: v for k, v in entries.items() if k[0] != NAMESPACES_KEY}
    pulled = set()
    if selection.app:
        chosen, pulled = select_app(plain, selection.app, selection.app_keys)
    else:
        chosen = set(plain)
    if selection.selector:
        chosen = {k for k in chosen if selection.selector.matches(((plain[k].get("metadata") or {}).get("labels")))}
    mode = selection.cluster_mode()
    if mode != "all":
        crds = {}
        for k, obj in plain.items():
            if k[0] == CRD_KEY:
                spec = obj.get("spec") or {}
                crds[(spec.get("group"), (spec.get("names") or {}).get("plural"))] = k
        namespaced = chosen | pulled
        wanted = set()
        for k in namespaced:
            plural, group = split_key(k[0])
            if (group, plural) in crds and mode == "related":
                wanted.add(crds[(group, plural)])
        claims = {(k[1], k[2]) for k in namespaced if k[0] == "persistentvolumeclaims"}
        for k, obj in plain.items():
            ref = (obj.get("spec") or {}).get("claimRef") or {}
            if k[0] == "persistentvolumes" and mode == "related" and (ref.get("namespace"), ref.get("name")) in claims:
                wanted.add(k)
        pulled = {k for k in pulled if k[1]} | (wanted - chosen)
        chosen = {k for k in chosen if k[1]} | (wanted & chosen)
    namespaces = {k[1] for k in chosen | pulled if k[1]}
    if not selection.app:  # empty namespaces too, when they match
        namespaces |= {k[2] for k in entries if k[0] == NAMESPACES_KEY
                       and selection.selector.matches(((entries[k].get("metadata") or {}).get("labels")))}
    for ns in namespaces:
        key = (NAMESPACES_KEY, None, ns)
        if key not in entries:
            entries[key] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        chosen.add(key)
    return chosen, pulled


def _shared(text):
    """One string object for every equal apiVersion or kind (tens of thousands of outlines hold the same few)."""
    return sys.intern(text) if isinstance(text, str) else text


class Outline(Mapping):
    """An ``outline``: read like the small dict it stands for (``get``, ``[]``, ``in``, ``==``), held in a few
    slots (apiVersion, kind, uid, the rest of ``metadata`` and of the top level only when there is any).  A
    restore of tens of thousands of objects holds one per object while it plans; ``metadata`` is made afresh on
    each read (nobody writes into an outline)."""

    __slots__ = ("_api_version", "_kind", "_uid", "_meta", "_rest")

    def __init__(self, api_version, kind, uid, meta=None, rest=None):
        self._api_version, self._kind, self._uid = api_version, kind, uid
        self._meta, self._rest = meta or None, rest or None

    def __getitem__(self, key):
        if key == "apiVersion":
            return self._api_version
        if key == "kind":
            return self._kind
        if key == "metadata":
            return dict(self._meta, uid=self._uid) if self._meta else {"uid": self._uid}
        if self._rest is not None and key in self._rest:
            return self._rest[key]
        raise KeyError(key)

    def __iter__(self):
        yield "apiVersion"
        yield "kind"
        yield "metadata"
        yield from self._rest or ()

    def __len__(self):
        return 3 + len(self._rest or ())

    def __repr__(self):
        return "Outline(%r)" % (dict(self),)


def outline(key, obj, selection):
    """What ``select_objects`` and ``build_items`` read of an object, without its data (an ``Outline``): apiVersion,
    kind, uid, controller owners, the labels ``selection`` reads, and the few fields the selection follows (a CRD's
    group and plural, a PV's claim, a Service's selector, an Endpoints' name; with ``app``, the pod spec of an
    application's workload and a RoleBinding's subjects and role).  Its name and namespace are the entry's key."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    small = {}
    if key == "endpoints":  # left to the endpoints controller of a Service of the same name
        small["name"], small["namespace"] = meta.get("name"), meta.get("namespace")
    wanted = {k: labels[k] for k in selection.label_keys() if k in labels}
    if wanted:
        small["labels"] = wanted
    owners = [{"controller": True, "uid": r.get("uid"), "kind": _shared(r.get("kind"))}
              for r in meta.get("ownerReferences") or [] if isinstance(r, dict) and r.get("controller")]
    if owners:
        small["ownerReferences"] = owners
    out = {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if key == CRD_KEY:
        out["spec"] = {"group": spec.get("group"), "names": {"plural": (spec.get("names") or {}).get("plural")}}
    elif key == "persistentvolumes":
        out["spec"] = {"claimRef": spec.get("claimRef")}
    elif key == "services":
        out["spec"] = {"selector": spec.get("selector")}
    elif selection.app and pod_spec_of(obj, key) and any(labels.get(k) == selection.app for k in selection.app_keys):
        out["spec"] = spec  # what its pods refer to is pulled in
    if selection.app and key == ROLEBINDINGS_KEY:
        out["subjects"], out["roleRef"] = obj.get("subjects"), obj.get("roleRef")
    return Outline(_shared(obj.get("apiVersion")), _shared(obj.get("kind")), meta.get("uid"), small, out)


# --------------------------------------------------------------------------- the restore

class Restore:
    """One restore run against one ``K8sClient``."""

    def __init__(self, client, *, backup, name, policy="none", workers=16, check_mode=False, diff=False,
                 crd_timeout=60.0, continue_on_error=False, wait=False, wait_timeout=300.0, planned_crds=(),
                 clock=time.monotonic, loader=None):
        if workers < 1:
            raise AdharError("workers must be at least 1", option="workers")
        self.client = client
        self.backup = backup
        self.name = name
        self.policy = policy
        self.workers = int(workers)
        self.check_mode = bool(check_mode)
        self.diff = bool(diff)
        self.crd_timeout = float(crd_timeout)
        self.continue_on_error = bool(continue_on_error)
        self.wait = bool(wait)
        self.wait_timeout = float(wait_timeout)
        self.clock = clock
        self.planned_crds = list(planned_crds)  # specs of the CRDs this restore creates (check mode)
        # loader(items): reads the objects of items planned without them (a restore from a backup, ``ObjectLoader``);
        # with it each tier is applied in chunks and an object is dropped once applied
        self.loader = loader
        self.discovery = Discovery(client)
        self.stages = []
        self.warnings = []
        self.created_namespaces = set()
        self.fresh_api_versions = set()
        self._pool = None

    # -- requests

    def _query(self, extra=None):
        query = {"fieldManager": FIELD_MANAGER}
        if self.check_mode:
            query["dryRun"] = "All"
        query.update(extra or {})
        return query

    @staticmethod
    def _message(status, data):
        msg = data.get("message") if isinstance(data, dict) else data
        reason = data.get("reason") if isinstance(data, dict) else ""
        return " ".join(("HTTP %s %s: %s" % (status, reason or "", msg)).split())

    def _list_existing(self, resource, items):
        """``{(namespace, name): obj}`` of the stage's objects that exist (one paginated LIST, or one per namespace
        when listing across namespaces is forbidden).  Namespaces created by this restore are not listed."""
        wanted = {(i.namespace, i.name) for i in items}
        namespaces = sorted({i.namespace for i in items if i.namespace})
        if resource.namespaced and namespaces and all(ns in self.created_namespaces for ns in namespaces):
            return {}
        scopes = [None]
        if resource.namespaced and len(namespaces) <= 3:
            scopes = namespaces
        found = {}
        for scope in scopes:
            cont = None
            while True:
                query = {"limit": LIST_PAGE}
                if cont:
                    query["continue"] = cont
                status, data = self.client.raw("GET", resource.path(scope), query=query, raise_for_status=False)
                if status in (401, 403) and scope is None and resource.namespaced:
                    return self._list_per_namespace(resource, namespaces, wanted)
                if status == 404:
                    break
                if not 200 <= status <= 299:
                    raise AdharError("listing %s failed: %s" % (resource.path(scope), self._message(status, data)))
                for obj in (data or {}).get("items") or []:
                    meta = obj.get("metadata") or {}
                    k = (meta.get("namespace") if resource.namespaced else None, meta.get("name"))
                    if k in wanted:
                        obj.setdefault("apiVersion", resource.api_version)
                        obj.setdefault("kind", resource.kind)
                        found[k] = obj
                cont = ((data or {}).get("metadata") or {}).get("continue")
                if not cont:
                    break
        return found

    def _list_per_namespace(self, resource, namespaces, wanted):
        found = {}
        for ns in namespaces:
            status, data = self.client.raw("GET", resource.path(ns), raise_for_status=False)
            if not 200 <= status <= 299:
                continue
            for obj in (data or {}).get("items") or []:
                k = (ns, (obj.get("metadata") or {}).get("name"))
                if k in wanted:
                    found[k] = obj
        return found

    def _get(self, item):
        status, data = self.client.raw("GET", item.resource.path(item.namespace, item.name), raise_for_status=False)
        if status == 404:
            return None
        if not 200 <= status <= 299:
            raise AdharError("GET failed: %s" % self._message(status, data))
        return data

    def _create(self, item):
        """POST; returns True when created, False on 409 (it exists)."""
        path = item.resource.path(item.namespace)
        body = item.obj  # serialised by the client (application/json)
        with_status = bool(item.obj.get("status")) and not self.check_mode
        deadline = self.clock() + FRESH_CRD_RETRY_SECONDS
        while True:
            # the created object is decoded only when its status is to be written (an error answer always is)
            status, data = self.client.raw("POST", path, query=self._query(), body=body, raise_for_status=False,
                                           decode=with_status)
            if status == 404 and item.resource.api_version in self.fresh_api_versions and self.clock() < deadline:
                time.sleep(0.2)  # a custom resource right after its CRD became Established
                continue
            break
        if status == 409:
            return False
        if not 200 <= status <= 299:
            raise AdharError(self._message(status, data))
        if with_status and isinstance(data, dict):
            self._restore_status(item, data)
        return True

    def _restore_status(self, item, created):
        """``restore_status``: the API server ignores ``status`` on create; write it through the status subresource."""
        body = dict(created, status=item.obj["status"])
        status, data = self.client.raw("PUT", item.resource.path(item.namespace, item.name) + "/status",
                                       query={"fieldManager": FIELD_MANAGER}, body=body, raise_for_status=False)
        if status in (404, 405):
            return  # no status subresource: the status was stored with the object
        if not 200 <= status <= 299:
            raise AdharError("created, but its status was not restored: %s" % self._message(status, data))

    def _apply(self, item):
        path = item.resource.path(item.namespace, item.name)
        status, data = self.client.raw("PATCH", path, query=self._query({"force": "true"}), body=json.dumps(item.obj),
                                       headers={"Content-Type": APPLY_CONTENT_TYPE}, raise_for_status=False)
        if not 200 <= status <= 299:
            raise AdharError(self._message(status, data))
        return data

    def _recreate(self, item):
        path = item.resource.path(item.namespace, item.name)
        old_uid = ((item.live or {}).get("metadata") or {}).get("uid")
        status, data = self.client.raw("DELETE", path, query=self._query({"propagationPolicy": "Foreground"}),
                                       raise_for_status=False)
        if status not in (404,) and not 200 <= status <= 299:
            raise AdharError("delete failed: %s" % self._message(status, data))
        if self.check_mode:
            return
        deadline = self.clock() + RECREATE_TIMEOUT
        while True:
            live = self._get(item)
            if live is None or (live.get("metadata") or {}).get("uid") != old_uid:
                break
            if self.clock() > deadline:
                raise AdharError("still not deleted after %ds (finalizers: %s)"
                                 % (RECREATE_TIMEOUT, (live.get("metadata") or {}).get("finalizers")))
            time.sleep(0.2)
        if not self._create(item):
            raise AdharError("recreated by someone else while it was being deleted")

    # -- one object

    def _restore_one(self, item):
        try:
            if self._shortcut(item):
                return
            if item.live is None:
                if self._create(item):
                    item.action = "created"
                    return
                item.live = self._get(item)
                if item.live is None:  # deleted in between
                    if not self._create(item):
                        raise AdharError("it keeps appearing and disappearing")
                    item.action = "created"
                    return
            self._existing(item)
        except Exception as exc:  # one object's failure is reported on it
            item.action = "failed"
            item.message = error_text(exc) if not isinstance(exc, AdharError) else exc.msg

    def _shortcut(self, item):
        """Check mode: objects in a namespace this restore would create are reported without a request."""
        if self.check_mode and item.namespace and item.namespace in self.created_namespaces:
            item.action = "created"
            item.message = "not validated: its Namespace is created by this restore"
            return True
        if self.check_mode and item.resource is None:
            item.action = "created"
            item.message = "not validated: its CustomResourceDefinition is created by this restore"
            return True
        return False

    def _existing(self, item):
        if item.key == NAMESPACES_KEY and ((item.live or {}).get("metadata") or {}).get("deletionTimestamp"):
            self._wait_terminated(item)
            return
        if same_object(item.key, item.obj, item.live):
            item.action = "unchanged"
            return
        policy = self.policy
        if policy == "recreate" and item.key == NAMESPACES_KEY:
            policy = "update"  # deleting a Namespace would delete everything in it
        if policy == "none":
            item.action = "skipped"
            item.message = "exists and differs (existing_resource_policy=none)"
            return
        if self.diff:
            item.diff = diff_pair(item.live, item.obj)
        if policy == "update":
            self._apply(item)
            item.action = "updated"
        else:
            self._recreate(item)
            item.action = "recreated"

    def _wait_terminated(self, item):
        """A Namespace found terminating when it was about to be created: wait until it is gone, then create it."""
        if self.check_mode:
            item.action, item.message = "created", "not validated: the Namespace is still terminating"
            return
        self._wait_namespaces_gone([item])
        if item.action == "failed":
            raise AdharError(item.message)
        if not self._create(item):
            raise AdharError("created by someone else while the old one was terminating")
        item.action = "created"

    def _wait_namespaces_gone(self, items):
        """Namespaces still terminating (Velero waits for them too): one LIST + WATCH for all of them
        (``_k8s.wait.wait_for`` with ``deleted``), never a poll per Namespace; the gone ones are then created like any
        other object, the others fail after ``NAMESPACE_TERMINATING_TIMEOUT``."""
        if not items or self.check_mode:
            return
        targets = [Target(i.resource, None, i.name) for i in items]
        wait_for(self.client, targets, NAMESPACE_TERMINATING_TIMEOUT, deleted=True, clock=self.clock)
        for item, target in zip(items, targets):
            if target.state == READY:
                item.live, item.message = None, "waited for the old Namespace to finish terminating"
            else:
                item.action = "failed"
                item.message = "the Namespace is still terminating after %ds: %s" % (NAMESPACE_TERMINATING_TIMEOUT,
                                                                                     target.message)

    # -- stages

    def run(self, items, tiers):
        """Restore ``items`` (resolved later per tier) tier by tier; results are on the items.

        ``tiers``: ``plan_tiers`` output, ``[(name, [resource keys])]`` (a bare key is a tier of its own).
        """
        by_key = {}
        for item in items:
            by_key.setdefault(item.key, []).append(item)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="adhar-restore")
        stopped = False
        try:
            for tier in tiers:
                name, keys = (tier, [tier]) if isinstance(tier, str) else tier
                batch = [i for k in keys for i in by_key.get(k, []) if i.action is None]
                if not batch:
                    continue
                if stopped:
                    for i in batch:
                        i.action, i.message = "skipped", "not attempted: an earlier stage failed"
                    continue
                self._tier(name, keys, batch)
                if any(i.action == "failed" for i in batch) and not self.continue_on_error:
                    stopped = True
        finally:
            self._pool.shutdown(wait=True)

    def _resolve(self, batch):
        todo = {(i.api_version, i.kind) for i in batch}
        self.discovery.prefetch({a for a, dummy in todo if a}, self._pool)
        for item in batch:
            try:
                item.resource = self.discovery.lookup(item.api_version, item.kind)
            except UnknownKind as exc:
                if self.check_mode and self._crd_in_restore(item):
                    continue
                item.action, item.message = "failed", "the target cluster does not serve it: %s" % exc.msg
            except AdharError as exc:
                item.action, item.message = "failed", exc.msg

    def _crd_in_restore(self, item):
        group = split_api_version(item.api_version)[0]
        return any(s.get("group") == group for s in self.planned_crds)

    def _tier(self, name, keys, batch):
        """One tier: resolve, one LIST per resource type (in parallel), then every object of the tier on the
        shared pool, the types interleaved so slow ones (Services) overlap fast ones."""
        start = self.clock()
        self._resolve(batch)
        live_items = [i for i in batch if i.action is None and i.resource is not None]
        self._scoped(live_items)
        groups = {}
        for item in live_items:
            groups.setdefault(item.resource, []).append(item)

        def listing(pair):
            resource, group = pair
            try:
                return group, self._list_existing(resource, group), None
            except Exception as exc:  # the type cannot tell what exists: every object of it fails
                return group, None, exc

        t = self.clock()
        for group, existing, exc in self._pool.map(listing, list(groups.items())):
            for item in group:
                if exc is not None:
                    item.action, item.message = "failed", error_text(exc)
                else:
                    item.live = existing.get((item.namespace, item.name))
        list_seconds = self.clock() - t
        if NAMESPACES_KEY in keys:
            self._wait_namespaces_gone([i for i in batch if i.key == NAMESPACES_KEY and i.action is None
                                        and ((i.live or {}).get("metadata") or {}).get("deletionTimestamp")])
        todo = [i for i in batch if i.action is None]
        if self.loader is None:
            list(self._pool.map(self._restore_one, interleave(keys, todo)))
        else:
            self._apply_chunks(keys, todo)
        if NAMESPACES_KEY in keys:
            self.created_namespaces |= {i.name for i in batch if i.action == "created" and i.key == NAMESPACES_KEY}
        if CRD_KEY in keys:
            self._settle_crds([i for i in batch if i.key == CRD_KEY])
        counts, per_resource = {}, {}
        for item in batch:
            counts[item.action] = counts.get(item.action, 0) + 1
            mine = per_resource.setdefault(item.key, {})
            mine[item.action] = mine.get(item.action, 0) + 1
        self.stages.append({"name": name, "resources": [k for k in keys if k in per_resource], "count": len(batch),
                            "counts": counts, "resource_counts": per_resource,
                            "list_seconds": round(list_seconds, 3), "seconds": round(self.clock() - start, 3)})

    @staticmethod
    def _scoped(items):
        """The namespace of items whose resource is known: their object's (namespaced), or none (its object's dropped)."""
        for item in items:
            if item.obj is None:
                if not item.resource.namespaced:
                    item.namespace = None
                continue
            item.namespace = item.obj["metadata"].get("namespace") if item.resource.namespaced else None
            if not item.resource.namespaced:
                item.obj["metadata"].pop("namespace", None)

    def _apply_chunks(self, keys, todo):
        """Apply ``todo`` (a tier's items, objects not read yet) chunk by chunk: each chunk is read by ``loader`` while
        the one before is being applied, and its objects (and the live ones listed for it) are dropped once applied.
        CRDs and items with a diff keep their object (the CRDs are waited for after the tier, diffs go in the result)."""
        running = None
        for chunk in chunked(keys, todo, APPLY_CHUNK):
            self.loader(chunk)
            ready = [i for i in chunk if i.action is None]
            self._scoped([i for i in ready if i.resource is not None])
            futures = [self._pool.submit(self._restore_one, i) for i in ready]
            if running is not None:
                self._finish(*running)
            running = (chunk, futures)
        if running is not None:
            self._finish(*running)

    @staticmethod
    def _finish(chunk, futures):
        for future in futures:
            future.result()
        for item in chunk:
            item.live = None
            if item.key != CRD_KEY and item.diff is None:
                item.obj = None

    def _settle_crds(self, batch):
        """Wait until the restored CRDs are Established (``crd_timeout``), then teach discovery their resources."""
        ok = [i for i in batch if i.action in ("created", "updated", "recreated", "unchanged")]
        for item in ok:
            spec = item.obj.get("spec") or {}
            self.discovery.seed_crd(item.obj)
            for v in spec.get("versions") or []:
                self.fresh_api_versions.add("%s/%s" % (spec.get("group"), v.get("name")))
        if self.check_mode or not ok:
            return
        targets = [Target(i.resource, None, i.name, rule_for(i.resource)) for i in ok]
        wait_for(self.client, targets, self.crd_timeout, clock=self.clock)
        for item, target in zip(ok, targets):
            if target.state != "ready":
                item.action = "failed"
                item.message = "not Established after %ss: %s" % (self.crd_timeout, target.message)
        self.discovery.forget_refresh(self.fresh_api_versions)

    def compare(self, items):
        """After ``run``: ``{id(item): "equal" | "differs" | "missing"}`` for the items sent to the cluster (those with
        a resolved resource), the object in the cluster compared with the wanted one as ``unchanged`` is decided
        (``same_object``); one LIST per resource, in parallel.  An item whose resource cannot be listed is absent."""
        groups = {}
        for item in items:
            if item.resource is not None:
                groups.setdefault(item.resource, []).append(item)
        self.created_namespaces = set()  # everything is listed again
        out = {}

        def listing(pair):
            resource, group = pair
            try:
                return group, self._list_existing(resource, group)
            except AdharError:
                return group, None

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(groups) or 1))) as pool:
            for group, existing in pool.map(listing, list(groups.items())):
                for item in group if existing is not None else ():
                    live = existing.get((item.namespace, item.name))
                    out[id(item)] = "missing" if live is None else (
                        "equal" if same_object(item.key, item.obj, live) else "differs")
        return out

    def wait_ready(self, items, actions=CHANGED):
        """Wait (``wait_timeout``) for the workloads among ``items`` whose action is one of ``actions`` to be ready."""
        targets = []
        for item in items:
            if item.action in actions and item.resource is not None:
                rule = rule_for(item.resource)
                if rule is not None and item.key != CRD_KEY:
                    targets.append((item, Target(item.resource, item.namespace, item.name, rule)))
        if not targets:
            return {"waited": 0, "ready": 0, "not_ready": []}
        wait_for(self.client, [t for dummy, t in targets], self.wait_timeout, clock=self.clock)
        bad = ["%s: %s" % (i.label(), t.message) for i, t in targets if t.state != "ready"]
        return {"waited": len(targets), "ready": len(targets) - len(bad), "not_ready": bad}


def same_object(key, wanted, live):
    """True when ``live`` (an object read from a cluster) equals ``wanted`` (sanitised), both made ``comparable``."""
    want = comparable(key, wanted)
    return comparable(key, live, like=want) == want


def chunked(keys, items, size):
    """``items`` in chunks of about ``size``, each taking the same share of every resource type (in ``keys`` order,
    interleaved), so the slow types run alongside the fast ones in every chunk and each type's share of a chunk is
    a contiguous run of its items (of few packs of the backup)."""
    queues = [q for q in ([i for i in items if i.key == k] for k in keys) if q]
    total = sum(len(q) for q in queues)
    count = max(1, -(-total // size))
    for n in range(count):
        part = [i for q in queues for i in q[n * len(q) // count:(n + 1) * len(q) // count]]
        if part:
            yield interleave(keys, part)


def interleave(keys, items):
    """``items`` with their resource types taken in turn (round robin, in ``keys`` order), so a tier's slow type
    starts at once and runs alongside the fast ones instead of after them."""
    queues = [[i for i in items if i.key == k] for k in keys]
    out = []
    for column in range(max((len(q) for q in queues), default=0)):
        out.extend(q[column] for q in queues if column < len(q))
    return out


# --------------------------------------------------------------------------- module entry

def _failed_verification(reader, problems, selected):
    """The one error for bad items (``problems``: ``[(path, AdharError)]``) of the ``selected`` ones."""
    problems.sort(key=lambda p: p[0])
    path, exc = problems[0]
    return AdharError("backup %s failed verification, nothing was restored: %d of %d selected items are bad; first: %s"
                      % (reader.name, len(problems), selected, exc.msg),
                      backup=reader.name, item=path, bad_items=[p for p, dummy in problems[:50]])


def _skip_summary(skipped):
    """``[{reason, count, examples}]`` for the skipped items, biggest first, at most ``SAMPLE`` examples each."""
    groups = {}
    for item in skipped:
        group = groups.setdefault(item.message or "skipped", [0, []])
        group[0] += 1
        if len(group[1]) < SAMPLE:
            group[1].append(item.label())
    return sorted(({"reason": r, "count": n, "examples": examples} for r, (n, examples) in groups.items()),
                  key=lambda g: (-g["count"], g["reason"]))


def _resource_counts(items):
    """``{resource: {outcome: objects}}`` over every item (those skipped before any request included)."""
    out = {}
    for item in items:
        mine = out.setdefault(item.key, {})
        action = item.action or "skipped"
        mine[action] = mine.get(action, 0) + 1
    return out


def resource_records(reader):
    """``(resource key, namespace, name, manifest record)`` of the backup's resource items, nothing copied."""
    for info, record in reader.records("resources"):
        yield _names(info, record) + (record,)


def _names(info, record):
    """``(resource key, namespace, name)`` of a resource item: its record's own (a shortened path), else its path's."""
    return (sys.intern(record["resource"]) if "resource" in record else info.get("resource"),
            sys.intern(record["namespace"]) if "namespace" in record else info.get("namespace"),
            record["name"] if "name" in record else info.get("name"))


def unmatched_in_backup(records, selection, backup, strict):
    """Warnings (or, with ``strict``, an error) for include filters that match nothing in the backup's items
    (``records``: dicts with ``resource``, ``namespace`` and ``name``)."""
    namespaces, keys = set(), set()
    for r in records:
        if r.get("namespace"):
            namespaces.add(r["namespace"])
        if r.get("resource") == NAMESPACES_KEY and r.get("name"):
            namespaces.add(r["name"])
        if r.get("resource"):
            keys.add(r["resource"])
    unmatched = {}
    missing = selection.filters.unmatched_namespaces(namespaces)
    if missing:
        unmatched["include_namespaces"] = missing
    if selection.filters.include_resources != ["*"]:
        missing = [e for e in selection.filters.include_resources if not any(resource_match(k, [e]) for k in keys)]
        if missing:
            unmatched["include_resources"] = missing
    return report_unmatched(unmatched, "backup %s" % backup, strict)


def plan_items(reader, params, workers, key_given=True):
    """Verify, select, skip and map with no cluster access: ``(items, tiers, timings, loader)``.

    Every selected item is read and checked here (size, SHA-256, decryption), and a bad one stops the restore
    before anything is sent to a cluster; of each object only its ``outline`` is kept.  The items to restore
    carry their manifest record: ``loader`` (an ``ObjectLoader``, for ``Restore``) reads their objects again
    when their tier is applied."""
    selection = Selection(params)
    mapping = check_namespace_mapping(params.get("namespace_mapping"))
    records = {}
    for key, ns, name, record in resource_records(reader):
        if selection.names_ok(key, ns, name):
            records[(key, ns if key != NAMESPACES_KEY else None, name)] = record
    encrypted = [r for r in records.values() if r.get("encrypted")]
    if encrypted and not key_given:
        raise AdharError("backup %s: %d of the %d selected items are encrypted (first: %s) and only verify_key was given: "
                         "give encryption to restore them, or leave them out (exclude_resources); nothing was restored"
                         % (reader.name, len(encrypted), len(records), encrypted[0]["path"]), option="encryption",
                         backup=reader.name, item=encrypted[0]["path"])
    del encrypted
    t = time.monotonic()
    entries, reasons, problems = {}, {}, []
    by_path = {record["path"]: k for k, record in records.items()}
    for record, data, exc in reader.read_many(list(records.values()), workers):
        k = by_path[record["path"]]
        try:
            if exc is not None:
                raise exc
            obj = reader.parse_json(record["path"], data)
            if not isinstance(obj, dict):
                raise AdharError("item %s of backup %s is not an object" % (record["path"], reader.name),
                                 item=record["path"])
        except AdharError as err:
            problems.append((record["path"], err))
            continue
        reason = system_skip_reason(k[0], obj)
        if reason:
            reasons[k] = reason
        entries[k] = outline(k[0], obj, selection)
    del by_path
    if problems:
        raise _failed_verification(reader, problems, len(records))
    read_seconds = time.monotonic() - t
    chosen, pulled = select_objects(entries, selection)
    chosen |= pulled  # in place: no third set of every key
    items, tiers = build_items(entries, chosen, params, reader.name, mapping, reasons=reasons, records=records)
    del chosen
    loader = ObjectLoader(reader, params, mapping, workers)
    return items, tiers, {"read": round(read_seconds, 3), "selected_items": len(records), "pulled_in": len(pulled)}, loader


class ObjectLoader:
    """Reads the objects of items planned by ``plan_items`` when ``Restore`` applies them: each is read from the
    backup again (size and SHA-256 checked again, decrypted), decoded, sanitised, mapped and labelled like
    ``build_items`` does; a PVC with a ready VolumeSnapshot in ``snapshots`` gets it as its data source.  An item
    that cannot be read now (the backup changed since it was verified) fails."""

    def __init__(self, reader, params, mapping, workers, snapshots=None):
        self.reader = reader
        self.params = params
        self.mapping = mapping
        self.workers = workers
        self.snapshots = dict(snapshots or {})

    def __call__(self, items):
        todo = {i.record["path"]: i for i in items if i.obj is None and i.record is not None and i.action is None}
        if not todo:
            return
        records = [i.record for i in todo.values()]
        for record, data, exc in self.reader.read_many(records, self.workers, whole_packs=True):
            item = todo[record["path"]]
            try:
                if exc is not None:
                    raise exc
                obj = self.reader.parse_json(record["path"], data)
                if not isinstance(obj, dict):
                    raise AdharError("item %s is not an object" % record["path"])
            except AdharError as err:
                item.action, item.message = "failed", "read again from the backup to be applied: %s" % err.msg
                continue
            obj = prepare_object(item.key, obj, self.params, self.reader.name, self.mapping, copy=False)
            snapshot = self.snapshots.get((item.src_namespace, item.name)) if item.key == "persistentvolumeclaims" else None
            item.obj = with_snapshot_source(obj, snapshot) if snapshot else obj


def prepare_object(key, obj, params, source, mapping, copy=True):
    """A backed-up object as it is sent: sanitised, namespaces mapped, labelled (``build_items``); ``copy=False``
    changes ``obj`` itself (the loader's, decoded for this alone)."""
    obj = sanitize(key, obj, params.get("restore_status") or False, params.get("preserve_node_ports"), copy=copy)
    map_namespaces(key, obj, mapping)
    add_restore_labels(obj, source, params["name"])
    return obj


def build_items(entries, keys, params, source, mapping, owner_uids=(), reasons=None, records=None):
    """``(items, tiers)`` for the entry ``keys`` of ``entries`` (``{(key, namespace, name): obj}``): what the cluster
    makes itself or a restored controller recreates is skipped, the rest sanitised, mapped (``mapping``, checked) and
    labelled (``source``: the backup label's value, ``params["name"]``: the restore label's).  No cluster access.

    ``owner_uids``: uids of objects restored by other runs of the same operation (their controlled objects are
    left to them too).  ``records`` (``{entry key: manifest record}``): those entries are ``outline`` s; their
    items keep the record and no object (``ObjectLoader`` reads and prepares it), and ``reasons``
    (``{entry key: system_skip_reason}``, computed on the whole objects) says which are the cluster's."""
    items = []
    uids = dict.fromkeys(owner_uids)
    records = records or {}
    for k in sorted(keys, key=lambda e: (e[0], e[1] or "", e[2])):
        obj = entries[k]
        item = Item(k[0], k[1], k[2], obj, records.get(k))
        item.namespace = mapping.get(k[1], k[1]) if k[1] else None
        items.append(item)
        reason = reasons.get(k) if item.record is not None else system_skip_reason(k[0], obj)
        if reason:
            item.action, item.message = "skipped", reason
        else:
            uid = (obj.get("metadata") or {}).get("uid")
            if uid:
                uids[uid] = k
    services = {(k[1], k[2]) for k in keys if k[0] == "services" and (entries[k].get("spec") or {}).get("selector")}
    seen = {}
    for item in items:
        if item.action is None:
            reason = controller_skip_reason(item.key, item.obj, uids, services)
            if reason:
                item.action, item.message = "skipped", reason
                continue
            if not item.api_version or not item.kind:
                item.action, item.message = "failed", "the backed-up object has no apiVersion or kind"
                continue
            if item.record is None:
                item.obj = prepare_object(item.key, item.obj, params, source, mapping)
                if item.key == NAMESPACES_KEY:
                    item.name = item.obj["metadata"]["name"]
            elif item.key == NAMESPACES_KEY:
                item.name = mapping.get(item.name, item.name)  # as map_namespaces renames it
            if not mapping:
                continue  # the entries' keys are unique, so are their targets (no need to hold one per object)
            target = (item.key, item.namespace, item.name)
            if target in seen:
                raise AdharError("namespace_mapping: %s and %s would both restore to %s"
                                 % (seen[target], item.src_namespace, "/".join(x for x in target if x)),
                                 option="namespace_mapping")
            seen[target] = item.src_namespace
    for item in items:
        if item.record is not None:
            item.obj = None  # its outline: the object is read again when it is applied
    tiers = plan_tiers({i.key for i in items}, params.get("order_insert"))
    return items, tiers


def restore_status_option(value):
    """``restore_status``: a bool, or a list of resources (a string is read as a bool or as one resource)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on", "1", "false", "no", "off", "0", ""):
            return low in ("true", "yes", "on", "1")
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise AdharError("restore_status must be true, false or a list of resources", option="restore_status")


def run_restore(module):
    """``adhar.platform.restore``: module params in, result dict out."""
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import CONNECTION_POOL_MAXSIZE, K8sClient

    limit_malloc_arenas()  # before the reader and request threads start: their freed memory is shared
    p = dict(module.params)
    start = time.monotonic()
    check_bounds(p, RESTORE_BOUNDS)
    if p.get("app") and p.get("app_label_keys") is not None and not [k for k in p["app_label_keys"] if k]:
        raise AdharError("app_label_keys is empty: app %s needs at least one label key to look it up in" % p["app"],
                         option="app_label_keys")
    if p.get("report_items") not in (None,) + REPORT_ITEMS:
        raise AdharError("report_items must be one of %s" % ", ".join(REPORT_ITEMS), option="report_items")
    p["restore_status"] = restore_status_option(p.get("restore_status"))
    plan_order((), p.get("order_insert"))  # shape errors before anything is read
    p["label_selector"] = selector_text(p.get("label_selector"))
    check_namespace_mapping(p.get("namespace_mapping"))
    module.require_k8s()
    storage = storage_from_params(p["storage"])
    storage.check(write=False)
    wrapper = key_wrapper_from_params(p.get("encryption"), p["storage"])
    check_verification(wrapper, p.get("verify_key"), p.get("require_signature"))
    backup = choose_backup(storage, p["backup"], p.get("cluster"))
    p["name"] = p.get("name") or restore_name(backup)
    reader = ArchiveReader(storage, backup, wrapper, verify_key=p.get("verify_key"),
                           require_signature=p.get("require_signature"))
    # incomplete backups, a missing or wrong key, a tampered or unsigned manifest fail here, before any item is read
    manifest = reader.manifest
    named = ({"resource": k, "namespace": ns, "name": n} for k, ns, n, dummy in resource_records(reader))
    for warning in list(reader.warnings) + unmatched_in_backup(named, Selection(p), backup, p.get("strict")):
        module.warn(warning)
    t = time.monotonic()
    items, tiers, timings, loader = plan_items(reader, p, max(p["workers"], 8), key_given=wrapper is not None)
    timings["verify_and_plan"] = round(time.monotonic() - t, 3)
    from_snapshots = 0
    if p.get("volume_data") != "never":
        from_snapshots = use_snapshot_sources(items, manifest, loader)
    loader([i for i in items if i.key == CRD_KEY and i.action is None])  # their specs tell check mode what they serve
    client = K8sClient.from_params(p, check_mode=module.check_mode)
    if p["workers"] > CONNECTION_POOL_MAXSIZE and not client.connection_per_thread:  # e.g. through a proxy
        module.warn("workers=%d: the client keeps %d connections; more workers open short-lived extra ones"
                    % (p["workers"], CONNECTION_POOL_MAXSIZE))
    try:
        volumes = None
        if p.get("volume_data") != "never":
            volumes = VolumeRestore(reader, client, check_mode=module.check_mode)
            loader([item for item, dummy in volumes.plan(items)])  # a PVC's size sizes its new volume
            t = time.monotonic()
            volumes.check()  # a corrupted volume item fails here, before any object is written
            volumes.prepare()
            timings["verify_volumes"] = round(time.monotonic() - t, 3)
        engine = Restore(client, backup=backup, name=p["name"], policy=p["existing_resource_policy"], workers=p["workers"],
                         check_mode=module.check_mode, diff=module.diff_mode, crd_timeout=p["crd_timeout"],
                         continue_on_error=p["continue_on_error"], wait=p["wait"], wait_timeout=p["wait_timeout"],
                         planned_crds=[(i.obj.get("spec") or {}) for i in items if i.key == CRD_KEY and i.action is None],
                         loader=loader)
        t, cpu = time.monotonic(), time.process_time()
        engine.run(items, tiers)
        timings["apply"] = round(time.monotonic() - t, 3)
        timings["apply_cpu"] = round(time.process_time() - cpu, 3)  # this process's CPU: the client's share of the work
        volume_report = None
        if volumes is not None and volumes.planned:
            t = time.monotonic()
            volume_report = volumes.restore()
            timings["volume_data"] = round(time.monotonic() - t, 3)
        waited = None
        if p["wait"] and not module.check_mode:
            t = time.monotonic()
            waited = engine.wait_ready(items)
            timings["wait"] = round(time.monotonic() - t, 3)
    finally:
        client.close()
    p["integrity"] = reader.integrity
    result = build_result(p, manifest, items, engine, timings, time.monotonic() - start, waited, module)
    result["restore"]["volumes"] = volume_report
    result["restore"]["pvcs_from_snapshots"] = from_snapshots
    if volume_report and volume_report["changed"]:
        result["changed"] = True
    return result


def use_snapshot_sources(items, manifest, loader=None):
    """PVCs whose backup recorded a ready CSI VolumeSnapshot are restored with that snapshot as ``dataSource`` (those
    not read yet when ``loader`` reads them); returns how many."""
    ready = ready_snapshots(manifest)
    if loader is not None:
        loader.snapshots.update(ready)
    count = 0
    for item in items:
        if item.key == "persistentvolumeclaims" and item.action is None and (item.src_namespace, item.name) in ready:
            if item.obj is not None:
                item.obj = with_snapshot_source(item.obj, ready[(item.src_namespace, item.name)])
            count += 1
    return count


def build_result(p, manifest, items, engine, timings, seconds, waited, module):
    counts = dict((k, 0) for k in COUNT_KEYS)
    for item in items:
        counts[item.action or "skipped"] = counts.get(item.action or "skipped", 0) + 1
    failed = [item for item in items if item.action == "failed"]
    report = p.get("report_items") or "summary"
    # summary (the default): a result of a few kilobytes however many objects; the other modes list objects
    cap = LISTED if report == "summary" else None
    failures = [item.result() for item in failed[:cap]]
    if report == "all":
        shown = [i.result() for i in items]
    elif report == "failed":
        shown = [item.result() for item in failed]
    elif report == "changed":
        shown = [i.result() for i in items if i.action in CHANGED or i.action == "failed"]
    else:
        shown = []
    handled = sum(1 for i in items if i.action != "skipped" or (i.message or "").startswith("exists"))
    restore = {
        "name": p["name"], "backup": manifest["name"], "source_cluster": manifest.get("cluster"),
        "counts": counts, "seconds": round(seconds, 3),
        "objects_per_second": round(handled / timings["apply"], 1) if timings.get("apply") else None,
        "resource_counts": _resource_counts(items), "stages": engine.stages,
        "failures": failures, "failures_not_listed": len(failed) - len(failures),
        "skipped": _skip_summary([i for i in items if i.action == "skipped"]),
        "timings": timings, "policy": p["existing_resource_policy"], "check_mode": engine.check_mode,
        "integrity": p.get("integrity"),
    }
    if waited is not None:
        restore["wait"] = dict(waited, not_ready=waited["not_ready"][:cap])
    result = {"changed": any(i.action in CHANGED for i in items), "restore": restore, "items": shown}
    if engine.diff:
        diffs = []
        for item in items:
            if item.diff:
                entry = dict(item.diff)
                diffs.append(ansible_diff({"kind": item.kind, "namespace": item.namespace, "name": item.name,
                                           "diff": entry}))
        if diffs:
            result["diff"] = diffs
    problems = len(failed) + len((waited or {}).get("not_ready") or [])
    if problems:
        shown_f = "; ".join("%s %s%s: %s" % (f["resource"], f["namespace"] + "/" if f["namespace"] else "", f["name"], f.get("message"))
                            for f in failures[:5])
        msg = "restore %s: %d of %d items failed%s" % (p["name"], len(failed), len(items), ": " + shown_f if shown_f else "")
        if waited and waited["not_ready"]:
            msg += "; %d restored workloads not ready: %s" % (len(waited["not_ready"]), "; ".join(waited["not_ready"][:3]))
        if p["continue_on_error"]:
            module.warn(msg)
        else:
            raise AdharError(msg, **result)
    return result
