# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exclusive ``flock(2)`` locks between processes of this host.

The lock belongs to the open file description: closing it (or the process ending, even killed) releases it, so a
lock is never left behind by a crash.  A lock on a directory needs no file of its own, so it can still be taken on a
file system out of space or inodes.
"""

from __future__ import annotations

import errno
import fcntl
import os

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class FileLock:
    """An exclusive flock on ``path``: a file (created 0600 with its missing parents) or, with ``directory=True``, an
    existing directory.

    ``acquire(blocking=True)`` waits for another holder (calling ``on_wait()`` once first, when given: a place to say
    who waits for what); ``acquire(blocking=False)`` returns ``False`` at once instead.  Opening the path raises the
    ``OSError`` as is, so the caller can name the lock.  As a context manager it waits (or, with ``blocking=False``,
    raises ``BlockingIOError`` when another process holds it).
    """

    def __init__(self, path, directory=False, blocking=True, on_wait=None):
        self.path = path
        self.directory = directory
        self.blocking = blocking
        self.on_wait = on_wait
        self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def _open(self):
        if self.directory:
            return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _CLOEXEC, 0o600)

    def acquire(self, blocking=None):
        """Take the lock; ``True`` once held, ``False`` when ``blocking`` is false and another process holds it."""
        if self._fd is not None:
            raise RuntimeError("the lock %s is already held by this object" % self.path)
        blocking = self.blocking if blocking is None else blocking
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not blocking:
                    os.close(fd)
                    return False
                if self.on_wait is not None:
                    self.on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self):
        """Let the lock go (closing the descriptor releases the flock); nothing when not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self):
        if not self.acquire():
            raise BlockingIOError(errno.EWOULDBLOCK, "%s is locked by another process" % self.path)
        return self

    def __exit__(self, *exc_info):
        self.release()
