"""The checked-in XRD, Input CRD and API doc are exactly what the models generate."""

from __future__ import annotations

import subprocess
import sys

from function import gen
from tests.helpers import ROOT


def test_generated_files_are_current() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "function.gen", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_xrd_shape() -> None:
    x = gen.xrd()
    assert x["apiVersion"] == "apiextensions.crossplane.io/v2"
    assert x["spec"]["scope"] == "Namespaced"
    v = x["spec"]["versions"][0]
    spec = v["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["required"] == ["postgres"]
    rules = {r["message"] for r in spec["properties"]["cells"]["x-kubernetes-validations"]}
    assert any("unique" in m for m in rules) and any("append-only" in m for m in rules)
    # images come from the function so Composition input can set them
    assert "default" not in spec["properties"]["images"]["properties"]["multigres"]


def test_schema_is_structural() -> None:
    """No $ref, anyOf with types, nullable unions or additionalProperties: false left over."""
    text = (ROOT / "apis" / "definition.yaml").read_text()
    for bad in ("$ref", "type: 'null'", "additionalProperties: false", "title:"):
        assert bad not in text, bad
