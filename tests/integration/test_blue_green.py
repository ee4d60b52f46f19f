# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/blue_green.yml and playbooks/migrate.yml on real local clusters, with the local global load balancer
(a real CoreDNS) answering for the application's name.

One blue cluster is started for the module; green is created by the playbook from the adhar config. During the whole
module a probe thread, every 100 ms:

1. resolves the application's name (``web.bg.test``) through the local CoreDNS with dnspython (timeout 1 s);
2. maps every address of the answer to its cluster (127.0.0.2 is blue, 127.0.0.3 is green; any other address, or no
   answer, is a failure);
3. reads the application through that cluster's API server (HTTPS with the cluster's admin credentials, one kept-alive
   connection per cluster): ``GET`` of the Deployment ``shop/web``, which must exist, have the condition
   ``Available=True`` and ``readyReplicas`` equal to its ``spec.replicas`` (at least 1), and ``GET`` of the Service
   ``shop/web``, which must exist. Any other status, a timeout (2 s) or a connection error is a failure.

Kwok nodes have no datapath, so no request can reach the application's pods: the probe reads what exists, the
application's objects as the cluster it was sent to serves them. Every failed request is listed with its time and
reason, printed (``-s``) and asserted to be none.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading
import time

import pytest
import yaml

from conftest import REPO, _kill_if_same, adhar_config
from ports import free_dns_port

dns_resolver = pytest.importorskip("dns.resolver")

ZONE = "bg.test"
FQDN = "web.bg.test."
BLUE, GREEN = "bg-blue", "bg-green"
ADDRESS = {"127.0.0.2": BLUE, "127.0.0.3": GREEN}
BLUE_GREEN = os.path.join(REPO, "playbooks", "blue_green.yml")
MIGRATE = os.path.join(REPO, "playbooks", "migrate.yml")

CLUSTERS = [(BLUE, "primary", 21, "10.252.0.0/16", "10.99.0.0/16"), (GREEN, "replica", 22, "10.253.0.0/16", "10.100.0.0/16")]
COMPOSE = {"adhar_glb_endpoint": "'127.0.0.2' if adhar_cluster_name == 'bg-blue' else '127.0.0.3'"}

APP = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-conf", "namespace": "shop", "labels": {"app": "web"}},
     "data": {"color": "blue"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "web", "image": "registry.example/web:1",
                                                    "envFrom": [{"configMapRef": {"name": "web-conf"}}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
]


class ClusterReader:
    """The application's objects through one cluster's API server (its admin kubeconfig), one kept-alive connection."""

    def __init__(self, kubeconfig, tmp):
        with open(kubeconfig) as f:
            kc = yaml.safe_load(f)
        cluster, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
        self.host, port = cluster["server"].split("://", 1)[1].rsplit(":", 1)
        self.port = int(port)
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        os.makedirs(tmp, exist_ok=True)
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        for path, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
            with open(path, "wb") as f:
                f.write(base64.b64decode(user[field]))
        ctx.load_cert_chain(cert, key)
        self.ctx = ctx
        self.conn = None

    def get(self, path):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=2)
            try:
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the server closed: one new connection, not counted as a failure
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
            except Exception:
                self.conn.close()
                self.conn = None
                raise
        raise AssertionError("unreachable")

    def check_app(self):
        """None when the application is served, else why not."""
        status, body = self.get("/apis/apps/v1/namespaces/shop/deployments/web")
        if status != 200:
            return "Deployment shop/web: HTTP %d" % status
        dep = json.loads(body)
        available = [c for c in dep.get("status", {}).get("conditions", []) if c["type"] == "Available"]
        want = dep["spec"].get("replicas", 1)
        ready = dep.get("status", {}).get("readyReplicas", 0)
        if not available or available[0]["status"] != "True":
            return "Deployment shop/web not Available"
        if want < 1 or ready != want:
            return "Deployment shop/web: %s of %s replicas ready" % (ready, want)
        status, dummy = self.get("/api/v1/namespaces/shop/services/web")
        if status != 200:
            return "Service shop/web: HTTP %d" % status
        return None


class Probe:
    """Resolve and read every 100 ms in a thread; ``samples`` are (time, clusters answered, failure or None)."""

    def __init__(self, dns_port, kubeconfigs, tmp):
        self.resolver = dns_resolver.Resolver(configure=False)
        self.resolver.nameservers = ["127.0.0.1"]
        self.resolver.port = dns_port
        self.resolver.lifetime = 1.0
        self.kubeconfigs = kubeconfigs
        self.tmp = tmp
        self.readers = {}
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def reader(self, cluster):
        if cluster not in self.readers:
            self.readers[cluster] = ClusterReader(self.kubeconfigs[cluster], os.path.join(self.tmp, cluster))
        return self.readers[cluster]

    def once(self):
        clusters = []
        try:
            addrs = [rr.address for rr in self.resolver.resolve(FQDN, "A")]
        except Exception as exc:
            return clusters, "DNS: %s" % (exc.__class__.__name__,)
        for addr in addrs:
            cluster = ADDRESS.get(addr)
            if cluster is None:
                return clusters, "DNS answered %s, no cluster" % addr
            clusters.append(cluster)
            try:
                why = self.reader(cluster).check_app()
            except Exception as exc:
                why = "%s: %s" % (exc.__class__.__name__, exc)
            if why:
                return clusters, "%s: %s" % (cluster, why)
        return clusters, None

    def run(self):
        while not self.stop.is_set():
            t = time.time()
            clusters, failure = self.once()
            self.samples.append((t, clusters, failure))
            self.stop.wait(max(0.0, 0.1 - (time.time() - t)))

    def failures(self, since=0.0):
        return [(t, why) for t, dummy, why in self.samples if why and t >= since]

    def report(self, label, since, figure=print):
        window = [s for s in self.samples if s[0] >= since]
        failed = self.failures(since)
        per = {}
        for dummy, clusters, dummy2 in window:
            for c in clusters:
                per[c] = per.get(c, 0) + 1
        figure("[probe] %s: %d requests (%s), %d failed" % (label, len(window), per, len(failed)))
        for t, why in failed:
            print("[probe]   failed at %s: %s" % (time.strftime("%H:%M:%S", time.gmtime(t)) + ("%.3f" % (t % 1))[1:], why))
        return window, failed


@pytest.fixture(scope="module")
def bg(runner, make_local_cluster, tmp_path_factory, bin_dir):
    from plugins.module_utils._common import toolchain  # the repository is on sys.path (conftest)
    path, where = toolchain.find_addon_binary("coredns", "coredns")
    if not path:
        pytest.fail("CoreDNS is not built (looked in %s): run `make toolchain`" % where)
    tmp = str(tmp_path_factory.mktemp("blue-green"))
    inventory = os.path.join(tmp, "adhar.yml")
    with open(inventory, "w") as f:
        f.write(adhar_config("adhar-bg", os.path.join(tmp, "backups"), CLUSTERS, retention=None, compose=COMPOSE))
    dns_port = free_dns_port()
    glb = {"adhar_glb_name": "web", "adhar_glb_zone": ZONE, "adhar_glb_ttl": 2, "adhar_glb_dns_port": dns_port,
           "adhar_glb_health_check": {"enabled": False}}
    kubeconfigs = {c: os.path.join(runner.state_dir, c, "config", "admin.kubeconfig") for c in (BLUE, GREEN)}
    with make_local_cluster(BLUE, 1, cluster_id=21, pod_cidr="10.252.0.0/16", service_cidr="10.99.0.0/16") as blue:
        runner.module("adhar.platform.apply", {"kubeconfig": blue, "definitions": APP, "wait": True})
        # production before the change: the application's name answers blue only
        runner.module("adhar.platform.glb", {"name": "web", "zone": ZONE, "algorithm": "weighted", "ttl": 2,
                                             "dns_port": dns_port, "health_check": {"enabled": False}, "drain": False,
                                             "clusters": [{"name": BLUE, "endpoint": "127.0.0.2"}]})
        probe = Probe(dns_port, kubeconfigs, tmp)
        probe.thread.start()
        ns = {"runner": runner, "tmp": tmp, "inventory": inventory, "glb": glb, "probe": probe, "n": 0,
              "kubeconfigs": kubeconfigs, "bin_dir": bin_dir, "started": time.time()}
        try:
            yield ns
        finally:
            probe.stop.set()
            probe.thread.join(5)
            pid = os.path.join(runner.state_dir, ".glb", ZONE, "coredns.pid")
            if os.path.exists(pid):
                with open(pid) as f:
                    _kill_if_same(json.load(f))
            runner.module("adhar.platform.cluster", {"name": GREEN, "state": "absent"})


def run(bg, playbook, extra, expect_rc=0):
    """ansible-playbook on the adhar config inventory; returns (results by task name, stdout)."""
    bg["n"] += 1
    env = bg["runner"].env()
    results = os.path.join(bg["tmp"], "results-%d.jsonl" % bg["n"])
    env["ADHAR_RESULTS_FILE"] = results
    cmd = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", bg["inventory"], playbook,
           "-e", json.dumps(dict(bg["glb"], **extra))]
    proc = subprocess.run(cmd, env=env, cwd=bg["tmp"], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == expect_rc, "rc=%d\n%s\n%s" % (proc.returncode, proc.stdout[-8000:], proc.stderr[-3000:])
    out = {}
    if os.path.exists(results):
        with open(results) as f:
            for line in f:
                r = json.loads(line)
                out.setdefault(r["task"], r)
                if r["status"] != "skipped":
                    out[r["task"]] = r
    return out, proc.stdout


def answers(bg, n=10):
    r = dns_resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = bg["glb"]["adhar_glb_dns_port"]
    r.lifetime = 2.0
    seen = set()
    for dummy in range(n):
        seen.update(ADDRESS[rr.address] for rr in r.resolve(FQDN, "A"))
    return seen


def summary(results):
    return results["[done] Summary"]["result"]["ansible_facts"]["bg_summary"]


def test_bad_requests_change_nothing(bg):
    cases = [
        ({"adhar_bluegreen_blue": BLUE}, "must name two different hosts"),
        ({"adhar_bluegreen_blue": BLUE, "adhar_bluegreen_green": GREEN}, "exactly one of -e adhar_bluegreen_app"),
        ({"adhar_bluegreen_blue": BLUE, "adhar_bluegreen_green": GREEN, "adhar_bluegreen_app": "web",
          "adhar_decommission_confirm": GREEN}, "adhar_decommission_confirm must be blue's cluster name, bg-blue"),
        ({"adhar_bluegreen_blue": BLUE, "adhar_bluegreen_green": GREEN, "adhar_bluegreen_app": "web",
          "adhar_bluegreen_action": "sideways"}, "adhar_bluegreen_action must be one of switch, rollback"),
    ]
    for extra, message in cases:
        dummy, out = run(bg, BLUE_GREEN, extra, expect_rc=2)
        assert message in out, out[-3000:]
    assert not os.path.exists(os.path.join(bg["runner"].state_dir, GREEN))
    assert answers(bg) == {BLUE}


def switch_window(probe, started, to):
    """Seconds from the switch call until every answer names ``to``, and the samples that show it."""
    after = [s for s in probe.samples if s[0] >= started]
    last_other = max([i for i, s in enumerate(after) if s[1] and set(s[1]) != {to}], default=-1)
    first_all = after[last_other + 1] if last_other + 1 < len(after) else None
    assert first_all is not None and first_all[1] == [to], "no answer naming only %s after the switch" % to
    return first_all[0] - started


def test_switch_to_green_without_failed_requests(bg, figure):
    probe = bg["probe"]
    since = time.time()
    results, out = run(bg, BLUE_GREEN, {"adhar_bluegreen_blue": BLUE, "adhar_bluegreen_green": GREEN,
                                        "adhar_bluegreen_app": "web"})
    s = summary(results)
    print("\n" + "\n".join(results["[done] Summary table"]["result"]["msg"]))
    assert s["traffic_on"] == GREEN and s["blue_removed"] is False
    migration = results["[3/6 migrate] Migrate the applications from blue to green, verified"]["result"]["migration"]
    assert migration["verification"]["ok"] and migration["counts"]["failed"] == 0
    assert "blue (bg-blue) is kept" in out and "adhar_decommission_confirm=bg-blue" in out
    window = switch_window(probe, s["switch_started"], GREEN)
    figure("[probe] switch window: every answer names green %.2f s after the switch call (the call returned after "
           "%.2f s, drain included)" % (window, s["switch_returned"] - s["switch_started"]))
    assert answers(bg) == {GREEN}
    assert os.path.exists(os.path.join(bg["runner"].state_dir, BLUE, "config"))  # blue kept
    dummy, failed = probe.report("switch to green", since, figure)
    assert failed == []


def test_rollback_switches_back_to_blue(bg, figure):
    probe = bg["probe"]
    since = time.time()
    results, out = run(bg, BLUE_GREEN, {"adhar_bluegreen_blue": BLUE, "adhar_bluegreen_green": GREEN,
                                        "adhar_bluegreen_app": "web", "adhar_bluegreen_action": "rollback"})
    s = summary(results)
    assert s["traffic_on"] == BLUE
    assert results["[3/6 rollback] Blue still serves the application"]["result"]["status"]["ready"]
    assert results["[2/6 green] Create or start green (the ha_control_plane role, as playbooks/deploy.yml)"]["status"] == "skipped"
    figure("[probe] rollback window: every answer names blue %.2f s after the switch call"
           % switch_window(probe, s["switch_started"], BLUE))
    assert answers(bg) == {BLUE}
    dummy, failed = probe.report("rollback to blue", since, figure)
    assert failed == []


BULK = 300


def test_migrate_playbook_local_to_local(bg, figure):
    """playbooks/migrate.yml from blue to green (green exists: the create step finds it running): export, no
    conversion (both local), backup of everything, restore, migration of two namespaces with verification."""
    probe = bg["probe"]
    since = time.time()
    runner = bg["runner"]
    bulk = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bulk"}}] + [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "item-%03d" % i, "namespace": "bulk",
                                                               "labels": {"app": "bulk"}},
         "data": {"n": str(i), "payload": "x" * 512}} for i in range(BULK)]
    runner.module("adhar.platform.apply", {"kubeconfig": bg["kubeconfigs"][BLUE], "definitions": bulk})
    # an adhar cluster has at least one core service, or its config cannot be exported: ingress-nginx from the test
    # fixture chart
    runner.playbook("""\
        - hosts: all
          gather_facts: false
          roles:
            - role: adhar.platform.core_services
              vars:
                core_services_enabled: [nginx]
                core_services_chart_dir: %s
                core_services_kubeconfig: %s
        """ % (json.dumps(os.path.join(REPO, "tests", "fixtures", "charts")), json.dumps(bg["kubeconfigs"][BLUE])),
        "all:\n  hosts:\n    %s:\n      ansible_connection: local\n" % BLUE)
    mdir = os.path.join(bg["tmp"], "migration")
    key = os.path.join(bg["tmp"], "backup.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    results, out = run(bg, MIGRATE, {"adhar_migrate_source": BLUE, "adhar_migrate_target": GREEN,
                                     "adhar_migrate_namespaces": ["shop", "bulk"], "adhar_migrate_dir": mdir,
                                     "adhar_migrate_encryption": {"key_file": key}})
    print("\n" + "\n".join(results["[done] Summary table"]["result"]["msg"]))
    with open(os.path.join(mdir, "bg-blue-config.yaml")) as f:
        exported = yaml.safe_load(f)
    assert [c["name"] for c in exported["clusters"]] == [BLUE]
    assert list(exported["environmentTemplates"][BLUE]["coreServices"]) == ["nginx"]
    assert "no conversion: the target bg-green is of provider type kind" in out
    assert results["[4/7 create] Stop the clock"]["result"]["ansible_facts"]["mg_create_result"] == \
        "local cluster already running"
    backup = results["[5/7 backup] Back up everything on the source"]["result"]["backup"]
    assert backup["counts"]["configmaps"] >= BULK
    restore = results["[6/7 restore] Restore the backup into the target"]["result"]["restore"]
    assert restore["counts"]["failed"] == 0 and restore["counts"]["created"] >= BULK, restore["counts"]
    migration = results["[7/7 migrate] Migrate the applications, verified"]["result"]["migration"]
    assert migration["verification"]["ok"] and migration["counts"]["failed"] == 0
    assert migration["verification"]["objects"] >= BULK
    figure("[migrate] backup %d items in %.2f s (%.0f objects/s); restore %s in %.2f s (%.0f objects/s); "
           "apps migrate + verify %.2f s (%s)" % (
               backup["item_count"], backup["seconds"], backup["objects_per_second"], restore["counts"],
               restore["seconds"], restore["objects_per_second"], migration["seconds"], migration["timings"]))
    green = ClusterReader(bg["kubeconfigs"][GREEN], os.path.join(bg["tmp"], "green-check"))
    status, body = green.get("/api/v1/namespaces/bulk/configmaps?labelSelector=app%3Dbulk")
    assert status == 200 and len(json.loads(body)["items"]) == BULK
    dummy, failed = probe.report("provider migration", since, figure)
    assert failed == []


def test_decommission_only_when_named(bg, figure):
    """A confirmation naming another cluster is refused (test_bad_requests_change_nothing), no confirmation keeps blue
    (test_switch_to_green_without_failed_requests); the confirmation naming blue removes it."""
    probe = bg["probe"]
    since = time.time()
    base = {"adhar_bluegreen_blue": BLUE, "adhar_bluegreen_green": GREEN, "adhar_bluegreen_app": "web"}
    # without the confirmation blue is kept (test_switch_to_green_without_failed_requests); named, after the rollback:
    # switched to green again, blue's record leaves the load balancer, then the cluster goes
    results, out = run(bg, BLUE_GREEN, dict(base, adhar_decommission_confirm=BLUE))
    s = summary(results)
    assert s["blue_removed"] is True and "blue (bg-blue) was removed" in out
    records = results["[6/6 decommission] Take blue's record out of the load balancer"]["result"]["records"]
    assert [r["set_identifier"] for r in records] == [GREEN]
    assert not os.path.exists(os.path.join(bg["runner"].state_dir, BLUE))
    assert answers(bg) == {GREEN}
    # the next run cannot find blue and changes nothing
    dummy, out = run(bg, BLUE_GREEN, base, expect_rc=2)
    assert "blue (bg-blue) does not exist" in out
    dummy, failed = probe.report("decommission", since, figure)
    assert failed == []
    # the whole module: not one failed request since the probe started
    dummy, failed = probe.report("whole module", bg["started"], figure)
    assert failed == []
