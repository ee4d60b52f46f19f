# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recovery of a local cluster from the etcd snapshot in a backup (the ``restore_from`` option of ``cluster``).

``prepare`` does everything that can fail without touching a cluster: it
opens the backup, reads the snapshot into a file in a private scratch
directory (``scratch.ScratchDir``: 0700, removed on every exit path,
SIGTERM included, and swept by the next run after a kill -9; checksum and
decryption checked by ``ArchiveReader``) and runs ``etcdutl snapshot
status`` on it.  ``restore_members`` then initialises every member's data
directory with ``etcdutl snapshot restore`` as a NEW logical etcd cluster
(per-member ``--name`` and peer URL, the new cluster's
``--initial-cluster-token``, ``--bump-revision``/``--mark-compacted`` so
every watcher re-lists).  The provider (``providers/local.py``) runs it
before etcd starts: for a new cluster right after its configuration is
written, for an existing one after every process was stopped, keeping the
old data directories until the restored cluster is healthy.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

# The archive, storage, crypto and etcd helpers are imported inside the functions that use them (static imports, so
# AnsiballZ still ships them): the cluster module imports this file for its option, and its everyday runs (no
# restore_from) should not pay for loading them.

# ``--bump-revision``: larger than any revision a watcher can have seen since the snapshot was taken.
BUMP_REVISION = 1000000000
# Spec fields a recovered cluster takes from its source unless they are given (and must equal when given).
INHERITED = ("pod_cidr", "service_cidr", "encryption_at_rest")
DEFAULTED = ("cluster_id", "nodes_count", "control_plane_count")

RESTORE_FROM_ARG_SPEC = {
    "restore_from": {
        "type": "dict",
        "options": {
            "backup": {"type": "str", "default": "latest"},
            "source_cluster": {"type": "str"},
            "storage": {"type": "raw", "required": True},
            "encryption": {"type": "dict", "no_log": True},
            "force": {"type": "bool", "default": False},
        },
    },
}


STORAGE_SECRETS = ("aws_secret_access_key", "secret_key", "aws_session_token", "session_token")


def check_options(module):
    """``restore_from`` is for provider local with state present or started; anything else is refused up front.

    ``restore_from.storage`` is a free-form value (a URL or a storage dict), so the credentials it may hold are
    registered as values to hide from every result here.
    """
    params = module.params
    if not params.get("restore_from"):
        return
    storage = params["restore_from"].get("storage")
    if isinstance(storage, dict):
        module.no_log_values.update(str(storage[k]) for k in STORAGE_SECRETS if storage.get(k))
    if params.get("provider") != "local":
        raise AdharError("restore_from: only provider local clusters can be recovered from an etcd snapshot (use "
                         "adhar.platform.restore to restore objects into any cluster)", option="restore_from")
    if params.get("state") not in ("present", "started"):
        raise AdharError("restore_from: applies to state present or started, not %s" % params.get("state"),
                         option="restore_from")


class Plan:
    """A verified snapshot ready to restore: ``snapshot`` (path of the private copy), ``status``, ``source``.

    ``scratch`` is the ``ScratchDir`` holding the copy; ``cleanup()`` removes it.
    """

    def __init__(self, backup, snapshot, status, source, encryption_config, scratch, etcdutl, seconds, sa_public_key=None):
        self.backup = backup
        self.sa_public_key = sa_public_key
        self.snapshot = snapshot
        self.status = status
        self.source = source or {}
        self.encryption_config = encryption_config
        self.scratch = scratch
        self.etcdutl = etcdutl
        self.seconds = seconds

    def summary(self, seconds=None):
        out = {"backup": self.backup, "revision": self.status["revision"], "total_keys": self.status["total_keys"],
               "hash": self.status["hash"], "total_size": self.status["total_size"],
               "source_cluster": self.source.get("cluster")}
        out["seconds"] = round(self.seconds if seconds is None else seconds, 2)
        return out

    def cleanup(self):
        if self.scratch is not None:
            self.scratch.remove()
            self.scratch = None


def _storage(options):
    storage = options.get("storage")
    if isinstance(storage, str):
        storage = {"url": storage}
    if not isinstance(storage, dict) or not storage:
        raise AdharError("restore_from.storage: give the backup location as a URL (file:///path, s3://bucket/prefix) or "
                         "a dict like the storage option of adhar.platform.backup", option="restore_from.storage")
    try:
        from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params
        return storage, storage_from_params(storage)
    except AdharError as e:
        raise AdharError("restore_from.%s" % e.msg, option="restore_from.storage") from None


def _key_wrapper(options, storage_params):
    from ansible_collections.adhar.platform.plugins.module_utils._dr import crypto_envelope as crypto
    known = crypto.ENCRYPTION_ARG_SPEC["encryption"]["options"]
    enc = options.get("encryption") or {}
    unknown = sorted(set(enc) - set(known))
    if unknown:
        raise AdharError("restore_from.encryption: unknown option(s) %s (known: %s)"
                         % (", ".join(unknown), ", ".join(sorted(known))), option="restore_from.encryption")
    wrapper = crypto.key_wrapper_from_params(enc, storage_params)
    if wrapper is None:
        raise AdharError("restore_from.encryption: a key is needed: etcd snapshots are only ever stored encrypted",
                         option="restore_from.encryption")
    return wrapper


def _has_item(reader, path):
    """Whether the backup lists ``path`` (a missing or incomplete backup fails here, clearly)."""
    from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ENC_SUFFIX
    enc_path = path + ENC_SUFFIX
    return any(i["path"] in (path, enc_path) for i in reader.manifest["items"])


def _open_backup(storage, name, source_cluster, wrapper):
    from ansible_collections.adhar.platform.plugins.module_utils._archive import api as archive
    if name != "latest":
        reader = archive.ArchiveReader(storage, name, wrapper)
        if not _has_item(reader, archive.ETCD_SNAPSHOT):
            raise AdharError("backup %s in %s has no etcd snapshot (take backups with the etcd_snapshot option to "
                             "recover a whole cluster from them)" % (name, storage.location), option="restore_from.backup")
        return reader
    # the backup's cluster name may be a kubeconfig context (adhar-<name>): the snapshot's own record counts too
    backups = [b for b in archive.list_backups(storage) if b.get("complete")]
    for entry in sorted(backups, key=lambda b: b.get("time") or "", reverse=True):
        stored = archive.ArchiveReader(storage, entry["name"]).stored_manifest  # picks only; the one picked is checked
        etcd_meta = (stored.get("metadata") or {}).get("etcd") or {}
        paths = {i["path"] for i in stored["items"]}
        if source_cluster in (stored.get("cluster"), etcd_meta.get("source_cluster")) \
                and (archive.ETCD_SNAPSHOT in paths or archive.ETCD_SNAPSHOT + archive.ENC_SUFFIX in paths):
            return archive.ArchiveReader(storage, entry["name"], wrapper)
    raise AdharError("no complete backup of cluster %s with an etcd snapshot in %s" % (source_cluster, storage.location),
                     option="restore_from.backup")


def prepare(options, target, bin_dir=None, workdir=None):
    """Open, fetch and verify the snapshot ``options`` (the ``restore_from`` option) names; returns a ``Plan``.

    ``target`` is the name of the cluster being made or restored (the default
    source cluster); ``workdir`` the base of the scratch directory (default
    ``TMPDIR``).  Raises AdharError for a missing, incomplete, corrupted or
    undecryptable backup; nothing is left behind then.
    """
    from ansible_collections.adhar.platform.plugins.module_utils._etcd import snapshot as etcd
    from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import ScratchDir
    from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ETCD_SNAPSHOT as snapshot_item
    t0 = time.monotonic()
    name = options.get("backup") or "latest"
    source_cluster = options.get("source_cluster") or target
    storage_params, storage = _storage(options)
    wrapper = _key_wrapper(options, storage_params)
    bins = etcd.etcd_binaries(bin_dir)
    reader = _open_backup(storage, name, source_cluster, wrapper)
    scratch = ScratchDir("etcd-recover", workdir)
    try:
        path = os.path.join(scratch.path, "snapshot.db")
        try:
            with scratch.file("snapshot.db") as f:
                reader.copy_to(snapshot_item, f)
            status = etcd.snapshot_status(bins["etcdutl"], path)
        except AdharError as e:
            raise AdharError("the etcd snapshot of backup %s cannot be used (nothing was changed): %s" % (reader.name, e.msg),
                             **dict(e.details, backup=reader.name, item=snapshot_item)) from None
        source = reader.read_json(etcd.ETCD_SOURCE) if _has_item(reader, etcd.ETCD_SOURCE) else {}
        enc = reader.read(etcd.ETCD_ENCRYPTION_CONFIG) if _has_item(reader, etcd.ETCD_ENCRYPTION_CONFIG) else None
        sa_pub = reader.read(etcd.ETCD_SA_PUBLIC_KEY) if _has_item(reader, etcd.ETCD_SA_PUBLIC_KEY) else None
        if source.get("encryption_config") and enc is None:
            raise AdharError("backup %s is incomplete for a recovery: its source cluster encrypted Secrets at rest but the "
                             "encryption config (%s) is missing" % (reader.name, etcd.ETCD_ENCRYPTION_CONFIG), backup=reader.name)
    except BaseException:
        scratch.remove()
        raise
    return Plan(reader.name, path, status, source, enc, scratch, bins["etcdutl"], time.monotonic() - t0, sa_public_key=sa_pub)


def _version_minor(version):
    try:
        return tuple(int(x) for x in str(version).lstrip("v").split(".")[:2])
    except ValueError:
        return None


def merge_source_spec(spec, given, plan):
    """The spec of a cluster recovered from ``plan``: network ranges and encryption from the source unless given
    (given values must be the same: Service IPs, Pod CIDRs and encrypted Secrets in the snapshot depend on them);
    cluster id, node and member counts default to the source's.  Raises AdharError on conflicts."""
    source_spec = (plan.source or {}).get("spec") or {}
    if not source_spec:
        return spec
    out = dict(spec)
    for key in INHERITED:
        if key not in source_spec:
            continue
        if key in given and spec.get(key) != source_spec[key]:
            raise AdharError("%s: %r differs from the source cluster's %r in backup %s; a cluster recovered from an etcd "
                             "snapshot keeps it (leave the option out)" % (key, spec.get(key), source_spec[key], plan.backup),
                             option=key)
        out[key] = source_spec[key]
    for key in DEFAULTED:
        if key not in given and source_spec.get(key) is not None:
            out[key] = source_spec[key]
    have, want = _version_minor(source_spec.get("kubernetes_version")), _version_minor(out["kubernetes_version"])
    if have and want and want < have:
        raise AdharError("kubernetes_version: %s is older than the source cluster's %s; an etcd snapshot can only be "
                         "recovered into the same or a newer release" % (out["kubernetes_version"],
                                                                         source_spec["kubernetes_version"]),
                         option="kubernetes_version")
    return out


def check_in_place(cluster, plan):
    """Refuse an in-place restore whose snapshot does not fit the existing cluster (before anything is stopped)."""
    source_spec = (plan.source or {}).get("spec") or {}
    for key in ("pod_cidr", "service_cidr"):
        if source_spec.get(key) and source_spec[key] != cluster.spec.get(key):
            raise AdharError("cannot restore backup %s into cluster %s in place: its %s %s differs from the cluster's %s; "
                             "recover it into a new cluster" % (plan.backup, cluster.layout.name, key, source_spec[key],
                                                                cluster.spec.get(key)), option="restore_from")
    if plan.encryption_config is not None and not cluster.spec.get("encryption_at_rest"):
        raise AdharError("cannot restore backup %s into cluster %s in place: the source encrypted Secrets at rest and "
                         "this cluster does not; recover it into a new cluster" % (plan.backup, cluster.layout.name),
                         option="restore_from")


def install_encryption_config(cluster, plan):
    """Write the source's encryption-at-rest config (its Secrets stay readable); returns the previous bytes or None."""
    if plan.encryption_config is None:
        return None
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.runtime import write_private
    path = cluster.layout.config("encryption-config.yaml")
    previous = None
    if os.path.exists(path):
        with open(path, "rb") as f:
            previous = f.read()
    write_private(path, plan.encryption_config.decode("utf-8"))
    return previous


SOURCE_SA_KEY = "sa-source.pub"


def install_service_account_key(cluster, plan):
    """Make the API servers also accept tokens signed by the source's service-account key (long-lived token Secrets,
    tokens held outside the cluster).  Sets ``extra_sa_public_keys`` in the cluster's data (the caller saves it);
    nothing when the backup has no key or it is the cluster's own.  Returns True when something was installed."""
    if not plan.sa_public_key:
        return False
    with open(cluster.layout.pki("sa.pub"), "rb") as f:
        if f.read() == plan.sa_public_key:
            return False
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.runtime import write_private
    write_private(cluster.layout.pki(SOURCE_SA_KEY), plan.sa_public_key.decode("utf-8"))
    cluster.data["extra_sa_public_keys"] = [SOURCE_SA_KEY]
    return True


def restore_members(cluster, plan, suffix=""):
    """``etcdutl snapshot restore`` into ``data/etcd-<i><suffix>`` for every member, in parallel.

    The members form a new logical etcd cluster: the cluster's current
    ``--initial-cluster-token`` and peer URLs (``Cluster.etcd_bootstrap``).
    Target directories must not exist.  Returns the directories written.
    """
    from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import run_tool
    dirs = []
    cmds = []
    for i in range(cluster.members):
        boot = cluster.etcd_bootstrap(i)
        target = cluster.layout.sub("data", "etcd-%d%s" % (i, suffix))
        if os.path.exists(target):
            raise AdharError("cannot restore etcd member %d of cluster %s: %s already exists" % (i, cluster.layout.name, target))
        dirs.append(target)
        cmds.append([plan.etcdutl, "snapshot", "restore", plan.snapshot, "--name=" + boot["name"], "--data-dir=" + target,
                     "--initial-cluster=" + boot["initial_cluster"], "--initial-cluster-token=" + boot["token"],
                     "--initial-advertise-peer-urls=" + boot["peer_url"], "--bump-revision=%d" % BUMP_REVISION,
                     "--mark-compacted"])
    os.makedirs(cluster.layout.sub("data"), mode=0o700, exist_ok=True)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(cmds)) as pool:
            for future in [pool.submit(run_tool, cmd, "etcdutl snapshot restore of member %d" % i) for i, cmd in enumerate(cmds)]:
                future.result()
        for d in dirs:
            os.chmod(d, 0o700)
    except BaseException:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        raise
    return dirs


def swap_data_dirs(cluster, new_suffix, old_suffix):
    """``etcd-<i>`` -> ``etcd-<i><old_suffix>`` and ``etcd-<i><new_suffix>`` -> ``etcd-<i>`` for every member."""
    # Not _common.files.atomic_write: these are directories, swapped by two renames so that the previous data stays
    # (as old_suffix) for roll_back_data_dirs until the restored members are known to be healthy.
    for i in range(cluster.members):
        live = cluster.layout.sub("data", "etcd-%d" % i)
        old = live + old_suffix
        if os.path.exists(old):
            shutil.rmtree(old)
        if os.path.exists(live):
            os.rename(live, old)
        os.rename(live + new_suffix, live)


def roll_back_data_dirs(cluster, old_suffix):
    """Put ``etcd-<i><old_suffix>`` back as ``etcd-<i>`` (the restored directories are removed)."""
    for i in range(cluster.members):
        live = cluster.layout.sub("data", "etcd-%d" % i)
        if os.path.exists(live + old_suffix):
            shutil.rmtree(live, ignore_errors=True)
            os.rename(live + old_suffix, live)


def remove_data_dirs(cluster, suffix):
    for i in range(cluster.members):
        shutil.rmtree(cluster.layout.sub("data", "etcd-%d%s" % (i, suffix)), ignore_errors=True)


def reset_after_restore(cluster):
    """Fix what the snapshot carries over from its source once the API servers answer (controllers not started yet).

    The controller-manager and scheduler leader Leases name holders that do
    not exist here: they are deleted so leaders are elected at once.  The
    ``kubernetes`` Service's targetPort is the source API server's port (the
    API server does not correct an existing Service): it is set to this
    cluster's.  Returns what was fixed.
    """
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
    from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request, ssl_context
    fixed = []
    rt.release_leader_leases(cluster)
    fixed.append("released the snapshot's leader leases")
    port = cluster.ports["members"][0]["apiserver"]
    path = "/api/v1/namespaces/default/services/kubernetes"
    try:
        svc = rt.api_get(cluster, path)
    except (OSError, ValueError):
        return fixed  # the API server creates it when missing
    ports = (svc.get("spec") or {}).get("ports") or []
    if ports and any(p.get("targetPort") != port for p in ports):
        for p in ports:
            p["targetPort"] = port
        status, body, dummy = request(cluster.endpoint, path, ssl_context(**cluster.tls()), 5.0, method="PUT", body=svc)
        if status != 200:
            raise AdharError("cannot set the targetPort of the kubernetes Service of cluster %s: HTTP %s %s"
                             % (cluster.layout.name, status, body[:200]))
        fixed.append("set the kubernetes Service's targetPort to %d" % port)
    return fixed


def describe_source(plan):
    """One line for ``actions``."""
    src = plan.source or {}
    return "backup %s (cluster %s, %s member(s), etcd revision %s, %s keys)" % (
        plan.backup, src.get("cluster") or "?", src.get("members") or "?", plan.status["revision"],
        plan.status["total_keys"])
