"""What every part of the benchmark shares: paths, the scenarios, the CI peer, logging."""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MIB = 1024.0

SCENARIOS = ("steady", "observed_change", "cold")
#: The peer CI always has; the `*_vs_peer` keys are against it.
CI_PEER = "pythonic"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b to three places, or None when either is missing (a skipped peer)."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)
