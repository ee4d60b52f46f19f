# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time stamps: RFC 3339 / ISO 8601 text (as Kubernetes, S3 and our own manifests write it) to aware UTC datetimes.

Accepted: ``2026-03-01T11:59:50Z``, a lower-case ``z``, fractions of any length (``.5``, ``.123456789``; more than
six digits are cut to microseconds), offsets (``+02:00``), a space instead of ``T``, a date alone (midnight UTC);
also datetimes and epoch seconds.  Naive times are UTC, as everywhere in this collection.
"""

from __future__ import annotations

import datetime

UTC = datetime.timezone.utc


def parse_time(value):
    """The aware UTC datetime of ``value``; ``None`` for ``None`` or empty text; ``ValueError`` for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, bool):
        raise ValueError("%r is not a time" % value)
    elif isinstance(value, (int, float)):
        try:
            return datetime.datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError) as exc:
            raise ValueError("%r is not a time in epoch seconds: %s" % (value, exc)) from None
    elif isinstance(value, str):
        text = value.strip()
        if text[-1] in "Zz":
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("%r is not an RFC 3339 time (2026-06-01T02:00:00Z)" % value) from None
    else:
        raise ValueError("%r is not a time" % (value,))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_time_or_none(value):
    """As ``parse_time``, but ``None`` for what is not a time (a missing or unreadable stamp in data we read)."""
    try:
        return parse_time(value)
    except ValueError:
        return None
