# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh enable time for 2 and 3 local clusters, and GLB switch convergence with the local provider.

    make collection toolchain
    .venv/bin/python benchmarks/mesh_glb.py [--runs 3] [--ttl 5] [--no-drain]

Mesh: three local clusters (one kwok node each, cluster ids 1-3, pod networks 10.244/10.245/10.246.0.0/16) are
created with `adhar.platform.cluster` (ansible-playbook, untimed).  Each run times `adhar.platform.mesh` (members a,b,
then a,b,c) from the call until `adhar.platform.mesh_info` over the same members is healthy, polled every 0.5 s; the
members are disconnected (`state: absent`, untimed) before the next run.

GLB: `adhar.platform.glb` with provider local (the toolchain's CoreDNS), two clusters prod-blue (127.0.0.2) and
prod-green (127.0.0.3), algorithm weighted 1:1, --ttl seconds, health checks off.  Each run calls it with
`switch_to: prod-green` while a thread queries the name with dnspython every 50 ms; convergence is the time from the
call to the first answer after which every answer names only 127.0.0.3 (queried for 2 s more after the call returns).
The call itself returns after the drain (one TTL) unless --no-drain.  The name is switched back (untimed) between runs.

The modules' code runs in this process (their argument specs fill the defaults, as AnsibleModule does), so the times
are the modules' own, without ansible-playbook's start-up.  Results: a Markdown table on stdout and JSON in
benchmarks/results/.  Everything runs under a temporary state directory and is removed at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _seed import _collections_path  # noqa: E402
from cluster_lifecycle import run_play  # noqa: E402  (a one-task cluster play, result in <work>/result.json)

CLUSTERS = (("bm-a", "a", 1, "10.244.0.0/16"), ("bm-b", "b", 2, "10.245.0.0/16"), ("bm-c", "c", 3, "10.246.0.0/16"))
BLUE, GREEN = "127.0.0.2", "127.0.0.3"
ZONE, FQDN = "bench.test", "global-app.bench.test."


class Module:
    """What the modules' code needs of an AnsibleModule: validated params (defaults filled), check/diff mode, warn."""

    def __init__(self, spec, params):
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
        result = ArgumentSpecValidator(spec).validate(params)
        if result.error_messages:
            raise SystemExit("bad arguments: %s" % result.error_messages)
        self.params = result.validated_parameters
        self.check_mode = False
        self.diff_mode = False

    @staticmethod
    def warn(msg):
        print("warning: %s" % msg, file=sys.stderr)


def call(name, params):
    """Run the code of module ``name`` (mesh, mesh_info, glb) in this process; returns its result."""
    from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
    if name == "glb":
        from ansible_collections.adhar.platform.plugins.module_utils._aws.args import AWS_ARG_SPEC
        from ansible_collections.adhar.platform.plugins.module_utils._gcp.args import GCP_ARG_SPEC
        from ansible_collections.adhar.platform.plugins.module_utils._net.glb.runner import run
        from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import GLB_ARG_SPEC
        spec = dict(copy.deepcopy(GLB_ARG_SPEC), state_dir={"type": "path"}, **copy.deepcopy(AWS_ARG_SPEC),
                    **copy.deepcopy(GCP_ARG_SPEC))
    else:
        from ansible_collections.adhar.platform.plugins.modules import mesh, mesh_info
        from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.info import run_info
        from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.task import run_mesh
        mod, run = (mesh, run_mesh) if name == "mesh" else (mesh_info, run_info)
        spec = dict(mod.argument_spec(), **copy.deepcopy(K8S_AUTH_ARG_SPEC))
    return run(Module(spec, params))


def members(n):
    return [{"name": short, "local_cluster": name} for name, short, dummy, dummy2 in CLUSTERS[:n]]


def mesh_enable(n, timeout=300.0):
    """Seconds from the mesh call until mesh_info is healthy, and the mesh call's own seconds."""
    start = time.monotonic()
    result = call("mesh", {"members": members(n)})
    called = time.monotonic() - start
    assert result["changed"], result
    while True:
        info = call("mesh_info", {"members": members(n), "timeout": 2})
        if info["healthy"]:
            return time.monotonic() - start, called
        if time.monotonic() - start > timeout:
            raise SystemExit("mesh of %d not healthy after %.0f s: %s" % (n, timeout, info["reasons"]))
        time.sleep(0.5)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def glb_args(state_dir, port, ttl, drain, **extra):
    args = {"name": "global-app", "zone": ZONE, "algorithm": "weighted", "state_dir": state_dir, "dns_port": port,
            "ttl": ttl, "drain": drain, "health_check": {"enabled": False},
            "clusters": [{"name": "prod-blue", "endpoint": BLUE, "weight": 1},
                         {"name": "prod-green", "endpoint": GREEN, "weight": 1}]}
    args.update(extra)
    return args


def switch_convergence(state_dir, port, ttl, drain):
    """(seconds until every answer names only GREEN, seconds the switch call took, queries made)."""
    import dns.exception
    import dns.resolver
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 1.0
    samples, stop = [], threading.Event()

    def query():
        while not stop.is_set():
            t = time.monotonic()
            try:
                addrs = frozenset(rr.address for rr in resolver.resolve(FQDN, "A"))
            except dns.exception.DNSException as exc:
                addrs = frozenset(["error: %s" % type(exc).__name__])
            samples.append((t, addrs))
            stop.wait(max(0.0, 0.05 - (time.monotonic() - t)))

    thread = threading.Thread(target=query, daemon=True)
    start = time.monotonic()
    thread.start()
    result = call("glb", glb_args(state_dir, port, ttl, drain, switch_to="prod-green"))
    called = time.monotonic() - start
    assert result["changed"] and result["switched_to"] == "prod-green", result
    time.sleep(2.0)
    stop.set()
    thread.join()
    converged = None
    for t, addrs in reversed(samples):
        if addrs != frozenset([GREEN]):
            break
        converged = t
    if converged is None:
        raise SystemExit("the answers never named only %s" % GREEN)
    return converged - start, called, len(samples)


def summary(values):
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2),
            "runs": [round(v, 2) for v in values]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--ttl", type=int, default=5)
    p.add_argument("--no-drain", action="store_true")
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="adhar-mesh-glb-")
    state_dir = os.path.join(work, "state")
    os.environ["ADHAR_STATE_DIR"] = state_dir
    sys.path.insert(0, _collections_path())
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_collections_path(), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    made, out = [], {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "runs": args.runs}
    port = free_port()
    try:
        for name, dummy, cid, pods in CLUSTERS:
            made.append(name)
            run_play({"name": name, "cluster_id": cid, "pod_cidr": pods, "nodes": {"count": 1}}, env, work)
        for n in (2, 3):
            total, calls = [], []
            for dummy in range(args.runs):
                t, c = mesh_enable(n)
                total.append(t)
                calls.append(c)
                call("mesh", {"members": members(n), "state": "absent"})
            out["mesh_%d" % n] = {"until_healthy": summary(total), "mesh_call": summary(calls)}
        call("glb", glb_args(state_dir, port, args.ttl, False))
        conv, calls, queries = [], [], []
        for dummy in range(args.runs):
            c, d, q = switch_convergence(state_dir, port, args.ttl, not args.no_drain)
            conv.append(c)
            calls.append(d)
            queries.append(q)
            call("glb", glb_args(state_dir, port, args.ttl, False))  # back to the 1:1 spread
        out["glb_switch"] = {"ttl": args.ttl, "drain": not args.no_drain, "health_checks": False,
                             "converged": summary(conv), "switch_call": summary(calls), "queries": queries}
    finally:
        try:
            call("glb", glb_args(state_dir, port, args.ttl, False, state="absent", clusters=None))
        except BaseException as exc:  # pylint: disable=broad-except
            print("removing the GLB zone failed: %s" % exc, file=sys.stderr)
        for name in made:
            run_play({"name": name, "state": "absent"}, env, work)
        shutil.rmtree(work, ignore_errors=True)
    print("| measure | median s | min s | max s |")
    print("|---|---|---|---|")
    for n in (2, 3):
        for key, label in (("until_healthy", "mesh enable, %d clusters: call until mesh_info healthy" % n),
                           ("mesh_call", "mesh enable, %d clusters: the mesh call alone" % n)):
            s = out["mesh_%d" % n][key]
            print("| %s | %.2f | %.2f | %.2f |" % (label, s["median"], s["min"], s["max"]))
    g = out["glb_switch"]
    for key, label in (("converged", "GLB switch (local, TTL %d s): call until every answer is the new cluster" % g["ttl"]),
                       ("switch_call", "GLB switch: the call alone (drain %s)" % ("on" if g["drain"] else "off"))):
        s = g[key]
        print("| %s | %.2f | %.2f | %.2f |" % (label, s["median"], s["min"], s["max"]))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "mesh_glb-%d.json" % int(time.time()))
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print("\n%s" % path)


if __name__ == "__main__":
    main()
