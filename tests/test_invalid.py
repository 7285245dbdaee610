"""Every invalid input is one Fatal naming the field, with nothing composed.

A property: a valid XR (or function input) with one random invalid fragment — a label,
annotation, zone, quantity, toleration, affinity, topology spread constraint, gateway
count — is answered with exactly one Fatal result whose message starts with the field's
path, zero desired resources and no requirements. Each fragment is something the API
server (or Kubernetes' own validation of the composed pods) would refuse.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import given
from hypothesis import strategies as st

from function.cache import BuildCache
from function.fn import run
from tests.helpers import xr
from tests.test_safety import req

Obj = dict[str, Any]
COMPONENTS = ["etcd", "multigateway", "multiorch", "multipooler"]

bad_name = st.one_of(
    st.from_regex(r"\A[a-z]{1,5} [a-z]{1,5}\Z"),
    st.from_regex(r"\A[-_.][a-z0-9]{1,10}\Z"),
    st.from_regex(r"\A[a-z0-9]{1,10}[-_.]\Z"),
    st.text(alphabet="abcxyz", min_size=64, max_size=80),
    st.from_regex(r"\A[a-z]{1,5}[!@#$%^&*()=+,;:?<>'\"][a-z]{1,5}\Z"),
)
bad_label_key = st.one_of(
    bad_name,
    st.just(""),
    st.from_regex(r"\A[a-z]{1,5}/[a-z]{1,5}/[a-z]{1,5}\Z"),  # prefix "a/b" is no subdomain
    st.from_regex(r"\A[A-Z][a-z]{1,5}\.com/[a-z]{1,5}\Z"),  # upper-case prefix
    st.from_regex(r"\A/[a-z]{1,5}\Z"),
)
bad_annotation_key = st.one_of(
    bad_name.filter(lambda k: not k.isalnum()),
    st.just(""),
    st.from_regex(r"\A[a-z]{1,5}/[a-z]{1,5}/[a-z]{1,5}\Z"),
)
bad_value = st.one_of(bad_name, st.from_regex(r"\A[a-z]{1,5}/[a-z]{1,5}\Z"))
unit = st.sampled_from(["", "m", "k", "Mi", "Gi"])
negative = st.builds(lambda n, u: f"-{n}{u}", st.integers(1, 10_000), unit)
not_positive = st.one_of(negative, st.builds(lambda u: f"0{u}", unit))
junk = st.one_of(
    st.text(max_size=5), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)
)
unknown_field = st.from_regex(r"\A[a-z]{3,8}X\Z")  # camelCase nobody defines

TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}
TOLERATION_BREAKS = [
    lambda d: d["op"].map(lambda v: {**TOLERATION, "operator": v}),
    lambda d: d["word"].map(lambda v: {**TOLERATION, "effect": v}),
    lambda d: bad_label_key.filter(bool).map(lambda v: {**TOLERATION, "key": v}),
    lambda d: bad_value.map(lambda v: {**TOLERATION, "value": v}),
    lambda d: st.just({**TOLERATION, "operator": "Exists"}),  # Exists with a value
    lambda d: st.just({"operator": "Equal", "value": "x"}),  # empty key needs Exists
    lambda d: st.integers(0, 3600).map(lambda v: {**TOLERATION, "tolerationSeconds": v}),
    lambda d: st.text(min_size=1, max_size=4).map(lambda v: {**TOLERATION, "tolerationSeconds": v}),
    lambda d: st.tuples(unknown_field, junk).map(lambda kv: {**TOLERATION, kv[0]: kv[1]}),
]
TERM = {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}
REQUIREMENT = {"key": "disktype", "operator": "In", "values": ["ssd"]}


def node_affinity(term: Obj) -> Obj:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}  # fmt: skip


def anti(weight: Any, term: Obj) -> Obj:
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": weight, "podAffinityTerm": term}]}}  # fmt: skip


AFFINITY_BREAKS = [
    lambda d: st.one_of(st.integers(max_value=0), st.integers(min_value=101)).map(
        lambda w: anti(w, TERM)
    ),
    lambda d: st.just(anti(10, {**TERM, "topologyKey": ""})),
    lambda d: bad_label_key.filter(bool).map(lambda k: anti(10, {**TERM, "topologyKey": k})),
    lambda d: d["op"].map(
        lambda o: node_affinity({"matchExpressions": [{**REQUIREMENT, "operator": o}]})
    ),
    lambda d: st.just(node_affinity({"matchExpressions": [{**REQUIREMENT, "values": []}]})),
    lambda d: st.just(node_affinity({"matchExpressions": [{**REQUIREMENT, "operator": "Exists"}]})),
    lambda d: st.just(
        node_affinity({"matchExpressions": [{**REQUIREMENT, "operator": "Gt", "values": ["a"]}]})
    ),
    lambda d: st.just(
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
            }
        }
    ),
    lambda d: bad_value.map(
        lambda v: anti(10, {**TERM, "labelSelector": {"matchLabels": {"app": v}}})
    ),
    lambda d: st.tuples(unknown_field, junk).map(lambda kv: {"podAntiAffinity": {kv[0]: kv[1]}}),
    lambda d: junk.filter(lambda v: not isinstance(v, list) or v).map(
        lambda v: {"nodeAffinity": v}
    ),
]
SPREAD = {
    "maxSkew": 1,
    "topologyKey": "topology.kubernetes.io/zone",
    "whenUnsatisfiable": "DoNotSchedule",
}
SPREAD_BREAKS = [
    lambda d: st.integers(max_value=0).map(lambda v: {**SPREAD, "maxSkew": v}),
    lambda d: d["word"].map(lambda v: {**SPREAD, "whenUnsatisfiable": v}),
    lambda d: st.just({k: v for k, v in SPREAD.items() if k != "topologyKey"}),
    lambda d: st.just({**SPREAD, "minDomains": 2, "whenUnsatisfiable": "ScheduleAnyway"}),
    lambda d: st.tuples(unknown_field, junk).map(lambda kv: {**SPREAD, kv[0]: kv[1]}),
    lambda d: st.text(min_size=1, max_size=3).map(lambda v: {**SPREAD, "maxSkew": v}),
]
STRATS = {
    "op": st.text(min_size=1, max_size=8).filter(lambda v: v not in ("Equal", "Exists", "In", "NotIn", "DoesNotExist", "Gt", "Lt")),
    "word": st.text(min_size=1, max_size=12).filter(lambda v: v not in ("NoSchedule", "PreferNoSchedule", "NoExecute", "DoNotSchedule", "ScheduleAnyway")),
}  # fmt: skip


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, Obj, Obj | None]:
    """(field path the Fatal must name, spec, function input) with one invalid fragment."""
    spec: Obj = {}
    raw_input: Obj | None = None
    where = draw(st.sampled_from([None, *COMPONENTS]))
    in_input = draw(st.booleans())

    def scheduling(field: str, value: Any) -> str:
        nonlocal raw_input
        holder: Obj
        if in_input:
            raw_input = {
                "apiVersion": "multigres.fn.crossplane.io/v1beta1",
                "kind": "Input",
                "defaults": {},
            }
            holder, prefix = raw_input["defaults"], "input.defaults"
        else:
            holder, prefix = spec, "spec"
        if where:
            holder, prefix = holder.setdefault(where, {}), f"{prefix}.{where}"
        holder["scheduling"] = {field: value}
        return f"{prefix}.scheduling.{field}"

    kind = draw(st.sampled_from(["toleration", "affinity", "spread", "nodeSelector", "priorityClass",
                                 "podLabelKey", "podLabelValue", "podAnnotation", "serviceAnnotation",
                                 "zone", "request", "limit", "storage", "requestAboveLimit",
                                 "resourceName", "gateways"]))  # fmt: skip
    if kind == "toleration":
        t = draw(draw(st.sampled_from(TOLERATION_BREAKS))(STRATS))
        i = draw(st.integers(0, 2))
        return scheduling("tolerations", [TOLERATION] * i + [t]) + f"[{i}]", spec, raw_input
    if kind == "affinity":
        return (
            scheduling("affinity", draw(draw(st.sampled_from(AFFINITY_BREAKS))(STRATS))),
            spec,
            raw_input,
        )
    if kind == "spread":
        c = draw(draw(st.sampled_from(SPREAD_BREAKS))(STRATS))
        return scheduling("topologySpreadConstraints", [c]) + "[0]", spec, raw_input
    if kind == "nodeSelector":
        if draw(st.booleans()):
            return scheduling("nodeSelector", {draw(bad_label_key): "x"}), spec, raw_input
        return scheduling("nodeSelector", {"disk": draw(bad_value)}), spec, raw_input
    if kind == "priorityClass":
        value = draw(st.one_of(st.from_regex(r"\A[a-z]{1,5}[ _A-Z!/][a-z]{1,5}\Z"),
                               st.from_regex(r"\A[-.][a-z]{1,8}\Z"), st.just("x" * 254)))  # fmt: skip
        return scheduling("priorityClassName", value), spec, raw_input
    if kind == "podLabelKey":
        spec["podLabels"] = {draw(bad_label_key): "x"}
        return "spec.podLabels", spec, None
    if kind == "podLabelValue":
        spec["podLabels"] = {"team": draw(bad_value)}
        return "spec.podLabels.team", spec, None
    if kind == "podAnnotation":
        spec["podAnnotations"] = {draw(bad_annotation_key): "x"}
        return "spec.podAnnotations", spec, None
    if kind == "serviceAnnotation":
        spec["multigateway"] = {"service": {"annotations": {draw(bad_annotation_key): "x"}}}
        return "spec.multigateway.service.annotations", spec, None
    if kind == "zone":
        spec["cells"] = [{"name": "a"}, {"name": "b", "zone": draw(bad_value)}]
        return "spec.cells[1].zone", spec, None
    comp = draw(st.sampled_from(COMPONENTS))
    if kind in ("request", "limit", "requestAboveLimit", "resourceName"):
        name = draw(st.sampled_from(["cpu", "memory"]))
        if kind == "request":
            res: Obj = {"requests": {name: draw(negative)}}
            path = f"resources.requests.{name}"
        elif kind == "limit":
            res, path = {"limits": {name: draw(negative)}}, f"resources.limits.{name}"
        elif kind == "resourceName":
            key = draw(st.sampled_from(["cpus", "mem", "gpu", "Memory"]))
            res, path = {"requests": {key: "1"}}, f"resources.requests.{key}"
        else:
            n = draw(st.integers(2, 64))
            res, path = {"requests": {name: f"{n}Gi"}, "limits": {name: f"{n - 1}Gi"}}, "resources"
        if comp == "multipooler":
            c2 = draw(st.sampled_from(["multipooler", "postgres"]))
            spec[comp] = {"resources": {c2: res}}
            return f"spec.{comp}.resources.{c2}" + path.removeprefix("resources"), spec, None
        spec[comp] = {"resources": res}
        return f"spec.{comp}.{path}", spec, None
    if kind == "storage":
        where_ = draw(st.sampled_from(["etcd", "multipooler", "backup"]))
        size = draw(not_positive)
        spec[where_] = {"storage": {"size": size}}
        return f"spec.{where_}.storage.size", spec, None
    spec["multigateway"] = {"replicas": draw(st.integers(-3, 0))}
    return "spec.multigateway.replicas", spec, None


def fatals(rsp: fnv1.RunFunctionResponse) -> list[str]:
    return [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]


@given(broken())
def test_an_invalid_fragment_is_one_fatal_naming_it(case: tuple[str, Obj, Obj | None]) -> None:
    field, spec, raw_input = case
    r = req(xr(**copy.deepcopy(spec)))
    if raw_input is not None:
        r.input.update(raw_input)
    rsp = run(r, BuildCache(0))
    assert len(rsp.results) == 1 and fatals(rsp), [x.message for x in rsp.results]
    assert fatals(rsp)[0].startswith(f"invalid XMultigres: {field}"), (field, fatals(rsp)[0])
    assert not rsp.desired.resources and not rsp.desired.composite.resource.fields
    assert not rsp.requirements.resources


VALID = [
    ("tolerations", {"scheduling": {"tolerations": [TOLERATION, {"operator": "Exists"}, {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]}}),
    ("affinity", {"scheduling": {"affinity": {**node_affinity({"matchExpressions": [REQUIREMENT, {"key": "n", "operator": "Gt", "values": ["3"]}]}), **anti(100, TERM)}}}),
    ("spread", {"multipooler": {"scheduling": {"topologySpreadConstraints": [SPREAD, {**SPREAD, "minDomains": 2}]}}}),
    ("labels", {"podLabels": {"example.com/team": "a.b_c-d", "x": ""}, "podAnnotations": {"Example.com/Note": "any thing"}}),
    ("quantities", {"etcd": {"resources": {"requests": {"cpu": "0", "memory": "1Gi"}, "limits": {"memory": "1Gi", "example.com/dongle": "1"}}}}),
    ("zone", {"cells": [{"name": "a", "zone": "us-east-1a"}, {"name": "b", "zone": ""}]}),
]  # fmt: skip


@pytest.mark.parametrize("spec", [s for _, s in VALID], ids=[n for n, _ in VALID])
def test_valid_fragments_compose(spec: Obj) -> None:
    """The rules refuse what Kubernetes refuses, not more."""
    rsp = run(req(xr(**copy.deepcopy(spec))), BuildCache(0))
    assert not fatals(rsp), fatals(rsp)
    assert rsp.desired.resources


def test_missing_postgres_names_the_field_to_add() -> None:
    x = xr()
    del x["spec"]["postgres"]
    (msg,) = fatals(run(req(x), BuildCache(0)))
    assert msg.startswith("invalid XMultigres: spec.postgres: required field is missing"), msg
    assert "spec.postgres.passwordSecretRef.name" in msg
