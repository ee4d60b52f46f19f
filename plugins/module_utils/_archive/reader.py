# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ArchiveReader``: reads and verifies one complete backup.

Every read checks the item's size and SHA-256 against the manifest;
encrypted items are decrypted segment by segment, each segment authenticated
before it is handed out.  ``read``/``read_json`` return nothing unverified.
``iter_chunks``/``copy_to`` stream (for etcd snapshots): their last chunk is
followed by the checksum check, so a caller must discard what it received
when they raise.  ``verify()`` checks every item (and, with the key, that
every encrypted item decrypts) and names each one that is missing or bad.

Before any item is read the manifest is authenticated with what the caller
gave (see ``ArchiveReader``); ``integrity`` says how it was checked:

* ``signed`` — the Ed25519 signature checked with ``verify_key`` or with the
  key derived from the KEK (and, with the KEK, the MAC too);
* ``authenticated`` — the MAC checked with the data key (backups wrapped by
  AWS KMS, and encrypted backups of format 1.0, carry no signature);
* ``checksums-only`` — no key given and the backup neither encrypted nor
  signed: the checksums only detect accidents, not an edit.
"""

from __future__ import annotations

import bisect
import collections
import concurrent.futures
import hashlib
import json

from ansible_collections.adhar.platform.plugins.module_utils._archive.format import (
    ENC_SUFFIX,
    MANIFEST,
    RESERVED,
    STARTED,
    check_backup_name,
    describe_path,
    format_minor,
    holds_encrypted_items,
    mac_payload,
    parse_manifest,
    signature_algorithm,
    signed_payload,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import (
    DECRYPT_ERROR,
    check_manifest_signature,
    item_aad,
    key_required_error,
    open_envelope,
    parse_verify_key,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import CHUNK_SIZE, ObjectMissing, join_key


def check_verification(key_wrapper, verify_key, require_signature):
    """The raw verify key of ``verify_key`` (None when not given); errors for options that cannot work together."""
    raw = None if verify_key in (None, "") else parse_verify_key(verify_key)
    if require_signature and key_wrapper is None and raw is None:
        raise AdharError("require_signature needs a key to check the backup with: give verify_key (or encryption)",
                         option="require_signature")
    return raw


# What ``read_many`` reads ahead of its consumer at most (stored bytes of the units submitted and not yet consumed).
READ_AHEAD = 16 * 1024 * 1024


def _bounded_map(pool, fn, jobs, size, limit=READ_AHEAD):
    """The results of ``fn(job)`` (lists) for every job, run on ``pool`` and yielded in order, with jobs of at most
    ``limit`` bytes together (``size(job)``; one job at least) submitted ahead of the consumer: a slow consumer does
    not make the pool hold every result at once."""
    pending = collections.deque()
    ahead = 0
    for job in jobs:
        while pending and ahead + size(job) > limit:
            future, bytes_ = pending.popleft()
            ahead -= bytes_
            yield from future.result()
        pending.append((pool.submit(fn, job), size(job)))
        ahead += size(job)
    while pending:
        yield from pending.popleft()[0].result()


class ArchiveReader:
    """Reads backup ``name`` from ``storage``.

    ``key_wrapper`` opens encrypted backups; ``verify_key`` (a base64 Ed25519
    public key, or its 32 raw bytes) checks the manifest signature without
    the data key, so the unencrypted items of a signed backup can be read.
    Rules, applied when the manifest is first used (before any item is read):

    * an encrypted backup without ``key_wrapper`` and ``verify_key`` is refused;
    * with ``key_wrapper`` the manifest must carry a valid MAC (and a valid
      signature when it has one and the KEK is local); a backup without
      ``encryption`` read with a key is refused (its header may have been removed);
    * with ``verify_key`` the manifest must carry a valid signature by that key;
    * ``require_signature`` refuses what could only be checked by checksums: it
      needs ``key_wrapper`` or ``verify_key`` (checked at once, before any
      read), and with either every backup accepted is signed or authenticated.

    ``stored_manifest`` is the parsed manifest before these checks (listing only).
    """

    def __init__(self, storage, name, key_wrapper=None, verify_key=None, require_signature=False):
        self.storage = storage
        self.name = check_backup_name(name)
        self._wrapper = key_wrapper
        self._verify_key = check_verification(key_wrapper, verify_key, require_signature)
        self.require_signature = bool(require_signature)
        self._parsed = None
        self._manifest = None
        self._index = None  # {path: record} when set; else records are found by bisection of the sorted items
        self._dek = None
        self.integrity = None
        self.warnings = []

    # -- manifest

    @property
    def stored_manifest(self):
        """The parsed manifest, NOT authenticated (for listings and summaries; never for reading items)."""
        if self._parsed is None:
            self._parsed = self._fetch()
        return self._parsed

    @property
    def manifest(self):
        """The authenticated manifest (``AdharError`` when the rules in the class docstring refuse it)."""
        if self._manifest is None:
            self._load()
        return self._manifest

    def _fetch(self):
        try:
            data = self.storage.read(join_key(self.name, MANIFEST))
        except ObjectMissing:
            if self.storage.exists(join_key(self.name, STARTED)) or any(True for dummy in self.storage.list(self.name + "/")):
                raise AdharError("backup %s in %s is incomplete: it has no manifest (interrupted, or still being written)"
                                 % (self.name, self.storage.location), backup=self.name, complete=False) from None
            raise AdharError("backup %s does not exist in %s" % (self.name, self.storage.location),
                             backup=self.name) from None
        return parse_manifest(data, self.name)

    def _load(self):
        manifest = self.stored_manifest
        self._authenticate(manifest)  # a wrong key or a tampered manifest fails here, before any item is read
        self._manifest = manifest

    def _authenticate(self, manifest):
        encrypted = holds_encrypted_items(manifest)
        signature = manifest.get("signature")
        if self._wrapper is None and self._verify_key is None:
            if encrypted:
                raise key_required_error(manifest.get("encryption"), self.name)
            self._check_not_stripped()
            self.integrity = "checksums-only"
            self.warnings.append("backup %s is neither encrypted nor signed: its checksums detect accidents, not edits; "
                                 "nothing proves it is the backup that was written (integrity: checksums-only)" % self.name)
            return
        integrity = None
        if self._wrapper is not None:
            if not manifest.get("encryption"):
                raise AdharError("a key was given but backup %s carries no signature (no encryption header, no MAC): it is "
                                 "not the encrypted backup you expect, or its encryption header was removed" % self.name,
                                 backup=self.name, item=MANIFEST, option="encryption")
            dek = open_envelope(manifest["encryption"], self._wrapper, self.name)
            dek.check_manifest_mac(mac_payload(manifest), manifest.get("mac"))
            self._dek = dek
            integrity = "authenticated"
            own = getattr(self._wrapper, "verify_key", None)  # None: AWS KMS, nothing to derive a signing key from
            if own is not None and signature is not None:
                check_manifest_signature(signature, signed_payload(manifest), own, self.name, source="the key",
                                         algorithm=signature_algorithm(manifest))
                integrity = "signed"
            elif own is not None and format_minor(manifest) >= 1:
                raise AdharError("backup %s (format %s) was made with a local key, so it must be signed, and its "
                                 "signature was removed" % (self.name, manifest.get("format_version")),
                                 backup=self.name, item=MANIFEST)
        if self._verify_key is not None:
            if signature is None:
                raise AdharError("verify_key was given but backup %s carries no signature (backups encrypted with AWS KMS "
                                 "and backups of format 1.0 are not signed; give encryption instead), or its signature "
                                 "was removed" % self.name, backup=self.name, item=MANIFEST, option="verify_key")
            check_manifest_signature(signature, signed_payload(manifest), self._verify_key, self.name,
                                     algorithm=signature_algorithm(manifest))
            integrity = "signed"
        self.integrity = integrity

    def _check_not_stripped(self):
        """An unsigned, unencrypted manifest whose ``started.json`` says the backup was encrypted: refused."""
        try:
            started = json.loads(self.storage.read(join_key(self.name, STARTED)).decode("utf-8"))
        except (ObjectMissing, UnicodeDecodeError, ValueError):
            return
        if isinstance(started, dict) and started.get("encrypted") is True:
            raise AdharError("backup %s was started as an encrypted backup but its manifest has no encryption: its "
                             "encryption header was removed; refused" % self.name, backup=self.name, item=MANIFEST)

    @property
    def can_decrypt(self):
        """Whether an encryption key was given (encrypted items can be read)."""
        return self._wrapper is not None

    @property
    def encrypted(self):
        return holds_encrypted_items(self.manifest)

    @property
    def data_key(self):
        """The backup's ``DataKey`` (unwrapped once); ``AdharError`` without a key or with a wrong one."""
        manifest = self.manifest
        if self._dek is None and manifest.get("encryption"):
            self._dek = open_envelope(manifest["encryption"], self._wrapper, self.name)
        return self._dek

    # -- items

    def records(self, section=None):
        """``(what the path says, manifest record)`` for the items of ``section`` (or all), nothing copied: the
        record's own ``resource``/``namespace``/``name`` (a shortened path) win over the path's (see ``items``)."""
        for item in self.manifest["items"]:
            info = describe_path(item["path"])
            if section is None or info["section"] == section:
                yield info, item

    def items(self, section=None):
        """Manifest records (``path``, ``size``, ``sha256``, ``encrypted``) plus what the path says (``section``, ``resource``, ...)."""
        out = []
        for item in self.manifest["items"]:
            info = describe_path(item["path"])
            if section is None or info["section"] == section:
                out.append(dict(info, **item))
        return out

    def _find(self, path):
        """The record of ``path`` in the manifest (its items are sorted by path: ``parse_manifest`` checks it)."""
        if self._index is not None:
            return self._index.get(path)
        items = self.manifest["items"]
        at = bisect.bisect_left(items, path, key=lambda r: r["path"])
        return items[at] if at < len(items) and items[at]["path"] == path else None

    def item(self, path):
        """The manifest record of ``path`` (``.enc`` may be left out)."""
        if self._manifest is None:
            self._load()
        record = self._find(path) or self._find(path + ENC_SUFFIX)
        if record is None:
            raise AdharError("item %s is not in backup %s" % (path, self.name), item=path, backup=self.name)
        return record

    def _stored_chunks(self, record):
        path = record["path"]
        if "pack" in record:  # one range read of its pack (format 2.0)
            yield self._checked(record, self._read_object(record["pack"], path, record["offset"], record["size"]))
            return
        try:
            stream = self.storage.open(join_key(self.name, path))
        except ObjectMissing:
            raise self._missing(path) from None
        sha = hashlib.sha256()
        size = 0
        with stream:
            while True:
                chunk = stream.read(CHUNK_SIZE)
                if not chunk:
                    break
                size += len(chunk)
                if size > record["size"]:
                    break
                sha.update(chunk)
                yield chunk
        self._check_sum(record, size, sha.hexdigest())

    def _missing(self, path, pack=None):
        where = " (its pack %s is missing)" % pack if pack else ""
        return AdharError("item %s of backup %s is missing from %s%s" % (path, self.name, self.storage.location, where),
                          item=path, backup=self.name, problem="missing")

    def _read_object(self, key, path, offset=None, size=None):
        """The bytes of object ``key`` of the backup (a range of it with ``offset``); ``path``: the item for errors."""
        try:
            if offset is None:
                return self.storage.read(join_key(self.name, key))
            return self.storage.read_range(join_key(self.name, key), offset, size)
        except ObjectMissing:
            raise self._missing(path, pack=key if key != path else None) from None

    def _check_sum(self, record, size, sha256):
        if size != record["size"] or sha256 != record["sha256"]:
            path = record["path"]
            raise AdharError("item %s of backup %s is corrupted or was tampered with: its %s does not match the manifest"
                             % (path, self.name, "size" if size != record["size"] else "SHA-256"),
                             item=path, backup=self.name, problem="checksum")

    def _checked(self, record, data):
        """``data`` (an item's stored bytes) after its size and SHA-256 are checked against ``record``."""
        self._check_sum(record, len(data), hashlib.sha256(data).hexdigest())
        return data

    def _in_pack(self, record, pack, base=0):
        """A packed item's stored bytes, checked, from the bytes of its ``pack`` (from byte ``base`` of it on)."""
        start = record["offset"] - base
        return self._checked(record, pack[start:start + record["size"]])

    def _plain(self, record, stored, dek):
        """The plaintext of an item from its checked stored bytes."""
        if not record.get("encrypted") or dek is None:
            return stored
        return b"".join(self._decrypted([stored], record, dek))

    def packs(self):
        """``{pack path: record}`` of the manifest's packs (empty before format 2.0)."""
        return {p["path"]: p for p in self.manifest.get("packs") or []}

    def _units(self, records, whole_packs):
        """``records`` grouped by what is read: ``(pack path, [records])`` for packed items read as a whole pack, and
        ``(None, [record])`` for the rest.  Without ``whole_packs`` a pack is read whole only when the records take a
        quarter of it or more (otherwise each item is a range read)."""
        packs = self.packs()
        grouped, units = {}, []
        for record in records:
            if "pack" in record:
                grouped.setdefault(record["pack"], []).append(record)
            else:
                units.append((None, [record]))
        for pack, members in sorted(grouped.items()):
            if whole_packs or 4 * sum(r["size"] for r in members) >= packs[pack]["size"]:
                units.append((pack, members))
            else:
                units.extend((None, [r]) for r in members)
        return units

    def read_many(self, records, workers=4, whole_packs=False):
        """``(record, plaintext, error)`` for every manifest record of ``records`` (in no particular order), read with
        ``workers`` threads: a pack holding many of them is read once, each item checked as ``read`` checks it.
        ``whole_packs``: a pack is read whole even for a few of its items (one request instead of one per item)."""
        dek = self.data_key if any(r.get("encrypted") for r in records) else None

        def one(record, stored=None, base=0):
            try:
                if stored is None:
                    stored = b"".join(self._stored_chunks(record))
                else:
                    stored = self._in_pack(record, stored, base)
                return record, self._plain(record, stored, dek), None
            except AdharError as exc:
                return record, None, exc

        def unit(job):
            pack, members = job
            if pack is None:
                return [one(members[0])]
            # the one byte range holding the members (a pack read again and again for a few of its items each time
            # costs a whole pack each time), the whole pack when they span it
            low = min(r["offset"] for r in members)
            high = max(r["offset"] + r["size"] for r in members)
            whole = low == 0 and high >= packs[pack]["size"]
            try:
                data = self._read_object(pack, members[0]["path"], *((None, None) if whole else (low, high - low)))
            except AdharError as exc:
                if exc.details.get("problem") != "missing":
                    return [(r, None, exc) for r in members]
                return [(r, None, self._missing(r["path"], pack)) for r in members]
            return [one(r, data, 0 if whole else low) for r in members]

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            packs = self.packs()
            yield from _bounded_map(pool, unit, self._units(records, whole_packs),
                                    lambda job: packs[job[0]]["size"] if job[0] is not None else job[1][0]["size"])

    def stored_chunks(self, record):
        """The stored bytes of an item (a manifest record), streamed; its size and SHA-256 are checked after the
        last chunk, nothing is decrypted (a cheap integrity pass over a big item before it is used)."""
        return self._stored_chunks(record)

    def _plain_chunks(self, record, dek):
        """Plaintext chunks (stored chunks for an unencrypted item, or when ``dek`` is None: checksums only)."""
        chunks = self._stored_chunks(record)
        if not record.get("encrypted") or dek is None:
            return chunks
        return self._decrypted(chunks, record, dek)

    def _decrypted(self, chunks, record, dek):
        path = record["path"]
        try:
            yield from dek.decrypt_chunks(chunks, item_aad(self.name, path), item=path)
        except AdharError as exc:
            if exc.msg != DECRYPT_ERROR:
                raise
            raise AdharError("%s (item %s of backup %s)" % (DECRYPT_ERROR, path, self.name), item=path,
                             backup=self.name, problem="decrypt") from exc

    def iter_chunks(self, path):
        """Plaintext chunks of an item, streamed (see the module docstring for when checks happen)."""
        record = self.item(path)
        return self._plain_chunks(record, self.data_key if record.get("encrypted") else None)

    def copy_to(self, path, fileobj):
        """Stream an item's plaintext into ``fileobj``; returns the byte count (discard the file if this raises)."""
        size = 0
        for chunk in self.iter_chunks(path):
            fileobj.write(chunk)
            size += len(chunk)
        return size

    def read(self, path):
        """The verified plaintext of an item (stored bytes checked before anything is decrypted)."""
        record = self.item(path)
        dek = self.data_key if record.get("encrypted") else None  # no key: refused before the item is read
        stored = b"".join(self._stored_chunks(record))
        if dek is None:
            return stored
        return b"".join(self._decrypted([stored], record, dek))

    def read_json(self, path):
        return self.parse_json(path, self.read(path))

    def parse_json(self, path, data):
        """The JSON value of item ``path`` from its plaintext ``data``."""
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AdharError("item %s of backup %s is not valid JSON: %s" % (path, self.name, exc), item=path) from None

    # -- verification

    def verify(self, workers=4, raise_on_error=True):
        """Check every item's presence, size and SHA-256, and (with the key) that encrypted items decrypt.

        Returns a report (``ok``, ``items``, ``bytes``, ``encrypted_items``,
        ``decryption_checked``, ``problems``, ``warnings``).  With problems
        and ``raise_on_error``, raises ``AdharError`` naming the first bad
        item, the report in its details.  A wrong key raises at once.
        """
        manifest = self.manifest
        dek = None
        warnings = list(self.warnings)
        encrypted_items = sum(1 for i in manifest["items"] if i.get("encrypted"))
        if manifest.get("encryption"):
            if self._wrapper is not None:
                dek = self.data_key
            elif encrypted_items:
                warnings.append("backup %s: only verify_key was given, so the %d encrypted items were checked by their "
                                "signed checksums, not decrypted" % (self.name, encrypted_items))

        packs = self.packs()

        def check(record, stored=None):
            try:
                if stored is None:
                    for dummy in self._plain_chunks(record, dek):
                        pass
                else:
                    self._plain(record, self._in_pack(record, stored), dek)
            except AdharError as exc:
                return {"path": record["path"], "problem": exc.details.get("problem", "error"), "msg": exc.msg}
            return None

        def check_unit(job):
            pack, members = job
            if pack is None:
                return [check(members[0])]
            try:
                data = self._read_object(pack, pack)
            except AdharError:
                return [{"path": r["path"], "problem": "missing", "msg": self._missing(r["path"], pack).msg} for r in members]
            expected = packs[pack]
            if len(data) != expected["size"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
                found = [{"path": pack, "problem": "checksum",
                          "msg": "pack %s of backup %s is corrupted or was tampered with: its checksum does not match "
                                 "the manifest" % (pack, self.name)}]
            else:
                found = []
            return [check(r, data) for r in members] + found  # the items first: the error names the item

        records = manifest["items"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            problems = [p for found in pool.map(check_unit, self._units(records, whole_packs=True)) for p in found
                        if p is not None]
        listed = {join_key(self.name, r["path"]) for r in records if "pack" not in r}
        listed.update(join_key(self.name, p) for p in packs)
        listed.update(join_key(self.name, name) for name in RESERVED)
        extra = sorted(o.key for o in self.storage.list(self.name + "/") if o.key not in listed)
        for key in extra[:20]:
            warnings.append("object %s is not in the manifest (ignored by restore)" % key)
        if len(extra) > 20:
            warnings.append("%d more objects are not in the manifest" % (len(extra) - 20))
        report = {
            "name": self.name,
            "ok": not problems,
            "items": len(records),
            "bytes": sum(r["size"] for r in records),
            "encrypted_items": encrypted_items,
            "decryption_checked": dek is not None,
            "integrity": self.integrity,
            "problems": problems,
            "warnings": warnings,
        }
        if problems and raise_on_error:
            raise AdharError("backup %s failed verification: %d of %d items are bad; first: %s"
                             % (self.name, len(problems), len(records), problems[0]["msg"]),
                             backup=self.name, item=problems[0]["path"], verify=report)
        return report
