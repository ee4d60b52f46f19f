# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for many objects at once with watches, under one deadline.

Readiness rules (``readiness(obj)``) are pure functions of an object (a dict)
returning ``(state, message)`` with ``state`` one of ``READY``, ``PENDING``
or ``FAILED`` (a failure that waiting will not fix, such as a Job that
failed or a Deployment past its progress deadline).

``wait_for(client, targets, timeout)`` groups the targets by resource: one
LIST + WATCH stream per resource (cluster-wide when the objects span several
namespaces and the caller may list cluster-wide, else one per namespace), all
streams in parallel, every stream ending as soon as its objects are settled.
Nothing is polled.  A stream that the server closes (its ``timeoutSeconds``,
``410 Gone``) is listed and watched again while time is left.
"""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, api_exception_details, is_api_exception
from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import is_custom_group

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - checked by the module (require_k8s)
    ApiException = None

READY = "ready"
PENDING = "pending"
FAILED = "failed"

MAX_STREAMS = 16  # the client's connection pool size
CONNECT_TIMEOUT = 10.0


def error_text(exc):
    """One line for an error about one object (an ApiException shows the server's message, not its headers)."""
    if is_api_exception(exc):
        message, details = api_exception_details(exc)
        reason = details.get("api_reason") or details.get("reason") or ""
        return " ".join("HTTP {0} {1}: {2}".format(details.get("status"), reason, message).split())
    return str(exc) or type(exc).__name__


def _conditions(obj):
    return {c.get("type"): c for c in ((obj.get("status") or {}).get("conditions") or []) if isinstance(c, dict)}


def _observed(obj):
    """``(True, None)`` when the controller has seen the latest spec, else ``(False, message)``."""
    gen = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if gen is not None and (observed is None or observed < gen):
        return False, "waiting for the controller to observe generation {0}".format(gen)
    return True, None


def _workload(check):
    """A rule for a controller-managed workload: pending until the controller has seen the latest spec,
    then ``check(spec, status)``.  A paused workload counts as ready (nothing will happen until it is resumed)."""

    def rule(obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if spec.get("paused"):
            return READY, "paused"
        seen, msg = _observed(obj)
        if not seen:
            return PENDING, msg
        return check(obj, spec, status)

    rule.__name__ = rule.__qualname__ = check.__name__.lstrip("_")
    rule.__doc__ = check.__doc__
    return rule


@_workload
def deployment_state(obj, spec, status):
    """Deployments: every replica updated, no old ones left, the updated ones available."""
    progressing = _conditions(obj).get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return FAILED, "progress deadline exceeded: {0}".format(progressing.get("message") or "")
    want = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if updated < want:
        return PENDING, "{0} of {1} replicas updated".format(updated, want)
    if (status.get("replicas") or 0) > updated:
        return PENDING, "{0} old replicas pending termination".format(status.get("replicas") - updated)
    available = status.get("availableReplicas") or 0
    if available < updated:
        return PENDING, "{0} of {1} updated replicas available".format(available, updated)
    return READY, "{0} replicas available".format(available)


@_workload
def statefulset_state(obj, spec, status):
    """StatefulSets: replicas ready, the rolling update (or its partition) done, replicas available."""
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas") or 0
    if ready < want:
        return PENDING, "{0} of {1} replicas ready".format(ready, want)
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        if partition:
            updated = status.get("updatedReplicas") or 0
            if updated < want - partition:
                return PENDING, "{0} of {1} replicas updated (partition {2})".format(updated, want - partition, partition)
        elif status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
            return PENDING, "rolling update to revision {0} in progress".format(status.get("updateRevision"))
    available = status.get("availableReplicas")
    if available is not None and available < want:
        return PENDING, "{0} of {1} replicas available".format(available, want)
    return READY, "{0} replicas ready".format(ready)


@_workload
def daemonset_state(obj, spec, status):
    """DaemonSets: every scheduled pod updated (rolling update) and available."""
    desired = status.get("desiredNumberScheduled") or 0
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
        updated = status.get("updatedNumberScheduled") or 0
        if updated < desired:
            return PENDING, "{0} of {1} pods updated".format(updated, desired)
    available = status.get("numberAvailable") or 0
    if available < desired:
        return PENDING, "{0} of {1} pods available".format(available, desired)
    return READY, "{0} pods available".format(available)


def job_state(obj):
    conds = _conditions(obj)
    for kind in ("Failed", "FailureTarget"):
        c = conds.get(kind) or {}
        if c.get("status") == "True":
            return FAILED, "job failed: {0} {1}".format(c.get("reason") or "", c.get("message") or "").strip()
    c = conds.get("Complete") or {}
    if c.get("status") == "True":
        return READY, "complete"
    if (obj.get("spec") or {}).get("suspend"):
        return PENDING, "suspended"
    status = obj.get("status") or {}
    return PENDING, "{0} succeeded, {1} active".format(status.get("succeeded") or 0, status.get("active") or 0)


def crd_state(obj):
    conds = _conditions(obj)
    names = conds.get("NamesAccepted") or {}
    if names.get("status") == "False":
        return FAILED, "names not accepted: {0}".format(names.get("message") or names.get("reason") or "")
    est = conds.get("Established") or {}
    if est.get("status") == "True":
        return READY, "established"
    return PENDING, "not established yet"


def pod_state(obj):
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return READY, "succeeded"
    if phase == "Failed":
        return FAILED, "pod failed: {0}".format((obj.get("status") or {}).get("reason") or "")
    ready = _conditions(obj).get("Ready") or {}
    if ready.get("status") == "True":
        return READY, "ready"
    return PENDING, "phase {0}".format(phase or "unknown")


# (group, kind) -> rule.  Anything else is only waited for through a wait_condition.
RULES = {
    ("apps", "Deployment"): deployment_state,
    ("apps", "StatefulSet"): statefulset_state,
    ("apps", "DaemonSet"): daemonset_state,
    ("batch", "Job"): job_state,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_state,
    ("", "Pod"): pod_state,
}


def condition_rule(condition):
    """A rule for ``{type, status, reason}``: the object has that condition (``status`` default ``"True"``)."""
    ctype = condition["type"]
    want_status = str(condition.get("status") or "True")
    want_reason = condition.get("reason")

    def rule(obj):
        c = _conditions(obj).get(ctype)
        if c is None:
            return PENDING, "no {0} condition yet".format(ctype)
        if str(c.get("status")) == want_status and (not want_reason or c.get("reason") == want_reason):
            return READY, "{0}={1}{2}".format(ctype, c.get("status"), " ({0})".format(c.get("reason")) if c.get("reason") else "")
        return PENDING, "{0}={1}{2}".format(ctype, c.get("status"), ": {0}".format(c.get("message")) if c.get("message") else "")

    return rule


def rule_for(resource, condition=None):
    """The readiness rule for objects of ``resource``, or ``None`` when they are not waited for.

    A ``condition`` (``{type, status, reason, kinds}``) applies to the kinds
    it lists, or, without ``kinds``, to custom resources (API groups outside
    Kubernetes' own); it overrides the built-in rule of a kind it names.
    """
    if condition and condition.get("type"):
        kinds = condition.get("kinds")
        if (kinds and resource.kind in kinds) or (not kinds and is_custom_group(resource.group)):
            return condition_rule(condition)
    return RULES.get((resource.group, resource.kind))


class Target:
    """One object to wait for; ``state``/``message`` hold the last verdict."""

    __slots__ = ("resource", "namespace", "name", "rule", "state", "message")

    def __init__(self, resource, namespace, name, rule=None):
        self.resource = resource
        self.namespace = namespace if resource.namespaced else None
        self.name = name
        self.rule = rule
        self.state = PENDING
        self.message = "not seen yet"

    @property
    def key(self):
        return (self.namespace or "", self.name)

    def as_result(self):
        return {"ready": self.state == READY, "state": self.state, "message": self.message}


class _Stream:
    """LIST + WATCH of one resource (in one namespace, or all) until its targets settle or time runs out."""

    def __init__(self, client, resource, namespace, targets, deleted, deadline, clock):
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.targets = {t.key: t for t in targets}
        self.deleted = deleted
        self.deadline = deadline
        self.clock = clock

    def _pending(self):
        return [t for t in self.targets.values() if t.state == PENDING]

    def _judge(self, obj, gone=False):
        meta = obj.get("metadata") or {}
        t = self.targets.get((meta.get("namespace") or "" if self.resource.namespaced else "", meta.get("name")))
        if t is None or t.state != PENDING:
            return
        if self.deleted:
            if gone:
                t.state, t.message = READY, "deleted"
            else:
                t.message = "still exists" + (" (finalizers: {0})".format(", ".join(meta["finalizers"])) if meta.get("finalizers") else "")
        elif gone:
            t.state, t.message = FAILED, "deleted while waiting"
        else:
            t.state, t.message = t.rule(obj)

    def _query(self, extra=None):
        query = {}
        pending = self._pending()
        if len(pending) == 1:
            query["fieldSelector"] = "metadata.name=" + pending[0].name
        query.update(extra or {})
        return query

    def list(self):
        status, data = self.client.raw("GET", self.resource.path(self.namespace), query=self._query(), raise_for_status=False)
        if status == 404 and self.deleted:
            # The resource itself is gone (its CRD was deleted): so are its objects.
            for t in self._pending():
                t.state, t.message = READY, "deleted"
            return None
        if not 200 <= status <= 299:
            raise AdharError("HTTP {0}: {1}".format(status, (data or {}).get("message") if isinstance(data, dict) else data))
        items = (data or {}).get("items") or []
        seen = set()
        for obj in items:
            meta = obj.get("metadata") or {}
            seen.add((meta.get("namespace") or "" if self.resource.namespaced else "", meta.get("name")))
            self._judge(obj)
        for t in self._pending():
            if t.key not in seen:
                if self.deleted:
                    t.state, t.message = READY, "deleted"
                else:
                    t.message = "not found"
        return ((data or {}).get("metadata") or {}).get("resourceVersion")

    def watch(self, resource_version):
        """Follow events from ``resource_version``; returns the last version seen, or None to re-list (410)."""
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            return resource_version
        server_timeout = max(1, int(math.ceil(remaining)))
        query = self._query({"watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                             "timeoutSeconds": str(server_timeout)})
        response = self.client.call(open_stream, self.client.api_client, self.resource.path(self.namespace), query,
                                    _request_timeout=(CONNECT_TIMEOUT, server_timeout + 10))
        try:
            for line in _lines(response):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                etype, obj = event.get("type"), event.get("object") or {}
                if etype == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise AdharError("Watch of {0} failed: {1}".format(self.resource.path(self.namespace), obj.get("message")))
                resource_version = (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                if etype in ("ADDED", "MODIFIED"):
                    self._judge(obj)
                elif etype == "DELETED":
                    self._judge(obj, gone=True)
                if not self._pending() or self.clock() >= self.deadline:
                    break
        finally:
            _close(response)
        return resource_version

    def run(self):
        rv = None
        while self._pending() and self.clock() < self.deadline:
            if rv is None:
                rv = self.list()
                if not self._pending():
                    break
            try:
                rv = self.watch(rv)
            except Exception as exc:
                if not (self.deleted and getattr(exc, "status", None) == 404):
                    raise
                rv = None  # the resource went away while watching: list again
        for t in self._pending():
            t.message = "timed out: " + t.message


def open_stream(api_client, path, query, _request_timeout=None):
    """Open a GET whose body is not read yet (a watch) with the SDK's ApiClient; returns the urllib3 response.

    Its ``headers`` are there too (``raw()`` does not return them).  A
    non-2xx answer raises the SDK's ``ApiException`` (so ``K8sClient.call``
    retries 429/5xx).
    """
    url = path + ("?" + urlencode(query) if query else "")
    headers = {"Accept": "application/json"}
    if hasattr(api_client, "param_serialize"):  # OpenAPI generator >= 7 layout (kubernetes >= 35)
        request = api_client.param_serialize("GET", url, header_params=headers, auth_settings=["BearerToken"])
        response = api_client.call_api(*request, _request_timeout=_request_timeout)
        if not 200 <= response.status <= 299:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = response.read().decode("utf-8", errors="replace")
            error.headers = response.headers
            raise error
        return response.response
    return api_client.call_api(url, "GET", header_params=headers, auth_settings=["BearerToken"], _preload_content=False,
                               _return_http_data_only=True, _request_timeout=_request_timeout)


def _lines(response):
    buf = b""
    for chunk in response.stream(None, decode_content=False):
        buf += chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line.decode("utf-8", errors="replace")
    if buf.strip():
        yield buf.decode("utf-8", errors="replace")


def _close(response):
    for name in ("close", "release_conn"):
        fn = getattr(response, name, None)
        if fn is not None:
            try:
                fn()
            except Exception:  # closing a half-read stream must never mask the real outcome
                pass


def _can_list_all(client, resource):
    status, dummy = client.raw("GET", resource.path(None), query={"limit": "1"}, raise_for_status=False)
    return 200 <= status <= 299


def plan_streams(targets, can_list_all):
    """Group targets into ``(resource, namespace, [targets])`` streams (``namespace`` None = all namespaces)."""
    by_resource = {}
    for t in targets:
        by_resource.setdefault(t.resource, []).append(t)
    streams = []
    for resource, group in by_resource.items():
        namespaces = sorted({t.namespace for t in group if t.namespace})
        if not resource.namespaced or len(namespaces) == 1:
            streams.append((resource, namespaces[0] if namespaces else None, group))
        elif can_list_all(resource):
            streams.append((resource, None, group))
        else:
            for ns in namespaces:
                streams.append((resource, ns, [t for t in group if t.namespace == ns]))
    return streams


def wait_for(client, targets, timeout, deleted=False, clock=time.monotonic):
    """Wait until every target is settled (ready/failed; with ``deleted``, gone) or ``timeout`` seconds pass.

    Updates each target's ``state`` and ``message`` in place; returns the
    seconds spent.  Errors of one stream (a 403, say) mark its targets
    failed with that error instead of aborting the others.
    """
    start = clock()
    targets = [t for t in targets if deleted or t.rule is not None]
    if not targets:
        return 0.0
    deadline = start + max(0.0, float(timeout))
    streams = [_Stream(client, r, ns, group, deleted, deadline, clock)
               for r, ns, group in plan_streams(targets, lambda res: _can_list_all(client, res))]
    lock = threading.Lock()

    def run(stream):
        try:
            stream.run()
        except Exception as exc:  # reported on the stream's objects
            with lock:
                for t in stream._pending():
                    t.state, t.message = FAILED, "wait failed: {0}".format(error_text(exc))

    if len(streams) == 1:
        run(streams[0])
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_STREAMS, len(streams)), thread_name_prefix="adhar-wait") as pool:
            list(pool.map(run, streams))
    return clock() - start
