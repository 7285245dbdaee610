"""What a spec can and cannot survive, beyond readiness: FailoverCapable and
BackupVolumeShared (conditions, and a Warning when the cluster cannot fail over)."""

from __future__ import annotations

from typing import Any

from function.conditions import Cond
from function.resolve import Cluster

Obj = dict[str, Any]


def _survivors_enough(c: Cluster) -> tuple[bool, str]:
    """Whether the shard can elect a new primary after losing the current one.

    AT_LEAST_2 must recruit 2 poolers besides the lost primary's term
    (go/common/consensus/durability.go:31-39; measured: 2 instances never recovered),
    MULTI_CELL_AT_LEAST_2 needs the survivors to span 2 cells.
    """
    mp = c.spec.multipooler
    per_cell = mp.autoscaling.min_replicas if mp.autoscaling.enabled else mp.replicas_per_cell
    cells = len(c.spec.cells)
    total = per_cell * cells
    if c.spec.postgres.durability_policy == "MULTI_CELL_AT_LEAST_2":
        ok = cells >= 3 or (cells == 2 and per_cell >= 2)
        what = f"{per_cell} Postgres instance(s) in each of {cells} cells"
        need = "survivors in 2 cells"
    else:
        ok = total >= 3
        what = f"{total} Postgres instance(s) in all"
        need = "2 survivors"
    return ok, f"{what}; durabilityPolicy {c.spec.postgres.durability_policy} needs {need}"


def capability(c: Cluster, observed: dict[str, Obj]) -> tuple[list[Cond], list[str]]:
    """Conditions (and Warnings) about what this spec can do, beyond readiness."""
    conds: list[Cond] = []
    warnings: list[str] = []
    ok, why = _survivors_enough(c)
    if ok:
        conds.append(Cond("FailoverCapable", "True", "SurvivesPrimaryLoss", why))
    else:
        msg = (
            f"this cluster cannot fail over: {why}, so losing the primary stops writes until "
            "it returns; set spec.multipooler.replicasPerCell to 3 (docs/operations.md#failover)"
        )
        conds.append(Cond("FailoverCapable", "False", "TooFewInstances", msg))
        warnings.append(msg)
    conds.append(_backup_condition(c, observed))
    return conds, warnings


def _backup_condition(c: Cluster, observed: dict[str, Obj]) -> Cond:
    b = c.spec.backup
    typ = "BackupVolumeShared"
    if b.existing_claim:
        return Cond(
            typ,
            "Unknown",
            "ExistingClaim",
            f"every pooler mounts PVC {b.existing_claim}: it must be ReadWriteMany unless all "
            "poolers run on one node",
        )
    if "ReadWriteMany" not in b.storage.access_modes:
        return Cond(
            typ,
            "False",
            "NotReadWriteMany",
            f"the backup volume is {'/'.join(b.storage.access_modes)}: only poolers on the node "
            "that mounts it can start; fine on a single node, use ReadWriteMany on several",
        )
    phase = ((observed.get("backup-pvc") or {}).get("status") or {}).get("phase")
    if phase == "Bound":
        return Cond(typ, "True", "ReadWriteMany", "every pooler mounts one ReadWriteMany volume")
    if phase is None:
        return Cond(typ, "Unknown", "NotObserved", "the backup claim is not observed yet")
    cls = b.storage.storage_class_name or "the default StorageClass"
    # Pending is also the normal state of a WaitForFirstConsumer claim for a moment at
    # start, so this is a condition, not a Warning event on every reconcile.
    msg = (
        f"the backup claim is {phase}; if it stays so, {cls} probably cannot provision "
        "ReadWriteMany volumes (every pooler, on any node, mounts it): use a class that can, "
        "or on a single-node cluster set spec.backup.storage.accessModes: [ReadWriteOnce] "
        "(docs/operations.md#backups)"
    )
    return Cond(typ, "False", "ClaimNotBound", msg)
