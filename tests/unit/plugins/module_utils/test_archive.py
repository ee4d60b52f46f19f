# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import threading

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive import api as archive
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import (
    ArchiveReader,
    ArchiveWriter,
    list_backups,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import DECRYPT_ERROR, KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage

SECRET_VALUE = "s3cr3t-p4ssw0rd-value"


@pytest.fixture
def store(tmp_path):
    return LocalStorage(str(tmp_path / "backups"))


@pytest.fixture
def key():
    return KeyWrapper(generate_key())


def _secret(name, ns="prod"):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()},
            "stringData": {"raw": SECRET_VALUE}}


def _configmap(name, ns="prod"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": name}}


def write_backup(store, name, key=None, cluster="prod", n=5, etcd=b"", commit=True):
    w = ArchiveWriter(store, name, cluster=cluster, kubernetes_version="v1.36.3", key_wrapper=key,
                      metadata={"filters": {"namespaces": ["*"]}})
    for i in range(n):
        w.add_resource(_configmap("cm-%d" % i), "configmaps")
    w.add_resource({"metadata": {"name": "ns1"}}, "namespaces")
    w.add_resource({"metadata": {"name": "web", "namespace": "prod"}}, "deployments", "apps")
    if key is not None:
        w.add_resource(_secret("db"), "secrets", encrypt=True)
        w.add(archive.db_path("orders"), io.BytesIO(b"PGDMP" + b"rows" * 1000), encrypt=True)
    if etcd:
        w.add(archive.ETCD_SNAPSHOT, io.BytesIO(etcd), encrypt=key is not None)
    w.add(archive.ADHAR_CONFIG, "clusters: {}\n")
    if commit:
        w.commit()
    return w


def _stored(store, key):
    return os.path.join(store.root, *key.split("/"))


# -- format -----------------------------------------------------------------------

def test_resource_paths():
    assert archive.resource_path("configmaps", "", "prod", "x") == "resources/configmaps/namespaces/prod/x.json"
    assert archive.resource_path("deployments", "apps", "prod", "x") == "resources/deployments.apps/namespaces/prod/x.json"
    assert archive.resource_path("clusterroles", "rbac.authorization.k8s.io", None, "system:node") == \
        "resources/clusterroles.rbac.authorization.k8s.io/cluster/system:node.json"
    assert archive.describe_path("resources/deployments.apps/namespaces/p/w.json") == {
        "section": "resources", "resource": "deployments.apps", "namespace": "p", "name": "w"}
    assert archive.describe_path("resources/secrets/namespaces/p/s.json.enc")["name"] == "s"
    assert archive.describe_path("resources/namespaces/cluster/p.json") == {"section": "resources", "resource": "namespaces",
                                                                            "name": "p"}
    assert archive.describe_path("etcd/snapshot.db") == {"section": "etcd"}
    with pytest.raises(AdharError):
        archive.resource_path("configmaps", "", "prod", "../x")
    with pytest.raises(AdharError):
        archive.resource_path("config/maps", "", "prod", "x")


@pytest.mark.parametrize("path", ["manifest.json", "started.json", "x/y", "resources", "resources/../etc/passwd", "/etcd/x",
                                  "etcd//x"])
def test_bad_item_paths(path):
    with pytest.raises(AdharError):
        archive.check_item_path(path)


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "-x", "x-", "a..b", "x" * 254, "sp ace"])
def test_bad_backup_names(name):
    with pytest.raises(AdharError, match="invalid backup name"):
        archive.check_backup_name(name)


def test_good_backup_names():
    for name in ("a", "prod-20260101020000", "Prod_1.x"):
        assert archive.check_backup_name(name) == name


# -- writing and reading -------------------------------------------------------------

def test_layout_and_manifest(store, key):
    etcd = os.urandom(200000)
    w = write_backup(store, "b1", key, etcd=etcd)
    m = w.manifest
    files = sorted(o.key for o in store.list("b1/"))
    assert "b1/manifest.json" in files and "b1/started.json" in files
    assert "b1/resources/configmaps/namespaces/prod/cm-0.json" in files
    assert "b1/resources/namespaces/cluster/ns1.json" in files
    assert "b1/resources/deployments.apps/namespaces/prod/web.json" in files
    assert "b1/resources/secrets/namespaces/prod/db.json.enc" in files
    assert "b1/db/orders.dump.enc" in files and "b1/etcd/snapshot.db.enc" in files and "b1/config/adhar.yaml" in files
    assert m["format"] == "adhar-backup" and m["format_version"] == archive.UNPACKED_VERSION
    assert (m["name"], m["cluster"], m["kubernetes_version"]) == ("b1", "prod", "v1.36.3")
    assert m["created"] <= m["started"] <= m["finished"]
    assert m["counts"] == {"configmaps": 5, "namespaces": 1, "deployments.apps": 1, "secrets": 1}
    assert m["sections"] == {"resources": 8, "db": 1, "etcd": 1, "config": 1}
    assert m["item_count"] == 11 == len(m["items"])
    assert m["total_bytes"] == sum(i["size"] for i in m["items"])
    assert m["metadata"] == {"filters": {"namespaces": ["*"]}}
    assert m["encryption"]["encrypted_items"] == 3 and m["encryption"]["data_key"]["wrapper"] == "key"
    assert m["mac"]
    for item in m["items"]:
        with open(_stored(store, "b1/" + item["path"]), "rb") as f:
            data = f.read()
        assert item["size"] == len(data) and item["sha256"] == hashlib.sha256(data).hexdigest()
        assert bool(item.get("encrypted")) == item["path"].endswith(".enc")
    assert [i["path"] for i in m["items"]] == sorted(i["path"] for i in m["items"])
    on_disk = json.loads(store.read("b1/manifest.json"))
    assert on_disk == m


def test_read_back(store, key):
    etcd = os.urandom(300000)
    write_backup(store, "b1", key, etcd=etcd)
    r = ArchiveReader(store, "b1", key)
    assert r.encrypted
    assert r.read_json("resources/secrets/namespaces/prod/db.json") == _secret("db")
    assert r.read_json("resources/configmaps/namespaces/prod/cm-3.json") == _configmap("cm-3")
    assert r.read(archive.ADHAR_CONFIG) == b"clusters: {}\n"
    out = io.BytesIO()
    assert r.copy_to(archive.ETCD_SNAPSHOT, out) == len(etcd)
    assert out.getvalue() == etcd
    assert len(r.items(section="resources")) == 8
    assert {i["resource"] for i in r.items("resources")} == {"configmaps", "namespaces", "deployments.apps", "secrets"}
    with pytest.raises(AdharError, match="item nope/x is not in backup b1"):
        r.item("nope/x")


def test_unencrypted_backup_needs_no_key(store):
    write_backup(store, "plain")
    r = ArchiveReader(store, "plain")
    assert not r.encrypted and r.data_key is None
    assert r.verify()["ok"]
    with pytest.raises(AdharError, match="no encryption key was given"):
        ArchiveWriter(store, "other", cluster="c").add_resource(_secret("x"), "secrets", encrypt=True)


def test_no_plaintext_secret_anywhere_in_storage(store, key):
    write_backup(store, "b1", key, etcd=SECRET_VALUE.encode() * 100)
    needles = [SECRET_VALUE.encode(), base64.b64encode(SECRET_VALUE.encode()), b"PGDMP"]
    for dirpath, dirnames, filenames in os.walk(store.root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
            for needle in needles:
                assert needle not in data, (name, needle)


def test_plaintext_never_reaches_the_storage_layer(store, key):
    seen = []
    real_put = store.put

    def recording_put(k, data, overwrite=False):
        from ansible_collections.adhar.platform.plugins.module_utils._storage.base import iter_chunks

        chunks = list(iter_chunks(data))
        seen.extend(chunks)
        return real_put(k, chunks, overwrite)

    store.put = recording_put
    w = ArchiveWriter(store, "b1", cluster="prod", key_wrapper=key)
    w.add_resource(_secret("s"), "secrets", encrypt=True)
    w.commit()
    assert seen and not any(SECRET_VALUE.encode() in c for c in seen)


def test_encrypt_all(store, key):
    w = ArchiveWriter(store, "b1", cluster="prod", key_wrapper=key, encrypt_all=True)
    w.add_resource(_configmap("a"), "configmaps")
    w.add_resource(_configmap("b"), "configmaps", encrypt=False)
    m = w.commit()
    assert [i["path"] for i in m["items"]] == ["resources/configmaps/namespaces/prod/a.json.enc",
                                               "resources/configmaps/namespaces/prod/b.json"]
    with pytest.raises(AdharError, match="encrypt_all needs an encryption key"):
        ArchiveWriter(store, "b2", cluster="prod", encrypt_all=True)


def test_write_once(store, key):
    w = ArchiveWriter(store, "b1", cluster="prod")
    w.add_resource(_configmap("a"), "configmaps")
    with pytest.raises(AdharError, match="already in backup b1"):
        w.add_resource(_configmap("a"), "configmaps")
    with pytest.raises(AdharError, match="suffix is added by the writer"):
        w.add("resources/x/cluster/y.json.enc", b"")
    w.commit()
    with pytest.raises(AdharError, match="no more items"):
        w.add_resource(_configmap("b"), "configmaps")
    with pytest.raises(AdharError, match="already exists .* never overwritten"):
        ArchiveWriter(store, "b1", cluster="prod").add_resource(_configmap("z"), "configmaps")
    assert ArchiveReader(store, "b1").verify()["ok"]


def test_manifest_is_written_last(store, key):
    order = []
    real_put, real_sync = store.put, store.sync
    store.put = lambda k, data, overwrite=False: order.append(k) or real_put(k, data, overwrite)
    store.sync = lambda: order.append("<sync>") or real_sync()
    write_backup(store, "b1", key)
    assert order[0] == "b1/started.json"
    assert order[-2:] == ["b1/manifest.json", "<sync>"]
    assert order[-3] == "<sync>"  # every item durable before the manifest


def test_interrupted_backup_is_incomplete(store, key):
    write_backup(store, "done", key)
    w = write_backup(store, "broken", key, commit=False)
    assert not w.committed
    backups = {b["name"]: b for b in list_backups(store)}
    assert backups["done"]["complete"] and backups["done"]["encrypted"]
    broken = backups["broken"]
    assert not broken["complete"] and broken["cluster"] == "prod" and broken["encrypted"] is True
    assert "no manifest" in broken["problem"] and broken["items"] == 10 and broken["size"] > 0
    assert broken["last_modified"] and broken["started"]
    with pytest.raises(AdharError, match="broken .* is incomplete: it has no manifest"):
        ArchiveReader(store, "broken", key).verify()
    with pytest.raises(AdharError, match="backup ghost does not exist"):
        ArchiveReader(store, "ghost").manifest


def test_writer_context_manager(store):
    with ArchiveWriter(store, "ok", cluster="c") as w:
        w.add_resource(_configmap("a"), "configmaps")
    assert w.committed
    with pytest.raises(RuntimeError):
        with ArchiveWriter(store, "failed", cluster="c") as w2:
            w2.add_resource(_configmap("a"), "configmaps")
            raise RuntimeError("boom")
    assert not store.exists("failed/manifest.json")
    assert {b["name"]: b["complete"] for b in list_backups(store)} == {"ok": True, "failed": False}


def test_unparseable_manifest_is_not_complete(store):
    write_backup(store, "b1")
    path = _stored(store, "b1/manifest.json")
    with open(path, "r+b") as f:
        f.truncate(100)
    info = list_backups(store)[0]
    assert not info["complete"] and "not valid JSON" in info["problem"]


def test_empty_backup(store):
    m = ArchiveWriter(store, "empty", cluster="c").commit()
    assert m["items"] == [] and m["total_bytes"] == 0
    assert ArchiveReader(store, "empty").verify()["ok"]


# -- threads ------------------------------------------------------------------------

def test_parallel_add_and_submit(store, key):
    w = ArchiveWriter(store, "par", cluster="c", key_wrapper=key, workers=4)

    def producer(t):
        for i in range(50):
            w.add_resource(_configmap("t%d-%d" % (t, i)), "configmaps", encrypt=(i % 5 == 0))

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    futures = [w.submit(archive.resource_path("secrets", "", "p", "s%d" % i), _secret("s%d" % i), encrypt=True)
               for i in range(100)]
    for t in threads:
        t.join()
    m = w.commit()
    assert all(f.done() for f in futures)
    assert m["counts"] == {"configmaps": 200, "secrets": 100}
    assert m["encryption"]["encrypted_items"] == 140
    assert ArchiveReader(store, "par", key).verify(workers=4)["ok"]


def test_submit_is_bounded(store):
    w = ArchiveWriter(store, "bounded", cluster="c", workers=2)
    gate = threading.Event()
    running = []

    def slow_chunks(i):
        running.append(i)
        gate.wait(5)
        yield b"{}"

    submitted = []

    def producer():
        for i in range(10):
            w.submit("resources/x/cluster/%d.json" % i, slow_chunks(i))
            submitted.append(i)

    t = threading.Thread(target=producer)
    t.start()
    t.join(0.5)
    assert len(submitted) == 4  # 2 * workers pending, the producer waits
    gate.set()
    t.join(5)
    assert len(submitted) == 10
    assert w.commit()["item_count"] == 10


def test_failed_submitted_item_fails_the_commit(store):
    w = ArchiveWriter(store, "bad", cluster="c")

    def broken():
        yield b"x"
        raise OSError("disk on fire")

    w.submit("resources/x/cluster/a.json", broken())
    w.submit("resources/x/cluster/b.json", b"{}")
    with pytest.raises(AdharError, match="1 item.* failed; first: OSError: disk on fire"):
        w.commit()
    assert not store.exists("bad/manifest.json")


# -- tamper detection ---------------------------------------------------------------

def _flip(path, offset=-1):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[offset] ^= 0x01
        f.seek(0)
        f.write(data)


@pytest.mark.parametrize("item", ["resources/configmaps/namespaces/prod/cm-2.json",
                                  "resources/secrets/namespaces/prod/db.json.enc",
                                  "etcd/snapshot.db.enc"])
def test_one_flipped_byte_is_detected_and_named(store, key, item):
    write_backup(store, "b1", key, etcd=os.urandom(100000))
    _flip(_stored(store, "b1/" + item), offset=len(item) % 7)
    r = ArchiveReader(store, "b1", key)
    with pytest.raises(AdharError) as err:
        r.verify()
    assert item in err.value.msg and "1 of 11 items are bad" in err.value.msg
    report = err.value.details["verify"]
    assert [p["path"] for p in report["problems"]] == [item]
    with pytest.raises(AdharError, match="corrupted or was tampered with"):
        r.read(item)
    # without raising: a report
    assert ArchiveReader(store, "b1", key).verify(raise_on_error=False)["ok"] is False


def test_missing_item_is_named(store, key):
    write_backup(store, "b1", key)
    os.unlink(_stored(store, "b1/resources/secrets/namespaces/prod/db.json.enc"))
    with pytest.raises(AdharError, match="resources/secrets/namespaces/prod/db.json.enc of backup b1 is missing"):
        ArchiveReader(store, "b1", key).verify()


def test_truncated_and_extended_items(store):
    write_backup(store, "b1")
    path = _stored(store, "b1/resources/configmaps/namespaces/prod/cm-0.json")
    with open(path, "ab") as f:
        f.write(b" ")
    with pytest.raises(AdharError, match="its size does not match"):
        ArchiveReader(store, "b1").read("resources/configmaps/namespaces/prod/cm-0.json")


def test_wrong_key_is_one_clear_error(store, key):
    write_backup(store, "b1", key)
    with pytest.raises(AdharError) as err:
        ArchiveReader(store, "b1", KeyWrapper(generate_key())).verify()
    assert err.value.msg == DECRYPT_ERROR
    # without any key an encrypted backup is refused before any item is read, naming the key it needs
    for action in (lambda r: r.read("resources/configmaps/namespaces/prod/cm-0.json"), lambda r: r.verify(),
                   lambda r: r.manifest, lambda r: r.items()):
        with pytest.raises(AdharError, match="backup b1 is encrypted with the key %s: give encryption.key" % key.key_id):
            action(ArchiveReader(store, "b1"))


def test_swapped_encrypted_items_are_detected(store, key):
    w = ArchiveWriter(store, "b1", cluster="prod", key_wrapper=key)
    w.add_resource(_secret("one"), "secrets", encrypt=True)
    w.add_resource(_secret("two"), "secrets", encrypt=True)
    w.commit()
    a = _stored(store, "b1/resources/secrets/namespaces/prod/one.json.enc")
    b = _stored(store, "b1/resources/secrets/namespaces/prod/two.json.enc")
    tmp = a + ".x"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)
    # plain checksums catch the swap ...
    with pytest.raises(AdharError, match="2 of 2 items are bad"):
        ArchiveReader(store, "b1", key).verify()
    # ... and so does the cipher when the attacker also swaps the manifest entries
    manifest = json.loads(store.read("b1/manifest.json"))
    first, second = manifest["items"]
    first["sha256"], second["sha256"] = second["sha256"], first["sha256"]
    first["size"], second["size"] = second["size"], first["size"]
    with open(_stored(store, "b1/manifest.json"), "w") as f:
        json.dump(manifest, f)
    with pytest.raises(AdharError, match="manifest does not match its signature"):
        ArchiveReader(store, "b1", key).manifest
    reader = ArchiveReader(store, "b1", None)
    reader._dek = None
    with pytest.raises(AdharError, match="is encrypted"):
        reader.read("resources/secrets/namespaces/prod/one.json")
    # with the manifest check bypassed the per-item binding still refuses the swapped file
    reader = ArchiveReader(store, "b1", key)
    reader._manifest = manifest
    reader._index = {i["path"]: i for i in manifest["items"]}
    from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import open_envelope
    reader._dek = open_envelope(manifest["encryption"], key, "b1")
    with pytest.raises(AdharError, match=DECRYPT_ERROR + r" \(item resources/secrets/namespaces/prod/one.json.enc"):
        reader.read("resources/secrets/namespaces/prod/one.json")


def test_item_moved_between_backups_does_not_decrypt(store, key):
    write_backup(store, "b1", key)
    write_backup(store, "b2", key)
    item = "resources/secrets/namespaces/prod/db.json.enc"
    shutil.copyfile(_stored(store, "b1/" + item), _stored(store, "b2/" + item))
    with pytest.raises(AdharError):
        ArchiveReader(store, "b2", key).verify()


def test_tampered_plain_item_with_rewritten_manifest_is_caught_by_the_signature(store, key):
    write_backup(store, "b1", key)
    item = "resources/configmaps/namespaces/prod/cm-1.json"
    evil = json.dumps(_configmap("evil")).encode()
    with open(_stored(store, "b1/" + item), "wb") as f:
        f.write(evil)
    manifest = json.loads(store.read("b1/manifest.json"))
    for entry in manifest["items"]:
        if entry["path"] == item:
            entry.update(size=len(evil), sha256=hashlib.sha256(evil).hexdigest())
    with open(_stored(store, "b1/manifest.json"), "w") as f:
        json.dump(manifest, f)
    with pytest.raises(AdharError, match="does not match its signature"):
        ArchiveReader(store, "b1", key).verify()


def test_moved_backup_is_refused(store):
    write_backup(store, "b1")
    os.rename(os.path.join(store.root, "b1"), os.path.join(store.root, "b9"))
    with pytest.raises(AdharError, match="names backup 'b1': it was moved or tampered with"):
        ArchiveReader(store, "b9").manifest


def test_unexpected_objects_are_warned_about(store):
    write_backup(store, "b1")
    store.put("b1/resources/configmaps/namespaces/prod/intruder.json", b"{}")
    report = ArchiveReader(store, "b1").verify()
    assert report["ok"] and any("intruder.json is not in the manifest" in w for w in report["warnings"])


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(format_version="3.0.0"), "format version 3.0.0"),
    (lambda m: m.update(format="velero"), "not an adhar backup manifest"),
    (lambda m: m["items"].append(dict(m["items"][0])), "lists .* twice"),
    (lambda m: m["items"][0].update(path="../../etc/passwd"), "invalid"),
    (lambda m: m["items"][0].update(sha256="zz"), "malformed entry"),
    (lambda m: m["items"][0].update(encrypted=True), "inconsistent encryption"),
])
def test_manifest_checks(store, change, words):
    write_backup(store, "b1")
    manifest = json.loads(store.read("b1/manifest.json"))
    change(manifest)
    with open(_stored(store, "b1/manifest.json"), "w") as f:
        json.dump(manifest, f)
    with pytest.raises(AdharError, match=words):
        ArchiveReader(store, "b1").manifest


# -- listing and retention ----------------------------------------------------------

def test_list_backups(store, key):
    write_backup(store, "prod-1", key)
    write_backup(store, "stage-1", cluster="staging")
    write_backup(store, "prod-2", key, commit=False)
    store.lock("prod", backup="prod-3").acquire()
    listed = list_backups(store)
    # oldest first, the name breaking ties (times have a resolution of one second); .locks is not a backup
    assert sorted(b["name"] for b in listed) == ["prod-1", "prod-2", "stage-1"]
    assert listed == sorted(listed, key=lambda b: (b["time"], b["name"])) and listed[0]["name"] == "prod-1"
    assert [b["name"] for b in list_backups(store, cluster="staging")] == ["stage-1"]
    info = list_backups(store, cluster="prod")[0]
    for field in ("name", "cluster", "time", "counts", "size", "complete", "encrypted", "kubernetes_version", "items"):
        assert field in info
    assert info["counts"]["secrets"] == 1 and info["size"] > 0 and info["complete"] and info["encrypted"]
    assert archive.active_backups(store) == {"prod-3"}


def test_long_names_are_shortened_and_recorded(store, key):
    long_name = "n" * 253
    long_group = "g" * 240 + ".example.com"
    w = ArchiveWriter(store, "long", cluster="c", key_wrapper=key)
    w.add_resource(_secret(long_name), "secrets", encrypt=True)
    w.add_resource({"metadata": {"name": "x"}}, "widgets", long_group)
    m = w.commit()
    for item in m["items"]:
        assert all(len(part.encode()) <= 255 for part in item["path"].split("/"))
    by_name = {i.get("name"): i for i in ArchiveReader(store, "long", key).items("resources")}
    assert by_name[long_name]["resource"] == "secrets"
    assert m["counts"] == {"secrets": 1, "widgets." + long_group: 1}
    reader = ArchiveReader(store, "long", key)
    assert reader.read_json(by_name[long_name]["path"])["metadata"]["name"] == long_name
    assert archive.resource_path("secrets", "", "p", long_name) == archive.resource_path("secrets", "", "p", long_name)
    assert archive.resource_path("secrets", "", "p", long_name) != archive.resource_path("secrets", "", "p", long_name[:-1] + "m")


def test_commit_waits_for_items_being_added(store):
    w = ArchiveWriter(store, "race", cluster="c")
    w.start()
    entered, release = threading.Event(), threading.Event()

    def slow():
        entered.set()
        release.wait(5)
        yield b"{}"

    t = threading.Thread(target=w.add, args=("resources/x/cluster/slow.json", slow()))
    t.start()
    entered.wait(5)
    result = {}
    c = threading.Thread(target=lambda: result.update(m=w.commit()))
    c.start()
    c.join(0.3)
    assert c.is_alive()  # the commit waits for the item in flight
    with pytest.raises(AdharError, match="is committing: no more items"):
        w.add("resources/x/cluster/late.json", b"{}")
    release.set()
    t.join(5)
    c.join(5)
    assert [i["path"] for i in result["m"]["items"]] == ["resources/x/cluster/slow.json"]


def test_submit_many_writes_a_batch_and_counts_each_failure(store, key):
    w = ArchiveWriter(store, "batched", cluster="c", key_wrapper=key, workers=2)
    good = [("resources/configmaps/namespaces/a/c%d.json" % i, {"i": i}, None, {}) for i in range(5)]
    w.submit_many(good + [("resources/secrets/namespaces/a/s.json", {"data": {"k": "dg=="}}, True, {})])
    assert w.submit_many([]) is None
    manifest = w.commit()
    assert manifest["item_count"] == 6
    assert ArchiveReader(store, "batched", key).read_json("resources/configmaps/namespaces/a/c3.json") == {"i": 3}

    bad = ArchiveWriter(store, "batched-bad", cluster="c", workers=2)
    bad.submit_many([("resources/configmaps/namespaces/a/x.json", b"1", None, {}),
                     ("resources/configmaps/namespaces/a/x.json", b"2", None, {}),  # the same item twice
                     ("resources/secrets/namespaces/a/s.json", b"3", True, {})])  # encrypted but no key
    with pytest.raises(AdharError, match="2 item"):
        bad.commit()
    assert not store.exists("batched-bad/manifest.json")
