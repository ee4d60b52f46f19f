# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from kubernetes.client import ApiClient, Configuration, CoreV1Api, VersionApi
from kubernetes.client.exceptions import ApiException

from ansible_collections.adhar.platform.plugins.module_utils._k8s import client as k8s_client
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import (
    CONNECTION_POOL_MAXSIZE,
    K8sClient,
    build_configuration,
    resolve_auth,
)

pytestmark = pytest.mark.usefixtures("clean_k8s_env")

CERT_PEM = b"-----BEGIN CERTIFICATE-----\nclient-cert\n-----END CERTIFICATE-----\n"
KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nclient-key\n-----END PRIVATE KEY-----\n"
CA_PEM = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"


def b64(data):
    return base64.b64encode(data).decode()


def kubeconfig(server="https://10.1.1.1:6443", contexts=("admin", "viewer"), current="admin", token="viewer-token"):
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "one", "cluster": {"server": server, "certificate-authority-data": b64(CA_PEM)}},
            {"name": "two", "cluster": {"server": "https://10.2.2.2:6443", "insecure-skip-tls-verify": True}},
        ],
        "users": [
            {"name": "admin", "user": {"client-certificate-data": b64(CERT_PEM), "client-key-data": b64(KEY_PEM)}},
            {"name": "viewer", "user": {"token": token}},
        ],
        "contexts": [
            {"name": name, "context": {"cluster": "one" if name == "admin" else "two", "user": name}} for name in contexts
        ],
        **({"current-context": current} if current else {}),
    }


def write_kubeconfig(path, data):
    path.write_text(yaml.safe_dump(data))
    return str(path)


def bearer(configuration):
    return configuration.auth_settings().get("BearerToken", {}).get("value")


def read(path):
    with open(path, "rb") as f:
        return f.read()


# -- configuration sources ---------------------------------------------------------------------


def test_kubeconfig_dict_gives_host_and_client_cert():
    cfg = build_configuration({"kubeconfig": kubeconfig()})
    assert cfg.host == "https://10.1.1.1:6443"
    assert read(cfg.cert_file) == CERT_PEM
    assert read(cfg.key_file) == KEY_PEM
    assert read(cfg.ssl_ca_cert) == CA_PEM
    assert cfg.verify_ssl is True
    assert bearer(cfg) is None
    assert cfg.connection_pool_maxsize == CONNECTION_POOL_MAXSIZE


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory-only files are Linux only")
def test_inline_client_key_is_never_written_to_a_temp_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig()))
    for source in (kubeconfig(), str(path)):
        cfg = build_configuration({"kubeconfig": source})
        for name in ("cert_file", "key_file", "ssl_ca_cert"):
            assert getattr(cfg, name).startswith("/proc/self/fd/") and os.readlink(getattr(cfg, name)).startswith("/memfd:")
        assert read(cfg.key_file) == KEY_PEM
    written = [os.path.join(d, f) for d, dummy, files in os.walk(str(tmp_path)) for f in files]
    assert written == [str(path)] and KEY_PEM not in read(str(path))


def test_kubeconfig_dict_with_context_gives_token_and_insecure():
    cfg = build_configuration({"kubeconfig": kubeconfig(), "context": "viewer"})
    assert cfg.host == "https://10.2.2.2:6443"
    assert bearer(cfg) == "Bearer viewer-token"
    assert cfg.verify_ssl is False


def test_kubeconfig_dict_is_not_modified():
    data = kubeconfig()
    before = json.dumps(data, sort_keys=True)
    build_configuration({"kubeconfig": data, "context": "viewer"})
    assert json.dumps(data, sort_keys=True) == before


def test_kubeconfig_file_and_context(tmp_path):
    path = write_kubeconfig(tmp_path / "config", kubeconfig())
    cfg = build_configuration({"kubeconfig": path, "context": "viewer"})
    assert cfg.host == "https://10.2.2.2:6443"


def test_unknown_context_names_context_file_and_choices(tmp_path):
    path = write_kubeconfig(tmp_path / "config", kubeconfig())
    with pytest.raises(AdharError) as info:
        build_configuration({"kubeconfig": path, "context": "prod"})
    msg = info.value.msg
    assert "'prod'" in msg and path in msg
    assert "admin, viewer" in msg
    assert info.value.details["context"] == "prod"


def test_unknown_context_in_dict():
    with pytest.raises(AdharError, match="Context 'nope' not found in the kubeconfig given as a dict; available contexts: admin, viewer"):
        build_configuration({"kubeconfig": kubeconfig(), "context": "nope"})


def test_no_current_context(tmp_path):
    path = write_kubeconfig(tmp_path / "config", kubeconfig(current=None))
    with pytest.raises(AdharError, match="sets no current-context"):
        build_configuration({"kubeconfig": path})


def test_missing_kubeconfig_file_is_named(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(AdharError) as info:
        build_configuration({"kubeconfig": missing})
    assert info.value.msg == "kubeconfig file not found: {0}".format(missing)


def test_kubeconfig_that_is_a_directory_is_said_so(tmp_path, monkeypatch):
    with pytest.raises(AdharError) as info:
        build_configuration({"kubeconfig": str(tmp_path)})
    assert info.value.msg == "kubeconfig {0} is a directory, not a file".format(tmp_path)
    assert "not found" not in info.value.msg
    # the same through KUBECONFIG (no kubeconfig option)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path))
    with pytest.raises(AdharError, match="^kubeconfig \\(KUBECONFIG\\) .* is a directory, not a file$"):
        build_configuration({})


def test_kubeconfig_under_a_regular_file_is_said_so(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(AdharError, match="cannot exist: .*/f is not a directory"):
        build_configuration({"kubeconfig": str(tmp_path / "f" / "config")})


def test_cert_option_that_is_a_directory_is_said_so(tmp_path):
    with pytest.raises(AdharError, match="^ca_cert: .* is a directory, not a file$"):
        build_configuration({"host": "https://h:6443", "ca_cert": str(tmp_path)})


def test_empty_and_broken_kubeconfig_files(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(AdharError, match=str(empty)):
        build_configuration({"kubeconfig": str(empty)})
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    with pytest.raises(AdharError, match=str(broken)):
        build_configuration({"kubeconfig": str(broken)})


def test_kubeconfig_of_wrong_type():
    with pytest.raises(AdharError, match="path or a dict"):
        build_configuration({"kubeconfig": ["a"]})


def test_default_kubeconfig_location(clean_k8s_env):
    kube_dir = clean_k8s_env / ".kube"
    kube_dir.mkdir()
    write_kubeconfig(kube_dir / "config", kubeconfig(server="https://home-config:6443"))
    assert build_configuration({}).host == "https://home-config:6443"


def test_kubeconfig_env_var_list(tmp_path, monkeypatch):
    first = write_kubeconfig(tmp_path / "a", kubeconfig(server="https://from-a:6443"))
    monkeypatch.setenv("KUBECONFIG", "{0}:{1}".format(str(tmp_path / "missing"), first))
    assert build_configuration({}).host == "https://from-a:6443"


def test_context_without_any_kubeconfig():
    with pytest.raises(AdharError, match="Context 'x' was given but no kubeconfig file exists"):
        build_configuration({"context": "x"})


def test_nothing_configured():
    with pytest.raises(AdharError, match="No Kubernetes connection configured"):
        build_configuration({})


def test_in_cluster(tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("sa-token")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(CA_PEM)
    monkeypatch.setattr(k8s_client.incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(k8s_client.incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cfg = build_configuration({})
    assert cfg.host == "https://10.96.0.1:443"
    assert cfg.ssl_ca_cert == str(ca)
    assert bearer(cfg) == "bearer sa-token"


def test_kubeconfig_wins_over_in_cluster(clean_k8s_env, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    (clean_k8s_env / ".kube").mkdir()
    write_kubeconfig(clean_k8s_env / ".kube" / "config", kubeconfig())
    assert build_configuration({}).host == "https://10.1.1.1:6443"


# -- explicit options and environment ---------------------------------------------------------


def test_host_and_api_key_skip_kubeconfig(clean_k8s_env, monkeypatch):
    (clean_k8s_env / ".kube").mkdir()
    write_kubeconfig(clean_k8s_env / ".kube" / "config", kubeconfig())
    cfg = build_configuration({"host": "https://api.example:6443/", "api_key": "tok-1"})
    assert cfg.host == "https://api.example:6443"
    assert bearer(cfg) == "Bearer tok-1"
    assert cfg.cert_file is None


def test_host_without_scheme_and_bearer_prefix():
    cfg = build_configuration({"host": "10.0.0.5:6443", "api_key": "Bearer tok-2"})
    assert cfg.host == "https://10.0.0.5:6443"
    assert bearer(cfg) == "Bearer tok-2"


def test_host_and_client_cert(tmp_path):
    cert, key, ca = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.write_bytes(CERT_PEM)
    key.write_bytes(KEY_PEM)
    ca.write_bytes(CA_PEM)
    cfg = build_configuration({"host": "https://h:6443", "client_cert": str(cert), "client_key": str(key), "ca_cert": str(ca)})
    assert (cfg.cert_file, cfg.key_file, cfg.ssl_ca_cert) == (str(cert), str(key), str(ca))
    assert bearer(cfg) is None


def test_missing_cert_file_is_named(tmp_path):
    with pytest.raises(AdharError, match="ca_cert: file not found: .*nope.pem"):
        build_configuration({"host": "https://h:6443", "ca_cert": str(tmp_path / "nope.pem")})


def test_explicit_options_override_kubeconfig():
    cfg = build_configuration({"kubeconfig": kubeconfig(), "context": "viewer", "api_key": "override", "host": "https://other:443",
                               "validate_certs": True})
    assert cfg.host == "https://other:443"
    assert bearer(cfg) == "Bearer override"  # not the kubeconfig's token, even after a refresh hook would run
    assert cfg.verify_ssl is True


def test_validate_certs_false():
    cfg = build_configuration({"host": "https://h:6443", "validate_certs": False})
    assert cfg.verify_ssl is False


def test_env_used_for_direct_library_use(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env-host:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", "env-token")
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "false")
    cfg = build_configuration({})
    assert cfg.host == "https://env-host:6443"
    assert bearer(cfg) == "Bearer env-token"
    assert cfg.verify_ssl is False


def test_explicit_params_beat_env(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env-host:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", "env-token")
    cfg = build_configuration({"host": "https://param-host:6443", "api_key": "param-token"})
    assert cfg.host == "https://param-host:6443"
    assert bearer(cfg) == "Bearer param-token"


def test_env_kubeconfig_and_context(tmp_path, monkeypatch):
    path = write_kubeconfig(tmp_path / "cfg", kubeconfig())
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", path)
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "viewer")
    assert build_configuration({}).host == "https://10.2.2.2:6443"
    # an explicit context beats the environment's
    assert build_configuration({"context": "admin"}).host == "https://10.1.1.1:6443"


def test_explicit_environ_mapping_is_used_instead_of_os_environ():
    cfg = build_configuration({}, environ={"K8S_AUTH_HOST": "https://mapped:1"})
    assert cfg.host == "https://mapped:1"


def test_resolve_auth_types():
    auth = resolve_auth({"request_timeout": "5", "validate_certs": "yes"}, environ={"K8S_AUTH_SSL_CA_CERT": "~/ca.pem"})
    assert auth["request_timeout"] == 5.0
    assert auth["api_retry_deadline"] == 120.0
    assert auth["validate_certs"] is True
    assert not auth["ca_cert"].startswith("~")
    with pytest.raises(AdharError, match="validate_certs"):
        resolve_auth({}, environ={"K8S_AUTH_VERIFY_SSL": "maybe"})


# -- K8sClient -------------------------------------------------------------------------------


def test_from_params_and_dry_run():
    client = K8sClient.from_params({"host": "https://h:6443", "request_timeout": 7.0, "api_retry_deadline": 9.0}, check_mode=True)
    assert client.host == "https://h:6443"
    assert client.request_timeout == 7.0
    assert client.deadline == 9.0
    assert client.write_kwargs() == {"dry_run": "All"}
    assert K8sClient.from_params({"host": "https://h:6443"}).write_kwargs() == {}
    assert K8sClient.from_params({"host": "https://h:6443"}).request_timeout == 30.0


def test_api_objects_are_cached_per_class():
    client = K8sClient(ApiClient(Configuration(host="https://h")))
    core = client.api(CoreV1Api)
    assert isinstance(core, CoreV1Api)
    assert client.api(CoreV1Api) is core
    assert core.api_client is client.api_client
    assert client.api(VersionApi) is not core


def test_call_injects_timeout_and_retries():
    sleeps = []
    client = K8sClient(ApiClient(Configuration(host="https://h")), request_timeout=12, deadline=60,
                       retry_options={"sleep": sleeps.append})
    calls = []

    def method(name, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise ApiException(status=503, reason="Service Unavailable")
        return "got " + name

    assert client.call(method, "ns", label_selector="a=b") == "got ns"
    assert calls == [{"label_selector": "a=b", "_request_timeout": 12.0}] * 2
    assert len(sleeps) == 1
    # an explicit timeout is kept
    client.call(method, "ns", _request_timeout=(1, 2))
    assert calls[-1]["_request_timeout"] == (1, 2)


def test_call_does_not_retry_404_and_reports_deadline():
    client = K8sClient(ApiClient(Configuration(host="https://h")), deadline=0)
    calls = []

    def not_found(**kwargs):
        calls.append(1)
        raise ApiException(status=404, reason="Not Found")

    with pytest.raises(ApiException):
        client.call(not_found)
    assert len(calls) == 1

    def unavailable(**kwargs):
        raise ApiException(status=503, reason="Service Unavailable")

    with pytest.raises(AdharError, match="unavailable after 1 attempt"):
        client.call(unavailable)


def test_dynamic_is_lazy_and_built_once(monkeypatch):
    import kubernetes.dynamic

    built = []

    class FakeDynamic:
        def __init__(self, api_client, cache_file=None):
            built.append((api_client, cache_file))

    monkeypatch.setattr(kubernetes.dynamic, "DynamicClient", FakeDynamic)
    client = K8sClient(ApiClient(Configuration(host="https://h")))
    assert built == []
    first = client.dynamic()
    assert client.dynamic() is first
    assert built == [(client.api_client, None)]


# -- raw requests against a local HTTP server -------------------------------------------------


VERSION = {
    "major": "1", "minor": "36", "gitVersion": "v1.36.3", "gitCommit": "abc", "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.26", "compiler": "gc", "platform": "linux/amd64",
}


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connects from a thread pool (1 s SYN retry)
    daemon_threads = True


class FakeApiServer:
    def __init__(self):
        self.requests = []
        self.flaky_left = 1
        self.retry_after = "0"
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, ctype, headers=None):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle()

            def do_POST(self):
                self._handle()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server.lock:
                    server.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                path = self.path
                if path in ("/version", "/version/"):
                    self._send(200, json.dumps(VERSION), "application/json")
                elif path.startswith("/readyz"):
                    self._send(500, "[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n", "text/plain; charset=utf-8")
                elif path == "/livez":
                    self._send(200, "ok", "text/plain; charset=utf-8")
                elif path == "/flaky":
                    with server.lock:
                        fail = server.flaky_left > 0
                        server.flaky_left -= 1
                    if fail:
                        self._send(503, json.dumps({"kind": "Status", "message": "etcdserver: leader changed"}), "application/json")
                    else:
                        self._send(200, json.dumps({"ok": True}), "application/json")
                elif path == "/throttled":
                    self._send(429, json.dumps({"kind": "Status", "message": "slow down"}), "application/json",
                               {"Retry-After": server.retry_after})
                elif path == "/echo":
                    self._send(200, body or b"{}", "application/json")
                else:
                    self._send(404, json.dumps({"kind": "Status", "message": "the server could not find the requested resource"}),
                               "application/json")

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:{0}".format(self.httpd.server_address[1])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api_server():
    server = FakeApiServer()
    yield server
    server.stop()


@pytest.fixture
def raw_client(api_server):
    client = K8sClient.from_params({"host": api_server.url, "api_key": "tok-raw", "request_timeout": 5, "api_retry_deadline": 5})
    client.retry_options = {"base": 0.01, "cap": 0.02}
    yield client
    client.close()


def test_raw_version_json_with_auth(raw_client, api_server):
    status, data = raw_client.raw("GET", "/version")
    assert status == 200
    assert data["gitVersion"] == "v1.36.3"
    method, path, headers, _body = api_server.requests[-1]
    assert (method, path) == ("GET", "/version")
    assert headers["authorization"] == "Bearer tok-raw"


def test_server_version_is_cached(raw_client, api_server):
    assert raw_client.server_version()["minor"] == "36"
    assert raw_client.server_version()["minor"] == "36"
    assert [r[1] for r in api_server.requests] == ["/version"]


def test_raw_readyz_verbose_without_raising(raw_client, api_server):
    status, text = raw_client.raw("GET", "/readyz?verbose", raise_for_status=False)
    assert status == 500
    assert "[-]etcd failed" in text
    assert api_server.requests[-1][1] == "/readyz?verbose"
    assert len(api_server.requests) == 1  # an HTTP answer is not retried when asked for as is


def test_raw_query_merging(raw_client, api_server):
    raw_client.raw("GET", "/readyz?verbose", query={"exclude": "etcd"}, raise_for_status=False)
    assert api_server.requests[-1][1] == "/readyz?verbose=&exclude=etcd"


def test_raw_undecoded_body_and_errors(raw_client, api_server):
    status, body = raw_client.raw("GET", "/version", decode=False)
    assert status == 200 and isinstance(body, bytes) and json.loads(body)["gitVersion"] == "v1.36.3"
    with pytest.raises(ApiException) as info:  # an error answer still raises, whatever decode says
        raw_client.raw("GET", "/nope", decode=False)
    assert info.value.status == 404


def test_raw_text_body(raw_client):
    assert raw_client.raw("GET", "/livez") == (200, "ok")


def test_raw_404_raises_once(raw_client, api_server):
    with pytest.raises(ApiException) as info:
        raw_client.raw("GET", "/nope")
    assert info.value.status == 404
    assert "could not find" in info.value.body
    assert len(api_server.requests) == 1


def test_raw_retries_5xx_through_the_retry_path(raw_client, api_server):
    status, data = raw_client.raw("GET", "/flaky")
    assert (status, data) == (200, {"ok": True})
    assert [r[1] for r in api_server.requests] == ["/flaky", "/flaky"]


def test_raw_429_gives_up_at_deadline(api_server):
    client = K8sClient.from_params({"host": api_server.url, "request_timeout": 5, "api_retry_deadline": 0.3})
    with pytest.raises(AdharError) as info:
        client.raw("GET", "/throttled")
    assert info.value.details["status"] == 429
    assert info.value.details["attempts"] >= 2
    assert "GET /throttled" in info.value.msg
    client.close()


def test_raw_post_json_body(raw_client, api_server):
    status, data = raw_client.raw("POST", "/echo", body={"a": 1})
    assert (status, data) == (200, {"a": 1})
    assert api_server.requests[-1][2]["content-type"] == "application/json"


def test_connection_refused_is_retried_until_deadline():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = K8sClient.from_params({"host": "http://127.0.0.1:{0}".format(port), "request_timeout": 1, "api_retry_deadline": 0.3})
    client.api_client.configuration.retries = False  # no urllib3-level retries: each attempt is one connect
    client.api_client.rest_client = type(client.api_client.rest_client)(client.api_client.configuration)
    with pytest.raises(AdharError, match="after [0-9]+ attempts"):
        client.raw("GET", "/version")
    client.close()


def test_shared_client_from_threads(raw_client, api_server):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _i: raw_client.raw("GET", "/version")[0], range(40)))
    assert results == [200] * 40
    assert len(api_server.requests) == 40


def test_typed_api_through_call(raw_client, api_server):
    version = raw_client.call(raw_client.api(VersionApi).get_code)
    assert version.git_version == "v1.36.3"
    assert api_server.requests[-1][2]["authorization"] == "Bearer tok-raw"


# -- older SDK layout (call_api with resource_path) ------------------------------------------


class LegacyResponse:
    def __init__(self, status, data, ctype):
        self.status = status
        self.reason = "OK"
        self.data = data
        self.headers = {"Content-Type": ctype}


class LegacyApiClient:
    def __init__(self, outcome):
        self.configuration = Configuration(host="https://legacy")
        self.outcome = outcome
        self.calls = []

    def call_api(self, resource_path, method, **kwargs):
        self.calls.append((resource_path, method, kwargs))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def close(self):
        pass


def test_raw_with_legacy_call_api():
    api_client = LegacyApiClient(LegacyResponse(200, b'{"gitVersion": "v1.30.0"}', "application/json"))
    client = K8sClient(api_client, request_timeout=3)
    assert client.raw("GET", "/version") == (200, {"gitVersion": "v1.30.0"})
    path, method, kwargs = api_client.calls[0]
    assert (path, method) == ("/version", "GET")
    assert kwargs["auth_settings"] == ["BearerToken"]
    assert kwargs["_preload_content"] is False
    assert kwargs["_request_timeout"] == 3.0


def test_raw_with_legacy_call_api_error_status():
    err = ApiException(status=500, reason="Internal Server Error")
    err.body = "readyz check failed"
    err.headers = {"Content-Type": "text/plain"}
    client = K8sClient(LegacyApiClient(err), deadline=0)
    assert client.raw("GET", "/readyz", raise_for_status=False) == (500, "readyz check failed")
    with pytest.raises(AdharError):
        client.raw("GET", "/readyz")


def test_raw_read_asked_to_wait_is_sent_again_a_few_times_then_returned_as_is(api_server):
    client = K8sClient.from_params({"host": api_server.url, "request_timeout": 5, "api_retry_deadline": 30})
    retried = []
    client.on_retry = lambda exc, attempt, delay: retried.append((exc.status, delay))
    status, data = client.raw("GET", "/throttled", raise_for_status=False)
    client.close()
    assert status == 429 and data["message"] == "slow down"
    assert [r[1] for r in api_server.requests] == ["/throttled"] * (k8s_client.READ_REPEATS + 1)
    assert retried == [(429, 0.0)] * k8s_client.READ_REPEATS  # the server's Retry-After: 0, not a backoff of our own


def test_raw_read_asked_to_wait_is_not_repeated_past_the_deadline(api_server):
    api_server.retry_after = "5"
    client = K8sClient.from_params({"host": api_server.url, "request_timeout": 5, "api_retry_deadline": 0.3})
    started = time.monotonic()
    status, dummy = client.raw("GET", "/throttled", raise_for_status=False)
    client.close()
    assert status == 429 and len(api_server.requests) == 1  # waiting 5 s would pass the 0.3 s deadline
    assert time.monotonic() - started < 2


def test_raw_write_answered_429_without_raise_is_returned_at_once(raw_client, api_server):
    status, data = raw_client.raw("POST", "/throttled", body={}, raise_for_status=False)
    assert status == 429 and data["message"] == "slow down"
    assert len(api_server.requests) == 1
