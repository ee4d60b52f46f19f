# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of an adhar config: the JSON Schema, then the rules a schema cannot say.

``validate(source)`` returns a ``Report`` with every error and warning at once,
each ``{"path": "environments.prod.clusterConfig[2].value", "message": "...", "line": 12}``
(``line`` only when the config came from YAML text).

Rules beyond the schema: references (templates, providers, environments),
the provider-count/primary rule, unique cluster names and exactly one primary,
control-plane sizes (1, 3 or 5; HA needs more than 1), pod/service networks
that do not overlap within a cluster nor across clusters that mesh, distinct
mesh cluster ids, cron schedules, well-known clusterConfig values.  Warnings
point at what upstream adhar would do differently (hidden ``kind`` provider,
dropped core services) and at values that are probably mistakes.
"""

from __future__ import annotations

import bisect
import ipaddress
import re

from ansible_collections.adhar.platform.plugins.module_utils._config import resolve as R
from ansible_collections.adhar.platform.plugins.module_utils._config import schema as S
from ansible_collections.adhar.platform.plugins.module_utils._config import tables
from ansible_collections.adhar.platform.plugins.module_utils._config.checker import Checker, suggest
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import data_size
from ansible_collections.adhar.platform.plugins.module_utils._config.loader import ConfigInvalid, Source, from_data
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import describe, format_path
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import names as list_names
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import NAME_RE as LOCAL_NAME_RE

_CHECKER = Checker(S.SCHEMA)
_NAME_RE = re.compile(S.NAME_PATTERN)
_CIDR_RE = re.compile(S.CIDR_PATTERN)
_VERSION_RE = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
_COUNT_KEYS = ("workerReplicas", "minNodes", "maxNodes", "nodeCount", "numNodes")
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day-of-week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_UPSTREAM_NO_MANAGED = ("aws", "gcp", "azure")


class Report:
    """Errors and warnings of one validation; ``valid`` is true when there is no error.

    At most ``source.limits.errors`` of each are kept (the first ones in file order); ``errors_truncated`` and
    ``warnings_truncated`` count the others.
    """

    def __init__(self, source):
        self.source = source
        self.limit = source.limits.errors
        self.errors = []
        self.warnings = []
        self.errors_truncated = 0
        self.warnings_truncated = 0
        self._seen = set()

    @property
    def valid(self):
        return not self.errors

    def _add(self, kind, path, message, line=None):
        key = hash((tuple(path), message))
        if key in self._seen:
            return
        self._seen.add(key)
        out = {"path": format_path(path), "message": message}
        line = line if line is not None else self.source.line_of(path)
        if line is not None:
            out["line"] = line
        self._append(kind, out)

    def _append(self, kind, entry):
        bucket = getattr(self, kind)
        bucket.append(entry)
        if len(bucket) > 2 * self.limit:
            self._trim(kind)

    def _trim(self, kind):
        bucket = getattr(self, kind)
        bucket.sort(key=lambda e: e.get("line", 1 << 30))
        if len(bucket) > self.limit:
            setattr(self, kind + "_truncated", getattr(self, kind + "_truncated") + len(bucket) - self.limit)
            del bucket[self.limit:]

    def error(self, path, message, line=None):
        self._add("errors", path, message, line)

    def warn(self, path, message):
        self._add("warnings", path, message)

    def sort(self):
        for kind in ("errors", "warnings"):
            self._trim(kind)

    def summary(self, limit=5):
        """One line: ``N error(s) in NAME: path: message; ...``."""
        n = len(self.errors) + self.errors_truncated
        shown = "; ".join("%s: %s" % (e["path"], e["message"]) for e in self.errors[:limit])
        more = " ... and %d more (see errors)" % (n - limit) if n > limit else ""
        return "%d error%s in %s: %s%s" % (n, "" if n == 1 else "s", self.source.name, shown, more)

    def raise_if_invalid(self):
        if self.errors:
            raise ConfigInvalid(self.summary(), self.errors, self.warnings, self.errors_truncated, self.warnings_truncated)


def validate(source, limits=None):
    """Validate a ``Source`` (or plain data, checked against ``limits``); returns a ``Report``."""
    if not isinstance(source, Source):
        source = from_data(source, limits=limits)
    report = Report(source)
    for err in source.errors:
        report._seen.add(hash((err["path"], err["message"])))
        report._append("errors", err)
    foreign = foreign_document(source.data)
    if foreign:
        report.error((), foreign)
    else:
        _CHECKER.errors(source.data, _Sink(report))
        if isinstance(source.data, dict):
            too_big = views_problem(source.data, source.limits)
            if too_big:
                report.error(*too_big)
            else:
                _Rules(source.data, report).run()
    report.sort()
    return report


class _Sink:
    """The checker's output going straight into a report (never a list of every error)."""

    def __init__(self, report):
        self.report = report

    def append(self, item):
        self.report.error(*item)


# What a resolved view holds besides the copied blocks (fixed keys, HA default values), as (values, characters).
VIEW_BASE = (200, 4000)


def views_problem(cfg, limits):
    """``(path, message)`` when the resolved views of every environment and cluster would exceed ``limits``, else ``None``.

    Each view copies its environment's template, the environment, the cluster entry, the provider's ``config``,
    ``backup`` and ``globalSettings``, so a big template shared by many clusters grows the views (and the module's
    result and the inventory's hostvars) far beyond the file; this is checked before any view is built.
    """
    envs = R.as_map(cfg.get("environments"))
    templates = R.as_map(cfg.get("environmentTemplates"))
    providers = R.as_map(cfg.get("providers"))
    memo = {}

    def size(block):
        if block is None:
            return 0, 0
        key = id(block)
        if key not in memo:
            memo[key] = data_size(block)
        return memo[key]

    shared = [size(cfg.get("globalSettings")), size(cfg.get("backup")), VIEW_BASE]
    names = iter(envs)
    default_provider = R.default_provider(cfg)
    clusters = R.as_list(cfg.get("clusters"))
    only_env = next(iter(envs)) if len(envs) == 1 else None
    nodes = chars = 0
    for cluster in [None] * len(envs) + clusters:
        env_name = next(names) if cluster is None else (R.as_str(R.as_map(cluster).get("environment")) or only_env)
        env = R.as_map(envs.get(env_name))
        provider = R.as_str(R.as_map(cluster).get("provider")) or R.as_str(env.get("provider")) or default_provider
        parts = shared + [size(cluster), size(envs.get(env_name)), size(templates.get(R.as_str(env.get("template")))),
                          size(R.as_map(providers.get(provider)).get("config"))]
        nodes += sum(p[0] for p in parts)
        chars += sum(p[1] for p in parts)
        if nodes > limits.nodes or chars > limits.size_bytes:
            break
    path = ("clusters",) if clusters else ("environments",)
    what = "the resolved views of the %d environments and clusters (each with a copy of its environment's template, core " \
           "services, addons and provider config) would hold" % (len(envs) + len(clusters))
    if nodes > limits.nodes:
        return path, "%s more than %s" % (what, limits.hint("nodes"))
    if chars > limits.size_bytes:
        return path, "%s more text than the size limit, %s" % (what, limits.hint("size_mib"))
    return None


def foreign_document(data):
    """Why ``data`` is some other kind of document (no adhar key at all), or ``None``."""
    if not isinstance(data, dict) or not data or any(key in data for key in S.SCHEMA["properties"]):
        return None
    if "apiVersion" in data and "kind" in data:
        name = R.as_map(data.get("metadata")).get("name")
        what = "%s %s%s" % (data["apiVersion"], data["kind"], " %s" % describe(name) if name else "")
        return "not an adhar config: it is a Kubernetes manifest (%s); manifests are applied to a cluster, not written into an adhar config" % what
    for key in data:
        if key in S.ROOT_HINTS:
            return "not an adhar config: it %s" % S.ROOT_HINTS[key]
    return "not an adhar config: none of its keys (%s) is an adhar key (%s)" % (list_names(data), ", ".join(S.SCHEMA["properties"]))


def cron_problem(expr):
    """Why ``expr`` is not a valid cron schedule (5 fields or a macro), or ``None``."""
    text = expr.strip()
    if text.startswith("@"):
        return None if text.lower() in CRON_MACROS else "unknown macro %r (use one of: %s)" % (text, ", ".join(CRON_MACROS))
    fields = text.split()
    if len(fields) != 5:
        return "it has %d field%s; a cron schedule has 5: minute hour day-of-month month day-of-week" % (
            len(fields), "" if len(fields) == 1 else "s")
    for field, (name, lo, hi, names) in zip(fields, _CRON_FIELDS):
        for item in field.split(","):
            problem = _cron_item(item, name, lo, hi, names)
            if problem:
                return problem
    return None


def _cron_number(text, name, lo, hi, names):
    if names and text.lower() in names:
        return names.index(text.lower()) + (1 if name == "month" else 0), None
    if not text.isdigit():
        return None, "%s %r is not a number%s" % (name, text, " or a name (%s)" % ", ".join(n.upper() for n in names) if names else "")
    value = int(text)
    if not lo <= value <= hi:
        return None, "%s %d is out of range %d-%d" % (name, value, lo, hi)
    return value, None


def _cron_item(item, name, lo, hi, names):
    base, step = item, None
    if "/" in item:
        base, step = item.split("/", 1)
        if not step.isdigit() or int(step) < 1:
            return "%s step %r must be a whole number of 1 or more" % (name, step)
    if base == "*":
        return None
    bounds = base.split("-", 1)
    values = []
    for part in bounds:
        value, problem = _cron_number(part, name, lo, hi, names)
        if problem:
            return problem
        values.append(value)
    if len(values) == 2 and values[0] > values[1]:
        return "%s range %s is backwards" % (name, base)
    return None


def _network(text):
    if not isinstance(text, str) or not _CIDR_RE.match(text):
        return None, None  # the schema's pattern already reported it
    try:
        return ipaddress.ip_network(text, strict=True), None
    except ValueError:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None, "%s is not a valid IPv4 network" % describe(text)
        return None, "%s has host bits set; the network is %s" % (describe(text), net)


class _Networks:
    """Networks of the clusters seen so far: one overlapping a new network is found in O(log n), not by comparing every pair.

    Two CIDR blocks overlap exactly when one contains the other: a containing block is one of the new block's supernets
    (looked up by address and prefix), a contained one starts inside the new block (found by bisection on start addresses).
    """

    def __init__(self):
        self.exact = {}
        self.starts = []

    def add(self, net, owner):
        if net is None:
            return
        key = (int(net.network_address), net.prefixlen)
        self.exact.setdefault(key, (net, owner))
        bisect.insort(self.starts, (key[0], len(self.starts), net, owner))

    def overlapping(self, net):
        """``(network, owner)`` of an earlier network overlapping ``net``, else ``None``."""
        start = int(net.network_address)
        for prefix in range(net.prefixlen, -1, -1):
            mask = ((1 << prefix) - 1) << (32 - prefix) if prefix else 0
            hit = self.exact.get((start & mask, prefix))
            if hit:
                return hit
        i = bisect.bisect_left(self.starts, (start,))
        if i < len(self.starts) and self.starts[i][0] <= int(net.broadcast_address):
            return self.starts[i][2], self.starts[i][3]
        return None


class _Rules:
    def __init__(self, cfg, report):
        self.cfg = cfg
        self.r = report
        self.providers = R.as_map(cfg.get("providers"))
        self.templates = R.as_map(cfg.get("environmentTemplates"))
        self.envs = R.as_map(cfg.get("environments"))

    def run(self):
        self.providers_rule()
        for name, template in self.templates.items():
            self.template_like(R.as_map(template), ("environmentTemplates", name))
        self.environments()
        self.clusters()
        self.deploy_targets()
        self.backup()

    # -- providers --------------------------------------------------------------------------

    def providers_rule(self):
        names = list(self.providers)
        primaries = [n for n in names if R.as_map(self.providers[n]).get("primary") is True]
        if len(names) > 2:
            self.r.error(("providers",), "at most 2 providers are allowed (upstream rule), found %d: %s" % (len(names), list_names(names)))
        elif len(names) == 2 and not primaries:
            self.r.error(("providers",), "with 2 providers, exactly one must have primary: true (the management cluster's "
                                         "provider); neither %s nor %s has it" % tuple(names))
        elif len(names) == 2 and len(primaries) == 2:
            self.r.error(("providers", names[1], "primary"), "only one provider can be primary; %s is primary too" % describe(names[0]))
        if "kind" not in names and len(names) == 2:
            self.r.warn(("providers",), "upstream adhar adds a hidden 'kind' provider and then rejects this file with "
                                        "'maximum of 2 providers allowed'; adhar.platform accepts it")
        elif "kind" not in names and len(names) == 1 and not primaries:
            self.r.warn(("providers", names[0]), "upstream adhar adds a hidden 'kind' provider, so its loader wants "
                                                 "primary: true here ('with 2 providers, one must be marked as primary')")
        for name in names:
            block = R.as_map(self.providers[name])
            ptype = R.provider_type(self.cfg, name)
            if block.get("useManagedK8s") is True and ptype in _UPSTREAM_NO_MANAGED:
                self.r.warn(("providers", name, "useManagedK8s"), "upstream's %s provider rejects useManagedK8s "
                                                                  "(only digitalocean and civo offer managed clusters)" % ptype)
            config = R.as_map(block.get("config"))
            for key in ("vpc_cidr", "subnet_cidr", "vnet_cidr"):
                if isinstance(config.get(key), str):
                    dummy, problem = _network(config[key])
                    if problem:
                        self.r.error(("providers", name, "config", key), problem)
        settings = R.as_map(self.cfg.get("globalSettings"))
        for key in ("productionProvider", "nonProductionProvider"):
            value = settings.get(key)
            if isinstance(value, str) and value and value not in self.providers:
                self.r.warn(("globalSettings", key), "%s is not a defined provider (%s); upstream only stores it"
                            % (describe(value), list_names(names) or "none defined"))

    def _provider_ref(self, path, name):
        if name not in self.providers:
            self.r.error(path, "unknown provider %s; defined providers: %s" % (describe(name), list_names(self.providers) or "none"))

    # -- templates and environments -----------------------------------------------------------

    def template_like(self, block, path):
        self.cluster_config(block.get("clusterConfig"), path + ("clusterConfig",))
        services = R.as_map(block.get("coreServices"))
        for svc, entry in services.items():
            spath = path + ("coreServices", svc)
            if svc not in S.CORE_SERVICES:
                self.r.warn(spath, "%s is not a core service: upstream's resolve drops it and so does adhar.platform "
                                   "(kept: %s); install other charts as addons" % (describe(svc), ", ".join(S.CORE_SERVICES)))
            entry = R.as_map(entry)
            self.duplicate_keys(entry.get("values"), spath + ("values",))
            self.chart_pin(entry.get("chart"), spath + ("chart",))
        seen = {}
        for i, addon in enumerate(R.as_list(block.get("addons"))):
            addon = R.as_map(addon)
            self.chart_pin(addon.get("chart"), path + ("addons", i, "chart"))
            name = addon.get("name")
            if isinstance(name, str) and name in seen:
                self.r.warn(path + ("addons", i, "name"), "addon %s is listed twice (also addons[%d])" % (describe(name), seen[name]))
            elif isinstance(name, str):
                seen[name] = i

    def chart_pin(self, chart, path):
        chart = R.as_map(chart)
        if chart and "version" not in chart:
            self.r.warn(path, "the chart version is not pinned: whatever version is newest gets installed")

    def duplicate_keys(self, items, path):
        first = {}
        for i, item in enumerate(R.as_list(items)):
            key = R.as_map(item).get("key")
            if isinstance(key, str) and key in first:
                self.r.warn(path + (i, "key"), "key %s is given again (also [%d]); the last entry wins" % (describe(key), first[key]))
            elif isinstance(key, str):
                first[key] = i

    def cluster_config(self, items, path):
        self.duplicate_keys(items, path)
        entries = R.key_values(items, path)
        for key, value, vpath in entries:
            if key in R.CONTROL_PLANE_KEYS:
                n = R.int_value(value)
                if n is None:
                    self.r.error(vpath, "%s must be a whole number like \"3\" (got %s)" % (key, describe(value)))
                elif n not in S.CONTROL_PLANE_COUNTS:
                    why = "an even number of etcd members adds no fault tolerance and risks split votes" if n % 2 == 0 \
                        else "supported sizes are 1, 3 and 5"
                    self.r.error(vpath, "%s %d is not a valid control-plane size (%s); use 1, 3 or 5" % (key, n, why))
            elif key in _COUNT_KEYS and R.int_value(value) is None:
                self.r.error(vpath, "%s must be a whole number of 0 or more like \"3\" (got %s)" % (key, describe(value)))
            elif key == "autoScale" and value not in ("true", "false"):
                self.r.error(vpath, "autoScale must be \"true\" or \"false\" (got %s)" % describe(value))
            elif key in R.VERSION_KEYS and not _VERSION_RE.match(value):
                self.r.error(vpath, "%s must be a Kubernetes version like \"v1.36.3\" (got %s)" % (key, describe(value)))
            elif key in R.INSTANCE_TYPE_KEYS and not value:
                self.r.error(vpath, "%s must not be empty" % key)
        lo, dummy = R.last_value(entries, ("minNodes",))
        hi, hi_path = R.last_value(entries, ("maxNodes",))
        if R.int_value(lo) is not None and R.int_value(hi) is not None and R.int_value(lo) > R.int_value(hi):
            self.r.error(hi_path, "maxNodes %s is less than minNodes %s" % (hi, lo))

    def environments(self):
        explicit_primary = []
        for name, env in self.envs.items():
            env = R.as_map(env)
            path = ("environments", name)
            template = env.get("template")
            if isinstance(template, str) and template and template not in self.templates:
                self.r.error(path + ("template",), "unknown template %s%s; defined templates: %s" % (
                    describe(template), _suggest(template, self.templates), list_names(self.templates) or "none"))
            if isinstance(env.get("provider"), str) and env["provider"]:
                self._provider_ref(path + ("provider",), env["provider"])
            self.template_like(env, path)
            if env.get("role") == "primary":
                explicit_primary.append(name)
        if len(explicit_primary) > 1:
            for name in explicit_primary[1:]:
                self.r.error(("environments", name, "role"), "only one environment can be primary; %s is primary too"
                             % describe(explicit_primary[0]))
        if R.as_list(self.cfg.get("clusters")):
            return
        if self.envs and "primary" not in R.environment_roles(self.cfg).values():
            self.r.error(("environments",), "one environment must have role: primary (the management cluster)")
        why = "define environments (or clusters) to deploy; upstream 'adhar up -f' fails with 'no environments defined'"
        if "environments" not in self.cfg:
            self.r.error(("environments",), "is required: " + why)
        elif isinstance(self.cfg["environments"], dict) and not self.envs:
            self.r.error(("environments",), "must not be empty: " + why)

    # -- clusters -----------------------------------------------------------------------------

    def clusters(self):
        names = {}
        primaries = []
        for i, cluster in enumerate(R.as_list(self.cfg.get("clusters"))):
            cluster = R.as_map(cluster)
            path = ("clusters", i)
            name = cluster.get("name")
            if isinstance(name, str):
                if name in names:
                    self.r.error(path + ("name",), "duplicate cluster name %s (also clusters[%d]); cluster names must be unique"
                                 % (describe(name), names[name]))
                else:
                    names[name] = i
            if cluster.get("role") == "primary":
                primaries.append(i)
            if isinstance(cluster.get("provider"), str) and cluster["provider"]:
                self._provider_ref(path + ("provider",), cluster["provider"])
            env = cluster.get("environment")
            if isinstance(env, str) and env and env not in self.envs:
                self.r.error(path + ("environment",), "unknown environment %s%s; defined environments: %s" % (
                    describe(env), _suggest(env, self.envs), list_names(self.envs) or "none"))
            elif env is None and len(self.envs) > 1:
                self.r.error(path + ("environment",), "is required when several environments are defined (choose from: %s)"
                             % list_names(self.envs))
        clusters = self.cfg.get("clusters")
        if isinstance(clusters, list) and clusters and not primaries:
            self.r.error(("clusters",), "exactly one cluster must have role: primary; none has")
        for i in primaries[1:]:
            self.r.error(("clusters", i, "role"), "only one cluster can be primary; clusters[%d] is primary too" % primaries[0])

    # -- what gets deployed -------------------------------------------------------------------

    def deploy_targets(self):
        targets = R.targets(self.cfg)
        nets = []
        for t in targets:
            nets.append(self.target(t))
        meshed = [(t, n) for t, n in zip(targets, nets) if t["mesh"]]
        ids = {}
        for t, dummy in meshed:
            cid = t["clusterId"]
            path = t["sources"]["clusterId"] or t["source"] + ("clusterId",)
            if cid in ids:
                default = "" if t["sources"]["clusterId"] else " (the default)"
                self.r.error(path, "clusterId %d%s is also used by %s; clusters in the mesh need distinct ids (1-255)"
                             % (cid, default, describe(ids[cid])))
            else:
                ids[cid] = t["name"]
        pods, services = _Networks(), _Networks()
        for t, (pod, svc) in meshed:
            checks = ((pod, "podCidr", pods, "podCidr"), (pod, "podCidr", services, "serviceCidr"), (svc, "serviceCidr", pods, "podCidr"))
            for mine, mine_key, earlier, their_key in checks:
                hit = earlier.overlapping(mine) if mine is not None else None
                if hit:
                    theirs, other = hit
                    self.r.error(t["sources"][mine_key] or t["source"] + (mine_key,),
                                 "%s %s of %s overlaps %s %s of %s; clusters in the mesh need distinct pod networks"
                                 % (mine_key, mine, describe(t["name"]), their_key, theirs, describe(other["name"])))
            pods.add(pod, t)
            services.add(svc, t)

    def managed(self, provider):
        block = R.as_map(self.providers.get(provider))
        return block.get("useManagedK8s") is True or R.as_map(block.get("config")).get("cluster_mode") in ("doks", "k3s")

    def target(self, t):
        src = t["sources"]
        cp, cp_src = t["controlPlane"]["count"], src["controlPlane.count"]
        if t["ha"] and cp == 1 and cp_src:
            if "controlPlane" in cp_src:
                self.r.error(cp_src, "1 control-plane member conflicts with HA mode (3 or more); use 3 or 5, or set ha: false")
            else:
                self.r.warn(cp_src, "HA mode with controlPlaneReplicas 1: the control plane of %s is not highly available"
                            % describe(t["name"]))
        if cp > 1 and t["providerType"] not in (None, "kind") and not self.managed(t["provider"]):
            self.r.warn(cp_src or t["source"], "upstream adhar's %s provider does not run more than one control-plane node "
                        "(%s wants %d); only managed digitalocean/civo clusters or local clusters have HA control planes"
                        % (t["providerType"], describe(t["name"]), cp))
        if t["ha"] and t["nodes"]["count"] < R.HA_MIN_NODES and src["nodes.count"]:
            self.r.warn(src["nodes.count"], "HA mode wants %d or more worker nodes (got %d)" % (R.HA_MIN_NODES, t["nodes"]["count"]))
        if t["providerType"] == "kind" and _NAME_RE.match(t["name"]) and not LOCAL_NAME_RE.match(t["name"]):
            self.r.error(src["name"], "%s cannot name a local cluster: use at most 32 lower-case letters, digits and '-'"
                         % describe(t["name"]))
        owner = tables.instance_type_provider(t["instanceType"]) if t["instanceType"] else None
        if owner and t["providerType"] in tables.CONVERTIBLE and owner != t["providerType"]:
            equivalent = tables.mapping(tables.INSTANCE_TYPES, owner, t["providerType"]).get(t["instanceType"])
            self.r.warn(src["instanceType"], "%s is a %s instance type but %s runs on %s (%s is the equivalent)"
                        % (describe(t["instanceType"]), owner, describe(t["name"]), t["providerType"], equivalent))
        pod, pod_problem = _network(t["podCidr"])
        svc, svc_problem = _network(t["serviceCidr"])
        for problem, key in ((pod_problem, "podCidr"), (svc_problem, "serviceCidr")):
            if problem:
                self.r.error(src[key] or t["source"], problem)
        if pod is not None and svc is not None:
            if pod.overlaps(svc):
                path = src["serviceCidr"] or src["podCidr"] or t["source"]
                self.r.error(path, "podCidr %s overlaps serviceCidr %s of %s" % (pod, svc, describe(t["name"])))
            if t["providerType"] == "kind":
                if not 12 <= svc.prefixlen <= 28:
                    self.r.error(src["serviceCidr"] or t["source"], "serviceCidr %s of local cluster %s must be between /12 and /28"
                                 % (svc, describe(t["name"])))
                if pod.prefixlen > 24:
                    self.r.error(src["podCidr"] or t["source"], "podCidr %s of local cluster %s is too small: each node gets a "
                                 "/24, so use /24 or larger" % (pod, describe(t["name"])))
        return pod, svc

    # -- backup -------------------------------------------------------------------------------

    def backup(self):
        block = R.as_map(self.cfg.get("backup"))
        schedule = block.get("schedule")
        if isinstance(schedule, str) and schedule.strip():
            problem = cron_problem(schedule)
            if problem:
                self.r.error(("backup", "schedule"), "%s is not a valid cron schedule: %s" % (describe(schedule), problem))


def _suggest(word, choices):
    return suggest(word, list(choices))
