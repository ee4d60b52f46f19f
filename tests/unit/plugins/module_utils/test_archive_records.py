# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compact manifest records: a ``Record`` reads like the dict it stands for, the manifest is parsed record by record
into them (the same value and the same errors as ``json.loads``), and the encodings (canonical payloads, the stored
manifest, the streamed chunks) are byte for byte those of plain dicts."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._archive import format as fmt
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import Record
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key, new_envelope
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import Outline, outline, Selection
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage

SHA = hashlib.sha256(b"x").hexdigest()


def _items(n=2500):
    out = []
    for i in range(n):
        item = {"path": "resources/configmaps/namespaces/a/cm-%05d.json" % i, "size": i, "sha256": "%064x" % i}
        if i % 3 == 0:
            item.update(path=item["path"] + ".enc", encrypted=True)
        if i % 5 == 0:
            item.update(pack="packs/%06d.pack" % (i // 100), offset=i * 10)
        if i % 7 == 0:
            item["name"] = "\u00e9t\u00e9-%d" % i
        out.append(item)
    return sorted(out, key=lambda r: r["path"])


def test_a_record_reads_like_its_dict():
    plain = {"path": "resources/secrets/namespaces/a/s.json.enc", "size": 12, "sha256": SHA, "encrypted": True,
             "pack": "packs/000001.pack", "offset": 0, "resource": "secrets"}
    record = Record.parsed(dict(plain))
    assert record == plain and plain == record and record.to_dict() == plain
    assert record["sha256"] == SHA and record.get("sha256") == SHA and isinstance(record._sha, bytes)
    assert "pack" in record and "nope" not in record and record.get("nope", 5) == 5
    assert list(record) == sorted(plain) and len(record) == len(plain)
    assert dict(record) == plain and dict({"section": "resources"}, **record) == dict(plain, section="resources")
    with pytest.raises(KeyError):
        record["nope"]
    record["offset"] = 7
    del record["resource"]
    assert record.to_dict() == {k: v for k, v in dict(plain, offset=7).items() if k != "resource"}
    assert "resource" not in record and record["offset"] == 7
    # values kept as they were: a malformed checksum stays a string, false stays false, absent stays absent
    odd = Record.parsed({"path": "p", "sha256": "ABC", "encrypted": False, "size": True})
    assert odd.to_dict() == {"path": "p", "sha256": "ABC", "encrypted": False, "size": True}
    assert "offset" not in odd and odd.get("offset") is None


def test_the_pack_paths_of_records_are_shared():
    one = Record.parsed({"path": "a", "pack": "".join(["packs/", "000001.pack"])})
    two = Record.parsed({"path": "b", "pack": "".join(["packs/", "000001", ".pack"])})
    assert one["pack"] is two["pack"]


@pytest.mark.parametrize("records", [False, True])
def test_encodings_of_records_are_those_of_dicts(records):
    items = _items()
    manifest = {"format": "adhar-backup", "name": "b", "items": items, "mac": "m", "signature": {"value": "v"},
                "packs": [{"path": "packs/000001.pack"}]}
    given = dict(manifest, items=[Record.parsed(dict(i)) for i in items]) if records else manifest
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    assert fmt.canonical_json(given) == canonical
    assert b"".join(fmt.canonical_chunks(given)) == canonical
    without_mac = {k: v for k, v in manifest.items() if k not in ("mac", "signature")}
    assert b"".join(fmt.mac_payload(given)) == json.dumps(without_mac, sort_keys=True, separators=(",", ":")).encode()
    without_signature = {k: v for k, v in manifest.items() if k != "signature"}
    assert b"".join(fmt.signed_payload(given)) == json.dumps(without_signature, sort_keys=True, separators=(",", ":")).encode()
    before, after = fmt.authenticated_chunks(given)  # the mac's payload cut where the mac goes
    before = b"".join(before)
    assert before + after == b"".join(fmt.mac_payload(given))
    assert before + b',"mac":"m"' + after == b"".join(fmt.signed_payload(given))
    dumped = fmt.dump_manifest(given)
    assert b"".join(fmt.manifest_chunks(given)) == dumped
    assert json.loads(dumped) == manifest
    assert dumped.count(b"\n") == len(items) + 3  # one record per line


@pytest.mark.parametrize("fields", [
    {"path": "resources/configmaps/namespaces/a/cm.json", "size": 3, "sha256": SHA, "pack": "packs/000001.pack", "offset": 0},
    {"path": "resources/secrets/namespaces/a/s.json.enc", "size": 2 ** 40, "sha256": SHA, "encrypted": True,
     "pack": "packs/000002.pack", "offset": 12345},
    {"path": "resources/configmaps/namespaces/\u00e9t\u00e9/\"q\"\\\u2028.json", "size": 1, "sha256": SHA,
     "pack": "packs/\u00e9.pack", "offset": 1},
    {"path": "p", "size": 1, "sha256": SHA, "encrypted": False, "pack": "x", "offset": 1},
    {"path": "p", "size": True, "sha256": SHA, "pack": "x", "offset": 1},
    {"path": "p", "size": 1.5, "sha256": "ABC", "pack": "x", "offset": -1},
    {"path": "p", "size": 1, "sha256": SHA},
    {"path": "p", "size": 1, "sha256": SHA, "pack": "x", "offset": 1, "name": "n", "resource": "r"},
])
def test_the_canonical_text_of_a_record_is_that_of_its_dict(fields):
    want = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert Record.parsed(dict(fields)).canonical() == want
    made = Record.item(fields["path"], fields["size"], bytes.fromhex(SHA), fields.get("encrypted"),
                       {k: v for k, v in fields.items() if k in ("name", "resource")})
    if "pack" in fields:
        made.place(fields["pack"], fields["offset"])
    if fields["sha256"] == SHA and fields.get("encrypted") is not False:
        assert made.canonical() == want


def test_a_streamed_mac_is_the_mac_of_the_joined_payload():
    dek = new_envelope(KeyWrapper(generate_key()), "b")[0]
    chunks = [b"{", b'"a":', b"1}"]
    assert dek.manifest_mac(iter(chunks)) == dek.manifest_mac(b"".join(chunks))


@pytest.mark.parametrize("text", [
    '{"items": [{"path": "a", "size": 1}, {"path": "b", "x": [1, {"y": 2}]}], "format": "f"}',
    ' \n{ "format" : "f" , "items" : [ ] , "n" : null }\n ',
    '{"items": [1, "two", {"path": "c"}], "items2": {"items": []}}',
    '{"items": {"path": "not a list"}}',
    '{"items": [{"path": "a", "path": "b"}], "items": [{"path": "c"}]}',
    '[1, 2]',
    '"text"',
    '{}',
])
def test_the_manifest_walk_gives_the_value_of_json_loads(text):
    parsed = fmt._load_manifest(text)
    want = json.loads(text)
    assert parsed == want
    if isinstance(want, dict) and isinstance(want.get("items"), list):
        assert [type(i) for i in parsed["items"]] == [Record if isinstance(i, dict) else type(i) for i in want["items"]]


@pytest.mark.parametrize("text", ['{"items": [{"path": "a"},]}', '{"items": [}', '{"a": 1} x', '{"a" 1}', '',
                                  '\ufeff{}', '{"items": [{"path": "a"}] "b": 1}', '{"a": NaN, "items": ['])
def test_an_invalid_manifest_fails_like_json_loads(text):
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(ValueError) as got:
        fmt._load_manifest(text)
    assert str(got.value) == str(expected.value)


def test_a_backup_round_trips_through_records(tmp_path):
    store = LocalStorage(str(tmp_path / "b"))
    key = KeyWrapper(generate_key())
    writer = ArchiveWriter(store, "b1", cluster="c", key_wrapper=key, pack_size=4096)
    for i in range(30):
        writer.add("resources/configmaps/namespaces/a/cm-%02d.json" % i, {"i": i}, encrypt=i % 2 == 0)
    writer.add("resources/configmaps/namespaces/a/big.json", {"data": "x" * 300000})
    manifest = writer.commit()
    assert all(isinstance(i, Record) for i in manifest["items"])
    stored = json.loads(store.read("b1/manifest.json"))
    assert stored["items"] == manifest["items"]
    reader = ArchiveReader(store, "b1", key)
    assert reader.manifest["items"] == stored["items"]
    assert reader.integrity == "signed"
    assert reader.read_json("resources/configmaps/namespaces/a/cm-04.json") == {"i": 4}  # found by bisection
    assert reader.item("resources/configmaps/namespaces/a/cm-05.json")["path"].endswith("cm-05.json")
    with pytest.raises(AdharError, match="is not in backup"):
        reader.item("resources/configmaps/namespaces/a/cm-99.json")
    assert reader.verify()["ok"]


def test_an_outline_reads_like_a_dict():
    obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": "r", "namespace": "n", "uid": "u1", "labels": {"app": "x", "other": "y"},
                        "ownerReferences": [{"controller": True, "uid": "u0", "kind": "Deployment", "name": "d"}]},
           "spec": {"replicas": 1}}
    small = outline("replicasets.apps", obj, Selection({"label_selector": "app=x"}))
    assert isinstance(small, Outline)
    assert small == {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                     "metadata": {"uid": "u1", "labels": {"app": "x"},
                                  "ownerReferences": [{"controller": True, "uid": "u0", "kind": "Deployment"}]}}
    assert small.get("spec") is None and "spec" not in small and small["metadata"]["uid"] == "u1"
    plain = outline("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"uid": "u"}}, Selection({}))
    assert dict(plain) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"uid": "u"}}


@pytest.mark.parametrize("odd", [{"path": "db/a}, {b.dump", "size": 1}, {"path": "x", "parts": [{"a": 1}, {"b": 2}]}, {}])
def test_stored_records_are_one_per_line_whatever_their_values(odd):
    items = [Record.parsed(dict(i)) for i in _items()] + [odd, {"path": "z", "size": 2}]
    dumped = fmt.dump_manifest({"format": "adhar-backup", "items": items})
    assert json.loads(dumped)["items"] == [dict(i) for i in items]
    lines = dumped.decode().splitlines()[2:-1]
    assert len(lines) == len(items) and [json.loads(line.strip().rstrip(",")) for line in lines] == json.loads(dumped)["items"]


@pytest.mark.parametrize("labels", [None, {}, {"name": "n" * 240}, {"resource": "r", "namespace": "ns"}, {"size": 7, "pack": "p"}])
def test_an_item_record_is_the_record_built_key_by_key(labels):
    digest = hashlib.sha256(b"item").digest()
    for encrypted in (False, True):
        fast = Record.item("resources/configmaps/cluster/x.json", 12, digest, encrypted, labels)
        slow = Record(labels or {}, path="resources/configmaps/cluster/x.json", size=12)
        slow.set_digest(digest)
        if encrypted:
            slow["encrypted"] = True
        assert fast.to_dict() == slow.to_dict() and list(fast) == list(slow)
    if labels:
        before = fast.to_dict()
        labels["more"] = 1
        assert fast.to_dict() == before  # the labels were copied, not taken


@pytest.mark.parametrize("pack_size", [0, 4096])
def test_the_manifest_totals_are_those_of_its_items(tmp_path, pack_size):
    store = LocalStorage(str(tmp_path / "b"))
    writer = ArchiveWriter(store, "b1", cluster="c", key_wrapper=KeyWrapper(generate_key()), pack_size=pack_size)
    for i in range(40):
        writer.add("resources/%s/namespaces/a/x-%02d.json" % (("configmaps", "secrets", "widgets.example.com")[i % 3], i),
                   {"i": i}, encrypt=i % 3 == 1)
    writer.add("resources/configmaps/namespaces/a/big.json", {"data": "x" * 300000})
    writer.add_resource({"metadata": {"name": "n" * 240}}, "widgets", "example.com")
    writer.add("etcd/snapshot.db", b"snap", encrypt=True)
    writer.add("resources/odd", b"{}")
    manifest = writer.commit()
    counts, sections = {}, {}
    for record in manifest["items"]:
        info = fmt.describe_path(record["path"])
        resource = record.get("resource") or info.get("resource")
        sections[info["section"]] = sections.get(info["section"], 0) + 1
        if resource:
            counts[resource] = counts.get(resource, 0) + 1
    assert manifest["counts"] == counts and list(manifest["counts"]) == sorted(counts)
    assert manifest["sections"] == sections == {"etcd": 1, "resources": 43}
    assert manifest["item_count"] == 44 and manifest["total_bytes"] == sum(r["size"] for r in manifest["items"])
    assert manifest["encryption"]["encrypted_items"] == sum(1 for r in manifest["items"] if r.get("encrypted")) == 14


@pytest.mark.parametrize("group", ["", "apps", "x" * 210])
def test_resource_items_of_a_page_are_those_of_resource_item(group):
    names = [("ns-a", "a"), ("ns-a", "b"), (None, "c"), ("", "d"), ("ns-" + "n" * 230, "e"), ("ns-a", "f" * 253),
             ("ns-b", "g" * 50), ("ns-b", "g" * 51)]
    expected = [fmt.resource_item("deployments", group, ns, name) for ns, name in names]
    assert fmt.resource_items("deployments", group, names) == expected
    for bad in [("ns-a", "a/b"), ("ns-a", ".."), ("ns-a", ""), ("ns/a", "x"), ("ns-a", None)]:
        with pytest.raises(AdharError) as expected:
            fmt.resource_item("deployments", group, *bad)
        with pytest.raises(AdharError) as got:
            fmt.resource_items("deployments", group, [("ns-a", "ok"), bad])
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("kms", [False, True])
def test_the_stored_manifest_is_its_mac_payload_with_the_mac_and_signature_last(tmp_path, kms):
    store = LocalStorage(str(tmp_path / "b"))
    key = KeyWrapper(generate_key())
    writer = ArchiveWriter(store, "b1", cluster="c", key_wrapper=key, pack_size=4096)
    if kms:  # a key wrapper without a local signing key (AWS KMS): a mac, no signature
        writer._key_wrapper = type("Kms", (), {"signing_key": lambda self: None})()  # pylint: disable=protected-access
    for i in range(30):
        writer.add("resources/configmaps/namespaces/a/cm-%02d.json" % i, {"i": i}, encrypt=i % 2 == 0)
    manifest = writer.commit()
    stored = store.read("b1/manifest.json")
    parsed = json.loads(stored)
    assert list(parsed)[-2:] == (["mac", "signature"] if not kms else ["writer", "mac"])
    assert ("signature" in manifest) != kms and parsed["mac"] == manifest["mac"]
    payload = fmt.canonical_json({k: v for k, v in parsed.items() if k not in ("mac", "signature")})
    tail = b',"mac":' + fmt.canonical_json(parsed["mac"])
    assert stored.startswith(payload[:-1]) and stored[len(payload) - 1:].startswith(tail)  # encoded once, as signed
    if not kms:
        assert ArchiveReader(store, "b1", key).verify()["ok"]
