"""protobuf Struct → plain dicts, and the reduced view of observed objects.

Crossplane hands every object over as a `google.protobuf.Struct`. Converting a whole
request costs more than building the cluster, so observed objects are reduced to the
fields readiness, status and the guard read (`OBSERVED_FIELDS`, plus `status` and a
ConfigMap's `data`) while converting.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

Obj = dict[str, Any]


def to_dict(s: struct_pb2.Struct) -> Obj:
    """Struct → dict without json_format's per-field reflection (numbers stay floats)."""
    f = s.fields
    return {k: value(f[k]) for k in f}  # keys, not .items(): upb's ItemsView is slow


def value(v: struct_pb2.Value) -> Any:
    """One Struct Value as the plain Python value it holds."""
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "struct_value":
        f = v.struct_value.fields
        return {k: value(f[k]) for k in f}
    if kind == "number_value":
        return v.number_value
    if kind == "list_value":
        return [value(x) for x in v.list_value.values]
    if kind == "bool_value":
        return v.bool_value
    return None


#: The only parts of an observed object that readiness, status and the safety guard
#: read (everything under `status` is kept). A test checks that answers are the same
#: as with the whole object.
OBSERVED_FIELDS = {
    "metadata": frozenset({"generation", "name", "managedFields", "annotations"}),
    "spec": frozenset(
        {
            "replicas",
            "selector",
            "serviceName",
            "podManagementPolicy",
            "volumeClaimTemplates",
            "accessModes",
            "storageClassName",
            "resources",
            "type",
        }
    ),
}


def _managed_replicas(v: struct_pb2.Value) -> list[Obj]:
    """managedFields reduced to the entries that own spec.replicas (see safety.hold_replicas)."""
    out: list[Obj] = []
    for e in v.list_value.values:
        f = e.struct_value.fields
        fv1 = f["fieldsV1"].struct_value.fields if "fieldsV1" in f else {}
        spec = fv1["f:spec"].struct_value.fields if "f:spec" in fv1 else {}
        if "f:replicas" in spec:
            out.append(
                {
                    "operation": f["operation"].string_value if "operation" in f else "",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                }
            )
    return out


def observed_view(s: struct_pb2.Struct) -> Obj:
    """An observed object reduced to OBSERVED_FIELDS: pod templates and managedFields,
    the bulk of a request, are never converted."""
    out: Obj = {}
    fields = s.fields
    for k in fields:
        v = fields[k]
        allow = OBSERVED_FIELDS.get(k)
        if allow is not None and v.WhichOneof("kind") == "struct_value":
            f = v.struct_value.fields
            out[k] = {
                kk: _managed_replicas(f[kk]) if kk == "managedFields" else value(f[kk])
                for kk in f
                if kk in allow
            }
        elif k in ("status", "data"):  # data: ConfigMaps (what pgstatus diffs)
            out[k] = value(v)
    return out
