"""The cluster works: SQL through the gateway, failover without losing a write.

`examples/minimal.yaml` exactly as `make render` prints it, applied with server-side
apply; every figure goes to tests/e2e/results/latest.json. The scenarios run in file
order on one cluster: apply, then the failovers, each starting from a healthy cluster.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from function.defaults.upstream import MULTIGRES_COMMIT
from tests.e2e.kube import Kube
from tests.e2e.multigres import Demo, max_gap
from tests.e2e.render import ROOT

MINIMAL = ROOT / "examples" / "minimal.yaml"
TABLE = "e2e_writes"


@pytest.fixture(scope="module")
def demo(kube: Kube, results: dict[str, Any]) -> Demo:
    d = Demo(kube, MINIMAL)
    d.delete_all(keep_pvcs=False)  # a reused cluster starts from nothing too
    t0 = time.monotonic()
    objs = d.apply()
    d.client()
    ready = d.wait_ready(objs, timeout=300)
    results["apply_to_ready_pods_s"] = round(ready, 1)

    def first_write() -> bool:
        d.sql(
            f"create table if not exists {TABLE} (id bigint primary key, at timestamptz default now())"
        )
        return d.sql(f"insert into {TABLE}(id) values (0) on conflict do nothing returning id") in (
            "0\n",
            "",
        )

    kube.wait_for(
        "the first committed write through the gateway", first_write, 240, d.ns, d.selector()
    )
    results["apply_to_first_write_s"] = round(time.monotonic() - t0, 1)
    results["multigres_commit"] = MULTIGRES_COMMIT
    results["postgres_version"] = d.sql("show server_version").strip()
    return d


def test_sql_through_the_gateway(demo: Demo) -> None:
    demo.sql("create table if not exists e2e_smoke (k text primary key, v int)")
    demo.sql(
        "insert into e2e_smoke values ('a', 1), ('b', 2) on conflict (k) do update set v = excluded.v"
    )
    assert demo.sql("select k, v from e2e_smoke order by k") == "a|1\nb|2\n"
    primary = demo.primary()
    assert primary, "no single primary among the Postgres instances"
    standbys = [p for p in demo.poolers() if p != primary]
    assert standbys, "no standby"
    for pod in standbys:  # replicated synchronously: the row is on every standby

        def replicated(pod: str = pod) -> bool:
            return demo.local_sql(pod, "select count(*) from e2e_smoke").strip() == "2"

        demo.kube.wait_for(f"the row on standby {pod}", replicated, 30)


def failover(demo: Demo, results: dict[str, Any], key: str, kill: str) -> None:
    primary = demo.primary()
    assert primary, "no primary before the failover"
    demo.start_writer(TABLE, seconds=75)
    demo.kube.wait_for(
        "the writer's first acknowledged writes", lambda: len(demo.acked()) >= 20, 60, demo.ns
    )
    killed_at = time.time()
    if kill == "pod":
        demo.kube.kubectl(
            "delete", "pod", "-n", demo.ns, primary, "--grace-period=0", "--force", "--wait=false"
        )
    else:  # SIGKILL the postmaster, leaving the pod and its pgctld alive
        demo.kube.exec(
            demo.ns,
            primary,
            "bash",
            "-c",
            "kill -9 $(head -1 $PGDATA/postmaster.pid)",
            container="postgres",
        )

    def resumed() -> bool:
        return any(t > killed_at + 0.5 for _, t in demo.acked())

    demo.kube.wait_for(
        f"writes to resume after killing the primary's {kill}",
        resumed,
        120,
        demo.ns,
        demo.selector(),
    )
    demo.kube.wait_for("the writer to finish", demo.writer_done, 120, demo.ns)
    acked = demo.acked()
    present = {int(x) for x in demo.sql(f"select id from {TABLE}").split()}
    lost = sorted(i for i, _ in acked if i not in present)
    gap = max_gap(acked, killed_at)
    results[f"{key}_gap_s"] = round(gap, 1)
    results.setdefault("acknowledged_writes", 0)
    results["acknowledged_writes"] += len(acked)
    results.setdefault("lost_writes", 0)
    results["lost_writes"] += len(lost)
    assert not lost, f"{len(lost)} acknowledged writes are missing: {lost[:20]}"
    demo.sql(f"truncate {TABLE}")
    new_primary = demo.primary()
    assert new_primary, "no single primary after the failover"
    demo.kube.wait_pods_ready(demo.ns, demo.selector("multipooler"), len(demo.poolers()), 180)


def test_failover_pod_deleted(demo: Demo, results: dict[str, Any]) -> None:
    failover(demo, results, "failover", "pod")


def test_failover_postgres_killed(demo: Demo, results: dict[str, Any]) -> None:
    failover(demo, results, "failover_postgres_killed", "postgres")
