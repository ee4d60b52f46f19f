# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the ``db`` module's engine: options, database selection, commands (no server)."""

from __future__ import annotations

import datetime
import io

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.doc_fragments import retention as retention_fragment
from ansible_collections.adhar.platform.plugins.module_utils._db import dump as pg_dump, pooler as pg_pooler, tune as pg_tune
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.modules import db as db_module


def params(**kw):
    out = {name: spec.get("default") for name, spec in pg_dump.DB_ARG_SPEC.items()}
    out.update(storage={"path": "/tmp/x"}, encryption=None)
    out.update(kw)
    return out


# -- documentation and argument spec --------------------------------------------

def test_documentation_matches_the_argument_spec():
    # validate-modules checks every key; this keeps the two in step while editing
    doc = yaml.safe_load(db_module.DOCUMENTATION)["options"]
    # the module's own description, the type and suboptions of adhar.platform.retention (merged as ansible-doc does)
    shared = yaml.safe_load(retention_fragment.ModuleDocFragment.DOCUMENTATION)["options"]["retention"]
    doc["retention"] = dict(shared, **doc["retention"])
    own = dict(pg_dump.DB_ARG_SPEC, **pg_tune.TUNE_ARG_SPEC, **pg_pooler.POOLER_ARG_SPEC)
    assert sorted(doc) == sorted(own)
    assert all((doc[n].get("default"), doc[n].get("choices"), doc[n]["type"]) == (o.get("default"), o.get("choices"), o["type"])
               for n, o in own.items())
    assert sorted(doc["retention"]["suboptions"]) == sorted(pg_dump.DB_ARG_SPEC["retention"]["options"])
    assert sorted(doc["pooler"]["suboptions"]) == sorted(pg_pooler.POOLER_ARG_SPEC["pooler"]["options"])
    spec = db_module.argument_spec()
    assert {"storage", "encryption"} <= set(spec)
    assert not spec["storage"].get("required")  # export and import only (required_if)
    assert spec["login_password"]["no_log"] is True


# -- validation ------------------------------------------------------------------

def test_export_defaults_name_and_cluster_from_host():
    now = datetime.datetime(2026, 6, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
    assert pg_dump.default_archive_name("db1", now) == "db1-db-20260601020304"
    opts = pg_dump.validate_params(params(operation="export", login_host="db.prod.internal"))
    assert opts["cluster"] == "db.prod.internal"
    assert opts["name"].startswith("db.prod.internal-db-")
    assert opts["jobs"] == 2


@pytest.mark.parametrize("given, env, want", [
    ({"login_host": "10.0.0.5"}, {}, "10.0.0.5"),
    ({}, {"PGHOST": "pg.example,pg2.example"}, "pg.example"),
    ({}, {"PGHOST": "/var/run/postgresql"}, "localhost"),
    ({"login_unix_socket": "/run/pg"}, {"PGHOST": "x"}, "localhost"),
    ({"login_host": "::1"}, {}, "1"),
    ({}, {}, "localhost"),
])
def test_default_cluster(given, env, want):
    assert pg_dump.default_cluster(given, environ=env) == want


@pytest.mark.parametrize("kw, fragment", [
    ({"operation": "export", "jobs": 0}, "jobs must be at least 1, got 0"),
    ({"operation": "export", "jobs": 99}, "jobs must be at most 16, got 99"),
    ({"operation": "export", "databases": []}, "databases is empty"),
    ({"operation": "export", "databases": ["x" * 64]}, "not a PostgreSQL database name"),
    ({"operation": "export", "backup": "b1"}, "only applies to operation=import"),
    ({"operation": "export", "target_databases": {"a": "b"}}, "only applies to operation=import"),
    ({"operation": "export", "name": "bad/name"}, "backup name"),
    ({"operation": "export", "retention": {"keep_last": 0, "max_age": None}}, "keep_last must be at least 1"),
    ({"operation": "export", "retention": {"keep_last": None, "max_age": "soon"}}, "not a duration"),
    ({"operation": "export", "login_port": 70000}, "login_port"),
    ({"operation": "import"}, "needs backup"),
    ({"operation": "import", "backup": "b1", "name": "x"}, "only applies to operation=export"),
    ({"operation": "import", "backup": "b1", "exclude_databases": ["a"]}, "only applies to operation=export"),
    ({"operation": "import", "backup": "b1", "target_databases": {"a": "t", "b": "t"}}, "maps both a and b to t"),
    ({"operation": "import", "backup": "b1", "target_databases": {"a": ""}}, "target_databases.a"),
])
def test_bad_options_are_refused(kw, fragment):
    with pytest.raises(AdharError) as err:
        pg_dump.validate_params(params(**kw))
    assert fragment in err.value.msg


def test_paths_are_checked_before_any_program_runs(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [
        ({"ca_cert": str(tmp_path)}, "ca_cert: %s is a directory, not a file" % tmp_path),
        ({"passfile": str(tmp_path / "nope")}, "passfile: %s does not exist" % (tmp_path / "nope")),
        ({"pg_bin_dir": str(tmp_path / "file")}, "pg_bin_dir: %s is not a directory" % (tmp_path / "file")),
        ({"pg_bin_dir": str(tmp_path / "nope")}, "pg_bin_dir: %s does not exist" % (tmp_path / "nope")),
        ({"login_unix_socket": str(tmp_path / "file")}, "login_unix_socket: %s is not a directory" % (tmp_path / "file")),
    ]
    for extra, message in cases:
        with pytest.raises(AdharError) as info:
            pg_dump.validate_params(dict({"operation": "export"}, **extra))
        assert info.value.msg == message


def test_import_latest_is_accepted():
    assert pg_dump.validate_params(params(operation="import", backup="latest", cluster="c"))["cluster"] == "c"


def test_export_without_key_is_refused_before_connecting(tmp_path):
    with pytest.raises(AdharError) as err:  # an empty pg_bin_dir: nothing could run
        pg_dump.run_export(params(operation="export", pg_bin_dir=str(tmp_path)))
    assert "database dumps would be stored in plaintext" in err.value.msg


# -- selection ----------------------------------------------------------------------

def test_select_databases():
    names = ["app", "crm", "postgres"]
    assert pg_dump.select_databases(names) == names
    assert pg_dump.select_databases(names, exclude=["postgres"]) == ["app", "crm"]
    assert pg_dump.select_databases(names, ["crm", "app", "crm"]) == ["crm", "app"]
    with pytest.raises(AdharError) as err:
        pg_dump.select_databases(names, ["app", "nope"])
    assert "nope not found" in err.value.msg and err.value.details["missing"] == ["nope"]
    with pytest.raises(AdharError, match="no database selected"):
        pg_dump.select_databases(names, exclude=names)


class FakeClient:
    maintenance_db = "postgres"

    def __init__(self, existing):
        self.existing = set(existing)

    def database_exists(self, name):
        return name in self.existing


def test_plan_import_actions():
    available = {"app": "db/app.dump.enc", "crm": "db/crm.dump.enc"}
    plan = pg_dump.plan_import(FakeClient({"crm"}), available, None, {"app": "app2"}, True, "skip")
    assert plan == [{"source": "app", "target": "app2", "action": "create"},
                    {"source": "crm", "target": "crm", "action": "skip"}]
    plan = pg_dump.plan_import(FakeClient({"crm"}), available, ["crm"], {}, True, "replace")
    assert plan == [{"source": "crm", "target": "crm", "action": "replace"}]
    with pytest.raises(AdharError) as err:
        pg_dump.plan_import(FakeClient({"crm", "app"}), available, None, {}, True, "fail")
    assert err.value.msg.startswith("nothing was imported: database app already exists")
    assert "database crm already exists" in err.value.msg
    with pytest.raises(AdharError, match="does not exist and create is false"):
        pg_dump.plan_import(FakeClient(()), available, ["app"], {}, False, "fail")
    with pytest.raises(AdharError, match="is the maintenance database"):
        pg_dump.plan_import(FakeClient({"postgres"}), {"postgres": "db/postgres.dump.enc"}, None, {}, True, "replace")
    with pytest.raises(AdharError, match="which the archive does not hold"):
        pg_dump.plan_import(FakeClient(()), available, None, {"zzz": "y"}, True, "fail")


# -- commands ------------------------------------------------------------------------

def test_client_environment_from_options(tmp_path):
    client = pg_dump.PgClient(params(operation="export", login_host="h", login_port=6543, login_user="u",
                                     login_password="p", ssl_mode="verify-full", ca_cert="/ca.pem"),
                              environ={"PGDATABASE": "x", "PGUSER": "env-user", "PATH": "/bin"})
    env = client.env
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"]) == ("h", "6543", "u", "p")
    assert (env["PGSSLMODE"], env["PGSSLROOTCERT"], env["PGCONNECT_TIMEOUT"]) == ("verify-full", "/ca.pem", "10")
    assert "PGDATABASE" not in env
    # unset options keep libpq's environment; a unix socket directory is the host when no host is given
    client = pg_dump.PgClient(params(operation="export", login_unix_socket="/run/pg"), environ={"PGUSER": "env-user"})
    assert client.env["PGUSER"] == "env-user" and client.env["PGHOST"] == "/run/pg"


def fake_bin(tmp_path):
    for name in ("pg_dump", "pg_dumpall", "pg_restore", "psql"):
        path = tmp_path / name
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return str(tmp_path)


def test_commands(tmp_path):
    bindir = fake_bin(tmp_path)
    client = pg_dump.PgClient(params(operation="export", pg_bin_dir=bindir), environ={})
    assert client.dump_command("we'ird\\db") == [bindir + "/pg_dump", "--format=custom", "--no-password",
                                                 "dbname='we\\'ird\\\\db'"]
    assert client.globals_command(True) == [bindir + "/pg_dumpall", "--globals-only", "--no-password",
                                            "--dbname=dbname='postgres'"]
    assert "--no-role-passwords" in client.globals_command(False)
    cmd = client.restore_command("t", 1, None, no_owner=True, no_privileges=True)
    assert cmd[1:] == ["--no-password", "--exit-on-error", "--dbname=dbname='t'", "--single-transaction", "--no-owner",
                       "--no-privileges"]
    cmd = client.restore_command("t", 4, "/private/dump")
    assert "--jobs=4" in cmd and "--single-transaction" not in cmd and cmd[-1] == "/private/dump"
    psql = client.psql_args("postgres", "SELECT 1")
    assert psql[0] == bindir + "/psql" and "ON_ERROR_STOP=1" in psql and psql[-1] == "dbname='postgres'"


def test_missing_programs_are_reported(tmp_path):
    client = pg_dump.PgClient(params(operation="export", pg_bin_dir=str(tmp_path)), environ={})
    with pytest.raises(AdharError, match="pg_dump was not found in pg_bin_dir"):
        client.program("pg_dump")
    client = pg_dump.PgClient(params(operation="export"), environ={"PATH": str(tmp_path)})
    with pytest.raises(AdharError, match="not found on PATH"):
        client.program("pg_restore")


def test_quoting_and_versions():
    assert pg_dump.quote_ident('a"b') == '"a""b"'
    assert pg_dump.quote_literal("it's") == "'it''s'"
    assert pg_dump.parse_client_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == (15, 18)
    assert pg_dump.parse_client_version("pg_restore (PostgreSQL) 17devel") == (17, 0)
    assert pg_dump.parse_client_version("nonsense") is None


def test_client_older_than_server_is_refused(monkeypatch):
    client = pg_dump.PgClient(params(operation="export"), environ={})
    monkeypatch.setattr(client, "server_info", lambda: {"num": 170002, "major": 17, "version": "17.2", "superuser": True})
    monkeypatch.setattr(client, "client_version", lambda program: ((15, 18), "pg_dump (PostgreSQL) 15.18"))
    with pytest.raises(AdharError) as err:
        client.check_versions()
    assert "pg_dump is version 15.18 but the server is PostgreSQL 17.2" in err.value.msg
    monkeypatch.setattr(client, "client_version", lambda program: ((17, 4), "pg_dump (PostgreSQL) 17.4"))
    assert client.check_versions()["client"] == "17.4"


def test_dump_stream_checks_the_magic():
    stream = pg_dump._DumpStream(io.BytesIO(b"PGDMP\x01\x0e rest"), "app")
    assert stream.read(3) == b"PGD" and stream.read(100) == b"MP\x01\x0e rest" and stream.bytes == 12
    with pytest.raises(AdharError):
        bad = pg_dump._DumpStream(io.BytesIO(b"PGXMP"), "app")
        bad.read(2), bad.read(10)
    with pytest.raises(AdharError, match="did not write a custom-format archive"):
        pg_dump._DumpStream(io.BytesIO(b"-- SQL text"), "app").read(100)


def test_archive_from_a_newer_pg_dump_is_refused():
    pg_dump.check_archive_version({"pg_dump_version": "pg_dump (PostgreSQL) 15.18"}, "15.18", "b1")
    pg_dump.check_archive_version({}, "15.18", "b1")
    with pytest.raises(AdharError, match="written by pg_dump 17.2; pg_restore 15.18 cannot read it"):
        pg_dump.check_archive_version({"pg_dump_version": "pg_dump (PostgreSQL) 17.2"}, "15.18", "b1")
