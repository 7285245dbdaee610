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
    "pg_run": "/var/run/postgresql",  # unused by pgctld at the pin; the operator mounts it
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

# Source files that register several flags (paths in github.com/multigres/multigres).
_SERVENV = "go/common/servenv"
_TOPO = "go/common/topoclient/store.go"
_POOLER = "go/services/multipooler/init.go:127-225"
_LOGGING = "go/common/servenv/logging.go:129"
_PGCTLD_ROOT = "go/cmd/pgctld/command/root.go:80-230"
_PGCTLD_SERVER = "go/cmd/pgctld/command/server.go:70-114"
_CCM = "go/cmd/multigres/command/topo/createclustermetadata.go:31-48"

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
            "go/services/{multigateway/init.go:261, multiorch/config/config.go:173, "
            "multipooler/init.go:127}",
        ),
        "service_id": (
            "--service-id",
            "go/services/{multigateway/init.go, multiorch/config/config.go, multipooler/init.go}",
        ),
    },
    "multigateway": {"pg_port": ("--pg-port", "go/services/multigateway/init.go:261-276")},
    "multiorch": {
        "watch_targets": (
            "--watch-targets",
            "go/services/multiorch/config/config.go:96-125,173-233",
        )
    },
    "multipooler": {
        "database": ("--database", f"{_POOLER} (required: :385)"),
        "table_group": ("--table-group", f"{_POOLER} (required: :398)"),
        "shard": ("--shard", f"{_POOLER} (required: :402)"),
        "pgctld_addr": ("--pgctld-addr", f"{_POOLER} (default localhost:15200)"),
        "pooler_dir": ("--pooler-dir", _POOLER),
        "socket_file": ("--socket-file", _POOLER),
        "pg_port": ("--pg-port", _POOLER),
    },
    "pgctld": {
        "pooler_dir": ("--pooler-dir", f"{_PGCTLD_ROOT} (required: :282)"),
        "grpc_port": ("--grpc-port", _PGCTLD_SERVER),
        "http_port": ("--http-port", _PGCTLD_SERVER),
        "pg_port": ("--pg-port", _PGCTLD_ROOT),
        "pg_listen_addresses": ("--pg-listen-addresses", _PGCTLD_ROOT),
        "log_level": ("--log-level", _LOGGING),
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
