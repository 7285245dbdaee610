"""Safety rule 3, field by field: each guarded field has a row that fails without its rule.

A row changes one immutable field on the observed object (as if the spec changed after
creation); the answer must keep the observed value, warn, and set ImmutableFieldsKept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import safety
from function.cache import BuildCache
from function.fn import run
from tests.helpers import xr
from tests.test_safety import cond, observed_from, req, warnings

Obj = dict[str, Any]
POOLER, GATEWAY, ETCD, PVC = (
    "zone1-pooler-statefulset",
    "zone1-multigateway-deployment",
    "etcd-statefulset",
    "backup-pvc",
)


def _vct(o: Obj) -> Obj:
    vcts: list[Obj] = o["spec"]["volumeClaimTemplates"]
    return vcts[0]


def _extra_vct(o: Obj) -> None:
    extra = copy.deepcopy(_vct(o))
    extra["metadata"]["name"] = "wal"
    o["spec"]["volumeClaimTemplates"].append(extra)


ROWS: list[tuple[str, str, str, Callable[[Obj], None], Callable[[Obj], Any], Any, str]] = [
    # (name, key, guarded field, change the observed object, read it back, observed value, warning says)
    ("sts selector", POOLER, "spec.selector", lambda o: o["spec"].update(selector={"matchLabels": {"old": "x"}}), lambda o: o["spec"]["selector"], {"matchLabels": {"old": "x"}}, "spec.selector kept"),
    ("sts serviceName", POOLER, "spec.serviceName", lambda o: o["spec"].update(serviceName="legacy"), lambda o: o["spec"]["serviceName"], "legacy", "spec.serviceName kept"),
    ("sts podManagementPolicy", ETCD, "spec.podManagementPolicy", lambda o: o["spec"].update(podManagementPolicy="OrderedReady"), lambda o: o["spec"]["podManagementPolicy"], "OrderedReady", "spec.podManagementPolicy kept"),
    ("vct size", POOLER, "spec.volumeClaimTemplates", lambda o: _vct(o)["spec"]["resources"]["requests"].update(storage="5Gi"), lambda o: _vct(o)["spec"]["resources"]["requests"]["storage"], "5Gi", "pgdata size 5Gi -> 10Gi requested"),
    ("vct storage class", ETCD, "spec.volumeClaimTemplates", lambda o: _vct(o)["spec"].update(storageClassName="slow"), lambda o: _vct(o)["spec"]["storageClassName"], "slow", "data storageClassName slow -> fast requested"),
    ("vct access modes", POOLER, "spec.volumeClaimTemplates", lambda o: _vct(o)["spec"].update(accessModes=["ReadWriteOncePod"]), lambda o: _vct(o)["spec"]["accessModes"], ["ReadWriteOncePod"], "volumeClaimTemplates kept"),
    ("vct name", POOLER, "spec.volumeClaimTemplates", lambda o: _vct(o)["metadata"].update(name="data"), lambda o: _vct(o)["metadata"]["name"], "data", "volumeClaimTemplates kept"),
    ("vct count", POOLER, "spec.volumeClaimTemplates", _extra_vct, lambda o: len(o["spec"]["volumeClaimTemplates"]), 2, "2 templates (pgdata, wal) kept, 1 requested"),
    ("deployment selector", GATEWAY, "spec.selector", lambda o: o["spec"].update(selector={"matchLabels": {"old": "x"}}), lambda o: o["spec"]["selector"], {"matchLabels": {"old": "x"}}, "spec.selector kept"),
    ("pvc access modes", PVC, "spec.accessModes", lambda o: o["spec"].update(accessModes=["ReadWriteOnce"]), lambda o: o["spec"]["accessModes"], ["ReadWriteOnce"], "spec.accessModes kept"),
    ("pvc storage class", PVC, "spec.storageClassName", lambda o: o["spec"].update(storageClassName="slow"), lambda o: o["spec"]["storageClassName"], "slow", "'slow' kept, 'fast' requested"),
    ("pvc never shrinks", PVC, "spec.resources.requests.storage", lambda o: o["spec"]["resources"]["requests"].update(storage="50Gi"), lambda o: o["spec"]["resources"]["requests"]["storage"], "50Gi", "can not shrink from 50Gi to 10Gi"),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_guarded_field_keeps_its_observed_value(row: tuple[Any, ...]) -> None:
    _, key, field, change, read, kept_value, says = row
    x = xr(
        multipooler={"storage": {"size": "10Gi"}},
        etcd={"storage": {"size": "1Gi", "storageClassName": "fast"}},
        backup={"storage": {"size": "10Gi", "storageClassName": "fast"}},
    )
    observed = observed_from(x)
    change(observed[key])
    rsp = run(req(x, observed), BuildCache(0))
    out = resource.struct_to_dict(rsp.desired.resources[key].resource)
    got = read(out)
    assert (int(got) if isinstance(got, float) else got) == kept_value
    msgs = [m for m in warnings(rsp) if field in m]
    assert len(msgs) == 1 and says in msgs[0], warnings(rsp)
    assert cond(rsp, "ImmutableFieldsKept").status == fnv1.STATUS_CONDITION_TRUE


def test_every_guarded_field_has_a_row() -> None:
    """A new immutable field needs a row here (its rule is then tested as the others)."""
    rows = {(r[1].split("-")[-1], r[2]) for r in ROWS}
    kinds = {
        "statefulset": "StatefulSet",
        "deployment": "Deployment",
        "pvc": "PersistentVolumeClaim",
    }
    tested = {(kinds[k], f) for k, f in rows}
    guarded = {(kind, ".".join(p)) for kind, paths in safety.IMMUTABLE.items() for p in paths}
    guarded.add(("PersistentVolumeClaim", "spec.resources.requests.storage"))
    assert tested == guarded


def test_unchanged_fields_keep_nothing() -> None:
    x = xr()
    rsp = run(req(x, observed_from(x)), BuildCache(0))
    assert cond(rsp, "ImmutableFieldsKept").status == fnv1.STATUS_CONDITION_FALSE
    assert not warnings(rsp)
