# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS connection options, mirrored 1:1 by ``plugins/doc_fragments/aws.py``.

Names follow amazon.aws (``profile``, ``region``, ``access_key``, ...) with
their ``aws_*`` aliases; no name or alias may collide with the Kubernetes
connection options of ``_common.args.K8S_AUTH_ARG_SPEC`` (a unit test checks
it).  ``validate_certs`` is deliberately not here: it is a Kubernetes option.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

# Option name -> environment variables read (first set wins) when the option is not given.
AWS_ENV = {
    "profile": ["AWS_PROFILE"],
    "region": ["AWS_REGION", "AWS_DEFAULT_REGION"],
    "access_key": ["AWS_ACCESS_KEY_ID"],
    "secret_key": ["AWS_SECRET_ACCESS_KEY"],
    "session_token": ["AWS_SESSION_TOKEN"],
    "endpoint_url": ["AWS_ENDPOINT_URL"],
}

AWS_ARG_SPEC = {
    "profile": {
        "type": "str",
        "aliases": ["aws_profile"],
        "fallback": (env_fallback, AWS_ENV["profile"]),
    },
    "region": {
        "type": "str",
        "aliases": ["aws_region"],
        "fallback": (env_fallback, AWS_ENV["region"]),
    },
    "access_key": {
        "type": "str",
        "aliases": ["aws_access_key_id", "aws_access_key"],
        # An access key id identifies, it does not authenticate; the secret key does.
        "no_log": False,
        "fallback": (env_fallback, AWS_ENV["access_key"]),
    },
    "secret_key": {
        "type": "str",
        "aliases": ["aws_secret_access_key", "aws_secret_key"],
        "no_log": True,
        "fallback": (env_fallback, AWS_ENV["secret_key"]),
    },
    "session_token": {
        "type": "str",
        "aliases": ["aws_session_token"],
        "no_log": True,
        "fallback": (env_fallback, AWS_ENV["session_token"]),
    },
    "endpoint_url": {
        "type": "str",
        "aliases": ["aws_endpoint_url"],
        "fallback": (env_fallback, AWS_ENV["endpoint_url"]),
    },
}


def aws_params(params):
    """The AWS connection options found in ``params`` (every key present, ``None`` when not set)."""
    params = params or {}
    return {name: params.get(name) for name in AWS_ARG_SPEC}
