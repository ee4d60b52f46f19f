# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How fast one API server creates Services, by concurrency, and whether sending them apart from the other types helps.

    .venv/bin/python benchmarks/service_creates.py [--objects 20000] [--namespaces 200] [--concurrency 1,2,4,16]
                                                   [--workers 16] [--lane 3] [--runs 2] [--keep]

A restore spends most of its time on the tier holding Secrets, ConfigMaps and Services, and there on the Services:
each one needs a ClusterIP, which kube-apiserver allocates by creating an IPAddress object while holding one lock
for the whole API server (``MetaAllocator.AllocateNextService``), and its EndpointSlice and Endpoints are created
by the controllers after it.  This measures what that means, with the minimal client of
``backup_restore_vs_velero.py`` (raw JSON bodies encoded before the clock starts, one keep-alive HTTPS connection per
thread), each measurement in a fresh local cluster (adhar.platform.cluster, 1 member) after the mix's Namespaces:

1. the mix's Services alone (benchmarks/_seed.py: --objects objects over --namespaces Namespaces), sent by each
   number of threads in --concurrency;
2. the restore's data tier (Secrets, ConfigMaps and Services) as the restore sends it: --workers threads, the types
   taken in turn;
3. the same tier with the Services on --lane threads of their own beside the other types on --workers minus --lane
   threads (the total in flight is the same), timed to its end and to the end of the other types.

2 and 3 alternate, --runs times each (the machine's speed drifts between runs).  Only one cluster is alive at a
time.  A Markdown report on stdout, JSON in benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from backup_restore_vs_velero import RawApi, encode_mix, mix_tiers, post_tiers, poster  # noqa: E402
from _results import save_results  # noqa: E402
from restore_vs_kubectl import Bench  # noqa: E402


def services_alone(api, by_type, threads):
    """The Namespaces (16 threads), then the Services alone on ``threads`` threads: seconds of the Services."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        post_tiers(api, [("namespaces", [by_type["namespaces"]])], pool)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return post_tiers(api, [("services", [by_type["services"]])], pool)[0][2]


def data_tier(api, by_type, workers, lane):
    """The Namespaces, then the data tier: the types in turn on ``workers`` threads (``lane`` 0), or the Services on
    ``lane`` threads beside the other types on ``workers - lane``.  ``(seconds, seconds of the other types)``."""
    tiers = mix_tiers(by_type)
    cluster, data = tiers[0], next(t for t in tiers if any("/services" in q[0][0] for q in t[1]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        post_tiers(api, [cluster], pool)
    if not lane:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return post_tiers(api, [data], pool)[0][2], None
    one = poster(api)
    services = [q for q in data[1] if "/services" in q[0][0]]
    others = [q for q in data[1] if "/services" not in q[0][0]]
    turns = [q[n] for n in range(max(len(q) for q in others)) for q in others if n < len(q)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=lane) as slow, \
            concurrent.futures.ThreadPoolExecutor(max_workers=workers - lane) as fast:
        start = time.monotonic()
        pending = [slow.submit(one, req) for q in services for req in q]
        list(fast.map(one, turns))
        others_done = time.monotonic() - start
        for future in pending:
            future.result()
        return time.monotonic() - start, others_done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--concurrency", default="1,2,4,16", help="threads sending the Services alone, comma separated")
    parser.add_argument("--workers", type=int, default=16, help="threads sending the data tier")
    parser.add_argument("--lane", type=int, default=3, help="of --workers, the threads sending only Services")
    parser.add_argument("--runs", type=int, default=2, help="runs of each way of sending the data tier")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not 0 < args.lane < args.workers or not concurrency or min(concurrency) < 1:
        raise SystemExit("--lane must be between 1 and --workers - 1, and --concurrency a list of numbers >= 1")
    bench = Bench.in_new_workdir("adhar-bench-services-")
    work = bench.work
    out = {"objects": args.objects, "namespaces": args.namespaces, "workers": args.workers, "lane": args.lane,
           "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join([os.path.relpath(sys.executable, REPO)] + sys.argv),
           "host": {"cpus": os.cpu_count(), "python": platform.python_version()}, "alone": [], "tier": []}
    by_type = encode_mix(args.objects, args.namespaces, "bench")
    n = [0]

    def fresh(measure):
        n[0] += 1
        name = "bench-svc%d" % n[0]
        kc = bench.cluster(name)
        try:
            return measure(RawApi(kc, work))
        finally:
            bench.cluster(name, "absent")

    try:
        for threads in concurrency:
            seconds = fresh(lambda api, t=threads: services_alone(api, by_type, t))
            out["alone"].append({"threads": threads, "services": len(by_type["services"]), "seconds": round(seconds, 2)})
            print("%s  %d Services alone, %d threads: %.2f s"
                  % (time.strftime("%H:%M:%S"), len(by_type["services"]), threads, seconds), flush=True)
        for run in range(args.runs):
            for lane in (0, args.lane):
                seconds, others = fresh(lambda api, l=lane: data_tier(api, by_type, args.workers, l))
                out["tier"].append({"run": run + 1, "lane": lane, "seconds": round(seconds, 2),
                                    "others_seconds": None if others is None else round(others, 2)})
                way = "Services on %d of %d threads" % (lane, args.workers) if lane else \
                    "types in turn on %d threads" % args.workers
                done = "" if others is None else " (the other types done at %.2f s)" % others
                print("%s  data tier, %s: %.2f s%s" % (time.strftime("%H:%M:%S"), way, seconds, done), flush=True)
    finally:
        bench.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    services = len(by_type["services"])
    tier_objects = sum(len(by_type[r]) for r in ("configmaps", "secrets", "services"))
    print("\n## Services created by one API server (%s, %d CPUs)\n" % (out["measured"], os.cpu_count()))
    print("| Threads | %d Services alone | Services/s |" % services)
    print("|---:|---:|---:|")
    for row in out["alone"]:
        print("| %d | %.2f s | %.0f |" % (row["threads"], row["seconds"], services / row["seconds"]))
    print("\n| Data tier (%d objects, %d threads) | Run | Seconds | Other types done at |" % (tier_objects, args.workers))
    print("|---|---:|---:|---:|")
    for row in out["tier"]:
        way = "Services on %d threads of their own" % row["lane"] if row["lane"] else "types in turn (the restore's order)"
        others = "n/a" if row["others_seconds"] is None else "%.2f s" % row["others_seconds"]
        print("| %s | %d | %.2f | %s |" % (way, row["run"], row["seconds"], others))
    path = save_results("service_creates", out)
    print("\nJSON: %s" % os.path.relpath(path, REPO))


if __name__ == "__main__":
    main()
