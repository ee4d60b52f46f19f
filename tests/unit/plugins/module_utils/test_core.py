# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import importlib
import json
import os
import sys

import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.adhar.platform.plugins.module_utils._common import core
from ansible_collections.adhar.platform.plugins.module_utils._k8s import client as k8s_client
from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_BOUNDS, above, at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, AdharModule, check_bounds, file_problem, kubeconfig_secrets

pytestmark = pytest.mark.usefixtures("clean_k8s_env")


def _api_exception(status, reason, message=None, body=None):
    exc = ApiException(status=status, reason=reason)
    if body is None and message is not None:
        body = json.dumps({"kind": "Status", "status": "Failure", "message": message, "reason": reason, "code": status})
    exc.body = body
    return exc


# -- AdharError -------------------------------------------------------------------


def test_adhar_error_carries_msg_details_and_cause():
    cause = ValueError("bad")
    err = AdharError("it failed", cause=cause, name="x", count=2)
    assert str(err) == "it failed"
    assert err.msg == "it failed"
    assert err.details == {"name": "x", "count": 2}
    assert err.cause is cause


def test_adhar_error_cause_from_raise_from():
    with pytest.raises(AdharError) as info:
        try:
            raise KeyError("k")
        except KeyError as exc:
            raise AdharError("wrapped") from exc
    assert isinstance(info.value.cause, KeyError)
    assert info.value.details == {}


# -- AdharModule basics -------------------------------------------------------------


def test_module_proxies(module_args):
    module_args({"name": "a", "_ansible_check_mode": True, "_ansible_diff": True})
    module = AdharModule({"name": {"type": "str", "required": True}})
    assert module.params["name"] == "a"
    assert module.check_mode is True
    assert module.diff_mode is True
    assert module.ansible.params is module.params
    assert "api_key" not in module.params  # k8s_auth not requested


def test_module_without_check_mode_flags(module_args):
    module_args({"name": "a"})
    module = AdharModule({"name": {"type": "str"}})
    assert module.check_mode is False
    assert module.diff_mode is False


def test_kwargs_pass_through_to_ansible_module(module_args, module_result):
    module_args({"a": "1", "b": "2"})
    rc, result = module_result(lambda: AdharModule({"a": {"type": "str"}, "b": {"type": "str"}}, mutually_exclusive=[["a", "b"]]))
    assert rc == 1
    assert "mutually exclusive" in result["msg"]


def test_module_spec_wins_over_auth_spec(module_args):
    module_args({})
    module = AdharModule({"request_timeout": {"type": "float", "default": 5.0}}, k8s_auth=True)
    assert module.params["request_timeout"] == 5.0
    assert module.params["api_retry_deadline"] == 120.0


def test_exit_json_and_warn(module_args, module_result):
    module_args({})
    module = AdharModule({})
    module.warn("careful")
    rc, result = module_result(lambda: module.exit_json(changed=True, thing=1))
    assert rc == 0
    assert result["changed"] is True and result["thing"] == 1
    assert "careful" in json.dumps(result.get("warnings", []))


# -- failures --------------------------------------------------------------------------


def test_fail_from_adhar_error_returns_details(module_args, module_result):
    module_args({})
    module = AdharModule({})
    err = AdharError("Cluster 'c1' is not ready", cluster="c1", waited=30, failed="ignored", invocation="ignored")
    rc, result = module_result(lambda: module.fail_from_exception(err))
    assert rc == 1
    assert result["failed"] is True
    assert result["msg"] == "Cluster 'c1' is not ready"
    assert result["cluster"] == "c1"
    assert result["waited"] == 30
    assert "invocation" not in result or result["invocation"] != "ignored"


def test_fail_from_api_exception_uses_status_body(module_args, module_result):
    module_args({})
    module = AdharModule({})
    exc = _api_exception(403, "Forbidden", message='namespaces "x" is forbidden: User "bob" cannot get resource')
    rc, result = module_result(lambda: module.fail_from_exception(exc))
    assert rc == 1
    assert result["status"] == 403
    assert result["reason"] == "Forbidden"
    assert "403" in result["msg"]
    assert 'User "bob" cannot get resource' in result["msg"]
    assert result["api_reason"] == "Forbidden"


def test_fail_from_api_exception_with_text_body(module_args, module_result):
    module_args({})
    module = AdharModule({})
    exc = _api_exception(502, "Bad Gateway", body="upstream connect error")
    _rc, result = module_result(lambda: module.fail_from_exception(exc))
    assert "upstream connect error" in result["msg"]
    assert result["status"] == 502


def test_fail_from_other_exception_names_type(module_args, module_result):
    module_args({})
    module = AdharModule({})
    _rc, result = module_result(lambda: module.fail_from_exception(KeyError("spec")))
    assert result["msg"].startswith("KeyError")
    assert "spec" in result["msg"]
    assert result["error_type"] == "KeyError"


def test_run_exits_with_result_and_default_changed(module_args, module_result):
    module_args({"name": "n"})
    module = AdharModule({"name": {"type": "str"}})
    rc, result = module_result(lambda: module.run(lambda m: {"name": m.params["name"]}))
    assert rc == 0
    assert result["changed"] is False
    assert result["name"] == "n"


def test_run_turns_adhar_error_into_failure(module_args, module_result):
    module_args({})
    module = AdharModule({})

    def body(m):
        raise AdharError("nope", step="apply")

    rc, result = module_result(lambda: module.run(body))
    assert rc == 1
    assert result["msg"] == "nope"
    assert result["step"] == "apply"


def test_run_turns_api_exception_into_failure(module_args, module_result):
    module_args({})
    module = AdharModule({})

    def body(m):
        raise _api_exception(404, "Not Found", message='deployments.apps "web" not found')

    rc, result = module_result(lambda: module.run(body))
    assert rc == 1
    assert 'deployments.apps "web" not found' in result["msg"]
    assert result["status"] == 404


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_run_turns_sigterm_into_a_clean_unwind(module_args, module_result, signame):
    import os
    import signal
    module_args({})
    module = AdharModule({})
    before = signal.getsignal(getattr(signal, signame))
    events = []

    def body(m):
        try:
            os.kill(os.getpid(), getattr(signal, signame))  # the handler raises right after this returns
            events.append("not interrupted")
        except Exception:  # an ordinary handler does not swallow it
            events.append("swallowed")
        finally:
            events.append("finally ran")

    rc, result = module_result(lambda: module.run(body))
    assert rc == 1
    assert result["msg"] == "interrupted by %s" % signame and result["signal"] == signame
    assert events == ["finally ran"]
    assert signal.getsignal(getattr(signal, signame)) == before  # the handler is only installed while the module runs


def test_run_reports_sigint_too(module_args, module_result):
    module_args({})
    module = AdharModule({})

    def body(m):
        raise KeyboardInterrupt()

    rc, result = module_result(lambda: module.run(body))
    assert rc == 1 and result["msg"] == "interrupted by SIGINT"


# -- libraries -------------------------------------------------------------------------


def test_require_missing_lib_message(module_args, module_result):
    module_args({})
    module = AdharModule({})
    err = None
    try:
        importlib.import_module("adhar_no_such_lib")
    except ImportError as exc:
        err = exc
    assert err is not None
    rc, result = module_result(lambda: module.require("adhar_no_such_lib", err, reason="for the test"))
    assert rc == 1
    assert result["msg"].startswith("Python library adhar_no_such_lib is not installed for %s" % sys.executable)
    assert "(needed: adhar_no_such_lib, for the test)" in result["msg"]
    assert result["library"] == "adhar_no_such_lib" and result["library_version"] is None


def test_require_ok_does_nothing(module_args):
    module_args({})
    module = AdharModule({})
    module.require("json", None)
    module.require_k8s()  # the SDK is installed in the test venv


def test_require_k8s_fails_without_sdk(module_args, module_result, monkeypatch):
    monkeypatch.setattr(k8s_client, "KUBERNETES_IMPORT_ERROR", ImportError("No module named 'kubernetes'"))
    module_args({})
    module = AdharModule({})
    rc, result = module_result(module.require_k8s)
    assert rc == 1
    # installed here but made unimportable: the message says so, with the version found and the one needed
    assert result["msg"].startswith("Python library kubernetes %s is installed for " % core.library_version("kubernetes"))
    assert "but cannot be imported (needed: kubernetes>=28.1.0, to talk to the Kubernetes API)" in result["msg"]
    assert result["library_required"] == ">=28.1.0"


# -- library versions ------------------------------------------------------------------


@pytest.mark.parametrize("text, key", [("28.1.0", (28, 1)), ("2.23.0rc1", (2, 23)), ("4.2", (4, 2)), ("37.0.1", (37, 0, 1)),
                                       ("1.44.8.post1", (1, 44, 8)), ("10", (10,)), ("dev", ())])
def test_version_key(text, key):
    assert core._version_key(text) == key


def _installed(monkeypatch, versions):
    monkeypatch.setattr(core, "library_version", versions.get)


def test_check_library_too_old_names_found_and_needed(monkeypatch):
    _installed(monkeypatch, {"boto3": "1.33.9"})
    with pytest.raises(AdharError) as e:
        core.check_library("boto3", purpose="for the test")
    msg = str(e.value)
    assert msg.startswith("Python library boto3 1.33.9 is too old for %s (needed: boto3>=1.34.0, for the test)" % sys.executable)
    assert "pip install --upgrade 'boto3>=1.34.0'" in msg
    assert e.value.details == {"library": "boto3", "library_version": "1.33.9", "library_required": ">=1.34.0"}


def test_check_library_new_enough_or_unknown_passes(monkeypatch):
    _installed(monkeypatch, {"boto3": "1.34.0", "botocore": "2.0"})
    assert core.check_library("boto3") == "1.34.0"
    assert core.check_library("botocore") == "2.0"
    assert core.check_library("google-auth") is None  # importable without package metadata: nothing to compare


def test_check_library_missing(monkeypatch):
    _installed(monkeypatch, {})
    err = ImportError("No module named 'google'")
    with pytest.raises(AdharError) as e:
        core.check_library("google-auth", err, purpose="for GKE")
    assert str(e.value) == ("Python library google-auth is not installed for %s (needed: google-auth>=2.23.0, for GKE); "
                            "install it with pip install 'google-auth>=2.23.0'" % sys.executable)
    assert e.value.cause is err and e.value.details["library_version"] is None and e.value.details["missing"] == "google-auth"


def test_minimum_versions_are_the_requirements_lower_bounds():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..")
    bounds = {}
    with open(os.path.join(root, "requirements.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#")[0].strip()
            if line:
                name, _sep, version = line.partition(">=")
                bounds[name.strip()] = version.strip()
    assert bounds == core.MIN_LIBRARY_VERSIONS


def test_failures_report_the_versions_of_imported_libraries(module_args, module_result):
    module_args({})
    module = AdharModule({})
    rc, result = module_result(lambda: module.fail_from_exception(AdharError("boom")))
    assert rc == 1
    assert result["library_versions"]["kubernetes"] == core.library_version("kubernetes")  # imported by this test file
    assert result["library_versions"]["PyYAML"] == core.library_version("PyYAML")


# -- secrets ---------------------------------------------------------------------------

KUBECONFIG_DICT = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0FEQVRB"}}],
    "users": [
        {"name": "u", "user": {"token": "s3cr3t-token-value", "client-key-data": "S0VZREFUQQ=="}},
        {"name": "p", "user": {"username": "admin", "password": "hunter2-password"}},
        {"name": "e", "user": {"exec": {"command": "aws", "env": [{"name": "AWS_SECRET", "value": "exec-env-secret"}]}}},
        {"name": "o", "user": {"auth-provider": {"name": "oidc", "config": {"id-token": "oidc-id-token", "client-id": "cid"}}}},
    ],
    "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "ctx",
}


def test_kubeconfig_secrets_collects_credentials_only():
    found = kubeconfig_secrets(KUBECONFIG_DICT)
    assert found == {"s3cr3t-token-value", "S0VZREFUQQ==", "hunter2-password", "exec-env-secret", "oidc-id-token"}
    assert kubeconfig_secrets("/path/to/kubeconfig") == set()
    assert kubeconfig_secrets(None) == set()


def test_secrets_pushed_to_no_log_values_and_hidden(module_args, module_result):
    module_args({"kubeconfig": KUBECONFIG_DICT, "api_key": "the-api-key-1234"})
    module = AdharModule({}, k8s_auth=True)
    assert {"the-api-key-1234", "s3cr3t-token-value", "hunter2-password"} <= module.no_log_values
    _rc, result = module_result(lambda: module.exit_json(echo="token s3cr3t-token-value and the-api-key-1234"))
    assert "s3cr3t-token-value" not in json.dumps(result)
    assert "the-api-key-1234" not in json.dumps(result)


def test_api_key_from_env_is_hidden(module_args, module_result, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_API_KEY", "env-api-key-5678")
    module_args({})
    module = AdharModule({}, k8s_auth=True)
    assert "env-api-key-5678" in module.no_log_values
    _rc, result = module_result(lambda: module.exit_json(echo="env-api-key-5678"))
    assert "env-api-key-5678" not in json.dumps(result)


def test_is_api_exception_without_sdk_import(monkeypatch):
    assert core.is_api_exception(ApiException(status=500, reason="x"))
    assert not core.is_api_exception(ValueError("x"))


# -- numeric bounds, checked before anything runs ---------------------------------------


@pytest.mark.parametrize("params, bounds, message", [
    ({"wait_timeout": -5.0}, {"wait_timeout": above(0)}, "wait_timeout must be greater than 0, got -5"),
    ({"wait_timeout": 0.0}, {"wait_timeout": above(0)}, "wait_timeout must be greater than 0, got 0"),
    ({"workers": 0}, {"workers": at_least(1, 256)}, "workers must be at least 1, got 0"),
    ({"workers": 1000}, {"workers": at_least(1, 256)}, "workers must be at most 256, got 1000"),
    ({"timeout": float("nan")}, {"timeout": above(0)}, "timeout must be a finite number, got nan"),
    ({"timeout": float("inf")}, {"timeout": above(0)}, "timeout must be a finite number, got inf"),
    ({"retention": {"keep_last": 0}}, {"retention.keep_last": at_least(1)}, "retention.keep_last must be at least 1, got 0"),
    ({"workers": True}, {"workers": at_least(1)}, "workers must be a number, got True"),
])
def test_check_bounds_names_option_and_value(params, bounds, message):
    with pytest.raises(AdharError) as info:
        check_bounds(params, bounds)
    assert info.value.msg == message
    assert info.value.details["option"] == sorted(bounds)[0]


@pytest.mark.parametrize("params", [
    {"wait_timeout": 0.001, "workers": 1},
    {"wait_timeout": None, "workers": 256},
    {"retention": None},
    {"retention": {"keep_last": None}},
    {},
])
def test_check_bounds_accepts_values_in_range_and_unset_options(params):
    check_bounds(params, {"wait_timeout": above(0), "workers": at_least(1, 256), "retention.keep_last": at_least(1)})


def test_module_refuses_out_of_bounds_before_running(module_args, module_result):
    module_args({"workers": 0})
    calls = []
    rc, result = module_result(lambda: AdharModule({"workers": {"type": "int"}}, bounds={"workers": at_least(1)}).run(calls.append))
    assert rc == 1
    assert result["msg"] == "workers must be at least 1, got 0"
    assert result["option"] == "workers" and result["value"] == 0
    assert calls == []


def test_k8s_auth_bounds_come_with_the_connection_options(module_args, module_result):
    module_args({"request_timeout": -1})
    rc, result = module_result(lambda: AdharModule({}, k8s_auth=True))
    assert rc == 1
    assert result["msg"] == "request_timeout must be at least 0, got -1"
    module_args({"request_timeout": 0, "api_retry_deadline": 0})
    module = AdharModule({}, k8s_auth=True)  # 0 means no limit / no retries
    assert module.params["request_timeout"] == 0


def _module_bounds(name):
    """The bounds a module passes to AdharModule (its main() with AdharModule replaced by a recorder)."""
    mod = importlib.import_module("ansible_collections.adhar.platform.plugins.modules." + name)
    seen = {}

    class Recorder:
        def __init__(self, spec, **kwargs):
            seen.update(kwargs.get("bounds") or {})
            seen["__k8s_auth__"] = kwargs.get("k8s_auth", False)
            seen["__spec__"] = spec
            raise SystemExit(0)

    original = mod.AdharModule
    mod.AdharModule = Recorder
    try:
        with pytest.raises(SystemExit):
            mod.main()
    finally:
        mod.AdharModule = original
    return seen


@pytest.mark.parametrize("name, option, bad", [
    ("restore", "wait_timeout", -5.0), ("restore", "crd_timeout", 0.0), ("restore", "workers", 0),
    ("backup_info", "workers", 0), ("backup", "workers", 0), ("backup", "page_size", 0), ("backup", "lock_ttl", 1),
    ("backup", "retention.keep_last", 0), ("db", "jobs", 0), ("db", "connect_timeout", -1), ("db", "login_port", 0),
    ("db", "top", 0), ("db", "pooler.max_connections", 0), ("db", "pooler.listen_port", 70000),
    ("apply", "wait_timeout", -1.0), ("apply", "workers", 0), ("helm_release", "wait_timeout", 0),
    ("cluster_info", "timeout", 0.0), ("cluster_info", "probes", -1), ("cluster_info", "cert_warn_days", -1),
    ("api_info", "request_timeout", -1.0),
])
def test_every_numeric_option_of_the_modules_has_a_bound(name, option, bad):
    bounds = _module_bounds(name)
    spec = bounds.pop("__spec__")
    if bounds.pop("__k8s_auth__"):
        bounds = dict(K8S_AUTH_BOUNDS, **bounds)
    top = option.split(".")[0]
    assert top in spec or top in K8S_AUTH_BOUNDS
    params = {}
    target = params
    parts = option.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = bad
    with pytest.raises(AdharError, match="^%s must be" % option.replace(".", r"\.")):
        check_bounds(params, bounds)


@pytest.mark.parametrize("name", ["restore", "backup_info", "backup", "db", "apply", "helm_release", "cluster_info", "api_info"])
def test_no_numeric_option_without_a_bound(name):
    bounds = _module_bounds(name)
    spec = bounds.pop("__spec__")
    k8s_auth = bounds.pop("__k8s_auth__")
    declared = set(bounds) | (set(K8S_AUTH_BOUNDS) if k8s_auth else set())
    numeric = set()
    for option, entry in spec.items():
        if entry.get("type") in ("int", "float"):
            numeric.add(option)
        for sub, sub_entry in (entry.get("options") or {}).items():
            if entry.get("type") == "dict" and sub_entry.get("type") in ("int", "float"):
                numeric.add("%s.%s" % (option, sub))
    assert numeric <= declared, sorted(numeric - declared)


def test_file_problem_says_what_is_wrong(tmp_path):
    (tmp_path / "f").write_text("x")
    os.symlink(str(tmp_path / "gone"), str(tmp_path / "link"))
    assert file_problem(str(tmp_path / "f")) is None
    assert file_problem(str(tmp_path)) == "is a directory, not a file"
    assert file_problem(str(tmp_path / "nope")) == "does not exist"
    assert file_problem(str(tmp_path / "link")) == "is a broken symbolic link"
    assert file_problem(str(tmp_path / "f" / "x" / "y")) == "cannot exist: %s is not a directory" % (tmp_path / "f")


def test_cloud_library_checks_name_the_library_that_failed(monkeypatch):
    from ansible_collections.adhar.platform.plugins.module_utils._aws import client as aws
    from ansible_collections.adhar.platform.plugins.module_utils._gcp import client as gcp

    monkeypatch.setattr(gcp, "GOOGLE_AUTH_IMPORT_ERROR", ImportError("No module named 'requests'", name="requests"))
    with pytest.raises(AdharError, match=r"^Python library requests .*\(needed: requests>=2\.31\.0, for GKE\)"):
        gcp.require_google_auth("GKE")
    monkeypatch.setattr(gcp, "GOOGLE_AUTH_IMPORT_ERROR", ImportError("No module named 'google'", name="google"))
    with pytest.raises(AdharError, match=r"^Python library google-auth .*\(needed: google-auth>=2\.23\.0, for GKE\)"):
        gcp.require_google_auth("GKE")
    monkeypatch.setattr(gcp, "GOOGLE_AUTH_IMPORT_ERROR", None)
    gcp.require_google_auth("GKE")  # installed in the test venv, new enough
    _installed(monkeypatch, {"boto3": "1.44.8", "botocore": "1.20.0"})
    with pytest.raises(AdharError, match=r"^Python library botocore 1\.20\.0 is too old .*for EKS\)"):
        aws.require_boto3("EKS")
