# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GCP connection options: spec <-> doc fragment, environment fallbacks, no clash with the k8s or AWS options."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.doc_fragments import gcp as gcp_fragment
from ansible_collections.adhar.platform.plugins.module_utils._aws.args import AWS_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._gcp.args import GCP_ARG_SPEC, GCP_ENV, gcp_params
from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule

GCP_VARS = ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER")


@pytest.fixture(autouse=True)
def clean_gcp_env(monkeypatch, clean_k8s_env):
    for var in GCP_VARS:
        monkeypatch.delenv(var, raising=False)


def _fragment_options():
    return yaml.safe_load(gcp_fragment.ModuleDocFragment.DOCUMENTATION)["options"]


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
    assert sorted(_fragment_options()) == sorted(GCP_ARG_SPEC)


@pytest.mark.parametrize("name", sorted(GCP_ARG_SPEC))
def test_fragment_mirrors_spec(name):
    spec, doc = GCP_ARG_SPEC[name], _fragment_options()[name]
    assert doc.get("type", "str") == spec.get("type", "str")
    assert doc.get("default") == spec.get("default")
    assert sorted(doc.get("aliases") or []) == sorted(spec.get("aliases") or [])
    assert doc.get("required", False) == spec.get("required", False)
    assert doc.get("choices") == spec.get("choices")


@pytest.mark.parametrize("name", sorted(GCP_ARG_SPEC))
def test_env_fallbacks_match_the_table_and_the_docs(name):
    if GCP_ENV[name]:
        assert GCP_ARG_SPEC[name]["fallback"][1] == GCP_ENV[name]
    else:
        assert "fallback" not in GCP_ARG_SPEC[name]
    for var in GCP_ENV[name]:
        assert "E(%s)" % var in _text(_fragment_options()[name])


def test_every_documented_variable_is_read():
    assert sorted(v for vars_ in GCP_ENV.values() for v in vars_) == sorted(GCP_VARS)


def test_no_name_or_alias_collides_with_the_kubernetes_or_aws_options():
    assert not _names(GCP_ARG_SPEC) & _names(K8S_AUTH_ARG_SPEC)
    assert not _names(GCP_ARG_SPEC) & _names(AWS_ARG_SPEC)


def test_secrets_are_hidden():
    assert GCP_ARG_SPEC["access_token"]["no_log"] is True
    assert GCP_ARG_SPEC["service_account_contents"]["no_log"] is True


def test_through_ansible_module_env_aliases_and_precedence(module_args, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-google-env")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/tmp/sa.json")
    module_args({"gcp_access_token": "ya29.secret", "gcp_service_account_contents": '{"type": "service_account"}'})
    m = AdharModule(dict(GCP_ARG_SPEC), k8s_auth=True)
    p = gcp_params(m.params)
    assert p == {"project": "from-google-env", "credentials_file": "/tmp/sa.json", "access_token": "ya29.secret",
                 "service_account_contents": '{"type": "service_account"}', "gcp_endpoint_url": None}
    assert {"ya29.secret"} <= set(m.no_log_values)
    # CLOUDSDK_CORE_PROJECT wins over GOOGLE_CLOUD_PROJECT
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "from-gcloud")
    module_args({})
    assert AdharModule(dict(GCP_ARG_SPEC)).params["project"] == "from-gcloud"


def test_the_cluster_module_takes_all_three_families(module_args):
    from ansible_collections.adhar.platform.plugins.modules import cluster
    spec = cluster.argument_spec()
    assert set(GCP_ARG_SPEC) <= set(spec) and set(AWS_ARG_SPEC) <= set(spec)
    # the module's spec wins over the Kubernetes family on a name it redefines (cluster redefines kubeconfig only)
    merged = dict(K8S_AUTH_ARG_SPEC, **spec)
    assert set(spec) & set(K8S_AUTH_ARG_SPEC) <= {"kubeconfig"}
    all_names = _names(merged)
    assert len(all_names) == sum(1 + len(o.get("aliases") or []) for o in merged.values())
