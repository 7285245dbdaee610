"""The one table of upstream facts: images, ports, paths and flag names.

Every Multigres flag the function passes is named here, so an upstream rename is a
one-line change. Each entry was read from the source of the pinned Multigres commit
(see docs/upstream-multigres.md for the file each one comes from).
"""

from __future__ import annotations

from typing import Final

#: The Multigres commit every default image and flag is pinned to.
MULTIGRES_COMMIT: Final = "66d2310"

IMAGES: Final = {
    "multigres": f"ghcr.io/multigres/multigres:sha-{MULTIGRES_COMMIT}",
    "pgctld": f"ghcr.io/multigres/pgctld:sha-{MULTIGRES_COMMIT}",
    "etcd": "gcr.io/etcd-development/etcd:v3.6.7",
}

#: Container ports by component, as the upstream operator assigns them.
PORTS: Final = {
    "multigateway": {"http": 15100, "grpc": 15170, "postgres": 5432},
    "multipooler": {"http": 15200, "grpc": 15270},
    "multiorch": {"http": 15300, "grpc": 15370},
    "pgctld": {"http": 15400, "grpc": 15470, "postgres": 5432},
    "etcd": {"client": 2379, "peer": 2380, "metrics": 2381},
    "multiadmin": {"http": 18000, "grpc": 18070},
    "pgbackrest": {"tls": 8432},
}

#: User and group ids baked into the images.
UIDS: Final = {"multigres": 65532, "pgctld": 999}

#: Binaries and file-system paths inside the images.
PATHS: Final = {
    "multigres_bin": "/multigres/bin",
    "pgctld_bin": "/usr/local/bin/pgctld",
    "pooler_dir": "/var/lib/pooler",
    "pg_socket_dir": "/var/lib/pooler/pg_sockets",
    "pg_data": "/var/lib/pooler/pg_data",
    "pg_run": "/var/run/postgresql",  # unused by pgctld at the pin; the operator mounts it
    "password_dir": "/etc/postgres-password",
    "password_file": "/etc/postgres-password/password",
    "etcd_data": "/var/lib/etcd",
    "tmp": "/tmp",
    "pg_hba_dir": "/etc/pgctld",
    "pg_hba_template": "/etc/pgctld/pg_hba_template.conf",
    "pgbackrest_cert_dir": "/certs/pgbackrest",  # written per pod by the cert init container
    "pgbackrest_ca_dir": "/etc/pgbackrest-ca",  # the CA Secret, mounted only there
    "bash": "/bin/bash",
}

#: Files pgctld reads from --pgbackrest-cert-dir (and multipooler is pointed at).
PGBACKREST_CERT_FILES: Final = {"ca": "ca.crt", "cert": "pgbackrest.crt", "key": "pgbackrest.key"}

#: The pgBackRest stanza every pooler uses (go/common/backup/clientconfig.go:74); its
#: files are {repo path}/backup/<stanza>/ and {repo path}/archive/<stanza>/.
STANZA: Final = "multigres"

#: The client certificate's CN the pgBackRest TLS server authorises (tls-server-auth).
PGBACKREST_CLIENT_CN: Final = "pgbackrest"

#: Topology layout in etcd.
TOPO_GLOBAL_ROOT: Final = "/multigres/global"
DATABASE: Final = "postgres"
TABLE_GROUP: Final = "default"
SHARD: Final = "0-inf"

#: Health endpoints (HTTP) of the Multigres servers and of etcd's metrics listener.
HEALTH: Final = {"ready": "/ready", "live": "/live", "etcd_ready": "/readyz", "etcd_live": "/livez"}

# Source files that register several flags (paths in github.com/multigres/multigres).
_LOGGING = "go/common/servenv/logging.go:129"
_SERVENV = "go/common/servenv"
_TOPO = "go/common/topoclient/store.go"
_POOLER_FLAGS = "go/services/multipooler/init.go:127-225"
_POOLER = "go/services/multipooler/init.go"
_ORCH = "go/services/multiorch/config/config.go"
_PGCTLD_ROOT = "go/cmd/pgctld/command/root.go"
_PGCTLD_SERVER = "go/cmd/pgctld/command/server.go"
_PGCTLD_FLAGS = "go/cmd/pgctld/command/root.go:80-230"
_PGCTLD_SERVE = "go/cmd/pgctld/command/server.go:70-114"
_CCM = "go/cmd/multigres/command/topo/createclustermetadata.go:31-48"
_PGBACKREST_CERT = (
    f"{_POOLER}:185-189,259 (default /certs/pgbackrest.crt; the client cert of a standby"
    " backup: internal/manager/rpc_backup.go:200-245)"
)
_PGBACKREST_CERT_DIR = (
    f"{_PGCTLD_SERVER}:78-82,113,356-369; file names: go/common/backup/serverconfig.go:83-85"
)
_PG_HBA_TEMPLATE = (
    f"{_PGCTLD_ROOT}:125-128,219,289-297 (read at start, rendered with text/template at"
    " initdb only: go/services/pgctld/postgresconfig_gen.go:128-131,196-206,245-257;"
    " built-in: config/postgres/pg_hba_template.conf)"
)
_PG_INITDB_EXTRA_CONF = (
    f"{_PGCTLD_ROOT}:154-158,225 (include_if_exists appended at initdb, re-read at every"
    " start and reload: go/services/pgctld/postgresconfig_gen.go:124,137-176)"
)

#: Every flag the function passes, by the binary that registers it: the flag, and where
#: it is registered at MULTIGRES_COMMIT (docs/flags.md is generated from this table).
FLAG_TABLE: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "common": {
        "http_port": ("--http-port", f"{_SERVENV}/servenv.go:396"),
        "grpc_port": ("--grpc-port", f"{_SERVENV}/grpc_server.go:223"),
        "hostname": ("--hostname", f"{_SERVENV}/servenv.go:398"),
        "log_level": ("--log-level", _LOGGING),
        "topo_addresses": ("--topo-global-server-addresses", f"{_TOPO}:352"),
        "topo_root": ("--topo-global-root", f"{_TOPO}:353"),
        "cell": (
            "--cell",
            "go/services/{multigateway/init.go:261,"
            " multiorch/config/config.go:173,"
            " multipooler/init.go:127}",
        ),
        "service_id": (
            "--service-id",
            "go/services/{multigateway/init.go, multiorch/config/config.go, multipooler/init.go}",
        ),
        "service_map": (
            "--service-map",
            f"{_SERVENV}/servenv.go:181-185,401; multiadmin enables nothing by"
            " default: go/services/multiadmin/init.go:60-77,117",
        ),
    },
    "multigateway": {
        "pg_port": ("--pg-port", "go/services/multigateway/init.go:261-276"),
    },
    "multiorch": {
        "watch_targets": ("--watch-targets", f"{_ORCH}:96-125,173-233"),
        "grace_period_base": (
            "--leader-failover-grace-period-base",
            f"{_ORCH}:213-218,341 (default 4s; per problem:"
            " recovery/recovery_grace_period.go:99-116,"
            " actions/appoint_leader.go:146-151)",
        ),
        "grace_period_max_jitter": (
            "--leader-failover-grace-period-max-jitter",
            f"{_ORCH}:219-224,342 (default 8s, clamped to 1m:"
            " recovery/recovery_grace_period.go:28-32)",
        ),
        "pooler_health_check_interval": (
            "--pooler-health-check-interval",
            f"{_ORCH}:195-200,338 (default 5s)",
        ),
        "recovery_cycle_interval": (
            "--recovery-cycle-interval",
            f"{_ORCH}:207-212,340 (default 1s)",
        ),
    },
    "multipooler": {
        "database": ("--database", f"{_POOLER_FLAGS} (required: :385)"),
        "table_group": ("--table-group", f"{_POOLER_FLAGS} (required: :398)"),
        "shard": ("--shard", f"{_POOLER_FLAGS} (required: :402)"),
        "pgctld_addr": ("--pgctld-addr", f"{_POOLER_FLAGS} (default localhost:15200)"),
        "pooler_dir": ("--pooler-dir", _POOLER_FLAGS),
        "socket_file": ("--socket-file", _POOLER_FLAGS),
        "pg_port": ("--pg-port", _POOLER_FLAGS),
        "pgbackrest_cert_file": ("--pgbackrest-cert-file", _PGBACKREST_CERT),
        "pgbackrest_key_file": ("--pgbackrest-key-file", f"{_POOLER}:190-194,260"),
        "pgbackrest_ca_file": ("--pgbackrest-ca-file", f"{_POOLER}:195-199,261"),
        "pgbackrest_port": (
            "--pgbackrest-port",
            f"{_POOLER}:200-204,262 (default 8432; advertised in the topology: init.go:425)",
        ),
    },
    "pgctld": {
        "pooler_dir": ("--pooler-dir", f"{_PGCTLD_FLAGS} (required: :282)"),
        "grpc_port": ("--grpc-port", _PGCTLD_SERVE),
        "http_port": ("--http-port", _PGCTLD_SERVE),
        "pg_port": ("--pg-port", _PGCTLD_FLAGS),
        "pg_listen_addresses": ("--pg-listen-addresses", _PGCTLD_FLAGS),
        "log_level": ("--log-level", _LOGGING),
        "pg_hba_template": ("--pg-hba-template", _PG_HBA_TEMPLATE),
        "pg_initdb_extra_conf": ("--pg-initdb-extra-conf", _PG_INITDB_EXTRA_CONF),
        "pgbackrest_port": ("--pgbackrest-port", f"{_PGCTLD_SERVER}:73-77,112 (0 = no TLS: :356)"),
        "pgbackrest_cert_dir": ("--pgbackrest-cert-dir", _PGBACKREST_CERT_DIR),
    },
    "createclustermetadata": {
        "topo_address": ("--global-topo-address", _CCM),
        "topo_root": ("--global-topo-root", _CCM),
        "cells": ("--cells", _CCM),
        "durability_policy": (
            "--durability-policy",
            f"{_CCM}; values: go/common/consensus/durability.go:31-39",
        ),
        "backup_location": ("--backup-location", _CCM),
    },
}

#: Flag names, by binary (what the builders read).
FLAGS: Final = {b: {k: f for k, (f, _) in t.items()} for b, t in FLAG_TABLE.items()}

#: Where each flag is registered, by binary (what docs/flags.md shows).
SOURCES: Final = {b: {k: src for k, (_, src) in t.items()} for b, t in FLAG_TABLE.items()}

#: Environment variables pgctld reads for initdb (Docker-postgres conventions).
PGCTLD_ENV: Final = {
    "user": "POSTGRES_USER",
    "password_file": "POSTGRES_PASSWORD_FILE",
    "initdb_args": "POSTGRES_INITDB_ARGS",
    "pgdata": "PGDATA",
}

#: The --service-map entry that turns on multiadmin's gRPC API (multiadmin calls no
#: InitServiceMap of its own, so without it the CLI has nothing to talk to).
MULTIADMIN_SERVICE: Final = "grpc-multiadmin"

#: multiorch's own defaults for the timing flags (go/services/multiorch/config/config.go).
MULTIORCH_UPSTREAM_DEFAULTS: Final = {
    "grace_period_base": "4s",
    "grace_period_max_jitter": "8s",
    "pooler_health_check_interval": "5s",
    "recovery_cycle_interval": "1s",
}

#: Durability policies createclustermetadata accepts.
DURABILITY_POLICIES: Final = ("AT_LEAST_2", "MULTI_CELL_AT_LEAST_2")

#: Log levels every Multigres server accepts.
LOG_LEVELS: Final = ("debug", "info", "warn", "error")

#: Environment variables, with the file that reads them.
ENV_SOURCES: Final = {
    "PGDATA": "go/cmd/pgctld/command/root.go:286; go/services/multipooler/init.go:406",
    "POSTGRES_USER": "go/cmd/pgctld/command/root.go:80-230",
    "POSTGRES_PASSWORD_FILE": "go/cmd/pgctld/command/root.go:406; "
    "go/services/multipooler/internal/connpoolmanager/config.go:425-471",
    "POSTGRES_INITDB_ARGS": "go/cmd/pgctld/command/root.go:80-230",
}

#: Other upstream behaviour the builders rely on, with where it is (docs/flags.md lists them).
FACTS: Final = {
    "pgBackRest cert dir file names": (
        ", ".join(PGBACKREST_CERT_FILES.values()),
        "go/common/backup/serverconfig.go:83-85; go/cmd/pgctld/command/server.go:113",
    ),
    "pgBackRest client CN the TLS server authorises": (
        PGBACKREST_CLIENT_CN,
        "config/pgbackrest/pgbackrest_server_template.conf:9 (tls-server-auth=pgbackrest=*)",
    ),
    "standby backup dials the primary by its registered hostname": (
        "--pg2-host=<hostname> --pg2-host-type=tls",
        "go/services/multipooler/internal/manager/rpc_backup.go:191-245",
    ),
    "pgBackRest checks IP subjectAltNames from 2.53": (
        "tlsClientHostVerifyIPAddr",
        "pgbackrest src/common/io/tls/client.c (commit dfb620b, release/2.53)",
    ),
    "standbys are created by restoring the shared backup": (
        "filesystem repository shared by every pooler",
        "go/services/multipooler/internal/manager/rpc_first_backup.go:101-106",
    ),
    "pg_hba template rendered only at initdb": (
        "existing data directories keep their pg_hba.conf",
        "go/cmd/pgctld/command/init.go:97-112; go/services/pgctld/postgresconfig_gen.go:128-131",
    ),
    "built-in pg_hba allows replication from loopback only": (
        "host replication all 127.0.0.1/32 / ::1/128",
        "config/postgres/pg_hba_template.conf:27-29",
    ),
    "multigateway registers synchronously, 10 s, then exits": (
        "no flag",
        "go/services/multigateway/init.go:418-442",
    ),
    "multipooler and multiorch register asynchronously with retries": (
        "no start-order need",
        "go/services/multipooler/internal/manager/pooler_record.go:283-308; "
        "go/services/multiorch/init.go:151",
    ),
    "multigateway /ready: registered and >= 1 pooler discovered (not: a primary exists)": (
        "no write signal",
        "go/services/multigateway/init.go:605-618",
    ),
    "multipooler and pgctld /ready: gRPC accepting only": (
        "no Postgres signal",
        "go/services/multipooler/init.go:475-490; go/cmd/pgctld/command/server.go:166-181",
    ),
    "multigres CLI talks to multiadmin's gRPC port": (
        "--admin-server host:18070",
        "go/cmd/multigres/command/admin/client.go:62-75",
    ),
}
