# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every glb backend shares: validation first, the keyed diff, check and diff mode, the drain after a switch.

A backend is an object with:

* ``check_options(opts)``             provider rules that need only the options (no I/O)
* ``check_plan(opts, rtype, members)`` provider rules that need the endpoints (no I/O)
* ``notes(opts)``                     what the user should know about how the request maps to the provider
* ``apply(params, opts, rtype, members, check_mode)`` -> ``{"changed", "before", "after", "changes", ...}``;
  ``before``/``after`` are ``{"<name> <type> <set identifier>": record}`` and ``changes`` lists
  ``{"action", "name", "type", "set_identifier"}``.  ``members`` is ``None`` for ``state=absent``.

About the package ``_net.glb``: global load balancing: one DNS name answered by several clusters, on Route 53, Cloud DNS or a local CoreDNS.

* ``spec``       the module's options, their validation (before anything is sent anywhere) and the provider-neutral
                 plan: one *member* per cluster, keyed on (record name, record type, set identifier)
* ``endpoints``  a cluster's endpoint read from its ingress Service through its Kubernetes connection
* ``route53``    the Route 53 backend (boto3 through ``_aws``): record sets per routing policy, one health check per
                 endpoint, one ChangeResourceRecordSets batch waited to INSYNC
* ``clouddns``   the Cloud DNS backend (REST v1 through ``_gcp``): one rrset with a routing policy (geo, wrr,
                 primaryBackup); ``latency`` becomes geolocation by region
* ``local``      the embedded default: a CoreDNS process serving the zone from a zone file and a weight file
* ``runner``     what every backend shares: the diff, check mode, the drain after a switch, the result
"""

from __future__ import annotations

import time

from ansible_collections.adhar.platform.plugins.module_utils._net.glb import endpoints as endpoints_mod
from ansible_collections.adhar.platform.plugins.module_utils._net.glb import spec


def record_key(name, rtype, set_identifier):
    return "%s %s %s" % (name, rtype, set_identifier)


def keyed_changes(before, after, same=None):
    """``[(action, key)]`` turning ``before`` into ``after`` (dicts keyed by ``record_key``).

    ``same(old, new)`` decides equality (default ``==``); changed keys are ``UPSERT``.
    """
    same = same or (lambda a, b: a == b)
    out = []
    for key in sorted(before):
        if key not in after:
            out.append(("DELETE", key))
    for key in sorted(after):
        if key not in before:
            out.append(("CREATE", key))
        elif not same(before[key], after[key]):
            out.append(("UPSERT", key))
    return out


def poll_until(current, is_done, refresh, timeout, stuck, interval=2.0, sleep=time.sleep, clock=time.monotonic):
    """Refresh ``current`` every ``interval`` seconds until ``is_done(current)``; return it.

    Past ``timeout`` seconds raises ``stuck(current)`` (an ``AdharError`` naming ``wait_timeout``).
    """
    deadline = clock() + timeout
    while not is_done(current):
        if clock() >= deadline:
            raise stuck(current)
        sleep(interval)
        current = refresh(current)
    return current


def backend_for(provider):
    if provider == "route53":
        from ansible_collections.adhar.platform.plugins.module_utils._net.glb.route53 import Route53Backend
        return Route53Backend()
    if provider == "gcp":
        from ansible_collections.adhar.platform.plugins.module_utils._net.glb.clouddns import CloudDnsBackend
        return CloudDnsBackend()
    from ansible_collections.adhar.platform.plugins.module_utils._net.glb.local import LocalBackend
    return LocalBackend()


def run(module, sleep=time.sleep):
    """The whole glb task for ``module`` (an ``AdharModule``); returns the result dict."""
    params = module.params
    backend = backend_for(params["provider"])
    opts = spec.validate_static(params, backend)
    rtype, members = None, None
    if opts["state"] == "present":
        found = endpoints_mod.resolve(opts["clusters"])
        rtype = spec.record_type(opts, found)
        members = spec.members(opts, found)
        backend.check_plan(opts, rtype, members)
    notes = backend.notes(opts)
    for note in notes:
        module.warn(note)
    outcome = backend.apply(params, opts, rtype, members, module.check_mode)
    result = {
        "changed": bool(outcome["changes"]),
        "name": opts["name"],
        "provider": opts["provider"],
        "zone": opts["zone"],
        "record": opts["fqdn"],
        "record_type": rtype,
        "algorithm": opts["algorithm"],
        "state": opts["state"],
        "changes": outcome["changes"],
        "records": sorted(outcome["after"].values(), key=lambda r: r.get("set_identifier") or ""),
        "notes": notes,
        "switched_to": opts.get("switch_to"),
        "drained_seconds": 0,
    }
    for key, value in outcome.items():
        if key not in ("changes", "before", "after", "changed"):
            result[key] = value
    if module.diff_mode:
        result["diff"] = {"before": {"records": outcome["before"]}, "after": {"records": outcome["after"]}}
    if opts.get("switch_to") and result["changed"] and opts["drain"] and not module.check_mode:
        # resolvers may keep the old answer for one TTL: the switch is complete once that has passed
        sleep(opts["ttl"])
        result["drained_seconds"] = opts["ttl"]
    return result
