# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``adhar.platform.preflight``: the options, the items in the guide's order, the table and ``strict``.

About the package ``_preflight``: the pre-deployment checklist of the adhar Advanced Topics guide, judged on a live cluster (``preflight``).

    flags.py    control-plane command lines: where they are read from, and the flag rules (in the spirit of the
                CIS Kubernetes benchmark)
    checks.py   one function per checklist item: what it reads, what that showed, and the verdict
    run.py      options, the order of the items, the table, ``strict``
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._preflight import checks
from ansible_collections.adhar.platform.plugins.module_utils._preflight.flags import FAIL, PASS, UNKNOWN, WARN
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import STORAGE_ARG_SPEC

# (id, category, the guide's checklist line, check)
ITEMS = (
    ("multi_az", "infrastructure", "Multi-AZ/region deployment", checks.check_multi_az),
    ("load_balancer", "infrastructure", "Load balancer configuration", checks.check_load_balancer),
    ("dns_certificates", "infrastructure", "DNS and SSL certificates", checks.check_dns_certificates),
    ("backup", "infrastructure", "Backup storage configured (and a recent complete backup)", checks.check_backup),
    ("monitoring", "infrastructure", "Monitoring endpoints accessible", checks.check_monitoring),
    ("network_policies", "security", "Network policies defined", checks.check_network_policies),
    ("rbac", "security", "RBAC roles configured", checks.check_rbac),
    ("secrets_encryption", "security", "Secrets encrypted at rest", checks.check_secrets_encryption),
    ("audit_logging", "security", "Audit logging enabled", checks.check_audit_logging),
    ("security_scanning", "security", "Security scanning automated", checks.check_security_scanning),
    ("policy_enforcement", "compliance", "Policy enforcement enabled", checks.check_policy_enforcement),
    ("compliance", "compliance", "Compliance frameworks applied", checks.check_compliance),
    ("audit_trails", "compliance", "Audit trails configured", checks.check_audit_trails),
    ("data_retention", "compliance", "Data retention policies set", checks.check_data_retention),
    ("apiserver_flags", "control plane", "API server flags", checks.flags_check("apiserver")),
    ("etcd_flags", "control plane", "etcd flags", checks.flags_check("etcd")),
    ("controller_manager_flags", "control plane", "Controller manager flags", checks.flags_check("controller-manager")),
    ("scheduler_flags", "control plane", "Scheduler flags", checks.flags_check("scheduler")),
)
ITEM_IDS = tuple(i[0] for i in ITEMS)
STATUSES = (PASS, WARN, FAIL, UNKNOWN)
_LABELS = {PASS: "pass", WARN: "WARN", FAIL: "FAIL", UNKNOWN: "n/a"}

DEFAULT_BACKUP_MAX_AGE = "25h"


def argument_spec():
    spec = dict(
        name=dict(type="str"),
        state_dir=dict(type="path"),
        items=dict(type="list", elements="str", choices=list(ITEM_IDS)),
        skip=dict(type="list", elements="str", choices=list(ITEM_IDS), default=[]),
        backup_cluster=dict(type="str"),
        backup_max_age=dict(type="raw", default=DEFAULT_BACKUP_MAX_AGE),
        backup_retention=dict(type="raw"),
        cert_min_days=dict(type="int", default=30),
        monitoring_urls=dict(type="list", elements="str", default=[]),
        strict=dict(type="bool", default=False),
        timeout=dict(type="float", default=5.0),
    )
    spec.update(STORAGE_ARG_SPEC)
    return spec


def _validate(params):
    from ansible_collections.adhar.platform.plugins.module_utils._archive.catalog import parse_duration
    if params.get("name") is not None and not params["name"].strip():
        raise AdharError("name must not be empty", option="name")
    out = dict(params)
    out["backup_max_age_seconds"] = parse_duration(params.get("backup_max_age") or DEFAULT_BACKUP_MAX_AGE, option="backup_max_age")
    out["backup_retention_seconds"] = parse_duration(params.get("backup_retention"), option="backup_retention")
    for url in params.get("monitoring_urls") or []:
        if not str(url).startswith(("http://", "https://")):
            raise AdharError("monitoring_urls: %r is not an http:// or https:// URL" % (url,), option="monitoring_urls")
    chosen = params.get("items") or list(ITEM_IDS)
    out["selected"] = [i for i in ITEM_IDS if i in chosen and i not in (params.get("skip") or [])]
    if not out["selected"]:
        raise AdharError("items and skip leave nothing to check", option="skip")
    return out


def evaluate(ctx, selected):
    """Run the ``selected`` items; a failed read makes that item ``unknown`` naming the read."""
    results = []
    for item_id, category, title, check in ITEMS:
        if item_id not in selected:
            continue
        started = time.monotonic()
        flag_checks = None
        try:
            out = check(ctx)
            status, detail, evidence = out[:3]
            if len(out) > 3:
                flag_checks = out[3]
        except checks.ReadError as exc:
            status, detail, evidence = UNKNOWN, "cannot judge: %s" % exc, [checks.ev(str(exc).split(":", 1)[0], "failed")]
        entry = {"id": item_id, "category": category, "title": title, "status": status, "detail": detail,
                 "evidence": evidence, "seconds": round(time.monotonic() - started, 3)}
        if flag_checks is not None:
            entry["checks"] = flag_checks
        results.append(entry)
    return results


def summarize(results):
    summary = {s: 0 for s in STATUSES}
    for r in results:
        summary[r["status"]] += 1
    return summary


def format_table(cluster_name, results, max_detail=110):
    """Fixed-width table (category, item, status, detail) like cluster_info's, failed flag checks indented."""
    header = ("CATEGORY", "ITEM", "STATUS", "DETAIL")
    rows = []
    for r in results:
        rows.append((r["category"], r["id"], _LABELS[r["status"]], r["detail"]))
        for c in r.get("checks") or []:
            if c["status"] in (FAIL, WARN):
                rows.append(("", "  " + c["id"].split(".", 1)[-1], _LABELS[c["status"]], "%s; found %s" % (c["expect"], c["found"])))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(3)]
    lines = []
    for row in [header] + rows:
        detail = row[3] or ""
        if len(detail) > max_detail:
            detail = detail[:max_detail - 3] + "..."
        lines.append(("  ".join(str(row[i]).ljust(widths[i]) for i in range(3)) + "  " + detail).rstrip())
    summary = summarize(results)
    lines.append("")
    lines.append("%s: %d pass, %d warn, %d fail, %d cannot be judged from the cluster" % (
        cluster_name, summary[PASS], summary[WARN], summary[FAIL], summary[UNKNOWN]))
    return "\n".join(lines)


def _local_target(params):
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.runtime import Cluster
    targets = state.health_targets(params["name"], state_dir=params.get("state_dir"))
    layout = targets["layout"]
    cluster = Cluster(layout, state.load(layout))
    return targets, cluster


def _cert_entries(files):
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.health import certificates_from_files
    return lambda: certificates_from_files(files)


def _serving_cert(client, timeout):
    def read():
        from ansible_collections.adhar.platform.plugins.module_utils._cluster import health
        from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request
        ctx, headers = health.client_probe_settings(client)
        try:
            _status, _body, der = request(client.host, "/version", ctx, timeout, headers=headers, want_cert=True)
        except (OSError, ValueError) as exc:
            return {"source": client.host + " (serving)", "days_left": None, "error": str(exc)}
        return health.cert_from_der(der, client.host + " (serving)")
    return read


def run_preflight(module):
    from ansible_collections.adhar.platform.plugins.module_utils._archive.catalog import list_backups
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
    from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params

    params = _validate(module.params)
    storage = storage_from_params(params["storage"]) if params.get("storage") else None
    local = None
    cert_files = None
    if params.get("name"):
        targets, cluster = _local_target(params)
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.supervisor import state_report
        report = state_report(cluster.layout, timeout=params["timeout"])
        local = {"name": params["name"], "cluster": cluster, "states": report["programs"] if report["running"] else None}
        client_params = dict(module.params)
        for key in ("context", "host", "api_key", "ca_cert", "client_cert", "client_key", "validate_certs"):
            client_params[key] = None
        client_params["kubeconfig"] = targets["kubeconfig"]
        cert_files = targets["cert_files"]
        name, provider, endpoint = params["name"], "local", targets["api_endpoint"]
    else:
        client_params = module.params
    client = K8sClient.from_params(client_params)
    if local is None:
        name, provider, endpoint = params.get("context") or client.host, "existing", client.host
    try:
        ctx = checks.Context(
            client, params, local=local, storage=storage,
            list_backups=lambda st, cluster: list_backups(st, cluster=cluster),
            now=datetime.datetime.now(datetime.timezone.utc),
            cert_entries=_cert_entries(cert_files) if cert_files else None,
            serving_cert=_serving_cert(client, params["timeout"]))
        results = evaluate(ctx, params["selected"])
    finally:
        client.close()
    summary = summarize(results)
    misses = ["%s: %s" % (r["id"], r["detail"]) for r in results if r["status"] == FAIL]
    cluster_info = {"name": name, "provider": provider, "api_endpoint": endpoint}
    result = {"changed": False, "cluster": cluster_info, "checklist": results, "summary": summary, "passed": not misses,
              "misses": misses, "storage": storage.describe() if storage is not None else None,
              "table": format_table(name, results)}
    if params["strict"] and misses:
        raise AdharError("%s misses %d item(s) of the pre-deployment checklist: %s" % (name, len(misses), "; ".join(misses)),
                         **{k: v for k, v in result.items() if k != "changed"})
    return result
