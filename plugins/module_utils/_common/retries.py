# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retries with capped exponential backoff and full jitter under a deadline.

``retry_call(fn, ...)`` calls ``fn`` until it returns, raises an error that
``is_retryable`` rejects, or the overall ``deadline`` (seconds) is used up.
Between attempts it sleeps ``uniform(0, min(cap, base * 2 ** (attempt - 1)))``
("full jitter"), or what a 429/503 ``Retry-After`` header asks for.

What is retried by default (``default_is_retryable``):

* Kubernetes ``ApiException`` with status 429, 5xx (but not 501), or 0
  (the SDK's "no HTTP answer" status) unless the reason is permanent
  (TLS certificate verification, unsupported content type);
* any error whose text carries a transient etcd message
  (``etcdserver: leader changed``, ``request timed out``, ...);
* urllib3 transport errors (``MaxRetryError`` unless it wraps a TLS error,
  ``ProtocolError``, ``NewConnectionError``, ``ConnectTimeoutError``,
  ``ReadTimeoutError``), ``ConnectionError``, ``TimeoutError`` and DNS
  errors (``socket.gaierror``).

4xx other than 429 are never retried.  The SDK is not imported here: an
``ApiException`` is recognised through ``sys.modules``.
"""

from __future__ import annotations

import email.utils
import random
import socket
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, is_api_exception

try:
    import urllib3.exceptions as _urllib3_exc
except ImportError as exc:  # pragma: no cover - urllib3 comes with the SDK
    _urllib3_exc = None
    URLLIB3_IMPORT_ERROR = exc
else:
    URLLIB3_IMPORT_ERROR = None

# Messages etcd (through the API server) uses for conditions that go away
# on their own.  Matched case-insensitively anywhere in the error text.
ETCD_TRANSIENT_MESSAGES = (
    "etcdserver: leader changed",
    "etcdserver: request timed out",
    "etcdserver: no leader",
    "etcdserver: too many requests",
    "etcdserver: server stopped",
)

# Parts of an SDK status-0 reason that will not change by retrying.
_PERMANENT_STATUS0 = (
    "certificate_verify_failed",
    "certificate verify failed",
    "wrong_version_number",
    "unsupported content type",
    "cannot prepare a request",
)


def full_jitter(attempt, base=0.25, cap=8.0, rand=random.random):
    """Sleep before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**(attempt-1))]."""
    attempt = max(1, int(attempt))
    # Bound the exponent so huge attempt numbers cannot overflow.
    ceiling = min(float(cap), float(base) * (2 ** min(attempt - 1, 62)))
    return max(0.0, ceiling * rand())


def _header(headers, name):
    if not headers:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        value = None
    if value is None:
        try:
            items = headers.items()
        except AttributeError:
            return None
        lname = name.lower()
        for key, val in items:
            if str(key).lower() == lname:
                return val
    return value


def retry_after_seconds(exc, now=None):
    """Seconds asked by a ``Retry-After`` header on a 429/503 ``ApiException``, else ``None``."""
    if getattr(exc, "status", None) not in (429, 503):
        return None
    return retry_after_header(getattr(exc, "headers", None), now)


def retry_after_header(headers, now=None):
    """Seconds the ``Retry-After`` header of ``headers`` asks for (seconds or an HTTP date), else ``None``."""
    value = _header(headers, "Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _error_text(exc):
    parts = [str(exc)]
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        parts.append(body)
    reason = getattr(exc, "reason", None)
    if reason is not None:
        parts.append(str(reason))
    return " ".join(parts).lower()


def is_etcd_transient(exc):
    """True if the error text carries one of ``ETCD_TRANSIENT_MESSAGES``."""
    text = _error_text(exc)
    return any(m in text for m in ETCD_TRANSIENT_MESSAGES)


def _urllib3_retryable(exc):
    if _urllib3_exc is None:
        return False
    if isinstance(exc, _urllib3_exc.MaxRetryError):
        reason = getattr(exc, "reason", None)
        if isinstance(reason, _urllib3_exc.SSLError):
            return False
        return True
    return isinstance(exc, (
        _urllib3_exc.ProtocolError,
        _urllib3_exc.NewConnectionError,
        _urllib3_exc.ConnectTimeoutError,
        _urllib3_exc.ReadTimeoutError,
    ))


def default_is_retryable(exc):
    """Decide whether ``exc`` is worth another attempt (see the module docstring)."""
    if is_api_exception(exc) or (type(exc).__name__ == "ApiException" and isinstance(getattr(exc, "status", None), int)):
        status = getattr(exc, "status", None)
        if status == 429:
            return True
        if status == 0 or status is None:
            text = _error_text(exc)
            return not any(p in text for p in _PERMANENT_STATUS0)
        if isinstance(status, int) and status >= 500 and status != 501:
            return True
        return False
    if _urllib3_retryable(exc):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror, socket.herror)):
        return True
    if isinstance(exc, AdharError):
        return False
    return is_etcd_transient(exc)


def retry_call(fn, *args, deadline=120.0, base=0.25, cap=8.0, is_retryable=default_is_retryable,
               sleep=time.sleep, clock=time.monotonic, on_retry=None, **kwargs):
    """Call ``fn(*args, **kwargs)``, retrying transient errors until ``deadline`` seconds have passed.

    ``on_retry(exc, attempt, delay)`` is called before each sleep (for logs).
    An error ``is_retryable`` rejects is raised as is.  When the deadline
    leaves no room for another attempt, an ``AdharError`` is raised naming
    the number of attempts, the time spent and the last error; the last
    error is its ``cause`` (``__cause__``), and ``status``/``reason`` of an
    ``ApiException`` are copied into its details.
    """
    deadline = max(0.0, float(deadline if deadline is not None else 0.0))
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            elapsed = clock() - start
            remaining = deadline - elapsed
            asked = retry_after_seconds(exc)
            if asked is not None:
                # The server said when to come back; coming back earlier is
                # pointless, so give up if that is past the deadline.
                delay = asked
                give_up = remaining <= 0 or asked > remaining
            else:
                delay = min(full_jitter(attempt, base, cap), max(remaining, 0.0))
                give_up = remaining <= 0
            if give_up:
                raise _gave_up(fn, exc, attempt, elapsed) from exc
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            if delay > 0:
                sleep(delay)


def _describe(exc):
    status = getattr(exc, "status", None)
    if isinstance(status, int) and hasattr(exc, "reason"):
        text = "HTTP {0} {1}".format(status, getattr(exc, "reason", "") or "").strip()
        if is_etcd_transient(exc):
            text += " (etcd: {0})".format(next(m for m in ETCD_TRANSIENT_MESSAGES if m in _error_text(exc)))
        return text
    text = str(exc).strip().splitlines()
    return "{0}: {1}".format(type(exc).__name__, text[0][:500]) if text else type(exc).__name__


def _gave_up(fn, exc, attempts, elapsed):
    target = getattr(fn, "func", fn)  # functools.partial
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    details = {"attempts": attempts, "elapsed": round(elapsed, 3)}
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        details["status"] = status
        details["reason"] = getattr(exc, "reason", None)
    msg = "Giving up on {0} after {1} attempt{2} over {3:.1f}s; last error: {4}".format(
        name, attempts, "" if attempts == 1 else "s", elapsed, _describe(exc))
    return AdharError(msg, cause=exc, **details)


__all__ = [
    "ETCD_TRANSIENT_MESSAGES",
    "default_is_retryable",
    "full_jitter",
    "is_etcd_transient",
    "retry_after_seconds",
    "retry_call",
]
