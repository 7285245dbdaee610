"""The Postgres parameter table is the pinned binary's, and is shaped as the validator reads it.

The drift test regenerates the table from the binary (hack/pg_parameters.py: the e2e
rootfs's `postgres --describe-config` and `pg_settings`) when it can run here (root and a
cached rootfs) and compares byte for byte; elsewhere it is skipped, saying why.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hack import pg_parameters
from tests.helpers import ROOT

TABLE = json.loads(pg_parameters.TABLE.read_text())
PARAMS = TABLE["parameters"]


def test_table_is_the_binarys() -> None:
    why = pg_parameters.available()
    if why:
        pytest.skip(f"cannot run the pinned postgres here: {why}")
    r = subprocess.run(
        [sys.executable, "-m", "hack.pg_parameters", "--print"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == pg_parameters.TABLE.read_text(), (
        "function/defaults/pg_parameters.json drifted from the pinned binary: run make generate"
    )


def test_table_is_postgres_17() -> None:
    assert "PostgreSQL) 17." in TABLE["postgres"]
    assert len(PARAMS) > 300


@pytest.mark.parametrize(
    ("name", "context", "typ", "unit"),
    [
        ("shared_buffers", "postmaster", "integer", "8kB"),
        ("work_mem", "user", "integer", "kB"),
        ("max_connections", "postmaster", "integer", None),
        ("max_wal_size", "sighup", "integer", "MB"),
        ("effective_cache_size", "user", "integer", "8kB"),
        ("maintenance_work_mem", "user", "integer", "kB"),
        ("log_min_duration_statement", "superuser", "integer", "ms"),
        ("wal_level", "postmaster", "enum", None),
        ("random_page_cost", "user", "real", None),
    ],
)
def test_known_entries(name: str, context: str, typ: str, unit: str | None) -> None:
    e = PARAMS[name]
    assert (e["context"], e["type"], e.get("unit")) == (context, typ, unit)


def test_every_entry_is_complete() -> None:
    for name, e in PARAMS.items():
        assert e["context"] in {
            "postmaster",
            "sighup",
            "superuser",
            "user",
            "superuser-backend",
            "backend",
        }, name
        assert e["type"] in {"bool", "integer", "real", "string", "enum"}, name
        if e["type"] in ("integer", "real"):
            assert e["min"] <= e["max"], name
        if e["type"] == "enum":
            assert e["enum"], name
