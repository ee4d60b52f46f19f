# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``config`` ``action: export``: an adhar config from a live cluster.

The cluster's shape comes from ``_cluster.describe.describe()`` (provider facts); the core services from Helm: for each
release the ``core_services`` role manages (``CORE_RELEASES``, the role's catalog), its user-supplied values
(``helm get values``, not ``--all``) flattened into the config's ``values: [{key, value}]`` form (``--set`` keys).
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._config.loader import ConfigInvalid, from_data
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import validate

# Core service -> (Helm release, namespace), as roles/core_services/defaults/main.yml (core_services_catalog) installs
# them; a unit test keeps the two equal.
CORE_RELEASES = {
    "cilium": ("cilium", "kube-system"),
    "nginx": ("ingress-nginx", "ingress-nginx"),
    "postgresql": ("postgresql", "adhar-data"),
    "redis": ("redis", "adhar-data"),
    "minio": ("minio", "adhar-data"),
    "argocd": ("argocd", "argocd"),
    "gitea": ("gitea", "gitea"),
}

# The last name of a values key that holds a credential: such values are never exported.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api[-_]?key|private[-_]?key|credentials?)$", re.IGNORECASE)

PROVIDER_NAMES = {"local": "kind", "existing": "existing", "eks": "aws", "gke": "gcp"}
CLOUD = ("eks", "gke")


# ---------------------------------------------------------------- values


def escape_key(name):
    """One map key as a ``--set`` key segment (``\\``, ``.`` and ``[`` escaped with a backslash)."""
    return str(name).replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[")


def to_text(value):
    """A scalar as the string ``--set`` types back to it (``true``, ``null``, ``3``); strings unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return str(value)


def _same(a, b):
    """Equal with the same JSON kind (``True`` is not ``1``; ``2.0`` from JSON is the number ``2``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def flatten_values(tree, prefix=""):
    """``(pairs, skipped)``: nested Helm values as ``[{key, value}]`` with ``--set`` keys and string values.

    ``skipped`` lists ``(key, why)`` for what ``--set`` cannot give back as it is: empty maps and lists, and scalars
    whose text ``--set`` types differently (the string ``"3"`` comes back as the number 3, a float like ``1.5`` as a
    string). Those keys are left out, so the export never changes a value silently. Credentials are not handled here.
    """
    from ansible_collections.adhar.platform.plugins.module_utils._helm.release import helm_typed

    pairs, skipped = [], []
    stack = [(prefix, tree)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            if not value and key:
                skipped.append((key, "an empty map cannot be set with a --set key"))
            for name in reversed(list(value)):
                sub = escape_key(name)
                stack.append((key + "." + sub if key else sub, value[name]))
        elif isinstance(value, list):
            if not value:
                skipped.append((key, "an empty list cannot be set with a --set key"))
            for i in reversed(range(len(value))):
                stack.append(("%s[%d]" % (key, i), value[i]))
        else:
            text = to_text(value)
            if not _same(helm_typed(text), value):
                skipped.append((key, "the %s %r would come back from --set as %r" % (type(value).__name__, value, helm_typed(text))))
                continue
            pairs.append({"key": key, "value": text})
    return pairs, skipped


def unflatten_values(pairs):
    """The nested values ``[{key, value}]`` give through ``--set`` (what the core_services role installs)."""
    from ansible_collections.adhar.platform.plugins.module_utils._helm.release import helm_typed, normalize, set_dotted

    tree = {}
    for pair in pairs:
        set_dotted(tree, pair["key"], helm_typed(pair["value"]))
    return normalize(tree)


def is_secret_key(key):
    from ansible_collections.adhar.platform.plugins.module_utils._helm.release import split_key

    names = [p for p in split_key(key) if isinstance(p, str)]
    return bool(names) and bool(SECRET_KEY.search(names[-1]))


def service_values(values):
    """``(pairs, notes)`` of one release's user-supplied values: flattened, credentials and lossy keys left out."""
    pairs, skipped = flatten_values(values or {})
    kept, notes = [], []
    for pair in pairs:
        if is_secret_key(pair["key"]):
            notes.append("%s: left out (a credential; set it again on the new cluster)" % pair["key"])
        else:
            kept.append(pair)
    notes.extend("%s: left out (%s)" % (key, why) for key, why in skipped)
    return kept, notes


# ---------------------------------------------------------------- the config


def _kv(key, value):
    return {"key": key, "value": str(value)}


def build_config(facts, services):
    """The adhar config of one cluster: ``providers``, a template, an environment and the ``clusters:`` entry.

    ``facts`` is a ``_cluster.describe.describe()`` dict; ``services`` maps core-service names to their
    ``[{key, value}]`` values (in the role's install order).
    """
    name = facts["name"]
    provider = PROVIDER_NAMES.get(facts["provider"], facts["provider"])
    template_cc = []
    if facts.get("kubernetes_version"):
        template_cc.append(_kv("kubeVersion", facts["kubernetes_version"]))
    if facts.get("nodes_count") is not None:
        template_cc.append(_kv("workerReplicas", facts["nodes_count"]))
    if facts.get("auto_scale") is not None:
        template_cc.append(_kv("autoScale", "true" if facts["auto_scale"] else "false"))
    for key, fact in (("minNodes", "min_nodes"), ("maxNodes", "max_nodes"), ("nodeInstanceType", "instance_type")):
        if facts.get(fact) is not None:
            template_cc.append(_kv(key, facts[fact]))
    if facts.get("control_plane_count") is not None:
        env_cc = [_kv("controlPlaneReplicas", facts["control_plane_count"])]
    else:
        env_cc = list(template_cc[:1]) or [_kv("provider", facts["provider"])]
    for key, fact in (("endpointPublicAccess", "endpoint_public_access"), ("endpointPrivateAccess", "endpoint_private_access")):
        if facts.get(fact) is not None:
            env_cc.append(_kv(key, "true" if facts[fact] else "false"))
    environment = {
        # the ha_control_plane role turns encryption at rest (and audit logs) on for production environments
        "type": "production" if facts.get("encryption_at_rest") else "non-production",
        "template": name,
        "provider": provider,
    }
    if facts.get("ha") is not None:
        environment["ha"] = bool(facts["ha"])
    environment["clusterConfig"] = env_cc
    cluster = {"name": name, "provider": provider, "region": facts["region"], "role": "primary", "environment": name}
    if facts.get("control_plane_count") is not None:
        cluster["controlPlane"] = {"count": facts["control_plane_count"]}
    if facts.get("nodes_count") is not None:
        cluster["nodes"] = {"count": facts["nodes_count"]}
    for key, fact in (("clusterId", "cluster_id"), ("podCidr", "pod_cidr"), ("serviceCidr", "service_cidr"),
                      ("kubeconfig", "kubeconfig"), ("context", "context")):
        if facts.get(fact) is not None:
            cluster[key] = facts[fact]
    core = {svc: ({"values": copy.deepcopy(pairs)} if pairs else {"values": []}) for svc, pairs in services.items()}
    block = {"type": facts["provider_type"], "region": facts["region"], "primary": True}
    if facts.get("provider_config"):
        block["config"] = copy.deepcopy(facts["provider_config"])
    return {
        "globalSettings": {"enableHAMode": bool(facts.get("ha"))},
        "providers": {provider: block},
        "environmentTemplates": {name: {"clusterConfig": template_cc or list(env_cc), "coreServices": core}},
        "environments": {name: environment},
        "clusters": [cluster],
    }


def check_valid(cfg, limits):
    """Fail with every error when the exported config would not pass ``action: validate`` (nothing is written then)."""
    try:
        report = validate(from_data(cfg, name="export", limits=limits))
        report.raise_if_invalid()
    except ConfigInvalid as exc:
        raise AdharError("the exported config does not pass validation: %s" % "; ".join(
            "%s: %s" % (e["path"], e["message"]) for e in exc.errors[:10]), errors=exc.errors)
    return report


# ---------------------------------------------------------------- Helm


def read_releases(module, facts, helm=None):
    """``{svc: {release, namespace, chart, status, revision, values}}`` of the core services deployed on the cluster."""
    from ansible_collections.adhar.platform.plugins.module_utils._helm import release as H

    workdir = tempfile.mkdtemp(prefix="adhar-export-")
    try:
        if helm is None:
            args, env = H.kube_settings(facts["connection"], workdir)
            helm = H.Helm(H.find_helm(module.params.get("bin_dir")), args, env,
                          timeout=module.params.get("request_timeout") or 30)
        out = {}
        for svc, (release, namespace) in CORE_RELEASES.items():
            history = helm.history(release, namespace)
            if not history:
                continue
            latest = history[-1]
            if latest.get("status") != "deployed":
                module.warn("core service %s: release %s/%s is %s; its last revision's values are exported"
                            % (svc, namespace, release, latest.get("status")))
            out[svc] = {"release": release, "namespace": namespace, "chart": latest.get("chart"),
                        "status": latest.get("status"), "revision": latest.get("revision"),
                        "values": helm.values(release, namespace)}
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def export(module, limits, helm=None):
    """``(config, cluster facts, services, notes, services_error)`` of the live cluster named by the module's params.

    ``services_error`` is ``None`` when the core services were read from Helm. For a cloud cluster whose API server does
    not answer it says why; the config then has the cluster's shape and lists the core_services role's services
    (``CORE_RELEASES``, its default ``core_services_enabled``) without values, and ``notes`` says so.
    """
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.describe import api_unreachable, describe

    p = module.params
    facts = describe(p["provider"], module, p["cluster"])
    services_error = None
    if p["provider"] in CLOUD and helm is None:
        services_error = api_unreachable(facts["connection"], timeout=float(p.get("request_timeout") or 10))
    if services_error:
        notes = list(facts.get("notes") or [])
        notes.append("core services: not read from the cluster (%s); the template lists the core_services role's "
                     "services (%s) without values: check them against the cluster before deploying from this config"
                     % (services_error, ", ".join(CORE_RELEASES)))
        cfg = build_config(facts, {svc: [] for svc in CORE_RELEASES})
        check_valid(cfg, limits)
        cluster = {k: v for k, v in facts.items() if k not in ("connection", "notes")}
        return cfg, cluster, {}, notes, services_error
    releases = read_releases(module, facts, helm)
    if not releases:
        raise AdharError("cluster %r has none of the core services the core_services role installs (%s); an adhar config "
                         "needs at least one core service (upstream rejects a template without)"
                         % (p["cluster"], ", ".join("%s/%s" % (ns, rel) for rel, ns in CORE_RELEASES.values())),
                         option="cluster")
    notes = list(facts.get("notes") or [])
    services, report = {}, {}
    for svc, rel in releases.items():
        pairs, svc_notes = service_values(rel["values"])
        services[svc] = pairs
        notes.extend("%s %s" % (svc, n) for n in svc_notes)
        report[svc] = {k: rel[k] for k in ("release", "namespace", "chart", "status", "revision")}
        report[svc]["values"] = len(pairs)
    cfg = build_config(facts, services)
    check_valid(cfg, limits)
    cluster = {k: v for k, v in facts.items() if k not in ("connection", "notes")}
    return cfg, cluster, report, notes, None
