#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db
short_description: Export and import PostgreSQL databases to and from encrypted backup storage
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
  - Connection options left unset fall back to libpq's environment variables (E(PGHOST), E(PGPORT), E(PGUSER),
    E(PGPASSWORD), E(PGSSLMODE), E(PGSSLROOTCERT), E(PGPASSFILE)) and to C(~/.pgpass), as for C(psql).
extends_documentation_fragment:
  - adhar.platform.attributes
  - adhar.platform.storage
  - adhar.platform.storage.encryption
attributes:
  check_mode:
    support: full
    details:
      - Export lists the databases that would be dumped with their size on the server and writes nothing.
      - Import reads and verifies the archive and says which databases would be created, replaced or skipped; nothing
        is changed on the server.
  diff_mode:
    support: none
options:
  operation:
    description:
      - V(export) dumps databases into a new archive; V(import) restores databases from an archive.
    type: str
    required: true
    choices: [export, import]
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
    type: dict
    suboptions:
      keep_last:
        description:
          - Keep at most this many complete archives of O(cluster).
          - At least 1.
        type: int
      max_age:
        description:
          - Delete complete archives older than this, for example V(30d), V(72h), V(4w) (a bare number is days).
        type: str
  login_host:
    description:
      - Host name or address of the PostgreSQL server. Default E(PGHOST), else the local unix socket.
    type: str
    aliases: [host]
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
      - Directory holding C(pg_dump), C(pg_dumpall), C(pg_restore) and C(psql), for example C(/usr/lib/postgresql/17/bin).
        Default, E(PATH).
    type: path
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
  - cryptography
  - boto3 (S3 storage only)
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
      description: V(export) or V(import).
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

from ansible_collections.adhar.platform.plugins.module_utils.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils.crypto_envelope import ENCRYPTION_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils.pg_dump import DB_ARG_SPEC, DB_BOUNDS, run_db
from ansible_collections.adhar.platform.plugins.module_utils.storage import STORAGE_ARG_SPEC


def argument_spec():
    spec = copy.deepcopy(DB_ARG_SPEC)
    spec.update(copy.deepcopy(STORAGE_ARG_SPEC))
    spec.update(copy.deepcopy(ENCRYPTION_ARG_SPEC))
    return spec


def main():
    module = AdharModule(argument_spec(), supports_check_mode=True, required_if=[("operation", "import", ["backup"])],
                         bounds=DB_BOUNDS)
    module.run(run_db)


if __name__ == "__main__":
    main()
