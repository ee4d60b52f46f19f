# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Route 53 backend of the glb module (boto3 through ``_aws``).

One record set per cluster on the record name, its ``SetIdentifier`` the
cluster name, with the routing policy of the algorithm: ``Region`` (latency),
``Weight`` (weighted), ``Failover`` (failover) or ``GeoLocation``
(geolocation).  One health check per cluster endpoint; its
``CallerReference`` is ``adhar-glb-<record hash>-<cluster hash>-<settings
hash>-<nonce>``, so the module finds its own checks by listing and a retried
create cannot make a second one.  A health check's settings never change in
place: a new one is made, the records point to it, and the old one is
deleted after the records changed.

Every record change of a run is one ``ChangeResourceRecordSets`` batch
(atomic on Route 53), waited to ``INSYNC`` with a bounded wait.  A run with
nothing to change makes only reads.
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.runner import keyed_changes, poll_until, record_key
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import fail

CONTINENTS = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
COUNTRY_RE = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")
REF_PREFIX = "adhar-glb-"
MANAGED_TYPES = ("A", "AAAA", "CNAME")
POLICY_KEYS = {"Region": "region", "Weight": "weight", "Failover": "failover", "GeoLocation": "geolocation"}


def _h(text, n):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def route53_regions():
    """The ``Region`` values the Route 53 API accepts, from botocore's service model (no request is made)."""
    import botocore.session  # the caller checked boto3 is there
    model = botocore.session.get_session().get_service_model("route53")
    return tuple(model.shape_for("ResourceRecordSetRegion").enum)


def geo_location(location):
    """``GeoLocation`` for ``EU`` (continent), ``US`` / ``US-CA`` (country, subdivision) or ``*`` (default)."""
    if location == "*":
        return {"CountryCode": "*"}
    if location in CONTINENTS:
        return {"ContinentCode": location}
    m = COUNTRY_RE.match(location)
    out = {"CountryCode": m.group(1)}
    if m.group(2):
        out["SubdivisionCode"] = m.group(2)
    return out


class Route53Backend:

    def check_options(self, opts):
        from ansible_collections.adhar.platform.plugins.module_utils._aws.client import require_boto3
        require_boto3("the glb module's route53 provider")
        algorithm = opts["algorithm"]
        regions = route53_regions()
        for i, c in enumerate(opts["clusters"]):
            where = "clusters[%d]" % i
            if algorithm == "latency" and opts["state"] == "present":
                if not c.get("region"):
                    raise fail(where + ".region", "algorithm=latency needs the AWS region of every cluster "
                                                  "(cluster %s has none)" % c["name"])
            if c.get("region") and c["region"] not in regions:
                raise fail(where + ".region", "%r is not a Route 53 region; one of %s" % (c["region"], ", ".join(regions)))
            if c.get("weight") is not None and (c["weight"] != int(c["weight"]) or c["weight"] > 255):
                raise fail(where + ".weight", "Route 53 weights are whole numbers 0-255, got %s" % c["weight"])
            if algorithm == "geolocation" and opts["state"] == "present":
                loc = c.get("location")
                if not loc:
                    raise fail(where + ".location", "algorithm=geolocation needs a location for every cluster: a "
                                                    "continent (%s), a country (US), a subdivision (US-CA) or '*'"
                               % ", ".join(CONTINENTS))
                if loc != "*" and loc not in CONTINENTS and not COUNTRY_RE.match(loc):
                    raise fail(where + ".location", "%r is not a continent (%s), a country code (US), a subdivision "
                                                    "(US-CA) or '*'" % (loc, ", ".join(CONTINENTS)))
        if algorithm == "geolocation" and opts["state"] == "present":
            locs = [c["location"] for c in opts["clusters"]]
            dup = sorted(set(x for x in locs if locs.count(x) > 1))
            if dup:
                raise fail("clusters", "two clusters have the same location %s; each location answers once" % dup[0])

    def check_plan(self, opts, rtype, members):
        if opts["algorithm"] == "failover":
            for m in members:
                if m["failover"] == "PRIMARY" and not m["alias_zone_id"] and not m["health"]:
                    raise fail("health_check", "Route 53 needs a health check on a failover PRIMARY record that is "
                                               "not an alias (cluster %s); leave health_check.enabled on" % m["cluster"])
        if rtype == "CNAME" and any(m["alias_zone_id"] for m in members):
            raise fail("clusters", "alias targets cannot be mixed with CNAME endpoints")

    def notes(self, opts):
        return []

    # ----------------------------------------------------------------------------------------- I/O

    def apply(self, params, opts, rtype, members, check_mode):
        from ansible_collections.adhar.platform.plugins.module_utils._aws.client import AwsConnection

        conn = AwsConnection(params, "glb %s" % opts["name"])
        zone_id = self._zone_id(conn, opts)
        record_prefix = "%s%s-" % (REF_PREFIX, _h("%s|%s" % (zone_id, opts["fqdn"]), 12))
        existing = self._existing_records(conn, zone_id, opts["fqdn"])
        checks = self._existing_checks(conn, record_prefix)
        plain = [r for r in existing if not r.get("SetIdentifier") and (rtype is None or r["Type"] == rtype)]
        if plain and opts["state"] == "present":
            raise AdharError("record: %s already has a %s record without a routing policy, which this module does not "
                             "own; remove it or choose another record name" % (opts["fqdn"], plain[0]["Type"]),
                             option="record")
        before = {record_key(r["Name"], r["Type"], r["SetIdentifier"]): _normal(r)
                  for r in existing if r.get("SetIdentifier")}
        raw_before = {record_key(r["Name"], r["Type"], r["SetIdentifier"]): r for r in existing if r.get("SetIdentifier")}

        wanted_checks = {}   # cluster -> (settings hash, HealthCheckConfig)
        if members is not None and opts["health_check"]:
            for m in members:
                config = _check_config(opts["health_check"], m["endpoint"])
                wanted_checks[m["cluster"]] = (_h(repr(sorted(config.items())), 12), config)
        keep, stale = {}, []
        for hc in checks:
            parts = hc["CallerReference"][len(record_prefix):].split("-")
            cluster_hash, settings = (parts + ["", ""])[:2]
            match = [c for c, (sh, dummy) in wanted_checks.items() if _h(c, 8) == cluster_hash and sh == settings]
            if match and match[0] not in keep:
                keep[match[0]] = hc["Id"]
            else:
                stale.append(hc["Id"])
        to_create = [c for c in wanted_checks if c not in keep]
        check_ids = dict(keep)
        for c in to_create:
            check_ids[c] = "(new health check of %s)" % c

        after, raw_after = {}, {}
        for m in members or []:
            rrset = self._rrset(opts, rtype, m, check_ids)
            key = record_key(rrset["Name"], rrset["Type"], rrset["SetIdentifier"])
            raw_after[key], after[key] = rrset, _normal(rrset)
        plan = keyed_changes(before, after)
        changes = []
        for action, key in plan:
            if action == "UPSERT" and _policy(before[key]) != _policy(after[key]):
                # a set identifier cannot change its routing policy in place: delete and create in the same batch
                changes.append({"Action": "DELETE", "ResourceRecordSet": raw_before[key]})
                changes.append({"Action": "CREATE", "ResourceRecordSet": raw_after[key]})
            elif action == "DELETE":
                changes.append({"Action": "DELETE", "ResourceRecordSet": raw_before[key]})
            else:
                changes.append({"Action": action, "ResourceRecordSet": raw_after[key]})
        summary = [{"action": c["Action"], "name": c["ResourceRecordSet"]["Name"], "type": c["ResourceRecordSet"]["Type"],
                    "set_identifier": c["ResourceRecordSet"]["SetIdentifier"]} for c in changes]
        summary += [{"action": "CREATE", "health_check_of": c} for c in to_create]
        summary += [{"action": "DELETE", "health_check": i} for i in stale]
        result = {"changes": summary, "before": before, "after": after, "zone_id": zone_id, "change_id": None,
                  "health_checks": [{"cluster": c, "id": check_ids[c]} for c in sorted(check_ids)]}
        if check_mode or not summary:
            return result

        for c in to_create:
            ref = "%s%s-%s-%s" % (record_prefix, _h(c, 8), wanted_checks[c][0], os.urandom(4).hex())
            made = conn.call("route53", "create_health_check", what="health_check",
                             CallerReference=ref, HealthCheckConfig=wanted_checks[c][1])
            check_ids[c] = made["HealthCheck"]["Id"]
        if to_create:
            for change in changes:
                rr = change["ResourceRecordSet"]
                if change["Action"] != "DELETE" and rr.get("HealthCheckId", "").startswith("(new"):
                    rr["HealthCheckId"] = check_ids[rr["HealthCheckId"][len("(new health check of "):-1]]
            result["health_checks"] = [{"cluster": c, "id": check_ids[c]} for c in sorted(check_ids)]
            result["after"] = {k: _normal(v) for k, v in raw_after.items()}
        if changes:
            info = conn.call("route53", "change_resource_record_sets", what="record", HostedZoneId=zone_id,
                             ChangeBatch={"Comment": "adhar glb %s" % opts["name"], "Changes": changes})["ChangeInfo"]
            result["change_id"] = info["Id"]
            if opts["wait"]:
                self._wait_insync(conn, info, opts["wait_timeout"])
        for hc_id in stale:
            conn.call("route53", "delete_health_check", what="health_check", HealthCheckId=hc_id)
        return result

    @staticmethod
    def _zone_id(conn, opts):
        if opts.get("zone_id"):
            return opts["zone_id"].rsplit("/", 1)[-1]
        found = conn.call("route53", "list_hosted_zones_by_name", what="zone", DNSName=opts["zone"], MaxItems="100")
        zones = [z for z in found.get("HostedZones") or [] if z["Name"].lower() == opts["zone"]]
        if not zones:
            raise AdharError("zone: no Route 53 hosted zone named %s" % opts["zone"], option="zone")
        if len(zones) > 1:
            raise AdharError("zone: %d hosted zones are named %s (%s); give zone_id" % (
                len(zones), opts["zone"], ", ".join(z["Id"].rsplit("/", 1)[-1] for z in zones)), option="zone_id")
        return zones[0]["Id"].rsplit("/", 1)[-1]

    @staticmethod
    def _existing_records(conn, zone_id, name):
        out, kwargs = [], {"HostedZoneId": zone_id, "StartRecordName": name, "MaxItems": "300"}
        while True:
            page = conn.call("route53", "list_resource_record_sets", what="record", **kwargs)
            for r in page.get("ResourceRecordSets") or []:
                rname = r["Name"].lower().replace("\\052", "*")
                if rname != name:
                    return out
                if r["Type"] in MANAGED_TYPES:
                    out.append(dict(r, Name=rname))
            if not page.get("IsTruncated"):
                return out
            kwargs.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]

    @staticmethod
    def _existing_checks(conn, prefix):
        out, kwargs = [], {"MaxItems": "1000"}
        while True:
            page = conn.call("route53", "list_health_checks", what="health_check", **kwargs)
            out.extend(hc for hc in page.get("HealthChecks") or [] if hc.get("CallerReference", "").startswith(prefix))
            if not page.get("IsTruncated") or not page.get("NextMarker"):
                return out
            kwargs["Marker"] = page["NextMarker"]

    @staticmethod
    def _rrset(opts, rtype, m, check_ids):
        rr = {"Name": opts["fqdn"], "Type": rtype, "SetIdentifier": m["set_identifier"]}
        algorithm = opts["algorithm"]
        if algorithm == "latency":
            rr["Region"] = m["region"]
        elif algorithm == "weighted":
            rr["Weight"] = int(m["weight"])
        elif algorithm == "failover":
            rr["Failover"] = m["failover"]
        else:
            rr["GeoLocation"] = geo_location(m["location"])
        if m["alias_zone_id"]:
            rr["AliasTarget"] = {"HostedZoneId": m["alias_zone_id"], "DNSName": m["values"][0].rstrip(".").lower() + ".",
                                 "EvaluateTargetHealth": True}
        else:
            rr["TTL"] = opts["ttl"]
            rr["ResourceRecords"] = [{"Value": v} for v in m["values"]]
        if m["health"]:
            rr["HealthCheckId"] = check_ids[m["health"]]
        return rr

    @staticmethod
    def _wait_insync(conn, info, timeout):
        poll_until(info, lambda i: i["Status"] == "INSYNC",
                   lambda i: conn.call("route53", "get_change", what="record", Id=i["Id"])["ChangeInfo"], timeout,
                   lambda i: AdharError("wait_timeout: Route 53 change %s is still %s after %ss" % (
                       i["Id"], i["Status"], timeout), option="wait_timeout", change_id=i["Id"]))


def _check_config(hc, endpoint):
    from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import endpoint_kind
    config = {"Type": hc["protocol"], "Port": hc["port"], "RequestInterval": hc["interval"],
              "FailureThreshold": hc["threshold"]}
    if endpoint_kind(endpoint) == "CNAME":
        config["FullyQualifiedDomainName"] = endpoint.rstrip(".")
    else:
        config["IPAddress"] = endpoint
    if hc["path"]:
        config["ResourcePath"] = hc["path"]
    return config


def _policy(normal):
    return tuple(sorted(k for k in POLICY_KEYS.values() if normal.get(k) is not None))


def _normal(r):
    """A record set reduced to what this module sets, in one spelling (alias records carry no TTL)."""
    out = {"name": r["Name"].lower(), "type": r["Type"], "set_identifier": r.get("SetIdentifier")}
    for key, name in POLICY_KEYS.items():
        if r.get(key) is not None:
            out[name] = r[key]
    if r.get("AliasTarget"):
        a = r["AliasTarget"]
        out["alias"] = {"zone_id": a["HostedZoneId"], "dns_name": a["DNSName"].rstrip(".").lower() + ".",
                        "evaluate_target_health": bool(a.get("EvaluateTargetHealth"))}
    else:
        out["ttl"] = r.get("TTL")
        out["values"] = sorted(v["Value"] for v in r.get("ResourceRecords") or [])
    out["health_check_id"] = r.get("HealthCheckId")
    return out
