# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._k8s import resource_analysis as ra
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

MI = 1024.0 ** 2


def params(**kw):
    base = {"duration": 60, "interval": 15, "percentile": 90.0, "safety_margin": 0.15,
            "min_allowed": {"cpu": "25m", "memory": "250Mi"}, "max_allowed": {}, "hpa_target_utilization": 70,
            "kinds": None, "namespace": None}
    base.update(kw)
    return base


@pytest.mark.parametrize("text,value", [("250m", 0.25), ("2", 2.0), ("1.5", 1.5), ("128Mi", 128 * MI), ("1Gi", 1024 * MI),
                                        ("1e3", 1000.0), ("500k", 5e5), ("12345678n", 0.012345678), ("100u", 1e-4)])
def test_parse_quantity(text, value):
    assert ra.parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "10 Mi", "5mi", None])
def test_parse_quantity_refuses_garbage(bad):
    with pytest.raises(AdharError) as e:
        ra.parse_quantity(bad, "min_allowed.cpu")
    assert "min_allowed.cpu" in e.value.msg


def test_format_rounds_up():
    assert ra.format_cpu(0.0461) == "47m" and ra.format_cpu(2.0) == "2" and ra.format_cpu(1.5) == "1500m"
    assert ra.format_memory(90 * MI) == "90Mi" and ra.format_memory(90 * MI + 1) == "91Mi"
    assert ra.format_memory(2048 * MI) == "2Gi"


def test_percentile_interpolates_like_numpy():
    data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert ra.percentile(data, 50) == pytest.approx(5.5)
    assert ra.percentile(data, 90) == pytest.approx(9.1)
    assert ra.percentile(data, 100) == 10 and ra.percentile([7], 90) == 7 and ra.percentile([], 90) is None


def test_recommend_is_percentile_plus_margin_bounded():
    cpu = [0.1] * 9 + [1.0]  # one spike in ten
    rec = ra.recommend(cpu, "cpu", pct=90, margin=0.15, min_allowed=0.025)
    # p50 = 0.1, p90 = 0.1 + 0.9 * 0.9 = 0.19, p95 = 0.595; each x 1.15, rounded up to a millicore
    assert rec == {"lower": pytest.approx(0.115), "target": pytest.approx(0.219), "upper": pytest.approx(0.685)}
    low = ra.recommend([0.001] * 5, "cpu", min_allowed=0.025)
    assert low == {"lower": 0.025, "target": 0.025, "upper": 0.025}
    capped = ra.recommend([4.0] * 5, "cpu", max_allowed=2.0)
    assert capped["target"] == 2.0
    mem = ra.recommend([100 * MI] * 3, "memory", margin=0.15)
    assert mem["target"] == 115 * MI  # 115.0 MiB exactly
    assert ra.recommend([], "cpu") is None


def test_findings():
    rec = {"lower": 0.2, "target": 0.3, "upper": 0.4}
    assert ra.findings("cpu", None, None, [0.2], rec) == ["no cpu request"]
    assert ra.findings("cpu", 0.1, None, [0.2], rec) == ["cpu request below typical use"]
    assert ra.findings("cpu", 1.0, 0.15, [0.2], rec) == ["cpu over-provisioned", "cpu limit below peak use"]
    assert ra.findings("memory", 0.3, None, [0.2], rec) == ["no memory limit"]
    assert ra.findings("cpu", 0.3, 1.0, [0.2], rec) == []


def test_label_selector():
    sel = {"matchLabels": {"app": "web", "tier": "fe"},
           "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                                {"key": "x", "operator": "Exists"}, {"key": "y", "operator": "DoesNotExist"},
                                {"key": "z", "operator": "NotIn", "values": ["c"]}]}
    assert ra.label_selector(sel) == "app=web,tier=fe,env in (a,b),x,!y,z notin (c)"


def _workload(kind="Deployment"):
    return {"kind": kind, "namespace": "shop", "name": "web", "replicas": 2, "selector": {},
            "containers": [{"name": "web", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                                         "limits": {"cpu": "500m", "memory": "256Mi"}}}]}


def test_hpa_suggestion_sizes_for_median_and_peak():
    w = _workload()
    # totals of CPU over the pods: median 0.3 cores, peak 0.6; 70% of 100m = 0.07 per pod
    s = ra.hpa_suggestion(w, [0.3, 0.3, 0.6], 0.1, 70, None)
    assert s["suggested"] and s["min_replicas"] == 5 and s["max_replicas"] == 18
    spec = s["manifest"]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert not ra.hpa_suggestion(_workload("DaemonSet"), [0.3], 0.1, 70, None)["suggested"]
    existing = ra.hpa_suggestion(w, [0.3], 0.1, 70, "web")
    assert not existing["suggested"] and existing["existing"] == "web"
    assert not ra.hpa_suggestion(w, [], 0.1, 70, None)["suggested"]


def test_analyze_workload_pools_the_pods_of_the_workload():
    readings = [{("shop", "web-1"): {"web": {"cpu": 0.04, "memory": 90 * MI}},
                 ("shop", "web-2"): {"web": {"cpu": 0.06, "memory": 100 * MI}},
                 ("other", "web-1"): {"web": {"cpu": 5.0, "memory": 5000 * MI}}},
                {("shop", "web-1"): {"web": {"cpu": 0.04, "memory": 90 * MI}}}]
    opts = ra.normalize_options(params())
    out = ra.analyze_workload(_workload(), ["web-1", "web-2"], readings, opts)
    c = out["containers"][0]
    assert c["cpu"]["samples"] == 3 and c["cpu"]["usage"]["max"] == "60m"
    assert c["cpu"]["request"] == "100m" and c["memory"]["limit"] == "256Mi"
    # memory: floor of 250Mi above 128Mi requested
    assert c["memory"]["recommendation"]["target"] == "250Mi" and "memory request below typical use" in c["notes"]
    assert out["hpa"]["suggested"] and out["pods"] == 2
    table = ra.format_table([out], 90)
    assert table.splitlines()[0].startswith("WORKLOAD") and "shop/deployment/web" in table and "100m/500m" in table


class FakeSampler:
    def __init__(self, stamps):
        self.stamps = list(stamps)

    def pod_metrics(self):
        stamp = self.stamps.pop(0)
        return {("shop", "web-1"): (stamp, {"web": {"cpu": 0.1, "memory": MI}})}


def test_collect_counts_an_unrefreshed_reading_once():
    slept = []
    readings = ra.collect(FakeSampler(["t1", "t1", "t2"]), 3, 5, sleep=slept.append)
    assert [len(r) for r in readings] == [1, 0, 1] and slept == [5, 5]


@pytest.mark.parametrize("kw,option", [({"interval": 0}, "interval"), ({"duration": -1}, "duration"),
                                       ({"percentile": 20}, "percentile"), ({"safety_margin": -0.1}, "safety_margin"),
                                       ({"hpa_target_utilization": 0}, "hpa_target_utilization"),
                                       ({"min_allowed": {"gpu": "1"}}, "min_allowed"),
                                       ({"min_allowed": {"cpu": "lots"}}, "min_allowed.cpu"),
                                       ({"min_allowed": {"cpu": "2"}, "max_allowed": {"cpu": "1"}}, "min_allowed.cpu")])
def test_bad_options_name_their_option(kw, option):
    with pytest.raises(AdharError) as e:
        ra.normalize_options(params(**kw))
    assert e.value.details["option"] == option


def test_samples_from_duration_and_interval():
    assert ra.normalize_options(params(duration=60, interval=15))["samples"] == 5
    assert ra.normalize_options(params(duration=0, interval=15))["samples"] == 1
