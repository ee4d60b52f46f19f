# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore speed: adhar.platform.restore against `kubectl apply --server-side` of the same objects.

    .venv/bin/python benchmarks/restore_vs_kubectl.py [--objects 20000] [--namespaces 200] [--workers 16[,32,...]] [--no-kubectl]
                                                      [--single-file]

1. A source local cluster (adhar.platform.cluster, 1 member) is seeded with --objects objects
   (benchmarks/_seed.py: ConfigMaps, Secrets, Deployments with 0 replicas, Services over --namespaces
   Namespaces), backed up with adhar.platform.backup (encrypted, into a local directory), and removed.
2. A fresh target cluster: adhar.platform.restore of the seeded namespaces, one ansible-playbook run
   (wall time of the command, and the module's own apply-phase figure).
3. The objects that restore created, sanitised exactly as it sanitises them (``_dr.restore.plan_items``
   on the same backup), written as YAML, one file per namespace plus one with the Namespaces (listed
   first), go to another fresh target cluster with `kubectl apply --server-side -f <dir>`.
   With --single-file, once more into a third fresh cluster as one big file.

Only one local cluster is alive at a time; every cluster, and the work directory (unless --keep), is removed at the end.
Results: a Markdown table on stdout, JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
import toolchain  # noqa: E402  (stdlib-only pins)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _seed import seed_objects  # noqa: E402
from apply_vs_k8s import run  # noqa: E402  (one command, timed; exits with its output when it fails)
from _results import save_results  # noqa: E402

KEY = base64.b64encode(b"bench-restore-key-0123456789abcd").decode()
PLAY_HEAD = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"


def toolchain_bin_dir():
    """The directory of the toolchain's binaries; exits naming the ones missing."""
    bin_dir, dummy, missing = toolchain.resolve_bin_dir()
    if missing:
        raise SystemExit("toolchain binaries missing in %s: %s (run `make toolchain`)" % (bin_dir, ", ".join(missing)))
    return bin_dir


class Bench:
    @classmethod
    def in_new_workdir(cls, prefix, bin_dir=None):
        """A bench in a new temporary work directory named ``prefix...``, with the toolchain's binaries; its
        collections path becomes the one the benchmarks' helpers import the collection from."""
        bench = cls(tempfile.mkdtemp(prefix=prefix), bin_dir or toolchain_bin_dir())
        Bench.collections_path = bench.colls
        return bench

    def __init__(self, work, bin_dir):
        self.work = work
        self.bin_dir = bin_dir
        self.colls = os.path.join(work, "collections")
        os.makedirs(os.path.join(self.colls, "ansible_collections", "adhar"))
        os.symlink(REPO, os.path.join(self.colls, "ansible_collections", "adhar", "platform"))
        self.state = os.path.join(work, "state")
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": self.colls,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ADHAR_STATE_DIR": self.state,
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        })
        self.n = 0
        self.alive = set()

    def task(self, name, module, args):
        """One task through ansible-playbook; returns (wall seconds, module result)."""
        self.n += 1
        pb = os.path.join(self.work, "%d-%s.yml" % (self.n, name))
        with open(pb, "w") as f:
            f.write(PLAY_HEAD + "    - name: %s\n      %s: %s\n" % (name, module, json.dumps(args)))
        tree = os.path.join(self.work, "%d-tree" % self.n)
        env = dict(self.env, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=tree)
        wall, dummy = run(["ansible-playbook", "-i", "localhost,", pb], env, name)
        with open(os.path.join(tree, "localhost")) as f:
            return wall, json.load(f)

    def cluster(self, name, state="present"):
        self.task("cluster-%s-%s" % (name, state), "adhar.platform.cluster", {"name": name, "nodes": {"count": 1}, "state": state})
        (self.alive.add if state == "present" else self.alive.discard)(name)
        return os.path.join(self.state, name, "config", "admin.kubeconfig")

    def cleanup(self):
        for name in list(self.alive):
            try:
                self.cluster(name, "absent")
            except SystemExit as exc:
                print("cleanup of %s failed: %s" % (name, exc), file=sys.stderr)


def export_sanitised(bench, store, backup, include, directory, single_file):
    """The objects restore would create, written as YAML (one file per namespace, Namespaces first)."""
    sys.path.insert(0, bench.colls)
    import yaml
    from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader
    from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import plan_items
    from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params

    reader = ArchiveReader(storage_from_params({"url": "file://" + store}), backup, KeyWrapper(KEY, "bench"))
    items, tiers, dummy, loader = plan_items(reader, {"name": "kubectl", "include_namespaces": include}, 8)
    todo = [i for i in items if i.action is None]
    loader(todo)  # the objects, read again from the backup, sanitised and labelled as the restore applies them
    rank = {k: n for n, (dummy, keys) in enumerate(tiers) for k in keys}
    todo.sort(key=lambda i: (rank[i.key], i.namespace or "", i.name))
    os.makedirs(directory)
    files = {}
    for item in todo:
        fname = "all.yaml" if single_file else ("000-namespaces.yaml" if item.key == "namespaces" else "ns-%s.yaml" % item.namespace)
        files.setdefault(fname, []).append(item.obj)
    for fname, objs in files.items():
        with open(os.path.join(directory, fname), "w") as f:
            yaml.safe_dump_all(objs, f, sort_keys=False)
    return len(todo), len(files)


def restore_once(bench, kc, store, include, workers):
    """One restore of the benchmark backup into the fresh cluster ``kc``: its figures."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    wall, res = bench.task("restore-w%d" % workers, "adhar.platform.restore", {
        "kubeconfig": kc, "backup": "bench-1", "storage": {"url": "file://" + store}, "encryption": {"key": KEY},
        "include_namespaces": include, "workers": workers, "report_items": "failed"})
    r = res["restore"]
    return {"workers": workers, "wall": round(wall, 2), "module_seconds": r["seconds"], "apply_seconds": r["timings"]["apply"],
            "verify_and_plan_seconds": r["timings"]["verify_and_plan"], "apply_cpu_seconds": r["timings"].get("apply_cpu"),
            "counts": r["counts"],
            "objects_per_second_module": r["objects_per_second"],
            "objects_per_second_wall": round(r["counts"]["created"] / wall, 1),
            "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
            "stages": [{k: s.get(k) for k in ("name", "resources", "count", "list_seconds", "seconds")} for s in r["stages"]]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[16],
                        help="restore workers; a comma-separated list restores once per count, each into a fresh cluster "
                             "(the first is compared with kubectl)")
    parser.add_argument("--no-kubectl", action="store_true", help="only the restore (e.g. to compare worker counts)")
    parser.add_argument("--single-file", action="store_true", help="also time kubectl with one big file (a third cluster)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (backup, exported YAML)")
    args = parser.parse_args()
    bench = Bench.in_new_workdir("adhar-bench-restore-")
    work, bin_dir = bench.work, bench.bin_dir
    store = os.path.join(work, "store")
    os.makedirs(store)
    include = ["bench-ns-*"]
    out = {"objects": args.objects, "namespaces": args.namespaces, "workers": args.workers,
           "host": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    try:
        kc = bench.cluster("bench-rsrc")
        out["seed"] = seed_objects(kc, total=args.objects, namespaces=args.namespaces, workers=16, prefix="bench")
        wall, res = bench.task("backup", "adhar.platform.backup", {
            "kubeconfig": kc, "cluster": "bench-rsrc", "name": "bench-1", "storage": {"url": "file://" + store},
            "encryption": {"key": KEY}, "include_namespaces": include})
        out["backup"] = {"wall": round(wall, 2), "items": res["backup"].get("item_count"),
                         "objects_per_second": res["backup"].get("objects_per_second")}
        bench.cluster("bench-rsrc", "absent")

        for n, workers in enumerate(args.workers):  # one fresh target cluster per worker count
            kc = bench.cluster("bench-rdst")
            entry = restore_once(bench, kc, store, include, workers)
            bench.cluster("bench-rdst", "absent")
            out.setdefault("restore_by_workers", {})[str(workers)] = entry
            if n == 0:
                out["restore"] = entry
                out["load_before_restore"], out["load_after_restore"] = entry["load_before"], entry["load_after"]
        created = out["restore"]["counts"]["created"]

        variants = [] if args.no_kubectl else [("kubectl_per_namespace", False)]
        variants += [("kubectl_single_file", True)] if args.single_file else []
        for label, single in variants:
            directory = os.path.join(work, label)
            count, nfiles = export_sanitised(bench, store, "bench-1", include, directory, single)
            kc = bench.cluster("bench-k")
            wall, stdout = run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", kc, "apply", "--server-side", "-f", directory],
                               bench.env, "kubectl apply")
            applied = sum(1 for line in stdout.splitlines() if line.strip().endswith("serverside-applied"))
            out[label] = {"wall": round(wall, 2), "objects": count, "files": nfiles, "applied": applied,
                          "objects_per_second": round(count / wall, 1)}
            bench.cluster("bench-k", "absent")
    finally:
        bench.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    base = out["restore"]["objects_per_second_wall"]
    rows = []
    for entry in out["restore_by_workers"].values():
        rows.append(("adhar.platform.restore, %d workers (ansible-playbook wall)" % entry["workers"], entry["wall"], created,
                     entry["objects_per_second_wall"]))
        rows.append(("adhar.platform.restore, %d workers (module apply phase)" % entry["workers"], entry["apply_seconds"], created,
                     entry["objects_per_second_module"]))
    for label, dummy in variants:
        v = out[label]
        rows.append(("kubectl apply --server-side (%s, %d files)" % (label.split("_", 1)[1].replace("_", " "), v["files"]),
                     v["wall"], v["objects"], v["objects_per_second"]))
    print("\n| tool | seconds | objects | objects/s |\n|---|---:|---:|---:|")
    for name, secs, n, rate in rows:
        print("| %s | %.2f | %d | %s |" % (name, secs, n, rate))
    if "kubectl_per_namespace" in out:
        kubectl_rate = out["kubectl_per_namespace"]["objects_per_second"]
        out["speedup_vs_kubectl_wall"] = round(base / kubectl_rate, 2) if kubectl_rate else None
        print("\nrestore (wall, %d workers) / kubectl (per namespace): %sx" % (out["restore"]["workers"], out["speedup_vs_kubectl_wall"]))
    for entry in out["restore_by_workers"].values():
        print("load average before / after the %d-worker restore: %s / %s" % (entry["workers"], entry["load_before"], entry["load_after"]))
    path = save_results("restore_vs_kubectl", out)
    print("results: %s" % path)


if __name__ == "__main__":
    main()
