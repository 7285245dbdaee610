"""function/wire.py writes the Struct that Struct.update builds; function/memo.py's memos
never change an answer."""

from __future__ import annotations

from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from function import fn, memo, wire
from function.fn import run
from tests.test_response_cache import pool

keys = st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=40,
)
objects = st.dictionaries(keys, values, max_size=8)


def _sdk(*ds: dict[str, Any]) -> bytes:
    s = struct_pb2.Struct()
    for d in ds:
        s.update(d)
    return s.SerializeToString(deterministic=True)


@given(objects)
def test_struct_bytes_parse_to_what_update_builds(d: dict[str, Any]) -> None:
    s = struct_pb2.Struct()
    s.MergeFromString(wire.struct_bytes(d))
    assert s.SerializeToString(deterministic=True) == _sdk(d)


@given(objects, objects)
def test_merging_bytes_is_updating(first: dict[str, Any], second: dict[str, Any]) -> None:
    """What a desired resource from an earlier pipeline step becomes: top-level keys of
    the second replace those of the first, exactly as Struct.update does."""
    s = struct_pb2.Struct()
    s.update(first)
    s.MergeFromString(wire.struct_bytes(second))
    assert s.SerializeToString(deterministic=True) == _sdk(first, second)


def test_long_strings_and_deep_nesting() -> None:
    d = {"a" * 20000: "b" * 70000, "n": {"m": {"l": [[[{"x": 1.5}]]]}}}
    s = struct_pb2.Struct()
    s.MergeFromString(wire.struct_bytes(d))
    assert s.SerializeToString(deterministic=True) == _sdk(d)


@settings(max_examples=min(settings().max_examples, 100))
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=12))
def test_memos_never_change_an_answer(seq: list[int]) -> None:
    """run() with warm memos answers exactly what it answers with empty ones."""
    requests = pool()
    for n in seq:
        b = requests[n % len(requests)]
        warm = run(fnv1.RunFunctionRequest.FromString(b)).SerializeToString(deterministic=True)
        memo.clear()
        fn.CACHE.clear()
        cold = run(fnv1.RunFunctionRequest.FromString(b)).SerializeToString(deterministic=True)
        assert warm == cold


def test_the_memos_are_used() -> None:
    memo.clear()
    fn.CACHE.clear()
    requests = [fnv1.RunFunctionRequest.FromString(b) for b in pool()[5:9]]
    for r in requests:
        run(r)
    assert len(memo.VIEWS) > 0 and len(memo.BLOBS) > 0
