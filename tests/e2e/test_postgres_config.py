"""Postgres parameters reach every instance the right way (docs/postgres-configuration.md).

examples/minimal.yaml as `make render` prints it, applied with server-side apply (the
data plane apart from Crossplane), over a backup claim that already holds a stanza a failed first backup
left (tests/e2e/leftover.py): the cluster must bootstrap past it (the pooler pods'
backup-stanza-guard moves it aside, docs/operations.md "Bootstrap livelock"). Then three
edits of spec.postgres.parameters, in file order on one cluster:

1. a reloadable parameter (work_mem): `SHOW` through the gateway gives the new value and
   no pod was replaced or restarted (same pod UIDs, same container restart counts);
2. a restart parameter (max_connections) under the writer of the failover scenarios:
   every pooler pod is replaced, `SHOW` gives the new value, no acknowledged write lost;
3. an invalid parameter: the function answers a Fatal naming it, so there is nothing to
   apply, and the cluster keeps its objects and values.

Figures (seconds to take effect, writes, gaps) go to tests/e2e/results/latest.json.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from function.defaults.upstream import STANZA
from tests.e2e import leftover
from tests.e2e.kube import Kube
from tests.e2e.multigres import Demo, max_gap
from tests.e2e.render import ROOT

MINIMAL = ROOT / "examples" / "minimal.yaml"
TABLE = "e2e_pgconf_writes"
RELOAD = {"work_mem": "7MB"}
RESTART = {**RELOAD, "max_connections": "150"}


def variant(tmp_path: Path, parameters: dict[str, str]) -> Path:
    """examples/minimal.yaml with spec.postgres.parameters set, as a user edits their XR."""
    xr = yaml.safe_load(MINIMAL.read_text())
    xr["spec"]["postgres"]["parameters"] = parameters
    out = tmp_path / "xr.yaml"
    out.write_text(yaml.safe_dump(xr))
    return out


def show(demo: Demo, name: str) -> str:
    return demo.sql(f"show {name}", check=False).strip()


def pod_states(demo: Demo) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every pod of the cluster: its UID and each container's restart count."""
    out = {}
    for p in demo.kube.pods(demo.ns, demo.selector()):
        counts = tuple(
            int(s.get("restartCount", 0)) for s in p.get("status", {}).get("containerStatuses", [])
        )
        out[p["metadata"]["name"]] = (p["metadata"]["uid"], counts)
    return out


@pytest.fixture(scope="module")
def demo(kube: Kube, results: dict[str, Any]) -> Demo:
    d = Demo(kube, MINIMAL)
    d.delete_all(keep_pvcs=False)
    claim = next(o for o in d.objects() if o["metadata"]["name"] == f"{d.name}-backups")
    leftover.seed(kube, d.ns, claim)
    t0 = time.monotonic()
    objs = d.apply()
    d.client()
    kube.wait_for("a pooler refused by the leftover stanza ([028])",
                  lambda: leftover.refusals(kube, d.ns, d.poolers) > 0, 300, d.ns, d.selector(),
                  interval=3)  # fmt: skip
    refused = time.monotonic()
    leftover.age(kube, d.ns, d.poolers()[0])
    d.wait_ready(objs, timeout=420)
    results["pgconf_apply_to_ready_pods_s"] = round(time.monotonic() - t0, 1)
    results["leftover_refused_to_ready_pods_s"] = round(time.monotonic() - refused, 1)

    def first_write() -> bool:
        d.sql(f"create table if not exists {TABLE} (id bigint primary key)")
        return d.sql(f"insert into {TABLE} values (0) on conflict do nothing returning id") in (
            "0\n",
            "",
        )

    kube.wait_for("the first committed write", first_write, 300, d.ns, d.selector())
    # The sized defaults are in effect from the first start (512Mi limit: 128MB, 1092kB).
    assert show(d, "shared_buffers") == "128MB"
    assert show(d, "work_mem") == "1092kB"
    return d


def test_a_leftover_stanza_was_moved_aside(demo: Demo, results: dict[str, Any]) -> None:
    """The set-up bootstrapped over a leftover stanza: the guard moved it, not deleted it."""
    pod = demo.poolers()[0]
    repo = demo.kube.exec(demo.ns, pod, "find", leftover.MOUNT, "-maxdepth", "4",
                          container="backup-stanza-guard")  # fmt: skip
    moved = [line for line in repo.splitlines() if "/quarantine/" in line]
    assert any(line.endswith("/backup/backup.info") for line in moved), repo
    full = re.compile(rf"/backup/{STANZA}/\d{{8}}-\d{{6}}F$")
    assert any(full.search(line) for line in repo.splitlines()), f"no backup made:\n{repo}"
    said = "".join(demo.kube.logs(demo.ns, p, "backup-stanza-guard") for p in demo.poolers())
    assert "moving stanza" in said, said
    results["leftover_stanza_028_refusals"] = leftover.refusals(demo.kube, demo.ns, demo.poolers)
    results["leftover_stanza_moved"] = True


def test_reloadable_parameter_without_restart(
    demo: Demo, results: dict[str, Any], tmp_path: Path
) -> None:
    before = pod_states(demo)
    t0 = time.monotonic()
    demo.apply(variant(tmp_path, RELOAD))
    demo.kube.wait_for(
        "SHOW work_mem through the gateway to give 7MB",
        lambda: show(demo, "work_mem") == "7MB",
        300,
        demo.ns,
        demo.selector(),
    )
    results["pgconf_reload_to_effect_s"] = round(time.monotonic() - t0, 1)
    for pod in demo.poolers():  # every instance reloaded, not only the one SHOW reached
        demo.kube.wait_for(
            f"work_mem 7MB on {pod}",
            lambda pod=pod: demo.local_sql(pod, "show work_mem").strip() == "7MB",
            120,
            demo.ns,
        )
    after = pod_states(demo)
    assert after == before, f"pods were replaced or restarted by a reload:\n{before}\n{after}"
    results["pgconf_reload_pods_restarted"] = 0


def test_restart_parameter_rolls_the_poolers_and_loses_no_write(
    demo: Demo, results: dict[str, Any], tmp_path: Path
) -> None:
    sts = f"{demo.name}-zone1-pooler"
    uids = {p: uid for p, (uid, _) in pod_states(demo).items() if p.startswith(sts)}
    demo.must_sql(f"truncate {TABLE}")
    demo.start_writer(TABLE, seconds=600)
    try:
        demo.kube.wait_for(
            "the writer's first acknowledged writes", lambda: len(demo.acked()) >= 20, 180, demo.ns
        )
    except AssertionError as e:
        raise AssertionError(f"{e}\nwriter errors: {demo.writer_errors()}") from None
    t0 = time.monotonic()
    demo.apply(variant(tmp_path, RESTART))

    def rolled() -> bool:
        st = demo.kube.get("statefulset", sts, demo.ns)["status"]
        now = {p: uid for p, (uid, _) in pod_states(demo).items() if p.startswith(sts)}
        return bool(
            st.get("updatedReplicas") == st["replicas"] == st.get("readyReplicas")
            and st["currentRevision"] == st["updateRevision"]
            and all(now.get(p) not in (None, uid) for p, uid in uids.items())
        )

    demo.kube.wait_for(f"statefulset {sts} rolled", rolled, 600, demo.ns, demo.selector())
    results["pgconf_restart_roll_s"] = round(time.monotonic() - t0, 1)
    demo.kube.wait_for(
        "SHOW max_connections through the gateway to give 150",
        lambda: show(demo, "max_connections") == "150",
        120,
        demo.ns,
    )
    time.sleep(5)  # writes after the last pod came back
    demo.stop_writer()
    acked = demo.acked()
    present = {int(x) for x in demo.must_sql(f"select id from {TABLE}").split()}
    lost = sorted(i for i, _ in acked if i not in present)
    results["pgconf_restart_acknowledged_writes"] = len(acked)
    results["pgconf_restart_lost_writes"] = len(lost)
    results["pgconf_restart_max_gap_s"] = round(max_gap(acked, 0), 1)
    assert show(demo, "work_mem") == "7MB"  # the reloadable one survived the restart
    for pod in demo.poolers():
        assert demo.local_sql(pod, "show max_connections").strip() == "150", pod
    assert not lost, f"{len(lost)} acknowledged writes lost in the restart: {lost[:20]}"


def test_invalid_parameter_is_fatal_and_changes_nothing(
    demo: Demo, results: dict[str, Any], tmp_path: Path
) -> None:
    cm = f"{demo.name}-postgres-config"
    sts = f"{demo.name}-zone1-pooler"
    versions = {
        k: demo.kube.get(k, n, demo.ns)["metadata"]["resourceVersion"]
        for k, n in (("configmap", cm), ("statefulset", sts))
    }
    bad = variant(tmp_path, {**RESTART, "work_mem": "64mb"})
    with pytest.raises(AssertionError) as err:
        demo.apply(bad)
    assert "spec.postgres.parameters.work_mem" in str(err.value), err.value
    assert "'mb' is not a memory unit" in str(err.value), err.value
    time.sleep(10)
    after = {
        k: demo.kube.get(k, n, demo.ns)["metadata"]["resourceVersion"]
        for k, n in (("configmap", cm), ("statefulset", sts))
    }
    assert after == versions, "an invalid parameter changed the cluster"
    assert show(demo, "work_mem") == "7MB" and show(demo, "max_connections") == "150"
    results["pgconf_invalid_fatal"] = True
