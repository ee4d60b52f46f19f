# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned control-plane binaries and where to find them.

This file has no imports outside the standard library on purpose: the
``tools/toolchain`` script loads it by path before any virtualenv exists, and
the ``cluster`` module uses it to find the binaries it runs.

Lookup order (the same everywhere):

1. ``ADHAR_BIN_DIR`` (or the module's ``bin_dir`` option): a directory the user
   names, used as is;
2. the per-user cache ``${ADHAR_CACHE_DIR:-~/.cache/adhar}/bin/<toolchain id>/``
   filled by ``tools/toolchain`` (official downloads with SHA-256 checks, or
   a build from the Go module proxy).
"""

from __future__ import annotations

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

# Add-on components: built into the same cache directory, but NOT part of the toolchain id (a new add-on must not
# force every machine to rebuild Kubernetes).  The Cilium release of the ClusterMesh control plane; its Helm chart
# (``install/kubernetes/cilium``) comes from the same module tree, so both are always the same version.
ADDON_VERSIONS = {
    "clustermesh": "v1.19.6",
}

# component -> binaries it provides
COMPONENTS = {
    "kubernetes": ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
    "etcd": ("etcd", "etcdctl", "etcdutl"),
    "kwok": ("kwok",),
    "helm": ("helm",),
    "clustermesh": ("clustermesh-apiserver",),
}

# The CustomResourceDefinitions the ClusterMesh API server needs (CiliumNode, CiliumIdentity, CiliumEndpoint), from
# the same module tree; tools/toolchain copies them to clustermesh_crds_dir().
CLUSTERMESH_CRDS_SUBDIR = "pkg/k8s/apis/cilium.io/client/crds/v2"
CLUSTERMESH_CRDS = ("ciliumnodes.yaml", "ciliumidentities.yaml", "ciliumendpoints.yaml")

# Go modules whose source tree carries a chart: name -> (module, version, directory inside the tree)
CHART_SOURCES = {
    "cilium": ("github.com/cilium/cilium", ADDON_VERSIONS["clustermesh"], "install/kubernetes/cilium"),
}

ALL_BINARIES = tuple(b for c in ("kubernetes", "etcd", "kwok", "helm") for b in COMPONENTS[c])

MANIFEST = "manifest.json"


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


def go_mod_cache(environ=None):
    """Go's module cache (``GOMODCACHE``, else ``GOPATH``'s first entry + ``/pkg/mod``) without running ``go``."""
    env = os.environ if environ is None else environ
    if env.get("GOMODCACHE"):
        return env["GOMODCACHE"]
    gopath = (env.get("GOPATH") or os.path.join(os.path.expanduser("~"), "go")).split(os.pathsep)[0]
    return os.path.join(gopath, "pkg", "mod")


def _module_dir(module):
    """Go's case encoding of a module path in the module cache (``!`` before each upper-case letter)."""
    return "".join("!" + c.lower() if c.isupper() else c for c in module)


def module_tree(module, version, environ=None):
    """Where the go command keeps the source tree of ``module@version`` (it may not be there yet)."""
    return os.path.join(go_mod_cache(environ), "%s@%s" % (_module_dir(module), version))


def chart_dir(name, environ=None):
    """The directory of chart ``name`` (a key of ``CHART_SOURCES``) in the Go module cache, or None when its module
    tree has not been downloaded (``tools/toolchain ensure`` downloads it with the component built from it)."""
    module, version, sub = CHART_SOURCES[name]
    path = os.path.join(module_tree(module, version, environ), sub)
    return path if os.path.isfile(os.path.join(path, "Chart.yaml")) else None


def clustermesh_crds_dir(environ=None):
    """Where ``tools/toolchain`` keeps the ClusterMesh API server's CRDs (next to its wrapper module)."""
    return os.path.join(cache_root(environ), "src", "clustermesh-%s" % ADDON_VERSIONS["clustermesh"], "crds")
