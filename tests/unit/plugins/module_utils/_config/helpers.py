# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the adhar_config unit tests: fixture paths, loading, and small config builders."""

from __future__ import annotations

import copy
import os

import yaml

from ansible_collections.adhar.platform.plugins.module_utils._config import loader
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import validate

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "unit", "fixtures", "adhar")
LOCAL_INVENTORY = os.path.join(REPO, "inventories", "local", "adhar.yml")
MULTICLOUD_INVENTORY = os.path.join(REPO, "inventories", "example-multicloud", "adhar.yml")


def fixture(*parts):
    return os.path.join(FIXTURES, *parts)


def data(*parts):
    with open(fixture(*parts)) as f:
        return yaml.safe_load(f)


def base():
    """A fresh copy of the minimal valid config (fixtures/adhar/base.yaml)."""
    return copy.deepcopy(data("base.yaml"))


def check(cfg):
    """Validate a dict or a YAML text; returns the report."""
    if isinstance(cfg, str):
        return validate(loader.parse(cfg))
    return validate(cfg)


def errors(cfg):
    return [(e["path"], e["message"]) for e in check(cfg).errors]


def warnings(cfg):
    return [(e["path"], e["message"]) for e in check(cfg).warnings]


def only_error(cfg):
    """The one error of ``cfg`` (fails when there are none or several)."""
    found = errors(cfg)
    assert len(found) == 1, found
    return found[0]


def kv(key, value):
    return {"key": key, "value": value}


def deep_merge(into, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def laughs(levels=10, width=9):
    """The billion-laughs document: ``width ** levels`` strings once its YAML aliases are expanded."""
    text = "a: &a [%s]\n" % ", ".join(['"lol"'] * width)
    for i in range(1, levels):
        text += "l%d: &l%d [%s]\n" % (i, i, ", ".join(["*" + ("a" if i == 1 else "l%d" % (i - 1))] * width))
    return text
