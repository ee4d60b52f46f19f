# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation before work, through the modules against a real local cluster and real local storage.

Every bad input gives one clear error naming what is wrong, and nothing is written: no backup directory, no lock
left, zero objects created.  Include filters that match nothing are warnings (errors with ``strict``).  A storage
on a small tmpfs that runs out of inodes or space fails with the real cause and leaves no lock.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid

import pytest

pytest.importorskip("cryptography")

KEY = base64.b64encode(os.urandom(32)).decode()
ENC = {"key": KEY}
NS = "val-a"
SEED = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": NS}, "data": {"k": "v"}},
]


@pytest.fixture(scope="module")
def cluster(make_local_cluster, runner):
    with make_local_cluster("val-it") as kubeconfig:
        runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "definitions": SEED})
        yield kubeconfig


@pytest.fixture(scope="module")
def store(runner, cluster, tmp_path_factory):
    """A local storage holding one complete backup of namespace val-a (name val-backup)."""
    root = str(tmp_path_factory.mktemp("val-store") / "backups")
    r = runner.module("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"path": root}, "cluster": "val-it",
                                                "name": "val-backup", "include_namespaces": [NS], "encryption": ENC})
    assert r["backup"]["complete"] is True
    return root


def run_tasks(runner, tasks, check=False):
    """Run ``[(module, args)]`` in one play, every task allowed to fail; returns their results in order."""
    text = ""
    for module, args in tasks:
        text += "- %s: %s\n  ignore_errors: true\n" % (module, json.dumps(args))
    res = runner.play(text, check=check, expect_rc=0)
    assert len(res) == len(tasks), res
    return res


def failed(result):
    assert result["status"] == "failed", result
    return result["result"]


def warnings_of(result):
    assert result["status"] == "ok", result
    return result["result"].get("warnings") or []


def files_under(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(os.path.relpath(os.path.join(dirpath, f), root) for f in filenames)
    return sorted(out)


def test_bad_numbers_are_refused_before_work_by_every_module(runner, cluster, store, tmp_path):
    empty = str(tmp_path / "never-created")
    tasks = [
        ("adhar.platform.restore", {"kubeconfig": cluster, "storage": {"path": store}, "backup": "val-backup",
                                    "encryption": ENC, "wait_timeout": -5}),
        ("adhar.platform.restore", {"kubeconfig": cluster, "storage": {"path": store}, "backup": "val-backup",
                                    "encryption": ENC, "workers": 0}),
        ("adhar.platform.backup_info", {"storage": {"path": store}, "workers": 0, "name": "val-backup", "verify": True,
                                        "encryption": ENC}),
        ("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"path": empty}, "cluster": "val-it",
                                   "encryption": ENC, "workers": 1000}),
        ("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"path": empty}, "cluster": "val-it",
                                   "encryption": ENC, "lock_ttl": 5}),
        ("adhar.platform.apply", {"kubeconfig": cluster, "definitions": SEED, "wait_timeout": -1}),
        ("adhar.platform.apply", {"kubeconfig": cluster, "definitions": SEED, "workers": 0}),
        ("adhar.platform.helm_release", {"kubeconfig": cluster, "name": "x", "chart": "/nonexistent", "wait_timeout": 0}),
        ("adhar.platform.cluster_info", {"kubeconfig": cluster, "timeout": 0}),
        ("adhar.platform.api_info", {"kubeconfig": cluster, "request_timeout": -1}),
        ("adhar.platform.db", {"operation": "export", "storage": {"path": empty}, "encryption": ENC, "jobs": 0}),
    ]
    res = run_tasks(runner, tasks)
    messages = [failed(r)["msg"] for r in res]
    assert messages == [
        "wait_timeout must be greater than 0, got -5",
        "workers must be at least 1, got 0",
        "workers must be at least 1, got 0",
        "workers must be at most 256, got 1000",
        "lock_ttl must be at least 60, got 5",
        "wait_timeout must be greater than 0, got -1",
        "workers must be at least 1, got 0",
        "wait_timeout must be greater than 0, got 0",
        "timeout must be greater than 0, got 0",
        "request_timeout must be at least 0, got -1",
        "jobs must be at least 1, got 0",
    ]
    assert [failed(r)["option"] for r in res][:2] == ["wait_timeout", "workers"]
    assert not os.path.exists(empty)
    assert not os.path.exists(os.path.join(store, ".locks", "val-it.lock"))


def test_storage_paths_are_checked_before_work(runner, cluster, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    under = str(a_file / "backups")
    tasks = [
        ("adhar.platform.restore", {"kubeconfig": cluster, "storage": {"path": str(a_file)}, "backup": "b1"}),
        ("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"path": str(a_file)}, "cluster": "val-it",
                                   "encryption": ENC}),
        ("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"path": under}, "cluster": "val-it",
                                   "encryption": ENC}),
        ("adhar.platform.backup_info", {"storage": {"path": str(a_file)}}),
        ("adhar.platform.backup_info", {"storage": {"path": str(tmp_path / "missing")}}),
        ("adhar.platform.db", {"operation": "import", "backup": "latest", "cluster": "c", "storage": {"path": str(a_file)},
                               "encryption": ENC}),
        ("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"type": "s3", "bucket": "Bad_Bucket"},
                                   "cluster": "val-it", "encryption": ENC}),
    ]
    res = run_tasks(runner, tasks)
    messages = [failed(r)["msg"] for r in res]
    assert messages[0] == "storage path %s is not a directory" % a_file
    assert "NotADirectoryError" not in json.dumps([r["result"] for r in res])
    assert messages[1] == "storage path %s is not a directory" % a_file
    assert messages[2] == "storage path %s cannot exist: %s is not a directory" % (under, a_file)
    assert messages[3] == "storage path %s is not a directory" % a_file
    assert messages[4] == "the backup directory %s does not exist" % (tmp_path / "missing")
    assert messages[5] == "storage path %s is not a directory" % a_file
    assert messages[6].startswith("storage.bucket 'Bad_Bucket' is not an S3 bucket name")
    assert all(failed(r)["option"].startswith("storage.") for r in res)
    assert a_file.read_text() == "not a directory"
    assert not os.path.exists(str(tmp_path / "missing"))


def test_backup_filters_are_checked_before_work(runner, cluster, tmp_path):
    root = str(tmp_path / "backups")
    base = {"kubeconfig": cluster, "storage": {"path": root}, "cluster": "val-it", "encryption": ENC}
    tasks = [
        ("adhar.platform.backup", dict(base, name="b-int", include_namespaces=[5])),
        ("adhar.platform.backup", dict(base, name="b-res", include_resources=["configmaps", 7])),
        ("adhar.platform.backup", dict(base, name="b-sel", label_selector=["app=web"])),
        ("adhar.platform.backup", dict(base, name="b-strict-ns", include_namespaces=[NS, "val-typo"], strict=True)),
        ("adhar.platform.backup", dict(base, name="b-strict-res", include_namespaces=[NS],
                                       include_resources=["configmapz"], strict=True)),
    ]
    res = run_tasks(runner, tasks)
    messages = [failed(r)["msg"] for r in res]
    assert messages[0] == "include_namespaces[0] must be a string, got int 5"
    assert failed(res[0])["option"] == "include_namespaces" and failed(res[0])["index"] == 0
    assert messages[1] == "include_resources[1] must be a string, got int 7"
    assert messages[2] == "label_selector must be a string like 'app=web,tier!=db', got list ['app=web']"
    assert messages[3] == "strict: these include filters match nothing in the cluster: include_namespaces 'val-typo'"
    assert messages[4] == "strict: these include filters match nothing in the cluster: include_resources 'configmapz'"
    assert files_under(root) == []  # no backup directory, no lock

    # without strict: the backup is taken, with one warning per unmatched filter
    res = run_tasks(runner, [("adhar.platform.backup", dict(base, name="b-typo", include_namespaces=[NS, "val-typo"],
                                                            include_resources=["configmaps", "configmapz"]))])
    warnings = warnings_of(res[0])
    assert any("include_namespaces 'val-typo' matches nothing in the cluster" in w for w in warnings), warnings
    assert any("include_resources 'configmapz' matches nothing in the cluster" in w for w in warnings), warnings
    assert res[0]["result"]["backup"]["counts"]["configmaps"] >= 1
    assert not os.path.exists(os.path.join(root, ".locks", "val-it.lock"))


def test_restore_filters_against_the_backup_contents(runner, cluster, store):
    target = "val-restored-%s" % uuid.uuid4().hex[:6]
    base = {"kubeconfig": cluster, "storage": {"path": store}, "backup": "val-backup", "encryption": ENC,
            "namespace_mapping": {NS: target}}
    res = run_tasks(runner, [
        ("adhar.platform.restore", dict(base, include_namespaces=[NS, "val-typo"], strict=True)),
        ("adhar.platform.restore", dict(base, include_resources=["secretz"], strict=True)),
        ("adhar.platform.restore", dict(base, include_namespaces=[3])),
        ("adhar.platform.restore", dict(base, app="x", app_label_keys=[])),
    ])
    messages = [failed(r)["msg"] for r in res]
    assert messages[0] == "strict: these include filters match nothing in backup val-backup: include_namespaces 'val-typo'"
    assert messages[1] == "strict: these include filters match nothing in backup val-backup: include_resources 'secretz'"
    assert messages[2] == "include_namespaces[0] must be a string, got int 3"
    assert messages[3].startswith("app_label_keys is empty")
    # zero objects created: a check-mode restore of the same backup still has the namespace to create
    probe = run_tasks(runner, [("adhar.platform.restore", dict(base, include_resources=["namespaces"], report_items="all"))],
                      check=True)
    created = [i for i in probe[0]["result"]["items"] if i["resource"] == "namespaces" and i["name"] == target]
    assert created and created[0]["action"] == "created"
    # without strict: restored, with a warning naming the filter
    res = run_tasks(runner, [("adhar.platform.restore", dict(base, include_namespaces=[NS, "val-typo"]))])
    warnings = warnings_of(res[0])
    assert any("include_namespaces 'val-typo' matches nothing in backup val-backup" in w for w in warnings), warnings
    assert res[0]["result"]["restore"]["counts"]["created"] >= 2


def test_messages_say_what_is_wrong(runner, cluster, tmp_path):
    res = run_tasks(runner, [
        ("adhar.platform.apply", {"kubeconfig": cluster, "definitions": [5]}),
        ("adhar.platform.api_info", {"kubeconfig": str(tmp_path)}),
        ("adhar.platform.apply", {"kubeconfig": cluster, "definitions": SEED, "wait_condition": {"type": "Ready"}}),
    ])
    messages = [failed(r)["msg"] for r in res]
    assert messages[0] == "1 of 1 object failed: definitions[0]: not a mapping (int)"
    assert messages[1] == "kubeconfig %s is a directory, not a file" % tmp_path
    assert messages[2].startswith("wait_condition applies with wait: true")


# -- a storage that runs out of inodes or space (a real tmpfs) ----------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """Mount a small tmpfs (root only); ``mount(size, inodes)`` returns its path; unmounted at the end."""
    mounted = []

    def mount(size="1m", inodes=64):
        d = tmp_path / ("tmpfs-%d" % len(mounted))
        d.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,nr_inodes=%d" % (size, inodes), "tmpfs", str(d)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.skip("cannot mount a tmpfs here: %s" % proc.stderr.strip())
        mounted.append(str(d))
        return str(d)

    yield mount
    for d in mounted:
        subprocess.run(["umount", d], check=False)


def _fill_inodes(directory):
    n = 0
    while True:
        try:
            open(os.path.join(directory, "filler-%d" % n), "w").close()
        except OSError:
            return n
        n += 1


def test_out_of_inodes_before_the_lock(runner, cluster, tiny_tmpfs):
    fs = tiny_tmpfs(inodes=16)
    root = os.path.join(fs, "backups")
    os.mkdir(root)
    _fill_inodes(fs)
    res = run_tasks(runner, [("adhar.platform.backup", {"kubeconfig": cluster, "storage": {"path": root},
                                                        "cluster": "val-it", "name": "full", "encryption": ENC,
                                                        "include_namespaces": [NS]})])
    msg = failed(res[0])["msg"]
    assert msg.startswith("cannot write the lock .locks/val-it.lock in file://%s: " % root), msg
    assert msg.endswith("No space left on device"), msg
    assert failed(res[0])["lock"] == ".locks/val-it.lock"
    assert files_under(root) == []  # no lock, no partial lock file, no backup


# Out of inodes: one object per item (pack_size 0), so the backup writes far more files than the 48 inodes allow;
# a packed backup writes a few packs only. Out of space: the default packed layout.
@pytest.mark.parametrize("size, inodes, pack_size", [("4m", 48, 0), ("64k", 4096, None)],
                         ids=["out-of-inodes", "out-of-space"])
def test_full_storage_while_writing_reports_the_write_and_leaves_no_lock(runner, cluster, tiny_tmpfs, size, inodes,
                                                                         pack_size):
    fs = tiny_tmpfs(size=size, inodes=inodes)
    root = os.path.join(fs, "backups")
    args = {"kubeconfig": cluster, "storage": {"path": root}, "cluster": "val-it", "name": "full", "encryption": ENC}
    if pack_size is not None:
        args["pack_size"] = pack_size
    res = run_tasks(runner, [("adhar.platform.backup", args)])
    result = failed(res[0])
    print("%s: %s" % (size, result["msg"]))
    assert "No space left on device" in result["msg"], result["msg"]
    assert "OSError" not in result["msg"] and "the lock" not in result["msg"], result["msg"]
    assert "lock_release_error" not in result
    assert not os.path.exists(os.path.join(root, ".locks", "val-it.lock"))
    assert not [f for f in files_under(root) if ".adhar-tmp-" in f]
    assert not os.path.exists(os.path.join(root, "full", "manifest.json"))
