# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The private scratch directory and memory-only files (real processes and file systems, no mocks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common import scratch
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import ScratchDir, memfd_path, proc_start_time, sweep


def test_scratch_dir_is_private_named_after_its_owner_and_removed(tmp_path):
    with ScratchDir("etcd-recover", str(tmp_path)) as sd:
        root = tmp_path / ".adhar-scratch"
        assert os.path.dirname(sd.path) == str(root)
        assert oct(os.stat(str(root)).st_mode & 0o777) == "0o700"
        assert oct(os.stat(sd.path).st_mode & 0o777) == "0o700"
        purpose, pid, start, dummy = os.path.basename(sd.path).rsplit("-", 3)
        assert purpose == "etcd-recover" and int(pid) == os.getpid() and int(start) == proc_start_time(os.getpid())
        with sd.file("snapshot.db") as f:
            f.write(b"plaintext")
        assert oct(os.stat(os.path.join(sd.path, "snapshot.db")).st_mode & 0o777) == "0o600"
        with pytest.raises(FileExistsError):
            sd.file("snapshot.db")
        path = sd.path
    assert not os.path.exists(path) and os.listdir(str(root)) == []


def test_removed_when_the_block_raises(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with ScratchDir("x", str(tmp_path)) as sd:
            path = sd.path
            raise KeyboardInterrupt()
    assert not os.path.exists(path)


def _killed_owner(tmp_path):
    """A child that makes a scratch directory with a file in it and is then killed with SIGKILL; returns the dir."""
    code = ("import sys, time\n"
            "from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import ScratchDir\n"
            "sd = ScratchDir('etcd-recover', sys.argv[1])\n"
            "sd.file('snapshot.db').write(b'x')\n"
            "print(sd.path, flush=True)\n"
            "time.sleep(60)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # the collection as this process sees it
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    path = proc.stdout.readline().decode().strip()
    assert path, "the child did not start"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return path


def test_the_next_run_sweeps_what_a_killed_run_left(tmp_path):
    left = _killed_owner(tmp_path)
    assert os.path.isfile(os.path.join(left, "snapshot.db"))
    root = str(tmp_path / ".adhar-scratch")
    # a live owner's directory and a foreign name are kept
    live = os.path.join(root, "etcd-recover-%d-%d-0123abcd" % (os.getppid(), proc_start_time(os.getppid())))
    os.mkdir(live, 0o700)
    other = os.path.join(root, "not-ours")
    os.mkdir(other)
    # a reused pid (same pid, other start time) does not keep a directory alive
    reused = os.path.join(root, "etcd-recover-%d-1-0123abcd" % os.getppid())
    os.mkdir(reused)
    with ScratchDir("etcd-recover", str(tmp_path)) as sd:
        assert sorted(sd.swept) == sorted([os.path.basename(left), os.path.basename(reused)])
        assert sorted(os.listdir(root)) == sorted([os.path.basename(sd.path), os.path.basename(live), "not-ours"])
    assert sweep(root) == []


def test_a_root_that_is_not_ours_is_refused(tmp_path):
    (tmp_path / ".adhar-scratch").write_text("a file")
    with pytest.raises(AdharError, match="cannot create the private scratch directory|not a directory owned by this user"):
        ScratchDir("x", str(tmp_path))


def test_a_root_with_loose_mode_is_tightened(tmp_path):
    root = tmp_path / ".adhar-scratch"
    root.mkdir(mode=0o755)
    os.chmod(str(root), 0o755)
    with ScratchDir("x", str(tmp_path)):
        assert oct(os.stat(str(root)).st_mode & 0o777) == "0o700"


def test_bad_purpose():
    with pytest.raises(ValueError):
        ScratchDir("../x")


@pytest.mark.skipif(not scratch.memfd_supported(), reason="memfd_create is Linux only")
def test_memfd_path_is_readable_here_and_by_children_and_never_on_disk(tmp_path):
    secret = b"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    path = memfd_path(secret, "t")
    assert memfd_path(secret, "t") == path  # shared by equal contents
    assert path.startswith("/proc/self/fd/")
    with open(path, "rb") as f:
        assert f.read() == secret
    with open(path, "rb") as f:  # re-readable from the start (libraries open it per connection)
        assert f.read() == secret
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert os.readlink(path).startswith("/memfd:")
    one, fd = memfd_path(b"child data", "t", keep=False)
    try:
        out = subprocess.run(["cat", one], pass_fds=(fd,), capture_output=True, check=True).stdout
    finally:
        os.close(fd)
    assert out == b"child data"
