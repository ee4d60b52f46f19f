# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The multi-cloud example inventory (inventories/example-multicloud/adhar.yml) through the playbooks it documents,
against moto in server mode (its two EKS clusters, us-east-1 and us-west-2) and the GKE fake (its GKE cluster).

The example file is used as it is: the cloud endpoints and dummy credentials come from the environment
(AWS_ENDPOINT_URL, CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER, ...), the settings the config has no place for (IAM roles,
subnets that moto made) from an extra-vars file, and HOME is a temporary directory, so the kubeconfigs the config names
(~/.kube/config-prod-*) are written there. Write calls are counted at moto's proxy and in the fake's request log:

* deploy.yml --tags clusters creates the three clusters (exactly one CreateCluster and one CreateNodegroup per EKS
  cluster, one clusters.create), and a second run writes nothing;
* health.yml reports each cloud cluster's status from the cloud (reads only) and names the Kubernetes API as not
  reachable (neither moto nor the fake runs an API server); with adhar_health_fail=true the run fails;
* upgrade.yml in check mode: a skipped EKS minor version is refused in its validation (the cluster module's plan,
  no write); a valid step passes the validation for all three clusters, then the canary (the first batch, one
  cluster) fails at its pre-upgrade step - no API server to read - and no other cluster is started; nothing written;
* destroy.yml without adhar_destroy_confirm deletes nothing; with it, exactly the named clusters go.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import uuid

import pytest
import yaml

import gcp_fake
import moto_server
from conftest import scratch_runner

boto3 = pytest.importorskip("boto3")
pytest.importorskip("googleapiclient")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(REPO, "inventories", "example-multicloud", "adhar.yml")
AWS_CLUSTERS = {"prod-us-east": "us-east-1", "prod-us-west": "us-west-2"}
GKE_KEY = "projects/company-platform/locations/europe-west1/clusters/prod-eu"
TOKEN = "ya29.fake-access-token"
CREATE = "container.projects.locations.clusters.create"

moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)
gcp = pytest.fixture(scope="module", name="gcp")(gcp_fake.serve)


proxy = pytest.fixture(scope="module", name="proxy")(moto_server.counting_proxy)


runner = scratch_runner("multicloud")


def _infra(proxy):
    """Per region a VPC with subnets in two Availability Zones; the IAM roles (global)."""
    kw = dict(endpoint_url=proxy.url, aws_access_key_id="testing", aws_secret_access_key="testing")
    iam = boto3.client("iam", region_name="us-east-1", **kw)
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},' \
            '"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName="mc-cp-%s" % uuid.uuid4().hex[:6], AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    nodes = iam.create_role(RoleName="mc-nodes-%s" % uuid.uuid4().hex[:6], AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    settings = {}
    for i, (name, region) in enumerate(sorted(AWS_CLUSTERS.items())):
        ec2 = boto3.client("ec2", region_name=region, **kw)
        vpc = ec2.create_vpc(CidrBlock="10.%d.0.0/16" % (40 + i))["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.%d.%d.0/24" % (40 + i, j), AvailabilityZone=region + az)
                   ["Subnet"]["SubnetId"] for j, az in enumerate(("a", "b"))]
        settings[name] = {"eks": {"role_arn": role, "subnets": subnets}, "node_role_arn": nodes,
                          "kubernetes_version": "1.31", "wait_timeout": 60}
    settings["prod-eu"] = {"wait_timeout": 60}
    return settings


def _eks(proxy, region):
    return boto3.client("eks", region_name=region, endpoint_url=proxy.url, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture()
def cloud_env(monkeypatch, tmp_path, proxy, gcp):
    home = tmp_path / "home"
    home.mkdir()
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
                "K8S_AUTH_KUBECONFIG", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in (("HOME", str(home)), ("AWS_ENDPOINT_URL", proxy.url), ("AWS_ACCESS_KEY_ID", "testing"),
                       ("AWS_SECRET_ACCESS_KEY", "testing"), ("CLOUDSDK_CORE_PROJECT", "company-platform"),
                       ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN), ("CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER", gcp.url)):
        monkeypatch.setenv(var, value)
    return str(home)


def _playbook(runner, workdir, playbook, *extra, rc=0):
    env = runner.env()
    results = os.path.join(workdir, "%s-%d.jsonl" % (playbook, len(os.listdir(workdir))))
    env["ADHAR_RESULTS_FILE"] = results
    cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", EXAMPLE, os.path.join(REPO, "playbooks", playbook)]
    proc = subprocess.run(cmd + list(extra), env=env, cwd=workdir, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == rc, proc.stdout[-8000:] + proc.stderr[-3000:]
    with open(results) as f:
        return [json.loads(line) for line in f if line.strip()], proc.stdout


def _writes(proxy, gcp):
    return sorted("%s %s" % w for w in proxy.writes()) + sorted(m for dummy, m in gcp.writes())


def _reset(proxy, gcp):
    proxy.reset()
    gcp.reset()


def test_example_header_tells_the_truth():
    with open(EXAMPLE) as f:
        head = f.read().split("plugin:", 1)[0]
    assert "not run here" not in head and "tests/integration/test_example_multicloud.py" in head


def test_example_inventory_lifecycle(runner, proxy, gcp, cloud_env, tmp_path):
    work = str(tmp_path / "work")
    os.makedirs(work)
    settings = tmp_path / "cloud.yml"
    settings.write_text(yaml.safe_dump({"adhar_cloud_clusters": _infra(proxy)}))
    extra = ("-e", "@%s" % settings)

    # deploy, cluster phase: the three clusters are created, each with one node group / pool from the config
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "deploy.yml", "--tags", "clusters", *extra)
    node_groups = ["eks POST /clusters/%s/node-groups" % n for n in AWS_CLUSTERS]
    assert _writes(proxy, gcp) == sorted(["eks POST /clusters"] * 2 + node_groups) + [CREATE]
    created = {r["host"]: r["result"] for r in results if r["task"].startswith("Create or update the cloud cluster")}
    assert sorted(created) == ["prod-eu", "prod-us-east", "prod-us-west"] and all(r["changed"] for r in created.values())
    assert [r["status"] for r in results if r["task"] == "Validate the config the inventory was built from"] == ["ok"]
    # --tags clusters: of the later plays only Ansible's role argument checks (always run) ran
    later_plays = ("adhar.platform.core_services", "adhar.platform.hardening", "adhar.platform.monitoring", "Collect health")
    later = [r["task"] for r in results if r["task"].startswith(later_plays)]
    assert later and all("Validating arguments against arg spec" in t for t in later), later
    for name, region in AWS_CLUSTERS.items():
        described = _eks(proxy, region).describe_cluster(name=name)["cluster"]
        assert described["status"] == "ACTIVE" and described["version"] == "1.31"
        enabled = [t for e in described["logging"]["clusterLogging"] if e["enabled"] for t in e["types"]]
        assert enabled == ["audit"]  # HA mode of the example
        group = _eks(proxy, region).describe_nodegroup(clusterName=name, nodegroupName="workers")["nodegroup"]
        assert group["instanceTypes"] == ["t3.xlarge"]  # providers.aws.config.instance_types.worker
        s = group["scalingConfig"]
        assert (s["minSize"], s["maxSize"]) == (3, 10)  # the template's minNodes / maxNodes
        kubeconfig = os.path.join(cloud_env, ".kube", "config-" + name)
        assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
        with open(kubeconfig) as f:
            assert [c["name"] for c in yaml.safe_load(f)["contexts"]] == ["adhar-" + name]
    pool = gcp.state()["clusters"][GKE_KEY]["nodePools"][0]
    assert pool["config"]["machineType"] == "e2-standard-4"
    assert pool["autoscaling"] == {"enabled": True, "minNodeCount": 1, "maxNodeCount": 4}  # 3..10 over three zones
    assert os.path.exists(os.path.join(cloud_env, ".kube", "config-prod-eu"))

    # the same run again: reads only, nothing changed
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "deploy.yml", "--tags", "clusters", *extra)
    assert _writes(proxy, gcp) == []
    assert [r["result"]["changed"] for r in results if r["task"].startswith("Create or update the cloud")] == [False] * 3

    # health: the cloud's status is read (no write); the Kubernetes API is named as not reachable
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "health.yml", *extra)
    assert _writes(proxy, gcp) == []
    health = {r["host"]: r["result"]["ansible_facts"]["adhar_health"] for r in results
              if r["task"] == "Add the cloud's view to the health of a cloud cluster"}
    assert sorted(health) == ["prod-eu", "prod-us-east", "prod-us-west"]
    for host, h in health.items():
        assert h["cloud_status"] == ("RUNNING" if host == "prod-eu" else "ACTIVE"), (host, h)
        assert h["api_reachable"] is False and h["healthy"] is False
        assert [r for r in h["reasons"] if r.startswith("Kubernetes API not reachable: ")], h["reasons"]
        assert h["table"].splitlines()[0].split()[:3] == ["cloud", host, h["cloud_status"]]
        assert "nodegroup    workers" in h["table"] and "not reachable" in h["table"]
    results, out = _playbook(runner, work, "health.yml", "-e", "adhar_health_fail=true", *extra, rc=2)
    assert "is unhealthy: Kubernetes API not reachable" in out

    # upgrade.yml in check mode: the version steps are checked by the cluster module's plan for every cluster first;
    # a skipped EKS minor stops the run before any cluster starts, with zero writes
    _reset(proxy, gcp)
    key = ("-e", '{"adhar_upgrade_encryption": {"key_file": "/nonexistent/backup.key"}}')
    results, out = _playbook(runner, work, "upgrade.yml", "--check", "-e",
                             '{"adhar_upgrade_versions": {"eks": "1.33", "gke": "1.33"}}', *key, *extra, rc=2)
    assert _writes(proxy, gcp) == []
    refused = [r for r in results if r["task"].startswith("[1/6 validate] The cloud cluster exists and the version step")
               and r["status"] == "failed"]
    assert sorted(r["host"] for r in refused) == ["prod-us-east", "prod-us-west"]
    assert all("from 1.31 the next step is 1.32" in r["result"]["msg"] for r in refused)
    assert not [r for r in results if r["task"].startswith("[2/6")]
    # a valid step for each: planned (EKS control plane then node group, GKE master then node pool), then the canary cluster fails at the backup step
    # (no Kubernetes API behind moto or the fake), nothing is restored, and the other clusters never start
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "upgrade.yml", "--check", "-e",
                             '{"adhar_upgrade_versions": {"eks": "1.32", "gke": "1.33"}}', *key, *extra, rc=2)
    assert _writes(proxy, gcp) == []
    plans = {r["host"]: r["result"]["actions"] for r in results
             if r["task"].startswith("[1/6 validate] The cloud cluster exists and the version step")}
    eks_plan = ["would update the Kubernetes version to 1.32", "would update node group workers from Kubernetes 1.31 to 1.32"]
    assert plans == {"prod-us-east": eks_plan, "prod-us-west": eks_plan, "prod-eu": [
        "would update the master version to 1.33",
        "would update node pool workers from Kubernetes 1.32.2-gke.1000 to the master's version (1.33)"]}, plans
    started = sorted({r["host"] for r in results if r["task"].startswith("[2/6")})
    assert len(started) == 1, started
    failed = [r for r in results if r["task"] == "[done] The upgrade of this cluster failed"]
    assert [r["host"] for r in failed] == started and failed[0]["status"] == "failed"
    assert "upgrade failed at 2/6 backup" in failed[0]["result"]["msg"]
    assert "rollback: not done: no pre-upgrade backup was taken" in failed[0]["result"]["msg"]

    # provider migration, AWS -> GCP (playbooks/migrate.yml --tags config,create): the EKS cluster's config exported
    # (reads only), converted to gcp, the GKE target found as the config has it (no write); the data steps need an API
    # server, which neither moto nor the fake runs
    _reset(proxy, gcp)
    migration = os.path.join(work, "migration")
    results, out = _playbook(runner, work, "migrate.yml", "--tags", "config,create", "-e", "adhar_migrate_source=prod-us-east",
                             "-e", "adhar_migrate_target=prod-eu", "-e", "adhar_migrate_app=shop",
                             "-e", "adhar_migrate_dir=%s" % migration,
                             "-e", '{"adhar_migrate_encryption": {"key_file": "/nonexistent/backup.key"}}', *extra)
    assert _writes(proxy, gcp) == []
    with open(os.path.join(migration, "prod-us-east-config.yaml")) as f:
        exported = yaml.safe_load(f)
    with open(os.path.join(migration, "prod-eu-config.yaml")) as f:
        converted = yaml.safe_load(f)
    assert [p["type"] for p in exported["providers"].values()] == ["aws"]
    assert [p["type"] for p in converted["providers"].values()] == ["gcp"]
    assert [c["name"] for c in converted["clusters"]] == ["prod-us-east"]
    created = [r["result"]["ansible_facts"]["mg_create_result"] for r in results if r["task"] == "[4/7 create] Stop the clock"]
    assert created == ["gke cluster unchanged"]
    assert not [r for r in results if r["task"].startswith(("[5/7", "[6/7", "[7/7"))]

    # destroy without the confirmation: nothing is deleted
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "destroy.yml", *extra)
    assert _writes(proxy, gcp) == []
    for name in ("prod-us-east", "prod-us-west", "prod-eu"):
        assert "%s: kept (a cloud cluster: delete it with -e adhar_destroy_confirm=%s)" % (name, name) in out
    assert all(name in _eks(proxy, region).list_clusters()["clusters"] for name, region in AWS_CLUSTERS.items())
    assert GKE_KEY in gcp.state()["clusters"]

    # destroy one cluster by name: exactly its node group and itself go
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "destroy.yml", "-e", "adhar_destroy_confirm=prod-us-west", *extra)
    assert _writes(proxy, gcp) == ["eks DELETE /clusters/prod-us-west", "eks DELETE /clusters/prod-us-west/node-groups/workers"]
    assert "prod-us-west" not in _eks(proxy, "us-west-2").list_clusters()["clusters"]
    assert "prod-us-east" in _eks(proxy, "us-east-1").list_clusters()["clusters"] and GKE_KEY in gcp.state()["clusters"]

    # and the other two
    _reset(proxy, gcp)
    results, out = _playbook(runner, work, "destroy.yml", "-e", '{"adhar_destroy_confirm": "prod-us-east, prod-eu"}',
                             *extra)
    assert _writes(proxy, gcp) == ["eks DELETE /clusters/prod-us-east", "eks DELETE /clusters/prod-us-east/node-groups/workers",
                                   "container.projects.locations.clusters.delete"]
    assert "prod-us-east" not in _eks(proxy, "us-east-1").list_clusters()["clusters"]
    assert GKE_KEY not in gcp.state()["clusters"]
    for name in ("prod-us-west", "prod-us-east", "prod-eu"):  # each file held only its cluster's context: removed
        assert not os.path.exists(os.path.join(cloud_env, ".kube", "config-" + name)), name
    assert gcp.rejected() == []
