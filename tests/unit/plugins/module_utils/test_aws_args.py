# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS connection options: spec <-> doc fragment, environment fallbacks, no clash with the Kubernetes options."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.doc_fragments import aws as aws_fragment
from ansible_collections.adhar.platform.plugins.module_utils._aws.args import AWS_ARG_SPEC, AWS_ENV, aws_params
from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule

AWS_VARS = ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


@pytest.fixture(autouse=True)
def clean_aws_env(monkeypatch, clean_k8s_env):
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)


def _fragment_options():
    return yaml.safe_load(aws_fragment.ModuleDocFragment.DOCUMENTATION)["options"]


def _text(option):
    desc = option["description"]
    return " ".join(desc) if isinstance(desc, list) else desc


def _names(spec):
    names = set()
    for name, opt in spec.items():
        names.add(name)
        names.update(opt.get("aliases") or [])
    return names


def test_fragment_documents_exactly_the_spec_options():
    assert sorted(_fragment_options()) == sorted(AWS_ARG_SPEC)


@pytest.mark.parametrize("name", sorted(AWS_ARG_SPEC))
def test_fragment_mirrors_spec(name):
    spec, doc = AWS_ARG_SPEC[name], _fragment_options()[name]
    assert doc.get("type", "str") == spec.get("type", "str")
    assert doc.get("default") == spec.get("default")
    assert sorted(doc.get("aliases") or []) == sorted(spec.get("aliases") or [])
    assert doc.get("required", False) == spec.get("required", False)
    assert doc.get("choices") == spec.get("choices")


@pytest.mark.parametrize("name", sorted(AWS_ARG_SPEC))
def test_env_fallbacks_match_the_table_and_the_docs(name):
    assert AWS_ARG_SPEC[name]["fallback"][1] == AWS_ENV[name]
    for var in AWS_ENV[name]:
        assert "E(%s)" % var in _text(_fragment_options()[name])


def test_every_documented_variable_is_read():
    assert sorted(v for vars_ in AWS_ENV.values() for v in vars_) == sorted(AWS_VARS)


def test_no_name_or_alias_collides_with_the_kubernetes_options():
    assert not _names(AWS_ARG_SPEC) & _names(K8S_AUTH_ARG_SPEC)
    assert "validate_certs" not in _names(AWS_ARG_SPEC)


def test_secrets_are_hidden_and_ids_are_not():
    assert AWS_ARG_SPEC["secret_key"]["no_log"] is True
    assert AWS_ARG_SPEC["session_token"]["no_log"] is True
    assert AWS_ARG_SPEC["access_key"]["no_log"] is False


def test_through_ansible_module_env_aliases_and_precedence(module_args, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    module_args({"aws_access_key_id": "AKIDEXAMPLE", "aws_session_token": "tok-123"})
    m = AdharModule(dict(AWS_ARG_SPEC), k8s_auth=True)
    p = aws_params(m.params)
    assert p == {"profile": None, "region": "eu-west-1", "access_key": "AKIDEXAMPLE", "secret_key": "from-env-secret",
                 "session_token": "tok-123", "endpoint_url": "http://127.0.0.1:5000"}
    assert {"from-env-secret", "tok-123"} <= set(m.no_log_values)
    # AWS_REGION wins over AWS_DEFAULT_REGION
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    module_args({})
    assert AdharModule(dict(AWS_ARG_SPEC)).params["region"] == "ap-south-1"


def test_the_cluster_module_takes_both_families(module_args):
    from ansible_collections.adhar.platform.plugins.modules import cluster
    spec = cluster.argument_spec()
    assert set(AWS_ARG_SPEC) <= set(spec)
    # the one option cluster redefines is the Kubernetes family's own kubeconfig: same type, no aliases, only without
    # the K8S_AUTH_KUBECONFIG fallback (provider local refuses a kubeconfig given to the task, never one from the env)
    assert spec["kubeconfig"] == {"type": K8S_AUTH_ARG_SPEC["kubeconfig"]["type"]}
    own = {k: v for k, v in spec.items() if k != "kubeconfig"}
    all_names = _names(own) | _names(K8S_AUTH_ARG_SPEC)
    assert len(all_names) == sum(1 + len(o.get("aliases") or []) for o in list(own.values()) + list(K8S_AUTH_ARG_SPEC.values()))
