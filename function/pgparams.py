"""PostgreSQL parameter values checked the way the pinned server checks them.

The table (defaults/pg_parameters.json) is generated from the pinned binary
(hack/pg_parameters.py), so a name, context, type, unit, bound or enum value here is the
server's own. The parsing follows PostgreSQL 17's guc.c (`parse_bool`, `parse_int`,
`parse_real`, `convert_to_base_unit`, `config_enum_lookup_by_name`): a value that passes
here is one the server accepts from postgresql.conf, and one that fails would make it
skip the line (reload) or refuse to start (postmaster) with an error only the pod log
shows. Here it is a Fatal naming the parameter, before anything is composed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).resolve().parent / "defaults" / "pg_parameters.json"

#: Memory units in kB and time units in ms, as guc.c's unit tables (units are case-sensitive).
MEMORY_UNITS = {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
#: A parameter's base unit (pg_settings.unit) in kB or ms.
BASE_UNITS = {"B": 1 / 1024, "kB": 1, "8kB": 8, "MB": 1024, "s": 1000, "ms": 1, "min": 60_000}
_MEMORY_BASES = {"B", "kB", "8kB", "MB"}

#: A number as strtol(base 0) or strtod reads it, then an optional unit (guc.c parse_int).
_NUMBER = re.compile(
    r"\s*(?P<num>[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?))\s*(?P<unit>[a-zA-Z]*)\s*"
)
_OCTAL = re.compile(r"[-+]?0[0-7]+")
_BOOL_WORDS = ("true", "false", "yes", "no")


@dataclass(frozen=True, slots=True)
class Param:
    """One row of the table: what pg_settings says about a parameter."""

    name: str
    context: str
    type: str
    unit: str | None
    min: float | None
    max: float | None
    enum: tuple[str, ...]
    default: str

    @property
    def needs_restart(self) -> bool:
        """postmaster parameters are read only at server start (pg_settings.context)."""
        return self.context == "postmaster"


@cache
def table() -> dict[str, Param]:
    """Keyed by the lower-case name: names are case-insensitive (DateStyle = datestyle)
    and the API takes them in lower case only."""
    raw: dict[str, Any] = json.loads(TABLE_PATH.read_text())["parameters"]
    return {
        n.lower(): Param(
            n.lower(),
            e["context"],
            e["type"],
            e.get("unit"),
            e.get("min"),
            e.get("max"),
            tuple(e.get("enum", ())),
            e["default"],
        )
        for n, e in raw.items()
    }


@cache
def server_version() -> str:
    """'PostgreSQL 17.12', from the table's `postgres --version`."""
    raw = str(json.loads(TABLE_PATH.read_text())["postgres"])
    m = re.search(r"PostgreSQL\) (\S+)", raw)
    return f"PostgreSQL {m[1]}" if m else raw


def parse_bool(v: str) -> bool | None:
    """guc.c parse_bool: on/off, true/false, yes/no (any unique prefix), 1/0; any case."""
    s = v.strip().lower()
    if s in ("1", "on"):
        return True
    if s in ("0", "of", "off"):
        return False
    for word in _BOOL_WORDS:
        if s and word.startswith(s):
            return word in ("true", "yes")
    return None


def _number(v: str, p: Param) -> tuple[float | None, str]:
    """The value in the parameter's base unit, or (None, why not)."""
    m = _NUMBER.fullmatch(v)
    if not m:
        return None, f"{v!r} is not a number"
    text, unit = m["num"], m["unit"]
    digits = text.lstrip("+-")
    if digits[:2].lower() == "0x":
        num = float(int(text, 16))
    elif p.type == "integer" and _OCTAL.fullmatch(text):
        num = float(int(text, 8))  # strtol base 0: a leading 0 is octal
    elif p.type == "integer" and len(digits) > 1 and digits[0] == "0" and digits.isdigit():
        return None, f"{v!r} is not a number (a leading 0 means octal)"
    else:
        num = float(text)
    if not unit:
        return num, ""
    if p.unit is None:
        return None, f"{p.name} takes no unit (got {unit!r})"
    units = MEMORY_UNITS if p.unit in _MEMORY_BASES else TIME_UNITS
    if unit not in units:
        kind = "memory" if p.unit in _MEMORY_BASES else "time"
        return None, (
            f"{v!r}: {unit!r} is not a {kind} unit; "
            f"valid units are {', '.join(units)} (case-sensitive)"
        )
    return num * units[unit] / BASE_UNITS[p.unit], ""


def _show(x: float, p: Param) -> str:
    """A base-unit number as the user reads it (8kB pages shown in kB)."""
    unit = p.unit or ""
    if unit == "8kB":
        x, unit = x * 8, "kB"
    text = str(int(x)) if float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"
    return text + unit


def value_error(p: Param, v: str) -> str | None:
    """Why the server would refuse `v` for `p`, or None when it would accept it."""
    if any(ch in v for ch in "\n\r\0"):
        return "a value can not contain a line break or NUL (postgresql.conf is line-based)"
    if p.type == "bool":
        if parse_bool(v) is None:
            return f"{v!r} is not a boolean (on/off, true/false, yes/no, 1/0)"
        return None
    if p.type == "enum":
        if v.strip().lower() not in {e.lower() for e in p.enum}:
            return f"{v!r} is not one of {', '.join(p.enum)}"
        return None
    if p.type == "string":
        return None
    num, why = _number(v, p)
    if num is None:
        return why
    if p.type == "integer":
        if not math.isfinite(num):
            return f"{v!r} is not a finite number"
        num = float(round(num))  # guc.c rounds to the base unit (rint: half to even)
    assert p.min is not None and p.max is not None
    if not p.min <= num <= p.max:
        return (
            f"{v!r} is {_show(num, p)}, outside the valid range "
            f"{_show(p.min, p)} .. {_show(p.max, p)}"
        )
    return None


def base_value(p: Param, v: str) -> float:
    """A valid numeric value in the parameter's base unit (for rules across parameters)."""
    num, why = _number(v, p)
    if num is None:
        raise ValueError(why)
    return float(round(num)) if p.type == "integer" else num


def quote(v: str) -> str:
    """A postgresql.conf string literal: single quotes, ' doubled, backslash escaped."""
    return "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"
