"""Safety rule 3: never ask the API server to change an immutable field.

When the spec asks for a change Kubernetes forbids on an existing object, the
function keeps the observed value and says what the user must do instead. The
rules are data (kind → immutable paths) so a new one is a one-line change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from function.quantity import fmt, quantity

Obj = dict[str, Any]

#: Fields Kubernetes rejects changes to, by kind.
IMMUTABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "StatefulSet": (
        ("spec", "selector"),
        ("spec", "serviceName"),
        ("spec", "podManagementPolicy"),
        ("spec", "volumeClaimTemplates"),
    ),
    "Deployment": (("spec", "selector"),),
    "PersistentVolumeClaim": (("spec", "accessModes"), ("spec", "storageClassName")),
}


@dataclass(frozen=True, slots=True)
class Kept:
    """One immutable field kept at its observed value."""

    key: str
    kind: str
    name: str
    field: str
    detail: str


def _get(obj: Obj, path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _set(obj: Obj, path: tuple[str, ...], value: Any) -> None:
    cur = obj
    for p in path[:-1]:
        cur = cur.setdefault(p, {})
    cur[path[-1]] = value


def _vct_view(vcts: list[Obj] | None) -> list[tuple[Any, ...]]:
    """What we own of volumeClaimTemplates, ignoring server-filled defaults."""
    out = []
    for v in vcts or []:
        spec = v.get("spec") or {}
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        out.append(
            (
                (v.get("metadata") or {}).get("name"),
                quantity(size) if size is not None else None,
                spec.get("storageClassName"),
                tuple(spec.get("accessModes") or ()),
            )
        )
    return out


def _differs(path: tuple[str, ...], want: Any, have: Any) -> bool:
    if have is None:
        return False
    if path[-1] == "volumeClaimTemplates":
        w, h = _vct_view(want), _vct_view(have)
        if len(w) != len(h):
            return True
        # A class the user never set is filled in by the server: only compare set ones.
        pairs = zip(w, h, strict=True)
        w = [(n, s, c if c is not None else hc, a) for (n, s, c, a), (_, _, hc, _) in pairs]
        return w != h
    if path[-1] == "storageClassName" and want is None:
        return False
    return bool(want != have)


def _clean_vcts(vcts: list[Obj]) -> list[Obj]:
    out = []
    for v in vcts:
        v = copy.deepcopy(v)
        v.pop("status", None)
        v.pop("apiVersion", None)
        v.pop("kind", None)
        out.append(v)
    return out


def guard(desired: dict[str, Obj], observed: dict[str, Obj]) -> list[Kept]:
    """Keep observed values for immutable fields; list what was kept.

    Copy-on-write: a changed object is replaced in `desired` by a modified deep copy,
    so the built objects themselves (which fn.py caches) are never mutated.
    """
    kept: list[Kept] = []
    for key, obj in list(desired.items()):
        have = observed.get(key)
        rules = IMMUTABLE.get(obj["kind"])
        if not have or not rules:
            continue
        copied = False
        for path in rules:
            want, was = _get(obj, path), _get(have, path)
            if not _differs(path, want, was):
                continue
            if not copied:
                obj = desired[key] = copy.deepcopy(obj)
                copied = True
            value = _clean_vcts(was) if path[-1] == "volumeClaimTemplates" else copy.deepcopy(was)
            _set(obj, path, value)
            kept.append(
                Kept(
                    key, obj["kind"], obj["metadata"]["name"], ".".join(path), _say(path, want, was)
                )
            )
    # A PVC may grow (if its class allows expansion) but never shrink.
    for key, obj in desired.items():
        have = observed.get(key)
        if obj["kind"] != "PersistentVolumeClaim" or not have:
            continue
        path = ("spec", "resources", "requests", "storage")
        want, was = _get(obj, path), _get(have, path)
        if want is not None and was is not None and quantity(want) < quantity(was):
            obj = desired[key] = copy.deepcopy(obj)
            _set(obj, path, was)
            kept.append(
                Kept(
                    key,
                    "PersistentVolumeClaim",
                    obj["metadata"]["name"],
                    ".".join(path),
                    f"can not shrink from {was} to {want}",
                )
            )
    return kept


def _say(path: tuple[str, ...], want: Any, have: Any) -> str:
    if path[-1] == "volumeClaimTemplates":
        w, h = _vct_view(want), _vct_view(have)
        if len(w) != len(h):
            return (
                f"{len(h)} templates ({', '.join(str(v[0]) for v in h)}) kept, {len(w)} requested"
            )
        parts = []
        for (n, ws, wc, _), (_, hs, hc, _) in zip(w, h, strict=True):
            if ws != hs:
                parts.append(f"{n} size {fmt(hs)} -> {fmt(ws)} requested")
            if wc is not None and wc != hc:
                parts.append(f"{n} storageClassName {hc} -> {wc} requested")
        return "; ".join(parts) or "volumeClaimTemplates differ"
    return f"{have!r} kept, {want!r} requested"


def _replicas_owners(observed: Obj) -> set[str]:
    """Operations (Apply, Update) of the managers that own spec.replicas."""
    owners = set()
    for entry in (observed.get("metadata") or {}).get("managedFields") or []:
        spec = ((entry or {}).get("fieldsV1") or {}).get("f:spec") or {}
        if "f:replicas" in spec:
            owners.add(str(entry.get("operation", "")))
    return owners


def hold_replicas(desired: dict[str, Obj], observed: dict[str, Obj]) -> None:
    """Hand `spec.replicas` over to an autoscaler without a drop to one replica.

    An HPA-managed workload omits `spec.replicas`. Under server-side apply, dropping a
    field that only we own removes it, and Kubernetes defaults it to 1: on a pooler
    StatefulSet that deletes every ordinal but 0. So while an apply owns the field and
    no updater (the HPA controller, `kubectl scale`) does yet, keep applying the observed
    count (copy-on-write, like `guard`). A field nobody applied is left alone.
    """
    for key, obj in list(desired.items()):
        if obj["kind"] not in ("Deployment", "StatefulSet") or "replicas" in obj["spec"]:
            continue
        have = observed.get(key)
        count = ((have or {}).get("spec") or {}).get("replicas")
        owners = _replicas_owners(have) if have is not None else set()
        if count is None or "Apply" not in owners or "Update" in owners:
            continue
        desired[key] = {**obj, "spec": {"replicas": int(count), **obj["spec"]}}
