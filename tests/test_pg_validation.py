"""Every rule that refuses a Postgres parameter, one row each, against the generated table.

A row names the parameter, the value and the words the Fatal must contain; the bounds,
units and enum values come from function/defaults/pg_parameters.json (the pinned
binary's), so a row that says "outside the valid range" is checked against the server's
own minimum and maximum, not a copy of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from function.api_types import SpecError
from function.defaults.pg_owned import OWNED
from function.pgparams import parse_bool, quote, table, value_error
from function.resolve import resolve_xr
from tests.helpers import xr

T = table()
INPUT = "multigres.fn.crossplane.io/v1beta1"


def _xr(params: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return xr(postgres={"passwordSecretRef": {"name": "pg"}, "parameters": params}, **spec)


def _fatal(
    params: dict[str, Any], input_params: dict[str, Any] | None = None, **spec: Any
) -> SpecError:
    inp = {
        "apiVersion": INPUT,
        "kind": "Input",
        "defaults": {"postgres": {"parameters": input_params}},
    }
    with pytest.raises(SpecError) as e:
        resolve_xr(_xr(params, **spec), inp if input_params is not None else None)
    return e.value


def _bound(name: str, which: str) -> float:
    v = getattr(T[name], which)
    assert v is not None
    return float(v)


# -- values the server accepts ---------------------------------------------------------
ACCEPTED = [
    ("shared_buffers", "128MB"),
    ("shared_buffers", "16"),  # base unit: 16 pages, the table's minimum
    ("work_mem", "4MB"),
    ("work_mem", "64kB"),  # the minimum
    ("work_mem", "0x100"),  # strtol base 0: hex
    ("work_mem", "0100"),  # strtol base 0: octal 64 = the minimum
    ("work_mem", "1.5MB"),  # fractions with units (PostgreSQL >= 12)
    ("statement_timeout", "1.5min"),
    ("statement_timeout", "5 s"),  # whitespace between number and unit
    ("statement_timeout", "0"),
    ("log_min_duration_statement", "-1"),  # the table's minimum is -1
    ("max_connections", "200"),
    ("random_page_cost", "1.1"),
    ("vacuum_cost_delay", "2ms"),  # a real with a unit
    ("fsync", "on"),
    ("fsync", "OFF"),
    ("fsync", "of"),
    ("fsync", "t"),
    ("fsync", "yes"),
    ("fsync", "0"),
    ("bytea_output", "HEX"),  # enums are case-insensitive
    ("search_path", '"$user", public'),
    ("log_line_prefix", "%m [%p] it's "),  # any string, quoted on render
    ("max_wal_size", "1GB"),
]


@pytest.mark.parametrize(("name", "value"), ACCEPTED)
def test_accepted(name: str, value: str) -> None:
    assert value_error(T[name], value) is None
    resolve_xr(_xr({name: value}))


# -- each refusal rule -----------------------------------------------------------------
REFUSED = [
    # (name, value, words in the reason)
    (
        "shared_buffers",
        "1kB",
        f"outside the valid range {int(_bound('shared_buffers', 'min')) * 8}kB",
    ),
    ("work_mem", "63kB", f"outside the valid range {int(_bound('work_mem', 'min'))}kB"),
    ("work_mem", "010", "is 8kB, outside"),  # octal 8
    ("work_mem", "08", "leading 0 means octal"),
    ("work_mem", "64mb", "'mb' is not a memory unit"),  # units are case-sensitive
    ("work_mem", "5s", "'s' is not a memory unit"),
    ("statement_timeout", "5MB", "'MB' is not a time unit"),
    ("max_connections", "10MB", "takes no unit"),
    ("max_connections", "lots", "is not a number"),
    ("max_connections", str(int(_bound("max_connections", "max")) + 1), "outside the valid range"),
    ("random_page_cost", "-1", "outside the valid range 0"),
    (
        "vacuum_cost_delay",
        "101ms",
        f"outside the valid range 0ms .. {int(_bound('vacuum_cost_delay', 'max'))}ms",
    ),
    ("max_wal_size", "1B", "is 0MB, outside"),
    ("fsync", "o", "is not a boolean"),
    ("fsync", "maybe", "is not a boolean"),
    ("bytea_output", "base64", "is not one of escape, hex"),
    ("log_line_prefix", "a\nb", "line break"),
    ("statement_timeout", "inf", "is not a number"),
]


@pytest.mark.parametrize(("name", "value", "words"), REFUSED)
def test_refused_value(name: str, value: str, words: str) -> None:
    err = _fatal({name: value})
    assert err.field == f"spec.postgres.parameters.{name}"
    assert words in err.reason, err.reason


@pytest.mark.parametrize("name", sorted(OWNED))
def test_owned_refused_with_reason(name: str) -> None:
    err = _fatal({name: T[name].default if name in T else "x"})
    assert err.field == f"spec.postgres.parameters.{name}"
    assert err.reason == f"owned by the cluster, can not be set: {OWNED[name]}"


def test_every_owned_name_is_a_real_parameter() -> None:
    # config_file is refused in a file by the server itself (not in --describe-config's
    # list); it is owned all the same, so the reason names pgctld rather than "unknown".
    assert set(OWNED) - set(T) == {"config_file"}


@pytest.mark.parametrize("name", ["datestyle", "timezone", "intervalstyle"])
def test_mixed_case_server_names_are_taken_in_lower_case(name: str) -> None:
    resolve_xr(_xr({name: T[name].default}))


NAMES = [
    ("shared_buffer", "did you mean 'shared_buffers'?"),
    ("Work_Mem", "lowercase: use 'work_mem'"),
    ("pg_stat_statements.max", "extension parameters"),
    ("no_such_thing", "not a parameter of PostgreSQL 17."),
]


@pytest.mark.parametrize(("name", "words"), NAMES)
def test_unknown_name(name: str, words: str) -> None:
    err = _fatal({name: "1"})
    assert err.field == f"spec.postgres.parameters.{name}"
    assert words in err.reason


def test_value_must_be_a_string() -> None:
    err = _fatal({"max_connections": 200})
    assert err.field == "spec.postgres.parameters.max_connections"


def test_too_many_parameters() -> None:
    err = _fatal({n: T[n].default for n in sorted(set(T) - set(OWNED))[:129]})
    assert err.field == "spec.postgres.parameters" and "at most 128" in err.reason


def test_value_too_long() -> None:
    assert "at most 1024" in _fatal({"search_path": "x" * 1025}).reason


# -- across parameters -----------------------------------------------------------------
def test_reserved_connections_must_leave_one() -> None:
    err = _fatal(
        {"max_connections": "5", "superuser_reserved_connections": "3", "reserved_connections": "2"}
    )
    assert err.field == "spec.postgres.parameters.max_connections"
    assert "(5) must be less than max_connections (5)" in err.reason


def test_shared_buffers_below_memory_limit() -> None:
    err = _fatal({"shared_buffers": "512MB"})
    assert err.field == "spec.postgres.parameters.shared_buffers"
    assert "OOM-killed" in err.reason and "512Mi" in err.reason
    resolve_xr(_xr({"shared_buffers": "384MB"}))


def test_shared_buffers_unbounded_without_a_limit() -> None:
    res = {"multipooler": {"resources": {"postgres": {"requests": {"memory": "256Mi"}}}}}
    resolve_xr(_xr({"shared_buffers": "2GB"}, **res))


# -- the Composition input layer -------------------------------------------------------
def test_input_parameter_is_checked_and_named_as_input() -> None:
    err = _fatal({}, {"work_memory": "4MB"})
    assert err.field == "input.defaults.postgres.parameters.work_memory"


def test_input_owned_refused() -> None:
    assert _fatal({}, {"port": "5433"}).field == "input.defaults.postgres.parameters.port"


def test_xr_over_input_over_sized() -> None:
    inp = {
        "apiVersion": INPUT,
        "kind": "Input",
        "defaults": {"postgres": {"parameters": {"work_mem": "8MB", "statement_timeout": "30s"}}},
    }
    c = resolve_xr(_xr({"work_mem": "16MB"}), inp)
    p = c.pg.parameters
    assert p["work_mem"] == "16MB"  # XR
    assert p["statement_timeout"] == "30s"  # input
    assert p["shared_buffers"] == "128MB"  # sized
    assert c.pg.user == {"work_mem", "statement_timeout"}


def test_cross_rule_names_the_input_when_the_input_set_it() -> None:
    err = _fatal({}, {"max_connections": "3"})
    assert err.field == "input.defaults.postgres.parameters.max_connections"


# -- parsing helpers -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "want"),
    [("on", True), ("of", False), ("tr", True), ("n", False), ("1", True), ("o", None), ("", None)],
)
def test_parse_bool(text: str, want: bool | None) -> None:
    assert parse_bool(text) is want


@pytest.mark.parametrize(
    ("text", "want"), [("a", "'a'"), ("it's", "'it''s'"), ("c:\\x", "'c:\\\\x'")]
)
def test_quote(text: str, want: str) -> None:
    assert quote(text) == want
