# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup format: names, item paths, the manifest (see docs/backup-format.md).

::

    <backup>/started.json                                   written first (who, when, which cluster)
    <backup>/resources/<resource>[.<group>]/namespaces/<ns>/<name>.json[.enc]
    <backup>/resources/<resource>[.<group>]/cluster/<name>.json[.enc]
    <backup>/etcd/snapshot.db[.enc]
    <backup>/config/adhar.yaml[.enc]
    <backup>/db/<name>.dump[.enc]
    <backup>/packs/<number>.pack                            2.0: small items packed together (see the manifest)
    <backup>/manifest.json                                  written last: the commit record

A backup is complete exactly when ``manifest.json`` exists and parses.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping, MutableMapping

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import (
    LEGACY_SIGNATURE_ALGORITHM,
    SIGNATURE_ALGORITHM,
)
from ansible_collections.adhar.platform.plugins.module_utils._dr.page_codec import walk_object
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import check_key

FORMAT_NAME = "adhar-backup"
# 1.1: the optional Ed25519 ``signature``; 1.2: the volume section (volumes/); 2.0: packs (small items stored together
# in ``packs/``: a 1.x reader would find them missing, so the major changes); 1.3 and 2.1: the signature covers a
# SHA-512 digest of the manifest (``ed25519-sha512``) instead of the manifest itself.  A backup without packs is
# written as 1.3.
FORMAT_VERSION = "2.1.0"
UNPACKED_VERSION = "1.3.0"
FORMAT_MAJOR = 2
READABLE_MAJORS = (1, 2)
MANIFEST = "manifest.json"
STARTED = "started.json"
RESERVED = (MANIFEST, STARTED)
ENC_SUFFIX = ".enc"

# Sections an item path may start with.
SECTIONS = ("resources", "etcd", "config", "db", "volumes", "meta")
ETCD_SNAPSHOT = "etcd/snapshot.db"
# Longest path part written (bytes); leaves room for ".json.enc" under the usual 255-byte file name limit.
MAX_COMPONENT = 200
ADHAR_CONFIG = "config/adhar.yaml"
PACKS = "packs"

_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


_ABSENT = object()
# Manifest record keys kept in a slot of ``Record`` (sorted: the order a record's keys are listed in); other keys
# (``resource``, ``namespace``, ``name`` of a shortened path, anything a later format adds) go in its ``_extra`` dict.
_FIELDS = ("encrypted", "offset", "pack", "path", "sha256", "size")
_SLOTS = {"encrypted": "_encrypted", "offset": "_offset", "pack": "_pack", "path": "_path", "sha256": "_sha",
          "size": "_size"}
# The canonical JSON text of a record of the usual shape (a packed item, no other keys): its keys in sorted order,
# ``encrypted`` only when true; strings escaped by the C function the encoder itself uses (``ensure_ascii``).
_RECORD_TEXT = '{%s"offset":%d,"pack":%s,"path":%s,"sha256":"%s","size":%d}'
_JSON_STRING = json.encoder.encode_basestring_ascii


class Record(MutableMapping):
    """One item of a manifest, read and written like the dict it stands for (``record["path"]``, ``.get``, ``in``,
    ``==`` a dict), stored compactly: a few slots instead of a dict, the SHA-256 as its 32 bytes (given back as the
    64 hex digits), pack paths shared.  A backup of tens of thousands of items holds one per item, in the writer
    until the commit and in the reader for the whole run.

    Any value is kept as it was given (a SHA-256 that is not 64 lowercase hex digits stays a string), so
    ``to_dict()`` returns exactly what was parsed or set: the canonical form (the MAC and signature payloads) and
    the stored manifest are byte for byte those of the dict."""

    __slots__ = ("_encrypted", "_offset", "_pack", "_path", "_sha", "_size", "_extra")

    def __init__(self, fields=None, **more):
        self._encrypted = self._offset = self._pack = self._path = self._sha = self._size = _ABSENT
        self._extra = None
        for source in (fields or {}, more):
            for key, value in source.items():
                self[key] = value

    @classmethod
    def parsed(cls, fields):
        """A record from a parsed dict (consumed: ``fields`` is emptied; its other keys shared, ``sys.intern``)."""
        record = cls.__new__(cls)
        take = fields.pop
        record._encrypted, record._offset, record._path, record._size = (
            take("encrypted", _ABSENT), take("offset", _ABSENT), take("path", _ABSENT), take("size", _ABSENT))
        pack, sha = take("pack", _ABSENT), take("sha256", _ABSENT)
        record._pack = sys.intern(pack) if isinstance(pack, str) else pack
        record._sha = bytes.fromhex(sha) if isinstance(sha, str) and _SHA_RE.match(sha) else sha
        record._extra = {sys.intern(k): v for k, v in fields.items()} if fields else None
        return record

    @classmethod
    def item(cls, path, size, digest, encrypted=False, labels=None):
        """The record of an item just stored: ``path``, ``size``, the 32 bytes of its SHA-256 ``digest``,
        ``encrypted`` when it is, and ``labels`` (other keys: ``resource``, ``namespace``, ``name``).  The same
        record as ``Record(labels, path=..., size=..., sha256=...)``, made without a lookup per key."""
        if labels and not _SLOTS.keys().isdisjoint(labels):
            record = cls(labels, path=path, size=size)
            record.set_digest(digest)
            if encrypted:
                record["encrypted"] = True
            return record
        record = cls.__new__(cls)
        record._path, record._size, record._sha = path, size, bytes(digest)
        record._encrypted = True if encrypted else _ABSENT
        record._offset = record._pack = _ABSENT
        record._extra = dict(labels) if labels else None
        return record

    def place(self, pack, offset):
        """Set ``pack`` and ``offset``: the item was written in pack ``pack`` from byte ``offset`` on."""
        self._pack, self._offset = pack, offset

    def section(self):
        """``(section, resource type or None)`` of the item (``describe_path``; its ``resource`` label first)."""
        parts = self._path.split("/", 3) if isinstance(self._path, str) else [""]
        if self._extra and "resource" in self._extra:
            return parts[0], self._extra["resource"]
        return parts[0], (parts[1] if parts[0] == "resources" and len(parts) == 4 else None)

    def __getitem__(self, key):
        slot = _SLOTS.get(key)
        if slot is None:
            if self._extra is None:
                raise KeyError(key)
            return self._extra[key]
        value = getattr(self, slot)
        if value is _ABSENT:
            raise KeyError(key)
        if slot == "_sha" and isinstance(value, bytes):
            return value.hex()
        return value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key):
        slot = _SLOTS.get(key)
        if slot is None:
            return self._extra is not None and key in self._extra
        return getattr(self, slot) is not _ABSENT

    def __setitem__(self, key, value):
        slot = _SLOTS.get(key)
        if slot is None:
            if self._extra is None:
                self._extra = {}
            self._extra[key] = value
            return
        if slot == "_sha" and isinstance(value, str) and _SHA_RE.match(value):
            value = bytes.fromhex(value)
        elif slot == "_pack" and isinstance(value, str):
            value = sys.intern(value)  # one string per pack, not one per item
        setattr(self, slot, value)

    def __delitem__(self, key):
        slot = _SLOTS.get(key)
        if slot is None:
            if self._extra is None or key not in self._extra:
                raise KeyError(key)
            del self._extra[key]
            return
        if getattr(self, slot) is _ABSENT:
            raise KeyError(key)
        setattr(self, slot, _ABSENT)

    def __iter__(self):
        keys = [k for k in _FIELDS if getattr(self, _SLOTS[k]) is not _ABSENT]
        if self._extra:
            keys = sorted(keys + list(self._extra))
        return iter(keys)

    def __len__(self):
        return sum(1 for k in _FIELDS if getattr(self, _SLOTS[k]) is not _ABSENT) + len(self._extra or ())

    def set_digest(self, digest):
        """Set ``sha256`` from the 32 bytes of a digest (no hex string made)."""
        self._sha = bytes(digest)

    def to_dict(self):
        out = dict(self._extra) if self._extra else {}
        if self._encrypted is not _ABSENT:
            out["encrypted"] = self._encrypted
        if self._offset is not _ABSENT:
            out["offset"] = self._offset
        if self._pack is not _ABSENT:
            out["pack"] = self._pack
        if self._path is not _ABSENT:
            out["path"] = self._path
        if self._sha is not _ABSENT:
            out["sha256"] = self._sha.hex() if isinstance(self._sha, bytes) else self._sha
        if self._size is not _ABSENT:
            out["size"] = self._size
        return out

    def canonical(self):
        """``canonical_json(self.to_dict())`` as text; a record of the usual shape (what ``item`` and ``place`` make)
        is formatted at once, without a dict or the encoder's key sort."""
        encrypted = self._encrypted
        if (self._extra is None and (encrypted is True or encrypted is _ABSENT) and _plain_int(self._offset)
                and _plain_int(self._size) and isinstance(self._pack, str) and isinstance(self._path, str)
                and isinstance(self._sha, bytes)):
            return _RECORD_TEXT % ('"encrypted":true,' if encrypted is True else "", self._offset, _JSON_STRING(self._pack),
                                   _JSON_STRING(self._path), self._sha.hex(), self._size)
        return _CANONICAL(self.to_dict())

    def copy(self):
        return self.to_dict()

    def __repr__(self):
        return "Record(%r)" % (self.to_dict(),)


def _plain_int(value):
    """An int the JSON encoder writes as ``%d`` does (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def record_path(record):
    """The ``path`` of a ``Record`` (a sort key)."""
    return record._path


def _plain(value):
    """A record as the JSON encoder takes it (a ``Record`` becomes its dict)."""
    return value.to_dict() if isinstance(value, Record) else value


def check_backup_name(name):
    """Return ``name`` if it can name a backup (1-253 letters, digits, ``.``, ``_``, ``-``; alphanumeric ends)."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise AdharError("invalid backup name %r: 1-253 letters, digits, '.', '_' or '-', starting and ending with a "
                         "letter or digit" % (name,), option="name")
    return name


def check_item_path(path):
    """Return ``path`` if it is a valid item path inside a backup (``<section>/...``), else raise."""
    try:
        check_key(path, "item path")
    except AdharError as exc:
        raise AdharError(exc.msg, item=path) from None
    section, slash, dummy = path.partition("/")
    if not slash or section not in SECTIONS:
        raise AdharError("invalid item path %r: it must start with one of %s/" % (path, ", ".join(SECTIONS)), item=path)
    return path


def _segment(value, what):
    if not isinstance(value, str) or not value or value in (".", "..") or "/" in value or "\x00" in value:
        raise AdharError("invalid %s %r for an item path" % (what, value))
    return value


def fit_component(value):
    """``value``, or when longer than ``MAX_COMPONENT`` bytes a stable shortened form ``<start>~<sha256 prefix>``.

    File systems allow 255 bytes per name; a Kubernetes name may have 253 and
    a ``<resource>.<group>`` more, plus ``.json.enc``.  The manifest keeps
    the real name of a shortened item (``resource``/``name`` in its record).
    """
    if len(value) <= MAX_COMPONENT // 4:  # at most 4 bytes a character: fits without encoding it to count
        return value
    raw = value.encode("utf-8")
    if len(raw) <= MAX_COMPONENT:
        return value
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return raw[:MAX_COMPONENT - 17].decode("utf-8", "ignore") + "~" + digest


def resource_key(resource, group=""):
    """``<resource>.<group>``, or ``<resource>`` for the core group (as Velero names them)."""
    _segment(resource, "resource")
    return "%s.%s" % (resource, _segment(group, "API group")) if group else resource


def resource_path(resource, group, namespace, name):
    """Item path of one object: ``resources/<resource>[.<group>]/namespaces/<ns>/<name>.json`` or ``.../cluster/<name>.json``.

    Over-long parts are shortened (``fit_component``).
    """
    return resource_item(resource, group, namespace, name)[0]


def resource_item(resource, group, namespace, name):
    """``(resource_path(...), labels)``: ``labels`` holds the real ``resource``, ``namespace`` and ``name`` of the
    parts the path had to shorten (the item's manifest record carries them), none when nothing was shortened."""
    key = resource_key(resource, group)
    base, leaf = fit_component(key), fit_component(_segment(name, "name"))
    labels = {}
    if base != key:
        labels["resource"] = key
    if leaf != name:
        labels["name"] = name
    if not namespace:
        return "resources/%s/cluster/%s.json" % (base, leaf), labels
    folder = fit_component(_segment(namespace, "namespace"))
    if folder != namespace:
        labels["namespace"] = namespace
    return "resources/%s/namespaces/%s/%s.json" % (base, folder, leaf), labels


def resource_items(resource, group, names):
    """``resource_item(resource, group, namespace, name)`` of each ``(namespace, name)`` of ``names`` (the objects
    of one listed page): the type's part of the path made once, a name or namespace that needs no shortening
    checked without encoding it."""
    key = resource_key(resource, group)
    base = fit_component(key)
    if base != key:
        return [resource_item(resource, group, ns, name) for ns, name in names]
    cluster, namespaced = "resources/%s/cluster/" % base, "resources/%s/namespaces/" % base
    folders = {}
    out = []
    for ns, name in names:
        if (not isinstance(name, str) or not name or len(name) > MAX_COMPONENT // 4 or name in (".", "..")
                or "/" in name or "\x00" in name):
            out.append(resource_item(resource, group, ns, name))  # the error, or a shortened name
            continue
        if not ns:
            out.append((cluster + name + ".json", {}))
            continue
        folder = folders.get(ns)
        if folder is None:
            path, labels = resource_item(resource, group, ns, name)
            if labels:  # a shortened namespace: every name of it goes this way
                out.append((path, labels))
                continue
            folder = folders[ns] = namespaced + ns + "/"
        out.append((folder + name + ".json", {}))
    return out


def pack_path(number):
    """Key (below the backup) of pack ``number``: ``packs/000001.pack``."""
    return "%s/%06d.pack" % (PACKS, number)


def db_path(name):
    return "db/%s.dump" % fit_component(_segment(name, "database name"))


def describe_path(path):
    """What an item path holds: ``{"section", "resource", "namespace", "name"}`` (the last three for resources)."""
    logical = path[:-len(ENC_SUFFIX)] if path.endswith(ENC_SUFFIX) else path
    parts = logical.split("/")
    info = {"section": sys.intern(parts[0])}  # sections, resources and namespaces: a few strings shared by all items
    if parts[0] == "resources" and len(parts) >= 4:
        info["resource"] = sys.intern(parts[1])
        if parts[2] == "namespaces" and len(parts) == 5:
            info["namespace"] = sys.intern(parts[3])
            info["name"] = _strip_json(parts[4])
        elif parts[2] == "cluster" and len(parts) == 4:
            info["name"] = _strip_json(parts[3])
    return info


def _strip_json(name):
    return name[:-5] if name.endswith(".json") else name


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
# Records encoded and joined at a time (``_record_chunks``): a chunk of a few hundred kB, not one object per record.
_RECORD_BATCH = 1000


def _record_chunks(encode, records, separator):
    """``records`` (a list of JSON values, ``Record`` s among them) encoded one by one and joined with
    ``separator``, as chunks of ASCII bytes (one per ``_RECORD_BATCH`` records, separators included): a manifest
    of tens of thousands of items is never one string, nor one small string per record at once.

    A batch is encoded in one call, as a list, and its records split where the encoder put ``}, {`` between them;
    a batch where that text occurs more often (inside a value) is encoded record by record."""
    sep = separator.encode("ascii")
    for start in range(0, len(records), _RECORD_BATCH):
        batch = [_plain(r) for r in records[start:start + _RECORD_BATCH]]
        text = encode(batch)[1:-1]
        if all(isinstance(r, dict) for r in batch) and text.count("}, {") == len(batch) - 1:
            chunk = text.replace("}, {", "}" + separator + "{").encode("ascii")
        else:
            chunk = sep.join(encode(r).encode("ascii") for r in batch)
        yield sep + chunk if start else chunk


def canonical_chunks(obj):
    """``canonical_json(obj)`` as chunks of bytes (their concatenation is it), encoded as they are asked for."""
    if not isinstance(obj, dict) or not isinstance(obj.get("items"), list) or not all(isinstance(k, str) for k in obj):
        yield _CANONICAL(obj).encode("ascii")
        return
    yield from _member_chunks(obj, sorted(obj), b"{")
    yield b"}"


def _member_chunks(obj, keys, opening):
    """The canonical members ``"key":value`` of ``keys`` of dict ``obj``, the first after ``opening``, the others
    after a comma; an ``items`` list is encoded ``_RECORD_BATCH`` records per chunk (``Record.canonical`` each)."""
    for key in keys:
        head = opening + _CANONICAL(key).encode("ascii") + b":"
        opening = b","
        if key != "items" or not isinstance(obj[key], list):
            yield head + _CANONICAL(obj[key]).encode("ascii")
            continue
        yield head + b"["
        records = obj[key]
        for start in range(0, len(records), _RECORD_BATCH):
            batch = records[start:start + _RECORD_BATCH]
            chunk = ",".join([r.canonical() if isinstance(r, Record) else _CANONICAL(r) for r in batch]).encode("ascii")
            yield b"," + chunk if start else chunk
        yield b"]"


def authenticated_chunks(manifest):
    """``mac_payload(manifest)`` cut where the ``mac`` goes: ``(before, after)``, the chunks of the members that sort
    before ``mac`` (a generator; ``items`` among them) and the bytes of the rest.  ``before`` then ``after`` is what
    the ``mac`` covers; ``before``, ``b',"mac":'`` and the mac as JSON, then ``after`` is ``signed_payload`` once the
    mac is set, so the writer encodes the manifest once for both.  ``None`` for a manifest this does not fit."""
    body = _without(manifest, ("mac", "signature"))
    if not isinstance(body.get("items"), list) or not all(isinstance(k, str) for k in body):
        return None
    keys = sorted(body)
    low = [k for k in keys if k < "mac"]
    if not low:
        return None
    return _member_chunks(body, low, b"{"), b"".join(_member_chunks(body, [k for k in keys if k > "mac"], b",")) + b"}"


def canonical_json(obj):
    """The bytes a manifest signature is computed over (sorted keys, no whitespace): those of ``json.dumps(obj,
    sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, a dict's ``items`` list encoded record by record."""
    return b"".join(canonical_chunks(obj))


def _without(manifest, keys):
    return {k: v for k, v in manifest.items() if k not in keys}


def mac_payload(manifest):
    """What the ``mac`` covers: the canonical manifest without ``mac`` and ``signature`` (as in format 1.0), as
    chunks of bytes (``DataKey.manifest_mac`` takes them one by one; ``b"".join`` gives the payload)."""
    return canonical_chunks(_without(manifest, ("mac", "signature")))


def signed_payload(manifest):
    """What the ``signature`` covers: the canonical manifest without ``signature`` (so the ``mac`` too), as chunks of
    bytes (``crypto_envelope.signature_message`` hashes them one by one, or joins them for a format before 1.3/2.1)."""
    return canonical_chunks(_without(manifest, ("signature",)))


def format_version(manifest):
    """``(major, minor)`` of a parsed manifest's ``format_version`` (``"2.1"``, ``"1.0.3"``: the patch is ignored);
    ``None`` when it is missing or not numbers."""
    parts = str(manifest.get("format_version")).split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def signature_algorithm(manifest):
    """The signature algorithm a manifest's format version calls for: ``ed25519-sha512`` from 1.3 and 2.1 on, the
    Ed25519 signature of the whole payload (``ed25519``) in 1.1, 1.2 and 2.0."""
    if format_version(manifest) in ((1, 1), (1, 2), (2, 0)):
        return LEGACY_SIGNATURE_ALGORITHM
    return SIGNATURE_ALGORITHM


def format_minor(manifest):
    """The minor format version of a parsed manifest (0 for 1.0.x, and when it cannot be read)."""
    version = format_version(manifest)
    return version[1] if version else 0


def holds_encrypted_items(manifest):
    """Whether a manifest says its backup is encrypted: ``encryption`` set, an item ``encrypted`` or an ``.enc`` path."""
    return bool(manifest.get("encryption")) or any(
        isinstance(i, Mapping) and (i.get("encrypted") or str(i.get("path") or "").endswith(ENC_SUFFIX))
        for i in manifest.get("items") or [])


def manifest_chunks(manifest):
    """The stored manifest (``dump_manifest``) as chunks of bytes, encoded as they are asked for (the writer streams
    them to the storage: the encoded manifest is never whole in memory)."""
    rest = dict(manifest)
    items = rest.pop("items", None)
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(", ", ": ")).encode
    if items is None:
        yield (encode(rest) + "\n").encode("ascii")
        return
    head = encode(rest)[1:-1].encode("ascii")
    yield b"{" + (head + b",\n" if head else b"")
    if not items:
        yield b'"items": []}\n'
        return
    yield b'"items": [\n  '
    yield from _record_chunks(encode, items, ",\n  ")
    yield b"\n]}\n"


def dump_manifest(manifest):
    """The stored manifest: ASCII, sorted keys, ``items`` last with one record per line.

    Only the content is the contract (the ``mac`` covers a canonical form), so
    the layout is chosen for speed: every part goes through the C encoder
    (an indented dump takes the pure-Python one, ~0.5 s for 30,000 items).
    """
    return b"".join(manifest_chunks(manifest))


def _check_packs(manifest, name, major):
    """``{pack path: record}`` of a manifest's ``packs`` (format 2), each record checked."""
    packs = manifest.get("packs")
    if packs is None:
        return {}
    if major < 2 or not isinstance(packs, list):
        raise AdharError("the manifest of backup %s has a malformed pack list" % name, item=MANIFEST)
    out = {}
    for pack in packs:
        path = pack.get("path") if isinstance(pack, dict) else None
        if (not isinstance(path, str) or not path.startswith(PACKS + "/") or path in out
                or not isinstance(pack.get("size"), int) or pack["size"] < 0 or not _SHA_RE.match(str(pack.get("sha256")))):
            raise AdharError("the manifest of backup %s has a malformed pack entry %r" % (name, path), item=MANIFEST)
        check_key(path, "pack path")
        out[path] = pack
    return out


def _load_manifest(text):
    """``json.loads(text)``, the records of a top-level ``items`` list made ``Record`` s one at a time as they are
    parsed (so the list of tens of thousands of dicts never exists).  Anything this walk does not take (not an
    object, invalid JSON) is left to ``json.loads``: the same value, or the same error."""
    try:
        return walk_object(text, _record)
    except (ValueError, IndexError):
        pass
    manifest = json.loads(text)
    if isinstance(manifest, dict) and isinstance(manifest.get("items"), list):
        manifest["items"] = [Record.parsed(i) if isinstance(i, dict) else i for i in manifest["items"]]
    return manifest


def _record(value, dummy_start, dummy_end):
    return Record.parsed(value) if isinstance(value, dict) else value


def parse_manifest(data, name):
    """Parse and check a stored manifest of backup ``name``; ``AdharError`` says what is wrong."""
    try:
        manifest = _load_manifest(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AdharError("the manifest of backup %s is not valid JSON: %s" % (name, exc), item=MANIFEST) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise AdharError("the manifest of backup %s is not an adhar backup manifest" % name, item=MANIFEST)
    version = str(manifest.get("format_version") or "")
    try:
        major = int(version.split(".", 1)[0])
    except ValueError:
        major = None
    if major not in READABLE_MAJORS:
        raise AdharError("backup %s has format version %s; this collection reads %s" % (
            name, version or "?", " and ".join("%d.x" % m for m in READABLE_MAJORS)), item=MANIFEST, format_version=version)
    if manifest.get("name") != name:
        raise AdharError("the manifest in %s names backup %r: it was moved or tampered with" % (name, manifest.get("name")),
                         item=MANIFEST)
    items = manifest.get("items")
    if not isinstance(items, list):
        raise AdharError("the manifest of backup %s has no item list" % name, item=MANIFEST)
    packs = _check_packs(manifest, name, major)
    seen = set()
    previous = None
    for item in items:
        if not isinstance(item, Mapping):
            raise AdharError("the manifest of backup %s has a malformed item" % name, item=MANIFEST)
        item = _plain(item)  # checked as the dict it stands for (one at a time)
        path = item.get("path")
        check_item_path(path)
        if path in seen:
            raise AdharError("the manifest of backup %s lists %s twice" % (name, path), item=path)
        seen.add(path)
        if previous is not None and path < previous:
            raise AdharError("the manifest of backup %s lists its items out of order (%s after %s): it was edited"
                             % (name, path, previous), item=path)
        previous = path
        if not isinstance(item.get("size"), int) or item["size"] < 0 or not _SHA_RE.match(str(item.get("sha256"))):
            raise AdharError("the manifest of backup %s has a malformed entry for %s" % (name, path), item=path)
        if bool(item.get("encrypted")) != path.endswith(ENC_SUFFIX):
            raise AdharError("the manifest of backup %s has inconsistent encryption flags for %s" % (name, path), item=path)
        if "pack" in item:
            pack, offset = packs.get(item["pack"]), item.get("offset")
            if pack is None or not isinstance(offset, int) or offset < 0 or offset + item["size"] > pack["size"]:
                raise AdharError("the manifest of backup %s places %s outside its pack %s" % (name, path, item["pack"]),
                                 item=path)
    if any(i.get("encrypted") for i in items) and not isinstance(manifest.get("encryption"), dict):
        raise AdharError("the manifest of backup %s lists encrypted items but no encryption metadata" % name, item=MANIFEST)
    signature = manifest.get("signature")
    if signature is not None and not (isinstance(signature, dict) and all(
            isinstance(signature.get(k), str) for k in ("algorithm", "key_id", "public_key", "value"))):
        raise AdharError("the manifest of backup %s has a malformed signature" % name, item=MANIFEST)
    return manifest
