"""Every sizing rule, one row per container shape, checked against the generated table.

Rows give the postgres container's resources and the volume size and the parameters the
rules must produce; every produced value must also be one the pinned server accepts
(value_error against function/defaults/pg_parameters.json), at every size.
"""

from __future__ import annotations

from typing import Any

import pytest

from function.api_parts import Resources
from function.pgparams import table, value_error
from function.pgsizing import CONSERVATIVE_MEMORY, size, size_text
from function.resolve import resolve_xr
from tests.helpers import xr

T = table()

ROWS: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    (
        "built-in 512Mi limit",
        {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "10Gi",
        {
            "shared_buffers": "128MB",  # 25%
            "effective_cache_size": "384MB",  # 75%
            "maintenance_work_mem": "32MB",  # 1/16
            "work_mem": "1092kB",  # (512 - 128) MiB / (3 x 120) / 1
            "max_connections": "120",
            "max_wal_size": "2560MB",  # 10Gi / 4
        },
    ),
    (
        "4Gi, 4 cores: parallel workers",
        {"limits": {"memory": "4Gi", "cpu": "4"}},
        "100Gi",
        {
            "shared_buffers": "1GB",
            "effective_cache_size": "3GB",
            "maintenance_work_mem": "256MB",
            "work_mem": "4369kB",  # 3 GiB / 360 / 2
            "max_parallel_workers_per_gather": "2",
            "max_parallel_maintenance_workers": "2",
            "max_parallel_workers": "4",
            "max_worker_processes": "6",  # pgctld's template floor
            "max_wal_size": "4GB",  # capped
        },
    ),
    (
        "64Gi, 16 cores from the request",
        {"requests": {"cpu": "16"}, "limits": {"memory": "64Gi"}},
        "1Gi",
        {
            "shared_buffers": "16GB",
            "effective_cache_size": "48GB",
            "maintenance_work_mem": "2GB",  # capped
            "work_mem": "34952kB",  # 48 GiB / 360 / 4 (per gather capped at 4)
            "max_parallel_workers_per_gather": "4",
            "max_worker_processes": "16",
            "max_wal_size": "256MB",
        },
    ),
    (
        "tiny: floors",
        {"limits": {"memory": "32Mi"}},
        "100Mi",
        {
            "shared_buffers": "8MB",
            "maintenance_work_mem": "2MB",
            "work_mem": "68kB",
            "max_wal_size": "64MB",  # floor
        },
    ),
    (
        "3 cores: below the parallel threshold",
        {"limits": {"memory": "1Gi", "cpu": "3"}},
        "10Gi",
        {"shared_buffers": "256MB", "work_mem": "2184kB"},
    ),
]


@pytest.mark.parametrize(("why", "res", "storage", "want"), ROWS, ids=[r[0] for r in ROWS])
def test_sizing_rule(why: str, res: dict[str, Any], storage: str, want: dict[str, str]) -> None:
    got = size(Resources.model_validate(res), storage)
    for name, value in want.items():
        assert got.parameters.get(name) == value, (why, name, got.parameters)
    if "cpu" not in str(res) or why.startswith("3 cores"):
        assert "max_parallel_workers_per_gather" not in got.parameters
    for name, value in got.parameters.items():
        assert value_error(T[name], value) is None, (name, value)


@pytest.mark.parametrize("memory", ["1Mi", "16Mi", "100Mi", "1Gi", "7Gi", "1Ti", "64Ti"])
@pytest.mark.parametrize("storage", ["1Mi", "1Gi", "10Gi", "10Ti"])
def test_every_size_is_accepted_by_the_server(memory: str, storage: str) -> None:
    got = size(Resources.model_validate({"limits": {"memory": memory, "cpu": "64"}}), storage)
    for name, value in got.parameters.items():
        assert value_error(T[name], value) is None, (memory, storage, name, value)


def test_no_memory_limit_is_conservative_and_says_so() -> None:
    got = size(Resources.model_validate({"requests": {"memory": "64Gi"}}), "10Gi")
    at_default = size(Resources.model_validate({"limits": {"memory": "512Mi"}}), "10Gi")
    assert got.parameters == at_default.parameters  # sized as for 512Mi, not from the request
    assert got.memory_limit is None and CONSERVATIVE_MEMORY == 512 * 1024 * 1024
    assert "no memory limit" in got.basis and "limits.memory" in got.basis


@pytest.mark.parametrize(
    ("user", "want_work_mem"),
    [
        ({"max_connections": "200"}, "655kB"),  # 384 MiB / (3 x 200)
        ({"shared_buffers": "256MB"}, "728kB"),  # (512 - 256) MiB / 360
        ({"max_parallel_workers_per_gather": "2"}, "546kB"),
    ],
)
def test_work_mem_follows_the_users_divisors(user: dict[str, str], want_work_mem: str) -> None:
    c = resolve_xr(xr(postgres={"passwordSecretRef": {"name": "p"}, "parameters": user}))
    assert c.pg.parameters["work_mem"] == want_work_mem
    for name, value in user.items():
        assert c.pg.parameters[name] == value  # the user's value wins


def test_user_value_wins_over_sizing() -> None:
    c = resolve_xr(
        xr(postgres={"passwordSecretRef": {"name": "p"}, "parameters": {"work_mem": "8MB"}})
    )
    assert c.pg.parameters["work_mem"] == "8MB" and "work_mem" in c.pg.user


@pytest.mark.parametrize(
    ("b", "text"),
    [
        (0, "0kB"),
        (1023, "0kB"),
        (1024, "1kB"),
        (1536 * 1024, "1536kB"),
        (2**20, "1MB"),
        (3 * 2**30, "3GB"),
    ],
)
def test_size_text(b: int, text: str) -> None:
    assert size_text(b) == text
