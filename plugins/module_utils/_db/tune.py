# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL server settings and slow-query reports (the ``db`` module's ``configure`` and ``slow_queries``).

``configure``: every requested parameter is checked against the server's
``pg_settings`` (name, ``vartype``, ``unit``, ``min_val``/``max_val``,
``enumvals``, ``context``) and converted to the parameter's base unit the way
PostgreSQL does it (``'250ms'`` and ``250`` are the same ``log_min_duration_statement``,
``'128MB'`` and ``16384`` the same ``shared_buffers`` in 8kB blocks), before
anything is changed.  The value compared with is the one configured for the
whole server: the last entry of the configuration files (``pg_file_settings``,
``postgresql.auto.conf`` included), else the built-in default.  Changed
parameters are written with ``ALTER SYSTEM`` (one statement each; ALTER SYSTEM
cannot run in a transaction, so a statement the server still refuses undoes the
ones before it), then ``pg_reload_conf()`` applies them; parameters of context
``postmaster`` only take effect after a restart, reported from
``pg_settings.pending_restart``.  The server is restarted only with
``restart: true`` and ``pg_data_dir`` naming its data directory on this host
(``pg_ctl restart``, run as the owner of the data directory).

``slow_queries``: the top statements from ``pg_stat_statements`` when it is
installed and preloaded, otherwise from the server log lines written by
``log_min_duration_statement`` (``duration: ... ms  statement: ...``).
"""

from __future__ import annotations

import math
import os
import re
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import run_once
from ansible_collections.adhar.platform.plugins.module_utils._common.args import at_least
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_bounds
from ansible_collections.adhar.platform.plugins.module_utils._db.dump import (
    PgClient,
    _tail,
    check_paths,
    quote_ident,
    quote_literal,
    run_db,
)
from ansible_collections.adhar.platform.plugins.module_utils._db.pooler import run_pooler

MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60000.0, "h": 3600000.0, "d": 86400000.0}
BOOL_WORDS = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
# Parameters whose value is a list (each element written as its own literal, so that "a,b" is two libraries).
LIST_PARAMS = frozenset(("search_path", "shared_preload_libraries", "session_preload_libraries", "local_preload_libraries",
                         "temp_tablespaces", "unix_socket_directories", "listen_addresses", "log_destination",
                         "default_text_search_config"))
ORDER_BY = {"mean_time": "mean_ms", "total_time": "total_ms", "max_time": "max_ms", "calls": "calls"}
SLOW_SOURCES = ("auto", "pg_stat_statements", "log")
MAX_TOP = 1000
MAX_LOG_BYTES = 256 * 1024 * 1024  # only the end of a bigger log is read
_NUMBER_RE = re.compile(r"^\s*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_UNIT_RE = re.compile(r"^([0-9]*)([A-Za-z]+)$")
_LOG_RE = re.compile(r"duration: ([0-9]+(?:\.[0-9]+)?) ms\s+(?:statement|execute [^:]*): (.*)$")
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_.]*$")

TUNE_ARG_SPEC = {
    "settings": {"type": "dict"},
    "restart": {"type": "bool", "default": False},
    "pg_data_dir": {"type": "path"},
    "top": {"type": "int", "default": 10},
    "order_by": {"type": "str", "default": "mean_time", "choices": list(ORDER_BY)},
    "source": {"type": "str", "default": "auto", "choices": list(SLOW_SOURCES)},
    "create_extension": {"type": "bool", "default": False},
    "server_log": {"type": "path"},
}
TUNE_BOUNDS = {"top": at_least(1, MAX_TOP)}
CONFIGURE_ONLY = ("settings", "restart", "pg_data_dir")
SLOW_ONLY = ("create_extension",)


# -- values --------------------------------------------------------------------

def _base_unit(unit):
    """``(family table, factor of pg_settings' unit)`` for a unit such as ``8kB`` or ``ms``; ``(None, 1)`` without."""
    if not unit:
        return None, 1
    match = _UNIT_RE.match(unit)
    if not match:
        return None, 1
    count = int(match.group(1) or 1)
    for table in (MEMORY_UNITS, TIME_UNITS):
        if match.group(2) in table:
            return table, count * table[match.group(2)]
    return None, 1


def _value_text(value):
    """The text of a value given in YAML (booleans as on/off, lists joined)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def list_items(value):
    """Elements of a list parameter: a YAML list, or text split at commas (quotes removed)."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for item in items:
        text = str(item).strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].replace('""', '"')
        if text:
            out.append(text)
    return out


def _parse_bool(text):
    word = text.strip().lower()
    if word in BOOL_WORDS:
        return BOOL_WORDS[word]
    hits = {v for k, v in BOOL_WORDS.items() if len(word) >= 2 and k.startswith(word) or word in ("t", "f", "y", "n")
            and k.startswith(word)}
    if len(hits) == 1:
        return hits.pop()
    return None


def normalise(row, value):
    """``value`` converted like PostgreSQL does for the parameter described by pg_settings ``row``.

    Returns a comparable value (int/float in the base unit, ``on``/``off``, a lower-case enum label, a tuple for
    lists, text); raises ValueError with the rule that was broken.
    """
    name, vartype = row["name"], row["vartype"]
    text = _value_text(value)
    if name in LIST_PARAMS:
        return tuple(list_items(value))
    if vartype == "bool":
        parsed = _parse_bool(text)
        if parsed is None:
            raise ValueError("%r is not a boolean (on, off, true, false, yes, no, 1, 0)" % text)
        return "on" if parsed else "off"
    if vartype == "enum":
        choices = row.get("enumvals") or []
        for choice in choices:
            if choice.lower() == text.strip().lower():
                return choice.lower()
        raise ValueError("%r is not one of %s" % (text, ", ".join(choices)))
    if vartype in ("integer", "real"):
        match = _NUMBER_RE.match(text)
        if not match:
            raise ValueError("%r is not a number%s" % (text, " (with an optional unit)" if row.get("unit") else ""))
        number, suffix = float(match.group(1)), match.group(2)
        table, factor = _base_unit(row.get("unit"))
        if suffix:
            if table is None or suffix not in table:
                units = ", ".join(table) if table else "none: this parameter takes a plain number"
                raise ValueError("unit %r is not valid here (valid units: %s)" % (suffix, units))
            number = number * table[suffix] / factor
        if vartype == "integer":
            number = int(round(number))
        low, high = row.get("min_val"), row.get("max_val")
        if low not in (None, "") and number < float(low) or high not in (None, "") and number > float(high):
            raise ValueError("%s is outside the allowed range %s to %s%s" % (
                _value_text(number), low, high, " (in units of %s)" % row["unit"] if row.get("unit") else ""))
        return number
    return text


def same(left, right):
    if isinstance(left, float) or isinstance(right, float):
        try:
            return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return left == right


def sql_value(name, value):
    """The right-hand side of ``ALTER SYSTEM SET name = ...`` (one literal per element of a list parameter)."""
    if name in LIST_PARAMS:
        items = list_items(value)
        return ", ".join(quote_literal(i) for i in items) if items else "''"
    return quote_literal(_value_text(value))


# -- reading the server --------------------------------------------------------

def read_settings(client, names):
    rows = client.query_json(
        "SELECT name, setting, unit, vartype, context, source, min_val, max_val, enumvals, boot_val, reset_val, "
        "pending_restart, current_setting(name) AS display FROM pg_settings WHERE name = ANY(ARRAY[%s]::text[])"
        % ", ".join(quote_literal(n) for n in names))
    return {r["name"]: r for r in rows}


def read_file_settings(client, names):
    """``{name: (setting text, source file)}`` of the configuration files (last entry wins; values waiting for a
    restart included), or ``None`` when the login role may not read ``pg_file_settings`` (superusers may)."""
    try:
        rows = client.query_json(
            "SELECT name, setting, sourcefile FROM pg_file_settings WHERE (error IS NULL OR error = 'setting could not be "
            "applied') AND name = ANY(ARRAY[%s]::text[]) ORDER BY seqno" % ", ".join(quote_literal(n) for n in names))
    except AdharError as exc:
        if "permission denied" in exc.msg:
            return None
        raise
    out = {}
    for row in rows:
        out[row["name"]] = (row["setting"], row["sourcefile"] or "")
    return out


def configured_value(row, files):
    """``(normalised, text)``: the value configured for the whole server (files, else the built-in default)."""
    if files is not None:
        if row["name"] in files:
            text = files[row["name"]][0]
            return normalise(row, text), text
        return normalise(row, row["boot_val"]), _display(row, row["boot_val"])
    # without pg_file_settings: the value the server runs with (or would after a restart, for pending changes)
    return normalise(row, row["setting"]), row["display"]


def _display(row, base_text):
    if row.get("unit") and base_text not in (None, ""):
        return "%s (%s)" % (base_text, row["unit"])
    return base_text


# -- configure -----------------------------------------------------------------

def _check_only(params, operation, own, others):
    wrong = [o for o in others if o not in own and params.get(o) not in (None, False, [], {})]
    if wrong:
        raise AdharError("%s does not apply to operation=%s" % (", ".join(wrong), operation), option=wrong[0])


def plan_settings(client, wanted):
    """Per requested parameter, what is configured and what is wanted; every problem raised at once, nothing changed."""
    names = {}
    for key in wanted:
        name = str(key).strip().lower()
        if not _NAME_RE.match(name):
            raise AdharError("settings: %r is not a PostgreSQL parameter name" % key, option="settings")
        if name in names.values():
            raise AdharError("settings names %s twice" % name, option="settings")
        names[key] = name
    rows = read_settings(client, list(names.values()))
    files = read_file_settings(client, list(names.values()))
    problems, plan = [], []
    for key, name in names.items():
        row = rows.get(name)
        if row is None:
            if "." not in name:
                problems.append("%s: unknown parameter (not in pg_settings of this server)" % name)
                continue
            # a custom (extension) parameter that is not loaded: text, always written when it differs
            row = {"name": name, "vartype": "string", "context": "user", "unit": None, "setting": None,
                   "display": None, "boot_val": None, "source": "default", "pending_restart": False}
        if row["context"] == "internal":
            problems.append("%s: a read-only parameter (context internal) that no configuration can change" % name)
            continue
        try:
            want = normalise(row, wanted[key])
        except ValueError as exc:
            problems.append("%s: %s" % (name, exc))
            continue
        if row["setting"] is None:
            have = have_text = files[name][0] if files and name in files else None
        else:
            have, have_text = configured_value(row, files)
        change = have is None or not same(have, want)
        if change and row.get("source") in ("command line", "override"):
            problems.append("%s: set on the server's command line (postgres -c), which overrides ALTER SYSTEM; change "
                            "it where the server is started" % name)
            continue
        plan.append({"name": name, "before": have_text, "after": _value_text(wanted[key]), "changed": change,
                     "context": row["context"], "value": wanted[key],
                     "restart_needed": row["context"] == "postmaster"})
    if problems:
        raise AdharError("nothing was changed: %s" % "; ".join(problems), option="settings", problems=problems)
    return plan, files


def server_data_dir(client, params):
    """The data directory the module may restart (``pg_data_dir``), checked against the server's; else an error."""
    path = params.get("pg_data_dir")
    if not path:
        raise AdharError("restart: true needs pg_data_dir, the data directory of the server on this host (it is "
                         "restarted with pg_ctl); a server run by something else (a service manager, an operator, a "
                         "managed database) must be restarted there", option="restart")
    if not os.path.isfile(os.path.join(path, "PG_VERSION")):
        raise AdharError("pg_data_dir: %s is not a PostgreSQL data directory (no PG_VERSION)" % path, option="pg_data_dir")
    try:
        actual = client.query_json("SELECT current_setting('data_directory') AS d")[0]["d"]
    except AdharError as exc:
        raise AdharError("pg_data_dir: cannot read the server's data_directory to check it (%s)" % exc.msg,
                         option="pg_data_dir") from None
    if os.path.realpath(actual) != os.path.realpath(path):
        raise AdharError("pg_data_dir: %s is not the data directory of the server connected to (%s); the module only "
                         "restarts the server it is connected to" % (path, actual), option="pg_data_dir")
    return os.path.realpath(path)


def restart_server(client, data_dir, server_log=None):
    """``pg_ctl restart -m fast -w`` as the owner of ``data_dir`` (PostgreSQL refuses to run as root)."""
    stat = os.stat(data_dir)
    log = server_log or os.path.join(data_dir, "pg_ctl.log")
    argv = client.command("pg_ctl", "restart", "-D", data_dir, "-m", "fast", "-w", "-t", "120", "-l", log)
    owner = (stat.st_uid, stat.st_gid) if os.geteuid() == 0 and stat.st_uid != 0 else None
    started = time.monotonic()
    proc = run_once(argv, what="pg_ctl restart of %s" % data_dir, env=dict(client.env, LC_ALL="C"), cwd=data_dir,
                    timeout=300, user=owner)
    if proc.returncode != 0:
        output = _tail((proc.stdout + proc.stderr).decode("utf-8", "replace"))
        raise AdharError("pg_ctl restart of %s failed (exit %d): %s" % (data_dir, proc.returncode, output))
    return round(time.monotonic() - started, 3)


def _apply(client, plan, files):
    """ALTER SYSTEM for each change; a refused statement undoes the earlier ones (back to the previous auto.conf)."""
    done = []
    for entry in plan:
        try:
            client.execute("ALTER SYSTEM SET %s = %s" % (quote_ident(entry["name"]), sql_value(entry["name"], entry["value"])))
        except AdharError as exc:
            for prev in reversed(done):
                old = (files or {}).get(prev["name"])
                if old and old[1].endswith("postgresql.auto.conf"):
                    sql = "ALTER SYSTEM SET %s = %s" % (quote_ident(prev["name"]), sql_value(prev["name"], old[0]))
                else:
                    sql = "ALTER SYSTEM RESET %s" % quote_ident(prev["name"])
                try:
                    client.execute(sql)
                except AdharError:
                    pass
            raise AdharError("nothing was changed: the server refused %s = %s: %s"
                             % (entry["name"], entry["after"], exc.details.get("stderr") or exc.msg),
                             option="settings", parameter=entry["name"]) from None
        done.append(entry)


def _wait_applied(client, plan, deadline=10.0):
    """After pg_reload_conf(): the settings rows once new backends see the reloaded values (or pending_restart)."""
    names = [p["name"] for p in plan]
    stop = time.monotonic() + deadline
    while True:
        rows = read_settings(client, names)
        waiting = []
        for entry in plan:
            row = rows.get(entry["name"])
            if row is None or not entry["changed"] or row["pending_restart"] or row["source"] not in (
                    "configuration file", "default"):
                continue
            try:
                if not same(normalise(row, row["setting"]), normalise(row, entry["value"])):
                    waiting.append(entry["name"])
            except ValueError:
                pass
        if not waiting or time.monotonic() > stop:
            return rows
        time.sleep(0.2)


def run_configure(params, check_mode=False, diff_mode=False):
    _check_only(params, "configure", CONFIGURE_ONLY, CONFIGURE_ONLY + SLOW_ONLY)
    settings = params.get("settings")
    if not settings:
        raise AdharError("operation=configure needs settings: a dict of PostgreSQL parameters, for example "
                         "{log_min_duration_statement: 1000}", option="settings")
    client = PgClient(params)
    server = client.server_info()
    plan, files = plan_settings(client, settings)
    data_dir = server_data_dir(client, params) if params.get("restart") else None
    changes = [p for p in plan if p["changed"]]
    result = {"operation": "configure", "server_version": server["version"], "reloaded": False, "restarted": False}
    if check_mode:
        rows = read_settings(client, [p["name"] for p in plan])
        pending = sorted({p["name"] for p in changes if p["restart_needed"]} |
                         {n for n, r in rows.items() if r["pending_restart"]})
        restart = bool(params.get("restart") and pending)
        result.update(check_mode=True, restart_required=[] if restart else pending, restarted=restart)
    else:
        if changes:
            _apply(client, changes, files)
            client.execute("SELECT pg_reload_conf()")
            result["reloaded"] = True
        rows = _wait_applied(client, plan) if changes else read_settings(client, [p["name"] for p in plan])
        pending = sorted(n for n, r in rows.items() if r["pending_restart"])
        if pending and params.get("restart"):
            result["restart_seconds"] = restart_server(client, data_dir, params.get("server_log"))
            result["restarted"] = True
            rows = read_settings(client, [p["name"] for p in plan])
            pending = sorted(n for n, r in rows.items() if r["pending_restart"])
        result["restart_required"] = pending
    result["settings"] = {p["name"]: {"before": p["before"], "after": p["after"], "changed": p["changed"],
                                      "context": p["context"], "restart_required": p["name"] in result["restart_required"]}
                          for p in plan}
    result["changed_settings"] = [p["name"] for p in changes]
    out = {"changed": bool(changes) or result["restarted"], "db": result}
    if result["restart_required"]:
        out["warnings"] = ["restart required: %s only take effect after the server restarts (restart: true with "
                           "pg_data_dir restarts a server on this host)" % ", ".join(result["restart_required"])]
    if diff_mode and changes:
        out["diff"] = {"before": "".join("%s = %s\n" % (p["name"], p["before"]) for p in changes),
                       "after": "".join("%s = %s\n" % (p["name"], p["after"]) for p in changes),
                       "before_header": "postgresql.auto.conf", "after_header": "postgresql.auto.conf"}
    return out


# -- slow queries --------------------------------------------------------------

def _pgss_state(client):
    rows = client.query_json(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed, "
        "current_setting('shared_preload_libraries') AS preload, "
        "(SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available, "
        "current_setting('log_min_duration_statement') AS log_min")
    row = rows[0]
    row["preloaded"] = "pg_stat_statements" in list_items(row["preload"] or "")
    return row


def _from_pgss(client, server, top, order_by):
    if server["num"] >= 130000:
        cols = "total_exec_time AS total_ms, mean_exec_time AS mean_ms, max_exec_time AS max_ms"
    else:
        cols = "total_time AS total_ms, mean_time AS mean_ms, max_time AS max_ms"
    rows = client.query_json(
        "SELECT s.query, s.calls, s.rows, %s, d.datname AS database, pg_get_userbyid(s.userid) AS role "
        "FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid "
        "WHERE s.query NOT LIKE '%%pg_stat_statements%%' ORDER BY %s DESC NULLS LAST LIMIT %d"
        % (cols, ORDER_BY[order_by], top))
    for row in rows:
        for key in ("total_ms", "mean_ms", "max_ms"):
            row[key] = round(float(row[key] or 0), 3)
    return rows


def read_slow_log(path, top, order_by):
    """Statements of ``duration: N ms  statement: ...`` lines of a server log, grouped by text."""
    stats = {}
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - MAX_LOG_BYTES))
            current = None
            for raw in handle:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if current is not None and line.startswith("\t"):
                    current["text"] += " " + line.strip()
                    continue
                if current is not None:
                    _add(stats, current)
                    current = None
                match = _LOG_RE.search(line)
                if match:
                    current = {"ms": float(match.group(1)), "text": match.group(2).strip()}
            if current is not None:
                _add(stats, current)
    except OSError as exc:
        raise AdharError("server_log: cannot read %s: %s" % (path, exc.strerror or exc), option="server_log") from None
    rows = []
    for query, st in stats.items():
        rows.append({"query": query, "calls": st["calls"], "total_ms": round(st["total"], 3),
                     "mean_ms": round(st["total"] / st["calls"], 3), "max_ms": round(st["max"], 3)})
    rows.sort(key=lambda r: r[ORDER_BY[order_by]], reverse=True)
    return rows[:top]


def _add(stats, entry):
    query = " ".join(entry["text"].split())
    st = stats.setdefault(query, {"calls": 0, "total": 0.0, "max": 0.0})
    st["calls"] += 1
    st["total"] += entry["ms"]
    st["max"] = max(st["max"], entry["ms"])


def _log_path(client, params):
    if params.get("server_log"):
        return params["server_log"]
    try:
        row = client.query_json("SELECT pg_current_logfile() AS f, current_setting('data_directory') AS d")[0]
    except AdharError:
        row = {}
    if not row.get("f"):
        raise AdharError("the server log is not known: set server_log to the file the server writes its log to (the "
                         "logging collector, logging_collector = on, makes the server say where it is)", option="server_log")
    return row["f"] if os.path.isabs(row["f"]) else os.path.join(row["d"], row["f"])


def format_table(rows):
    """A fixed-width text table of the report, one string per line."""
    head = ("#", "calls", "total ms", "mean ms", "max ms", "query")
    body = [(str(i + 1), str(r["calls"]), "%.3f" % r["total_ms"], "%.3f" % r["mean_ms"], "%.3f" % r["max_ms"],
             (r["query"] if len(r["query"]) <= 100 else r["query"][:97] + "...").replace("\n", " ")) for i, r in enumerate(rows)]
    widths = [max(len(x[c]) for x in [head] + body) for c in range(5)]
    lines = []
    for row in [head] + body:
        lines.append("  ".join(row[c].rjust(widths[c]) for c in range(5)) + "  " + row[5])
    return lines


def run_slow_queries(params, check_mode=False):
    _check_only(params, "slow_queries", SLOW_ONLY, CONFIGURE_ONLY + SLOW_ONLY)
    client = PgClient(params)
    server = client.server_info()
    state = _pgss_state(client)
    source = params.get("source") or "auto"
    top, order_by = params.get("top") or 10, params.get("order_by") or "mean_time"
    changed, warnings = False, []
    if params.get("create_extension") and not state["installed"]:
        if not state["available"]:
            raise AdharError("create_extension: pg_stat_statements is not available on the server (install the "
                             "PostgreSQL contrib package)", option="create_extension")
        if not state["preloaded"]:
            raise AdharError("create_extension: pg_stat_statements must be in shared_preload_libraries first (now %r): "
                             "set it with operation=configure, settings: {shared_preload_libraries: pg_stat_statements}, "
                             "then restart the server; nothing was changed" % (state["preload"] or ""),
                             option="create_extension")
        if not check_mode:
            client.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        changed = True
        state["installed"] = True
    use_pgss = bool(state["installed"] and state["preloaded"])
    if source == "pg_stat_statements" and not use_pgss:
        raise AdharError("source=pg_stat_statements: the extension is %s in database %s%s" % (
            "installed" if state["installed"] else "not installed",
            client.maintenance_db, "" if state["preloaded"] else " and not in shared_preload_libraries (a restart is "
                                                                 "needed after adding it)"), option="source")
    if source == "log" or not use_pgss:
        if source == "auto" and not state["installed"]:
            warnings.append("pg_stat_statements is not installed in %s: the report comes from the server log (create_"
                            "extension: true installs it once it is in shared_preload_libraries)" % client.maintenance_db)
        if str(state["log_min"]).strip() == "-1":
            warnings.append("slow-query logging is off (log_min_duration_statement = -1): set it with operation=configure")
        path = _log_path(client, params)
        rows = [] if check_mode and changed else read_slow_log(path, top, order_by)
        used = "log"
    else:
        rows = [] if check_mode and changed else _from_pgss(client, server, top, order_by)
        used = "pg_stat_statements"
        path = None
    result = {"operation": "slow_queries", "source": used, "order_by": order_by, "top": top, "queries": rows,
              "table": format_table(rows), "log_min_duration_statement": state["log_min"],
              "server_version": server["version"]}
    if path:
        result["server_log"] = path
    out = {"changed": changed, "db": result}
    if warnings:
        out["warnings"] = warnings
    return out


def validate_tune(params):
    check_bounds(params, TUNE_BOUNDS)
    check_paths(params)
    for option in ("pg_data_dir",):
        if params.get(option) and not os.path.isdir(params[option]):
            raise AdharError("%s: %s is not a directory" % (option, params[option]), option=option)


# options of export/import that mean nothing to the other operations
ARCHIVE_ONLY = ("databases", "exclude_databases", "target_databases", "backup", "name", "globals", "retention", "storage",
                "encryption", "no_owner", "no_privileges")


def run_any(module):
    """The ``db`` module's body: export/import (dump.py), configure, slow_queries and pooler."""
    params = module.params
    op = params["operation"]
    tune_options = CONFIGURE_ONLY + SLOW_ONLY + ("server_log", "pooler")
    if op in ("export", "import"):
        _check_only(params, op, (), tune_options)
        return run_db(module)
    wrong = [o for o in ARCHIVE_ONLY if params.get(o) not in (None, False, [], {})]
    if wrong:
        raise AdharError("%s only applies to operation=export and import" % ", ".join(wrong), option=wrong[0])
    validate_tune(params)
    if op == "configure":
        _check_only(params, op, CONFIGURE_ONLY + ("server_log",), tune_options)
        return run_configure(params, module.check_mode, module.diff_mode)
    if op == "slow_queries":
        _check_only(params, op, SLOW_ONLY + ("server_log",), tune_options)
        return run_slow_queries(params, module.check_mode)
    _check_only(params, op, ("pooler",), tune_options)
    return run_pooler(params, module.check_mode, module.diff_mode)
