# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend of the glb module: a CoreDNS process on this machine serves the zone.

One CoreDNS per zone, under ``<state_dir>/.glb/<zone>/``: ``Corefile``, the zone file ``db.zone``, the weight file
``db.zone.weights`` (CoreDNS's ``loadbalance weighted``: the first address of an answer is chosen by weight),
``records.json`` (what this module manages, keyed on name, type and set identifier), ``coredns.pid`` and
``logs/coredns.log``.  CoreDNS is the toolchain's lean build (plugins reload, bind, errors, log, loadbalance,
file); it re-reads the zone and weight files every second, and the module waits until the served SOA serial is the
one it wrote.

Health: each run probes every cluster endpoint (HTTP(S) status 2xx/3xx, or a TCP connect) and answers only healthy
endpoints (all of them when none is healthy: failing open, as Route 53 does).  There is no background checker: the
answer follows an endpoint's health when the task runs again.

Answers per algorithm: ``weighted`` every healthy endpoint with a weight above 0, the first one chosen by weight;
``failover`` the primary while healthy, else the secondary; ``latency`` and ``geolocation`` every healthy endpoint,
in random order (a server on this machine knows neither the client's latency nor its location; the result's
``notes`` say so).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import shutil
import socket
import ssl
import struct
import time
import urllib.error
import urllib.request

from ansible_collections.adhar.platform.plugins.module_utils._common.files import atomic_write
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.runner import keyed_changes, record_key
from ansible_collections.adhar.platform.plugins.module_utils._net.glb.spec import endpoint_kind, fail
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import procs
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import default_state_root
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.state import locked
from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain

PROBE_TIMEOUT = 2.0
SERVE_TIMEOUT = 15.0
NOTE = ("the local server knows neither the client's latency nor its location: algorithm=%s is answered with every "
        "healthy endpoint in random order")


def server_dir(root, zone):
    return os.path.join(root, ".glb", zone.rstrip("."))


class LocalBackend:

    def check_options(self, opts):
        try:
            ipaddress.ip_address(opts["dns_address"])
        except ValueError:
            raise fail("dns_address", "must be an IP address to listen on, got %r" % opts["dns_address"]) from None
        if not 1 <= opts["dns_port"] <= 65535:
            raise fail("dns_port", "must be a port 1-65535, got %s" % opts["dns_port"])
        for i, c in enumerate(opts["clusters"]):
            if c.get("weight") is not None and (c["weight"] != int(c["weight"]) or c["weight"] > 255):
                raise fail("clusters[%d].weight" % i, "the local server's weights are whole numbers 0-255, got %s"
                           % c["weight"])
            if c.get("alias_hosted_zone_id"):
                raise fail("clusters[%d].alias_hosted_zone_id" % i, "alias targets are Route 53 only")

    def check_plan(self, opts, rtype, members):
        if rtype == "CNAME":
            raise fail("clusters", "the local server answers IP endpoints only (a name has at most one CNAME); "
                                   "give the clusters' IP addresses")

    def notes(self, opts):
        if opts["state"] == "present" and opts["algorithm"] in ("latency", "geolocation"):
            return [NOTE % opts["algorithm"]]
        return []

    # ----------------------------------------------------------------------------------------- I/O

    def apply(self, params, opts, rtype, members, check_mode):
        root = os.path.abspath(os.path.expanduser(params.get("state_dir") or default_state_root()))
        d = server_dir(root, opts["zone"])
        health = probe_all(opts["health_check"], members) if members else {}
        if members is None and not os.path.isdir(d):
            return self._outcome(opts, d, {}, {}, members, health)
        if check_mode and not os.path.isdir(d):
            after = desired(opts, rtype, members, health) if members is not None else {}
            outcome = self._outcome(opts, d, {}, after, members, health)
            if after:
                outcome["changes"].append({"action": "START", "server": "%s:%s" % (opts["dns_address"], opts["dns_port"])})
            return outcome
        os.makedirs(d, exist_ok=True)
        with locked(os.path.join(d, ".lock"), "the global load balancer zone %s" % opts["zone"]):
            stored = procs.read_pidfile(os.path.join(d, "records.json")) or {"records": {}, "serial": 0}
            records = stored["records"]
            before = {k: v for k, v in records.items() if v["name"] == opts["fqdn"]}
            after = desired(opts, rtype, members, health) if members is not None else {}
            outcome = self._outcome(opts, d, before, after, members, health)
            others = {k: v for k, v in records.items() if v["name"] != opts["fqdn"]}
            everything = dict(others, **after)
            info = procs.read_pidfile(os.path.join(d, "coredns.pid"))
            running = procs.is_running(info)
            listen = [opts["dns_address"], opts["dns_port"]]
            moved = running and everything and stored.get("listen") != listen
            if everything and (not running or moved):
                outcome["changes"].append({"action": "RESTART" if moved else "START", "server": "%s:%s" % tuple(listen)})
            if not everything and running:
                outcome["changes"].append({"action": "STOP", "server": "%s:%s" % tuple(stored.get("listen") or listen)})
            if check_mode or not outcome["changes"]:
                outcome["server"] = _server_info(d, info, running, stored.get("listen"))
                return outcome
            if not everything:
                procs.stop(info)
                shutil.rmtree(d, ignore_errors=True)
                outcome["server"] = {"running": False, "dir": d}
                return outcome
            binary = _coredns()
            serial = _next_serial(stored["serial"])
            atomic_write(os.path.join(d, "db.zone"), zone_file(opts["zone"], everything, serial))
            atomic_write(os.path.join(d, "db.zone.weights"), weight_file(everything))
            atomic_write(os.path.join(d, "Corefile"), corefile(opts["zone"], d, opts["dns_address"], opts["dns_port"]))
            atomic_write(os.path.join(d, "records.json"),
                         json.dumps({"records": everything, "serial": serial, "listen": listen}, indent=1, sort_keys=True))
            if moved:
                procs.stop(info)
            if not running or moved:
                info = procs.spawn("coredns", [binary, "-conf", os.path.join(d, "Corefile"), "-pidfile",
                                               os.path.join(d, "coredns.real.pid")],
                                   run_dir=d, log_dir=os.path.join(d, "logs"), cwd=d)
            wait_serial(opts["dns_address"], opts["dns_port"], opts["zone"], serial, info,
                        os.path.join(d, "logs", "coredns.log"))
            outcome["server"] = _server_info(d, info, True, listen)
            return outcome

    @staticmethod
    def _outcome(opts, d, before, after, members, health):
        plan = keyed_changes(before, after)
        changes = [{"action": a, "name": k.split(" ")[0], "type": k.split(" ")[1], "set_identifier": k.split(" ", 2)[2]}
                   for a, k in plan]
        out = {"changes": changes, "before": before, "after": after,
               "server": {"dir": d, "running": False}}
        if opts["health_check"] and members:
            out["health_checks"] = [{"cluster": c, "endpoint": h["endpoint"], "healthy": h["healthy"],
                                     "status": h["status"]} for c, h in sorted(health.items())]
        return out


# ------------------------------------------------------------------------------------------- health

def probe(hc, endpoint):
    """``(healthy, status text)`` of one endpoint by ``hc`` (the health_check options)."""
    host = "[%s]" % endpoint if endpoint_kind(endpoint) == "AAAA" else endpoint
    if hc["protocol"] == "TCP":
        try:
            with socket.create_connection((endpoint, hc["port"]), timeout=PROBE_TIMEOUT):
                return True, "TCP connect ok"
        except OSError as exc:
            return False, "TCP connect failed: %s" % (exc.strerror or exc)
    url = "%s://%s:%d%s" % (hc["protocol"].lower(), host, hc["port"], hc["path"])
    # like Route 53, an HTTPS check does not validate the certificate: it checks the endpoint answers
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context),
                                         urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=PROBE_TIMEOUT) as resp:
            return 200 <= resp.status < 400, "HTTP %d" % resp.status
    except urllib.error.HTTPError as exc:
        return 300 <= exc.code < 400, "HTTP %d" % exc.code
    except (urllib.error.URLError, OSError) as exc:
        return False, "%s failed: %s" % (hc["protocol"], getattr(exc, "reason", exc))


def probe_all(hc, members):
    out = {}
    for m in members:
        if hc:
            ok, status = probe(hc, m["endpoint"])
        else:
            ok, status = True, "not checked"
        out[m["cluster"]] = {"endpoint": m["endpoint"], "healthy": ok, "status": status}
    return out


def desired(opts, rtype, members, health):
    """The records of this load balancer, keyed by ``record_key``: each with ``serving`` (answered or not)."""
    def healthy(m):
        return health[m["health"]]["healthy"] if m["health"] else True

    algorithm = opts["algorithm"]
    if algorithm == "weighted":
        candidates = [m for m in members if m["weight"] > 0]
        serving = [m for m in candidates if healthy(m)] or candidates
    elif algorithm == "failover":
        primary = [m for m in members if m["failover"] == "PRIMARY"][0]
        secondary = [m for m in members if m["failover"] == "SECONDARY"][0]
        serving = [primary] if healthy(primary) or not healthy(secondary) else [secondary]
    else:
        serving = [m for m in members if healthy(m)] or list(members)
    out = {}
    for m in members:
        rec = {"name": opts["fqdn"], "type": rtype, "set_identifier": m["set_identifier"], "ttl": opts["ttl"],
               "values": list(m["values"]), "weight": int(m["weight"]) if algorithm == "weighted" else 1,
               "serving": m in serving}
        if m["failover"]:
            rec["failover"] = m["failover"]
        if m["health"]:
            rec["healthy"] = healthy(m)
        out[record_key(opts["fqdn"], rtype, m["set_identifier"])] = rec
    return out


# ------------------------------------------------------------------------------------------- files

def zone_file(zone, records, serial):
    lines = [
        "$ORIGIN %s" % zone,
        "@ 3600 IN SOA ns.%s hostmaster.%s %d 7200 3600 1209600 5" % (zone, zone, serial),
        "@ 3600 IN NS ns.%s" % zone,
        "ns 3600 IN A 127.0.0.1",
    ]
    seen = set()
    for key in sorted(records):
        rec = records[key]
        if not rec["serving"]:
            continue
        for value in rec["values"]:
            if (rec["name"], rec["type"], value) in seen:
                continue
            seen.add((rec["name"], rec["type"], value))
            lines.append("%s %d IN %s %s" % (rec["name"], rec["ttl"], rec["type"], value))
    return "\n".join(lines) + "\n"


def weight_file(records):
    by_name = {}
    for key in sorted(records):
        rec = records[key]
        if rec["serving"]:
            for value in rec["values"]:
                by_name.setdefault(rec["name"], {})[value] = max(1, min(255, rec["weight"]))
    lines = ["# written by adhar.platform.glb"]
    for name in sorted(by_name):
        lines.append(name.rstrip("."))
        lines.extend("%s %d" % (ip, w) for ip, w in sorted(by_name[name].items()))
        lines.append("")
    return "\n".join(lines) + "\n"


def corefile(zone, d, address, port):
    return """%(zone)s:%(port)d {
    bind %(address)s
    errors
    loadbalance weighted %(weights)s {
        reload 1s
    }
    file %(db)s {
        reload 1s
    }
}
""" % {"zone": zone, "port": port, "address": address, "weights": os.path.join(d, "db.zone.weights"),
       "db": os.path.join(d, "db.zone")}


def _next_serial(previous):
    # time-based so a zone removed and made again still moves forward; +1 when two writes share a second
    return max(int(time.time()), previous + 1)


def _coredns():
    path, where = toolchain.find_addon_binary("coredns", "coredns")
    if not path:
        raise AdharError("provider=local needs the CoreDNS of the collection's toolchain, not found in %s; run "
                         "`make toolchain` (or tools/toolchain.py ensure --only coredns), or put a coredns binary in "
                         "ADHAR_BIN_DIR" % where, missing="coredns")
    return path


def _server_info(d, info, running, listen):
    out = {"dir": d, "running": bool(running), "log": os.path.join(d, "logs", "coredns.log")}
    if info:
        out["pid"] = info.get("pid")
    if listen:
        out["address"], out["port"] = listen
    return out


# ------------------------------------------------------------------------------------------- serving

def soa_serial(address, port, zone, timeout=1.0):
    """The SOA serial the server at ``address:port`` answers for ``zone`` (one UDP query), or ``None``."""
    qid = random.randint(0, 0xFFFF)
    qname = b"".join(bytes([len(p)]) + p.encode("ascii") for p in zone.rstrip(".").split(".")) + b"\0"
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 6, 1)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_DGRAM)) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, (address, port))
            data = s.recv(4096)
        except OSError:
            return None
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    ancount = struct.unpack(">H", data[6:8])[0]
    pos = 12 + len(qname) + 4
    for dummy in range(ancount):
        pos = _skip_name(data, pos)
        rtype, dummy_class, dummy_ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 6:
            rd = _skip_name(data, _skip_name(data, pos))
            return struct.unpack(">I", data[rd:rd + 4])[0]
        pos += rdlen
    return None


def _skip_name(data, pos):
    while True:
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def wait_serial(address, port, zone, serial, info, log_path):
    """Wait until CoreDNS answers with ``serial`` (it re-reads the zone file every second)."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    seen = None
    while time.monotonic() < deadline:
        if not procs.is_running(info):
            raise AdharError("CoreDNS for %s exited; its log ends with:\n%s" % (zone, procs.log_tail(log_path)))
        seen = soa_serial(address, port, zone)
        if seen is not None and seen >= serial:
            return
        time.sleep(0.2)
    raise AdharError("CoreDNS on %s:%s did not serve serial %d of %s within %ss (it serves %s); its log ends with:\n%s"
                     % (address, port, serial, zone, SERVE_TIMEOUT, seen, procs.log_tail(log_path)))
