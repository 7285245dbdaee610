"""Property-based tests: random valid and invalid XRs with random observed states.

The function never raises, answers either a schema-valid desired state or exactly one
Fatal with a field path, is deterministic, and never drops a stateful object the XR
still asks for. `HYPOTHESIS_PROFILE=ci` (in .ci/run) runs 2,000 examples per test.
"""

from __future__ import annotations

import copy
from typing import Any

from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import given
from hypothesis import strategies as st

from function.fn import run
from tests import invariants, k8s_schema
from tests.helpers import ints
from tests.test_safety import req

Obj = dict[str, Any]

dns = st.from_regex(r"\A[a-z]([a-z0-9-]{0,17}[a-z0-9])?\Z")
quantity = st.sampled_from(["1Gi", "10Gi", "500Mi", "2", "100m", "1.5Gi", 3, 2.0])
autoscaling = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans(),
        "minReplicas": st.integers(1, 3),
        "maxReplicas": st.integers(3, 10),
        "targetCPUUtilizationPercentage": st.integers(1, 100),
    },
)
resources = st.fixed_dictionaries(
    {},
    optional={
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), quantity, max_size=2)
    },
)


@st.composite
def valid_xr(draw: st.DrawFn) -> Obj:
    cells = draw(st.lists(dns, min_size=1, max_size=5, unique=True))
    spec: Obj = {
        "cells": [
            {"name": c, **draw(st.fixed_dictionaries({}, optional={"zone": dns}))} for c in cells
        ],
        "postgres": {"passwordSecretRef": {"name": draw(dns)}},
    }
    if len(cells) >= 2 and draw(st.booleans()):
        spec["postgres"]["durabilityPolicy"] = "MULTI_CELL_AT_LEAST_2"
    spec.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "etcd": st.fixed_dictionaries(
                        {},
                        optional={
                            "replicas": st.sampled_from([1, 3, 5, 7, 3.0]),
                            "resources": resources,
                        },
                    ),
                    "multigateway": st.fixed_dictionaries(
                        {},
                        optional={
                            "replicas": st.integers(1, 5),
                            "autoscaling": autoscaling,
                            "resources": resources,
                        },
                    ),
                    "multiorch": st.fixed_dictionaries(
                        {}, optional={"replicas": st.integers(1, 3), "autoscaling": autoscaling}
                    ),
                    "multipooler": st.fixed_dictionaries(
                        {},
                        optional={
                            "replicasPerCell": st.integers(1, 5),
                            "autoscaling": autoscaling,
                            "storage": st.fixed_dictionaries(
                                {"size": st.sampled_from(["1Gi", "10Gi", "100Gi"])}
                            ),
                        },
                    ),
                    "networkPolicy": st.fixed_dictionaries({"enabled": st.booleans()}),
                    "usages": st.fixed_dictionaries({"enabled": st.booleans()}),
                    "logLevel": st.sampled_from(["debug", "info", "warn", "error"]),
                    "backup": st.fixed_dictionaries(
                        {}, optional={"existingClaim": st.one_of(st.just(""), dns)}
                    ),
                    "podLabels": st.dictionaries(dns, dns, max_size=2),
                },
            )
        )
    )
    name = draw(st.from_regex(r"\A[a-z]([a-z0-9-]{0,23}[a-z0-9])?\Z"))
    return {"apiVersion": "multigres.com/v1alpha1", "kind": "XMultigres",
            "metadata": {"name": name, "namespace": draw(dns)}, "spec": spec}  # fmt: skip


def _fix_autoscaling(x: Obj) -> Obj:
    """Make drawn XRs valid: min <= max, and at least 2 Postgres instances in all."""
    cells = len(x["spec"]["cells"])
    for comp in ("multigateway", "multiorch", "multipooler"):
        a = x["spec"].get(comp, {}).get("autoscaling")
        if a and comp == "multipooler" and a.get("minReplicas", 2) * cells < 2:
            a["minReplicas"] = 2
        if a and a.get("minReplicas", 2 if comp == "multipooler" else 1) > a.get("maxReplicas", 4):
            a["maxReplicas"] = a.get("minReplicas", 2 if comp == "multipooler" else 1)
    pooler = x["spec"].get("multipooler", {})
    if pooler.get("replicasPerCell", 2) * cells < 2:
        pooler["replicasPerCell"] = 2
    return x


observed_status = st.fixed_dictionaries(
    {},
    optional={
        "readyReplicas": st.integers(0, 5),
        "availableReplicas": st.integers(0, 5),
        "updatedReplicas": st.integers(0, 5),
        "replicas": st.integers(0, 5),
        "observedGeneration": st.integers(0, 3),
        "currentRevision": st.sampled_from(["a", "b"]),
        "updateRevision": st.sampled_from(["a", "b"]),
        "phase": st.sampled_from(["Bound", "Pending"]),
        "conditions": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(
                        ["Complete", "Failed", "Available", "Progressing", "ScalingActive"]
                    ),
                    "status": st.sampled_from(["True", "False"]),
                }
            ),
            max_size=3,
        ),
    },
)


def fatal(rsp: fnv1.RunFunctionResponse) -> list[fnv1.Result]:
    return [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]


@given(valid_xr().map(_fix_autoscaling), st.data())
def test_valid_xr_composes_schema_valid_objects(x: Obj, data: st.DataObject) -> None:
    first = run(req(x))
    assert not fatal(first), [r.message for r in first.results]
    keys = list(first.desired.resources)
    observed = {}
    for k in data.draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys))):
        o = resource.struct_to_dict(first.desired.resources[k].resource)
        o["metadata"]["generation"] = 1
        o["status"] = data.draw(observed_status)
        observed[k] = o
    rsp = run(req(x, observed))
    assert not fatal(rsp)
    again = run(req(copy.deepcopy(x), copy.deepcopy(observed)))
    assert rsp.SerializeToString(deterministic=True) == again.SerializeToString(deterministic=True)
    status = resource.struct_to_dict(rsp.desired.composite.resource)["status"]
    assert status["phase"] in ("Initializing", "Progressing", "Healthy", "Degraded")
    objs = {k: ints(resource.struct_to_dict(r.resource)) for k, r in rsp.desired.resources.items()}
    # every check but "has resource requests": a user may set `resources: {}`
    for check in (invariants.check_services_select_workloads, invariants.check_selectors,
                  invariants.check_names, invariants.check_pod_security_restricted):  # fmt: skip
        check(objs)
    invariants.check_process_wiring(objs, x["metadata"]["namespace"])
    for o in objs.values():
        if o["kind"] == "Usage":
            continue
        o["metadata"]["namespace"] = x["metadata"]["namespace"]
        k8s_schema.validate(o)
    # never drop a stateful object the XR still asks for
    assert "etcd-statefulset" in rsp.desired.resources
    for cell in x["spec"]["cells"]:
        assert f"{cell['name']}-pooler-statefulset" in rsp.desired.resources


BREAKERS = [
    ("spec.etcd.replicas", lambda s: s.setdefault("etcd", {}).update(replicas=2)),
    ("spec.etcd.replicas", lambda s: s.setdefault("etcd", {}).update(replicas=9)),
    ("spec.cells", lambda s: s.update(cells=s["cells"] + s["cells"][:1])),
    ("spec.cells", lambda s: s.update(cells=[])),
    ("spec.cells[0].name", lambda s: s["cells"][0].update(name="Bad_Name")),
    ("spec.postgres", lambda s: s.pop("postgres")),
    (
        "spec.multigateway.autoscaling",
        lambda s: s.setdefault("multigateway", {}).update(
            autoscaling={"minReplicas": 9, "maxReplicas": 2}
        ),
    ),
    (
        "spec.multipooler.storage.size",
        lambda s: s.setdefault("multipooler", {}).update(storage={"size": "lots"}),
    ),
    ("spec.logLevel", lambda s: s.update(logLevel="chatty")),
    ("spec.bogus", lambda s: s.update(bogus=1)),
    (
        "spec.multipooler.replicasPerCell",
        lambda s: s.setdefault("multipooler", {}).update(replicasPerCell=0),
    ),
    (
        "spec.multipooler.replicasPerCell",
        lambda s: (
            s.update(cells=s["cells"][:1]),
            s["postgres"].pop("durabilityPolicy", None),
            s.setdefault("multipooler", {}).update(replicasPerCell=1),
        ),
    ),
    ("spec.multiorch.replicas", lambda s: s.setdefault("multiorch", {}).update(replicas=0)),
]


@given(valid_xr().map(_fix_autoscaling), st.sampled_from(BREAKERS))
def test_invalid_xr_is_one_fatal_naming_the_field(x: Obj, breaker: Any) -> None:
    field, breaks = breaker
    breaks(x["spec"])
    rsp = run(req(x))
    f = fatal(rsp)
    assert len(f) == 1 and len(rsp.results) == 1
    assert f"invalid XMultigres: {field}" in f[0].message, f[0].message
    assert not rsp.desired.resources


@given(st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=12))  # fmt: skip
def test_garbage_spec_never_raises(garbage: Any) -> None:
    x = {"apiVersion": "multigres.com/v1alpha1", "kind": "XMultigres",
         "metadata": {"name": "g", "namespace": "n"}, "spec": garbage}  # fmt: skip
    rsp = run(req(x))
    assert len(fatal(rsp)) == 1 or rsp.desired.resources
