# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A directory as backup storage.

Writes are atomic: the bytes go to a temporary file in the target's own
directory (``.adhar-tmp-*``, mode 0600), which is fsynced and then renamed
into place without replacing anything (``link`` + ``unlink``; ``rename``
after an existence check where the file system has no hard links).  Readers
therefore see either nothing or the whole object.

``fsync="always"`` (default) fsyncs every object before its rename;
``fsync="commit"`` leaves that to ``sync()``, which the archive writer
calls before it writes the manifest (a single ``sync(2)`` for many files),
so a backup is durable exactly when it is listed as complete.  In that mode
the items of a backup (keys at least two levels below the backup, such as
``<backup>/resources/...``) are created directly under their final name with
``O_CREAT | O_EXCL`` (still never replacing anything) instead of temporary
file + link + unlink: a half-written item can then be seen until the
manifest exists, but nothing reads an item the manifest does not vouch for
(size and SHA-256), and a failed write removes its file.  Top-level objects
(``started.json``, ``manifest.json``) and locks always take the atomic path.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import threading

from ansible_collections.adhar.platform.plugins.module_utils._common import files as common_files
from ansible_collections.adhar.platform.plugins.module_utils._common.locks import FileLock
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import (
    TEMP_PREFIX,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    Storage,
    check_key,
    now_for_locks,
)

FSYNC_MODES = ("always", "commit")
# Above this many pending files, sync() uses one sync(2) instead of one fsync per file.
_SYNC_ALL_THRESHOLD = 64
_NO_LINK_ERRNOS = frozenset((errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV, errno.ENOSYS))


def _handle_of(st):
    """What identifies one version of a lock object: ``(inode, mtime, size)`` of its ``os.stat_result``."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class LocalStorage(Storage):
    """Backups in directory ``root`` (created with mode 0700 on the first write)."""

    kind = "local"

    def __init__(self, root, fsync="always"):
        if not root or not isinstance(root, str):
            raise AdharError("storage path is required for a local storage", option="storage.path")
        if fsync not in FSYNC_MODES:
            raise AdharError("fsync must be one of %s" % ", ".join(FSYNC_MODES))
        self.root = os.path.abspath(os.path.expanduser(root))
        self.fsync = fsync
        self._pending_files = set()
        self._pending_dirs = set()
        self._made_dirs = set()  # directories this instance created or found (direct writes skip the isdir check)
        self._guard = threading.Lock()

    @property
    def location(self):
        return "file://" + self.root

    def describe(self):
        return {"type": self.kind, "url": self.location, "path": self.root}

    def _path(self, key):
        return os.path.join(self.root, *check_key(key).split("/"))

    def check(self, write=False, create=True):
        """Raise ``AdharError`` unless the directory can be read (and, with ``write``, written or created).

        A path that is not a directory (a regular file, a broken link) or sits under a regular file, and a
        directory (or its nearest existing parent, when it must be created) this user cannot use, are all
        refused here, before anything is read or written.  ``create=False`` (check mode) checks that the
        directory could be created without creating it.
        """
        root = self.root
        if os.path.isdir(root):
            if not os.access(root, os.R_OK | os.X_OK | (os.W_OK if write else 0)):
                raise AdharError("the backup directory %s is not %s by this user"
                                 % (root, "writable" if write else "readable"), option="storage.path")
            return
        if os.path.lexists(root):
            what = "a broken symbolic link" if not os.path.exists(root) else "not a directory"
            raise AdharError("storage path %s is %s" % (root, what), option="storage.path")
        parent = os.path.dirname(root)
        while not os.path.lexists(parent) and os.path.dirname(parent) != parent:
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise AdharError("storage path %s cannot exist: %s is not a directory" % (root, parent), option="storage.path")
        if not write:
            raise AdharError("the backup directory %s does not exist" % root, option="storage.path")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise AdharError("the backup directory %s cannot be created: %s is not writable by this user" % (root, parent),
                             option="storage.path")
        if create:
            self._makedirs(root)

    def _makedirs(self, path):
        """Create ``path`` and every missing parent with mode 0700 (``os.makedirs`` gives parents the umask's mode)."""
        if os.path.isdir(path):
            return
        missing = []
        while path and not os.path.isdir(path):
            missing.append(path)
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
        try:
            for directory in reversed(missing):
                try:
                    os.mkdir(directory, 0o700)
                except FileExistsError:
                    if not os.path.isdir(directory):
                        raise
        except OSError as exc:
            raise AdharError("cannot create directory %s: %s" % (missing[0], exc.strerror or exc),
                             option="storage.path") from exc

    def _write_temp(self, directory, chunks, durable):
        """``(path, stat)`` of a new 0600 temporary file holding ``chunks`` (removed again when the write fails)."""
        self._makedirs(directory)
        return common_files.write_temp(directory, chunks, mode=0o600, fsync=durable, prefix=TEMP_PREFIX)

    def _put_direct(self, path, key, chunks):
        """Create ``path`` exclusively and write it in place (fsync="commit" items; see the module docstring)."""
        directory = os.path.dirname(path)
        if directory not in self._made_dirs:
            self._makedirs(directory)
            self._made_dirs.add(directory)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            try:
                fd = os.open(path, flags, 0o600)
            except FileNotFoundError:  # the directory went away since it was remembered (deleted by retention)
                self._makedirs(directory)
                fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise ObjectExists("%s already exists in %s (objects are written once)" % (key, self.location), key=key) from None
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise

    def _put(self, key, chunks, overwrite):
        try:
            self._put_file(key, chunks, overwrite)
        except OSError as exc:  # out of space or inodes, read-only, ...: the real cause, named with the object
            if exc.errno is None:  # not from the file system (the data's own source failed)
                raise
            raise AdharError("cannot write %s in %s: %s" % (key, self.location, exc.strerror or exc), key=key,
                             errno=exc.errno) from exc

    def _put_file(self, key, chunks, overwrite):
        path = self._path(key)
        directory = os.path.dirname(path)
        if self.fsync == "commit" and not overwrite and key.count("/") >= 2:
            self._put_direct(path, key, chunks)  # O_EXCL refuses an existing object
            with self._guard:
                self._pending_files.add(path)
                self._pending_dirs.add(directory)
            return
        if not overwrite and os.path.lexists(path):
            raise ObjectExists("%s already exists in %s (objects are written once)" % (key, self.location), key=key)
        if overwrite:
            # the directory is fsynced by sync() with the others, so once for many objects
            self._makedirs(directory)
            common_files.atomic_write(path, chunks, mode=0o600, fsync=self.fsync == "always", fsync_dir=False, prefix=TEMP_PREFIX)
        else:
            tmp = self._write_temp(directory, chunks, self.fsync == "always")[0]
            try:
                self._rename_noreplace(tmp, path, key)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        with self._guard:
            if self.fsync == "always":
                self._pending_dirs.add(directory)
            else:
                self._pending_files.add(path)
                self._pending_dirs.add(directory)

    def _rename_noreplace(self, tmp, path, key):
        # Not an atomic_write: objects are written once, so the temporary file is linked to its name (which fails
        # when the name exists) instead of renamed over it; rename only after an existence check where the file
        # system has no hard links.
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ObjectExists("%s already exists in %s (objects are written once)" % (key, self.location), key=key) from None
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
            if os.path.lexists(path):
                raise ObjectExists("%s already exists in %s (objects are written once)" % (key, self.location), key=key) from None
            os.rename(tmp, path)

    def sync(self):
        with self._guard:
            files, self._pending_files = self._pending_files, set()
            dirs, self._pending_dirs = self._pending_dirs, set()
        if len(files) > _SYNC_ALL_THRESHOLD:
            os.sync()  # data and metadata of every file system, directories included
            return
        for path in sorted(files):
            common_files.fsync_path(path)
        for directory in sorted(dirs, key=len, reverse=True):
            common_files.fsync_path(directory, directory=True)

    def _open(self, key):
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise ObjectMissing("%s is missing in %s" % (key, self.location), key=key) from None
        except IsADirectoryError:
            raise ObjectMissing("%s is a directory in %s, not an object" % (key, self.location), key=key) from None

    def _read_range(self, key, offset, length):
        with self._open(key) as f:
            f.seek(offset)
            return f.read(length)

    def _exists(self, key):
        return os.path.isfile(self._path(key))

    def _list(self, prefix):
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = os.path.join(self.root, *base.split("/")) if base else self.root
        if not os.path.isdir(top):
            return
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
            for name in sorted(filenames):
                if name.startswith(TEMP_PREFIX):
                    continue
                key = rel_dir + "/" + name if rel_dir else name
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                yield ObjectInfo(key, st.st_size, datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc))

    def _list_dirs(self, prefix):
        top = os.path.join(self.root, *prefix.strip("/").split("/")) if prefix.strip("/") else self.root
        try:
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [e.name for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith(TEMP_PREFIX)]

    def _delete(self, keys):
        dirs = set()
        for key in keys:
            path = self._path(key)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            dirs.add(os.path.dirname(path))
        # remove directories left empty, deepest first, never the root
        for directory in sorted(dirs, key=len, reverse=True):
            while directory.startswith(self.root + os.sep):
                try:
                    os.rmdir(directory)
                except OSError:
                    break
                directory = os.path.dirname(directory)

    # -- locks: the object itself is created with link(2) (atomic, never
    # replaces); a conditional delete/replace compares (inode, mtime, size)
    # under an flock on the locks directory so that a stale lock is removed only by
    # the one contender that judged it.  The flock needs no file of its own, so a
    # lock can still be released on a file system out of space or inodes.

    def _lock_guard(self, key):
        return FileLock(os.path.dirname(self._path(key)), directory=True)

    @staticmethod
    def _handle(path):
        try:
            return _handle_of(os.stat(path))
        except FileNotFoundError:
            return None

    def _lock_error(self, action, key, exc):
        reason = exc.msg if isinstance(exc, AdharError) else (exc.strerror or str(exc))
        return AdharError("cannot %s the lock %s in %s: %s" % (action, key, self.location, reason), lock=key,
                          cause=exc)

    def _lock_create(self, key, data):
        path = self._path(key)
        try:
            tmp, written = self._write_temp(os.path.dirname(path), [data], True)  # removes its file when it fails
        except (OSError, AdharError) as exc:
            raise self._lock_error("write", key, exc) from exc
        try:
            # link/rename keep the inode, mtime and size: the handle of the temporary file is the lock's, so a
            # lock this run created is always one it can prove it owns (and release)
            handle = _handle_of(written)
            try:
                self._rename_noreplace(tmp, path, key)
            except ObjectExists:
                return None
            except OSError as exc:
                raise self._lock_error("write", key, exc) from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        common_files.fsync_path(os.path.dirname(path), directory=True)
        return handle

    def _lock_read(self, key):
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                data = f.read(65536)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._lock_error("read", key, exc) from exc
        modified = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
        return data, (st.st_ino, st.st_mtime_ns, st.st_size), modified, now_for_locks()

    def _lock_delete(self, key, handle):
        path = self._path(key)
        try:
            with self._lock_guard(key):
                if self._handle(path) != handle:
                    return False
                os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._lock_error("remove", key, exc) from exc
        return True

    def _lock_replace(self, key, data, handle):
        path = self._path(key)
        try:
            with self._lock_guard(key):
                if self._handle(path) != handle:
                    return None
                return _handle_of(common_files.atomic_write(path, [data], mode=0o600, prefix=TEMP_PREFIX))
        except (OSError, AdharError) as exc:
            raise self._lock_error("refresh", key, exc) from exc
