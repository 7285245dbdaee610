"""Per-call instrumentation of RunFunction: span attributes, metrics, one log line, in-flight.

What the SDK's runtime.serve does not do: it serves the runner bare. The span itself is
opentelemetry-instrumentation-grpc's (``tracing_interceptor``): it opens one SERVER span
per FunctionRunnerService call, joins an incoming W3C ``traceparent`` and records
exceptions; InstrumentedRunner adds what only the function knows (the XR, the outcome,
an ERROR status for a Fatal result or an exception) to that span.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import crossplane.function.proto.v1.run_function_pb2 as fnv1
import crossplane.function.proto.v1.run_function_pb2_grpc as grpcv1
import grpc
from crossplane.function import logging as fnlogging
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.trace import Status, StatusCode

from function.response_cache import Wire, fatal_messages
from function.telemetry import Metrics

#: The methods whose calls get a span: v1 and v1beta1 FunctionRunnerService, not health
#: checks or reflection.
TRACED_PREFIX = "/apiextensions.fn.proto."


def traced(details: grpc.HandlerCallDetails) -> bool:
    """Whether a call gets a span: FunctionRunnerService calls only, by one ``startswith``.

    Health checks stay untraced for more than noise: the interceptor's streaming wrapper
    iterates the handler (``async for``), and HealthService.Watch writes with
    ``context.write`` instead of yielding, so a traced Watch fails with a TypeError.
    The library's own ``filters.service_prefix`` would do the same job with isinstance
    checks against a typing Protocol and ``os.path`` work per call: in
    ``hack/tracing_cost.py --micro`` that was about half of what the interceptor cost
    over a hand-made span (docs/observability.md).
    """
    return details.method.startswith(TRACED_PREFIX)


def tracing_interceptor(
    tracer_provider: trace.TracerProvider | None = None,
) -> grpc.aio.ServerInterceptor:
    """The OpenTelemetry gRPC server interceptor, limited to the FunctionRunnerService."""
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(
        tracer_provider=tracer_provider, filter_=traced
    )
    return interceptor


def xr_identity(req: fnv1.RunFunctionRequest) -> tuple[str, str, int | None]:
    """Return the observed XR's name, namespace and generation without mutating req.

    Read with ``.get`` because bracket access on protobuf maps inserts missing keys.
    """
    meta = req.observed.composite.resource.fields.get("metadata")
    if meta is None or meta.WhichOneof("kind") != "struct_value":
        return "", "", None
    fields = meta.struct_value.fields
    name = fields.get("name")
    namespace = fields.get("namespace")
    generation = fields.get("generation")
    return (
        name.string_value if name is not None else "",
        namespace.string_value if namespace is not None else "",
        int(generation.number_value)
        if generation is not None and generation.WhichOneof("kind") == "number_value"
        else None,
    )


def _fatal_messages(rsp: fnv1.RunFunctionResponse | Wire) -> tuple[str, ...]:
    return rsp.fatal if isinstance(rsp, Wire) else fatal_messages(rsp)


def has_fatal(rsp: fnv1.RunFunctionResponse | Wire) -> bool:
    """Report whether the response aborts the pipeline (a Fatal result)."""
    return bool(_fatal_messages(rsp))


class InstrumentedRunner(grpcv1.FunctionRunnerServiceServicer):
    """Wraps a runner with metrics, one log line per call and an expired-deadline check.

    It annotates the current span (the interceptor's) and counts in-flight calls so
    shutdown can tell when draining is done.
    """

    def __init__(
        self,
        wrapped: grpcv1.FunctionRunnerServiceServicer,
        metrics: Metrics,
        *,
        debug: bool = False,
    ) -> None:
        """Wrap ``wrapped``; ``debug`` adds per-call details to the debug log."""
        self._wrapped = wrapped
        #: The wrapped runner's wire entry point, if it has one (looked up once, not per call).
        self._by_wire = getattr(wrapped, "RunFunctionWire", None)
        self._metrics = metrics
        self._debug = debug
        self._log = fnlogging.get_logger()
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    @property
    def in_flight(self) -> int:
        """Calls currently being handled."""
        return self._in_flight

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            if self._in_flight == 0:
                self._idle.set()
        return self._idle

    async def wait_idle(self) -> None:
        """Return once no call is in flight."""
        await self._idle_event().wait()

    def _enter(self) -> None:
        self._in_flight += 1
        self._metrics.in_flight.inc()
        self._idle_event().clear()

    def _exit(self) -> None:
        self._in_flight -= 1
        self._metrics.in_flight.dec()
        if self._in_flight == 0:
            self._idle_event().set()

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        """Run the wrapped function, timing and counting the call and annotating its span."""
        got = await self.RunFunctionWire(req, context, wire=False)
        return got.message() if isinstance(got, Wire) else got

    async def RunFunctionWire(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext, wire: bool = True
    ) -> fnv1.RunFunctionResponse | Wire:
        """RunFunction that may answer with kept wire bytes (the v1 service, server.py),
        when the wrapped runner has RunFunctionWire and `wire` is set."""
        name, namespace, generation = xr_identity(req)
        span = trace.get_current_span()
        span.set_attribute("multigres.xr.name", name)
        span.set_attribute("multigres.xr.namespace", namespace)
        if generation is not None:
            span.set_attribute("multigres.xr.generation", generation)
        outcome = "error"
        rsp: fnv1.RunFunctionResponse | Wire | None = None
        error: BaseException | None = None
        start = time.perf_counter()
        self._enter()
        try:
            rsp = await self._call(req, context, wire)
            outcome = "fatal" if has_fatal(rsp) else "ok"
            return rsp
        except BaseException as exc:  # CancelledError too: count it, then re-raise
            error = exc
            raise
        finally:
            duration = time.perf_counter() - start
            self._exit()
            self._record(span, outcome, duration, rsp, error, name, namespace, req)

    async def _call(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext, wire: bool
    ) -> fnv1.RunFunctionResponse | Wire:
        """Call the wrapped runner, unless the caller's deadline has already passed.

        Nothing bounds the call once it runs: `fn.run` is synchronous and cannot be
        interrupted, and the caller's own deadline already ends its wait.
        """
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "deadline exceeded before the function started",
            )
        if wire and self._by_wire is not None:
            got: fnv1.RunFunctionResponse | Wire = await self._by_wire(req, context)
            return got
        rsp: fnv1.RunFunctionResponse = await self._wrapped.RunFunction(req, context)
        return rsp

    def _record(
        self,
        span: trace.Span,
        outcome: str,
        duration: float,
        rsp: fnv1.RunFunctionResponse | Wire | None,
        error: BaseException | None,
        name: str,
        namespace: str,
        req: fnv1.RunFunctionRequest,
    ) -> None:
        m = self._metrics
        m.runs.labels(outcome=outcome).inc()
        m.duration.observe(duration)
        composed = 0
        if rsp is not None:
            composed = rsp.composed if isinstance(rsp, Wire) else len(rsp.desired.resources)
            m.composed.observe(composed)
        span.set_attribute("multigres.outcome", outcome)
        fields: dict[str, Any] = {
            "xr_name": name,
            "xr_namespace": namespace,
            "outcome": outcome,
            "duration_ms": round(duration * 1000, 3),
            "composed_objects": composed,
            "tag": req.meta.tag,
        }
        if outcome == "fatal" and rsp is not None:
            span.set_status(Status(StatusCode.ERROR, "function returned a Fatal result"))
            fields["fatal"] = "; ".join(_fatal_messages(rsp))
        if error is not None:  # the interceptor records the exception as a span event
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            fields["error"] = f"{type(error).__name__}: {error}"
            self._log.error("RunFunction", **fields)
        else:
            self._log.info("RunFunction", **fields)
        if self._debug and rsp is not None:
            if isinstance(rsp, Wire):
                rsp = rsp.message()
            self._log.debug(
                "RunFunction details",
                observed=sorted(req.observed.resources.keys()),
                desired=sorted(rsp.desired.resources.keys()),
                results=[
                    {"severity": fnv1.Severity.Name(r.severity), "message": r.message}
                    for r in rsp.results
                ],
                conditions=[c.type for c in rsp.conditions],
            )
