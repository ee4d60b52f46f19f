# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Control-plane flags: where the command lines come from, and the rules they are judged by.

The command lines are read, never guessed:

* a local cluster made by ``adhar.platform.cluster``: the running process's own ``/proc/<pid>/cmdline`` (the pid
  its supervisord reports), else, when the process does not run, the command line the collection configured for it;
* any other cluster: the ``command`` and ``args`` of the control-plane static Pods in ``kube-system``
  (``component=kube-apiserver``, ``etcd``, ...), as kubeadm and kind clusters run them.  Managed clusters (EKS, GKE,
  ...) show none: their flags cannot be judged from the cluster.

The rules follow the spirit of the CIS Kubernetes benchmark (API server, etcd, controller manager, scheduler); each
one says what it expects, what was found, and ``pass``, ``warn`` or ``fail``.
"""

from __future__ import annotations

import os

PASS, WARN, FAIL, UNKNOWN = "pass", "warn", "fail", "unknown"

KINDS = ("apiserver", "etcd", "controller-manager", "scheduler")
# kube-system static Pods: the ``component`` label of each kind
STATIC_POD_COMPONENTS = {"kube-apiserver": "apiserver", "etcd": "etcd", "kube-controller-manager": "controller-manager",
                         "kube-scheduler": "scheduler"}
_BINARIES = {"apiserver": "kube-apiserver", "etcd": "etcd", "controller-manager": "kube-controller-manager",
             "scheduler": "kube-scheduler"}

# TLS 1.3 suites and the ECDHE + AEAD TLS 1.2 suites (no CBC, no RSA key exchange, no 3DES or RC4)
STRONG_CIPHERS = frozenset((
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
))
STRONG_TLS_VERSIONS = ("VersionTLS12", "VersionTLS13")


def parse_flags(argv):
    """``{flag: value}`` of a command line (``--a=b``, ``--a b``, bare ``--a`` is ``"true"``); a repeated flag keeps
    every value, comma-joined."""
    flags = {}
    args = list(argv or [])[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        name, sep, value = arg.lstrip("-").partition("=")
        if not sep:
            if i < len(args) and not args[i].startswith("-"):
                value = args[i]
                i += 1
            else:
                value = "true"
        flags[name] = flags[name] + "," + value if name in flags else value
    return flags


def kind_of(process_name):
    """``apiserver`` for ``apiserver-0``, ...; None for the other programs of a local cluster (kwok, haproxy)."""
    kind = process_name.rpartition("-")[0] if "-" in process_name else process_name
    return kind if kind in KINDS else None


def read_cmdline(pid):
    """The argv of a live process from /proc, or None."""
    try:
        with open("/proc/%d/cmdline" % int(pid), "rb") as handle:
            raw = handle.read()
    except (OSError, ValueError, TypeError):
        return None
    parts = [p.decode("utf-8", "replace") for p in raw.split(b"\0")]
    return parts[:-1] if parts and parts[-1] == "" else parts or None


def local_processes(cluster, states):
    """One entry per control-plane process of a local cluster: ``process``, ``kind``, ``argv``, ``source``.

    ``states`` is supervisord's ``{program: {"state", "pid"}}`` (None when it does not answer).
    """
    out = []
    for name in cluster.process_names():
        kind = kind_of(name)
        if kind is None:
            continue
        info = (states or {}).get(name) or {}
        argv = None
        if info.get("state") == "RUNNING" and info.get("pid"):
            argv = read_cmdline(info["pid"])
            if argv and os.path.basename(argv[0]) != _BINARIES[kind]:
                argv = None  # not the program itself (should not happen: supervisord execs it)
            source = "/proc/%s/cmdline" % info["pid"]
        if not argv:
            argv = cluster.command(name)
            source = "the command line configured in %s (the process is %s)" % (
                cluster.layout.state_file, (info.get("state") or "not supervised").lower())
        out.append({"process": name, "kind": kind, "argv": argv, "source": source})
    return out


def static_pod_processes(pods):
    """Entries like ``local_processes`` from the kube-system Pods of a kubeadm-style control plane."""
    out = []
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        kind = STATIC_POD_COMPONENTS.get((meta.get("labels") or {}).get("component"))
        containers = (pod.get("spec") or {}).get("containers") or []
        if kind is None or not containers:
            continue
        container = containers[0]
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        if argv and argv[0].startswith("-"):
            argv = [_BINARIES[kind]] + argv
        out.append({"process": meta.get("name") or kind, "kind": kind, "argv": argv,
                    "source": "Pod kube-system/%s (spec.containers[0].command and args)" % meta.get("name")})
    return out


# ------------------------------------------------------------------------------------------------- rules
def _is(flags, name, want, default, why):
    value = flags.get(name, default)
    ok = str(value).lower() == want
    return (PASS if ok else FAIL), "%s=%s%s" % (name, value, "" if name in flags else " (not set: default)"), None if ok else why


def _set(flags, *names, why=None):
    missing = [n for n in names if not flags.get(n)]
    found = ", ".join("%s=%s" % (n, flags[n]) for n in names if flags.get(n)) or "not set"
    return (FAIL if missing else PASS), found, ("%s not set%s" % (", ".join(missing), ": " + why if why else "")) if missing else None


def _unset(flags, name, why):
    if name in flags:
        return FAIL, "%s=%s" % (name, flags[name]), why
    return PASS, "%s not set" % name, None


def _at_least(flags, name, minimum, why):
    value = flags.get(name)
    if value is None:
        return FAIL, "%s not set" % name, "%s not set (%s; want %d or more)" % (name, why, minimum)
    try:
        ok = int(value) >= minimum
    except ValueError:
        ok = False
    return (PASS if ok else FAIL), "%s=%s" % (name, value), None if ok else "%s=%s, want %d or more (%s)" % (name, value, minimum, why)


def _listed(flags, name, must, must_not, default):
    value = flags.get(name, default)
    items = [v.strip() for v in value.split(",") if v.strip()]
    problems = ["%s lacks %s" % (name, m) for m in must if m not in items]
    problems += ["%s includes %s" % (name, m) for m in must_not if m in items]
    return (FAIL if problems else PASS), "%s=%s%s" % (name, value, "" if name in flags else " (not set: default)"), "; ".join(problems) or None


def _ciphers(flags):
    value = flags.get("tls-cipher-suites")
    if not value:
        return WARN, "tls-cipher-suites not set", "tls-cipher-suites not set: Go's default suites apply, CBC suites among them"
    weak = [c for c in value.split(",") if c.strip() and c.strip() not in STRONG_CIPHERS]
    return (FAIL if weak else PASS), "tls-cipher-suites=%s" % value, ("weak suites: %s" % ", ".join(weak)) if weak else None


def _min_tls(flags):
    value = flags.get("tls-min-version")
    if not value:
        return WARN, "tls-min-version not set", "tls-min-version not set: the default of the Go release applies"
    ok = value in STRONG_TLS_VERSIONS
    return (PASS if ok else FAIL), "tls-min-version=%s" % value, None if ok else "tls-min-version=%s, want VersionTLS12 or VersionTLS13" % value


def _https_urls(flags, name):
    value = flags.get(name, "")
    plain = [u for u in value.split(",") if u and not u.startswith("https://")]
    if not value:
        return FAIL, "%s not set" % name, "%s not set" % name
    return (FAIL if plain else PASS), "%s=%s" % (name, value), ("not TLS: %s" % ", ".join(plain)) if plain else None


# kind -> [(rule id, what it expects, fn(flags) -> (status, found, problem))]
RULES = {
    "apiserver": [
        ("anonymous-auth", "--anonymous-auth=false",
         lambda f: _is(f, "anonymous-auth", "false", "true", "anonymous requests are served (as system:anonymous)")),
        ("token-auth-file", "no --token-auth-file",
         lambda f: _unset(f, "token-auth-file", "static tokens in a file cannot be revoked without a restart")),
        ("authorization-mode", "--authorization-mode with Node and RBAC, never AlwaysAllow",
         lambda f: _listed(f, "authorization-mode", ("Node", "RBAC"), ("AlwaysAllow",), "AlwaysAllow")),
        ("admission-plugins", "--enable-admission-plugins with NodeRestriction, never AlwaysAdmit",
         lambda f: _listed(f, "enable-admission-plugins", ("NodeRestriction",), ("AlwaysAdmit",), "")),
        ("profiling", "--profiling=false",
         lambda f: _is(f, "profiling", "false", "true", "profiling endpoints are served")),
        ("audit-log-path", "--audit-log-path set",
         lambda f: _set(f, "audit-log-path", why="requests are not audited")),
        ("audit-log-maxage", "--audit-log-maxage of 30 days or more",
         lambda f: _at_least(f, "audit-log-maxage", 30, "days audit logs are kept")),
        ("audit-log-maxbackup", "--audit-log-maxbackup of 10 or more",
         lambda f: _at_least(f, "audit-log-maxbackup", 10, "rotated audit logs kept")),
        ("audit-log-maxsize", "--audit-log-maxsize of 100 MB or more",
         lambda f: _at_least(f, "audit-log-maxsize", 100, "MB per audit log before rotation")),
        ("service-account-lookup", "--service-account-lookup not false",
         lambda f: _is(f, "service-account-lookup", "true", "true", "deleted service accounts' tokens stay valid")),
        ("service-account-key-file", "--service-account-key-file set",
         lambda f: _set(f, "service-account-key-file")),
        ("etcd-tls", "--etcd-certfile, --etcd-keyfile and --etcd-cafile set",
         lambda f: _set(f, "etcd-certfile", "etcd-keyfile", "etcd-cafile", why="etcd is reached without TLS client auth")),
        ("tls-serving", "--tls-cert-file, --tls-private-key-file and --client-ca-file set",
         lambda f: _set(f, "tls-cert-file", "tls-private-key-file", "client-ca-file")),
        ("encryption-provider-config", "--encryption-provider-config set",
         lambda f: _set(f, "encryption-provider-config", why="Secrets are stored in etcd in plain text")),
        ("tls-cipher-suites", "--tls-cipher-suites limited to ECDHE AEAD and TLS 1.3 suites", _ciphers),
        ("tls-min-version", "--tls-min-version VersionTLS12 or VersionTLS13", _min_tls),
    ],
    "etcd": [
        ("client-tls", "--cert-file and --key-file set", lambda f: _set(f, "cert-file", "key-file", why="clients talk to etcd without TLS")),
        ("client-cert-auth", "--client-cert-auth=true",
         lambda f: _is(f, "client-cert-auth", "true", "false", "any client that reaches etcd is served")),
        ("auto-tls", "--auto-tls not true", lambda f: _is(f, "auto-tls", "false", "false", "self-signed client certificates")),
        ("peer-tls", "--peer-cert-file and --peer-key-file set",
         lambda f: _set(f, "peer-cert-file", "peer-key-file", why="members replicate without TLS")),
        ("peer-client-cert-auth", "--peer-client-cert-auth=true",
         lambda f: _is(f, "peer-client-cert-auth", "true", "false", "any peer that reaches etcd may join")),
        ("peer-auto-tls", "--peer-auto-tls not true", lambda f: _is(f, "peer-auto-tls", "false", "false", "self-signed peer certificates")),
        ("client-urls", "--listen-client-urls all https://", lambda f: _https_urls(f, "listen-client-urls")),
        ("trusted-ca-file", "--trusted-ca-file set", lambda f: _set(f, "trusted-ca-file")),
    ],
    "controller-manager": [
        ("profiling", "--profiling=false", lambda f: _is(f, "profiling", "false", "true", "profiling endpoints are served")),
        ("use-service-account-credentials", "--use-service-account-credentials=true",
         lambda f: _is(f, "use-service-account-credentials", "true", "false", "every controller shares one identity")),
        ("service-account-private-key-file", "--service-account-private-key-file set",
         lambda f: _set(f, "service-account-private-key-file")),
        ("root-ca-file", "--root-ca-file set", lambda f: _set(f, "root-ca-file")),
        ("bind-address", "--bind-address=127.0.0.1",
         lambda f: _is(f, "bind-address", "127.0.0.1", "0.0.0.0", "its endpoints listen on every interface")),
    ],
    "scheduler": [
        ("profiling", "--profiling=false", lambda f: _is(f, "profiling", "false", "true", "profiling endpoints are served")),
        ("bind-address", "--bind-address=127.0.0.1",
         lambda f: _is(f, "bind-address", "127.0.0.1", "0.0.0.0", "its endpoints listen on every interface")),
    ],
}

_RANK = {PASS: 0, UNKNOWN: 1, WARN: 2, FAIL: 3}


def worst(statuses, empty=PASS):
    statuses = list(statuses)
    return max(statuses, key=lambda s: _RANK[s]) if statuses else empty


def evaluate(processes):
    """``{kind: {"status", "processes": [names], "sources": [...], "checks": [...]}}`` for each kind found.

    A rule's status is the worst over the members of that kind; ``found`` names the member when members differ.
    """
    by_kind = {}
    for proc in processes:
        by_kind.setdefault(proc["kind"], []).append(proc)
    out = {}
    for kind, procs in by_kind.items():
        parsed = [(p, parse_flags(p["argv"])) for p in procs]
        checks = []
        for rule_id, expect, rule in RULES[kind]:
            results = [(p["process"], rule(flags)) for p, flags in parsed]
            status = worst(r[0] for _name, r in results)
            found = sorted({r[1] for _name, r in results})
            problems = sorted({"%s: %s" % (name, r[2]) if len(results) > 1 else r[2] for name, r in results if r[2]})
            checks.append({"id": "%s.%s" % (kind, rule_id), "expect": expect, "status": status,
                           "found": found[0] if len(found) == 1 else "; ".join(found),
                           "problem": "; ".join(problems) or None})
        out[kind] = {"status": worst(c["status"] for c in checks), "processes": [p["process"] for p in procs],
                     "sources": [p["source"] for p in procs], "checks": checks}
    # etcd's client CA should not be the CA that admits API clients (anyone with a cluster certificate could reach etcd)
    api, etcd = by_kind.get("apiserver"), by_kind.get("etcd")
    if api and etcd:
        client_cas = {parse_flags(p["argv"]).get("client-ca-file") for p in api}
        etcd_cas = {parse_flags(p["argv"]).get("trusted-ca-file") for p in etcd}
        shared = sorted(c for c in client_cas & etcd_cas if c)
        check = {"id": "etcd.unique-ca", "expect": "etcd's --trusted-ca-file is not the API server's --client-ca-file",
                 "status": FAIL if shared else PASS, "found": ", ".join(sorted(c for c in etcd_cas if c)) or "not set",
                 "problem": ("etcd trusts the CA of the API server's clients (%s)" % ", ".join(shared)) if shared else None}
        out["etcd"]["checks"].append(check)
        out["etcd"]["status"] = worst(c["status"] for c in out["etcd"]["checks"])
    return out


def flag_value(processes, kind, name):
    """``{process: value or None}`` of one flag over the processes of ``kind``."""
    return {p["process"]: parse_flags(p["argv"]).get(name) for p in processes if p["kind"] == kind}
