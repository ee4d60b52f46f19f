# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interrupted backups and recoveries leave nothing sensitive on disk (a real local cluster, real local storage).

A Secret holding a unique marker is seeded into a cluster whose etcd is made
big (large ConfigMaps), so that streaming its snapshot takes long enough to be
interrupted.  ``adhar.platform.backup`` (with an etcd snapshot and a key) is
run as its own process, directly (``python -m ...modules.backup args.json``),
and killed with SIGKILL and with SIGTERM at several moments of the snapshot
stream (picked from the size of the encrypted item growing in the storage).
Then the whole temp tree, the private TMPDIR given to the module, the scratch
root and the storage tree are searched for the marker (plaintext) and for
private key material: zero hits outside the cluster's own directory.  A
killed recovery (``cluster`` with ``restore_from``) leaves its scratch copy
private, and the next run sweeps it.
"""

from __future__ import annotations

import base64
import glob
import http.client
import importlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid

import pytest

CLUSTER = "etcdkill"
RECOVERED = "etcdkillrec"
BIG_CONFIGMAPS = 72
BIG_VALUE = 900 * 1024
MARKER = "adhar-marker-%s" % uuid.uuid4().hex
# Moments of the snapshot stream, as fractions of the snapshot's stored size: just started, half way, almost done.
MOMENTS = (0.02, 0.5, 0.9)


def _mu(collections_path, name):
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    return importlib.import_module("ansible_collections.adhar.platform.plugins.module_utils." + name)


class Api:
    """Direct HTTPS to the cluster's API with its admin certificate (stdlib only: no client library temp files)."""

    def __init__(self, state_dir, name):
        pki = os.path.join(state_dir, name, "pki")
        with open(os.path.join(state_dir, name, "cluster.json")) as f:
            self.port = json.load(f)["ports"]["api"]
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

    def call(self, method, path, body=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=120)
        try:
            conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        assert resp.status < 300, "%s %s -> %d %s" % (method, path, resp.status, data[:300])
        return json.loads(data)


def _scan(roots, needles, skip=()):
    """``[(path, needle)]`` for every regular file under ``roots`` (not under ``skip``) that contains a needle (bytes)."""
    skip = tuple(os.path.realpath(s) + os.sep for s in skip)
    longest = max(len(n) for n in needles)
    hits = []
    seen = set()
    for root in roots:
        for directory, dirs, files in os.walk(root):
            real = os.path.realpath(directory) + os.sep
            if real.startswith(skip) or real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            for name in files:
                path = os.path.join(directory, name)
                try:
                    if not os.path.isfile(path) or os.path.islink(path):
                        continue
                    with open(path, "rb") as f:
                        tail = b""
                        while True:
                            chunk = f.read(4 * 1024 * 1024)
                            if not chunk:
                                break
                            window = tail + chunk
                            for needle in needles:
                                if needle in window and (path, needle) not in hits:
                                    hits.append((path, needle))
                            tail = window[-longest:]
                except OSError:
                    continue  # another user's file, a file removed meanwhile
    return hits


def _key_needles(pki):
    """The base64 body lines of this cluster's private keys (any copy of a key contains them)."""
    needles = []
    for path in glob.glob(os.path.join(pki, "*.key")):
        with open(path, "rb") as f:
            lines = [ln for ln in f.read().splitlines() if ln and not ln.startswith(b"-----")]
        if lines:
            needles.append(lines[len(lines) // 2])
    return needles


@pytest.fixture(scope="module")
def env(runner, state_dir, collections_path, tmp_path_factory, bin_dir):
    """The seeded cluster, a storage root, a key file and a private TMPDIR for the module processes."""
    crypto = _mu(collections_path, "_dr.crypto_envelope")
    work = str(tmp_path_factory.mktemp("etcd-stream"))
    tmpdir = os.path.join(work, "tmp")
    os.mkdir(tmpdir, 0o700)
    key_file = os.path.join(work, "backup.key")
    with open(key_file, "wb") as f:
        f.write(crypto.generate_key())
    r = runner.module("adhar.platform.cluster", {"name": CLUSTER})
    assert r["cluster"]["running"] is True
    try:
        api = Api(state_dir, CLUSTER)
        api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "kill-test"}})
        api.call("POST", "/api/v1/namespaces/kill-test/secrets",
                 {"metadata": {"name": "marked"}, "stringData": {"value": MARKER}})
        for i in range(BIG_CONFIGMAPS):
            blob = base64.b64encode(os.urandom(BIG_VALUE * 3 // 4)).decode()
            api.call("POST", "/api/v1/namespaces/kill-test/configmaps",
                     {"metadata": {"name": "big-%03d" % i}, "data": {"blob": blob}})
        yield {"work": work, "tmpdir": tmpdir, "key_file": key_file, "store": os.path.join(work, "store"),
               "cluster_dir": os.path.join(state_dir, CLUSTER), "state_dir": state_dir, "collections": collections_path,
               "archive": _mu(collections_path, "_archive.api"), "storage": _mu(collections_path, "_storage.api"), "crypto": crypto,
               "bin_dir": bin_dir}
    finally:
        runner.module("adhar.platform.cluster", {"name": RECOVERED, "state": "absent"})
        runner.module("adhar.platform.cluster", {"name": CLUSTER, "state": "absent"})


def _start(env, module, args, check_mode=False):
    """Run ``module`` directly in its own process, as Ansible would (args file), with the private TMPDIR."""
    path = os.path.join(env["work"], "args-%s.json" % uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode)}, f)
    penv = dict(os.environ, PYTHONPATH=env["collections"], TMPDIR=env["tmpdir"], ADHAR_STATE_DIR=env["state_dir"],
                ADHAR_BIN_DIR=env["bin_dir"])
    return subprocess.Popen([sys.executable, "-m", "ansible_collections.adhar.platform.plugins.modules." + module, path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=penv)


def _result(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    try:
        return json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"rc": proc.returncode, "stdout": out.decode()[-2000:], "stderr": err.decode()[-2000:]}


def _backup_args(env, name):
    return {"kubeconfig": os.path.join(env["cluster_dir"], "config", "admin.kubeconfig"), "name": name,
            "storage": {"path": env["store"]}, "encryption": {"key_file": env["key_file"]},
            "exclude_resources": ["configmaps"], "etcd_snapshot": {"local_cluster": CLUSTER}}


def _item_size(env, name):
    """Largest file in the backup's etcd/ directory (the encrypted snapshot being written), or -1."""
    sizes = [-1]
    for path in glob.glob(os.path.join(env["store"], name, "etcd", "*")) + \
            glob.glob(os.path.join(env["store"], name, "etcd", ".*")):
        try:
            sizes.append(os.path.getsize(path))
        except OSError:
            pass
    return max(sizes)


@pytest.fixture(scope="module")
def complete(env):
    """A complete backup first: its snapshot size tells where the moments are, and it is the recoveries' source."""
    proc = _start(env, "backup", _backup_args(env, "full"))
    r = _result(proc)
    assert not r.get("failed") and r["backup"]["complete"] is True, r
    etcd = r["backup"]["etcd"]
    assert etcd["total_size"] > BIG_CONFIGMAPS * BIG_VALUE  # big enough to be interrupted mid-stream
    return {"result": r, "size": os.path.getsize(os.path.join(env["store"], "full", "etcd", "snapshot.db.enc"))}


def test_bad_etcd_snapshot_fails_before_any_object_is_captured(env):
    for etcd, match in (({"local_cluster": "nope"}, "no ready local cluster 'nope'"),
                        ({"endpoints": ["https://127.0.0.1:1"]}, "no etcd member answered")):
        args = dict(_backup_args(env, "bad-etcd"), etcd_snapshot=etcd)
        r = _result(_start(env, "backup", args))
        assert r.get("failed") and match in r["msg"], r
        assert not os.path.exists(os.path.join(env["store"], "bad-etcd"))


def test_normal_backup_snapshot_is_valid_and_holds_the_marker(env, complete, tmp_path):
    """The positive control: the stored snapshot, decrypted, passes etcd's own check and does hold the marker."""
    store = env["storage"].storage_from_params({"path": env["store"]})
    with open(env["key_file"], "rb") as f:
        reader = env["archive"].ArchiveReader(store, "full", env["crypto"].KeyWrapper(f.read()))
    out = str(tmp_path / "snap.db")
    with open(out, "wb") as f:
        reader.copy_to("etcd/snapshot.db", f)
    status = json.loads(subprocess.run([os.path.join(env["bin_dir"], "etcdutl"), "snapshot", "status", out, "-w", "json"],
                                       capture_output=True, text=True, check=True).stdout)
    meta = complete["result"]["backup"]["etcd"]
    assert status["totalSize"] == meta["total_size"] and status["revision"] >= meta["revision"]
    with open(out, "rb") as f:
        assert MARKER.encode() in f.read()
    os.unlink(out)
    assert _scan([env["store"]], [MARKER.encode()]) == []  # stored encrypted


@pytest.mark.parametrize("signame", ["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("moment", MOMENTS)
def test_backup_killed_during_the_snapshot_leaves_no_plaintext(env, complete, signame, moment):
    name = "kill-%s-%02d" % (signame.lower(), int(moment * 100))
    proc = _start(env, "backup", _backup_args(env, name))
    want = max(1, int(complete["size"] * moment))
    hit = None
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        size = _item_size(env, name)
        if size >= want:
            proc.send_signal(getattr(signal, signame))
            hit = size
            break
        time.sleep(0.002)
    r = _result(proc)
    assert hit is not None, "the backup ended before the snapshot reached %d bytes: %r" % (want, r)
    assert hit < complete["size"], "the snapshot was already complete when the signal was sent"
    if signame == "SIGTERM":
        assert r.get("failed") and r["msg"] == "interrupted by SIGTERM", r
        # the unwind released the storage lock
        assert not os.path.exists(os.path.join(env["store"], ".locks", "adhar-%s.lock" % CLUSTER))
    else:
        assert proc.returncode == -signal.SIGKILL
    store = env["storage"].storage_from_params({"path": env["store"]})
    listed = {b["name"]: b for b in env["archive"].list_backups(store)}
    assert listed[name]["complete"] is False
    # nothing in the private TMPDIR (no scratch directory either: a backup never needs one), no plaintext in the storage
    left = [os.path.join(d, f) for d, dummy, files in os.walk(env["tmpdir"]) for f in files]
    assert left == []
    keys = _key_needles(os.path.join(env["cluster_dir"], "pki"))
    assert _scan([env["store"], env["tmpdir"]], [MARKER.encode(), b"PRIVATE KEY"] + keys) == []


def test_whole_temp_tree_has_no_marker_and_no_key(env, complete):
    """After every kill: the marker and this cluster's private keys exist only in the cluster's own directory."""
    keys = _key_needles(os.path.join(env["cluster_dir"], "pki"))
    assert keys
    # the scanner finds what is there (the cluster's data and pki hold the marker and the keys)
    inside = _scan([env["cluster_dir"]], [MARKER.encode()] + keys)
    assert {n for dummy, n in inside} == set([MARKER.encode()] + keys)
    roots = sorted({"/tmp", env["tmpdir"], env["store"], os.environ.get("TMPDIR") or "/tmp"})
    assert _scan(roots, [MARKER.encode()] + keys, skip=[env["cluster_dir"]]) == []
    assert _scan([env["tmpdir"], env["store"]], [b"PRIVATE KEY"]) == []


def _recover_args(env):
    return {"name": RECOVERED, "restore_from": {"storage": "file://" + env["store"], "backup": "full",
                                                "source_cluster": CLUSTER, "encryption": {"key_file": env["key_file"]}}}


def _scratch_file(env):
    found = glob.glob(os.path.join(env["tmpdir"], ".adhar-scratch", "etcd-recover-*", "snapshot.db"))
    return found[0] if found else None


def _kill_when_scratch_written(env, proc, sig):
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        path = _scratch_file(env)
        if path and os.path.getsize(path) > 0:
            proc.send_signal(sig)
            return path
        time.sleep(0.002)
    raise AssertionError("the recovery never wrote its scratch copy: %r" % (_result(proc),))


def test_recovery_killed_leaves_a_private_scratch_copy_that_the_next_run_sweeps(env, complete, state_dir):
    root = os.path.join(env["tmpdir"], ".adhar-scratch")
    # SIGTERM: the scratch copy goes at once
    proc = _start(env, "cluster", _recover_args(env), check_mode=True)
    _kill_when_scratch_written(env, proc, signal.SIGTERM)
    r = _result(proc)
    assert r.get("failed") and r["msg"] == "interrupted by SIGTERM", r
    assert os.listdir(root) == []
    # SIGKILL: the copy stays, private (0700 directory, 0600 file), until the next run
    proc = _start(env, "cluster", _recover_args(env), check_mode=True)
    path = _kill_when_scratch_written(env, proc, signal.SIGKILL)
    proc.wait()
    assert os.path.exists(path)
    assert oct(os.stat(root).st_mode & 0o777) == "0o700"
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert str(proc.pid) in os.path.basename(os.path.dirname(path))
    r = _result(_start(env, "cluster", _recover_args(env), check_mode=True))
    assert not r.get("failed") and r["restored_from"]["backup"] == "full", r
    assert os.listdir(root) == []  # the leftover was swept, this run's copy removed
    assert not os.path.exists(os.path.join(state_dir, RECOVERED))  # check mode
    assert _scan([env["tmpdir"]], [MARKER.encode()]) == []
