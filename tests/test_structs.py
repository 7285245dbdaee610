"""The reduced view of observed objects answers exactly as the whole objects would."""

from __future__ import annotations

from function import fn
from function.builders import build
from function.cache import Built
from function.resolve import resolve_xr
from function.structs import observed_view, to_dict
from tests.helpers import xr
from tests.test_safety import observed_from, req


def test_observed_view_gives_the_same_answers_as_whole_objects() -> None:
    """OBSERVED_FIELDS must hold every field readiness, status and the guard read."""
    before = xr(multipooler={"storage": {"size": "10Gi"}}, backup={"storage": {"size": "50Gi"}})
    after = xr(
        multipooler={"storage": {"size": "20Gi"}},
        backup={
            "storage": {"size": "5Gi", "accessModes": ["ReadWriteOnce"], "storageClassName": "fast"}
        },
        multigateway={"service": {"type": "LoadBalancer"}, "replicas": 3},
        multiorch={"autoscaling": {"enabled": True}},
    )
    observed = observed_from(before)
    for o in observed.values():
        o["metadata"]["generation"] = 2
        o["metadata"]["managedFields"] = [
            {
                "manager": "crossplane",
                "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
            }
        ]
        o["status"] = {"observedGeneration": 2, "readyReplicas": 1, "replicas": 2, "phase": "Bound"}
    observed["zone1-multigateway-deployment"]["spec"]["selector"] = {"matchLabels": {"old": "x"}}
    observed["zone1-pooler-statefulset"]["spec"]["serviceName"] = "legacy"
    observed["etcd-statefulset"]["spec"]["podManagementPolicy"] = "OrderedReady"
    observed["etcd-statefulset"]["metadata"]["generation"] = 3  # not yet observed
    observed["backup-pvc"]["spec"]["storageClassName"] = "slow"
    observed["multigateway-service"]["spec"]["type"] = "LoadBalancer"
    observed["multigateway-service"]["status"] = {"loadBalancer": {}}
    observed["zone1-multiorch-hpa"] = {
        "kind": "HorizontalPodAutoscaler",
        "status": {"desiredReplicas": 3},
    }
    r = req(after, observed)
    whole = {k: to_dict(v.resource) for k, v in r.observed.resources.items()}
    view = {k: observed_view(v.resource) for k, v in r.observed.resources.items()}
    c = resolve_xr(after)
    built = Built(c, build(c), {})
    a, b = fn.compose(built, whole), fn.compose(built, view)
    assert a.objects == b.objects and a.verdicts == b.verdicts
    assert a.report.status == b.report.status
    assert a.report.conditions == b.report.conditions
    assert a.report.warnings == b.report.warnings and a.report.warnings
    for field in ("spec.selector", "spec.serviceName", "spec.podManagementPolicy",
                  "spec.storageClassName", "spec.accessModes"):  # fmt: skip
        assert any(f"{field} kept" in w for w in a.report.warnings), field
    assert a.verdicts["multigateway-service"][0] is False  # a LoadBalancer without ingress
    assert "not yet observed" in a.verdicts["etcd-statefulset"][1]
