# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped JSON Schema: a valid draft 2020-12 schema, the same as docs/adhar-config.schema.json, within the checker's subset.

Regenerate the docs file after changing schema.py:  ADHAR_UPDATE_SCHEMA=1 pytest tests/unit -k schema_file
"""

from __future__ import annotations

import glob
import json
import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._config import schema as S
from ansible_collections.adhar.platform.plugins.module_utils._config.checker import Checker, unsupported_keywords
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import (
    FIXTURES, LOCAL_INVENTORY, MULTICLOUD_INVENTORY, REPO,
)
from ansible_collections.adhar.platform.plugins.module_utils._config import loader

DOC = os.path.join(REPO, "docs", "adhar-config.schema.json")


def rendered():
    return json.dumps(S.SCHEMA, indent=2) + "\n"


def test_schema_file_matches_the_dict():
    if os.environ.get("ADHAR_UPDATE_SCHEMA"):
        with open(DOC, "w") as f:
            f.write(rendered())
    with open(DOC) as f:
        assert f.read() == rendered(), "docs/adhar-config.schema.json is stale: ADHAR_UPDATE_SCHEMA=1 pytest tests/unit -k schema_file"


def test_schema_is_json_and_uses_only_supported_keywords():
    assert json.loads(rendered()) == S.SCHEMA
    assert unsupported_keywords(S.SCHEMA) == []


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(S.SCHEMA)


def _all_documents():
    paths = sorted(glob.glob(os.path.join(FIXTURES, "**", "*.yaml"), recursive=True)) + [LOCAL_INVENTORY, MULTICLOUD_INVENTORY]
    out = []
    for path in paths:
        try:
            out.append((path, loader.load_file(path).data))
        except loader.ConfigInvalid:
            continue  # YAML syntax errors never reach the schema
    return out


@pytest.mark.parametrize("path,doc", _all_documents(), ids=lambda v: os.path.basename(v) if isinstance(v, str) else "")
def test_checker_agrees_with_jsonschema(path, doc):
    """Our small validator and the reference implementation find the same paths invalid."""
    jsonschema = pytest.importorskip("jsonschema")
    ours = {e[0] for e in Checker(S.SCHEMA).errors(doc)}
    reference = set()
    for err in jsonschema.Draft202012Validator(S.SCHEMA).iter_errors(doc):
        reference.add(tuple(err.absolute_path))
    assert bool(ours) == bool(reference), (ours, reference)
    # every place the reference flags is one we flag (or a child of it: we name the missing key itself)
    for p in reference:
        assert any(o[:len(p)] == p for o in ours), (p, ours)


def test_constants_are_in_the_schema():
    assert S.SCHEMA["$defs"]["provider"]["properties"]["type"]["enum"] == list(S.PROVIDER_TYPES)
    assert S.SCHEMA["$defs"]["environment"]["properties"]["type"]["enum"] == ["production", "non-production"]
    assert set(S.CORE_SERVICES) == {"argocd", "gitea", "gateway", "cilium", "nginx", "postgresql", "redis", "minio"}
