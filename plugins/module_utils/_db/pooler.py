# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PgBouncer connection pooler in front of a PostgreSQL server (the ``db`` module's ``operation: pooler``).

The adhar Advanced Topics guide's ``pooler: {enabled, maxConnections, poolMode}``
(in an adhar config, the ``pooler.*`` values of the postgresql core service)
becomes a ``pgbouncer.ini`` (``max_client_conn``, ``pool_mode``) and an auth file
holding the SCRAM secrets the server keeps for the pooled roles (read from
``pg_authid``; PgBouncer then authenticates clients and logs in to the server
with them, no password is stored in plaintext), or, with ``auth: auth_query``,
only the secret of the login role, which looks up the others on the server.
Both files are written atomically, mode 0600.

``run: process`` runs ``pgbouncer`` as a detached process tracked by a
pidfile in ``dir`` (its log next to it), started, reloaded (SIGHUP) or
restarted (a changed listen address) only when something changed.
``run: service`` only writes the files of an existing PgBouncer (for example
Debian's ``pgbouncer`` service with ``dir: /etc/pgbouncer``) and asks it to
``RELOAD`` through its admin console.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._common.args import at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_bounds
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import procs
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.runtime import write_private
from ansible_collections.adhar.platform.plugins.module_utils._db.dump import PgClient, _tail, quote_literal

POOL_MODES = ("session", "transaction", "statement")
RUN_MODES = ("process", "service")
AUTH_MODES = ("userlist", "auth_query")
DEFAULTS = {"enabled": True, "max_connections": 100, "pool_mode": "transaction", "default_pool_size": 20,
            "listen_address": "127.0.0.1", "listen_port": 6432, "run": "process", "auth": "userlist"}
# The guide's (and the postgresql chart's) pooler.* value names.
VALUE_KEYS = {"enabled": "enabled", "maxConnections": "max_connections", "poolMode": "pool_mode",
              "defaultPoolSize": "default_pool_size", "max_connections": "max_connections", "pool_mode": "pool_mode",
              "default_pool_size": "default_pool_size"}
POOLER_BOUNDS = {"pooler.max_connections": at_least(1, 1000000), "pooler.default_pool_size": at_least(1, 100000),
                 "pooler.listen_port": at_least(1, 65535)}
AUTH_QUERY = "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname = $1"
PROCESS = "pgbouncer"
_WORD_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_OPTION_RE = re.compile(r"^[a-z_]+$")
# [pgbouncer] settings that only change with a new process (not on RELOAD/SIGHUP)
RESTART_KEYS = ("listen_addr", "listen_port", "unix_socket_dir")

POOLER_ARG_SPEC = {
    "pooler": {
        "type": "dict",
        "options": {
            "enabled": {"type": "bool"},
            "max_connections": {"type": "int", "aliases": ["maxConnections"]},
            "pool_mode": {"type": "str", "choices": list(POOL_MODES), "aliases": ["poolMode"]},
            "default_pool_size": {"type": "int", "aliases": ["defaultPoolSize"]},
            "listen_address": {"type": "str"},
            "listen_port": {"type": "int"},
            "dir": {"type": "path"},
            "run": {"type": "str", "choices": list(RUN_MODES)},
            "run_as": {"type": "str"},
            "auth": {"type": "str", "choices": list(AUTH_MODES)},
            "users": {"type": "list", "elements": "str"},
            "admin_users": {"type": "list", "elements": "str"},
            "databases": {"type": "list", "elements": "str"},
            "options": {"type": "dict"},
            "values": {"type": "list", "elements": "dict"},
        },
    },
}


def _int_value(key, text):
    try:
        return int(str(text).strip())
    except ValueError:
        raise AdharError("pooler.values: %s = %r is not a whole number" % (key, text), option="pooler.values") from None


def pooler_options(params):
    """The pooler's settings: explicit options, else the ``pooler.*`` entries of ``values``, else the defaults."""
    given = dict(params.get("pooler") or {})
    from_values = {}
    for entry in given.pop("values", None) or []:
        key, value = entry.get("key"), entry.get("value")
        if not isinstance(key, str) or "value" not in entry:
            raise AdharError("pooler.values: every entry needs key and value (the adhar config's key/value pairs)",
                             option="pooler.values")
        if not key.startswith("pooler."):
            continue  # other values of the postgresql chart
        name = key[len("pooler."):]
        if name not in VALUE_KEYS:
            raise AdharError("pooler.values: %s is not a pooler setting (known: pooler.enabled, pooler.maxConnections, "
                             "pooler.poolMode, pooler.defaultPoolSize)" % key, option="pooler.values")
        target = VALUE_KEYS[name]
        if target == "enabled":
            text = str(value).strip().lower()
            if text not in ("true", "false"):
                raise AdharError("pooler.values: %s = %r is not true or false" % (key, value), option="pooler.values")
            from_values[target] = text == "true"
        elif target == "pool_mode":
            if str(value) not in POOL_MODES:
                raise AdharError("pooler.values: %s = %r is not one of %s" % (key, value, ", ".join(POOL_MODES)),
                                 option="pooler.values")
            from_values[target] = str(value)
        else:
            from_values[target] = _int_value(key, value)
    opts = dict(DEFAULTS)
    opts.update(from_values)
    opts.update({k: v for k, v in given.items() if v is not None})
    check_bounds({"pooler": opts}, POOLER_BOUNDS)  # again: values from pooler.values
    if not opts.get("dir"):
        raise AdharError("operation=pooler needs pooler.dir: the directory of pgbouncer.ini and its auth file "
                         "(and, with run=process, of its pidfile and log)", option="pooler.dir")
    if not opts["listen_address"] or any(c.isspace() for c in opts["listen_address"]):
        raise AdharError("pooler.listen_address: %r is not an address (one host name or IP address, or *)"
                         % opts["listen_address"], option="pooler.listen_address")
    for option in ("databases", "users", "admin_users"):
        for name in opts.get(option) or []:
            if not _WORD_RE.match(name):
                raise AdharError("pooler.%s: %r: only letters, digits, '_', '.' and '-' are supported" % (option, name),
                                 option="pooler.%s" % option)
    for key, value in (opts.get("options") or {}).items():
        if not _OPTION_RE.match(str(key)) or "\n" in str(value):
            raise AdharError("pooler.options: %r is not a PgBouncer setting name" % key, option="pooler.options")
        if key in ("auth_file", "auth_type", "pool_mode", "max_client_conn", "listen_addr", "listen_port",
                   "default_pool_size", "auth_user", "auth_query", "admin_users", "unix_socket_dir"):
            raise AdharError("pooler.options: %s is set by the module (use the pooler option of that name)" % key,
                             option="pooler.options")
    return opts


def run_as_user(opts):
    """``(uid, gid, name)`` to run/own the pooler as; PgBouncer refuses to run as root."""
    name = opts.get("run_as")
    if name:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise AdharError("pooler.run_as: there is no user %s on this host" % name, option="pooler.run_as") from None
        if entry.pw_uid == 0:
            raise AdharError("pooler.run_as: PgBouncer refuses to run as root; name an unprivileged user",
                             option="pooler.run_as")
        return entry.pw_uid, entry.pw_gid, name
    if os.geteuid() == 0 and opts["run"] == "process":
        raise AdharError("pooler.run_as is required when the module runs as root (PgBouncer refuses to run as root), "
                         "for example postgres", option="pooler.run_as")
    return None


def read_secrets(client, roles):
    """``{role: SCRAM secret}`` of ``roles`` from ``pg_authid`` (superuser); every missing or non-SCRAM role is an error."""
    try:
        rows = client.query_json("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(ARRAY[%s]::text[])"
                                 % ", ".join(quote_literal(r) for r in roles))
    except AdharError as exc:
        raise AdharError("reading the roles' password secrets (pg_authid) needs a superuser login: %s" % exc.msg,
                         option="login_user") from None
    found = {r["rolname"]: r["rolpassword"] for r in rows}
    problems = []
    for role in roles:
        secret = found.get(role)
        if role not in found:
            problems.append("role %s does not exist" % role)
        elif not secret or not secret.startswith("SCRAM-SHA-256$"):
            problems.append("role %s has no SCRAM-SHA-256 password (set password_encryption = scram-sha-256 and set "
                            "its password again)" % role)
    if problems:
        raise AdharError("pooler.users: %s; nothing was changed" % "; ".join(problems), option="pooler.users")
    return {r: found[r] for r in roles}


def render_userlist(secrets):
    return "".join('"%s" "%s"\n' % (role.replace('"', '""'), secret.replace('"', '""'))
                   for role, secret in sorted(secrets.items()))


def render_ini(opts, server_host, server_port, login_user):
    path = opts["dir"]
    target = "host=%s port=%s" % (server_host, server_port)
    lines = ["; written by adhar.platform.db (operation: pooler); changes here are overwritten", "", "[databases]"]
    if opts.get("databases"):
        lines += ["%s = %s dbname=%s" % (name, target, name) for name in opts["databases"]]
    else:
        lines.append("* = %s" % target)
    settings = [
        ("listen_addr", opts["listen_address"]),
        ("listen_port", opts["listen_port"]),
        ("unix_socket_dir", path),
        ("auth_type", "scram-sha-256"),
        ("auth_file", os.path.join(path, "userlist.txt")),
        ("pool_mode", opts["pool_mode"]),
        ("max_client_conn", opts["max_connections"]),
        ("default_pool_size", opts["default_pool_size"]),
        ("admin_users", ", ".join(opts.get("admin_users") or [login_user])),
        ("ignore_startup_parameters", "extra_float_digits"),
    ]
    if opts["auth"] == "auth_query":
        settings += [("auth_user", login_user), ("auth_query", AUTH_QUERY)]
    settings += sorted((str(k), v) for k, v in (opts.get("options") or {}).items())
    lines += ["", "[pgbouncer]"] + ["%s = %s" % (k, v) for k, v in settings]
    return "\n".join(lines) + "\n"


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _ini_values(text):
    out = {}
    for line in (text or "").splitlines():
        if "=" in line and not line.lstrip().startswith((";", "#", "[")):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _userlist_names(text):
    return sorted(line.split('"')[1] for line in (text or "").splitlines() if line.startswith('"'))


def _wait_listening(opts, record, log, deadline=20.0):
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if not procs.is_running(record):
            raise AdharError("pgbouncer exited at start: %s" % _tail(procs.log_tail(log, 30)))
        try:
            with socket.create_connection((opts["listen_address"], opts["listen_port"]), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    procs.stop(record)
    raise AdharError("pgbouncer did not listen on %s:%s within %ds: %s"
                     % (opts["listen_address"], opts["listen_port"], deadline, _tail(procs.log_tail(log, 30))))


def admin_command(client, opts, sql):
    """Run ``sql`` on the pooler's admin console (database ``pgbouncer``) as the login role; rows as lists."""
    env = dict(client.env, PGHOST=opts["listen_address"], PGPORT=str(opts["listen_port"]), PGSSLMODE="disable")
    argv = client.command("psql", "--no-psqlrc", "--no-password", "--tuples-only", "--no-align", "--field-separator=|",
                          "--command", sql, "dbname=pgbouncer")
    proc = run_once(argv, what="psql on the pooler's admin console", env=env, timeout=60)
    if proc.returncode != 0:
        raise AdharError("the pooler's admin console on %s:%s refused %s: %s" % (
            opts["listen_address"], opts["listen_port"], sql, _tail(proc.stderr.decode("utf-8", "replace"))))
    return [line.split("|") for line in proc.stdout.decode("utf-8", "replace").splitlines() if line]


def _disable(opts, paths, record, check_mode):
    if opts["run"] == "service":
        raise AdharError("pooler.enabled=false only stops a pooler run as a process (run=process); stop the service "
                         "with its service manager", option="pooler.enabled")
    running = procs.is_running(record)
    present = [p for p in (paths["ini"], paths["userlist"], paths["pid"]) if os.path.exists(p)]
    if not check_mode:
        if running:
            procs.stop(record)
        for path in present:
            os.unlink(path)
    return {"changed": running or bool(present), "db": {"operation": "pooler", "pooler": {
        "action": "stopped" if running else "none", "enabled": False, "dir": opts["dir"], "removed": present}}}


def run_pooler(params, check_mode=False, diff_mode=False):
    opts = pooler_options(params)
    paths = {"ini": os.path.join(opts["dir"], "pgbouncer.ini"), "userlist": os.path.join(opts["dir"], "userlist.txt"),
             "pid": os.path.join(opts["dir"], PROCESS + ".pid"), "log": os.path.join(opts["dir"], PROCESS + ".log")}
    record = procs.read_pidfile(paths["pid"])
    if not opts["enabled"]:
        return _disable(opts, paths, record, check_mode)
    owner = run_as_user(opts)
    if owner is None and opts["run"] == "service" and os.path.exists(paths["ini"]):
        st = os.stat(paths["ini"])  # an existing service's files keep their owner
        owner = (st.st_uid, st.st_gid, None)
    binary = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None)
    if binary is None:
        raise AdharError("pgbouncer was not found: install PgBouncer (Debian/Ubuntu: the pgbouncer package)",
                         option="pooler")
    client = PgClient(params)
    login_user = client.env.get("PGUSER") or pwd.getpwuid(os.geteuid()).pw_name
    host = client.env.get("PGHOST") or "/var/run/postgresql"
    port = client.env.get("PGPORT") or "5432"
    roles = [login_user] if opts["auth"] == "auth_query" else sorted(set(opts.get("users") or [login_user]) |
                                                                     set(opts.get("admin_users") or [login_user]))
    secrets = read_secrets(client, roles)
    ini = render_ini(opts, host, port, login_user)
    userlist = render_userlist(secrets)
    old_ini, old_userlist = _read(paths["ini"]), _read(paths["userlist"])
    files_changed = old_ini != ini or old_userlist != userlist
    running = procs.is_running(record) if opts["run"] == "process" else None
    restart_keys = [k for k in RESTART_KEYS if old_ini is not None and _ini_values(old_ini).get(k) != _ini_values(ini).get(k)]
    if opts["run"] == "service":
        action = "reloaded" if files_changed else "none"
    elif not running:
        action = "started"
    elif restart_keys:
        action = "restarted"
    elif files_changed:
        action = "reloaded"
    else:
        action = "none"
    result = {"action": action, "enabled": True, "run": opts["run"], "dir": opts["dir"], "config_file": paths["ini"],
              "auth_file": paths["userlist"], "listen": "%s:%s" % (opts["listen_address"], opts["listen_port"]),
              "server": "%s:%s" % (host, port), "pool_mode": opts["pool_mode"], "max_client_conn": opts["max_connections"],
              "default_pool_size": opts["default_pool_size"], "auth": opts["auth"], "users": sorted(secrets)}
    warnings = []
    if opts["run"] == "service" and restart_keys:
        warnings.append("%s changed: PgBouncer only takes that on a restart; restart the service" % ", ".join(restart_keys))
    if not check_mode and action != "none":
        if not os.path.isdir(opts["dir"]):
            os.makedirs(opts["dir"], 0o700)
            if owner:
                os.chown(opts["dir"], owner[0], owner[1])
        file_owner = (owner[0], owner[1]) if owner else None
        write_private(paths["userlist"], userlist, file_owner)
        write_private(paths["ini"], ini, file_owner)
        if action == "restarted":
            procs.stop(record)
        if action in ("started", "restarted"):
            record = procs.spawn(PROCESS, [binary, paths["ini"]], run_dir=opts["dir"], log_dir=opts["dir"],
                                 cwd=opts["dir"], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
                                 user=(owner[0], owner[1]) if owner else None)
            _wait_listening(opts, record, paths["log"])
        else:  # RELOAD on the admin console returns once the new files are read; SIGHUP does the same, later
            try:
                admin_command(client, opts, "RELOAD")
            except AdharError as exc:
                if opts["run"] == "process":
                    os.kill(int(record["pid"]), signal.SIGHUP)
                else:
                    warnings.append("the files were written but the running PgBouncer was not reloaded (%s); reload "
                                    "or start the service with its service manager" % exc.msg)
                    result["action"] = "written"
    if opts["run"] == "process" and record:
        result.update(pid=record.get("pid"), log=paths["log"])
    out = {"changed": action != "none", "db": {"operation": "pooler", "pooler": result}}
    if check_mode:
        out["db"]["check_mode"] = True
    if warnings:
        out["warnings"] = warnings
    if diff_mode and files_changed:
        out["diff"] = [{"before": old_ini or "", "after": ini, "before_header": paths["ini"], "after_header": paths["ini"]},
                       {"before": "".join("%s\n" % n for n in _userlist_names(old_userlist)),
                        "after": "".join("%s\n" % n for n in _userlist_names(userlist)),
                        "before_header": paths["userlist"] + " (roles; secrets not shown)",
                        "after_header": paths["userlist"] + " (roles; secrets not shown)"}]
    return out
