# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply engine against an in-memory fake of K8sClient + API server (unit tests only).

The fake understands what the engine sends: discovery documents, server-side
apply PATCH (a simplified merge: the applied fields replace the stored ones),
GET/DELETE of one object, labelled LISTs and the baseline LIST.  Objects keep
a resourceVersion (a global counter) that moves only when an apply changes
something, and the field manager's Apply entry time moves with it, like the
real server.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.adhar.platform.plugins.module_utils._k8s import applyset
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import (
    HIDDEN,
    HIDDEN_CHANGED,
    ApplyEngine,
    Baseline,
    classify_apply,
    clean_object,
    diff_pair,
    finish,
    load_objects,
    object_label,
    object_problem,
    select_prune,
    summarize,
    tier_of,
)

RESOURCES = {
    "v1": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("limitranges", "LimitRange", True),
        ("pods", "Pod", True),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
}


class FakeApiError(ApiException):
    def __init__(self, status, message):
        super().__init__(status=status, reason=message)
        self.status = status
        self.reason = message
        self.body = json.dumps({"kind": "Status", "message": message, "reason": "Invalid", "code": status})
        self.headers = {}


class FakeResponse:
    def __init__(self, data, headers):
        self.data = json.dumps(data).encode()
        self.headers = headers

    def release_conn(self):
        pass


class FakeClient:
    def __init__(self, date="Thu, 26 Nov 2026 03:00:00 GMT", now="2026-11-26T03:00:00Z"):
        self.api_client = object()
        self.lock = threading.Lock()
        self.resources = {k: list(v) for k, v in RESOURCES.items()}
        self.objects = {}       # path -> object
        self.rv = 100
        self.date = date
        self.now = now
        self.calls = []         # (method, path, query)
        self.fail = {}          # object path -> (status, message) for PATCH
        self.forbid_baseline = False

    # -- helpers for tests ---------------------------------------------------

    def advance(self, now, date):
        self.now, self.date = now, date

    def writes(self, method="PATCH"):
        return [c for c in self.calls if c[0] == method]

    def store_path(self, obj):
        """The object path the engine uses for ``obj`` (for seeding)."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        for plural, k, namespaced in self.resources.get(api_version, []):
            if k == kind:
                base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
                ns = obj["metadata"].get("namespace")
                return "{0}{1}/{2}/{3}".format(base, "/namespaces/" + ns if namespaced and ns else "", plural, obj["metadata"]["name"])
        raise KeyError(kind)

    # -- K8sClient interface -------------------------------------------------

    def call(self, fn, *args, **kwargs):
        path, query = args[1], args[2]
        with self.lock:
            self.calls.append(("GET", path, dict(query)))
        if self.forbid_baseline:
            raise FakeApiError(403, "forbidden")
        return FakeResponse({"kind": "NamespaceList", "metadata": {"resourceVersion": str(self.rv)}, "items": []}, {"Date": self.date})

    def raw(self, method, path, query=None, body=None, headers=None, raise_for_status=True, timeout=None):
        path, _sep, qs = path.partition("?")
        query = dict(query or {}, **dict(parse_qsl(qs)))
        with self.lock:
            self.calls.append((method, path, query))
            status, data = self._handle(method, path, query, body, headers or {})
        if raise_for_status and not 200 <= status <= 299:
            raise FakeApiError(status, (data or {}).get("message", "error") if isinstance(data, dict) else data)
        return status, data

    # -- the server ----------------------------------------------------------

    def _discovery(self, path):
        for api_version, entries in self.resources.items():
            base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
            if path == base:
                return 200, {"kind": "APIResourceList", "groupVersion": api_version, "resources": [
                    {"name": p, "kind": k, "namespaced": n, "verbs": ["get", "list", "patch", "delete"]} for p, k, n in entries
                ] + [{"name": entries[0][0] + "/status", "kind": entries[0][1], "namespaced": entries[0][2]}]}
        return None

    def _group(self, path):
        """``/apis/<group>``: the group's versions, the first one preferred."""
        versions = [v for v in self.resources if "/" in v and "/apis/" + v.split("/")[0] == path]
        if not versions:
            return None
        gvs = [{"groupVersion": v, "version": v.split("/")[1]} for v in versions]
        return 200, {"kind": "APIGroup", "name": path[len("/apis/"):], "versions": gvs, "preferredVersion": gvs[0]}

    def _handle(self, method, path, query, body, headers):
        if method == "GET":
            found = self._discovery(path) or self._group(path)
            if found:
                return found
            if path in self.objects:
                return 200, copy.deepcopy(self.objects[path])
            listed = self._list(path, query)
            if listed is not None:
                return 200, listed
            if path.startswith("/apis/") and path.count("/") == 3:
                return 404, "404 page not found"
            return 404, {"kind": "Status", "message": "not found", "code": 404}
        if method == "PATCH" and headers.get("Content-Type") == "application/merge-patch+json":
            return self._merge_labels(path, query, body)
        if method == "PATCH":
            return self._apply(path, query, json.loads(body))
        if method == "DELETE":
            if path not in self.objects:
                return 404, {"kind": "Status", "message": "not found", "code": 404}
            if query.get("dryRun") != "All":
                del self.objects[path]
            return 200, {"kind": "Status", "status": "Success"}
        raise AssertionError(method)

    def _list(self, path, query):
        selector = query.get("labelSelector")
        prefix = path + "/"
        items = []
        for p, obj in self.objects.items():
            rel = p[len(prefix):] if p.startswith(prefix) else None
            if rel is None:
                # cluster-wide list of a namespaced resource: /api/v1/configmaps vs /api/v1/namespaces/x/configmaps/y
                parts = p.split("/")
                plural_path = "/".join(parts[:-4] + parts[-2:-1]) if "/namespaces/" in p else None
                if plural_path != path:
                    continue
            elif "/" in rel:
                continue
            labels = obj["metadata"].get("labels") or {}
            if selector:
                key, _eq, value = selector.partition("=")
                if labels.get(key) != value:
                    continue
            items.append(copy.deepcopy(obj))
        known = any(path.endswith("/" + plural) for entries in self.resources.values() for plural, _k, _n in entries)
        if not known:
            return None
        return {"kind": "List", "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def _merge_labels(self, path, query, body):
        """A JSON merge patch of ``metadata.labels`` (what adoption sends)."""
        if path not in self.objects:
            return 404, {"kind": "Status", "message": "not found", "code": 404}
        obj = copy.deepcopy(self.objects[path])
        labels = obj["metadata"].setdefault("labels", {})
        for key, value in body["metadata"]["labels"].items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value
        if query.get("dryRun") != "All" and obj != self.objects[path]:
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[path] = obj
        return 200, obj

    def _apply(self, path, query, body):
        if path in self.fail:
            status, message = self.fail[path]
            return status, {"kind": "Status", "message": message, "reason": "Invalid", "code": status}
        if path.startswith("/apis/") and not any(path.startswith("/apis/" + v + "/") for v in self.resources):
            return 404, "404 page not found"
        manager = query["fieldManager"]
        dry = query.get("dryRun") == "All"
        current = self.objects.get(path)
        if current is None:
            obj = copy.deepcopy(body)
            obj["metadata"]["managedFields"] = [{"manager": manager, "operation": "Apply", "time": self.now}]
            if body["kind"] == "CustomResourceDefinition":
                obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
                if not dry:
                    spec = body["spec"]
                    for version in spec["versions"]:
                        self.resources["{0}/{1}".format(spec["group"], version["name"])] = [
                            (spec["names"]["plural"], spec["names"]["kind"], spec["scope"] == "Namespaced")]
            if not dry:
                self.rv += 1
                obj["metadata"]["resourceVersion"] = str(self.rv)
                self.objects[path] = obj
            return 201, copy.deepcopy(obj)
        merged = copy.deepcopy(current)
        for key, value in body.items():
            if key == "metadata":
                for mk, mv in value.items():
                    merged["metadata"][mk] = mv
            else:
                merged[key] = value
        if merged == current:
            return 200, copy.deepcopy(current)
        merged["metadata"]["managedFields"] = [
            e for e in merged["metadata"].get("managedFields", []) if e["manager"] != manager
        ] + [{"manager": manager, "operation": "Apply", "time": self.now}]
        if not dry:
            self.rv += 1
            merged["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[path] = merged
        return 200, copy.deepcopy(merged)

    def controller_touch(self, path):
        """A controller writes the object (status): resourceVersion moves, our Apply time does not."""
        with self.lock:
            self.rv += 1
            self.objects[path]["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[path].setdefault("status", {})["touched"] = self.rv


# --------------------------------------------------------------------------- helpers

def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {"team": "a"}}}


def cm(name, namespace=None, **data):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": "v"}}


def deployment(name, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1", "served": True, "storage": True}]}}
WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1}}


def objs(*dicts):
    return [(d, "definitions[{0}]".format(i)) for i, d in enumerate(dicts)]


def engine(client, **kw):
    kw.setdefault("workers", 4)
    return ApplyEngine(client, **kw)


def by_name(result):
    return {r["name"]: r for r in result["results"]}


# --------------------------------------------------------------------------- input

def test_load_objects_flattens_lists_yaml_and_files(tmp_path):
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fromfile-b}\n---\n---\n")
    (tmp_path / "a.yml").write_text("kind: ConfigMapList\napiVersion: v1\nitems:\n- metadata: {name: typed-1}\n- metadata: {name: typed-2}\n")
    (tmp_path / "ignored.txt").write_text("not yaml: [")
    text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n---\n" \
           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second-doc}\n"
    loaded = load_objects([cm("inline"), text, [cm("nested")]], [str(tmp_path)])
    names = [o["metadata"]["name"] for o, _origin in loaded]
    assert names == ["inline", "s", "second-doc", "nested", "typed-1", "typed-2", "fromfile-b"]
    typed = [o for o, dummy in loaded if o["metadata"]["name"] == "typed-1"][0]
    assert typed["kind"] == "ConfigMap" and typed["apiVersion"] == "v1"
    origins = [origin for _o, origin in loaded]
    assert origins[1] == "definitions[1][0].items[0]" and origins[-1].endswith("b.yaml")


def test_load_objects_single_dict_string_and_errors(tmp_path):
    assert [o["kind"] for o, dummy in load_objects(cm("x"))] == ["ConfigMap"]
    assert [o["kind"] for o, dummy in load_objects("kind: ConfigMap\napiVersion: v1\nmetadata: {name: y}")] == ["ConfigMap"]
    with pytest.raises(AdharError, match="not valid YAML"):
        load_objects(["a: [unclosed"])
    with pytest.raises(AdharError, match="does not exist"):
        load_objects(None, [str(tmp_path / "missing.yaml")])


def test_clean_object_drops_server_fields():
    live = cm("x", "ns")
    live["metadata"].update(resourceVersion="5", uid="u", managedFields=[{}], creationTimestamp="t", generation=2)
    live["status"] = {"phase": "x"}
    cleaned = clean_object(live)
    assert cleaned == cm("x", "ns")
    assert live["status"]  # the input is not modified


@pytest.mark.parametrize("obj,problem", [
    ("text", "not a mapping"),
    ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "apiVersion is missing"),
    ({"apiVersion": "v1", "metadata": {"name": "x"}}, "kind is missing"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "metadata.name is missing"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x-"}}, "generateName"),
    ({"apiVersion": "/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, "not valid"),
])
def test_object_problem(obj, problem):
    assert problem in object_problem(obj)


def test_tiers_and_apply_set_names():
    assert tier_of("", "Namespace") == 0 and tier_of("apiextensions.k8s.io", "CustomResourceDefinition") == 0
    assert tier_of("", "ServiceAccount") == 1 and tier_of("apps", "Deployment") == 2
    applyset.validate("platform-core.v2", "Secret", "default", "adhar.platform")
    applyset.validate("x" * 253, "ConfigMap", "default", "kubectl/v1.36.3")
    for bad in ("Upper", "-x", "x" * 254, "a_b", ""):
        with pytest.raises(AdharError, match="^apply_set: "):
            applyset.validate(bad, "Secret", "default", "adhar.platform")
    with pytest.raises(AdharError, match="^apply_set_parent: "):
        applyset.validate("x", "Deployment", "default", "adhar.platform")
    with pytest.raises(AdharError, match="^apply_set_namespace: "):
        applyset.validate("x", "Secret", "a.b", "adhar.platform")
    with pytest.raises(AdharError, match="^apply_set_tooling: "):
        applyset.validate("x", "Secret", "default", "bad tool")


# --------------------------------------------------------------------------- change detection

T0 = datetime(2026, 11, 26, 3, 0, 0, tzinfo=timezone.utc)


def answer(rv, time_, manager="adhar"):
    return {"metadata": {"resourceVersion": str(rv), "managedFields": [{"manager": manager, "operation": "Apply", "time": time_}]}}


def test_classify_apply_from_the_answer_alone():
    base = Baseline("100", T0)
    assert classify_apply(201, answer(101, "2026-11-26T03:00:00Z"), "adhar", baseline=base) == "created"
    # resourceVersion not newer than the baseline: nothing was written
    assert classify_apply(200, answer(99, "2026-11-26T03:00:05Z"), "adhar", baseline=base) == "unchanged"
    # written after the baseline and our Apply time moved: our change
    assert classify_apply(200, answer(101, "2026-11-26T03:00:00Z"), "adhar", baseline=base) == "configured"
    # written after the baseline by someone else (a controller's status update): not ours
    assert classify_apply(200, answer(101, "2026-11-26T02:59:59Z"), "adhar", baseline=base) == "unchanged"
    # another manager's time does not count
    assert classify_apply(200, answer(101, "2026-11-26T03:00:00Z", manager="kubectl"), "adhar", baseline=base) == "configured"
    # no baseline: cannot tell, so say configured
    assert classify_apply(200, answer(101, "2026-11-26T03:00:00Z"), "adhar", baseline=None) == "configured"
    # opaque resourceVersions: the time decides
    assert classify_apply(200, answer("abc", "2026-11-26T02:00:00Z"), "adhar", baseline=Baseline("x", T0)) == "unchanged"


def test_classify_apply_with_the_object_read_first():
    before = answer(5, "2026-11-26T02:00:00Z")
    before["data"] = {"a": "1"}
    before["status"] = {"x": 1}
    same = copy.deepcopy(before)
    same["status"] = {"x": 2}                      # status moved: not our change
    same["metadata"]["resourceVersion"] = "6"
    assert classify_apply(200, same, "adhar", before=before, before_known=True) == "unchanged"
    changed = copy.deepcopy(before)
    changed["data"] = {"a": "2"}
    assert classify_apply(200, changed, "adhar", before=before, before_known=True) == "configured"
    assert classify_apply(200, changed, "adhar", before=None, before_known=True) == "created"


def test_diff_pair_hides_secret_values():
    before = {"kind": "Secret", "metadata": {"name": "s", "managedFields": [{}], "resourceVersion": "1"},
              "data": {"same": "YQ==", "moved": "Yg=="}, "status": {}}
    after = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"same": "YQ==", "moved": "Yw==", "new": "ZA=="}}
    pair = diff_pair(before, after)
    assert pair["before"]["data"] == {"same": HIDDEN, "moved": HIDDEN}
    assert pair["after"]["data"] == {"same": HIDDEN, "moved": HIDDEN_CHANGED, "new": HIDDEN_CHANGED}
    assert "managedFields" not in pair["before"]["metadata"] and "status" not in pair["before"]
    created = diff_pair(None, cm("x"))
    assert created["before"] == {} and created["after"]["data"] == {"k": "v"}


# --------------------------------------------------------------------------- engine: apply

def test_first_apply_creates_in_tier_order_and_defaults_namespaces():
    client = FakeClient()
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}
    inputs = objs(deployment("web"), cm("settings"), sa, ns("apps"), cm("elsewhere", "other"), CRD, WIDGET)
    result = engine(client, namespace="apps").run(inputs)
    assert result["changed"] is True and result["failed_count"] == 0
    assert result["counts"]["created"] == 7
    patches = [path for _m, path, _q in client.writes()]
    first_two = set(patches[:2])
    assert first_two == {"/api/v1/namespaces/apps", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"}
    assert patches[2] == "/api/v1/namespaces/apps/serviceaccounts/robot"
    assert set(patches[3:]) == {
        "/apis/apps/v1/namespaces/apps/deployments/web", "/api/v1/namespaces/apps/configmaps/settings",
        "/api/v1/namespaces/other/configmaps/elsewhere", "/apis/example.com/v1/namespaces/apps/widgets/w1"}
    named = by_name(result)
    assert named["apps"]["namespace"] is None and named["settings"]["namespace"] == "apps"
    assert named["elsewhere"]["namespace"] == "other"
    # every apply: fieldManager, force=false, no dry run; one PATCH per object, no GET of objects
    for _m, _p, query in client.writes():
        assert query["fieldManager"] == "adhar" and query["force"] == "false" and "dryRun" not in query
    object_gets = [c for c in client.calls if c[0] == "GET" and c[1].count("/") > 4]
    assert not [g for g in object_gets if "customresourcedefinitions" not in g[1]]
    # only the group-versions used were discovered (example.com/v1 came from the CRD itself)
    discovered = sorted(p for m, p, q in client.calls if m == "GET" and p in ("/api/v1", "/apis/apps/v1",
                                                                              "/apis/apiextensions.k8s.io/v1",
                                                                              "/apis/example.com/v1"))
    assert discovered == ["/api/v1", "/apis/apiextensions.k8s.io/v1", "/apis/apps/v1", "/apis/example.com/v1"]


def test_rerun_is_unchanged_and_a_controller_write_is_not_ours():
    client = FakeClient()
    inputs = objs(ns("apps"), cm("a", "apps"), deployment("web", "apps"))
    engine(client).run(inputs)
    client.advance("2026-11-26T03:00:10Z", "Thu, 26 Nov 2026 03:00:10 GMT")
    client.controller_touch("/apis/apps/v1/namespaces/apps/deployments/web")
    client.advance("2026-11-26T03:00:20Z", "Thu, 26 Nov 2026 03:00:20 GMT")
    result = engine(client).run(inputs)
    assert result["changed"] is False and result["counts"]["unchanged"] == 3 and result["changes"] == []
    changed = objs(ns("apps"), cm("a", "apps", k="new"), deployment("web", "apps"))
    result = engine(client).run(changed)
    assert result["changes"] == ["configured ConfigMap apps/a"]


def test_rerun_while_a_controller_writes_during_the_run():
    client = FakeClient()
    inputs = objs(cm("a", "apps"))
    engine(client).run(inputs)
    client.advance("2026-11-26T03:01:00Z", "Thu, 26 Nov 2026 03:01:00 GMT")
    original = client._apply

    def touch_then_apply(path, query, body):
        if path in client.objects:
            client.rv += 1
            client.objects[path]["metadata"]["resourceVersion"] = str(client.rv)
        return original(path, query, body)

    client._apply = touch_then_apply
    result = engine(client).run(inputs)
    assert result["counts"]["unchanged"] == 1


def test_without_baseline_objects_are_read_first():
    client = FakeClient()
    client.forbid_baseline = True
    inputs = objs(cm("a", "apps"))
    assert engine(client).run(inputs)["counts"]["created"] == 1
    result = engine(client).run(inputs)
    assert result["counts"]["unchanged"] == 1
    assert [c for c in client.calls if c[0] == "GET" and c[1] == "/api/v1/namespaces/apps/configmaps/a"]


def test_check_mode_is_a_server_dry_run_and_writes_nothing():
    client = FakeClient()
    engine(client).run(objs(cm("a", "apps")))
    stored = copy.deepcopy(client.objects)
    client.calls.clear()
    inputs = objs(ns("fresh"), cm("a", "apps", k="changed"), cm("b", "apps"), cm("in-fresh", "fresh"), CRD, WIDGET)
    result = engine(client, check_mode=True, diff=True).run(inputs)
    assert client.objects == stored
    named = by_name(result)
    assert named["a"]["action"] == "configured" and named["a"]["diff"]["after"]["data"] == {"k": "changed"}
    assert named["b"]["action"] == "created"
    assert named["in-fresh"]["action"] == "created" and "Namespace" in named["in-fresh"]["message"]
    assert named["w1"]["action"] == "created" and "CustomResourceDefinition" in named["w1"]["message"]
    assert named["w1"]["namespace"] == "default"
    assert all(q.get("dryRun") == "All" for _m, _p, q in client.writes())
    sent = [p for _m, p, _q in client.writes()]
    assert "/api/v1/namespaces/fresh/configmaps/in-fresh" not in sent
    assert [d["before_header"] for d in result["diff"]][0] == "Namespace fresh"


def test_unknown_kind_fails_before_anything_is_written():
    client = FakeClient()
    inputs = objs(cm("a", "apps"), {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}})
    result = engine(client).run(inputs)
    assert client.writes() == []
    named = by_name(result)
    assert named["g"]["action"] == "failed" and "does not serve apiVersion example.com/v1" in named["g"]["error"]
    assert named["a"]["action"] == "skipped" and "not attempted" in named["a"]["error"]
    with pytest.raises(AdharError, match=r"1 of 2 objects failed: Gadget g: .*\(1 not attempted\)"):
        finish(result, continue_on_error=False)


def test_duplicates_and_invalid_objects_are_refused():
    client = FakeClient()
    result = engine(client).run(objs(cm("a", "apps"), cm("a", "apps"), {"kind": "ConfigMap"}))
    assert client.writes() == []
    named = [r for r in result["results"] if r["action"] == "failed"]
    assert len(named) == 2
    assert any("the same object as definitions[0]" in r["error"] for r in named)
    assert any("apiVersion is missing" in r["error"] for r in named)


def test_first_error_stops_new_work_and_continue_on_error_goes_on():
    client = FakeClient()
    client.fail["/api/v1/namespaces/apps/configmaps/bad"] = (422, "bad value")
    inputs = objs(cm("ok1", "apps"), cm("bad", "apps"), cm("ok2", "apps"), cm("ok3", "apps"))
    result = engine(client, workers=1).run(inputs)
    named = by_name(result)
    assert named["ok1"]["action"] == "created" and named["bad"]["action"] == "failed"
    assert "HTTP 422" in named["bad"]["error"] or "bad value" in named["bad"]["error"]
    assert named["ok2"]["action"] == named["ok3"]["action"] == "skipped"
    client2 = FakeClient()
    client2.fail = dict(client.fail)
    result = engine(client2, workers=1, continue_on_error=True).run(inputs)
    assert result["counts"] == dict(result["counts"], created=3, failed=1, skipped=0)
    warnings = []
    assert finish(result, continue_on_error=True, warn=warnings.append) is result
    assert warnings and "1 of 4 objects failed" in warnings[0]


# --------------------------------------------------------------------------- engine: prune and absent

PARENT = "/api/v1/namespaces/default/secrets/demo"
DEMO_ID = applyset.applyset_id("demo", "default", "Secret")


def test_applyset_id_format():
    """``applyset-<base64url(sha256(name.namespace.kind.group))>-v1`` (the value kubectl computes is compared in
    the integration tests)."""
    value = applyset.applyset_id("demo", "default", "Secret")
    b64 = value[len("applyset-"):-len("-v1")]
    assert value.startswith("applyset-") and value.endswith("-v1") and len(b64) == 43 and "=" not in b64
    padded = b64 + "="
    import base64
    import hashlib
    assert base64.urlsafe_b64decode(padded) == hashlib.sha256(b"demo.default.Secret.").digest()
    assert value != applyset.applyset_id("demo", "default", "ConfigMap")
    assert value != applyset.applyset_id("demo", "other", "Secret")
    assert applyset.applyset_id("a", "b", "Widget", "example.com") != applyset.applyset_id("a", "b", "Widget")
    assert applyset.tool_name("kubectl/v1.36.3") == "kubectl" and applyset.tool_name("a/b/v1") == "a/b"
    assert applyset.tool_name("helm") == "helm"


def test_prune_removes_what_left_the_input_even_a_whole_kind():
    client = FakeClient()
    first = objs(ns("apps"), cm("keep", "apps"), cm("drop", "apps"), deployment("web", "apps"))
    result = engine(client, apply_set="demo", prune=True).run(first)
    assert result["counts"]["created"] == 5  # and the parent
    assert result["apply_set"]["kubectl"] == "--applyset=secrets/demo -n default"
    parent = client.objects[PARENT]["metadata"]
    assert parent["labels"] == {"applyset.kubernetes.io/id": DEMO_ID}
    assert parent["annotations"] == {"applyset.kubernetes.io/tooling": "adhar.platform/v1",
                                     "applyset.kubernetes.io/contains-group-kinds": "ConfigMap,Deployment.apps,Namespace",
                                     "applyset.kubernetes.io/additional-namespaces": "apps"}
    assert client.objects["/api/v1/namespaces/apps/configmaps/keep"]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "adhar", "applyset.kubernetes.io/part-of": DEMO_ID}
    # an object of another set, and one someone else labelled but a controller owns, are never pruned
    client.objects["/api/v1/namespaces/apps/configmaps/other-set"] = dict(
        cm("other-set", "apps"), metadata={"name": "other-set", "namespace": "apps",
                                           "labels": {"applyset.kubernetes.io/part-of": "applyset-x-v1"}})
    # check mode reports, deletes nothing
    second = objs(ns("apps"), cm("keep", "apps"))
    result = engine(client, apply_set="demo", prune=True, check_mode=True).run(second)
    assert sorted(result["changes"]) == ["configured Secret default/demo", "pruned ConfigMap apps/drop",
                                         "pruned Deployment apps/web"]
    assert "/api/v1/namespaces/apps/configmaps/drop" in client.objects
    assert "Deployment" in client.objects[PARENT]["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
    result = engine(client, apply_set="demo", prune=True).run(second)
    assert sorted(result["changes"]) == ["configured Secret default/demo", "pruned ConfigMap apps/drop",
                                         "pruned Deployment apps/web"]
    assert "/apis/apps/v1/namespaces/apps/deployments/web" not in client.objects
    assert "/api/v1/namespaces/apps/configmaps/other-set" in client.objects
    annotations = client.objects[PARENT]["metadata"]["annotations"]
    assert annotations["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap,Namespace"
    assert engine(client, apply_set="demo", prune=True).run(second)["changed"] is False
    # the unchanged run neither writes the parent nor anything else
    client.calls.clear()
    engine(client, apply_set="demo", prune=True).run(second)
    assert client.writes("PATCH") == [c for c in client.writes("PATCH") if c[1] != PARENT]


def test_parent_of_another_tool_is_refused_before_anything_changes():
    client = FakeClient()
    client.objects[PARENT] = {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "demo", "namespace": "default", "labels": {"applyset.kubernetes.io/id": DEMO_ID},
        "annotations": {"applyset.kubernetes.io/tooling": "kubectl/v1.36.3",
                        "applyset.kubernetes.io/contains-group-kinds": "ConfigMap"}}}
    with pytest.raises(AdharError, match="belongs to the tool 'kubectl'.*apply_set_tooling: kubectl"):
        engine(client, apply_set="demo", prune=True).run(objs(cm("a", "apps")))
    assert client.writes("PATCH") == [] and client.writes("DELETE") == []
    # shared with kubectl: accepted, kubectl's tooling value kept, kubectl's field manager used
    client.objects["/api/v1/namespaces/apps/configmaps/old"] = dict(cm("old", "apps"), metadata={
        "name": "old", "namespace": "apps", "labels": {"applyset.kubernetes.io/part-of": DEMO_ID}})
    result = engine(client, apply_set="demo", prune=True, apply_set_tooling="kubectl").run(objs(cm("a", "apps")))
    assert "pruned ConfigMap apps/old" in result["changes"]
    assert client.objects[PARENT]["metadata"]["annotations"]["applyset.kubernetes.io/tooling"] == "kubectl/v1.36.3"
    assert {c[2]["fieldManager"] for c in client.writes("PATCH") if c[1] == PARENT} == {"kubectl-applyset"}
    # a Secret that is not a parent, or the parent of another set, is refused too
    client.objects[PARENT]["metadata"]["labels"] = {"applyset.kubernetes.io/id": "applyset-other-v1"}
    with pytest.raises(AdharError, match="expected"):
        engine(client, apply_set="demo", apply_set_tooling="kubectl").run(objs(cm("a", "apps")))
    del client.objects[PARENT]["metadata"]["annotations"]
    with pytest.raises(AdharError, match="not an ApplySet parent"):
        engine(client, apply_set="demo").run(objs(cm("a", "apps")))


def test_set_of_an_earlier_release_is_adopted():
    client = FakeClient()
    old = {"app.kubernetes.io/managed-by": "adhar", "adhar.io/apply-set": "demo"}
    for name in ("keep", "gone"):
        client.objects["/api/v1/namespaces/apps/configmaps/" + name] = dict(
            cm(name, "apps"), metadata={"name": name, "namespace": "apps", "labels": dict(old)})
    client.objects["/apis/apps/v1/namespaces/apps/deployments/web"] = dict(
        deployment("web", "apps"), metadata={"name": "web", "namespace": "apps", "labels": dict(old)})
    record = "/api/v1/namespaces/default/configmaps/adhar-apply-set-demo"
    client.objects[record] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "adhar-apply-set-demo",
                              "namespace": "default"}, "data": {"resources": '["apps/v1 Deployment", "v1 ConfigMap"]',
                                                                "namespaces": '["apps"]'}}
    # without prune: nothing deleted; members outside the input adopted and reported
    result = engine(client, apply_set="demo").run(objs(cm("keep", "apps")))
    assert sorted(result["changes"]) == ["configured ConfigMap apps/gone", "configured ConfigMap apps/keep",
                                         "configured Deployment apps/web", "created Secret default/demo"]
    assert result["apply_set"]["adopted"] == 3 and client.writes("DELETE") == [("DELETE", record, {})]
    for path in ("/api/v1/namespaces/apps/configmaps/gone", "/apis/apps/v1/namespaces/apps/deployments/web"):
        assert client.objects[path]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "adhar",
                                                              "applyset.kubernetes.io/part-of": DEMO_ID}
    annotations = client.objects[PARENT]["metadata"]["annotations"]
    assert annotations["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap,Deployment.apps"
    # the next run with prune finds them by the new label
    result = engine(client, apply_set="demo", prune=True).run(objs(cm("keep", "apps")))
    assert sorted(result["changes"]) == ["configured Secret default/demo", "pruned ConfigMap apps/gone",
                                         "pruned Deployment apps/web"]


def test_absent_deletes_members_and_parent():
    client = FakeClient()
    engine(client, apply_set="demo", prune=True).run(objs(cm("a", "apps"), cm("b", "apps")))
    result = engine(client, apply_set="demo", prune=True, check_mode=True).run([], "absent")
    assert sorted(result["changes"]) == ["deleted Secret default/demo", "pruned ConfigMap apps/a", "pruned ConfigMap apps/b"]
    assert PARENT in client.objects
    engine(client, apply_set="demo", prune=True).run([], "absent")
    assert PARENT not in client.objects and "/api/v1/namespaces/apps/configmaps/a" not in client.objects


def test_prune_is_skipped_after_a_failure():
    client = FakeClient()
    engine(client, apply_set="demo", prune=True).run(objs(cm("a", "apps"), cm("b", "apps")))
    client.fail["/api/v1/namespaces/apps/configmaps/c"] = (422, "bad")
    warnings = []
    result = engine(client, apply_set="demo", prune=True, continue_on_error=True, warn=warnings.append).run(
        objs(cm("a", "apps"), cm("c", "apps")))
    assert "/api/v1/namespaces/apps/configmaps/b" in client.objects
    assert warnings == ["prune skipped: some objects failed to apply"]
    assert result["counts"]["pruned"] == 0


def test_select_prune():
    listed = [
        {"group": "", "kind": "ConfigMap", "namespace": "a", "name": "keep"},
        {"group": "", "kind": "ConfigMap", "namespace": "a", "name": "gone"},
        {"group": "", "kind": "ConfigMap", "namespace": "b", "name": "keep"},
        {"group": "apps", "kind": "ReplicaSet", "namespace": "a", "name": "owned", "controlled": True},
    ]
    desired = {("", "ConfigMap", "a", "keep")}
    assert [(e["namespace"], e["name"]) for e in select_prune(listed, desired)] == [("a", "gone"), ("b", "keep")]


def test_absent_deletes_in_reverse_order_and_is_idempotent():
    client = FakeClient()
    inputs = objs(ns("apps"), cm("a", "apps"), CRD, WIDGET)
    engine(client).run(inputs)
    client.calls.clear()
    result = engine(client).run(inputs, state="absent")
    assert result["counts"]["deleted"] == 4
    deletes = [p for m, p, _q in client.calls if m == "DELETE"]
    assert set(deletes[:2]) == {"/api/v1/namespaces/apps/configmaps/a", "/apis/example.com/v1/namespaces/default/widgets/w1"}
    assert all(q["propagationPolicy"] == "Background" for m, _p, q in client.calls if m == "DELETE")
    del client.resources["example.com/v1"]  # the CRD is gone, and with it the kind
    again = engine(client).run(inputs, state="absent")
    assert again["changed"] is False and again["counts"]["unchanged"] == 4


# --------------------------------------------------------------------------- results

def test_summarize_and_finish():
    results = [
        {"kind": "ConfigMap", "namespace": "a", "name": "x", "action": "created", "changed": True, "error": None},
        {"kind": "Namespace", "namespace": None, "name": "a", "action": "unchanged", "changed": False, "error": None},
        {"kind": "Secret", "namespace": "a", "name": "s", "action": "pruned", "changed": True, "error": None},
    ]
    out = summarize(results, 1.23456)
    assert out["changed"] is True and out["duration"] == 1.235
    assert out["counts"]["created"] == 1 and out["counts"]["unchanged"] == 1 and out["counts"]["pruned"] == 1
    assert out["changes"] == ["created ConfigMap a/x", "pruned Secret a/s"]
    ok = dict(out, results=results, errors=[], failed_count=0)
    assert finish(ok, continue_on_error=False) is ok


def test_engine_refuses_prune_without_apply_set():
    with pytest.raises(AdharError, match="prune needs apply_set"):
        ApplyEngine(FakeClient(), prune=True)


def test_empty_entries_are_skipped():
    assert [o["metadata"]["name"] for o, dummy in load_objects([None, cm("x"), [], [None, cm("y")], ""])] == ["x", "y"]


def test_failure_message_names_objects_without_kind_or_name_by_where_they_came_from():
    client = FakeClient()
    result = engine(client).run(load_objects([5, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}]))
    assert client.writes() == []
    with pytest.raises(AdharError) as info:
        finish(result, continue_on_error=False)
    assert info.value.msg == ("2 of 2 objects failed: definitions[0]: not a mapping (int); "
                              "definitions[1]: metadata.name is missing")
    assert "None" not in info.value.msg
    assert object_label({"kind": None, "name": None}) == "object (no name)"
