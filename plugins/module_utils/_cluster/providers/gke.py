# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider ``gke``: a Google Kubernetes Engine cluster with node pools, through the REST API.

One run is: check the input (no calls) -> read the cluster (its node pools
come with it) -> plan -> write.  Every error in the first steps stops the
task before any write call; an unchanged cluster costs one read (plus one
Compute Engine read per zone of a fixed-size pool whose ``node_count`` is
given).  google-auth supplies the credentials and the kubeconfig's access
token; requests carries the calls (``_gcp.client``).

Every write returns a long-running operation, followed until it is DONE
(``operations.get``, backoff doubling from 1 to 10 seconds) under one
``wait_timeout`` for the whole task.  GKE runs one operation per cluster at a
time, so the writes go one after the other: master version
(``clusters.update`` with ``desiredMasterVersion``, one minor version per
step), release channel and Workload Identity (``clusters.update``), labels
(``setResourceLabels`` with the label fingerprint), then node pools
(``nodePools.create``, ``setAutoscaling``, ``setSize``), and last the node
pools whose minor version is behind the master's are brought to the master's
version (``nodePools.update`` with ``nodeVersion``, one pool at a time,
``gke.upgrade_nodes``).
"""

from __future__ import annotations

import ipaddress
import re
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.cloud import CloudProvider
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.eks import LOCAL_ONLY

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED", "UNSPECIFIED")
NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
ZONE_RE = re.compile(r"^([a-z]+-[a-z]+[0-9]+)-[a-z]$")
VERSION_RE = re.compile(r"^(1)\.(\d{1,3})(?:\.(\d{1,3})(?:-gke\.(\d{1,9}))?)?$")
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
MACHINE_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
NETWORK_RE = re.compile(r"^(?:projects/[^/]+/(?:global|regions/[^/]+)/(?:networks|subnetworks)/)?[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")

DEFAULT_MACHINE_TYPE = "e2-standard-4"
DEFAULT_NODE_COUNT = 1


def parse_version(value, option="kubernetes_version"):
    """``(major, minor, patch or None, gke build or None)`` of a GKE version; ``latest`` gives ``None``."""
    text = str(value).strip()
    if text == "latest":
        return None
    m = VERSION_RE.match(text.lstrip("v"))
    if not m:
        raise AdharError("%s: %r is not a GKE version (1.31, 1.31.4, 1.31.4-gke.1000 or latest)" % (option, value),
                         option=option)
    return tuple(int(g) if g is not None else None for g in m.groups())


def version_matches(want, current):
    """True when the running ``current`` version is what ``want`` (a prefix such as 1.31 or 1.31.4) asks for."""
    cur = parse_version(current, "currentMasterVersion")
    return all(w is None or w == c for w, c in zip(parse_version(want), cur))


def version_step_error(current, want, option="kubernetes_version"):
    """Why ``current`` -> ``want`` is not one GKE master upgrade (``None`` when it is)."""
    cur, new = parse_version(current, "currentMasterVersion"), parse_version(want)
    # Parts the task leaves out (1.31 has no patch) count as the running ones.
    new = tuple(c if w is None else w for w, c in zip(new, cur))
    if new < cur:
        return "%s: cannot downgrade the master from %s to %s" % (option, current, want)
    if new[1] > cur[1] + 1:
        return ("%s: GKE upgrades the master one minor version at a time; from %s the next step is 1.%d, not %s. Run "
                "the task once per version" % (option, current, cur[1] + 1, want))
    return None


def pool_behind(pool_version, target):
    """True when a node pool on ``pool_version`` is behind ``target`` (the master's version, or the one asked for).

    ``target`` counts with the precision it is written in: ``1.32`` compares minor versions (a pool on 1.32.1 is not
    behind), ``1.32.2-gke.1000`` compares everything.  A master on a full version compares by minor version, so the
    patch releases GKE's auto-upgrade rolls out do not make every run touch the pools.
    """
    have, want = parse_version(pool_version, "node pool version"), parse_version(target)
    size = sum(1 for part in want if part is not None)
    return have[:size] < want[:size]


def _basename(value):
    return value.rsplit("/", 1)[-1] if value else value


class GkeProvider(CloudProvider):
    name = "gke"
    states = ("present", "absent")
    poll_first = 1.0
    poll_cap = 10.0
    wait_hint = "GKE operations take minutes, raise wait_timeout"
    user_suffix = "-gcp"

    def __init__(self, module, connection=None):
        super().__init__(module)
        self.gke = dict(self.params.get("gke") or {})
        self._gcp = connection
        self.location = self.gke.get("location")

    # ------------------------------------------------------------------ plumbing

    @property
    def gcp(self):
        if self._gcp is None:
            from ansible_collections.adhar.platform.plugins.module_utils._gcp.client import GcpConnection
            self._gcp = GcpConnection(self.params, self.what)
        return self._gcp

    def _path(self, *more):
        path = "v1/projects/%s/locations/%s/clusters/%s" % (self.gcp.project, self.location, self.cluster_name)
        return "/".join((path,) + more)

    def call(self, method, path, body=None, query=None, api="container"):
        return self.gcp.call(method, path, body=body, query=query, api=api, what=self.what)

    # ------------------------------------------------------------------ input (no calls)

    def _check_location(self):
        p = self.params
        loc = self.location
        if not loc:
            raise AdharError("gke.location is required: a region (europe-west1) for a regional cluster or a zone "
                             "(europe-west1-b) for a zonal one", option="gke.location")
        zone = ZONE_RE.match(loc)
        if not zone and not REGION_RE.match(loc):
            raise AdharError("gke.location: %r is neither a region (europe-west1) nor a zone (europe-west1-b)" % loc,
                             option="gke.location")
        if p.get("ha") is True and zone:
            raise AdharError("gke.location: ha needs a regional cluster (control plane and nodes in three zones), but "
                             "%s is a zone; use the region %s" % (loc, zone.group(1)), option="gke.location")
        if p.get("ha") is False and not zone:
            raise AdharError("gke.location: %s is a region, and a regional cluster is highly available; with ha false "
                             "give a zone such as %s-b" % (loc, loc), option="gke.location")

    def _check_input(self):
        p, g = self.params, self.gke
        if not NAME_RE.match(self.cluster_name or ""):
            raise AdharError("name: %r is not a valid GKE cluster name: 1-40 lower-case letters, digits and '-', starting "
                             "with a letter and ending with a letter or digit" % (self.cluster_name,), option="name")
        given_local = [o for o in LOCAL_ONLY if p.get(o) not in (None, {}, [])]
        if given_local:
            raise AdharError("%s: only provider local uses %s; leave %s out for provider gke"
                             % (given_local[0], ", ".join(given_local), "it" if len(given_local) == 1 else "them"),
                             option=given_local[0])
        if p.get("eks"):
            raise AdharError("eks: only provider eks uses it; give the GKE settings in gke", option="eks")
        self._check_location()
        if p.get("kubernetes_version") is not None:
            parse_version(p["kubernetes_version"])
        channel = g.get("release_channel")
        if channel is not None and channel.upper() not in RELEASE_CHANNELS:
            raise AdharError("gke.release_channel: %r is not a GKE release channel (%s)"
                             % (channel, ", ".join(c.lower() for c in RELEASE_CHANNELS)), option="gke.release_channel")
        for opt in ("network", "subnetwork"):
            if g.get(opt) is not None and not NETWORK_RE.match(g[opt]):
                raise AdharError("gke.%s: %r is not a VPC %s name or path" % (opt, g[opt], opt), option="gke." + opt)
        cidr = g.get("master_ipv4_cidr")
        if cidr is not None:
            if not g.get("private_endpoint"):
                raise AdharError("gke.master_ipv4_cidr: only used with private_endpoint true", option="gke.master_ipv4_cidr")
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise AdharError("gke.master_ipv4_cidr: %r is not a CIDR: %s" % (cidr, exc),
                                 option="gke.master_ipv4_cidr") from exc
            if net.version != 4 or net.prefixlen != 28:
                raise AdharError("gke.master_ipv4_cidr: %s must be an IPv4 /28" % cidr, option="gke.master_ipv4_cidr")
        for k, v in (g.get("labels") or {}).items():
            if not LABEL_KEY_RE.match(str(k)) or not LABEL_VALUE_RE.match(str(v)):
                raise AdharError("gke.labels: %s=%s is not a valid label: keys start with a lower-case letter; keys and "
                                 "values hold up to 63 lower-case letters, digits, '-' and '_'" % (k, v),
                                 option="gke.labels")
        seen = set()
        for i, pool in enumerate(g.get("node_pools") or []):
            self._check_pool(i, pool, seen)

    @staticmethod
    def _check_pool(i, pool, seen):
        where = "gke.node_pools[%d]" % i
        if not NAME_RE.match(pool.get("name") or ""):
            raise AdharError("%s.name: %r is not a valid node pool name: 1-40 lower-case letters, digits and '-'"
                             % (where, pool.get("name")), option=where + ".name")
        if pool["name"] in seen:
            raise AdharError("%s.name: node pool %r is listed twice" % (where, pool["name"]), option=where + ".name")
        seen.add(pool["name"])
        if pool.get("machine_type") is not None and not MACHINE_TYPE_RE.match(pool["machine_type"]):
            raise AdharError("%s.machine_type: %r is not a machine type name (e2-standard-4)"
                             % (where, pool["machine_type"]), option=where + ".machine_type")
        for opt in ("min_nodes", "max_nodes", "node_count"):
            if pool.get(opt) is not None and pool[opt] < 0:
                raise AdharError("%s.%s: %d is negative" % (where, opt, pool[opt]), option="%s.%s" % (where, opt))
        lo, hi = pool.get("min_nodes"), pool.get("max_nodes")
        if lo is not None and hi is not None and lo > hi:
            raise AdharError("%s.min_nodes: %d is greater than max_nodes %d" % (where, lo, hi), option=where + ".min_nodes")
        if hi is not None and hi < 1:
            raise AdharError("%s.max_nodes: must be at least 1" % where, option=where + ".max_nodes")
        if pool.get("auto_scale") is False and (lo is not None or hi is not None):
            raise AdharError("%s.%s: only used with auto_scale true" % (where, "min_nodes" if lo is not None else "max_nodes"),
                             option="%s.%s" % (where, "min_nodes" if lo is not None else "max_nodes"))

    # ------------------------------------------------------------------ reads

    def _read(self):
        try:
            return self.call("GET", self._path())
        except AdharError as exc:
            if exc.details.get("status") == 404:
                return None
            raise

    def _pool_sizes(self, pool):
        """Target size of each of the pool's instance groups (one per zone), read from Compute Engine."""
        sizes = []
        for url in pool.get("instanceGroupUrls") or []:
            # .../projects/<p>/zones/<z>/instanceGroups/<name>: the managed group has the same name
            m = re.search(r"projects/[^/]+/zones/[^/]+/instanceGroup(?:Manager)?s/[^/]+$", url)
            if not m:
                continue
            path = m.group(0).replace("/instanceGroups/", "/instanceGroupManagers/")
            sizes.append(int(self.call("GET", path, api="compute").get("targetSize") or 0))
        return sizes

    # ------------------------------------------------------------------ model

    @staticmethod
    def _pool_model(pool):
        a = pool.get("autoscaling") or {}
        return {
            "machine_type": (pool.get("config") or {}).get("machineType"),
            "auto_scale": bool(a.get("enabled")),
            "min_nodes": a.get("minNodeCount") if a.get("enabled") else None,
            "max_nodes": a.get("maxNodeCount") if a.get("enabled") else None,
            "initial_node_count": pool.get("initialNodeCount"),
            "version": pool.get("version"),
        }

    def _cluster_model(self, c):
        if c is None:
            return {"exists": False}
        private = c.get("privateClusterConfig") or {}
        return {
            "exists": True,
            "location": c.get("location") or self.location,
            "version": c.get("currentMasterVersion"),
            "release_channel": ((c.get("releaseChannel") or {}).get("channel") or "UNSPECIFIED"),
            "network": _basename(c.get("network")),
            "subnetwork": _basename(c.get("subnetwork")),
            "private_endpoint": bool(private.get("enablePrivateEndpoint")),
            "workload_pool": (c.get("workloadIdentityConfig") or {}).get("workloadPool") or None,
            "labels": dict(c.get("resourceLabels") or {}),
            "node_pools": {p["name"]: self._pool_model(p)
                           for p in sorted(c.get("nodePools") or [], key=lambda x: x["name"])},
        }

    # ------------------------------------------------------------------ plan

    def _plan(self, cluster):
        p, g = self.params, self.gke
        before = self._cluster_model(cluster)
        steps = []
        channel = g["release_channel"].upper() if g.get("release_channel") else None
        pool_wanted = "%s.svc.id.goog" % self.gcp.project
        if cluster is None:
            if not g.get("node_pools"):
                raise AdharError("gke.node_pools: give at least one node pool to create GKE cluster %s"
                                 % self.cluster_name, option="gke.node_pools")
            after = {
                "exists": True, "location": self.location,
                "version": p.get("kubernetes_version"),
                "release_channel": channel or "REGULAR",
                "network": _basename(g.get("network")) or "default",
                "subnetwork": _basename(g.get("subnetwork")),
                "private_endpoint": bool(g.get("private_endpoint")),
                "workload_pool": pool_wanted if g.get("workload_identity") else None,
                "labels": dict(g.get("labels") or {}),
                "node_pools": {},
            }
            steps.append(("create_cluster", None))
            for i, pool in enumerate(g["node_pools"]):
                after["node_pools"][pool["name"]] = self._new_pool(i, pool)
            return steps, before, after
        after = dict(before, node_pools=dict(before["node_pools"]))
        for opt in ("network", "subnetwork"):
            if g.get(opt) is not None and _basename(g[opt]) != before[opt]:
                raise AdharError("gke.%s: cannot change on an existing cluster (it uses %s, the task asks for %s)"
                                 % (opt, before[opt], _basename(g[opt])), option="gke." + opt)
        if g.get("private_endpoint") is not None and g["private_endpoint"] != before["private_endpoint"]:
            raise AdharError("gke.private_endpoint: cannot change on an existing cluster (it is %s)"
                             % str(before["private_endpoint"]).lower(), option="gke.private_endpoint")
        want = p.get("kubernetes_version")
        if want is not None and want != "latest" and not version_matches(want, before["version"]):
            problem = version_step_error(before["version"], want)
            if problem:
                raise AdharError(problem, option="kubernetes_version", current_version=before["version"])
            steps.append(("update_version", want))
            after["version"] = want
        if channel is not None and channel != before["release_channel"]:
            steps.append(("update_channel", channel))
            after["release_channel"] = channel
        if g.get("workload_identity") is not None:
            wanted = pool_wanted if g["workload_identity"] else None
            if wanted != before["workload_pool"]:
                steps.append(("update_workload_identity", wanted))
                after["workload_pool"] = wanted
        if g.get("labels") is not None and dict(g["labels"]) != before["labels"]:
            steps.append(("set_labels", dict(g["labels"])))
            after["labels"] = dict(g["labels"])
        for i, pool in enumerate(g.get("node_pools") or []):
            self._plan_pool(i, pool, cluster, before, after, steps)
        self._plan_pool_versions(cluster, after, steps)
        return steps, before, after

    def _plan_pool_versions(self, cluster, after, steps):
        """One ``update_pool_version`` step per existing node pool whose minor version is behind the master's."""
        if not self.gke.get("upgrade_nodes", True):
            return
        planned = next((arg for kind, arg in steps if kind == "update_version"), None)
        target = planned or "%d.%d" % parse_version(cluster.get("currentMasterVersion"), "currentMasterVersion")[:2]
        for pool in sorted(cluster.get("nodePools") or [], key=lambda x: x["name"]):
            have = pool.get("version")
            if not have or not pool_behind(have, target):
                continue
            if pool.get("status") in ("STOPPING", "ERROR", "PROVISIONING"):
                self.module.warn("node pool %s runs Kubernetes %s, behind the master's %s, but is %s: its version is "
                                 "left alone" % (pool["name"], have, target, pool["status"]))
                continue
            steps.append(("update_pool_version", (pool["name"], have, target, (pool.get("config") or {}).get("imageType"))))
            after["node_pools"][pool["name"]] = dict(after["node_pools"].get(pool["name"]) or {}, version=target)

    def _new_pool(self, i, pool):
        where = "gke.node_pools[%d]" % i
        if pool.get("auto_scale") and pool.get("max_nodes") is None:
            raise AdharError("%s.max_nodes is required to create node pool %s with auto_scale" % (where, pool["name"]),
                             option=where + ".max_nodes")
        count = pool.get("node_count")
        if count is None:
            count = pool.get("min_nodes") if pool.get("min_nodes") is not None else DEFAULT_NODE_COUNT
        auto = bool(pool.get("auto_scale"))
        lo = (pool.get("min_nodes") if pool.get("min_nodes") is not None else min(count, pool["max_nodes"])) if auto else None
        hi = pool.get("max_nodes") if auto else None
        if auto and not lo <= count <= hi:
            raise AdharError("%s.node_count: %d is outside [min_nodes, max_nodes] = [%d, %d]" % (where, count, lo, hi),
                             option=where + ".node_count")
        return {"machine_type": pool.get("machine_type") or DEFAULT_MACHINE_TYPE, "auto_scale": auto,
                "min_nodes": lo, "max_nodes": hi, "initial_node_count": count, "version": None}

    def _plan_pool(self, i, pool, cluster, before, after, steps):
        where = "gke.node_pools[%d]" % i
        name = pool["name"]
        current = before["node_pools"].get(name)
        if current is None:
            model = self._new_pool(i, pool)
            steps.append(("create_pool", (name, model)))
            after["node_pools"][name] = model
            return
        if pool.get("machine_type") is not None and pool["machine_type"] != current["machine_type"]:
            raise AdharError("%s.machine_type: cannot change on existing node pool %s (it has %s, the task asks for %s); "
                             "create a node pool with another name instead"
                             % (where, name, current["machine_type"], pool["machine_type"]),
                             option=where + ".machine_type")
        auto = current["auto_scale"] if pool.get("auto_scale") is None else pool["auto_scale"]
        if pool.get("auto_scale") is None and (pool.get("min_nodes") is not None or pool.get("max_nodes") is not None):
            auto = True
        lo = hi = None
        if auto:
            lo = pool["min_nodes"] if pool.get("min_nodes") is not None else current["min_nodes"]
            hi = pool["max_nodes"] if pool.get("max_nodes") is not None else current["max_nodes"]
            if hi is None:
                raise AdharError("%s.max_nodes is required to turn autoscaling on for node pool %s" % (where, name),
                                 option=where + ".max_nodes")
            lo = 0 if lo is None else lo
            if lo > hi:
                raise AdharError("%s.min_nodes: %d is greater than max_nodes %d" % (where, lo, hi),
                                 option=where + ".min_nodes")
        model = dict(current)
        if (auto, lo, hi) != (current["auto_scale"], current["min_nodes"], current["max_nodes"]):
            model.update(auto_scale=auto, min_nodes=lo, max_nodes=hi)
            steps.append(("set_autoscaling", (name, model)))
        if not auto and pool.get("node_count") is not None:
            raw = next(p for p in cluster.get("nodePools") or [] if p["name"] == name)
            sizes = self._pool_sizes(raw)
            if any(s != pool["node_count"] for s in sizes):
                steps.append(("set_size", (name, pool["node_count"], sizes)))
                model["node_count"] = pool["node_count"]
        after["node_pools"][name] = model

    # ------------------------------------------------------------------ writes

    def _pool_body(self, name, model, workload_identity):
        config = {"machineType": model["machine_type"]}
        if workload_identity:
            config["workloadMetadataConfig"] = {"mode": "GKE_METADATA"}
        body = {"name": name, "initialNodeCount": model["initial_node_count"], "config": config}
        if model["auto_scale"]:
            body["autoscaling"] = {"enabled": True, "minNodeCount": model["min_nodes"], "maxNodeCount": model["max_nodes"]}
        return body

    def _do_create_cluster(self, dummy, after):
        g, p = self.gke, self.params
        cluster = {
            "name": self.cluster_name,
            "nodePools": [self._pool_body(n, m, after["workload_pool"]) for n, m in after["node_pools"].items()],
            "releaseChannel": {"channel": after["release_channel"]},
            "ipAllocationPolicy": {"useIpAliases": True},
        }
        if p.get("kubernetes_version"):
            cluster["initialClusterVersion"] = p["kubernetes_version"]
        if g.get("network"):
            cluster["network"] = g["network"]
        if g.get("subnetwork"):
            cluster["subnetwork"] = g["subnetwork"]
        if after["labels"]:
            cluster["resourceLabels"] = after["labels"]
        if after["workload_pool"]:
            cluster["workloadIdentityConfig"] = {"workloadPool": after["workload_pool"]}
        if after["private_endpoint"]:
            private = {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
            if g.get("master_ipv4_cidr"):
                private["masterIpv4CidrBlock"] = g["master_ipv4_cidr"]
            cluster["privateClusterConfig"] = private
        parent = "v1/projects/%s/locations/%s" % (self.gcp.project, self.location)
        op = self.call("POST", parent + "/clusters", body={"cluster": cluster})
        self._wait_operation(op, "the creation of the cluster")
        self.actions.append("created GKE cluster %s in %s" % (self.cluster_name, self.location))

    def _update(self, update, what):
        op = self.call("PUT", self._path(), body={"update": update})
        self._wait_operation(op, what)

    def _do_update_version(self, version, dummy):
        self._update({"desiredMasterVersion": version}, "the master update to %s" % version)
        self.actions.append("updated the master version to %s" % version)

    def _do_update_channel(self, channel, dummy):
        self._update({"desiredReleaseChannel": {"channel": channel}}, "the release channel update")
        self.actions.append("set the release channel to %s" % channel)

    def _do_update_workload_identity(self, pool, dummy):
        self._update({"desiredWorkloadIdentityConfig": {"workloadPool": pool or ""}}, "the Workload Identity update")
        self.actions.append("turned Workload Identity %s" % ("on (%s)" % pool if pool else "off"))

    def _do_set_labels(self, labels, dummy):
        # The fingerprint of the labels being replaced: read just now, so a concurrent change is refused, not lost.
        fingerprint = self.call("GET", self._path()).get("labelFingerprint")
        body = {"resourceLabels": labels}
        if fingerprint:
            body["labelFingerprint"] = fingerprint
        op = self.call("POST", self._path() + ":setResourceLabels", body=body)
        self._wait_operation(op, "the label update")
        self.actions.append("set labels: %s" % (", ".join("%s=%s" % kv for kv in sorted(labels.items())) or "none"))

    def _do_create_pool(self, arg, after):
        name, model = arg
        op = self.call("POST", self._path("nodePools"),
                       body={"nodePool": self._pool_body(name, model, after["workload_pool"])})
        self._wait_operation(op, "the creation of node pool %s" % name)
        self.actions.append("created node pool %s" % name)

    def _do_set_autoscaling(self, arg, dummy):
        name, model = arg
        autoscaling = {"enabled": model["auto_scale"]}
        if model["auto_scale"]:
            autoscaling.update(minNodeCount=model["min_nodes"], maxNodeCount=model["max_nodes"])
        op = self.call("POST", self._path("nodePools", name) + ":setAutoscaling", body={"autoscaling": autoscaling})
        self._wait_operation(op, "the autoscaling update of node pool %s" % name)
        self.actions.append(_describe_step(("set_autoscaling", arg))[len("would "):])

    def _do_set_size(self, arg, dummy):
        name, count, dummy_sizes = arg
        op = self.call("POST", self._path("nodePools", name) + ":setSize", body={"nodeCount": count})
        self._wait_operation(op, "the resize of node pool %s" % name)
        self.actions.append("resized node pool %s to %d nodes per zone" % (name, count))

    def _do_update_pool_version(self, arg, dummy):
        name, have, target, image_type = arg
        started = time.monotonic()
        # "-" is GKE's alias for the master's version: the pool lands exactly where the master is.
        body = {"nodeVersion": "-"}
        if image_type:
            body["imageType"] = image_type
        op = self.call("PUT", self._path("nodePools", name), body=body)
        self._wait_operation(op, "the version update of node pool %s" % name)
        self.actions.append("updated node pool %s from Kubernetes %s to the master's version (%s) in %ds"
                            % (name, have, target, round(time.monotonic() - started)))

    # ------------------------------------------------------------------ waiting

    def _wait_operation(self, op, what):
        name = _basename(op.get("name") or "")
        if not name:
            raise AdharError("%s: GKE answered %s without an operation to follow" % (self.what, what))
        path = "v1/projects/%s/locations/%s/operations/%s" % (self.gcp.project, self.location, name)

        def read():
            return op if op.get("status") == "DONE" else self.call("GET", path)

        def done(o):
            if o.get("status") != "DONE":
                return False
            error = o.get("error") or {}
            if error.get("code") or error.get("message"):
                raise AdharError("%s: %s failed: %s" % (self.what, what, error.get("message") or error.get("code")),
                                 operation=name)
            return True
        self._poll(read, done, what)

    def _wait_settled(self, cluster):
        """An earlier run that timed out, or someone else's operation: wait for RUNNING, then read again."""
        self.actions.append("waited for the cluster to leave %s" % cluster.get("status"))

        def done(c):
            if c is None:
                raise AdharError("%s: the cluster disappeared while waiting for it" % self.what)
            if c.get("status") == "ERROR":
                raise AdharError("%s: GKE reports status ERROR: %s" % (self.what, c.get("statusMessage") or "no detail"),
                                 status="ERROR")
            return c.get("status") in ("RUNNING", "DEGRADED")
        return self._poll(self._read, done, "the cluster to be RUNNING")

    # ------------------------------------------------------------------ results

    def _kubeconfig(self, cluster):
        token, expiry = self.gcp.token()
        config = self._token_kubeconfig(self._kubeconfig_server(cluster),
                                        (cluster.get("masterAuth") or {}).get("clusterCaCertificate"), token)
        return config, expiry.strftime("%Y-%m-%dT%H:%M:%SZ") if expiry else None

    def _facts(self, cluster, kubeconfig_path=None):
        pools = []
        for pool in sorted(cluster.get("nodePools") or [], key=lambda x: x["name"]):
            m = self._pool_model(pool)
            pools.append({"name": pool["name"], "status": pool.get("status"), "version": pool.get("version"),
                          "machine_type": m["machine_type"], "auto_scale": m["auto_scale"],
                          "min_nodes": m["min_nodes"], "max_nodes": m["max_nodes"],
                          "initial_node_count": m["initial_node_count"], "locations": pool.get("locations") or []})
        model = self._cluster_model(cluster)
        return {
            "name": self.cluster_name,
            "provider": "gke",
            "project": self.gcp.project,
            "location": self.location,
            "locations": cluster.get("locations") or [],
            "self_link": cluster.get("selfLink"),
            "api_endpoint": self._kubeconfig_server(cluster),
            "version": cluster.get("currentMasterVersion"),
            "server_version": cluster.get("currentMasterVersion"),
            "status": cluster.get("status"),
            "release_channel": model["release_channel"],
            "workload_pool": model["workload_pool"],
            "private_endpoint": model["private_endpoint"],
            "network": model["network"],
            "subnetwork": model["subnetwork"],
            "labels": model["labels"],
            "kubeconfig": kubeconfig_path,
            "context": "adhar-" + self.cluster_name,
            "control_plane": [],
            "node_pools": pools,
            "nodes": {"count": cluster.get("currentNodeCount")},
        }

    @staticmethod
    def _kubeconfig_server(cluster):
        private = cluster.get("privateClusterConfig") or {}
        host = private.get("privateEndpoint") if private.get("enablePrivateEndpoint") else cluster.get("endpoint")
        return "https://%s" % host if host else None

    # ------------------------------------------------------------------ states

    def ensure_present(self):
        self._check_input()
        cluster = self._read()
        if cluster is not None and cluster.get("status") == "STOPPING":
            raise AdharError("%s: the GKE cluster is being deleted; run the task again once it is gone" % self.what,
                             status="STOPPING")
        if cluster is not None and cluster.get("status") in ("PROVISIONING", "RECONCILING") and not self.check_mode:
            cluster = self._wait_settled(cluster)
        steps, before, after = self._plan(cluster)
        result = {"changed": bool(steps), "actions": self.actions, "diff": {"before": before, "after": after}}
        if self.check_mode:
            self.actions.extend(_describe_step(s) for s in steps)
            if cluster is None:
                result["cluster"] = {"name": self.cluster_name, "provider": "gke", "status": None, "node_pools": []}
                return result
        else:
            for kind, arg in steps:
                getattr(self, "_do_" + kind)(arg, after)
            if steps:
                cluster = self._read()
        path = self._add_kubeconfig(result, *self._kubeconfig(cluster))
        result["cluster"] = self._facts(cluster, path)
        return result

    def ensure_absent(self):
        if not NAME_RE.match(self.cluster_name or ""):
            raise AdharError("name: %r is not a valid GKE cluster name" % (self.cluster_name,), option="name")
        self._check_location()
        cluster = self._read()
        result = {"changed": cluster is not None, "actions": self.actions, "cluster": None,
                  "diff": {"before": self._cluster_model(cluster), "after": {"exists": False}}}
        if cluster is not None and self.check_mode:
            self.actions.append("would delete GKE cluster %s and its node pools" % self.cluster_name)
            return result
        if cluster is not None:
            if cluster.get("status") != "STOPPING":
                op = self.call("DELETE", self._path())
                self._wait_operation(op, "the deletion of the cluster")
            self._poll(self._read, lambda c: c is None, "the cluster to be deleted")
            self.actions.append("deleted GKE cluster %s" % self.cluster_name)
        self._unmerge()
        return result


def _describe_step(step):
    kind, arg = step
    if kind == "create_cluster":
        return "would create the GKE cluster"
    if kind == "update_version":
        return "would update the master version to %s" % arg
    if kind == "update_channel":
        return "would set the release channel to %s" % arg
    if kind == "update_workload_identity":
        return "would turn Workload Identity %s" % ("on" if arg else "off")
    if kind == "set_labels":
        return "would set labels: %s" % (", ".join("%s=%s" % kv for kv in sorted(arg.items())) or "none")
    if kind == "create_pool":
        return "would create node pool %s" % arg[0]
    if kind == "set_autoscaling":
        name, m = arg
        if not m["auto_scale"]:
            return "would turn autoscaling off for node pool %s" % name
        return "would autoscale node pool %s between %d and %d nodes per zone" % (name, m["min_nodes"], m["max_nodes"])
    if kind == "update_pool_version":
        return "would update node pool %s from Kubernetes %s to the master's version (%s)" % arg[:3]
    if kind == "set_size":
        return "would resize node pool %s to %d nodes per zone (now %s)" % (arg[0], arg[1], ", ".join(map(str, arg[2])))
    return "would %s" % kind


# The cluster module's ``gke`` option (documented in plugins/modules/cluster.py).
GKE_ARG_SPEC = dict(type="dict", options=dict(
    location=dict(type="str"),
    network=dict(type="str"),
    subnetwork=dict(type="str"),
    release_channel=dict(type="str"),
    private_endpoint=dict(type="bool"),
    master_ipv4_cidr=dict(type="str"),
    workload_identity=dict(type="bool"),
    labels=dict(type="dict"),
    upgrade_nodes=dict(type="bool", default=True),
    node_pools=dict(type="list", elements="dict", options=dict(
        name=dict(type="str", required=True),
        machine_type=dict(type="str"),
        auto_scale=dict(type="bool"),
        min_nodes=dict(type="int"),
        max_nodes=dict(type="int"),
        node_count=dict(type="int"),
    )),
))


def describe(module, name):
    """Provider facts (``_cluster.describe``) of GKE cluster ``name`` in the module's ``location``: one read,
    ``clusters.get`` (node pools come with it), through the GCP connection options of ``module``."""
    from ansible_collections.adhar.platform.plugins.module_utils._cluster import describe as cd

    location = module.params.get("location")
    if not location:
        raise AdharError("location is required with provider=gke: the cluster's region (regional cluster) or zone "
                         "(zonal cluster)", option="location")
    if not NAME_RE.match(name or ""):
        raise AdharError("cluster: %r is not a valid GKE cluster name" % (name,), option="cluster")
    provider = GkeProvider(cd.cloud_module(module, name, gke={"location": location}))
    if not ZONE_RE.match(location) and not REGION_RE.match(location):
        raise AdharError("location: %r is neither a region (europe-west1) nor a zone (europe-west1-b)" % location,
                         option="location")
    cluster = provider._read()
    if cluster is None:
        raise AdharError("cluster: there is no GKE cluster %r in project %s, location %s" % (name, provider.gcp.project, location),
                         option="cluster")
    zone = ZONE_RE.match(location)
    region = zone.group(1) if zone else location
    zones = len(cluster.get("locations") or []) or 1
    model = provider._cluster_model(cluster)
    notes = ["the control plane is run by GKE: its size is not visible; the config leaves controlPlane out"]
    pools, machine_types = [], set()
    lo = hi = 0
    auto = False
    for pool in sorted(cluster.get("nodePools") or [], key=lambda x: x["name"]):
        m = provider._pool_model(pool)
        per_zone = len(pool.get("locations") or []) or zones
        pools.append(dict(m, name=pool["name"], status=pool.get("status"), zones=per_zone))
        machine_types.add(m["machine_type"])
        if m["auto_scale"]:
            auto = True
            lo += (m["min_nodes"] or 0) * per_zone
            hi += (m["max_nodes"] or 0) * per_zone
        else:
            # a fixed-size pool counts in both bounds with the nodes it has
            count = (m["initial_node_count"] or 0) * per_zone
            lo += count
            hi += count
    if len(machine_types) > 1:
        notes.append("the node pools use several machine types (%s): nodeInstanceType is left out"
                     % ", ".join(sorted(t for t in machine_types if t)))
    if any(p["auto_scale"] for p in pools) and not all(p["auto_scale"] for p in pools):
        notes.append("fixed-size node pools count in minNodes and maxNodes with their initial node count")
    private = cluster.get("privateClusterConfig") or {}
    token_config, dummy = provider._kubeconfig(cluster)
    connection, kubeconfig, context = cd.cloud_connection(module, token_config)
    version = cluster.get("currentMasterVersion") or ""
    match = re.match(r"^(\d+\.\d+\.\d+)", version)
    config = {"project_id": provider.gcp.project}
    if zone:
        config["zone"] = location
    return cd.provider_facts(
        name=name, provider="gke", provider_type="gcp", region=region,
        kubernetes_version="v" + match.group(1) if match else None, ha=not zone,
        nodes_count=cluster.get("currentNodeCount"), pod_cidr=cluster.get("clusterIpv4Cidr"),
        service_cidr=cluster.get("servicesIpv4Cidr"),
        encryption_at_rest=(cluster.get("databaseEncryption") or {}).get("state") == "ENCRYPTED",
        kubeconfig=kubeconfig, context=context, connection=connection, notes=notes, status=cluster.get("status"),
        api_endpoint=provider._kubeconfig_server(cluster), auto_scale=auto if pools else None,
        min_nodes=lo if pools else None, max_nodes=hi if pools else None,
        instance_type=next(iter(machine_types)) if len(machine_types) == 1 else None,
        endpoint_public_access=not model["private_endpoint"], endpoint_private_access=bool(private.get("enablePrivateNodes")),
        provider_config=config, node_groups=pools,
    )
