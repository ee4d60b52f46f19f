# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CSI VolumeSnapshots: class per driver, request bodies, waiting (a fake watch), restore with a dataSource.

No CSI driver or snapshot controller runs here: these are in-process fakes of what the API server answers.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._dr import csi_snapshots as cs
from ansible_collections.adhar.platform.plugins.module_utils._k8s import wait as k8s_wait
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import create_snapshots
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Resource
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import Item, use_snapshot_sources

VS = Resource("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", True, ("list", "create", "watch"))


def _class(name, driver, default=False):
    meta = {"name": name}
    if default:
        meta["annotations"] = {cs.DEFAULT_CLASS_ANNOTATION: "true"}
    return {"metadata": meta, "driver": driver}


CLASSES = [_class("ebs-default", "ebs.csi.aws.com", True), _class("ebs-slow", "ebs.csi.aws.com"),
           _class("gce", "pd.csi.storage.gke.io"), _class("x1", "two.csi"), _class("x2", "two.csi")]


def test_class_for_driver():
    assert cs.class_for_driver(CLASSES, "ebs.csi.aws.com") == ("ebs-default", None)
    assert cs.class_for_driver(CLASSES, "ebs.csi.aws.com", explicit="ebs-slow") == ("ebs-slow", None)
    assert cs.class_for_driver(CLASSES, "pd.csi.storage.gke.io") == ("gce", None)  # the only one of its driver
    name, why = cs.class_for_driver(CLASSES, "ebs.csi.aws.com", explicit="gce")
    assert name is None and "not of the PVC's CSI driver ebs.csi.aws.com" in why
    name, why = cs.class_for_driver(CLASSES, "nfs.csi")
    assert name is None and "no VolumeSnapshotClass for the CSI driver nfs.csi" in why
    name, why = cs.class_for_driver(CLASSES, "two.csi")
    assert name is None and "give volume_snapshot_class" in why
    assert cs.class_for_driver(CLASSES, None, fallback="ebs-default") == ("ebs-default", None)


def test_pvc_driver_from_pv_or_storage_class():
    objs = {"/api/v1/persistentvolumes/pv-csi": {"spec": {"csi": {"driver": "ebs.csi.aws.com"}}},
            "/api/v1/persistentvolumes/pv-local": {"spec": {"local": {"path": "/x"}}},
            "/apis/storage.k8s.io/v1/storageclasses/gp3": {"provisioner": "ebs.csi.aws.com"}}
    get = objs.get
    assert cs.pvc_driver(get, {"volume": "pv-csi"}) == "ebs.csi.aws.com"
    assert cs.pvc_driver(get, {"volume": "pv-local", "storage_class": "gp3"}) is None
    assert cs.pvc_driver(get, {"volume": None, "storage_class": "gp3"}) == "ebs.csi.aws.com"
    assert cs.pvc_driver(get, {"volume": None}) is None


def test_snapshot_body_and_names():
    body = cs.snapshot_body(VS, "prod-1", {"namespace": "db", "name": "data"}, "ebs-default")
    assert body["apiVersion"] == "snapshot.storage.k8s.io/v1" and body["kind"] == "VolumeSnapshot"
    assert body["metadata"]["namespace"] == "db" and body["metadata"]["name"] == cs.snapshot_name("prod-1", "data")
    assert body["metadata"]["labels"] == {cs.BACKUP_LABEL: "prod-1", cs.PVC_LABEL: "data"}
    assert body["spec"] == {"volumeSnapshotClassName": "ebs-default", "source": {"persistentVolumeClaimName": "data"}}
    assert len(cs.snapshot_name("b", "p" * 300)) <= 253


def test_snapshot_states():
    assert cs.snapshot_state({"status": {"readyToUse": True, "boundVolumeSnapshotContentName": "c"}})[0] == k8s_wait.READY
    assert cs.snapshot_state({"status": {"error": {"message": "quota"}}}) == (k8s_wait.FAILED, "snapshot failed: quota")
    assert cs.snapshot_state({"status": {"readyToUse": False}})[0] == k8s_wait.PENDING


class FakeStreamClient:
    """Answers the LIST and the WATCH that ``k8s_wait`` sends for VolumeSnapshots (an in-process fake of the API)."""

    def __init__(self, events):
        self.events = events
        self.requests = []

    def raw(self, method, path, query=None, **kwargs):
        self.requests.append((method, path, dict(query or {})))
        return 200, {"metadata": {"resourceVersion": "1"}, "items": []}

    def call(self, fn, *args, **kwargs):
        self.requests.append(("WATCH", args[1], dict(args[2])))
        return fn(*args, **kwargs)


def test_wait_snapshots_updates_states_from_the_waiter():
    snapshots = [{"namespace": "db", "name": "a", "state": "pending"}, {"namespace": "db", "name": "b", "state": "pending"},
                 {"namespace": "db", "name": "c", "state": "skipped"}]
    seen = {}

    def waiter(client, targets, timeout):
        seen["timeout"] = timeout
        seen["targets"] = [(t.resource.plural, t.namespace, t.name) for t in targets]
        # what the watch delivers: a becomes ready, b stays pending
        for target, obj in zip(targets, [{"status": {"readyToUse": True}}, {"status": {}}]):
            target.state, target.message = target.rule(obj)
        return 1.5

    assert cs.wait_snapshots(None, VS, snapshots, 30, waiter=waiter) == 1.5
    assert seen == {"timeout": 30, "targets": [("volumesnapshots", "db", "a"), ("volumesnapshots", "db", "b")]}
    assert snapshots[0]["state"] == "ready" and snapshots[0]["ready_to_use"] is True
    assert snapshots[1]["state"] == "pending" and "still pending after 30s" in snapshots[1]["message"]
    assert snapshots[2]["state"] == "skipped"
    assert cs.wait_snapshots(None, VS, snapshots, 0, waiter=waiter) == 0.0  # 0: no wait


def test_wait_snapshots_with_the_real_waiter_and_a_fake_watch(monkeypatch):
    """k8s_wait.wait_for with its LIST answered by a fake and its watch stream a list of events."""
    lines = [b'{"type": "MODIFIED", "object": {"metadata": {"name": "a", "namespace": "db", "resourceVersion": "2"}, '
             b'"status": {"readyToUse": true, "boundVolumeSnapshotContentName": "snapcontent-1"}}}\n']

    class Response:
        status = 200

        def __init__(self):
            self.data = iter(lines)

        def stream(self, *args, **kwargs):
            return self.data

        def read_chunked(self, *args, **kwargs):
            return self.data

        def release_conn(self):
            pass

        def close(self):
            pass

        def shutdown(self):
            pass

    monkeypatch.setattr(k8s_wait, "open_stream", lambda *args, **kwargs: Response())
    client = FakeStreamClient([])
    client.api_client = object()
    client.request_timeout = 5
    snapshots = [{"namespace": "db", "name": "a", "state": "pending"}]
    cs.wait_snapshots(client, VS, snapshots, 5)
    assert snapshots[0]["state"] == "ready", snapshots
    watches = [r for r in client.requests if r[0] == "WATCH"]
    assert watches and watches[0][1] == "/apis/snapshot.storage.k8s.io/v1/namespaces/db/volumesnapshots"
    assert watches[0][2]["watch"] == "1" and int(watches[0][2]["timeoutSeconds"]) <= 5  # bounded


class SnapshotClient:
    """A fake API server for create_snapshots: classes, PVs, StorageClasses, VolumeSnapshot POST and GET."""

    def __init__(self):
        self.posted = []
        self.objects = {
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses": {"items": CLASSES},
            "/api/v1/persistentvolumes/pv-ebs": {"spec": {"csi": {"driver": "ebs.csi.aws.com"}}},
            "/api/v1/persistentvolumes/pv-nfs": {"spec": {"csi": {"driver": "nfs.csi"}}},
        }

    def raw(self, method, path, query=None, body=None, **kwargs):
        if method == "POST":
            self.posted.append(body)
            created = dict(body, status={"readyToUse": False})
            self.objects["%s/%s" % (path, body["metadata"]["name"])] = created
            return 201, created
        if path not in self.objects:
            exc = Exception("404")
            exc.status = 404
            raise exc
        return 200, self.objects[path]


class Writer:
    def __init__(self):
        self.added = []

    def add_resource(self, obj, plural, group):
        self.added.append((plural, obj["metadata"]["name"]))


def test_create_snapshots_picks_the_class_of_each_driver(monkeypatch):
    client = SnapshotClient()
    writer = Writer()

    def waiter(client_, targets, timeout):
        for target in targets:
            path = VS.path(namespace=target.namespace, name=target.name)
            client.objects[path] = dict(client.objects[path], status={"readyToUse": True})
            target.state, target.message = target.rule(client.objects[path])
        return 0.1

    monkeypatch.setattr(cs, "wait_for", waiter)
    pvcs = [{"namespace": "db", "name": "data", "volume": "pv-ebs"}, {"namespace": "db", "name": "files", "volume": "pv-nfs"}]
    out = create_snapshots(client, writer, VS, "ebs-default", "prod-1", pvcs, timeout=10)
    by_pvc = {s["pvc"]: s for s in out}
    assert by_pvc["data"]["class"] == "ebs-default" and by_pvc["data"]["state"] == "ready"
    assert by_pvc["files"]["state"] == "skipped" and "nfs.csi" in by_pvc["files"]["message"]
    assert [b["spec"]["source"]["persistentVolumeClaimName"] for b in client.posted] == ["data"]
    assert writer.added == [("volumesnapshots", cs.snapshot_name("prod-1", "data"))]


def test_restore_uses_a_ready_snapshot_as_data_source():
    manifest = {"metadata": {"volume_snapshots": {"snapshots": [
        {"namespace": "db", "pvc": "data", "name": "data-1234", "state": "ready"},
        {"namespace": "db", "pvc": "logs", "name": "logs-1234", "state": "pending"}]}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "db"},
           "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-old"}}
    items = [Item("persistentvolumeclaims", "db", "data", pvc),
             Item("persistentvolumeclaims", "db", "logs", dict(pvc, metadata={"name": "logs", "namespace": "db"}))]
    assert use_snapshot_sources(items, manifest) == 1
    spec = items[0].obj["spec"]
    source = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "data-1234"}
    assert spec["dataSource"] == source and spec["dataSourceRef"] == source and "volumeName" not in spec
    assert "dataSource" not in items[1].obj["spec"]
    assert pvc["spec"]["volumeName"] == "pv-old"  # the original is not changed
