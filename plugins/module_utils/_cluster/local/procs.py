# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Detached processes tracked by pidfiles.

A pidfile records the pid *and* the process start time from /proc, so a pid
reused by an unrelated process is never mistaken for ours and never signalled.
Processes are only ever stopped through their recorded pid, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.files import atomic_write


def proc_stat(pid):
    """``(state, starttime)`` of a live pid from /proc, or ``None``."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    # the command name is in parentheses and may contain spaces
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[19])


_proc_stat = proc_stat  # the name other modules import


def read_pidfile(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_running(info):
    """True when the recorded process is alive (not a zombie) and is the same process."""
    if not info or not info.get("pid"):
        return False
    st = proc_stat(int(info["pid"]))
    if st is None:
        return False
    state, start = st
    if state in ("Z", "X"):
        return False
    return info.get("starttime") in (None, start)


def spawn(name, cmd, *, run_dir, log_dir, cwd, env=None, user=None):
    """Start ``cmd`` detached (own session, no inherited fds), log to ``log_dir/name.log``.

    ``user`` (``(uid, gid)``) runs it as that user, without the caller's supplementary groups.
    Returns the pid record that was written to ``run_dir/name.pid``.
    """
    extra = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    os.makedirs(run_dir, exist_ok=True)
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, name + ".log")
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(("\n==== %s starting %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(cmd))).encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                close_fds=True, start_new_session=True, **extra)
    info = write_record(run_dir, name, proc.pid, cmd=cmd, log=log_path)
    # Popen objects reap their child when garbage collected only if waited on;
    # detach it so the module never blocks on it.
    proc.returncode = 0
    return info


def write_record(run_dir, name, pid, **extra):
    """Write ``run_dir/name.pid``: the pid, its /proc start time and ``extra``; returns the record."""
    st = proc_stat(pid)
    info = dict(extra, name=name, pid=pid, starttime=st[1] if st else None, started_at=time.time())
    atomic_write(os.path.join(run_dir, name + ".pid"), json.dumps(info))
    return info


def stop(info, timeout=10.0):
    """SIGTERM the recorded process (only if it is still the same one), SIGKILL after ``timeout``.

    Returns True when something was signalled.
    """
    return bool(stop_many([info] if info else [], timeout=timeout))


def stop_many(infos, timeout=10.0, force=False):
    """Stop several recorded processes at once: SIGTERM to all (SIGKILL with ``force``), wait, SIGKILL stragglers.

    Only processes that are still the recorded ones are signalled.  Returns the names that were running.
    """
    live = [i for i in infos if is_running(i)]
    _signal_all(live, signal.SIGKILL if force else signal.SIGTERM)
    pending = wait_gone(live, time.monotonic() + (5.0 if force else timeout))
    _signal_all(pending, signal.SIGKILL)
    wait_gone(pending, time.monotonic() + 5)
    return [i.get("name") for i in live]


def _signal_all(infos, sig):
    for info in infos:
        try:
            os.kill(int(info["pid"]), sig)
        except ProcessLookupError:
            pass


def wait_gone(infos, deadline):
    """Wait until none of ``infos`` runs (reaping our own children) or ``deadline``; returns those still running."""
    pending = list(infos)
    while pending and time.monotonic() < deadline:
        for info in pending:
            _reap(int(info["pid"]))
        pending = [i for i in pending if is_running(i)]
        if pending:
            time.sleep(0.05)
    return pending


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(path, lines=20):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
