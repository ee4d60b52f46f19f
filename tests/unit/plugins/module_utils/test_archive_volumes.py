# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The volume section of the backup archive: tar stream, extraction, index, corruption, old archives."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._archive import volumes as av
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage

BIG = os.urandom(2 * 1024 * 1024 + 7)


def make_volume(root):
    os.makedirs(os.path.join(root, "a", "b"))
    with open(os.path.join(root, "a", "big.bin"), "wb") as f:
        f.write(BIG)
    with open(os.path.join(root, "a", "b", "small.txt"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(root, "empty"), "w"):
        pass
    os.chmod(os.path.join(root, "a", "b", "small.txt"), 0o604)
    os.chmod(os.path.join(root, "a", "b"), 0o711)
    os.utime(os.path.join(root, "a", "big.bin"), (1500000000, 1500000000))
    os.symlink("a/big.bin", os.path.join(root, "link"))
    os.mkfifo(os.path.join(root, "fifo"))


def test_tar_stream_round_trip_keeps_modes_mtimes_links(tmp_path):
    src = str(tmp_path / "src")
    os.mkdir(src)
    make_volume(src)
    index = {}
    chunks = list(av.tar_stream(src, index))
    assert max(len(c) for c in chunks) <= av.CHUNK  # streamed: no chunk holds a whole big file
    assert (index["files"], index["dirs"], index["symlinks"]) == (3, 2, 1)
    assert index["bytes"] == len(BIG) + 6 and index["skipped"] == ["fifo"]
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:  # a standard tar
        assert sorted(tar.getnames()) == ["a", "a/b", "a/b/small.txt", "a/big.bin", "empty", "link"]
    dest = str(tmp_path / "dest")
    got = av.extract(iter(chunks), dest)
    assert av.differences(index, got) == []
    assert av.differences(index, av.scan(dest)) == []
    assert stat.S_IMODE(os.stat(os.path.join(dest, "a", "b", "small.txt")).st_mode) == 0o604
    assert stat.S_IMODE(os.stat(os.path.join(dest, "a", "b")).st_mode) == 0o711
    assert int(os.stat(os.path.join(dest, "a", "big.bin")).st_mtime) == 1500000000
    assert os.readlink(os.path.join(dest, "link")) == "a/big.bin"


def _tar(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _info(name, kind=tarfile.REGTYPE, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize("members, what", [
    ([(_info("../escape", size=1), b"x")], "unsafe path"),
    ([(_info("/etc/passwd", size=1), b"x")], "unsafe path"),
    ([(_info("out", tarfile.SYMTYPE, link="../../etc"), None)], "leaving the volume"),
    ([(_info("out", tarfile.SYMTYPE, link="sub"), None), (_info("out/x", size=1), b"x")], "through a symbolic link"),
    ([(_info("dev", tarfile.CHRTYPE), None)], "not a file"),
])
def test_extract_refuses_unsafe_entries(tmp_path, members, what):
    with pytest.raises(AdharError, match=what):
        av.extract([_tar(members)], str(tmp_path / "dest"))


def test_differences_and_replace_dir(tmp_path):
    a = str(tmp_path / "a")
    os.mkdir(a)
    make_volume(a)
    want = av.scan(a)
    os.chmod(os.path.join(a, "empty"), 0o600)
    with open(os.path.join(a, "extra"), "w") as f:
        f.write("x")
    diffs = {d["path"]: d for d in av.differences(want, av.scan(a))}
    assert diffs["extra"]["change"] == "removed" and diffs["empty"]["fields"] == ["mode"]
    staging = av.staging_dir(a)
    os.mkdir(staging)
    av.replace_dir(staging, a, mode=0o755)
    assert os.listdir(a) == [] and not os.path.exists(staging)
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith(av.STAGING_PREFIX)] == []


def _backup(store, src, key=None, name="b1"):
    w = ArchiveWriter(store, name, cluster="c1", key_wrapper=key)
    data_item, index_item = av.volume_paths("shop", "data")
    index = {}
    record = w.add(data_item, av.tar_stream(src, index), encrypt=key is not None or None)
    w.add(index_item, index, encrypt=key is not None or None)
    w.metadata["volumes"] = {"captured": [{"namespace": "shop", "pvc": "data", "item": record["path"]}]}
    w.commit()
    return record


@pytest.mark.parametrize("encrypted", [False, True])
def test_volume_items_in_the_archive(tmp_path, encrypted):
    src = str(tmp_path / "src")
    os.mkdir(src)
    make_volume(src)
    store = LocalStorage(str(tmp_path / "store"))
    key = KeyWrapper(generate_key()) if encrypted else None
    record = _backup(store, src, key)
    assert record["path"] == "volumes/shop/data.tar" + (".enc" if encrypted else "")
    reader = ArchiveReader(store, "b1", key)
    assert reader.manifest["sections"] == {"volumes": 2}
    reader.verify()
    with open(os.path.join(str(tmp_path / "store"), "b1", record["path"]), "rb") as f:
        assert (BIG[:4096] in f.read()) is not encrypted
    dest = str(tmp_path / "dest")
    got = av.extract(reader.iter_chunks(record["path"]), dest)
    assert av.differences(reader.read_json(av.volume_paths("shop", "data")[1]), got) == []


def test_a_corrupted_chunk_is_found_before_and_during_extraction(tmp_path):
    src = str(tmp_path / "src")
    os.mkdir(src)
    make_volume(src)
    root = str(tmp_path / "store")
    store = LocalStorage(root)
    key = KeyWrapper(generate_key())
    record = _backup(store, src, key)
    path = os.path.join(root, "b1", record["path"])
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 1]))
    reader = ArchiveReader(store, "b1", key)
    with pytest.raises(AdharError, match="corrupted or was tampered with"):
        for dummy in reader.stored_chunks(reader.item(record["path"])):
            pass
    dest = str(tmp_path / "dest")
    with pytest.raises(AdharError, match="cannot decrypt"):
        av.extract(reader.iter_chunks(record["path"]), dest)


def test_old_archives_without_a_volume_section_stay_readable(tmp_path):
    store = LocalStorage(str(tmp_path / "store"))
    w = ArchiveWriter(store, "old", cluster="c1")
    w.add_resource({"metadata": {"name": "cm", "namespace": "a"}}, "configmaps")
    w.commit()
    manifest_path = os.path.join(str(tmp_path / "store"), "old", "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    manifest["format_version"] = "1.1.0"
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    reader = ArchiveReader(store, "old")
    assert reader.items("volumes") == [] and len(reader.items("resources")) == 1


def test_volume_paths_are_checked():
    assert av.volume_paths("ns", "pvc") == ("volumes/ns/pvc.tar", "volumes/ns/pvc.index.json")
    with pytest.raises(AdharError):
        av.volume_paths("ns", "../x")
