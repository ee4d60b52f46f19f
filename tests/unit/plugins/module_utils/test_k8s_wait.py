# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness rules and the watch-based waiter (with a scripted fake client)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._k8s import wait as k8s_wait
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Resource
from ansible_collections.adhar.platform.plugins.module_utils._k8s.wait import (
    FAILED,
    PENDING,
    READY,
    Target,
    condition_rule,
    crd_state,
    daemonset_state,
    deployment_state,
    job_state,
    plan_streams,
    pod_state,
    rule_for,
    statefulset_state,
    wait_for,
)

DEPLOY = Resource("apps", "v1", "Deployment", "deployments", True)
CONFIGMAP = Resource("", "v1", "ConfigMap", "configmaps", True)
WIDGET = Resource("example.com", "v1", "Widget", "widgets", True)
CRD = Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)


def dep(gen=2, observed=2, replicas=3, updated=3, total=3, available=3, conditions=None, paused=False):
    return {"metadata": {"generation": gen}, "spec": {"replicas": replicas, "paused": paused},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "conditions": conditions or []}}


@pytest.mark.parametrize("obj,state,needle", [
    (dep(), READY, "3 replicas available"),
    (dep(observed=1), PENDING, "observe generation 2"),
    (dep(updated=2), PENDING, "2 of 3 replicas updated"),
    (dep(total=4), PENDING, "1 old replicas"),
    (dep(available=1), PENDING, "1 of 3 updated replicas available"),
    (dep(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "slow"}]),
     FAILED, "progress deadline exceeded: slow"),
    (dep(observed=1, paused=True), READY, "paused"),
    ({"metadata": {"generation": 1}, "spec": {},
      "status": {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 1, "availableReplicas": 1}}, READY, "1 replicas"),
])
def test_deployment_state(obj, state, needle):
    got, message = deployment_state(obj)
    assert got == state and needle in message


def test_statefulset_daemonset_job_crd_pod_rules():
    sts = {"metadata": {"generation": 1}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "a", "updateRevision": "a"}}
    assert statefulset_state(sts)[0] == READY
    rolling = dict(sts, status=dict(sts["status"], updateRevision="b"))
    assert statefulset_state(rolling) == (PENDING, "rolling update to revision b in progress")
    partitioned = dict(rolling, spec={"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}},
                       status=dict(rolling["status"], readyReplicas=3, updatedReplicas=1))
    assert statefulset_state(partitioned)[0] == READY
    ds = {"metadata": {"generation": 1}, "spec": {},
          "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert daemonset_state(ds) == (PENDING, "2 of 3 pods available")
    ds["status"]["numberAvailable"] = 3
    assert daemonset_state(ds)[0] == READY
    assert job_state({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})[0] == READY
    failed = job_state({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}})
    assert failed[0] == FAILED and "BackoffLimitExceeded" in failed[1]
    assert job_state({"spec": {"suspend": True}, "status": {}}) == (PENDING, "suspended")
    assert crd_state({"status": {"conditions": [{"type": "Established", "status": "True"}]}})[0] == READY
    assert crd_state({"status": {"conditions": [{"type": "NamesAccepted", "status": "False", "message": "clash"}]}}) == (
        FAILED, "names not accepted: clash")
    assert pod_state({"status": {"phase": "Succeeded"}})[0] == READY
    assert pod_state({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})[0] == READY
    assert pod_state({"status": {"phase": "Failed"}})[0] == FAILED


def test_condition_rule_and_rule_for():
    rule = condition_rule({"type": "Ready", "status": "True", "reason": "Done"})
    assert rule({"status": {}})[0] == PENDING
    assert rule({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Other"}]}})[0] == PENDING
    assert rule({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Done"}]}}) == (READY, "Ready=True (Done)")
    cond = {"type": "Ready"}
    assert rule_for(CONFIGMAP) is None and rule_for(CONFIGMAP, cond) is None
    assert rule_for(DEPLOY) is deployment_state and rule_for(DEPLOY, cond) is deployment_state
    assert rule_for(WIDGET) is None and rule_for(WIDGET, cond) is not None          # custom resources by default
    assert rule_for(DEPLOY, dict(cond, kinds=["Deployment"])) is not deployment_state  # listed kinds: the condition


def test_plan_streams_groups_by_resource_and_namespace():
    targets = [Target(DEPLOY, "a", "x"), Target(DEPLOY, "b", "y"), Target(CONFIGMAP, "a", "c"), Target(CRD, "ignored", "w")]
    plans = plan_streams(targets, lambda resource: True)
    assert sorted((r.plural, ns, len(g)) for r, ns, g in plans) == [
        ("configmaps", "a", 1), ("customresourcedefinitions", None, 1), ("deployments", None, 2)]
    plans = plan_streams(targets, lambda resource: False)
    assert sorted((r.plural, ns or "") for r, ns, g in plans if r is DEPLOY) == [("deployments", "a"), ("deployments", "b")]


class StreamResponse:
    def __init__(self, events):
        self.lines = [json.dumps(e).encode() + b"\n" for e in events]
        self.closed = False

    def stream(self, amt=None, decode_content=False):
        for line in self.lines:
            yield line[:5]
            yield line[5:]

    def close(self):
        self.closed = True

    def release_conn(self):
        pass


class ScriptedClient:
    """LIST answers and WATCH event lists, in order."""

    api_client = object()

    def __init__(self, lists, watches):
        self.lists = list(lists)
        self.watches = list(watches)
        self.requests = []

    def raw(self, method, path, query=None, **kwargs):
        self.requests.append((method, path, dict(query or {})))
        if query and query.get("limit") == "1":
            return 200, {"items": []}
        return 200, self.lists.pop(0)

    def call(self, fn, *args, **kwargs):
        assert fn is k8s_wait.open_stream
        self.requests.append(("WATCH", args[1], dict(args[2])))
        return StreamResponse(self.watches.pop(0))


def obj(name, namespace="a", rv="1", **status):
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv, "generation": 1},
            "spec": {"replicas": 1}, "status": dict({"observedGeneration": 1}, **status)}


def test_wait_for_lists_then_watches_until_ready():
    ready = {"updatedReplicas": 1, "replicas": 1, "availableReplicas": 1}
    client = ScriptedClient(
        lists=[{"metadata": {"resourceVersion": "10"}, "items": [obj("x"), obj("y", **ready)]}],
        watches=[[{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "11"}}},
                  {"type": "MODIFIED", "object": obj("other", **ready)},
                  {"type": "MODIFIED", "object": obj("x", rv="12", **ready)},
                  {"type": "MODIFIED", "object": obj("never-read")}]])
    targets = [Target(DEPLOY, "a", "x", deployment_state), Target(DEPLOY, "a", "y", deployment_state)]
    wait_for(client, targets, 30)
    assert [t.state for t in targets] == [READY, READY]
    watch = [r for r in client.requests if r[0] == "WATCH"][0]
    assert watch[1] == "/apis/apps/v1/namespaces/a/deployments"
    # only x was pending after the LIST: the watch is narrowed to it
    assert watch[2]["resourceVersion"] == "10" and watch[2]["watch"] == "1" and watch[2]["fieldSelector"] == "metadata.name=x"


def test_wait_for_relists_after_gone_and_reports_failures_and_timeouts():
    clock = {"t": 0.0}

    def tick():
        clock["t"] += 1.0
        return clock["t"]

    failed_job = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
    client = ScriptedClient(
        lists=[{"metadata": {"resourceVersion": "5"}, "items": [obj("j")]},
               {"metadata": {"resourceVersion": "9"}, "items": [obj("j", **failed_job)]}],
        watches=[[{"type": "ERROR", "object": {"code": 410, "message": "too old"}}]])
    job = Resource("batch", "v1", "Job", "jobs", True)
    targets = [Target(job, "a", "j", k8s_wait.job_state)]
    wait_for(client, targets, 30, clock=tick)
    assert targets[0].state == FAILED and "BackoffLimitExceeded" in targets[0].message
    # a single target is selected by name; time running out leaves it pending with "timed out"
    client = ScriptedClient(lists=[{"metadata": {"resourceVersion": "5"}, "items": [obj("x")]}], watches=[[]])
    targets = [Target(DEPLOY, "a", "x", deployment_state)]
    wait_for(client, targets, 3, clock=tick)
    assert targets[0].state == PENDING and targets[0].message.startswith("timed out: ")
    assert client.requests[0][2]["fieldSelector"] == "metadata.name=x"


def test_wait_for_deletion():
    client = ScriptedClient(
        lists=[{"metadata": {"resourceVersion": "5"}, "items": [dict(obj("a"), metadata=dict(obj("a")["metadata"], finalizers=["f"]))]}],
        watches=[[{"type": "DELETED", "object": obj("a")}]])
    targets = [Target(CONFIGMAP, "a", "a"), Target(CONFIGMAP, "a", "already-gone")]
    wait_for(client, targets, 30, deleted=True)
    assert [(t.state, t.message) for t in targets] == [(READY, "deleted"), (READY, "deleted")]
