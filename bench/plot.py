"""bench/results/<mode>.png: latency against cells per function, and the in-process cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
