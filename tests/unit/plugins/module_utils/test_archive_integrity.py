# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup integrity with the key, with only the verify key, and without any key.

Every tamper below is tried three ways on an encrypted, signed backup (refused each time) and, where it
applies, on an unencrypted one read without a key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter, FORMAT_VERSION, UNPACKED_VERSION
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import canonical_json, mac_payload, signed_payload
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import format_minor, format_version
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import signature_algorithm as fmt_signature_algorithm
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr import crypto_envelope as ce
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage

KEK = bytes(range(32))
CM = "resources/configmaps/namespaces/prod/cm-1.json"
SECRET = "resources/secrets/namespaces/prod/db.json"


@pytest.fixture
def store(tmp_path):
    return LocalStorage(str(tmp_path / "backups"))


def _cm(name, value=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "prod"},
            "data": {"setting": value or "value-of-" + name}}


def write(store, name, key=True, value=None):
    wrapper = ce.KeyWrapper(KEK) if key else None
    w = ArchiveWriter(store, name, cluster="prod", kubernetes_version="v1.36.3", key_wrapper=wrapper)
    for i in range(3):
        w.add_resource(_cm("cm-%d" % i, value), "configmaps")
    if key:
        w.add_resource({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
                        "data": {"p": "c2VjcmV0"}}, "secrets", encrypt=True)
    w.commit()
    return w


def _path(store, key):
    return os.path.join(store.root, *key.split("/"))


def _manifest(store, name):
    return json.loads(store.read(name + "/manifest.json"))


def _save_manifest(store, name, manifest):
    with open(_path(store, name + "/manifest.json"), "w") as f:
        json.dump(manifest, f)


def _record(manifest, path):
    return next(i for i in manifest["items"] if i["path"] == path)


def _rewrite_item(store, name, path, data, recompute=True):
    with open(_path(store, name + "/" + path), "wb") as f:
        f.write(data)
    if recompute:
        manifest = _manifest(store, name)
        _record(manifest, path).update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
        _save_manifest(store, name, manifest)


def verify_key():
    return ce.verify_key_info(ce.KeyWrapper(KEK))["verify_key"]


# -- the tampers (each takes the store and the backup name "b1"; "b2" is another backup of the same key) ---------


def t_item_bytes_edited(store, name):
    with open(_path(store, name + "/" + CM), "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x20
    _rewrite_item(store, name, CM, bytes(data), recompute=False)


def t_manifest_field_edited(store, name):
    manifest = _manifest(store, name)
    manifest["cluster"] = "elsewhere"
    _save_manifest(store, name, manifest)


def t_item_edited_checksum_recomputed(store, name):
    _rewrite_item(store, name, CM, json.dumps(_cm("cm-1", "EVIL"), sort_keys=True).encode())


def t_item_swapped_from_another_backup(store, name):
    write(store, "b2", value="from-b2")
    shutil.copyfile(_path(store, "b2/" + CM), _path(store, name + "/" + CM))
    manifest = _manifest(store, name)
    _record(manifest, CM).update(_record(_manifest(store, "b2"), CM))
    _save_manifest(store, name, manifest)


def t_encrypted_item_swapped_from_another_backup(store, name):
    write(store, "b2")
    enc = SECRET + ".enc"
    shutil.copyfile(_path(store, "b2/" + enc), _path(store, name + "/" + enc))
    manifest = _manifest(store, name)
    _record(manifest, enc).update(_record(_manifest(store, "b2"), enc))
    _save_manifest(store, name, manifest)


def t_item_truncated(store, name):
    with open(_path(store, name + "/" + CM), "rb") as f:
        data = f.read()
    _rewrite_item(store, name, CM, data[:len(data) // 2], recompute=False)


def t_items_reordered(store, name):
    manifest = _manifest(store, name)
    manifest["items"].reverse()
    _save_manifest(store, name, manifest)


def t_signature_removed(store, name):
    manifest = _manifest(store, name)
    manifest.pop("signature", None)
    _save_manifest(store, name, manifest)


def t_mac_removed(store, name):
    manifest = _manifest(store, name)
    manifest.pop("mac", None)
    _save_manifest(store, name, manifest)


def t_encryption_block_removed(store, name):
    """The strip attack: encryption, mac, signature and the encrypted items gone; an item edited with its checksum."""
    manifest = _manifest(store, name)
    for field in ("encryption", "mac", "signature"):
        manifest.pop(field, None)
    manifest["items"] = [i for i in manifest["items"] if not i.get("encrypted")]
    _save_manifest(store, name, manifest)
    t_item_edited_checksum_recomputed(store, name)


def t_resigned_with_another_key(store, name):
    """An attacker signs an edited manifest with a key of their own (and records its public key in it)."""
    t_item_edited_checksum_recomputed(store, name)
    manifest = _manifest(store, name)
    manifest.pop("mac", None)
    manifest.pop("encryption", None)
    manifest["items"] = [i for i in manifest["items"] if not i.get("encrypted")]
    manifest["signature"] = ce.sign_manifest(ce.signing_key_from_kek(os.urandom(32)), signed_payload(manifest))
    _save_manifest(store, name, manifest)


TAMPERS = [t_item_bytes_edited, t_manifest_field_edited, t_item_edited_checksum_recomputed,
           t_item_swapped_from_another_backup, t_encrypted_item_swapped_from_another_backup, t_item_truncated,
           t_items_reordered, t_signature_removed, t_mac_removed, t_encryption_block_removed, t_resigned_with_another_key]


def _use(reader):
    """What a restore does: the manifest, then every item it can read (each verified), then a full verify."""
    for record in reader.items():
        if not record.get("encrypted") or reader.can_decrypt:
            reader.read(record["path"])
    reader.verify()


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.__name__[2:])
@pytest.mark.parametrize("how", ["key", "verify_key", "no_key"])
def test_every_tamper_of_an_encrypted_backup_is_refused(store, tamper, how):
    write(store, "b1")
    tamper(store, "b1")
    kwargs = {"key": {"key_wrapper": ce.KeyWrapper(KEK)}, "verify_key": {"verify_key": verify_key()},
              "no_key": {}}[how]
    reader = ArchiveReader(store, "b1", **kwargs)
    with pytest.raises(AdharError) as err:
        _use(reader)
    # nothing of the tampered backup was handed out: the refusal is about the backup, never a crash elsewhere
    assert "b1" in err.value.msg or err.value.msg.startswith(ce.DECRYPT_ERROR), err.value.msg


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.__name__[2:])
def test_a_different_verify_key_refuses_even_an_intact_or_tampered_backup(store, tamper):
    write(store, "b1")
    tamper(store, "b1")
    other = ce.verify_key_info(ce.KeyWrapper(os.urandom(32)))["verify_key"]
    with pytest.raises(AdharError):
        _use(ArchiveReader(store, "b1", verify_key=other))


def test_intact_encrypted_backup(store):
    w = write(store, "b1")
    info = w.verify_key
    assert info == ce.verify_key_info(ce.KeyWrapper(KEK))  # the verify key is a function of the KEK alone
    assert info["verify_key_id"].startswith("ed25519:") and len(base64.b64decode(info["verify_key"])) == 32
    manifest = _manifest(store, "b1")
    assert manifest["format_version"] == UNPACKED_VERSION == "1.3.0" and FORMAT_VERSION == "2.1.0"
    assert manifest["signature"]["public_key"] == info["verify_key"]
    assert manifest["signature"]["algorithm"] == ce.SIGNATURE_ALGORITHM == "ed25519-sha512"
    with_key = ArchiveReader(store, "b1", ce.KeyWrapper(KEK))
    report = with_key.verify()
    assert report["ok"] and report["decryption_checked"] and report["integrity"] == "signed"
    assert with_key.read_json(SECRET)["data"] == {"p": "c2VjcmV0"}
    # only the verify key: the manifest and every unencrypted item are checked; encrypted ones are not opened
    only = ArchiveReader(store, "b1", verify_key=info["verify_key"])
    report = only.verify()
    assert report["ok"] and not report["decryption_checked"] and report["integrity"] == "signed"
    assert "checked by their signed checksums, not decrypted" in report["warnings"][0]
    assert only.read_json(CM) == _cm("cm-1")
    with pytest.raises(AdharError, match="is encrypted with the key %s" % ce.KeyWrapper(KEK).key_id):
        only.read(SECRET)
    # no key at all: refused before any item, naming the key and the options
    with pytest.raises(AdharError) as err:
        ArchiveReader(store, "b1").manifest
    assert err.value.msg == ("backup b1 is encrypted with the key %s: give encryption.key, key_file or key_env (or "
                             "verify_key to check it and read only its unencrypted items); nothing was read"
                             % ce.KeyWrapper(KEK).key_id)


def test_no_item_is_opened_before_the_refusal(store, monkeypatch):
    write(store, "b1")
    t_item_edited_checksum_recomputed(store, "b1")
    opened = []
    real_open = store.open
    monkeypatch.setattr(store, "open", lambda key: opened.append(key) or real_open(key))
    for kwargs in ({}, {"key_wrapper": ce.KeyWrapper(KEK)}, {"verify_key": verify_key()}):
        with pytest.raises(AdharError):
            ArchiveReader(store, "b1", **kwargs).items()
    assert opened and all(k.rsplit("/", 1)[1] in ("manifest.json", "started.json") for k in opened), opened


def test_unencrypted_backup_without_a_key_is_checksums_only(store):
    write(store, "p1", key=False)
    reader = ArchiveReader(store, "p1")
    report = reader.verify()
    assert report["ok"] and report["integrity"] == "checksums-only"
    assert "integrity: checksums-only" in report["warnings"][0]
    # a key or a verify key given for it: refused (it may be an encrypted backup whose header was removed)
    with pytest.raises(AdharError, match=r"a key was given but backup p1 carries no signature \(no encryption header, no "
                                         r"MAC\): it is not the encrypted backup you expect, or its encryption header was "
                                         r"removed"):
        ArchiveReader(store, "p1", ce.KeyWrapper(KEK)).manifest
    with pytest.raises(AdharError, match="verify_key was given but backup p1 carries no signature"):
        ArchiveReader(store, "p1", verify_key=verify_key()).manifest
    with pytest.raises(AdharError, match="require_signature needs a key"):
        ArchiveReader(store, "p1", require_signature=True)


@pytest.mark.parametrize("tamper, refused", [
    (t_item_bytes_edited, True),
    (t_item_truncated, True),
    (t_items_reordered, True),
    (t_item_swapped_from_another_backup, False),  # checksums recomputed: only a key can tell
    (t_item_edited_checksum_recomputed, False),
])
def test_unencrypted_backup_without_a_key_detects_accidents_only(store, tamper, refused):
    write(store, "b1", key=False)
    if tamper is t_item_swapped_from_another_backup:
        write(store, "b2", key=False, value="from-b2")
        shutil.copyfile(_path(store, "b2/" + CM), _path(store, "b1/" + CM))
        manifest = _manifest(store, "b1")
        _record(manifest, CM).update(_record(_manifest(store, "b2"), CM))
        _save_manifest(store, "b1", manifest)
    else:
        tamper(store, "b1")
    reader = ArchiveReader(store, "b1")
    if refused:
        with pytest.raises(AdharError, match="b1"):
            _use(reader)
    else:
        _use(reader)
        assert reader.integrity == "checksums-only"


def test_stripped_header_is_refused_without_a_key_while_started_json_says_encrypted(store):
    write(store, "b1")
    t_encryption_block_removed(store, "b1")
    with pytest.raises(AdharError, match="was started as an encrypted backup but its manifest has no encryption"):
        ArchiveReader(store, "b1").manifest
    # the same attack with started.json rewritten too cannot be told from an unencrypted backup without a key ...
    started = json.loads(store.read("b1/started.json"))
    started["encrypted"] = False
    with open(_path(store, "b1/started.json"), "w") as f:
        json.dump(started, f)
    assert ArchiveReader(store, "b1").manifest["name"] == "b1"
    # ... which is why the key or the verify key refuses it
    for kwargs in ({"key_wrapper": ce.KeyWrapper(KEK)}, {"verify_key": verify_key()},
                   {"verify_key": verify_key(), "require_signature": True}):
        with pytest.raises(AdharError, match="carries no signature"):
            ArchiveReader(store, "b1", **kwargs).manifest


def test_signature_recorded_key_is_never_trusted(store):
    """A manifest re-signed by an attacker verifies with the key it records, and is refused with the user's key."""
    write(store, "b1")
    t_resigned_with_another_key(store, "b1")
    manifest = _manifest(store, "b1")
    recorded = base64.b64decode(manifest["signature"]["public_key"])
    ce.check_manifest_signature(manifest["signature"], signed_payload(manifest), recorded, "b1")  # self-consistent
    with pytest.raises(AdharError, match="is not signed by the key you gave"):
        ArchiveReader(store, "b1", verify_key=verify_key()).manifest


def _legacy_signed(store, name, version, algorithm=ce.LEGACY_SIGNATURE_ALGORITHM):
    """Rewrite backup ``name`` as a writer of ``version`` made it: that version, signed with ``algorithm`` (the MAC
    recomputed with the backup's own data key, as that writer did)."""
    manifest = _manifest(store, name)
    manifest["format_version"] = version
    manifest.pop("signature")
    dek = ce.open_envelope(manifest["encryption"], ce.KeyWrapper(KEK), name)
    manifest["mac"] = dek.manifest_mac(mac_payload(manifest))
    manifest["signature"] = ce.sign_manifest(ce.signing_key_from_kek(KEK), signed_payload(manifest), algorithm)
    _save_manifest(store, name, manifest)
    return manifest


@pytest.mark.parametrize("version", ["1.1.0", "1.2.0"])
def test_a_backup_signed_over_the_whole_manifest_is_still_verified(store, version):
    """Formats 1.1, 1.2 and 2.0 signed the whole canonical manifest: such backups verify with the key and the
    verify key, and a changed byte is still refused."""
    write(store, "b1")
    manifest = _legacy_signed(store, "b1", version)
    assert manifest["signature"]["algorithm"] == "ed25519"
    assert fmt_signature_algorithm(manifest) == "ed25519"
    for kwargs in ({"key_wrapper": ce.KeyWrapper(KEK)}, {"verify_key": verify_key(), "require_signature": True}):
        assert ArchiveReader(store, "b1", **kwargs).verify()["integrity"] == "signed"
    manifest["cluster"] = "elsewhere"
    _save_manifest(store, "b1", manifest)
    with pytest.raises(AdharError, match="does not match its signature"):
        ArchiveReader(store, "b1", verify_key=verify_key()).manifest


@pytest.mark.parametrize("text, version, minor, algorithm", [
    ("2.1.0", (2, 1), 1, "ed25519-sha512"), ("2.0", (2, 0), 0, "ed25519"), ("1.2.7", (1, 2), 2, "ed25519"),
    ("1", (1, 0), 0, "ed25519-sha512"), (None, None, 0, "ed25519-sha512"), ("two.one", None, 0, "ed25519-sha512"),
])
def test_the_format_version_is_read_once_for_every_use(text, version, minor, algorithm):
    manifest = {} if text is None else {"format_version": text}
    assert format_version(manifest) == version
    assert format_minor(manifest) == minor
    assert fmt_signature_algorithm(manifest) == algorithm


def test_the_signature_algorithm_must_be_the_one_of_the_format(store):
    """A 1.3 manifest carrying a whole-manifest signature, or a 1.2 one carrying a digest signature, is refused (each
    verifies only under its own algorithm, so the version decides)."""
    write(store, "b1")
    _legacy_signed(store, "b1", UNPACKED_VERSION, ce.LEGACY_SIGNATURE_ALGORITHM)
    with pytest.raises(AdharError, match="carries no ed25519-sha512 signature"):
        ArchiveReader(store, "b1", verify_key=verify_key()).manifest
    _legacy_signed(store, "b1", "1.2.0", ce.SIGNATURE_ALGORITHM)
    with pytest.raises(AdharError, match="carries no ed25519 signature"):
        ArchiveReader(store, "b1", verify_key=verify_key()).manifest


def test_the_digest_signature_is_over_the_streamed_payload():
    """``ed25519-sha512`` signs a prefixed SHA-512 of the payload: chunks and joined bytes give one signature."""
    key = ce.signing_key_from_kek(KEK)
    chunks = [b'{"a":', b"1,", b'"b":2}']
    streamed = ce.sign_manifest(key, iter(chunks))
    assert streamed == ce.sign_manifest(key, b"".join(chunks))
    message = ce.signature_message(ce.SIGNATURE_ALGORITHM, b"".join(chunks))
    assert message == b"adhar manifest sha512 v1\x00" + hashlib.sha512(b"".join(chunks)).digest()
    assert len(message) == 25 + 64
    with pytest.raises(AdharError, match="unknown manifest signature algorithm"):
        ce.signature_message("rsa", b"x")


def test_legacy_format_1_0_is_read_under_the_same_rules(store):
    """A 1.0 manifest (no signature) opens with the key (MAC), is refused with a verify key and without a key."""
    w = ArchiveWriter(store, "old", cluster="prod", key_wrapper=ce.KeyWrapper(KEK))
    w.add_resource(_cm("cm-1"), "configmaps")
    w.commit()
    manifest = _manifest(store, "old")
    manifest.pop("signature")
    manifest.pop("mac")
    manifest["format_version"] = "1.0.0"
    dek = ce.open_envelope(manifest["encryption"], ce.KeyWrapper(KEK), "old")
    manifest["mac"] = dek.manifest_mac(canonical_json(manifest))  # 1.0: the mac over everything but itself
    _save_manifest(store, "old", manifest)
    reader = ArchiveReader(store, "old", ce.KeyWrapper(KEK))
    assert reader.verify()["ok"] and reader.integrity == "authenticated"
    with pytest.raises(AdharError, match="verify_key was given but backup old carries no signature"):
        ArchiveReader(store, "old", verify_key=verify_key()).manifest
    with pytest.raises(AdharError, match="backup old is encrypted"):
        ArchiveReader(store, "old").manifest


class FakeKms:
    """KMS for a unit test: AES-GCM under a key of its own, the encryption context as associated data."""

    def __init__(self):
        self._key = os.urandom(32)

    def encrypt(self, KeyId, Plaintext, EncryptionContext):  # noqa: N803 - boto3's argument names
        nonce = os.urandom(12)
        aad = json.dumps(EncryptionContext, sort_keys=True).encode()
        return {"KeyId": KeyId, "CiphertextBlob": nonce + ce.AESGCM(self._key).encrypt(nonce, Plaintext, aad)}

    def decrypt(self, CiphertextBlob, EncryptionContext, KeyId=None):  # noqa: N803 - boto3's argument names
        aad = json.dumps(EncryptionContext, sort_keys=True).encode()
        return {"Plaintext": ce.AESGCM(self._key).decrypt(CiphertextBlob[:12], CiphertextBlob[12:], aad)}


def test_kms_backups_are_authenticated_not_signed(store):
    kms = ce.KmsKeyWrapper("arn:aws:kms:eu-west-1:1:key/k", region="eu-west-1", client=FakeKms())
    w = ArchiveWriter(store, "k1", cluster="prod", key_wrapper=kms)
    w.add_resource(_cm("cm-1"), "configmaps")
    w.commit()
    assert "signature" not in _manifest(store, "k1") and w.verify_key == {"verify_key": None, "verify_key_id": None}
    reader = ArchiveReader(store, "k1", kms)
    assert reader.verify()["ok"] and reader.integrity == "authenticated"
    with pytest.raises(AdharError, match="backups encrypted with AWS KMS"):
        ArchiveReader(store, "k1", verify_key=verify_key()).manifest
    with pytest.raises(AdharError, match="is encrypted with the AWS KMS key arn:aws:kms:eu-west-1:1:key/k: give "
                                         "encryption.kms_key_id"):
        ArchiveReader(store, "k1").manifest
    t_item_edited_checksum_recomputed(store, "k1")
    with pytest.raises(AdharError, match="does not match its signature"):
        ArchiveReader(store, "k1", kms).manifest


@pytest.mark.parametrize("value, words", [
    ("", "verify_key is empty"),
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"x" * 31).decode(), "decodes to 31 bytes"),
])
def test_bad_verify_keys_are_one_clear_error(store, value, words):
    with pytest.raises(AdharError, match=words) as err:
        ce.parse_verify_key(value)
    assert err.value.details["option"] == "verify_key"


def test_signing_key_is_derived_from_the_kek_only():
    a, b = ce.KeyWrapper(KEK), ce.KeyWrapper(base64.b64encode(KEK).decode())
    assert a.verify_key == b.verify_key != ce.KeyWrapper(os.urandom(32)).verify_key
    assert ce.verify_key_info(b)["verify_key"] == base64.b64encode(a.verify_key).decode()
    # the derivation documented in docs/backup-format.md (HKDF-SHA256, info "adhar manifest signing v1", no salt)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"adhar manifest signing v1").derive(KEK)
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert raw == a.verify_key
