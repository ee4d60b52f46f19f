# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup throughput and peak memory: adhar.platform.backup against a `kubectl get -A -o json` loop.

    .venv/bin/python benchmarks/backup_vs_kubectl.py [--total 20000] [--namespaces 200] [--runs 1] [--kubeconfig PATH]

One fresh local cluster (adhar.platform.cluster, 1 member) is created for the run and removed at the end.
benchmarks/_seed.py creates --total objects (40 % ConfigMaps, 30 % Secrets, 15 % Deployments, 15 % Services)
across --namespaces Namespaces.  Then, in the same run, --runs times each:

  adhar    one ansible-playbook task `adhar.platform.backup` (local directory storage, Secrets encrypted
           with a key, default workers / page size): wall time of the task as the module reports it
           (`backup.seconds`) and of the whole command, objects/s, and the peak RSS of the module process
           (VmHWM of the AnsiballZ process, polled every 20 ms from /proc) and of the whole process tree
           (`os.wait4` on ansible-playbook: its maxrss is the largest single process of the tree);
  kubectl  `kubectl get <type> -A -o json > file` for every resource type the backup captured objects of,
           one after the other (what a shell script does): total seconds, objects/s, and the peak RSS of the
           largest kubectl process (`os.wait4` per process).

--kubeconfig PATH uses an existing cluster instead (seeded by benchmarks/_seed.py with the same --total,
--namespaces and prefix `bench`; a re-seed only tops up) and leaves it alone at the end.

Goals (issue 4): backup >= 3,000 objects/s with a peak below 300 MB.
Results: a Markdown table on stdout, JSON in benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
import toolchain  # noqa: E402  (stdlib-only pins)

sys.path.insert(0, HERE)
from _seed import count_objects, seed_objects  # noqa: E402
import _procs as procs  # noqa: E402

CALLBACKS = os.path.join(REPO, "tests", "integration", "callback_plugins")
PLAY = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - adhar.platform.backup: {args}
"""


# Seconds between two scans of the process table while a run is measured.
SCAN = 0.25


def _module_pids(root, table=None):
    """Processes under ``root`` whose command line names an AnsiballZ module (not the shells that start them)."""
    cmdlines = {pid: procs.cmdline(pid) for pid in procs.descendants(root, table)}
    return [pid for pid, cmd in cmdlines.items() if b"AnsiballZ" in cmd and not cmd.startswith((b"/bin/sh", b"sh"))]


def run_measured(cmd, env, poll_modules=False, stdout=None):
    """Run ``cmd``; returns (wall seconds, maxrss KiB of the tree, peak VmHWM KiB of a module process with its
    children)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = {"module": 0}
    done = threading.Event()

    def poll():
        # The process table is scanned at most every SCAN seconds (a scan reads every /proc entry: at the sampling
        # rate it would take a good part of a core from what is measured); the peaks (VmHWM: they only grow) of the
        # processes found are read every 0.02 s.
        tree, scanned = {}, 0.0
        while not done.is_set():
            if time.monotonic() - scanned >= SCAN:
                scanned = time.monotonic()
                table = procs.table()
                # a module with child processes (backup's decoder processes) counts them too: the sum of each
                # process's own peak, an upper bound of the tree's peak
                tree = {pid: [pid] + procs.descendants(pid, table) for pid in _module_pids(proc.pid, table)}
            for pids in tree.values():
                peak["module"] = max(peak["module"], sum(procs.status_kib(p, "VmHWM") or 0 for p in pids))
            done.wait(0.02)

    thread = threading.Thread(target=poll, daemon=True) if poll_modules else None
    if thread:
        thread.start()
    stderr = proc.stderr.read()
    dummy, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    done.set()
    if thread:
        thread.join()
    if proc.returncode != 0:
        raise SystemExit("%s failed (rc %d): %s" % (" ".join(cmd[:3]), proc.returncode, stderr.decode()[-2000:]))
    return wall, usage.ru_maxrss, peak["module"]


def adhar_backup(work, env, kubeconfig, key, tag):
    results = os.path.join(work, "results-%s.jsonl" % tag)
    book = os.path.join(work, "backup-%s.yml" % tag)
    args = {"kubeconfig": kubeconfig, "cluster": "bench", "name": "bench-%s" % tag,
            "storage": {"path": os.path.join(work, "store")}, "encryption": {"key": key}}
    with open(book, "w") as f:
        f.write(PLAY.format(args=json.dumps(args)))
    run_env = dict(env, ADHAR_RESULTS_FILE=results)
    wall, tree_kib, module_kib = run_measured(["ansible-playbook", "-i", "localhost,", book], run_env, poll_modules=True)
    with open(results) as f:
        result = [json.loads(line) for line in f if line.strip()][-1]["result"]
    b = result["backup"]
    objects = sum(b["counts"].values())
    return {"wall": round(wall, 2), "module_seconds": b["seconds"], "objects": objects,
            "objects_per_second": b["objects_per_second"], "objects_per_second_wall": round(objects / wall, 1),
            "peak_rss_mb_module": round(module_kib / 1024.0, 1), "peak_rss_mb_tree": round(tree_kib / 1024.0, 1),
            "counts": b["counts"], "size": b["size"], "timings": result.get("timings")}


def kubectl_loop(work, env, kubectl, kubeconfig, types, tag):
    out_dir = os.path.join(work, "kubectl-%s" % tag)
    os.makedirs(out_dir)
    started = time.monotonic()
    peak = 0
    objects = 0
    for resource in types:
        path = os.path.join(out_dir, resource + ".json")
        with open(path, "wb") as out:
            dummy, rss, dummy2 = run_measured([kubectl, "--kubeconfig", kubeconfig, "get", resource, "-A", "-o", "json"],
                                              env, stdout=out)
        peak = max(peak, rss)
        with open(path) as f:
            objects += len(json.load(f).get("items") or [])
    wall = time.monotonic() - started
    return {"wall": round(wall, 2), "objects": objects, "objects_per_second": round(objects / wall, 1),
            "peak_rss_mb": round(peak / 1024.0, 1), "types": len(types)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory and the cluster")
    parser.add_argument("--kubeconfig", help="an existing cluster to seed (top up) and measure; not created nor removed")
    args = parser.parse_args()

    bin_dir, dummy, missing = toolchain.resolve_bin_dir()
    if missing:
        raise SystemExit("toolchain binaries missing in %s: %s (run `make toolchain`)" % (bin_dir, ", ".join(missing)))
    work = tempfile.mkdtemp(prefix="adhar-bench-backup-")
    colls = os.path.join(work, "collections")
    os.makedirs(os.path.join(colls, "ansible_collections", "adhar"))
    os.symlink(REPO, os.path.join(colls, "ansible_collections", "adhar", "platform"))
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": colls,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
        "ANSIBLE_CALLBACKS_ENABLED": "adhar_results",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ADHAR_STATE_DIR": os.path.join(work, "state"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    })
    os.environ["ADHAR_WORK"] = os.environ.get("ADHAR_WORK") or os.path.join(os.path.expanduser("~"), ".cache", "adhar", "work")
    cluster_book = os.path.join(work, "cluster.yml")
    with open(cluster_book, "w") as f:
        f.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
                "    - adhar.platform.cluster: {name: bench-backup, state: \"{{ cluster_state | default('present') }}\"}\n")
    key = base64.b64encode(os.urandom(32)).decode()
    runs = {"adhar": [], "kubectl": []}
    try:
        if args.kubeconfig:
            kubeconfig = os.path.abspath(args.kubeconfig)
        else:
            subprocess.run(["ansible-playbook", "-i", "localhost,", cluster_book], env=env, check=True, capture_output=True)
            kubeconfig = os.path.join(work, "state", "bench-backup", "config", "admin.kubeconfig")
        seeded = count_objects(kubeconfig, prefix="bench") if args.kubeconfig else {}
        if seeded.get("total") != args.total:
            seeded = seed_objects(kubeconfig, total=args.total, namespaces=args.namespaces, workers=16, prefix="bench")
        print("seeded %s" % json.dumps(seeded, sort_keys=True), file=sys.stderr, flush=True)
        for r in range(args.runs):
            a = adhar_backup(work, env, kubeconfig, key, "r%d" % r)
            runs["adhar"].append(a)
            print("run %d adhar   %6.2f s (module %.2f s) %6d objects %8.1f obj/s  peak %.1f MB (module)"
                  % (r + 1, a["wall"], a["module_seconds"], a["objects"], a["objects_per_second"], a["peak_rss_mb_module"]),
                  file=sys.stderr, flush=True)
            types = sorted(a["counts"])
            k = kubectl_loop(work, env, os.path.join(bin_dir, "kubectl"), kubeconfig, types, "r%d" % r)
            runs["kubectl"].append(k)
            print("run %d kubectl %6.2f s %6d objects %8.1f obj/s  peak %.1f MB (%d types)"
                  % (r + 1, k["wall"], k["objects"], k["objects_per_second"], k["peak_rss_mb"], k["types"]),
                  file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            if not args.kubeconfig:
                subprocess.run(["ansible-playbook", "-i", "localhost,", cluster_book, "-e", "cluster_state=absent"], env=env,
                               capture_output=True, check=False)
            shutil.rmtree(work, ignore_errors=True)

    def med(name, field):
        return statistics.median([x[field] for x in runs[name]])

    report = {
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([os.path.relpath(sys.executable, REPO)] + sys.argv),
        "total": args.total, "namespaces": args.namespaces, "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "goals": {"objects_per_second": 3000, "peak_rss_mb": 300},
        "adhar": runs["adhar"], "kubectl": runs["kubectl"],
    }
    report["load_average"] = os.getloadavg()
    out_dir = os.path.join(REPO, "benchmarks", "results")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "backup_vs_kubectl-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    print("\n%d seeded objects in %d namespaces; medians of %d run(s)\n" % (args.total, args.namespaces, args.runs))
    print("| tool | objects | seconds | objects/s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    row = (med("adhar", "objects"), med("adhar", "module_seconds"), med("adhar", "objects_per_second"),
           med("adhar", "peak_rss_mb_module"), med("adhar", "peak_rss_mb_tree"))
    print("| adhar.platform.backup (module time; Secrets encrypted) | %d | %.2f | %.1f | %.1f (module), %.1f (largest "
          "process of the ansible-playbook tree) |" % row)
    print("| adhar.platform.backup (whole ansible-playbook command) | %d | %.2f | %.1f | |"
          % (med("adhar", "objects"), med("adhar", "wall"), med("adhar", "objects_per_second_wall")))
    print("| kubectl get <type> -A -o json loop (%d types) | %d | %.2f | %.1f | %.1f (largest kubectl) |"
          % (runs["kubectl"][0]["types"], med("kubectl", "objects"), med("kubectl", "wall"),
             med("kubectl", "objects_per_second"), med("kubectl", "peak_rss_mb")))
    print("\nload average at the end (1, 5, 15 min): %.2f %.2f %.2f on %d CPUs" % (report["load_average"] + (os.cpu_count(),)))
    print("\nJSON: %s" % os.path.relpath(out, REPO))


if __name__ == "__main__":
    main()
