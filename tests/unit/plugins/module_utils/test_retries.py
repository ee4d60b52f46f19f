# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import email.utils
import json
import random
import socket

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from ansible_collections.adhar.platform.plugins.module_utils._common import retries
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import (
    default_is_retryable,
    full_jitter,
    retry_after_seconds,
    retry_call,
)


class FakeTime:
    """A clock that only moves when ``sleep`` is called."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def api_error(status, reason="", body=None, headers=None):
    exc = ApiException(status=status, reason=reason)
    exc.body = body
    exc.headers = headers
    return exc


class Failing:
    """Callable raising the given errors in turn, then returning ``result``."""

    def __init__(self, *errors, result="ok", forever=None):
        self.errors = list(errors)
        self.forever = forever
        self.result = result
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.errors:
            raise self.errors.pop(0)
        if self.forever is not None:
            raise self.forever
        return self.result


# -- jitter ------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10, 50])
def test_full_jitter_within_bounds(attempt):
    rng = random.Random(attempt)
    ceiling = min(8.0, 0.25 * 2 ** (attempt - 1))
    samples = [full_jitter(attempt, 0.25, 8.0, rand=rng.random) for dummy in range(500)]
    assert all(0.0 <= s <= ceiling for s in samples)
    # Full jitter spreads over the whole range, not just near the top.
    assert min(samples) < ceiling * 0.1
    assert max(samples) > ceiling * 0.9


def test_full_jitter_edges():
    assert full_jitter(3, 0.5, 10.0, rand=lambda: 0.0) == 0.0
    assert full_jitter(3, 0.5, 10.0, rand=lambda: 1.0) == 2.0
    assert full_jitter(10_000, 0.5, 10.0, rand=lambda: 1.0) == 10.0  # capped, no overflow
    assert full_jitter(0, 0.5, 10.0, rand=lambda: 1.0) == 0.5  # attempt < 1 treated as 1


# -- what is retryable -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 0])
def test_retryable_statuses(status):
    assert default_is_retryable(api_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 422, 501])
def test_not_retryable_statuses(status):
    assert not default_is_retryable(api_error(status))


def test_status_zero_tls_failure_is_not_retryable():
    assert not default_is_retryable(api_error(0, reason="SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))


def test_etcd_leader_changed_in_500_body():
    body = json.dumps({"kind": "Status", "message": "etcdserver: leader changed", "code": 500})
    assert default_is_retryable(api_error(500, "Internal Server Error", body=body))


def test_etcd_messages_outside_api_exceptions():
    assert default_is_retryable(RuntimeError("rpc error: code = Unavailable desc = etcdserver: leader changed"))
    assert not default_is_retryable(RuntimeError("something else"))


@pytest.mark.parametrize("exc", [
    urllib3.exceptions.MaxRetryError(None, "/api", reason=urllib3.exceptions.NewConnectionError(None, "refused")),
    urllib3.exceptions.ProtocolError("Connection aborted."),
    urllib3.exceptions.NewConnectionError(None, "refused"),
    urllib3.exceptions.ReadTimeoutError(None, "/api", "read timed out"),
    urllib3.exceptions.ConnectTimeoutError("connect timed out"),
    ConnectionResetError(104, "reset"),
    ConnectionRefusedError(111, "refused"),
    TimeoutError("timed out"),
    socket.gaierror(-3, "Temporary failure in name resolution"),
])
def test_transport_errors_are_retryable(exc):
    assert default_is_retryable(exc)


@pytest.mark.parametrize("exc", [
    urllib3.exceptions.MaxRetryError(None, "/api", reason=urllib3.exceptions.SSLError("certificate verify failed")),
    ValueError("bad"),
    KeyError("k"),
    FileNotFoundError(2, "missing"),
    AdharError("ours"),
])
def test_other_errors_are_not_retryable(exc):
    assert not default_is_retryable(exc)


# -- Retry-After -------------------------------------------------------------------------------


def test_retry_after_seconds_forms():
    assert retry_after_seconds(api_error(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(api_error(429, headers={"retry-after": "1.5"})) == 1.5
    assert retry_after_seconds(api_error(503, headers={"Retry-After": "2"})) == 2.0
    assert retry_after_seconds(api_error(429, headers={})) is None
    assert retry_after_seconds(api_error(500, headers={"Retry-After": "2"})) is None
    assert retry_after_seconds(api_error(429, headers={"Retry-After": "soon"})) is None
    date = email.utils.formatdate(2_000_000_010, usegmt=True)
    assert retry_after_seconds(api_error(429, headers={"Retry-After": date}), now=2_000_000_000) == pytest.approx(10.0)


def test_429_retry_after_is_honoured():
    t = FakeTime()
    fn = Failing(api_error(429, "Too Many Requests", headers={"Retry-After": "3"}))
    assert retry_call(fn, deadline=60, sleep=t.sleep, clock=t.clock) == "ok"
    assert t.sleeps == [3.0]
    assert len(fn.calls) == 2


def test_retry_after_beyond_deadline_gives_up_without_sleeping():
    t = FakeTime()
    fn = Failing(forever=api_error(429, "Too Many Requests", headers={"Retry-After": "30"}))
    with pytest.raises(AdharError) as info:
        retry_call(fn, deadline=10, sleep=t.sleep, clock=t.clock)
    assert t.sleeps == []
    assert len(fn.calls) == 1
    assert info.value.details["status"] == 429


# -- retry_call --------------------------------------------------------------------------------


def test_success_after_transient_errors_passes_args_and_bounds_sleeps():
    t = FakeTime()
    fn = Failing(api_error(503), ConnectionResetError(), api_error(500), result={"kind": "Namespace"})
    out = retry_call(fn, "a", deadline=60, base=0.5, cap=4.0, sleep=t.sleep, clock=t.clock, name="x")
    assert out == {"kind": "Namespace"}
    assert len(fn.calls) == 4
    assert all(call == (("a",), {"name": "x"}) for call in fn.calls)
    for attempt, slept in enumerate(t.sleeps, start=1):
        assert 0 <= slept <= min(4.0, 0.5 * 2 ** (attempt - 1))


def test_404_is_not_retried():
    t = FakeTime()
    fn = Failing(forever=api_error(404, "Not Found"))
    with pytest.raises(ApiException) as info:
        retry_call(fn, deadline=60, sleep=t.sleep, clock=t.clock)
    assert info.value.status == 404
    assert len(fn.calls) == 1
    assert t.sleeps == []


def test_gives_up_at_deadline_with_summary():
    t = FakeTime()
    err = api_error(503, "Service Unavailable")
    fn = Failing(forever=err)
    with pytest.raises(AdharError) as info:
        retry_call(fn, deadline=20, base=1.0, cap=4.0, sleep=t.sleep, clock=t.clock)
    exc = info.value
    attempts = len(fn.calls)
    assert attempts > 3
    assert sum(t.sleeps) <= 20.0 + 1e-9
    assert t.now - 1000.0 <= 20.0 + 1e-9
    assert exc.details["attempts"] == attempts
    assert exc.details["status"] == 503
    assert exc.cause is err and exc.__cause__ is err
    assert "{0} attempts".format(attempts) in exc.msg
    assert "503" in exc.msg
    assert "Failing" in exc.msg


def test_last_attempt_happens_at_the_deadline_not_after(monkeypatch):
    # Always sleep the full ceiling, so the schedule is known: 2, 2, then cut to the 1 s left.
    monkeypatch.setattr(retries, "full_jitter", lambda attempt, base, cap: min(cap, base * 2 ** (attempt - 1)))
    t = FakeTime()
    fn = Failing(forever=TimeoutError("slow"))
    with pytest.raises(AdharError) as info:
        retry_call(fn, deadline=5, base=2.0, cap=2.0, sleep=t.sleep, clock=t.clock)
    assert t.sleeps == [2.0, 2.0, 1.0]
    assert len(fn.calls) == 4  # at t=0, 2, 4 and 5 (the deadline)
    assert info.value.details == {"attempts": 4, "elapsed": 5.0}
    assert "TimeoutError: slow" in info.value.msg


def test_real_jitter_sleeps_respect_the_deadline():
    t = FakeTime()
    fn = Failing(forever=TimeoutError("slow"))
    with pytest.raises(AdharError):
        retry_call(fn, deadline=7, base=2.0, cap=3.0, sleep=t.sleep, clock=t.clock)
    assert sum(t.sleeps) <= 7.0 + 1e-9


def test_deadline_zero_means_one_attempt():
    t = FakeTime()
    fn = Failing(forever=api_error(500))
    with pytest.raises(AdharError) as info:
        retry_call(fn, deadline=0, sleep=t.sleep, clock=t.clock)
    assert len(fn.calls) == 1
    assert "1 attempt " in info.value.msg


def test_slow_calls_count_against_the_deadline():
    t = FakeTime()

    def slow():
        t.now += 50  # each call takes 50 s
        raise api_error(502)

    with pytest.raises(AdharError) as info:
        retry_call(slow, deadline=120, sleep=t.sleep, clock=t.clock)
    assert info.value.details["attempts"] == 3  # 50, 100 (+sleep) then past 120


def test_on_retry_and_custom_predicate():
    t = FakeTime()
    seen = []
    fn = Failing(ValueError("once"))
    out = retry_call(fn, deadline=10, sleep=t.sleep, clock=t.clock,
                     is_retryable=lambda e: isinstance(e, ValueError),
                     on_retry=lambda exc, attempt, delay: seen.append((type(exc).__name__, attempt, delay)))
    assert out == "ok"
    assert seen == [("ValueError", 1, t.sleeps[0])]


def test_module_has_no_sdk_import_at_top():
    # retries must stay importable without the kubernetes SDK.
    src = open(retries.__file__).read()
    assert "import kubernetes" not in src and "from kubernetes" not in src
