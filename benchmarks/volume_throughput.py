# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput of the volume section: a directory of random files streamed into an encrypted backup item
(``archive.volumes.tar_stream`` through ``ArchiveWriter`` to local storage) and extracted back
(``ArchiveReader.iter_chunks`` into ``archive.volumes.extract``, every segment authenticated, every file's SHA-256
compared with the index). No cluster: this is the data path of ``backup``/``restore`` ``volume_data``.

    PYTHONPATH=$ADHAR_WORK/collections .venv/bin/python benchmarks/volume_throughput.py [--mib 512] [--files 64] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader, ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._archive import volumes as av
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper, generate_key
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import LocalStorage


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="total size of the files (MiB)")
    parser.add_argument("--files", type=int, default=64, help="number of files")
    parser.add_argument("--dir", default=None, help="where to work (a temporary directory is made in it)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="adhar-volume-bench-", dir=args.dir)
    try:
        src = os.path.join(work, "volume")
        os.mkdir(src)
        per_file = args.mib * 1024 * 1024 // args.files
        for i in range(args.files):
            with open(os.path.join(src, "f%04d.bin" % i), "wb") as f:
                left = per_file
                while left:
                    n = min(left, 8 * 1024 * 1024)
                    f.write(os.urandom(n))
                    left -= n
        total = per_file * args.files
        key = KeyWrapper(generate_key())
        store = LocalStorage(os.path.join(work, "store"), fsync="commit")
        t = time.monotonic()
        writer = ArchiveWriter(store, "bench", cluster="bench", key_wrapper=key)
        index = {}
        data_item, index_item = av.volume_paths("bench", "data")
        record = writer.add(data_item, av.tar_stream(src, index), encrypt=True)
        writer.add(index_item, index, encrypt=True)
        writer.commit()
        backup_s = time.monotonic() - t
        reader = ArchiveReader(store, "bench", key)
        t = time.monotonic()
        got = av.extract(reader.iter_chunks(record["path"]), os.path.join(work, "restored"))
        assert av.differences(reader.read_json(index_item), got) == []
        restore_s = time.monotonic() - t
        print(json.dumps({"bytes": total, "files": args.files, "stored_bytes": record["size"],
                          "backup_seconds": round(backup_s, 2), "backup_mb_per_second": round(total / 1e6 / backup_s, 1),
                          "restore_seconds": round(restore_s, 2),
                          "restore_mb_per_second": round(total / 1e6 / restore_s, 1)}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
