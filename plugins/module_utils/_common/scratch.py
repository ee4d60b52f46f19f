# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private scratch space for plaintext that cannot stay in memory, and in-memory files for secrets.

Two tools, so that nothing sensitive is left on disk by an interrupted run:

* ``ScratchDir``: the ONE place where a plaintext file may be written when a
  tool needs a real file (``etcdutl snapshot restore`` reads a snapshot file,
  a parallel ``pg_restore`` needs a seekable dump).  A 0700 directory
  ``<root>/.adhar-scratch/<purpose>-<pid>-<start time>-<random>`` (root: the
  given base or ``TMPDIR``), removed when the ``with`` block or ``remove()``
  ends it, on errors and on SIGTERM/SIGHUP too (``AdharModule.run`` turns
  those into an exception).  After a kill -9 the directory stays; the next
  ``ScratchDir`` under the same root removes every directory whose owner
  process (pid AND its /proc start time, so a reused pid does not count) is
  gone.
* ``memfd_path``: key material and credentials that a library or a child
  process wants as a file path go into an anonymous in-memory file
  (``memfd_create``), reachable as ``/proc/self/fd/<n>`` by this process and
  by children that inherit the descriptor.  It never has a name on any file
  system and disappears with the process, however the process ends.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tempfile
import threading

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

SCRATCH_DIR_NAME = ".adhar-scratch"
_ENTRY_RE = re.compile(r"^(?P<purpose>[a-z][a-z0-9-]*)-(?P<pid>[0-9]+)-(?P<start>[0-9]+)-[0-9a-f]{8}$")
_PURPOSE_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def proc_start_time(pid):
    """Start time (clock ticks since boot, field 22 of ``/proc/<pid>/stat``) of a live, non-zombie pid, else None."""
    try:
        with open("/proc/%d/stat" % int(pid)) as f:
            data = f.read()
        rest = data[data.rfind(")") + 2:].split()  # the command name is in parentheses and may contain spaces
        if rest[0] in ("Z", "X"):
            return None
        return int(rest[19])
    except (OSError, ValueError, IndexError):
        return None


def scratch_root(base=None):
    """``<base or TMPDIR>/.adhar-scratch``."""
    return os.path.join(os.path.abspath(os.path.expanduser(base)) if base else tempfile.gettempdir(), SCRATCH_DIR_NAME)


def _private_root(root):
    """Create ``root`` 0700 (parents too) and check it is a real directory of this user that nobody else can enter."""
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        st = os.lstat(root)
    except OSError as e:
        raise AdharError("cannot create the private scratch directory %s: %s" % (root, e.strerror or e), path=root) from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise AdharError("the scratch directory %s is not a directory owned by this user; remove it" % root, path=root)
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(root, 0o700)


def sweep(root):
    """Remove the directories under ``root`` whose owner process is gone; returns their names."""
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        match = _ENTRY_RE.match(name)
        if not match:
            continue
        path = os.path.join(root, name)
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
        except OSError:
            continue
        if proc_start_time(int(match.group("pid"))) == int(match.group("start")):
            continue  # its owner still runs
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            removed.append(name)
    return removed


class ScratchDir:
    """A private scratch directory (see the module docstring): ``path``, ``file(name)``, ``remove()``; a context manager."""

    def __init__(self, purpose, base=None):
        if not _PURPOSE_RE.match(purpose or ""):
            raise ValueError("scratch purpose %r: lower-case letters, digits and dashes" % (purpose,))
        self.root = scratch_root(base)
        _private_root(self.root)
        self.swept = sweep(self.root)
        pid = os.getpid()
        start = proc_start_time(pid) or 0
        self.path = os.path.join(self.root, "%s-%d-%d-%s" % (purpose, pid, start, secrets.token_hex(4)))
        os.mkdir(self.path, 0o700)

    def file(self, name):
        """Create ``name`` in the directory exclusively (0600); returns an open binary file for writing."""
        fd = os.open(os.path.join(self.path, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        return os.fdopen(fd, "wb")

    def remove(self):
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


_MEMFDS = {}
_MEMFD_LOCK = threading.Lock()


def memfd_supported():
    return hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


def memfd_path(content, name="adhar-secret", keep=True):
    """Path (``/proc/self/fd/<n>``) of an in-memory 0600 file holding ``content`` (bytes or str).

    ``keep=True``: the descriptor stays open for the life of the process and
    equal contents share one file (for libraries that re-open the path on every
    connection).  ``keep=False``: returns ``(path, fd)``; the caller closes
    ``fd`` (pass it to a child with ``pass_fds=(fd,)``; the path is the same there).
    """
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not memfd_supported():
        raise AdharError("this system cannot hold secrets in memory-only files (memfd_create); Linux is needed")
    with _MEMFD_LOCK:
        if keep and content in _MEMFDS:
            return _MEMFDS[content]
        fd = os.memfd_create(name, getattr(os, "MFD_CLOEXEC", 1))
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            raise
        path = "/proc/self/fd/%d" % fd
        if not keep:
            return path, fd
        _MEMFDS[content] = path
        return path
