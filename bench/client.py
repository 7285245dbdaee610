"""Load generator: drives RunFunction over gRPC from its own process; prints JSON.

The request is sent pre-serialized and the response is received as raw bytes (no
protobuf work in the client), so the client's cost is the same for every function
and as small as grpcio allows. `--concurrency` callers share one channel and loop
until `--duration` seconds have passed and `--min-requests` calls are done, or
`--max-requests` calls are done.
CPU time of the server process is read from /proc around the measured window only.

    python bench/client.py --address 127.0.0.1:9443 --request req.bin --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import cpu_seconds
from bench.workload import RUN_FUNCTION

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def drive(a: argparse.Namespace) -> dict[str, object]:
    payloads = [Path(r).read_bytes() for r in a.request]
    payload = payloads[0]
    async with grpc.aio.insecure_channel(a.address, options=CHANNEL_OPTIONS) as ch:
        call = ch.unary_unary(RUN_FUNCTION)  # bytes in, bytes out
        rsp_sizes: set[int] = set()
        for i in range(a.warmup):
            rsp_sizes.add(len(await call(payloads[i % len(payloads)], timeout=60)))
        latencies: list[float] = []
        deadline = time.perf_counter() + a.duration
        budget = a.max_requests
        sent = 0

        async def worker() -> None:
            nonlocal budget, sent
            while budget > 0 and (
                time.perf_counter() < deadline or len(latencies) < a.min_requests
            ):
                budget -= 1
                body = payloads[sent % len(payloads)]  # round robin over distinct XRs
                sent += 1
                t0 = time.perf_counter()
                rsp = await call(body, timeout=60)
                latencies.append(time.perf_counter() - t0)
                rsp_sizes.add(len(rsp))

        cpu0 = cpu_seconds(a.server_pid) if a.server_pid else 0.0
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(a.concurrency)))
        wall = time.perf_counter() - t0
        cpu1 = cpu_seconds(a.server_pid) if a.server_pid else 0.0
    latencies.sort()
    n = len(latencies)
    ms = [x * 1000 for x in latencies]
    return {
        "n": n,
        "concurrency": a.concurrency,
        "wall_s": round(wall, 4),
        "rps": round(n / wall, 2) if wall > 0 else None,
        "p50_ms": round(percentile(ms, 50), 4),
        "p90_ms": round(percentile(ms, 90), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(sum(ms) / n, 4) if n else None,
        "max_ms": round(ms[-1], 4) if n else None,
        "server_cpu_ms_per_req": round((cpu1 - cpu0) * 1000 / n, 4) if n and a.server_pid else None,
        "request_bytes": len(payload),
        "distinct_requests": len(payloads),
        "response_bytes": max(rsp_sizes) if rsp_sizes else None,
        "response_sizes_seen": len(rsp_sizes),
        "client_pid": os.getpid(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True)
    p.add_argument(
        "--request",
        required=True,
        action="append",
        help="serialized RunFunctionRequest; repeat to cycle through several (round robin)",
    )
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=2.0, help="seconds")
    p.add_argument("--min-requests", type=int, default=1, help="even past --duration")
    p.add_argument("--max-requests", type=int, default=100_000)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--server-pid", type=int, default=0)
    a = p.parse_args()
    print(json.dumps(asyncio.run(drive(a))))


if __name__ == "__main__":
    main()
