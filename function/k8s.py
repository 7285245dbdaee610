"""Kubernetes syntax rules the API server enforces, checked before anything is built.

Label keys and values, annotation keys, resource names, and the pod-spec fragments a
user may write verbatim (tolerations, affinity, topology spread constraints): those are
checked against the strict Kubernetes JSON schemas (schemas/k8s-fragments.json,
generated from kubernetes-validate) and then against the value rules the schemas do not
carry (operators, effects, weights, selector keys). Each check returns the first
problem as (path inside the value, reason), or None.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema

Problem = tuple[str, str] | None

LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_VALUE = re.compile(LABEL_VALUE_PATTERN)
_SUBDOMAIN = re.compile(DNS_SUBDOMAIN_PATTERN)
STANDARD_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})


def qualified_name(key: str) -> str | None:
    """Why `key` is not a qualified name ([dns-subdomain/]name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return f"{key!r}: the prefix before '/' must be a DNS subdomain of at most 253 characters"
    if not name or len(name) > 63 or not _NAME.match(name):
        return (
            f"{key!r}: the name must be 1-63 characters, alphanumeric, '-', '_' or '.', "
            "starting and ending with an alphanumeric character"
        )
    return None


def label_value(value: str) -> str | None:
    if len(value) > 63 or not _VALUE.match(value):
        return (
            f"{value!r} is not a label value: at most 63 characters, alphanumeric, '-', '_' "
            "or '.', starting and ending with an alphanumeric character"
        )
    return None


def annotation_key(key: str) -> str | None:
    """The API server lower-cases annotation keys before checking them."""
    return qualified_name(key.lower())


def resource_name(key: str) -> str | None:
    if key in STANDARD_RESOURCES or key.startswith("hugepages-") or "/" in key:
        return None if "/" not in key else qualified_name(key)
    return (
        f"{key!r} is not a resource name (cpu, memory, ephemeral-storage, "
        "hugepages-<size>, or a domain-qualified name)"
    )


# --- pod-spec fragments -------------------------------------------------------------

_SCHEMAS = Path(__file__).resolve().parent / "schemas" / "k8s-fragments.json"


@functools.cache
def _validator(root: str) -> jsonschema.protocols.Validator:
    doc = json.loads(_SCHEMAS.read_text())
    schema = {"$ref": f"#/$defs/{doc['roots'][root]}", "$defs": doc["$defs"]}
    return jsonschema.Draft202012Validator(schema)


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def fragment(root: str, value: Any) -> Problem:
    """The first problem in one toleration, affinity or topology spread constraint."""
    err = jsonschema.exceptions.best_match(_validator(root).iter_errors(value))
    if err is not None:
        return _where(err.absolute_path), err.message
    return next(_RULES[root](_obj(value), ""), None)


def _obj(v: Any) -> dict[str, Any]:
    """A schema-valid object, or null (which the schemas allow) read as empty."""
    return v if isinstance(v, dict) else {}


Walk = Iterator[tuple[str, str]]


def _key(path: str, key: Any) -> Walk:
    if not key:
        yield path, "must not be empty"
    elif why := qualified_name(str(key)):
        yield path, why


def _one_of(path: str, value: Any, allowed: tuple[str, ...]) -> Walk:
    if value not in allowed:
        yield path, f"{value!r} is not one of {', '.join(a or '(empty)' for a in allowed)}"


def _toleration(t: dict[str, Any], p: str) -> Walk:
    op = t.get("operator") or "Equal"
    yield from _one_of(f"{p}.operator", op, ("Equal", "Exists"))
    effects = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
    yield from _one_of(f"{p}.effect", t.get("effect") or "", effects)
    if t.get("key"):
        yield from _key(f"{p}.key", t["key"])
    elif op != "Exists":
        yield f"{p}.operator", "must be Exists when key is empty"
    if op == "Exists" and t.get("value"):
        yield f"{p}.value", "must be empty when operator is Exists"
    elif t.get("value") and (why := label_value(t["value"])):
        yield f"{p}.value", why
    if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
        yield f"{p}.effect", "must be NoExecute when tolerationSeconds is set"


def _requirements(reqs: Any, p: str, ops: tuple[str, ...]) -> Walk:
    for i, r in enumerate(map(_obj, reqs or [])):
        q = f"{p}[{i}]"
        yield from _key(f"{q}.key", r.get("key"))
        yield from _one_of(f"{q}.operator", r.get("operator"), ops)
        values = r.get("values") or []
        if r.get("operator") in ("In", "NotIn") and not values:
            yield f"{q}.values", "must be non-empty for In and NotIn"
        if r.get("operator") in ("Exists", "DoesNotExist") and values:
            yield f"{q}.values", "must be empty for Exists and DoesNotExist"
        if r.get("operator") in ("Gt", "Lt") and (len(values) != 1 or not values[0].isdigit()):
            yield f"{q}.values", "must be one integer for Gt and Lt"


def _selector(s: dict[str, Any] | None, p: str) -> Walk:
    s = _obj(s)
    for k, v in _obj(s.get("matchLabels")).items():
        yield from _key(f"{p}.matchLabels", k)
        if why := label_value(str(v)):
            yield f"{p}.matchLabels.{k}", why
    ops = ("In", "NotIn", "Exists", "DoesNotExist")
    yield from _requirements(s.get("matchExpressions"), f"{p}.matchExpressions", ops)


def _weight(w: Any, p: str) -> Walk:
    if not isinstance(w, int | float) or not 1 <= w <= 100:
        yield f"{p}.weight", f"{w!r} must be between 1 and 100"


def _pod_term(t: dict[str, Any], p: str) -> Walk:
    yield from _key(f"{p}.topologyKey", t.get("topologyKey"))
    yield from _selector(t.get("labelSelector"), f"{p}.labelSelector")
    yield from _selector(t.get("namespaceSelector"), f"{p}.namespaceSelector")


def _node_term(t: dict[str, Any], p: str) -> Walk:
    ops = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
    yield from _requirements(t.get("matchExpressions"), f"{p}.matchExpressions", ops)
    yield from _requirements(t.get("matchFields"), f"{p}.matchFields", ops)


def _affinity(a: dict[str, Any], p: str) -> Walk:
    node = _obj(a.get("nodeAffinity"))
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = _obj(required).get("nodeSelectorTerms") or []
        q = f"{p}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        if not terms:
            yield q, "must have at least one node selector term"
        for i, t in enumerate(terms):
            yield from _node_term(_obj(t), f"{q}[{i}]")
    for i, t in enumerate(
        map(_obj, node.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    ):
        q = f"{p}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        yield from _weight(t.get("weight"), q)
        yield from _node_term(_obj(t.get("preference")), f"{q}.preference")
    for kind in ("podAffinity", "podAntiAffinity"):
        pod = _obj(a.get(kind))
        for i, t in enumerate(
            map(_obj, pod.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        ):
            yield from _pod_term(
                t, f"{p}.{kind}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"
            )
        for i, t in enumerate(
            map(_obj, pod.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
        ):
            q = f"{p}.{kind}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            yield from _weight(t.get("weight"), q)
            yield from _pod_term(_obj(t.get("podAffinityTerm")), f"{q}.podAffinityTerm")


def _spread(c: dict[str, Any], p: str) -> Walk:
    if c.get("maxSkew", 0) < 1:
        yield f"{p}.maxSkew", f"{c.get('maxSkew')!r} must be at least 1"
    yield from _key(f"{p}.topologyKey", c.get("topologyKey"))
    when = c.get("whenUnsatisfiable")
    yield from _one_of(f"{p}.whenUnsatisfiable", when, ("DoNotSchedule", "ScheduleAnyway"))
    if c.get("minDomains") is not None and (c["minDomains"] < 1 or when != "DoNotSchedule"):
        yield f"{p}.minDomains", "must be at least 1, and only with whenUnsatisfiable DoNotSchedule"
    yield from _selector(c.get("labelSelector"), f"{p}.labelSelector")


_RULES: dict[str, Callable[[Any, str], Walk]] = {
    "toleration": _toleration,
    "affinity": _affinity,
    "topologySpreadConstraint": _spread,
}
