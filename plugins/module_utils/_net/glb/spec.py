# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glb module's own options, their validation and the provider-neutral plan.

Everything here runs before anything is sent anywhere: a bad option raises one
``AdharError`` naming the option (``clusters[1].weight``) and the rule it
breaks.  The plan is one *member* per cluster, keyed on (record name, record
type, set identifier); the backends turn members into their own records.

A member is a dict::

    {"set_identifier": "prod-us-east", "cluster": "prod-us-east", "endpoint": "203.0.113.10",
     "values": ["203.0.113.10"],
     "weight": 1, "region": "us-east-1", "failover": "PRIMARY" | "SECONDARY" | None,
     "location": "us-east1" | "EU" | None, "health": "prod-us-east" | None, "alias_zone_id": None}

``endpoint`` is the cluster's own endpoint (health-checked); ``values`` what the
member answers.  ``health`` names the cluster whose endpoint's health check guards the member
(after a switch every member answers with, and is guarded by, the target).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

PROVIDERS = ("local", "route53", "gcp")
ALGORITHMS = ("latency", "weighted", "failover", "geolocation")
PROTOCOLS = ("HTTP", "HTTPS", "TCP")
RECORD_TYPES = ("A", "AAAA", "CNAME")
DEFAULT_INGRESS_SERVICE = "ingress-nginx/ingress-nginx-controller"
MAX_TTL = 86400
SET_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")

HEALTH_CHECK_SPEC = {
    "enabled": {"type": "bool", "default": True},
    "protocol": {"type": "str", "choices": list(PROTOCOLS), "default": "HTTP"},
    "port": {"type": "int"},
    "path": {"type": "str", "default": "/healthz"},
    "interval": {"type": "int", "default": 30},
    "threshold": {"type": "int", "default": 3},
}

CLUSTER_SPEC = {
    "name": {"type": "str", "required": True},
    "endpoint": {"type": "str"},
    "region": {"type": "str"},
    "weight": {"type": "float"},
    "role": {"type": "str", "choices": ["primary", "secondary"]},
    "location": {"type": "str"},
    "alias_hosted_zone_id": {"type": "str"},
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
    "ingress_service": {"type": "str"},
}

GLB_ARG_SPEC = {
    "name": {"type": "str", "required": True},
    "provider": {"type": "str", "choices": list(PROVIDERS), "default": "local"},
    "zone": {"type": "str", "required": True, "aliases": ["domain"]},
    "zone_id": {"type": "str"},
    "record": {"type": "str"},
    "record_type": {"type": "str", "choices": list(RECORD_TYPES)},
    "algorithm": {"type": "str", "choices": list(ALGORITHMS), "default": "latency"},
    "clusters": {"type": "list", "elements": "dict", "options": CLUSTER_SPEC},
    "health_check": {"type": "dict", "options": HEALTH_CHECK_SPEC},
    "ttl": {"type": "int", "default": 60},
    "switch_to": {"type": "str"},
    "drain": {"type": "bool", "default": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "float", "default": 300.0},
    "dns_port": {"type": "int", "default": 5353},
    "dns_address": {"type": "str", "default": "127.0.0.1"},
}


def fail(option, rule, **details):
    """The one error of a bad option: ``<option>: <rule>``."""
    return AdharError("%s: %s" % (option, rule), option=option, **details)


def fqdn(name):
    """``name`` lower-cased with exactly one trailing dot."""
    return name.strip().rstrip(".").lower() + "."


def check_dns_name(option, name):
    text = name.strip().rstrip(".")
    if not text:
        raise fail(option, "must be a DNS name, got an empty string")
    if len(text) > 253:
        raise fail(option, "must be at most 253 characters long, got %d" % len(text))
    for label in text.split("."):
        if label != "*" and not LABEL_RE.match(label):
            raise fail(option, "%r is not a DNS name: the label %r must be 1-63 letters, digits, '-' or '_', "
                               "not starting or ending with '-'" % (name, label))


def record_fqdn(record, zone):
    """The record's full name: ``record`` relative to ``zone`` unless it already ends in the zone."""
    zone = fqdn(zone)
    if record in (None, "", "@"):
        return zone
    name = record.strip().lower()
    full = fqdn(name)
    if full == zone or full.endswith("." + zone):
        return full
    if name.endswith("."):
        raise fail("record", "%s is not inside the zone %s" % (name, zone))
    return fqdn(name + "." + zone.rstrip("."))


def endpoint_kind(value):
    """``A``, ``AAAA`` or ``CNAME`` for an endpoint (an IP address or a host name)."""
    try:
        return "AAAA" if ipaddress.ip_address(value).version == 6 else "A"
    except ValueError:
        return "CNAME"


def health_check(params):
    """The health-check options with defaults and checks applied, or ``None`` when disabled."""
    hc = dict((k, v.get("default")) for k, v in HEALTH_CHECK_SPEC.items())
    hc.update({k: v for k, v in (params.get("health_check") or {}).items() if v is not None})
    if not hc["enabled"]:
        return None
    if hc["port"] is None:
        hc["port"] = 443 if hc["protocol"] == "HTTPS" else 80
    if not 1 <= hc["port"] <= 65535:
        raise fail("health_check.port", "must be a TCP port 1-65535, got %s" % hc["port"])
    if hc["interval"] not in (10, 30):
        raise fail("health_check.interval", "must be 10 or 30 (seconds between checks), got %s" % hc["interval"])
    if not 1 <= hc["threshold"] <= 10:
        raise fail("health_check.threshold", "must be 1-10 (failed checks before unhealthy), got %s" % hc["threshold"])
    if hc["protocol"] != "TCP" and not (hc["path"] or "").startswith("/"):
        raise fail("health_check.path", "must start with '/', got %r" % hc["path"])
    if hc["protocol"] == "TCP":
        hc["path"] = None
    del hc["enabled"]
    return hc


def validate_static(params, backend):
    """Every check that needs nothing but the options; ``backend`` adds its provider's rules (``check_options``).

    Returns the normalised options: ``zone`` and ``fqdn`` with trailing dots, ``health_check`` (or ``None``),
    ``clusters`` (list of dicts, possibly empty for ``state=absent``).
    """
    name = params["name"]
    if not name or not SET_ID_RE.match(name):
        raise fail("name", "must be 1-63 letters, digits, '.', '_' or '-' starting with a letter or digit, got %r" % name)
    check_dns_name("zone", params["zone"])
    zone = fqdn(params["zone"])
    record = params.get("record") if params.get("record") is not None else name
    full = record_fqdn(record, zone)
    check_dns_name("record", full)
    ttl = params["ttl"]
    if not 1 <= ttl <= MAX_TTL:
        raise fail("ttl", "must be 1-%d seconds, got %s" % (MAX_TTL, ttl))
    if params.get("wait_timeout") is not None and params["wait_timeout"] <= 0:
        raise fail("wait_timeout", "must be greater than 0 seconds, got %s" % params["wait_timeout"])
    clusters = [dict(c) for c in (params.get("clusters") or [])]
    state = params["state"]
    if state == "present" and not clusters:
        raise fail("clusters", "at least one cluster is needed with state=present")
    seen = {}
    for i, c in enumerate(clusters):
        where = "clusters[%d]" % i
        cname = c.get("name") or ""
        if not SET_ID_RE.match(cname):
            raise fail(where + ".name", "must be 1-63 letters, digits, '.', '_' or '-' starting with a letter or digit "
                                        "(it is the record's set identifier), got %r" % cname)
        if cname in seen:
            raise fail(where + ".name", "duplicate set identifier %r (also clusters[%d]); each cluster once" % (cname, seen[cname]))
        seen[cname] = i
        if c.get("endpoint") is not None:
            if c.get("kubeconfig") or c.get("ingress_service"):
                raise fail(where + ".endpoint", "give either endpoint or kubeconfig/ingress_service, not both")
            value = c["endpoint"].strip()
            if endpoint_kind(value) == "CNAME":
                check_dns_name(where + ".endpoint", value)
            c["endpoint"] = value
        elif state == "present" and not c.get("kubeconfig"):
            raise fail(where + ".endpoint", "no endpoint for cluster %s: give endpoint, or kubeconfig (and "
                                            "ingress_service) to read it from the cluster's ingress Service" % cname)
        if c.get("ingress_service") and "/" not in c["ingress_service"]:
            raise fail(where + ".ingress_service", "must be <namespace>/<name>, got %r" % c["ingress_service"])
        if c.get("weight") is not None and c["weight"] < 0:
            raise fail(where + ".weight", "must be 0 or more, got %s" % c["weight"])
    algorithm = params["algorithm"]
    if state == "present":
        if algorithm == "weighted":
            weights = [1 if c.get("weight") is None else c["weight"] for c in clusters]
            if sum(weights) <= 0:
                raise fail("clusters", "the weights sum to zero: with algorithm=weighted at least one cluster needs "
                                       "a weight above 0")
        if algorithm == "failover":
            if len(clusters) != 2:
                raise fail("clusters", "algorithm=failover takes exactly two clusters (a primary and a secondary), got %d"
                           % len(clusters))
            roles = [c.get("role") for c in clusters]
            if roles.count("primary") > 1 or roles.count("secondary") > 1:
                raise fail("clusters", "algorithm=failover takes one cluster with role=primary and one with "
                                       "role=secondary, got roles %s" % roles)
    switch_to = params.get("switch_to")
    if switch_to is not None and switch_to not in seen:
        raise fail("switch_to", "%r is not one of the clusters (%s)" % (switch_to, ", ".join(seen) or "none given"))
    if switch_to is not None and state == "absent":
        raise fail("switch_to", "cannot switch with state=absent")
    hc = health_check(params)
    opts = dict(params, zone=zone, fqdn=full, clusters=clusters, health_check=hc)
    backend.check_options(opts)
    return opts


def _default_roles(clusters):
    roles = [c.get("role") for c in clusters]
    if "primary" in roles:
        return ["PRIMARY" if r == "primary" else "SECONDARY" for r in roles]
    if "secondary" in roles:
        return ["SECONDARY" if r == "secondary" else "PRIMARY" for r in roles]
    return ["PRIMARY", "SECONDARY"]


def record_type(opts, endpoints):
    """The record type: ``record_type``, else the kind every endpoint shares; mixed kinds are refused."""
    kinds = {}
    for cname, value in endpoints.items():
        kinds.setdefault(endpoint_kind(value), []).append(cname)
    aliased = [c["name"] for c in opts["clusters"] if c.get("alias_hosted_zone_id")]
    wanted = opts.get("record_type")
    if aliased and wanted not in (None, "A", "AAAA"):
        raise fail("record_type", "alias targets (clusters %s) answer A or AAAA, not %s" % (", ".join(aliased), wanted))
    if aliased:
        return wanted or "A"
    if len(kinds) > 1:
        raise fail("clusters", "the endpoints mix kinds: %s; one record name answers one type"
                   % "; ".join("%s for %s" % (k, ", ".join(v)) for k, v in sorted(kinds.items())))
    kind = next(iter(kinds))
    if wanted and wanted != kind:
        raise fail("record_type", "%s does not fit the endpoints (%s are %s)" % (wanted, ", ".join(kinds[kind]), kind))
    if kind == "CNAME" and opts["fqdn"] == opts["zone"]:
        raise fail("record", "the zone apex %s cannot be a CNAME; give IP endpoints or alias targets" % opts["zone"])
    return kind


def members(opts, endpoints):
    """The plan's members (see the module docstring), switch applied."""
    clusters = opts["clusters"]
    algorithm = opts["algorithm"]
    hc = opts["health_check"]
    roles = _default_roles(clusters) if algorithm == "failover" else [None] * len(clusters)
    out = []
    for c, role in zip(clusters, roles):
        out.append({
            "set_identifier": c["name"], "cluster": c["name"], "endpoint": endpoints[c["name"]],
            "values": [endpoints[c["name"]]],
            "weight": 1 if c.get("weight") is None else c["weight"], "region": c.get("region"),
            "failover": role, "location": c.get("location"), "health": c["name"] if hc else None,
            "alias_zone_id": c.get("alias_hosted_zone_id"),
        })
    target = opts.get("switch_to")
    if target:
        chosen = [m for m in out if m["cluster"] == target][0]
        for m in out:
            if algorithm == "weighted":
                m["weight"] = (m["weight"] or 1) if m is chosen else 0
            elif algorithm == "failover":
                m["failover"] = "PRIMARY" if m is chosen else "SECONDARY"
            else:
                m["values"] = list(chosen["values"])
                m["health"] = chosen["health"]
                m["alias_zone_id"] = chosen["alias_zone_id"]
    return out
