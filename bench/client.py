"""Load generator: drives RunFunction over gRPC from its own process; prints JSON.

The request is sent pre-serialized and the response is received as raw bytes (no
protobuf work in the client), so the client's cost is the same for every function
and as small as grpcio allows. `--concurrency` callers share one channel and loop
until `--duration` seconds have passed and `--min-requests` calls are done, or
`--max-requests` calls are done.
CPU time of the server process is read from /proc around the measured window only.

    python bench/client.py --address 127.0.0.1:9443 --request req.bin --concurrency 8

Three kinds of input:

- `--request FILE` (repeatable): serialized, tagged requests sent round robin (steady);
- `--bundle FILE`: many such requests in one file, each as a 4-byte length + bytes
  (the fleet);
- `--template BODY --fetched FILE --placeholder TOKEN`: a new request every call (observed
  change, cold). BODY is the request without `meta` and without what Crossplane fetches
  after tagging, serialized deterministically, holding TOKEN exactly once; each call puts
  a fresh fixed-width counter in its place, tags the result as Crossplane v2.2.1 does
  (sha256 hex of exactly those bytes, bench.workload.crossplane_tag) and sends
  meta + body + FETCHED. This is done before the call's clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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


def read_bundle(path: str) -> list[bytes]:
    data = Path(path).read_bytes()
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "little")
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def write_bundle(path: Path, requests: list[bytes]) -> None:
    with path.open("wb") as f:
        for r in requests:
            f.write(len(r).to_bytes(4, "little"))
            f.write(r)


class Fresh:
    """A new request per call from a template body (see the module docstring)."""

    def __init__(self, body: bytes, fetched: bytes, placeholder: bytes, start: int) -> None:
        if body.count(placeholder) != 1:
            raise SystemExit(f"placeholder {placeholder!r} must occur exactly once in the body")
        self.head, self.tail = body.split(placeholder)
        self.width = len(placeholder)
        self.fetched = fetched
        self.n = start

    def next(self) -> bytes:
        self.n += 1
        body = self.head + str(self.n).zfill(self.width).encode() + self.tail
        tag = hashlib.sha256(body).hexdigest().encode()
        meta = b"\x0a\x40" + tag  # RequestMeta{tag}: field 1, 64 bytes
        return b"\x0a" + bytes([len(meta)]) + meta + body + self.fetched


async def drive(a: argparse.Namespace) -> dict[str, object]:
    fresh: Fresh | None = None
    if a.template:
        fresh = Fresh(
            Path(a.template).read_bytes(),
            Path(a.fetched).read_bytes() if a.fetched else b"",
            a.placeholder.encode(),
            a.start,
        )
        payloads = [fresh.next()]
    elif a.bundle:
        payloads = read_bundle(a.bundle)
    else:
        payloads = [Path(r).read_bytes() for r in a.request]
    payload = payloads[0]

    def body_for(i: int) -> bytes:
        return fresh.next() if fresh is not None else payloads[i % len(payloads)]

    async with grpc.aio.insecure_channel(a.address, options=CHANNEL_OPTIONS) as ch:
        call = ch.unary_unary(RUN_FUNCTION)  # bytes in, bytes out
        rsp_sizes: set[int] = set()
        for i in range(a.warmup):
            rsp_sizes.add(len(await call(body_for(i), timeout=60)))
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
                body = body_for(a.warmup + sent)  # round robin, or a fresh request
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
        "distinct_requests": a.warmup + sent if fresh is not None else len(payloads),
        "response_bytes": max(rsp_sizes) if rsp_sizes else None,
        "response_sizes_seen": len(rsp_sizes),
        "client_pid": os.getpid(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True)
    p.add_argument(
        "--request",
        action="append",
        default=[],
        help="serialized RunFunctionRequest; repeat to cycle through several (round robin)",
    )
    p.add_argument("--bundle", help="many requests in one file (4-byte length + bytes each)")
    p.add_argument("--template", help="request body without meta, holding --placeholder once")
    p.add_argument("--fetched", help="bytes appended after the body (required resources)")
    p.add_argument("--placeholder", default="~~~~~~~~~~~~")
    p.add_argument("--start", type=int, default=0, help="first counter value - 1")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=2.0, help="seconds")
    p.add_argument("--min-requests", type=int, default=1, help="even past --duration")
    p.add_argument("--max-requests", type=int, default=100_000)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--server-pid", type=int, default=0)
    a = p.parse_args()
    if not (a.request or a.bundle or a.template):
        p.error("one of --request, --bundle, --template is required")
    print(json.dumps(asyncio.run(drive(a))))


if __name__ == "__main__":
    main()
