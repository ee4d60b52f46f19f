# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd snapshots in backups and full recovery of local clusters from them (real processes, no mocks).

Order matters: the source cluster is backed up and destroyed once (module
fixture), then one recovered cluster is shared by the tests that follow.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as kclient, config as kconfig  # noqa: E402

SOURCE = "etcdsrc"
RECOVERED = "etcdrec"
NAMESPACES = ("dr-a", "dr-b")
PER_NAMESPACE = 5


def _mu(collections_path, name):
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    return importlib.import_module("ansible_collections.adhar.platform.plugins.module_utils." + name)


def _core(kubeconfig):
    return kclient.CoreV1Api(kconfig.new_client_from_config(config_file=kubeconfig))


def _objects(kubeconfig):
    """``{(kind, ns, name): data}`` of the test's ConfigMaps and Secrets."""
    core = _core(kubeconfig)
    out = {}
    for ns in NAMESPACES + ("dr-late",):
        try:
            cms = core.list_namespaced_config_map(ns, label_selector="dr-test=1").items
            secrets = core.list_namespaced_secret(ns, label_selector="dr-test=1").items
        except kclient.ApiException as e:
            if e.status == 404:
                continue
            raise
        for cm in cms:
            out[("cm", ns, cm.metadata.name)] = dict(cm.data or {})
        for s in secrets:
            out[("secret", ns, s.metadata.name)] = {k: base64.b64decode(v).decode() for k, v in (s.data or {}).items()}
    return out


def _seed(kubeconfig, namespaces, prefix="obj"):
    core = _core(kubeconfig)
    for ns in namespaces:
        core.create_namespace(kclient.V1Namespace(metadata=kclient.V1ObjectMeta(name=ns)))
        for i in range(PER_NAMESPACE):
            meta = kclient.V1ObjectMeta(name="%s-%d" % (prefix, i), labels={"dr-test": "1"})
            core.create_namespaced_config_map(ns, kclient.V1ConfigMap(metadata=meta, data={"n": str(i), "ns": ns}))
            core.create_namespaced_secret(ns, kclient.V1Secret(metadata=meta, string_data={"password": "pw-%s-%d" % (ns, i)}))


def _long_lived_token(kubeconfig, ns, name="dr-sa"):
    """A long-lived token Secret for a new ServiceAccount (filled in by the token controller); returns the token."""
    core = _core(kubeconfig)
    core.create_namespaced_service_account(ns, kclient.V1ServiceAccount(metadata=kclient.V1ObjectMeta(name=name)))
    core.create_namespaced_secret(ns, kclient.V1Secret(
        metadata=kclient.V1ObjectMeta(name=name + "-token", annotations={"kubernetes.io/service-account.name": name}),
        type="kubernetes.io/service-account-token"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = core.read_namespaced_secret(name + "-token", ns).data or {}
        if data.get("token"):
            return base64.b64decode(data["token"]).decode()
        time.sleep(0.5)
    raise AssertionError("the token controller did not fill %s/%s-token" % (ns, name))


def _token_status(state_dir, cluster, token):
    """HTTP status of a request made with ``token`` (401: not accepted at all)."""
    import ssl
    import urllib.error
    import urllib.request
    with open(os.path.join(state_dir, cluster, "cluster.json")) as f:
        port = json.load(f)["ports"]["api"]
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir, cluster, "pki", "ca.crt"))
    req = urllib.request.Request("https://127.0.0.1:%d/api/v1/namespaces/%s/configmaps" % (port, NAMESPACES[0]),
                                 headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def _restore_from(store, key_file, **kw):
    return dict({"source_cluster": SOURCE, "storage": "file://" + store, "encryption": {"key_file": key_file}}, **kw)


@pytest.fixture(scope="module")
def source(runner, state_dir, collections_path, bin_dir, tmp_path_factory):
    """Backs up a seeded source cluster (etcd snapshot included) and destroys it; yields what the tests need."""
    archive = _mu(collections_path, "_archive.api")
    storage = _mu(collections_path, "_storage.api")
    crypto = _mu(collections_path, "_dr.crypto_envelope")
    etcd = _mu(collections_path, "_etcd.snapshot")
    work = str(tmp_path_factory.mktemp("etcd-recovery"))
    store = os.path.join(work, "backups")
    key = crypto.generate_key()
    key_file = os.path.join(work, "backup.key")
    with open(key_file, "wb") as f:
        f.write(key)
    r = runner.module("adhar.platform.cluster", {"name": SOURCE, "encryption_at_rest": {"enabled": True}})
    assert r["cluster"]["encryption_at_rest"] is True
    try:
        kubeconfig = os.path.join(state_dir, SOURCE, "config", "admin.kubeconfig")
        _seed(kubeconfig, NAMESPACES)
        token = _long_lived_token(kubeconfig, NAMESPACES[0])
        assert _token_status(state_dir, SOURCE, token) == 403  # authenticated, not authorised
        expected = _objects(kubeconfig)
        assert len(expected) == 2 * PER_NAMESPACE * len(NAMESPACES)
        writer = archive.ArchiveWriter(storage.storage_from_params({"path": store}), SOURCE + "-1", cluster=SOURCE,
                                       key_wrapper=crypto.KeyWrapper(key))
        meta = etcd.capture_etcd(writer, {"local_cluster": SOURCE, "state_dir": state_dir})
        writer.metadata["etcd"] = meta
        writer.commit()
        with open(os.path.join(state_dir, SOURCE, "config", "encryption-config.yaml"), "rb") as f:
            enc_config = f.read()
        # the same through adhar.platform.backup (named after the kubeconfig context, adhar-<cluster>)
        module_store = os.path.join(work, "module-backups")
        b = runner.module("adhar.platform.backup", {"kubeconfig": kubeconfig, "storage": {"path": module_store},
                                                    "encryption": {"key_file": key_file},
                                                    "etcd_snapshot": {"local_cluster": SOURCE}})["backup"]
        assert b["cluster"] == "adhar-" + SOURCE and b["etcd"]["source_cluster"] == SOURCE
    finally:
        runner.module("adhar.platform.cluster", {"name": SOURCE, "state": "absent"})
    assert not os.path.exists(os.path.join(state_dir, SOURCE))
    yield {"store": store, "module_store": module_store, "module_backup": b["name"], "key": key, "key_file": key_file,
           "backup": SOURCE + "-1", "meta": meta, "expected": expected, "enc_config": enc_config,
           "archive": archive, "storage": storage, "crypto": crypto, "etcd": etcd, "work": work, "token": token}
    runner.module("adhar.platform.cluster", {"name": RECOVERED, "state": "absent"})


def test_capture_metadata(source):
    meta = source["meta"]
    assert set(meta) >= {"sha256", "revision", "total_size", "storage_version", "etcd_version", "endpoint", "seconds"}
    assert meta["members"] == 1 and meta["source_cluster"] == SOURCE and meta["encryption_config"] is True
    assert meta["etcd_version"] == "3.6.16" and meta["endpoint"].startswith("https://127.0.0.1:")
    assert meta["total_size"] > 0 and meta["total_size"] % 4096 == 0 and len(meta["sha256"]) == 64


def test_stored_snapshot_is_encrypted_and_passes_status(source, bin_dir, tmp_path):
    store = source["storage"].storage_from_params({"path": source["store"]})
    reader = source["archive"].ArchiveReader(store, source["backup"], source["crypto"].KeyWrapper(source["key"]))
    paths = {i["path"]: i for i in reader.items()}
    for item in ("etcd/snapshot.db.enc", "etcd/encryption-config.yaml.enc", "etcd/source.json.enc",
                 "etcd/service-account.pub.enc"):
        assert paths[item]["encrypted"] is True
    assert "etcd/snapshot.db" not in paths
    out = str(tmp_path / "snap.db")
    with open(out, "wb") as f:
        reader.copy_to("etcd/snapshot.db", f)
    status = json.loads(subprocess.run([os.path.join(bin_dir, "etcdutl"), "snapshot", "status", out, "-w", "json"],
                                       capture_output=True, text=True, check=True).stdout)
    # the revision recorded is etcd's just before the snapshot was taken: the snapshot holds at least that
    assert status["revision"] >= source["meta"]["revision"] and status["totalSize"] == source["meta"]["total_size"]
    assert status["totalKey"] > 2 * PER_NAMESPACE * len(NAMESPACES)
    with open(out, "rb") as f:
        data = f.read()
    assert hashlib.sha256(data[:-32]).hexdigest() == data[-32:].hex() == source["meta"]["sha256"]
    assert reader.read("etcd/encryption-config.yaml") == source["enc_config"]
    # what is stored is ciphertext, not a snapshot
    raw = os.path.join(source["store"], source["backup"], "etcd", "snapshot.db.enc")
    assert subprocess.run([os.path.join(bin_dir, "etcdutl"), "snapshot", "status", raw], capture_output=True,
                          check=False).returncode != 0


def test_capture_without_key_is_refused(source, state_dir, tmp_path):
    writer = source["archive"].ArchiveWriter(source["storage"].storage_from_params({"path": str(tmp_path / "b")}),
                                             "nokey", cluster=SOURCE)
    with pytest.raises(Exception) as exc:
        source["etcd"].capture_etcd(writer, {"local_cluster": SOURCE, "state_dir": state_dir})
    assert "encryption key" in str(exc.value)
    assert not os.path.exists(str(tmp_path / "b"))


def test_check_mode_creates_nothing(runner, state_dir, source):
    r = runner.module("adhar.platform.cluster", {"name": RECOVERED, "restore_from": _restore_from(source["store"], source["key_file"])},
                      check=True)
    assert r["changed"] is True
    assert r["restored_from"]["backup"] == source["backup"]
    assert any("would restore etcd" in a for a in r["actions"])
    assert not os.path.exists(os.path.join(state_dir, RECOVERED))


def test_recover_into_new_cluster(runner, state_dir, source):
    r = runner.module("adhar.platform.cluster", {"name": RECOVERED, "restore_from": _restore_from(source["store"], source["key_file"])})
    assert r["changed"] is True and r["cluster"]["running"] is True
    rf = r["restored_from"]
    assert rf["backup"] == source["backup"] and rf["revision"] >= source["meta"]["revision"]
    assert rf["total_size"] == source["meta"]["total_size"] and rf["total_keys"] > 0 and rf["seconds"] > 0
    assert r["cluster"]["encryption_at_rest"] is True  # taken from the source
    kubeconfig = os.path.join(state_dir, RECOVERED, "config", "admin.kubeconfig")
    assert _objects(kubeconfig) == source["expected"]
    info = runner.module("adhar.platform.cluster_info", {"name": RECOVERED, "probes": 3})
    assert info["healthy"] is True, info["reasons"]
    # fixed from the source's data: the kubernetes Service's port, the root CA ConfigMaps (rewritten by the controller)
    core = _core(kubeconfig)
    with open(os.path.join(state_dir, RECOVERED, "cluster.json")) as f:
        ports = json.load(f)["ports"]
    assert core.read_namespaced_service("kubernetes", "default").spec.ports[0].target_port == ports["members"][0]["apiserver"]
    with open(os.path.join(state_dir, RECOVERED, "pki", "ca.crt")) as f:
        ca = f.read()
    for ns in NAMESPACES:
        assert core.read_namespaced_config_map("kube-root-ca.crt", ns).data["ca.crt"] == ca
    # a long-lived token the source issued is still accepted (its service-account key is trusted too)
    assert _token_status(state_dir, RECOVERED, source["token"]) == 403
    assert "accepting service-account tokens signed by the source cluster's key" in r["actions"]


def test_recovered_secrets_stay_encrypted_at_rest(state_dir, source, bin_dir):
    pki = os.path.join(state_dir, RECOVERED, "pki")
    with open(os.path.join(state_dir, RECOVERED, "cluster.json")) as f:
        port = json.load(f)["ports"]["members"][0]["etcd_client"]
    out = subprocess.run([os.path.join(bin_dir, "etcdctl"), "--endpoints=https://127.0.0.1:%d" % port,
                          "--cacert=" + os.path.join(pki, "etcd-ca.crt"), "--cert=" + os.path.join(pki, "etcd-healthcheck-client.crt"),
                          "--key=" + os.path.join(pki, "etcd-healthcheck-client.key"), "get",
                          "/registry/secrets/%s/obj-0" % NAMESPACES[0], "--print-value-only"],
                         capture_output=True, check=True).stdout
    assert out.startswith(b"k8s:enc:secretbox:v1:") and b"pw-" not in out
    with open(os.path.join(state_dir, RECOVERED, "config", "encryption-config.yaml"), "rb") as f:
        assert f.read() == source["enc_config"]


def test_existing_cluster_without_force_is_left_alone(runner, source):
    r = runner.module("adhar.platform.cluster", {"name": RECOVERED, "restore_from": _restore_from(source["store"], source["key_file"])})
    assert r["changed"] is False and "restored_from" not in r
    assert any("restore_from only applies" in w for w in r.get("warnings", []))


def _corrupt_copy(source, name):
    """A copy of the backup store whose snapshot item has one flipped byte."""
    store = os.path.join(source["work"], name)
    shutil.copytree(source["store"], store)
    item = os.path.join(store, source["backup"], "etcd", "snapshot.db.enc")
    with open(item, "r+b") as f:
        f.seek(os.path.getsize(item) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    return store


def test_corrupted_snapshot_is_refused_cluster_untouched(runner, state_dir, source):
    kubeconfig = os.path.join(state_dir, RECOVERED, "config", "admin.kubeconfig")
    with open(os.path.join(state_dir, RECOVERED, "cluster.json")) as f:
        before = json.load(f)
    pids = sorted(os.listdir(os.path.join(state_dir, RECOVERED, "run")))
    store = _corrupt_copy(source, "corrupt")
    r = runner.module("adhar.platform.cluster", {"name": RECOVERED, "restore_from": _restore_from(store, source["key_file"], force=True)},
                      expect_fail=True)
    assert "cannot be used (nothing was changed)" in r["msg"] and "tampered" in r["msg"], r["msg"]
    with open(os.path.join(state_dir, RECOVERED, "cluster.json")) as f:
        assert json.load(f) == before
    assert sorted(os.listdir(os.path.join(state_dir, RECOVERED, "run"))) == pids
    assert _objects(kubeconfig) == source["expected"]
    # a new cluster from it is refused before anything is created
    r = runner.module("adhar.platform.cluster", {"name": "etcdbad", "restore_from": _restore_from(store, source["key_file"])},
                      expect_fail=True)
    assert "cannot be used" in r["msg"]
    assert not os.path.exists(os.path.join(state_dir, "etcdbad"))


def test_wrong_key_and_missing_backup_are_refused(runner, state_dir, source, tmp_path):
    other = tmp_path / "other.key"
    other.write_bytes(source["crypto"].generate_key())
    r = runner.module("adhar.platform.cluster", {"name": "etcdbad", "restore_from": _restore_from(source["store"], str(other))},
                      expect_fail=True)
    assert "cannot decrypt" in r["msg"] or "wrong key" in r["msg"], r["msg"]
    missing = _restore_from(source["store"], source["key_file"], backup="nope")
    r = runner.module("adhar.platform.cluster", {"name": "etcdbad", "restore_from": missing}, expect_fail=True)
    assert "does not exist" in r["msg"]
    assert not os.path.exists(os.path.join(state_dir, "etcdbad"))


def test_restore_in_place(runner, state_dir, source):
    kubeconfig = os.path.join(state_dir, RECOVERED, "config", "admin.kubeconfig")
    core = _core(kubeconfig)
    _seed(kubeconfig, ["dr-late"], prefix="late")
    core.patch_namespaced_config_map("obj-0", NAMESPACES[0], {"data": {"n": "changed"}})
    core.delete_namespaced_secret("obj-1", NAMESPACES[1])
    assert _objects(kubeconfig) != source["expected"]
    # from the newest backup of the source made by adhar.platform.backup (backup: latest, found by source_cluster)
    r = runner.module("adhar.platform.cluster", {"name": RECOVERED,
                                                 "restore_from": _restore_from(source["module_store"], source["key_file"], force=True)})
    assert r["changed"] is True and r["restored_from"]["backup"] == source["module_backup"]
    assert any(a.startswith("stopped ") for a in r["actions"])
    assert _objects(kubeconfig) == source["expected"]
    data = os.path.join(state_dir, RECOVERED, "data")
    assert sorted(os.listdir(data)) == ["etcd-0"]  # the previous data directory is removed once healthy
    info = runner.module("adhar.platform.cluster_info", {"name": RECOVERED, "probes": 3})
    assert info["healthy"] is True, info["reasons"]


def test_failed_in_place_restore_puts_the_old_data_back(runner, state_dir, source):
    kubeconfig = os.path.join(state_dir, RECOVERED, "config", "admin.kubeconfig")
    _seed(kubeconfig, ["dr-late"], prefix="late")
    before = _objects(kubeconfig)
    # the restored cluster cannot be ready within 1 s: the restore fails after the data directories were swapped
    r = runner.module("adhar.platform.cluster", {"name": RECOVERED, "wait_timeout": 1,
                                                 "restore_from": _restore_from(source["store"], source["key_file"], force=True)},
                      expect_fail=True)
    assert "its previous etcd data was put back" in r["msg"], r["msg"]
    assert sorted(os.listdir(os.path.join(state_dir, RECOVERED, "data"))) == ["etcd-0"]
    runner.module("adhar.platform.cluster", {"name": RECOVERED, "state": "started"})
    assert _objects(kubeconfig) == before  # the objects created after the snapshot are still there


def test_recover_into_three_members(runner, state_dir, source):
    runner.module("adhar.platform.cluster", {"name": RECOVERED, "state": "absent"})  # one cluster at a time
    try:
        r = runner.module("adhar.platform.cluster", {"name": "etcdha", "control_plane": {"count": 3},
                                                     "restore_from": _restore_from(source["module_store"], source["key_file"])})
        assert len(r["cluster"]["control_plane"]) == 3 and r["restored_from"]["backup"] == source["module_backup"]
        assert _objects(os.path.join(state_dir, "etcdha", "config", "admin.kubeconfig")) == source["expected"]
        info = runner.module("adhar.platform.cluster_info", {"name": "etcdha", "probes": 3})
        assert info["healthy"] is True, info["reasons"]
    finally:
        runner.module("adhar.platform.cluster", {"name": "etcdha", "state": "absent"})
