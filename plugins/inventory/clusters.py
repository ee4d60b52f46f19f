# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: clusters
short_description: One inventory host per cluster of an adhar config
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Reads an adhar config (see C(docs/config.md)), validates it like M(adhar.platform.config) does, and adds one host per entry of
    its C(clusters) list or, when the config has no C(clusters), one host per environment.
  - The adhar config is either this inventory file itself (the C(plugin) line and the inventory options sit next to
    C(globalSettings), C(providers) and the other adhar keys; upstream adhar ignores the extra keys) or the file named by
    O(config_file).
  - The file name must be C(adhar.yml) or C(adhar.yaml), or end with C(.adhar.yml) or C(.adhar.yaml).
  - "Every host gets C(ansible_connection: local) and C(ansible_python_interpreter: '{{ ansible_playbook_python }}') (the
    collection's modules run on the controller) and these variables: C(adhar_cluster_name), C(adhar_environment),
    C(adhar_environment_type), C(adhar_template), C(adhar_role), C(adhar_provider), C(adhar_provider_type), C(adhar_region),
    C(adhar_ha), C(adhar_control_plane_count), C(adhar_nodes_count), C(adhar_kubernetes_version), C(adhar_instance_type),
    C(adhar_pod_cidr), C(adhar_service_cidr), C(adhar_cluster_id), C(adhar_mesh), C(adhar_core_services),
    C(adhar_addons), C(adhar_cluster_config), C(adhar_global_settings), C(adhar_backup), C(adhar_config_file),
    C(adhar_local_cluster), C(adhar_kubeconfig), C(adhar_context), C(adhar_state_dir), C(adhar_connection)."
  - "C(adhar_connection) is the host's Kubernetes connection, resolved once here: a dict of the C(kubeconfig) and C(context)
    options of the C(group/adhar.platform.k8s) action group (only those with a value), ready for
    C(module_defaults: {group/adhar.platform.k8s: '{{ adhar_connection }}'})."
  - "C(adhar_local_cluster), C(adhar_state_dir), C(adhar_kubeconfig) and C(adhar_context) are set only when they have a
    value (never null), so C(adhar_local_cluster is defined) means the host is a local cluster."
  - "Groups: C(clusters) (all hosts), C(primary) and C(replica) (role), C(provider_<type>), C(region_<region>),
    C(type_production) / C(type_non_production), C(environment_<name>) and C(local) (clusters run by the local runtime,
    provider type C(kind)). Characters other than letters, digits and C(_) become C(_)."
  - An invalid config fails with its errors, each with its path and message, as M(adhar.platform.config) reports them (the first
    O(limits.errors), then how many more there are).
  - Reading is bounded as in M(adhar.platform.config) (file size, values once YAML aliases are expanded, aliases, nesting depth);
    a file past a limit (a YAML alias bomb, for instance) fails at once with one error naming the line, the limit and how to
    raise it. The inventory file itself is always read within the default limits; O(limits) raises them for O(config_file).
options:
  plugin:
    description: The name of this plugin; it makes the file an inventory source of this plugin.
    required: true
    type: str
    choices: [adhar.platform.clusters]
  config_file:
    description:
      - Path of the adhar config, relative to the inventory file's directory when not absolute.
      - When not set, the adhar config is read from the inventory file itself.
    type: str
  state_dir:
    description:
      - Directory holding the local clusters' state, as for M(adhar.platform.cluster); used for C(adhar_kubeconfig) and
        C(adhar_state_dir) of local clusters.
      - Defaults to E(ADHAR_STATE_DIR) when set, else C($XDG_STATE_HOME/adhar), else C(~/.local/state/adhar).
    type: path
  limits:
    description:
      - Bounds on reading the adhar config named by O(config_file); each defaults as below and can be raised up to its maximum.
      - The inventory file itself is always read within the defaults (its options are not known before it is read); O(limits.errors)
        and O(limits.nodes) (for the resolved hosts) apply to both.
    type: dict
    suboptions:
      size_mib:
        description: Largest file, in MiB (at most 32).
        type: int
        default: 4
      nodes:
        description:
          - Most values (scalars, lists and mappings) once YAML aliases are expanded (at most 500000).
          - Also bounds the resolved hosts, each of which holds a copy of its environment's template, services, addons and provider
            config.
        type: int
        default: 100000
      aliases:
        description: Most YAML alias uses (C(*name)) (at most 100000).
        type: int
        default: 1000
      depth:
        description: Deepest nesting of lists and mappings, through aliases too (at most 100).
        type: int
        default: 64
      errors:
        description: Most errors listed in the failure message; the others are counted (at most 10000).
        type: int
        default: 100
extends_documentation_fragment:
  - constructed
"""

EXAMPLES = r"""
# inventories/local/adhar.yml: the inventory source and the adhar config in one file
# plugin: adhar.platform.clusters
# globalSettings: {enableHAMode: false}
# providers:
#   kind: {type: kind, region: local, primary: true}
# environmentTemplates: ...
# environments: ...
# clusters:
#   - {name: prod, provider: kind, role: primary, environment: prod}

# prod.adhar.yml: the adhar config lives in another file; add groups by HA mode
plugin: adhar.platform.clusters
config_file: ../configs/prod-config.yaml
keyed_groups:
  - key: adhar_ha | ternary('ha', 'single')
    prefix: mode
compose:
  argocd_replicas: adhar_core_services.argocd.helm_values['server.replicas'] | default('1')
"""

import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.adhar.platform.plugins.module_utils._config.hosts import inventory_hosts
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import Limits
from ansible_collections.adhar.platform.plugins.module_utils._config.loader import ConfigInvalid, load_file, local_tag_error
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import validate

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: every inventory string is a template already

    def trust_as_template(value):
        return value


SUFFIXES = (".adhar.yml", ".adhar.yaml")
NAMES = ("adhar.yml", "adhar.yaml")
INTERPRETER = "{{ ansible_playbook_python }}"


# How to raise a limit met by the inventory file itself (read before its options are known).
OWN_FILE_HINT = "the inventory file itself is read within the default limits; move the adhar config to its own file named by " \
                "config_file and raise limits.%s in the inventory file, at most %d"


def format_errors(name, errors, truncated=0):
    total = len(errors) + truncated
    lines = ["%s is not a valid adhar config (%d error%s):" % (name, total, "" if total == 1 else "s")]
    for err in errors:
        where = ""
        if "line" in err:
            where = " (line %d%s)" % (err["line"], ", column %d" % err["column"] if "column" in err else "")
        lines.append("  %s%s: %s" % (err["path"], where, err["message"]))
    if truncated:
        lines.append("  ... and %d more error%s not listed (limits.errors)" % (truncated, "" if truncated == 1 else "s"))
    return "\n".join(lines)


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = "adhar.platform.clusters"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        base = os.path.basename(path)
        return base in NAMES or base.endswith(SUFFIXES)

    def _load(self, path, option, limits, keep_local_tags=False):
        try:
            return load_file(path, option=option, limits=limits, keep_local_tags=keep_local_tags)
        except ConfigInvalid as exc:
            raise AnsibleParserError(format_errors(path, exc.errors, exc.errors_truncated))
        except Exception as exc:
            raise AnsibleParserError("%s: %s" % (path, exc))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        path = os.path.abspath(path)
        # Bounded read first: Ansible's own loader below then only ever sees a file within the limits.
        # Ansible's local tags (!vault, !unsafe) are fine in inventory options, not in the adhar config (checked below).
        source = self._load(path, "inventory", Limits(option=None, how=OWN_FILE_HINT), keep_local_tags=True)
        self._read_config_data(path)
        try:
            limits = Limits.from_option(self.get_option("limits"))
        except Exception as exc:
            raise AnsibleParserError("%s: %s" % (path, exc))
        config_file = self.get_option("config_file")
        if config_file:
            config_file = os.path.normpath(os.path.join(os.path.dirname(path), os.path.expanduser(config_file)))
            source = self._load(config_file, "config_file", limits)
        else:
            config_file = path
            if source.local_tags:
                exc = local_tag_error(source)
                raise AnsibleParserError(format_errors(config_file, exc.errors))
            source.limits = limits
        try:
            report = validate(source)
            report.raise_if_invalid()
        except ConfigInvalid as exc:
            raise AnsibleParserError(format_errors(config_file, exc.errors, exc.errors_truncated))
        except Exception as exc:
            raise AnsibleParserError("%s: %s" % (config_file, exc))
        strict = self.get_option("strict")
        for name, hostvars, groups in inventory_hosts(source.data, config_file, self.get_option("state_dir")):
            for group in groups:
                self.inventory.add_group(group)
                self.inventory.add_host(name, group=group)
            hostvars = dict(hostvars, ansible_connection="local", ansible_python_interpreter=trust_as_template(INTERPRETER))
            for key, value in hostvars.items():
                self.inventory.set_variable(name, key, value)
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
