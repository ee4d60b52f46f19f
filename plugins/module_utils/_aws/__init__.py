# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared AWS plumbing for every part of the collection that talks to AWS.

* ``args``     the connection options (``AWS_ARG_SPEC``) <-> ``doc_fragments/aws.py`` (1:1, unit-tested)
* ``errors``   which AWS errors are worth another attempt; ``ClientError`` -> ``AdharError`` with the AWS error code
* ``client``   boto3 session and clients from the connection options, every call retried with the collection's
               jittered backoff (``retries.retry_call``), botocore's own retries switched off
* ``eks_token``  the EKS bearer token (a presigned STS GetCallerIdentity URL), as ``aws eks get-token`` makes it

Nothing here imports boto3 at module level without a guard, so modules import
without it and say what is missing when they need it.
"""
