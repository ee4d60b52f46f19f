# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applications moved from one cluster to another, and their state (the ``adhar.platform.apps`` module's work).

``migrate`` streams the source into the target through the two engines, with no archive in between:

1. options checked (connections, what to move, filters, namespace mapping), before any request;
2. the backup engine (``_dr.backup``: discovery, Velero-style ``Filters``, paged parallel lists) reads the
   source; its writer is ``ObjectSink``, which keeps the objects in memory instead of writing an archive;
3. the restore engine (``_dr.restore``) selects (an application: its labelled objects plus what its pods
   refer to), skips, sanitises, maps namespaces and applies to the target in dependency tiers
   (``dryRun=All`` in check mode); with ``gradual`` one application at a time;
4. ``verify``: every object sent to the target is read back and compared with the source object (as restore
   decides ``unchanged``), and the workloads on the target are waited for until ready.

``status`` reads an application's objects (by app label, or whole namespaces) from one cluster, with the
readiness of each.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import describe_path, resource_key
from ansible_collections.adhar.platform.plugins.module_utils._common.args import (
    K8S_AUTH_ARG_SPEC,
    WORKERS_BOUNDS,
    above,
    at_least,
    k8s_auth_suboptions,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_bounds
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import (
    Capture,
    Filters,
    discover,
    plan_capture,
    selector_text,
    unmatched_includes,
)
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import (
    CHANGED,
    COUNT_KEYS,
    LISTED,
    Restore,
    Selection,
    _skip_summary,
    build_items,
    select_objects,
)
from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import ansible_diff
from ansible_collections.adhar.platform.plugins.module_utils._k8s.wait import FAILED, READY, RULES
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore_sanitize import (
    CRD_KEY,
    DEFAULT_APP_LABEL_KEYS,
    NAMESPACES_KEY,
    check_namespace_mapping,
    labels_of,
    split_key,
    system_skip_reason,
)

ACTIONS = ("migrate", "status")
MIGRATE_BOUNDS = {**WORKERS_BOUNDS, "page_size": at_least(1, 10000), "wait_timeout": above(0),
                  "crd_timeout": above(0)}
CONNECTION_SIDES = ("source", "target")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
TABLE_ROWS = 500  # rows of the verification and status tables listed; the others are counted


def connection_suboptions():
    """The ``source`` / ``target`` suboptions: every Kubernetes connection option, without defaults or environment
    fallbacks (an unset member takes the top-level option, which has them)."""
    return k8s_auth_suboptions()


# --------------------------------------------------------------------------- options (no cluster access)

def connection_params(params, side):
    """The connection of ``side`` (``source`` or ``target``): the top-level options, each member of the side's dict
    that is set replacing the top-level one."""
    merged = {name: params.get(name) for name in K8S_AUTH_ARG_SPEC}
    for name, value in (params.get(side) or {}).items():
        if name in merged and value is not None:
            merged[name] = value
    return merged


def _described(conn):
    shown = {k: v for k, v in conn.items() if v is not None and k not in ("api_key", "request_timeout", "api_retry_deadline")}
    if isinstance(shown.get("kubeconfig"), dict):
        shown["kubeconfig"] = "(a dictionary)"
    return ", ".join("%s=%s" % kv for kv in sorted(shown.items())) or "the default kubeconfig"


def check_distinct(source, target):
    """Refuse a migration whose source and target are the same connection."""
    if source == target:
        raise AdharError("source and target are the same connection (%s): set source and/or target (each a dictionary of "
                         "connection options over the top-level ones) so that they name two clusters" % _described(source),
                         option="target")


def namespace_mapping_option(value):
    """``namespace_mapping``: a dictionary old -> new, both namespace names (DNS labels)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AdharError("namespace_mapping must be a dictionary of source namespace: target namespace (for example "
                         "{shop: shop-green}), got %s %r" % (type(value).__name__, value), option="namespace_mapping")
    for old in value:
        if not isinstance(old, str) or not _DNS_LABEL.match(old):
            raise AdharError("namespace_mapping: the key %r must be a namespace name (a DNS label: lower-case letters, "
                             "digits, '-', at most 63 characters)" % (old,), option="namespace_mapping")
    return check_namespace_mapping(value)


def check_what(params):
    """``namespaces`` or ``app`` must say what to move (or look at)."""
    if not params.get("include_namespaces") and not params.get("app"):
        raise AdharError("%s needs what to %s: namespaces (names or globs) or app (an app label value)"
                         % (params["action"], "move" if params["action"] == "migrate" else "show"), option="namespaces")
    if params.get("app") is not None and (not isinstance(params["app"], str) or not params["app"].strip()):
        raise AdharError("app must be a non-empty label value", option="app")
    if params.get("app") and params.get("app_label_keys") is not None and not [k for k in params["app_label_keys"] if k]:
        raise AdharError("app_label_keys is empty: app %s needs at least one label key to look it up in" % params["app"],
                         option="app_label_keys")


def capture_filters(params):
    """The backup engine's filters for reading: the user's namespace, resource and cluster-scope filters, no label
    selector (it applies to the selected objects, not to what they pull in: ``Selection`` applies it)."""
    return Filters(include_namespaces=params.get("include_namespaces"), exclude_namespaces=params.get("exclude_namespaces"),
                   include_resources=params.get("include_resources"), exclude_resources=params.get("exclude_resources"),
                   include_cluster_resources=params.get("include_cluster_resources"))


def migration_name(now=None):
    now = now or datetime.now(timezone.utc)
    return "migrate-%s" % now.strftime("%Y%m%d%H%M%S")


# --------------------------------------------------------------------------- reading a cluster

class ObjectSink:
    """A writer for ``backup.Capture`` that keeps ``{(resource key, namespace, name): obj}`` in memory."""

    def __init__(self):
        self.entries = {}
        self._lock = threading.Lock()

    def submit_many(self, entries):
        with self._lock:
            for path, obj, dummy, labels in entries:
                info = describe_path(path)
                key = labels.get("resource") or info.get("resource")
                name = labels.get("name") or info.get("name")
                ns = None if key == NAMESPACES_KEY else (labels.get("namespace") or info.get("namespace"))
                self.entries[(key, ns, name)] = obj

    def submit(self, path, obj, encrypt=None, **labels):
        self.submit_many([(path, obj, encrypt, labels)])


def read_cluster(client, filters, workers, page_size, strict=False):
    """Every object the filters select, read with the backup engine: ``(entries, resources, warnings, seconds)``;
    ``resources`` maps each resource key to its ``Resource``."""
    t = time.monotonic()
    discovered, warnings, dummy = discover(client, workers)
    plan = plan_capture(discovered, filters)
    warnings = list(filters.warnings) + list(warnings) + unmatched_includes(client, filters, plan, strict)
    sink = ObjectSink()
    capture = Capture(client, filters, plan, sink, workers, page_size)
    capture.run()
    capture.capture_related(discovered)
    warnings.extend(capture.warnings)
    resources = {resource_key(r.plural, r.group): r for r, dummy in discovered}
    return sink.entries, resources, warnings, time.monotonic() - t


# --------------------------------------------------------------------------- what moves, in which groups

def app_of(obj, label_keys):
    """The application an object belongs to: the value of the first of ``label_keys`` it carries, or None."""
    labels = labels_of(obj)
    for key in label_keys:
        if labels.get(key):
            return labels[key]
    return None


def plan_groups(entries, params, gradual):
    """``[(app or None, keys)]``: the entry keys moved together.  One group without ``gradual``; with it one group
    per application (``app``, or every app label value found, sorted), then the objects of no application."""
    selection = Selection(params)
    if not gradual:
        chosen, pulled = select_objects(entries, selection)
        return [(params.get("app"), chosen | pulled)]
    if params.get("app"):
        chosen, pulled = select_objects(entries, selection)
        return [(params["app"], chosen | pulled)]
    everything, dummy = select_objects(entries, selection)
    apps = sorted({app_of(entries[k], selection.app_keys) for k in everything if k[0] != NAMESPACES_KEY} - {None})
    groups, taken = [], set()
    for app in apps:
        chosen, pulled = select_objects(entries, Selection(dict(params, app=app)))
        keys = {k for k in chosen | pulled if k in everything or k[0] == NAMESPACES_KEY}
        groups.append((app, keys))
        taken |= keys
    rest = {k for k in everything if k not in taken or k[0] == NAMESPACES_KEY}
    if any(k[0] != NAMESPACES_KEY for k in rest):
        groups.append((None, rest))
    return groups


# --------------------------------------------------------------------------- migrate

def _counts(items):
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for item in items:
        counts[item.action or "skipped"] = counts.get(item.action or "skipped", 0) + 1
    return counts


def verification_rows(items, compared, waited):
    """The verification table: one row per object sent to the target (``compared``: ``Restore.compare``)."""
    rows = []
    for item in items:
        state = compared.get(id(item))
        if state is None and item.resource is None:
            continue
        rows.append({"resource": item.key, "kind": item.obj.get("kind"), "namespace": item.namespace, "name": item.name,
                     "source_namespace": item.src_namespace, "target": state or "not listed",
                     "ready": waited.get(id(item))})
    return rows


def _wait_targets(engine, items):
    """Wait for every workload on the target (created, updated, recreated or already there): ``{id(item): ready}``."""
    states = {}
    actions = CHANGED | {"unchanged"}
    waited = engine.wait_ready(items, actions=actions)
    bad = {line.split(":", 1)[0] for line in waited["not_ready"]}
    for item in items:
        if item.action in actions and item.resource is not None and RULES.get((item.resource.group, item.resource.kind)) \
                and item.key != CRD_KEY:
            states[id(item)] = item.label() not in bad
    return waited, states


def migrate_group(client, params, entries, keys, source_label, mapping, owner_uids, check_mode, diff):
    """One run of the restore engine (all of a migration, or one application of a gradual one)."""
    items, tiers = build_items(entries, keys, params, source_label, mapping, owner_uids=owner_uids)
    engine = Restore(client, backup=source_label, name=params["name"], policy=params["existing_resource_policy"],
                     workers=params["workers"], check_mode=check_mode, diff=diff, crd_timeout=params["crd_timeout"],
                     continue_on_error=params["continue_on_error"], wait=False, wait_timeout=params["wait_timeout"],
                     planned_crds=[(i.obj.get("spec") or {}) for i in items if i.key == CRD_KEY and i.action is None])
    t = time.monotonic()
    engine.run(items, tiers)
    out = {"items": items, "engine": engine, "apply_seconds": time.monotonic() - t, "verification": None, "wait": None}
    if params["verify"] and not check_mode:
        t = time.monotonic()
        waited, ready = _wait_targets(engine, items)
        compared = engine.compare(items)  # after the wait: controllers have settled what they add
        rows = verification_rows(items, compared, ready)
        out["verification"] = rows
        out["wait"] = waited
        out["verify_seconds"] = time.monotonic() - t
    return out


def _verification_summary(rows, waits):
    summary = {"objects": len(rows), "equal": 0, "differs": 0, "missing": 0, "not_listed": 0}
    for row in rows:
        key = row["target"] if row["target"] in ("equal", "differs", "missing") else "not_listed"
        summary[key] += 1
    summary["workloads"] = sum(w["waited"] for w in waits)
    summary["ready"] = sum(w["ready"] for w in waits)
    summary["not_ready"] = [line for w in waits for line in w["not_ready"]][:LISTED]
    summary["ok"] = summary["objects"] == summary["equal"] and summary["workloads"] == summary["ready"]
    problems = [r for r in rows if r["target"] != "equal" or r["ready"] is False]
    summary["table"] = (problems + [r for r in rows if r not in problems])[:TABLE_ROWS]
    summary["rows_not_listed"] = max(0, len(rows) - TABLE_ROWS)
    return summary


def run_migrate(module, p):
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient, build_configuration

    start = time.monotonic()
    check_bounds(p, MIGRATE_BOUNDS)
    check_what(p)
    if p.get("report_items") not in (None, "summary", "changed", "all", "failed"):
        raise AdharError("report_items must be one of summary, changed, all, failed", option="report_items")
    filters = capture_filters(p)
    p["label_selector"] = selector_text(p.get("label_selector"))
    Selection(p)  # the selector's syntax
    mapping = namespace_mapping_option(p.get("namespace_mapping"))
    source, target = connection_params(p, "source"), connection_params(p, "target")
    check_distinct(source, target)
    module.require_k8s()
    hosts = [build_configuration(source).host, build_configuration(target).host]  # kubeconfigs read, no request yet
    if hosts[0] == hosts[1]:
        raise AdharError("source and target are the same cluster (%s): a migration needs two clusters" % hosts[0],
                         option="target")
    p["name"] = migration_name()
    source_label = source.get("context") or re.sub(r"^[a-z]+://", "", hosts[0])
    timings = {}
    src = K8sClient.from_params(source)
    try:
        entries, dummy, warnings, timings["read"] = read_cluster(src, filters, p["workers"], p["page_size"], p.get("strict"))
    finally:
        src.close()
    for warning in warnings:
        module.warn(warning)
    t = time.monotonic()
    groups = plan_groups(entries, p, p["gradual"])
    timings["plan"] = time.monotonic() - t
    if p.get("app") and not any(k[0] != NAMESPACES_KEY for dummy, keys in groups for k in keys):
        keys = " or ".join(p.get("app_label_keys") or DEFAULT_APP_LABEL_KEYS)
        module.warn("app %s: no object in the source carries %s=%s" % (p["app"], keys, p["app"]))
    dst = K8sClient.from_params(target, check_mode=module.check_mode)
    runs, owner_uids = [], set()
    for dummy, keys in groups:
        owner_uids |= {(entries[k].get("metadata") or {}).get("uid") for k in keys} - {None}
    try:
        for app, keys in groups:
            run = migrate_group(dst, p, entries, keys, source_label, mapping, owner_uids, module.check_mode,
                                module.diff_mode)
            run["app"] = app
            runs.append(run)
            failed = any(i.action == "failed" for i in run["items"]) or ((run["wait"] or {}).get("not_ready"))
            if failed and not p["continue_on_error"]:
                break
    finally:
        dst.close()
    return migrate_result(module, p, groups, runs, timings, time.monotonic() - start, hosts)


def migrate_result(module, p, groups, runs, timings, seconds, hosts):
    items = [i for run in runs for i in run["items"]]
    apply_seconds = sum(r["apply_seconds"] for r in runs)
    handled = sum(1 for i in items if i.action != "skipped" or (i.message or "").startswith("exists"))
    timings["apply"] = apply_seconds
    if p["verify"] and not module.check_mode:
        timings["verify"] = sum(r.get("verify_seconds", 0) for r in runs)
    apps = []
    for run in runs:
        row = {"app": run["app"], "counts": _counts(run["items"]), "seconds": round(run["apply_seconds"], 3),
               "namespaces": sorted({i.namespace for i in run["items"] if i.namespace})}
        if run["verification"] is not None:
            row["verified"] = all(r["target"] == "equal" for r in run["verification"]) and not run["wait"]["not_ready"]
        apps.append(row)
    for app, dummy in groups[len(runs):]:
        apps.append({"app": app, "counts": None, "seconds": None, "namespaces": [],
                     "message": "not attempted: an earlier application failed"})
    failed = [i for i in items if i.action == "failed"]
    report = p.get("report_items") or "summary"
    shown = {"summary": [], "failed": failed, "all": items,
             "changed": [i for i in items if i.action in CHANGED or i.action == "failed"]}[report]
    migration = {
        "name": p["name"], "source": hosts[0], "target": hosts[1], "check_mode": module.check_mode,
        "counts": _counts(items), "apps": apps, "gradual": p["gradual"], "policy": p["existing_resource_policy"],
        "seconds": round(seconds, 3),
        "objects_per_second": round(handled / apply_seconds, 1) if apply_seconds else None,
        "failures": [i.result() for i in failed[:LISTED]], "failures_not_listed": max(0, len(failed) - LISTED),
        "stages": [dict(s, app=run["app"]) for run in runs for s in run["engine"].stages],
        "timings": dict((k, round(v, 3)) for k, v in timings.items()),
    }
    migration["skipped"] = _skip_summary([i for i in items if i.action == "skipped"])
    if p["verify"] and not module.check_mode:
        migration["verification"] = _verification_summary([r for run in runs for r in run["verification"] or []],
                                                          [run["wait"] for run in runs if run["wait"]])
    elif p["verify"]:
        migration["verification"] = {"skipped": "check mode: nothing was written to the target"}
    result = {"changed": any(i.action in CHANGED for i in items), "migration": migration,
              "items": [i.result() for i in shown]}
    diffs = [ansible_diff({"kind": i.obj.get("kind"), "namespace": i.namespace, "name": i.name, "diff": dict(i.diff)})
             for i in items if i.diff]
    if diffs:
        result["diff"] = diffs
    problems = []
    if failed:
        problems.append("%d of %d objects failed: %s" % (len(failed), len(items), "; ".join(
            "%s: %s" % (i.label(), i.message) for i in failed[:5])))
    verification = migration.get("verification") or {}
    if verification.get("not_ready"):
        not_ready = verification["not_ready"]
        problems.append("%d workloads not ready on the target: %s" % (len(not_ready), "; ".join(not_ready[:3])))
    differs = [r for r in verification.get("table") or [] if r["target"] != "equal"]
    if differs:
        problems.append("%d objects differ from the source on the target: %s" % (len(differs), "; ".join(
            "%s %s/%s: %s" % (r["resource"], r["namespace"] or "", r["name"], r["target"]) for r in differs[:5])))
    if problems:
        msg = "migration %s: %s" % (p["name"], "; ".join(problems))
        if p["continue_on_error"]:
            module.warn(msg)
        else:
            raise AdharError(msg, **result)
    return result


# --------------------------------------------------------------------------- status

def _replicas_state(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want, ready = spec.get("replicas", 1), status.get("readyReplicas") or 0
    if ready < want:
        return False, "%d of %d replicas ready" % (ready, want)
    return True, "%d replicas ready" % ready


def object_state(key, obj):
    """``(ready, reason)`` of one object read from a cluster (``_k8s.wait``'s rules for workloads, Pods, Jobs, CRDs)."""
    group = split_key(key)[1]
    rule = RULES.get((group, obj.get("kind")))
    if rule is not None:
        state, message = rule(obj)
        return state == READY, message if state != FAILED else "failed: %s" % message
    status = obj.get("status") or {}
    if key in ("replicasets.apps", "replicationcontrollers"):
        return _replicas_state(obj)
    if key == "persistentvolumeclaims":
        phase = status.get("phase") or "unknown"
        return phase == "Bound", "phase %s" % phase
    if key == "services" and (obj.get("spec") or {}).get("type") == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        return bool(ingress), "load balancer %s" % ("ready" if ingress else "pending")
    if key == NAMESPACES_KEY:
        phase = status.get("phase") or "Active"
        return phase == "Active", "phase %s" % phase
    return True, "exists"


def run_status(module, p):
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    check_bounds(p, MIGRATE_BOUNDS)
    check_what(p)
    p["label_selector"] = selector_text(p.get("label_selector"))
    selection = Selection(p)
    filters = capture_filters(p)
    module.require_k8s()
    client = K8sClient.from_params(connection_params(p, "target"))
    try:
        entries, dummy, warnings, seconds = read_cluster(client, filters, p["workers"], p["page_size"], p.get("strict"))
        host = client.host
    finally:
        client.close()
    for warning in warnings:
        module.warn(warning)
    chosen, pulled = select_objects(entries, selection)
    rows = []
    for k in sorted(chosen | pulled, key=lambda e: (e[1] or "", e[0], e[2])):
        obj = entries[k]
        if "uid" not in (obj.get("metadata") or {}) or system_skip_reason(k[0], obj):
            continue  # a Namespace the selection only names, or what the cluster makes itself
        ready, reason = object_state(k[0], obj)
        rows.append({"kind": obj.get("kind"), "resource": k[0], "namespace": k[1], "name": k[2],
                     "ready": ready, "reason": reason, "app": app_of(obj, selection.app_keys)})
    kinds = {}
    for row in rows:
        mine = kinds.setdefault(row["kind"], {"total": 0, "ready": 0})
        mine["total"] += 1
        mine["ready"] += 1 if row["ready"] else 0
    not_ready = [r for r in rows if not r["ready"]]
    return {"changed": False, "status": {
        "cluster": host, "app": p.get("app"), "namespaces": sorted({r["namespace"] for r in rows if r["namespace"]}),
        "objects": len(rows), "ready": not not_ready and bool(rows), "not_ready": len(not_ready), "kinds": kinds,
        "table": (not_ready + [r for r in rows if r["ready"]])[:TABLE_ROWS], "rows_not_listed": max(0, len(rows) - TABLE_ROWS),
        "seconds": round(seconds, 3)}}


def run_apps(module):
    """``adhar.platform.apps``: module params in, result dict out."""
    p = dict(module.params)
    if p["action"] not in ACTIONS:
        raise AdharError("action must be one of %s" % ", ".join(ACTIONS), option="action")
    if p["action"] == "status":
        return run_status(module, p)
    return run_migrate(module, p)
