# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_etcd and its helpers: input checks without processes, then a real (plain HTTP) etcd member."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils import toolchain
from ansible_collections.adhar.platform.plugins.module_utils.archive import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils.etcd_snapshot import (
    ETCD_SNAPSHOT_ARG_SPEC, capture_etcd, endpoint_status, etcd_binaries, snapshot_status)
from ansible_collections.adhar.platform.plugins.module_utils.storage import LocalStorage

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


def test_refused_without_encryption_key_before_anything_runs(tmp_path):
    # the check comes first: even bad endpoints are not contacted
    with pytest.raises(AdharError, match="needs an encryption key"):
        capture_etcd(_NoKeyWriter(), {"endpoints": ["https://127.0.0.1:1"]})


@needs_etcd
def test_capture_from_endpoints(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    store = LocalStorage(str(tmp_path / "b"))
    key = generate_key()
    with running_etcd(str(tmp_path)) as url:
        status = endpoint_status(etcd_binaries()["etcdctl"], [url], {})
        assert status[0]["endpoint"] == url and status[0]["leader"] is True
        writer = ArchiveWriter(store, "bk", cluster="c", key_wrapper=KeyWrapper(key))
        meta = capture_etcd(writer, {"endpoints": [url]}, workdir=str(work))
        writer.metadata["etcd"] = meta
        writer.commit()
    assert set(meta) == {"hash", "revision", "total_keys", "total_size", "endpoint", "seconds"}
    assert meta["endpoint"] == url and meta["total_keys"] >= 20 and meta["revision"] >= 21
    assert os.listdir(str(work)) == []  # the private temp dir is gone
    reader = ArchiveReader(store, "bk", KeyWrapper(key))
    assert [i["path"] for i in reader.items()] == ["etcd/snapshot.db.enc"]
    out = tmp_path / "snap.db"
    with open(out, "wb") as f:
        reader.copy_to("etcd/snapshot.db", f)
    again = snapshot_status(etcd_binaries()["etcdutl"], str(out))
    assert (again["hash"], again["revision"], again["total_keys"]) == (meta["hash"], meta["revision"], meta["total_keys"])


@needs_etcd
def test_unreachable_members_store_nothing(tmp_path):
    store = LocalStorage(str(tmp_path / "b"))
    writer = ArchiveWriter(store, "bk", cluster="c", key_wrapper=KeyWrapper(generate_key()))
    with pytest.raises(AdharError, match="no etcd member answered"):
        capture_etcd(writer, {"endpoints": ["http://127.0.0.1:%d" % _free_port()]})
    assert not (tmp_path / "b").exists()


@needs_etcd
def test_status_of_a_file_that_is_not_a_snapshot(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a bolt database" * 100)
    with pytest.raises(AdharError, match="etcdutl snapshot status of bad.db failed"):
        snapshot_status(etcd_binaries()["etcdutl"], str(bad))
