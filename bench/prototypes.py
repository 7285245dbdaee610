"""Speed-ups for function/fn.py, prototyped here and applied by monkeypatching.

Nothing under function/ is edited: `make_run(options)` returns fn.run with the chosen
changes, `apply(options)` swaps it into function.fn, and bench/patched_server.py serves
ours with them so bench/run.py can measure the gain over real gRPC (`--prototypes`).
Every variant must give a byte-identical response (bench/profile.py checks it).

- fast:   `to_dict_fast`, fn.to_dict iterating map keys and indexing: upb's
          MessageMap.items() goes through collections.abc's pure-Python ItemsView.
- lean:   observed composed resources converted without `spec.template` (the pod
          templates: most of the bytes) and `metadata.managedFields`, which nothing
          in function/ reads.
- allow:  stricter than lean: only the observed fields function/ reads (ALLOW).
- cache:  the composed resources' Struct wire bytes reused from an earlier call with the
          same XR name, namespace, spec and input (the builders are pure), bounded LRU.
- encode: Struct wire bytes written in Python instead of Struct.update (measured: no
          gain on its own; it is what makes `cache` possible).
- decode: Struct -> dict through SerializeToString and a Python wire decoder (no gain).
"""

from __future__ import annotations

import struct as _struct
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import struct_pb2

Obj = dict[str, Any]

_pack_double = _struct.Struct("<d").pack
_unpack_double = _struct.Struct("<d").unpack_from

# google.protobuf.Value fields: 1 null (varint), 2 number (fixed64), 3 string, 4 bool
# (varint), 5 struct, 6 list. Struct: 1 map<string, Value> (entry: 1 key, 2 value).
# ListValue: 1 repeated Value.
_NULL = b"\x08\x00"
_TRUE = b"\x20\x01"
_FALSE = b"\x20\x00"
_TAG_NUMBER = b"\x11"
_TAG_STRING = b"\x1a"
_TAG_STRUCT = b"\x2a"
_TAG_LIST = b"\x32"
_TAG_1 = b"\x0a"  # field 1, length-delimited: Struct.fields entry, entry key, list item
_TAG_2 = b"\x12"  # field 2, length-delimited: map entry value

_VARINT_CACHE = [bytes([i]) for i in range(128)]


def _varint(n: int) -> bytes:
    if n < 128:
        return _VARINT_CACHE[n]
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _value(v: Any) -> bytes:
    t = type(v)
    if t is str:
        b = v.encode()
        return _TAG_STRING + _varint(len(b)) + b
    if t is dict:
        b = encode_struct(v)
        return _TAG_STRUCT + _varint(len(b)) + b
    if t is list or t is tuple:
        b = _list(v)
        return _TAG_LIST + _varint(len(b)) + b
    if t is bool:
        return _TRUE if v else _FALSE
    if t is int or t is float:
        return _TAG_NUMBER + _pack_double(v)
    if v is None:
        return _NULL
    if isinstance(v, str):  # str subclasses (enums)
        return _value(str(v))
    if isinstance(v, dict):
        return _value(dict(v))
    if isinstance(v, bool):
        return _value(bool(v))
    if isinstance(v, int | float):
        return _value(float(v))
    raise TypeError(f"cannot encode {t.__name__} in a Struct")


def _list(items: Any) -> bytes:
    parts = []
    for x in items:
        b = _value(x)
        parts.append(_TAG_1 + _varint(len(b)) + b)
    return b"".join(parts)


def encode_struct(d: Obj) -> bytes:
    """The wire bytes of google.protobuf.Struct holding `d`."""
    parts = []
    for k, v in d.items():
        kb = k.encode()
        vb = _value(v)
        entry = _TAG_1 + _varint(len(kb)) + kb + _TAG_2 + _varint(len(vb)) + vb
        parts.append(_TAG_1 + _varint(len(entry)) + entry)
    return b"".join(parts)


# --------------------------------------------------------------------------- decode


def _read_varint(b: bytes, i: int) -> tuple[int, int]:
    n = b[i]
    if n < 128:
        return n, i + 1
    result, shift = n & 0x7F, 7
    i += 1
    while True:
        n = b[i]
        i += 1
        result |= (n & 0x7F) << shift
        if n < 128:
            return result, i
        shift += 7


def _decode_value(b: bytes, i: int, end: int) -> Any:
    v: Any = None
    while i < end:
        tag = b[i]
        i += 1
        if tag == 0x1A:
            n, i = _read_varint(b, i)
            v = b[i : i + n].decode()
            i += n
        elif tag == 0x2A:
            n, i = _read_varint(b, i)
            v = _decode_struct(b, i, i + n)
            i += n
        elif tag == 0x32:
            n, i = _read_varint(b, i)
            v = _decode_list(b, i, i + n)
            i += n
        elif tag == 0x11:
            v = _unpack_double(b, i)[0]
            i += 8
        elif tag == 0x20:
            n, i = _read_varint(b, i)
            v = bool(n)
        elif tag == 0x08:
            _, i = _read_varint(b, i)
            v = None
        else:
            raise ValueError(f"unexpected tag {tag:#x} in google.protobuf.Value")
    return v


def _decode_list(b: bytes, i: int, end: int) -> list[Any]:
    out = []
    while i < end:
        i += 1  # tag 0x0a
        n, i = _read_varint(b, i)
        out.append(_decode_value(b, i, i + n))
        i += n
    return out


def _decode_struct(b: bytes, i: int, end: int) -> Obj:
    out: Obj = {}
    while i < end:
        i += 1  # tag 0x0a: a fields entry
        n, i = _read_varint(b, i)
        stop = i + n
        key, val = "", None
        while i < stop:
            tag = b[i]
            i += 1
            m, i = _read_varint(b, i)
            if tag == 0x0A:
                key = b[i : i + m].decode()
            else:
                val = _decode_value(b, i, i + m)
            i += m
        out[key] = val
    return out


def decode_struct(s: struct_pb2.Struct) -> Obj:
    """Struct -> dict via its serialized bytes (numbers stay floats, as in fn.to_dict)."""
    b = s.SerializeToString()
    return _decode_struct(b, 0, len(b))


# --------------------------------------------------------------------------- lean read


def _pyvalue(v: struct_pb2.Value) -> Any:
    """fn._value, iterating map keys and indexing (upb's MessageMap.items() goes through
    collections.abc's pure-Python ItemsView) and testing the commonest kind first."""
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "struct_value":
        f = v.struct_value.fields
        return {k: _pyvalue(f[k]) for k in f}
    if kind == "list_value":
        return [_pyvalue(x) for x in v.list_value.values]
    if kind == "number_value":
        return v.number_value
    if kind == "bool_value":
        return v.bool_value
    return None


def to_dict_fast(s: struct_pb2.Struct) -> Obj:
    """fn.to_dict with _pyvalue's iteration (same result)."""
    f = s.fields
    return {k: _pyvalue(f[k]) for k in f}


#: Parts of an observed composed resource that no reader in function/ looks at.
SKIP = {"spec": frozenset({"template"}), "metadata": frozenset({"managedFields"})}


def to_dict_lean(s: struct_pb2.Struct) -> Obj:
    """fn.to_dict for observed composed resources, skipping SKIP's fields."""
    out: Obj = {}
    fields = s.fields
    for k in fields:
        v = fields[k]
        skip = SKIP.get(k)
        if skip is not None and v.WhichOneof("kind") == "struct_value":
            f = v.struct_value.fields
            out[k] = {kk: _pyvalue(f[kk]) for kk in f if kk not in skip}
        else:
            out[k] = _pyvalue(v)
    return out


#: Stricter: the only observed fields function/ reads (readiness, status, safety).
ALLOW = {
    "metadata": frozenset({"generation", "name"}),
    "spec": frozenset({
        "replicas", "selector", "serviceName", "podManagementPolicy", "volumeClaimTemplates",
        "accessModes", "storageClassName", "resources", "type",
    }),
}  # fmt: skip


def to_dict_allow(s: struct_pb2.Struct) -> Obj:
    """fn.to_dict for observed composed resources, keeping only ALLOW's fields (+ status)."""
    out: Obj = {}
    fields = s.fields
    for k in fields:
        v = fields[k]
        allow = ALLOW.get(k)
        if allow is not None and v.WhichOneof("kind") == "struct_value":
            f = v.struct_value.fields
            out[k] = {kk: _pyvalue(f[kk]) for kk in f if kk in allow}
        elif k in ("status", "kind", "apiVersion"):
            out[k] = _pyvalue(v)
    return out


# --------------------------------------------------------------------------- encode cache


class EncodeCache:
    """XR identity + spec + input -> the composed resources' Struct wire bytes.

    The builders are pure functions of (name, namespace, spec, input), so while the
    guard keeps nothing, the same key always yields the same bytes. Bounded by bytes;
    least recently used entries go first.
    """

    def __init__(self, budget_bytes: int = 32 * 1024 * 1024) -> None:
        from collections import OrderedDict

        self.budget = budget_bytes
        self.used = 0
        self.entries: OrderedDict[bytes, dict[str, bytes]] = OrderedDict()
        self.hits = self.misses = 0

    @staticmethod
    def key(req: fnv1.RunFunctionRequest) -> bytes:
        xr = req.observed.composite.resource.fields
        parts = [
            xr["spec"].SerializeToString(deterministic=True) if "spec" in xr else b"",
            xr["metadata"].struct_value.fields["name"].SerializeToString()
            if "metadata" in xr and "name" in xr["metadata"].struct_value.fields
            else b"",
            xr["metadata"].struct_value.fields["namespace"].SerializeToString()
            if "metadata" in xr and "namespace" in xr["metadata"].struct_value.fields
            else b"",
            req.input.SerializeToString(deterministic=True) if req.HasField("input") else b"",
        ]
        return b"\x00|".join(parts)

    def get(self, key: bytes) -> dict[str, bytes] | None:
        hit = self.entries.get(key)
        if hit is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return hit

    def put(self, key: bytes, value: dict[str, bytes]) -> None:
        size = len(key) + sum(len(k) + len(v) for k, v in value.items())
        if size > self.budget:
            return
        self.entries[key] = value
        self.used += size
        while self.used > self.budget:
            k, v = self.entries.popitem(last=False)
            self.used -= len(k) + sum(len(a) + len(b) for a, b in v.items())


CACHE = EncodeCache()


def encode_cached(req: fnv1.RunFunctionRequest, composed: Any) -> dict[str, bytes]:
    """Struct wire bytes of each composed resource, reused from an earlier call when the
    XR's name, namespace, spec and the input are the same and the guard kept nothing."""
    structs: dict[str, bytes] | None = None
    key = b""
    kept = any(c.typ == "ImmutableFieldsKept" and c.status == "True" for c in composed.conditions)
    if not kept:
        key = EncodeCache.key(req)
        structs = CACHE.get(key)
    if structs is None:
        structs = {k: encode_struct(o) for k, o in composed.objects.items()}
        if key:
            CACHE.put(key, structs)
    return structs


# --------------------------------------------------------------------------- apply
# run_fast/write_fast are fn.run/fn.write as of this commit with the changes above; the
# suggested patch to function/fn.py is the diff between them (docs/benchmarks.md).

#: The prototypes `make_run` and `apply` know.
PROTOTYPES = ("fast", "encode", "cache", "lean", "allow", "decode")


def write_fast(
    rsp: fnv1.RunFunctionResponse,
    composed: Any,
    options: frozenset[str],
    req: fnv1.RunFunctionRequest,
) -> None:
    """fn.write, with the composed resources merged in as wire bytes ('encode'), reused
    from an earlier call with the same spec ('cache')."""
    from crossplane.function import resource, response

    import function.fn as fn

    c = composed.cluster
    ref = c.spec.postgres.password_secret_ref
    response.require_resources(
        rsp, fn.PASSWORD_REQUIREMENT, "v1", "Secret", match_name=ref.name, namespace=c.namespace
    )
    status = {"status": composed.report.status}
    if options & {"encode", "cache"}:
        # Per resource, MergeFromString of Struct bytes sets each top-level field like
        # Struct.update does (a map entry replaces the same key), so a desired resource
        # an earlier pipeline step wrote is merged exactly as before.
        structs = (
            encode_cached(req, composed)
            if "cache" in options
            else {k: encode_struct(o) for k, o in composed.objects.items()}
        )
        for key, sb in structs.items():
            r = rsp.desired.resources[key]
            r.resource.MergeFromString(sb)
            ok, _ = composed.verdicts[key]
            r.ready = fnv1.READY_TRUE if ok else fnv1.READY_FALSE
        rsp.desired.composite.resource.MergeFromString(encode_struct(status))
    else:
        for key, obj in composed.objects.items():
            r = rsp.desired.resources[key]
            r.resource.update(obj)
            ok, _ = composed.verdicts[key]
            r.ready = fnv1.READY_TRUE if ok else fnv1.READY_FALSE
        resource.update(rsp.desired.composite, status)
    for cond in composed.conditions:
        rsp.conditions.append(
            fnv1.Condition(
                type=cond.typ,
                status=fn._STATUS.get(cond.status, fnv1.STATUS_CONDITION_UNKNOWN),
                reason=cond.reason,
                message=cond.message,
            )
        )
    for msg in composed.warnings:
        response.warning(rsp, msg)
    for msg in composed.report.normals:
        response.normal(rsp, msg)
    if composed.report.healthy and not composed.warnings:
        rsp.meta.ttl.FromTimedelta(fn.TTL_HEALTHY)


def make_run(options: set[str] | frozenset[str] = frozenset()) -> Any:
    """fn.run with the chosen prototypes (none: the same work as fn.run)."""
    from crossplane.function import response

    import function.fn as fn
    from function.api import SpecError

    opts = frozenset(options)
    unknown = opts - set(PROTOTYPES)
    if unknown:
        raise ValueError(f"unknown prototypes {sorted(unknown)}; known: {PROTOTYPES}")
    convert = decode_struct if "decode" in opts else to_dict_fast if "fast" in opts else fn.to_dict
    observed_convert = (
        to_dict_allow if "allow" in opts else to_dict_lean if "lean" in opts else convert
    )

    def run_fast(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        rsp = response.to(req, ttl=fn.TTL_PROGRESSING)
        span = fn.trace.get_current_span()
        xr = convert(req.observed.composite.resource)
        meta = xr.get("metadata") or {}
        span.set_attribute("multigres.xr.name", str(meta.get("name", "")))
        span.set_attribute("multigres.xr.namespace", str(meta.get("namespace", "")))
        span.set_attribute("multigres.xr.generation", int(meta.get("generation") or 0))
        raw_input = convert(req.input) if req.HasField("input") else None
        observed = {k: observed_convert(r.resource) for k, r in req.observed.resources.items()}
        secret = None
        if fn.PASSWORD_REQUIREMENT in req.required_resources:
            items = [
                convert(i.resource) for i in req.required_resources[fn.PASSWORD_REQUIREMENT].items
            ]
            secret = (True, items)
        try:
            composed = fn.compose(xr, raw_input, observed, secret)
        except SpecError as e:
            response.fatal(rsp, f"invalid XMultigres: {e.field}: {e.reason}")
            span.set_attribute("multigres.result_severity", "fatal")
            span.set_attribute("multigres.composed_objects", 0)
            return rsp
        write_fast(rsp, composed, opts, req)
        span.set_attribute("multigres.composed_objects", len(composed.objects))
        span.set_attribute(
            "multigres.result_severity", "warning" if composed.warnings else "normal"
        )
        return rsp

    return run_fast


def apply(options: set[str] | frozenset[str]) -> None:
    """Monkeypatch function.fn.run (which FunctionRunner calls) with the chosen prototypes."""
    import function.fn as fn

    fn.run = make_run(options)


# --------------------------------------------------------------------------- patch current
# function/fn.py has since gained observed_view (= lean) and a build cache (= cache). These
# patches apply the remaining changes to whatever fn.run is now, by replacing the helpers
# it calls: `fast` (to_dict, _value, observed_view iterate keys) and `allow` (observed_view
# keeps only the fields function/ reads).

PATCHES = ("fast", "allow")


def observed_view_fast(s: struct_pb2.Struct) -> Obj:
    """fn.observed_view (skip spec.template and metadata.managedFields), iterating keys."""
    return to_dict_lean(s)


def patch_current(options: set[str] | frozenset[str]) -> dict[str, Any]:
    """Monkeypatch function.fn's helpers; returns the originals (for `unpatch`)."""
    import function.fn as fn

    unknown = set(options) - set(PATCHES)
    if unknown:
        raise ValueError(f"unknown patches {sorted(unknown)}; known: {PATCHES}")
    saved = {n: getattr(fn, n) for n in ("to_dict", "_value", "observed_view") if hasattr(fn, n)}
    if "fast" in options:
        fn.to_dict = to_dict_fast  # type: ignore[assignment]
        fn._value = _pyvalue  # type: ignore[assignment]
        if hasattr(fn, "observed_view"):
            fn.observed_view = observed_view_fast
    if "allow" in options:
        if not hasattr(fn, "observed_view"):
            raise RuntimeError("function.fn has no observed_view: use make_run({'allow'})")
        fn.observed_view = to_dict_allow
    return saved


def unpatch(saved: dict[str, Any]) -> None:
    import function.fn as fn

    for name, value in saved.items():
        setattr(fn, name, value)
