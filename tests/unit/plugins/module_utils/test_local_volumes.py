# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local volumes: the pool of static PVs and its StorageClass, and the restore's planning (in-process fakes)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._cluster import local_volumes as lv
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import Item
from ansible_collections.adhar.platform.plugins.module_utils._dr.volume_data import VolumeRestore, backed_up_volumes


class NotFound(Exception):
    status = 404


class FakeApi:
    def __init__(self, objects=None, pvs=(), nodes=("kwok-node-0", "kwok-node-1"), dry_run=False):
        self.objects = dict(objects or {})
        self.pvs = list(pvs)
        self.nodes = nodes
        self.dry_run = dry_run
        self.writes = []

    def raw(self, method, path, query=None, body=None, **kwargs):
        if method in ("POST", "PATCH"):
            self.writes.append((method, path, query, body))
            return 201, body
        if path == lv.PV_PATH:
            return 200, {"items": self.pvs}
        if path == "/api/v1/nodes":
            return 200, {"items": [{"metadata": {"name": n}} for n in self.nodes]}
        if path not in self.objects:
            raise NotFound()
        return 200, self.objects[path]


def test_pool_creates_the_class_and_the_missing_volumes(tmp_path):
    root = str(tmp_path / "volumes")
    taken = lv.pv_body("adhar-pv-0000", root, "kwok-node-0")
    taken["status"] = {"phase": "Bound"}
    taken["spec"]["claimRef"] = {"namespace": "a", "name": "b"}
    api = FakeApi(pvs=[taken])
    out = lv.ensure_pool(api, root, 2)
    assert out == {"storage_class": True, "created": ["adhar-pv-0001", "adhar-pv-0002"], "available": 2}
    sc = api.writes[0][3]
    assert sc["provisioner"] == lv.NO_PROVISIONER and sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["annotations"][lv.ROOT_ANNOTATION] == root
    pv = api.writes[1][3]
    assert pv["spec"]["local"]["path"] == os.path.join(root, "adhar-pv-0001") and os.path.isdir(pv["spec"]["local"]["path"])
    assert lv.pv_node(pv) == "kwok-node-1" and lv.pv_node(api.writes[2][3]) == "kwok-node-0"  # round robin
    assert lv.local_path(pv, root) == pv["spec"]["local"]["path"]
    assert lv.local_path(pv, str(tmp_path / "elsewhere")) is None


def test_pool_in_dry_run_makes_nothing_and_a_foreign_class_is_refused(tmp_path):
    root = str(tmp_path / "volumes")
    api = FakeApi(dry_run=True)
    lv.ensure_pool(api, root, 1)
    assert not os.path.exists(root) and all(w[2] == {"dryRun": "All"} for w in api.writes)
    foreign = {"metadata": {"name": lv.STORAGE_CLASS, "annotations": {lv.ROOT_ANNOTATION: "/other"}}}
    with pytest.raises(AdharError, match="made by something else"):
        lv.ensure_pool(FakeApi({"%s/%s" % (lv.SC_PATH, lv.STORAGE_CLASS): foreign}), root, 1)
    ours = dict(foreign, metadata=dict(foreign["metadata"], labels={lv.VOLUME_LABEL: "true"}))
    api = FakeApi({"%s/%s" % (lv.SC_PATH, lv.STORAGE_CLASS): ours})
    assert lv.ensure_storage_class(api, root) is True and api.writes[0][0] == "PATCH"  # from another cluster's etcd
    with pytest.raises(AdharError, match="at least one node"):
        lv.ensure_pool(FakeApi(nodes=()), root, 1)


class FakeReader:
    name = "b1"

    def __init__(self, manifest):
        self.manifest = manifest


def test_restore_plan_skips_the_source_pvs_and_needs_local_volumes():
    manifest = {"metadata": {"volumes": {"captured": [
        {"namespace": "shop", "pvc": "data", "pv": "adhar-pv-0003", "item": "volumes/shop/data.tar.enc"}]}}}
    assert list(backed_up_volumes(manifest)) == [("shop", "data")]
    assert backed_up_volumes({"metadata": {}}) == {}  # backups without a volume section
    items = [Item("persistentvolumeclaims", "shop", "data", {"spec": {}}),
             Item("persistentvolumes", None, "adhar-pv-0003", {"spec": {}}),
             Item("persistentvolumes", None, "other", {"spec": {}})]
    engine = VolumeRestore(FakeReader(manifest), FakeApi())
    assert [e["pvc"] for dummy, e in engine.plan(items)] == ["data"]
    assert items[1].action == "skipped" and items[2].action is None
    with pytest.raises(AdharError, match="no local volumes"):
        engine.check()  # the target has no StorageClass adhar-local
