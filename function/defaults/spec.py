"""Built-in defaults for the XMultigres spec (the lowest layer: XR > Input > these)."""

from __future__ import annotations

from typing import Final

from function.defaults.upstream import IMAGES

DEFAULT_CELL: Final = "zone1"

#: Container resources per component (requests and limits), after the upstream operator.
RESOURCES: Final = {
    "etcd": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    "multigateway": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "multiorch": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    "multipooler": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "postgres": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    "multiadmin": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
}

ETCD_REPLICAS: Final = 3
ETCD_STORAGE: Final = "1Gi"
GATEWAY_REPLICAS: Final = 2
ORCH_REPLICAS: Final = 1
#: Three: AT_LEAST_2 must recruit 2 survivors after losing the primary (docs/operations.md).
POOLER_REPLICAS_PER_CELL: Final = 3
POOLER_STORAGE: Final = "10Gi"
BACKUP_PATH: Final = "/backups"
BACKUP_STORAGE: Final = "10Gi"
POSTGRES_PORT: Final = 5432
AUTOSCALING_TARGET_CPU: Final = 80

#: Every pooler restores from and archives to one shared repository, so by default the
#: backup volume must be mountable from every node (docs/operations.md#backups).
BACKUP_ACCESS_MODES: Final = ("ReadWriteMany",)

#: multiorch timing (upstream: 4s + up to 8s jitter, 5s health checks, 1s cycles). A
#: failover waits out one grace period per problem, usually two in a row; these halve
#: upstream's base (docs/operations.md#failover-timing).
MULTIORCH_TIMING: Final = {
    "grace_period_base": "2s",
    "pooler_health_check_interval": "2s",
    "recovery_cycle_interval": "1s",
}
#: gracePeriodMaxJitter when unset. The jitter only keeps several orchestrators watching
#: the same shard (every cell runs its own, all watch the one shard) from starting rival
#: elections at once; with a single orchestrator there is nobody to race and it is pure
#: delay (measured: 2.8 s and 2.1 s of the two grace periods of one failover). Several:
#: twice the base, as upstream keeps it.
MULTIORCH_JITTER_ALONE: Final = "0s"
MULTIORCH_JITTER_SEVERAL: Final = "4s"

#: Bounds that keep every generated name inside its Kubernetes limit (see docs/naming).
MAX_XR_NAME: Final = 25
MAX_CELL_NAME: Final = 19
MAX_CELLS: Final = 50

__all__ = ["IMAGES"]
