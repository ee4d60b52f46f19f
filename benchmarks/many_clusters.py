# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy the platform to 1, 2, 4 and 8 local single-member clusters at once (forks = clusters).

    .venv/bin/python benchmarks/many_clusters.py [--counts 1,2,4,8] [--keep]

For each count N: an adhar config with N staging-like clusters (one control-plane member, one kwok node, the
catalog's core services; inventories/local/adhar.yml with its `clusters:` replaced) is written to a scratch
directory, then `ansible-playbook -f N playbooks/deploy.yml` runs on it (the real upstream charts of the toolchain
cache; Argo CD and Gitea from the test-fixture charts), then playbooks/destroy.yml. Measured per count:

* wall time of the deploy;
* controller CPU: user + sys of the ansible-playbook process and every process it waited for (its forks and the
  module processes; the clusters' own processes start in sessions of their own and are not counted);
* controller peak memory: the largest sum of PSS (proportional set size) over ansible-playbook, its forks and the module processes they run
  (each fork leads a session of its own), sampled every 0.25 s;
* memory of the local clusters after the deploy: the RSS of every process whose command line names a cluster's state
  directory (etcd, kube-apiserver, controller-manager, scheduler, kwok, Prometheus, Alertmanager, ...), per cluster.

Prints a Markdown table; writes JSON to benchmarks/results/many_clusters.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import _procs as procs  # noqa: E402


class ControllerSampler(threading.Thread):
    """Peak of the summed PSS of the controller: the ansible-playbook process ``root`` (a session leader), its forks
    (each a session leader of its own) and everything in those sessions (the module processes and what they run);
    the clusters' processes, started in sessions of their own by the modules, are not counted. Sampled every
    ``interval`` seconds."""

    def __init__(self, root, interval=0.25):
        super().__init__(daemon=True)
        self.root, self.interval, self.peak = root, interval, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            stats = procs.table()
            sessions = {self.root} | {pid for pid, st in stats.items() if st[0] == self.root and st[1] == pid}
            self.peak = max(self.peak, sum(procs.pss(pid) for pid, st in stats.items() if st[1] in sessions))
            self.done.wait(self.interval)


def cluster_memory(state_dir, names):
    """``{name: RSS bytes}`` of the processes whose command line names ``state_dir/<name>/``."""
    found = {n: 0 for n in names}
    for pid, st in procs.table().items():
        cmd = procs.cmdline(pid).replace(b"\0", b" ").decode("utf-8", "replace")
        for n in names:
            if os.path.join(state_dir, n) + "/" in cmd:
                found[n] += st[2]
                break
    return found


def config_for(count, work):
    """An adhar config (and inventory) with ``count`` single-member local clusters."""
    with open(os.path.join(REPO, "inventories", "local", "adhar.yml")) as f:
        cfg = yaml.safe_load(f)
    cfg["clusters"] = [{"name": "c%d" % i, "provider": "kind", "region": "local", "role": "primary" if i == 1 else "replica",
                        "environment": "staging", "clusterId": 100 + i, "podCidr": "10.%d.0.0/16" % (150 + i),
                        "serviceCidr": "10.%d.0.0/16" % (200 + i), "mesh": False}
                       for i in range(1, count + 1)]
    cfg["backup"]["storage"]["path"] = os.path.join(work, "backups")
    path = os.path.join(work, "adhar.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path, [c["name"] for c in cfg["clusters"]]


def playbook(env, inventory, name, forks, *extra):
    """Run one playbook in a session of its own: ``(wall s, cpu s, peak controller RSS bytes)``."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, "-f", str(forks),
           os.path.join(REPO, "playbooks", name)] + list(extra)
    log = tempfile.NamedTemporaryFile(prefix="many-clusters-", suffix=".log", delete=False)
    t = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    sampler = ControllerSampler(proc.pid)
    sampler.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t
    sampler.done.set()
    sampler.join()
    log.close()
    if os.waitstatus_to_exitcode(status) != 0:
        with open(log.name) as f:
            raise SystemExit("%s failed (log %s):\n%s" % (name, log.name, f.read()[-4000:]))
    os.unlink(log.name)
    return wall, usage.ru_utime + usage.ru_stime, sampler.peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--counts", default="1,2,4,8", help="comma-separated cluster counts (default 1,2,4,8)")
    ap.add_argument("--keep", action="store_true", help="keep the clusters of the last count (no destroy.yml)")
    a = ap.parse_args()
    counts = [int(x) for x in a.counts.split(",")]
    coll = tempfile.mkdtemp(prefix="adhar-bench-coll-")
    os.makedirs(os.path.join(coll, "ansible_collections", "adhar"))
    os.symlink(REPO, os.path.join(coll, "ansible_collections", "adhar", "platform"))
    state = os.environ.get("ADHAR_STATE_DIR") or tempfile.mkdtemp(prefix="adhar-bench-state-")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=coll, ANSIBLE_NOCOLOR="1", ADHAR_STATE_DIR=state,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    charts = "adhar_chart_dir=" + os.path.join(REPO, "tests", "fixtures", "charts")
    rows = []
    try:
        for n in counts:
            work = tempfile.mkdtemp(prefix="adhar-bench-many-%d-" % n)
            inventory, names = config_for(n, work)
            print("[%d cluster(s)] deploy.yml -f %d (load average %.1f)" % (n, n, os.getloadavg()[0]), file=sys.stderr,
                  flush=True)
            load0 = os.getloadavg()[0]
            wall, cpu, peak = playbook(env, inventory, "deploy.yml", n, "-e", charts)
            mem = cluster_memory(state, names)
            load1 = os.getloadavg()[0]
            print("[%d cluster(s)] deployed in %.1f s, controller CPU %.1f s, peak PSS %.0f MB; clusters %s MB"
                  % (n, wall, cpu, peak / 1e6, ", ".join("%.0f" % (v / 1e6) for v in mem.values())),
                  file=sys.stderr, flush=True)
            per_cluster = {k: round(v / 1e6) for k, v in mem.items()}
            rows.append({"clusters": n, "wall_s": round(wall, 1), "controller_cpu_s": round(cpu, 1),
                         "controller_peak_pss_mb": round(peak / 1e6), "cluster_rss_mb": per_cluster,
                         "load_average": [round(load0, 1), round(load1, 1)]})
            if not (a.keep and n == counts[-1]):
                print("[%d cluster(s)] destroy.yml" % n, file=sys.stderr, flush=True)
                playbook(env, inventory, "destroy.yml", n)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(coll, ignore_errors=True)
    print("| clusters (forks) | deploy wall (s) | per cluster (s) | controller CPU (s) | CPU per cluster (s) "
          "| controller peak PSS (MB) | one local cluster, RSS (MB, median) | load average (start, end) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = sorted(r["cluster_rss_mb"].values())
        print("| %d | %.1f | %.1f | %.1f | %.1f | %d | %d | %.1f, %.1f |" % (
            r["clusters"], r["wall_s"], r["wall_s"] / r["clusters"], r["controller_cpu_s"],
            r["controller_cpu_s"] / r["clusters"], r["controller_peak_pss_mb"], per[len(per) // 2],
            r["load_average"][0], r["load_average"][1]))
    out = os.path.join(REPO, "benchmarks", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "many_clusters.json"), "w") as f:
        json.dump({"rows": rows, "cpus": os.cpu_count(),
                   "max_rss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, f, indent=2)


if __name__ == "__main__":
    main()
