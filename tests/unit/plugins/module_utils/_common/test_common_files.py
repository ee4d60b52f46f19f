# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import files


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_creates_and_replaces_with_text_bytes_and_chunks(tmp_path):
    target = tmp_path / "state.json"
    files.atomic_write(str(target), "première\n")
    assert target.read_text(encoding="utf-8") == "première\n"
    files.atomic_write(str(target), b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    files.atomic_write(str(target), iter([b"a", b"bc", b""]))
    assert target.read_bytes() == b"abc"
    assert sorted(os.listdir(tmp_path)) == ["state.json"]  # no temporary file left


def test_atomic_write_mode_is_exact_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        files.atomic_write(str(tmp_path / "cert.pem"), "x", mode=0o644)
        files.atomic_write(str(tmp_path / "plain"), "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "cert.pem") == 0o644
    assert _mode(tmp_path / "plain") == 0o600  # 0666 less the umask, as open(path, "w") gives
    files.atomic_write(str(tmp_path / "cert.pem"), "y", mode=0o600)
    assert _mode(tmp_path / "cert.pem") == 0o600


def test_atomic_write_returns_the_stat_of_the_new_file(tmp_path):
    target = tmp_path / "lock"
    st = files.atomic_write(str(target), b"12345")
    now = os.stat(target)
    assert (st.st_ino, st.st_mtime_ns, st.st_size) == (now.st_ino, now.st_mtime_ns, 5)


def test_atomic_write_makedirs(tmp_path):
    target = tmp_path / "a" / "b" / "file"
    with pytest.raises(FileNotFoundError):
        files.atomic_write(str(target), "x")
    files.atomic_write(str(target), "x", makedirs=True)
    assert target.read_text() == "x"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "zone"
    target.write_text("old")

    def chunks():
        yield b"half"
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        files.atomic_write(str(target), chunks())
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["zone"]


def test_failed_rename_removes_the_temporary(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("x")  # a non-empty directory cannot be replaced by a file
    with pytest.raises(OSError):
        files.atomic_write(str(target), "x")
    assert sorted(os.listdir(tmp_path)) == ["dir"]


def test_fsync_flags(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.path.isdir("/proc/self/fd/%d" % fd))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files.atomic_write(str(tmp_path / "f"), "x")
    assert synced == [False, True]  # the file, then its directory
    del synced[:]
    files.atomic_write(str(tmp_path / "f"), "x", fsync=False)
    assert synced == []
    files.atomic_write(str(tmp_path / "f"), "x", fsync_dir=False)
    assert synced == [False]


def test_write_temp_prefix_owner_and_name(tmp_path):
    path, st = files.write_temp(str(tmp_path), b"data", mode=0o600, prefix=".adhar-tmp-",
                                owner=(os.getuid(), os.getgid()))
    assert os.path.basename(path).startswith(".adhar-tmp-")
    assert os.path.dirname(path) == str(tmp_path)
    assert st.st_size == 4 and st.st_uid == os.getuid()
    assert _mode(path) == 0o600


def test_temporary_file_is_beside_the_target(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def replace(src, dst):
        seen.append((src, dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    files.atomic_write(str(tmp_path / "cluster.json"), "{}")
    (src, dst), = seen
    assert os.path.dirname(src) == str(tmp_path) and os.path.basename(src).startswith(".cluster.json.tmp-")
    assert dst == str(tmp_path / "cluster.json")


def test_fsync_path_ignores_what_cannot_be_opened(tmp_path):
    files.fsync_path(str(tmp_path / "missing"))
    files.fsync_path(str(tmp_path), directory=True)
