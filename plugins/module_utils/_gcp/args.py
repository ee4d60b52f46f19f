# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Google Cloud connection options, mirrored 1:1 by ``plugins/doc_fragments/gcp.py``.

No name or alias may collide with the Kubernetes connection options
(``args_common.K8S_AUTH_ARG_SPEC``) or the AWS ones (``_aws.args.AWS_ARG_SPEC``);
a unit test checks it.  That is why the endpoint option is ``gcp_endpoint_url``.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

# Option name -> environment variables read (first set wins) when the option is not given.
GCP_ENV = {
    "project": ["CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"],
    "credentials_file": ["GOOGLE_APPLICATION_CREDENTIALS"],
    "service_account_contents": [],
    "access_token": ["GOOGLE_OAUTH_ACCESS_TOKEN"],
    "gcp_endpoint_url": ["CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER"],
}

GCP_ARG_SPEC = {
    "project": {
        "type": "str",
        "aliases": ["gcp_project"],
        "fallback": (env_fallback, GCP_ENV["project"]),
    },
    "credentials_file": {
        "type": "path",
        "aliases": ["gcp_credentials_file", "service_account_file"],
        "fallback": (env_fallback, GCP_ENV["credentials_file"]),
    },
    "service_account_contents": {
        "type": "raw",
        "aliases": ["gcp_service_account_contents"],
        "no_log": True,
    },
    "access_token": {
        "type": "str",
        "aliases": ["gcp_access_token"],
        "no_log": True,
        "fallback": (env_fallback, GCP_ENV["access_token"]),
    },
    "gcp_endpoint_url": {
        "type": "str",
        "fallback": (env_fallback, GCP_ENV["gcp_endpoint_url"]),
    },
}


def gcp_params(params):
    """The GCP connection options found in ``params`` (every key present, ``None`` when not set)."""
    params = params or {}
    return {name: params.get(name) for name in GCP_ARG_SPEC}
