# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto in server mode as a separate process, for tests that talk S3/KMS over real HTTP.

``serve`` is the body of a session-scoped fixture: it starts
``<venv>/bin/moto_server -H 127.0.0.1 -p <free port>``, waits until it
answers, yields its URL, and at the end stops that process by its pid
(SIGTERM, then SIGKILL).  A test module makes it a fixture with::

    import moto_server
    moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

# Dummy credentials: moto accepts any; nothing here may reach real AWS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
REGION = "us-east-1"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_server_binary():
    candidate = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("moto_server")


class MotoServer:
    """One moto server process; ``stop()`` signals only the pid it started."""

    def __init__(self, log_path):
        self.port = free_port()
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
