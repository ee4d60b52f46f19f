#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db
short_description: Export and import PostgreSQL databases, tune server settings, report slow queries, run PgBouncer
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - O(operation=export) dumps PostgreSQL databases with C(pg_dump --format=custom) into a new archive in O(storage), the
    same local directories and S3 buckets the M(adhar.platform.backup) module uses, in the same format (see
    C(docs/backup-format.md)). Each dump streams from C(pg_dump) straight into the storage, encrypted on the way; it is
    never held in memory nor written anywhere in plaintext. Several databases are dumped at once (O(jobs)).
  - Dumps are always encrypted; an export without an O(encryption) key is refused.
  - A failed C(pg_dump) stops the export and leaves the archive without a manifest, so it is never listed as complete
    (retention removes it later).
  - O(operation=import) verifies the selected dumps first (size, SHA-256 and decryption of every byte; a tampered dump
    is refused before anything changes), then restores each one with C(pg_restore --single-transaction) into a fresh
    scratch database that is renamed to the target only when the restore succeeded. A failure drops the scratch
    database, so no half-imported database is left; with O(existing=replace) the old database is only dropped after
    its replacement was fully restored.
  - The PostgreSQL client programs of the host are used (C(pg_dump), C(pg_dumpall), C(pg_restore), C(psql) on E(PATH)
    or in O(pg_bin_dir)); their major version must be at least the server's. No Python database driver is needed.
  - O(operation=configure) sets server parameters (O(settings)) with C(ALTER SYSTEM) and reloads the configuration;
    parameters that need a restart are reported (RV(db.restart_required)) and the server is only restarted with
    O(restart=true). See C(docs/databases.md).
  - O(operation=slow_queries) reports the slowest statements from C(pg_stat_statements), or from the server log written
    by C(log_min_duration_statement) (the adhar Advanced Topics guide's slow-query logging, set with O(operation=configure)).
  - O(operation=pooler) runs a PgBouncer connection pooler in front of the server from the guide's C(pooler) block
    (C(maxConnections), C(poolMode)), see O(pooler).
  - Connection options left unset fall back to libpq's environment variables (E(PGHOST), E(PGPORT), E(PGUSER),
    E(PGPASSWORD), E(PGSSLMODE), E(PGSSLROOTCERT), E(PGPASSFILE)) and to C(~/.pgpass), as for C(psql).
extends_documentation_fragment:
  - adhar.platform.attributes
  - adhar.platform.storage
  - adhar.platform.storage.encryption
  - adhar.platform.retention
attributes:
  check_mode:
    support: full
    details:
      - Export lists the databases that would be dumped with their size on the server and writes nothing.
      - Import reads and verifies the archive and says which databases would be created, replaced or skipped; nothing
        is changed on the server.
      - Configure says which parameters would change and which would need a restart; pooler which files would change and
        whether PgBouncer would be started, reloaded or restarted; slow_queries does not create the extension.
  diff_mode:
    support: partial
    details:
      - Configure shows each changed parameter before and after; pooler shows C(pgbouncer.ini) and the roles of the auth
        file (never their secrets). Export and import have no diff.
options:
  operation:
    description:
      - V(export) dumps databases into a new archive; V(import) restores databases from an archive.
      - V(configure) sets server parameters (O(settings)).
      - V(slow_queries) reports the slowest statements.
      - V(pooler) configures and runs PgBouncer (O(pooler)).
      - O(storage) is required for V(export) and V(import) only.
    type: str
    required: true
    choices: [export, import, configure, slow_queries, pooler]
  databases:
    description:
      - Export, the databases to dump. Default, every non-template database that accepts connections and that the login
        role may connect to.
      - Import, the databases of the archive to restore. Default, every database in the archive.
      - A name that is not on the server (export) or not in the archive (import) is an error before anything is done.
    type: list
    elements: str
  exclude_databases:
    description:
      - Export only. Databases left out of the selection.
    type: list
    elements: str
    default: []
  target_databases:
    description:
      - Import only. Maps a database of the archive to the name it is imported under, for example C(app) to C(app_restored).
        Databases not listed keep their name.
    type: dict
    default: {}
  backup:
    description:
      - Import only, required there. The archive to import, or V(latest) for the newest complete database archive of
        O(cluster).
    type: str
  name:
    description:
      - Export only. Name of the new archive. Default C(<cluster>-db-<UTC YYYYMMDDhhmmss>).
      - Archives are written once; an existing name is an error.
    type: str
  cluster:
    description:
      - Name of the archive's source. It names the lock taken during an export, and the archives O(backup=latest) and
        O(retention) consider.
      - Default, the login host (O(login_host) or E(PGHOST)), or V(localhost) for a unix socket.
    type: str
  globals:
    description:
      - Export, also store roles and tablespaces (C(pg_dumpall --globals-only)) as C(db/globals.sql). Default V(true)
        when every database is exported (O(databases) not set), else V(false). A role that is not a superuser exports
        roles without their passwords.
      - Import, run the archive's globals with C(psql) before the databases are restored (statements for roles that
        exist already fail and are reported as a warning). Default V(false).
    type: bool
  jobs:
    description:
      - Export, how many databases are dumped at once.
      - Import, the number of parallel C(pg_restore) jobs per database. With more than one, the dump is decrypted to a
        private C(0600) temporary file (C(pg_restore --jobs) needs a seekable file) that is removed afterwards, and the
        restore is not a single transaction; the scratch database still makes the import all-or-nothing.
      - From 1 to 16.
    type: int
    default: 2
  create:
    description:
      - Import only. Create target databases that do not exist. With V(false), a missing target database is an error.
    type: bool
    default: true
  existing:
    description:
      - Import only. What to do when a target database exists.
      - V(fail) stops before anything is changed, naming the databases that exist.
      - V(replace) restores into a scratch database, then drops the existing database (disconnecting its sessions with
        C(DROP DATABASE ... WITH (FORCE))) and renames the scratch database.
      - V(skip) leaves it alone; a run where every database is skipped reports C(changed=false).
    type: str
    default: fail
    choices: [fail, replace, skip]
  no_owner:
    description:
      - Import only. Do not restore object ownership (C(pg_restore --no-owner)); objects belong to the login role. Needed
        when the archive's roles do not exist on the target server.
    type: bool
    default: false
  no_privileges:
    description:
      - Import only. Do not restore access privileges (C(pg_restore --no-privileges)).
    type: bool
    default: false
  retention:
    description:
      - Export only. After a successful export, delete older archives of O(cluster) in O(storage). The newest complete
        archive is always kept, and incomplete ones only once they are older than a day.
  login_host:
    description:
      - Host name or address of the PostgreSQL server. Default E(PGHOST), else the local unix socket.
      - There is no C(host) alias, so that C(host) always means the Kubernetes API server (O(adhar.platform.apply#module:host))
        to every module of the collection.
    type: str
  login_port:
    description:
      - Port of the PostgreSQL server. Default E(PGPORT), else 5432.
      - From 1 to 65535.
    type: int
    aliases: [port]
  login_user:
    description:
      - Role to connect as. Default E(PGUSER), else the name of the user running the module.
      - An export needs C(CONNECT) and read access on every selected database (the C(pg_read_all_data) role or a
        superuser); exporting globals with passwords needs a superuser. An import needs C(CREATEDB).
    type: str
    aliases: [login]
  login_password:
    description:
      - Password of O(login_user). Default E(PGPASSWORD), else C(~/.pgpass) or O(passfile).
    type: str
  login_unix_socket:
    description:
      - Directory of the server's unix socket, used when O(login_host) is not set.
    type: str
    aliases: [unix_socket]
  maintenance_db:
    description:
      - Database used to list databases and to create, drop and rename them.
    type: str
    default: postgres
  ssl_mode:
    description:
      - libpq C(sslmode). Default E(PGSSLMODE), else V(prefer).
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - CA certificate(s) to verify the server with (libpq C(sslrootcert)); use with O(ssl_mode=verify-full).
    type: path
    aliases: [ssl_rootcert]
  passfile:
    description:
      - A libpq password file to use instead of C(~/.pgpass).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for a connection.
      - V(0) waits without a limit (libpq's meaning); a negative value is an error.
    type: int
    default: 10
  pg_bin_dir:
    description:
      - Directory holding C(pg_dump), C(pg_dumpall), C(pg_restore) and C(psql) (and C(pg_ctl) for O(restart)), for
        example C(/usr/lib/postgresql/17/bin). Default, E(PATH).
    type: path
  settings:
    description:
      - Configure only, required there. Server parameters and their values, for example C(log_min_duration_statement)
        V(1000) and C(shared_buffers) V(256MB).
      - Values are compared the way PostgreSQL reads them, with the parameter's unit (V(250ms) and V(250) are the same
        C(log_min_duration_statement); V(128MB) and V(16384) the same C(shared_buffers) in 8kB blocks), with the value
        configured for the whole server (the configuration files, else the built-in default). Only parameters that
        differ are written, with C(ALTER SYSTEM) into C(postgresql.auto.conf); then the configuration is reloaded.
      - List parameters (C(shared_preload_libraries), C(search_path), ...) take a YAML list or comma-separated text.
      - Every parameter is checked before anything changes (known to the server, not read-only, type, unit, range,
        allowed values); any problem fails the task naming the parameter, with nothing changed. A value the server
        still refuses undoes the parameters written before it.
      - A parameter set on the server's command line (C(postgres -c)) cannot be changed by C(ALTER SYSTEM) and is an
        error when it would change.
      - Needs a superuser login (or, from PostgreSQL 15, C(GRANT ALTER SYSTEM ON PARAMETER)).
    type: dict
  restart:
    description:
      - Configure only. Restart the server when a parameter waits for a restart (context C(postmaster), for example
        C(shared_buffers) or C(shared_preload_libraries)), with C(pg_ctl restart -m fast) as the owner of O(pg_data_dir).
      - Only a server whose data directory is on the host running the module can be restarted; O(pg_data_dir) must be
        given and be the data directory of the server connected to. Without O(restart), the parameters waiting for a
        restart are listed in RV(db.restart_required) with a warning and the server is never restarted.
    type: bool
    default: false
  pg_data_dir:
    description:
      - Configure with O(restart=true). The data directory of the server (C(SHOW data_directory)) on this host.
    type: path
  server_log:
    description:
      - Slow_queries, the server log to read C(duration:) lines from when C(pg_stat_statements) is not used. Default,
        the logging collector's current file (C(pg_current_logfile())).
      - Configure with O(restart=true), the file C(pg_ctl) appends the restarted server's output to (default
        C(pg_ctl.log) in O(pg_data_dir)).
    type: path
  top:
    description:
      - Slow_queries only. How many statements to report, from 1 to 1000.
    type: int
    default: 10
  order_by:
    description:
      - Slow_queries only. V(mean_time), V(total_time), V(max_time) (milliseconds) or V(calls).
    type: str
    default: mean_time
    choices: [mean_time, total_time, max_time, calls]
  source:
    description:
      - Slow_queries only. V(pg_stat_statements), V(log) (the server log), or V(auto), C(pg_stat_statements) when it is
        installed in O(maintenance_db) and preloaded, else the log.
    type: str
    default: auto
    choices: [auto, pg_stat_statements, log]
  create_extension:
    description:
      - Slow_queries only. Create the C(pg_stat_statements) extension in O(maintenance_db) when it is missing. It must
        already be in C(shared_preload_libraries), which takes a server restart (O(operation=configure) with
        O(restart=true)); otherwise the task fails and nothing is changed.
    type: bool
    default: false
  pooler:
    description:
      - Pooler only, required there. A PgBouncer pooler in front of the server connected to (the login options).
      - PgBouncer authenticates clients with SCRAM-SHA-256 and logs in to the server with the same secrets, read from
        C(pg_authid) (a superuser login is needed); no password is written anywhere. Its files are written atomically,
        mode 0600, owned by O(pooler.run_as).
    type: dict
    suboptions:
      enabled:
        description:
          - V(false) stops a pooler run as a process and removes its files. Default V(true).
        type: bool
      max_connections:
        description:
          - The guide's C(maxConnections), PgBouncer's C(max_client_conn). Default V(100).
        type: int
        aliases: [maxConnections]
      pool_mode:
        description:
          - The guide's C(poolMode). Default V(transaction).
        type: str
        choices: [session, transaction, statement]
        aliases: [poolMode]
      default_pool_size:
        description:
          - Server connections per database and role. Default V(20).
        type: int
        aliases: [defaultPoolSize]
      listen_address:
        description:
          - Address PgBouncer listens on. Default V(127.0.0.1).
        type: str
      listen_port:
        description:
          - Port PgBouncer listens on. Default V(6432).
        type: int
      dir:
        description:
          - Required. Directory of C(pgbouncer.ini) and C(userlist.txt), and with O(pooler.run=process) of the pidfile,
            log and unix socket. Created (0700) when missing.
        type: path
      run:
        description:
          - V(process) runs C(pgbouncer) as a detached process tracked by a pidfile in O(pooler.dir); it is reloaded
            when its files change and restarted when its listen address or port change. Default.
          - V(service) only writes the files of an existing PgBouncer (for example Debian's C(pgbouncer) service with
            O(pooler.dir=/etc/pgbouncer)) and asks it to C(RELOAD) on its admin console; starting it is the service
            manager's job.
        type: str
        choices: [process, service]
      run_as:
        description:
          - System user that runs PgBouncer and owns its files. Required when the module runs as root (PgBouncer refuses
            to run as root) with O(pooler.run=process). With O(pooler.run=service) the files keep the owner of the
            existing C(pgbouncer.ini) when it is not given.
        type: str
      auth:
        description:
          - V(userlist), the auth file holds the secrets of O(pooler.users) and O(pooler.admin_users). Default.
          - V(auth_query), it holds the login role's only; PgBouncer looks up other roles on the server with it.
        type: str
        choices: [userlist, auth_query]
      users:
        description:
          - Roles that may connect through the pooler (O(pooler.auth=userlist)). Default, the login role.
        type: list
        elements: str
      admin_users:
        description:
          - Roles allowed on the admin console (database C(pgbouncer)). Default, the login role.
        type: list
        elements: str
      databases:
        description:
          - Databases offered through the pooler. Default, every database of the server.
        type: list
        elements: str
      options:
        description:
          - Further C([pgbouncer]) settings, for example C(server_idle_timeout) V(300).
        type: dict
      values:
        description:
          - The C(values) of the postgresql core service of an adhar config (key/value pairs); its C(pooler.enabled),
            C(pooler.maxConnections), C(pooler.poolMode) and C(pooler.defaultPoolSize) apply unless the option of
            that name is given. Other keys are ignored.
        type: list
        elements: dict
notes:
  - The target server of an import must have the roles that own the imported objects, unless O(no_owner) is set or
    O(globals=true) creates them.
  - Archives share O(storage) with cluster backups. When both are kept in one place, give database archives their own
    O(cluster) name (for example C(prod-db)) so that O(retention) and O(backup=latest) consider only database archives.
seealso:
  - module: adhar.platform.backup
  - module: adhar.platform.backup_info
requirements:
  - PostgreSQL client programs (C(pg_dump), C(pg_dumpall), C(pg_restore), C(psql)) on the host running the module.
  - cryptography (export and import)
  - boto3 (S3 storage only)
  - PgBouncer (O(operation=pooler); Debian/Ubuntu package C(pgbouncer))
"""

EXAMPLES = r"""
- name: Export every database of the production server to S3
  adhar.platform.db:
    operation: export
    login_host: db.prod.internal
    login_user: backup
    login_password: "{{ vault_pg_backup_password }}"
    ssl_mode: verify-full
    ca_cert: /etc/ssl/certs/prod-db-ca.pem
    cluster: prod-db
    storage:
      url: s3://acme-backups/postgres
      region: eu-west-1
    encryption:
      key_env: ADHAR_BACKUP_KEY
    retention:
      keep_last: 14
      max_age: 30d
  register: export

- name: Import the newest export under new names on another server, replacing earlier test copies
  adhar.platform.db:
    operation: import
    backup: latest
    cluster: prod-db
    login_host: db.staging.internal
    login_user: postgres
    login_password: "{{ vault_pg_staging_password }}"
    databases: [app, billing]
    target_databases:
      app: app_from_prod
      billing: billing_from_prod
    existing: replace
    no_owner: true
    storage:
      url: s3://acme-backups/postgres
      region: eu-west-1
    encryption:
      key_env: ADHAR_BACKUP_KEY

- name: Slow-query logging (the adhar Advanced Topics guide) and a reload
  adhar.platform.db:
    operation: configure
    login_host: db.prod.internal
    login_user: postgres
    login_password: "{{ vault_pg_admin_password }}"
    settings:
      log_min_duration_statement: 1s
      work_mem: 16MB

- name: Preload pg_stat_statements and restart the local server
  adhar.platform.db:
    operation: configure
    login_unix_socket: /var/run/postgresql
    settings:
      shared_preload_libraries: [pg_stat_statements]
    restart: true
    pg_data_dir: /var/lib/postgresql/17/main
    pg_bin_dir: /usr/lib/postgresql/17/bin

- name: The ten slowest statements
  adhar.platform.db:
    operation: slow_queries
    login_unix_socket: /var/run/postgresql
    create_extension: true
    order_by: total_time
  register: slow

- name: A PgBouncer pooler from the guide's settings
  adhar.platform.db:
    operation: pooler
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_admin_password }}"
    pooler:
      maxConnections: 100
      poolMode: transaction
      users: [app]
      dir: /var/lib/adhar/pgbouncer
      run_as: postgres

- name: What would an import do?
  adhar.platform.db:
    operation: import
    backup: prod-db-20260601020000
    storage:
      path: /var/backups/adhar
    encryption:
      key_file: /etc/adhar/backup.key
  check_mode: true
"""

RETURN = r"""
db:
  description: What was exported or imported.
  returned: always
  type: dict
  contains:
    operation:
      description: The operation run.
      type: str
      sample: export
    name:
      description: Export, the archive written.
      type: str
      returned: export
      sample: prod-db-20260601020000
    backup:
      description: Import, the archive read (V(latest) resolved).
      type: str
      returned: import
      sample: prod-db-20260601020000
    cluster:
      description: The archive's source name.
      type: str
      sample: prod-db
    complete:
      description: Export, whether the archive was committed (its manifest written).
      type: bool
      returned: export
    server_version:
      description: Version of the server connected to.
      type: str
      sample: "15.14 (Debian 15.14-0+deb12u1)"
    databases:
      description:
        - Per database. Export, C(name), C(bytes) (dump size), C(stored_bytes) (encrypted), C(size_on_server),
          C(tables), C(seconds).
        - Import, C(source), C(target), C(action) (V(create), V(replace) or V(skip)), C(changed), and for imported
          ones C(bytes), C(tables), C(seconds).
      type: list
      elements: dict
      sample:
        - {name: app, bytes: 10485, stored_bytes: 10601, size_on_server: 7893475, tables: 12, seconds: 0.41}
    globals:
      description: Export, whether roles and tablespaces were stored. Import (when run), C(bytes) and C(errors).
      type: raw
      returned: when not in check mode
    bytes:
      description: Total plaintext bytes of the dumps exported or imported.
      type: int
      returned: when not in check mode
    seconds:
      description: Wall-clock seconds of the whole operation.
      type: float
      returned: when not in check mode
    verify_seconds:
      description: Import, seconds spent verifying the dumps before anything was changed.
      type: float
      returned: import
    storage:
      description: Export, where the archive was written.
      type: str
      returned: export and not in check mode
      sample: s3://acme-backups/postgres
    settings:
      description: Configure, per parameter C(before) (configured for the server), C(after) (as given), C(changed),
        C(context) and C(restart_required).
      type: dict
      returned: configure
      sample: {log_min_duration_statement: {before: "-1", after: "250ms", changed: true, context: superuser,
               restart_required: false}}
    changed_settings:
      description: Configure, the parameters written.
      type: list
      elements: str
      returned: configure
    restart_required:
      description: Configure, parameters whose new value waits for a server restart (C(pg_settings.pending_restart)).
      type: list
      elements: str
      returned: configure
    reloaded:
      description: Configure, whether the configuration was reloaded (C(pg_reload_conf())).
      type: bool
      returned: configure
    restarted:
      description: Configure, whether the server was restarted (O(restart)).
      type: bool
      returned: configure
    source:
      description: Slow_queries, where the report comes from, V(pg_stat_statements) or V(log).
      type: str
      returned: slow_queries
    queries:
      description: Slow_queries, the statements, slowest first, with C(query), C(calls), C(total_ms), C(mean_ms),
        C(max_ms) (and C(rows), C(database), C(role) from C(pg_stat_statements)).
      type: list
      elements: dict
      returned: slow_queries
    table:
      description: Slow_queries, the same as a text table, one line per item.
      type: list
      elements: str
      returned: slow_queries
      sample: ["#  calls  total ms  mean ms   max ms  query", "1      3  3003.112 1001.037 1001.520  SELECT pg_sleep(1)"]
    pooler:
      description: Pooler, C(action) (V(started), V(reloaded), V(restarted), V(stopped), V(none)), C(config_file),
        C(auth_file), C(listen), C(server), C(pool_mode), C(max_client_conn), C(default_pool_size), C(users), and C(pid)
        and C(log) of a pooler run as a process.
      type: dict
      returned: pooler
retention:
  description: Archives deleted and kept by O(retention) after the export.
  returned: export with O(retention)
  type: dict
  contains:
    deleted:
      description: Names of the archives deleted.
      type: list
      elements: str
    kept:
      description: Names of the archives kept.
      type: list
      elements: str
    failed:
      description: Archives that could not be deleted, with the error.
      type: list
      elements: dict
"""

import copy

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import ENCRYPTION_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._db.dump import DB_ARG_SPEC, DB_BOUNDS
from ansible_collections.adhar.platform.plugins.module_utils._db.pooler import POOLER_ARG_SPEC, POOLER_BOUNDS
from ansible_collections.adhar.platform.plugins.module_utils._db.tune import TUNE_ARG_SPEC, TUNE_BOUNDS, run_any
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import STORAGE_ARG_SPEC


def argument_spec():
    spec = copy.deepcopy(DB_ARG_SPEC)
    spec.update(copy.deepcopy(STORAGE_ARG_SPEC))
    spec.update(copy.deepcopy(ENCRYPTION_ARG_SPEC))
    spec.update(copy.deepcopy(TUNE_ARG_SPEC))
    spec.update(copy.deepcopy(POOLER_ARG_SPEC))
    return spec


def main():
    module = AdharModule(argument_spec(), supports_check_mode=True,
                         required_if=[("operation", "export", ["storage"]), ("operation", "import", ["backup", "storage"]),
                                      ("operation", "configure", ["settings"]), ("operation", "pooler", ["pooler"])],
                         bounds=dict(DB_BOUNDS, **TUNE_BOUNDS, **POOLER_BOUNDS))
    module.run(run_any)


if __name__ == "__main__":
    main()
