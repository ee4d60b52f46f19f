# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.doc_fragments import storage as storage_fragment
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import ENCRYPTION_ARG_SPEC, VERIFY_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import (
    STORAGE_ARG_SPEC,
    LocalStorage,
    S3Storage,
    normalize_storage_params,
    parse_url,
    storage_from_params,
)
from ansible_collections.adhar.platform.plugins.module_utils._aws.errors import aws_retryable


def _options(doc):
    return yaml.safe_load(doc)["options"]


@pytest.mark.parametrize("spec, doc", [
    (STORAGE_ARG_SPEC, storage_fragment.ModuleDocFragment.DOCUMENTATION),
    (ENCRYPTION_ARG_SPEC, storage_fragment.ModuleDocFragment.ENCRYPTION),
    (VERIFY_ARG_SPEC, storage_fragment.ModuleDocFragment.VERIFICATION),
], ids=["storage", "encryption", "verification"])
def test_fragment_mirrors_spec(spec, doc, assert_fragment_mirrors):
    assert_fragment_mirrors(spec, _options(doc))


def test_secrets_are_no_log():
    opts = STORAGE_ARG_SPEC["storage"]["options"]
    assert opts["aws_secret_access_key"]["no_log"] is True
    assert opts["aws_session_token"]["no_log"] is True
    assert opts["aws_access_key_id"]["no_log"] is False
    assert ENCRYPTION_ARG_SPEC["encryption"]["options"]["key"]["no_log"] is True


def test_spec_validates_through_ansible():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec = dict(STORAGE_ARG_SPEC, **ENCRYPTION_ARG_SPEC)
    result = ArgumentSpecValidator(spec).validate({
        "storage": {"type": "s3", "bucket": "b", "endpoint": "http://x", "secret_key": "S", "access_key": "A"},
        "encryption": {"key_env": "K"},
    })
    assert result.error_messages == []
    assert result.validated_parameters["storage"]["endpoint_url"] == "http://x"
    assert "S" in result._no_log_values
    bad = ArgumentSpecValidator(spec).validate({"storage": {"url": "s3://b", "bucket": "c"},
                                                "encryption": {"key": "k", "key_file": "/f"}})
    messages = " ".join(bad.error_messages)
    assert "mutually exclusive" in messages and "url" in messages and "key_file" in messages


@pytest.mark.parametrize("url, expected", [
    ("file:///var/backups", {"type": "local", "path": "/var/backups"}),
    ("file://localhost/var/b%20x", {"type": "local", "path": "/var/b x"}),
    ("/srv/backups", {"type": "local", "path": "/srv/backups"}),
    ("s3://bucket", {"type": "s3", "bucket": "bucket", "prefix": ""}),
    ("s3://bucket/team/prod/", {"type": "s3", "bucket": "bucket", "prefix": "team/prod"}),
])
def test_parse_url(url, expected):
    assert parse_url(url) == expected


@pytest.mark.parametrize("url, words", [
    ("file://host/x", "names host"),
    ("s3:///prefix", "names no bucket"),
    ("s3://b/p?region=x", "query strings"),
    ("gs://b", "is not file:///path or s3://bucket/prefix"),
    ("relative/dir", "is not file:///path"),
])
def test_parse_url_errors(url, words):
    with pytest.raises(AdharError, match=words.replace("?", r"\?")):
        parse_url(url)


def test_storage_from_params(tmp_path):
    local = storage_from_params({"type": "local", "path": str(tmp_path)})
    assert isinstance(local, LocalStorage) and local.root == str(tmp_path)
    assert isinstance(storage_from_params("file://" + str(tmp_path)), LocalStorage)
    assert isinstance(storage_from_params({"path": str(tmp_path)}), LocalStorage)
    s3 = storage_from_params({"url": "s3://bkt/a/b", "region": "eu-west-1", "endpoint": "http://127.0.0.1:9"},
                             part_size=5 * 1024 * 1024)
    assert isinstance(s3, S3Storage)
    expected = ("bkt", "a/b", "eu-west-1", "http://127.0.0.1:9", 5 * 1024 * 1024)
    assert (s3.bucket, s3.prefix, s3.region, s3.endpoint_url, s3.part_size) == expected
    assert s3.location == "s3://bkt/a/b"
    assert "aws" not in str(s3.describe())
    # the adhar config's storage block as it is
    cfg = storage_from_params({"type": "s3", "bucket": "adhar-backups", "region": "us-east-1", "prefix": "prod",
                               "endpoint": "https://minio.local"})
    assert cfg.endpoint_url == "https://minio.local" and cfg.prefix == "prod"


@pytest.mark.parametrize("params, words", [
    ({}, "say where backups live"),
    ({"type": "local"}, "type local needs path"),
    ({"type": "s3"}, "type s3 needs bucket"),
    ({"type": "local", "path": "/x", "bucket": "b"}, "bucket apply only to s3"),
    ({"type": "s3", "bucket": "b", "path": "/x"}, "path applies to type local"),
    ({"url": "s3://b", "prefix": "p"}, "url cannot be combined with prefix"),
    ({"type": "s3", "bucket": "b", "profile": "p", "aws_access_key_id": "a", "aws_secret_access_key": "s"}, "either profile"),
    ({"type": "s3", "bucket": "b", "aws_access_key_id": "a"}, "go together"),
    ({"type": "s3", "bucket": "b", "color": "red"}, "unknown option 'color'"),
    (42, "must be a dict or a URL"),
])
def test_storage_params_errors(params, words):
    with pytest.raises(AdharError, match=words):
        normalize_storage_params(params)


def test_secret_never_in_error_messages():
    with pytest.raises(AdharError) as err:
        normalize_storage_params({"type": "local", "path": "/x", "aws_secret_access_key": "SUPERSECRET"})
    assert "SUPERSECRET" not in err.value.msg


class FakeClientError(Exception):
    def __init__(self, code, status):
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


class EndpointConnectionError(Exception):
    pass


@pytest.mark.parametrize("exc, retry", [
    (FakeClientError("SlowDown", 503), True),
    (FakeClientError("ThrottlingException", 400), True),
    (FakeClientError("InternalError", 500), True),
    (FakeClientError("Whatever", 502), True),
    (FakeClientError("NotImplemented", 501), False),
    (FakeClientError("AccessDenied", 403), False),
    (FakeClientError("PreconditionFailed", 412), False),
    (FakeClientError("NoSuchKey", 404), False),
    (EndpointConnectionError("down"), True),
    (ConnectionResetError("reset"), True),
    (ValueError("bug"), False),
])
def test_aws_retryable(exc, retry):
    assert aws_retryable(exc) is retry


@pytest.mark.parametrize("params, words", [
    ({"type": "s3", "bucket": "b"}, "storage.bucket 'b' is not an S3 bucket name"),
    ({"type": "s3", "bucket": "My_Bucket"}, "is not an S3 bucket name"),
    ({"type": "s3", "bucket": "a..b"}, "is not an S3 bucket name"),
    ({"type": "s3", "bucket": "192.168.1.10"}, "not an IP address"),
    ({"url": "s3://-bucket"}, "is not an S3 bucket name"),
    ({"type": "s3", "bucket": "bucket", "prefix": "a/../b"}, "storage.prefix 'a/../b': every part"),
    ({"type": "s3", "bucket": "bucket", "prefix": "a//b"}, "storage.prefix"),
    ({"type": "s3", "bucket": "bucket", "region": "EU West"}, "storage.region 'EU West' is not a region name"),
    ({"type": "s3", "bucket": "bucket", "endpoint_url": "minio.local:9000"}, "must be an http:// or https:// URL"),
    ({"type": "s3", "bucket": "bucket", "endpoint_url": "ftp://minio.local"}, "must be an http:// or https:// URL"),
])
def test_s3_parameters_are_checked_for_shape(params, words):
    with pytest.raises(AdharError, match=words.replace(".", r"\.").replace("'", "'")) as info:
        normalize_storage_params(params)
    assert info.value.details["option"].startswith("storage.")


def test_s3_parameters_of_good_shape_pass():
    out = normalize_storage_params({"type": "s3", "bucket": "adhar-backups.eu", "prefix": "/team/prod/", "region": "eu-west-1",
                                    "endpoint_url": "https://127.0.0.1:9000"})
    assert out["bucket"] == "adhar-backups.eu"
