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
    "password_dir": "/etc/postgres-password",
    "password_file": "/etc/postgres-password/password",
    "etcd_data": "/var/lib/etcd",
    "tmp": "/tmp",
}

#: Topology layout in etcd.
TOPO_GLOBAL_ROOT: Final = "/multigres/global"
DATABASE: Final = "postgres"
TABLE_GROUP: Final = "default"
SHARD: Final = "0-inf"

#: Health endpoints (HTTP) of the Multigres servers and of etcd's metrics listener.
HEALTH: Final = {"ready": "/ready", "live": "/live", "etcd_ready": "/readyz", "etcd_live": "/livez"}

#: Flag names, by the binary that registers them.
FLAGS: Final = {
    "common": {
        "http_port": "--http-port",
        "grpc_port": "--grpc-port",
        "hostname": "--hostname",
        "log_level": "--log-level",
        "topo_addresses": "--topo-global-server-addresses",
        "topo_root": "--topo-global-root",
        "cell": "--cell",
        "service_id": "--service-id",
    },
    "multigateway": {"pg_port": "--pg-port"},
    "multiorch": {"watch_targets": "--watch-targets"},
    "multipooler": {
        "database": "--database",
        "table_group": "--table-group",
        "shard": "--shard",
        "pgctld_addr": "--pgctld-addr",
        "pooler_dir": "--pooler-dir",
        "socket_file": "--socket-file",
        "pg_port": "--pg-port",
    },
    "pgctld": {
        "pooler_dir": "--pooler-dir",
        "grpc_port": "--grpc-port",
        "http_port": "--http-port",
        "pg_port": "--pg-port",
        "pg_listen_addresses": "--pg-listen-addresses",
        "grpc_socket_file": "--grpc-socket-file",
        "log_level": "--log-level",
    },
    "createclustermetadata": {
        "topo_address": "--global-topo-address",
        "topo_root": "--global-topo-root",
        "cells": "--cells",
        "durability_policy": "--durability-policy",
        "backup_location": "--backup-location",
    },
}

#: Environment variables pgctld reads for initdb (Docker-postgres conventions).
PGCTLD_ENV: Final = {
    "user": "POSTGRES_USER",
    "password_file": "POSTGRES_PASSWORD_FILE",
    "initdb_args": "POSTGRES_INITDB_ARGS",
    "pgdata": "PGDATA",
}

#: Durability policies createclustermetadata accepts.
DURABILITY_POLICIES: Final = ("AT_LEAST_2", "MULTI_CELL_AT_LEAST_2")

#: Log levels every Multigres server accepts.
LOG_LEVELS: Final = ("debug", "info", "warn", "error")
