"""Kubernetes quantities, table-driven: parsing to exact base units, and formatting back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from function.quantity import fmt, quantity

PARSE: list[tuple[str | int | float, Decimal]] = [
    ("0", Decimal(0)),
    ("1", Decimal(1)),
    (3, Decimal(3)),
    (2.0, Decimal(2)),
    ("1.5", Decimal("1.5")),
    (".5", Decimal("0.5")),
    ("+2", Decimal(2)),
    ("-1", Decimal(-1)),
    ("-1Gi", Decimal(-(2**30))),
    ("500m", Decimal("0.5")),
    ("100m", Decimal("0.1")),
    ("250u", Decimal("0.00025")),
    ("7n", Decimal("7e-9")),
    ("1k", Decimal(1000)),
    ("1M", Decimal(10**6)),
    ("1G", Decimal(10**9)),
    ("1T", Decimal(10**12)),
    ("1P", Decimal(10**15)),
    ("1E", Decimal(10**18)),  # exa, not an exponent
    ("1Ki", Decimal(1024)),
    ("1Mi", Decimal(2**20)),
    ("10Gi", Decimal(10 * 2**30)),
    ("1.5Gi", Decimal(3 * 2**29)),
    ("1Ti", Decimal(2**40)),
    ("1Pi", Decimal(2**50)),
    ("1Ei", Decimal(2**60)),
    ("1e3", Decimal(1000)),  # exponent
    ("1E3", Decimal(1000)),
    ("2e-3", Decimal("0.002")),
    ("1.5e2", Decimal(150)),
]


@pytest.mark.parametrize(("text", "value"), PARSE, ids=[str(t) for t, _ in PARSE])
def test_parse(text: str | int | float, value: Decimal) -> None:
    assert quantity(text) == value


ORDER = [("999Mi", "1Gi"), ("1G", "1Gi"), ("1000m", "1.5"), ("1Gi", "1025Mi"), ("-1", "0")]


@pytest.mark.parametrize(("small", "big"), ORDER, ids=[f"{a}<{b}" for a, b in ORDER])
def test_order(small: str, big: str) -> None:
    assert quantity(small) < quantity(big)


BAD = ["", "1Gi\n", "Gi", "1Gb", "ten", "1.2.3", "1 Gi", "nan", "inf", "0x10", "1GiB", "--1"]


@pytest.mark.parametrize("text", BAD)
def test_not_a_quantity(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity(text)


FORMAT: list[tuple[Decimal | None, str]] = [
    (None, "?"),
    (Decimal(10 * 2**30), "10Gi"),
    (Decimal(1536 * 2**20), "1536Mi"),
    (Decimal(2**40), "1Ti"),
    (Decimal(1024), "1Ki"),
    (Decimal(1000), "1000"),
    (Decimal("0.5"), "0.5"),
]


@pytest.mark.parametrize(("value", "text"), FORMAT, ids=[t for _, t in FORMAT])
def test_format(value: Decimal | None, text: str) -> None:
    assert fmt(value) == text
