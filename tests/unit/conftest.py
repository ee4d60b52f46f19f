# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest setup for the unit tests.

Makes ``ansible_collections.adhar.platform`` importable without installing
the collection:

* when the checkout already lives at ``.../ansible_collections/adhar/platform``
  (as under ``ansible-test``), the directory above ``ansible_collections`` is
  put first on ``sys.path``;
* otherwise a temporary directory with
  ``ansible_collections/adhar/platform -> <repo root>`` (a symlink) is made
  and put first on ``sys.path``; it is removed at exit.

This happens when pytest imports this file, before any test module is
imported.  ``pytest tests/unit`` from the repository root is enough.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

COLLECTION_NAMESPACE = "adhar"
COLLECTION_NAME = "platform"


def _collection_base(root):
    """Directory holding ``ansible_collections`` if ``root`` sits in such a tree, else ``None``."""
    if root.name == COLLECTION_NAME and root.parent.name == COLLECTION_NAMESPACE and root.parent.parent.name == "ansible_collections":
        return root.parent.parent.parent
    return None


def _make_importable():
    here = Path(os.path.abspath(__file__))
    root = here.parents[2]
    for candidate in (root, root.resolve()):
        base = _collection_base(candidate)
        if base is not None:
            if str(base) not in sys.path:
                sys.path.insert(0, str(base))
            return str(base)
    tmp = tempfile.mkdtemp(prefix="adhar-platform-units-")
    ns_dir = os.path.join(tmp, "ansible_collections", COLLECTION_NAMESPACE)
    os.makedirs(ns_dir)
    link = os.path.join(ns_dir, COLLECTION_NAME)
    os.symlink(str(root.resolve()), link)

    def cleanup():
        # Remove the symlink first so nothing can ever follow it into the repo.
        with contextlib.suppress(OSError):
            os.unlink(link)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    sys.path.insert(0, tmp)
    return tmp


COLLECTIONS_BASE = _make_importable()


# -- fixtures -----------------------------------------------------------------


def _assert_mirrors(spec, doc):
    """An argument spec and the ``options`` of its doc fragment agree option for option (suboptions too)."""
    assert sorted(doc) == sorted(spec)
    for name, opt in spec.items():
        entry = doc[name]
        assert entry.get("type", "str") == opt.get("type", "str"), name
        assert entry.get("default") == opt.get("default"), name
        assert entry.get("required", False) == opt.get("required", False), name
        assert entry.get("choices") == opt.get("choices"), name
        assert entry.get("elements") == opt.get("elements"), name
        assert sorted(entry.get("aliases") or []) == sorted(opt.get("aliases") or []), name
        assert entry.get("description"), name
        if "options" in opt:
            _assert_mirrors(opt["options"], entry["suboptions"])


@pytest.fixture
def assert_fragment_mirrors():
    """``assert_fragment_mirrors(spec, doc_options)``: see ``_assert_mirrors``."""
    return _assert_mirrors


K8S_ENV_VARS = (
    "K8S_AUTH_KUBECONFIG",
    "K8S_AUTH_CONTEXT",
    "K8S_AUTH_HOST",
    "K8S_AUTH_API_KEY",
    "K8S_AUTH_VERIFY_SSL",
    "K8S_AUTH_SSL_CA_CERT",
    "K8S_AUTH_CERT_FILE",
    "K8S_AUTH_KEY_FILE",
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
)


@pytest.fixture
def clean_k8s_env(monkeypatch, tmp_path):
    """No Kubernetes connection settings from the real environment; HOME is an empty temp dir."""
    for var in K8S_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@contextlib.contextmanager
def _patched_module_args(args):
    from ansible.module_utils import basic

    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core >= 2.19
    except ImportError:
        patch_module_args = None
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    from unittest import mock

    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
    with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
        yield


@pytest.fixture
def module_args():
    """Call ``module_args({...})`` to set the args the next ``AnsibleModule`` reads."""
    with contextlib.ExitStack() as stack:

        def set_args(args=None):
            stack.enter_context(_patched_module_args(dict(args or {})))

        yield set_args


@pytest.fixture
def module_result(capsys):
    """Call ``module_result(fn)``: runs ``fn()``, expects it to exit the module, returns ``(rc, result)``."""

    def run(fn):
        with pytest.raises(SystemExit) as info:
            fn()
        out = capsys.readouterr().out
        return info.value.code, json.loads(out)

    return run
