# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Right-sizing from observed usage: the logic of ``adhar.platform.analyze``.

Usage comes from the resource metrics API (``metrics.k8s.io/v1beta1`` PodMetrics, served by metrics-server), sampled
``samples`` times ``interval`` seconds apart.  For each container of each Deployment, StatefulSet and DaemonSet, the
samples of all its Pods are pooled (as the Vertical Pod Autoscaler's recommender pools a container's usage across the
Pods of a workload) and the recommendation is computed like the VPA recommender's:

* target      = the ``percentile`` of usage (90th by default) x (1 + ``safety_margin``),
* lower bound = the 50th percentile x (1 + margin), upper bound = the 95th percentile x (1 + margin),
* each bounded by ``min_allowed`` / ``max_allowed`` (VPA's defaults: 25m CPU and 250Mi memory at least),
* CPU rounded up to a millicore, memory up to a mebibyte.

HPA suggestions (Deployments and StatefulSets; a DaemonSet runs one Pod per node) size ``minReplicas`` for the
median total CPU and ``maxReplicas`` for twice the peak at the target utilisation, on the CPU request (the
recommended one when the container has none).
"""

from __future__ import annotations

import math
import re
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_PATHS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 1024.0, "Mi": 1024.0 ** 2, "Gi": 1024.0 ** 3, "Ti": 1024.0 ** 4, "Pi": 1024.0 ** 5, "Ei": 1024.0 ** 6}
_QUANTITY_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
DEFAULT_MIN = {"cpu": "25m", "memory": "250Mi"}
MIB = 1024.0 ** 2


def parse_quantity(value, option="quantity"):
    """A Kubernetes quantity (``250m``, ``1.5``, ``128Mi``, ``1e3``) as a float of base units (cores, bytes)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _QUANTITY_RE.match(str(value).strip()) if value is not None else None
    if not m:
        raise AdharError("%s: %r is not a Kubernetes quantity (such as 250m, 2, 512Mi or 1Gi)" % (option, value),
                         option=option)
    return float(m.group(1)) * _SUFFIX[m.group(2) or ""]


def format_cpu(cores):
    """Cores as Kubernetes writes them: ``250m``, ``2``, ``1500m``."""
    if cores is None:
        return "-"
    milli = int(math.ceil(round(cores * 1000, 6)))
    return str(milli // 1000) if milli % 1000 == 0 and milli else "%dm" % milli


def format_memory(value):
    """Bytes as ``Mi`` (or ``Gi`` when whole), rounded up."""
    if value is None:
        return "-"
    mib = int(math.ceil(round(value / MIB, 6)))
    return "%dGi" % (mib // 1024) if mib and mib % 1024 == 0 else "%dMi" % mib


FORMAT = {"cpu": format_cpu, "memory": format_memory}


def percentile(values, pct):
    """The ``pct`` percentile (0-100) of ``values``, linear between the closest ranks (numpy's default)."""
    if not values:
        return None
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * pct / 100.0
    lo = int(math.floor(rank))
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def _round_up(resource, value):
    step = 0.001 if resource == "cpu" else MIB
    return math.ceil(round(value / step, 6)) * step


def recommend(samples, resource, pct=90.0, margin=0.15, min_allowed=None, max_allowed=None):
    """VPA-style ``{"lower", "target", "upper"}`` for one container and resource from its usage ``samples`` (base
    units), each bounded by ``min_allowed`` / ``max_allowed`` (base units or None); None when there is no sample."""
    if not samples:
        return None
    out = {}
    for key, p in (("lower", 50.0), ("target", pct), ("upper", max(95.0, pct))):
        value = percentile(samples, p) * (1.0 + margin)
        if min_allowed is not None:
            value = max(value, min_allowed)
        if max_allowed is not None:
            value = min(value, max_allowed)
        out[key] = _round_up(resource, value)
    return out


def findings(resource, request, limit, usage, rec):
    """Plain-language notes on one container's resource: what is wrong with its request and limit."""
    notes = []
    if rec is None:
        return notes
    peak = max(usage) if usage else None
    if request is None:
        notes.append("no %s request" % resource)
    elif request < rec["lower"]:
        notes.append("%s request below typical use" % resource)
    elif request > rec["upper"] * 2:
        notes.append("%s over-provisioned" % resource)
    if limit is not None and peak is not None and limit < peak:
        notes.append("%s limit below peak use" % resource)
    elif limit is None and resource == "memory":
        notes.append("no memory limit")
    return notes


def label_selector(selector):
    """A label selector (``matchLabels`` and ``matchExpressions``) as the API's query string syntax."""
    parts = ["%s=%s" % kv for kv in sorted((selector or {}).get("matchLabels", {}).items())]
    for e in (selector or {}).get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    return ",".join(parts)


def hpa_suggestion(workload, totals, cpu_request, target_utilization, existing):
    """The HPA a workload could use, from the total CPU of its Pods at each sample time (cores)."""
    if workload["kind"] == "DaemonSet":
        return {"suggested": False, "reason": "a DaemonSet runs one Pod per node; it cannot be scaled horizontally"}
    if existing:
        return {"suggested": False, "reason": "already scaled by HorizontalPodAutoscaler %s" % existing, "existing": existing}
    if not totals or not cpu_request:
        return {"suggested": False, "reason": "no CPU usage observed" if not totals else "no CPU request to scale on"}
    per_pod = cpu_request * target_utilization / 100.0
    typical = int(math.ceil(round(percentile(totals, 50) / per_pod, 6)))
    peak = int(math.ceil(round(max(totals) / per_pod, 6)))
    min_replicas = max(1, typical)
    max_replicas = max(min_replicas + 1, 2 * peak)
    manifest = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload["name"], "namespace": workload["namespace"]},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": workload["kind"], "name": workload["name"]},
                 "minReplicas": min_replicas, "maxReplicas": max_replicas,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": target_utilization}}}]},
    }
    return {"suggested": True, "min_replicas": min_replicas, "max_replicas": max_replicas,
            "target_cpu_utilization": target_utilization, "manifest": manifest,
            "reason": "median use needs %d, peak %d replica(s) at %d%% of a %s request"
                      % (typical, peak, target_utilization, format_cpu(cpu_request))}


class Sampler:
    """Reads workloads, Pods and PodMetrics through a K8sClient (``raw`` GETs only: read-only)."""

    def __init__(self, client, namespace=None):
        self.client = client
        self.namespace = namespace

    def _get(self, group_path, resource, namespace=None, query=None):
        ns = "namespaces/%s/" % namespace if namespace else ""
        status, data = self.client.raw("GET", "%s/%s%s" % (group_path, ns, resource), query=query,
                                       raise_for_status=False)
        if status == 404 and group_path.startswith("/apis/metrics.k8s.io"):
            raise AdharError("the resource metrics API (metrics.k8s.io/v1beta1) is not served: install metrics-server "
                             "(local clusters: create them with metrics_server: true)")
        if status != 200:
            raise AdharError("GET %s/%s%s -> HTTP %s: %s" % (group_path, ns, resource, status, str(data)[:300]))
        return data.get("items") or []

    def metrics_served(self):
        status, dummy = self.client.raw("GET", "/apis/metrics.k8s.io/v1beta1", raise_for_status=False)
        return status == 200

    def workloads(self, kinds):
        out = []
        for kind in kinds:
            for obj in self._get("/apis/apps/v1", _PATHS[kind], self.namespace):
                meta = obj["metadata"]
                spec = obj.get("spec") or {}
                out.append({"kind": kind, "namespace": meta["namespace"], "name": meta["name"],
                            "replicas": spec.get("replicas") if kind != "DaemonSet"
                            else (obj.get("status") or {}).get("desiredNumberScheduled"),
                            "selector": spec.get("selector") or {},
                            "containers": ((spec.get("template") or {}).get("spec") or {}).get("containers") or []})
        return sorted(out, key=lambda w: (w["namespace"], w["kind"], w["name"]))

    def hpas(self):
        """``{(namespace, kind, name): hpa name}`` of the HorizontalPodAutoscalers."""
        out = {}
        for h in self._get("/apis/autoscaling/v2", "horizontalpodautoscalers", self.namespace):
            ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
            out[(h["metadata"]["namespace"], ref.get("kind"), ref.get("name"))] = h["metadata"]["name"]
        return out

    def pods_of(self, workload):
        sel = label_selector(workload["selector"])
        if not sel:
            return []
        pods = self._get("/api/v1", "pods", workload["namespace"], query={"labelSelector": sel})
        return [p["metadata"]["name"] for p in pods if (p.get("status") or {}).get("phase") == "Running"]

    def pod_metrics(self):
        """``{(namespace, pod): (timestamp, {container: {"cpu": cores, "memory": bytes}})}``, one reading."""
        out = {}
        for pm in self._get("/apis/metrics.k8s.io/v1beta1", "pods", self.namespace):
            usage = {}
            for c in pm.get("containers") or []:
                u = c.get("usage") or {}
                usage[c["name"]] = {"cpu": parse_quantity(u.get("cpu", "0")), "memory": parse_quantity(u.get("memory", "0"))}
            out[(pm["metadata"]["namespace"], pm["metadata"]["name"])] = (pm.get("timestamp"), usage)
        return out


def collect(sampler, samples, interval, sleep=time.sleep, progress=None):
    """``samples`` readings of the metrics API ``interval`` seconds apart; a reading metrics-server has not refreshed
    (same Pod, same timestamp) counts once.  Returns ``[{(ns, pod): {container: usage}}]``, one dict per reading."""
    seen = set()
    readings = []
    for i in range(samples):
        if i:
            sleep(interval)
        reading = {}
        for key, (stamp, usage) in sampler.pod_metrics().items():
            if (key, stamp) in seen:
                continue
            seen.add((key, stamp))
            reading[key] = usage
        readings.append(reading)
        if progress:
            progress(i + 1, samples, len(reading))
    return readings


def _request(container, kind, resource):
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    return parse_quantity(value, "%s.resources.%s.%s" % (container.get("name"), kind, resource)) if value is not None else None


def analyze_workload(workload, pods, readings, opts, existing_hpa=None):
    """The report of one workload: per container requests, limits, usage statistics, recommendation and notes."""
    pods = set(pods)
    containers = []
    totals = []
    for reading in readings:
        total = [sum((u.get(c["name"]) or {}).get("cpu", 0.0) for c in workload["containers"])
                 for (ns, pod), u in reading.items() if ns == workload["namespace"] and pod in pods]
        if total:
            totals.append(sum(total))
    pod_cpu_request = 0.0
    for c in workload["containers"]:
        row = {"name": c["name"], "notes": []}
        for res in ("cpu", "memory"):
            usage = [u[c["name"]][res] for reading in readings for (ns, pod), u in reading.items()
                     if ns == workload["namespace"] and pod in pods and c["name"] in u]
            request, limit = _request(c, "requests", res), _request(c, "limits", res)
            rec = recommend(usage, res, opts["percentile"], opts["safety_margin"], opts["min_allowed"].get(res),
                            opts["max_allowed"].get(res))
            fmt = FORMAT[res]
            row[res] = {
                "request": fmt(request) if request is not None else None,
                "limit": fmt(limit) if limit is not None else None,
                "samples": len(usage),
                "usage": {"p50": fmt(percentile(usage, 50)), "p%g" % opts["percentile"]: fmt(percentile(usage, opts["percentile"])),
                          "max": fmt(max(usage))} if usage else None,
                "recommendation": {k: fmt(v) for k, v in rec.items()} if rec else None,
            }
            row["notes"] += findings(res, request, limit, usage, rec)
            if res == "cpu":
                pod_cpu_request += request if request is not None else (rec["target"] if rec else 0.0)
        containers.append(row)
    out = {"kind": workload["kind"], "namespace": workload["namespace"], "name": workload["name"],
           "replicas": workload["replicas"], "pods": len(pods), "containers": containers}
    out["hpa"] = hpa_suggestion(workload, totals, pod_cpu_request, opts["hpa_target_utilization"], existing_hpa)
    return out


def format_table(report, pct):
    """A fixed-width text table: one line per container."""
    head = ("WORKLOAD", "CONTAINER", "CPU REQ/LIM", "CPU P50/P%g/MAX" % pct, "CPU REC", "MEM REQ/LIM",
            "MEM P50/P%g/MAX" % pct, "MEM REC", "HPA", "NOTES")
    rows = []
    for w in report:
        hpa = w["hpa"]
        hpa_text = ("%d-%d" % (hpa["min_replicas"], hpa["max_replicas"])) if hpa.get("suggested") else \
            ("has " + hpa["existing"] if hpa.get("existing") else "-")
        for c in w["containers"]:
            cells = ["%s/%s/%s" % (w["namespace"], w["kind"].lower(), w["name"]), c["name"]]
            for res in ("cpu", "memory"):
                r = c[res]
                cells.append("%s/%s" % (r["request"] or "-", r["limit"] or "-"))
                u = r["usage"]
                cells.append("/".join(u.values()) if u else "no samples")
                cells.append(r["recommendation"]["target"] if r["recommendation"] else "-")
            cells += [hpa_text, "; ".join(c["notes"]) or "ok"]
            rows.append(cells)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in [head] + rows)


def normalize_options(params):
    """Checked options of the module (each error names its option), before anything is read."""
    duration, interval = params["duration"], params["interval"]
    if interval <= 0:
        raise AdharError("interval: %r must be greater than 0 seconds" % interval, option="interval")
    if duration < 0:
        raise AdharError("duration: %r must be 0 (one reading) or more seconds" % duration, option="duration")
    if not 50 <= params["percentile"] <= 100:
        raise AdharError("percentile: %r must be between 50 and 100" % params["percentile"], option="percentile")
    if not 0 <= params["safety_margin"] <= 5:
        raise AdharError("safety_margin: %r must be between 0 and 5 (a fraction: 0.15 is 15%%)" % params["safety_margin"],
                         option="safety_margin")
    if not 1 <= params["hpa_target_utilization"] <= 100:
        raise AdharError("hpa_target_utilization: %r must be between 1 and 100 (percent)" % params["hpa_target_utilization"],
                         option="hpa_target_utilization")
    bounds = {}
    for key, default in (("min_allowed", DEFAULT_MIN), ("max_allowed", {})):
        given = params.get(key) or {}
        unknown = sorted(set(given) - {"cpu", "memory"})
        if unknown:
            raise AdharError("%s: only cpu and memory can be bounded (got %s)" % (key, ", ".join(unknown)), option=key)
        merged = dict(default, **{k: v for k, v in given.items() if v is not None})
        bounds[key] = {k: parse_quantity(v, "%s.%s" % (key, k)) for k, v in merged.items()}
    for res in ("cpu", "memory"):
        lo, hi = bounds["min_allowed"].get(res), bounds["max_allowed"].get(res)
        if lo is not None and hi is not None and lo > hi:
            raise AdharError("min_allowed.%s is greater than max_allowed.%s" % (res, res), option="min_allowed." + res)
    kinds = params.get("kinds") or list(KINDS)
    return {"samples": int(duration // interval) + 1, "interval": interval, "percentile": float(params["percentile"]),
            "safety_margin": float(params["safety_margin"]), "hpa_target_utilization": params["hpa_target_utilization"],
            "min_allowed": bounds["min_allowed"], "max_allowed": bounds["max_allowed"], "kinds": kinds}


def run(client, params, sleep=time.sleep, progress=None):
    """Sample, analyse every workload, and return the module's result."""
    opts = normalize_options(params)
    sampler = Sampler(client, params.get("namespace"))
    if not sampler.metrics_served():
        raise AdharError("the resource metrics API (metrics.k8s.io/v1beta1) is not served: install metrics-server "
                         "(local clusters: create them with metrics_server: true)")
    workloads = sampler.workloads(opts["kinds"])
    hpas = sampler.hpas()
    started = time.monotonic()
    readings = collect(sampler, opts["samples"], opts["interval"], sleep=sleep, progress=progress)
    report = [analyze_workload(w, sampler.pods_of(w), readings, opts, hpas.get((w["namespace"], w["kind"], w["name"])))
              for w in workloads]
    return {"changed": False, "workloads": report, "table": format_table(report, opts["percentile"]),
            "samples": len(readings), "sampled_seconds": round(time.monotonic() - started, 1),
            "namespace": params.get("namespace"),
            "settings": {"percentile": opts["percentile"], "safety_margin": opts["safety_margin"],
                         "min_allowed": {k: FORMAT[k](v) for k, v in opts["min_allowed"].items()},
                         "max_allowed": {k: FORMAT[k](v) for k, v in opts["max_allowed"].items()},
                         "hpa_target_utilization": opts["hpa_target_utilization"]}}
