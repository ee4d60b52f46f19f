# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The archive and storage layers against S3 and KMS over real HTTP (moto server, its own process).

Round trip with encryption and a multipart item, write-once on a versioned
bucket, a writer killed with SIGKILL mid-upload, retention, a data key
wrapped by KMS, the S3 lock (conditional puts), resumed reads, pagination.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime
import importlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import types
import uuid

import pytest

import moto_server
from moto_server import AWS_ENV, REGION

boto3 = pytest.importorskip("boto3")
pytest.importorskip("cryptography")

MiB = 1024 * 1024
PART = 5 * MiB
SECRET = b"hunter2-the-secret-value"
KEY = base64.b64encode(os.urandom(32)).decode()


moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)


@pytest.fixture(scope="module")
def adhar(collections_path):
    """The collection's module_utils, imported through the session's collections tree."""
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    base = "ansible_collections.adhar.platform.plugins.module_utils."
    return types.SimpleNamespace(**{name: importlib.import_module(base + path) for name, path in (
        ("archive", "_archive.api"), ("storage", "_storage.api"), ("crypto_envelope", "_dr.crypto_envelope"),
        ("core", "_common.core"), ("s3", "_storage.s3"))})


@pytest.fixture(scope="module")
def aws(moto_endpoint):
    kwargs = dict(endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    return types.SimpleNamespace(s3=boto3.client("s3", **kwargs), kms=boto3.client("kms", **kwargs), endpoint=moto_endpoint)


@pytest.fixture
def bucket(aws):
    name = "adhar-%s" % uuid.uuid4().hex[:12]
    aws.s3.create_bucket(Bucket=name)
    return name


def storage(adhar, aws, bucket, prefix="backups", **kw):
    return adhar.storage.storage_from_params(
        {"type": "s3", "bucket": bucket, "prefix": prefix, "region": REGION, "endpoint_url": aws.endpoint,
         "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}, part_size=PART, **kw)


def all_objects(aws, bucket):
    out = {}
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = aws.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def write_backup(adhar, store, name, wrapper=None, cluster="prod", etcd=None, lock=None, n=10):
    w = adhar.archive.ArchiveWriter(store, name, cluster=cluster, kubernetes_version="v1.36.3", key_wrapper=wrapper,
                                    lock=lock, workers=4)
    for i in range(n):
        w.submit(adhar.archive.resource_path("configmaps", "", "app", "cm-%d" % i), {"data": {"i": str(i)}})
    if wrapper is not None:
        w.add(adhar.archive.resource_path("secrets", "", "app", "db"),
              {"kind": "Secret", "data": {"password": base64.b64encode(SECRET).decode()}, "stringData": {"p": SECRET.decode()}},
              encrypt=True)
    if etcd is not None:
        w.add(adhar.archive.ETCD_SNAPSHOT, etcd, encrypt=wrapper is not None)
    return w.commit()


def big_stream(size, seed=b"etcd"):
    """``size`` bytes in 1 MiB chunks, never all in memory; ``digest`` of what was produced."""
    block = (seed * (MiB // len(seed) + 1))[:MiB]
    left = size
    while left:
        n = min(left, MiB)
        yield block[:n]
        left -= n


# -- round trip ----------------------------------------------------------------------

def test_encrypted_round_trip_with_multipart(adhar, aws, bucket):
    store = storage(adhar, aws, bucket)
    store.check()
    wrapper = adhar.crypto_envelope.KeyWrapper(KEY)
    size = 12 * MiB + 123
    manifest = write_backup(adhar, store, "prod-1", wrapper, etcd=big_stream(size))
    assert manifest["counts"] == {"configmaps": 10, "secrets": 1}
    assert manifest["encryption"]["encrypted_items"] == 2

    # the snapshot went up as a multipart upload (3 parts), written once with If-None-Match
    head = aws.s3.head_object(Bucket=bucket, Key="backups/prod-1/etcd/snapshot.db.enc")
    assert head["ETag"].endswith('-3"')
    assert store.describe()["conditional_writes"] is True

    listed = adhar.archive.list_backups(store)
    assert [(b["name"], b["complete"], b["encrypted"], b["cluster"]) for b in listed] == [("prod-1", True, True, "prod")]
    assert listed[0]["size"] > size

    reader = adhar.archive.ArchiveReader(store, "prod-1", wrapper)
    report = reader.verify()
    assert report["ok"] and report["decryption_checked"] and report["items"] == 12
    assert reader.read_json("resources/secrets/namespaces/app/db.json")["stringData"]["p"] == SECRET.decode()
    out = io.BytesIO()
    assert reader.copy_to(adhar.archive.ETCD_SNAPSHOT, out) == size
    assert out.getvalue() == b"".join(big_stream(size))

    # no plaintext secret in any stored object
    for key, data in all_objects(aws, bucket).items():
        assert SECRET not in data and base64.b64encode(SECRET) not in data, key

    # a wrong key: one clear error
    with pytest.raises(adhar.core.AdharError, match="cannot decrypt: wrong key or tampered data"):
        adhar.archive.ArchiveReader(store, "prod-1", adhar.crypto_envelope.KeyWrapper(os.urandom(32))).verify()


def test_flipped_byte_in_s3_is_named(adhar, aws, bucket):
    store = storage(adhar, aws, bucket)
    wrapper = adhar.crypto_envelope.KeyWrapper(KEY)
    write_backup(adhar, store, "b1", wrapper)
    key = "backups/b1/resources/secrets/namespaces/app/db.json.enc"
    data = bytearray(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[40] ^= 1
    aws.s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    with pytest.raises(adhar.core.AdharError, match="resources/secrets/namespaces/app/db.json.enc of backup b1 is corrupted"):
        adhar.archive.ArchiveReader(store, "b1", wrapper).verify()


def test_packed_backup_on_s3(adhar, aws, bucket):
    """Format 2.0 on S3: 200 small items in a few pack objects; one item is a ranged GET; a flipped byte in a pack
    names the item."""
    store = storage(adhar, aws, bucket)
    wrapper = adhar.crypto_envelope.KeyWrapper(KEY)
    w = adhar.archive.ArchiveWriter(store, "p1", cluster="prod", key_wrapper=wrapper, encrypt_all=True, workers=4,
                                    pack_size=16 * 1024)
    for i in range(200):
        w.submit(adhar.archive.resource_path("configmaps", "", "app", "cm-%03d" % i), {"data": {"i": "x" * i}})
    manifest = w.commit()
    keys = sorted(all_objects(aws, bucket))
    assert manifest["format_version"] == "2.1.0" and len(keys) == 2 + len(manifest["packs"]) < 20, keys
    reader = adhar.archive.ArchiveReader(store, "p1", wrapper)
    assert reader.read_json("resources/configmaps/namespaces/app/cm-123.json")["data"]["i"] == "x" * 123
    got = list(reader.read_many(reader.items("resources"), workers=4))
    assert len(got) == 200 and not [e for dummy, dummy2, e in got if e is not None]
    assert reader.verify()["ok"]
    target = next(i for i in manifest["items"] if i["path"].endswith("cm-077.json.enc"))
    key = "backups/p1/" + target["pack"]
    data = bytearray(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[target["offset"] + 5] ^= 1
    aws.s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    with pytest.raises(adhar.core.AdharError, match="cm-077.json.enc of backup p1 is corrupted"):
        adhar.archive.ArchiveReader(store, "p1", wrapper).read(target["path"])


def test_write_once_on_a_versioned_bucket(adhar, aws, bucket):
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = storage(adhar, aws, bucket)
    write_backup(adhar, store, "b1", adhar.crypto_envelope.KeyWrapper(KEY))
    with pytest.raises(adhar.storage.ObjectExists, match="already exists"):
        store.put("b1/manifest.json", b"{}")
    with pytest.raises(adhar.storage.ObjectExists):
        store.put("b1/resources/configmaps/namespaces/app/cm-0.json", big_stream(6 * MiB))  # multipart is conditional too
    with pytest.raises(adhar.core.AdharError, match="already exists .* never overwritten"):
        write_backup(adhar, store, "b1")
    versions = aws.s3.list_object_versions(Bucket=bucket, Prefix="backups/b1/")
    keys = [v["Key"] for v in versions.get("Versions", [])]
    assert len(keys) == len(set(keys)) == 13  # one version per object: nothing was ever rewritten
    assert not aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # the refused upload was aborted
    # an identical retry of a lost write is not an error
    store.put("b1/extra/retry.bin", b"same")
    store.put("b1/extra/retry.bin", b"same")


# -- kill -9 -----------------------------------------------------------------------

WRITER = r"""
import sys, time
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveWriter
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper

endpoint, bucket, name, key = sys.argv[1:5]
store = storage_from_params({"url": "s3://%s/backups" % bucket, "region": "us-east-1", "endpoint_url": endpoint,
                             "aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
                            part_size=5 * 1024 * 1024)
lock = store.lock("prod", backup=name).acquire()
w = ArchiveWriter(store, name, cluster="prod", key_wrapper=KeyWrapper(key), lock=lock)
for i in range(20):
    w.add("resources/configmaps/namespaces/app/cm-%d.json" % i, {"i": i})

def snapshot():
    yield b"x" * (6 * 1024 * 1024)
    print("MULTIPART", flush=True)      # the first part is uploaded by now
    while True:
        time.sleep(0.2)
        yield b"y" * 1024

w.add("etcd/snapshot.db", snapshot(), encrypt=True)
"""


def test_kill_9_mid_backup(adhar, aws, bucket, collections_path):
    store = storage(adhar, aws, bucket)
    write_backup(adhar, store, "prod-0")
    env = dict(os.environ, PYTHONPATH=collections_path, **AWS_ENV)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, aws.endpoint, bucket, "prod-1", KEY], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line.strip() == b"MULTIPART", proc.stderr.read().decode()[-3000:] if proc.poll() is not None else line
        lock = store._lock_read(".locks/prod.lock")
        assert lock is not None and b'"backup": "prod-1"' in lock[0]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    listed = {b["name"]: b for b in adhar.archive.list_backups(store)}
    killed = listed["prod-1"]
    assert not killed["complete"] and killed["cluster"] == "prod" and killed["encrypted"] is True
    assert killed["items"] == 20 and "no manifest" in killed["problem"]
    with pytest.raises(adhar.core.AdharError, match="prod-1 .* is incomplete"):
        adhar.archive.ArchiveReader(store, "prod-1").manifest
    uploads = aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads") or []
    assert [u["Key"] for u in uploads] == ["backups/prod-1/etcd/snapshot.db.enc"]

    # the next backup of the cluster takes over the dead writer's lock and succeeds
    lock = store.lock("prod", backup="prod-2").acquire()
    assert "is gone" in lock.took_over["reason"] and lock.took_over["previous"]["backup"] == "prod-1"
    write_backup(adhar, store, "prod-2", adhar.crypto_envelope.KeyWrapper(KEY), lock=lock)
    lock.release()
    assert [(b["name"], b["complete"]) for b in adhar.archive.list_backups(store)] == [
        ("prod-0", True), ("prod-1", False), ("prod-2", True)]

    # retention: the young incomplete backup is kept, the newest complete one always
    result = adhar.archive.enforce_retention(store, keep_last=1)
    assert result["deleted"] == ["prod-0"]
    assert "may still be in progress" in next(k["reason"] for k in result["keep"] if k["name"] == "prod-1")
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    result = adhar.archive.enforce_retention(store, keep_last=1, max_age="1d", now=later)
    assert result["deleted"] == ["prod-1"] and [k["name"] for k in result["keep"]] == ["prod-2"]
    assert not aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # the orphaned upload was aborted
    assert [b["name"] for b in adhar.archive.list_backups(store)] == ["prod-2"]
    assert adhar.archive.ArchiveReader(store, "prod-2", adhar.crypto_envelope.KeyWrapper(KEY)).verify()["ok"]


# -- retention ------------------------------------------------------------------------

def test_retention_on_s3_with_pagination(adhar, aws, bucket):
    store = storage(adhar, aws, bucket, prefix="team/prod")
    write_backup(adhar, store, "big", n=1100)  # more objects than one list page (1000) and one delete batch
    for i in range(3):
        write_backup(adhar, store, "b%d" % i, n=3)
    listed = adhar.archive.list_backups(store)
    assert [b["name"] for b in listed] == ["big", "b0", "b1", "b2"]
    assert listed[0]["items"] == 1100
    assert len(list(store.list("big/"))) == 1102  # two pages
    plan = adhar.archive.plan_retention(listed, keep_last=2)
    assert [d["name"] for d in plan["delete"]] == ["b0", "big"]
    result = adhar.archive.apply_retention(store, plan)
    assert result == {"deleted": ["b0", "big"], "failed": []}
    assert [b["name"] for b in adhar.archive.list_backups(store)] == ["b1", "b2"]
    keys = aws.s3.list_objects_v2(Bucket=bucket, Prefix="team/prod/big/").get("KeyCount")
    assert keys == 0


# -- KMS ------------------------------------------------------------------------------

def test_kms_wrapped_data_key(adhar, aws, bucket):
    key_id = aws.kms.create_key(Description="adhar backups")["KeyMetadata"]["KeyId"]
    other = aws.kms.create_key(Description="someone else")["KeyMetadata"]["KeyId"]
    store = storage(adhar, aws, bucket)
    params = {"type": "s3", "bucket": bucket, "region": REGION, "aws_access_key_id": "testing",
              "aws_secret_access_key": "testing"}
    wrapper = adhar.crypto_envelope.key_wrapper_from_params(
        {"kms_key_id": key_id, "kms_endpoint_url": aws.endpoint}, params)
    manifest = write_backup(adhar, store, "kms-1", wrapper, etcd=b"snapshot")
    data_key = manifest["encryption"]["data_key"]
    assert data_key["wrapper"] == "aws-kms" and data_key["kms_key_id"].endswith(key_id)
    assert data_key["kms_region"] == REGION

    # reading needs no key id: the one recorded in the backup is used
    reader_wrapper = adhar.crypto_envelope.key_wrapper_from_params({"kms_endpoint_url": aws.endpoint}, params)
    reader = adhar.archive.ArchiveReader(store, "kms-1", reader_wrapper)
    assert reader.verify()["decryption_checked"]
    assert reader.read(adhar.archive.ETCD_SNAPSHOT) == b"snapshot"
    # KMS backups carry no signature: the MAC (KMS access) authenticates them; without KMS they are refused
    assert "signature" not in manifest and reader.integrity == "authenticated"
    with pytest.raises(adhar.core.AdharError, match="is encrypted with the AWS KMS key %s" % data_key["kms_key_id"]):
        adhar.archive.ArchiveReader(store, "kms-1").manifest
    verify_key = adhar.crypto_envelope.verify_key_info(adhar.crypto_envelope.KeyWrapper(KEY))["verify_key"]
    with pytest.raises(adhar.core.AdharError, match="backups encrypted with AWS KMS"):
        adhar.archive.ArchiveReader(store, "kms-1", verify_key=verify_key).manifest

    wrong = adhar.crypto_envelope.key_wrapper_from_params({"kms_key_id": other, "kms_endpoint_url": aws.endpoint}, params)
    with pytest.raises(adhar.core.AdharError) as err:
        adhar.archive.ArchiveReader(store, "kms-1", wrong).verify()
    assert err.value.msg == "cannot decrypt: wrong key or tampered data"
    # a local key cannot open a KMS backup, and says why
    with pytest.raises(adhar.core.AdharError, match="wrapped by aws-kms"):
        adhar.archive.ArchiveReader(store, "kms-1", adhar.crypto_envelope.KeyWrapper(KEY)).manifest

    # the encryption context binds the wrapped key to its backup
    enc = dict(manifest["encryption"])
    with pytest.raises(adhar.core.AdharError, match="cannot decrypt"):
        adhar.crypto_envelope.open_envelope(enc, wrapper, "another-backup")


def test_kms_errors_are_clear(adhar, aws):
    wrapper = adhar.crypto_envelope.KmsKeyWrapper("alias/does-not-exist", region=REGION, endpoint_url=aws.endpoint,
                                                  aws_access_key_id="testing", aws_secret_access_key="testing")
    with pytest.raises(adhar.core.AdharError, match="AWS KMS encrypt with key alias/does-not-exist failed"):
        wrapper.wrap(os.urandom(32), "b")


# -- locks ----------------------------------------------------------------------------

def test_s3_lock(adhar, aws, bucket):
    store = storage(adhar, aws, bucket)
    lock = store.lock("prod", ttl=600, backup="b1").acquire()
    with pytest.raises(adhar.core.AdharError, match="cluster prod is locked: backup by pid %d" % os.getpid()):
        store.lock("prod").acquire()
    before = lock._handle
    time.sleep(0.01)
    lock.refresh()  # If-Match on the lock's ETag
    assert lock._handle != before
    assert lock._handle == aws.s3.head_object(Bucket=bucket, Key="backups/.locks/prod.lock")["ETag"]
    # another run replaces the object: the old holder notices and does not delete the new lock
    aws.s3.put_object(Bucket=bucket, Key="backups/.locks/prod.lock",
                      Body=b'{"host": "elsewhere", "pid": 1, "ttl": 600, "purpose": "backup"}')
    with pytest.raises(adhar.core.AdharError, match="taken over"):
        lock.refresh()
    assert lock.release() is False
    assert aws.s3.get_object(Bucket=bucket, Key="backups/.locks/prod.lock")["Body"].read().startswith(b'{"host": "elsewhere"')
    with pytest.raises(adhar.core.AdharError, match="on elsewhere"):
        store.lock("prod").acquire()
    # expiry is judged by the server's clock: Last-Modified + ttl against Date
    aws.s3.put_object(Bucket=bucket, Key="backups/.locks/prod.lock",
                      Body=b'{"host": "elsewhere", "pid": 1, "ttl": 1, "purpose": "backup"}')
    time.sleep(2.2)
    taken = store.lock("prod").acquire()
    assert "expired" in taken.took_over["reason"]
    assert taken.release() is True
    assert not store.exists(".locks/prod.lock")
    # backup listing ignores the lock directory
    assert adhar.archive.list_backups(store) == []


def test_s3_lock_has_one_winner(adhar, aws, bucket):
    store = storage(adhar, aws, bucket)
    stores = [storage(adhar, aws, bucket) for dummy in range(6)]
    barrier = threading.Barrier(len(stores))

    def contend(s):
        barrier.wait()
        try:
            return s.lock("prod").acquire()
        except adhar.core.AdharError:
            return None

    with concurrent.futures.ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(contend, stores))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert store.lock("staging").acquire().release()


# -- streaming -------------------------------------------------------------------------

def test_read_resumes_after_a_broken_connection(adhar, aws, bucket):
    store = storage(adhar, aws, bucket)
    data = os.urandom(3 * MiB)
    store.put("b/etcd/snapshot.db", data)
    calls = []
    real_get = store.client.get_object
    store.client.get_object = lambda **kw: calls.append(kw) or real_get(**kw)
    with store.open("b/etcd/snapshot.db") as f:
        first = f.read(MiB)
        f.raw._body.close()  # the connection drops mid-object
        rest = f.read()
    assert first + rest == data
    assert [c.get("Range") for c in calls] == [None, "bytes=%d-" % MiB]
    assert "IfMatch" not in calls[0] and calls[1]["IfMatch"].startswith('"')  # pinned to the same object version


def test_missing_bucket_and_object(adhar, aws):
    store = storage(adhar, aws, "adhar-no-such-bucket")
    with pytest.raises(adhar.core.AdharError, match="adhar-no-such-bucket"):
        store.check()
    with pytest.raises(adhar.core.AdharError):
        adhar.archive.list_backups(store)


def test_missing_object(adhar, aws, bucket):
    store = storage(adhar, aws, bucket)
    with pytest.raises(adhar.storage.ObjectMissing, match="is missing in s3://"):
        store.open("b/none")
    assert store.exists("b/none") is False
