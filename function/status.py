"""XR status: per-component replica counts, phase, endpoint, conditions and events.

Pure: takes the resolved cluster, the desired objects, the observed objects and
their readiness verdicts; returns the status dict plus the conditions and results
for fn.py to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from function.resolve import Cluster
from function.safety import Kept

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cond:
    typ: str
    status: str
    reason: str
    message: str = ""


@dataclass(slots=True)
class Report:
    status: Obj
    conditions: list[Cond] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    normals: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.status["phase"] == "Healthy"


def _replicas(kind: str, obs: Obj | None, want: int) -> Obj:
    st = (obs or {}).get("status") or {}
    key = "readyReplicas" if kind == "StatefulSet" else "availableReplicas"
    ready = int(st.get(key) or 0)
    return {"replicas": int(want), "readyReplicas": ready, "ready": bool(obs) and ready >= want}


def _want(desired: Obj, obs: Obj | None, hpa: int | None) -> int:
    if hpa is not None:
        return hpa
    spec = desired.get("spec") or {}
    if "replicas" in spec:
        return int(spec["replicas"])
    return int(((obs or {}).get("spec") or {}).get("replicas") or 0)


def _crash_looping(obs: Obj | None) -> str:
    """A failure a workload's own status shows (pods are not observed by the function)."""
    for c in ((obs or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return c.get("message") or "rollout exceeded its progress deadline"
        if c.get("type") == "Failed" and c.get("status") == "True":
            return c.get("message") or c.get("reason") or "job failed"
    return ""


def summarize(
    c: Cluster,
    desired: dict[str, Obj],
    observed: dict[str, Obj],
    verdicts: dict[str, tuple[bool, str]],
    hpa_wants: dict[str, int | None],
    previous: Obj,
    generation: int,
) -> Report:
    """Build the XR status and the conditions/events that go with it."""

    def comp(key: str) -> Obj:
        d = desired[key]
        return _replicas(
            d["kind"], observed.get(key), _want(d, observed.get(key), hpa_wants.get(key))
        )

    gw = desired["multigateway-service"]
    port = gw["spec"]["ports"][0]["port"]
    cells = {
        cell: {
            "multigateway": comp(f"{cell}-multigateway-deployment"),
            "multiorch": comp(f"{cell}-multiorch-deployment"),
            "multipooler": comp(f"{cell}-pooler-statefulset"),
        }
        for cell in c.cell_names
    }
    job_ok, _ = verdicts["topology-job"]
    status: Obj = {
        "endpoints": {"postgres": f"{gw['metadata']['name']}.{c.namespace}.svc:{port}"},
        "etcd": comp("etcd-statefulset"),
        "topology": {"registered": job_ok, "job": desired["topology-job"]["metadata"]["name"]},
        "cells": cells,
        "observedGeneration": generation,
    }

    not_ready = sorted(f"{k} ({why})" for k, (ok, why) in verdicts.items() if not ok)
    any_ready = any(ok for ok, _ in verdicts.values())
    failures = sorted(f"{k}: {msg}" for k in desired if (msg := _crash_looping(observed.get(k))))
    # A spec change (new generation) explains lost readiness: that is progress, not damage.
    spec_changed = int(previous.get("observedGeneration") or 0) != generation
    lost = [] if spec_changed else _lost_readiness(previous, status)
    still = previous.get("phase") == "Degraded" and not spec_changed and bool(not_ready)
    if failures or lost or still:
        phase = "Degraded"
        reasons = failures + [f"{x} lost ready replicas" for x in lost]
        if not reasons:
            reasons = [f"still not ready: {', '.join(not_ready[:5])}"]
        message = "; ".join(reasons)
    elif not not_ready:
        phase, message = "Healthy", f"all {len(verdicts)} resources ready"
    elif not any_ready:
        phase, message = "Initializing", f"waiting for {len(not_ready)} resources"
    else:
        phase = "Progressing"
        message = f"{len(not_ready)}/{len(verdicts)} resources not ready: " + ", ".join(
            not_ready[:5]
        )
        if len(not_ready) > 5:
            message += ", ..."
    status["phase"], status["message"] = phase, message

    report = Report(status=status)
    # The condition names what is not ready, without the per-resource detail (replica
    # counts) that status.message gives: Crossplane writes conditions in a second status
    # update, so a message that changed with every pod made each pod transition cost two
    # XR watch events instead of one (the XR's own events count against Crossplane's watch
    # circuit breaker too; docs/operations.md#circuit-breaker).
    report.conditions.append(
        Cond("ComponentsReady", "True", "AllReady", message)
        if not not_ready
        else Cond(
            "ComponentsReady",
            "False",
            "NotAllReady",
            f"{len(not_ready)}/{len(verdicts)} not ready: "
            + ", ".join(sorted(k for k, (ok, _) in verdicts.items() if not ok))
            + " (status.message says why)",
        )
    )
    report.conditions.append(
        Cond("TopologyRegistered", "True", "JobComplete", "cells and database registered in etcd")
        if job_ok
        else Cond(
            "TopologyRegistered",
            "False",
            "JobPending",
            f"job {status['topology']['job']}: {verdicts['topology-job'][1]}",
        )
    )
    if previous.get("phase") and previous.get("phase") != phase:
        (report.warnings if phase == "Degraded" else report.normals).append(
            f"phase {previous['phase']} -> {phase}: {message}"
        )
    return report


def _lost_readiness(previous: Obj, now: Obj) -> list[str]:
    """Components that were ready last time and now have fewer ready replicas."""

    def dropped(before: Obj | None, after: Obj | None) -> bool:
        if not before or not after or not before.get("ready") or after["ready"]:
            return False
        return int(after["readyReplicas"]) < int(before.get("readyReplicas") or 0)

    lost = ["etcd"] if dropped(previous.get("etcd"), now["etcd"]) else []
    for cell, comps in (previous.get("cells") or {}).items():
        for name, st in (comps or {}).items():
            if dropped(st, (now["cells"].get(cell) or {}).get(name)):
                lost.append(f"{cell}/{name}")
    return sorted(lost)


def kept_conditions(kept: list[Kept]) -> tuple[Cond, list[str]]:
    """The condition and warnings for immutable fields kept at their observed value."""
    if not kept:
        return Cond(
            "ImmutableFieldsKept", "False", "NoneKept", "spec matches every immutable field"
        ), []
    warnings = []
    for k in kept:
        how = (
            "volumeClaimTemplates can not change: expand each PVC with `kubectl patch pvc` "
            "(see docs/operations.md#storage-resize)"
            if "volumeClaimTemplates" in k.field or k.kind == "PersistentVolumeClaim"
            else "this field can not change on an existing object: recreate the XR to change it"
        )
        warnings.append(f"{k.kind} {k.name}: {k.field} kept ({k.detail}); {how}")
    reason = (
        "StorageResizeNeeded"
        if any("volumeClaimTemplates" in k.field or k.kind == "PersistentVolumeClaim" for k in kept)
        else "ImmutableFieldChanged"
    )
    return Cond("ImmutableFieldsKept", "True", reason, " | ".join(warnings)), warnings


# --- what the spec can and cannot survive ----------------------------------------------


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
