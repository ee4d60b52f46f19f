# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup's own CPU without the API server: one backup's answers recorded, then replayed to the module and to the
minimal backup floor, in turns.

    .venv/bin/python benchmarks/backup_replay.py [--objects 20000] [--namespaces 200] [--runs 5] [--workers 8] [--keep]

On a machine whose cores the API server shares, every CPU second the backup spends is taken from the server, and a
backup's wall time moves by 10-20 % from one run to the next with the server's.  This measures the client alone:

1. one local cluster (adhar.platform.cluster, 1 member) is seeded with the mix of benchmarks/_seed.py;
2. one backup runs against it and every GET answer it gets is recorded (the bytes ``_k8s.transport.Transport``
   returns: status, reason, headers, body); then the cluster is deleted;
3. the same backup runs --runs times on the recorded answers (a request that was not recorded fails the run), in
   turns with the minimal backup floor of backup_restore_vs_velero.py (``MinimalBackup``) on the same list pages.
   Both write to a local directory on this machine, the backup with encryption (a local key) as in the other
   benchmarks.

Reported: CPU seconds (the process's, all threads) and wall seconds of each run, and the backup's own ``timings``.
The backup runs in this process, through ``run_backup`` and ``AdharModule`` with the arguments the module would get,
not through ansible-playbook: the module process's start-up and imports are not in these figures, as they are not
in the module time the other benchmarks report.  A Markdown report on stdout, JSON in benchmarks/results/
(gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _results import save_results  # noqa: E402
from _seed import seed_objects  # noqa: E402
from backup_restore_vs_velero import MinimalBackup  # noqa: E402
from restore_vs_kubectl import Bench  # noqa: E402

KEY = "YmVuY2gtdmVsZXJvLWtleS0wMTIzNDU2Nzg5YWJjZGU="


class Recorder:
    """Wraps ``Transport.request``: records every GET answer (``record``), or answers from the record (``replay``)."""

    def __init__(self, transport_class):
        self.cls = transport_class
        self.original = transport_class.request
        self.answers = {}
        self.lock = threading.Lock()

    def record(self):
        original, answers, lock = self.original, self.answers, self.lock

        def request(transport, method, path, body=None, headers=None, timeout=None):
            answer = original(transport, method, path, body, headers, timeout)
            if method == "GET":
                with lock:
                    answers[path] = answer
            return answer
        self.cls.request = request

    def replay(self):
        answers = self.answers

        def request(transport, method, path, body=None, headers=None, timeout=None):
            if method != "GET" or path not in answers:
                raise SystemExit("replay: %s %s was not recorded" % (method, path))
            return answers[path]
        self.cls.request = request

    def restore(self):
        self.cls.request = self.original

    def pages(self):
        """The bodies of the recorded list pages (the backup's LISTs carry a ``limit``)."""
        return [answer[3] for path, answer in sorted(self.answers.items()) if "limit=" in path]


def module_backup(kubeconfig, store, name, workers):
    """``adhar.platform.backup`` in this process: ``(result, cpu seconds, wall seconds)``."""
    from ansible.module_utils import basic
    from ansible_collections.adhar.platform.plugins.modules import backup as module_file
    from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
    from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import BACKUP_BOUNDS, run_backup

    args = {"kubeconfig": kubeconfig, "name": name, "storage": {"path": store}, "encryption": {"key": KEY},
            "workers": workers, "_ansible_check_mode": False}
    # what ansible-core's module wrapper hands a module: its arguments, and the serialisation profile they are in
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()  # pylint: disable=protected-access
    basic._ANSIBLE_PROFILE = "legacy"  # pylint: disable=protected-access
    module = AdharModule(module_file.argument_spec(), k8s_auth=True, supports_check_mode=True, bounds=BACKUP_BOUNDS)
    wall, cpu = time.monotonic(), time.process_time()
    result = run_backup(module)
    return result, time.process_time() - cpu, time.monotonic() - wall


def floor_backup(pages, directory):
    """``MinimalBackup`` of the recorded pages: ``(records, commit seconds, cpu seconds, wall seconds)``."""
    shutil.rmtree(directory, ignore_errors=True)
    backup = MinimalBackup(directory, os.urandom(32))
    wall, cpu = time.monotonic(), time.process_time()
    for page in pages:
        backup.page(page)
    backup.commit()
    return len(backup.records), backup.commit_seconds, time.process_time() - cpu, time.monotonic() - wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="replayed runs of each")
    parser.add_argument("--workers", type=int, default=8, help="the backup's workers (its default: 8)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.runs < 1 or args.workers < 1:
        raise SystemExit("--runs and --workers must be 1 or more")
    bench = Bench.in_new_workdir("adhar-bench-replay-")
    work = bench.work
    sys.path.insert(0, bench.colls)
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.transport import Transport

    recorder = Recorder(Transport)
    store = os.path.join(work, "store")
    out = {"objects": args.objects, "namespaces": args.namespaces, "workers": args.workers, "runs": [],
           "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join([os.path.relpath(sys.executable, REPO)] + sys.argv),
           "host": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    try:
        kubeconfig = os.path.join(work, "admin.kubeconfig")
        shutil.copy(bench.cluster("bench-replay"), kubeconfig)
        out["seed"] = seed_objects(kubeconfig, total=args.objects, namespaces=args.namespaces, workers=16,
                                   prefix="bench", progress=False)
        recorder.record()
        try:
            result, cpu, wall = module_backup(kubeconfig, store, "recorded", args.workers)
        finally:
            recorder.restore()
        out["recorded"] = {"answers": len(recorder.answers), "items": result["backup"]["item_count"],
                           "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3), "timings": result["timings"]}
        print("%s  recorded %d answers of a backup of %d items (%.2f s)"
              % (time.strftime("%H:%M:%S"), len(recorder.answers), result["backup"]["item_count"], wall), flush=True)
        bench.cluster("bench-replay", "absent")
        pages = recorder.pages()
        recorder.replay()
        try:
            for run in range(args.runs):
                items, commit, floor_cpu, floor_wall = floor_backup(pages, os.path.join(work, "minimal"))
                result, cpu, wall = module_backup(kubeconfig, store, "replayed-%d" % run, args.workers)
                row = {"run": run + 1, "items": result["backup"]["item_count"], "cpu_seconds": round(cpu, 3),
                       "wall_seconds": round(wall, 3), "timings": result["timings"],
                       "floor": {"records": items, "cpu_seconds": round(floor_cpu, 3),
                                 "wall_seconds": round(floor_wall, 3), "commit_seconds": round(commit, 3)}}
                out["runs"].append(row)
                print("%s  run %d: backup %.3f CPU s (%.3f s wall), floor %.3f CPU s (%.3f s wall)"
                      % (time.strftime("%H:%M:%S"), run + 1, cpu, wall, floor_cpu, floor_wall), flush=True)
        finally:
            recorder.restore()
    finally:
        bench.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("\n## The backup's CPU on replayed answers (%s, %d CPUs, %d items)\n"
          % (out["measured"], os.cpu_count(), out["recorded"]["items"]))
    print("| run | backup CPU s | backup wall s | capture s | commit s | floor CPU s | floor wall s | floor / backup (CPU) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in out["runs"]:
        print("| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f %% |"
              % (row["run"], row["cpu_seconds"], row["wall_seconds"], row["timings"]["capture"],
                 row["timings"]["commit"], row["floor"]["cpu_seconds"], row["floor"]["wall_seconds"],
                 100.0 * row["floor"]["cpu_seconds"] / row["cpu_seconds"]))
    best, floor = min(r["cpu_seconds"] for r in out["runs"]), min(r["floor"]["cpu_seconds"] for r in out["runs"])
    out["best"] = {"cpu_seconds": best, "floor_cpu_seconds": floor}
    print("\nFewest CPU seconds: backup %.3f, floor %.3f (%.0f %%)." % (best, floor, 100.0 * floor / best))
    path = save_results("backup_replay", out)
    print("\nJSON: %s" % os.path.relpath(path, REPO))


if __name__ == "__main__":
    main()
