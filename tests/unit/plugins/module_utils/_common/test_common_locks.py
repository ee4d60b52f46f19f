# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.locks import FileLock


def test_file_lock_creates_its_file_and_parents(tmp_path):
    path = tmp_path / ".locks" / "c1.lock"
    with FileLock(str(path)) as lock:
        assert lock.held
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not lock.held


def test_non_blocking_acquire_reports_a_held_lock(tmp_path):
    path = str(tmp_path / "x.lock")
    first = FileLock(path)
    assert first.acquire() is True
    second = FileLock(path)
    assert second.acquire(blocking=False) is False
    assert not second.held
    with pytest.raises(BlockingIOError, match="locked by another process"):
        with FileLock(path, blocking=False):
            pass
    first.release()
    assert second.acquire(blocking=False) is True
    second.release()


def test_blocking_acquire_waits_for_the_holder_and_says_so(tmp_path):
    path = str(tmp_path / "x.lock")
    holder = FileLock(path)
    holder.acquire()
    waits, order = [], []

    def contender():
        with FileLock(path, on_wait=lambda: waits.append(1)):
            order.append("contender")

    t = threading.Thread(target=contender)
    t.start()
    time.sleep(0.3)
    assert order == [] and waits == [1]  # still waiting, and told so once
    order.append("holder releases")
    holder.release()
    t.join(10)
    assert order == ["holder releases", "contender"]


def test_no_wait_callback_when_free(tmp_path):
    waits = []
    with FileLock(str(tmp_path / "x.lock"), on_wait=lambda: waits.append(1)):
        pass
    assert waits == []


def test_directory_lock_needs_no_file(tmp_path):
    before = sorted(os.listdir(tmp_path))
    with FileLock(str(tmp_path), directory=True):
        assert FileLock(str(tmp_path), directory=True).acquire(blocking=False) is False
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(FileNotFoundError):
        FileLock(str(tmp_path / "missing"), directory=True).acquire()


def test_lock_is_released_when_its_process_dies(tmp_path):
    path = str(tmp_path / "x.lock")
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert FileLock(path).acquire(blocking=False) is False
    finally:
        proc.kill()
        proc.wait()
    lock = FileLock(path)
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_acquire_twice_is_a_mistake(tmp_path):
    lock = FileLock(str(tmp_path / "x.lock"))
    lock.acquire()
    with pytest.raises(RuntimeError, match="already held"):
        lock.acquire()
    lock.release()
    lock.release()  # nothing to do


def test_open_error_is_raised_as_is(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        FileLock(str(tmp_path / "file" / "x.lock")).acquire()
