# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.times import parse_time, parse_time_or_none

UTC = datetime.timezone.utc


@pytest.mark.parametrize("value, expected", [
    ("2026-03-01T11:59:50Z", datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    ("2026-03-01T11:59:50z", datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    (" 2026-03-01T11:59:50Z\n", datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    ("2026-03-01T11:59:50.5Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 500000, tzinfo=UTC)),
    ("2026-03-01T11:59:50.123Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 123000, tzinfo=UTC)),
    ("2026-03-01T11:59:50.123456Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 123456, tzinfo=UTC)),
    ("2026-03-01T11:59:50.1234567Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 123456, tzinfo=UTC)),
    ("2026-03-01T11:59:50.123456789Z", datetime.datetime(2026, 3, 1, 11, 59, 50, 123456, tzinfo=UTC)),
    ("2026-03-01T13:59:50.5+02:00", datetime.datetime(2026, 3, 1, 11, 59, 50, 500000, tzinfo=UTC)),
    ("2026-03-01T06:29:50-05:30", datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    ("2026-03-01 11:59:50", datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    ("2026-03-01", datetime.datetime(2026, 3, 1, tzinfo=UTC)),
    (datetime.datetime(2026, 3, 1, 11, 59, 50), datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    (datetime.datetime(2026, 3, 1, 13, 59, 50, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)),
    (0, datetime.datetime(1970, 1, 1, tzinfo=UTC)),
    (1772366390.25, datetime.datetime(2026, 3, 1, 11, 59, 50, 250000, tzinfo=UTC)),
    (None, None),
    ("", None),
    ("  ", None),
])
def test_parse_time(value, expected):
    got = parse_time(value)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == datetime.timedelta(0)  # always UTC, whatever the offset given


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-03-01T25:00:00Z", "Z", True, [1], 1e300])
def test_parse_time_refuses_what_is_not_a_time(value):
    with pytest.raises(ValueError):
        parse_time(value)
    assert parse_time_or_none(value) is None


def test_parse_time_or_none_reads_what_parse_time_reads():
    assert parse_time_or_none("2026-03-01T11:59:50Z") == datetime.datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)
