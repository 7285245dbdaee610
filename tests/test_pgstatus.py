"""How the XR reports its Postgres parameters, one row per observed situation.

Observed objects are built from the desired ones (what Crossplane would read back),
then edited to the situation of the row: nothing observed yet, a ConfigMap still holding
the previous parameters, a StatefulSet mid-roll, everything rolled.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from function import pgstatus
from function.builders import build
from function.builders.pgconfig import RESTART_HASH_ANNOTATION
from function.resolve import resolve_xr
from tests.helpers import xr

Obj = dict[str, Any]
STS = "zone1-pooler-statefulset"
CM = "postgres-config-configmap"


def cluster(params: dict[str, str] | None = None, **spec: Any) -> Any:
    return resolve_xr(
        xr(postgres={"passwordSecretRef": {"name": "p"}, "parameters": params or {}}, **spec)
    )


def observed(params: dict[str, str] | None = None, rolled: bool = True) -> dict[str, Obj]:
    """What the API server holds after `params` were applied (and rolled, or not)."""
    objs = copy.deepcopy(build(cluster(params)))
    sts = objs[STS]
    sts["metadata"]["generation"] = 2
    sts["status"] = {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3 if rolled else 1,
        "currentRevision": "r1" if rolled else "r0",
        "updateRevision": "r1",
    }
    return objs


def test_parse_reads_back_what_render_writes() -> None:
    c = cluster({"search_path": '"$user", it\'s', "work_mem": "8MB"})
    assert pgstatus.parse(c.pg.render()) == c.pg.parameters


ROWS = [
    # (why, desired params, observed params or None, rolled, previous restart params,
    #  condition status, reason, words in the message, events)
    ("first reconcile: nothing observed", {}, None, True, None,
     "False", "PodsStarting", "pods starting with the parameters: zone1: not observed yet", []),
    ("a roll for another reason (image) is not a restart for parameters", {}, {}, False,
     {"max_connections": "120", "shared_buffers": "128MB"}, "True", "Applied", "0 set", []),
    ("applied and rolled", {}, {}, True, None, "True", "Applied", "0 set, 6 sized", []),
    ("a reloadable change not yet applied", {"work_mem": "8MB"}, {}, True, {"max_connections": "120", "shared_buffers": "128MB"},
     "False", "ReloadPending", "ConfigMap", ["applied by a reload without restarting any pod: work_mem"]),
    ("a restart change not yet applied", {"shared_buffers": "200MB"}, {}, True, {"max_connections": "120", "shared_buffers": "128MB"},
     # work_mem is sized from what shared_buffers leaves, so it changes (by a reload) too
     "False", "RollingRestart", "restart parameters (shared_buffers)",
     ["applied by a reload without restarting any pod: work_mem", "rolling the pooler pods one at a time: shared_buffers"]),
    ("a restart change mid-roll", {"shared_buffers": "200MB"}, {"shared_buffers": "200MB"}, False, {"max_connections": "120", "shared_buffers": "128MB"},
     "False", "RollingRestart", "zone1: 1/3 pods updated", []),
    ("a restart change rolled", {"shared_buffers": "200MB"}, {"shared_buffers": "200MB"}, True, {"max_connections": "120", "shared_buffers": "128MB"},
     "True", "Applied", "1 set", []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "want", "obs", "rolled", "prev", "status", "reason", "words", "events"),
    ROWS,
    ids=[r[0] for r in ROWS],
)
def test_report(
    why: str, want: dict[str, str], obs: dict[str, str] | None, rolled: bool,
    prev: dict[str, str] | None, status: str, reason: str, words: str, events: list[str],
) -> None:  # fmt: skip
    c = cluster(want)
    seen = observed(obs, rolled) if obs is not None else {}
    previous = {"postgres": {"restartParameters": prev}} if prev else {}
    st, cond, normals = pgstatus.report(c, seen, previous)
    assert (cond.typ, cond.status, cond.reason) == ("PostgresConfigApplied", status, reason), cond
    assert words in cond.message, cond.message
    assert len(normals) == len(events) and all(
        e in n for e, n in zip(events, normals, strict=True)
    ), normals
    assert st["restartHash"] == c.pg.restart_hash and st["sizing"] == c.pg.sizing.basis
    if status == "True":
        assert st["restartParameters"] == c.pg.restart


def test_no_memory_limit_is_noted_in_the_status() -> None:
    c = cluster(multipooler={"resources": {"postgres": {"requests": {"memory": "1Gi"}}}})
    st, cond, _ = pgstatus.report(c, observed(), {})
    assert "no memory limit" in st["sizing"] and "no memory limit" in cond.message


def test_only_restart_parameters_change_the_pod_template() -> None:
    def template(params: dict[str, str]) -> Obj:
        return build(cluster(params))[STS]["spec"]["template"]

    base = template({})
    assert template({"work_mem": "8MB", "statement_timeout": "5s"}) == base  # reload only
    changed = template({"shared_buffers": "200MB"})
    assert changed != base
    assert (
        changed["metadata"]["annotations"][RESTART_HASH_ANNOTATION]
        != base["metadata"]["annotations"][RESTART_HASH_ANNOTATION]
    )
    changed["metadata"]["annotations"] = base["metadata"]["annotations"]
    assert changed == base  # nothing but the hash


def test_the_file_reaches_postgres() -> None:
    objs = build(cluster({"work_mem": "8MB"}))
    pod = objs[STS]["spec"]["template"]["spec"]
    pg = next(x for x in pod["containers"] if x["name"] == "postgres")
    assert "--pg-initdb-extra-conf=/etc/postgres-config/postgresql.conf" in pg["args"]
    assert {"name": "postgres-config", "mountPath": "/etc/postgres-config", "readOnly": True} in pg[
        "volumeMounts"
    ]
    vol = next(v for v in pod["volumes"] if v["name"] == "postgres-config")
    assert vol["configMap"]["name"] == "demo-postgres-config"
    assert "subPath" not in str(pg["volumeMounts"])  # a subPath mount is never updated in place
    assert "work_mem = '8MB'  # set, reload" in objs[CM]["data"]["postgresql.conf"]
    assert "postgres-config-reload" in [x["name"] for x in pod["containers"]]
    assert [x["name"] for x in pod["initContainers"]] == [
        "pgbackrest-cert",
        "postgres-config-include",
    ]
