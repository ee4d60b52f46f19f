# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``monitoring`` module: Prometheus, Alertmanager and kube-state-metrics as processes of a local cluster.

The programs and files are described in ``local/monitoring.py``; here they are put in place under the cluster's
lock: ports reserved in its cluster.json, Prometheus's client certificate issued by the cluster CA, the configs and
rules written (checked by promtool and amtool first: bad rules fail before anything changes), and the programs added
to, restarted in or removed from the cluster's running supervisord.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import tempfile
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.args import above, at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import monitoring as mon
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import pki
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import ports as portalloc
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import default_state_root
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import request

ARG_SPEC = dict(
    local_cluster={"type": "str", "required": True},
    state_dir={"type": "path"},
    state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    rules={"type": "str", "default": ""},
    scrape_interval={"type": "str", "default": "15s"},
    evaluation_interval={"type": "str", "default": "15s"},
    resend_delay={"type": "str", "default": "1m"},
    retention={"type": "str", "default": "2d"},
    group_wait={"type": "str", "default": "30s"},
    group_interval={"type": "str", "default": "5m"},
    repeat_interval={"type": "str", "default": "4h"},
    webhook_url={"type": "str"},
    client_cert_days={"type": "int", "default": 365},
    timeout={"type": "float", "default": 120.0},
)

BOUNDS = {"client_cert_days": at_least(1), "timeout": above(0)}

# A Prometheus duration (model.ParseDuration): units from the largest down, each at most once, e.g. 1m30s
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
DURATIONS = ("scrape_interval", "evaluation_interval", "resend_delay", "retention", "group_wait", "group_interval",
             "repeat_interval")
# what the saved state keeps (the programs' commands and configs are made from it)
SETTINGS = DURATIONS + ("webhook_url", "client_cert_days")


def seconds(value):
    """Seconds of a Prometheus duration (``1m30s`` -> 90.0)."""
    return sum(int(num) * _UNITS[unit] for num, unit in re.findall(r"(\d+)(ms|[ywdhms])", value))


def check_params(params):
    """One clear error per bad option, before anything is read or changed."""
    for name in DURATIONS:
        value = params[name]
        if not value or not _DURATION.match(value) or seconds(value) <= 0:
            raise AdharError("%s: %r is not a Prometheus duration (such as 30s, 1m or 1h30m)" % (name, value), option=name)
    url = params.get("webhook_url")
    if url and not re.match(r"^https?://[^/\s]+", url):
        raise AdharError("webhook_url: %r is not an http:// or https:// URL" % url, option="webhook_url")
    return params


def _binaries():
    """``{component: bin dir}`` of Prometheus, Alertmanager and kube-state-metrics, or one error naming the toolchain
    command."""
    out = {}
    for component, names in (("prometheus", ("prometheus", "promtool")), ("alertmanager", ("alertmanager", "amtool")),
                             (mon.KSM, (mon.KSM,))):
        for name in names:
            path, where = toolchain.find_addon_binary(name, component)
            if not path:
                raise AdharError("the %s binary is missing from %s; build it with `tools/toolchain ensure --only %s`"
                                 % (name, where, component), missing=[name])
            out[component] = os.path.dirname(path)
    return out


def _tool_check(argv, what, text, suffix):
    """Run promtool or amtool on ``text`` in a temp file; an AdharError with the tool's own message when it fails."""
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False) as f:
        f.write(text)
    try:
        proc = run_once(argv + [f.name], text=True, timeout=60)
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        message = (proc.stdout + proc.stderr).replace(f.name, what).strip()
        raise AdharError("%s is not valid (%s):\n%s" % (what, os.path.basename(argv[0]), message), option=what)


def validate_files(bin_dirs, files):
    """promtool and amtool check what would be written (the rules fully, the configs for their syntax)."""
    promtool = os.path.join(bin_dirs["prometheus"], "promtool")
    if files["rules.yml"].strip():
        _tool_check([promtool, "check", "rules"], "rules", files["rules.yml"], ".yml")
    _tool_check([promtool, "check", "config", "--syntax-only"], "prometheus.yml", files["prometheus.yml"], ".yml")
    _tool_check([os.path.join(bin_dirs["alertmanager"], "amtool"), "check-config"], "alertmanager.yml",
                files["alertmanager.yml"], ".yml")


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _cert_ok(layout, days):
    """Prometheus's client certificate exists, is issued by the cluster CA and has the validity asked for (give or take
    a day, so a re-run the next day is unchanged) with at least a tenth of it left."""
    path = mon.pki_path(layout, "prometheus.crt")
    if not os.path.exists(path) or not os.path.exists(mon.pki_path(layout, "prometheus.key")):
        return False
    from cryptography import x509
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(layout.pki("ca.crt"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    if cert.issuer != ca.subject:
        return False
    lifetime = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 86400.0
    left = (cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400.0
    return abs(lifetime - days) <= 1.0 and left > days / 10.0


def issue_client_cert(layout, days):
    os.makedirs(mon.pki_path(layout, ""), mode=0o700, exist_ok=True)
    authority = pki.CertAuthority.load(layout.pki("ca.crt"), layout.pki("ca.key"))
    authority.issue_to(mon.pki_path(layout, "prometheus.crt"), mon.pki_path(layout, "prometheus.key"), mon.CLIENT_CN,
                       orgs=(mon.CLIENT_GROUP,), client=True, days=days)


def _desired(params, bin_dirs):
    want = {k: params[k] for k in SETTINGS}
    # a scrape may take up to its interval (Prometheus's default timeout is 10s, never above the interval)
    want["scrape_timeout"] = params["scrape_interval"] if seconds(params["scrape_interval"]) < 10 else "10s"
    want["bin_dirs"] = bin_dirs
    return want


def _render(layout, data, rules):
    return {"prometheus.yml": mon.prometheus_config(layout, data), "rules.yml": rules,
            "alertmanager.yml": mon.alertmanager_config(data)}


def _ready(url, path, timeout=2.0):
    try:
        return request(url, path, timeout=timeout)[0] == 200
    except OSError:
        return False


def wait_ready(cluster, data, deadline):
    """Every program RUNNING under supervisord and answering its readiness path."""
    rt.wait_programs_running(cluster, list(mon.PROGRAMS), deadline)
    for name, url, path in mon.readiness(data):
        while not _ready(url, path):
            if time.monotonic() > deadline:
                raise AdharError("%s of cluster %s does not answer %s%s; last log lines:\n%s"
                                 % (name, cluster.layout.name, url, path, cluster.log_tail(name)), process=name)
            time.sleep(0.2)


def _open(params):
    root = os.path.abspath(os.path.expanduser(params["state_dir"])) if params.get("state_dir") else default_state_root()
    layout = st.Layout(root, params["local_cluster"])
    data = st.load(layout)
    if data is None:
        raise AdharError("local_cluster: no local cluster named %r under %s (create it with adhar.platform.cluster)"
                         % (params["local_cluster"], root), option="local_cluster")
    if data.get("phase") != "ready":
        raise AdharError("local_cluster: cluster %s is not ready (phase %s)" % (layout.name, data.get("phase")),
                         option="local_cluster")
    return root, layout, data


def _result(layout, data, actions, changed, diffs=None):
    out = {"changed": changed, "actions": actions}
    if diffs:
        out["diff"] = diffs
    if data.get("monitoring") and all(k in data["ports"] for k in mon.PORT_KEYS):
        out.update(prometheus_url=mon.prometheus_url(data), alertmanager_url=mon.alertmanager_url(data),
                   kube_state_metrics_url=mon.kube_state_metrics_url(data),
                   targets=[{"job": j, "member": m, "address": a} for j, m, a in mon.targets(data)],
                   client_cert=mon.pki_path(layout, "prometheus.crt"))
    else:
        out.update(prometheus_url=None, alertmanager_url=None, kube_state_metrics_url=None, targets=[], client_cert=None)
    return out


def present(module, params, root, layout, data):
    bin_dirs = _binaries()
    cluster = rt.Cluster(layout, data)
    if not cluster.supervised():
        raise AdharError("local_cluster: cluster %s is not running; start it first (adhar.platform.cluster "
                         "state=started)" % layout.name, option="local_cluster")
    want = _desired(params, bin_dirs)
    have = data.get("monitoring") or {}
    # a cluster set up before a program was added to the monitoring keeps its ports and gets the new ones
    missing_ports = [k for k in mon.PORT_KEYS if k not in data["ports"]]
    # what the files would be (ports not reserved yet: placeholders, for the checks and check mode only)
    preview = json.loads(json.dumps(data))
    preview["monitoring"] = want
    for key in mon.PORT_KEYS:
        preview["ports"].setdefault(key, 1)
    files = _render(layout, preview, params["rules"])
    validate_files(bin_dirs, files)

    actions = []
    settings_changed = any(have.get(k) != v for k, v in want.items())
    cert_ok = _cert_ok(layout, params["client_cert_days"])
    if module.check_mode:
        if missing_ports:
            actions.append("%s: would reserve ports for %s" % (layout.name, ", ".join(missing_ports)))
        if not cert_ok:
            actions.append("%s: would issue Prometheus's client certificate (%d days)" % (layout.name,
                                                                                          params["client_cert_days"]))
        changed_files = [n for n in mon.FILES if _read(mon.config_path(layout, n)) != files[n]]
        if changed_files or settings_changed:
            actions.append("%s: would write %s" % (layout.name, ", ".join(changed_files or ["its settings"])))
        states = cluster.programs() or {}
        stopped = [n for n in mon.PROGRAMS if (states.get(n) or {}).get("state") not in rt.ALIVE]
        if stopped:
            actions.append("%s: would start %s" % (layout.name, ", ".join(stopped)))
        elif changed_files or not cert_ok or settings_changed:
            actions.append("%s: would restart %s" % (layout.name, ", ".join(mon.PROGRAMS)))
        return _result(layout, data, actions, bool(actions))

    deadline = time.monotonic() + params["timeout"]
    with st.cluster_lock(layout):
        with st.ports_lock(root):
            data = st.load(layout)
            if missing_ports:
                # every cluster's ports, this one's included (its programs may be stopped, their ports look free)
                free = portalloc.allocate(len(missing_ports), st.reserved_ports(root))
                for key, port in zip(missing_ports, free):
                    data["ports"][key] = port
                actions.append("%s: reserved ports %s" % (layout.name, ", ".join(
                    "%d (%s)" % (data["ports"][k], k) for k in missing_ports)))
            if settings_changed or missing_ports:
                data["monitoring"] = want
                st.save(layout, data)
        restart = set()
        if not cert_ok:
            issue_client_cert(layout, params["client_cert_days"])
            actions.append("%s: issued Prometheus's client certificate (%d days)" % (layout.name,
                                                                                     params["client_cert_days"]))
            restart.add("prometheus")
        files = _render(layout, data, params["rules"])
        os.makedirs(mon.config_path(layout, ""), mode=0o700, exist_ok=True)
        diffs = []
        for name in mon.FILES:
            path = mon.config_path(layout, name)
            before = _read(path)
            if before == files[name]:
                continue
            rt.write_private(path, files[name])
            diffs.append({"before": before or "", "after": files[name], "before_header": path, "after_header": path})
            restart.add("alertmanager" if name == "alertmanager.yml" else "prometheus")
        if diffs:
            actions.append("%s: wrote %s" % (layout.name, ", ".join(os.path.basename(d["after_header"]) for d in diffs)))
        if settings_changed:
            restart.update(mon.PROGRAMS)
        cluster = rt.Cluster(layout, data)
        states = cluster.programs() or {}
        running = [n for n in mon.PROGRAMS if (states.get(n) or {}).get("state") in rt.ALIVE]
        stop = [n for n in running if n in restart]
        if stop:
            cluster.supervisor.stop_programs([stop])
        cluster.ensure_supervisor(deadline)
        start = [n for n in mon.PROGRAMS if n not in running or n in stop]
        if start:
            cluster.start(start)
            actions.append("%s: %s %s" % (layout.name, "restarted" if stop else "started", ", ".join(start)))
        wait_ready(cluster, data, deadline)
        cluster.record_pids()
    return _result(layout, data, actions, bool(actions), diffs if module.diff_mode else None)


def absent(module, layout, data):
    if not data.get("monitoring") and not os.path.exists(mon.config_path(layout, "")):
        return _result(layout, data, [], False)
    if module.check_mode:
        return _result(layout, {}, ["%s: would stop %s and remove their files" % (layout.name, ", ".join(mon.PROGRAMS))],
                       True)
    with st.cluster_lock(layout):
        rt.remove_programs(layout, [list(mon.PROGRAMS)], "monitoring", mon.PORT_KEYS)
        for path in (mon.pki_path(layout, ""), mon.config_path(layout, ""), layout.sub("data", "prometheus"),
                     layout.sub("data", "alertmanager")):
            shutil.rmtree(path, ignore_errors=True)
    return _result(layout, {}, ["%s: stopped %s and removed their files" % (layout.name, ", ".join(mon.PROGRAMS))], True)


def run(module):
    params = check_params(module.params)
    root, layout, data = _open(params)
    if params["state"] == "absent":
        return absent(module, layout, data)
    return present(module, params, root, layout, data)
