"""Many XRs on one server: the fleet (issue 14: 1,000 distinct XRs of mixed sizes) and
the 100-XR round robin of the reference request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import servers, workload
from bench.common import MIB, log, ratio
from bench.measure import drive_many

#: Warm-up calls for the floor, which caches nothing: enough to warm its channel.
FLOOR_WARMUP = 50


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
    floor_sub = {**sub, "warmup": FLOOR_WARMUP}
    with servers.serve_many(["floor", "ours"], logdir) as started:
        fl, ou = started["floor"], started["ours"]
        got = drive_many(
            [(fl, files, cfg["duration"], floor_sub), (ou, files, cfg["duration"], sub)], 1, tmp
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
        out["ratio_p50_vs_floor"] = ratio(out["ours"]["p50_ms"], out["floor"]["p50_ms"])
    return out


def fleet(cfg: dict[str, Any], res: dict[str, Any], logdir: Path, tmp: Path) -> dict[str, Any]:
    """`fleet_xrs` distinct steady-state XRs of mixed sizes (workload.FLEET_MIX), round
    robin, at concurrency 1 then 8 on one server: what one function process sees when it
    serves a fleet. The warm-up is each XR's first two reconciles, back to back, so the
    measured calls are the repeats. Compared with the CPU per request
    of one XR of each size (the steady runs of this same run), weighted by the mix."""
    from bench.client import write_bundle

    n = cfg["fleet_xrs"]
    bundle = tmp / "fleet.bundle"
    write_bundle(bundle, workload.fleet_requests(n, "ours"))
    log(f"fleet: {n} requests written ({bundle.stat().st_size / MIB / MIB:.1f} MiB)")
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
            # First each XR's first two reconciles, back to back as when Crossplane
            # creates an XR (the composed objects' watch events requeue it at once): a
            # response is kept the second time its request is seen
            # (function/response_cache.py), and the second call finds the build cache
            # and memos warm.
            first = c == cfg["concurrency"][0]
            budget = {**sub, "warmup": n if first else 0, "warmup_repeat": 2}
            # The floor keeps nothing between calls: a few calls warm its channel.
            floor_budget = {
                **budget,
                "warmup": min(budget["warmup"], FLOOR_WARMUP),
                "warmup_repeat": 1,
            }
            got = drive_many(
                [
                    (fl, ("bundle", bundle), cfg["duration"], floor_budget),
                    (ou, ("bundle", bundle), cfg["duration"], budget),
                ],
                c,
                tmp,
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
            "ratio_cpu_vs_single_xr": ratio(cpu, single),
            "ratio_p50_vs_floor": ratio(ours["c1"]["p50_ms"], floor["c1"]["p50_ms"]),
            "ratio_cpu_vs_floor": ratio(cpu, floor["c1"]["server_cpu_ms_per_req"]),
        }
    )
    return out
