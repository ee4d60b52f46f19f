# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seed a cluster with many mixed objects for the backup / restore / recovery benchmarks.

    from _seed import seed_objects, count_objects
    counts = seed_objects(kubeconfig, total=20000, namespaces=200, workers=16, prefix="bench")

or from a shell:

    .venv/bin/python benchmarks/_seed.py KUBECONFIG [--total 20000] [--namespaces 200] [--prefix bench]

The mix (of `total`, Namespaces not counted): 40 % ConfigMaps (about 1 KiB of data each),
30 % Secrets (Opaque, 3 keys), 15 % Deployments (replicas 0 by default, so the cluster does
not also run thousands of simulated pods; their ReplicaSets still appear), 15 % Services
(ClusterIP).  Objects are spread round-robin over Namespaces `<prefix>-ns-<k>`, named
`<prefix>-<kind>-<i>`, labelled `bench.adhar.io/set=<prefix>` and
`app.kubernetes.io/name=<prefix>-app-<i % 50>`.  Creates go through the Kubernetes Python
client with `workers` threads; an object that already exists counts as seeded, so a
re-run tops up an interrupted seed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import time

MIX = (("configmaps", 0.40), ("secrets", 0.30), ("deployments", 0.15), ("services", 0.15))
LABEL = "bench.adhar.io/set"


def plan(total, namespaces, prefix="bench"):
    """[(resource, namespace, name, index)] for `total` objects, deterministic."""
    out = []
    counts = [int(total * share) for dummy, share in MIX]
    counts[0] += total - sum(counts)
    i = 0
    for (resource, dummy), n in zip(MIX, counts):
        for dummy in range(n):
            ns = "%s-ns-%d" % (prefix, i % namespaces)
            out.append((resource, ns, "%s-%s-%d" % (prefix, resource[:-1], i), i))
            i += 1
    return out


def body(resource, namespace, name, index, prefix="bench", replicas=0):
    labels = {LABEL: prefix, "app.kubernetes.io/name": "%s-app-%d" % (prefix, index % 50)}
    meta = {"name": name, "namespace": namespace, "labels": labels}
    if resource == "configmaps":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                "data": {"index": str(index), "payload": ("%08d" % index) * 128}}
    if resource == "secrets":
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
                "stringData": {"username": "user-%d" % index, "password": "s3cret-%d-%s" % (index, prefix),
                               "token": "tok-%064d" % index}}
    if resource == "deployments":
        sel = {"bench.adhar.io/app": name}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": {"replicas": replicas, "selector": {"matchLabels": sel},
                         "template": {"metadata": {"labels": dict(sel, **labels)},
                                      "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.%d" % (index % 7),
                                                               "env": [{"name": "INDEX", "value": str(index)}]}]}}}}
    if resource == "services":
        return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                "spec": {"selector": {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]},
                         "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    raise ValueError(resource)


PATHS = {"configmaps": "/api/v1/namespaces/%s/configmaps", "secrets": "/api/v1/namespaces/%s/secrets",
         "services": "/api/v1/namespaces/%s/services", "deployments": "/apis/apps/v1/namespaces/%s/deployments"}


def _collections_path():
    """The collections root `make collection` links this checkout into (ADHAR_WORK, default ~/.cache/adhar/work)."""
    work = os.environ.get("ADHAR_WORK") or os.path.join(os.path.expanduser("~"), ".cache", "adhar", "work")
    return os.path.join(work, "collections")


def _client(kubeconfig, workers):
    """The collection's own K8sClient (the one client factory; its connection pool holds 16 connections)."""
    sys.path.insert(0, _collections_path())
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    return K8sClient.from_params({"kubeconfig": kubeconfig})


def _post(api, path, obj):
    for attempt in range(10):
        status, data = api.raw("POST", path, body=obj, raise_for_status=False)
        if status == 409:
            return False
        if 200 <= status <= 299:
            return True
        if status not in (429, 500, 503, 504):
            break
        time.sleep(0.1 * (attempt + 1))
    raise RuntimeError("POST %s: HTTP %s %s" % (path, status, str(data)[:300]))


def seed_objects(kubeconfig, total=20000, namespaces=200, workers=16, prefix="bench", replicas=0, progress=True):
    """Create the objects; returns {"namespaces": n, <resource>: n, "total": n, "seconds": s}."""
    api = _client(kubeconfig, workers)
    started = time.monotonic()
    items = plan(total, namespaces, prefix)
    ns_names = sorted({item[1] for item in items}, key=lambda n: int(n.rsplit("-", 1)[1]))
    counts = {"namespaces": len(ns_names)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda ns: _post(api, "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {LABEL: prefix}}}), ns_names))
        done = 0
        futures = []
        for resource, ns, name, index in items:
            futures.append(pool.submit(_post, api, PATHS[resource] % ns, body(resource, ns, name, index, prefix, replicas)))
            counts[resource] = counts.get(resource, 0) + 1
        for future in concurrent.futures.as_completed(futures):
            future.result()
            done += 1
            if progress and done % 2000 == 0:
                print("seeded %d/%d objects (%.1f s)" % (done, len(items), time.monotonic() - started), file=sys.stderr)
    api.close()
    counts["total"] = len(items)
    counts["seconds"] = round(time.monotonic() - started, 2)
    return counts


def count_objects(kubeconfig, prefix="bench", workers=4):
    """Objects labelled with the seed's set label, per resource, counted through the API (paged lists)."""
    api = _client(kubeconfig, workers)
    lists = {"configmaps": "/api/v1/configmaps", "secrets": "/api/v1/secrets", "services": "/api/v1/services",
             "deployments": "/apis/apps/v1/deployments"}

    def count(path):
        n, token = 0, None
        while True:
            query = [("labelSelector", "%s=%s" % (LABEL, prefix)), ("limit", 1000)]
            if token:
                query.append(("continue", token))
            doc = api.raw("GET", path, query=query)[1]
            n += len(doc.get("items") or [])
            token = (doc.get("metadata") or {}).get("continue")
            if not token:
                return n

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        result = dict(zip(lists, pool.map(count, lists.values())))
    api.close()
    result["total"] = sum(result.values())
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kubeconfig")
    p.add_argument("--total", type=int, default=20000)
    p.add_argument("--namespaces", type=int, default=200)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--prefix", default="bench")
    p.add_argument("--replicas", type=int, default=0)
    args = p.parse_args(argv)
    counts = seed_objects(args.kubeconfig, args.total, args.namespaces, args.workers, args.prefix, args.replicas)
    print(json.dumps(counts, indent=1, sort_keys=True))
    print(json.dumps(count_objects(args.kubeconfig, args.prefix), sort_keys=True))


if __name__ == "__main__":
    main()
