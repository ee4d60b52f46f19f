# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lean request path of ``K8sClient.raw`` against a local HTTP/1.1 server."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes.client import ApiClient, Configuration

from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
from ansible_collections.adhar.platform.plugins.module_utils._k8s.transport import Transport


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class KeepAliveServer:
    """HTTP/1.1 with keep-alive; records each request with the connection it came on.  ``close_after`` closes a
    connection after that many answers without saying so (as an idle timeout does); ``slow`` delays every answer."""

    def __init__(self, close_after=None, slow=0.0):
        self.requests, self.connections = [], 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with owner.lock:
                    owner.connections += 1
                    self.connection_id = owner.connections
                self.answered = 0

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner.lock:
                    owner.requests.append({"method": self.command, "path": self.path, "connection": self.connection_id,
                                           "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                time.sleep(slow)
                data = json.dumps({"echo": body.decode() or None}).encode()
                self.send_response(201 if self.command == "POST" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                self.answered += 1
                if close_after is not None and self.answered >= close_after:
                    self.close_connection = True  # closed without a Connection: close header

            do_GET = do_POST = do_PATCH = _handle

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = KeepAliveServer()
    yield s
    s.stop()


def _client(url, **params):
    client = K8sClient.from_params(dict({"host": url, "api_key": "tok", "request_timeout": 5, "api_retry_deadline": 2},
                                        **params))
    client.retry_options = {"base": 0.01, "cap": 0.02}
    return client


def test_raw_uses_the_lean_path_and_keeps_one_connection_per_thread(server):
    client = _client(server.url)
    assert isinstance(client._transport(), Transport)
    for n in range(5):
        assert client.raw("GET", "/version?n=%d" % n)[0] == 200
    assert [r["connection"] for r in server.requests] == [1] * 5
    headers = server.requests[0]["headers"]
    assert headers["authorization"] == "Bearer tok"
    assert headers["user-agent"] == client.api_client.default_headers["User-Agent"]
    client.close()


def test_a_kept_connection_the_server_closed_is_used_again_once_on_a_new_one():
    s = KeepAliveServer(close_after=1)
    try:
        client = _client(s.url, api_retry_deadline=0)  # no retries above the transport: the resend is its own
        assert client.raw("POST", "/api/v1/namespaces/a/configmaps", body={"n": 1})[0] == 201
        time.sleep(0.1)  # the server has closed the first connection by now
        status, data = client.raw("POST", "/api/v1/namespaces/a/configmaps", body={"n": 2})
        assert status == 201 and json.loads(data["echo"]) == {"n": 2}
        assert [(r["connection"], json.loads(r["body"])) for r in s.requests] == [(1, {"n": 1}), (2, {"n": 2})]
    finally:
        s.stop()


def test_bodies_are_encoded_as_the_sdk_encodes_them(server):
    client = _client(server.url)
    client.raw("POST", "/a", body={"kind": "ConfigMap", "data": {"k": "v"}})
    client.raw("PATCH", "/b", body={"metadata": {"labels": {"a": "b"}}}, headers={"Content-Type": "application/json-patch+json"})
    client.raw("PATCH", "/c", body="kind: ConfigMap\n", headers={"Content-Type": "application/apply-patch+yaml"})
    client.raw("PATCH", "/d", body=[{"op": "remove", "path": "/x"}], headers={"Content-Type": "application/json-patch+json"})
    a, b, c, d = server.requests
    assert json.loads(a["body"]) == {"kind": "ConfigMap", "data": {"k": "v"}}
    assert a["headers"]["content-type"] == "application/json"
    # a JSON patch that is not a list of operations is a strategic merge patch, as the SDK sends it
    assert b["headers"]["content-type"] == "application/strategic-merge-patch+json"
    assert (c["body"], c["headers"]["content-type"]) == (b"kind: ConfigMap\n", "application/apply-patch+yaml")
    assert json.loads(d["body"]) == [{"op": "remove", "path": "/x"}]


def test_a_refreshed_token_is_asked_for_before_every_request(server):
    client = _client(server.url)
    tokens = iter(["first", "second"])

    def refresh(configuration):
        configuration.api_key["BearerToken"] = next(tokens)

    client.configuration.refresh_api_key_hook = refresh
    client.raw("GET", "/version")
    client.raw("GET", "/version")
    assert [r["headers"]["authorization"] for r in server.requests] == ["Bearer first", "Bearer second"]


def test_a_slow_answer_times_out_and_a_refused_connection_is_a_connection_error():
    s = KeepAliveServer(slow=1.0)
    try:
        transport = Transport.for_configuration(Configuration(host=s.url))
        with pytest.raises(TimeoutError):
            transport.request("GET", "/version", timeout=0.2)
    finally:
        s.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = Transport.for_configuration(Configuration(host="http://127.0.0.1:%d" % port))
    with pytest.raises(ConnectionError):
        transport.request("GET", "/version", timeout=1)


def test_a_kept_connection_takes_the_timeout_of_each_request():
    s = KeepAliveServer(slow=0.3)
    try:
        transport = Transport.for_configuration(Configuration(host=s.url))
        assert transport.request("GET", "/version", timeout=2)[0] == 200
        assert transport.request("GET", "/version", timeout=2)[0] == 200  # same timeout: the socket is left as it is
        with pytest.raises(TimeoutError):
            transport.request("GET", "/version", timeout=0.1)  # a shorter one on the kept connection is honoured
        assert transport.request("GET", "/version", timeout=(1, 2))[0] == 200
        assert [r["connection"] for r in s.requests] == [1, 1, 1, 2]
    finally:
        s.stop()


def test_a_host_with_a_path_prefix_keeps_it(server):
    transport = Transport.for_configuration(Configuration(host=server.url + "/k8s/clusters/c1/"))
    assert transport.request("GET", "/api/v1/namespaces?limit=1")[0] == 200
    assert server.requests[-1]["path"] == "/k8s/clusters/c1/api/v1/namespaces?limit=1"


def test_what_the_lean_path_does_not_do_goes_through_the_sdk():
    proxied = Configuration(host="https://h:6443")
    proxied.proxy = "http://proxy:3128"
    named = Configuration(host="https://10.0.0.1:6443")
    named.assert_hostname = "kubernetes.default"
    for configuration in (proxied, named, Configuration(host="unix:///run/k8s.sock")):
        assert Transport.for_configuration(configuration) is None
        assert K8sClient(ApiClient(configuration))._transport() is None
        assert not K8sClient(ApiClient(configuration)).connection_per_thread
    assert K8sClient(ApiClient(Configuration(host="https://h:6443"))).connection_per_thread
    verified = Transport.for_configuration(Configuration(host="https://h:6443"))
    assert verified.https and verified.port == 6443 and verified.context.verify_mode.name == "CERT_REQUIRED"
    loose = Configuration(host="https://h")
    loose.verify_ssl = False
    transport = Transport.for_configuration(loose)
    assert transport.port == 443 and not transport.context.check_hostname
