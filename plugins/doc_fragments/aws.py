# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Mirrors AWS_ARG_SPEC in plugins/module_utils/_aws/args.py option for option
# (tests/unit/plugins/module_utils/test_aws_args.py checks it).

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  profile:
    description:
      - Named AWS profile (from C(~/.aws/config) and C(~/.aws/credentials)) to take credentials and region from.
      - Can also be set with the E(AWS_PROFILE) environment variable.
    type: str
    aliases: [aws_profile]
  region:
    description:
      - AWS region, for example V(eu-west-1).
      - Can also be set with the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables (in that order), or come
        from the profile. A region is required.
    type: str
    aliases: [aws_region]
  access_key:
    description:
      - AWS access key ID.
      - Can also be set with the E(AWS_ACCESS_KEY_ID) environment variable.
      - When neither keys nor a profile are given, boto3's usual chain is used (environment, shared files, instance or
        task role).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key for O(access_key). Hidden from the output.
      - Can also be set with the E(AWS_SECRET_ACCESS_KEY) environment variable.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - AWS session token, for temporary credentials. Hidden from the output.
      - Can also be set with the E(AWS_SESSION_TOKEN) environment variable.
    type: str
    aliases: [aws_session_token]
  endpoint_url:
    description:
      - URL that replaces every AWS service endpoint (EKS, EC2, IAM, STS, KMS), for example a local test server.
      - Can also be set with the E(AWS_ENDPOINT_URL) environment variable.
    type: str
    aliases: [aws_endpoint_url]
requirements:
  - boto3
notes:
  - AWS calls that fail for a transient reason (throttling, 5xx answers, connection errors) are retried with jittered
    exponential backoff; other AWS errors fail the task with the AWS error code.
"""
