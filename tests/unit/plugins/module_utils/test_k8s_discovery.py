# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group-version discovery: only what is asked, refreshed once, seeded from CRDs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import (
    Discovery,
    Resource,
    UnknownKind,
    group_version_path,
    is_custom_group,
    parse_resource_list,
    split_api_version,
)


class Server:
    def __init__(self, docs):
        self.docs = docs
        self.gets = []

    def raw(self, method, path, raise_for_status=True, **kwargs):
        self.gets.append(path)
        doc = self.docs.get(path)
        if doc is None:
            return 404, "404 page not found"
        if isinstance(doc, int):
            return doc, {"message": "unavailable"}
        return 200, doc


CORE = {"resources": [
    {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["get"]},
    {"name": "namespaces", "kind": "Namespace", "namespaced": False},
    {"name": "namespaces/status", "kind": "Namespace", "namespaced": False},
]}


def test_split_and_paths():
    assert split_api_version("v1") == ("", "v1") and split_api_version("apps/v1") == ("apps", "v1")
    assert group_version_path("v1") == "/api/v1" and group_version_path("example.com/v1") == "/apis/example.com/v1"
    for bad in ("", "/v1", "apps/"):
        with pytest.raises(AdharError):
            split_api_version(bad)
    assert not is_custom_group("") and not is_custom_group("apps") and not is_custom_group("networking.k8s.io")
    assert not is_custom_group("metrics.kubernetes.io") and is_custom_group("example.com")


def test_resource_paths():
    cm = Resource("", "v1", "ConfigMap", "configmaps", True)
    assert cm.path("a", "x") == "/api/v1/namespaces/a/configmaps/x" and cm.path() == "/api/v1/configmaps"
    crd = Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)
    assert crd.path("ignored", "w") == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/w"
    assert crd.group_kind == "CustomResourceDefinition.apiextensions.k8s.io" and cm.group_kind == "ConfigMap"


def test_parse_resource_list_skips_subresources():
    table = parse_resource_list("v1", CORE)
    assert sorted(table) == ["ConfigMap", "Namespace"]
    assert table["Namespace"].plural == "namespaces" and not table["Namespace"].namespaced


def test_prefetch_only_what_is_asked_in_parallel_and_lookup_refreshes_once():
    server = Server({"/api/v1": CORE, "/apis/apps/v1": {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True}]}})
    d = Discovery(server)
    with ThreadPoolExecutor(2) as pool:
        d.prefetch(["v1", "apps/v1", "v1"], pool)
    assert sorted(server.gets) == ["/api/v1", "/apis/apps/v1"]
    assert d.lookup("apps/v1", "Deployment").plural == "deployments"
    assert len(server.gets) == 2  # cached
    with pytest.raises(UnknownKind, match="no kind Secret in v1"):
        d.lookup("v1", "Secret")
    assert server.gets.count("/api/v1") == 2  # refreshed once...
    with pytest.raises(UnknownKind):
        d.lookup("v1", "Secret")
    assert server.gets.count("/api/v1") == 2  # ...and only once
    with pytest.raises(UnknownKind, match="does not serve apiVersion example.com/v1"):
        d.lookup("example.com/v1", "Widget", refresh=False)
    assert d.requests == len(server.gets)


def test_seed_crd_and_refresh_after_install():
    server = Server({})
    d = Discovery(server)
    with pytest.raises(UnknownKind):
        d.lookup("example.com/v1", "Widget")
    d.seed_crd({"spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"},
                         "versions": [{"name": "v1", "served": True}, {"name": "v0", "served": False}]}})
    widget = d.lookup("example.com/v1", "Widget")
    assert widget.plural == "widgets" and not widget.namespaced
    with pytest.raises(UnknownKind):
        d.lookup("example.com/v0", "Widget")
    # after a CRD became Established, a refresh is allowed again
    server.docs["/apis/example.com/v1"] = {"resources": [{"name": "gadgets", "kind": "Gadget", "namespaced": True}]}
    d.forget_refresh({"example.com/v1"})
    assert d.lookup("example.com/v1", "Gadget").plural == "gadgets"


def test_unavailable_group_is_an_error():
    d = Discovery(Server({"/apis/metrics.k8s.io/v1beta1": 503}))
    with pytest.raises(AdharError, match="unavailable"):
        d.lookup("metrics.k8s.io/v1beta1", "PodMetrics")
