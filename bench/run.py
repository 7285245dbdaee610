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
import contextlib
import datetime
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import equivalence, servers
from bench.common import CI_PEER, RESULTS, log
from bench.fleet import distinct, fleet
from bench.machine import machine
from bench.measure import measure_sizes, sweep, write_payloads
from bench.plot import plot
from bench.report import goals, summarize, table
from bench.scaling import scaling

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
        "duration": 0.6,
        "min_requests": 20,
        "max_requests": 5000,
        "warmup": 8,
        "rounds": 1,
        "sweep_cells": [1, 3, 10, 20],  # 50 cells in full: 7 s of the 4 min quick has
        "sweep_duration": 0.2,
        "scaling_cells": [1, 2, 5, 10, 20],
        "distinct_xrs": 50,  # 200 in full
        "fleet_xrs": 1000,
        "peer_min_requests": 3,
        "peer_duration": 0.3,
        "peer_sweep_max_cells": 3,
        "scaling_seconds": 0.15,
        "profile_seconds": 0.4,
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
    phases: dict[str, float] = {}
    mark = [time.monotonic()]

    def phase(name: str) -> None:
        """Wall seconds of the step that just ended: where bench-quick's minutes go."""
        now = time.monotonic()
        phases[name] = round(now - mark[0], 1)
        mark[0] = now

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        logdir = tmp / "logs"
        logdir.mkdir()
        log(f"mode {a.mode}: building requests")
        peers = tuple(p for p in servers.PEERS if p in functions)
        stack.enter_context(servers.kept(list(peers), logdir))  # started once, not per phase
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

        phase("requests_and_equivalence")
        per_size = measure_sizes(cfg, functions, payloads, logdir, tmp)
        phase("sizes")
        for s in cfg["sizes"]:
            res[s] = summarize(s, per_size[s])
        if cfg["fleet_xrs"]:
            res["fleet"] = fleet(cfg, res, logdir, tmp)
            phase("fleet")
        res["sweep"] = sweep(cfg, functions, logdir, tmp)
        phase("sweep")
        if cfg["distinct_xrs"]:
            res["reference_distinct_xrs"] = distinct(cfg, functions, logdir, tmp)
            phase("distinct_xrs")
    gc.collect()
    res["scaling"] = scaling(cfg)
    phase("scaling")
    if cfg["profile_seconds"] and not a.no_profile:
        from bench import profile

        res["profile"] = profile.run(cfg["profile_seconds"], a.out / f"profile-{a.mode}.txt")
        phase("profile")
    res["phase_seconds"] = phases
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
    log(f"phases (s): {phases}")
    log(f"wrote {out_json} and {a.mode}.png in {res['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
