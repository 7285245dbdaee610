"""One test per safety rule of design §6 (rules 1 and 2 also live in test_grpc/test_builders)."""

from __future__ import annotations

import copy
from typing import Any

from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.builders import topology
from function.evidence import NODES_REQUIREMENT, POOLER_PODS_REQUIREMENT
from function.fn import PASSWORD_REQUIREMENT, desired_objects, run
from tests.helpers import xr

Obj = dict[str, Any]


def observed_from(x: Obj) -> dict[str, Obj]:
    """What the API server would hold after applying x's objects (with server defaults)."""
    out = {}
    for k, o in desired_objects(x).items():
        o = copy.deepcopy(o)
        if o["kind"] == "StatefulSet":
            for v in o["spec"]["volumeClaimTemplates"]:
                v["spec"].setdefault("storageClassName", "standard")
                v["spec"]["volumeMode"] = "Filesystem"
                v["apiVersion"], v["kind"] = "v1", "PersistentVolumeClaim"
                v["status"] = {"phase": "Pending"}
        out[k] = o
    return out


def warnings(rsp: fnv1.RunFunctionResponse) -> list[str]:
    return [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]


def cond(rsp: fnv1.RunFunctionResponse, typ: str) -> fnv1.Condition:
    return next(c for c in rsp.conditions if c.type == typ)


def req(
    x: Obj,
    observed: dict[str, Obj] | None = None,
    secret: list[Obj] | None = None,
    required: dict[str, list[Obj]] | None = None,
) -> fnv1.RunFunctionRequest:
    r = fnv1.RunFunctionRequest()
    r.observed.composite.resource.update(x)
    for k, v in (observed or {}).items():
        r.observed.resources[k].resource.update(v)
    for name, items in ({PASSWORD_REQUIREMENT: secret} if secret is not None else {}).items():
        reqd = r.required_resources[name]
        for s in items:
            reqd.items.add().resource.update(s)
    for name, items in (required or {}).items():
        reqd = r.required_resources[name]
        for s in items:
            reqd.items.add().resource.update(s)
    return r


def test_invalid_input_composes_nothing() -> None:
    rsp = run(req(xr(etcd={"replicas": 4})))
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert "spec.etcd.replicas" in rsp.results[0].message
    assert not rsp.desired.resources


def test_data_is_retained_by_default() -> None:
    for key in ("etcd-statefulset", "zone1-pooler-statefulset"):
        policy = desired_objects(xr())[key]["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_storage_grow_keeps_observed_claim_templates_and_says_how() -> None:
    before = xr(multipooler={"storage": {"size": "10Gi"}})
    observed = observed_from(before)
    after = xr(multipooler={"storage": {"size": "20Gi"}})
    rsp = run(req(after, observed))
    sts = resource.struct_to_dict(rsp.desired.resources["zone1-pooler-statefulset"].resource)
    vct = sts["spec"]["volumeClaimTemplates"][0]
    assert vct["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "status" not in vct
    msgs = warnings(rsp)
    assert any(
        "volumeClaimTemplates" in m and "10Gi -> 20Gi" in m and "kubectl patch pvc" in m
        for m in msgs
    ), msgs
    c = cond(rsp, "ImmutableFieldsKept")
    assert c.status == fnv1.STATUS_CONDITION_TRUE and c.reason == "StorageResizeNeeded"
    assert "docs/operations.md#storage-resize" in c.message


def test_server_filled_storage_class_is_not_a_change() -> None:
    x = xr()
    rsp = run(req(x, observed_from(x)))
    assert cond(rsp, "ImmutableFieldsKept").status == fnv1.STATUS_CONDITION_FALSE
    assert not warnings(rsp)


def test_storage_class_change_is_kept() -> None:
    before = xr(etcd={"storage": {"size": "1Gi", "storageClassName": "slow"}})
    after = xr(etcd={"storage": {"size": "1Gi", "storageClassName": "fast"}})
    rsp = run(req(after, observed_from(before)))
    sts = resource.struct_to_dict(rsp.desired.resources["etcd-statefulset"].resource)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "slow"
    assert any("storageClassName slow -> fast" in m for m in warnings(rsp))


def test_selector_and_service_name_are_kept() -> None:
    x = xr()
    observed = observed_from(x)
    observed["zone1-pooler-statefulset"]["spec"]["serviceName"] = "legacy-headless"
    observed["zone1-multigateway-deployment"]["spec"]["selector"] = {
        "matchLabels": {"legacy": "yes"}
    }
    rsp = run(req(x, observed))
    sts = resource.struct_to_dict(rsp.desired.resources["zone1-pooler-statefulset"].resource)
    dep = resource.struct_to_dict(rsp.desired.resources["zone1-multigateway-deployment"].resource)
    assert sts["spec"]["serviceName"] == "legacy-headless"
    assert dep["spec"]["selector"] == {"matchLabels": {"legacy": "yes"}}
    assert cond(rsp, "ImmutableFieldsKept").reason == "ImmutableFieldChanged"


def test_backup_pvc_never_shrinks() -> None:
    before = xr(backup={"storage": {"size": "50Gi"}})
    after = xr(backup={"storage": {"size": "20Gi"}})
    objs = desired_objects(after, observed=observed_from(before))
    assert objs["backup-pvc"]["spec"]["resources"]["requests"]["storage"] == "50Gi"


def test_changed_registration_gets_a_new_job() -> None:
    # A new key too: under the old key Crossplane would keep the old Job's name and apply
    # the changed (immutable) template to it (docs/operations.md#topology-job-template).
    a, b = desired_objects(xr()), desired_objects(xr(cells=[{"name": "zone1"}, {"name": "zone2"}]))
    ka, kb = topology.key(a), topology.key(b)
    assert ka != kb and kb not in a and ka not in b
    assert a[ka]["metadata"]["name"] != b[kb]["metadata"]["name"]


def test_etcd_outlives_poolers_and_orchestrators() -> None:
    objs = desired_objects(xr(cells=[{"name": "a"}, {"name": "b"}]))
    usages = [o for o in objs.values() if o["kind"] == "Usage"]
    assert len(usages) == 7
    for u in usages:
        assert u["apiVersion"] == "protection.crossplane.io/v1beta1"
        assert u["spec"]["of"]["resourceRef"]["name"] == "demo-etcd"
        assert u["spec"]["by"]["kind"] in ("StatefulSet", "Deployment")
    by = {u["spec"]["by"]["resourceRef"]["name"] for u in usages}
    long_running = {
        o["metadata"]["name"]
        for o in objs.values()
        if o["kind"] in ("StatefulSet", "Deployment") and o["metadata"]["name"] != "demo-etcd"
    }
    assert by == long_running == {
        "demo-a-pooler", "demo-b-pooler", "demo-a-multiorch", "demo-b-multiorch",
        "demo-a-multigateway", "demo-b-multigateway", "demo-multiadmin",
    }  # fmt: skip


def test_missing_password_secret_is_reported_and_pods_still_composed() -> None:
    rsp = run(req(xr(), secret=[]))
    c = cond(rsp, "PasswordSecretReady")
    assert c.status == fnv1.STATUS_CONDITION_FALSE and c.reason == "SecretNotFound"
    assert "default/demo-pg" in c.message
    assert any("demo-pg" in m for m in warnings(rsp))
    assert "zone1-pooler-statefulset" in rsp.desired.resources


def test_password_secret_without_key_is_reported() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "demo-pg"},
        "data": {"pw": "eA=="},
    }
    rsp = run(req(xr(), secret=[secret]))
    c = cond(rsp, "PasswordSecretReady")
    assert c.reason == "KeyNotFound" and "keys: pw" in c.message


def test_password_secret_found() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "demo-pg"},
        "data": {"password": "eA=="},
    }
    rsp = run(req(xr(), secret=[secret]))
    assert cond(rsp, "PasswordSecretReady").status == fnv1.STATUS_CONDITION_TRUE
    assert not warnings(rsp)


def test_pooler_autoscaling_warns_about_the_primary() -> None:
    rsp = run(req(xr(multipooler={"autoscaling": {"enabled": True}})))
    assert any("highest ordinal" in m and "primary" in m for m in warnings(rsp))
    rsp = run(req(xr()))
    assert not any("highest ordinal" in m for m in warnings(rsp))


def _hpa_on(**extra: Any) -> Obj:
    return xr(multigateway={"autoscaling": {"enabled": True}}, **extra)


def test_turning_autoscaling_on_keeps_the_running_count() -> None:
    """Dropping spec.replicas we solely own would reset it to 1 under SSA."""
    observed = observed_from(xr(multigateway={"replicas": 5}))
    observed["zone1-multigateway-deployment"]["metadata"]["managedFields"] = [
        {"manager": "crossplane", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]
    objs = desired_objects(_hpa_on(), observed=observed)
    assert objs["zone1-multigateway-deployment"]["spec"]["replicas"] == 5
    rsp = run(req(_hpa_on(), observed))  # the reduced observed view decides the same
    dep = resource.struct_to_dict(rsp.desired.resources["zone1-multigateway-deployment"].resource)
    assert dep["spec"]["replicas"] == 5


def test_defaulted_replicas_nobody_applied_are_left_alone() -> None:
    observed = observed_from(xr(multigateway={"replicas": 1}))
    objs = desired_objects(_hpa_on(), observed=observed)  # no managedFields: never applied
    assert "replicas" not in objs["zone1-multigateway-deployment"]["spec"]


def test_autoscaler_owns_replicas_once_it_scaled() -> None:
    observed = observed_from(xr(multigateway={"replicas": 5}))
    dep = observed["zone1-multigateway-deployment"]
    dep["metadata"]["managedFields"] = [
        {"manager": "crossplane", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}},
    ]  # fmt: skip
    objs = desired_objects(_hpa_on(), observed=observed)
    assert "replicas" not in objs["zone1-multigateway-deployment"]["spec"]
    # and through the wire format, with the reduced observed view
    rsp = run(req(_hpa_on(), observed))
    dep_out = resource.struct_to_dict(
        rsp.desired.resources["zone1-multigateway-deployment"].resource
    )
    assert "replicas" not in dep_out["spec"]


def test_new_autoscaled_workload_omits_replicas() -> None:
    assert "replicas" not in desired_objects(_hpa_on())["zone1-multigateway-deployment"]["spec"]


RWO = {"backup": {"storage": {"accessModes": ["ReadWriteOnce"]}}}


def _node(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def _pod(name: str, node: str | None, phase: str, unschedulable: str = "") -> Obj:
    status: Obj = {"phase": phase}
    if unschedulable:
        status["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": unschedulable}
        ]  # fmt: skip
    spec = {"nodeName": node} if node else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec,
            "status": status}  # fmt: skip


def _stalled(x: Obj) -> dict[str, Obj]:
    observed = observed_from(x)
    observed["zone1-pooler-statefulset"]["status"] = {"readyReplicas": 1, "replicas": 3}
    return observed


def _requirements(rsp: fnv1.RunFunctionResponse) -> set[str]:
    return set(rsp.requirements.resources)


def test_rwo_backup_warning_not_on_an_ordinary_single_node_start() -> None:
    # Poolers not ready yet is how every start looks: the ReadWriteOnce volume is not
    # blamed unless it is what keeps one from starting (real Crossplane saw 17 warnings).
    x = xr(**RWO)
    rsp = run(req(x, _stalled(x)))
    assert not any("backup volume" in m for m in warnings(rsp))
    assert NODES_REQUIREMENT in _requirements(rsp)
    assert POOLER_PODS_REQUIREMENT not in _requirements(rsp)  # nodes first
    one = {NODES_REQUIREMENT: [_node("a")]}
    rsp = run(req(x, _stalled(x), required=one))
    assert not any("backup volume" in m for m in warnings(rsp))
    assert POOLER_PODS_REQUIREMENT not in _requirements(rsp)


def test_rwo_backup_warning_when_a_pooler_on_another_node_cannot_attach_it() -> None:
    x = xr(**RWO)
    nodes = [_node("a"), _node("b")]
    rsp = run(req(x, _stalled(x), required={NODES_REQUIREMENT: nodes}))
    assert POOLER_PODS_REQUIREMENT in _requirements(rsp)
    sel = rsp.requirements.resources[POOLER_PODS_REQUIREMENT]
    assert (sel.kind, sel.namespace) == ("Pod", x["metadata"]["namespace"])
    assert dict(sel.match_labels.labels)["app.kubernetes.io/component"] == "multipooler"
    pods = [_pod("p-0", "a", "Running"), _pod("p-1", "b", "Pending"), _pod("p-2", "a", "Running")]
    msgs = warnings(run(req(x, _stalled(x), required={NODES_REQUIREMENT: nodes,
                                                       POOLER_PODS_REQUIREMENT: pods})))  # fmt: skip
    hit = [m for m in msgs if "backup volume" in m]
    assert hit and "p-1 (on node b, the volume is attached on a)" in hit[0], msgs
    conflict = [_pod("p-0", "a", "Running"),
                _pod("p-1", None, "Pending", "0/2 nodes are available: 1 node(s) had volume "
                     "node affinity conflict, 1 node(s) didn't match pod anti-affinity rules")]  # fmt: skip
    msgs = warnings(run(req(x, _stalled(x), required={NODES_REQUIREMENT: nodes,
                                                       POOLER_PODS_REQUIREMENT: conflict})))  # fmt: skip
    assert any("p-1 (unschedulable: volume node affinity conflict)" in m for m in msgs), msgs


def test_rwo_backup_warning_not_when_every_pooler_shares_a_node() -> None:
    x = xr(**RWO)
    pods = [_pod("p-0", "a", "Running"), _pod("p-1", "a", "Pending"), _pod("p-2", "a", "Pending")]
    required = {NODES_REQUIREMENT: [_node("a"), _node("b")], POOLER_PODS_REQUIREMENT: pods}
    assert not any(
        "backup volume" in m for m in warnings(run(req(x, _stalled(x), required=required)))
    )
    # Nothing running yet (e.g. all waiting for the CA Secret): no holder, no blame.
    waiting = [_pod("p-0", "a", "Pending"), _pod("p-1", "b", "Pending")]
    required[POOLER_PODS_REQUIREMENT] = waiting
    assert not any(
        "backup volume" in m for m in warnings(run(req(x, _stalled(x), required=required)))
    )


def test_rwx_backup_asks_for_no_nodes_or_pods() -> None:
    x = xr()  # the default is ReadWriteMany
    rsp = run(req(x, _stalled(x)))
    assert _requirements(rsp) == {PASSWORD_REQUIREMENT}
    assert not any("backup volume" in m for m in warnings(rsp))
