# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time local cluster create / idempotent present / delete, single and HA, against kwokctl.

    .venv/bin/python benchmarks/cluster_lifecycle.py [--runs 3] [--no-kwokctl]

Each figure is the median of --runs runs of a whole `ansible-playbook` invocation
(process start, module transfer and the module's own work), plus the module's
own reported `duration`.  The comparison is `kwokctl create cluster --runtime
binary` on the same binaries (single member only: kwokctl has no HA mode),
built from the Go module proxy into ~/.cache/adhar/bench/ the first time.
Results: a Markdown table on stdout and JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
import toolchain  # noqa: E402  (stdlib-only pins)

PLAY = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: cluster
      adhar.platform.cluster: {args}
      register: r
    - name: save
      ansible.builtin.copy:
        content: "{{{{ r | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


def run_play(args, env, work):
    out = os.path.join(work, "result.json")
    pb = os.path.join(work, "play.yml")
    with open(pb, "w") as f:
        f.write(PLAY.format(args=json.dumps(args), out=out))
    t = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", pb], env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t
    if proc.returncode != 0:
        raise SystemExit("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-2000:]))
    with open(out) as f:
        res = json.load(f)
    return wall, res.get("duration"), res.get("changed"), (res.get("timings") or {}).get("control_plane_ready")


def kwokctl_binary(env):
    dest = os.path.join(toolchain.cache_root(), "bench", "kwokctl-" + toolchain.VERSIONS["kwok"])
    if os.path.exists(dest):
        return dest
    src = os.path.join(toolchain.cache_root(), "src", "kwok-" + toolchain.VERSIONS["kwok"])
    genv = dict(env, CGO_ENABLED="0", GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    print("building kwokctl %s for the comparison..." % toolchain.VERSIONS["kwok"], file=sys.stderr)
    subprocess.run(["go", "get", "sigs.k8s.io/kwok/cmd/kwokctl@" + toolchain.VERSIONS["kwok"]], cwd=src, env=genv, check=True,
                   capture_output=True)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    subprocess.run(["go", "build", "-o", dest, "sigs.k8s.io/kwok/cmd/kwokctl"], cwd=src, env=genv, check=True)
    return dest


def kwokctl_run(kwokctl, bin_dir, work):
    cfg = os.path.join(work, "kwokctl.yaml")
    with open(cfg, "w") as f:
        f.write("""apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverBinary: {b}/kube-apiserver
  kubeControllerManagerBinary: {b}/kube-controller-manager
  kubeSchedulerBinary: {b}/kube-scheduler
  etcdBinary: {b}/etcd
  etcdctlBinary: {b}/etcdctl
  etcdutlBinary: {b}/etcdutl
  kwokControllerBinary: {b}/kwok
  kubectlBinary: {b}/kubectl
  etcdVersion: "{ev}"
""".format(b=bin_dir, ev=toolchain.VERSIONS["etcd"].lstrip("v")))
    env = dict(os.environ, KWOK_WORKDIR=os.path.join(work, "kwok"), PATH=bin_dir + os.pathsep + os.environ["PATH"])
    t = time.monotonic()
    subprocess.run([kwokctl, "create", "cluster", "--name", "bench", "-c", cfg, "--kubeconfig", os.path.join(work, "kc"),
                    "--wait", "120s"], env=env, check=True, capture_output=True)
    create = time.monotonic() - t
    subprocess.run([kwokctl, "scale", "node", "--replicas", "1", "--name", "bench"], env=env, check=True, capture_output=True)
    # kwokctl --wait only waits for the API server's /healthz; wait for what our module waits for too:
    # the node Ready and the default ServiceAccount (pods are rejected until it exists)
    kubectl = [os.path.join(bin_dir, "kubectl"), "--kubeconfig", os.path.join(work, "kc")]
    subprocess.run(kubectl + ["wait", "--for=condition=Ready", "node", "--all", "--timeout=120s"], env=env, check=True,
                   capture_output=True)
    while subprocess.run(kubectl + ["get", "serviceaccount", "default"], env=env, capture_output=True, check=False).returncode != 0:
        time.sleep(0.1)
    total = time.monotonic() - t
    t = time.monotonic()
    subprocess.run([kwokctl, "delete", "cluster", "--name", "bench"], env=env, check=True, capture_output=True)
    return create, total, time.monotonic() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-kwokctl", action="store_true")
    a = ap.parse_args()
    bin_dir, dummy, missing = toolchain.resolve_bin_dir()
    if missing:
        raise SystemExit("missing binaries (%s); run make toolchain" % ", ".join(missing))
    coll = tempfile.mkdtemp(prefix="adhar-bench-coll-")
    os.makedirs(os.path.join(coll, "ansible_collections", "adhar"))
    os.symlink(REPO, os.path.join(coll, "ansible_collections", "adhar", "platform"))
    state = tempfile.mkdtemp(prefix="adhar-bench-state-")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=coll, ADHAR_STATE_DIR=state, ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    rows = {}
    try:
        for label, args in (("single", {"name": "bsingle", "nodes": {"count": 1}}),
                            ("ha", {"name": "bha", "ha": True, "nodes": {"count": 3}})):
            for i in range(a.runs):
                with tempfile.TemporaryDirectory() as work:
                    print("[%s run %d/%d] create" % (label, i + 1, a.runs), file=sys.stderr)
                    rows.setdefault(label + " create (ready)", []).append(run_play(dict(args, state="present"), env, work))
                    print("[%s run %d/%d] idempotent present" % (label, i + 1, a.runs), file=sys.stderr)
                    res = run_play(dict(args, state="present"), env, work)
                    assert res[2] is False, "present was not idempotent"
                    rows.setdefault(label + " idempotent present", []).append(res)
                    print("[%s run %d/%d] absent" % (label, i + 1, a.runs), file=sys.stderr)
                    rows.setdefault(label + " absent", []).append(run_play({"name": args["name"], "state": "absent"}, env, work))
        kw = []
        if not a.no_kwokctl:
            kwokctl = kwokctl_binary(env)
            for i in range(a.runs):
                with tempfile.TemporaryDirectory() as work:
                    print("[kwokctl run %d/%d]" % (i + 1, a.runs), file=sys.stderr)
                    kw.append(kwokctl_run(kwokctl, bin_dir, work))
    finally:
        shutil.rmtree(coll, ignore_errors=True)
    print("\nMachine: %s, %d CPUs, Python %s; median of %d runs\n" % (platform.platform(), os.cpu_count(), platform.python_version(), a.runs))
    print("| operation | ansible-playbook wall (s) | module duration (s) | runs (wall) |")
    print("|---|---|---|---|")
    out = {}
    for k, v in rows.items():
        walls = [x[0] for x in v]
        durs = [x[1] for x in v if x[1] is not None]
        out[k] = {"wall": walls, "duration": durs}
        print("| %s | %.2f | %s | %s |" % (k, statistics.median(walls), "%.2f" % statistics.median(durs) if durs else "-",
                                           ", ".join("%.2f" % w for w in walls)))
        cps = [x[3] for x in v if x[3] is not None]
        if cps:
            out[k]["control_plane_ready"] = cps
            print("| %s: of which control plane ready (etcd + every API server) | - | %.2f | %s |"
                  % (k, statistics.median(cps), ", ".join("%.2f" % c for c in cps)))
    if kw:
        out["kwokctl"] = kw
        print("| kwokctl create cluster --wait (single, no nodes) | %.2f | - | %s |"
              % (statistics.median(x[0] for x in kw), ", ".join("%.2f" % x[0] for x in kw)))
        print("| kwokctl create + scale node 1 + wait node Ready and default ServiceAccount | %.2f | - | %s |"
              % (statistics.median(x[1] for x in kw), ", ".join("%.2f" % x[1] for x in kw)))
        print("| kwokctl delete cluster | %.2f | - | %s |"
              % (statistics.median(x[2] for x in kw), ", ".join("%.2f" % x[2] for x in kw)))
    os.makedirs(os.path.join(REPO, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benchmarks", "results", "cluster_lifecycle-%d.json" % int(time.time())), "w") as f:
        json.dump(out, f, indent=2)
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
