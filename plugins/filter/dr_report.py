# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disaster-recovery report logic for playbooks/dr.yml and the backup_schedule role.

Filters (documented in the ``<filter>.yml`` files next to this one):

* ``dr_assess(measurements, targets)``: RTO/RPO per component against the targets, pass/fail/not measured;
* ``dr_markdown(report)``: the report as Markdown (a table per component);
* ``dr_elapsed(start, end)``: seconds between two ISO 8601 timestamps (or epoch seconds);
* ``dr_missing(present, expected)``: resources with fewer objects present than expected (the proof of a recovery);
* ``dr_restored_counts(restore)``: objects a restore applied per resource (from its stages);
* ``dr_db_unproven(imported, archived)``: databases of an archive an import did not bring back with every table;
* ``cron_problem(expr)``: why a cron schedule is invalid, empty when it is valid (the adhar config validator's rules).
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.adhar.platform.plugins.module_utils._common.times import parse_time
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import cron_problem as _cron_problem

# The guide's "RTO/RPO Targets" table (docs/disaster-recovery.md), in seconds.
DEFAULT_TARGETS = {
    "Platform Services": {"rto_seconds": 3600, "rpo_seconds": 86400},
    "Applications": {"rto_seconds": 1800, "rpo_seconds": 14400},
    "Databases": {"rto_seconds": 7200, "rpo_seconds": 3600},
    "Persistent Volumes": {"rto_seconds": 3600, "rpo_seconds": 86400},
}
COMPONENT_ORDER = tuple(DEFAULT_TARGETS)
METRICS = (("rto", "RTO"), ("rpo", "RPO"))


def _number(value, what):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise AnsibleFilterError("dr_assess: %s must be a number of seconds, got %r" % (what, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("dr_assess: %s must be a number of seconds, got %r" % (what, value))
    if number < 0:
        raise AnsibleFilterError("dr_assess: %s must not be negative, got %r" % (what, value))
    return number


def _components(measurements, targets):
    names = [c for c in COMPONENT_ORDER if c in targets or c in measurements]
    return names + sorted(c for c in set(targets) | set(measurements) if c not in names)


def dr_assess(measurements, targets=None):
    """Compare measured RTO/RPO (seconds) per component with the targets.

    ``measurements``: ``{component: {"rto_seconds": float|None, "rpo_seconds": float|None}}``; a component that is
    absent, or a metric that is None, is "not measured". ``targets``: the same shape (default: the guide's table).
    A measurement passes when it is strictly below its target (the guide says "< 1 hour").

    The overall ``verdict`` is ``fail`` when any measured metric misses its target, else ``partial`` when any metric
    was not measured (``unmeasured`` names them), else ``pass``; ``passed`` is ``verdict == "pass"``.
    """
    if targets is None:
        targets = DEFAULT_TARGETS
    if not isinstance(measurements, dict) or not isinstance(targets, dict):
        raise AnsibleFilterError("dr_assess: measurements and targets must be dicts keyed by component, got %s and %s"
                                 % (type(measurements).__name__, type(targets).__name__))
    components, failed, measured, not_measured, unmeasured = [], [], [], [], []
    for name in _components(measurements, targets):
        got = measurements.get(name) or {}
        want = targets.get(name) or {}
        if not isinstance(got, dict) or not isinstance(want, dict):
            raise AnsibleFilterError("dr_assess: the entry of component %r must be a dict with rto_seconds/rpo_seconds" % name)
        row = {"component": name}
        results = []
        for key, label in METRICS:
            value = _number(got.get(key + "_seconds"), "%s of %s" % (label, name))
            target = _number(want.get(key + "_seconds"), "the %s target of %s" % (label, name))
            if value is None:
                status = "not measured"
            elif target is None:
                status = "no target"
            else:
                status = "pass" if value < target else "fail"
            row[key] = {"seconds": value, "target_seconds": target, "status": status}
            results.append(status)
        # a metric counts as missing when it has a target (nobody asked for one without)
        missing = [label for key, label in METRICS
                   if row[key]["status"] == "not measured" and row[key]["target_seconds"] is not None]
        if "fail" in results:
            row["status"] = "fail"
            failed.append(name)
        elif results.count("not measured") == len(results):
            row["status"] = "not measured"
        elif missing:
            row["status"] = "partial"
        else:
            row["status"] = "pass"
        if missing:
            targeted = [key for key, dummy in METRICS if row[key]["target_seconds"] is not None]
            unmeasured.append(name if len(missing) == len(targeted) else "%s %s" % (name, " and ".join(missing)))
        (not_measured if row["status"] == "not measured" else measured).append(name)
        components.append(row)
    verdict = "fail" if failed else "partial" if unmeasured else "pass"
    return {"components": components, "verdict": verdict, "passed": verdict == "pass", "failed": failed,
            "measured": measured, "not_measured": not_measured, "unmeasured": unmeasured}


def _duration(seconds):
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return "%.1f s" % seconds
    if seconds < 3600:
        return "%d min %02d s" % divmod(int(round(seconds)), 60)
    hours, rest = divmod(int(round(seconds)), 3600)
    return "%d h %02d min" % (hours, rest // 60)


def _target(seconds):
    if seconds is None:
        return "-"
    seconds = float(seconds)
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return "< %d %s%s" % (n, unit, "" if n == 1 else "s")
    return "< %s" % _duration(seconds)


def _cell(metric):
    status = metric.get("status")
    if status == "not measured":
        return "not measured"
    mark = {"pass": "PASS", "fail": "FAIL"}.get(status, status)
    return "%s (%s)" % (_duration(metric.get("seconds")), mark)


def _verdict(assessment):
    """The report's **Result** line: PASS, PARTIAL (what was not measured) or FAIL (what missed its target)."""
    verdict = assessment.get("verdict")
    if verdict is None:  # an assessment without a verdict: work it out the same way
        verdict = "fail" if assessment.get("failed") else "partial" if assessment.get("unmeasured") else "pass"
    if verdict == "fail":
        return "FAIL (%s)" % ", ".join(assessment.get("failed") or [])
    if verdict == "partial":
        return "PARTIAL (not measured: %s)" % ", ".join(assessment.get("unmeasured") or [])
    return "PASS"


def dr_markdown(report):
    """``report`` as Markdown: a header (cluster, action, backup, times, details) and the per-component table."""
    if not isinstance(report, dict) or not isinstance(report.get("assessment"), dict):
        raise AnsibleFilterError("dr_markdown: expects a report dict with an 'assessment' (the output of dr_assess)")
    assessment = report["assessment"]
    lines = ["# Disaster-recovery report: %s, %s" % (report.get("cluster", "?"), report.get("action", "?")), ""]
    for key, label in (("backup", "Backup"), ("backup_started", "Backup started (newest captured data)"),
                       ("failure_time", "Failure time (RPO reference)"), ("recovery_started", "Recovery started"),
                       ("recovery_finished", "Recovery finished (proven: healthy, objects present)"),
                       ("target_cluster", "Target cluster"), ("method", "Method"), ("db_archive", "Database archive"),
                       ("db_started", "Database dump started"),
                       ("db_imported", "Databases imported (proven: every table back)"), ("check_mode", "Check mode")):
        if report.get(key) not in (None, ""):
            lines.append("- **%s**: %s" % (label, report[key]))
    overall = _verdict(assessment)
    lines += ["- **Result**: %s" % overall, "",
              "| Component | RTO (recovery time) | RTO target | RPO (data loss) | RPO target | Status |",
              "|---|---|---|---|---|---|"]
    for row in assessment.get("components") or []:
        rto, rpo = row.get("rto") or {}, row.get("rpo") or {}
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            row.get("component"), _cell(rto), _target(rto.get("target_seconds")), _cell(rpo),
            _target(rpo.get("target_seconds")), row.get("status", "").upper() if row.get("status") in ("pass", "fail")
            else row.get("status", "")))
    details = report.get("details") or {}
    if details:
        lines += ["", "## Details", ""]
        for key in sorted(details):
            value = details[key]
            if isinstance(value, dict):
                value = ", ".join("%s=%s" % (k, value[k]) for k in sorted(value)) or "-"
            elif isinstance(value, list):
                value = ", ".join(str(v) for v in value) or "-"
            lines.append("- %s: %s" % (key, value))
    notes = report.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + ["- %s" % n for n in notes]
    return "\n".join(lines) + "\n"


def _instant(value, what):
    if isinstance(value, bool):
        raise AnsibleFilterError("dr_elapsed: %s %r is not a time" % (what, value))
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, datetime.datetime) and not str(value or "").strip():
        raise AnsibleFilterError("dr_elapsed: %s is empty" % what)
    try:
        moment = parse_time(value if isinstance(value, datetime.datetime) else str(value))  # naive times are UTC
    except ValueError:
        raise AnsibleFilterError("dr_elapsed: %s %r is not an ISO 8601 time (2026-06-01T02:00:00Z)" % (what, value))
    return moment.timestamp()


def dr_elapsed(start, end):
    """Seconds from ``start`` to ``end`` (ISO 8601 strings, datetimes or epoch seconds; naive times are UTC)."""
    return round(_instant(end, "end") - _instant(start, "start"), 3)


def _counts(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError("dr_missing: %s must be a dict of object counts per resource, got %s" % (what, type(value).__name__))
    out = {}
    for resource, count in value.items():
        try:
            out[str(resource)] = int(count)
        except (TypeError, ValueError):
            raise AnsibleFilterError("dr_missing: %s[%r] must be a whole number, got %r" % (what, resource, count))
    return out


def dr_missing(present, expected, ignore=None):
    """Resources of ``expected`` with fewer objects in ``present`` (counts per resource), sorted by resource.

    Each entry: ``{"resource", "expected", "present", "missing"}``. Resources in ``ignore`` are not compared.
    """
    have, want = _counts(present, "present"), _counts(expected, "expected")
    skip = set(ignore or ())
    return [{"resource": r, "expected": want[r], "present": have.get(r, 0), "missing": want[r] - have.get(r, 0)}
            for r in sorted(want) if r not in skip and have.get(r, 0) < want[r]]


RESTORED_ACTIONS = ("created", "updated", "unchanged", "recreated")


def dr_restored_counts(restore):
    """``{resource: objects created, updated, unchanged or recreated}`` from the ``restore`` module's ``restore`` result."""
    if not isinstance(restore, dict) or not isinstance(restore.get("stages"), list):
        raise AnsibleFilterError("dr_restored_counts: expects the 'restore' result of adhar.platform.restore (with 'stages')")
    out = {}
    for stage in restore["stages"]:
        per = stage.get("resource_counts")  # one stage per tier: the counts of each of its resources
        if not isinstance(per, dict):
            per = {stage.get("name"): stage.get("counts") or {}}
        for name, counts in per.items():
            ok = sum(int((counts or {}).get(action) or 0) for action in RESTORED_ACTIONS)
            if ok:
                out[name] = out.get(name, 0) + ok
    return out


def dr_db_unproven(imported, archived):
    """Databases of a ``db`` archive that an import did not prove restored, sorted by source name.

    ``imported``: the ``db`` result of ``adhar.platform.db`` with ``operation: import``; ``archived``: the archive's
    ``metadata.db.databases`` (``{name: {"tables": n, ...}}``). A database is proven when it was imported
    (``create``/``replace``) with as many tables as it had when dumped, or left alone on purpose (``skip``: it existed).
    Each entry: ``{"source", "target", "action", "expected_tables", "tables", "problem"}``.
    """
    if not isinstance(imported, dict) or not isinstance(imported.get("databases"), list):
        raise AnsibleFilterError("dr_db_unproven: expects the 'db' result of adhar.platform.db operation=import (with 'databases')")
    if not isinstance(archived, dict):
        raise AnsibleFilterError("dr_db_unproven: expects the archive's metadata.db.databases dict, got %s" % type(archived).__name__)
    done = {d.get("source"): d for d in imported["databases"] if isinstance(d, dict)}
    out = []
    for source in sorted(archived):
        expected = (archived[source] or {}).get("tables")
        entry = done.get(source)
        row = {"source": source, "target": (entry or {}).get("target"), "action": (entry or {}).get("action"),
               "expected_tables": expected, "tables": (entry or {}).get("tables")}
        if entry is None:
            row["problem"] = "not imported"
        elif entry.get("action") == "skip":
            continue
        elif expected is not None and row["tables"] != expected:
            row["problem"] = "%s tables imported, %s dumped" % (row["tables"], expected)
        else:
            continue
        out.append(row)
    return out


def cron_problem(expr):
    """Why ``expr`` is not a valid cron schedule, or an empty string when it is valid."""
    if not isinstance(expr, str) or not expr.strip():
        return "the schedule %r is empty or not a string" % (expr,)
    return _cron_problem(expr) or ""


class FilterModule:
    def filters(self):
        return {"dr_assess": dr_assess, "dr_markdown": dr_markdown, "dr_elapsed": dr_elapsed, "dr_missing": dr_missing,
                "dr_restored_counts": dr_restored_counts, "dr_db_unproven": dr_db_unproven,
                "cron_problem": cron_problem}
