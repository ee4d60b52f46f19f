# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd snapshots streamed from a member straight into an encrypted backup item; checks for recoveries.

``capture_etcd`` is used by the ``backup`` module (option ``etcd_snapshot``,
``ETCD_SNAPSHOT_ARG_SPEC``): ``resolve_target`` checks the option, the TLS
files and that a member answers BEFORE the backup captures anything; the
snapshot itself is read from etcd's gRPC gateway (``POST
/v3/maintenance/snapshot``, a stream of JSON lines with base64 blobs) over
HTTPS with the client certificate and handed chunk by chunk to the archive
writer, which encrypts it on the way to the storage.  No plaintext copy is
ever written to a file.  While streaming, the stream is checked: the byte
count etcd announced, the bbolt meta page at the start, and the SHA-256
etcd appends (the same check ``etcdutl snapshot restore`` makes); a
mismatch fails the item and so the backup (it stays without a manifest).

``snapshot_status`` and ``etcd_binaries`` are used by a recovery
(``local/recover.py``), which needs the snapshot as a file for ``etcdutl``.

A snapshot holds every object of the cluster, Secrets included, so it is
only ever stored encrypted.  For a provider-local cluster the backup also
gets, encrypted, what a recovery into a new cluster needs: the
encryption-at-rest configuration (without it the Secrets in the snapshot
cannot be read), the service-account public key (tokens the source issued
stay valid) and the source cluster's topology and network ranges
(``etcd/source.json``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import os
import struct
import time
from urllib.parse import urlsplit

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import ETCD_SNAPSHOT
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import ssl_context

# Suboptions of the backup module's ``etcd_snapshot`` dict option.
ETCD_SNAPSHOT_ARG_SPEC = {
    "local_cluster": {"type": "str"},
    "state_dir": {"type": "path"},
    "endpoints": {"type": "list", "elements": "str"},
    "ca_file": {"type": "path"},
    "cert_file": {"type": "path"},
    "key_file": {"type": "path"},
}
# Constraints to put next to ``options`` in the ``etcd_snapshot`` option (capture_etcd checks them too).
ETCD_SNAPSHOT_MUTUALLY_EXCLUSIVE = [["local_cluster", "endpoints"]]
ETCD_SNAPSHOT_REQUIRED_ONE_OF = [["local_cluster", "endpoints"]]

# Items stored next to the snapshot for a recovery of a local cluster.
ETCD_ENCRYPTION_CONFIG = "etcd/encryption-config.yaml"
ETCD_SOURCE = "etcd/source.json"
ETCD_SA_PUBLIC_KEY = "etcd/service-account.pub"
ETCD_BINARIES = ("etcdctl", "etcdutl")
# Spec fields of the source cluster a new cluster recovered from its snapshot must share.
SOURCE_SPEC_FIELDS = ("control_plane_count", "kubernetes_version", "pod_cidr", "service_cidr", "cluster_id",
                      "encryption_at_rest", "nodes_count")
COMMAND_TIMEOUT = 300
# Seconds a member may stay silent while it streams a snapshot (or answers a status request).
STREAM_IDLE_TIMEOUT = 60
STATUS_TIMEOUT = 5
# A line of the gateway's stream holds one base64 blob (32 KiB of snapshot in etcd 3.6); anything much longer is not etcd.
MAX_LINE_BYTES = 16 * 1024 * 1024
SHA256_SIZE = 32
# bbolt: every page starts with a 16-byte header (id, flags, count, overflow); pages 0 and 1 are meta pages whose body
# starts with the magic number, the format version and the page size (little-endian on every platform etcd runs on).
BOLT_MAGIC = 0xED0CDAED
BOLT_META_PAGE = 0x04
BOLT_HEADER = struct.Struct("<QHHI")
BOLT_META = struct.Struct("<III")


def etcd_binaries(bin_dir=None):
    """``{"etcdctl": path, "etcdutl": path}`` from ``bin_dir`` when it has them, else the toolchain lookup."""
    if bin_dir and not toolchain.missing_binaries(bin_dir, ETCD_BINARIES):
        found = bin_dir
    else:
        found, source, missing = toolchain.resolve_bin_dir(None, names=ETCD_BINARIES)
        if missing:
            raise AdharError("missing binaries in %s (from %s): %s. Fetch them with `tools/toolchain ensure` or point "
                             "ADHAR_BIN_DIR at a directory that has them" % (found, source, ", ".join(missing)),
                             bin_dir=found, missing=missing)
    return {name: os.path.join(found, name) for name in ETCD_BINARIES}


def run_tool(cmd, what, timeout=COMMAND_TIMEOUT, check=True):
    return run_once(cmd, what=what, text=True, timeout=timeout, check=check,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
                         "ETCDCTL_API": "3"})


def snapshot_status(etcdutl, path):
    """``{"hash", "revision", "total_keys", "total_size", "version"}`` of a snapshot file; AdharError when it is not valid."""
    proc = run_tool([etcdutl, "snapshot", "status", path, "-w", "json"], "etcdutl snapshot status of %s" % os.path.basename(path))
    try:
        raw = json.loads(proc.stdout)
        return {"hash": raw["hash"], "revision": raw["revision"], "total_keys": raw["totalKey"],
                "total_size": raw["totalSize"], "version": raw.get("version")}
    except (ValueError, KeyError, TypeError):
        raise AdharError("etcdutl snapshot status of %s printed no status: %r"
                         % (os.path.basename(path), proc.stdout[:300])) from None


def _check_params(params):
    params = dict(params or {})
    local, endpoints = params.get("local_cluster"), params.get("endpoints")
    if bool(local) == bool(endpoints):
        raise AdharError("etcd_snapshot: give exactly one of local_cluster (a local cluster's name) or endpoints",
                         option="etcd_snapshot")
    if endpoints:
        for e in endpoints:
            if not isinstance(e, str) or not e.startswith(("http://", "https://")) or not urlsplit(e).hostname:
                raise AdharError("etcd_snapshot.endpoints: %r is not an http(s):// URL" % (e,), option="etcd_snapshot.endpoints")
        for key in ("ca_file", "cert_file", "key_file"):
            if params.get(key) and not os.path.isfile(params[key]):
                raise AdharError("etcd_snapshot.%s: %s is not a file" % (key, params[key]), option="etcd_snapshot." + key)
        if bool(params.get("cert_file")) != bool(params.get("key_file")):
            raise AdharError("etcd_snapshot: cert_file and key_file go together", option="etcd_snapshot.cert_file")
    return params


def local_target(name, state_dir=None):
    """Endpoints, client TLS files, binaries directory and recovery extras of local cluster ``name`` (its saved state)."""
    # imported here: the local runtime is only needed for local clusters
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import NAME_RE, default_state_root
    if not NAME_RE.match(name or ""):
        raise AdharError("etcd_snapshot.local_cluster: %r is not a valid cluster name" % (name,),
                         option="etcd_snapshot.local_cluster")
    root = os.path.abspath(os.path.expanduser(state_dir)) if state_dir else default_state_root()
    layout = st.Layout(root, name)
    data = st.load(layout)
    if data is None or data.get("phase") != "ready":
        raise AdharError("etcd_snapshot.local_cluster: no ready local cluster %r under %s" % (name, root),
                         option="etcd_snapshot.local_cluster")
    members = data["ports"]["members"]
    tls = {"ca_file": layout.pki("etcd-ca.crt"), "cert_file": layout.pki("etcd-healthcheck-client.crt"),
           "key_file": layout.pki("etcd-healthcheck-client.key")}
    spec = data["spec"]
    enc = layout.config("encryption-config.yaml") if spec.get("encryption_at_rest") else None
    source = {"cluster": name, "members": len(members), "spec": {k: spec.get(k) for k in SOURCE_SPEC_FIELDS}}
    return {"endpoints": ["https://127.0.0.1:%d" % m["etcd_client"] for m in members], "tls": tls,
            "bin_dir": data.get("bin_dir"), "encryption_config": enc, "sa_public_key": layout.pki("sa.pub"), "source": source}


def _connection(endpoint, ctx, timeout):
    parsed = urlsplit(endpoint)
    if parsed.scheme == "https":
        return http.client.HTTPSConnection(parsed.hostname, parsed.port or 2379, context=ctx, timeout=timeout)
    return http.client.HTTPConnection(parsed.hostname, parsed.port or 2379, timeout=timeout)


def _gateway_path(endpoint, path):
    return (urlsplit(endpoint).path or "").rstrip("/") + path


def member_status(endpoint, ctx, timeout=STATUS_TIMEOUT):
    """``{"endpoint", "member_id", "leader", "revision", "db_size", "version", "storage_version"}`` of one member
    (``POST /v3/maintenance/status`` of the gRPC gateway); OSError when it does not answer, AdharError on a refusal."""
    conn = _connection(endpoint, ctx, timeout)
    try:
        conn.request("POST", _gateway_path(endpoint, "/v3/maintenance/status"), body=b"{}",
                     headers={"Content-Type": "application/json", "User-Agent": "adhar.platform"})
        resp = conn.getresponse()
        body = resp.read(1024 * 1024)
    except http.client.HTTPException as e:
        raise OSError("%s: %s" % (endpoint, e)) from None
    finally:
        conn.close()
    if resp.status != 200:
        hint = " (is etcd's gRPC gateway off? it is on by default, --enable-grpc-gateway)" if resp.status == 404 else ""
        raise AdharError("etcd member %s refused the status request: HTTP %d %s%s" % (endpoint, resp.status, body[:300], hint),
                         endpoint=endpoint)
    try:
        raw = json.loads(body)
        header = raw.get("header") or {}
        return {"endpoint": endpoint, "member_id": header.get("member_id"),
                "leader": bool(raw.get("leader")) and raw.get("leader") == header.get("member_id"),
                "revision": int(header.get("revision") or 0), "db_size": int(raw.get("dbSize") or 0),
                "version": raw.get("version"), "storage_version": raw.get("storageVersion")}
    except (ValueError, TypeError, AttributeError):
        raise AdharError("etcd member %s answered the status request with something that is not etcd's: %r"
                         % (endpoint, body[:200]), endpoint=endpoint) from None


def endpoint_status(endpoints, ctx):
    """Status of the members that answered, the leader first; AdharError when none did."""
    out, errors = [], []
    for endpoint in endpoints:
        try:
            out.append(member_status(endpoint, ctx))
        except (OSError, AdharError) as e:
            errors.append("%s: %s" % (endpoint, e))
    if not out:
        raise AdharError("no etcd member answered at %s: %s" % (", ".join(endpoints), "; ".join(errors)),
                         endpoints=list(endpoints))
    out.sort(key=lambda e: not e["leader"])
    return out


def resolve_target(params):
    """Check the ``etcd_snapshot`` option completely before a backup captures anything; returns the target.

    The option's shape, the local cluster (ready, under its state root), the
    TLS files (loaded), the recovery extras (read) and at least one member
    answering its status request: every failure is an AdharError naming what is wrong.
    """
    params = _check_params(params)
    if params.get("local_cluster"):
        target = local_target(params["local_cluster"], params.get("state_dir"))
    else:
        target = {"endpoints": list(params["endpoints"]), "encryption_config": None, "sa_public_key": None, "source": None,
                  "tls": {k: params.get(k) for k in ("ca_file", "cert_file", "key_file")}}
    tls = target["tls"]
    try:
        target["ctx"] = ssl_context(tls.get("ca_file"), tls.get("cert_file"), tls.get("key_file"))
    except AdharError as e:
        raise AdharError("etcd_snapshot: %s" % e.msg, option="etcd_snapshot") from None
    extras = {}
    for key, item, what in (("encryption_config", ETCD_ENCRYPTION_CONFIG, "encryption-at-rest config"),
                            ("sa_public_key", ETCD_SA_PUBLIC_KEY, "service-account public key")):
        if target[key]:
            try:
                with open(target[key], "rb") as f:
                    extras[item] = f.read()
            except OSError as e:
                raise AdharError("cannot read the %s of cluster %s: %s" % (what, params["local_cluster"], e),
                                 option="etcd_snapshot.local_cluster") from None
    target["extras"] = extras
    target["members"] = endpoint_status(target["endpoints"], target["ctx"])
    return target


def _check_first_page(data, endpoint):
    """The stream must start with a bbolt meta page: returns its page size."""
    if len(data) < BOLT_HEADER.size + BOLT_META.size:
        raise AdharError("the snapshot stream from %s is too short to be an etcd database (%d bytes)" % (endpoint, len(data)))
    dummy, flags, dummy2, dummy3 = BOLT_HEADER.unpack_from(data, 0)
    magic, version, page_size = BOLT_META.unpack_from(data, BOLT_HEADER.size)
    if magic != BOLT_MAGIC or not flags & BOLT_META_PAGE or version != 2 or page_size < 512 or page_size & (page_size - 1):
        raise AdharError("the snapshot stream from %s does not start with a bbolt meta page (magic %#x, flags %#x, "
                         "version %d, page size %d): not an etcd database" % (endpoint, magic, flags, version, page_size))
    return page_size


class SnapshotStream:
    """The bytes of one member's snapshot as an iterator of chunks, checked while they stream.

    ``POST /v3/maintenance/snapshot`` answers with JSON lines ``{"result":
    {"remaining_bytes", "blob", "version"}}``: the database in blobs (the first
    line tells the total size), then one blob with the SHA-256 of the database.
    The chunks include that last blob (``etcdutl snapshot restore`` checks it).
    Iteration raises AdharError when the stream breaks, is not a bbolt
    database, is shorter or longer than announced, or its SHA-256 does not
    match, before the last chunk is handed out.  Afterwards ``size`` (database
    bytes), ``sha256`` (hex), ``page_size`` and ``storage_version`` are set.
    """

    def __init__(self, endpoint, ctx, timeout=STREAM_IDLE_TIMEOUT):
        self.endpoint = endpoint
        self.ctx = ctx
        self.timeout = timeout
        self.size = None
        self.sha256 = None
        self.page_size = None
        self.storage_version = None
        self.started = False

    def _error(self, what):
        return AdharError("the etcd snapshot from %s %s; nothing was stored" % (self.endpoint, what), endpoint=self.endpoint)

    def _messages(self, resp):
        while True:
            line = resp.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES:
                raise self._error("has a message longer than %d bytes" % MAX_LINE_BYTES)
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                raise self._error("has a line that is not JSON: %r" % line[:100]) from None
            if not isinstance(msg, dict):
                raise self._error("has a message that is not an object")
            if msg.get("error"):
                err = msg["error"]
                raise self._error("broke off: %s" % (err.get("message") if isinstance(err, dict) else err))
            result = msg.get("result")
            if not isinstance(result, dict):
                raise self._error("has a message without a result")
            try:
                blob = base64.b64decode(result.get("blob") or "", validate=True)
                remaining = int(result.get("remaining_bytes") or 0)
            except (binascii.Error, ValueError, TypeError):
                raise self._error("has a message with a bad blob or byte count") from None
            yield blob, remaining, result.get("version")

    def __iter__(self):
        conn = _connection(self.endpoint, self.ctx, self.timeout)
        try:
            try:
                conn.request("POST", _gateway_path(self.endpoint, "/v3/maintenance/snapshot"), body=b"{}",
                             headers={"Content-Type": "application/json", "User-Agent": "adhar.platform"})
                resp = conn.getresponse()
                if resp.status != 200:
                    raise self._error("was refused: HTTP %d %s" % (resp.status, resp.read(500)))
                self.started = True
                yield from self._checked(self._messages(resp))
            except (OSError, http.client.HTTPException) as e:
                raise self._error("broke off: %s" % e) from None
        finally:
            conn.close()

    def _checked(self, messages):
        digest = hashlib.sha256()
        total = received = None
        for blob, remaining, version in messages:
            if total is None:
                total, received = len(blob) + remaining, 0
                self.page_size = _check_first_page(blob, self.endpoint)
                self.storage_version = version
            if received < total:
                if received + len(blob) + remaining != total:
                    raise self._error("is inconsistent: %d bytes received, %d announced as remaining, %d in all"
                                      % (received + len(blob), remaining, total))
                digest.update(blob)
                received += len(blob)
                yield blob
            else:
                if len(blob) != SHA256_SIZE or remaining:
                    raise self._error("does not end with its SHA-256 (a %d-byte blob after the %d database bytes)"
                                      % (len(blob), total))
                if total % self.page_size:
                    raise self._error("is %d bytes, not a whole number of %d-byte pages" % (total, self.page_size))
                if blob != digest.digest():
                    raise self._error("does not match its SHA-256 (the data was corrupted on the way)")
                self.sha256 = blob.hex()
                # the hash is handed out only when nothing follows it
                for extra, dummy, dummy2 in messages:
                    if extra:
                        raise self._error("has data after its SHA-256")
                self.size = total
                yield blob
                return
        if total is None:
            raise self._error("is empty")
        raise self._error("ended early: %d of %d bytes, no SHA-256" % (received, total) if received < total
                          else "ended without its SHA-256")


def capture_etcd(writer, target):
    """Stream a snapshot of one healthy etcd member (leader preferred) into ``writer`` (encrypted); returns the metadata.

    ``target``: what ``resolve_target`` returned, or the ``etcd_snapshot``
    option itself (``ETCD_SNAPSHOT_ARG_SPEC``; resolved here).  Returns
    ``{"sha256", "revision", "total_size", "storage_version", "etcd_version",
    "endpoint", "seconds"}`` plus ``members``, ``source_cluster`` and
    ``encryption_config`` (whether the encryption-at-rest config was stored)
    for local clusters.  A stream that fails a check is tried on the next
    member; nothing is stored when every member fails.
    """
    if not writer.encrypted:
        raise AdharError("etcd_snapshot needs an encryption key: an etcd snapshot holds every Secret of the cluster "
                         "and is only stored encrypted (set the encryption option)", option="encryption")
    t0 = time.monotonic()
    if "members" not in (target or {}):
        target = resolve_target(target)
    errors = []
    chosen = status = stream = None
    # the leader again, now: leadership may have moved while the objects were captured
    for member in endpoint_status(target["endpoints"], target["ctx"]):
        stream = SnapshotStream(member["endpoint"], target["ctx"])
        try:
            status = member_status(member["endpoint"], target["ctx"])  # its revision: the snapshot holds at least that
            writer.add(ETCD_SNAPSHOT, stream, encrypt=True)
        except (AdharError, OSError) as e:
            errors.append("%s: %s" % (member["endpoint"], e))
            continue
        chosen = member
        break
    if chosen is None:
        raise AdharError("no etcd member gave a valid snapshot: %s" % "; ".join(errors), endpoints=target["endpoints"])
    result = {"sha256": stream.sha256, "revision": status["revision"], "total_size": stream.size,
              "storage_version": stream.storage_version, "etcd_version": status["version"], "endpoint": chosen["endpoint"]}
    extras = target["extras"]
    if target["source"]:
        source = dict(target["source"], snapshot=dict(result), encryption_config=ETCD_ENCRYPTION_CONFIG in extras)
        for item, data in sorted(extras.items()):
            writer.add(item, data, encrypt=True)
        writer.add(ETCD_SOURCE, source, encrypt=True)
        result.update(members=source["members"], source_cluster=source["cluster"],
                      encryption_config=source["encryption_config"])
    result["seconds"] = round(time.monotonic() - t0, 3)
    return result
