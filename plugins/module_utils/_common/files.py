# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file writes: readers see either the old file or the whole new one, never a part.

``atomic_write`` writes a temporary file in the target's own directory (so the rename never crosses a file
system), fsyncs it, renames it over the target with ``os.replace`` and fsyncs the directory, so the new file is
also there after a machine crash.  A failed write removes its temporary file and leaves the target untouched.
"""

from __future__ import annotations

import contextlib
import os

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def fsync_path(path, directory=False):
    """fsync ``path`` (a directory with ``directory=True``); best effort: a file system that cannot is skipped."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0) | _CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _chunks(data):
    if isinstance(data, str):
        return (data.encode("utf-8"),)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return (data,)
    return data  # an iterable of bytes chunks


def write_temp(directory, data, mode=None, owner=None, fsync=True, prefix=".adhar-tmp-"):
    """Write ``data`` to a new file in ``directory`` named ``prefix`` + a random suffix; returns ``(path, stat)``.

    ``data`` is text (UTF-8), bytes or an iterable of bytes chunks.  ``mode`` is the file's exact mode; without it
    the file gets ``0666`` less the umask, as ``open(path, "w")`` would.  ``owner`` is a ``(uid, gid)`` pair.
    ``stat`` is the file's ``os.stat_result`` once written (a rename keeps its inode, mtime and size).  The
    file is removed again when anything fails.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    while True:
        path = os.path.join(directory, prefix + os.urandom(6).hex())
        try:
            fd = os.open(path, flags, 0o666 if mode is None else mode)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in _chunks(data):
                f.write(chunk)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)  # exact, whatever the umask
            if owner is not None:
                os.fchown(f.fileno(), owner[0], owner[1])
            if fsync:
                os.fsync(f.fileno())
            st = os.fstat(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path, st


def atomic_write(path, data, mode=None, owner=None, fsync=True, fsync_dir=None, makedirs=False,
                 prefix=None):
    """Replace ``path`` atomically with ``data``; returns the ``os.stat_result`` of the new file.

    ``data``, ``mode`` and ``owner`` as for ``write_temp``.  ``fsync=False`` skips the fsync of the file (the
    caller syncs later, or the file is disposable); ``fsync_dir`` (default: as ``fsync``) fsyncs the directory
    after the rename.  ``makedirs`` creates missing parent directories (with the umask's mode).  The temporary
    file is ``.<name>.tmp-<random>`` (or ``prefix`` + random) beside ``path``.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if makedirs:
        os.makedirs(directory, exist_ok=True)
    if prefix is None:
        prefix = ".%s.tmp-" % os.path.basename(path)
    tmp, st = write_temp(directory, data, mode=mode, owner=owner, fsync=fsync, prefix=prefix)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync if fsync_dir is None else fsync_dir:
        fsync_path(directory, directory=True)
    return st
