# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guide's critical alerts (roles/monitoring/templates/rules.yml.j2) under promtool, the toolchain's: rendered
with the role's defaults, ``promtool check rules`` accepts them and ``promtool test rules`` runs their unit tests
(fixtures/monitoring/rules_test.yml); the PrometheusRule template carries the very same rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import jinja2
import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ROLE = os.path.join(REPO, "roles", "monitoring")
THRESHOLDS = ("monitoring_for", "monitoring_rate_window", "monitoring_error_rate_ratio", "monitoring_cert_expiry_days",
              "monitoring_disk_free_ratio")


@pytest.fixture(scope="module")
def promtool():
    sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
    try:
        import toolchain  # stdlib-only pins, loadable without the collection loader
    finally:
        sys.path.pop(0)
    path, where = toolchain.find_addon_binary("promtool", "prometheus")
    if not path:
        pytest.fail("promtool missing from %s (run `make toolchain`)" % where)
    return path


def defaults():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as f:
        return {k: v for k, v in yaml.safe_load(f).items() if k in THRESHOLDS}


def render(name, **values):
    """A template of the role with plain Jinja and Ansible's template defaults (trim_blocks)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")), trim_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(name).render(**dict(defaults(), **values))


def test_rules_pass_promtool_check_and_unit_tests(promtool, tmp_path):
    with open(tmp_path / "rules.yml", "w") as f:
        f.write(render("rules.yml.j2"))
    shutil.copy(os.path.join(HERE, "fixtures", "monitoring", "rules_test.yml"), tmp_path / "rules_test.yml")
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 11 rules found" in check.stdout + check.stderr
    test = subprocess.run([promtool, "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    print(test.stdout + test.stderr)
    assert test.returncode == 0, test.stdout + test.stderr


def test_unit_tests_fail_on_wrong_thresholds(promtool, tmp_path):
    """The unit tests can fail: rules rendered with another error ratio and certificate threshold break them."""
    with open(tmp_path / "rules.yml", "w") as f:
        f.write(render("rules.yml.j2", monitoring_error_rate_ratio=0.5, monitoring_cert_expiry_days=0))
    shutil.copy(os.path.join(HERE, "fixtures", "monitoring", "rules_test.yml"), tmp_path / "rules_test.yml")
    test = subprocess.run([promtool, "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    out = test.stdout + test.stderr
    assert test.returncode != 0
    assert "HighErrorRate" in out and "CertificateExpiringSoon" in out


def test_prometheusrule_spec_is_the_rule_file():
    """prometheusrule.yml.j2 includes rules.yml.j2: its spec is exactly the rule file (one copy of the PromQL)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")), trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = lambda v: '"%s"' % v
    values = dict(defaults(), monitoring_rule_name="r", monitoring_namespace="monitoring",
                  monitoring_rule_labels={"role": "alert-rules"})
    rule = yaml.safe_load(env.get_template("prometheusrule.yml.j2").render(**values))
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(render("rules.yml.j2"))
