# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The volume section of a backup: the files of a persistent volume, file level (see docs/backup-format.md).

::

    <backup>/volumes/<namespace>/<pvc>.tar[.enc]          the volume's files, a POSIX (pax) tar stream
    <backup>/volumes/<namespace>/<pvc>.index.json[.enc]   every entry: path, type, mode, mtime, size, SHA-256

``tar_stream`` walks a directory and yields the tar stream chunk by chunk (a
file is never read whole); it fills in the index as it goes.  The archive
writer encrypts and checksums the stream like any other item.

``extract`` reads a tar stream (the reader's verified, decrypted chunks) into
a new staging directory; it refuses absolute paths, ``..``, links leaving the
volume, device files, and anything written through a symbolic link.  Modes,
mtimes and (as root) owners are kept.  ``replace_dir`` swaps the staging
directory in only after the whole stream was read and its checksum matched,
so a corrupted backup never leaves a half-written volume.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import uuid

from ansible_collections.adhar.platform.plugins.module_utils._archive.format import fit_component
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

CHUNK = 1024 * 1024
BLOCK = 512
STAGING_PREFIX = ".adhar-volume-"


def _part(value, what):
    if not isinstance(value, str) or not value or value in (".", "..") or "/" in value or "\x00" in value:
        raise AdharError("invalid %s %r for a volume item" % (what, value))
    return fit_component(value)


def volume_paths(namespace, pvc):
    """``(data item, index item)`` paths of the volume of PVC ``namespace/pvc``."""
    base = "volumes/%s/%s" % (_part(namespace, "namespace"), _part(pvc, "PVC name"))
    return base + ".tar", base + ".index.json"


def _walk(root):
    """``(relative path, lstat)`` of every entry below ``root``, parents before children, sorted, no symlink followed."""
    stack = [""]
    while stack:
        rel = stack.pop()
        here = os.path.join(root, rel) if rel else root
        try:
            names = sorted(os.listdir(here), reverse=True)
        except OSError as exc:
            raise AdharError("cannot read volume directory %s: %s" % (here, exc.strerror or exc)) from exc
        children = []
        for name in names:
            path = name if not rel else rel + "/" + name
            st = os.lstat(os.path.join(root, path))
            children.append((path, st))
        for path, st in reversed(children):
            yield path, st
        stack.extend(path for path, st in children if stat.S_ISDIR(st.st_mode))


def _entry(path, st, kind, **extra):
    return dict({"path": path, "type": kind, "mode": stat.S_IMODE(st.st_mode), "mtime": int(st.st_mtime),
                 "uid": st.st_uid, "gid": st.st_gid}, **extra)


def tar_stream(root, index):
    """Yield a tar stream of the files below ``root``; ``index`` (a dict) gets ``entries``, ``files``, ``dirs``,
    ``symlinks``, ``bytes`` and ``skipped`` (sockets, devices, fifos: not data).  A file that shrinks while it is
    read is an error; one that grows is captured at the size it had when the walk reached it (a warning)."""
    top = os.stat(root)
    index.update(entries=[], files=0, dirs=0, symlinks=0, bytes=0, skipped=[], warnings=[],
                 root_mode=stat.S_IMODE(top.st_mode))
    for rel, st in _walk(root):
        info = tarfile.TarInfo(rel)
        info.mode = stat.S_IMODE(st.st_mode)
        info.mtime = int(st.st_mtime)
        info.uid, info.gid = st.st_uid, st.st_gid
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            index["dirs"] += 1
            index["entries"].append(_entry(rel, st, "dir"))
            yield info.tobuf(format=tarfile.PAX_FORMAT)
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(os.path.join(root, rel))
            index["symlinks"] += 1
            index["entries"].append(_entry(rel, st, "symlink", target=info.linkname))
            yield info.tobuf(format=tarfile.PAX_FORMAT)
        elif stat.S_ISREG(st.st_mode):
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            yield info.tobuf(format=tarfile.PAX_FORMAT)
            sha = hashlib.sha256()
            left = st.st_size
            with open(os.path.join(root, rel), "rb") as f:
                while left:
                    chunk = f.read(min(CHUNK, left))
                    if not chunk:
                        raise AdharError("volume file %s shrank while it was read (%d bytes missing): the volume is being "
                                         "written; stop its writers or take the backup again" % (rel, left), file=rel)
                    left -= len(chunk)
                    sha.update(chunk)
                    yield chunk
                if f.read(1):
                    index["warnings"].append("%s grew while it was read; captured at %d bytes" % (rel, st.st_size))
            if st.st_size % BLOCK:
                yield b"\0" * (BLOCK - st.st_size % BLOCK)
            index["files"] += 1
            index["bytes"] += st.st_size
            index["entries"].append(_entry(rel, st, "file", size=st.st_size, sha256=sha.hexdigest()))
        else:
            index["skipped"].append(rel)
    yield b"\0" * (2 * BLOCK)


class _ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of byte chunks (what ``tarfile`` stream mode reads)."""

    def __init__(self, chunks):
        super().__init__()
        self._chunks = iter(chunks)
        self._buf = b""
        self.done = False

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                self.done = True
                return 0
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def drain(self):
        """Read what is left (the end blocks), so the source's checks after its last chunk run."""
        for dummy in self._chunks:
            pass
        self.done = True


def _safe_rel(name):
    if not name or name.startswith("/") or "\x00" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _link_ok(rel, target):
    """A symbolic link is kept only when it stays inside the volume (relative, not climbing above its root)."""
    if target.startswith("/"):
        return False
    depth = rel.count("/")
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in ("", "."):
            depth += 1
    return True


def extract(chunks, dest, item="volume"):
    """Extract the tar stream ``chunks`` into the new directory ``dest``; returns the index of what was written
    (the same shape as ``tar_stream``'s).  Raises ``AdharError`` on anything unsafe or corrupt; ``dest`` is then
    left for the caller to remove."""
    os.mkdir(dest, 0o700)
    index = {"entries": [], "files": 0, "dirs": 0, "symlinks": 0, "bytes": 0}
    links = set()
    dirs = []
    owner = os.geteuid() == 0
    source = _ChunkReader(chunks)
    try:
        with tarfile.open(fileobj=io.BufferedReader(source, CHUNK), mode="r|") as tar:
            for member in tar:
                rel = _safe_rel(member.name)
                if rel is None:
                    raise AdharError("%s holds an unsafe path %r: refused" % (item, member.name), item=item)
                parents = rel.split("/")[:-1]
                if any("/".join(parents[:i + 1]) in links for i in range(len(parents))):
                    raise AdharError("%s writes %s through a symbolic link: refused" % (item, rel), item=item)
                path = os.path.join(dest, rel)
                if parents:
                    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
                entry = {"path": rel, "mode": stat.S_IMODE(member.mode), "mtime": int(member.mtime),
                         "uid": member.uid, "gid": member.gid}
                if member.isdir():
                    os.makedirs(path, 0o700, exist_ok=True)
                    dirs.append((path, member))
                    index["dirs"] += 1
                    entry["type"] = "dir"
                elif member.issym():
                    if not _link_ok(rel, member.linkname):
                        raise AdharError("%s holds a symbolic link %s -> %s leaving the volume: refused"
                                         % (item, rel, member.linkname), item=item)
                    os.symlink(member.linkname, path)
                    if owner:
                        os.lchown(path, member.uid, member.gid)
                    links.add(rel)
                    index["symlinks"] += 1
                    entry.update(type="symlink", target=member.linkname)
                elif member.isreg():
                    sha = hashlib.sha256()
                    src = tar.extractfile(member)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
                    with os.fdopen(fd, "wb") as out:
                        while True:
                            chunk = src.read(CHUNK)
                            if not chunk:
                                break
                            sha.update(chunk)
                            out.write(chunk)
                    if owner:
                        os.chown(path, member.uid, member.gid)
                    os.chmod(path, stat.S_IMODE(member.mode))
                    os.utime(path, (member.mtime, member.mtime))
                    index["files"] += 1
                    index["bytes"] += member.size
                    entry.update(type="file", size=member.size, sha256=sha.hexdigest())
                else:
                    raise AdharError("%s holds %s, which is not a file, directory or symbolic link: refused"
                                     % (item, rel), item=item)
                index["entries"].append(entry)
        source.drain()  # the end blocks: the reader checks the item's size and SHA-256 after its last chunk
    except tarfile.TarError as exc:
        raise AdharError("%s is not a valid volume archive: %s" % (item, exc), item=item) from None
    for path, member in reversed(dirs):  # children first: setting a directory's mtime after its content
        if owner:
            os.chown(path, member.uid, member.gid)
        os.chmod(path, stat.S_IMODE(member.mode))
        os.utime(path, (member.mtime, member.mtime))
    return index


def scan(root, checksums=True):
    """The index of a directory as it is (``None`` when it does not exist): the shape ``tar_stream`` fills in."""
    if not os.path.isdir(root):
        return None
    index = {"entries": [], "files": 0, "dirs": 0, "symlinks": 0, "bytes": 0,
             "root_mode": stat.S_IMODE(os.stat(root).st_mode)}
    for rel, st in _walk(root):
        if stat.S_ISDIR(st.st_mode):
            index["dirs"] += 1
            index["entries"].append(_entry(rel, st, "dir"))
        elif stat.S_ISLNK(st.st_mode):
            index["symlinks"] += 1
            index["entries"].append(_entry(rel, st, "symlink", target=os.readlink(os.path.join(root, rel))))
        elif stat.S_ISREG(st.st_mode):
            extra = {"size": st.st_size}
            if checksums:
                sha = hashlib.sha256()
                with open(os.path.join(root, rel), "rb") as f:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        sha.update(chunk)
                extra["sha256"] = sha.hexdigest()
            index["files"] += 1
            index["bytes"] += st.st_size
            index["entries"].append(_entry(rel, st, "file", **extra))
    return index


_COMPARED = ("type", "mode", "size", "sha256", "target")


def differences(wanted, current, owners=False):
    """What differs between two indexes: ``[{"path", "change": added|removed|changed, "fields"}]`` (directory
    mtimes are not compared: they move whenever an entry is added; ``owners`` compares uid/gid too)."""
    fields = _COMPARED + (("uid", "gid") if owners else ())
    want = {e["path"]: e for e in (wanted or {}).get("entries") or []}
    have = {e["path"]: e for e in (current or {}).get("entries") or []}
    out = []
    for path in sorted(set(want) | set(have)):
        a, b = want.get(path), have.get(path)
        if b is None:
            out.append({"path": path, "change": "added"})
        elif a is None:
            out.append({"path": path, "change": "removed"})
        else:
            changed = [f for f in fields if a.get(f) != b.get(f)]
            if a.get("type") == "file" and a.get("mtime") != b.get("mtime"):
                changed.append("mtime")
            if changed:
                out.append({"path": path, "change": "changed", "fields": changed})
    return out


def staging_dir(target):
    """A new, unused path beside ``target`` (same file system: the swap is a rename)."""
    parent, name = os.path.split(target.rstrip("/"))
    return os.path.join(parent, "%s%s-%s" % (STAGING_PREFIX, name[:100], uuid.uuid4().hex[:12]))


def replace_dir(staging, target, mode=None):
    """Put ``staging`` in place of ``target`` (two renames; the old content is removed after the swap)."""
    old = None
    if os.path.lexists(target):
        old = staging_dir(target) + "-old"
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if mode is not None:
        os.chmod(target, mode)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_quietly(path):
    if path and os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)
