# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling upgrades of local clusters: the skew rules, the order, where binaries come from, HAProxy's runtime API."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading

import pytest

from ansible_collections.adhar.platform.plugins.module_utils import toolchain
from ansible_collections.adhar.platform.plugins.module_utils.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils.local import upgrade as up
from ansible_collections.adhar.platform.plugins.module_utils.local.spec import immutable_changes, normalize


def test_skew_rules():
    assert up.check_skew("v1.35.4", "v1.35.4") is None
    assert up.check_skew("v1.35.4", "v1.36.3") == "upgrade"
    assert up.check_skew("v1.36.1", "v1.36.3") == "upgrade"  # a newer patch of the same minor
    with pytest.raises(AdharError, match=r"skips 1 minor version\(s\); upgrade one minor at a time \(to v1.35.x first\)"):
        up.check_skew("v1.34.2", "v1.36.3")
    with pytest.raises(AdharError, match="v1.36.3 -> v1.35.4 is a downgrade"):
        up.check_skew("v1.36.3", "v1.35.4")
    with pytest.raises(AdharError, match="downgrade"):
        up.check_skew("v1.36.3", "v1.36.1")
    with pytest.raises(AdharError, match="major"):
        up.check_skew("v1.36.3", "v2.0.0")
    with pytest.raises(AdharError) as e:
        up.check_skew("v1.36.3", "latest")
    assert e.value.details["option"] == "kubernetes_version"


def test_skew_with_an_unfinished_upgrade():
    record = {"from": "v1.35.4", "to": "v1.36.3", "failed": {"process": "apiserver-1", "reason": "x"}}
    assert up.check_skew("v1.35.4", "v1.36.3", record) == "resume"
    # the only downgrade there is: back to where an unfinished upgrade started
    assert up.check_skew("v1.35.4", "v1.35.4", record) == "rollback"
    with pytest.raises(AdharError, match=r"unfinished \(it failed at apiserver-1\); finish it \(kubernetes_version: "
                                         r"v1.36.3\) or roll it back \(kubernetes_version: v1.35.4\)"):
        up.check_skew("v1.35.4", "v1.36.1", record)


def test_kubernetes_version_is_no_longer_immutable():
    a = normalize({"name": "c1"}, "v1.35.4")
    assert immutable_changes(a, normalize({"name": "c1", "kubernetes_version": "v1.36.3"}, "v1.35.4")) == []


def test_plan_order():
    # API servers member by member, then controller-managers, then schedulers, each kind's leader last
    assert up.plan(3, "upgrade", {"controller-manager": 0, "scheduler": 1}) == [
        "apiserver-0", "apiserver-1", "apiserver-2",
        "controller-manager-1", "controller-manager-2", "controller-manager-0",
        "scheduler-0", "scheduler-2", "scheduler-1"]
    assert up.plan(3, "resume", {}) == up.plan(3, "upgrade") == [
        "apiserver-0", "apiserver-1", "apiserver-2", "controller-manager-0", "controller-manager-1",
        "controller-manager-2", "scheduler-0", "scheduler-1", "scheduler-2"]
    # a rollback: controllers are never newer than the API servers, so they go back first
    assert up.plan(1, "rollback", {"scheduler": 0}) == ["controller-manager-0", "scheduler-0", "apiserver-0"]


def _bins(d, version):
    os.makedirs(d)
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok"):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(path, 0o755)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump({"binaries": {"kube-apiserver": {"version": version}}}, f)
    return d


def test_kube_bin_dir_per_version(tmp_path):
    env = {"ADHAR_CACHE_DIR": str(tmp_path / "cache")}
    pinned = _bins(toolchain.cache_bin_dir(env), toolchain.VERSIONS["kubernetes"])
    previous_version = toolchain.ADDON_VERSIONS["kubernetes-previous"]
    assert up.kube_bin_dir_for(toolchain.VERSIONS["kubernetes"], environ=env) == pinned
    with pytest.raises(AdharError, match="no binaries of %s: .*not built.*tools/toolchain ensure --only "
                                         "kubernetes-previous" % previous_version):
        up.kube_bin_dir_for(previous_version, environ=env)
    previous = _bins(toolchain.addon_bin_dir("kubernetes-previous", env), previous_version)
    assert up.kube_bin_dir_for(previous_version, environ=env) == previous
    # another patch than the toolchain's is refused, naming what each directory holds
    with pytest.raises(AdharError, match=r"no binaries of v1.35.1: .*\(cache\): %s; .*: %s" % (
            toolchain.VERSIONS["kubernetes"], previous_version)):
        up.kube_bin_dir_for("v1.35.1", environ=env)
    # a bin_dir given by the user is used as is, its version checked
    mine = _bins(str(tmp_path / "mine"), "v1.35.1")
    assert up.kube_bin_dir_for("v1.35.1", explicit=mine, environ=env) == mine
    with pytest.raises(AdharError, match="binaries in %s are v1.35.1" % mine):
        up.kube_bin_dir_for(previous_version, explicit=mine, environ=env)
    # ADHAR_BIN_DIR stands in for the pinned release, never for the previous minor's add-on
    env["ADHAR_BIN_DIR"] = mine
    assert up.kube_bin_dir_for(previous_version, environ=env) == previous
    assert toolchain.find_addon_binary("kube-apiserver", "kubernetes-previous", env) == (
        os.path.join(previous, "kube-apiserver"), "cache")


def test_previous_minor_pinned():
    pinned, previous = toolchain.VERSIONS["kubernetes"], toolchain.ADDON_VERSIONS["kubernetes-previous"]
    assert up.parse(previous)[1] == up.parse(pinned)[1] - 1
    assert toolchain.COMPONENTS["kubernetes-previous"] == ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    assert sorted(toolchain.kubernetes_bin_dirs({"ADHAR_CACHE_DIR": "/c"})) == [up.minor(previous), up.minor(pinned)]


def test_running_binary_dir():
    assert up.running_binary_dir(os.getpid()) == os.path.dirname(os.path.realpath(sys.executable))
    assert up.running_binary_dir(None) is None
    assert up.same_dir("/a/../b", "/b") and not up.same_dir(None, "/b")


STAT = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,\n"
        "kube-apiserver,FRONTEND,,,3,5,4096,9,,,,,,,,,,OPEN,\n"
        "kube-apiservers,apiserver-0,0,0,2,3,,5,,,,,,,,,,DRAIN,\n"
        "kube-apiservers,apiserver-1,0,0,1,2,,4,,,,,,,,,,UP,\n"
        "kube-apiservers,BACKEND,0,0,3,5,,9,,,,,,,,,,UP,\n\n")


def _fake_haproxy(path, answers, seen):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)

    def serve():
        while True:
            try:
                conn, dummy = srv.accept()
            except OSError:
                return
            line = conn.recv(4096).decode().strip()
            seen.append(line)
            conn.sendall(answers.get(line.split(" ")[0] + " " + line.split(" ")[1], "").encode())
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_load_balancer_runtime_api(tmp_path):
    path = str(tmp_path / "h.sock")
    seen = []
    srv = _fake_haproxy(path, {"show stat": STAT, "show info": "Name: HAProxy\n",
                               "set server": ""}, seen)
    try:
        lb = up.LoadBalancer(path)
        assert lb.answers()
        assert lb.servers() == {"apiserver-0": {"status": "DRAIN", "sessions": 2},
                                "apiserver-1": {"status": "UP", "sessions": 1}}
        lb.set_state("apiserver-0", "drain")
        assert seen[-1] == "set server kube-apiservers/apiserver-0 state drain"
    finally:
        srv.close()
    assert not up.LoadBalancer(str(tmp_path / "none.sock")).answers()


def test_load_balancer_refusal(tmp_path):
    path = str(tmp_path / "h.sock")
    srv = _fake_haproxy(path, {"set server": "No such server.\n"}, [])
    try:
        with pytest.raises(AdharError, match="HAProxy refused to set apiserver-9 to drain: No such server."):
            up.LoadBalancer(path).set_state("apiserver-9", "drain")
    finally:
        srv.close()
