# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time the same objects applied by adhar.platform.apply, kubernetes.core.k8s in a loop, and kubectl.

    .venv/bin/python benchmarks/apply_vs_k8s.py [--runs 3] [--objects 300] [--namespaces 5] [--k8s-runs N]

One local cluster (adhar.platform.cluster, 1 member, 2 kwok nodes) is created
for the run and removed at the end.  --objects ConfigMaps, Secrets, Services
and Deployments (a quarter each, replicas 1), spread over --namespaces
Namespaces (created by the same apply; not counted in --objects), written as
one YAML file per object.  Each tool gets fresh namespaces in every run, so
every "first apply" creates everything:

  adhar     one task:  adhar.platform.apply: {src: [dir]}
  k8s loop  one task:  kubernetes.core.k8s: {src: "{{ item }}"} with
            loop: "{{ query('ansible.builtin.fileglob', dir ~ '/*.yaml') | sort }}"
            (what users write; state present, default client-side logic)
  kubectl   kubectl apply --server-side -f dir

Each is timed as a whole command (ansible-playbook or kubectl), first apply and
then an unchanged re-run, --runs times; the table shows medians.  No waiting
for readiness in any of them.

kubernetes.core comes from the `ansible` package on PyPI (Galaxy is not
reachable here): the wheel is downloaded once into ~/.cache/adhar/bench-dl
and only its ansible_collections/kubernetes/core tree is extracted into
~/.cache/adhar/bench-collections; nothing is installed into .venv or the repo.

Results: a Markdown table on stdout, JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
import toolchain  # noqa: E402  (stdlib-only pins)

CACHE = os.path.join(toolchain.cache_root())
BENCH_COLLECTIONS = os.path.join(CACHE, "bench-collections")
ANSIBLE_SPEC = "ansible>=12,<13"  # the community package whose ansible-core is 2.19, like ours

PLAY_HEAD = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
"""


def ensure_kubernetes_core():
    """The kubernetes.core tree of the `ansible` wheel, under ~/.cache/adhar/bench-collections."""
    target = os.path.join(BENCH_COLLECTIONS, "ansible_collections", "kubernetes", "core")
    if os.path.isfile(os.path.join(target, "MANIFEST.json")):
        return target
    dl = os.path.join(CACHE, "bench-dl")
    os.makedirs(dl, exist_ok=True)
    wheels = sorted(glob.glob(os.path.join(dl, "ansible-12.*-py3-none-any.whl")))
    if not wheels:
        print("downloading the ansible package (for its kubernetes.core)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", ANSIBLE_SPEC, "-d", dl],
                       check=True, capture_output=True)
        wheels = sorted(glob.glob(os.path.join(dl, "ansible-12.*-py3-none-any.whl")))
    with zipfile.ZipFile(wheels[-1]) as z:
        members = [n for n in z.namelist() if n.startswith("ansible_collections/kubernetes/core/")]
        z.extractall(BENCH_COLLECTIONS, members=members)
    return target


def collection_version(path):
    with open(os.path.join(path, "MANIFEST.json")) as f:
        return json.load(f)["collection_info"]["version"]


def objects(prefix, count, namespaces):
    """Namespaces first, then ``count`` objects round-robin over them."""
    names = ["{0}-{1}".format(prefix, i) for i in range(namespaces)]
    out = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]
    kinds = ("ConfigMap", "Secret", "Service", "Deployment")
    for i in range(count):
        kind = kinds[i % 4]
        ns = names[i % namespaces]
        name = "{0}-{1}".format(kind.lower(), i)
        meta = {"name": name, "namespace": ns, "labels": {"app": name, "bench": "apply"}}
        if kind == "ConfigMap":
            obj = {"data": {"index": str(i), "config.yaml": "key: value-{0}\nlist: [1, 2, 3]\n".format(i)}}
        elif kind == "Secret":
            obj = {"type": "Opaque", "stringData": {"password": "pw-{0}".format(i)}}
        elif kind == "Service":
            obj = {"spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
        else:
            obj = {"spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                                  "ports": [{"containerPort": 8080}]}]}}}}
        obj.update(apiVersion="apps/v1" if kind == "Deployment" else "v1", kind=kind, metadata=meta)
        out.append(obj)
    return out


def write_files(directory, objs):
    import yaml

    os.makedirs(directory)
    for i, obj in enumerate(objs):
        with open(os.path.join(directory, "{0:04d}-{1}.yaml".format(i, obj["metadata"]["name"])), "w") as f:
            yaml.safe_dump(obj, f, sort_keys=False)


def run(cmd, env, what):
    t = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t
    if proc.returncode != 0:
        raise SystemExit("{0} failed (rc {1}):\n{2}\n{3}".format(what, proc.returncode, proc.stdout[-4000:], proc.stderr[-3000:]))
    return wall, proc.stdout


def playbook(work, name, tasks):
    path = os.path.join(work, name + ".yml")
    with open(path, "w") as f:
        f.write(PLAY_HEAD + tasks)
    return path


def recap_changed(stdout):
    m = re.search(r"changed=(\d+)", stdout.split("PLAY RECAP")[-1])
    return int(m.group(1)) if m else None


class Tools:
    def __init__(self, work, env, kubeconfig, kubectl):
        self.work = work
        self.env = env
        self.kubeconfig = kubeconfig
        self.kubectl = kubectl

    def adhar(self, directory, tag):
        tree = os.path.join(self.work, tag + "-tree")
        pb = playbook(self.work, tag, """    - name: apply
      adhar.platform.apply:
        kubeconfig: {kc}
        src: [{src}]
""".format(kc=self.kubeconfig, src=directory))
        # The tree callback saves the task result (no second task to time).
        env = dict(self.env, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=tree)
        wall, dummy = run(["ansible-playbook", "-i", "localhost,", pb], env, "adhar.platform.apply")
        with open(os.path.join(tree, "localhost")) as f:
            res = json.load(f)
        return {"wall": wall, "module_duration": res["duration"], "changed_objects": len(res["changes"])}

    def k8s(self, directory, tag):
        pb = playbook(self.work, tag, """    - name: apply one object per loop item
      kubernetes.core.k8s:
        kubeconfig: {kc}
        state: present
        src: "{{{{ item }}}}"
      loop: "{{{{ query('ansible.builtin.fileglob', '{src}/*.yaml') | sort }}}}"
""".format(kc=self.kubeconfig, src=directory))
        wall, stdout = run(["ansible-playbook", "-i", "localhost,", pb], self.env, "kubernetes.core.k8s loop")
        changed_items = stdout.count("changed: [localhost] => (item=")
        return {"wall": wall, "changed_objects": changed_items}

    def kubectl_apply(self, directory, tag):
        wall, stdout = run([self.kubectl, "--kubeconfig", self.kubeconfig, "apply", "--server-side", "-f", directory],
                           self.env, "kubectl apply")
        changed = sum(1 for line in stdout.splitlines() if line.strip().endswith("serverside-applied"))
        return {"wall": wall, "changed_objects": changed, "note": "kubectl prints 'serverside-applied' for every object"}


def median(values):
    return round(statistics.median(values), 2) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--k8s-runs", type=int, default=None, help="runs of the kubernetes.core loop (default: --runs)")
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--namespaces", type=int, default=5)
    parser.add_argument("--no-k8s", action="store_true", help="skip kubernetes.core.k8s")
    args = parser.parse_args()
    k8s_runs = args.runs if args.k8s_runs is None else args.k8s_runs

    bin_dir, dummy, missing = toolchain.resolve_bin_dir()
    if missing:
        raise SystemExit("toolchain binaries missing in {0}: {1} (run `make toolchain`)".format(bin_dir, ", ".join(missing)))
    kcore = None if args.no_k8s else ensure_kubernetes_core()
    work = tempfile.mkdtemp(prefix="adhar-bench-apply-")
    colls = os.path.join(work, "collections")
    os.makedirs(os.path.join(colls, "ansible_collections", "adhar"))
    os.symlink(REPO, os.path.join(colls, "ansible_collections", "adhar", "platform"))
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([colls, BENCH_COLLECTIONS]),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ADHAR_STATE_DIR": os.path.join(work, "state"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    })
    cluster = playbook(work, "cluster", """    - name: cluster
      adhar.platform.cluster:
        name: bench-apply
        nodes: {count: 2}
        state: "{{ cluster_state | default('present') }}"
""")
    results = {"adhar": {"first": [], "rerun": []}, "k8s_loop": {"first": [], "rerun": []}, "kubectl": {"first": [], "rerun": []}}
    try:
        run(["ansible-playbook", "-i", "localhost,", cluster], env, "cluster create")
        kubeconfig = os.path.join(work, "state", "bench-apply", "config", "admin.kubeconfig")
        tools = Tools(work, env, kubeconfig, os.path.join(bin_dir, "kubectl"))
        plan = [("adhar", tools.adhar, args.runs), ("k8s_loop", tools.k8s, 0 if args.no_k8s else k8s_runs),
                ("kubectl", tools.kubectl_apply, args.runs)]
        for r in range(max(args.runs, k8s_runs)):
            for name, fn, runs in plan:
                if r >= runs:
                    continue
                tag = "r{0}-{1}".format(r, name.replace("_", ""))
                directory = os.path.join(work, tag)
                write_files(directory, objects("b{0}{1}".format(r, name.replace("_", "")[:5]), args.objects, args.namespaces))
                for phase in ("first", "rerun"):
                    res = fn(directory, "{0}-{1}".format(tag, phase))
                    results[name][phase].append(res)
                    print("run {0} {1:8s} {2:6s} {3:8.2f} s  changed objects: {4}".format(
                        r + 1, name, phase, res["wall"], res["changed_objects"]), file=sys.stderr, flush=True)
    finally:
        subprocess.run(["ansible-playbook", "-i", "localhost,", cluster, "-e", "cluster_state=absent"], env=env,
                       capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    summary = {}
    for name, phases in results.items():
        summary[name] = {phase: {"median_wall": median([x["wall"] for x in runs]), "walls": [round(x["wall"], 2) for x in runs],
                                 "changed_objects": [x["changed_objects"] for x in runs],
                                 "module_duration": median([x["module_duration"] for x in runs if "module_duration" in x])}
                         for phase, runs in phases.items()}
    report = {
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([os.path.relpath(sys.executable, REPO)] + sys.argv),
        "objects": args.objects, "namespaces": args.namespaces, "runs": args.runs, "k8s_runs": 0 if args.no_k8s else k8s_runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "kubernetes_core": collection_version(kcore) if kcore else None,
        "results": summary,
    }
    out_dir = os.path.join(REPO, "benchmarks", "results")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "apply_vs_k8s-{0}.json".format(time.strftime("%Y%m%d-%H%M%S")))
    with open(out, "w") as f:
        json.dump(report, f, indent=2)

    base = summary["k8s_loop"]
    print("\n{0} objects + {1} namespaces, medians of {2} runs (kubernetes.core.k8s loop: {3} runs)\n".format(
        args.objects, args.namespaces, args.runs, report["k8s_runs"]))
    print("| tool | first apply (s) | unchanged re-run (s) | objects reported changed on re-run "
          "| first: x faster than k8s loop | re-run: x faster than k8s loop | runs (first / re-run) |")
    print("|---|---|---|---|---|---|---|")
    labels = {"adhar": "adhar.platform.apply (1 task)", "k8s_loop": "kubernetes.core.k8s {0} (loop)".format(report["kubernetes_core"] or ""),
              "kubectl": "kubectl apply --server-side -f"}
    for name in ("adhar", "k8s_loop", "kubectl"):
        s = summary[name]
        if s["first"]["median_wall"] is None:
            continue

        def speed(phase):
            b, v = base[phase]["median_wall"], s[phase]["median_wall"]
            return "{0:.1f}".format(b / v) if b and v else "-"

        extra = " (module {0} s / {1} s)".format(s["first"]["module_duration"], s["rerun"]["module_duration"]) if name == "adhar" else ""
        print("| {0}{1} | {2} | {3} | {4} | {5} | {6} | {7} / {8} |".format(
            labels[name], extra, s["first"]["median_wall"], s["rerun"]["median_wall"],
            ", ".join(str(c) for c in s["rerun"]["changed_objects"]), speed("first"), speed("rerun"),
            ", ".join(str(w) for w in s["first"]["walls"]), ", ".join(str(w) for w in s["rerun"]["walls"])))
    print("\nJSON: {0}".format(os.path.relpath(out, REPO)))


if __name__ == "__main__":
    main()
