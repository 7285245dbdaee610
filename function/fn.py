"""RunFunction: observed XMultigres in, desired Multigres cluster out.

Orchestration only: parse and resolve (resolve.py), build (builders/), keep
immutable fields (safety.py), judge readiness (readiness.py), report (status.py).
Invalid input gives one Fatal result naming the field, and nothing is composed.
"""

from __future__ import annotations

import datetime
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

from function import readiness, safety
from function.api import SpecError
from function.builders import build
from function.resolve import Cluster, resolve
from function.status import Cond, Report, kept_conditions, summarize

tracer = trace.get_tracer("function-multigres")

TTL_PROGRESSING = datetime.timedelta(seconds=10)
TTL_HEALTHY = datetime.timedelta(seconds=60)
PASSWORD_REQUIREMENT = "postgres-password-secret"

Obj = dict[str, Any]


def to_dict(s: struct_pb2.Struct) -> Obj:
    """Struct → dict without json_format's per-field reflection (numbers stay floats)."""
    return {k: _value(v) for k, v in s.fields.items()}


def _value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _value(x) for k, x in v.struct_value.fields.items()}
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        return v.number_value
    if kind == "bool_value":
        return v.bool_value
    return None


def observed_view(s: struct_pb2.Struct) -> Obj:
    """The parts of an observed object readiness and the safety guard read.

    Skips `spec.template` (the bulk of a workload, and of the request) and
    `metadata.managedFields`, which nothing here looks at.
    """
    out: Obj = {}
    for k, v in s.fields.items():
        if k == "spec" and v.WhichOneof("kind") == "struct_value":
            out[k] = {
                sk: _value(sv) for sk, sv in v.struct_value.fields.items() if sk != "template"
            }
        elif k == "metadata" and v.WhichOneof("kind") == "struct_value":
            out[k] = {
                mk: _value(mv) for mk, mv in v.struct_value.fields.items() if mk != "managedFields"
            }
        else:
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


def _hpa_wants(desired: dict[str, Obj], observed: dict[str, Obj]) -> dict[str, int | None]:
    """Workload key → the replica count its observed HPA asks for."""
    wants: dict[str, int | None] = {}
    for key, obj in desired.items():
        if obj["kind"] == "HorizontalPodAutoscaler":
            target = key.removesuffix("-hpa") + (
                "-statefulset"
                if obj["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
                else "-deployment"
            )
            wants[target] = readiness.hpa_desired(observed.get(key))
    return wants


@dataclass(frozen=True, slots=True)
class Built:
    """Resolve + build output for one (XR identity, spec, input): never mutated once made."""

    cluster: Cluster
    objects: dict[str, Obj]
    blobs: dict[str, bytes]  # each object as serialized Struct, for a fast response write


def _serialize(cluster: Cluster, objects: dict[str, Obj]) -> Built:
    """Serialize every built object once, for cheap writes on later cache hits."""
    blobs = {}
    for key, obj in objects.items():
        s = struct_pb2.Struct()
        s.update(obj)
        blobs[key] = s.SerializeToString()
    return Built(cluster, objects, blobs)


class BuildCache:
    """A small LRU of `Built`, keyed by the exact bytes of what resolve reads.

    Crossplane re-runs the function for every reconcile of every XR, almost always with
    an unchanged spec: a hit skips validation, building and Struct conversion. Bounded
    (FUNCTION_MULTIGRES_BUILD_CACHE, default 64 entries; 0 disables) to keep memory flat.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, Built] = OrderedDict()

    @staticmethod
    def key(req: fnv1.RunFunctionRequest) -> bytes:
        xr = req.observed.composite.resource.fields
        meta = xr["metadata"].struct_value.fields if "metadata" in xr else {}
        name = meta["name"].string_value if "name" in meta else ""
        namespace = meta["namespace"].string_value if "namespace" in meta else ""
        spec = xr["spec"].SerializeToString(deterministic=True) if "spec" in xr else b""
        inp = req.input.SerializeToString(deterministic=True) if req.HasField("input") else b""
        return b"\0".join((name.encode(), namespace.encode(), spec, inp))

    def get(self, key: bytes) -> Built | None:
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, key: bytes, built: Built) -> None:
        if self.size <= 0:
            return
        self._entries[key] = built
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


CACHE = BuildCache(int(os.environ.get("FUNCTION_MULTIGRES_BUILD_CACHE", "64")))


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
    with tracer.start_as_current_span("status"):
        wants = _hpa_wants(objects, observed)
        verdicts = {
            k: readiness.verdict(o["kind"], observed.get(k), wants.get(k))
            for k, o in objects.items()
        }
        previous = (xr.get("status") or {}) if isinstance(xr.get("status"), dict) else {}
        generation = int((xr.get("metadata") or {}).get("generation") or 0)
        report = summarize(cluster, objects, observed, verdicts, wants, previous, generation)
        kept_cond, kept_warnings = kept_conditions(kept)
        composed = Composed(cluster, objects, verdicts, report)
        composed.conditions = [*report.conditions, kept_cond, _secret_condition(cluster, secret)]
        composed.warnings = [*kept_warnings, *report.warnings, *_advice(cluster)]
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


def _advice(c: Cluster) -> list[str]:
    """Warnings about valid but risky choices."""
    out = []
    if c.spec.multipooler.autoscaling.enabled:
        out.append(
            "multipooler autoscaling is on: scale-down removes the highest ordinal pod, "
            "which may be the primary (a failover follows)"
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
    xr = to_dict(req.observed.composite.resource)
    meta = xr.get("metadata") or {}
    span.set_attribute("multigres.xr.name", str(meta.get("name", "")))
    span.set_attribute("multigres.xr.namespace", str(meta.get("namespace", "")))
    span.set_attribute("multigres.xr.generation", int(meta.get("generation") or 0))
    raw_input = to_dict(req.input) if req.HasField("input") else None
    observed = {k: observed_view(r.resource) for k, r in req.observed.resources.items()}
    secret = None
    if PASSWORD_REQUIREMENT in req.required_resources:
        items = [to_dict(i.resource) for i in req.required_resources[PASSWORD_REQUIREMENT].items]
        secret = (True, items)
    try:
        key = CACHE.key(req)
        built = CACHE.get(key)
        span.set_attribute("multigres.build_cache_hit", built is not None)
        if built is None:
            with tracer.start_as_current_span("parse"):
                cluster = resolve(xr, raw_input)
            with tracer.start_as_current_span("build"):
                built = _serialize(cluster, build(cluster))
            CACHE.put(key, built)
        composed = compose(xr, raw_input, observed, secret, built)
    except SpecError as e:
        response.fatal(rsp, f"invalid XMultigres: {e.field}: {e.reason}")
        span.set_attribute("multigres.result_severity", "fatal")
        span.set_attribute("multigres.composed_objects", 0)
        return rsp
    write(rsp, composed, built)
    span.set_attribute("multigres.composed_objects", len(composed.objects))
    span.set_attribute("multigres.result_severity", "warning" if composed.warnings else "normal")
    return rsp


def write(rsp: fnv1.RunFunctionResponse, composed: Composed, built: Built | None = None) -> None:
    """Write desired objects, readiness, status, conditions and events into `rsp`."""
    c = composed.cluster
    ref = c.spec.postgres.password_secret_ref
    response.require_resources(
        rsp, PASSWORD_REQUIREMENT, "v1", "Secret", match_name=ref.name, namespace=c.namespace
    )
    for key, obj in composed.objects.items():
        r = rsp.desired.resources[key]
        if built is not None and built.objects.get(key) is obj:
            r.resource.MergeFromString(built.blobs[key])  # unchanged: pre-serialized
        else:
            r.resource.update(obj)
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
    if composed.report.healthy and not composed.warnings:
        rsp.meta.ttl.FromTimedelta(TTL_HEALTHY)


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The gRPC servicer Crossplane calls."""

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        return run(req)
