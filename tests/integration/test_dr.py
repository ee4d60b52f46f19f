# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/dr.yml and the backup_schedule role on real local clusters, through an adhar config inventory:
an invalid action is refused before anything runs; backup; the scheduled job (the cron line itself) backs up
and applies retention; verify; restore of one application; then the source cluster is destroyed and recovered
into a new cluster (restored objects, etcd snapshot), each run writing its RTO/RPO report; PostgreSQL databases
(a real server from pg_server.py) exported next to a backup, verified, dropped and imported back by restore, which
measures the report's Databases row."""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import textwrap
import time

import pytest

import pg_server
from conftest import adhar_config

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLAYBOOK = os.path.join(REPO, "playbooks", "dr.yml")
SOURCE = "drsrc"


APP = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop", "labels": {"app": "web"}},
     "data": {"color": "blue"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "shop", "labels": {"app": "db"}},
     "data": {"x": "1"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "shop", "labels": {"app": "web"}},
     "stringData": {"password": "dr-test-s3cr3t"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}},
    # a local persistent volume (nodes.volumes) bound by the scheduler and the PV controller to a Pod's claim
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "db-data", "namespace": "shop", "labels": {"app": "db"}},
     "spec": {"storageClassName": "adhar-local", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
     "spec": {"containers": [{"name": "db", "image": "postgres"}],
              "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "db-data"}}]}},
]
VOLUME_FILE = ("pgdata/PG_VERSION", b"17\n" * 1000)


def volume_dir(bin_dir, kubeconfig, timeout=60):
    """The directory of the PV bound to shop/db-data (waits for the binding)."""
    deadline = time.monotonic() + timeout
    while True:
        rc, out = kubectl(bin_dir, kubeconfig, "get", "pvc", "db-data", "-n", "shop", "-o", "jsonpath={.spec.volumeName}")
        if rc == 0 and out.strip():
            rc, path = kubectl(bin_dir, kubeconfig, "get", "pv", out.strip(), "-o", "jsonpath={.spec.local.path}")
            if rc == 0 and path.strip():
                return path.strip()
        assert time.monotonic() < deadline, "shop/db-data did not bind: %s" % out
        time.sleep(0.5)


# the role runs on the controller; the host name is the cluster's, as in the adhar inventory (the job's --limit)
ROLE_INVENTORY = "all:\n  children:\n    clusters:\n      hosts:\n        %s: {ansible_connection: local}\n" % SOURCE


class DR:
    def __init__(self, runner, tmp):
        self.runner = runner
        self.tmp = str(tmp)
        self.backups = os.path.join(self.tmp, "backups")
        self.reports = os.path.join(self.tmp, "reports")
        self.key = os.path.join(self.tmp, "backup.key")
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.key, 0o600)
        self.inventory = os.path.join(self.tmp, "adhar.yml")
        with open(self.inventory, "w") as f:
            f.write(adhar_config("adhar-dr", self.backups, [(SOURCE, "primary", 9, "10.251.0.0/16", "10.98.0.0/16")]))
        self.n = 0

    def run(self, action, *extra, check=False, expect_rc=0, env_extra=None):
        """ansible-playbook dr.yml; returns (task results by name, stdout)."""
        self.n += 1
        env = self.runner.env()
        env.update(env_extra or {})
        results = os.path.join(self.tmp, "dr-%d.jsonl" % self.n)
        env["ADHAR_RESULTS_FILE"] = results
        enc = json.dumps({"adhar_dr_encryption": {"key_file": self.key}, "adhar_dr_report_dir": self.reports})
        cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", self.inventory, PLAYBOOK,
               "-e", "adhar_dr_action=%s" % action, "-e", enc] + list(extra) + (["--check"] if check else [])
        proc = subprocess.run(cmd, env=env, cwd=self.tmp, capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == expect_rc, "rc=%d\n%s\n%s" % (proc.returncode, proc.stdout[-8000:], proc.stderr[-3000:])
        out = {}
        if os.path.exists(results):
            with open(results) as f:
                for line in f:
                    r = json.loads(line)
                    out[r["task"]] = r
        return out, proc.stdout

    def report(self, action):
        files = sorted(glob.glob(os.path.join(self.reports, "dr-report-%s-%s-*.json" % (SOURCE, action))))
        assert files, "no %s report in %s" % (action, self.reports)
        with open(files[-1]) as f:
            data = json.load(f)
        with open(files[-1][:-len(".json")] + ".md") as f:
            return data, f.read()

    def listing(self):
        r = self.runner.module("adhar.platform.backup_info", {"storage": {"path": self.backups}})
        return [b for b in r["backups"] if b["complete"]]


def kubectl(bin_dir, kubeconfig, *args):
    proc = subprocess.run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", kubeconfig] + list(args),
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def app_state(bin_dir, kubeconfig):
    """The application as the cluster has it: ConfigMap data, the Secret's value, the Deployment's spec."""
    rc, out = kubectl(bin_dir, kubeconfig, "get", "configmaps,secrets,deployments", "-n", "shop", "-o", "json")
    assert rc == 0, out
    state = {}
    for item in json.loads(out)["items"]:
        meta = item["metadata"]
        if item["kind"] == "ConfigMap" and meta["name"] != "kube-root-ca.crt":
            state["cm/" + meta["name"]] = item["data"]
        elif item["kind"] == "Secret":
            state["secret/" + meta["name"]] = {k: base64.b64decode(v).decode() for k, v in item["data"].items()}
        elif item["kind"] == "Deployment":
            state["deploy/" + meta["name"]] = (item["spec"]["replicas"], item["spec"]["template"]["spec"]["containers"][0]["image"])
    return state


def schedule_job(runner, dr, name):
    """Install the backup_schedule role's cron entry for the source cluster; return its command line."""
    runner.playbook("""\
        - hosts: clusters
          gather_facts: false
          roles:
            - role: adhar.platform.backup_schedule
              vars:
                backup_schedule_name: %s
                backup_schedule_inventory: %s
                backup_schedule_playbook: %s
                backup_schedule_keep_last: 1
                backup_schedule_log_dir: %s
                backup_schedule_config_dir: %s
                backup_schedule_encryption: {key_file: %s}
                backup_schedule_extra_vars: {adhar_dr_report_dir: %s}
        """ % (name, dr.inventory, PLAYBOOK, dr.tmp, dr.tmp, dr.key, dr.reports), ROLE_INVENTORY)
    crontab = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=True).stdout.splitlines()
    marker = crontab.index("#Ansible: %s" % name)
    return crontab[marker + 1]


def unschedule(runner, dr, name):
    runner.playbook(textwrap.dedent("""\
        - hosts: clusters
          gather_facts: false
          roles:
            - role: adhar.platform.backup_schedule
              vars: {backup_schedule_name: %s, backup_schedule_state: absent, backup_schedule_config_dir: %s}
        """) % (name, dr.tmp), ROLE_INVENTORY)


def test_invalid_action_fails_before_anything_runs(runner, tmp_path):
    dr = DR(runner, tmp_path)
    results, out = dr.run("nuke", expect_rc=2)
    assert "adhar_dr_action must be one of backup, verify, restore, recover" in out
    assert [t for t, r in results.items() if r["status"] != "failed"] == []
    assert not os.path.exists(dr.reports) and not os.path.exists(dr.backups)
    results, out = dr.run("recover", "-e", "adhar_dr_method=zfs", expect_rc=2)
    assert "adhar_dr_method one of resources, etcd" in out
    # a database password in the variables (they end up in the schedule's vars file) is refused, as is an unset env var
    results, out = dr.run("backup", "-e", '{"adhar_dr_databases": {"login_host": "db", "login_password": "pw-in-clear"}}',
                          expect_rc=2)
    assert "never as login_password" in out and "pw-in-clear" not in out and "Back up the cluster" not in results
    results, out = dr.run("backup", "-e", '{"adhar_dr_databases": {"login_password_env": "ADHAR_DR_UNSET_VAR"}}', expect_rc=2)
    assert "must be set" in out and not os.path.exists(dr.backups)


def test_backup_schedule_verify_restore_recover(runner, tmp_path, make_local_cluster, bin_dir, state_dir):
    dr = DR(runner, tmp_path)
    job = "adhar-dr-test-%d" % os.getpid()
    recovery = os.path.join(state_dir, SOURCE + "-recovery", "config", "admin.kubeconfig")
    try:
        with make_local_cluster(SOURCE, volumes=1) as kubeconfig:
            runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "definitions": APP})
            path = os.path.join(volume_dir(bin_dir, kubeconfig), VOLUME_FILE[0])
            os.makedirs(os.path.dirname(path))
            with open(path, "wb") as f:
                f.write(VOLUME_FILE[1])
            before = app_state(bin_dir, kubeconfig)
            assert before["secret/creds"] == {"password": "dr-test-s3cr3t"}

            # --check: nothing written, no backup, no report
            results, out = dr.run("backup", check=True)
            assert results["Back up the cluster"]["result"]["backup"]["counts"]["configmaps"] >= 2
            assert not os.path.exists(dr.backups) and not os.path.exists(dr.reports)

            # backup: the whole cluster, its etcd snapshot and the adhar config; RPO measured, RTO not
            results, out = dr.run("backup")
            backup = results["Back up the cluster"]["result"]["backup"]
            assert backup["complete"] and backup["encrypted"] and backup["etcd"]["revision"] > 0
            report, md = dr.report("backup")
            assert report["backup"] == backup["name"] and report["action"] == "backup"
            rows = {r["component"]: r for r in report["assessment"]["components"]}
            assert rows["Applications"]["rpo"]["status"] == "pass" and rows["Applications"]["rto"]["status"] == "not measured"
            assert rows["Databases"]["status"] == "not measured" and report["assessment"]["verdict"] == "partial"
            assert report["assessment"]["passed"] is False and "Persistent Volumes RTO" in report["assessment"]["unmeasured"]
            assert rows["Persistent Volumes"]["rpo"]["status"] == "pass" and backup["volumes"]["volumes"] == 1
            assert "| Databases | not measured |" in md and "# Disaster-recovery report: %s, backup" % SOURCE in md
            assert "| Component | RTO (recovery time) |" in out  # the table is printed

            # the scheduled job: the cron line itself, run by a shell as cron would; keep_last 1 prunes the first backup
            line = schedule_job(runner, dr, job)
            assert line.startswith("0 2 * * * ") and "flock -n -E 75" in line and "-e adhar_dr_action=backup" in line
            assert "dr-test-s3cr3t" not in line and dr.key in open(os.path.join(dr.tmp, job + ".yml")).read()
            proc = subprocess.run(["/bin/sh", "-c", line[len("0 2 * * * "):]], capture_output=True, text=True,
                                  timeout=600, check=False)
            log = open(os.path.join(dr.tmp, job + ".log")).read()
            assert proc.returncode == 0 and "failed=0" in log, log[-4000:]
            names = [b["name"] for b in dr.listing()]
            assert len(names) == 1 and names[0] != backup["name"], names  # retention applied by the scheduled run
            unschedule(runner, dr, job)
            assert "#Ansible: %s" % job not in subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False).stdout

            # verify: every checksum and decryption
            results, out = dr.run("verify")
            verification = results["Verify the backup (every checksum, decryption with the key)"]["result"]["verification"]
            assert verification["ok"] and verification["decryption_checked"]
            report, md = dr.report("verify")
            assert report["backup"] == names[0] and report["details"]["verified_items"] == verification["items"]

            # restore one application (the guide's `adhar apps restore web --namespace shop`) after losing its config
            runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "state": "absent",
                                                   "definitions": [APP[1], APP[2]]})
            results, out = dr.run("restore", "-e", "adhar_dr_app=web", "-e", '{"adhar_dr_namespaces": ["shop"]}')
            restore = results["Restore the backup's objects"]["result"]["restore"]
            assert restore["counts"]["created"] == 1 and restore["counts"]["failed"] == 0
            after = app_state(bin_dir, kubeconfig)
            assert after["cm/settings"] == {"color": "blue"} and "cm/other" not in after  # only the app came back
            report, md = dr.report("restore")
            rows = {r["component"]: r for r in report["assessment"]["components"]}
            assert rows["Applications"]["rto"]["status"] == "pass" and rows["Platform Services"]["status"] == "not measured"
            assert report["details"]["restore_filter"] == {"app": "web", "namespaces": ["shop"]}
        # the source cluster is gone (make_local_cluster removed it): full cluster recovery into a new one
        assert not os.path.exists(kubeconfig)

        results, out = dr.run("recover", check=True)  # --check: the recovery cluster is only announced
        assert not os.path.exists(recovery) and len(glob.glob(os.path.join(dr.reports, "*recover*"))) == 0

        results, out = dr.run("recover")
        report, md = dr.report("recover")
        assert report["target_cluster"] == SOURCE + "-recovery" and report["method"] == "resources"
        rows = {r["component"]: r for r in report["assessment"]["components"]}
        for component in ("Platform Services", "Applications"):
            assert rows[component]["rto"]["status"] == "pass" and rows[component]["rpo"]["status"] == "pass", rows
            assert 0 < rows[component]["rto"]["seconds"] < 600
        assert report["details"]["recovered_healthy"] is True and report["details"]["objects_missing"] == []
        assert report["details"]["objects_expected_present"] >= 5
        assert "| Platform Services | " in md and "(PASS)" in md
        # the volume data came back into the new cluster's own volume: the Persistent Volumes row is measured
        assert rows["Persistent Volumes"]["rto"]["status"] == "pass" and rows["Persistent Volumes"]["rpo"]["status"] == "pass"
        assert report["details"]["restored_volumes"] == {"restored": 1}
        with open(os.path.join(volume_dir(bin_dir, recovery), VOLUME_FILE[0]), "rb") as f:
            assert f.read() == VOLUME_FILE[1]
        # databases are not configured here: every measured row passes, so the verdict is partial, not pass
        assert report["assessment"]["verdict"] == "partial" and report["assessment"]["failed"] == []
        result_line = md.split("**Result**")[1].splitlines()[0]
        assert "- **Result**: PARTIAL (not measured: " in md and "Databases" in result_line and "Persistent" not in result_line
        recovered = app_state(bin_dir, recovery)
        assert recovered["cm/settings"] == before["cm/settings"] and recovered["cm/other"] == before["cm/other"]
        assert recovered["secret/creds"] == before["secret/creds"] and recovered["deploy/web"] == before["deploy/web"]
        rc, labels = kubectl(bin_dir, recovery, "get", "configmap", "settings", "-n", "shop", "-o", "jsonpath={.metadata.labels}")
        assert names[0] in labels  # backup.adhar.io/backup=<backup>
        results, out = dr.run("recover", expect_rc=2)  # a second recovery never reuses the first one's cluster
        assert "the recovery cluster %s-recovery already exists" % SOURCE in out
        runner.module("adhar.platform.cluster", {"name": SOURCE + "-recovery", "state": "absent"})

        # the same recovery from the backup's etcd snapshot, into another new cluster; a target of 1 s fails on demand
        results, out = dr.run("recover", "-e", "adhar_dr_method=etcd", "-e", "adhar_dr_target=%s-etcd" % SOURCE,
                              "-e", '{"adhar_dr_targets": {"Platform Services": {"rto_seconds": 1, "rpo_seconds": 86400}}}',
                              "-e", "adhar_dr_fail_on_target=true", expect_rc=2)
        assert "missed the RTO/RPO targets of Platform Services" in out, out[-6000:]
        report, md = dr.report("recover")
        assert report["method"] == "etcd" and report["details"]["recovered_from_etcd_revision"] > 0
        assert report["assessment"]["failed"] == ["Platform Services"] and report["details"]["objects_missing"] == []
        etcd_kubeconfig = os.path.join(state_dir, SOURCE + "-etcd", "config", "admin.kubeconfig")
        assert app_state(bin_dir, etcd_kubeconfig) == before  # the snapshot predates the loss
    finally:
        for name in (SOURCE + "-recovery", SOURCE + "-etcd"):
            runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})
        subprocess.run("crontab -l 2>/dev/null | grep -v -e '#Ansible: %s$' -e '/%s.lock ' | crontab -" % (job, job),
                       shell=True, check=False)


DB_TABLES = {"customers": 120, "orders": 345}


def table_counts(pg, db):
    return {t: int(pg.psql("SELECT count(*) FROM %s" % t, db))
            for t in sorted(pg.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db).split())}


@pytest.mark.skipif(pg_server.missing_reason() is not None, reason=pg_server.missing_reason() or "")
def test_databases_backup_verify_restore(runner, tmp_path, make_local_cluster):
    """adhar_dr_databases: backup exports <backup>-db, verify checks it, restore imports it after the database was
    dropped (rows equal) and the report's Databases row is measured and passes; an import that is refused
    (existing=fail) still writes the report, then fails the run."""
    pg = pg_server.PgServer().start()
    try:
        pg.psql("CREATE DATABASE shop")
        for table, rows in DB_TABLES.items():
            pg.psql("CREATE TABLE %s (id int PRIMARY KEY, note text NOT NULL)" % table, "shop")
            pg.psql("INSERT INTO %s SELECT g, 'row-' || g FROM generate_series(1, %d) g" % (table, rows), "shop")
        dr = DR(runner, tmp_path)
        env = {"ADHAR_DR_TEST_PGPW": pg_server.PASSWORD}
        dbs = json.dumps({"adhar_dr_databases": {"login_host": "127.0.0.1", "login_port": pg.port, "login_user": pg_server.USER,
                                                 "login_password_env": "ADHAR_DR_TEST_PGPW", "databases": ["shop"]}})
        with make_local_cluster(SOURCE):
            results, out = dr.run("backup", "-e", dbs, "-e", "adhar_dr_etcd_snapshot=false", env_extra=env)
            backup = results["Back up the cluster"]["result"]["backup"]["name"]
            exported = results["Export the databases next to the backup (archive <backup>-db)"]["result"]["db"]
            assert exported["name"] == backup + "-db" and exported["cluster"] == SOURCE + "-db" and exported["encrypted"]
            assert [(d["name"], d["tables"]) for d in exported["databases"]] == [("shop", 2)]
            assert pg_server.PASSWORD not in out
            report, md = dr.report("backup")
            rows = {r["component"]: r for r in report["assessment"]["components"]}
            assert rows["Databases"]["rpo"]["status"] == "pass" and rows["Databases"]["rto"]["status"] == "not measured"
            assert report["db_archive"] == backup + "-db" and report["details"]["db_exported"] == {"shop": 2}
            assert [b["name"] for b in dr.listing()] == [backup, backup + "-db"]  # two streams, one storage

            results, out = dr.run("verify", "-e", dbs, env_extra=env)
            db_verified = results["Read the database archive (verify, every checksum and decryption)"]["result"]
            assert db_verified["verification"]["ok"] and dr.report("verify")[0]["details"]["db_verified_items"] >= 1

            pg.psql("DROP DATABASE shop")
            restore = ("-e", dbs, "-e", '{"adhar_dr_namespaces": ["kube-public"]}')
            results, out = dr.run("restore", *restore, env_extra=env)
            assert table_counts(pg, "shop") == DB_TABLES
            report, md = dr.report("restore")
            rows = {r["component"]: r for r in report["assessment"]["components"]}
            assert rows["Databases"]["status"] == "pass", rows["Databases"]
            assert 0 < rows["Databases"]["rto"]["seconds"] < 120 and rows["Databases"]["rpo"]["status"] == "pass"
            assert report["details"]["db_imported"] == {"shop": "create"} and report["details"]["db_unproven"] == []
            assert "| Databases | " in md and "not configured" not in md

            # the database exists now: the default existing=fail refuses, the report says why, the run fails
            results, out = dr.run("restore", *restore, env_extra=env, expect_rc=2)
            assert "recovery not proven" in out and "already exists" in out
            report, md = dr.report("restore")
            rows = {r["component"]: r for r in report["assessment"]["components"]}
            assert rows["Databases"]["rto"]["status"] == "not measured" and "import failed" in md
            assert table_counts(pg, "shop") == DB_TABLES
    finally:
        pg.stop()
