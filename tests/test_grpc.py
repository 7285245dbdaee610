"""A gRPC round trip against the function served as a real process; determinism across processes."""

from __future__ import annotations

import grpc
import pytest
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from crossplane.function.proto.v1beta1 import run_function_pb2 as fnv1beta1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1

from function.fn import desired_objects
from tests.helpers import INVALID_EXAMPLES, VALID_EXAMPLES, expectations, function_process, load, xr


def request(x: dict, observed: dict | None = None) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest(meta=fnv1.RequestMeta(tag="t"))
    req.observed.composite.resource.update(x)
    for k, v in (observed or {}).items():
        req.observed.resources[k].resource.update(v)
    return req


def call(address: str, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    with grpc.insecure_channel(address) as ch:
        rsp: fnv1.RunFunctionResponse = grpcv1.FunctionRunnerServiceStub(ch).RunFunction(
            req, timeout=30
        )
        return rsp


def test_round_trip(function_address: str) -> None:
    rsp = call(function_address, request(xr()))
    assert rsp.meta.tag == "t"
    assert not [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    assert len(rsp.desired.resources) == len(desired_objects(xr()))
    sts = resource.struct_to_dict(rsp.desired.resources["zone1-pooler-statefulset"].resource)
    assert sts["kind"] == "StatefulSet" and sts["metadata"]["name"] == "demo-zone1-pooler"
    assert rsp.desired.resources["etcd-service"].ready == fnv1.READY_FALSE  # nothing observed yet
    status = resource.struct_to_dict(rsp.desired.composite.resource)["status"]
    assert status["phase"] == "Initializing"
    assert rsp.requirements.resources["postgres-password-secret"].match_name == "demo-pg"


def test_round_trip_v1beta1(function_address: str) -> None:
    req = fnv1beta1.RunFunctionRequest()
    req.observed.composite.resource.update(xr())
    with grpc.insecure_channel(function_address) as ch:
        rsp = grpcv1beta1.FunctionRunnerServiceStub(ch).RunFunction(req, timeout=30)
    assert len(rsp.desired.resources) == len(desired_objects(xr()))


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_invalid_is_one_fatal_and_nothing_composed(function_address: str, path) -> None:
    rsp = call(function_address, request(load(path)))
    fatals = [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    assert len(fatals) == 1 and len(rsp.results) == 1
    assert expectations(path)["expect-field"] + ":" in fatals[0].message
    assert len(rsp.desired.resources) == 0
    assert not rsp.desired.composite.resource.fields


def test_floats_as_crossplane_sends_them(function_address: str) -> None:
    """Struct numbers are doubles: 3 arrives as 3.0 and must be read as 3."""
    x = xr(etcd={"replicas": 5.0}, multigateway={"service": {"port": 6432.0}})
    rsp = call(function_address, request(x))
    svc = resource.struct_to_dict(rsp.desired.resources["multigateway-service"].resource)
    assert svc["spec"]["ports"][0]["port"] == 6432
    sts = resource.struct_to_dict(rsp.desired.resources["etcd-statefulset"].resource)
    assert sts["spec"]["replicas"] == 5


def test_spec_crossplane_fields_accepted(function_address: str) -> None:
    x = xr()
    x["spec"]["crossplane"] = {"compositionRef": {"name": "xmultigres"}, "resourceRefs": []}
    rsp = call(function_address, request(x))
    assert not rsp.results or all(r.severity != fnv1.SEVERITY_FATAL for r in rsp.results)


def test_deterministic_across_processes() -> None:
    """Two separate processes give byte-identical responses for every example."""
    reqs = [request(load(p)) for p in VALID_EXAMPLES]
    outs = []
    for _ in range(2):
        with function_process() as address:
            outs.append([call(address, r).SerializeToString(deterministic=True) for r in reqs])
    assert outs[0] == outs[1]


def test_a_repeated_tagged_request_gets_the_kept_bytes(function_address: str) -> None:
    """Crossplane's tag on a repeat: the second sight keeps the answer, the third is sent
    from it as its bytes are (response_cache.Wire, server.add_v1_runner), and all three
    are the same response. Read raw (no deserializer), as Crossplane's Go client reads
    the wire."""
    from bench.workload import tag

    req = tag(request(xr()))
    with grpc.insecure_channel(function_address) as ch:
        raw = ch.unary_unary(
            "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction",
            request_serializer=fnv1.RunFunctionRequest.SerializeToString,
        )
        got = [raw(req, timeout=30) for _ in range(3)]
    first = fnv1.RunFunctionResponse.FromString(got[0])
    assert got[2] == first.SerializeToString(deterministic=True)  # the kept, deterministic bytes
    assert all(fnv1.RunFunctionResponse.FromString(b) == first for b in got)
    assert len(first.desired.resources) == len(desired_objects(xr()))
