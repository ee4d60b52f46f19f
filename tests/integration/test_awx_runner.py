# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repository's playbooks run by ansible-runner, the job engine of AWX / Tower, the way a job template runs them: a
private data directory per job (project/ = the repository's playbooks, inventory/ = an adhar inventory source,
env/extravars, env/envvars), then the job's status and rc, its job events and its artifacts directory are checked.

Two local clusters, made once for the module by a job sliced in two (two concurrent `ansible-runner run` jobs, each with
its own --limit, as AWX job slicing runs them); one unsliced run afterwards changes nothing, so the slices left the
state one run leaves. health.yml and dr.yml (backup, verify) then run on those clusters; destroy.yml removes them."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest
import yaml

from conftest import adhar_config

ansible_runner = pytest.importorskip("ansible_runner")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOSTS = ("awxa", "awxb")

CLUSTERS = [("awxa", "primary", 41, "10.241.0.0/16", "10.141.0.0/16"),
            ("awxb", "replica", 42, "10.242.0.0/16", "10.142.0.0/16")]


class Jobs:
    """Private data directories as AWX lays them out for a job, one per job."""

    def __init__(self, runner, root):
        self.runner = runner
        self.root = str(root)
        self.backups = os.path.join(self.root, "backups")
        self.reports = os.path.join(self.root, "reports")
        # the backup key is a file, as a credential would inject it; only its path is an extra variable
        self.key = os.path.join(self.root, "backup.key")
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.key, 0o600)
        self.n = 0

    def envvars(self):
        env = self.runner.env()
        keep = ("ANSIBLE_COLLECTIONS_PATH", "ADHAR_STATE_DIR", "ANSIBLE_PYTHON_INTERPRETER", "ANSIBLE_NOCOLOR",
                "ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_RETRY_FILES_ENABLED", "PATH")
        # an inventory source that does not parse fails the job (as an AWX inventory update does), never a run on no host
        return dict({k: env[k] for k in keep}, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")

    def private_data_dir(self, extravars=None):
        self.n += 1
        pdd = os.path.join(self.root, "job-%d" % self.n)
        os.makedirs(os.path.join(pdd, "inventory"))
        os.makedirs(os.path.join(pdd, "env"))
        os.symlink(os.path.join(REPO, "playbooks"), os.path.join(pdd, "project"))
        with open(os.path.join(pdd, "inventory", "adhar.yml"), "w") as f:
            f.write(adhar_config("adhar-awx", self.backups, CLUSTERS))
        with open(os.path.join(pdd, "env", "envvars"), "w") as f:
            yaml.safe_dump(self.envvars(), f)
        with open(os.path.join(pdd, "env", "extravars"), "w") as f:
            yaml.safe_dump(extravars or {}, f)
        return pdd

    def run(self, playbook, extravars=None, **kwargs):
        """One job in-process (ansible_runner.run); returns the Runner."""
        pdd = self.private_data_dir(extravars)
        return ansible_runner.run(private_data_dir=pdd, playbook=playbook, ident="job", quiet=True, **kwargs)


def artifacts(pdd, ident):
    """The job's artifacts directory: stdout, status, rc and the job events as AWX reads them."""
    d = os.path.join(pdd, "artifacts", ident)
    with open(os.path.join(d, "status")) as f:
        status = f.read().strip()
    with open(os.path.join(d, "rc")) as f:
        rc = int(f.read().strip())
    with open(os.path.join(d, "stdout")) as f:
        stdout = f.read()
    events = []
    for path in glob.glob(os.path.join(d, "job_events", "*.json")):
        with open(path) as f:
            events.append(json.load(f))
    events.sort(key=lambda e: e["counter"])
    return status, rc, stdout, events


def ok_hosts(events, task):
    return sorted(e["event_data"]["host"] for e in events
                  if e["event"] == "runner_on_ok" and e.get("event_data", {}).get("task") == task)


def stats(events):
    return [e for e in events if e["event"] == "playbook_on_stats"][-1]["event_data"]


def assert_clean(events):
    assert [e["event"] for e in events if e["event"] in ("runner_on_failed", "runner_on_unreachable")] == []


@pytest.fixture(scope="module")
def platform(runner, tmp_path_factory):
    """The two clusters, made by deploy.yml --tags clusters as a job sliced in two: two concurrent `ansible-runner run`
    jobs, each limited to its slice; yields (jobs, the two slices' (pdd, ident, host, start, end))."""
    jobs = Jobs(runner, tmp_path_factory.mktemp("awx"))
    cli = shutil.which("ansible-runner", path=jobs.envvars()["PATH"])
    procs = []
    for i, host in enumerate(HOSTS, 1):
        pdd = jobs.private_data_dir({"adhar_ha_mode": False})
        ident = "slice-%d" % i
        cmd = [cli, "run", pdd, "-p", "deploy.yml", "--ident", ident, "--limit", host, "--cmdline", "--tags clusters"]
        procs.append((pdd, ident, host, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    slices = []
    try:
        for pdd, ident, host, proc in procs:
            out = proc.communicate(timeout=900)[0]
            assert proc.returncode == 0, out[-6000:]
            slices.append((pdd, ident, host))
        yield jobs, slices
    finally:
        for pdd, ident, host, proc in procs:
            if proc.poll() is None:
                proc.kill()
        r = jobs.run("destroy.yml")
        if r.rc != 0:
            for host in HOSTS:
                runner.module("adhar.platform.cluster", {"name": host, "state": "absent"})
        assert r.status == "successful" and r.rc == 0, r.stdout.read()[-4000:]
        assert not any(os.path.exists(os.path.join(runner.state_dir, h)) for h in HOSTS)


def test_job_slicing_ends_in_the_state_of_one_run(platform, runner):
    jobs, slices = platform
    spans = []
    for pdd, ident, host in slices:
        status, rc, stdout, events = artifacts(pdd, ident)
        assert status == "successful" and rc == 0, stdout[-4000:]
        assert_clean(events)
        # each slice ran its own host only, and only the validation and the cluster phase (--tags clusters)
        assert sorted({e["event_data"]["host"] for e in events if e.get("event_data", {}).get("host")}) == [host]
        # (a role's argument validation is tagged always: it runs whatever the tags)
        ran = {e["event_data"]["play"] for e in events if e["event"] == "playbook_on_task_start"
               and not e["event_data"]["task"].startswith("Validating arguments against arg spec")}
        assert ran == {"Validate the adhar configuration before touching anything",
                       "Clusters (local control planes, EKS and GKE clusters)"}, ran
        assert stats(events)["changed"].get(host, 0) >= 1  # it made its cluster
        spans.append((events[0]["created"], events[-1]["created"]))
    # the two slices ran at the same time, as AWX runs the jobs of a sliced workflow
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans

    # one unsliced run of the same job over the whole inventory finds every host as the slices left it
    r = jobs.run("deploy.yml", tags="clusters", extravars={"adhar_ha_mode": False})
    assert r.status == "successful" and r.rc == 0, r.stdout.read()[-4000:]
    events = list(r.events)
    assert_clean(events)
    assert sorted(r.stats["ok"]) == list(HOSTS) and r.stats["changed"] == {}, r.stats
    for host in HOSTS:
        info = runner.module("adhar.platform.cluster_info", {"name": host})
        assert info["healthy"] and info["cluster"]["name"] == host, info.get("reasons")


def test_health_job(platform):
    jobs, dummy = platform
    r = jobs.run("health.yml", extravars={"adhar_health_fail": True})
    assert r.status == "successful" and r.rc == 0, r.stdout.read()[-4000:]
    pdd = r.config.private_data_dir
    status, rc, stdout, events = artifacts(pdd, "job")
    assert (status, rc) == ("successful", 0)
    assert_clean(events)
    assert ok_hosts(events, "Collect health") == list(HOSTS)
    assert ok_hosts(events, "Fail when a cluster is unhealthy (only when asked with -e adhar_health_fail=true)") == list(HOSTS)
    health = [e["event_data"]["res"] for e in events
              if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Collect health"]
    assert all(h["healthy"] for h in health)
    assert "awxa" in stdout and "HEALTHY" in stdout  # the health table, in the job's stdout as AWX shows it
    s = stats(events)
    assert s["changed"] == {} and s["failures"] == {} and sorted(s["ok"]) == list(HOSTS)
    assert os.path.exists(os.path.join(pdd, "artifacts", "job", "command"))


def test_dr_jobs_backup_and_verify(platform, runner):
    jobs, dummy = platform
    extravars = {"adhar_dr_action": "backup", "adhar_dr_encryption": {"key_file": jobs.key},
                 "adhar_dr_report_dir": jobs.reports}
    r = jobs.run("dr.yml", extravars=extravars, limit="awxa")  # a job template's limit: one cluster
    assert r.status == "successful" and r.rc == 0, r.stdout.read()[-4000:]
    events = list(r.events)
    assert_clean(events)
    backed_up = [e["event_data"]["res"]["backup"] for e in events
                 if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Back up the cluster"]
    assert len(backed_up) == 1 and backed_up[0]["complete"] and backed_up[0]["encrypted"]
    assert ok_hosts(events, "Back up the cluster") == ["awxa"] and sorted(r.stats["ok"]) == ["awxa"]
    assert glob.glob(os.path.join(jobs.reports, "dr-report-awxa-backup-*.json"))

    # a failed job: the run's status and rc say so, the failure is a runner_on_failed event
    r = jobs.run("dr.yml", extravars=dict(extravars, adhar_dr_action="nuke"), limit="awxa")
    assert r.status == "failed" and r.rc != 0
    assert [e["event_data"]["host"] for e in r.events if e["event"] == "runner_on_failed"] == ["awxa"]

    r = jobs.run("dr.yml", extravars=dict(extravars, adhar_dr_action="verify"), limit="awxa")
    assert r.status == "successful" and r.rc == 0, r.stdout.read()[-4000:]
    verified = [e["event_data"]["res"]["verification"] for e in r.events if e["event"] == "runner_on_ok"
                and e["event_data"]["task"] == "Verify the backup (every checksum, decryption with the key)"]
    assert len(verified) == 1 and verified[0]["ok"] and verified[0]["decryption_checked"]
    with open(jobs.key, "rb") as f:
        key = f.read()
    with open(os.path.join(r.config.artifact_dir, "stdout"), "rb") as f:
        assert key not in f.read()
