# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake Google Cloud REST server (GKE, Cloud DNS, Compute Engine health checks) that validates every request.

There is no GKE emulator, so this process stands in for
``container.googleapis.com`` (and ``compute.googleapis.com/compute/v1``,
``dns.googleapis.com``) on 127.0.0.1.  Every request is first checked against
Google's own discovery documents as bundled by google-api-python-client (a
test-only dependency): the method must exist for the path and HTTP verb, path
parameters must match their patterns, query parameters must be the method's
or the API's global ones with the right types, and the JSON body must match
the request schema recursively (``$ref``, arrays, maps through
``additionalProperties``, enums, int64 as strings, integers, booleans); an
unknown field or a wrong type answers 400 and is recorded, and tests assert
the record is empty.

Behind the validator, a small in-memory GKE: clusters with node pools,
long-running operations that complete after ``--op-delay`` seconds, one
operation per cluster at a time (as GKE), label fingerprints, master version
steps of one minor version, node pool version updates (``nodePools.update``
with ``nodeVersion``: never past the master, nor more than two minor versions
at once), and the Compute Engine instance group managers
of node pools (their ``targetSize``); and a small Cloud DNS (managed zones,
record sets with routing policies, changes) with the global Compute Engine
health checks its routing policies name (``FakeCloudDns``).  ``POST /token`` is an OAuth 2.0 token
endpoint for service-account JWT assertions.

Control endpoints (not validated, not Google's): ``GET /_fake/calls`` (the
request log), ``POST /_fake/reset`` (clear the log), ``GET /_fake/state``.

Run ``python gcp_fake.py --port N``; tests use ``serve`` (a fixture body)
which starts it as its own process and stops it by its pid.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

DOCUMENTS = ("container.v1.json", "compute.v1.json", "dns.v1.json")
INT32 = (-2 ** 31, 2 ** 31 - 1)
UINT32 = (0, 2 ** 32 - 1)


def documents_dir():
    import googleapiclient  # test-only dependency; imported lazily so the module loads without it
    return os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")


# ---------------------------------------------------------------------------------------------- validation

class DiscoveryValidator:
    """Checks requests against discovery documents: ``check(verb, path, query, body) -> (method id, params, errors)``."""

    def __init__(self, names=DOCUMENTS, directory=None):
        directory = directory or documents_dir()
        self.docs = {}
        self.methods = []  # (doc name, method id, verb, regex, has custom verb, method)
        for name in names:
            with open(os.path.join(directory, name)) as f:
                doc = json.load(f)
            self.docs[doc["name"]] = doc
            for method in self._walk(doc.get("resources") or {}):
                template = doc["servicePath"] + method["path"]
                custom_verb = re.search(r":[A-Za-z]+$", template) is not None
                self.methods.append((doc["name"], method["id"], method["httpMethod"], _template_regex(template),
                                     custom_verb, method))

    def _walk(self, resources):
        for res in resources.values():
            yield from (res.get("methods") or {}).values()
            yield from self._walk(res.get("resources") or {})

    def check(self, verb, path, query, body):
        """``(api, method id, path params, errors)``; ``method id`` is None when no method matches."""
        path = urllib.parse.unquote(path.lstrip("/"))
        candidates, verb_mismatch = [], []
        for api, mid, hverb, regex, custom, method in self.methods:
            m = regex.fullmatch(path)
            if not m:
                continue
            params = m.groupdict()
            if not custom and ":" in path.rsplit("/", 1)[-1]:
                continue
            problems = self._path_params(method, params)
            if problems:
                continue
            if hverb != verb:
                verb_mismatch.append(mid)
                continue
            candidates.append((api, mid, params, method))
        if not candidates:
            if verb_mismatch:
                return None, None, {}, ["%s %s: no method for this verb (the path is %s)"
                                        % (verb, path, ", ".join(verb_mismatch))]
            return None, None, {}, ["%s %s: no method of %s has this path" % (verb, path, ", ".join(sorted(self.docs)))]
        api, mid, params, method = candidates[0]
        errors = self._query(api, method, query) + self._body(api, method, body)
        return api, mid, params, errors

    @staticmethod
    def _path_params(method, params):
        problems = []
        for name, value in params.items():
            spec = (method.get("parameters") or {}).get(name)
            if spec is None or spec.get("location") != "path":
                problems.append("%s is not a path parameter" % name)
            elif spec.get("pattern") and not re.fullmatch(spec["pattern"].lstrip("^").rstrip("$"), value):
                problems.append("path parameter %s=%r does not match %s" % (name, value, spec["pattern"]))
        return problems

    def _query(self, api, method, query):
        errors = []
        allowed = dict(self.docs[api].get("parameters") or {})
        allowed.update({k: v for k, v in (method.get("parameters") or {}).items() if v.get("location") == "query"})
        for name, values in query.items():
            spec = allowed.get(name)
            if spec is None:
                errors.append("query parameter %r is not a parameter of %s" % (name, method["id"]))
                continue
            if len(values) > 1 and not spec.get("repeated"):
                errors.append("query parameter %r is given %d times" % (name, len(values)))
            for v in values:
                errors.extend(_scalar_string("query parameter " + name, v, spec))
        return errors

    def _body(self, api, method, body):
        request = method.get("request")
        if request is None:
            return [] if body in (None, b"") else ["%s takes no request body" % method["id"]]
        if body in (None, b""):
            return ["%s needs a JSON body (%s)" % (method["id"], request["$ref"])]
        try:
            value = json.loads(body)
        except ValueError as exc:
            return ["the body is not JSON: %s" % exc]
        errors = []
        self.value(api, value, request, "body", errors)
        return errors

    def value(self, api, value, schema, where, errors):
        """Validate ``value`` against ``schema`` of document ``api``; problems are appended to ``errors``."""
        if "$ref" in schema:
            schema = self.docs[api]["schemas"][schema["$ref"]]
        kind = schema.get("type")
        if kind == "any":
            return
        if kind == "object":
            if not isinstance(value, dict):
                errors.append("%s: expected an object (%s), got %s" % (where, schema.get("id", "map"), _json_type(value)))
                return
            props = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if key in props:
                    self.value(api, item, props[key], "%s.%s" % (where, key), errors)
                elif extra is not None:
                    self.value(api, item, extra, "%s[%r]" % (where, key), errors)
                else:
                    errors.append("%s: unknown field %r (not in %s)" % (where, key, schema.get("id", "the schema")))
            return
        if kind == "array":
            if not isinstance(value, list):
                errors.append("%s: expected an array, got %s" % (where, _json_type(value)))
                return
            for i, item in enumerate(value):
                self.value(api, item, schema.get("items") or {}, "%s[%d]" % (where, i), errors)
            return
        errors.extend(_scalar(where, value, schema))


def _template_regex(template):
    out, pos = [], 0
    for m in re.finditer(r"\{(\+?)([A-Za-z0-9_.]+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        group = re.sub(r"\W", "_", m.group(2))
        out.append("(?P<%s>%s)" % (group, ".+?" if m.group(1) else "[^/]+?"))
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def _json_type(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _scalar(where, value, schema):
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "string":
        if fmt in ("int64", "uint64"):
            # proto3 JSON: 64-bit integers travel as decimal strings (numbers are accepted too)
            if isinstance(value, bool) or not (isinstance(value, int) or
                                               (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
                return ["%s: expected an %s as a decimal string, got %s" % (where, fmt, _json_type(value))]
            return []
        if not isinstance(value, str):
            return ["%s: expected a string, got %s" % (where, _json_type(value))]
        if schema.get("enum") and value not in schema["enum"]:
            return ["%s: %r is not one of %s" % (where, value, ", ".join(schema["enum"]))]
        return []
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return ["%s: expected an integer, got %s" % (where, _json_type(value))]
        lo, hi = UINT32 if fmt == "uint32" else INT32
        if not lo <= value <= hi:
            return ["%s: %d is out of range for %s" % (where, value, fmt or "int32")]
        return []
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return ["%s: expected a number, got %s" % (where, _json_type(value))]
        return []
    if kind == "boolean":
        if not isinstance(value, bool):
            return ["%s: expected a boolean, got %s" % (where, _json_type(value))]
        return []
    return ["%s: the schema has no type I know (%r)" % (where, kind)]


def _scalar_string(where, text, spec):
    """A query parameter (always text) against its declared type."""
    kind = spec.get("type")
    if kind == "boolean" and text not in ("true", "false"):
        return ["%s: %r is not a boolean" % (where, text)]
    if kind == "integer" and not re.fullmatch(r"-?\d+", text):
        return ["%s: %r is not an integer" % (where, text)]
    if kind == "string" and spec.get("format") in ("int64", "uint64") and not re.fullmatch(r"-?\d+", text):
        return ["%s: %r is not an integer" % (where, text)]
    if spec.get("enum") and text not in spec["enum"]:
        return ["%s: %r is not one of %s" % (where, text, ", ".join(spec["enum"]))]
    return []


# ---------------------------------------------------------------------------------------------- the fake GKE

VERSIONS = {"1.30": "1.30.9-gke.1000", "1.31": "1.31.5-gke.1000", "1.32": "1.32.2-gke.1000", "1.33": "1.33.1-gke.1000"}
CHANNEL_DEFAULT = {"RAPID": "1.33", "REGULAR": "1.32", "STABLE": "1.31", "EXTENDED": "1.30", "UNSPECIFIED": "1.32"}
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nZmFrZSBDQQ==\n-----END CERTIFICATE-----\n").decode()


class ApiError(Exception):
    def __init__(self, code, status, message):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def _fingerprint(labels):
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _resolve_version(text, channel="REGULAR"):
    if not text or text in ("latest", "-"):
        return VERSIONS[CHANNEL_DEFAULT.get(channel, "1.32")] if not text else VERSIONS["1.33"]
    m = re.fullmatch(r"(1\.\d+)(\.\d+(-gke\.\d+)?)?", text)
    if not m or m.group(1) not in VERSIONS:
        raise ApiError(400, "INVALID_ARGUMENT", "Master version %r is unsupported." % text)
    if m.group(3):
        return text
    if m.group(2):
        return "%s-gke.1000" % text
    return VERSIONS[m.group(1)]


def _version_key(version):
    """1.31.5-gke.1000 -> [1, 31, 5, 1000], for ordering versions."""
    return [int(x) for x in re.findall(r"\d+", version)]


# The clusters' API endpoints: loopback addresses on port 1, where nothing listens. A client that follows a kubeconfig
# the fake's clusters give (the config export's Helm, say) is refused at once and never leaves this machine.
PRIVATE_ENDPOINT = "127.0.1.2:1"


def _endpoint(index):
    return "127.0.0.%d:1" % (index + 10)


class FakeGke:
    def __init__(self, base_url, op_delay):
        self.base_url = base_url
        self.op_delay = op_delay
        self.clusters = {}   # "projects/p/locations/l/clusters/c" -> cluster resource
        self.igms = {}       # "projects/p/zones/z/instanceGroupManagers/n" -> target size
        self.ops = {}        # operation name -> {"op": ..., "done_at": t, "apply": fn, "cluster": key}
        self.ids = itertools.count(1)
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ operations

    def _settle(self):
        now = time.monotonic()
        for entry in self.ops.values():
            if entry["op"]["status"] != "DONE" and now >= entry["done_at"]:
                entry["apply"]()
                entry["op"]["status"] = "DONE"
                entry["op"]["endTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def _busy(self, key):
        for entry in self.ops.values():
            if entry["cluster"] == key and entry["op"]["status"] != "DONE":
                raise ApiError(400, "FAILED_PRECONDITION", "Operation %s is currently operating on cluster %s. Please "
                                                           "wait and try again." % (entry["op"]["name"], key.rsplit("/", 1)[-1]))

    def _operation(self, key, kind, target, apply):
        project, location = key.split("/")[1], key.split("/")[3]
        name = "operation-%d-%s" % (next(self.ids), hashlib.sha1(target.encode()).hexdigest()[:8])
        op = {"name": name, "operationType": kind, "status": "RUNNING", "zone": location, "location": location,
              "selfLink": "%sv1/projects/%s/locations/%s/operations/%s" % (self.base_url, project, location, name),
              "targetLink": self.base_url + "v1/" + target,
              "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.ops[name] = {"op": op, "done_at": time.monotonic() + self.op_delay, "apply": apply, "cluster": key}
        return dict(op)

    def _cluster(self, key):
        cluster = self.clusters.get(key)
        if cluster is None:
            raise ApiError(404, "NOT_FOUND", "Not found: %s." % key)
        return cluster

    @staticmethod
    def _pool(cluster, name):
        for pool in cluster.get("nodePools") or []:
            if pool["name"] == name:
                return pool
        raise ApiError(404, "NOT_FOUND", "Not found: node pool %r." % name)

    # ------------------------------------------------------------------ resources

    def _zones(self, location):
        return [location + s for s in ("-b", "-c", "-d")] if re.fullmatch(r"[a-z]+-[a-z]+\d+", location) else [location]

    def _new_pool(self, key, cluster, body):
        project = key.split("/")[1]
        pool = json.loads(json.dumps(body))
        pool.setdefault("config", {}).setdefault("machineType", "e2-medium")
        pool["config"].setdefault("diskSizeGb", 100)
        pool["config"].setdefault("imageType", "COS_CONTAINERD")
        pool.setdefault("initialNodeCount", 3)
        pool["version"] = cluster["currentNodeVersion"]
        pool["locations"] = cluster["locations"]
        pool["status"] = "PROVISIONING"
        pool["selfLink"] = "%sv1/%s/nodePools/%s" % (self.base_url, key, pool["name"])
        pool["instanceGroupUrls"] = []
        for zone in cluster["locations"]:
            igm = "projects/%s/zones/%s/instanceGroupManagers/gke-%s-%s-grp" % (project, zone, cluster["name"], pool["name"])
            self.igms[igm] = pool["initialNodeCount"]
            group = igm.replace("instanceGroupManagers", "instanceGroups")
            pool["instanceGroupUrls"].append(self.base_url + "compute/v1/" + group)
        return pool

    def _count_nodes(self, cluster):
        total = 0
        for pool in cluster.get("nodePools") or []:
            for url in pool["instanceGroupUrls"]:
                total += self.igms.get(url.split("compute/v1/", 1)[1].replace("instanceGroups", "instanceGroupManagers"), 0)
        cluster["currentNodeCount"] = total

    def create_cluster(self, parent, body):
        spec = body["cluster"]
        key = "%s/clusters/%s" % (parent, spec.get("name"))
        if not re.fullmatch(r"[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?", spec.get("name") or ""):
            raise ApiError(400, "INVALID_ARGUMENT", "Invalid cluster name %r." % spec.get("name"))
        if key in self.clusters:
            raise ApiError(409, "ALREADY_EXISTS", "Already exists: %s." % key)
        if not spec.get("nodePools"):
            raise ApiError(400, "INVALID_ARGUMENT", "Cluster.node_pools must be set (this fake needs them).")
        location = parent.split("/")[3]
        channel = (spec.get("releaseChannel") or {}).get("channel") or "REGULAR"
        version = _resolve_version(spec.get("initialClusterVersion"), channel)
        private = dict(spec.get("privateClusterConfig") or {})
        if private.get("enablePrivateEndpoint"):
            private["privateEndpoint"] = PRIVATE_ENDPOINT
        if private.get("enablePrivateNodes"):
            private.setdefault("masterIpv4CidrBlock", "172.16.0.0/28")
            private["publicEndpoint"] = _endpoint(len(self.clusters))
        labels = dict(spec.get("resourceLabels") or {})
        cluster = {
            "name": spec["name"], "location": location, "zone": location, "locations": self._zones(location),
            "status": "PROVISIONING", "endpoint": _endpoint(len(self.clusters)),
            "masterAuth": {"clusterCaCertificate": FAKE_CA},
            "initialClusterVersion": version, "currentMasterVersion": version, "currentNodeVersion": version,
            "releaseChannel": {"channel": channel}, "network": spec.get("network") or "default",
            "subnetwork": spec.get("subnetwork") or "default", "resourceLabels": labels,
            "labelFingerprint": _fingerprint(labels),
            "selfLink": "%sv1/%s" % (self.base_url, key), "createTime": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for field in ("workloadIdentityConfig", "ipAllocationPolicy"):
            if spec.get(field):
                cluster[field] = spec[field]
        if private:
            cluster["privateClusterConfig"] = private
        cluster["nodePools"] = [self._new_pool(key, cluster, p) for p in spec["nodePools"]]
        self._count_nodes(cluster)
        self.clusters[key] = cluster

        def done():
            cluster["status"] = "RUNNING"
            for pool in cluster["nodePools"]:
                pool["status"] = "RUNNING"
        return self._operation(key, "CREATE_CLUSTER", key, done)

    def update_cluster(self, key, body):
        cluster = self._cluster(key)
        self._busy(key)
        update = body.get("update") or {}
        desired = [k for k, v in update.items() if k.startswith("desired") and v is not None]
        if len(desired) != 1:
            raise ApiError(400, "INVALID_ARGUMENT", "Exactly one update can be applied to a cluster with each request "
                                                    "(got %s)." % (", ".join(desired) or "none"))
        field = desired[0]
        cluster["status"] = "RECONCILING"
        if field == "desiredMasterVersion":
            new = _resolve_version(update[field], cluster["releaseChannel"]["channel"])
            cur_minor = int(cluster["currentMasterVersion"].split(".")[1])
            new_minor = int(new.split(".")[1])
            if new_minor < cur_minor or new_minor > cur_minor + 1:
                raise ApiError(400, "INVALID_ARGUMENT", "Master cannot be upgraded from %s to %s."
                               % (cluster["currentMasterVersion"], new))

            def apply():
                cluster["currentMasterVersion"] = new
        elif field == "desiredReleaseChannel":
            def apply():
                cluster["releaseChannel"] = {"channel": update[field].get("channel") or "UNSPECIFIED"}
        elif field == "desiredWorkloadIdentityConfig":
            def apply():
                pool = update[field].get("workloadPool")
                if pool:
                    cluster["workloadIdentityConfig"] = {"workloadPool": pool}
                else:
                    cluster.pop("workloadIdentityConfig", None)
        else:
            raise ApiError(400, "INVALID_ARGUMENT", "This fake does not implement %s." % field)

        def done():
            apply()
            cluster["status"] = "RUNNING"
        return self._operation(key, "UPDATE_CLUSTER", key, done)

    def set_labels(self, key, body):
        cluster = self._cluster(key)
        self._busy(key)
        if body.get("labelFingerprint") != cluster["labelFingerprint"]:
            raise ApiError(412, "FAILED_PRECONDITION", "Labels could not be set due to fingerprint mismatch.")
        labels = dict(body.get("resourceLabels") or {})
        cluster["resourceLabels"] = labels
        cluster["labelFingerprint"] = _fingerprint(labels)
        return self._operation(key, "SET_LABELS", key, lambda: None)

    def delete_cluster(self, key):
        cluster = self._cluster(key)
        self._busy(key)
        cluster["status"] = "STOPPING"

        def done():
            for pool in cluster.get("nodePools") or []:
                for url in pool["instanceGroupUrls"]:
                    self.igms.pop(url.split("compute/v1/", 1)[1].replace("instanceGroups", "instanceGroupManagers"), None)
            self.clusters.pop(key, None)
        return self._operation(key, "DELETE_CLUSTER", key, done)

    def create_pool(self, key, body):
        cluster = self._cluster(key)
        self._busy(key)
        spec = body["nodePool"]
        if any(p["name"] == spec.get("name") for p in cluster["nodePools"]):
            raise ApiError(409, "ALREADY_EXISTS", "Already exists: node pool %r." % spec.get("name"))
        pool = self._new_pool(key, cluster, spec)
        cluster["nodePools"].append(pool)
        self._count_nodes(cluster)

        def done():
            pool["status"] = "RUNNING"
        return self._operation(key, "CREATE_NODE_POOL", "%s/nodePools/%s" % (key, pool["name"]), done)

    def set_autoscaling(self, key, name, body):
        cluster = self._cluster(key)
        self._busy(key)
        pool = self._pool(cluster, name)
        a = body.get("autoscaling") or {}
        if a.get("enabled") and a.get("minNodeCount", 0) > a.get("maxNodeCount", 0):
            raise ApiError(400, "INVALID_ARGUMENT", "minNodeCount is greater than maxNodeCount.")
        pool["autoscaling"] = a if a.get("enabled") else {}
        if not pool["autoscaling"]:
            pool.pop("autoscaling")
        return self._operation(key, "SET_NODE_POOL_MANAGEMENT", "%s/nodePools/%s" % (key, name), lambda: None)

    def set_size(self, key, name, body):
        cluster = self._cluster(key)
        self._busy(key)
        pool = self._pool(cluster, name)
        count = body.get("nodeCount", 0)

        def done():
            for url in pool["instanceGroupUrls"]:
                self.igms[url.split("compute/v1/", 1)[1].replace("instanceGroups", "instanceGroupManagers")] = count
            self._count_nodes(cluster)
        return self._operation(key, "SET_NODE_POOL_SIZE", "%s/nodePools/%s" % (key, name), done)

    def update_pool(self, key, name, body):
        """``nodePools.update``: this fake implements the version change (``nodeVersion``, with ``imageType``)."""
        cluster = self._cluster(key)
        self._busy(key)
        pool = self._pool(cluster, name)
        missing = [f for f in ("nodeVersion", "imageType") if not body.get(f)]
        if missing:
            raise ApiError(400, "INVALID_ARGUMENT", "UpdateNodePoolRequest: %s is required." % " and ".join(missing))
        others = sorted(k for k in body if k not in ("nodeVersion", "imageType", "name"))
        if others:
            raise ApiError(400, "INVALID_ARGUMENT", "This fake implements node version updates only (got %s)."
                           % ", ".join(others))
        if body["imageType"] != pool["config"]["imageType"]:
            raise ApiError(400, "INVALID_ARGUMENT", "This fake does not change the image type (%s to %s)."
                           % (pool["config"]["imageType"], body["imageType"]))
        master = cluster["currentMasterVersion"]
        new = master if body["nodeVersion"] == "-" else _resolve_version(body["nodeVersion"])
        if _version_key(new) > _version_key(master):
            raise ApiError(400, "INVALID_ARGUMENT", "Node version %s cannot be newer than the master's %s." % (new, master))
        if _version_key(new)[1] - _version_key(pool["version"])[1] > 2:
            raise ApiError(400, "INVALID_ARGUMENT", "Node pool %s cannot be upgraded from %s to %s: more than two minor "
                                                    "versions." % (name, pool["version"], new))
        pool["status"] = "RECONCILING"

        def done():
            pool["version"] = new
            pool["status"] = "RUNNING"
            cluster["currentNodeVersion"] = min((p["version"] for p in cluster["nodePools"]), key=_version_key)
        return self._operation(key, "UPGRADE_NODES", "%s/nodePools/%s" % (key, name), done)

    def get_operation(self, name):
        entry = self.ops.get(name.rsplit("/", 1)[-1])
        if entry is None:
            raise ApiError(404, "NOT_FOUND", "Not found: operation %s." % name)
        return dict(entry["op"])

    def get_igm(self, path):
        if path not in self.igms:
            raise ApiError(404, "notFound", "The resource '%s' was not found" % path)
        return {"name": path.rsplit("/", 1)[-1], "zone": path.split("/")[3], "targetSize": self.igms[path],
                "kind": "compute#instanceGroupManager"}

    # ------------------------------------------------------------------ dispatch

    def handle(self, method_id, params, body):
        """The answer of a validated request as ``(status, dict)``."""
        with self.lock:
            self._settle()
            b = json.loads(body) if body else {}
            if method_id == "container.projects.locations.clusters.get":
                return self._cluster(params["name"])
            if method_id == "container.projects.locations.clusters.create":
                return self.create_cluster(params["parent"], b)
            if method_id == "container.projects.locations.clusters.update":
                return self.update_cluster(params["name"], b)
            if method_id == "container.projects.locations.clusters.setResourceLabels":
                return self.set_labels(params["name"], b)
            if method_id == "container.projects.locations.clusters.delete":
                return self.delete_cluster(params["name"])
            if method_id == "container.projects.locations.clusters.nodePools.create":
                return self.create_pool(params["parent"], b)
            if method_id in ("container.projects.locations.clusters.nodePools.setAutoscaling",
                             "container.projects.locations.clusters.nodePools.setSize"):
                key, name = params["name"].rsplit("/nodePools/", 1)
                if method_id.endswith("setSize"):
                    return self.set_size(key, name, b)
                return self.set_autoscaling(key, name, b)
            if method_id == "container.projects.locations.clusters.nodePools.update":
                key, name = params["name"].rsplit("/nodePools/", 1)
                return self.update_pool(key, name, b)
            if method_id == "container.projects.locations.clusters.nodePools.get":
                key, name = params["name"].rsplit("/nodePools/", 1)
                return self._pool(self._cluster(key), name)
            if method_id == "container.projects.locations.operations.get":
                return self.get_operation(params["name"])
            if method_id == "compute.instanceGroupManagers.get":
                return self.get_igm("projects/%s/zones/%s/instanceGroupManagers/%s"
                                    % (params["project"], params["zone"], params["instanceGroupManager"]))
            raise ApiError(501, "UNIMPLEMENTED", "This fake does not implement %s." % method_id)

    def state(self):
        with self.lock:
            self._settle()
            return {"clusters": self.clusters, "instance_group_managers": self.igms}


class FakeCloudDns:
    """Cloud DNS managed zones, record sets and changes, and the global Compute Engine health checks they name.

    As the real service: a change's deletions must match the current record set exactly (else 412
    conditionNotMet), an addition may not meet an existing (name, type) (409 alreadyExists), a CNAME shares its
    name with nothing, every name must be inside the zone; a change is ``pending`` until ``op_delay`` has passed.
    A health check named by a record set's routing policy cannot be deleted (400 resourceInUseByAnotherResource).
    """

    METHODS = ("dns.", "compute.healthChecks.", "compute.globalOperations.get")

    def __init__(self, op_delay):
        self.op_delay = op_delay
        self.zones = {}    # (project, zone name) -> zone
        self.rrsets = {}   # (project, zone name) -> {(name, type): rrset}
        self.changes = {}  # (project, zone name) -> {id: (change, done_at)}
        self.checks = {}   # (project, name) -> health check
        self.ops = {}      # operation name -> operation
        self.ids = itertools.count(1)

    def handles(self, method_id):
        return method_id.startswith(self.METHODS)

    def _zone(self, project, name):
        if (project, name) not in self.zones:
            raise ApiError(404, "notFound", "The 'parameters.managedZone' resource named '%s' does not exist." % name)
        return self.zones[(project, name)]

    @staticmethod
    def _clean(rrset):
        def clean(value):
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items() if k != "kind"}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value
        return clean(rrset)

    def _change(self, project, zone_name, body):
        zone = self._zone(project, zone_name)
        current = self.rrsets.setdefault((project, zone_name), {})
        after = dict(current)
        for d in body.get("deletions") or []:
            key = (d.get("name"), d.get("type"))
            if key not in after or self._clean(after[key]) != self._clean(d):
                raise ApiError(412, "conditionNotMet", "Precondition not met for 'entity.change.deletions[%s]'" % (key,))
            del after[key]
        for a in body.get("additions") or []:
            key = (a.get("name"), a.get("type"))
            if not key[0] or not key[1]:
                raise ApiError(400, "required", "Required field: name and type of every addition")
            if not (key[0] == zone["dnsName"] or key[0].endswith("." + zone["dnsName"])):
                raise ApiError(400, "invalid", "The record %s is not inside the zone %s" % (key[0], zone["dnsName"]))
            if key in after:
                raise ApiError(409, "alreadyExists", "The resource 'entity.change.additions[%s]' already exists" % (key,))
            if any(n == key[0] and (t == "CNAME") != (key[1] == "CNAME") for n, t in after):
                raise ApiError(409, "alreadyExists", "A CNAME cannot share its name %s with other types" % key[0])
            policy = a.get("routingPolicy") or {}
            if not a.get("rrdatas") and not policy:
                raise ApiError(400, "invalid", "The record %s has neither rrdatas nor a routing policy" % key[0])
            checked = any("healthCheckedTargets" in i for p in ("geo", "wrr") for i in (policy.get(p) or {}).get("items") or [])
            if (checked or "primaryBackup" in policy) and not policy.get("healthCheck"):
                raise ApiError(400, "invalid", "Health-checked external endpoints need routingPolicy.healthCheck")
            hc = policy.get("healthCheck")
            if hc and (project, hc.rsplit("/", 1)[-1]) not in self.checks:
                raise ApiError(400, "invalid", "The health check %s does not exist" % hc)
            after[key] = dict(a, kind="dns#resourceRecordSet")
        self.rrsets[(project, zone_name)] = after
        cid = str(next(self.ids))
        change = dict(self._clean(body), id=cid, kind="dns#change", status="pending",
                      startTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.changes.setdefault((project, zone_name), {})[cid] = (change, time.monotonic() + self.op_delay)
        return dict(change)

    def _get_change(self, project, zone_name, cid):
        self._zone(project, zone_name)
        entry = self.changes.get((project, zone_name), {}).get(cid)
        if entry is None:
            raise ApiError(404, "notFound", "The 'parameters.changeId' resource named '%s' does not exist." % cid)
        change, done_at = entry
        if time.monotonic() >= done_at:
            change["status"] = "done"
        return dict(change)

    def _op(self, project, kind, target):
        name = "operation-%d-glb" % next(self.ids)
        op = {"kind": "compute#operation", "name": name, "operationType": kind, "status": "DONE",
              "targetLink": "https://www.googleapis.com/compute/v1/projects/%s/global/healthChecks/%s" % (project, target)}
        self.ops[name] = op
        return dict(op)

    def _check_in_use(self, project, name):
        for (p, dummy), sets in self.rrsets.items():
            for rr in sets.values():
                hc = (rr.get("routingPolicy") or {}).get("healthCheck") or ""
                if p == project and hc.rsplit("/", 1)[-1] == name:
                    raise ApiError(400, "resourceInUseByAnotherResource", "The health check %s is used by the record "
                                                                          "set %s %s" % (name, rr["name"], rr["type"]))

    def handle(self, method_id, params, body, query):
        b = json.loads(body) if body else {}
        p = params.get("project")
        if method_id == "dns.managedZones.create":
            if (p, b.get("name")) in self.zones:
                raise ApiError(409, "alreadyExists", "The managed zone %s already exists" % b.get("name"))
            zone = dict(b, id=str(next(self.ids)), kind="dns#managedZone", nameServers=["ns-cloud-a1.googledomains.com."])
            self.zones[(p, b["name"])] = zone
            return zone
        if method_id == "dns.managedZones.list":
            wanted = (query.get("dnsName") or [None])[0]
            return {"kind": "dns#managedZonesListResponse", "managedZones": [
                z for (zp, dummy), z in sorted(self.zones.items()) if zp == p and wanted in (None, z["dnsName"])]}
        if method_id == "dns.managedZones.get":
            return self._zone(p, params["managedZone"])
        if method_id == "dns.resourceRecordSets.list":
            self._zone(p, params["managedZone"])
            name, rtype = (query.get("name") or [None])[0], (query.get("type") or [None])[0]
            sets = self.rrsets.get((p, params["managedZone"]), {})
            return {"kind": "dns#resourceRecordSetsListResponse", "rrsets": [
                rr for (n, t), rr in sorted(sets.items()) if name in (None, n) and rtype in (None, t)]}
        if method_id == "dns.changes.create":
            return self._change(p, params["managedZone"], b)
        if method_id == "dns.changes.get":
            return self._get_change(p, params["managedZone"], params["changeId"])
        if method_id == "compute.healthChecks.insert":
            if (p, b.get("name")) in self.checks:
                raise ApiError(409, "alreadyExists", "The resource 'projects/%s/global/healthChecks/%s' already exists"
                               % (p, b.get("name")))
            if b.get("sourceRegions") and len(b["sourceRegions"]) != 3:
                raise ApiError(400, "invalid", "sourceRegions: exactly 3 regions should be specified")
            if b.get("sourceRegions") and (b.get("checkIntervalSec") or 5) < 30:
                raise ApiError(400, "invalid", "checkIntervalSec must be at least 30 with sourceRegions")
            self.checks[(p, b["name"])] = dict(b, id=str(next(self.ids)), kind="compute#healthCheck",
                                               selfLink="https://www.googleapis.com/compute/v1/projects/%s/global/"
                                                        "healthChecks/%s" % (p, b["name"]))
            return self._op(p, "insert", b["name"])
        if method_id == "compute.healthChecks.list":
            return {"kind": "compute#healthCheckList",
                    "items": [c for (cp, dummy), c in sorted(self.checks.items()) if cp == p]}
        if method_id in ("compute.healthChecks.get", "compute.healthChecks.delete"):
            key = (p, params["healthCheck"])
            if key not in self.checks:
                raise ApiError(404, "notFound", "The resource 'projects/%s/global/healthChecks/%s' was not found" % key)
            if method_id.endswith("get"):
                return self.checks[key]
            self._check_in_use(p, key[1])
            del self.checks[key]
            return self._op(p, "delete", key[1])
        if method_id == "compute.globalOperations.get":
            if params["operation"] not in self.ops:
                raise ApiError(404, "notFound", "The resource operation %s was not found" % params["operation"])
            return dict(self.ops[params["operation"]])
        raise ApiError(501, "UNIMPLEMENTED", "This fake does not implement %s." % method_id)

    def state(self):
        return {"managed_zones": {"%s/%s" % k: z for k, z in self.zones.items()},
                "rrsets": {"%s/%s" % k: list(v.values()) for k, v in self.rrsets.items()},
                "health_checks": {"%s/%s" % k: c for k, c in self.checks.items()}}


# ---------------------------------------------------------------------------------------------- HTTP

def make_server(port, op_delay):
    validator = DiscoveryValidator()
    calls, lock = [], threading.Lock()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), None)
    fake = FakeGke("http://127.0.0.1:%d/" % server.server_address[1], op_delay)
    dns = FakeCloudDns(op_delay)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urllib.parse.urlsplit(self.path)
            if url.path.startswith("/_fake/"):
                return self._control(url.path)
            if url.path == "/token" and self.command == "POST":
                return self._token(body)
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            api, mid, params, errors = validator.check(self.command, url.path, query, body)
            entry = {"verb": self.command, "path": url.path, "query": url.query, "method": mid, "api": api,
                     "write": self.command != "GET", "errors": errors}
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                errors.append("no bearer token in the Authorization header")
            if errors:
                entry["status"] = 400
                with lock:
                    calls.append(entry)
                return self._send(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                  "message": "request does not match the discovery document: "
                                                             + "; ".join(errors)}})
            try:
                if dns.handles(mid):
                    with fake.lock:
                        status, payload = 200, dns.handle(mid, params, body, query)
                else:
                    status, payload = 200, fake.handle(mid, params, body)
            except ApiError as exc:
                status, payload = exc.code, {"error": {"code": exc.code, "status": exc.status, "message": exc.message}}
            entry["status"] = status
            with lock:
                calls.append(entry)
            return self._send(status, payload)

        def _control(self, path):
            if path == "/_fake/calls":
                with lock:
                    return self._send(200, {"calls": list(calls)})
            if path == "/_fake/reset" and self.command == "POST":
                with lock:
                    calls.clear()
                return self._send(200, {})
            if path == "/_fake/state":
                with fake.lock:
                    return self._send(200, dict(fake.state(), dns=dns.state()))
            return self._send(404, {"error": {"code": 404, "message": "no such control endpoint"}})

        def _token(self, body):
            form = urllib.parse.parse_qs(body.decode())
            assertion = (form.get("assertion") or [""])[0]
            entry = {"verb": "POST", "path": "/token", "method": "oauth2.token", "api": "oauth2", "write": False,
                     "errors": []}
            parts = assertion.split(".")
            if (form.get("grant_type") or [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer" or len(parts) != 3:
                entry["errors"].append("not a JWT bearer grant")
                entry["status"] = 400
                with lock:
                    calls.append(entry)
                return self._send(400, {"error": "invalid_grant"})
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            entry["status"] = 200
            entry["claims"] = {k: claims.get(k) for k in ("iss", "aud", "scope")}
            with lock:
                calls.append(entry)
            return self._send(200, {"access_token": "fake-sa-token-%d" % len(calls), "expires_in": 3600,
                                    "token_type": "Bearer"})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    server.RequestHandlerClass = Handler
    return server


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--op-delay", type=float, default=0.5)
    args = ap.parse_args(argv)
    server = make_server(args.port, args.op_delay)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()
    server.server_close()


# ---------------------------------------------------------------------------------------------- the fixture

def _server_base():
    from moto_server import MotoServer
    return MotoServer


class FakeServer(_server_base()):
    """The fake as its own process; port choice, ``log_tail()`` and ``stop()`` (by its pid only) are moto_server's."""

    def __init__(self, log_path, op_delay=0.5):
        super().__init__(log_path)
        self.url += "/"
        self.op_delay = op_delay

    def start(self, timeout=30.0):
        import pytest
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--port", str(self.port),
                                          "--op-delay", str(self.op_delay)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("gcp_fake exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                self.calls()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        pytest.fail("gcp_fake did not answer on %s within %ss:\n%s" % (self.url, timeout, self.log_tail()))

    def _json(self, path, method="GET"):
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def calls(self):
        return self._json("_fake/calls")["calls"]

    def reset(self):
        self._json("_fake/reset", method="POST")

    def state(self):
        return self._json("_fake/state")

    def writes(self):
        return [(c["verb"], c["method"]) for c in self.calls() if c["write"]]

    def rejected(self):
        return [c for c in self.calls() if c["errors"]]


def serve(tmp_path_factory):
    """Yield a started ``FakeServer`` (its own process); stop it afterwards (a fixture body)."""
    server = FakeServer(str(tmp_path_factory.mktemp("gcp-fake") / "gcp_fake.log")).start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    main()
