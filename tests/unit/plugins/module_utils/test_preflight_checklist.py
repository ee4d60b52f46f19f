# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""preflight: each checklist item and the flag rules, over an in-process fake of the Kubernetes API."""

from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._preflight import checks, flags, run
from ansible_collections.adhar.platform.plugins.module_utils._storage.local import LocalStorage

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


class FakeAPI:
    """``raw("GET", path)`` answered from ``paths`` (404 for anything else); records the reads."""

    def __init__(self, paths=None, errors=None):
        self.paths = dict(paths or {})
        self.errors = dict(errors or {})
        self.reads = []

    def raw(self, method, path, raise_for_status=True):
        assert method == "GET" and raise_for_status is False
        self.reads.append(path)
        if path in self.errors:
            return self.errors[path]
        if path in self.paths:
            return 200, self.paths[path]
        return 404, {"message": "not found"}


def lst(*objs):
    return {"items": list(objs)}


def obj(name, namespace=None, labels=None, **rest):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return dict(rest, metadata=meta)


class FakeCluster:
    def __init__(self, argv, members=1, state_file="/state/demo/cluster.json"):
        self.argv = argv
        self.members = members
        self.ports = {"api": 40123}
        self.layout = type("L", (), {"state_file": state_file})()

    def process_names(self):
        return list(self.argv)

    def command(self, name):
        return self.argv[name]


GOOD_APISERVER = ["kube-apiserver", "--anonymous-auth=false", "--authorization-mode=Node,RBAC",
                  "--enable-admission-plugins=NodeRestriction", "--profiling=false", "--audit-log-path=/l/audit.log",
                  "--audit-log-maxage=30", "--audit-log-maxbackup=10", "--audit-log-maxsize=100",
                  "--audit-policy-file=/c/audit-policy.yaml", "--service-account-key-file=/p/sa.pub",
                  "--etcd-certfile=/p/e.crt", "--etcd-keyfile=/p/e.key", "--etcd-cafile=/p/etcd-ca.crt",
                  "--tls-cert-file=/p/a.crt", "--tls-private-key-file=/p/a.key", "--client-ca-file=/p/ca.crt",
                  "--encryption-provider-config=/c/enc.yaml",
                  "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
                  "--tls-min-version=VersionTLS12"]
GOOD_ETCD = ["etcd", "--cert-file=/p/e.crt", "--key-file=/p/e.key", "--client-cert-auth", "--peer-cert-file=/p/e.crt",
             "--peer-key-file=/p/e.key", "--peer-client-cert-auth", "--listen-client-urls=https://127.0.0.1:2379",
             "--trusted-ca-file=/p/etcd-ca.crt"]


def ctx_for(paths=None, params=None, local=None, storage=None, backups=None, **kw):
    p = {"cert_min_days": 30, "timeout": 1.0, "backup_max_age_seconds": 25 * 3600, "backup_retention_seconds": None,
         "monitoring_urls": []}
    p.update(params or {})
    return checks.Context(FakeAPI(paths), p, local=local, storage=storage,
                          list_backups=lambda st, cluster: [b for b in backups or [] if cluster in (None, b.get("cluster"))],
                          now=NOW, **kw)


# ------------------------------------------------------------------------------------------ flags
def test_parse_flags_forms():
    assert flags.parse_flags(["bin", "--a=b", "--c", "d", "--e", "--f=1", "--f=2", "-v"]) == {
        "a": "b", "c": "d", "e": "true", "f": "1,2", "v": "true"}


def test_flag_rules_pass_on_a_hardened_command_line_and_name_each_miss():
    good = flags.evaluate([{"process": "apiserver-0", "kind": "apiserver", "argv": GOOD_APISERVER, "source": "s"},
                           {"process": "etcd-0", "kind": "etcd", "argv": GOOD_ETCD, "source": "s"}])
    assert good["apiserver"]["status"] == "pass" and good["etcd"]["status"] == "pass", good
    bad_argv = ["kube-apiserver", "--authorization-mode=AlwaysAllow", "--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA",
                "--tls-min-version=VersionTLS10", "--token-auth-file=/t.csv", "--client-ca-file=/p/etcd-ca.crt"]
    bad_etcd = ["etcd", "--auto-tls=true", "--listen-client-urls=http://0.0.0.0:2379", "--trusted-ca-file=/p/etcd-ca.crt"]
    bad = flags.evaluate([{"process": "apiserver-0", "kind": "apiserver", "argv": bad_argv, "source": "s"},
                          {"process": "etcd-0", "kind": "etcd", "argv": bad_etcd, "source": "s"}])
    by_id = {c["id"]: c for r in bad.values() for c in r["checks"]}
    for rule in ("apiserver.anonymous-auth", "apiserver.authorization-mode", "apiserver.tls-cipher-suites",
                 "apiserver.tls-min-version", "apiserver.token-auth-file", "apiserver.encryption-provider-config",
                 "etcd.client-cert-auth", "etcd.auto-tls", "etcd.client-urls", "etcd.unique-ca"):
        assert by_id[rule]["status"] == "fail", (rule, by_id[rule])
    assert "AlwaysAllow" in by_id["apiserver.authorization-mode"]["problem"]
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in by_id["apiserver.tls-cipher-suites"]["problem"]
    # unset cipher suites and minimum version: a warning, not a failure
    unset = flags.evaluate([{"process": "a", "kind": "apiserver", "argv": ["kube-apiserver"], "source": "s"}])
    assert {c["id"]: c["status"] for c in unset["apiserver"]["checks"]}["apiserver.tls-min-version"] == "warn"


def test_flag_rule_is_the_worst_member_and_names_it():
    other = [a for a in GOOD_APISERVER if not a.startswith("--anonymous-auth")]
    res = flags.evaluate([{"process": "apiserver-0", "kind": "apiserver", "argv": GOOD_APISERVER, "source": "s"},
                          {"process": "apiserver-1", "kind": "apiserver", "argv": other, "source": "s"}])
    anon = next(c for c in res["apiserver"]["checks"] if c["id"] == "apiserver.anonymous-auth")
    assert anon["status"] == "fail" and anon["problem"].startswith("apiserver-1:")


def test_local_processes_read_proc_cmdline_else_the_configured_command():
    me = os.getpid()
    cluster = FakeCluster({"etcd-0": GOOD_ETCD, "apiserver-0": GOOD_APISERVER, "kwok": ["kwok"]})
    procs = flags.local_processes(cluster, {"apiserver-0": {"state": "RUNNING", "pid": me}, "etcd-0": {"state": "STOPPED"}})
    by = {p["process"]: p for p in procs}
    assert set(by) == {"etcd-0", "apiserver-0"}  # kwok is no control-plane program
    # our own pid is python, not kube-apiserver: the configured command line is used, and said so
    assert by["apiserver-0"]["argv"] == GOOD_APISERVER and "configured" in by["apiserver-0"]["source"]
    assert "stopped" in by["etcd-0"]["source"]
    assert flags.read_cmdline(me)[0].endswith(("python", "python3", "python3.11")) or flags.read_cmdline(me)


def test_static_pod_processes():
    pods = [obj("kube-apiserver-cp1", "kube-system", {"component": "kube-apiserver", "tier": "control-plane"},
                spec={"containers": [{"command": ["kube-apiserver", "--profiling=false"]}]}),
            obj("etcd-cp1", "kube-system", {"component": "etcd"}, spec={"containers": [{"command": ["etcd"], "args": ["--client-cert-auth=true"]}]}),
            obj("other", "kube-system", {"component": "coredns"}, spec={"containers": [{"command": ["coredns"]}]})]
    procs = flags.static_pod_processes(pods)
    assert [(p["kind"], p["argv"]) for p in procs] == [("apiserver", ["kube-apiserver", "--profiling=false"]),
                                                       ("etcd", ["etcd", "--client-cert-auth=true"])]


# ------------------------------------------------------------------------------------------ infrastructure
def test_multi_az():
    def nodes(*zones):
        return {"/api/v1/nodes": lst(*[obj("n%d" % i, labels={"topology.kubernetes.io/zone": z} if z else {})
                                       for i, z in enumerate(zones)])}

    assert checks.check_multi_az(ctx_for(nodes("a", "b")))[0] == "pass"
    assert checks.check_multi_az(ctx_for(nodes("a", "a")))[0] == "fail"
    assert checks.check_multi_az(ctx_for(nodes("a", "b", None)))[0] == "warn"
    status, detail, evidence = checks.check_multi_az(ctx_for(nodes(None)))
    assert status == "unknown" and "zone label" in detail and evidence[0]["read"].startswith("GET /api/v1/nodes")
    local = {"name": "demo", "cluster": FakeCluster({}, members=3)}
    assert checks.check_multi_az(ctx_for(nodes("a", "b"), local=local))[0] == "fail"


def test_load_balancer():
    def svc(ingress):
        return obj("web", "prod", spec={"type": "LoadBalancer"},
                   status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]} if ingress else {}})

    assert checks.check_load_balancer(ctx_for({"/api/v1/services": lst(svc(True))}))[0] == "pass"
    status, detail, dummy = checks.check_load_balancer(ctx_for({"/api/v1/services": lst(svc(False))}))
    assert status == "fail" and "prod/web" in detail
    assert checks.check_load_balancer(ctx_for({"/api/v1/services": lst()}))[0] == "fail"
    ha = {"name": "demo", "cluster": FakeCluster({}, members=3), "states": {"haproxy": {"state": "RUNNING"}}}
    assert checks.check_load_balancer(ctx_for({}, local=ha))[0] == "pass"
    ha["states"] = {"haproxy": {"state": "STOPPED"}}
    assert checks.check_load_balancer(ctx_for({}, local=ha))[0] == "fail"
    single = {"name": "demo", "cluster": FakeCluster({}, members=1)}
    assert "ha: true" in checks.check_load_balancer(ctx_for({}, local=single))[1]


def test_dns_certificates():
    dns = {"/api/v1/namespaces/kube-system/services": lst(obj("kube-dns", "kube-system", {"k8s-app": "kube-dns"},
                                                              spec={"clusterIP": "10.96.0.10"})),
           "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkube-dns":
               lst({"endpoints": [{"conditions": {"ready": True}}]})}
    fresh = [{"source": "/p/ca.crt", "days_left": 3000}]
    assert checks.check_dns_certificates(ctx_for(dns, cert_entries=fresh))[0] == "pass"
    status, detail, dummy = checks.check_dns_certificates(ctx_for(dns, cert_entries=[{"source": "/p/a.crt", "days_left": 5}]))
    assert status == "fail" and "a.crt" in detail
    status, detail, dummy = checks.check_dns_certificates(ctx_for({}, cert_entries=fresh))
    assert status == "fail" and "kube-dns" in detail
    ing = dict(dns, **{"/apis/networking.k8s.io/v1/ingresses": lst(obj("site", "web", spec={"rules": [{"host": "a.example"}]}))})
    status, detail, dummy = checks.check_dns_certificates(ctx_for(ing, cert_entries=fresh))
    assert status == "warn" and "web/site" in detail


def test_backup(tmp_path):
    storage = LocalStorage(str(tmp_path))
    params = {"backup_cluster": "prod"}
    assert checks.check_backup(ctx_for(params=params))[0] == "fail"
    recent = {"name": "prod-1", "cluster": "prod", "complete": True, "time": "2026-06-01T02:00:00Z"}
    old = {"name": "prod-0", "cluster": "prod", "complete": True, "time": "2026-05-29T02:00:00Z"}
    partial = {"name": "prod-2", "cluster": "prod", "complete": False, "time": "2026-06-01T11:00:00Z"}
    assert checks.check_backup(ctx_for(params=params, storage=storage, backups=[old, recent, partial]))[0] == "pass"
    status, detail, dummy = checks.check_backup(ctx_for(params=params, storage=storage, backups=[old, partial]))
    assert status == "fail" and "prod-0" in detail and "old" in detail
    other = dict(recent, cluster="staging")
    assert checks.check_backup(ctx_for(params=params, storage=storage, backups=[other]))[0] == "fail"
    missing = LocalStorage(str(tmp_path / "nowhere"))
    status, detail, dummy = checks.check_backup(ctx_for(params=params, storage=missing, backups=[recent]))
    assert status == "fail" and "cannot be read" in detail


def test_monitoring():
    def up(url, timeout):
        return 200, None

    def down(url, timeout):
        return None, "connection refused"

    params = {"monitoring_urls": ["http://prom:9090/-/ready"]}
    assert checks.check_monitoring(ctx_for(params=params, http_get=up))[0] == "pass"
    status, detail, evidence = checks.check_monitoring(ctx_for(params=params, http_get=down))
    assert status == "fail" and "prom:9090" in detail and evidence[0]["showed"] == "connection refused"
    assert checks.check_monitoring(ctx_for({}))[0] == "fail"
    svc = {"/api/v1/services": lst(obj("kube-prometheus-stack-prometheus", "monitoring")),
           "/apis/discovery.k8s.io/v1/namespaces/monitoring/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D"
           "kube-prometheus-stack-prometheus": lst({"endpoints": [{"conditions": {"ready": True}}]})}
    assert checks.check_monitoring(ctx_for(svc))[0] == "pass"
    metrics = {"/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io": {"status": {"conditions": [
        {"type": "Available", "status": "False"}]}}}
    assert checks.check_monitoring(ctx_for(metrics))[0] == "fail"


# ------------------------------------------------------------------------------------------ security
NAMESPACES = {"/api/v1/namespaces": lst(obj("default"), obj("kube-system"), obj("prod"))}


def test_network_policies():
    assert checks.check_network_policies(ctx_for(NAMESPACES))[0] == "fail"
    one = dict(NAMESPACES, **{"/apis/networking.k8s.io/v1/networkpolicies": lst(obj("deny", "prod"))})
    status, detail, dummy = checks.check_network_policies(ctx_for(one))
    assert status == "warn" and "default" in detail
    both = dict(NAMESPACES, **{"/apis/networking.k8s.io/v1/networkpolicies": lst(obj("deny", "prod"), obj("deny", "default"))})
    assert checks.check_network_policies(ctx_for(both))[0] == "pass"


RBAC = {"/apis/rbac.authorization.k8s.io/v1": {"resources": [{"name": "clusterroles"}]},
        "/apis/rbac.authorization.k8s.io/v1/clusterroles": lst(obj("system:basic-user"), obj("admin", labels={
            "kubernetes.io/bootstrapping": "rbac-defaults"})),
        "/apis/rbac.authorization.k8s.io/v1/roles": lst(),
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": lst(obj("cluster-admin", labels={
            "kubernetes.io/bootstrapping": "rbac-defaults"}, roleRef={"name": "cluster-admin"},
            subjects=[{"kind": "Group", "name": "system:masters"}]))}


def test_rbac():
    status, detail, dummy = checks.check_rbac(ctx_for(RBAC))
    assert status == "fail" and "built-in" in detail
    own = dict(RBAC, **{"/apis/rbac.authorization.k8s.io/v1/roles": lst(obj("developer", "prod"))})
    assert checks.check_rbac(ctx_for(own))[0] == "pass"
    anon = dict(own, **{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": lst(obj(
        "open", roleRef={"name": "view"}, subjects=[{"kind": "Group", "name": "system:unauthenticated"}]))})
    status, detail, dummy = checks.check_rbac(ctx_for(anon))
    assert status == "fail" and "open" in detail
    admin = dict(own, **{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": lst(obj(
        "ci", roleRef={"name": "cluster-admin"}, subjects=[{"kind": "ServiceAccount", "name": "ci"}]))})
    assert checks.check_rbac(ctx_for(admin))[0] == "warn"
    assert checks.check_rbac(ctx_for({}))[0] == "fail"


def _local(tmp_path, argv, states=None):
    cluster = FakeCluster({"apiserver-0": argv, "etcd-0": GOOD_ETCD}, state_file=str(tmp_path / "cluster.json"))
    return {"name": "demo", "cluster": cluster, "states": states}


def test_secrets_encryption(tmp_path):
    enc = tmp_path / "enc.yaml"
    argv = [a if not a.startswith("--encryption-provider-config") else "--encryption-provider-config=" + str(enc) for a in GOOD_APISERVER]
    enc.write_text("resources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: x}]}\n  - identity: {}\n")
    assert checks.check_secrets_encryption(ctx_for(local=_local(tmp_path, argv)))[0] == "pass"
    enc.write_text("resources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n")
    status, detail, dummy = checks.check_secrets_encryption(ctx_for(local=_local(tmp_path, argv)))
    assert status == "fail" and "identity" in detail
    plain = [a for a in argv if not a.startswith("--encryption")]
    assert checks.check_secrets_encryption(ctx_for(local=_local(tmp_path, plain)))[0] == "fail"
    # no control-plane Pod and no local cluster: cannot be judged from the cluster
    status, detail, dummy = checks.check_secrets_encryption(ctx_for({}))
    assert status == "unknown" and "managed" in detail


def test_audit_logging_and_trails(tmp_path):
    log, policy = tmp_path / "audit.log", tmp_path / "policy.yaml"
    argv = [a for a in GOOD_APISERVER if not a.startswith(("--audit-log-path", "--audit-policy-file"))]
    argv += ["--audit-log-path=" + str(log), "--audit-policy-file=" + str(policy)]
    policy.write_text("rules:\n- level: Metadata\n  resources: [{group: '', resources: [secrets]}]\n- level: Request\n  resources: [{group: apps}]\n")
    status, detail, dummy = checks.check_audit_logging(ctx_for(local=_local(tmp_path, argv)))
    assert status == "fail" and "does not exist" in detail
    log.write_text("{}\n")
    assert checks.check_audit_logging(ctx_for(local=_local(tmp_path, argv)))[0] == "pass"
    assert checks.check_audit_trails(ctx_for(local=_local(tmp_path, argv)))[0] == "pass"
    policy.write_text("rules:\n- level: RequestResponse\n")
    status, detail, dummy = checks.check_audit_trails(ctx_for(local=_local(tmp_path, argv)))
    assert status == "fail" and "Secret bodies" in detail
    policy.write_text("rules:\n- level: Metadata\n")
    no_age = [a for a in argv if not a.startswith("--audit-log-maxage")]
    assert checks.check_audit_trails(ctx_for(local=_local(tmp_path, no_age)))[0] == "warn"
    off = [a for a in argv if not a.startswith("--audit")]
    assert checks.check_audit_logging(ctx_for(local=_local(tmp_path, off)))[0] == "fail"
    assert checks.check_audit_trails(ctx_for(local=_local(tmp_path, off)))[0] == "fail"


def test_security_scanning():
    assert checks.check_security_scanning(ctx_for({"/apis": {"groups": [{"name": "apps"}]}}))[0] == "fail"
    trivy = {"/apis": {"groups": [{"name": "aquasecurity.github.io"}]},
             "/apis/aquasecurity.github.io/v1alpha1": {"resources": [{"name": "vulnerabilityreports"}]},
             "/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports": lst()}
    assert checks.check_security_scanning(ctx_for(trivy))[0] == "warn"
    trivy["/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports"] = lst(obj("r", "prod"))
    assert checks.check_security_scanning(ctx_for(trivy))[0] == "pass"


# ------------------------------------------------------------------------------------------ compliance
def test_policy_enforcement():
    assert checks.check_policy_enforcement(ctx_for(NAMESPACES))[0] == "fail"
    label = {"pod-security.kubernetes.io/enforce": "restricted"}
    some = {"/api/v1/namespaces": lst(obj("default"), obj("prod", labels=label))}
    assert checks.check_policy_enforcement(ctx_for(some))[0] == "warn"
    every = {"/api/v1/namespaces": lst(obj("default", labels=label), obj("prod", labels=label), obj("kube-system"))}
    assert checks.check_policy_enforcement(ctx_for(every))[0] == "pass"
    vap = dict(NAMESPACES, **{"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings": lst(
        obj("no-latest", spec={"validationActions": ["Deny"]}))})
    assert checks.check_policy_enforcement(ctx_for(vap))[0] == "pass"


def test_compliance(tmp_path):
    assert checks.check_compliance(ctx_for({}))[0] == "unknown"
    good = _local(tmp_path, GOOD_APISERVER)
    assert checks.check_compliance(ctx_for(local=good))[0] == "pass"
    bad = _local(tmp_path, [a for a in GOOD_APISERVER if not a.startswith("--anonymous")])
    status, detail, dummy = checks.check_compliance(ctx_for(local=bad))
    assert status == "fail" and "apiserver.anonymous-auth" in detail
    reports = {"/apis/aquasecurity.github.io/v1alpha1": {"resources": [{"name": "clustercompliancereports"}]},
               "/apis/aquasecurity.github.io/v1alpha1/clustercompliancereports": lst(obj("cis", status={"summary": {"failCount": 3}}))}
    assert checks.check_compliance(ctx_for(reports))[0] == "fail"


def test_data_retention(tmp_path):
    storage = LocalStorage(str(tmp_path))
    assert checks.check_data_retention(ctx_for(storage=storage))[0] == "fail"
    params = {"backup_retention_seconds": 7 * 86400}
    kept = [{"name": "b1", "time": "2026-05-30T02:00:00Z"}]
    assert checks.check_data_retention(ctx_for(params=params, storage=storage, backups=kept))[0] == "pass"
    expired = [{"name": "b0", "time": "2026-05-01T02:00:00Z"}] + kept
    status, detail, dummy = checks.check_data_retention(ctx_for(params=params, storage=storage, backups=expired))
    assert status == "fail" and "b0" in detail
    assert checks.check_data_retention(ctx_for(params=params))[0] == "fail"


# ------------------------------------------------------------------------------------------ run
def test_a_failed_read_is_unknown_naming_the_read():
    ctx = checks.Context(FakeAPI(errors={"/api/v1/nodes": (403, {"message": "forbidden"})}), {}, now=NOW)
    res = run.evaluate(ctx, ["multi_az"])
    assert res[0]["status"] == "unknown" and "GET /api/v1/nodes: HTTP 403 forbidden" in res[0]["detail"]


def test_evaluate_order_selection_table_and_flag_rows(tmp_path):
    local = _local(tmp_path, [a for a in GOOD_APISERVER if not a.startswith("--anonymous")])
    ctx = ctx_for(RBAC, local=local)
    res = run.evaluate(ctx, ["apiserver_flags", "rbac"])
    assert [r["id"] for r in res] == ["rbac", "apiserver_flags"]
    assert res[1]["status"] == "fail" and any(c["id"] == "apiserver.anonymous-auth" for c in res[1]["checks"])
    table = run.format_table("demo", res)
    lines = table.splitlines()
    assert lines[0].split() == ["CATEGORY", "ITEM", "STATUS", "DETAIL"]
    assert any(line.split()[:2] == ["anonymous-auth", "FAIL"] for line in lines)
    assert lines[-1] == "demo: 0 pass, 0 warn, 2 fail, 0 cannot be judged from the cluster"


def test_validation():
    base = {"name": None, "items": None, "skip": [], "backup_max_age": "25h", "backup_retention": None, "monitoring_urls": []}
    assert run._validate(base)["selected"] == list(run.ITEM_IDS)
    assert run._validate(dict(base, items=["rbac", "backup"], skip=["backup"]))["selected"] == ["rbac"]
    assert run._validate(dict(base, backup_retention=30))["backup_retention_seconds"] == 30 * 86400
    for bad, option in ((dict(base, backup_max_age="soon"), "backup_max_age"), (dict(base, monitoring_urls=["prom:9090"]), "monitoring_urls"),
                        (dict(base, items=["rbac"], skip=["rbac"]), "skip"), (dict(base, name=" "), "name")):
        with pytest.raises(AdharError) as exc:
            run._validate(bad)
        assert exc.value.details["option"] == option


def test_audit_policy_first_matching_rule_decides():
    levels = checks._secret_body_levels
    assert levels([{"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}, {"level": "RequestResponse"}]) == []
    # a rule for some users only lets the others' Secret requests reach the next rule
    assert levels([{"level": "Metadata", "users": ["admin"]}, {"level": "Request"}]) == ["Request"]
    assert levels([{"level": "Request", "resources": [{"group": "apps"}]}, {"level": "Metadata"}]) == []
    assert levels([{"level": "None", "nonResourceURLs": ["/healthz*"]}, {"level": "RequestResponse"}]) == ["RequestResponse"]


def test_flags_of_an_existing_cluster_come_from_its_control_plane_pods():
    pods = lst(obj("kube-apiserver-cp", "kube-system", {"component": "kube-apiserver", "tier": "control-plane"},
                   spec={"containers": [{"command": GOOD_APISERVER}]}))
    ctx = ctx_for({"/api/v1/namespaces/kube-system/pods?labelSelector=tier%3Dcontrol-plane": pods})
    status, detail, evidence, flag_checks = checks.flags_check("apiserver")(ctx)
    assert status == "pass" and evidence[0]["read"].startswith("Pod kube-system/kube-apiserver-cp") and flag_checks
    # the encryption configuration on the node is not readable from here: the flag is the evidence
    assert checks.check_secrets_encryption(ctx)[0] == "pass"
    assert checks.flags_check("etcd")(ctx)[0] == "unknown"
