"""Answer a repeated RunFunction request from memory.

Crossplane calls the function on every reconcile of every XR, and in steady state the
request is byte-identical each time. Crossplane says so in ``meta.tag``: the sha256 of
the deterministically marshalled request (``Tag`` in Crossplane v2.2.1,
``internal/xfn/utils.go`` and ``internal/controller/apiextensions/composite``). Our
function is pure, so the same request always gets the same response, and a response can
be kept and sent again.

The tag does not cover everything, though. Crossplane computes it once per pipeline step
(``composition_functions.go``: ``Tag`` over the request before ``meta`` is set), and
its ``FetchingFunctionRunner`` (``internal/xfn/required_resources.go``) then sends every
further iteration under the same tag with what the function asked for added
(``required_resources``, the deprecated ``extra_resources``, ``required_schemas``) and
the context replaced by the previous response's. Our function asks for the password
Secret (and, with ReadWriteOnce backups, the nodes and pooler pods: evidence.py), so
every reconcile is at least two calls with one tag. The key is therefore the tag plus a
sha256 of those three maps and the context; with that, equal keys mean equal requests
(tests/test_response_cache.py checks it over random request sequences). The one part of
a request the tag does not cover and the key leaves out is ``meta.capabilities`` (set
beside the tag): what this Crossplane binary supports, which no answer reads.

- An empty tag, or one that is not 64 hex digits (not a Crossplane sha256), is not
  trusted as a content hash: the call is answered without the cache.
- A response is kept as its wire bytes (``Wire``), and the v1 service sends them as they
  are (server.py): a hit costs no protobuf work at all, neither a parse nor the
  serialization a message would need (on the reference XR that serialization was most
  of what a steady call cost above the no-op floor, bench/).
- Two tiers, both bounded by bytes (``FUNCTION_MULTIGRES_RESPONSE_CACHE_MIB``, default
  32; 0 disables). The hot tier (an eighth) keeps the latest responses' bytes as they
  are. What falls out of it is kept zlib-compressed in the cold tier; a hit there costs
  a decompress. Measured on bench/'s fleet of a thousand mixed XRs: 116 KB a response
  on average, 4.5x smaller at zlib level 6 (3.8x at level 1), so about 26 MiB for all
  of them. At the former default of 16 MiB half of them fitted and the fleet cost 4.6x
  the CPU of one XR per call; at 32 MiB 1.1x, for a peak RSS 8 MiB higher (126.6 MiB).
- A response is stored the second time its request is seen: a one-off request (an
  observed state that has already moved on) then costs nothing to keep or measure.
- At most ``PER_XR`` entries per XR (name and namespace): once an XR's observed state has
  moved on, its older requests will not come back, so they should not push other XRs out.
- Stored bytes are never changed; the v1beta1 service and ``serve`` parse them again.

Crossplane has a response cache of its own (alpha, ``--enable-function-response-cache``,
``internal/xfn/cached``): it sits above the fetching runner, keyed by the tag alone, and
holds a response for its TTL. This one is in the function, so it works without that
flag, and it answers each fetching iteration separately.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from opentelemetry import trace

ENV_BUDGET = "FUNCTION_MULTIGRES_RESPONSE_CACHE_MIB"
DEFAULT_BUDGET_MIB = 32.0
HOT_FRACTION = 0.125
#: zlib level of the cold tier: paid once per kept response, on its way out of the hot tier.
COLD_LEVEL = 6
#: What an entry costs beyond its bytes (key, bookkeeping), counted against the budget.
ENTRY_OVERHEAD = 512
PER_XR = 4
#: Bytes of keys remembered as seen once (a key is 64 bytes, 96 with required
#: resources): ten thousand requests.
SEEN_BUDGET = 2**20
_TAG = re.compile(r"[0-9a-f]{64}")

Runner = Callable[[fnv1.RunFunctionRequest], fnv1.RunFunctionResponse]


def fatal_messages(rsp: fnv1.RunFunctionResponse) -> tuple[str, ...]:
    """The messages of a response's Fatal results (empty: it does not abort the pipeline)."""
    return tuple(r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL)


@dataclass(frozen=True, slots=True)
class Wire:
    """A response as its wire bytes, with what the per-call log line reads from it."""

    data: bytes
    composed: int  # len(desired.resources)
    fatal: tuple[str, ...]  # the messages of its Fatal results

    @classmethod
    def of(cls, rsp: fnv1.RunFunctionResponse) -> Wire:
        # deterministic: a kept answer's bytes are the same for the same content
        data = rsp.SerializeToString(deterministic=True)
        return cls(data, len(rsp.desired.resources), fatal_messages(rsp))

    @property
    def cost(self) -> int:
        """What it counts against the hot tier's budget."""
        return len(self.data) + ENTRY_OVERHEAD

    def message(self) -> fnv1.RunFunctionResponse:
        return fnv1.RunFunctionResponse.FromString(self.data)


def to_wire(rsp: fnv1.RunFunctionResponse | Wire) -> bytes:
    """The v1 service's response serializer: kept bytes as they are, a message encoded."""
    return rsp.data if isinstance(rsp, Wire) else rsp.SerializeToString()


def key(req: fnv1.RunFunctionRequest) -> bytes | None:
    """The cache key of a request, or None when it must not be cached.

    The tag, plus (when any is present) a sha256 of the deterministic bytes of what
    Crossplane may change in a request after tagging it: the required resources, extra
    resources and schemas it fetched for the function, and the context.
    """
    tag = req.meta.tag
    if len(tag) != 64 or _TAG.fullmatch(tag) is None:
        return None
    maps = (req.required_resources, req.extra_resources, req.required_schemas)
    has_context = req.HasField("context")
    if not has_context and not any(maps):
        return tag.encode()
    h = hashlib.sha256()
    for field_no, m in enumerate(maps):
        for name in sorted(m):
            blob = m[name].SerializeToString(deterministic=True)
            h.update(b"%d\x00%d\x00%d\x00" % (field_no, len(name.encode()), len(blob)))
            h.update(name.encode())
            h.update(blob)
    if has_context:
        blob = req.context.SerializeToString(deterministic=True)
        h.update(b"%d\x00%d\x00" % (len(maps), len(blob)))
        h.update(blob)
    return tag.encode() + h.digest()


def xr_identity(req: fnv1.RunFunctionRequest) -> tuple[str, str]:
    """The observed XR's namespace and name (read without inserting map keys)."""
    meta = req.observed.composite.resource.fields.get("metadata")
    if meta is None:
        return "", ""
    f = meta.struct_value.fields
    ns, name = f.get("namespace"), f.get("name")
    return (
        ns.string_value if ns is not None else "",
        name.string_value if name is not None else "",
    )


@dataclass(slots=True)
class Stats:
    hits_hot: int = 0
    hits_cold: int = 0
    misses: int = 0
    uncached: int = 0  # no usable tag, or the cache is off


class ResponseCache:
    """Responses by request key, in a hot tier of wire bytes and a cold tier of zlib."""

    def __init__(self, budget_bytes: int, per_xr: int = PER_XR) -> None:
        self.budget = max(0, budget_bytes)
        self.hot_budget = int(self.budget * HOT_FRACTION)
        self.cold_budget = self.budget - self.hot_budget
        self.per_xr = max(1, per_xr)
        self.hot: OrderedDict[bytes, Wire] = OrderedDict()
        self.cold: OrderedDict[bytes, tuple[bytes, Wire]] = OrderedDict()  # zlib, metadata
        self.hot_used = 0
        self.cold_used = 0
        self._owner: dict[bytes, tuple[str, str]] = {}
        self._seen: OrderedDict[bytes, bool] = OrderedDict()  # keys seen once
        self._seen_used = 0
        self._by_xr: dict[tuple[str, str], deque[bytes]] = {}
        self._lock = threading.Lock()
        self.stats = Stats()

    @classmethod
    def from_env(cls) -> ResponseCache:
        mib = float(os.environ.get(ENV_BUDGET, str(DEFAULT_BUDGET_MIB)))
        return cls(int(mib * 2**20))

    @property
    def enabled(self) -> bool:
        return self.budget > 0

    def __len__(self) -> int:
        return len(self.hot) + len(self.cold)

    # ------------------------------------------------------------------ the entry point

    def answer(self, req: fnv1.RunFunctionRequest, run: Runner) -> fnv1.RunFunctionResponse | Wire:
        """The response to `req`: kept bytes when this exact request was answered
        before, else `run`'s (then kept, the second time the request is seen)."""
        k = key(req) if self.budget else None
        span = trace.get_current_span()
        if k is None:
            self.stats.uncached += 1
            span.set_attribute("multigres.response_cache", "off")
            return run(req)
        hit = self.get(k)
        if hit is not None:
            span.set_attribute("multigres.response_cache", "hit")
            return hit
        span.set_attribute("multigres.response_cache", "miss")
        rsp = run(req)
        self.stats.misses += 1
        if not self._admit(k):
            return rsp
        wire = Wire.of(rsp)  # encoded once: kept, and sent as it is
        self.put(k, xr_identity(req), wire)
        return wire

    def serve(self, req: fnv1.RunFunctionRequest, run: Runner) -> fnv1.RunFunctionResponse:
        """`answer` as a message (the v1beta1 service, which converts messages)."""
        got = self.answer(req, run)
        return got.message() if isinstance(got, Wire) else got

    def _admit(self, k: bytes) -> bool:
        """Store a response the second time its request is seen. A request seen once
        is usually never seen again (the observed state moved on), and storing it costs
        a full encode to measure it; the first sight only records the key."""
        with self._lock:
            if self._seen.pop(k, None) is not None:
                self._seen_used -= len(k)
                return True
            self._seen[k] = True
            self._seen_used += len(k)
            while self._seen_used > SEEN_BUDGET:
                self._seen_used -= len(self._seen.popitem(last=False)[0])
            return False

    # ------------------------------------------------------------------ tiers

    def get(self, k: bytes) -> Wire | None:
        with self._lock:
            hot = self.hot.get(k)
            if hot is not None:
                self.hot.move_to_end(k)
                self.stats.hits_hot += 1
                return hot
            cold = self.cold.get(k)
            if cold is None:
                return None
            self.cold.move_to_end(k)
            self.stats.hits_cold += 1
        blob, meta = cold
        return Wire(zlib.decompress(blob), meta.composed, meta.fatal)

    def put(self, k: bytes, xr: tuple[str, str], wire: Wire) -> None:
        cost = wire.cost
        with self._lock:
            self._forget(k)
            recent = self._by_xr.setdefault(xr, deque())
            recent.append(k)
            self._owner[k] = xr
            while len(recent) > self.per_xr:
                self._forget(recent[0])
            if cost <= self.hot_budget:
                self.hot[k] = wire
                self.hot_used += cost
                while self.hot_used > self.hot_budget:
                    old, old_wire = self.hot.popitem(last=False)
                    self.hot_used -= old_wire.cost
                    self._to_cold(old, old_wire)
            else:
                self._to_cold(k, wire)

    def _to_cold(self, k: bytes, wire: Wire) -> None:
        blob = zlib.compress(wire.data, COLD_LEVEL)
        if len(blob) > self.cold_budget:
            self._drop_owner(k)
            return
        self.cold[k] = (blob, Wire(b"", wire.composed, wire.fatal))
        self.cold_used += len(blob)
        while self.cold_used > self.cold_budget:
            old, (old_blob, _) = self.cold.popitem(last=False)
            self.cold_used -= len(old_blob)
            self._drop_owner(old)

    def _forget(self, k: bytes) -> None:
        """Remove `k` from whichever tier holds it, and from its XR's list."""
        hot = self.hot.pop(k, None)
        if hot is not None:
            self.hot_used -= hot.cost
        cold = self.cold.pop(k, None)
        if cold is not None:
            self.cold_used -= len(cold[0])
        self._drop_owner(k)

    def _drop_owner(self, k: bytes) -> None:
        xr = self._owner.pop(k, None)
        if xr is None:
            return
        recent = self._by_xr.get(xr)
        if recent is not None:
            with contextlib.suppress(ValueError):
                recent.remove(k)
            if not recent:
                del self._by_xr[xr]

    def clear(self) -> None:
        with self._lock:
            self.hot.clear()
            self.cold.clear()
            self._owner.clear()
            self._by_xr.clear()
            self._seen.clear()
            self._seen_used = 0
            self.hot_used = self.cold_used = 0
