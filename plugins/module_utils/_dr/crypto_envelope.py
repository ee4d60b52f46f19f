# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side envelope encryption of backup items (AES-256-GCM).

* Every backup gets a fresh random 256-bit **data key** (DEK).
* The DEK is **wrapped** by a key-encryption key (KEK) given as a parameter,
  a file or an environment variable (``KeyWrapper``), or by AWS KMS
  (``KmsKeyWrapper``).  Only the wrapped DEK is stored (in the manifest).
* Each item is encrypted as a stream of segments (``SEGMENT_SIZE`` bytes of
  plaintext each) so that items of any size (etcd snapshots) are never held
  in memory and nothing is released to a reader before it is authenticated:

  - a random 16-byte salt per item derives the item key
    ``HKDF-SHA256(DEK, salt, "adhar item v1")``;
  - a random 7-byte nonce prefix per item; segment ``i`` uses the nonce
    ``prefix || i (4 bytes, big endian) || last (1 byte)`` — the last flag
    makes truncation at a segment boundary detectable, the counter makes
    reordering detectable;
  - the associated data of every segment is the item header plus
    ``"adhar-backup-item" NUL <backup name> NUL <item path>``: an item
    copied to another path or into another backup does not decrypt.

  Stored item = header (``MAGIC`` 8 bytes, segment size 4 bytes, salt 16,
  nonce prefix 7 = 35 bytes) + segments (ciphertext + 16-byte tag each).
* A key derived from the DEK (``"adhar manifest mac v1"``) authenticates the
  manifest (HMAC-SHA256), so unencrypted items of an encrypted backup cannot
  be changed together with their checksums either.
* With a local KEK the manifest is also **signed** (Ed25519; since formats 1.3
  and 2.1 over a domain-separated SHA-512 digest of the manifest, so the
  manifest is hashed as it is encoded and never held whole).  The signing
  key is derived from the KEK (``HKDF-SHA256(KEK, info "adhar manifest
  signing v1")`` is the 32-byte seed), so its public half — the *verify key* —
  is the same for every backup made with that KEK.  Whoever holds only the
  verify key can check the manifest, and through its checksums every
  unencrypted item, without being able to decrypt anything.

Any authentication failure (wrong KEK, wrong KMS key, changed byte, swapped
item) raises one ``AdharError``: ``cannot decrypt: wrong key or tampered data``.

``cryptography`` (and ``boto3`` for KMS) are optional imports: their import
errors are kept in ``CRYPTOGRAPHY_IMPORT_ERROR`` / ``BOTO3_IMPORT_ERROR``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_library
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import retry_call
from ansible_collections.adhar.platform.plugins.module_utils._aws.client import (
    BOTO3_IMPORT_ERROR,
    BotoCoreError,
    ClientError,
    aws_client,
)
from ansible_collections.adhar.platform.plugins.module_utils._aws.errors import aws_retryable

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError as exc:  # pragma: no cover - exercised by sanity's import test
    InvalidTag = InvalidSignature = AESGCM = HKDF = hashes = None
    Ed25519PrivateKey = Ed25519PublicKey = Encoding = PublicFormat = None
    CRYPTOGRAPHY_IMPORT_ERROR = exc
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

ALGORITHM = "AES-256-GCM"
SCHEME = "adhar-stream-v1"
MAGIC = b"ADHRENC1"
KEY_SIZE = 32
SALT_SIZE = 16
PREFIX_SIZE = 7
TAG_SIZE = 16
SEGMENT_SIZE = 64 * 1024
HEADER_SIZE = len(MAGIC) + 4 + SALT_SIZE + PREFIX_SIZE
# Bounds accepted for a stored segment size (a reader must not allocate what a
# tampered header asks for).
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 16 * 1024 * 1024

DECRYPT_ERROR = "cannot decrypt: wrong key or tampered data"

_ITEM_INFO = b"adhar item v1"
_MANIFEST_INFO = b"adhar manifest mac v1"
_KEK_ID_INFO = b"adhar kek id v1"
_SIGNING_INFO = b"adhar manifest signing v1"
# What manifests are signed with: Ed25519 over ``_PREHASH_PREFIX + SHA-512(payload)`` (formats 1.3 and 2.1 on), so the
# payload streams through the hash; formats 1.1, 1.2 and 2.0 signed the whole payload (``LEGACY_SIGNATURE_ALGORITHM``).
SIGNATURE_ALGORITHM = "ed25519-sha512"
LEGACY_SIGNATURE_ALGORITHM = "ed25519"
_PREHASH_PREFIX = b"adhar manifest sha512 v1\x00"
PUBLIC_KEY_SIZE = 32
_DEK_AAD = b"adhar-data-key-v1\x00"
_ITEM_AAD = b"adhar-backup-item\x00"

# Options of the ``encryption`` parameter (see ENCRYPTION_ARG_SPEC) that name a key.
KEY_SOURCES = ("key", "key_file", "key_env", "kms_key_id")

ENCRYPTION_ARG_SPEC = {
    "encryption": {
        "type": "dict",
        "options": {
            "key": {"type": "str", "no_log": True},
            "key_file": {"type": "path", "no_log": False},
            "key_env": {"type": "str", "no_log": False},
            "kms_key_id": {"type": "str", "no_log": False},
            "kms_region": {"type": "str"},
            "kms_endpoint_url": {"type": "str"},
            "kms_profile": {"type": "str"},
        },
        "mutually_exclusive": [list(KEY_SOURCES)],
    },
}

# How a reader checks a backup it may not hold the data key of (mirrored by doc fragment storage.VERIFICATION).
VERIFY_ARG_SPEC = {
    "verify_key": {"type": "str", "no_log": False},
    "require_signature": {"type": "bool", "default": False},
}


def require_cryptography():
    """Raise a clear ``AdharError`` when ``cryptography`` cannot be imported."""
    check_library("cryptography", CRYPTOGRAPHY_IMPORT_ERROR, purpose="for backup encryption")


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def _unb64(text, what):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise AdharError("%s: %s" % (DECRYPT_ERROR, what), item=what) from exc


def _hkdf(key, info, salt=None):
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(key)


# -- key-encryption keys ------------------------------------------------------

_B64_RE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def parse_key(value, source):
    """The 32-byte key in ``value`` (32 raw bytes, or base64 text) or an ``AdharError`` saying what is wrong.

    ``source`` names where the value came from (never the value itself).
    Nothing is derived: a passphrase or a key of another length is refused.
    """
    if isinstance(value, bytes) and len(value) == KEY_SIZE:
        return value
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise AdharError("the encryption key from %s is %d bytes of binary data; it must be exactly %d raw bytes "
                             "or base64 text of %d bytes" % (source, len(value), KEY_SIZE, KEY_SIZE),
                             option="encryption") from None
    text = "".join(str(value).split())
    if not text:
        raise AdharError("the encryption key from %s is empty" % source, option="encryption")
    hint = " (generate one with: openssl rand -base64 32)"
    if _HEX_RE.match(text):
        raise AdharError("the encryption key from %s looks like hex; give the 32 bytes base64-encoded instead%s"
                         % (source, hint), option="encryption")
    if not _B64_RE.match(text):
        raise AdharError("the encryption key from %s is not base64 text (%d characters)%s" % (source, len(text), hint),
                         option="encryption")
    padded = text.replace("-", "+").replace("_", "/")
    if "=" not in padded:
        padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise AdharError("the encryption key from %s is not valid base64%s" % (source, hint), option="encryption") from None
    if len(raw) != KEY_SIZE:
        raise AdharError("the encryption key from %s decodes to %d bytes; AES-256 needs exactly %d%s"
                         % (source, len(raw), KEY_SIZE, hint), option="encryption")
    return raw


def read_key_file(path):
    """The key stored in file ``path``: exactly 32 raw bytes, or base64 text."""
    source = "file %s" % path
    try:
        with open(path, "rb") as f:
            data = f.read(4097)
    except OSError as exc:
        raise AdharError("cannot read the encryption key file %s: %s" % (path, exc.strerror or exc),
                         option="encryption.key_file") from exc
    if len(data) > 4096:
        raise AdharError("the encryption key file %s is larger than 4 KiB; it must hold 32 raw bytes or base64 text"
                         % path, option="encryption.key_file")
    return parse_key(data, source)


def read_key_env(name, environ=None):
    """The key in environment variable ``name`` (base64 text)."""
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    if value is None:
        raise AdharError("the environment variable %s (encryption.key_env) is not set" % name, option="encryption.key_env")
    return parse_key(value, "environment variable %s" % name)


def generate_key():
    """A new random 32-byte key (for tests and for users who ask for one)."""
    return os.urandom(KEY_SIZE)


def kek_id(kek):
    """A short fingerprint naming a KEK without revealing anything about it."""
    return "hmac-sha256:" + hmac.new(kek, _KEK_ID_INFO, hashlib.sha256).hexdigest()[:16]


# -- manifest signatures (Ed25519) --------------------------------------------

def signing_key_from_kek(kek):
    """The Ed25519 private key a KEK signs manifests with (its seed derived from the KEK; deterministic)."""
    require_cryptography()
    return Ed25519PrivateKey.from_private_bytes(_hkdf(kek, _SIGNING_INFO))


def public_bytes(private_key):
    """The raw 32-byte public half of an Ed25519 private key."""
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verify_key_id(public_key):
    """A short fingerprint of a raw Ed25519 public key (``ed25519:`` + 16 hex digits of its SHA-256)."""
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


def verify_key_info(key_wrapper):
    """``{"verify_key": base64, "verify_key_id": ...}`` of the manifests ``key_wrapper`` signs (both None: no local KEK)."""
    raw = getattr(key_wrapper, "verify_key", None)
    if raw is None:
        return {"verify_key": None, "verify_key_id": None}
    return {"verify_key": _b64(raw), "verify_key_id": verify_key_id(raw)}


def parse_verify_key(value, option="verify_key"):
    """The raw 32-byte Ed25519 public key in ``value`` (base64 text), or an ``AdharError`` saying what is wrong."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value or "").strip()
    if not text:
        raise AdharError("%s is empty; give the base64 verify key that the backup module returned (verify_key)"
                         % option, option=option)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AdharError("%s is not valid base64; give the base64 verify key that the backup module returned" % option,
                         option=option) from None
    if len(raw) != PUBLIC_KEY_SIZE:
        raise AdharError("%s decodes to %d bytes; an Ed25519 verify key has exactly %d" % (option, len(raw), PUBLIC_KEY_SIZE),
                         option=option)
    return raw


def _payload_chunks(payload):
    return (payload,) if isinstance(payload, (bytes, bytearray, memoryview)) else payload


def signature_message(algorithm, payload):
    """The message Ed25519 signs for ``algorithm``: the domain-separated SHA-512 digest of ``payload`` (bytes or an
    iterable of byte chunks, hashed one by one) for ``SIGNATURE_ALGORITHM``, the whole payload for the legacy one."""
    if algorithm == SIGNATURE_ALGORITHM:
        digest = hashlib.sha512()
        for chunk in _payload_chunks(payload):
            digest.update(chunk)
        return _PREHASH_PREFIX + digest.digest()
    if algorithm != LEGACY_SIGNATURE_ALGORITHM:
        raise AdharError("unknown manifest signature algorithm %r" % (algorithm,), item="manifest.json")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return payload
    message = bytearray()
    for chunk in payload:
        message += chunk
    return message


def sign_manifest(private_key, payload, algorithm=SIGNATURE_ALGORITHM):
    """The ``signature`` record of a manifest: Ed25519 by ``private_key`` of ``signature_message(algorithm, payload)``
    (``payload``: the canonical manifest without ``signature``, as bytes or chunks)."""
    return _signature_record(private_key, algorithm, signature_message(algorithm, payload))


def sign_manifest_digest(private_key, digest):
    """``sign_manifest`` with ``SIGNATURE_ALGORITHM`` for a payload whose SHA-512 ``digest`` was computed as it was
    encoded."""
    return _signature_record(private_key, SIGNATURE_ALGORITHM, _PREHASH_PREFIX + digest)


def _signature_record(private_key, algorithm, message):
    raw = public_bytes(private_key)
    return {"algorithm": algorithm, "key_id": verify_key_id(raw), "public_key": _b64(raw),
            "value": _b64(private_key.sign(message))}


def check_manifest_signature(signature, payload, public_key, backup, source="verify_key", algorithm=SIGNATURE_ALGORITHM):
    """Raise unless ``signature`` (a manifest's record) is a valid ``algorithm`` signature of ``payload`` (bytes or
    chunks) by ``public_key``.

    ``algorithm`` is the one the manifest's format version calls for (``archive.format.signature_algorithm``): a
    record naming another is refused.  Only ``public_key`` (what the reader was given, or derived from its KEK) is
    trusted; the public key recorded in the manifest is used for the message.
    """
    require_cryptography()
    given_id = verify_key_id(public_key)
    if not isinstance(signature, dict) or signature.get("algorithm") != algorithm:
        raise AdharError("backup %s carries no %s signature it can be checked with: it is not the backup you expect, or "
                         "its signature was removed" % (backup, algorithm), backup=backup, item="manifest.json",
                         verify_key_id=given_id)
    recorded = signature.get("key_id")
    try:
        value = base64.b64decode(str(signature.get("value") or ""), validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(value, signature_message(algorithm, payload))
    except (binascii.Error, ValueError, InvalidSignature):
        if recorded != given_id:
            raise AdharError("the manifest of backup %s is not signed by the key you gave (%s %s; the manifest says %s): "
                             "it was made with another key, or tampered with" % (backup, source, given_id, recorded),
                             backup=backup, item="manifest.json", verify_key_id=given_id, signature_key_id=recorded) from None
        raise AdharError("the manifest of backup %s does not match its signature (%s %s): it was tampered with"
                         % (backup, source, given_id), backup=backup, item="manifest.json", verify_key_id=given_id) from None
    return given_id


class KeyWrapper:
    """Wraps data keys with a local 32-byte key-encryption key (AES-256-GCM)."""

    kind = "key"

    def __init__(self, kek, source="parameter"):
        require_cryptography()
        self._kek = parse_key(kek, source)
        self.source = source
        self.key_id = kek_id(self._kek)
        self._signing_key = None

    def describe(self):
        return {"wrapper": self.kind, "kek_id": self.key_id}

    def signing_key(self):
        """The Ed25519 key this KEK signs manifests with (derived, never stored)."""
        if self._signing_key is None:
            self._signing_key = signing_key_from_kek(self._kek)
        return self._signing_key

    @property
    def verify_key(self):
        """The raw public key of ``signing_key()``: what checks the manifests this KEK signs."""
        return public_bytes(self.signing_key())

    def wrap(self, dek, backup):
        nonce = os.urandom(12)
        wrapped = AESGCM(self._kek).encrypt(nonce, dek, _DEK_AAD + backup.encode("utf-8"))
        return {"wrapper": self.kind, "kek_id": self.key_id, "nonce": _b64(nonce), "wrapped": _b64(wrapped)}

    def unwrap(self, meta, backup):
        if meta.get("wrapper") != self.kind:
            raise AdharError("backup %s has its data key wrapped by %s; give encryption.kms_key_id (and its region)"
                             % (backup, meta.get("wrapper")), option="encryption")
        nonce = _unb64(meta.get("nonce", ""), "data key")
        wrapped = _unb64(meta.get("wrapped", ""), "data key")
        try:
            return AESGCM(self._kek).decrypt(nonce, wrapped, _DEK_AAD + backup.encode("utf-8"))
        except (InvalidTag, ValueError) as exc:
            raise AdharError(DECRYPT_ERROR, item="data key", backup=backup, kek_id=self.key_id,
                             expected_kek_id=meta.get("kek_id")) from exc


class KmsKeyWrapper:
    """Wraps data keys with an AWS KMS key (``kms.encrypt`` / ``kms.decrypt``).

    The backup name is the KMS encryption context (``adhar-backup``), so a
    wrapped key only opens for the backup it was made for; CloudTrail logs
    show which backup a decryption was for.
    """

    kind = "aws-kms"

    def __init__(self, key_id=None, region=None, endpoint_url=None, profile=None, client=None, **credentials):
        self.key_id = key_id
        self.region = region
        self.endpoint_url = endpoint_url
        self.profile = profile
        self._credentials = {k: v for k, v in credentials.items() if v}
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = aws_client("kms", "AWS KMS", region=self.region, endpoint_url=self.endpoint_url,
                                      profile=self.profile, **self._credentials)
        return self._client

    def describe(self):
        return {"wrapper": self.kind, "kms_key_id": self.key_id, "kms_region": self.region}

    @staticmethod
    def signing_key():
        """KMS backups are not signed: there is no local key to derive a signing key from."""
        return None

    verify_key = None

    def _call(self, op, backup, **kwargs):
        kwargs["EncryptionContext"] = {"adhar-backup": backup}
        try:
            return retry_call(getattr(self.client, op), deadline=60.0, is_retryable=aws_retryable, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if op == "decrypt" and code in ("InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException"):
                raise AdharError(DECRYPT_ERROR, item="data key", backup=backup, kms_key_id=self.key_id,
                                 kms_error=code) from exc
            raise AdharError("AWS KMS %s with key %s failed: %s" % (op, self.key_id, exc), kms_error=code,
                             option="encryption.kms_key_id") from exc
        except BotoCoreError as exc:
            raise AdharError("AWS KMS %s with key %s failed: %s" % (op, self.key_id, exc),
                             option="encryption.kms_key_id") from exc

    def wrap(self, dek, backup):
        if not self.key_id:
            raise AdharError("encryption.kms_key_id is required to encrypt with AWS KMS", option="encryption.kms_key_id")
        resp = self._call("encrypt", backup, KeyId=self.key_id, Plaintext=dek)
        return {"wrapper": self.kind, "kms_key_id": resp.get("KeyId") or self.key_id, "kms_region": self.region,
                "wrapped": _b64(resp["CiphertextBlob"])}

    def unwrap(self, meta, backup):
        if meta.get("wrapper") != self.kind:
            raise AdharError("backup %s has its data key wrapped by a local key; give encryption.key, key_file or "
                             "key_env" % backup, option="encryption")
        kwargs = {"CiphertextBlob": _unb64(meta.get("wrapped", ""), "data key")}
        key_id = self.key_id or meta.get("kms_key_id")
        if key_id:
            kwargs["KeyId"] = key_id
        return self._call("decrypt", backup, **kwargs)["Plaintext"]


def key_wrapper_from_params(encryption, storage_params=None, environ=None):
    """The ``KeyWrapper``/``KmsKeyWrapper`` the ``encryption`` option asks for, or ``None``.

    For KMS, credentials come from ``storage_params`` when it is an S3
    location with explicit credentials, otherwise from boto3's usual chain
    (environment, profile, instance role).
    """
    enc = dict(encryption or {})
    given = [k for k in KEY_SOURCES if enc.get(k)]
    if len(given) > 1:
        raise AdharError("encryption: give only one of %s (got %s)" % (", ".join(KEY_SOURCES), ", ".join(given)),
                         option="encryption")
    if not given:
        if any(enc.get(k) for k in ("kms_region", "kms_endpoint_url", "kms_profile")):
            given = ["kms_key_id"]  # reading a KMS-wrapped backup: the key id recorded in it is used
        else:
            return None
    source = given[0]
    if source == "key":
        return KeyWrapper(enc["key"], "encryption.key")
    if source == "key_file":
        return KeyWrapper(read_key_file(enc["key_file"]), "file %s" % enc["key_file"])
    if source == "key_env":
        return KeyWrapper(read_key_env(enc["key_env"], environ), "environment variable %s" % enc["key_env"])
    storage = storage_params if isinstance(storage_params, dict) else {}
    creds = {}
    if storage.get("type") == "s3" or str(storage.get("url") or "").startswith("s3://"):
        for name in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
            if storage.get(name):
                creds[name] = storage[name]
    return KmsKeyWrapper(enc.get("kms_key_id"), region=enc.get("kms_region") or storage.get("region"),
                         endpoint_url=enc.get("kms_endpoint_url"), profile=enc.get("kms_profile") or storage.get("profile"),
                         **creds)


# -- data keys and item streams ----------------------------------------------

def item_aad(backup, path):
    """Associated data binding an item to its backup and path."""
    return _ITEM_AAD + backup.encode("utf-8") + b"\x00" + path.encode("utf-8")


def _nonce(prefix, counter, last):
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _lookahead(chunks):
    """Yield ``(chunk, is_last)`` for a chunk iterator; one empty last chunk for an empty iterator."""
    it = iter(chunks)
    current = None
    for nxt in it:
        if current is not None:
            yield current, False
        current = nxt
    yield (current if current is not None else b""), True


def _segments(chunks, size):
    """Re-cut an iterator of byte chunks into ``size``-byte pieces (the last may be shorter)."""
    buf = b""
    for chunk in chunks:
        if not chunk:
            continue
        buf = buf + bytes(chunk) if buf else bytes(chunk)
        if len(buf) >= size:
            view = memoryview(buf)
            whole = len(buf) - len(buf) % size
            for offset in range(0, whole, size):
                yield bytes(view[offset:offset + size])
            buf = bytes(view[whole:])
    if buf:
        yield buf


class DataKey:
    """A backup's data key: encrypts and decrypts item streams, signs the manifest."""

    def __init__(self, key, segment_size=SEGMENT_SIZE):
        require_cryptography()
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise AdharError(DECRYPT_ERROR, item="data key")
        if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise AdharError("segment size %r out of range" % segment_size)
        self._key = key
        self.segment_size = segment_size

    @classmethod
    def generate(cls, segment_size=SEGMENT_SIZE):
        return cls(os.urandom(KEY_SIZE), segment_size)

    @property
    def raw(self):
        return self._key

    # -- manifest authentication

    def manifest_hmac(self):
        """A fresh HMAC-SHA256 object under the manifest key (``update`` it with the payload's chunks)."""
        return hmac.new(_hkdf(self._key, _MANIFEST_INFO), digestmod=hashlib.sha256)

    def manifest_mac(self, payload):
        """HMAC-SHA256 (hex) of ``payload``: bytes, or an iterable of byte chunks (hashed one by one)."""
        mac = self.manifest_hmac()
        for chunk in _payload_chunks(payload):
            mac.update(chunk)
        return mac.hexdigest()

    def check_manifest_mac(self, payload, mac):
        if not isinstance(mac, str) or not hmac.compare_digest(self.manifest_mac(payload), mac):
            raise AdharError("%s: the manifest does not match its signature" % DECRYPT_ERROR, item="manifest.json")

    # -- items

    def _item_cipher(self, aad):
        """A fresh item's ``(header, AESGCM, associated data, nonce prefix)``: its own salt, so its own key."""
        salt = os.urandom(SALT_SIZE)
        prefix = os.urandom(PREFIX_SIZE)
        header = MAGIC + struct.pack(">I", self.segment_size) + salt + prefix
        return header, AESGCM(_hkdf(self._key, _ITEM_INFO, salt)), header + aad, prefix

    def encrypt_chunks(self, chunks, aad):
        """Yield the stored form (header, then sealed segments) of the plaintext ``chunks``."""
        header, aead, full_aad, prefix = self._item_cipher(aad)
        yield header
        for counter, (segment, last) in enumerate(_lookahead(_segments(chunks, self.segment_size))):
            yield aead.encrypt(_nonce(prefix, counter, last), segment, full_aad)

    def encrypt(self, data, aad):
        """The stored form of the bytes ``data`` (the same layout as ``encrypt_chunks``, without its generators)."""
        data = bytes(data)
        header, aead, full_aad, prefix = self._item_cipher(aad)
        size = self.segment_size
        count = max(1, -(-len(data) // size))  # an empty item is one empty sealed segment
        parts = [header]
        for counter in range(count):
            parts.append(aead.encrypt(_nonce(prefix, counter, counter == count - 1), data[counter * size:(counter + 1) * size],
                                      full_aad))
        return b"".join(parts)

    def decrypt_chunks(self, chunks, aad, item=None):
        """Yield the plaintext of stored ``chunks``; each segment is authenticated before it is yielded."""
        it = iter(chunks)
        buf = bytearray()
        for chunk in it:
            buf += chunk
            if len(buf) >= HEADER_SIZE:
                break
        if len(buf) < HEADER_SIZE or bytes(buf[:len(MAGIC)]) != MAGIC:
            raise AdharError(DECRYPT_ERROR, item=item)
        header = bytes(buf[:HEADER_SIZE])
        del buf[:HEADER_SIZE]
        (segment_size,) = struct.unpack(">I", header[len(MAGIC):len(MAGIC) + 4])
        if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise AdharError(DECRYPT_ERROR, item=item)
        salt = header[len(MAGIC) + 4:len(MAGIC) + 4 + SALT_SIZE]
        prefix = header[len(MAGIC) + 4 + SALT_SIZE:]
        aead = AESGCM(_hkdf(self._key, _ITEM_INFO, salt))
        full_aad = header + aad
        sealed = segment_size + TAG_SIZE
        remaining = _segments(_prepend(bytes(buf), it), sealed)
        for counter, (segment, last) in enumerate(_lookahead(remaining)):
            try:
                yield aead.decrypt(_nonce(prefix, counter, last), segment, full_aad)
            except (InvalidTag, ValueError) as exc:
                raise AdharError(DECRYPT_ERROR, item=item) from exc

    def decrypt(self, data, aad, item=None):
        return b"".join(self.decrypt_chunks([data], aad, item=item))


def _prepend(first, rest):
    if first:
        yield first
    yield from rest


def new_envelope(wrapper, backup, segment_size=SEGMENT_SIZE):
    """``(DataKey, metadata)`` for a new backup: a fresh data key wrapped by ``wrapper``."""
    dek = DataKey.generate(segment_size)
    meta = {"algorithm": ALGORITHM, "scheme": SCHEME, "segment_size": segment_size,
            "data_key": wrapper.wrap(dek.raw, backup)}
    return dek, meta


def key_required_error(meta, backup):
    """The one ``AdharError`` for an encrypted backup read without its key: which key it needs, which option to pass."""
    data_key = (meta or {}).get("data_key") if isinstance(meta, dict) else None
    data_key = data_key if isinstance(data_key, dict) else {}
    if data_key.get("wrapper") == KmsKeyWrapper.kind:
        needs = "the AWS KMS key %s" % (data_key.get("kms_key_id") or "it was made with")
        option = "encryption.kms_key_id (or kms_region, with access to that key)"
    else:
        needs = "the key %s" % (data_key.get("kek_id") or "it was made with")
        option = "encryption.key, key_file or key_env (or verify_key to check it and read only its unencrypted items)"
    return AdharError("backup %s is encrypted with %s: give %s; nothing was read" % (backup, needs, option),
                      option="encryption", backup=backup, kek_id=data_key.get("kek_id"),
                      kms_key_id=data_key.get("kms_key_id"))


def open_envelope(meta, wrapper, backup):
    """The ``DataKey`` of a backup from its encryption metadata (wrong key -> ``DECRYPT_ERROR``)."""
    if not isinstance(meta, dict) or meta.get("scheme") != SCHEME or meta.get("algorithm") != ALGORITHM:
        raise AdharError("backup %s uses an unknown encryption scheme %r" % (backup, (meta or {}).get("scheme")))
    if wrapper is None:
        raise key_required_error(meta, backup)
    segment_size = meta.get("segment_size")
    if not isinstance(segment_size, int) or not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise AdharError(DECRYPT_ERROR, item="encryption metadata")
    return DataKey(wrapper.unwrap(meta.get("data_key") or {}, backup), segment_size)


__all__ = [
    "ALGORITHM",
    "BOTO3_IMPORT_ERROR",
    "CRYPTOGRAPHY_IMPORT_ERROR",
    "DECRYPT_ERROR",
    "ENCRYPTION_ARG_SPEC",
    "LEGACY_SIGNATURE_ALGORITHM",
    "SIGNATURE_ALGORITHM",
    "VERIFY_ARG_SPEC",
    "DataKey",
    "KeyWrapper",
    "KmsKeyWrapper",
    "generate_key",
    "check_manifest_signature",
    "item_aad",
    "key_required_error",
    "kek_id",
    "key_wrapper_from_params",
    "new_envelope",
    "open_envelope",
    "parse_key",
    "parse_verify_key",
    "public_bytes",
    "read_key_env",
    "read_key_file",
    "sign_manifest",
    "signature_message",
    "signing_key_from_kek",
    "verify_key_id",
    "verify_key_info",
]
