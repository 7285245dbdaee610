"""Do ours and the peer compose the same objects? Kinds, names and counts, then content."""

from __future__ import annotations

from typing import Any

import grpc
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from bench.workload import RUN_FUNCTION

Obj = dict[str, Any]


def call(address: str, payload: bytes) -> fnv1.RunFunctionResponse:
    with grpc.insecure_channel(address) as ch:
        raw = ch.unary_unary(RUN_FUNCTION)(payload, timeout=60)
    return fnv1.RunFunctionResponse.FromString(raw)


def composed(rsp: fnv1.RunFunctionResponse) -> dict[str, Obj]:
    """Desired composed resources as dicts, with integral floats back to ints."""
    return {k: ints(resource.struct_to_dict(r.resource)) for k, r in rsp.desired.resources.items()}


def ints(v: Any) -> Any:
    """Struct doubles back to ints where integral, as the API server's JSON decoder does."""
    if isinstance(v, dict):
        return {k: ints(x) for k, x in v.items()}
    if isinstance(v, list):
        return [ints(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _tidy(o: Obj) -> Obj:
    """go-templating leaves `annotations: {}` once it strips its own annotations: the same
    server-side-apply intent as no annotations at all."""
    meta = o.get("metadata")
    if isinstance(meta, dict) and meta.get("annotations") == {}:
        o = {**o, "metadata": {k: v for k, v in meta.items() if k != "annotations"}}
    return o


def identities(objs: dict[str, Obj]) -> set[tuple[str, str, str]]:
    """(composition resource name, kind, metadata.name) of every object."""
    return {
        (k, o.get("kind", ""), (o.get("metadata") or {}).get("name", "")) for k, o in objs.items()
    }


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: only in peer")
            elif k not in b:
                out.append(f"{path}.{k}: only in ours")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: ours={a!r} peer={b!r}")


def compare(ours: fnv1.RunFunctionResponse, peer: fnv1.RunFunctionResponse) -> dict[str, Any]:
    """Summary of how the two responses' composed resources differ."""
    a, b = composed(ours), composed(peer)
    fatal = [r.message for r in peer.results if r.severity == fnv1.SEVERITY_FATAL]
    ia, ib = identities(a), identities(b)
    diffs: list[str] = []
    for k in sorted(set(a) & set(b)):
        _diff(_tidy(a[k]), _tidy(b[k]), k, diffs)
    ready_diff = sorted(
        k
        for k in set(ours.desired.resources) & set(peer.desired.resources)
        if ours.desired.resources[k].ready != peer.desired.resources[k].ready
    )
    return {
        "ours_count": len(a),
        "peer_count": len(b),
        "peer_fatal": fatal,
        "identities_equal": ia == ib,
        "only_ours": sorted(f"{k} {kind}/{n}" for k, kind, n in ia - ib),
        "only_peer": sorted(f"{k} {kind}/{n}" for k, kind, n in ib - ia),
        "kinds_ours": _count_kinds(a),
        "kinds_peer": _count_kinds(b),
        "content_differences": len(diffs),
        "content_difference_examples": diffs[:10],
        "ready_differences": ready_diff,
    }


def _count_kinds(objs: dict[str, Obj]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in objs.values():
        out[o.get("kind", "?")] = out.get(o.get("kind", "?"), 0) + 1
    return dict(sorted(out.items()))
