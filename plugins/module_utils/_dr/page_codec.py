# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A listed page split into the objects a backup keeps, in this process or in decoder processes.

Decoding a page is most of a backup's CPU time, and it holds the GIL, so a backup in one process uses one core
whatever its thread count.  A kept object is not encoded again: its item is its own JSON text cut out of the page
(``walk_object`` gives each element's bounds), which keeps the bytes the API server sent.  ``DecoderPool`` runs that
work in a few child processes (``python -I -c``, importing only this module and the standard library): a listing
thread sends a page's bytes and gets back each kept object's item bytes, so the parent's GIL only hashes, encrypts,
packs and writes.  ``split_page`` is the one implementation both paths run, so a page gives the same items either
way.

No import from the collection here: a decoder process imports this file alone.
"""

from __future__ import annotations

import fcntl
import fnmatch
import json
import marshal
import os
import queue
import re
import struct
import subprocess
import sys
import threading

# Objects carrying one of these labels are never backed up (Velero's label and ours).
EXCLUDE_LABELS = (("backup.adhar.io/exclude", "true"), ("velero.io/exclude-from-backup", "true"))
_EXCLUDE_KEYS = frozenset(key for key, dummy in EXCLUDE_LABELS)
# Decoder processes at most (each is a busy core while pages flow; see ``default_processes``).
MAX_PROCESSES = 4
_HEADER = struct.Struct("!I")
# Bytes a pipe to or from a decoder process may hold (Linux's default is 64 KiB; a page of 500 objects is ~0.5-1 MB).
PIPE_SIZE = 1 << 20
# The stored form of an object item given as a dict (an object read on its own, not cut out of a listed page): JSON,
# sorted keys, no whitespace, UTF-8 (``_archive.writer.item_bytes``); one encoder for every item, the same bytes as
# ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` without building one per call.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_WS = " \t\n\r"


class PageError(ValueError):
    """A page that is no list, or a decoder process that failed (the message says which)."""


def encode_item(obj):
    """The stored bytes of an object item (before encryption)."""
    return _ENCODE(obj).encode("utf-8")


def namespace_matches(namespace, include, exclude):
    """Velero's namespace filter: excluded by any glob of ``exclude``, else included by ``include`` (``["*"]``: all)."""
    if any(fnmatch.fnmatchcase(namespace, p) for p in exclude):
        return False
    return include == ["*"] or any(fnmatch.fnmatchcase(namespace, p) for p in include)


def is_excluded(obj):
    """True when the object carries one of the exclude labels."""
    labels = ((obj.get("metadata") or {}).get("labels")) or {}
    return any(str(labels.get(k, "")).lower() == v for k, v in EXCLUDE_LABELS)


def pvc_fields(obj):
    """``(volumeName, storageClassName)`` of a PersistentVolumeClaim."""
    spec = obj.get("spec") or {}
    return spec.get("volumeName"), spec.get("storageClassName")


def walk_object(text, on_item, head_only=False):
    """``json.loads(text)`` of a JSON object, except that each element of its top-level ``items`` list goes through
    ``on_item(value, start, end)`` (``text[start:end]`` is the element's own JSON text) and ``items`` is the list of
    what that returns.  Raises ``ValueError`` (or ``IndexError``) for text that is no object or no valid JSON.
    ``head_only``: return the members before ``items`` as soon as its key is read (the rest of the text unread)."""
    space = _SPACE.match
    at = space(text, 0).end()
    if text[at] != "{":
        raise ValueError("not an object")
    out = {}
    at = space(text, at + 1).end()
    if text[at] == "}":
        at += 1
    else:
        while True:
            if text[at] != '"':
                raise ValueError("a key expected")
            key, at = json.decoder.scanstring(text, at + 1)
            at = space(text, at).end()
            if text[at] != ":":
                raise ValueError("':' expected")
            at = space(text, at + 1).end()
            if key == "items" and head_only:
                return out
            if key == "items" and text[at] == "[":
                out[key], at = _walk_array(text, at, on_item)
            else:
                out[key], at = _DECODER.raw_decode(text, at)
            at = space(text, at).end()
            if text[at] == ",":
                at = space(text, at + 1).end()
                continue
            if text[at] != "}":
                raise ValueError("',' or '}' expected")
            at += 1
            break
    if space(text, at).end() != len(text):
        raise ValueError("extra data")
    return out


# How much of a listed page ``page_continue`` reads: the list's ``metadata`` (a continue token is a few hundred bytes).
PAGE_HEAD = 8192


def page_continue(body):
    """The ``continue`` token of a listed page (JSON bytes of a ``...List``) read from its head, before its items are
    decoded: the API server writes the list's ``metadata`` before its ``items``.  ``""`` for the last page; ``None``
    when the head does not tell (no ``metadata`` before ``items``, or a head that is no JSON): the page must then be
    decoded whole to find it."""
    head = body[:PAGE_HEAD]
    try:
        text = head.decode("utf-8", "ignore") if isinstance(head, (bytes, bytearray)) else head
        meta = walk_object(text, None, head_only=True).get("metadata")
    except (ValueError, IndexError):
        return None
    return meta.get("continue") or "" if isinstance(meta, dict) else None


def _walk_array(text, at, on_item):
    space = _SPACE.match
    values = []
    at = space(text, at + 1).end()
    if text[at] == "]":
        return values, at + 1
    while True:
        value, end = _DECODER.raw_decode(text, at)
        values.append(on_item(value, at, end))
        at = end if text[end] not in _WS else space(text, end).end()  # compact JSON (the API server's) has none
        if text[at] == ",":
            at += 1
            if text[at] in _WS:
                at = space(text, at).end()
            continue
        if text[at] != "]":
            raise ValueError("',' or ']' expected")
        return values, at + 1


def _head(api_version, kind, obj):
    """The JSON text put before a listed object's own members: the ``apiVersion`` and ``kind`` it lacks (a list's
    items carry neither), or ``None``."""
    missing = [(k, v) for k, v in (("apiVersion", api_version), ("kind", kind)) if k not in obj]
    return "{" + ",".join("%s:%s" % (_ENCODE(k), _ENCODE(v)) for k, v in missing) if missing else None


def split_page(body, api_version, kind, is_namespaces, pvcs, include, exclude, encode, verdicts=None):
    """``(continue token, kept)`` of one listed page (JSON bytes of a ``...List``).

    ``kept``: ``(namespace, name, item, pvc)`` per object in the namespaces the filters keep (``is_namespaces``: a
    Namespace is kept by its own name) without an exclude label; ``item`` is the object's item bytes when ``encode``
    (its JSON text as the API server sent it, the ``apiVersion`` and ``kind`` the list left out put first: nothing
    is encoded again), else the object (``apiVersion`` and ``kind`` set); ``pvc`` is ``pvc_fields(obj)`` when
    ``pvcs`` (the page lists PersistentVolumeClaims), else ``None``.  ``verdicts`` caches the filters' verdict per
    namespace."""
    verdicts = {} if verdicts is None else verdicts
    heads = {}

    def keep(obj, start, end):
        if not isinstance(obj, dict):
            raise PageError("an item that is no object")
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace")
        if ns:
            ok = verdicts.get(ns)
            if ok is None:
                ok = verdicts[ns] = namespace_matches(ns, include, exclude)
            if not ok:
                return None
        name = meta.get("name")
        if is_namespaces and not namespace_matches(name or "", include, exclude):
            return None
        labels = meta.get("labels")
        if labels and (not isinstance(labels, dict) or not _EXCLUDE_KEYS.isdisjoint(labels)) and is_excluded(obj):
            return None
        if encode:
            known = ("apiVersion" in obj, "kind" in obj)
            head = heads.get(known)
            if head is None:
                head = heads[known] = _head(api_version, kind, obj) or ""
            if not head:
                item = bytes(view[start:end]) if view is not None else text[start:end].encode("utf-8")
            else:  # '{' + what it lacks + ',' + its members, or + '}' when it has none
                first = text[start + 1]
                if first in _WS:
                    first = text[_SPACE.match(text, start + 1).end()]
                lead = head if first == "}" else head + ","
                if view is not None:  # an ASCII page: the item's offsets are those of its bytes; one copy made
                    item = lead.encode("utf-8") + view[start + 1:end]
                else:
                    item = (lead + text[start + 1:end]).encode("utf-8")
        else:
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            item = obj
        return (ns, name, item, pvc_fields(obj) if pvcs else None)

    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        # a page of ASCII only (the usual case): a character's offset in the text is its byte's in the body
        view = memoryview(body) if encode and len(text) == len(body) and isinstance(body, (bytes, bytearray)) else None
        data = walk_object(text, keep)
    except PageError:
        raise
    except (ValueError, IndexError):
        raise PageError("no list") from None
    items = data.get("items")
    kept = [k for k in items if k is not None] if isinstance(items, list) else []
    return (data.get("metadata") or {}).get("continue"), kept


# --------------------------------------------------------------------------- decoder processes

def _read_frame(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    size = _HEADER.unpack(head)[0]
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return marshal.loads(payload)


def _write_frame(stream, value):
    payload = marshal.dumps(value)
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def serve(stdin=None, stdout=None):
    """A decoder process: the filters first (``(include, exclude)``, answered ``("ready",)``), then one answer per
    page until stdin closes.  A request is ``(body, api_version, kind, is_namespaces, pvcs)``; the answer
    ``("ok", continue, kept)`` or ``("error", message)``."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    filters = _read_frame(stdin)
    if filters is None:
        return
    include, exclude = list(filters[0]), list(filters[1])
    _write_frame(stdout, ("ready",))
    verdicts = {}
    while True:
        request = _read_frame(stdin)
        if request is None:
            return
        body, api_version, kind, is_namespaces, pvcs = request
        try:
            cont, kept = split_page(body, api_version, kind, is_namespaces, pvcs, include, exclude, True, verdicts)
            answer = ("ok", cont, kept)
        except (PageError, TypeError, ValueError) as exc:
            answer = ("error", str(exc))
        del body, request
        _write_frame(stdout, answer)


def _widen(stream):
    """Let a pipe hold a whole page (``PIPE_SIZE``) where the system allows it: a frame then goes through in one or
    two reads and writes instead of sixteen, each of which has to take the GIL back."""
    try:
        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size for this user
        pass


def _package_root():
    """The directory holding ``ansible_collections`` this module was imported from (a directory or a zip)."""
    here = os.path.abspath(__file__)
    for dummy in range(len(__name__.split("."))):
        here = os.path.dirname(here)
    return here


class _Decoder:
    def __init__(self, root, include, exclude):
        code = ("import sys; sys.path.insert(0, %r); from %s import serve; serve()" % (root, __name__))
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True)
        for stream in (self.proc.stdin, self.proc.stdout):
            _widen(stream)
        try:
            self.exchange((list(include), list(exclude)))  # answered once it imported this module and read the filters
        except PageError:
            self.close()
            raise

    def exchange(self, request):
        try:
            _write_frame(self.proc.stdin, request)
            answer = _read_frame(self.proc.stdout)
        except (OSError, ValueError, EOFError):
            answer = None
        if answer is None:
            self.proc.kill()
            self.proc.wait()
            err = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise PageError("a decoder process ended (exit code %s)%s" % (
                self.proc.returncode, (": " + err[-1]) if err else ""))
        return answer

    def close(self, timeout=5.0):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def cpu_quota(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """The CPUs a cgroup CPU quota allows this process (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us`` of v1), rounded up; ``None`` without a quota."""
    for line in (_read(proc_cgroup) or "").splitlines():
        dummy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        path = path.lstrip("/")
        if controllers == "":  # cgroup v2
            candidates = [(os.path.join(root, path, "cpu.max"), None), (os.path.join(root, "cpu.max"), None)]
        elif "cpu" in controllers.split(","):
            base = os.path.join(root, controllers) if os.path.isdir(os.path.join(root, controllers)) else os.path.join(root, "cpu")
            candidates = [(os.path.join(d, "cpu.cfs_quota_us"), os.path.join(d, "cpu.cfs_period_us"))
                          for d in (os.path.join(base, path), base)]
        else:
            continue
        for quota_file, period_file in candidates:
            text = _read(quota_file)
            if text is None:
                continue
            parts = text.split() if period_file is None else [text, _read(period_file) or ""]
            try:
                quota, period = int(parts[0]), int(parts[1])
            except (IndexError, ValueError):  # "max": no quota
                return None
            return -(-quota // period) if quota > 0 and period > 0 else None
    return None


def usable_cpus():
    """The cores this process may use: its CPU affinity (a container's cpuset counts), capped by a cgroup CPU quota
    (a container's CPU limit); else the machine's."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(cpus, quota)) if quota else cpus


def default_processes(cpus=None):
    """Decoder processes for ``cpus`` cores (default: ``usable_cpus()``): two fewer than the cores (one for the
    module's process, one for what shares the machine with it: an API server, a storage), at most
    ``MAX_PROCESSES``; none on one or two cores.  Now that an item is cut out of its page, not encoded again, a
    decoder process saves about what its pipes cost when it has no core of its own: on 2 cores shared with the API
    server a backup with one was no faster (docs/performance.md)."""
    cpus = cpus or usable_cpus()
    return max(0, min(MAX_PROCESSES, cpus - 2))


class DecoderPool:
    """``processes`` decoder processes sharing the filters ``include``/``exclude``; ``split`` is ``split_page`` with
    ``encode`` on, run by whichever process is free (the calling thread waits on the pipe, without the GIL).

    Each process has answered before the pool is returned: one that cannot start (no interpreter, an import that
    fails) raises ``OSError`` or ``PageError`` here, with every process started so far stopped."""

    def __init__(self, processes, include, exclude):
        self._idle = queue.Queue()
        self._all = []
        self._lock = threading.Lock()
        try:
            for dummy in range(processes):
                decoder = _Decoder(_package_root(), include, exclude)
                self._all.append(decoder)
                self._idle.put(decoder)
        except BaseException:
            self.close()
            raise

    @property
    def processes(self):
        return len(self._all)

    def pids(self):
        return [d.proc.pid for d in self._all]

    def split(self, body, api_version, kind, is_namespaces, pvcs):
        decoder = self._idle.get()
        try:
            answer = decoder.exchange((body, api_version, kind, is_namespaces, pvcs))
        finally:
            self._idle.put(decoder)
        if answer[0] != "ok":
            raise PageError(answer[1])
        return answer[1], answer[2]

    def close(self):
        with self._lock:
            decoders, self._all = self._all, []
        for decoder in decoders:
            decoder.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
