# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Direct HTTPS requests to one endpoint (a single API server or etcd member), bypassing load balancers.

Standard library only, so health probes stay cheap: no client import, no discovery.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse


def ssl_context(ca_cert=None, client_cert=None, client_key=None, verify=True):
    ctx = ssl.create_default_context(cafile=ca_cert) if verify else ssl._create_unverified_context()
    if not verify:
        ctx.check_hostname = False
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key)
    return ctx


def https_request(url, *, ca_cert=None, client_cert=None, client_key=None, timeout=5.0, method="GET", body=None,
                  headers=None, verify=True, peer_cert=False):
    """``(status, body_bytes)`` — or ``(status, body_bytes, der_cert)`` with ``peer_cert=True``.

    Connection and TLS failures raise OSError (ssl.SSLError and socket errors are OSErrors).
    """
    u = urllib.parse.urlsplit(url)
    ctx = ssl_context(ca_cert, client_cert, client_key, verify)
    conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=ctx)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        hdrs = {"Accept": "application/json, */*"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        if peer_cert:
            return resp.status, data, conn.sock.getpeercert(binary_form=True) if conn.sock else None
        return resp.status, data
    except http.client.HTTPException as e:
        raise OSError("%s: %s" % (url, e))
    finally:
        conn.close()
