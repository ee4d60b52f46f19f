# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recovery from an etcd snapshot: option checks, spec merging, fetching and verifying the snapshot, member restore."""
from __future__ import annotations

import importlib.util
import os
import types

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import capture_etcd
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import recover, runtime
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import given_fields, normalize
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage

_spec = importlib.util.spec_from_file_location(
    "adhar_test_etcd_snapshot", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "test_etcd_snapshot.py"))
etcd_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(etcd_tests)
needs_etcd = etcd_tests.needs_etcd

SOURCE_SPEC = {"control_plane_count": 3, "kubernetes_version": "v1.36.3", "pod_cidr": "10.200.0.0/16",
               "service_cidr": "10.100.0.0/16", "cluster_id": 7, "nodes_count": 4,
               "encryption_at_rest": {"provider": "secretbox", "resources": ["secrets"]}}


def _plan(source_spec=None, enc=None):
    return recover.Plan("bk", "/nonexistent", {"revision": 5, "total_keys": 9, "hash": 1, "total_size": 2},
                        {"cluster": "src", "members": 3, "spec": source_spec or {}}, enc, None, "etcdutl", 0.5)


def _module(**params):
    base = {"provider": "local", "state": "present", "restore_from": None}
    base.update(params)
    return types.SimpleNamespace(params=base, no_log_values=set())


# ----------------------------------------------------------------------------- options and spec

def test_check_options():
    recover.check_options(_module())
    with pytest.raises(AdharError, match="only provider local"):
        recover.check_options(_module(provider="existing", restore_from={"storage": "/x"}))
    with pytest.raises(AdharError, match="state present or started, not absent"):
        recover.check_options(_module(state="absent", restore_from={"storage": "/x"}))
    m = _module(restore_from={"storage": {"bucket": "b", "aws_access_key_id": "AK", "aws_secret_access_key": "SECRET"}})
    recover.check_options(m)
    assert m.no_log_values == {"SECRET"}


def test_spec_from_source_when_not_given():
    params = {"name": "rec"}
    spec = recover.merge_source_spec(normalize(params, "v1.36.3"), given_fields(params), _plan(SOURCE_SPEC))
    for key in ("pod_cidr", "service_cidr", "encryption_at_rest", "cluster_id", "nodes_count", "control_plane_count"):
        assert spec[key] == SOURCE_SPEC[key]
    assert spec["name"] == "rec"


def test_counts_given_win_and_network_conflicts_are_refused():
    params = {"name": "rec", "nodes": {"count": 1}, "control_plane": {"count": 1}, "pod_cidr": "10.200.0.0/16"}
    spec = recover.merge_source_spec(normalize(params, "v1.36.3"), given_fields(params), _plan(SOURCE_SPEC))
    assert (spec["nodes_count"], spec["control_plane_count"]) == (1, 1)
    params = {"name": "rec", "service_cidr": "10.96.0.0/16"}
    with pytest.raises(AdharError, match="service_cidr: '10.96.0.0/16' differs from the source"):
        recover.merge_source_spec(normalize(params, "v1.36.3"), given_fields(params), _plan(SOURCE_SPEC))
    params = {"name": "rec", "encryption_at_rest": {"enabled": False}}
    with pytest.raises(AdharError, match="encryption_at_rest"):
        recover.merge_source_spec(normalize(params, "v1.36.3"), given_fields(params), _plan(SOURCE_SPEC))


def test_older_release_is_refused():
    params = {"name": "rec"}
    with pytest.raises(AdharError, match="older than the source"):
        recover.merge_source_spec(normalize(params, "v1.35.0"), given_fields(params),
                                  _plan(dict(SOURCE_SPEC, kubernetes_version="v1.36.3")))


def test_in_place_checks(tmp_path):
    cluster = runtime.Cluster(st.Layout(str(tmp_path), "c"), {"spec": dict(SOURCE_SPEC, encryption_at_rest=None)})
    with pytest.raises(AdharError, match="source encrypted Secrets at rest"):
        recover.check_in_place(cluster, _plan(dict(SOURCE_SPEC, encryption_at_rest=None), enc=b"x"))
    with pytest.raises(AdharError, match="its pod_cidr 10.0.0.0/16 differs"):
        recover.check_in_place(cluster, _plan(dict(SOURCE_SPEC, pod_cidr="10.0.0.0/16")))
    recover.check_in_place(cluster, _plan(dict(SOURCE_SPEC, encryption_at_rest=None)))


# ----------------------------------------------------------------------------- fetching the snapshot

def test_storage_and_key_are_checked_first(tmp_path):
    with pytest.raises(AdharError, match="restore_from.storage"):
        recover.prepare({"storage": None}, "c")
    with pytest.raises(AdharError, match="a key is needed"):
        recover.prepare({"storage": str(tmp_path)}, "c")
    with pytest.raises(AdharError, match="unknown option"):
        recover.prepare({"storage": str(tmp_path), "encryption": {"passphrase": "x"}}, "c")


@needs_etcd
def test_missing_and_snapshotless_backups(tmp_path):
    key = generate_key()
    store = LocalStorage(str(tmp_path / "b"))
    opts = {"storage": {"path": str(tmp_path / "b")}, "encryption": {"key_file": _key_file(tmp_path, key)}}
    with pytest.raises(AdharError, match="backup nope does not exist"):
        recover.prepare(dict(opts, backup="nope"), "c")
    with pytest.raises(AdharError, match="no complete backup of cluster c with an etcd snapshot"):
        recover.prepare(opts, "c")
    writer = ArchiveWriter(store, "objects-only", cluster="c", key_wrapper=KeyWrapper(key))
    writer.add("resources/configmaps/namespaces/default/x.json", {"kind": "ConfigMap"})
    writer.commit()
    with pytest.raises(AdharError, match="has no etcd snapshot"):
        recover.prepare(dict(opts, backup="objects-only"), "c")
    with pytest.raises(AdharError, match="no complete backup of cluster c with an etcd snapshot"):
        recover.prepare(opts, "c")


def _key_file(tmp_path, key):
    path = tmp_path / "key"
    path.write_bytes(key)
    return str(path)


@pytest.fixture(scope="module")
def snapshot_backup(tmp_path_factory):
    """A backup store with two backups of cluster ``c`` holding a real etcd snapshot (the second one has more keys)."""
    if etcd_tests.MISSING:
        pytest.skip("etcd binaries missing")
    tmp = tmp_path_factory.mktemp("snapbackup")
    key = generate_key()
    store = LocalStorage(str(tmp / "b"))
    with etcd_tests.running_etcd(str(tmp)) as url:
        for name in ("c-20260101000000", "c-20260102000000"):
            writer = ArchiveWriter(store, name, cluster="c", key_wrapper=KeyWrapper(key))
            writer.metadata["etcd"] = capture_etcd(writer, {"endpoints": [url]})
            writer.commit()
            etcd_tests.subprocess.run([os.path.join(etcd_tests.BIN_DIR, "etcdctl"), "--endpoints=" + url, "put", "/t/more", "x"],
                                      capture_output=True, check=True)
    return {"store": str(tmp / "b"), "key_file": _key_file(tmp, key), "tmp": tmp}


def test_latest_is_fetched_verified_and_cleaned_up(snapshot_backup, tmp_path):
    opts = {"storage": "file://" + snapshot_backup["store"], "encryption": {"key_file": snapshot_backup["key_file"]}}
    plan = recover.prepare(opts, "c", workdir=str(tmp_path))
    try:
        assert plan.backup == "c-20260102000000"
        assert oct(os.stat(plan.snapshot).st_mode & 0o777) == "0o600"
        assert oct(os.stat(plan.scratch.path).st_mode & 0o777) == "0o700"
        assert os.path.dirname(plan.snapshot) == plan.scratch.path
        assert os.path.dirname(plan.scratch.path) == str(tmp_path / ".adhar-scratch")
        summary = plan.summary()
        assert summary["total_keys"] >= 21 and summary["backup"] == plan.backup and summary["source_cluster"] is None
    finally:
        plan.cleanup()
    assert os.listdir(str(tmp_path / ".adhar-scratch")) == []
    older = recover.prepare(dict(opts, backup="c-20260101000000"), "other", workdir=str(tmp_path))
    older.cleanup()
    assert older.status["revision"] < summary["revision"]


def test_corrupted_snapshot_leaves_nothing(snapshot_backup, tmp_path):
    import shutil
    store = str(tmp_path / "copy")
    shutil.copytree(snapshot_backup["store"], store)
    item = os.path.join(store, "c-20260102000000", "etcd", "snapshot.db.enc")
    data = bytearray(open(item, "rb").read())
    data[len(data) // 2] ^= 0x01
    with open(item, "wb") as f:
        f.write(bytes(data))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(AdharError, match="cannot be used .nothing was changed."):
        recover.prepare({"storage": store, "encryption": {"key_file": snapshot_backup["key_file"]}}, "c", workdir=str(work))
    assert os.listdir(str(work / ".adhar-scratch")) == []


# ----------------------------------------------------------------------------- restoring members

def _cluster(root, members=3):
    ports = {"members": [{"etcd_client": 30000 + 10 * i, "etcd_peer": 30001 + 10 * i, "apiserver": 30002 + 10 * i}
                         for i in range(members)]}
    data = {"spec": {"control_plane_count": members, "etcd_quota_bytes": 2 ** 30, "service_cidr": "10.96.0.0/16"},
            "ports": ports, "token": "tok",
            "bin_dir": etcd_tests.BIN_DIR}
    layout = st.Layout(str(root), "c")
    os.makedirs(layout.dir)
    return runtime.Cluster(layout, data)


def test_bootstrap_flags_are_those_etcd_starts_with(tmp_path):
    cluster = _cluster(tmp_path)
    boot = cluster.etcd_bootstrap(1)
    cmd = cluster.command("etcd-1")
    assert "--name=" + boot["name"] in cmd and "--initial-cluster-token=adhar-c-tok" in cmd
    assert "--initial-advertise-peer-urls=" + boot["peer_url"] in cmd and "--initial-cluster=" + boot["initial_cluster"] in cmd
    assert boot["initial_cluster"].count("=https://127.0.0.1:") == 3


def test_restore_swap_and_roll_back(snapshot_backup, tmp_path):
    cluster = _cluster(tmp_path / "state")
    plan = recover.prepare({"storage": snapshot_backup["store"], "encryption": {"key_file": snapshot_backup["key_file"]}}, "c")
    try:
        for i in range(3):  # the "old" data
            os.makedirs(cluster.layout.sub("data", "etcd-%d" % i, "old"))
        dirs = recover.restore_members(cluster, plan, suffix=".restore")
        assert all(os.path.isdir(os.path.join(d, "member", "snap")) for d in dirs)
        with pytest.raises(AdharError, match="already exists"):
            recover.restore_members(cluster, plan, suffix=".restore")
        recover.swap_data_dirs(cluster, ".restore", ".pre-restore")
        data = cluster.layout.sub("data")
        assert sorted(os.listdir(data)) == sorted(["etcd-%d" % i for i in range(3)] + ["etcd-%d.pre-restore" % i for i in range(3)])
        assert os.path.isdir(os.path.join(data, "etcd-0", "member"))
        recover.roll_back_data_dirs(cluster, ".pre-restore")
        assert sorted(os.listdir(data)) == ["etcd-0", "etcd-1", "etcd-2"]
        assert os.path.isdir(os.path.join(data, "etcd-0", "old"))
    finally:
        plan.cleanup()


def test_encryption_config_is_installed(tmp_path):
    cluster = _cluster(tmp_path)
    assert recover.install_encryption_config(cluster, _plan()) is None
    os.makedirs(cluster.layout.sub("config"))
    with open(cluster.layout.config("encryption-config.yaml"), "w") as f:
        f.write("old")
    assert recover.install_encryption_config(cluster, _plan(enc=b"new")) == b"old"
    path = cluster.layout.config("encryption-config.yaml")
    assert open(path, "rb").read() == b"new" and os.stat(path).st_mode & 0o777 == 0o600


def test_latest_matches_the_snapshots_source_cluster(snapshot_backup, tmp_path):
    from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader
    key = open(snapshot_backup["key_file"], "rb").read()
    snap = ArchiveReader(LocalStorage(snapshot_backup["store"]), "c-20260101000000", KeyWrapper(key)).read("etcd/snapshot.db")
    store = LocalStorage(str(tmp_path / "b"))
    # a backup module names the cluster after the kubeconfig context; the snapshot records the local cluster
    writer = ArchiveWriter(store, "adhar-x-1", cluster="adhar-x", key_wrapper=KeyWrapper(key),
                           metadata={"etcd": {"source_cluster": "x"}})
    writer.add("etcd/snapshot.db", snap, encrypt=True)
    writer.commit()
    opts = {"storage": str(tmp_path / "b"), "encryption": {"key_file": snapshot_backup["key_file"]}}
    plan = recover.prepare(dict(opts, source_cluster="x"), "new")
    plan.cleanup()
    assert plan.backup == "adhar-x-1"
    with pytest.raises(AdharError, match="no complete backup of cluster y"):
        recover.prepare(dict(opts, source_cluster="y"), "new")


def test_source_service_account_key_is_trusted_unless_it_is_our_own(tmp_path):
    cluster = _cluster(tmp_path)
    os.makedirs(cluster.layout.sub("pki"))
    with open(cluster.layout.pki("sa.pub"), "wb") as f:
        f.write(b"OWN KEY")
    plan = _plan()
    assert recover.install_service_account_key(cluster, plan) is False
    plan.sa_public_key = b"OWN KEY"
    assert recover.install_service_account_key(cluster, plan) is False and "extra_sa_public_keys" not in cluster.data
    plan.sa_public_key = b"SOURCE KEY"
    assert recover.install_service_account_key(cluster, plan) is True
    assert cluster.data["extra_sa_public_keys"] == ["sa-source.pub"]
    assert open(cluster.layout.pki("sa-source.pub"), "rb").read() == b"SOURCE KEY"
    assert "--service-account-key-file=" + cluster.layout.pki("sa-source.pub") in cluster.command("apiserver-0")
