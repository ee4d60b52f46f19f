# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume data of local clusters: real PVs bound by the real scheduler and PV controller, their files backed up
(encrypted, streamed), restored into the same cluster and into a second one, a corrupted chunk refused before
anything is written, check mode writing nothing.

Two local clusters for the whole module: vd-src (2 kwok nodes, 2 free volumes) and vd-dst (1 node, 1 volume).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import time

import pytest

pytest.importorskip("cryptography")

KEY = base64.b64encode(b"v" * 32).decode()
ENC = {"key": KEY}
BIG = os.urandom(3 * 1024 * 1024 + 123)
MARKER = b"adhar-volume-plaintext-marker-" + os.urandom(8).hex().encode()


def kubectl(bin_dir, kubeconfig, *args, check=True):
    out = subprocess.run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", kubeconfig] + list(args),
                         capture_output=True, text=True, check=check, timeout=120)
    return out.stdout


def get_json(bin_dir, kubeconfig, *args):
    return json.loads(kubectl(bin_dir, kubeconfig, "get", "-o", "json", *args))


def workload(ns="shop"):
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
         "spec": {"storageClassName": "adhar-local", "accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "100Mi"}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "writer", "namespace": ns},
         "spec": {"containers": [{"name": "app", "image": "registry.example/app:1",
                                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}},
    ]


def wait_until(what, check, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.5)


def tree(root):
    """``{relative path: (type, mode, mtime, sha256 or link target)}`` of a directory."""
    out = {}
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(here, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", None, None, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), None, None)
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), int(st.st_mtime), hashlib.sha256(f.read()).hexdigest())
    return out


def fill(root):
    os.makedirs(os.path.join(root, "db", "wal"))
    with open(os.path.join(root, "db", "big.bin"), "wb") as f:
        f.write(BIG)
    with open(os.path.join(root, "db", "wal", "0001.log"), "wb") as f:
        f.write(MARKER * 100)
    with open(os.path.join(root, "settings.conf"), "w") as f:
        f.write("mode=primary\n")
    with open(os.path.join(root, "empty"), "w"):
        pass
    os.chmod(os.path.join(root, "settings.conf"), 0o640)
    os.chmod(os.path.join(root, "db", "wal"), 0o750)
    os.chmod(os.path.join(root, "db", "wal", "0001.log"), 0o600)
    os.utime(os.path.join(root, "settings.conf"), (1600000000, 1600000000))
    os.utime(os.path.join(root, "db", "big.bin"), (1700000000, 1700000000))
    os.symlink("db/big.bin", os.path.join(root, "current"))


def bound_path(bin_dir, kubeconfig, ns="shop", pvc="data"):
    claim = get_json(bin_dir, kubeconfig, "pvc", "-n", ns, pvc)
    if claim.get("status", {}).get("phase") != "Bound":
        return None
    pv = get_json(bin_dir, kubeconfig, "pv", claim["spec"]["volumeName"])
    return pv


@pytest.fixture(scope="module")
def clusters(runner, state_dir):
    made = []
    try:
        for name, nodes, volumes in (("vd-src", 2, 2), ("vd-dst", 1, 1)):
            r = runner.module("adhar.platform.cluster", {"name": name, "nodes": {"count": nodes, "volumes": volumes}})
            made.append(name)
            assert r["cluster"]["running"] is True
        yield {n: os.path.join(state_dir, n, "config", "admin.kubeconfig") for n in made}
    finally:
        for name in made:
            runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})


@pytest.fixture(scope="module")
def source(runner, clusters, bin_dir, state_dir):
    """The workload on vd-src, its PVC bound by the real controllers, files written into the PV's directory."""
    kc = clusters["vd-src"]
    runner.module("adhar.platform.apply", {"kubeconfig": kc, "definitions": workload()})
    pv = wait_until("the PVC to bind", lambda: bound_path(bin_dir, kc))

    # the PV controller binds the claim when the scheduler picks a node, just before the Pod itself is bound
    def scheduled_pod():
        pod = get_json(bin_dir, kc, "pod", "-n", "shop", "writer")
        return pod if pod["spec"].get("nodeName") else None

    pod = wait_until("the writer Pod to be scheduled", scheduled_pod)
    path = pv["spec"]["local"]["path"]
    fill(path)
    return {"kubeconfig": kc, "pv": pv, "pod": pod, "path": path, "tree": tree(path)}


def backup(runner, kubeconfig, root, name, **extra):
    args = {"kubeconfig": kubeconfig, "storage": {"path": root}, "cluster": "vd-src", "name": name,
            "include_namespaces": ["shop"], "encryption": ENC}
    args.update(extra)
    return runner.module("adhar.platform.backup", args)


def restore(runner, kubeconfig, root, name, check=False, expect_fail=False, **extra):
    args = dict(extra, kubeconfig=kubeconfig, storage={"path": root}, backup=name, encryption=ENC)
    return runner.module("adhar.platform.restore", args, check=check, expect_fail=expect_fail)


def test_pvc_binds_to_a_local_volume_on_a_kwok_node(runner, clusters, source, state_dir):
    pv, pod = source["pv"], source["pod"]
    assert pv["spec"]["storageClassName"] == "adhar-local"
    assert os.path.dirname(source["path"]) == os.path.join(state_dir, "vd-src", "volumes")
    node = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
    assert pod["spec"]["nodeName"] == node and node.startswith("kwok-node-")
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["status"]["phase"] == "Bound"
    # the cluster module tops the free volumes up again, and is idempotent afterwards
    r = runner.module("adhar.platform.cluster", {"name": "vd-src", "nodes": {"count": 2, "volumes": 2}})
    assert r["changed"] is True and any("local volumes" in a for a in r.get("actions") or []), r.get("actions")
    r = runner.module("adhar.platform.cluster", {"name": "vd-src", "nodes": {"count": 2, "volumes": 2}})
    assert r["changed"] is False


def test_backup_restore_volume_data(runner, clusters, source, bin_dir, tmp_path, state_dir):
    root = str(tmp_path / "store")
    r = backup(runner, source["kubeconfig"], root, "vd-one")
    vols = r["backup"]["volumes"]
    assert vols["volumes"] == 1 and vols["skipped"] == []
    entry = vols["captured"][0]
    assert (entry["namespace"], entry["pvc"], entry["pv"]) == ("shop", "data", source["pv"]["metadata"]["name"])
    assert entry["files"] == 4 and entry["dirs"] == 2 and entry["symlinks"] == 1
    assert entry["bytes"] == len(BIG) + len(MARKER) * 100 + len("mode=primary\n")
    stored = os.path.join(root, "vd-one", "volumes", "shop", "data.tar.enc")
    assert os.path.getsize(stored) == entry["stored_bytes"]
    with open(stored, "rb") as f:
        assert MARKER not in f.read()  # encrypted
    info = runner.module("adhar.platform.backup_info", {"storage": {"path": root}, "name": "vd-one", "encryption": ENC,
                                                        "verify": True})
    assert info["backup"]["volumes"]["volumes"][0]["files"] == 4
    assert info["backup"]["volumes"]["bytes"] == entry["bytes"]

    # check mode against the second cluster: nothing is written, neither objects nor files
    dst = clusters["vd-dst"]
    dst_root = os.path.join(state_dir, "vd-dst", "volumes")
    before = sorted(os.listdir(dst_root))
    r = restore(runner, dst, root, "vd-one", check=True)
    assert r["restore"]["volumes"]["volumes"][0]["action"] == "would restore"
    assert sorted(os.listdir(dst_root)) == before
    assert "shop" not in kubectl(bin_dir, dst, "get", "namespaces", "-o", "name")

    # into the second cluster: the PVC binds to a PV whose directory gets the files
    r = restore(runner, dst, root, "vd-one")
    vr = r["restore"]["volumes"]["volumes"][0]
    assert vr["action"] == "restored" and vr["files"] == 4, vr
    pv = wait_until("the restored PVC to bind", lambda: bound_path(bin_dir, dst))
    assert os.path.dirname(pv["spec"]["local"]["path"]) == dst_root
    assert tree(pv["spec"]["local"]["path"]) == source["tree"]
    assert r["restore"]["resource_counts"]["persistentvolumes"] == {"skipped": 1}
    # idempotent
    r = restore(runner, dst, root, "vd-one")
    assert r["restore"]["volumes"]["volumes"][0]["action"] == "unchanged" and r["changed"] is False

    # into the same cluster after the namespace and the volume's files are gone
    src = source["kubeconfig"]
    kubectl(bin_dir, src, "delete", "namespace", "shop", "--wait=true", "--timeout=90s")
    shutil.rmtree(source["path"])
    os.mkdir(source["path"])
    r = restore(runner, src, root, "vd-one")
    assert r["restore"]["volumes"]["volumes"][0]["action"] == "restored"
    pv = wait_until("the PVC to bind again", lambda: bound_path(bin_dir, src))
    assert pv["metadata"]["name"].startswith("adhar-restored-")  # pre-bound: never a free volume of the pool
    assert tree(pv["spec"]["local"]["path"]) == source["tree"]


def test_corrupted_volume_chunk_fails_before_anything_is_written(runner, clusters, source, bin_dir, tmp_path, state_dir):
    root = str(tmp_path / "store")
    backup(runner, source["kubeconfig"], root, "vd-two")
    stored = os.path.join(root, "vd-two", "volumes", "shop", "data.tar.enc")
    with open(stored, "r+b") as f:  # one byte in the middle of the stream (a segment far from the start)
        f.seek(os.path.getsize(stored) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    dst = clusters["vd-dst"]
    dst_root = os.path.join(state_dir, "vd-dst", "volumes")
    before = sorted(os.listdir(dst_root))
    r = restore(runner, dst, root, "vd-two", expect_fail=True, namespace_mapping={"shop": "shop-two"})
    assert "volume shop/data" in r["msg"] and "corrupted" in r["msg"] and "nothing was restored" in r["msg"], r["msg"]
    assert sorted(os.listdir(dst_root)) == before
    assert "shop-two" not in kubectl(bin_dir, dst, "get", "namespaces", "-o", "name")
