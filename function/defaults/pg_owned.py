"""PostgreSQL parameters the cluster owns, each with the reason a user value is refused.

A user value for one of these would either be ignored (pgctld passes it on the postgres
command line, which wins over any file), be overwritten (multipooler and multiorch set
it with ALTER SYSTEM, whose postgresql.auto.conf wins over our file), or break what
Multigres relies on (replication, pg_rewind, backups). Refusing them with the reason is
honest; accepting them would be a silent no-op or an outage. Sources are files of the
pinned Multigres commit (MULTIGRES_COMMIT in upstream.py).
"""

from __future__ import annotations

from typing import Final

_CMDLINE = (
    "pgctld passes it on the postgres command line (go/cmd/pgctld/command/start.go:263), "
    "which wins over postgresql.conf"
)
_FILES = (
    "pgctld points it at the pod's data directory (go/services/pgctld/postgresconfig_gen.go:67-70)"
)
_BACKUP = (
    "multipooler sets it for pgBackRest in postgresql.auto.conf "
    "(go/services/multipooler/internal/manager/backup/archive.go:104-110)"
)
_RESTORE = (
    "multipooler's pgBackRest restore and replication manage it "
    "(go/services/multipooler/internal/manager/pg_replication.go:516-540)"
)
_REPLICATION = (
    "multipooler sets it with ALTER SYSTEM when multiorch assigns primary and standbys "
    "(go/services/multipooler/internal/manager/pg_replication.go)"
)
_DURABILITY = (
    "the durability policy owns it: multipooler's SyncStandbyManager is its only writer "
    "(go/services/multipooler/internal/manager/consensus/sync_standby_manager.go:94)"
)
_RECOVERY = "a recovery target would stop a standby's replay; restores are run by multipooler"

#: name -> why a user may not set it.
OWNED: Final[dict[str, str]] = {
    "port": _CMDLINE,
    "listen_addresses": _CMDLINE,
    "unix_socket_directories": _CMDLINE,
    "config_file": _CMDLINE,
    "data_directory": _FILES,
    "hba_file": _FILES + "; pg_hba comes from the composed template ConfigMap",
    "ident_file": _FILES,
    "external_pid_file": "pgctld tracks the postmaster through its pid file in the data directory",
    "archive_mode": _BACKUP,
    "archive_command": _BACKUP,
    "archive_library": _BACKUP + "; a library would replace archive_command",
    "restore_command": _RESTORE,
    "archive_cleanup_command": _RESTORE,
    "recovery_end_command": _RESTORE,
    "primary_conninfo": _REPLICATION,
    "primary_slot_name": _REPLICATION,
    "synchronous_standby_names": _DURABILITY,
    "synchronous_commit": _DURABILITY
    + "; the gateway refuses it too (go/services/multigateway/planner/restricted_guc.go:41)",
    "recovery_target": _RECOVERY,
    "recovery_target_action": _RECOVERY,
    "recovery_target_inclusive": _RECOVERY,
    "recovery_target_lsn": _RECOVERY,
    "recovery_target_name": _RECOVERY,
    "recovery_target_time": _RECOVERY,
    "recovery_target_timeline": _RECOVERY,
    "recovery_target_xid": _RECOVERY,
    "wal_level": "Multigres requires wal_level=logical (config/postgres/template.cnf:84); "
    "lower levels break its replication",
    "hot_standby": "standbys must serve reads: the pooler's readiness probe and multiorch "
    "query them",
    "wal_log_hints": "pg_rewind, which pgctld runs when a former primary rejoins "
    "(go/cmd/pgctld/command/rewind.go), needs it on",
    "full_page_writes": "pg_rewind and crash safety need it on",
    "allow_alter_system": "multipooler and multiorch configure replication with ALTER SYSTEM",
    "password_encryption": "pg_hba uses scram-sha-256 for every connection "
    "(function/defaults/pg_hba.py); md5 verifiers would lock users out",
}
