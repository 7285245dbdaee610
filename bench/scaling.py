"""In-process cost against the number of cells (no gRPC): parse + build, and run()."""

from __future__ import annotations

import time
from typing import Any

from bench import workload
from bench.common import log


def _time_per_call(fn: Any, seconds: float) -> float:
    """Fastest of 7 batches, in thread-CPU seconds per call, filling about `seconds`: CPU
    time of this thread, so other load disturbs it less than wall time; the minimum, since
    interference (other processes, a GC pass) only ever adds time."""
    fn()
    t0 = time.thread_time()
    fn()
    one = max(time.thread_time() - t0, 1e-6)
    per_batch = max(1, int(seconds / 7 / one))
    samples = []
    for _ in range(7):
        t0 = time.thread_time()
        for _ in range(per_batch):
            fn()
        samples.append((time.thread_time() - t0) / per_batch)
    return min(samples)


def linear_fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    icpt = my - slope * mx
    ss_res = sum((y - (icpt + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    worst = max(abs(y - (icpt + slope * x)) / y for x, y in zip(xs, ys, strict=True) if y > 0)
    return {
        "slope_ms_per_cell": round(slope, 4),
        "intercept_ms": round(icpt, 4),
        "r2": round(r2, 5),
        "max_relative_residual": round(worst, 4),
    }


def scaling(cfg: dict[str, Any]) -> dict[str, Any]:
    """In-process cost against the number of cells: desired_objects (parse + build) and the
    whole run() on a request with a healthy observed state."""
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    from function.fn import desired_objects, run

    cells = cfg["scaling_cells"]
    build_ms, run_ms, objects = [], [], []
    for n in cells:
        xr = workload.cells_xr(n)
        req = fnv1.RunFunctionRequest.FromString(workload.build_requests(f"cells-{n}")["ours"])
        objects.append(len(desired_objects(xr)))
        build_ms.append(
            round(
                _time_per_call(lambda xr=xr: desired_objects(xr), cfg["scaling_seconds"]) * 1000, 4
            )
        )
        run_ms.append(
            round(_time_per_call(lambda req=req: run(req), cfg["scaling_seconds"]) * 1000, 4)
        )
        log(
            f"in-process {n:2d} cells: {objects[-1]:4d} objects"
            f"  build {build_ms[-1]:.2f} ms  run {run_ms[-1]:.2f} ms"
        )
    return {
        "cells": cells,
        "objects": objects,
        "build_ms": build_ms,
        "run_ms": run_ms,
        "build_fit": linear_fit([float(c) for c in cells], build_ms),
        "run_fit": linear_fit([float(c) for c in cells], run_ms),
        "build_us_per_object": [
            round(b * 1000 / o, 2) for b, o in zip(build_ms, objects, strict=True)
        ],
    }
