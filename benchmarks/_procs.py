# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks read from /proc about running processes (Linux only)."""

from __future__ import annotations

import os

PAGE = os.sysconf("SC_PAGE_SIZE")


def stat(pid):
    """``(ppid, session, rss bytes)`` of ``pid``, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # the fields after the command (which may hold spaces): state ppid pgrp session ... rss (index 21)
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[3]), int(fields[21]) * PAGE


def table():
    """``{pid: (ppid, session, rss bytes)}`` of every process now."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = stat(int(entry))
            if st:
                found[int(entry)] = st
    return found


def descendants(root, processes=None):
    """The pids below ``root`` (not ``root`` itself), from ``processes`` (``table()`` when not given)."""
    children = {}
    for pid, st in (table() if processes is None else processes).items():
        children.setdefault(st[0], []).append(pid)
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            found.append(pid)
    return found


def status_kib(pid, field):
    """A ``kB`` field of /proc/PID/status (``VmRSS``, ``VmHWM``, ...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def pss(pid):
    """Proportional set size of ``pid`` in bytes (shared pages split among their users, so forks are not counted
    twice), 0 when it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cmdline(pid):
    """The command line of ``pid`` as bytes (arguments separated by NUL), b"" when it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""
