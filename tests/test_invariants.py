"""Invariants over every example and a spread of generated XRs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from function.builders import build
from function.resolve import resolve
from tests import invariants
from tests.helpers import VALID_EXAMPLES, load, xr

SPREAD = [
    xr(),
    xr(cells=[{"name": f"c{i}"} for i in range(7)], networkPolicy={"enabled": True}),
    xr(
        name="a" * 25,
        cells=[{"name": "b" * 19}, {"name": "c" * 19}],
        multigateway={"autoscaling": {"enabled": True}},
        multiorch={"autoscaling": {"enabled": True}},
        multipooler={"autoscaling": {"enabled": True}},
    ),
]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_examples_hold_invariants(path: Path) -> None:
    x = load(path)
    invariants.check_all(build(resolve(x)), x["metadata"]["namespace"])


@pytest.mark.parametrize("x", SPREAD, ids=["default", "seven-cells", "longest-names"])
def test_generated_hold_invariants(x: dict[str, Any]) -> None:
    invariants.check_all(build(resolve(x)), "default")


def test_built_objects_share_no_mutable_parts() -> None:
    """Every dict and list in the output is its own: editing one object (the safety guard
    copies first, but callers may not) can never change another or a module constant."""
    objs = build(resolve(SPREAD[2]))
    seen: dict[int, str] = {}

    def walk(v: Any, where: str) -> None:
        if isinstance(v, dict | list):
            assert id(v) not in seen, f"{where} is the same object as {seen[id(v)]}"
            seen[id(v)] = where
            for k, x in v.items() if isinstance(v, dict) else enumerate(v):
                walk(x, f"{where}.{k}")

    for key, o in objs.items():
        walk(o, key)
