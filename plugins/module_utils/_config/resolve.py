# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The merged view of an adhar config per environment and per cluster.

Upstream rules (adhar ``ResolveEnvironments``), kept exactly:

* provider: ``environments.<e>.provider`` -> the provider with ``primary: true``
  -> the first provider (upstream iterates a Go map, so "first" is unspecified
  there; here it is the first in the file);
* region: ``environments.<e>.region`` -> ``providers.<p>.region``;
* type: ``environments.<e>.type`` -> ``non-production``;
* clusterConfig: the template's entries, then the environment's (both kept, in
  that order; where a key is read, the last entry wins);
* coreServices: per service, the environment's entry replaces the template's;
  only the services upstream keeps (argocd, gitea, gateway, cilium) plus ours
  (nginx, postgresql, redis, minio) survive; the others are listed in
  ``droppedCoreServices``;
* addons: the template's, then the environment's.

Our additions: HA defaults (the guide's HA table) as core-service values under
the configured ones, per-cluster knobs, and ``clusters:`` entries as targets.

Every function here is defensive: on a config with errors it resolves what it
can (wrong types are treated as absent), so the validator can use it too.
"""

from __future__ import annotations

import copy

from ansible_collections.adhar.platform.plugins.module_utils._config import schema as S
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR

# The guide's HA table as Helm values of the real charts (argo-cd, ingress-nginx, cilium, gitea,
# bitnami postgresql / redis, minio); configured values override them key by key.
HA_CORE_SERVICE_DEFAULTS = {
    "argocd": (("server.replicas", "2"), ("repoServer.replicas", "2"), ("controller.replicas", "2"),
               ("redis-ha.enabled", "true")),
    "gitea": (("replicaCount", "2"),),
    "cilium": (("operator.replicas", "3"),),
    "nginx": (("controller.replicaCount", "3"),),
    "postgresql": (("architecture", "replication"), ("readReplicas.replicaCount", "2")),
    "redis": (("architecture", "replication"), ("sentinel.enabled", "true"), ("replica.replicaCount", "3")),
    "minio": (("mode", "distributed"), ("replicas", "4")),
}
HA_CONTROL_PLANE_COUNT = 3
HA_MIN_NODES = 3
# Networks upstream hard-codes for its clusters (kind and kubeadm): pods and services.
UPSTREAM_POD_CIDR = "10.244.0.0/16"
UPSTREAM_SERVICE_CIDR = "10.96.0.0/12"

CONTROL_PLANE_KEYS = ("controlPlaneReplicas",)
WORKER_KEYS = ("workerReplicas",)
VERSION_KEYS = ("kubeVersion", "version")
INSTANCE_TYPE_KEYS = ("nodeInstanceType", "instanceType", "machineType")


def as_map(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def as_str(value):
    return value if isinstance(value, str) and value else None


def as_int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_bool(value):
    return value if isinstance(value, bool) else None


def int_value(text):
    """``int(text)`` for a string of digits, else ``None``."""
    if isinstance(text, str) and text.strip().isdigit():
        return int(text.strip())
    return None


def global_settings(cfg):
    out = dict(S.GLOBAL_DEFAULTS)
    for key, value in as_map(cfg.get("globalSettings")).items():
        default = S.GLOBAL_DEFAULTS.get(key)
        if default is None or type(value) is type(default):
            out[key] = value
    return out


def provider_names(cfg):
    return list(as_map(cfg.get("providers")))


def provider_block(cfg, name):
    return as_map(as_map(cfg.get("providers")).get(name))


def provider_type(cfg, name):
    if name is None:
        return None
    return as_str(provider_block(cfg, name).get("type")) or (S.KIND_PROVIDER_DEFAULTS["type"] if name == "kind" else None)


def provider_region(cfg, name):
    if name is None:
        return None
    return as_str(provider_block(cfg, name).get("region")) or (S.KIND_PROVIDER_DEFAULTS["region"] if name == "kind" else None)


def primary_provider(cfg):
    for name in provider_names(cfg):
        if provider_block(cfg, name).get("primary") is True:
            return name
    return None


def default_provider(cfg):
    """The provider of an environment that names none: the primary, else the first."""
    names = provider_names(cfg)
    return primary_provider(cfg) or (names[0] if names else None)


def key_values(items, path):
    """``[(key, value, path_of_value)]`` of the well-formed ``{key, value}`` entries of a list."""
    out = []
    for i, item in enumerate(as_list(items)):
        item = as_map(item)
        if isinstance(item.get("key"), str) and isinstance(item.get("value"), str):
            out.append((item["key"], item["value"], path + (i, "value")))
    return out


def last_value(entries, keys):
    """``(value, path)`` of the last entry whose key is in ``keys``, else ``(None, None)``."""
    found = (None, None)
    for key, value, path in entries:
        if key in keys:
            found = (value, path)
    return found


def merged_values(*lists):
    """Concatenate key/value lists; a key given again keeps its first position and takes the last value."""
    out = {}
    for items in lists:
        for key, value in items:
            out[key] = value
    return [{"key": k, "value": v} for k, v in out.items()]


def _chart(chart):
    chart = as_map(chart)
    keep = {k: chart[k] for k in ("repoURL", "name", "version") if isinstance(chart.get(k), str)}
    return keep or None


def template_of(cfg, env):
    name = as_str(env.get("template"))
    return name, as_map(as_map(cfg.get("environmentTemplates")).get(name)) if name else {}


def core_services(cfg, env_name, ha):
    """``(services, dropped)``: resolved core services of an environment (``None`` for none) with HA defaults."""
    env = as_map(as_map(cfg.get("environments")).get(env_name)) if env_name else {}
    tname, template = template_of(cfg, env)
    chosen, dropped = {}, []
    for where, block in ((("environmentTemplates", tname, "coreServices"), as_map(template.get("coreServices"))),
                         (("environments", env_name, "coreServices"), as_map(env.get("coreServices")))):
        for svc, entry in block.items():
            if svc in S.CORE_SERVICES:
                chosen[svc] = (entry, where + (svc,))
            elif svc not in dropped:
                dropped.append(svc)
    out = {}
    for svc in S.CORE_SERVICES:
        defaults = HA_CORE_SERVICE_DEFAULTS.get(svc, ()) if ha else ()
        if svc not in chosen and not defaults:
            continue
        entry, path = chosen.get(svc, ({}, None))
        entry = as_map(entry)
        configured = [(k, v) for k, v, dummy in key_values(entry.get("values"), (path or ()) + ("values",))]
        out[svc] = {"chart": _chart(entry.get("chart")), "values": merged_values(defaults, configured),
                    "configured": svc in chosen}
    return out, dropped


def _addons(template, env):
    return [copy.deepcopy(a) for a in as_list(template.get("addons")) + as_list(env.get("addons")) if isinstance(a, dict)]


def _knob(layers, key, sub=None, kind=as_int):
    """First layer (``(mapping, path)``) that sets ``key`` (or ``key.sub``): ``(value, path)``."""
    for block, path in layers:
        value = block.get(key)
        if sub is not None:
            value = as_map(value).get(sub)
        value = kind(value)
        if value is not None:
            return value, path + ((key, sub) if sub else (key,))
    return None, None


def environment_roles(cfg):
    """Role of each environment when environments are the inventory hosts.

    An explicit ``role`` wins.  When no environment sets one, the first production
    environment (in file order), else the first environment, is ``primary``; the
    others are ``replica``.  When some set one, the others are ``replica``.
    """
    envs = as_map(cfg.get("environments"))
    explicit = {n: as_map(e).get("role") for n, e in envs.items() if as_map(e).get("role") in S.ROLES}
    if explicit:
        return {n: explicit.get(n, "replica") for n in envs}
    first = next((n for n, e in envs.items() if as_map(e).get("type") == "production"), next(iter(envs), None))
    return {n: "primary" if n == first else "replica" for n in envs}


def cluster_environment(cfg, cluster):
    """Environment of a ``clusters:`` entry: its ``environment``, else the only environment, else ``None``."""
    name = as_str(cluster.get("environment"))
    if name:
        return name
    envs = list(as_map(cfg.get("environments")))
    return envs[0] if len(envs) == 1 else None


def _target(cfg, name, env_name, cluster, path, role):
    envs = as_map(cfg.get("environments"))
    env = as_map(envs.get(env_name)) if env_name in envs else {}
    env_path = ("environments", env_name)
    tname, template = template_of(cfg, env)
    layers = ([(cluster, path)] if cluster is not None else []) + ([(env, env_path)] if env else [])
    sources = {"name": path + ("name",) if cluster is not None else path}

    env_provider = as_str(env.get("provider")) or default_provider(cfg)
    provider, sources["provider"] = _knob(layers, "provider", kind=as_str)
    if provider is None:
        provider = env_provider
    region, sources["region"] = _knob([(cluster, path)] if cluster is not None else [], "region", kind=as_str)
    if region is None and provider == env_provider and as_str(env.get("region")):
        region, sources["region"] = env["region"], env_path + ("region",)
    if region is None:
        region = provider_region(cfg, provider)
        sources["region"] = ("providers", provider, "region")

    ha, dummy = _knob(layers, "ha", kind=as_bool)
    gs = global_settings(cfg)
    if ha is None:
        ha = bool(gs["enableHAMode"])
    env_type = as_str(env.get("type")) or "non-production"
    cc = []
    if tname:
        cc += key_values(template.get("clusterConfig"), ("environmentTemplates", tname, "clusterConfig"))
    cc += key_values(env.get("clusterConfig"), env_path + ("clusterConfig",))

    cp, sources["controlPlane.count"] = _knob(layers, "controlPlane", "count")
    if cp is None:
        text, src = last_value(cc, CONTROL_PLANE_KEYS)
        cp, sources["controlPlane.count"] = (int_value(text), src) if int_value(text) is not None else (None, None)
    if cp is None:
        cp = HA_CONTROL_PLANE_COUNT if ha else 1
    nodes, sources["nodes.count"] = _knob(layers, "nodes", "count")
    if nodes is None:
        text, src = last_value(cc, WORKER_KEYS)
        nodes, sources["nodes.count"] = (int_value(text), src) if int_value(text) is not None else (None, None)
    if nodes is None:
        nodes = HA_MIN_NODES if ha or env_type == "production" else 1

    ptype = provider_type(cfg, provider)
    local = ptype == "kind"
    pod, sources["podCidr"] = _knob(layers, "podCidr", kind=as_str)
    svc, sources["serviceCidr"] = _knob(layers, "serviceCidr", kind=as_str)
    cluster_id, sources["clusterId"] = _knob(layers, "clusterId")
    mesh, dummy = _knob(layers, "mesh", kind=as_bool)
    version, dummy = last_value(cc, VERSION_KEYS)
    instance, sources["instanceType"] = last_value(cc, INSTANCE_TYPE_KEYS)
    if instance is None:
        instance = as_str(as_map(as_map(provider_block(cfg, provider).get("config")).get("instance_types")).get("worker"))
        sources["instanceType"] = ("providers", provider, "config", "instance_types", "worker")
    services, dropped = core_services(cfg, env_name if env else None, ha)
    out = {
        "name": name,
        "environment": env_name if env else None,
        "type": env_type,
        "template": tname,
        "role": role,
        "provider": provider,
        "providerType": ptype,
        "region": region,
        "ha": ha,
        "controlPlane": {"count": cp},
        "nodes": {"count": nodes},
        "kubernetesVersion": version,
        "instanceType": instance,
        "podCidr": pod or (DEFAULT_POD_CIDR if local else UPSTREAM_POD_CIDR),
        "serviceCidr": svc or (DEFAULT_SERVICE_CIDR if local else UPSTREAM_SERVICE_CIDR),
        "clusterId": cluster_id if cluster_id is not None else 1,
        "mesh": bool(mesh),
        "localCluster": name if local else None,
        "kubeconfig": _knob(layers, "kubeconfig", kind=as_str)[0],
        "context": _knob(layers, "context", kind=as_str)[0],
        "clusterConfig": [{"key": k, "value": v} for k, v, dummy in cc],
        "coreServices": services,
        "droppedCoreServices": dropped,
        "addons": _addons(template, env),
        "providerConfig": copy.deepcopy(as_map(provider_block(cfg, provider).get("config"))),
        "globalSettings": gs,
        "backup": backup(cfg),
        "source": path,
        "sources": sources,
    }
    return out


def environment_targets(cfg):
    roles = environment_roles(cfg)
    return [_target(cfg, name, name, None, ("environments", name), roles[name]) for name in as_map(cfg.get("environments"))]


def cluster_targets(cfg):
    out = []
    for i, cluster in enumerate(as_list(cfg.get("clusters"))):
        cluster = as_map(cluster)
        name = as_str(cluster.get("name"))
        if name is None:
            continue
        role = cluster.get("role") if cluster.get("role") in S.ROLES else None
        out.append(_target(cfg, name, cluster_environment(cfg, cluster), cluster, ("clusters", i), role))
    return out


def targets(cfg):
    """The inventory hosts: one per ``clusters:`` entry when there is that block, else one per environment."""
    return cluster_targets(cfg) if as_list(cfg.get("clusters")) else environment_targets(cfg)


def retention_hours(value):
    """Hours of a retention (``30`` days, ``"30d"``, ``"72h"``, ``"4w"``), else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value * 24
    if isinstance(value, str) and len(value) > 1 and value[:-1].isdigit():
        factor = {"h": 1, "d": 24, "w": 24 * 7}.get(value[-1])
        return int(value[:-1]) * factor if factor and int(value[:-1]) > 0 else None
    return None


def backup(cfg):
    """The ``backup:`` block with defaults (``enabled`` false) and ``ttl`` in hours, or ``None`` when absent."""
    block = cfg.get("backup")
    if not isinstance(block, dict):
        return None
    out = copy.deepcopy(block)
    out["enabled"] = block.get("enabled") is True
    hours = retention_hours(block.get("retention"))
    out["ttl"] = "%dh" % hours if hours else None
    return out


def public(target):
    """A target without its internal bookkeeping (``source``, ``sources``)."""
    return {k: v for k, v in target.items() if k not in ("source", "sources")}


def resolve(cfg, environment=None):
    """``{"environments": {name: view}, "clusters": {name: view}}``, optionally for one environment."""
    envs = [public(t) for t in environment_targets(cfg)]
    clusters = [public(t) for t in cluster_targets(cfg)]
    if environment is not None:
        envs = [t for t in envs if t["name"] == environment]
        clusters = [t for t in clusters if t["environment"] == environment]
    return {"environments": {t["name"]: t for t in envs}, "clusters": {t["name"]: t for t in clusters}}
