# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kwok Stage definitions: what simulated nodes and pods do.

kwok refuses to start without stages.  These give: nodes become Ready at once
and keep fresh heartbeats (node Leases are renewed by kwok itself through
``--node-lease-duration-seconds``) and report the kubelet version their Node was
created with (the cluster's release; an upgrade patches it); bound pods become Running and Ready;
pods owned by a Job complete; deleted pods go away.
"""

from __future__ import annotations

# (type, status, reason, message) of every node condition kwok keeps fresh
NODE_CONDITIONS = (
    ("Ready", "True", "KubeletReady", "kwok simulates a ready kubelet"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "no pressure"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "no pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "no pressure"),
    ("NetworkUnavailable", "False", "RouteCreated", "simulated network"),
)

NODE_CONDITIONS_TEMPLATE = "\n{{ $now := Now }}\nconditions:\n" + "".join(
    "- type: %s\n  status: \"%s\"\n  reason: %s\n  message: %s\n"
    "  lastHeartbeatTime: {{ $now | Quote }}\n"
    "  lastTransitionTime: {{ or .metadata.creationTimestamp $now | Quote }}\n" % c for c in NODE_CONDITIONS)

NODE_INIT_TEMPLATE = NODE_CONDITIONS_TEMPLATE + """
addresses:
- type: InternalIP
  address: {{ NodeIP | Quote }}
- type: Hostname
  address: {{ .metadata.name | Quote }}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
allocatable:
{{ with .status.allocatable }}{{ YAML . 1 }}{{ else }}
  cpu: "32"
  memory: 256Gi
  ephemeral-storage: 1Ti
  pods: "110"
{{ end }}
capacity:
{{ with .status.capacity }}{{ YAML . 1 }}{{ else }}
  cpu: "32"
  memory: 256Gi
  ephemeral-storage: 1Ti
  pods: "110"
{{ end }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: KUBELET_VERSION
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: kwok
phase: Running
"""

# the version the Node was created with (the cluster's release), else kwok's own
_KWOK_VERSION = '{{ printf "kwok-%s" Version | Quote }}'
NODE_INIT_TEMPLATE = NODE_INIT_TEMPLATE.replace("KUBELET_VERSION", (
    "{{ with .status.nodeInfo }}{{ with .kubeletVersion }}{{ . | Quote }}{{ else }}%s{{ end }}{{ else }}%s{{ end }}"
    % (_KWOK_VERSION, _KWOK_VERSION)))

POD_READY_TEMPLATE = """
{{ $now := Now }}
conditions:
- type: PodScheduled
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
- type: Initialized
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
- type: ContainersReady
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
- type: Ready
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ range .spec.readinessGates }}
- type: {{ .conditionType | Quote }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs:
- ip: {{ . | Quote }}
{{ end }}
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
podIPs:
- ip: {{ . | Quote }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"""

POD_COMPLETE_TEMPLATE = """
{{ $now := Now }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
"""


def _stage(name, kind, match, template=None, delete=False, delay_ms=None, jitter_ms=None):
    spec = {"resourceRef": {"apiGroup": "v1", "kind": kind}, "selector": {"matchExpressions": match}}
    spec["next"] = {"delete": True} if delete else {"statusTemplate": template}
    if delay_ms:
        spec["delay"] = {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": jitter_ms or delay_ms}
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


NOT_READY = {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status', "operator": "NotIn", "values": ["True"]}
IS_READY = {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status', "operator": "In", "values": ["True"]}
NOT_DELETING = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}


def stages():
    """The Stage objects, as dicts, in the order kwok should see them."""
    return [
        _stage("adhar-node-initialize", "Node", [NOT_READY], NODE_INIT_TEMPLATE),
        # refresh condition heartbeats now and then; liveness itself comes from node Leases
        _stage("adhar-node-heartbeat", "Node", [IS_READY, {"key": ".status.phase", "operator": "In", "values": ["Running"]}],
               NODE_CONDITIONS_TEMPLATE, delay_ms=60000, jitter_ms=65000),
        _stage("adhar-pod-ready", "Pod", [NOT_DELETING, {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
                                          NOT_READY], POD_READY_TEMPLATE),
        _stage("adhar-pod-complete", "Pod", [NOT_DELETING, {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                                             {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]}],
               POD_COMPLETE_TEMPLATE),
        _stage("adhar-pod-delete", "Pod", [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}], delete=True),
    ]
