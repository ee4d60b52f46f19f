# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""helm.py: values (dotted keys, --set typing, merging), charts, change detection, connection settings, and the
release task driven by a scripted fake helm."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import tarfile

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.module_utils._helm import release as H
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FIXTURE = os.path.join(REPO, "tests", "fixtures", "charts", "postgresql")


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("key, parts", [
    ("replicaCount", ["replicaCount"]),
    ("server.replicas", ["server", "replicas"]),
    ("redis-ha.enabled", ["redis-ha", "enabled"]),
    (r"podAnnotations.prometheus\.io/scrape", ["podAnnotations", "prometheus.io/scrape"]),
    ("extraEnv[1].name", ["extraEnv", 1, "name"]),
    ("a[0][2]", ["a", 0, 2]),
    ("a[0].b[1].c", ["a", 0, "b", 1, "c"]),
])
def test_split_key(key, parts):
    assert H.split_key(key) == parts


@pytest.mark.parametrize("key, why", [
    ("", "non-empty"),
    ("a..b", "empty name between dots"),
    (".a", "empty name between dots"),
    ("a.", "ends with a dot"),
    ("[0]", "needs a name before it"),
    ("a[x]", "list index must be"),
    ("a[0", "list index must be"),
    ("a[0]b", "expected '.' or '['"),
    ("a[99999999]", "larger than"),
])
def test_split_key_errors_name_the_key(key, why):
    with pytest.raises(AdharError) as exc:
        H.split_key(key)
    assert why in exc.value.msg


@pytest.mark.parametrize("text, value", [
    ("true", True), ("TRUE", True), ("False", False), ("null", None), ("0", 0), ("3", 3), ("-5", -5), ("+7", 7),
    ("007", "007"), ("1.5", "1.5"), ("1e3", "1e3"), ("", ""), ("replication", "replication"),
    ("99999999999999999999", "99999999999999999999"), ("yes", "yes"),
])
def test_helm_typed_strings_like_helm_set(text, value):
    assert H.helm_typed(text) == value and type(H.helm_typed(text)) is type(value)


def test_helm_typed_keeps_other_types():
    assert H.helm_typed(3) == 3 and H.helm_typed(["a"]) == ["a"] and H.helm_typed({"a": "1"}) == {"a": "1"}


def test_set_dotted_creates_maps_and_lists():
    tree = H.set_dotted({}, "a.b.c", 1)
    H.set_dotted(tree, "a.b.d", 2)
    H.set_dotted(tree, "list[2].name", "x")
    assert tree == {"a": {"b": {"c": 1, "d": 2}}, "list": [None, None, {"name": "x"}]}
    # a scalar in the way is replaced, as helm --set does
    H.set_dotted(tree, "a.b.c.deep", True)
    assert tree["a"]["b"]["c"] == {"deep": True}
    H.set_dotted(tree, "a", "flat")
    assert tree["a"] == "flat"


def test_deep_merge_is_values_file_semantics():
    base = {"a": {"b": 1, "c": [1, 2]}, "keep": "x"}
    out = H.deep_merge(base, {"a": {"c": [3], "d": None}, "new": {"k": 1}})
    assert out == {"a": {"b": 1, "c": [3], "d": None}, "keep": "x", "new": {"k": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "keep": "x"}  # not modified


def test_desired_values_layers_in_order():
    files = [{"server": {"replicas": 1, "image": "a"}}, {"server": {"image": "b"}}]
    values = {"server": {"replicas": 2}, "extra": {"x": 1}}
    out = H.desired_values(files, values, {"server.replicas": "3", "redis-ha.enabled": "true"}, {"auth.password": "0123"})
    assert out == {"server": {"replicas": 3, "image": "b"}, "extra": {"x": 1}, "redis-ha": {"enabled": True},
                   "auth": {"password": "0123"}}


def test_load_values_file(tmp_path):
    good, empty, bad, scalar = (tmp_path / n for n in ("good.yaml", "empty.yaml", "bad.yaml", "scalar.yaml"))
    good.write_text("a:\n  b: 1\n")
    empty.write_text("")
    bad.write_text("a: [\n")
    scalar.write_text("- 1\n")
    assert H.load_values_file(str(good)) == {"a": {"b": 1}}
    assert H.load_values_file(str(empty)) == {}
    with pytest.raises(AdharError, match="not valid YAML"):
        H.load_values_file(str(bad))
    with pytest.raises(AdharError, match=r"must hold a mapping \(key: value\), not a list$"):
        H.load_values_file(str(scalar))
    scalar.write_text("5\n")
    with pytest.raises(AdharError, match=r"not a number$"):
        H.load_values_file(str(scalar))
    with pytest.raises(AdharError, match="cannot read"):
        H.load_values_file(str(tmp_path / "missing.yaml"))


# ---------------------------------------------------------------- charts


def test_resolve_local_chart_directory():
    chart = H.resolve_chart(FIXTURE)
    assert (chart.name, chart.version, chart.local, chart.app_version) == ("fixture-postgresql", "0.1.0", True, "0.0.0-fixture")
    assert chart.args() == [FIXTURE] and len(chart.digest) == 64
    with pytest.raises(AdharError, match="is version 0.1.0, not the chart_version 9.9.9"):
        H.resolve_chart(FIXTURE, version="9.9.9")


def test_resolve_packaged_chart_and_digest(tmp_path):
    tgz = tmp_path / "fixture-postgresql-0.1.0.tgz"
    with tarfile.open(str(tgz), "w:gz") as tar:
        tar.add(FIXTURE, arcname="fixture-postgresql")
    chart = H.resolve_chart(str(tgz))
    assert (chart.name, chart.version, chart.local) == ("fixture-postgresql", "0.1.0", True)
    assert chart.digest == H.chart_digest(str(tgz))
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    with tarfile.open(str(tgz)) as tar:
        tar.extractall(str(copy_dir), filter="data")
    unpacked = str(copy_dir / "fixture-postgresql")
    assert H.chart_digest(unpacked) == H.chart_digest(FIXTURE)
    with open(os.path.join(unpacked, "values.yaml"), "a") as f:
        f.write("# edited\n")
    assert H.chart_digest(unpacked) != H.chart_digest(FIXTURE)


def test_resolve_remote_charts():
    c = H.resolve_chart("ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "4.12.2")
    assert c.args() == ["ingress-nginx", "--repo", "https://kubernetes.github.io/ingress-nginx", "--version", "4.12.2"]
    c = H.resolve_chart("redis", "oci://registry-1.docker.io/bitnamicharts/", "21.2.13")
    assert c.args() == ["oci://registry-1.docker.io/bitnamicharts/redis", "--version", "21.2.13"] and c.name == "redis"
    c = H.resolve_chart("oci://ghcr.io/org/charts/app")
    assert c.name == "app" and c.version is None and c.args() == ["oci://ghcr.io/org/charts/app"]
    c = H.resolve_chart("bitnami/postgresql", version="16.7.27")
    assert c.name == "postgresql" and c.label == "postgresql-16.7.27"


@pytest.mark.parametrize("chart, repo, msg", [
    ("", None, "a chart is required"),
    ("a/b", "https://x", "give the chart's name only"),
    ("just-a-name", None, "is neither a local chart"),
    ("/no/such/dir", None, "no chart at /no/such/dir"),
])
def test_resolve_chart_errors(chart, repo, msg):
    with pytest.raises(AdharError, match=msg):
        H.resolve_chart(chart, repo)


def test_chart_field_matching():
    c = H.Chart("x", "fixture-argo-cd", "0.1.0")
    assert H.chart_matches("fixture-argo-cd-0.1.0", c) and not H.chart_matches("fixture-argo-cd-0.2.0", c)
    unpinned = H.Chart("x", "argo-cd", None)
    assert H.chart_matches("argo-cd-10.3.3", unpinned) and not H.chart_matches("argo-cd-extra-1.0.0", unpinned)
    assert H.split_chart_field("fixture-argo-cd-0.1.0") == ("fixture-argo-cd", "0.1.0")
    assert H.split_chart_field("a-2-b-1.0.0-rc.1") == ("a-2-b", "1.0.0-rc.1")
    assert H.split_chart_field("x-1.0.0", "x") == ("x", "1.0.0")
    assert H.split_chart_field("odd") == ("odd", None)


# ---------------------------------------------------------------- change detection


CHART = H.Chart("/c", "fixture-redis", "0.1.0", local=True, digest="a" * 64)


def entry(status="deployed", chart="fixture-redis-0.1.0", description="adhar.platform chart sha256:" + "a" * 64, revision=1):
    return {"revision": revision, "status": status, "chart": chart, "app_version": "0", "description": description}


def test_release_changes():
    values = {"sentinel": {"enabled": True}, "replica": {"replicaCount": 3}}
    assert H.release_changes(None, {}, CHART, values) == ["not installed"]
    assert H.release_changes(entry(), values, CHART, values) == []
    assert H.release_changes(entry(status="failed"), values, CHART, values) == ["status is failed"]
    assert H.release_changes(entry(chart="fixture-redis-0.0.9"), values, CHART, values) == [
        "chart fixture-redis-0.0.9 -> fixture-redis-0.1.0"]
    assert H.release_changes(entry(description="adhar.platform chart sha256:" + "b" * 64), values, CHART, values) == [
        "local chart content changed"]
    # a release whose description holds no digest (installed by someone else, rolled back) is not judged by it
    assert H.release_changes(entry(description="Rollback to 2"), values, CHART, values) == []
    before = {"sentinel": {"enabled": False}, "old": 1, "replica": {"replicaCount": 3}}
    assert H.release_changes(entry(), before, CHART, values) == ["values changed: old, sentinel.enabled"]


def test_release_changes_lists_ten_keys_at_most():
    want = {"k%02d" % i: i for i in range(13)}
    reasons = H.release_changes(entry(), {}, CHART, want)
    assert reasons == ["values changed: k00, k01, k02, k03, k04, k05, k06, k07, k08, k09 and 3 more"]


def test_diff_keys_escapes_dots():
    assert H.diff_keys({"a.b": {"c": 1}}, {"a.b": {"c": 2}}) == [r"a\.b.c"]
    assert H.diff_keys(1, 2) == ["(root)"]


def test_rollback_revision():
    hist = [entry(status="superseded", revision=1), entry(status="deployed", revision=2), entry(status="failed", revision=3),
            entry(status="pending-upgrade", revision=4)]
    assert H.rollback_revision(hist) == 2
    assert H.rollback_revision([entry(status="pending-install")]) is None


def test_workloads_from_manifest():
    manifest = """
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg-primary}
---
apiVersion: v1
kind: Service
metadata: {name: pg}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: other}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
---
# empty document
"""
    assert H.workloads(manifest, "ns") == [("StatefulSet", "ns", "pg-primary"), ("Deployment", "other", "web"),
                                           ("DaemonSet", "ns", "agent")]
    assert H.workloads("", "ns") == []


# ---------------------------------------------------------------- connection and binary


def test_kube_settings_path_and_context(tmp_path):
    argv, env = H.kube_settings({"kubeconfig": "~/kc.yaml", "context": "adhar-x"}, str(tmp_path))
    assert argv == ["--kubeconfig", os.path.expanduser("~/kc.yaml"), "--kube-context", "adhar-x"] and env == {}


def test_kube_settings_dict_is_kept_in_memory(tmp_path):
    kc = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "u", "user": {"token": "t0k"}}]}
    argv, env = H.kube_settings({"kubeconfig": kc}, str(tmp_path))
    path = argv[1]
    assert argv == ["--kubeconfig", path] and json.load(open(path)) == kc
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.startswith("/proc/self/fd/") and os.readlink(path).startswith("/memfd:") and os.listdir(str(tmp_path)) == []
    assert H.kube_settings_wrote(path, str(tmp_path)) and not H.kube_settings_wrote("/kc", str(tmp_path))
    # a child gets the descriptor, so helm can open the same path
    helm = H.Helm("/bin/sh", argv)
    assert json.loads(helm.run(["-c", 'cat "$2"', "sh"]).stdout) == kc  # $1 --kubeconfig, $2 its path


def test_kube_settings_dict_without_memfd_goes_to_the_private_workdir(tmp_path, monkeypatch):
    monkeypatch.setattr(H, "memfd_supported", lambda: False)
    kc = {"apiVersion": "v1", "kind": "Config"}
    argv, env = H.kube_settings({"kubeconfig": kc}, str(tmp_path))
    path = str(tmp_path / "kubeconfig")
    assert argv == ["--kubeconfig", path] and json.load(open(path)) == kc
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_kube_settings_host_only_builds_a_kubeconfig(tmp_path):
    argv, env = H.kube_settings({"host": "10.0.0.1:6443", "api_key": "Bearer abc", "ca_cert": "/ca.crt",
                                 "validate_certs": False}, str(tmp_path))
    assert argv == ["--kubeconfig", argv[1], "--kube-context", "adhar"] and env == {}
    kc = json.load(open(argv[1]))
    assert kc["clusters"][0]["cluster"] == {"server": "https://10.0.0.1:6443", "certificate-authority": "/ca.crt",
                                            "insecure-skip-tls-verify": True}
    assert kc["users"][0]["user"] == {"token": "abc"}


def test_kube_settings_overrides_go_to_helm_environment(tmp_path):
    argv, env = H.kube_settings({"kubeconfig": "/kc", "host": "https://api:6443", "api_key": "tok",
                                 "validate_certs": True}, str(tmp_path))
    assert argv == ["--kubeconfig", "/kc"]
    assert env == {"HELM_KUBEAPISERVER": "https://api:6443", "HELM_KUBETOKEN": "tok",
                   "HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "false"}
    with pytest.raises(AdharError, match="client_cert/client_key together with a kubeconfig"):
        H.kube_settings({"kubeconfig": "/kc", "client_cert": "/c", "client_key": "/k"}, str(tmp_path))


def test_find_helm(tmp_path):
    with pytest.raises(AdharError) as exc:
        H.find_helm(str(tmp_path))
    assert "helm not found in %s (from option)" % tmp_path in exc.value.msg and exc.value.details["missing"] == ["helm"]
    binary = tmp_path / "helm"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert H.find_helm(str(tmp_path)) == str(binary)
    assert H.find_helm(None, environ={"ADHAR_BIN_DIR": str(tmp_path)}) == str(binary)


# ---------------------------------------------------------------- the task, with a scripted helm


class FakeHelm:
    """Plays helm: a release with a history, values and a manifest; records every command."""

    MANIFEST = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: r-node}\n"

    def __init__(self, history=None, values=None, fail=(), defaults=None):
        self.history = list(history or [])
        self.values = values or {}
        self.fail = set(fail)
        self.calls = []
        # the chart's defaults: those the release was installed with, and those of the chart as it is now
        self.deployed_defaults = copy.deepcopy(defaults or {"image": {"tag": "1"}})
        self.chart_defaults = copy.deepcopy(self.deployed_defaults)

    def __call__(self, argv, **kwargs):
        args = argv[1:]
        self.calls.append(args)
        verb = args[0]
        if verb in self.fail:
            return subprocess.CompletedProcess(argv, 1, "", "Error: %s went wrong\n" % verb)
        if verb == "history":
            if not self.history:
                return subprocess.CompletedProcess(argv, 1, "", "Error: release: not found\n")
            return subprocess.CompletedProcess(argv, 0, json.dumps(self.history), "")
        if verb == "get":
            if args[1] == "values" and "--all" in args:
                out = yaml.safe_dump(H.deep_merge(self.deployed_defaults, self.values))
            else:
                out = json.dumps(self.values) if args[1] == "values" else self.MANIFEST
            return subprocess.CompletedProcess(argv, 0, out, "")
        if verb == "install":  # only ever a client-side dry run
            assert "--dry-run=client" in args and "--debug" in args
            with open(args[args.index("--values") + 1]) as f:
                values = json.load(f)
            out = "NAME: r\nUSER-SUPPLIED VALUES:\n%s\nCOMPUTED VALUES:\n%s\nHOOKS:\nMANIFEST:\n---\nkind: X\n" % (
                yaml.safe_dump(values), yaml.safe_dump(H.deep_merge(self.chart_defaults, values)))
            return subprocess.CompletedProcess(argv, 0, out, "")
        if verb == "upgrade":
            dry = "--dry-run=server" in args
            rev = len(self.history) + 1
            with open(args[args.index("--values") + 1]) as f:
                values = json.load(f)
            if not dry:
                self.history.append(entry(revision=rev, description=args[args.index("--description") + 1]))
                self.values = values
                self.deployed_defaults = copy.deepcopy(self.chart_defaults)
            out = {"name": args[2], "version": rev, "manifest": self.MANIFEST,
                   "info": {"status": "pending-upgrade" if dry else "deployed"},
                   "chart": {"metadata": {"name": "fixture-redis", "version": "0.1.0", "appVersion": "0"}}}
            return subprocess.CompletedProcess(argv, 0, json.dumps(out), "")
        if verb == "rollback":
            self.history.append(entry(revision=len(self.history) + 1, description="Rollback to %s" % args[2]))
            return subprocess.CompletedProcess(argv, 0, "", "")
        if verb == "uninstall":
            self.history = []
            return subprocess.CompletedProcess(argv, 0, "", "")
        raise AssertionError(args)

    def verbs(self):
        return [c[0] for c in self.calls]


def make_task(tmp_path, fake, check_mode=False, diff_mode=False, ready=True, **params):
    p = {"name": "r", "namespace": "ns", "chart": FIXTURE.replace("postgresql", "redis"), "values": {},
         "set_values": {"sentinel.enabled": "true"}, "secret_values": {}, "values_files": [], "wait": True,
         "wait_timeout": 30, "atomic": False, "create_namespace": True}
    p.update(params)
    helm = H.Helm("/bin/helm", ["--kubeconfig", "/kc"], runner=fake)
    waits = []

    def waiter(items, timeout, deleted=False):
        waits.append((items, deleted))
        return [{"kind": k, "namespace": ns, "name": n, "ready": ready, "message": "ready" if ready else "0 of 3 ready"}
                for k, ns, n in items]

    task = H.ReleaseTask(p, helm, str(tmp_path), check_mode=check_mode, diff_mode=diff_mode, waiter=waiter)
    return task, waits


def installed(tmp_path):
    """A fake helm with the release installed exactly as make_task wants it."""
    digest = H.resolve_chart(FIXTURE.replace("postgresql", "redis")).digest
    return FakeHelm([entry(description=H.DIGEST_PREFIX + digest)], {"sentinel": {"enabled": True}})


def test_install_then_unchanged(tmp_path):
    fake = FakeHelm()
    task, waits = make_task(tmp_path, fake)
    r = task.present()
    assert r["changed"] and r["reasons"] == ["not installed"] and r["release"]["revision"] == 1
    assert fake.verbs() == ["history", "upgrade"] and waits == [([("StatefulSet", "ns", "r-node")], False)]
    up = fake.calls[-1]
    assert "--reset-values" in up and "--create-namespace" in up and "--dry-run=server" not in up
    assert r["command"].startswith("helm upgrade --install r ") and "--values '<values>'" in r["command"]
    # the values file is private and holds the computed values
    path = up[up.index("--values") + 1]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    task, waits = make_task(tmp_path, fake)
    r = task.present()
    assert not r["changed"] and r["reasons"] == [] and r["command"] is None
    # user values, then the computed ones (client-side dry run vs get values --all), then the manifest to wait on
    assert fake.verbs()[-5:] == ["history", "get", "install", "get", "get"] and r["workloads"][0]["ready"]
    assert "--all" in fake.calls[-2]


def test_drift_in_chart_defaults_is_reported(tmp_path):
    """Same chart label and user values, but the chart's defaults changed: the computed values tell."""
    fake = installed(tmp_path)
    fake.chart_defaults = {"image": {"tag": "2"}, "extra": {"on": True}}
    task, dummy = make_task(tmp_path, fake, check_mode=True)
    r = task.present()
    assert r["changed"] and r["reasons"] == ["computed values differ (chart defaults): extra, image.tag"]
    assert "2" not in " ".join(r["reasons"]).replace("(chart", "")  # keys, never values
    task, dummy = make_task(tmp_path, fake)
    assert task.present()["changed"]
    task, dummy = make_task(tmp_path, fake)
    assert not task.present()["changed"]


def test_computed_section_parsing():
    text = "NAME: r\nUSER-SUPPLIED VALUES:\na: 1\n\nCOMPUTED VALUES:\na: 1\nb:\n  c: x\n\nHOOKS:\n---\nkind: Job\n"
    assert H.computed_section(text) == {"a": 1, "b": {"c": "x"}}
    assert H.computed_section("COMPUTED VALUES:\n{}\n\nMANIFEST:\n") == {}
    assert H.computed_section("NAME: r\n") is None


def test_check_mode_dry_runs_and_diffs(tmp_path):
    fake = installed(tmp_path)
    task, waits = make_task(tmp_path, fake, check_mode=True, diff_mode=True, set_values={"sentinel.enabled": "false"})
    r = task.present()
    assert r["changed"] and r["reasons"] == ["values changed: sentinel.enabled"]
    assert "--dry-run=server" in fake.calls[-1] and waits == [] and len(fake.history) == 1
    assert "enabled: true" in r["diff"]["before"] and "enabled: false" in r["diff"]["after"]


def test_secret_values_stay_out_of_commands_and_messages(tmp_path):
    fake = FakeHelm()
    task, dummy = make_task(tmp_path, fake, secret_values={"auth.password": "hunter2"})
    r = task.present()
    assert "hunter2" not in json.dumps(fake.calls) and "hunter2" not in r["command"]
    assert fake.values["auth"]["password"] == "hunter2"


def test_pending_release_needs_atomic(tmp_path):
    fake = installed(tmp_path)
    fake.history.append(entry(status="pending-upgrade", revision=2))
    task, dummy = make_task(tmp_path, fake)
    with pytest.raises(AdharError) as exc:
        task.present()
    assert "is pending-upgrade (revision 2" in exc.value.msg and "atomic=true" in exc.value.msg
    task, dummy = make_task(tmp_path, fake, atomic=True)
    r = task.present()
    assert r["changed"] and r["reasons"] == ["recovered from pending-upgrade: rolled back to revision 1"]
    assert ["rollback", "r", "1"] == fake.calls[[c[0] for c in fake.calls].index("rollback")][:3]


def test_pending_install_without_deployed_revision_is_uninstalled(tmp_path):
    fake = FakeHelm([entry(status="pending-install")])
    task, dummy = make_task(tmp_path, fake, atomic=True)
    r = task.present()
    assert r["reasons"][:2] == ["recovered from pending-install: the release was uninstalled (no deployed revision)",
                                "not installed"]
    assert fake.verbs() == ["history", "uninstall", "history", "upgrade"]


def test_check_mode_only_reports_a_pending_release(tmp_path):
    fake = FakeHelm([entry(status="pending-upgrade")])
    task, dummy = make_task(tmp_path, fake, atomic=True, check_mode=True)
    r = task.present()
    assert r["changed"] and r["reasons"][0] == "would recover from pending-upgrade"
    assert fake.verbs() == ["history"]


def test_atomic_rolls_back_when_not_ready(tmp_path):
    fake = installed(tmp_path)
    task, dummy = make_task(tmp_path, fake, atomic=True, ready=False, set_values={"sentinel.enabled": "false"})
    with pytest.raises(AdharError) as exc:
        task.present()
    assert "is not ready after 30 s: StatefulSet ns/r-node: 0 of 3 ready" in exc.value.msg
    assert exc.value.msg.endswith("atomic: rolled back to revision 1")


def test_atomic_after_a_failed_upgrade_that_changed_nothing(tmp_path):
    fake = installed(tmp_path)
    fake.fail.add("upgrade")
    task, dummy = make_task(tmp_path, fake, atomic=True, set_values={"sentinel.enabled": "false"})
    with pytest.raises(AdharError) as exc:
        task.present()
    assert "upgrade went wrong; atomic: nothing was changed" in exc.value.msg
    assert "rollback" not in fake.verbs()


def test_absent(tmp_path):
    fake = installed(tmp_path)
    task, waits = make_task(tmp_path, fake, check_mode=True)
    assert task.absent()["changed"] and fake.history
    task, waits = make_task(tmp_path, fake)
    r = task.absent()
    assert r["changed"] and r["release"] is None and fake.history == []
    assert waits == [([("StatefulSet", "ns", "r-node")], True)]
    task, waits = make_task(tmp_path, fake)
    assert not task.absent()["changed"]


def test_helm_errors_carry_helms_message(tmp_path):
    fake = FakeHelm(fail={"history"})
    task, dummy = make_task(tmp_path, fake)
    with pytest.raises(H.HelmError, match="helm history failed: Error: history went wrong"):
        task.present()


def test_resolve_toolchain_chart(tmp_path, monkeypatch):
    """toolchain_chart: the pinned chart's cached directory, installed like a local chart; clear errors otherwise."""
    monkeypatch.setenv("ADHAR_CACHE_DIR", str(tmp_path))
    with pytest.raises(AdharError, match="not fetched yet.*make toolchain"):
        H.resolve_chart("redis", from_toolchain=True)
    d = H.toolchain.chart_dir("redis")
    os.makedirs(os.path.join(d, "templates"))
    with open(os.path.join(d, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: redis\nversion: 23.1.1\n")
    c = H.resolve_chart("redis", version="23.1.1", from_toolchain=True)
    assert c.local and c.ref == d and c.version == "23.1.1"
    with pytest.raises(AdharError, match="not the chart_version 1.0.0"):
        H.resolve_chart("redis", version="1.0.0", from_toolchain=True)
    with pytest.raises(AdharError, match="takes no chart_repo_url"):
        H.resolve_chart("redis", "https://charts.example", from_toolchain=True)
    with pytest.raises(AdharError, match="not a chart the toolchain pins"):
        H.resolve_chart("nope", from_toolchain=True)
    with pytest.raises(AdharError, match="does not serve its dependency redis-ha"):
        H.resolve_chart("argo-cd", from_toolchain=True)
