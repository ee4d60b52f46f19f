# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL export and import through the backup archive (the ``db`` module's engine).

Export: every selected database is dumped with ``pg_dump --format=custom``
and the child's stdout is streamed straight into ``ArchiveWriter.add`` as an
encrypted item ``db/<database>.dump.enc`` (never held in memory, never a
plaintext temporary file); several databases run in parallel (bounded by
``jobs``).  A failed ``pg_dump`` (exit status, or output that is not a
custom-format archive) aborts the archive, which then has no manifest and is
never listed as complete.  Roles and tablespaces (``pg_dumpall
--globals-only``) are stored as ``db/globals.sql.enc``.

Import: the archive's manifest and the selected dumps are verified first
(size, SHA-256 and decryption of every byte), then each dump is streamed into
``pg_restore --single-transaction`` connected to a fresh scratch database,
which is renamed to the target only when the restore succeeded; a failure
drops the scratch database, so no half-imported database is ever left.

The PostgreSQL client programs of the system are used (``PATH`` or
``pg_bin_dir``); queries go through ``psql`` (no Python driver is needed).
libpq's environment variables (``PGHOST``, ``PGPORT``, ``PGUSER``,
``PGPASSWORD``, ``PGSSLMODE``, ...) apply to every option left unset.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._archive.api import (
    ENC_SUFFIX,
    ArchiveReader,
    ArchiveWriter,
    check_backup_name,
    db_path,
    enforce_retention,
    list_backups,
    parse_duration,
)
from ansible_collections.adhar.platform.plugins.module_utils._common.args import RETENTION_ARG_SPEC, at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_bounds, file_problem
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import key_wrapper_from_params
from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import ScratchDir
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import storage_from_params

GLOBALS_ITEM = "db/globals.sql"
DUMP_MAGIC = b"PGDMP"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
EXISTING_CHOICES = ("fail", "replace", "skip")
DEFAULT_JOBS = 2
MAX_JOBS = 16
_STDERR_LIMIT = 4000
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+([0-9]+)(?:\.([0-9]+))?")
_CLUSTER_BAD = re.compile(r"[^A-Za-z0-9._-]+")
# Identifier rule for database names: PostgreSQL allows any text up to 63 bytes (no NUL).
MAX_IDENTIFIER = 63

DB_ARG_SPEC = {
    "operation": {"type": "str", "required": True, "choices": ["export", "import", "configure", "slow_queries", "pooler"]},
    "databases": {"type": "list", "elements": "str"},
    "exclude_databases": {"type": "list", "elements": "str", "default": []},
    "target_databases": {"type": "dict", "default": {}},
    "backup": {"type": "str"},
    "name": {"type": "str"},
    "cluster": {"type": "str"},
    "globals": {"type": "bool"},
    "jobs": {"type": "int", "default": DEFAULT_JOBS},
    "create": {"type": "bool", "default": True},
    "existing": {"type": "str", "default": "fail", "choices": list(EXISTING_CHOICES)},
    "no_owner": {"type": "bool", "default": False},
    "no_privileges": {"type": "bool", "default": False},
    "retention": RETENTION_ARG_SPEC["retention"],
    "login_host": {"type": "str"},
    "login_port": {"type": "int", "aliases": ["port"]},
    "login_user": {"type": "str", "aliases": ["login"]},
    "login_password": {"type": "str", "no_log": True},
    "login_unix_socket": {"type": "str", "aliases": ["unix_socket"]},
    "maintenance_db": {"type": "str", "default": "postgres"},
    "ssl_mode": {"type": "str", "choices": list(SSL_MODES)},
    "ca_cert": {"type": "path", "aliases": ["ssl_rootcert"]},
    "passfile": {"type": "path", "no_log": False},
    "connect_timeout": {"type": "int", "default": 10},
    "pg_bin_dir": {"type": "path"},
}
# The allowed range of each numeric option (AdharModule checks them before anything runs; validate_params again).
DB_BOUNDS = {
    "jobs": at_least(1, MAX_JOBS),
    "login_port": at_least(1, 65535),
    "connect_timeout": at_least(0),
    "retention.keep_last": at_least(1),
}


# -- small helpers -------------------------------------------------------------

def quote_ident(name):
    """A PostgreSQL identifier quoted for SQL text."""
    return '"%s"' % name.replace('"', '""')


def quote_literal(text):
    return "'%s'" % text.replace("'", "''")


def conninfo(dbname):
    """A libpq connection string naming only ``dbname`` (everything else comes from the environment)."""
    return "dbname='%s'" % dbname.replace("\\", "\\\\").replace("'", "\\'")


def check_db_name(name, option):
    if not isinstance(name, str) or not name or "\x00" in name or len(name.encode("utf-8")) > MAX_IDENTIFIER:
        raise AdharError("%s: %r is not a PostgreSQL database name (1 to %d bytes, no NUL)" % (option, name, MAX_IDENTIFIER),
                         option=option)
    return name


def _tail(text, limit=_STDERR_LIMIT):
    text = (text or "").strip()
    return text if len(text) <= limit else "...%s" % text[-limit:]


def parse_client_version(text):
    """``(major, minor)`` from ``pg_dump --version`` output, or ``None``."""
    match = _VERSION_RE.search(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def default_cluster(params, environ=None):
    """The archive's source name when ``cluster`` is not given: the login host (or ``PGHOST``), else ``localhost``."""
    env = os.environ if environ is None else environ
    host = params.get("login_host") or env.get("PGHOST") or ""
    host = host.split(",")[0].strip()
    if not host or host.startswith("/") or params.get("login_unix_socket") and not params.get("login_host"):
        host = "localhost"
    name = _CLUSTER_BAD.sub("-", host).strip("-.")
    return name or "localhost"


def default_archive_name(cluster, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return "%s-db-%s" % (cluster, now.strftime("%Y%m%d%H%M%S"))


def check_paths(params):
    """``ca_cert`` and ``passfile`` must be readable files, ``pg_bin_dir`` and ``login_unix_socket`` directories
    (before any program runs)."""
    for option in ("ca_cert", "passfile"):
        path = params.get(option)
        problem = file_problem(path) if path else None
        if problem:
            raise AdharError("%s: %s %s" % (option, path, problem), option=option)
    for option in ("pg_bin_dir", "login_unix_socket"):
        directory = params.get(option)
        if directory and not os.path.isdir(directory):
            problem = "is not a directory" if os.path.lexists(directory) else "does not exist"
            raise AdharError("%s: %s %s" % (option, directory, problem), option=option)


def validate_params(params):
    """Check the options together (before anything runs); returns normalised values."""
    op = params["operation"]
    check_bounds(params, DB_BOUNDS)
    check_paths(params)
    jobs = DEFAULT_JOBS if params.get("jobs") is None else params["jobs"]
    for opt in ("databases", "exclude_databases"):
        for name in params.get(opt) or []:
            check_db_name(name, opt)
    if params.get("databases") is not None and not params["databases"]:
        raise AdharError("databases is empty: leave it out to select every database", option="databases")
    cluster = params.get("cluster") or default_cluster(params)
    if op == "export":
        wrong = [o for o in ("backup",) if params.get(o)]
        wrong += [o for o in ("target_databases",) if params.get(o)]
        if wrong:
            raise AdharError("%s only applies to operation=import" % ", ".join(wrong), option=wrong[0])
        name = check_backup_name(params.get("name") or default_archive_name(cluster))
        retention = params.get("retention") or {}
        if retention.get("max_age") is not None:
            parse_duration(retention["max_age"], "retention.max_age")
        return {"cluster": cluster, "name": name, "jobs": jobs}
    wrong = [o for o in ("name", "retention") if params.get(o)]
    if params.get("exclude_databases"):
        wrong.append("exclude_databases")
    if wrong:
        raise AdharError("%s only applies to operation=export (import takes backup, databases and target_databases)"
                         % ", ".join(wrong), option=wrong[0])
    if not params.get("backup"):
        raise AdharError("operation=import needs backup: an archive name, or latest (the newest one of cluster)",
                         option="backup")
    if params["backup"] != "latest":
        check_backup_name(params["backup"])
    targets = params.get("target_databases") or {}
    for source, target in targets.items():
        check_db_name(source, "target_databases")
        check_db_name(target, "target_databases.%s" % source)
    seen = {}
    for source, target in targets.items():
        if target in seen:
            raise AdharError("target_databases maps both %s and %s to %s" % (seen[target], source, target),
                             option="target_databases")
        seen[target] = source
    return {"cluster": cluster, "jobs": jobs}


# -- the PostgreSQL client -----------------------------------------------------

class PgClient:
    """Runs the PostgreSQL client programs with the module's connection options."""

    def __init__(self, params, environ=None):
        self.params = params
        self.bin_dir = params.get("pg_bin_dir")
        self.maintenance_db = params.get("maintenance_db") or "postgres"
        base = dict(os.environ if environ is None else environ)
        mapping = (("login_host", "PGHOST"), ("login_port", "PGPORT"), ("login_user", "PGUSER"),
                   ("login_password", "PGPASSWORD"), ("ssl_mode", "PGSSLMODE"), ("ca_cert", "PGSSLROOTCERT"),
                   ("passfile", "PGPASSFILE"), ("connect_timeout", "PGCONNECT_TIMEOUT"))
        for option, var in mapping:
            if params.get(option) is not None:
                base[var] = str(params[option])
        if params.get("login_unix_socket") and not params.get("login_host"):
            base["PGHOST"] = params["login_unix_socket"]
        base.pop("PGDATABASE", None)  # every command names its database
        base.setdefault("PGAPPNAME", "adhar.platform.db")
        self.env = base

    def program(self, name):
        if self.bin_dir:
            path = os.path.join(self.bin_dir, name)
            if not os.access(path, os.X_OK):
                raise AdharError("%s was not found in pg_bin_dir %s" % (name, self.bin_dir), option="pg_bin_dir")
            return path
        path = shutil.which(name, path=self.env.get("PATH"))
        if path is None:
            raise AdharError("%s was not found on PATH: install the PostgreSQL client (Debian/Ubuntu: postgresql-client, "
                             "RHEL: postgresql) or set pg_bin_dir" % name, option="pg_bin_dir")
        return path

    def describe(self):
        host = self.env.get("PGHOST") or "(default socket)"
        return "%s port %s as %s" % (host, self.env.get("PGPORT") or 5432, self.env.get("PGUSER") or "(default user)")

    def command(self, name, *args):
        return [self.program(name)] + [str(a) for a in args]

    def run(self, argv, input_bytes=None, what=None):
        what = what or os.path.basename(argv[0])
        proc = run_once(argv, what=what, env=self.env, input=input_bytes)
        if proc.returncode != 0:
            err = _tail(proc.stderr.decode("utf-8", "replace"))
            raise AdharError("%s failed (exit %d) on %s: %s" % (what, proc.returncode, self.describe(), err),
                             command=[os.path.basename(argv[0])] + argv[1:-1], stderr=err)
        return proc.stdout

    def psql_args(self, dbname, sql):
        return self.command("psql", "--no-psqlrc", "--no-password", "--quiet", "--tuples-only", "--no-align",
                            "--set", "ON_ERROR_STOP=1", "--command", sql, conninfo(dbname))

    def query_json(self, sql, dbname=None):
        """Rows of ``sql`` as a list of dicts (``json_agg`` on the server; no driver needed)."""
        wrapped = "SELECT coalesce(json_agg(q), '[]'::json) FROM (%s) q" % sql
        out = self.run(self.psql_args(dbname or self.maintenance_db, wrapped), what="psql")
        try:
            return json.loads(out.decode("utf-8").strip() or "[]")
        except ValueError as exc:
            raise AdharError("psql returned unexpected output for a query: %s" % exc) from None

    def execute(self, sql, dbname=None):
        self.run(self.psql_args(dbname or self.maintenance_db, sql), what="psql")

    def client_version(self, program="pg_dump"):
        out = self.run(self.command(program, "--version"), what=program).decode("utf-8", "replace")
        version = parse_client_version(out)
        if version is None:
            raise AdharError("cannot tell the version of %s from %r" % (program, out.strip()))
        return version, out.strip()

    def server_info(self):
        rows = self.query_json("SELECT current_setting('server_version_num')::int AS num, "
                               "current_setting('server_version') AS version, current_user AS user_name, "
                               "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser")
        info = rows[0]
        info["major"] = info["num"] // 10000
        return info

    def check_versions(self, program="pg_dump"):
        """Server and client versions; the client's major version must be at least the server's."""
        server = self.server_info()
        (major, minor), text = self.client_version(program)
        if major < server["major"]:
            raise AdharError("%s is version %d.%d but the server is PostgreSQL %s: %s cannot read a newer server; install "
                             "PostgreSQL %d client programs or point pg_bin_dir at them"
                             % (program, major, minor, server["version"], program, server["major"]),
                             client_version="%d.%d" % (major, minor), server_version=server["version"])
        server["client"] = "%d.%d" % (major, minor)
        server["client_text"] = text
        return server

    def list_databases(self):
        """Non-template databases that accept connections and that the login role may connect to, with sizes."""
        return self.query_json(
            "SELECT d.datname AS name, pg_database_size(d.oid) AS size, pg_encoding_to_char(d.encoding) AS encoding, "
            "d.datcollate AS collate, d.datctype AS ctype, pg_get_userbyid(d.datdba) AS owner "
            "FROM pg_database d WHERE NOT d.datistemplate AND d.datallowconn "
            "AND has_database_privilege(d.datname, 'CONNECT') ORDER BY d.datname")

    def database_exists(self, name):
        return bool(self.query_json("SELECT 1 AS x FROM pg_database WHERE datname = %s" % quote_literal(name)))

    def role_exists(self, name):
        return bool(self.query_json("SELECT 1 AS x FROM pg_roles WHERE rolname = %s" % quote_literal(name)))

    def table_count(self, dbname):
        rows = self.query_json("SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                               "AND n.nspname NOT LIKE 'pg_toast%%'", dbname=dbname)
        return rows[0]["n"]

    def dump_command(self, dbname):
        return self.command("pg_dump", "--format=custom", "--no-password", conninfo(dbname))

    def globals_command(self, superuser=True):
        args = ["--globals-only", "--no-password", "--dbname=%s" % conninfo(self.maintenance_db)]
        if not superuser:
            args.insert(1, "--no-role-passwords")
        return self.command("pg_dumpall", *args)

    def restore_command(self, dbname, jobs=1, path=None, no_owner=False, no_privileges=False):
        args = ["--no-password", "--exit-on-error", "--dbname=%s" % conninfo(dbname)]
        if jobs > 1:
            args.append("--jobs=%d" % jobs)
        else:
            args.append("--single-transaction")
        if no_owner:
            args.append("--no-owner")
        if no_privileges:
            args.append("--no-privileges")
        if path:
            args.append(path)
        return self.command("pg_restore", *args)


# -- selection -----------------------------------------------------------------

def select_databases(available, requested=None, exclude=(), what="the server"):
    """Names from ``available`` (ordered): all of them or ``requested`` (each must exist), minus ``exclude``."""
    names = list(available)
    if requested:
        missing = [n for n in requested if n not in names]
        if missing:
            raise AdharError("database(s) %s not found in %s (found: %s)" % (", ".join(missing), what,
                                                                             ", ".join(names) or "none"),
                             option="databases", missing=missing)
        chosen = []
        for name in requested:
            if name not in chosen:
                chosen.append(name)
    else:
        chosen = names
    chosen = [n for n in chosen if n not in set(exclude or ())]
    if not chosen:
        raise AdharError("no database selected in %s (found: %s)" % (what, ", ".join(names) or "none"), option="databases")
    return chosen


# -- export --------------------------------------------------------------------

class _DumpStream:
    """The stdout of ``pg_dump`` as a stream that counts bytes and checks the custom-format magic."""

    def __init__(self, raw, dbname):
        self.raw = raw
        self.dbname = dbname
        self.bytes = 0

    def read(self, size=-1):
        chunk = self.raw.read(size)
        want = DUMP_MAGIC[self.bytes:]
        if chunk and want and not want.startswith(chunk[:len(want)]):
            raise AdharError("pg_dump of %s did not write a custom-format archive" % self.dbname, database=self.dbname)
        self.bytes += len(chunk)
        return chunk


class _Children:
    """Child processes of one run, so a failure can stop the others."""

    def __init__(self):
        self._lock = threading.Lock()
        self._procs = set()
        self.stopping = False

    def start(self, argv, env, **kw):
        with self._lock:
            if self.stopping:
                raise AdharError("stopped: another database failed")
            proc = subprocess.Popen(argv, env=env, **kw)
            self._procs.add(proc)
            return proc

    def done(self, proc):
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self):
        with self._lock:
            self.stopping = True
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def _stream_child(client, children, argv, what, consume):
    """Run ``argv`` with stdout piped to ``consume(stream)``; checks exit status and stderr."""
    with tempfile.TemporaryFile() as errfile:
        proc = children.start(argv, client.env, stdout=subprocess.PIPE, stderr=errfile, stdin=subprocess.DEVNULL)
        try:
            result = consume(proc.stdout)
            proc.stdout.close()
            rc = proc.wait()
        except BaseException:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise
        finally:
            children.done(proc)
        if rc != 0:
            errfile.seek(0)
            err = _tail(errfile.read().decode("utf-8", "replace"))
            raise AdharError("%s failed (exit %d) on %s: %s" % (what, rc, client.describe(), err), stderr=err)
        return result


def _dump_database(client, writer, children, db):
    started = time.monotonic()
    box = {}

    def consume(stdout):
        stream = _DumpStream(stdout, db["name"])
        box["record"] = writer.add(db_path(db["name"]), stream, encrypt=True)
        box["bytes"] = stream.bytes
        return box

    _stream_child(client, children, client.dump_command(db["name"]), "pg_dump of database %s" % db["name"], consume)
    if box["bytes"] == 0:
        raise AdharError("pg_dump of database %s wrote nothing" % db["name"], database=db["name"])
    tables = client.table_count(db["name"])
    return {"name": db["name"], "item": box["record"]["path"], "bytes": box["bytes"], "stored_bytes": box["record"]["size"],
            "size_on_server": db["size"], "tables": tables, "encoding": db.get("encoding"), "collate": db.get("collate"),
            "ctype": db.get("ctype"), "owner": db.get("owner"), "seconds": round(time.monotonic() - started, 3)}


def _dump_globals(client, writer, children, superuser):
    def consume(stdout):
        return writer.add(GLOBALS_ITEM, stdout, encrypt=True)

    record = _stream_child(client, children, client.globals_command(superuser), "pg_dumpall --globals-only", consume)
    return {"item": record["path"], "stored_bytes": record["size"], "role_passwords": bool(superuser)}


def _key_wrapper(params, operation):
    wrapper = key_wrapper_from_params(params.get("encryption"), params.get("storage"))
    if wrapper is None:
        if operation == "export":
            raise AdharError("refusing to export without an encryption key: database dumps would be stored in plaintext; "
                             "give encryption.key, key_file, key_env or kms_key_id", option="encryption")
        raise AdharError("database archives are always encrypted: give the encryption key they were made with",
                         option="encryption")
    return wrapper


def run_export(params, check_mode=False):
    """Export the selected databases into a new archive; returns the module result."""
    opts = validate_params(params)
    wrapper = _key_wrapper(params, "export")
    storage = storage_from_params(params["storage"])
    storage.check(write=True, create=False)  # writable or creatable; created by the first write (the lock)
    client = PgClient(params)
    server = client.check_versions("pg_dump")
    available = client.list_databases()
    by_name = {d["name"]: d for d in available}
    names = select_databases([d["name"] for d in available], params.get("databases"), params.get("exclude_databases"),
                             "the server (%s)" % client.describe())
    want_globals = params.get("globals")
    if want_globals is None:
        want_globals = not params.get("databases")
    selected = [by_name[n] for n in names]
    plan = {"name": opts["name"], "cluster": opts["cluster"], "server_version": server["version"],
            "databases": [{"name": d["name"], "size_on_server": d["size"]} for d in selected], "globals": want_globals}
    if check_mode:
        return {"changed": True, "db": dict(plan, operation="export", complete=False, check_mode=True)}
    started = time.monotonic()
    warnings = []
    if want_globals and not server["superuser"]:
        warnings.append("role %s is not a superuser: roles are exported without their passwords (--no-role-passwords)"
                        % server["user_name"])
    children = _Children()
    with storage.lock(opts["cluster"], purpose="db export", backup=opts["name"]) as lock:
        writer = ArchiveWriter(storage, opts["name"], cluster=opts["cluster"], key_wrapper=wrapper,
                               workers=opts["jobs"], lock=lock)
        try:
            writer.start()
            results = []
            with concurrent.futures.ThreadPoolExecutor(max_workers=opts["jobs"], thread_name_prefix="adhar-pg-dump") as pool:
                futures = [pool.submit(_dump_database, client, writer, children, d) for d in selected]
                if want_globals:
                    futures.append(pool.submit(_dump_globals, client, writer, children, server["superuser"]))
                errors = []
                for future in concurrent.futures.as_completed(futures):
                    try:
                        results.append(future.result())
                    except BaseException as exc:  # stop the other dumps at once
                        errors.append(exc)
                        children.stop_all()
            if errors:
                real = [e for e in errors if not (isinstance(e, AdharError) and e.msg.startswith("stopped:"))] or errors
                raise real[0]
            dbs = sorted((r for r in results if "name" in r), key=lambda r: names.index(r["name"]))
            glob = next((r for r in results if "name" not in r), None)
            writer.metadata["db"] = {
                "engine": "postgresql", "server_version": server["version"], "server_version_num": server["num"],
                "pg_dump_version": server["client_text"], "format": "custom", "source": client.describe(),
                "databases": {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in dbs},
                "globals": glob,
            }
            manifest = writer.commit()
        except BaseException:
            writer.abort()
            raise
    retention = None
    if params.get("retention") and any(v is not None for v in params["retention"].values()):
        ret = params["retention"]
        outcome = enforce_retention(storage, keep_last=ret.get("keep_last"), max_age=ret.get("max_age"),
                                    cluster=opts["cluster"], protect=[opts["name"]])
        retention = {"deleted": outcome["deleted"], "kept": [k["name"] for k in outcome["keep"]],
                     "failed": outcome.get("failed", [])}
    seconds = round(time.monotonic() - started, 3)
    total = sum(r["bytes"] for r in dbs)
    result = {"changed": True, "db": {
        "operation": "export", "name": opts["name"], "cluster": opts["cluster"], "complete": True, "encrypted": True,
        "server_version": server["version"], "pg_dump_version": server["client"],
        "databases": [{"name": r["name"], "bytes": r["bytes"], "stored_bytes": r["stored_bytes"],
                       "size_on_server": r["size_on_server"], "tables": r["tables"], "seconds": r["seconds"]} for r in dbs],
        "globals": glob is not None, "bytes": total, "size": manifest["total_bytes"], "seconds": seconds,
        "bytes_per_second": int(total / seconds) if seconds else None, "storage": storage.location}}
    if retention is not None:
        result["retention"] = retention
    if warnings or writer.warnings:
        result["warnings"] = warnings + writer.warnings
    return result


# -- import --------------------------------------------------------------------

def resolve_archive(storage, backup, cluster, key_wrapper):
    """An ``ArchiveReader`` of ``backup`` (or of the newest complete database archive of ``cluster``)."""
    if backup != "latest":
        return ArchiveReader(storage, backup, key_wrapper)
    for entry in reversed(list_backups(storage, cluster=cluster)):
        if not entry["complete"]:
            continue
        reader = ArchiveReader(storage, entry["name"], key_wrapper)
        if (reader.stored_manifest.get("metadata") or {}).get("db"):  # picks only: the one picked is authenticated
            return reader
    raise AdharError("no complete database archive of cluster %s in %s" % (cluster, storage.location), option="backup")


def archive_databases(reader):
    """``{database: manifest item path}`` of an archive (from its metadata, else from the item paths)."""
    meta = (reader.manifest.get("metadata") or {}).get("db") or {}
    out = {}
    for name, info in (meta.get("databases") or {}).items():
        if isinstance(info, dict) and info.get("item"):
            out[name] = info["item"]
    if not out:
        for item in reader.items("db"):
            path = item["path"]
            logical = path[:-len(ENC_SUFFIX)] if path.endswith(ENC_SUFFIX) else path
            if logical.endswith(".dump"):
                out[logical[len("db/"):-len(".dump")]] = path
    return out


def check_archive_version(meta, restore_version, backup):
    """Refuse an archive written by a newer ``pg_dump`` major version than the local ``pg_restore``."""
    made = parse_client_version(meta.get("pg_dump_version") or "")
    local = int(str(restore_version).split(".", maxsplit=1)[0])
    if made is not None and made[0] > local:
        raise AdharError("backup %s was written by pg_dump %d.%d; pg_restore %s cannot read it: install PostgreSQL %d "
                         "client programs or point pg_bin_dir at them" % (backup, made[0], made[1], restore_version, made[0]),
                         backup=backup)


def plan_import(client, available, requested, targets, create, existing):
    """Per database: ``{"source", "target", "action"}`` with action create | replace | skip (errors before any change)."""
    unknown = [s for s in targets if s not in available]
    if unknown:
        raise AdharError("target_databases names %s, which the archive does not hold (it holds: %s)"
                         % (", ".join(unknown), ", ".join(sorted(available))), option="target_databases")
    sources = select_databases(sorted(available), requested, (), "the archive")
    plan, problems = [], []
    for source in sources:
        target = targets.get(source, source)
        exists = client.database_exists(target)
        if not exists:
            if not create:
                problems.append("database %s does not exist and create is false" % target)
            action = "create"
        elif existing == "skip":
            action = "skip"
        elif existing == "replace":
            action = "replace"
            if target == getattr(client, "maintenance_db", None):
                problems.append("database %s is the maintenance database (maintenance_db) and cannot be replaced; import "
                                "it under another name (target_databases) or set maintenance_db" % target)
        else:
            problems.append("database %s already exists (existing=fail; use existing=replace to drop and recreate it, or "
                            "skip)" % target)
            action = "fail"
        plan.append({"source": source, "target": target, "action": action})
    if problems:
        raise AdharError("nothing was imported: %s" % "; ".join(problems), plan=plan)
    return plan


def verify_items(reader, paths, jobs):
    """Read and decrypt every byte of ``paths`` (checksums and authentication) before anything changes."""
    def check(path):
        for dummy in reader.iter_chunks(path):
            pass
        return path

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(check, paths))


def _scratch_name():
    return "adhar_import_%s" % uuid.uuid4().hex[:16]


def _feed(reader, path, stdin, box):
    try:
        for chunk in reader.iter_chunks(path):
            stdin.write(chunk)
            box["bytes"] += len(chunk)
    except BrokenPipeError:
        box["broken"] = True  # pg_restore exited early: its exit status and stderr say why
    except BaseException as exc:
        box["error"] = exc
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _restore_into(client, reader, path, dbname, params, jobs):
    """Stream item ``path`` into ``pg_restore`` connected to ``dbname``; returns the plaintext byte count."""
    box = {"bytes": 0}
    if jobs > 1:  # parallel restore needs a seekable file: 0600 in the private scratch directory, removed on every exit
        with ScratchDir("pg-restore") as scratch:
            with scratch.file("dump") as handle:
                box["bytes"] = reader.copy_to(path, handle)
            client.run(client.restore_command(dbname, jobs, os.path.join(scratch.path, "dump"), params.get("no_owner"),
                                              params.get("no_privileges")), what="pg_restore into %s" % dbname)
        return box["bytes"]
    argv = client.restore_command(dbname, 1, None, params.get("no_owner"), params.get("no_privileges"))
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(argv, env=client.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errfile)
        feeder = threading.Thread(target=_feed, args=(reader, path, proc.stdin, box), daemon=True)
        feeder.start()
        feeder.join()
        if "error" in box and proc.poll() is None:
            proc.kill()
        rc = proc.wait()
        errfile.seek(0)
        err = _tail(errfile.read().decode("utf-8", "replace"))
    if "error" in box:
        raise box["error"]
    if rc != 0 or box.get("broken"):
        raise AdharError("pg_restore into %s failed (exit %d): %s" % (dbname, rc, err), stderr=err)
    return box["bytes"]


def _create_database(client, name, info):
    sql = "CREATE DATABASE %s TEMPLATE template0" % quote_ident(name)
    if info.get("encoding"):
        sql += " ENCODING %s" % quote_literal(info["encoding"])
    if info.get("collate"):
        sql += " LC_COLLATE %s" % quote_literal(info["collate"])
    if info.get("ctype"):
        sql += " LC_CTYPE %s" % quote_literal(info["ctype"])
    if info.get("owner") and client.role_exists(info["owner"]):
        sql += " OWNER %s" % quote_ident(info["owner"])
    client.execute(sql)


def _drop_database(client, name):
    client.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident(name))


def _import_one(client, reader, entry, path, info, params, jobs):
    """Restore into a scratch database, then rename it to the target (dropping the old one for replace)."""
    started = time.monotonic()
    scratch = _scratch_name()
    _create_database(client, scratch, info)
    try:
        size = _restore_into(client, reader, path, scratch, params, jobs)
        tables = client.table_count(scratch)
        if entry["action"] == "replace":
            _drop_database(client, entry["target"])
        client.execute("ALTER DATABASE %s RENAME TO %s" % (quote_ident(scratch), quote_ident(entry["target"])))
    except BaseException:
        try:
            _drop_database(client, scratch)
        except AdharError:
            pass
        raise
    return dict(entry, bytes=size, tables=tables, seconds=round(time.monotonic() - started, 3), changed=True)


def _import_globals(client, reader):
    """Run the archive's globals script with psql; roles that exist already are reported, not fatal."""
    data = reader.read(GLOBALS_ITEM)
    argv = client.command("psql", "--no-psqlrc", "--no-password", "--quiet", "--set", "ON_ERROR_STOP=0",
                          "--file=-", conninfo(client.maintenance_db))
    proc = run_once(argv, what="psql", env=client.env, input=data)
    errors = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if "ERROR" in line]
    if proc.returncode != 0:
        raise AdharError("psql failed to run the globals of the archive: %s" % _tail(proc.stderr.decode("utf-8", "replace")))
    return {"bytes": len(data), "errors": errors[:50]}


def run_import(params, check_mode=False):
    """Import databases from an archive; returns the module result."""
    opts = validate_params(params)
    wrapper = _key_wrapper(params, "import")
    storage = storage_from_params(params["storage"])
    storage.check(write=False)
    client = PgClient(params)
    server = client.check_versions("pg_restore")
    reader = resolve_archive(storage, params["backup"], opts["cluster"], wrapper)
    manifest = reader.manifest  # a wrong key or a tampered manifest fails here
    meta = (manifest.get("metadata") or {}).get("db") or {}
    check_archive_version(meta, server["client"], reader.name)
    items = archive_databases(reader)
    if not items:
        raise AdharError("backup %s holds no database dumps" % reader.name, backup=reader.name)
    plan = plan_import(client, items, params.get("databases"), params.get("target_databases") or {},
                       params.get("create", True), params.get("existing") or "fail")
    want_globals = bool(params.get("globals"))
    if want_globals and GLOBALS_ITEM + ENC_SUFFIX not in {i["path"] for i in manifest["items"]}:
        raise AdharError("backup %s holds no globals (roles, tablespaces); leave globals off" % reader.name,
                         option="globals")
    to_do = [p for p in plan if p["action"] != "skip"]
    started = time.monotonic()
    verify_items(reader, [items[p["source"]] for p in to_do] + ([GLOBALS_ITEM] if want_globals else []), opts["jobs"])
    verified = round(time.monotonic() - started, 3)
    base = {"operation": "import", "backup": reader.name, "cluster": manifest.get("cluster"),
            "source_server_version": meta.get("server_version"), "server_version": server["version"],
            "verify_seconds": verified}
    if check_mode:
        dbs = [dict(p, changed=p["action"] != "skip") for p in plan]
        return {"changed": bool(to_do) or want_globals, "db": dict(base, databases=dbs, check_mode=True)}
    result_globals = None
    if want_globals:
        result_globals = _import_globals(client, reader)
    db_info = meta.get("databases") or {}
    results = []
    # databases one after the other (each may use several pg_restore jobs); the first failure stops the run
    for entry in plan:
        if entry["action"] == "skip":
            results.append(dict(entry, changed=False))
            continue
        try:
            results.append(_import_one(client, reader, entry, items[entry["source"]], db_info.get(entry["source"]) or {},
                                       params, opts["jobs"]))
        except AdharError as exc:
            done = [r["target"] for r in results if r.get("changed")]
            details = {k: v for k, v in exc.details.items() if k not in ("database", "imported")}
            raise AdharError("importing %s into %s failed (nothing of it was kept; already imported: %s): %s"
                             % (entry["source"], entry["target"], ", ".join(done) or "none", exc.msg),
                             database=entry["target"], imported=done, **details) from exc
    seconds = round(time.monotonic() - started, 3)
    changed = any(r["changed"] for r in results) or result_globals is not None
    total = sum(r.get("bytes", 0) for r in results)
    out = {"changed": changed, "db": dict(base, databases=results, bytes=total, seconds=seconds,
                                          bytes_per_second=int(total / seconds) if seconds and total else None)}
    if result_globals is not None:
        out["db"]["globals"] = result_globals
        if result_globals["errors"]:
            out["warnings"] = ["globals: %d statement(s) failed (roles that exist already are expected): %s"
                               % (len(result_globals["errors"]), result_globals["errors"][0])]
    return out


def run_db(module):
    """The ``db`` module's body (``AdharModule.run``)."""
    params = module.params
    if params["operation"] == "export":
        return run_export(params, module.check_mode)
    return run_import(params, module.check_mode)
