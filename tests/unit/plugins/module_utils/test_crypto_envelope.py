# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._dr import crypto_envelope as ce
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()


# -- key parsing -------------------------------------------------------------------

@pytest.mark.parametrize("value", [KEY, KEY_B64, KEY_B64 + "\n", " " + KEY_B64, base64.urlsafe_b64encode(KEY).decode(),
                                   KEY_B64.rstrip("="), KEY_B64.encode()])
def test_parse_key_accepts_raw_and_base64(value):
    assert ce.parse_key(value, "test") == KEY


@pytest.mark.parametrize("value, words", [
    ("", "is empty"),
    (base64.b64encode(b"x" * 16).decode(), "decodes to 16 bytes; AES-256 needs exactly 32"),
    (base64.b64encode(b"x" * 33).decode(), "decodes to 33 bytes"),
    ("correct horse battery staple!!", "not base64"),
    (KEY.hex(), "looks like hex"),
    (b"\xff" * 31, "31 bytes of binary data"),
])
def test_parse_key_says_what_is_wrong(value, words):
    with pytest.raises(AdharError) as err:
        ce.parse_key(value, "environment variable K")
    assert words in err.value.msg
    assert "environment variable K" in err.value.msg
    # the message never contains the value
    if value:
        assert str(value) not in err.value.msg


def test_read_key_file_raw_and_text(tmp_path):
    raw = tmp_path / "raw.key"
    raw.write_bytes(KEY)
    text = tmp_path / "text.key"
    text.write_text(KEY_B64 + "\n")
    assert ce.read_key_file(str(raw)) == KEY
    assert ce.read_key_file(str(text)) == KEY
    with pytest.raises(AdharError, match="cannot read the encryption key file"):
        ce.read_key_file(str(tmp_path / "missing"))
    big = tmp_path / "big"
    big.write_bytes(b"a" * 5000)
    with pytest.raises(AdharError, match="larger than 4 KiB"):
        ce.read_key_file(str(big))


def test_read_key_env():
    assert ce.read_key_env("K", {"K": KEY_B64}) == KEY
    with pytest.raises(AdharError, match="K .* is not set"):
        ce.read_key_env("K", {})


def test_key_wrapper_from_params(tmp_path, monkeypatch):
    assert ce.key_wrapper_from_params(None) is None
    assert ce.key_wrapper_from_params({"key": None}) is None
    w = ce.key_wrapper_from_params({"key": KEY_B64})
    assert isinstance(w, ce.KeyWrapper) and w.key_id == ce.kek_id(KEY)
    f = tmp_path / "k"
    f.write_bytes(KEY)
    assert ce.key_wrapper_from_params({"key_file": str(f)}).key_id == w.key_id
    monkeypatch.setenv("ADHAR_TEST_KEY", KEY_B64)
    assert ce.key_wrapper_from_params({"key_env": "ADHAR_TEST_KEY"}).key_id == w.key_id
    with pytest.raises(AdharError, match="only one of"):
        ce.key_wrapper_from_params({"key": KEY_B64, "key_env": "ADHAR_TEST_KEY"})
    kms = ce.key_wrapper_from_params({"kms_key_id": "alias/x", "kms_region": "eu-west-1"},
                                     {"type": "s3", "aws_access_key_id": "A", "aws_secret_access_key": "S"})
    assert isinstance(kms, ce.KmsKeyWrapper)
    assert kms.key_id == "alias/x" and kms.region == "eu-west-1"
    assert kms._credentials == {"aws_access_key_id": "A", "aws_secret_access_key": "S"}
    reader_only = ce.key_wrapper_from_params({"kms_region": "eu-west-1"})
    assert isinstance(reader_only, ce.KmsKeyWrapper) and reader_only.key_id is None
    with pytest.raises(AdharError, match="kms_key_id is required"):
        reader_only.wrap(b"k" * 32, "b")


def test_kek_id_is_stable_and_does_not_reveal_the_key():
    assert ce.kek_id(KEY) == ce.kek_id(KEY)
    assert ce.kek_id(KEY) != ce.kek_id(os.urandom(32))
    assert KEY.hex()[:8] not in ce.kek_id(KEY)


# -- envelope --------------------------------------------------------------------

def test_envelope_round_trip_and_wrong_key():
    wrapper = ce.KeyWrapper(KEY)
    dek, meta = ce.new_envelope(wrapper, "b1")
    assert meta["algorithm"] == "AES-256-GCM" and meta["data_key"]["wrapper"] == "key"
    assert base64.b64encode(dek.raw).decode() not in str(meta)
    assert ce.open_envelope(meta, wrapper, "b1").raw == dek.raw
    with pytest.raises(AdharError) as err:
        ce.open_envelope(meta, ce.KeyWrapper(os.urandom(32)), "b1")
    assert err.value.msg == ce.DECRYPT_ERROR
    assert err.value.details["expected_kek_id"] == wrapper.key_id
    # the wrapped key is bound to its backup name
    with pytest.raises(AdharError, match=ce.DECRYPT_ERROR):
        ce.open_envelope(meta, wrapper, "b2")
    with pytest.raises(AdharError, match="is encrypted with the key %s: give encryption.key" % wrapper.key_id):
        ce.open_envelope(meta, None, "b1")


def test_open_envelope_refuses_a_kms_backup_with_a_local_key():
    meta = {"algorithm": ce.ALGORITHM, "scheme": ce.SCHEME, "segment_size": ce.SEGMENT_SIZE,
            "data_key": {"wrapper": "aws-kms", "wrapped": "AAAA"}}
    with pytest.raises(AdharError, match="wrapped by aws-kms"):
        ce.open_envelope(meta, ce.KeyWrapper(KEY), "b")


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 64, 65, 1000])
def test_stream_round_trip_at_segment_boundaries(size):
    dek = ce.DataKey.generate(segment_size=16)
    data = os.urandom(size)
    aad = ce.item_aad("b", "resources/secrets/namespaces/a/s.json.enc")
    sealed = dek.encrypt(data, aad)
    segments = max(1, -(-size // 16))
    assert len(sealed) == ce.HEADER_SIZE + size + ce.TAG_SIZE * segments
    assert dek.decrypt(sealed, aad) == data
    # any chunking of the stored bytes decrypts the same
    pieces = [sealed[i:i + 7] for i in range(0, len(sealed), 7)]
    assert b"".join(dek.decrypt_chunks(pieces, aad)) == data


def test_plaintext_is_not_in_the_ciphertext():
    dek = ce.DataKey.generate()
    secret = b"the-password-is-hunter2" * 10
    sealed = dek.encrypt(secret, ce.item_aad("b", "x"))
    assert b"hunter2" not in sealed


def test_same_plaintext_encrypts_differently():
    dek = ce.DataKey.generate()
    aad = ce.item_aad("b", "x")
    assert dek.encrypt(b"same", aad) != dek.encrypt(b"same", aad)


def _tamper_cases(sealed):
    flipped = bytearray(sealed)
    flipped[-1] ^= 0x01
    header_flip = bytearray(sealed)
    header_flip[10] ^= 0x01
    return {
        "flipped last byte": bytes(flipped),
        "flipped header byte": bytes(header_flip),
        "truncated at a segment boundary": sealed[:ce.HEADER_SIZE + 16 + ce.TAG_SIZE],
        "truncated inside the header": sealed[:10],
        "empty": b"",
        "segments swapped": sealed[:ce.HEADER_SIZE] + sealed[ce.HEADER_SIZE + 32:ce.HEADER_SIZE + 64]
        + sealed[ce.HEADER_SIZE:ce.HEADER_SIZE + 32] + sealed[ce.HEADER_SIZE + 64:],
    }


@pytest.mark.parametrize("case", ["flipped last byte", "flipped header byte", "truncated at a segment boundary",
                                  "truncated inside the header", "empty", "segments swapped"])
def test_tampering_is_detected(case):
    dek = ce.DataKey.generate(segment_size=16)
    aad = ce.item_aad("b", "p")
    sealed = dek.encrypt(os.urandom(100), aad)
    with pytest.raises(AdharError) as err:
        dek.decrypt(_tamper_cases(sealed)[case], aad, item="p")
    assert err.value.msg == ce.DECRYPT_ERROR
    assert err.value.details["item"] == "p"


def test_item_bound_to_path_backup_and_key():
    dek = ce.DataKey.generate()
    sealed = dek.encrypt(b"data", ce.item_aad("b", "resources/secrets/namespaces/a/one.json.enc"))
    for aad in (ce.item_aad("b", "resources/secrets/namespaces/a/two.json.enc"), ce.item_aad("c", "resources/secrets/namespaces/a/one.json.enc")):
        with pytest.raises(AdharError, match=ce.DECRYPT_ERROR):
            dek.decrypt(sealed, aad)
    with pytest.raises(AdharError, match=ce.DECRYPT_ERROR):
        ce.DataKey.generate().decrypt(sealed, ce.item_aad("b", "resources/secrets/namespaces/a/one.json.enc"))


def test_decryption_releases_nothing_before_the_segment_is_authenticated():
    dek = ce.DataKey.generate(segment_size=16)
    aad = ce.item_aad("b", "p")
    sealed = bytearray(dek.encrypt(b"A" * 16 + b"B" * 16, aad))
    sealed[ce.HEADER_SIZE + 3] ^= 0x01  # inside the first segment
    out = []
    with pytest.raises(AdharError):
        for chunk in dek.decrypt_chunks([bytes(sealed)], aad):
            out.append(chunk)
    assert out == []


def test_a_header_asking_for_a_huge_segment_is_refused():
    dek = ce.DataKey.generate(segment_size=16)
    sealed = bytearray(dek.encrypt(b"x", b"a"))
    sealed[8:12] = (2 ** 31).to_bytes(4, "big")
    with pytest.raises(AdharError, match=ce.DECRYPT_ERROR):
        dek.decrypt(bytes(sealed), b"a")


def test_manifest_mac():
    dek = ce.DataKey.generate()
    mac = dek.manifest_mac(b"{}")
    dek.check_manifest_mac(b"{}", mac)
    with pytest.raises(AdharError, match="does not match its signature"):
        dek.check_manifest_mac(b'{"a":1}', mac)
    with pytest.raises(AdharError):
        dek.check_manifest_mac(b"{}", None)


def test_encryption_arg_spec_options():
    options = ce.ENCRYPTION_ARG_SPEC["encryption"]["options"]
    assert options["key"]["no_log"] is True
    assert ce.ENCRYPTION_ARG_SPEC["encryption"]["mutually_exclusive"] == [list(ce.KEY_SOURCES)]
