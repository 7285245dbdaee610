"""RunFunction: observed XMultigres in, desired Multigres cluster out.

Orchestration only: parse and resolve (resolve.py), build (builders/), keep
immutable fields (safety.py), judge readiness (readiness.py), report (status.py).
Invalid input gives one Fatal result naming the field, and nothing is composed.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import grpc
from crossplane.function import resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import struct_pb2
from opentelemetry import trace

from function import memo, readiness, safety
from function.api import SpecError
from function.builders import build
from function.resolve import Cluster, resolve
from function.response_cache import ResponseCache
from function.status import Cond, Report, kept_conditions, summarize

tracer = trace.get_tracer("function-multigres")

TTL_PROGRESSING = datetime.timedelta(seconds=10)
TTL_HEALTHY = datetime.timedelta(seconds=60)
PASSWORD_REQUIREMENT = "postgres-password-secret"

Obj = dict[str, Any]


def to_dict(s: struct_pb2.Struct) -> Obj:
    """Struct → dict without json_format's per-field reflection (numbers stay floats)."""
    f = s.fields
    return {k: _value(f[k]) for k in f}  # keys, not .items(): upb's ItemsView is slow


def _value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "struct_value":
        f = v.struct_value.fields
        return {k: _value(f[k]) for k in f}
    if kind == "number_value":
        return v.number_value
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    if kind == "bool_value":
        return v.bool_value
    return None


#: The only parts of an observed object that readiness, status and the safety guard
#: read (everything under `status` is kept). A test checks that answers are the same
#: as with the whole object.
OBSERVED_FIELDS = {
    "metadata": frozenset({"generation", "name", "managedFields"}),
    "spec": frozenset(
        {
            "replicas",
            "selector",
            "serviceName",
            "podManagementPolicy",
            "volumeClaimTemplates",
            "accessModes",
            "storageClassName",
            "resources",
            "type",
        }
    ),
}


def _managed_replicas(v: struct_pb2.Value) -> list[Obj]:
    """managedFields reduced to the entries that own spec.replicas (see safety.hold_replicas)."""
    out: list[Obj] = []
    for e in v.list_value.values:
        f = e.struct_value.fields
        fv1 = f["fieldsV1"].struct_value.fields if "fieldsV1" in f else {}
        spec = fv1["f:spec"].struct_value.fields if "f:spec" in fv1 else {}
        if "f:replicas" in spec:
            out.append(
                {
                    "operation": f["operation"].string_value if "operation" in f else "",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                }
            )
    return out


def observed_view(s: struct_pb2.Struct) -> Obj:
    """An observed object reduced to OBSERVED_FIELDS: pod templates and managedFields,
    the bulk of a request, are never converted."""
    out: Obj = {}
    fields = s.fields
    for k in fields:
        v = fields[k]
        allow = OBSERVED_FIELDS.get(k)
        if allow is not None and v.WhichOneof("kind") == "struct_value":
            f = v.struct_value.fields
            out[k] = {
                kk: _managed_replicas(f[kk]) if kk == "managedFields" else _value(f[kk])
                for kk in f
                if kk in allow
            }
        elif k == "status":
            out[k] = _value(v)
    return out


@dataclass(slots=True)
class Composed:
    """What one call decided, before it is written into a response."""

    cluster: Cluster
    objects: dict[str, Obj]
    verdicts: dict[str, tuple[bool, str]]
    report: Report
    warnings: list[str] = field(default_factory=list)
    conditions: list[Cond] = field(default_factory=list)


def _want(obj: Obj, hpa: int | None) -> int | None:
    """Replicas to judge a workload against: the HPA's count, else what we ask for."""
    if hpa is not None:
        return hpa
    replicas = (obj.get("spec") or {}).get("replicas")
    return int(replicas) if replicas is not None else None


def _hpa_wants(desired: dict[str, Obj], observed: dict[str, Obj]) -> dict[str, int | None]:
    """Workload key → the replica count its observed HPA asks for (matched by scaleTargetRef)."""
    keys = {(o["kind"], o["metadata"]["name"]): k for k, o in desired.items()}
    wants: dict[str, int | None] = {}
    for key, obj in desired.items():
        if obj["kind"] == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            wants[keys[(ref["kind"], ref["name"])]] = readiness.hpa_desired(observed.get(key))
    return wants


@dataclass(frozen=True, slots=True)
class Built:
    """Resolve + build output for one (XR identity, spec, input): never mutated once made."""

    cluster: Cluster
    objects: dict[str, Obj]
    blobs: dict[str, bytes]  # each object as serialized Struct, for a fast response write


class BuildCache:
    """An LRU of `Built`, keyed by a digest of exactly what resolve reads.

    Crossplane re-runs the function on every reconcile of every XR, almost always with an
    unchanged spec: a hit skips validation, building and Struct conversion. Bounded by the
    bytes of the serialized objects it holds (FUNCTION_MULTIGRES_BUILD_CACHE_MIB, default 4;
    0 disables), so memory stays flat however many XRs one process serves.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.used = 0
        self._entries: OrderedDict[bytes, tuple[Built, int]] = OrderedDict()

    @staticmethod
    def key(req: fnv1.RunFunctionRequest) -> bytes:
        xr = req.observed.composite.resource.fields
        meta = xr["metadata"].struct_value.fields if "metadata" in xr else {}
        h = hashlib.blake2b(digest_size=32)
        for part in (
            (meta["name"].string_value if "name" in meta else "").encode(),
            (meta["namespace"].string_value if "namespace" in meta else "").encode(),
            xr["spec"].SerializeToString(deterministic=True) if "spec" in xr else b"",
            req.input.SerializeToString(deterministic=True) if req.HasField("input") else b"",
        ):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.digest()

    def get(self, key: bytes) -> Built | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[0]

    def put(self, key: bytes, built: Built) -> None:
        # The dicts cost a few times their wire size; count both, roughly.
        cost = 4 * sum(len(b) for b in built.blobs.values()) + 1024
        if cost > self.budget:
            return
        if key in self._entries:
            self.used -= self._entries.pop(key)[1]
        self._entries[key] = (built, cost)
        self.used += cost
        while self.used > self.budget:
            self.used -= self._entries.popitem(last=False)[1][1]

    def clear(self) -> None:
        self._entries.clear()
        self.used = 0


CACHE = BuildCache(int(float(os.environ.get("FUNCTION_MULTIGRES_BUILD_CACHE_MIB", "4")) * 2**20))


def compose(
    xr: Obj,
    raw_input: Obj | None = None,
    observed: dict[str, Obj] | None = None,
    secret: tuple[bool, list[Obj]] | None = None,
    built: Built | None = None,
) -> Composed:
    """Pure core of RunFunction. `secret` is (resolved?, items) of the password requirement."""
    observed = observed or {}
    if built is None:
        with tracer.start_as_current_span("parse"):
            cluster = resolve(xr, raw_input)
        with tracer.start_as_current_span("build"):
            objects = build(cluster)
    else:
        cluster, objects = built.cluster, dict(built.objects)
    span = trace.get_current_span()
    span.set_attribute("multigres.cells", len(cluster.spec.cells))
    with tracer.start_as_current_span("guard"):
        kept = safety.guard(objects, observed)
        safety.hold_replicas(objects, observed)
    with tracer.start_as_current_span("status"):
        wants = _hpa_wants(objects, observed)
        verdicts = {
            k: readiness.verdict(o["kind"], observed.get(k), _want(o, wants.get(k)))
            for k, o in objects.items()
        }
        previous = (xr.get("status") or {}) if isinstance(xr.get("status"), dict) else {}
        generation = int((xr.get("metadata") or {}).get("generation") or 0)
        report = summarize(cluster, objects, observed, verdicts, wants, previous, generation)
        kept_cond, kept_warnings = kept_conditions(kept)
        composed = Composed(cluster, objects, verdicts, report)
        composed.conditions = [*report.conditions, kept_cond, _secret_condition(cluster, secret)]
        composed.warnings = [
            *kept_warnings,
            *report.warnings,
            *_advice(cluster, observed),
        ]
        if composed.conditions[-1].status == "False" and secret is not None and secret[0]:
            composed.warnings.append(composed.conditions[-1].message)
    return composed


def _secret_condition(c: Cluster, secret: tuple[bool, list[Obj]] | None) -> Cond:
    ref = c.spec.postgres.password_secret_ref
    where = f"Secret {c.namespace}/{ref.name} key {ref.key!r}"
    if secret is None or not secret[0]:
        return Cond("PasswordSecretReady", "Unknown", "NotChecked", f"{where} not checked yet")
    items = secret[1]
    if not items:
        return Cond(
            "PasswordSecretReady",
            "False",
            "SecretNotFound",
            f"{where}: the Secret does not exist; Postgres pods wait until it is created",
        )
    data = items[0].get("data") or {}
    if ref.key not in data:
        return Cond(
            "PasswordSecretReady",
            "False",
            "KeyNotFound",
            f"{where}: the Secret has no such key (keys: {', '.join(sorted(data)) or 'none'})",
        )
    return Cond("PasswordSecretReady", "True", "Found", f"{where} found")


def _pods_not_ready(sts: Obj | None) -> bool:
    """The StatefulSet has created pods that are not ready (as far as its status tells)."""
    st = (sts or {}).get("status") or {}
    return int(st.get("replicas") or 0) > int(st.get("readyReplicas") or 0)


def _advice(c: Cluster, observed: dict[str, Obj]) -> list[str]:
    """Warnings about valid but risky choices, and likely causes of a stall."""
    out = []
    if c.spec.multipooler.autoscaling.enabled:
        out.append(
            "multipooler autoscaling is on: scale-down removes the highest ordinal pod, "
            "which may be the primary (a failover follows)"
        )
    b = c.spec.backup
    shared_rwo = not b.existing_claim and "ReadWriteMany" not in b.storage.access_modes
    stalled = [
        cell for cell in c.cell_names if _pods_not_ready(observed.get(f"{cell}-pooler-statefulset"))
    ]
    if (
        shared_rwo
        and stalled
        and (len(c.cell_names) > 1 or c.spec.multipooler.replicas_per_cell > 1)
    ):
        out.append(
            f"poolers not ready in {', '.join(stalled)}: every pooler mounts the backup volume, "
            f"which is {'/'.join(b.storage.access_modes)}; pods on other nodes or zones can not "
            "attach it. Use ReadWriteMany storage (spec.backup.storage) or an existing RWX claim "
            "(spec.backup.existingClaim) on multi-node clusters"
        )
    return out


def desired_objects(
    xr: Obj, input: Obj | None = None, observed: dict[str, Obj] | None = None
) -> dict[str, Obj]:
    """The desired manifests for an XR (no namespace: Crossplane sets the XR's)."""
    return compose(xr, input, observed).objects


_STATUS = {"True": fnv1.STATUS_CONDITION_TRUE, "False": fnv1.STATUS_CONDITION_FALSE}


def run(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    """Answer one request (synchronous, no I/O)."""
    rsp = response.to(req, ttl=TTL_PROGRESSING)
    span = trace.get_current_span()
    fields = req.observed.composite.resource.fields
    # The spec is converted only when resolve needs it (a build-cache miss, below).
    xr = {k: _value(fields[k]) for k in fields if k != "spec"}
    meta = xr.get("metadata") or {}
    span.set_attribute("multigres.xr.name", str(meta.get("name", "")))
    span.set_attribute("multigres.xr.namespace", str(meta.get("namespace", "")))
    span.set_attribute("multigres.xr.generation", int(meta.get("generation") or 0))
    raw_input = to_dict(req.input) if req.HasField("input") else None
    observed = {k: memo.view(r.resource, observed_view) for k, r in req.observed.resources.items()}
    secret = None
    if PASSWORD_REQUIREMENT in req.required_resources:
        items = [to_dict(i.resource) for i in req.required_resources[PASSWORD_REQUIREMENT].items]
        secret = (True, items)
    try:
        key = CACHE.key(req)
        built = CACHE.get(key)
        hit = built is not None
        span.set_attribute("multigres.build_cache_hit", hit)
        if built is None and "spec" in fields:
            xr["spec"] = _value(fields["spec"])
        if built is None:
            with tracer.start_as_current_span("parse"):
                cluster = resolve(xr, raw_input)
            with tracer.start_as_current_span("build"):
                built = Built(cluster, build(cluster), {})
        composed = compose(xr, raw_input, observed, secret, built)
    except SpecError as e:
        response.fatal(rsp, f"invalid XMultigres: {e.field}: {e.reason}")
        span.set_attribute("multigres.result_severity", "fatal")
        span.set_attribute("multigres.composed_objects", 0)
        return rsp
    encoded = write(rsp, composed, built)
    if not hit:
        CACHE.put(key, _with_blobs(built, composed, req, encoded))
    span.set_attribute("multigres.composed_objects", len(composed.objects))
    span.set_attribute("multigres.result_severity", "warning" if composed.warnings else "normal")
    return rsp


def _with_blobs(
    built: Built, composed: Composed, req: fnv1.RunFunctionRequest, encoded: dict[str, bytes]
) -> Built:
    """`built` plus the wire bytes just written for each object that is purely ours."""
    blobs = {
        k: encoded[k]
        for k, obj in built.objects.items()
        if composed.objects.get(k) is obj and k not in req.desired.resources and k in encoded
    }
    return Built(built.cluster, built.objects, blobs)


def write(
    rsp: fnv1.RunFunctionResponse, composed: Composed, built: Built | None = None
) -> dict[str, bytes]:
    """Write desired objects, readiness, status, conditions and events into `rsp`; return
    the wire bytes encoded for objects that had none stored."""
    encoded: dict[str, bytes] = {}
    c = composed.cluster
    ref = c.spec.postgres.password_secret_ref
    response.require_resources(
        rsp, PASSWORD_REQUIREMENT, "v1", "Secret", match_name=ref.name, namespace=c.namespace
    )
    for key, obj in composed.objects.items():
        r = rsp.desired.resources[key]
        blob = built.blobs.get(key) if built is not None else None
        if blob is not None and built is not None and built.objects.get(key) is obj:
            r.resource.MergeFromString(blob)  # unchanged since it was built: reuse its bytes
        else:
            blob = encoded[key] = memo.encode(obj)
            r.resource.MergeFromString(blob)  # merges like Struct.update
        ok, _ = composed.verdicts[key]
        r.ready = fnv1.READY_TRUE if ok else fnv1.READY_FALSE
    resource.update(rsp.desired.composite, {"status": composed.report.status})
    for cond in composed.conditions:
        rsp.conditions.append(
            fnv1.Condition(
                type=cond.typ,
                status=_STATUS.get(cond.status, fnv1.STATUS_CONDITION_UNKNOWN),
                reason=cond.reason,
                message=cond.message,
            )
        )
    for msg in composed.warnings:
        response.warning(rsp, msg)
    for msg in composed.report.normals:
        response.normal(rsp, msg)
    if composed.report.healthy:
        rsp.meta.ttl.FromTimedelta(TTL_HEALTHY)
    return encoded


#: Whole responses by request (function/response_cache.py): a repeated request is answered
#: without running `run` again.
RESPONSES = ResponseCache.from_env()


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The gRPC servicer Crossplane calls."""

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        return RESPONSES.serve(req, run)
