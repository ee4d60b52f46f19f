# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.backup and backup_info against a real local cluster (and S3 through a moto server process).

Check mode, backup, list/show/verify, wrong key, the Secret rule, filters (namespace globs, resources, label
selector, the exclude labels, cluster resources auto, the CRD of a captured custom resource), no plaintext Secret
bytes in any stored file, the lock, S3, ``kill -9`` in the middle of a backup, retention, volume snapshots.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

import moto_server
from moto_server import REGION

pytest.importorskip("cryptography")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SECRET_VALUE = "S3cr3t-Value-%s" % uuid.uuid4().hex[:12]
KEY = base64.b64encode(os.urandom(32)).decode()
OTHER_KEY = base64.b64encode(os.urandom(32)).decode()
ENC = {"key": KEY}

moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


def _cm(ns, name, labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "data": {"k": name}}


SEED = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in ("app-one", "app-two", "other", "vols")
] + [
    WIDGET_CRD,
    _cm("app-one", "web-settings", {"tier": "web"}),
    _cm("app-one", "db-settings", {"tier": "db"}),
    _cm("app-one", "skip-me", {"backup.adhar.io/exclude": "true"}),
    _cm("app-one", "skip-me-velero", {"velero.io/exclude-from-backup": "true"}),
    _cm("app-two", "two-settings", {"tier": "web"}),
    _cm("other", "other-settings"),
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password", "namespace": "app-one"},
     "stringData": {"password": SECRET_VALUE}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "vols"},
     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
]


@pytest.fixture(scope="module")
def cluster(make_local_cluster, runner):
    with make_local_cluster("bk-it") as kubeconfig:
        runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "definitions": SEED, "wait": True})
        runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "definitions": [
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "app-one"},
             "spec": {"size": 3}}]})
        yield kubeconfig


def backup(runner, kubeconfig, storage, expect_fail=False, check=False, **args):
    params = {"kubeconfig": kubeconfig, "storage": storage, "cluster": "bk-it"}
    params.update(args)
    if check:
        res = runner.play("- adhar.platform.backup: %s\n" % json.dumps(params), check=True, expect_rc=0)
        assert res[-1]["status"] == "ok", res[-1]
        return res[-1]["result"]
    return runner.module("adhar.platform.backup", params, expect_fail=expect_fail)


def info(runner, storage, expect_fail=False, **args):
    params = {"storage": storage}
    params.update(args)
    return runner.module("adhar.platform.backup_info", params, expect_fail=expect_fail)


def manifest(root, name):
    with open(os.path.join(root, name, "manifest.json")) as f:
        return json.load(f)


def paths(root, name):
    return {i["path"] for i in manifest(root, name)["items"]}


def test_check_mode_backup_list_show_verify(runner, cluster, tmp_path):
    root = str(tmp_path / "store")
    storage = {"path": root}
    r = backup(runner, cluster, storage, check=True, encryption=ENC, name="bk-check")
    assert r["changed"] is True
    assert r["backup"]["complete"] is False
    assert r["backup"]["counts"]["configmaps"] >= 5
    assert r["backup"]["counts"]["secrets"] >= 1
    assert not os.path.exists(root), "check mode wrote something"
    check_verify_key = r["backup"]["verify_key"]

    r = backup(runner, cluster, storage, encryption=ENC, name="bk-one", decoder_processes=1)
    b = r["backup"]
    assert b["complete"] is True and b["encrypted"] is True and b["name"] == "bk-one"
    assert b["counts"]["configmaps"] >= 5 and b["counts"]["widgets.example.com"] == 1
    assert b["objects_per_second"] > 0 and b["item_count"] == sum(b["counts"].values())
    # a decoder process asked for started under AnsiballZ (it imports its code from the module's zip)
    assert b["decoder_processes"] == 1, (b["decoder_processes"], r.get("warnings"))
    assert not any("decoder processes" in w for w in r.get("warnings") or [])
    assert b["volume_snapshots"]["supported"] is False
    assert "vols/data" in b["volume_snapshots"]["pvcs_without_data"]
    m = manifest(root, "bk-one")
    assert m["metadata"]["filters"]["cluster_resources"] == "all"
    assert m["metadata"]["api_versions"]["deployments.apps"] == "apps/v1"
    assert "events" not in m["counts"]
    items = {i["path"]: i for i in m["items"]}
    assert items["resources/secrets/namespaces/app-one/db-password.json.enc"]["encrypted"] is True
    assert "resources/configmaps/namespaces/app-one/skip-me.json" not in items
    assert "resources/configmaps/namespaces/app-one/skip-me-velero.json" not in items
    assert "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json" in items

    listing = info(runner, storage)
    assert [e["name"] for e in listing["backups"]] == ["bk-one"]
    assert listing["backups"][0]["complete"] is True and listing["backups"][0]["cluster"] == "bk-it"
    shown = info(runner, storage, name="bk-one")
    assert shown["backup"]["counts"] == b["counts"] and shown["backup"]["encrypted"] is True
    assert shown["backup"]["metadata"]["etcd"] is None
    verified = info(runner, storage, name="bk-one", verify=True, encryption=ENC)
    assert verified["verification"]["ok"] is True and verified["verification"]["decryption_checked"] is True
    assert verified["verification"]["integrity"] == "signed"
    # the signed manifest checks out with the verify key alone (the same in check mode: it comes from the key)
    assert b["verify_key"] == check_verify_key == m["signature"]["public_key"] and m["format_version"] == "2.1.0"
    # small items are packed: a few pack files hold every object, each item keeps its own record
    stored = [os.path.relpath(os.path.join(d, f), os.path.join(root, "bk-one"))
              for d, dummy, files in os.walk(os.path.join(root, "bk-one")) for f in files]
    assert m["packs"] and not any(p.startswith("resources/") for p in stored)
    assert sorted(p for p in stored if p.startswith("packs/")) == [p["path"] for p in m["packs"]]
    assert all("pack" in i for i in m["items"] if i["path"].startswith("resources/"))
    signed = info(runner, storage, name="bk-one", verify=True, verify_key=b["verify_key"])
    assert signed["verification"]["ok"] is True and signed["verification"]["decryption_checked"] is False
    assert signed["verification"]["integrity"] == "signed"
    nokey = info(runner, storage, name="bk-one", verify=True, expect_fail=True)
    assert "backup bk-one is encrypted with the key hmac-sha256:" in nokey["msg"], nokey["msg"]

    wrong = info(runner, storage, name="bk-one", verify=True, encryption={"key": OTHER_KEY}, expect_fail=True)
    assert "cannot decrypt: wrong key or tampered data" in wrong["msg"]

    # no plaintext Secret bytes in any stored file
    needles = [SECRET_VALUE.encode(), base64.b64encode(SECRET_VALUE.encode())]
    for dirpath, dummy, files in os.walk(root):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                data = fh.read()
            for needle in needles:
                assert needle not in data, "plaintext secret in %s" % os.path.join(dirpath, f)

    # a flipped byte is named by verify
    record = items["resources/configmaps/namespaces/other/other-settings.json"]
    with open(os.path.join(root, "bk-one", record["pack"]), "r+b") as fh:  # the item is in a pack
        fh.seek(record["offset"])
        first = fh.read(1)
        fh.seek(record["offset"])
        fh.write(bytes([first[0] ^ 0x01]))
    bad = info(runner, storage, name="bk-one", verify=True, encryption=ENC, expect_fail=True)
    assert "other-settings" in bad["msg"] and bad["verification"]["ok"] is False


def test_secrets_need_a_key_and_nothing_is_written(runner, cluster, tmp_path):
    root = str(tmp_path / "store")
    r = backup(runner, cluster, {"path": root}, expect_fail=True)
    assert "Secrets would be stored in plaintext" in r["msg"]
    assert not os.path.exists(root) or os.listdir(root) == []
    # excluding secrets makes it valid without a key
    r = backup(runner, cluster, {"path": root}, exclude_resources=["secrets"], name="bk-nosecrets")
    assert "secrets" not in r["backup"]["counts"] and r["backup"]["encrypted"] is False
    # pack_size 0: one file per object, format 1.2 (what older releases read)
    r = backup(runner, cluster, {"path": root}, include_resources=["configmaps"], name="bk-flat", pack_size=0)
    m = manifest(root, "bk-flat")
    assert m["format_version"] == "1.3.0" and "packs" not in m
    assert all(os.path.isfile(os.path.join(root, "bk-flat", *i["path"].split("/"))) for i in m["items"])


def test_filters(runner, cluster, tmp_path):
    root = str(tmp_path / "store")
    storage = {"path": root}
    r = backup(runner, cluster, storage, name="bk-ns", include_namespaces=["app-*"], exclude_namespaces=["app-two"],
               encryption=ENC)["backup"]
    got = paths(root, "bk-ns")
    assert "resources/configmaps/namespaces/app-one/web-settings.json" in got
    assert not any("/namespaces/app-two/" in p or "/namespaces/other/" in p for p in got)
    # auto: a namespace filter leaves out cluster-scoped resources except related ones
    assert "clusterroles.rbac.authorization.k8s.io" not in r["counts"]
    assert r["counts"]["namespaces"] == 1
    assert "resources/namespaces/cluster/app-one.json" in got
    assert "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json" in got
    assert r["related"]["customresourcedefinitions"] == ["widgets.example.com"]

    r = backup(runner, cluster, storage, name="bk-res", include_resources=["cm", "Widget"], include_cluster_resources=False)
    assert set(r["backup"]["counts"]) == {"configmaps", "widgets.example.com"}

    r = backup(runner, cluster, storage, name="bk-label", include_resources=["configmaps"], label_selector="tier=web")
    got = paths(root, "bk-label")
    names = {p.rsplit("/", 1)[-1] for p in got if p.startswith("resources/configmaps/")}
    assert names == {"web-settings.json", "two-settings.json"}

    r = backup(runner, cluster, storage, name="bk-typo", include_resources=["configmapz"], strict=True, expect_fail=True)
    assert "configmapz" in r["msg"] and not os.path.exists(os.path.join(root, "bk-typo"))
    r = backup(runner, cluster, storage, name="bk-typo", include_resources=["configmaps", "configmapz"])
    assert any("include_resources 'configmapz' matches nothing" in w for w in r.get("warnings") or [])


def _adhar_module_utils(collections_path):
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    import importlib
    return importlib.import_module("ansible_collections.adhar.platform.plugins.module_utils._storage.api")


def test_held_lock_fails_clearly(runner, cluster, tmp_path, collections_path):
    root = str(tmp_path / "store")
    storage_mod = _adhar_module_utils(collections_path)
    store = storage_mod.storage_from_params({"path": root})
    store.check(write=True)
    with store.lock("bk-it", ttl=600, backup="someone-else"):
        r = backup(runner, cluster, {"path": root}, name="bk-locked", encryption=ENC, expect_fail=True)
    assert "cluster bk-it is locked" in r["msg"] and "pid %d" % os.getpid() in r["msg"]
    assert not os.path.exists(os.path.join(root, "bk-locked"))


def test_s3(runner, cluster, moto_endpoint):
    boto3 = pytest.importorskip("boto3")
    bucket = "adhar-bk-%s" % uuid.uuid4().hex[:10]
    boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    storage = {"type": "s3", "bucket": bucket, "prefix": "prod", "region": REGION, "endpoint_url": moto_endpoint,
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    r = backup(runner, cluster, storage, name="bk-s3", encryption=ENC, include_namespaces=["app-one"])
    assert r["backup"]["complete"] is True and r["backup"]["storage"]["type"] == "s3"
    listing = info(runner, storage, name="bk-s3", verify=True, encryption=ENC)
    assert listing["backups"][0]["complete"] is True and listing["verification"]["ok"] is True


def _seed_configmaps(runner, kubeconfig, n=3000):
    items = [_cm("bulk", "bulk-%05d" % i) for i in range(n)]
    for i in range(0, n, 1000):
        runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "workers": 16,
                                               "definitions": ([{"apiVersion": "v1", "kind": "Namespace",
                                                                 "metadata": {"name": "bulk"}}] if i == 0 else [])
                                               + items[i:i + 1000]})


def test_kill_9_then_next_backup_and_retention(runner, cluster, tmp_path):
    root = str(tmp_path / "store")
    storage = {"path": root}
    backup(runner, cluster, storage, name="bk-first", encryption=ENC, include_namespaces=["app-one"])
    _seed_configmaps(runner, cluster)
    book = tmp_path / "kill.yml"
    args = {"kubeconfig": cluster, "storage": storage, "cluster": "bk-it", "name": "bk-killed", "encryption": ENC,
            "workers": 1, "page_size": 20}
    book.write_text(textwrap.dedent("""\
        - hosts: localhost
          connection: local
          gather_facts: false
          tasks:
            - adhar.platform.backup: %s
        """) % json.dumps(args))
    env = runner.env()
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                             str(book)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    started = os.path.join(root, "bk-killed", "started.json")
    deadline = time.monotonic() + 120
    try:
        while not os.path.exists(started):
            assert proc.poll() is None, "the backup ended before it could be killed"
            assert time.monotonic() < deadline, "started.json never appeared"
            time.sleep(0.01)
        time.sleep(0.3)
    finally:
        # ansible runs the module in a session of its own: kill the process group of ansible-playbook and the
        # module process, whose pid the cluster's lock names
        holder = None
        try:
            with open(os.path.join(root, ".locks", "bk-it.lock")) as f:
                holder = json.load(f)["pid"]
            os.kill(holder, signal.SIGKILL)
        except (OSError, ValueError, KeyError):
            pass
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert holder, "the lock did not name the module process"
    assert not os.path.exists(os.path.join(root, "bk-killed", "manifest.json"))
    listing = {e["name"]: e for e in info(runner, storage)["backups"]}
    assert listing["bk-killed"]["complete"] is False and "no manifest" in listing["bk-killed"]["problem"]
    assert listing["bk-first"]["complete"] is True

    # retention with keep_last 1 never prunes the newest complete backup (the killed one is not complete)
    r = backup(runner, cluster, storage, name="bk-after", encryption=ENC, include_namespaces=["app-one"],
               retention={"keep_last": 1})
    assert r["backup"]["complete"] is True
    assert "stale lock" in " ".join(r.get("warnings") or []), r.get("warnings")
    assert r["retention"]["deleted"] == ["bk-first"]
    assert "bk-after" in r["retention"]["kept"] and "bk-killed" in r["retention"]["kept"]  # incomplete: within grace
    listing = {e["name"]: e for e in info(runner, storage)["backups"]}
    assert set(listing) == {"bk-killed", "bk-after"} and listing["bk-after"]["complete"] is True


def test_volume_snapshots(runner, cluster, tmp_path, bin_dir):
    root = str(tmp_path / "store")
    storage = {"path": root}
    r = backup(runner, cluster, storage, name="bk-vs-none", include_namespaces=["vols"], volume_snapshots="always", encryption=ENC,
               expect_fail=True)
    assert "VolumeSnapshots cannot be taken" in r["msg"] and not os.path.exists(os.path.join(root, "bk-vs-none"))
    fixtures = os.path.join(REPO, "tests", "fixtures", "volumesnapshot")
    runner.module("adhar.platform.apply", {"kubeconfig": cluster, "src": [os.path.join(fixtures, "crds.yaml")], "wait": True})
    runner.module("adhar.platform.apply", {"kubeconfig": cluster, "src": [os.path.join(fixtures, "class.yaml")]})
    r = backup(runner, cluster, storage, name="bk-vs", include_namespaces=["vols"], volume_snapshots="always", encryption=ENC,
               volume_snapshot_timeout=3)
    vs = r["backup"]["volume_snapshots"]
    assert r["timings"]["volume_snapshots"] >= 3  # watched for readyToUse until the timeout (no driver takes it)
    assert vs["supported"] is True and vs["class"] == "fixture-snapclass"
    assert vs["pending"] == 1 and vs["ready"] == 0
    snap = vs["snapshots"][0]
    assert snap["pvc"] == "data" and snap["state"] == "pending" and snap["ready_to_use"] is False
    assert "still pending after 3s" in snap["message"] and snap["class"] == "fixture-snapclass"
    assert "pending" in vs["message"] and "NOT in this backup" in vs["message"]
    got = paths(root, "bk-vs")
    assert "resources/volumesnapshots.snapshot.storage.k8s.io/namespaces/vols/%s.json" % snap["name"] in got
    out = subprocess.run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", cluster, "-n", "vols", "get", "volumesnapshots", "-l",
                          "backup.adhar.io/backup=bk-vs", "-o", "name"], capture_output=True, text=True, check=True)
    assert snap["name"] in out.stdout


def test_etcd_snapshot_and_adhar_config(runner, cluster, tmp_path, state_dir):
    root = str(tmp_path / "store")
    config = {"cluster": {"name": "bk-it"}, "backup": {"retention": 7}}
    r = backup(runner, cluster, {"path": root}, name="bk-etcd", encryption=ENC, include_namespaces=["app-one"],
               etcd_snapshot={"local_cluster": "bk-it", "state_dir": state_dir}, adhar_config=config)
    etcd = r["backup"]["etcd"]
    assert etcd["revision"] > 0 and etcd["total_size"] > 0 and len(etcd["sha256"]) == 64
    m = manifest(root, "bk-etcd")
    got = {i["path"]: i for i in m["items"]}
    assert got["etcd/snapshot.db.enc"]["encrypted"] is True and got["config/adhar.yaml.enc"]["encrypted"] is True
    assert m["metadata"]["etcd"]["revision"] == etcd["revision"] and m["metadata"]["adhar_config"] is True
    shown = info(runner, {"path": root}, name="bk-etcd", verify=True, encryption=ENC)
    assert shown["backup"]["metadata"]["etcd"]["sha256"] == etcd["sha256"] and shown["verification"]["ok"] is True
    # without a key, an etcd snapshot is refused before anything is written
    r = backup(runner, cluster, {"path": root}, name="bk-etcd-nokey", exclude_resources=["secrets"],
               etcd_snapshot={"local_cluster": "bk-it", "state_dir": state_dir}, expect_fail=True)
    assert "encryption" in r["msg"] and not os.path.exists(os.path.join(root, "bk-etcd-nokey"))
