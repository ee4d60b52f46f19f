# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One function per item of the guide's pre-deployment checklist.

Every function takes a ``Context`` (the cluster's API, the local cluster's processes and files, the backup storage,
the options) and returns ``(status, detail, evidence)``: ``status`` is ``pass``, ``warn``, ``fail`` or ``unknown``
(cannot be judged from the cluster, ``detail`` says why); ``evidence`` lists what was read and what it showed.
A read the API refuses or cannot answer makes the item ``unknown`` naming that read (run.py), never a pass.
"""

from __future__ import annotations

import os
import re
import ssl

from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.adhar.platform.plugins.module_utils._archive.catalog import _days
from ansible_collections.adhar.platform.plugins.module_utils._preflight.flags import (
    FAIL, PASS, UNKNOWN, WARN, evaluate, flag_value, worst)

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
MONITORING_NAMES = ("prometheus", "alertmanager", "grafana", "thanos-query", "victoria-metrics", "vmsingle")
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"


class ReadError(Exception):
    """A read the item depends on failed (not a 404: that is an answer)."""


def ev(read, showed):
    return {"read": read, "showed": showed}


def _short(names, limit=6):
    names = list(names)
    text = ", ".join(names[:limit])
    return text + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def _name(obj):
    meta = obj.get("metadata") or {}
    return "%s/%s" % (meta["namespace"], meta.get("name")) if meta.get("namespace") else meta.get("name")


def _labels(obj):
    return (obj.get("metadata") or {}).get("labels") or {}


# ------------------------------------------------------------------------------------------------ context
class Context:
    """What the checks read, each read made once.

    ``client`` answers ``raw("GET", path, raise_for_status=False) -> (status, data)`` (a K8sClient);
    ``local`` is None or ``{"name", "cluster": local runtime Cluster, "states": supervisord states}``;
    ``storage`` is None or a backup storage (storage/base.py); ``list_backups(storage, cluster)`` lists it.
    """

    def __init__(self, client, params, local=None, storage=None, list_backups=None, now=None, cert_entries=None,
                 serving_cert=None, http_get=None):
        self.client = client
        self.params = params
        self.local = local
        self.storage = storage
        self._list_backups = list_backups
        self.now = now
        self._cert_entries = cert_entries
        self._serving_cert = serving_cert
        self._http_get = http_get or _http_get
        self._cache = {}

    # -- the Kubernetes API
    def get(self, path):
        """The decoded answer of GET ``path``; None when the API says 404 (not served / not found)."""
        if path not in self._cache:
            try:
                status, data = self.client.raw("GET", path, raise_for_status=False)
            except Exception as exc:  # noqa: BLE001 - transport errors after the client's retries
                raise ReadError("GET %s: %s" % (path, exc))
            if status == 404:
                data = None
            elif not 200 <= status <= 299:
                message = data.get("message") if isinstance(data, dict) else data
                raise ReadError("GET %s: HTTP %s %s" % (path, status, str(message or "")[:200]))
            self._cache[path] = data
        return self._cache[path]

    def items(self, path):
        """The ``items`` of a list, or None when the list is not served."""
        data = self.get(path)
        return None if data is None else list((data or {}).get("items") or [])

    def served(self, group_version, resource):
        """Whether ``/apis/<group_version>`` serves ``resource``."""
        data = self.get("/apis/" + group_version)
        return bool(data) and any(r.get("name") == resource for r in data.get("resources") or [])

    # -- the control plane's flags
    def processes(self):
        """Control-plane command lines (flags.py), or None when none can be read from here."""
        if "processes" not in self._cache:
            from ansible_collections.adhar.platform.plugins.module_utils._preflight import flags as _flags
            if self.local is not None:
                procs = _flags.local_processes(self.local["cluster"], self.local.get("states"))
            else:
                pods = self.items("/api/v1/namespaces/kube-system/pods?labelSelector=tier%3Dcontrol-plane") or []
                procs = _flags.static_pod_processes(pods)
            self._cache["processes"] = procs or None
        return self._cache["processes"]

    def flag_results(self):
        procs = self.processes()
        return None if procs is None else evaluate(procs)

    def flags_source(self):
        if self.local is not None:
            return "the command lines of local cluster %s's processes" % self.local["name"]
        return "the kube-system control-plane Pods"

    def no_flags_reason(self):
        return ("the API server's flags cannot be read through the Kubernetes API: no control-plane Pod in kube-system "
                "(a managed control plane, such as EKS or GKE, shows none; its provider's settings say it)")

    def cert_entries(self):
        return self._cert_entries() if callable(self._cert_entries) else self._cert_entries

    def serving_cert(self):
        return self._serving_cert() if callable(self._serving_cert) else self._serving_cert

    def backups(self, cluster):
        return self._list_backups(self.storage, cluster)

    def http_get(self, url, timeout):
        return self._http_get(url, timeout)


def _http_get(url, timeout):
    """``(status, None)`` or ``(None, error)`` of GET ``url`` (certificates verified)."""
    from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request
    try:
        status, _body, _cert = request(url, "", ssl.create_default_context(), timeout)
    except (OSError, ValueError) as exc:
        return None, str(exc) or type(exc).__name__
    return status, None


# ------------------------------------------------------------------------------------------------ infrastructure
def check_multi_az(ctx):
    nodes = ctx.items("/api/v1/nodes") or []
    zones, regions, unlabelled = {}, set(), []
    for node in nodes:
        labels = _labels(node)
        zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), None)
        region = next((labels[k] for k in REGION_LABELS if labels.get(k)), None)
        if zone:
            zones.setdefault(zone, []).append(_name(node))
        else:
            unlabelled.append(_name(node))
        if region:
            regions.add(region)
    evidence = [ev("GET /api/v1/nodes (labels %s, %s)" % (ZONE_LABELS[0], REGION_LABELS[0]),
                   "%d nodes; zones: %s; regions: %s; without a zone: %s" % (
                       len(nodes), ", ".join("%s (%d)" % (z, len(n)) for z, n in sorted(zones.items())) or "none",
                       ", ".join(sorted(regions)) or "none", _short(unlabelled) or "none"))]
    if ctx.local is not None:
        members = ctx.local["cluster"].members
        evidence.append(ev("the saved state of local cluster %s" % ctx.local["name"],
                           "%d control-plane member(s), all on this machine (127.0.0.1)" % members))
        return FAIL, "every control-plane member of local cluster %s runs on this machine: one failure domain" % ctx.local["name"], evidence
    if not nodes:
        return UNKNOWN, "the cluster has no Nodes to read zones from", evidence
    if not zones:
        return UNKNOWN, "no Node carries a zone label (%s): the zones cannot be read from the cluster" % ZONE_LABELS[0], evidence
    if len(zones) < 2:
        return FAIL, "every labelled Node is in zone %s" % next(iter(zones)), evidence
    if unlabelled:
        return WARN, "%d zones, but %d Node(s) carry no zone label: %s" % (len(zones), len(unlabelled), _short(unlabelled)), evidence
    detail = "Nodes spread over %d zones" % len(zones)
    if len(regions) > 1:
        detail += " in %d regions" % len(regions)
    return PASS, detail, evidence


def _load_balancer_services(ctx):
    services = [s for s in ctx.items("/api/v1/services") or [] if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    ready = [s for s in services if ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress")]
    pending = [_name(s) for s in services if s not in ready]
    showed = "%d of type LoadBalancer; with an address: %s; pending: %s" % (
        len(services), _short(_name(s) for s in ready) or "none", _short(pending) or "none")
    return ready, pending, ev("GET /api/v1/services (spec.type, status.loadBalancer.ingress)", showed)


def check_load_balancer(ctx):
    ready, pending, svc_evidence = _load_balancer_services(ctx)
    evidence = [svc_evidence]
    if ctx.local is not None:
        cluster = ctx.local["cluster"]
        if cluster.members < 2:
            evidence.append(ev("the saved state of local cluster %s" % ctx.local["name"], "1 control-plane member"))
            return FAIL, "one API server and no load balancer in front of it (create the cluster with ha: true)", evidence
        state = ((ctx.local.get("states") or {}).get("haproxy") or {}).get("state") or "not supervised"
        evidence.append(ev("supervisord's state of program haproxy (the API load balancer)", "%s, port %s" % (state, cluster.ports["api"])))
        if state != "RUNNING":
            return FAIL, "the load balancer of the %d API servers is %s" % (cluster.members, state.lower()), evidence
        return PASS, "haproxy balances %d API servers on port %s" % (cluster.members, cluster.ports["api"]), evidence
    if ready:
        return PASS, "%d LoadBalancer Service(s) with an address" % len(ready), evidence
    if pending:
        return FAIL, "LoadBalancer Service(s) without an address (no load balancer was provisioned): %s" % _short(pending), evidence
    return FAIL, "no Service of type LoadBalancer: nothing provisions a load balancer for the cluster's traffic", evidence


def check_dns_certificates(ctx):
    evidence, parts = [], []
    dns = [s for s in ctx.items("/api/v1/namespaces/kube-system/services") or []
           if _labels(s).get("k8s-app") == "kube-dns" or (s.get("metadata") or {}).get("name") == "kube-dns"]
    if not dns:
        evidence.append(ev("GET /api/v1/namespaces/kube-system/services (k8s-app=kube-dns)", "no cluster DNS Service"))
        parts.append((FAIL, "no cluster DNS Service (kube-dns) in kube-system"))
    else:
        svc = dns[0]
        name = svc["metadata"]["name"]
        slices = ctx.items("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?labelSelector="
                           "kubernetes.io%2Fservice-name%3D" + name) or []
        ready = sum(1 for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
        evidence.append(ev("Service kube-system/%s and its EndpointSlices" % name,
                           "clusterIP %s, %d ready endpoint(s)" % ((svc.get("spec") or {}).get("clusterIP"), ready)))
        parts.append((PASS, "cluster DNS %s answers on %d endpoint(s)" % (name, ready)) if ready
                     else (FAIL, "cluster DNS Service %s has no ready endpoint" % name))

    min_days = ctx.params.get("cert_min_days", 30)
    certs = ctx.cert_entries() or []
    serving = ctx.serving_cert()
    if serving:
        certs = list(certs) + [serving]
    bad = [c for c in certs if c.get("error") or c.get("days_left") is None or c["days_left"] < min_days]
    if certs:
        soonest = min((c for c in certs if c.get("days_left") is not None), key=lambda c: c["days_left"], default=None)
        evidence.append(ev("%d certificate(s): %s" % (len(certs), "the local cluster's PKI and the API server's serving "
                                                      "certificate" if ctx.local is not None else "the API server's serving certificate"),
                           "soonest expiry: %s (%s days)" % ((soonest or {}).get("source"), (soonest or {}).get("days_left"))))
        if bad:
            parts.append((FAIL, "certificate(s) expiring within %d days or unreadable: %s" % (
                min_days, _short("%s (%s)" % (os.path.basename(c.get("source") or "?"), c.get("error") or "%s days" % c.get("days_left"))
                                 for c in bad))))
        else:
            parts.append((PASS, "%d certificate(s) valid for %d days or more" % (len(certs), min_days)))
    else:
        parts.append((UNKNOWN, "no certificate could be read"))

    ingresses = ctx.items("/apis/networking.k8s.io/v1/ingresses") or []
    hosted = [i for i in ingresses if any(r.get("host") for r in (i.get("spec") or {}).get("rules") or [])]
    without_tls = [_name(i) for i in hosted if not (i.get("spec") or {}).get("tls")]
    evidence.append(ev("GET /apis/networking.k8s.io/v1/ingresses", "%d with a host, %d without tls: %s" % (
        len(hosted), len(without_tls), _short(without_tls) or "none")))
    if without_tls:
        parts.append((WARN, "Ingress(es) with a host name but no TLS: %s" % _short(without_tls)))
    if ctx.served("cert-manager.io/v1", "certificates"):
        certificates = ctx.items("/apis/cert-manager.io/v1/certificates") or []
        not_ready = [_name(c) for c in certificates if not any(
            cond.get("type") == "Ready" and cond.get("status") == "True" for cond in (c.get("status") or {}).get("conditions") or [])]
        evidence.append(ev("GET /apis/cert-manager.io/v1/certificates", "%d, not Ready: %s" % (len(certificates), _short(not_ready) or "none")))
        if not_ready:
            parts.append((FAIL, "cert-manager Certificate(s) not Ready: %s" % _short(not_ready)))
    status = worst(p[0] for p in parts)
    return status, "; ".join(p[1] for p in parts if p[0] == status or status == PASS), evidence


def check_backup(ctx):
    if ctx.storage is None:
        return FAIL, "no backup storage configured (option storage)", [ev("option storage", "not set")]
    cluster = ctx.params.get("backup_cluster")
    location = ctx.storage.location
    try:
        ctx.storage.check(write=False)
        backups = ctx.backups(cluster)
    except Exception as exc:  # noqa: BLE001 - any storage failure is the finding
        return FAIL, "backup storage %s cannot be read: %s" % (location, getattr(exc, "msg", None) or exc), [
            ev("backup storage %s" % location, "unreadable: %s" % (getattr(exc, "msg", None) or exc))]
    complete = [b for b in backups if b.get("complete")]
    newest = complete[-1] if complete else None
    showed = "%d backup(s)%s, %d complete; newest complete: %s" % (
        len(backups), " of cluster %s" % cluster if cluster else "", len(complete),
        "%s at %s" % (newest["name"], newest["time"]) if newest else "none")
    evidence = [ev("the backups in %s" % location, showed)]
    if newest is None:
        return FAIL, "no complete backup%s in %s" % (" of cluster %s" % cluster if cluster else "", location), evidence
    from ansible_collections.adhar.platform.plugins.module_utils._storage.base import parse_time
    when = parse_time(newest["time"])
    age = (ctx.now - when).total_seconds() if when else None
    limit = ctx.params["backup_max_age_seconds"]
    if age is None:
        return FAIL, "the newest complete backup %s has no time" % newest["name"], evidence
    if age > limit:
        return FAIL, "the newest complete backup %s is %s old (more than %s)" % (newest["name"], _days(age), _days(limit)), evidence
    return PASS, "complete backup %s, %s old, in %s" % (newest["name"], _days(age), location), evidence


def check_monitoring(ctx):
    evidence, reachable, unreachable = [], [], []
    timeout = ctx.params.get("timeout", 5.0)
    for url in ctx.params.get("monitoring_urls") or []:
        status, error = ctx.http_get(url, timeout)
        ok = status is not None and 200 <= status < 400
        evidence.append(ev("GET %s" % url, "HTTP %s" % status if status is not None else error))
        (reachable if ok else unreachable).append(url)
    services = [s for s in ctx.items("/api/v1/services") or []
                if any(n in (_labels(s).get("app.kubernetes.io/name") or (s.get("metadata") or {}).get("name") or "")
                       for n in MONITORING_NAMES)]
    for svc in services:
        meta = svc["metadata"]
        slices = ctx.items("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector=kubernetes.io%%2Fservice-name%%3D%s"
                           % (meta["namespace"], meta["name"])) or []
        ready = sum(1 for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
        evidence.append(ev("Service %s and its EndpointSlices" % _name(svc), "%d ready endpoint(s)" % ready))
        (reachable if ready else unreachable).append("Service " + _name(svc))
    metrics = ctx.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")
    if metrics is not None:
        available = any(c.get("type") == "Available" and c.get("status") == "True" for c in (metrics.get("status") or {}).get("conditions") or [])
        evidence.append(ev("APIService v1beta1.metrics.k8s.io", "Available" if available else "not Available"))
        (reachable if available else unreachable).append("the metrics API (v1beta1.metrics.k8s.io)")
    if not evidence:
        evidence.append(ev("option monitoring_urls, Services named like %s, APIService v1beta1.metrics.k8s.io" % "/".join(MONITORING_NAMES[:3]),
                           "none found"))
        return FAIL, "no monitoring endpoint found (no monitoring_urls, no Prometheus/Grafana Service, no metrics API)", evidence
    if unreachable:
        return FAIL, "not reachable: %s" % _short(unreachable), evidence
    return PASS, "reachable: %s" % _short(reachable), evidence


# ------------------------------------------------------------------------------------------------ security
def _user_namespaces(ctx):
    return [n["metadata"]["name"] for n in ctx.items("/api/v1/namespaces") or [] if n["metadata"]["name"] not in SYSTEM_NAMESPACES]


def check_network_policies(ctx):
    policies = ctx.items("/apis/networking.k8s.io/v1/networkpolicies") or []
    covered = {(p.get("metadata") or {}).get("namespace") for p in policies}
    evidence = [ev("GET /apis/networking.k8s.io/v1/networkpolicies", "%d in %d namespace(s)" % (len(policies), len(covered)))]
    cluster_wide = 0
    if ctx.served("cilium.io/v2", "ciliumnetworkpolicies"):
        cnp = ctx.items("/apis/cilium.io/v2/ciliumnetworkpolicies") or []
        covered |= {(p.get("metadata") or {}).get("namespace") for p in cnp}
        evidence.append(ev("GET /apis/cilium.io/v2/ciliumnetworkpolicies", "%d" % len(cnp)))
    if ctx.served("cilium.io/v2", "ciliumclusterwidenetworkpolicies"):
        cluster_wide = len(ctx.items("/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies") or [])
        evidence.append(ev("GET /apis/cilium.io/v2/ciliumclusterwidenetworkpolicies", "%d" % cluster_wide))
    namespaces = _user_namespaces(ctx)
    uncovered = [n for n in namespaces if n not in covered]
    evidence.append(ev("GET /api/v1/namespaces (not %s)" % ", ".join(SYSTEM_NAMESPACES),
                       "%d namespace(s), without a policy: %s" % (len(namespaces), _short(uncovered) or "none")))
    if not covered and not cluster_wide:
        return FAIL, "no NetworkPolicy in any namespace: all Pod traffic is allowed", evidence
    if cluster_wide:
        return PASS, "%d cluster-wide Cilium policies, policies in %d namespace(s)" % (cluster_wide, len(covered)), evidence
    if uncovered:
        return WARN, "namespace(s) without a NetworkPolicy: %s" % _short(uncovered), evidence
    return PASS, "every namespace outside %s has a policy" % "/".join(SYSTEM_NAMESPACES), evidence


def _builtin(obj):
    meta = obj.get("metadata") or {}
    return (meta.get("name") or "").startswith("system:") or _labels(obj).get("kubernetes.io/bootstrapping") == "rbac-defaults"


def check_rbac(ctx):
    evidence, parts = [], []
    if not ctx.served("rbac.authorization.k8s.io/v1", "clusterroles"):
        return FAIL, "the cluster does not serve rbac.authorization.k8s.io/v1", [ev("GET /apis/rbac.authorization.k8s.io/v1", "not served")]
    results = ctx.flag_results()
    if results and "apiserver" in results:
        modes = flag_value(ctx.processes(), "apiserver", "authorization-mode")
        evidence.append(ev("--authorization-mode in %s" % ctx.flags_source(),
                           _short("%s: %s" % (p, m or "not set (AlwaysAllow)") for p, m in sorted(modes.items()))))
        if any("RBAC" not in (m or "AlwaysAllow").split(",") for m in modes.values()):
            parts.append((FAIL, "an API server does not authorize with RBAC"))
    cluster_roles = ctx.items("/apis/rbac.authorization.k8s.io/v1/clusterroles") or []
    roles = ctx.items("/apis/rbac.authorization.k8s.io/v1/roles") or []
    own = [_name(r) for r in cluster_roles + roles if not _builtin(r)]
    evidence.append(ev("GET clusterroles and roles (built-in: system:* or kubernetes.io/bootstrapping=rbac-defaults)",
                       "%d ClusterRoles, %d Roles; not built in: %s" % (len(cluster_roles), len(roles), _short(own) or "none")))
    if not own:
        parts.append((FAIL, "only the built-in roles: no role of the platform's own is defined"))
    bindings = ctx.items("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings") or []
    anonymous, admins = [], []
    for b in bindings:
        if _builtin(b):
            continue
        subjects = b.get("subjects") or []
        if any(s.get("name") in ("system:anonymous", "system:unauthenticated") for s in subjects):
            anonymous.append(_name(b))
        if (b.get("roleRef") or {}).get("name") == "cluster-admin":
            admins.extend("%s -> %s %s" % (_name(b), s.get("kind"), s.get("name")) for s in subjects)
    evidence.append(ev("GET clusterrolebindings (not built in)", "cluster-admin granted to: %s; to anonymous users: %s" % (
        _short(admins) or "nobody", _short(anonymous) or "none")))
    if anonymous:
        parts.append((FAIL, "ClusterRoleBinding(s) grant anonymous users: %s" % _short(anonymous)))
    if admins:
        parts.append((WARN, "cluster-admin bound outside the built-in bindings: %s" % _short(admins)))
    if not parts:
        return PASS, "RBAC authorizes; %d role(s) of the platform's own, no extra cluster-admin or anonymous grant" % len(own), evidence
    status = worst(p[0] for p in parts)
    return status, "; ".join(p[1] for p in parts if p[0] == status), evidence


def _read_yaml(path):
    with open(path) as handle:
        text = handle.read()
    try:
        return yaml_load(text)
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError (PyYAML comes through ansible.module_utils.common.yaml)
        raise ValueError("%s is not YAML: %s" % (path, exc))


def check_secrets_encryption(ctx):
    procs = ctx.processes()
    if procs is None:
        return UNKNOWN, ctx.no_flags_reason(), [ev("GET kube-system control-plane Pods", "none")]
    values = flag_value(procs, "apiserver", "encryption-provider-config")
    evidence = [ev("--encryption-provider-config in %s" % ctx.flags_source(),
                   _short("%s: %s" % (p, v or "not set") for p, v in sorted(values.items())))]
    missing = [p for p, v in values.items() if not v]
    if not values:
        return UNKNOWN, "no API server command line found", evidence
    if missing:
        return FAIL, "Secrets are stored in etcd in plain text: %s runs without --encryption-provider-config" % _short(missing), evidence
    if ctx.local is None:
        return PASS, "every API server has an encryption configuration (its file on the control-plane node is not readable from here)", evidence
    problems = []
    for path in sorted(set(values.values())):
        try:
            conf = _read_yaml(path) or {}
        except (OSError, ValueError) as exc:
            problems.append("%s unreadable: %s" % (path, exc))
            continue
        first = None
        for entry in conf.get("resources") or []:
            if "secrets" in (entry.get("resources") or []):
                first = next(iter((entry.get("providers") or [{}])[0]), None)
                break
        evidence.append(ev(path, "first provider for secrets: %s" % (first or "none (secrets not listed)")))
        if first in (None, "identity"):
            problems.append("%s does not encrypt secrets (first provider: %s)" % (path, first or "none"))
    if problems:
        return FAIL, "; ".join(problems), evidence
    return PASS, "Secrets are encrypted at rest by every API server", evidence


def _audit_policy(ctx, path):
    if ctx.local is None:
        return None
    try:
        return _read_yaml(path) or {}
    except (OSError, ValueError):
        return None


def check_audit_logging(ctx):
    procs = ctx.processes()
    if procs is None:
        return UNKNOWN, ctx.no_flags_reason(), [ev("GET kube-system control-plane Pods", "none")]
    paths = flag_value(procs, "apiserver", "audit-log-path")
    webhooks = flag_value(procs, "apiserver", "audit-webhook-config-file")
    policies = flag_value(procs, "apiserver", "audit-policy-file")
    evidence = [ev("--audit-log-path, --audit-webhook-config-file, --audit-policy-file in %s" % ctx.flags_source(),
                   _short("%s: log %s, webhook %s, policy %s" % (p, paths[p], webhooks[p], policies[p]) for p in sorted(paths)))]
    off = [p for p in paths if not (paths[p] or webhooks[p]) or not policies[p]]
    if not paths:
        return UNKNOWN, "no API server command line found", evidence
    if off:
        return FAIL, "audit logging is off on %s (no audit log or webhook with a policy)" % _short(off), evidence
    if ctx.local is not None:
        for proc, path in sorted(paths.items()):
            if not path or path == "-":
                continue
            try:
                size = os.path.getsize(path)
            except OSError as exc:
                evidence.append(ev(path, "missing: %s" % exc.strerror))
                return FAIL, "%s's audit log %s does not exist" % (proc, path), evidence
            evidence.append(ev(path, "%d bytes" % size))
            if size == 0:
                return WARN, "%s's audit log %s is empty: the policy may record nothing" % (proc, path), evidence
    return PASS, "every API server writes an audit log with a policy", evidence


def check_security_scanning(ctx):
    evidence = []
    groups = (ctx.get("/apis") or {}).get("groups") or []
    names = {g.get("name") for g in groups}
    scanners = [g for g in ("aquasecurity.github.io", "spdx.softwarecomposition.kubescape.io", "neuvector.com") if g in names]
    evidence.append(ev("GET /apis (API groups of scanners: trivy-operator, kubescape, NeuVector)", _short(scanners) or "none served"))
    reports = 0
    if ctx.served("aquasecurity.github.io/v1alpha1", "vulnerabilityreports"):
        reports = len(ctx.items("/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports") or [])
        evidence.append(ev("GET /apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports", "%d report(s)" % reports))
    if ctx.served("spdx.softwarecomposition.kubescape.io/v1beta1", "vulnerabilitymanifests"):
        found = len(ctx.items("/apis/spdx.softwarecomposition.kubescape.io/v1beta1/vulnerabilitymanifests") or [])
        reports += found
        evidence.append(ev("GET kubescape vulnerabilitymanifests", "%d" % found))
    if not scanners:
        return FAIL, "no image or configuration scanner runs in the cluster (trivy-operator, kubescape, NeuVector)", evidence
    if not reports and "neuvector.com" not in scanners:
        return WARN, "a scanner is installed (%s) but has written no report yet" % _short(scanners), evidence
    return PASS, "%s scans the cluster%s" % (_short(scanners), " (%d reports)" % reports if reports else ""), evidence


# ------------------------------------------------------------------------------------------------ compliance
def check_policy_enforcement(ctx):
    namespaces = [n for n in ctx.items("/api/v1/namespaces") or [] if n["metadata"]["name"] not in SYSTEM_NAMESPACES]
    enforced = {n["metadata"]["name"]: _labels(n).get(PSA_ENFORCE) for n in namespaces}
    without = [n for n, level in enforced.items() if not level or level == "privileged"]
    evidence = [ev("GET /api/v1/namespaces (label %s)" % PSA_ENFORCE, _short("%s=%s" % kv for kv in sorted(enforced.items())) or "none")]
    engines = []
    bindings = ctx.items("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings") or []
    denying = [_name(b) for b in bindings if "Deny" in ((b.get("spec") or {}).get("validationActions") or [])]
    evidence.append(ev("GET validatingadmissionpolicybindings", "%d, denying: %s" % (len(bindings), _short(denying) or "none")))
    if denying:
        engines.append("%d ValidatingAdmissionPolicyBinding(s) that deny" % len(denying))
    if ctx.served("kyverno.io/v1", "clusterpolicies"):
        policies = ctx.items("/apis/kyverno.io/v1/clusterpolicies") or []
        enforce = [_name(p) for p in policies if str((p.get("spec") or {}).get("validationFailureAction", "")).lower() == "enforce"]
        evidence.append(ev("GET /apis/kyverno.io/v1/clusterpolicies", "%d, enforcing: %s" % (len(policies), _short(enforce) or "none")))
        if enforce:
            engines.append("%d Kyverno ClusterPolicies enforcing" % len(enforce))
    if ctx.served("templates.gatekeeper.sh/v1", "constrainttemplates"):
        templates = ctx.items("/apis/templates.gatekeeper.sh/v1/constrainttemplates") or []
        evidence.append(ev("GET /apis/templates.gatekeeper.sh/v1/constrainttemplates", "%d" % len(templates)))
        if templates:
            engines.append("%d Gatekeeper ConstraintTemplates" % len(templates))
    if not without:
        return PASS, "Pod Security enforced in every namespace outside %s%s" % (
            "/".join(SYSTEM_NAMESPACES), "; " + "; ".join(engines) if engines else ""), evidence
    if engines:
        return PASS, "%s; namespaces without Pod Security enforcement: %s" % ("; ".join(engines), _short(without)), evidence
    if len(without) < len(enforced):
        return WARN, "Pod Security not enforced in: %s" % _short(without), evidence
    return FAIL, "no policy is enforced: no namespace has %s and no admission policy denies" % PSA_ENFORCE, evidence


def check_compliance(ctx):
    evidence, parts = [], []
    results = ctx.flag_results()
    if results:
        failed = [c["id"] for r in results.values() for c in r["checks"] if c["status"] == FAIL]
        checked = sum(len(r["checks"]) for r in results.values())
        evidence.append(ev("the control-plane flag checks (%s)" % ctx.flags_source(),
                           "%d checks, failed: %s" % (checked, _short(failed) or "none")))
        parts.append((FAIL, "%d of %d control-plane flag checks fail: %s" % (len(failed), checked, _short(failed, 4))) if failed
                     else (PASS, "all %d control-plane flag checks pass" % checked))
    if ctx.served("aquasecurity.github.io/v1alpha1", "clustercompliancereports"):
        reports = ctx.items("/apis/aquasecurity.github.io/v1alpha1/clustercompliancereports") or []
        fails = {_name(r): ((r.get("status") or {}).get("summary") or {}).get("failCount") for r in reports}
        evidence.append(ev("GET /apis/aquasecurity.github.io/v1alpha1/clustercompliancereports",
                           _short("%s: %s failed" % kv for kv in sorted(fails.items())) or "none"))
        bad = [n for n, count in fails.items() if count]
        if bad:
            parts.append((FAIL, "compliance report(s) with failures: %s" % _short(bad)))
        elif reports:
            parts.append((PASS, "%d compliance report(s) without failures" % len(reports)))
    if not parts:
        return UNKNOWN, "%s, and no compliance report (trivy-operator ClusterComplianceReport) is served" % ctx.no_flags_reason(), evidence
    status = worst(p[0] for p in parts)
    return status, "; ".join(p[1] for p in parts if p[0] == status), evidence


_DETAILED = ("Request", "RequestResponse")


def _matches_secrets(rule):
    if rule.get("nonResourceURLs"):
        return False
    groups = rule.get("resources")
    return not groups or any(g.get("group", "") == "" and (not g.get("resources") or "secrets" in g["resources"]) for g in groups)


def _secret_body_levels(rules):
    """The levels above Metadata that a request on Secrets can meet in an audit policy (the first matching rule wins;
    a rule restricted to some users, verbs or namespaces lets other requests through to the next)."""
    found = []
    for rule in rules:
        if not _matches_secrets(rule):
            continue
        if rule.get("level") in _DETAILED:
            found.append(rule["level"])
        if not any(rule.get(k) for k in ("users", "userGroups", "verbs", "namespaces")):
            break
    return found


def check_audit_trails(ctx):
    procs = ctx.processes()
    if procs is None:
        return UNKNOWN, ctx.no_flags_reason(), [ev("GET kube-system control-plane Pods", "none")]
    flags = {name: flag_value(procs, "apiserver", name) for name in
             ("audit-log-path", "audit-webhook-config-file", "audit-log-maxage", "audit-log-maxbackup", "audit-policy-file")}
    members = sorted(flags["audit-log-path"])
    if not members:
        return UNKNOWN, "no API server command line found", []
    evidence = [ev("audit retention flags in %s" % ctx.flags_source(), _short(
        "%s: maxage %s, maxbackup %s" % (m, flags["audit-log-maxage"][m], flags["audit-log-maxbackup"][m]) for m in members))]
    if any(not (flags["audit-log-path"][m] or flags["audit-webhook-config-file"][m]) for m in members):
        return FAIL, "no audit trail: an API server writes no audit log (see audit_logging)", evidence
    parts = []
    for path in sorted({p for p in flags["audit-policy-file"].values() if p}):
        policy = _audit_policy(ctx, path)
        if policy is None:
            continue
        secrets_detailed = _secret_body_levels(policy.get("rules") or [])
        levels = sorted({r.get("level") for r in policy.get("rules") or []})
        evidence.append(ev(path, "rule levels: %s" % ", ".join(str(level) for level in levels)))
        if levels == ["None"] or not levels:
            parts.append((FAIL, "the audit policy %s records nothing" % path))
        elif secrets_detailed:
            parts.append((FAIL, "the audit policy %s records Secret bodies (level %s): the trail leaks secrets" % (path, secrets_detailed[0])))
    webhook_only = all(not flags["audit-log-path"][m] for m in members)
    if not webhook_only:
        short_age = [m for m in members if not flags["audit-log-maxage"][m]]
        if short_age:
            parts.append((WARN, "audit logs are rotated by size and count only (no --audit-log-maxage): the trail's age is not kept"))
    if not parts:
        return PASS, "audit trails kept with a retention and a policy that records requests without Secret bodies", evidence
    status = worst(p[0] for p in parts)
    return status, "; ".join(p[1] for p in parts if p[0] == status), evidence


def check_data_retention(ctx):
    retention = ctx.params.get("backup_retention_seconds")
    evidence = [ev("option backup_retention", _days(retention) if retention else "not set")]
    if not retention:
        return FAIL, "no data retention set for backups (option backup_retention)", evidence
    if ctx.storage is None:
        return FAIL, "a retention of %s is set, but no backup storage to apply it to (option storage)" % _days(retention), evidence
    cluster = ctx.params.get("backup_cluster")
    try:
        backups = ctx.backups(cluster)
    except Exception as exc:  # noqa: BLE001 - reported as the finding
        return FAIL, "backup storage %s cannot be read: %s" % (ctx.storage.location, getattr(exc, "msg", None) or exc), evidence
    from ansible_collections.adhar.platform.plugins.module_utils._storage.base import parse_time
    # a backup is due for deletion once older than the retention; the next scheduled run deletes it
    grace = ctx.params["backup_max_age_seconds"]
    expired = []
    for b in backups:
        when = parse_time(b.get("time"))
        if when is not None and (ctx.now - when).total_seconds() > retention + grace:
            expired.append(b["name"])
    oldest = backups[0] if backups else None
    evidence.append(ev("the backups in %s" % ctx.storage.location, "%d; oldest: %s; older than the retention: %s" % (
        len(backups), "%s at %s" % (oldest["name"], oldest["time"]) if oldest else "none", _short(expired) or "none")))
    if expired:
        return FAIL, "retention of %s is not applied: %d backup(s) are older: %s" % (_days(retention), len(expired), _short(expired, 3)), evidence
    return PASS, "backups kept for %s: none of the %d backup(s) is older" % (_days(retention), len(backups)), evidence


# ------------------------------------------------------------------------------------------------ control-plane flags
def flags_check(kind):
    def check(ctx):
        results = ctx.flag_results()
        if results is None:
            return UNKNOWN, ctx.no_flags_reason(), [ev("GET kube-system control-plane Pods", "none")]
        result = results.get(kind)
        if result is None:
            return UNKNOWN, "no %s command line found in %s" % (kind, ctx.flags_source()), []
        failed = [c for c in result["checks"] if c["status"] == FAIL]
        warned = [c for c in result["checks"] if c["status"] == WARN]
        evidence = [ev(source, "%s" % process) for source, process in zip(result["sources"], result["processes"])]
        if failed or warned:
            detail = "; ".join(c["problem"] for c in failed + warned if c["problem"])
        else:
            detail = "%d flag checks pass on %s" % (len(result["checks"]), _short(result["processes"]))
        return result["status"], detail, evidence, result["checks"]
    check.__name__ = "check_%s_flags" % re.sub(r"\W", "_", kind)
    return check
