# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scripts of tools/ are not a package: their tests load them from their files."""
from __future__ import annotations

import importlib.util
import os

import pytest

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools")


def load_tool(name):
    """Import ``tools/<name>.py`` as a fresh module object."""
    spec = importlib.util.spec_from_file_location("adhar_tool_%s" % name, os.path.join(TOOLS, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(name="load_tool", scope="session")
def load_tool_fixture():
    return load_tool
