# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small JSON Schema validator for the subset ``schema.SCHEMA`` uses, with human messages.

Supported keywords: ``$ref`` (local ``#/$defs/...``), ``type`` (one or a list),
``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``
(false or a schema), ``propertyNames``, ``minProperties``, ``items``,
``minItems``, ``minLength``, ``pattern``, ``minimum``, ``maximum``, ``allOf``,
``if``/``then``/``else``.  Annotations (``title``, ``description``,
``default``, ``$comment``, ...) are ignored.  Our own annotations shape the
messages: ``x-message`` (phrase for a bad value), ``x-why`` (reason appended to
"is required" / "must not be empty"), ``x-when`` (condition of an ``if``/``then``)
and ``x-hints`` (per unknown key, at the level where it appears).

Every problem is returned (no early stop), except below a value of the wrong
type, whose other keywords are skipped.
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.adhar.platform.plugins.module_utils._config.paths import describe

KEYWORDS = frozenset((
    "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "propertyNames",
    "minProperties", "items", "minItems", "minLength", "pattern", "minimum", "maximum", "allOf", "if", "then", "else",
))
ANNOTATIONS = frozenset((
    "$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
    "x-message", "x-why", "x-when", "x-hints",
))

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def json_type(value):
    """The JSON type name of a Python value (``bool`` is not an integer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _actual(value, actual):
    """``a list``, ``a string 'x'``, ``the boolean true``: what a value of the wrong type is, without saying it twice."""
    if actual in ("object", "array"):
        return describe(value)
    if actual == "boolean":
        return "the boolean %s" % describe(value)
    return "%s %s" % (_TYPE_NAMES.get(actual, actual), describe(value))


def _is_type(value, name):
    actual = json_type(value)
    return actual == name or (name == "number" and actual == "integer")


# Fuzzy "did you mean" matching only among this many names at most (it compares the word with each).
MAX_FUZZY_CHOICES = 100


def suggest(word, choices):
    """`` (did you mean 'x'?)`` for a near miss among ``choices``, else ``''``."""
    choices = [c for c in choices if isinstance(c, str)]
    if not isinstance(word, str):
        return ""
    lower = word.lower()
    for c in choices:
        if c.lower() == lower:
            return " (did you mean %r?)" % c
    if len(choices) > MAX_FUZZY_CHOICES or len(word) > 100:
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return " (did you mean %r?)" % close[0] if close else ""


def _same_as_any(value, choices):
    """``value in choices`` where ``True`` is not ``1``."""
    return any(json_type(c) == json_type(value) and c == value for c in choices)


def _choices(values):
    return ", ".join(describe(v) for v in values)


def _why(schema):
    why = schema.get("x-why") if isinstance(schema, dict) else None
    return ": %s" % why if why else ""


# "Did you mean" hints computed per validation at most (each costs a fuzzy match; a hostile file could ask for many).
MAX_HINTS = 1000


class Checker:
    """Validates instances against one root schema; ``errors(instance)`` -> ``[(path_tuple, message)]``."""

    def __init__(self, schema):
        self.root = schema
        self._patterns = {}
        self._hints = 0

    def errors(self, instance, out=None):
        """Every ``(path, message)``, appended to ``out`` (anything with ``append``; a new list by default)."""
        out = [] if out is None else out
        self._hints = 0
        self._check(self.root, instance, (), out, None)
        return out

    def _suggest(self, word, choices):
        self._hints += 1
        return suggest(word, choices) if self._hints <= MAX_HINTS else ""

    def is_valid(self, schema, instance):
        out = []
        self._check(schema, instance, (), out, None)
        return not out

    # -- helpers --------------------------------------------------------------

    def _ref(self, ref):
        if not ref.startswith("#/"):
            raise ValueError("only local $ref are supported: %r" % ref)
        node = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _deref(self, schema):
        while isinstance(schema, dict) and "$ref" in schema and len(schema) == 1:
            schema = self._ref(schema["$ref"])
        return schema

    def _regex(self, pattern):
        rx = self._patterns.get(pattern)
        if rx is None:
            rx = self._patterns[pattern] = re.compile(pattern)
        return rx

    # -- the walk -------------------------------------------------------------

    def _check(self, schema, value, path, out, when):
        schema = self._deref(schema)
        if schema is True or schema == {}:
            return
        if schema is False:
            out.append((path, "is not allowed here"))
            return
        if "$ref" in schema:
            self._check(self._ref(schema["$ref"]), value, path, out, when)
        if "type" in schema and not self._check_type(schema, value, path, out):
            return
        self._check_value(schema, value, path, out)
        if isinstance(value, dict):
            self._check_object(schema, value, path, out, when)
        elif isinstance(value, list):
            self._check_array(schema, value, path, out)
        for sub in schema.get("allOf", ()):
            self._check(sub, value, path, out, when)
        if "if" in schema:
            branch = "then" if self.is_valid(schema["if"], value) else "else"
            if branch in schema:
                self._check(schema[branch], value, path, out, schema.get("x-when") if branch == "then" else None)

    def _check_type(self, schema, value, path, out):
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if any(_is_type(value, t) for t in types):
            return True
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        actual = json_type(value)
        if actual == "null":
            msg = "is empty; expected %s" % wanted
        else:
            msg = "must be %s, not %s" % (wanted, _actual(value, actual))
        if types == ["string"] and actual in ("integer", "number"):
            msg += " (quote it: \"%s\")" % value
        elif types == ["string"] and actual == "boolean":
            msg += " (quote it: \"%s\"; unquoted, upstream turns it into \"%d\")" % (str(value).lower(), int(value))
        out.append((path, msg + _why(schema) if actual == "null" else msg))
        return False

    def _bad_value(self, schema, value, default):
        phrase = schema.get("x-message")
        return "%s %s" % (describe(value), phrase) if phrase else default

    def _check_value(self, schema, value, path, out):
        if "enum" in schema and not _same_as_any(value, schema["enum"]):
            default = "must be one of: %s (got %s)%s" % (_choices(schema["enum"]), describe(value), self._suggest(value, schema["enum"]))
            out.append((path, self._bad_value(schema, value, default)))
        if "const" in schema and not _same_as_any(value, [schema["const"]]):
            out.append((path, "must be %s (got %s)" % (describe(schema["const"]), describe(value))))
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                out.append((path, "must not be empty" + _why(schema) if schema["minLength"] == 1
                            else "must be at least %d characters long" % schema["minLength"]))
            if "pattern" in schema and not self._regex(schema["pattern"]).search(value):
                out.append((path, self._bad_value(schema, value, "%s does not match %s" % (describe(value), schema["pattern"]))))
        elif json_type(value) in ("integer", "number"):
            lo, hi = schema.get("minimum"), schema.get("maximum")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                if lo is not None and hi is not None:
                    default = "must be between %s and %s (got %s)" % (lo, hi, value)
                elif lo is not None:
                    default = "must be %s or more (got %s)" % (lo, value)
                else:
                    default = "must be %s or less (got %s)" % (hi, value)
                out.append((path, self._bad_value(schema, value, default)))

    def _check_object(self, schema, value, path, out, when):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                sub = self._deref(props.get(key, {}))
                cond = " when %s" % when if when else ""
                out.append((path + (key,), "is required%s%s" % (cond, _why(sub))))
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            out.append((path, "must not be empty" + _why(schema)))
        names = schema.get("propertyNames")
        extra = schema.get("additionalProperties", True)
        hints = schema.get("x-hints", {})
        for key, sub_value in value.items():
            if names is not None:
                for dummy, msg in self._sub_errors(names, key):
                    out.append((path + (key,), "name " + msg))
            if key in props:
                self._check(props[key], sub_value, path + (key,), out, None)
            elif extra is False:
                if key in hints:
                    msg = "unknown key %s: %s" % (describe(key), hints[key])
                else:
                    msg = "unknown key %s%s; allowed keys: %s" % (describe(key), self._suggest(key, list(props)), ", ".join(props))
                out.append((path + (key,), msg))
            elif extra is not True:
                self._check(extra, sub_value, path + (key,), out, None)

    def _sub_errors(self, schema, value):
        out = []
        self._check(schema, value, (), out, None)
        return out

    def _check_array(self, schema, value, path, out):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append((path, "must not be empty" + _why(schema) if schema["minItems"] == 1
                        else "must have at least %d entries" % schema["minItems"]))
        if "items" in schema:
            for i, item in enumerate(value):
                self._check(schema["items"], item, path + (i,), out, None)


def unsupported_keywords(schema, where="#"):
    """``[location]`` of every keyword in ``schema`` the checker does not know (for the unit tests)."""
    found = []
    if isinstance(schema, dict):
        for key, sub in schema.items():
            if key not in KEYWORDS and key not in ANNOTATIONS:
                found.append("%s/%s" % (where, key))
            if key in ("properties", "$defs", "x-hints"):
                if key != "x-hints":
                    for name, s in sub.items():
                        found += unsupported_keywords(s, "%s/%s/%s" % (where, key, name))
            elif key in ("items", "additionalProperties", "propertyNames", "if", "then", "else"):
                found += unsupported_keywords(sub, "%s/%s" % (where, key))
            elif key == "allOf":
                for i, s in enumerate(sub):
                    found += unsupported_keywords(s, "%s/allOf/%d" % (where, i))
    return found
