# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm releases through the toolchain's ``helm`` binary.

Pure parts (unit tested without a cluster):

* values: ``split_key`` / ``set_dotted`` (Helm ``--set`` key syntax: ``a.b``,
  ``a\\.b`` for a dot inside a key, ``a[0].b`` for list items), ``helm_typed``
  (the typing ``--set`` applies to strings), ``deep_merge`` (values-file
  semantics), ``desired_values``;
* charts: ``resolve_chart`` (local directory or ``.tgz``, ``repo/name``,
  ``oci://``, a name with ``chart_repo_url``, a chart pinned by the
  toolchain), ``chart_digest``;
* change detection: ``release_changes`` compares what is deployed (latest
  history entry, user-supplied values) with what is wanted;
* ``workloads`` picks the Deployments, StatefulSets and DaemonSets out of a
  release manifest; ``rollback_revision`` the revision to go back to.

``Helm`` runs the binary (``--kubeconfig``/``--kube-context`` and the
``HELM_KUBE*`` variables from the shared connection options, a kubeconfig
given as a dict written to a 0600 file in a private temporary directory);
``ReleaseTask`` is what the ``helm_release`` module does.

Values never go on a command line: the computed values are written to a
0600 file in that directory and passed with ``--values``.  Messages of our
own never contain values (only keys); secret values (``secret_values``) are
``no_log`` and masked by Ansible wherever they would appear in the result.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import shlex
import subprocess
import tarfile
import time

from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump, yaml_load, yaml_load_all

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.args import k8s_auth_params
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import ScratchDir, memfd_path, memfd_supported

PENDING_STATUSES = ("pending-install", "pending-upgrade", "pending-rollback")
# Marks the chart digest of a local chart in a release's description (``helm history`` shows it).
DIGEST_PREFIX = "adhar.platform chart sha256:"
# Largest list index a --set key may use (Helm has the same cap).
MAX_INDEX = 65536
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_NOT_FOUND = re.compile(r"release: not found")
WORKLOAD_KINDS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


def _require_yaml():
    if not HAS_YAML:  # pragma: no cover - PyYAML is a requirement of ansible-core
        raise AdharError("PyYAML is needed (it comes with ansible-core)")


# ---------------------------------------------------------------- values


def split_key(key):
    """Split a ``--set`` style key into its path: names (str) and list indexes (int).

    ``a.b`` -> ``['a', 'b']``; ``a\\.b`` -> ``['a.b']``; ``a[0].b`` -> ``['a', 0, 'b']``.
    Raises ``AdharError`` naming the key (never a value) when it is malformed.
    """
    if not isinstance(key, str) or not key:
        raise AdharError("values key {0!r}: a key must be a non-empty string".format(key))
    parts, name, i, n = [], [], 0, len(key)

    def bad(why):
        return AdharError("values key {0!r}: {1}".format(key, why), key=key)

    while i < n:
        ch = key[i]
        if ch == "\\" and i + 1 < n:
            name.append(key[i + 1])
            i += 2
        elif ch == "[":
            end = key.find("]", i)
            index = key[i + 1:end] if end > i else ""
            if not index.isdigit():
                raise bad("a list index must be [<digits>]")
            if name:
                parts.append("".join(name))
                name = []
            elif not parts:
                raise bad("a list index needs a name before it")
            if int(index) > MAX_INDEX:
                raise bad("list index {0} is larger than {1}".format(index, MAX_INDEX))
            parts.append(int(index))
            i = end + 1
            if i < n and key[i] not in ".[":
                raise bad("expected '.' or '[' after ']'")
        elif ch == ".":
            if name:
                parts.append("".join(name))
                name = []
            elif not (parts and key[i - 1] == "]"):
                raise bad("empty name between dots (escape a literal dot as '\\.')")
            i += 1
            if i == n:
                raise bad("ends with a dot")
        else:
            name.append(ch)
            i += 1
    if name:
        parts.append("".join(name))
    return parts


def helm_typed(value):
    """Type a string the way ``helm --set`` does; other values are returned unchanged.

    ``true``/``false`` (any case) become booleans, ``null`` None, ``0`` and
    whole numbers not starting with ``0`` integers (64 bit); everything else
    (``1.5``, ``007``, ``1e3``) stays a string.  Use ``helm --set-string``
    semantics by passing a non-string through ``values`` instead.
    """
    if not isinstance(value, str):
        return value
    low = value.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low == "null":
        return None
    if value == "0":
        return 0
    if value and value[0] != "0" and re.match(r"^[+-]?[0-9]+$", value):
        number = int(value)
        if _INT64[0] <= number <= _INT64[1]:
            return number
    return value


def set_dotted(tree, key, value):
    """Set ``value`` at the ``--set`` style ``key`` in the nested dict ``tree`` (in place); returns ``tree``.

    Missing maps and lists are created (lists padded with None); a scalar in
    the way is replaced, as ``helm --set`` does.
    """
    parts = split_key(key)
    node = tree
    for pos, part in enumerate(parts):
        last = pos == len(parts) - 1
        nxt = None if last else ([] if isinstance(parts[pos + 1], int) else {})
        if isinstance(part, int):
            while len(node) <= part:
                node.append(None)
            if last:
                node[part] = value
            elif not isinstance(node[part], type(nxt)):
                node[part] = nxt
            node = node if last else node[part]
        else:
            if last:
                node[part] = value
            elif not isinstance(node.get(part), type(nxt)):
                node[part] = nxt
            node = node if last else node[part]
    return tree


def deep_merge(base, override):
    """``override`` merged into a copy of ``base``: maps recursively, anything else replaced (values-file semantics)."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def desired_values(documents=(), values=None, set_values=None, secret_values=None):
    """The user-supplied values of a release.

    ``documents`` (parsed values files, in order), then ``values`` (a nested
    dict) are deep-merged; then each ``set_values`` entry (dotted key ->
    value, typed like ``--set``), then each ``secret_values`` entry, is set on
    top.  Later entries win.
    """
    out = {}
    for doc in list(documents) + [values or {}]:
        out = deep_merge(out, doc or {})
    for pairs in (set_values, secret_values):
        for key, value in (pairs or {}).items():
            set_dotted(out, key, helm_typed(value))
    return normalize(out)


def normalize(values):
    """A JSON round trip: the form ``helm get values -o json`` gives back (tuples -> lists, keys -> str)."""
    return json.loads(json.dumps(values if values is not None else {}, sort_keys=True, default=str))


def _yaml_kind(value):
    """What a parsed YAML document is, with its article (``a list``, ``a string``, ``a number``)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a {0}".format(type(value).__name__)


def load_values_file(path):
    """Parse one values file (YAML or JSON); an empty file is ``{}``."""
    _require_yaml()
    try:
        with open(path) as f:
            doc = yaml_load(f)
    except OSError as exc:
        raise AdharError("values_files: cannot read {0}: {1}".format(path, exc.strerror or exc), option="values_files") from exc
    except Exception as exc:  # yaml.YAMLError (PyYAML is imported through ansible.module_utils.common.yaml)
        mark = getattr(exc, "problem_mark", None)
        where = " (line {0})".format(mark.line + 1) if mark is not None else ""
        raise AdharError("values_files: {0} is not valid YAML{1}".format(path, where), option="values_files") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise AdharError("values_files: {0} must hold a mapping (key: value), not {1}".format(path, _yaml_kind(doc)),
                         option="values_files")
    return doc


# ---------------------------------------------------------------- charts


class Chart:
    """What to install: ``ref`` (+ ``repo_url``) for the command line; ``name``/``version`` to compare.

    ``local`` charts have their name, version and app version read from
    ``Chart.yaml`` and a ``digest`` of their content.  ``version`` of a remote
    chart is the requested one (None: the repository's latest, not compared).
    """

    def __init__(self, ref, name, version=None, repo_url=None, local=False, app_version=None, digest=None):
        self.ref = ref
        self.name = name
        self.version = version
        self.repo_url = repo_url
        self.local = local
        self.app_version = app_version
        self.digest = digest

    @property
    def label(self):
        return "{0}-{1}".format(self.name, self.version) if self.version else self.name

    def args(self):
        out = [self.ref]
        if self.repo_url:
            out += ["--repo", self.repo_url]
        if self.version and not self.local:
            out += ["--version", self.version]
        return out


def _looks_local(chart):
    return chart.startswith(("/", "./", "../", "~")) or os.path.exists(os.path.expanduser(chart))


def read_chart_metadata(path):
    """``Chart.yaml`` of a chart directory or packaged ``.tgz`` as a dict."""
    _require_yaml()
    try:
        if os.path.isdir(path):
            with open(os.path.join(path, "Chart.yaml")) as f:
                text = f.read()
        else:
            with tarfile.open(path, "r:*") as tar:
                member = next((m for m in tar.getmembers()
                               if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")), None)
                if member is None:
                    raise AdharError("chart: {0} holds no <name>/Chart.yaml".format(path), option="chart")
                text = tar.extractfile(member).read().decode("utf-8")
        meta = yaml_load(text)
    except AdharError:
        raise
    except Exception as exc:  # OSError, tarfile.TarError, UnicodeDecodeError, yaml.YAMLError
        raise AdharError("chart: cannot read the Chart.yaml of {0}: {1}".format(path, exc), option="chart") from exc
    if not isinstance(meta, dict) or not meta.get("name") or not meta.get("version"):
        raise AdharError("chart: the Chart.yaml of {0} has no name or version".format(path), option="chart")
    return meta


def chart_digest(path):
    """SHA-256 of a chart: of the file for a ``.tgz``; of every file's relative path and content for a directory."""
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                h.update(os.path.relpath(full, path).encode("utf-8") + b"\0")
                with open(full, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    else:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def toolchain_chart_path(chart, environ=None):
    """The cached directory of ``chart``, a chart pinned in ``toolchain.CHARTS`` and fetched by ``tools/toolchain``."""
    pinned = toolchain.installable_charts()
    if chart not in pinned:
        why = "is not a chart the toolchain pins"
        if chart in toolchain.CHARTS and toolchain.CHARTS[chart].get("unresolved"):
            why = "cannot be installed from the toolchain cache: the Go module proxy does not serve its dependency " + \
                  ", ".join(toolchain.CHARTS[chart]["unresolved"])
        raise AdharError("chart: {0!r} {1} (installable: {2})".format(chart, why, ", ".join(pinned)), option="chart")
    path = toolchain.chart_dir(chart, environ)
    if not toolchain.chart_ready(chart, environ):
        raise AdharError("chart: {0} is not fetched yet (no {1}); fetch it with `make toolchain` (or `tools/toolchain.py "
                         "charts {0}`)".format(chart, path), option="chart")
    return path


def resolve_chart(chart, repo_url=None, version=None, from_toolchain=False, environ=None):
    """Turn the ``chart``/``chart_repo_url``/``chart_version``/``toolchain_chart`` options into a ``Chart``."""
    chart = (chart or "").strip()
    repo_url = (repo_url or "").strip() or None
    version = str(version).strip() if version not in (None, "") else None
    if not chart:
        raise AdharError("chart: a chart is required for state=present", option="chart")
    if from_toolchain:
        if repo_url:
            raise AdharError("toolchain_chart: a chart from the toolchain cache takes no chart_repo_url", option="toolchain_chart")
        chart = toolchain_chart_path(chart, environ)
    if repo_url:
        if "/" in chart:
            raise AdharError("chart: with chart_repo_url, give the chart's name only (not {0!r})".format(chart), option="chart")
        if repo_url.startswith("oci://"):
            return Chart(repo_url.rstrip("/") + "/" + chart, chart, version)
        return Chart(chart, chart, version, repo_url=repo_url)
    if chart.startswith("oci://"):
        return Chart(chart, chart.rstrip("/").rsplit("/", 1)[-1], version)
    if _looks_local(chart):
        path = os.path.abspath(os.path.expanduser(chart))
        if not os.path.exists(path):
            raise AdharError("chart: no chart at {0}".format(path), option="chart")
        meta = read_chart_metadata(path)
        found = str(meta["version"])
        if version and version != found:
            raise AdharError("chart: {0} is version {1}, not the chart_version {2} asked for".format(path, found, version),
                             option="chart_version")
        return Chart(path, str(meta["name"]), found, local=True, app_version=meta.get("appVersion"), digest=chart_digest(path))
    if chart.count("/") == 1 and all(chart.split("/")):
        return Chart(chart, chart.split("/")[1], version)
    raise AdharError("chart: {0!r} is neither a local chart (directory or .tgz), nor repo/name (a repository helm knows), "
                     "nor oci://...; or give chart_repo_url".format(chart), option="chart")


# ---------------------------------------------------------------- deployed state


def chart_matches(chart_field, chart):
    """True when a history entry's ``chart`` (``<name>-<version>``) is ``chart`` (any version when none is asked for)."""
    if chart.version:
        return chart_field == "{0}-{1}".format(chart.name, chart.version)
    prefix = chart.name + "-"
    return chart_field.startswith(prefix) and re.match(r"^v?[0-9]", chart_field[len(prefix):]) is not None


def split_chart_field(chart_field, name=None):
    """``(name, version)`` from a history entry's ``chart`` field (``name`` helps when known)."""
    if name and chart_field.startswith(name + "-"):
        return name, chart_field[len(name) + 1:]
    m = re.match(r"^(.+?)-(v?[0-9]+\.[0-9]+\.[0-9]+.*)$", chart_field or "")
    return (m.group(1), m.group(2)) if m else (chart_field, None)


def digest_of(description):
    m = re.search(re.escape(DIGEST_PREFIX) + r"([0-9a-f]{64})", description or "")
    return m.group(1) if m else None


def release_changes(latest, deployed_values, chart, values):
    """Why the release must be installed or upgraded; an empty list means it is up to date.

    ``latest`` is the newest ``helm history`` entry (None: no release),
    ``deployed_values`` its user-supplied values.  Reasons name what differs
    (never a value).
    """
    if latest is None:
        return ["not installed"]
    reasons = []
    status = latest.get("status")
    if status != "deployed":
        reasons.append("status is {0}".format(status))
    if not chart_matches(latest.get("chart") or "", chart):
        reasons.append("chart {0} -> {1}".format(latest.get("chart"), chart.label))
    elif chart.digest:
        deployed_digest = digest_of(latest.get("description"))
        if deployed_digest and deployed_digest != chart.digest:
            reasons.append("local chart content changed")
    changed_keys = diff_keys(normalize(deployed_values), normalize(values))
    if changed_keys:
        shown = ", ".join(changed_keys[:10]) + (" and {0} more".format(len(changed_keys) - 10) if len(changed_keys) > 10 else "")
        reasons.append("values changed: " + shown)
    return reasons


_SECTION = re.compile(r"^(?:[A-Z][A-Z -]*[A-Z]):\s*$", re.M)


def computed_section(text):
    """The ``COMPUTED VALUES:`` section of helm's ``--debug`` release output, parsed (None when there is none).

    helm prints it (like ``helm get values --all``) with the same YAML encoder, so the two compare as equals when
    nothing differs; the section ends at the next upper-case heading (``HOOKS:``, ``MANIFEST:``, ``NOTES:``).
    """
    marker = re.search(r"^COMPUTED VALUES:\s*$", text or "", re.M)
    if not marker:
        return None
    rest = text[marker.end():]
    end = _SECTION.search(rest)
    return yaml_load(rest[:end.start()] if end else rest) or {}


def diff_keys(before, after, prefix=""):
    """Dotted keys whose values differ between two values trees (sorted)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            sub = prefix + str(key).replace(".", "\\.")
            if key not in before or key not in after:
                out.append(sub)
            else:
                out.extend(diff_keys(before[key], after[key], sub + "."))
        return out
    return [] if before == after else [prefix.rstrip(".") or "(root)"]


def rollback_revision(history):
    """The newest revision that was deployed successfully (``deployed`` or ``superseded``), or None."""
    good = [h for h in history or [] if h.get("status") in ("deployed", "superseded")]
    return max((int(h["revision"]) for h in good), default=None)


def workloads(manifest, namespace):
    """``[(kind, namespace, name)]`` of the Deployments, StatefulSets and DaemonSets in a release manifest."""
    _require_yaml()
    out = []
    for doc in yaml_load_all(manifest or ""):
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") in WORKLOAD_KINDS and str(doc.get("apiVersion", "")).startswith("apps/"):
            meta = doc.get("metadata") or {}
            item = (doc["kind"], meta.get("namespace") or namespace, meta.get("name"))
            if item[2] and item not in out:
                out.append(item)
    return out


def release_info(name, namespace, chart_field=None, app_version=None, revision=None, status=None, chart_name=None,
                 version=None):
    if chart_field and not version:
        chart_name, version = split_chart_field(chart_field, chart_name)
    return {"name": name, "namespace": namespace, "chart": chart_name, "version": version, "app_version": app_version,
            "revision": int(revision) if revision not in (None, "") else None, "status": status}


def values_diff(name, before, after, before_chart, after_chart):
    """An Ansible diff of the release (chart and user-supplied values) as YAML text."""
    def text(chart, values):
        if chart is None:
            return ""
        return yaml_dump({"chart": chart, "values": values}, sort_keys=True, default_flow_style=False)

    return {"before": text(before_chart, before), "after": text(after_chart, after),
            "before_header": "release {0} ({1})".format(name, "deployed" if before_chart else "not installed"),
            "after_header": "release {0} ({1})".format(name, "wanted" if after_chart else "uninstalled")}


# ---------------------------------------------------------------- connection


def kube_settings(params, workdir):
    """``(args, env)`` for helm from the shared connection options.

    ``kubeconfig`` as a path -> ``--kubeconfig``; as a dict -> a memory-only
    file (``scratch.memfd_path``; on systems without memfd a 0600 file in the
    private ``workdir``), so its credentials never reach a disk; ``host`` without ``context`` and without a
    kubeconfig -> a kubeconfig built from ``host``, ``api_key``, ``ca_cert``,
    ``client_cert``, ``client_key``, ``validate_certs`` (as the Kubernetes
    client does).  Otherwise those options override the kubeconfig through
    helm's ``HELM_KUBE*`` variables (a token is never put on the command line).
    """
    auth = k8s_auth_params(params)
    args, env = [], {}
    kubeconfig, context = auth["kubeconfig"], auth["context"]
    if kubeconfig is None and auth["host"] and context is None:
        kubeconfig = _kubeconfig_from_options(auth)
        context = "adhar"
        auth = dict(auth, host=None, api_key=None, ca_cert=None, client_cert=None, client_key=None, validate_certs=None)
    if isinstance(kubeconfig, dict):
        args += ["--kubeconfig", _secret_file(workdir, "kubeconfig", json.dumps(kubeconfig))]
    elif isinstance(kubeconfig, str) and kubeconfig.strip():
        args += ["--kubeconfig", os.path.expanduser(kubeconfig.strip())]
    elif kubeconfig is not None:
        raise AdharError("kubeconfig must be a path or a dict, not {0}".format(type(kubeconfig).__name__), option="kubeconfig")
    if context:
        args += ["--kube-context", context]
    if auth["client_cert"] or auth["client_key"]:
        raise AdharError("client_cert/client_key together with a kubeconfig or context cannot be passed to helm; "
                         "put them in the kubeconfig, or give host without kubeconfig and context", option="client_cert")
    if auth["host"]:
        env["HELM_KUBEAPISERVER"] = _server(auth["host"])
    if auth["api_key"]:
        env["HELM_KUBETOKEN"] = _token(auth["api_key"])
    if auth["ca_cert"]:
        env["HELM_KUBECAFILE"] = os.path.expanduser(auth["ca_cert"])
    if auth["validate_certs"] is not None:
        env["HELM_KUBEINSECURE_SKIP_TLS_VERIFY"] = "false" if auth["validate_certs"] else "true"
    return args, env


def _server(host):
    host = str(host).strip().rstrip("/")
    return host if "://" in host else "https://" + host


def _token(api_key):
    token = str(api_key).strip()
    return token[7:].strip() if token.lower().startswith("bearer ") else token


def _kubeconfig_from_options(auth):
    cluster = {"server": _server(auth["host"])}
    if auth["ca_cert"]:
        cluster["certificate-authority"] = os.path.expanduser(auth["ca_cert"])
    if auth["validate_certs"] is False:
        cluster["insecure-skip-tls-verify"] = True
    user = {}
    if auth["api_key"]:
        user["token"] = _token(auth["api_key"])
    if auth["client_cert"]:
        user["client-certificate"] = os.path.expanduser(auth["client_cert"])
    if auth["client_key"]:
        user["client-key"] = os.path.expanduser(auth["client_key"])
    return {"apiVersion": "v1", "kind": "Config", "current-context": "adhar",
            "clusters": [{"name": "adhar", "cluster": cluster}], "users": [{"name": "adhar", "user": user}],
            "contexts": [{"name": "adhar", "context": {"cluster": "adhar", "user": "adhar"}}]}


def helm_timeout(seconds):
    """helm's ``--timeout`` for ``wait_timeout`` seconds (default 300): whole seconds, rounded up."""
    return "{0}s".format(int(math.ceil(float(seconds or 300))))


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


MEMFD_PREFIX = "/proc/self/fd/"


def _secret_file(workdir, name, text):
    """Path of a file holding ``text`` for helm: memory-only where the system allows, else 0600 in ``workdir``."""
    if memfd_supported():
        return memfd_path(text, "adhar-helm-" + name)
    path = os.path.join(workdir, name)
    _write_private(path, text)
    return path


def _inherited_fds(argv):
    """Descriptors of the memory-only files named in ``argv`` (helm opens them as /proc/self/fd/<n>)."""
    return tuple(sorted({int(a[len(MEMFD_PREFIX):]) for a in argv if a.startswith(MEMFD_PREFIX) and a[len(MEMFD_PREFIX):].isdigit()}))


def kube_settings_wrote(path, workdir):
    """Whether ``path`` (given to ``--kubeconfig``) is a file ``kube_settings`` made, not the user's."""
    return path.startswith(MEMFD_PREFIX) or os.path.dirname(path) == workdir


def find_helm(bin_dir=None, environ=None):
    """Path of the helm binary: ``bin_dir`` -> ``ADHAR_BIN_DIR`` -> the toolchain cache (``toolchain.resolve_bin_dir``)."""
    directory, source, missing = toolchain.resolve_bin_dir(bin_dir, environ=environ, names=("helm",))
    if missing:
        raise AdharError("helm not found in {0} (from {1}). Fetch it with `tools/toolchain ensure` (or `make toolchain`), "
                         "or point bin_dir / ADHAR_BIN_DIR at a directory that has it".format(directory, source),
                         bin_dir=directory, missing=["helm"])
    return os.path.join(directory, "helm")


# ---------------------------------------------------------------- the binary


class HelmError(AdharError):
    """A helm command failed; ``stderr`` holds helm's own message."""


class Helm:
    """Runs ``helm`` with the connection settings; ``runner`` is ``subprocess.run`` (replaceable in tests)."""

    def __init__(self, binary, kube_args=(), kube_env=None, placeholders=None, runner=subprocess.run, timeout=None):
        self.binary = binary
        self.kube_args = list(kube_args)
        self.env = dict(os.environ)
        self.env.update(kube_env or {})
        self.placeholders = dict(placeholders or {})
        self.runner = runner
        self.timeout = timeout
        self.commands = []

    def shown(self, args):
        """The command as a string for the result: temporary files by their role, no secrets."""
        out = []
        for a in ["helm"] + list(args):
            out.append(self.placeholders.get(a, a))
        return " ".join(shlex.quote(a) for a in out)

    def run(self, args, check=True, record=True):
        argv = [self.binary] + list(args) + self.kube_args
        if record:
            self.commands.append(self.shown(list(args) + self.kube_args))
        proc = run_once(argv, what="helm " + args[0], env=self.env, timeout=self.timeout, text=True,
                        pass_fds=_inherited_fds(argv), error=HelmError, runner=self.runner, command=self.shown(args))
        if check and proc.returncode != 0:
            raise HelmError("helm {0} failed: {1}".format(" ".join(args[:2]), _helm_message(proc.stderr)),
                            rc=proc.returncode, stderr=proc.stderr.strip()[-4000:], command=self.shown(list(args) + self.kube_args))
        return proc

    def json(self, args):
        proc = self.run(list(args) + ["-o", "json"], record=False)
        try:
            return json.loads(proc.stdout or "null")
        except ValueError as exc:
            raise HelmError("helm {0}: unexpected output (not JSON): {1}".format(" ".join(args[:2]), proc.stdout[:300])) from exc

    def history(self, name, namespace):
        """The release's history (oldest first), or None when there is no such release."""
        proc = self.run(["history", name, "--namespace", namespace, "-o", "json"], check=False, record=False)
        if proc.returncode != 0:
            if _NOT_FOUND.search(proc.stderr or ""):
                return None
            raise HelmError("helm history failed: {0}".format(_helm_message(proc.stderr)), rc=proc.returncode,
                            stderr=proc.stderr.strip()[-4000:])
        try:
            entries = json.loads(proc.stdout or "[]") or []
        except ValueError as exc:
            raise HelmError("helm history: unexpected output (not JSON): {0}".format(proc.stdout[:300])) from exc
        return sorted(entries, key=lambda h: int(h.get("revision") or 0)) or None

    def values(self, name, namespace, revision=None):
        args = ["get", "values", name, "--namespace", namespace]
        if revision is not None:
            args += ["--revision", str(revision)]
        return self.json(args) or {}

    def computed_values(self, name, namespace):
        """``helm get values --all``: the deployed release's computed values (chart defaults under user values)."""
        proc = self.run(["get", "values", name, "--namespace", namespace, "--all", "-o", "yaml"], record=False)
        return yaml_load(proc.stdout) or {}

    def wanted_computed_values(self, name, namespace, chart, values_path):
        """The values helm computes for ``chart`` with the values file ``values_path``: a client-side install dry run
        (no release is looked up or stored); None when helm cannot say."""
        proc = self.run(["install", name] + chart.args() + ["--namespace", namespace, "--values", values_path,
                                                            "--dry-run=client", "--debug"], check=False, record=False)
        return computed_section(proc.stdout) if proc.returncode == 0 else None

    def manifest(self, name, namespace):
        return self.run(["get", "manifest", name, "--namespace", namespace], record=False).stdout


def _helm_message(stderr):
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    text = " ".join(errors or lines[-5:]) or "no message"
    return text[:2000]


# ---------------------------------------------------------------- readiness


def wait_workloads(params, items, timeout, deleted=False):
    """Wait with watches (``k8s_wait.wait_for``) until the workloads are ready (or gone); returns their results."""
    if not items:
        return []
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Resource
    from ansible_collections.adhar.platform.plugins.module_utils._k8s import wait as k8s_wait

    targets = []
    for kind, namespace, name in items:
        resource = Resource("apps", "v1", kind, WORKLOAD_KINDS[kind], True)
        targets.append(k8s_wait.Target(resource, namespace, name, rule=k8s_wait.rule_for(resource)))
    with K8sClient.from_params(params) as client:
        k8s_wait.wait_for(client, targets, timeout, deleted=deleted)
    return [dict(t.as_result(), kind=t.resource.kind, namespace=t.namespace, name=t.name) for t in targets]


# ---------------------------------------------------------------- the task


class ReleaseTask:
    """``state=present|absent`` of one release, as the ``helm_release`` module does it.

    ``helm`` is a ``Helm``; ``waiter(items, timeout, deleted)`` waits for
    workloads (``wait_workloads`` with the module's params by default).
    """

    def __init__(self, params, helm, workdir, check_mode=False, diff_mode=False, waiter=None, warn=None):
        self.p = params
        self.helm = helm
        self.workdir = workdir
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.waiter = waiter or (lambda items, timeout, deleted=False: wait_workloads(params, items, timeout, deleted))
        self.warn = warn or (lambda msg: None)
        self.name = params["name"]
        self.namespace = params.get("namespace") or "default"

    # -- present ------------------------------------------------------------

    def desired(self):
        docs = [load_values_file(os.path.expanduser(p)) for p in self.p.get("values_files") or []]
        return desired_values(docs, self.p.get("values"), self.p.get("set_values"), self.p.get("secret_values"))

    def present(self):
        chart = resolve_chart(self.p.get("chart"), self.p.get("chart_repo_url"), self.p.get("chart_version"),
                              from_toolchain=self.p.get("toolchain_chart"))
        values = self.desired()
        history = self.helm.history(self.name, self.namespace)
        latest = history[-1] if history else None
        if latest is not None and latest.get("status") == "uninstalled":
            latest = None  # uninstalled with --keep-history: install afresh
        recovered = None
        if latest is not None and latest.get("status") in PENDING_STATUSES + ("uninstalling",):
            recovered = self.recover(history)
            if not self.check_mode:
                history = self.helm.history(self.name, self.namespace)
                latest = history[-1] if history else None
        deployed = {}
        if latest is not None and latest.get("status") in ("deployed", "failed"):
            deployed = self.helm.values(self.name, self.namespace)
        changes = release_changes(latest, deployed, chart, values)
        if not changes and latest is not None:
            changes = self.computed_drift(chart, values)
        reasons = ([recovered] if recovered else []) + changes
        result = {"changed": bool(reasons), "reasons": reasons, "values": values}
        if self.diff_mode and reasons:
            result["diff"] = values_diff(self.name, deployed if latest else None, values,
                                         latest.get("chart") if latest else None, chart.label)
        if not changes or (recovered and self.check_mode):
            # up to date (perhaps after recovering it), or pending and only reported in check mode
            result["release"] = release_info(self.name, self.namespace, latest.get("chart"), latest.get("app_version"),
                                             latest.get("revision"), latest.get("status"), chart.name)
            if self.p.get("wait") and not self.check_mode:
                result["workloads"] = self.wait_for_release(self.helm.manifest(self.name, self.namespace))
            return self.finish(result)
        out = self.upgrade(chart, values, history)
        meta = (out.get("chart") or {}).get("metadata") or {}
        result["release"] = release_info(self.name, self.namespace, None, meta.get("appVersion"), out.get("version"),
                                         (out.get("info") or {}).get("status"), meta.get("name") or chart.name,
                                         meta.get("version") or chart.version)
        if self.p.get("wait") and not self.check_mode:
            try:
                result["workloads"] = self.wait_for_release(out.get("manifest"))
            except AdharError as exc:
                if self.p.get("atomic"):
                    raise AdharError("{0}; {1}".format(exc.msg, self.undo(history)), **exc.details) from exc
                raise
        return self.finish(result)

    def computed_drift(self, chart, values):
        """Same chart and user values: compare the computed values (``helm get values --all``) with those helm computes
        for the wanted chart and values, so a chart whose defaults changed under the same name and version (or a
        release changed by other means) is reported. Keys only, never values."""
        values_path = _secret_file(self.workdir, "values.json", json.dumps(values))
        self.helm.placeholders[values_path] = "<values>"
        wanted = self.helm.wanted_computed_values(self.name, self.namespace, chart, values_path)
        if wanted is None:
            self.warn("release {0}: helm could not compute the values of {1} (client-side dry run); compared the user "
                      "values only".format(self.name, chart.label))
            return []
        drifted = diff_keys(normalize(self.helm.computed_values(self.name, self.namespace)), normalize(wanted))
        if not drifted:
            return []
        shown = ", ".join(drifted[:10]) + (" and {0} more".format(len(drifted) - 10) if len(drifted) > 10 else "")
        return ["computed values differ (chart defaults): " + shown]

    def upgrade(self, chart, values, history):
        values_path = _secret_file(self.workdir, "values.json", json.dumps(values))  # secret_values are in it
        self.helm.placeholders[values_path] = "<values>"
        args = ["upgrade", "--install", self.name] + chart.args() + [
            "--namespace", self.namespace, "--values", values_path, "--reset-values", "-o", "json",
            "--timeout", helm_timeout(self.p.get("wait_timeout"))]
        if self.p.get("create_namespace"):
            args.append("--create-namespace")
        if chart.digest:
            args += ["--description", "{0}{1}".format(DIGEST_PREFIX, chart.digest)]
        if self.check_mode:
            args.append("--dry-run=server")
        proc = self.helm.run(args, check=False)
        if proc.returncode != 0:
            message = "helm upgrade --install of release {0} in namespace {1} {2}: {3}".format(
                self.name, self.namespace, "(server-side dry run) failed" if self.check_mode else "failed",
                _helm_message(proc.stderr))
            if self.p.get("atomic") and not self.check_mode:
                message += "; " + self.undo(history)
            raise HelmError(message, rc=proc.returncode, stderr=proc.stderr.strip()[-4000:], command=self.helm.commands[-1])
        try:
            return json.loads(proc.stdout or "{}")
        except ValueError as exc:
            raise HelmError("helm upgrade: unexpected output (not JSON): {0}".format(proc.stdout[:300])) from exc

    def undo(self, history_before):
        """Roll back after a failed install/upgrade (``atomic``): to the last good revision, or uninstall a new release."""
        before = int(history_before[-1]["revision"]) if history_before else 0
        try:
            now = self.helm.history(self.name, self.namespace)
            if not now or int(now[-1]["revision"]) <= before:
                return "atomic: nothing was changed"
            revision = rollback_revision(history_before)
            if revision is None:
                self.helm.run(["uninstall", self.name, "--namespace", self.namespace, "--wait", "--timeout", "120s"])
                return "atomic: the new release was uninstalled"
            self.helm.run(["rollback", self.name, str(revision), "--namespace", self.namespace, "--cleanup-on-fail"])
            return "atomic: rolled back to revision {0}".format(revision)
        except AdharError as exc:
            return "atomic: the rollback failed too: {0}".format(exc.msg)

    def recover(self, history):
        """A release left pending (an interrupted or concurrent helm run) or uninstalling."""
        latest = history[-1]
        status = latest.get("status")
        since = latest.get("updated") or "an unknown time"
        if not self.p.get("atomic"):
            raise AdharError(
                "release {0} in namespace {1} is {2} (revision {3}, since {4}): another helm operation is running or was "
                "interrupted. Wait for it, or run with atomic=true to roll back to the last deployed revision, or remove "
                "the release (state=absent)".format(self.name, self.namespace, status, latest.get("revision"), since),
                status=status, revision=latest.get("revision"))
        if status == "uninstalling":
            raise AdharError("release {0} in namespace {1} is being uninstalled (since {2}); run state=absent to finish "
                             "removing it first".format(self.name, self.namespace, since), status=status)
        if self.check_mode:
            return "would recover from {0}".format(status)
        revision = rollback_revision(history)
        if revision is None:
            self.helm.run(["uninstall", self.name, "--namespace", self.namespace, "--wait", "--timeout", "120s"])
            return "recovered from {0}: the release was uninstalled (no deployed revision)".format(status)
        self.helm.run(["rollback", self.name, str(revision), "--namespace", self.namespace, "--cleanup-on-fail"])
        return "recovered from {0}: rolled back to revision {1}".format(status, revision)

    def wait_for_release(self, manifest):
        items = workloads(manifest, self.namespace)
        timeout = float(self.p.get("wait_timeout") or 300)
        results = self.waiter(items, timeout)
        bad = [r for r in results if not r.get("ready")]
        if bad:
            raise AdharError("release {0} in namespace {1} is not ready after {2:.0f} s: {3}".format(
                self.name, self.namespace, timeout,
                "; ".join("{0} {1}/{2}: {3}".format(r["kind"], r["namespace"], r["name"], r["message"]) for r in bad)),
                workloads=results)
        return results

    # -- absent -------------------------------------------------------------

    def absent(self):
        history = self.helm.history(self.name, self.namespace)
        result = {"changed": False, "release": None, "values": {}}
        if not history or history[-1].get("status") == "uninstalled":
            return self.finish(result)
        latest = history[-1]
        before = release_info(self.name, self.namespace, latest.get("chart"), latest.get("app_version"),
                              latest.get("revision"), latest.get("status"))
        result["changed"] = True
        if self.diff_mode:
            deployed = self.helm.values(self.name, self.namespace)
            result["diff"] = values_diff(self.name, deployed, None, latest.get("chart"), None)
        if self.check_mode:
            result["release"] = before
            return self.finish(result)
        items = []
        if self.p.get("wait"):
            items = workloads(self.helm.manifest(self.name, self.namespace), self.namespace)
        self.helm.run(["uninstall", self.name, "--namespace", self.namespace,
                       "--timeout", helm_timeout(self.p.get("wait_timeout"))])
        if items:
            results = self.waiter(items, float(self.p.get("wait_timeout") or 300), True)
            left = [r for r in results if not r.get("ready")]
            if left:
                self.warn("release {0} uninstalled, but these are still there: {1}".format(
                    self.name, ", ".join("{0} {1}/{2}".format(r["kind"], r["namespace"], r["name"]) for r in left)))
        return self.finish(result)

    def finish(self, result):
        result["command"] = self.helm.commands[-1] if self.helm.commands else None
        return result


def run_release(module):
    """The ``helm_release`` module: ``AdharModule.run`` calls this."""
    params = module.params
    start = time.monotonic()
    binary = find_helm(params.get("bin_dir"))
    scratch = ScratchDir("helm")
    workdir = scratch.path
    try:
        kube_args, kube_env = kube_settings(params, workdir)
        placeholders = {}
        if "--kubeconfig" in kube_args and kube_settings_wrote(kube_args[kube_args.index("--kubeconfig") + 1], workdir):
            placeholders[kube_args[kube_args.index("--kubeconfig") + 1]] = "<kubeconfig>"
        helm = Helm(binary, kube_args, kube_env, placeholders=placeholders,
                    timeout=float(params.get("wait_timeout") or 300) + 120)
        task = ReleaseTask(params, helm, workdir, check_mode=module.check_mode, diff_mode=module.diff_mode, warn=module.warn)
        if params.get("wait"):
            module.require_k8s("to wait for the release's workloads (or set wait=false)")
        result = task.present() if params["state"] == "present" else task.absent()
    finally:
        scratch.remove()
    result["duration"] = round(time.monotonic() - start, 2)
    return result
