# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounds on what reading a config may cost: file size, values, aliases, nesting, errors shown.

Every reader of an adhar config (the ``config`` module's actions and the
``clusters`` inventory plugin) goes through these limits, so a hostile or
broken file (a billion-laughs alias bomb, deep nesting, millions of entries)
fails with one clear error instead of using all memory.

* ``size_mib`` -- the file's size in MiB.
* ``nodes``    -- values (scalars, lists and mappings) once every alias is
                  expanded; also bounds the resolved views of the hosts
                  (each host gets a copy of its environment's template).
* ``aliases``  -- alias uses (``*name``) in the file.
* ``depth``    -- nesting levels (through aliases too).
* ``errors``   -- errors (and warnings) listed; the rest are counted.

Each has a default and a hard maximum; the maxima keep the ``config`` module
under 200 MB of memory on any input (measured by the unit tests).
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

DEFAULTS = {"size_mib": 4, "nodes": 100000, "aliases": 1000, "depth": 64, "errors": 100}
MAXIMUM = {"size_mib": 32, "nodes": 500000, "aliases": 100000, "depth": 100, "errors": 10000}
UNITS = {"size_mib": "MiB", "nodes": "values", "aliases": "aliases", "depth": "levels", "errors": "errors"}
MIB = 1024 * 1024


class Limits:
    """The limits in force; ``hint(key)`` says how to raise one (``how``: that sentence, with the key and its maximum)."""

    def __init__(self, option="limits", how=None, **values):
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise AdharError("%s: unknown limit %s; known: %s" % (option, ", ".join(unknown), ", ".join(DEFAULTS)), option=option)
        self.option = option
        self.how = how
        for key, default in DEFAULTS.items():
            value = values.get(key)
            if value is None:
                value = default
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAXIMUM[key]:
                raise AdharError("%s.%s: must be a whole number from 1 to %d (got %r)" % (option, key, MAXIMUM[key], value),
                                 option=option)
            setattr(self, key, value)

    @classmethod
    def from_option(cls, value, option="limits"):
        """Limits from an option value (a mapping, or ``None`` for the defaults)."""
        if value is None:
            return cls(option=option)
        if not isinstance(value, dict):
            raise AdharError("%s: must be a mapping of limits (%s), not %r" % (option, ", ".join(DEFAULTS), value), option=option)
        return cls(option=option, **value)

    @property
    def size_bytes(self):
        return self.size_mib * MIB

    def hint(self, key):
        """``the limit of 64 levels (raise it with limits.depth, at most 100)``."""
        if self.how:
            how = self.how % (key, MAXIMUM[key])
        else:
            how = "raise it with %s.%s, at most %d" % (self.option, key, MAXIMUM[key])
        return "the limit of %d %s (%s)" % (getattr(self, key), UNITS[key], how)

    def as_dict(self):
        return {key: getattr(self, key) for key in DEFAULTS}


def data_size(value):
    """``(values, characters)`` of plain data: every scalar, list and mapping counts as one value; strings count their length."""
    nodes = chars = 0
    todo = [value]
    while todo:
        item = todo.pop()
        nodes += 1
        if isinstance(item, dict):
            for key, sub in item.items():
                chars += len(key) if isinstance(key, str) else 8
                todo.append(sub)
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
        elif isinstance(item, str):
            chars += len(item)
        else:
            chars += 8
    return nodes, chars
