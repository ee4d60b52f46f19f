# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus and Alertmanager of a local cluster: the programs, their configurations, option checks."""

from __future__ import annotations

import json

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import monitoring as mon
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster import local_monitoring as lm

MEMBERS = [{"etcd_client": 21000 + 10 * i, "etcd_peer": 21001 + 10 * i, "apiserver": 21002 + 10 * i,
            "controller_manager": 21003 + 10 * i, "scheduler": 21004 + 10 * i} for i in range(3)]
SETTINGS = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s", "resend_delay": "1s",
            "retention": "2d", "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h", "webhook_url": None,
            "client_cert_days": 365, "bin_dirs": {"prometheus": "/p", "alertmanager": "/a", "kube-state-metrics": "/k"}}


def _data(monitoring=True):
    data = {"ports": {"members": MEMBERS, "api": 21100, "kwok": 21101, "prometheus": 21200, "alertmanager": 21201,
                      "kube_state_metrics": 21202, "kube_state_metrics_telemetry": 21203},
            "spec": {"control_plane_count": 3}, "bin_dir": "/k"}
    if monitoring:
        data["monitoring"] = dict(SETTINGS)
    return data


def test_programs_belong_to_the_cluster_only_with_monitoring(tmp_path):
    layout = st.Layout(str(tmp_path), "m")
    assert mon.program_names(_data(False)) == []
    cluster = rt.Cluster(layout, dict(_data(), spec={"control_plane_count": 3, "pod_cidr": "10.0.0.0/16"}))
    names = cluster.process_names()
    assert names[-3:] == ["prometheus", "alertmanager", "kube-state-metrics"]
    # started with the controllers, stopped with them (before the API servers and etcd)
    assert "prometheus" in cluster.phases()[1] and "prometheus" in cluster.stop_order()[0]
    argv = cluster.command("alertmanager")
    assert argv[0] == "/a/alertmanager" and "--cluster.listen-address=" in argv
    assert "--web.listen-address=127.0.0.1:21201" in argv
    argv = cluster.command("prometheus")
    assert argv[0] == "/p/prometheus" and "--rules.alert.resend-delay=1s" in argv
    assert "--config.file=" + layout.sub("config", "monitoring", "prometheus.yml") in argv
    # kube-state-metrics watches the cluster with its admin kubeconfig and listens on 127.0.0.1 only
    assert cluster.command("kube-state-metrics") == [
        "/k/kube-state-metrics", "--kubeconfig=" + layout.admin_kubeconfig, "--host=127.0.0.1", "--port=21202",
        "--telemetry-host=127.0.0.1", "--telemetry-port=21203"]
    assert "kube-state-metrics" in cluster.phases()[1] and "kube-state-metrics" in cluster.stop_order()[0]
    assert [(n, u + p) for n, u, p in mon.readiness(cluster.data)][2:] == [
        ("kube-state-metrics", "http://127.0.0.1:21202/healthz"), ("kube-state-metrics", "http://127.0.0.1:21203/readyz")]


def test_monitoring_set_up_before_kube_state_metrics_runs_without_it(tmp_path):
    """A cluster.json written before kube-state-metrics was part of the monitoring starts without it."""
    data = _data()
    del data["monitoring"]["bin_dirs"]["kube-state-metrics"]
    for key in ("kube_state_metrics", "kube_state_metrics_telemetry"):
        del data["ports"][key]
    assert mon.program_names(data) == ["prometheus", "alertmanager"]
    cluster = rt.Cluster(st.Layout(str(tmp_path), "m"), dict(data, spec={"control_plane_count": 3,
                                                                         "pod_cidr": "10.0.0.0/16"}))
    assert cluster.process_names()[-2:] == ["prometheus", "alertmanager"]
    assert {n: cluster.command(n)[0] for n in cluster.process_names()[-2:]} == {
        "prometheus": "/p/prometheus", "alertmanager": "/a/alertmanager"}


def test_prometheus_scrapes_every_process_with_the_cluster_pki(tmp_path):
    layout = st.Layout(str(tmp_path), "m")
    conf = json.loads(mon.prometheus_config(layout, _data()))
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    assert sorted(jobs) == ["alertmanager", "apiserver", "etcd", "kube-controller-manager", "kube-scheduler",
                            "kube-state-metrics", "kube-state-metrics-telemetry", "prometheus"]
    assert jobs["kube-state-metrics"]["static_configs"] == [{"targets": ["127.0.0.1:21202"],
                                                            "labels": {"member": "kube-state-metrics"}}]
    assert jobs["kube-state-metrics"]["honor_labels"] is True and "scheme" not in jobs["kube-state-metrics"]
    assert jobs["kube-state-metrics-telemetry"]["static_configs"][0]["targets"] == ["127.0.0.1:21203"]
    api = jobs["apiserver"]
    assert api["scheme"] == "https" and [g["targets"] for g in api["static_configs"]] == [
        ["127.0.0.1:21002"], ["127.0.0.1:21012"], ["127.0.0.1:21022"]]
    assert api["static_configs"][1]["labels"] == {"member": "apiserver-1"}
    assert api["tls_config"] == {"ca_file": layout.pki("ca.crt"), "cert_file": mon.pki_path(layout, "prometheus.crt"),
                                 "key_file": mon.pki_path(layout, "prometheus.key")}
    assert jobs["etcd"]["tls_config"]["cert_file"] == layout.pki("etcd-healthcheck-client.crt")
    assert jobs["kube-scheduler"]["tls_config"]["insecure_skip_verify"] is True
    assert "scheme" not in jobs["prometheus"]
    assert conf["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:21201"]
    assert conf["global"]["external_labels"] == {"cluster": "m"}
    assert conf["rule_files"] == [mon.config_path(layout, "rules.yml")]


def test_alertmanager_receiver_posts_to_the_webhook_only_when_given():
    data = _data()
    assert json.loads(mon.alertmanager_config(data))["receivers"] == [{"name": "default"}]
    data["monitoring"]["webhook_url"] = "http://127.0.0.1:9/hook"
    conf = json.loads(mon.alertmanager_config(data))
    assert conf["receivers"][0]["webhook_configs"] == [{"url": "http://127.0.0.1:9/hook", "send_resolved": True}]
    assert conf["route"]["receiver"] == "default"


def _params(**over):
    params = {k: v["default"] for k, v in lm.ARG_SPEC.items() if "default" in v}
    params.update(local_cluster="m", state_dir=None, webhook_url=None)
    params.update(over)
    return params


@pytest.mark.parametrize("option,value,message", [
    ("scrape_interval", "fast", "scrape_interval: 'fast' is not a Prometheus duration"),
    ("evaluation_interval", "0s", "evaluation_interval: '0s' is not a Prometheus duration"),
    ("retention", "1m1h", "retention: '1m1h' is not a Prometheus duration"),
    ("webhook_url", "ftp://x", "webhook_url: 'ftp://x' is not an http:// or https:// URL"),
])
def test_bad_options_are_refused(option, value, message):
    with pytest.raises(AdharError) as e:
        lm.check_params(_params(**{option: value}))
    assert message in str(e.value) and e.value.details["option"] == option


def test_durations_and_scrape_timeout():
    assert lm.seconds("1m30s") == 90 and lm.seconds("1h") == 3600 and lm.seconds("500ms") == 0.5
    assert lm._desired(_params(scrape_interval="2s"), {})["scrape_timeout"] == "2s"
    assert lm._desired(_params(scrape_interval="1m"), {})["scrape_timeout"] == "10s"
    assert lm.check_params(_params(scrape_interval="1m30s"))["scrape_interval"] == "1m30s"


def test_missing_binaries_name_the_toolchain_command(monkeypatch, tmp_path):
    monkeypatch.setenv("ADHAR_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ADHAR_BIN_DIR", raising=False)
    with pytest.raises(AdharError) as e:
        lm._binaries()
    assert "tools/toolchain ensure --only prometheus" in str(e.value)
