# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.cluster with provider kind, run by ansible-playbook: one clear error before anything changes,
without a Docker engine (no socket at DOCKER_HOST) and with one (a real Unix socket: kind is not implemented)."""

from __future__ import annotations

import os
import socket

from conftest import scratch_runner

runner = scratch_runner("kind")


def test_kind_without_a_docker_socket(runner, tmp_path, monkeypatch):
    missing = str(tmp_path / "run" / "docker.sock")
    monkeypatch.setenv("DOCKER_HOST", "unix://" + missing)
    for state in ("present", "absent"):
        result = runner.module("adhar.platform.cluster", {"name": "kind-demo", "provider": "kind", "state": state},
                               expect_fail=True)
        assert result["msg"].startswith("provider kind needs a Docker engine: no Docker socket at %s (DOCKER_HOST=unix://%s;"
                                        % (missing, missing)), result["msg"]
        assert result["option"] == "provider" and "choices" not in result["msg"]
    assert not os.path.exists(os.path.join(runner.state_dir, "kind-demo"))


def test_kind_with_a_docker_socket_is_not_implemented(runner, tmp_path, monkeypatch):
    path = str(tmp_path / "docker.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    try:
        monkeypatch.setenv("DOCKER_HOST", "unix://" + path)
        result = runner.module("adhar.platform.cluster", {"name": "kind-demo", "provider": "kind"}, expect_fail=True)
    finally:
        sock.close()
    assert "provider kind: a Docker engine is configured at %s" % path in result["msg"]
    assert "kind clusters are not implemented in this release" in result["msg"]
    assert not os.path.exists(os.path.join(runner.state_dir, "kind-demo"))
