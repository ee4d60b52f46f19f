# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""boto3 sessions and clients built from the connection options; every call retried and translated.

``aws_client()`` makes one client with botocore's retries switched off (the
caller retries with ``retries.retry_call``, so the two never multiply).
``AwsConnection`` holds one session for a task: ``client(service)`` caches
clients, ``call(service, operation, **kwargs)`` retries throttling, 5xx and
transport errors with full-jitter backoff under ``retry_deadline`` seconds and
turns any other failure into one ``AdharError`` carrying the AWS error code.

About the package ``_aws``: shared AWS plumbing for every part of the collection that talks to AWS.

* ``args``     the connection options (``AWS_ARG_SPEC``) <-> ``doc_fragments/aws.py`` (1:1, unit-tested)
* ``errors``   which AWS errors are worth another attempt; ``ClientError`` -> ``AdharError`` with the AWS error code
* ``client``   boto3 session and clients from the connection options, every call retried with the collection's
               jittered backoff (``retries.retry_call``), botocore's own retries switched off
* ``eks_token``  the EKS bearer token (a presigned STS GetCallerIdentity URL), as ``aws eks get-token`` makes it

Nothing here imports boto3 at module level without a guard, so modules import
without it and say what is missing when they need it.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_library
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import retry_call
from ansible_collections.adhar.platform.plugins.module_utils._aws.args import aws_params
from ansible_collections.adhar.platform.plugins.module_utils._aws.errors import aws_error, aws_retryable

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:  # pragma: no cover - exercised by sanity's import test
    boto3 = Config = None
    BOTO3_IMPORT_ERROR = exc

    class BotoCoreError(Exception):
        """Stand-in so that ``except`` clauses work without botocore (never raised)."""

    class ClientError(Exception):
        """Stand-in so that ``except`` clauses work without botocore (never raised)."""
else:
    BOTO3_IMPORT_ERROR = None

DEFAULT_RETRY_DEADLINE = 120.0

# Service names as people write them in messages.
_SERVICE_TITLES = {"eks": "EKS", "ec2": "EC2", "iam": "IAM", "sts": "STS", "kms": "KMS", "s3": "S3"}


def require_boto3(what):
    """One error naming boto3 or botocore when either is missing or too old for ``what``."""
    check_library("boto3", BOTO3_IMPORT_ERROR, purpose="for %s" % what)
    check_library("botocore", purpose="for %s" % what)


def aws_session(what, region=None, profile=None, **credentials):
    """A boto3 session; empty ``credentials`` leave boto3's usual chain (environment, profile, role) in charge."""
    require_boto3(what)
    session_args = {k: v for k, v in credentials.items() if v}
    if profile:
        session_args["profile_name"] = profile
    if region:
        session_args["region_name"] = region
    try:
        return boto3.session.Session(**session_args)
    except BotoCoreError as exc:
        raise AdharError("cannot set up an AWS session for %s: %s" % (what, exc)) from exc


def client_from_session(session, service, what, endpoint_url=None, verify=True, pool=10):
    """A client of ``session`` for ``service`` with botocore's retries off."""
    try:
        config = Config(retries={"total_max_attempts": 1}, max_pool_connections=pool)
        return session.client(service, endpoint_url=endpoint_url or None, verify=verify, config=config)
    except BotoCoreError as exc:
        raise AdharError("cannot set up the AWS %s client for %s: %s" % (service, what, exc)) from exc


def aws_client(service, what, region=None, endpoint_url=None, profile=None, verify=True, pool=10, **credentials):
    """A boto3 client for ``service`` with botocore's retries off (callers use ``retries.retry_call``).

    ``what`` names the user of the client in errors; empty ``credentials`` leave boto3's chain in charge.
    """
    session = aws_session(what, region=region, profile=profile, **credentials)
    return client_from_session(session, service, what, endpoint_url=endpoint_url, verify=verify, pool=pool)


class AwsConnection:
    """One AWS session for a task, from the connection options of ``AWS_ARG_SPEC``.

    ``what`` names the task in errors (``"cluster demo"``).  ``on_call(service,
    operation, kwargs)`` is called before every attempt (for logs and tests).
    """

    def __init__(self, params, what, retry_deadline=DEFAULT_RETRY_DEADLINE, on_call=None):
        opts = aws_params(params)
        self.what = what
        self.region = opts["region"]
        self.endpoint_url = opts["endpoint_url"]
        self.retry_deadline = retry_deadline
        self.on_call = on_call
        self.session = aws_session(what, region=opts["region"], profile=opts["profile"],
                                   aws_access_key_id=opts["access_key"], aws_secret_access_key=opts["secret_key"],
                                   aws_session_token=opts["session_token"])
        if not self.session.region_name:
            raise AdharError("region: no AWS region given; set the region option, AWS_REGION or AWS_DEFAULT_REGION, "
                             "or a region in the AWS profile", option="region")
        self.region = self.session.region_name
        self._clients = {}

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = client_from_session(self.session, service, self.what, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def call(self, service, operation, what=None, **kwargs):
        """``client(service).<operation>(**kwargs)``, retried on transient errors; other errors raise ``AdharError``.

        ``operation`` is the snake_case method name; ``what`` prefixes the error message (an option name, say).
        """
        method = getattr(self.client(service), operation)

        def attempt():
            if self.on_call is not None:
                self.on_call(service, operation, kwargs)
            return method(**kwargs)

        try:
            return retry_call(attempt, deadline=self.retry_deadline, is_retryable=aws_retryable)
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, _SERVICE_TITLES.get(service, service), _pascal(operation), what) from exc
        except AdharError as exc:
            cause = exc.cause
            if isinstance(cause, (ClientError, BotoCoreError)):
                attempts = exc.details.get("attempts")
                err = aws_error(cause, _SERVICE_TITLES.get(service, service), _pascal(operation), what, attempts=attempts)
                err.msg = "%s (gave up after %s attempt%s)" % (err.msg, attempts, "" if attempts == 1 else "s")
                raise err from cause
            raise

    def paginate(self, service, operation, key, what=None, **kwargs):
        """All items under ``key`` of a paginated ``operation`` (each page fetched through ``call``)."""
        items = []
        token_name, out_token = _PAGINATION.get((service, operation), ("nextToken", "nextToken"))
        while True:
            page = self.call(service, operation, what=what, **kwargs)
            items.extend(page.get(key) or [])
            token = page.get(out_token)
            if not token:
                return items
            kwargs[token_name] = token


# (service, operation) -> (request token parameter, response token key) where they differ from EKS's nextToken.
_PAGINATION = {
    ("ec2", "describe_subnets"): ("NextToken", "NextToken"),
}


def _pascal(operation):
    return "".join(part.capitalize() for part in operation.split("_"))
