# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_etcd and its helpers: input checks without processes, the stream checks against a fake gateway, then a real
(plain HTTP) etcd member."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import (
    ETCD_SNAPSHOT_ARG_SPEC, SnapshotStream, capture_etcd, endpoint_status, etcd_binaries, resolve_target, snapshot_status)
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage

BIN_DIR, _SOURCE, MISSING = toolchain.resolve_bin_dir(names=("etcd", "etcdctl", "etcdutl"))
needs_etcd = pytest.mark.skipif(bool(MISSING), reason="etcd binaries missing (make toolchain)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_etcd(workdir, keys=20):
    """One plain-HTTP etcd member with ``keys`` keys under /t/; yields its client URL."""
    client, peer = _free_port(), _free_port()
    url, peer_url = "http://127.0.0.1:%d" % client, "http://127.0.0.1:%d" % peer
    log = open(os.path.join(workdir, "etcd.log"), "wb")
    proc = subprocess.Popen([os.path.join(BIN_DIR, "etcd"), "--name=u0", "--data-dir=" + os.path.join(workdir, "etcd-data"),
                             "--listen-client-urls=" + url, "--advertise-client-urls=" + url, "--listen-peer-urls=" + peer_url,
                             "--initial-advertise-peer-urls=" + peer_url, "--initial-cluster=u0=" + peer_url,
                             "--unsafe-no-fsync", "--log-level=error"], stdout=log, stderr=log)
    try:
        ctl = [os.path.join(BIN_DIR, "etcdctl"), "--endpoints=" + url]
        deadline = time.monotonic() + 20
        while subprocess.run(ctl + ["endpoint", "health"], capture_output=True, check=False).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "etcd did not start"
            time.sleep(0.1)
        for i in range(keys):
            subprocess.run(ctl + ["put", "/t/k%03d" % i, "value-%d" % i], capture_output=True, check=True)
        yield url
    finally:
        proc.kill()
        proc.wait()
        log.close()


class _NoKeyWriter:
    encrypted = False

    def add(self, *args, **kwargs):
        raise AssertionError("nothing may be stored")


def test_arg_spec_is_the_shared_interface():
    assert ETCD_SNAPSHOT_ARG_SPEC == {
        "local_cluster": {"type": "str"}, "state_dir": {"type": "path"},
        "endpoints": {"type": "list", "elements": "str"},
        "ca_file": {"type": "path"}, "cert_file": {"type": "path"}, "key_file": {"type": "path"}}


@pytest.mark.parametrize("params,match", [
    ({}, "exactly one of local_cluster"),
    ({"local_cluster": "a", "endpoints": ["https://x:2379"]}, "exactly one of local_cluster"),
    ({"endpoints": ["x:2379"]}, "not an http"),
    ({"endpoints": ["https://x:2379"], "ca_file": "/nonexistent/ca"}, "ca_file: /nonexistent/ca is not a file"),
    ({"local_cluster": "Bad_Name"}, "not a valid cluster name"),
])
def test_bad_params_are_refused(params, match, tmp_path):
    writer = ArchiveWriter(LocalStorage(str(tmp_path / "b")), "bk", cluster="c", key_wrapper=KeyWrapper(generate_key()))
    with pytest.raises(AdharError, match=match):
        capture_etcd(writer, params)
    assert not (tmp_path / "b").exists()


def test_unknown_local_cluster(tmp_path):
    writer = ArchiveWriter(LocalStorage(str(tmp_path / "b")), "bk", cluster="c", key_wrapper=KeyWrapper(generate_key()))
    with pytest.raises(AdharError, match="no ready local cluster 'nope'"):
        capture_etcd(writer, {"local_cluster": "nope", "state_dir": str(tmp_path / "state")})


def test_unusable_tls_files_are_refused_before_any_request(tmp_path):
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    with pytest.raises(AdharError, match="etcd_snapshot: cannot load TLS files"):
        resolve_target({"endpoints": ["https://127.0.0.1:1"], "cert_file": str(cert), "key_file": str(key)})


def test_refused_without_encryption_key_before_anything_runs(tmp_path):
    # the check comes first: even bad endpoints are not contacted
    with pytest.raises(AdharError, match="needs an encryption key"):
        capture_etcd(_NoKeyWriter(), {"endpoints": ["https://127.0.0.1:1"]})


@needs_etcd
def test_capture_from_endpoints(tmp_path, monkeypatch):
    store = LocalStorage(str(tmp_path / "b"))
    key = generate_key()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with running_etcd(str(tmp_path)) as url:
        target = resolve_target({"endpoints": [url]})
        assert target["members"][0]["endpoint"] == url and target["members"][0]["leader"] is True
        writer = ArchiveWriter(store, "bk", cluster="c", key_wrapper=KeyWrapper(key))
        meta = capture_etcd(writer, target)
        writer.metadata["etcd"] = meta
        writer.commit()
    assert set(meta) == {"sha256", "revision", "total_size", "storage_version", "etcd_version", "endpoint", "seconds"}
    assert meta["endpoint"] == url and meta["revision"] >= 21 and meta["etcd_version"] == toolchain.VERSIONS["etcd"].lstrip("v")
    assert os.listdir(str(tmp_path / "tmp")) == []  # nothing, not even a scratch directory
    reader = ArchiveReader(store, "bk", KeyWrapper(key))
    assert [i["path"] for i in reader.items()] == ["etcd/snapshot.db.enc"]
    out = tmp_path / "snap.db"
    with open(out, "wb") as f:
        reader.copy_to("etcd/snapshot.db", f)
    data = out.read_bytes()
    assert len(data) == meta["total_size"] + 32 and hashlib.sha256(data[:-32]).hexdigest() == meta["sha256"] == data[-32:].hex()
    again = snapshot_status(etcd_binaries()["etcdutl"], str(out))  # etcd's own tool accepts it
    assert again["total_size"] == meta["total_size"] and again["revision"] >= meta["revision"] and again["total_keys"] >= 20


@needs_etcd
def test_unreachable_members_store_nothing(tmp_path):
    store = LocalStorage(str(tmp_path / "b"))
    writer = ArchiveWriter(store, "bk", cluster="c", key_wrapper=KeyWrapper(generate_key()))
    with pytest.raises(AdharError, match="no etcd member answered"):
        capture_etcd(writer, {"endpoints": ["http://127.0.0.1:%d" % _free_port()]})
    assert not (tmp_path / "b").exists()


def test_endpoint_status_names_every_failure():
    port = _free_port()
    with pytest.raises(AdharError, match="no etcd member answered at http://127.0.0.1:%d" % port):
        endpoint_status(["http://127.0.0.1:%d" % port], None)


# -- the stream checks, against a fake gateway that serves a made-up bbolt-looking database


def _fake_db(pages=6, page_size=4096):
    first = struct.pack("<QHHI", 0, 0x04, 0, 0) + struct.pack("<III", 0xED0CDAED, 2, page_size)
    body = first + os.urandom(pages * page_size - len(first))
    return body


def _lines(db, chunk=8192, digest=None, drop=0, extra=None, error_after=None):
    out = []
    sent = 0
    while sent < len(db) - drop:
        blob = db[sent:sent + chunk]
        sent += len(blob)
        out.append({"result": {"remaining_bytes": str(len(db) - sent), "blob": base64.b64encode(blob).decode(),
                               "version": "3.6.0"}})
        if error_after is not None and len(out) == error_after:
            out.append({"error": {"grpc_code": 14, "message": "etcdserver: leader changed"}})
            break
    if digest is not False and error_after is None:
        d = hashlib.sha256(db).digest() if digest is None else digest
        out.append({"result": {"blob": base64.b64encode(d).decode(), "version": "3.6.0"}})
    if extra:
        out.append({"result": {"blob": base64.b64encode(extra).decode()}})
    return b"".join(json.dumps(m).encode() + b"\n" for m in out)


@contextlib.contextmanager
def fake_gateway(body, status=200):
    """A plain-HTTP server answering POST /v3/maintenance/snapshot with ``body`` (chunked, like the gateway)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 10000):
                part = body[i:i + 10000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_stream_yields_the_database_and_its_hash():
    db = _fake_db()
    with fake_gateway(_lines(db)) as url:
        stream = SnapshotStream(url, None)
        data = b"".join(stream)
    assert data == db + hashlib.sha256(db).digest()
    assert stream.size == len(db) and stream.sha256 == hashlib.sha256(db).hexdigest() and stream.page_size == 4096
    assert stream.storage_version == "3.6.0"


@pytest.mark.parametrize("body,match", [
    (_lines(_fake_db(), digest=b"\0" * 32), "does not match its SHA-256"),
    (_lines(_fake_db(), digest=False), "ended without its SHA-256"),
    (_lines(_fake_db(), digest=False, drop=8192), "ended early"),
    (_lines(_fake_db(), extra=b"more"), "has data after its SHA-256"),
    (_lines(_fake_db(), error_after=2), "broke off: etcdserver: leader changed"),
    (_lines(b"\0" * 4096 * 3), "does not start with a bbolt meta page"),
    (b"", "is empty"),
    (b"<html>not etcd</html>\n", "not JSON"),
])
def test_stream_checks(body, match):
    seen = []
    with fake_gateway(body) as url:
        with pytest.raises(AdharError, match=match):
            for chunk in SnapshotStream(url, None):
                seen.append(chunk)
    # the last chunk (the hash) is never handed out when a check fails: the consumer never sees a whole snapshot
    assert sum(len(c) for c in seen) <= 6 * 4096


def test_a_corrupted_stream_stores_nothing(tmp_path):
    store = LocalStorage(str(tmp_path / "b"))
    key = generate_key()
    writer = ArchiveWriter(store, "bk", cluster="c", key_wrapper=KeyWrapper(key))
    writer.start()
    with fake_gateway(_lines(_fake_db(), digest=b"\1" * 32)) as url:
        with pytest.raises(AdharError, match="does not match its SHA-256"):
            writer.add("etcd/snapshot.db", SnapshotStream(url, None), encrypt=True)
    writer.abort()
    leftovers = [os.path.join(d, f) for d, dummy, files in os.walk(str(tmp_path / "b")) for f in files]
    assert all(not p.endswith("snapshot.db.enc") for p in leftovers), leftovers
    assert not any("manifest" in p for p in leftovers)


def test_a_member_that_refuses_status_is_named_and_skipped():
    with fake_gateway(b"404 page not found", status=404) as url:
        port = _free_port()
        with pytest.raises(AdharError) as exc:
            endpoint_status([url, "http://127.0.0.1:%d" % port], None)
    assert "refused the status request: HTTP 404" in exc.value.msg and "--enable-grpc-gateway" in exc.value.msg
    assert "127.0.0.1:%d" % port in exc.value.msg


def test_refused_stream(tmp_path):
    with fake_gateway(b"{}", status=503) as url:
        with pytest.raises(AdharError, match="was refused: HTTP 503"):
            list(SnapshotStream(url, None))


@needs_etcd
def test_status_of_a_file_that_is_not_a_snapshot(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a bolt database" * 100)
    with pytest.raises(AdharError, match="etcdutl snapshot status of bad.db failed"):
        snapshot_status(etcd_binaries()["etcdutl"], str(bad))
