# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converting an adhar config from one cloud provider to another (aws <-> gcp).

What changes, for every provider being converted (all providers of a
convertible type other than ``to_provider``, or just ``from_provider``):

* ``providers.<p>.type`` becomes the target; a provider named after its type
  (``providers.aws``) is renamed (``providers.gcp``) and every reference to it
  follows (``environments.*.provider``, ``clusters[].provider``,
  ``globalSettings.productionProvider`` / ``nonProductionProvider``);
* regions: the provider's, and those of the environments and clusters that run
  on it, through ``tables.REGIONS``;
* instance types: ``config.instance_types.*`` of the provider and the
  ``nodeInstanceType`` / ``instanceType`` / ``machineType`` entries of every
  clusterConfig, through ``tables.INSTANCE_TYPES``;
* ``config.vpc_cidr`` (aws) <-> ``config.subnet_cidr`` (gcp);
* credentials and settings of the source cloud that mean nothing to the target
  (aws ``profile``, gcp ``projectId``, ``config.zone`` ...) are removed and listed
  in ``notes``.

A value with no entry in the tables is an error that lists the values the table
knows.  The result is validated before it is returned.
"""

from __future__ import annotations

import copy

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._config import resolve as R
from ansible_collections.adhar.platform.plugins.module_utils._config import tables
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import Limits
from ansible_collections.adhar.platform.plugins.module_utils._config.loader import ConfigInvalid, error
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import describe, format_path
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import validate

# Provider fields that only mean something to one cloud.
CLOUD_ONLY_FIELDS = {
    "aws": ("accessKeyId", "secretAccessKey", "sessionToken", "profile", "useInstanceRole"),
    "gcp": ("projectId", "serviceAccountKeyFile", "serviceAccountKey", "impersonateServiceAccount",
            "useApplicationDefault", "useComputeMetadata"),
}
CLOUD_ONLY_CONFIG = {"aws": (), "gcp": ("project_id", "zone")}
NETWORK_KEY = {"aws": "vpc_cidr", "gcp": "subnet_cidr"}
TARGET_TODO = {
    "gcp": "set config.project_id and config.zone (and gcp credentials) on the converted provider",
    "aws": "set aws credentials (useEnvironment, profile or useInstanceRole) on the converted provider",
}


class Unmappable(ConfigInvalid):
    """A valid config that cannot be converted (``errors`` name each value and the known ones)."""


class _Conversion:
    def __init__(self, cfg, source, target, names):
        self.cfg = cfg
        self.out = copy.deepcopy(cfg)
        self.source = source
        self.target = target
        self.names = names  # provider names being converted
        self.renamed = {}
        self.changes = []
        self.notes = []
        self.errors = []
        self.regions = tables.mapping(tables.REGIONS, source, target)
        self.types = tables.mapping(tables.INSTANCE_TYPES, source, target)

    def change(self, path, old, new):
        self.changes.append({"path": format_path(path), "from": old, "to": new})

    def _map(self, table, kind, value, path):
        if value in table:
            return table[value]
        if value in table.values():
            return value  # already a target value
        self.errors.append(error(path, "%s %s has no %s equivalent; %s %ss the table knows: %s" % (
            kind, describe(value), self.target, self.source, kind, ", ".join(table))))
        return value

    def _translate(self, table, kind, block, key, path):
        value = block.get(key)
        if isinstance(value, str) and value:
            new = self._map(table, kind, value, path + (key,))
            if new != value:
                block[key] = new
                self.change(path + (key,), value, new)

    def region(self, block, key, path):
        self._translate(self.regions, "region", block, key, path)

    def instance_type(self, block, key, path):
        self._translate(self.types, "instance type", block, key, path)

    def providers(self):
        old = R.as_map(self.out.get("providers"))
        new = {}
        for name, block in old.items():
            if name not in self.names:
                new[name] = block
                continue
            block = R.as_map(block)
            path = ("providers", name)
            new_name = name
            if name == self.source:
                new_name = self.target
                if new_name in old and new_name not in self.names:
                    self.errors.append(error(path, "cannot rename providers.%s to providers.%s: that name is taken by "
                                                   "another provider; rename that one first" % (name, new_name)))
                    new_name = name
                else:
                    self.renamed[name] = new_name
                    self.change(path, name, new_name)
            self.change(path + ("type",), block.get("type", self.source), self.target)
            block["type"] = self.target
            self.region(block, "region", path)
            for field in CLOUD_ONLY_FIELDS[self.source]:
                if field in block:
                    del block[field]
                    self.notes.append("removed %s.%s (%s only)" % (format_path(path), field, self.source))
            config = block.get("config")
            if isinstance(config, dict):
                self.provider_config(config, path + ("config",))
            self.notes.append("%s: %s" % (format_path(("providers", new_name)), TARGET_TODO[self.target]))
            new[new_name] = block
        self.out["providers"] = new

    def provider_config(self, config, path):
        for key in CLOUD_ONLY_CONFIG[self.source]:
            if key in config:
                del config[key]
                self.notes.append("removed %s.%s (%s only)" % (format_path(path), key, self.source))
        src_key, dst_key = NETWORK_KEY[self.source], NETWORK_KEY[self.target]
        if src_key in config and dst_key not in config:
            items = [(dst_key if k == src_key else k, v) for k, v in config.items()]
            config.clear()
            config.update(items)
            self.change(path + (src_key,), src_key, dst_key)
        types = config.get("instance_types")
        if isinstance(types, dict):
            for key in list(types):
                self.instance_type(types, key, path + ("instance_types",))

    def references(self):
        for env in R.as_map(self.out.get("environments")).values():
            if isinstance(env, dict) and env.get("provider") in self.renamed:
                env["provider"] = self.renamed[env["provider"]]
        for cluster in R.as_list(self.out.get("clusters")):
            if isinstance(cluster, dict) and cluster.get("provider") in self.renamed:
                cluster["provider"] = self.renamed[cluster["provider"]]
        settings = R.as_map(self.out.get("globalSettings"))
        for key in ("productionProvider", "nonProductionProvider"):
            if settings.get(key) in self.renamed:
                settings[key] = self.renamed[settings[key]]

    def regions_of_targets(self):
        envs = R.as_map(self.out.get("environments"))
        for name, env in R.as_map(self.cfg.get("environments")).items():
            env_provider = R.as_str(R.as_map(env).get("provider")) or R.default_provider(self.cfg)
            if env_provider in self.names and isinstance(envs.get(name), dict):
                self.region(envs[name], "region", ("environments", name))
        clusters = R.as_list(self.out.get("clusters"))
        for t in R.cluster_targets(self.cfg):
            index = t["source"][1]
            if t["provider"] in self.names and isinstance(clusters[index], dict):
                self.region(clusters[index], "region", ("clusters", index))

    def cluster_configs(self):
        blocks = [(("environmentTemplates", n), t) for n, t in R.as_map(self.out.get("environmentTemplates")).items()]
        blocks += [(("environments", n), e) for n, e in R.as_map(self.out.get("environments")).items()]
        for path, block in blocks:
            for i, item in enumerate(R.as_list(R.as_map(block).get("clusterConfig"))):
                if isinstance(item, dict) and item.get("key") in R.INSTANCE_TYPE_KEYS:
                    self.instance_type(item, "value", path + ("clusterConfig", i))

    def run(self):
        self.providers()
        self.references()
        self.regions_of_targets()
        self.cluster_configs()
        return self.out


def convert(cfg, to_provider, from_provider=None, limits=None):
    """``(converted config, changes, notes)``; raises ``AdharError`` / ``ConfigInvalid`` (``limits``: see ``limits.Limits``)."""
    limits = limits or Limits()
    if to_provider not in tables.CONVERTIBLE:
        raise AdharError("to_provider: %s cannot be converted to; supported: %s" % (describe(to_provider), ", ".join(tables.CONVERTIBLE)),
                         option="to_provider")
    report = validate(cfg, limits)
    report.raise_if_invalid()
    providers = R.as_map(cfg.get("providers"))
    candidates = [n for n in providers if R.provider_type(cfg, n) in tables.CONVERTIBLE and R.provider_type(cfg, n) != to_provider]
    if from_provider is not None:
        if from_provider not in providers:
            raise AdharError("from_provider: unknown provider %s; defined providers: %s" % (describe(from_provider), ", ".join(providers)),
                             option="from_provider")
        if from_provider not in candidates:
            raise AdharError("from_provider: providers.%s is of type %s; convertible to %s: %s" % (
                from_provider, R.provider_type(cfg, from_provider), to_provider, ", ".join(candidates) or "none"), option="from_provider")
        candidates = [from_provider]
    if not candidates:
        raise AdharError("nothing to convert to %s: no provider of type %s (providers: %s)" % (
            to_provider, " or ".join(t for t in tables.CONVERTIBLE if t != to_provider),
            ", ".join("%s (%s)" % (n, R.provider_type(cfg, n)) for n in providers)), option="to_provider")
    source_types = sorted({R.provider_type(cfg, n) for n in candidates})
    out, changes, notes = cfg, [], []
    for source in source_types:
        names = [n for n in candidates if R.provider_type(cfg, n) == source]
        conv = _Conversion(out, source, to_provider, names)
        out = conv.run()
        if conv.errors:
            shown, rest = conv.errors[:limits.errors], max(0, len(conv.errors) - limits.errors)
            listed = "; ".join("%s: %s" % (e["path"], e["message"]) for e in shown[:5])
            more = " ... and %d more (see errors)" % (len(conv.errors) - 5) if len(conv.errors) > 5 else ""
            raise Unmappable("cannot convert to %s: %s%s" % (to_provider, listed, more), shown, errors_truncated=rest)
        changes += conv.changes
        notes += conv.notes
    result = validate(out, limits)
    result.raise_if_invalid()
    return out, changes, notes
