# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small JSON Schema validator: every keyword it supports, and the sentences it writes."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._config.checker import Checker, json_type, suggest
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import describe, format_path

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "pattern": "^[a-z]+$", "x-message": "is not lower-case letters"},
        "count": {"type": "integer", "minimum": 1, "maximum": 5},
        "size": {"type": "integer", "enum": [1, 3, 5]},
        "flag": {"type": "boolean"},
        "kind": {"enum": ["a", "b"]},
        "fixed": {"const": True},
        "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}, "x-why": "give one"},
        "mapping": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "additionalProperties": {"type": "integer"}},
        "text": {"type": "string"},
        "either": {"type": ["integer", "string"], "minimum": 1, "pattern": "^[0-9]+d$"},
        "storage": {
            "type": "object",
            "properties": {"type": {"enum": ["s3", "local"]}, "bucket": {"type": "string"}},
            "allOf": [{"if": {"properties": {"type": {"const": "s3"}}, "required": ["type"]},
                       "then": {"required": ["bucket"]}, "x-when": "type is s3"}],
        },
    },
    "required": ["name", "items"],
    "additionalProperties": False,
    "x-hints": {"apiVersion": "looks like a manifest"},
    "$defs": {"item": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"], "additionalProperties": False}},
}


def errs(doc):
    return [(format_path(p), m) for p, m in Checker(SCHEMA).errors(doc)]


def ok(**extra):
    doc = {"name": "abc", "items": [{"key": "k"}]}
    doc.update(extra)
    return doc


def test_valid_document():
    assert errs(ok(count=3, size=5, flag=False, kind="a", fixed=True, mapping={"x": 1}, either=2)) == []
    assert errs(ok(either="30d")) == []


def test_required_and_minitems_with_why():
    assert errs({"name": "abc"}) == [("items", "is required: give one")]
    assert errs(ok(items=[])) == [("items", "must not be empty: give one")]
    assert errs(ok(items=[{}])) == [("items[0].key", "is required")]


def test_type_messages():
    assert errs(ok(count="3")) == [("count", "must be an integer, not a string '3'")]
    assert errs(ok(text=3)) == [("text", 'must be a string, not an integer 3 (quote it: "3")')]
    assert errs(ok(text=True)) == [("text", 'must be a string, not the boolean true (quote it: "true"; unquoted, upstream turns it into "1")')]
    assert errs(ok(flag="yes")) == [("flag", "must be true or false, not a string 'yes'")]
    assert errs(ok(items=None)) == [("items", "is empty; expected a list: give one")]
    assert errs([1]) == [("(root)", "must be a mapping, not a list")]


def test_bool_is_not_an_integer():
    assert errs(ok(count=True)) == [("count", "must be an integer, not the boolean true")]
    assert errs(ok(fixed=1)) == [("fixed", "must be true (got 1)")]


def test_enum_const_and_suggestions():
    assert errs(ok(kind="A")) == [("kind", "must be one of: 'a', 'b' (got 'A') (did you mean 'a'?)")]
    assert errs(ok(size=2)) == [("size", "must be one of: 1, 3, 5 (got 2)")]


def test_ranges_and_patterns():
    assert errs(ok(count=0)) == [("count", "must be between 1 and 5 (got 0)")]
    assert errs(ok(name="")) == [("name", "must not be empty"), ("name", "'' is not lower-case letters")]
    assert errs(ok(name="ABC")) == [("name", "'ABC' is not lower-case letters")]
    assert errs(ok(either="x")) == [("either", "'x' does not match ^[0-9]+d$")]
    assert errs(ok(either=0)) == [("either", "must be 1 or more (got 0)")]


def test_unknown_keys_hints_and_did_you_mean():
    assert errs(ok(Name="x")) == [("Name", "unknown key 'Name' (did you mean 'name'?); allowed keys: name, count, size, flag, kind, "
                                           "fixed, items, mapping, text, either, storage")]
    assert errs(ok(apiVersion="v1")) == [("apiVersion", "unknown key 'apiVersion': looks like a manifest")]


def test_property_names_and_additional_schema():
    assert errs(ok(mapping={"Bad": 1, "ok": "x"})) == [("mapping.Bad", "name 'Bad' does not match ^[a-z]+$"),
                                                       ("mapping.ok", "must be an integer, not a string 'x'")]


def test_if_then_with_condition_text():
    assert errs(ok(storage={"type": "s3"})) == [("storage.bucket", "is required when type is s3")]
    assert errs(ok(storage={"type": "local"})) == []


def test_unsupported_ref_is_refused():
    with pytest.raises(ValueError):
        Checker({"$ref": "other.json#/x"}).errors({})


def test_helpers():
    assert json_type(True) == "boolean" and json_type(1) == "integer" and json_type(1.5) == "number" and json_type(None) == "null"
    assert suggest("enableHaMode", ["enableHAMode", "email"]) == " (did you mean 'enableHAMode'?)"
    assert suggest("zzz", ["enableHAMode"]) == ""
    assert format_path(("environments", "prod", "clusterConfig", 2, "value")) == "environments.prod.clusterConfig[2].value"
    assert format_path(("a", "b.c", "", 0)) == 'a["b.c"][""][0]'
    assert format_path(()) == "(root)"
    assert describe("x" * 100).endswith("...") and describe({}) == "a mapping" and describe(None) == "null"
