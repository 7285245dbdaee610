"""Readiness, one table case per clause of every rule, keyed by apiVersion and kind.

Each rule gets a ready case and, for every clause, a case that breaks only that clause;
removing a clause from readiness.py makes its case fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from function import readiness
from function.builders import build
from function.resolve import resolve_xr
from tests.helpers import xr

Obj = dict[str, Any]


def dep(replicas: int | None = 2) -> Obj:
    spec = {} if replicas is None else {"replicas": replicas}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec}


def sts(replicas: int | None = 3) -> Obj:
    spec = {} if replicas is None else {"replicas": replicas}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": spec}


def obs_dep(gen: int = 2, spec_replicas: int = 2, **status: Any) -> Obj:
    st = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    return {"metadata": {"generation": gen}, "spec": {"replicas": spec_replicas},
            "status": {**st, **status}}  # fmt: skip


def obs_sts(gen: int = 1, spec_replicas: int = 3, **status: Any) -> Obj:
    st = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
          "updatedReplicas": 3, "currentRevision": "r1", "updateRevision": "r1"}  # fmt: skip
    return {"metadata": {"generation": gen}, "spec": {"replicas": spec_replicas},
            "status": {**st, **status}}  # fmt: skip


def kind(api_version: str, k: str, **spec: Any) -> Obj:
    return {"apiVersion": api_version, "kind": k, "spec": spec}


def conds(*pairs: tuple[str, str], **extra: Any) -> Obj:
    return {"status": {"conditions": [{"type": t, "status": s, "reason": "R"} for t, s in pairs], **extra}}  # fmt: skip


SVC, LB = kind("v1", "Service", type="ClusterIP"), kind("v1", "Service", type="LoadBalancer")
HPA, JOB = kind("autoscaling/v2", "HorizontalPodAutoscaler"), kind("batch/v1", "Job")
PVC = kind("v1", "PersistentVolumeClaim")

CASES: list[tuple[str, Obj, Obj | None, int | None, bool]] = [
    # Deployment: generation, replicas, updated, available, and the count it is judged by
    ("deployment ready", dep(), obs_dep(), None, True),
    ("deployment not observed", dep(), None, None, False),
    ("deployment generation not yet observed", dep(), obs_dep(gen=3), None, False),
    ("deployment surge left over (status.replicas)", dep(), obs_dep(replicas=3), None, False),
    ("deployment not all updated", dep(), obs_dep(updatedReplicas=1), None, False),
    ("deployment not all available", dep(), obs_dep(availableReplicas=1), None, False),
    ("deployment judged by desired, not observed, spec", dep(3), obs_dep(), None, False),
    ("deployment HPA wants more", dep(None), obs_dep(), 4, False),
    ("deployment HPA wants what runs", dep(None), obs_dep(), 2, True),
    ("deployment HPA count beats spec.replicas", dep(2), obs_dep(), 3, False),
    ("deployment HPA undecided: observed spec", dep(None), obs_dep(), None, True),
    ("deployment HPA undecided, observed wants more", dep(None), obs_dep(spec_replicas=4), None, False),
    # StatefulSet: generation, ready, current, revisions, and the count
    ("statefulset ready", sts(), obs_sts(), None, True),
    ("statefulset not observed", sts(), None, None, False),
    ("statefulset generation not yet observed", sts(), obs_sts(gen=2), None, False),
    ("statefulset not all ready", sts(), obs_sts(readyReplicas=2), None, False),
    ("statefulset not all current", sts(), obs_sts(currentReplicas=2), None, False),
    ("statefulset revisions differ", sts(), obs_sts(updateRevision="r2"), None, False),
    ("statefulset judged by desired spec", sts(4), obs_sts(), None, False),
    ("statefulset HPA wants more", sts(None), obs_sts(), 5, False),
    ("statefulset HPA wants what runs", sts(None), obs_sts(), 3, True),
    # Service: LoadBalancer ingress
    ("clusterip service", SVC, {"spec": {"type": "ClusterIP"}}, None, True),
    ("nodeport service", kind("v1", "Service", type="NodePort"), {"spec": {"type": "NodePort"}}, None, True),
    ("lb without ingress", LB, {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}, None, False),
    ("lb with empty ingress", LB, {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": []}}}, None, False),
    ("lb with ingress", LB, {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}, None, True),
    # HPA: conditions
    ("hpa active", HPA, conds(("AbleToScale", "True"), ("ScalingActive", "True")), None, True),
    ("hpa limited", HPA, conds(("AbleToScale", "True"), ("ScalingLimited", "True")), None, True),
    ("hpa unable to scale", HPA, conds(("AbleToScale", "False"), ("ScalingActive", "True")), None, False),
    ("hpa failing metrics", HPA, conds(("AbleToScale", "True"), ("ScalingActive", "False"), ("ScalingLimited", "True")), None, False),
    ("hpa undecided", HPA, {"status": {}}, None, False),
    # Job: conditions
    ("job complete", JOB, conds(("Complete", "True")), None, True),
    ("job complete false", JOB, conds(("Complete", "False")), None, False),
    ("job failed", JOB, conds(("Failed", "True")), None, False),
    ("job running", JOB, {"status": {"active": 1}}, None, False),
    # PVC: phase
    ("pvc bound", PVC, {"status": {"phase": "Bound"}}, None, True),
    ("pvc pending", PVC, {"status": {"phase": "Pending"}}, None, False),
    ("pvc no phase yet", PVC, {"status": {}}, None, False),
    # ready once they exist
    ("serviceaccount exists", kind("v1", "ServiceAccount"), {"metadata": {}}, None, True),
    ("pdb exists", kind("policy/v1", "PodDisruptionBudget"), {"spec": {}}, None, True),
    ("networkpolicy exists", kind("networking.k8s.io/v1", "NetworkPolicy"), {"spec": {}}, None, True),
    ("usage exists", kind("protection.crossplane.io/v1beta1", "Usage"), {"spec": {}}, None, True),
    ("configmap exists", kind("v1", "ConfigMap"), {"metadata": {}}, None, True),
    ("role exists", kind("rbac.authorization.k8s.io/v1", "Role"), {"metadata": {}}, None, True),
    ("rolebinding exists", kind("rbac.authorization.k8s.io/v1", "RoleBinding"), {"metadata": {}}, None, True),
    # cert-manager Certificate: its Ready condition
    ("certificate issued", kind("cert-manager.io/v1", "Certificate"), conds(("Ready", "True")), None, True),
    ("certificate issuing", kind("cert-manager.io/v1", "Certificate"), conds(("Ready", "False")), None, False),
    ("certificate without conditions", kind("cert-manager.io/v1", "Certificate"), {"status": {}}, None, False),
    ("pdb not observed", kind("policy/v1", "PodDisruptionBudget"), None, None, False),
    # an (apiVersion, kind) without a rule: function-auto-ready's Ready condition
    ("unknown kind without Ready", kind("autoscaling/v1", "HorizontalPodAutoscaler"), conds(("ScalingActive", "True")), None, False),
    ("unknown kind Ready", kind("example.org/v1", "Thing"), conds(("Ready", "True")), None, True),
    ("keyed by apiVersion too", kind("apps/v1beta1", "Deployment"), obs_dep(), None, False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "desired", "obs", "hpa", "ok"), CASES, ids=[c[0] for c in CASES])
def test_readiness(name: str, desired: Obj, obs: Obj | None, hpa: int | None, ok: bool) -> None:
    ready, why = readiness.verdict(desired, obs, hpa)
    assert ready is ok, name
    assert bool(why) is (not ok), "a not-ready verdict must say why"


def test_job_failure_says_why() -> None:
    obs = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}  # fmt: skip
    assert readiness.verdict(JOB, obs) == (False, "failed: BackoffLimitExceeded")


def test_every_composed_kind_has_a_rule() -> None:
    """No object the builders compose is judged by the fallback."""
    x = xr(
        cells=[{"name": "a"}, {"name": "b"}],
        networkPolicy={"enabled": True},
        multigateway={"autoscaling": {"enabled": True}},
        multipooler={"autoscaling": {"enabled": True}},
    )
    gvks = {(o["apiVersion"], o["kind"]) for o in build(resolve_xr(x)).values()}
    x["spec"]["backup"] = {"pgbackrestTLS": {"issuerRef": {"name": "ca-issuer"}}}
    gvks |= {(o["apiVersion"], o["kind"]) for o in build(resolve_xr(x)).values()}
    assert ("cert-manager.io/v1", "Certificate") in gvks
    assert gvks <= set(readiness.RULES) | set(readiness.SCALED), gvks - set(readiness.RULES)


HPA_WANTS = [
    ("no HPA", {}, None),
    ("HPA undecided", {"status": {}}, None),
    ("HPA decided", {"status": {"desiredReplicas": 5}}, 5),
]


@pytest.mark.parametrize(("name", "observed", "want"), HPA_WANTS, ids=[c[0] for c in HPA_WANTS])
def test_hpa_desired_count_reaches_its_target(name: str, observed: Obj, want: int | None) -> None:
    objs = build(resolve_xr(xr(multigateway={"autoscaling": {"enabled": True}})))
    obs = {"zone1-multigateway-hpa": observed} if observed else {}
    wants = readiness.hpa_wants(objs, obs)
    assert wants == {"zone1-multigateway-deployment": want}
