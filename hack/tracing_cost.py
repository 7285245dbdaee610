#!/usr/bin/env python3
"""What the gRPC tracing costs per RunFunction call, variant against variant, in one run.

Each variant is the real function (``fn.FunctionRunner``, production logging, metrics and
tracer set-up) served by ``FunctionServer`` in its own process on loopback; only who
makes the per-call span differs:

- ``interceptor``: what ships, opentelemetry-instrumentation-grpc's aio server interceptor
  opens the span (and joins ``traceparent``); InstrumentedRunner annotates it.
- ``own-span``: no interceptor; the runner opens the span itself the way function-multigres
  did before (``propagate.extract`` of the metadata, ``start_as_current_span``).
- ``no-span``: no interceptor and no span (InstrumentedRunner's attribute calls are no-ops):
  the floor, to show what tracing costs at all.

One client (this process) sends the same serialized request (bench's reference size: a
3-cell XR, healthy observed state, build-cache hits as in a steady reconcile) to the
variants in turn, ``--batch`` calls at a time and rotating the order every round, so
machine noise falls on all of them alike. Per call it records the round-trip time; per
batch the server process's CPU time (utime+stime from /proc). ``--record`` makes the
servers' tracer provider sample every span (as when a collector is configured, minus the
export), instead of the default ALWAYS_OFF without an exporter.

    .venv/bin/python -m hack.tracing_cost                     # ~1 min on 2 cores
    .venv/bin/python -m hack.tracing_cost --record --rounds 40
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from function import telemetry

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("interceptor", "own-span", "no-span")


class OwnSpan:
    """The span as function-multigres made it before the interceptor."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.tracer = trace.get_tracer(telemetry.SERVICE)

    def __getattr__(self, name: str) -> object:
        return getattr(self.wrapped, name)  # in_flight, wait_idle

    async def RunFunction(self, req, context):  # type: ignore[no-untyped-def]
        carrier = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        with self.tracer.start_as_current_span(
            "RunFunction",
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.method": "RunFunction"},
        ):
            return await self.wrapped.RunFunction(req, context)


def serve(variant: str, address: str, record: bool) -> None:
    """Serve one variant until SIGTERM (runs in the child process)."""
    import asyncio

    from opentelemetry.sdk.trace import TracerProvider

    from function import fn
    from function import server as fnserver

    telemetry.configure_logging(False)
    if record:
        trace.set_tracer_provider(TracerProvider())  # samples everything, exports nothing
    else:
        telemetry.configure_tracing()  # as in production: no exporter, ALWAYS_OFF
    if variant != "interceptor":
        real = grpc.aio.server

        def bare_server(*args: object, interceptors: object = None, **kw: object) -> object:
            return real(*args, **kw)  # type: ignore[arg-type]

        grpc.aio.server = bare_server  # type: ignore[assignment]

    server = fnserver.FunctionServer(
        fn.FunctionRunner(),
        fnserver.ServerOptions(address=address, max_recv_message_bytes=64 * fnserver.MIB),
        metrics=telemetry.new_metrics(),
    )
    if variant == "own-span":
        server.runner = OwnSpan(server.runner)  # type: ignore[assignment]
    asyncio.run(fnserver.serve(server))


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def measure(a: argparse.Namespace) -> dict[str, object]:
    from bench.servers import free_port
    from bench.workload import RUN_FUNCTION, build_requests

    payload = build_requests("reference")["ours"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    calls: dict[str, grpc.UnaryUnaryMultiCallable] = {}
    channels = []
    lat: dict[str, list[float]] = {v: [] for v in a.variants}
    cpu: dict[str, float] = dict.fromkeys(a.variants, 0.0)
    batches: dict[str, list[tuple[float, float]]] = {v: [] for v in a.variants}  # p50, cpu
    try:
        for v in a.variants:
            address = f"127.0.0.1:{free_port()}"
            cmd = [sys.executable, "-m", "hack.tracing_cost", "--serve", v, "--address", address]
            procs[v] = subprocess.Popen(
                [*cmd, *(["--record"] if a.record else [])],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,  # the JSON log line is written, then discarded
            )
            ch = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1)])
            grpc.channel_ready_future(ch).result(timeout=30)
            channels.append(ch)
            calls[v] = ch.unary_unary(RUN_FUNCTION)
        for v in a.variants:
            for _ in range(a.warmup):
                calls[v](payload, timeout=30)
        order = list(a.variants)
        for _ in range(a.rounds):
            for v in order:
                call, out = calls[v], lat[v]
                c0 = cpu_seconds(procs[v].pid)
                for _ in range(a.batch):
                    t0 = time.perf_counter()
                    call(payload, timeout=30)
                    out.append(time.perf_counter() - t0)
                used = cpu_seconds(procs[v].pid) - c0
                cpu[v] += used
                batches[v].append((statistics.median(out[-a.batch :]), used / a.batch))
            order.append(order.pop(0))
    finally:
        for ch in channels:
            ch.close()
        for p in procs.values():
            p.terminate()
            p.wait(timeout=30)
    n = a.rounds * a.batch
    res: dict[str, object] = {
        "calls_per_variant": n,
        "record": a.record,
        "variants": {
            v: {
                "p50_ms": round(pct(lat[v], 50) * 1e3, 4),
                "p90_ms": round(pct(lat[v], 90) * 1e3, 4),
                "mean_ms": round(statistics.fmean(lat[v]) * 1e3, 4),
                "server_cpu_ms_per_call": round(cpu[v] / n * 1e3, 4),
            }
            for v in a.variants
        },
    }
    if "own-span" in a.variants:
        # Paired by round (the batches ran back to back), so load drift cancels out.
        base = batches["own-span"]
        res["median_ratio_to_own_span"] = {
            v: {
                "p50": round(
                    statistics.median(b[0] / o[0] for b, o in zip(mine, base, strict=True)), 4
                ),
                "cpu": round(
                    sum(b[1] for b in mine) / sum(o[1] for o in base), 4
                ),  # CPU ticks are too coarse per batch for a ratio each
            }
            for v, mine in batches.items()
        }
    return res


def micro(a: argparse.Namespace) -> dict[str, object]:
    """Per-call CPU of the three variants in this process, gRPC's transport left out.

    The interceptor runs as grpc.aio runs it (intercept_service, then the wrapped
    behaviour with a servicer context); the runner answers with a stored response, so
    what is left is the instrumentation's own cost (metrics and the log line included,
    the same in every variant), in microseconds.
    """
    import asyncio
    import collections
    import contextlib

    import crossplane.function.proto.v1.run_function_pb2 as fnv1

    from bench.workload import build_requests
    from function import instrument

    req = fnv1.RunFunctionRequest.FromString(build_requests("reference")["ours"])
    stored = fnv1.RunFunctionResponse(meta=fnv1.ResponseMeta(tag=req.meta.tag))
    md = collections.namedtuple("md", "key value")
    metadata = (md("user-agent", "grpc-go/1.76.0"),)  # Crossplane sends no traceparent

    class Context:
        def invocation_metadata(self) -> tuple[Any, ...]:
            return metadata

        def peer(self) -> str:
            return "ipv4:10.0.0.7:41234"

        def time_remaining(self) -> float:
            return 60.0

    class Stored:
        async def RunFunction(self, req: Any, context: Any) -> Any:
            return stored

    class Details:
        method = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"
        invocation_metadata = metadata

    if a.record:
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
    else:
        telemetry.configure_tracing()
    telemetry.configure_logging(False)
    runner = instrument.InstrumentedRunner(Stored(), telemetry.new_metrics())
    interceptor = instrument.tracing_interceptor()
    handler = grpc.unary_unary_rpc_method_handler(runner.RunFunction)
    own = OwnSpan(runner)
    ctx = Context()

    async def continuation(_details: Any) -> Any:
        return handler

    async def via_interceptor() -> None:
        h = await interceptor.intercept_service(continuation, Details())
        await h.unary_unary(req, ctx)

    calls = {
        "interceptor": via_interceptor,
        "own-span": lambda: own.RunFunction(req, ctx),
        "no-span": lambda: runner.RunFunction(req, ctx),
    }
    used = dict.fromkeys(calls, 0.0)

    async def go() -> None:
        for call in calls.values():
            for _ in range(a.warmup):
                await call()
        for _ in range(a.rounds):
            for name, call in calls.items():
                t0 = time.process_time()
                for _ in range(a.batch):
                    await call()
                used[name] += time.process_time() - t0

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        asyncio.run(go())
    n = a.rounds * a.batch
    return {
        "calls_per_variant": n,
        "record": a.record,
        "cpu_us_per_call": {k: round(v / n * 1e6, 2) for k, v in used.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--record", action="store_true", help="sample every span (no export)")
    ap.add_argument("--micro", action="store_true", help="in-process, instrumentation only")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=200)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve, a.address, a.record)
        return
    if a.micro:
        print(json.dumps(micro(a), indent=2))
        return
    res = measure(a)
    print(json.dumps(res, indent=2))
    base = res["variants"]["own-span"] if "own-span" in a.variants else None  # type: ignore[index]
    if base and "interceptor" in a.variants:
        got = res["variants"]["interceptor"]  # type: ignore[index]
        for key in ("p50_ms", "server_cpu_ms_per_call"):
            print(f"interceptor vs own-span {key}: {got[key] / base[key] - 1:+.1%}")


if __name__ == "__main__":
    main()
