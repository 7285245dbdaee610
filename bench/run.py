"""Benchmark function-multigres against the floor and a peer, over real gRPC.

    python bench/run.py --mode quick        # < ~3 min on 2 cores -> bench/results/quick.json
    python bench/run.py --mode full         # longer runs, 3 rounds -> bench/results/full.json
    python bench/run.py --mode smoke --out /tmp/x   # seconds; what tests/test_bench.py runs

For each size (small, reference, large) and each function (ours, floor, peer) a fresh
server process is started on loopback; a separate client process (bench/client.py)
drives RunFunction at concurrency 1 and then 8. Reported per size and function: p50/p99
latency, requests/s, server CPU ms per request (/proc/<pid>/stat), peak RSS (VmHWM) and
response bytes; then the ratios ours/floor and ours/peer, a latency-vs-cells sweep, the
in-process build time against the number of cells (1..50) and a profile of our function
on the reference request. The peer is skipped, with the reason recorded, when
bin/function-go-templating has not been built (hack/install-peer.sh).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import equivalence, servers, workload  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MIB = 1024.0

#: Budgets per mode. duration/min/max are per (function, size, concurrency) run.
MODES: dict[str, dict[str, Any]] = {
    "smoke": {
        "sizes": ["reference"],
        "concurrency": [1, 8],
        "duration": 0.2,
        "min_requests": 10,
        "max_requests": 40,
        "warmup": 3,
        "rounds": 1,
        "sweep_cells": [1, 2],
        "sweep_duration": 0.1,
        "scaling_cells": [1, 2, 3],
        "distinct_xrs": 0,
        "scaling_seconds": 0.05,
        "profile_seconds": 0.0,
    },
    "quick": {
        "sizes": ["small", "reference", "large"],
        "concurrency": [1, 8],
        "duration": 1.5,
        "min_requests": 30,
        "max_requests": 5000,
        "warmup": 20,
        "rounds": 1,
        "sweep_cells": [1, 3, 10, 20, 50],
        "sweep_duration": 0.6,
        "scaling_cells": [1, 2, 5, 10, 20, 30, 40, 50],
        "distinct_xrs": 100,
        "scaling_seconds": 0.3,
        "profile_seconds": 1.0,
    },
    "full": {
        "sizes": ["small", "reference", "large"],
        "concurrency": [1, 8],
        "duration": 6.0,
        "min_requests": 200,
        "max_requests": 50000,
        "warmup": 100,
        "rounds": 3,
        "sweep_cells": [1, 3, 5, 10, 20, 35, 50],
        "sweep_duration": 3.0,
        "scaling_cells": [1, 2, 3, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
        "distinct_xrs": 200,
        "scaling_seconds": 1.5,
        "profile_seconds": 4.0,
    },
}

#: Goals of issue 5.
GOAL_REFERENCE_VS_FLOOR = 1.5
GOAL_LARGE_VS_FLOOR = 3.0
GOAL_VS_PEER = 1.0
GOAL_RSS_MIB = 80.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    from importlib.metadata import version

    import grpc

    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "sdk": version("crossplane-function-sdk-python"),
        "protobuf": version("protobuf"),
    }
    try:
        info["go"] = subprocess.run(
            ["go", "version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        info["go"] = None
    try:
        info["git"] = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=ROOT,
        ).stdout.strip()
        info["function_dirty"] = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "function"],
                capture_output=True,
                text=True,
                timeout=10,
                cwd=ROOT,
            ).stdout.strip()
        )
    except (OSError, subprocess.TimeoutExpired):
        info["git"] = None
    stamps = sorted((ROOT / "bin").glob(".function-go-templating-v*"))
    info["peer"] = (
        f"function-go-templating {stamps[-1].name.rsplit('-', 1)[1]}"
        f" ({stamps[-1].read_text().strip()})"
        if stamps and servers.PEER_BIN.exists()
        else None
    )
    return info


# --------------------------------------------------------------------------- gRPC runs


def drive(
    server: servers.Server,
    payload_file: Path | list[Path],
    concurrency: int,
    duration: float,
    cfg: dict[str, Any],
) -> dict[str, Any]:
    """One client process against one server; returns the client's JSON."""
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "client.py"),
        "--address",
        server.address,
        *[
            arg
            for f in (payload_file if isinstance(payload_file, list) else [payload_file])
            for arg in ("--request", str(f))
        ],
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--min-requests",
        str(cfg["min_requests"]),
        "--max-requests",
        str(cfg["max_requests"]),
        "--warmup",
        str(cfg["warmup"]),
        "--server-pid",
        str(server.pid),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"client failed against {server.name}: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _merge_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each number over rounds (one round: itself)."""
    if len(runs) == 1:
        return runs[0]
    merged: dict[str, Any] = {}
    for k, v in runs[0].items():
        vals = [r[k] for r in runs if isinstance(r.get(k), int | float)]
        merged[k] = statistics.median(vals) if len(vals) == len(runs) else v
    merged["rounds"] = len(runs)
    return merged


def measure_sizes(
    cfg: dict[str, Any], functions: list[str], payloads: dict[str, dict[str, Path]], logdir: Path
) -> dict[str, dict[str, Any]]:
    """{size: {function: {"c1": ..., "c8": ..., "peak_rss_mib": ...}}}."""
    out: dict[str, dict[str, Any]] = {s: {f: {} for f in functions} for s in cfg["sizes"]}
    for rnd in range(cfg["rounds"]):
        for size in cfg["sizes"]:
            order = functions if rnd % 2 == 0 else list(reversed(functions))
            for fn in order:
                with servers.serve(fn, logdir, response=payloads[size]["_response"]) as srv:
                    rss0 = servers.memory_kib(srv.pid)
                    for c in cfg["concurrency"]:
                        r = drive(srv, payloads[size][fn], c, cfg["duration"], cfg)
                        out[size][fn].setdefault(f"c{c}", []).append(r)
                        log(
                            f"round {rnd + 1} {size:9s} {fn:5s} c={c}: p50 {r['p50_ms']:.2f} ms"
                            f"  p99 {r['p99_ms']:.2f} ms  {r['rps']:.0f} rps"
                            f"  cpu {r['server_cpu_ms_per_req']:.2f} ms/req  n={r['n']}"
                        )
                    mem = servers.memory_kib(srv.pid)
                    out[size][fn].setdefault("_mem", []).append(
                        {"idle_rss_mib": rss0["VmRSS"] / MIB, "peak_rss_mib": mem["VmHWM"] / MIB}
                    )
    for size in out:
        for fn in out[size]:
            d = out[size][fn]
            mems = d.pop("_mem")
            for c in cfg["concurrency"]:
                d[f"c{c}"] = _merge_rounds(d[f"c{c}"])
            d["peak_rss_mib"] = round(max(m["peak_rss_mib"] for m in mems), 1)
            d["idle_rss_mib"] = round(statistics.median(m["idle_rss_mib"] for m in mems), 1)
    return out


def sweep(cfg: dict[str, Any], functions: list[str], logdir: Path, tmp: Path) -> dict[str, Any]:
    """p50 at concurrency 1 against the number of cells (reference shape), per function."""
    cells = cfg["sweep_cells"]
    files: dict[int, dict[str, Path]] = {}
    for n in cells:
        files[n] = write_payloads(f"cells-{n}", tmp)
    res: dict[str, Any] = {"cells": cells, "concurrency": 1}
    sub = {
        **cfg,
        "min_requests": max(5, cfg["min_requests"] // 3),
        "warmup": max(3, cfg["warmup"] // 3),
    }
    for fn in functions:
        if fn == "floor_rsp":  # one stored response per server: no sweep
            continue
        with servers.serve(fn, logdir) as srv:
            rows = [drive(srv, files[n][fn], 1, cfg["sweep_duration"], sub) for n in cells]
        res[fn] = {
            "p50_ms": [r["p50_ms"] for r in rows],
            "p99_ms": [r["p99_ms"] for r in rows],
            "server_cpu_ms_per_req": [r["server_cpu_ms_per_req"] for r in rows],
            "response_bytes": [r["response_bytes"] for r in rows],
        }
        log(
            f"sweep {fn:5s}: "
            + ", ".join(f"{n}c {p:.2f}ms" for n, p in zip(cells, res[fn]["p50_ms"], strict=True))
        )
    return res


def distinct(cfg: dict[str, Any], functions: list[str], logdir: Path, tmp: Path) -> dict[str, Any]:
    """The reference request for N XRs that differ only in name, sent round robin at
    concurrency 1: what a per-XR cache gains when one process serves many XRs."""
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    n = cfg["distinct_xrs"]
    base = fnv1.RunFunctionRequest.FromString(workload.build_requests("reference")["ours"])
    files = []
    for i in range(n):
        req = fnv1.RunFunctionRequest()
        req.CopyFrom(base)
        meta = req.observed.composite.resource.fields["metadata"].struct_value
        meta.fields["name"].string_value = f"orders-{i:03d}"
        f = tmp / f"distinct-{i:03d}.bin"
        f.write_bytes(req.SerializeToString(deterministic=True))
        files.append(f)
    out: dict[str, Any] = {"xrs": n, "concurrency": 1}
    sub = {**cfg, "min_requests": max(cfg["min_requests"], 2 * n), "warmup": n}
    for fn in functions:
        if fn not in ("floor", "ours"):
            continue
        with servers.serve(fn, logdir) as srv:
            r = drive(srv, files, 1, cfg["duration"], sub)
            r["peak_rss_mib"] = round(servers.memory_kib(srv.pid)["VmHWM"] / MIB, 1)
        out[fn] = r
        log(
            f"{n} distinct XRs {fn:5s} c=1: p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
            f"  cpu {r['server_cpu_ms_per_req']:.2f} ms/req  peak RSS {r['peak_rss_mib']} MiB"
        )
    if "ours" in out and "floor" in out:
        out["ratio_p50_vs_floor"] = _ratio(out["ours"]["p50_ms"], out["floor"]["p50_ms"])
    return out


def write_payloads(size: str, tmp: Path) -> dict[str, Path]:
    """Request files per function, and "_response": ours' response (for floor_rsp)."""
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    from function.fn import run

    reqs = workload.build_requests(size)
    reqs["floor_rsp"] = reqs["ours"]
    reqs["_response"] = run(fnv1.RunFunctionRequest.FromString(reqs["ours"])).SerializeToString()
    files = {}
    for fn, data in reqs.items():
        f = tmp / f"{size}-{fn}.bin"
        f.write_bytes(data)
        files[fn] = f
    return files


# --------------------------------------------------------------------------- in-process


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


# --------------------------------------------------------------------------- summary


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def summarize(size: str, per_fn: dict[str, Any]) -> dict[str, Any]:
    ours = per_fn["ours"]
    floor = per_fn.get("floor", {})
    peer = per_fn.get("peer", {})

    def get(d: dict[str, Any], c: str, k: str) -> float | None:
        v = d.get(c, {}).get(k)
        return float(v) if isinstance(v, int | float) else None

    cmax = "c8" if "c8" in ours else "c1"
    return {
        "cells": workload.size_cells(size),
        # Latency at concurrency 1; throughput at concurrency 8; peak RSS over both.
        "p50_ms": get(ours, "c1", "p50_ms"),
        "p99_ms": get(ours, "c1", "p99_ms"),
        "rps": get(ours, cmax, "rps"),
        "cpu_ms_per_req": get(ours, "c1", "server_cpu_ms_per_req"),
        "peak_rss_mib": ours.get("peak_rss_mib"),
        "response_bytes": ours.get("c1", {}).get("response_bytes"),
        "ratio_p50_vs_floor": _ratio(get(ours, "c1", "p50_ms"), get(floor, "c1", "p50_ms")),
        "ratio_p50_vs_peer": _ratio(get(ours, "c1", "p50_ms"), get(peer, "c1", "p50_ms")),
        "ratio_p99_vs_floor": _ratio(get(ours, "c1", "p99_ms"), get(floor, "c1", "p99_ms")),
        "ratio_p99_vs_peer": _ratio(get(ours, "c1", "p99_ms"), get(peer, "c1", "p99_ms")),
        "ratio_p50_c8_vs_floor": _ratio(get(ours, cmax, "p50_ms"), get(floor, cmax, "p50_ms")),
        "ratio_p50_c8_vs_peer": _ratio(get(ours, cmax, "p50_ms"), get(peer, cmax, "p50_ms")),
        "ratio_rps_vs_floor": _ratio(get(ours, cmax, "rps"), get(floor, cmax, "rps")),
        "ratio_rps_vs_peer": _ratio(get(ours, cmax, "rps"), get(peer, cmax, "rps")),
        "ratio_cpu_vs_floor": _ratio(
            get(ours, "c1", "server_cpu_ms_per_req"), get(floor, "c1", "server_cpu_ms_per_req")
        ),
        "ratio_cpu_vs_peer": _ratio(
            get(ours, "c1", "server_cpu_ms_per_req"), get(peer, "c1", "server_cpu_ms_per_req")
        ),
        **_extra_ratios(per_fn),
        "functions": per_fn,
    }


def _extra_ratios(per_fn: dict[str, Any]) -> dict[str, Any]:
    """Ours against the floor that sends a same-size response."""
    out: dict[str, Any] = {}

    def p50(fn: str, c: str = "c1") -> float | None:
        v = per_fn.get(fn, {}).get(c, {}).get("p50_ms")
        return float(v) if isinstance(v, int | float) else None

    if "floor_rsp" in per_fn:
        out["ratio_p50_vs_floor_rsp"] = _ratio(p50("ours"), p50("floor_rsp"))
    return out


def goals(res: dict[str, Any]) -> dict[str, Any]:
    """Issue 5's goals, checked for ours."""

    def check(value: float | None, limit: float) -> dict[str, Any]:
        return {"value": value, "limit": limit, "met": None if value is None else value <= limit}

    def rss(size: str, fn: str) -> float | None:
        v = res[size]["functions"].get(fn, {}).get("peak_rss_mib")
        return float(v) if isinstance(v, int | float) else None

    def p50(size: str, fn: str) -> float | None:
        v = res[size]["functions"].get(fn, {}).get("c1", {}).get("p50_ms")
        return float(v) if isinstance(v, int | float) else None

    fn = "ours"
    out: dict[str, Any] = {}
    if "reference" in res:
        out["reference_p50_vs_floor"] = check(
            _ratio(p50("reference", fn), p50("reference", "floor")), GOAL_REFERENCE_VS_FLOOR
        )
        out["reference_p50_vs_peer"] = check(
            _ratio(p50("reference", fn), p50("reference", "peer")), GOAL_VS_PEER
        )
        out["reference_peak_rss_mib"] = check(rss("reference", fn), GOAL_RSS_MIB)
    if "large" in res:
        out["large_p50_vs_floor"] = check(
            _ratio(p50("large", fn), p50("large", "floor")), GOAL_LARGE_VS_FLOOR
        )
        out["large_p50_vs_peer"] = check(
            _ratio(p50("large", fn), p50("large", "peer")), GOAL_VS_PEER
        )
        out["large_peak_rss_mib"] = check(rss("large", fn), GOAL_RSS_MIB)
    sizes = [s for s in workload.SIZES if s in res and rss(s, fn) is not None]
    if sizes:
        out["peak_rss_mib"] = check(max((rss(s, fn) or 0.0) for s in sizes), GOAL_RSS_MIB)
    return out


def table(res: dict[str, Any], functions: list[str]) -> str:
    """A Markdown table of the main numbers (for docs/benchmarks.md)."""
    lines = [
        "| size | function | p50 c1 (ms) | p99 c1 (ms) | p50 c8 (ms) | req/s c8 | CPU ms/req"
        " | peak RSS (MiB) | response bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in workload.SIZES:
        if size not in res:
            continue
        for fn in functions:
            d = res[size]["functions"].get(fn)
            if not d:
                continue
            c1, c8 = d.get("c1", {}), d.get("c8", {})
            lines.append(
                f"| {size} ({res[size]['cells']} cells) | {fn}"
                f" | {c1.get('p50_ms', 0):.2f} | {c1.get('p99_ms', 0):.2f}"
                f" | {c8.get('p50_ms', 0):.2f} | {c8.get('rps', 0):.0f}"
                f" | {c1.get('server_cpu_ms_per_req', 0):.2f} "
                f"| {d['peak_rss_mib']:.1f} | {c1.get('response_bytes', 0)} |"
            )
    lines.append("")
    lines.append(
        "| size | ours/floor p50 | ours/peer p50 | ours/floor p99 | ours/peer p99"
        " | ours/floor CPU | ours/peer CPU |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for size in workload.SIZES:
        if size in res:
            r = res[size]
            lines.append(
                f"| {size} | {r['ratio_p50_vs_floor']} | {r['ratio_p50_vs_peer']}"
                f" | {r['ratio_p99_vs_floor']} | {r['ratio_p99_vs_peer']}"
                f" | {r['ratio_cpu_vs_floor']} | {r['ratio_cpu_vs_peer']} |"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------- plot


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    sw = res.get("sweep", {})
    styles = {
        "ours": ("tab:blue", "o", "-"),
        "floor": ("tab:gray", "s", "-"),
        "peer": ("tab:orange", "^", "-"),
    }
    labels = {
        "ours": "ours (function-multigres)",
        "floor": "floor (no-op, same SDK)",
        "peer": "peer (function-go-templating)",
    }
    for fn in ("ours", "floor", "peer"):
        if fn in sw:
            color, marker, line = styles[fn]
            ax1.plot(
                sw["cells"],
                sw[fn]["p50_ms"],
                marker=marker,
                linestyle=line,
                color=color,
                label=labels[fn],
            )
    ax1.set_xlabel(
        "cells (reference shape: 3 etcd, 2 gateways + 2 poolers per cell, healthy observed)"
    )
    ax1.set_ylabel("p50 latency over gRPC, concurrency 1 (ms)")
    ax1.set_title("RunFunction latency vs cells")
    ax1.grid(alpha=0.3)
    ax1.legend()
    sc = res.get("scaling", {})
    if sc:
        ax2.plot(
            sc["cells"],
            sc["run_ms"],
            "o-",
            color="tab:blue",
            label="run(req): whole call, in-process",
        )
        ax2.plot(
            sc["cells"],
            sc["build_ms"],
            "s-",
            color="tab:green",
            label="desired_objects(xr): parse + build",
        )
        for key, color in (("run_fit", "tab:blue"), ("build_fit", "tab:green")):
            f = sc[key]
            xs = [min(sc["cells"]), max(sc["cells"])]
            fit = f"linear fit: {f['slope_ms_per_cell']:.3f} ms/cell, R²={f['r2']:.4f}"
            ys = [f["intercept_ms"] + f["slope_ms_per_cell"] * x for x in xs]
            ax2.plot(xs, ys, "--", color=color, alpha=0.5, label=fit)
        ax2.set_xlabel("cells")
        ax2.set_ylabel("ms per call")
        ax2.set_title("In-process cost vs cells (ours)")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=8)
    m = res.get("machine", {})
    fig.suptitle(
        f"function-multigres bench ({res.get('mode')}), {m.get('cores')} cores {m.get('cpu')},"
        f" Python {m.get('python')}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=sorted(MODES), default="quick")
    p.add_argument(
        "--out", type=Path, default=RESULTS, help="directory for <mode>.json and <mode>.png"
    )
    p.add_argument("--skip-peer", action="store_true", help="measure ours and the floor only")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument(
        "--sized-floor",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the floor answering with a response as large as ours"
        " (default: on, except smoke)",
    )
    a = p.parse_args(argv)
    cfg = MODES[a.mode]
    if a.sized_floor is None:
        a.sized_floor = a.mode != "smoke"
    started = time.monotonic()
    a.out.mkdir(parents=True, exist_ok=True)

    functions = ["floor", "ours", "peer"]
    if a.sized_floor:
        functions.insert(1, "floor_rsp")
    peer_reason = "--skip-peer given" if a.skip_peer else servers.peer_missing_reason()
    if peer_reason:
        functions.remove("peer")
        log(f"peer skipped: {peer_reason}")

    res: dict[str, Any] = {
        "mode": a.mode,
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "budget": cfg,
        "functions": functions,
        "peer_skipped": peer_reason,
        "notes": {
            "p50_ms, p99_ms, cpu_ms_per_req": "ours at concurrency 1",
            "rps": "ours at concurrency 8 (client and server share the cores)",
            "peak_rss_mib": "VmHWM of our server process after the size's c1 and c8 runs",
            "ratios": "ours / floor and ours / peer, same size, same concurrency",
            "floor_rsp": "the floor answering with a stored copy of ours' response (not a goal)",
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmpd:
        tmp = Path(tmpd)
        logdir = tmp / "logs"
        logdir.mkdir()
        log(f"mode {a.mode}: building requests")
        payloads = {s: write_payloads(s, tmp) for s in cfg["sizes"]}

        if "peer" in functions:
            res["equivalence"] = {}
            with servers.serve("ours", logdir) as o, servers.serve("peer", logdir) as pr:
                for s in cfg["sizes"]:
                    eq = equivalence.compare(
                        equivalence.call(o.address, payloads[s]["ours"].read_bytes()),
                        equivalence.call(pr.address, payloads[s]["peer"].read_bytes()),
                    )
                    res["equivalence"][s] = eq
                    log(
                        f"equivalence {s}: {eq['ours_count']} vs {eq['peer_count']} objects, "
                        f"identities equal {eq['identities_equal']},"
                        f" {eq['content_differences']} content differences"
                    )

        per_size = measure_sizes(cfg, functions, payloads, logdir)
        for s in cfg["sizes"]:
            res[s] = summarize(s, per_size[s])
        res["sweep"] = sweep(cfg, functions, logdir, tmp)
        if cfg["distinct_xrs"]:
            res["reference_distinct_xrs"] = distinct(cfg, functions, logdir, tmp)
    gc.collect()
    res["scaling"] = scaling(cfg)
    if cfg["profile_seconds"] and not a.no_profile:
        from bench import profile

        res["profile"] = profile.run(cfg["profile_seconds"], a.out / f"profile-{a.mode}.txt")
    res["goals"] = goals(res)
    res["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    res["elapsed_s"] = round(time.monotonic() - started, 1)

    out_json = a.out / f"{a.mode}.json"
    out_json.write_text(json.dumps(res, indent=2) + "\n")
    plot(res, a.out / f"{a.mode}.png")
    md = table(res, functions)
    (a.out / f"{a.mode}.md").write_text(md + "\n")
    print(md)
    for name, g in res["goals"].items():
        log(f"goal {name}: {g['value']} <= {g['limit']}: {g['met']}")
    log(f"wrote {out_json} and {a.mode}.png in {res['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
