# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/deploy.yml on inventories/local/adhar.yml (what `make demo` runs): both clusters in parallel,
then an unchanged re-run, a --check run that changes nothing, and destroy."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

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


def test_deploy_local_platform(runner, state_dir):
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
        assert "skipped the platform alerts" in out  # no Prometheus operator in these clusters
        results, recap, out = run(runner, "deploy.yml", *CHARTS)
        assert recap == {"prod": 0, "staging": 0}, out[-3000:]
        before = sorted(os.listdir(state_dir))
        results, recap, out = run(runner, "deploy.yml", "--check", *CHARTS)
        assert recap == {"prod": 0, "staging": 0}, out[-3000:]
        assert sorted(os.listdir(state_dir)) == before
    finally:
        results, recap, out = run(runner, "destroy.yml")
    assert not os.path.exists(os.path.join(state_dir, "prod")) and not os.path.exists(os.path.join(state_dir, "staging"))
