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

from ansible_collections.adhar.platform.plugins.module_utils.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils.storage.base import check_key

FORMAT_NAME = "adhar-backup"
# 1.1: the optional Ed25519 ``signature``; 1.2: the volume section (volumes/); 2.0: packs (small items stored together
# in ``packs/``: a 1.x reader would find them missing, so the major changes).  A backup without packs is written as 1.2.
FORMAT_VERSION = "2.0.0"
UNPACKED_VERSION = "1.2.0"
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
    parts = path.split("/")
    if len(parts) < 2 or parts[0] not in SECTIONS:
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
    base = "resources/" + fit_component(resource_key(resource, group))
    leaf = fit_component(_segment(name, "name"))
    if namespace:
        return "%s/namespaces/%s/%s.json" % (base, fit_component(_segment(namespace, "namespace")), leaf)
    return "%s/cluster/%s.json" % (base, leaf)


def pack_path(number):
    """Key (below the backup) of pack ``number``: ``packs/000001.pack``."""
    return "%s/%06d.pack" % (PACKS, number)


def db_path(name):
    return "db/%s.dump" % fit_component(_segment(name, "database name"))


def describe_path(path):
    """What an item path holds: ``{"section", "resource", "namespace", "name"}`` (the last three for resources)."""
    logical = path[:-len(ENC_SUFFIX)] if path.endswith(ENC_SUFFIX) else path
    parts = logical.split("/")
    info = {"section": parts[0]}
    if parts[0] == "resources" and len(parts) >= 4:
        info["resource"] = parts[1]
        if parts[2] == "namespaces" and len(parts) == 5:
            info["namespace"] = parts[3]
            info["name"] = _strip_json(parts[4])
        elif parts[2] == "cluster" and len(parts) == 4:
            info["name"] = _strip_json(parts[3])
    return info


def _strip_json(name):
    return name[:-5] if name.endswith(".json") else name


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
# Records encoded and joined at a time (``_joined_records``): a few hundred kB of bytes, not one object per record.
_RECORD_BATCH = 1000


def _joined_records(encode, records, separator):
    """``records`` (a list of JSON values) encoded one by one and joined with ``separator``, as ASCII bytes; built batch
    by batch, so a manifest of tens of thousands of items never exists as one small string per record at once."""
    sep = separator.encode("ascii")
    return sep.join(sep.join(encode(r).encode("ascii") for r in records[start:start + _RECORD_BATCH])
                    for start in range(0, len(records), _RECORD_BATCH))


def canonical_json(obj):
    """The bytes a manifest signature is computed over (sorted keys, no whitespace): those of ``json.dumps(obj,
    sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, a dict's ``items`` list encoded record by record."""
    if not isinstance(obj, dict) or not isinstance(obj.get("items"), list) or not all(isinstance(k, str) for k in obj):
        return _CANONICAL(obj).encode("ascii")
    parts = []
    for key in sorted(obj):
        value = b"[%s]" % _joined_records(_CANONICAL, obj[key], ",") if key == "items" else _CANONICAL(obj[key]).encode("ascii")
        parts.append(_CANONICAL(key).encode("ascii") + b":" + value)
    return b"{%s}" % b",".join(parts)


def mac_payload(manifest):
    """What the ``mac`` covers: the canonical manifest without ``mac`` and ``signature`` (as in format 1.0)."""
    return canonical_json({k: v for k, v in manifest.items() if k not in ("mac", "signature")})


def signed_payload(manifest):
    """What the Ed25519 ``signature`` covers: the canonical manifest without ``signature`` (so the ``mac`` too)."""
    return canonical_json({k: v for k, v in manifest.items() if k != "signature"})


def format_minor(manifest):
    """The minor format version of a parsed manifest (0 for 1.0.x)."""
    try:
        return int(str(manifest.get("format_version")).split(".")[1])
    except (IndexError, ValueError):
        return 0


def holds_encrypted_items(manifest):
    """Whether a manifest says its backup is encrypted: ``encryption`` set, an item ``encrypted`` or an ``.enc`` path."""
    return bool(manifest.get("encryption")) or any(
        isinstance(i, dict) and (i.get("encrypted") or str(i.get("path") or "").endswith(ENC_SUFFIX))
        for i in manifest.get("items") or [])


def dump_manifest(manifest):
    """The stored manifest: ASCII, sorted keys, ``items`` last with one record per line.

    Only the content is the contract (the ``mac`` covers a canonical form), so
    the layout is chosen for speed: every part goes through the C encoder
    (an indented dump takes the pure-Python one, ~0.5 s for 30,000 items).
    """
    rest = dict(manifest)
    items = rest.pop("items", None)
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(", ", ": ")).encode
    if items is None:
        return (encode(rest) + "\n").encode("ascii")
    head = encode(rest)[1:-1].encode("ascii")
    body = b'"items": [\n  %s\n]' % _joined_records(encode, items, ",\n  ") if items else b'"items": []'
    return b"{%s%s}\n" % (head + b",\n" if head else b"", body)


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


def parse_manifest(data, name):
    """Parse and check a stored manifest of backup ``name``; ``AdharError`` says what is wrong."""
    try:
        manifest = json.loads(data.decode("utf-8"))
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
        if not isinstance(item, dict):
            raise AdharError("the manifest of backup %s has a malformed item" % name, item=MANIFEST)
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
