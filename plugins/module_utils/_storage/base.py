# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage interface shared by every backend, and the per-cluster lock.

A ``Storage`` is a flat namespace of keys (``a/b/c.json``, ``/`` separated,
relative) holding immutable objects.  Objects are written once: ``put``
refuses to replace an existing key (``overwrite=True`` exists for lock
files only).  Backends implement the ``_``-prefixed primitives; everything
else (key checks, streaming/hashing of inputs, lock staleness rules) lives
here once.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import os
import socket
import sys
import time
import uuid

from ansible_collections.adhar.platform.plugins.module_utils._common.times import parse_time_or_none
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.procs import is_running, _proc_stat

CHUNK_SIZE = 1024 * 1024
TEMP_PREFIX = ".adhar-tmp-"
LOCK_DIR = ".locks"
DEFAULT_LOCK_TTL = 24 * 3600
# An unreadable lock (should never happen: locks are written atomically) is
# taken over once it is this old.
UNREADABLE_LOCK_GRACE = 60

ObjectInfo = collections.namedtuple("ObjectInfo", ["key", "size", "modified"])
ObjectInfo.__doc__ = "One stored object: key (relative to the storage root), size in bytes, last modified (aware UTC datetime)."

PutResult = collections.namedtuple("PutResult", ["key", "size", "sha256"])
PutResult.__doc__ = "What ``put`` stored: key, size and SHA-256 (hex) of the stored bytes."


class ObjectMissing(AdharError):
    """A key that does not exist was read (an ``AdharError``)."""


class ObjectExists(AdharError):
    """A write-once key already exists (an ``AdharError``)."""


# -- keys and inputs ------------------------------------------------------------

_TEMP_PART = "/" + TEMP_PREFIX


def _has_bad_part(key):
    """True when a part of ``key`` (not empty) is empty, ``.`` or ``..``, or starts with ``TEMP_PREFIX``, or when it
    holds a NUL or a backslash: substring tests only (a backup checks a key per object, and a regular expression
    that tries a part boundary at every position costs several times as much)."""
    return ("\x00" in key or "\\" in key or "//" in key or "/./" in key or "/../" in key or _TEMP_PART in key
            or key.startswith(("/", "./", "../", TEMP_PREFIX)) or key.endswith(("/", "/.", "/..")) or key in (".", ".."))


def check_key(key, what="key"):
    """Return ``key`` if it is a clean relative key, else raise ``AdharError``."""
    if not isinstance(key, str) or not key:
        raise AdharError("invalid storage %s %r: empty" % (what, key))
    if _has_bad_part(key):
        raise AdharError("invalid storage %s %r: every part must be a plain name (no empty, '.', '..', NUL, "
                         "backslash or %s parts)" % (what, key, TEMP_PREFIX))
    return key


def join_key(*parts):
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def iter_chunks(data, chunk_size=CHUNK_SIZE):
    """Byte chunks of ``data``: bytes-like, str (UTF-8), a binary file-like object or an iterable of bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data)
        return
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            if isinstance(chunk, str):
                raise AdharError("a stream given to storage must be binary (opened with 'rb')")
            yield chunk
        return
    for chunk in data:
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        if chunk:
            yield bytes(chunk)


class HashingChunks:
    """Iterates over chunks while counting their bytes and hashing them (SHA-256)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self.size = 0
        self._sha = hashlib.sha256()

    def __iter__(self):
        return self

    def __next__(self):
        chunk = next(self._chunks)
        self.size += len(chunk)
        self._sha.update(chunk)
        return chunk

    @property
    def sha256(self):
        return self._sha.hexdigest()


class ChunkReader:
    """``read(n)`` over an iterator of chunks: returns exactly ``n`` bytes unless the input ends."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b""
        self.eof = False

    def read(self, n):
        parts = [self._pending] if self._pending else []
        have = len(self._pending)
        self._pending = b""
        while have < n and not self.eof:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if len(data) > n:
            self._pending = data[n:]
            data = data[:n]
        return data

    def at_end(self):
        """True when nothing is left (reads ahead by one chunk when needed)."""
        if self._pending:
            return False
        if self.eof:
            return True
        try:
            self._pending = next(self._chunks)
        except StopIteration:
            self.eof = True
            return True
        return False


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def isotime(value):
    """``2026-01-02T03:04:05.678Z`` (UTC, milliseconds) of an aware datetime or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)


def parse_time(value):
    """An aware UTC datetime from an ISO 8601 string (``Z`` allowed), a datetime or epoch seconds; ``None`` when unreadable."""
    return parse_time_or_none(value)


# -- identity of this process (for locks) ----------------------------------------

def _read_first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip() or None
    except OSError:
        return None


def process_identity():
    """Who holds a lock: host, boot id and pid namespace (to know when a pid can be checked), pid and its start time."""
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = None
    stat = _proc_stat(os.getpid())
    return {
        "host": socket.gethostname(),
        "boot_id": _read_first_line("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": pidns,
        "pid": os.getpid(),
        "pid_start": stat[1] if stat else None,
    }


def _same_machine(info, me):
    if info.get("host") != me["host"]:
        return False
    for key in ("boot_id", "pid_namespace"):
        if info.get(key) != me.get(key):
            return False
    return True


def lock_stale_reason(info, modified, now, me=None):
    """Why a lock is stale (a string), or ``None`` while it is held.

    ``modified``/``now`` come from the same clock (file mtime and local time;
    or the S3 object's ``Last-Modified`` and the server's ``Date``), so the
    expiry does not depend on clock agreement between hosts.
    """
    me = me or process_identity()
    age = (now - modified).total_seconds() if modified and now else 0.0
    if not isinstance(info, dict):
        if age > UNREADABLE_LOCK_GRACE:
            return "the lock is unreadable and %ds old" % age
        return None
    if _same_machine(info, me) and info.get("pid"):
        if not is_running({"pid": info["pid"], "starttime": info.get("pid_start")}):
            return "its holder (pid %s on this host) is gone" % info["pid"]
    ttl = info.get("ttl")
    if isinstance(ttl, (int, float)) and age > ttl:
        return "it expired (%ds old, ttl %ds)" % (age, ttl)
    return None


class StorageLock:
    """A per-cluster lock kept as an object ``.locks/<cluster>.lock`` in a storage.

    The object holds JSON: cluster, purpose, owner token, host, boot id, pid
    namespace, pid and its start time, acquired time and ttl.  It is created
    only if absent (atomically); a lock is taken over only when stale
    (``lock_stale_reason``), and the takeover deletes exactly the stale
    object it judged (conditional delete), so two contenders cannot both win.
    """

    def __init__(self, storage, cluster, ttl=DEFAULT_LOCK_TTL, purpose="backup", **info):
        check_key(cluster, "lock name")
        if "/" in cluster:
            raise AdharError("invalid lock name %r" % cluster)
        self.storage = storage
        self.cluster = cluster
        self.key = join_key(LOCK_DIR, cluster + ".lock")
        self.ttl = int(ttl)
        self.purpose = purpose
        self.extra = info
        self.token = None
        self._handle = None
        self.took_over = None
        self.release_error = None

    def _payload(self):
        body = dict(self.extra)
        body.update(process_identity())
        body.update({"cluster": self.cluster, "purpose": self.purpose, "owner": self.token,
                     "acquired": isotime(utcnow()), "ttl": self.ttl})
        return json.dumps(body, sort_keys=True).encode("utf-8")

    @property
    def held(self):
        return self._handle is not None

    def acquire(self):
        if self.held:
            return self
        self.token = uuid.uuid4().hex
        for dummy in range(5):
            handle = self.storage._lock_create(self.key, self._payload())
            if handle is not None:
                self._handle = handle
                return self
            current = self.storage._lock_read(self.key)
            if current is None:
                continue  # released in between: try again
            data, handle, modified, now = current
            try:
                info = json.loads(data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                info = None
            reason = lock_stale_reason(info, modified, now)
            if reason is None:
                info = info or {}
                raise AdharError(
                    "cluster %s is locked: %s by pid %s on %s since %s (lock %s in %s; it expires after %ss or when "
                    "that process is gone)" % (self.cluster, info.get("purpose", "another run"), info.get("pid"),
                                               info.get("host"), info.get("acquired"), self.key,
                                               self.storage.location, info.get("ttl")),
                    lock=self.key, holder=info)
            if self.storage._lock_delete(self.key, handle):
                self.took_over = {"reason": reason, "previous": info}
        raise AdharError("could not take the lock %s in %s: it keeps changing" % (self.key, self.storage.location),
                         lock=self.key)

    def refresh(self):
        """Restart the ttl (long runs call this now and then); fails if the lock was taken over."""
        if not self.held:
            raise AdharError("lock %s is not held" % self.key)
        handle = self.storage._lock_replace(self.key, self._payload(), self._handle)
        if handle is None:
            self._handle = None
            raise AdharError("lock %s in %s was taken over by another run" % (self.key, self.storage.location),
                             lock=self.key)
        self._handle = handle

    def release(self, error=None):
        """Delete the lock if it is still ours; ``False`` if it was taken over meanwhile.

        While an error is on its way out (``release`` called from ``finally`` or ``__exit__``; or given as
        ``error``), a failure to delete never replaces that error: it is recorded (``release_error``, and a
        ``lock_release_error`` detail of an ``AdharError``) and ``False`` is returned.  Otherwise it raises
        ``AdharError`` with the real cause.
        """
        if not self.held:
            return False
        in_flight = error if error is not None else sys.exc_info()[1]
        handle, self._handle = self._handle, None
        try:
            return self.storage._lock_delete(self.key, handle)
        except Exception as exc:
            failure = exc if isinstance(exc, AdharError) else AdharError(
                "cannot remove the lock %s in %s: %s" % (self.key, self.storage.location, exc), lock=self.key, cause=exc)
            if in_flight is None:
                raise failure from exc
            self.release_error = failure.msg
            if isinstance(in_flight, AdharError):
                in_flight.details.setdefault("lock_release_error", failure.msg)
            return False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, tb):
        self.release(exc)
        return False


class Storage:
    """Interface of a backup location.  Keys are relative, ``/``-separated."""

    kind = None

    @property
    def location(self):
        """A URL naming the location (no credentials)."""
        raise NotImplementedError

    def describe(self):
        """Facts about the location for results (no credentials)."""
        return {"type": self.kind, "url": self.location}

    # -- objects

    def put(self, key, data, overwrite=False):
        """Store ``data`` (bytes, str, binary stream or iterable of bytes) under ``key``; returns ``PutResult``.

        Streams are consumed chunk by chunk, never read whole.  The object
        appears atomically and only when complete.  An existing key is an
        ``ObjectExists`` error unless ``overwrite``.
        """
        check_key(key)
        chunks = HashingChunks(iter_chunks(data))
        self._put(key, chunks, overwrite)
        return PutResult(key, chunks.size, chunks.sha256)

    def open(self, key):
        """A binary file-like object streaming the object (``ObjectMissing`` if absent)."""
        return self._open(check_key(key))

    def read(self, key):
        with self.open(key) as f:
            return f.read()

    def read_range(self, key, offset, length):
        """``length`` bytes of the object from byte ``offset`` (fewer only when the object is shorter)."""
        return self._read_range(check_key(key), int(offset), int(length))

    def _read_range(self, key, offset, length):
        """Default: stream the object and skip to ``offset`` (backends override this with a real range read)."""
        with self.open(key) as f:
            while offset > 0:
                skipped = f.read(min(offset, 1 << 20))
                if not skipped:
                    return b""
                offset -= len(skipped)
            return f.read(length)

    def exists(self, key):
        return self._exists(check_key(key))

    def list(self, prefix=""):
        """``ObjectInfo`` of every object whose key starts with ``prefix`` (no particular order)."""
        return self._list(prefix)

    def list_dirs(self, prefix=""):
        """Names of the immediate "directories" below ``prefix`` (a key prefix ending with ``/`` or empty)."""
        return self._list_dirs(prefix)

    def delete(self, keys):
        """Delete ``keys`` (missing ones are ignored); returns how many were asked."""
        keys = [check_key(k) for k in keys]
        if keys:
            self._delete(keys)
        return len(keys)

    def delete_prefix(self, prefix, first=()):
        """Delete every object below ``prefix``; the keys in ``first`` go before the rest."""
        first = [k for k in first if self.exists(k)]
        if first:
            self.delete(first)
        rest = sorted(o.key for o in self.list(prefix))
        self.delete(rest)
        return len(first) + len(rest)

    def sync(self):
        """Make everything written so far durable (a barrier before a commit record)."""

    def check(self, write=False, create=True):
        """Raise ``AdharError`` when the location cannot be read (or written; ``create=False``: without creating it)."""

    def lock(self, cluster, ttl=DEFAULT_LOCK_TTL, purpose="backup", **info):
        """A ``StorageLock`` for ``cluster`` (not yet acquired; use ``with`` or ``acquire()``)."""
        return StorageLock(self, cluster, ttl=ttl, purpose=purpose, **info)

    # -- backend primitives

    def _put(self, key, chunks, overwrite):
        raise NotImplementedError

    def _open(self, key):
        raise NotImplementedError

    def _exists(self, key):
        raise NotImplementedError

    def _list(self, prefix):
        raise NotImplementedError

    def _list_dirs(self, prefix):
        raise NotImplementedError

    def _delete(self, keys):
        raise NotImplementedError

    def _lock_create(self, key, data):
        """Create ``key`` with ``data`` only if absent; a handle naming this version, or ``None`` if it exists."""
        raise NotImplementedError

    def _lock_read(self, key):
        """``(data, handle, modified, now)`` of ``key`` or ``None`` if absent."""
        raise NotImplementedError

    def _lock_delete(self, key, handle):
        """Delete ``key`` only if it is still the version ``handle``; ``True`` if deleted."""
        raise NotImplementedError

    def _lock_replace(self, key, data, handle):
        """Replace ``key`` only if it is still ``handle``; the new handle, or ``None``."""
        raise NotImplementedError


def now_for_locks():
    """Local wall clock as an aware datetime (the local backend's ``now``)."""
    return datetime.datetime.fromtimestamp(time.time(), datetime.timezone.utc)
