"""The XRD, as the CRD Crossplane creates from it, judged by a real API server.

`apis/definition.yaml` is converted with `xrd_to_crd.for_composite_resource` (a
transcription of Crossplane v2.2.4 internal/xcrd) and installed. Then:
  - every valid example is accepted, and what the server stores (with its schema
    defaults applied — what Crossplane hands the function) renders exactly like the
    example itself, so schema defaults and model defaults agree;
  - every examples/invalid/*.yaml is rejected with the message its header documents;
  - the CEL transition rules bite on update, and allow what they should allow.

examples/invalid/*.yaml format (comment lines at the top):
    # expect: <substring of the API server's error message>
    # expect-field: <field path>  (optional: the server names it, or a parent of it)
    # rejected-by: function      (optional: the schema can not express the rule; then
    #                             function.fn.desired_objects must raise SpecError
    #                             whose "field: reason" contains the substring)
A file with several YAML documents is an update: every document but the last is
applied first and must be accepted; the last must be rejected.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_harness import ApiError, ControlPlane, Kube
from rendered import EXAMPLES, ROOT, example_xrs, render
from xrd_to_crd import for_composite_resource

XRD = ROOT / "apis" / "definition.yaml"
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def xr_crd(kube: Kube) -> Obj:
    crd = for_composite_resource(yaml.safe_load(XRD.read_text()))
    return kube.install_crd(crd)


def _in(xr: Obj, namespace: str) -> Obj:
    xr = copy.deepcopy(xr)
    xr["metadata"]["namespace"] = namespace
    return xr


def _strip(live: Obj) -> Obj:
    """The XR as a user wrote it, but with the server's defaults: drop server metadata."""
    meta = live["metadata"]
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    return {"apiVersion": live["apiVersion"], "kind": live["kind"], "metadata": keep,
            "spec": live["spec"]}  # fmt: skip


# -- the converter is Crossplane's ------------------------------------------------------
_SYNTHETIC_SCHEMA = {
    "type": "object",
    "description": "root",
    "x-kubernetes-validations": [{"rule": "self.metadata.name.size() < 40"}],
    "properties": {
        "metadata": {"type": "object", "properties": {"name": {"maxLength": 30}}},
        "spec": {
            "type": "object",
            "description": "spec",
            "required": ["a"],
            "default": {"dropped": True},
            "x-kubernetes-preserve-unknown-fields": False,
            "x-kubernetes-validations": [{"rule": "has(self.a)", "message": "a"}],
            "properties": {
                "a": {"type": "string"},
                "crossplane": {"type": "string", "description": "overridden"},
            },
        },
        "status": {
            "type": "object",
            "description": "status",
            "required": ["b"],
            "properties": {"b": {"type": "integer"}, "conditions": {"type": "string"}},
        },
        "extra": {"type": "string"},
    },
}
SYNTHETIC_XRDS = {
    "v2-cluster": {
        "apiVersion": "apiextensions.crossplane.io/v2",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": "xthings.example.org", "labels": {"a": "1"}},
        "spec": {
            "scope": "Cluster",
            "group": "example.org",
            "names": {"kind": "XThing", "plural": "xthings", "categories": ["c"]},
            "defaultCompositionUpdatePolicy": "Manual",
            "metadata": {"labels": {"b": "2"}, "annotations": {"note": "v"}},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "referenceable": False,
                    "deprecated": True,
                    "deprecationWarning": "use v1",
                    "schema": {"openAPIV3Schema": _SYNTHETIC_SCHEMA},
                },
                {
                    "name": "v1",
                    "served": True,
                    "referenceable": True,
                    "additionalPrinterColumns": [
                        {"name": "A", "type": "string", "jsonPath": ".spec.a"}
                    ],
                    "schema": {"openAPIV3Schema": _SYNTHETIC_SCHEMA},
                },
            ],
        },
    },
    "v1-legacy": {
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": "xolds.example.org"},
        "spec": {
            "group": "example.org",
            "names": {"kind": "XOld", "plural": "xolds"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "referenceable": True,
                    "schema": {"openAPIV3Schema": _SYNTHETIC_SCHEMA},
                }
            ],
        },
    },
}


@pytest.mark.parametrize("name", ["apis/definition.yaml", *SYNTHETIC_XRDS])
def test_converter_matches_crossplane(
    control_plane: ControlPlane, tmp_path: Path, name: str
) -> None:
    """xrd_to_crd.py gives the same CRD as Crossplane's own internal/xcrd (built into
    xcrd-dump by hack/apiserver/install.sh), for our XRD and for synthetic XRDs that
    exercise every branch (scopes, dropped schema keys, metadata, printer columns)."""
    if name in SYNTHETIC_XRDS:
        path = tmp_path / "xrd.yaml"
        path.write_text(yaml.safe_dump(SYNTHETIC_XRDS[name]))
    else:
        path = ROOT / name
    out = subprocess.run(
        [str(control_plane.bindir / "xcrd-dump"), str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    want = json.loads(out.stdout)
    want["metadata"].pop("ownerReferences", None)  # omitted on purpose, see xrd_to_crd.py
    want["metadata"].pop("creationTimestamp", None)
    want.pop("status", None)
    got = for_composite_resource(yaml.safe_load(path.read_text()))
    assert (got.pop("apiVersion"), got.pop("kind")) == (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
    )  # the Go object has no TypeMeta; the client sets it
    assert json.loads(json.dumps(got)) == want


# -- Crossplane's own CRDs accept what apis/ and package/ ship --------------------------
@pytest.fixture(scope="module")
def crossplane_crds(kube: Kube, control_plane: ControlPlane) -> None:
    """Crossplane's own XRD and Composition CRDs, from the Go module cache (install.sh)."""
    crds = control_plane.bindir / "crossplane-crds"
    for name in (
        "apiextensions.crossplane.io_compositeresourcedefinitions.yaml",
        "apiextensions.crossplane.io_compositions.yaml",
    ):
        kube.install_crd(yaml.safe_load((crds / name).read_text()))


def test_xrd_accepted_by_crossplane(kube: Kube, crossplane_crds: None) -> None:
    """apis/definition.yaml passes Crossplane v2.2.4's own XRD CRD (schema and CEL)."""
    res = kube.create(yaml.safe_load(XRD.read_text()), dry_run=True, strict=True)
    assert not res.warnings, res.warnings


def test_composition_accepted_by_crossplane(kube: Kube, crossplane_crds: None) -> None:
    """apis/composition.yaml passes Crossplane v2.2.4's own Composition CRD."""
    composition = yaml.safe_load((ROOT / "apis" / "composition.yaml").read_text())
    res = kube.create(composition, dry_run=True, strict=True)
    assert not res.warnings, res.warnings


def test_function_input_crd_and_composition_input(kube: Kube, namespace: str) -> None:
    """package/input's CRD installs (Crossplane's package manager applies it to the
    cluster), and the Composition's function input is a valid object of it."""
    for path in sorted((ROOT / "package" / "input").glob("*.yaml")):
        try:
            kube.install_crd(yaml.safe_load(path.read_text()))
        except ApiError as e:
            pytest.fail(f"{path.relative_to(ROOT)} is refused by the API server: {e.message}")
    composition = yaml.safe_load((ROOT / "apis" / "composition.yaml").read_text())
    steps = [s for s in composition["spec"]["pipeline"] if "input" in s]
    assert steps, "the Composition has no function input to check"
    for step in steps:
        obj = copy.deepcopy(step["input"])
        obj["metadata"] = {"name": step["step"], "namespace": namespace}
        res = kube.create(obj, dry_run=True, strict=True)
        assert not res.warnings, res.warnings


# -- valid examples ----------------------------------------------------------------------
EXAMPLE_XRS = example_xrs()


@pytest.mark.parametrize("xr", [x for _, x in EXAMPLE_XRS], ids=[i for i, _ in EXAMPLE_XRS])
def test_valid_example_accepted(kube: Kube, xr_crd: Obj, namespace: str, xr: Obj) -> None:
    """The example is accepted (strict field validation, no warnings), and the stored (defaulted) XR renders exactly like the
    example does: XRD defaults == model defaults."""
    res = kube.create(_in(xr, namespace), strict=True)
    assert not res.warnings, res.warnings
    live = res.obj
    from_server = render(_strip(live), namespace)
    from_example = render(_in(xr, namespace), namespace)
    differ = sorted(k for k in from_server.keys() | from_example.keys()
                    if from_server.get(k) != from_example.get(k))  # fmt: skip
    assert not differ, f"schema defaults and model defaults disagree; objects differ: {differ}"


# -- invalid examples --------------------------------------------------------------------
def _header(path: Path) -> dict[str, str]:
    head: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            if line.strip() and not line.startswith("---"):
                break
            continue
        body = line.lstrip("#").strip()
        for key in ("expect-field", "expect", "rejected-by"):
            if body.lower().startswith(key + ":"):
                head[key] = body.split(":", 1)[1].strip()
    return head


def test_invalid_examples_exist() -> None:
    assert INVALID, "examples/invalid/*.yaml: expected invalid examples to check"
    for path in INVALID:
        assert _header(path).get("expect"), f"{path.name}: missing '# expect: <message>' header"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_example_rejected(kube: Kube, xr_crd: Obj, namespace: str, path: Path) -> None:
    """The invalid example is refused with its documented message (on create, or on the
    update for a multi-document file)."""
    head = _header(path)
    expect = head["expect"]
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    *before, bad = [_in(d, namespace) for d in docs]

    if head.get("rejected-by", "server") == "function":
        from function.api import SpecError
        from function.fn import desired_objects

        with pytest.raises(SpecError) as err:
            desired_objects(bad)
        assert expect in f"{err.value.field}: {err.value.reason}"
        return

    # As `kubectl apply -f` would: create, then update, with strict field validation.
    for i, doc in enumerate(before):
        (kube.replace if i else kube.create)(doc, strict=True)
    with pytest.raises(ApiError) as err:
        (kube.replace if before else kube.create)(bad, strict=True)
    # 422 Invalid (schema, CEL), or 400 BadRequest (strict decoding: unknown field)
    assert err.value.status in (400, 422), err.value
    assert expect in err.value.message, f"expected {expect!r} in: {err.value.message}"
    field = head.get("expect-field")
    if field:
        # The server names the field, or (a CEL rule on a parent without `fieldPath`)
        # a parent of it: `<path>: <detail>`, `unknown field "<path>"`, or `<nil>: ` for
        # a rule at the root.
        parts = field.split(".")
        paths = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        shapes = [f"{p}: " for p in [*paths, "<nil>"]] + [f'"{field}"']
        assert any(s in err.value.message for s in shapes), (
            f"expected field {field!r} (or a parent) in: {err.value.message}"
        )


# -- CEL transition rules ----------------------------------------------------------------
def _xr(spec_edits: dict[str, Any]) -> Obj:
    spec: Obj = {
        "cells": [{"name": "a"}, {"name": "b"}],
        "etcd": {"replicas": 3, "storage": {"size": "2Gi"}},
        "multipooler": {"storage": {"size": "9Gi"}},
        "backup": {"storage": {"size": "10Gi"}},
        "postgres": {"passwordSecretRef": {"name": "pg"}},
    }
    for path, value in spec_edits.items():
        node = spec
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "XMultigres",
        "metadata": {"name": "tr"},
        "spec": spec,
    }


APPEND_ONLY = "cells are append-only"
NO_SHRINK = "storage size can not shrink"
ETCD_FIXED = "etcd replicas can not change"
CLAIM_FIXED = "backup.existingClaim can not change"
ZONE_FIXED = "a cell's zone can not change"

# (id, edits, expected substring or None when the update must be accepted)
TRANSITIONS: list[tuple[str, dict[str, Any], str | None]] = [
    ("remove-cell", {"cells": [{"name": "a"}]}, APPEND_ONLY),
    ("rename-cell", {"cells": [{"name": "a"}, {"name": "c"}]}, APPEND_ONLY),
    ("append-cell", {"cells": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}, None),
    ("reorder-cells", {"cells": [{"name": "b"}, {"name": "a"}]}, None),
    ("shrink-pooler-storage", {"multipooler.storage.size": "8Gi"}, NO_SHRINK),
    ("shrink-pooler-storage-units", {"multipooler.storage.size": "9000Mi"}, NO_SHRINK),
    # "10Gi" < "9Gi" as strings: accepted only if the rule compares quantities
    ("grow-pooler-storage", {"multipooler.storage.size": "10Gi"}, None),
    ("same-pooler-storage-other-units", {"multipooler.storage.size": "9216Mi"}, None),
    ("shrink-etcd-storage", {"etcd.storage.size": "1Gi"}, NO_SHRINK),
    ("grow-etcd-storage", {"etcd.storage.size": "4Gi"}, None),
    ("shrink-backup-storage", {"backup.storage.size": "1Gi"}, NO_SHRINK),
    ("grow-backup-storage", {"backup.storage.size": "1Ti"}, None),
    ("change-etcd-replicas", {"etcd.replicas": 5}, ETCD_FIXED),
    ("switch-to-existing-claim", {"backup.existingClaim": "shared-backups"}, CLAIM_FIXED),
    (
        "pin-existing-cell-to-zone",
        {"cells": [{"name": "a", "zone": "z1"}, {"name": "b"}]},
        ZONE_FIXED,
    ),
    (
        "new-cell-with-zone",
        {"cells": [{"name": "a"}, {"name": "b"}, {"name": "c", "zone": "z"}]},
        None,
    ),
]


@pytest.mark.parametrize(
    ("edits", "expect"),
    [(e, x) for _, e, x in TRANSITIONS],
    ids=[i for i, _, _ in TRANSITIONS],
)
def test_transition_rule(
    kube: Kube, xr_crd: Obj, namespace: str, edits: dict[str, Any], expect: str | None
) -> None:
    """Create, then update: the transition rules refuse what they must and allow the rest."""
    old = _in(_xr({}), namespace)
    kube.apply(old)
    new = _in(_xr(edits), namespace)
    if expect is None:
        kube.apply(new)
        return
    with pytest.raises(ApiError) as err:
        kube.apply(new)
    assert err.value.status == 422
    assert expect in err.value.message, err.value.message


def _rules(schema: Obj, path: str = "") -> list[tuple[str, Obj]]:
    out = [(path, r) for r in schema.get("x-kubernetes-validations", [])]
    for name, sub in (schema.get("properties") or {}).items():
        out += _rules(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        out += _rules(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        out += _rules(schema["additionalProperties"], f"{path}{{}}")
    return out


def test_every_transition_rule_is_exercised(xr_crd: Obj) -> None:
    """Each oldSelf rule in the CRD is refused by at least one transition test above, so a
    new transition rule can not go untested."""
    schema = xr_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    transition = [(p, r) for p, r in _rules(schema) if "oldSelf" in r["rule"]]
    assert transition, "expected CEL transition rules in the XRD"
    expected = {x for _, _, x in TRANSITIONS if x}
    untested = [f"{p}: {r.get('message', r['rule'])}" for p, r in transition
                if not any(x in r.get("message", "") for x in expected)]  # fmt: skip
    assert not untested, f"transition rules without a test: {untested}"
