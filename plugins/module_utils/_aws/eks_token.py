# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bearer token EKS accepts, made the way ``aws eks get-token`` makes it.

A GET of STS ``GetCallerIdentity`` is presigned (SigV4 in the query string,
``X-Amz-Expires=60``) with the extra signed header ``x-k8s-aws-id: <cluster
name>``; the URL is base64url-encoded without padding and prefixed with
``k8s-aws-v1.``.  EKS replays the request to STS to learn who is calling, so
the token carries no secret of its own but lets its holder act as the caller
until it expires (EKS honours it for 15 minutes): treat it as a secret.

Nothing is sent anywhere when a token is made.
"""

from __future__ import annotations

import base64
import datetime

from ansible_collections.adhar.platform.plugins.module_utils._aws.client import client_from_session

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES = 60
# EKS accepts a token for 15 minutes after signing; report a minute less, as the AWS CLI does.
TOKEN_LIFETIME = datetime.timedelta(minutes=14)


def presigned_identity_url(session, cluster_name, endpoint_url=None):
    """The presigned ``GetCallerIdentity`` URL with ``x-k8s-aws-id`` among the signed headers."""
    sts = client_from_session(session, "sts", "the EKS token of cluster %s" % cluster_name, endpoint_url=endpoint_url)

    def add_cluster_header(request, **kwargs):
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    return sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES, HttpMethod="GET")


def encode_token(url):
    """``k8s-aws-v1.`` + base64url(url) without ``=`` padding."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token):
    """The presigned URL inside a token (the inverse of ``encode_token``)."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError("not an EKS token: it does not start with %s" % TOKEN_PREFIX)
    body = token[len(TOKEN_PREFIX):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")


def eks_token(session, cluster_name, endpoint_url=None, now=None):
    """``{"token": ..., "expiration": <ISO 8601 UTC>}`` for ``cluster_name``, signed with ``session``'s credentials."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    token = encode_token(presigned_identity_url(session, cluster_name, endpoint_url=endpoint_url))
    expiration = (now + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"token": token, "expiration": expiration}
