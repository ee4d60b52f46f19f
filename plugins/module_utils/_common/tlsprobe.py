# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Direct HTTP(S) requests to one endpoint (a single API server or etcd member), bypassing load balancers.

Standard library only, so probes stay cheap: no Kubernetes client import, no discovery.
Used by the local runtime's readiness waits and by the health checks.
"""

from __future__ import annotations

import http.client
import json
import ssl
from urllib.parse import urlencode, urlsplit

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

MAX_BODY_BYTES = 1024 * 1024


def ssl_context(ca_cert=None, client_cert=None, client_key=None, verify=True):
    """Client SSL context; AdharError when the TLS files cannot be loaded (that is bad input, not a probe failure)."""
    try:
        if verify:
            ctx = ssl.create_default_context(cafile=ca_cert) if ca_cert else ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client_cert:
            ctx.load_cert_chain(client_cert, client_key)
    except (OSError, ssl.SSLError) as exc:
        raise AdharError("cannot load TLS files (ca_cert=%s, client_cert=%s): %s" % (ca_cert, client_cert, exc),
                         ca_cert=ca_cert, client_cert=client_cert, client_key=client_key)
    return ctx


def request(url, path="", ctx=None, timeout=5.0, method="GET", body=None, query=None, headers=None, want_cert=False):
    """One request.  Returns ``(status, body bytes, peer certificate DER or None)``.

    ``body`` (a dict or list) is sent as JSON.  Network and TLS failures raise OSError.
    """
    parsed = urlsplit(url)
    if parsed.scheme == "https":
        conn = http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, context=ctx, timeout=timeout)
    elif parsed.scheme == "http":
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    else:
        raise ValueError("unsupported URL scheme in %r" % url)
    full_path = (parsed.path or "").rstrip("/") + path
    if parsed.query:
        full_path += "?" + parsed.query
    if query:
        full_path += ("&" if "?" in full_path else "?") + urlencode(query)
    send = {"Accept": "application/json, */*", "User-Agent": "adhar.platform"}
    send.update(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        send.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, full_path or "/", body=data, headers=send)
        cert = None
        if want_cert and hasattr(conn.sock, "getpeercert"):
            cert = conn.sock.getpeercert(binary_form=True)
        resp = conn.getresponse()
        return resp.status, resp.read(MAX_BODY_BYTES), cert
    except http.client.HTTPException as e:
        raise OSError("%s: %s" % (url, e))
    finally:
        conn.close()


def https_request(url, *, ca_cert=None, client_cert=None, client_key=None, timeout=5.0, method="GET", body=None):
    """``(status, body bytes)`` of one request made with the given CA and client certificate."""
    status, payload, _cert = request(url, ctx=ssl_context(ca_cert, client_cert, client_key), timeout=timeout,
                                     method=method, body=body)
    return status, payload
