"""The gRPC runs: every function's server at once, one client driving them interleaved
(bench/client.py), so the ratios are same-run; and the request files they are sent."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import servers, workload
from bench.common import MIB, ROOT, SCENARIOS, log

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
                "warmup_repeat": cfg.get("warmup_repeat", 1),
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


def _budget(
    cfg: dict[str, Any], fn: str, c: int, size: str = "reference"
) -> tuple[float, dict[str, Any]]:
    """(duration, cfg) for one run: the peers get fewer, slower calls; below 20 cells
    (a peer call is 50-300 ms there) two more, since the p50 of three calls under load
    moved the worst ours/peer ratio by 3x between two runs."""
    if fn in servers.PEERS:
        least = cfg["peer_min_requests"] + (0 if size == "large" else 2)
        sub = {**cfg, "min_requests": least * (2 if c > 1 else 1)}
        sub["warmup"] = 1  # opens the client's channel; a peer keeps nothing between calls
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
                            runs.append((srvs[fn], payload, *_budget(cfg, fn, c, size)))
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
            runs: list[tuple[servers.Server, Payload, float, dict[str, Any]]] = []
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
