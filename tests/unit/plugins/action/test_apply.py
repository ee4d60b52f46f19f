# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of adhar.platform.apply: templates, src on local and remote hosts."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.adhar.platform.plugins.action import apply as action


def make(args, transport="local", rendered=None):
    task = mock.MagicMock()
    task.args = args
    connection = mock.MagicMock()
    connection.transport = transport
    play_context = mock.MagicMock()
    play_context.connection = transport
    plugin = action.ActionModule(task, connection, play_context, loader=mock.MagicMock(), templar=mock.MagicMock(),
                                 shared_loader_obj=mock.MagicMock())
    plugin._shared_loader_obj = mock.MagicMock()
    lookup = plugin._shared_loader_obj.lookup_loader.get.return_value
    lookup.run.side_effect = lambda terms, variables=None: [rendered[t] for t in terms]
    plugin._execute_module = mock.MagicMock(return_value={"changed": True})
    return plugin


@pytest.fixture(autouse=True)
def no_base_run():
    with mock.patch.object(ActionBase, "run", return_value={}):
        yield


def sent(plugin):
    return plugin._execute_module.call_args.kwargs["module_args"]


def test_templates_are_rendered_here_and_added_to_definitions():
    plugin = make({"template": ["a.j2", "b.j2"], "definitions": {"kind": "Inline"}, "namespace": "x"},
                  rendered={"a.j2": "kind: A\n---\nkind: A2\n", "b.j2": "---\n# empty\n"})
    result = plugin.run(task_vars={"v": 1})
    assert result == {"changed": True}
    args = sent(plugin)
    assert args == {"definitions": [{"kind": "Inline"}, {"kind": "A"}, {"kind": "A2"}], "namespace": "x"}
    assert plugin._execute_module.call_args.kwargs["module_name"] == "adhar.platform.apply"


def test_bad_template_output_names_the_template():
    plugin = make({"template": "bad.j2"}, rendered={"bad.j2": "a: [unclosed"})
    with pytest.raises(AnsibleActionFail, match="template bad.j2 did not render to valid YAML"):
        plugin.run(task_vars={})


def test_src_is_passed_through_locally_and_read_here_for_remote_hosts(tmp_path):
    d = tmp_path / "manifests"
    d.mkdir()
    (d / "b.yaml").write_text("kind: B\n")
    (d / "a.yml").write_text("kind: A\n")
    (d / "notes.txt").write_text("ignored")
    plugin = make({"src": [str(d)]})
    plugin.run(task_vars={})
    assert sent(plugin) == {"src": [str(d)]}
    remote = make({"src": [str(d)], "definitions": ["kind: X"]}, transport="ssh")
    remote.run(task_vars={})
    assert sent(remote) == {"definitions": ["kind: X", "kind: A\n", "kind: B\n"]}


def test_relative_src_is_found_like_files(tmp_path):
    plugin = make({"src": "relative.yaml"})
    plugin._find_needle = mock.MagicMock(return_value=str(tmp_path / "files" / "relative.yaml"))
    plugin.run(task_vars={})
    plugin._find_needle.assert_called_once_with("files", "relative.yaml")
    assert sent(plugin) == {"src": [str(tmp_path / "files" / "relative.yaml")]}


def test_helpers():
    assert action.as_list(None) == [] and action.as_list("a") == ["a"] and action.as_list(("a", "b")) == ["a", "b"]
    assert action.parse_documents("---\nkind: A\n---\n", "t") == [{"kind": "A"}]
