# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned control-plane binaries and where to find them.

This file has no imports outside the standard library on purpose: the
``tools/toolchain`` script loads it by path before any virtualenv exists, and
the ``cluster`` module uses it to find the binaries it runs.  It also pins the
upstream Helm charts (``CHARTS``) that ``tools/toolchain`` copies from the Go
module proxy into the cache, and ``chart_dir`` says where each one lands.

Lookup order (the same everywhere):

1. ``ADHAR_BIN_DIR`` (or the module's ``bin_dir`` option): a directory the user
   names, used as is;
2. the per-user cache ``${ADHAR_CACHE_DIR:-~/.cache/adhar}/bin/<toolchain id>/``
   filled by ``tools/toolchain`` (official downloads with SHA-256 checks, or
   a build from the Go module proxy).
"""

from __future__ import annotations

import hashlib
import json
import os

# One Kubernetes release for the server binaries and kubectl; etcd 3.6.x;
# kwok 0.8.x; helm 3.x.  Changing a version here changes the toolchain id, so
# a new cache directory is filled and old clusters keep their own binaries.
VERSIONS = {
    "kubernetes": "v1.36.3",
    "etcd": "v3.6.16",
    "kwok": "v0.8.0",
    "helm": "v3.19.5",
}

# Add-ons: pinned like the rest, but outside the toolchain id (changing one rebuilds only itself). Each lives in
# its own cache directory ``bin/<component>-<version>/``.  CoreDNS serves the local global load balancer; clustermesh
# is the Cilium release of the ClusterMesh control plane (clustermesh-apiserver), and the Cilium chart of CHARTS
# comes from the same module tree at the same version.  prometheus is the Go module of Prometheus 3.16 (prometheus and
# promtool), alertmanager Alertmanager (alertmanager and amtool): the monitoring of local clusters.
ADDON_VERSIONS = {
    "coredns": "v1.15.0",
    "clustermesh": "v1.19.6",
    "velero": "v1.18.3",
    "prometheus": "v0.316.0",
    "alertmanager": "v0.35.0",
    # the resource metrics API (metrics.k8s.io) of local clusters; v0.9.1 needs a newer Go than the pinned machines
    "metrics-server": "v0.9.0",
    # the Kubernetes object metrics (kube_deployment_*, kube_node_status_condition, ...) the local Prometheus scrapes
    "kube-state-metrics": "v2.19.1",
    # the minor before VERSIONS["kubernetes"] (its newest patch the Go module proxy serves): local clusters are created
    # at it or upgraded from it one minor at a time (local/upgrade.py); server binaries only, kubectl is the pinned one
    "kubernetes-previous": "v1.35.4",
}

# Optional add-ons: built only when asked for by name (``tools/toolchain ensure --only velero``), never by
# ``make toolchain``; the collection never runs them.  Velero (CLI and server, with its AWS object-store plugin) is the
# peer the side-by-side benchmarks compare ``backup`` and ``restore`` with.
OPTIONAL_ADDONS = ("velero",)

# Velero's build: its AWS plugin at this version (part of the add-on's cache directory name), and k8s.io/cli-runtime
# raised to this patch release in the wrapper module, which also repeats Velero's own kopia ``replace``.
VELERO_BUILD = {
    "plugin_module": "github.com/vmware-tanzu/velero-plugin-for-aws",
    "plugin_version": "v1.14.3",
    "cli_runtime": "v0.33.13",
}

# component -> binaries it provides
COMPONENTS = {
    "kubernetes": ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
    "etcd": ("etcd", "etcdctl", "etcdutl"),
    "kwok": ("kwok",),
    "helm": ("helm",),
    "coredns": ("coredns",),
    "clustermesh": ("clustermesh-apiserver",),
    "velero": ("velero", "velero-plugin-for-aws"),
    "prometheus": ("prometheus", "promtool"),
    "alertmanager": ("alertmanager", "amtool"),
    "metrics-server": ("metrics-server",),
    "kube-state-metrics": ("kube-state-metrics",),
    "kubernetes-previous": ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
}

# Add-ons whose binaries have the same names as the core toolchain's: ADHAR_BIN_DIR (the pinned release) never
# stands in for them.
SHADOWING_ADDONS = ("kubernetes-previous",)

# The CustomResourceDefinitions the ClusterMesh API server needs (CiliumNode, CiliumIdentity, CiliumEndpoint), from
# the same module tree; tools/toolchain copies them to clustermesh_crds_dir().
CLUSTERMESH_CRDS_SUBDIR = "pkg/k8s/apis/cilium.io/client/crds/v2"
CLUSTERMESH_CRDS = ("ciliumnodes.yaml", "ciliumidentities.yaml", "ciliumendpoints.yaml")

ALL_BINARIES = tuple(b for c in ("kubernetes", "etcd", "kwok", "helm") for b in COMPONENTS[c])

MANIFEST = "manifest.json"

# Upstream Helm charts, fetched as source trees from the Go module proxy (every zip checked against the Go checksum
# database) because no chart repository is reachable from the collection's test machines.  Never "latest": a tag or
# the exact pseudo-version of a commit.  These pins are not part of toolchain_id(): changing one only refetches charts.
#   module/version: the Go module (a Git repository served by the proxy) and its exact version
#   path:           the chart's directory inside that tree
#   dependencies:   charts of this table (same module and version) copied into the chart's charts/, recursively,
#                   in place of the OCI/HTTP repositories its Chart.yaml names
#   unresolved:     (optional) dependencies no module served by the proxy provides: helm refuses to render or install
#                   the chart as it is; it is fetched for checks of its templates only
_BITNAMI = ("github.com/bitnami/charts", "v0.0.0-20260907150927-c0703daaf78e")
CHARTS = {
    # one entry for Cilium: its clustermesh-apiserver must stay on the same version
    "cilium": {"module": "github.com/cilium/cilium", "version": ADDON_VERSIONS["clustermesh"],
               "path": "install/kubernetes/cilium", "dependencies": ()},
    "ingress-nginx": {"module": "k8s.io/ingress-nginx", "version": "v0.0.0-20240708192948-52c50467d67d",
                      "path": "charts/ingress-nginx", "dependencies": ()},
    "minio": {"module": "github.com/minio/minio", "version": "v0.0.0-20260212201848-7aac2a2c5b7c",
              "path": "helm/minio", "dependencies": ()},
    "common": {"module": _BITNAMI[0], "version": _BITNAMI[1], "path": "bitnami/common", "dependencies": ()},
    "postgresql": {"module": _BITNAMI[0], "version": _BITNAMI[1], "path": "bitnami/postgresql",
                   "dependencies": ("common",)},
    "postgresql-ha": {"module": _BITNAMI[0], "version": _BITNAMI[1], "path": "bitnami/postgresql-ha",
                      "dependencies": ("common",)},
    "redis": {"module": _BITNAMI[0], "version": _BITNAMI[1], "path": "bitnami/redis", "dependencies": ("common",)},
    # argo-helm's argo-cd: its redis-ha dependency (dandydeveloper/charts) is not served
    "argo-cd": {"module": "github.com/argoproj/argo-helm", "version": "v0.0.0-20260904222229-3bbb4305eea9",
                "path": "charts/argo-cd", "dependencies": (), "unresolved": ("redis-ha",)},
    # the Prometheus operator's CRDs (its own "crds" subchart is inside the chart directory): PrometheusRule objects on
    # clusters that do not run the local monitoring
    "prometheus-operator-crds": {"module": "github.com/prometheus-community/helm-charts",
                                 "version": "v0.0.0-20260828105119-ed5d7d9b5933",
                                 "path": "charts/prometheus-operator-crds", "dependencies": ()},
}


def component_version(component):
    """The pinned version of a toolchain component or add-on."""
    return VERSIONS.get(component) or ADDON_VERSIONS[component]


def toolchain_id(versions=None):
    """A directory name that changes whenever any pinned version changes."""
    v = versions or VERSIONS
    return "k8s-{kubernetes}_etcd-{etcd}_kwok-{kwok}_helm-{helm}".format(**v)


def cache_root(environ=None):
    env = os.environ if environ is None else environ
    root = env.get("ADHAR_CACHE_DIR")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    xdg = env.get("XDG_CACHE_HOME")
    base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "adhar")


def cache_bin_dir(environ=None, versions=None):
    return os.path.join(cache_root(environ), "bin", toolchain_id(versions))


def chart_id(name, charts=None):
    """The cache directory name of a pinned chart: ``<name>@<version>-<hash>``; the hash covers its module, path and
    dependencies, so any change to the pin gives a new directory (old ones stay for releases that used them)."""
    table = CHARTS if charts is None else charts
    spec = table[name]
    key = "|".join([spec["module"], spec["path"]] + [chart_id(d, table) for d in spec["dependencies"]])
    return "{0}@{1}-{2}".format(name, spec["version"], hashlib.sha256(key.encode()).hexdigest()[:10])


def chart_dir(name, environ=None, charts=None):
    """The directory of the pinned chart ``name`` in the cache: ``${cache_root}/charts/<chart id>/<name>``.

    ``tools/toolchain`` fills it (``make toolchain``); ``helm template`` and ``helm install`` use it offline, its
    dependencies already in its ``charts/``.  Raises ``KeyError`` for a chart that is not pinned.
    """
    table = CHARTS if charts is None else charts
    if name not in table:
        raise KeyError(name)
    return os.path.join(cache_root(environ), "charts", chart_id(name, table), name)


def installable_charts(charts=None):
    """Names of the pinned charts helm can install as they are (every dependency resolved; not a library chart)."""
    table = CHARTS if charts is None else charts
    return sorted(n for n, s in table.items() if not s.get("unresolved") and n != "common")


def chart_ready(name, environ=None, charts=None):
    """Whether the pinned chart ``name`` has been fetched (its Chart.yaml is in place)."""
    return os.path.isfile(os.path.join(chart_dir(name, environ, charts), "Chart.yaml"))


def missing_binaries(bin_dir, names=ALL_BINARIES):
    """Names from ``names`` that are not executable files in ``bin_dir``."""
    missing = []
    for name in names:
        path = os.path.join(bin_dir, name)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            missing.append(name)
    return missing


def read_manifest(bin_dir):
    try:
        with open(os.path.join(bin_dir, MANIFEST)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def resolve_bin_dir(explicit=None, environ=None, names=ALL_BINARIES):
    """Return ``(bin_dir, source, missing)``.

    ``source`` is ``option``, ``ADHAR_BIN_DIR`` or ``cache``.  ``missing`` lists
    the binaries from ``names`` absent from the chosen directory; an explicit
    directory is never silently replaced by the cache.
    """
    env = os.environ if environ is None else environ
    if explicit:
        d = os.path.abspath(os.path.expanduser(explicit))
        return d, "option", missing_binaries(d, names)
    if env.get("ADHAR_BIN_DIR"):
        d = os.path.abspath(os.path.expanduser(env["ADHAR_BIN_DIR"]))
        return d, "ADHAR_BIN_DIR", missing_binaries(d, names)
    d = cache_bin_dir(env)
    return d, "cache", missing_binaries(d, names)


def addon_id(component, versions=None):
    """The cache directory name of an add-on: ``<component>-<version>`` (Velero's adds its plugin's version)."""
    ident = "%s-%s" % (component, (versions or ADDON_VERSIONS)[component])
    if component == "velero":
        ident += "_aws-%s" % VELERO_BUILD["plugin_version"]
    return ident


def addon_bin_dir(component, environ=None):
    return os.path.join(cache_root(environ), "bin", addon_id(component))


def find_addon_binary(name, component, environ=None):
    """``(path, where)`` of an add-on binary: in ``ADHAR_BIN_DIR`` if it is there, else in the add-on's cache
    directory; ``(None, where it was looked for)`` when neither has it."""
    env = os.environ if environ is None else environ
    if env.get("ADHAR_BIN_DIR") and component not in SHADOWING_ADDONS:
        d = os.path.abspath(os.path.expanduser(env["ADHAR_BIN_DIR"]))
        if not missing_binaries(d, (name,)):
            return os.path.join(d, name), "ADHAR_BIN_DIR"
    d = addon_bin_dir(component, env)
    if not missing_binaries(d, (name,)):
        return os.path.join(d, name), "cache"
    return None, d


def clustermesh_crds_dir(environ=None):
    """Where ``tools/toolchain`` keeps the ClusterMesh API server's CRDs (next to its wrapper module)."""
    return os.path.join(cache_root(environ), "src", "clustermesh-%s" % ADDON_VERSIONS["clustermesh"], "crds")


def kubernetes_bin_dirs(environ=None):
    """``{minor: (bin_dir, component)}`` of the Kubernetes server binaries the toolchain provides, keyed by
    ``"v1.36"``: the pinned release in the toolchain directory, the previous minor in its add-on directory."""
    out = {}
    for component in ("kubernetes-previous", "kubernetes"):
        version = component_version(component)
        d = cache_bin_dir(environ) if component == "kubernetes" else addon_bin_dir(component, environ)
        out[".".join(version.split(".")[:2])] = (d, component)
    return out
