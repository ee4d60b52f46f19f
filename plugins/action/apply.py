# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of adhar.platform.apply.

* ``template``: Jinja files rendered here with the task's variables (the
  ``ansible.builtin.template`` lookup, so search paths, includes and
  ``template_*`` variables behave as users know them), parsed as YAML and
  added to ``definitions``.
* ``src``: relative paths are found like ``files`` (role ``files/``, playbook
  directory).  When the module runs on this machine the paths are passed on
  (the module reads them, directories included); when it runs on another host,
  the files are read here and their text is added to ``definitions``.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

try:
    import yaml
    from ansible.module_utils.common.yaml import yaml_load_all
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

MODULE = "adhar.platform.apply"
YAML_SUFFIXES = (".yaml", ".yml", ".json")


def as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def expand_paths(paths):
    """Files named by ``paths``: files as given, directories' YAML/JSON files (sorted, not recursive)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(YAML_SUFFIXES) and not n.startswith("."))
            files.extend(os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n)))
        else:
            files.append(path)
    return files


def parse_documents(text, origin):
    """The YAML documents of a rendered template (empty ones dropped)."""
    try:
        # str(): a rendered template is a tagged str subclass, which libyaml's C parser refuses
        return [d for d in yaml_load_all(str(to_text(text))) if d is not None]
    except yaml.YAMLError as exc:
        raise AnsibleActionFail("template {0} did not render to valid YAML: {1}".format(origin, exc)) from exc


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()  # every option is the module's; it validates them

    def _runs_here(self):
        """True when the module will run on the controller (local connection)."""
        return getattr(self._connection, "transport", None) == "local" or self._play_context.connection == "local"

    def _render(self, templates, task_vars):
        lookup = self._shared_loader_obj.lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)
        docs = []
        for template in templates:
            if not isinstance(template, str):
                raise AnsibleActionFail("template: expected a path or a list of paths, got {0}".format(type(template).__name__))
            try:
                rendered = lookup.run([template], variables=task_vars)
            except AnsibleError as exc:
                raise AnsibleActionFail("template {0}: {1}".format(template, to_text(exc))) from exc
            for text in rendered:
                docs.extend(parse_documents(text, template))
        return docs

    def _sources(self, src):
        paths = []
        for path in src:
            path = os.path.expanduser(to_text(path))
            if not os.path.isabs(path):
                try:
                    path = self._find_needle("files", path)
                except AnsibleError as exc:
                    raise AnsibleActionFail("src: {0}".format(to_text(exc))) from exc
            paths.append(path)
        return paths

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        templates = as_list(args.pop("template", None))
        definitions = as_list(args.pop("definitions", None))
        if templates:
            definitions.extend(self._render(templates, task_vars or {}))
        src = as_list(args.pop("src", None))
        if src:
            paths = self._sources(src)
            if self._runs_here():
                args["src"] = paths
            else:
                for path in expand_paths(paths):
                    try:
                        with open(path, "r", encoding="utf-8") as f:
                            definitions.append(f.read())
                    except OSError as exc:
                        raise AnsibleActionFail("src: cannot read {0}: {1}".format(path, exc)) from exc
        if definitions:
            args["definitions"] = definitions
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
