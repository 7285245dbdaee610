"""In-process tests of the instrumentation layer: spans, metrics, logs, expired deadlines, health.

A real grpc.aio server on an ephemeral port runs StubRunner (which creates the same
spans and attributes as fn.FunctionRunner); an in-memory exporter captures spans.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import crossplane.function.proto.v1.run_function_pb2 as fnv1
import crossplane.function.proto.v1.run_function_pb2_grpc as grpcv1
import crossplane.function.proto.v1beta1.run_function_pb2 as fnv1beta1
import crossplane.function.proto.v1beta1.run_function_pb2_grpc as grpcv1beta1
import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import exposition

from function import fn, telemetry
from function import server as fnserver
from function.response_cache import Wire
from tests.runtime_helpers import V1_SPAN, StubRunner, make_request, metric_value

_EXPORTER = InMemorySpanExporter()
V1BETA1_SPAN = "/apiextensions.fn.proto.v1beta1.FunctionRunnerService/RunFunction"


def _install_exporter() -> InMemorySpanExporter:
    """Attach the in-memory exporter to the global SDK provider (installing one if needed).

    The global provider can be set only once per process, and fn.py uses it.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    if not getattr(provider, "_multigres_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._multigres_test_exporter = True  # type: ignore[attr-defined]
    return _EXPORTER


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = _install_exporter()
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """Capture structlog events after the trace-context processor has run."""
    saved = structlog.get_config()
    captured: list[dict[str, Any]] = []

    def capture(_l: Any, method: str, event: Any) -> Any:
        captured.append({**event, "level": method})
        raise structlog.DropEvent

    structlog.configure(processors=[telemetry.add_trace_context, capture])
    yield captured
    structlog.configure(**saved)


Client = Callable[[grpc.aio.Channel, fnserver.FunctionServer], Awaitable[None]]


@asynccontextmanager
async def serving(
    runner: grpcv1.FunctionRunnerServiceServicer | None = None, **opts: Any
) -> AsyncIterator[tuple[grpc.aio.Channel, fnserver.FunctionServer, telemetry.Metrics]]:
    metrics = telemetry.new_metrics(process_collectors=False)
    server = fnserver.FunctionServer(
        runner or StubRunner(),
        fnserver.ServerOptions(address="127.0.0.1:0", **opts),
        metrics=metrics,
    )
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel, server, metrics
    finally:
        await server.stop(0)


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


def counter(metrics: telemetry.Metrics, outcome: str) -> float:
    return metric_value(
        exposition.generate_latest(metrics.registry).decode(),
        "function_multigres_run_function_total",
        f'outcome="{outcome}"',
    )


def test_span_per_call_with_attributes_and_children(spans: InMemorySpanExporter) -> None:
    async def go() -> telemetry.Metrics:
        async with serving() as (ch, _, metrics):
            stub = grpcv1.FunctionRunnerServiceStub(ch)
            rsp = await stub.RunFunction(make_request(resources=3), timeout=5)
            assert len(rsp.desired.resources) == 3
            return metrics

    metrics = asyncio.run(go())
    got = by_name(spans)
    assert {V1_SPAN, "parse", "build", "status"} <= set(got)
    root = got[V1_SPAN]
    assert root.kind is SpanKind.SERVER
    attrs = dict(root.attributes or {})
    assert attrs["multigres.xr.name"] == "demo"
    assert attrs["multigres.xr.namespace"] == "default"
    assert attrs["multigres.xr.generation"] == 3
    assert attrs["multigres.cells"] == 2
    assert attrs["multigres.composed_objects"] == 3
    assert attrs["multigres.result_severity"] == "SEVERITY_NORMAL"
    assert attrs["multigres.outcome"] == "ok"
    assert (attrs["rpc.system"], attrs["rpc.method"]) == ("grpc", "RunFunction")
    assert attrs["rpc.service"] == "apiextensions.fn.proto.v1.FunctionRunnerService"
    assert attrs["rpc.grpc.status_code"] == 0
    assert root.status.status_code is not StatusCode.ERROR
    for child in ("parse", "build", "status"):
        assert got[child].parent is not None
        assert got[child].parent.span_id == root.context.span_id
        assert got[child].context.trace_id == root.context.trace_id
    assert counter(metrics, "ok") == 1
    text = exposition.generate_latest(metrics.registry).decode()
    assert metric_value(text, "function_multigres_composed_objects_sum") == 3
    assert metric_value(text, "function_multigres_run_function_duration_seconds_count") == 1


def test_incoming_traceparent_is_joined(spans: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"

    async def go() -> None:
        async with serving() as (ch, _, _):
            stub = grpcv1.FunctionRunnerServiceStub(ch)
            md = (("traceparent", f"00-{trace_id}-{parent}-01"),)
            await stub.RunFunction(make_request(), metadata=md, timeout=5)

    asyncio.run(go())
    root = by_name(spans)[V1_SPAN]
    assert format(root.context.trace_id, "032x") == trace_id
    assert root.parent is not None and format(root.parent.span_id, "016x") == parent


def test_v1beta1_is_served_and_instrumented(spans: InMemorySpanExporter) -> None:
    async def go() -> telemetry.Metrics:
        async with serving() as (ch, _, metrics):
            stub = grpcv1beta1.FunctionRunnerServiceStub(ch)
            req = fnv1beta1.RunFunctionRequest()
            req.ParseFromString(make_request(resources=1).SerializeToString())
            rsp = await stub.RunFunction(req, timeout=5)
            assert list(rsp.desired.resources) == ["cm-0"]
            return metrics

    assert counter(asyncio.run(go()), "ok") == 1
    assert V1BETA1_SPAN in by_name(spans)


def test_fatal_and_error_outcomes(spans: InMemorySpanExporter) -> None:
    async def go() -> telemetry.Metrics:
        async with serving() as (ch, _, metrics):
            stub = grpcv1.FunctionRunnerServiceStub(ch)
            rsp = await stub.RunFunction(make_request(fatal=True), timeout=5)
            assert rsp.results[0].severity == fnv1.SEVERITY_FATAL
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.RunFunction(make_request(**{"raise": True}), timeout=5)
            assert err.value.code() is grpc.StatusCode.UNKNOWN
            return metrics

    metrics = asyncio.run(go())
    assert (counter(metrics, "ok"), counter(metrics, "fatal"), counter(metrics, "error")) == (
        0,
        1,
        1,
    )
    roots = [s for s in spans.get_finished_spans() if s.name == V1_SPAN]
    assert [dict(s.attributes or {})["multigres.outcome"] for s in roots] == ["fatal", "error"]
    assert all(s.status.status_code is StatusCode.ERROR for s in roots)
    assert any(e.name == "exception" for e in roots[1].events)


def test_one_info_log_line_per_call_with_trace_ids(
    spans: InMemorySpanExporter, logs: list[dict[str, Any]]
) -> None:
    async def go() -> None:
        async with serving() as (ch, _, _):
            stub = grpcv1.FunctionRunnerServiceStub(ch)
            await stub.RunFunction(make_request(name="db1", namespace="team-a"), timeout=5)

    asyncio.run(go())
    lines = [e for e in logs if e.get("event") == "RunFunction"]
    assert len(lines) == 1
    line = lines[0]
    assert line["level"] == "info"
    assert (line["xr_name"], line["xr_namespace"], line["outcome"]) == ("db1", "team-a", "ok")
    assert isinstance(line["duration_ms"], float)
    root = by_name(spans)[V1_SPAN]
    assert line["trace_id"] == format(root.context.trace_id, "032x")
    assert line["span_id"] == format(root.context.span_id, "016x")


def test_debug_details(logs: list[dict[str, Any]]) -> None:
    async def go() -> None:
        metrics = telemetry.new_metrics(process_collectors=False)
        runner = fnserver.InstrumentedRunner(StubRunner(), metrics, debug=True)
        await runner.RunFunction(make_request(resources=2), _Context(None))

    asyncio.run(go())
    details = [e for e in logs if e.get("event") == "RunFunction details"]
    assert details and details[0]["desired"] == ["cm-0", "cm-1"]


class _Abort(Exception):
    pass


class _Context:
    """Just enough of grpc.aio.ServicerContext for direct calls."""

    def __init__(self, remaining: float | None) -> None:
        self.remaining = remaining
        self.code: grpc.StatusCode | None = None

    def time_remaining(self) -> float | None:
        return self.remaining

    def invocation_metadata(self) -> tuple[()]:
        return ()

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self.code = code
        raise _Abort(details)


class CountingRunner(fn.FunctionRunner):
    """The real runner, counting the calls that reach it (the v1 service calls
    RunFunctionWire, v1beta1 and InstrumentedRunner.RunFunction call RunFunction)."""

    calls = 0

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        self.calls += 1
        return await super().RunFunction(req, context)

    async def RunFunctionWire(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse | Wire:
        self.calls += 1
        return await super().RunFunctionWire(req, context)


def test_expired_deadline_is_refused_without_work() -> None:
    runner = CountingRunner()
    metrics = telemetry.new_metrics(process_collectors=False)
    wrapped = fnserver.InstrumentedRunner(runner, metrics)
    ctx = _Context(0.0)
    with pytest.raises(_Abort):
        asyncio.run(wrapped.RunFunction(make_request(), ctx))  # type: ignore[arg-type]
    assert ctx.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert runner.calls == 0
    assert counter(metrics, "error") == 1
    assert wrapped.in_flight == 0


def test_a_live_deadline_runs_the_real_function() -> None:
    """With time left the call runs to the end: nothing can cut the synchronous run
    short, so nothing pretends to (the caller's own deadline ends its wait)."""
    runner = CountingRunner()

    async def go() -> fnv1.RunFunctionResponse:
        async with serving(runner) as (ch, _, _):
            rsp: fnv1.RunFunctionResponse = await grpcv1.FunctionRunnerServiceStub(ch).RunFunction(
                make_request(), timeout=30
            )
            return rsp

    rsp = asyncio.run(go())
    assert runner.calls == 1 and len(rsp.desired.resources) > 10


def test_only_function_calls_are_traced(spans: InMemorySpanExporter) -> None:
    """Health checks and reflection make no spans (a traced Watch would break: instrument.traced)."""

    async def go() -> None:
        async with serving() as (ch, _, _):
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            await grpcv1.FunctionRunnerServiceStub(ch).RunFunction(make_request(), timeout=5)

    asyncio.run(go())
    assert [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == [V1_SPAN]


def test_health_serving_then_not_serving_on_stop() -> None:
    async def go() -> list[int]:
        async with serving() as (ch, server, _):
            health = health_pb2_grpc.HealthStub(ch)
            for service in ("", "apiextensions.fn.proto.v1.FunctionRunnerService"):
                rsp = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert rsp.status == health_pb2.HealthCheckResponse.SERVING
            assert server.ready.is_set()
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            seen = [(await watch.read()).status]
            stopping = asyncio.ensure_future(server.stop(5))
            seen.append((await watch.read()).status)
            await stopping  # returns promptly: the Watch stream does not hold the drain
            assert not server.ready.is_set()
            return seen

    assert asyncio.run(go()) == [
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    ]


def test_message_size_limit_applies() -> None:
    async def go() -> None:
        async with serving(max_recv_message_bytes=1024) as (ch, _, _):
            stub = grpcv1.FunctionRunnerServiceStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.RunFunction(make_request(pad="x" * 4096), timeout=5)
            assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED

    asyncio.run(go())


def test_xr_identity_does_not_mutate_request() -> None:
    req = fnv1.RunFunctionRequest()
    assert fnserver.xr_identity(req) == ("", "", None)
    assert not req.observed.composite.resource.fields


def test_real_runner_spans(spans: InMemorySpanExporter) -> None:
    fn.CACHE.clear()  # a miss: parse and build run

    async def go() -> tuple[fnv1.RunFunctionResponse, telemetry.Metrics]:
        async with serving(fn.FunctionRunner()) as (ch, _, metrics):
            stub = grpcv1.FunctionRunnerServiceStub(ch)
            return await stub.RunFunction(make_request(), timeout=10), metrics

    rsp, metrics = asyncio.run(go())
    assert not any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results)
    got = by_name(spans)
    assert {V1_SPAN, "parse", "build", "status"} <= set(got)
    root = got[V1_SPAN]
    attrs = dict(root.attributes or {})
    assert attrs["multigres.xr.name"] == "demo"
    assert attrs["multigres.xr.namespace"] == "default"
    assert attrs["multigres.xr.generation"] == 3
    assert attrs["multigres.cells"] == 2
    assert attrs["multigres.composed_objects"] == len(rsp.desired.resources) > 0
    assert "multigres.result_severity" in attrs
    assert attrs["multigres.outcome"] == "ok"
    for child in ("parse", "build", "status"):
        assert got[child].parent is not None
        assert got[child].parent.span_id == root.context.span_id
    assert counter(metrics, "ok") == 1
