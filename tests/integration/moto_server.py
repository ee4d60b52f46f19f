# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto in server mode as a separate process, for tests that talk S3/KMS over real HTTP.

``serve`` is the body of a session-scoped fixture: it starts
``<venv>/bin/moto_server -H 127.0.0.1 -p <free port>``, waits until it
answers, yields its URL, and at the end stops that process by its pid
(SIGTERM, then SIGKILL).  A test module makes it a fixture with::

    import moto_server
    moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)

``CountingProxy`` sits in front of it and records the service, operation and kind (read or write) of every request,
so tests count write calls instead of assuming them; ``counting_proxy`` is its fixture body.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from ports import free_tcp_port

# Dummy credentials: moto accepts any; nothing here may reach real AWS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
REGION = "us-east-1"


def moto_server_binary():
    candidate = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("moto_server")


class MotoServer:
    """One moto server process; ``stop()`` signals only the pid it started."""

    def __init__(self, log_path):
        self.port = free_tcp_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = log_path
        self.proc = None

    def start(self, timeout=60.0):
        binary = moto_server_binary()
        if not binary:
            pytest.fail("moto_server not found next to %s (pip install 'moto[server]')" % sys.executable)
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(self.port)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("moto_server exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        pytest.fail("moto_server did not answer on %s within %ss:\n%s" % (self.url, timeout, self.log_tail()))

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def serve(tmp_path_factory):
    """Yield the URL of a moto server running as its own process; stop it afterwards (a fixture body)."""
    server = MotoServer(str(tmp_path_factory.mktemp("moto") / "moto_server.log")).start()
    try:
        yield server.url
    finally:
        server.stop()


READ_PREFIXES = ("Describe", "Get", "List")


class CountingProxy:
    """HTTP proxy to moto that records ``(service, operation, is_write)`` for every request."""

    def __init__(self, upstream):
        self.upstream = upstream.rstrip("/")
        self.calls = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.record(self.command, self.path, self.headers, body)
                req = urllib.request.Request(proxy.upstream + self.path, data=body if body or self.command in (
                    "POST", "PUT") else None, method=self.command)
                for k, v in self.headers.items():
                    if k.lower() not in ("host", "content-length", "connection"):
                        req.add_header(k, v)
                if body and not self.headers.get("Content-Type"):
                    # urllib would send a form Content-Type, which moto routes elsewhere (Route 53 XML bodies have none)
                    req.add_header("Content-Type", "")
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, headers, data = resp.status, resp.headers, resp.read()
                except urllib.error.HTTPError as e:
                    status, headers, data = e.code, e.headers, e.read()
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def record(self, method, path, headers, body):
        auth = headers.get("Authorization") or ""
        service = "?"
        if "Credential=" in auth:
            service = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
        target = headers.get("X-Amz-Target")
        if target:
            op = target.split(".", 1)[1]
            write = not op.startswith(READ_PREFIXES)
        elif service in ("ec2", "iam", "sts"):
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            op = (form.get("Action") or ["?"])[0]
            write = not op.startswith(READ_PREFIXES)
        else:  # EKS: REST; reads are GET
            op = "%s %s" % (method, urllib.parse.urlsplit(path).path)
            write = method not in ("GET", "HEAD")
        with self.lock:
            self.calls.append((service, op, write))

    def reset(self):
        with self.lock:
            self.calls = []

    def writes(self):
        with self.lock:
            return [(s, op) for s, op, w in self.calls if w]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def counting_proxy(moto_endpoint):
    """Yield a ``CountingProxy`` in front of ``moto_endpoint``; stop it afterwards (a fixture body)."""
    p = CountingProxy(moto_endpoint)
    try:
        yield p
    finally:
        p.stop()
