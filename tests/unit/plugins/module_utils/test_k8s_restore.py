# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the restore's pure parts: order, filters, skipping, sanitising, namespace mapping, selection; and
its streaming: the plan keeps outlines only, each tier's objects are read in chunks while it is applied and dropped
afterwards, a tampered backup is still refused before any request, reads ahead are bounded."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive import api as archive
from ansible_collections.adhar.platform.plugins.module_utils._dr import restore as k8s_restore
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._archive.format import canonical_json, dump_manifest
from ansible_collections.adhar.platform.plugins.module_utils._archive.reader import _bounded_map
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import (
    Restore,
    Selection,
    chunked,
    outline,
    plan_items,
    restore_status_option,
    select_objects,
    unmatched_in_backup,
)
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore_sanitize import (
    BACKUP_LABEL,
    CRD_KEY,
    RESTORE_LABEL,
    LabelSelector,
    check_namespace_mapping,
    comparable,
    controller_skip_reason,
    label_value,
    map_namespaces,
    plan_order,
    plan_tiers,
    resource_match,
    sanitize,
    select_app,
    system_skip_reason,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage


# --------------------------------------------------------------------------- order

def test_order_crds_first_priorities_then_alphabetical_then_webhooks():
    keys = {"deployments.apps", "configmaps", "secrets", "namespaces", CRD_KEY, "widgets.example.com",
            "validatingwebhookconfigurations.admissionregistration.k8s.io", "apiservices.apiregistration.k8s.io",
            "services", "ingresses.networking.k8s.io", "serviceaccounts"}
    order = plan_order(keys)
    assert order == [CRD_KEY, "namespaces", "serviceaccounts", "secrets", "configmaps", "services",
                     "deployments.apps", "ingresses.networking.k8s.io", "widgets.example.com",
                     "validatingwebhookconfigurations.admissionregistration.k8s.io", "apiservices.apiregistration.k8s.io"]


def test_order_insert_moves_without_replacing():
    keys = {"configmaps", "secrets", "services", "ingresses.networking.k8s.io", "deployments.apps", "namespaces"}
    order = plan_order(keys, [{"resource": "ingresses.networking.k8s.io", "after": "services"},
                              {"resource": "configmaps", "before": "secrets"}])
    assert order == ["namespaces", "configmaps", "secrets", "services", "ingresses.networking.k8s.io", "deployments.apps"]
    # a bare plural resolves against the known keys; a type not in the backup may be an anchor
    order = plan_order({"deployments.apps", "widgets.example.com"}, [{"resource": "widgets", "before": "deployments"}])
    assert order == ["widgets.example.com", "deployments.apps"]
    order = plan_order({"deployments.apps", "configmaps"}, [{"resource": "deployments", "before": "pods"}])
    assert order == ["configmaps", "deployments.apps"]


def test_tiers_group_independent_types_and_keep_dependencies():
    keys = {CRD_KEY, "namespaces", "clusterroles.rbac.authorization.k8s.io", "serviceaccounts", "roles.rbac.authorization.k8s.io",
            "rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io", "limitranges",
            "persistentvolumes", "persistentvolumeclaims", "endpoints", "secrets", "configmaps", "services",
            "deployments.apps", "pods", "ingresses.networking.k8s.io", "widgets.example.com",
            "validatingadmissionpolicies.admissionregistration.k8s.io",
            "validatingadmissionpolicybindings.admissionregistration.k8s.io", "apiservices.apiregistration.k8s.io"}
    tiers = plan_tiers(keys)
    assert [name for name, dummy in tiers] == ["crds", "cluster", "prerequisites", "bindings", "data", "workloads",
                                               "admission", "admission-bindings"]
    assert tiers[0] == ("crds", [CRD_KEY])  # alone
    assert tiers[4] == ("data", ["persistentvolumeclaims", "secrets", "configmaps", "services"])
    assert tiers[5] == ("workloads", ["pods", "deployments.apps", "ingresses.networking.k8s.io", "widgets.example.com"])
    tier_of = {k: n for n, (dummy, members) in enumerate(tiers) for k in members}
    for first, then in (("namespaces", "serviceaccounts"), ("serviceaccounts", "secrets"), ("persistentvolumes", "persistentvolumeclaims"),
                        ("roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"),
                        ("clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"),
                        ("limitranges", "pods"), ("limitranges", "persistentvolumeclaims"), ("endpoints", "services"),
                        ("services", "ingresses.networking.k8s.io"), ("configmaps", "deployments.apps"),
                        (CRD_KEY, "widgets.example.com"), ("widgets.example.com", "apiservices.apiregistration.k8s.io"),
                        ("validatingadmissionpolicies.admissionregistration.k8s.io",
                         "validatingadmissionpolicybindings.admissionregistration.k8s.io")):
        assert tier_of[first] < tier_of[then], (first, then)
    assert plan_order(keys) == [k for dummy, members in tiers for k in members]


def test_order_insert_makes_a_tier_of_its_own():
    keys = {"namespaces", "secrets", "configmaps", "services", "ingresses.networking.k8s.io", "deployments.apps"}
    tiers = plan_tiers(keys, [{"resource": "configmaps", "before": "secrets"}, {"resource": "Deployments", "after": "services"}])
    assert tiers == [("cluster", ["namespaces"]), ("order_insert: configmaps before secrets", ["configmaps"]),
                     ("data", ["secrets", "services"]), ("order_insert: deployments.apps after services", ["deployments.apps"]),
                     ("workloads", ["ingresses.networking.k8s.io"])]
    # moved twice: the first tier of its own goes away
    tiers = plan_tiers(keys, [{"resource": "configmaps", "before": "secrets"}, {"resource": "configmaps", "after": "deployments"}])
    assert [n for n, dummy in tiers] == ["cluster", "data", "workloads", "order_insert: configmaps after deployments.apps"]


def test_interleave_takes_types_in_turn():
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import Item, interleave

    items = [Item("configmaps", "a", "c%d" % n, {}) for n in range(3)] + [Item("services", "a", "s%d" % n, {}) for n in range(2)]
    assert [i.name for i in interleave(["services", "configmaps"], items)] == ["s0", "c0", "s1", "c1", "c2"]


@pytest.mark.parametrize("entry,text", [
    ({"resource": "a"}, "exactly one of before or after"),
    ({"resource": "a", "before": "b", "after": "c"}, "exactly one"),
    ({"before": "b"}, "give resource"),
    ({"resource": "configmaps", "after": "nosuchthing.example.com"}, "not in the restore order"),
    ({"resource": "configmaps", "after": "configmaps"}, "relative to itself"),
])
def test_order_insert_bad(entry, text):
    with pytest.raises(AdharError, match=text):
        plan_order({"configmaps"}, [entry])


# --------------------------------------------------------------------------- filters

def test_resource_match_and_selector():
    assert resource_match("deployments.apps", ["deployments"])
    assert resource_match("deployments.apps", ["deployments.apps"])
    assert resource_match("deployments.apps", ["*.apps"])
    assert not resource_match("deployments.apps", ["configmaps"])
    sel = LabelSelector("app=web, tier in (front,back),!legacy,env!=dev")
    assert sel.matches({"app": "web", "tier": "front"})
    assert not sel.matches({"app": "web", "tier": "front", "legacy": "1"})
    assert not sel.matches({"app": "web", "tier": "db"})
    assert not sel.matches({"app": "web", "tier": "back", "env": "dev"})
    assert LabelSelector("x notin (a)").matches({})
    with pytest.raises(AdharError, match="label_selector"):
        LabelSelector("a=b=c")


def _cm(ns, name, labels=None, **extra):
    return dict({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels or {}}},
                **extra)


def test_selection_namespaces_and_cluster_modes():
    sel = Selection({"include_namespaces": ["shop-*"], "exclude_namespaces": ["shop-old"]})
    assert sel.namespace_ok("shop-a") and not sel.namespace_ok("shop-old") and not sel.namespace_ok("other")
    assert sel.cluster_mode() == "related"
    assert sel.path_ok({"resource": CRD_KEY, "name": "x"})
    assert not sel.path_ok({"resource": "clusterroles.rbac.authorization.k8s.io", "name": "x"})
    assert sel.path_ok({"resource": "namespaces", "name": "shop-a"})
    assert Selection({}).cluster_mode() == "all"
    assert Selection({"include_namespaces": ["*", "a"], "exclude_namespaces": ["*"]}).cluster_mode() == "all"
    assert Selection({"exclude_namespaces": ["*"]}).namespace_ok("x")
    assert Selection({"include_cluster_resources": False}).cluster_mode() == "none"
    sel = Selection({"include_resources": ["configmaps"], "exclude_resources": ["*"]})
    assert sel.resource_ok("configmaps") and not sel.resource_ok("secrets")


def test_select_objects_label_selector_adds_namespaces_and_crds():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}}}
    entries = {
        ("configmaps", "a", "keep"): _cm("a", "keep", {"tier": "x"}),
        ("configmaps", "a", "drop"): _cm("a", "drop"),
        ("widgets.example.com", "a", "w"): {
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "a", "labels": {"tier": "x"}}},
        (CRD_KEY, None, "widgets.example.com"): crd,
        (CRD_KEY, None, "others.example.com"): dict(crd, metadata={"name": "others.example.com"},
                                                    spec={"group": "example.com", "names": {"plural": "others"}}),
    }
    sel = Selection({"label_selector": "tier=x", "include_namespaces": ["a"]})
    chosen, pulled = select_objects(entries, sel)
    assert ("configmaps", "a", "keep") in chosen and ("configmaps", "a", "drop") not in chosen
    assert ("namespaces", None, "a") in chosen and (CRD_KEY, None, "others.example.com") not in chosen
    assert (CRD_KEY, None, "widgets.example.com") in chosen | pulled  # the CRD of a selected CR, whatever its labels
    # the CRD of a selected custom resource comes along (it does not carry the label)
    sel = Selection({"include_namespaces": ["a"]})
    chosen, dummy = select_objects(dict(entries), sel)
    assert (CRD_KEY, None, "widgets.example.com") in chosen and (CRD_KEY, None, "others.example.com") not in chosen
    # an empty namespace of the backup is restored too (no selector, no app)
    entries[("namespaces", None, "empty")] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "empty"}}
    chosen, dummy = select_objects(dict(entries), Selection({}))
    assert ("namespaces", None, "empty") in chosen
    chosen, dummy = select_objects(dict(entries), Selection({"app": "x"}))
    assert ("namespaces", None, "empty") not in chosen


def test_select_app_pulls_in_what_it_needs():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "p", "labels": {"app.kubernetes.io/name": "shop"}},
           "spec": {"template": {"spec": {
               "serviceAccountName": "web-sa", "imagePullSecrets": [{"name": "pull"}],
               "volumes": [{"name": "c", "configMap": {"name": "web-conf"}}, {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                           {"name": "p", "projected": {"sources": [{"secret": {"name": "proj"}}]}}],
               "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "web-env"}}],
                               "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "extra", "key": "k"}}}]}]}}}}
    entries = {("deployments.apps", "p", "web"): dep}
    for key, name in (("serviceaccounts", "web-sa"), ("secrets", "pull"), ("configmaps", "web-conf"),
                      ("persistentvolumeclaims", "data"), ("secrets", "proj"), ("secrets", "web-env"),
                      ("configmaps", "extra"), ("configmaps", "unrelated")):
        entries[(key, "p", name)] = _cm("p", name)
    entries[("configmaps", "other", "web-conf")] = _cm("other", "web-conf")
    entries[("rolebindings.rbac.authorization.k8s.io", "p", "rb")] = {
        "metadata": {"name": "rb", "namespace": "p"}, "roleRef": {"kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "web-sa"}]}
    entries[("roles.rbac.authorization.k8s.io", "p", "reader")] = {"metadata": {"name": "reader", "namespace": "p"}}
    entries[("persistentvolumes", None, "pv-1")] = {"metadata": {"name": "pv-1"}, "spec": {"claimRef": {"namespace": "p", "name": "data"}}}
    selected, pulled = select_app(entries, "shop")
    assert selected == {("deployments.apps", "p", "web")}
    names = {k[2] for k in pulled}
    assert names == {"web-sa", "pull", "web-conf", "data", "proj", "web-env", "extra", "rb", "reader", "pv-1"}
    assert ("configmaps", "other", "web-conf") not in pulled


# --------------------------------------------------------------------------- skipping

@pytest.mark.parametrize("key,obj,reason", [
    ("nodes", {"metadata": {"name": "n1"}}, "never restored"),
    ("events.events.k8s.io", {"metadata": {"name": "e", "namespace": "a"}}, "never restored"),
    ("pods", {"metadata": {"name": "p", "namespace": "a", "annotations": {"kubernetes.io/config.mirror": "x"}}}, "mirror pod"),
    ("leases.coordination.k8s.io", {"metadata": {"name": "n1", "namespace": "kube-node-lease"}}, "node heartbeat"),
    ("configmaps", {"metadata": {"name": "kube-root-ca.crt", "namespace": "a"}}, "every namespace"),
    ("serviceaccounts", {"metadata": {"name": "default", "namespace": "a"}}, "every namespace"),
    ("services", {"metadata": {"name": "kubernetes", "namespace": "default"}}, "API server"),
    ("endpointslices.discovery.k8s.io", {"metadata": {"name": "kubernetes", "namespace": "default"}}, "API server"),
    ("secrets", {"metadata": {"name": "t", "namespace": "a"}, "type": "kubernetes.io/service-account-token"}, "token"),
    ("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": "admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}},
     "bootstrap RBAC"),
    ("ipaddresses.networking.k8s.io", {"metadata": {"name": "10.96.0.7", "labels": {"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"}}},
     "IP allocation"),
])
def test_system_skip(key, obj, reason):
    assert reason in system_skip_reason(key, obj)


def test_not_skipped():
    assert system_skip_reason("configmaps", {"metadata": {"name": "x", "namespace": "a"}}) is None
    custom_sa = {"metadata": {"name": "default", "namespace": "a"}, "imagePullSecrets": [{"name": "r"}]}
    assert system_skip_reason("serviceaccounts", custom_sa) is None
    assert system_skip_reason("services", {"metadata": {"name": "kubernetes", "namespace": "other"}}) is None


def test_controller_skip():
    rs = {"metadata": {"name": "web-1", "namespace": "a", "ownerReferences": [
        {"kind": "Deployment", "name": "web", "uid": "u1", "controller": True}]}}
    reason = controller_skip_reason("replicasets.apps", rs, {"u1": 1}, set())
    assert reason == "recreated by its controller (owner kind Deployment)"  # no owner name: skips group by reason
    assert controller_skip_reason("replicasets.apps", rs, {"u2": 1}, set()) is None
    assert "endpoints controller" in controller_skip_reason("endpoints", {"metadata": {"name": "s", "namespace": "a"}}, {}, {("a", "s")})
    assert controller_skip_reason("endpoints", {"metadata": {"name": "s", "namespace": "a"}}, {}, set()) is None


# --------------------------------------------------------------------------- sanitising

def test_sanitize_metadata_and_status():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "status": {"x": 1},
           "metadata": {"name": "a", "namespace": "n", "uid": "u", "resourceVersion": "5", "generation": 2,
                        "creationTimestamp": "t", "deletionTimestamp": "t", "deletionGracePeriodSeconds": 3, "selfLink": "/x",
                        "generateName": "a-", "managedFields": [{}], "ownerReferences": [{}], "labels": {"k": "v"}}}
    out = sanitize("configmaps", obj)
    assert out["metadata"] == {"name": "a", "namespace": "n", "labels": {"k": "v"}}
    assert "status" not in out and obj["metadata"]["uid"] == "u"  # the input is not changed
    assert sanitize("configmaps", obj, restore_status=True)["status"] == {"x": 1}
    assert sanitize("configmaps", obj, restore_status=["configmaps"])["status"] == {"x": 1}
    assert "status" not in sanitize("configmaps", obj, restore_status=["secrets"])
    owned = sanitize("configmaps", obj, copy=False)  # a caller that owns the object has it changed in place
    assert owned is obj and obj["metadata"] == {"name": "a", "namespace": "n", "labels": {"k": "v"}}


def test_sanitize_service_node_ports():
    applied = {"spec": {"ports": [{"port": 81, "nodePort": 30081}]}}
    svc = {"metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)},
                        "managedFields": [{"manager": "me", "fieldsV1": {"f:spec": {"f:ports": {
                            'k:{"port":82,"protocol":"TCP"}': {"f:nodePort": {}}}}}}]},
           "spec": {"type": "NodePort", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "healthCheckNodePort": 31000,
                    "ports": [{"port": 80, "nodePort": 30080}, {"port": 81, "nodePort": 30081}, {"port": 82, "nodePort": 30082}]}}
    out = sanitize("services", svc)
    assert "clusterIP" not in out["spec"] and "clusterIPs" not in out["spec"] and "healthCheckNodePort" not in out["spec"]
    assert [p.get("nodePort") for p in out["spec"]["ports"]] == [None, 30081, 30082]
    kept = sanitize("services", svc, preserve_node_ports=True)
    assert [p.get("nodePort") for p in kept["spec"]["ports"]] == [30080, 30081, 30082] and kept["spec"]["healthCheckNodePort"] == 31000
    headless = sanitize("services", {"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"]}})
    assert headless["spec"]["clusterIP"] == "None"


def test_sanitize_pod_job_pvc_pv_sa():
    pod = sanitize("pods", {"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "priority": 5, "containers": []}})
    assert pod["spec"] == {"containers": []}
    labels = {"controller-uid": "u", "batch.kubernetes.io/controller-uid": "u", "job-name": "j"}
    job = {"metadata": {"name": "j"}, "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                                               "template": {"metadata": {"labels": labels}}}}
    out = sanitize("jobs.batch", job)
    assert "selector" not in out["spec"] and out["spec"]["template"]["metadata"]["labels"] == {"job-name": "j"}
    manual = dict(job, spec=dict(job["spec"], manualSelector=True))
    assert sanitize("jobs.batch", manual)["spec"]["selector"] == {"matchLabels": {}}
    pvc = sanitize("persistentvolumeclaims", {"metadata": {"name": "c", "annotations": {
        "pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/selected-node": "n1", "keep": "1"}},
        "spec": {"volumeName": "pv-1", "resources": {}}})
    assert pvc["metadata"]["annotations"] == {"keep": "1"} and "volumeName" not in pvc["spec"]
    ref = {"name": "c", "namespace": "n", "uid": "u", "resourceVersion": "1"}
    pv = sanitize("persistentvolumes", {"metadata": {"name": "pv"}, "spec": {"claimRef": ref}})
    assert pv["spec"]["claimRef"] == {"name": "c", "namespace": "n"}
    sa = sanitize("serviceaccounts", {"metadata": {"name": "web"}, "secrets": [{"name": "web-token-abc"}, {"name": "mine"}]})
    assert sa["secrets"] == [{"name": "mine"}]


def test_comparable_ignores_restore_labels_and_volatile_annotations():
    live = {"metadata": {"name": "d", "namespace": "n", "uid": "x", "resourceVersion": "9",
                         "labels": {"a": "b", BACKUP_LABEL: "old", RESTORE_LABEL: "old-r"},
                         "annotations": {"deployment.kubernetes.io/revision": "3"}}, "spec": {"x": 1}, "status": {"y": 2}}
    backup = {"metadata": {"name": "d", "namespace": "n", "labels": {"a": "b"}, "annotations": {"deployment.kubernetes.io/revision": "1"}},
              "spec": {"x": 1}}
    assert comparable("deployments.apps", live) == comparable("deployments.apps", backup)
    backup["spec"]["x"] = 2
    assert comparable("deployments.apps", live) != comparable("deployments.apps", backup)


def test_comparable_service_node_ports():
    want = comparable("services", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "nodePort": 30080}, {"port": 81}]}})
    live = {"metadata": {"name": "s", "uid": "u"}, "spec": {"clusterIP": "10.0.0.9", "ports": [
        {"port": 80, "nodePort": 30080}, {"port": 81, "nodePort": 31999}]}}
    assert comparable("services", live, like=want) == want
    live["spec"]["ports"][0]["nodePort"] = 30081
    assert comparable("services", live, like=want) != want


def test_label_value():
    assert label_value("prod-20260601") == "prod-20260601"
    long = "x" * 80
    v = label_value(long)
    assert len(v) <= 63 and v == label_value(long) and v.startswith("xxx")


# --------------------------------------------------------------------------- namespace mapping

def test_map_namespaces():
    mapping = check_namespace_mapping({"prod": "prod-copy"})
    ns = map_namespaces("namespaces", {"metadata": {"name": "prod", "labels": {"kubernetes.io/metadata.name": "prod"}}}, mapping)
    assert ns["metadata"] == {"name": "prod-copy", "labels": {"kubernetes.io/metadata.name": "prod-copy"}}
    rb = map_namespaces("clusterrolebindings.rbac.authorization.k8s.io", {"metadata": {"name": "x"}, "subjects": [
        {"kind": "ServiceAccount", "name": "a", "namespace": "prod"}, {"kind": "User", "name": "u"},
        {"kind": "ServiceAccount", "name": "b", "namespace": "other"}]}, mapping)
    assert [s.get("namespace") for s in rb["subjects"]] == ["prod-copy", None, "other"]
    cm = map_namespaces("configmaps", {"metadata": {"name": "c", "namespace": "prod"}}, mapping)
    assert cm["metadata"]["namespace"] == "prod-copy"
    wh = map_namespaces("validatingwebhookconfigurations.admissionregistration.k8s.io", {"metadata": {"name": "w"}, "webhooks": [
        {"clientConfig": {"service": {"namespace": "prod", "name": "hook"}}}]}, mapping)
    assert wh["webhooks"][0]["clientConfig"]["service"]["namespace"] == "prod-copy"
    pv = map_namespaces("persistentvolumes", {"metadata": {"name": "pv"}, "spec": {"claimRef": {"namespace": "prod", "name": "c"}}}, mapping)
    assert pv["spec"]["claimRef"]["namespace"] == "prod-copy"


@pytest.mark.parametrize("mapping,text", [({"a": "Bad_Name"}, "DNS label"), ({"a": "x", "b": "x"}, "several namespaces")])
def test_map_namespaces_bad(mapping, text):
    with pytest.raises(AdharError, match=text):
        check_namespace_mapping(mapping)


def test_restore_status_option():
    assert restore_status_option(None) is False and restore_status_option("yes") is True
    assert restore_status_option("deployments.apps,configmaps") == ["deployments.apps", "configmaps"]
    assert restore_status_option(["pods"]) == ["pods"]
    with pytest.raises(AdharError):
        restore_status_option(3)


# --------------------------------------------------------------------------- planning against a real archive

class _Reader:
    """Just enough of ArchiveReader for plan_items."""

    name = "src-1"
    encrypted = False

    def __init__(self, objects):
        self.objects = objects

    def records(self, section):
        for (key, ns, name), obj in self.objects.items():
            yield {}, {"path": "resources/%s/%s/%s.json" % (key, ns or "cluster", name), "resource": key, "namespace": ns,
                       "name": name}

    def read_many(self, records, workers, whole_packs=False):
        for record in records:
            for (key, ns, name), obj in self.objects.items():
                if record["path"] == "resources/%s/%s/%s.json" % (key, ns or "cluster", name):
                    yield record, json.dumps(obj).encode(), None
                    break
            else:
                yield record, None, AdharError("missing")

    @staticmethod
    def parse_json(path, data):
        return json.loads(data)


def test_plan_items_skips_controlled_and_maps():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "a", "uid": "d1"}, "spec": {}}
    owner = [{"kind": "Deployment", "name": "web", "uid": "d1", "controller": True}]
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "a", "uid": "r1", "ownerReferences": owner}}
    objects = {("deployments.apps", "a", "web"): dep, ("replicasets.apps", "a", "web-1"): rs,
               ("configmaps", "a", "kube-root-ca.crt"): _cm("a", "kube-root-ca.crt"),
               ("configmaps", "a", "c"): _cm("a", "c"), ("events", "a", "e"): {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}}}
    params = {"name": "r1", "namespace_mapping": {"a": "b"}}
    items, tiers, timings, loader = plan_items(_Reader(objects), params, 2)
    by = {(i.key, i.name): i for i in items}
    assert by[("configmaps", "c")].obj is None  # read again when its tier is applied
    loader(items)
    assert by[("replicasets.apps", "web-1")].action == "skipped"
    assert by[("configmaps", "kube-root-ca.crt")].action == "skipped"
    assert by[("events", "e")].action == "skipped"
    assert by[("configmaps", "c")].action is None and by[("configmaps", "c")].obj["metadata"]["namespace"] == "b"
    assert by[("configmaps", "c")].obj["metadata"]["labels"] == {BACKUP_LABEL: "src-1", RESTORE_LABEL: "r1"}
    assert by[("namespaces", "b")].obj["metadata"]["name"] == "b"  # synthesised for the mapped namespace
    assert tiers[0] == ("cluster", ["namespaces"]) and timings["selected_items"] == 5


# --------------------------------------------------------------------------- the engine against an in-memory API

class FakeApi:
    """A tiny API server for ConfigMaps and Namespaces: enough to drive Restore's requests."""

    def __init__(self, objects=(), race=()):
        self.store = {}
        self.requests = []
        self.race = set(race)  # names that appear between the LIST and the POST (409)
        for obj in objects:
            self.store[self._key(obj)] = obj

    @staticmethod
    def _key(obj):
        meta = obj["metadata"]
        return (obj["kind"], meta.get("namespace"), meta["name"])

    def raw(self, method, path, query=None, body=None, headers=None, raise_for_status=True, timeout=None, decode=True):
        self.requests.append((method, path, dict(query or {})))
        self.decoded = getattr(self, "decoded", []) + [(method, decode)]
        if path == "/api/v1":
            return 200, {"resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
                                       {"name": "namespaces", "kind": "Namespace", "namespaced": False}]}
        parts = path.strip("/").split("/")[2:]
        kind = {"configmaps": "ConfigMap", "namespaces": "Namespace"}
        ns = None
        if parts[0] == "namespaces" and len(parts) > 2:
            ns, parts = parts[1], parts[2:]
        res, name = parts[0], (parts[1] if len(parts) > 1 else None)
        if method != "PUT" and len(parts) > 2:
            raise AssertionError(path)
        dry = (query or {}).get("dryRun") == "All"
        if method == "GET" and name is None:
            return 200, {"items": [o for (k, n, dummy), o in self.store.items() if k == kind[res] and (ns is None or n == ns)],
                         "metadata": {}}
        if method == "GET":
            obj = self.store.get((kind[res], ns, name))
            return (200, obj) if obj else (404, {"message": "not found"})
        if method == "POST":
            key = self._key(body)
            if body["metadata"]["name"] in self.race:
                self.race.discard(body["metadata"]["name"])
                self.store[key] = dict(body, data={"k": "theirs"}, metadata=dict(body["metadata"], uid="racer"))
            if key in self.store:
                return 409, {"reason": "AlreadyExists", "message": "exists"}
            if not dry:
                self.store[key] = dict(body, metadata=dict(body["metadata"], uid="new"))
            return 201, (body if decode else json.dumps(body).encode())
        if method == "PATCH":
            obj = json.loads(body)
            if not dry:
                self.store[self._key(obj)] = obj
            return 200, obj
        if method == "PUT" and path.endswith("/status"):
            self.store[self._key(body)] = body
            return 200, body
        if method == "DELETE":
            if not dry:
                self.store.pop((kind[res], ns, name), None)
            return 200, {}
        raise AssertionError(method)


def _restore(api, items, **kw):
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import Item, Restore

    objs = []
    for obj in items:
        meta = obj["metadata"]
        key = "namespaces" if obj["kind"] == "Namespace" else "configmaps"
        item = Item(key, meta.get("namespace"), meta["name"], json.loads(json.dumps(obj)))
        item.namespace = meta.get("namespace")
        objs.append(item)
    engine = Restore(api, backup="b", name="r", workers=2, **kw)
    engine.run(objs, plan_tiers({i.key for i in objs}))
    return {(i.key, i.name): (i.action, i.message) for i in objs}, engine


def test_engine_policies_and_409_fallback():
    have = [_cm("a", "same", data={"k": "1"}), _cm("a", "diff", data={"k": "old"}),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}]
    want = [_cm("a", "same", data={"k": "1"}), _cm("a", "diff", data={"k": "new"}), _cm("a", "new", data={}),
            _cm("a", "racer", data={"k": "x"}), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}]
    api = FakeApi(have, race={"racer"})
    out, engine = _restore(api, want)
    assert out[("configmaps", "same")] == ("unchanged", None)
    assert out[("configmaps", "diff")][0] == "skipped" and "exists and differs" in out[("configmaps", "diff")][1]
    assert out[("configmaps", "new")] == ("created", None)
    assert out[("configmaps", "racer")][0] == "skipped"  # 409 on create -> read -> policy none
    assert out[("namespaces", "a")] == ("unchanged", None)
    lists = [r for r in api.requests if r[0] == "GET" and r[1].endswith("/configmaps")]
    assert len(lists) == 1  # one LIST for the stage, no GET per object
    assert [(s["name"], s["resources"]) for s in engine.stages] == [("cluster", ["namespaces"]), ("data", ["configmaps"])]
    assert engine.stages[1]["resource_counts"] == {"configmaps": {"unchanged": 1, "skipped": 2, "created": 1}}
    assert engine.stages[1]["counts"] == {"unchanged": 1, "skipped": 2, "created": 1}

    api = FakeApi(have)
    out, dummy = _restore(api, want, policy="update")
    assert out[("configmaps", "diff")] == ("updated", None) and api.store[("ConfigMap", "a", "diff")]["data"] == {"k": "new"}
    assert any(r[0] == "PATCH" and r[2].get("force") == "true" and r[2].get("fieldManager") == "adhar-restore" for r in api.requests)

    api = FakeApi(have)
    out, dummy = _restore(api, want, policy="recreate")
    assert out[("configmaps", "diff")] == ("recreated", None)
    assert api.store[("ConfigMap", "a", "diff")]["metadata"]["uid"] == "new"


def test_engine_check_mode_changes_nothing_and_shortcuts_new_namespaces():
    api = FakeApi()
    out, dummy = _restore(api, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}, _cm("fresh", "c")],
                          check_mode=True)
    assert out[("namespaces", "fresh")] == ("created", None)
    assert out[("configmaps", "c")] == ("created", "not validated: its Namespace is created by this restore")
    assert api.store == {}
    assert all(r[2].get("dryRun") == "All" for r in api.requests if r[0] == "POST")


def test_engine_failure_stops_later_stages_unless_continue():
    class Failing(FakeApi):
        def raw(self, method, path, query=None, body=None, **kw):
            if method == "POST" and body["kind"] == "Namespace":
                return 422, {"reason": "Invalid", "message": "no"}
            return super().raw(method, path, query, body, **kw)

    want = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}, _cm("x", "c")]
    out, dummy = _restore(Failing(), want)
    assert out[("namespaces", "x")] == ("failed", "HTTP 422 Invalid: no")
    assert out[("configmaps", "c")] == ("skipped", "not attempted: an earlier stage failed")
    out, dummy = _restore(Failing(), want, continue_on_error=True)
    assert out[("configmaps", "c")][0] == "created"


def _terminating(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "deletionTimestamp": "2026-01-01T00:00:00Z"}}


def test_engine_waits_for_terminating_namespaces_with_one_watch(monkeypatch):
    from ansible_collections.adhar.platform.plugins.module_utils._dr import restore as k8s_restore

    api = FakeApi([_terminating("x"), _terminating("y"), _terminating("stuck")])
    waits = []

    def fake_wait_for(client, targets, timeout, deleted=False, clock=None):
        # the namespace controller finishes x and y; "stuck" keeps a finalizer
        waits.append((sorted(t.name for t in targets), deleted, timeout))
        for t in targets:
            if t.name == "stuck":
                t.message = "timed out: still exists (finalizers: kubernetes)"
            else:
                api.store.pop(("Namespace", None, t.name))
                t.state, t.message = "ready", "deleted"
        return 0.0

    monkeypatch.setattr(k8s_restore, "wait_for", fake_wait_for)
    ns = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("x", "y", "stuck")]
    out, dummy = _restore(api, ns + [_cm("x", "c")], continue_on_error=True)
    assert waits == [(["stuck", "x", "y"], True, k8s_restore.NAMESPACE_TERMINATING_TIMEOUT)]  # one wait, no polling
    assert out[("namespaces", "x")] == ("created", "waited for the old Namespace to finish terminating")
    assert out[("namespaces", "y")] == out[("namespaces", "x")]
    assert out[("namespaces", "stuck")] == (
        "failed", "the Namespace is still terminating after 600s: timed out: still exists (finalizers: kubernetes)")
    assert api.store[("Namespace", None, "x")]["metadata"]["uid"] == "new"
    assert out[("configmaps", "c")][0] == "created"
    assert not [r for r in api.requests if r[0] == "GET" and r[1].startswith("/api/v1/namespaces/")]


def test_engine_waits_for_a_namespace_that_starts_terminating_after_the_list(monkeypatch):
    from ansible_collections.adhar.platform.plugins.module_utils._dr import restore as k8s_restore

    class Racing(FakeApi):
        def raw(self, method, path, query=None, body=None, **kw):
            if method == "POST" and body["kind"] == "Namespace" and ("Namespace", None, "x") not in self.store \
                    and not self.requests_done:
                self.requests_done = True
                self.store[("Namespace", None, "x")] = _terminating("x")
            return super().raw(method, path, query, body, **kw)

    api = Racing()
    api.requests_done = False
    waited = []

    def fake_wait_for(client, targets, timeout, deleted=False, clock=None):
        waited.append([t.name for t in targets])
        for t in targets:
            api.store.pop(("Namespace", None, t.name))
            t.state = "ready"

    monkeypatch.setattr(k8s_restore, "wait_for", fake_wait_for)
    out, dummy = _restore(api, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}])
    assert waited == [["x"]]
    assert out[("namespaces", "x")] == ("created", "waited for the old Namespace to finish terminating")


def test_engine_restores_status_through_the_subresource():
    api = FakeApi()
    cm = _cm("a", "s", status={"phase": "Done"})
    out, dummy = _restore(api, [cm])
    assert out[("configmaps", "s")] == ("created", None)
    assert api.store[("ConfigMap", "a", "s")]["status"] == {"phase": "Done"}
    assert [r[1] for r in api.requests if r[0] == "PUT"] == ["/api/v1/namespaces/a/configmaps/s/status"]


def test_engine_decodes_the_created_object_only_when_its_status_is_written():
    api = FakeApi()
    out, dummy = _restore(api, [_cm("a", "plain"), _cm("a", "s", status={"phase": "Done"})])
    assert out[("configmaps", "plain")] == out[("configmaps", "s")] == ("created", None)
    posts = [decode for method, decode in api.decoded if method == "POST"]
    assert sorted(posts) == [False, True]
    assert api.store[("ConfigMap", "a", "s")]["status"] == {"phase": "Done"}


# --------------------------------------------------------------------------- the result of a big restore

def _big_plan(total=50000, failed=100):
    """A synthetic plan the size of a real cluster's restore: Deployments, their ReplicaSets and Pods (left to their
    controllers), ConfigMaps created or unchanged, kube-root-ca.crt skipped, and some Secrets failed."""
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import Item

    items, uids = [], {}

    def add(key, ns, name, action=None, message=None, owner=None):
        meta = {"name": name, "namespace": ns, "uid": "%s/%s/%s" % (key, ns, name)}
        if owner:
            meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "uid": "%s/%s/%s" % (owner[2], ns, owner[1]),
                                        "controller": True}]
        item = Item(key, ns, name, {"metadata": meta})
        item.namespace = ns
        item.action, item.message = action, message
        uids[meta["uid"]] = key
        items.append(item)
        return item

    namespaces = ["team-%02d" % n for n in range(10)]
    for ns in namespaces:
        add("namespaces", None, ns, "created")
        add("configmaps", ns, "kube-root-ca.crt", "skipped", system_skip_reason("configmaps", {"metadata": {"name": "kube-root-ca.crt"}}))
    for n in range(total // 25):  # 12 objects each: 24,000 of 50,000
        ns = namespaces[n % 10]
        add("deployments.apps", ns, "app-%04d" % n, "created")
        add("replicasets.apps", ns, "app-%04d-5d8f7b" % n, owner=("Deployment", "app-%04d" % n, "deployments.apps"))
        for r in range(10):
            add("pods", ns, "app-%04d-5d8f7b-%02d" % (n, r), owner=("ReplicaSet", "app-%04d-5d8f7b" % n, "replicasets.apps"))
    for n in range(failed):
        add("secrets", namespaces[n % 10], "secret-%03d" % n, "failed",
            'HTTP 422 Invalid: Secret "secret-%03d" is invalid: data[tls.crt]: Invalid value' % n)
    n = 0
    while len(items) < total:
        add("configmaps", namespaces[n % 10], "conf-%05d" % n, "created" if n % 3 else "unchanged")
        n += 1
    for item in items:  # the restore's own reasons, as plan_items gives them
        if item.action is None:
            item.action, item.message = "skipped", controller_skip_reason(item.key, item.obj, uids, set())
    return items


class _Module:
    def __init__(self):
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


def _result(items, **params):
    from types import SimpleNamespace

    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import build_result

    p = dict({"name": "prod-restore", "existing_resource_policy": "none", "continue_on_error": True}, **params)
    counts = {}
    for item in items:
        counts[item.action] = counts.get(item.action, 0) + 1
    engine = SimpleNamespace(check_mode=False, diff=False, stages=[
        {"name": "all", "resources": sorted({i.key for i in items}), "count": len(items), "counts": counts}])
    module = _Module()
    result = build_result(p, {"name": "prod-1", "cluster": "prod"}, items, engine, {"apply": 10.0}, 12.0, None, module)
    return result, module


def test_result_of_50000_objects_is_a_few_kilobytes_by_default():
    items = _big_plan()
    assert len(items) == 50000
    result, module = _result(items)
    size = len(json.dumps(result))
    assert size < 8192, size  # per object it would be megabytes (6,009 skip entries were about 1 MB)
    restore = result["restore"]
    assert result["items"] == []
    assert restore["counts"] == {"created": 10 + 2000 + 17253, "updated": 0, "unchanged": 8627, "skipped": 22010,
                                 "recreated": 0, "failed": 100}
    assert sum(restore["counts"].values()) == 50000
    # every object counted once per resource and outcome
    assert restore["resource_counts"]["pods"] == {"skipped": 20000}
    assert restore["resource_counts"]["configmaps"] == {"skipped": 10, "created": 17253, "unchanged": 8627}
    assert sum(sum(c.values()) for c in restore["resource_counts"].values()) == 50000
    # skips grouped by a reason that names no object, with a count and five example names
    assert [(g["reason"], g["count"]) for g in restore["skipped"]] == [
        ("recreated by its controller (owner kind ReplicaSet)", 20000),
        ("recreated by its controller (owner kind Deployment)", 2000),
        ("made by Kubernetes in every namespace", 10)]
    assert restore["skipped"][0]["examples"] == ["pods team-00/app-0000-5d8f7b-%02d" % r for r in range(5)]
    assert all(len(g["examples"]) == 5 for g in restore["skipped"])
    # failures: listed in full up to the cap, the rest counted
    assert len(restore["failures"]) == 20 and restore["failures_not_listed"] == 80
    assert restore["failures"][0] == {"resource": "secrets", "namespace": "team-00", "name": "secret-000", "action": "failed",
                                      "message": 'HTTP 422 Invalid: Secret "secret-000" is invalid: data[tls.crt]: Invalid value'}
    assert module.warnings and module.warnings[0].startswith("restore prod-restore: 100 of 50000 items failed: secrets team-00/secret-000")


def test_result_failure_carries_the_summary_and_the_true_count():
    items = _big_plan(total=5000, failed=30)
    with pytest.raises(AdharError) as info:
        _result(items, continue_on_error=False)
    assert "30 of 5000 items failed" in info.value.msg
    restore = info.value.details["restore"]
    assert len(restore["failures"]) == 20 and restore["failures_not_listed"] == 10


@pytest.mark.parametrize("mode, listed, failures", [
    ("summary", 0, 20), ("failed", 100, 100), ("changed", 19263 + 100, 100), ("all", 50000, 100)])
def test_report_items_asks_for_per_object_results(mode, listed, failures):
    result, dummy = _result(_big_plan(), report_items=mode)
    assert len(result["items"]) == listed and len(result["restore"]["failures"]) == failures
    assert result["restore"]["failures_not_listed"] == 100 - failures


def test_include_filters_are_checked_against_the_backup_contents():
    records = [
        {"resource": "namespaces", "namespace": None, "name": "shop"},
        {"resource": "namespaces", "namespace": None, "name": "empty"},
        {"resource": "configmaps", "namespace": "shop", "name": "a"},
        {"resource": "deployments.apps", "namespace": "shop", "name": "web"},
        {"resource": "clusterroles.rbac.authorization.k8s.io", "namespace": None, "name": "r"},
    ]
    sel = Selection({"include_namespaces": ["shop", "empty", "shpo", "sh*"],
                     "include_resources": ["configmaps", "deployments.apps", "deploy*", "secrets", "widgets.example.com"]})
    warnings = unmatched_in_backup(records, sel, "b1", strict=False)
    assert warnings == [
        "include_namespaces 'shpo' matches nothing in backup b1 (a misspelling? strict: true makes this an error)",
        "include_resources 'secrets' matches nothing in backup b1 (a misspelling? strict: true makes this an error)",
        "include_resources 'widgets.example.com' matches nothing in backup b1 (a misspelling? strict: true makes this an "
        "error)",
    ]
    with pytest.raises(AdharError, match="^strict: these include filters match nothing in backup b1: include_namespaces "
                                         "'shpo', include_resources 'secrets', include_resources 'widgets.example.com'$"):
        unmatched_in_backup(records, sel, "b1", strict=True)
    assert unmatched_in_backup(records, Selection({}), "b1", strict=True) == []


# --------------------------------------------------------------------------- streaming a backup

KEY = KeyWrapper(generate_key())


def _backup(tmp_path, namespaces=("a", "b"), per_namespace=7, name="b1"):
    store = LocalStorage(str(tmp_path / "backups"))
    w = ArchiveWriter(store, name, cluster="prod", key_wrapper=KEY, pack_size=1500, workers=2)
    w.start()
    for ns in namespaces:
        w.add_resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "uid": "ns-" + ns}}, "namespaces")
        for i in range(per_namespace):
            w.add_resource({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "cm-%02d" % i, "namespace": ns, "uid": "%s-%d" % (ns, i),
                                         "resourceVersion": "7", "labels": {"app": "shop" if i % 2 else "other"}},
                            "data": {"k": "v" * (20 + i)}}, "configmaps", encrypt=True)
    w.commit()
    return store


class SpyLoader:
    """Wraps the plan's loader: records which items each call reads and what the other items hold at that moment."""

    def __init__(self, loader, items):
        self.loader, self.items, self.calls = loader, items, []

    def __call__(self, chunk):
        holding = [(i.key, i.name, i.namespace) for i in self.items if i.obj is not None and i not in chunk]
        self.calls.append(([(i.key, i.name, i.namespace) for i in chunk], holding))
        self.loader(chunk)


def test_plan_keeps_no_object_and_tiers_are_read_chunk_by_chunk(tmp_path, monkeypatch):
    store = _backup(tmp_path)
    reader = ArchiveReader(store, "b1", KEY)
    params = {"name": "r1", "namespace_mapping": {"b": "c"}}
    items, tiers, timings, loader = plan_items(reader, params, 2)
    assert timings["selected_items"] == 16 and [t[0] for t in tiers] == ["cluster", "data"]
    assert all(i.obj is None and i.record is not None for i in items)  # outlines only: nothing of the data kept
    assert {i.namespace for i in items if i.key == "configmaps"} == {"a", "c"}

    monkeypatch.setattr(k8s_restore, "APPLY_CHUNK", 4)
    api = FakeApi()
    spy = SpyLoader(loader, items)
    Restore(api, backup="b1", name="r1", workers=3, loader=spy).run(items, tiers)

    assert [i.action for i in items] == ["created"] * 16
    namespaces = [c for c in spy.calls if c[0][0][0] == "namespaces"]
    configmaps = [c for c in spy.calls if c[0][0][0] == "configmaps"]
    assert len(namespaces) == 1 and len(configmaps) == 4  # 14 ConfigMaps in chunks of about 4
    # the chunks, in order, are contiguous runs of the tier's items (of few packs of the backup)
    assert [n for c in configmaps for n in c[0]] == [(i.key, i.name, i.namespace) for i in items if i.key == "configmaps"]
    # while the Namespaces tier was read, no ConfigMap (the next tier) had been decoded
    assert namespaces[0][1] == []
    for n, (chunk, holding) in enumerate(configmaps):
        # at most the chunk being applied is held besides the one being read; nothing of older chunks
        older = {x for c, dummy in configmaps[:max(0, n - 1)] for x in c}
        assert not older & set(holding)
        assert not [h for h in holding if h[0] == "namespaces"]
    assert all(i.obj is None for i in items)  # dropped once applied

    stored = api.store[("ConfigMap", "c", "cm-03")]
    assert stored["metadata"]["labels"] == {"app": "shop", BACKUP_LABEL: "b1", RESTORE_LABEL: "r1"}
    assert stored["data"] == {"k": "v" * 23} and stored["metadata"]["uid"] == "new"  # the uid the API server gave it
    assert ("Namespace", None, "c") in api.store and ("Namespace", None, "b") not in api.store


def test_selection_by_labels_works_on_outlines(tmp_path):
    reader = ArchiveReader(_backup(tmp_path), "b1", KEY)
    items, tiers, dummy, loader = plan_items(reader, {"name": "r1", "label_selector": "app=shop"}, 2)
    chosen = sorted((i.namespace, i.name) for i in items if i.key == "configmaps")
    assert chosen == [(ns, "cm-%02d" % n) for ns in ("a", "b") for n in (1, 3, 5)]
    loader(items)
    assert all(i.obj["metadata"]["labels"]["app"] == "shop" for i in items if i.key == "configmaps")


def _tamper(tmp_path, record):
    """Flip one byte of a packed item (``record``: its manifest record) of backup b1."""
    path = tmp_path / "backups" / "b1" / record["pack"]
    data = bytearray(path.read_bytes())
    data[record["offset"] + 5] ^= 1
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))


def test_a_tampered_item_is_refused_by_the_plan_before_any_request(tmp_path):
    store = _backup(tmp_path)
    manifest = ArchiveReader(store, "b1", KEY).manifest
    target = next(i for i in manifest["items"] if i["path"].startswith("resources/configmaps/namespaces/b/cm-05"))
    _tamper(tmp_path, target)
    with pytest.raises(AdharError, match="failed verification, nothing was restored: 1 of 16 selected items are bad"):
        plan_items(ArchiveReader(store, "b1", KEY), {"name": "r1"}, 2)


def test_an_item_changed_after_the_plan_fails_alone(tmp_path):
    store = _backup(tmp_path, namespaces=("a",), per_namespace=3)
    reader = ArchiveReader(store, "b1", KEY)
    items, tiers, dummy, loader = plan_items(reader, {"name": "r1"}, 2)
    target = next(i for i in items if i.name == "cm-01")
    _tamper(tmp_path, target.record)
    Restore(FakeApi(), backup="b1", name="r1", workers=2, loader=loader, continue_on_error=True).run(items, tiers)
    assert target.action == "failed" and "read again from the backup" in target.message
    assert sorted(i.action for i in items if i is not target) == ["created"] * 3


def test_outline_keeps_what_selection_reads_only():
    sel = k8s_restore.Selection({"label_selector": "tier=web", "app": "shop"})
    obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": "x", "namespace": "a", "uid": "u1", "labels": {"tier": "web", "other": "y"},
                        "annotations": {"big": "z" * 1000}, "managedFields": [{"manager": "m"}],
                        "ownerReferences": [{"kind": "Deployment", "uid": "d1", "controller": True, "name": "d"},
                                            {"kind": "Other", "uid": "o1"}]},
           "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    small = outline("replicasets.apps", obj, sel)
    assert small == {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                     "metadata": {"uid": "u1", "labels": {"tier": "web"},
                                  "ownerReferences": [{"controller": True, "uid": "d1", "kind": "Deployment"}]}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "w.e.com"},
           "spec": {"group": "e.com", "names": {"plural": "w", "kind": "W"}, "versions": [{"name": "v1"}]}}
    assert outline(k8s_restore.CRD_KEY, crd, k8s_restore.Selection({}))["spec"] == {"group": "e.com",
                                                                                    "names": {"plural": "w"}}


def test_chunks_share_every_type_and_keep_order():
    class It:
        def __init__(self, key, n):
            self.key, self.n = key, n

    items = [It("secrets", n) for n in range(6)] + [It("services", n) for n in range(3)]
    chunks = list(chunked(["secrets", "services"], items, 4))
    # 9 items in chunks of about 4: 3 chunks, each with 2 Secrets and 1 Service, the types interleaved
    assert [[(i.key, i.n) for i in c] for c in chunks] == [
        [("secrets", 2 * n), ("services", n), ("secrets", 2 * n + 1)] for n in range(3)]
    assert list(chunked(["x"], [], 4)) == []


def test_read_ahead_is_bounded_by_bytes():
    running, most, lock = [0], [0], threading.Lock()

    def job(n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)
        return [n]

    def consume():
        for value in _bounded_map(pool, job, range(40), lambda n: 10, limit=30):
            with lock:
                running[0] -= 1
            time.sleep(0.005)  # a slow consumer
            yield value

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(consume()) == list(range(40))  # in order
    assert most[0] <= 3  # never more than 30 bytes (3 jobs) submitted and not consumed


def test_manifest_encoding_is_the_canonical_json():
    items = [{"path": "resources/configmaps/namespaces/a/cm-%d.json" % i, "size": i, "sha256": "%064x" % i,
              "encrypted": True, "name": "\u00e9t\u00e9-%d" % i} for i in range(2345)]
    for manifest in ({"format": "x", "items": items, "mac": "m", "packs": [{"path": "p"}]}, {"items": []}, {"a": 1}):
        want = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        assert canonical_json(manifest) == want
        assert json.loads(dump_manifest(manifest)) == manifest


def test_the_streamed_archive_reads_back_like_before(tmp_path):
    store = _backup(tmp_path, namespaces=("a",), per_namespace=2)
    reader = ArchiveReader(store, "b1", KEY)
    names = sorted((key, ns, name) for key, ns, name, dummy in k8s_restore.resource_records(reader))
    assert names == [("configmaps", "a", "cm-00"), ("configmaps", "a", "cm-01"), ("namespaces", None, "a")]
    assert archive.describe_path(next(reader.records("resources"))[1]["path"])["section"] == "resources"
