# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation of a local cluster's desired spec (pure functions).

Everything a user can get wrong is checked here, before any file, port or
process is touched; each problem is reported with the option it came from.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
MEMBER_COUNTS = (1, 3, 5)
DEFAULT_POD_CIDR = "10.244.0.0/16"
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
DEFAULT_QUOTA = 2 * 1024 ** 3
ENCRYPTION_PROVIDERS = ("secretbox", "aescbc", "aesgcm")

# Fields that cannot change once the cluster exists (changing them means a new cluster). The API servers' flags come
# from encryption_at_rest and audit_policy when they are first started.  kubernetes_version changes by a rolling
# upgrade (local/upgrade.py).
IMMUTABLE = ("control_plane_count", "pod_cidr", "service_cidr", "cluster_id",
             "encryption_at_rest", "audit_policy", "etcd_quota_bytes")

DEFAULT_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*", "/version"]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets", "configmaps"]}]},
        {"level": "Metadata"},
    ],
}


def default_state_root(environ=None):
    env = os.environ if environ is None else environ
    if env.get("ADHAR_STATE_DIR"):
        return os.path.abspath(os.path.expanduser(env["ADHAR_STATE_DIR"]))
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "adhar")


def _cidr(value, option):
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as e:
        raise AdharError("%s: %r is not a valid network CIDR (%s)" % (option, value, e), option=option)
    if net.version != 4:
        raise AdharError("%s: only IPv4 ranges are supported by the local provider (got %s)" % (option, value), option=option)
    return net


def normalize(params, default_version):
    """Turn module params into the spec saved with the cluster.  Raises AdharError on bad input."""
    name = params.get("name")
    if not name or not NAME_RE.match(name):
        raise AdharError("name: %r is not a valid cluster name: use 1-32 lower-case letters, digits and '-', "
                         "starting and ending with a letter or digit" % (name,), option="name")
    cp = params.get("control_plane") or {}
    count = cp.get("count")
    ha = params.get("ha")
    if count is None:
        count = 3 if ha else 1
    elif ha is True and count == 1:
        raise AdharError("ha: true conflicts with control_plane.count: 1 (ha means 3 members; set one or the other)",
                         option="control_plane.count")
    elif ha is False and count > 1:
        raise AdharError("ha: false conflicts with control_plane.count: %d" % count, option="control_plane.count")
    if count not in MEMBER_COUNTS:
        why = "an even number of etcd members adds no fault tolerance and risks split votes" if count % 2 == 0 \
            else "supported sizes are 1, 3 and 5"
        raise AdharError("control_plane.count: %d is not allowed (%s); use 1, 3 or 5" % (count, why),
                         option="control_plane.count")
    nodes = (params.get("nodes") or {}).get("count")
    nodes = 1 if nodes is None else nodes
    if nodes < 0 or nodes > 1000:
        raise AdharError("nodes.count: %d is out of range (0-1000)" % nodes, option="nodes.count")
    cluster_id = params.get("cluster_id")
    cluster_id = 1 if cluster_id is None else cluster_id
    if not 1 <= cluster_id <= 255:
        raise AdharError("cluster_id: %d is out of range (1-255)" % cluster_id, option="cluster_id")
    pod = _cidr(params.get("pod_cidr") or DEFAULT_POD_CIDR, "pod_cidr")
    svc = _cidr(params.get("service_cidr") or DEFAULT_SERVICE_CIDR, "service_cidr")
    if pod.overlaps(svc):
        raise AdharError("pod_cidr %s overlaps service_cidr %s" % (pod, svc), option="service_cidr")
    if svc.prefixlen < 12 or svc.prefixlen > 28:
        raise AdharError("service_cidr: %s must be between /12 and /28" % svc, option="service_cidr")
    if pod.prefixlen > 24:
        raise AdharError("pod_cidr: %s is too small; each node gets a /24, so use /24 or larger" % pod, option="pod_cidr")
    version = params.get("kubernetes_version") or default_version
    if not re.match(r"^v?\d+\.\d+\.\d+$", version):
        raise AdharError("kubernetes_version: %r is not a release version like v1.36.3" % version, option="kubernetes_version")
    version = version if version.startswith("v") else "v" + version
    enc = params.get("encryption_at_rest") or {}
    enc_spec = None
    if enc.get("enabled"):
        provider = enc.get("provider") or "secretbox"
        if provider not in ENCRYPTION_PROVIDERS:
            raise AdharError("encryption_at_rest.provider: %r is not one of %s" % (provider, ", ".join(ENCRYPTION_PROVIDERS)),
                             option="encryption_at_rest.provider")
        resources = sorted(set(enc.get("resources") or ["secrets"]))
        enc_spec = {"provider": provider, "resources": resources}
    audit = params.get("audit_policy") or {}
    audit_spec = None
    if audit.get("enabled"):
        policy = audit.get("policy") or DEFAULT_AUDIT_POLICY
        if not isinstance(policy, dict) or policy.get("kind") != "Policy" or not isinstance(policy.get("rules"), list):
            raise AdharError("audit_policy.policy must be an audit.k8s.io/v1 Policy with a list of rules",
                             option="audit_policy.policy")
        for key, low in (("max_size_mb", 1), ("max_backups", 0)):
            if audit.get(key) is not None and audit[key] < low:
                raise AdharError("audit_policy.%s: %d must be %d or more" % (key, audit[key], low),
                                 option="audit_policy." + key)
        audit_spec = {"policy": policy, "max_size_mb": audit.get("max_size_mb") or 100,
                      "max_backups": audit.get("max_backups") if audit.get("max_backups") is not None else 3}
    api_port = params.get("api_port")
    if api_port is not None and not 1024 <= api_port <= 65535:
        raise AdharError("api_port: %d is out of range (1024-65535)" % api_port, option="api_port")
    quota = params.get("etcd_quota_bytes") or DEFAULT_QUOTA
    if quota < 64 * 1024 ** 2 or quota > 8 * 1024 ** 3:
        raise AdharError("etcd_quota_bytes: %d is out of range (64 MiB - 8 GiB)" % quota, option="etcd_quota_bytes")
    return {
        "name": name,
        "control_plane_count": count,
        "nodes_count": nodes,
        "kubernetes_version": version,
        "pod_cidr": str(pod),
        "service_cidr": str(svc),
        "cluster_id": cluster_id,
        "encryption_at_rest": enc_spec,
        "audit_policy": audit_spec,
        "api_port": api_port,
        "etcd_quota_bytes": quota,
        "etcd_unsafe_no_fsync": bool(params.get("etcd_unsafe_no_fsync")),
        "metrics_server": bool(params.get("metrics_server")),
    }


def given_fields(params):
    """Spec fields the user set explicitly (left-out options keep an existing cluster's saved values)."""
    cp = params.get("control_plane") or {}
    nodes = params.get("nodes") or {}
    given = set()
    if params.get("ha") is not None or cp.get("count") is not None:
        given.add("control_plane_count")
    if nodes.get("count") is not None:
        given.add("nodes_count")
    for key in ("kubernetes_version", "pod_cidr", "service_cidr", "cluster_id", "api_port", "etcd_quota_bytes",
                "etcd_unsafe_no_fsync", "encryption_at_rest", "audit_policy", "metrics_server"):
        if params.get(key) is not None:
            given.add(key)
    return given


def merge_saved(desired, given, saved):
    """The desired spec for an existing cluster: what the user set, the saved value for everything else."""
    out = dict(saved)
    for key in given:
        out[key] = desired[key]
    out["name"] = desired["name"]
    return out


def _shown(key, value):
    """A value as an error message shows it: an audit policy by its size and rotation, not its rules."""
    if key == "audit_policy" and value:
        return "on (%d policy rules, max_size_mb %s, max_backups %s)" % (
            len(value["policy"].get("rules") or []), value.get("max_size_mb"), value.get("max_backups"))
    return value


def immutable_changes(saved, desired):
    """``[(field, old, new)]`` for immutable fields that differ."""
    out = []
    for key in IMMUTABLE:
        if saved.get(key) != desired.get(key):
            out.append((key, _shown(key, saved.get(key)), _shown(key, desired.get(key))))
    if desired.get("api_port") is not None and saved.get("api_port") not in (None, desired["api_port"]):
        out.append(("api_port", saved.get("api_port"), desired["api_port"]))
    return out
