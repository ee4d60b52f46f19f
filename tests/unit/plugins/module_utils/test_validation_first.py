# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-option rules of backup, restore and apply fail before any connection or write."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import run_apply
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import run_backup
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import run_restore


class NoWorkModule:
    """A module whose every way to do work fails the test."""

    check_mode = False
    diff_mode = False

    def __init__(self, **params):
        self.params = params

    def require_k8s(self, *args, **kwargs):
        raise AssertionError("got as far as the Kubernetes client")

    def warn(self, msg):
        raise AssertionError("warned: %s" % msg)


def test_backup_volume_snapshot_class_with_snapshots_never(tmp_path):
    module = NoWorkModule(volume_snapshots="never", volume_snapshot_class="csi", workers=8, page_size=500, lock_ttl=3600,
                          storage={"path": str(tmp_path / "b")}, cluster="c")
    with pytest.raises(AdharError, match="volume_snapshot_class is given but volume_snapshots is never"):
        run_backup(module)
    assert not (tmp_path / "b").exists()


def test_backup_out_of_bounds_without_the_module_wrapper(tmp_path):
    module = NoWorkModule(volume_snapshots="auto", workers=0, page_size=500, lock_ttl=3600,
                          storage={"path": str(tmp_path / "b")}, cluster="c")
    with pytest.raises(AdharError, match="^workers must be at least 1, got 0$"):
        run_backup(module)


def test_backup_decoder_processes_out_of_bounds(tmp_path):
    module = NoWorkModule(volume_snapshots="auto", workers=8, page_size=500, lock_ttl=3600, decoder_processes=17,
                          storage={"path": str(tmp_path / "b")}, cluster="c")
    with pytest.raises(AdharError, match="^decoder_processes must be at most 16, got 17$"):
        run_backup(module)
    assert not (tmp_path / "b").exists()


def test_restore_app_without_label_keys(tmp_path):
    module = NoWorkModule(backup="b1", app="shop", app_label_keys=[], workers=16, crd_timeout=60, wait_timeout=300,
                          storage={"path": str(tmp_path)})
    with pytest.raises(AdharError, match="app_label_keys is empty: app shop needs at least one label key"):
        run_restore(module)


def test_restore_negative_wait_timeout_without_the_module_wrapper(tmp_path):
    module = NoWorkModule(backup="b1", workers=16, crd_timeout=60, wait_timeout=-5.0, storage={"path": str(tmp_path)})
    with pytest.raises(AdharError, match="^wait_timeout must be greater than 0, got -5$"):
        run_restore(module)


def test_restore_storage_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    module = NoWorkModule(backup="b1", workers=16, crd_timeout=60, wait_timeout=300, report_items="changed",
                          storage={"path": str(tmp_path / "file")})
    module.require_k8s = lambda *a, **k: None
    with pytest.raises(AdharError) as info:
        run_restore(module)
    assert info.value.msg == "storage path %s is not a directory" % (tmp_path / "file")


def test_apply_wait_condition_without_wait():
    module = NoWorkModule(definitions=[], wait=False, wait_condition={"type": "Ready"})
    with pytest.raises(AdharError, match="wait_condition applies with wait: true"):
        run_apply(module)
