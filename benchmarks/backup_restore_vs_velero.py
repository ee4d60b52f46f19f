# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup and restore side by side with Velero, and against the API server's ceiling, in one run.

    tools/toolchain ensure --only velero            # once: Velero and its AWS plugin (optional add-on)
    .venv/bin/python benchmarks/backup_restore_vs_velero.py [--objects 20000] [--namespaces 200] [--workers 16]
                                                            [--skip-fresh] [--skip-source] [--ours-only] [--keep]
                                                            [--skip-create-ceiling] [--restore-runs 2]

Same cluster, same objects, same storage, one run:

1. moto in server mode (tests/integration/moto_server.py) serves S3 for both tools: one bucket each.
2. A source local cluster (adhar.platform.cluster, 1 member) gets the benchmarks/_seed.py mix (--objects objects
   over --namespaces Namespaces), Velero's CRDs, its ``velero`` Namespace with a placeholder ``velero`` Deployment
   (0 replicas: an out-of-cluster server looks it up on every restore) and a BackupStorageLocation on moto
   (path-style URL, region us-east-1, a credentials file).  ``velero server`` runs on this machine against the
   cluster's kubeconfig, started afresh for each operation (so its peak memory is that operation's).
3. Ceiling, LIST: every resource type the backup captured, listed by a minimal client (one keep-alive HTTPS
   connection per thread, pages of 500, types in parallel, the bytes read and never decoded).  Then the same
   listing with each page decoded (``json.loads``), and with each object decoded, its own text taken out of the
   page and hashed: the least any Python backup keeping one item per object does, without storage or encryption;
   that per-object work once more in one process per core (the pages sent to them), the floor for every core.
   Each of these is the faster of two runs.
4. Backups of the whole cluster, after one untimed backup (the first listing after the seeding warms the API
   server): ``adhar.platform.backup`` (Secrets encrypted, checksums, write-once commit) to a local directory and
   to S3 (packed, the default, and with ``pack_size: 0``, one object per item); ``velero backup create
   --include-cluster-resources=true`` to S3, timed until its phase is final (read with one GET every 0.1 s).  Each
   of them but ``pack_size: 0`` runs twice, in turns, and the faster run is reported (both are in the JSON).
5. Restores of the seeded Namespaces, each timed to completion: into the emptied source (the Namespaces deleted
   just before, still terminating when the restore starts), ours then Velero's; then into a fresh cluster each.
   Velero's figures come from ``velero restore describe`` (phase, items restored, errors, warnings).  Then the
   restored Namespaces are deleted once more, with nothing else running, and the minimal client times how long the
   server takes to empty them (a LIST every 0.1 s): with the CREATE ceiling below, the least a restore into the
   emptied source can take.
6. Ceiling, CREATE: in a fresh cluster of its own, the same mix with its Namespaces, as raw JSON bodies encoded
   before the clock starts, POSTed by a minimal client in parallel (--workers threads) in the restore's order (its
   tiers one after the other, the types of a tier taken in turn), then once more under other names type by type (in
   a cluster then holding the mix: the server creates a Service more slowly the more Services it holds).  And the
   objects the restore into a fresh cluster sends, in the same order: read from its backup and prepared by the
   restore's own code (sanitised, with the fields the server defaulted when they were backed up, and the restore's
   labels), encoded before the clock starts.  And a minimal restore, doing only the work any restore from a backup
   must do: the restore's own loader reading those objects from the backup again chunk by chunk (checked, decrypted,
   decoded, sanitised, labelled), each object then encoded and POSTed by the minimal client, in the restore's order.
   That restore, this ceiling and the minimal restore run in turns, --restore-runs times (2), each in a fresh
   cluster of its own, and the faster run of each is kept.  The restore is reported against all three.

Peak memory: ours is the VmHWM of the module process plus that of each of its decoder processes; Velero's is the
largest sum of the resident memory of ``velero server`` and its plugin processes, sampled every 100 ms.  Every
cluster, moto and the Velero server are stopped at the end.  A Markdown report on stdout, JSON in benchmarks/results/
(gitignored).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils", "_common"))
import toolchain  # noqa: E402  (stdlib-only pins)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from _seed import LABEL, MIX, PATHS, body, plan, seed_objects  # noqa: E402
import _procs as procs  # noqa: E402
from _results import save_results  # noqa: E402
from backup_vs_kubectl import run_measured  # noqa: E402
from restore_vs_kubectl import Bench, toolchain_bin_dir  # noqa: E402
import moto_server  # noqa: E402
from ports import free_tcp_port  # noqa: E402

KEY = base64.b64encode(b"bench-velero-key-0123456789abcde").decode()
REGION = moto_server.REGION
FINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")


class MeasuredBench(Bench):
    """Bench whose tasks also report the module process's peak memory."""

    def task(self, name, module, args):
        self.n += 1
        pb = os.path.join(self.work, "%d-%s.yml" % (self.n, name))
        with open(pb, "w") as f:
            f.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
                    "    - name: %s\n      %s: %s\n" % (name, module, json.dumps(args)))
        tree = os.path.join(self.work, "%d-tree" % self.n)
        env = dict(self.env, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=tree)
        wall, dummy, module_kib = run_measured(["ansible-playbook", "-i", "localhost,", pb], env, poll_modules=True)
        with open(os.path.join(tree, "localhost")) as f:
            result = json.load(f)
        result["_wall"], result["_peak_mb"] = round(wall, 2), round(module_kib / 1024.0, 1)
        return wall, result


# --------------------------------------------------------------------------- a minimal client (the ceiling)

class RawApi:
    """Keep-alive HTTPS connections (one per thread) with the kubeconfig's client certificate; bytes only."""

    def __init__(self, kubeconfig, work):
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        files = {}
        for field in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            files[field] = os.path.join(work, "raw-" + field)
            with open(files[field], "wb") as f:
                f.write(base64.b64decode(user.get(field) or cluster.get(field)))
        self.ctx = ssl.create_default_context(cafile=files["certificate-authority-data"])
        self.ctx.load_cert_chain(files["client-certificate-data"], files["client-key-data"])
        self.host = cluster["server"].split("://", 1)[1].rstrip("/")
        self.local = threading.local()

    def _conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPSConnection(self.host, context=self.ctx, timeout=120)
        return conn

    def request(self, method, path, data=None):
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        return None, b""


def _continue_token(page):
    """The ``continue`` token of a list page, found in its raw bytes (no JSON decoding of the items)."""
    head = page[:600]
    at = head.find(b'"continue":"')
    if at < 0:
        return None
    start = at + len(b'"continue":"')
    return head[start:head.index(b'"', start)].decode()


_DECODE = json.JSONDecoder().raw_decode


def _per_object(page):
    """The least a backup keeping one item per object does with a page in Python: decode each object (its namespace
    and labels decide whether it is kept), take its own text out of the page (the bounds the decoder found) and hash
    it.  No storage, no encryption, no packing.  (The API server sends compact JSON.)"""
    text = page.decode("utf-8")
    at = text.index('"items":[') + len('"items":[')
    while text[at] != "]":
        dummy, end = _DECODE(text, at)
        hashlib.sha256(text[at:end].encode("utf-8")).digest()
        at = end + 1 if text[end] == "," else end


class MinimalBackup:
    """The least a backup that keeps the terms of the module's (Secrets encrypted, a checksum per item, a write-once
    commit) does in Python, as ``list_ceiling`` work: each object of a page decoded, its text cut out of the page,
    a Secret sealed with AES-256-GCM under a key derived for it (HKDF-SHA256, the archive format's per-item key), the
    stored bytes hashed (SHA-256) and appended to its listing thread's pack (written when it reaches 4 MiB), a record
    ``(path, size, sha256, pack, offset)`` kept; ``commit`` writes the last packs, syncs them, writes the manifest
    (the records as JSON, signed: Ed25519 over its SHA-512) and syncs it.  No discovery, no locking, no packing by
    type, no progress: less than any real backup does."""

    PACK = 4 * 1024 * 1024

    def __init__(self, directory, key):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        self.dir = directory
        os.makedirs(directory)
        self.key = key
        self.signer = Ed25519PrivateKey.generate()
        self.local = threading.local()
        self.buffers = []  # (pack number, bytearray) of every listing thread
        self.records = []
        self.packs = []
        self.lock = threading.Lock()
        self.numbered = 0
        self.commit_seconds = None

    def _number(self):
        with self.lock:
            self.numbered += 1
            return self.numbered

    def _buffer(self):
        buf = getattr(self.local, "buf", None)
        if buf is None:
            buf = self.local.buf = [self._number(), bytearray()]
            with self.lock:
                self.buffers.append(buf)
        return buf

    def _write(self, buf):
        name = os.path.join(self.dir, "pack-%06d" % buf[0])
        with open(name, "wb") as f:
            f.write(buf[1])
        with self.lock:
            self.packs.append(name)
        buf[0], buf[1] = self._number(), bytearray()

    def page(self, page):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        text = page.decode("utf-8")
        kind = text[text.index('"kind":"') + 8:text.index('"', text.index('"kind":"') + 8)]
        secret = kind == "SecretList"
        at = text.index('"items":[') + len('"items":[')
        buf = self._buffer()
        while text[at] != "]":
            obj, end = _DECODE(text, at)
            meta = obj["metadata"]
            path = "resources/%s/%s/%s.json" % (kind, meta.get("namespace") or "_cluster", meta["name"])
            data = text[at:end].encode("utf-8")
            if secret:
                salt, nonce = os.urandom(16), os.urandom(12)
                key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"item").derive(self.key)
                data = salt + nonce + AESGCM(key).encrypt(nonce, data, path.encode("utf-8"))
            self.records.append({"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                 "pack": buf[0], "offset": len(buf[1])})
            buf[1] += data
            if len(buf[1]) >= self.PACK:
                self._write(buf)
            at = end + 1 if text[end] == "," else end

    def commit(self):
        t = time.monotonic()
        for buf in self.buffers:
            if buf[1]:
                self._write(buf)
        for name in self.packs:
            with open(name, "rb+") as f:
                os.fsync(f.fileno())
        manifest = json.dumps({"items": self.records}, separators=(",", ":")).encode("utf-8")
        signature = self.signer.sign(hashlib.sha512(manifest).digest())
        with open(os.path.join(self.dir, "manifest.json"), "wb") as f:
            f.write(manifest)
            f.write(b"\n" + base64.b64encode(signature))
            f.flush()
            os.fsync(f.fileno())
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.commit_seconds = time.monotonic() - t


def minimal_backup(api, paths, workers, directory):
    """``MinimalBackup`` of ``paths`` into ``directory``: ``(commit seconds, bytes stored)`` and its seconds, from the
    first LIST to the synced manifest."""
    shutil.rmtree(directory, ignore_errors=True)
    backup = MinimalBackup(directory, os.urandom(32))
    t = time.monotonic()
    list_ceiling(api, paths, workers, backup.page)
    backup.commit()
    secs = time.monotonic() - t
    stored = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
    return (round(backup.commit_seconds, 3), stored, len(backup.records)), secs


def list_ceiling(api, paths, workers, work=None):
    """Every path listed in pages of 500, paths in parallel: {path: (seconds, bytes, objects)} and the total.

    ``work`` (a function of a page's bytes) runs on each page in the listing thread: ``None`` measures the LIST
    alone, ``json.loads`` adds decoding, ``_per_object`` what one item per object costs in Python."""

    def one(path):
        t, size, objects, token = time.monotonic(), 0, 0, None
        while True:
            status, page = api.request("GET", path + "?limit=500" + ("&continue=" + token if token else ""))
            if status != 200:
                raise SystemExit("LIST %s: HTTP %s %s" % (path, status, page[:300]))
            size += len(page)
            objects += page.count(b'"resourceVersion":"') - 1  # one per item plus the list's own
            token = _continue_token(page)
            if work is not None:
                work(page)
            if not token:
                return path, (time.monotonic() - t, size, objects)

    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        per = dict(pool.map(one, paths))
    return per, time.monotonic() - t


def poster(api):
    """``one((path, body))``: POST an encoded body with ``api`` (a ``RawApi``); exits on any answer but 200/201."""
    def one(req):
        status, data = api.request("POST", req[0], req[1])
        if status not in (200, 201):
            raise SystemExit("POST %s: HTTP %s %s" % (req[0], status, data[:300]))
    return one


def post_tiers(api, tiers, pool):
    """POST ``tiers`` (``[(tier, [[(path, body)] per type])]``, bodies encoded) tier after tier, the types of a tier
    taken in turn; ``[(tier, objects, seconds)]``."""
    one = poster(api)
    out = []
    for tier, queues in tiers:
        reqs = [q[n] for n in range(max(len(q) for q in queues)) for q in queues if n < len(q)]
        t = time.monotonic()
        list(pool.map(one, reqs, chunksize=16))
        out.append((tier, len(reqs), time.monotonic() - t))
    return out


KEY_OF = {"namespaces": "namespaces", "configmaps": "configmaps", "secrets": "secrets", "services": "services",
          "deployments": "deployments.apps"}  # the mix's resources -> the restore's resource keys


def encode_mix(objects, namespaces, prefix):
    """The benchmark's mix (``_seed.plan``) with its Namespaces, JSON encoded: ``{resource: [(POST path, body)]}``."""
    items = plan(objects, namespaces, prefix)
    ns = sorted({i[1] for i in items})
    by_type = {"namespaces": [("/api/v1/namespaces", json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": n, "labels": {LABEL: prefix}}}).encode()) for n in ns]}
    for resource, namespace, name, index in items:
        by_type.setdefault(resource, []).append(
            (PATHS[resource] % namespace, json.dumps(body(resource, namespace, name, index, prefix)).encode()))
    return by_type


def mix_tiers(by_type):
    """``encode_mix``'s objects in the restore's tiers (``plan_tiers``): ``[(tier, [[(path, body)] per type])]``."""
    sys.path.insert(0, Bench.collections_path)
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore_sanitize import plan_tiers

    name_of = {v: k for k, v in KEY_OF.items()}
    return [(tier, [by_type[name_of[k]] for k in keys]) for tier, keys in plan_tiers(set(KEY_OF.values()))]


def create_ceiling(api, prefix, objects, namespaces, workers):
    """The benchmark's mix, JSON encoded before timing: POSTed (prefix + "m") in the restore's order, then again (under
    ``prefix``) type by type, in the same cluster.  The restore's order is its tiers (``plan_tiers``: the Namespaces,
    then Secrets, ConfigMaps and Services, then Deployments), each tier's types taken in turn, one tier after the
    other.  Returns {"per_type": {resource: (n, s)}, "tiers": [(tier, n, s)] of the mix}."""
    out = {"per_type": {}}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        # the mix first, into the fresh cluster: a Service is created more slowly the more Services the cluster
        # holds (3,000 at 137/s, the next 3,000 at 67/s), so this is the figure a restore into a fresh cluster meets
        out["tiers"] = post_tiers(api, mix_tiers(encode_mix(objects, namespaces, prefix + "m")), pool)
        by_type = encode_mix(objects, namespaces, prefix)
        for resource in ["namespaces"] + [r for r, dummy in MIX]:
            out["per_type"][resource] = post_tiers(api, [(resource, [by_type[resource]])], pool)[0][1:]
    return out


def _plan_restore(storage, backup, workers):
    """The restore's own plan of ``backup`` (the seeded Namespaces): ``(items to create, tiers, loader)``."""
    sys.path.insert(0, Bench.collections_path)
    from ansible_collections.adhar.platform.plugins.module_utils._archive.api import ArchiveReader
    from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import KeyWrapper
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import plan_items, restore_name
    from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params

    reader = ArchiveReader(storage_from_params(storage), backup, KeyWrapper(KEY, "bench"))
    items, tiers, dummy, loader = plan_items(reader, {"name": restore_name(backup), "include_namespaces": ["bench-ns-*"]},
                                             workers)
    return [i for i in items if i.action is None], [(t, [t]) if isinstance(t, str) else t for t in tiers], loader


def _post_path(item, manager):
    """Where the restore POSTs ``item``'s object, with its field manager (``FIELD_MANAGER``)."""
    meta, version = item.obj["metadata"], item.obj["apiVersion"]
    base = "/api/v1" if version == "v1" else "/apis/" + version
    path = base + ("/namespaces/%s" % meta["namespace"] if meta.get("namespace") else "") + "/" + item.key.split(".")[0]
    return path + "?fieldManager=" + manager


def restored_objects(storage, backup):
    """The objects a restore of ``backup`` (the seeded Namespaces) sends to a fresh cluster, exactly: read from the
    backup, sanitised, mapped and labelled by the restore's own code, JSON encoded with their POST paths, in its
    tiers (``[(tier, [[(path, body)] per type])]``).  Not timed."""
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import FIELD_MANAGER

    todo, tiers, loader = _plan_restore(storage, backup, 8)
    loader(todo)
    by_key = {}
    for item in todo:
        by_key.setdefault(item.key, []).append((_post_path(item, FIELD_MANAGER), json.dumps(item.obj).encode()))
    return [(tier, [by_key[k] for k in keys if k in by_key]) for tier, keys in tiers if any(k in by_key for k in keys)]


def tier_figures(tiers):
    """``post_tiers``' or ``minimal_restore``'s ``[(tier, objects, seconds)]`` as the report keeps it."""
    objects, seconds = sum(t[1] for t in tiers), sum(t[2] for t in tiers)
    return {"objects": objects, "seconds": round(seconds, 3), "objects_per_second": round(objects / seconds, 1),
            "tiers": [{"tier": t, "objects": n, "seconds": round(sec, 3)} for t, n, sec in tiers]}


def minimal_restore(api, storage, backup, workers):
    """A minimal restore's apply phase, doing only the work any restore from a backup must do: the restore's own loader
    (each chunk of the restore's chunk size read from the backup again, checked, decrypted, decoded, sanitised and
    labelled), then each object JSON encoded and POSTed by the minimal client on ``workers`` threads, chunk after
    chunk in the restore's tiers and order, the next chunk read while one is sent.  The plan (the backup read and
    verified once) is made before the clock starts, as it is outside the restore's apply phase.
    ``[(tier, objects, seconds)]``."""
    from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import APPLY_CHUNK, FIELD_MANAGER, chunked

    todo, tiers, loader = _plan_restore(storage, backup, workers)
    by_key = {}
    for item in todo:
        by_key.setdefault(item.key, []).append(item)

    send = poster(api)

    def one(item):
        send((_post_path(item, FIELD_MANAGER), json.dumps(item.obj).encode()))
        item.obj = None

    out = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for tier, keys in tiers:
            batch = [i for k in keys for i in by_key.get(k, [])]
            if not batch:
                continue
            start, running = time.monotonic(), []
            for chunk in chunked(keys, batch, APPLY_CHUNK):
                loader(chunk)
                futures = [pool.submit(one, item) for item in chunk]
                for future in running:
                    future.result()
                running = futures
            for future in running:
                future.result()
            out.append((tier, len(batch), time.monotonic() - start))
    return out


# --------------------------------------------------------------------------- Velero

def _tree_rss_kib(root):
    """The resident memory of ``root`` and every process below it, in KiB."""
    return sum(procs.status_kib(pid, "VmRSS") or 0 for pid in [root] + procs.descendants(root))


class Velero:
    """Velero's CLI and an out-of-cluster ``velero server`` against one cluster, storage on moto S3."""

    def __init__(self, binary, plugin, work, s3_url, bucket, kubectl):
        self.binary, self.work, self.kubectl = binary, work, kubectl
        self.plugins = os.path.join(work, "velero-plugins")
        os.makedirs(self.plugins, exist_ok=True)
        if not os.path.exists(os.path.join(self.plugins, "velero-plugin-for-aws")):
            os.symlink(plugin, os.path.join(self.plugins, "velero-plugin-for-aws"))
        creds = os.path.join(work, "velero-credentials")
        with open(creds, "w") as f:
            f.write("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
        self.env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=creds, AWS_REGION=REGION, **moto_server.AWS_ENV)
        self.s3_url, self.bucket = s3_url, bucket
        self.kubeconfig = None
        self.server = None
        self.peak = 0
        self._stop = threading.Event()
        self._sampler = None

    def cli(self, *args, check=True):
        proc = subprocess.run([self.binary, "--kubeconfig", self.kubeconfig, "--namespace", "velero"] + list(args),
                              env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise SystemExit("velero %s failed: %s%s" % (" ".join(args[:3]), proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc.stdout

    def install(self, kubeconfig):
        """CRDs, the Namespace, the placeholder Deployment and the BackupStorageLocation in the cluster."""
        self.kubeconfig = kubeconfig
        crds = self.cli("install", "--crds-only", "--dry-run", "-o", "yaml")
        extra = {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "velero", "namespace": "velero"},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"deploy": "velero"}},
                      "template": {"metadata": {"labels": {"deploy": "velero"}},
                                   "spec": {"containers": [{"name": "velero", "image": "velero/velero:v1.18.3"}]}}}}]}
        for doc in (crds, json.dumps(extra)):
            proc = subprocess.run([self.kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", "-"],
                                  input=doc, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit("kubectl apply (Velero's CRDs): %s" % proc.stderr[-2000:])
        subprocess.run([self.kubectl, "--kubeconfig", kubeconfig, "wait", "--for=condition=Established", "--timeout=60s",
                        "crd/backupstoragelocations.velero.io", "crd/backups.velero.io", "crd/restores.velero.io"],
                       capture_output=True, check=True)
        self.cli("backup-location", "create", "default", "--provider", "aws", "--bucket", self.bucket, "--default",
                 "--config", "region=%s,s3ForcePathStyle=true,s3Url=%s" % (REGION, self.s3_url))

    def start(self):
        log = open(os.path.join(self.work, "velero-server-%d.log" % int(time.time() * 1000)), "wb")
        ports = [free_tcp_port() for dummy in range(2)]
        self.server = subprocess.Popen(
            [self.binary, "server", "--kubeconfig", self.kubeconfig, "--namespace", "velero", "--plugin-dir", self.plugins,
             "--metrics-address", "127.0.0.1:%d" % ports[0], "--profiler-address", "127.0.0.1:%d" % ports[1],
             "--backup-sync-period", "2s", "--log-level", "warning", "--uploader-type", "kopia"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.peak = 0
        self._stop.clear()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the location must be Available before a backup or restore is asked for
            if self.server.poll() is not None:
                raise SystemExit("velero server exited with %s (log in %s)" % (self.server.returncode, log.name))
            out = json.loads(self.cli("backup-location", "get", "default", "-o", "json", check=False) or "{}")
            if (out.get("status") or {}).get("phase") == "Available":
                self.peak = 0
                return
            time.sleep(1)
        raise SystemExit("Velero's BackupStorageLocation never became Available (log in %s)" % log.name)

    def _sample(self):
        while not self._stop.is_set():
            if self.server is not None:
                self.peak = max(self.peak, _tree_rss_kib(self.server.pid))
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        if self._sampler:
            self._sampler.join()
        server, self.server = self.server, None
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=20)

    def wait_final(self, kind, name, timeout):
        """The status of Backup or Restore ``name`` once its phase is final, read every 0.1 s with one GET of a
        keep-alive connection (a ``velero ... get`` per poll would start a Go program each time, taking CPU from the
        server being measured)."""
        api = RawApi(self.kubeconfig, self.work)
        path = "/apis/velero.io/v1/namespaces/velero/%ss/%s" % (kind, name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, body = api.request("GET", path)
            try:
                status = (json.loads(body).get("status") or {}) if code == 200 else {}
            except ValueError:
                status = {}
            if status.get("phase") in FINAL:
                return status
            time.sleep(0.1)
        raise SystemExit("velero %s %s not finished after %ss" % (kind, name, timeout))

    def backup(self, name):
        self.start()
        try:
            t = time.monotonic()
            self.cli("backup", "create", name, "--include-cluster-resources=true", "--snapshot-volumes=false")
            status = self.wait_final("backup", name, 3600)
            wall = time.monotonic() - t
        finally:
            self.stop()
        progress = status.get("progress") or {}
        return {"wall": round(wall, 2), "phase": status.get("phase"), "items": progress.get("itemsBackedUp"),
                "total_items": progress.get("totalItems"), "errors": status.get("errors", 0),
                "warnings": status.get("warnings", 0), "peak_rss_mb": round(self.peak / 1024.0, 1)}

    def restore(self, name, backup, namespaces):
        self.start()
        try:
            deadline = time.monotonic() + 120
            while json.loads(self.cli("backup", "get", backup, "-o", "json", check=False) or "{}").get("status", {}).get(
                    "phase") != "Completed":  # synced from the bucket into a fresh cluster
                if time.monotonic() > deadline:
                    raise SystemExit("backup %s never synced into the cluster" % backup)
                time.sleep(1)
            t = time.monotonic()
            self.cli("restore", "create", name, "--from-backup", backup, "--include-namespaces", ",".join(namespaces))
            status = self.wait_final("restore", name, 7200)
            wall = time.monotonic() - t
            # while the server runs: it serves the errors and warnings the CLI downloads
            describe = re.sub(r"\x1b\[[0-9;]*m", "", self.cli("restore", "describe", name, check=False))
        finally:
            self.stop()
        fields = {}
        for line in describe.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("Phase", "Total items to be restored", "Items restored", "Errors", "Warnings"):
                fields.setdefault(key.strip(), value.strip())
        progress = status.get("progress") or {}
        return {"wall": round(wall, 2), "phase": status.get("phase"), "items_restored": progress.get("itemsRestored"),
                "total_items": progress.get("totalItems"), "errors": status.get("errors", 0),
                "warnings": status.get("warnings", 0), "describe": fields, "peak_rss_mb": round(self.peak / 1024.0, 1)}


# --------------------------------------------------------------------------- the run

def delete_namespaces(kubectl, kubeconfig, prefix):
    """Delete the seeded Namespaces without waiting: the restore that follows meets them terminating."""
    subprocess.run([kubectl, "--kubeconfig", kubeconfig, "delete", "namespaces", "-l", "%s=%s" % (LABEL, prefix),
                    "--wait=false"], capture_output=True, check=True)


def namespaces_gone(api, prefix, timeout=3600.0):
    """Seconds until no Namespace labelled ``prefix`` is left, from a LIST every 0.1 s by the minimal client: the
    namespace controller deleting their contents, which any restore into the emptied source waits for (the API server
    refuses creates in a terminating Namespace)."""
    path = "/api/v1/namespaces?" + urllib.parse.urlencode({"labelSelector": "%s=%s" % (LABEL, prefix), "limit": 1})
    start = time.monotonic()
    while True:
        status, data = api.request("GET", path)
        if status != 200:
            raise SystemExit("GET %s: HTTP %s %s" % (path, status, data[:300]))
        if not json.loads(data)["items"]:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise SystemExit("the Namespaces labelled %s=%s are still there after %ds" % (LABEL, prefix, timeout))
        time.sleep(0.1)


def ours_restore(bench, kc, storage, tag, backup="bench-s3"):
    wall, res = bench.task("restore-" + tag, "adhar.platform.restore", {
        "kubeconfig": kc, "backup": backup, "storage": storage, "encryption": {"key": KEY},
        "include_namespaces": ["bench-ns-*"], "workers": bench.workers})
    r = res["restore"]
    return {"wall": round(wall, 2), "module_seconds": r["seconds"], "apply_seconds": r["timings"]["apply"],
            "counts": r["counts"], "objects_per_second": r["objects_per_second"], "peak_rss_mb": res["_peak_mb"],
            "result_bytes": len(json.dumps(res))}


def ours_backup(bench, kc, storage, name, **extra):
    wall, res = bench.task("backup-" + name, "adhar.platform.backup", dict({
        "kubeconfig": kc, "cluster": "bench-vsrc", "name": name, "storage": storage, "encryption": {"key": KEY}}, **extra))
    b = res["backup"]
    return {"wall": round(wall, 2), "module_seconds": b["seconds"], "objects": sum(b["counts"].values()),
            "types": sorted(b["counts"]), "objects_per_second": b.get("objects_per_second"), "peak_rss_mb": res["_peak_mb"],
            "decoder_processes": b.get("decoder_processes"), "timings": res.get("timings")}


def resource_paths(kubeconfig, keys):
    """``{resource key: cluster-wide list path}`` from the API server's discovery (not timed)."""
    sys.path.insert(0, Bench.collections_path)
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient

    api = K8sClient.from_params({"kubeconfig": kubeconfig})
    try:
        found = {}
        groups = [("", "v1")] + [(g["name"], g["preferredVersion"]["groupVersion"])
                                 for g in api.raw("GET", "/apis")[1]["groups"]]
        for group, gv in groups:
            doc = api.raw("GET", "/api/v1" if not group else "/apis/" + gv)[1]
            for res in doc.get("resources") or []:
                key = res["name"] + ("." + group if group else "")
                if key in keys and "/" not in res["name"] and "list" in res.get("verbs", []):
                    found[key] = ("/api/v1/" if not group else "/apis/%s/" % gv) + res["name"]
        return found
    finally:
        api.close()


# Each ceiling is measured this many times, the fastest run kept (a ceiling is the best the machine does; the first
# listing after the backups is often the slowest).
CEILING_RUNS = 2
# Each backup of the side-by-side table (ours and Velero's) runs this many times, in turns, the fastest kept.
BACKUP_RUNS = 2
RESTORE_RUNS = 2  # restores into a fresh cluster, each followed by the CREATE ceiling of the objects it sends


def keep_faster(kept, found, by, fields):
    """The faster of ``kept`` (``None`` before the first run) and ``found`` (by their ``by`` figure), carrying a
    ``runs_<field>`` list of every run's ``field`` for each of ``fields``."""
    history = {"runs_" + f: (kept or {}).get("runs_" + f, []) + [found[f]] for f in fields}
    best = found if kept is None or found[by] < kept[by] else kept
    best.update(history)
    return best


def best_of(measure, runs=CEILING_RUNS):
    """The ``(result, seconds)`` of ``measure()`` with the fewest seconds over ``runs`` runs."""
    return min((measure() for dummy in range(runs)), key=lambda found: found[1])


def ratio(a, b):
    """``a / b`` for the report ("12.34x"), or "n/a" when either is missing (no Velero run)."""
    return "%.2fx" % (a / b) if a and b else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--workers", type=int, default=16, help="restore workers, and threads of the ceiling's CREATE")
    parser.add_argument("--skip-fresh", action="store_true", help="no restores into fresh clusters")
    parser.add_argument("--skip-source", action="store_true", help="no restores into the emptied source")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--skip-create-ceiling", action="store_true",
                        help="no CREATE ceiling (measured in a fresh cluster of its own; it takes minutes at 50,000 "
                             "objects; the ceiling column then reads n/a)")
    parser.add_argument("--restore-runs", type=int, default=RESTORE_RUNS,
                        help="runs in turns of the restore into a fresh cluster and the ceiling of its objects")
    parser.add_argument("--ours-only", action="store_true",
                        help="no Velero and no unpacked backup: ours (packed, S3) and the ceilings only, e.g. for the "
                             "memory of a large run")
    args = parser.parse_args()
    bin_dir = toolchain_bin_dir()
    velero_bin, where = toolchain.find_addon_binary("velero", "velero")
    plugin_bin = toolchain.find_addon_binary("velero-plugin-for-aws", "velero")[0]
    if (not velero_bin or not plugin_bin) and not args.ours_only:
        raise SystemExit("Velero is not built (looked in %s): run `tools/toolchain ensure --only velero`" % where)
    kubectl = os.path.join(bin_dir, "kubectl")
    bench = MeasuredBench.in_new_workdir("adhar-bench-velero-", bin_dir)
    work = bench.work
    bench.workers = args.workers
    moto = moto_server.MotoServer(os.path.join(work, "moto.log"))
    velero = None
    namespaces = ["bench-ns-%d" % i for i in range(min(args.namespaces, args.objects))]
    out = {"objects": args.objects, "namespaces": args.namespaces, "workers": args.workers,
           "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join([os.path.relpath(sys.executable, REPO)] + sys.argv),
           "host": {"cpus": os.cpu_count(), "python": platform.python_version()}, "velero": toolchain.ADDON_VERSIONS["velero"],
           "velero_aws_plugin": toolchain.VELERO_BUILD["plugin_version"]}
    load = []
    try:
        moto.start()
        import boto3

        s3 = boto3.client("s3", endpoint_url=moto.url, region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        for bucket in ("adhar-bench", "velero-bench"):
            s3.create_bucket(Bucket=bucket)
        s3_storage = {"type": "s3", "bucket": "adhar-bench", "prefix": "bench", "region": REGION, "endpoint_url": moto.url,
                      "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        local_storage = {"path": os.path.join(work, "store")}
        if not args.ours_only:
            velero = Velero(velero_bin, plugin_bin, work, moto.url, "velero-bench", kubectl)

        kc = bench.cluster("bench-vsrc")
        out["seed"] = seed_objects(kc, total=args.objects, namespaces=args.namespaces, workers=16, prefix="bench",
                                   progress=False)
        if velero:
            velero.install(kc)
        load.append(("after seeding", os.getloadavg()))

        # one untimed backup first: the first listing of every type after the seeding warms the API server (its heap
        # grows to the size of a page of each type), which the backup that happens to run first would pay alone
        ours_backup(bench, kc, local_storage, "bench-warm-up")
        # each timed backup twice, in turns, the faster run kept (Velero's too): on this machine the same backup
        # moves by 10-20 % from one run to the next, and which one runs first should not decide a comparison
        runs = [("backup_local", local_storage, "bench-local", {}),
                ("backup_local_decoder", local_storage, "bench-local-dp", {"decoder_processes": 1}),
                ("backup_s3", s3_storage, "bench-s3", {})]
        for turn in range(BACKUP_RUNS):
            for key, storage, name, extra in runs if velero else runs[2:]:
                found = ours_backup(bench, kc, storage, name + ("-%d" % turn if turn else ""), **extra)
                out[key] = keep_faster(out.get(key), found, "module_seconds", ("module_seconds", "peak_rss_mb"))
            if velero:
                found = velero.backup("vbench" + ("-%d" % turn if turn else ""))
                out["velero_backup"] = keep_faster(out.get("velero_backup"), found, "wall", ("wall",))
        if velero:
            out["backup_s3_unpacked"] = ours_backup(bench, kc, s3_storage, "bench-s3-unpacked", pack_size=0)
        noop_wall, dummy = bench.task("noop", "ansible.builtin.ping", {})
        out["playbook_floor"] = {"wall": round(noop_wall, 2)}
        raw = RawApi(kc, work)
        paths = resource_paths(kc, set(out["backup_s3"]["types"]))
        per, secs = best_of(lambda: list_ceiling(raw, sorted(paths.values()), 16))
        out["list_ceiling"] = {"seconds": round(secs, 3), "types": len(per),
                               "objects": sum(v[2] for v in per.values()), "bytes": sum(v[1] for v in per.values()),
                               "per_type": {k: {"seconds": round(per[p][0], 3), "objects": per[p][2], "bytes": per[p][1]}
                                            for k, p in sorted(paths.items())}}
        for label, per_page in (("list_decode_ceiling", json.loads), ("per_object_floor", _per_object)):
            dummy, secs = best_of(lambda per_page=per_page: list_ceiling(raw, sorted(paths.values()), 16, per_page))
            out[label] = {"seconds": round(secs, 3), "objects": out["list_ceiling"]["objects"]}
        with concurrent.futures.ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as cores:
            list(cores.map(_per_object, [b'{"items":[]}'] * (2 * os.cpu_count())))  # started before the clock runs
            dummy, secs = best_of(lambda: list_ceiling(raw, sorted(paths.values()), 16,
                                                       lambda page: cores.submit(_per_object, page).result()))
        out["per_object_floor_cores"] = {"seconds": round(secs, 3), "objects": out["list_ceiling"]["objects"],
                                         "processes": os.cpu_count()}
        (commit, stored, items), secs = best_of(lambda: minimal_backup(raw, sorted(paths.values()), 16,
                                                                       os.path.join(work, "minimal")))
        out["minimal_backup_floor"] = {"seconds": round(secs, 3), "objects": items, "commit_seconds": commit,
                                       "stored_bytes": stored}
        load.append(("after the backups", os.getloadavg()))

        if not args.skip_source and velero:
            delete_namespaces(kubectl, kc, "bench")
            out["restore_source"] = ours_restore(bench, kc, s3_storage, "source")
            delete_namespaces(kubectl, kc, "bench")
            out["velero_restore_source"] = velero.restore("vsource", "vbench", namespaces)
            # the same Namespaces, restored, deleted once more with nothing else running: how long the server takes
            # to empty them, timed like the restores above (from the moment the delete returned)
            delete_namespaces(kubectl, kc, "bench")
            out["termination_floor"] = {"seconds": round(namespaces_gone(raw, "bench"), 3)}
            load.append(("after the restores into the source", os.getloadavg()))
        bench.cluster("bench-vsrc", "absent")

        if not args.skip_fresh:
            out["create_ceiling"] = None
            restored = None if args.skip_create_ceiling else restored_objects(s3_storage, "bench-s3")
            own = least = None
            # the restore, the CREATE ceiling of the objects it sends and the minimal restore, in turns, each in a fresh
            # cluster of its own, the faster run of each kept: minutes apart, the same run here moves by 10-20 %
            for turn in range(max(1, args.restore_runs)):
                kc = bench.cluster("bench-vfresh")
                found = ours_restore(bench, kc, s3_storage, "fresh-%d" % turn)
                bench.cluster("bench-vfresh", "absent")
                out["restore_fresh"] = keep_faster(out.get("restore_fresh"), found, "wall", ("wall", "apply_seconds"))
                if restored is None:
                    continue
                kc = bench.cluster("bench-vceil2")
                with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
                    tiers = post_tiers(RawApi(kc, work), restored, pool)
                bench.cluster("bench-vceil2", "absent")
                own = keep_faster(own, tier_figures(tiers), "seconds", ("seconds",))
                kc = bench.cluster("bench-vfloor")
                tiers = minimal_restore(RawApi(kc, work), s3_storage, "bench-s3", args.workers)
                bench.cluster("bench-vfloor", "absent")
                least = keep_faster(least, tier_figures(tiers), "seconds", ("seconds",))
            del restored
            if not args.skip_create_ceiling:
                # a fresh cluster of its own: in the one restored into, the ceiling would meet the restore's objects
                kc = bench.cluster("bench-vceil")
                ceiling = create_ceiling(RawApi(kc, work), "ceil", args.objects, args.namespaces, args.workers)
                out["create_ceiling"] = {
                    "per_type": {k: {"objects": n, "seconds": round(s, 3), "objects_per_second": round(n / s, 1)}
                                 for k, (n, s) in ceiling["per_type"].items()},
                    "mix": dict(tier_figures(ceiling["tiers"]), order="the restore's tiers, types taken in turn in each"),
                    "restored": own, "minimal_restore": least}
                bench.cluster("bench-vceil", "absent")
            if velero:
                kc = bench.cluster("bench-vfresh2")
                velero.install(kc)
                out["velero_restore_fresh"] = velero.restore("vfresh", "vbench", namespaces)
                bench.cluster("bench-vfresh2", "absent")
            load.append(("after the restores into fresh clusters", os.getloadavg()))
    finally:
        if velero is not None:
            velero.stop()
        bench.cleanup()
        moto.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out["load_average"] = [(what, [round(x, 2) for x in la]) for what, la in load]
    report(out)


def report(out):
    lc = out["list_ceiling"]
    list_rate = lc["objects"] / lc["seconds"]
    print("\n%d seeded objects over %d Namespaces; %d restore workers\n" % (out["objects"], out["namespaces"], out["workers"]))
    print("### Backup (whole cluster)\n")
    print("| tool | objects | seconds (wall) | objects/s (wall) | module seconds | objects/s (module) | peak RSS (MB, "
          "highest run) | Velero's wall / this wall | Velero's wall / this module time | of the LIST ceiling (module) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    vb = out.get("velero_backup") or {}
    for label, key in (("adhar.platform.backup, local directory", "backup_local"),
                       ("adhar.platform.backup, local directory, decoder_processes 1: one decoder process", "backup_local_decoder"),
                       ("adhar.platform.backup, S3 (moto)", "backup_s3"),
                       ("adhar.platform.backup, S3 (moto), pack_size 0: one object per item", "backup_s3_unpacked")):
        if key not in out:
            continue
        b = out[key]
        rate = b["objects"] / b["module_seconds"]
        print("| %s | %d | %.2f | %.1f | %.2f | %.1f | %.1f | %s | %s | %d %% |"
              % (label, b["objects"], b["wall"], b["objects"] / b["wall"], b["module_seconds"], rate,
                 max(b.get("runs_peak_rss_mb") or [b["peak_rss_mb"]]),
                 ratio(vb.get("wall"), b["wall"]), ratio(vb.get("wall"), b["module_seconds"]),
                 round(100 * rate / list_rate)))
    if vb:
        print("| velero backup create --include-cluster-resources=true, S3 (moto): %s, %s errors, %s warnings | %s | %.2f "
              "| %.1f | | | %.1f (server and plugins) | 1 | | %d %% |"
              % (vb["phase"], vb["errors"], vb["warnings"], vb["items"], vb["wall"], (vb["items"] or 0) / vb["wall"],
                 vb["peak_rss_mb"], round(100 * (vb["items"] or 0) / vb["wall"] / list_rate)))
    print("| LIST ceiling: %d types, pages of 500, in parallel, bytes only (%.1f MB) | %d | %.2f | %.1f | | | | | | 100 %% |"
          % (lc["types"], lc["bytes"] / 1e6, lc["objects"], lc["seconds"], list_rate))
    if "playbook_floor" in out:
        print("| ansible-playbook start-up and one no-op task (ansible.builtin.ping) | | %.2f | | | | | | | |"
              % out["playbook_floor"]["wall"])
    cores = (out.get("per_object_floor_cores") or {}).get("processes")
    for key, label in (("list_decode_ceiling", "LIST + decoding each page (json.loads), same threads"),
                       ("per_object_floor", "LIST + each object decoded, its text cut out of the page and hashed (SHA-256)"),
                       ("per_object_floor_cores", "the same per-object work in %s processes (one per core), pages sent "
                                                  "to them" % cores),
                       ("minimal_backup_floor", "minimal backup floor: the per-object work, Secrets sealed (a key each), "
                                                "packs written, a signed manifest, all synced")):
        if key in out:
            c = out[key]
            print("| %s | %d | %.2f | %.1f | | | | | | %d %% |"
                  % (label, c["objects"], c["seconds"], c["objects"] / c["seconds"],
                     round(100 * c["objects"] / c["seconds"] / list_rate)))
    if "minimal_backup_floor" in out:
        m = out["minimal_backup_floor"]
        print("\nminimal backup floor: %.2f s, of which the commit (last packs written, all synced, the signed manifest) "
              "%.2f s; %.1f MB stored" % (m["seconds"], m["commit_seconds"], m["stored_bytes"] / 1e6))
    for floor_key in ("per_object_floor", "per_object_floor_cores", "minimal_backup_floor"):
        if floor_key not in out:
            continue
        floor = out[floor_key]["objects"] / out[floor_key]["seconds"]
        for key in ("backup_local", "backup_local_decoder", "backup_s3", "backup_s3_unpacked"):
            if key in out:
                b = out[key]
                print("\n%s: %d %% of %s (module time)"
                      % (key, round(100 * b["objects"] / b["module_seconds"] / floor), floor_key.replace("_", " ")))
    cc = out.get("create_ceiling")
    mix = cc["mix"]["objects_per_second"] if cc else None
    own = (cc.get("restored") or {}).get("objects_per_second") if cc else None
    least = (cc.get("minimal_restore") or {}).get("objects_per_second") if cc else None

    def share(rate, ceiling):
        return "%d %%" % round(100 * rate / ceiling) if ceiling else "n/a"
    rows = []
    for where, ours_key, vel_key in (("emptied source", "restore_source", "velero_restore_source"),
                                     ("fresh cluster", "restore_fresh", "velero_restore_fresh")):
        if ours_key in out:
            rows.append((where, out[ours_key], out.get(vel_key) or {}))
    if rows:
        print("\n### Restore of the seeded Namespaces, to completion\n")
        print("| into | tool | objects | seconds (wall) | objects/s (wall) | apply phase s | objects/s (apply) "
              "| peak RSS (MB) | Velero's wall / this wall | of the CREATE ceiling (mix) "
              "| of the CREATE ceiling (the restored objects) | of the minimal restore |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for where, ours, vel in rows:
            created = ours["counts"]["created"]
            rate = created / ours["apply_seconds"]
            print("| %s | adhar.platform.restore (result %d bytes) | %d created, %d skipped | %.2f | %.1f | %.2f | %.1f "
                  "| %.1f | %s | %s | %s | %s |"
                  % (where, ours["result_bytes"], created, ours["counts"]["skipped"], ours["wall"], created / ours["wall"],
                     ours["apply_seconds"], rate, ours["peak_rss_mb"], ratio(vel.get("wall"), ours["wall"]),
                     share(rate, mix), share(rate, own), share(rate, least)))
            if not vel:
                continue
            vrate = (vel["items_restored"] or 0) / vel["wall"]
            print("| %s | velero restore: %s, %s errors, %s warnings | %s restored of %s | %.2f | %.1f | | | %.1f "
                  "(server and plugins) | 1 | %s | %s | %s |"
                  % (where, vel["phase"], vel["errors"], vel["warnings"], vel["items_restored"], vel["total_items"],
                     vel["wall"], vrate, vel["peak_rss_mb"], share(vrate, mix), share(vrate, own), share(vrate, least)))
    fresh, restored = out.get("restore_fresh") or {}, (cc or {}).get("restored") or {}
    if fresh.get("runs_wall"):
        def runs(figures):
            return ", ".join("%.2f" % x for x in figures or []) or "n/a"
        print("\nInto a fresh cluster, in turns (the faster of each kept): the restore's wall %s s (apply phase %s s); "
              "the CREATE ceiling of the objects it sends %s s; the minimal restore %s s."
              % (runs(fresh["runs_wall"]), runs(fresh["runs_apply_seconds"]), runs(restored.get("runs_seconds")),
                 runs(((cc or {}).get("minimal_restore") or {}).get("runs_seconds"))))
    tf = out.get("termination_floor")
    if tf and mix and "restore_source" in out:
        created = out["restore_source"]["counts"]["created"]
        floor = tf["seconds"] + created / mix
        print("\nEmptied source: the benchmark's Namespaces were gone %.2f s after their delete returned (nothing else "
              "running); with the %d objects then created at the mix's CREATE ceiling, a restore into the emptied "
              "source takes at least %.2f s from the delete. adhar.platform.restore's wall: %d %% of that ceiling%s."
              % (tf["seconds"], created, floor, round(100 * floor / out["restore_source"]["wall"]),
                 "; Velero's: %d %%" % round(100 * floor / out["velero_restore_source"]["wall"])
                 if out.get("velero_restore_source") else ""))
        out["emptied_source_ceiling"] = {"seconds": round(floor, 3)}
    if cc:
        print("\n### CREATE ceiling (raw pre-encoded JSON, %d threads, one keep-alive connection each)\n" % out["workers"])
        print("| type (after the mix, in the same cluster) | objects | seconds | objects/s |\n|---|---:|---:|---:|")
        for k, v in cc["per_type"].items():
            print("| %s | %d | %.2f | %.1f |" % (k, v["objects"], v["seconds"], v["objects_per_second"]))
        for t in cc["mix"].get("tiers") or []:
            print("| the mix in the restore's order: tier %s | %d | %.2f | %.1f |"
                  % (t["tier"], t["objects"], t["seconds"], t["objects"] / t["seconds"]))
        print("| the mix in the restore's order, fresh cluster | %d | %.2f | %.1f |"
              % (cc["mix"]["objects"], cc["mix"]["seconds"], cc["mix"]["objects_per_second"]))
        restored = cc.get("restored")
        for t in (restored or {}).get("tiers") or []:
            print("| the restored objects, as the restore sends them: tier %s | %d | %.2f | %.1f |"
                  % (t["tier"], t["objects"], t["seconds"], t["objects"] / t["seconds"]))
        if restored:
            print("| the restored objects, as the restore sends them, fresh cluster of their own | %d | %.2f | %.1f |"
                  % (restored["objects"], restored["seconds"], restored["objects_per_second"]))
        least = cc.get("minimal_restore")
        if least:
            print("| minimal restore: the restore's loader, then each object encoded and POSTed by the minimal client, "
                  "fresh cluster of its own | %d | %.2f | %.1f |"
                  % (least["objects"], least["seconds"], least["objects_per_second"]))
    print("\nload average (1, 5, 15 min) on %d CPUs: %s" % (out["host"]["cpus"], "; ".join(
        "%s %s" % (w, " ".join("%.2f" % x for x in la)) for w, la in out["load_average"])))
    path = save_results("backup_restore_vs_velero", out)
    print("JSON: %s" % os.path.relpath(path, REPO))


if __name__ == "__main__":
    main()
