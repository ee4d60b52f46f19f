# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider kind: the Docker socket lookup and the two refusals (no engine; an engine, but not implemented)."""

from __future__ import annotations

import os
import socket
import types

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.registry import get_provider
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.kind import KindProvider, docker_socket


@pytest.fixture()
def sock(tmp_path):
    """A real Unix socket file (nothing answers on it; the provider only looks for the file)."""
    path = str(tmp_path / "docker.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    yield path
    s.close()


def module(state="present"):
    return types.SimpleNamespace(params={"name": "demo", "provider": "kind", "state": state}, check_mode=False)


def test_docker_host_unix_socket_found(sock):
    assert docker_socket({"DOCKER_HOST": "unix://" + sock}) == (sock, True, "DOCKER_HOST=unix://" + sock)


def test_default_socket_when_docker_host_unset(sock, tmp_path):
    assert docker_socket({}, default=sock) == (sock, True, "DOCKER_HOST is not set")
    missing = str(tmp_path / "none.sock")
    assert docker_socket({"DOCKER_HOST": ""}, default=missing) == (missing, False, "DOCKER_HOST is not set")


def test_a_regular_file_is_not_a_socket(tmp_path):
    path = tmp_path / "docker.sock"
    path.write_text("")
    assert docker_socket({"DOCKER_HOST": "unix://%s" % path})[1] is False


def test_remote_engine_counts_as_found():
    assert docker_socket({"DOCKER_HOST": "tcp://127.0.0.1:2375"}) == ("tcp://127.0.0.1:2375", True,
                                                                      "DOCKER_HOST=tcp://127.0.0.1:2375")


@pytest.mark.parametrize("state", ["present", "started", "stopped", "absent"])
def test_no_socket_is_one_clear_error(tmp_path, state):
    missing = str(tmp_path / "nowhere" / "docker.sock")
    provider = KindProvider(module(state), environ={"DOCKER_HOST": "unix://" + missing})
    with pytest.raises(AdharError) as err:
        provider.run()
    assert err.value.msg.startswith("provider kind needs a Docker engine: no Docker socket at %s (DOCKER_HOST=unix://%s"
                                    % (missing, missing))
    assert err.value.details["option"] == "provider"
    assert not os.path.exists(os.path.dirname(missing))  # nothing was made


def test_with_a_socket_kind_is_not_implemented(sock):
    provider = KindProvider(module(), environ={"DOCKER_HOST": "unix://" + sock})
    with pytest.raises(AdharError) as err:
        provider.run()
    assert "a Docker engine is configured at %s" % sock in err.value.msg
    assert "kind clusters are not implemented in this release" in err.value.msg
    assert "needs a Docker engine" not in err.value.msg


def test_get_provider_returns_kind():
    assert isinstance(get_provider("kind", module()), KindProvider)
    with pytest.raises(AdharError, match="provider: 'kinder' is unknown"):
        get_provider("kinder", module())
