# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider ``kind``: accepted by name, refused with the reason before anything changes.

kind runs Kubernetes nodes as Docker containers, so it needs a Docker engine.
``docker_socket()`` finds the socket the Docker client would use
(``DOCKER_HOST``, else ``/var/run/docker.sock``); without one the task fails
with that path.  With a Docker engine the task fails too: this release does
not implement kind clusters (provider ``local`` runs a cluster on this host
without containers).  Nothing is read, written or started in either case.
"""

from __future__ import annotations

import os
import stat

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.base import Provider

DEFAULT_SOCKET = "/var/run/docker.sock"
IMPLEMENTED_INSTEAD = "local, existing, eks, gke"


def docker_socket(environ=None, default=DEFAULT_SOCKET):
    """``(path, found, origin)`` of the Docker engine the Docker client would use.

    ``origin`` says where the path comes from (``DOCKER_HOST=...`` or ``DOCKER_HOST is not set``). A ``unix://``
    ``DOCKER_HOST`` (or none) is checked for a socket file; any other scheme (``tcp://``, ``ssh://``) is an engine
    elsewhere that cannot be checked without connecting, and counts as found.
    """
    environ = os.environ if environ is None else environ
    host = (environ.get("DOCKER_HOST") or "").strip()
    if not host:
        path, origin = default, "DOCKER_HOST is not set"
    elif host.startswith("unix://"):
        path, origin = host[len("unix://"):], "DOCKER_HOST=%s" % host
    elif "://" not in host:
        path, origin = host, "DOCKER_HOST=%s" % host
    else:
        return host, True, "DOCKER_HOST=%s" % host
    try:
        found = stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        found = False
    return path, found, origin


class KindProvider(Provider):
    name = "kind"
    states = ("present", "started", "stopped", "absent")

    def __init__(self, module, environ=None):
        super().__init__(module)
        self.environ = environ

    def run(self):
        path, found, origin = docker_socket(self.environ)
        if not found:
            raise AdharError("provider kind needs a Docker engine: no Docker socket at %s (%s; set DOCKER_HOST to the "
                             "engine's socket, or use provider local, which runs the cluster on this host without "
                             "containers)" % (path, origin), option="provider", docker_socket=path)
        raise AdharError("provider kind: a Docker engine is configured at %s (%s), but kind clusters are not implemented "
                         "in this release (implemented: %s); use provider local for a cluster on this host"
                         % (path, origin, IMPLEMENTED_INSTEAD), option="provider", docker_socket=path)
