# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/deploy.yml on inventories/local/adhar.yml (what `make demo` runs): both clusters in parallel, then on
the same clusters what `make demo` runs next (playbooks/network.yml: mesh them, a global DNS name for the demo
application on the local CoreDNS, the mesh test), an unchanged re-run of deploy.yml, a --check run that changes
nothing, and destroy."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

from ports import free_dns_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
INVENTORY = os.path.join(REPO, "inventories", "local", "adhar.yml")


def run(runner, playbook, *extra):
    env = runner.env()
    results = os.path.join(runner.workdir, "deploy-%d.jsonl" % len(os.listdir(runner.workdir)))
    env["ADHAR_RESULTS_FILE"] = results
    cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", INVENTORY, os.path.join(REPO, "playbooks", playbook)]
    proc = subprocess.run(cmd + list(extra), env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    recap = dict(re.findall(r"^(\w+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M))
    with open(results) as f:
        return [json.loads(line) for line in f if line.strip()], {k: int(v) for k, v in recap.items()}, proc.stdout


CHARTS = ["-e", "adhar_chart_dir=" + os.path.join(REPO, "tests", "fixtures", "charts")]


def demo_glb(dns_port):
    """The Makefile's DEMO_GLB on a free port."""
    return ["-e", "adhar_network_action=glb", "-e", "adhar_glb_name=demo-app", "-e", "adhar_glb_zone=adhar.localtest.me",
            "-e", "adhar_glb_algorithm=weighted", "-e", "adhar_glb_ttl=30", "-e", "adhar_glb_dns_port=%d" % dns_port,
            "-e", '{"adhar_glb_health_check": {"enabled": false}}']


def network_actions(runner, state_dir, dns_port):
    """What `make demo` runs after deploy.yml, on the clusters deploy.yml made; returns the seconds it took."""
    import dns.resolver
    start = time.monotonic()
    results, recap, out = run(runner, "network.yml", "-e", "adhar_network_action=mesh")
    mesh = next(r["result"] for r in results if r["task"].startswith("Connect or disconnect the members"))
    assert mesh["changed"] and sorted(m["name"] for m in mesh["members"]) == ["prod", "staging"]
    assert {m["name"]: m["cluster_id"] for m in mesh["members"]} == {"prod": 1, "staging": 2}
    results, recap, out = run(runner, "network.yml", *demo_glb(dns_port))
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], dns_port, 2.0
    seen = {rr.address for dummy in range(20) for rr in resolver.resolve("demo-app.adhar.localtest.me.", "A")}
    assert seen == {"127.0.0.2", "127.0.0.3"}  # the inventory's endpoints, 127.0.0.<cluster id + 1>
    results, recap, out = run(runner, "network.yml", "-e", "adhar_network_action=test", "-e", "adhar_mesh_wait=120")
    info = [r["result"] for r in results if r["task"].startswith("Check every ordered pair")][-1]
    assert info["healthy"] and len(info["table"]) == 2, info["reasons"]
    assert "prod -> staging" in out and "the mesh is healthy: 2 ordered pair(s)" in out
    # one ordered pair, the guide's adhar network test --source prod --dest staging
    results, recap, out = run(runner, "network.yml", "-e", "adhar_network_action=test", "-e", "adhar_mesh_source=prod",
                              "-e", "adhar_mesh_dest=staging")
    assert "the mesh is healthy: 1 ordered pair(s)" in out and "staging -> prod" not in out
    assert os.path.isdir(os.path.join(state_dir, ".glb", "adhar.localtest.me"))
    return time.monotonic() - start


def test_deploy_local_platform(runner, state_dir):
    dns_port = free_dns_port()
    # the clusters' shared ClusterMesh CA in this test's directory, not the controller's default
    CHARTS.extend(["-e", "adhar_mesh_ca_dir=" + os.path.join(runner.workdir, "clustermesh-ca")])
    try:
        results, recap, out = run(runner, "deploy.yml", *CHARTS)
        assert set(recap) == {"prod", "staging"} and recap["prod"] >= 1 and recap["staging"] >= 1
        health = [r["result"] for r in results if r["task"] == "Collect health"]
        assert len(health) == 2 and all(h["healthy"] for h in health)
        by_name = {h["cluster"]["name"]: h for h in health}
        assert len(by_name["prod"]["apiservers"]) == 3 and len(by_name["staging"]["apiservers"]) == 1
        assert "HEALTHY" in out
        loops = [r["result"] for r in results if "Install or upgrade the core services" in r["task"]]
        releases = [item for loop in loops for item in loop.get("results", [])]
        assert len(releases) == 14 and all(r["release"]["status"] == "deployed" for r in releases), loops
        # no Prometheus operator in these clusters: the alerts run in the local Prometheus of each cluster instead
        monitoring = [r["result"] for r in results
                      if r["task"].endswith("Run Prometheus and Alertmanager with the guide's alerts on the local cluster")]
        assert len(monitoring) == 2 and all(m.get("changed") for m in monitoring), monitoring
        assert "skipped the platform alerts" not in out
        print("network.yml mesh, glb, test, test of one pair: %.1f s" % network_actions(runner, state_dir, dns_port))
        # deploy.yml on meshed clusters changes nothing (the mesh's processes and files are the cluster's own)
        results, recap, out = run(runner, "deploy.yml", *CHARTS)
        assert recap == {"prod": 0, "staging": 0}, out[-3000:]
        before = sorted(os.listdir(state_dir))
        results, recap, out = run(runner, "deploy.yml", "--check", *CHARTS)
        assert recap == {"prod": 0, "staging": 0}, out[-3000:]
        assert sorted(os.listdir(state_dir)) == before
    finally:
        try:
            run(runner, "network.yml", *demo_glb(dns_port), "-e", "adhar_glb_state=absent")
        finally:
            results, recap, out = run(runner, "destroy.yml")
    assert not os.path.exists(os.path.join(state_dir, ".glb", "adhar.localtest.me"))
    assert not os.path.exists(os.path.join(state_dir, "prod")) and not os.path.exists(os.path.join(state_dir, "staging"))
