"""Turn a CompositeResourceDefinition into the CRD Crossplane would create for its XR.

A transcription of github.com/crossplane/crossplane v2.2.4 `internal/xcrd`
(`ForCompositeResource`, `genCrdVersion`, `BaseProps`, `CompositeResourceSpecProps`,
`CompositeResourceStatusProps`, `CompositeResourcePrinterColumns`), for XRs only (no
claims). Keep it literal: what Crossplane drops from the XRD's schema is dropped here
too, so a schema feature that would silently vanish in a real cluster vanishes in the
test as well. Deliberate omissions: the CRD's ownerReference to the XRD (there is no
XRD object, and no garbage collector, in the test control plane).

Go zero values are omitted (`omitempty`), so an unset string/list/map is left out.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

CATEGORY_COMPOSITE = "composite"
MAX_COMPOSITE_NAME_LENGTH = 63  # the XR name is used as a label value

SCOPE_NAMESPACED = "Namespaced"
SCOPE_CLUSTER = "Cluster"
SCOPE_LEGACY = "LegacyCluster"


def _base_props() -> Obj:
    return {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {}},
            "status": {"type": "object", "properties": {}},
        },
    }


def _match_labels() -> Obj:
    return {
        "type": "object",
        "required": ["matchLabels"],
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
        },
    }


def _name_ref() -> Obj:
    return {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


def composite_resource_spec_props(scope: str, default_policy: str | None) -> Obj:
    update_policy: Obj = {"type": "string", "enum": ["Automatic", "Manual"]}
    if default_policy is not None:
        update_policy["default"] = default_policy
    ref_props = {
        "apiVersion": {"type": "string"},
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "kind": {"type": "string"},
    }
    if scope == SCOPE_NAMESPACED:
        # Namespaced XRs don't get to reference composed resources in other namespaces.
        del ref_props["namespace"]
    props: Obj = {
        "compositionRef": _name_ref(),
        "compositionSelector": _match_labels(),
        "compositionRevisionRef": _name_ref(),
        "compositionRevisionSelector": _match_labels(),
        "compositionUpdatePolicy": update_policy,
        "resourceRefs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": ref_props,
                "required": ["apiVersion", "kind"],
            },
            "x-kubernetes-list-type": "atomic",
        },
    }
    if scope == SCOPE_LEGACY:
        props["claimRef"] = {
            "type": "object",
            "required": ["apiVersion", "kind", "namespace", "name"],
            "properties": {
                k: {"type": "string"} for k in ("apiVersion", "kind", "namespace", "name")
            },
        }
        props["writeConnectionSecretToRef"] = {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
        }
        return props
    # Modern XRs nest their Crossplane machinery fields under spec.crossplane.
    return {
        "crossplane": {
            "type": "object",
            "description": "Configures how Crossplane will reconcile this composite resource",
            "properties": props,
        }
    }


def composite_resource_status_props(scope: str) -> Obj:
    props: Obj = {
        "conditions": {
            "description": "Conditions of the resource.",
            "type": "array",
            "x-kubernetes-list-map-keys": ["type"],
            "x-kubernetes-list-type": "map",
            "items": {
                "type": "object",
                "required": ["lastTransitionTime", "reason", "status", "type"],
                "properties": {
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                    "message": {"type": "string"},
                    "reason": {"type": "string"},
                    "status": {"type": "string"},
                    "type": {"type": "string"},
                    "observedGeneration": {"type": "integer", "format": "int64"},
                },
            },
        }
    }
    if scope == SCOPE_LEGACY:
        props["connectionDetails"] = {
            "type": "object",
            "properties": {"lastPublishedTime": {"type": "string", "format": "date-time"}},
        }
        props["claimConditionTypes"] = {
            "type": "array",
            "x-kubernetes-list-type": "set",
            "items": {"type": "string"},
        }
    return props


def composite_resource_printer_columns(scope: str) -> list[Obj]:
    spec = ".spec" if scope == SCOPE_LEGACY else ".spec.crossplane"
    return [
        {
            "name": "SYNCED",
            "type": "string",
            "jsonPath": ".status.conditions[?(@.type=='Synced')].status",
        },
        {
            "name": "READY",
            "type": "string",
            "jsonPath": ".status.conditions[?(@.type=='Ready')].status",
        },
        {"name": "COMPOSITION", "type": "string", "jsonPath": f"{spec}.compositionRef.name"},
        {
            "name": "COMPOSITIONREVISION",
            "type": "string",
            "jsonPath": f"{spec}.compositionRevisionRef.name",
            "priority": 1,
        },
        {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def _set(d: Obj, key: str, value: Any) -> None:
    """Go `omitempty`: store only non-zero values (nil pointers, "", [], {})."""
    if value is None or value == "" or value == [] or value == {}:
        d.pop(key, None)
    else:
        d[key] = value


def _gen_crd_version(vr: Obj, max_name_length: int) -> Obj:
    crdv: Obj = {
        "name": vr["name"],
        "served": bool(vr.get("served", False)),
        "storage": bool(vr.get("referenceable", False)),
    }
    if vr.get("deprecated"):
        crdv["deprecated"] = True
    _set(crdv, "deprecationWarning", vr.get("deprecationWarning"))
    _set(crdv, "additionalPrinterColumns", copy.deepcopy(vr.get("additionalPrinterColumns")))
    root = _base_props()
    crdv["schema"] = {"openAPIV3Schema": root}
    crdv["subresources"] = {"status": {}}

    schema = (vr.get("schema") or {}).get("openAPIV3Schema")
    if schema is None:
        raise ValueError("custom resource validation cannot be nil")
    s = copy.deepcopy(schema)
    sprops = s.get("properties") or {}

    _set(root, "description", s.get("description"))
    _set(root, "x-kubernetes-validations", s.get("x-kubernetes-validations"))

    max_length = max_name_length
    old = ((sprops.get("metadata") or {}).get("properties") or {}).get("name", {}).get("maxLength")
    if old is not None and old < max_length:
        max_length = old
    root["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": max_length}},
    }

    x_spec = sprops.get("spec") or {}
    c_spec = root["properties"]["spec"]
    _set(c_spec, "required", list(c_spec.get("required", [])) + list(x_spec.get("required", [])))
    if "x-kubernetes-preserve-unknown-fields" in x_spec:
        c_spec["x-kubernetes-preserve-unknown-fields"] = x_spec[
            "x-kubernetes-preserve-unknown-fields"
        ]
    _set(
        c_spec,
        "x-kubernetes-validations",
        list(c_spec.get("x-kubernetes-validations", []))
        + list(x_spec.get("x-kubernetes-validations", [])),
    )
    _set(c_spec, "oneOf", list(c_spec.get("oneOf", [])) + list(x_spec.get("oneOf", [])))
    _set(c_spec, "description", x_spec.get("description"))
    c_spec["properties"].update(x_spec.get("properties") or {})

    x_status = sprops.get("status") or {}
    c_status = root["properties"]["status"]
    _set(c_status, "required", x_status.get("required"))
    _set(c_status, "x-kubernetes-validations", x_status.get("x-kubernetes-validations"))
    _set(c_status, "description", x_status.get("description"))
    _set(c_status, "oneOf", x_status.get("oneOf"))
    c_status["properties"].update(x_status.get("properties") or {})
    return crdv


def for_composite_resource(xrd: Obj) -> Obj:
    """The CustomResourceDefinition Crossplane derives from `xrd` for its XR."""
    spec = xrd["spec"]
    v2 = xrd.get("apiVersion", "").endswith("/v2")
    # v2 XRDs default scope to Namespaced and defaultCompositionUpdatePolicy to Automatic
    # (kubebuilder defaults in apis/apiextensions/v2); v1 XRDs are LegacyCluster.
    scope = spec.get("scope") or (SCOPE_NAMESPACED if v2 else SCOPE_LEGACY)
    default_policy = spec.get("defaultCompositionUpdatePolicy") or ("Automatic" if v2 else None)

    names = copy.deepcopy(spec["names"])
    names["categories"] = [*names.get("categories", []), CATEGORY_COMPOSITE]

    meta: Obj = {"name": xrd["metadata"]["name"]}
    labels = dict(xrd["metadata"].get("labels") or {})
    smeta = spec.get("metadata") or {}
    if smeta.get("labels") is not None:
        labels.update(smeta["labels"])
    _set(meta, "labels", labels)
    if smeta.get("annotations") is not None:
        _set(meta, "annotations", dict(smeta["annotations"]))

    crd_spec: Obj = {
        "group": spec["group"],
        "names": names,
        "scope": "Namespaced" if scope == SCOPE_NAMESPACED else "Cluster",
        "versions": [],
    }
    _set(crd_spec, "conversion", copy.deepcopy(spec.get("conversion")))

    for vr in spec["versions"]:
        crdv = _gen_crd_version(vr, MAX_COMPOSITE_NAME_LENGTH)
        crdv["additionalPrinterColumns"] = [
            *crdv.get("additionalPrinterColumns", []),
            *composite_resource_printer_columns(scope),
        ]
        props = crdv["schema"]["openAPIV3Schema"]["properties"]
        props["spec"]["properties"].update(composite_resource_spec_props(scope, default_policy))
        props["status"]["properties"].update(composite_resource_status_props(scope))
        crd_spec["versions"].append(crdv)

    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta,
        "spec": crd_spec,
    }
