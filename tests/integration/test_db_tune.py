# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``adhar.platform.db`` configure, slow_queries and pooler against a real PostgreSQL server (``pg_server.py``).

Configure: units compared the way the server reads them (idempotent), check
mode and diff, a reload for a sighup parameter, "restart required" for a
postmaster one, a restart only on request (through the data directory), one
error naming the parameter and nothing changed.  Slow queries: from the
server log (log_min_duration_statement) and from pg_stat_statements once it
is preloaded.  Pooler: a real PgBouncer process, queried through it and on
its admin console (SHOW CONFIG), reloaded on a change, stopped at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

import pg_server
from ports import free_tcp_port

_REASON = pg_server.missing_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture(scope="module")
def pg():
    server = pg_server.PgServer().start()
    try:
        server.psql("CREATE DATABASE shop")
        server.psql("CREATE TABLE items (id int PRIMARY KEY, note text)", "shop")
        server.psql("INSERT INTO items SELECT g, 'item-' || g FROM generate_series(1, 50) g", "shop")
        yield server
    finally:
        server.stop()


def configure(runner, pg, settings, check=False, diff=False, expect_fail=False, **kw):
    return runner.module("adhar.platform.db", dict(pg.login, operation="configure", settings=settings, **kw),
                         check=check, diff=diff, expect_fail=expect_fail)


def auto_conf(pg):
    """The settings of postgresql.auto.conf (ALTER SYSTEM may reorder them)."""
    with open(os.path.join(pg.data_dir, "postgresql.auto.conf")) as handle:
        return sorted(line.strip() for line in handle if line.strip() and not line.startswith("#"))


def test_configure_units_idempotence_check_and_diff(runner, pg):
    before = auto_conf(pg)
    # check mode: says what would change, changes nothing
    res = configure(runner, pg, {"log_min_duration_statement": "250ms", "work_mem": "8MB"}, check=True, diff=True)
    assert res["changed"] is True and res["db"]["check_mode"] is True
    assert sorted(res["db"]["changed_settings"]) == ["log_min_duration_statement", "work_mem"]
    assert res["diff"]["after"] == "log_min_duration_statement = 250ms\nwork_mem = 8MB\n", res["diff"]
    assert auto_conf(pg) == before
    assert pg.psql("SHOW log_min_duration_statement") == "-1"

    res = configure(runner, pg, {"log_min_duration_statement": "250ms", "work_mem": "8MB"}, diff=True)
    assert res["changed"] is True and res["db"]["reloaded"] is True and res["db"]["restart_required"] == []
    assert res["db"]["settings"]["log_min_duration_statement"]["before"] == "-1 (ms)"
    assert "log_min_duration_statement = '250ms'" in auto_conf(pg)
    assert "work_mem = '8MB'" in auto_conf(pg)
    assert pg.psql("SHOW log_min_duration_statement") == "250ms"  # a new connection sees the reloaded value
    assert pg.psql("SHOW work_mem") == "8MB"

    # the same values in other units: nothing to do
    res = configure(runner, pg, {"log_min_duration_statement": 250, "work_mem": 8192})
    assert res["changed"] is False and res["db"]["changed_settings"] == [] and res["db"]["reloaded"] is False
    res = configure(runner, pg, {"log_min_duration_statement": "0.25s", "work_mem": "8192kB"})
    assert res["changed"] is False
    # shared_buffers: 8kB blocks; the configured 128MB (postgresql.conf) is 16384 blocks
    res = configure(runner, pg, {"shared_buffers": 16384})
    assert res["changed"] is False, res["db"]
    res = configure(runner, pg, {"enable_seqscan": "off"})
    assert res["changed"] is True
    res = configure(runner, pg, {"enable_seqscan": False})
    assert res["changed"] is False


def test_configure_refuses_bad_values_and_changes_nothing(runner, pg):
    before = auto_conf(pg)
    cases = [
        ({"work_mem": "32MB", "no_such_parameter": 1}, "no_such_parameter: unknown parameter"),
        ({"work_mem": "32MB", "max_connections": "lots"}, "max_connections: 'lots' is not a number"),
        ({"work_mem": "32MB", "log_min_duration_statement": "5MB"}, "log_min_duration_statement: unit 'MB' is not valid"),
        ({"work_mem": "32MB", "wal_level": "maximal"}, "wal_level: 'maximal' is not one of"),
        ({"work_mem": "32MB", "max_connections": 0}, "max_connections: 0 is outside the allowed range"),
        ({"work_mem": "32MB", "block_size": 16384}, "block_size: a read-only parameter"),
        ({"work_mem": "32MB", "port": 1234}, "port: set on the server's command line"),
    ]
    for settings, message in cases:
        res = configure(runner, pg, settings, expect_fail=True)
        assert message in res["msg"] and "nothing was changed" in res["msg"], res["msg"]
    # a value only the server can judge (a library that does not exist is fine for ALTER SYSTEM; a bad timezone is not)
    res = configure(runner, pg, {"work_mem": "32MB", "timezone": "Mars/Olympus_Mons"}, expect_fail=True)
    assert "timezone" in res["msg"] and "nothing was changed" in res["msg"], res["msg"]
    assert auto_conf(pg) == before
    assert pg.psql("SHOW work_mem") == "8MB"


def test_restart_required_then_restart(runner, pg, bin_dir_pg):
    res = configure(runner, pg, {"max_connections": 120})
    assert res["changed"] is True and res["db"]["restart_required"] == ["max_connections"]
    assert res["db"]["restarted"] is False and any("restart required" in w for w in res["warnings"])
    assert pg.psql("SHOW max_connections") == "100"  # still the old value: never restarted silently
    res = configure(runner, pg, {"max_connections": 120})
    assert res["changed"] is False and res["db"]["restart_required"] == ["max_connections"]

    res = configure(runner, pg, {"max_connections": 120}, restart=True, expect_fail=True)
    assert "restart: true needs pg_data_dir" in res["msg"], res["msg"]
    other = pg_server.PgServer().start()
    try:
        res = configure(runner, pg, {"max_connections": 120}, restart=True, pg_data_dir=other.data_dir, expect_fail=True)
        assert "is not the data directory of the server connected to" in res["msg"], res["msg"]
    finally:
        other.stop()
    res = configure(runner, pg, {"max_connections": 120}, restart=True, pg_data_dir=pg.data_dir, pg_bin_dir=bin_dir_pg,
                    server_log=os.path.join(pg.root, "server.log"))
    assert res["changed"] is True and res["db"]["restarted"] is True and res["db"]["restart_required"] == []
    assert pg.psql("SHOW max_connections") == "120"


@pytest.fixture(scope="module")
def bin_dir_pg():
    return pg_server.server_bin_dir()


def slow(runner, pg, **kw):
    return runner.module("adhar.platform.db", dict(pg.login, operation="slow_queries", **kw))


def test_slow_queries_from_log_then_pg_stat_statements(runner, pg, bin_dir_pg):
    log = os.path.join(pg.root, "server.log")
    configure(runner, pg, {"log_min_duration_statement": 100})
    pg.psql("SELECT pg_sleep(0.3)")
    pg.psql("SELECT pg_sleep(0.3)")
    pg.psql("SELECT pg_sleep(0.15), 'second'")
    pg.psql("SELECT count(*) FROM items", "shop")  # fast: not logged
    res = slow(runner, pg, server_log=log)
    db = res["db"]
    assert db["source"] == "log" and res["changed"] is False
    assert any("pg_stat_statements is not installed" in w for w in res["warnings"])
    queries = {q["query"]: q for q in db["queries"]}
    assert queries["SELECT pg_sleep(0.3)"]["calls"] == 2 and queries["SELECT pg_sleep(0.3)"]["mean_ms"] >= 300
    assert db["queries"][0]["query"] == "SELECT pg_sleep(0.3)"  # mean time, slowest first
    assert "SELECT count(*) FROM items" not in queries
    assert db["table"][0].split()[:3] == ["#", "calls", "total"] and "SELECT pg_sleep(0.3)" in db["table"][1]

    # pg_stat_statements: refused (nothing changed) until it is preloaded, which takes a restart
    res = runner.module("adhar.platform.db", dict(pg.login, operation="slow_queries", create_extension=True),
                        expect_fail=True)
    assert "must be in shared_preload_libraries" in res["msg"], res["msg"]
    assert pg.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == "0"
    res = configure(runner, pg, {"shared_preload_libraries": ["pg_stat_statements"]}, restart=True,
                    pg_data_dir=pg.data_dir, pg_bin_dir=bin_dir_pg, server_log=log)
    assert res["db"]["restarted"] is True
    res = runner.module("adhar.platform.db", dict(pg.login, operation="slow_queries", create_extension=True), check=True)
    assert res["changed"] is True
    assert pg.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == "0"
    res = slow(runner, pg, create_extension=True)
    assert res["changed"] is True and res["db"]["source"] == "pg_stat_statements"
    for dummy in range(3):
        pg.psql("SELECT pg_sleep(0.2)")
    pg.psql("SELECT count(*) FROM items", "shop")
    res = slow(runner, pg, order_by="total_time", top=3)
    assert res["changed"] is False and res["db"]["source"] == "pg_stat_statements"
    first = res["db"]["queries"][0]
    assert first["query"].startswith("SELECT pg_sleep($1)") and first["calls"] == 3 and first["total_ms"] >= 600, first
    assert len(res["db"]["queries"]) <= 3
    res = slow(runner, pg, source="log", server_log=log)  # the log is still there to ask
    assert res["db"]["source"] == "log"


def _scram_password(pg, role, password):
    pg.psql("DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN PASSWORD '%s'; GRANT ALL ON TABLE items TO %s"
            % (role, role, password, role), "shop")


def _psql(host, port, user, password, dbname, sql):
    env = dict(os.environ, PGHOST=host, PGPORT=str(port), PGUSER=user, PGPASSWORD=password, PGSSLMODE="disable")
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", "-d", dbname, "-c", sql], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _show_config(port, pg):
    out = _psql("127.0.0.1", port, pg_server.USER, pg_server.PASSWORD, "pgbouncer", "SHOW CONFIG")
    return {line.split("|")[0]: line.split("|")[1] for line in out.splitlines()}


@pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer is not installed (Debian package pgbouncer)")
def test_pooler_process(runner, pg):
    _scram_password(pg, "app", "app-pw")
    port = free_tcp_port()
    base = tempfile.mkdtemp(prefix="adhar-pgbouncer-")
    os.chmod(base, 0o755)  # the pooler's user must reach its directory
    pool_dir = os.path.join(base, "pgbouncer")
    run_as = {"run_as": "postgres"} if os.geteuid() == 0 else {}
    values = [{"key": "pooler.enabled", "value": "true"}, {"key": "pooler.maxConnections", "value": "100"},
              {"key": "pooler.poolMode", "value": "transaction"}, {"key": "primary.resources.cpu", "value": "2"}]
    pooler = dict(values=values, dir=pool_dir, listen_port=port, users=["app"], **run_as)

    res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=pooler), check=True)
    assert res["changed"] is True and res["db"]["pooler"]["action"] == "started"
    assert not os.path.exists(pool_dir)
    res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=pooler), diff=True)
    try:
        info = res["db"]["pooler"]
        assert res["changed"] is True and info["action"] == "started" and info["pool_mode"] == "transaction"
        assert info["max_client_conn"] == 100 and info["users"] == ["adhar", "app"]
        for name in ("pgbouncer.ini", "userlist.txt"):
            mode = stat.S_IMODE(os.stat(os.path.join(pool_dir, name)).st_mode)
            assert mode == 0o600, (name, oct(mode))
            if run_as:
                assert os.stat(os.path.join(pool_dir, name)).st_uid == pwd.getpwnam("postgres").pw_uid
        with open(os.path.join(pool_dir, "userlist.txt")) as handle:
            assert '"app" "SCRAM-SHA-256$' in handle.read()
        assert "SCRAM-SHA-256" not in str(res["diff"]) and "app-pw" not in str(res)
        # through the pooler, with the role's own password
        assert _psql("127.0.0.1", port, "app", "app-pw", "shop", "SELECT count(*) FROM items") == "50"
        config = _show_config(port, pg)
        assert config["pool_mode"] == "transaction" and config["max_client_conn"] == "100", config

        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=pooler))
        assert res["changed"] is False and res["db"]["pooler"]["action"] == "none"

        # explicit options win over values; the running pooler is reloaded, same process
        pid = info["pid"]
        changed = dict(pooler, maxConnections=250, poolMode="session")
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=changed), diff=True)
        assert res["changed"] is True and res["db"]["pooler"]["action"] == "reloaded" and res["db"]["pooler"]["pid"] == pid
        assert "max_client_conn = 100" in res["diff"][0]["before"] and "max_client_conn = 250" in res["diff"][0]["after"]
        config = _show_config(port, pg)
        assert config["pool_mode"] == "session" and config["max_client_conn"] == "250", config
        assert _psql("127.0.0.1", port, "app", "app-pw", "shop", "SELECT 1") == "1"

        # a wrong password is refused by the pooler; an unknown role is refused by the module
        env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER="app", PGPASSWORD="wrong", PGSSLMODE="disable")
        proc = subprocess.run(["psql", "-X", "-d", "shop", "-c", "SELECT 1"], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode != 0 and "SASL authentication failed" in proc.stderr, proc.stderr
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=dict(pooler, users=["ghost"])),
                            expect_fail=True)
        assert "role ghost does not exist" in res["msg"], res["msg"]
        bad = dict(pooler, values=values + [{"key": "pooler.poolMode", "value": "sometimes"}])
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=bad), expect_fail=True)
        assert "pooler.values: pooler.poolMode = 'sometimes' is not one of" in res["msg"], res["msg"]
    finally:
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=dict(pooler, enabled=False)))
        shutil.rmtree(base, ignore_errors=True)
    assert res["changed"] is True and res["db"]["pooler"]["action"] == "stopped"
    assert not os.path.exists(os.path.join(pool_dir, "userlist.txt"))
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER="app", PGPASSWORD="app-pw")
    proc = subprocess.run(["psql", "-X", "-d", "shop", "-c", "SELECT 1"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode != 0  # nothing listens any more


@pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer is not installed (Debian package pgbouncer)")
def test_pooler_service_config(runner, pg):
    """An existing PgBouncer (started here, as a service manager would): the module writes its files and RELOADs it."""
    secret = pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = '%s'" % pg_server.USER)
    port = free_tcp_port()
    base = tempfile.mkdtemp(prefix="adhar-pgbouncer-svc-")
    os.chmod(base, 0o755)
    conf = os.path.join(base, "conf")
    os.mkdir(conf, 0o700)
    with open(os.path.join(conf, "pgbouncer.ini"), "w") as handle:
        handle.write("[databases]\n* = host=127.0.0.1 port=%d\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                     "unix_socket_dir = %s\nauth_type = scram-sha-256\nauth_file = %s/userlist.txt\npool_mode = session\n"
                     "max_client_conn = 10\nadmin_users = %s\n" % (pg.port, port, conf, conf, pg_server.USER))
    with open(os.path.join(conf, "userlist.txt"), "w") as handle:
        handle.write('"%s" "%s"\n' % (pg_server.USER, secret))
    argv = ["pgbouncer", os.path.join(conf, "pgbouncer.ini")]
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (conf, os.path.join(conf, "pgbouncer.ini"), os.path.join(conf, "userlist.txt")):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        argv = ["setpriv", "--reuid=%d" % entry.pw_uid, "--regid=%d" % entry.pw_gid, "--init-groups", "--"] + argv
    with open(os.path.join(base, "service.log"), "wb") as log:
        service = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        for dummy in range(100):
            try:
                if _show_config(port, pg)["pool_mode"] == "session":
                    break
            except AssertionError:
                pass
            time.sleep(0.1)
        # no run_as: the files keep the owner the service gave them
        pooler = {"run": "service", "dir": conf, "listen_port": port, "maxConnections": 75, "poolMode": "transaction"}
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=pooler))
        assert res["changed"] is True and res["db"]["pooler"]["action"] == "reloaded", res
        config = _show_config(port, pg)
        assert config["pool_mode"] == "transaction" and config["max_client_conn"] == "75", config
        assert service.poll() is None  # the same process, reloaded
        owner = os.stat(os.path.join(conf, "userlist.txt"))
        assert stat.S_IMODE(owner.st_mode) == 0o600 and owner.st_uid == os.stat(conf).st_uid
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=pooler))
        assert res["changed"] is False
        res = runner.module("adhar.platform.db", dict(pg.login, operation="pooler", pooler=dict(pooler, enabled=False)),
                            expect_fail=True)
        assert "stop the service with its service manager" in res["msg"], res["msg"]
    finally:
        service.terminate()
        service.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)
