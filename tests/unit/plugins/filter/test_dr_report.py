# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.adhar.platform.plugins.filter.dr_report import (
    DEFAULT_TARGETS,
    FilterModule,
    cron_problem,
    dr_assess,
    dr_db_unproven,
    dr_elapsed,
    dr_markdown,
    dr_missing,
    dr_restored_counts,
)


def test_default_targets_are_the_seed_table():
    assert DEFAULT_TARGETS == {
        "Platform Services": {"rto_seconds": 3600, "rpo_seconds": 86400},
        "Applications": {"rto_seconds": 1800, "rpo_seconds": 14400},
        "Databases": {"rto_seconds": 7200, "rpo_seconds": 3600},
        "Persistent Volumes": {"rto_seconds": 3600, "rpo_seconds": 86400},
    }


def test_assess_pass_fail_and_not_measured():
    report = dr_assess({"Platform Services": {"rto_seconds": 42.5, "rpo_seconds": 90000},
                        "Applications": {"rto_seconds": 30, "rpo_seconds": 60}})
    rows = {r["component"]: r for r in report["components"]}
    assert [r["component"] for r in report["components"]] == list(DEFAULT_TARGETS)
    assert rows["Platform Services"]["rto"] == {"seconds": 42.5, "target_seconds": 3600, "status": "pass"}
    assert rows["Platform Services"]["rpo"]["status"] == "fail" and rows["Platform Services"]["status"] == "fail"
    assert rows["Applications"]["status"] == "pass"
    assert rows["Databases"]["status"] == "not measured"
    assert rows["Databases"]["rto"] == {"seconds": None, "target_seconds": 7200, "status": "not measured"}
    assert report["passed"] is False and report["failed"] == ["Platform Services"]
    assert report["measured"] == ["Platform Services", "Applications"]
    assert report["not_measured"] == ["Databases", "Persistent Volumes"]


def test_assess_boundary_is_strict_and_partial_measurement():
    # the guide says "< 30 minutes": exactly 30 minutes misses it
    report = dr_assess({"Applications": {"rto_seconds": 1800, "rpo_seconds": None}})
    row = report["components"][1]
    assert row["rto"]["status"] == "fail" and row["rpo"]["status"] == "not measured" and row["status"] == "fail"
    report = dr_assess({"Applications": {"rpo_seconds": "10"}})
    assert report["components"][1]["status"] == "partial" and report["components"][1]["rpo"]["status"] == "pass"
    assert report["verdict"] == "partial" and report["passed"] is False
    assert report["unmeasured"] == ["Platform Services", "Applications RTO", "Databases", "Persistent Volumes"]


def test_assess_custom_targets_and_extra_component():
    report = dr_assess({"Search": {"rto_seconds": 5}}, {"Search": {"rto_seconds": 10}, "Applications": {"rto_seconds": 1}})
    assert [r["component"] for r in report["components"]] == ["Applications", "Search"]
    assert report["verdict"] == "partial" and report["measured"] == ["Search"] and report["unmeasured"] == ["Applications"]
    report = dr_assess({"Other": {"rto_seconds": 5}}, {})
    # a metric without a target and without a measurement was not asked for: it leaves the verdict alone
    assert report["components"][0]["rto"]["status"] == "no target" and report["components"][0]["status"] == "pass"
    assert report["verdict"] == "pass" and report["unmeasured"] == []


def _all_measured(**override):
    measured = {c: {"rto_seconds": 1, "rpo_seconds": 1} for c in DEFAULT_TARGETS}
    measured.update(override)
    return measured


def test_verdict_pass_only_when_every_row_is_measured_and_within_target():
    report = dr_assess(_all_measured())
    assert report["verdict"] == "pass" and report["passed"] is True
    assert report["unmeasured"] == [] and report["failed"] == [] and report["not_measured"] == []
    assert "- **Result**: PASS" in dr_markdown({"assessment": report}).splitlines()


def test_verdict_partial_when_a_row_is_not_measured():
    # the usual run: everything measured is within target, but Persistent Volumes is not measured at all
    report = dr_assess(_all_measured(**{"Persistent Volumes": {}}))
    assert report["verdict"] == "partial" and report["passed"] is False and report["failed"] == []
    assert report["unmeasured"] == ["Persistent Volumes"] and report["not_measured"] == ["Persistent Volumes"]
    lines = dr_markdown({"assessment": report}).splitlines()
    assert "- **Result**: PARTIAL (not measured: Persistent Volumes)" in lines
    assert "| Persistent Volumes | not measured | < 1 hour | not measured | < 24 hours | not measured |" in lines
    report = dr_assess(_all_measured(Databases={"rpo_seconds": 5}))
    assert report["verdict"] == "partial" and report["unmeasured"] == ["Databases RTO"]
    lines = dr_markdown({"assessment": report}).splitlines()
    assert "- **Result**: PARTIAL (not measured: Databases RTO)" in lines
    assert "| Databases | not measured | < 2 hours | 5.0 s (PASS) | < 1 hour | partial |" in lines


def test_verdict_fail_when_a_measured_row_misses_its_target_even_if_others_are_not_measured():
    report = dr_assess(_all_measured(Applications={"rto_seconds": 1800, "rpo_seconds": 1}, Databases={}))
    assert report["verdict"] == "fail" and report["passed"] is False
    assert report["failed"] == ["Applications"] and report["unmeasured"] == ["Databases"]
    assert "- **Result**: FAIL (Applications)" in dr_markdown({"assessment": report}).splitlines()


@pytest.mark.parametrize("bad, match", [
    ({"Applications": {"rto_seconds": "soon"}}, "RTO of Applications must be a number"),
    ({"Applications": {"rto_seconds": -1}}, "must not be negative"),
    ({"Applications": {"rto_seconds": True}}, "must be a number"),
    ({"Applications": 5}, "component 'Applications' must be a dict"),
    ([], "must be dicts keyed by component"),
])
def test_assess_bad_input(bad, match):
    with pytest.raises(AnsibleFilterError, match=match):
        dr_assess(bad)


def test_markdown_table():
    assessment = dr_assess({"Platform Services": {"rto_seconds": 42.5, "rpo_seconds": 3725},
                            "Applications": {"rto_seconds": 2000, "rpo_seconds": 3725}})
    text = dr_markdown({"cluster": "prod", "action": "recover", "backup": "prod-20260601020000",
                        "target_cluster": "prod-recovery", "method": "resources", "assessment": assessment,
                        "details": {"restored": {"created": 12, "failed": 0}, "covered": ["a", "b"], "objects": 12},
                        "notes": ["Databases: no database dump in this run"]})
    lines = text.splitlines()
    assert lines[0] == "# Disaster-recovery report: prod, recover"
    assert "- **Backup**: prod-20260601020000" in lines and "- **Target cluster**: prod-recovery" in lines
    assert "- **Result**: FAIL (Applications)" in lines
    assert "| Platform Services | 42.5 s (PASS) | < 1 hour | 1 h 02 min (PASS) | < 24 hours | PASS |" in lines
    assert "| Applications | 33 min 20 s (FAIL) | < 30 minutes | 1 h 02 min (PASS) | < 4 hours | FAIL |" in lines
    assert "| Databases | not measured | < 2 hours | not measured | < 1 hour | not measured |" in lines
    assert "- restored: created=12, failed=0" in lines and "- covered: a, b" in lines
    assert "- Databases: no database dump in this run" in lines
    assert text.endswith("\n")


def test_markdown_needs_an_assessment():
    with pytest.raises(AnsibleFilterError, match="expects a report dict"):
        dr_markdown({"cluster": "prod"})


def test_elapsed():
    assert dr_elapsed("2026-06-01T02:00:00.020Z", "2026-06-01T03:00:00.020Z") == 3600.0
    assert dr_elapsed("2026-06-01T02:00:00", "2026-06-01T02:00:01.5+00:00") == 1.5
    assert dr_elapsed(100, 160.25) == 60.25
    start = datetime.datetime(2026, 6, 1, 2, tzinfo=datetime.timezone.utc)
    assert dr_elapsed(start, "2026-06-01T01:00:00Z") == -3600.0
    with pytest.raises(AnsibleFilterError, match="start 'yesterday' is not an ISO 8601 time"):
        dr_elapsed("yesterday", 5)
    with pytest.raises(AnsibleFilterError, match="end is empty"):
        dr_elapsed(5, "")


@pytest.mark.parametrize("expr", ["0 2 * * *", "*/15 * * * *", "0 0-6/2 1,15 jan-jun MON-FRI", "@daily", "@HOURLY",
                                  "59 23 31 12 7", "0 2 * * sun"])
def test_cron_valid(expr):
    assert cron_problem(expr) == ""


@pytest.mark.parametrize("expr, match", [
    ("0 2 * *", "it has 4 fields"),
    ("60 2 * * *", "minute 60 is out of range 0-59"),
    ("0 24 * * *", "hour 24 is out of range"),
    ("0 2 0 * *", "day-of-month 0 is out of range 1-31"),
    ("0 2 * foo *", "month 'foo' is not a number or a name"),
    ("0 2 * * 8", "day-of-week 8 is out of range 0-7"),
    ("*/0 * * * *", "step '0' must be a whole number"),
    ("0 6-2 * * *", "hour range 6-2 is backwards"),
    ("@sometimes", "unknown macro"),
    ("", "empty"),
    (None, "empty or not a string"),
])
def test_cron_invalid(expr, match):
    assert match in cron_problem(expr)


def test_missing():
    assert dr_missing({"configmaps": 5, "secrets": "2"}, {"configmaps": 4, "secrets": 3, "deployments.apps": 1}) == [
        {"resource": "deployments.apps", "expected": 1, "present": 0, "missing": 1},
        {"resource": "secrets", "expected": 3, "present": 2, "missing": 1}]
    assert dr_missing({"configmaps": 5}, {"configmaps": 5, "nodes": 2}, ["nodes"]) == []
    assert dr_missing(None, None) == []
    with pytest.raises(AnsibleFilterError, match="expected must be a dict"):
        dr_missing({}, [1])
    with pytest.raises(AnsibleFilterError, match=r"present\['secrets'\] must be a whole number"):
        dr_missing({"secrets": "many"}, {})


def test_restored_counts():
    restore = {"stages": [{"name": "namespaces", "counts": {"created": 2, "skipped": 3}},
                          {"name": "configmaps", "counts": {"created": 4, "unchanged": 1, "failed": 1}},
                          {"name": "events", "counts": {"skipped": 9}},
                          {"name": "deployments.apps", "counts": {"updated": 1, "recreated": 1}}]}
    assert dr_restored_counts(restore) == {"namespaces": 2, "configmaps": 5, "deployments.apps": 2}
    with pytest.raises(AnsibleFilterError, match="expects the 'restore' result"):
        dr_restored_counts({"counts": {}})


def test_restored_counts_of_tiers():
    restore = {"stages": [{"name": "cluster", "counts": {"created": 2},
                           "resource_counts": {"namespaces": {"created": 2}}},
                          {"name": "data", "counts": {"created": 7, "skipped": 2},
                           "resource_counts": {"configmaps": {"created": 4, "skipped": 2}, "secrets": {"created": 3}}}]}
    assert dr_restored_counts(restore) == {"namespaces": 2, "configmaps": 4, "secrets": 3}


def test_registered():
    filters = FilterModule().filters()
    assert filters["dr_assess"] is dr_assess and filters["dr_markdown"] is dr_markdown
    assert filters["dr_elapsed"] is dr_elapsed and filters["cron_problem"] is cron_problem
    assert filters["dr_missing"] is dr_missing and filters["dr_restored_counts"] is dr_restored_counts


def test_dr_db_unproven():
    archived = {"shop": {"tables": 2, "bytes": 10}, "crm": {"tables": 1}, "old": {"tables": 3}, "gone": {"tables": 1}}
    imported = {"databases": [
        {"source": "shop", "target": "shop", "action": "create", "tables": 2},
        {"source": "crm", "target": "crm2", "action": "replace", "tables": 0},
        {"source": "old", "target": "old", "action": "skip", "changed": False},
    ]}
    assert dr_db_unproven(imported, archived) == [
        {"source": "crm", "target": "crm2", "action": "replace", "expected_tables": 1, "tables": 0,
         "problem": "0 tables imported, 1 dumped"},
        {"source": "gone", "target": None, "action": None, "expected_tables": 1, "tables": None, "problem": "not imported"},
    ]
    assert dr_db_unproven({"databases": imported["databases"][:1]}, {"shop": {"tables": 2}}) == []
    assert FilterModule().filters()["dr_db_unproven"] is dr_db_unproven
    with pytest.raises(AnsibleFilterError, match="operation=import"):
        dr_db_unproven({"db": {}}, archived)
    with pytest.raises(AnsibleFilterError, match="metadata.db.databases"):
        dr_db_unproven(imported, None)
