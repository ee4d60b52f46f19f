# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import os
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import (
    ArchiveWriter,
    apply_retention,
    enforce_retention,
    list_backups,
    parse_duration,
    plan_retention,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import isotime

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


def ago(**kw):
    return isotime(NOW - datetime.timedelta(**kw))


def complete(name, cluster="prod", **age):
    return {"name": name, "cluster": cluster, "complete": True, "time": ago(**age)}


def incomplete(name, cluster="prod", **age):
    return {"name": name, "cluster": cluster, "complete": False, "time": None, "last_modified": ago(**age)}


def names(plan, what):
    return sorted(d["name"] for d in plan[what])


def reason(plan, name):
    return next(d["reason"] for d in plan["delete"] + plan["keep"] if d["name"] == name)


@pytest.mark.parametrize("value, seconds", [
    (30, 30 * 86400), ("30", 30 * 86400), ("30d", 30 * 86400), ("72h", 72 * 3600), ("4w", 28 * 86400),
    ("90m", 5400), ("45s", 45), (" 2 d ", 2 * 86400), (datetime.timedelta(hours=1), 3600), (None, None),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "1y", "-1d", "0", 0, "abc", True])
def test_parse_duration_errors(value):
    with pytest.raises(AdharError, match="max_age"):
        parse_duration(value)


def test_keep_last():
    backups = [complete("b%d" % i, days=10 - i) for i in range(5)]  # b4 newest
    plan = plan_retention(backups, keep_last=2, now=NOW)
    assert names(plan, "delete") == ["b0", "b1", "b2"]
    assert names(plan, "keep") == ["b3", "b4"]
    assert reason(plan, "b2") == "beyond keep_last=2 (number 3 from the newest)"
    assert "always kept" in reason(plan, "b4")


def test_max_age():
    backups = [complete("d1", days=1), complete("d5", days=5), complete("d10", days=10), complete("d20", days=20)]
    plan = plan_retention(backups, max_age="7d", now=NOW)
    assert names(plan, "delete") == ["d10", "d20"]
    assert "older than max_age (10.0 days old, limit 7.0 days)" == reason(plan, "d10")


def test_both_limits_apply():
    backups = [complete("b%d" % i, days=i) for i in range(1, 6)]
    plan = plan_retention(backups, keep_last=4, max_age="3d", now=NOW)
    assert names(plan, "keep") == ["b1", "b2", "b3"]
    assert names(plan, "delete") == ["b4", "b5"]


def test_the_last_complete_backup_is_never_deleted():
    backups = [complete("old", days=400), complete("older", days=500)]
    plan = plan_retention(backups, keep_last=1, max_age="1d", now=NOW)
    assert names(plan, "keep") == ["old"] and names(plan, "delete") == ["older"]
    plan = plan_retention([complete("only", days=1000)], keep_last=1, max_age="1h", now=NOW)
    assert plan["delete"] == [] and "always kept" in reason(plan, "only")


def test_an_incomplete_backup_does_not_count_as_the_last_complete():
    backups = [complete("good", days=30), incomplete("broken", days=2)]
    plan = plan_retention(backups, keep_last=1, max_age="7d", now=NOW)
    assert names(plan, "keep") == ["good"]
    assert names(plan, "delete") == ["broken"]


def test_young_incomplete_backups_are_kept():
    backups = [complete("good", days=1), incomplete("running", hours=1), incomplete("stale", hours=30)]
    plan = plan_retention(backups, keep_last=1, now=NOW)
    assert names(plan, "keep") == ["good", "running"]
    assert "may still be in progress (grace 24.0 hours)" in reason(plan, "running")
    assert names(plan, "delete") == ["stale"]
    assert "incomplete (no manifest), last written 30.0 hours ago" in reason(plan, "stale")
    plan = plan_retention(backups, keep_last=1, incomplete_grace="2d", now=NOW)
    assert "stale" in names(plan, "keep")
    plan = plan_retention(backups, keep_last=1, delete_incomplete=False, now=NOW)
    assert names(plan, "delete") == []


def test_incomplete_without_any_time_is_kept():
    plan = plan_retention([{"name": "x", "complete": False}], keep_last=1, now=NOW)
    assert names(plan, "keep") == ["x"]


def test_per_cluster():
    backups = [complete("p1", "prod", days=50), complete("p2", "prod", days=40),
               complete("s1", "staging", days=60)]
    plan = plan_retention(backups, keep_last=1, max_age="30d", now=NOW)
    assert names(plan, "keep") == ["p2", "s1"]
    assert names(plan, "delete") == ["p1"]


def test_protect_and_no_rules():
    backups = [complete("b%d" % i, days=i) for i in range(1, 4)]
    assert plan_retention(backups, now=NOW)["delete"] == []
    plan = plan_retention(backups, keep_last=1, protect=["b3"], now=NOW)
    assert names(plan, "delete") == ["b2"] and reason(plan, "b3") == "protected"


@pytest.mark.parametrize("keep_last", [0, -1, True])
def test_keep_last_must_be_positive(keep_last):
    with pytest.raises(AdharError, match="keep_last must be at least 1"):
        plan_retention([], keep_last=keep_last)


# -- applying -------------------------------------------------------------------------

def _backup(store, name, cluster="prod", commit=True, age_days=0):
    w = ArchiveWriter(store, name, cluster=cluster)
    w.add("resources/configmaps/namespaces/a/x.json", {"a": 1})
    if commit:
        w.commit()
    if age_days:
        old = time.time() - age_days * 86400
        for dirpath, dirnames, filenames in os.walk(os.path.join(store.root, name)):
            for f in filenames:
                os.utime(os.path.join(dirpath, f), (old, old))
    return w


def test_apply_deletes_the_manifest_first(tmp_path):
    store = LocalStorage(str(tmp_path))
    _backup(store, "b1")
    _backup(store, "b2")
    deleted = []
    real_delete = store.delete

    def failing_delete(keys):
        deleted.append(list(keys))
        if len(deleted) == 2:
            raise AdharError("storage went away")
        return real_delete(keys)

    store.delete = failing_delete
    result = apply_retention(store, {"delete": [{"name": "b1"}]})
    assert deleted[0] == ["b1/manifest.json"]
    assert result == {"deleted": [], "failed": [{"name": "b1", "error": "storage went away"}]}
    listed = {b["name"]: b["complete"] for b in list_backups(store)}
    assert listed == {"b1": False, "b2": True}  # half-deleted: never listed as complete


def test_apply_dry_run(tmp_path):
    store = LocalStorage(str(tmp_path))
    _backup(store, "b1")
    assert apply_retention(store, {"delete": [{"name": "b1"}]}, dry_run=True) == {"deleted": ["b1"], "failed": []}
    assert store.exists("b1/manifest.json")


def test_enforce_retention_end_to_end(tmp_path):
    store = LocalStorage(str(tmp_path))
    for i in range(4):
        _backup(store, "prod-%d" % i)
    _backup(store, "stage-0", cluster="staging")
    _backup(store, "prod-crashed", commit=False, age_days=3)
    _backup(store, "prod-running", commit=False, age_days=3)
    lock = store.lock("prod", backup="prod-running").acquire()
    result = enforce_retention(store, keep_last=2)
    assert sorted(result["deleted"]) == ["prod-0", "prod-1", "prod-crashed"]
    assert result["failed"] == []
    assert "a live lock names it" in reason(result, "prod-running")
    remaining = sorted(b["name"] for b in list_backups(store))
    assert remaining == ["prod-2", "prod-3", "prod-running", "stage-0"]
    assert not os.path.exists(os.path.join(store.root, "prod-0"))
    lock.release()
    # once its lock is gone the stale incomplete backup goes too; the newest complete one stays
    result = enforce_retention(store, keep_last=1, max_age="1s", now=datetime.datetime.now(datetime.timezone.utc)
                               + datetime.timedelta(days=1))
    assert sorted(result["deleted"]) == ["prod-2", "prod-running"]
    assert sorted(b["name"] for b in list_backups(store)) == ["prod-3", "stage-0"]
