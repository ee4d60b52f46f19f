# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Mirrors GCP_ARG_SPEC in plugins/module_utils/_gcp/args.py option for option
# (tests/unit/plugins/module_utils/test_gcp_args.py checks it).

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  project:
    description:
      - Google Cloud project ID.
      - Can also be set with the E(CLOUDSDK_CORE_PROJECT) or E(GOOGLE_CLOUD_PROJECT) environment variables (in that
        order), or come from the C(project_id) of the service-account credentials. A project is required.
    type: str
    aliases: [gcp_project]
  credentials_file:
    description:
      - Path to a credentials JSON file (a service-account key, or any file C(google.auth.load_credentials_from_file)
        reads).
      - Can also be set with the E(GOOGLE_APPLICATION_CREDENTIALS) environment variable.
      - When no credentials are given at all, Application Default Credentials are used (C(gcloud auth
        application-default login), the metadata server).
    type: path
    aliases: [gcp_credentials_file, service_account_file]
  service_account_contents:
    description:
      - The contents of a service-account key, as a JSON string or a dictionary. Hidden from the output.
      - Takes precedence over O(credentials_file).
    type: raw
    aliases: [gcp_service_account_contents]
  access_token:
    description:
      - An OAuth 2.0 access token to call Google Cloud with, used as is (no refresh). Hidden from the output.
      - Takes precedence over every other kind of credentials.
      - Can also be set with the E(GOOGLE_OAUTH_ACCESS_TOKEN) environment variable.
    type: str
    aliases: [gcp_access_token]
  gcp_endpoint_url:
    description:
      - Base URL that replaces C(https://container.googleapis.com/) (and the other Google APIs the task calls), for a
        private endpoint or a local test server.
      - Can also be set with the E(CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER) environment variable.
    type: str
requirements:
  - google-auth
  - requests
notes:
  - Google Cloud calls that fail for a transient reason (429, 5xx answers, connection errors) are retried with jittered
    exponential backoff; other errors fail the task with Google's status (such as C(NOT_FOUND)) and message.
"""
