# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An S3 bucket (AWS or any S3-compatible endpoint) as backup storage.

* Write-once: every ``PutObject`` and ``CompleteMultipartUpload`` carries
  ``If-None-Match: *``, so S3 itself refuses to replace an object (412); on a
  versioned bucket no second version is ever made.  A 412 is compared with
  what we wrote (SHA-256 in the object metadata, or the multipart ETag): an
  identical object (a retry whose first answer was lost) is success.
  Endpoints without conditional writes (``NotImplemented``) fall back to
  ``HeadObject`` before the write; ``conditional_writes`` in ``describe()``
  says which is in use.
* Streams larger than one part go up as a multipart upload, one part in
  memory at a time (``part_size``, 8 MiB, growing by 8 MiB every 1,000 parts
  so that the 10,000-part limit is never hit); a failed upload is aborted.
* Reads stream; a read broken off mid-way resumes with a ``Range`` request
  pinned to the same ``ETag``.
* Every call is retried on throttling, 5xx and transport errors with the
  collection's jittered backoff (``retries.retry_call``) under
  ``retry_deadline`` seconds; botocore's own retries are switched off so
  they do not multiply.
* Locks use ``If-None-Match: *`` to create and ``If-Match: <etag>`` to
  replace or take over; their age is ``Last-Modified`` against the server's
  ``Date`` (no dependence on client clocks).
"""

from __future__ import annotations

import binascii
import contextlib
import email.utils
import hashlib
import io

from ansible_collections.adhar.platform.plugins.module_utils._aws.client import BotoCoreError, ClientError, aws_client
from ansible_collections.adhar.platform.plugins.module_utils._aws.errors import aws_error_code, aws_retryable
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import retry_call
from ansible_collections.adhar.platform.plugins.module_utils._storage.base import (
    ChunkReader,
    HashingChunks,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    Storage,
    join_key,
    parse_time,
    utcnow,
)

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10000
DELETE_BATCH = 1000
READ_BUFFER = 1024 * 1024
_MISSING_CODES = ("404", "NoSuchKey", "NotFound")


def _md5(data):
    try:
        return hashlib.md5(data, usedforsecurity=False)
    except TypeError:  # pragma: no cover - Python < 3.9
        return hashlib.md5(data)  # nosec - S3 ETag, not security


def multipart_etag(part_etags):
    """The ETag S3 gives a multipart object made of parts with these (MD5) ETags."""
    digest = b"".join(binascii.unhexlify(e.strip('"')) for e in part_etags)
    return '"%s-%d"' % (_md5(digest).hexdigest(), len(part_etags))


class _RangeReader(io.RawIOBase):
    """A raw stream over one S3 object that resumes with ``Range`` after a broken read."""

    def __init__(self, storage, key, full_key):
        super().__init__()
        self._storage = storage
        self._key = key
        self._full = full_key
        self._pos = 0
        self._etag = None
        self._size = None
        self._body = None
        self._open_body()

    def readable(self):
        return True

    def _open_body(self):
        kwargs = {"Bucket": self._storage.bucket, "Key": self._full}
        if self._pos:
            if self._size is not None and self._pos >= self._size:
                self._body = None
                return
            kwargs["Range"] = "bytes=%d-" % self._pos
        if self._etag:
            kwargs["IfMatch"] = self._etag
        resp = self._storage._call("get_object", missing_key=self._key, **kwargs)
        if self._etag is None:
            self._etag = resp.get("ETag")
            self._size = resp.get("ContentLength")
        self._body = resp["Body"]

    def _read_some(self, n):
        if self._body is None:
            self._open_body()
            if self._body is None:
                return b""
        try:
            data = self._body.read(n)
        except Exception:
            self._close_body()
            raise
        if not data and self._size is not None and self._pos < self._size:
            self._close_body()
            raise ConnectionError("S3 stream of %s ended at byte %d of %d" % (self._key, self._pos, self._size))
        return data

    def readinto(self, b):
        n = len(b)
        if n == 0 or (self._size is not None and self._pos >= self._size):
            return 0
        data = retry_call(self._read_some, n, deadline=self._storage.retry_deadline, is_retryable=aws_retryable)
        b[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def _close_body(self):
        body, self._body = self._body, None
        if body is not None:
            try:
                body.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    def close(self):
        self._close_body()
        super().close()


class S3Storage(Storage):
    """Backups in ``s3://bucket/prefix``."""

    kind = "s3"

    def __init__(self, bucket, prefix="", region=None, endpoint_url=None, aws_access_key_id=None,
                 aws_secret_access_key=None, aws_session_token=None, profile=None, validate_certs=True,
                 part_size=DEFAULT_PART_SIZE, retry_deadline=120.0, max_pool_connections=16, client=None):
        if not bucket:
            raise AdharError("storage.bucket is required for an s3 storage", option="storage.bucket")
        if part_size < MIN_PART_SIZE:
            raise AdharError("part_size must be at least %d bytes (S3's minimum)" % MIN_PART_SIZE)
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self.region = region
        self.endpoint_url = endpoint_url
        self.profile = profile
        self.part_size = int(part_size)
        self.retry_deadline = float(retry_deadline)
        self.conditional_writes = True
        self._client = client
        self._client_args = {
            "aws_access_key_id": aws_access_key_id, "aws_secret_access_key": aws_secret_access_key,
            "aws_session_token": aws_session_token, "verify": validate_certs, "pool": max_pool_connections,
        }

    # -- plumbing

    @property
    def client(self):
        if self._client is None:
            self._client = aws_client("s3", "s3 storage %s" % self.location, region=self.region,
                                      endpoint_url=self.endpoint_url, profile=self.profile, **self._client_args)
        return self._client

    @property
    def location(self):
        return "s3://%s/%s" % (self.bucket, self.prefix) if self.prefix else "s3://%s" % self.bucket

    def describe(self):
        info = {"type": self.kind, "url": self.location, "bucket": self.bucket, "prefix": self.prefix,
                "conditional_writes": self.conditional_writes}
        if self.region:
            info["region"] = self.region
        if self.endpoint_url:
            info["endpoint_url"] = self.endpoint_url
        return info

    def _full(self, key):
        return join_key(self.prefix, key)

    def _rel(self, full):
        return full[len(self.prefix) + 1:] if self.prefix else full

    def _call(self, op, missing_key=None, **kwargs):
        """``client.<op>(**kwargs)`` with retries; S3 errors become ``AdharError`` (``ObjectMissing`` for 404)."""
        try:
            return retry_call(getattr(self.client, op), deadline=self.retry_deadline, is_retryable=aws_retryable,
                              **kwargs)
        except ClientError as exc:
            code, status = aws_error_code(exc)
            if missing_key is not None and (code in _MISSING_CODES or status == 404):
                raise ObjectMissing("%s is missing in %s" % (missing_key, self.location), key=missing_key) from exc
            raise self._error(op, exc, code, status) from exc
        except BotoCoreError as exc:
            raise AdharError("S3 %s on %s failed: %s" % (op, self.location, exc), option="storage") from exc

    def _error(self, op, exc, code, status):
        hint = ""
        if code in ("NoSuchBucket",):
            hint = " (the bucket does not exist)"
        elif code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            hint = " (check the credentials and the bucket policy)"
        return AdharError("S3 %s on %s failed: %s%s" % (op, self.location, exc, hint), s3_error=code, status=status,
                          option="storage")

    @staticmethod
    def _code(exc):
        cause = getattr(exc, "cause", None) or exc.__cause__
        return aws_error_code(cause)[0] if cause is not None else None

    def check(self, write=False, create=True):
        self._call("head_bucket", Bucket=self.bucket)

    # -- objects

    def _head(self, key):
        try:
            return self._call("head_object", missing_key=key, Bucket=self.bucket, Key=self._full(key))
        except ObjectMissing:
            return None

    def _exists(self, key):
        return self._head(key) is not None

    def _conditional(self, op, key, overwrite, **kwargs):
        """Run a write with ``If-None-Match: *`` (unless overwriting); ``None`` on 412, the response otherwise."""
        if overwrite:
            return self._call(op, **kwargs)
        if not self.conditional_writes:
            if self._head(key) is not None:
                return None
            return self._call(op, **kwargs)
        try:
            return self._call(op, IfNoneMatch="*", **kwargs)
        except AdharError as exc:
            code = self._code(exc)
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return None
            if code == "NotImplemented":
                self.conditional_writes = False
                return self._conditional(op, key, overwrite, **kwargs)
            raise

    def _exists_error(self, key):
        return ObjectExists("%s already exists in %s (objects are written once)" % (key, self.location), key=key)

    def _put(self, key, chunks, overwrite):
        reader = ChunkReader(chunks)
        first = reader.read(self.part_size)
        if reader.at_end():  # the whole object: ``put`` has hashed it as it was read
            sha = chunks.sha256 if isinstance(chunks, HashingChunks) else hashlib.sha256(first).hexdigest()
            resp = self._conditional("put_object", key, overwrite, Bucket=self.bucket, Key=self._full(key), Body=first,
                                     Metadata={"sha256": sha})
            if resp is None:
                head = self._head(key)
                if not head or (head.get("Metadata") or {}).get("sha256") != sha:
                    raise self._exists_error(key)
            return
        self._multipart(key, reader, first, overwrite)

    def _multipart(self, key, reader, first, overwrite):
        full = self._full(key)
        upload = self._call("create_multipart_upload", Bucket=self.bucket, Key=full)["UploadId"]
        parts, etags, total = [], [], 0
        try:
            data, number = first, 1
            while data:
                if number > MAX_PARTS:
                    raise AdharError("%s is too large for a multipart upload of %d parts" % (key, MAX_PARTS))
                resp = self._call("upload_part", Bucket=self.bucket, Key=full, UploadId=upload, PartNumber=number,
                                  Body=data)
                parts.append({"ETag": resp["ETag"], "PartNumber": number})
                etags.append(resp["ETag"])
                total += len(data)
                number += 1
                data = reader.read(self.part_size * (1 + (number - 1) // 1000))
            resp = self._complete(key, full, upload, parts, overwrite)
        except BaseException:
            try:
                self._call("abort_multipart_upload", Bucket=self.bucket, Key=full, UploadId=upload)
            except AdharError:
                pass
            raise
        if resp is None:
            try:
                self._call("abort_multipart_upload", Bucket=self.bucket, Key=full, UploadId=upload)
            except AdharError:
                pass
            head = self._head(key)
            if not head or head.get("ContentLength") != total or head.get("ETag") != multipart_etag(etags):
                raise self._exists_error(key)

    def _complete(self, key, full, upload, parts, overwrite):
        """Complete a multipart upload; ``None`` when S3 says the key exists or the upload is gone.

        ``NoSuchUpload`` after a retry means an earlier attempt completed it
        (its answer was lost): the caller compares the object with the parts.
        """
        try:
            return self._conditional("complete_multipart_upload", key, overwrite, Bucket=self.bucket, Key=full,
                                     UploadId=upload, MultipartUpload={"Parts": parts})
        except AdharError as exc:
            if self._code(exc) == "NoSuchUpload":
                return None
            raise

    def _open(self, key):
        return io.BufferedReader(_RangeReader(self, key, self._full(key)), buffer_size=READ_BUFFER)

    def _read_range(self, key, offset, length):
        """One ``GetObject`` with ``Range`` (a pack's item without the rest of the pack), retried as a whole."""
        if length <= 0:
            return b""

        def read():
            resp = self._call("get_object", missing_key=key, Bucket=self.bucket, Key=self._full(key),
                              Range="bytes=%d-%d" % (offset, offset + length - 1))
            with contextlib.closing(resp["Body"]) as body:
                return body.read()

        return retry_call(read, deadline=self.retry_deadline, is_retryable=aws_retryable)

    def _pages(self, op, result_key, **kwargs):
        """Items of every page of ``list_objects_v2``/``list_multipart_uploads`` (each page retried on its own)."""
        token_in, token_out = {"list_objects_v2": ("ContinuationToken", "NextContinuationToken"),
                               "list_multipart_uploads": ("KeyMarker", "NextKeyMarker")}[op]
        token = upload_marker = None
        while True:
            args = dict(kwargs)
            if token:
                args[token_in] = token
                if op == "list_multipart_uploads" and upload_marker:
                    args["UploadIdMarker"] = upload_marker
            page = self._call(op, **args)
            yield from page.get(result_key) or []
            if not page.get("IsTruncated"):
                return
            token = page.get(token_out)
            upload_marker = page.get("NextUploadIdMarker")
            if not token:
                return

    def _list(self, prefix):
        full = self._full(prefix) + ("/" if prefix.endswith("/") else "")
        if not prefix:
            full = self.prefix + "/" if self.prefix else ""
        for obj in self._pages("list_objects_v2", "Contents", Bucket=self.bucket, Prefix=full):
            yield ObjectInfo(self._rel(obj["Key"]), obj.get("Size", 0), parse_time(obj.get("LastModified")))

    def _list_dirs(self, prefix):
        full = join_key(self.prefix, prefix)
        full = full + "/" if full else ""
        names = []
        for entry in self._pages("list_objects_v2", "CommonPrefixes", Bucket=self.bucket, Prefix=full, Delimiter="/"):
            name = entry["Prefix"][len(full):].strip("/")
            if name:
                names.append(name)
        return sorted(names)

    def _delete(self, keys):
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": self._full(k)} for k in keys[start:start + DELETE_BATCH]]
            resp = self._call("delete_objects", Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            errors = resp.get("Errors") or []
            if errors:
                first = errors[0]
                raise AdharError("S3 could not delete %d object(s) in %s, first %s: %s %s"
                                 % (len(errors), self.location, self._rel(first.get("Key", "")), first.get("Code"),
                                    first.get("Message")), s3_error=first.get("Code"))

    def abort_uploads(self, prefix, older_than=None):
        """Abort unfinished multipart uploads below ``prefix`` (left by killed writers); returns how many."""
        full = join_key(self.prefix, prefix)
        count = 0
        for upload in self._pages("list_multipart_uploads", "Uploads", Bucket=self.bucket, Prefix=full):
            started = parse_time(upload.get("Initiated"))
            if older_than is not None and started is not None and (utcnow() - started).total_seconds() < older_than:
                continue
            try:
                self._call("abort_multipart_upload", Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                count += 1
            except AdharError:
                pass
        return count

    def delete_prefix(self, prefix, first=()):
        count = super().delete_prefix(prefix, first)
        self.abort_uploads(prefix)
        return count

    # -- locks

    def _lock_create(self, key, data):
        resp = self._conditional("put_object", key, False, Bucket=self.bucket, Key=self._full(key), Body=data)
        return None if resp is None else resp.get("ETag")

    def _lock_read(self, key):
        try:
            resp = self._call("get_object", missing_key=key, Bucket=self.bucket, Key=self._full(key))
        except ObjectMissing:
            return None
        data = resp["Body"].read(65536)
        resp["Body"].close()
        date = ((resp.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}).get("date")
        now = _http_date(date) or utcnow()
        return data, resp.get("ETag"), parse_time(resp.get("LastModified")), now

    def _if_match(self, op, key, handle, **kwargs):
        """``op`` conditional on ETag ``handle``; ``None`` when the ETag no longer matches."""
        try:
            return self._call(op, Bucket=self.bucket, Key=self._full(key), IfMatch=handle, **kwargs)
        except AdharError as exc:
            code = self._code(exc)
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                return None
            if code != "NotImplemented":
                raise
        # endpoint without conditional deletes/overwrites: compare, then act (a small race, documented)
        current = self._lock_read(key)
        if current is None or current[1] != handle:
            return None
        return self._call(op, Bucket=self.bucket, Key=self._full(key), **kwargs)

    def _lock_delete(self, key, handle):
        return self._if_match("delete_object", key, handle) is not None

    def _lock_replace(self, key, data, handle):
        resp = self._if_match("put_object", key, handle, Body=data)
        return None if resp is None else resp.get("ETag")


def _http_date(value):
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
