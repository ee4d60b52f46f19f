# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adhar.platform.config module end to end in-process: results, failures without tracebacks, the dest write."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.modules import config as config_module
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import (
    LOCAL_INVENTORY, base, fixture,
)


@pytest.fixture
def run(module_args, module_result):
    def call(**args):
        module_args(args)
        return module_result(config_module.main)
    return call


def test_validate_valid_file(run):
    rc, res = run(src=LOCAL_INVENTORY)
    assert rc == 0 and res["valid"] is True and res["errors"] == [] and res["changed"] is False
    assert res["summary"] == {"providers": ["kind"], "environments": ["prod", "staging"], "clusters": ["prod", "staging"],
                              "hosts": ["prod", "staging"]}


def test_validate_invalid_fails_with_every_error_and_no_traceback(run):
    cfg = base()
    cfg["environments"]["dev"]["template"] = "nope"
    cfg["providers"]["kind"]["type"] = "k8s"
    rc, res = run(content=cfg)
    assert rc == 1 and res["failed"] is True and res["valid"] is False and "exception" not in res
    assert [e["path"] for e in res["errors"]] == ["providers.kind.type", "environments.dev.template"]
    assert res["msg"].startswith("2 errors in content: providers.kind.type: must be one of")


def test_bad_yaml_reports_line_and_column(run):
    rc, res = run(src=fixture("bad", "yaml-syntax.txt"))
    assert rc == 1 and "exception" not in res
    assert res["errors"] == [{"path": "(root)", "line": 4, "column": 21, "message": res["errors"][0]["message"]}]
    assert "YAML syntax error at line 4, column 21" in res["msg"]


def test_missing_file_and_option_errors(run, tmp_path):
    rc, res = run(src=str(tmp_path / "none.yaml"))
    assert rc == 1 and res["msg"].startswith("src: cannot read")
    rc, res = run(src=LOCAL_INVENTORY, dest=str(tmp_path / "x"))
    assert rc == 1 and res["msg"] == "dest: only used with action=convert and action=export (got action=validate)"
    rc, res = run(src=LOCAL_INVENTORY, action="resolve", environment="qa")
    assert rc == 1 and res["msg"] == "environment: unknown environment 'qa'; defined environments: prod, staging"
    rc, res = run(src=LOCAL_INVENTORY, action="convert")
    assert rc == 1 and "to_provider" in res["msg"]


def test_resolve(run):
    rc, res = run(src=LOCAL_INVENTORY, action="resolve", environment="prod")
    assert rc == 0 and list(res["environments"]) == ["prod"] and list(res["clusters"]) == ["prod"]
    assert res["clusters"]["prod"]["controlPlane"] == {"count": 3}


def test_secrets_are_masked(run):
    cfg = base()
    cfg["providers"] = {"do": {"type": "digitalocean", "region": "fra1", "primary": True, "token": "dop_v1_secret_value"}}
    rc, res = run(content=cfg, action="resolve")
    assert rc == 0 and "dop_v1_secret_value" not in repr(res)


def test_convert_with_dest_check_diff_and_idempotence(run, tmp_path, monkeypatch):
    dest = tmp_path / "gcp.yaml"
    args = dict(src=fixture("aws-production.yaml"), action="convert", to_provider="gcp", dest=str(dest))
    rc, res = run(_ansible_check_mode=True, _ansible_diff=True, **args)
    assert rc == 0 and res["changed"] is True and not dest.exists()
    assert res["diff"]["before"] == "" and "type: gcp" in res["diff"]["after"]
    rc, res = run(**args)
    assert rc == 0 and res["changed"] is True and dest.exists()
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    written = yaml.safe_load(dest.read_text())
    assert written == res["config"] and written["providers"]["gcp"]["region"] == "us-east4"
    assert dest.read_text().startswith("# adhar config converted to gcp by adhar.platform.config from ")
    rc, res = run(**args)
    assert rc == 0 and res["changed"] is False
    rc, res = run(_ansible_check_mode=True, **args)
    assert rc == 0 and res["changed"] is False
    # the converted file is itself a valid config
    rc, res = run(src=str(dest))
    assert rc == 0 and res["valid"] is True


def test_convert_keeps_the_inventory_lines(run, tmp_path):
    src = tmp_path / "aws.adhar.yml"
    src.write_text("plugin: adhar.platform.clusters\n" + open(fixture("aws-production.yaml")).read())
    dest = tmp_path / "gcp.adhar.yml"
    rc, res = run(src=str(src), action="convert", to_provider="gcp", dest=str(dest))
    assert rc == 0 and "plugin" not in res["config"]
    assert yaml.safe_load(dest.read_text())["plugin"] == "adhar.platform.clusters"


def test_convert_unmappable_fails_listing_choices(run):
    cfg = yaml.safe_load(open(fixture("aws-production.yaml")))
    cfg["providers"]["aws"]["region"] = "me-south-1"
    rc, res = run(content=cfg, action="convert", to_provider="gcp")
    assert rc == 1 and res["valid"] is True and res["errors"][0]["path"] == "providers.aws.region"
    assert "aws regions the table knows: us-east-1, us-east-2" in res["errors"][0]["message"]


def test_dest_must_be_writable(run, tmp_path):
    rc, res = run(src=fixture("aws-production.yaml"), action="convert", to_provider="gcp", dest=str(tmp_path / "no" / "x.yaml"))
    assert rc == 1 and res["msg"].startswith("dest: directory ")


def test_limits_option_and_capped_errors(run, tmp_path):
    src = tmp_path / "many.yaml"
    src.write_text(open(LOCAL_INVENTORY).read() + "".join("bogus%d: 1\n" % i for i in range(130)))
    rc, res = run(src=str(src))
    assert rc == 1 and len(res["errors"]) == 100 and res["errors_truncated"] == 30 and res["warnings_truncated"] == 0
    assert res["msg"].startswith("130 errors in %s: bogus0: unknown key 'bogus0'" % src) and "exception" not in res
    rc, res = run(src=str(src), limits={"errors": 200})
    assert rc == 1 and len(res["errors"]) == 130 and res["errors_truncated"] == 0
    rc, res = run(src=str(src), limits={"depth": 500})
    assert rc == 1 and res["msg"] == "limits.depth: must be a whole number from 1 to 100 (got 500)"
    rc, res = run(src=LOCAL_INVENTORY, limits={"size_mib": 1, "nodes": 100})
    assert rc == 1 and res["errors"][0]["message"].startswith("the document has more than the limit of 100 values")
    rc, res = run(src=LOCAL_INVENTORY)
    assert rc == 0 and res["errors_truncated"] == 0 and res["warnings_truncated"] == 0


def test_content_is_bounded(run):
    deep = {"providers": {}}
    node = deep["providers"]
    for dummy in range(80):
        node["x"] = {}
        node = node["x"]
    rc, res = run(content=deep)
    assert rc == 1 and "nested deeper than the limit of 64 levels" in res["errors"][0]["message"]


def test_a_huge_existing_dest_is_not_read(run, tmp_path):
    dest = tmp_path / "gcp.yaml"
    dest.write_bytes(b"#" * (5 * 1024 * 1024))
    mode = stat.S_IMODE(dest.stat().st_mode)
    args = dict(src=fixture("aws-production.yaml"), action="convert", to_provider="gcp", dest=str(dest))
    rc, res = run(_ansible_check_mode=True, _ansible_diff=True, **args)
    assert rc == 0 and res["changed"] is True and res["diff"]["before"] == "(5242880 bytes, not shown)\n"
    rc, res = run(**args)
    assert rc == 0 and res["changed"] is True and dest.stat().st_size < 100000
    assert stat.S_IMODE(dest.stat().st_mode) == mode  # an existing file keeps its mode
