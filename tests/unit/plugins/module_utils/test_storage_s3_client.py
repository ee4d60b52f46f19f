# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3Storage logic against a scripted fake client (no network); the real thing is tests/integration/test_storage_s3.py."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import ObjectExists, S3Storage
from ansible_collections.adhar.platform.plugins.module_utils._storage import s3 as s3mod


def client_error(code, status, op="PutObject"):
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, op)


class FakeS3:
    """Records calls; ``script[op]`` is a list of exceptions/results returned in turn (then the default)."""

    def __init__(self):
        self.calls = []
        self.script = {}
        self.objects = {}

    def _next(self, op, kwargs):
        self.calls.append((op, kwargs))
        queue = self.script.get(op)
        if queue:
            item = queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return None

    def put_object(self, **kw):
        res = self._next("put_object", kw)
        if res is not None:
            return res
        if kw.get("IfNoneMatch") == "*" and kw["Key"] in self.objects:
            raise client_error("PreconditionFailed", 412)
        body = kw["Body"]
        self.objects[kw["Key"]] = {"Body": body, "Metadata": kw.get("Metadata", {}), "ContentLength": len(body)}
        return {"ETag": '"%s"' % hashlib.md5(body).hexdigest()}

    def head_object(self, **kw):
        res = self._next("head_object", kw)
        if res is not None:
            return res
        if kw["Key"] not in self.objects:
            raise client_error("404", 404, "HeadObject")
        obj = self.objects[kw["Key"]]
        return {"Metadata": obj["Metadata"], "ContentLength": obj["ContentLength"]}

    def create_multipart_upload(self, **kw):
        return self._next("create_multipart_upload", kw) or {"UploadId": "u1"}

    def upload_part(self, **kw):
        return self._next("upload_part", kw) or {"ETag": '"%s"' % hashlib.md5(kw["Body"]).hexdigest()}

    def complete_multipart_upload(self, **kw):
        return self._next("complete_multipart_upload", kw) or {"ETag": '"x-1"'}

    def abort_multipart_upload(self, **kw):
        return self._next("abort_multipart_upload", kw) or {}

    def list_objects_v2(self, **kw):
        return self._next("list_objects_v2", kw)

    def get_object(self, **kw):
        res = self._next("get_object", kw)
        if res is not None:
            return res
        body = self.objects[kw["Key"]]["Body"]
        return {"Body": io.BytesIO(body), "ETag": '"e"', "ContentLength": len(body)}


@pytest.fixture
def fake():
    return FakeS3()


@pytest.fixture
def store(fake):
    return S3Storage("bkt", prefix="/p/", client=fake, retry_deadline=5.0)


def test_keys_get_the_prefix(store, fake):
    store.put("b/x", b"data")
    op, kw = fake.calls[-1]
    assert (op, kw["Bucket"], kw["Key"], kw["IfNoneMatch"]) == ("put_object", "bkt", "p/b/x", "*")
    assert kw["Metadata"] == {"sha256": hashlib.sha256(b"data").hexdigest()}
    assert store.location == "s3://bkt/p"
    store.put("b/y", [b"da", b"", b"ta"])  # chunks that fit one part: the digest is that of the whole object
    assert fake.calls[-1][1]["Metadata"] == {"sha256": hashlib.sha256(b"data").hexdigest()}


def test_throttling_and_transport_errors_are_retried(store, fake):
    fake.script["put_object"] = [client_error("SlowDown", 503), EndpointConnectionError(endpoint_url="http://x")]
    store.put("b/x", b"data")
    assert [c[0] for c in fake.calls] == ["put_object"] * 3


def test_access_denied_is_not_retried_and_is_clear(store, fake):
    fake.script["put_object"] = [client_error("AccessDenied", 403)]
    with pytest.raises(AdharError, match="S3 put_object on s3://bkt/p failed: .*check the credentials"):
        store.put("b/x", b"data")
    assert len(fake.calls) == 1


def test_existing_object_is_refused_unless_identical(store, fake):
    store.put("b/x", b"data")
    store.put("b/x", b"data")  # identical: a retried write whose answer was lost
    with pytest.raises(ObjectExists, match="b/x already exists in s3://bkt/p"):
        store.put("b/x", b"other")


def test_endpoint_without_conditional_writes(store, fake):
    fake.script["put_object"] = [client_error("NotImplemented", 501)]
    store.put("b/x", b"data")
    assert store.conditional_writes is False and store.describe()["conditional_writes"] is False
    assert [c[0] for c in fake.calls] == ["put_object", "head_object", "put_object"]
    assert "IfNoneMatch" not in fake.calls[-1][1]
    with pytest.raises(ObjectExists):
        store.put("b/x", b"other")


def test_pagination(store, fake):
    fake.script["list_objects_v2"] = [
        {"Contents": [{"Key": "p/b/1", "Size": 1}], "IsTruncated": True, "NextContinuationToken": "t1"},
        {"Contents": [{"Key": "p/b/2", "Size": 2}], "IsTruncated": False},
    ]
    assert [(o.key, o.size) for o in store.list("b/")] == [("b/1", 1), ("b/2", 2)]
    assert fake.calls[0][1]["Prefix"] == "p/b/" and "ContinuationToken" not in fake.calls[0][1]
    assert fake.calls[1][1]["ContinuationToken"] == "t1"


def test_list_dirs(store, fake):
    fake.script["list_objects_v2"] = [{"CommonPrefixes": [{"Prefix": "p/b2/"}, {"Prefix": "p/.locks/"}], "IsTruncated": False}]
    assert store.list_dirs("") == [".locks", "b2"]
    assert fake.calls[0][1]["Delimiter"] == "/" and fake.calls[0][1]["Prefix"] == "p/"


def test_multipart_etag():
    parts = ['"%s"' % hashlib.md5(b"a").hexdigest(), '"%s"' % hashlib.md5(b"b").hexdigest()]
    digest = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert s3mod.multipart_etag(parts) == '"%s-2"' % digest


def test_part_size_bounds():
    with pytest.raises(AdharError, match="at least"):
        S3Storage("b", part_size=1024)
    with pytest.raises(AdharError, match="bucket is required"):
        S3Storage("")


def test_without_boto3_and_cryptography(tmp_path):
    """The modules import without the optional libraries and say what is missing when it is needed."""

    code = "\n".join([
        "import sys",
        "for name in ('boto3', 'botocore', 'cryptography'):",
        "    sys.modules[name] = None",
        "from ansible_collections.adhar.platform.plugins.module_utils._archive import api as archive",
        "from ansible_collections.adhar.platform.plugins.module_utils._dr import crypto_envelope",
        "from ansible_collections.adhar.platform.plugins.module_utils._storage import api as storage",
        "from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError",
        "assert storage.BOTO3_IMPORT_ERROR is not None and crypto_envelope.CRYPTOGRAPHY_IMPORT_ERROR is not None",
        "for call in (lambda: storage.S3Storage('b').client, lambda: crypto_envelope.KeyWrapper(b'k' * 32),",
        "             lambda: crypto_envelope.KmsKeyWrapper('k').client):",
        "    try:",
        "        call()",
        "    except AdharError as exc:",
        "        print(exc.details['missing'])",
        "store = storage.LocalStorage(sys.argv[1])",
        "w = archive.ArchiveWriter(store, 'plain', cluster='c')",
        "w.add('config/adhar.yaml', 'x: 1')",
        "w.commit()",
        "print(archive.ArchiveReader(store, 'plain').verify()['ok'])",
    ])
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False,
                         env={"PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["boto3", "cryptography", "boto3", "True"]


def _parts(size, part):
    data = b"a" * size
    return data, [data[i:i + part] for i in range(0, size, part)]


def test_multipart_upload(store, fake):
    store.part_size = s3mod.MIN_PART_SIZE
    data, parts = _parts(2 * s3mod.MIN_PART_SIZE + 10, s3mod.MIN_PART_SIZE)
    res = store.put("b/big", io.BytesIO(data))
    assert res.size == len(data) and res.sha256 == hashlib.sha256(data).hexdigest()
    ops = [c[0] for c in fake.calls]
    assert ops == ["create_multipart_upload", "upload_part", "upload_part", "upload_part", "complete_multipart_upload"]
    assert [len(c[1]["Body"]) for c in fake.calls if c[0] == "upload_part"] == [len(p) for p in parts]
    assert fake.calls[-1][1]["IfNoneMatch"] == "*"


def test_multipart_completed_by_a_lost_attempt_is_success(store, fake):
    store.part_size = s3mod.MIN_PART_SIZE
    data, parts = _parts(s3mod.MIN_PART_SIZE + 1, s3mod.MIN_PART_SIZE)
    etag = s3mod.multipart_etag(['"%s"' % hashlib.md5(p).hexdigest() for p in parts])
    fake.script["complete_multipart_upload"] = [client_error("NoSuchUpload", 404, "CompleteMultipartUpload")]
    fake.script["head_object"] = [{"ContentLength": len(data), "ETag": etag}]
    store.put("b/big", data)
    fake.script["complete_multipart_upload"] = [client_error("PreconditionFailed", 412, "CompleteMultipartUpload")]
    fake.script["head_object"] = [{"ContentLength": len(data), "ETag": '"other-2"'}]
    with pytest.raises(ObjectExists):
        store.put("b/big", data)
    assert fake.calls[-2][0] == "abort_multipart_upload"


def test_failed_multipart_upload_is_aborted(store, fake):
    store.part_size = s3mod.MIN_PART_SIZE

    def chunks():
        yield b"a" * (s3mod.MIN_PART_SIZE + 1)
        raise OSError("source died")

    with pytest.raises(OSError):
        store.put("b/big", chunks())
    assert [c[0] for c in fake.calls][-1] == "abort_multipart_upload"
