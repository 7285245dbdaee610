"""The function's gRPC server: the SDK's runtime.serve plus what an SRE needs.

Like ``crossplane.function.runtime.serve`` it serves the v1 and v1beta1
FunctionRunnerService and reflection. What runtime.serve lacks, and is added here:
the standard gRPC health service (health.py), per-call tracing (the
opentelemetry-instrumentation-grpc interceptor), metrics and logs (instrument.py),
message size limits, a `ready` flag for the HTTP probe, and a drain-then-exit shutdown
on SIGTERM/SIGINT with a configurable grace period (a second signal forces).
"""

from __future__ import annotations

import asyncio
import signal
import threading
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
from opentelemetry import trace

from function.health import HealthService
from function.instrument import InstrumentedRunner, has_fatal, tracing_interceptor, xr_identity
from function.response_cache import to_wire
from function.telemetry import Metrics

__all__ = ["FunctionServer", "HealthService", "InstrumentedRunner", "ServerOptions", "has_fatal",
           "serve", "xr_identity"]  # fmt: skip

MIB = 1024 * 1024
DEFAULT_GRACE_PERIOD_SECONDS = 25.0  # below Kubernetes' default 30 s termination grace

FUNCTION_SERVICES = runtime.SERVICE_NAMES[1:]  # v1 and v1beta1 FunctionRunnerService
SERVICE_NAMES = (*runtime.SERVICE_NAMES, health.SERVICE_NAME)


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


V1_SERVICE = "apiextensions.fn.proto.v1.FunctionRunnerService"


def add_v1_runner(runner: InstrumentedRunner, server: grpc.aio.Server) -> None:
    """The v1 FunctionRunnerService, as the generated add_..._to_server registers it, but
    calling RunFunctionWire and serializing with `to_wire`: a kept response's bytes go out
    as they are (response_cache.py)."""
    handlers = {
        "RunFunction": grpc.unary_unary_rpc_method_handler(
            runner.RunFunctionWire,
            request_deserializer=fnv1.RunFunctionRequest.FromString,
            response_serializer=to_wire,
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(V1_SERVICE, handlers),))
    server.add_registered_method_handlers(V1_SERVICE, handlers)


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
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        """Prepare the server; nothing is bound until start().

        Spans go to ``tracer_provider``, or to the global one when it is None.
        """
        self.options = options
        self.ready = ready if ready is not None else threading.Event()
        self.runner = InstrumentedRunner(runner, metrics, debug=debug)
        self._tracer_provider = tracer_provider
        self._log = fnlogging.get_logger()
        self._server: grpc.aio.Server | None = None
        self._health: HealthService | None = None
        self._forced = False
        self._stopping = False
        self.port = 0

    async def start(self) -> int:
        """Bind, start serving and report SERVING; returns the bound port."""
        server = grpc.aio.server(
            options=self.options.grpc_options(),
            interceptors=[tracing_interceptor(self._tracer_provider)],
        )
        add_v1_runner(self.runner, server)
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
