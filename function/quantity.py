"""Kubernetes quantities ("500m", "10Gi", "1e3") as exact numbers of base units."""

from __future__ import annotations

import re
from decimal import Decimal

#: The API server's quantity syntax (also the XRD's pattern for storage sizes).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY = re.compile(QUANTITY_PATTERN)

SUFFIX: dict[str, Decimal] = {
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30),
    "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
}  # fmt: skip


def quantity(q: str | int | float) -> Decimal:
    """Parse a quantity into base units; ValueError if it is not one.

    A trailing "E" is the exa suffix ("1E" = 10**18); an exponent needs digits after it
    ("1E3" = 1000), which no suffix matches.
    """
    s = str(q)
    if not _QUANTITY.fullmatch(s):
        raise ValueError(f"{q!r} is not a Kubernetes quantity")
    number, scale = s, Decimal(1)
    for suf in SUFFIX:  # no one-letter suffix ends a two-letter one: order is free
        if s.endswith(suf):
            number, scale = s[: -len(suf)], SUFFIX[suf]
            break
    return Decimal(number) * scale


def fmt(q: Decimal | None) -> str:
    """A byte count in the largest binary unit that divides it ("10Gi"), else as is."""
    if q is None:
        return "?"
    for suf in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = SUFFIX[suf]
        if q >= unit and q % unit == 0:
            return f"{q // unit}{suf}"
    return str(q)
