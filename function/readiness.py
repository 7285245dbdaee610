"""Readiness of a composed resource, judged from its observed state.

The same per-kind rules as function-auto-ready, so the XR's `Ready` means the
cluster really serves. Each check returns (ready, why-not) so the status can say
what is missing.
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


def _generation_current(obj: Obj) -> bool:
    gen = _int((obj.get("metadata") or {}).get("generation"))
    return _int((obj.get("status") or {}).get("observedGeneration")) >= gen


def deployment(obj: Obj, want: int | None = None) -> Verdict:
    st = obj.get("status") or {}
    desired = want if want is not None else _int((obj.get("spec") or {}).get("replicas", 1))
    if not _generation_current(obj):
        return False, "rollout not yet observed by the controller"
    updated, available = _int(st.get("updatedReplicas")), _int(st.get("availableReplicas"))
    total = _int(st.get("replicas"))
    if updated == available == desired and total == desired:
        return True, ""
    return False, f"{available}/{desired} available, {updated} updated"


def statefulset(obj: Obj, want: int | None = None) -> Verdict:
    st = obj.get("status") or {}
    desired = want if want is not None else _int((obj.get("spec") or {}).get("replicas", 1))
    if not _generation_current(obj):
        return False, "rollout not yet observed by the controller"
    ready, current = _int(st.get("readyReplicas")), _int(st.get("currentReplicas"))
    if st.get("currentRevision") != st.get("updateRevision"):
        return False, f"rolling update in progress ({ready}/{desired} ready)"
    if ready == current == desired:
        return True, ""
    return False, f"{ready}/{desired} ready"


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


CHECKS: dict[str, Callable[[Obj], Verdict]] = {
    "Deployment": deployment,
    "StatefulSet": statefulset,
    "Service": service,
    "HorizontalPodAutoscaler": hpa,
    "Job": job,
    "PersistentVolumeClaim": pvc,
    "Certificate": certificate,
}


def verdict(kind: str, observed: Obj | None, want: int | None = None) -> Verdict:
    """Readiness of one resource; `want` overrides the desired replica count (HPA)."""
    if not observed:
        return False, "not created yet"
    if want is not None and kind == "Deployment":
        return deployment(observed, want)
    if want is not None and kind == "StatefulSet":
        return statefulset(observed, want)
    return CHECKS.get(kind, exists)(observed)


def hpa_desired(observed_hpa: Obj | None) -> int | None:
    """The replica count an observed HPA currently asks for, if it has decided one."""
    if not observed_hpa:
        return None
    v = (observed_hpa.get("status") or {}).get("desiredReplicas")
    return int(v) if v else None
