"""The function's output, applied to a real kube-apiserver the way Crossplane applies it.

Each XR (every example, plus a generated sample) is rendered with `function.fn.
desired_objects` into a fresh namespace that enforces Pod Security `restricted`, and
every object is server-side applied (fieldManager `crossplane`, force). The server
validates each kind fully (names, selectors, quantities, ports, probes, ...), and the
pods the workloads' controllers would create are created as dry-run Pods so Pod
Security admission judges them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from apiserver_harness import ControlPlane, Kube
from rendered import (
    admit_pods,
    apply_all,
    describe,
    example_xrs,
    garbage_collect,
    generated_xrs,
    live_objects,
    render,
)

from tests import goldens
from tests.helpers import ints

XRS = example_xrs() + generated_xrs()
GOLDEN = [c for c in goldens.cases() if not c.name.startswith("invalid-")]
Obj = dict[str, Any]


@pytest.fixture(scope="module", autouse=True)
def usage_crd(kube: Kube, control_plane: ControlPlane) -> None:
    """Crossplane's own Usage CRD, so rendered Usages meet its real schema.

    hack/apiserver/install.sh copies it from the crossplane module in the Go module cache.
    """
    crd = control_plane.bindir / "crossplane-crds" / "protection.crossplane.io_usages.yaml"
    kube.install_crd(yaml.safe_load(crd.read_text()))


def test_examples_found() -> None:
    assert len(example_xrs()) >= 3, "expected the XMultigres examples under examples/"


@pytest.mark.parametrize("xr", [x for _, x in XRS], ids=[i for i, _ in XRS])
def test_output_accepted(kube: Kube, namespace: str, xr: Obj) -> None:
    """Every rendered object is accepted by server-side apply without warnings, and every
    pod template passes Pod Security `restricted` as a Pod."""
    objs = render(xr, namespace)
    live = apply_all(kube, objs)
    assert set(live) == set(objs)
    kinds = {o["kind"] for o in objs.values()}
    assert {"StatefulSet", "Service", "Job"} <= kinds
    pods = admit_pods(kube, objs)
    workloads = sum(o["kind"] in ("StatefulSet", "Deployment", "Job") for o in objs.values())
    assert pods == workloads


@pytest.mark.parametrize("case", GOLDEN, ids=[c.name for c in GOLDEN])
def test_golden_output_accepted(kube: Kube, namespace: str, case: goldens.Case) -> None:
    """The checked-in golden responses (what the fast tier compares against) are accepted
    as they are: a golden file is never only the function's own opinion."""
    rsp = json.loads(goldens.path(case).read_text())
    objs = {k: ints(r["resource"]) for k, r in rsp["desired"]["resources"].items()}
    for o in objs.values():
        o["metadata"]["namespace"] = namespace
    live = apply_all(kube, objs)
    assert set(live) == set(objs)
    assert admit_pods(kube, objs) == sum(
        o["kind"] in ("StatefulSet", "Deployment", "Job") for o in objs.values()
    )


def _settles(obj: Obj) -> bool:
    """kube-apiserver quirk, not the function's: a PVC is stored without status.phase at
    create (PrepareForCreate clears status; `Pending` is only defaulted on read), and the
    first update writes the defaulted phase — one extra resourceVersion for any PVC, even
    a hand-written one (in a real cluster the PV controller writes status anyway)."""
    return obj["kind"] == "PersistentVolumeClaim"


@pytest.mark.parametrize("xr", [x for _, x in XRS], ids=[i for i, _ in XRS])
def test_reapply_changes_nothing(kube: Kube, namespace: str, xr: Obj) -> None:
    """Applying the same output again leaves every resourceVersion unchanged — also when
    the output is re-rendered with the live objects as observed state (Crossplane's next
    reconcile), so nothing flaps between reconciles."""
    objs = render(xr, namespace)
    first = {k: o["metadata"]["resourceVersion"] for k, o in apply_all(kube, objs).items()}

    again = {k: o["metadata"]["resourceVersion"] for k, o in apply_all(kube, objs).items()}
    changed = [describe(objs[k]) for k in first if again[k] != first[k] and not _settles(objs[k])]
    assert not changed, f"re-applying identical output changed: {changed}"
    # A PVC settles on its first update whatever is applied (see _settles); from then
    # on it must be as still as everything else.
    first = again

    observed = live_objects(kube, objs)
    rerendered = render(xr, namespace, observed)
    assert set(rerendered) == set(objs)
    third = {k: o["metadata"]["resourceVersion"] for k, o in apply_all(kube, rerendered).items()}
    changed = [describe(objs[k]) for k in first if third[k] != first[k]]
    assert not changed, f"re-rendering with observed state changed: {changed}"


def test_broken_output_is_caught(kube: Kube, namespace: str) -> None:
    """The checks above bite: the same helpers refuse rendered output with a bad Service
    port name, and a pod template that runs as root."""
    xr = example_xrs()[0][1]
    objs = render(xr, namespace)
    svc = next(k for k, o in objs.items() if o["kind"] == "Service")
    broken = copy.deepcopy(objs)
    broken[svc]["spec"]["ports"][0]["name"] = "Bad_Port"
    with pytest.raises(AssertionError, match=r"spec.ports\[0\].name"):
        apply_all(kube, broken)

    sts = next(k for k, o in objs.items() if o["kind"] == "StatefulSet")
    broken = {sts: copy.deepcopy(objs[sts])}
    pod_spec = broken[sts]["spec"]["template"]["spec"]
    pod_spec.setdefault("securityContext", {})["runAsNonRoot"] = False
    for c in pod_spec["containers"]:
        c.setdefault("securityContext", {})["runAsUser"] = 0
    with pytest.raises(AssertionError, match="violates PodSecurity"):
        admit_pods(kube, broken)


# -- edits -------------------------------------------------------------------------------
def _base() -> Obj:
    return {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "XMultigres",
        "metadata": {"name": "edit", "namespace": "default"},
        "spec": {
            "cells": [{"name": "alpha"}, {"name": "beta"}],
            "postgres": {"passwordSecretRef": {"name": "edit-pg"}},
        },
    }


def _set(path: str, value: Any) -> Callable[[Obj], None]:
    def edit(xr: Obj) -> None:
        node = xr["spec"]
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value

    return edit


def _add_cell(xr: Obj) -> None:
    xr["spec"]["cells"].append({"name": "gamma", "zone": "z3"})


AS_ON = {"enabled": True, "minReplicas": 2, "maxReplicas": 6}

# (id, edits applied one after another, each applied to the cluster in turn)
EDITS: list[tuple[str, list[Callable[[Obj], None]]]] = [
    (
        "scale",
        [
            _set("multigateway.replicas", 4),
            _set("multiorch.replicas", 2),
            _set("multipooler.replicasPerCell", 3),
        ],
    ),
    (
        "scale-down",
        [_set("multigateway.replicas", 1), _set("multipooler.replicasPerCell", 1)],
    ),
    (
        "image-bump",
        [
            _set("images.multigres", "ghcr.io/multigres/multigres:sha-0000001"),
            _set("images.pgctld", "ghcr.io/multigres/pgctld:sha-0000001"),
            _set("images.etcd", "gcr.io/etcd-development/etcd:v3.6.99"),
            _set("images.pullPolicy", "Always"),
        ],
    ),
    ("add-cell", [_add_cell]),
    (
        "resources",
        [
            _set("multigateway.resources", {"requests": {"cpu": "750m", "memory": "1Gi"}}),
            _set(
                "multipooler.resources",
                {
                    "postgres": {"requests": {"cpu": "2", "memory": "4Gi"}},
                    "multipooler": {"limits": {"memory": "1Gi"}},
                },
            ),
            _set("etcd.resources", {"requests": {"cpu": "300m"}, "limits": {"memory": "2Gi"}}),
        ],
    ),
    (
        # on here, off again in the revert step
        "autoscaling-on-off",
        [
            _set("multigateway.autoscaling", AS_ON),
            _set("multiorch.autoscaling", AS_ON),
            _set("multipooler.autoscaling", AS_ON),
        ],
    ),
    (
        "storage-grow",
        [_set("multipooler.storage.size", "20Gi"), _set("etcd.storage.size", "2Gi")],
    ),
    (
        "placement-and-labels",
        [
            _set("scheduling", {"nodeSelector": {"pool": "db"}, "priorityClassName": "db-high"}),
            _set("podLabels", {"team": "x"}),
            _set("podAnnotations", {"note": "y"}),
            _set("networkPolicy", {"enabled": True}),
            _set("logLevel", "debug"),
            _set("pvcRetention", {"whenDeleted": "Delete", "whenScaled": "Delete"}),
            _set("multigateway.service", {"type": "LoadBalancer", "port": 6543}),
        ],
    ),
]


def _step(kube: Kube, xr: Obj, namespace: str, before: dict[str, Obj]) -> dict[str, Obj]:
    """One Crossplane reconcile: render with the live objects as observed, apply, collect
    garbage, and let Pod Security judge the new pod templates."""
    observed = live_objects(kube, before)
    objs = render(xr, namespace, observed)
    apply_all(kube, objs)
    garbage_collect(kube, before, objs)
    admit_pods(kube, objs)
    return objs


@pytest.mark.parametrize("edits", [e for _, e in EDITS], ids=[i for i, _ in EDITS])
def test_edit_accepted(kube: Kube, namespace: str, edits: list[Callable[[Obj], None]]) -> None:
    """Applying the output for an edited XR over the output of the original is accepted:
    no immutable-field (selector, volumeClaimTemplates, serviceName, Job template) or
    other update-only error. The edit is then reverted (where the XRD allows) and that
    is accepted too."""
    xr = _base()
    objs = _step(kube, xr, namespace, {})
    edited = copy.deepcopy(xr)
    for edit in edits:
        edit(edited)
    objs = _step(kube, edited, namespace, objs)
    # And back again: scale down, image roll-back, autoscaling off, ... (not a cell
    # removal or a storage shrink, which the XRD forbids).
    revert = copy.deepcopy(xr)
    if any(e is _add_cell for e in edits):
        revert["spec"]["cells"] = edited["spec"]["cells"]
    if edited["spec"].get("multipooler", {}).get("storage"):
        revert["spec"].setdefault("multipooler", {})["storage"] = edited["spec"]["multipooler"][
            "storage"
        ]
    if edited["spec"].get("etcd", {}).get("storage"):
        revert["spec"].setdefault("etcd", {})["storage"] = edited["spec"]["etcd"]["storage"]
    _step(kube, revert, namespace, objs)


def test_autoscaling_takes_over_without_a_reset(kube: Kube, namespace: str) -> None:
    """Turning autoscaling on must not drop running replicas to 1 (server-side apply
    removes a field its only applier stops sending); safety.hold_replicas keeps it.
    Without the observed state (no hold) the API server really does reset it."""
    xr = _base()
    xr["spec"]["multigateway"] = {"replicas": 3}
    xr["spec"]["multipooler"] = {"replicasPerCell": 3}
    objs = _step(kube, xr, namespace, {})
    on = copy.deepcopy(xr)
    on["spec"]["multigateway"]["autoscaling"] = AS_ON
    on["spec"]["multipooler"]["autoscaling"] = AS_ON
    objs = _step(kube, on, namespace, objs)
    live = live_objects(kube, objs)
    assert live["alpha-multigateway-deployment"]["spec"]["replicas"] == 3
    assert live["alpha-pooler-statefulset"]["spec"]["replicas"] == 3
    # The hazard being guarded against, shown on the real API server:
    fresh = render(on, namespace, None)
    assert "replicas" not in fresh["alpha-pooler-statefulset"]["spec"]
    apply_all(kube, {"alpha-pooler-statefulset": fresh["alpha-pooler-statefulset"]})
    reset = live_objects(kube, {"k": objs["alpha-pooler-statefulset"]})["k"]
    assert reset["spec"]["replicas"] == 1
