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
    C(adhar_local_cluster), C(adhar_kubeconfig), C(adhar_context), C(adhar_state_dir)."
  - "Groups: C(clusters) (all hosts), C(primary) and C(replica) (role), C(provider_<type>), C(region_<region>),
    C(type_production) / C(type_non_production), C(environment_<name>) and C(local) (clusters run by the local runtime,
    provider type C(kind)). Characters other than letters, digits and C(_) become C(_)."
  - An invalid config fails with every error, each with its path and message, as M(adhar.platform.config) reports them.
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

from ansible_collections.adhar.platform.plugins.module_utils.adhar_config.hosts import inventory_hosts
from ansible_collections.adhar.platform.plugins.module_utils.adhar_config.loader import ConfigInvalid, load_file
from ansible_collections.adhar.platform.plugins.module_utils.adhar_config.validate import validate

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: every inventory string is a template already

    def trust_as_template(value):
        return value


SUFFIXES = (".adhar.yml", ".adhar.yaml")
NAMES = ("adhar.yml", "adhar.yaml")
INTERPRETER = "{{ ansible_playbook_python }}"


def format_errors(name, errors):
    lines = ["%s is not a valid adhar config (%d error%s):" % (name, len(errors), "" if len(errors) == 1 else "s")]
    for err in errors:
        where = " (line %d)" % err["line"] if "line" in err else ""
        lines.append("  %s%s: %s" % (err["path"], where, err["message"]))
    return "\n".join(lines)


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = "adhar.platform.clusters"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        base = os.path.basename(path)
        return base in NAMES or base.endswith(SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        config_file = self.get_option("config_file")
        if config_file:
            config_file = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(config_file)))
        else:
            config_file = os.path.abspath(path)
        try:
            source = load_file(config_file, option="config_file")
            report = validate(source)
            report.raise_if_invalid()
        except ConfigInvalid as exc:
            raise AnsibleParserError(format_errors(config_file, exc.errors))
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
