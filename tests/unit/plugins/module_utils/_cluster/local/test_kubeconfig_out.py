# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster module's output kubeconfig is ``kubeconfig_out``; ``kubeconfig`` is always an input.

Runs the real module entry point (AnsibleModule and all) on an empty state directory: every case here fails or
finishes before a binary is needed, and nothing may be written.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.adhar.platform.plugins.modules import cluster


@pytest.fixture
def run_cluster(module_args, module_result, clean_k8s_env, tmp_path):
    state_dir = tmp_path / "state"

    def run(**args):
        module_args(dict({"name": "kc", "state_dir": str(state_dir)}, **args))
        return module_result(cluster.main)

    run.state_dir = state_dir
    return run


def _nothing_written(run):
    assert not os.path.exists(run.state_dir)


@pytest.mark.parametrize("state", ["present", "started", "absent"])
def test_an_explicit_kubeconfig_is_refused_for_local(run_cluster, tmp_path, state):
    out = tmp_path / "out.yaml"
    rc, result = run_cluster(kubeconfig=str(out), state=state, _ansible_check_mode=True)
    assert rc == 1
    assert result["msg"].startswith("kubeconfig: provider local does not take a kubeconfig")
    assert "use kubeconfig_out instead" in result["msg"]
    assert result["option"] == "kubeconfig"
    assert not out.exists()
    _nothing_written(run_cluster)


def test_a_kubeconfig_dict_is_refused_for_local(run_cluster):
    rc, result = run_cluster(kubeconfig={"apiVersion": "v1", "clusters": []}, state="absent")
    assert rc == 1 and "use kubeconfig_out instead" in result["msg"]


def test_the_environment_fallback_does_not_count(run_cluster, monkeypatch, tmp_path):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(tmp_path / "from-env.yaml"))
    rc, result = run_cluster(state="absent")
    assert rc == 0, result
    assert result["changed"] is False
    _nothing_written(run_cluster)


def test_the_clusters_own_kubeconfig_is_accepted_as_the_connection(run_cluster):
    # what a play passes for a local host through module_defaults of the k8s action group
    own = os.path.join(str(run_cluster.state_dir), "kc", "config", "admin.kubeconfig")
    rc, result = run_cluster(kubeconfig=own, state="absent")
    assert rc == 0, result
    assert result["changed"] is False


def test_kubeconfig_out_is_validated_before_anything(run_cluster, tmp_path):
    rc, result = run_cluster(kubeconfig_out=str(tmp_path), _ansible_check_mode=True)
    assert rc == 1
    assert result["msg"] == "kubeconfig_out: %s is a directory; give the path of a file to write the kubeconfig to" % tmp_path
    assert result["option"] == "kubeconfig_out"
    rc, result = run_cluster(kubeconfig_out="  ", _ansible_check_mode=True)
    assert rc == 1 and result["msg"].startswith("kubeconfig_out: an empty path")
    _nothing_written(run_cluster)


def test_existing_reports_the_kubeconfig_from_the_environment(monkeypatch, tmp_path):
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.existing import ExistingProvider

    class Module:
        check_mode = False

        def __init__(self, kubeconfig):
            self.params = {"name": "reg", "kubeconfig": kubeconfig}

    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(tmp_path / "env.yaml"))
    assert ExistingProvider(Module(None))._kubeconfig_path() == str(tmp_path / "env.yaml")
    assert ExistingProvider(Module(str(tmp_path / "given.yaml")))._kubeconfig_path() == str(tmp_path / "given.yaml")
    assert ExistingProvider(Module({"apiVersion": "v1"}))._kubeconfig_path() is None
