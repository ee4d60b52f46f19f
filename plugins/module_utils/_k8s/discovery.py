# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve ``apiVersion`` + ``kind`` to an API resource, asking only for what is needed.

The DynamicClient discovers every group and version the server has before it
can answer one question.  Here a module run asks for the group-versions its
objects use, and nothing else: ``GET /api/v1`` for ``v1`` and
``GET /apis/<group>/<version>`` for the others, in parallel.  Answers live in
memory for the run (no cache files).

A kind the server does not know yet (its CRD is being installed by the same
task) is looked up again once, after the CRDs are Established; CRDs applied in
the run also seed the table directly from their spec, so their resources
resolve even while the server's discovery documents catch up.
"""

from __future__ import annotations

import threading

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError


def split_api_version(api_version):
    """``"apps/v1"`` -> ``("apps", "v1")``; ``"v1"`` -> ``("", "v1")``."""
    api_version = str(api_version or "").strip()
    group, sep, version = api_version.rpartition("/")
    if not version or (sep and not group):
        raise AdharError("apiVersion {0!r} is not valid (expected 'v1' or '<group>/<version>')".format(api_version))
    return group, version


def group_version_path(api_version):
    """Discovery (and resource prefix) path of a group-version: ``/api/v1`` or ``/apis/<group>/<version>``."""
    group, version = split_api_version(api_version)
    return "/api/" + version if not group else "/apis/{0}/{1}".format(group, version)


def is_custom_group(group):
    """True for groups outside Kubernetes' own (``""``, ``apps``, ``*.k8s.io``, ``*.kubernetes.io``)."""
    return "." in group and not (group.endswith(".k8s.io") or group.endswith(".kubernetes.io"))


class Resource:
    """One API resource: where objects of a kind live."""

    __slots__ = ("group", "version", "kind", "plural", "namespaced", "verbs")

    def __init__(self, group, version, kind, plural, namespaced, verbs=()):
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = bool(namespaced)
        self.verbs = tuple(verbs or ())

    @property
    def api_version(self):
        return "{0}/{1}".format(self.group, self.version) if self.group else self.version

    @property
    def group_kind(self):
        """``Deployment.apps``; ``ConfigMap`` for the core group."""
        return "{0}.{1}".format(self.kind, self.group) if self.group else self.kind

    def path(self, namespace=None, name=None):
        """Collection path (``name`` None) or object path; ``namespace`` None on a namespaced resource means all namespaces."""
        parts = [group_version_path(self.api_version)]
        if self.namespaced and namespace:
            parts.append("namespaces/" + namespace)
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        return "/".join(parts)

    def __eq__(self, other):
        return isinstance(other, Resource) and (self.group, self.version, self.plural) == (other.group, other.version, other.plural)

    def __hash__(self):
        return hash((self.group, self.version, self.plural))

    def __repr__(self):
        return "Resource({0}, {1}, namespaced={2})".format(self.api_version, self.plural, self.namespaced)


class UnknownKind(AdharError):
    """The server serves no resource for this apiVersion + kind."""


def parse_resource_list(api_version, document):
    """``{kind: Resource}`` from an ``APIResourceList`` document (subresources skipped)."""
    group, version = split_api_version(api_version)
    found = {}
    for entry in (document or {}).get("resources") or []:
        name = entry.get("name") or ""
        kind = entry.get("kind")
        if not kind or "/" in name:
            continue
        # Several resources may share a kind (rare); the first one listed wins, as with kubectl.
        found.setdefault(kind, Resource(group, version, kind, name, entry.get("namespaced"), entry.get("verbs")))
    return found


class Discovery:
    """Group-version discovery for one module run (thread-safe)."""

    def __init__(self, client):
        self.client = client
        self._lock = threading.Lock()
        self._tables = {}       # api_version -> {kind: Resource}; {} when the server does not serve it
        self._refreshed = set()  # api_versions fetched again after an unknown kind
        self.requests = 0

    def fetch(self, api_version):
        """GET one group-version's resource list (no cache); ``{}`` when the server does not serve it."""
        path = group_version_path(api_version)
        status, data = self.client.raw("GET", path, raise_for_status=False)
        with self._lock:
            self.requests += 1
        if status == 404:
            return {}
        if status == 503:
            # An aggregated API whose backend is down: retrying now will not help this run.
            raise AdharError("API group-version {0} is unavailable (503 from {1})".format(api_version, path),
                             api_version=api_version)
        if not 200 <= status <= 299:
            raise AdharError("Discovery of {0} failed: HTTP {1}: {2}".format(api_version, status, str(data)[:300]),
                             api_version=api_version, status=status)
        if not isinstance(data, dict):
            raise AdharError("Discovery of {0} returned no resource list".format(api_version), api_version=api_version)
        return parse_resource_list(api_version, data)

    def _store(self, api_version, table, refreshed=False):
        with self._lock:
            merged = dict(self._tables.get(api_version) or {})
            merged.update(table)
            self._tables[api_version] = merged
            if refreshed:
                self._refreshed.add(api_version)

    def known(self, api_version):
        with self._lock:
            return api_version in self._tables

    def prefetch(self, api_versions, executor=None):
        """Fetch every group-version not known yet, in parallel through ``executor`` (a ThreadPoolExecutor) if given."""
        missing = sorted({v for v in api_versions if v and not self.known(v)})
        if not missing:
            return
        if executor is None or len(missing) == 1:
            for v in missing:
                self._store(v, self.fetch(v))
            return
        futures = [(v, executor.submit(self.fetch, v)) for v in missing]
        errors = []
        for v, fut in futures:
            try:
                self._store(v, fut.result())
            except Exception as exc:  # collected: one bad group must not hide the others' answers
                errors.append(exc)
        if errors:
            raise errors[0]

    def seed(self, resource):
        """Add a resource learnt elsewhere (a CRD applied in this run)."""
        self._store(resource.api_version, {resource.kind: resource})

    def seed_crd(self, crd):
        """Seed the resources a CustomResourceDefinition (dict) serves."""
        spec = (crd or {}).get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not (group and kind and plural):
            return
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for version in spec.get("versions") or []:
            if version.get("served", True) and version.get("name"):
                self.seed(Resource(group, version["name"], kind, plural, namespaced))

    def lookup(self, api_version, kind, refresh=True):
        """The ``Resource`` for ``api_version`` + ``kind``; fetches (and refreshes once) as needed, else ``UnknownKind``."""
        split_api_version(api_version)
        if not self.known(api_version):
            self._store(api_version, self.fetch(api_version))
        with self._lock:
            table = self._tables.get(api_version) or {}
            resource = table.get(kind)
            may_refresh = refresh and resource is None and api_version not in self._refreshed
        if resource is None and may_refresh:
            self._store(api_version, self.fetch(api_version), refreshed=True)
            with self._lock:
                table = self._tables.get(api_version) or {}
                resource = table.get(kind)
        if resource is None:
            if table:
                msg = "The server has no kind {0} in {1} (it serves: {2})".format(kind, api_version, ", ".join(sorted(table)[:30]))
            else:
                msg = "The server does not serve apiVersion {0} (kind {1}); is its CustomResourceDefinition installed?".format(
                    api_version, kind)
            raise UnknownKind(msg, api_version=api_version, kind=kind)
        return resource

    def forget_refresh(self, api_versions):
        """Allow one more refresh of these group-versions (after CRDs became Established)."""
        with self._lock:
            self._refreshed.difference_update(api_versions)


def describe_api(client, api_versions=(), kinds=(), workers=8):
    """What the server serves for the given group-versions and kinds (the ``api_info`` module's work).

    ``kinds`` are ``{"api_version": ..., "kind": ...}`` dicts.  Returns ``{"served": {api_version: [kinds]},
    "kinds": [{api_version, kind, served, plural, namespaced}]}``; a group-version the server does not serve
    has an empty list.
    """
    from concurrent.futures import ThreadPoolExecutor

    wanted = sorted({str(v) for v in api_versions} | {str(k["api_version"]) for k in kinds})
    for v in wanted:
        split_api_version(v)  # bad input fails before any request
    discovery = Discovery(client)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted) or 1))) as pool:
        discovery.prefetch(wanted, executor=pool)
    served = {v: sorted(discovery._tables.get(v) or {}) for v in wanted}
    out = []
    for k in kinds:
        res = (discovery._tables.get(str(k["api_version"])) or {}).get(k["kind"])
        out.append({"api_version": k["api_version"], "kind": k["kind"], "served": res is not None,
                    "plural": res.plural if res else None, "namespaced": res.namespaced if res else None})
    return {"served": served, "kinds": out, "api_discovery_requests": discovery.requests}
