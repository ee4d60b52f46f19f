# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guide's HA table against the REAL upstream charts (no cluster).

Each chart the toolchain pins (fetched by `make toolchain` from the Go module proxy) is rendered offline with
`helm template` and the values the core_services role gives with HA on (its catalog's `helm_values` + `ha_helm_values`),
and the rendered objects are checked: replicas of the Argo CD server, repo-server and application controller, of the
ingress controller and the Cilium operator; PostgreSQL replication with 3 instances; Redis with Sentinel; MinIO
distributed. The values are validated against the chart's values.schema.json where it has one, and every dotted key
must exist in the chart's own values.yaml (a misspelt key is silently ignored by helm).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.module_utils._helm import release as H
from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain as pins
from ansible_collections.adhar.platform.plugins.module_utils._config import resolve

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KUBE_VERSION = pins.VERSIONS["kubernetes"].lstrip("v")

with open(os.path.join(REPO, "roles", "core_services", "defaults", "main.yml")) as _f:
    CATALOG = yaml.safe_load(_f)["core_services_catalog"]


def ha_values(svc):
    """The values the role gives with HA on: the HA table and the PodDisruptionBudgets (core_services_pdbs)."""
    spec = CATALOG[svc]
    out = dict(spec.get("helm_values") or {})
    out.update(spec.get("ha_helm_values") or {})
    out.update(spec.get("ha_pdb_helm_values") or {})
    return out


def assert_budgets(objs):
    """Every Deployment and StatefulSet with more than one replica has a PodDisruptionBudget whose selector picks its
    Pods and allows at least one of them to be evicted, and none to leave fewer than one running."""
    multi = {k: o for k, o in objs.items() if k[0] in ("Deployment", "StatefulSet") and (o["spec"].get("replicas") or 1) > 1}
    assert multi, "no workload with more than one replica"
    pdbs = [o for k, o in objs.items() if k[0] == "PodDisruptionBudget"]
    for key, obj in multi.items():
        labels = obj["spec"]["template"]["metadata"].get("labels") or {}
        covering = [p for p in pdbs if (p["spec"].get("selector") or {}).get("matchLabels")
                    and p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert covering, "%s %s has %d replicas and no PodDisruptionBudget" % (key[0], key[1], obj["spec"]["replicas"])
        for p in covering:
            replicas = obj["spec"]["replicas"]
            if p["spec"].get("maxUnavailable") is not None:
                assert str(p["spec"]["maxUnavailable"]) == "1", (key, p["spec"])
            else:
                assert 1 <= int(p["spec"]["minAvailable"]) < replicas, (key, p["spec"])
    return len(multi)


def chart(name):
    if not pins.chart_ready(name):
        pytest.fail("chart %s not fetched into %s (run `make toolchain`)" % (name, pins.chart_dir(name)))
    return pins.chart_dir(name)


def render(helm, chart_dir, release, namespace, dotted, tmp_path, expect_rc=0):
    values = H.desired_values(set_values=dotted)
    vfile = tmp_path / ("%s-values.yaml" % release)
    vfile.write_text(yaml.safe_dump(values))
    proc = subprocess.run([helm, "template", release, chart_dir, "--namespace", namespace, "--kube-version", KUBE_VERSION,
                           "--values", str(vfile)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == expect_rc, proc.stderr[-3000:]
    if expect_rc:
        return proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def key_exists(tree, dotted):
    node = tree
    for part in H.split_key(dotted):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_values(chart_dir, dotted):
    """Every key exists in the chart's values.yaml; the merged values satisfy values.schema.json when there is one."""
    with open(os.path.join(chart_dir, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    missing = [k for k in dotted if not key_exists(defaults, k)]
    assert not missing, "keys unknown to %s/values.yaml: %s" % (chart_dir, missing)
    schema_path = os.path.join(chart_dir, "values.schema.json")
    if not os.path.exists(schema_path):
        return False
    import json

    import jsonschema

    with open(schema_path) as f:
        schema = json.load(f)
    merged = H.deep_merge(copy.deepcopy(defaults), H.desired_values(set_values=dotted))
    # helm validates with draft 7 semantics unless the schema names a later draft; bitnami's "$schema" is the generic
    # "http://json-schema.org/schema#"
    dialect = schema.get("$schema", "")
    cls = (jsonschema.Draft202012Validator if "2020-12" in dialect else
           jsonschema.Draft201909Validator if "2019-09" in dialect else jsonschema.Draft7Validator)
    errors = sorted(e.message for e in cls({k: v for k, v in schema.items() if k != "$schema"}).iter_errors(merged))
    assert not errors, errors
    return True


def container(obj, name):
    return next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env_of(cont):
    return {e["name"]: e.get("value") for e in cont.get("env", [])}


@pytest.fixture(scope="module")
def helm(bin_dir):
    return os.path.join(bin_dir, "helm")


def test_ha_table_is_one_table():
    """The config's HA defaults (inventory) and the role's HA values are the same table."""
    for svc, pairs in resolve.HA_CORE_SERVICE_DEFAULTS.items():
        assert dict(pairs) == CATALOG[svc]["ha_helm_values"], svc


# chart versions in the toolchain cache (the role's catalog pins the repository versions, which may differ)
CACHED_VERSIONS = {"cilium": "1.19.6", "ingress-nginx": "4.11.0", "postgresql": "17.1.1", "redis": "23.1.1",
                   "minio": "5.4.0", "argo-cd": "10.8.0"}


def test_catalog_toolchain_charts_are_pinned():
    """The services the role installs from the toolchain cache name charts the toolchain pins and can install."""
    marked = [svc for svc, spec in CATALOG.items() if spec.get("toolchain")]
    assert sorted(marked) == ["cilium", "minio", "nginx", "postgresql", "redis"]
    for svc in marked:
        name = CATALOG[svc]["chart"]["name"]
        assert name in pins.installable_charts(), svc
    for name, version in CACHED_VERSIONS.items():
        meta = H.read_chart_metadata(chart(name))
        assert (meta["name"], str(meta["version"])) == (name, version)


def test_cilium_operator_replicas(helm, tmp_path):
    d, values = chart("cilium"), ha_values("cilium")
    check_values(d, values)
    objs = render(helm, d, "cilium", "kube-system", values, tmp_path)
    assert objs[("Deployment", "cilium-operator")]["spec"]["replicas"] == 3
    assert ("DaemonSet", "cilium") in objs
    assert assert_budgets(objs) == 1


def test_ingress_controller_replicas(helm, tmp_path):
    d, values = chart("ingress-nginx"), ha_values("nginx")
    check_values(d, values)
    objs = render(helm, d, "ingress-nginx", "ingress-nginx", values, tmp_path)
    assert objs[("Deployment", "ingress-nginx-controller")]["spec"]["replicas"] == 3
    assert assert_budgets(objs) == 1


def test_postgresql_replication_three_instances(helm, tmp_path):
    d, values = chart("postgresql"), ha_values("postgresql")
    assert check_values(d, values)  # bitnami postgresql has a values.schema.json
    objs = render(helm, d, "postgresql", "adhar-data", values, tmp_path)
    primary, read = objs[("StatefulSet", "postgresql-primary")], objs[("StatefulSet", "postgresql-read")]
    assert primary["spec"]["replicas"] + read["spec"]["replicas"] == 3 and read["spec"]["replicas"] == 2
    assert ("StatefulSet", "postgresql") not in objs
    assert env_of(container(primary, "postgresql"))["POSTGRES_REPLICATION_MODE"] == "master"
    read_env = env_of(container(read, "postgresql"))
    assert read_env["POSTGRES_REPLICATION_MODE"] == "slave"
    assert read_env["POSTGRES_MASTER_HOST"] == "postgresql-primary"
    assert assert_budgets(objs) == 1  # the read replicas (the primary is one Pod; its budget comes with the chart)


def test_redis_sentinel(helm, tmp_path):
    d, values = chart("redis"), ha_values("redis")
    assert check_values(d, values)  # bitnami redis has a values.schema.json
    objs = render(helm, d, "redis", "adhar-data", values, tmp_path)
    node = objs[("StatefulSet", "redis-node")]
    assert node["spec"]["replicas"] == 3
    assert {c["name"] for c in node["spec"]["template"]["spec"]["containers"]} >= {"redis", "sentinel"}
    assert ("StatefulSet", "redis-master") not in objs and ("StatefulSet", "redis-replicas") not in objs
    assert assert_budgets(objs) == 1


def test_minio_distributed(helm, tmp_path):
    d, values = chart("minio"), ha_values("minio")
    check_values(d, values)
    objs = render(helm, d, "minio", "adhar-data", values, tmp_path)
    sts = objs[("StatefulSet", "minio")]
    assert sts["spec"]["replicas"] == 4 and ("Deployment", "minio") not in objs
    # every server is started with the 4 endpoints of the set (erasure coding across them)
    command = " ".join(container(sts, "minio")["command"])
    assert "minio-{0...3}.minio-svc" in command, command
    assert assert_budgets(objs) == 1


def test_argocd_replicas(helm, tmp_path):
    """argo-helm's argo-cd: the replica keys of the HA table, on the real templates. Its redis-ha dependency is not
    served by the Go module proxy: helm refuses the chart as fetched (why Argo CD is not installed from the toolchain
    cache), so the replicas are checked on a copy whose Chart.yaml drops that dependency, with redis-ha off."""
    d, values = chart("argo-cd"), ha_values("argocd")
    check_values(d, values)
    err = render(helm, d, "argocd", "argocd", values, tmp_path, expect_rc=1)
    assert "redis-ha" in err
    copied = str(tmp_path / "argo-cd")
    shutil.copytree(d, copied)
    meta_path = os.path.join(copied, "Chart.yaml")
    with open(meta_path) as f:
        meta = yaml.safe_load(f)
    meta["dependencies"] = [dep for dep in meta.get("dependencies", []) if dep["name"] != "redis-ha"]
    with open(meta_path, "w") as f:
        yaml.safe_dump(meta, f)
    if os.path.exists(os.path.join(copied, "Chart.lock")):
        os.remove(os.path.join(copied, "Chart.lock"))
    objs = render(helm, copied, "argocd", "argocd", dict(values, **{"redis-ha.enabled": "false"}), tmp_path)
    assert objs[("Deployment", "argocd-server")]["spec"]["replicas"] == 2
    assert objs[("Deployment", "argocd-repo-server")]["spec"]["replicas"] == 2
    assert objs[("StatefulSet", "argocd-application-controller")]["spec"]["replicas"] == 2
    assert assert_budgets(objs) == 3


def test_no_budgets_without_ha_or_when_turned_off(helm, tmp_path):
    """The budgets come with the HA values only (core_services_pdbs off: none from the role)."""
    d = chart("minio")
    spec = CATALOG["minio"]
    plain = render(helm, d, "minio", "adhar-data", dict(spec["helm_values"]), tmp_path)
    assert not [k for k in plain if k[0] == "PodDisruptionBudget"]
    ha_only = render(helm, d, "minio", "adhar-data", dict(spec["helm_values"], **spec["ha_helm_values"]), tmp_path)
    assert not [k for k in ha_only if k[0] == "PodDisruptionBudget"]


@pytest.mark.parametrize("svc", ["postgresql", "redis", "minio"])
def test_no_persistence_values_drop_every_claim(helm, tmp_path, svc):
    """Local clusters have no storage provisioner: the catalog's no_persistence_helm_values leave no claim to bind."""
    name, namespace = CATALOG[svc]["chart"]["name"], CATALOG[svc]["namespace"]
    d = chart(name)
    with_claims = render(helm, d, svc, namespace, ha_values(svc), tmp_path)
    assert any(o.get("spec", {}).get("volumeClaimTemplates") for o in with_claims.values())
    values = dict(ha_values(svc), **CATALOG[svc]["no_persistence_helm_values"])
    check_values(d, values)
    objs = render(helm, d, svc, namespace, values, tmp_path)
    assert not [k for k, o in objs.items() if o.get("spec", {}).get("volumeClaimTemplates") or k[0] == "PersistentVolumeClaim"]
