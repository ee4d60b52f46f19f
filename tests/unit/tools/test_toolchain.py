# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/toolchain.py: staging-module derivation, checksums, lookup order (no build, no network)."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain as pins


@pytest.fixture
def tc(load_tool):
    return load_tool("toolchain")


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


def test_staging_replaces_of_the_real_release(load_tool):
    gomod = os.path.expanduser("~/go/pkg/mod/cache/download/k8s.io/kubernetes/@v/%s.mod" % pins.VERSIONS["kubernetes"])
    if not os.path.exists(gomod):
        pytest.skip("the release go.mod is not in the Go module cache")
    mod = load_tool("toolchain")
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


def test_addons_stay_outside_the_toolchain_id(tc):
    """CoreDNS (an add-on) has its own cache directory; the toolchain id, and so the Kubernetes build, ignores it."""
    assert "coredns" not in pins.VERSIONS and "coredns" in pins.ADDON_VERSIONS
    assert "coredns" not in pins.toolchain_id() and "coredns" not in pins.ALL_BINARIES
    env = {"ADHAR_CACHE_DIR": "/nonexistent/c"}
    assert pins.addon_bin_dir("coredns", env) == "/nonexistent/c/bin/coredns-%s" % pins.ADDON_VERSIONS["coredns"]
    assert pins.find_addon_binary("coredns", "coredns", env) == (None, pins.addon_bin_dir("coredns", env))
    assert tc.ORDER[4:6] == ("coredns", "clustermesh") and set(tc.PINS.COMPONENTS) <= set(tc.BUILDERS)


def test_metrics_server_is_an_addon_built_by_default(tc):
    """metrics-server is pinned as an add-on and in ORDER (``make toolchain`` builds it: the integration tests use it)."""
    assert pins.ADDON_VERSIONS["metrics-server"] == "v0.9.0" and "metrics-server" in tc.ORDER
    assert "metrics-server" not in pins.OPTIONAL_ADDONS and "metrics-server" not in pins.toolchain_id()
    assert pins.COMPONENTS["metrics-server"] == ("metrics-server",)


# --------------------------------------------------------------------------- charts

def test_chart_pins_are_exact():
    """Every chart is pinned to a tag or an exact pseudo-version (never latest), its dependencies pinned too."""
    for name, spec in pins.CHARTS.items():
        assert spec["version"].startswith("v") and spec["version"] != "latest", name
        assert not spec["path"].startswith("/") and ".." not in spec["path"].split("/"), name
        for dep in spec["dependencies"]:
            assert dep in pins.CHARTS, (name, dep)
            # a dependency comes from the same tree, so the pair is consistent
            assert (pins.CHARTS[dep]["module"], pins.CHARTS[dep]["version"]) == (spec["module"], spec["version"]), name
    assert pins.CHARTS["cilium"]["module"] == "github.com/cilium/cilium"
    assert "argo-cd" not in pins.installable_charts() and "common" not in pins.installable_charts()


def test_chart_dir_changes_with_the_pin_not_the_toolchain_id(tmp_path):
    env = {"ADHAR_CACHE_DIR": str(tmp_path)}
    before = pins.toolchain_id()
    d = pins.chart_dir("postgresql", env)
    assert d.startswith(str(tmp_path / "charts") + os.sep) and os.path.basename(d) == "postgresql"
    table = {k: dict(v) for k, v in pins.CHARTS.items()}
    table["common"]["version"] = "v9.9.9"  # a dependency's pin changes the dependant's directory too
    assert pins.chart_dir("postgresql", env, table) != d and pins.chart_dir("cilium", env, table) == pins.chart_dir("cilium", env)
    assert pins.toolchain_id() == before
    with pytest.raises(KeyError):
        pins.chart_dir("nope", env)


def test_copy_chart_resolves_dependencies_recursively(tc, tmp_path, monkeypatch):
    """A fake module tree (read-only, like Go's module cache): app -> lib -> base, copied into charts/ of each."""
    tree = tmp_path / "tree"
    for name in ("app", "lib", "base"):
        (tree / "charts" / name / "templates").mkdir(parents=True)
        (tree / "charts" / name / "Chart.yaml").write_text("name: %s\nversion: 1.0.0\n" % name)
    for root, dirs, files in os.walk(tree):
        for n in dirs + files:
            p = os.path.join(root, n)
            os.chmod(p, 0o555 if os.path.isdir(p) else 0o444)
    table = {n: {"module": "example.com/m", "version": "v1.0.0", "path": "charts/" + n, "dependencies": d}
             for n, d in (("app", ("lib",)), ("lib", ("base",)), ("base", ()))}
    monkeypatch.setattr(tc.PINS, "CHARTS", table)
    dest = tmp_path / "out" / "app"
    tc._copy_chart("app", {("example.com/m", "v1.0.0"): str(tree)}, str(dest))
    assert (dest / "charts" / "lib" / "charts" / "base" / "Chart.yaml").read_text().startswith("name: base")
    assert os.access(dest / "charts" / "lib", os.W_OK)
    with pytest.raises(tc.ToolchainError, match="no Chart.yaml"):
        table["app"]["path"] = "charts/missing"
        tc._copy_chart("app", {("example.com/m", "v1.0.0"): str(tree)}, str(tmp_path / "out2"))
    for root, dirs, files in os.walk(tree):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)


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
    # the Cilium chart comes from the same module tree as the ClusterMesh control plane, at the same version
    assert pins.CHARTS["cilium"]["version"] == pins.ADDON_VERSIONS["clustermesh"]


def test_velero_is_optional_and_never_built_by_default(tc, monkeypatch):
    assert "velero" in pins.ADDON_VERSIONS and "velero" in pins.OPTIONAL_ADDONS
    assert "velero" not in tc.ORDER and "velero" not in pins.VERSIONS and "velero" not in pins.ALL_BINARIES
    # the plugin's version is part of the add-on's cache directory; the toolchain id never moves for it
    want = "velero-%s_aws-%s" % (pins.ADDON_VERSIONS["velero"], pins.VELERO_BUILD["plugin_version"])
    assert pins.addon_id("velero") == want
    asked = []
    monkeypatch.setattr(tc, "ensure", lambda components, allow_download=True: asked.append(list(components)) or "/x")
    monkeypatch.setattr(tc, "ensure_charts", lambda names=None: {})
    assert tc.main(["ensure"]) == 0 and tc.main(["ensure", "--only", "velero"]) == 0
    assert asked == [list(tc.ORDER), ["velero"]]


def test_wrapper_repeats_the_modules_replaces(tc, tmp_path, monkeypatch):
    gomod = tmp_path / "velero.mod"
    gomod.write_text("module github.com/vmware-tanzu/velero\n\ngo 1.26.0\n\n"
                     "replace github.com/kopia/kopia => github.com/project-velero/kopia v0.0.0-20251230033609-d946b1e75197\n")
    ran = []
    monkeypatch.setattr(tc, "_wrapper", lambda src, env, module: None)
    monkeypatch.setattr(tc, "_mod_info", lambda src, env, pv: {"GoMod": str(gomod)})
    monkeypatch.setattr(tc, "_run", lambda cmd, cwd, env, what: ran.append(cmd) or "")
    info = tc._wrapper_like(str(tmp_path), {}, "adhar.invalid/velerobins", "github.com/vmware-tanzu/velero", "v1.18.3")
    assert info == {"GoMod": str(gomod)}
    assert ran == [["go", "mod", "edit", "-replace=github.com/kopia/kopia="
                    "github.com/project-velero/kopia@v0.0.0-20251230033609-d946b1e75197", "-go=1.26.0"]]


def test_prometheus_stack_builds_both_commands_lean(tc, tmp_path, monkeypatch):
    """Prometheus and Alertmanager are add-ons of ``make toolchain``; one ``go build`` per project makes both commands,
    Prometheus without its cloud service discoveries, Alertmanager from a copy of its tree with a placeholder UI."""
    assert tc.ORDER[tc.ORDER.index("prometheus") + 1] == "alertmanager"
    assert pins.COMPONENTS["prometheus"] == ("prometheus", "promtool")
    assert tc._prometheus_release("v0.316.0") == (3, 16, "0")
    ran = []
    module_dir = tmp_path / "modcache"
    (module_dir / "ui").mkdir(parents=True)
    (module_dir / "go.mod").write_text("module github.com/prometheus/alertmanager\n")
    os.chmod(module_dir / "ui", 0o555)
    monkeypatch.setattr(tc, "_run", lambda cmd, cwd, env, what: ran.append(cmd) or "")
    monkeypatch.setattr(tc, "_mod_info", lambda src, env, pv: {"Dir": str(module_dir), "GoMod": "x"})
    monkeypatch.setattr(tc, "_atomic_install", lambda src, dest, name: ran.append(["install", name]))
    tc.build_prometheus_stack("prometheus", "v0.316.0", str(tmp_path / "bin"), str(tmp_path / "src"), {})
    build = [c for c in ran if c[:2] == ["go", "build"]][0]
    assert "-tags=netgo,remove_all_sd" in build and "-X github.com/prometheus/common/version.Version=3.16.0" in build[4]
    assert build[-2:] == ["github.com/prometheus/prometheus/cmd/prometheus", "github.com/prometheus/prometheus/cmd/promtool"]
    assert ["install", "promtool"] in ran
    ran.clear()
    tc.build_prometheus_stack("alertmanager", "v0.35.0", str(tmp_path / "bin"), str(tmp_path / "src"), {})
    src = tmp_path / "src" / pins.addon_id("alertmanager")
    assert ["go", "mod", "edit", "-replace=github.com/prometheus/alertmanager=./module"] in ran
    for sub in ("elm", "mantine"):
        assert "built without its web UI" in (src / "module" / "ui" / "app" / "dist" / sub / "index.html").read_text()
    assert [c for c in ran if c[:2] == ["go", "build"]][0][-1] == "github.com/prometheus/alertmanager/cmd/amtool"


def test_kube_state_metrics_builds_only_its_main_package(tc, tmp_path, monkeypatch):
    """kube-state-metrics is an add-on of ``make toolchain`` (the monitoring of local clusters runs it): the wrapper
    only requires the module and one ``go build`` makes the module root's main package, version stamped like
    upstream's Makefile does."""
    assert "kube-state-metrics" in tc.ORDER and "kube-state-metrics" not in pins.OPTIONAL_ADDONS
    assert pins.ADDON_VERSIONS["kube-state-metrics"] == "v2.19.1" and "kube-state" not in pins.toolchain_id()
    assert pins.COMPONENTS["kube-state-metrics"] == ("kube-state-metrics",)
    ran = []
    monkeypatch.setattr(tc, "_run", lambda cmd, cwd, env, what: ran.append(cmd) or "")
    monkeypatch.setattr(tc, "_atomic_install", lambda src, dest, name: ran.append(["install", src, name]))
    tc.build_kube_state_metrics("v2.19.1", str(tmp_path / "bin"), str(tmp_path / "src"), {})
    out = tmp_path / "src" / pins.addon_id("kube-state-metrics") / "out"
    assert ran[1] == ["go", "mod", "edit", "-require=k8s.io/kube-state-metrics/v2@v2.19.1"]
    assert not [c for c in ran if c[:2] in (["go", "get"], ["go", "mod"]) and c[2:3] in (["tidy"], ["-tool"])]
    builds = [c for c in ran if c[:2] == ["go", "build"]]
    assert len(builds) == 1 and builds[0][-3:] == ["-o", str(out / "kube-state-metrics"), "k8s.io/kube-state-metrics/v2"]
    assert "-ldflags=-s -w -X github.com/prometheus/common/version.Version=v2.19.1" in builds[0]
    assert ran[-1] == ["install", str(out / "kube-state-metrics"), "kube-state-metrics"]


def test_previous_kubernetes_minor_builds_only_the_server_commands(tc, tmp_path, monkeypatch):
    """``kubernetes-previous`` (local clusters at the minor before the pin, and upgrades from it) is in ``make
    toolchain``; build_kubernetes makes only kube-apiserver, kube-controller-manager and kube-scheduler, in one
    ``go build`` with the release's version stamped, into the add-on's own directory."""
    assert tc.ORDER[-1] == "kubernetes-previous" and "kubernetes-previous" not in pins.OPTIONAL_ADDONS
    version = pins.ADDON_VERSIONS["kubernetes-previous"]
    assert version.startswith("v1.35.") and "kubernetes-previous" not in pins.toolchain_id()
    gomod = tmp_path / "go.mod"
    gomod.write_text(GOMOD)
    info = tmp_path / "info.json"
    info.write_text('{"Version": "%s", "Time": "2026-05-01T00:00:00Z", "Origin": {"Hash": "abc"}}' % version)
    ran = []
    monkeypatch.setattr(tc, "_run", lambda cmd, cwd, env, what: ran.append(cmd) or "")
    monkeypatch.setattr(tc, "_mod_info", lambda src, env, pv: {"GoMod": str(gomod), "Info": str(info)})
    monkeypatch.setattr(tc, "_atomic_install", lambda src, dest, name: ran.append(["install", dest, name]))
    bin_dir = pins.addon_bin_dir("kubernetes-previous", {"ADHAR_CACHE_DIR": str(tmp_path / "c")})
    tc.BUILDERS["kubernetes-previous"](version, bin_dir, str(tmp_path / "src"), {})
    cmds = ["k8s.io/kubernetes/cmd/%s" % n for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")]
    get = [c for c in ran if c[:3] == ["go", "get", "-tool"]][0]
    assert get[3:] == ["%s@%s" % (c, version) for c in cmds]
    builds = [c for c in ran if c[:2] == ["go", "build"]]
    assert len(builds) == 1 and builds[0][-3:] == cmds and "kubectl" not in " ".join(builds[0])
    assert "-X k8s.io/component-base/version.gitVersion=%s" % version in builds[0][4]
    assert [c[2] for c in ran if c[0] == "install"] == ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert {c[1] for c in ran if c[0] == "install"} == {bin_dir} and bin_dir.endswith("kubernetes-previous-" + version)
