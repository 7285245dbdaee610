"""XR status: per-component replica counts, phase, endpoint, conditions and events.

Pure: takes what one call decided (`Inputs`: the resolved cluster, the desired and
observed objects, readiness verdicts, the fields the guard kept and the password
Secret) and returns the status dict plus every condition and result for fn.py to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from function import pgstatus
from function.builders import topology
from function.capability import capability
from function.conditions import Cond
from function.evidence import rwo_backup_blocked
from function.readiness import Verdict, wanted
from function.resolve import Cluster
from function.safety import Kept

Obj = dict[str, Any]


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


def _crash_looping(obs: Obj | None) -> str:
    """A failure a workload's own status shows (pods are not observed by the function)."""
    for c in ((obs or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return c.get("message") or "rollout exceeded its progress deadline"
        if c.get("type") == "Failed" and c.get("status") == "True":
            return c.get("message") or c.get("reason") or "job failed"
    return ""


@dataclass(frozen=True, slots=True)
class Inputs:
    """What one call decided, as status needs it."""

    cluster: Cluster
    desired: dict[str, Obj]
    observed: dict[str, Obj]
    verdicts: dict[str, Verdict]
    hpa_wants: dict[str, int | None]
    kept: list[Kept]
    secret: list[Obj] | None  # the password requirement's items; None until resolved
    required: dict[str, list[Obj]] = field(default_factory=dict)  # nodes, pooler pods


def summarize(i: Inputs, previous: Obj, generation: int) -> Report:
    """The XR status, every condition, and the warnings and normal events."""
    report = _phase(i, previous, generation)
    kept_cond, kept_warnings = kept_conditions(i.kept)
    secret = secret_condition(i.cluster, i.secret)
    report.conditions += [kept_cond, secret]
    report.warnings = [*kept_warnings, *report.warnings, *advice(i.cluster, i.required)]
    if secret.status == "False":
        report.warnings.append(secret.message)
    conds, warnings = capability(i.cluster, i.observed)
    report.conditions += conds
    report.warnings += warnings
    pg_status, pg_cond, pg_events = pgstatus.report(i.cluster, i.observed, previous)
    report.status["postgres"] = pg_status
    report.conditions.append(pg_cond)
    report.normals += pg_events
    return report


def _phase(i: Inputs, previous: Obj, generation: int) -> Report:
    c, desired, observed, verdicts = i.cluster, i.desired, i.observed, i.verdicts

    def comp(key: str) -> Obj:
        d, obs = desired[key], observed.get(key)
        return _replicas(d["kind"], obs, wanted(d, obs, i.hpa_wants.get(key)))

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
    job_key = topology.key(desired)
    job_ok, _ = verdicts[job_key]
    status: Obj = {
        "endpoints": {"postgres": f"{gw['metadata']['name']}.{c.namespace}.svc:{port}"},
        "etcd": comp("etcd-statefulset"),
        "topology": {"registered": job_ok, "job": desired[job_key]["metadata"]["name"]},
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
        else Cond("ComponentsReady", "False", "NotAllReady", _not_ready_names(verdicts, any_ready))
    )
    report.conditions.append(
        Cond("TopologyRegistered", "True", "JobComplete", "cells and database registered in etcd")
        if job_ok
        else Cond(
            "TopologyRegistered",
            "False",
            "JobPending",
            f"job {status['topology']['job']}: {verdicts[job_key][1]}",
        )
    )
    if previous.get("phase") and previous.get("phase") != phase:
        (report.warnings if phase == "Degraded" else report.normals).append(
            f"phase {previous['phase']} -> {phase}: {message}"
        )
    return report


def _not_ready_names(verdicts: dict[str, Verdict], any_ready: bool) -> str:
    """What is not ready, by name only (at most 8), so the message changes with components."""
    names = sorted(k for k, (ok, _) in verdicts.items() if not ok)
    if not any_ready:
        return f"waiting for {len(names)} resources (status.message says why)"
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"{len(names)}/{len(verdicts)} not ready: {shown} (status.message says why)"


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


def secret_condition(c: Cluster, items: list[Obj] | None) -> Cond:
    """PasswordSecretReady: does the referenced Secret exist and hold the key?"""
    ref = c.spec.postgres.password_secret_ref
    where = f"Secret {c.namespace}/{ref.name} key {ref.key!r}"
    if items is None:
        return Cond("PasswordSecretReady", "Unknown", "NotChecked", f"{where} not checked yet")
    if not items:
        return Cond(
            "PasswordSecretReady",
            "False",
            "SecretNotFound",
            f"{where}: the Secret does not exist; Postgres pods wait until it is created",
        )
    data = items[0].get("data") or {}
    if ref.key not in data:
        return Cond(
            "PasswordSecretReady",
            "False",
            "KeyNotFound",
            f"{where}: the Secret has no such key (keys: {', '.join(sorted(data)) or 'none'})",
        )
    return Cond("PasswordSecretReady", "True", "Found", f"{where} found")


def advice(c: Cluster, required: dict[str, list[Obj]]) -> list[str]:
    """Warnings about valid but risky choices, and causes of a stall that are seen."""
    out = []
    if c.spec.multipooler.autoscaling.enabled:
        out.append(
            "multipooler autoscaling is on: scale-down removes the highest ordinal pod, "
            "which may be the primary (a failover follows)"
        )
    if why := rwo_backup_blocked(c, required):
        out.append(why)
    return out
