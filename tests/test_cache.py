"""The build cache never changes an answer: cache-on and cache-off are byte-identical.

`cache.BuildInput` is all that resolve (and so every builder) can read, and the key is a
digest of all of it; the property below checks the consequence across namespaces,
function inputs, observed states and pipelines where an earlier step supplied desired
resources, with one cache shared by a whole sequence of calls (as in a real process).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from typing import Any

import yaml
from click.testing import CliRunner
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import given
from hypothesis import strategies as st

from function import cache, fn
from function.builders import build, topology
from function.resolve import resolve, resolve_xr
from tests.helpers import EXAMPLES, xr
from tests.test_safety import observed_from, req

Obj = dict[str, Any]

INPUT = {"apiVersion": "multigres.fn.crossplane.io/v1beta1", "kind": "Input"}
INPUTS = [
    None,
    {**INPUT, "defaults": {}},
    {**INPUT, "defaults": {"images": {"multigres": "org/multigres:1"}}},
    {**INPUT, "defaults": {"multigateway": {"resources": {"requests": {"cpu": "1"}}}}},
    {**INPUT, "defaults": {"images": {"pullPolicy": "Sometimes"}}},  # invalid input
]
SPECS = [
    {},
    {"cells": [{"name": "a"}, {"name": "b"}]},
    {"multigateway": {"replicas": 3}},
    {"multipooler": {"storage": {"size": "20Gi"}}},  # the guard keeps the observed 10Gi
    {"multigateway": {"autoscaling": {"enabled": True}}},
    {"etcd": {"replicas": 2}},  # invalid
]
HEALTHY = {
    d["metadata"]["annotations"]["crossplane.io/composition-resource-name"]: d
    for d in yaml.safe_load_all((EXAMPLES / "observed" / "healthy.yaml").read_text())
    if d
}
OBSERVED: list[dict[str, Obj]] = [{}, HEALTHY, observed_from(xr())]
EARLIER_STEPS: list[dict[str, Obj]] = [
    {},
    {"serviceaccount": {"metadata": {"annotations": {"x": "y"}}, "extra": True}},
    {"etcd-service": {"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort"}}},
    {"from-another-step": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}},
]

identity = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["demo", "orders"]),
        "namespace": st.sampled_from(["team-a", "team-b"]),
        "spec": st.sampled_from(range(len(SPECS))),
        "input": st.sampled_from(range(len(INPUTS))),
    }
)
state = st.fixed_dictionaries(
    {
        "observed": st.sampled_from(range(len(OBSERVED))),
        "earlier": st.sampled_from(range(len(EARLIER_STEPS))),
        "generation": st.integers(1, 2),
    }
)


POOLS = {"name": ["demo", "orders"], "namespace": ["team-a", "team-b"],
         "spec": list(range(len(SPECS))), "input": list(range(len(INPUTS)))}  # fmt: skip


@st.composite
def calls(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One XR and neighbours that differ from it in exactly one of name, namespace, spec
    or input, each called several times in different observed states and pipelines."""
    base = draw(identity)
    ids = [base]
    for part in draw(st.lists(st.sampled_from(sorted(POOLS)), max_size=3)):
        other = draw(st.sampled_from([v for v in POOLS[part] if v != base[part]]))
        ids.append({**base, part: other})
    return [{**draw(st.sampled_from(ids)), **draw(state)} for _ in range(draw(st.integers(1, 6)))]


def make(c: dict[str, Any]) -> fnv1.RunFunctionRequest:
    spec = {"postgres": {"passwordSecretRef": {"name": "pg"}}, **copy.deepcopy(SPECS[c["spec"]])}
    x = xr(name=c["name"], namespace=c["namespace"], **spec)
    x["metadata"]["generation"] = c["generation"]
    r = req(x, OBSERVED[c["observed"]])
    if INPUTS[c["input"]] is not None:
        r.input.update(INPUTS[c["input"]])
    for k, v in EARLIER_STEPS[c["earlier"]].items():
        r.desired.resources[k].resource.update(v)
    return r


def wire(rsp: fnv1.RunFunctionResponse) -> bytes:
    return rsp.SerializeToString(deterministic=True)


@given(calls())
def test_cache_on_and_off_answer_byte_for_byte_alike(calls: list[dict[str, Any]]) -> None:
    on, off = cache.BuildCache(64 * cache.MIB), cache.BuildCache(0)
    for c in calls:
        want = wire(fn.run(make(c), off))
        assert wire(fn.run(make(c), on)) == want, c  # a miss, or a hit from an earlier call
        assert wire(fn.run(make(c), on)) == want, c  # certainly a hit
    assert not off.used


def test_same_name_and_spec_in_two_namespaces_get_their_own_etcd() -> None:
    """The bug class this guards: team-b's XR wired to team-a's etcd by a cache hit."""
    shared = cache.BuildCache(64 * cache.MIB)
    for ns in ("team-a", "team-b"):
        rsp = fn.run(req(xr(namespace=ns)), shared)
        job = resource.struct_to_dict(
            rsp.desired.resources[topology.key(dict(rsp.desired.resources))].resource
        )
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--global-topo-address=demo-etcd.{ns}.svc:2379" in args


def test_build_input_is_exactly_what_resolve_takes() -> None:
    """By construction: resolve's parameters are BuildInput's fields, one for one, so
    nothing reaches a builder that the key does not cover."""
    fields = [f.name for f in dataclasses.fields(cache.BuildInput)]
    params = list(inspect.signature(resolve).parameters)
    assert fields == ["name", "namespace", "spec", "input"]
    assert params == ["name", "namespace", "spec", "raw_input"]
    r = make({"name": "demo", "namespace": "team-a", "spec": 1, "input": 2, "observed": 0,
              "earlier": 0, "generation": 1})  # fmt: skip
    what = cache.BuildInput.of(r)
    for f in fields:  # every field changes the key
        v = getattr(what, f)
        changed = dataclasses.replace(what, **{f: v + ("x" if isinstance(v, str) else b"x")})
        assert changed.key() != what.key(), f
    assert what.resolve() == resolve_xr(fn.to_dict(r.observed.composite.resource), INPUTS[2])


def test_kept_fields_never_leak_into_the_build_cache() -> None:
    """The guard copies before it changes: a cached build must stay the spec's own."""
    shared = cache.BuildCache(64 * cache.MIB)
    before = xr(multipooler={"storage": {"size": "10Gi"}})
    after = xr(multipooler={"storage": {"size": "20Gi"}})
    fn.run(req(after), shared)  # warm the cache with the spec's objects
    kept = fn.run(req(after, observed_from(before)), shared)
    fresh = fn.run(req(after), shared)

    def size(rsp: fnv1.RunFunctionResponse) -> str:
        sts = resource.struct_to_dict(rsp.desired.resources["zone1-pooler-statefulset"].resource)
        return str(
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
        )

    assert size(kept) == "10Gi" and size(fresh) == "20Gi"
    assert shared.get(cache.BuildInput.of(req(after)).key()) is not None


def test_an_earlier_step_is_merged_into_alike_on_hit_and_miss() -> None:
    r = req(xr())
    r.desired.resources["serviceaccount"].resource.update(
        {"metadata": {"annotations": {"x": "y"}}, "extra": True}
    )
    shared = cache.BuildCache(64 * cache.MIB)
    cold = fn.run(r, shared)
    assert shared.get(cache.BuildInput.of(r).key()) is not None
    sa = resource.struct_to_dict(cold.desired.resources["serviceaccount"].resource)
    assert sa["extra"] is True and sa["metadata"]["name"] == "demo"
    assert wire(fn.run(r, shared)) == wire(cold)


def test_cache_stays_within_its_budget() -> None:
    budget = 300_000
    lru = cache.BuildCache(budget)
    for i in range(20):
        x = xr(name=f"c{i}")
        r = req(x)
        rsp = fn.run(r, cache.BuildCache(0))
        c = resolve_xr(x)
        blobs = {k: v.resource.SerializeToString() for k, v in rsp.desired.resources.items()}
        lru.put(cache.BuildInput.of(r).key(), cache.Built(c, build(c), blobs))
        assert lru.used <= budget
    assert lru.get(cache.BuildInput.of(req(xr(name="c19"))).key()) is not None
    assert lru.get(cache.BuildInput.of(req(xr(name="c0"))).key()) is None


def test_desired_objects_is_pure() -> None:
    x = xr()
    snapshot = copy.deepcopy(x)
    a = fn.desired_objects(x)
    assert x == snapshot
    assert fn.desired_objects(x) == a


@given(st.sampled_from(["lots", "-1", "nan", "inf", "1e400", "8MiB"]))
def test_a_bad_cache_budget_is_a_clear_start_up_error(value: str) -> None:
    from function.main import cli

    r = CliRunner().invoke(
        cli,
        ["--insecure", "--address", "127.0.0.1:0", "--metrics-address", ""],
        env={"FUNCTION_MULTIGRES_BUILD_CACHE_MIB": value},
    )
    assert r.exit_code == 2, (value, r.output)
    assert "FUNCTION_MULTIGRES_BUILD_CACHE_MIB" in r.output, r.output
    assert "Traceback" not in r.output


def test_the_cache_budget_is_read_in_mib() -> None:
    from function.main import cache_budget

    assert cache_budget(None, None, "0.5") == 2**19
    assert cache_budget(None, None, "0") == 0
