# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd maintenance: status per member, alarms, defragmentation, compaction and ``etcdctl check perf``.

Used by the ``etcd`` module.  Everything but ``check perf`` goes through
etcd's JSON gateway (``/v3/...`` on each member's client URL, with the
client certificate), the same way ``cluster_info`` probes etcd, so no
``etcdctl`` process is needed for status, defragmentation, compaction or
alarms.  ``check perf`` is etcd's own load check and only ``etcdctl`` has it.

Defragmentation blocks the member it runs on (reads and writes wait), so it
runs one member at a time, followers first and the leader last, and the
whole cluster must be healthy (every member's ``/health``, one leader)
before each member and after the last one.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._etcd.snapshot import ETCD_SNAPSHOT_ARG_SPEC, etcd_binaries, local_target
from ansible_collections.adhar.platform.plugins.module_utils._cluster.health import (
    parse_etcd_alarms,
    parse_etcd_health,
    parse_etcd_members,
    parse_etcd_status,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request, ssl_context

ACTIONS = ("status", "defragment", "compact", "disarm_alarms", "check_perf")
PERF_LOADS = ("s", "m", "l", "xl")

# Options of the ``etcd`` module that say which etcd to talk to (the same names as the backup's ``etcd_snapshot``).
TARGET_ARG_SPEC = copy.deepcopy(ETCD_SNAPSHOT_ARG_SPEC)

ARG_SPEC = dict(
    TARGET_ARG_SPEC,
    action={"type": "str", "choices": list(ACTIONS), "default": "status"},
    members={"type": "list", "elements": "str"},
    min_free_percent={"type": "int", "default": 10},
    force={"type": "bool", "default": False},
    revision={"type": "int"},
    retain={"type": "int", "default": 1000},
    perf_load={"type": "str", "choices": list(PERF_LOADS), "default": "s"},
    timeout={"type": "float", "default": 10.0},
    defrag_timeout={"type": "float", "default": 300.0},
    health_timeout={"type": "float", "default": 60.0},
)

# etcd answers a read of a compacted revision with this gRPC message (code 11, OutOfRange).
_COMPACTED_RE = re.compile(r"required revision has been compacted")
_FUTURE_RE = re.compile(r"required revision is a future revision")


def _positive(params, name):
    value = params.get(name)
    if value is not None and not value > 0:
        raise AdharError("%s must be greater than 0, got %r" % (name, value), option=name)


def check_params(params):
    """Validate every option before anything is contacted; returns a copy."""
    params = dict(params)
    local, endpoints = params.get("local_cluster"), params.get("endpoints")
    if bool(local) == bool(endpoints):
        raise AdharError("give exactly one of local_cluster (a local cluster's name) or endpoints (etcd client URLs)",
                         option="local_cluster")
    if endpoints:
        for i, url in enumerate(endpoints):
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise AdharError("endpoints[%d]: %r is not an http(s):// URL" % (i, url), option="endpoints")
        for key in ("ca_file", "cert_file", "key_file"):
            path = params.get(key)
            if path and not os.path.isfile(path):
                raise AdharError("%s: %s is not a file" % (key, path), option=key)
        if bool(params.get("cert_file")) != bool(params.get("key_file")):
            raise AdharError("cert_file and key_file go together", option="cert_file")
    else:
        for key in ("ca_file", "cert_file", "key_file"):
            if params.get(key):
                raise AdharError("%s is for endpoints; a local cluster's certificates come from its state" % key, option=key)
    for name in ("timeout", "defrag_timeout", "health_timeout"):
        _positive(params, name)
    pct = params.get("min_free_percent")
    if pct is not None and not 0 <= pct <= 100:
        raise AdharError("min_free_percent must be between 0 and 100, got %r" % (pct,), option="min_free_percent")
    if params.get("revision") is not None:
        if params.get("action") != "compact":
            raise AdharError("revision is only used with action=compact", option="revision")
        _positive(params, "revision")
    if params.get("retain") is not None and params["retain"] < 0:
        raise AdharError("retain must be 0 or more, got %r" % (params["retain"],), option="retain")
    if params.get("members") and params.get("action") != "defragment":
        raise AdharError("members is only used with action=defragment", option="members")
    for i, m in enumerate(params.get("members") or []):
        if not isinstance(m, str) or not m:
            raise AdharError("members[%d]: %r is not a member name or client URL" % (i, m), option="members")
    return params


class EtcdTarget:
    """The members of one etcd cluster and how to reach them."""

    def __init__(self, endpoints, tls, bin_dir=None, description=None, timeout=10.0):
        self.endpoints = list(endpoints)
        self.tls = dict(tls or {})
        self.bin_dir = bin_dir
        self.description = description or ", ".join(self.endpoints)
        self.timeout = timeout
        self._ctx = None
        self.names = {}  # client URL -> member name (from the member list)

    @classmethod
    def from_params(cls, params):
        if params.get("local_cluster"):
            try:
                target = local_target(params["local_cluster"], params.get("state_dir"))
            except AdharError as exc:
                raise AdharError(exc.msg.replace("etcd_snapshot.", ""), option="local_cluster") from None
            return cls(target["endpoints"], target["tls"], target.get("bin_dir"),
                       "local cluster %s" % params["local_cluster"], params.get("timeout") or 10.0)
        tls = {k: params.get(k) for k in ("ca_file", "cert_file", "key_file")}
        return cls(params["endpoints"], tls, None, None, params.get("timeout") or 10.0)

    @property
    def ctx(self):
        if self._ctx is None and any(e.startswith("https://") for e in self.endpoints):
            self._ctx = ssl_context(self.tls.get("ca_file"), self.tls.get("cert_file"), self.tls.get("key_file"))
        return self._ctx

    def name_of(self, endpoint):
        return self.names.get(endpoint.rstrip("/")) or endpoint

    def call(self, endpoint, path, body=None, timeout=None):
        """POST ``body`` (a dict) to ``path`` on one member; returns the parsed JSON answer.

        An etcd error (gRPC status in the gateway's JSON) raises AdharError carrying ``grpc_message``.
        """
        status, payload, _cert = request(endpoint, path, self.ctx if endpoint.startswith("https://") else None,
                                         timeout or self.timeout, method="POST", body=body if body is not None else {})
        try:
            data = json.loads(payload.decode("utf-8")) if payload else {}
        except ValueError:
            data = None
        if status != 200 or not isinstance(data, dict):
            message = (data or {}).get("message") or (data or {}).get("error") if isinstance(data, dict) else None
            message = message or payload[:300].decode("utf-8", "replace")
            raise AdharError("etcd %s on %s: HTTP %s: %s" % (path, self.name_of(endpoint), status, message),
                             endpoint=endpoint, grpc_message=message)
        return data

    def health(self, endpoint, timeout=None):
        """``(healthy, reason)`` of one member's ``/health``."""
        try:
            status, payload, _cert = request(endpoint, "/health", self.ctx if endpoint.startswith("https://") else None,
                                             timeout or self.timeout)
        except OSError as exc:
            return False, str(exc)
        return parse_etcd_health(status, payload)


def _free(status):
    size, used = status.get("db_size") or 0, status.get("db_size_in_use") or 0
    free = max(size - used, 0)
    return free, (round(100.0 * free / size, 1) if size else 0.0)


def collect_status(target):
    """Per-member health and status, the leader, the alarms; never raises for an unreachable member."""
    members = []
    member_list = None
    for endpoint in target.endpoints:
        entry = {"endpoint": endpoint, "name": endpoint, "reachable": False, "healthy": False, "reason": None,
                 "member_id": None, "leader": False, "version": None, "db_size": None, "db_size_in_use": None,
                 "free_bytes": None, "free_percent": None, "quota_bytes": None, "revision": None,
                 "raft_term": None, "raft_index": None, "is_learner": False}
        try:
            data = target.call(endpoint, "/v3/maintenance/status")
        except (OSError, AdharError) as exc:
            entry["reason"] = getattr(exc, "msg", None) or str(exc)
            members.append(entry)
            continue
        st = parse_etcd_status(data)
        free, pct = _free(st)
        entry.update(reachable=True, member_id=st["member_id"], leader=bool(st["leader"]) and st["leader"] == st["member_id"],
                     version=st["version"], db_size=st["db_size"], db_size_in_use=st["db_size_in_use"], free_bytes=free,
                     free_percent=pct, quota_bytes=st["quota_bytes"], raft_term=st["raft_term"], raft_index=st["raft_index"],
                     is_learner=st["is_learner"], leader_id=st["leader"],
                     revision=_revision(data))
        entry["healthy"], entry["reason"] = target.health(endpoint)
        if member_list is None:
            try:
                member_list = parse_etcd_members(target.call(endpoint, "/v3/cluster/member/list"))
            except (OSError, AdharError):
                member_list = None
        members.append(entry)
    by_id = {m["member_id"]: m for m in member_list or []}
    for entry in members:
        info = by_id.get(entry["member_id"])
        if info and info.get("name"):
            entry["name"] = info["name"]
            target.names[entry["endpoint"].rstrip("/")] = info["name"]
    alarms = []
    reachable = [m for m in members if m["reachable"]]
    if reachable:
        try:
            alarms = parse_etcd_alarms(target.call(reachable[0]["endpoint"], "/v3/maintenance/alarm",
                                                   {"action": "GET", "memberID": 0, "alarm": "NONE"}))
        except (OSError, AdharError):
            alarms = None
    names = {m["member_id"]: m["name"] for m in members if m["member_id"]}
    for alarm in alarms or []:
        alarm["member"] = names.get(alarm["member_id"]) or alarm["member_id"]
    leaders = sorted({m["leader_id"] for m in members if m.get("leader_id")})
    leader = next((m["name"] for m in members if m["leader"]), None)
    return {"members": members, "leader": leader, "alarms": alarms, "leader_disagreement": len(leaders) > 1,
            "healthy": bool(members) and all(m["healthy"] for m in members) and leader is not None
            and len(leaders) == 1 and not alarms}


def _revision(data):
    header = data.get("header") or {}
    value = header.get("revision")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def status_reasons(status):
    reasons = []
    for m in status["members"]:
        if not m["reachable"]:
            reasons.append("%s unreachable: %s" % (m["name"], m["reason"]))
        elif not m["healthy"]:
            reasons.append("%s unhealthy: %s" % (m["name"], m["reason"] or "health false"))
    if status["members"] and status["leader"] is None:
        reasons.append("no leader")
    if status["leader_disagreement"]:
        reasons.append("members disagree on the leader")
    for alarm in status["alarms"] or []:
        reasons.append("alarm %s on %s" % (alarm["alarm"], alarm["member"]))
    if status["alarms"] is None:
        reasons.append("the alarm list could not be read")
    return reasons


def _mib(value):
    return "-" if value is None else "%.1f MiB" % (value / 1048576.0)


def status_table(status):
    """A readable table of the members (one string per line)."""
    header = ("MEMBER", "ENDPOINT", "LEADER", "HEALTH", "DB SIZE", "IN USE", "FREE", "REVISION", "VERSION")
    rows = [header]
    for m in status["members"]:
        rows.append((m["name"], m["endpoint"], "*" if m["leader"] else "",
                     "ok" if m["healthy"] else ("down" if not m["reachable"] else "unhealthy"),
                     _mib(m["db_size"]), _mib(m["db_size_in_use"]),
                     "-" if m["free_percent"] is None else "%s%%" % m["free_percent"],
                     "-" if m["revision"] is None else str(m["revision"]), m["version"] or "-"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    return ["  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r)).rstrip() for r in rows]


def wait_healthy(target, timeout, what):
    """Wait until every member is healthy with one leader; AdharError naming what is wrong after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        status = collect_status(target)
        reasons = status_reasons(status)
        # an alarm is not a reason to wait: it does not go away by itself
        reasons = [r for r in reasons if not r.startswith("alarm ")]
        if not reasons:
            return status
        if time.monotonic() >= deadline:
            raise AdharError("etcd is not healthy %s after %.0f s: %s" % (what, timeout, "; ".join(reasons)),
                             reasons=reasons)
        time.sleep(0.5)


def _select(status, wanted):
    """The members to defragment: all, or those named (by name or client URL); unknown names are an error."""
    members = status["members"]
    if not wanted:
        return members
    chosen = []
    for w in wanted:
        found = [m for m in members if w in (m["name"], m["endpoint"], m["endpoint"].rstrip("/"))]
        if not found:
            raise AdharError("members: %r is not a member of this etcd (members: %s)"
                             % (w, ", ".join(m["name"] for m in members)), option="members")
        chosen.extend(f for f in found if f not in chosen)
    return chosen


def defragment(target, params, check_mode=False):
    """Defragment members one at a time (followers first, leader last), health checked before and between."""
    status = wait_healthy(target, params["health_timeout"], "before defragmentation")
    chosen = _select(status, params.get("members"))
    order = sorted(chosen, key=lambda m: (m["leader"], m["name"]))
    threshold = params.get("min_free_percent", 10)
    results = []
    for m in order:
        entry = {"name": m["name"], "endpoint": m["endpoint"], "leader": m["leader"], "db_size_before": m["db_size"],
                 "db_size_in_use": m["db_size_in_use"], "free_percent_before": m["free_percent"]}
        if not params.get("force") and (m["free_percent"] or 0) < threshold:
            entry.update(defragmented=False, skipped="free space %s%% is below min_free_percent %s%%"
                         % (m["free_percent"], threshold))
            results.append(entry)
            continue
        if check_mode:
            entry.update(defragmented=False, would_defragment=True)
            results.append(entry)
            continue
        t0 = time.monotonic()
        target.call(m["endpoint"], "/v3/maintenance/defragment", timeout=params["defrag_timeout"])
        entry["seconds"] = round(time.monotonic() - t0, 3)
        after = wait_healthy(target, params["health_timeout"], "after defragmenting %s" % m["name"])
        now = next((x for x in after["members"] if x["endpoint"] == m["endpoint"]), {})
        entry.update(defragmented=True, db_size_after=now.get("db_size"), reclaimed_bytes=max(
            (m["db_size"] or 0) - (now.get("db_size") or 0), 0))
        results.append(entry)
    changed = any(r.get("defragmented") or r.get("would_defragment") for r in results)
    return changed, results


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def is_compacted(target, endpoint, revision):
    """True when ``revision`` has already been compacted away (a read at it fails with 'compacted')."""
    try:
        target.call(endpoint, "/v3/kv/range", {"key": _b64("\0"), "range_end": _b64("\0"), "revision": revision,
                                               "limit": 1, "keys_only": True, "count_only": True})
    except AdharError as exc:
        message = exc.details.get("grpc_message") or exc.msg
        if _COMPACTED_RE.search(message or ""):
            return True
        if _FUTURE_RE.search(message or ""):
            raise AdharError("revision %d is in the future (the current revision is lower)" % revision,
                             option="revision") from None
        raise
    return False


def compact(target, params, check_mode=False):
    """Compact the key-value history up to ``revision`` (default: the current revision minus ``retain``)."""
    status = wait_healthy(target, params["health_timeout"], "before compaction")
    leader = next(m for m in status["members"] if m["leader"])
    current = leader["revision"]
    if params.get("revision") is not None:
        revision = params["revision"]
        if revision > current:
            raise AdharError("revision %d is in the future: the current revision is %d" % (revision, current),
                             option="revision")
    else:
        revision = current - (params.get("retain") or 0)
    result = {"current_revision": current, "revision": revision, "endpoint": leader["endpoint"]}
    if revision < 2:
        result["skipped"] = "nothing to compact below revision %d" % revision
        return False, result
    # Everything before ``revision`` is gone exactly when a read at revision-1 says it was compacted.
    if is_compacted(target, leader["endpoint"], revision - 1):
        result["skipped"] = "already compacted up to revision %d or later" % revision
        return False, result
    if check_mode:
        result["would_compact"] = True
        return True, result
    t0 = time.monotonic()
    try:
        target.call(leader["endpoint"], "/v3/kv/compaction", {"revision": revision, "physical": True},
                    timeout=params["defrag_timeout"])
    except AdharError as exc:
        if _COMPACTED_RE.search(exc.details.get("grpc_message") or ""):
            result["skipped"] = "already compacted up to revision %d or later" % revision
            return False, result
        raise
    result.update(compacted=True, seconds=round(time.monotonic() - t0, 3))
    return True, result


def disarm_alarms(target, params, check_mode=False):
    """Deactivate every active alarm (after the cause was fixed: a NOSPACE alarm comes back if the DB is still full)."""
    status = wait_healthy(target, params["health_timeout"], "before disarming alarms")
    alarms = status["alarms"] or []
    if status["alarms"] is None:
        raise AdharError("the alarm list could not be read from any member")
    if not alarms or check_mode:
        return bool(alarms), {"disarmed": [], "would_disarm": alarms if check_mode else [], "active": alarms}
    endpoint = next(m["endpoint"] for m in status["members"] if m["leader"])
    ids = {m["member_id"]: m for m in status["members"]}
    for alarm in alarms:
        member = ids.get(alarm["member_id"]) or {}
        member_id = str(int(alarm["member_id"], 16)) if alarm["member_id"] else "0"
        target.call(endpoint, "/v3/maintenance/alarm", {"action": "DEACTIVATE", "memberID": member_id, "alarm": alarm["alarm"]})
        alarm["member"] = member.get("name") or alarm.get("member")
    after = collect_status(target)
    return True, {"disarmed": alarms, "active": after["alarms"] or []}


_PERF_LINE_RE = re.compile(r"^(PASS|FAIL):\s*(.*)$")


def parse_check_perf(text):
    """``[{"result": "PASS"|"FAIL", "check": text}]`` and the overall verdict from ``etcdctl check perf``'s output."""
    checks = []
    for line in (text or "").splitlines():
        match = _PERF_LINE_RE.match(line.strip())
        if match:
            checks.append({"result": match.group(1), "check": match.group(2).strip()})
    return checks


def check_perf(target, params, run_command):
    """Run ``etcdctl check perf`` (etcd's own 60-second write-load check) against the members."""
    wait_healthy(target, params["health_timeout"], "before the performance check")
    etcdctl = etcd_binaries(target.bin_dir)["etcdctl"]
    cmd = [etcdctl, "check", "perf", "--load=%s" % params["perf_load"], "--endpoints=" + ",".join(target.endpoints)]
    for flag, key in (("--cacert", "ca_file"), ("--cert", "cert_file"), ("--key", "key_file")):
        if target.tls.get(key):
            cmd.append("%s=%s" % (flag, target.tls[key]))
    t0 = time.monotonic()
    rc, out, err = run_command(cmd, environ_update={"ETCDCTL_API": "3"})
    checks = parse_check_perf(out)
    result = {"load": params["perf_load"], "checks": checks, "seconds": round(time.monotonic() - t0, 1),
              "passed": rc == 0 and bool(checks) and all(c["result"] == "PASS" for c in checks)}
    if not checks:
        raise AdharError("etcdctl check perf printed no result (exit %d): %s" % (rc, (err or out).strip()[-500:]),
                         rc=rc)
    return result


def run(module):
    """The ``etcd`` module: validate, then one action."""
    params = check_params(module.params)
    target = EtcdTarget.from_params(params)
    action = params["action"]
    changed = False
    result = {"action": action, "target": target.description}
    if action == "defragment":
        changed, result["defragmented"] = defragment(target, params, module.check_mode)
    elif action == "compact":
        changed, result["compaction"] = compact(target, params, module.check_mode)
    elif action == "disarm_alarms":
        changed, result["alarms"] = disarm_alarms(target, params, module.check_mode)
    elif action == "check_perf":
        if module.check_mode:
            result["perf_not_run"] = "check_perf writes a load into etcd; not run in check mode"
        else:
            result["perf"] = check_perf(target, params, module.ansible.run_command)
    status = collect_status(target)
    reasons = status_reasons(status)
    if result.get("perf"):
        reasons += ["check perf: %s" % c["check"] for c in result["perf"]["checks"] if c["result"] == "FAIL"]
    result.update(changed=changed, etcd=status, healthy=not reasons, reasons=reasons, table=status_table(status))
    return result
