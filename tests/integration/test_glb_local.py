# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adhar.platform.glb with provider local: a real CoreDNS (the toolchain's build) answering real DNS queries.

The two "clusters" are HTTP servers on 127.0.0.2 and 127.0.0.3 (loopback addresses) that answer /healthz; the
answers of CoreDNS are read with dnspython and change after a weight change, a switch, a health failure and a
failover.  Every process the module starts is stopped by its pidfile at the end.
"""

from __future__ import annotations

import collections
import http.server
import json
import os
import threading

import pytest

from conftest import Runner, _kill_if_same
from ports import free_dns_port, free_tcp_port

dns_resolver = pytest.importorskip("dns.resolver")
import dns.exception  # noqa: E402  (after the importorskip above)

ZONE = "glb.test"
FQDN = "global-app.glb.test."
A, B = "127.0.0.2", "127.0.0.3"


class Endpoint:
    """An HTTP server answering 200 on /healthz (or 503 when ``healthy`` is False)."""

    def __init__(self, address, port):
        self.healthy = True
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                status = 200 if endpoint.healthy and self.path == "/healthz" else 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def env(collections_path, tmp_path_factory):
    from plugins.module_utils._common import toolchain  # the repository is on sys.path (conftest)
    path, where = toolchain.find_addon_binary("coredns", "coredns")
    if not path:
        pytest.fail("CoreDNS is not built (looked in %s): run `make toolchain`" % where)
    d = tmp_path_factory.mktemp("glb-local")
    state = str(d / "state")
    port = free_tcp_port()
    endpoints = {A: Endpoint(A, port), B: Endpoint(B, port)}
    ns = {"runner": Runner(collections_path, state, str(d)), "state": state, "dns_port": free_dns_port(),
          "hc_port": port, "endpoints": endpoints}
    yield ns
    for e in endpoints.values():
        e.stop()
    pid = os.path.join(state, ".glb", ZONE, "coredns.pid")
    if os.path.exists(pid):
        with open(pid) as f:
            _kill_if_same(json.load(f))


def task(env, **extra):
    args = {"name": "global-app", "zone": ZONE, "algorithm": "weighted", "state_dir": env["state"],
            "dns_port": env["dns_port"], "ttl": 5, "drain": False,
            "health_check": {"port": env["hc_port"], "interval": 10, "threshold": 1},
            "clusters": [{"name": "prod-blue", "endpoint": A, "weight": 3},
                         {"name": "prod-green", "endpoint": B, "weight": 1}]}
    args.update(extra)
    return args


def resolver(env):
    r = dns_resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = env["dns_port"]
    r.lifetime = 2.0
    return r


def answers(env, n=1):
    """The answers of ``n`` queries: a Counter of the first address, and the set of every address seen."""
    first, every = collections.Counter(), set()
    r = resolver(env)
    for dummy in range(n):
        ans = r.resolve(FQDN, "A")
        addrs = [rr.address for rr in ans]
        first[addrs[0]] += 1
        every.update(addrs)
    return first, every


def test_weighted_switch_health_failover_absent(env):
    runner = env["runner"]
    result = runner.module("adhar.platform.glb", task(env), check=True)
    assert result["changed"] and not os.path.exists(os.path.join(env["state"], ".glb"))

    result = runner.module("adhar.platform.glb", task(env), diff=True)
    assert result["changed"] and result["server"]["running"]
    assert {h["cluster"]: h["healthy"] for h in result["health_checks"]} == {"prod-blue": True, "prod-green": True}
    first, every = answers(env, 200)
    assert every == {A, B}
    # weights 3:1 for the first address; 200 draws: A expected 150, B 50 (far outside chance for a fair coin)
    assert 110 <= first[A] <= 185, first
    assert ans_ttl(env) == 5

    again = runner.module("adhar.platform.glb", task(env))
    assert not again["changed"] and again["changes"] == [] and again["server"]["pid"] == result["server"]["pid"]

    # the guide's adhar network switch --to prod-green
    switched = runner.module("adhar.platform.glb", task(env, switch_to="prod-green"))
    assert switched["changed"]
    first, every = answers(env, 20)
    assert every == {B}
    runner.module("adhar.platform.glb", task(env))
    assert answers(env, 50)[1] == {A, B}

    # green's health check fails: the next run answers blue only, and says why
    env["endpoints"][B].healthy = False
    result = runner.module("adhar.platform.glb", task(env))
    assert result["changed"]
    assert {h["cluster"]: h["status"] for h in result["health_checks"]}["prod-green"] == "HTTP 503"
    assert answers(env, 20)[1] == {A}
    env["endpoints"][B].healthy = True

    # failover: the primary while healthy, else the secondary
    fo = task(env, algorithm="failover")
    runner.module("adhar.platform.glb", fo)
    assert answers(env, 10)[1] == {A}
    env["endpoints"][A].healthy = False
    runner.module("adhar.platform.glb", fo)
    assert answers(env, 10)[1] == {B}
    env["endpoints"][A].healthy = True
    runner.module("adhar.platform.glb", fo)
    assert answers(env, 10)[1] == {A}

    # latency: served by every healthy endpoint, with a note that the local server has no latency data
    lat = runner.module("adhar.platform.glb", task(env, algorithm="latency"))
    assert any("neither the client's latency" in n for n in lat["notes"])
    assert answers(env, 50)[1] == {A, B}

    # absent: the records go, and with the last record of the zone the server stops
    pid = lat["server"]["pid"]
    gone = runner.module("adhar.platform.glb", task(env, state="absent", clusters=None))
    assert gone["changed"] and not gone["server"]["running"]
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    with pytest.raises(dns.exception.DNSException):
        resolver(env).resolve(FQDN, "A")
    assert not runner.module("adhar.platform.glb", task(env, state="absent", clusters=None))["changed"]


def test_bad_input_changes_nothing(env):
    runner = env["runner"]
    cases = [
        (dict(clusters=[{"name": "a", "endpoint": "lb.example.net"}, {"name": "b", "endpoint": "lb2.example.net"}]),
         "clusters: the local server answers IP endpoints only"),
        (dict(clusters=[{"name": "a", "endpoint": A, "weight": 2.5}]), "clusters[0].weight: the local server's weights"),
        (dict(dns_address="localhost"), "dns_address: must be an IP address"),
        (dict(clusters=[{"name": "a", "endpoint": A, "weight": 0}]), "clusters: the weights sum to zero"),
    ]
    for extra, message in cases:
        result = runner.module("adhar.platform.glb", task(env, **extra), expect_fail=True)
        assert message in result["msg"], result["msg"]
    assert not os.path.exists(os.path.join(env["state"], ".glb", ZONE))


def ans_ttl(env):
    return resolver(env).resolve(FQDN, "A").rrset.ttl


INVENTORY = """
all:
  children:
    clusters:
      hosts:
        prod-blue: {adhar_glb_endpoint: "%(a)s", adhar_glb_weight: 1}
        prod-green: {adhar_glb_endpoint: "%(b)s", adhar_glb_weight: 1}
"""


def test_network_playbook_create_and_switch(env, tmp_path):
    import shutil
    import subprocess
    runner = env["runner"]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY % {"a": A, "b": B})
    common = ["-e", "adhar_glb_name=global-app", "-e", "adhar_glb_zone=" + ZONE, "-e", "adhar_glb_algorithm=weighted",
              "-e", "adhar_state_dir=" + env["state"], "-e", "adhar_glb_dns_port=%d" % env["dns_port"],
              "-e", '{"adhar_glb_health_check": {"port": %d, "interval": 10}}' % env["hc_port"]]
    playbook = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            "playbooks", "network.yml")

    def play(*extra):
        cmd = [shutil.which("ansible-playbook", path=runner.env()["PATH"]), "-i", str(inventory), playbook]
        proc = subprocess.run(cmd + common + list(extra), env=runner.env(), capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        return proc.stdout

    play("-e", "adhar_network_action=glb")
    assert answers(env, 40)[1] == {A, B}
    play("-e", "adhar_network_action=switch", "-e", "adhar_switch_to=prod-green", "-e", "adhar_glb_drain=false")
    assert answers(env, 20)[1] == {B}
    play("-e", "adhar_network_action=glb", "-e", "adhar_glb_state=absent")
    with pytest.raises(dns.exception.DNSException):
        resolver(env).resolve(FQDN, "A")


def test_endpoint_from_the_ingress_service(env, runner, make_local_cluster):
    """A cluster without an endpoint: the address comes from its ingress Service (spec.externalIPs on a local cluster,
    which has no load-balancer controller), read through the cluster's kubeconfig.  The API server refuses loopback
    external IPs, so the Service names a documentation address (TEST-NET-1) that is only answered, never probed."""
    external = "192.0.2.10"
    with make_local_cluster("glb-ingress") as kubeconfig:
        runner.module("adhar.platform.apply", {"kubeconfig": kubeconfig, "definitions": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress-nginx"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ingress-nginx-controller",
                                                                 "namespace": "ingress-nginx"},
             "spec": {"ports": [{"port": 80}], "externalIPs": [external]}}]})
        args = task(env, algorithm="weighted", record="ingress", health_check={"enabled": False}, clusters=[
            {"name": "prod-blue", "endpoint": A}, {"name": "prod-green", "kubeconfig": kubeconfig}])
        result = env["runner"].module("adhar.platform.glb", args)
        assert {r["set_identifier"]: r["values"] for r in result["records"]} == {"prod-blue": [A], "prod-green": [external]}
        r = resolver(env)
        assert {rr.address for dummy in range(30) for rr in r.resolve("ingress." + ZONE + ".", "A")} == {A, external}
        missing = env["runner"].module("adhar.platform.glb", dict(args, clusters=[
            {"name": "prod-green", "kubeconfig": kubeconfig, "ingress_service": "ingress-nginx/nothing"}]),
            expect_fail=True)
        assert "clusters[0] (prod-green): Service ingress-nginx/nothing: cannot read it" in missing["msg"]
        env["runner"].module("adhar.platform.glb", dict(args, state="absent", clusters=None))
