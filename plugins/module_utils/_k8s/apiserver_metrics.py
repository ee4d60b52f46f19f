# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request latency and error rates of one API server from its own ``/metrics`` (Prometheus text format).

What ``kubectl get --raw /metrics | grep apiserver_request`` shows, summarised:
``apiserver_request_total`` (by code) gives the request count, the share of
5xx answers and of 429 (throttled); the ``apiserver_request_duration_seconds``
histogram gives latency percentiles the way Prometheus's
``histogram_quantile`` computes them (linear inside the bucket). Long-running
requests (WATCH, CONNECT) are left out of the latency, as the API server's own
SLO metrics do. The counters are cumulative since the API server started.

The body is several megabytes: it is read as a stream, line by line, and only
the two metric families are kept.
"""

from __future__ import annotations

import http.client
import math
import re
from urllib.parse import urlsplit

DURATION = "apiserver_request_duration_seconds_bucket"
TOTAL = "apiserver_request_total"
LONG_RUNNING_VERBS = ("WATCH", "CONNECT")
READ_VERBS = ("GET", "LIST")
MAX_BYTES = 64 * 1024 * 1024

_LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_labels(text):
    return dict(_LABEL_RE.findall(text or ""))


def _value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    return float(text)


class Accumulator:
    """Folds the lines of one ``/metrics`` body into counts and cumulative histogram buckets."""

    def __init__(self):
        self.buckets = {"all": {}, "read": {}, "write": {}}  # le -> cumulative count
        self.total = 0.0
        self.by_class = {}  # "2xx" ... -> count
        self.throttled = 0.0
        self.lines = 0

    def feed(self, line):
        if not (line.startswith(DURATION) or line.startswith(TOTAL + "{")):
            return
        match = _LINE_RE.match(line)
        if not match:
            return
        name, labels, value = match.group(1), parse_labels(match.group(2)), _value(match.group(3))
        self.lines += 1
        if name == DURATION:
            verb = labels.get("verb", "")
            if verb in LONG_RUNNING_VERBS or "le" not in labels:
                return
            le = _value(labels["le"])
            kinds = ("all", "read" if verb in READ_VERBS else "write")
            for kind in kinds:
                self.buckets[kind][le] = self.buckets[kind].get(le, 0.0) + value
        elif name == TOTAL:
            code = labels.get("code", "")
            self.total += value
            klass = (code[:1] + "xx") if code[:1].isdigit() else "other"
            self.by_class[klass] = self.by_class.get(klass, 0.0) + value
            if code == "429":
                self.throttled += value

    def summary(self):
        errors = self.by_class.get("5xx", 0.0)
        out = {"requests": int(self.total), "errors_5xx": int(errors), "throttled_429": int(self.throttled),
               "error_rate_percent": round(100.0 * errors / self.total, 3) if self.total else 0.0,
               "codes": {k: int(v) for k, v in sorted(self.by_class.items())}}
        for kind in ("all", "read", "write"):
            buckets = sorted(self.buckets[kind].items())
            prefix = "" if kind == "all" else kind + "_"
            for pct in (50, 90, 99):
                q = histogram_quantile(pct / 100.0, buckets)
                out["%sp%d_ms" % (prefix, pct)] = None if q is None else round(q * 1000.0, 1)
            out["%slatency_requests" % prefix] = int(buckets[-1][1]) if buckets else 0
        return out


def histogram_quantile(q, buckets):
    """Prometheus's ``histogram_quantile`` over ``[(le, cumulative count)]`` sorted by ``le``; None without data.

    Linear interpolation inside the bucket holding the rank; a rank in the ``+Inf`` bucket answers the highest
    finite bound (as Prometheus does).
    """
    if not buckets or buckets[-1][0] != math.inf:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == math.inf:
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def scrape(url, ctx, timeout=10.0, headers=None):
    """Stream ``GET <url>/metrics`` and summarise it; ``{"error": ...}`` when it cannot be read (never raises)."""
    parsed = urlsplit(url)
    try:
        if parsed.scheme == "https":
            conn = http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, context=ctx, timeout=timeout)
        else:
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}
    acc = Accumulator()
    try:
        send = {"Accept": "text/plain", "User-Agent": "adhar.platform"}
        send.update(headers or {})
        conn.request("GET", (parsed.path or "").rstrip("/") + "/metrics", headers=send)
        resp = conn.getresponse()
        if resp.status != 200:
            return {"error": "HTTP %s from /metrics%s" % (resp.status, " (not allowed for these credentials)"
                                                          if resp.status in (401, 403) else "")}
        read = 0
        while True:
            line = resp.readline(65536)
            if not line:
                break
            read += len(line)
            if read > MAX_BYTES:
                return {"error": "/metrics is larger than %d MiB" % (MAX_BYTES // 1048576)}
            acc.feed(line.decode("utf-8", "replace"))
    except (OSError, http.client.HTTPException) as exc:
        return {"error": str(exc) or exc.__class__.__name__}
    finally:
        conn.close()
    if not acc.lines:
        return {"error": "no apiserver_request metrics in /metrics"}
    return acc.summary()


def table_detail(summary):
    """One line for the health table."""
    if summary.get("error"):
        return summary["error"]
    return "p50 %s ms, p99 %s ms (reads p99 %s, writes p99 %s), %d requests, %s%% 5xx, %d throttled" % (
        summary.get("p50_ms"), summary.get("p99_ms"), summary.get("read_p99_ms"), summary.get("write_p99_ms"),
        summary.get("requests", 0), summary.get("error_rate_percent"), summary.get("throttled_429", 0))
