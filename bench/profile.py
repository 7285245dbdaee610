"""Where our function spends its time on the reference request, and what the build cache gains.

    python bench/profile.py [--seconds 3] [--size reference] [--out bench/results/profile.txt]

1. phases: each part of fn.run timed on its own (thread CPU time, so other load on the
   machine inflates it less than wall time);
2. pyinstrument: the call tree of fn.run, and the functions with the most self time;
3. the per-call cost of the gRPC servicer wrapper (span, metrics, one log line);
4. the build cache: fn.run with a hit, and with a miss (the cache cleared before each call);
5. the scenarios in-process: the servicer's entry point (response cache, then fn.run) per
   call on a steady request, one with a new observed state, and one with a new spec.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402


def per_call_ms(fn: Callable[[], Any], seconds: float) -> float:
    """Median thread-CPU milliseconds per call over 5 batches filling `seconds`."""
    fn()
    samples = []
    for _ in range(5):
        t0, n = time.thread_time(), 0
        while time.thread_time() - t0 < seconds / 5 or n == 0:
            fn()
            n += 1
        samples.append((time.thread_time() - t0) / n * 1000)
    return round(statistics.median(samples), 4)


def phases(req: Any, seconds: float) -> dict[str, float]:
    """Per-call ms of each step of fn.run, called the way fn.run calls it."""
    from crossplane.function import response
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    import function.fn as fn
    from function.builders import build
    from function.cache import BuildInput, Built

    what = BuildInput.of(req)
    cluster = what.resolve()
    built = Built(cluster, build(cluster), {})
    observed = {k: fn.observed_view(r.resource) for k, r in req.observed.resources.items()}
    secret = None
    if fn.PASSWORD_REQUIREMENT in req.required_resources:
        items = req.required_resources[fn.PASSWORD_REQUIREMENT].items
        secret = [fn.to_dict(i.resource) for i in items]
    composed = fn.compose(built, observed, secret)
    rsp = fn.run(req)
    s = seconds / 10

    def write() -> None:
        fn.write(fnv1.RunFunctionResponse(), composed, built)

    return {
        "run (whole call)": per_call_ms(lambda: fn.run(req), s),
        "to_dict(observed composed resources)": per_call_ms(
            lambda: {k: fn.to_dict(r.resource) for k, r in req.observed.resources.items()}, s
        ),
        "to_dict(observed XR)": per_call_ms(lambda: fn.to_dict(req.observed.composite.resource), s),
        "observed_view(observed composed resources)": per_call_ms(
            lambda: {k: fn.observed_view(r.resource) for k, r in req.observed.resources.items()},
            s,
        ),
        "compose (guard + readiness + status)": per_call_ms(
            lambda: fn.compose(built, observed, secret), s
        ),
        "  resolve (pydantic validation)": per_call_ms(what.resolve, s),
        "  build (desired manifests)": per_call_ms(lambda: build(cluster), s),
        "write (encode every object, memoised, + results)": per_call_ms(write, s),
        "response.to": per_call_ms(lambda: response.to(req), s),
        "(protobuf) serialize response": per_call_ms(rsp.SerializeToString, s),
        "(protobuf) parse request": per_call_ms(
            lambda: fnv1.RunFunctionRequest.FromString(req.SerializeToString()), s
        ),
    }


def pyinstrument_profile(
    req: Any, seconds: float, limit: int = 15
) -> tuple[str, list[dict[str, Any]]]:
    from pyinstrument import Profiler

    import function.fn as fn

    for _ in range(10):
        fn.run(req)
    prof = Profiler(interval=0.0005)
    prof.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn.run(req)
    prof.stop()
    text = prof.output_text(unicode=False, color=False, show_all=False)
    session = prof.last_session
    assert session is not None
    root = session.root_frame()
    selfs: dict[tuple[str, str, int], float] = {}

    def real(frame: Any) -> bool:
        return not (frame.function or "").startswith("[")

    def walk(frame: Any) -> None:
        own = frame.time - sum(c.time for c in frame.children if real(c))
        key = (frame.function or "?", frame.file_path_short or "?", frame.line_no or 0)
        selfs[key] = selfs.get(key, 0.0) + own
        for child in frame.children:
            if real(child):
                walk(child)

    # Shares of fn.run's own time: start at every fn.run frame, not at this loop.
    runs: list[Any] = []

    def find(frame: Any) -> None:
        if frame.function == "run" and (frame.file_path_short or "").endswith("fn.py"):
            runs.append(frame)
            return
        for child in frame.children:
            find(child)

    if root is not None:
        find(root)
    for frame in runs:
        walk(frame)
    total = sum(f.time for f in runs)
    top = sorted(selfs.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return text, [
        {"function": f, "where": f"{path}:{line}", "self_share": round(t / total, 4)}
        for (f, path, line), t in top
        if total
    ]


def servicer_overhead(req: Any, seconds: float) -> dict[str, float]:
    """Per-call cost of InstrumentedRunner (metrics, log line, deadline check; since issue
    11b the span is the gRPC interceptor's, outside both) around FunctionRunner, on the
    v1 entry point (RunFunctionWire)."""
    import function.fn as fn
    from function import server, telemetry

    class Ctx:
        def time_remaining(self) -> float:
            return 60.0

        def invocation_metadata(self) -> tuple[()]:
            return ()

    bare = fn.FunctionRunner()
    wrapped = server.InstrumentedRunner(bare, telemetry.new_metrics(process_collectors=False))
    loop = asyncio.new_event_loop()
    ctx = Ctx()
    sink = io.StringIO()
    telemetry.configure_logging(False)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            b = per_call_ms(
                lambda: loop.run_until_complete(bare.RunFunctionWire(req, ctx)), seconds
            )
            w = per_call_ms(
                lambda: loop.run_until_complete(wrapped.RunFunctionWire(req, ctx)), seconds
            )
    finally:
        loop.close()
    return {
        "FunctionRunner": b,
        "InstrumentedRunner(FunctionRunner)": w,
        "overhead": round(w - b, 4),
    }


def cache_gain(req: Any, seconds: float) -> dict[str, Any]:
    """fn.run with a build-cache hit against a miss (cache cleared before every call)."""
    import function.fn as fn

    hot = per_call_ms(lambda: fn.run(req), seconds)

    def miss() -> None:
        fn.CACHE.clear()
        fn.run(req)

    cold = per_call_ms(miss, seconds / 2)
    fn.CACHE.clear()
    return {"ms_cache_hit": hot, "ms_cache_miss": cold, "speedup": round(cold / hot, 2)}


def scenarios(size: str) -> dict[str, float]:
    """Thread-CPU ms per call of fn.RESPONSES.answer(req, fn.run) (what the v1 service
    calls) on parsed requests, fastest of 5 batches of 20, for the bench's scenarios
    (each request of observed_change and cold is new)."""
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    import function.fn as fn

    out: dict[str, float] = {}
    ph = workload.PLACEHOLDER.encode()
    steady = workload.build_requests(size)["ours"]
    for scenario in ("steady", "observed_change", "cold"):
        body, fetched = (
            (b"", b"")
            if scenario == "steady"
            else workload.scenario_template(size, scenario, "ours")
        )

        def make(
            i: int, scenario: str = scenario, body: bytes = body, fetched: bytes = fetched
        ) -> bytes:
            if scenario == "steady":
                return steady
            return workload.assemble(body.replace(ph, str(i).zfill(len(ph)).encode()), fetched)

        for i in range(20):
            fn.RESPONSES.answer(fnv1.RunFunctionRequest.FromString(make(i)), fn.run)
        best, i = float("inf"), 100
        for _ in range(5):
            batch = [fnv1.RunFunctionRequest.FromString(make(i + j)) for j in range(20)]
            i += len(batch)
            t0 = time.thread_time()
            for r in batch:
                fn.RESPONSES.answer(r, fn.run)
            best = min(best, (time.thread_time() - t0) / len(batch) * 1000)
        out[scenario] = round(best, 4)
    return out


def run(seconds: float, out: Path | None, size: str = "reference") -> dict[str, Any]:
    """Profile fn.run on `size`; write the report to `out`; return the summary."""
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    req = fnv1.RunFunctionRequest.FromString(workload.build_requests(size)["ours"])
    res: dict[str, Any] = {"size": size, "phases_ms": phases(req, seconds)}
    text, top = pyinstrument_profile(req, seconds)
    res["top_self_time"] = top
    res["servicer_ms"] = servicer_overhead(req, seconds / 3)
    res["build_cache"] = cache_gain(req, seconds)
    res["scenarios_ms"] = scenarios(size)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            f"# fn.run on the {size} request (bench/profile.py)\n\n"
            + json.dumps({k: v for k, v in res.items()}, indent=2)
            + "\n\n# pyinstrument call tree\n"
            + text
        )
        res["report"] = str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--size", default="reference")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profile.txt")
    a = p.parse_args()
    res = run(a.seconds, a.out, a.size)
    print(json.dumps({k: v for k, v in res.items()}, indent=2))


if __name__ == "__main__":
    main()
