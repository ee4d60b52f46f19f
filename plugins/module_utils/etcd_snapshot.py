# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd snapshots: taken with ``etcdctl``, checked with ``etcdutl``, stored encrypted in a backup.

``capture_etcd`` is used by the ``backup`` module (option ``etcd_snapshot``,
``ETCD_SNAPSHOT_ARG_SPEC``); the same helpers (``snapshot_status``,
``etcd_binaries``) are used by a recovery (``local/recover.py``).

A snapshot holds every object of the cluster, Secrets included, so it is
only ever stored encrypted.  For a provider-local cluster the backup also
gets, encrypted, what a recovery into a new cluster needs: the
encryption-at-rest configuration (without it the Secrets in the snapshot
cannot be read), the service-account public key (tokens the source issued
stay valid) and the source cluster's topology and network ranges
(``etcd/source.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

from ansible_collections.adhar.platform.plugins.module_utils import toolchain
from ansible_collections.adhar.platform.plugins.module_utils.archive.format import ETCD_SNAPSHOT
from ansible_collections.adhar.platform.plugins.module_utils.core import AdharError

# Suboptions of the backup module's ``etcd_snapshot`` dict option.
ETCD_SNAPSHOT_ARG_SPEC = {
    "local_cluster": {"type": "str"},
    "state_dir": {"type": "path"},
    "endpoints": {"type": "list", "elements": "str"},
    "ca_file": {"type": "path"},
    "cert_file": {"type": "path"},
    "key_file": {"type": "path"},
}
# Constraints to put next to ``options`` in the ``etcd_snapshot`` option (capture_etcd checks them too).
ETCD_SNAPSHOT_MUTUALLY_EXCLUSIVE = [["local_cluster", "endpoints"]]
ETCD_SNAPSHOT_REQUIRED_ONE_OF = [["local_cluster", "endpoints"]]

# Items stored next to the snapshot for a recovery of a local cluster.
ETCD_ENCRYPTION_CONFIG = "etcd/encryption-config.yaml"
ETCD_SOURCE = "etcd/source.json"
ETCD_SA_PUBLIC_KEY = "etcd/service-account.pub"
ETCD_BINARIES = ("etcdctl", "etcdutl")
# Spec fields of the source cluster a new cluster recovered from its snapshot must share.
SOURCE_SPEC_FIELDS = ("control_plane_count", "kubernetes_version", "pod_cidr", "service_cidr", "cluster_id",
                      "encryption_at_rest", "nodes_count")
COMMAND_TIMEOUT = 300


def etcd_binaries(bin_dir=None):
    """``{"etcdctl": path, "etcdutl": path}`` from ``bin_dir`` when it has them, else the toolchain lookup."""
    if bin_dir and not toolchain.missing_binaries(bin_dir, ETCD_BINARIES):
        found = bin_dir
    else:
        found, source, missing = toolchain.resolve_bin_dir(None, names=ETCD_BINARIES)
        if missing:
            raise AdharError("missing binaries in %s (from %s): %s. Fetch them with `tools/toolchain ensure` or point "
                             "ADHAR_BIN_DIR at a directory that has them" % (found, source, ", ".join(missing)),
                             bin_dir=found, missing=missing)
    return {name: os.path.join(found, name) for name in ETCD_BINARIES}


def run_tool(cmd, what, timeout=COMMAND_TIMEOUT, check=True):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
                                   "ETCDCTL_API": "3"})
    except subprocess.TimeoutExpired:
        raise AdharError("%s timed out after %d s" % (what, timeout)) from None
    except OSError as e:
        raise AdharError("%s: cannot run %s: %s" % (what, cmd[0], e)) from None
    if check and proc.returncode != 0:
        raise AdharError("%s failed (exit %d): %s" % (what, proc.returncode, (proc.stderr or proc.stdout).strip()[-800:]))
    return proc


def snapshot_status(etcdutl, path):
    """``{"hash", "revision", "total_keys", "total_size", "version"}`` of a snapshot file; AdharError when it is not valid."""
    proc = run_tool([etcdutl, "snapshot", "status", path, "-w", "json"], "etcdutl snapshot status of %s" % os.path.basename(path))
    try:
        raw = json.loads(proc.stdout)
        return {"hash": raw["hash"], "revision": raw["revision"], "total_keys": raw["totalKey"],
                "total_size": raw["totalSize"], "version": raw.get("version")}
    except (ValueError, KeyError, TypeError):
        raise AdharError("etcdutl snapshot status of %s printed no status: %r"
                         % (os.path.basename(path), proc.stdout[:300])) from None


def _tls_flags(tls):
    flags = []
    for flag, key in (("--cacert", "ca_file"), ("--cert", "cert_file"), ("--key", "key_file")):
        if tls.get(key):
            flags.append("%s=%s" % (flag, tls[key]))
    return flags


def endpoint_status(etcdctl, endpoints, tls):
    """``[{"endpoint", "leader", "revision", "db_size"}]`` of the members that answered (leaders first)."""
    proc = run_tool([etcdctl, "endpoint", "status", "-w", "json", "--endpoints=" + ",".join(endpoints),
                     "--dial-timeout=3s", "--command-timeout=5s"] + _tls_flags(tls), "etcdctl endpoint status", timeout=60,
                    check=False)
    try:
        raw = json.loads(proc.stdout) if proc.stdout.strip() else []
    except ValueError:
        raw = []
    out = []
    for entry in raw if isinstance(raw, list) else []:
        st = entry.get("Status") or {}
        header = st.get("header") or {}
        out.append({"endpoint": entry.get("Endpoint"), "leader": bool(st.get("leader")) and st.get("leader") == header.get("member_id"),
                    "revision": header.get("revision"), "db_size": st.get("dbSize")})
    if not out:
        raise AdharError("no etcd member answered at %s: %s" % (", ".join(endpoints), (proc.stderr or "").strip()[-500:]),
                         endpoints=endpoints)
    out.sort(key=lambda e: not e["leader"])
    return out


def _check_params(params):
    params = dict(params or {})
    local, endpoints = params.get("local_cluster"), params.get("endpoints")
    if bool(local) == bool(endpoints):
        raise AdharError("etcd_snapshot: give exactly one of local_cluster (a local cluster's name) or endpoints",
                         option="etcd_snapshot")
    if endpoints:
        for e in endpoints:
            if not isinstance(e, str) or not e.startswith(("http://", "https://")):
                raise AdharError("etcd_snapshot.endpoints: %r is not an http(s):// URL" % (e,), option="etcd_snapshot.endpoints")
        for key in ("ca_file", "cert_file", "key_file"):
            if params.get(key) and not os.path.isfile(params[key]):
                raise AdharError("etcd_snapshot.%s: %s is not a file" % (key, params[key]), option="etcd_snapshot." + key)
        if bool(params.get("cert_file")) != bool(params.get("key_file")):
            raise AdharError("etcd_snapshot: cert_file and key_file go together", option="etcd_snapshot.cert_file")
    return params


def local_target(name, state_dir=None):
    """Endpoints, client TLS, binaries and recovery extras of local cluster ``name`` (from its saved state)."""
    # imported here: the local runtime is only needed for local clusters
    from ansible_collections.adhar.platform.plugins.module_utils.local import state as st
    from ansible_collections.adhar.platform.plugins.module_utils.local.spec import NAME_RE, default_state_root
    if not NAME_RE.match(name or ""):
        raise AdharError("etcd_snapshot.local_cluster: %r is not a valid cluster name" % (name,),
                         option="etcd_snapshot.local_cluster")
    root = os.path.abspath(os.path.expanduser(state_dir)) if state_dir else default_state_root()
    layout = st.Layout(root, name)
    data = st.load(layout)
    if data is None or data.get("phase") != "ready":
        raise AdharError("etcd_snapshot.local_cluster: no ready local cluster %r under %s" % (name, root),
                         option="etcd_snapshot.local_cluster")
    members = data["ports"]["members"]
    tls = {"ca_file": layout.pki("etcd-ca.crt"), "cert_file": layout.pki("etcd-healthcheck-client.crt"),
           "key_file": layout.pki("etcd-healthcheck-client.key")}
    spec = data["spec"]
    enc = layout.config("encryption-config.yaml") if spec.get("encryption_at_rest") else None
    source = {"cluster": name, "members": len(members), "spec": {k: spec.get(k) for k in SOURCE_SPEC_FIELDS}}
    return {"endpoints": ["https://127.0.0.1:%d" % m["etcd_client"] for m in members], "tls": tls,
            "bin_dir": data.get("bin_dir"), "encryption_config": enc, "sa_public_key": layout.pki("sa.pub"), "source": source}


def private_dir(workdir=None, prefix="adhar-etcd-"):
    """A new 0700 temp directory (the caller removes it)."""
    path = tempfile.mkdtemp(prefix=prefix, dir=workdir)
    os.chmod(path, 0o700)
    return path


def capture_etcd(writer, params, *, workdir=None):
    """Snapshot one healthy etcd member (leader preferred) into ``writer`` (encrypted); returns the manifest metadata.

    ``params``: the ``etcd_snapshot`` option (``ETCD_SNAPSHOT_ARG_SPEC``).
    Returns ``{"hash", "revision", "total_keys", "total_size", "endpoint",
    "seconds"}`` plus ``members``, ``source_cluster`` and
    ``encryption_config`` (whether the encryption-at-rest config was stored)
    for local clusters.  Nothing is stored when the snapshot fails its check.
    """
    if not writer.encrypted:
        raise AdharError("etcd_snapshot needs an encryption key: an etcd snapshot holds every Secret of the cluster "
                         "and is only stored encrypted (set the encryption option)", option="encryption")
    params = _check_params(params)
    t0 = time.monotonic()
    if params.get("local_cluster"):
        target = local_target(params["local_cluster"], params.get("state_dir"))
    else:
        target = {"endpoints": list(params["endpoints"]), "bin_dir": None, "encryption_config": None, "sa_public_key": None,
                  "source": None,
                  "tls": {k: params.get(k) for k in ("ca_file", "cert_file", "key_file")}}
    bins = etcd_binaries(target["bin_dir"])
    members = endpoint_status(bins["etcdctl"], target["endpoints"], target["tls"])
    extras = {}
    for key, item, what in (("encryption_config", ETCD_ENCRYPTION_CONFIG, "encryption-at-rest config"),
                            ("sa_public_key", ETCD_SA_PUBLIC_KEY, "service-account public key")):
        if target[key]:
            try:
                with open(target[key], "rb") as f:
                    extras[item] = f.read()
            except OSError as e:
                raise AdharError("cannot read the %s of cluster %s: %s" % (what, params["local_cluster"], e)) from None
    tmp = private_dir(workdir)
    try:
        path = os.path.join(tmp, "snapshot.db")
        errors = []
        chosen = None
        for member in members:
            proc = run_tool([bins["etcdctl"], "snapshot", "save", path, "--endpoints=" + member["endpoint"],
                             "--dial-timeout=5s", "--command-timeout=%ds" % COMMAND_TIMEOUT] + _tls_flags(target["tls"]),
                            "etcdctl snapshot save from %s" % member["endpoint"], check=False)
            if proc.returncode == 0 and os.path.isfile(path):
                chosen = member["endpoint"]
                break
            errors.append("%s: %s" % (member["endpoint"], (proc.stderr or proc.stdout).strip()[-300:]))
            for leftover in (path, path + ".part"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
        if chosen is None:
            raise AdharError("etcdctl snapshot save failed on every member: %s" % "; ".join(errors))
        os.chmod(path, 0o600)
        status = snapshot_status(bins["etcdutl"], path)
        with open(path, "rb") as f:
            writer.add(ETCD_SNAPSHOT, f, encrypt=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"hash": status["hash"], "revision": status["revision"], "total_keys": status["total_keys"],
              "total_size": status["total_size"], "endpoint": chosen}
    if target["source"]:
        source = dict(target["source"], snapshot=dict(result), encryption_config=ETCD_ENCRYPTION_CONFIG in extras)
        for item, data in sorted(extras.items()):
            writer.add(item, data, encrypt=True)
        writer.add(ETCD_SOURCE, source, encrypt=True)
        result.update(members=source["members"], source_cluster=source["cluster"],
                      encryption_config=source["encryption_config"])
    result["seconds"] = round(time.monotonic() - t0, 3)
    return result
