# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""README.md's included-content table (tools/content_table.py) matches the collection."""
from __future__ import annotations

import glob
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


@pytest.fixture(name="tool", scope="module")
def tool_fixture(load_tool):
    return load_tool("content_table")


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
        "module %s is missing from README.md's included-content table: run python tools/content_table.py --write" % name)


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
