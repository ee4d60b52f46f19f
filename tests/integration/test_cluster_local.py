# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.cluster and cluster_info against real local control planes.

Order matters inside this module (one single-member and one HA cluster are
shared by the tests to keep the run inside CI's budget on 2 cores).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as kclient, config as kconfig, watch as kwatch  # noqa: E402


def pids_of(state_dir, name):
    run = os.path.join(state_dir, name, "run")
    out = {}
    for f in sorted(os.listdir(run)):
        if f.endswith(".pid"):
            with open(os.path.join(run, f)) as fh:
                out[f[:-4]] = json.load(fh)
    return out


def alive(info):
    try:
        with open("/proc/%d/stat" % info["pid"]) as f:
            data = f.read()
    except OSError:
        return False
    fields = data[data.rfind(")") + 2:].split()
    return fields[0] not in ("Z", "X") and int(fields[19]) == info["starttime"]


def api(kubeconfig):
    return kconfig.new_client_from_config(config_file=kubeconfig)


def wait_deployment_available(apic, ns, name, replicas, timeout=90):
    apps = kclient.AppsV1Api(apic)
    w = kwatch.Watch()
    for ev in w.stream(apps.list_namespaced_deployment, ns, field_selector="metadata.name=" + name, timeout_seconds=timeout):
        st = ev["object"].status
        if st and (st.available_replicas or 0) >= replicas:
            w.stop()
            return True
    return False


# --------------------------------------------------------------------------- bad input: nothing is left behind

BAD = [
    ({"name": "evencp", "control_plane": {"count": 2}}, "control_plane.count: 2 is not allowed"),
    ({"name": "evencp4", "control_plane": {"count": 4}}, "even number"),
    ({"name": "Bad_Name"}, "is not a valid cluster name"),
    ({"name": "hacount", "ha": True, "control_plane": {"count": 1}}, "conflicts"),
    ({"name": "cidrs", "pod_cidr": "10.0.0.0/8", "service_cidr": "10.96.0.0/16"}, "overlaps"),
    ({"name": "badcidr", "pod_cidr": "10.244.0.0/33"}, "pod_cidr"),
    ({"name": "badid", "cluster_id": 300}, "cluster_id: 300 is out of range"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[b[1][:20] for b in BAD])
def test_bad_input_is_one_clear_error_and_leaves_nothing(runner, state_dir, args, needle):
    before = sorted(os.listdir(state_dir))
    r = runner.module("adhar.platform.cluster", args, expect_fail=True)
    assert needle in r["msg"], r["msg"]
    assert sorted(os.listdir(state_dir)) == before


def _bad_paths(tmp_path):
    regular = tmp_path / "a-file"
    regular.write_text("not a directory\n")
    folder = tmp_path / "a-dir"
    folder.mkdir()
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [unclosed\n")
    return [
        ({"kubeconfig_out": str(regular / "sub" / "kc.yaml")}, "kubeconfig_out: cannot create %s" % (regular / "sub" / "kc.yaml")),
        ({"kubeconfig_out": str(folder)}, "kubeconfig_out: %s is a directory" % folder),
        ({"kubeconfig_out": str(broken)}, "kubeconfig_out: cannot merge into %s" % broken),
        # kubeconfig is an input: the old way of asking for an output file is refused, naming the new option
        ({"kubeconfig": str(tmp_path / "out.yaml")}, "use kubeconfig_out instead"),
        ({"wait_timeout": -1}, "wait_timeout: -1"),
        ({"wait_timeout": 0}, "wait_timeout: 0"),
        ({"audit_policy": {"enabled": True, "max_backups": -1}}, "audit_policy.max_backups: -1"),
        ({"audit_policy": {"enabled": True, "max_size_mb": 0}}, "audit_policy.max_size_mb: 0"),
    ]


def test_bad_paths_and_numbers_are_refused_before_anything_starts(runner, state_dir, tmp_path):
    for args, needle in _bad_paths(tmp_path):
        before = sorted(os.listdir(state_dir))
        t = time.monotonic()
        r = runner.module("adhar.platform.cluster", dict(args, name="early"), expect_fail=True)
        assert needle in r["msg"], (args, r["msg"])
        assert "rolled back" not in r["msg"] and time.monotonic() - t < 30
        assert sorted(os.listdir(state_dir)) == before
    folder = tmp_path / "a-dir"
    r = runner.module("adhar.platform.cluster", {"name": "reg", "provider": "existing", "kubeconfig": str(folder)},
                      expect_fail=True)
    assert "is a directory, not a file" in r["msg"], r["msg"]


def test_port_in_use_is_refused_before_anything(runner, state_dir):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        before = sorted(os.listdir(state_dir))
        r = runner.module("adhar.platform.cluster", {"name": "portclash", "api_port": port}, expect_fail=True)
        assert "api_port: 127.0.0.1:%d is already in use" % port in r["msg"]
        assert sorted(os.listdir(state_dir)) == before
    finally:
        s.close()


def test_missing_binaries(runner, state_dir, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    r = runner.module("adhar.platform.cluster", {"name": "nobins", "bin_dir": str(empty)}, expect_fail=True)
    assert "missing binaries in %s" % empty in r["msg"] and "kube-apiserver" in r["msg"]
    assert not os.path.exists(os.path.join(state_dir, "nobins"))


def test_unusable_state_dir(runner, tmp_path):
    f = tmp_path / "file"
    f.write_text("not a dir")
    r = runner.module("adhar.platform.cluster", {"name": "x", "state_dir": str(f)}, expect_fail=True)
    assert "is not a directory" in r["msg"]
    corrupt = tmp_path / "root" / "broken"
    corrupt.mkdir(parents=True)
    (corrupt / "cluster.json").write_text("{not json")
    r = runner.module("adhar.platform.cluster", {"name": "broken", "state_dir": str(tmp_path / "root")}, expect_fail=True)
    assert "corrupt" in r["msg"] and "nothing was changed" in r["msg"]
    assert (corrupt / "cluster.json").read_text() == "{not json"


# --------------------------------------------------------------------------- single member

def test_check_mode_creates_nothing(runner, state_dir):
    r = runner.module("adhar.platform.cluster", {"name": "single"}, check=True, diff=True)
    assert r["changed"] is True
    assert r["diff"]["before"] == {"exists": False, "phase": None}
    assert not os.path.exists(os.path.join(state_dir, "single"))


def test_single_create_and_workload(runner, state_dir, tmp_path):
    out_kc = str(tmp_path / "kubeconfig")
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 2}, "kubeconfig_out": out_kc})
    c = r["cluster"]
    assert r["changed"] is True
    assert c["server_version"] == "v1.36.3"
    assert c["control_plane"][0]["healthy"] is True
    assert oct(os.stat(out_kc).st_mode & 0o777) == "0o600"
    assert oct(os.stat(c["admin_kubeconfig"]).st_mode & 0o777) == "0o600"
    apic = api(out_kc)
    nodes = kclient.CoreV1Api(apic).list_node().items
    assert len(nodes) == 2
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    kclient.AppsV1Api(apic).create_namespaced_deployment("default", dep)
    assert wait_deployment_available(apic, "default", "web", 3)
    pods = kclient.CoreV1Api(apic).list_namespaced_pod("default", label_selector="app=web").items
    assert len(pods) == 3 and all(p.status.phase == "Running" for p in pods)


def test_single_idempotent_and_fast(runner):
    t = time.monotonic()
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 2}})
    assert r["changed"] is False, r["actions"]
    # the unchanged path starts and waits for nothing (its speed is a benchmark's business, not a test's): a
    # bound far below any wait_timeout catches a re-run that waits for readiness again
    assert r["duration"] < 30 and time.monotonic() - t < 60, (r["duration"], r.get("timings"))


def test_kubeconfig_output_is_part_of_the_desired_state(runner, tmp_path):
    kc = str(tmp_path / "kc.yaml")
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 2}, "kubeconfig_out": kc}, check=True)
    assert r["changed"] is True and not os.path.exists(kc)
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 2}, "kubeconfig_out": kc})
    assert r["changed"] is True and any("wrote context adhar-single" in a for a in r["actions"])
    assert oct(os.stat(kc).st_mode & 0o777) == "0o600"
    assert r["cluster"]["kubeconfig"] == kc
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 2}, "kubeconfig_out": kc})
    assert r["changed"] is False
    assert kclient.CoreV1Api(api(kc)).list_node().items


def test_kubeconfig_is_an_input_for_a_local_cluster(runner, state_dir, tmp_path):
    other = tmp_path / "meant-as-output.yaml"
    before = pids_of(state_dir, "single")
    r = runner.module("adhar.platform.cluster", {"name": "single", "kubeconfig": str(other)}, expect_fail=True)
    assert r["msg"].startswith("kubeconfig: provider local does not take a kubeconfig"), r["msg"]
    assert "use kubeconfig_out instead" in r["msg"] and r["option"] == "kubeconfig"
    assert not other.exists() and pids_of(state_dir, "single") == before
    # the cluster's own admin kubeconfig, as a play passes a local host's connection, is accepted and changes nothing
    own = os.path.join(state_dir, "single", "config", "admin.kubeconfig")
    r = runner.module("adhar.platform.cluster", {"name": "single", "kubeconfig": own})
    assert r["changed"] is False, r["actions"]
    # K8S_AUTH_KUBECONFIG in the environment is not a kubeconfig given to the task
    res = runner.play("- adhar.platform.cluster:\n    name: single\n  environment:\n    K8S_AUTH_KUBECONFIG: %s\n"
                      % json.dumps(str(other)), expect_rc=0)
    assert res[-1]["status"] == "ok" and res[-1]["result"]["changed"] is False, res[-1]
    assert not other.exists() and pids_of(state_dir, "single") == before


def test_single_check_mode_on_existing_changes_nothing(runner, state_dir):
    before = pids_of(state_dir, "single")
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 4}}, check=True, diff=True)
    assert r["changed"] is True
    assert any("would" in a for a in r["actions"])
    r2 = runner.module("adhar.platform.cluster_info", {"name": "single", "probes": 0})
    assert r2["nodes"]["total"] == 2
    assert pids_of(state_dir, "single") == before


def test_single_scale_nodes(runner):
    r = runner.module("adhar.platform.cluster", {"name": "single", "nodes": {"count": 3}})
    assert r["changed"] is True
    info = runner.module("adhar.platform.cluster_info", {"name": "single", "probes": 5})
    assert info["nodes"]["ready"] == 3 and info["nodes"]["total"] == 3
    assert info["healthy"] is True, info["reasons"]


def test_immutable_change_is_refused(runner):
    r = runner.module("adhar.platform.cluster", {"name": "single", "cluster_id": 9}, expect_fail=True)
    assert "cannot change in place" in r["msg"] and "cluster_id" in r["msg"]


# --------------------------------------------------------------------------- HA, failure and healing

def test_ha_create_side_by_side(runner, state_dir):
    r = runner.module("adhar.platform.cluster", {"name": "ha", "ha": True, "nodes": {"count": 3}, "cluster_id": 2})
    c = r["cluster"]
    assert len(c["control_plane"]) == 3 and all(m["healthy"] for m in c["control_plane"])
    assert c["load_balancer"]["running"] is True
    # both clusters answer, on different ports
    single = runner.module("adhar.platform.cluster_info", {"name": "single", "probes": 0})
    assert single["cluster"]["api_endpoint"] != c["api_endpoint"]
    used = set()
    for name in ("single", "ha"):
        with open(os.path.join(state_dir, name, "cluster.json")) as f:
            ports = json.load(f)["ports"]
        flat = [ports["api"], ports["kwok"]] + [p for m in ports["members"] for p in m.values()]
        assert not used & (set(flat) - {ports["api"]} if name == "single" else set(flat))
        used |= set(flat)
    info = runner.module("adhar.platform.cluster_info", {"name": "ha", "probes": 20})
    assert info["healthy"] is True, info["reasons"]
    assert len(info["etcd"]["members"]) == 3 and info["etcd"]["leader"]


def supervisorctl(state_dir, name, *args):
    conf = os.path.join(state_dir, name, "config", "supervisord.conf")
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", conf] + list(args), capture_output=True,
                          text=True, timeout=60, check=False).stdout


def test_ha_survives_member_loss_and_heals(runner, state_dir):
    pids = pids_of(state_dir, "ha")
    kc = os.path.join(state_dir, "ha", "config", "admin.kubeconfig")
    # kill -9: supervisord starts them again by itself
    os.kill(pids["apiserver-1"]["pid"], signal.SIGKILL)
    os.kill(pids["etcd-2"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = supervisorctl(state_dir, "ha", "status", "apiserver-1", "etcd-2")
        if status.count("RUNNING") == 2 and "pid %d," % pids["apiserver-1"]["pid"] not in status \
                and "pid %d," % pids["etcd-2"]["pid"] not in status:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("not restarted by supervisord: %s" % status)
    # stopped through supervisord they stay down until state=started
    supervisorctl(state_dir, "ha", "stop", "apiserver-1", "etcd-2")
    core = kclient.CoreV1Api(api(kc))
    for i in range(10):
        ok = False
        for dummy in range(20):  # a write may race the load balancer noticing the dead member
            try:
                core.create_namespaced_config_map("default", {"metadata": {"name": "after-loss-%d" % i}, "data": {"i": str(i)}})
                ok = True
                break
            except Exception:
                time.sleep(0.5)
        assert ok, "write %d through the load balancer failed" % i
    info = runner.module("adhar.platform.cluster_info", {"name": "ha", "probes": 5})
    assert info["healthy"] is False
    text = " ".join(info["reasons"])
    assert "apiserver-1" in text and "etcd-2" in text, info["reasons"]
    healed = runner.module("adhar.platform.cluster", {"name": "ha", "ha": True, "nodes": {"count": 3}, "cluster_id": 2,
                                                      "state": "started"})
    assert healed["changed"] is True
    assert any("apiserver-1" in a and "etcd-2" in a for a in healed["actions"]), healed["actions"]
    again = runner.module("adhar.platform.cluster", {"name": "ha", "ha": True, "nodes": {"count": 3}, "cluster_id": 2,
                                                     "state": "started"})
    assert again["changed"] is False
    info = runner.module("adhar.platform.cluster_info", {"name": "ha", "probes": 5})
    assert info["healthy"] is True, info["reasons"]
    names = [cm.metadata.name for cm in core.list_namespaced_config_map("default").items]
    assert all("after-loss-%d" % i in names for i in range(10))


def test_stop_and_start(runner, state_dir):
    r = runner.module("adhar.platform.cluster", {"name": "single", "state": "stopped"})
    assert r["changed"] is True
    assert not any(alive(i) for i in pids_of(state_dir, "single").values())
    r = runner.module("adhar.platform.cluster", {"name": "single", "state": "stopped"})
    assert r["changed"] is False
    down = runner.module("adhar.platform.cluster_info", {"name": "single", "probes": 3, "timeout": 1})
    assert down["healthy"] is False and any("apiserver-0" in x for x in down["reasons"])
    # playbooks/health.yml reports (rc 0) and fails only when asked
    playbooks = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "playbooks"))
    with open(os.path.join(playbooks, "health.yml")) as f:
        # the copy runs from a scratch directory: its vars file is the repository's
        book = f.read().replace("- vars/cloud.yml", "- " + os.path.join(playbooks, "vars", "cloud.yml"))
    inventory = "all:\n  children:\n    clusters:\n      hosts:\n        single:\n          ansible_connection: local\n" \
                "          adhar_local_cluster: single\n"
    runner.playbook(book, inventory, expect_rc=0)
    runner.playbook(book.replace("adhar_health_fail | default(false)", "adhar_health_fail | default(true)"), inventory,
                    expect_rc=2)
    r = runner.module("adhar.platform.cluster", {"name": "single"})
    assert r["changed"] is False and any("is stopped" in w for w in r.get("warnings", [])), r
    r = runner.module("adhar.platform.cluster", {"name": "single", "state": "started", "nodes": {"count": 3}})
    assert r["changed"] is True and r["cluster"]["running"] is True
    info = runner.module("adhar.platform.cluster_info", {"name": "single", "probes": 0})
    assert info["nodes"]["ready"] == 3


def test_existing_provider_and_info_by_kubeconfig(runner, state_dir):
    kc = os.path.join(state_dir, "single", "config", "admin.kubeconfig")
    r = runner.module("adhar.platform.cluster", {"name": "reg", "provider": "existing", "kubeconfig": kc})
    assert r["changed"] is False
    assert r["cluster"]["server_version"] == "v1.36.3" and r["cluster"]["nodes"]["ready"] == 3
    r = runner.module("adhar.platform.cluster", {"name": "reg", "provider": "existing", "kubeconfig": kc, "context": "nope"},
                      expect_fail=True)
    assert "nope" in r["msg"]
    info = runner.module("adhar.platform.cluster_info", {"kubeconfig": kc, "probes": 10})
    assert info["healthy"] is True, info["reasons"]
    assert info["etcd"]["available"] is False and info["latency"]["probes"] == 10


def test_existing_provider_unreachable(runner, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = runner.module("adhar.platform.cluster", {"name": "gone", "provider": "existing", "host": "https://127.0.0.1:%d" % port,
                                                 "validate_certs": False, "api_retry_deadline": 2}, expect_fail=True)
    assert "not reachable" in r["msg"]


@pytest.mark.parametrize("name", ["single", "ha"])
def test_absent_leaves_no_process_and_no_files(runner, state_dir, name, tmp_path):
    pids = pids_of(state_dir, name)
    assert any(alive(i) for i in pids.values())
    r = runner.module("adhar.platform.cluster", {"name": name, "state": "absent"}, check=True)
    assert r["changed"] is True and os.path.isdir(os.path.join(state_dir, name))
    r = runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})
    assert r["changed"] is True
    assert not any(alive(i) for i in pids.values()), [n for n, i in pids.items() if alive(i)]
    assert not os.path.exists(os.path.join(state_dir, name))
    r = runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})
    assert r["changed"] is False
