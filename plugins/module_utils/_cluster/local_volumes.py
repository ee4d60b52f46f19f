# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistent volumes of local clusters: directories under the cluster's state directory (docs/backup.md).

A local cluster with ``nodes.volumes`` gets:

* the StorageClass ``adhar-local`` (``kubernetes.io/no-provisioner``, ``volumeBindingMode: WaitForFirstConsumer``,
  reclaim policy ``Retain``), annotated with the directory its volumes live in (``adhar.io/volume-root``);
* that many *Available* static ``local`` PersistentVolumes, each a directory ``<root>/<pv name>`` with node
  affinity to one kwok node (round robin).

The real scheduler picks a node for a Pod whose PVC is of that class (VolumeBinding plugin: only PVs whose
node affinity fits), the real PV controller binds the PVC to the PV the scheduler chose.  Nothing here
watches the cluster: a converge of the cluster module tops the free volumes up again.

A restore of volume data creates a PV *pre-bound* to the restored PVC (``claimRef``) in the target cluster's
root, so the PVC binds at once to the directory that receives the files.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

STORAGE_CLASS = "adhar-local"
ROOT_ANNOTATION = "adhar.io/volume-root"
VOLUME_LABEL = "adhar.io/local-volume"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
DEFAULT_CAPACITY = "10Gi"
HOSTNAME_LABEL = "kubernetes.io/hostname"
SC_PATH = "/apis/storage.k8s.io/v1/storageclasses"
PV_PATH = "/api/v1/persistentvolumes"


def _query(client):
    return {"dryRun": "All"} if getattr(client, "dry_run", False) else None


def _api_status(exc):
    return getattr(exc, "status", None)


def get(client, path):
    """The object at ``path``, or ``None`` (404)."""
    try:
        dummy, data = client.raw("GET", path)
    except Exception as exc:  # pylint: disable=broad-except
        if _api_status(exc) == 404:
            return None
        raise
    return data if isinstance(data, dict) else None


def storage_class_body(root):
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS, "annotations": {ROOT_ANNOTATION: root},
                         "labels": {VOLUME_LABEL: "true"}},
            "provisioner": NO_PROVISIONER, "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"}


def pv_body(name, root, node, capacity=DEFAULT_CAPACITY, claim=None):
    """A static ``local`` PV at ``<root>/<name>`` pinned to ``node``; ``claim`` (``{namespace, name, uid}``) pre-binds it."""
    spec = {"capacity": {"storage": capacity}, "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
            "local": {"path": os.path.join(root, name)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}}
    if claim:
        spec["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": claim["namespace"],
                            "name": claim["name"]}
        if claim.get("uid"):
            spec["claimRef"]["uid"] = claim["uid"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": {VOLUME_LABEL: "true"}}, "spec": spec}


def volume_root(client):
    """The directory of the cluster's local volumes (the StorageClass annotation), or ``None``."""
    sc = get(client, "%s/%s" % (SC_PATH, STORAGE_CLASS))
    root = (((sc or {}).get("metadata") or {}).get("annotations") or {}).get(ROOT_ANNOTATION)
    return root if root and os.path.isabs(root) else None


def local_path(pv, root):
    """The directory of ``pv`` when it is one of this host's local volumes (below ``root``, existing), else ``None``."""
    spec = (pv or {}).get("spec") or {}
    path = (spec.get("local") or {}).get("path") or (spec.get("hostPath") or {}).get("path")
    if not path or not root:
        return None
    path = os.path.normpath(path)
    if os.path.dirname(path) != os.path.normpath(root) or not os.path.isdir(path) or os.path.islink(path):
        return None
    return path


def pv_node(pv):
    """The node a local PV is pinned to (its ``kubernetes.io/hostname`` affinity), or ``None``."""
    terms = ((((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")
    for term in terms or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == HOSTNAME_LABEL and expr.get("operator") == "In" and expr.get("values"):
                return expr["values"][0]
    return None


def node_names(client):
    dummy, data = client.raw("GET", "/api/v1/nodes")
    return sorted((n.get("metadata") or {}).get("name") for n in (data or {}).get("items") or [])


def ensure_storage_class(client, root):
    """Create the StorageClass when missing; returns True when it was (or would be) created."""
    current = get(client, "%s/%s" % (SC_PATH, STORAGE_CLASS))
    if current is not None:
        meta = current.get("metadata") or {}
        have = (meta.get("annotations") or {}).get(ROOT_ANNOTATION)
        if have != root and (meta.get("labels") or {}).get(VOLUME_LABEL) == "true":
            # ours, from another cluster's etcd snapshot: this cluster's volumes live in its own directory
            client.raw("PATCH", "%s/%s" % (SC_PATH, STORAGE_CLASS), _query(client),
                       body={"metadata": {"annotations": {ROOT_ANNOTATION: root}}},
                       headers={"Content-Type": "application/merge-patch+json"})
            return True
        if have != root:
            raise AdharError("StorageClass %s exists with volume root %r, not %s: it was made by something else; "
                             "delete it or leave nodes.volumes unset" % (STORAGE_CLASS, have, root), option="nodes.volumes")
        return False
    client.raw("POST", SC_PATH, _query(client), body=storage_class_body(root))
    return True


def ensure_pool(client, root, count, capacity=DEFAULT_CAPACITY):
    """The StorageClass and at least ``count`` Available local PVs (directories made first); returns
    ``{"storage_class": created?, "created": [pv names], "available": n}``.  In dry run nothing is made."""
    dry = getattr(client, "dry_run", False)
    sc_created = ensure_storage_class(client, root)
    dummy, data = client.raw("GET", PV_PATH, {"labelSelector": "%s=true" % VOLUME_LABEL})
    pvs = (data or {}).get("items") or []
    names = {(p.get("metadata") or {}).get("name") for p in pvs}
    free = [p for p in pvs if ((p.get("status") or {}).get("phase") == "Available"
                               and not (p.get("spec") or {}).get("claimRef"))]
    nodes = [n for n in node_names(client) if n]
    created = []
    missing = max(0, count - len(free))
    if missing and not nodes:
        raise AdharError("nodes.volumes: local volumes need at least one node (nodes.count is 0)", option="nodes.volumes")
    index = 0
    while len(created) < missing:
        name = "adhar-pv-%04d" % index
        index += 1
        if name in names:
            continue
        node = nodes[(index - 1) % len(nodes)]
        if not dry:
            os.makedirs(os.path.join(root, name), mode=0o777, exist_ok=True)
            os.chmod(os.path.join(root, name), 0o777)  # any pod user may write, as a fresh local disk's mount point
        client.raw("POST", PV_PATH, _query(client), body=pv_body(name, root, node, capacity))
        created.append(name)
    return {"storage_class": sc_created, "created": created, "available": len(free) + len(created)}


def restore_pv_name(namespace, pvc, uid=None):
    """The PV a restore creates for PVC ``namespace/pvc`` (stable per PVC object)."""
    digest = hashlib.sha256(("%s/%s/%s" % (namespace, pvc, uid or "")).encode("utf-8")).hexdigest()[:12]
    return "adhar-restored-%s" % digest
