"""The standard gRPC health service, with Watch streams that end at shutdown."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


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
