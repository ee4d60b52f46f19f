# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.restore against real local clusters.

A source cluster is filled, backed up with adhar.platform.backup (encrypted) and removed; a second cluster
receives the restores.  Only one local cluster of this module is alive at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import uuid

import pytest

import moto_server
from moto_server import REGION

moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)

KEY = base64.b64encode(b"k" * 32).decode()
WRONG_KEY = base64.b64encode(b"w" * 32).decode()


def _crd(group, kind, plural):
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    names = {"kind": kind, "plural": plural, "singular": kind.lower()}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": plural + "." + group},
            "spec": {"group": group, "scope": "Namespaced", "names": names,
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}]}}


CRD = _crd("example.com", "Widget", "widgets")


def _deployment(ns, name, app, extra_spec=None):
    pod = {"serviceAccountName": "%s-sa" % name,
           "volumes": [{"name": "conf", "configMap": {"name": "%s-conf" % name}}],
           "containers": [{"name": "app", "image": "registry.example/%s:1" % name,
                           "envFrom": [{"secretRef": {"name": "%s-secret" % name}}]}]}
    pod.update(extra_spec or {})
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": app}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"run": name}},
                     "template": {"metadata": {"labels": {"run": name, "app.kubernetes.io/name": app}}, "spec": pod}}}


def _objects():
    out = [CRD]
    for ns in ("shop", "tools"):
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}})
    for name, app in (("web", "web"), ("api", "api")):
        out += [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "%s-sa" % name, "namespace": "shop"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "%s-conf" % name, "namespace": "shop"},
             "data": {"setting": "value-of-%s" % name}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "%s-secret" % name, "namespace": "shop"},
             "stringData": {"password": "pw-%s-very-secret" % name}},
            _deployment("shop", name, app),
        ]
    out += [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
         "spec": {"selector": {"run": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-np", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
         "spec": {"type": "NodePort", "selector": {"run": "web"},
                  "ports": [{"name": "a", "port": 80, "nodePort": 30777}, {"name": "b", "port": 81}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
         "spec": {"selector": {"run": "api"}, "ports": [{"port": 80}]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "web-reader", "namespace": "shop"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "web-reader", "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "web-sa", "namespace": "shop"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "restore-test-viewer"},
         "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "restore-test-viewer"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "restore-test-viewer"},
         "subjects": [{"kind": "ServiceAccount", "name": "web-sa", "namespace": "shop"}]},
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "shop",
                                                                        "labels": {"app.kubernetes.io/name": "web"}},
         "spec": {"size": 3}},
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2", "namespace": "tools"}, "spec": {"size": 5}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tool-conf", "namespace": "tools"}, "data": {"a": "b"}},
    ]
    return out


TYPES = "configmaps,secrets,deployments.apps,services,serviceaccounts,roles,rolebindings,widgets.example.com"


def kubectl(bin_dir, kubeconfig, *args):
    out = subprocess.run([os.path.join(bin_dir, "kubectl"), "--kubeconfig", kubeconfig] + list(args),
                         capture_output=True, text=True, check=True, timeout=120)
    return out.stdout


def snapshot(bin_dir, kubeconfig, namespaces=("shop", "tools"), rename=None):
    """Normalised objects: names, specs, data (Secrets decoded), without what the cluster assigns."""
    out = {}
    for ns in namespaces:
        data = json.loads(kubectl(bin_dir, kubeconfig, "get", TYPES, "-n", ns, "-o", "json"))
        for obj in data["items"]:
            meta = obj["metadata"]
            if obj["kind"] == "ConfigMap" and meta["name"] == "kube-root-ca.crt":
                continue
            if obj["kind"] == "ServiceAccount" and meta["name"] == "default":
                continue
            labels = {k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("backup.adhar.io/")}
            body = {"labels": labels}
            if obj["kind"] in ("ConfigMap", "Secret"):
                body["data"] = obj.get("data")
            if obj["kind"] == "Service":
                spec = dict(obj["spec"])
                for k in ("clusterIP", "clusterIPs"):
                    spec.pop(k, None)
                spec["ports"] = [{k: v for k, v in p.items() if not (k == "nodePort" and p.get("name") == "b")}
                                 for p in spec.get("ports") or []]
                body["spec"] = spec
            elif "spec" in obj:
                body["spec"] = obj["spec"]
            for key in ("rules", "roleRef", "subjects"):
                if key in obj:
                    body[key] = obj[key]
            target_ns = (rename or {}).get(ns, ns)
            out[(obj["kind"], target_ns, meta["name"])] = body
    return out


@pytest.fixture(scope="module")
def backup(runner, make_local_cluster, bin_dir, tmp_path_factory):
    """Fill a source cluster, back it up (encrypted) with adhar.platform.backup, remove the cluster."""
    store = str(tmp_path_factory.mktemp("restore-store"))
    with make_local_cluster("rsrc", 1) as kc:
        runner.module("adhar.platform.apply", {"kubeconfig": kc, "definitions": _objects()})
        # let the controllers make ReplicaSets and Pods (they are skipped by the restore)
        kubectl(bin_dir, kc, "wait", "--for=condition=Available", "deployment/web", "deployment/api", "-n", "shop", "--timeout=60s")
        expected = snapshot(bin_dir, kc)
        rs = json.loads(kubectl(bin_dir, kc, "get", "replicasets", "-n", "shop", "-o", "json"))["items"]
        assert rs, "the source cluster has no ReplicaSets"
        r = runner.module("adhar.platform.backup", {"kubeconfig": kc, "cluster": "rsrc", "name": "rsrc-1",
                                                    "storage": {"url": "file://" + store}, "encryption": {"key": KEY}})
        assert r["backup"]["complete"] is True
        assert r["backup"]["verify_key_id"].startswith("ed25519:"), r["backup"]
        assert _load_manifest(store, "rsrc-1")["packs"], "the restore tests read a packed backup (format 2.0)"
        nodeport = json.loads(kubectl(bin_dir, kc, "get", "service", "web-np", "-n", "shop", "-o", "json"))
    return {"store": store, "name": "rsrc-1", "expected": expected, "nodeport": nodeport,
            "verify_key": r["backup"]["verify_key"]}


@pytest.fixture(scope="module")
def target(make_local_cluster, backup):
    with make_local_cluster("rdst", 1) as kc:
        yield kc


def restore_args(target, backup, **extra):
    args = {"kubeconfig": target, "backup": backup["name"], "storage": {"url": "file://" + backup["store"]},
            "encryption": {"key": KEY}}
    args.update(extra)
    return args


def namespaces(bin_dir, kc):
    return {o["metadata"]["name"] for o in json.loads(kubectl(bin_dir, kc, "get", "namespaces", "-o", "json"))["items"]}


def test_bad_archives_are_refused_before_anything_is_applied(runner, target, backup, bin_dir, tmp_path):
    before = namespaces(bin_dir, target)
    # one byte flipped in one item file
    bad = str(tmp_path / "bad")
    shutil.copytree(backup["store"], bad)
    data = bytearray(_item_bytes(bad, backup["name"]))
    data[len(data) // 2] ^= 0x01
    _write_item(bad, backup["name"], CM_ITEM, bytes(data), recompute=False)
    r = runner.module("adhar.platform.restore", restore_args(target, backup, storage={"url": "file://" + bad}), expect_fail=True)
    assert "failed verification, nothing was restored" in r["msg"] and "web-conf" in r["msg"], r["msg"]
    # wrong key
    r = runner.module("adhar.platform.restore", restore_args(target, backup, encryption={"key": WRONG_KEY}), expect_fail=True)
    assert "cannot decrypt: wrong key or tampered data" in r["msg"], r["msg"]
    # no key for an encrypted backup
    args = restore_args(target, backup)
    args.pop("encryption")
    r = runner.module("adhar.platform.restore", args, expect_fail=True)
    assert "is encrypted with the key hmac-sha256:" in r["msg"] and "give encryption.key" in r["msg"], r["msg"]
    # incomplete: no manifest
    os.remove(os.path.join(bad, backup["name"], "manifest.json"))
    r = runner.module("adhar.platform.restore", restore_args(target, backup, storage={"url": "file://" + bad}), expect_fail=True)
    assert "incomplete" in r["msg"], r["msg"]
    assert namespaces(bin_dir, target) == before


def test_check_mode_creates_nothing(runner, target, backup, bin_dir):
    before = namespaces(bin_dir, target)
    r = runner.module("adhar.platform.restore", restore_args(target, backup, report_items="changed"), check=True)
    assert r["changed"] is True and r["restore"]["check_mode"] is True
    assert r["restore"]["counts"]["created"] > 10 and r["restore"]["counts"]["failed"] == 0
    notes = {i.get("message") for i in r["items"]}
    assert "not validated: its Namespace is created by this restore" in notes
    assert namespaces(bin_dir, target) == before


def test_round_trip_then_rerun_is_unchanged(runner, target, backup, bin_dir):
    r = runner.module("adhar.platform.restore", restore_args(target, backup, name="full-1", report_items="all"))
    restore = r["restore"]
    assert r["changed"] is True and restore["counts"]["failed"] == 0, restore["failures"]
    assert restore["stages"][0]["name"] == "crds" and restore["stages"][0]["resources"] == ["customresourcedefinitions.apiextensions.k8s.io"]
    tier = {k: n for n, s in enumerate(restore["stages"]) for k in s["resources"]}
    assert tier["namespaces"] < tier["serviceaccounts"] < tier["secrets"] == tier["configmaps"] == tier["services"]
    assert tier["secrets"] < tier["deployments.apps"] == tier["widgets.example.com"]
    for stage in restore["stages"]:  # one entry per tier; its counts add up per resource
        assert sorted(stage["resource_counts"]) == sorted(stage["resources"])
        assert sum(sum(c.values()) for c in stage["resource_counts"].values()) == stage["count"] == sum(stage["counts"].values())
    reasons = {g["reason"] for g in restore["skipped"]}
    # grouped by a reason that names no object: one group per owner kind, with its count and at most five examples
    assert "recreated by its controller (owner kind Deployment)" in reasons, reasons
    assert all(0 < len(g["examples"]) <= min(5, g["count"]) for g in restore["skipped"]), restore["skipped"]
    assert sum(g["count"] for g in restore["skipped"]) == restore["counts"]["skipped"]
    assert len(r["items"]) == sum(restore["counts"].values())  # report_items=all: every object
    assert restore["failures"] == [] and restore["failures_not_listed"] == 0
    assert "made by Kubernetes in every namespace" in reasons
    by = {(i["resource"], i["namespace"], i["name"]): i for i in r["items"]}
    assert by[("replicasets.apps", "shop", [n for (k, ns, n) in by if k == "replicasets.apps"][0])]["action"] == "skipped"
    assert snapshot(bin_dir, target) == backup["expected"]
    svc = json.loads(kubectl(bin_dir, target, "get", "service", "web-np", "-n", "shop", "-o", "json"))
    ports = {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]}
    assert ports["a"] == 30777  # set explicitly: kept
    cm = json.loads(kubectl(bin_dir, target, "get", "configmap", "web-conf", "-n", "shop", "-o", "json"))
    assert cm["metadata"]["labels"] == {"backup.adhar.io/backup": "rsrc-1", "backup.adhar.io/restore": "full-1"}
    crb = json.loads(kubectl(bin_dir, target, "get", "clusterrolebinding", "restore-test-viewer", "-o", "json"))
    assert crb["subjects"][0]["namespace"] == "shop"
    # again, policy none: nothing changes and nothing is noisy
    r = runner.module("adhar.platform.restore", restore_args(target, backup, name="full-2"))
    counts = r["restore"]["counts"]
    assert r["changed"] is False, r["restore"]
    # the default report is a summary: no per-object entries, the numbers per resource and outcome add up
    assert r["items"] == [] and len(json.dumps(r)) < 16384, len(json.dumps(r))
    per = r["restore"]["resource_counts"]
    assert sum(sum(c.values()) for c in per.values()) == sum(counts.values())
    assert per["configmaps"].get("unchanged", 0) > 0 and "created" not in per["configmaps"], per["configmaps"]
    assert counts["created"] == counts["updated"] == counts["failed"] == 0 and counts["unchanged"] > 10
    assert not [g for g in r["restore"]["skipped"] if g["reason"].startswith("exists and differs")], r["restore"]["skipped"]


def test_app_with_namespace_mapping(runner, target, backup, bin_dir):
    args = restore_args(target, backup, app="web", include_namespaces=["shop"], namespace_mapping={"shop": "shop-copy"})
    # web-np's explicit node port is taken by the copy in shop: a partial failure, reported, never hidden
    r = runner.module("adhar.platform.restore", args, expect_fail=True)
    assert "1 of " in r["msg"] and "web-np" in r["msg"] and "items failed" in r["msg"], r["msg"]
    assert r["restore"]["failures"][0]["name"] == "web-np" and r["restore"]["failures_not_listed"] == 0
    assert any(i["message"] == "not attempted: an earlier stage failed" for i in r["items"] if i.get("message")) or \
        r["restore"]["counts"]["skipped"] > 0
    r = runner.module("adhar.platform.restore", dict(args, continue_on_error=True, report_items="all", wait=True, wait_timeout=120))
    assert r["restore"]["counts"]["failed"] == 1 and [f["name"] for f in r["restore"]["failures"]] == ["web-np"]
    assert r["restore"]["wait"] == {"waited": 1, "ready": 1, "not_ready": []}, r["restore"]["wait"]
    got = snapshot(bin_dir, target, namespaces=("shop-copy",))
    names = {(k, n) for (k, ns, n) in got}
    assert names == {("Deployment", "web"), ("ConfigMap", "web-conf"), ("Secret", "web-secret"), ("ServiceAccount", "web-sa"),
                     ("Service", "web"), ("Role", "web-reader"), ("RoleBinding", "web-reader"), ("Widget", "w1")}, names
    rb = json.loads(kubectl(bin_dir, target, "get", "rolebinding", "web-reader", "-n", "shop-copy", "-o", "json"))
    assert rb["subjects"][0]["namespace"] == "shop-copy"
    expected = snapshot(bin_dir, target, namespaces=("shop",), rename={"shop": "shop-copy"})
    for k, v in got.items():
        if k[0] != "RoleBinding":
            assert v == expected[k], k


def test_policies_update_and_recreate(runner, target, backup, bin_dir):
    only = {"include_namespaces": ["shop"], "include_resources": ["configmaps"]}
    runner.module("adhar.platform.restore", restore_args(target, backup, **only))  # there (created, or unchanged)
    kubectl(bin_dir, target, "patch", "configmap", "web-conf", "-n", "shop", "--type=merge", "-p", '{"data":{"setting":"changed"}}')
    r = runner.module("adhar.platform.restore", restore_args(target, backup, include_namespaces=["shop"], include_resources=["configmaps"]))
    assert r["changed"] is False
    assert [g for g in r["restore"]["skipped"] if g["reason"].startswith("exists and differs")][0]["count"] == 1
    r = runner.module("adhar.platform.restore", restore_args(target, backup, include_namespaces=["shop"], include_resources=["configmaps"],
                                                             existing_resource_policy="update", report_items="changed"), diff=True)
    assert r["restore"]["counts"]["updated"] == 1 and r["items"][0]["name"] == "web-conf"
    cm = json.loads(kubectl(bin_dir, target, "get", "configmap", "web-conf", "-n", "shop", "-o", "json"))
    assert cm["data"] == {"setting": "value-of-web"}
    uid = cm["metadata"]["uid"]
    kubectl(bin_dir, target, "patch", "configmap", "web-conf", "-n", "shop", "--type=merge", "-p", '{"data":{"setting":"again"}}')
    r = runner.module("adhar.platform.restore", restore_args(target, backup, include_namespaces=["shop"], include_resources=["configmaps"],
                                                             existing_resource_policy="recreate"))
    assert r["restore"]["counts"]["recreated"] == 1
    cm = json.loads(kubectl(bin_dir, target, "get", "configmap", "web-conf", "-n", "shop", "-o", "json"))
    assert cm["data"] == {"setting": "value-of-web"} and cm["metadata"]["uid"] != uid
    # latest of the source cluster picks the same backup
    r = runner.module("adhar.platform.restore", dict(restore_args(target, backup, cluster="rsrc", include_namespaces=["tools"]),
                                                     backup="latest"))
    assert r["restore"]["backup"] == "rsrc-1" and r["restore"]["counts"]["failed"] == 0


def test_restore_from_s3(runner, target, backup, bin_dir, moto_endpoint):
    boto3 = pytest.importorskip("boto3")
    bucket = "adhar-rs-%s" % uuid.uuid4().hex[:10]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    for root, dummy, files in os.walk(os.path.join(backup["store"], backup["name"])):
        for name in files:
            path = os.path.join(root, name)
            s3.upload_file(path, bucket, "dr/" + os.path.relpath(path, backup["store"]))
    storage = {"type": "s3", "bucket": bucket, "prefix": "dr", "region": REGION, "endpoint_url": moto_endpoint,
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    r = runner.module("adhar.platform.restore", restore_args(target, backup, storage=storage, include_namespaces=["tools"],
                                                             namespace_mapping={"tools": "tools-s3"}, report_items="all"))
    assert r["restore"]["counts"]["failed"] == 0
    created = {(i["resource"], i["namespace"], i["name"]) for i in r["items"] if i["action"] == "created"}
    assert {("namespaces", None, "tools-s3"), ("configmaps", "tools-s3", "tool-conf"), ("widgets.example.com", "tools-s3", "w2")} <= created
    expected = snapshot(bin_dir, target, namespaces=("tools",), rename={"tools": "tools-s3"})
    assert snapshot(bin_dir, target, namespaces=("tools-s3",)) == expected


# --------------------------------------------------------------------------- integrity: refused with zero requests

class CountingProxy:
    """A TCP proxy on 127.0.0.1 in front of the target's API server that counts connections and bytes.

    Restores whose backup is refused go through it: a count of 0 proves they never reached the cluster.
    """

    def __init__(self, host, port):
        import socket
        import threading
        self.upstream = (host, port)
        self.connections = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        import socket
        import threading
        while not self._closed:
            try:
                client, dummy = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    self.bytes += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def counts(self):
        with self._lock:
            return self.connections, self.bytes

    def close(self):
        self._closed = True
        self._sock.close()
        self._thread.join(timeout=5)


def _named(entries, name):
    """The kubeconfig entry (context, cluster) called ``name``."""
    return [e for e in entries if e["name"] == name][0]


@pytest.fixture
def counted(target, tmp_path):
    """``(kubeconfig through a CountingProxy, the proxy)`` for the target cluster."""
    import urllib.parse
    import yaml
    with open(target) as f:
        config = yaml.safe_load(f)
    context = _named(config["contexts"], config["current-context"])["context"]
    cluster = _named(config["clusters"], context["cluster"])["cluster"]
    url = urllib.parse.urlsplit(cluster["server"])
    proxy = CountingProxy(url.hostname, url.port)
    cluster["server"] = "https://127.0.0.1:%d" % proxy.port
    path = str(tmp_path / "counted.kubeconfig")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    os.chmod(path, 0o600)
    try:
        yield path, proxy
    finally:
        proxy.close()


CM_ITEM = "resources/configmaps/namespaces/shop/web-conf.json"


def _manifest_path(store, name):
    return os.path.join(store, name, "manifest.json")


def _load_manifest(store, name):
    with open(_manifest_path(store, name)) as f:
        return json.load(f)


def _save_manifest(store, name, manifest):
    os.chmod(_manifest_path(store, name), 0o600)
    with open(_manifest_path(store, name), "w") as f:
        json.dump(manifest, f)


def _record(manifest, path):
    return next(i for i in manifest["items"] if i["path"] == path)


def _stored_file(store, name, record):
    """The file holding an item: its own file, or its pack (format 2.0)."""
    return os.path.join(store, name, *record.get("pack", record["path"]).split("/"))


def _write_item(store, name, path, data, recompute):
    """Replace an item's stored bytes (in its pack when packed); ``recompute``: also its checksums in the manifest
    (and the offsets and checksum of its pack), as someone rewriting the manifest would (the MAC and the
    signature then no longer match)."""
    manifest = _load_manifest(store, name)
    record = _record(manifest, path)
    full = _stored_file(store, name, record)
    with open(full, "rb") as f:
        stored = f.read()
    start = record.get("offset", 0)
    end = start + record["size"] if "pack" in record else len(stored)
    stored = stored[:start] + data + stored[end:]
    os.chmod(full, 0o600)
    with open(full, "wb") as f:
        f.write(stored)
    if recompute:
        if "pack" in record:
            for other in manifest["items"]:
                if other.get("pack") == record["pack"] and other["offset"] > start:
                    other["offset"] += len(data) - record["size"]
            next(p for p in manifest["packs"] if p["path"] == record["pack"]).update(
                size=len(stored), sha256=hashlib.sha256(stored).hexdigest())
        record.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
        _save_manifest(store, name, manifest)


def _item_bytes(store, name, path=CM_ITEM):
    record = _record(_load_manifest(store, name), path)
    with open(_stored_file(store, name, record), "rb") as f:
        f.seek(record.get("offset", 0))
        return f.read(record["size"])


def _evil_configmap(store, name):
    obj = json.loads(_item_bytes(store, name))
    obj["data"] = {"setting": "EVIL"}
    return json.dumps(obj, sort_keys=True).encode()


def _pop_fields(*fields, drop_encrypted=False):
    def tamper(store, name, swap):
        manifest = _load_manifest(store, name)
        for field in fields:
            manifest.pop(field, None)
        if drop_encrypted:
            manifest["items"] = [i for i in manifest["items"] if not i.get("encrypted")]
        _save_manifest(store, name, manifest)
        _write_item(store, name, CM_ITEM, _evil_configmap(store, name), recompute=True)
    return tamper


def _flip(store, name, swap):
    data = bytearray(_item_bytes(store, name))
    data[len(data) // 2] ^= 0x20
    _write_item(store, name, CM_ITEM, bytes(data), recompute=False)


def _swap(store, name, swap):
    other_store, other_name = swap
    _write_item(store, name, CM_ITEM, _item_bytes(other_store, other_name), recompute=True)


def _reorder(store, name, swap):
    manifest = _load_manifest(store, name)
    manifest["items"].reverse()
    _save_manifest(store, name, manifest)


def _edit_field(store, name, swap):
    manifest = _load_manifest(store, name)
    manifest["cluster"] = "elsewhere"
    _save_manifest(store, name, manifest)


TAMPERS = {
    "item-bytes-edited": _flip,
    "manifest-field-edited": _edit_field,
    "item-edited-checksum-recomputed": lambda store, name, swap: _write_item(store, name, CM_ITEM, _evil_configmap(store, name), True),
    "item-swapped-from-another-backup": _swap,
    "item-truncated": lambda store, name, swap: _write_item(store, name, CM_ITEM, _item_bytes(store, name)[:40], False),
    "items-reordered": _reorder,
    "signature-removed": _pop_fields("signature"),
    "mac-removed": _pop_fields("mac"),
    "encryption-block-removed": _pop_fields("encryption", "mac", "signature", drop_encrypted=True),
}


def test_tampered_backups_are_refused_with_zero_requests(runner, target, backup, bin_dir, tmp_path, counted, moto_endpoint):
    """Every tamper, through the restore module, with the key, with only the verify key and with no key: refused, and
    the API server never sees a connection (a counting proxy in front of it)."""
    kubeconfig, proxy = counted
    only_cms = {"include_namespaces": ["shop"], "include_resources": ["configmaps"]}
    # positive control, through the proxy: only the verify key restores the unencrypted ConfigMaps (signed)
    args = dict(restore_args(kubeconfig, backup, verify_key=backup["verify_key"], require_signature=True, **only_cms))
    args.pop("encryption")
    r = runner.module("adhar.platform.restore", args)
    assert r["restore"]["integrity"] == "signed" and r["restore"]["counts"]["failed"] == 0, r["restore"]
    assert proxy.counts()[0] > 0, "the proxy saw no connection: it does not count what reaches the cluster"
    # ... but not the encrypted Secrets: refused before anything is read
    args = dict(restore_args(kubeconfig, backup, verify_key=backup["verify_key"], include_namespaces=["shop"]))
    args.pop("encryption")
    conn0 = proxy.counts()
    r = runner.module("adhar.platform.restore", args, expect_fail=True)
    assert "selected items are encrypted" in r["msg"] and "only verify_key was given" in r["msg"], r["msg"]
    assert proxy.counts() == conn0
    # another backup with the same key, to swap an item from: the target's ConfigMaps with another value
    kubectl(bin_dir, target, "patch", "configmap", "web-conf", "-n", "shop", "--type=merge", "-p", '{"data":{"setting":"swapped-in"}}')
    other = str(tmp_path / "other")
    r = runner.module("adhar.platform.backup", {"kubeconfig": target, "cluster": "rdst", "name": "rdst-swap",
                                                "storage": {"url": "file://" + other}, "encryption": {"key": KEY}, **only_cms})
    assert r["backup"]["verify_key"] == backup["verify_key"]  # one KEK, one verify key
    kubectl(bin_dir, target, "patch", "configmap", "web-conf", "-n", "shop", "--type=merge", "-p", '{"data":{"setting":"value-of-web"}}')

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    stranger = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    tasks, expected = [], []

    def task(store, how, why, storage=None):
        args = dict(restore_args(kubeconfig, backup, storage=storage or {"url": "file://" + store}, **only_cms))
        if how != "key":
            args.pop("encryption")
        if how == "verify_key":
            args["verify_key"] = backup["verify_key"]
        if how == "stranger":
            args["verify_key"] = stranger
        tasks.append("- name: %s %s\n  adhar.platform.restore: %s\n  ignore_errors: true\n" % (why, how, json.dumps(args)))
        expected.append((why, how))

    for why, tamper in TAMPERS.items():
        store = str(tmp_path / why)
        shutil.copytree(backup["store"], store)
        tamper(store, backup["name"], (other, "rdst-swap"))
        for how in ("key", "verify_key", "no_key", "stranger"):
            task(store, how, why)
    task(backup["store"], "stranger", "intact-with-another-verify-key")
    # the same on S3 (moto): the reported attack, an item edited with its checksum recomputed
    boto3 = pytest.importorskip("boto3")
    bucket = "adhar-tamper-%s" % uuid.uuid4().hex[:10]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    tampered = str(tmp_path / "item-edited-checksum-recomputed")
    for root, dummy, files in os.walk(os.path.join(tampered, backup["name"])):
        for name in files:
            path = os.path.join(root, name)
            s3.upload_file(path, bucket, "dr/" + os.path.relpath(path, tampered))
    s3_storage = {"type": "s3", "bucket": bucket, "prefix": "dr", "region": REGION, "endpoint_url": moto_endpoint,
                  "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    for how in ("key", "verify_key", "no_key"):
        task(None, how, "s3-item-edited-checksum-recomputed", storage=s3_storage)

    before = proxy.counts()
    results = runner.play("".join(tasks))
    after = proxy.counts()
    assert len(results) == len(expected)
    for (why, how), res in zip(expected, results):
        assert res["status"] == "failed", "%s %s was not refused: %s" % (why, how, json.dumps(res["result"])[:2000])
        msg = res["result"]["msg"]
        if how == "no_key" and why != "encryption-block-removed":
            assert "is encrypted with the key hmac-sha256:" in msg or "out of order" in msg, (why, how, msg)
        assert "nothing was restored" in msg or "signature" in msg or "is encrypted" in msg or "tampered" in msg \
            or "out of order" in msg or "removed" in msg, (why, how, msg)
    assert after == before, "the refused restores reached the API server: %r -> %r" % (before, after)
    cm = json.loads(kubectl(bin_dir, target, "get", "configmap", "web-conf", "-n", "shop", "-o", "json"))
    assert cm["data"] == {"setting": "value-of-web"}


def test_unsigned_backup_is_checksums_only_and_require_signature_refuses_it(runner, target, backup, bin_dir, tmp_path):
    store = str(tmp_path / "plain")
    only_cms = {"include_namespaces": ["shop"], "include_resources": ["configmaps"]}
    r = runner.module("adhar.platform.backup", {"kubeconfig": target, "cluster": "rdst", "name": "rdst-plain",
                                                "storage": {"url": "file://" + store}, **only_cms})
    assert r["backup"]["encrypted"] is False and r["backup"]["verify_key"] is None
    args = {"kubeconfig": target, "backup": "rdst-plain", "storage": {"url": "file://" + store}}
    r = runner.module("adhar.platform.restore", dict(args, **only_cms))
    assert r["restore"]["integrity"] == "checksums-only"
    assert any("integrity: checksums-only" in w for w in r.get("warnings") or []), r.get("warnings")
    r = runner.module("adhar.platform.restore", dict(args, require_signature=True), expect_fail=True)
    assert "require_signature needs a key" in r["msg"], r["msg"]
    r = runner.module("adhar.platform.restore", dict(args, verify_key=backup["verify_key"]), expect_fail=True)
    assert "verify_key was given but backup rdst-plain carries no signature" in r["msg"], r["msg"]
    r = runner.module("adhar.platform.restore", dict(args, encryption={"key": KEY}), expect_fail=True)
    assert "a key was given but backup rdst-plain carries no signature" in r["msg"], r["msg"]
    # backup_info verifies the same way and tells the verify key of a KEK
    r = runner.module("adhar.platform.backup_info", {"storage": {"url": "file://" + backup["store"]}, "name": backup["name"],
                                                     "verify": True, "verify_key": backup["verify_key"]})
    assert r["verification"]["ok"] and r["verification"]["integrity"] == "signed"
    assert r["verification"]["decryption_checked"] is False
    r = runner.module("adhar.platform.backup_info", {"storage": {"url": "file://" + backup["store"]}, "name": backup["name"],
                                                     "verify": True}, expect_fail=True)
    assert "is encrypted with the key hmac-sha256:" in r["msg"] and "nothing was read" in r["msg"], r["msg"]
    r = runner.module("adhar.platform.backup_info", {"storage": {"url": "file://" + backup["store"]}, "encryption": {"key": KEY}})
    assert r["verify_key"]["verify_key"] == backup["verify_key"]
