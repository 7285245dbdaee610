"""Byte-bounded memos for the two conversions a call cannot avoid, by exact content.

- `observed_view` of an observed object, keyed by the object's wire bytes: between two
  reconciles usually only one or two observed objects change (a pod became ready), so
  the others are not converted again.
- Struct wire bytes of a desired object (function/wire.py), keyed by the object's
  `marshal` bytes: after a spec change most objects come out as before, and they are not
  encoded again.

Both are pure functions of their key, so a hit returns what a miss would compute; equal
keys mean equal content (marshal and protobuf serialization are both lossless). Values
are shared and must never be changed by callers (the safety guard copies on write).
Each is bounded by a byte budget (FUNCTION_MULTIGRES_OBSERVED_MEMO_MIB and
FUNCTION_MULTIGRES_ENCODE_MEMO_MIB, default 4 each; 0 disables). A call walks every
object in the same order, so a memo smaller than one XR's objects is a cyclic LRU that
never hits: at 20 cells an XR's 197 objects cost about 2 MiB in each (at the former 1 MiB
a cold 20-cell call converted and encoded everything again; bench/, docs/benchmarks.md).
"""

from __future__ import annotations

import marshal
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from google.protobuf import struct_pb2

from function import wire

V = TypeVar("V")


class LRU(Generic[V]):
    """Least recently used entries by bytes key, dropped once `budget` bytes are used."""

    def __init__(self, budget: int) -> None:
        self.budget = max(0, budget)
        self.used = 0
        self._entries: OrderedDict[bytes, tuple[V, int]] = OrderedDict()

    def get(self, key: bytes) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[0]

    def put(self, key: bytes, value: V, cost: int) -> None:
        if cost > self.budget:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.used -= old[1]
        self._entries[key] = (value, cost)
        self.used += cost
        while self.used > self.budget:
            self.used -= self._entries.popitem(last=False)[1][1]

    def clear(self) -> None:
        self._entries.clear()
        self.used = 0

    def __len__(self) -> int:
        return len(self._entries)


def _budget(env: str, default_mib: float) -> int:
    return int(float(os.environ.get(env, str(default_mib))) * 2**20)


DEFAULT_MIB = 4.0
VIEWS: LRU[dict[str, Any]] = LRU(_budget("FUNCTION_MULTIGRES_OBSERVED_MEMO_MIB", DEFAULT_MIB))
BLOBS: LRU[bytes] = LRU(_budget("FUNCTION_MULTIGRES_ENCODE_MEMO_MIB", DEFAULT_MIB))


def view(s: struct_pb2.Struct, convert: Callable[[struct_pb2.Struct], dict[str, Any]]) -> Any:
    """convert(s), memoized by the wire bytes of `s` (serializing an object in C costs a
    quarter of converting the fields we read in Python; bench/results/profile-quick.txt)."""
    if not VIEWS.budget:
        return convert(s)
    key = s.SerializeToString()
    hit = VIEWS.get(key)
    if hit is None:
        hit = convert(s)
        VIEWS.put(key, hit, 2 * len(key) + 256)
    return hit


def encode(obj: Mapping[str, Any]) -> bytes:
    """wire.struct_bytes(obj), memoized by the marshal bytes of `obj`."""
    if not BLOBS.budget:
        return wire.struct_bytes(obj)
    try:
        key = marshal.dumps(obj)  # type: ignore[arg-type]  # a dict of plain values
    except ValueError:  # not a plain dict of plain values: no memo
        return wire.struct_bytes(obj)
    hit = BLOBS.get(key)
    if hit is None:
        hit = wire.struct_bytes(obj)
        BLOBS.put(key, hit, len(key) + len(hit) + 128)
    return hit


def clear() -> None:
    VIEWS.clear()
    BLOBS.clear()
