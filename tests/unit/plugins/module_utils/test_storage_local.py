# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import hashlib
import io
import itertools
import json
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import files
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import (
    LocalStorage,
    ObjectExists,
    ObjectMissing,
    lock_stale_reason,
)
from ansible_collections.adhar.platform.plugins.module_utils._storage import base


@pytest.fixture
def store(tmp_path):
    return LocalStorage(str(tmp_path / "backups"))


def _files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(os.path.relpath(os.path.join(dirpath, f), root) for f in filenames)
    return sorted(out)


class ChunkedStream(io.RawIOBase):
    """A stream that records the sizes asked for (so tests can see nothing is read whole)."""

    def __init__(self, size, chunk=1 << 16):
        super().__init__()
        self.left = size
        self.asked = []

    def readable(self):
        return True

    def read(self, n=-1):
        self.asked.append(n)
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return b"z" * n


# -- objects --------------------------------------------------------------------

def test_put_read_list_delete(store):
    res = store.put("b1/resources/configmaps/namespaces/a/x.json", b'{"a":1}')
    assert res.size == 7 and res.sha256 == hashlib.sha256(b'{"a":1}').hexdigest()
    store.put("b1/etcd/snapshot.db", ChunkedStream(3 * 1024 * 1024))
    store.put("b2/x/y", [b"a", "b", b""])
    assert store.read("b2/x/y") == b"ab"
    assert store.exists("b1/etcd/snapshot.db") and not store.exists("b1/nope")
    keys = sorted(o.key for o in store.list("b1/"))
    assert keys == ["b1/etcd/snapshot.db", "b1/resources/configmaps/namespaces/a/x.json"]
    assert [o.size for o in store.list("b1/etcd/")] == [3 * 1024 * 1024]
    assert sorted(o.key for o in store.list("b")) == keys + ["b2/x/y"]
    assert store.list_dirs("") == ["b1", "b2"]
    assert store.list_dirs("b1/") == ["etcd", "resources"]
    assert store.delete_prefix("b1/", first=["b1/etcd/snapshot.db"]) == 2
    assert store.list_dirs("") == ["b2"]  # empty directories are removed
    assert list(store.list("b1/")) == []
    store.delete(["b2/x/y", "b2/missing"])
    assert _files(store.root) == []


def test_streams_are_read_in_chunks(store):
    stream = ChunkedStream(5 * 1024 * 1024)
    store.put("b/etcd/snapshot.db", stream)
    assert max(stream.asked) <= base.CHUNK_SIZE
    with store.open("b/etcd/snapshot.db") as f:
        assert len(f.read(10)) == 10


def test_write_once(store):
    store.put("b/a", b"1")
    with pytest.raises(ObjectExists, match="already exists"):
        store.put("b/a", b"2")
    assert store.read("b/a") == b"1"
    store.put("b/a", b"3", overwrite=True)
    assert store.read("b/a") == b"3"


def test_write_once_without_hard_links(store, monkeypatch):
    def no_link(src, dst):
        raise OSError(1, "Operation not permitted")
    monkeypatch.setattr(os, "link", no_link)
    store.put("b/a", b"1")
    with pytest.raises(ObjectExists):
        store.put("b/a", b"2")
    assert store.read("b/a") == b"1"
    assert _files(store.root) == ["b/a"]


def test_failed_stream_leaves_nothing(store):
    def chunks():
        yield b"half"
        raise RuntimeError("source died")
    with pytest.raises(RuntimeError):
        store.put("b/item", chunks())
    assert not store.exists("b/item")
    assert _files(store.root) == []  # no temporary file either


def test_files_and_directories_are_private(store):
    store.put("b/resources/x.json", b"{}")
    assert stat.S_IMODE(os.stat(os.path.join(store.root, "b", "resources", "x.json")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(store.root, "b")).st_mode) == 0o700


def test_temporary_files_are_not_listed(store):
    store.put("b/a", b"1")
    with open(os.path.join(store.root, "b", base.TEMP_PREFIX + "zz"), "wb") as f:
        f.write(b"partial")
    assert [o.key for o in store.list("b/")] == ["b/a"]


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/.", "a\\b", "a/\x00", "a/" + base.TEMP_PREFIX + "x"])
def test_bad_keys_are_refused(store, key):
    with pytest.raises(AdharError, match="invalid storage key"):
        store.put(key, b"x")


def _clean_key(key):
    """What a clean key is, part by part (the rule ``check_key`` implements with substring tests)."""
    return bool(key) and all(part not in ("", ".", "..") and "\x00" not in part and "\\" not in part
                             and not part.startswith(base.TEMP_PREFIX) for part in key.split("/"))


def test_check_key_refuses_exactly_the_keys_with_a_bad_part():
    pieces = ["a", ".", "/", "\\", "\x00", base.TEMP_PREFIX, "b."]
    keys = [""] + ["".join(combo) for n in range(1, 6) for combo in itertools.product(pieces, repeat=n)]
    for key in keys:
        try:
            base.check_key(key)
            refused = False
        except AdharError:
            refused = True
        assert refused != _clean_key(key), repr(key)


def test_missing_object(store):
    with pytest.raises(ObjectMissing, match="is missing"):
        store.open("b/none")
    assert list(store.list("nothing/")) == []
    assert store.list_dirs("") == []


def test_check(store):
    with pytest.raises(AdharError, match="does not exist"):
        store.check()
    store.check(write=True)
    store.check()
    assert store.describe() == {"type": "local", "url": "file://" + store.root, "path": store.root}


def test_commit_fsync_mode_syncs_at_the_barrier(tmp_path, monkeypatch):
    store = LocalStorage(str(tmp_path), fsync="commit")
    fsynced, synced = [], []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(fd) or real_fsync(fd))
    monkeypatch.setattr(os, "sync", lambda: synced.append(True))
    for i in range(3):
        store.put("b/%d" % i, b"x")
    assert fsynced == []  # nothing fsynced per object
    store.sync()
    assert len(fsynced) == 3 + 1  # the three files, then their directory
    for i in range(100):
        store.put("c/%d" % i, b"x")
    store.sync()
    assert synced == [True]  # many files: one sync(2)
    with pytest.raises(AdharError):
        LocalStorage(str(tmp_path), fsync="never")


def test_commit_mode_writes_items_in_place_once(tmp_path, monkeypatch):
    store = LocalStorage(str(tmp_path), fsync="commit")
    linked = []
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda a, b: linked.append(b) or real_link(a, b))
    store.put("bk/resources/configmaps/namespaces/a/x.json", b"one")
    assert linked == []  # items: created in place, no temp file + link
    with pytest.raises(ObjectExists):
        store.put("bk/resources/configmaps/namespaces/a/x.json", b"two")
    assert store.read("bk/resources/configmaps/namespaces/a/x.json") == b"one"

    def broken():
        yield b"partial"
        raise OSError("disk gone")

    with pytest.raises(OSError):
        store.put("bk/resources/configmaps/namespaces/a/y.json", broken())
    assert not os.path.exists(os.path.join(str(tmp_path), "bk", "resources", "configmaps", "namespaces", "a", "y.json"))
    store.put("bk/manifest.json", b"{}")  # top-level objects keep the atomic temp + link path
    assert linked == [os.path.join(str(tmp_path), "bk", "manifest.json")]
    assert not [f for f in _files(str(tmp_path)) if os.path.basename(f).startswith(base.TEMP_PREFIX)]


def test_always_fsync_mode_fsyncs_each_object(tmp_path, monkeypatch):
    store = LocalStorage(str(tmp_path))
    fsynced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(fd) or real_fsync(fd))
    store.put("b/1", b"x")
    store.put("b/2", b"x")
    assert len(fsynced) == 2


# -- locks ----------------------------------------------------------------------

def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(store, cluster, **info):
    body = dict(base.process_identity())
    body.update({"cluster": cluster, "purpose": "backup", "owner": "x", "acquired": base.isotime(base.utcnow()),
                 "ttl": 3600})
    body.update(info)
    path = os.path.join(store.root, ".locks", cluster + ".lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(body, f)
    return path


def test_lock_excludes_a_second_holder(store):
    with store.lock("prod", backup="b1") as lock:
        assert lock.held
        info = json.loads(store.read(".locks/prod.lock"))
        assert info["pid"] == os.getpid() and info["host"] and info["backup"] == "b1" and info["ttl"] == base.DEFAULT_LOCK_TTL
        with pytest.raises(AdharError, match=r"cluster prod is locked: backup by pid %d" % os.getpid()) as err:
            store.lock("prod").acquire()
        assert err.value.details["holder"]["backup"] == "b1"
        with store.lock("staging"):
            pass  # other clusters are independent
    assert not store.exists(".locks/prod.lock")
    store.lock("prod").acquire().release()


def test_lock_of_a_dead_process_is_stale(store):
    _write_lock(store, "prod", pid=_dead_pid())
    lock = store.lock("prod").acquire()
    assert "is gone" in lock.took_over["reason"]
    assert json.loads(store.read(".locks/prod.lock"))["pid"] == os.getpid()
    lock.release()


def test_lock_of_a_reused_pid_is_stale(store):
    # our own pid, but another start time: the pid was reused
    _write_lock(store, "prod", pid=os.getpid(), pid_start=1)
    assert "is gone" in store.lock("prod").acquire().took_over["reason"]


def test_lock_of_another_host_is_held_until_it_expires(store):
    path = _write_lock(store, "prod", host="elsewhere", pid=1, ttl=600)
    with pytest.raises(AdharError, match="on elsewhere"):
        store.lock("prod").acquire()
    old = time.time() - 601
    os.utime(path, (old, old))
    lock = store.lock("prod").acquire()
    assert "expired" in lock.took_over["reason"]


def test_lock_in_another_pid_namespace_is_judged_by_expiry_only(store):
    _write_lock(store, "prod", pid=_dead_pid(), pid_namespace="pid:[1]")
    with pytest.raises(AdharError, match="is locked"):
        store.lock("prod").acquire()


def test_unreadable_lock(store):
    path = _write_lock(store, "prod")
    with open(path, "w") as f:
        f.write("{not json")
    with pytest.raises(AdharError, match="is locked"):
        store.lock("prod").acquire()
    old = time.time() - base.UNREADABLE_LOCK_GRACE - 5
    os.utime(path, (old, old))
    assert "unreadable" in store.lock("prod").acquire().took_over["reason"]


def test_lock_refresh_and_takeover(store):
    lock = store.lock("prod", ttl=600).acquire()
    lock.refresh()
    assert lock.held
    # someone judged it stale and took it over
    path = os.path.join(store.root, ".locks", "prod.lock")
    os.unlink(path)
    _write_lock(store, "prod", host="elsewhere")
    with pytest.raises(AdharError, match="taken over"):
        lock.refresh()
    assert lock.release() is False
    assert json.loads(store.read(".locks/prod.lock"))["host"] == "elsewhere"  # not deleted by the old holder


def test_concurrent_takeover_has_one_winner(store):
    _write_lock(store, "prod", pid=_dead_pid())
    winners, errors = [], []
    barrier = threading.Barrier(8)

    def contend():
        lock = store.lock("prod")
        barrier.wait()
        try:
            lock.acquire()
            winners.append(lock)
        except AdharError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=contend) for dummy in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(errors) == 7
    assert json.loads(store.read(".locks/prod.lock"))["owner"] == winners[0].token


def test_lock_stale_reason_rules():
    me = base.process_identity()
    now = base.utcnow()
    assert lock_stale_reason(dict(me), now, now, me) is None
    old = now - datetime.timedelta(seconds=100)
    assert "expired" in lock_stale_reason(dict(me, ttl=50), old, now, me)
    assert lock_stale_reason(dict(me, ttl=500), old, now, me) is None
    assert lock_stale_reason(None, now, now, me) is None
    assert "unreadable" in lock_stale_reason(None, old, now, me)
    other_boot = dict(me, boot_id="another-boot", pid=_dead_pid())
    assert lock_stale_reason(other_boot, now, now, me) is None


@pytest.mark.parametrize("name", ["", "a/b", "..", ".x/y"])
def test_bad_lock_names(store, name):
    with pytest.raises(AdharError):
        store.lock(name)


# -- the location is checked before anything is read or written -----------------------


def test_check_refuses_a_regular_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("x")
    for write in (False, True):
        with pytest.raises(AdharError, match="storage path %s is not a directory" % path) as info:
            LocalStorage(str(path)).check(write=write)
        assert info.value.details["option"] == "storage.path"


def test_check_refuses_a_path_under_a_regular_file(tmp_path):
    (tmp_path / "a-file").write_text("x")
    path = tmp_path / "a-file" / "sub" / "backups"
    with pytest.raises(AdharError, match="cannot exist: %s is not a directory" % (tmp_path / "a-file")):
        LocalStorage(str(path)).check(write=True)
    with pytest.raises(AdharError, match="cannot exist"):
        LocalStorage(str(path)).check()


def test_check_refuses_a_broken_link(tmp_path):
    os.symlink(str(tmp_path / "gone"), str(tmp_path / "link"))
    with pytest.raises(AdharError, match="is a broken symbolic link"):
        LocalStorage(str(tmp_path / "link")).check(write=True)


def test_check_without_create_writes_nothing(tmp_path):
    store = LocalStorage(str(tmp_path / "new" / "backups"))
    store.check(write=True, create=False)
    assert not os.path.exists(str(tmp_path / "new"))
    with pytest.raises(AdharError, match="does not exist"):
        store.check()


# -- locks on a full file system (simulated; tests/integration has the real tmpfs) ----------


def _enospc(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_lock_that_cannot_be_written_fails_with_the_cause_and_leaves_nothing(store, monkeypatch):
    store.check(write=True)
    monkeypatch.setattr(files, "write_temp", _enospc)
    with pytest.raises(AdharError) as info:
        store.lock("prod").acquire()
    assert info.value.msg == "cannot write the lock .locks/prod.lock in %s: No space left on device" % store.location
    assert _files(store.root) == []


def test_lock_whose_link_fails_leaves_no_partial_file(store, monkeypatch):
    store.check(write=True)
    monkeypatch.setattr(os, "link", _enospc)
    with pytest.raises(AdharError, match="cannot write the lock .locks/prod.lock .*No space left on device"):
        store.lock("prod").acquire()
    assert _files(store.root) == []


def test_lock_release_needs_no_new_file(store, monkeypatch):
    lock = store.lock("prod").acquire()
    real_open = os.open

    def no_new_files(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(28, "No space left on device")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_new_files)
    monkeypatch.setattr("builtins.open", _enospc)
    assert lock.release() is True
    monkeypatch.undo()
    assert _files(store.root) == []


def test_release_failure_never_hides_the_error_on_its_way_out(store, monkeypatch):
    lock = store.lock("prod").acquire()
    monkeypatch.setattr(store, "_lock_delete", lambda key, handle: _enospc())
    with pytest.raises(AdharError) as info:
        try:
            raise AdharError("cannot write b1/resources/x.json: No space left on device")
        finally:
            lock.release()
    assert info.value.msg == "cannot write b1/resources/x.json: No space left on device"
    assert "cannot remove the lock .locks/prod.lock" in info.value.details["lock_release_error"]
    # with nothing on its way out, the failure itself is raised
    lock2 = store.lock("other").acquire()
    with pytest.raises(AdharError, match="cannot remove the lock .locks/other.lock .*No space left on device"):
        lock2.release()


def test_a_created_lock_is_always_one_its_holder_can_release(store, monkeypatch):
    lock = store.lock("prod").acquire()
    st = os.stat(os.path.join(store.root, ".locks", "prod.lock"))
    assert lock._handle == (st.st_ino, st.st_mtime_ns, st.st_size)
    assert lock.release() is True
    assert _files(store.root) == []


def test_refresh_that_cannot_write_keeps_the_lock_releasable(store, monkeypatch):
    lock = store.lock("prod").acquire()
    monkeypatch.setattr(files, "write_temp", _enospc)  # the temporary file of the atomic write
    with pytest.raises(AdharError, match="cannot refresh the lock .locks/prod.lock .*No space left on device"):
        lock.refresh()
    monkeypatch.undo()
    assert lock.release() is True
    assert _files(store.root) == []


def test_object_that_cannot_be_written_names_the_object_and_the_cause(store, monkeypatch):
    store.check(write=True)
    monkeypatch.setattr(store, "_write_temp", _enospc)
    with pytest.raises(AdharError, match="cannot write b1/started.json in file://.*: No space left on device"):
        store.put("b1/started.json", b"{}")
