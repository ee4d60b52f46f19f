# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the ``db`` module's configure, slow_queries and pooler helpers (no server)."""

from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._db import pooler as pg_pooler, tune as pg_tune
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

# pg_settings rows as PostgreSQL 15 reports them
SHARED_BUFFERS = {"name": "shared_buffers", "vartype": "integer", "unit": "8kB", "min_val": "16", "max_val": "1073741823"}
LOG_MIN = {"name": "log_min_duration_statement", "vartype": "integer", "unit": "ms", "min_val": "-1",
           "max_val": "2147483647"}
WORK_MEM = {"name": "work_mem", "vartype": "integer", "unit": "kB", "min_val": "64", "max_val": "2147483647"}
COST_DELAY = {"name": "vacuum_cost_delay", "vartype": "real", "unit": "ms", "min_val": "0", "max_val": "100"}
WAL_LEVEL = {"name": "wal_level", "vartype": "enum", "enumvals": ["minimal", "replica", "logical"]}
SEQSCAN = {"name": "enable_seqscan", "vartype": "bool"}
PRELOAD = {"name": "shared_preload_libraries", "vartype": "string"}


@pytest.mark.parametrize("row, value, want", [
    (SHARED_BUFFERS, "128MB", 16384),
    (SHARED_BUFFERS, 16384, 16384),
    (SHARED_BUFFERS, "1GB", 131072),
    (LOG_MIN, "250ms", 250),
    (LOG_MIN, 250, 250),
    (LOG_MIN, "1s", 1000),
    (LOG_MIN, "0.25s", 250),
    (LOG_MIN, "1min", 60000),
    (LOG_MIN, -1, -1),
    (WORK_MEM, "8MB", 8192),
    (WORK_MEM, "4096kB", 4096),
    (COST_DELAY, "2ms", 2.0),
    (COST_DELAY, "500us", 0.5),
    (WAL_LEVEL, "Logical", "logical"),
    (SEQSCAN, False, "off"),
    (SEQSCAN, "yes", "on"),
    (SEQSCAN, "of", "off"),
    (PRELOAD, ["pg_stat_statements", "auto_explain"], ("pg_stat_statements", "auto_explain")),
    (PRELOAD, "pg_stat_statements, \"auto_explain\"", ("pg_stat_statements", "auto_explain")),
    (PRELOAD, "", ()),
])
def test_normalise_like_the_server(row, value, want):
    assert pg_tune.same(pg_tune.normalise(row, value), want)


@pytest.mark.parametrize("row, value, message", [
    (LOG_MIN, "5MB", "unit 'MB' is not valid here (valid units: us, ms, s, min, h, d)"),
    (SHARED_BUFFERS, "lots", "'lots' is not a number"),
    (SHARED_BUFFERS, "64kB", "8 is outside the allowed range 16 to 1073741823 (in units of 8kB)"),
    (WAL_LEVEL, "maximal", "'maximal' is not one of minimal, replica, logical"),
    (SEQSCAN, "maybe", "'maybe' is not a boolean"),
    (COST_DELAY, 101, "101 is outside the allowed range 0 to 100"),
])
def test_normalise_refuses(row, value, message):
    with pytest.raises(ValueError) as err:
        pg_tune.normalise(row, value)
    assert message in str(err.value)


def test_sql_value_of_list_parameters():
    assert pg_tune.sql_value("shared_preload_libraries", ["a", "b"]) == "'a', 'b'"
    assert pg_tune.sql_value("shared_preload_libraries", "a,b") == "'a', 'b'"
    assert pg_tune.sql_value("work_mem", "8MB") == "'8MB'"
    assert pg_tune.sql_value("application_name", "it's") == "'it''s'"
    assert pg_tune.sql_value("enable_seqscan", True) == "'on'"


def test_slow_log_grouping(tmp_path):
    log = tmp_path / "server.log"
    log.write_text(
        "2026-12-05 07:00:00.000 UTC [1] LOG:  duration: 300.500 ms  statement: SELECT pg_sleep(0.3)\n"
        "2026-12-05 07:00:01.000 UTC [1] LOG:  duration: 299.500 ms  statement: SELECT  pg_sleep(0.3)\n"
        "2026-12-05 07:00:02.000 UTC [2] LOG:  duration: 1000.000 ms  statement: SELECT a\n"
        "\tFROM big\n"
        "2026-12-05 07:00:03.000 UTC [3] LOG:  duration: 50.000 ms  execute <unnamed>: UPDATE t SET x = $1\n"
        "2026-12-05 07:00:04.000 UTC [3] LOG:  checkpoint starting: time\n")
    rows = pg_tune.read_slow_log(str(log), 10, "total_time")
    assert [(r["query"], r["calls"], r["total_ms"]) for r in rows] == [
        ("SELECT a FROM big", 1, 1000.0), ("SELECT pg_sleep(0.3)", 2, 600.0), ("UPDATE t SET x = $1", 1, 50.0)]
    assert pg_tune.read_slow_log(str(log), 1, "calls")[0]["query"] == "SELECT pg_sleep(0.3)"
    table = pg_tune.format_table(rows)
    assert table[0].split() == ["#", "calls", "total", "ms", "mean", "ms", "max", "ms", "query"]
    assert table[1].endswith("SELECT a FROM big") and len(table) == 4


def _pooler(**kw):
    return {"pooler": dict({"dir": "/srv/pgb"}, **kw)}


def test_pooler_options_from_the_adhar_config_values():
    values = [{"key": "pooler.enabled", "value": "true"}, {"key": "pooler.maxConnections", "value": "100"},
              {"key": "pooler.poolMode", "value": "session"}, {"key": "primary.persistence.size", "value": "8Gi"}]
    opts = pg_pooler.pooler_options(_pooler(values=values))
    assert (opts["enabled"], opts["max_connections"], opts["pool_mode"]) == (True, 100, "session")
    opts = pg_pooler.pooler_options(_pooler(values=values, pool_mode="statement", max_connections=None))
    assert (opts["pool_mode"], opts["max_connections"]) == ("statement", 100)  # an explicit option wins
    opts = pg_pooler.pooler_options(_pooler())
    assert (opts["pool_mode"], opts["max_connections"], opts["listen_port"]) == ("transaction", 100, 6432)


@pytest.mark.parametrize("given, message", [
    ({"values": [{"key": "pooler.maxConnections", "value": "many"}]}, "pooler.maxConnections = 'many' is not a whole"),
    ({"values": [{"key": "pooler.size", "value": "1"}]}, "pooler.size is not a pooler setting"),
    ({"values": [{"key": "pooler.enabled", "value": "yes"}]}, "is not true or false"),
    ({"max_connections": 0}, "pooler.max_connections must be"),
    ({"values": [{"key": "pooler.maxConnections", "value": "0"}]}, "pooler.max_connections must be"),
    ({"databases": ["a b"]}, "pooler.databases: 'a b'"),
    ({"options": {"auth_file": "/x"}}, "auth_file is set by the module"),
    ({"dir": None}, "needs pooler.dir"),
    ({"listen_address": "127.0.0.1\nadmin_users = x"}, "pooler.listen_address"),
])
def test_pooler_options_refused(given, message):
    with pytest.raises(AdharError) as err:
        pg_pooler.pooler_options(_pooler(**given))
    assert message in err.value.msg


def test_pooler_files():
    opts = pg_pooler.pooler_options(_pooler(databases=["shop"], auth="auth_query"))
    ini = pg_pooler.render_ini(opts, "127.0.0.1", "5432", "admin")
    assert "shop = host=127.0.0.1 port=5432 dbname=shop" in ini
    assert "pool_mode = transaction\nmax_client_conn = 100\n" in ini
    assert "auth_user = admin" in ini and "auth_file = /srv/pgb/userlist.txt" in ini
    assert pg_pooler.render_userlist({"b": "SCRAM-SHA-256$x", 'a"q': "SCRAM-SHA-256$y"}) == (
        '"a""q" "SCRAM-SHA-256$y"\n"b" "SCRAM-SHA-256$x"\n')
