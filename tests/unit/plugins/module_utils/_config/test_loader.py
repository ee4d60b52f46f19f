# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading config text: syntax errors with line and column, duplicate keys, lines per path, inventory keys."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._config import loader
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import fixture


def syntax_error(text):
    with pytest.raises(loader.ConfigInvalid) as info:
        loader.parse(text, name="f.yaml")
    assert len(info.value.errors) == 1
    return info.value


def test_syntax_error_names_line_and_column():
    exc = syntax_error("providers:\n  kind: {type: kind\nenvironmentTemplates: {}\n")
    err = exc.errors[0]
    assert err["path"] == "(root)" and err["line"] == 3 and err["column"] == 21
    assert err["message"].startswith("YAML syntax error at line 3, column 21: ")
    assert exc.msg.startswith("f.yaml: YAML syntax error at line 3")


def test_syntax_error_fixture():
    with pytest.raises(loader.ConfigInvalid) as info:
        loader.load_file(fixture("bad", "yaml-syntax.txt"))
    assert info.value.errors[0]["line"] == 4


@pytest.mark.parametrize("text", ["a: [1, 2\n", "a: b: c\n", "- a\nb: c\n", "a: 1\n---\nb: 2\n", "a: &x [*x]\n", "\ta: 1\n"])
def test_broken_yaml_never_raises_anything_else(text):
    syntax_error(text)


def test_empty_document():
    with pytest.raises(loader.ConfigInvalid, match="the config is empty"):
        loader.parse("# nothing\n")


def test_duplicate_keys_are_errors_with_both_lines():
    src = loader.parse("providers:\n  kind: {}\n  kind: {}\n")
    message = "duplicate key 'kind' (first defined at line 2); upstream's YAML parser rejects duplicate keys"
    assert src.errors == [{"path": "providers.kind", "message": message, "line": 3}]


def test_lines_per_path_and_nearest_ancestor():
    src = loader.parse("a:\n  b:\n    - x\n    - y: 1\n")
    assert src.line_of(("a",)) == 1 and src.line_of(("a", "b")) == 2 and src.line_of(("a", "b", 1, "y")) == 4
    assert src.line_of(("a", "b", 1, "missing")) == 4


def test_dates_stay_strings_and_keys_must_be_strings():
    src = loader.parse("version: 2026-01-02\n1: x\n")
    assert src.data == {"version": "2026-01-02", "1": "x"}
    assert src.errors[0]["message"] == "key 1 must be a string (quote it)"


def test_merge_keys_work():
    src = loader.parse("base: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n")
    assert src.data["other"] == {"a": 1, "c": 2}


def test_inventory_options_are_set_aside():
    src = loader.parse("plugin: adhar.platform.clusters\ncompose: {x: y}\nproviders: {}\n")
    assert src.data == {"providers": {}} and src.inventory == {"plugin": "adhar.platform.clusters", "compose": {"x": "y"}}
    # without a plugin line the same keys are config keys (and then unknown)
    assert loader.parse("compose: 1\n").data == {"compose": 1}


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(AdharError, match="src: cannot read"):
        loader.load_file(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"a: \xe9\n")
    with pytest.raises(loader.ConfigInvalid, match="not UTF-8"):
        loader.load_file(str(bad))
