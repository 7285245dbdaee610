"""What the XR says about its Postgres parameters: applied, reloading, or restarting.

Pure, from the observed ConfigMap and pooler StatefulSets and the XR's previous status
(the function is stateless; the status is where it remembers which restart parameters it
last saw in effect):

- a changed ConfigMap (observed reload/restart hashes differ from the desired ones) is a
  Normal event naming each changed parameter and how it takes effect;
- while a pooler StatefulSet has not rolled out the desired restart hash, the
  `PostgresConfigApplied` condition is False with reason `RollingRestart` (the restart
  parameters that changed, pods updated per cell); `ReloadPending` while the ConfigMap
  is not yet the desired one; True `Applied` otherwise;
- `status.postgres` gives the sizing basis (with the note when there is no memory
  limit), the hashes, and the restart parameters in effect.
"""

from __future__ import annotations

import re
from typing import Any

from function.builders.pgconfig import KEY, RELOAD_HASH_ANNOTATION, RESTART_HASH_ANNOTATION
from function.conditions import Cond
from function.pgparams import table
from function.resolve import Cluster

Obj = dict[str, Any]
TYPE = "PostgresConfigApplied"
_LINE = re.compile(r"^([a-z_][a-z0-9_]*) = '((?:[^']|'')*)'")


def parse(text: str) -> dict[str, str]:
    """The parameters of a file this function rendered (pgconf.PgConfig.render)."""
    out = {}
    for line in text.splitlines():
        if m := _LINE.match(line):
            out[m[1]] = m[2].replace("''", "'").replace("\\\\", "\\")
    return out


def _annotation(obj: Obj | None, key: str) -> str | None:
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)


def _rolled(obj: Obj | None, want: str) -> tuple[bool, str]:
    """Whether a StatefulSet runs the desired restart hash on every pod, and its progress."""
    if obj is None:
        return False, "not observed yet"
    st = obj.get("status") or {}
    replicas = int(st.get("replicas") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    gen = int((obj.get("metadata") or {}).get("generation") or 0)
    done = (
        _annotation(obj, RESTART_HASH_ANNOTATION) == want
        and int(st.get("observedGeneration") or 0) >= gen
        and st.get("currentRevision") == st.get("updateRevision")
        and updated >= replicas
    )
    return done, f"{updated}/{replicas} pods updated"


def _changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Normal events: one line for reloaded parameters, one for restart ones."""
    changed = sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))
    needs = [n for n in changed if n in table() and table()[n].needs_restart]
    reload = [n for n in changed if n not in needs]
    out = []
    if reload:
        out.append(
            "postgres parameters changed, applied by a reload without restarting any pod: "
            + ", ".join(reload)
        )
    if needs:
        out.append(
            "postgres restart parameters changed, rolling the pooler pods one at a time: "
            + ", ".join(needs)
        )
    return out


def report(c: Cluster, observed: dict[str, Obj], previous: Obj) -> tuple[Obj, Cond, list[str]]:
    """status.postgres, the PostgresConfigApplied condition and the Normal events."""
    pg = c.pg
    restart = pg.restart
    prev = previous.get("postgres") or {}
    in_effect: dict[str, str] = dict(prev.get("restartParameters") or {})
    cm = observed.get("postgres-config-configmap")
    normals: list[str] = []
    cm_current = _annotation(cm, RELOAD_HASH_ANNOTATION) == pg.reload_hash and (
        _annotation(cm, RESTART_HASH_ANNOTATION) == pg.restart_hash
    )
    if cm is not None and not cm_current:
        old = parse(((cm.get("data") or {}).get(KEY)) or "")
        normals = _changes(old, pg.parameters)
    progress = {
        cell: _rolled(observed.get(f"{cell}-pooler-statefulset"), pg.restart_hash)
        for cell in c.cell_names
    }
    all_rolled = all(done for done, _ in progress.values())
    if all_rolled:
        in_effect = restart
    status = {
        "sizing": pg.sizing.basis,
        "restartHash": pg.restart_hash,
        "reloadHash": pg.reload_hash,
        "restartParameters": in_effect,
    }
    summary = f"{len(pg.user)} set, {len(pg.parameters) - len(pg.user)} sized; {pg.sizing.basis}"
    changed = sorted(
        n for n in restart.keys() | in_effect.keys() if restart.get(n) != in_effect.get(n)
    )
    cells = "; ".join(f"{cell}: {why}" for cell, (done, why) in progress.items() if not done)
    if not all_rolled and not in_effect:
        cond = Cond(TYPE, "False", "PodsStarting", f"pods starting with the parameters: {cells}")
    elif not all_rolled and changed:
        cond = Cond(
            TYPE, "False", "RollingRestart", f"restart parameters ({', '.join(changed)}): {cells}"
        )
    elif not cm_current:
        cond = Cond(TYPE, "False", "ReloadPending", "the parameters ConfigMap is not updated yet")
    else:
        cond = Cond(
            TYPE,
            "True",
            "Applied",
            f"{summary}; restart parameters in effect on every pod; reloadable ones reloaded "
            "by each pod's postgres-config-reload sidecar once the kubelet updated the file",
        )
    return status, cond, normals
