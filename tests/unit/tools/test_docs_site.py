# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/docs_site.py: which Sphinx warnings fail the documentation build."""
from __future__ import annotations

import pytest

OFFLINE = ("WARNING: failed to reach any of the inventories with the following issues:\n"
           "intersphinx inventory 'https://docs.ansible.com/objects.inv' not fetchable\n")


@pytest.fixture
def docs_site(load_tool):
    return load_tool("docs_site")


def test_external_labels_are_allowed_only_offline(docs_site):
    line = "rst/api_info_module.rst:807: WARNING: undefined label: 'common_return_values' [ref.ref]\n"
    assert docs_site.classify_warnings(OFFLINE + line) == ([], ["common_return_values"])
    errors, external = docs_site.classify_warnings(line)
    assert errors == [line.strip()] and external == []


def test_own_labels_and_other_warnings_always_fail(docs_site):
    own = "rst/x.rst:1: WARNING: undefined label: 'ansible_collections.adhar.platform.nosuch_module' [ref.ref]"
    other = "rst/x.rst:2: ERROR: Unknown directive type \"ansible-option\"."
    errors, external = docs_site.classify_warnings(OFFLINE + own + "\n" + other + "\nreading sources... done\n")
    assert errors == [own, other]
    assert external == []
