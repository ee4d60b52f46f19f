# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provide the pinned control-plane binaries and upstream Helm charts.

    tools/toolchain ensure [--only COMPONENT ...] [--no-download]   # prints the bin dir last
    tools/toolchain charts [CHART ...]                               # fetch pinned charts; prints their dirs
    tools/toolchain status                                           # what is where, never builds
    tools/toolchain path                                             # the bin dir that would be used

Order: ADHAR_BIN_DIR (used as is) -> per-user cache keyed by versions ->
official release downloads with SHA-256 verification -> build from the Go
module proxy.  Nothing is ever written inside the repository: sources,
module caches and build caches live under the cache root
(${ADHAR_CACHE_DIR:-~/.cache/adhar}) and Go's own caches.

Charts (``CHARTS`` in plugins/module_utils/_common/toolchain.py) come from the Go
module proxy as source trees (``go mod download``, verified against the Go
checksum database); each chart directory is copied into
${cache}/charts/<chart id>/<name> with its dependencies in its charts/, so
``helm template`` and ``helm install`` work offline.  ``ensure`` fetches them
after the binaries (unless --only limits the components).

Progress goes to stderr; the resolved bin dir is the last line on stdout.
"""

import argparse
import datetime
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _load_common(name, as_name):
    """A stdlib-only module of the collection's ``_common`` package, loaded from its file (no collection path)."""
    path = os.path.join(REPO, "plugins", "module_utils", "_common", name + ".py")
    spec = importlib.util.spec_from_file_location(as_name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PINS = _load_common("toolchain", "adhar_toolchain_pins")
LOCKS = _load_common("locks", "adhar_locks")  # the collection's one flock helper
T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[toolchain %6.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


class ToolchainError(Exception):
    pass


# --------------------------------------------------------------------------- helpers

def _atomic_install(src, dest_dir, name):
    """Move ``src`` to ``dest_dir/name`` through a temp file + rename, mode 0755 (never half-written)."""
    os.makedirs(dest_dir, exist_ok=True)
    tmp = os.path.join(dest_dir, ".%s.tmp.%d" % (name, os.getpid()))
    shutil.move(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, os.path.join(dest_dir, name))


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd, cwd, env, what):
    log("  $ %s" % " ".join(cmd))
    t = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-40:])
        raise ToolchainError("%s failed (exit %d):\n%s" % (what, proc.returncode, tail))
    log("  done in %.1fs" % (time.monotonic() - t))
    return proc.stdout


def _go_env():
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = env.get("ADHAR_GOTOOLCHAIN", "local")
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    # a ",direct" fallback only hangs on machines without general internet
    proxy = env.get("GOPROXY", "https://proxy.golang.org")
    env["GOPROXY"] = ",".join(p for p in proxy.split(",") if p != "direct") or "https://proxy.golang.org"
    return env


def _go_json(args, cwd, env):
    out = _run(["go"] + args, cwd, env, "go " + " ".join(args[:2]))
    return json.loads(out) if out.strip().startswith("{") else {}


def _manifest_ok(bin_dir, names, ident=None):
    man = PINS.read_manifest(bin_dir)
    if not man or man.get("toolchain") != (ident or PINS.toolchain_id()):
        return False
    for name in names:
        entry = man.get("binaries", {}).get(name)
        path = os.path.join(bin_dir, name)
        if not entry or not os.path.isfile(path) or os.path.getsize(path) != entry.get("size"):
            return False
    return True


def _write_manifest(bin_dir, component, version, source, seconds, ident=None):
    man = PINS.read_manifest(bin_dir)
    if not man:
        man = {"toolchain": ident or PINS.toolchain_id(), "versions": {component: version} if ident else PINS.VERSIONS,
               "binaries": {}, "components": {}}
    for name in PINS.COMPONENTS[component]:
        p = os.path.join(bin_dir, name)
        man["binaries"][name] = {"component": component, "version": version, "size": os.path.getsize(p),
                                 "sha256": _sha256(p)}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    man["components"][component] = {"version": version, "source": source, "seconds": round(seconds, 1), "at": now}
    tmp = os.path.join(bin_dir, ".manifest.tmp")
    with open(tmp, "w") as f:
        json.dump(man, f, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(bin_dir, PINS.MANIFEST))


# --------------------------------------------------------------------------- downloads

def _fetch(url, dest, timeout=20):
    req = urllib.request.Request(url, headers={"User-Agent": "adhar-toolchain"})
    with urllib.request.urlopen(req, timeout=timeout) as r, open(dest, "wb") as f:
        shutil.copyfileobj(r, f, 1 << 20)


def _fetch_text(url, timeout=10):
    req = urllib.request.Request(url, headers={"User-Agent": "adhar-toolchain"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def _checksum_for(sums_text, filename):
    for line in sums_text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*").endswith(filename):
            return parts[0]
        if len(parts) == 1 and re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            return parts[0]
    raise ToolchainError("no checksum for %s" % filename)


def _verified(url, sums_url, filename, work):
    dest = os.path.join(work, filename)
    want = _checksum_for(_fetch_text(sums_url), filename)
    _fetch(url, dest)
    got = _sha256(dest)
    if got != want:
        raise ToolchainError("SHA-256 mismatch for %s: want %s got %s" % (url, want, got))
    return dest


def _extract(tarball, member_suffix, work):
    with tarfile.open(tarball) as tf:
        for m in tf.getmembers():
            if m.isfile() and m.name.endswith("/" + member_suffix):
                out = os.path.join(work, "x-" + member_suffix)
                with tf.extractfile(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                return out
    raise ToolchainError("%s not found in %s" % (member_suffix, tarball))


# components with an official release download (the others are always built)
DOWNLOADS = ("kubernetes", "etcd", "kwok", "helm")


def download(component, version, bin_dir):
    """Official release artefacts, each checked against the published SHA-256."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    with tempfile.TemporaryDirectory(prefix="adhar-dl-") as work:
        if component == "kubernetes":
            for name in PINS.COMPONENTS[component]:
                url = "https://dl.k8s.io/release/%s/bin/linux/%s/%s" % (version, arch, name)
                _atomic_install(_verified(url, url + ".sha256", name, work), bin_dir, name)
        elif component == "etcd":
            fn = "etcd-%s-linux-%s.tar.gz" % (version, arch)
            base = "https://github.com/etcd-io/etcd/releases/download/%s/" % version
            tb = _verified(base + fn, base + "SHA256SUMS", fn, work)
            for name in PINS.COMPONENTS[component]:
                _atomic_install(_extract(tb, name, work), bin_dir, name)
        elif component == "helm":
            fn = "helm-%s-linux-%s.tar.gz" % (version, arch)
            tb = _verified("https://get.helm.sh/" + fn, "https://get.helm.sh/%s.sha256sum" % fn, fn, work)
            _atomic_install(_extract(tb, "helm", work), bin_dir, "helm")
        elif component == "kwok":
            fn = "kwok-linux-%s" % arch
            base = "https://github.com/kubernetes-sigs/kwok/releases/download/%s/" % version
            _atomic_install(_verified(base + fn, base + "checksums.txt", fn, work), bin_dir, "kwok")
        else:
            raise ToolchainError("unknown component %s" % component)


# --------------------------------------------------------------------------- builds

def _wrapper(src_dir, env, module):
    os.makedirs(src_dir, exist_ok=True)
    if not os.path.exists(os.path.join(src_dir, "go.mod")):
        _run(["go", "mod", "init", module], src_dir, env, "go mod init")


def _mod_info(src_dir, env, path_at_version):
    info = _go_json(["mod", "download", "-json", path_at_version], src_dir, env)
    if not info.get("GoMod"):
        raise ToolchainError("the Go module proxy did not serve %s: %s" % (path_at_version, info.get("Error")))
    return info


def staging_replaces(gomod_text, staging_version):
    """Every staging module of a k8s.io/kubernetes go.mod, mapped to its published v0.Y.Z.

    Derived from the release's own go.mod: requirements pinned at v0.0.0 and
    replace directives that point into ./staging.
    """
    names = set()
    for m in re.finditer(r"^\s*(k8s\.io/[\w.\-/]+)\s+v0\.0\.0\s*(//.*)?$", gomod_text, re.M):
        names.add(m.group(1))
    for m in re.finditer(r"^\s*(k8s\.io/[\w.\-/]+)\s+=>\s+\./staging/", gomod_text, re.M):
        names.add(m.group(1))
    return {n: staging_version for n in sorted(names)}


def build_kubernetes(version, bin_dir, src_root, env, component="kubernetes"):
    """The commands of ``PINS.COMPONENTS[component]`` from ``k8s.io/kubernetes@version`` in one ``go build``
    (``kubernetes-previous``: the three server commands only, no kubectl)."""
    names = PINS.COMPONENTS[component]
    minor = version.lstrip("v").split(".")[1]
    major = version.lstrip("v").split(".")[0]
    staging = "v0.%s" % ".".join(version.lstrip("v").split(".")[1:])
    src = os.path.join(src_root, "kubernetes-%s" % version)
    _wrapper(src, env, "adhar.invalid/k8sbins")
    info = _mod_info(src, env, "k8s.io/kubernetes@%s" % version)
    with open(info["GoMod"]) as f:
        gomod = f.read()
    reps = staging_replaces(gomod, staging)
    log("  %d staging modules from k8s.io/kubernetes@%s go.mod -> %s" % (len(reps), version, staging))
    edit = ["go", "mod", "edit"] + ["-replace=%s=%s@%s" % (n, n, v) for n, v in reps.items()]
    gd = re.search(r"^godebug\s+(.+)$", gomod, re.M)
    if gd:
        edit.append("-godebug=%s" % gd.group(1).strip())
    gl = re.search(r"^go\s+(\S+)$", gomod, re.M)
    if gl:
        edit.append("-go=%s" % gl.group(1))
    _run(edit, src, env, "go mod edit")
    cmds = ["k8s.io/kubernetes/cmd/%s" % n for n in names]
    _run(["go", "get", "-tool"] + ["%s@%s" % (c, version) for c in cmds], src, env, "go get kubernetes")
    _run(["go", "mod", "tidy"], src, env, "go mod tidy")
    with open(info["Info"]) as f:
        meta = json.load(f)
    commit = (meta.get("Origin") or {}).get("Hash", "")
    build_date = meta.get("Time", "1970-01-01T00:00:00Z")
    vals = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean",
            "gitCommit": commit, "buildDate": build_date}
    ldf = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for k, v in vals.items():
            if v:
                ldf += ["-X", "%s.%s=%s" % (pkg, k, v)]
    out = os.path.join(src, "out")
    os.makedirs(out, exist_ok=True)
    log("  compiling %s (the long step: ~20-30 min cold on 2 cores)" % ", ".join(names))
    _run(["go", "build", "-trimpath", "-tags=selinux,notest,grpcnotrace", "-ldflags=" + " ".join(ldf), "-o", out + "/"]
         + cmds, src, env, "go build kubernetes")
    for name in names:
        _atomic_install(os.path.join(out, name), bin_dir, name)


def _build_tools(component, version, bin_dir, src_root, env, pkgs, ldflags="-s -w"):
    """A wrapper module requiring ``pkgs`` ({binary: package}) at ``version``; one ``go build`` per binary."""
    src = os.path.join(src_root, "%s-%s" % (component, version))
    _wrapper(src, env, "adhar.invalid/%sbins" % component)
    _run(["go", "get", "-tool"] + ["%s@%s" % (p, version) for p in pkgs.values()], src, env, "go get " + component)
    _run(["go", "mod", "tidy"], src, env, "go mod tidy")
    out = os.path.join(src, "out")
    for name, pkg in pkgs.items():
        # -o names the file: go would call etcd's server binary "server"
        _run(["go", "build", "-trimpath", "-ldflags=" + ldflags, "-o", os.path.join(out, name), pkg], src, env,
             "go build " + name)
        _atomic_install(os.path.join(out, name), bin_dir, name)


def build_etcd(version, bin_dir, src_root, env):
    # the version is a constant in go.etcd.io/etcd/api/v3/version: no ldflags needed
    _build_tools("etcd", version, bin_dir, src_root, env, {
        "etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3", "etcdutl": "go.etcd.io/etcd/etcdutl/v3"})


def build_kwok(version, bin_dir, src_root, env):
    _build_tools("kwok", version, bin_dir, src_root, env, {"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
                 "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=%s" % version.lstrip("v"))


def build_helm(version, bin_dir, src_root, env):
    _build_tools("helm", version, bin_dir, src_root, env, {"helm": "helm.sh/helm/v3/cmd/helm"},
                 "-s -w -X helm.sh/helm/v3/internal/version.version=%s"
                 " -X helm.sh/helm/v3/internal/version.gitTreeState=clean" % version)


# CoreDNS, lean: only the plugins the local global load balancer uses are compiled in.  CoreDNS's own main
# imports every plugin of plugin.cfg (core/plugin/zplugin.go); this main imports coremain and the few plugins it
# needs and sets the directive order itself (the order of plugin.cfg, restricted to them).
COREDNS_PLUGINS = ("reload", "bind", "errors", "log", "loadbalance", "file")
COREDNS_MAIN = (
    "package main\n\n"
    "import (\n"
    "\t\"github.com/coredns/coredns/core/dnsserver\"\n"
    "\t\"github.com/coredns/coredns/coremain\"\n"
    "%(imports)s\n"
    ")\n\n"
    "func main() {\n"
    "\tdnsserver.Directives = []string{%(directives)s}\n"
    "\tcoremain.Run()\n"
    "}\n"
)


def build_coredns(version, bin_dir, src_root, env):
    src = os.path.join(src_root, "coredns-%s" % version)
    _wrapper(src, env, "adhar.invalid/corednsbins")
    with open(os.path.join(src, "main.go"), "w") as f:
        f.write(COREDNS_MAIN % {
            "imports": "\n".join('\t_ "github.com/coredns/coredns/plugin/%s"' % p for p in COREDNS_PLUGINS),
            "directives": ", ".join('"%s"' % p for p in COREDNS_PLUGINS)})
    # require the module without `go get`: that would load the module's root package, CoreDNS's own main with every
    # plugin, and download all their dependencies; `go build` (with -mod=mod) fetches only what this main imports
    _run(["go", "mod", "edit", "-require=github.com/coredns/coredns@%s" % version], src, env, "go mod edit coredns")
    out = os.path.join(src, "out")
    _run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", os.path.join(out, "coredns"), "."], src, env,
         "go build coredns")
    _atomic_install(os.path.join(out, "coredns"), bin_dir, "coredns")


def module_replaces(gomod_text):
    """``[(old, new)]`` of every ``replace`` directive of a go.mod (single-line and block form), each side with its
    version when it has one; local-path replacements (``./x``) are skipped (a wrapper module cannot use them)."""
    out = []
    in_block = False
    for raw in gomod_text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block:
            if line == ")":
                in_block = False
                continue
            body = line
        elif line.startswith("replace ("):
            in_block = True
            continue
        elif line.startswith("replace "):
            body = line[len("replace "):]
        else:
            continue
        if "=>" not in body:
            continue
        old, new = (" ".join(part.split()) for part in body.split("=>", 1))
        if new.startswith((".", "/")):
            continue
        out.append((old.replace(" ", "@"), new.replace(" ", "@")))
    return out


def _wrapper_like(src, env, wrapper, module, version):
    """A wrapper module in ``src`` that repeats the ``replace`` directives and the go line of ``module@version``'s own
    go.mod (a wrapper does not inherit them); returns the ``go mod download -json`` record of that module."""
    _wrapper(src, env, wrapper)
    info = _mod_info(src, env, "%s@%s" % (module, version))
    with open(info["GoMod"]) as f:
        gomod = f.read()
    reps = module_replaces(gomod)
    log("  %d replace directives from %s@%s go.mod" % (len(reps), module, version))
    edit = ["go", "mod", "edit"] + ["-replace=%s=%s" % r for r in reps]
    gl = re.search(r"^go\s+(\S+)$", gomod, re.M)
    if gl:
        edit.append("-go=%s" % gl.group(1))
    _run(edit, src, env, "go mod edit")
    return info


def build_clustermesh(version, bin_dir, src_root, env):
    """clustermesh-apiserver (subcommands clustermesh, kvstoremesh, etcdinit) from github.com/cilium/cilium.

    Cilium's go.mod replaces a few modules with Cilium's forks; a wrapper module must repeat them, so they are read
    from the release's own go.mod.  The same module tree carries the Cilium Helm chart (toolchain.chart_dir).
    """
    module = "github.com/cilium/cilium"
    src = os.path.join(src_root, "clustermesh-%s" % version)
    info = _wrapper_like(src, env, "adhar.invalid/clustermeshbins", module, version)
    pkg = module + "/clustermesh-apiserver"
    _run(["go", "get", "-tool", "%s@%s" % (pkg, version)], src, env, "go get clustermesh-apiserver")
    _run(["go", "mod", "tidy"], src, env, "go mod tidy")
    with open(info["Info"]) as f:
        meta = json.load(f)
    commit = ((meta.get("Origin") or {}).get("Hash") or "unknown")[:10]
    stamp = "%s %s %s" % (version.lstrip("v"), commit, meta.get("Time", "1970-01-01T00:00:00Z"))
    out = os.path.join(src, "out")
    os.makedirs(out, exist_ok=True)
    ldflags = "-s -w -X '%s/pkg/version.ciliumVersion=%s'" % (module, stamp)
    _run(["go", "build", "-trimpath", "-ldflags=" + ldflags, "-o", os.path.join(out, "clustermesh-apiserver"), pkg],
         src, env, "go build clustermesh-apiserver")
    # the CRDs the ClusterMesh API server waits for (Cilium's operator installs them on a real Cilium cluster; local
    # clusters get them from here), kept next to the wrapper module so a cleaned Go module cache does not lose them
    crds = PINS.clustermesh_crds_dir()
    os.makedirs(crds, exist_ok=True)
    for name in PINS.CLUSTERMESH_CRDS:
        shutil.copyfile(os.path.join(info["Dir"], PINS.CLUSTERMESH_CRDS_SUBDIR, name), os.path.join(crds, name))
    _atomic_install(os.path.join(out, "clustermesh-apiserver"), bin_dir, "clustermesh-apiserver")


def build_velero(version, bin_dir, src_root, env):
    """Velero's CLI and server (one binary) and its AWS object-store plugin, for the side-by-side benchmarks only.

    One wrapper module requires both; it repeats the ``replace`` directives of Velero's go.mod (its kopia fork) and
    raises k8s.io/cli-runtime to the pinned patch release.
    """
    module = "github.com/vmware-tanzu/velero"
    spec = PINS.VELERO_BUILD
    src = os.path.join(src_root, PINS.addon_id("velero"))
    _wrapper_like(src, env, "adhar.invalid/velerobins", module, version)
    pkgs = {"velero": "%s/cmd/velero" % module,
            "velero-plugin-for-aws": "%s/velero-plugin-for-aws" % spec["plugin_module"]}
    _run(["go", "get", "-tool", "%s@%s" % (pkgs["velero"], version),
          "%s@%s" % (pkgs["velero-plugin-for-aws"], spec["plugin_version"]),
          "k8s.io/cli-runtime@%s" % spec["cli_runtime"]], src, env, "go get velero")
    _run(["go", "mod", "tidy"], src, env, "go mod tidy")
    out = os.path.join(src, "out")
    os.makedirs(out, exist_ok=True)
    ldflags = {"velero": "-s -w -X %s/pkg/buildinfo.Version=%s" % (module, version), "velero-plugin-for-aws": "-s -w"}
    for name, pkg in pkgs.items():
        _run(["go", "build", "-trimpath", "-ldflags=" + ldflags[name], "-o", os.path.join(out, name), pkg], src, env,
             "go build " + name)
        _atomic_install(os.path.join(out, name), bin_dir, name)


# Prometheus's own release builds (.promu.yml) stamp the version through ldflags; the Go module of Prometheus 3.16 is
# github.com/prometheus/prometheus v0.316.0.  remove_all_sd leaves only the static, file and HTTP service discovery
# (plugins/minimum.go) out of some 25 cloud SDK plugins; without builtinassets the web UI's assets are not embedded
# (the HTTP API, which the collection uses, works the same).
def _prometheus_release(module_version):
    """v0.316.0 -> (3, 16, "0"): Prometheus 3.x modules are tagged v0.3XX.Y."""
    minor, patch = module_version.lstrip("v").split(".", 2)[1:]
    return int(minor) // 100, int(minor) % 100, patch


PROMETHEUS_STACK = {
    "prometheus": {"module": "github.com/prometheus/prometheus", "cmds": ("prometheus", "promtool"),
                   "tags": "netgo,remove_all_sd", "release": lambda v: "%d.%d.%s" % _prometheus_release(v)},
    "alertmanager": {"module": "github.com/prometheus/alertmanager", "cmds": ("alertmanager", "amtool"),
                     "tags": "netgo", "release": lambda v: v.lstrip("v"), "ui_dist": "ui/app/dist"},
}
# Alertmanager embeds its web UI (ui/web.go: //go:embed app/dist), built by npm and absent from the module's source
# tree: the build uses a copy of the tree with this page in its place (the HTTP API, /api/v2, is unaffected).
ALERTMANAGER_UI_PLACEHOLDER = ("<!doctype html><title>Alertmanager</title><p>This Alertmanager was built without its web "
                               "UI; its HTTP API is served under <a href=\"api/v2/alerts\">/api/v2</a>.\n")


def _module_copy_without_ui(src, env, module, version, ui_dist):
    """A writable copy of ``module@version`` in ``src/module`` with a placeholder for its absent embedded UI; the
    wrapper module replaces the module with it."""
    tree = os.path.join(src, "module")
    if not os.path.isdir(tree):
        info = _mod_info(src, env, "%s@%s" % (module, version))
        shutil.copytree(info["Dir"], tree + ".tmp", copy_function=shutil.copyfile)
        for entry in os.walk(tree + ".tmp"):
            os.chmod(entry[0], 0o755)
        for sub in ("elm", "mantine"):
            os.makedirs(os.path.join(tree + ".tmp", ui_dist, sub), exist_ok=True)
            with open(os.path.join(tree + ".tmp", ui_dist, sub, "index.html"), "w") as f:
                f.write(ALERTMANAGER_UI_PLACEHOLDER)
        os.replace(tree + ".tmp", tree)
    _run(["go", "mod", "edit", "-replace=%s=./module" % module], src, env, "go mod edit -replace " + module)


def _build_required(component, version, bin_dir, src_root, env, module, pkgs, tags="", ldflags="-s -w", prepare=None):
    """The main packages ``pkgs`` ({binary: package}) of ``module@version`` in one ``go build``.  Like CoreDNS, the
    wrapper module only requires the module (its go.mod's requirements choose every dependency): ``go build``
    (-mod=mod) fetches the packages these commands import with the build tags in use, not those of every package of
    the module.  ``prepare(src)`` may edit the wrapper module before the build."""
    src = os.path.join(src_root, PINS.addon_id(component))
    _wrapper(src, env, "adhar.invalid/%sbins" % component)
    _run(["go", "mod", "edit", "-require=%s@%s" % (module, version)], src, env, "go mod edit " + component)
    if prepare:
        prepare(src)
    out = os.path.join(src, "out")
    os.makedirs(out, exist_ok=True)
    # one package: -o names the file (go would name a module root ``.../v2`` after its major version)
    target = os.path.join(out, next(iter(pkgs))) if len(pkgs) == 1 else out + "/"
    _run(["go", "build", "-trimpath"] + (["-tags=" + tags] if tags else []) + ["-ldflags=" + ldflags, "-o", target]
         + list(pkgs.values()), src, env, "go build " + component)
    for name in pkgs:
        _atomic_install(os.path.join(out, name), bin_dir, name)


def build_prometheus_stack(component, version, bin_dir, src_root, env):
    """Both commands of a Prometheus project in one ``go build`` (they share most packages)."""
    spec = PROMETHEUS_STACK[component]
    prepare = None
    if spec.get("ui_dist"):
        prepare = functools.partial(_module_copy_without_ui, env=env, module=spec["module"], version=version,
                                    ui_dist=spec["ui_dist"])
    _build_required(component, version, bin_dir, src_root, env, spec["module"],
                    {c: "%s/cmd/%s" % (spec["module"], c) for c in spec["cmds"]}, spec["tags"],
                    "-s -w -X github.com/prometheus/common/version.Version=%s" % spec["release"](version), prepare)


def build_metrics_server(version, bin_dir, src_root, env):
    """metrics-server, the resource metrics API of local clusters (kwok's simulated usage feeds it).  Its go.mod has
    no ``replace``; the version goes where upstream's Makefile puts it (client-go's version package)."""
    _build_tools("metrics-server", version, bin_dir, src_root, env,
                 {"metrics-server": "sigs.k8s.io/metrics-server/cmd/metrics-server"},
                 "-s -w -X k8s.io/client-go/pkg/version.gitVersion=%s" % version)


def build_kube_state_metrics(version, bin_dir, src_root, env):
    """kube-state-metrics, the metrics of Kubernetes objects the local Prometheus scrapes.  Its main package is the
    module root and its go.mod has no ``replace``; only that package is built, with the version where upstream's
    Makefile stamps it (prometheus/common's version package)."""
    module = "k8s.io/kube-state-metrics/v2"
    _build_required("kube-state-metrics", version, bin_dir, src_root, env, module, {"kube-state-metrics": module},
                    ldflags="-s -w -X github.com/prometheus/common/version.Version=%s" % version)


BUILDERS = {"kubernetes": build_kubernetes, "etcd": build_etcd, "kwok": build_kwok, "helm": build_helm,
            "coredns": build_coredns, "clustermesh": build_clustermesh, "velero": build_velero,
            "prometheus": functools.partial(build_prometheus_stack, "prometheus"),
            "alertmanager": functools.partial(build_prometheus_stack, "alertmanager"),
            "metrics-server": build_metrics_server, "kube-state-metrics": build_kube_state_metrics,
            "kubernetes-previous": functools.partial(build_kubernetes, component="kubernetes-previous")}
# small ones first so a partial cache is useful early; helm last of the core (only the platform rollout needs it),
# then the add-ons (the local global load balancer, the ClusterMesh control plane, the resource metrics API, the
# monitoring of local clusters), the previous Kubernetes minor last (local clusters created at it or upgraded from it).
# Optional add-ons (PINS.OPTIONAL_ADDONS: Velero, for the benchmarks) are not in ORDER: only ``ensure --only NAME``
# builds them.
ORDER = ("etcd", "kwok", "kubernetes", "helm", "coredns", "clustermesh", "metrics-server", "prometheus", "alertmanager",
         "kube-state-metrics", "kubernetes-previous")


# --------------------------------------------------------------------------- charts

def _module_dirs(names, env, work):
    """``{(module, version): source dir}`` for the charts ``names`` and their dependencies (one download each)."""
    wanted = set()
    todo = list(names)
    while todo:
        spec = PINS.CHARTS[todo.pop()]
        wanted.add((spec["module"], spec["version"]))
        todo.extend(spec["dependencies"])
    dirs = {}
    for module, version in sorted(wanted):
        t = time.monotonic()
        info = _go_json(["mod", "download", "-json", "%s@%s" % (module, version)], work, env)
        if not info.get("Dir") or info.get("Error"):
            raise ToolchainError("the Go module proxy did not serve %s@%s: %s" % (module, version, info.get("Error")))
        log("  %s@%s: %s (%.1fs)" % (module, version, info["Dir"], time.monotonic() - t))
        dirs[(module, version)] = info["Dir"]
    return dirs


def _copy_chart(name, dirs, dest):
    """Copy chart ``name`` to ``dest`` (writable), then each dependency into ``dest/charts/<dep>``, recursively."""
    spec = PINS.CHARTS[name]
    src = os.path.join(dirs[(spec["module"], spec["version"])], spec["path"])
    if not os.path.isfile(os.path.join(src, "Chart.yaml")):
        raise ToolchainError("chart %s: no Chart.yaml at %s in %s@%s" % (name, spec["path"], spec["module"], spec["version"]))
    # the module cache is read-only: copy contents, not modes
    shutil.copytree(src, dest, copy_function=shutil.copyfile)
    for root, subdirs, _files in os.walk(dest):
        for d in subdirs:
            os.chmod(os.path.join(root, d), 0o755)
    for dep in spec["dependencies"]:
        target = os.path.join(dest, "charts", dep)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _copy_chart(dep, dirs, target)


def _lock(name, quiet=False):
    """The exclusive lock ``name`` in the cache root (held until the ``with`` block ends); says when it waits."""
    path = os.path.join(PINS.cache_root(), name)
    return LOCKS.FileLock(path, on_wait=None if quiet else lambda: log("another toolchain run holds %s; waiting for it" % path))


def ensure_charts(names=None):
    """Fetch the pinned charts ``names`` (default: all) into the cache; return ``{name: chart dir}``."""
    names = sorted(names or PINS.CHARTS)
    unknown = [n for n in names if n not in PINS.CHARTS]
    if unknown:
        raise ToolchainError("unknown chart(s): %s (pinned: %s)" % (", ".join(unknown), ", ".join(sorted(PINS.CHARTS))))
    missing = [n for n in names if not PINS.chart_ready(n)]
    if missing:
        os.makedirs(PINS.cache_root(), exist_ok=True)
        with _lock(".charts.lock"):
            _fetch_charts_locked([n for n in missing if not PINS.chart_ready(n)])
    for n in names:
        log("chart %s: %s" % (n, PINS.chart_dir(n)))
    return {n: PINS.chart_dir(n) for n in names}


def _fetch_charts_locked(names):
    if not names:
        return
    if not shutil.which("go"):
        raise ToolchainError("charts %s: `go` is needed on PATH to fetch them from the Go module proxy" % ", ".join(names))
    t = time.monotonic()
    env = _go_env()
    work = os.path.join(PINS.cache_root(), "src", "charts")
    _wrapper(work, env, "adhar.invalid/charts")
    dirs = _module_dirs(names, env, work)
    for name in names:
        final = PINS.chart_dir(name)
        parent = os.path.dirname(final)
        os.makedirs(os.path.dirname(parent), exist_ok=True)
        # build beside the final place, then one rename: a reader sees no chart or the whole chart
        tmp = tempfile.mkdtemp(prefix=".%s.tmp." % os.path.basename(parent), dir=os.path.dirname(parent))
        try:
            _copy_chart(name, dirs, os.path.join(tmp, name))
            if os.path.exists(parent):
                shutil.rmtree(parent)
            os.rename(tmp, parent)
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
        log("chart %s: fetched into %s" % (name, final))
    log("charts fetched in %.1fs" % (time.monotonic() - t))


# --------------------------------------------------------------------------- commands

def ensure(components, allow_download=True):
    addons = [c for c in components if c in PINS.ADDON_VERSIONS]
    components = [c for c in components if c not in PINS.ADDON_VERSIONS]
    bin_dir = _ensure_core(components, allow_download) if components else None
    for comp in addons:
        _ensure_addon(comp)
    return bin_dir or PINS.addon_bin_dir(addons[0])


def _ensure_addon(comp):
    """An add-on in its own cache directory (``ADHAR_BIN_DIR`` is used instead when it has the binaries)."""
    names = PINS.COMPONENTS[comp]
    explicit = os.environ.get("ADHAR_BIN_DIR")
    if explicit and comp not in PINS.SHADOWING_ADDONS and \
            not PINS.missing_binaries(os.path.abspath(os.path.expanduser(explicit)), names):
        log("%s: using ADHAR_BIN_DIR=%s as is" % (comp, explicit))
        return
    bin_dir = PINS.addon_bin_dir(comp)
    ident = PINS.addon_id(comp)
    if _manifest_ok(bin_dir, names, ident):
        log("%s %s: cached" % (comp, PINS.ADDON_VERSIONS[comp]))
        return
    os.makedirs(bin_dir, exist_ok=True)
    with _lock(".toolchain-%s.lock" % comp, quiet=True):
        if _manifest_ok(bin_dir, names, ident):
            return
        if not shutil.which("go"):
            raise ToolchainError("%s: no `go` on PATH to build it" % comp)
        version = PINS.ADDON_VERSIONS[comp]
        t = time.monotonic()
        log("%s %s: building from the Go module proxy" % (comp, version))
        BUILDERS[comp](version, bin_dir, os.path.join(PINS.cache_root(), "src"), _go_env())
        secs = time.monotonic() - t
        _write_manifest(bin_dir, comp, version, "go-build", secs, ident)
        log("%s %s: ready (go-build, %.1fs)" % (comp, version, secs))


def _ensure_core(components, allow_download):
    explicit = os.environ.get("ADHAR_BIN_DIR")
    names = [b for c in components for b in PINS.COMPONENTS[c]]
    if explicit:
        d = os.path.abspath(os.path.expanduser(explicit))
        missing = PINS.missing_binaries(d, names)
        if missing:
            raise ToolchainError("ADHAR_BIN_DIR=%s is used as is, but lacks: %s" % (d, ", ".join(missing)))
        log("using ADHAR_BIN_DIR=%s as is" % d)
        return d
    bin_dir = PINS.cache_bin_dir()
    if _manifest_ok(bin_dir, names):
        log("cache hit: %s" % bin_dir)
        return bin_dir
    os.makedirs(bin_dir, exist_ok=True)
    # one ensure at a time per cache: a second caller waits, then finds the work done
    with _lock(".toolchain.lock"):
        return _ensure_locked(components, allow_download, bin_dir)


def _ensure_locked(components, allow_download, bin_dir):
    src_root = os.path.join(PINS.cache_root(), "src")
    env = _go_env()
    for comp in ORDER:
        if comp not in components:
            continue
        version = PINS.component_version(comp)
        if _manifest_ok(bin_dir, PINS.COMPONENTS[comp]):
            log("%s %s: cached" % (comp, version))
            continue
        t = time.monotonic()
        source = None
        if allow_download and comp in DOWNLOADS and os.environ.get("ADHAR_TOOLCHAIN_NO_DOWNLOAD") != "1":
            log("%s %s: trying the official release download (SHA-256 verified)" % (comp, version))
            try:
                download(comp, version, bin_dir)
                source = "download"
            except (OSError, urllib.error.URLError, ToolchainError, tarfile.TarError) as e:
                log("%s %s: download unavailable (%s); building from the Go module proxy" % (comp, version, e))
        if source is None:
            if not shutil.which("go"):
                raise ToolchainError("%s %s: no download and no `go` on PATH to build it" % (comp, version))
            log("%s %s: building from the Go module proxy" % (comp, version))
            BUILDERS[comp](version, bin_dir, src_root, env)
            source = "go-build"
        secs = time.monotonic() - t
        _write_manifest(bin_dir, comp, version, source, secs)
        log("%s %s: ready (%s, %.1fs)" % (comp, version, source, secs))
    return bin_dir


def status():
    d, source, missing = PINS.resolve_bin_dir()
    charts = {n: {"dir": PINS.chart_dir(n), "ready": PINS.chart_ready(n), "module": s["module"], "version": s["version"]}
              for n, s in sorted(PINS.CHARTS.items())}
    print(json.dumps({"bin_dir": d, "source": source, "missing": missing, "versions": dict(PINS.VERSIONS, **PINS.ADDON_VERSIONS),
                      "manifest": PINS.read_manifest(d), "charts": charts}, indent=2))
    return 0 if not missing and all(c["ready"] for c in charts.values()) else 1


def main(argv=None):
    p = argparse.ArgumentParser(prog="toolchain", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("ensure", help="make every pinned binary available; print the bin dir")
    e.add_argument("--only", action="append", choices=sorted(PINS.COMPONENTS), help="limit to these components")
    e.add_argument("--no-download", action="store_true", help="skip the official download step")
    c = sub.add_parser("charts", help="fetch the pinned upstream Helm charts (default: all); print their dirs")
    c.add_argument("names", nargs="*", metavar="CHART", help="charts of CHARTS (plugins/module_utils/_common/toolchain.py)")
    sub.add_parser("status", help="print what is resolved where (never builds)")
    sub.add_parser("path", help="print the bin dir that would be used")
    a = p.parse_args(argv)
    if a.cmd == "path":
        print(PINS.resolve_bin_dir()[0])
        return 0
    if a.cmd == "status":
        return status()
    try:
        if a.cmd == "charts":
            for name, path in sorted(ensure_charts(a.names).items()):
                print("%s %s" % (name, path))
            return 0
        d = ensure(a.only or list(ORDER), allow_download=not a.no_download)
        if not a.only:
            ensure_charts()
    except ToolchainError as e:
        log("FAILED: %s" % e)
        return 1
    log("all ready in %.1fs" % (time.monotonic() - T0))
    print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
