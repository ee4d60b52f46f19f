# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading an adhar config: YAML text -> data, with the line of every path.

* A YAML syntax error becomes ``ConfigInvalid`` with one error naming the line
  and column (never a traceback).
* A key given twice in one mapping is an error (upstream's YAML parser rejects
  it; PyYAML would silently keep the last one).
* Dates stay strings (``version: 2026-01-01`` is not turned into a date).
* An inventory source file (one with a ``plugin:`` key) is also an adhar
  config: its inventory options (``plugin``, ``compose``, ``keyed_groups``, ...)
  are set aside in ``Source.inventory`` before validation.  Upstream adhar
  ignores unknown top-level keys, so the same file still loads there.
"""

from __future__ import annotations

import os
import traceback

try:
    import yaml
except ImportError:  # PyYAML comes with ansible-core; only reading files needs it
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None

from ansible_collections.adhar.platform.plugins.module_utils.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils.adhar_config.paths import ROOT, format_path

# Options of the clusters inventory plugin and of the constructed/cache features.
INVENTORY_KEYS = frozenset((
    "plugin", "config_file", "state_dir", "compose", "groups", "keyed_groups", "strict", "leading_separator",
    "use_extra_vars", "cache", "cache_plugin", "cache_timeout", "cache_connection", "cache_prefix",
))


class ConfigInvalid(AdharError):
    """The config cannot be used: ``errors`` (and ``warnings``) are lists of ``{path, message[, line]}``."""

    def __init__(self, msg, errors, warnings=None):
        super().__init__(msg)
        self.errors = list(errors)
        self.warnings = list(warnings or [])


class Source:
    """A loaded config: ``data``, ``lines`` (path tuple -> line), ``errors`` found while loading, ``inventory`` options."""

    def __init__(self, data, name="content", lines=None, errors=None, inventory=None):
        self.data = data
        self.name = name
        self.lines = lines or {}
        self.errors = list(errors or [])
        self.inventory = inventory or {}

    def line_of(self, path):
        """Line of ``path``, or of its nearest ancestor that has one (``None`` for dict content)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


_LOADER = []


def _loader_class():
    """SafeLoader whose timestamps stay strings (made on first use: PyYAML may be missing)."""
    if not _LOADER:
        if yaml is None:
            raise AdharError("PyYAML is required to read YAML (it comes with ansible-core)", missing="PyYAML")

        class Loader(yaml.SafeLoader):
            pass

        Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
        _LOADER.append(Loader)
    return _LOADER[0]


def error(path, message, line=None):
    out = {"path": format_path(path), "message": message}
    if line is not None:
        out["line"] = line
    return out


def _build(loader, node, path, lines, errors):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = {}
        first = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                errors.append(error(path + (str(key),), "key %r must be a string (quote it)" % (key,), key_node.start_mark.line + 1))
                key = str(key)
            sub = path + (key,)
            if key in first:
                errors.append(error(sub, "duplicate key %r (first defined at line %d); upstream's YAML parser rejects duplicate keys"
                                    % (key, first[key]), key_node.start_mark.line + 1))
            else:
                first[key] = key_node.start_mark.line + 1
            lines[sub] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, sub, lines, errors)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), lines, errors) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse(text, name="content"):
    """Parse YAML ``text``; returns a ``Source``.  Raises ``ConfigInvalid`` for a syntax error or an empty document."""
    loader = _loader_class()(text)
    lines, errors = {}, []
    try:
        node = loader.get_single_node()
        data = None if node is None else _build(loader, node, (), lines, errors)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        where = "line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else "unknown position"
        err = error((), "YAML syntax error at %s: %s" % (where, problem), mark.line + 1 if mark else None)
        if mark:
            err["column"] = mark.column + 1
        raise ConfigInvalid("%s: %s" % (name, err["message"]), [err])
    except yaml.YAMLError as e:
        raise ConfigInvalid("%s: YAML error: %s" % (name, e), [error((), "YAML error: %s" % e)])
    except RecursionError:
        raise ConfigInvalid("%s: the YAML refers to itself (recursive anchor)" % name,
                            [error((), "the YAML refers to itself (recursive anchor)")])
    finally:
        loader.dispose()
    return from_data(data, name=name, lines=lines, errors=errors)


def from_data(data, name="content", lines=None, errors=None):
    """A ``Source`` for already-parsed data (the module's ``content``)."""
    if data is None:
        raise ConfigInvalid("%s: the config is empty" % name, [error((), "the config is empty")])
    inventory = {}
    if isinstance(data, dict) and "plugin" in data:
        inventory = {k: v for k, v in data.items() if k in INVENTORY_KEYS}
        data = {k: v for k, v in data.items() if k not in INVENTORY_KEYS}
    return Source(data, name=name, lines=lines, errors=errors, inventory=inventory)


def read_text(path, option="src"):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise AdharError("%s: cannot read %s: %s" % (option, path, e.strerror or e), option=option, path=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigInvalid("%s: %s is not UTF-8 text (byte %d)" % (option, path, e.start),
                            [error((), "the file is not UTF-8 text (byte %d)" % e.start)])


def load_file(path, option="src"):
    """Read and parse the config file at ``path``."""
    path = os.path.abspath(os.path.expanduser(path))
    return parse(read_text(path, option), name=path)


__all__ = ["ConfigInvalid", "Source", "INVENTORY_KEYS", "ROOT", "YAML_IMPORT_ERROR", "error", "parse", "from_data", "read_text",
           "load_file"]
