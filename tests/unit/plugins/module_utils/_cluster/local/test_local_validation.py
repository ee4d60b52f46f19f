# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks made before anything starts (kubeconfig output path, numbers) and the reasons cluster_info gives from a
local cluster's supervisor."""

from __future__ import annotations

import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._cluster import health
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import normalize
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.local import check_output_file
from ansible_collections.adhar.platform.plugins.modules.cluster import check_numbers


def _error(fn, *args):
    with pytest.raises(AdharError) as e:
        fn(*args)
    return e.value


def test_kubeconfig_output_path(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("x: 1\n")
    e = _error(check_output_file, str(regular / "deeper" / "kc"))
    assert str(e).startswith("kubeconfig_out: cannot create") and "%s is a regular file" % regular in str(e)
    assert e.details.get("option") == "kubeconfig_out"
    e = _error(check_output_file, str(tmp_path))
    assert "%s is a directory" % tmp_path in str(e)
    broken = tmp_path / "broken"
    broken.write_text("a: [\n")
    assert "not a readable YAML file" in str(_error(check_output_file, str(broken)))
    # fine: a new file in a directory to be created, an existing YAML file
    check_output_file(str(tmp_path / "new" / "dirs" / "kc"))
    check_output_file(str(regular))
    assert not os.path.exists(tmp_path / "new")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_kubeconfig_output_path_not_writable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert "not writable" in str(_error(check_output_file, str(ro / "kc")))
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("value", [-1.0, 0.0, float("nan"), float("inf"), None])
def test_wait_timeout_must_be_positive(value):
    e = _error(check_numbers, {"wait_timeout": value})
    assert str(e).startswith("wait_timeout: ") and e.details.get("option") == "wait_timeout"
    check_numbers({"wait_timeout": 0.5})


@pytest.mark.parametrize("key,value", [("max_size_mb", 0), ("max_size_mb", -5), ("max_backups", -1)])
def test_audit_numbers(key, value):
    params = {"name": "a", "audit_policy": {"enabled": True, key: value}}
    e = _error(normalize, params, "v1.36.3")
    assert str(e).startswith("audit_policy.%s: %d" % (key, value))


def _healthy():
    return {"endpoint": {"url": "https://127.0.0.1:6443", "error": None}, "apiservers": [], "etcd": {"available": False},
            "leaders": {}, "nodes": {"ready": 1, "total": 1, "not_ready": []}, "certificates": [], "latency": {}}


def _programs(**states):
    return {"running": True, "pid": 10, "programs": {n: {"state": s, "pid": 11} for n, s in states.items()}}


LB = {"name": "haproxy", "port": 6443, "url": "https://127.0.0.1:6443"}


def test_reasons_name_the_load_balancer_when_it_is_down():
    data = _healthy()
    data["endpoint"]["error"] = "connection refused"
    health.add_local_processes(data, _programs(haproxy="STOPPED", **{"etcd-0": "RUNNING"}), LB)
    assert data["healthy"] is False
    assert data["reasons"] == ["load balancer (haproxy) on port 6443 is down: connection refused"]
    assert data["load_balancer"]["running"] is False and data["load_balancer"]["state"] == "STOPPED"
    assert "loadbalancer" in health.format_table(data)


def test_reasons_when_the_load_balancer_runs_but_the_endpoint_fails():
    data = _healthy()
    data["endpoint"]["error"] = "reset"
    health.add_local_processes(data, _programs(haproxy="RUNNING"), LB)
    assert data["reasons"] == ["API endpoint https://127.0.0.1:6443 (load balancer haproxy, running) unreachable: reset"]


def test_reasons_name_programs_that_are_not_running_with_their_log():
    data = _healthy()
    report = _programs(haproxy="RUNNING", kwok="BACKOFF", **{"scheduler-1": "STARTING"})
    report["programs"]["kwok"]["log_tail"] = "starting\nerror: unknown flag --bad\n"
    health.add_local_processes(data, report, LB)
    assert data["reasons"] == ["kwok is BACKOFF under supervisord; last log line: error: unknown flag --bad",
                               "scheduler-1 is STARTING under supervisord"]
    data = _healthy()
    health.add_local_processes(data, _programs(haproxy="FATAL"), LB)
    assert data["reasons"] == ["haproxy (load balancer) is FATAL under supervisord"]


def test_reasons_when_supervisord_is_down():
    data = _healthy()
    health.add_local_processes(data, {"running": False, "pid": None, "programs": {}}, None)
    assert data["healthy"] is False and "supervisord of this cluster is not running" in data["reasons"][0]
    assert data["load_balancer"] is None
    data = _healthy()
    health.add_local_processes(data, _programs(**{"etcd-0": "RUNNING"}), None)
    assert data["healthy"] is True and data["reasons"] == []


def test_kubeconfig_that_is_a_directory_is_named_as_such(tmp_path):
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import build_configuration
    e = _error(build_configuration, {"kubeconfig": str(tmp_path)}, {})
    assert str(e) == "kubeconfig %s is a directory, not a file" % tmp_path
    e = _error(build_configuration, {"kubeconfig": str(tmp_path / "missing")}, {})
    assert "not found" in str(e)
