# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading an adhar config: YAML text -> data, with the line of every path, within bounds.

* A YAML syntax error becomes ``ConfigInvalid`` with one error naming the line
  and column (never a traceback).
* A key given twice in one mapping is an error (upstream's YAML parser rejects
  it; PyYAML would silently keep the last one).
* Dates stay strings (``version: 2026-01-01`` is not turned into a date).
* Bounded (``limits.Limits``): the file is read in chunks up to the size
  limit; the YAML events (libyaml's C parser when PyYAML has it) are composed
  here, not by PyYAML, so that nesting depth, alias uses and the size of the
  document once aliases are expanded are checked while composing, before any
  value is built.  A billion-laughs file or a deeply nested one fails with one
  error naming the line, the limit and how to raise it; an alias inside the
  node it names fails as a recursive anchor.
* An inventory source file (one with a ``plugin:`` key) is also an adhar
  config: its inventory options (``plugin``, ``compose``, ``keyed_groups``, ...)
  are set aside in ``Source.inventory`` before validation.  Upstream adhar
  ignores unknown top-level keys, so the same file still loads there.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import traceback

try:
    import yaml
except ImportError:  # PyYAML comes with ansible-core; only reading files needs it
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import Limits
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import ROOT, describe, format_path

# Options of the clusters inventory plugin and of the constructed/cache features.
INVENTORY_KEYS = frozenset((
    "plugin", "config_file", "state_dir", "compose", "groups", "keyed_groups", "strict", "leading_separator",
    "use_extra_vars", "cache", "cache_plugin", "cache_timeout", "cache_connection", "cache_prefix", "limits",
))
CHUNK = 64 * 1024
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"


class ConfigInvalid(AdharError):
    """The config cannot be used: ``errors`` (and ``warnings``) are lists of ``{path, message[, line]}``.

    ``errors_truncated`` / ``warnings_truncated`` count the entries left out of the lists (see ``limits.errors``).
    """

    def __init__(self, msg, errors, warnings=None, errors_truncated=0, warnings_truncated=0):
        super().__init__(msg)
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        self.errors_truncated = errors_truncated
        self.warnings_truncated = warnings_truncated


class Source:
    """A loaded config: ``data``, ``lines`` (path tuple -> line), ``errors`` found while loading, ``inventory`` options."""

    def __init__(self, data, name="content", lines=None, errors=None, inventory=None, limits=None):
        self.data = data
        self.name = name
        self.lines = lines or {}
        self.errors = list(errors or [])
        self.inventory = inventory or {}
        self.limits = limits or Limits()
        self.local_tags = []

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
    """PyYAML's safe loader (the C one when available) whose timestamps stay strings (made on first use)."""
    if not _LOADER:
        if yaml is None:
            raise AdharError("PyYAML is required to read YAML (it comes with ansible-core)", missing="PyYAML")
        base = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

        class Loader(base):  # pylint: disable=too-many-ancestors
            pass

        Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
        _LOADER.append(Loader)
    return _LOADER[0]


def error(path, message, line=None):
    out = {"path": format_path(path), "message": message}
    if line is not None:
        out["line"] = line
    return out


class _Stop(Exception):
    """Reading stopped early: ``err`` is the one error to report."""

    def __init__(self, err):
        super().__init__(err["message"])
        self.err = err


def _stop(path, message, line=None, column=None):
    err = error(path, message, line)
    if column is not None:
        err["column"] = column
    return _Stop(err)


class _BoundedReader:
    """A binary stream read in chunks: stops past ``limit`` bytes and at the first byte that is not UTF-8."""

    def __init__(self, stream, limits, name):
        self.stream = stream
        self.limits = limits
        self.name = name
        self.total = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def read(self, size=-1):
        size = CHUNK if size is None or size < 0 else min(size, CHUNK)
        data = self.stream.read(size)
        start = self.total
        self.total += len(data)
        if self.total > self.limits.size_bytes:
            raise _stop((), "the file is larger than %s" % self.limits.hint("size_mib"))
        try:
            self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            raise _stop((), "the file is not UTF-8 text (byte %d)" % (start + e.start))
        return data


class _Node:
    """A composed YAML node: ``kind`` scalar/seq/map; ``value`` the constructed scalar or the children
    (a mapping's as key, value, key, value, ...); ``size`` values and ``height`` levels once aliases are expanded."""

    __slots__ = ("kind", "value", "line", "column", "size", "height", "merge")

    def __init__(self, kind, value, mark, size=None, height=None, merge=False):
        self.kind = kind
        self.value = value
        self.line = mark.line + 1
        self.column = mark.column + 1
        self.size = size
        self.height = height
        self.merge = merge


SCALAR, SEQ, MAP = "scalar", "list", "mapping"


class _Composer:
    """YAML events -> ``_Node`` graph, enforcing depth, alias and expanded-size limits as it goes."""

    def __init__(self, loader, limits, keep_local_tags=False):
        self.loader = loader
        self.limits = limits
        self.keep_local_tags = keep_local_tags
        self.local_tags = []
        self.anchors = {}
        self.stack = []
        self.values = 0
        self.aliases = 0

    def path(self):
        """Path of the value being composed (for limit errors)."""
        out = []
        for node in self.stack:
            if node.kind == SEQ:
                out.append(len(node.value))
            elif len(node.value) % 2:  # composing the value of the last key
                key = node.value[-1]
                out.append(str(key.value) if key.kind == SCALAR else "(key)")
            else:  # composing a key: the mapping's path
                break
        return tuple(out)

    def fail(self, message, event):
        mark = event.start_mark
        return _stop(self.path(), message, mark.line + 1, mark.column + 1)

    def compose(self):
        """The document's root node, or ``None`` for an empty stream."""
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            loader.get_event()
            return None
        document = loader.get_event()
        root = self._node()
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise yaml.composer.ComposerError("expected a single document in the stream", document.start_mark,
                                              "but found another document", event.start_mark)
        loader.get_event()
        return root

    def _count(self, event):
        self.values += 1
        if self.values > self.limits.nodes:
            raise self.fail("the document has more than %s" % self.limits.hint("nodes"), event)

    def _anchor(self, event, node):
        if event.anchor is not None:
            self.anchors[event.anchor] = node

    def _alias(self, event):
        target = self.anchors.get(event.anchor)
        if target is None:
            raise self.fail("found undefined alias %r" % event.anchor, event)
        if target.size is None:
            raise self.fail("recursive anchor: alias *%s refers to the node &%s that contains it (line %d); the YAML refers "
                            "to itself" % (event.anchor, event.anchor, target.line), event)
        self.aliases += 1
        if self.aliases > self.limits.aliases:
            raise self.fail("the document uses more than %s" % self.limits.hint("aliases"), event)
        if len(self.stack) + target.height > self.limits.depth:
            raise self.fail("alias *%s is nested deeper than %s once expanded" % (event.anchor, self.limits.hint("depth")), event)
        return target

    def _scalar(self, event):
        self._count(event)
        loader = self.loader
        tag = event.tag
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == STR_TAG:
            node = _Node(SCALAR, event.value, event.start_mark, 1, 0)
        elif tag == MERGE_TAG:
            node = _Node(SCALAR, event.value, event.start_mark, 1, 0, merge=True)
        else:
            constructor = type(loader).yaml_constructors.get(tag)
            if constructor is None and self.keep_local_tags and tag.startswith("!"):
                self.local_tags.append((tag, event.start_mark))
                value = event.value
            elif constructor is None:
                raise yaml.constructor.ConstructorError(None, None, "could not determine a constructor for the tag %r" % tag,
                                                        event.start_mark)
            else:
                value = constructor(loader, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style))
            node = _Node(SCALAR, value, event.start_mark, 1, 0)
        self._anchor(event, node)
        return node

    def _node(self):
        """Compose one node (iteratively: nesting never uses the Python stack)."""
        loader = self.loader
        stack = self.stack
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.AliasEvent:
                node = self._alias(event)
            elif kind is yaml.ScalarEvent:
                node = self._scalar(event)
            elif kind in (yaml.SequenceStartEvent, yaml.MappingStartEvent):
                self._count(event)
                if len(stack) + 1 > self.limits.depth:
                    raise self.fail("nested deeper than %s" % self.limits.hint("depth"), event)
                node = _Node(SEQ if kind is yaml.SequenceStartEvent else MAP, [], event.start_mark)
                self._anchor(event, node)
                stack.append(node)
                continue
            else:  # sequence or mapping end
                node = stack.pop()
                node.size = 1 + sum(child.size for child in node.value)
                node.height = 1 + max((child.height for child in node.value), default=0)
                if node.size > self.limits.nodes:
                    what = "expands through aliases to more than %s" if self.aliases else "has more than %s"
                    raise _stop(self.path(), "the %s at line %d %s" % (node.kind, node.line, what % self.limits.hint("nodes")),
                                node.line, node.column)
            if not stack:
                return node
            stack[-1].value.append(node)


class _Builder:
    """``_Node`` graph -> plain data, the line of every path, and the errors found on the way (keys)."""

    def __init__(self):
        self.lines = {}
        self.errors = []

    def build(self, node, path):
        self.lines.setdefault(path, node.line)
        if node.kind == SCALAR:
            return node.value if not node.merge else "<<"
        if node.kind == SEQ:
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._mapping(node, path)

    def _key(self, key_node, path):
        if key_node.kind != SCALAR:
            self.errors.append(error(path + ("(key)",), "a key must be a string, not %s" % describe([] if key_node.kind == SEQ else {}),
                                     key_node.line))
            return None
        key = key_node.value
        if not isinstance(key, str):
            self.errors.append(error(path + (str(key),), "key %r must be a string (quote it)" % (key,), key_node.line))
            key = str(key)
        return key

    def _mapping(self, node, path):
        out = {}
        first = {}
        merged = []
        pairs = node.value
        for i in range(0, len(pairs), 2):
            key_node, value_node = pairs[i], pairs[i + 1]
            if key_node.kind == SCALAR and key_node.merge:
                merged.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            sub = path + (key,)
            if key in first:
                self.errors.append(error(sub, "duplicate key %r (first defined at line %d); upstream's YAML parser rejects "
                                              "duplicate keys" % (key, first[key]), key_node.line))
            else:
                first[key] = key_node.line
        if merged:
            for source in self._merge_sources(merged, path):
                for i in range(0, len(source.value), 2):
                    key = self._key_quiet(source.value[i])
                    if key is not None and key not in first and key not in out:
                        self.lines[path + (key,)] = source.value[i].line
                        out[key] = self.build(source.value[i + 1], path + (key,))
        for i in range(0, len(pairs), 2):
            key_node, value_node = pairs[i], pairs[i + 1]
            if key_node.kind == SCALAR and key_node.merge:
                continue
            key = self._key_quiet(key_node)
            if key is None:
                continue
            self.lines[path + (key,)] = key_node.line
            out[key] = self.build(value_node, path + (key,))
        return out

    @staticmethod
    def _key_quiet(key_node):
        if key_node.kind != SCALAR:
            return None
        return key_node.value if isinstance(key_node.value, str) else str(key_node.value)

    def _merge_sources(self, merged, path):
        sources = []
        for value_node in merged:
            items = value_node.value if value_node.kind == SEQ else [value_node]
            for item in items:
                if item.kind == MAP:
                    sources.append(item)
                else:
                    self.errors.append(error(path + ("<<",), "a merge key (<<) takes a mapping or a list of mappings, not a %s"
                                             % item.kind, item.line))
        return sources


def _yaml_error(name, e, limits):
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        if "maximum nesting depth" in problem and mark:  # libyaml's own bound (1000 flow levels), met while scanning ahead
            return _stopped(name, _stop((), "nested deeper than %s" % limits.hint("depth"), mark.line + 1, mark.column + 1))
        where = "line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else "unknown position"
        err = error((), "YAML syntax error at %s: %s" % (where, problem), mark.line + 1 if mark else None)
        if mark:
            err["column"] = mark.column + 1
        return ConfigInvalid("%s: %s" % (name, err["message"]), [err])
    return ConfigInvalid("%s: YAML error: %s" % (name, e), [error((), "YAML error: %s" % e)])


def _stopped(name, exc):
    err = exc.err
    where = ""
    if "line" in err:
        where = " (line %d%s)" % (err["line"], ", column %d" % err["column"] if "column" in err else "")
    path = "" if err["path"] == ROOT else " at %s" % err["path"]
    if len(path) > 80:
        path = path[:70] + "..."
    return ConfigInvalid("%s%s%s: %s" % (name, path, where, err["message"]), [err])


def parse_stream(stream, name="content", limits=None, keep_local_tags=False):
    """Parse YAML from a binary ``stream`` within ``limits``; returns a ``Source``.

    Raises ``ConfigInvalid`` for a syntax error, a limit reached, text that is not UTF-8 or an empty document.
    With ``keep_local_tags``, a scalar with a local tag (``!vault``, ``!unsafe``: Ansible's, in an inventory file) keeps
    its text and ``Source.local_tags`` lists them; otherwise such a tag is an error.
    """
    limits = limits or Limits()
    loader = _loader_class()(_BoundedReader(stream, limits, name))
    composer = _Composer(loader, limits, keep_local_tags)
    try:
        root = composer.compose()
    except _Stop as exc:
        raise _stopped(name, exc)
    except yaml.YAMLError as e:
        raise _yaml_error(name, e, limits)
    finally:
        loader.dispose()
    if root is None:
        return from_data(None, name=name, limits=limits)
    builder = _Builder()
    data = builder.build(root, ())
    root = None
    source = from_data(data, name=name, lines=builder.lines, errors=builder.errors, limits=limits, checked=True)
    source.local_tags = composer.local_tags
    return source


def local_tag_error(source):
    """The error a local tag of ``source`` (read with ``keep_local_tags``) is when the file is read as a config."""
    tag, mark = source.local_tags[0]
    return _yaml_error(source.name, yaml.constructor.ConstructorError(
        None, None, "could not determine a constructor for the tag %r" % tag, mark), source.limits)


def parse(text, name="content", limits=None):
    """Parse YAML ``text`` (str or bytes) within ``limits``; returns a ``Source``."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_stream(io.BytesIO(raw), name=name, limits=limits)


def check_data(data, name="content", limits=None):
    """Raise ``ConfigInvalid`` when already-parsed ``data`` is nested deeper or holds more values than ``limits`` allow."""
    limits = limits or Limits()
    count = 0
    todo = [(data, ())]
    while todo:
        value, path = todo.pop()
        count += 1
        if count > limits.nodes:
            raise _stopped(name, _stop((), "the config has more than %s" % limits.hint("nodes")))
        if isinstance(value, dict):
            todo.extend((v, path + (str(k),)) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            todo.extend((v, path + (i,)) for i, v in enumerate(value))
        else:
            continue
        if len(path) + 1 > limits.depth:
            raise _stopped(name, _stop(path, "nested deeper than %s" % limits.hint("depth")))


def from_data(data, name="content", lines=None, errors=None, limits=None, checked=False):
    """A ``Source`` for already-parsed data (the module's ``content``), checked against ``limits``."""
    if data is None:
        raise ConfigInvalid("%s: the config is empty" % name, [error((), "the config is empty")])
    if not checked:
        check_data(data, name, limits)
    inventory = {}
    if isinstance(data, dict) and "plugin" in data:
        inventory = {k: v for k, v in data.items() if k in INVENTORY_KEYS}
        data = {k: v for k, v in data.items() if k not in INVENTORY_KEYS}
    return Source(data, name=name, lines=lines, errors=errors, inventory=inventory, limits=limits)


def load_file(path, option="src", limits=None, keep_local_tags=False):
    """Read and parse the config file at ``path`` within ``limits`` (the size is checked before reading)."""
    limits = limits or Limits()
    path = os.path.abspath(os.path.expanduser(path))
    try:
        f = open(path, "rb")
    except IsADirectoryError:
        raise AdharError("%s: %s is a directory, not a config file" % (option, path), option=option, path=path)
    except OSError as e:
        raise AdharError("%s: cannot read %s: %s" % (option, path, e.strerror or e), option=option, path=path)
    with f:
        try:
            info = os.fstat(f.fileno())
        except OSError as e:
            raise AdharError("%s: cannot read %s: %s" % (option, path, e.strerror or e), option=option, path=path)
        if stat.S_ISREG(info.st_mode) and info.st_size > limits.size_bytes:
            raise _stopped(path, _stop((), "the file is %.1f MiB, more than %s" % (info.st_size / 1048576.0, limits.hint("size_mib"))))
        try:
            return parse_stream(f, name=path, limits=limits, keep_local_tags=keep_local_tags)
        except OSError as e:
            raise AdharError("%s: cannot read %s: %s" % (option, path, e.strerror or e), option=option, path=path)


__all__ = ["ConfigInvalid", "Source", "INVENTORY_KEYS", "ROOT", "YAML_IMPORT_ERROR", "error", "parse", "parse_stream", "from_data",
           "check_data", "load_file", "local_tag_error"]
