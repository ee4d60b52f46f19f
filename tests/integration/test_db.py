# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``adhar.platform.db`` module against a real PostgreSQL server (started by ``pg_server.py``).

Export two databases (encrypted), see the archive listed complete, import
them under new names and compare row counts per table; re-import with
``existing: fail`` / ``skip`` / ``replace``; no plaintext of a known row in any
stored file; a wrong key and a flipped byte are refused before anything is
created; check mode changes nothing; export to S3 (moto) and back; an
export without a key is refused; a failing pg_dump leaves an incomplete
archive.
"""

from __future__ import annotations

import base64
import glob
import importlib
import os
import sys
import types
import uuid

import pytest

import moto_server
import pg_server
from moto_server import REGION

pytest.importorskip("cryptography")

_REASON = pg_server.missing_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

KEY = base64.b64encode(os.urandom(32)).decode()
OTHER_KEY = base64.b64encode(os.urandom(32)).decode()
MARKER = "plaintext-marker-4f1c9e"
TABLES = {"shop": {"customers": 120, "orders": 345}, "crm": {"contacts": 77}}


@pytest.fixture(scope="module")
def pg():
    server = pg_server.PgServer().start()
    try:
        for db, tables in TABLES.items():
            server.psql("CREATE DATABASE %s" % db)
            for table, rows in tables.items():
                server.psql("CREATE TABLE %s (id int PRIMARY KEY, note text NOT NULL)" % table, db)
                server.psql("INSERT INTO %s SELECT g, '%s-' || g FROM generate_series(1, %d) g" % (table, MARKER, rows), db)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def adhar(collections_path):
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    base = "ansible_collections.adhar.platform.plugins.module_utils."
    return types.SimpleNamespace(archive=importlib.import_module(base + "_archive.api"),
                                 storage=importlib.import_module(base + "_storage.api"))


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "backups")


def args(pg, store, **kw):
    out = dict(pg.login, storage={"path": store}, encryption={"key": KEY})
    out.update(kw)
    return out


def counts(pg, db):
    out = {}
    for table in sorted(pg.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db).split()):
        out[table] = int(pg.psql("SELECT count(*) FROM %s" % table, db))
    return out


def databases(pg):
    return set(pg.psql("SELECT datname FROM pg_database").split())


def export(runner, pg, store, **kw):
    res = runner.module("adhar.platform.db", args(pg, store, operation="export", cluster="pg-test",
                                                  databases=["shop", "crm"], **kw))
    assert res["changed"] is True
    return res["db"]


def test_export_import_round_trip(runner, pg, store, adhar):
    db = export(runner, pg, store)
    assert db["complete"] and db["encrypted"]
    assert [d["name"] for d in db["databases"]] == ["shop", "crm"]
    assert {d["name"]: d["tables"] for d in db["databases"]} == {"shop": 2, "crm": 1}
    assert all(d["bytes"] > 0 and d["seconds"] >= 0 for d in db["databases"])
    assert db["globals"] is False  # named databases: no globals by default

    listing = adhar.archive.list_backups(adhar.storage.storage_from_params({"path": store}), cluster="pg-test")
    assert [(b["name"], b["complete"], b["encrypted"]) for b in listing] == [(db["name"], True, True)]
    assert not glob.glob(os.path.join(store, ".locks", "*.lock")), "the lock was not released"

    # no plaintext of any row, nor a readable custom-format header, in any stored file
    files = [p for p in glob.glob(os.path.join(store, "**"), recursive=True) if os.path.isfile(p)]
    assert any(p.endswith("db/shop.dump.enc") for p in files)
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        assert MARKER.encode() not in data, path
        assert b"PGDMP" not in data, path

    targets = {"shop": "shop_copy", "crm": "crm_copy"}
    res = runner.module("adhar.platform.db", args(pg, store, operation="import", backup=db["name"], target_databases=targets))
    assert res["changed"] is True
    assert [(d["source"], d["target"], d["action"], d["changed"]) for d in res["db"]["databases"]] == [
        ("crm", "crm_copy", "create", True), ("shop", "shop_copy", "create", True)]
    for source, target in targets.items():
        assert counts(pg, target) == TABLES[source]
    assert not [d for d in databases(pg) if d.startswith("adhar_import_")]

    # again: existing=fail refuses before anything changes, skip is unchanged, replace recreates
    res = runner.module("adhar.platform.db", args(pg, store, operation="import", backup=db["name"], target_databases=targets),
                        expect_fail=True)
    assert "already exists" in res["msg"] and "existing=fail" in res["msg"], res["msg"]
    res = runner.module("adhar.platform.db", args(pg, store, operation="import", backup="latest", cluster="pg-test",
                                                  target_databases=targets, existing="skip"))
    assert res["changed"] is False
    assert {d["action"] for d in res["db"]["databases"]} == {"skip"}

    pg.psql("DELETE FROM customers WHERE id > 100", "shop_copy")
    res = runner.module("adhar.platform.db", args(pg, store, operation="import", backup=db["name"], databases=["shop"],
                                                  target_databases={"shop": "shop_copy"}, existing="replace", jobs=1))
    assert res["changed"] is True and res["db"]["databases"][0]["action"] == "replace"
    assert counts(pg, "shop_copy") == TABLES["shop"]

    # check mode: says what would happen, changes nothing
    res = runner.module("adhar.platform.db", args(pg, store, operation="import", backup=db["name"],
                                                  target_databases={"shop": "shop_dry", "crm": "crm_copy"}, existing="skip"),
                        check=True)
    assert res["changed"] is True
    assert {d["target"]: d["action"] for d in res["db"]["databases"]} == {"shop_dry": "create", "crm_copy": "skip"}
    assert "shop_dry" not in databases(pg)
    before = sorted(os.listdir(store))
    res = runner.module("adhar.platform.db", args(pg, store, operation="export", cluster="pg-test"), check=True)
    assert {"shop", "crm"} <= {d["name"] for d in res["db"]["databases"]}
    assert sorted(os.listdir(store)) == before


def test_wrong_key_and_tampered_dump_are_refused(runner, pg, store):
    db = export(runner, pg, store)
    res = runner.module("adhar.platform.db", dict(args(pg, store, operation="import", backup=db["name"],
                                                       target_databases={"shop": "shop_wrongkey", "crm": "crm_wrongkey"}),
                                                  encryption={"key": OTHER_KEY}), expect_fail=True)
    assert "cannot decrypt: wrong key or tampered data" in res["msg"], res["msg"]

    path = os.path.join(store, db["name"], "db", "crm.dump.enc")
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the stored dump
    with open(path, "wb") as handle:
        handle.write(data)
    res = runner.module("adhar.platform.db", args(pg, store, operation="import", backup=db["name"],
                                                  target_databases={"shop": "shop_tampered", "crm": "crm_tampered"}),
                        expect_fail=True)
    assert "crm.dump.enc" in res["msg"] and ("tampered" in res["msg"] or "corrupted" in res["msg"]), res["msg"]
    assert not {"shop_tampered", "crm_tampered"} & databases(pg), "a database was created from a refused archive"


def test_export_refused_without_key_and_failed_dump_is_incomplete(runner, pg, store, adhar):
    a = args(pg, store, operation="export", cluster="pg-test")
    del a["encryption"]
    res = runner.module("adhar.platform.db", a, expect_fail=True)
    assert "database dumps would be stored in plaintext" in res["msg"], res["msg"]
    assert not os.path.exists(store) or not os.listdir(store)

    # a database the role cannot read: pg_dump fails, the archive stays incomplete and the lock is released
    pg.psql("DROP ROLE IF EXISTS weak; CREATE ROLE weak LOGIN PASSWORD 'weak-pw'")
    pg.psql("CREATE TABLE IF NOT EXISTS private (id int); REVOKE ALL ON private FROM PUBLIC", "crm")
    res = runner.module("adhar.platform.db", dict(args(pg, store, operation="export", cluster="pg-weak", name="weak-1",
                                                       databases=["crm"]), login_user="weak", login_password="weak-pw"),
                        expect_fail=True)
    assert "pg_dump of database crm failed" in res["msg"] and "permission denied" in res["msg"], res["msg"]
    listing = adhar.archive.list_backups(adhar.storage.storage_from_params({"path": store}), cluster="pg-weak")
    assert [(b["name"], b["complete"]) for b in listing] == [("weak-1", False)]
    assert not glob.glob(os.path.join(store, ".locks", "*.lock"))
    pg.psql("DROP TABLE private", "crm")


moto_endpoint = pytest.fixture(scope="session", name="moto_endpoint")(moto_server.serve)


def test_export_to_s3_and_import_back(runner, pg, moto_endpoint):
    boto3 = pytest.importorskip("boto3")
    bucket = "adhar-db-%s" % uuid.uuid4().hex[:10]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    storage = {"type": "s3", "bucket": bucket, "prefix": "pg", "region": REGION, "endpoint_url": moto_endpoint,
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    res = runner.module("adhar.platform.db", dict(pg.login, operation="export", cluster="pg-s3", storage=storage,
                                                  encryption={"key": KEY}, retention={"keep_last": 1}))
    db = res["db"]
    assert db["complete"] and db["globals"] is True  # every database: globals included
    assert res["retention"]["deleted"] == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert "pg/%s/db/shop.dump.enc" % db["name"] in keys and "pg/%s/db/globals.sql.enc" % db["name"] in keys
    for key in keys:
        assert MARKER.encode() not in s3.get_object(Bucket=bucket, Key=key)["Body"].read(), key

    res = runner.module("adhar.platform.db", dict(pg.login, operation="import", backup="latest", cluster="pg-s3",
                                                  storage=storage, encryption={"key": KEY}, databases=["shop"],
                                                  target_databases={"shop": "shop_s3"}, jobs=2, globals=True))
    assert res["changed"] is True
    assert counts(pg, "shop_s3") == TABLES["shop"]
    assert res["db"]["globals"]["bytes"] > 0


def test_import_into_another_server_is_all_or_nothing(runner, pg, store):
    odd = "odd's \"db\" name"
    ident = '"%s"' % odd.replace('"', '""')
    pg.psql("DROP ROLE IF EXISTS app_owner; CREATE ROLE app_owner NOLOGIN")
    pg.psql("CREATE DATABASE %s OWNER app_owner" % ident)
    pg.psql("CREATE TABLE items (id int PRIMARY KEY); ALTER TABLE items OWNER TO app_owner; "
            "INSERT INTO items SELECT generate_series(1, 10)", odd)
    db = runner.module("adhar.platform.db", args(pg, store, operation="export", cluster="pg-cross", databases=[odd],
                                                 globals=True))["db"]
    assert db["globals"] is True and [d["name"] for d in db["databases"]] == [odd]

    other = pg_server.PgServer().start()
    try:
        # the owner role does not exist there: pg_restore fails and nothing is left behind
        res = runner.module("adhar.platform.db", dict(args(pg, store, operation="import", backup=db["name"]), **other.login),
                            expect_fail=True)
        assert 'role "app_owner" does not exist' in res["msg"] and "nothing of it was kept" in res["msg"], res["msg"]
        assert not [d for d in other.psql("SELECT datname FROM pg_database").splitlines()
                    if d == odd or d.startswith("adhar_import_")]
        # with the archive's globals the role is created first, and the import works
        res = runner.module("adhar.platform.db", dict(args(pg, store, operation="import", backup=db["name"], globals=True),
                                                      **other.login))
        assert res["changed"] is True and res["db"]["databases"][0]["target"] == odd
        assert any("globals" in w for w in res.get("warnings", []))  # CREATE ROLE adhar: exists already
        assert other.psql("SELECT count(*) FROM items", odd) == "10"
        assert other.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'items'", odd) == "app_owner"
        assert other.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s"
                          % "'%s'" % odd.replace("'", "''")) == "app_owner"
    finally:
        other.stop()
