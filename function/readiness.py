"""Readiness of a composed resource, judged from its observed state.

Rules are keyed by (apiVersion, kind) of the desired object; each returns (ready,
why-not) so the status can say what is missing. Nothing observed yet → not ready.

Where this differs from function-auto-ready (which the design names as the model):

- Deployment: auto-ready wants `availableReplicas == spec.replicas`, every replica
  updated, and the `Available` condition. Here the controller must also have observed
  the current generation (`status.observedGeneration >= metadata.generation`, else a
  just-applied change reads as ready), `status.replicas` must equal the count (no
  surge left over), and the `Available` condition is not read (it is True as soon as
  `minReadySeconds` is met for *some* replicas, which the counts already cover).
- StatefulSet: auto-ready wants `readyReplicas == spec.replicas` and matching
  revisions; here also the observed generation and `currentReplicas`.
- Both judge against the count wanted now: the HPA's `status.desiredReplicas` when an
  HPA scales the workload, else the desired `spec.replicas` (not the observed one,
  which lags a spec change).
- HorizontalPodAutoscaler, Job and PersistentVolumeClaim have rules here; auto-ready
  falls back to a `Ready` condition, which these kinds never have. HPA: `AbleToScale`
  or `ScalingActive` False → not ready; `ScalingActive` or `ScalingLimited` True →
  ready. Job: `Complete` True. PVC: phase `Bound`.
- Service: the same (ClusterIP/NodePort at once, LoadBalancer once it has an ingress).
- cert-manager's Certificate: its `Ready` condition (as auto-ready's fallback).
- ServiceAccount, ConfigMap, Role, RoleBinding, PodDisruptionBudget, NetworkPolicy and
  Crossplane's Usage are ready once they exist. Any other (apiVersion, kind) falls back
  to auto-ready's rule, a `Ready` condition that is True.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Verdict = tuple[bool, str]


def _cond(obj: Obj, typ: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == typ:
            return c
    return None


def _true(obj: Obj, typ: str) -> bool:
    c = _cond(obj, typ)
    return c is not None and c.get("status") == "True"


def _int(v: Any) -> int:
    return int(v or 0)


def _stale(obj: Obj) -> bool:
    """The controller has not yet observed the object's current generation."""
    gen = _int((obj.get("metadata") or {}).get("generation"))
    return _int((obj.get("status") or {}).get("observedGeneration")) < gen


def deployment(obj: Obj, want: int) -> Verdict:
    st = obj.get("status") or {}
    if _stale(obj):
        return False, "rollout not yet observed by the controller"
    updated, available = _int(st.get("updatedReplicas")), _int(st.get("availableReplicas"))
    if updated == available == _int(st.get("replicas")) == want:
        return True, ""
    return False, f"{available}/{want} available, {updated} updated"


def statefulset(obj: Obj, want: int) -> Verdict:
    st = obj.get("status") or {}
    if _stale(obj):
        return False, "rollout not yet observed by the controller"
    ready, current = _int(st.get("readyReplicas")), _int(st.get("currentReplicas"))
    if st.get("currentRevision") != st.get("updateRevision"):
        return False, f"rolling update in progress ({ready}/{want} ready)"
    if ready == current == want:
        return True, ""
    return False, f"{ready}/{want} ready"


def service(obj: Obj) -> Verdict:
    if (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return True, ""
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    return (True, "") if ingress else (False, "waiting for a load balancer address")


def hpa(obj: Obj) -> Verdict:
    for typ in ("AbleToScale", "ScalingActive"):
        c = _cond(obj, typ)
        if c is not None and c.get("status") == "False":
            return False, f"{typ}: {c.get('reason', '')} {c.get('message', '')}".strip()
    if _true(obj, "ScalingActive") or _true(obj, "ScalingLimited"):
        return True, ""
    return False, "autoscaler has not computed a scale yet"


def job(obj: Obj) -> Verdict:
    if _true(obj, "Complete"):
        return True, ""
    if _true(obj, "Failed"):
        c = _cond(obj, "Failed") or {}
        return False, f"failed: {c.get('reason', '')} {c.get('message', '')}".strip()
    return False, "not complete yet"


def pvc(obj: Obj) -> Verdict:
    phase = (obj.get("status") or {}).get("phase")
    return (True, "") if phase == "Bound" else (False, f"claim is {phase or 'Pending'}")


def certificate(obj: Obj) -> Verdict:
    """cert-manager's Certificate: its Ready condition."""
    if _true(obj, "Ready"):
        return True, ""
    c = _cond(obj, "Ready") or {}
    return False, f"not issued yet: {c.get('reason', '')} {c.get('message', '')}".strip()


def exists(_: Obj) -> Verdict:
    return True, ""


def ready_condition(obj: Obj) -> Verdict:
    """function-auto-ready's rule for kinds it does not know: a `Ready` condition True."""
    return (True, "") if _true(obj, "Ready") else (False, "no Ready condition that is True")


#: Workloads, judged against a replica count.
SCALED: dict[tuple[str, str], Callable[[Obj, int], Verdict]] = {
    ("apps/v1", "Deployment"): deployment,
    ("apps/v1", "StatefulSet"): statefulset,
}

#: Ready once they exist.
EXIST: frozenset[tuple[str, str]] = frozenset(
    {
        ("v1", "ServiceAccount"),
        ("v1", "ConfigMap"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("protection.crossplane.io/v1beta1", "Usage"),
    }
)

#: Everything else the builders compose.
RULES: dict[tuple[str, str], Callable[[Obj], Verdict]] = {
    ("v1", "Service"): service,
    ("v1", "PersistentVolumeClaim"): pvc,
    ("cert-manager.io/v1", "Certificate"): certificate,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): hpa,
    ("batch/v1", "Job"): job,
    **dict.fromkeys(EXIST, exists),
}


def wanted(desired: Obj, observed: Obj | None, hpa_count: int | None) -> int:
    """Replicas to judge a workload against: the HPA's count, else what we ask for, else
    (an HPA-managed workload whose HPA has not decided) what the observed object asks
    for, which the API server defaults to 1."""
    if hpa_count is not None:
        return hpa_count
    spec = desired.get("spec") or {}
    if "replicas" in spec:
        return int(spec["replicas"])
    if not observed:
        return 0
    return _int((observed.get("spec") or {}).get("replicas", 1))


def verdict(desired: Obj, observed: Obj | None, hpa_count: int | None = None) -> Verdict:
    """Readiness of one composed resource, by the desired object's apiVersion and kind."""
    if not observed:
        return False, "not created yet"
    gvk = (desired.get("apiVersion", ""), desired.get("kind", ""))
    scaled = SCALED.get(gvk)
    if scaled is not None:
        return scaled(observed, wanted(desired, observed, hpa_count))
    return RULES.get(gvk, ready_condition)(observed)


def hpa_desired(observed_hpa: Obj | None) -> int | None:
    """The replica count an observed HPA currently asks for, if it has decided one."""
    if not observed_hpa:
        return None
    v = (observed_hpa.get("status") or {}).get("desiredReplicas")
    return int(v) if v else None


def hpa_wants(desired: dict[str, Obj], observed: dict[str, Obj]) -> dict[str, int | None]:
    """Workload key → the replica count its observed HPA asks for (matched by scaleTargetRef)."""
    keys = {(o["kind"], o["metadata"]["name"]): k for k, o in desired.items()}
    wants: dict[str, int | None] = {}
    for key, obj in desired.items():
        if obj["kind"] == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            wants[keys[(ref["kind"], ref["name"])]] = hpa_desired(observed.get(key))
    return wants
