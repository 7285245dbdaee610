"""Benchmark function-multigres against the floor and peers, over real gRPC.

    python bench/run.py --mode quick        # < ~4 min on 2 cores -> bench/results/quick.json
    python bench/run.py --mode full         # longer runs, 3 rounds -> bench/results/full.json
    python bench/run.py --mode smoke --out /tmp/x   # seconds; what tests/test_bench.py runs

For each size (small, reference, large) and each function (ours, the floor, floor_rsp,
function-pythonic, and function-go-templating where it could be built) a fresh server
process is started on loopback; a separate client process (bench/client.py) drives
RunFunction at concurrency 1 and 8 in three scenarios, every request tagged exactly as
Crossplane v2.2.1 tags it (bench.workload.crossplane_tag):

- steady: the same request again (an XR whose spec and observed state did not change);
- observed_change: same spec, a new observed state (and so a new tag) on every call;
- cold: a new spec on every call.

Then the fleet (1,000 distinct XRs of mixed sizes, round robin), a latency-vs-cells
sweep, the 100-XR round robin, the in-process build time against the number of cells and
a profile. Reported per run: p50/p99 latency, requests/s, server CPU ms per request
(/proc/<pid>/stat), peak RSS (VmHWM) and response bytes; then the ratios ours/floor and
ours/peer of the same run. The peer CI always has is function-pythonic from PyPI
(hack/install-pythonic.sh, run by `make bench-quick`); without it, or without
bin/function-go-templating, that peer is skipped with the reason recorded.
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
        "sweep_cells": [1],
        "sweep_duration": 0.1,
        "scaling_cells": [1, 2],
        "distinct_xrs": 0,
        "fleet_xrs": 20,
        "peer_min_requests": 2,
        "peer_duration": 0.05,
        "peer_sweep_max_cells": 0,
        "scaling_seconds": 0.05,
        "profile_seconds": 0.0,
    },
    "quick": {
        "sizes": ["small", "reference", "large"],
        "concurrency": [1, 8],
        "duration": 1.0,
        "min_requests": 30,
        "max_requests": 5000,
        "warmup": 20,
        "rounds": 1,
        "sweep_cells": [1, 3, 10, 20, 50],
        "sweep_duration": 0.3,
        "scaling_cells": [1, 2, 5, 10, 20, 50],
        "distinct_xrs": 100,
        "fleet_xrs": 1000,
        "peer_min_requests": 3,
        "peer_duration": 0.5,
        "peer_sweep_max_cells": 3,
        "scaling_seconds": 0.2,
        "profile_seconds": 0.6,
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
        "fleet_xrs": 1000,
        "peer_min_requests": 10,
        "peer_duration": 3.0,
        "peer_sweep_max_cells": 20,
        "scaling_seconds": 1.5,
        "profile_seconds": 4.0,
    },
}

#: Goals of issue 5.
GOAL_REFERENCE_VS_FLOOR = 1.5
GOAL_LARGE_VS_FLOOR = 3.0
GOAL_VS_PEER = 1.0
GOAL_RSS_MIB = 80.0
#: Goals of issue 14 (same-run ratios, p50 at concurrency 1).
GOAL_STEADY_VS_FLOOR = 1.3
GOAL_OBSERVED_CHANGE_VS_FLOOR = 2.0
GOAL_COLD_REFERENCE_VS_FLOOR = 3.0
GOAL_COLD_LARGE_VS_FLOOR = 5.0
GOAL_VS_PYTHONIC = 0.1
GOAL_FLEET_CPU_VS_SINGLE = 1.5
GOAL_FLEET_RSS_MIB = 100.0

SCENARIOS = ("steady", "observed_change", "cold")
#: The peer CI always has; the `*_vs_peer` keys are against it.
CI_PEER = "pythonic"


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
    info["go_templating"] = (
        f"function-go-templating {stamps[-1].name.rsplit('-', 1)[1]}"
        f" ({stamps[-1].read_text().strip()})"
        if stamps and servers.PEER_BIN.exists()
        else None
    )
    info["peer"] = None
    if servers.PYTHONIC_BIN.exists():
        py = subprocess.run(
            [str(servers.PYTHONIC_DIR / "bin" / "python"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        info["peer"] = f"crossplane-function-pythonic {servers.PYTHONIC_VERSION} ({py})"
    return info


# --------------------------------------------------------------------------- gRPC runs


#: What a client sends: one request file, several (round robin), a bundle ("bundle",
#: path) or a template that makes a new request every call ("template", body, fetched).
Payload = Path | list[Path] | tuple[str, Path] | tuple[str, Path, Path]

_starts = iter(range(10**6, 10**12, 10**6))  # every template run its own counters


def payload_spec(payload: Payload) -> dict[str, Any]:
    if isinstance(payload, tuple):
        if payload[0] == "bundle":
            return {"kind": "bundle", "file": str(payload[1])}
        _, body, fetched = payload  # type: ignore[misc]
        return {
            "kind": "template",
            "body": str(body),
            "fetched": str(fetched),
            "placeholder": workload.PLACEHOLDER,
            "start": next(_starts),
        }
    files = payload if isinstance(payload, list) else [payload]
    return {"kind": "request", "files": [str(f) for f in files]}


def drive_many(
    runs: list[tuple[servers.Server, Payload, float, dict[str, Any]]],
    concurrency: int,
    tmp: Path,
) -> dict[str, dict[str, Any]]:
    """One client process driving several servers interleaved (bench/client.py); returns
    {server name: the client's result for it}. Each run: (server, payload, seconds,
    budget with min_requests, max_requests, warmup)."""
    spec = {
        "concurrency": concurrency,
        "duration": 1.0,
        "min_requests": 1,
        "max_requests": 100_000,
        "warmup": 0,
        "slice": 0.25,
        "targets": [
            {
                "name": srv.name,
                "address": srv.address,
                "pid": srv.pid,
                "payload": payload_spec(payload),
                "duration": seconds,
                "min_requests": cfg["min_requests"],
                "max_requests": cfg["max_requests"],
                "warmup": cfg["warmup"],
            }
            for srv, payload, seconds, cfg in runs
        ],
    }
    f = tmp / f"spec-{next(_starts)}.json"
    f.write_text(json.dumps(spec))
    cmd = [sys.executable, str(ROOT / "bench" / "client.py"), "--spec", str(f)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if out.returncode != 0:
        names = ", ".join(srv.name for srv, *_ in runs)
        raise RuntimeError(f"client failed against {names}: {out.stderr[-2000:]}")
    result: dict[str, dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])["results"]
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


def _budget(cfg: dict[str, Any], fn: str, c: int) -> tuple[float, dict[str, Any]]:
    """(duration, cfg) for one run: the peers get fewer, slower calls."""
    if fn in servers.PEERS:
        sub = {**cfg, "min_requests": cfg["peer_min_requests"] * (2 if c > 1 else 1)}
        sub["warmup"] = 2
        return cfg["peer_duration"], sub
    return cfg["duration"], cfg


def _runs(fn: str, cfg: dict[str, Any], size: str = "reference") -> list[tuple[str, int]]:
    """(scenario, concurrency) pairs a function is measured in. floor_rsp answers one
    stored response whatever it is sent: steady only. The peers cache nothing, so their
    cost does not depend on the scenario: every scenario at c1, steady also at c8."""
    out = []
    for scenario in SCENARIOS:
        if fn == "floor_rsp" and scenario != "steady":
            continue
        for c in cfg["concurrency"]:
            if fn in servers.PEERS and c != 1 and (scenario != "steady" or size == "large"):
                continue  # a peer call at 20 cells takes a second or more
            out.append((scenario, c))
    return out


def measure_sizes(
    cfg: dict[str, Any],
    functions: list[str],
    payloads: dict[str, dict[str, Any]],
    logdir: Path,
    tmp: Path,
) -> dict[str, dict[str, Any]]:
    """{size: {function: {"c1": ..., "c8": ..., "peak_rss_mib": ..., "observed_change":
    {"c1": ..., "c8": ...}, "cold": {...}}}}; the steady runs are at the top level.

    Per size, every function's server runs at once, and each (scenario, concurrency) is
    one client driving all of them interleaved: same-run ratios."""
    out: dict[str, dict[str, Any]] = {s: {f: {} for f in functions} for s in cfg["sizes"]}
    for rnd in range(cfg["rounds"]):
        for size in cfg["sizes"]:
            with servers.serve_many(
                functions, logdir, response=payloads[size]["_response"]
            ) as srvs:
                rss0 = {fn: servers.memory_kib(srv.pid) for fn, srv in srvs.items()}
                for scenario in SCENARIOS:
                    for c in cfg["concurrency"]:
                        runs = []
                        for fn in functions:
                            if (scenario, c) not in _runs(fn, cfg, size):
                                continue
                            source = "ours" if fn == "floor_rsp" else fn
                            payload = (
                                payloads[size][source]
                                if scenario == "steady"
                                else ("template", *payloads[size][f"{scenario}:{source}"])
                            )
                            runs.append((srvs[fn], payload, *_budget(cfg, fn, c)))
                        results = drive_many(runs, c, tmp)
                        for fn, r in results.items():
                            where = out[size][fn]
                            if scenario != "steady":
                                where = where.setdefault(scenario, {})
                            where.setdefault(f"c{c}", []).append(r)
                            log(
                                f"round {rnd + 1} {size:9s} {fn:9s} {scenario:15s} c={c}:"
                                f" p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
                                f"  {r['rps']:.0f} rps"
                                f"  cpu {r['server_cpu_ms_per_req']:.2f} ms/req  n={r['n']}"
                            )
                for fn, srv in srvs.items():
                    mem = servers.memory_kib(srv.pid)
                    out[size][fn].setdefault("_mem", []).append(
                        {
                            "idle_rss_mib": rss0[fn]["VmRSS"] / MIB,
                            "peak_rss_mib": mem["VmHWM"] / MIB,
                        }
                    )
    for size in out:
        for fn in out[size]:
            d = out[size][fn]
            mems = d.pop("_mem")
            for where in (d, *(d[s] for s in SCENARIOS if s in d)):
                for k in [k for k in where if k.startswith("c") and k[1:].isdigit()]:
                    where[k] = _merge_rounds(where[k])
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
    fns = [fn for fn in functions if fn != "floor_rsp"]  # one stored response: no sweep
    rows: dict[str, list[dict[str, Any] | None]] = {fn: [] for fn in fns}
    with servers.serve_many(fns, logdir) as srvs:
        for n in cells:
            runs = []
            for fn in fns:
                if fn in servers.PEERS and n > cfg["peer_sweep_max_cells"]:
                    continue  # seconds per call: left out to keep the budget
                duration, budget = _budget(sub, fn, 1)
                runs.append((srvs[fn], files[n][fn], min(duration, sub["sweep_duration"]), budget))
            got = drive_many(runs, 1, tmp)
            for fn in fns:
                rows[fn].append(got.get(fn))
    for fn in fns:
        res[fn] = {
            k: [r[k] if r else None for r in rows[fn]]
            for k in ("p50_ms", "p99_ms", "server_cpu_ms_per_req", "response_bytes")
        }
        log(
            f"sweep {fn:9s}: "
            + ", ".join(
                f"{n}c {p:.2f}ms"
                for n, p in zip(cells, res[fn]["p50_ms"], strict=True)
                if p is not None
            )
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
        workload.tag(req)  # its own content, its own tag
        f = tmp / f"distinct-{i:03d}.bin"
        f.write_bytes(req.SerializeToString(deterministic=True))
        files.append(f)
    out: dict[str, Any] = {"xrs": n, "concurrency": 1}
    # Two passes first, as in the fleet: a response is kept once its request comes again.
    sub = {**cfg, "min_requests": max(cfg["min_requests"], 2 * n), "warmup": 2 * n}
    with servers.serve_many(["floor", "ours"], logdir) as started:
        fl, ou = started["floor"], started["ours"]
        got = drive_many(
            [(fl, files, cfg["duration"], sub), (ou, files, cfg["duration"], sub)], 1, tmp
        )
        for fn, srv in (("floor", fl), ("ours", ou)):
            r = got[fn]
            r["peak_rss_mib"] = round(servers.memory_kib(srv.pid)["VmHWM"] / MIB, 1)
            out[fn] = r
            log(
                f"{n} distinct XRs {fn:5s} c=1: p50 {r['p50_ms']:.2f} ms"
                f"  p99 {r['p99_ms']:.2f} ms  cpu {r['server_cpu_ms_per_req']:.2f} ms/req"
                f"  peak RSS {r['peak_rss_mib']} MiB"
            )
    if "ours" in out and "floor" in out:
        out["ratio_p50_vs_floor"] = _ratio(out["ours"]["p50_ms"], out["floor"]["p50_ms"])
    return out


def fleet(cfg: dict[str, Any], res: dict[str, Any], logdir: Path, tmp: Path) -> dict[str, Any]:
    """`fleet_xrs` distinct steady-state XRs of mixed sizes (workload.FLEET_MIX), round
    robin, at concurrency 1 then 8 on one server: what one function process sees when it
    serves a fleet. The warm-up is two passes over every XR (each XR's first two
    reconciles), so the measured calls are the repeats. Compared with the CPU per request
    of one XR of each size (the steady runs of this same run), weighted by the mix."""
    from bench.client import write_bundle

    n = cfg["fleet_xrs"]
    bundle = tmp / "fleet.bundle"
    write_bundle(bundle, workload.fleet_requests(n, "ours"))
    out: dict[str, Any] = {
        "xrs": n,
        "mix": {size: count for size, count in workload.FLEET_MIX},
        "concurrency": cfg["concurrency"],
    }
    sub = {**cfg, "min_requests": max(cfg["min_requests"], n), "warmup": n}
    with servers.serve_many(["floor", "ours"], logdir) as started:
        fl, ou = started["floor"], started["ours"]
        d: dict[str, dict[str, Any]] = {"floor": {}, "ours": {}}
        for c in cfg["concurrency"]:
            # Two passes first: each XR's first two reconciles (a response is kept the
            # second time its request is seen; function/response_cache.py).
            budget = {**sub, "warmup": 2 * n if c == cfg["concurrency"][0] else 0}
            got = drive_many(
                [(srv, ("bundle", bundle), cfg["duration"], budget) for srv in (fl, ou)], c, tmp
            )
            for fn, r in got.items():
                d[fn][f"c{c}"] = r
                log(
                    f"fleet {n} XRs {fn:5s} c={c}: p50 {r['p50_ms']:.2f} ms"
                    f"  p99 {r['p99_ms']:.2f} ms  cpu {r['server_cpu_ms_per_req']:.2f} ms/req"
                    f"  n={r['n']}"
                )
        for fn, srv in (("floor", fl), ("ours", ou)):
            d[fn]["peak_rss_mib"] = round(servers.memory_kib(srv.pid)["VmHWM"] / MIB, 1)
    out.update(d)
    ours, floor = out["ours"], out["floor"]
    weights = dict(workload.FLEET_MIX)
    single = None
    if all(s in res for s in weights):
        single = sum(weights[s] * res[s]["steady"]["cpu_ms_per_req"] for s in weights) / sum(
            weights.values()
        )
    cpu = ours["c1"]["server_cpu_ms_per_req"]
    out.update(
        {
            "p50_ms": ours["c1"]["p50_ms"],
            "p99_ms": ours["c1"]["p99_ms"],
            "p50_c8_ms": ours.get("c8", {}).get("p50_ms"),
            "cpu_ms_per_req": cpu,
            "cpu_ms_per_req_c8": ours.get("c8", {}).get("server_cpu_ms_per_req"),
            "peak_rss_mib": ours["peak_rss_mib"],
            "floor_p50_ms": floor["c1"]["p50_ms"],
            "floor_cpu_ms_per_req": floor["c1"]["server_cpu_ms_per_req"],
            "single_xr_cpu_ms_per_req": None if single is None else round(single, 4),
            "ratio_cpu_vs_single_xr": _ratio(cpu, single),
            "ratio_p50_vs_floor": _ratio(ours["c1"]["p50_ms"], floor["c1"]["p50_ms"]),
            "ratio_cpu_vs_floor": _ratio(cpu, floor["c1"]["server_cpu_ms_per_req"]),
        }
    )
    return out


def write_payloads(
    size: str, tmp: Path, templates: bool = False, peers: tuple[str, ...] = servers.PEERS
) -> dict[str, Any]:
    """Request files per function, "_response": ours' response (for floor_rsp), and with
    `templates` "<scenario>:<function>": (body, fetched) for the scenarios that send a new
    request on every call."""
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1

    from function.fn import run

    reqs = workload.build_requests(size)
    reqs["floor_rsp"] = reqs["ours"]
    reqs["_response"] = run(fnv1.RunFunctionRequest.FromString(reqs["ours"])).SerializeToString()
    files: dict[str, Any] = {}
    for fn, data in reqs.items():
        f = tmp / f"{size}-{fn}.bin"
        f.write_bytes(data)
        files[fn] = f
    if not templates:
        return files
    for scenario in SCENARIOS[1:]:
        for fn in ("ours", *peers):
            body, fetched = workload.scenario_template(size, scenario, fn)
            fb, ff = tmp / f"{size}-{scenario}-{fn}.body", tmp / f"{size}-{scenario}-{fn}.fetched"
            fb.write_bytes(body)
            ff.write_bytes(fetched)
            files[f"{scenario}:{fn}"] = (fb, ff)
        files[f"{scenario}:floor"] = files[f"{scenario}:ours"]
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
    """The steady numbers and ratios under their old keys (`peer` is function-pythonic),
    then one entry per scenario."""
    ours = per_fn["ours"]
    floor = per_fn.get("floor", {})
    peer = per_fn.get(CI_PEER, {})

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
        **{scenario: scenario_summary(per_fn, scenario) for scenario in SCENARIOS},
        "ratio_p50_vs_pythonic": _ratio(
            get(ours, "c1", "p50_ms"), get(per_fn.get("pythonic", {}), "c1", "p50_ms")
        ),
        "ratio_p50_vs_go_templating": _ratio(
            get(ours, "c1", "p50_ms"), get(per_fn.get("go-templating", {}), "c1", "p50_ms")
        ),
        "functions": per_fn,
    }


def scenario_summary(per_fn: dict[str, Any], scenario: str) -> dict[str, Any]:
    """Ours in one scenario, against the floor and the peers measured in the same one."""

    def run_(fn: str, c: str) -> dict[str, Any]:
        d = per_fn.get(fn, {})
        d = d if scenario == "steady" else d.get(scenario, {})
        r: dict[str, Any] = d.get(c, {})
        return r

    def num(fn: str, c: str, k: str) -> float | None:
        v = run_(fn, c).get(k)
        return float(v) if isinstance(v, int | float) else None

    out: dict[str, Any] = {
        "p50_ms": num("ours", "c1", "p50_ms"),
        "p99_ms": num("ours", "c1", "p99_ms"),
        "p50_c8_ms": num("ours", "c8", "p50_ms"),
        "rps_c8": num("ours", "c8", "rps"),
        "cpu_ms_per_req": num("ours", "c1", "server_cpu_ms_per_req"),
        "floor_p50_ms": num("floor", "c1", "p50_ms"),
        "floor_rsp_p50_ms": per_fn.get("floor_rsp", {}).get("c1", {}).get("p50_ms"),
        "pythonic_p50_ms": num("pythonic", "c1", "p50_ms"),
        "ratio_p50_vs_floor": _ratio(num("ours", "c1", "p50_ms"), num("floor", "c1", "p50_ms")),
        "ratio_p50_c8_vs_floor": _ratio(num("ours", "c8", "p50_ms"), num("floor", "c8", "p50_ms")),
        "ratio_cpu_vs_floor": _ratio(
            num("ours", "c1", "server_cpu_ms_per_req"),
            num("floor", "c1", "server_cpu_ms_per_req"),
        ),
        "ratio_p50_vs_floor_rsp": _ratio(
            num("ours", "c1", "p50_ms"), per_fn.get("floor_rsp", {}).get("c1", {}).get("p50_ms")
        ),
        "ratio_p50_vs_pythonic": _ratio(
            num("ours", "c1", "p50_ms"), num("pythonic", "c1", "p50_ms")
        ),
        "ratio_cpu_vs_pythonic": _ratio(
            num("ours", "c1", "server_cpu_ms_per_req"),
            num("pythonic", "c1", "server_cpu_ms_per_req"),
        ),
        "ratio_p50_vs_go_templating": _ratio(
            num("ours", "c1", "p50_ms"), num("go-templating", "c1", "p50_ms")
        ),
    }
    return out


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
            _ratio(p50("reference", fn), p50("reference", CI_PEER)), GOAL_VS_PEER
        )
        out["reference_peak_rss_mib"] = check(rss("reference", fn), GOAL_RSS_MIB)
    if "large" in res:
        out["large_p50_vs_floor"] = check(
            _ratio(p50("large", fn), p50("large", "floor")), GOAL_LARGE_VS_FLOOR
        )
        out["large_p50_vs_peer"] = check(
            _ratio(p50("large", fn), p50("large", CI_PEER)), GOAL_VS_PEER
        )
        out["large_peak_rss_mib"] = check(rss("large", fn), GOAL_RSS_MIB)
    sizes = [s for s in workload.SIZES if s in res and rss(s, fn) is not None]
    if sizes:
        out["peak_rss_mib"] = check(max((rss(s, fn) or 0.0) for s in sizes), GOAL_RSS_MIB)
    # Issue 14.
    if "reference" in res:
        ref = res["reference"]
        out["steady_p50_vs_floor"] = check(
            ref["steady"]["ratio_p50_vs_floor"], GOAL_STEADY_VS_FLOOR
        )
        out["observed_change_p50_vs_floor"] = check(
            ref["observed_change"]["ratio_p50_vs_floor"], GOAL_OBSERVED_CHANGE_VS_FLOOR
        )
        out["cold_reference_p50_vs_floor"] = check(
            ref["cold"]["ratio_p50_vs_floor"], GOAL_COLD_REFERENCE_VS_FLOOR
        )
    if "large" in res:
        out["cold_large_p50_vs_floor"] = check(
            res["large"]["cold"]["ratio_p50_vs_floor"], GOAL_COLD_LARGE_VS_FLOOR
        )
    worst = [
        res[s][sc]["ratio_p50_vs_pythonic"]
        for s in workload.SIZES
        if s in res
        for sc in SCENARIOS
        if res[s][sc]["ratio_p50_vs_pythonic"] is not None
    ]
    if worst:
        out["every_scenario_p50_vs_pythonic"] = check(max(worst), GOAL_VS_PYTHONIC)
    fleet = res.get("fleet") or {}
    if fleet:
        out["fleet_cpu_vs_single_xr"] = check(
            fleet.get("ratio_cpu_vs_single_xr"), GOAL_FLEET_CPU_VS_SINGLE
        )
        out["fleet_peak_rss_mib"] = check(fleet.get("peak_rss_mib"), GOAL_FLEET_RSS_MIB)
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
            if not d or "c1" not in d:
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
    lines += [
        "",
        "| size | scenario | ours p50 (ms) | floor p50 | pythonic p50 | ours/floor"
        " | ours/floor_rsp | ours/pythonic | ours/floor c8 | CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in workload.SIZES:
        if size not in res:
            continue
        for sc in SCENARIOS:
            r = res[size][sc]
            lines.append(
                f"| {size} | {sc} | {_fmt(r['p50_ms'])} | {_fmt(r['floor_p50_ms'])}"
                f" | {_fmt(r['pythonic_p50_ms'])} | {r['ratio_p50_vs_floor']}"
                f" | {r['ratio_p50_vs_floor_rsp']} | {r['ratio_p50_vs_pythonic']}"
                f" | {r['ratio_p50_c8_vs_floor']} | {_fmt(r['cpu_ms_per_req'])} |"
            )
    fleet = res.get("fleet")
    if fleet:
        lines += [
            "",
            "| fleet | XRs | ours p50 (ms) | floor p50 | CPU ms/req | single-XR CPU ms/req"
            " | fleet/single CPU | peak RSS (MiB) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| c1 | {fleet['xrs']} | {_fmt(fleet['p50_ms'])} | {_fmt(fleet['floor_p50_ms'])}"
            f" | {_fmt(fleet['cpu_ms_per_req'])} | {_fmt(fleet['single_xr_cpu_ms_per_req'])}"
            f" | {fleet['ratio_cpu_vs_single_xr']} | {fleet['peak_rss_mib']} |",
        ]
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


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
        "pythonic": ("tab:orange", "^", "-"),
        "go-templating": ("tab:red", "v", "-"),
    }
    labels = {
        "ours": "ours (function-multigres), steady",
        "floor": "floor (no-op, same SDK)",
        "pythonic": "function-pythonic 0.6.3",
        "go-templating": "function-go-templating",
    }
    for fn in styles:
        if fn in sw:
            color, marker, line = styles[fn]
            pts = [(c, v) for c, v in zip(sw["cells"], sw[fn]["p50_ms"], strict=True) if v]
            ax1.plot(
                [c for c, _ in pts],
                [v for _, v in pts],
                marker=marker,
                linestyle=line,
                color=color,
                label=labels[fn],
            )
    ax1.set_yscale("log")
    ax1.set_xlabel(
        "cells (reference shape: 3 etcd, 2 gateways + 2 poolers per cell, healthy observed)"
    )
    ax1.set_ylabel("p50 latency over gRPC, concurrency 1 (ms, log)")
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
        f"function-multigres bench ({res.get('mode')}, {res.get('generated_at')}):"
        f" {m.get('cores')} cores {m.get('cpu')}, {m.get('memory_gib')} GiB,"
        f" Linux {m.get('kernel')}, Python {m.get('python')};"
        f" load average {(res.get('loadavg_start') or ['?'])[0]}"
        f" -> {(res.get('loadavg_end') or ['?'])[0]}",
        fontsize=9,
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

    functions = ["floor", "ours", *servers.PEERS]
    if a.sized_floor:
        functions.insert(1, "floor_rsp")
    skipped: dict[str, str | None] = {}
    for peer in servers.PEERS:
        reason = "--skip-peer given" if a.skip_peer else servers.peer_missing_reason(peer)
        skipped[peer] = reason
        if reason:
            functions.remove(peer)
            log(f"{peer} skipped: {reason}")

    res: dict[str, Any] = {
        "mode": a.mode,
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "budget": cfg,
        "functions": functions,
        "peer_skipped": skipped[CI_PEER],
        "peers_skipped": skipped,
        "notes": {
            "p50_ms, p99_ms, cpu_ms_per_req": "ours at concurrency 1",
            "rps": "ours at concurrency 8 (client and server share the cores)",
            "peak_rss_mib": "VmHWM of our server process after all of the size's runs",
            "ratios": "ours / floor and ours / peer, same size, same scenario, same concurrency",
            "peer": f"the *_vs_peer keys and `equivalence` are against {CI_PEER}"
            " (function-pythonic, from PyPI); go-templating is optional",
            "top-level size keys": "the steady scenario (the same request again)",
            "steady, observed_change, cold": "per size: ours against the floor and the peers"
            " measured in the same scenario; every request tagged as Crossplane tags it",
            "floor_rsp": "the floor answering with a stored copy of ours' response (not a goal)",
            "fleet": "distinct XRs of mixed sizes round robin; single_xr_cpu_ms_per_req is the"
            " steady CPU of one XR per size, weighted by the fleet's mix",
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmpd:
        tmp = Path(tmpd)
        logdir = tmp / "logs"
        logdir.mkdir()
        log(f"mode {a.mode}: building requests")
        peers = tuple(p for p in servers.PEERS if p in functions)
        payloads = {s: write_payloads(s, tmp, templates=True, peers=peers) for s in cfg["sizes"]}

        for peer in (p for p in servers.PEERS if p in functions):
            key = "equivalence" if peer == CI_PEER else f"equivalence_{peer.replace('-', '_')}"
            res[key] = {}
            with servers.serve("ours", logdir) as o, servers.serve(peer, logdir) as pr:
                for s in cfg["sizes"]:
                    eq = equivalence.compare(
                        equivalence.call(o.address, payloads[s]["ours"].read_bytes()),
                        equivalence.call(pr.address, payloads[s][peer].read_bytes()),
                    )
                    res[key][s] = eq
                    log(
                        f"equivalence {peer} {s}: {eq['ours_count']} vs {eq['peer_count']}"
                        f" objects, identities equal {eq['identities_equal']},"
                        f" {eq['content_differences']} content differences,"
                        f" {len(eq['ready_differences'])} readiness differences"
                    )

        per_size = measure_sizes(cfg, functions, payloads, logdir, tmp)
        for s in cfg["sizes"]:
            res[s] = summarize(s, per_size[s])
        if cfg["fleet_xrs"]:
            res["fleet"] = fleet(cfg, res, logdir, tmp)
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
