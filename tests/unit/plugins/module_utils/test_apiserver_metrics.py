# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the API server /metrics summary."""

from __future__ import annotations

import math

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._k8s import apiserver_metrics as am

BODY = """\
# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="GET",version="v1",le="0.005"} 50
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="GET",version="v1",le="0.01"} 90
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="GET",version="v1",le="0.1"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="GET",version="v1",le="+Inf"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1",le="0.005"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1",le="0.01"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1",le="0.1"} 10
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1",le="+Inf"} 10
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="pods",scope="cluster",verb="WATCH",version="v1",le="+Inf"} 99999
apiserver_request_duration_seconds_sum{component="apiserver",verb="GET"} 0.4
apiserver_request_total{code="200",component="apiserver",group="",resource="configmaps",scope="namespace",verb="GET",version="v1"} 100
apiserver_request_total{code="201",component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1"} 8
apiserver_request_total{code="503",component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1"} 1
apiserver_request_total{code="429",component="apiserver",group="",resource="configmaps",scope="namespace",verb="POST",version="v1"} 1
apiserver_request_total_other{code="500"} 1000
"""


def test_histogram_quantile_matches_prometheus():
    buckets = [(0.005, 50.0), (0.01, 90.0), (0.1, 100.0), (math.inf, 100.0)]
    assert am.histogram_quantile(0.5, buckets) == pytest.approx(0.005)
    assert am.histogram_quantile(0.7, buckets) == pytest.approx(0.0075)
    assert am.histogram_quantile(0.99, buckets) == pytest.approx(0.091)
    # a rank in the +Inf bucket answers the highest finite bound
    assert am.histogram_quantile(0.99, [(0.1, 1.0), (math.inf, 10.0)]) == pytest.approx(0.1)
    assert am.histogram_quantile(0.5, []) is None
    assert am.histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None


def test_summary():
    acc = am.Accumulator()
    for line in BODY.splitlines():
        acc.feed(line)
    s = acc.summary()
    assert s["requests"] == 110 and s["errors_5xx"] == 1 and s["throttled_429"] == 1
    assert s["codes"] == {"2xx": 108, "4xx": 1, "5xx": 1}
    assert s["error_rate_percent"] == pytest.approx(100 / 110.0, abs=0.001)
    # WATCH is left out: 110 latency samples, 100 reads and 10 writes
    assert s["latency_requests"] == 110 and s["read_latency_requests"] == 100 and s["write_latency_requests"] == 10
    assert s["read_p99_ms"] == pytest.approx(91.0) and s["write_p50_ms"] == pytest.approx(55.0)
    assert "p99" in am.table_detail(s) and am.table_detail({"error": "HTTP 403"}) == "HTTP 403"


def test_labels_with_escapes():
    assert am.parse_labels('a="x\\"y",le="+Inf"') == {"a": 'x\\"y', "le": "+Inf"}
