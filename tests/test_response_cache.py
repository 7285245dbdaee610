"""The response cache (function/response_cache.py) never changes what the function says.

The property: over random sequences of requests, tagged exactly as Crossplane v2.2.1 tags
them (bench.workload.crossplane_tag: the tag is computed before the required resources
are added, so the calls with and without the password Secret share one), the response
with the cache is byte-identical to the response without it, whatever the byte budget
and per-XR limit; and a cache key is never shared by two different requests.

"Byte-identical" is the canonical (deterministic) serialization: protobuf leaves the wire
order of map entries undefined, and two uncached runs of the same request already differ
in it (one writes Structs, a build-cache hit merges stored bytes).
"""

from __future__ import annotations

import asyncio
import copy
from functools import cache
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import workload
from function import evidence, fn
from function import response_cache as rc
from function.fn import desired_objects, run

Obj = dict[str, Any]


def content(req: fnv1.RunFunctionRequest) -> bytes:
    """Everything in a request but its meta, canonically: what "the same request" means."""
    r = fnv1.RunFunctionRequest()
    r.CopyFrom(req)
    r.ClearField("meta")
    return r.SerializeToString(deterministic=True)


def _xrs() -> list[Obj]:
    base = workload.small_xr()
    other = copy.deepcopy(base)
    other["metadata"]["name"] = "other"
    scaled = copy.deepcopy(base)
    scaled["spec"]["multigateway"] = {"replicas": 3}
    invalid = copy.deepcopy(base)
    invalid["spec"]["etcd"] = {"replicas": 4}  # a Fatal result
    return [base, other, scaled, invalid]


def _observed(xr: Obj) -> list[dict[str, Obj]]:
    try:
        desired = desired_objects(xr)
    except Exception:  # the invalid XR: only "nothing observed yet"
        return [{}]
    healthy = workload.observed_healthy(xr, desired)
    coming_up = copy.deepcopy(healthy)
    sts = coming_up["zone1-pooler-statefulset"]["status"]
    sts["readyReplicas"] = 0
    return [{}, healthy, coming_up]


def _secrets(xr: Obj) -> list[list[Obj] | None]:
    good = workload.password_secret(xr)
    rotated = copy.deepcopy(good)
    rotated["data"]["password"] = "cm90YXRlZA=="
    wrong_key = copy.deepcopy(good)
    wrong_key["data"] = {"pw": good["data"]["password"]}
    return [None, [], [good], [rotated], [wrong_key]]


@cache
def pool() -> tuple[bytes, ...]:
    """Serialized requests: 4 XRs x observed states x Secret states, each tagged as
    Crossplane tags it; an RWO XR's evidence iterations and contexts replaced under one
    tag; plus two that must bypass the cache (no tag, a non-sha256 tag)."""
    out = []
    for xr in _xrs():
        for observed in _observed(xr):
            for secret in _secrets(xr):
                r = fnv1.RunFunctionRequest()
                r.observed.composite.resource.update(xr)
                for k, v in observed.items():
                    r.observed.resources[k].resource.update(v)
                if secret is not None:
                    items = r.required_resources[fn.PASSWORD_REQUIREMENT]
                    for s in secret:
                        items.items.add().resource.update(s)
                out.append(workload.tag(r).SerializeToString())
    out.extend(_rwo_evidence())
    out.extend(_context_iterations())
    untagged = fnv1.RunFunctionRequest.FromString(out[1])
    untagged.meta.tag = ""
    human = fnv1.RunFunctionRequest.FromString(out[2])
    human.meta.tag = "t1"
    return (*out, untagged.SerializeToString(), human.SerializeToString())


def _request(xr: Obj, required: dict[str, list[Obj]]) -> fnv1.RunFunctionRequest:
    r = fnv1.RunFunctionRequest()
    r.observed.composite.resource.update(xr)
    for name, items in required.items():
        for o in items:
            r.required_resources[name].items.add().resource.update(o)
    return workload.tag(r)


def _rwo_evidence() -> list[bytes]:
    """An RWO-backup XR through the fetching iterations evidence.py causes, one tag for
    all: the Secret and one node, two nodes, then the pooler pods (a pending one on the
    other node: the answer gains a Warning)."""
    xr = copy.deepcopy(workload.small_xr())
    xr["metadata"]["name"] = "rwo"
    xr["spec"]["backup"] = {"storage": {"accessModes": ["ReadWriteOnce"]}}
    secret = [workload.password_secret(xr)]

    def node(n: str) -> Obj:
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}}

    def pod(i: int, phase: str, node: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"rwo-zone1-pooler-{i}", "namespace": "default"},
            "spec": {"nodeName": node},
            "status": {"phase": phase},
        }

    one = {fn.PASSWORD_REQUIREMENT: secret, evidence.NODES_REQUIREMENT: [node("n1")]}
    two = {**one, evidence.NODES_REQUIREMENT: [node("n1"), node("n2")]}
    pods = {**two, evidence.POOLER_PODS_REQUIREMENT: [pod(0, "Running", "n1")]}
    stuck = {
        **two,
        evidence.POOLER_PODS_REQUIREMENT: [pod(0, "Running", "n1"), pod(1, "Pending", "n2")],
    }
    return [_request(xr, r).SerializeToString() for r in ({}, one, two, pods, stuck)]


def _context_iterations() -> list[bytes]:
    """One tag, two contexts: Crossplane's fetching runner replaces the context with the
    previous response's before the next iteration, under the tag of the first."""
    first = _request(workload.small_xr(), {})
    first.context.update({"example.org/env": {"tier": "a"}})
    workload.tag(first)
    later = fnv1.RunFunctionRequest()
    later.CopyFrom(first)
    later.context.update({"example.org/env": {"tier": "b"}})
    items = later.required_resources[fn.PASSWORD_REQUIREMENT].items
    items.add().resource.update(workload.password_secret(workload.small_xr()))
    again = fnv1.RunFunctionRequest()
    again.CopyFrom(later)
    again.context.update({"example.org/env": {"tier": "a"}})
    return [m.SerializeToString() for m in (first, later, again)]


@cache
def uncached_response(i: int) -> bytes:
    """What the function answers to pool()[i] without any cache."""
    return run(fnv1.RunFunctionRequest.FromString(pool()[i])).SerializeToString(deterministic=True)


def test_pool_shares_tags_as_crossplane_does() -> None:
    """The pool exercises the case that matters: one tag, several requests (the calls
    before and after the Secret was fetched, a rotated Secret)."""
    reqs = [fnv1.RunFunctionRequest.FromString(b) for b in pool()]
    tags = [r.meta.tag for r in reqs if len(r.meta.tag) == 64]
    assert len(set(tags)) < len(tags)
    first = reqs[1]
    assert first.meta.tag == workload.crossplane_tag(first)
    bare = fnv1.RunFunctionRequest()
    bare.CopyFrom(first)
    bare.ClearField("required_resources")
    assert workload.crossplane_tag(bare) == first.meta.tag


def test_one_tag_several_answers() -> None:
    """What a key of the tag alone would get wrong: under one tag the fetched evidence
    (nodes, pooler pods) and a replaced context each change the answer."""
    reqs = [fnv1.RunFunctionRequest.FromString(b) for b in pool()]
    by_tag: dict[str, set[bytes]] = {}
    for i, r in enumerate(reqs):
        by_tag.setdefault(r.meta.tag, set()).add(uncached_response(i))
    rwo = next(
        r.meta.tag for r in reqs if r.observed.composite.resource["metadata"]["name"] == "rwo"
    )
    # no Secret; one node; two nodes (asks for the pods), alike with a running pod; stuck
    assert len(by_tag[rwo]) == 4
    ctx = next(r.meta.tag for r in reqs if r.HasField("context"))
    assert len(by_tag[ctx]) == 3  # tier a, tier b with the Secret, tier a with the Secret


def test_keys_are_content_hashes() -> None:
    """Equal cache keys if and only if equal requests, over the whole pool."""
    by_key: dict[bytes, bytes] = {}
    for b in pool():
        r = fnv1.RunFunctionRequest.FromString(b)
        k = rc.key(r)
        if k is None:
            continue
        assert by_key.setdefault(k, content(r)) == content(r), "one key, two requests"
    contents = {content(fnv1.RunFunctionRequest.FromString(b)) for b in pool()}
    assert len(by_key) == len(contents)  # the untrusted tags repeat tagged content


#: Budgets: off, one small response in each tier, a few, everything.
BUDGETS = [0, 60_000, 400_000, 64 * 2**20]


@settings(max_examples=min(settings().max_examples, 300))
@given(
    seq=st.lists(st.integers(0, 10_000), min_size=1, max_size=40),
    budget=st.sampled_from(BUDGETS),
    per_xr=st.sampled_from([1, 2, rc.PER_XR]),
)
def test_cache_on_equals_cache_off(seq: list[int], budget: int, per_xr: int) -> None:
    requests = pool()
    cache_ = rc.ResponseCache(budget, per_xr=per_xr)
    served_for: dict[bytes, bytes] = {}
    calls = []

    def runner(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        calls.append(content(req))
        return run(req)

    for n in seq:
        i = n % len(requests)
        req = fnv1.RunFunctionRequest.FromString(requests[i])  # a fresh message, as gRPC makes
        got = cache_.answer(req, runner)
        if isinstance(got, rc.Wire):  # the bytes the v1 service sends as they are
            assert got.data == uncached_response(i)
            assert got.message().SerializeToString(deterministic=True) == got.data
        else:
            assert got.SerializeToString(deterministic=True) == uncached_response(i)
        k = rc.key(req)
        if k is not None and budget:
            # Never a response for a different request: a key always stands for one content.
            assert served_for.setdefault(k, content(req)) == content(req)
        assert cache_.hot_used <= cache_.hot_budget and cache_.cold_used <= cache_.cold_budget
        assert all(len(v) <= per_xr for v in cache_._by_xr.values())
    assert len(calls) + cache_.stats.hits_hot + cache_.stats.hits_cold == len(seq)


def test_repeat_is_served_from_the_hot_tier_then_the_cold_one() -> None:
    reqs = [fnv1.RunFunctionRequest.FromString(b) for b in pool()]
    a, b = reqs[1], reqs[6]  # two different tagged requests
    one = len(rc.Wire.of(run(a)).data) + rc.ENTRY_OVERHEAD
    c = rc.ResponseCache(int(one * 1.5 / rc.HOT_FRACTION))  # the hot tier holds one
    assert not isinstance(c.answer(a, run), rc.Wire)  # seen once: not kept
    assert len(c) == 0
    first = c.answer(a, run)  # seen twice: kept, and sent as the kept bytes
    assert isinstance(first, rc.Wire) and c.stats.hits_hot == 0
    assert c.answer(a, run) is first and c.stats.hits_hot == 1
    c.answer(b, run)
    c.answer(b, run)  # pushes a into the cold tier, compressed
    assert rc.key(a) in c.cold and 0 < c.cold_used < len(first.data)
    again = c.answer(a, run)
    assert c.stats.hits_cold == 1 and again is not first
    assert isinstance(again, rc.Wire) and again.data == first.data
    assert (again.composed, again.fatal) == (first.composed, first.fatal)
    assert c.serve(a, run).SerializeToString(deterministic=True) == first.data


def test_off_without_a_crossplane_tag_or_a_budget() -> None:
    untagged, human = (fnv1.RunFunctionRequest.FromString(b) for b in pool()[-2:])
    assert rc.key(untagged) is None and rc.key(human) is None
    c = rc.ResponseCache(2**20)
    for r in (untagged, human, untagged):
        c.serve(r, run)
    assert c.stats.uncached == 3 and len(c) == 0
    off = rc.ResponseCache(0)
    tagged = fnv1.RunFunctionRequest.FromString(pool()[1])
    off.serve(tagged, run)
    off.serve(tagged, run)
    assert off.stats.uncached == 2 and not off.enabled


def test_a_request_seen_once_is_not_kept() -> None:
    """An observed state that moved on at once (every request new) stores nothing."""
    c = rc.ResponseCache(64 * 2**20)
    for b in pool()[:15]:
        c.serve(fnv1.RunFunctionRequest.FromString(b), run)
    assert len(c) == 0 and c.stats.misses == 15 and c._seen_used > 0


def test_one_xr_keeps_at_most_per_xr_entries() -> None:
    """An XR whose observed state keeps changing does not push other XRs out."""
    c = rc.ResponseCache(64 * 2**20, per_xr=2)
    reqs = [fnv1.RunFunctionRequest.FromString(b) for b in pool()[:15]]  # XR "demo" only
    for r in reqs:
        c.serve(r, run)
        c.serve(r, run)
    assert len(c) == 2 and c.stats.misses == 30


def test_the_servicer_answers_through_the_cache() -> None:
    req = fnv1.RunFunctionRequest.FromString(pool()[6])
    fn.RESPONSES.clear()
    before = fn.RESPONSES.stats.hits_hot
    runner = fn.FunctionRunner()
    asyncio.run(runner.RunFunctionWire(req, None))  # type: ignore[arg-type]
    first = asyncio.run(runner.RunFunctionWire(req, None))  # type: ignore[arg-type]
    second = asyncio.run(runner.RunFunctionWire(req, None))  # type: ignore[arg-type]
    assert isinstance(first, rc.Wire)
    assert second is first and fn.RESPONSES.stats.hits_hot == before + 1
    # The v1beta1 path (and RunFunction) gets the same answer as a message.
    again = asyncio.run(runner.RunFunction(req, None))  # type: ignore[arg-type]
    assert again.SerializeToString(deterministic=True) == first.data
    fn.RESPONSES.clear()
