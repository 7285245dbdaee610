"""RunFunction: observed XMultigres in, desired Multigres cluster out.

Orchestration only, top to bottom: a repeated request is answered whole from the
response cache (response_cache.py, at RunFunction); otherwise parse and resolve
(cache.BuildInput → resolve.py), build (builders/, memoised by cache.py), keep immutable
fields (safety.py), judge readiness (readiness.py), report (status.py), write the
response (memo.py, wire.py convert). Invalid input gives one Fatal result naming the
field, and nothing is composed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import grpc
from crossplane.function import resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from opentelemetry import trace

from function import evidence, memo, readiness, safety, status
from function.api import SpecError
from function.builders import build
from function.cache import CACHE, BuildCache, BuildInput, Built
from function.resolve import Cluster, resolve_xr
from function.response_cache import ResponseCache, Wire
from function.structs import observed_view, to_dict, value

__all__ = ["CACHE", "RESPONSES", "BuildCache", "Built", "observed_view", "run", "to_dict"]

tracer = trace.get_tracer("function-multigres")

TTL_PROGRESSING = datetime.timedelta(seconds=10)
TTL_HEALTHY = datetime.timedelta(seconds=60)
PASSWORD_REQUIREMENT = "postgres-password-secret"

Obj = dict[str, Any]


@dataclass(slots=True)
class Composed:
    """What one call decided, before it is written into a response."""

    cluster: Cluster
    objects: dict[str, Obj]
    verdicts: dict[str, readiness.Verdict]
    report: status.Report
    required: dict[str, list[Obj]]


def compose(
    built: Built,
    observed: dict[str, Obj],
    secret: list[Obj] | None = None,
    previous: Obj | None = None,
    generation: int = 0,
    required: dict[str, list[Obj]] | None = None,
) -> Composed:
    """The pure core: built objects + observed state → what to answer.

    `secret` is the password requirement's items (None until Crossplane resolved it),
    `previous` the XR's last status, `generation` its metadata.generation and `required`
    the other required resources Crossplane sent (name → items; see evidence.py).
    """
    objects = dict(built.objects)  # the guard replaces entries, never the cached dicts
    with tracer.start_as_current_span("guard"):
        kept = safety.guard(objects, observed)
        safety.hold_replicas(objects, observed)
    with tracer.start_as_current_span("status"):
        wants = readiness.hpa_wants(objects, observed)
        verdicts = {
            k: readiness.verdict(o, observed.get(k), wants.get(k)) for k, o in objects.items()
        }
        report = status.summarize(
            status.Inputs(
                built.cluster, objects, observed, verdicts, wants, kept, secret, required or {}
            ),
            previous or {},
            generation,
        )
    return Composed(built.cluster, objects, verdicts, report, required or {})


def desired_objects(
    xr: Obj, input: Obj | None = None, observed: dict[str, Obj] | None = None
) -> dict[str, Obj]:
    """The desired manifests for an XR given as a dict (tests and tools; no cache)."""
    cluster = resolve_xr(xr, input)
    return compose(Built(cluster, build(cluster), {}), observed or {}).objects


def run(req: fnv1.RunFunctionRequest, cache: BuildCache = CACHE) -> fnv1.RunFunctionResponse:
    """Answer one request (synchronous, no I/O)."""
    rsp = response.to(req, ttl=TTL_PROGRESSING)
    span = trace.get_current_span()
    what = BuildInput.of(req)
    xr = req.observed.composite.resource.fields
    meta = to_dict(xr["metadata"].struct_value) if "metadata" in xr else {}
    generation = int(meta.get("generation") or 0)
    span.set_attribute("multigres.xr.name", what.name)
    span.set_attribute("multigres.xr.namespace", what.namespace)
    span.set_attribute("multigres.xr.generation", generation)

    key = what.key()
    built = cache.get(key)
    span.set_attribute("multigres.build_cache_hit", built is not None)
    try:
        if built is None:
            with tracer.start_as_current_span("parse"):
                cluster = what.resolve()
            with tracer.start_as_current_span("build"):
                built = Built(cluster, build(cluster), {})
            fresh = True
        else:
            fresh = False
    except SpecError as e:
        response.fatal(rsp, f"invalid XMultigres: {e.field}: {e.reason}")
        span.set_attribute("multigres.result_severity", "fatal")
        span.set_attribute("multigres.composed_objects", 0)
        return rsp
    span.set_attribute("multigres.cells", len(built.cluster.spec.cells))

    observed = {k: memo.view(r.resource, observed_view) for k, r in req.observed.resources.items()}
    secret = None
    if PASSWORD_REQUIREMENT in req.required_resources:
        secret = [to_dict(i.resource) for i in req.required_resources[PASSWORD_REQUIREMENT].items]
    required = {
        name: [to_dict(i.resource) for i in req.required_resources[name].items]
        for name in evidence.REQUIREMENTS
        if name in req.required_resources
    }
    previous = value(xr["status"]) if "status" in xr else None
    composed = compose(
        built,
        observed,
        secret,
        previous if isinstance(previous, dict) else None,
        generation,
        required,
    )

    encoded = write(rsp, composed, built)
    if fresh:
        cache.put(key, _with_blobs(built, composed, req, encoded))
    span.set_attribute("multigres.composed_objects", len(composed.objects))
    severity = "warning" if composed.report.warnings else "normal"
    span.set_attribute("multigres.result_severity", severity)
    return rsp


def _with_blobs(
    built: Built, composed: Composed, req: fnv1.RunFunctionRequest, encoded: dict[str, bytes]
) -> Built:
    """`built` plus the wire bytes just written for each object that is purely ours:
    not changed by the guard, and not merged into an earlier pipeline step's object."""
    blobs = {
        k: encoded[k]
        for k, obj in built.objects.items()
        if composed.objects.get(k) is obj and k not in req.desired.resources and k in encoded
    }
    return Built(built.cluster, built.objects, blobs)


_STATUS = {"True": fnv1.STATUS_CONDITION_TRUE, "False": fnv1.STATUS_CONDITION_FALSE}


def write(rsp: fnv1.RunFunctionResponse, composed: Composed, built: Built) -> dict[str, bytes]:
    """Write desired objects, readiness, status, conditions and events into `rsp`; return
    the wire bytes encoded for objects that had none stored."""
    encoded: dict[str, bytes] = {}
    c = composed.cluster
    ref = c.spec.postgres.password_secret_ref
    response.require_resources(
        rsp, PASSWORD_REQUIREMENT, "v1", "Secret", match_name=ref.name, namespace=c.namespace
    )
    evidence.require(rsp, c, composed.required)
    for key, obj in composed.objects.items():
        r = rsp.desired.resources[key]
        blob = built.blobs.get(key)
        if blob is not None and built.objects[key] is obj:
            r.resource.MergeFromString(blob)  # unchanged since it was built: reuse its bytes
        else:
            blob = encoded[key] = memo.encode(obj)
            r.resource.MergeFromString(blob)  # merges like Struct.update (function/wire.py)
        ok, _ = composed.verdicts[key]
        r.ready = fnv1.READY_TRUE if ok else fnv1.READY_FALSE
    report = composed.report
    resource.update(rsp.desired.composite, {"status": report.status})
    for cond in report.conditions:
        rsp.conditions.append(
            fnv1.Condition(
                type=cond.typ,
                status=_STATUS.get(cond.status, fnv1.STATUS_CONDITION_UNKNOWN),
                reason=cond.reason,
                message=cond.message,
            )
        )
    for msg in report.warnings:
        response.warning(rsp, msg)
    for msg in report.normals:
        response.normal(rsp, msg)
    if report.healthy:
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

    async def RunFunctionWire(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse | Wire:
        """What the v1 service sends: kept bytes as they are (server.py)."""
        return RESPONSES.answer(req, run)
