# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one exception type and the module wrapper.

``AdharModule`` wraps ``AnsibleModule`` by composition: it owns the
``AnsibleModule`` and exposes the few things modules need, plus the error
handling every module shares (``fail_from_exception``, ``run``).

This file must stay cheap to import: modules that never talk to Kubernetes
use it too.  So the Kubernetes SDK is not imported here.  An ``ApiException``
is recognised through ``sys.modules`` (an instance can only exist if the SDK
has been imported already), and ``require_k8s()`` imports the SDK on demand.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import sys
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC, K8S_AUTH_BOUNDS

# Keys of fail_json that AdharError details must not overwrite.
_RESERVED_RESULT_KEYS = frozenset(("msg", "failed", "exception", "invocation"))

# Keys of a kubeconfig ``users[].user`` entry (at any depth) whose string
# values are credentials.  Certificates are public and are not listed.
_KUBECONFIG_SECRET_KEYS = frozenset((
    "token",
    "password",
    "client-key-data",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
    "secret",
))


class AdharError(Exception):
    """The collection's error type.

    ``msg`` is the one-line message shown to the user; keyword ``details``
    become extra keys of the failed result (``fail_json(msg=..., **details)``);
    ``cause`` (keyword) is the exception that led to this one, if any.

    ``raise AdharError(...) from exc`` also works: ``cause`` defaults to
    ``__cause__``.
    """

    def __init__(self, msg, **details):
        cause = details.pop("cause", None)
        super().__init__(msg)
        self.msg = str(msg)
        self.details = details
        self._cause = cause

    @property
    def cause(self):
        return self._cause if self._cause is not None else self.__cause__

    def __str__(self):
        return self.msg


# The Python libraries the modules import, by their pip names, with the lowest version the collection supports:
# the lower bounds of requirements.txt (tests/unit/plugins/module_utils/test_core.py keeps the two equal).
MIN_LIBRARY_VERSIONS = {
    "kubernetes": "28.1.0",
    "cryptography": "41.0.0",
    "PyYAML": "6.0.1",
    "requests": "2.31.0",
    "boto3": "1.34.0",
    "botocore": "1.34.0",
    "google-auth": "2.23.0",
    "supervisor": "4.2",
}
# Import name -> pip name, for the versions every failure reports (only libraries the module has imported).
_LIBRARY_MODULES = (
    ("kubernetes", "kubernetes"),
    ("cryptography", "cryptography"),
    ("yaml", "PyYAML"),
    ("requests", "requests"),
    ("boto3", "boto3"),
    ("botocore", "botocore"),
    ("google.auth", "google-auth"),
    ("supervisor", "supervisor"),
)
_VERSION_CACHE = {}


def library_version(distribution):
    """The installed version of the pip package ``distribution``, or None when it is not installed."""
    if distribution not in _VERSION_CACHE:
        from importlib import metadata

        try:
            _VERSION_CACHE[distribution] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            _VERSION_CACHE[distribution] = None
    return _VERSION_CACHE[distribution]


def _version_key(text):
    """``"2.23.0rc1"`` -> ``(2, 23, 0)``: the leading numeric release segments."""
    key = []
    for part in str(text).split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        key.append(int(digits))
        if len(digits) != len(part):
            break
    while key and key[-1] == 0:
        key.pop()
    return tuple(key)


def check_library(distribution, import_error=None, purpose=None, minimum=None):
    """Raise one ``AdharError`` when a library is missing, cannot be imported or is older than needed.

    ``import_error`` is the ``ImportError`` a guarded import stored (None: the import worked); ``minimum``
    defaults to ``MIN_LIBRARY_VERSIONS``.  The message names the library, the version found, the version needed,
    ``purpose`` (``"to talk to the Kubernetes API"``) and the Python interpreter; the failed result carries
    ``library``, ``library_version`` (None when not installed) and ``library_required``, and ``missing`` when the
    library cannot be imported.  Returns the version found.
    """
    minimum = minimum or MIN_LIBRARY_VERSIONS.get(distribution)
    found = library_version(distribution)
    needed = "%s>=%s" % (distribution, minimum) if minimum else distribution
    why = ", %s" % purpose if purpose else ""
    problem = None
    if import_error is not None and found is None:
        problem = "is not installed for %s (needed: %s%s); install it with pip install '%s'" % (
            sys.executable, needed, why, needed)
    elif import_error is not None:
        problem = "%s is installed for %s but cannot be imported (needed: %s%s): %s" % (
            found, sys.executable, needed, why, import_error)
    elif found is not None and minimum and _version_key(found) < _version_key(minimum):
        problem = "%s is too old for %s (needed: %s%s); upgrade it with pip install --upgrade '%s'" % (
            found, sys.executable, needed, why, needed)
    if problem is None:
        return found
    details = {"library": distribution, "library_version": found, "library_required": ">=%s" % minimum if minimum else "any"}
    if import_error is not None:
        details["missing"] = distribution
        if isinstance(import_error, BaseException):
            details["cause"] = import_error
    raise AdharError("Python library %s %s" % (distribution, problem), **details)


def library_versions():
    """``{pip name: version}`` of the libraries of ``MIN_LIBRARY_VERSIONS`` this process has imported."""
    return {dist: library_version(dist) for name, dist in _LIBRARY_MODULES if name in sys.modules}


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP turned into an exception (like SIGINT's KeyboardInterrupt) by ``AdharModule.run``.

    It is not an ``Exception``, so ``except Exception`` handlers do not swallow it; ``finally`` blocks and context
    managers run (scratch files removed, a backup left without its manifest, locks released).
    """

    def __init__(self, signum):
        self.signal_name = signal.Signals(signum).name
        super().__init__("interrupted by %s" % self.signal_name)


# Signals that end a module run cleanly (SIGINT already raises KeyboardInterrupt).
INTERRUPT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise_interrupted(signum, frame):
    # the unwind runs once: a second signal while cleaning up is ignored, so the cleanup completes
    for sig in INTERRUPT_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


def _api_exception_types():
    """ApiException classes of the Kubernetes SDK, if the SDK is imported."""
    types = []
    for name in ("kubernetes.client.exceptions", "kubernetes.client.rest"):
        mod = sys.modules.get(name)
        cls = getattr(mod, "ApiException", None) if mod is not None else None
        if isinstance(cls, type) and cls not in types:
            types.append(cls)
    return tuple(types)


def is_api_exception(exc):
    """True if ``exc`` is a ``kubernetes.client.exceptions.ApiException``."""
    types = _api_exception_types()
    return bool(types) and isinstance(exc, types)


def _format_traceback(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def api_exception_details(exc):
    """Return ``(message, details)`` for a Kubernetes ``ApiException``.

    The API server answers errors with a ``Status`` object; its ``message``
    is what a user wants to read.  ``details`` holds ``status``, ``reason``
    and, when the body is a ``Status``, ``api_reason`` and ``api_details``.
    """
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    message = None
    details = {"status": status, "reason": reason}
    parsed = None
    if body:
        try:
            parsed = json.loads(body)
        except (TypeError, ValueError):
            parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("message")
        if parsed.get("reason"):
            details["api_reason"] = parsed["reason"]
        if parsed.get("details"):
            details["api_details"] = parsed["details"]
    elif body:
        message = body.strip()[:2000]
    if not message:
        message = reason or "no message"
    return message, details


def _collect_secrets(value, found, secret=False):
    """Collect string values under secret-looking keys of a nested structure."""
    if isinstance(value, dict):
        for key, sub in value.items():
            is_secret = secret or str(key).lower() in _KUBECONFIG_SECRET_KEYS
            _collect_secrets(sub, found, is_secret)
    elif isinstance(value, (list, tuple)):
        for sub in value:
            _collect_secrets(sub, found, secret)
    elif secret and isinstance(value, str) and value:
        found.add(value)


def kubeconfig_secrets(kubeconfig):
    """Return the credential strings of a kubeconfig given as a dict.

    Looks at every ``users[].user`` entry: tokens, passwords, client key data,
    auth-provider secrets, and the values of an exec plugin's ``env`` list.
    """
    found = set()
    if not isinstance(kubeconfig, dict):
        return found
    for entry in kubeconfig.get("users") or []:
        if not isinstance(entry, dict):
            continue
        user = entry.get("user")
        if not isinstance(user, dict):
            continue
        _collect_secrets(user, found)
        exec_cfg = user.get("exec")
        if isinstance(exec_cfg, dict):
            for env in exec_cfg.get("env") or []:
                if isinstance(env, dict) and isinstance(env.get("value"), str) and env["value"]:
                    found.add(env["value"])
    return found


def file_problem(path):
    """Why ``path`` cannot be read as a file (``"is a directory"``, ``"does not exist"``, ...), or ``None``."""
    if os.path.isfile(path):
        return None if os.access(path, os.R_OK) else "is not readable by this user"
    if os.path.isdir(path):
        return "is a directory, not a file"
    if os.path.lexists(path):
        return "is a broken symbolic link" if not os.path.exists(path) else "is not a regular file"
    parent = os.path.dirname(path)
    while parent and not os.path.lexists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if parent and os.path.lexists(parent) and not os.path.isdir(parent):
        return "cannot exist: {0} is not a directory".format(parent)
    return "does not exist"


def _option_value(params, option):
    """The value of ``option`` in ``params``; dotted names reach into dict suboptions (``retention.keep_last``)."""
    value = params
    for part in option.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _number_text(value):
    return "{0:g}".format(value) if isinstance(value, float) else str(value)


# glibc's mallopt parameter for the number of malloc arenas (malloc.h M_ARENA_MAX).
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
# Blocks from this size on get pages of their own (glibc's initial threshold, kept fixed).
MMAP_THRESHOLD = 128 * 1024


def limit_malloc_arenas(arenas=2):
    """Make glibc's malloc share ``arenas`` arenas among all threads (it makes up to 8 per CPU by default) and keep
    blocks of ``MMAP_THRESHOLD`` bytes or more in pages of their own; returns whether it was set.  With many reader
    and request threads, each one's own arena keeps the memory its thread freed, and the peak RSS of a restore or
    backup of tens of thousands of objects grows by hundreds of MB.  glibc also raises its threshold to the size of
    each big block freed (a manifest, a pack, a page of objects), after which such blocks come from the heap, where
    the small objects kept between them stop the heap from shrinking: fixed, they go back to the system when freed.
    Applies to arenas made from now on; a no-op where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_ARENA_MAX, int(arenas))) and bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def check_bounds(params, bounds):
    """Raise ``AdharError`` naming the option and the value for the first number outside its bound.

    ``bounds`` maps option names (dotted for suboptions) to ``args.at_least``/``above`` bounds;
    unset options (``None``) are not checked.  Non-finite numbers (NaN, infinity) are refused too.
    """
    for option in sorted(bounds):
        bound = bounds[option]
        value = _option_value(params, option)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AdharError("{0} must be a number, got {1!r}".format(option, value), option=option, value=value)
        if isinstance(value, float) and not math.isfinite(value):
            raise AdharError("{0} must be a finite number, got {1}".format(option, value), option=option, value=value)
        minimum, maximum = bound.get("min"), bound.get("max")
        if minimum is not None and (value <= minimum if bound.get("exclusive") else value < minimum):
            raise AdharError("{0} must be {1} {2}, got {3}".format(
                option, "greater than" if bound.get("exclusive") else "at least", _number_text(minimum),
                _number_text(value)), option=option, value=value)
        if maximum is not None and value > maximum:
            raise AdharError("{0} must be at most {1}, got {2}".format(option, _number_text(maximum), _number_text(value)),
                             option=option, value=value)


class AdharModule:
    """``AnsibleModule`` plus the shared behaviour of adhar.platform modules.

    ``k8s_auth=True`` adds the Kubernetes connection options
    (``K8S_AUTH_ARG_SPEC``); the module's own spec wins on a name clash.
    ``bounds`` declares the allowed range of numeric options (``check_bounds``;
    the connection options' bounds come with ``k8s_auth``); a value outside
    fails the module before it does anything.
    Other keyword arguments (``mutually_exclusive``, ``required_if``, ...)
    go to ``AnsibleModule`` unchanged.
    """

    def __init__(self, argument_spec, *, k8s_auth=False, supports_check_mode=True, bounds=None, **ansible_module_kwargs):
        spec = {}
        if k8s_auth:
            spec.update(copy.deepcopy(K8S_AUTH_ARG_SPEC))
        spec.update(argument_spec or {})
        self.k8s_auth = k8s_auth
        self._module = AnsibleModule(
            argument_spec=spec,
            supports_check_mode=supports_check_mode,
            **ansible_module_kwargs
        )
        self._redact_secrets()
        self.bounds = dict(K8S_AUTH_BOUNDS) if k8s_auth else {}
        self.bounds.update(bounds or {})
        try:
            check_bounds(self._module.params, self.bounds)
        except AdharError as exc:
            self.fail_from_exception(exc)

    # -- proxies ------------------------------------------------------------

    @property
    def ansible(self):
        """The wrapped ``AnsibleModule``."""
        return self._module

    @property
    def params(self):
        return self._module.params

    @property
    def check_mode(self):
        return bool(self._module.check_mode)

    @property
    def diff_mode(self):
        return bool(getattr(self._module, "_diff", False))

    @property
    def no_log_values(self):
        return self._module.no_log_values

    def warn(self, msg):
        self._module.warn(msg)

    def debug(self, msg):
        self._module.debug(msg)

    def exit_json(self, **kwargs):
        self._module.exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs.setdefault("library_versions", library_versions())
        self._module.fail_json(msg=msg, **kwargs)

    # -- secrets ------------------------------------------------------------

    def _redact_secrets(self):
        params = self._module.params
        api_key = params.get("api_key")
        if isinstance(api_key, str) and api_key:
            self._module.no_log_values.add(api_key)
        self._module.no_log_values.update(kubeconfig_secrets(params.get("kubeconfig")))

    # -- errors -------------------------------------------------------------

    def fail_from_exception(self, exc):
        """Fail the module with one clear message built from ``exc``."""
        if isinstance(exc, AdharError):
            result = {k: v for k, v in exc.details.items() if k not in _RESERVED_RESULT_KEYS}
            source = exc.cause if exc.cause is not None else exc
            self.fail_json(exc.msg, exception=_format_traceback(source), **result)
            return
        if is_api_exception(exc):
            message, details = api_exception_details(exc)
            msg = "Kubernetes API error {0} ({1}): {2}".format(details["status"], details["reason"], message)
            self.fail_json(msg, exception=_format_traceback(exc), **details)
            return
        msg = "{0}: {1}".format(type(exc).__name__, exc) if str(exc) else type(exc).__name__
        self.fail_json(msg, exception=_format_traceback(exc), error_type=type(exc).__name__)

    def require(self, name, import_error, reason=None):
        """Fail with one message unless the library ``name`` (its pip name) is importable and recent enough.

        ``import_error`` is the exception stored by a guarded ``try: import ... except ImportError as e`` (None:
        the import worked); ``reason`` says what the library is for (``"to read certificate expiry dates"``).
        The versions needed are ``MIN_LIBRARY_VERSIONS`` (see ``check_library``).
        """
        try:
            check_library(name, import_error, purpose=reason)
        except AdharError as exc:
            self.fail_from_exception(exc)

    def require_k8s(self, reason="to talk to the Kubernetes API"):
        """Fail unless the ``kubernetes`` Python SDK can be imported and is recent enough."""
        from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import KUBERNETES_IMPORT_ERROR

        self.require("kubernetes", KUBERNETES_IMPORT_ERROR, reason=reason)

    def run(self, fn):
        """Call ``fn(self)`` and exit with the dict it returns.

        ``changed`` defaults to ``False``.  Any exception fails the module
        through ``fail_from_exception`` (AdharError and ApiException give a
        clean message; anything else also names its type).  SIGTERM and SIGHUP
        raise ``Interrupted`` in the main thread, so every ``finally`` runs,
        and the module fails with "interrupted by SIGTERM" (SIGINT alike).
        """
        previous = {}
        for sig in INTERRUPT_SIGNALS:
            try:
                previous[sig] = signal.signal(sig, _raise_interrupted)
            except (ValueError, OSError):  # not the main thread: leave the default
                pass
        try:
            result = fn(self)
        except KeyboardInterrupt as exc:
            name = getattr(exc, "signal_name", "SIGINT")
            self.fail_json("interrupted by %s" % name, signal=name, exception=_format_traceback(exc))
            return
        except Exception as exc:
            self.fail_from_exception(exc)
            return
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        result = dict(result or {})
        result.setdefault("changed", False)
        self._module.exit_json(**result)
