# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EKS token: format, the presigned URL inside it, and its SigV4 signature recomputed independently."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import urllib.parse

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._aws import eks_token as tok

boto3 = pytest.importorskip("boto3")

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def session(region="eu-west-1", token=None):
    return boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=SECRET,
                                 aws_session_token=token, region_name=region)


def split(token):
    url = tok.decode_token(token)
    parts = urllib.parse.urlsplit(url)
    return parts, dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))


def expected_signature(parts, query, cluster, secret=SECRET):
    """SigV4 of a presigned GET, computed from the specification (not with botocore)."""
    def enc(v):
        return urllib.parse.quote(v, safe="-_.~")
    canonical_query = "&".join("%s=%s" % (enc(k), enc(v)) for k, v in sorted(query.items()) if k != "X-Amz-Signature")
    signed = query["X-Amz-SignedHeaders"].split(";")
    values = {"host": parts.netloc, "x-k8s-aws-id": cluster}
    canonical_headers = "".join("%s:%s\n" % (h, values[h]) for h in signed)
    request = "\n".join(["GET", parts.path or "/", canonical_query, canonical_headers, ";".join(signed),
                         hashlib.sha256(b"").hexdigest()])
    date, region, service, terminator = query["X-Amz-Credential"].split("/")[1:]
    scope = "/".join((date, region, service, terminator))
    to_sign = "\n".join(["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope, hashlib.sha256(request.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_token_shape_and_presigned_url():
    now = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
    out = tok.eks_token(session(), "prod-aws", now=now)
    token = out["token"]
    assert token.startswith("k8s-aws-v1.")
    body = token[len("k8s-aws-v1."):]
    assert "=" not in body and "+" not in body and "/" not in body  # base64url, no padding
    assert out["expiration"] == "2026-01-01T12:14:00Z"
    parts, query = split(token)
    assert (parts.scheme, parts.netloc, parts.path or "/") == ("https", "sts.eu-west-1.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/") and query["X-Amz-Credential"].endswith(
        "/eu-west-1/sts/aws4_request")
    assert len(query["X-Amz-Signature"]) == 64


def test_signature_covers_the_cluster_header():
    parts, query = split(tok.eks_token(session(), "prod-aws")["token"])
    assert query["X-Amz-Signature"] == expected_signature(parts, query, "prod-aws")
    # the same URL presented for another cluster does not verify
    assert query["X-Amz-Signature"] != expected_signature(parts, query, "other")


def test_session_token_is_signed_in_and_endpoint_override():
    parts, query = split(tok.eks_token(session(token="FQoGZXIvYXdzEXAMPLE"), "c1",
                                       endpoint_url="http://127.0.0.1:5000")["token"])
    assert parts.netloc == "127.0.0.1:5000"
    assert query["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLE"
    assert query["X-Amz-Signature"] == expected_signature(parts, query, "c1")


def test_encode_decode_round_trip_and_refusal():
    for url in ("https://sts.amazonaws.com/?a=1", "https://x/?" + "b" * 7, "https://x/?" + "c" * 8):
        assert tok.decode_token(tok.encode_token(url)) == url
    with pytest.raises(ValueError, match="not an EKS token"):
        tok.decode_token("Bearer abc")
