"""The benchmark's inputs: XRs of each size, a healthy observed state, and the requests.

Every function sees the same observed XR and observed composed resources; they differ
only where Crossplane itself would make them differ:

- ours and the floor get the password Secret as a required resource (our function asks
  for it, so in steady state Crossplane sends it on every call);
- the peer gets its go-template as the step's `input` and no required resources (its
  Composition asks for none).

The observed state follows hack/observed.py: each desired manifest plus server-set
metadata and the `status` a healthy cluster reports (HPAs that have scaled, a load
balancer with an address, a completed topology Job, bound claims).
"""

from __future__ import annotations

import copy
import hashlib
import string
from pathlib import Path
from typing import Any

import yaml
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

ROOT = Path(__file__).resolve().parent.parent
PEER_COMPOSITION = ROOT / "bench" / "peers" / "go-templating" / "composition.yaml"
PASSWORD_REQUIREMENT = "postgres-password-secret"
RUN_FUNCTION = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"

Obj = dict[str, Any]

#: The named sizes of the issue: small (defaults, 1 cell), reference (3 cells), large (20).
SIZES = ("small", "reference", "large")


def cell_names(n: int) -> list[str]:
    """zone-a, zone-b, ... zone-z, zone-aa, zone-ab, ... (valid cell names, stable order)."""
    letters = string.ascii_lowercase
    out = []
    for i in range(n):
        suffix = letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]
        out.append(f"zone-{suffix}")
    return out


def small_xr() -> Obj:
    """examples/minimal.yaml: every default, one cell."""
    xr: Obj = yaml.safe_load((ROOT / "examples" / "minimal.yaml").read_text())
    return xr


def cells_xr(n: int) -> Obj:
    """The reference shape with `n` cells: examples/multi-cell.yaml with etcd 3, 2 gateways
    and 2 poolers per cell, gateway autoscaling on (n=3 is exactly the reference XR)."""
    xr: Obj = yaml.safe_load((ROOT / "examples" / "multi-cell.yaml").read_text())
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    spec = xr["spec"]
    spec["cells"] = [{"name": c, "zone": zones[i % 3]} for i, c in enumerate(cell_names(n))]
    spec["etcd"] = {"replicas": 3}
    spec["multigateway"]["replicas"] = 2
    spec["multigateway"]["autoscaling"]["enabled"] = True
    spec["multipooler"]["replicasPerCell"] = 2
    if n < 2:
        spec["postgres"]["durabilityPolicy"] = "AT_LEAST_2"
    return xr


def size_xr(size: str) -> Obj:
    if size == "small":
        return small_xr()
    if size == "reference":
        return cells_xr(3)
    if size == "large":
        return cells_xr(20)
    if size.startswith("cells-"):
        return cells_xr(int(size.removeprefix("cells-")))
    raise ValueError(f"unknown size {size!r}")


def size_cells(size: str) -> int:
    return len(size_xr(size)["spec"].get("cells") or [None])


# --------------------------------------------------------------------------- observed


def _uid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _workload_status(o: Obj, want: int) -> Obj:
    """As hack/observed.py: a rolled-out Deployment/StatefulSet with every replica ready."""
    if o["kind"] == "StatefulSet":
        rev = f"{o['metadata']['name']}-r1"
        return {
            "observedGeneration": 1,
            "replicas": want,
            "readyReplicas": want,
            "availableReplicas": want,
            "currentReplicas": want,
            "updatedReplicas": want,
            "currentRevision": rev,
            "updateRevision": rev,
            "collisionCount": 0,
        }
    when = "2026-01-01T00:00:00Z"
    rs = f'ReplicaSet "{o["metadata"]["name"]}-5d8f7c9b4" has successfully progressed.'
    return {
        "observedGeneration": 1,
        "replicas": want,
        "updatedReplicas": want,
        "readyReplicas": want,
        "availableReplicas": want,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability.",
             "lastTransitionTime": when, "lastUpdateTime": when},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": rs, "lastTransitionTime": when, "lastUpdateTime": when},
        ],
    }  # fmt: skip


def observed_healthy(xr: Obj, desired: dict[str, Obj]) -> dict[str, Obj]:
    """Observed composed resources of a healthy cluster for `desired` (key -> manifest)."""
    ns = xr["metadata"]["namespace"]
    hpa_targets = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["minReplicas"]
        for o in desired.values()
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    out: dict[str, Obj] = {}
    for i, (key, d) in enumerate(desired.items()):
        o = copy.deepcopy(d)
        o["metadata"] = {
            **o["metadata"],
            "namespace": ns,
            "uid": _uid(i + 1),
            "generation": 1,
            "resourceVersion": str(100000 + i),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {
                **o["metadata"].get("annotations", {}),
                "crossplane.io/composition-resource-name": key,
            },
            "ownerReferences": [
                {"apiVersion": xr["apiVersion"], "kind": xr["kind"], "name": xr["metadata"]["name"],
                 "uid": _uid(0), "controller": True, "blockOwnerDeletion": True},
            ],
        }  # fmt: skip
        kind = o["kind"]
        if kind in ("Deployment", "StatefulSet"):
            name = o["metadata"]["name"]
            want = hpa_targets.get(name, o["spec"].get("replicas", 1))
            o["spec"] = {"replicas": want, **o["spec"]}  # the API server defaults it
            o["status"] = _workload_status(o, want)
        elif kind == "HorizontalPodAutoscaler":
            n = o["spec"]["minReplicas"]
            o["status"] = {
                "currentReplicas": n,
                "desiredReplicas": n,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current":
                     {"averageUtilization": 12, "averageValue": "12m"}}},
                ],
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                    {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                    {"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas"},
                ],
            }  # fmt: skip
        elif kind == "Job":
            o["status"] = {
                "succeeded": 1,
                "startTime": "2026-01-01T00:00:00Z",
                "completionTime": "2026-01-01T00:01:00Z",
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            }
        elif kind == "PersistentVolumeClaim":
            o["status"] = {
                "phase": "Bound",
                "accessModes": o["spec"]["accessModes"],
                "capacity": {"storage": o["spec"]["resources"]["requests"]["storage"]},
            }
        elif kind == "Service":
            if o["spec"].get("clusterIP") != "None":
                o["spec"] = {**o["spec"], "clusterIP": f"10.96.{i // 250}.{i % 250 + 1}"}
            if o["spec"].get("type") == "LoadBalancer":
                o["status"] = {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}
        elif kind == "PodDisruptionBudget":
            o["status"] = {"currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1,
                           "expectedPods": 2, "observedGeneration": 1}  # fmt: skip
        out[key] = o
    return out


def password_secret(xr: Obj) -> Obj:
    ref = xr["spec"]["postgres"]["passwordSecretRef"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": ref["name"], "namespace": xr["metadata"]["namespace"]},
        "type": "Opaque",
        "data": {ref.get("key", "password"): "c2VjcmV0LXBhc3N3b3JkLTEyMzQ1Ng=="},
    }


# --------------------------------------------------------------------------- requests


#: What Crossplane's FetchingFunctionRunner adds to a request after it has been tagged.
FETCHED_FIELDS = ("required_resources", "extra_resources", "required_schemas")


def crossplane_tag(req: fnv1.RunFunctionRequest) -> str:
    """`meta.tag` exactly as Crossplane v2.2.1 sets it: `Tag` (internal/xfn/utils.go) is the
    sha256 hex of the deterministically marshalled request, computed in the composite
    controller before `meta` is set and before the fetching runner adds the required
    resources the function asked for (their iterations reuse the tag). No bootstrap
    requirements are declared by our Composition, so none are part of the tag."""
    r = fnv1.RunFunctionRequest()
    r.CopyFrom(req)
    r.ClearField("meta")
    for f in FETCHED_FIELDS:
        r.ClearField(f)
    return hashlib.sha256(r.SerializeToString(deterministic=True)).hexdigest()


def tag(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionRequest:
    """`req` with meta.tag set as Crossplane sets it (in place; returned for chaining)."""
    req.meta.tag = crossplane_tag(req)
    return req


def _observed_xr(xr: Obj, keys: list[str], status: Obj | None) -> Obj:
    """The XR as the API server returns it: server metadata, Crossplane's spec fields, status."""
    o = copy.deepcopy(xr)
    o["metadata"] = {
        **o["metadata"],
        "uid": _uid(0),
        "generation": 1,
        "resourceVersion": "99999",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    }
    o["spec"] = {
        **o["spec"],
        "crossplane": {
            "compositionRef": {"name": "xmultigres"},
            "compositionRevisionRef": {"name": "xmultigres-a1b2c3d"},
            "compositionUpdatePolicy": "Automatic",
            "resourceRefs": [{"apiVersion": "v1", "kind": "Object", "name": k} for k in keys],
        },
    }
    if status is not None:
        o["status"] = status
    return o


def build_requests(size: str) -> dict[str, bytes]:
    """Serialized RunFunctionRequests for one size: {"ours": ..., "floor": ..., "peer": ...}."""
    from function.fn import desired_objects, run  # imported late: the peer needs no Python fn

    xr = size_xr(size)
    desired = desired_objects(xr)
    observed = observed_healthy(xr, desired)
    secret = password_secret(xr)

    def request(status: Obj | None, required: bool) -> fnv1.RunFunctionRequest:
        req = fnv1.RunFunctionRequest()
        req.observed.composite.resource.update(_observed_xr(xr, list(desired), status))
        for k, v in observed.items():
            req.observed.resources[k].resource.update(v)
        if required:
            req.required_resources[PASSWORD_REQUIREMENT].items.add().resource.update(secret)
        return req

    # The status our function wrote last time, as a healthy steady state carries it.
    first = run(request(None, True))
    status_dict: Obj = resource.struct_to_dict(first.desired.composite.resource).get("status", {})
    status_dict["conditions"] = [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "True", "reason": "Available",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    ours = tag(request(status_dict, True))
    peer = request(status_dict, False)
    peer.input.update(peer_input())
    tag(peer)
    return {
        "ours": ours.SerializeToString(deterministic=True),
        "floor": ours.SerializeToString(deterministic=True),
        "peer": peer.SerializeToString(deterministic=True),
    }


def peer_input() -> Obj:
    """The go-templating step's input, read from the peer Composition under bench/peers/."""
    comp = yaml.safe_load(PEER_COMPOSITION.read_text())
    for step in comp["spec"]["pipeline"]:
        if step["functionRef"]["name"] == "function-go-templating":
            inp: Obj = step["input"]
            return inp
    raise LookupError(f"{PEER_COMPOSITION}: no function-go-templating step")
