# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``adhar.platform.mesh_info``: is every ordered pair of mesh members configured, reachable and synced?

For a pair (source, dest):

* configured - the source holds an etcd client config for dest that points at dest's current kvstore endpoint
  (local member: ``config/clustermesh/<dest>``; Cilium release: dest in ``clustermesh.config.clusters``);
* reachable - a TLS connection to dest's kvstore with the source's client certificate (the one its agents use for
  remote clusters) and the mesh CA is accepted and etcd answers ``/health``;
* synced - dest's clustermesh-apiserver is ready, its kvstore holds the sync canary for services, and every Service
  of dest annotated ``service.cilium.io/global: "true"`` is in dest's kvstore (read over that same connection).
"""

from __future__ import annotations

import base64
import os
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._etcd.maintenance import EtcdTarget
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import local
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.task import Mesh, _client, check_inputs

GLOBAL_ANNOTATION = "service.cilium.io/global"
SERVICES_PREFIX = "cilium/state/services/v1/"
REMOTE_CERT_SECRET = "clustermesh-apiserver-remote-cert"


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def prefix_end(prefix):
    """etcd's range_end for every key starting with ``prefix``."""
    raw = bytearray(prefix.encode("utf-8"))
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode("ascii")


def kv_keys(target, endpoint, prefix):
    data = target.call(endpoint, "/v3/kv/range", {"key": _b64(prefix), "range_end": prefix_end(prefix),
                                                  "keys_only": True})
    return sorted(base64.b64decode(kv["key"]).decode("utf-8", "replace") for kv in data.get("kvs") or [])


def global_services(f):
    """``["ns/name"]`` of dest's Services annotated global (read from its API server)."""
    with _client(f["k8s"]) as client:
        _status, data = client.raw("GET", "/api/v1/services")
    out = []
    for svc in (data or {}).get("items") or []:
        meta = svc.get("metadata") or {}
        if str((meta.get("annotations") or {}).get(GLOBAL_ANNOTATION, "")).lower() == "true":
            out.append("%s/%s" % (meta.get("namespace"), meta.get("name")))
    return sorted(out)


class Info(Mesh):
    def remote_tls(self, f):
        """Client TLS files of ``f`` for its peers' kvstores."""
        if f["kind"] == "local":
            files = local.remote_tls(f)
            if not f.get("mesh") or not all(os.path.isfile(p) for p in files.values()):
                raise AdharError("%s is not in the mesh (no ClusterMesh certificates)" % f["name"])
            return files
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.runtime import write_private
        with _client(f["k8s"]) as client:
            status, secret = client.raw("GET", "/api/v1/namespaces/%s/secrets/%s" % (f["namespace"], REMOTE_CERT_SECRET),
                                        raise_for_status=False)
        if status != 200:
            raise AdharError("Secret %s/%s not found" % (f["namespace"], REMOTE_CERT_SECRET))
        files = {}
        for key, name in (("ca.crt", "ca_file"), ("tls.crt", "cert_file"), ("tls.key", "key_file")):
            path = os.path.join(self.scratch.path, "%s-%s" % (f["name"], key))
            write_private(path, base64.b64decode((secret.get("data") or {}).get(key) or "").decode())
            files[name] = path
        return files

    def own_health(self, f):
        if f["kind"] == "local":
            if not f.get("mesh"):
                return False, "%s is not in the mesh" % f["name"]
            return local.health(f)
        with _client(f["k8s"]) as client:
            status, dep = client.raw("GET", "/apis/apps/v1/namespaces/%s/deployments/clustermesh-apiserver"
                                     % f["namespace"], raise_for_status=False)
        if status != 200:
            return False, "%s has no clustermesh-apiserver Deployment" % f["name"]
        ready = (dep.get("status") or {}).get("readyReplicas") or 0
        return bool(ready), "clustermesh-apiserver of %s: %d ready replicas" % (f["name"], ready)

    @staticmethod
    def configured(src, dst):
        if not dst.get("endpoint"):
            return False, "%s has no clustermesh endpoint (not in the mesh)" % dst["name"]
        if src["kind"] == "local":
            have = local.configured_endpoint(src, dst["name"])
            if have is None:
                return False, "%s is not configured for %s" % (src["name"], dst["name"])
            if have != dst["endpoint"]:
                return False, "%s points at %s for %s, which is at %s" % (src["name"], have, dst["name"], dst["endpoint"])
            return True, None
        if dst["name"] not in src.get("configured", {}):
            return False, "%s's release has no clustermesh.config.clusters entry for %s" % (src["name"], dst["name"])
        return True, None

    def table(self):
        facts = self.gather(require_supervisor=False)
        timeout = float(self.p.get("timeout") or 5)
        rows, reasons = [], []
        health = {f["name"]: self.own_health(f) for f in facts}
        gsvc = {}
        for f in facts:
            try:
                gsvc[f["name"]] = global_services(f)
            except Exception as exc:  # pylint: disable=broad-except
                gsvc[f["name"]] = exc
        for src in facts:
            try:
                tls = self.remote_tls(src)
            except AdharError as exc:
                tls = exc
            for dst in facts:
                if dst is src:
                    continue
                row = {"source": src["name"], "dest": dst["name"], "endpoint": dst.get("endpoint"),
                       "configured": False, "reachable": False, "synced": False, "global_services": None,
                       "reasons": []}
                ok, why = self.configured(src, dst)
                row["configured"] = ok
                if why:
                    row["reasons"].append(why)
                if dst.get("endpoint") and not isinstance(tls, AdharError):
                    endpoint = dst["endpoint"] if "://" in dst["endpoint"] else "https://" + dst["endpoint"]
                    target = EtcdTarget([endpoint], tls, description="kvstore of %s" % dst["name"], timeout=timeout)
                    alive, why = target.health(endpoint, timeout)
                    row["reachable"] = alive
                    if not alive:
                        row["reasons"].append("%s cannot reach the kvstore of %s at %s: %s"
                                              % (src["name"], dst["name"], endpoint, why))
                    else:
                        self.sync_check(row, target, endpoint, dst, health[dst["name"]], gsvc[dst["name"]])
                elif isinstance(tls, AdharError):
                    row["reasons"].append("%s has no client certificate for its peers: %s" % (src["name"], tls.msg))
                rows.append(row)
                reasons += ["%s -> %s: %s" % (src["name"], dst["name"], r) for r in row["reasons"]]
        healthy = bool(rows) and all(r["configured"] and r["reachable"] and r["synced"] for r in rows)
        if not rows:
            reasons.append("a mesh of one member has no pairs to check")
        return {"healthy": healthy, "reasons": reasons, "table": rows,
                "members": [self.row(f, facts) for f in facts]}

    @staticmethod
    def sync_check(row, target, endpoint, dst, own_health, services):
        ok, why = own_health
        if not ok:
            row["reasons"].append(why)
            return
        try:
            canary = kv_keys(target, endpoint, "cilium/synced/%s/" % dst["name"])
            keys = kv_keys(target, endpoint, "%s%s/" % (SERVICES_PREFIX, dst["name"]))
        except AdharError as exc:
            row["reasons"].append("reading the kvstore of %s failed: %s" % (dst["name"], exc.msg))
            return
        if not any(k.endswith(SERVICES_PREFIX.rstrip("/")) for k in canary):
            row["reasons"].append("the kvstore of %s has not finished its first sync of services" % dst["name"])
            return
        if isinstance(services, Exception):
            row["reasons"].append("cannot list the Services of %s: %s" % (dst["name"], services))
            return
        have = {k[len(SERVICES_PREFIX) + len(dst["name"]) + 1:] for k in keys}
        missing = [s for s in services if s not in have]
        row["global_services"] = len(services)
        row["global_services_seen"] = sorted(s for s in services if s in have)
        if missing:
            row["reasons"].append("global services of %s not in its kvstore: %s" % (dst["name"], ", ".join(missing)))
            return
        row["synced"] = True


def run_info(module):
    """The ``mesh_info`` module."""
    start = time.monotonic()
    params = dict(module.params, state="present", mesh_ca_cert=None, mesh_ca_key=None)
    check_inputs(params)
    info = Info(params, True, False, module.warn)
    try:
        result = info.table()
    finally:
        info.close()
    result["duration"] = round(time.monotonic() - start, 2)
    return result
