# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup engine without a cluster: filter semantics, discovery parsing, the capture plan, paging."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr import backup as backup_engine
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import (
    FILTER_ARG_SPEC,
    Capture,
    Filters,
    check_cluster_name,
    check_retention,
    default_cluster_name,
    discover,
    is_excluded,
    parse_aggregated,
    plan_capture,
    report_unmatched,
    secrets_in_scope,
    snapshot_name,
    snapshot_state,
    snapshot_support,
    unmatched_includes,
)
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Resource


def R(group, plural, kind, namespaced=True, verbs=("get", "list", "watch")):
    return Resource(group, "v1", kind, plural, namespaced, verbs), ()


DISCOVERED = [
    R("", "configmaps", "ConfigMap"),
    (Resource("", "v1", "Secret", "secrets", True, ("get", "list")), ("secret",)),
    R("", "events", "Event"),
    R("events.k8s.io", "events", "Event"),
    R("", "namespaces", "Namespace", False),
    R("", "nodes", "Node", False),
    R("", "persistentvolumes", "PersistentVolume", False),
    R("", "persistentvolumeclaims", "PersistentVolumeClaim"),
    R("", "componentstatuses", "ComponentStatus", False),
    R("", "bindings", "Binding", True, ("create",)),
    (Resource("apps", "v1", "Deployment", "deployments", True, ("list",)), ("deployment", "deploy")),
    R("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False),
    R("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False),
    R("example.com", "widgets", "Widget"),
    R("metrics.k8s.io", "pods", "PodMetrics"),
]


def keys(plan, part):
    return sorted("%s.%s" % (r.plural, r.group) if r.group else r.plural for r in plan[part])


# -- filters


def test_defaults_capture_everything_listable_but_events_and_metrics():
    plan = plan_capture(DISCOVERED, Filters())
    assert keys(plan, "namespaced") == ["configmaps", "deployments.apps", "persistentvolumeclaims", "secrets",
                                        "widgets.example.com"]
    assert keys(plan, "cluster") == ["clusterroles.rbac.authorization.k8s.io",
                                     "customresourcedefinitions.apiextensions.k8s.io", "namespaces", "nodes",
                                     "persistentvolumes"]
    assert "include_events" in plan["skipped"]["events"]
    assert plan["skipped"]["bindings"] == "not listable"
    assert "metrics" in plan["skipped"]["pods.metrics.k8s.io"]
    assert "componentstatuses" in plan["skipped"]
    # every namespace at once: one task per resource
    assert all(ns is None for dummy, ns in plan["tasks"])
    assert secrets_in_scope(plan)


def test_events_only_when_asked_and_only_once():
    plan = plan_capture(DISCOVERED, Filters(include_events=True))
    assert "events" in keys(plan, "namespaced") and "events.events.k8s.io" not in keys(plan, "namespaced")


def test_namespace_globs_and_excludes():
    f = Filters(include_namespaces=["app-*", "db"], exclude_namespaces=["app-tmp?"])
    assert f.namespace_ok("app-one") and f.namespace_ok("db")
    assert not f.namespace_ok("app-tmp1") and not f.namespace_ok("other")
    assert f.namespace_filtered and f.exact_namespaces is None
    assert Filters(exclude_namespaces=["kube-*"]).namespace_filtered
    assert not Filters().namespace_filtered


def test_exact_namespaces_are_listed_one_by_one():
    plan = plan_capture(DISCOVERED, Filters(include_namespaces=["b", "a", "a"], include_resources=["configmaps"]))
    assert [(r.plural, ns) for r, ns in plan["tasks"]] == [("configmaps", "a"), ("configmaps", "b")]


def test_resource_names_plural_group_kind_short_and_singular():
    plan = plan_capture(DISCOVERED, Filters(include_resources=["deploy", "Secret", "widgets.example.com", "ConfigMap"]))
    assert keys(plan, "namespaced") == ["configmaps", "deployments.apps", "secrets", "widgets.example.com"]
    plan = plan_capture(DISCOVERED, Filters(include_resources=["deployments.apps"]))
    assert keys(plan, "namespaced") == ["deployments.apps"]
    plan = plan_capture(DISCOVERED, Filters(include_resources=["deployments.extensions"]))
    assert plan["unmatched_includes"] == ["deployments.extensions"]


def test_wildcards_include_wins_exclude_ignored():
    f = Filters(include_resources=["configmaps", "*"], exclude_resources=["*", "secrets"])
    assert f.include_resources == ["*"] and f.exclude_resources == ["secrets"]
    assert any("ignored" in w for w in f.warnings)
    plan = plan_capture(DISCOVERED, f)
    assert "secrets" not in keys(plan, "namespaced") and not secrets_in_scope(plan)


def test_exclude_wins_over_include():
    plan = plan_capture(DISCOVERED, Filters(include_resources=["configmaps", "secrets"], exclude_resources=["secret"]))
    assert keys(plan, "namespaced") == ["configmaps"]


def test_cluster_resources_tristate():
    auto_filtered = plan_capture(DISCOVERED, Filters(include_namespaces=["app"]))
    assert keys(auto_filtered, "cluster") == ["namespaces"]  # plus related objects at run time
    assert "only related" in auto_filtered["skipped"]["clusterroles.rbac.authorization.k8s.io"]
    assert Filters(include_namespaces=["app"]).cluster_mode() == "related"
    everything = plan_capture(DISCOVERED, Filters(include_namespaces=["app"], include_cluster_resources=True))
    assert "nodes" in keys(everything, "cluster")
    none = plan_capture(DISCOVERED, Filters(include_cluster_resources=False))
    assert keys(none, "cluster") == ["namespaces"]
    assert Filters(include_cluster_resources=False).cluster_mode() == "none"


def test_server_selector_carries_the_exclude_labels():
    assert Filters(label_selector="app=web").server_selector() == \
        "app=web,backup.adhar.io/exclude!=true,velero.io/exclude-from-backup!=true"
    assert is_excluded({"metadata": {"labels": {"velero.io/exclude-from-backup": "true"}}})
    assert is_excluded({"metadata": {"labels": {"backup.adhar.io/exclude": "True"}}})
    assert not is_excluded({"metadata": {"labels": {"backup.adhar.io/exclude": "false"}}})


def test_bad_filter_input():
    with pytest.raises(AdharError, match="include_namespaces"):
        Filters(include_namespaces=[""])
    with pytest.raises(AdharError, match="label_selector"):
        Filters(label_selector=["a=b"])


def test_options():
    assert check_retention({"keep_last": 2}) == {"keep_last": 2, "max_age": None}
    assert check_retention({"max_age": "30"}) == {"keep_last": None, "max_age": 30}
    assert check_retention({}) is None
    with pytest.raises(AdharError, match="keep_last"):
        check_retention({"keep_last": 0})
    with pytest.raises(AdharError, match="max_age"):
        check_retention({"max_age": "soon"})
    assert default_cluster_name({"context": "arn:aws:eks:eu-west-1:1:cluster/prod"}) == "arn-aws-eks-eu-west-1-1-cluster-prod"
    assert default_cluster_name({"kubeconfig": {"current-context": "adhar-dev"}}) == "adhar-dev"
    with pytest.raises(AdharError, match="cluster"):
        check_cluster_name("a/b")


# -- discovery


AGG_CORE = {"kind": "APIGroupDiscoveryList", "items": [{"metadata": {}, "versions": [{"version": "v1", "resources": [
    {"resource": "configmaps", "responseKind": {"kind": "ConfigMap"}, "scope": "Namespaced", "verbs": ["list"],
     "singularResource": "configmap", "shortNames": ["cm"], "subresources": [{"subresource": "status"}]},
]}]}]}
AGG_GROUPS = {"kind": "APIGroupDiscoveryList", "items": [{"metadata": {"name": "apps"}, "versions": [
    {"version": "v1", "resources": [{"resource": "deployments", "responseKind": {"kind": "Deployment"},
                                     "scope": "Namespaced", "verbs": ["list"]}]},
    {"version": "v1beta1", "resources": [{"resource": "old", "responseKind": {"kind": "Old"}, "scope": "Namespaced",
                                          "verbs": ["list"]}]},
]}, {"metadata": {"name": "stale.example.com"}, "versions": [{"version": "v1", "freshness": "Stale", "resources": []}]}]}


class FakeClient:
    def __init__(self, docs):
        self.docs = docs
        self.requests = []

    def raw(self, method, path, query=None, body=None, headers=None, raise_for_status=True, decode=True, **kwargs):
        self.requests.append((method, path, dict(query or {})))
        answer = self.docs.get(path)
        if callable(answer):
            status, answer = answer(query or {})
        elif answer is None:
            return 404, "not found"
        else:
            status = 200
        return status, answer if decode else json.dumps(answer).encode()  # decode=False: the body as the server sent it


def test_aggregated_discovery_uses_preferred_versions_only():
    found, stale = parse_aggregated([AGG_CORE, AGG_GROUPS])
    assert [(r.api_version, r.plural, aliases) for r, aliases in found] == [
        ("v1", "configmaps", ("configmap", "cm")), ("apps/v1", "deployments", (None,))]
    assert stale == ["stale.example.com"]
    client = FakeClient({"/api": AGG_CORE, "/apis": AGG_GROUPS})
    found, warnings, requests = discover(client)
    assert requests == 2 and len(found) == 2 and "stale" in warnings[0]


def test_per_group_discovery_fallback():
    client = FakeClient({
        "/api": {"kind": "APIVersions", "versions": ["v1"]},
        "/apis": {"kind": "APIGroupList", "groups": [
            {"name": "apps", "preferredVersion": {"version": "v1"}},
            {"name": "broken.example.com", "preferredVersion": {"version": "v1"}}]},
        "/api/v1": {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["list"]},
                                  {"name": "pods/log", "kind": "Pod", "namespaced": True, "verbs": ["get"]}]},
        "/apis/apps/v1": {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True,
                                         "verbs": ["list"], "shortNames": ["deploy"], "singularName": "deployment"}]},
    })
    found, warnings, requests = discover(client)
    assert sorted((r.api_version, r.plural) for r, dummy in found) == [("apps/v1", "deployments"), ("v1", "pods")]
    assert requests == 5 and "broken.example.com" in warnings[0]


# -- capture


class ApiException(Exception):
    def __init__(self, status):
        super().__init__("HTTP %d" % status)
        self.status = status


class FakeWriter:
    encoded_objects = True  # as ArchiveWriter

    def __init__(self):
        self.items = {}

    def submit(self, path, data, encrypt=None, **labels):
        assert path not in self.items, "written twice: %s" % path
        obj = data
        if isinstance(data, bytes):  # a listed object comes as its text in the page; related objects as dicts
            obj = json.loads(data)
            assert list(obj)[:2] == ["apiVersion", "kind"] and data.startswith(b'{"apiVersion":')
        self.items[path] = (obj, encrypt, labels)


def _cm(ns, name, labels=None):
    return {"metadata": {"namespace": ns, "name": name, "labels": labels or {}}}


def test_objects_reach_an_archive_writer_encoded_and_any_other_writer_decoded():
    """ArchiveWriter (``encoded_objects``) gets each listed object as its stored bytes; a writer without the flag
    (the in-memory sink of ``apps``) gets the objects themselves."""
    page = {"metadata": {}, "items": [_cm("a", "one")]}
    res = Resource("", "v1", "ConfigMap", "configmaps", True, ("list",))

    class Plain:
        def __init__(self):
            self.got = []

        def submit_many(self, entries):
            self.got.extend(entries)

    for writer, want in ((FakeWriter(), bytes), (Plain(), dict)):
        filters = Filters()
        got = []
        writer_submit = getattr(writer, "submit", None)
        if writer_submit is not None:
            def submit(path, data, encrypt=None, _orig=writer_submit, **labels):
                got.append(data)
                return _orig(path, data, encrypt, **labels)
            writer.submit = submit
        Capture(FakeClient({"/api/v1/configmaps": lambda q: (200, page)}), filters, plan_capture([(res, ())], filters),
                writer).run()
        data = got[0] if got else writer.got[0][1]
        assert isinstance(data, want), (type(writer).__name__, type(data))


@pytest.mark.parametrize("decoders", [0, 1], ids=["in-process", "decoder-process"])
def test_list_pages_filters_and_restarts_on_410(decoders):
    pages = {None: ({"metadata": {"continue": "t1"}, "items": [_cm("a", "one"), _cm("b", "two")]}),
             "t1": ({"metadata": {"continue": "t2"}, "items": [_cm("a", "three", {"velero.io/exclude-from-backup": "true"})]}),
             "t2": ({"metadata": {}, "items": [_cm("a", "four")]})}
    state = {"expired": False}

    def answer(query):
        token = query.get("continue")
        if token == "t2" and not state["expired"]:
            state["expired"] = True
            raise ApiException(410)
        return 200, pages[token]

    client = FakeClient({"/api/v1/configmaps": answer})
    filters = Filters(exclude_namespaces=["b"])
    res = Resource("", "v1", "ConfigMap", "configmaps", True, ("list",))
    plan = plan_capture([(res, ())], filters)
    writer = FakeWriter()
    capture = Capture(client, filters, plan, writer, workers=2, page_size=2, decoders=decoders)
    assert capture.decoders == decoders
    capture.run()
    assert sorted(writer.items) == ["resources/configmaps/namespaces/a/four.json", "resources/configmaps/namespaces/a/one.json"]
    obj, encrypt, dummy = writer.items["resources/configmaps/namespaces/a/one.json"]
    assert obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap" and not encrypt
    assert capture.counts == {"configmaps": 2} and capture.restarts == {"configmaps": 1}
    query = client.requests[0][2]
    assert query["limit"] == 2 and "velero.io/exclude-from-backup!=true" in query["labelSelector"]


def test_the_next_page_is_asked_for_while_a_page_is_split(monkeypatch):
    """Read-ahead: the request for page 2 goes out (its token read from page 1's head) before page 1 is split."""
    asked = threading.Event()
    pages = {None: {"metadata": {"continue": "t1"}, "items": [_cm("a", "one")]},
             "t1": {"metadata": {}, "items": [_cm("a", "two")]}}

    def answer(query):
        if query.get("continue") == "t1":
            asked.set()
        return 200, pages[query.get("continue")]

    waited = []
    split = backup_engine.split_page

    def split_page(body, *args, **kwargs):
        waited.append(asked.wait(10))  # page 1 is split only once page 2 has been asked for (or after 10 s: False)
        return split(body, *args, **kwargs)

    monkeypatch.setattr(backup_engine, "split_page", split_page)
    res = Resource("", "v1", "ConfigMap", "configmaps", True, ("list",))
    filters = Filters()
    writer = FakeWriter()
    client = FakeClient({"/api/v1/configmaps": answer})
    Capture(client, filters, plan_capture([(res, ())], filters), writer, decoders=0).run()
    assert waited == [True, True]
    assert sorted(writer.items) == ["resources/configmaps/namespaces/a/one.json", "resources/configmaps/namespaces/a/two.json"]
    assert [q.get("continue") for dummy, dummy2, q in client.requests] == [None, "t1"]  # each page asked for once


def test_a_failed_page_leaves_no_page_asked_for_ahead_running():
    """A page that cannot be split fails the capture; the next page, already asked for, has finished (and is dropped)
    when ``run`` returns."""
    done = []

    def answer(query):
        if query.get("continue") == "t1":
            time.sleep(0.3)
            done.append("t1")
            return 200, {"metadata": {}, "items": [_cm("a", "two")]}
        return 200, {"metadata": {"continue": "t1"}, "items": [_cm("a", "one"), 3]}

    res = Resource("", "v1", "ConfigMap", "configmaps", True, ("list",))
    filters = Filters()
    writer = FakeWriter()
    capture = Capture(FakeClient({"/api/v1/configmaps": answer}), filters, plan_capture([(res, ())], filters), writer,
                      decoders=0)
    with pytest.raises(AdharError, match="listing /api/v1/configmaps: an item that is no object"):
        capture.run()
    assert done == ["t1"] and writer.items == {} and capture._read_ahead is None


@pytest.mark.parametrize("decoders", [0, 1], ids=["in-process", "decoder-process"])
def test_secrets_are_submitted_encrypted_and_related_objects_found(decoders):
    secret = Resource("", "v1", "Secret", "secrets", True, ("list",))
    pvc = Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("list",))
    widget = Resource("example.com", "v1", "Widget", "widgets", True, ("list",))
    crd = Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False, ("list",))
    pv = Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("list",))
    ns = Resource("", "v1", "Namespace", "namespaces", False, ("list",))
    discovered = [(r, ()) for r in (secret, pvc, widget, crd, pv, ns)]
    client = FakeClient({
        "/api/v1/namespaces/app/secrets": {"metadata": {}, "items": [_cm("app", "s")]},
        "/api/v1/namespaces/app/persistentvolumeclaims": {"metadata": {}, "items": [
            dict(_cm("app", "data"), spec={"volumeName": "pv-1"})]},
        "/apis/example.com/v1/namespaces/app/widgets": {"metadata": {}, "items": [_cm("app", "w")]},
        "/api/v1/namespaces": {"metadata": {}, "items": []},  # hidden by a label selector, say
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com": {"metadata": {"name": "widgets.example.com"}},
        "/api/v1/persistentvolumes/pv-1": {"metadata": {"name": "pv-1"}},
        "/api/v1/namespaces/app": {"metadata": {"name": "app"}},
    })
    filters = Filters(include_namespaces=["app"])
    plan = plan_capture(discovered, filters)
    writer = FakeWriter()
    capture = Capture(client, filters, plan, writer, decoders=decoders)
    capture.run()
    related = capture.capture_related(discovered)
    assert related == {"customresourcedefinitions": ["widgets.example.com"], "persistentvolumes": ["pv-1"],
                       "namespaces": ["app"]}
    assert writer.items["resources/secrets/namespaces/app/s.json"][1] is True
    assert "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json" in writer.items
    assert "resources/persistentvolumes/cluster/pv-1.json" in writer.items
    assert capture.api_versions["widgets.example.com"] == "example.com/v1"


def test_volume_snapshot_support():
    vs = Resource("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", True, ("list", "create"))
    vsc = Resource("snapshot.storage.k8s.io", "v1", "VolumeSnapshotClass", "volumesnapshotclasses", False, ("list",))
    ok, reason, dummy, dummy2 = snapshot_support([], FakeClient({}), "auto", None)
    assert not ok and "does not serve" in reason
    classes = {"items": [{"metadata": {"name": "slow"}},
                         {"metadata": {"name": "fast", "annotations": {
                             "snapshot.storage.kubernetes.io/is-default-class": "true"}}}]}
    client = FakeClient({"/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses": classes})
    assert snapshot_support([(vs, ()), (vsc, ())], client, "auto", None)[0::3] == (True, "fast")
    assert snapshot_support([(vs, ()), (vsc, ())], client, "auto", "slow")[0::3] == (True, "slow")
    ok, reason, dummy, dummy2 = snapshot_support([(vs, ()), (vsc, ())], client, "auto", "nope")
    assert not ok and "nope does not exist" in reason
    assert snapshot_support([(vs, ()), (vsc, ())], client, "never", None)[0] is False
    assert snapshot_state({})[0] == "pending"
    assert snapshot_state({"status": {"readyToUse": True}})[0] == "ready"
    assert len(snapshot_name("b" * 300, "p" * 300)) == 253


def test_a_failed_list_fails_the_capture_with_the_path():
    def forbidden(query):
        raise ApiException(403)

    res = Resource("", "v1", "Secret", "secrets", True, ("list",))
    filters = Filters()
    capture = Capture(FakeClient({"/api/v1/secrets": forbidden}), filters, plan_capture([(res, ())], filters), FakeWriter())
    with pytest.raises(AdharError, match="listing /api/v1/secrets failed: HTTP 403"):
        capture.run()
    assert capture._stop.is_set()


# -- filter options: shared spec, entries checked by index, unmatched includes ------------------


def test_filter_fragment_mirrors_the_spec():
    import yaml

    from ansible_collections.adhar.platform.plugins.doc_fragments import filters as filters_fragment

    doc = yaml.safe_load(filters_fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(doc) == sorted(FILTER_ARG_SPEC)
    for name, opt in FILTER_ARG_SPEC.items():
        assert doc[name]["type"] == opt["type"], name
        assert doc[name].get("elements") == opt.get("elements"), name
        assert doc[name].get("default") == opt.get("default"), name
        assert doc[name]["description"], name


def test_filter_spec_keeps_numbers_for_filters_to_refuse():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    result = ArgumentSpecValidator(FILTER_ARG_SPEC).validate({"include_namespaces": [5]})
    assert result.error_messages == []
    with pytest.raises(AdharError) as info:
        Filters(include_namespaces=result.validated_parameters["include_namespaces"])
    assert info.value.msg == "include_namespaces[0] must be a string, got int 5"
    assert info.value.details == {"option": "include_namespaces", "index": 0}


@pytest.mark.parametrize("kwargs, message", [
    ({"include_namespaces": ["a", 5]}, "include_namespaces[1] must be a string, got int 5"),
    ({"exclude_namespaces": [None]}, "exclude_namespaces[0] must be a string, got NoneType None"),
    ({"include_resources": ["configmaps", {"a": 1}]}, "include_resources[1] must be a string, got dict {'a': 1}"),
    ({"exclude_resources": [True]}, "exclude_resources[0] must be a string, got bool True"),
    ({"include_namespaces": ["a", "  "]}, "include_namespaces[1] is empty"),
    ({"include_namespaces": 5}, "include_namespaces must be a list of strings, got int"),
    ({"label_selector": ["app=web"]}, "label_selector must be a string like 'app=web,tier!=db', got list ['app=web']"),
    ({"label_selector": 5}, "label_selector must be a string like 'app=web,tier!=db', got int 5"),
    ({"label_selector": "app=web,tier in (a"}, "label_selector: cannot read"),
])
def test_filter_entries_that_are_not_strings_are_errors_naming_option_and_index(kwargs, message):
    with pytest.raises(AdharError) as info:
        Filters(**kwargs)
    assert info.value.msg.startswith(message)


def test_label_selector_is_stripped():
    assert Filters(label_selector=" app=web,tier!=db ").label_selector == "app=web,tier!=db"
    assert Filters(label_selector="  ").label_selector is None


def test_unmatched_namespaces_and_report():
    f = Filters(include_namespaces=["prod", "app-*", "stagin"])
    assert f.unmatched_namespaces(["prod", "app-one", "staging"]) == ["stagin"]
    assert Filters().unmatched_namespaces([]) == []
    warnings = report_unmatched({"include_namespaces": ["stagin"], "include_resources": ["deploymnts"]}, "the cluster", False)
    assert warnings == [
        "include_namespaces 'stagin' matches nothing in the cluster (a misspelling? strict: true makes this an error)",
        "include_resources 'deploymnts' matches nothing in the cluster (a misspelling? strict: true makes this an error)",
    ]
    with pytest.raises(AdharError) as info:
        report_unmatched({"include_namespaces": ["stagin"]}, "backup b1", True)
    assert info.value.msg == "strict: these include filters match nothing in backup b1: include_namespaces 'stagin'"
    assert report_unmatched({}, "x", True) == []


class NamespaceClient:
    def __init__(self, names, status=None):
        self.names = names
        self.status = status
        self.calls = []

    def raw(self, method, path, query=None, **kwargs):
        self.calls.append((method, path, dict(query or {})))
        if self.status:
            exc = type("ApiException", (Exception,), {})()
            exc.status = self.status
            raise exc
        start = int((query or {}).get("continue") or 0)
        limit = query["limit"]
        page = self.names[start:start + limit]
        more = start + limit < len(self.names)
        return 200, {"items": [{"metadata": {"name": n}} for n in page],
                     "metadata": {"continue": str(start + limit) if more else None}}


def test_unmatched_includes_before_capture():
    plan = plan_capture(DISCOVERED, Filters(include_resources=["deploymnts", "configmaps"]))
    client = NamespaceClient(["ns%d" % i for i in range(700)] + ["prod"])
    filters = Filters(include_namespaces=["prod", "prodution"], include_resources=["deploymnts", "configmaps"])
    warnings = unmatched_includes(client, filters, plan, strict=False)
    assert [w.split(" matches")[0] for w in warnings] == ["include_namespaces 'prodution'", "include_resources 'deploymnts'"]
    assert len(client.calls) == 2  # paged
    with pytest.raises(AdharError, match="strict: these include filters match nothing in the cluster"):
        unmatched_includes(client, filters, plan, strict=True)
    # no namespace filter: no request
    quiet = NamespaceClient([])
    assert unmatched_includes(quiet, Filters(), plan_capture(DISCOVERED, Filters()), strict=True) == []
    assert quiet.calls == []
    # a user who may not list namespaces: said, not guessed
    denied = NamespaceClient([], status=403)
    assert unmatched_includes(denied, Filters(include_namespaces=["a"]), plan_capture(DISCOVERED, Filters()), False) == [
        "include_namespaces were not checked: this user may not list namespaces"]
    with pytest.raises(AdharError, match="strict: include_namespaces cannot be checked"):
        unmatched_includes(denied, Filters(include_namespaces=["a"]), plan_capture(DISCOVERED, Filters()), True)
