# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adhar.platform.clusters inventory plugin: file names, hosts, groups, constructed options, errors.

The plugin is controller code: importing it (ansible.plugins.inventory) switches ansible-core into controller
mode for the whole process, which changes how module-side code behaves (module warnings go to the display
instead of the result).  So every test runs the plugin in a child Python process and reads back JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import ansible_collections.adhar.platform as collection
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import laughs

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
LOCAL = os.path.join(REPO, "inventories", "local", "adhar.yml")
BAD = os.path.join(REPO, "tests", "unit", "fixtures", "adhar", "bad")
COLLECTIONS_BASE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(list(collection.__path__)[0]))))

CHILD = r"""
import json, sys
from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring
try:
    from ansible.template import is_trusted_as_template
except ImportError:
    def is_trusted_as_template(value):
        return True
from ansible_collections.adhar.platform.plugins.inventory import clusters as plugin_module

NAME = "adhar.platform.clusters"
mode, path = sys.argv[1], sys.argv[2]
if mode == "verify":
    print(json.dumps(plugin_module.InventoryModule().verify_file(path)))
    sys.exit(0)
doc = get_docstring(plugin_module.__file__, fragment_loader)[0]
C.config.initialize_plugin_configuration_definitions("inventory", NAME, doc["options"])
plugin = plugin_module.InventoryModule()
plugin._load_name = NAME
inventory = InventoryData()
try:
    plugin.parse(inventory, DataLoader(), path, cache=False)
except AnsibleParserError as exc:
    print(json.dumps({"error": str(exc)}))
    sys.exit(0)
hosts = {}
for name, host in inventory.hosts.items():
    hostvars = host.get_vars()
    hosts[name] = json.loads(json.dumps(hostvars, default=str))
    hosts[name]["_interpreter_is_template"] = is_trusted_as_template(hostvars["ansible_python_interpreter"])
groups = {name: sorted(h.name for h in group.get_hosts()) for name, group in inventory.groups.items()}
print(json.dumps({"hosts": hosts, "groups": groups}))
"""


def child(mode, path, env=None):
    full_env = dict(os.environ, PYTHONPATH=COLLECTIONS_BASE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], env=full_env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse(path, **env):
    return child("parse", path, env)


@pytest.mark.parametrize("name,ok", [
    ("adhar.yml", True), ("adhar.yaml", True), ("prod.adhar.yml", True), ("x.adhar.yaml", True),
    ("myadhar.yml", False), ("adhar.json", False), ("hosts.yml", False),
])
def test_verify_file(tmp_path, name, ok):
    path = tmp_path / name
    path.write_text("plugin: adhar.platform.clusters\n")
    assert child("verify", path) is ok


def test_local_inventory(tmp_path):
    inv = parse(LOCAL, ADHAR_STATE_DIR=str(tmp_path))
    assert sorted(inv["hosts"]) == ["prod", "staging"]
    groups = inv["groups"]
    assert groups["clusters"] == ["prod", "staging"] and groups["primary"] == ["prod"] and groups["replica"] == ["staging"]
    for group in ("provider_kind", "region_local", "type_production", "type_non_production", "environment_prod", "local"):
        assert group in groups
    prod = inv["hosts"]["prod"]
    assert prod["ansible_connection"] == "local" and prod["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert prod["_interpreter_is_template"] is True
    assert prod["adhar_local_cluster"] == "prod" and prod["adhar_ha"] is True and prod["adhar_config_file"] == LOCAL
    assert prod["adhar_kubeconfig"] == str(tmp_path / "prod" / "config" / "admin.kubeconfig")


def test_constructed_options_and_external_config_file(tmp_path):
    shutil.copy(LOCAL, tmp_path / "platform.yaml")
    source = tmp_path / "inv" / "x.adhar.yml"
    source.parent.mkdir()
    source.write_text(
        "plugin: adhar.platform.clusters\n"
        "config_file: ../platform.yaml\n"
        "state_dir: %s\n"
        "strict: true\n"
        "compose:\n  argocd_replicas: adhar_core_services.argocd.helm_values['server.replicas']\n"
        "groups:\n  ha_clusters: adhar_ha\n"
        "keyed_groups:\n  - key: adhar_cluster_id | string\n    prefix: mesh_id\n" % tmp_path)
    inv = parse(source)
    assert inv["hosts"]["prod"]["argocd_replicas"] == "3" and inv["hosts"]["staging"]["argocd_replicas"] == "1"
    assert inv["groups"]["ha_clusters"] == ["prod"] and inv["groups"]["mesh_id_2"] == ["staging"]
    assert inv["hosts"]["prod"]["adhar_config_file"] == str(tmp_path / "platform.yaml")
    assert inv["hosts"]["prod"]["adhar_state_dir"] == str(tmp_path)


def test_invalid_config_lists_every_error(tmp_path):
    path = tmp_path / "adhar.yml"
    with open(os.path.join(BAD, "duplicate-cluster-names.yaml")) as f:
        body = f.read()
    path.write_text("plugin: adhar.platform.clusters\n" + body.replace("role: replica, clusterId: 2", "role: primary, clusterId: 2"))
    text = parse(path)["error"]
    assert "%s is not a valid adhar config (2 errors):" % path in text
    assert "clusters[1].name (line 13): duplicate cluster name 'edge' (also clusters[0])" in text
    assert "clusters[1].role (line 13): only one cluster can be primary" in text


def test_yaml_error_and_missing_config_file(tmp_path):
    path = tmp_path / "adhar.yml"
    path.write_text("plugin: adhar.platform.clusters\nproviders: {kind: {type: kind}\n")
    assert "error" in parse(path)  # Ansible's own loader refuses the file first
    path.write_text("plugin: adhar.platform.clusters\nconfig_file: missing.yaml\n")
    assert "config_file: cannot read" in parse(path)["error"]


def test_alias_bomb_in_the_inventory_file_is_one_error(tmp_path):
    path = tmp_path / "adhar.yml"
    path.write_text("plugin: adhar.platform.clusters\n" + laughs())
    text = parse(path)["error"]
    assert "%s is not a valid adhar config (1 error):" % path in text
    assert ("l5 (line 7, column 5): the list at line 7 expands through aliases to more than the limit of 100000 values (the "
            "inventory file itself is read within the default limits; move the adhar config to its own file named by "
            "config_file and raise limits.nodes in the inventory file, at most 500000)") in text


def test_limits_apply_to_the_config_file(tmp_path):
    config = tmp_path / "platform.yaml"
    with open(LOCAL) as f:
        config.write_text(f.read() + "x-anchors: [&one 1, %s]\n" % ", ".join(["*one"] * 1200))
    source = tmp_path / "x.adhar.yml"
    source.write_text("plugin: adhar.platform.clusters\nconfig_file: platform.yaml\n")
    assert "more than the limit of 1000 aliases (raise it with limits.aliases, at most 100000)" in parse(source)["error"]
    source.write_text("plugin: adhar.platform.clusters\nconfig_file: platform.yaml\nlimits: {aliases: 2000, errors: 1}\n")
    text = parse(source)["error"]  # now read: the extra key is the only error
    assert "is not a valid adhar config (1 error):" in text and "x-anchors" in text
    source.write_text("plugin: adhar.platform.clusters\nconfig_file: platform.yaml\nlimits: {aliases: 0}\n")
    assert "limits.aliases: must be a whole number from 1 to 100000 (got 0)" in parse(source)["error"]


def test_error_list_is_capped(tmp_path):
    path = tmp_path / "adhar.yml"
    with open(LOCAL) as f:
        body = f.read()
    path.write_text(body + "".join("bogus%d: 1\n" % i for i in range(130)))
    text = parse(path)["error"]
    assert "is not a valid adhar config (130 errors):" in text
    assert text.count("unknown key 'bogus") == 100 and text.endswith("... and 30 more errors not listed (limits.errors)")


def test_ansible_tags_in_the_inventory_options_only(tmp_path):
    shutil.copy(LOCAL, tmp_path / "platform.yaml")
    source = tmp_path / "x.adhar.yml"
    source.write_text("plugin: adhar.platform.clusters\nconfig_file: platform.yaml\ncompose:\n  note: !unsafe '{{ raw }}'\n")
    assert sorted(parse(source)["hosts"]) == ["prod", "staging"]
    path = tmp_path / "adhar.yml"
    with open(LOCAL) as f:
        path.write_text(f.read() + "globalSettingsNote: !unsafe '{{ raw }}'\n")
    assert "could not determine a constructor for the tag '!unsafe'" in parse(path)["error"]
