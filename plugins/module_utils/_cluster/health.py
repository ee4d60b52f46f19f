# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a Kubernetes control plane, for ``adhar.platform.cluster_info``.

Two halves:

* pure helpers that take plain data and return plain data (``percentile``,
  ``latency_summary``, ``parse_timestamp``, ``lease_status``,
  ``parse_etcd_status``, ``parse_etcd_alarms``, ``parse_etcd_members``,
  ``parse_etcd_health``, ``parse_readyz``, ``summarize_nodes``,
  ``certificate_entry``, ``build_etcd_report``, ``evaluate_reasons``,
  ``format_table``); they are unit-tested offline;
* ``collect_health`` and the private ``_probe_*`` functions that talk to the
  API servers and etcd members directly (stdlib ``http.client`` + ``ssl`` with
  the cluster's CA and client certificate) and to the Kubernetes API through
  the collection's ``K8sClient`` (nodes, leases, latency).

Nothing here judges by raising: an unhealthy cluster is data (``healthy:
false`` plus human-readable ``reasons``).  ``collect_health`` raises
``AdharError`` only when it cannot run at all (bad TLS material, nothing
reachable).

etcd's JSON gateway (``/v3/...`` on the client URL, enabled by default) maps
the protobuf messages of ``api/etcdserverpb/rpc.proto`` to JSON with the
original field names: ``header.member_id`` (snake case, as in the proto),
``dbSize``/``dbSizeInUse``/``raftTerm``/``dbSizeQuota`` (camel case, as in the
proto), 64-bit integers as JSON strings, enums by name (``"NOSPACE"``) and
zero values omitted.  The parsers accept both spellings and both integer
forms so a gateway marshaller change does not break them.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.adhar.platform.plugins.module_utils._common.times import parse_time
from ansible_collections.adhar.platform.plugins.module_utils._k8s import apiserver_metrics
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.state import health_targets
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request, ssl_context

try:
    from cryptography import x509
except ImportError as exc:  # pragma: no cover - reported by the module as a missing requirement
    x509 = None
    CRYPTOGRAPHY_IMPORT_ERROR = exc
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None
HAS_CRYPTOGRAPHY = CRYPTOGRAPHY_IMPORT_ERROR is None

# Thresholds (the module exposes cert_warn_days; the others are fixed policy).
DEFAULT_CERT_WARN_DAYS = 30
ETCD_DB_WARN_PERCENT = 80.0
# etcd's default --quota-backend-bytes (2 GiB) when neither the member nor the caller knows better.
ETCD_DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024

# (key in the result, Lease name in kube-system)
CONTROL_PLANE_LEASES = (
    ("kube_controller_manager", "kube-controller-manager"),
    ("kube_scheduler", "kube-scheduler"),
)
LEASE_NAMESPACE = "kube-system"

# etcd AlarmType enum (rpc.proto): the gateway sends names, a protojson marshaller could send numbers.
ETCD_ALARM_TYPES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}

# Latency probing stops early after this many failures in a row (a dead endpoint would
# otherwise cost probes x retry deadline).
LATENCY_MAX_CONSECUTIVE_ERRORS = 3
# While collecting, Kubernetes API calls are retried for at most this many probe timeouts.
API_RETRY_TIMEOUTS = 3
LATENCY_PATH = "/readyz"

# ``source`` of an API server's serving certificate: "<name> serving certificate (<url>)".
SERVING_CERT_MARK = " serving certificate "
MAX_NAMES_IN_REASON = 10


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def percentile(values, pct):
    """Return the ``pct`` percentile (0-100) of ``values`` with linear interpolation, or None if empty.

    Same definition as numpy's default ("linear"): rank = pct/100 * (n - 1) over the sorted values.
    """
    if pct < 0 or pct > 100:
        raise ValueError("percentile must be between 0 and 100, got %r" % (pct,))
    data = sorted(float(v) for v in values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    rank = (pct / 100.0) * (len(data) - 1)
    low = int(math.floor(rank))
    high = int(math.ceil(rank))
    if low == high:
        return data[low]
    return data[low] + (data[high] - data[low]) * (rank - low)


def _round(value, digits):
    return None if value is None else round(value, digits)


def latency_summary(samples_ms, errors=0, probes=None, path=LATENCY_PATH):
    """Summarise latency samples (milliseconds of successful requests) into the ``latency`` result."""
    samples = list(samples_ms)
    return {
        "probes": len(samples) + errors if probes is None else probes,
        "path": path,
        "p50_ms": _round(percentile(samples, 50), 2),
        "p99_ms": _round(percentile(samples, 99), 2),
        "max_ms": _round(max(samples) if samples else None, 2),
        "errors": errors,
    }


def parse_timestamp(value):
    """Parse a Kubernetes Time/MicroTime (``2024-05-01T10:00:00.123456Z``) or a datetime into an aware UTC datetime.

    Returns None for None/empty.  Raises ValueError for garbage.
    """
    return parse_time(value)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _isoformat(dt):
    if dt is None:
        return None
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(obj, *path):
    """Walk dict keys or object attributes; None when anything is missing."""
    for key in path:
        if obj is None:
            return None
        if isinstance(obj, dict):
            obj = obj.get(key)
        else:
            obj = getattr(obj, key, None)
    return obj


def lease_status(lease, now=None):
    """Leader-election state from a coordination.k8s.io/v1 Lease (API dict or kubernetes client object).

    A lease is stale when it has no holder, no renewTime, or renewTime + leaseDurationSeconds < now.
    ``lease`` None means the Lease does not exist (stale, nobody ever led).
    """
    now = now or _utcnow()
    result = {
        "holder": None,
        "renew_time": None,
        "lease_duration_seconds": None,
        "age_seconds": None,
        "expired_seconds": None,
        "stale": True,
    }
    if lease is None:
        return result
    spec = _get(lease, "spec")
    holder = _get(spec, "holderIdentity") if isinstance(spec, dict) else _get(spec, "holder_identity")
    renew = _get(spec, "renewTime") if isinstance(spec, dict) else _get(spec, "renew_time")
    duration = _get(spec, "leaseDurationSeconds") if isinstance(spec, dict) else _get(spec, "lease_duration_seconds")
    renew_dt = parse_timestamp(renew)
    result["holder"] = holder or None
    result["renew_time"] = _isoformat(renew_dt)
    result["lease_duration_seconds"] = int(duration) if duration is not None else None
    if renew_dt is not None:
        age = (now - renew_dt).total_seconds()
        result["age_seconds"] = round(age, 1)
        expires = age - (result["lease_duration_seconds"] or 0)
        result["expired_seconds"] = round(max(expires, 0.0), 1)
        result["stale"] = not holder or expires > 0
    return result


def _as_int(value):
    """int64/uint64 from etcd's JSON gateway arrive as strings; numbers and None pass through."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return int(str(value), 10)


def _pick(data, *keys):
    """First present key among spellings (``member_id`` / ``memberId``...)."""
    if not isinstance(data, dict):
        return None
    for key in keys:
        if key in data and data[key] is not None:
            return data[key]
    return None


def member_id_hex(value):
    """etcd member IDs as etcdctl prints them (lower-case hex); None for 0/None."""
    number = _as_int(value)
    if not number:
        return None
    return format(number, "x")


def parse_etcd_status(data):
    """Parse a ``POST /v3/maintenance/status`` JSON answer (StatusResponse) into snake_case plain ints."""
    if not isinstance(data, dict):
        raise ValueError("etcd status answer is not a JSON object")
    header = data.get("header") or {}
    errors = data.get("errors") or []
    if isinstance(errors, str):
        errors = [errors]
    return {
        "member_id": member_id_hex(_pick(header, "member_id", "memberId")),
        "cluster_id": member_id_hex(_pick(header, "cluster_id", "clusterId")),
        "leader": member_id_hex(_pick(data, "leader")),
        "version": _pick(data, "version"),
        "db_size": _as_int(_pick(data, "dbSize", "db_size")) or 0,
        "db_size_in_use": _as_int(_pick(data, "dbSizeInUse", "db_size_in_use")) or 0,
        "quota_bytes": _as_int(_pick(data, "dbSizeQuota", "db_size_quota")) or None,
        "raft_term": _as_int(_pick(data, "raftTerm", "raft_term")) or 0,
        "raft_index": _as_int(_pick(data, "raftIndex", "raft_index")) or 0,
        "raft_applied_index": _as_int(_pick(data, "raftAppliedIndex", "raft_applied_index")) or 0,
        "is_learner": bool(_pick(data, "isLearner", "is_learner")),
        "errors": [str(e).strip() for e in errors if str(e).strip()],
    }


def _alarm_name(value):
    if value is None:
        return "NONE"
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return ETCD_ALARM_TYPES.get(int(value), str(value))
    return str(value).upper()


def parse_etcd_alarms(data):
    """Parse a ``POST /v3/maintenance/alarm`` answer (AlarmResponse) into [{member_id, alarm}] (NONE dropped)."""
    alarms = []
    for item in (data or {}).get("alarms") or []:
        name = _alarm_name(_pick(item, "alarm"))
        if name == "NONE":
            continue
        alarms.append({"member_id": member_id_hex(_pick(item, "memberID", "member_id", "memberId")), "alarm": name})
    return alarms


_STATUS_ALARM_RE = re.compile(r"memberID:\s*(\d+)\s+alarm:\s*([A-Z_]+)")


def alarms_from_status_errors(errors):
    """etcd puts active alarms in StatusResponse.errors as ``memberID:<decimal> alarm:NOSPACE``."""
    found = []
    for text in errors or []:
        for member, alarm in _STATUS_ALARM_RE.findall(text):
            if alarm != "NONE":
                found.append({"member_id": member_id_hex(member), "alarm": alarm})
    return found


def parse_etcd_members(data):
    """Parse a ``POST /v3/cluster/member/list`` answer (MemberListResponse)."""
    members = []
    for item in (data or {}).get("members") or []:
        members.append({
            "member_id": member_id_hex(_pick(item, "ID", "id")),
            "name": _pick(item, "name") or "",
            "client_urls": list(_pick(item, "clientURLs", "client_urls", "clientUrls") or []),
            "peer_urls": list(_pick(item, "peerURLs", "peer_urls", "peerUrls") or []),
            "is_learner": bool(_pick(item, "isLearner", "is_learner")),
        })
    return members


def parse_etcd_health(status, body):
    """Interpret ``GET /health`` (``{"health":"true","reason":""}``; 503 when unhealthy). Returns (ok, reason)."""
    try:
        data = json.loads(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        ok = str(data.get("health", "")).lower() == "true"
        reason = data.get("reason") or ""
        if not ok and not reason:
            reason = "HTTP %s" % status
        return ok and 200 <= status < 300, reason
    return False, "HTTP %s: unexpected answer" % status


def parse_readyz(status, body):
    """Interpret ``GET /readyz?verbose``: returns (ready, [failed check names])."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    failed = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[-]"):
            name = line[3:].split(" ", 1)[0]
            if name:
                failed.append(name)
    return (200 <= status < 300 and not failed), failed


def summarize_nodes(nodes):
    """Ready / total from Node objects (API dicts or kubernetes client objects)."""
    total = 0
    not_ready = []
    for node in nodes:
        total += 1
        name = _get(node, "metadata", "name")
        ready = False
        for cond in _get(node, "status", "conditions") or []:
            if _get(cond, "type") == "Ready":
                ready = _get(cond, "status") == "True"
        if not ready:
            not_ready.append(name)
    return {"ready": total - len(not_ready), "total": total, "not_ready": sorted(n for n in not_ready if n)}


def _not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def certificate_entry(cert, source, now=None):
    """One ``certificates`` entry for a cryptography x509 certificate."""
    now = now or _utcnow()
    not_after = _not_after(cert)
    try:
        subject = cert.subject.rfc4514_string()
    except Exception:  # pragma: no cover - exotic attribute types
        subject = str(cert.subject)
    return {
        "source": source,
        "subject": subject,
        "not_after": _isoformat(not_after),
        "days_left": round((not_after - now).total_seconds() / 86400.0, 1),
    }


def load_pem_certificates(path):
    """All certificates in a PEM file (a bundle may hold several)."""
    if not HAS_CRYPTOGRAPHY:
        raise AdharError("the cryptography Python library is required to read certificates")
    with open(path, "rb") as handle:
        data = handle.read()
    loader = getattr(x509, "load_pem_x509_certificates", None)  # cryptography >= 39
    if loader is not None:
        return loader(data)
    return [x509.load_pem_x509_certificate(data)]  # pragma: no cover


def certificates_from_files(paths, now=None):
    """Entries for every certificate in ``paths``; unreadable files become entries with ``error``."""
    entries = []
    for path in paths or []:
        try:
            certs = load_pem_certificates(path)
        except (OSError, ValueError) as exc:
            entries.append({"source": path, "subject": None, "not_after": None, "days_left": None,
                            "error": _describe_error(exc)})
            continue
        for index, cert in enumerate(certs):
            source = path if len(certs) == 1 else "%s[%d]" % (path, index)
            entries.append(certificate_entry(cert, source, now=now))
    return entries


def _short_list(names):
    names = [n for n in names if n]
    if len(names) <= MAX_NAMES_IN_REASON:
        return ", ".join(names)
    return "%s and %d more" % (", ".join(names[:MAX_NAMES_IN_REASON]), len(names) - MAX_NAMES_IN_REASON)


def _member_label(member):
    return member.get("name") or member.get("member_id") or member.get("url") or "?"


def build_etcd_report(probes, alarms=None, member_list=None, quota_bytes=None):
    """Combine per-member probe results into the ``etcd`` result.

    ``probes``: [{name, url, reachable, healthy, health_reason, status (parse_etcd_status or None), error}].
    ``alarms``: parse_etcd_alarms() of one member's answer, or None when nobody answered (then the
    members' StatusResponse.errors are used).  ``member_list``: parse_etcd_members() or None.
    ``quota_bytes``: the configured quota when members do not report it (etcd < 3.6).
    """
    id_to_name = {}
    for entry in member_list or []:
        if entry.get("member_id") and entry.get("name"):
            id_to_name[entry["member_id"]] = entry["name"]
    for probe in probes:
        status = probe.get("status") or {}
        if status.get("member_id") and probe.get("name"):
            id_to_name[status["member_id"]] = probe["name"]

    members = []
    leaders = {}
    for probe in probes:
        status = probe.get("status")
        quota = (status or {}).get("quota_bytes") or quota_bytes or ETCD_DEFAULT_QUOTA_BYTES
        member = {
            "name": probe.get("name"),
            "url": probe.get("url"),
            "reachable": bool(probe.get("reachable")),
            "healthy": bool(probe.get("healthy")),
            "health_reason": probe.get("health_reason") or None,
            "is_leader": False,
            "member_id": None,
            "version": None,
            "db_size": None,
            "db_size_in_use": None,
            "quota_bytes": quota,
            "usage_percent": None,
            "raft_term": None,
            "is_learner": False,
            "alarms": [],
            "error": probe.get("error") or None,
        }
        if status:
            member.update({
                "member_id": status.get("member_id"),
                "version": status.get("version"),
                "db_size": status.get("db_size"),
                "db_size_in_use": status.get("db_size_in_use"),
                "raft_term": status.get("raft_term"),
                "is_learner": status.get("is_learner", False),
                "usage_percent": round(100.0 * (status.get("db_size") or 0) / quota, 1) if quota else None,
            })
            member["is_leader"] = bool(status.get("leader")) and status.get("leader") == status.get("member_id")
            if status.get("leader"):
                leaders.setdefault(status["leader"], []).append(status.get("raft_term") or 0)
        members.append(member)

    if alarms is None:
        alarms = []
        seen = set()
        for probe in probes:
            for alarm in alarms_from_status_errors((probe.get("status") or {}).get("errors")):
                key = (alarm["member_id"], alarm["alarm"])
                if key not in seen:
                    seen.add(key)
                    alarms.append(alarm)
    named_alarms = []
    for alarm in alarms:
        entry = dict(alarm)
        entry["member"] = id_to_name.get(alarm.get("member_id")) or alarm.get("member_id")
        named_alarms.append(entry)
        for member in members:
            if member["member_id"] and member["member_id"] == alarm.get("member_id"):
                member["alarms"].append(alarm["alarm"])

    leader_id = None
    if leaders:
        # Highest raft term wins when members disagree (an election in progress).
        leader_id = max(leaders, key=lambda lid: (max(leaders[lid]), len(leaders[lid])))
    healthy = sum(1 for m in members if m["healthy"])
    # A member counts towards quorum when it answers and follows a leader (an active alarm makes /health
    # fail on every member, yet raft still has quorum).
    in_quorum = sum(1 for p in probes if p.get("reachable") and (p.get("status") or {}).get("leader"))
    return {
        "available": True,
        "members": members,
        "leader": (id_to_name.get(leader_id) or leader_id) if leader_id else None,
        "leader_id": leader_id,
        "leader_disagreement": sorted(id_to_name.get(lid) or lid for lid in leaders) if len(leaders) > 1 else [],
        "alarms": named_alarms,
        "healthy_members": healthy,
        "voting_members_with_leader": in_quorum,
        "total_members": len(members),
        "quorum": in_quorum >= (len(members) // 2 + 1) if members else False,
    }


def etcd_not_available(note):
    return {"available": False, "note": note, "members": [], "leader": None, "alarms": []}


def _fmt_seconds(value):
    if value is None:
        return "?"
    return "%ds" % int(round(value))


def evaluate_reasons(health, cert_warn_days=DEFAULT_CERT_WARN_DAYS, db_warn_percent=ETCD_DB_WARN_PERCENT):
    """Human-readable reasons the cluster is not healthy, from a collected ``health`` dict. Empty = healthy."""
    reasons = []

    endpoint = health.get("endpoint") or {}
    lb = health.get("load_balancer")
    if endpoint.get("error"):
        if lb and lb.get("running") is not True:
            reasons.append("load balancer (%s) on port %s is down: %s" % (lb.get("name"), lb.get("port"), endpoint["error"]))
        elif lb:
            reasons.append("API endpoint %s (load balancer %s, running) unreachable: %s"
                           % (endpoint.get("url") or "?", lb.get("name"), endpoint["error"]))
        else:
            reasons.append("API endpoint %s unreachable: %s" % (endpoint.get("url") or "?", endpoint["error"]))
    reasons += _process_reasons(health.get("processes"), lb, bool(endpoint.get("error")))

    for api in health.get("apiservers") or []:
        if api.get("ready"):
            continue
        detail = api.get("detail") or "not ready"
        if api.get("checks_failed"):
            detail = "%s (failed checks: %s)" % (detail, ", ".join(api["checks_failed"]))
        reasons.append("%s (%s) not ready: %s" % (api.get("name"), api.get("url"), detail))

    etcd = health.get("etcd") or {}
    if etcd.get("available"):
        members = etcd.get("members") or []
        for member in members:
            label = _member_label(member)
            if not member.get("reachable"):
                reasons.append("%s unreachable: %s" % (label, member.get("error") or "no answer"))
                continue
            if not member.get("healthy"):
                reasons.append("%s unhealthy: %s" % (label, member.get("health_reason") or member.get("error") or "health check failed"))
            elif member.get("error"):
                reasons.append("%s: %s" % (label, member["error"]))
            usage = member.get("usage_percent")
            if usage is not None and usage >= db_warn_percent:
                reasons.append("%s DB %d%% of quota" % (label, int(usage)))
        if members and not etcd.get("quorum"):
            reasons.append("etcd has no quorum: %d/%d members answer with a leader"
                           % (etcd.get("voting_members_with_leader", 0), len(members)))
        if members and any(m.get("reachable") for m in members) and not etcd.get("leader"):
            reasons.append("etcd has no leader")
        if etcd.get("leader_disagreement"):
            reasons.append("etcd members disagree on the leader: %s" % ", ".join(etcd["leader_disagreement"]))
        for alarm in etcd.get("alarms") or []:
            reasons.append("etcd alarm %s on %s" % (alarm.get("alarm"), alarm.get("member") or alarm.get("member_id") or "all members"))
        if etcd.get("error"):
            reasons.append("etcd: %s" % etcd["error"])

    for key, lease_name in CONTROL_PLANE_LEASES:
        leader = (health.get("leaders") or {}).get(key)
        if leader is None or leader.get("skipped"):
            continue
        if leader.get("error"):
            reasons.append("cannot read %s leader lease: %s" % (lease_name, leader["error"]))
        elif leader.get("missing"):
            reasons.append("no %s leader (lease %s/%s not found)" % (lease_name, LEASE_NAMESPACE, lease_name))
        elif leader.get("stale"):
            if leader.get("holder"):
                reasons.append("no %s leader (lease stale %s, last holder %s)"
                               % (lease_name, _fmt_seconds(leader.get("expired_seconds")), leader["holder"]))
            else:
                reasons.append("no %s leader (lease has no holder)" % lease_name)

    nodes = health.get("nodes") or {}
    if nodes.get("skipped"):
        pass
    elif nodes.get("error"):
        reasons.append("cannot list nodes: %s" % nodes["error"])
    elif nodes.get("not_ready"):
        reasons.append("%d/%d nodes not Ready: %s" % (len(nodes["not_ready"]), nodes.get("total", 0), _short_list(nodes["not_ready"])))

    for cert in health.get("certificates") or []:
        if cert.get("error"):
            reasons.append("cannot read certificate %s: %s" % (cert.get("source"), cert["error"]))
            continue
        days = cert.get("days_left")
        if days is None:
            continue
        if days <= 0:
            reasons.append("certificate %s (%s) expired %.1f days ago" % (cert.get("source"), cert.get("subject"), -days))
        elif days < cert_warn_days:
            reasons.append("certificate %s (%s) expires in %.1f days" % (cert.get("source"), cert.get("subject"), days))

    latency = health.get("latency") or {}
    if latency.get("errors"):
        suffix = (": %s" % latency["last_error"]) if latency.get("last_error") else ""
        reasons.append("%d/%d API latency probes failed%s" % (latency["errors"], latency.get("probes") or latency["errors"], suffix))
    return reasons


def _process_reasons(processes, lb, endpoint_down):
    """Reasons from the supervisor of a local cluster: supervisord not running, any program not RUNNING (with the last
    line of its log when it keeps failing)."""
    if not processes:
        return []
    if not processes.get("running"):
        return ["supervisord of this cluster is not running: processes that die are not restarted "
                "(state=started of adhar.platform.cluster starts it again)"]
    out = []
    for name, prog in sorted((processes.get("programs") or {}).items()):
        state = prog.get("state")
        if state == "RUNNING":
            continue
        if lb and name == lb.get("name") and endpoint_down:
            continue  # already said: the load balancer is down
        label = "%s (load balancer)" % name if lb and name == lb.get("name") else name
        text = "%s is %s under supervisord" % (label, state)
        tail = [line for line in (prog.get("log_tail") or "").splitlines() if line.strip()]
        if state in ("BACKOFF", "FATAL", "EXITED") and tail:
            text += "; last log line: %s" % tail[-1].strip()[:300]
        out.append(text)
    return out


def add_local_processes(health, processes, load_balancer, cert_warn_days=DEFAULT_CERT_WARN_DAYS):
    """Put a local cluster's supervisor report and load balancer into ``health`` and judge again."""
    health["processes"] = processes
    if load_balancer:
        prog = (processes.get("programs") or {}).get(load_balancer["name"]) if processes.get("running") else None
        load_balancer = dict(load_balancer, running=(prog or {}).get("state") == "RUNNING" if prog else None,
                             state=(prog or {}).get("state"), pid=(prog or {}).get("pid"))
    health["load_balancer"] = load_balancer
    health["reasons"] = evaluate_reasons(health, cert_warn_days=cert_warn_days)
    health["healthy"] = not health["reasons"]
    return health


def _human_bytes(value):
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return ("%d %s" % (size, unit)) if unit == "B" else ("%.1f %s" % (size, unit))
        size /= 1024.0
    return "%.1f GiB" % size  # pragma: no cover


def _table_rows(health, cert_warn_days):
    rows = []
    cluster = health.get("cluster") or {}
    verdict = "HEALTHY" if health.get("healthy") else "UNHEALTHY"
    summary = [health.get("server_version") or "", cluster.get("api_endpoint") or (health.get("endpoint") or {}).get("url") or ""]
    rows.append(("cluster", cluster.get("name") or "-", verdict, " ".join(s for s in summary if s)))

    for api in health.get("apiservers") or []:
        detail = api.get("url") or ""
        if not api.get("ready"):
            detail = "%s: %s" % (detail, api.get("detail") or "not ready")
            if api.get("checks_failed"):
                detail += " [%s]" % ", ".join(api["checks_failed"])
        rows.append(("apiserver", api.get("name") or "-", "ok" if api.get("ready") else "FAIL", detail))

    lb = health.get("load_balancer")
    if lb:
        rows.append(("loadbalancer", lb.get("name") or "-", "ok" if lb.get("running") else "FAIL",
                     "port %s, %s" % (lb.get("port"), (lb.get("state") or "state unknown").lower())))
    processes = health.get("processes")
    if processes:
        if not processes.get("running"):
            rows.append(("supervisord", "-", "FAIL", "not running: processes that die are not restarted"))
        else:
            programs = processes.get("programs") or {}
            bad = ["%s %s" % (n, p.get("state")) for n, p in sorted(programs.items()) if p.get("state") != "RUNNING"]
            rows.append(("supervisord", "pid %s" % processes.get("pid"), "FAIL" if bad else "ok",
                         ", ".join(bad) if bad else "%d programs RUNNING" % len(programs)))

    etcd = health.get("etcd") or {}
    if not etcd.get("available"):
        rows.append(("etcd", "-", "n/a", etcd.get("note") or "not probed"))
    for member in etcd.get("members") or []:
        if not member.get("reachable"):
            rows.append(("etcd", _member_label(member), "FAIL", "unreachable: %s" % (member.get("error") or "no answer")))
            continue
        role = "leader" if member.get("is_leader") else ("learner" if member.get("is_learner") else "follower")
        detail = "%s, db %s / %s (%s%%), term %s" % (
            role, _human_bytes(member.get("db_size")), _human_bytes(member.get("quota_bytes")),
            member.get("usage_percent"), member.get("raft_term"))
        if member.get("alarms"):
            detail += ", alarms: %s" % ", ".join(member["alarms"])
        if not member.get("healthy"):
            detail = "%s; %s" % (member.get("health_reason") or "unhealthy", detail)
        rows.append(("etcd", _member_label(member), "ok" if member.get("healthy") else "FAIL", detail))

    for key, lease_name in CONTROL_PLANE_LEASES:
        leader = (health.get("leaders") or {}).get(key)
        if leader is None:
            continue
        if leader.get("skipped"):
            rows.append(("leader", lease_name, "n/a", leader["skipped"]))
        elif leader.get("error"):
            rows.append(("leader", lease_name, "FAIL", leader["error"]))
        elif leader.get("missing"):
            rows.append(("leader", lease_name, "FAIL", "lease not found"))
        else:
            detail = "%s, renewed %s ago" % (leader.get("holder") or "no holder", _fmt_seconds(leader.get("age_seconds")))
            rows.append(("leader", lease_name, "STALE" if leader.get("stale") else "ok", detail))

    nodes = health.get("nodes") or {}
    if nodes.get("skipped"):
        rows.append(("nodes", "-", "n/a", nodes["skipped"]))
    elif nodes.get("error"):
        rows.append(("nodes", "-", "FAIL", nodes["error"]))
    elif nodes:
        bad = nodes.get("not_ready") or []
        rows.append(("nodes", "%s/%s Ready" % (nodes.get("ready", 0), nodes.get("total", 0)), "FAIL" if bad else "ok",
                     ("not Ready: " + _short_list(bad)) if bad else ""))

    for cert in health.get("certificates") or []:
        source = cert.get("source") or "?"
        if SERVING_CERT_MARK in source:
            member = source.split(SERVING_CERT_MARK, 1)[0] + " (serving)"
        elif os.sep in source and "://" not in source:
            member = os.path.basename(source)
        else:
            member = source
        if cert.get("error"):
            rows.append(("certificate", member, "FAIL", cert["error"]))
            continue
        days = cert.get("days_left")
        state = "ok"
        if days is not None and days <= 0:
            state = "EXPIRED"
        elif days is not None and days < cert_warn_days:
            state = "WARN"
        rows.append(("certificate", member, state, "%s days left (%s) %s" % (days, cert.get("not_after"), cert.get("subject") or "")))

    latency = health.get("latency") or {}
    if latency.get("probes"):
        detail = "p50 %s ms, p99 %s ms, max %s ms, %s errors (GET %s)" % (
            latency.get("p50_ms"), latency.get("p99_ms"), latency.get("max_ms"), latency.get("errors", 0), latency.get("path") or "")
        rows.append(("latency", "%s probes" % latency["probes"], "FAIL" if latency.get("errors") else "ok", detail))
    for metrics in health.get("request_metrics") or []:
        rows.append(("requests", metrics.get("name") or "-", "n/a" if metrics.get("error") else "ok",
                     apiserver_metrics.table_detail(metrics)))
    return rows


def format_table(health, cert_warn_days=DEFAULT_CERT_WARN_DAYS, max_detail=110):
    """Render ``health`` (a collect_health result, optionally with ``cluster``) as a fixed-width table for people."""
    header = ("COMPONENT", "MEMBER", "STATUS", "DETAIL")
    rows = []
    for row in _table_rows(health, cert_warn_days):
        detail = row[3] or ""
        if len(detail) > max_detail:
            detail = detail[:max_detail - 3] + "..."
        rows.append((row[0], row[1], row[2], detail))
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(3)]
    lines = []
    for row in [header] + rows:
        line = "  ".join(str(row[i]).ljust(widths[i]) for i in range(3)) + "  " + str(row[3])
        lines.append(line.rstrip())
    reasons = health.get("reasons") or []
    if reasons:
        lines.append("")
        lines.append("Reasons (%d):" % len(reasons))
        lines.extend("  - %s" % r for r in reasons)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Probes (network)
# --------------------------------------------------------------------------------------------


def _describe_error(exc):
    """Short, human-readable text for a network/TLS/OS error."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS verification failed: %s" % (getattr(exc, "verify_message", None) or exc)
    if isinstance(exc, ssl.SSLError):
        return "TLS error: %s" % (getattr(exc, "reason", None) or exc)
    if isinstance(exc, socket.gaierror):
        return "cannot resolve host: %s" % exc
    if isinstance(exc, FileNotFoundError):
        return "file not found: %s" % (exc.filename or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = str(exc) or exc.__class__.__name__
    return text if len(text) <= 300 else text[:297] + "..."


def make_ssl_context(ca_cert=None, client_cert=None, client_key=None, verify=True):
    """Client SSL context (see tlsprobe.ssl_context)."""
    return ssl_context(ca_cert, client_cert, client_key, verify)


def _https_request(url, path, ctx, timeout, method="GET", body=None, query=None, headers=None, want_cert=False):
    """One request (see tlsprobe.request): ``(status, body bytes, peer cert DER or None)``."""
    return request(url, path, ctx, timeout, method=method, body=body, query=query, headers=headers, want_cert=want_cert)


def _cert_from_der(der, source, now=None):
    if not der or not HAS_CRYPTOGRAPHY:
        return None
    try:
        return certificate_entry(x509.load_der_x509_certificate(der), source, now=now)
    except ValueError:  # pragma: no cover - the server sent something unparsable
        return None


def _probe_apiserver(member, ctx, timeout, headers=None):
    """GET /readyz?verbose on one API server.

    Returns (``apiservers`` entry, serving certificate entry or None, whether the server answered HTTP at all).
    """
    name = member.get("name") or member.get("url")
    url = member.get("url")
    entry = {"name": name, "url": url, "ready": False, "detail": None, "checks_failed": []}
    try:
        status, body, der = _https_request(url, "/readyz", ctx, timeout, query={"verbose": "true"}, headers=headers, want_cert=True)
    except Exception as exc:  # noqa: BLE001 - every failure is a health finding
        entry["detail"] = _describe_error(exc)
        return entry, None, False
    ready, failed = parse_readyz(status, body)
    entry["ready"] = ready
    entry["checks_failed"] = failed
    if ready:
        entry["detail"] = "ok"
    elif status in (401, 403):
        entry["detail"] = "HTTP %s (credentials rejected)" % status
    else:
        entry["detail"] = "HTTP %s" % status
    return entry, _cert_from_der(der, "%s%s(%s)" % (name, SERVING_CERT_MARK, url)), True


def _probe_etcd_member(member, ctx, timeout):
    """/health and /v3/maintenance/status of one etcd member."""
    probe = {"name": member.get("name"), "url": member.get("url"), "reachable": False, "healthy": False,
             "health_reason": None, "status": None, "error": None}
    url = member.get("url")
    try:
        status, body, _der = _https_request(url, "/health", ctx, timeout)
    except Exception as exc:  # noqa: BLE001
        probe["error"] = _describe_error(exc)
        return probe
    probe["reachable"] = True
    probe["healthy"], probe["health_reason"] = parse_etcd_health(status, body)
    try:
        status, body, _der = _https_request(url, "/v3/maintenance/status", ctx, timeout, method="POST", body={})
        if status != 200:
            raise ValueError("HTTP %s: %s" % (status, body[:200].decode("utf-8", "replace")))
        probe["status"] = parse_etcd_status(json.loads(body.decode("utf-8")))
    except Exception as exc:  # noqa: BLE001
        probe["error"] = "status call failed: %s" % _describe_error(exc)
    return probe


def _etcd_cluster_call(members, ctx, timeout, path):
    """POST ``path`` with ``{}`` to the first member that answers 200; returns the parsed JSON or None."""
    last_error = None
    for member in members:
        try:
            status, body, _der = _https_request(member["url"], path, ctx, timeout, method="POST", body={})
        except Exception as exc:  # noqa: BLE001
            last_error = _describe_error(exc)
            continue
        if status == 200:
            try:
                return json.loads(body.decode("utf-8")), None
            except ValueError as exc:
                last_error = "bad JSON from %s: %s" % (member.get("name"), exc)
        else:
            last_error = "HTTP %s from %s" % (status, member.get("name"))
    return None, last_error


def _client_probe_settings(client):
    """TLS context and auth headers to reach the client's own endpoint directly (used when no member list is known)."""
    config = getattr(getattr(client, "api_client", None), "configuration", None)
    verify = bool(getattr(config, "verify_ssl", True)) if config is not None else True
    ctx = make_ssl_context(
        ca_cert=getattr(config, "ssl_ca_cert", None),
        client_cert=getattr(config, "cert_file", None),
        client_key=getattr(config, "key_file", None),
        verify=verify,
    )
    headers = {}
    try:
        for setting in (config.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
    except Exception:  # noqa: BLE001 - no token auth configured
        headers = {}
    return ctx, headers


# For other modules that probe an API endpoint the way cluster_info does (preflight reads the serving certificate).
client_probe_settings = _client_probe_settings
cert_from_der = _cert_from_der


def _error_text(exc):
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    msg = getattr(exc, "msg", None) or getattr(exc, "message", None)
    if status:
        return "HTTP %s %s" % (status, reason or msg or "")
    return msg or _describe_error(exc)


def _is_not_found(exc):
    if getattr(exc, "status", None) == 404:
        return True
    details = getattr(exc, "details", None) or getattr(exc, "kwargs", None) or {}
    return isinstance(details, dict) and details.get("status") == 404


def _list_nodes(client):
    import kubernetes.client  # noqa: F401 - checked by the module via require_k8s()

    core = client.api(kubernetes.client.CoreV1Api)
    nodes = []
    token = None
    while True:
        kwargs = {"limit": 500}
        if token:
            kwargs["_continue"] = token
        page = client.call(core.list_node, **kwargs)
        nodes.extend(_get(page, "items") or [])
        token = _get(page, "metadata", "_continue") if not isinstance(page, dict) else _get(page, "metadata", "continue")
        if not token:
            return nodes


def _read_leases(client, now=None):
    import kubernetes.client

    coord = client.api(kubernetes.client.CoordinationV1Api)
    leaders = {}
    for key, lease_name in CONTROL_PLANE_LEASES:
        try:
            lease = client.call(coord.read_namespaced_lease, lease_name, LEASE_NAMESPACE)
        except Exception as exc:  # noqa: BLE001
            if _is_not_found(exc):
                entry = lease_status(None, now=now)
                entry["missing"] = True
            else:
                entry = lease_status(None, now=now)
                entry["error"] = _error_text(exc)
            leaders[key] = entry
            continue
        leaders[key] = lease_status(lease, now=now)
    return leaders


def _read_cluster_objects(health, list_nodes, read_leases):
    """Fill ``nodes`` and ``leaders`` of ``health``; failures become ``error`` entries."""
    try:
        health["nodes"] = summarize_nodes(list_nodes())
    except Exception as exc:  # noqa: BLE001
        health["nodes"] = {"ready": 0, "total": 0, "not_ready": [], "error": _error_text(exc)}
    try:
        health["leaders"] = read_leases()
    except Exception as exc:  # noqa: BLE001
        health["leaders"] = {key: dict(lease_status(None), error=_error_text(exc)) for key, _n in CONTROL_PLANE_LEASES}


class _HTTPStatusError(Exception):
    def __init__(self, status, url):
        super().__init__("HTTP %s from %s" % (status, url))
        self.status = status


def _direct_get_json(url, path, ctx, timeout, query=None):
    status, body, _der = _https_request(url, path, ctx, timeout, query=query)
    if status != 200:
        raise _HTTPStatusError(status, url)
    return json.loads(body.decode("utf-8"))


def _direct_version(url, ctx, timeout):
    try:
        return _version_string(_direct_get_json(url, "/version", ctx, timeout))
    except Exception:  # noqa: BLE001 - the version is informative only
        return None


def _direct_list_nodes(url, ctx, timeout):
    nodes = []
    token = None
    while True:
        query = {"limit": 500}
        if token:
            query["continue"] = token
        page = _direct_get_json(url, "/api/v1/nodes", ctx, timeout, query=query)
        nodes.extend(page.get("items") or [])
        token = _get(page, "metadata", "continue")
        if not token:
            return nodes


def _direct_read_leases(url, ctx, timeout, now=None):
    leaders = {}
    for key, lease_name in CONTROL_PLANE_LEASES:
        path = "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (LEASE_NAMESPACE, lease_name)
        try:
            leaders[key] = lease_status(_direct_get_json(url, path, ctx, timeout), now=now)
        except Exception as exc:  # noqa: BLE001
            entry = lease_status(None, now=now)
            if _is_not_found(exc):
                entry["missing"] = True
            else:
                entry["error"] = _error_text(exc)
            leaders[key] = entry
    return leaders


def _measure_latency(client, probes, timeout):
    samples = []
    errors = 0
    attempted = 0
    consecutive = 0
    last_error = None
    for _probe_number in range(probes):
        attempted += 1
        start = time.monotonic()
        try:
            # raise_for_status=False: a 500 from /readyz is an answer (an error sample), not something to retry.
            status, _data = client.raw("GET", LATENCY_PATH, raise_for_status=False, timeout=timeout)
            ok = status is not None and 200 <= int(status) < 300
            if not ok:
                last_error = "HTTP %s" % status
        except Exception as exc:  # noqa: BLE001
            ok = False
            last_error = _error_text(exc)
        elapsed_ms = (time.monotonic() - start) * 1000.0
        if ok:
            samples.append(elapsed_ms)
            consecutive = 0
        else:
            errors += 1
            consecutive += 1
            if consecutive >= LATENCY_MAX_CONSECUTIVE_ERRORS:
                break
    result = latency_summary(samples, errors=errors, probes=attempted)
    if last_error and errors:
        result["last_error"] = last_error
    return result


def _version_string(value):
    if isinstance(value, dict):
        return value.get("gitVersion") or value.get("git_version") or json.dumps(value, sort_keys=True)
    for attr in ("git_version", "gitVersion"):
        if getattr(value, attr, None):
            return getattr(value, attr)
    return None if value is None else str(value)


def collect_health(client, *, apiservers=None, tls=None, etcd=None, cert_files=None, probes=20, timeout=5.0, parallel=8,
                   cert_warn_days=DEFAULT_CERT_WARN_DAYS, request_metrics=True):
    """Collect the health of one cluster. Never raises because the cluster is unhealthy.

    client       -- a K8sClient (its host is the cluster's API endpoint, e.g. the load balancer).
    apiservers   -- [{"name", "url"}] API servers to probe directly; None probes the client's own host.
    tls          -- {"ca_cert", "client_cert", "client_key"} for the direct API server probes
                    (required with ``apiservers``; None uses the client's own TLS settings and token).
    etcd         -- {"members": [{"name", "url"}], "ca_cert", "client_cert", "client_key", "quota_bytes"} or None
                    (None: etcd is reported as not available, which does not make the cluster unhealthy).
    cert_files   -- PEM files whose certificates' expiry to report.
    probes       -- sequential ``GET /readyz`` latency probes through the client (0 disables).
    timeout      -- seconds per request, direct or through the client; Kubernetes API calls are retried
                    for at most API_RETRY_TIMEOUTS x timeout (both restored on the client afterwards).
    parallel     -- worker threads for the direct probes.
    cert_warn_days -- a certificate expiring sooner is a reason.
    request_metrics -- read each API server's ``/metrics`` (request latency percentiles and error rates).

    Raises AdharError for bad input (bad TLS files, bad numbers), or when nothing at all answers and no etcd
    members were given (a cluster known only by its endpoint); with members (a local cluster), everything down
    is reported as unhealthy with one reason per member.
    """
    started = time.monotonic()
    if probes is None or int(probes) < 0:
        raise AdharError("probes must be 0 or more, got %r" % (probes,))
    if timeout is None or float(timeout) <= 0:
        raise AdharError("timeout must be a positive number of seconds, got %r" % (timeout,))
    if cert_warn_days is None or int(cert_warn_days) < 0:
        raise AdharError("cert_warn_days must be 0 or more, got %r" % (cert_warn_days,))
    parallel = max(1, int(parallel or 1))
    timeout = float(timeout)
    endpoint_url = getattr(client, "host", None)

    # --- targets and TLS material (bad input fails here, before any probing) ---
    if apiservers:
        for member in apiservers:
            if not isinstance(member, dict) or not member.get("url"):
                raise AdharError("every apiserver needs a url", apiserver=member)
        tls = tls or {}
        api_ctx = make_ssl_context(tls.get("ca_cert"), tls.get("client_cert"), tls.get("client_key"))
        api_headers = None
        api_targets = list(apiservers)
    else:
        if not endpoint_url:
            raise AdharError("the Kubernetes client has no host to probe")
        if tls:
            api_ctx = make_ssl_context(tls.get("ca_cert"), tls.get("client_cert"), tls.get("client_key"))
            api_headers = None
        else:
            api_ctx, api_headers = _client_probe_settings(client)
        api_targets = [{"name": "apiserver", "url": endpoint_url}]

    etcd_members = []
    etcd_ctx = None
    if etcd:
        etcd_members = list(etcd.get("members") or [])
        for member in etcd_members:
            if not isinstance(member, dict) or not member.get("url"):
                raise AdharError("every etcd member needs a url", member=member)
        if etcd_members:
            etcd_ctx = make_ssl_context(etcd.get("ca_cert"), etcd.get("client_cert"), etcd.get("client_key"))

    # A health check reports a dead endpoint, it does not wait for it: while collecting, Kubernetes API requests
    # take at most ``timeout`` each and are retried for at most API_RETRY_TIMEOUTS x ``timeout``.
    saved = (getattr(client, "request_timeout", None), getattr(client, "deadline", None))
    try:
        if saved[0] is not None:
            client.request_timeout = min(saved[0], timeout) if saved[0] else timeout
        if saved[1] is not None:
            client.deadline = min(saved[1], API_RETRY_TIMEOUTS * timeout)
        health = _collect(client, api_targets, api_ctx, api_headers, etcd, etcd_members, etcd_ctx, cert_files,
                          int(probes), timeout, parallel, int(cert_warn_days), endpoint_url, started)
        if request_metrics:
            health["request_metrics"] = _request_metrics(api_targets, api_ctx, api_headers, timeout, parallel)
            health["duration"] = round(time.monotonic() - started, 3)
        return health
    finally:
        if saved[0] is not None:
            client.request_timeout = saved[0]
        if saved[1] is not None:
            client.deadline = saved[1]


def _request_metrics(api_targets, ctx, headers, timeout, parallel):
    """``[{"name", "url", ...apiserver_metrics summary}]``: each API server's own request metrics, read in parallel."""
    with ThreadPoolExecutor(max_workers=min(parallel, max(1, len(api_targets)))) as pool:
        summaries = list(pool.map(lambda m: apiserver_metrics.scrape(m["url"], ctx, timeout * 2, headers), api_targets))
    return [dict(s, name=m.get("name") or m["url"], url=m["url"]) for m, s in zip(api_targets, summaries)]


def _collect(client, api_targets, api_ctx, api_headers, etcd, etcd_members, etcd_ctx, cert_files, probes, timeout, parallel,
             cert_warn_days, endpoint_url, started):
    now = _utcnow()
    health = {"endpoint": {"url": endpoint_url, "error": None}}

    # --- direct probes in a bounded pool; Kubernetes API reads in this thread meanwhile ---
    with ThreadPoolExecutor(max_workers=min(parallel, max(1, len(api_targets) + len(etcd_members)))) as pool:
        api_futures = [pool.submit(_probe_apiserver, m, api_ctx, timeout, api_headers) for m in api_targets]
        etcd_futures = [pool.submit(_probe_etcd_member, m, etcd_ctx, timeout) for m in etcd_members]

        server_version = None
        try:
            # Not client.server_version(): that answer is cached, and reachability is the question here.
            _status, data = client.raw("GET", "/version")
            server_version = _version_string(data)
        except Exception as exc:  # noqa: BLE001
            health["endpoint"]["error"] = _error_text(exc)

        if health["endpoint"]["error"] is None:
            _read_cluster_objects(health, lambda: _list_nodes(client), lambda: _read_leases(client, now=_utcnow()))

        api_results = [f.result() for f in api_futures]
        etcd_probes = [f.result() for f in etcd_futures]

    health["apiservers"] = [entry for entry, _cert, _answered in api_results]
    serving_certs = [cert for _entry, cert, _answered in api_results if cert]
    any_apiserver_answered = any(answered for _entry, _cert, answered in api_results)

    if health["endpoint"]["error"] is not None:
        # The endpoint (e.g. the load balancer) is down: read Nodes and Leases from a ready API server directly,
        # when this cluster's member list and credentials are known; otherwise say why they are missing.
        ready = [a for a in health["apiservers"] if a.get("ready")] if api_headers is None else []
        if ready:
            via = ready[0]
            health["endpoint"]["read_via"] = via["name"]
            _read_cluster_objects(
                health,
                lambda: _direct_list_nodes(via["url"], api_ctx, timeout),
                lambda: _direct_read_leases(via["url"], api_ctx, timeout, now=_utcnow()))
            version = _direct_version(via["url"], api_ctx, timeout)
            server_version = server_version or version
        else:
            skipped = "skipped: API endpoint unreachable"
            health["nodes"] = {"ready": 0, "total": 0, "not_ready": [], "skipped": skipped}
            health["leaders"] = {key: dict(lease_status(None), skipped=skipped) for key, _n in CONTROL_PLANE_LEASES}
    health["server_version"] = server_version

    if etcd_members:
        reachable = [m for m, p in zip(etcd_members, etcd_probes) if p["reachable"]]
        # The Alarm RPC goes through raft: without a leader it only burns the timeout, so ask members that see one.
        with_leader = [m for m, p in zip(etcd_members, etcd_probes) if (p.get("status") or {}).get("leader")]
        alarms = member_list = None
        call_error = None
        if with_leader:
            alarm_data, call_error = _etcd_cluster_call(with_leader, etcd_ctx, timeout, "/v3/maintenance/alarm")
            alarms = parse_etcd_alarms(alarm_data) if alarm_data is not None else None
        if reachable:
            list_data, _err = _etcd_cluster_call(reachable, etcd_ctx, timeout, "/v3/cluster/member/list")
            member_list = parse_etcd_members(list_data) if list_data is not None else None
        health["etcd"] = build_etcd_report(etcd_probes, alarms=alarms, member_list=member_list,
                                           quota_bytes=(etcd or {}).get("quota_bytes"))
        if with_leader and alarms is None and call_error:
            health["etcd"]["alarms_note"] = "alarm list unavailable (%s); alarms taken from member status" % call_error
    else:
        health["etcd"] = etcd_not_available(
            "etcd is not reachable from here for this cluster (managed or unknown control plane); not judged"
            if not etcd else "no etcd members given")

    # Nothing answered at all.  For a cluster whose members we know (a local one) that is a verdict: it is down,
    # and the reasons say which member is where.  For a cluster known only by its endpoint we cannot even start.
    if (not etcd_members and health["endpoint"]["error"] is not None and not any_apiserver_answered
            and not any(p["reachable"] for p in etcd_probes)):
        raise AdharError(
            "cannot reach the cluster: API endpoint %s: %s; %s" % (
                endpoint_url, health["endpoint"]["error"],
                "; ".join("%s: %s" % (a["name"], a["detail"]) for a in health["apiservers"])),
            endpoint=endpoint_url, apiservers=health["apiservers"],
            etcd=[{"name": p["name"], "error": p["error"]} for p in etcd_probes])

    certificates = certificates_from_files(cert_files, now=now) if cert_files else []
    health["certificates"] = certificates + serving_certs

    if probes and health["endpoint"]["error"] is None:
        health["latency"] = _measure_latency(client, probes, timeout)
    else:
        health["latency"] = latency_summary([], errors=0, probes=0)
        if probes:
            health["latency"]["skipped"] = "API endpoint unreachable"

    health["reasons"] = evaluate_reasons(health, cert_warn_days=cert_warn_days)
    health["healthy"] = not health["reasons"]
    health["duration"] = round(time.monotonic() - started, 3)
    return health


# Connection options replaced by the local cluster's own admin kubeconfig when ``name`` is given.
_LOCAL_OVERRIDES = ("kubeconfig", "context", "host", "api_key", "ca_cert", "client_cert", "client_key", "validate_certs")
_PARALLEL_PROBES = 8


def _validate(params):
    if params["probes"] < 0:
        raise AdharError("probes must be 0 or more, got %d" % params["probes"], option="probes")
    if params["cert_warn_days"] < 0:
        raise AdharError("cert_warn_days must be 0 or more, got %d" % params["cert_warn_days"], option="cert_warn_days")
    if params["timeout"] <= 0:
        raise AdharError("timeout must be a positive number of seconds, got %s" % params["timeout"], option="timeout")
    if params["name"] is not None and not params["name"].strip():
        raise AdharError("name must not be empty", option="name")


def run_cluster_info(module):
    """The cluster_info module's work: resolve the targets, collect, add the table."""
    params = module.params
    _validate(params)

    targets = {}
    if params["name"]:
        targets = health_targets(params["name"], state_dir=params["state_dir"])
        client_params = dict(params)
        for key in _LOCAL_OVERRIDES:
            client_params[key] = None
        client_params["kubeconfig"] = targets["kubeconfig"]
        client = K8sClient.from_params(client_params, check_mode=module.check_mode)
        cluster = {
            "name": targets.get("name") or params["name"],
            "provider": targets.get("provider") or "local",
            "api_endpoint": targets.get("api_endpoint") or client.host,
        }
    else:
        client = K8sClient.from_params(params, check_mode=module.check_mode)
        cluster = {"name": params["context"] or client.host, "provider": "existing", "api_endpoint": client.host}

    try:
        health = collect_health(
            client,
            apiservers=targets.get("apiservers"),
            tls=targets.get("tls"),
            etcd=targets.get("etcd"),
            cert_files=targets.get("cert_files"),
            probes=params["probes"],
            timeout=params["timeout"],
            parallel=_PARALLEL_PROBES,
            cert_warn_days=params["cert_warn_days"],
            request_metrics=params["request_metrics"],
        )
    finally:
        client.close()
    if targets.get("layout") is not None:
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.supervisor import state_report
        add_local_processes(health, state_report(targets["layout"], timeout=params["timeout"]),
                            targets.get("load_balancer"), cert_warn_days=params["cert_warn_days"])

    result = dict(health)
    result["changed"] = False
    result["cluster"] = cluster
    result["table"] = format_table(result, cert_warn_days=params["cert_warn_days"])
    return result
