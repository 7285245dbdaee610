"""Readiness per kind, table-driven, from observed objects."""

from __future__ import annotations

from typing import Any

import pytest

from function import readiness

DEP = {"metadata": {"generation": 2}, "spec": {"replicas": 2}}
STS = {"metadata": {"generation": 1}, "spec": {"replicas": 3}}


def st(base: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {**base, "status": status}


def conds(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": t, "status": s} for t, s in pairs]}}


CASES: list[tuple[str, str, dict[str, Any] | None, int | None, bool]] = [
    ("nothing observed", "Deployment", None, None, False),
    ("deployment ready", "Deployment", st(DEP, observedGeneration=2, replicas=2, updatedReplicas=2, availableReplicas=2), None, True),
    ("deployment stale generation", "Deployment", st(DEP, observedGeneration=1, replicas=2, updatedReplicas=2, availableReplicas=2), None, False),
    ("deployment rolling", "Deployment", st(DEP, observedGeneration=2, replicas=3, updatedReplicas=1, availableReplicas=2), None, False),
    ("deployment HPA wants 4, has 2", "Deployment", st(DEP, observedGeneration=2, replicas=2, updatedReplicas=2, availableReplicas=2), 4, False),
    ("deployment HPA wants 2", "Deployment", st(DEP, observedGeneration=2, replicas=2, updatedReplicas=2, availableReplicas=2), 2, True),
    ("statefulset ready", "StatefulSet", st(STS, observedGeneration=1, readyReplicas=3, currentReplicas=3, currentRevision="a", updateRevision="a"), None, True),
    ("statefulset updating", "StatefulSet", st(STS, observedGeneration=1, readyReplicas=3, currentReplicas=3, currentRevision="a", updateRevision="b"), None, False),
    ("statefulset 2/3", "StatefulSet", st(STS, observedGeneration=1, readyReplicas=2, currentReplicas=3, currentRevision="a", updateRevision="a"), None, False),
    ("clusterip service", "Service", {"spec": {"type": "ClusterIP"}}, None, True),
    ("lb without ingress", "Service", {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}, None, False),
    ("lb with ingress", "Service", {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}, None, True),
    ("hpa active", "HorizontalPodAutoscaler", conds(("AbleToScale", "True"), ("ScalingActive", "True")), None, True),
    ("hpa limited", "HorizontalPodAutoscaler", conds(("AbleToScale", "True"), ("ScalingLimited", "True")), None, True),
    ("hpa failing metrics", "HorizontalPodAutoscaler", conds(("AbleToScale", "True"), ("ScalingActive", "False")), None, False),
    ("hpa undecided", "HorizontalPodAutoscaler", {"status": {}}, None, False),
    ("job complete", "Job", conds(("Complete", "True")), None, True),
    ("job failed", "Job", conds(("Failed", "True")), None, False),
    ("job running", "Job", {"status": {"active": 1}}, None, False),
    ("pvc bound", "PersistentVolumeClaim", {"status": {"phase": "Bound"}}, None, True),
    ("pvc pending", "PersistentVolumeClaim", {"status": {"phase": "Pending"}}, None, False),
    ("pdb exists", "PodDisruptionBudget", {"spec": {}}, None, True),
    ("usage exists", "Usage", {"spec": {}}, None, True),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "obs", "want", "ok"), CASES, ids=[c[0] for c in CASES])
def test_readiness(
    name: str, kind: str, obs: dict[str, Any] | None, want: int | None, ok: bool
) -> None:
    ready, why = readiness.verdict(kind, obs, want)
    assert ready is ok, name
    assert bool(why) is (not ok), "a not-ready verdict must say why"
