"""Every emitted object validates against the Kubernetes JSON schemas (strict)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from function.builders import build
from function.resolve import resolve_xr
from tests.helpers import VALID_EXAMPLES, load, xr

K8S_VERSION = "1.37.0"
# Crossplane's own kinds have no schema in kubernetes-validate; the API server tier
# (tests/apiserver) installs their CRDs and checks them there.
CROSSPLANE_KINDS = {"Usage"}

CASES = [(p.name, load(p)) for p in VALID_EXAMPLES] + [
    (
        "all-optional-objects",
        xr(
            networkPolicy={"enabled": True},
            multigateway={"autoscaling": {"enabled": True}},
            multipooler={"autoscaling": {"enabled": True}},
            multiorch={"autoscaling": {"enabled": True}},
        ),
    ),
]


@pytest.mark.parametrize(("name", "x"), CASES, ids=[c[0] for c in CASES])
def test_objects_validate_strict(name: str, x: dict) -> None:
    objs = build(resolve_xr(x))
    checked = 0
    for key, obj in objs.items():
        if obj["kind"] in CROSSPLANE_KINDS:
            continue
        doc = {**obj, "metadata": {**obj["metadata"], "namespace": x["metadata"]["namespace"]}}
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}/{key} ({obj['kind']}): {e.message} at {list(e.path)}")
        checked += 1
    assert checked >= 12


def test_validator_bites() -> None:
    """A wrong field type must be caught, or the test above proves nothing."""
    objs = build(resolve_xr(xr()))
    bad = dict(objs["etcd-service"])
    bad["spec"] = {**bad["spec"], "ports": [{"port": "not-a-number", "name": "x"}]}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    bad["spec"] = {**objs["etcd-service"]["spec"], "bogusField": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_cached_validator_agrees() -> None:
    """tests/k8s_schema (used by the property tests) rejects what kubernetes-validate rejects."""
    import jsonschema

    from tests import k8s_schema

    objs = build(resolve_xr(xr()))
    good = {
        **objs["etcd-service"],
        "metadata": {**objs["etcd-service"]["metadata"], "namespace": "d"},
    }
    k8s_schema.validate(good)
    kubernetes_validate.validate(good, K8S_VERSION, strict=True)
    bad = {**good, "spec": {**good["spec"], "bogusField": 1}}
    with pytest.raises(jsonschema.ValidationError):
        k8s_schema.validate(bad)


def test_schema_dir_exists() -> None:
    assert Path(kubernetes_validate.__file__).parent.joinpath("kubernetes-json-schema").is_dir()
