# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``storage`` option shared by every module that writes or reads backups.

``STORAGE_ARG_SPEC`` is mirrored 1:1 by ``plugins/doc_fragments/storage.py``
(a unit test keeps them in step).  ``storage_from_params`` turns the option
(a dict, or a URL string when the library is used directly) into a
``LocalStorage`` or ``S3Storage``; the ``storage`` block of an adhar config
(``type``, ``path``, ``bucket``, ``prefix``, ``region``, ``endpoint``) can be
passed as it is.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._storage.local import LocalStorage
from ansible_collections.adhar.platform.plugins.module_utils._storage.s3 import S3Storage

STORAGE_TYPES = ("local", "s3")
# S3's bucket naming rules (also MinIO's): 3-63 lower-case letters, digits, '.' and '-', a letter or digit at each end.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
S3_ONLY = ("bucket", "prefix", "region", "endpoint_url", "aws_access_key_id", "aws_secret_access_key",
           "aws_session_token", "profile")
_ALIASES = {"endpoint": "endpoint_url", "access_key": "aws_access_key_id", "secret_key": "aws_secret_access_key",
            "session_token": "aws_session_token"}

# Not required in the spec (the db module needs it for two operations only): a missing storage fails in
# normalize_storage_params, before a module uses it.
STORAGE_ARG_SPEC = {
    "storage": {
        "type": "dict",
        "options": {
            "url": {"type": "str"},
            "type": {"type": "str", "choices": list(STORAGE_TYPES)},
            "path": {"type": "path"},
            "bucket": {"type": "str"},
            "prefix": {"type": "str"},
            "region": {"type": "str"},
            "endpoint_url": {"type": "str", "aliases": ["endpoint"]},
            "aws_access_key_id": {"type": "str", "no_log": False, "aliases": ["access_key"]},
            "aws_secret_access_key": {"type": "str", "no_log": True, "aliases": ["secret_key"]},
            "aws_session_token": {"type": "str", "no_log": True, "aliases": ["session_token"]},
            "profile": {"type": "str"},
            "validate_certs": {"type": "bool", "default": True},
        },
        "mutually_exclusive": [["url", "type"], ["url", "path"], ["url", "bucket"], ["url", "prefix"],
                               ["profile", "aws_access_key_id"]],
        "required_one_of": [["url", "type", "path", "bucket"]],
    },
}


def parse_url(url):
    """``{"type": ..., "path"|"bucket"+"prefix": ...}`` of ``file:///path``, ``s3://bucket/prefix`` or an absolute path."""
    text = str(url).strip()
    if text.startswith("/") or text.startswith("~"):
        return {"type": "local", "path": os.path.expanduser(text)}
    parts = urlsplit(text)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise AdharError("storage url %s names host %r; only local paths (file:///path) are supported"
                             % (text, parts.netloc), option="storage.url")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise AdharError("storage url %s must name an absolute path (file:///path)" % text, option="storage.url")
        return {"type": "local", "path": path}
    if parts.scheme == "s3":
        if not parts.netloc:
            raise AdharError("storage url %s names no bucket (s3://bucket/prefix)" % text, option="storage.url")
        if parts.query or parts.fragment:
            raise AdharError("storage url %s: query strings are not supported; give region and endpoint_url as options"
                             % text, option="storage.url")
        return {"type": "s3", "bucket": parts.netloc, "prefix": unquote(parts.path).strip("/")}
    raise AdharError("storage url %r is not file:///path or s3://bucket/prefix" % text, option="storage.url")


def normalize_storage_params(params):
    """The ``storage`` option as a plain dict with canonical names, the URL expanded and the type decided."""
    if isinstance(params, str):
        params = {"url": params}
    if params is None:
        raise AdharError("storage is required: a local directory (path) or an S3 bucket (bucket), or a url",
                         option="storage")
    if not isinstance(params, dict):
        raise AdharError("storage must be a dict or a URL string, got %s" % type(params).__name__, option="storage")
    known = set(STORAGE_ARG_SPEC["storage"]["options"])
    out = {}
    for key, value in params.items():
        name = _ALIASES.get(key, key)
        if name not in known:
            raise AdharError("storage: unknown option %r (known: %s)" % (key, ", ".join(sorted(known))),
                             option="storage.%s" % key)
        if value is not None:
            out[name] = value
    url = out.pop("url", None)
    if url:
        clash = [k for k in ("type", "path", "bucket", "prefix") if out.get(k)]
        if clash:
            raise AdharError("storage: url cannot be combined with %s" % ", ".join(clash), option="storage.url")
        out.update(parse_url(url))
    kind = out.get("type") or ("s3" if out.get("bucket") else "local" if out.get("path") else None)
    if kind not in STORAGE_TYPES:
        raise AdharError("storage: say where backups live: type local with path, type s3 with bucket, or a url "
                         "(file:///path or s3://bucket/prefix)", option="storage.type")
    out["type"] = kind
    if kind == "local":
        wrong = [k for k in S3_ONLY if out.get(k)]
        if wrong:
            raise AdharError("storage: %s apply only to s3 storage, not to type local" % ", ".join(wrong),
                             option="storage.%s" % wrong[0])
        if not out.get("path"):
            raise AdharError("storage: type local needs path", option="storage.path")
    else:
        if out.get("path"):
            raise AdharError("storage: path applies to type local; an s3 location takes bucket and prefix",
                             option="storage.path")
        if not out.get("bucket"):
            raise AdharError("storage: type s3 needs bucket", option="storage.bucket")
        if out.get("profile") and out.get("aws_access_key_id"):
            raise AdharError("storage: give either profile or aws_access_key_id, not both", option="storage.profile")
        if bool(out.get("aws_access_key_id")) != bool(out.get("aws_secret_access_key")):
            raise AdharError("storage: aws_access_key_id and aws_secret_access_key go together",
                             option="storage.aws_secret_access_key")
        check_s3_shape(out)
    return out


def check_s3_shape(params):
    """Refuse an S3 bucket, prefix, region or endpoint that no S3 service could accept (before any request)."""
    bucket = params["bucket"]
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket or _IPV4.match(bucket):
        raise AdharError("storage.bucket %r is not an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-', "
                         "starting and ending with a letter or digit, not an IP address" % (bucket,), option="storage.bucket")
    prefix = params.get("prefix")
    if prefix is not None:
        if not isinstance(prefix, str):
            raise AdharError("storage.prefix must be a string, got %s" % type(prefix).__name__, option="storage.prefix")
        parts = prefix.strip("/").split("/") if prefix.strip("/") else []
        if any(part in ("", ".", "..") or "\x00" in part for part in parts):
            raise AdharError("storage.prefix %r: every part between '/' must be a plain name (no empty, '.' or '..' parts)"
                             % (prefix,), option="storage.prefix")
    region = params.get("region")
    if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
        raise AdharError("storage.region %r is not a region name (such as eu-west-1)" % (region,), option="storage.region")
    endpoint = params.get("endpoint_url")
    if endpoint is not None:
        parts = urlsplit(str(endpoint))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdharError("storage.endpoint_url %r must be an http:// or https:// URL with a host" % (endpoint,),
                             option="storage.endpoint_url")


def storage_from_params(params, **backend_options):
    """A ``LocalStorage`` or ``S3Storage`` for the ``storage`` option (dict or URL); ``backend_options`` go to the class."""
    p = normalize_storage_params(params)
    if p["type"] == "local":
        return LocalStorage(p["path"], **backend_options)
    return S3Storage(
        p["bucket"], prefix=p.get("prefix") or "", region=p.get("region"), endpoint_url=p.get("endpoint_url"),
        aws_access_key_id=p.get("aws_access_key_id"), aws_secret_access_key=p.get("aws_secret_access_key"),
        aws_session_token=p.get("aws_session_token"), profile=p.get("profile"),
        validate_certs=p.get("validate_certs", True), **backend_options)
