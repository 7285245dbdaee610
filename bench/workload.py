"""The benchmark's inputs: XRs of each size, a healthy observed state, and the requests.

Every function sees the same observed XR and observed composed resources; they differ
only where Crossplane itself would make them differ:

- ours and the floor get the password Secret as a required resource (our function asks
  for it, so in steady state Crossplane sends it on every call);
- the peer gets its go-template as the step's `input` and no required resources (its
  Composition asks for none).

The observed state is modelled (the same shape as examples/observed/healthy.yaml, which
the e2e tier records): each desired manifest plus server-set metadata and the `status`
a healthy cluster reports (HPAs that have scaled, a load
balancer with an address, a completed topology Job, bound claims).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import string
from pathlib import Path
from typing import Any

import yaml
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
PEER_COMPOSITION = PEERS / "go-templating" / "composition.yaml"
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
    """As recorded when healthy: a rolled-out Deployment/StatefulSet, every replica ready."""
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
    """Serialized steady-state requests for one size, tagged as Crossplane tags them:
    {"ours": ..., "floor": ..., "pythonic": ..., "go-templating": ...} (a new dict each
    call; the bytes are built once per size and process: the bench asks for the same
    sizes in several of its parts)."""
    return dict(_built_requests(size))


@functools.cache
def _built_requests(size: str) -> dict[str, bytes]:
    xr, desired, observed, status = _steady_state(size)
    out = {
        fn: _request(xr, desired, observed, status, fn).SerializeToString(deterministic=True)
        for fn in ("ours", "pythonic", "go-templating")
    }
    out["floor"] = out["ours"]
    return out


def peer_input(peer: str = "go-templating") -> Obj:
    """A peer step's input, read from its Composition under bench/peers/<peer>/."""
    path = PEERS / peer / "composition.yaml"
    comp = yaml.safe_load(path.read_text())
    for step in comp["spec"]["pipeline"]:
        if step["functionRef"]["name"] == f"function-{peer}":
            inp: Obj = step["input"]
            return inp
    raise LookupError(f"{path}: no function-{peer} step")


# --------------------------------------------------------------------------- scenarios

#: Replaced by a fixed-width counter in every request of the observed-change and cold
#: scenarios (bench/client.py --template).
PLACEHOLDER = "~~~~~~~~~~~~"
#: The name the fleet's XRs are built with; each XR gets its own number in its place.
FLEET_NAME = "fleet-0000"
#: The fleet's sizes, and how many of each per 20 XRs: 14 small, 5 reference, 1 large.
FLEET_MIX = (("small", 14), ("reference", 5), ("large", 1))


def split(req: fnv1.RunFunctionRequest) -> tuple[bytes, bytes]:
    """(body, fetched): the request without meta and without what Crossplane fetches after
    tagging it, and those fetched fields alone; both deterministic. Protobuf writes fields
    in number order, so meta + body + fetched parses back to the request, and the tag is
    sha256(body) (see crossplane_tag)."""
    body = fnv1.RunFunctionRequest()
    body.CopyFrom(req)
    body.ClearField("meta")
    fetched = fnv1.RunFunctionRequest()
    for f in FETCHED_FIELDS:
        body.ClearField(f)
        getattr(fetched, f).MergeFrom(getattr(req, f))
    return body.SerializeToString(deterministic=True), fetched.SerializeToString(deterministic=True)


def assemble(body: bytes, fetched: bytes) -> bytes:
    """A tagged request from split()'s parts, with the tag Crossplane would give it."""
    tag_ = hashlib.sha256(body).hexdigest().encode()
    meta = b"\x0a\x40" + tag_  # RequestMeta{tag}: field 1, 64 bytes
    return b"\x0a" + bytes([len(meta)]) + meta + body + fetched


def _request(
    xr: Obj, desired: dict[str, Obj], observed: dict[str, Obj], status: Obj | None, fn: str
) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    req.observed.composite.resource.update(_observed_xr(xr, list(desired), status))
    for k, v in observed.items():
        req.observed.resources[k].resource.update(v)
    if fn in ("ours", "floor"):
        secret = password_secret(xr)
        req.required_resources[PASSWORD_REQUIREMENT].items.add().resource.update(secret)
    else:
        req.input.update(peer_input(fn))
    return tag(req)


@functools.cache
def _steady_state(size: str) -> tuple[Obj, dict[str, Obj], dict[str, Obj], Obj]:
    """(XR, desired, observed, last status) of a healthy cluster of `size`: callers that
    change them must copy first."""
    from function.fn import desired_objects  # imported late: the peers need no Python fn

    xr = size_xr(size)
    desired = desired_objects(xr)
    observed = observed_healthy(xr, desired)
    # The status our function wrote last time, as a healthy steady state carries it.
    return xr, desired, observed, _last_status(xr, desired, observed)


def _last_status(xr: Obj, desired: dict[str, Obj], observed: dict[str, Obj]) -> Obj:
    from function.fn import run

    first = run(_request(xr, desired, observed, None, "ours"))
    status: Obj = resource.struct_to_dict(first.desired.composite.resource).get("status", {})
    status["conditions"] = [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "True", "reason": "Available",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    return status


def scenario_template(size: str, scenario: str, fn: str) -> tuple[bytes, bytes]:
    """(body, fetched) for bench/client.py --template: a request that is new on every call.

    observed_change: the healthy steady-state request, but one observed object (the first
    pooler StatefulSet) has a new metadata.resourceVersion and a new rolled-out revision
    in its status on every call, as after a status update: same spec, new observed state,
    a new tag.
    cold: a new spec on every call (an annotation of the gateway Service changes), so
    nothing built before can be reused.
    """

    if scenario not in ("observed_change", "cold"):
        raise ValueError(scenario)
    xr, desired, observed, status = copy.deepcopy(_steady_state(size))
    if scenario == "observed_change":
        key = next(k for k in observed if k.endswith("-pooler-statefulset"))
        sts = observed[key]
        sts["metadata"]["resourceVersion"] = PLACEHOLDER
        # A status the function reads changes too (a rolled-out revision), so no part of
        # the answer that depends on this object can be reused.
        sts["status"]["currentRevision"] = sts["status"]["updateRevision"] = PLACEHOLDER
    else:  # the spec is new; what is observed is still the cluster of the previous one
        svc = xr["spec"].setdefault("multigateway", {}).setdefault("service", {})
        svc.setdefault("annotations", {})["bench.multigres.com/revision"] = PLACEHOLDER
    return split(_request(xr, desired, observed, status, fn))


def fleet_requests(n: int, fn: str = "ours") -> list[bytes]:
    """n distinct steady-state XRs of mixed sizes (FLEET_MIX), each request tagged: the
    XRs differ in name (FLEET_NAME with its own number, substituted in the serialized
    request, so every object name, label and hostname is the XR's own)."""
    from function.fn import desired_objects

    bases = {}
    for size, _ in FLEET_MIX:
        xr = size_xr(size)
        xr["metadata"]["name"] = FLEET_NAME
        desired = desired_objects(xr)
        observed = observed_healthy(xr, desired)
        status = _last_status(xr, desired, observed)
        bases[size] = split(_request(xr, desired, observed, status, fn))
    cycle = [size for size, count in FLEET_MIX for _ in range(count)]
    old = FLEET_NAME.encode()
    out = []
    for i in range(n):
        body, fetched = bases[cycle[i % len(cycle)]]
        new = f"fleet-{i:04d}".encode()
        out.append(assemble(body.replace(old, new), fetched.replace(old, new)))
    return out
