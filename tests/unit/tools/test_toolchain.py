# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/toolchain.py: staging-module derivation, checksums, lookup order (no build, no network)."""
from __future__ import annotations

import importlib.util
import os
import stat

import pytest

from ansible_collections.adhar.platform.plugins.module_utils import toolchain as pins

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "..", "tools", "toolchain.py")


@pytest.fixture(scope="module")
def tc():
    spec = importlib.util.spec_from_file_location("adhar_toolchain_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GOMOD = """module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tgithub.com/foo/bar v1.2.3
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
\tk8s.io/klog/v2 v2.130.1
)

require (
\tk8s.io/cri-streaming v0.0.0 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/streaming => ./staging/src/k8s.io/streaming
)
"""


def test_staging_replaces_are_derived(tc):
    reps = tc.staging_replaces(GOMOD, "v0.36.3")
    assert reps == {"k8s.io/api": "v0.36.3", "k8s.io/client-go": "v0.36.3", "k8s.io/cri-streaming": "v0.36.3",
                    "k8s.io/streaming": "v0.36.3"}
    # a real version is not staging
    assert "k8s.io/klog/v2" not in reps


def test_staging_replaces_of_the_real_release():
    gomod = os.path.expanduser("~/go/pkg/mod/cache/download/k8s.io/kubernetes/@v/%s.mod" % pins.VERSIONS["kubernetes"])
    if not os.path.exists(gomod):
        pytest.skip("the release go.mod is not in the Go module cache")
    spec = importlib.util.spec_from_file_location("adhar_toolchain_script2", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(gomod) as f:
        reps = mod.staging_replaces(f.read(), "v0.36.3")
    assert {"k8s.io/api", "k8s.io/apiserver", "k8s.io/cri-streaming", "k8s.io/streaming", "k8s.io/kubectl"} <= set(reps)


def test_checksum_lookup(tc):
    sums = "%s  etcd-v3.6.16-linux-amd64.tar.gz\n%s  other.tar.gz\n" % ("a" * 64, "b" * 64)
    assert tc._checksum_for(sums, "etcd-v3.6.16-linux-amd64.tar.gz") == "a" * 64
    assert tc._checksum_for("c" * 64 + "\n", "kube-apiserver") == "c" * 64
    with pytest.raises(tc.ToolchainError):
        tc._checksum_for("%s  x\n" % ("a" * 64), "y")


def test_lookup_order(tmp_path):
    d = tmp_path / "bins"
    d.mkdir()
    for name in pins.ALL_BINARIES:
        p = d / name
        p.write_text("#!/bin/sh\n")
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    env = {"ADHAR_BIN_DIR": str(d), "HOME": str(tmp_path)}
    assert pins.resolve_bin_dir(environ=env) == (str(d), "ADHAR_BIN_DIR", [])
    assert pins.resolve_bin_dir(explicit=str(tmp_path), environ=env)[1:] == ("option", list(pins.ALL_BINARIES))
    cache = pins.resolve_bin_dir(environ={"ADHAR_CACHE_DIR": str(tmp_path / "c")})
    assert cache[0] == os.path.join(str(tmp_path / "c"), "bin", pins.toolchain_id()) and cache[1] == "cache"
    (d / "kwok").unlink()
    assert pins.missing_binaries(str(d)) == ["kwok"]


def test_toolchain_id_changes_with_any_version():
    base = pins.toolchain_id()
    for comp in pins.VERSIONS:
        changed = dict(pins.VERSIONS, **{comp: "v9.9.9"})
        assert pins.toolchain_id(changed) != base


def test_explicit_bin_dir_missing_is_an_error(tc, tmp_path, monkeypatch):
    monkeypatch.setenv("ADHAR_BIN_DIR", str(tmp_path))
    with pytest.raises(tc.ToolchainError, match="lacks"):
        tc.ensure(["etcd"])


CILIUM_GOMOD = """module github.com/cilium/cilium

go 1.25.0

require github.com/foo/bar v1.0.0

replace sigs.k8s.io/controller-tools => github.com/cilium/controller-tools v0.16.5-1

replace (
\tgo.universe.tf/metallb => github.com/cilium/metallb v0.1.1-0.20220829170633-5d7dfb1129f7 // fork
\texample.com/local => ./local
)
"""


def test_module_replaces_single_and_block(tc):
    assert tc.module_replaces(CILIUM_GOMOD) == [
        ("sigs.k8s.io/controller-tools", "github.com/cilium/controller-tools@v0.16.5-1"),
        ("go.universe.tf/metallb", "github.com/cilium/metallb@v0.1.1-0.20220829170633-5d7dfb1129f7")]


def test_addons_do_not_change_the_toolchain_id():
    assert "clustermesh" not in pins.VERSIONS
    assert pins.toolchain_id() == "k8s-{kubernetes}_etcd-{etcd}_kwok-{kwok}_helm-{helm}".format(**pins.VERSIONS)
    assert pins.component_version("clustermesh") == pins.ADDON_VERSIONS["clustermesh"]
    assert "clustermesh-apiserver" not in pins.ALL_BINARIES


def test_chart_dir_in_the_module_cache(tmp_path):
    env = {"GOMODCACHE": str(tmp_path)}
    assert pins.chart_dir("cilium", env) is None
    module, version, sub = pins.CHART_SOURCES["cilium"]
    chart = tmp_path / ("%s@%s" % (module, version)) / sub
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: cilium\n")
    assert pins.chart_dir("cilium", env) == str(chart)
    assert pins.module_tree("github.com/Azure/x", "v1", env).endswith("github.com/!azure/x@v1")
    assert version == pins.ADDON_VERSIONS["clustermesh"]
