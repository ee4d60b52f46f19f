# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one apply engine: many objects per call, server-side apply, in parallel.

``ApplyEngine(client, ...).run(objects, state)`` where ``objects`` comes
from ``load_objects(definitions, src)``.

How an apply goes (``state=present``):

1. Input: dicts, YAML strings (multi-document) and files/directories of YAML,
   ``*List`` kinds flattened, server-populated fields dropped, duplicates and
   objects without ``apiVersion``/``kind``/``metadata.name`` refused.
2. Discovery (``k8s_discovery``): only the group-versions the objects use,
   fetched in parallel.  A kind the server does not know is an error before
   anything is written, unless a CRD of the same input defines it.
3. Tiers, each applied in parallel by a bounded pool (``workers``):
   0. Namespaces and CRDs -> wait until the CRDs are Established (watch), seed
      discovery from them;
   1. what admission of later objects and their pods depends on: PriorityClass,
      ResourceQuota, LimitRange, ServiceAccount, StorageClass;
   2. everything else.
4. One request per object: ``PATCH`` with ``application/apply-patch+yaml``,
   ``fieldManager`` and ``force``; check mode adds ``dryRun=All``.
5. ``prune``: objects labelled with the apply set that are no longer in the
   input are deleted (see "Apply sets" below).
6. ``wait``: after everything is applied, watches (``k8s_wait``) under one deadline.

Change detection without reading first.  The answer to an apply tells
``created`` by its status (201).  For an existing object the engine compares
it with a baseline taken once per run (one ``LIST namespaces?limit=1``): the
cluster's resourceVersion (etcd revision; compared as an integer) and the
server's ``Date``.  An object was changed by this run when its
resourceVersion is newer than the baseline *and* the ``Apply`` entry of our
field manager in ``managedFields`` carries a time at or after the baseline
(the API server only moves that time when the apply changed the object).  The
second test keeps a status update made by a controller in the meantime from
counting as our change.  When the baseline cannot be read (no permission to
list namespaces), or in check mode and diff mode, the object is read first
(one GET) and compared instead; that also gives the diff.

Apply sets (KEP-3659 ApplySets, see ``k8s_applyset``).  With ``apply_set: NAME``
a parent Secret (or ConfigMap) NAME in the set's namespace carries the label
``applyset.kubernetes.io/id`` and the annotations listing the group-kinds and
namespaces of the set; every object gets ``applyset.kubernetes.io/part-of``
(and ``app.kubernetes.io/managed-by: adhar`` unless it sets its own).  The
parent is read (and a parent of another tool refused) before anything is
written, widened to the union of its kinds and the input's after the
Namespaces are applied and before everything else, and narrowed after a
successful prune, so an interrupted run never forgets a kind.  Pruning lists
``part-of`` members of the parent's group-kinds.  Sets of earlier releases
(members labelled ``adhar.io/apply-set=NAME``, record ConfigMap
``adhar-apply-set-NAME``) are adopted when the parent does not exist yet: their
members get the ``part-of`` label (and lose the old one), their kinds and
namespaces go into the parent, and the old record is deleted.
"""

from __future__ import annotations

import copy
import email.utils
import json
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timezone

from ansible_collections.adhar.platform.plugins.module_utils._common.times import parse_time_or_none
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, is_api_exception
from ansible_collections.adhar.platform.plugins.module_utils._k8s import applyset
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Discovery, UnknownKind, split_api_version
from ansible_collections.adhar.platform.plugins.module_utils._k8s.wait import Target, error_text, open_stream, rule_for, wait_for

try:
    import yaml
    from ansible.module_utils.common.yaml import yaml_load_all
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

ACTIONS = ("created", "configured", "unchanged", "deleted", "pruned", "failed", "skipped")
CHANGED_ACTIONS = frozenset(("created", "configured", "deleted", "pruned"))

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "adhar"

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE = "application/merge-patch+json"
METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
YAML_SUFFIXES = (".yaml", ".yml", ".json")

# (group, kind) -> tier; everything else is tier 2.
TIERS = {
    ("", "Namespace"): 0,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): 0,
    ("scheduling.k8s.io", "PriorityClass"): 1,
    ("", "ResourceQuota"): 1,
    ("", "LimitRange"): 1,
    ("", "ServiceAccount"): 1,
    ("storage.k8s.io", "StorageClass"): 1,
}
CRD_KEY = ("apiextensions.k8s.io", "CustomResourceDefinition")
FRESH_CRD_RETRY_SECONDS = 10.0

# Fields the server owns: dropped from the input so `kubectl get -o yaml` output can be applied.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
HIDDEN = "<hidden>"
HIDDEN_CHANGED = "<hidden, changed>"


# --------------------------------------------------------------------------- input

def parse_yaml(text, origin="definitions"):
    """All documents of a YAML (or JSON) text; empty documents skipped."""
    if yaml is None:  # pragma: no cover
        raise AdharError("PyYAML is required to read YAML")
    try:
        return [d for d in yaml_load_all(text) if d is not None]  # Ansible's loader: libyaml's when present
    except yaml.YAMLError as exc:
        raise AdharError("{0}: not valid YAML: {1}".format(origin, exc), origin=origin) from exc


def source_files(paths):
    """Files named by ``paths``: files as given, directories' ``*.yaml``/``*.yml``/``*.json`` (sorted, not recursive)."""
    files = []
    for path in paths or []:
        path = os.path.expanduser(str(path))
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(YAML_SUFFIXES) and not n.startswith("."))
            files.extend(os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n)))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise AdharError("src: {0} does not exist".format(path), src=path)
    return files


def flatten(docs, origin):
    """Yield ``(obj, origin)`` for each object, ``*List`` kinds expanded (typed list items get their kind)."""
    for index, doc in enumerate(docs):
        where = "{0}[{1}]".format(origin, index) if len(docs) > 1 else origin
        if doc is None:  # an empty YAML document, or a templated entry that rendered to nothing
            continue
        if isinstance(doc, list):
            yield from flatten(doc, where)
            continue
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            item_kind = kind[:-4]
            for j, item in enumerate(doc["items"]):
                if isinstance(item, dict) and item_kind and not item.get("kind"):
                    item = dict(item, kind=item_kind, apiVersion=item.get("apiVersion") or doc.get("apiVersion"))
                yield from flatten([item], "{0}.items[{1}]".format(where, j))
            continue
        yield doc, where


def load_objects(definitions=None, src=None):
    """``[(obj, origin)]`` from ``definitions`` (dict, list, YAML text, or a list mixing them) and ``src`` paths."""
    out = []
    if isinstance(definitions, (str, dict)):
        definitions = [definitions]
    for i, entry in enumerate(definitions or []):
        origin = "definitions[{0}]".format(i)
        if isinstance(entry, str):
            out.extend(flatten(parse_yaml(entry, origin), origin))
        else:
            out.extend(flatten([entry], origin))
    for path in source_files(src):
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
        out.extend(flatten(parse_yaml(text, path), path))
    return out


def clean_object(obj):
    """A copy without the fields the server owns (status, uid, resourceVersion, managedFields, ...)."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in SERVER_METADATA:
            meta.pop(key, None)
    return obj


def object_problem(obj):
    """Why ``obj`` cannot be applied, or ``None``."""
    if not isinstance(obj, dict):
        return "not a mapping ({0})".format(type(obj).__name__)
    if not obj.get("apiVersion") or not isinstance(obj.get("apiVersion"), str):
        return "apiVersion is missing"
    if not obj.get("kind") or not isinstance(obj.get("kind"), str):
        return "kind is missing"
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        if isinstance(meta, dict) and meta.get("generateName"):
            return "metadata.generateName cannot be used with server-side apply: give metadata.name"
        return "metadata.name is missing"
    try:
        split_api_version(obj["apiVersion"])
    except AdharError as exc:
        return str(exc)
    return None


def tier_of(group, kind):
    return TIERS.get((group, kind), 2)


# --------------------------------------------------------------------------- change detection and diff

def manager_apply_time(obj, manager):
    """Time of ``manager``'s ``Apply`` entry in ``metadata.managedFields``."""
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            return parse_time_or_none(entry.get("time"))
    return None


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Baseline:
    """The cluster's resourceVersion and the server's time when the run started."""

    __slots__ = ("resource_version", "time")

    def __init__(self, resource_version=None, time_=None):
        self.resource_version = _int(resource_version)
        self.time = time_

    @property
    def usable(self):
        return self.resource_version is not None or self.time is not None


def comparable(obj, manager):
    """What two versions of an object are compared on: no status, resourceVersion or other managers' entries."""
    obj = copy.deepcopy(obj or {})
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    meta.pop("resourceVersion", None)
    meta["managedFields"] = [e for e in meta.get("managedFields") or [] if e.get("manager") == manager]
    return obj


def classify_apply(status, after, manager, before=None, before_known=False, baseline=None):
    """``created``, ``configured`` or ``unchanged`` for one apply answer (see the module docstring)."""
    if status == 201:
        return "created"
    if before_known:
        if before is None:
            return "created"
        return "unchanged" if comparable(before, manager) == comparable(after, manager) else "configured"
    if baseline is None or not baseline.usable:
        return "configured"
    rv = _int(((after or {}).get("metadata") or {}).get("resourceVersion"))
    if rv is not None and baseline.resource_version is not None and rv <= baseline.resource_version:
        return "unchanged"
    when = manager_apply_time(after, manager)
    if when is not None and baseline.time is not None and when < baseline.time:
        return "unchanged"
    return "configured"


def diff_view(obj):
    """An object as shown in a diff: no managedFields, resourceVersion or status."""
    if obj is None:
        return {}
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for key in ("managedFields", "resourceVersion"):
        meta.pop(key, None)
    return obj


def _mask_secret_pair(before, after):
    """Hide Secret values on both sides; a value that differs shows as ``<hidden, changed>``."""
    for field in ("data", "stringData"):
        b = before.get(field) if isinstance(before.get(field), dict) else None
        a = after.get(field) if isinstance(after.get(field), dict) else None
        if b is not None:
            before[field] = {k: HIDDEN for k in b}
        if a is not None:
            after[field] = {k: (HIDDEN if b is not None and k in b and b[k] == v else HIDDEN_CHANGED) for k, v in a.items()}


def diff_pair(before, after):
    """``{"before": ..., "after": ...}`` for one object (Secret values hidden)."""
    b, a = diff_view(before), diff_view(after)
    if (a or b).get("kind") == "Secret":
        _mask_secret_pair(b, a)
    return {"before": b, "after": a}


def ansible_diff(result):
    """One entry of Ansible's ``diff`` list (YAML text, so the callback prints a unified diff)."""
    label = object_label(result)
    pair = result.get("diff") or {}

    def text(v):
        return yaml.safe_dump(v, default_flow_style=False, sort_keys=True) if v else ""

    return {"before_header": label, "after_header": label, "before": text(pair.get("before")), "after": text(pair.get("after"))}


def object_label(result):
    """``Kind namespace/name``; a missing kind or name is said, never printed as ``None``."""
    ns = result.get("namespace")
    kind = result.get("kind") if isinstance(result.get("kind"), str) and result.get("kind") else "object"
    name = result.get("name") if isinstance(result.get("name"), str) and result.get("name") else "(no name)"
    return "{0} {1}{2}".format(kind, ns + "/" if isinstance(ns, str) and ns else "", name)


def error_line(result):
    """One line for a failed object: its label and the error; an object that is not one (no kind or no name) is
    named by its error, which says where it came from (``definitions[2]``, a file) and what is wrong."""
    if isinstance(result.get("kind"), str) and result.get("kind") and isinstance(result.get("name"), str) \
            and result.get("name"):
        return "{0}: {1}".format(object_label(result), result["error"])
    return str(result["error"])


# --------------------------------------------------------------------------- prune selection and results

def object_key(group, kind, namespace, name):
    return (group, kind, namespace or "", name)


def select_prune(listed, desired):
    """Objects to prune: ``listed`` (dicts with group, kind, namespace, name, owned) not in ``desired`` keys.

    Objects with a controller ``ownerReference`` are never pruned (their owner
    made them, whatever labels they copied).
    """
    out = []
    for entry in listed:
        if entry.get("controlled"):
            continue
        if object_key(entry["group"], entry["kind"], entry.get("namespace"), entry["name"]) in desired:
            continue
        out.append(entry)
    return out


def summarize(results, duration=None):
    """Counts per action, ``changed`` and the one-line ``changes`` of a list of per-object results."""
    counts = dict((a, 0) for a in ACTIONS)
    changes = []
    for r in results:
        counts[r["action"]] = counts.get(r["action"], 0) + 1
        if r["changed"]:
            changes.append("{0} {1}".format(r["action"], object_label(r)))
    out = {"changed": bool(changes), "counts": counts, "changes": changes}
    if duration is not None:
        out["duration"] = round(duration, 3)
    return out


# --------------------------------------------------------------------------- the engine

class Item:
    """One object of the input and what happened to it."""

    def __init__(self, index, obj, origin):
        self.index = index
        self.origin = origin
        self.obj = obj
        self.resource = None
        self.namespace = None
        self.tier = 2
        self.deferred = False    # kind defined by a CRD of this input, not served yet
        self.fresh_crd = False   # resource seeded from a CRD applied in this run
        self.after = None
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        self.result = {
            "kind": obj.get("kind") if isinstance(obj, dict) else None,
            "apiVersion": obj.get("apiVersion") if isinstance(obj, dict) else None,
            "namespace": (meta or {}).get("namespace") if isinstance(meta, dict) else None,
            "name": (meta or {}).get("name") if isinstance(meta, dict) else None,
            "action": "skipped",
            "changed": False,
            "error": None,
        }

    @property
    def group(self):
        return split_api_version(self.result["apiVersion"])[0]

    @property
    def key(self):
        return object_key(self.group, self.result["kind"], self.namespace, self.result["name"])

    def fail(self, message):
        self.result.update(action="failed", changed=False, error=message)

    @property
    def failed(self):
        return self.result["action"] == "failed"


class ApplyEngine:
    """Apply or delete many objects through one ``K8sClient`` (see the module docstring).

    ``wait_condition``: ``{type, status, reason, kinds}`` (see ``k8s_wait.rule_for``).
    ``warn``: a callable for warnings (``AdharModule.warn``).
    """

    def __init__(self, client, *, field_manager="adhar", force_conflicts=False, workers=8, check_mode=False,
                 diff=False, continue_on_error=False, namespace=None, apply_set=None, prune=False, wait=False,
                 wait_timeout=300.0, wait_condition=None, warn=None, clock=time.monotonic, apply_set_parent="Secret",
                 apply_set_namespace=None, apply_set_tooling=applyset.DEFAULT_TOOL):
        if workers < 1:
            raise AdharError("workers must be at least 1", option="workers")
        if prune and not apply_set:
            raise AdharError("prune needs apply_set: the name of the set of objects this task owns", option="prune")
        self.client = client
        self.field_manager = field_manager or "adhar"
        self.force_conflicts = bool(force_conflicts)
        self.workers = int(workers)
        self.check_mode = bool(check_mode)
        self.diff = bool(diff)
        self.continue_on_error = bool(continue_on_error)
        self.namespace = namespace or "default"
        self.apply_set = apply_set or None
        self.parent = applyset.Parent(apply_set, apply_set_namespace or self.namespace, apply_set_parent or "Secret",
                                      apply_set_tooling or applyset.DEFAULT_TOOL) if apply_set else None
        self.migrating = False      # a set of an earlier release found: its members are adopted in this run
        self.legacy = []            # members carrying the old label (listed entries)
        self.legacy_record = None   # kinds and namespaces of the old record ConfigMap
        self.parent_result = None   # result entry of the parent when it is written
        self._set_kinds = set()
        self._set_namespaces = set()
        self._parent_namespace_new = False
        self.prune = bool(prune)
        self.wait = bool(wait)
        self.wait_timeout = float(wait_timeout if wait_timeout is not None else 300.0)
        self.wait_condition = wait_condition if (wait_condition or {}).get("type") else None
        self.warn = warn or (lambda msg: None)
        self.clock = clock
        self.discovery = Discovery(client)
        self.baseline = None
        self.read_first = self.check_mode or self.diff
        self.timings = {}
        self.state = "present"
        self._stop = threading.Event()
        self._pool = None
        self._fresh_crd_api_versions = set()
        self._crd_scopes = {}

    # -- entry point ---------------------------------------------------------

    def run(self, objects, state="present"):
        """Apply (``present``) or delete (``absent``) ``objects`` (``[(obj, origin)]``); returns the result dict."""
        start = self.clock()
        self.state = state
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="adhar-apply")
        extra = []
        try:
            items = self._prepare(objects)
            if state == "absent":
                extra = self._run_absent(items)
            else:
                extra = self._run_present(items)
        finally:
            self._pool.shutdown(wait=True)
        return self._result(items, extra, self.clock() - start)

    # -- preparation ---------------------------------------------------------

    def _prepare(self, objects):
        items = []
        seen = {}
        for index, (obj, origin) in enumerate(objects):
            problem = object_problem(obj)
            item = Item(index, clean_object(obj) if problem is None else obj, origin)
            items.append(item)
            if problem is not None:
                item.fail("{0}: {1}".format(origin, problem))
                continue
            item.tier = tier_of(item.group, item.result["kind"])
        self._timed("discovery", self._resolve, items, first=True)
        for item in items:
            if item.failed or item.resource is None:
                continue
            if item.key in seen:
                item.fail("{0}: the same object as {1}".format(item.origin, seen[item.key]))
            else:
                seen[item.key] = item.origin
        return items

    def _timed(self, name, fn, *args, **kwargs):
        t = self.clock()
        try:
            return fn(*args, **kwargs)
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + self.clock() - t, 3)

    @staticmethod
    def _crd_scopes_of(items):
        """``{(group, kind): namespaced}`` for the kinds CRDs of the input define."""
        scopes = {}
        for item in items:
            if not item.failed and (item.group, item.result["kind"]) == CRD_KEY:
                spec = item.obj.get("spec") or {}
                kind = (spec.get("names") or {}).get("kind")
                if spec.get("group") and kind:
                    scopes[(spec["group"], kind)] = spec.get("scope", "Namespaced") == "Namespaced"
        return scopes

    def _resolve(self, items, first=False):
        """Find the resource of every item still unresolved; set its namespace."""
        todo = [i for i in items if not i.failed and i.resource is None and not (i.deferred and self.check_mode)]
        if not todo:
            return
        self.discovery.prefetch({i.result["apiVersion"] for i in todo}, self._pool)
        if first:
            self._crd_scopes = self._crd_scopes_of(items)
        for item in todo:
            try:
                item.resource = self.discovery.lookup(item.result["apiVersion"], item.result["kind"], refresh=not first)
                item.deferred = False
                item.fresh_crd = item.result["apiVersion"] in self._fresh_crd_api_versions
            except UnknownKind as exc:
                gk = (item.group, item.result["kind"])
                if first and gk in self._crd_scopes:
                    item.deferred = True
                    if self._crd_scopes[gk]:
                        item.namespace = item.result["namespace"] = item.result["namespace"] or self.namespace
                elif self.state == "absent":
                    item.result.update(action="unchanged", changed=False, message=str(exc))
                else:
                    item.fail("{0}: {1}".format(item.origin, exc))
                continue
            self._place(item)

    def _place(self, item):
        meta = item.obj.setdefault("metadata", {})
        if item.resource.namespaced:
            item.namespace = meta.get("namespace") or self.namespace
            meta["namespace"] = item.namespace
        else:
            item.namespace = None
            meta.pop("namespace", None)
        item.result["namespace"] = item.namespace
        if self.apply_set:
            labels = meta.get("labels")
            if not isinstance(labels, dict):
                labels = meta["labels"] = {}
            labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY)
            labels.pop(applyset.LEGACY_LABEL, None)
            labels[applyset.PART_OF_LABEL] = self.parent.id

    # -- parallel runner -----------------------------------------------------

    def _parallel(self, items, fn):
        """Run ``fn(item)`` for every item, at most ``workers`` at a time.

        Without ``continue_on_error`` no new item starts after one failed;
        items never started stay ``skipped`` with an error saying why.
        """
        pending = list(items)
        running = set()
        while pending or running:
            while pending and len(running) < self.workers and not self._stop.is_set():
                item = pending.pop(0)
                running.add(self._pool.submit(self._guarded, fn, item))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut.result() and not self.continue_on_error:
                    self._stop.set()
        for item in pending:
            item.result["error"] = "not attempted: an earlier object failed"

    def _guarded(self, fn, item):
        """``fn(item)``; an exception fails the item.  Returns True when the item failed."""
        try:
            fn(item)
        except Exception as exc:  # per-object error, reported in its result
            item.fail(error_text(exc))
        return item.failed

    def _blocked(self, items):
        """True when a failure forbids going on (and marks the untouched items)."""
        if self.continue_on_error or not any(i.failed for i in items):
            return False
        for item in items:
            if item.result["action"] == "skipped" and item.result["error"] is None:
                item.result["error"] = "not attempted: an earlier object failed"
        self._stop.set()
        return True

    # -- present -------------------------------------------------------------

    def _run_present(self, items):
        if self._blocked(items):
            return []
        if self.parent is not None:
            self._set_read(items)  # refuses a parent of another tool before anything is written
        if not self.read_first:
            self.baseline = self._read_baseline()
            if self.baseline is None:
                self.read_first = True
        t = self.clock()
        created_namespaces = set()
        for tier in (0, 1, 2):
            batch = [i for i in items if i.tier == tier and not i.failed and i.result["action"] == "skipped"
                     and i.result["error"] is None]
            if tier > 0:
                self._timed("discovery", self._resolve, items)
                batch = [i for i in batch if not i.failed]
            self._parallel([i for i in batch if not self._check_mode_shortcut(i, created_namespaces)], self._apply_one)
            if self._blocked(items):
                break
            if tier == 0:
                created_namespaces = {i.result["name"] for i in batch if i.result["kind"] == "Namespace"
                                      and i.result["action"] == "created"}
                if self.parent is not None:
                    # After the Namespaces (the parent may live in one of them), before everything else.
                    self._set_begin(items, created_namespaces)
                self._settle_crds([i for i in batch if (i.group, i.result["kind"]) == CRD_KEY and not i.failed])
                if self._blocked(items):
                    break
        self.timings["apply"] = round(self.clock() - t, 3)
        extra = []
        if self.prune:
            if any(i.failed for i in items):
                self.warn("prune skipped: some objects failed to apply")
            else:
                extra = self._timed("prune", self._prune, items)
        elif self.parent is not None and self.migrating and not any(i.failed for i in items):
            extra = self._adopted_results(items)
        if self.wait and not self.check_mode:
            self._timed("wait", self._wait_ready, items)
        return extra

    def _check_mode_shortcut(self, item, created_namespaces):
        """In check mode, objects that depend on a CRD or Namespace this task would create are reported without a request."""
        if not self.check_mode:
            return False
        if item.deferred:
            item.result.update(action="created", changed=True, message="not validated: its CustomResourceDefinition is created by this task")
            return True
        if item.namespace and item.namespace in created_namespaces:
            item.result.update(action="created", changed=True, message="not validated: its Namespace is created by this task")
            return True
        return False

    def _read_baseline(self):
        """One LIST with limit=1: the cluster's resourceVersion and the server's Date; None when not allowed."""
        try:
            response = self.client.call(open_stream, self.client.api_client, "/api/v1/namespaces", {"limit": "1"})
        except Exception as exc:
            if is_api_exception(exc) and getattr(exc, "status", None) in (401, 403):
                return None
            raise
        try:
            data = json.loads(response.data or b"{}")
            date = response.headers.get("Date")
        finally:
            response.release_conn()
        when = None
        if date:
            try:
                when = email.utils.parsedate_to_datetime(date).astimezone(timezone.utc)
            except (TypeError, ValueError):
                when = None
        baseline = Baseline((data.get("metadata") or {}).get("resourceVersion"), when)
        return baseline if baseline.usable else None

    def _query(self, extra=None):
        query = {"fieldManager": self.field_manager, "force": "true" if self.force_conflicts else "false"}
        if self.check_mode:
            query["dryRun"] = "All"
        query.update(extra or {})
        return query

    def _get(self, path):
        status, data = self.client.raw("GET", path, raise_for_status=False)
        if status == 404:
            return None
        if not 200 <= status <= 299:
            raise AdharError("GET {0}: HTTP {1}: {2}".format(path, status, (data or {}).get("message") if isinstance(data, dict) else data))
        return data

    def _apply_one(self, item):
        path = item.resource.path(item.namespace, item.result["name"])
        before = self._get(path) if self.read_first else None
        body = json.dumps(item.obj)
        deadline = self.clock() + FRESH_CRD_RETRY_SECONDS
        while True:
            try:
                status, after = self.client.raw("PATCH", path, query=self._query(), body=body,
                                                headers={"Content-Type": APPLY_CONTENT_TYPE})
                break
            except Exception as exc:
                # A custom resource right after its CRD became Established: the handler may lag a moment.
                if item.fresh_crd and getattr(exc, "status", None) == 404 and self.clock() < deadline:
                    time.sleep(0.2)
                    continue
                raise
        if status == 201 and not self.check_mode and not (after.get("metadata") or {}).get("managedFields"):
            # An object created by an apply that declares no fields of its own (a bare Namespace) is stored
            # without managedFields; the API server fills them in ("before-first-apply") on the next apply,
            # which is a write.  Do that next apply now, so that the next run is a no-op.
            status2, after2 = self.client.raw("PATCH", path, query=self._query(), body=body,
                                              headers={"Content-Type": APPLY_CONTENT_TYPE})
            if 200 <= status2 <= 299:
                after = after2
        item.after = after
        action = classify_apply(status, after, self.field_manager, before=before, before_known=self.read_first,
                                baseline=self.baseline)
        item.result.update(action=action, changed=action != "unchanged")
        if self.diff and action != "unchanged":
            item.result["diff"] = diff_pair(before, after)

    def _settle_crds(self, crds):
        """Wait until the CRDs of tier 0 are Established, then teach discovery their resources."""
        if not crds:
            return
        if self.check_mode:
            return
        for item in crds:
            self.discovery.seed_crd(item.after or item.obj)
        targets = [Target(i.resource, None, i.result["name"], rule_for(i.resource)) for i in crds]
        self._timed("crd_established", wait_for, self.client, targets, self.wait_timeout, clock=self.clock)
        for item, target in zip(crds, targets):
            if target.state != "ready":
                item.fail("CustomResourceDefinition not Established: {0}".format(target.message))
        served = set()
        for item in crds:
            spec = item.obj.get("spec") or {}
            for v in spec.get("versions") or []:
                served.add("{0}/{1}".format(spec.get("group"), v.get("name")))
        self.discovery.forget_refresh(served)
        self._fresh_crd_api_versions = served

    # -- wait ----------------------------------------------------------------

    def _wait_ready(self, items):
        targets = []
        for item in items:
            if item.failed or item.resource is None or item.result["action"] == "skipped":
                continue
            rule = rule_for(item.resource, self.wait_condition)
            if rule is not None:
                target = Target(item.resource, item.namespace, item.result["name"], rule)
                targets.append((item, target))
        if not targets:
            return
        wait_for(self.client, [t for dummy, t in targets], self.wait_timeout, clock=self.clock)
        for item, target in targets:
            item.result["wait"] = target.as_result()
            if target.state != "ready":
                item.result["error"] = "not ready: {0}".format(target.message)

    # -- absent --------------------------------------------------------------

    def _delete_query(self):
        query = {"propagationPolicy": "Background"}
        if self.check_mode:
            query["dryRun"] = "All"
        return query

    def _delete_one(self, item, action="deleted"):
        path = item.resource.path(item.namespace, item.result["name"])
        before = self._get(path) if self.diff else None
        status, data = self.client.raw("DELETE", path, query=self._delete_query(), raise_for_status=False)
        if status == 404:
            item.result.update(action="unchanged", changed=False)
            return
        if not 200 <= status <= 299:
            message = data.get("message") if isinstance(data, dict) else data
            raise AdharError("HTTP {0}: {1}".format(status, message))
        item.result.update(action=action, changed=True)
        if self.diff:
            item.result["diff"] = diff_pair(before, None)

    def _run_absent(self, items):
        if self.parent is not None and self.prune:
            self._set_read(items)  # refuses a parent of another tool before anything is deleted
        for item in items:
            if item.deferred:  # kind not served: nothing of it can exist
                item.result.update(action="unchanged", changed=False, message="kind not served by the server")
        if self._blocked(items):
            return []
        for tier in (2, 1, 0):
            batch = [i for i in items if i.tier == tier and not i.failed and i.resource is not None]
            self._parallel(batch, self._delete_one)
            if self._blocked(items):
                return []
        extra = []
        if self.parent is not None and self.prune:
            extra = self._absent_set(items)
        if self.wait and not self.check_mode:
            gone = [i for i in list(items) + list(extra) if i.result["action"] in ("deleted", "pruned")]
            self._timed("wait", self._wait_gone, gone)
        return extra

    def _wait_gone(self, items):
        targets = [(i, Target(i.resource, i.namespace, i.result["name"])) for i in items]
        if not targets:
            return
        wait_for(self.client, [t for dummy, t in targets], self.wait_timeout, deleted=True, clock=self.clock)
        for item, target in targets:
            item.result["wait"] = target.as_result()
            if target.state != "ready":
                item.result["error"] = "not deleted: {0}".format(target.message)

    # -- apply sets ----------------------------------------------------------

    def _legacy_record_path(self):
        return "/api/v1/namespaces/{0}/configmaps/{1}{2}".format(self.namespace, applyset.LEGACY_RECORD_PREFIX, self.apply_set)

    def _set_read(self, items):
        """Read the parent (refusing one of another tool); without one, look for a set of an earlier release."""
        if self.parent.live is not None or self.parent.exists:
            return
        self.parent.load(self._get(self.parent.path), self.warn)
        if self.parent.exists:
            return
        self.migrating = True
        data = self._get(self._legacy_record_path())
        if data is not None:
            content = data.get("data") or {}
            try:
                resources = json.loads(content.get("resources") or "[]")
                namespaces = json.loads(content.get("namespaces") or "[]")
            except ValueError:
                resources, namespaces = [], []
                self.warn("the old apply set record {0} is unreadable; only the kinds of the input are adopted".format(
                    self._legacy_record_path()))
            kinds = set()
            for entry in resources:
                api_version, dummy, kind = str(entry).partition(" ")
                group = split_api_version(api_version)[0] if api_version else ""
                kinds.add("{0}.{1}".format(kind, group) if group else kind)
            self.legacy_record = {"kinds": kinds, "namespaces": set(namespaces)}

    @staticmethod
    def _input_set(items):
        """Group-kinds and namespaces of the input's objects (failed ones excluded)."""
        kinds, namespaces = set(), set()
        for i in items:
            if i.failed or not (i.resource is not None or i.deferred):
                continue
            kinds.add(i.resource.group_kind if i.resource is not None else
                      ("{0}.{1}".format(i.result["kind"], i.group) if i.group else i.result["kind"]))
            if i.namespace:
                namespaces.add(i.namespace)
        return kinds, namespaces

    def _resource_for(self, group_kind, items):
        """The ``Resource`` of ``Kind.group`` (the input's, else the group's preferred version); None if not served."""
        group, kind = applyset.split_group_kind(group_kind)
        for i in items:
            if i.resource is not None and (i.resource.group, i.resource.kind) == (group, kind):
                return i.resource
        api_version = "v1"
        if group:
            status, data = self.client.raw("GET", "/apis/" + group, raise_for_status=False)
            if status == 404:
                return None
            if not 200 <= status <= 299 or not isinstance(data, dict):
                raise AdharError("Discovery of API group {0} failed: HTTP {1}".format(group, status))
            api_version = ((data.get("preferredVersion") or {}).get("groupVersion")
                           or ((data.get("versions") or [{}])[0]).get("groupVersion"))
            if not api_version:
                return None
        try:
            return self.discovery.lookup(api_version, kind)
        except UnknownKind:
            return None  # its CRD is gone, and its objects with it

    def _set_begin(self, items, created_namespaces):
        """Widen the parent to the input's kinds and namespaces; adopt the members of an earlier release's set."""
        kinds, namespaces = self._input_set(items)
        kinds |= self.parent.group_kinds
        namespaces |= self.parent.namespaces | {self.parent.namespace}
        if self.migrating:
            if self.legacy_record:
                kinds |= self.legacy_record["kinds"]
                namespaces |= self.legacy_record["namespaces"]
            selector = "{0}={1}".format(applyset.LEGACY_LABEL, self.apply_set)
            self.legacy = self._list_selected(sorted(kinds), namespaces, selector, items)
            for entry in self.legacy:
                kinds.add("{0}.{1}".format(entry["kind"], entry["group"]) if entry["group"] else entry["kind"])
                if entry["namespace"]:
                    namespaces.add(entry["namespace"])
        self._set_kinds, self._set_namespaces = kinds, namespaces
        self._parent_namespace_new = self.parent.namespace in created_namespaces
        self._write_parent(kinds, namespaces)
        if self.migrating:
            self._parallel_calls(self._adopt, [e for e in self.legacy if not e["controlled"]])
            if self.legacy_record is not None and not self.check_mode:
                self.client.raw("DELETE", self._legacy_record_path(), raise_for_status=False)

    def _parallel_calls(self, fn, entries):
        for dummy in self._pool.map(fn, entries):
            pass

    def _adopt(self, entry):
        """Move one member of an earlier release's set into the ApplySet (a merge patch of its labels)."""
        path = entry["resource"].path(entry["namespace"], entry["name"])
        query = {"fieldManager": self.field_manager}
        if self.check_mode:
            query["dryRun"] = "All"
        body = {"metadata": {"labels": {applyset.PART_OF_LABEL: self.parent.id, applyset.LEGACY_LABEL: None}}}
        status, data = self.client.raw("PATCH", path, query=query, body=body,
                                       headers={"Content-Type": MERGE_CONTENT_TYPE}, raise_for_status=False)
        if status != 404 and not 200 <= status <= 299:
            message = data.get("message") if isinstance(data, dict) else data
            raise AdharError("Adopting {0} {1} into the ApplySet failed: HTTP {2}: {3}".format(
                entry["kind"], path, status, message))

    def _parent_entry(self, action, message=None):
        result = {"kind": self.parent.kind, "apiVersion": "v1", "namespace": self.parent.namespace, "name": self.parent.name,
                  "action": action, "changed": action != "unchanged", "error": None}
        if message:
            result["message"] = message
        return result

    def _write_parent(self, kinds, namespaces):
        """Server-side apply of the parent (dry run in check mode); nothing when it already says this."""
        if self.parent.up_to_date(kinds, namespaces):
            return
        if self.check_mode and self._parent_namespace_new:
            if self.parent_result is None:
                self.parent_result = self._parent_entry("created", "not validated: its Namespace is created by this task")
            return
        body = self.parent.body(kinds, namespaces)
        before = self.parent.live
        query = {"fieldManager": self.parent.field_manager, "force": "true"}
        if self.check_mode:
            query["dryRun"] = "All"
        deadline = self.clock() + FRESH_CRD_RETRY_SECONDS
        while True:
            status, after = self.client.raw("PATCH", self.parent.path, query=query, body=json.dumps(body),
                                            headers={"Content-Type": APPLY_CONTENT_TYPE}, raise_for_status=False)
            # A Namespace created a moment ago by this run may not be known to admission yet.
            if status != 404 or self.clock() >= deadline:
                break
            time.sleep(0.2)
        if not 200 <= status <= 299:
            message = after.get("message") if isinstance(after, dict) else after
            raise AdharError("Writing the ApplySet parent {0} failed: HTTP {1}: {2}".format(self.parent.path, status, message))
        if self.parent_result is None:
            self.parent_result = self._parent_entry("configured" if self.parent.exists else "created")
            if self.diff:
                self.parent_result["diff"] = diff_pair(before, after)
        if not self.check_mode:
            self.parent.load(after)
        else:
            self.parent.live = after
            self.parent.exists = True
            self.parent.group_kinds = set(kinds)
            self.parent.namespaces = set(namespaces)

    def _list_members(self, items):
        """Every member of the set (``part-of`` label, and the old label while adopting) in the set's kinds."""
        selector = "{0}={1}".format(applyset.PART_OF_LABEL, self.parent.id)
        listed = self._list_selected(sorted(self._set_kinds), self._set_namespaces, selector, items)
        seen = {object_key(e["group"], e["kind"], e["namespace"], e["name"]) for e in listed}
        for entry in self.legacy:
            if object_key(entry["group"], entry["kind"], entry["namespace"], entry["name"]) not in seen:
                listed.append(entry)
        return listed

    def _list_selected(self, group_kinds, namespaces, selector, items):
        resources = [r for r in (self._resource_for(gk, items) for gk in group_kinds) if r is not None]
        listed = []
        for chunk in self._pool.map(lambda r: self._list_labelled(r, selector, sorted(namespaces) if r.namespaced else None),
                                    resources):
            listed.extend(chunk)
        return listed

    def _list_labelled(self, resource, selector, namespaces):
        headers = {"Accept": METADATA_LIST_ACCEPT}
        query = {"labelSelector": selector}
        status, data = self.client.raw("GET", resource.path(None), query=query, headers=headers, raise_for_status=False)
        pages = []
        if status in (401, 403) and resource.namespaced:
            for ns in namespaces or []:
                pages.append(self.client.raw("GET", resource.path(ns), query=query, headers=headers)[1])
        elif not 200 <= status <= 299:
            raise AdharError("Listing {0} for prune failed: HTTP {1}".format(resource.path(None), status))
        else:
            pages.append(data)
        out = []
        for page in pages:
            for obj in (page or {}).get("items") or []:
                meta = obj.get("metadata") or {}
                out.append({
                    "resource": resource, "group": resource.group, "kind": resource.kind, "apiVersion": resource.api_version,
                    "namespace": meta.get("namespace") if resource.namespaced else None, "name": meta.get("name"),
                    "controlled": any(o.get("controller") for o in meta.get("ownerReferences") or []),
                })
        return out

    def _member_item(self, entry):
        obj = {"apiVersion": entry["apiVersion"], "kind": entry["kind"], "metadata": {"name": entry["name"]}}
        if entry["namespace"]:
            obj["metadata"]["namespace"] = entry["namespace"]
        item = Item(-1, obj, "apply set {0}".format(self.apply_set))
        item.resource = entry["resource"]
        item.namespace = entry["namespace"]
        item.tier = tier_of(entry["group"], entry["kind"])
        return item

    def _delete_members(self, entries):
        extra = [self._member_item(e) for e in entries]
        for tier in (2, 1, 0):
            self._parallel([i for i in extra if i.tier == tier], lambda i: self._delete_one(i, action="pruned"))
        return extra

    def _adopted_results(self, items, pruned=()):
        """Results of the old set's members adopted although not in the input (and not pruned)."""
        desired = {i.key for i in items if not i.failed} | {i.key for i in pruned}
        out = []
        for entry in self.legacy:
            if entry["controlled"] or object_key(entry["group"], entry["kind"], entry["namespace"], entry["name"]) in desired:
                continue
            item = self._member_item(entry)
            item.result.update(action="configured", changed=True,
                               message="adopted into the ApplySet {0} (was labelled {1})".format(
                                   self.parent.ref, applyset.LEGACY_LABEL))
            out.append(item)
        return out

    def _prune(self, items):
        members = self._list_members(items)
        desired = {i.key for i in items if not i.failed}
        extra = self._delete_members(select_prune(members, desired))
        if self.migrating:
            extra.extend(self._adopted_results(items, extra))
        if not any(e.failed for e in extra):
            kinds, namespaces = self._input_set(items)
            for e in extra:
                if e.result["action"] == "configured":  # adopted and kept (controlled members are never pruned)
                    kinds.add(e.resource.group_kind)
                    if e.namespace:
                        namespaces.add(e.namespace)
            self._write_parent(kinds, namespaces | {self.parent.namespace})
        return extra

    def _absent_set(self, items):
        """``state=absent`` with ``prune``: delete every member, then the parent (and an old record)."""
        kinds, namespaces = self._input_set(items)
        self._set_kinds = kinds | self.parent.group_kinds | ((self.legacy_record or {}).get("kinds") or set())
        self._set_namespaces = (namespaces | self.parent.namespaces | {self.parent.namespace}
                                | ((self.legacy_record or {}).get("namespaces") or set()))
        if self.migrating:
            selector = "{0}={1}".format(applyset.LEGACY_LABEL, self.apply_set)
            self.legacy = self._list_selected(sorted(self._set_kinds), self._set_namespaces, selector, items)
        members = self._list_members(items)
        desired = {i.key for i in items if not i.failed}
        extra = self._delete_members(select_prune(members, desired))
        if not any(e.failed for e in extra):
            if self.parent.exists:
                status, dummy = self.client.raw("DELETE", self.parent.path, query=self._delete_query(), raise_for_status=False)
                if 200 <= status <= 299:
                    self.parent_result = self._parent_entry("deleted")
            if self.legacy_record is not None:
                self.client.raw("DELETE", self._legacy_record_path(), query=self._delete_query(), raise_for_status=False)
        return extra

    # -- result --------------------------------------------------------------

    def _result(self, items, extra, duration):
        results = [i.result for i in items] + ([self.parent_result] if self.parent_result else []) + [e.result for e in extra]
        out = summarize(results, duration)
        out["results"] = results
        out["timings"] = self.timings
        out["api_discovery_requests"] = self.discovery.requests
        if self.apply_set:
            out["apply_set"] = {"name": self.apply_set, "id": self.parent.id, "parent": "{0} {1}/{2}".format(
                self.parent.kind, self.parent.namespace, self.parent.name), "kubectl": "--applyset={0} -n {1}".format(
                self.parent.ref, self.parent.namespace), "tooling": self.parent.tooling_value,
                "adopted": sum(1 for e in self.legacy if not e["controlled"])}
        if self.diff:
            out["diff"] = [ansible_diff(r) for r in results if r.get("diff")]
        out["errors"] = [error_line(r) for r in results if r["error"]]
        out["failed_count"] = sum(1 for r in results if r["action"] == "failed" or (r.get("wait") and not r["wait"]["ready"]))
        return out


# --------------------------------------------------------------------------- module entry

def finish(result, continue_on_error, warn=None):
    """Fail (``AdharError`` carrying the whole result) when objects failed, unless ``continue_on_error``."""
    failed = result["failed_count"]
    if not failed:
        return result
    total = len(result["results"])
    first = [e for e in result["errors"] if ": not attempted:" not in e and not e.startswith("not attempted:")]
    shown = "; ".join(first[:5]) + ("; ..." if len(first) > 5 else "")
    msg = "{0} of {1} object{2} failed: {3}".format(failed, total, "" if total == 1 else "s", shown)
    skipped = result["counts"].get("skipped", 0)
    if skipped and not continue_on_error:
        msg += " ({0} not attempted)".format(skipped)
    if continue_on_error:
        if warn is not None:
            warn(msg)
        return result
    details = dict(result)
    details.pop("failed", None)
    raise AdharError(msg, **details)


def run_apply(module):
    """``adhar.platform.apply``: module params in, result dict out."""
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    p = module.params
    if p.get("template") is not None:
        raise AdharError("template: templates are rendered on the controller by the adhar.platform.apply action plugin; "
                         "this module was called without it (use the task name adhar.platform.apply)", option="template")
    if p.get("wait_condition") and not p.get("wait"):
        raise AdharError("wait_condition applies with wait: true (nothing is waited for without it)",
                         option="wait_condition")
    if p.get("apply_set_namespace") and not p.get("apply_set"):
        raise AdharError("apply_set_namespace needs apply_set (the name of the set)", option="apply_set_namespace")
    if p.get("apply_set"):
        applyset.validate(p["apply_set"], p.get("apply_set_parent") or "Secret",
                          p.get("apply_set_namespace") or p.get("namespace") or "default",
                          p.get("apply_set_tooling") or applyset.DEFAULT_TOOL)
    module.require_k8s()
    objects = load_objects(p.get("definitions"), p.get("src"))
    if not objects and p["state"] == "present" and p["prune"]:
        raise AdharError("prune with no objects would delete the whole apply set {0!r}; "
                         "use state=absent with prune=true to do that".format(p.get("apply_set")), option="prune")
    client = K8sClient.from_params(p, check_mode=module.check_mode)
    try:
        engine = ApplyEngine(
            client,
            field_manager=p["field_manager"],
            force_conflicts=p["force_conflicts"],
            workers=p["workers"],
            check_mode=module.check_mode,
            diff=module.diff_mode,
            continue_on_error=p["continue_on_error"],
            namespace=p.get("namespace"),
            apply_set=p.get("apply_set"),
            apply_set_parent=p.get("apply_set_parent") or "Secret",
            apply_set_namespace=p.get("apply_set_namespace"),
            apply_set_tooling=p.get("apply_set_tooling") or applyset.DEFAULT_TOOL,
            prune=p["prune"],
            wait=p["wait"],
            wait_timeout=p["wait_timeout"],
            wait_condition=p.get("wait_condition"),
            warn=module.warn,
        )
        result = engine.run(objects, p["state"])
    finally:
        client.close()
    return finish(result, p["continue_on_error"], module.warn)
