# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.doc_fragments import attributes as attributes_fragment
from ansible_collections.adhar.platform.plugins.doc_fragments import k8s_auth as k8s_auth_fragment
from ansible_collections.adhar.platform.plugins.doc_fragments import retention as retention_fragment
from ansible_collections.adhar.platform.plugins.doc_fragments import wait as wait_fragment
from ansible_collections.adhar.platform.plugins.doc_fragments import workers as workers_fragment
from ansible_collections.adhar.platform.plugins.module_utils._common.args import (
    K8S_AUTH_ARG_SPEC,
    K8S_AUTH_ENV,
    MAX_WORKERS,
    RETENTION_ARG_SPEC,
    WAIT_TIMEOUT_BOUNDS,
    WORKERS_BOUNDS,
    k8s_auth_params,
    wait_arg_spec,
    workers_arg_spec,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule

pytestmark = pytest.mark.usefixtures("clean_k8s_env")


def _fragment_options():
    doc = yaml.safe_load(k8s_auth_fragment.ModuleDocFragment.DOCUMENTATION)
    return doc["options"]


def _description_text(option):
    desc = option["description"]
    return " ".join(desc) if isinstance(desc, list) else desc


def test_fragment_documents_exactly_the_spec_options():
    assert sorted(_fragment_options()) == sorted(K8S_AUTH_ARG_SPEC)


@pytest.mark.parametrize("name", sorted(K8S_AUTH_ARG_SPEC))
def test_fragment_mirrors_spec(name):
    spec = K8S_AUTH_ARG_SPEC[name]
    doc = _fragment_options()[name]
    assert doc.get("type", "str") == spec.get("type", "str")
    assert doc.get("default") == spec.get("default")
    assert sorted(doc.get("aliases") or []) == sorted(spec.get("aliases") or [])
    assert doc.get("required", False) == spec.get("required", False)
    assert doc.get("choices") == spec.get("choices")
    assert _description_text(doc).strip()


@pytest.mark.parametrize("name", sorted(K8S_AUTH_ENV))
def test_env_fallbacks_match_the_table_and_the_docs(name):
    fallback = K8S_AUTH_ARG_SPEC[name]["fallback"]
    assert fallback[1] == [K8S_AUTH_ENV[name]]
    assert "E({0})".format(K8S_AUTH_ENV[name]) in _description_text(_fragment_options()[name])


def test_only_timeouts_have_no_env_fallback():
    assert sorted(set(K8S_AUTH_ARG_SPEC) - set(K8S_AUTH_ENV)) == ["api_retry_deadline", "request_timeout"]


def test_secret_handling_in_spec():
    assert K8S_AUTH_ARG_SPEC["api_key"]["no_log"] is True
    # A key *path* is not a secret; say so explicitly (validate-modules no-log-needed).
    assert K8S_AUTH_ARG_SPEC["client_key"]["no_log"] is False


def test_timeout_defaults():
    assert K8S_AUTH_ARG_SPEC["request_timeout"] == {"type": "float", "default": 30.0}
    assert K8S_AUTH_ARG_SPEC["api_retry_deadline"] == {"type": "float", "default": 120.0}


def test_k8s_auth_params_extracts_and_fills_defaults():
    params = {"host": "https://h:6443", "name": "other", "request_timeout": None, "api_retry_deadline": 5.0}
    auth = k8s_auth_params(params)
    assert sorted(auth) == sorted(K8S_AUTH_ARG_SPEC)
    assert auth["host"] == "https://h:6443"
    assert auth["kubeconfig"] is None
    assert auth["request_timeout"] == 30.0
    assert auth["api_retry_deadline"] == 5.0
    assert "name" not in auth
    assert k8s_auth_params(None)["request_timeout"] == 30.0


def test_spec_through_ansible_module_env_and_aliases(module_args, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://from-env:6443")
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "no")
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "env-ctx")
    module_args({"context": "explicit-ctx", "ssl_ca_cert": "~/ca.pem", "name": "x"})
    module = AdharModule({"name": {"type": "str"}}, k8s_auth=True)
    params = module.params
    assert params["host"] == "https://from-env:6443"
    assert params["validate_certs"] is False
    assert params["context"] == "explicit-ctx"
    assert params["ca_cert"].endswith("/ca.pem") and not params["ca_cert"].startswith("~")
    assert params["request_timeout"] == 30.0
    assert params["name"] == "x"


def test_spec_is_not_mutated_by_modules(module_args):
    before = repr(K8S_AUTH_ARG_SPEC)
    module_args({"verify_ssl": True})
    AdharModule({}, k8s_auth=True)
    assert repr(K8S_AUTH_ARG_SPEC) == before


# -- attributes fragment ---------------------------------------------------------


def _attributes(var):
    doc = yaml.safe_load(getattr(attributes_fragment.ModuleDocFragment, var))
    assert doc["options"] == {}
    return doc["attributes"]


def test_attributes_fragments_shape():
    both = _attributes("DOCUMENTATION")
    assert sorted(both) == ["check_mode", "diff_mode"]
    assert all("support" not in a and a["description"] for a in both.values())
    assert sorted(_attributes("CHECK_MODE")) == ["check_mode"]
    assert sorted(_attributes("DIFF_MODE")) == ["diff_mode"]
    info = _attributes("INFO_MODULE")
    assert info["check_mode"]["support"] == "full"
    assert info["diff_mode"]["support"] == "N/A"
    assert both["check_mode"]["description"] == _attributes("CHECK_MODE")["check_mode"]["description"]
    assert both["diff_mode"]["description"] == _attributes("DIFF_MODE")["diff_mode"]["description"]


# -- option families shared by several modules (retention, wait, workers) ---------


def _fragment(fragment, var="DOCUMENTATION"):
    return yaml.safe_load(getattr(fragment.ModuleDocFragment, var))["options"]


def _module_specs(docs=None):
    """``{module name: argument spec}`` of every module with an ``argument_spec()`` (``docs``: a dict that gets
    ``{module name: DOCUMENTATION}``)."""
    import importlib
    import pkgutil

    from ansible_collections.adhar.platform.plugins import modules

    out = {}
    for info in pkgutil.iter_modules(modules.__path__):
        mod = importlib.import_module("ansible_collections.adhar.platform.plugins.modules." + info.name)
        if hasattr(mod, "argument_spec"):
            out[info.name] = mod.argument_spec()
            if docs is not None:
                docs[info.name] = yaml.safe_load(mod.DOCUMENTATION)
    return out


def test_retention_fragment_mirrors_the_spec():
    doc = _fragment(retention_fragment)
    assert sorted(doc) == sorted(RETENTION_ARG_SPEC) == ["retention"]
    spec = RETENTION_ARG_SPEC["retention"]
    assert doc["retention"]["type"] == spec["type"] == "dict"
    subs = doc["retention"]["suboptions"]
    assert sorted(subs) == sorted(spec["options"])
    for name, sub in spec["options"].items():
        assert subs[name]["type"] == sub["type"]
        assert _description_text(subs[name]).strip()


@pytest.mark.parametrize("var, spec", [("DOCUMENTATION", wait_arg_spec(wait=False)), ("TIMEOUT", wait_arg_spec())])
def test_wait_fragments_mirror_the_spec(var, spec):
    doc = _fragment(wait_fragment, var)
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"]
        assert "default" not in doc[name]  # each module documents its own


def test_wait_arg_spec():
    assert wait_arg_spec() == {"wait_timeout": {"type": "float", "default": 300.0}}
    assert wait_arg_spec(180, wait=True) == {"wait_timeout": {"type": "float", "default": 180.0},
                                             "wait": {"type": "bool", "default": True}}
    assert WAIT_TIMEOUT_BOUNDS["wait_timeout"] == {"min": 0, "max": None, "exclusive": True}


def test_every_module_takes_the_families_with_one_type():
    docs = {}
    specs = _module_specs(docs)
    with_retention = sorted(name for name, spec in specs.items() if "retention" in spec and spec["retention"].get("options"))
    assert with_retention == ["backup", "db"]
    for name in with_retention:
        assert specs[name]["retention"] == RETENTION_ARG_SPEC["retention"], name
    with_timeout = sorted(name for name, spec in specs.items() if "wait_timeout" in spec)
    assert with_timeout == ["apply", "apps", "cluster", "helm_release", "mesh", "restore"]
    for name in with_timeout:
        assert specs[name]["wait_timeout"]["type"] == "float", name
        if "wait" in specs[name]:
            assert specs[name]["wait"]["type"] == "bool", name
    # workers: the fragment mirrors workers_arg_spec(); every module with the option takes it from both
    doc = _fragment(workers_fragment)
    assert sorted(doc) == sorted(workers_arg_spec(1)) == ["workers"]
    assert doc["workers"]["type"] == workers_arg_spec(1)["workers"]["type"] == "int" and "default" not in doc["workers"]
    assert workers_arg_spec(8) == {"workers": {"type": "int", "default": 8}}
    assert WORKERS_BOUNDS == {"workers": {"min": 1, "max": MAX_WORKERS, "exclusive": False}}
    with_workers = sorted(name for name, spec in specs.items() if "workers" in spec)
    assert with_workers == ["apply", "apps", "backup", "backup_info", "restore"]
    for name in with_workers:
        assert specs[name]["workers"] == workers_arg_spec(specs[name]["workers"]["default"])["workers"], name
        assert "adhar.platform.workers" in docs[name]["extends_documentation_fragment"], name
        option = docs[name]["options"]["workers"]
        assert "type" not in option and option["default"] == specs[name]["workers"]["default"], name


def test_families_accept_what_users_pass(module_args):
    spec = dict(RETENTION_ARG_SPEC, **wait_arg_spec(300, wait=True))
    for given, timeout in ((300, 300.0), ("45", 45.0), (2.5, 2.5)):
        for max_age in (30, "30", "72h"):
            module_args({"wait_timeout": given, "retention": {"keep_last": "3", "max_age": max_age}})
            params = AdharModule(spec).params
            assert params["wait_timeout"] == timeout and isinstance(params["wait_timeout"], float)
            assert params["retention"] == {"keep_last": 3, "max_age": max_age}  # max_age as given: int days or text
            assert params["wait"] is True
