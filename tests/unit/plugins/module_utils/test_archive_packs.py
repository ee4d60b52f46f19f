# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Format 2.0: small items packed together (ArchiveWriter ``pack_size``), read back one by one, by ``read_many`` and
by ``verify``; tampering with a pack is named; a manifest placing an item outside its pack is refused."""

from __future__ import annotations

import io
import json
import os
import threading
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive import api as archive, format as fmt
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._archive.writer import PACK_ITEM_MAX
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage


class CountingStorage(LocalStorage):
    """Local storage that counts whole-object and range reads."""

    def __init__(self, root):
        super().__init__(root)
        self.reads, self.ranges, self.puts = [], [], []

    def read(self, key):
        self.reads.append(key)
        return super().read(key)

    def read_range(self, key, offset, length):
        self.ranges.append(key)
        self.spans = getattr(self, "spans", []) + [(key, offset, length)]
        return super().read_range(key, offset, length)

    def put(self, key, data, overwrite=False):
        self.puts.append(key)
        return super().put(key, data, overwrite)


@pytest.fixture
def store(tmp_path):
    return CountingStorage(str(tmp_path / "backups"))


KEY = KeyWrapper(generate_key())


def _cm(i, ns="prod"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%03d" % i, "namespace": ns},
            "data": {"k": "v" * (i % 50)}}


def write(store, name="b1", key=None, n=60, pack_size=2000, big=True):
    w = ArchiveWriter(store, name, cluster="prod", key_wrapper=key, pack_size=pack_size, workers=3)
    objs = {}
    for i in range(n):
        rec = w.submit(archive.resource_path("configmaps", "", "prod", "cm-%03d" % i), _cm(i), encrypt=bool(key))
        objs["cm-%03d" % i] = rec
    w.add_resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}, "namespaces")
    if big:
        w.add("db/orders.dump", io.BytesIO(os.urandom(PACK_ITEM_MAX + 10)), encrypt=bool(key))
    return w.commit()


def _paths(store, name="b1"):
    return sorted(o.key for o in store.list(name + "/"))


def test_small_items_are_packed_big_ones_are_not(store):
    m = write(store)
    assert m["format_version"] == archive.FORMAT_VERSION == "2.1.0"
    stored = _paths(store)
    packs = [p for p in stored if "/packs/" in p]
    # 61 small items in packs of ~2000 bytes: a few objects, the big dump on its own, no per-item object
    assert 2 <= len(packs) < 20 and len(packs) == len(m["packs"])
    assert "b1/db/orders.dump" in stored and not any("/resources/" in p for p in stored)
    packed = [i for i in m["items"] if "pack" in i]
    assert len(packed) == 61 and all(i["pack"] in {p["path"] for p in m["packs"]} for i in packed)
    assert sum(p["items"] for p in m["packs"]) == 61
    # one resource type per pack: Namespaces are not mixed with ConfigMaps
    for pack in m["packs"]:
        kinds = {archive.describe_path(i["path"])["resource"] for i in packed if i["pack"] == pack["path"]}
        assert len(kinds) == 1
    assert m["item_count"] == 62 and m["counts"]["configmaps"] == 60


def test_read_back_one_by_one_and_many(store):
    write(store, key=KEY)
    r = ArchiveReader(store, "b1", KEY)
    assert r.read_json("resources/configmaps/namespaces/prod/cm-007.json")["metadata"]["name"] == "cm-007"
    assert store.ranges, "one item is a range read of its pack"
    records = r.items("resources")
    store.reads.clear()
    store.ranges.clear()
    got = {rec["path"]: json.loads(data) for rec, data, exc in r.read_many(records, workers=2) if exc is None}
    assert len(got) == 61 and got["resources/configmaps/namespaces/prod/cm-042.json.enc"]["data"]["k"] == "v" * 42
    assert not store.ranges and len(store.reads) == len({rec["pack"] for rec in records})  # each pack read once
    report = r.verify()
    assert report["ok"] and report["items"] == 62 and report["decryption_checked"] and not report["warnings"]


def test_a_few_items_of_a_pack_are_range_reads(store):
    write(store, pack_size=1 << 20, big=False)
    r = ArchiveReader(store, "b1")
    one = [rec for rec in r.items("resources") if rec["path"].endswith("cm-003.json")]
    store.reads.clear()
    [(rec, data, exc)] = list(r.read_many(one))
    assert exc is None and json.loads(data)["metadata"]["name"] == "cm-003"
    assert store.ranges and not any("/packs/" in k for k in store.reads)


def test_part_of_a_pack_read_as_a_whole_is_the_one_range_holding_it(store):
    """A restore reads its objects a chunk at a time, each chunk a run of a pack's items: only their bytes are read."""
    write(store, key=KEY, pack_size=1 << 20, big=False)
    r = ArchiveReader(store, "b1", KEY)
    records = [rec for rec in r.items("resources") if "/configmaps/" in rec["path"]]
    [pack] = {rec["pack"] for rec in records}
    run = sorted(records, key=lambda rec: rec["offset"])[10:30]
    store.reads.clear()
    store.spans = []
    got = {rec["path"]: json.loads(data) for rec, data, exc in r.read_many(run, whole_packs=True) if exc is None}
    assert sorted(got) == sorted(rec["path"] for rec in run)
    assert got[run[0]["path"]]["metadata"]["name"] == run[0]["path"].rsplit("/", 1)[1].split(".")[0]
    low, high = run[0]["offset"], run[-1]["offset"] + run[-1]["size"]
    assert not store.reads and store.spans == [("b1/" + pack, low, high - low)]


def test_a_flipped_byte_in_a_pack_names_the_item_and_the_pack(store, tmp_path):
    m = write(store, big=False)
    target = next(i for i in m["items"] if i["path"].endswith("cm-010.json"))
    path = tmp_path / "backups" / "b1" / target["pack"]
    data = bytearray(path.read_bytes())
    data[target["offset"] + 3] ^= 1
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))
    r = ArchiveReader(store, "b1")
    with pytest.raises(AdharError, match="cm-010.json of backup b1 is corrupted"):
        r.read(target["path"])
    results = list(r.read_many(r.items("resources")))
    bad = [rec["path"] for rec, data, exc in results if exc is not None]
    assert bad == [target["path"]] and len(results) == 61
    report = r.verify(raise_on_error=False)
    assert not report["ok"] and {p["path"] for p in report["problems"]} == {target["path"], target["pack"]}


def test_a_missing_pack_makes_its_items_missing(store, tmp_path):
    m = write(store, big=False)
    pack = m["packs"][0]
    os.remove(tmp_path / "backups" / "b1" / pack["path"])
    r = ArchiveReader(store, "b1")
    report = r.verify(raise_on_error=False)
    assert len(report["problems"]) == pack["items"] and {p["problem"] for p in report["problems"]} == {"missing"}
    assert pack["path"] in report["problems"][0]["msg"]


def test_an_item_placed_outside_its_pack_is_refused(store, tmp_path):
    m = write(store, big=False)
    item = next(i for i in m["items"] if "pack" in i)
    item["offset"] = next(p["size"] for p in m["packs"] if p["path"] == item["pack"])
    with pytest.raises(AdharError, match="outside its pack"):
        fmt.parse_manifest(fmt.dump_manifest(m), "b1")


def test_pack_size_zero_writes_format_1_2(store):
    m = write(store, pack_size=0, big=False)
    assert m["format_version"] == archive.UNPACKED_VERSION and "packs" not in m
    assert len([p for p in _paths(store) if "/resources/" in p]) == 61


@pytest.mark.parametrize("bad", [-1, 1.5, "4"])
def test_bad_pack_size(store, bad):
    with pytest.raises(AdharError, match="pack_size"):
        ArchiveWriter(store, "b1", cluster="prod", pack_size=bad)
    assert not _paths(store)


def test_buffered_packs_are_bounded(store):
    """Many resource types at once: the open packs together never hold more than PACK_BUFFERS x pack_size."""
    w = ArchiveWriter(store, "b1", cluster="prod", pack_size=4000)
    high = 0
    for i in range(400):
        w.add(archive.resource_path("things%d" % (i % 40), "example.com", "prod", "x%d" % i), {"spec": "y" * 100})
        high = max(high, w._buffered)  # pylint: disable=protected-access
    m = w.commit()
    assert high < 4 * 4000 + 200 and sum(p["items"] for p in m["packs"]) == 400
    assert ArchiveReader(store, "b1").verify()["ok"]


def test_a_batch_of_small_items_is_packed_as_items_added_one_by_one(store):
    """``submit_many`` of byte items in a packed backup (a listed page) gives the records ``add`` gives, one failure
    per bad item (the same path twice, in the batch or before it; encryption without a key), and the rest stored."""
    long_name = "n" * 230
    path, labels = archive.resource_item("configmaps", "", "prod", long_name)
    items = [(archive.resource_path("configmaps", "", "prod", "cm-%03d" % i), json.dumps(_cm(i)).encode(), None, {})
             for i in range(40)] + [(path, b'{"kind":"ConfigMap"}', None, labels)]
    one = ArchiveWriter(store, "one", cluster="prod", pack_size=1500)
    for item_path, data, encrypt, item_labels in items:
        one.add(item_path, data, encrypt, **item_labels)
    batched = ArchiveWriter(store, "batched", cluster="prod", pack_size=1500, workers=1)  # the batches in order
    batched.submit_many(items[:25])
    batched.submit_many(items[25:])
    assert [r.to_dict() for r in one.commit()["items"]] == [r.to_dict() for r in batched.commit()["items"]]
    assert labels == {"name": long_name}
    reader = ArchiveReader(store, "batched")
    assert reader.read(items[7][0]) == items[7][1] and reader.verify()["ok"]

    bad = ArchiveWriter(store, "bad", cluster="prod", pack_size=1500, workers=1)  # the batches in order
    bad.submit_many(items[:3])
    bad.submit_many([items[0], items[5], items[5], ("resources/secrets/namespaces/prod/s.json", b"{}", True, {})])
    with pytest.raises(AdharError, match=r"backup bad: 3 item\(s\) failed; first: item resources/secrets/") as err:
        bad.commit()
    assert err.value.details["failed_items"] == 3 and not store.exists("bad/manifest.json")


def test_a_batch_is_encrypted_item_by_item_and_a_failed_pack_gives_its_items_back(store):
    w = ArchiveWriter(store, "enc", cluster="prod", pack_size=1 << 20, key_wrapper=KEY, workers=1)
    secrets = [("resources/secrets/namespaces/prod/s%d.json" % i, b'{"data":{"k":"%d"}}' % i, True, {}) for i in range(5)]
    w.submit_many(secrets)
    m = w.commit()
    assert [i["path"] for i in m["items"]] == [p + ".enc" for p, dummy, dummy2, dummy3 in secrets]
    assert all(i["encrypted"] for i in m["items"]) and m["encryption"]["encrypted_items"] == 5
    reader = ArchiveReader(store, "enc", KEY)
    assert [reader.read(p) for p, dummy, dummy2, dummy3 in secrets] == [d for dummy, d, dummy2, dummy3 in secrets]

    class Failing(LocalStorage):
        fail = True

        def put(self, key, data, overwrite=False):
            if self.fail and "/packs/" in key:
                raise OSError("disk full")
            return super().put(key, data, overwrite)

    failing = Failing(str(store.root) + "-failing")
    w = ArchiveWriter(failing, "b1", cluster="prod", pack_size=10, workers=1)  # every item fills its pack at once
    w.submit_many([("resources/configmaps/namespaces/prod/a.json", b"0123456789ab", None, {})])
    with pytest.raises(AdharError, match="disk full"):
        w.wait()
    assert "resources/configmaps/namespaces/prod/a.json" not in w._reserved  # pylint: disable=protected-access


class SlowPacks(LocalStorage):
    """Local storage whose pack writes take 50 ms and count how many run at once (object storage: a request each);
    the pack of ``fail_group`` fails."""

    def __init__(self, root, fail_group=None):
        super().__init__(root)
        self.fail_group, self.running, self.most, self.packs = fail_group, 0, 0, []
        self.lock = threading.Lock()

    def put(self, key, data, overwrite=False):
        if "/packs/" not in key:
            return super().put(key, data, overwrite)
        data = [data] if isinstance(data, bytes) else list(data)  # a pack comes as one bytes object
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            if self.fail_group and any(self.fail_group.encode() in chunk for chunk in data):
                raise OSError("the bucket refused it")
            self.packs.append(key)
            return super().put(key, data, overwrite)
        finally:
            with self.lock:
                self.running -= 1


def _one_item_per_type(w, types):
    w.submit_many([("resources/%s/namespaces/prod/x.json" % t, b'{"kind": "%s"}' % t.encode(), None, {})
                   for t in types])


def test_the_open_packs_are_written_side_by_side_at_the_commit(tmp_path):
    types = ["type%02d" % i for i in range(12)]
    slow = SlowPacks(str(tmp_path / "slow"))
    w = ArchiveWriter(slow, "b1", cluster="prod", pack_size=1 << 20, workers=4)
    _one_item_per_type(w, types)
    m = w.commit()
    # twelve half-empty packs, one per type, at most four at a time (not one after the other)
    assert slow.most == 4 and len(slow.packs) == len(m["packs"]) == 12
    assert sorted(i["path"] for i in m["items"]) == sorted("resources/%s/namespaces/prod/x.json" % t for t in types)
    assert ArchiveReader(slow, "b1").verify()["ok"]


def test_one_pack_failing_at_the_commit_fails_it_after_the_others_are_tried(tmp_path):
    types = ["type%02d" % i for i in range(6)]
    slow = SlowPacks(str(tmp_path / "slow"), fail_group="type03")
    w = ArchiveWriter(slow, "b1", cluster="prod", pack_size=1 << 20, workers=3)
    _one_item_per_type(w, types)
    with pytest.raises(OSError, match="refused"):  # what the storage raised (real storages raise AdharError)
        w.commit()
    assert len(slow.packs) == 5 and not w.committed
    assert not any(o.key.endswith(fmt.MANIFEST) for o in slow.list("b1/"))
