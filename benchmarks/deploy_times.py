# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time playbooks/deploy.yml on inventories/local/adhar.yml: one cluster vs both in parallel, first run and re-run.

    ADHAR_STATE_DIR=/tmp/bench-state .venv/bin/python benchmarks/deploy_times.py [--runs 3] [--cases prod,staging,both]

Core services: Cilium, ingress-nginx, PostgreSQL, Redis and MinIO from the real upstream charts of the toolchain cache
(`make toolchain`), Argo CD and Gitea from tests/fixtures/charts (the test-fixture charts). Each case starts from no
cluster and is destroyed afterwards. Prints a Markdown table of medians (whole ansible-playbook wall time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def play(env, playbook, *extra):
    t = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           os.path.join(REPO, "inventories", "local", "adhar.yml"),
                           os.path.join(REPO, "playbooks", playbook)] + list(extra),
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (playbook, proc.stdout[-3000:]))
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cases", default="prod,staging,both", help="comma-separated: prod, staging, both")
    a = ap.parse_args()
    cases = set(a.cases.split(","))
    coll = tempfile.mkdtemp(prefix="adhar-bench-coll-")
    os.makedirs(os.path.join(coll, "ansible_collections", "adhar"))
    os.symlink(REPO, os.path.join(coll, "ansible_collections", "adhar", "platform"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=coll, ANSIBLE_NOCOLOR="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.setdefault("ADHAR_STATE_DIR", tempfile.mkdtemp(prefix="adhar-bench-state-"))
    charts = "adhar_chart_dir=" + os.path.join(REPO, "tests", "fixtures", "charts")
    rows = []
    for case, label, limit in (("prod", "prod only (HA, 3 members, 7 releases)", ["-l", "prod"]),
                               ("staging", "staging only (1 member, 7 releases)", ["-l", "staging"]),
                               ("both", "both in parallel", [])):
        if case not in cases:
            continue
        first, again = [], []
        for i in range(a.runs):
            print("[%s run %d/%d]" % (label, i + 1, a.runs), file=sys.stderr)
            first.append(play(env, "deploy.yml", "-e", charts, *limit))
            again.append(play(env, "deploy.yml", "-e", charts, *limit))
            play(env, "destroy.yml", *limit)
        rows.append((label, first, again))
    print("| deploy | first run (s) | unchanged re-run (s) | runs (first / re-run) |")
    print("|---|---|---|---|")
    for label, first, again in rows:
        runs = "%s / %s" % (", ".join("%.1f" % x for x in first), ", ".join("%.1f" % x for x in again))
        print("| %s | %.1f | %.1f | %s |" % (label, statistics.median(first), statistics.median(again), runs))


if __name__ == "__main__":
    main()
