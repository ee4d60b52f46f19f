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

# Add-ons: pinned like the rest, but outside the toolchain id (changing one rebuilds only itself). Each lives in
# its own cache directory ``bin/<component>-<version>/``.  CoreDNS serves the local global load balancer.
ADDON_VERSIONS = {
    "coredns": "v1.15.0",
}

# component -> binaries it provides
COMPONENTS = {
    "kubernetes": ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
    "etcd": ("etcd", "etcdctl", "etcdutl"),
    "kwok": ("kwok",),
    "helm": ("helm",),
    "coredns": ("coredns",),
}

ALL_BINARIES = tuple(b for c in ("kubernetes", "etcd", "kwok", "helm") for b in COMPONENTS[c])

MANIFEST = "manifest.json"


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


def addon_id(component, versions=None):
    """The cache directory name of an add-on: ``<component>-<version>``."""
    return "%s-%s" % (component, (versions or ADDON_VERSIONS)[component])


def addon_bin_dir(component, environ=None):
    return os.path.join(cache_root(environ), "bin", addon_id(component))


def find_addon_binary(name, component, environ=None):
    """``(path, where)`` of an add-on binary: in ``ADHAR_BIN_DIR`` if it is there, else in the add-on's cache
    directory; ``(None, where it was looked for)`` when neither has it."""
    env = os.environ if environ is None else environ
    if env.get("ADHAR_BIN_DIR"):
        d = os.path.abspath(os.path.expanduser(env["ADHAR_BIN_DIR"]))
        if not missing_binaries(d, (name,)):
            return os.path.join(d, name), "ADHAR_BIN_DIR"
    d = addon_bin_dir(component, env)
    if not missing_binaries(d, (name,)):
        return os.path.join(d, name), "cache"
    return None, d
