"""A custom XR condition, as status computes it and fn.py writes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cond:
    typ: str
    status: str
    reason: str
    message: str = ""
