"""From measurements to quick.json's summary: per size and scenario the numbers and the
same-run ratios, the goals of issues 5 and 14 checked, and the Markdown table."""

from __future__ import annotations

from typing import Any

from bench import workload
from bench.common import CI_PEER, SCENARIOS, ratio

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
        "ratio_p50_vs_floor": ratio(get(ours, "c1", "p50_ms"), get(floor, "c1", "p50_ms")),
        "ratio_p50_vs_peer": ratio(get(ours, "c1", "p50_ms"), get(peer, "c1", "p50_ms")),
        "ratio_p99_vs_floor": ratio(get(ours, "c1", "p99_ms"), get(floor, "c1", "p99_ms")),
        "ratio_p99_vs_peer": ratio(get(ours, "c1", "p99_ms"), get(peer, "c1", "p99_ms")),
        "ratio_p50_c8_vs_floor": ratio(get(ours, cmax, "p50_ms"), get(floor, cmax, "p50_ms")),
        "ratio_p50_c8_vs_peer": ratio(get(ours, cmax, "p50_ms"), get(peer, cmax, "p50_ms")),
        "ratio_rps_vs_floor": ratio(get(ours, cmax, "rps"), get(floor, cmax, "rps")),
        "ratio_rps_vs_peer": ratio(get(ours, cmax, "rps"), get(peer, cmax, "rps")),
        "ratio_cpu_vs_floor": ratio(
            get(ours, "c1", "server_cpu_ms_per_req"), get(floor, "c1", "server_cpu_ms_per_req")
        ),
        "ratio_cpu_vs_peer": ratio(
            get(ours, "c1", "server_cpu_ms_per_req"), get(peer, "c1", "server_cpu_ms_per_req")
        ),
        **_extra_ratios(per_fn),
        **{scenario: scenario_summary(per_fn, scenario) for scenario in SCENARIOS},
        "ratio_p50_vs_pythonic": ratio(
            get(ours, "c1", "p50_ms"), get(per_fn.get("pythonic", {}), "c1", "p50_ms")
        ),
        "ratio_p50_vs_go_templating": ratio(
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
        "ratio_p50_vs_floor": ratio(num("ours", "c1", "p50_ms"), num("floor", "c1", "p50_ms")),
        "ratio_p50_c8_vs_floor": ratio(num("ours", "c8", "p50_ms"), num("floor", "c8", "p50_ms")),
        "ratio_cpu_vs_floor": ratio(
            num("ours", "c1", "server_cpu_ms_per_req"),
            num("floor", "c1", "server_cpu_ms_per_req"),
        ),
        "ratio_p50_vs_floor_rsp": ratio(
            num("ours", "c1", "p50_ms"), per_fn.get("floor_rsp", {}).get("c1", {}).get("p50_ms")
        ),
        "ratio_p50_vs_pythonic": ratio(
            num("ours", "c1", "p50_ms"), num("pythonic", "c1", "p50_ms")
        ),
        "ratio_cpu_vs_pythonic": ratio(
            num("ours", "c1", "server_cpu_ms_per_req"),
            num("pythonic", "c1", "server_cpu_ms_per_req"),
        ),
        "ratio_p50_vs_go_templating": ratio(
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
        out["ratio_p50_vs_floor_rsp"] = ratio(p50("ours"), p50("floor_rsp"))
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
            ratio(p50("reference", fn), p50("reference", "floor")), GOAL_REFERENCE_VS_FLOOR
        )
        out["reference_p50_vs_peer"] = check(
            ratio(p50("reference", fn), p50("reference", CI_PEER)), GOAL_VS_PEER
        )
        out["reference_peak_rss_mib"] = check(rss("reference", fn), GOAL_RSS_MIB)
    if "large" in res:
        out["large_p50_vs_floor"] = check(
            ratio(p50("large", fn), p50("large", "floor")), GOAL_LARGE_VS_FLOOR
        )
        out["large_p50_vs_peer"] = check(
            ratio(p50("large", fn), p50("large", CI_PEER)), GOAL_VS_PEER
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
