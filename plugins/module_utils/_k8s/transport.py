# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request path of ``K8sClient.raw``: one keep-alive HTTP(S) connection per thread, bytes in and out.

A backup lists pages of thousands of objects and a restore creates each object with a POST of its own, so the cost
of one request on the client matters: through the SDK (its serialiser, its REST layer and urllib3's pool) a POST of a
small object costs about twice the CPU of the same POST on a plain ``http.client`` connection, and on a machine whose
cores the API server shares, the client's CPU is taken from the server.  ``Transport`` sends a request on the
calling thread's own connection, built from the SDK ``Configuration`` the client was made from, with the same
certificates, the same verification, the same default headers and the same credentials (a token refreshed by the
kubeconfig's hook is asked for before every request, as the SDK does).

``Transport.for_configuration`` gives ``None`` for what it does not do, and the client then uses the SDK's path: a
proxy, socket options, a host name checked against another name than the one connected to, or a scheme other than
http and https.

A request on a kept connection that the server closed in the meantime (the connection was idle, or the server said
``Connection: close``) is sent again once on a new connection before any answer came back; any other transport error
is raised as ``ConnectionError`` (or ``TimeoutError``), which the client's retries treat as transient.  A TLS
verification failure is raised as it is and never retried.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from urllib.parse import urlsplit

# How a kept connection shows that the server closed it before this request was read: nothing of an answer came back.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def _json_content(content_type):
    """True when a body of ``content_type`` (or none) is encoded as JSON, as the SDK's REST layer does."""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    main, _sep, sub = kind.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _yaml_content(content_type):
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind in ("application/yaml", "text/yaml", "text/x-yaml") or kind.endswith("+yaml")


class Transport:
    """Keep-alive connections to one API server, one per thread (see the module docstring)."""

    def __init__(self, configuration, default_headers=None, serialize=None):
        parts = urlsplit(configuration.host)
        self.https = parts.scheme == "https"
        self.hostname = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.base_path = parts.path.rstrip("/")
        self.configuration = configuration
        self.default_headers = dict(default_headers or {})  # the SDK client's (its User-Agent)
        self.serialize = serialize  # the SDK's sanitiser, for bodies holding SDK models or dates
        self.context = self._ssl_context(configuration) if self.https else None
        self.server_hostname = configuration.tls_server_name or None
        self._local = threading.local()

    @classmethod
    def for_configuration(cls, configuration, default_headers=None, serialize=None):
        """A ``Transport`` for ``configuration``, or ``None`` when the SDK's path is needed (module docstring)."""
        host = getattr(configuration, "host", None) or ""
        scheme = urlsplit(host).scheme
        if scheme not in ("http", "https") or not urlsplit(host).hostname:
            return None
        if getattr(configuration, "proxy", None) or getattr(configuration, "socket_options", None):
            return None
        if getattr(configuration, "keep_alive", False):
            return None
        if isinstance(getattr(configuration, "assert_hostname", None), str):
            return None
        return cls(configuration, default_headers, serialize)

    @staticmethod
    def _ssl_context(configuration):
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None,
                                             cadata=getattr(configuration, "ca_cert_data", None) or None)
        if not configuration.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif getattr(configuration, "assert_hostname", None) is False:
            context.check_hostname = False
        if configuration.cert_file:
            context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
        return context

    # -- one request

    def request(self, method, path, body=None, headers=None, timeout=None):
        """Send one request; return ``(status, reason, headers, body bytes)``.

        ``path`` starts with ``/`` and carries its query; ``body`` is encoded as the SDK would encode it for the
        ``Content-Type`` in ``headers``; ``timeout`` (seconds, or a ``(connect, read)`` pair) bounds each socket
        operation."""
        headers = dict(headers or {})
        data = self._encode(method, body, headers)
        headers = self._headers(headers)
        url = self.base_path + path
        for attempt in (1, 2):
            conn, kept = self._connection(timeout)
            try:
                conn.request(method, url, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except _STALE as exc:
                self._drop()
                if kept and attempt == 1:
                    continue  # the server had closed the kept connection: once more on a new one
                raise ConnectionError("%s %s: the connection to %s closed: %s" % (method, path, self._where(), exc)) from exc
            except ssl.SSLCertVerificationError:
                self._drop()
                raise
            except socket.timeout as exc:
                self._drop()
                raise TimeoutError("%s %s: no answer from %s in %ss" % (method, path, self._where(), timeout)) from exc
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                if isinstance(exc, ConnectionError):
                    raise
                raise ConnectionError("%s %s: %s: %s" % (method, path, self._where(), exc or type(exc).__name__)) from exc
            if response.will_close:
                self._drop()
            return response.status, response.reason, response.headers, payload
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self):
        """Close the calling thread's connection (other threads' connections close when their threads end)."""
        self._drop()

    # -- helpers

    def _where(self):
        return "%s:%s" % (self.hostname, self.port)

    def _encode(self, method, body, headers):
        if body is None or method not in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            return None
        content_type = headers.get("Content-Type")
        if content_type == "application/json-patch+json" and not isinstance(body, list):
            headers["Content-Type"] = content_type = "application/strategic-merge-patch+json"
        if _json_content(content_type) or (_yaml_content(content_type) and not isinstance(body, (str, bytes))):
            try:
                text = json.dumps(body)
            except TypeError:
                if self.serialize is None:
                    raise
                text = json.dumps(self.serialize(body))
            return text.encode("utf-8")
        if isinstance(body, str):
            return body.encode("utf-8")
        if isinstance(body, bytes):
            return body
        raise ValueError("a %s body cannot be sent as %s" % (type(body).__name__, content_type))

    def _headers(self, headers):
        out = dict(self.default_headers)
        out.update(headers)
        for setting in (self.configuration.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                out[setting["key"]] = setting["value"]
        return out

    def _connection(self, timeout):
        """The calling thread's connection and whether it was kept from an earlier request."""
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            if self._local.timeout != read_timeout:
                # only when it changes: setting it is a system call that lets go of the GIL, and taking the GIL back
                # among a restore's 16 busy threads costs more than the call itself
                conn.sock.settimeout(read_timeout)
                self._local.timeout = read_timeout
            return conn, True
        conn = http.client.HTTPConnection(self.hostname, self.port, timeout=connect_timeout)
        conn.connect()  # TCP (with TCP_NODELAY), here so that TLS starts with the configured server name
        if self.https:
            conn.sock = self.context.wrap_socket(conn.sock, server_hostname=self.server_hostname or self.hostname)
        conn.sock.settimeout(read_timeout)
        self._local.conn, self._local.timeout = conn, read_timeout
        return conn, False

    def _drop(self):
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()
