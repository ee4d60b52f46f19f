# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The processes of a local cluster under supervisord (PyPI package ``supervisor``).

One supervisord per cluster runs every process of the cluster as a program with
``autorestart``: a process that dies is started again within a second, with no
task run.  supervisord itself is started detached by the module with the
module's own Python (``python -m supervisor.supervisord -n -c <config>``) and
tracked by a pidfile like any other process (pid + /proc start time).  The
module talks to it over XML-RPC on its unix socket (stdlib ``xmlrpc.client``;
reading states never needs the package).

Orphans: when supervisord is killed its children keep running.  Their pids are
recorded in ``run/<program>.pid`` after each start, and every program carries
an environment marker unique to its cluster (``ADHAR_LOCAL_CLUSTER``, a digest
of the cluster's directory), so the children of a dead supervisord are found
and stopped (through their pid, never by name) before a new supervisord starts
them again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shlex
import socket
import sys
import tempfile
import time
import xmlrpc.client

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_library
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import procs

DAEMON = "supervisord"
MARKER = "ADHAR_LOCAL_CLUSTER"
PROGRAM_MARKER = "ADHAR_LOCAL_PROCESS"
ALIVE = ("STARTING", "RUNNING")
# a unix socket path must fit in sockaddr_un.sun_path (108 bytes with its NUL)
_SOCKET_MAX = 100

# restart policy per process kind: (startsecs, stopwaitsecs).  startsecs is how long a process must stay up to count as
# started; one that exits sooner is retried after 1, 2, 3 ... s (supervisord's backoff) up to STARTRETRIES times.
_POLICY = {"etcd": (2, 15), "apiserver": (2, 15), "haproxy": (1, 5), "controller-manager": (2, 10),
           "scheduler": (2, 10), "kwok": (2, 5), "clustermesh": (2, 10), "prometheus": (2, 15), "alertmanager": (2, 10),
           "metrics": (2, 5), "kube-state-metrics": (2, 5)}
STARTRETRIES = 30


def require_package():
    """The directory the ``supervisor`` package is imported from, or one clear error naming the package."""
    from importlib.util import find_spec
    try:
        spec = find_spec("supervisor")
    except (ImportError, ValueError):
        spec = None
    missing = None if spec is not None and spec.origin else ImportError("No module named 'supervisor'", name="supervisor")
    check_library("supervisor", missing, purpose="by provider local: it runs and restarts the cluster's processes")
    return os.path.dirname(os.path.dirname(spec.origin))


_SINGLE = ("haproxy", "kwok", "prometheus", "alertmanager", "kube-state-metrics")


def _kind(name):
    return name if name in _SINGLE else name.rpartition("-")[0]


def _esc(value):
    """A value for supervisord's config file, whose values are %-expanded."""
    return str(value).replace("%", "%%")


def shell_command(argv, log):
    """``argv`` with its output appended straight to ``log``: ``/bin/sh -c 'exec argv >>log 2>&1'``.

    The program writes its log itself rather than through a pipe to supervisord, so a program outlives a killed
    supervisord (no SIGPIPE on its next log line) and keeps serving until the next start stops it by its pid; after
    ``exec`` the pid supervisord tracks and signals is the program's own.
    """
    inner = " ".join(shlex.quote(a) for a in argv) + " >>" + shlex.quote(log) + " 2>&1"
    return "/bin/sh -c " + shlex.quote("exec " + inner)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout):
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host):
        return _UnixConnection(self._path, self._timeout)


class Supervisor:
    """supervisord of one local cluster: its config, socket, pidfile, and the programs' states."""

    def __init__(self, layout):
        self.layout = layout
        self.marker = hashlib.sha256(os.path.abspath(layout.dir).encode("utf-8")).hexdigest()[:32]

    # ------------------------------------------------------------------ paths

    @property
    def config_path(self):
        return self.layout.config("supervisord.conf")

    @property
    def socket_path(self):
        path = os.path.join(self.layout.run_dir, "supervisor.sock")
        if len(path) <= _SOCKET_MAX:
            return path
        # a deep state_dir: a private, per-cluster socket in the temp dir instead
        return os.path.join(tempfile.gettempdir(), "adhar-%d-%s.sock" % (os.getuid(), self.marker[:16]))

    @property
    def log_path(self):
        return os.path.join(self.layout.log_dir, DAEMON + ".log")

    def record(self):
        return procs.read_pidfile(self.layout.pidfile(DAEMON))

    def daemon_running(self):
        return procs.is_running(self.record())

    # ------------------------------------------------------------------ XML-RPC

    def rpc(self, timeout=10.0):
        return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_UnixTransport(self.socket_path, timeout))

    def states(self, timeout=5.0):
        """``{program: {"state", "pid", "description", "exitstatus"}}`` from supervisord, or None when it does not answer."""
        if not self.daemon_running():
            return None
        try:
            infos = self.rpc(timeout).supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            return None
        return {i["name"]: {"state": i["statename"], "pid": i["pid"] or None, "description": i.get("description"),
                            "exitstatus": i.get("exitstatus")} for i in infos}

    # ------------------------------------------------------------------ config

    def render(self, programs, env):
        """supervisord.conf for ``programs`` ({name: argv}) in start order."""
        lay = self.layout
        lines = [
            "; written by adhar.platform.cluster for cluster %s; rewritten on every start" % lay.name,
            "[supervisord]",
            "nodaemon=true", "silent=true",
            "logfile=" + _esc(self.log_path), "logfile_maxbytes=10MB", "logfile_backups=2", "loglevel=info",
            "pidfile=" + _esc(os.path.join(lay.run_dir, "supervisord.self")),
            "childlogdir=" + _esc(lay.log_dir), "directory=" + _esc(lay.dir), "identifier=adhar-" + lay.name,
            "umask=077", "minfds=1024", "minprocs=200",
            "",
            "[unix_http_server]",
            "file=" + _esc(self.socket_path), "chmod=0700",
            "",
            "[supervisorctl]",
            "serverurl=unix://" + _esc(self.socket_path),
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
        ]
        extra_env = ",".join('%s="%s"' % (k, v) for k, v in sorted(env.items()))
        for priority, (name, argv) in enumerate(programs.items()):
            startsecs, stopwait = _POLICY[_kind(name)]
            log = os.path.join(lay.log_dir, name + ".log")
            lines += [
                "[program:%s]" % name,
                "command=" + _esc(shell_command(argv, log)),
                "directory=" + _esc(lay.dir),
                "priority=%d" % (100 + priority),
                "autostart=false", "autorestart=true",
                "startsecs=%d" % startsecs, "startretries=%d" % STARTRETRIES,
                "stopsignal=TERM", "stopwaitsecs=%d" % stopwait, "stopasgroup=true", "killasgroup=true",
                "redirect_stderr=true",
                "stdout_logfile=" + _esc(log), "stdout_logfile_maxbytes=0",
                'environment=%s="%s",%s="%s"%s' % (MARKER, self.marker, PROGRAM_MARKER, name,
                                                   ("," + extra_env) if extra_env else ""),
                "",
            ]
        return "\n".join(lines)

    def write_config(self, programs, env=None):
        """Write supervisord.conf; returns True when its content changed."""
        from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.runtime import write_private
        text = self.render(programs, env or {})
        try:
            with open(self.config_path) as f:
                if f.read() == text:
                    return False
        except OSError:
            pass
        write_private(self.config_path, text)
        return True

    # ------------------------------------------------------------------ daemon

    def start_daemon(self, programs, deadline, stop_order):
        """Start supervisord for ``programs`` ({name: argv}); children of a dead one are stopped first."""
        site = require_package()
        orphans = self.stop_orphans(stop_order)
        self.write_config(programs)
        sock = self.socket_path
        if os.path.exists(sock):
            os.unlink(sock)  # left by a killed supervisord; nothing listens on it (its pid is gone)
        # supervisord carries the cluster's marker too: one whose pidfile was lost is still found and stopped first
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"), "PYTHONPATH": site,
               MARKER: self.marker, PROGRAM_MARKER: DAEMON}
        cmd = [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", self.config_path]
        info = procs.spawn(DAEMON, cmd, run_dir=self.layout.run_dir, log_dir=self.layout.log_dir, cwd=self.layout.dir,
                           env=env)
        last = None
        while True:
            try:
                state = self.rpc(2.0).supervisor.getState()
                if state.get("statename") == "RUNNING":
                    return orphans
                last = state.get("statename")
            except (OSError, xmlrpc.client.Error, http.client.HTTPException) as e:
                last = str(e)
            if not procs.is_running(info):
                raise AdharError("supervisord of cluster %s exited while starting; last log lines:\n%s"
                                 % (self.layout.name, procs.log_tail(self.log_path)), process=DAEMON,
                                 log=self.log_path)
            if time.monotonic() > deadline:
                raise AdharError("timed out waiting for supervisord of cluster %s to answer on %s (last: %s)"
                                 % (self.layout.name, sock, last), process=DAEMON)
            time.sleep(0.1)

    def reload_if_changed(self, programs):
        """Apply a changed config to a running supervisord: programs that are not running take their new command."""
        if not self.write_config(programs):
            return
        server = self.rpc()
        added, changed, removed = server.supervisor.reloadConfig()[0]
        states = self.states() or {}
        for name in changed + removed:
            if (states.get(name) or {}).get("state") not in ALIVE + ("STOPPING",):
                server.supervisor.removeProcessGroup(name)
                if name in changed:
                    server.supervisor.addProcessGroup(name)
        for name in added:
            server.supervisor.addProcessGroup(name)

    def redefine(self, programs, names):
        """Write the config for ``programs`` and make supervisord use the current definition of ``names``, which must be
        stopped (a running program keeps the command it was started with until it is redefined this way)."""
        self.write_config(programs)
        server = self.rpc()
        added, changed, dummy = server.supervisor.reloadConfig()[0]
        for name in names:
            if name in changed:
                self._call(server.supervisor.removeProcessGroup, name)
            if name in changed or name in added:
                self._call(server.supervisor.addProcessGroup, name)

    def start(self, names):
        """Start the programs ``names`` that are not running (a program in BACKOFF or FATAL is started afresh)."""
        server = self.rpc()
        states = self.states() or {}
        for name in names:
            state = (states.get(name) or {}).get("state")
            if state in ALIVE:
                continue
            if state == "BACKOFF":
                self._call(server.supervisor.stopProcess, name, True)
            self._call(server.supervisor.startProcess, name, False)

    @staticmethod
    def _call(method, *args):
        try:
            return method(*args)
        except xmlrpc.client.Fault as e:
            # 60 already started, 70 not running: the state we wanted
            if e.faultCode in (60, 70):
                return None
            raise AdharError("supervisord refused %s: %s" % (" ".join(str(a) for a in args), e.faultString))

    def record_children(self, states=None):
        """Record pid + start time of every running program in run/<program>.pid (the orphan sweep's first source)."""
        states = self.states() if states is None else states
        for name, info in (states or {}).items():
            pid = info.get("pid")
            if not pid or info.get("state") not in ALIVE:
                continue
            old = procs.read_pidfile(self.layout.pidfile(name)) or {}
            if old.get("pid") == pid and procs.is_running(old):
                continue
            procs.write_record(self.layout.run_dir, name, pid, log=os.path.join(self.layout.log_dir, name + ".log"))

    def stop_programs(self, groups, timeout=30.0, after_group=None):
        """Stop the programs group by group (each group in parallel), calling ``after_group()`` after each; returns the
        names that were running."""
        server = self.rpc()
        before = self.states() or {}
        stopped = []
        for group in groups:
            live = [n for n in group if (before.get(n) or {}).get("state") in ALIVE + ("BACKOFF",)]
            for name in live:
                self._call(server.supervisor.stopProcess, name, False)
            deadline = time.monotonic() + timeout
            while live and time.monotonic() < deadline:
                now = self.states() or {}
                if all((now.get(n) or {}).get("state") not in ALIVE + ("STOPPING", "BACKOFF") for n in live):
                    break
                time.sleep(0.1)
            stopped += [n for n in live if (before[n] or {}).get("state") in ALIVE]
            if after_group:
                after_group()
        return stopped

    def shutdown(self, timeout=30.0):
        """Stop supervisord (it stops whatever program still runs), then make sure no child is left."""
        info = self.record()
        if procs.is_running(info):
            try:
                self.rpc(5.0).supervisor.shutdown()
            except (OSError, xmlrpc.client.Error, http.client.HTTPException):
                pass
            if procs.wait_gone([info], time.monotonic() + timeout):
                procs.stop_many([info], timeout=5.0)
        return self.sweep(force=True)

    def kill(self):
        """SIGKILL supervisord and every child of this cluster (the cluster is being deleted)."""
        procs.stop_many([dict(self.record() or {}, name=DAEMON)], force=True)
        return self.sweep(force=True)

    # ------------------------------------------------------------------ orphans

    def children(self):
        """Live processes of this cluster not under a running supervisord: recorded pids that are still the recorded
        processes, and processes carrying this cluster's marker.  ``[{name, pid, starttime}]``."""
        found = {}
        run_dir = self.layout.run_dir
        if os.path.isdir(run_dir):
            for f in sorted(os.listdir(run_dir)):
                if f.endswith(".pid") and f != DAEMON + ".pid":
                    info = procs.read_pidfile(os.path.join(run_dir, f))
                    if isinstance(info, dict) and procs.is_running(info):
                        found[int(info["pid"])] = dict(info, name=f[:-4])
        for pid, name in marked_processes(self.marker):
            if pid not in found:
                stat = procs.proc_stat(pid)
                if stat and stat[0] not in ("Z", "X"):
                    found[pid] = {"name": name, "pid": pid, "starttime": stat[1]}
        return list(found.values())

    def stop_orphans(self, stop_order):
        """Stop the children a dead supervisord left running, gracefully in ``stop_order`` (groups of names)."""
        if self.daemon_running():
            return []
        orphans = self.children()
        if not orphans:
            return []
        stopped = []
        placed = set()
        # a supervisord found by its marker goes first, so it cannot start again what is stopped after it
        for group in [[DAEMON]] + list(stop_order):
            infos = [o for o in orphans if o["name"] in group]
            placed.update(o["pid"] for o in infos)
            stopped += procs.stop_many(infos, timeout=15.0)
        stopped += procs.stop_many([o for o in orphans if o["pid"] not in placed], timeout=15.0)
        return stopped

    def sweep(self, force=False):
        """Stop every process of this cluster still alive once supervisord is gone (a supervisord found by its marker
        first); returns their names."""
        found = self.children()
        daemons = [c for c in found if c["name"] == DAEMON]
        procs.stop_many(daemons, timeout=10.0, force=force)
        return procs.stop_many([c for c in found if c["name"] != DAEMON], timeout=10.0, force=force)


def marked_processes(marker):
    """``[(pid, program)]`` of the live processes whose environment carries ``marker`` (this user's processes only:
    another user's environ is not readable)."""
    want = ("%s=%s" % (MARKER, marker)).encode()
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env:
            name = next((e.split(b"=", 1)[1].decode("utf-8", "replace") for e in env
                         if e.startswith(PROGRAM_MARKER.encode() + b"=")), "pid " + entry)
            out.append((int(entry), name))
    return out


def state_report(layout, timeout=3.0):
    """What cluster_info shows: supervisord's pid and whether it answers, and each program's state, pid and (when not
    running) the tail of its log.  Never raises for a dead supervisord."""
    sup = Supervisor(layout)
    record = sup.record()
    running = procs.is_running(record)
    states = sup.states(timeout=timeout) if running else None
    report = {"running": running and states is not None, "pid": int(record["pid"]) if running else None,
              "socket": sup.socket_path, "programs": {}}
    for name, info in sorted((states or {}).items()):
        entry = {"state": info["state"], "pid": info["pid"]}
        if info["state"] not in ("RUNNING",):
            entry["log_tail"] = procs.log_tail(os.path.join(layout.log_dir, name + ".log"), 5)
        report["programs"][name] = entry
    return report
