# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one Kubernetes client factory.

Where the connection comes from (first match wins):

1. ``kubeconfig`` (a path, or a kubeconfig as a dict) with ``context``;
2. ``host`` given without ``context``: a connection built from the options
   alone (``api_key``, ``client_cert``/``client_key``, ``ca_cert``);
3. the kubeconfig files named by ``KUBECONFIG`` (default ``~/.kube/config``)
   with ``context``;
4. the in-cluster service account.

Every option falls back to its ``K8S_AUTH_*`` environment variable
(``args_common.K8S_AUTH_ENV``): AnsibleModule does that through
``env_fallback``; ``resolve_auth`` does it again for direct library use.
Options given explicitly (``host``, ``api_key``, ``ca_cert``, ``client_cert``,
``client_key``, ``validate_certs``) override what a kubeconfig says.

``K8sClient`` wraps one ``ApiClient``: typed API objects (``api()``), calls
with a per-request timeout and retries under an overall deadline
(``call()``), server-side dry run for check mode (``write_kwargs()``), raw
requests for non-resource URLs (``raw()``) and a lazily built
``DynamicClient`` (``dynamic()``).  One instance may be shared by the
threads of a bounded pool: the urllib3 pool behind the ``ApiClient`` is
thread-safe (its size is ``CONNECTION_POOL_MAXSIZE``), ``raw()`` sends on
a keep-alive connection of the calling thread's own (``transport``), and
the caches here are guarded by a lock.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
from urllib.parse import parse_qsl, urlencode

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.adhar.platform.plugins.module_utils._common.args import (
    DEFAULT_API_RETRY_DEADLINE,
    DEFAULT_REQUEST_TIMEOUT,
    K8S_AUTH_ENV,
    k8s_auth_params,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_library, file_problem
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import retry_after_header, retry_call
from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import memfd_path, memfd_supported
from ansible_collections.adhar.platform.plugins.module_utils._k8s.transport import Transport

try:
    import yaml
    from ansible.module_utils.common.yaml import yaml_load
except ImportError as exc:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None
    YAML_IMPORT_ERROR = exc
else:
    YAML_IMPORT_ERROR = None

try:
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import incluster_config, kube_config
    from kubernetes.config.config_exception import ConfigException
except ImportError as exc:
    ApiClient = Configuration = ApiException = ConfigException = None
    incluster_config = kube_config = None
    KUBERNETES_IMPORT_ERROR = exc
else:
    KUBERNETES_IMPORT_ERROR = None

try:
    import urllib3
except ImportError:  # pragma: no cover - urllib3 comes with the SDK
    urllib3 = None

HAS_KUBERNETES = KUBERNETES_IMPORT_ERROR is None

DEFAULT_KUBECONFIG = "~/.kube/config"
CONNECTION_POOL_MAXSIZE = 16
IN_CLUSTER_ENV = ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")

_JSON_CONTENT_TYPE = re.compile(r"^application/(json|[\w!#$&.+\-^]+\+json)\s*(;|$)", re.IGNORECASE)
_CHARSET = re.compile(r"charset=([a-zA-Z0-9_\-]+)", re.IGNORECASE)
_PATH_OPTIONS = ("ca_cert", "client_cert", "client_key")
_UNSET = object()
_REPEATABLE_READ = frozenset(("GET", "HEAD"))
_REPEAT_STATUSES = frozenset((429, 500, 502, 503, 504))
READ_REPEATS = 3  # a read the server asks to repeat is sent again at most this often (urllib3's default, as the SDK did)


_SDK_CHECKED = []  # the SDK passed ``check_library`` in this process (its version does not change)


def _require_sdk():
    # ``raw`` asks before every request: the version check is done once, the import error looked at every time
    if KUBERNETES_IMPORT_ERROR is not None or not _SDK_CHECKED:
        check_library("kubernetes", KUBERNETES_IMPORT_ERROR, purpose="to talk to the Kubernetes API")
        _SDK_CHECKED.append(True)


def resolve_auth(params=None, environ=None):
    """Return the connection options with environment fallbacks and types applied.

    ``params`` may hold any K8S_AUTH_ARG_SPEC option (others are ignored).
    An option that is ``None`` takes its ``K8S_AUTH_*`` variable from
    ``environ`` (default ``os.environ``; empty values count as unset).
    String booleans and numbers are converted, ``~`` in paths expanded.
    """
    environ = os.environ if environ is None else environ
    auth = k8s_auth_params(params)
    for name, var in K8S_AUTH_ENV.items():
        if auth[name] is None and environ.get(var):
            auth[name] = environ[var]
    if isinstance(auth["validate_certs"], str):
        try:
            auth["validate_certs"] = boolean(auth["validate_certs"], strict=True)
        except TypeError as exc:
            raise AdharError("validate_certs: cannot read {0!r} as a boolean".format(auth["validate_certs"])) from exc
    for name, default in (("request_timeout", DEFAULT_REQUEST_TIMEOUT), ("api_retry_deadline", DEFAULT_API_RETRY_DEADLINE)):
        try:
            auth[name] = float(auth[name] if auth[name] is not None else default)
        except (TypeError, ValueError) as exc:
            raise AdharError("{0}: expected a number of seconds, got {1!r}".format(name, auth[name])) from exc
    for name in _PATH_OPTIONS:
        if auth[name]:
            auth[name] = os.path.expanduser(str(auth[name]))
    if isinstance(auth["kubeconfig"], str):
        auth["kubeconfig"] = auth["kubeconfig"].strip() or None
    return auth


def _split_paths(value):
    return [os.path.expanduser(p) for p in str(value).split(os.pathsep) if p]


def _contexts_of(source):
    """Names of the contexts and the current-context of a kubeconfig dict or file list (best effort)."""
    docs = []
    if isinstance(source, dict):
        docs = [source]
    elif yaml is not None:
        for path in source:
            try:
                with open(path) as f:
                    doc = yaml_load(f)
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(doc, dict):
                docs.append(doc)
    names = []
    current = None
    for doc in docs:
        for ctx in doc.get("contexts") or []:
            if isinstance(ctx, dict) and ctx.get("name") is not None and ctx["name"] not in names:
                names.append(ctx["name"])
        if current is None and doc.get("current-context"):
            current = doc["current-context"]
    return names, current


def _memory_file(content, temp_file_path=None, force_recreate=False):  # pylint: disable=unused-argument
    return memfd_path(content, "adhar-kubeconfig-data")


def _keep_inline_credentials_in_memory():
    """The SDK writes a kubeconfig's inline ``*-data`` (client keys!) to temp files it removes only at a clean exit; on
    Linux they go into memory-only files instead, so a killed run leaves no key on disk."""
    if memfd_supported() and hasattr(kube_config, "_create_temp_file_with_content"):
        kube_config._create_temp_file_with_content = _memory_file  # pylint: disable=protected-access


def _kubeconfig_files(paths, what):
    """The files of a kubeconfig path list; a path that exists but cannot be read as a file is an error naming it."""
    found = []
    for path in paths:
        problem = file_problem(path)
        if problem is None:
            found.append(path)
        elif problem != "does not exist":
            raise AdharError("{0} {1} {2}".format(what, path, problem), kubeconfig=path, option="kubeconfig")
    return found


def _load_kubeconfig(configuration, source, context, label):
    """Load a kubeconfig (dict, or list of existing files) into ``configuration``."""
    _keep_inline_credentials_in_memory()
    try:
        if isinstance(source, dict):
            kube_config.load_kube_config_from_dict(
                copy.deepcopy(source), context=context, client_configuration=configuration, persist_config=False)
        else:
            kube_config.load_kube_config(
                config_file=os.pathsep.join(source), context=context, client_configuration=configuration, persist_config=False)
    except Exception as exc:  # ConfigException, yaml errors, exec/auth-provider failures
        names, current = _contexts_of(source)
        available = ", ".join(str(n) for n in names) or "none"
        if context is not None and context not in names:
            msg = "Context '{0}' not found in {1}; available contexts: {2}".format(context, label, available)
        elif context is None and not current:
            msg = "{0} sets no current-context and no context was given; available contexts: {1}".format(label, available)
        else:
            msg = "Cannot load {0}{1}: {2}".format(
                label, " (context '{0}')".format(context or current) if (context or current) else "", exc)
        raise AdharError(msg, kubeconfig=label, context=context) from exc


def build_configuration(params=None, environ=None):
    """Build a ``kubernetes.client.Configuration`` from the options (see the module docstring)."""
    _require_sdk()
    environ = os.environ if environ is None else environ
    auth = resolve_auth(params, environ)
    context = auth["context"]
    kubeconfig = auth["kubeconfig"]
    # type.__call__ skips the "copy of the default configuration" behaviour
    # some SDK releases give Configuration(); we want a blank one.
    configuration = type.__call__(Configuration)

    if kubeconfig is not None:
        if isinstance(kubeconfig, dict):
            _load_kubeconfig(configuration, kubeconfig, context, "the kubeconfig given as a dict")
        elif isinstance(kubeconfig, str):
            paths = _split_paths(kubeconfig)
            found = _kubeconfig_files(paths, "kubeconfig")
            if not found:  # a directory or an unreadable path was refused by _kubeconfig_files, naming it
                raise AdharError("kubeconfig file not found: {0}".format(", ".join(paths) or kubeconfig), kubeconfig=kubeconfig)
            _load_kubeconfig(configuration, found, context, "kubeconfig {0}".format(", ".join(found)))
        else:
            raise AdharError("kubeconfig must be a path or a dict, not {0}".format(type(kubeconfig).__name__))
    elif auth["host"] and context is None:
        pass  # explicit connection, no kubeconfig
    else:
        paths = _split_paths(environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG)
        found = _kubeconfig_files(paths, "kubeconfig (KUBECONFIG)" if environ.get("KUBECONFIG") else "kubeconfig")
        if found:
            _load_kubeconfig(configuration, found, context, "kubeconfig {0}".format(", ".join(found)))
        elif context is not None:
            raise AdharError("Context '{0}' was given but no kubeconfig file exists (looked at {1})".format(context, ", ".join(paths)),
                             context=context)
        elif all(environ.get(v) for v in IN_CLUSTER_ENV):
            try:
                loader = incluster_config.InClusterConfigLoader(
                    token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
                    cert_filename=incluster_config.SERVICE_CERT_FILENAME,
                    environ=environ,
                )
                loader.load_and_set(configuration)
            except ConfigException as exc:
                raise AdharError("In-cluster configuration failed: {0}".format(exc)) from exc
        else:
            raise AdharError(
                "No Kubernetes connection configured: set kubeconfig (or KUBECONFIG / K8S_AUTH_KUBECONFIG), "
                "or host with api_key or client_cert/client_key, or run in a pod; "
                "no kubeconfig at {0}".format(", ".join(paths)))

    _apply_overrides(configuration, auth)
    configuration.connection_pool_maxsize = CONNECTION_POOL_MAXSIZE
    return configuration


def _apply_overrides(configuration, auth):
    for name in _PATH_OPTIONS:
        path = auth[name]
        problem = file_problem(path) if path else None
        if problem == "does not exist":
            raise AdharError("{0}: file not found: {1}".format(name, path), option=name, **{name: path})
        if problem:
            raise AdharError("{0}: {1} {2}".format(name, path, problem), option=name, **{name: path})
    if auth["host"]:
        host = str(auth["host"]).strip().rstrip("/")
        if "://" not in host:
            host = "https://" + host
        configuration.host = host
    if auth["api_key"]:
        token = str(auth["api_key"]).strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        # A kubeconfig token refresher would put its own token back.
        configuration.refresh_api_key_hook = None
    if auth["ca_cert"]:
        configuration.ssl_ca_cert = auth["ca_cert"]
    if auth["client_cert"]:
        configuration.cert_file = auth["client_cert"]
    if auth["client_key"]:
        configuration.key_file = auth["client_key"]
    if auth["validate_certs"] is not None:
        configuration.verify_ssl = bool(auth["validate_certs"])
        if not configuration.verify_ssl and urllib3 is not None:
            # The user turned verification off on purpose; one warning per
            # request on stderr adds nothing.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def _decode_body(data, content_type):
    if data is None:
        return None
    if isinstance(data, bytes):
        match = _CHARSET.search(content_type or "")
        try:
            text = data.decode(match.group(1) if match else "utf-8", errors="replace")
        except LookupError:
            text = data.decode("utf-8", errors="replace")
    else:
        text = str(data)
    if content_type and _JSON_CONTENT_TYPE.match(content_type) and text.strip():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _header(headers, name):
    if not headers:
        return None
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None and hasattr(headers, "items"):
        for key, val in headers.items():
            if str(key).lower() == name.lower():
                return val
    return value


class K8sClient:
    """One Kubernetes connection shared by everything a module does.

    ``request_timeout`` (seconds) is sent with every request made through
    ``call()`` and ``raw()``; ``deadline`` (seconds) bounds the retries of one
    call; ``dry_run`` makes ``write_kwargs()`` ask for a server-side dry run.
    ``on_retry(exc, attempt, delay)`` is told about each retry;
    ``retry_options`` (``base``, ``cap``, ``is_retryable``, ``sleep``,
    ``clock``) go to ``retry_call``.
    """

    def __init__(self, api_client, request_timeout=DEFAULT_REQUEST_TIMEOUT, deadline=DEFAULT_API_RETRY_DEADLINE, dry_run=False,
                 *, on_retry=None, retry_options=None):
        self.api_client = api_client
        self.request_timeout = float(request_timeout) if request_timeout else None
        self.deadline = float(deadline if deadline is not None else DEFAULT_API_RETRY_DEADLINE)
        self.dry_run = bool(dry_run)
        self.on_retry = on_retry
        self.retry_options = dict(retry_options or {})
        self._lock = threading.Lock()
        self._apis = {}
        self._dynamic = None
        self._version = None
        self._lean = _UNSET

    @classmethod
    def from_params(cls, params, check_mode=False, environ=None, **kwargs):
        """Build the client from module params (K8S_AUTH_ARG_SPEC); ``check_mode`` turns on server-side dry run."""
        configuration = build_configuration(params, environ)
        auth = resolve_auth(params, environ)
        return cls(
            ApiClient(configuration=configuration),
            request_timeout=auth["request_timeout"],
            deadline=auth["api_retry_deadline"],
            dry_run=check_mode,
            **kwargs
        )

    # -- basics -------------------------------------------------------------

    @property
    def configuration(self):
        return self.api_client.configuration

    @property
    def host(self):
        return self.configuration.host

    def close(self):
        if self._lean not in (None, _UNSET):
            self._lean.close()
        self.api_client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def api(self, cls):
        """Return ``cls(self.api_client)`` (e.g. ``CoreV1Api``), one instance per class."""
        with self._lock:
            instance = self._apis.get(cls)
            if instance is None:
                instance = self._apis[cls] = cls(self.api_client)
            return instance

    def write_kwargs(self):
        """Keyword arguments every write call should carry: ``dry_run='All'`` in check mode."""
        return {"dry_run": "All"} if self.dry_run else {}

    # -- calls --------------------------------------------------------------

    def _retry(self, fn):
        options = dict(self.retry_options)
        options.setdefault("on_retry", self.on_retry)
        return retry_call(fn, deadline=self.deadline, **options)

    def call(self, method, *args, **kwargs):
        """Call an SDK method (``method(*args, **kwargs)``) with the request timeout and retries.

        ``_request_timeout`` is added unless given.  Transient errors are
        retried until the deadline (see ``retries.default_is_retryable``).
        """
        if self.request_timeout and "_request_timeout" not in kwargs:
            kwargs["_request_timeout"] = self.request_timeout
        return self._retry(functools.partial(method, *args, **kwargs))

    def raw(self, method, path, query=None, body=None, headers=None, *, raise_for_status=True, timeout=None,
            decode=True):
        """Send a request to any API server path; return ``(status, data)``.

        For non-resource URLs such as ``/readyz?verbose`` or ``/version``.
        ``query`` is a dict or a list of pairs (added to any query already in
        ``path``).  ``data`` is the decoded JSON when the answer is JSON, else
        text.  With ``raise_for_status`` (the default) a non-2xx answer raises
        ``ApiException`` (so 429/5xx are retried); without it every HTTP
        answer is returned and only transport errors are retried, except a
        read (GET/HEAD) answered 429/5xx with ``Retry-After``, which is sent
        again like any retry, at most ``READ_REPEATS`` times within the
        deadline, and then returned as it is (a probe is not held up).
        With ``decode=False`` a successful answer's ``data`` is its body as
        bytes (for a caller that decodes when it is ready to).
        """
        _require_sdk()
        method = method.upper()
        url_path = path if path.startswith("/") else "/" + path
        if query:
            pairs = list(query.items()) if isinstance(query, dict) else list(query)
            base, _sep, existing = url_path.partition("?")
            pairs = [(k, "" if v is None else v) for k, v in pairs]
            if existing:
                pairs = parse_qsl(existing, keep_blank_values=True) + pairs
            url_path = base + "?" + urlencode(pairs, doseq=True)
        header_params = {"Accept": "application/json, */*"}
        if body is not None:
            header_params["Content-Type"] = "application/json"
        header_params.update(headers or {})
        request_timeout = timeout if timeout is not None else self.request_timeout

        repeat_asked = not raise_for_status and method in _REPEATABLE_READ
        sent = [0]

        def once():
            sent[0] += 1
            return self._raw_once(method, url_path, body, dict(header_params), request_timeout, raise_for_status, decode,
                                  repeat_asked and sent[0] <= READ_REPEATS)

        once.__qualname__ = "{0} {1}".format(method, url_path)
        try:
            return self._retry(once)
        except (AdharError, ApiException) as exc:
            # A read the server kept asking to repeat, past the deadline: its last answer, as asked.
            answer = getattr(exc if isinstance(exc, ApiException) else exc.__cause__, "answer", None)
            if answer is None:
                raise
            return answer

    def _raw_once(self, method, url_path, body, header_params, request_timeout, raise_for_status, decode=True,
                  repeat_asked=False):
        client = self.api_client
        transport = self._transport()
        if transport is not None:
            status, reason, resp_headers, data = transport.request(method, url_path, body, header_params, request_timeout)
        elif hasattr(client, "param_serialize"):
            # OpenAPI generator >= 7 layout (kubernetes >= 35)
            request = client.param_serialize(method, url_path, header_params=header_params, body=body, auth_settings=["BearerToken"])
            response = client.call_api(*request, _request_timeout=request_timeout)
            data = response.read()
            status, reason, resp_headers = response.status, response.reason, response.headers
        else:
            # Older layout: call_api(resource_path, method, ...); non-2xx raise in the REST layer.
            try:
                response = client.call_api(
                    url_path, method, query_params=[], header_params=header_params, body=body, auth_settings=["BearerToken"],
                    _return_http_data_only=True, _preload_content=False, _request_timeout=request_timeout)
            except ApiException as exc:
                if raise_for_status or not exc.status:
                    raise
                ctype = _header(exc.headers, "Content-Type")
                return exc.status, _decode_body(exc.body.encode("utf-8") if isinstance(exc.body, str) else exc.body, ctype)
            data = response.data
            status, reason, resp_headers = response.status, response.reason, response.headers
        if not decode and 200 <= status <= 299:
            return status, data.encode("utf-8") if isinstance(data, str) else data
        content_type = _header(resp_headers, "Content-Type")
        decoded = _decode_body(data, content_type)
        repeat = repeat_asked and status in _REPEAT_STATUSES and retry_after_header(resp_headers) is not None
        if (raise_for_status or repeat) and not 200 <= status <= 299:
            error = ApiException(status=status, reason=reason)
            error.body = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
            error.headers = resp_headers
            if repeat:
                error.answer = (status, decoded)
            raise error
        return status, decoded

    @property
    def connection_per_thread(self):
        """Whether ``raw`` keeps a connection of its own for each calling thread (the lean transport), so any number
        of threads keep theirs; else it shares the SDK's pool of ``CONNECTION_POOL_MAXSIZE`` connections."""
        return self._transport() is not None

    def _transport(self):
        """The lean request path of ``raw`` (``transport.Transport``) for a real SDK client, built once; ``None`` when
        the SDK's own path is needed (a proxy, an SDK without ``param_serialize``, a stand-in client)."""
        if self._lean is _UNSET:
            with self._lock:
                if self._lean is _UNSET:
                    client = self.api_client
                    lean = None
                    if ApiClient is not None and isinstance(client, ApiClient) and hasattr(client, "param_serialize"):
                        lean = Transport.for_configuration(client.configuration, client.default_headers,
                                                           client.sanitize_for_serialization)
                    self._lean = lean
        return self._lean

    def server_version(self):
        """The API server's ``/version`` answer as a dict (fetched once)."""
        if self._version is None:
            _status, data = self.raw("GET", "/version")
            if not isinstance(data, dict):
                raise AdharError("Unexpected /version answer from {0}: {1!r}".format(self.host, data)[:500])
            self._version = data
        return self._version

    def dynamic(self, cache_file=None):
        """The ``kubernetes.dynamic.DynamicClient`` for this connection, built on first use (discovery is expensive)."""
        _require_sdk()
        with self._lock:
            if self._dynamic is None:
                from kubernetes.dynamic import DynamicClient

                def build():
                    return DynamicClient(self.api_client, cache_file=cache_file)

                build.__qualname__ = "API discovery"
                self._dynamic = self._retry(build)
            return self._dynamic
