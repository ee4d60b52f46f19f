# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import metrics, runtime as rt
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.state import Layout


def _data(enabled=True):
    return {"spec": {"metrics_server": enabled}, "ports": {"kwok": 21000, "metrics_server": 21001},
            "metrics_server_binary": "/bin/metrics-server"}


def test_program_only_when_enabled():
    assert metrics.program_names(_data()) == ["metrics-server"]
    assert metrics.program_names(_data(False)) == [] and metrics.program_names({"spec": {}}) == []


def test_kwok_serves_the_path_every_node_is_annotated_with():
    metric, usage = metrics.kwok_documents()
    assert metric["kind"] == "Metric" and usage["kind"] == "ClusterResourceUsage"
    assert metric["spec"]["path"] == "/metrics/nodes/{nodeName}/metrics/resource"
    names = {m["name"] for m in metric["spec"]["metrics"]}
    # what metrics-server's resource scraper parses
    assert {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "node_cpu_usage_seconds_total",
            "node_memory_working_set_bytes", "container_start_time_seconds"} <= names
    node = rt._node_body("kwok-node-3", "c1", 3)
    assert node["metadata"]["annotations"][metrics.PATH_ANNOTATION] == "/metrics/nodes/kwok-node-3/metrics/resource"
    cpu = usage["spec"]["usages"][0]["usage"]["cpu"]["expression"]
    assert metrics.USAGE_CPU in cpu and 'Quantity("1m")' in cpu


def test_command_scrapes_kwok_and_serves_on_its_port(tmp_path):
    cmd = metrics.command(Layout(str(tmp_path), "c1"), _data())
    assert cmd[0] == "/bin/metrics-server"
    assert "--kubelet-port=21000" in cmd and "--secure-port=21001" in cmd and "--bind-address=127.0.0.1" in cmd
    assert "--kubelet-preferred-address-types=InternalIP" in cmd


def test_api_objects_point_the_aggregator_at_localhost():
    service, api = metrics.api_objects(_data())
    assert service["spec"] == {"type": "ExternalName", "externalName": "127.0.0.1"}
    assert api["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert api["spec"]["service"] == {"name": "metrics-server", "namespace": "kube-system", "port": 21001}


def test_extra_ports_are_allocated(tmp_path):
    ports = rt.allocate_ports(str(tmp_path), "c1", 1, extra=("metrics_server",))
    assert ports["metrics_server"] not in (ports["kwok"], ports["api"])


def test_an_extra_port_avoids_the_clusters_own(tmp_path):
    ports = rt.allocate_ports(str(tmp_path), "c1", 1)

    class C:
        layout = Layout(str(tmp_path), "c1")

    C.ports = ports
    own = {ports["kwok"], ports["api"]} | set(ports["members"][0].values())
    assert rt.allocate_extra_port(str(tmp_path), C) not in own
