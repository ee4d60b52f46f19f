# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS errors: which are worth another attempt, and how one reads as an ``AdharError``.

botocore is not imported here: a ``ClientError`` is recognised by its
``response`` dict and transport errors by their class names.
"""

from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import default_is_retryable

AWS_RETRYABLE_CODES = frozenset((
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "SlowDown",
    "TooManyRequestsException", "RequestLimitExceeded", "ProvisionedThroughputExceededException",
    "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable",
    "KMSInternalException", "KeyUnavailableException", "PriorRequestNotComplete",
    "ServerException",
))
_AWS_TRANSPORT_ERRORS = frozenset((
    "EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError",
    "ProxyConnectionError", "ResponseStreamingError", "IncompleteReadError", "HTTPClientError",
))


def aws_error_code(exc):
    """``(code, http status)`` of a botocore ``ClientError``, else ``(None, None)``."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None, None
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code, status


def aws_error_message(exc):
    """The message AWS sent with a ``ClientError`` (else the exception's text)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = (response.get("Error") or {}).get("Message")
        if message:
            return _compact(message)
    return _compact(exc)


def _compact(text, limit=500):
    """One line of at most ``limit`` characters (some endpoints answer errors with an HTML page)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def aws_retryable(exc):
    """True for AWS throttling, 5xx (not 501) and transport errors; falls back to ``default_is_retryable``."""
    code, status = aws_error_code(exc)
    if code is not None or status is not None:
        if code in AWS_RETRYABLE_CODES:
            return True
        return isinstance(status, int) and (status == 429 or (status >= 500 and status != 501))
    if any(cls.__name__ in _AWS_TRANSPORT_ERRORS for cls in type(exc).__mro__):
        return True
    return default_is_retryable(exc)


def aws_error(exc, service, operation, what=None, **details):
    """An ``AdharError`` for a failed AWS call: ``<what>: AWS <service> <Operation> failed: <Code>: <message>``.

    The error code and HTTP status become the details ``aws_error_code`` and ``status``.
    """
    code, status = aws_error_code(exc)
    if code is not None or status is not None:
        text = "%s: %s" % (code or "HTTP %s" % status, aws_error_message(exc))
    else:
        text = "%s: %s" % (type(exc).__name__, exc)
    msg = "AWS %s %s failed: %s" % (service, operation, text)
    if what:
        msg = "%s: %s" % (what, msg)
    extra = {"aws_error_code": code, "aws_operation": operation}
    if status is not None:
        extra["status"] = status
    extra.update(details)
    return AdharError(msg, cause=exc, **extra)
