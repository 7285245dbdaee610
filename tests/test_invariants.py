"""Invariants over every example and a spread of generated XRs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from function.builders import build, topology
from function.resolve import resolve_xr
from tests import invariants
from tests.helpers import VALID_EXAMPLES, load, xr

SPREAD = [
    xr(),
    xr(cells=[{"name": f"c{i}"} for i in range(7)], networkPolicy={"enabled": True}),
    xr(
        name="a" * 25,
        cells=[{"name": "b" * 19}, {"name": "c" * 19}],
        multigateway={"autoscaling": {"enabled": True}},
        multiorch={"autoscaling": {"enabled": True}},
        multipooler={"autoscaling": {"enabled": True}},
    ),
]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_examples_hold_invariants(path: Path) -> None:
    x = load(path)
    invariants.check_all(build(resolve_xr(x)), x["metadata"]["namespace"])


@pytest.mark.parametrize("x", SPREAD, ids=["default", "seven-cells", "longest-names"])
def test_generated_hold_invariants(x: dict[str, Any]) -> None:
    invariants.check_all(build(resolve_xr(x)), "default")


def test_built_objects_share_no_mutable_parts() -> None:
    """Every dict and list in the output is its own: editing one object (the safety guard
    copies first, but callers may not) can never change another or a module constant."""
    objs = build(resolve_xr(SPREAD[2]))
    seen: dict[int, str] = {}

    def walk(v: Any, where: str) -> None:
        if isinstance(v, dict | list):
            assert id(v) not in seen, f"{where} is the same object as {seen[id(v)]}"
            seen[id(v)] = where
            for k, x in v.items() if isinstance(v, dict) else enumerate(v):
                walk(x, f"{where}.{k}")

    for key, o in objs.items():
        walk(o, key)


def _container(objs: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    key = topology.key(objs) if key == topology.KEY else key  # its key carries a hash
    return next(c for c in objs[key]["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def _drop(key: str, name: str, flag: str) -> Any:
    def mutate(objs: dict[str, Any]) -> None:
        c = _container(objs, key, name)
        c["args"] = [a for a in c["args"] if not a.startswith(flag + "=")]

    return mutate


def _set(key: str, name: str, flag: str, value: str) -> Any:
    def mutate(objs: dict[str, Any]) -> None:
        c = _container(objs, key, name)
        c["args"] = [f"{flag}={value}" if a.startswith(flag + "=") else a for a in c["args"]]

    return mutate


POOLER, GATEWAY, ORCH = (
    ("zone1-pooler-statefulset", "multipooler"),
    ("zone1-multigateway-deployment", "multigateway"),
    ("zone1-multiorch-deployment", "multiorch"),
)
WIRING_BREAKS = [
    ("pooler without topology address", _drop(*POOLER, "--topo-global-server-addresses")),
    ("pooler without topology root", _drop(*POOLER, "--topo-global-root")),
    ("pooler without cell", _drop(*POOLER, "--cell")),
    ("gateway without topology address", _drop(*GATEWAY, "--topo-global-server-addresses")),
    ("gateway without topology root", _drop(*GATEWAY, "--topo-global-root")),
    ("gateway without cell", _drop(*GATEWAY, "--cell")),
    ("orch without topology address", _drop(*ORCH, "--topo-global-server-addresses")),
    ("orch without topology root", _drop(*ORCH, "--topo-global-root")),
    ("orch without cell", _drop(*ORCH, "--cell")),
    ("orch in the wrong cell", _set(*ORCH, "--cell", "zone2")),
    ("pooler on another namespace's etcd", _set(*POOLER, "--topo-global-server-addresses", "demo-etcd.team-a.svc:2379")),
    ("gateway on another root", _set(*GATEWAY, "--topo-global-root", "/multigres/other")),
    ("pooler without shard", _drop(*POOLER, "--shard")),
    ("pooler hostname not its pod IP", _set(*POOLER, "--hostname", "$(POD_NAME)")),
    ("orch without watch targets", _drop(*ORCH, "--watch-targets")),
    ("registration on another etcd", _set("topology-job", "createclustermetadata", "--global-topo-address", "x:2379")),
    ("registration without root", _drop("topology-job", "createclustermetadata", "--global-topo-root")),
    ("no pooler container", lambda o: o["zone1-pooler-statefulset"]["spec"]["template"]["spec"]["containers"].pop(1)),
]  # fmt: skip


@pytest.mark.parametrize("mutate", [m for _, m in WIRING_BREAKS], ids=[n for n, _ in WIRING_BREAKS])
def test_wiring_invariant_bites(mutate: Any) -> None:
    objs = build(resolve_xr(xr()))
    invariants.check_process_wiring(objs, "default")
    mutate(objs)
    with pytest.raises(AssertionError):
        invariants.check_process_wiring(objs, "default")
