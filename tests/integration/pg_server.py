# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away PostgreSQL server for integration tests (the Debian ``postgresql`` package's binaries).

``PgServer().start()`` runs ``initdb`` in a private temporary directory
(password authentication, SCRAM, for the role ``adhar``), then ``pg_ctl
start`` on a free TCP port of 127.0.0.1 with a private unix socket
directory; ``stop()`` stops that server (``pg_ctl stop -m fast``, then its
postmaster pid) and removes the directory.  PostgreSQL refuses to run as
root: as root the server programs run as the ``postgres`` user (``setpriv``),
otherwise as the user running the tests.  ``missing_reason()`` says why no
server can be started (binaries or the ``postgres`` user missing), for a
clear ``pytest.skip``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from ports import free_tcp_port

USER = "adhar"
PASSWORD = "adhar-test-password"
CLIENT_PROGRAMS = ("pg_dump", "pg_dumpall", "pg_restore", "psql")


def server_bin_dir():
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and pg_ctl (or ``PG_BIN_DIR``)."""
    candidates = [os.environ["PG_BIN_DIR"]] if os.environ.get("PG_BIN_DIR") else []
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    candidates += list(reversed(found))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(initdb))
    for path in candidates:
        if all(os.access(os.path.join(path, n), os.X_OK) for n in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def missing_reason():
    """Why no test server can run here, or ``None``."""
    if server_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the Debian package postgresql"
    missing = [n for n in CLIENT_PROGRAMS if shutil.which(n) is None]
    if missing:
        return "PostgreSQL client programs missing on PATH: %s (Debian package postgresql-client)" % ", ".join(missing)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as (PostgreSQL refuses root)"
        if shutil.which("setpriv") is None:
            return "running as root and setpriv is missing (needed to run the server as postgres)"
    return None


class PgServer:
    """One private PostgreSQL cluster; ``env`` holds libpq variables for clients."""

    def __init__(self):
        self.bin_dir = server_bin_dir()
        self.root = None
        self.port = None
        self.proc_user = None

    # -- running server programs as an unprivileged user

    def _as_server_user(self, argv):
        if os.geteuid() != 0:
            return argv
        entry = pwd.getpwnam("postgres")
        return ["setpriv", "--reuid=%d" % entry.pw_uid, "--regid=%d" % entry.pw_gid, "--init-groups", "--"] + argv

    def _run(self, argv, timeout=120):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
        proc = subprocess.run(self._as_server_user(argv), env=env, cwd=self.root, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%d): %s %s" % (argv[0], proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc.stdout

    @property
    def data_dir(self):
        return os.path.join(self.root, "data")

    @property
    def socket_dir(self):
        return os.path.join(self.root, "sock")

    def start(self):
        self.root = tempfile.mkdtemp(prefix="adhar-pg-")
        os.chmod(self.root, 0o700)
        os.mkdir(self.socket_dir, 0o700)
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as handle:
            handle.write(PASSWORD + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run([os.path.join(self.bin_dir, "initdb"), "-D", self.data_dir, "-U", USER, "--pwfile", pwfile,
                   "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"])
        os.unlink(pwfile)
        for attempt in range(5):
            self.port = free_tcp_port()
            opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" % (self.port, self.socket_dir)
            try:
                self._run([os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data_dir, "-o", opts, "-l",
                           os.path.join(self.root, "server.log"), "-w", "-t", "60", "start"])
                return self
            except RuntimeError:
                if attempt == 4:
                    raise
                time.sleep(0.5)
        return self

    @property
    def env(self):
        """libpq environment for clients (TCP with password)."""
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": USER, "PGPASSWORD": PASSWORD}

    @property
    def login(self):
        """The ``db`` module's connection options for this server."""
        return {"login_host": "127.0.0.1", "login_port": self.port, "login_user": USER, "login_password": PASSWORD}

    def psql(self, sql, dbname="postgres", check=True):
        """Run SQL with psql over TCP; returns stdout (unaligned, tuples only)."""
        env = dict(os.environ, **self.env)
        proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("psql failed: %s" % proc.stderr)
        return proc.stdout.strip()

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as handle:
                return int(handle.readline().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.root is None:
            return
        try:
            if os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
                pid = self._postmaster_pid()
                try:
                    self._run([os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w", "-t", "30",
                               "stop"], timeout=60)
                except (RuntimeError, subprocess.TimeoutExpired):
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
