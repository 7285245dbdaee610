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
