# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the apps module's pure parts: connections, option checks, grouping, the in-memory sink,
readiness, and the comparison restore and the verification share."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._dr.apps_migrate import (
    ObjectSink,
    app_of,
    check_distinct,
    check_what,
    connection_params,
    connection_suboptions,
    namespace_mapping_option,
    object_state,
    plan_groups,
)
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import resource_path
from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import build_items, same_object
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore_sanitize import BACKUP_LABEL, RESTORE_LABEL


def _params(**extra):
    p = {"action": "migrate", "app": None, "app_label_keys": None, "label_selector": None, "include_namespaces": None,
         "exclude_namespaces": None, "include_resources": None, "exclude_resources": None,
         "include_cluster_resources": None, "name": "migrate-1"}
    p.update(extra)
    return p


def _obj(kind, ns, name, app=None, uid=None, **rest):
    meta = {"name": name, "uid": uid or "uid-%s-%s" % (kind, name)}
    if ns:
        meta["namespace"] = ns
    if app:
        meta["labels"] = {"app.kubernetes.io/name": app}
    out = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    out.update(rest)
    return out


def _entries():
    web_pod = {"serviceAccountName": "web-sa", "volumes": [{"name": "c", "configMap": {"name": "web-conf"}}],
               "containers": [{"name": "a", "envFrom": [{"secretRef": {"name": "web-secret"}}]}]}
    dep = _obj("Deployment", "shop", "web", "web", spec={"template": {"spec": web_pod}})
    dep["apiVersion"] = "apps/v1"
    api = _obj("Deployment", "shop", "api", "api", spec={"template": {"spec": {"containers": [{"name": "a"}]}}})
    api["apiVersion"] = "apps/v1"
    rs = _obj("ReplicaSet", "shop", "web-1", "web")
    rs["apiVersion"] = "apps/v1"
    rs["metadata"]["ownerReferences"] = [{"controller": True, "kind": "Deployment", "uid": dep["metadata"]["uid"]}]
    return {
        ("namespaces", None, "shop"): _obj("Namespace", None, "shop"),
        ("deployments.apps", "shop", "web"): dep,
        ("replicasets.apps", "shop", "web-1"): rs,
        ("deployments.apps", "shop", "api"): api,
        ("serviceaccounts", "shop", "web-sa"): _obj("ServiceAccount", "shop", "web-sa"),
        ("configmaps", "shop", "web-conf"): _obj("ConfigMap", "shop", "web-conf", data={"k": "v"}),
        ("secrets", "shop", "web-secret"): _obj("Secret", "shop", "web-secret", data={"p": "c2VjcmV0"}),
        ("configmaps", "shop", "loose"): _obj("ConfigMap", "shop", "loose"),
        ("configmaps", "shop", "kube-root-ca.crt"): _obj("ConfigMap", "shop", "kube-root-ca.crt"),
    }


def test_connection_top_level_is_the_default_of_both_sides():
    params = dict.fromkeys(K8S_AUTH_ARG_SPEC)
    params.update(kubeconfig="/k", request_timeout=30.0, source={"context": "blue", "host": None},
                  target={"context": "green", "kubeconfig": "/other"})
    src, dst = connection_params(params, "source"), connection_params(params, "target")
    assert src["kubeconfig"] == "/k" and src["context"] == "blue" and src["request_timeout"] == 30.0
    assert dst["kubeconfig"] == "/other" and dst["context"] == "green"
    check_distinct(src, dst)
    with pytest.raises(AdharError, match="source and target are the same connection"):
        check_distinct(connection_params(params, "source"), connection_params(dict(params, target=None), "source"))
    # the suboptions carry no default and no environment fallback (they would override the top level)
    sub = connection_suboptions()
    assert set(sub) == set(K8S_AUTH_ARG_SPEC)
    assert not any("default" in s or "fallback" in s for s in sub.values())
    assert sub["api_key"]["no_log"] is True


def test_same_connection_error_hides_the_token():
    conn = dict.fromkeys(K8S_AUTH_ARG_SPEC)
    conn.update(host="https://h:6443", api_key="sekrit-token")
    with pytest.raises(AdharError) as err:
        check_distinct(conn, dict(conn))
    assert "sekrit" not in err.value.msg and "host=https://h:6443" in err.value.msg


@pytest.mark.parametrize("value, message", [
    (["shop:shop2"], "must be a dictionary"),
    ("shop=shop2", "must be a dictionary"),
    ({"shop": "Shop_2"}, "must be a DNS label"),
    ({"Shop": "shop2"}, "the key 'Shop' must be a namespace name"),
    ({"a": "x", "b": "x"}, "several namespaces map to x"),
])
def test_namespace_mapping_refused(value, message):
    with pytest.raises(AdharError, match=message) as err:
        namespace_mapping_option(value)
    assert err.value.details.get("option") == "namespace_mapping" or "namespace_mapping" in err.value.msg


def test_namespace_mapping_accepted():
    assert namespace_mapping_option(None) == {}
    assert namespace_mapping_option({"shop": "shop-green"}) == {"shop": "shop-green"}


def test_what_to_move():
    with pytest.raises(AdharError, match="namespaces .names or globs. or app"):
        check_what(_params())
    with pytest.raises(AdharError, match="app_label_keys is empty"):
        check_what(_params(app="web", app_label_keys=[]))
    check_what(_params(app="web"))
    check_what(_params(include_namespaces=["shop"]))


def test_sink_keys_objects_like_an_archive():
    sink = ObjectSink()
    cm = _obj("ConfigMap", "shop", "c")
    ns = _obj("Namespace", None, "shop")
    sink.submit_many([(resource_path("configmaps", "", "shop", "c"), cm, None, {}),
                      (resource_path("namespaces", "", None, "shop"), ns, None, {})])
    sink.submit(resource_path("widgets", "example.com", "shop", "w"), {"kind": "Widget"})
    assert set(sink.entries) == {("configmaps", "shop", "c"), ("namespaces", None, "shop"), ("widgets.example.com", "shop", "w")}
    assert sink.entries[("configmaps", "shop", "c")] is cm


def test_app_selection_pulls_in_what_the_pods_need():
    entries = _entries()
    [(app, keys)] = plan_groups(entries, _params(app="web"), gradual=False)
    assert app == "web"
    names = {(k[0], k[2]) for k in keys}
    assert names == {("namespaces", "shop"), ("deployments.apps", "web"), ("replicasets.apps", "web-1"),
                     ("serviceaccounts", "web-sa"), ("configmaps", "web-conf"), ("secrets", "web-secret")}
    items, tiers = build_items(entries, keys, _params(), "blue", {"shop": "shop-green"})
    by = {(i.key, i.name): i for i in items}
    assert by[("replicasets.apps", "web-1")].action == "skipped"  # its Deployment is moved
    assert by[("configmaps", "web-conf")].namespace == "shop-green"
    assert by[("configmaps", "web-conf")].obj["metadata"]["labels"] == {BACKUP_LABEL: "blue", RESTORE_LABEL: "migrate-1"}
    assert [t[0] for t in tiers] == ["cluster", "prerequisites", "data", "workloads"]


def test_gradual_groups_each_app_then_the_rest():
    entries = _entries()
    groups = plan_groups(entries, _params(include_namespaces=["shop"]), gradual=True)
    assert [g[0] for g in groups] == ["api", "web", None]
    rest = {(k[0], k[2]) for k in groups[2][1]}
    assert rest == {("namespaces", "shop"), ("configmaps", "loose"), ("configmaps", "kube-root-ca.crt")}
    assert all(("namespaces", None, "shop") in keys for dummy, keys in groups)
    # every object once (the Namespace in each group)
    moved = [k for dummy, keys in groups for k in keys if k[0] != "namespaces"]
    assert len(moved) == len(set(moved)) == len(entries) - 1
    # a controlled object in the rest is left to its owner moved with another group
    uids = {(entries[k].get("metadata") or {}).get("uid") for dummy, keys in groups for k in keys}
    rs = dict(entries[("replicasets.apps", "shop", "web-1")])
    rs["metadata"] = dict(rs["metadata"], labels={})
    entries[("replicasets.apps", "shop", "web-1")] = rs
    groups = plan_groups(entries, _params(include_namespaces=["shop"]), gradual=True)
    items, dummy = build_items(entries, groups[-1][1], _params(), "blue", {}, owner_uids=uids)
    assert {i.name: i.action for i in items}["web-1"] == "skipped"
    # gradual with app: that one application
    assert [g[0] for g in plan_groups(entries, _params(app="web"), gradual=True)] == ["web"]


def test_app_of_takes_the_first_label_key_present():
    obj = {"metadata": {"labels": {"app": "b", "app.kubernetes.io/instance": "a"}}}
    assert app_of(obj, ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app")) == "a"
    assert app_of({"metadata": {}}, ("app",)) is None


def test_verification_compares_like_unchanged():
    want = build_items({("services", "shop", "web"): _obj("Service", "shop", "web", spec={
        "clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 30001}], "type": "NodePort"})},
        {("services", "shop", "web")}, _params(), "blue", {})[0][0].obj
    live = _obj("Service", "shop", "web", uid="other", spec={"clusterIP": "10.9.9.9", "type": "NodePort",
                                                             "ports": [{"port": 80, "nodePort": 31999}]})
    live["metadata"]["resourceVersion"] = "7"
    live["status"] = {"loadBalancer": {}}
    assert same_object("services", want, live)  # assigned IP and node port are no difference
    live["spec"]["ports"].append({"port": 81})
    assert not same_object("services", want, live)


@pytest.mark.parametrize("key, obj, ready, reason", [
    ("persistentvolumeclaims", {"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}, False, "phase Pending"),
    ("persistentvolumeclaims", {"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, True, "phase Bound"),
    ("replicasets.apps", {"kind": "ReplicaSet", "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}, False,
     "1 of 2 replicas ready"),
    ("services", {"kind": "Service", "spec": {"type": "LoadBalancer"}}, False, "load balancer pending"),
    ("services", {"kind": "Service", "spec": {"type": "ClusterIP"}}, True, "exists"),
    ("deployments.apps", {"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1},
                          "status": {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 1, "availableReplicas": 1}},
     True, "1 replicas available"),
    ("pods", {"kind": "Pod", "status": {"phase": "Failed", "reason": "Evicted"}}, False, "failed: pod failed: Evicted"),
])
def test_object_state(key, obj, ready, reason):
    assert object_state(key, obj) == (ready, reason)
