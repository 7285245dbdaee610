"""The function's gRPC server: the SDK's runtime.serve plus what an SRE needs.

Like ``crossplane.function.runtime.serve`` it serves the v1 and v1beta1
FunctionRunnerService and reflection. On top it adds the standard gRPC health
service, per-call tracing/metrics/logging, deadline checks and a drain-then-exit
shutdown on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import crossplane.function.proto.v1.run_function_pb2 as fnv1
import crossplane.function.proto.v1.run_function_pb2_grpc as grpcv1
import crossplane.function.proto.v1beta1.run_function_pb2_grpc as grpcv1beta1
import grpc
from crossplane.function import logging as fnlogging
from crossplane.function import runtime
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from function.telemetry import SERVICE, Metrics

MIB = 1024 * 1024
DEFAULT_GRACE_PERIOD_SECONDS = 25.0  # below Kubernetes' default 30 s termination grace

FUNCTION_SERVICES = runtime.SERVICE_NAMES[1:]  # v1 and v1beta1 FunctionRunnerService
SERVICE_NAMES = (*runtime.SERVICE_NAMES, health.SERVICE_NAME)


# --------------------------------------------------------------------------- helpers


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


def has_fatal(rsp: fnv1.RunFunctionResponse) -> bool:
    """Report whether the response aborts the pipeline (a Fatal result)."""
    return any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results)


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """Text invocation metadata as a dict, so W3C trace context can be extracted."""
    carrier: dict[str, str] = {}
    for item in context.invocation_metadata() or ():
        key, value = item[0], item[1]
        if isinstance(value, str):
            carrier[key] = value
    return carrier


# --------------------------------------------------------------------------- instrumentation


class InstrumentedRunner(grpcv1.FunctionRunnerServiceServicer):
    """Wraps a runner with a span, metrics, one log line per call and a deadline check.

    It also counts in-flight calls so shutdown can tell when draining is done.
    """

    def __init__(
        self,
        wrapped: grpcv1.FunctionRunnerServiceServicer,
        metrics: Metrics,
        *,
        tracer: trace.Tracer | None = None,
        debug: bool = False,
    ) -> None:
        """Wrap ``wrapped``; ``debug`` adds per-call details to the debug log."""
        self._wrapped = wrapped
        self._metrics = metrics
        self._tracer = tracer or trace.get_tracer(SERVICE)
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
        """Run the wrapped function inside a span, timing and counting the call."""
        name, namespace, generation = xr_identity(req)
        attributes: dict[str, Any] = {
            "rpc.system": "grpc",
            "rpc.method": "RunFunction",
            "multigres.xr.name": name,
            "multigres.xr.namespace": namespace,
        }
        if generation is not None:
            attributes["multigres.xr.generation"] = generation
        outcome = "error"
        rsp: fnv1.RunFunctionResponse | None = None
        error: BaseException | None = None
        start = time.perf_counter()
        self._enter()
        with self._tracer.start_as_current_span(
            "RunFunction",
            context=propagate.extract(_metadata(context)),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            try:
                rsp = await self._call(req, context)
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
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        """Call the wrapped runner unless the caller's deadline has already passed."""
        remaining = context.time_remaining()
        if remaining is None:
            return await self._invoke(req, context)
        if remaining <= 0:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "deadline exceeded before the function started",
            )
        try:
            async with asyncio.timeout(remaining) as timeout:
                return await self._invoke(req, context)
        except TimeoutError:
            if not timeout.expired():
                raise
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            raise  # unreachable: abort raises

    async def _invoke(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        rsp: fnv1.RunFunctionResponse = await self._wrapped.RunFunction(req, context)
        return rsp

    def _record(
        self,
        span: trace.Span,
        outcome: str,
        duration: float,
        rsp: fnv1.RunFunctionResponse | None,
        error: BaseException | None,
        name: str,
        namespace: str,
        req: fnv1.RunFunctionRequest,
    ) -> None:
        m = self._metrics
        m.runs.labels(outcome=outcome).inc()
        m.duration.observe(duration)
        composed = len(rsp.desired.resources) if rsp is not None else 0
        if rsp is not None:
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
            fields["fatal"] = "; ".join(
                r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL
            )
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            fields["error"] = f"{type(error).__name__}: {error}"
            self._log.error("RunFunction", **fields)
        else:
            self._log.info("RunFunction", **fields)
        if self._debug and rsp is not None:
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


# --------------------------------------------------------------------------- health


class HealthService(health_pb2_grpc.HealthServicer):
    """grpc.health.v1.Health whose Watch streams end once shutdown begins.

    grpc_health's aio servicer keeps Watch streams open forever, which would hold a
    graceful stop open for the whole grace period; ending them after NOT_SERVING has
    been sent lets the server exit as soon as the RunFunction calls are done.
    """

    def __init__(self) -> None:
        """Start with no services known; the server sets them."""
        self._status: dict[str, int] = {}
        self._closing = False
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:  # created lazily, inside the server's event loop
            self._cond = asyncio.Condition()
        return self._cond

    async def set(self, service: str, status: int) -> None:
        """Set one service's status (ignored once shutting down)."""
        cond = self._condition()
        async with cond:
            if not self._closing:
                self._status[service] = status
                cond.notify_all()

    async def shutdown(self) -> None:
        """Report NOT_SERVING for every service, for good, and end Watch streams."""
        cond = self._condition()
        async with cond:
            self._closing = True
            for service in self._status:
                self._status[service] = health_pb2.HealthCheckResponse.NOT_SERVING
            cond.notify_all()

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        """Answer the current status, or NOT_FOUND for an unknown service."""
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream status changes; the stream ends after NOT_SERVING at shutdown."""
        last: int | None = None
        cond = self._condition()
        async with cond:
            while True:
                status = self._status.get(
                    request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
                )
                if status != last:
                    await context.write(health_pb2.HealthCheckResponse(status=status))
                    last = status
                if self._closing:
                    return
                await cond.wait()


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class ServerOptions:
    """How to serve: address, TLS and message limits, and the shutdown grace period."""

    address: str
    credentials: grpc.ServerCredentials | None = None  # None serves without TLS
    max_recv_message_bytes: int = 4 * MIB
    max_send_message_bytes: int = 4 * MIB
    grace_period: float = DEFAULT_GRACE_PERIOD_SECONDS

    def grpc_options(self) -> list[tuple[str, Any]]:
        """Channel arguments for grpc.aio.server."""
        return [
            ("grpc.max_receive_message_length", self.max_recv_message_bytes),
            ("grpc.max_send_message_length", self.max_send_message_bytes),
        ]


class FunctionServer:
    """A started-once, stopped-once gRPC server for one runner.

    ``ready`` is set while the server is serving, for the HTTP /readyz probe.
    """

    def __init__(
        self,
        runner: grpcv1.FunctionRunnerServiceServicer,
        options: ServerOptions,
        *,
        metrics: Metrics,
        ready: threading.Event | None = None,
        debug: bool = False,
        tracer: trace.Tracer | None = None,
    ) -> None:
        """Prepare the server; nothing is bound until start()."""
        self.options = options
        self.ready = ready if ready is not None else threading.Event()
        self.runner = InstrumentedRunner(runner, metrics, tracer=tracer, debug=debug)
        self._log = fnlogging.get_logger()
        self._server: grpc.aio.Server | None = None
        self._health: HealthService | None = None
        self._forced = False
        self._stopping = False
        self.port = 0

    async def start(self) -> int:
        """Bind, start serving and report SERVING; returns the bound port."""
        server = grpc.aio.server(options=self.options.grpc_options())
        grpcv1.add_FunctionRunnerServiceServicer_to_server(self.runner, server)
        grpcv1beta1.add_FunctionRunnerServiceServicer_to_server(
            runtime.BetaFunctionRunner(wrapped=self.runner), server
        )
        self._health = HealthService()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(SERVICE_NAMES, server)
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

        port: int
        if self.options.credentials is None:
            port = server.add_insecure_port(self.options.address)
        else:
            port = server.add_secure_port(self.options.address, self.options.credentials)
        await server.start()
        self._server = server
        self.port = port
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        self.ready.set()
        self._log.info(
            "serving",
            address=self.options.address,
            port=port,
            tls=self.options.credentials is not None,
        )
        return port

    async def _set_health(self, status: int) -> None:
        assert self._health is not None
        for service in (health.OVERALL_HEALTH, *FUNCTION_SERVICES):
            await self._health.set(service, status)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting calls and give in-flight ones ``grace`` seconds to finish.

        The first call drains (``None`` means the configured grace period); a later call
        cancels what is still running. grpc.aio is asked to stop at most twice: overlapping
        forced stops segfaulted grpcio 1.84 in our SIGTERM tests.
        """
        server = self._server
        if server is None:
            return
        if self._stopping:
            if not self._forced:
                self._forced = True
                self._log.warning("forced stop; cancelling calls", in_flight=self.runner.in_flight)
                await server.stop(None)
            return
        self._stopping = True
        grace = self.options.grace_period if grace is None else max(grace, 0.0)
        self.ready.clear()
        assert self._health is not None
        await self._health.shutdown()  # NOT_SERVING to watchers, then their streams end
        self._log.info("shutting down", grace_period_s=grace, in_flight=self.runner.in_flight)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.stop(grace)  # refuses new calls at once; cancels stragglers after grace
        if loop.time() - started >= grace > 0 and not self._forced:
            self._log.warning("grace period over; remaining calls were cancelled")

    async def wait_for_termination(self) -> None:
        """Block until the server has stopped."""
        if self._server is not None:
            await self._server.wait_for_termination()


async def serve(
    server: FunctionServer,
    *,
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Run ``server`` until a signal: the first drains gracefully, a second forces."""
    loop = asyncio.get_running_loop()
    log = fnlogging.get_logger()
    tasks: list[asyncio.Task[None]] = []

    def on_signal(sig: signal.Signals) -> None:
        log.info("signal received", signal=sig.name, forced=bool(tasks))
        tasks.append(loop.create_task(server.stop()))

    await server.start()
    installed = []
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
        installed.append(sig)
    try:
        await server.wait_for_termination()
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if not tasks:  # ended by an error rather than a signal: stop now
            await server.stop(0)
