# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Cloud DNS backend of the glb module (REST v1 through ``_gcp``).

Cloud DNS keeps a routing policy on one record set (name, type): ``geo``
items by location, ``wrr`` items by weight, or ``primaryBackup`` (primary
targets health-checked, backup answered by geolocation).  Cloud DNS has no
latency policy: ``algorithm=latency`` is written as ``geo`` with each
cluster's region as its location, and the result's ``notes`` say so.

The per-cluster records of the result (and of the diff) are the policy's
items keyed on the cluster: a ``geo`` item by its location, a ``wrr`` or
failover item by the cluster's own endpoint.

Health checks: Cloud DNS checks external endpoints through one global
Compute Engine health check named on the routing policy (``healthCheck``),
probed from exactly three source regions; the items then carry
``healthCheckedTargets.externalEndpoints`` (IP addresses) instead of
``rrdatas``.  The module owns one such check per record, named
``adhar-glb-<record hash>-<settings hash>``; a settings change makes a new one
and deletes the old one after the record changed.

Every record change is one ``changes.create`` (the old record set deleted
and the new one added atomically), waited until ``done``.
"""

from __future__ import annotations

import hashlib
import re

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.runner import keyed_changes, poll_until, record_key
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import endpoint_kind, fail

GCP_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
# the three regions a health check probes from when the clusters name fewer than three
DEFAULT_SOURCE_REGIONS = ("us-central1", "europe-west1", "asia-southeast1")
NAME_PREFIX = "adhar-glb-"
LATENCY_NOTE = ("Cloud DNS has no latency-based routing: algorithm=latency is served as geolocation by each cluster's "
                "region (clients are answered by the cluster of the region nearest to them)")


def _h(text, n):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def _location(opts, c):
    if opts["algorithm"] == "latency":
        return c.get("region")
    return c.get("location") or c.get("region")


class CloudDnsBackend:

    def check_options(self, opts):
        if opts["state"] != "present":
            return
        algorithm = opts["algorithm"]
        seen = {}
        for i, c in enumerate(opts["clusters"]):
            where = "clusters[%d]" % i
            if c.get("alias_hosted_zone_id"):
                raise fail(where + ".alias_hosted_zone_id", "alias targets are Route 53 only")
            if c.get("region") and not GCP_REGION_RE.match(c["region"]):
                raise fail(where + ".region", "%r is not a Google Cloud region (like us-east1)" % c["region"])
            needs_location = algorithm in ("latency", "geolocation") or (algorithm == "failover")
            if not needs_location:
                continue
            loc = _location(opts, c)
            option = where + (".region" if algorithm == "latency" or not c.get("location") else ".location")
            if not loc:
                raise fail(option, "algorithm=%s on Cloud DNS needs the Google Cloud region of every cluster (cluster %s "
                                   "has none)" % (algorithm, c["name"]))
            if not GCP_REGION_RE.match(loc):
                raise fail(option, "%r is not a Google Cloud region (like us-east1)" % loc)
            if algorithm != "failover" and loc in seen:
                raise fail(option, "clusters %s and %s share the location %s; Cloud DNS answers one item per location"
                           % (seen[loc], c["name"], loc))
            seen[loc] = c["name"]
        hc = opts["health_check"]
        if algorithm == "failover" and not hc:
            raise fail("health_check", "Cloud DNS failover (primaryBackup) needs health-checked primary targets; leave "
                                       "health_check.enabled on")
        if hc and hc["interval"] != 30:
            raise fail("health_check.interval", "Cloud DNS probes external endpoints from three source regions, which "
                                                "takes an interval of at least 30 seconds; got %s" % hc["interval"])

    def check_plan(self, opts, rtype, members):
        if opts["health_check"]:
            names = [m["cluster"] for m in members if endpoint_kind(m["endpoint"]) == "CNAME"]
            if names:
                raise fail("health_check", "Cloud DNS health-checks IP addresses only (clusters %s have host names); "
                                           "give IP endpoints or set health_check.enabled=false" % ", ".join(names))

    def notes(self, opts):
        return [LATENCY_NOTE] if opts["algorithm"] == "latency" and opts["state"] == "present" else []

    # ----------------------------------------------------------------------------------------- I/O

    def apply(self, params, opts, rtype, members, check_mode):
        from ansible_collections.adhar.platform.plugins.module_utils._gcp.client import GcpConnection

        conn = GcpConnection(params, "glb %s" % opts["name"])
        project = conn.project
        zone = self._zone(conn, project, opts)
        base = "dns/v1/projects/%s/managedZones/%s" % (project, zone)
        existing = [r for r in self._rrsets(conn, base, opts["fqdn"]) if r["type"] in ("A", "AAAA", "CNAME")]
        prefix = "%s%s-" % (NAME_PREFIX, _h("%s|%s|%s" % (project, zone, opts["fqdn"]), 12))
        checks = self._checks(conn, project, prefix)

        hc_name, hc_body = None, None
        if members is not None and opts["health_check"]:
            hc_body = _check_body(opts, members)
            hc_name = prefix + _h(repr(sorted((k, repr(v)) for k, v in hc_body.items())), 8)
            hc_body["name"] = hc_name
        stale = [c["name"] for c in checks if c["name"] != hc_name]
        create_check = hc_name is not None and hc_name not in [c["name"] for c in checks]
        hc_url = "https://www.googleapis.com/compute/v1/projects/%s/global/healthChecks/%s" % (project, hc_name) \
            if hc_name else None

        desired = _rrset(opts, rtype, members, hc_url) if members is not None else None
        by_endpoint = {m["endpoint"].rstrip("."): m["cluster"] for m in members or []}
        by_location = {_location(opts, c): c["name"] for c in opts["clusters"]}
        before, after = {}, {}
        for r in existing:
            before.update(_items(r, by_endpoint, by_location))
        if desired:
            after.update(_items(desired, by_endpoint, by_location))
        plan = keyed_changes(before, after)
        deletions = [r for r in existing if desired is None or _strip(r) != _strip(desired)]
        additions = [desired] if desired and desired not in [_strip(r) for r in existing] else []
        if not plan and (deletions or additions):
            plan = [("UPSERT", k) for k in sorted(after)]
        summary = [{"action": a, "name": k.split(" ")[0], "type": k.split(" ")[1], "set_identifier": k.split(" ", 2)[2]}
                   for a, k in plan]
        if create_check:
            summary.append({"action": "CREATE", "health_check_of": opts["fqdn"], "name": hc_name})
        summary += [{"action": "DELETE", "health_check": n} for n in stale]
        result = {"changes": summary, "before": before, "after": after, "zone_id": zone, "change_id": None,
                  "health_checks": [{"cluster": m["cluster"], "id": hc_name} for m in members or [] if hc_name]}
        if check_mode or not summary:
            return result
        if create_check:
            op = conn.call("POST", "projects/%s/global/healthChecks" % project, body=hc_body, api="compute",
                           what="health_check")
            self._wait_operation(conn, project, op, opts["wait_timeout"])
        if deletions or additions:
            body = {"additions": additions, "deletions": deletions}
            change = conn.call("POST", base + "/changes", body=body, api="dns", what="record")
            result["change_id"] = change.get("id")
            if opts["wait"]:
                self._wait_change(conn, base, change, opts["wait_timeout"])
        for name in stale:
            op = conn.call("DELETE", "projects/%s/global/healthChecks/%s" % (project, name), api="compute",
                           what="health_check")
            self._wait_operation(conn, project, op, opts["wait_timeout"])
        return result

    @staticmethod
    def _zone(conn, project, opts):
        if opts.get("zone_id"):
            return opts["zone_id"]
        found = conn.call("GET", "dns/v1/projects/%s/managedZones" % project, query={"dnsName": opts["zone"]},
                          api="dns", what="zone")
        zones = [z for z in found.get("managedZones") or [] if z.get("dnsName", "").lower() == opts["zone"]]
        if not zones:
            raise AdharError("zone: no Cloud DNS managed zone with the DNS name %s in project %s" % (opts["zone"], project),
                             option="zone")
        if len(zones) > 1:
            raise AdharError("zone: %d managed zones have the DNS name %s (%s); give zone_id" % (
                len(zones), opts["zone"], ", ".join(z["name"] for z in zones)), option="zone_id")
        return zones[0]["name"]

    @staticmethod
    def _rrsets(conn, base, name):
        out, query = [], {"name": name}
        while True:
            page = conn.call("GET", base + "/rrsets", query=query, api="dns", what="record")
            out.extend(page.get("rrsets") or [])
            if not page.get("nextPageToken"):
                return out
            query["pageToken"] = page["nextPageToken"]

    @staticmethod
    def _checks(conn, project, prefix):
        out, query = [], {}
        while True:
            page = conn.call("GET", "projects/%s/global/healthChecks" % project, query=query or None, api="compute",
                             what="health_check")
            out.extend(c for c in page.get("items") or [] if c.get("name", "").startswith(prefix))
            if not page.get("nextPageToken"):
                return out
            query["pageToken"] = page["nextPageToken"]

    @staticmethod
    def _wait_change(conn, base, change, timeout):
        poll_until(change, lambda c: c.get("status") == "done",
                   lambda c: conn.call("GET", "%s/changes/%s" % (base, c["id"]), api="dns", what="record"), timeout,
                   lambda c: AdharError("wait_timeout: Cloud DNS change %s is still %s after %ss" % (
                       c.get("id"), c.get("status"), timeout), option="wait_timeout", change_id=c.get("id")))

    @staticmethod
    def _wait_operation(conn, project, op, timeout):
        op = poll_until(op, lambda o: o.get("status") == "DONE",
                        lambda o: conn.call("GET", "projects/%s/global/operations/%s" % (project, o["name"]),
                                            api="compute", what="health_check"), timeout,
                        lambda o: AdharError("wait_timeout: Compute Engine operation %s is still %s after %ss" % (
                            o.get("name"), o.get("status"), timeout), option="wait_timeout"))
        if op.get("error"):
            errors = (op["error"].get("errors") or [{}])
            raise AdharError("health_check: Compute Engine operation %s failed: %s" % (
                op.get("name"), "; ".join(e.get("message", str(e)) for e in errors)), option="health_check")


def _check_body(opts, members):
    hc = opts["health_check"]
    regions = []
    for c in opts["clusters"]:
        if c.get("region") and c["region"] not in regions:
            regions.append(c["region"])
    for r in DEFAULT_SOURCE_REGIONS:
        if len(regions) < 3 and r not in regions:
            regions.append(r)
    body = {"type": hc["protocol"], "checkIntervalSec": hc["interval"], "timeoutSec": 5,
            "unhealthyThreshold": hc["threshold"], "healthyThreshold": 1, "sourceRegions": regions[:3],
            "description": "adhar glb %s: %s" % (opts["name"], opts["fqdn"])}
    if hc["protocol"] == "TCP":
        body["tcpHealthCheck"] = {"port": hc["port"]}
    else:
        body["%sHealthCheck" % hc["protocol"].lower()] = {"port": hc["port"], "requestPath": hc["path"]}
    return body


def _targets(m, checked):
    if checked:
        return {"healthCheckedTargets": {"externalEndpoints": list(m["values"])}}
    return {"rrdatas": [_rrdata(v) for v in m["values"]]}


def _rrdata(value):
    return value.rstrip(".") + "." if endpoint_kind(value) == "CNAME" else value


def _rrset(opts, rtype, members, hc_url):
    checked = hc_url is not None
    algorithm = opts["algorithm"]
    policy = {}
    if algorithm in ("latency", "geolocation"):
        by_name = {c["name"]: c for c in opts["clusters"]}
        items = [dict({"location": _location(opts, by_name[m["cluster"]])}, **_targets(m, checked)) for m in members]
        policy["geo"] = {"items": sorted(items, key=lambda i: i["location"])}
    elif algorithm == "weighted":
        policy["wrr"] = {"items": [dict({"weight": float(m["weight"])}, **_targets(m, checked)) for m in members]}
    else:
        by_name = {c["name"]: c for c in opts["clusters"]}
        primary = [m for m in members if m["failover"] == "PRIMARY"][0]
        backup = [m for m in members if m["failover"] == "SECONDARY"][0]
        policy["primaryBackup"] = {
            "primaryTargets": {"externalEndpoints": list(primary["values"])},
            "backupGeoTargets": {"items": [dict({"location": _location(opts, by_name[backup["cluster"]])},
                                                **_targets(backup, False))]},
            "trickleTraffic": 0.0,
        }
    if checked:
        policy["healthCheck"] = hc_url
    return {"name": opts["fqdn"], "type": rtype, "ttl": opts["ttl"], "routingPolicy": policy}


def _strip(rrset):
    """A record set as this module writes it (without ``kind`` and other output-only fields)."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "kind"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    out = clean({k: rrset.get(k) for k in ("name", "type", "ttl", "routingPolicy", "rrdatas") if k in rrset})
    pb = (out.get("routingPolicy") or {}).get("primaryBackup")
    if pb is not None:
        pb.setdefault("trickleTraffic", 0.0)
        pb["trickleTraffic"] = float(pb["trickleTraffic"])
    for item in ((out.get("routingPolicy") or {}).get("wrr") or {}).get("items") or []:
        item["weight"] = float(item.get("weight", 0))
    return out


def _item_values(item):
    return sorted((item.get("healthCheckedTargets") or {}).get("externalEndpoints") or item.get("rrdatas") or [])


def _items(rrset, by_endpoint, by_location):
    """The per-cluster records of a Cloud DNS record set, keyed by ``record_key``."""
    name, rtype, ttl = rrset["name"], rrset["type"], rrset.get("ttl")
    policy = rrset.get("routingPolicy") or {}
    hc = policy.get("healthCheck")
    out = {}

    def add(set_id, **fields):
        rec = {"name": name, "type": rtype, "set_identifier": set_id, "ttl": ttl, "health_check": hc}
        rec.update(fields)
        out[record_key(name, rtype, set_id)] = rec

    if "geo" in policy:
        for item in policy["geo"].get("items") or []:
            add(by_location.get(item["location"], "location:%s" % item["location"]), location=item["location"],
                values=_item_values(item))
    elif "wrr" in policy:
        for n, item in enumerate(policy["wrr"].get("items") or []):
            values = _item_values(item)
            owner = next((by_endpoint[v.rstrip(".")] for v in values if v.rstrip(".") in by_endpoint), None)
            add(owner or "item-%d" % n, weight=float(item.get("weight", 0)), values=values)
    elif "primaryBackup" in policy:
        pb = policy["primaryBackup"]
        primary = sorted((pb.get("primaryTargets") or {}).get("externalEndpoints") or [])
        add(by_endpoint.get(primary[0], "primary") if primary else "primary", failover="PRIMARY", values=primary)
        for item in (pb.get("backupGeoTargets") or {}).get("items") or []:
            values = _item_values(item)
            add(next((by_endpoint[v.rstrip(".")] for v in values if v.rstrip(".") in by_endpoint),
                     "backup:%s" % item.get("location")),
                failover="SECONDARY", location=item.get("location"), values=values)
    else:
        add("(no routing policy)", values=sorted(rrset.get("rrdatas") or []))
    return out
