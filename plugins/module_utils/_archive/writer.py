# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ArchiveWriter``: writes one backup item by item, the manifest last.

Items stream from bytes, text, dicts (JSON), binary streams or iterables of
chunks straight into the storage; the SHA-256 and size of the *stored*
bytes are computed on the way.  An item to encrypt is encrypted chunk by
chunk before it reaches the storage, so its plaintext is never written
anywhere, not even to a temporary file.

``add`` may be called from many threads at once; ``submit`` runs items on
the writer's own bounded pool (at most ``2 * workers`` items queued, so a
fast producer cannot fill the memory); ``submit_many`` runs a batch of
items as one job of that pool (one thread hand-off per batch).  ``commit`` waits for every item,
makes the storage durable (``sync``) and only then writes ``manifest.json``.
Nothing is written after it, and nothing is ever rewritten.

Packs (``pack_size`` > 0, format 2.0): an item whose stored bytes are small
(at most ``PACK_ITEM_MAX``) is not written as an object of its own but
appended to the open pack of its resource type; a pack is written, once,
when it reaches ``pack_size`` (or when the buffered packs together reach
``PACK_BUFFERS`` times that, the largest first, or at the commit).  The
item keeps its own checksum, its own encryption (the same per-item
authenticated data) and its own manifest record, which names its pack and
offset, so a reader can still take one item out by a range read.  Thousands
of small objects become a few large ones: one request per pack instead of
one per item, which is what object stores charge and limit.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import socket
import threading
import time

from ansible_collections.adhar.platform.plugins.module_utils._archive.format import (
    ENC_SUFFIX,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    STARTED,
    UNPACKED_VERSION,
    Record,
    authenticated_chunks,
    canonical_json,
    check_backup_name,
    check_item_path,
    dump_manifest,
    manifest_chunks,
    pack_path,
    record_path,
    resource_item,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.page_codec import encode_item
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import (
    item_aad,
    new_envelope,
    sign_manifest_digest,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import (
    ObjectExists,
    isotime,
    iter_chunks,
    join_key,
    utcnow,
)


def item_bytes(obj):
    """The stored bytes of an object item given as a dict (before encryption): its JSON, sorted keys, no whitespace,
    UTF-8.  ``add`` encodes dicts and lists with it.  A listed object comes as bytes already: its own text cut out of
    the page (``_dr.page_codec.split_page``)."""
    return encode_item(obj)


# Items up to this many stored bytes go into packs (when packing is on); bigger ones keep an object of their own.
PACK_ITEM_MAX = 256 * 1024
# Default size at which a pack is written (the ``backup`` module's ``pack_size``).
PACK_SIZE = 4 * 1024 * 1024
# Byte items up to this size are added a batch at a time (``_add_small``): after encryption they still fit a pack.
SMALL_ITEM = PACK_ITEM_MAX - 64 * 1024
# The open packs together may hold this many times ``pack_size`` before the largest is written early.
PACK_BUFFERS = 2


class _OpenPack:
    """Items waiting to be written together: ``(record, stored bytes)`` in order, their size, and how many of them
    are encrypted."""

    __slots__ = ("entries", "size", "encrypted")

    def __init__(self):
        self.entries = []
        self.size = 0
        self.encrypted = 0


class ArchiveWriter:
    """Writes backup ``name`` of ``cluster`` into ``storage``.

    ``key_wrapper`` (``crypto_envelope.KeyWrapper`` or ``KmsKeyWrapper``)
    enables encryption: a fresh data key is made and wrapped at once (a KMS
    problem fails before any data is written).  ``encrypt_all`` makes every
    item encrypted unless ``add(..., encrypt=False)`` says otherwise.
    ``lock`` (a held ``StorageLock``) is refreshed while items are written.
    ``pack_size`` (bytes; 0: off) packs small items together (see the module docstring).
    """

    # ``backup.Capture`` hands this writer listed objects as their bytes (cut out of the page), not as dicts.
    encoded_objects = True

    def __init__(self, storage, name, *, cluster, kubernetes_version=None, key_wrapper=None, encrypt_all=False,
                 workers=4, metadata=None, created=None, lock=None, pack_size=0):
        self.storage = storage
        self.name = check_backup_name(name)
        if not cluster or not isinstance(cluster, str):
            raise AdharError("a backup needs the name of its source cluster", option="cluster")
        self.cluster = cluster
        self.kubernetes_version = kubernetes_version
        self.metadata = dict(metadata or {})
        self.created = isotime(created or utcnow())
        self.started = None
        self.finished = None
        self.encrypt_all = bool(encrypt_all)
        self.workers = max(1, int(workers))
        self.lock = lock
        self.warnings = []
        self.manifest = None
        self._key_wrapper = key_wrapper
        self._dek = None
        self._encryption = None
        if key_wrapper is not None:
            self._dek, self._encryption = new_envelope(key_wrapper, self.name)
        elif self.encrypt_all:
            raise AdharError("encrypt_all needs an encryption key", option="encryption")
        self._mutex = threading.Lock()
        self._start_lock = threading.Lock()
        self._idle = threading.Condition(self._mutex)
        self._active = 0
        self._items = []  # the manifest records (``Record``) of the items stored
        self._totals = {}  # (section, resource type or "") -> [items, stored bytes, encrypted items] of those
        self._reserved = set()
        self._errors = []
        self._state = "new"
        self._pool = None
        self._slots = threading.BoundedSemaphore(2 * self.workers)
        self._futures = set()
        self._last_refresh = time.monotonic()
        if not isinstance(pack_size, int) or pack_size < 0:
            raise AdharError("pack_size must be a whole number of bytes, 0 or more (got %r)" % (pack_size,),
                             option="pack_size")
        self.pack_size = pack_size
        self._open_packs = {}
        self._buffered = 0
        self._pack_count = 0
        self._packs = []

    @property
    def encrypted(self):
        return self._dek is not None

    @property
    def verify_key(self):
        """``{"verify_key": base64, "verify_key_id": ...}`` of the committed manifest's signature (None values: unsigned)."""
        signature = (self.manifest or {}).get("signature") or {}
        return {"verify_key": signature.get("public_key"), "verify_key_id": signature.get("key_id")}

    @property
    def committed(self):
        return self._state == "committed"

    # -- lifecycle

    def start(self):
        """Write ``started.json`` (once).  Called by the first ``add``; fails if the backup name is taken."""
        with self._start_lock:
            if self._state != "new":
                return
            self.started = isotime(utcnow())
            marker = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION if self.pack_size else UNPACKED_VERSION,
                      "name": self.name, "cluster": self.cluster,
                      "kubernetes_version": self.kubernetes_version, "created": self.created, "started": self.started,
                      "encrypted": self.encrypted, "writer": self._writer_info()}
            try:
                self.storage.put(join_key(self.name, STARTED), dump_manifest(marker))
            except ObjectExists:
                self._state = "failed"
                raise AdharError("backup %s already exists in %s; backups are never overwritten, choose another name"
                                 % (self.name, self.storage.location), backup=self.name) from None
            except BaseException:
                self._state = "failed"
                raise
            self._state = "open"

    @staticmethod
    def _writer_info():
        return {"tool": "adhar.platform", "host": socket.gethostname(), "pid": os.getpid()}

    def _check_open(self):
        if self._state == "new":
            self.start()
        if self._state != "open":
            raise self._open_error()

    def _refresh_lock(self):
        if self.lock is None or not getattr(self.lock, "held", False):
            return
        if time.monotonic() - self._last_refresh < max(30.0, self.lock.ttl / 4.0):
            return
        self._last_refresh = time.monotonic()
        self.lock.refresh()

    # -- items

    def _target(self, path, encrypt):
        """``(stored path, encrypted)`` of an item about to be added: the path checked, ``.enc`` added when it is
        encrypted (``encrypt``, default ``encrypt_all``; that needs a key)."""
        check_item_path(path)
        if path.endswith(ENC_SUFFIX):
            raise AdharError("item path %r: the %s suffix is added by the writer" % (path, ENC_SUFFIX), item=path)
        enc = self.encrypt_all if encrypt is None else bool(encrypt)
        if enc and self._dek is None:
            raise AdharError("item %s must be encrypted but no encryption key was given" % path, item=path,
                             option="encryption")
        return (path + ENC_SUFFIX if enc else path), enc

    def _taken_error(self, path):
        return AdharError("item %s is already in backup %s (items are written once)" % (path, self.name), item=path)

    def _open_error(self):
        return AdharError("backup %s is %s: no more items can be added" % (self.name, self._state), backup=self.name)

    def add(self, path, data, encrypt=None, **labels):
        """Store one item; returns its manifest record ``{"path", "size", "sha256"[, "encrypted"]}``.

        ``data``: bytes, str, a dict/list (stored as JSON), a binary stream or
        an iterable of byte chunks.  ``encrypt`` (default: ``encrypt_all``)
        stores it encrypted under ``path + ".enc"``.  ``labels`` (JSON values)
        go into the item's manifest record (``add_resource`` records the real
        resource and name of a shortened path).
        """
        stored, enc = self._target(path, encrypt)
        self._check_open()
        with self._mutex:
            if self._state != "open":
                raise self._open_error()
            if path in self._reserved:
                raise self._taken_error(path)
            self._reserved.add(path)
            self._active += 1
        record = None
        try:
            if isinstance(data, (dict, list)):
                data = item_bytes(data)
            if isinstance(data, str):
                data = data.encode("utf-8")
            if enc and isinstance(data, bytes):
                data = self._dek.encrypt(data, item_aad(self.name, stored))  # a small item: sealed in one go
            elif enc:
                data = self._dek.encrypt_chunks(iter_chunks(data), item_aad(self.name, stored))
            if self.pack_size and isinstance(data, bytes) and len(data) <= PACK_ITEM_MAX:
                record = Record.item(stored, len(data), hashlib.sha256(data).digest(), enc, labels)
            else:
                result = self.storage.put(join_key(self.name, stored), data)  # bytes as they are: no extra chunk layer
                record = Record(labels, path=stored, size=result.size, sha256=result.sha256)
                data = None
                if enc:
                    record["encrypted"] = True
            if data is not None:
                self._pack(record, data, enc)  # recorded once its pack is written
        finally:
            with self._mutex:
                if record is None:
                    self._reserved.discard(path)
                elif data is None:
                    self._items.append(record)
                    self._count(self._pack_group(record), 1, record["size"], 1 if enc else 0)
                self._active -= 1
                self._idle.notify_all()
        self._refresh_lock()
        return record

    # -- packs

    @staticmethod
    def _pack_group(record):
        """The open pack an item joins, and what the manifest counts it under: ``(section, resource type or "")``."""
        section, resource = record.section()
        return section, resource or ""

    def _count(self, group, items, size, encrypted):
        """(under the mutex) Count stored items of ``group`` for the manifest's totals."""
        totals = self._totals.get(group)
        if totals is None:
            totals = self._totals[group] = [0, 0, 0]
        totals[0] += items
        totals[1] += size
        totals[2] += encrypted

    def _pack(self, record, data, enc):
        """Append an item to the open pack of its resource type; write the packs that are due."""
        self._pack_many([(self._pack_group(record), record, data, enc)])

    def _pack_many(self, entries):
        """Append items ``(pack group, record, stored bytes, encrypted)`` to their open packs under one lock; write
        the packs that are due."""
        due = []
        with self._mutex:
            for group, record, data, enc in entries:
                pack = self._open_packs.get(group)
                if pack is None:
                    pack = self._open_packs[group] = _OpenPack()
                pack.entries.append((record, data))
                pack.size += len(data)
                if enc:
                    pack.encrypted += 1
                self._buffered += len(data)
                if pack.size >= self.pack_size:
                    due.append(self._take_pack(group))
                while self._buffered >= PACK_BUFFERS * self.pack_size and self._open_packs:
                    due.append(self._take_pack(max(self._open_packs, key=lambda g: self._open_packs[g].size)))
        for taken in due:
            self._write_pack(*taken)

    def _take_pack(self, group):
        """(under the mutex) Close the open pack of ``group``: ``(its number, group, the _OpenPack)``."""
        pack = self._open_packs.pop(group)
        self._buffered -= pack.size
        self._pack_count += 1
        return self._pack_count, group, pack

    def _write_pack(self, number, group, pack):
        """Write one pack object; only then do its items count as stored (their records get ``pack`` and ``offset``)."""
        path = pack_path(number)
        entries = pack.entries
        offset = 0
        for record, data in entries:
            record.place(path, offset)
            offset += len(data)
        try:
            result = self.storage.put(join_key(self.name, path), b"".join([data for dummy, data in entries]))
        except BaseException:
            with self._mutex:
                for record, dummy in entries:
                    self._reserved.discard(record["path"][:-len(ENC_SUFFIX)] if record.get("encrypted") else record["path"])
            raise
        with self._mutex:
            self._packs.append({"path": path, "size": result.size, "sha256": result.sha256, "items": len(entries)})
            self._items.extend(record for record, dummy in entries)
            self._count(group, len(entries), result.size, pack.encrypted)

    def _flush_packs(self):
        """Write every open pack (at the commit), up to ``workers`` at a time: there is one per resource type, and on
        object storage each is a request of its own.  Every pack is tried; the first error is raised after."""
        with self._mutex:
            due = [self._take_pack(group) for group in sorted(self._open_packs)]
        if self.workers == 1 or len(due) < 2:
            for taken in due:
                self._write_pack(*taken)
            return
        with self._mutex:  # the writer's own pool: idle now that every item is in
            pool = self._executor()
        futures = [pool.submit(self._write_pack, *taken) for taken in due]
        concurrent.futures.wait(futures)
        for future in futures:
            future.result()

    def add_resource(self, obj, resource, group="", encrypt=None):
        """Store a Kubernetes object (a dict) at its ``resources/...`` path."""
        meta = obj.get("metadata") or {}
        path, labels = resource_item(resource, group, meta.get("namespace"), meta.get("name"))
        return self.add(path, obj, encrypt=encrypt, **labels)

    def submit(self, path, data, encrypt=None, **labels):
        """``add`` on the writer's pool; blocks while ``2 * workers`` items are pending.  Errors surface in ``commit``."""
        return self._job(self.add, path, data, encrypt, **labels)

    def submit_many(self, items):
        """``add`` for each ``(path, data, encrypt, labels)`` of ``items`` as ONE job of the writer's pool (one hand-off
        for a whole page of objects instead of one per object); takes one of the ``2 * workers`` slots.  Every item
        is tried; the errors surface in ``commit`` like those of ``submit``."""
        items = list(items)
        if not items:
            return None
        return self._job(self._add_batch, items)

    def _executor(self):
        """(under the mutex) The writer's pool of ``workers`` threads, started on first use."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers,
                                                               thread_name_prefix="adhar-archive")
        return self._pool

    def _job(self, fn, *args, **kwargs):
        """Run ``fn`` on the writer's pool once one of the ``2 * workers`` slots is free."""
        self._check_open()
        self._slots.acquire()
        with self._mutex:
            try:
                future = self._executor().submit(fn, *args, **kwargs)
            except BaseException:
                self._slots.release()
                raise
            self._futures.add(future)
        future.add_done_callback(self._done)
        return future

    def _add_batch(self, items):
        """``add`` for each ``(path, data, encrypt, labels)``; in a packed backup the small byte items (a page of
        listed objects) go through ``_add_small`` together.  The errors go to ``commit``."""
        errors, small = [], []
        for item in items:
            if self.pack_size and isinstance(item[1], bytes) and len(item[1]) <= SMALL_ITEM:
                small.append(item)
                continue
            try:
                self.add(item[0], item[1], item[2], **item[3])
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(exc)
        if small:
            try:
                errors.extend(self._add_small(small))
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(exc)
        if errors:
            with self._mutex:
                self._errors.extend(errors)

    def _add_small(self, items):
        """``add`` for byte items of at most ``SMALL_ITEM`` bytes of a packed backup, the checks, the reservation
        and the packing done under the lock once for all of them; returns the errors of the items that failed."""
        errors, targets = [], []
        for path, data, encrypt, labels in items:
            try:
                targets.append((path, data, labels) + self._target(path, encrypt))
            except AdharError as exc:
                errors.append(exc)
        self._check_open()
        with self._mutex:
            if self._state != "open":
                raise self._open_error()
            reserved = self._reserve_all(targets, errors)
            self._active += 1
        entries, packed = [], False
        try:
            for path, data, labels, stored, enc in reserved:
                try:
                    if enc:
                        data = self._dek.encrypt(data, item_aad(self.name, stored))
                    record = Record.item(stored, len(data), hashlib.sha256(data).digest(), enc, labels)
                except Exception as exc:  # pylint: disable=broad-except
                    errors.append(exc)
                    with self._mutex:
                        self._reserved.discard(path)
                    continue
                entries.append((self._pack_group(record), record, data, enc))
            packed = True
            self._pack_many(entries)  # a pack that fails to write gives its items back itself
        finally:
            with self._mutex:
                if not packed:  # stopped before its items reached a pack: none of them is in the backup
                    for target in reserved:
                        self._reserved.discard(target[0])
                self._active -= 1
                self._idle.notify_all()
        self._refresh_lock()
        return errors

    def _reserve_all(self, targets, errors):
        """(under the mutex) Reserve the paths of ``targets`` (``(path, ...)`` each); returns the targets reserved,
        adds an error to ``errors`` for each path taken already (or twice in ``targets``)."""
        paths = [target[0] for target in targets]
        if self._reserved.isdisjoint(paths):  # the usual case: every path is new (a set operation, no loop here)
            before = len(self._reserved)
            self._reserved.update(paths)
            if len(self._reserved) - before == len(paths):
                return targets
            self._reserved.difference_update(paths)  # a path twice in the batch: none was reserved before
        reserved = []
        for target in targets:
            if target[0] in self._reserved:
                errors.append(self._taken_error(target[0]))
                continue
            self._reserved.add(target[0])
            reserved.append(target)
        return reserved

    def _done(self, future):
        with self._mutex:
            self._futures.discard(future)
            exc = future.exception()
            if exc is not None:
                self._errors.append(exc)
        self._slots.release()

    def wait(self):
        """Wait for every submitted item; raises the first error of a failed one."""
        while True:
            with self._mutex:
                pending = list(self._futures)
            if not pending:
                break
            concurrent.futures.wait(pending)
        with self._mutex:
            errors = list(self._errors)
        if errors:
            first = errors[0]
            text = first.msg if isinstance(first, AdharError) else "%s: %s" % (type(first).__name__, first)
            details = dict(first.details) if isinstance(first, AdharError) else {}
            details.update(backup=self.name, failed_items=len(errors))
            raise AdharError("backup %s: %d item(s) failed; first: %s" % (self.name, len(errors), text),
                             **details) from first

    # -- commit

    def build_manifest(self, finished):
        with self._mutex:
            items = sorted(self._items, key=record_path)
            packs = sorted(self._packs, key=lambda r: r["path"])
            totals = sorted((group, tuple(numbers)) for group, numbers in self._totals.items())
        counts, sections = {}, {}
        for (section, resource), (number, dummy, dummy2) in totals:
            sections[section] = sections.get(section, 0) + number
            if resource:
                counts[resource] = counts.get(resource, 0) + number
        total_bytes = sum(numbers[1] for dummy, numbers in totals)
        encrypted = sum(numbers[2] for dummy, numbers in totals)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION if packs else UNPACKED_VERSION,
            "name": self.name,
            "cluster": self.cluster,
            "kubernetes_version": self.kubernetes_version,
            "created": self.created,
            "started": self.started,
            "finished": finished,
            "counts": counts,
            "sections": sections,
            "item_count": len(items),
            "total_bytes": total_bytes,
            "items": items,
            "encryption": None,
            "metadata": self.metadata,
            "writer": self._writer_info(),
        }
        if packs:
            manifest["packs"] = packs
        if self._encryption is not None:
            manifest["encryption"] = dict(self._encryption, encrypted_items=encrypted)
        return manifest

    def commit(self):
        """Wait for pending items, make them durable, write the manifest; returns the manifest."""
        self._check_open()
        self.wait()
        with self._mutex:
            self._state = "committing"  # refuses new items; items being written are waited for
            while self._active:
                self._idle.wait()
        try:
            self._flush_packs()
            with self._mutex:
                self._reserved = set()  # only guarded against duplicates while items came in; its table is big
            self.storage.sync()
            try:
                if self.lock is not None and getattr(self.lock, "held", False):
                    self.lock.refresh()
            except AdharError as exc:
                self.warnings.append("the lock was lost before the commit: %s" % exc.msg)
            manifest = self.build_manifest(isotime(utcnow()))
            self.storage.put(join_key(self.name, MANIFEST), self._sealed_chunks(manifest))  # streamed, encoded as sent
            self.storage.sync()
        except BaseException:
            with self._mutex:
                self._state = "failed"
            raise
        self.finished = manifest["finished"]
        self.manifest = manifest
        with self._mutex:
            self._state = "committed"
        self._shutdown()
        return manifest

    def _sealed_chunks(self, manifest):
        """The stored manifest as chunks of bytes, encoded once as they are asked for: its canonical form (the MAC
        payload, ``authenticated_chunks``, which every manifest of ``build_manifest`` fits) with the ``mac`` (with
        a data key) and then the ``signature`` (with a local key: none for KMS) as its last members, both computed
        as the chunks go by.  Key order is not part of the format (a reader parses the manifest and checks the
        canonical form of what it parsed).  A backup without a data key is stored as ``manifest_chunks`` gives it."""
        if self._dek is None:  # unencrypted: nothing to authenticate
            yield from manifest_chunks(manifest)
            return
        signing_key = getattr(self._key_wrapper, "signing_key", lambda: None)()  # None: no local KEK (KMS)
        before, after = authenticated_chunks(manifest)
        mac = self._dek.manifest_hmac()
        digest = hashlib.sha512() if signing_key is not None else None
        for chunk in before:
            mac.update(chunk)
            if digest is not None:
                digest.update(chunk)
            yield chunk
        mac.update(after)
        manifest["mac"] = mac.hexdigest()
        tail = b',"mac":' + canonical_json(manifest["mac"])
        if digest is not None:  # the signed payload: the mac's with the mac put in (before the members after it)
            digest.update(tail + after)
            manifest["signature"] = sign_manifest_digest(signing_key, digest.digest())
            tail += b',"signature":' + canonical_json(manifest["signature"])
        yield after[:-1] + tail + b"}\n"

    def abort(self):
        """Stop accepting items and leave the backup incomplete (no manifest); written items stay until retention."""
        with self._mutex:
            if self._state in ("committed", "aborted"):
                return
            self._state = "aborted"
        self._shutdown(cancel=True)

    def _shutdown(self, cancel=False):
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        elif self._state in ("new", "open"):
            self.commit()
        return False
