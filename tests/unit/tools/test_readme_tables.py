# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated tables of README.md (included content) and roles/*/README.md (variables) match the collection."""
from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


@pytest.fixture(name="tool", scope="module")
def tool_fixture(load_tool):
    return load_tool("readme_tables")


@pytest.fixture(name="rows", scope="module")
def rows_fixture(tool):
    """README.md's table as ``{(kind, name)}`` (a module and its action plugin share a name)."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        block = tool.readme_table(handle.read())
    assert block is not None, "README.md lost its included-content markers"
    return {(line.split(" | ")[0].lstrip("| "), line.split(" | ")[1].strip("`")) for line in block.splitlines()[3:-1]}


def _names(pattern):
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, pattern))
                  if not os.path.basename(p).startswith("_"))


@pytest.mark.parametrize("name", _names("plugins/modules/*.py"))
def test_every_module_is_in_the_table(name, rows):
    assert ("module", "adhar.platform." + name) in rows, (
        "module %s is missing from README.md's included-content table: run python tools/readme_tables.py --write" % name)


@pytest.mark.parametrize("name", [os.path.basename(os.path.dirname(p)) for p in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks")))])
def test_every_role_is_in_the_table(name, rows):
    assert ("role", "adhar.platform." + name) in rows


@pytest.mark.parametrize("name", _names("playbooks/*.yml"))
def test_every_playbook_is_in_the_table(name, rows):
    assert ("playbook", "playbooks/%s.yml" % name) in rows


@pytest.mark.parametrize("kind, directory", [("action plugin", "action"), ("doc fragment", "doc_fragments"),
                                             ("filter plugin", "filter"), ("inventory plugin", "inventory")])
def test_every_plugin_is_in_the_table(kind, directory, rows):
    names = _names("plugins/%s/*.yml" % directory) + [n for n in _names("plugins/%s/*.py" % directory) if n != "dr_report"]
    missing = [n for n in names if (kind, "adhar.platform." + n) not in rows]
    assert not missing, "plugins/%s: %s not in README.md's table" % (directory, missing)


def test_readme_table_is_the_generated_one(tool):
    """Descriptions too: a changed short_description must be carried into README.md."""
    assert tool.main(["--check"]) == 0


def test_filter_functions_file_documented_per_filter(rows):
    """plugins/filter/dr_report.py holds several filters documented by one .yml each; each of them is a row."""
    for name in _names("plugins/filter/dr_*.yml"):
        assert ("filter plugin", "adhar.platform." + name) in rows


def test_check_fails_on_a_stale_table(tmp_path, monkeypatch, tool):
    stale = tool.render([("module", "adhar.platform.gone", "removed long ago")])
    (tmp_path / "README.md").write_text("# x\n\n" + stale + "\n", encoding="utf-8")
    (tmp_path / "roles").mkdir()
    monkeypatch.setattr(tool, "ROOT", str(tmp_path))
    monkeypatch.setattr(tool, "content", lambda: [("module", "adhar.platform.new", "brand new")])
    assert tool.main(["--check"]) == 1
    assert tool.main(["--write"]) == 0
    assert "adhar.platform.new" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert tool.main(["--check"]) == 0


def test_playbook_summary_is_the_first_comment_up_to_a_stop(tool):
    assert tool.playbook_summary("---\n# Deploy it all, in parallel:\n#   more\n") == "Deploy it all, in parallel"
    assert tool.playbook_summary("---\n# Blue-green (docs/x.md) - the guide's way: more\n") == "Blue-green (docs/x.md)"
    assert tool.playbook_summary("---\n# Health of every cluster. One line.\n") == "Health of every cluster"


def test_a_row_without_description_is_refused(tool):
    with pytest.raises(ValueError, match="adhar.platform.x has no one-line description"):
        tool.render([("module", "adhar.platform.x", "  ")])


ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta")))


def _role_readme(tool, role):
    with open(os.path.join(ROOT, "roles", role, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    block = tool.readme_table(text, tool.ROLE_BEGIN, tool.ROLE_END)
    assert block is not None, "roles/%s/README.md has no variables table" % role
    return text, {line.split(" | ")[0].lstrip("| ").strip("`") for line in block.splitlines()[3:-1]}


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_is_in_its_readme_table(tool, role):
    """Every variable of defaults/main.yml and every option of meta/argument_specs.yml is a row of the README."""
    _text, documented = _role_readme(tool, role)
    role_dir = os.path.join(ROOT, "roles", role)
    defaults = set(_yaml(os.path.join(role_dir, "defaults", "main.yml"))) if os.path.exists(os.path.join(role_dir, "defaults", "main.yml")) else set()
    specs = _yaml(os.path.join(role_dir, "meta", "argument_specs.yml"))["argument_specs"]
    options = {name for entry in specs.values() for name in (entry.get("options") or {})}
    missing = sorted((defaults | options) - documented)
    assert not missing, "roles/%s/README.md's variables table lacks %s: run python tools/readme_tables.py --write" % (role, missing)
    assert documented <= defaults | options, "roles/%s/README.md documents variables the role does not have" % role


@pytest.mark.parametrize("role", ROLES)
def test_every_role_readme_has_an_example(tool, role):
    text, _documented = _role_readme(tool, role)
    examples = [b for b in text.split("```yaml")[1:] if "role: adhar.platform.%s" % role in b.split("```")[0]]
    assert examples, "roles/%s/README.md has no YAML example using the role by its FQCN" % role
    for example in examples:
        yaml.safe_load(example.split("```")[0])


def test_a_default_without_a_spec_entry_is_refused(tool, tmp_path, monkeypatch):
    role = tmp_path / "roles" / "r"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: r\n    options:\n      r_a: {type: str, description: A.}\n")
    (role / "defaults" / "main.yml").write_text("r_a: x\nr_b: y\n")
    monkeypatch.setattr(tool, "ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="r_b in defaults/main.yml but not in meta/argument_specs.yml"):
        tool.role_variables("r")
    (role / "defaults" / "main.yml").write_text("r_a: '{{ x | default(1) }}'\n")
    assert tool.role_variables("r") == [("r_a", "`{{ x | default(1) }}`", "A.")]


def test_markup_becomes_markdown(tool):
    assert tool.markdown("C(a) O(b=1) V(c) M(adhar.platform.x) I(d) U(https://e) L(f, https://g)") == (
        "`a` `b=1` `c` `adhar.platform.x` *d* <https://e> [f](https://g)")
