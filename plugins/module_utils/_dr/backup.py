# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capture engine of ``adhar.platform.backup`` (and the work of ``backup_info``).

Steps of ``run_backup``; nothing is written before step 5:

1. options checked: filters, retention, storage location, encryption key, adhar config;
2. discovery of every served resource (preferred version of each group) with the ``list`` verb:
   aggregated discovery (two requests) when the server has it, else ``/api``, ``/apis`` and every
   group-version in parallel;
3. ``plan_capture``: what the filters (Velero's semantics) select, as listing tasks;
4. the rules that must hold before anything is written: Secrets in scope need a key, an etcd
   snapshot needs a key, ``volume_snapshots: always`` needs the snapshot API and a class;
5. the per-cluster lock, then an ``ArchiveWriter``: every listing task pages through its resource
   (``limit``/``continue``; a ``410 Gone`` restarts the type) on a bounded pool and hands the objects
   of each page to ``writer.submit_many`` in batches of ``WRITE_BATCH`` (bounded too: one thread
   hand-off per batch, not per object), so the cluster is never held in memory;
6. related cluster-scoped objects (CRDs of captured custom resources, PVs of captured PVCs, the
   Namespaces of captured objects), VolumeSnapshots, the etcd snapshot, the adhar config;
7. commit (manifest last), retention, lock released whatever happens.

The filter and planning functions are pure (unit-tested without a cluster).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import fnmatch
import os
import re
import threading
import time

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import (
    ADHAR_CONFIG,
    ArchiveReader,
    ArchiveWriter,
    check_backup_name,
    enforce_retention,
    list_backups,
    parse_duration,
    resource_items,
    resource_key,
)
from ansible_collections.adhar.platform.plugins.module_utils._archive.reader import check_verification
from ansible_collections.adhar.platform.plugins.module_utils._common.args import WORKERS_BOUNDS, at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_bounds, limit_malloc_arenas
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import key_wrapper_from_params, verify_key_info
from ansible_collections.adhar.platform.plugins.module_utils._dr.csi_snapshots import (  # noqa: F401 (snapshot_name: public)
    DEFAULT_CLASS_ANNOTATION,
    SNAPSHOT_GROUP,
    class_for_driver,
    pvc_driver,
    snapshot_body,
    snapshot_name,
    snapshot_state,
    wait_snapshots,
)
from ansible_collections.adhar.platform.plugins.module_utils._dr.page_codec import (  # noqa: F401 (EXCLUDE_LABELS: public)
    EXCLUDE_LABELS,
    DecoderPool,
    PageError,
    default_processes,
    is_excluded,
    namespace_matches,
    page_continue,
    pvc_fields,
    split_page,
)
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Resource
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore_sanitize import LabelSelector
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import normalize_storage_params, storage_from_params
from ansible_collections.adhar.platform.plugins.module_utils._dr.volume_data import capture_volumes

# Groups whose objects are live readings, not state: never captured.
SKIP_GROUPS = frozenset(("metrics.k8s.io",))
# Served but not stored state: computed on every read (deprecated since 1.19).
COMPUTED_RESOURCES = frozenset((("", "componentstatuses"),))
EVENT_RESOURCES = frozenset((("", "events"), ("events.k8s.io", "events")))
AGGREGATED_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
# Objects handed to the archive writer at once (its threads encode, hash, encrypt and store them).
WRITE_BATCH = 100
# Listing threads that decode, filter and encode a page at the same time in this process (without decoder processes).
# The work holds the GIL, so more would only keep more decoded pages (several MB each) alive at once; the other threads
# meanwhile wait for the API server.
DECODING = 2
# The allowed range of each numeric option (AdharModule checks them before anything runs; run_* again).
# A lock is refreshed every 30 s at the soonest, so a shorter ttl would let it go stale while held.
BACKUP_BOUNDS = {**WORKERS_BOUNDS, "page_size": at_least(1, 10000), "lock_ttl": at_least(60),
                 "pack_size": at_least(0, 64), "decoder_processes": at_least(0, 16),
                 "volume_snapshot_timeout": at_least(0, 3600),
                 "retention.keep_last": at_least(1)}
BACKUP_INFO_BOUNDS = dict(WORKERS_BOUNDS)
_GLOB_CHARS = re.compile(r"[*?\[]")
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


# ----------------------------------------------------------------------------- filters


# The filter options of backup and restore, mirrored 1:1 by plugins/doc_fragments/filters.py (a unit test checks it).
# Entries are ``raw`` so that a number (``include_namespaces: [5]``) reaches Filters, which refuses it by index,
# instead of becoming the string "5" that matches nothing.
FILTER_ARG_SPEC = {
    "include_namespaces": {"type": "list", "elements": "raw"},
    "exclude_namespaces": {"type": "list", "elements": "raw"},
    "include_resources": {"type": "list", "elements": "raw"},
    "exclude_resources": {"type": "list", "elements": "raw"},
    "label_selector": {"type": "raw"},
    "include_cluster_resources": {"type": "bool"},
    "strict": {"type": "bool", "default": False},
}


def _str_list(value, option):
    """The entries of a filter option: each must be a non-empty string (errors name the option and the index)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise AdharError("%s must be a list of strings, got %s" % (option, type(value).__name__), option=option)
    out = []
    for index, entry in enumerate(value):
        if not isinstance(entry, str):
            raise AdharError("%s[%d] must be a string, got %s %r" % (option, index, type(entry).__name__, entry),
                             option=option, index=index)
        if not entry.strip():
            raise AdharError("%s[%d] is empty" % (option, index), option=option, index=index)
        out.append(entry.strip())
    return out


def selector_text(value, option="label_selector"):
    """``label_selector`` as a stripped string or ``None``; anything but a string is refused, the syntax checked."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdharError("%s must be a string like 'app=web,tier!=db', got %s %r" % (option, type(value).__name__, value),
                         option=option)
    text = value.strip() or None
    LabelSelector(text)  # a term the API server would refuse fails here, before any work
    return text


def report_unmatched(unmatched, where, strict):
    """Warnings for include filter entries that match nothing in ``where``; with ``strict`` one ``AdharError``.

    ``unmatched`` maps an option name to its entries that matched nothing.
    """
    entries = ["%s %r" % (option, entry) for option in sorted(unmatched) for entry in unmatched[option]]
    if not entries:
        return []
    if strict:
        raise AdharError("strict: these include filters match nothing in %s: %s" % (where, ", ".join(entries)),
                         option=sorted(unmatched)[0], unmatched=dict(unmatched))
    return ["%s matches nothing in %s (a misspelling? strict: true makes this an error)" % (entry, where)
            for entry in entries]


class Filters:
    """Velero's filter semantics (resource-filtering.md): include/exclude namespaces (globs), resources,
    a label selector, tri-state cluster-scoped resources; the exclude labels always win."""

    def __init__(self, include_namespaces=None, exclude_namespaces=None, include_resources=None, exclude_resources=None,
                 label_selector=None, include_cluster_resources=None, include_events=False):
        self.include_namespaces = _str_list(include_namespaces, "include_namespaces") or ["*"]
        self.exclude_namespaces = _str_list(exclude_namespaces, "exclude_namespaces")
        self.include_resources = [r.lower() for r in _str_list(include_resources, "include_resources")] or ["*"]
        self.exclude_resources = [r.lower() for r in _str_list(exclude_resources, "exclude_resources")]
        self.warnings = []
        if "*" in self.exclude_resources:
            self.warnings.append("exclude_resources: '*' is ignored (as in Velero, wildcard excludes have no effect)")
            self.exclude_resources = [r for r in self.exclude_resources if r != "*"]
        if "*" in self.exclude_namespaces:
            self.warnings.append("exclude_namespaces: '*' is ignored (as in Velero, wildcard excludes have no effect)")
            self.exclude_namespaces = [n for n in self.exclude_namespaces if n != "*"]
        if "*" in self.include_resources:
            self.include_resources = ["*"]  # a wildcard include wins over specific ones
        if "*" in self.include_namespaces:
            self.include_namespaces = ["*"]
        self.label_selector = selector_text(label_selector)
        if include_cluster_resources not in (None, True, False):
            raise AdharError("include_cluster_resources must be true, false or null (auto)", option="include_cluster_resources")
        self.include_cluster_resources = include_cluster_resources
        self.include_events = bool(include_events)

    # -- namespaces

    @property
    def all_namespaces(self):
        return self.include_namespaces == ["*"]

    @property
    def namespace_filtered(self):
        """True when the backup does not cover every namespace (cluster-scoped resources are then off in auto mode)."""
        return not self.all_namespaces or bool(self.exclude_namespaces)

    @property
    def exact_namespaces(self):
        """The included namespaces when they are plain names (listed one by one), else ``None`` (list all, filter here)."""
        if self.all_namespaces or any(_GLOB_CHARS.search(n) for n in self.include_namespaces):
            return None
        return sorted(n for n in set(self.include_namespaces) if self.namespace_ok(n))

    def unmatched_namespaces(self, namespaces):
        """The ``include_namespaces`` entries (names or globs) that match none of ``namespaces``."""
        if self.all_namespaces:
            return []
        return [p for p in self.include_namespaces if not any(fnmatch.fnmatchcase(n, p) for n in namespaces)]

    def namespace_ok(self, namespace):
        return namespace_matches(namespace, self.include_namespaces, self.exclude_namespaces)

    # -- resources

    def resource_included(self, res, aliases=()):
        names = resource_names(res, aliases)
        if any(entry in names for entry in self.exclude_resources):
            return False
        return self.include_resources == ["*"] or any(entry in names for entry in self.include_resources)

    def cluster_mode(self):
        """``all``, ``none`` or ``related`` (auto with a namespace filter: only what captured objects need)."""
        if self.include_cluster_resources is True:
            return "all"
        if self.include_cluster_resources is False:
            return "none"
        return "related" if self.namespace_filtered else "all"

    def server_selector(self):
        """The label selector sent with every list: the user's, and the exclude labels as ``!=`` terms."""
        terms = [self.label_selector] if self.label_selector else []
        terms += ["%s!=%s" % pair for pair in EXCLUDE_LABELS]
        return ",".join(terms)

    def describe(self):
        return {"include_namespaces": self.include_namespaces, "exclude_namespaces": self.exclude_namespaces,
                "include_resources": self.include_resources, "exclude_resources": self.exclude_resources,
                "label_selector": self.label_selector, "include_cluster_resources": self.include_cluster_resources,
                "cluster_resources": self.cluster_mode(), "include_events": self.include_events,
                "exclude_labels": ["%s=%s" % pair for pair in EXCLUDE_LABELS]}


def resource_names(res, aliases=()):
    """Every name a filter entry may use for ``res``: plural, singular, kind, short names; each also ``.<group>``."""
    base = {res.plural.lower(), res.kind.lower()} | {a.lower() for a in aliases if a}
    names = set(base)
    if res.group:
        names |= {"%s.%s" % (n, res.group.lower()) for n in base}
    return names


# ----------------------------------------------------------------------------- discovery


def _resource_from_aggregated(group, version, entry):
    kind = (entry.get("responseKind") or {}).get("kind")
    name = entry.get("resource") or ""
    if not kind or not name or "/" in name:
        return None, ()
    res = Resource(group, version, kind, name, entry.get("scope") == "Namespaced", entry.get("verbs"))
    return res, tuple([entry.get("singularResource")] + list(entry.get("shortNames") or []))


def parse_aggregated(documents):
    """``[(Resource, aliases)]`` from ``APIGroupDiscoveryList`` documents (the first version of a group is the preferred one)."""
    out, stale = [], []
    for doc in documents:
        for item in doc.get("items") or []:
            group = (item.get("metadata") or {}).get("name") or ""
            versions = item.get("versions") or []
            if not versions:
                continue
            preferred = versions[0]
            if preferred.get("freshness") == "Stale":
                stale.append(group or "core")
            for entry in preferred.get("resources") or []:
                res, aliases = _resource_from_aggregated(group, preferred.get("version"), entry)
                if res is not None:
                    out.append((res, aliases))
    return out, stale


def parse_resource_list_full(group, version, document):
    """``[(Resource, aliases)]`` from one ``APIResourceList`` (subresources skipped)."""
    out = []
    for entry in (document or {}).get("resources") or []:
        name = entry.get("name") or ""
        if not entry.get("kind") or not name or "/" in name:
            continue
        res = Resource(group, version, entry["kind"], name, entry.get("namespaced"), entry.get("verbs"))
        out.append((res, tuple([entry.get("singularName")] + list(entry.get("shortNames") or []))))
    return out


def discover(client, workers=8):
    """Every served resource (preferred versions): ``(list of (Resource, aliases), warnings, requests)``."""
    warnings = []
    docs = []
    for path in ("/api", "/apis"):
        status, data = client.raw("GET", path, headers={"Accept": AGGREGATED_ACCEPT})
        docs.append(data if isinstance(data, dict) else {})
    if all(d.get("kind") == "APIGroupDiscoveryList" for d in docs):
        found, stale = parse_aggregated(docs)
        if stale:
            warnings.append("discovery of %s is stale (their API service is not answering); their resources may be "
                            "missing from the backup" % ", ".join(sorted(stale)))
        return found, warnings, 2
    versions = [("", v) for v in (docs[0].get("versions") or ["v1"])[:1]]
    for group in docs[1].get("groups") or []:
        pref = (group.get("preferredVersion") or {}).get("version") or ((group.get("versions") or [{}])[0]).get("version")
        if pref:
            versions.append((group.get("name"), pref))

    def fetch(gv):
        group, version = gv
        path = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
        status, data = client.raw("GET", path, raise_for_status=False)
        if status == 200 and isinstance(data, dict):
            return parse_resource_list_full(group, version, data), None
        return [], "discovery of %s failed (HTTP %s); its resources are not in the backup" % (path, status)

    found = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(versions)))) as pool:
        for items, warning in pool.map(fetch, versions):
            found.extend(items)
            if warning:
                warnings.append(warning)
    return found, warnings, 2 + len(versions)


def plan_capture(discovered, filters):
    """What to list: ``{"tasks": [(Resource, namespace or None)], "namespaced": [...], "cluster": [...],
    "skipped": {resource_key: reason}, "aliases": {resource_key: aliases}, "unmatched_includes": [...]}``."""
    namespaced, cluster, skipped, aliases = [], [], {}, {}
    seen = set()
    matched = set()
    mode = filters.cluster_mode()
    for res, names in discovered:
        key = resource_key(res.plural, res.group)
        if key in seen:
            continue
        seen.add(key)
        aliases[key] = names
        all_names = resource_names(res, names)
        matched.update(e for e in filters.include_resources if e in all_names)
        if "list" not in res.verbs:
            skipped[key] = "not listable"
            continue
        if res.group in SKIP_GROUPS:
            skipped[key] = "metrics (live readings, not state)"
            continue
        if (res.group, res.plural) in COMPUTED_RESOURCES:
            skipped[key] = "computed on every read, not stored state"
            continue
        if (res.group, res.plural) in EVENT_RESOURCES:
            if not filters.include_events:
                skipped[key] = "events are not captured (include_events: true to capture them)"
                continue
            if res.group:  # the same events as the core resource
                skipped[key] = "same objects as the core events resource"
                continue
        if not filters.resource_included(res, names):
            skipped[key] = "excluded by the resource filters"
            continue
        if res.namespaced:
            namespaced.append(res)
        elif res.group == "" and res.plural == "namespaces":
            cluster.append(res)  # the Namespaces of the included namespaces, whatever the cluster mode
        elif mode == "all":
            cluster.append(res)
        else:
            skipped[key] = ("cluster-scoped: include_cluster_resources is false" if mode == "none" else
                            "cluster-scoped: not captured with a namespace filter (only related objects are)")
    unmatched = [e for e in filters.include_resources if e != "*" and e not in matched]
    exact = filters.exact_namespaces
    tasks = []
    for res in namespaced:
        if exact is None:
            tasks.append((res, None))
        else:
            tasks.extend((res, ns) for ns in exact)
    tasks.extend((res, None) for res in cluster)
    return {"tasks": tasks, "namespaced": namespaced, "cluster": cluster, "skipped": skipped, "aliases": aliases,
            "unmatched_includes": unmatched}


def namespace_names(client, page_size=500):
    """Names of every Namespace of the cluster (paged), or ``None`` when this user may not list them."""
    names, cont = [], None
    while True:
        query = {"limit": page_size}
        if cont:
            query["continue"] = cont
        try:
            dummy, data = client.raw("GET", "/api/v1/namespaces", query)
        except Exception as exc:
            if _api_exception_status(exc) in (401, 403):
                return None
            raise
        data = data if isinstance(data, dict) else {}
        names.extend((item.get("metadata") or {}).get("name") or "" for item in data.get("items") or [])
        cont = (data.get("metadata") or {}).get("continue")
        if not cont:
            return names


def unmatched_includes(client, filters, plan, strict):
    """Warnings (or, with ``strict``, an error) for include filters that match nothing in the cluster, before capture."""
    unmatched = {}
    if plan["unmatched_includes"]:
        unmatched["include_resources"] = list(plan["unmatched_includes"])
    warnings = []
    if not filters.all_namespaces:
        names = namespace_names(client)
        if names is None:
            if strict:
                raise AdharError("strict: include_namespaces cannot be checked: this user may not list namespaces",
                                 option="include_namespaces")
            warnings.append("include_namespaces were not checked: this user may not list namespaces")
        else:
            missing = filters.unmatched_namespaces(names)
            if missing:
                unmatched["include_namespaces"] = missing
    return report_unmatched(unmatched, "the cluster", strict) + warnings


def secrets_in_scope(plan):
    return any(res.group == "" and res.plural == "secrets" for res in plan["namespaced"])


# ----------------------------------------------------------------------------- options


def default_cluster_name(params):
    """The current kubeconfig context's name (made a valid backup/lock name), for the ``cluster`` option's default."""
    context = params.get("context")
    if not context:
        kubeconfig = params.get("kubeconfig") or os.environ.get("K8S_AUTH_KUBECONFIG") or os.environ.get("KUBECONFIG") \
            or "~/.kube/config"
        if isinstance(kubeconfig, dict):
            context = kubeconfig.get("current-context")
        else:
            import yaml
            from ansible.module_utils.common.yaml import yaml_load
            for path in str(kubeconfig).split(os.pathsep):
                try:
                    with open(os.path.expanduser(path)) as f:
                        doc = yaml_load(f) or {}
                except (OSError, ValueError, yaml.YAMLError):
                    continue
                if isinstance(doc, dict) and doc.get("current-context"):
                    context = doc["current-context"]
                    break
    if not context:
        raise AdharError("cluster: no kubeconfig context to name the source cluster after; set cluster", option="cluster")
    name = _NAME_BAD.sub("-", str(context)).strip("-._") or "cluster"
    return name[:200]


def check_cluster_name(cluster):
    if not isinstance(cluster, str) or not cluster or _NAME_BAD.search(cluster) or not cluster[0].isalnum() \
            or not cluster[-1].isalnum() or len(cluster) > 200:
        raise AdharError("cluster %r: use 1-200 letters, digits, '.', '_' and '-', starting and ending with a letter or "
                         "digit" % (cluster,), option="cluster")
    return cluster


def load_adhar_config(value):
    """The ``adhar_config`` option (a path or a dict) as YAML bytes, or ``None``."""
    if value is None:
        return None
    if isinstance(value, dict):
        import yaml
        return yaml.safe_dump(value, sort_keys=True, default_flow_style=False).encode("utf-8")
    if isinstance(value, str) and value.strip():
        path = os.path.expanduser(value.strip())
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise AdharError("adhar_config: cannot read %s: %s" % (path, exc.strerror or exc), option="adhar_config") from exc
    raise AdharError("adhar_config must be a path or a dict, got %s" % type(value).__name__, option="adhar_config")


def check_retention(retention):
    retention = dict(retention or {})
    keep_last, max_age = retention.get("keep_last"), retention.get("max_age")
    if keep_last is not None and (isinstance(keep_last, bool) or int(keep_last) < 1):
        raise AdharError("retention.keep_last must be at least 1 (the newest complete backup is always kept)",
                         option="retention.keep_last")
    if max_age is not None:
        if isinstance(max_age, str) and max_age.strip().isdigit():
            max_age = int(max_age.strip())
        parse_duration(max_age, "retention.max_age")
    return {"keep_last": keep_last, "max_age": max_age} if (keep_last or max_age) else None


def open_storage(storage_params):
    """The storage backend (local storage with ``fsync="commit"``: the manifest still lands after every item is durable)."""
    normalized = normalize_storage_params(storage_params)
    if normalized["type"] == "local":
        storage = storage_from_params(normalized, fsync="commit")
    else:
        storage = storage_from_params(normalized)
    storage.check(write=True, create=False)  # writable or creatable; created by the first write (the lock)
    return storage


# ----------------------------------------------------------------------------- capture


def _api_exception_status(exc):
    return getattr(exc, "status", None) if type(exc).__name__ == "ApiException" else None


def _lists_pvcs(res):
    """Whether ``res`` is PersistentVolumeClaims (the capture notes each one's volume)."""
    return res.group == "" and res.plural == "persistentvolumeclaims"


class Capture:
    """One backup's listing and writing (see the module docstring).

    ``decoders``: decoder processes that split the pages for a writer taking encoded objects (``page_codec``); None
    picks ``default_processes()`` (two fewer than the cores), 0 splits pages in this process."""

    def __init__(self, client, filters, plan, writer=None, workers=8, page_size=500, decoders=None):
        self.client = client
        self.filters = filters
        self.plan = plan
        self.writer = writer
        self.workers = max(1, int(workers))
        self.page_size = max(1, int(page_size))
        self.selector = filters.server_selector()
        self.counts = {}
        self.api_versions = {resource_key(r.plural, r.group): r.api_version for r in plan["namespaced"] + plan["cluster"]}
        self.warnings = []
        self.pvcs = []             # captured PVCs: {namespace, name, volume}
        self.custom_types = set()  # (plural, group) of captured custom resources
        self.namespaces_seen = set()
        self.namespaces_captured = set()
        self.restarts = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()  # set when a task failed: the others stop at their next page
        self._namespaces_ok = {}  # namespace -> the filters' verdict (globs matched once per namespace)
        self._decoding = threading.BoundedSemaphore(DECODING)
        # a writer that stores objects as they are stored in an archive gets them encoded (the decoded page then goes
        # at once); any other (apps' in-memory sink) gets the objects
        self._encode = bool(getattr(writer, "encoded_objects", False))
        self.decoders = (default_processes() if decoders is None else max(0, int(decoders))) if self._encode else 0
        self._pool = None
        self._read_ahead = None  # the pool that asks for each type's next page while the current one is split

    # -- one object

    def _keep(self, res, key, kept):
        """Account the objects of ``res`` a page (or a related object) keeps, ``(namespace, name, item, pvc)`` each
        (counts, namespaces, PVCs, custom types: under the lock once); returns their writer entries ``(path, item,
        encrypt, labels)``, none without a writer (check mode)."""
        is_namespaces = res.group == "" and res.plural == "namespaces"
        custom = res.group and "." in res.group and not res.group.endswith(".k8s.io")
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + len(kept)
            self.api_versions[key] = res.api_version
            self.namespaces_seen.update([entry[0] for entry in kept if entry[0]])
            if is_namespaces:
                self.namespaces_captured.update([entry[1] for entry in kept])
            elif _lists_pvcs(res):
                self.pvcs.extend({"namespace": ns, "name": name, "volume": pvc[0], "storage_class": pvc[1]}
                                 for ns, name, dummy, pvc in kept if pvc is not None)
            if custom and kept:
                self.custom_types.add((res.plural, res.group))
        if self.writer is None:
            return []
        encrypt = (res.group == "" and res.plural == "secrets") or None
        paths = resource_items(res.plural, res.group, [(entry[0], entry[1]) for entry in kept])
        return [(path, entry[2], encrypt, labels) for (path, labels), entry in zip(paths, kept)]

    def _emit(self, res, obj):
        """``_keep`` for one object (a related one); returns its writer entry or ``None`` (check mode)."""
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        meta = obj.get("metadata") or {}
        pvc = pvc_fields(obj) if _lists_pvcs(res) else None
        entries = self._keep(res, resource_key(res.plural, res.group), [(meta.get("namespace"), meta.get("name"), obj, pvc)])
        return entries[0] if entries else None

    def _submit_many(self, entries):
        submit_many = getattr(self.writer, "submit_many", None)
        if submit_many is not None:
            submit_many(entries)
            return
        for path, obj, encrypt, labels in entries:  # a writer without batches (ArchiveWriter has them)
            self.writer.submit(path, obj, encrypt, **labels)

    # -- one listing task

    def list_task(self, res, namespace=None):
        """Page through one resource (all namespaces, one namespace, or cluster-scoped); restarts on 410 Gone.

        Reads one page ahead: the next page is asked for (on the read-ahead pool) as soon as a page's ``continue``
        token is read from its head, so the API server prepares it while this thread splits and hands off the
        current one."""
        path = res.path(namespace)
        key = resource_key(res.plural, res.group)
        is_namespaces = res.group == "" and res.plural == "namespaces"
        seen = set()
        cont = None
        ahead = None  # (token, future) of the page asked for ahead
        restarts = 0
        try:
            while not self._stop.is_set():
                try:
                    if ahead is not None and ahead[0] == cont:
                        body = ahead[1].result()
                    else:
                        if ahead is not None:  # the head read another token than the page's (never seen): unused
                            ahead[1].cancel()
                        body = self._list_page(path, cont)
                except Exception as exc:
                    status = _api_exception_status(exc)
                    if status == 410 and restarts < 5:
                        restarts += 1  # the continue token expired: list the type again, skipping what was written
                        with self._lock:
                            self.restarts[key] = self.restarts.get(key, 0) + 1
                        cont = ahead = None
                        continue
                    if status in (404, 405):
                        with self._lock:
                            self.warnings.append("%s: not listable any more (HTTP %s); skipped" % (key, status))
                        return
                    if status is not None:
                        raise AdharError("listing %s failed: HTTP %s %s" % (path, status, getattr(exc, "reason", "")),
                                         resource=key, status=status) from exc
                    raise
                ahead = None
                token = page_continue(body) if self._read_ahead is not None else None
                if token:
                    ahead = (token, self._read_ahead.submit(self._list_page, path, token))
                batch, cont = self._page(res, key, path, body, seen, is_namespaces)
                del body
                for start in range(0, len(batch), WRITE_BATCH):  # one hand-off per batch, not per object
                    self._submit_many(batch[start:start + WRITE_BATCH])
                del batch  # the writer's now
                if not cont:
                    return
        finally:
            if ahead is not None:
                ahead[1].cancel()  # stopped or failed: a page asked for ahead is not waited for (nor kept)

    def _list_page(self, path, cont):
        """One page of ``path`` (its bytes), after the ``continue`` token ``cont`` (None: the first page)."""
        query = {"limit": self.page_size, "labelSelector": self.selector}
        if cont:
            query["continue"] = cont
        return self.client.raw("GET", path, query, decode=False)[1]

    def _page(self, res, key, path, body, seen, is_namespaces):
        """One listed page: ``(writer entries of its objects, encoded for an archive writer, the continue token)``."""
        what = (res.api_version, res.kind, is_namespaces, _lists_pvcs(res))
        try:
            if self._pool is not None:  # a decoder process splits it; this thread waits without the GIL
                cont, kept = self._pool.split(body, *what)
            else:
                with self._decoding:  # decoded, filtered and encoded by few threads at a time (see DECODING)
                    cont, kept = split_page(body, *what, include=self.filters.include_namespaces,
                                            exclude=self.filters.exclude_namespaces, encode=self._encode,
                                            verdicts=self._namespaces_ok)
        except PageError as exc:
            raise AdharError("listing %s: %s" % (path, exc), resource=key) from None
        fresh = []
        for entry in kept:
            ident = entry[:2]
            if ident not in seen:  # a list restarted after 410 Gone gives objects again
                seen.add(ident)
                fresh.append(entry)
        return self._keep(res, key, fresh), cont

    def run(self):
        """Run every listing task on a pool of ``workers`` (and the decoder processes); raises the first error."""
        tasks = self.plan["tasks"]
        if not tasks:
            return
        self._read_ahead = concurrent.futures.ThreadPoolExecutor(max_workers=min(self.workers, len(tasks)),
                                                                 thread_name_prefix="adhar-list-ahead")
        if self.decoders:
            try:
                self._pool = DecoderPool(self.decoders, self.filters.include_namespaces, self.filters.exclude_namespaces)
            except (OSError, PageError) as exc:
                self.warnings.append("decoder processes could not start (%s): the pages were decoded in the module's "
                                     "process" % exc)
                self.decoders = 0
        try:
            self._run(tasks)
        finally:
            self._read_ahead.shutdown(wait=True)  # a page asked for ahead by a task that stopped is not left running
            self._read_ahead = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _run(self, tasks):
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.workers, len(tasks)),
                                                   thread_name_prefix="adhar-list") as pool:
            futures = [pool.submit(self.list_task, res, ns) for res, ns in tasks]
            try:
                for future in concurrent.futures.as_completed(futures):
                    future.result()
            except BaseException:
                self._stop.set()
                for future in futures:
                    future.cancel()
                raise

    # -- related objects

    def _get(self, path):
        try:
            dummy, data = self.client.raw("GET", path)
        except Exception as exc:
            if _api_exception_status(exc) == 404:
                return None
            raise
        return data if isinstance(data, dict) else None

    def _add_related(self, res, obj):
        if obj is None or is_excluded(obj):
            return False
        entry = self._emit(res, obj)
        if entry is not None:
            path, obj, encrypt, labels = entry
            self.writer.submit(path, obj, encrypt, **labels)
        return True

    def capture_related(self, discovered):
        """CRDs of captured custom resources, PVs of captured PVCs, Namespaces of captured objects; returns what was added."""
        added = {"customresourcedefinitions": [], "persistentvolumes": [], "namespaces": []}
        mode = self.filters.cluster_mode()
        by_key = {(r.group, r.plural): r for r, dummy in discovered}
        crd = by_key.get(("apiextensions.k8s.io", "customresourcedefinitions"))
        pv = by_key.get(("", "persistentvolumes"))
        ns_res = by_key.get(("", "namespaces"))
        if mode == "related":
            if crd is not None and self.filters.resource_included(crd, self.plan["aliases"].get(
                    resource_key(crd.plural, crd.group), ())):
                for plural, group in sorted(self.custom_types):
                    name = "%s.%s" % (plural, group)
                    if self._add_related(crd, self._get(crd.path(name=name))):
                        added["customresourcedefinitions"].append(name)
            if pv is not None and self.filters.resource_included(pv, self.plan["aliases"].get("persistentvolumes", ())):
                for volume in sorted({p["volume"] for p in self.pvcs if p.get("volume")}):
                    if self._add_related(pv, self._get(pv.path(name=volume))):
                        added["persistentvolumes"].append(volume)
        if ns_res is not None and mode != "none" and self.filters.resource_included(ns_res, self.plan["aliases"].get("namespaces", ())):
            for name in sorted(self.namespaces_seen - self.namespaces_captured):
                if self._add_related(ns_res, self._get(ns_res.path(name=name))):
                    added["namespaces"].append(name)
        return {k: v for k, v in added.items() if v}


# ----------------------------------------------------------------------------- volume snapshots


def snapshot_support(discovered, client, mode, class_name):
    """``(supported, reason, snapshot_resource, class_name)`` for VolumeSnapshots of captured PVCs."""
    if mode == "never":
        return False, "volume_snapshots is never", None, None
    by_key = {(r.group, r.plural): r for r, dummy in discovered}
    vs = by_key.get((SNAPSHOT_GROUP, "volumesnapshots"))
    vsc = by_key.get((SNAPSHOT_GROUP, "volumesnapshotclasses"))
    if vs is None or vsc is None:
        return False, ("the API server does not serve %s VolumeSnapshot and VolumeSnapshotClass (the snapshot CRDs and "
                       "a CSI snapshot controller are not installed)" % SNAPSHOT_GROUP), None, None
    dummy, data = client.raw("GET", vsc.path())
    classes = (data or {}).get("items") or []
    names = [(c.get("metadata") or {}).get("name") for c in classes]
    if class_name:
        if class_name not in names:
            return False, "VolumeSnapshotClass %s does not exist (there are: %s)" % (
                class_name, ", ".join(sorted(n for n in names if n)) or "none"), vs, None
        return True, None, vs, class_name
    defaults = [(c.get("metadata") or {}).get("name") for c in classes
                if str(((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"]
    if not defaults:
        return False, ("no default VolumeSnapshotClass (annotation %s: \"true\") and volume_snapshot_class not given%s"
                       % (DEFAULT_CLASS_ANNOTATION, "; classes: " + ", ".join(sorted(n for n in names if n)) if names else "")), \
            vs, None
    return True, None, vs, sorted(defaults)[0]


def create_snapshots(client, writer, vs_res, class_name, backup, pvcs, explicit=None, timeout=0):
    """One VolumeSnapshot per captured PVC with the class of its CSI driver (``csi_snapshots``), labelled with the
    backup, watched until ready (``timeout``); each one is stored in the backup as last read.  PVCs without a class
    are reported with ``state: skipped``."""
    dummy, data = client.raw("GET", "/apis/%s/%s/volumesnapshotclasses" % (vs_res.group, vs_res.version))
    classes = (data or {}).get("items") or []

    def get(path):
        try:
            return client.raw("GET", path)[1]
        except Exception as exc:  # pylint: disable=broad-except
            if _api_exception_status(exc) == 404:
                return None
            raise

    out, bodies = [], {}
    for pvc in sorted(pvcs, key=lambda p: (p["namespace"], p["name"])):
        driver = pvc_driver(get, pvc)
        chosen, why = class_for_driver(classes, driver, explicit, class_name)
        name = snapshot_name(backup, pvc["name"])
        entry = {"namespace": pvc["namespace"], "pvc": pvc["name"], "name": name, "class": chosen, "driver": driver}
        if chosen is None:
            out.append(dict(entry, ready_to_use=False, state="skipped", message=why))
            continue
        body = snapshot_body(vs_res, backup, pvc, chosen)
        dummy, created = client.raw("POST", vs_res.path(namespace=pvc["namespace"]), body=body)
        current = created if isinstance(created, dict) else body
        state, message = snapshot_state(current)
        bodies[(pvc["namespace"], name)] = current
        out.append(dict(entry, ready_to_use=state == "ready", state=state, message=message))
    if timeout and any(s["state"] == "pending" for s in out):
        wait_snapshots(client, vs_res, out, timeout)
        for entry in out:
            if entry["state"] != "skipped":
                bodies[(entry["namespace"], entry["name"])] = get(vs_res.path(namespace=entry["namespace"], name=entry["name"])) \
                    or bodies[(entry["namespace"], entry["name"])]
    for current in bodies.values():
        current.setdefault("apiVersion", vs_res.api_version)
        current.setdefault("kind", "VolumeSnapshot")
        writer.add_resource(current, vs_res.plural, vs_res.group)
    return out


# ----------------------------------------------------------------------------- the module


def _now_name(cluster):
    return "%s-%s" % (cluster, datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S"))


def _etcd_requested(params):
    etcd = params.get("etcd_snapshot")
    return bool(etcd) and any(v for k, v in etcd.items() if k in ("local_cluster", "endpoints"))


def run_backup(module):
    """``adhar.platform.backup``: module params in, result dict out."""
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    limit_malloc_arenas()  # before the reader and request threads start: their freed memory is shared
    p = module.params
    t0 = time.monotonic()
    timings = {}
    warnings = []
    filters = Filters(p.get("include_namespaces"), p.get("exclude_namespaces"), p.get("include_resources"),
                      p.get("exclude_resources"), p.get("label_selector"), p.get("include_cluster_resources"),
                      p.get("include_events"))
    warnings.extend(filters.warnings)
    check_bounds(p, BACKUP_BOUNDS)
    if p.get("volume_snapshot_class") and p.get("volume_snapshots") == "never":
        raise AdharError("volume_snapshot_class is given but volume_snapshots is never: drop one of them",
                         option="volume_snapshot_class")
    retention = check_retention(p.get("retention"))
    cluster = check_cluster_name(p.get("cluster") or default_cluster_name(p))
    name = check_backup_name(p.get("name") or _now_name(cluster))
    key_wrapper = key_wrapper_from_params(p.get("encryption"), p.get("storage"))
    config_bytes = load_adhar_config(p.get("adhar_config"))
    if _etcd_requested(p) and key_wrapper is None:
        raise AdharError("etcd_snapshot: an etcd snapshot holds every Secret of the cluster; give encryption",
                         option="encryption")
    etcd_target = None
    if _etcd_requested(p):  # checked (cluster, TLS files, a member answering) before any object is captured
        from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import resolve_target
        etcd_target = resolve_target(p["etcd_snapshot"])
    storage = open_storage(p["storage"])
    module.require_k8s()
    client = K8sClient.from_params(p, check_mode=module.check_mode)
    try:
        version = (client.server_version() or {}).get("gitVersion")
        discovered, discovery_warnings, requests = discover(client, p["workers"])
        warnings.extend(discovery_warnings)
        plan = plan_capture(discovered, filters)
        warnings.extend(unmatched_includes(client, filters, plan, p.get("strict")))
        if secrets_in_scope(plan) and key_wrapper is None:
            raise AdharError("Secrets would be stored in plaintext: give `encryption` or exclude secrets "
                             "(exclude_resources: [secrets])", option="encryption")
        supported, reason, vs_res, class_name = snapshot_support(discovered, client, p["volume_snapshots"],
                                                                 p.get("volume_snapshot_class"))
        if p["volume_snapshots"] == "always" and not supported:
            raise AdharError("volume_snapshots is always but VolumeSnapshots cannot be taken: %s" % reason,
                             option="volume_snapshots")
        timings["discovery"] = round(time.monotonic() - t0, 3)
        result = {"changed": True}
        if module.check_mode:
            capture = Capture(client, filters, plan, None, p["workers"], p["page_size"])
            capture.run()
            warnings.extend(capture.warnings)
            capture.capture_related(discovered)
            total = sum(capture.counts.values())
            volumes = None
            if p.get("volume_data") != "never":
                volumes, volume_warnings = capture_volumes(client, None, capture.pvcs, check_mode=True)
                warnings.extend(volume_warnings)
            result["backup"] = {"name": name, "cluster": cluster, "complete": False, "counts": capture.counts,
                                "volumes": volumes,
                                "item_count": total, "size": 0, "encrypted": key_wrapper is not None,
                                "seconds": round(time.monotonic() - t0, 3), "objects_per_second": None, "etcd": None,
                                "volume_snapshots": _vs_report(supported, reason, class_name, [
                                    c for c in capture.pvcs if not any(
                                        (v["namespace"], v["pvc"]) == (c["namespace"], c["name"])
                                        for v in (volumes or {}).get("captured") or [])], None, True),
                                "storage": storage.describe(), **verify_key_info(key_wrapper)}
            result["retention"] = {"deleted": [], "kept": []}
            result["timings"] = timings
            for warning in warnings:
                module.warn(warning)
            return result
        lock = storage.lock(cluster, ttl=p["lock_ttl"], backup=name)
        lock.acquire()
        try:
            if lock.took_over:
                warnings.append("took over a stale lock of cluster %s: %s" % (cluster, lock.took_over["reason"]))
            writer = ArchiveWriter(storage, name, cluster=cluster, kubernetes_version=version, key_wrapper=key_wrapper,
                                   workers=p["workers"], lock=lock, pack_size=p["pack_size"] * 1024 * 1024)
            try:
                result["backup"] = _write_backup(module, client, storage, writer, filters, plan, discovered, timings,
                                                 warnings, config_bytes, (supported, reason, vs_res, class_name), t0,
                                                 requests, etcd_target)
            except BaseException:
                writer.abort()
                raise
        finally:
            lock.release()
    finally:
        client.close()
    if retention:
        t1 = time.monotonic()
        outcome = enforce_retention(storage, keep_last=retention["keep_last"], max_age=retention["max_age"], cluster=cluster)
        timings["retention"] = round(time.monotonic() - t1, 3)
        result["retention"] = {"deleted": outcome.get("deleted", []), "kept": [k["name"] for k in outcome.get("keep", [])],
                               "failed": outcome.get("failed", []), "plan": {"delete": outcome["delete"], "keep": outcome["keep"]}}
        for failure in outcome.get("failed") or []:
            warnings.append("retention could not delete %s: %s" % (failure["name"], failure["error"]))
    else:
        result["retention"] = {"deleted": [], "kept": []}
    result["timings"] = timings
    for warning in warnings:
        module.warn(warning)
    return result


def _vs_report(supported, reason, class_name, pvcs, snapshots, check_mode=False):
    pvc_names = ["%s/%s" % (pvc["namespace"], pvc["name"]) for pvc in sorted(pvcs, key=lambda x: (x["namespace"], x["name"]))]
    if not supported:
        return {"supported": False, "reason": reason, "pvcs_without_data": pvc_names}
    report = {"supported": True, "class": class_name, "pvcs": pvc_names}
    if check_mode:
        report["would_create"] = len(pvc_names)
        return report
    snapshots = snapshots or []
    report.update(snapshots=snapshots, ready=sum(1 for s in snapshots if s["state"] == "ready"),
                  pending=sum(1 for s in snapshots if s["state"] == "pending"),
                  failed=sum(1 for s in snapshots if s["state"] == "failed"),
                  skipped=sum(1 for s in snapshots if s["state"] == "skipped"))
    if report["pending"]:
        report["message"] = ("%d of %d VolumeSnapshots are pending: no CSI driver has taken them yet, so the volume data "
                             "is NOT in this backup until they become readyToUse" % (report["pending"], len(snapshots)))
    return report


def _write_backup(module, client, storage, writer, filters, plan, discovered, timings, warnings, config_bytes, vs_info, t0,
                  requests, etcd_target=None):
    supported, reason, vs_res, class_name = vs_info
    p = module.params
    writer.start()
    t = time.monotonic()
    capture = Capture(client, filters, plan, writer, p["workers"], p["page_size"], p.get("decoder_processes"))
    capture.run()
    related = capture.capture_related(discovered)
    writer.wait()
    timings["capture"] = round(time.monotonic() - t, 3)
    warnings.extend(capture.warnings)
    for key, count in sorted(capture.restarts.items()):
        warnings.append("%s: the list expired (410 Gone) %d time(s) and was restarted" % (key, count))
    volumes = None
    if p.get("volume_data") != "never":
        t = time.monotonic()
        volumes, volume_warnings = capture_volumes(client, writer, capture.pvcs)
        warnings.extend(volume_warnings)
        timings["volume_data"] = round(time.monotonic() - t, 3)
    file_level = {(v["namespace"], v["pvc"]) for v in (volumes or {}).get("captured") or []}
    snapshot_pvcs = [c for c in capture.pvcs if (c["namespace"], c["name"]) not in file_level]
    snapshots = None
    if supported and snapshot_pvcs:
        t = time.monotonic()
        snapshots = create_snapshots(client, writer, vs_res, class_name, writer.name, snapshot_pvcs,
                                     explicit=p.get("volume_snapshot_class"), timeout=p.get("volume_snapshot_timeout"))
        timings["volume_snapshots"] = round(time.monotonic() - t, 3)
    vs_report = _vs_report(supported, reason, class_name, snapshot_pvcs, snapshots)
    if vs_report.get("message"):
        warnings.append(vs_report["message"])
    etcd = None
    if etcd_target is not None:
        from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import capture_etcd

        t = time.monotonic()
        etcd = capture_etcd(writer, etcd_target)
        writer.metadata["etcd"] = etcd
        timings["etcd"] = round(time.monotonic() - t, 3)
    if config_bytes is not None:
        writer.add(ADHAR_CONFIG, config_bytes, encrypt=writer.encrypted or None)
    writer.metadata.update({
        "tool": "adhar.platform.backup",
        "filters": filters.describe(),
        "api_versions": dict(sorted(capture.api_versions.items())),
        "related": related,
        "skipped_resources": dict(sorted(plan["skipped"].items())),
        "etcd": etcd,
        "volume_snapshots": vs_report,
        "volumes": volumes,
        "adhar_config": config_bytes is not None,
        "discovery_requests": requests,
        "timings": dict(timings),
    })
    t = time.monotonic()
    manifest = writer.commit()
    timings["commit"] = round(time.monotonic() - t, 3)
    warnings.extend(writer.warnings)
    seconds = round(time.monotonic() - t0, 3)
    objects = sum(manifest["counts"].values())
    return {"name": writer.name, "cluster": writer.cluster, "complete": True, "counts": manifest["counts"],
            "item_count": manifest["item_count"], "size": manifest["total_bytes"], "encrypted": writer.encrypted,
            "seconds": seconds, "objects_per_second": round(objects / seconds, 1) if seconds else None, "etcd": etcd,
            "decoder_processes": capture.decoders, "volume_snapshots": vs_report, "volumes": volumes, "storage": storage.describe(),
            "kubernetes_version": manifest["kubernetes_version"],
            "related": related, **writer.verify_key}


# ----------------------------------------------------------------------------- backup_info


def _summary(manifest):
    enc = manifest.get("encryption") or None
    return {
        "name": manifest["name"], "cluster": manifest.get("cluster"), "kubernetes_version": manifest.get("kubernetes_version"),
        "created": manifest.get("created"), "started": manifest.get("started"), "finished": manifest.get("finished"),
        "counts": manifest.get("counts") or {}, "sections": manifest.get("sections") or {},
        "item_count": manifest.get("item_count"), "total_bytes": manifest.get("total_bytes"), "encrypted": bool(enc),
        "encryption": None if not enc else {"algorithm": enc.get("algorithm"), "scheme": enc.get("scheme"),
                                            "wrapper": (enc.get("data_key") or {}).get("wrapper"),
                                            "kek_id": (enc.get("data_key") or {}).get("kek_id"),
                                            "kms_key_id": (enc.get("data_key") or {}).get("kms_key_id"),
                                            "encrypted_items": enc.get("encrypted_items")},
        "metadata": manifest.get("metadata") or {},
        "volumes": _volume_summary((manifest.get("metadata") or {}).get("volumes")),
        "signature": None if not isinstance(manifest.get("signature"), dict) else {
            k: manifest["signature"].get(k) for k in ("algorithm", "key_id", "public_key")},
    }


def _volume_summary(report):
    """Per-volume counts and bytes of a backup's volume section (``None`` when it has none)."""
    if not report:
        return None
    keys = ("namespace", "pvc", "pv", "item", "files", "dirs", "symlinks", "bytes", "stored_bytes")
    return {"volumes": [{k: v.get(k) for k in keys} for v in report.get("captured") or []],
            "skipped": report.get("skipped") or [], "files": report.get("files"), "bytes": report.get("bytes"),
            "stored_bytes": report.get("stored_bytes")}


def run_backup_info(module):
    """``adhar.platform.backup_info``: list backups, show one, verify one."""
    p = module.params
    key_wrapper = key_wrapper_from_params(p.get("encryption"), p.get("storage"))
    check_verification(key_wrapper, p.get("verify_key"), p.get("require_signature"))
    storage = storage_from_params(p["storage"])
    storage.check(write=False)
    backups = list_backups(storage, cluster=p.get("cluster"))
    result = {"changed": False, "backups": backups, "storage": storage.describe()}
    if getattr(key_wrapper, "verify_key", None) is not None:  # a local KEK: the verify key of what it signs
        result["verify_key"] = verify_key_info(key_wrapper)
    name = p.get("name")
    if not name:
        if p.get("verify"):
            raise AdharError("verify needs name: the backup to verify", option="name")
        return result
    check_backup_name(name)
    entry = next((b for b in backups if b["name"] == name), None)
    if entry is None:
        known = [b["name"] for b in backups][-10:]
        raise AdharError("backup %s not found in %s%s (newest: %s)" % (
            name, storage.location, " for cluster %s" % p["cluster"] if p.get("cluster") else "", ", ".join(known) or "none"),
            backup=name, backups=backups)
    result["backups"] = [entry]
    if not entry["complete"]:
        result["backup"] = dict(entry)
        if p.get("verify"):
            raise AdharError("backup %s is not complete (%s): nothing to verify" % (name, entry.get("problem")),
                             backup=name, backups=[entry])
        return result
    reader = ArchiveReader(storage, name, key_wrapper, verify_key=p.get("verify_key"),
                           require_signature=p.get("require_signature"))
    result["backup"] = _summary(reader.stored_manifest)  # shown as stored; verify=true authenticates it
    if p.get("verify"):
        report = reader.verify(workers=p.get("workers") or 4, raise_on_error=False)
        result["verification"] = report
        for warning in report.get("warnings") or []:
            module.warn(warning)
        if not report["ok"]:
            first = report["problems"][0]
            raise AdharError("backup %s failed verification: %d of %d items are bad; first: %s"
                             % (name, len(report["problems"]), report["items"], first["msg"]),
                             backup=name, item=first["path"], verification=report, backups=[entry])
    return result
