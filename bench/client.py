"""Load generator: drives RunFunction over gRPC from its own process; prints JSON.

The request is sent pre-serialized and the response is received as raw bytes (no
protobuf work in the client), so the client's cost is the same for every function and
as small as grpcio allows. CPU time of each server process is read from /proc around
its own measured calls only.

    python bench/client.py --spec run.json

The spec names several targets (function servers already running), and they are driven
*interleaved*, so that whatever else the machine is doing falls on all of them alike and
their ratios stay meaningful on a shared machine:

- at concurrency 1, call by call: the next call goes to the target that has had the
  least time so far (so a slow peer gets as much time as a fast function, not as many
  calls);
- above 1, in slices of `slice` seconds: `concurrency` callers on one target at a time,
  the targets taking turns.

Each target runs until it has had `duration` seconds and `min_requests` calls, or
`max_requests` calls, after `warmup` requests sent `warmup_repeat` times each in a
row. Its requests come from one of:

- {"kind": "request", "files": [...]}: serialized, tagged requests sent round robin;
- {"kind": "bundle", "file": ...}: many requests in one file (4-byte length + bytes each);
- {"kind": "template", "body": ..., "fetched": ..., "placeholder": ..., "start": N}: a
  new request every call. BODY is the request without `meta` and without what Crossplane
  fetches after tagging, serialized deterministically, holding the placeholder; each
  call puts a fresh fixed-width counter in its place, tags the result as Crossplane
  v2.2.1 does (sha256 hex of exactly those bytes, bench.workload.crossplane_tag) and
  sends meta + body + FETCHED. This is done before the call's clock starts.
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
from typing import Any

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
        if placeholder not in body:
            raise SystemExit(f"placeholder {placeholder!r} is not in the body")
        self.parts = body.split(placeholder)
        self.width = len(placeholder)
        self.fetched = fetched
        self.n = start

    def next(self) -> bytes:
        self.n += 1
        body = str(self.n).zfill(self.width).encode().join(self.parts)
        tag = hashlib.sha256(body).hexdigest().encode()
        meta = b"\x0a\x40" + tag  # RequestMeta{tag}: field 1, 64 bytes
        return b"\x0a" + bytes([len(meta)]) + meta + body + self.fetched


class Target:
    """One function server and what is sent to it."""

    def __init__(self, t: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.name: str = t["name"]
        self.address: str = t["address"]
        self.pid: int = t.get("pid") or 0
        self.duration: float = t.get("duration", defaults["duration"])
        self.min_requests: int = t.get("min_requests", defaults["min_requests"])
        self.max_requests: int = t.get("max_requests", defaults["max_requests"])
        self.warmup: int = t.get("warmup", defaults["warmup"])
        self.warmup_repeat: int = t.get("warmup_repeat", 1)  # each warm-up request, in a row
        pl = t["payload"]
        self.fresh: Fresh | None = None
        if pl["kind"] == "template":
            self.fresh = Fresh(
                Path(pl["body"]).read_bytes(),
                Path(pl["fetched"]).read_bytes() if pl.get("fetched") else b"",
                pl["placeholder"].encode(),
                pl.get("start", 0),
            )
            self.payloads = [self.fresh.next()]
        elif pl["kind"] == "bundle":
            self.payloads = read_bundle(pl["file"])
        else:
            self.payloads = [Path(f).read_bytes() for f in pl["files"]]
        self.sent = 0
        self.spent = 0.0  # seconds of measured calls (c1) or slices (c > 1)
        self.cpu = 0.0
        self.latencies: list[float] = []
        self.sizes: set[int] = set()

    def body(self) -> bytes:
        i = self.sent
        self.sent += 1
        if self.fresh is not None:
            return self.fresh.next()
        return self.payloads[i % len(self.payloads)]  # round robin over distinct XRs

    def done(self) -> bool:
        n = len(self.latencies)
        return n >= self.max_requests or (self.spent >= self.duration and n >= self.min_requests)

    def cpu_now(self) -> float:
        return cpu_seconds(self.pid) if self.pid else 0.0

    def result(self, concurrency: int) -> dict[str, object]:
        lat = sorted(self.latencies)
        n = len(lat)
        ms = [x * 1000 for x in lat]
        return {
            "n": n,
            "concurrency": concurrency,
            "wall_s": round(self.spent, 4),
            "rps": round(n / self.spent, 2) if self.spent > 0 else None,
            "p50_ms": round(percentile(ms, 50), 4),
            "p90_ms": round(percentile(ms, 90), 4),
            "p99_ms": round(percentile(ms, 99), 4),
            "mean_ms": round(sum(ms) / n, 4) if n else None,
            "max_ms": round(ms[-1], 4) if n else None,
            "server_cpu_ms_per_req": round(self.cpu * 1000 / n, 4) if n and self.pid else None,
            "request_bytes": len(self.payloads[0]),
            "distinct_requests": self.sent if self.fresh is not None else len(self.payloads),
            "response_bytes": max(self.sizes) if self.sizes else None,
            "response_sizes_seen": len(self.sizes),
            "client_pid": os.getpid(),
        }


async def drive(spec: dict[str, Any]) -> dict[str, object]:
    c = int(spec.get("concurrency", 1))
    targets = [Target(t, spec) for t in spec["targets"]]
    channels = [grpc.aio.insecure_channel(t.address, options=CHANNEL_OPTIONS) for t in targets]
    try:
        calls = {
            t.name: ch.unary_unary(RUN_FUNCTION) for t, ch in zip(targets, channels, strict=True)
        }
        for t in targets:  # bytes in, bytes out
            for _ in range(t.warmup):
                body = t.body()
                for _ in range(t.warmup_repeat):
                    t.sizes.add(len(await calls[t.name](body, timeout=120)))
        if c == 1:
            while True:
                live = [t for t in targets if not t.done()]
                if not live:
                    break
                t = min(live, key=lambda x: x.spent)
                body = t.body()
                cpu0 = t.cpu_now()
                t0 = time.perf_counter()
                rsp = await calls[t.name](body, timeout=120)
                dt = time.perf_counter() - t0
                t.cpu += t.cpu_now() - cpu0
                t.latencies.append(dt)
                t.spent += dt
                t.sizes.add(len(rsp))
        else:
            slice_s = float(spec.get("slice", 0.25))
            while True:
                live = [t for t in targets if not t.done()]
                if not live:
                    break
                for t in live:
                    await _slice(t, calls[t.name], c, slice_s)
    finally:
        for ch in channels:
            await ch.close()
    return {"results": {t.name: t.result(c) for t in targets}}


async def _slice(t: Target, call: Any, c: int, seconds: float) -> None:
    """`c` callers on one target for about `seconds` (or until it is done)."""
    end = time.perf_counter() + seconds
    need = max(0, t.min_requests - len(t.latencies))

    async def worker() -> None:
        nonlocal need
        while len(t.latencies) < t.max_requests and (time.perf_counter() < end or need > 0):
            need -= 1
            body = t.body()
            t0 = time.perf_counter()
            rsp = await call(body, timeout=120)
            t.latencies.append(time.perf_counter() - t0)
            t.sizes.add(len(rsp))

    cpu0 = t.cpu_now()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    t.spent += time.perf_counter() - t0
    t.cpu += t.cpu_now() - cpu0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", required=True, help="JSON: targets and budget (module docstring)")
    a = p.parse_args()
    spec = json.loads(Path(a.spec).read_text())
    print(json.dumps(asyncio.run(drive(spec))))


if __name__ == "__main__":
    main()
