# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RTO of a full recovery of a local cluster from the etcd snapshot in a backup.

    make collection
    .venv/bin/python benchmarks/recovery_rto.py [--total 10000] [--namespaces 100] [--members 1]

Steps: create a source cluster (encryption at rest on), seed --total objects
(benchmarks/_seed.py), take a backup holding its etcd snapshot (ArchiveWriter +
capture_etcd, encrypted), destroy the source, then time the recovery:
`adhar.platform.cluster` with `restore_from` in a whole `ansible-playbook` run,
until the seeded objects are all present (counted through the API).  Goal:
RTO <= 60 s for 10,000 objects.  Results: a Markdown table on stdout and JSON
in benchmarks/results/.  Everything runs under a temporary state directory and
is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _seed import _collections_path, count_objects, seed_objects  # noqa: E402
from _results import save_results  # noqa: E402
from cluster_lifecycle import run_play  # noqa: E402  (the same one-task play, result in <work>/result.json)


def cluster_task(args, env, work):
    """Run one cluster task in ansible-playbook (cluster_lifecycle's play); returns (wall seconds, result)."""
    wall = run_play(args, env, work)[0]
    with open(os.path.join(work, "result.json")) as f:
        return wall, json.load(f)


def back_up(state_dir, name, store, key):
    sys.path.insert(0, _collections_path())
    from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveWriter
    from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper
    from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import capture_etcd
    from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params

    writer = ArchiveWriter(storage_from_params({"path": store}), name + "-rto", cluster=name, key_wrapper=KeyWrapper(key))
    meta = capture_etcd(writer, {"local_cluster": name, "state_dir": state_dir})
    writer.metadata["etcd"] = meta
    writer.commit()
    return writer.name, meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total", type=int, default=10000)
    p.add_argument("--namespaces", type=int, default=100)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--members", type=int, default=1, choices=[1, 3, 5])
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="adhar-rto-")
    state_dir = os.path.join(work, "state")
    store = os.path.join(work, "backups")
    key = os.urandom(32)
    key_file = os.path.join(work, "backup.key")
    with open(key_file, "wb") as f:
        f.write(key)
    env = dict(os.environ, ADHAR_STATE_DIR=state_dir, ANSIBLE_COLLECTIONS_PATH=_collections_path(),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    src, rec = "rto-src", "rto-rec"
    made = []
    try:
        made.append(src)
        base = {"control_plane": {"count": args.members}, "encryption_at_rest": {"enabled": True}}
        cluster_task(dict(base, name=src), env, work)
        kubeconfig = os.path.join(state_dir, src, "config", "admin.kubeconfig")
        seeded = seed_objects(kubeconfig, args.total, args.namespaces, args.workers, "rto", progress=False)
        t = time.monotonic()
        backup, meta = back_up(state_dir, src, store, key)
        backup_seconds = time.monotonic() - t
        cluster_task({"name": src, "state": "absent"}, env, work)
        made.remove(src)

        made.append(rec)
        t = time.monotonic()
        restore_from = {"backup": backup, "storage": "file://" + store, "encryption": {"key_file": key_file}}
        wall, res = cluster_task({"name": rec, "restore_from": restore_from}, env, work)
        counted = count_objects(os.path.join(state_dir, rec, "config", "admin.kubeconfig"), "rto")
        rto = time.monotonic() - t
        if counted["total"] != args.total:
            raise SystemExit("recovered cluster has %d of %d seeded objects: %r" % (counted["total"], args.total, counted))
        cluster_task({"name": rec, "state": "absent"}, env, work)
        made.remove(rec)
    finally:
        for name in made:
            try:
                cluster_task({"name": name, "state": "absent"}, env, work)
            except SystemExit as e:
                print("cleanup of %s failed: %s" % (name, e), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)

    keys = (res.get("restored_from") or {}).get("total_keys")  # etcdutl's count, from the recovery (the backup streams)
    result = {
        "benchmark": "recovery_rto", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "objects": args.total, "namespaces": args.namespaces, "members": args.members, "seeded": seeded,
        "snapshot": {"total_keys": keys, "total_size": meta["total_size"], "revision": meta["revision"]},
        "backup_seconds": round(backup_seconds, 2),
        "recovery": {"playbook_seconds": round(wall, 2), "module_seconds": res.get("duration"),
                     "timings": res.get("timings"), "restored_from": res.get("restored_from"),
                     "objects_counted": counted["total"], "rto_seconds": round(rto, 2)},
        "goal_seconds": 60, "met": rto <= 60,
    }
    print("| objects | members | snapshot | backup (etcd) | recovery playbook | module | etcd restore | RTO (objects present) | goal |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("| %d | %d | %.1f MiB, %s keys | %.1f s | %.1f s | %.1f s | %s s | **%.1f s** | %s |" % (
        args.total, args.members, meta["total_size"] / 1048576.0, keys, backup_seconds, wall,
        res.get("duration") or 0, (res.get("timings") or {}).get("etcd_restored"), rto, "met" if rto <= 60 else "MISSED"))
    path = save_results("recovery_rto", result)
    print("results: %s" % os.path.relpath(path, REPO))


if __name__ == "__main__":
    main()
