# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port allocation for several local clusters on one machine.

Ports come from a range below Linux's default ephemeral range (32768+), so an
outgoing connection cannot grab a port between allocation and bind.  The
caller holds the state root's lock while allocating and saving, and passes the
ports every other cluster already reserved.
"""

from __future__ import annotations

import errno
import random
import socket

PORT_MIN = 20000
PORT_MAX = 32000


def port_free(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        s.close()


def allocate(count, reserved=(), seed=None, lo=PORT_MIN, hi=PORT_MAX):
    """``count`` distinct free ports not in ``reserved``; scans from a random offset."""
    rng = random.Random(seed)
    taken = set(reserved)
    span = hi - lo
    start = rng.randrange(span)
    out = []
    for k in range(span):
        port = lo + (start + k) % span
        if port in taken:
            continue
        if port_free(port):
            out.append(port)
            taken.add(port)
            if len(out) == count:
                return out
    raise OSError("no %d free ports left in %d-%d" % (count, lo, hi))
