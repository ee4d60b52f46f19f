# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules of the collection.

Every spec here is mirrored 1:1 by a documentation fragment
(``K8S_AUTH_ARG_SPEC`` <-> ``plugins/doc_fragments/k8s_auth.py``); a unit test
keeps them in step.  Modules never edit these dicts: ``AdharModule`` merges a
deep copy.

Only the standard library and ``ansible.module_utils`` are imported here, so
this file is cheap to import.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

# Option name -> environment variable read when the option is not given.
# ``K8sClient`` uses the same table when the library is used directly
# (without AnsibleModule and its ``env_fallback``).
K8S_AUTH_ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
}

DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_API_RETRY_DEADLINE = 120.0

# Most parallel workers any option takes (threads of one task).
MAX_WORKERS = 256


def at_least(minimum, maximum=None):
    """Bound of a numeric option: ``minimum <= value`` (and ``<= maximum``); for ``AdharModule(bounds=...)``."""
    return {"min": minimum, "max": maximum, "exclusive": False}


def above(minimum, maximum=None):
    """Bound of a numeric option: ``minimum < value`` (and ``<= maximum``); for ``AdharModule(bounds=...)``."""
    return {"min": minimum, "max": maximum, "exclusive": True}


# The numeric K8S_AUTH_ARG_SPEC options: 0 means "no limit" and "no retries" (see the doc fragment).
K8S_AUTH_BOUNDS = {
    "request_timeout": at_least(0),
    "api_retry_deadline": at_least(0),
}

K8S_AUTH_ARG_SPEC = {
    "kubeconfig": {
        "type": "raw",
        "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"]),
    },
    "context": {
        "type": "str",
        "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"]),
    },
    "host": {
        "type": "str",
        "fallback": (env_fallback, ["K8S_AUTH_HOST"]),
    },
    "api_key": {
        "type": "str",
        "no_log": True,
        "fallback": (env_fallback, ["K8S_AUTH_API_KEY"]),
    },
    "validate_certs": {
        "type": "bool",
        "aliases": ["verify_ssl"],
        "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"]),
    },
    "ca_cert": {
        "type": "path",
        "aliases": ["ssl_ca_cert"],
        "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"]),
    },
    "client_cert": {
        "type": "path",
        "aliases": ["cert_file"],
        "fallback": (env_fallback, ["K8S_AUTH_CERT_FILE"]),
    },
    "client_key": {
        "type": "path",
        "aliases": ["key_file"],
        # A path to a key, not the key itself.
        "no_log": False,
        "fallback": (env_fallback, ["K8S_AUTH_KEY_FILE"]),
    },
    "request_timeout": {
        "type": "float",
        "default": DEFAULT_REQUEST_TIMEOUT,
    },
    "api_retry_deadline": {
        "type": "float",
        "default": DEFAULT_API_RETRY_DEADLINE,
    },
}


def k8s_auth_suboptions(keys=None, without=("default", "fallback")):
    """The Kubernetes connection options as suboptions of a per-cluster dict (``source``, ``members[]``...): the
    entries of K8S_AUTH_ARG_SPEC (``keys`` of them, default all) without ``without`` (their defaults and environment
    fallbacks belong to the task-level options, which an unset suboption falls back to)."""
    return {name: {k: v for k, v in K8S_AUTH_ARG_SPEC[name].items() if k not in without}
            for name in (keys or K8S_AUTH_ARG_SPEC)}


def k8s_auth_params(params):
    """Return the K8S_AUTH_ARG_SPEC options found in ``params``.

    Every key of the spec is present in the result, so callers can index
    without ``.get``: an absent (or ``None``) option gets the spec's default,
    which is ``None`` for all but the two timeouts.  Aliases are not resolved
    here: AnsibleModule has already folded them into the canonical names.
    Environment variables are not read here either (see ``K8S_AUTH_ENV``).
    """
    params = params or {}
    result = {}
    for name, spec in K8S_AUTH_ARG_SPEC.items():
        value = params.get(name)
        result[name] = spec.get("default") if value is None else value
    return result


# Retention of the archives a module writes (adhar.platform.backup, adhar.platform.db export) <->
# plugins/doc_fragments/retention.py.  ``max_age`` is ``raw``: an integer is days, a string is a duration
# (``archive.catalog.parse_duration``), so neither form is converted (or warned about) on the way in.
RETENTION_ARG_SPEC = {
    "retention": {
        "type": "dict",
        "options": {
            "keep_last": {"type": "int", "no_log": False},
            "max_age": {"type": "raw"},
        },
    },
}


# Waiting for what a task did <-> plugins/doc_fragments/wait.py (``adhar.platform.wait`` documents both options,
# ``adhar.platform.wait.timeout`` only ``wait_timeout``).  ``wait_timeout`` is a float number of seconds in every
# module (an integer or a numeric string is accepted as before); each module documents what it waits for and its
# defaults, and bounds it with WAIT_TIMEOUT_BOUNDS.
DEFAULT_WAIT_TIMEOUT = 300.0
WAIT_TIMEOUT_BOUNDS = {"wait_timeout": above(0)}


def wait_arg_spec(wait_timeout=DEFAULT_WAIT_TIMEOUT, wait=None):
    """``wait_timeout`` (float seconds, default ``wait_timeout``) and, unless ``wait`` is ``None``, the bool ``wait``
    with ``wait`` as its default."""
    spec = {"wait_timeout": {"type": "float", "default": float(wait_timeout)}}
    if wait is not None:
        spec["wait"] = {"type": "bool", "default": bool(wait)}
    return spec


# Operations of one task run at the same time <-> plugins/doc_fragments/workers.py: ``workers`` is an int from 1 to
# MAX_WORKERS in every module; each module documents what runs in parallel and its default, and bounds it with
# WORKERS_BOUNDS.
WORKERS_BOUNDS = {"workers": at_least(1, MAX_WORKERS)}


def workers_arg_spec(default):
    """``workers`` (int, default ``default``)."""
    return {"workers": {"type": "int", "default": int(default)}}
