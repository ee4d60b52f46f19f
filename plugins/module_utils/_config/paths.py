# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths into a config (``environments.prod.clusterConfig[2].value``) and values quoted for messages."""

from __future__ import annotations

import json
import re

ROOT = "(root)"
MAX_KEY = 80
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_path(parts):
    """``('environments', 'prod', 'clusterConfig', 2, 'value')`` -> ``environments.prod.clusterConfig[2].value``.

    Keys that are not plain words (dots, spaces, brackets, empty) are written ``["a.b"]``; keys longer than ``MAX_KEY``
    characters are cut (a path names a place, it does not repeat a huge key).
    """
    out = ""
    for part in parts:
        if isinstance(part, str) and len(part) > MAX_KEY:
            part = "%s...(%d characters)" % (part[:MAX_KEY - 16], len(part))
        if isinstance(part, int) and not isinstance(part, bool):
            out += "[%d]" % part
        elif _PLAIN_KEY.match(str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += "[%s]" % json.dumps(str(part))
    return out or ROOT


def describe(value, limit=60):
    """A short quoted rendering of a value for messages: ``'aws'``, ``3``, ``true``, ``a mapping``."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, dict):
        return "a mapping"
    elif isinstance(value, (list, tuple)):
        return "a list"
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def names(items, limit=20):
    """``a, b, c`` -- at most ``limit`` names, then how many there are in all (messages stay short on huge configs)."""
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return "%s, ... (%d in all)" % (", ".join(items[:limit]), len(items))
