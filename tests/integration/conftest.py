# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests: real ansible-playbook runs against real local clusters (no mocks)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_configure(config):
    config.addinivalue_line("markers", "serial: measures behaviour under load; `make integration` runs it alone, "
                                       "after the parallel part")


def _bin_dir():
    sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
    try:
        import toolchain  # stdlib-only pins, loadable without the collection loader
    finally:
        sys.path.pop(0)
    d, dummy, missing = toolchain.resolve_bin_dir()
    return d, missing


@pytest.fixture(scope="session")
def bin_dir():
    d, missing = _bin_dir()
    if missing:
        pytest.fail("toolchain binaries missing in %s: %s (run `make toolchain`)" % (d, ", ".join(missing)))
    return d


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("collections")
    ns = root / "ansible_collections" / "adhar"
    ns.mkdir(parents=True)
    os.symlink(REPO, ns / "platform")
    return str(root)


class Runner:
    """Runs playbooks with ansible-playbook and returns the results of their tasks."""

    def __init__(self, collections, state_dir, workdir):
        self.collections = collections
        self.state_dir = state_dir
        self.workdir = workdir
        self.n = 0

    def env(self):
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": self.collections,
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "adhar_results",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ADHAR_STATE_DIR": self.state_dir,
            # modules run with the interpreter that runs the tests (the venv), never a discovered one
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        })
        bindir = os.path.dirname(sys.executable)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        return env

    def playbook(self, text, inventory, forks=5, expect_rc=0):
        """Run a whole playbook (YAML text) against an inventory (YAML text); returns the task results."""
        self.n += 1
        pb = os.path.join(self.workdir, "book-%d.yml" % self.n)
        inv = os.path.join(self.workdir, "inventory-%d.yml" % self.n)
        results = os.path.join(self.workdir, "results-%d.jsonl" % self.n)
        with open(pb, "w") as f:
            f.write(textwrap.dedent(text))
        with open(inv, "w") as f:
            f.write(textwrap.dedent(inventory))
        env = self.env()
        env["ADHAR_RESULTS_FILE"] = results
        cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", inv, "-f", str(forks), pb]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError("ansible-playbook rc=%d (want %d)\nSTDOUT:\n%s\nSTDERR:\n%s"
                                 % (proc.returncode, expect_rc, proc.stdout[-6000:], proc.stderr[-3000:]))
        with open(results) as f:
            return [json.loads(line) for line in f if line.strip()], proc.stdout

    def play(self, tasks, check=False, diff=False, extra=None, expect_rc=None):
        """Run ``tasks`` (YAML text of a task list) on localhost; returns a list of task results."""
        self.n += 1
        pb = os.path.join(self.workdir, "play-%d.yml" % self.n)
        results = os.path.join(self.workdir, "results-%d.jsonl" % self.n)
        body = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    ")
        with open(pb, "w") as f:
            f.write(body)
        cmd = [shutil.which("ansible-playbook", path=self.env()["PATH"]), "-i", "localhost,", pb]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        for k, v in (extra or {}).items():
            cmd += ["-e", "%s=%s" % (k, json.dumps(v))]
        env = self.env()
        env["ADHAR_RESULTS_FILE"] = results
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        out = []
        if os.path.exists(results):
            with open(results) as f:
                out = [json.loads(line) for line in f if line.strip()]
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError("ansible-playbook rc=%d (want %d)\nSTDOUT:\n%s\nSTDERR:\n%s"
                                 % (proc.returncode, expect_rc, proc.stdout[-6000:], proc.stderr[-3000:]))
        return out

    def module(self, name, args, check=False, diff=False, expect_fail=False):
        """One task of module ``name`` with ``args``; returns its result dict."""
        task = "- name: %s\n  %s: %s\n" % (name, name, json.dumps(args))
        if expect_fail:
            task += "  ignore_errors: true\n"
        res = self.play(task, check=check, diff=diff, expect_rc=0)
        assert res, "no result recorded"
        r = res[-1]
        if expect_fail:
            assert r["status"] == "failed", "expected a failure, got %r" % (r,)
        else:
            assert r["status"] == "ok", "task failed: %s" % json.dumps(r["result"], indent=1)[:4000]
        return r["result"]


def scratch_runner(prefix):
    """A module-scoped ``runner`` fixture whose state and work directory is one fresh temporary directory (for tests
    that make no local cluster). A test module uses it as ``runner = scratch_runner("name")``."""

    @pytest.fixture(scope="module", name="runner")
    def runner(collections_path, tmp_path_factory):
        d = tmp_path_factory.mktemp(prefix)
        return Runner(collections_path, str(d), str(d))
    return runner


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("state")
    yield str(d)
    # never leave processes behind, whatever the tests did
    _cleanup(str(d))


def _cleanup(root):
    sys.path.insert(0, REPO)
    for name in os.listdir(root) if os.path.isdir(root) else []:
        run = os.path.join(root, name, "run")
        if not os.path.isdir(run):
            continue
        # supervisord first, so it cannot start again what is killed after it
        for f in sorted(os.listdir(run), key=lambda f: f != "supervisord.pid"):
            if f.endswith(".pid"):
                try:
                    with open(os.path.join(run, f)) as fh:
                        info = json.load(fh)
                    _kill_if_same(info)
                except (OSError, ValueError):
                    pass
        _kill_marked(os.path.join(root, name))


def _kill_marked(cluster_dir):
    """Processes a cluster's supervisord restarted after the pids were recorded carry the cluster's environment marker
    (_cluster/local/supervisor.py)."""
    import hashlib
    import signal
    marker = ("ADHAR_LOCAL_CLUSTER=" + hashlib.sha256(os.path.abspath(cluster_dir).encode()).hexdigest()[:32]).encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/environ" % entry, "rb") as f:
                    if marker in f.read().split(b"\0"):
                        os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def _kill_if_same(info):
    import signal
    pid = int(info["pid"])
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        start = int(data[data.rfind(")") + 2:].split()[19])
    except (OSError, ValueError):
        return
    if info.get("starttime") in (None, start):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="session")
def runner(collections_path, state_dir, tmp_path_factory, bin_dir):
    return Runner(collections_path, state_dir, str(tmp_path_factory.mktemp("plays")))


@contextlib.contextmanager
def local_cluster(runner, state_dir, name, nodes=1, volumes=None, **options):
    """A single-member local cluster for one test module: yields its admin kubeconfig, removes it at the end.
    ``volumes``: nodes.volumes (free local persistent volumes); ``options`` are more options of
    adhar.platform.cluster (cluster_id, pod_cidr, ...)."""
    node_options = {"count": nodes} if volumes is None else {"count": nodes, "volumes": volumes}
    r = runner.module("adhar.platform.cluster", dict(options, name=name, nodes=node_options))
    assert r["cluster"]["running"] is True
    try:
        yield os.path.join(state_dir, name, "config", "admin.kubeconfig")
    finally:
        runner.module("adhar.platform.cluster", {"name": name, "state": "absent"})


@pytest.fixture(scope="session")
def make_local_cluster(runner, state_dir):
    """``with make_local_cluster(name, nodes, volumes=None, **options) as kubeconfig:`` — see local_cluster."""
    return lambda name, nodes=1, **options: local_cluster(runner, state_dir, name, nodes, **options)


def adhar_config(context, backups, clusters, retention=30, compose=None):
    """The text of a small adhar config inventory source (plugin adhar.platform.clusters) of local ``kind``
    clusters in a one-replica ``dev`` environment, backing up to the directory ``backups``.

    ``clusters``: (name, role, cluster id, pod CIDR, service CIDR) per cluster; ``retention`` None leaves it out;
    ``compose``: the inventory plugin's compose mapping (host variable -> Jinja expression)."""
    config = {
        "plugin": "adhar.platform.clusters",
        "globalSettings": {"adharContext": context, "defaultHost": "adhar.localtest.me",
                           "email": "platform-team@example.com"},
        "providers": {"kind": {"type": "kind", "region": "local", "primary": True}},
        "environmentTemplates": {"small": {
            "clusterConfig": [{"key": "workerReplicas", "value": "1"}],
            "coreServices": {"argocd": {"values": [{"key": "server.replicas", "value": "1"}]}}}},
        "environments": {"dev": {"type": "non-production", "template": "small",
                                 "clusterConfig": [{"key": "controlPlaneReplicas", "value": "1"}]}},
        "backup": {"enabled": True, "schedule": "0 2 * * *", "storage": {"type": "local", "path": backups}},
        "clusters": [{"name": name, "provider": "kind", "region": "local", "role": role, "environment": "dev",
                      "clusterId": cid, "podCidr": pods, "serviceCidr": services}
                     for name, role, cid, pods, services in clusters],
    }
    if retention is not None:
        config["backup"]["retention"] = retention
    if compose:
        config["compose"] = compose
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture
def figure(request):
    """``figure(text)``: a measured figure (a failed-write count, a duration) printed at once and again in the run's
    "measured figures" summary, which also shows what pytest-xdist workers measured (their output is not shown)."""
    def add(text):
        print(text)
        request.node.user_properties.append(("figure", text))
    return add


def pytest_terminal_summary(terminalreporter):
    lines = []
    for outcome in ("passed", "failed"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", None) == "call":
                lines += ["%s (%s): %s" % (rep.nodeid, outcome, v) for k, v in rep.user_properties if k == "figure"]
    if lines:
        terminalreporter.section("measured figures")
        for line in lines:
            terminalreporter.write_line(line)
