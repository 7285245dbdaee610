"""Postgres sized from the `postgres` container's resources (the built-in parameter layer).

Every rule is a pure function of the resolved spec, so the same XR always renders the
same postgresql.conf. Sources, per rule (docs/postgres-configuration.md has the table):

- shared_buffers = 25% of memory: PGTune, CloudNativePG's docs ("25% of the memory"),
  the upstream multigres-operator (pkg/postgresconfig/sizing.go) and the PostgreSQL
  manual ("a reasonable starting value ... is 25% of the memory").
- effective_cache_size = 75% of memory: PGTune and the upstream operator.
- maintenance_work_mem = memory / 16, at most 2GB: PGTune and the upstream operator.
- work_mem = (memory - shared_buffers) / (3 x max_connections) / parallel workers per
  gather, at least 64kB: PGTune's formula, as the upstream operator uses it.
- max_connections = 120, not from memory: the connections Postgres sees are the
  multipooler's pools (100 + 5 admin by default at the pinned commit:
  go/services/multipooler/internal/connpoolmanager/config.go:172-187), plus probes,
  multiorch and pgBackRest, plus 3 superuser-reserved. Fewer starve the pool; more are
  never opened, but each slot costs shared memory and divides work_mem.
- max_wal_size = 25% of the data volume, 64MB..4GB: pgctld's own rule at initdb
  (go/services/pgctld/walsize.go), here from spec.multipooler.storage.size so that it
  follows a volume expansion, where pgctld's stays at the size the volume had at initdb.
- CPU (limit, else request) from 4 cores up: max_worker_processes = max(6, cores),
  max_parallel_workers = cores, max_parallel_workers_per_gather and
  max_parallel_maintenance_workers = min(ceil(cores / 2), 4): PGTune's rule, which
  leaves small pods at pgctld's template values (6 / 2 / 1 / 1).

Memory is the container's limit: it is what the kernel enforces (shared buffers count
against it). Without a limit nothing says how much memory the pod may use, so Postgres is
sized as for CONSERVATIVE_MEMORY and the status says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from function.api_parts import Resources
from function.pgparams import BASE_UNITS, base_value, table
from function.quantity import quantity

KIB: Final = 1024
MIB: Final = 1024 * KIB
GIB: Final = 1024 * MIB

#: Sizing basis when the postgres container has no memory limit (the built-in limit).
CONSERVATIVE_MEMORY: Final = 512 * MIB
MAX_CONNECTIONS: Final = 120
MAINTENANCE_WORK_MEM_CAP: Final = 2 * GIB
WORK_MEM_FLOOR: Final = 64 * KIB
MAX_WAL_SIZE_BOUNDS: Final = (64 * MIB, 4 * GIB)
PARALLEL_FROM_CORES: Final = 4
TEMPLATE_WORKER_PROCESSES: Final = 6  # pgctld's template (config/postgres/template.cnf:64)


@dataclass(frozen=True, slots=True)
class Sizing:
    """The sized parameters, and what they were sized from (for the status)."""

    parameters: dict[str, str] = field(default_factory=dict)
    basis: str = ""
    memory_limit: int | None = None  # bytes; None: no limit (sized as CONSERVATIVE_MEMORY)


def size_text(b: int) -> str:
    """Bytes as a postgresql.conf size, in the largest unit that divides it (kB floor)."""
    kb = max(b // KIB, 0)
    if kb and kb % (KIB * KIB) == 0:
        return f"{kb // (KIB * KIB)}GB"
    if kb and kb % KIB == 0:
        return f"{kb // KIB}MB"
    return f"{kb}kB"


def _mb_floor(b: int) -> int:
    return b // MIB * MIB


def _bytes(name: str, b: int) -> str:
    """A memory size for `name`, inside the server's bounds for it (pg_parameters.json):
    on a very large container 75% of memory is more than effective_cache_size can hold."""
    p = table()[name]
    unit = BASE_UNITS[p.unit or "kB"] * KIB
    assert p.min is not None and p.max is not None
    lo, hi = int(p.min * unit), int(p.max * unit)
    return size_text(min(max(b, lo), hi // MIB * MIB))


def _cores(res: Resources) -> int:
    cpu = res.limits.get("cpu") or res.requests.get("cpu")
    return int(quantity(cpu)) if cpu is not None else 0


def _user_int(user: Mapping[str, str], name: str, default: int) -> int:
    """A user value the sizing divides by (already validated), in its base unit."""
    if name not in user:
        return default
    return int(base_value(table()[name], user[name]))


def size(res: Resources, storage: str, user: Mapping[str, str] | None = None) -> Sizing:
    """The built-in parameters for a postgres container with `res` and a volume of `storage`.

    work_mem divides what shared_buffers leaves by max_connections and the parallel
    workers per gather: where the user set one of those three, it divides by the user's.
    """
    user = user or {}
    limit = res.limits.get("memory")
    memory = int(quantity(limit)) if limit is not None else CONSERVATIVE_MEMORY
    cores = _cores(res)
    per_gather = 1
    out: dict[str, str] = {"max_connections": str(MAX_CONNECTIONS)}
    if cores >= PARALLEL_FROM_CORES:
        per_gather = min(math.ceil(cores / 2), 4)
        out["max_worker_processes"] = str(max(TEMPLATE_WORKER_PROCESSES, cores))
        out["max_parallel_workers"] = str(cores)
        out["max_parallel_workers_per_gather"] = str(per_gather)
        out["max_parallel_maintenance_workers"] = str(per_gather)
    shared = _mb_floor(memory // 4)
    conns = _user_int(user, "max_connections", MAX_CONNECTIONS)
    per_gather = max(_user_int(user, "max_parallel_workers_per_gather", per_gather), 1)
    used = _user_int(user, "shared_buffers", shared // 8192) * 8192
    out["shared_buffers"] = _bytes("shared_buffers", shared)
    out["effective_cache_size"] = _bytes("effective_cache_size", _mb_floor(memory * 3 // 4))
    out["maintenance_work_mem"] = _bytes(
        "maintenance_work_mem", min(memory // 16, MAINTENANCE_WORK_MEM_CAP)
    )
    work = max(memory - used, 0) // (3 * conns) // per_gather
    out["work_mem"] = _bytes("work_mem", max(work, WORK_MEM_FLOOR))
    lo, hi = MAX_WAL_SIZE_BOUNDS
    out["max_wal_size"] = _bytes(
        "max_wal_size", min(max(_mb_floor(int(quantity(storage)) // 4), lo), hi)
    )
    cpu_note = f", {cores} cores" if cores >= PARALLEL_FROM_CORES else ""
    if limit is None:
        basis = (
            "the postgres container has no memory limit: Postgres is sized as for "
            f"{CONSERVATIVE_MEMORY // MIB}Mi (conservative); set "
            "spec.multipooler.resources.postgres.limits.memory to size it"
        )
    else:
        basis = f"sized from limits.memory {limit}{cpu_note} and storage {storage}"
    return Sizing(dict(sorted(out.items())), basis, memory if limit is not None else None)
