# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""encryption_at_rest and audit_policy on a real cluster: read etcd directly to see the ciphertext."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as kclient, config as kconfig  # noqa: E402


def test_secrets_encrypted_in_etcd_and_audit_logged(runner, state_dir, bin_dir):
    r = runner.module("adhar.platform.cluster", {
        "name": "hardened", "cluster_id": 3, "nodes": {"count": 1},
        "encryption_at_rest": {"enabled": True, "provider": "aescbc"},
        "audit_policy": {"enabled": True},
    })
    assert r["cluster"]["encryption_at_rest"] is True and r["cluster"]["audit_log"] is True
    cdir = os.path.join(state_dir, "hardened")
    enc = os.path.join(cdir, "config", "encryption-config.yaml")
    assert oct(os.stat(enc).st_mode & 0o777) == "0o600"
    try:
        apic = kconfig.new_client_from_config(config_file=os.path.join(cdir, "config", "admin.kubeconfig"))
        core = kclient.CoreV1Api(apic)
        core.create_namespaced_secret("default", {"metadata": {"name": "s3cret"}, "stringData": {"password": "plain-text-canary"}})
        core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"v": "visible-canary"}})
        assert core.read_namespaced_secret("s3cret", "default").data["password"]  # readable through the API
        with open(os.path.join(cdir, "cluster.json")) as f:
            port = json.load(f)["ports"]["members"][0]["etcd_client"]
        pki = os.path.join(cdir, "pki")

        def etcd_get(key):
            return subprocess.run([os.path.join(bin_dir, "etcdctl"), "--endpoints=https://127.0.0.1:%d" % port,
                                   "--cacert=" + os.path.join(pki, "etcd-ca.crt"),
                                   "--cert=" + os.path.join(pki, "etcd-healthcheck-client.crt"),
                                   "--key=" + os.path.join(pki, "etcd-healthcheck-client.key"),
                                   "get", key, "--print-value-only"], capture_output=True, check=True).stdout

        secret_raw = etcd_get("/registry/secrets/default/s3cret")
        assert secret_raw.startswith(b"k8s:enc:aescbc:v1:key1:")
        assert b"plain-text-canary" not in secret_raw
        assert b"visible-canary" in etcd_get("/registry/configmaps/default/cm")  # only secrets are encrypted
        with open(os.path.join(cdir, "logs", "audit-0.log")) as f:
            events = [json.loads(line) for line in f if line.strip()]
        created = [e for e in events if e.get("verb") == "create" and (e.get("objectRef") or {}).get("name") == "s3cret"]
        assert created and created[0]["level"] == "Metadata" and "requestObject" not in created[0]
        # the settings the API servers started with cannot change in place: refused with both values, not ignored
        f = runner.module("adhar.platform.cluster", {"name": "hardened", "audit_policy": {"enabled": False}},
                          expect_fail=True)
        assert "audit_policy" in f["msg"] and "on (4 policy rules" in f["msg"], f["msg"]
    finally:
        r = runner.module("adhar.platform.cluster", {"name": "hardened", "state": "absent"})
        assert r["changed"] is True and not os.path.exists(cdir)
