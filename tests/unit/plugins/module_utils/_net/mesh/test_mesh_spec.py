# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options mesh and mesh_info share: one argument spec, mirrored by the doc fragment adhar.platform.mesh."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.doc_fragments import mesh as mesh_fragment
from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.spec import MEMBER_CONNECTION_KEYS, MESH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.modules import mesh as mesh_module
from ansible_collections.adhar.platform.plugins.modules import mesh_info as mesh_info_module


def test_fragment_mirrors_spec(assert_fragment_mirrors):
    assert_fragment_mirrors(MESH_ARG_SPEC, yaml.safe_load(mesh_fragment.ModuleDocFragment.DOCUMENTATION)["options"])


@pytest.mark.parametrize("module", [mesh_module, mesh_info_module], ids=["mesh", "mesh_info"])
def test_both_modules_take_the_shared_spec_and_document_it_once(module):
    spec = module.argument_spec()
    for name, opt in MESH_ARG_SPEC.items():
        assert spec[name] == opt
        assert spec[name] is not opt  # a copy: a module never edits the shared dict
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert "adhar.platform.mesh" in doc["extends_documentation_fragment"]
    assert not set(doc.get("options") or {}) & set(MESH_ARG_SPEC)
    assert sorted(doc.get("options") or {}) == sorted(set(spec) - set(MESH_ARG_SPEC))


def test_member_secrets_and_connection_options():
    members = MESH_ARG_SPEC["members"]["options"]
    assert members["api_key"]["no_log"] is True
    for key in MEMBER_CONNECTION_KEYS:
        assert members[key]["type"] == K8S_AUTH_ARG_SPEC[key]["type"]
        assert "fallback" not in members[key] and "default" not in members[key]
